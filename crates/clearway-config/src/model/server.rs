//! Server lines in the validated configuration: address, weight and limits, the source
//! address (`source`/`usesrc`), TLS towards the server, the PROXY protocol header it is sent,
//! health-check parameters and idle-connection pools. Plain data, as the rest of the model.

use super::Span;
use crate::rules::Condition;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// What a server connection's SNI is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sni {
    /// `sni str(NAME)`.
    Fixed(String),
    /// `sni req.hdr(host)`, `sni ssl_fc_sni`...: taken from each request (the port of a Host
    /// header dropped); connections are reused only for the same name.
    Fetch(crate::rules::Expr),
}

/// `server ... ssl [verify none|required] [ca-file F] [crl-file F] [crt F] [sni EXPR]
/// [verifyhost NAME] [alpn LIST] [TLS policy]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerTls {
    /// Whether the server's certificate must chain to `ca_file`. None on a `default-server`
    /// template: the global default (`ssl-server-verify`, required unless it says none);
    /// always set on a server.
    pub verify: Option<bool>,
    pub ca_file: Option<PathBuf>,
    /// Revoked certificates the server's chain must not hold.
    pub crl_file: Option<PathBuf>,
    /// `crt`: the certificate (and key) Clearway presents when the server asks for one.
    pub crt: Option<PathBuf>,
    /// The SNI sent (`sni EXPR`).
    pub sni: Option<Sni>,
    /// The name the certificate must be valid for (`verifyhost`, else the SNI); None: the
    /// chain is checked but not the name, as HAProxy does.
    pub verifyhost: Option<String>,
    pub alpn: Vec<String>,
    /// Versions, suites and groups offered (the global `ssl-default-server-*` filled in).
    pub policy: crate::model::TlsPolicy,
}

impl ServerTls {
    pub fn verifies(&self) -> bool {
        self.verify.unwrap_or(true)
    }
}

impl Server {
    /// Whether health checks run over TLS, as HAProxy decides: `check-ssl`, else the
    /// server's `ssl` when checks go to its own address and port.
    pub fn check_tls(&self) -> bool {
        self.check
            .ssl
            .unwrap_or(self.ssl && self.check.port.is_none() && self.check.addr.is_none())
    }

    /// The TLS settings of checks over TLS: the server's, with `check-sni` as the SNI and
    /// `check-alpn` as the ALPN.
    pub fn check_tls_settings(&self) -> ServerTls {
        let mut t = self.tls.clone();
        t.sni = self.check.sni.clone().map(Sni::Fixed);
        if let Some(a) = &self.check.alpn {
            t.alpn = a.clone();
        }
        t
    }
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
    /// `check-via-socks4`: checks go through the server's `socks4` proxy too.
    pub via_socks4: bool,
    /// `check-send-proxy`: checks start with a PROXY protocol header even when they go to
    /// their own `port` or `addr` (a `send-proxy*` server's checks to its own address always do).
    pub send_proxy: bool,
    /// `check-ssl` (Some(true)) / `no-check-ssl` (Some(false)); None: over TLS when the
    /// server has `ssl` and the check goes to its own address and port.
    pub ssl: Option<bool>,
    /// `check-sni NAME`: the SNI of checks over TLS (none by default).
    pub sni: Option<String>,
    /// `check-alpn LIST`: the ALPN of checks over TLS (default: the server's).
    pub alpn: Option<Vec<String>>,
    /// `observe layer4|layer7`: traffic to the server counts as checks too (true: layer7).
    pub observe: Option<bool>,
    /// `error-limit N` (default 10): consecutive errors seen in traffic that trigger `on_error`.
    pub error_limit: u32,
    pub on_error: OnError,
}

/// `on-error`: what `error-limit` consecutive errors seen in traffic do (each also brings
/// the next check forward to `fastinter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnError {
    FastInter,
    /// A failed check (the default).
    #[default]
    FailCheck,
    /// A failed check that leaves the server one failure from down.
    SuddenDeath,
    /// Down at once.
    MarkDown,
}

/// `agent-check`: an agent on the server says its weight and state (`75%`, `drain`, `down`,
/// `maxconn:N`...), read from `agent-addr`:`agent-port` every `agent-inter`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentCheck {
    pub enabled: bool,
    pub port: Option<u16>,
    pub addr: Option<IpAddr>,
    pub inter: Duration,
    /// `agent-send`: sent first, as written.
    pub send: Vec<u8>,
}

impl Default for AgentCheck {
    fn default() -> Self {
        AgentCheck {
            enabled: false,
            port: None,
            addr: None,
            inter: Duration::from_secs(2),
            send: Vec::new(),
        }
    }
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
            via_socks4: false,
            ssl: None,
            sni: None,
            alpn: None,
            observe: None,
            error_limit: 10,
            on_error: OnError::FailCheck,
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
    /// `minconn`: with `fullconn` on the backend, the server's limit grows from this to
    /// `maxconn` as the backend gets busy. Normalised as HAProxy does: alone (or above
    /// `maxconn`) it becomes `maxconn` too; without it, it is `maxconn`.
    pub minconn: u32,
    /// `maxqueue`: sessions that may wait for this server in particular (balance by hash or
    /// source, retries); beyond it they are refused with 503. 0 means unlimited.
    pub maxqueue: u32,
    /// `slowstart`: after checks bring the server back up, its weight (with a dynamic
    /// algorithm) and its maxconn grow from 1 to their values over this time.
    pub slowstart: Option<std::time::Duration>,
    pub backup: bool,
    pub disabled: bool,
    /// The `dispatch` address of a backend without servers: a server of its own, named
    /// `<NOSRV>` in logs and absent from the statistics, as in HAProxy.
    pub hidden: bool,
    /// `on-marked-down shutdown-sessions`: its sessions are closed when checks take it down.
    pub on_marked_down_shutdown: bool,
    /// `on-marked-up shutdown-backup-sessions`: when checks bring it up, the sessions on the
    /// backend's backup servers are closed, so clients come back to it.
    pub on_marked_up_shutdown_backups: bool,
    /// The server's own `source`, else the backend's (already applied during resolution).
    pub source: Option<Source>,
    /// `socks4 IP:PORT`: connections to the server go through this SOCKS4 proxy (a CONNECT
    /// with user id "HAProxy", as HAProxy sends).
    pub socks4: Option<std::net::SocketAddr>,
    /// `cookie VALUE`: the value of the backend's persistence cookie that names this server.
    pub cookie: Option<String>,
    /// `id N`: the server's number (`srv_id`, the statistics' `sid`, what stick tables
    /// store); None: the lowest number no other server of the backend has.
    pub id: Option<u32>,
    /// `non-stick`: `stick` rules never store this server.
    pub non_stick: bool,
    pub check: CheckParams,
    pub agent: AgentCheck,
    /// `track [BACKEND/]SERVER`: this server's health is that server's (backend None: the
    /// same backend).
    pub track: Option<(Option<String>, String)>,
    /// `ssl`: connections to this server use TLS, with `tls`.
    pub ssl: bool,
    /// `proto h2`: HTTP/2 from the first byte (else HTTP/2 only when TLS ALPN picks `h2`).
    pub proto_h2: bool,
    /// `ws auto|h1|h2`: the HTTP version WebSocket requests go to this server with.
    pub ws: WsProto,
    /// TLS parameters (kept without `ssl` too, as `default-server` may set them for later lines).
    pub tls: ServerTls,
    /// How many idle connections to this server are kept for reuse (`mode http`).
    pub pool: IdlePool,
    /// `send-proxy*`: each connection starts with a PROXY protocol header.
    pub send_proxy: SendProxy,
    /// Run-time DNS (`resolvers`...) and the start-up address (`init-addr`).
    pub dns: super::ServerDns,
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
    /// The request's unique id (`unique-id-format`) in its TLV (`unique-id`): the header
    /// then speaks for one request, and its connection serves no other.
    pub v2_unique_id: bool,
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

/// `ws`: how WebSocket requests go to a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WsProto {
    /// As the server's other requests, except that with an ALPN list naming `http/1.1` they
    /// take a connection of their own whose ALPN offers only `http/1.1` (HAProxy's default).
    #[default]
    Auto,
    /// Always HTTP/1.1 (a connection of their own, ALPN `http/1.1` with TLS).
    H1,
    /// Always HTTP/2 (extended CONNECT, RFC 8441).
    H2,
}
