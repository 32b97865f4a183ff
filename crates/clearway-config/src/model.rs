//! The validated configuration: plain data that the runtime is built from.
//! Owns no behaviour beyond small accessors; it never touches sockets, DNS or the clock.
//! Every element keeps the `Span` of the line it came from so errors and the admin editor can point at it.

use crate::rules::ErrorFile;
pub use crate::rules::{Condition, HttpConnMode, HttpReuse, HttpRule};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

pub use crate::span::Span;

/// A whole configuration after defaults were applied and names resolved.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub global: Global,
    /// Frontends in file order; a `listen` section contributes one frontend and one backend of the same name.
    pub frontends: Vec<Frontend>,
    /// Backends in file order.
    pub backends: Vec<Backend>,
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
    /// TLS settings Clearway does not act on (`ssl-default-bind-ciphers`, `crt-base`, ...),
    /// with the side they concern ('B' binds, 'S' servers, 'A' both): refused when that side
    /// uses TLS, without effect otherwise (decided once every section is read).
    pub tls_unacted: Vec<(Span, String, char)>,
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

/// TLS versions Clearway speaks (rustls has no TLS 1.0 or 1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    Tls12,
    Tls13,
}

/// `bind ... ssl crt FILE|DIR [crt ...] [alpn LIST] [ssl-min-ver V] [ssl-max-ver V]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BindTls {
    /// PEM files, each with a certificate chain and its private key, in order; a directory
    /// given with `crt` contributes its files in name order. The first is the default when
    /// no certificate matches the client's SNI.
    pub crts: Vec<PathBuf>,
    /// ALPN protocols offered, e.g. `["h2", "http/1.1"]`; empty: none (the runtime offers
    /// `h2,http/1.1` on `mode http` frontends, as HAProxy 2.8 does).
    pub alpn: Vec<String>,
    pub min_ver: Option<TlsVersion>,
    pub max_ver: Option<TlsVersion>,
}

/// What a server connection's SNI is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sni {
    /// `sni str(NAME)`.
    Fixed(String),
    /// `sni req.hdr(host)`, `sni ssl_fc_sni`...: taken from each request (the port of a Host
    /// header dropped); connections are reused only for the same name.
    Fetch(crate::rules::Fetch),
}

/// `server ... ssl [verify none|required] [ca-file F] [sni str(NAME)] [verifyhost NAME] [alpn LIST]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerTls {
    /// `verify required` (the default): the server's certificate must chain to `ca_file`.
    pub verify: bool,
    pub ca_file: Option<PathBuf>,
    /// The SNI sent (`sni EXPR`).
    pub sni: Option<Sni>,
    /// The name the certificate must be valid for (`verifyhost`, else the SNI); None: the
    /// chain is checked but not the name, as HAProxy does.
    pub verifyhost: Option<String>,
    pub alpn: Vec<String>,
}

/// Which backend a frontend hands a session to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UseBackend {
    pub span: Span,
    pub backend: String,
    /// None: unconditional.
    pub condition: Option<Condition>,
}

#[derive(Debug, Clone)]
pub struct Frontend {
    pub name: String,
    pub span: Span,
    /// True for the frontend half of a `listen` section.
    pub from_listen: bool,
    pub mode: Mode,
    pub binds: Vec<Bind>,
    /// Concurrent client connections accepted by this frontend; None: the global `maxconn`.
    pub maxconn: Option<u32>,
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
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

/// `usesrc` of a `source` directive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UseSrc {
    /// `usesrc client`: the client's address and port.
    Client,
    /// `usesrc clientip`: the client's address, a port chosen by the kernel.
    ClientIp,
    /// `usesrc ADDR[:PORT]`: a fixed, possibly foreign, address.
    Addr(SocketAddr),
    /// `usesrc hdr_ip(HDR[,OCC]) [if|unless COND]` (mode http): the address in a request
    /// header, e.g. the client address an offloader in front wrote in X-Forwarded-For. Only
    /// requests from clients matching `trust` may choose it (a Clearway addition: without it
    /// no client may); otherwise, or when the header holds no address, the connection comes
    /// from this host's own address, as HAProxy does when the header is missing.
    HdrIp {
        /// Lower-case header name.
        header: String,
        /// Which value: 1 the first, -1 the last (default), -2 the one before...
        occ: i32,
        trust: Option<Condition>,
    },
}

/// A `source` directive (backend-wide or on a `server` line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub span: Span,
    /// The local address to bind before connecting. Port 0: kernel-chosen.
    pub addr: SocketAddr,
    /// Optional inclusive source port range `ADDR:LOW-HIGH`.
    pub port_range: Option<(u16, u16)>,
    pub usesrc: Option<UseSrc>,
    /// `interface NAME`: SO_BINDTODEVICE on the server connection.
    pub interface: Option<String>,
}

impl Source {
    /// True when the connection's source is not an address of this host (needs IP_TRANSPARENT).
    pub fn is_transparent(&self) -> bool {
        self.usesrc.is_some()
    }
}

/// Host part of a server address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Ip(IpAddr),
    /// A name to resolve at start-up.
    Name(String),
}

/// Port part of a server address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerPort {
    /// No port written: the port the client connected to.
    SameAsClient,
    Fixed(u16),
    /// `+N` / `-N`: offset from the port the client connected to.
    Offset(i32),
}

/// Health-check parameters of a `server` line. Parsed now, acted on by the health-check issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckParams {
    pub enabled: bool,
    pub inter: Duration,
    pub fastinter: Option<Duration>,
    pub downinter: Option<Duration>,
    pub rise: u32,
    pub fall: u32,
    pub port: Option<u16>,
    pub addr: Option<IpAddr>,
    /// The return-path probe of servers reached with `usesrc`.
    pub return_path: ReturnPathProbe,
    /// `check-send-proxy`: checks start with a PROXY protocol header even when they go to
    /// their own `port` or `addr` (a `send-proxy*` server's checks to its own address always do).
    pub send_proxy: bool,
}

/// Where the return-path probe of a transparent server connects from (server keyword
/// `check-transparent-source auto|off|ADDR`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReturnPathProbe {
    /// From the last client address seen by the backend (or the fixed `usesrc ADDR`).
    #[default]
    Auto,
    /// No probe.
    Off,
    /// From this client-side address.
    From(IpAddr),
}

impl Default for CheckParams {
    fn default() -> Self {
        CheckParams {
            enabled: false,
            inter: Duration::from_secs(2),
            fastinter: None,
            downinter: None,
            rise: 2,
            fall: 3,
            port: None,
            addr: None,
            return_path: ReturnPathProbe::Auto,
            send_proxy: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    pub name: String,
    pub span: Span,
    pub host: Host,
    pub port: ServerPort,
    /// 0..=256, default 1.
    pub weight: u32,
    /// Concurrent connections to this server; 0 means unlimited.
    pub maxconn: u32,
    /// `maxqueue`: sessions that may wait for this server in particular (balance by hash or
    /// source, retries); beyond it they are refused with 503. 0 means unlimited.
    pub maxqueue: u32,
    /// `slowstart`: after checks bring the server back up, its weight (with a dynamic
    /// algorithm) and its maxconn grow from 1 to their values over this time.
    pub slowstart: Option<std::time::Duration>,
    pub backup: bool,
    pub disabled: bool,
    /// `on-marked-down shutdown-sessions`: its sessions are closed when checks take it down.
    pub on_marked_down_shutdown: bool,
    /// `on-marked-up shutdown-backup-sessions`: when checks bring it up, the sessions on the
    /// backend's backup servers are closed, so clients come back to it.
    pub on_marked_up_shutdown_backups: bool,
    /// The server's own `source`, else the backend's (already applied during resolution).
    pub source: Option<Source>,
    pub check: CheckParams,
    /// `ssl`: connections to this server use TLS, with `tls`.
    pub ssl: bool,
    /// `proto h2`: HTTP/2 from the first byte (else HTTP/2 only when TLS ALPN picks `h2`).
    pub proto_h2: bool,
    /// TLS parameters (kept without `ssl` too, as `default-server` may set them for later lines).
    pub tls: ServerTls,
    /// How many idle connections to this server are kept for reuse (`mode http`).
    pub pool: IdlePool,
    /// `send-proxy*`: each connection starts with a PROXY protocol header.
    pub send_proxy: SendProxy,
}

/// `send-proxy`, `send-proxy-v2`, `send-proxy-v2-ssl[-cn]` and `proxy-v2-options`: the PROXY
/// protocol header a server receives first, saying whose connection it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SendProxy {
    /// `send-proxy`: version 1 (text).
    pub v1: bool,
    /// `send-proxy-v2`: version 2 (binary, with TLVs); wins over `v1` when both are set.
    pub v2: bool,
    /// The SSL TLV: whether the client spoke TLS, its version (`ssl`, `send-proxy-v2-ssl`).
    pub v2_ssl: bool,
    /// The client certificate's CN in the SSL TLV (`cert-cn`, `send-proxy-v2-ssl-cn`):
    /// Clearway asks clients for no certificate, so none is ever sent.
    pub v2_ssl_cn: bool,
    /// The cipher in the SSL TLV (`ssl-cipher`).
    pub v2_ssl_cipher: bool,
    /// The name the client asked for, from its SNI or a received header (`authority`).
    pub v2_authority: bool,
    /// A CRC32C checksum of the header (`crc32c`).
    pub v2_crc32c: bool,
}

impl SendProxy {
    pub fn on(&self) -> bool {
        self.v1 || self.v2
    }
}

/// `pool-max-conn`, `pool-low-conn` and `pool-purge-delay`: the idle connections kept open
/// to one server for later requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdlePool {
    /// `pool-max-conn`: at most this many idle; None (`-1`, the default) for no cap of the
    /// server's own (the process-wide connection limit still holds).
    pub max_conn: Option<u32>,
    /// `pool-low-conn`: idle connections kept beyond the estimated need, so that each thread
    /// has some of its own. Default 0.
    pub low_conn: u32,
    /// `pool-purge-delay`: how often the surplus over the estimated need is halved; 0 keeps
    /// no idle connection. Default 5 s.
    pub purge_delay: Duration,
}

impl Default for IdlePool {
    fn default() -> Self {
        IdlePool {
            max_conn: None,
            low_conn: 0,
            purge_delay: Duration::from_secs(5),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Backend {
    pub name: String,
    pub span: Span,
    /// True for the backend half of a `listen` section.
    pub from_listen: bool,
    pub mode: Mode,
    pub balance: Balance,
    /// `hash-type`: used by `balance source`.
    pub hash_type: HashType,
    pub servers: Vec<Server>,
    /// The backend-wide `source`, as written (servers already carry the effective one).
    pub source: Option<Source>,
    /// `retries`: connection attempts after the first one fails. Default 3.
    pub retries: u32,
    /// `option redispatch`: the last retry may go to another server.
    pub redispatch: bool,
    pub timeouts: Timeouts,
    pub options: ProxyOptions,
    pub http: HttpSettings,
    /// `tcp-request inspect-delay` and `tcp-request content` rules of a backend (evaluated
    /// once it is chosen; a `listen` section's are its frontend's, so empty here).
    pub tcp_rules: crate::rules::TcpRules,
}

/// `option` settings that are known; most are parsed-only until their issue lands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyOptions {
    pub tcplog: bool,
    pub httplog: bool,
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
    /// `option tcp-smart-accept` (Some(true)) or `no option tcp-smart-accept` (Some(false));
    /// None: on for `mode http` and TLS binds, off otherwise, as in HAProxy.
    pub smart_accept: Option<bool>,
    /// `option tcp-smart-connect`: a server connection's handshake ends without an ACK of
    /// its own when the client's first bytes are there to carry it. Off by default, as in
    /// HAProxy.
    pub smart_connect: bool,
    /// `option forwardfor`: (except network, header name, if-none) as written.
    pub forwardfor: Option<ForwardFor>,
    /// How servers with `check` are checked (`option httpchk`, ...; plain connect by default).
    pub check: CheckKind,
    /// `http-check expect` rules, all of which must hold.
    pub http_expect: Vec<HttpExpect>,
    /// `tcp-check` rules, in order (used with `option tcp-check`).
    pub tcp_check: Vec<TcpCheckRule>,
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

/// The kind of health check a backend runs on its servers with `check`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CheckKind {
    /// A TCP connection that opens is a success.
    #[default]
    Connect,
    /// `option httpchk`: an HTTP request; 2xx and 3xx pass unless `http-check expect` says otherwise.
    Http(HttpCheck),
    /// `option mysql-check [user NAME [post-41|pre-41]]`: reads the server's greeting; with a
    /// user, also logs in without a password and quits.
    Mysql { user: Option<String>, post41: bool },
    /// `option pgsql-check user NAME`: a StartupMessage answered by an authentication request.
    Pgsql { user: String },
    /// `option redis-check`: PING answered by +PONG.
    Redis,
    /// `option ssl-hello-chk`: a TLS ClientHello answered by a TLS record.
    SslHello,
    /// `option tcp-check` with its `tcp-check` rules (none: a plain connect).
    TcpCheck(Vec<TcpCheckRule>),
    /// A check option that is parsed but not implemented yet (`ldap-check`, ...): checks are
    /// run as plain connects meanwhile.
    Unimplemented { option: String, args: Vec<String> },
}

/// One `tcp-check` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TcpCheckRule {
    /// `tcp-check connect [port N] [linger]`: (re)connect, to another port if given.
    /// `linger`: the connection is closed with a FIN when let go, not reset.
    Connect { port: Option<u16>, linger: bool },
    /// `tcp-check send STRING` / `send-binary HEX`.
    Send(Vec<u8>),
    /// `tcp-check expect [!] string STRING | binary HEX | rstring REGEX`.
    Expect { negate: bool, matcher: TcpExpect },
}

/// What a `tcp-check expect` looks for in the bytes received so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TcpExpect {
    /// These bytes (`string` or `binary`).
    Bytes(Vec<u8>),
    /// A regular expression (`rstring`), validated when the config was read.
    Regex(String),
}

/// `option httpchk [METHOD] [URI] [VERSION]`, with HAProxy's defaults `OPTIONS / HTTP/1.0`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpCheck {
    pub method: String,
    pub uri: String,
    /// The version as written; HAProxy users append headers to it (`HTTP/1.1\r\nHost:\ x`).
    pub version: String,
}

impl Default for HttpCheck {
    fn default() -> Self {
        HttpCheck {
            method: "OPTIONS".into(),
            uri: "/".into(),
            version: "HTTP/1.0".into(),
        }
    }
}

/// One `http-check expect [!] status|string ...` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpExpect {
    pub span: Span,
    pub negate: bool,
    pub matcher: ExpectMatch,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpectMatch {
    /// Status codes and inclusive ranges (`200`, `200-399`, `200,204`).
    Status(Vec<(u16, u16)>),
    /// A substring of the body.
    String(String),
    /// A regular expression the status code (as text) must match.
    RStatus(String),
    /// A regular expression the body must match.
    RString(String),
}
