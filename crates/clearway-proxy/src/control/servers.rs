//! `add server BACKEND/NAME ADDR [params]` and `del server BACKEND/NAME`: servers joining and
//! leaving a running backend, as HAProxy's dynamic servers do. A new server starts in
//! maintenance, its checks and agent stopped until `enable health` / `enable agent`; a
//! deleted one keeps its place in the backend's list (sessions may still name its index)
//! but is gone from choices, names and statistics.

use crate::model::side::{Context, ServerSide};
use crate::model::{Backend, Runtime, Tracker};
use clearway_config::dynamic_server;
use clearway_config::model::{Host, HttpReuse};
use clearway_core::{Admin, ServerRt};
use std::sync::Arc;

// HAProxy ends some of these answers with an empty line and others not: each answer below
// is written as HAProxy's, less the line end the socket adds.

/// `add server`: the answer HAProxy gives.
pub fn add(rt: &Runtime, (backend, name): (&str, &str), words: &[String]) -> String {
    try_add(rt, (backend, name), words).unwrap_or_else(|e| e)
}

fn try_add(rt: &Runtime, (backend, name): (&str, &str), words: &[String]) -> Result<String, String> {
    let be = rt
        .backends
        .iter()
        .find(|b| b.rt.name == backend)
        .ok_or("No such backend.")?;
    if !dynamic_server::takes_dynamic_servers(&be.conf) {
        return Err("Backend must use a dynamic load balancing to support dynamic servers.".into());
    }
    let line: Vec<String> = std::iter::once(name.to_string()).chain(words.iter().cloned()).collect();
    let mut srv = dynamic_server::runtime_server(&line, &be.conf, &rt.tls_defaults).map_err(|e| e + "\n")?;
    let ip = match srv.host {
        Host::Ip(ip) => ip,
        Host::Name(ref n) => {
            return Err(format!(
                "'{n}' is not an IP address: a server added at run time is not resolved (give its address)"
            ))
        }
    };
    // What it tracks must exist, be checked, and be from the configuration.
    let tracked = match srv.track.take() {
        Some((tb, ts)) => {
            let tb = tb.unwrap_or_else(|| be.rt.name.clone());
            let full = format!("{tb}/{ts}");
            let (target_be, ti) =
                server_named(rt, &tb, &ts).ok_or_else(|| format!("unable to find {full} for tracking."))?;
            let side = target_be.side(ti);
            if side.dynamic {
                return Err(format!("unable to use {full} for tracking as it is a dynamic server."));
            }
            if side.check_params.is_none() && side.agent.is_none() && side.tracks.is_none() {
                return Err(format!(
                    "unable to use {full} for tracking as it does not have any check nor agent enabled."
                ));
            }
            srv.track = Some((Some(tb), ts));
            Some((target_be.clone(), ti))
        }
        None => None,
    };
    if srv.send_proxy.on() && be.mode == clearway_config::model::Mode::Http && be.http.reuse != HttpReuse::Never {
        // Its connections speak for one client each: the backend's idle connections are
        // shared between clients unless 'http-reuse never' (or a configured send-proxy
        // server) makes them private.
        return Err(format!(
            "'send-proxy' on a server added at run time needs 'http-reuse never' in backend '{}' (its idle connections are shared between clients).\n",
            be.rt.name
        ));
    }
    let mut server = ServerRt::new(&srv, Some(ip)).for_threads(rt.threads);
    let follows = server.minconn < server.maxconn();
    if follows {
        server.follow(&be.rt.follow());
    }
    // HAProxy's dynamic servers start in maintenance, checks and agent stopped.
    server.set_admin(Admin::Maint);
    server.set_checks_stopped(true);
    let cx = Context {
        backend: &be.conf,
        check: &be.check,
        // Only the runtime API adds servers: it can end their sessions too.
        killable: true,
        threads: rt.threads,
    };
    let side = ServerSide::new(&cx, &srv, &server, true).map_err(|e| e.to_string())?;
    side.set_agent_stopped(true);
    if side.tls.as_ref().is_some_and(|t| t.sni_fetch.is_some()) && !be.sni_from_request {
        // Requests to this backend do not keep their headers for a TLS name read later.
        return Err(
            "'sni' from the request is only possible in a backend where a server of the configuration has one.\n"
                .into(),
        );
    }
    if let Some((tb, ti)) = &tracked {
        let t = &tb.rt.servers[*ti];
        server.set_up(t.check_says_up());
        server.set_inherited(super::actions::passed_on(t));
    }
    let need = crate::http::pool::Need::new(&srv.pool, rt.global_maxconn);
    let i = be.rt.servers.try_push_with(|servers, i| {
        let live = || servers.iter().filter(|s| !s.is_deleted());
        if live().any(|s| s.name == srv.name) {
            return Err("Already exists a server with the same name in backend.\n".to_string());
        }
        // Its number: the one given, if free, else the first free one (as HAProxy).
        let id = match srv.id {
            Some(id) => {
                if let Some(other) = live().find(|s| s.id == id) {
                    return Err(format!(
                        "'id' : custom id {id} already used at {} ('server {}').\n",
                        other.span, other.name
                    ));
                }
                id
            }
            None => (1..).find(|id| !live().any(|s| s.id == *id)).unwrap_or(u32::MAX),
        };
        let server = server.with_id(id);
        // The three lists grow together, only here, one server at a time: same index.
        let (a, b) = (be.sides.push(side), be.pool.add_need(need));
        debug_assert_eq!((a, b), (i, i));
        Ok(server)
    })?;
    if follows {
        be.rt.now_follows();
    }
    if let Some((tb, ti)) = tracked {
        // As in HAProxy, a server once tracked stays (`del server` refuses it).
        tb.side(ti).pin();
        tb.side(ti)
            .trackers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Tracker {
                be: Arc::downgrade(be),
                server: i,
            });
    }
    spawn_checks(rt, be, i);
    Ok("New server registered.\n".into())
}

/// Starts the checks and agent of server `i` (added at run time): they wait, stopped, for
/// `enable health` / `enable agent`, and end when it is deleted.
fn spawn_checks(rt: &Runtime, be: &Arc<Backend>, i: usize) {
    let side = be.side(i);
    if let Some(params) = side.check_params.clone() {
        let jitter = crate::checks::Jitter::new(rt.spread_checks);
        let run = crate::checks::run(
            be.clone(),
            i,
            params,
            be.check.clone(),
            std::time::Duration::ZERO,
            jitter,
        );
        tokio::spawn(run);
    }
    if let Some(agent) = side.agent.clone() {
        tokio::spawn(crate::checks::agent::run(
            be.clone(),
            i,
            agent,
            std::time::Duration::ZERO,
        ));
    }
}

/// `del server`: the answer HAProxy gives.
pub fn del(rt: &Runtime, (backend, name): (&str, &str)) -> String {
    try_del(rt, (backend, name)).unwrap_or_else(|e| e)
}

fn try_del(rt: &Runtime, (backend, name): (&str, &str)) -> Result<String, String> {
    let be = rt
        .backends
        .iter()
        .find(|b| b.rt.name == backend)
        .ok_or("No such backend.")?;
    let (_, i) = server_named(rt, backend, name).ok_or("No such server.")?;
    let (s, side) = (&be.rt.servers[i], be.side(i));
    if side.is_pinned() || !side.trackers().is_empty() {
        return Err(
            "This server cannot be removed at runtime due to other configuration elements pointing to it.".into(),
        );
    }
    // Its own maintenance, or the one it inherits from a server it tracks.
    if s.admin() != Admin::Maint && s.inherited() != Admin::Maint {
        return Err("Only servers in maintenance mode can be deleted.".into());
    }
    if s.active() > 0 || be.queue.waits_for(i) {
        return Err("Server still has connections attached to it, cannot remove it.".into());
    }
    s.set_deleted();
    // Its idle connections go now (HAProxy 2.6 refuses while there are any).
    be.pool.purge_all(i);
    if let Some((tb, ts)) = side.tracks.as_deref().and_then(|t| t.split_once('/')) {
        if let Some((target_be, ti)) = server_named(rt, tb, ts) {
            let mut list = target_be.side(ti).trackers.lock().unwrap_or_else(|p| p.into_inner());
            list.retain(|t| !(t.server == i && t.be.upgrade().is_some_and(|b| Arc::ptr_eq(&b, be))));
        }
    }
    Ok("Server deleted.".into())
}

/// Backend `b`'s server `s` (not deleted), with its index.
fn server_named<'a>(rt: &'a Runtime, b: &str, s: &str) -> Option<(&'a Arc<Backend>, usize)> {
    let be = rt.backends.iter().find(|x| x.rt.name == b)?;
    Some((be, be.server_index(s)?))
}
