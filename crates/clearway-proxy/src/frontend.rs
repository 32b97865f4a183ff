//! Frontends: their listeners and accept loops. Owns the connection limits (global, frontend,
//! bind `maxconn`: when reached, stop accepting and let the kernel backlog hold new clients)
//! and hands each accepted client to a session, on the least loaded worker thread
//! (`workers`); must not choose servers.

use crate::acl::{Cond, Samples};
use crate::error::BuildError;
use crate::http::HttpRules;
use crate::inspect::TcpRules;
use crate::runtime::{Backend, Runtime};
use crate::session;
use crate::workers::Handoff;
use clearway_config::model::{self, Mode, Span, Timeouts};
use clearway_net::ListenSpec;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

#[derive(Debug)]
pub struct Frontend {
    pub name: String,
    pub mode: Mode,
    pub timeouts: Timeouts,
    /// Its `maxconn`, changed by `set maxconn frontend`.
    pub conns: crate::limit::Limit,
    /// `use_backend` rules in order: the first whose condition holds chooses the backend.
    pub switching: Vec<(Option<Cond>, Arc<Backend>)>,
    /// Where sessions go otherwise; None: the frontend has no backend and closes each client.
    pub backend: Option<Arc<Backend>>,
    /// Layer-7 rules and settings (`mode http`).
    pub http: HttpRules,
    /// `tcp-request` rules.
    pub tcp_rules: TcpRules,
    /// Some `use_backend` condition reads the client's first bytes (`req.ssl_sni`).
    pub switching_reads_payload: bool,
    /// `tcp-smart-accept` in `mode http`: HTTP/1 clients' connections start with delayed
    /// acknowledgements, to be turned back to quick ones while a request body comes.
    pub smart_accept: bool,
    /// Traffic counters, per worker thread.
    pub counters: clearway_core::Counters,
    /// The most sessions at once (`smax`); the current count is what `conns` has given out.
    pub max_sessions: clearway_core::Gauge,
    /// Where its traffic is logged; None: nowhere.
    pub logger: Option<Arc<crate::log::Logger>>,
    /// It logs each session or request at its end (a format is set): the one test the
    /// request path makes when it does not.
    pub log_requests: bool,
    /// TLS is terminated on (some of) its binds: `%ft` ends with `~`.
    pub tls: bool,
    /// The process-wide connection limit, shared by every frontend: `%ac` in logs.
    pub global_conns: Option<Arc<crate::limit::Limit>>,
    /// The runtime it belongs to, for the pages it answers itself (statistics, metrics);
    /// set once the runtime is built.
    pub runtime: std::sync::OnceLock<std::sync::Weak<crate::runtime::Runtime>>,
    /// The last request refused as malformed (`show errors`).
    pub errors: clearway_core::capture::Captures,
    /// Its sessions in progress (`show sess`), kept when a stats socket can show them.
    pub sessions: Option<Arc<crate::sessions::Sessions>>,
}

impl Frontend {
    /// `global_maxconn` applies when the frontend sets no `maxconn` of its own, as in HAProxy.
    pub fn new(
        cfg: &model::Frontend,
        switching: Vec<(Option<Cond>, Arc<Backend>)>,
        backend: Option<Arc<Backend>>,
        global_maxconn: u32,
    ) -> Frontend {
        let maxconn = cfg.maxconn.unwrap_or(global_maxconn);
        let switching_reads_payload = switching
            .iter()
            .any(|(c, _)| c.as_ref().is_some_and(Cond::reads_payload));
        Frontend {
            name: cfg.name.clone(),
            mode: cfg.mode,
            timeouts: cfg.timeouts,
            conns: crate::limit::Limit::new(maxconn),
            switching,
            backend,
            http: HttpRules::new(&cfg.http, cfg.options.forwardfor.clone()),
            tcp_rules: TcpRules::new(&cfg.tcp_rules),
            switching_reads_payload,
            smart_accept: cfg.smart_accept(false),
            counters: clearway_core::Counters::default(),
            max_sessions: clearway_core::Gauge::default(),
            logger: None,
            log_requests: false,
            tls: cfg.binds.iter().any(|b| b.tls.is_some()),
            global_conns: None,
            runtime: std::sync::OnceLock::new(),
            errors: Default::default(),
            sessions: None,
        }
    }

    /// The same frontend, with counters for `threads` worker threads.
    pub fn for_threads(mut self, threads: usize) -> Frontend {
        self.counters = clearway_core::Counters::new(threads);
        self
    }

    /// The same frontend, logging with `logger`.
    pub fn with_logger(mut self, logger: Option<crate::log::Logger>) -> Frontend {
        self.log_requests = logger.as_ref().is_some_and(|l| l.per_session());
        self.logger = logger.map(Arc::new);
        self
    }

    /// What a client connection counts its bytes into.
    pub fn tally(&self) -> crate::counted::Tally {
        crate::counted::Tally::Client(self.counters.handle())
    }

    /// Sessions in progress in the whole process (`%ac`).
    pub fn process_sessions(&self) -> u32 {
        self.global_conns.as_ref().map_or(0, |l| l.in_use())
    }

    /// Sessions in progress (`scur`).
    pub fn sessions(&self) -> u32 {
        self.conns.in_use()
    }

    /// The backend for a session or request: the first `use_backend` whose condition holds,
    /// else `default_backend`.
    pub fn choose_backend(&self, s: &dyn Samples) -> Option<&Arc<Backend>> {
        self.switching
            .iter()
            .find(|(c, _)| Cond::holds(c, s))
            .map(|(_, b)| b)
            .or(self.backend.as_ref())
    }
}

/// Where an accepted client comes from, and where it connected to when already known.
#[derive(Debug, Clone, Copy)]
pub struct Accepted {
    pub peer: SocketAddr,
    pub local: Option<SocketAddr>,
}

/// One open listening socket and what it belongs to.
#[derive(Debug)]
pub struct Listener {
    pub frontend: usize,
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
}

/// Opens every listener of the config (before daemonizing, so errors reach the terminal): one
/// socket per address and worker thread (see `listen_group`).
pub fn open_listeners(cfg: &model::Config, threads: usize) -> Result<Vec<Listener>, BuildError> {
    let mut out = Vec::new();
    let mut fds_taken = std::collections::HashSet::new();
    for (fi, f) in cfg.frontends.iter().enumerate() {
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
                backlog: b.backlog,
                delayed_ack: f.smart_accept(b.tls.is_some()),
            };
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
                // As HAProxy: a kernel that refuses `defer-accept` is warned about (once per
                // address), not fatal.
                let mut refused = None;
                for (thread, socket) in sockets.into_iter().enumerate() {
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
                        frontend: fi,
                        thread,
                        addr,
                        socket,
                        limit: limit.clone(),
                        tls: tls.clone(),
                        fixed_local: fixed.then_some(addr),
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
pub async fn accept_loop(rt: Arc<Runtime>, listener: Listener) {
    let fe = rt.frontends[listener.frontend].clone();
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
        let at = Accepted {
            peer,
            local: listener.fixed_local,
        };
        let permits = (global, local, bind);
        if rt.threads == 1 {
            session::spawn(fe.clone(), stream, at, listener.tls.clone(), permits);
            continue;
        }
        let load = rt.workers.assign(listener.thread);
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
        if let Err(h) = rt.workers.hand_over(h) {
            // That thread has stopped: serve the client here rather than drop it.
            session::spawn(h.fe, h.stream, h.at, h.tls, (h.permits, h.load));
        }
    }
}

/// Serves the clients other threads hand to thread `thread` (see `workers`), until the task
/// is dropped.
pub async fn serve_handed_over(rt: Arc<Runtime>, thread: usize) {
    let Some(mut inbox) = rt.workers.inbox(thread) else {
        return;
    };
    while let Some(h) = inbox.recv().await {
        session::spawn(h.fe, h.stream, h.at, h.tls, (h.permits, h.load));
    }
}
