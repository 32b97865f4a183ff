//! Listeners and their accept loops. Owns the connection limits (global, frontend,
//! bind `maxconn`: when reached, stop accepting and let the kernel backlog hold new clients)
//! and hands each accepted client to a session, on the least loaded worker thread
//! (`workers`); must not choose servers.

use crate::error::BuildError;
use crate::model::Runtime;
use crate::session;
use crate::workers::{Handoff, Workers};
use clearway_config::model::{self, Mode, Span};
use clearway_core::{FrontendId, ListenerConn, ListenerRt};
use clearway_net::ListenSpec;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// One open listening socket and what it belongs to.
#[derive(Debug)]
pub struct Listener {
    pub frontend: FrontendId,
    /// The worker thread that accepts on it.
    pub thread: usize,
    pub addr: SocketAddr,
    pub socket: std::net::TcpListener,
    /// `maxconn` of the bind line, if any.
    pub limit: Option<Arc<Semaphore>>,
    /// `ssl crt ...`: TLS is terminated here.
    pub tls: Option<crate::tls::Acceptor>,
    /// The local address of every connection it accepts, when the bind line fixes it (one
    /// address, not `transparent`): then no system call asks each connection for it.
    pub fixed_local: Option<SocketAddr>,
    /// Its own statistics, with `option socket-stats`.
    pub stats: Option<Arc<ListenerRt>>,
    /// Its number and name (`so_id`, `so_name`).
    pub so: Option<Arc<crate::acl::SoIdent>>,
    /// `accept-proxy`: connections start with a PROXY protocol header.
    pub accept_proxy: bool,
}

/// Opens every listener of the config (before daemonizing, so errors reach the terminal): one
/// socket per address and worker thread (see `listen_group`).
pub fn open_listeners(cfg: &model::Config, rt: &Runtime) -> Result<Vec<Listener>, BuildError> {
    let threads = rt.threads;
    let mut out = Vec::new();
    let mut fds_taken = std::collections::HashSet::new();
    for (fi, f) in cfg.frontends.iter().enumerate() {
        // The runtime numbered the frontend's sockets in the order they are opened here.
        let mut stats = rt.frontends[fi].listeners.iter();
        let mut so = so_idents(f).into_iter();
        for b in &f.binds {
            let spec = ListenSpec {
                transparent: b.transparent,
                freebind: b.freebind,
                v6only: if b.v6only {
                    Some(true)
                } else if b.v4v6 {
                    Some(false)
                } else {
                    None
                },
                interface: b.interface.clone(),
                backlog: b.backlog.or(f.backlog),
                delayed_ack: f.smart_accept(b.tls.is_some()),
            };
            // `option clitcpka`: set on each listening socket (inherited ones too), which
            // the connections it accepts inherit it from.
            let client_ka = f.options.clitcpka.then(|| keepalive(&f.options.clitcpka_timers));
            let limit = b.maxconn.map(|n| Arc::new(Semaphore::new(n as usize)));
            let tls = b
                .tls
                .as_ref()
                .map(|t| crate::tls::acceptor(t, f.mode == Mode::Http, &b.span))
                .transpose()?;
            // Each address's sockets (one per thread), or an inherited one's, with what to call
            // it in messages and whether every connection's local address is that one.
            let mut groups = Vec::new();
            for &addr in &b.addrs {
                let sockets = clearway_net::listen::listen_group(addr, &spec, threads)
                    .map_err(|e| bind_error(&b.span, f, addr, b, &e))?;
                groups.push((addr.to_string(), sockets, !b.transparent && !addr.ip().is_unspecified()));
            }
            for &fd in &b.fds {
                let fail = |e: &dyn std::fmt::Display| BuildError {
                    span: b.span.clone(),
                    message: format!("frontend '{}': cannot listen on fd@{fd}: {e}", f.name),
                };
                // One owner per descriptor: two listeners taking the same one would close it twice.
                if !fds_taken.insert(fd) {
                    return Err(fail(&"named by another bind line too"));
                }
                let sockets = clearway_net::listen::inherited(fd, threads).map_err(|e| fail(&e))?;
                groups.push((format!("fd@{fd}"), sockets, false));
            }
            for (what, sockets, fixed) in groups {
                let stats = stats.next().cloned();
                let so = so.next();
                // As HAProxy: a kernel that refuses `defer-accept` is warned about (once per
                // address), not fatal.
                let mut refused = None;
                for (thread, socket) in sockets.into_iter().enumerate() {
                    if let Some(ka) = &client_ka {
                        clearway_net::set_keepalive(&socket, ka).map_err(|e| BuildError {
                            span: b.span.clone(),
                            message: format!("frontend '{}': {what}: cannot set TCP keep-alive: {e}", f.name),
                        })?;
                    }
                    if b.defer_accept {
                        if let Err(e) = clearway_net::listen::set_defer_accept(&socket) {
                            refused.get_or_insert(e);
                        }
                    }
                    let addr = socket.local_addr().map_err(|e| BuildError {
                        span: b.span.clone(),
                        message: format!("frontend '{}': {what}: {e}", f.name),
                    })?;
                    out.push(Listener {
                        frontend: FrontendId(fi as u32),
                        thread,
                        addr,
                        socket,
                        limit: limit.clone(),
                        tls: tls.clone(),
                        fixed_local: fixed.then_some(addr),
                        stats: stats.clone(),
                        so: so.clone(),
                        accept_proxy: b.accept_proxy,
                    });
                }
                if let Some(e) = refused {
                    tracing::warn!("{}: 'defer-accept' not in effect on {what}: {e}", b.span);
                }
            }
        }
    }
    Ok(out)
}

fn bind_error(span: &Span, f: &model::Frontend, addr: SocketAddr, b: &model::Bind, e: &std::io::Error) -> BuildError {
    use std::io::ErrorKind;
    let hint = match e.kind() {
        ErrorKind::AddrNotAvailable if !b.transparent && !b.freebind => {
            " (hint: the address is not configured on this host; add 'transparent' to serve it anyway, or 'freebind')"
        }
        ErrorKind::AddrInUse => " (hint: another process already listens there)",
        ErrorKind::PermissionDenied if b.transparent => " (hint: 'transparent' needs CAP_NET_ADMIN)",
        ErrorKind::PermissionDenied => " (hint: ports below 1024 need root or CAP_NET_BIND_SERVICE)",
        _ => "",
    };
    BuildError {
        span: span.clone(),
        message: format!("frontend '{}': cannot bind {addr}: {e}{hint}", f.name),
    }
}

/// Accepts clients on `listener` until the task is dropped.
/// How long an accept loop waits before one more client keeps every rate limit (None: now).
/// Clearway counts a session when it accepts the connection, so `maxsessrate` and
/// `rate-limit sessions` also count connections that `tcp-request connection` rules refuse.
fn rate_wait(rt: &Runtime, fe: &crate::model::Frontend) -> Option<Duration> {
    let global = rt.maxconnrate.into_iter().chain(rt.maxsessrate).min();
    let fe_wait = fe.rate_limit.and_then(|l| fe.sess_rate.wait_for(l));
    let global_wait = global.and_then(|l| rt.conn_rate.wait_for(l));
    fe_wait.max(global_wait)
}

pub async fn accept_loop(rt: Arc<Runtime>, workers: Arc<Workers>, listener: Listener) {
    let fe = rt.frontends[listener.frontend.index()].clone();
    let socket = match clearway_net::listen::readiness(listener.socket) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(frontend = %fe.name, addr = %listener.addr, "cannot register listener: {e}");
            return;
        }
    };
    loop {
        // A client is waiting first; only then are the permits taken. While a limit is reached
        // we do not accept, and clients wait in the kernel's backlog instead of being dropped;
        // an idle listener holds no permit another listener could use.
        let Ok(mut ready) = socket.readable().await else {
            return;
        };
        let Some(global) = rt.global_conns.acquire().await else {
            return;
        };
        let Some(local) = fe.conns.acquire().await else {
            return;
        };
        let bind = match &listener.limit {
            Some(l) => match l.clone().acquire_owned().await {
                Ok(p) => Some(p),
                Err(_) => return,
            },
            None => None,
        };
        // `rate-limit sessions`, `maxconnrate`, `maxsessrate`: past the rate, clients wait in
        // the kernel's backlog until one more fits, as with HAProxy's paused listeners.
        while let Some(d) = rate_wait(&rt, &fe) {
            tokio::time::sleep(d).await;
        }
        let (stream, peer) = match clearway_net::listen::accept(socket.get_ref()) {
            Ok(v) => v,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                // Another listener sharing the queue, or a client gone before accept.
                ready.clear_ready();
                continue;
            }
            Err(e) => {
                // Out of descriptors or memory: back off instead of spinning; anything else is
                // a per-connection failure (e.g. the client reset before accept).
                tracing::warn!(frontend = %fe.name, addr = %listener.addr, "accept failed: {e}");
                if clearway_net::errors::is_resource_exhaustion(&e) {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                continue;
            }
        };
        fe.counters.inc(clearway_core::Field::Sessions);
        fe.max_sessions.note(fe.sessions());
        let ms = clearway_core::rate::now_ms();
        fe.sess_rate.add_at(ms);
        rt.conn_rate.add_at(ms);
        let counted = listener.stats.as_ref().map(|l| {
            l.counters.inc(clearway_core::Field::Sessions);
            ListenerConn::new(l.clone())
        });
        let at = crate::stream::Accepted {
            peer,
            local: listener.fixed_local,
            listener: listener.stats.clone(),
            so: listener.so.clone(),
            accept_proxy: listener.accept_proxy,
        };
        let permits = (global, local, bind, counted);
        if rt.threads == 1 {
            session::spawn(fe.clone(), stream, at, listener.tls.clone(), permits);
            continue;
        }
        let load = workers.assign(listener.thread);
        if load.thread() == listener.thread % rt.threads {
            session::spawn(fe.clone(), stream, at, listener.tls.clone(), (permits, load));
            continue;
        }
        let h = Handoff {
            fe: fe.clone(),
            stream,
            at,
            tls: listener.tls.clone(),
            permits,
            load,
        };
        if let Err(h) = workers.hand_over(h) {
            // That thread has stopped: serve the client here rather than drop it.
            session::spawn(h.fe, h.stream, h.at, h.tls, (h.permits, h.load));
        }
    }
}

/// Serves the clients other threads hand to thread `thread` (see `workers`), until the task
/// is dropped.
pub async fn serve_handed_over(workers: Arc<Workers>, thread: usize) {
    let Some(mut inbox) = workers.inbox(thread) else {
        return;
    };
    while let Some(h) = inbox.recv().await {
        session::spawn(h.fe, h.stream, h.at, h.tls, (h.permits, h.load));
    }
}

/// The socket settings for `option clitcpka`/`srvtcpka` and their timers.
pub fn keepalive(t: &clearway_config::model::TcpKa) -> clearway_net::Keepalive {
    clearway_net::Keepalive {
        idle: t.idle,
        interval: t.intvl,
        count: t.cnt,
    }
}

/// Each listening socket's number (`runtime::listener_ids`) and its bind's `name` (none
/// without one), in the order `open_listeners` opens them.
fn so_idents(f: &model::Frontend) -> Vec<Arc<crate::acl::SoIdent>> {
    let mut ids = crate::runtime::listener_ids(f).into_iter();
    let mut out = Vec::new();
    for b in &f.binds {
        for _ in 0..b.addrs.len() + b.fds.len() {
            let id = ids.next().unwrap_or(0);
            out.push(Arc::new(crate::acl::SoIdent {
                id,
                name: b.name.as_deref().map(Box::from),
            }));
        }
    }
    out
}
