//! What a backend's health checks do, compiled once from its config (the check kind, the
//! HTTP check's connections, requests and expected answers, their regular expressions) and
//! shared by its servers' check tasks. Owns the description only; must not run checks.

use clearway_config::model::{
    CheckConnect, CheckKind, ExpectMatch, HeaderMatch, HttpCheck, HttpCheckRule, HttpExpect, HttpSend, TcpCheckRule,
    TcpExpect, Timeouts,
};

/// What a backend's checks do, shared by its servers.
#[derive(Debug, Clone, Default)]
pub struct CheckSpec {
    pub kind: CheckKind,
    /// `option httpchk`: one step per connection (`http-check connect`), at least one.
    pub http: Vec<HttpStep>,
    /// `http-check disable-on-404`.
    pub disable_on_404: bool,
    /// `http-check send-state`.
    pub send_state: bool,
    pub timeouts: Timeouts,
    /// The regular expressions of the rules, compiled once.
    pub regexes: Regexes,
    /// `option external-check`: what the program is told of the proxy.
    pub external: Option<ExternalProxy>,
}

/// The proxy's part of an external check's arguments and environment, as HAProxy gives it:
/// its first listening address (`NOT_USED` for a backend) and its id.
#[derive(Debug, Clone, Default)]
pub struct ExternalProxy {
    pub addr: String,
    pub port: String,
    pub id: u32,
}

/// One connection of an HTTP check: where to (None: the server's own check connection), the
/// request sent on it and the tests of the answer (none: 2xx and 3xx pass).
#[derive(Debug, Clone, Default)]
pub struct HttpStep {
    pub connect: Option<CheckConnect>,
    /// The request line and headers, without `Connection`/`Content-Length` and the blank line.
    pub head: String,
    /// `content-length` with a body, `connection: close` for HTTP/1.1 unless a header says
    /// otherwise, the blank line, the body.
    pub tail: String,
    /// A `HEAD` request: the answer has no body.
    pub head_only: bool,
    pub expect: Vec<HttpExpect>,
}

/// The steps of an HTTP check: a new one at each `connect`; the first `send` takes what it
/// does not say from `option httpchk`, as in HAProxy.
fn http_steps(h: &HttpCheck, rules: &[HttpCheckRule]) -> Vec<HttpStep> {
    let mut steps: Vec<(Option<CheckConnect>, Option<HttpSend>, Vec<HttpExpect>)> = Vec::new();
    for r in rules {
        match r {
            HttpCheckRule::Connect(c) => steps.push((Some(c.clone()), None, Vec::new())),
            HttpCheckRule::Send(s) => {
                if steps.is_empty() {
                    steps.push((None, None, Vec::new()));
                }
                steps.last_mut().expect("a step").1.get_or_insert_with(|| s.clone());
            }
            HttpCheckRule::Expect(e) => {
                if steps.is_empty() {
                    steps.push((None, None, Vec::new()));
                }
                steps.last_mut().expect("a step").2.push(e.clone());
            }
        }
    }
    if steps.is_empty() {
        steps.push((None, None, Vec::new()));
    }
    let mut first_send = true;
    steps
        .into_iter()
        .map(|(connect, send, expect)| {
            let send = send.unwrap_or_default();
            let (method, uri, version) = if std::mem::take(&mut first_send) {
                (
                    send.method.unwrap_or_else(|| h.method.clone()),
                    send.uri.unwrap_or_else(|| h.uri.clone()),
                    send.version.unwrap_or_else(|| h.version.clone()),
                )
            } else {
                let d = HttpCheck::default();
                (
                    send.method.unwrap_or(d.method),
                    send.uri.unwrap_or(d.uri),
                    send.version.unwrap_or(d.version),
                )
            };
            // HAProxy's old way of adding headers: after the version on `option httpchk`.
            let (version, old_headers) = match version.split_once("\r\n") {
                Some((v, rest)) => (v.to_string(), rest.to_string()),
                None => (version, String::new()),
            };
            // A send rule's headers replace them, as in HAProxy.
            let headers: Vec<(String, String)> = if send.headers.is_empty() {
                old_headers
                    .split("\r\n")
                    .filter_map(|l| l.split_once(':'))
                    .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
                    .collect()
            } else {
                send.headers.clone()
            };
            // As HAProxy writes them: names in lower case, the body's length, and a close
            // where HTTP/1.1 would keep the connection open.
            let mut head = format!("{method} {uri} {version}\r\n");
            for (n, v) in &headers {
                head.push_str(&format!("{}: {v}\r\n", n.to_ascii_lowercase()));
            }
            let mut tail = String::new();
            let body = send.body.unwrap_or_default();
            if !body.is_empty() {
                tail.push_str(&format!("content-length: {}\r\n", body.len()));
            }
            let keeps_alive = version != "HTTP/1.0" && version.starts_with("HTTP/");
            if keeps_alive && !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("connection")) {
                tail.push_str("connection: close\r\n");
            }
            tail.push_str("\r\n");
            tail.push_str(&body);
            HttpStep {
                connect,
                head_only: method.eq_ignore_ascii_case("HEAD"),
                head,
                tail,
                expect,
            }
        })
        .collect()
}

impl CheckSpec {
    pub fn new(kind: CheckKind, options: &clearway_config::model::ProxyOptions, timeouts: Timeouts) -> CheckSpec {
        let http = match &kind {
            CheckKind::Http(h) => http_steps(h, &options.http_check),
            _ => Vec::new(),
        };
        let mut patterns: Vec<String> = http
            .iter()
            .flat_map(|s| &s.expect)
            .flat_map(|e| match &e.matcher {
                ExpectMatch::RStatus(p) | ExpectMatch::RString(p) => vec![p.clone()],
                ExpectMatch::Header { name, value, .. } => {
                    // Names match without case, as in HAProxy.
                    let name = (name.0 == HeaderMatch::Reg).then(|| nocase(&name.1));
                    let value = value
                        .as_ref()
                        .filter(|(m, _)| *m == HeaderMatch::Reg)
                        .map(|(_, p)| p.clone());
                    name.into_iter().chain(value).collect()
                }
                _ => Vec::new(),
            })
            .collect();
        if let CheckKind::TcpCheck(rules) = &kind {
            patterns.extend(rules.iter().filter_map(|r| match r {
                TcpCheckRule::Expect(e) => match &e.matcher {
                    TcpExpect::Regex { pattern, .. } => Some(pattern.clone()),
                    TcpExpect::Bytes { .. } => None,
                },
                _ => None,
            }));
        }
        // The config crate validated every pattern; one that still fails never matches.
        let regexes = Regexes(
            patterns
                .into_iter()
                .filter_map(|p| Some((p.clone(), regex::bytes::Regex::new(&p).ok()?)))
                .collect(),
        );
        CheckSpec {
            kind,
            external: None,
            http,
            disable_on_404: options.disable_on_404,
            send_state: options.send_state,
            timeouts,
            regexes,
        }
    }

    /// True when an HTTP check opens connections of its own (`http-check connect`).
    pub fn http_connects(&self) -> bool {
        self.http.iter().any(|s| s.connect.is_some())
    }

    /// The `connect` of each step (HTTP check steps, or tcp-check rules), where it has one:
    /// a step's `ssl` needs a TLS connector of its own.
    pub fn step_connects(&self) -> Vec<Option<&CheckConnect>> {
        match &self.kind {
            CheckKind::TcpCheck(rules) => rules
                .iter()
                .map(|r| match r {
                    TcpCheckRule::Connect { connect, .. } => Some(connect),
                    _ => None,
                })
                .collect(),
            _ => self.http.iter().map(|s| s.connect.as_ref()).collect(),
        }
    }
}

/// The pattern under which a header-name expression is compiled: without case.
pub fn nocase(pattern: &str) -> String {
    format!("(?i-u){pattern}")
}

/// Compiled regular expressions by pattern.
#[derive(Debug, Clone, Default)]
pub struct Regexes(pub(super) std::collections::HashMap<String, regex::bytes::Regex>);

impl Regexes {
    /// True when `pattern` (compiled at start-up) matches `text`.
    pub fn is_match(&self, pattern: &str, text: &[u8]) -> bool {
        self.0.get(pattern).is_some_and(|r| r.is_match(text))
    }
}
