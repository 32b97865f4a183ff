//! The fetches that read the running configuration's state rather than the session: a
//! backend's usable servers, sessions, free slots, queue and session rate (`nbsrv`,
//! `be_conn`, `be_conn_free`, `connslots`, `queue`, `avg_queue`, `be_sess_rate`) and a
//! server's (`srv_is_up`, `srv_conn`, `srv_conn_free`), as HAProxy counts them.

use crate::model::{backend_named, Backend};
use clearway_config::rules::{ProxyState, ServerState};
use clearway_core::ServerRt;

/// Usable servers as HAProxy counts them: the active ones, else the backups in use (all of
/// them with `option allbackups`, else the first).
fn usable(be: &Backend) -> i64 {
    let servers = be.rt.servers.iter().filter(|s| s.listed() && s.usable());
    let (act, bck) = servers.fold((0, 0), |(a, b), s| if s.backup { (a, b + 1) } else { (a + 1, b) });
    match (act, bck) {
        (0, 0) => 0,
        (0, b) if be.rt.allbackups => b,
        (0, _) => 1,
        (a, _) => a,
    }
}

/// A backend's value; a name no running backend has (a frontend's own) reads 0.
pub fn proxy(what: ProxyState, backend: &str) -> i64 {
    let Some(be) = backend_named(backend) else {
        return 0;
    };
    let servers = || be.rt.servers.iter().filter(|s| s.listed());
    let queued = i64::from(be.queue.len());
    match what {
        ProxyState::Nbsrv => usable(&be),
        ProxyState::Conn => i64::from(be.rt.conns.cur()),
        ProxyState::SessRate => be.rt.sess_rate.as_ref().map_or(0, |r| i64::from(r.rate())),
        ProxyState::Queue => queued,
        ProxyState::AvgQueue => match usable(&be) {
            0 => queued * 2,
            n => (queued + n - 1) / n,
        },
        ProxyState::ConnFree => {
            let eligible = be.rt.eligible(None);
            let mut free = 0;
            for s in eligible.iter().map(|&i| &be.rt.servers[i]) {
                match s.limit() {
                    0 => return -1,
                    max => free += i64::from(max.saturating_sub(s.active())),
                }
            }
            free
        }
        ProxyState::Connslots => {
            let mut free = 0;
            for s in servers().filter(|s| s.running()) {
                if s.maxconn() == 0 || s.maxqueue == 0 {
                    return -1;
                }
                free += i64::from(s.maxconn()) - i64::from(s.active()) + i64::from(s.maxqueue);
            }
            free
        }
    }
}

/// A server's value; None when the running configuration has no such server.
pub fn server(what: ServerState, backend: &str, server: &str) -> Option<clearway_sample::Sample<'static>> {
    let be = backend_named(backend)?;
    let s: &ServerRt = &be.rt.servers[be.server_index(server)?];
    Some(match what {
        ServerState::IsUp => clearway_sample::Sample::Bool(s.running()),
        ServerState::Conn => clearway_sample::Sample::Int(i64::from(s.active())),
        ServerState::SessRate => clearway_sample::Sample::Int(s.sess_rate.as_ref().map_or(0, |r| i64::from(r.rate()))),
        ServerState::ConnFree => clearway_sample::Sample::Int(match s.limit() {
            0 => -1,
            max => i64::from(max.saturating_sub(s.active())),
        }),
    })
}
