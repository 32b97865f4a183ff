//! The validated configuration: plain data that the runtime is built from.
//! Owns no behaviour beyond small accessors; it never touches sockets, DNS or the clock.
//! Every element keeps the `Span` of the line it came from so errors and the admin editor can point at it.

use crate::rules::ErrorFile;
pub use crate::rules::{Condition, HttpConnMode, HttpReuse, HttpRule};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub use crate::span::Span;

mod cache;
mod checks;
mod compression;
mod dns;
mod persist;
mod retry;
mod server;
mod stick;
mod tls;
mod userlist;
mod walk;
pub use cache::*;
pub use checks::*;
pub use compression::*;
pub use dns::*;
pub use persist::*;
pub use retry::*;
pub use server::*;
pub use stick::*;
pub use tls::*;
pub use userlist::*;

/// A whole configuration after defaults were applied and names resolved.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub global: Global,
    /// Frontends in file order; a `listen` section contributes one frontend and one backend of the same name.
    pub frontends: Vec<Frontend>,
    /// Backends in file order.
    pub backends: Vec<Backend>,
    /// `resolvers` sections in file order.
    pub resolvers: Vec<Resolvers>,
    /// `userlist` sections in file order.
    pub userlists: Vec<std::sync::Arc<Userlist>>,
    /// The `cache` sections.
    pub caches: Vec<CacheDef>,
    /// The global TLS defaults, which servers added at run time start from too.
    pub tls_defaults: TlsDefaults,
    /// State fetches named on `acl` lines, used by a rule or not (`acl x srv_sess_rate(b/s)
    /// gt 50`): checked like the others, and their servers kept from `del server`, as in
    /// HAProxy.
    pub acl_line_refs: Vec<(String, Option<String>, Span)>,
}

impl Config {
    pub fn backend(&self, name: &str) -> Option<&Backend> {
        self.backends.iter().find(|b| b.name == name)
    }
    pub fn frontend(&self, name: &str) -> Option<&Frontend> {
        self.frontends.iter().find(|f| f.name == name)
    }
}

#[derive(Debug, Clone, Default)]
pub struct Global {
    /// `set-var` and `set-var-fmt` lines, in order: process variables set at start-up.
    pub set_vars: Vec<(clearway_sample::VarName, crate::rules::VarValue)>,
    /// `maxconn`: process-wide limit of concurrent client connections. None: derived from the fd limit at run time.
    pub maxconn: Option<u32>,
    pub daemon: bool,
    pub pidfile: Option<PathBuf>,
    pub user: Option<String>,
    pub group: Option<String>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub chroot: Option<PathBuf>,
    /// `transparent-setup auto`: install (and later remove) the divert rule and policy routing
    /// that transparent binds and `usesrc` need. Default `manual`: touch nothing.
    pub transparent_setup_auto: bool,
    /// `setcap`: capabilities to keep after switching to `user`/`uid` (lower-case names).
    pub setcap: Vec<String>,
    /// `nbthread`: worker threads. None: one per CPU.
    pub nbthread: Option<usize>,
    /// `cpu-map` lines, in order (a later line for the same thread wins).
    pub cpu_maps: Vec<CpuMap>,
    /// `maxpipes`: kernel pipes for splicing bulk TCP transfers. None: a quarter of maxconn.
    pub maxpipes: Option<usize>,
    /// `nosplice`: always copy through a buffer, never splice.
    pub nosplice: bool,
    /// `busy-polling` (`no busy-polling` undoes it): the event loops poll without ever
    /// sleeping, trading a busy CPU for no wake-up latency.
    pub busy_polling: bool,
    /// `tune.bufsize` (default 16384) and `tune.maxrewrite` (default 1024, at most half the
    /// buffer): a request head larger than their difference is refused, as in HAProxy.
    pub bufsize: Option<u32>,
    pub maxrewrite: Option<u32>,
    /// `tune.http.maxhdr` (default 101): a head may have one field fewer (HAProxy counts the
    /// start line); a request with more is refused, a response with more is a 502.
    pub maxhdr: Option<u16>,
    /// `tune.comp.maxlevel` (default 1): how hard responses are compressed.
    pub comp_maxlevel: Option<u32>,
    /// `external-check`: backends may run programs as health checks.
    pub external_check: bool,
    /// `insecure-fork-wanted`: the process may start programs (HAProxy's external checks
    /// fail without it).
    pub insecure_fork_wanted: bool,
    /// `maxconnrate` / `maxsessrate`: new connections (sessions) per second, process-wide.
    pub maxconnrate: Option<u32>,
    pub maxsessrate: Option<u32>,
    /// `spread-checks`: each check interval varies by up to this percentage (0 to 50).
    pub spread_checks: u32,
    /// `max-spread-checks`: the first checks start within this time, not a whole interval.
    pub max_spread_checks: Option<std::time::Duration>,
    /// `hard-stop-after`: how long a soft stop may wait for sessions in progress before
    /// closing them; None: as long as they last.
    pub hard_stop_after: Option<std::time::Duration>,
    /// `log` lines: where `log global` sends, and the process's own messages.
    pub logs: Vec<LogTarget>,
    /// `log-tag`: the program name in syslog lines (default: the binary's name).
    pub log_tag: Option<String>,
    /// `log-send-hostname [NAME]`: the host name in syslog lines (default: none, as HAProxy).
    pub log_send_hostname: Option<String>,
    /// `stats socket` lines: the runtime API.
    pub stats_sockets: Vec<StatsSocket>,
    /// `stats timeout`: how long a runtime API connection may stay idle (default 10s).
    pub stats_timeout: Option<Duration>,
    /// `stats maxconn`: runtime API connections at once (default 10).
    pub stats_maxconn: Option<u32>,
    /// Global `ssl-*` settings Clearway does not act on (`ssl-engine`, `ssl-mode-async`...):
    /// refused when a bind or server uses TLS, without effect otherwise (decided once every
    /// section is read).
    pub tls_unacted: Vec<(Span, String)>,
}

/// A `cpu-map [auto:]GROUP[/THREADS] CPUS...` line: which CPUs some worker threads may run on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuMap {
    pub span: Span,
    /// `auto:`: the threads take the CPUs one each, in order, instead of all of them each.
    pub auto: bool,
    /// The line names thread group (or process) 1, the only one Clearway has; lines for other
    /// groups are ignored, as HAProxy ignores groups it does not run.
    pub first_group: bool,
    /// Thread numbers, from 1; None: all threads.
    pub threads: Option<NumRange>,
    /// The CPU numbers, from 0: one range per word of the line.
    pub cpus: Vec<NumRange>,
}

/// The highest CPU number a `cpu-map` line may name (the kernel's CPU set size, 1024, minus one).
pub const MAX_CPU: usize = 1023;

/// A number or a range as one word of a `cpu-map` line writes it (`3`, `0-3`, `2-`: up to the
/// highest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumRange {
    pub from: usize,
    /// None: up to the highest.
    pub to: Option<usize>,
}

impl NumRange {
    /// The numbers in order, an open range ending at `max`.
    pub fn expand(&self, max: usize) -> Vec<usize> {
        (self.from..=self.to.unwrap_or(max)).collect()
    }
}

/// A `log` line: where log lines go and which of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogTarget {
    pub span: Span,
    pub dest: LogDest,
    /// `len`: lines are cut to this many bytes (default 1024).
    pub len: Option<usize>,
    pub format: SyslogFormat,
    /// The syslog facility's code (`local0` is 16).
    pub facility: u8,
    /// Lines above this level (a higher code: less severe) are not sent (default: all).
    pub level: u8,
    /// Lines below this level are sent at this level instead (default: emerg, no change).
    pub minlevel: u8,
    /// `sample RANGES:SIZE`: of each SIZE lines in turn, only those whose number (from 1)
    /// falls in a range are sent here (spreading lines over several targets).
    pub sample: Option<LogSample>,
}

/// A `log` line's `sample`: inclusive ranges of line numbers, and the cycle's size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSample {
    pub ranges: Vec<(u32, u32)>,
    pub size: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogDest {
    Udp(SocketAddr),
    Tcp(SocketAddr),
    /// A UNIX datagram socket, such as `/dev/log`.
    Unix(PathBuf),
    Stdout,
    Stderr,
}

/// How a line is framed for its target (`format` on the `log` line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyslogFormat {
    Rfc3164,
    Rfc5424,
    /// `<PRI>` and the message.
    Short,
    /// The message alone.
    Raw,
    /// `<PRI>` and the message (HAProxy's `priority`).
    Priority,
    /// `<PRI>`, a timestamp, the message.
    Timed,
    /// An ISO 8601 timestamp and the message.
    Iso,
    /// `<PRI>`, a local time, the message.
    Local,
}

/// A proxy's `log` line: one of its own, or `log global`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyLog {
    Global(Span),
    Target(LogTarget),
}

/// A `stats socket` line: where the runtime API listens, and who may use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsSocket {
    pub span: Span,
    pub address: StatsAddr,
    /// `level`; default `operator`, as HAProxy.
    pub level: StatsLevel,
    /// `mode`: the socket file's permissions (octal); None: as the umask leaves them.
    pub mode: Option<u32>,
    /// `uid`/`gid`/`user`/`group`: the socket file's owner.
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub user: Option<String>,
    pub group: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatsAddr {
    /// A UNIX stream socket at this path.
    Unix(PathBuf),
    /// A TCP socket.
    Tcp(SocketAddr),
    /// `fd@N`: a listening TCP socket the process inherited (systemd, a test harness).
    Fd(i32),
}

/// What a stats socket's clients may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum StatsLevel {
    User,
    Operator,
    Admin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Tcp,
    Http,
}

/// Timeouts of a proxy. `None` means not set (infinite), as in HAProxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Timeouts {
    pub connect: Option<Duration>,
    pub client: Option<Duration>,
    pub server: Option<Duration>,
    /// `timeout queue`; when unset HAProxy uses `timeout connect` (see [`Timeouts::queue_or_connect`]).
    pub queue: Option<Duration>,
    pub tunnel: Option<Duration>,
    pub client_fin: Option<Duration>,
    pub server_fin: Option<Duration>,
    pub check: Option<Duration>,
    pub http_request: Option<Duration>,
    pub http_keep_alive: Option<Duration>,
    /// How long `http-request tarpit` holds a request (else `timeout connect`).
    pub tarpit: Option<Duration>,
}

impl Timeouts {
    /// The time a session may wait in a queue: `timeout queue`, else `timeout connect`, as HAProxy does.
    pub fn queue_or_connect(&self) -> Option<Duration> {
        self.queue.or(self.connect)
    }
}

/// A listening address produced by a `bind` line (port ranges and address lists are expanded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    pub span: Span,
    /// The address as written on the line, for messages.
    pub text: String,
    /// One socket address per listener to open.
    pub addrs: Vec<SocketAddr>,
    /// `fd@N`: listening sockets the process inherited, by descriptor number.
    pub fds: Vec<i32>,
    pub name: Option<String>,
    /// `id N`: the listener's number in the statistics (`sid`), for a single-socket bind.
    pub id: Option<u32>,
    /// `transparent`: IP_TRANSPARENT / IPV6_TRANSPARENT, to accept connections for addresses not on this host.
    pub transparent: bool,
    /// `freebind`: IP_FREEBIND, to bind an address that is not (yet) configured.
    pub freebind: bool,
    /// `v4v6`: an IPv6 wildcard also accepts IPv4.
    pub v4v6: bool,
    /// `v6only`: an IPv6 wildcard accepts only IPv6.
    pub v6only: bool,
    /// `interface NAME`: SO_BINDTODEVICE.
    pub interface: Option<String>,
    /// `maxconn` on the bind line: limit for this listener only.
    pub maxconn: Option<u32>,
    /// `backlog` on the bind line.
    pub backlog: Option<u32>,
    /// `ssl crt ...`: TLS is terminated on this listener.
    pub tls: Option<BindTls>,
    /// `proto h2`: clients speak HTTP/2 from the first byte.
    pub proto_h2: bool,
    /// `defer-accept`: TCP_DEFER_ACCEPT, a connection is only accepted once the client has
    /// sent something (or the kernel gives up waiting, after about a second).
    pub defer_accept: bool,
    /// `accept-proxy`: every connection starts with a PROXY protocol header (version 1 or 2)
    /// whose addresses become the session's.
    pub accept_proxy: bool,
}

/// Which backend a frontend hands a session to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UseBackend {
    pub span: Span,
    pub backend: String,
    /// A name with `%[...]` (`use_backend be_%[req.hdr(host),lower]`): made per request;
    /// a name no backend has sends the request to the default backend.
    pub dynamic: Option<crate::rules::Template>,
    /// None: unconditional.
    pub condition: Option<Condition>,
}

/// A `use-server` rule.
#[derive(Debug, Clone)]
pub struct UseServer {
    pub span: Span,
    /// The server's place in the backend's `servers`.
    pub server: usize,
    pub condition: Condition,
}

/// Where a proxy stands among the proxy sections: its place in the file and its number
/// (`iid` in the statistics; `id N`, else HAProxy's automatic numbering, which counts
/// disabled proxies too).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProxyNum {
    pub seq: u32,
    pub uuid: u32,
}

#[derive(Debug, Clone)]
pub struct Frontend {
    pub num: ProxyNum,
    pub name: String,
    pub span: Span,
    /// True for the frontend half of a `listen` section.
    pub from_listen: bool,
    pub mode: Mode,
    pub binds: Vec<Bind>,
    /// Concurrent client connections accepted by this frontend; None: the global `maxconn`.
    pub maxconn: Option<u32>,
    /// `rate-limit sessions N`: at most N new sessions per second; beyond, clients wait in
    /// the kernel's backlog.
    pub rate_limit_sessions: Option<u32>,
    /// `backlog`: the listen backlog of its binds that set none.
    pub backlog: Option<u32>,
    pub default_backend: Option<String>,
    /// The line of `default_backend` (None when implied by a `listen` section).
    pub default_backend_span: Option<Span>,
    pub use_backends: Vec<UseBackend>,
    pub timeouts: Timeouts,
    pub options: ProxyOptions,
    /// `log` lines, `log global` among them (the runtime expands it to the global lines).
    pub logs: Vec<ProxyLog>,
    /// `log-format`, as written (its variables are read by the data plane).
    pub log_format: Option<(String, Span)>,
    /// `stick-table`: the table this proxy keeps, named after it.
    pub stick_table: Option<StickTable>,
    /// `unique-id-format`: the format of each request's unique id (`%ID`, `unique-id`);
    /// `unique-id-header`: the request header that carries it to the server.
    pub unique_id_format: Option<(String, Span)>,
    pub unique_id_header: Option<String>,
    /// `log-tag` of this proxy (else the global one).
    pub log_tag: Option<String>,
    /// `capture request|response header`: header values its log lines carry.
    pub captures: Captures,
    pub http: HttpSettings,
    pub tcp_rules: crate::rules::TcpRules,
}

/// `capture request header NAME len N` and `capture response header NAME len N`, in the
/// order written: the last value of each header, cut to N bytes, goes to the log (`%hr`,
/// `%hs`). `capture cookie PREFIX len N`: the first cookie whose `name=value` text starts
/// with PREFIX, in the request and in the response (`%CC`, `%CS`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captures {
    pub request: Vec<(String, usize)>,
    pub response: Vec<(String, usize)>,
    pub cookie: Option<(String, usize)>,
}

impl Frontend {
    /// Whether connections accepted on a bind (`tls`: with `ssl`) start with delayed
    /// acknowledgements (`option tcp-smart-accept`): as written, else in `mode http` and on
    /// TLS binds, as HAProxy decides.
    pub fn smart_accept(&self, tls: bool) -> bool {
        self.options.smart_accept.unwrap_or(self.mode == Mode::Http || tls)
    }
}

/// The layer-7 settings of one proxy half (frontend or backend), used in `mode http`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpSettings {
    /// `http-request` rules, in order.
    pub request_rules: Vec<HttpRule>,
    /// `http-response` rules, in order.
    pub response_rules: Vec<HttpRule>,
    /// `http-after-response` rules, in order: on every response, the proxy's own too.
    pub after_response_rules: Vec<HttpRule>,
    /// `redirect` rules, evaluated after the `http-request` rules.
    pub redirects: Vec<HttpRule>,
    pub errorfiles: Vec<ErrorFile>,
    /// `option http-keep-alive` (default), `http-server-close` or `httpclose`.
    pub conn_mode: HttpConnMode,
    /// `http-reuse` (backends).
    pub reuse: HttpReuse,
    /// `stats ...`: the statistics page this proxy half answers itself; None: no page.
    pub stats: Option<StatsPage>,
    /// `monitor-uri`: requests for exactly this URI (its path and query, when it starts with
    /// `/`) are answered 200 by the frontend itself, before any rule, and not logged.
    pub monitor_uri: Option<String>,
    /// `monitor fail if|unless COND`: the monitor URI answers 503 when one holds.
    pub monitor_fail: Vec<Condition>,
    /// `compression ...`: responses compressed for clients that accept it.
    pub compression: Option<Compression>,
}

/// A proxy's statistics page (`stats enable`, `stats uri`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsPage {
    /// The first `stats` line.
    pub span: Span,
    /// Requests whose path (or whole target, when the prefix does not start with `/`)
    /// starts with this get the page (`stats uri`, default `/haproxy?stats`).
    pub uri: String,
    /// `stats realm`: the Basic authentication realm (default "HAProxy Statistics").
    pub realm: Option<String>,
    /// `stats auth USER:PASSWORD`: when any, only these users see the page.
    pub users: Vec<(String, String)>,
    /// `stats refresh`: how often the HTML page asks the browser to reload it.
    pub refresh: Option<std::time::Duration>,
    /// `stats admin if|unless COND`: the page may change servers when one holds.
    pub admin: Vec<Condition>,
    pub hide_version: bool,
    pub show_legends: bool,
    /// `stats show-node [NAME]`: Some(None) shows the host's name.
    pub show_node: Option<Option<String>>,
    /// `stats show-desc [TEXT]`.
    pub show_desc: Option<Option<String>>,
    /// `stats scope`: the only proxies shown, when any.
    pub scope: Vec<String>,
    /// `stats http-request` rules, in order: the first whose condition holds decides.
    pub access: Vec<StatsAccess>,
}

/// One `stats http-request` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsAccess {
    pub span: Span,
    pub kind: StatsAccessKind,
    pub condition: Option<Condition>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatsAccessKind {
    Allow,
    Deny,
    /// Ask for a user and password (a 401), in this realm.
    Auth {
        realm: Option<String>,
    },
}

/// `balance` algorithms.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Balance {
    /// Weighted round-robin, weights may change at run time (smooth interleaving).
    #[default]
    RoundRobin,
    /// Weighted round-robin with weights fixed at start-up.
    StaticRr,
    /// Fewest active connections relative to weight, round-robin among ties.
    LeastConn,
    /// Hash of the client's IP address over the servers' weights.
    Source,
    /// First server (by id order) with a free connection slot.
    First,
    /// `random[(draws)]`: the least loaded of `draws` servers drawn at random by weight.
    Random { draws: u32 },
    /// `uri [whole] [len N] [depth N] [path-only]`: a hash of the request target, up to the
    /// `?` unless `whole`, its first `len` bytes, up to its `depth`-th slash.
    Uri {
        whole: bool,
        len: Option<u32>,
        depth: Option<u32>,
        path_only: bool,
    },
    /// `url_param NAME`: a hash of that query parameter's value; round robin without one.
    UrlParam { name: String },
    /// `hdr(NAME) [use_domain_only]`: a hash of that header's value (its domain's main label
    /// only with `use_domain_only`); round robin without one.
    Hdr { name: String, domain_only: bool },
}

impl Balance {
    /// Whether the choice hashes a part of each HTTP request.
    pub fn hashes_request(&self) -> bool {
        matches!(
            self,
            Balance::Uri { .. } | Balance::UrlParam { .. } | Balance::Hdr { .. }
        )
    }
}

/// `hash-type`: how a hash-based algorithm (`balance source`) maps a hash to a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HashType {
    /// `map-based` (HAProxy's default): smooth over the weights; when the set of servers
    /// changes, most clients move.
    #[default]
    MapBased,
    /// `consistent`: when a server goes down or comes back, only its own clients move.
    Consistent,
}

#[derive(Debug, Clone)]
pub struct Backend {
    pub num: ProxyNum,
    pub name: String,
    pub span: Span,
    /// True for the backend half of a `listen` section.
    pub from_listen: bool,
    pub mode: Mode,
    pub balance: Balance,
    /// `hash-type`: used by `balance source`.
    pub hash_type: HashType,
    /// `log` lines: where its servers' state changes and health checks are logged, as
    /// HAProxy does (`log global` stands for the global lines).
    pub logs: Vec<ProxyLog>,
    /// `log-tag` of this proxy (else the global one).
    pub log_tag: Option<String>,
    pub servers: Vec<Server>,
    /// The backend-wide `source`, as written (servers already carry the effective one).
    pub source: Option<Source>,
    /// `retries`: connection attempts after the first one fails. Default 3.
    pub retries: u32,
    /// `retry-on`: what is retried.
    pub retry_on: RetryOn,
    /// `option redispatch`: the last retry may go to another server.
    pub redispatch: bool,
    /// `disabled`: a stopped backend, kept so that frontends naming it still load; it has
    /// no server (its clients get a 503 or are closed) and no statistics rows, as in HAProxy.
    pub disabled: bool,
    /// `fullconn`: how many sessions make the backend "full", when servers with `minconn`
    /// reach their `maxconn`. None: 10% of the `maxconn` of the frontends that may use it,
    /// worked out at start-up as HAProxy does.
    pub fullconn: Option<u32>,
    pub timeouts: Timeouts,
    pub options: ProxyOptions,
    pub http: HttpSettings,
    /// `use-server NAME if|unless COND`, in order: the first whose condition holds and whose
    /// server is not stopped assigns the session's server.
    pub use_servers: Vec<UseServer>,
    /// `force-persist`/`ignore-persist if|unless COND`, in order: the first that holds
    /// decides. Forced, the server a cookie or a `use-server` rule names is used even when
    /// down or in maintenance, and the last retry stays on it; ignored, cookies are neither
    /// read nor inserted.
    pub persist_rules: Vec<PersistRule>,
    /// `stick-table`: the table this proxy keeps, named after it.
    pub stick_table: Option<StickTable>,
    /// `stick on|match|store-*` rules, in order.
    pub stick_rules: Vec<StickRule>,
    /// `cookie NAME ...`: cookie persistence (`mode http` only, as in HAProxy).
    pub cookie: Option<CookiePersist>,
    /// `tcp-request inspect-delay` and `tcp-request content` rules of a backend (evaluated
    /// once it is chosen; a `listen` section's are its frontend's, so empty here).
    pub tcp_rules: crate::rules::TcpRules,
}

impl Backend {
    /// Each server's number: its `id`, else the lowest number no other server has yet, in
    /// the order of the lines, as HAProxy numbers them.
    pub fn server_ids(&self) -> Vec<u32> {
        let fixed: Vec<u32> = self.servers.iter().filter_map(|s| s.id).collect();
        let mut next = 0;
        let mut taken = Vec::new();
        self.servers
            .iter()
            .map(|s| {
                s.id.unwrap_or_else(|| {
                    next += 1;
                    while fixed.contains(&next) || taken.contains(&next) {
                        next += 1;
                    }
                    taken.push(next);
                    next
                })
            })
            .collect()
    }
}

/// `option` settings that are known; most are parsed-only until their issue lands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyOptions {
    pub tcplog: bool,
    pub httplog: bool,
    /// `option httpslog`: the HTTP format with the TLS handshake's outcome (`httplog` is set too).
    pub httpslog: bool,
    pub dontlognull: bool,
    /// `option dontlog-normal`: only sessions and requests that went wrong are logged.
    pub dontlog_normal: bool,
    /// `option log-separate-errors`: those that went wrong are logged at `err`, not `info`.
    pub log_separate_errors: bool,
    /// `option log-health-checks`: every change of a server's check result or health.
    pub log_health_checks: bool,
    /// `option socket-stats`: statistics per listening socket too (frontends).
    pub socket_stats: bool,
    pub http_server_close: bool,
    pub allbackups: bool,
    /// `option persist`: the server a cookie or a `use-server` rule names is used even
    /// when it is down.
    pub persist: bool,
    /// `option http-use-proxy-header`: a request whose target is not a path (a proxy
    /// request) is asked for credentials with a 407 and `Proxy-Authenticate`.
    pub use_proxy_header: bool,
    /// `option transparent`: a backend without servers (and without `balance` or
    /// `dispatch`) connects each session to the address its client was going to.
    pub transparent: bool,
    /// `option checkcache`: a response a shared cache could keep that sets a cookie is
    /// refused (502) and logged, so no cache hands one client's cookie to others.
    pub checkcache: bool,
    /// `option http-buffer-request`: the request rules wait for the body (whole, or a
    /// buffer's worth) within `timeout http-request`, so that they can read it (`req.body`).
    pub buffer_request: bool,
    /// `option http-restrict-req-hdr-names`: what becomes of request header names with
    /// characters other than letters, digits and `-`, after this proxy's request rules.
    pub restrict_hdr_names: HdrNames,
    /// `option abortonclose`: a request whose client closes its side while it waits (in
    /// the queue, for a connection, for the response) is dropped, logged `CQ`, `CC`, `CH`.
    pub abortonclose: bool,
    /// `option prefer-last-server`: a client connection's requests go to the server of its
    /// last one when it has room (not with a hash-based `balance`).
    pub prefer_last_server: bool,
    /// `option tcp-smart-accept` (Some(true)) or `no option tcp-smart-accept` (Some(false));
    /// None: on for `mode http` and TLS binds, off otherwise, as in HAProxy.
    pub smart_accept: Option<bool>,
    /// `option tcp-smart-connect`: a server connection's handshake ends without an ACK of
    /// its own when the client's first bytes are there to carry it. Off by default, as in
    /// HAProxy.
    pub smart_connect: bool,
    /// `option forwardfor`: (except network, header name, if-none) as written.
    pub forwardfor: Option<ForwardFor>,
    /// `option originalto [except NET] [header NAME]`: the address the client reached, to
    /// the server (`X-Original-To`); `if_none` is never set.
    pub originalto: Option<ForwardFor>,
    /// How servers with `check` are checked (`option httpchk`, ...; plain connect by default).
    pub check: CheckKind,
    /// `http-check connect|send|expect` rules, in order.
    pub http_check: Vec<HttpCheckRule>,
    /// `http-check disable-on-404`: a 404 from a server that is up stops new traffic to it
    /// (`NOLB`) without marking it down.
    pub disable_on_404: bool,
    /// `http-check send-state`: checks carry `X-Haproxy-Server-State`.
    pub send_state: bool,
    /// `tcp-check` rules, in order (used with `option tcp-check`).
    pub tcp_check: Vec<TcpCheckRule>,
    /// `external-check command` and `external-check path`.
    pub external_command: Option<String>,
    pub external_path: Option<String>,
    /// `http-check` and `tcp-check` rules not acted on yet, kept as written.
    pub check_rules: Vec<(Span, Vec<String>)>,
    /// `option clitcpka` (or `tcpka` in a proxy with a frontend side): TCP keep-alive on client
    /// connections, with `clitcpka-idle|intvl|cnt`.
    pub clitcpka: bool,
    pub clitcpka_timers: TcpKa,
    /// `option srvtcpka` (or `tcpka` in a proxy with a backend side): on server connections,
    /// with `srvtcpka-idle|intvl|cnt`.
    pub srvtcpka: bool,
    pub srvtcpka_timers: TcpKa,
}

/// TCP keep-alive timers (`clitcpka-idle`, `-intvl`, `-cnt` and their `srvtcpka` twins);
/// None keeps the system's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcpKa {
    pub idle: Option<Duration>,
    pub intvl: Option<Duration>,
    pub cnt: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ForwardFor {
    pub except: Option<String>,
    pub header: Option<String>,
    pub if_none: bool,
}

impl Global {
    /// The largest request head accepted: `tune.bufsize` less `tune.maxrewrite` (at most half
    /// the buffer), 15360 bytes by default, as in HAProxy.
    pub fn max_request_head(&self) -> usize {
        let buf = self.bufsize.unwrap_or(16384);
        let rewrite = self.maxrewrite.unwrap_or(1024).min(buf / 2);
        (buf - rewrite) as usize
    }
}

/// `option http-restrict-req-hdr-names`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HdrNames {
    /// Kept as they are (the default).
    #[default]
    Preserve,
    /// Such header fields are removed.
    Delete,
    /// A request with one is refused (403).
    Reject,
}
