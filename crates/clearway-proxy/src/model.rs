//! The live model a running Clearway serves from, built from a validated config by
//! `runtime::Runtime::build`: frontends with their limits, rules and counters, backends with
//! live server state, their wait queue and idle connections, and the process-wide settings.
//! Only these types and what reads or counts into them sit here, below every module that
//! uses them (sessions, dispatch, checks, the control plane); must not do I/O.

use crate::acl::{Cond, ConnSamples, Samples};
use crate::checks::spec::CheckSpec;
use crate::http::cookie::Bent;
use crate::http::pool::{InUse, Pool};
use crate::http::rules::HttpRules;
use crate::inspect::TcpRules;
use crate::queue::Queue;
use clearway_config::model::{self, Mode, Span, Timeouts};
use clearway_core::{BackendId, BackendRt, Field, ServerId, ServerRt};
use std::sync::Arc;

pub mod side;
pub use side::Tracker;

/// Everything the data plane needs, built once per configuration.
#[derive(Debug)]
pub struct Runtime {
    pub frontends: Vec<Arc<Frontend>>,
    pub backends: Vec<Arc<Backend>>,
    /// Process-wide `maxconn`.
    pub global_conns: Arc<crate::limit::Limit>,
    pub global_maxconn: u32,
    /// Worker threads (`nbthread`, else one per CPU), each with its own event loop.
    pub threads: usize,
    /// Per worker thread: the CPUs `cpu-map` binds it to, and the line that says so.
    pub thread_cpus: Vec<Option<(Vec<usize>, Span)>>,
    /// `busy-polling`: the event loops never sleep in the kernel while waiting for events.
    pub busy_polling: bool,
    /// The `global` section's log targets.
    pub log: Arc<crate::log::Globals>,
    /// New connections and sessions per second, process-wide, and their limits
    /// (`maxconnrate`, `maxsessrate`).
    pub conn_rate: clearway_core::rate::Rate,
    pub maxconnrate: Option<u32>,
    pub maxsessrate: Option<u32>,
    /// `spread-checks` (percent) and `max-spread-checks`.
    pub spread_checks: u32,
    pub max_spread_checks: Option<std::time::Duration>,
    /// The `resolvers` sections, with the nameservers of `parse-resolv-conf` read in.
    pub resolvers: Vec<Arc<clearway_config::model::Resolvers>>,
    /// The global TLS defaults (servers added at run time start from them).
    pub tls_defaults: clearway_config::model::TlsDefaults,
}

impl Runtime {
    /// Every `mode http` backend's idle connection pool, with how many connections to each
    /// of its servers are in use.
    pub fn http_pools(&self) -> Vec<(Arc<Pool>, InUse)> {
        self.backends
            .iter()
            .filter(|b| b.mode == Mode::Http)
            .map(|b| {
                let be = b.clone();
                let in_use: InUse = Box::new(move |i| be.rt.servers.get(i).map_or(0, |s| s.active()));
                (b.pool.clone(), in_use)
            })
            .collect()
    }

    /// A backend by id.
    pub fn backend(&self, id: BackendId) -> &Arc<Backend> {
        &self.backends[id.index()]
    }

    /// A server by id, with its backend.
    pub fn server(&self, id: ServerId) -> (&Arc<Backend>, &ServerRt) {
        let be = self.backend(id.backend);
        (be, &be.rt.servers[id.index()])
    }
}

#[derive(Debug)]
pub struct Frontend {
    /// Its place among the proxies and its number (`iid`).
    pub num: model::ProxyNum,
    pub name: String,
    /// Its number and name for `fe_id` and `fe_name`.
    pub ident: Arc<crate::acl::Ident>,
    pub mode: Mode,
    pub timeouts: Timeouts,
    /// Its `maxconn`, changed by `set maxconn frontend`.
    pub conns: crate::limit::Limit,
    /// `use_backend` rules in order: the first whose condition holds chooses the backend.
    pub switching: Vec<(Option<Cond>, Switch)>,
    /// The backends a dynamic `use_backend` may name (those of its mode), when it has one.
    pub by_name: std::collections::HashMap<Box<str>, Arc<Backend>>,
    /// Where sessions go otherwise; None: the frontend has no backend and closes each client.
    pub backend: Option<Arc<Backend>>,
    /// `option http-use-proxy-header`: `auth` answers proxy requests with a 407.
    pub use_proxy_header: bool,
    /// `option abortonclose` (from `defaults`): HTTP/1 client connections are watched for
    /// their close while a request waits, for backends that have it too (as HAProxy's
    /// frontend connections are).
    pub abortonclose: bool,
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
    /// New sessions per second, and `rate-limit sessions`.
    pub sess_rate: clearway_core::rate::Rate,
    pub rate_limit: Option<u32>,
    /// Where its traffic is logged; None: nowhere.
    pub logger: Option<Arc<crate::log::Logger>>,
    /// `unique-id-format` and `unique-id-header`: each request's id, and the header that
    /// takes it to the server.
    pub unique_id: Option<(crate::log::format::Format, Option<http::HeaderName>)>,
    /// It logs each session or request at its end (a format is set): the one test the
    /// request path makes when it does not.
    pub log_requests: bool,
    /// TLS is terminated on (some of) its binds: `%ft` ends with `~`.
    pub tls: bool,
    /// The process-wide connection limit, shared by every frontend: `%ac` in logs.
    pub global_conns: Option<Arc<crate::limit::Limit>>,
    /// The runtime it belongs to, for the pages it answers itself (statistics, metrics);
    /// set once the runtime is built.
    pub runtime: std::sync::OnceLock<std::sync::Weak<Runtime>>,
    /// The last request refused as malformed (`show errors`).
    pub errors: clearway_core::capture::Captures,
    /// The headers its log lines carry (`capture request|response header`).
    pub captures: crate::log::Captures,
    /// Its listening sockets' own statistics (`option socket-stats`; else empty).
    pub listeners: Vec<Arc<clearway_core::ListenerRt>>,
    /// Its sessions in progress (`show sess`), kept when a stats socket can show them.
    pub sessions: Option<Arc<crate::sessions::Sessions>>,
}

impl Frontend {
    /// `global_maxconn` applies when the frontend sets no `maxconn` of its own, as in HAProxy.
    pub fn new(
        cfg: &model::Frontend,
        switching: Vec<(Option<Cond>, Switch)>,
        backend: Option<Arc<Backend>>,
        global_maxconn: u32,
    ) -> Frontend {
        let maxconn = cfg.maxconn.unwrap_or(global_maxconn);
        let switching_reads_payload = switching.iter().any(|(c, to)| {
            c.as_ref().is_some_and(Cond::reads_payload)
                || matches!(to, Switch::Named(t) if t.any_expr(&|f, _| f.reads_request_bytes()))
        });
        Frontend {
            num: cfg.num,
            name: cfg.name.clone(),
            ident: Arc::new(crate::acl::Ident {
                id: cfg.num.uuid,
                name: cfg.name.as_str().into(),
            }),
            mode: cfg.mode,
            timeouts: cfg.timeouts,
            conns: crate::limit::Limit::new(maxconn),
            switching,
            by_name: Default::default(),
            backend,
            http: HttpRules::new(
                &cfg.http,
                (cfg.options.forwardfor.clone(), cfg.options.originalto.clone()),
                &cfg.name,
            )
            .with_options(&cfg.options),
            use_proxy_header: cfg.options.use_proxy_header,
            abortonclose: cfg.options.abortonclose,
            tcp_rules: TcpRules::new(&cfg.tcp_rules),
            switching_reads_payload,
            smart_accept: cfg.smart_accept(false),
            counters: clearway_core::Counters::default(),
            max_sessions: clearway_core::Gauge::default(),
            sess_rate: Default::default(),
            rate_limit: cfg.rate_limit_sessions,
            logger: None,
            unique_id: None,
            log_requests: false,
            tls: cfg.binds.iter().any(|b| b.tls.is_some()),
            global_conns: None,
            runtime: std::sync::OnceLock::new(),
            errors: Default::default(),
            captures: crate::log::Captures::new(&cfg.captures),
            listeners: Vec::new(),
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
        // A log format that names the backend or its timeouts needs the route kept.
        if logger
            .as_ref()
            .is_some_and(|l| l.exprs().iter().any(|e| e.fetch.reads_route()))
        {
            self.http.reads_route = true;
        }
        self.logger = logger.map(Arc::new);
        self
    }

    /// What a client connection counts its bytes into: the frontend's counters, and its
    /// listener's with `option socket-stats`.
    pub fn tally(&self, conn: &ConnSamples) -> crate::counted::Tally {
        let listener = conn.listener.as_ref().map(|l| l.counters.handle());
        crate::counted::Tally::Client(self.counters.handle(), listener)
    }

    /// Counts `field` once on the frontend and, with `option socket-stats`, on the listener
    /// the client came through (HAProxy keeps denials and request errors per listener too).
    pub fn count(&self, conn: &ConnSamples, field: Field) {
        self.counters.inc(field);
        if let Some(l) = &conn.listener {
            l.counters.inc(field);
        }
    }

    /// A session or request refused by a `tcp-request content reject` rule (the frontend's
    /// or its backend's): counted as a denied request on the frontend and its listener, as
    /// HAProxy counts it, and said (at most once a second).
    pub fn content_rejected(&self, conn: &ConnSamples, span: &Span) {
        self.count(conn, Field::DeniedReq);
        crate::log::throttle::throttled!(info, frontend = %self.name, client = %conn.peer, "connection rejected by 'tcp-request content reject' at {span}");
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
    #[inline]
    pub fn choose_backend(&self, s: &dyn Samples) -> Option<&Arc<Backend>> {
        match self.switching.iter().find(|(c, _)| Cond::holds(c, s)).map(|(_, to)| to) {
            Some(Switch::To(b)) => Some(b),
            // A name no backend has: the default backend, as HAProxy does.
            Some(Switch::Named(t)) => self
                .by_name
                .get(crate::acl::render(t, s).as_str())
                .or(self.backend.as_ref()),
            None => self.backend.as_ref(),
        }
    }
}

/// The running configuration's backends by name, for the fetches that read a backend's
/// state (`nbsrv(B)`); weak, so a replaced configuration's go when their sessions end.
static BACKENDS: std::sync::RwLock<Option<Arc<ByName>>> = std::sync::RwLock::new(None);

type ByName = std::collections::HashMap<String, std::sync::Weak<Backend>>;

/// Makes `backends` the ones state fetches find by name.
pub fn install_backends(backends: &[Arc<Backend>]) {
    let map = backends
        .iter()
        .map(|b| (b.rt.name.clone(), Arc::downgrade(b)))
        .collect();
    *BACKENDS.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(map));
}

/// The running configuration's backend of that name.
pub fn backend_named(name: &str) -> Option<Arc<Backend>> {
    BACKENDS
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()?
        .get(name)?
        .upgrade()
}

/// Where a `use_backend` rule sends a request.
#[derive(Debug)]
pub enum Switch {
    To(Arc<Backend>),
    /// A name made per request (`use_backend be_%[...]`).
    Named(clearway_config::rules::Template),
}

/// A backend and the queue of sessions waiting for one of its servers to have a free slot.
#[derive(Debug)]
pub struct Backend {
    /// Its place in `Runtime::backends`.
    pub id: BackendId,
    /// Its place among the proxies and its number (`iid`).
    pub num: model::ProxyNum,
    pub rt: BackendRt,
    pub mode: Mode,
    pub queue: Queue,
    /// Its section as configured, which servers added at run time join.
    pub conf: Arc<model::Backend>,
    /// The backend's health check.
    pub check: Arc<CheckSpec>,
    /// Per server (same index as `rt.servers`): how it is reached, checked and tracked.
    pub sides: clearway_core::AppendOnly<side::ServerSide>,
    /// Layer-7 rules and settings (`mode http`).
    pub http: HttpRules,
    /// `tcp-request content` rules, run once the backend is chosen.
    pub tcp_rules: TcpRules,
    /// `use-server` rules: condition, server.
    pub use_servers: Vec<(Cond, usize)>,
    /// `force-persist` (true) and `ignore-persist` (false) rules, in order.
    pub persist_rules: Vec<(bool, Cond)>,
    /// `cookie`: cookie persistence (`mode http`).
    pub cookie: Option<crate::http::cookie::CookiePersist>,
    /// `stick on|match|store-*` rules.
    pub sticking: crate::stick::Sticking,
    /// `retry-on`: what is retried (up to `retries` times).
    pub retry_on: model::RetryOn,
    /// `option persist`.
    pub persist: bool,
    /// `option checkcache`.
    pub checkcache: bool,
    /// `option abortonclose`: HTTP/1 clients, and `mode tcp` sessions waiting for a server.
    pub abortonclose: bool,
    /// "has no server available!" was logged, and no server came back since: it is said
    /// once per loss, as HAProxy says it.
    pub none_left: std::sync::atomic::AtomicBool,
    /// `disabled`: stopped, without servers, and absent from the statistics.
    pub disabled: bool,
    /// Idle server connections (`mode http`).
    pub pool: Arc<Pool>,
    /// Some server's TLS name comes from the request (`sni req.hdr(host)`).
    pub sni_from_request: bool,
    /// `source ... usesrc hdr_ip(...)`: where requests name their source address.
    pub hdr_ip: Option<crate::http::samples::HdrIp>,
    /// `option tcp-smart-connect`.
    pub smart_connect: bool,
    /// `option srvtcpka` (or `tcpka`): keep-alive probes on server connections.
    pub keepalive: Option<clearway_net::Keepalive>,
    /// The `balance` algorithm.
    pub balance: model::Balance,
    /// `option prefer-last-server`.
    pub prefer_last_server: bool,
    /// `option log-health-checks`.
    pub log_health_checks: bool,
    /// Where its servers' events are logged besides the process's own log (its `log` lines).
    pub events: crate::log::Globals,
}

impl Backend {
    /// The index of its server of that name (a deleted one has none any more).
    pub fn server_index(&self, name: &str) -> Option<usize> {
        self.rt.servers.iter().position(|s| s.name == name && !s.is_deleted())
    }

    /// What the data plane knows of server `i` beyond its live state.
    #[inline]
    pub fn side(&self, i: usize) -> &side::ServerSide {
        &self.sides[i]
    }

    /// Gives back a server slot (to the oldest queued session that can use it, if any).
    pub fn release(&self, server: usize) {
        self.queue.release(&self.rt, server);
    }

    /// How the first `force-persist`/`ignore-persist` rule that holds bends persistence.
    pub fn bent(&self, s: &dyn Samples) -> Bent {
        match self.persist_rules.iter().find(|(_, c)| c.eval(s)) {
            Some((true, _)) => Bent::Forced,
            Some((false, _)) => Bent::Ignored,
            None => Bent::No,
        }
    }

    /// Whether a cookie or a `use-server` rule may send a session to `server`: it is not
    /// stopped, or `option persist` says to use it anyway.
    pub fn takes_persistent(&self, server: usize) -> bool {
        let s = &self.rt.servers[server];
        !s.is_deleted() && (self.persist || s.running())
    }

    /// The server a `use-server` rule assigns to this session, if one does: the first rule
    /// that holds whose server is not stopped (any server with `option persist` or when
    /// persistence is forced), as HAProxy chooses.
    pub fn assigned_server(&self, s: &dyn Samples, bent: Bent) -> Option<Assigned> {
        if self.use_servers.is_empty() {
            return None;
        }
        let forced = bent == Bent::Forced;
        let (_, server) = self
            .use_servers
            .iter()
            .find(|(c, i)| c.eval(s) && (forced || self.takes_persistent(*i)))?;
        Some(Assigned {
            server: *server,
            stays: forced,
        })
    }

    /// After `use-server` (which gave `ruled`), the `stick` rules: the server a `stick
    /// match` finds when nothing assigned one yet (not stopped, unless `option persist` or
    /// `force-persist`), and the keys to store once the server is known.
    #[inline]
    pub fn persistence(
        &self,
        s: &dyn Samples,
        ruled: Option<Assigned>,
        bent: Bent,
    ) -> (Option<Assigned>, crate::stick::Pending) {
        if self.sticking.is_empty() {
            return (ruled, Default::default());
        }
        let forced = bent == Bent::Forced;
        let (found, pending) = self.sticking.on_request(s, &self.rt.servers, ruled.is_some(), |i| {
            forced || self.takes_persistent(i)
        });
        let stuck = found.map(|server| Assigned { server, stays: forced });
        (ruled.or(stuck), pending)
    }

    /// Where an L7 retry (`retry-on`) of a request that went to `last` goes: a new choice of
    /// the balancer with `option redispatch` when the server is stopped, at the last retry, or
    /// for a request no persistence sends there under a round robin over several servers
    /// (as HAProxy redispatches); the same server otherwise.
    pub fn l7_retry(&self, last: usize, assigned: Option<Assigned>, last_retry: bool) -> Option<Assigned> {
        let forced = assigned.is_some_and(|a| a.stays);
        let rr = matches!(self.balance, model::Balance::RoundRobin | model::Balance::StaticRr);
        let active = self.rt.servers.iter().filter(|s| s.usable() && !s.backup).count();
        let anew = self.rt.redispatch
            && !forced
            && (!self.rt.servers[last].running() || last_retry || (assigned.is_none() && rr && active > 1));
        (!anew).then_some(Assigned {
            server: last,
            stays: forced,
        })
    }

    /// What a connection to `server` counts its bytes into.
    pub fn tally(&self, server: usize) -> crate::counted::Tally {
        crate::counted::Tally::Server([self.rt.counters.handle(), self.rt.servers[server].counters.handle()])
    }
}

/// A server a `use-server` rule gave a session: its slot or the line for it, not the
/// balancer's choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Assigned {
    pub server: usize,
    /// A `force-persist` condition held: no redispatch to another server, even at the last
    /// retry.
    pub stays: bool,
}
