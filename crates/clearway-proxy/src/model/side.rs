//! What the data plane and the checks know of one server beyond its live state
//! (`clearway_core::ServerRt`): how to reach it (TLS, PROXY protocol, SOCKS4, HTTP/2), how it
//! is checked, what tracks it, and how its sessions are ended. Built from its `server` line,
//! at start-up or by `add server`; must not do I/O.

use crate::checks::spec::CheckSpec;
use crate::error::BuildError;
use clearway_config::model::{self, CheckParams};
use clearway_core::ServerRt;
use std::sync::{Arc, Mutex};

#[derive(Debug)]
pub struct ServerSide {
    /// Its health check parameters (None: not checked).
    pub check_params: Option<CheckParams>,
    /// The `rise` of its line, checked or not (`show servers state` starts an unchecked
    /// server's health there, as HAProxy does).
    pub check_rise: u32,
    /// With `check` and `observe`: what traffic says of its health.
    pub observer: Option<Arc<crate::checks::observe::Observer>>,
    /// The servers that track it (`track`).
    pub trackers: Mutex<Vec<Tracker>>,
    /// The server it tracks, as `backend/server`.
    pub tracks: Option<String>,
    /// Its agent check (`agent-check`), if any.
    pub agent: Option<model::AgentCheck>,
    /// Its line's `rise` and `fall`, which its agent's replies count against too.
    pub rise_fall: (u32, u32),
    /// Per step of an HTTP check: the TLS of an `http-check connect ... ssl`.
    pub check_step_tls: Vec<Option<crate::tls::Connector>>,
    /// What it asks of run-time DNS (`resolvers` and a name).
    pub dns: Option<model::ServerDns>,
    /// How to open TLS to it (`ssl`), or None.
    pub tls: Option<crate::tls::Connector>,
    /// How its health checks open TLS (`ssl` or `check-ssl`), else None.
    pub check_tls: Option<crate::tls::Connector>,
    /// `proto h2` (HTTP/2 without ALPN).
    pub h2: bool,
    /// WebSocket requests take an HTTP/1.1 connection of their own (`ws h1`, or `ws auto`
    /// with an ALPN list naming `http/1.1`), whatever its other requests use.
    pub ws_h1: bool,
    /// The SOCKS4 proxy its connections go through (`socks4`).
    pub socks4: Option<std::net::SocketAddr>,
    /// The PROXY protocol header its connections start with (`send-proxy*`).
    pub send_proxy: model::SendProxy,
    /// How its sessions are ended from outside, when anything can end them (a stats socket
    /// or an admin page, `on-marked-down shutdown-sessions`, a server's `on-marked-up
    /// shutdown-backup-sessions` for the backups).
    pub kill: Option<Arc<crate::kill::Kill>>,
    /// Added at run time (`add server`): no other server may track it.
    pub dynamic: bool,
    /// Something in the configuration names it (a `use-server` rule, a fetch's argument, a
    /// tracker, run-time DNS): `del server` refuses it, as HAProxy does.
    pub pinned: std::sync::atomic::AtomicBool,
    /// `disable agent`: its agent is not asked until `enable agent`.
    agent_stopped: std::sync::atomic::AtomicBool,
}

/// What building a server's side needs to know of its backend.
pub struct Context<'a> {
    pub backend: &'a model::Backend,
    pub check: &'a CheckSpec,
    /// Its sessions can be ended from outside (a stats socket or an admin page).
    pub killable: bool,
    pub threads: usize,
}

impl ServerSide {
    pub fn new(cx: &Context, s: &model::Server, rt: &ServerRt, dynamic: bool) -> Result<ServerSide, BuildError> {
        let checked = s.check.enabled && !s.disabled;
        // The TLS of each `http-check connect ... ssl` step or `tcp-check connect ... ssl`
        // rule.
        let check_step_tls = cx
            .check
            .step_connects()
            .into_iter()
            .map(|connect| match connect {
                Some(c) if c.ssl && s.check.enabled => {
                    let mut t = s.check_tls_settings();
                    if let Some(n) = &c.sni {
                        t.sni = Some(model::Sni::Fixed(n.clone()));
                    }
                    if let Some(a) = &c.alpn {
                        t.alpn = a.split(',').map(str::to_string).collect();
                    }
                    crate::tls::connector(&t, rt.ip, &s.span).map(Some)
                }
                _ => Ok(None),
            })
            .collect::<Result<Vec<_>, BuildError>>()?;
        let b = cx.backend;
        let ends = cx.killable
            || s.on_marked_down_shutdown
            || (s.backup && b.servers.iter().any(|o| o.on_marked_up_shutdown_backups));
        Ok(ServerSide {
            check_params: checked.then(|| s.check.clone()),
            check_rise: s.check.rise,
            observer: s.check.observe.filter(|_| checked).map(|o| {
                Arc::new(crate::checks::observe::Observer::new(
                    o,
                    s.check.error_limit,
                    s.check.on_error,
                ))
            }),
            trackers: Mutex::new(Vec::new()),
            tracks: (s.track.as_ref()).map(|(tb, ts)| format!("{}/{ts}", tb.as_deref().unwrap_or(&b.name))),
            agent: (s.agent.enabled && !s.disabled).then(|| s.agent.clone()),
            rise_fall: (s.check.rise, s.check.fall),
            check_step_tls,
            dns: rt.resolved_at_run_time().then(|| s.dns.clone()),
            tls: s
                .ssl
                .then(|| crate::tls::connector(&s.tls, rt.ip, &s.span))
                .transpose()?,
            check_tls: (s.check.enabled && s.check_tls())
                .then(|| crate::tls::connector(&s.check_tls_settings(), rt.ip, &s.span))
                .transpose()?,
            h2: s.proto_h2,
            ws_h1: ws_h1(s),
            socks4: s.socks4,
            send_proxy: s.send_proxy,
            kill: ends.then(|| Arc::new(crate::kill::Kill::new(cx.threads))),
            dynamic,
            pinned: Default::default(),
            agent_stopped: Default::default(),
        })
    }

    /// The servers tracking it, as they are now.
    pub fn trackers(&self) -> Vec<Tracker> {
        self.trackers.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn pin(&self) {
        self.pinned.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn set_agent_stopped(&self, stopped: bool) {
        self.agent_stopped.store(stopped, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn agent_stopped(&self) -> bool {
        self.agent_stopped.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn is_pinned(&self) -> bool {
        self.pinned.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Whether WebSocket requests to `s` go over an HTTP/1.1 connection of their own: `ws h1`;
/// with `ws auto` (HAProxy's default), when the server may pick HTTP/2 by ALPN and the list
/// also names `http/1.1` (with `proto h2` they stay on HTTP/2).
fn ws_h1(s: &model::Server) -> bool {
    use clearway_config::model::WsProto;
    match s.ws {
        WsProto::H1 => true,
        WsProto::H2 => false,
        WsProto::Auto => {
            let alpn = &s.tls.alpn;
            s.ssl && !s.proto_h2 && alpn.iter().any(|p| p == "h2") && alpn.iter().any(|p| p == "http/1.1")
        }
    }
}

/// A server that tracks another one (`track`): its health and maintenance follow.
#[derive(Debug, Clone)]
pub struct Tracker {
    pub be: std::sync::Weak<super::Backend>,
    pub server: usize,
}
