//! Traffic logs, as HAProxy writes them: a frontend with `log` lines (its own, or `log
//! global`) logs each TCP session or HTTP request in its format (`option tcplog`, `option
//! httplog`, `log-format`, else HAProxy's "Connect from" line at accept), to syslog over UDP
//! or a UNIX socket, or to stdout/stderr. A frontend without `log` lines has no logger and
//! pays nothing. Owns the record of a session or request and its rendering and sending; must
//! not decide what a session does.

pub mod format;
pub mod sink;
pub mod throttle;
pub mod time;

use clearway_config::model::{self, Mode, ProxyLog};
use format::Format;
use sink::Sink;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

/// Syslog levels Clearway logs traffic at.
pub const INFO: u8 = 6;
pub const NOTICE: u8 = 5;
pub const WARNING: u8 = 4;
pub const ERR: u8 = 3;
pub const ALERT: u8 = 1;
pub const EMERG: u8 = 0;

/// What one logged session or request was.
#[derive(Debug, Clone)]
pub struct Record<'a> {
    pub client: SocketAddr,
    pub local: Option<SocketAddr>,
    /// When the session was accepted, and when the request began (HTTP).
    pub accept: SystemTime,
    pub request: SystemTime,
    pub frontend: &'a str,
    pub tls: bool,
    pub backend: Option<&'a str>,
    pub server: Option<&'a str>,
    pub server_addr: Option<SocketAddr>,
    pub source_addr: Option<SocketAddr>,
    /// Timers in milliseconds (HAProxy's Ti, TR, Tw, Tc, Tr, Ta, Tt); None: not reached.
    pub t_idle: Option<i64>,
    pub t_request: Option<i64>,
    pub t_queue: Option<i64>,
    pub t_connect: Option<i64>,
    pub t_response: Option<i64>,
    pub t_active: Option<i64>,
    pub t_total: Option<i64>,
    pub status: Option<u16>,
    /// Bytes from the client, and to it (`%U`, `%B`).
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// The termination state's first two characters (`--`, `CD`, `SC`, `sH`, ...).
    pub term: [u8; 2],
    /// Cookie persistence: what the request's cookie said and what the response's became
    /// (the last two characters of `%tsc`); `--` without it.
    pub persistence: [u8; 2],
    pub actconn: u32,
    pub feconn: u32,
    pub beconn: u32,
    pub srvconn: u32,
    pub retries: u32,
    /// `set-log-level`: the line's level instead of the usual one (Some(None): no line).
    pub level: Option<Option<u8>>,
    pub backend_queue: u32,
    pub http: Option<HttpLine>,
    /// The values of the format's `%[...]` expressions, in order (None: no value).
    pub samples: &'a [Option<Box<str>>],
    /// The request's unique id (`%ID`), when the frontend makes them.
    pub unique_id: Option<&'a str>,
    /// The captured request and response header values (`%hr`, `%hs`), when the frontend
    /// captures any (`capture request|response header`); None for a header not there.
    pub req_captures: Option<&'a [Option<http::HeaderValue>]>,
    pub res_captures: Option<&'a [Option<http::HeaderValue>]>,
    /// The captured cookie of the request and of the response (`%CC`, `%CS`).
    pub req_cookie: Option<&'a str>,
    pub res_cookie: Option<&'a str>,
    /// This record's number among the process's (`%rt`).
    pub counter: u64,
}

impl Record<'_> {
    /// Whether the session or request went wrong, as HAProxy decides for `option
    /// log-separate-errors`: ended by an error or a timeout (not by the proxy answering
    /// itself), retried, or answered with a 5xx.
    pub fn failed(&self) -> bool {
        !matches!(self.term[0], b'-' | b'L') || self.retries > 0 || self.status.is_some_and(|s| s >= 500)
    }
}

/// The request line of an HTTP record (cheap clones of the request's own values).
#[derive(Debug, Clone)]
pub struct HttpLine {
    pub method: http::Method,
    pub uri: http::Uri,
    pub version: http::Version,
}

impl HttpLine {
    /// `HTTP/1.1`, as logs write versions.
    pub fn version_str(&self) -> &'static str {
        match self.version {
            http::Version::HTTP_09 => "HTTP/0.9",
            http::Version::HTTP_10 => "HTTP/1.0",
            http::Version::HTTP_2 => "HTTP/2.0",
            http::Version::HTTP_3 => "HTTP/3.0",
            _ => "HTTP/1.1",
        }
    }

    /// The request target as it was received (origin form, or absolute for HTTP/2).
    pub fn target(&self) -> &str {
        match self.uri.path_and_query() {
            Some(pq) if self.uri.scheme().is_none() => pq.as_str(),
            _ => "",
        }
    }
}

/// The most of a captured cookie kept (HAProxy's `tune.http.cookielen` default).
const COOKIE_LEN: usize = 63;

/// The headers a frontend captures for its log lines (`capture request|response header NAME
/// len N`), each with the most bytes of its value kept.
#[derive(Debug, Clone, Default)]
pub struct Captures {
    /// Each request slot: the header it captures, or None for a slot rules fill
    /// (`http-request capture`, `declare capture`), with its length.
    pub request: Vec<(Option<http::HeaderName>, usize)>,
    pub response: Vec<(Option<http::HeaderName>, usize)>,
    /// `capture cookie PREFIX len N`.
    pub cookie: Option<(String, usize)>,
    /// The slots' lengths, for the captures rules make.
    pub request_lens: std::sync::Arc<[usize]>,
    pub response_lens: std::sync::Arc<[usize]>,
}

impl Captures {
    pub fn new(c: &clearway_config::model::Captures) -> Captures {
        let names = |l: &[(String, usize)]| {
            l.iter()
                .map(|(n, len)| {
                    (
                        (!n.is_empty())
                            .then(|| http::HeaderName::from_bytes(n.as_bytes()).ok())
                            .flatten(),
                        *len,
                    )
                })
                .collect()
        };
        Captures {
            request: names(&c.request),
            response: names(&c.response),
            request_lens: c.request.iter().map(|(_, l)| *l).collect(),
            response_lens: c.response.iter().map(|(_, l)| *l).collect(),
            cookie: c.cookie.as_ref().map(|(n, len)| (n.clone(), (*len).min(COOKIE_LEN))),
        }
    }

    /// Whether the response's headers are read (a header or cookie capture).
    pub fn reads_response(&self) -> bool {
        !self.response.is_empty() || self.cookie.is_some()
    }

    /// The captured cookie of a request (`%CC`): the first `name=value` of its `Cookie`
    /// headers whose text starts with the capture's name, cut to its length.
    pub fn request_cookie(&self, headers: &http::HeaderMap) -> Option<Box<str>> {
        let (prefix, len) = self.cookie.as_ref()?;
        let all = headers.get_all(http::header::COOKIE);
        let mut cookies = all.iter().flat_map(|v| v.as_bytes().split(|&b| b == b';'));
        let found = cookies.find_map(|c| cookie_text(c, prefix))?;
        Some(cut(found, *len))
    }

    /// The captured cookie of a response (`%CS`): the first `Set-Cookie` whose `name=value`
    /// starts with the capture's name, cut to its length.
    pub fn response_cookie(&self, headers: &http::HeaderMap) -> Option<Box<str>> {
        let (prefix, len) = self.cookie.as_ref()?;
        let all = headers.get_all(http::header::SET_COOKIE);
        let mut first = all
            .iter()
            .map(|v| v.as_bytes().split(|&b| b == b';').next().unwrap_or_default());
        let found = first.find_map(|c| cookie_text(c, prefix))?;
        Some(cut(found, *len))
    }

    /// The last value of each header of `list` in `headers`, cut to its length; None when
    /// `list` is empty (nothing captured: the log fields disappear). An HTTP/2 request's
    /// `Host` is its authority when it has no such header.
    pub fn take(
        list: &[(Option<http::HeaderName>, usize)],
        headers: &http::HeaderMap,
        authority: Option<&str>,
    ) -> Option<Box<[Option<http::HeaderValue>]>> {
        if list.is_empty() {
            return None;
        }
        let one = |(name, len): &(Option<http::HeaderName>, usize)| {
            let name = name.as_ref()?;
            let v = match headers.get_all(name).iter().next_back() {
                Some(v) => v.clone(),
                None if name == http::header::HOST => http::HeaderValue::from_str(authority?).ok()?,
                None => return None,
            };
            cut_value(&v, *len)
        };
        Some(list.iter().map(one).collect())
    }
}

/// A rule's capture (`capture ... id N`): slot N keeps `v`, cut to the slot's length.
pub fn fill_slot(slots: &mut [Option<http::HeaderValue>], lens: &[usize], slot: usize, v: &str) {
    if let (Some(s), Some(len), Ok(v)) = (slots.get_mut(slot), lens.get(slot), http::HeaderValue::from_str(v)) {
        *s = cut_value(&v, *len);
    }
}

/// At most `len` bytes of a value.
pub fn cut_value(v: &http::HeaderValue, len: usize) -> Option<http::HeaderValue> {
    if v.len() <= len {
        return Some(v.clone());
    }
    http::HeaderValue::from_bytes(&v.as_bytes()[..len]).ok()
}

/// A cookie's `name=value` text without the spaces around it, if it starts with `prefix`
/// (a name, or a name and `=` for an exact match).
fn cookie_text<'a>(c: &'a [u8], prefix: &str) -> Option<&'a [u8]> {
    let c = c.trim_ascii();
    (c.starts_with(prefix.as_bytes()) && !c.starts_with(b"$")).then_some(c)
}

/// At most `len` bytes of `b`, as text (a byte that is not UTF-8 becomes U+FFFD).
fn cut(b: &[u8], len: usize) -> Box<str> {
    String::from_utf8_lossy(&b[..b.len().min(len)]).into()
}

impl Record<'_> {
    /// A record of a session on `frontend`, accepted from `client` now; the caller fills in
    /// what happened.
    pub fn new(frontend: &str, client: SocketAddr, local: Option<SocketAddr>, accept: SystemTime) -> Record<'_> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        Record {
            client,
            local,
            accept,
            request: accept,
            frontend,
            tls: false,
            backend: None,
            server: None,
            server_addr: None,
            source_addr: None,
            t_idle: Some(0),
            t_request: Some(0),
            t_queue: None,
            t_connect: None,
            t_response: None,
            t_active: None,
            t_total: None,
            status: None,
            bytes_in: 0,
            bytes_out: 0,
            term: *b"--",
            persistence: *b"--",
            actconn: 0,
            feconn: 0,
            beconn: 0,
            srvconn: 0,
            retries: 0,
            level: None,
            backend_queue: 0,
            http: None,
            samples: &[],
            unique_id: None,
            req_captures: None,
            res_captures: None,
            req_cookie: None,
            res_cookie: None,
            counter: COUNTER.fetch_add(1, Ordering::Relaxed),
        }
    }
}

/// What a frontend logs when.
#[derive(Debug)]
enum Kind {
    /// No format option: HAProxy's "Connect from" line, at accept.
    Connect,
    /// A line per TCP session or HTTP request, at its end.
    Format(Format),
}

/// A frontend's logger: its targets and its format.
#[derive(Debug)]
pub struct Logger {
    sinks: Vec<Arc<Sink>>,
    kind: Kind,
    /// `option dontlognull`: no line for a session that sent nothing.
    pub dontlognull: bool,
    /// `option dontlog-normal`: only what went wrong is logged.
    dontlog_normal: bool,
    /// `option log-separate-errors`: what went wrong is logged at `err`.
    separate_errors: bool,
    tag: Arc<str>,
    host: Option<Arc<str>>,
    mode: Mode,
}

/// The sinks of the `global` section's `log` lines, opened once and shared.
#[derive(Debug)]
pub struct Globals {
    sinks: Vec<Arc<Sink>>,
    tag: Arc<str>,
    host: Option<Arc<str>>,
}

/// The global targets of the running process, for its own messages (`process_message`).
static PROCESS: std::sync::OnceLock<Arc<Globals>> = std::sync::OnceLock::new();

/// Makes `g` the targets of the process's own messages (once: the first runtime's).
pub fn set_process_targets(g: Arc<Globals>) {
    let _ = PROCESS.set(g);
}

/// Sends one of the process's own messages (server state changes, warnings, errors) to the
/// `global` section's log targets, if any: what a daemon would otherwise lose with stderr.
pub fn process_message(level: u8, msg: &str) {
    if let Some(g) = PROCESS.get() {
        g.send(level, msg);
    }
}

impl Globals {
    pub fn open(g: &model::Global) -> Result<Globals, (model::Span, String)> {
        let sinks = g
            .logs
            .iter()
            .map(|t| Sink::open(t).map(Arc::new).map_err(|e| (t.span.clone(), e.to_string())))
            .collect::<Result<_, _>>()?;
        Ok(Globals {
            sinks,
            tag: Arc::from(g.log_tag.as_deref().unwrap_or(default_tag())),
            host: g.log_send_hostname.as_deref().map(Arc::from),
        })
    }

    /// Sends one of the process's own messages (server state changes, warnings) to the
    /// global targets.
    pub fn send(&self, level: u8, msg: &str) {
        for s in &self.sinks {
            s.send(level, &self.tag, self.host.as_deref(), msg);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.sinks.is_empty()
    }

    /// A backend's targets for its servers' events (state changes, health checks): its own
    /// `log` lines. (`log global` adds nothing: the process's messages reach the global
    /// targets already.)
    pub fn for_backend(b: &model::Backend, globals: &Globals) -> Result<Globals, (model::Span, String)> {
        let sinks = b
            .logs
            .iter()
            .filter_map(|l| match l {
                ProxyLog::Target(t) => Some(t),
                ProxyLog::Global(_) => None,
            })
            .map(|t| Sink::open(t).map(Arc::new).map_err(|e| (t.span.clone(), e.to_string())))
            .collect::<Result<_, _>>()?;
        Ok(Globals {
            sinks,
            tag: b.log_tag.as_deref().map_or(globals.tag.clone(), Arc::from),
            host: globals.host.clone(),
        })
    }

    /// The local syslog socket (`/dev/log`, facility daemon), for a process in the background
    /// whose config has no `global` `log` line; None when there is no such socket.
    pub fn dev_log() -> Option<Globals> {
        let path = std::path::Path::new("/dev/log");
        if !path.exists() {
            return None;
        }
        let t = model::LogTarget {
            span: model::Span {
                file: "(default)".into(),
                line: 0,
            },
            dest: model::LogDest::Unix(path.into()),
            len: None,
            format: model::SyslogFormat::Rfc3164,
            facility: 3,
            level: 7,
            minlevel: 0,
            sample: None,
        };
        let sink = Sink::open(&t).ok()?;
        Some(Globals {
            sinks: vec![Arc::new(sink)],
            tag: Arc::from(default_tag()),
            host: None,
        })
    }
}

/// The program's name, as syslog lines carry it.
fn default_tag() -> &'static str {
    "clearway"
}

impl Logger {
    /// The sample expressions of its format (`%[...]`), to be evaluated for each line.
    pub fn exprs(&self) -> &[clearway_config::rules::Expr] {
        match &self.kind {
            Kind::Format(f) => f.exprs(),
            Kind::Connect => &[],
        }
    }

    /// The logger of frontend `f`, or None when it logs nowhere.
    pub fn build(f: &model::Frontend, globals: &Globals) -> Result<Option<Logger>, (model::Span, String)> {
        let mut sinks = Vec::new();
        for l in &f.logs {
            match l {
                ProxyLog::Global(_) => sinks.extend(globals.sinks.iter().cloned()),
                ProxyLog::Target(t) => {
                    sinks.push(Arc::new(Sink::open(t).map_err(|e| (t.span.clone(), e.to_string()))?))
                }
            }
        }
        if sinks.is_empty() {
            return Ok(None);
        }
        let text = match (&f.log_format, f.options.httplog, f.options.tcplog) {
            (Some((t, _)), _, _) => Some(t.as_str()),
            (None, true, _) if f.mode == Mode::Http && f.options.httpslog => Some(format::HTTPSLOG),
            (None, true, _) if f.mode == Mode::Http => Some(format::HTTPLOG),
            (None, true, _) | (None, _, true) => Some(format::TCPLOG),
            _ => None,
        };
        let kind = match text {
            Some(t) => Kind::Format(Format::parse(t).map_err(|e| {
                let span = f.log_format.as_ref().map_or(f.span.clone(), |(_, s)| s.clone());
                (span, format!("log-format: {e}"))
            })?),
            None => Kind::Connect,
        };
        Ok(Some(Logger {
            sinks,
            kind,
            dontlognull: f.options.dontlognull,
            dontlog_normal: f.options.dontlog_normal,
            separate_errors: f.options.log_separate_errors,
            tag: f.log_tag.as_deref().map_or(globals.tag.clone(), Arc::from),
            host: globals.host.clone(),
            mode: f.mode,
        }))
    }

    /// Whether lines are written at the end of sessions and requests (not only at accept).
    pub fn per_session(&self) -> bool {
        matches!(self.kind, Kind::Format(_))
    }

    /// At accept: HAProxy's default line, when no format is set.
    pub fn accepted(&self, frontend: &str, client: SocketAddr, local: SocketAddr) {
        if let Kind::Connect = self.kind {
            let mode = if self.mode == Mode::Http { "HTTP" } else { "TCP" };
            let msg = format!(
                "Connect from {}:{} to {}:{} ({frontend}/{mode})",
                client.ip().to_canonical(),
                client.port(),
                local.ip().to_canonical(),
                local.port()
            );
            self.send(INFO, &msg);
        }
    }

    /// `option dontlognull`.
    pub fn dontlognull(&self) -> bool {
        self.dontlognull
    }

    /// A connection closed before it became a session (its PROXY protocol header was
    /// refused): HAProxy's line for it, `CLIENT:PORT [DATE] FRONTEND/BIND: WHAT` (the bind
    /// named by the address the client reached).
    pub fn connection_error(&self, frontend: &str, client: SocketAddr, local: SocketAddr, what: &str) {
        let mut msg = format!("{}:{} [", client.ip().to_canonical(), client.port());
        time::accept_date(&mut msg, std::time::SystemTime::now(), true);
        msg.push_str(&format!("] {frontend}/{local}: {what}"));
        self.send(INFO, &msg);
    }

    /// At the end of a session or request: its line, unless `dontlognull` and it sent nothing.
    pub fn finished(&self, r: &Record) {
        let Kind::Format(f) = &self.kind else {
            return;
        };
        if self.dontlognull && r.bytes_in == 0 {
            return;
        }
        let failed = r.failed();
        if self.dontlog_normal && !failed {
            return;
        }
        let level = match r.level {
            Some(None) => return,
            Some(Some(l)) => l,
            None if failed && self.separate_errors => ERR,
            None => INFO,
        };
        self.send(level, &f.render(r));
    }

    fn send(&self, level: u8, msg: &str) {
        for s in &self.sinks {
            s.send(level, &self.tag, self.host.as_deref(), msg);
        }
    }
}

/// Milliseconds between two instants.
pub fn ms_between(a: std::time::Instant, b: std::time::Instant) -> i64 {
    b.saturating_duration_since(a).as_millis() as i64
}
