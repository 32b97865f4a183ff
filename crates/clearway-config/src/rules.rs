//! ACLs, conditions and layer-7 rules as plain data: what `acl`, `use_backend ... if`,
//! `http-request`, `http-response`, `redirect` and `errorfile` lines say, validated.
//! Owns the pattern syntaxes (networks, integer ranges) shared with the runtime; must not
//! evaluate anything against traffic.

use crate::span::Span;
pub use clearway_sample::vars::SetConds;
pub use clearway_sample::{Chain, Type, VarName};

mod fetch;
pub use fetch::*;

/// A sample expression: a fetch and the converters applied to each value it yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expr {
    pub fetch: Fetch,
    pub convs: Chain,
}

impl Expr {
    pub fn new(fetch: Fetch) -> Expr {
        Expr {
            fetch,
            convs: Chain::default(),
        }
    }

    /// The type of what the expression gives.
    pub fn kind(&self) -> Type {
        self.convs.0.iter().fold(self.fetch.kind(), |t, c| c.output(t))
    }
}

/// What the `ssl_c_*` fetches read from a client certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertField {
    /// `ssl_c_used`, `ssl_fc_has_crt`: the client sent one.
    Used,
    /// `ssl_c_verify`: the OpenSSL verification error (0: none), `ssl_c_err` the one of the
    /// client's own certificate, `ssl_c_ca_err` the first of those above it; non-zero only
    /// when `ca-ignore-err`/`crt-ignore-err` let the certificate through.
    Verify,
    Err,
    CaErr,
    /// `ssl_c_s_dn`, `ssl_c_i_dn`: the subject's or issuer's name.
    Dn {
        issuer: bool,
        dn: Dn,
    },
    /// `ssl_c_serial`, `ssl_c_sha1`, `ssl_c_der`: binary, as hexadecimal text.
    Serial,
    Sha1,
    Der,
    /// `ssl_c_notbefore`, `ssl_c_notafter`: `YYMMDDhhmmssZ`.
    NotBefore,
    NotAfter,
    /// `ssl_c_version`: 1 for X.509v1, 3 for v3.
    Version,
    /// `ssl_c_sig_alg`, `ssl_c_key_alg`: OpenSSL's short names (`RSA-SHA256`, `rsaEncryption`).
    SigAlg,
    KeyAlg,
}

/// `ssl_c_s_dn([ENTRY[,OCC[,FORMAT]]])`: the whole name (`/C=FR/O=Org/CN=x`, or RFC 2253
/// `CN=x,O=Org,C=FR`), or the OCC-th ENTRY (from the end when negative).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dn {
    pub entry: Option<String>,
    pub occ: i64,
    pub rfc2253: bool,
}

/// How an ACL compares a fetched value with its patterns (`-m`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchKind {
    Str,
    Beg,
    End,
    Sub,
    Reg,
    /// A pattern delimited by `.` (or `/`, `?`, `:`) in the value: `hdr_dom(host) example.com`.
    Dom,
    /// A pattern delimited by `/`: `path_dir api`.
    Dir,
    Len,
    Ip,
    Int,
    Bool,
    /// The value exists.
    Found,
    /// Hexadecimal patterns against a binary value (`ssl_c_serial 01AF`), case ignored.
    Bin,
}

/// One ACL test: `CRITERION [-i] [-m KIND] PATTERNS...`. Patterns were validated for their
/// kind (regexes compile, networks and integer ranges parse).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclTest {
    pub fetch: Fetch,
    /// Converters applied to each value before matching.
    pub convs: Chain,
    pub matcher: MatchKind,
    /// `-i`: compare without case.
    pub icase: bool,
    pub patterns: Vec<String>,
}

/// One term of a condition: an ACL (named: all lines of that name, any of which may match;
/// anonymous `{ ... }`: one test), possibly negated with `!`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub negate: bool,
    /// The ACL's name as written, or the anonymous ACL's words, for messages.
    pub name: String,
    pub tests: Vec<AclTest>,
}

/// `if|unless TERMS [|| TERMS]...`: true when every term of any group holds (inverted by `unless`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub unless: bool,
    pub any_of: Vec<Vec<Term>>,
}

/// A value with sample expressions: literal text and `%[fetch]` pieces (`%[src]`, `%[hdr(host)]`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Template(pub Vec<Piece>);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    Expr(Expr),
}

impl Template {
    pub fn literal(s: &str) -> Template {
        Template(vec![Piece::Text(s.to_string())])
    }
}

/// A response made by the proxy itself (`http-request return`, `deny`, error pages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    /// Sent only with a body, as HAProxy does.
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    /// `lf-string`, `lf-file`: the body is this format, rendered per request.
    pub format: Option<Template>,
    pub headers: Vec<(String, Template)>,
    /// Where the answer comes from.
    pub from: ReplyFrom,
}

/// What a reply answers with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyFrom {
    /// The status, content type, body and headers of the line.
    Fields,
    /// The proxy's error page for the status (`default-errorfiles`; a `deny` saying no more).
    Default,
    /// A complete response (`errorfile FILE`, or `errorfiles NAME`'s page for the status);
    /// empty: the connection is closed without an answer.
    Raw(Vec<u8>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirectKind {
    /// `location URL`: exactly this.
    Location,
    /// `prefix PFX`: PFX followed by the request's path (and query).
    Prefix,
    /// `scheme SCH`: SCH://host/path?query.
    Scheme,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    pub kind: RedirectKind,
    pub target: Template,
    /// 301, 302 (default), 303, 307 or 308.
    pub code: u16,
    pub drop_query: bool,
    pub append_slash: bool,
}

/// What an `http-request` or `http-response` rule does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpAction {
    /// `allow`: stop evaluating the rules of this list.
    Allow,
    SetHeader {
        name: String,
        value: Template,
    },
    AddHeader {
        name: String,
        value: Template,
    },
    /// `del-header NAME [-m str|beg|end|sub|reg]`: the fields whose name matches (names
    /// without case; a regex sees them in lower case).
    DelHeader {
        name: String,
        method: MatchKind,
    },
    /// `replace-header NAME REGEX FMT`: each value the regex matches becomes FMT (rendered,
    /// then `\N` replaced by group N), as in HAProxy: the whole value, not only the match.
    /// `replace-value`: the same on each comma-separated value.
    ReplaceHeader {
        name: String,
        regex: String,
        replacement: Template,
        values: bool,
    },
    /// `replace-path REGEX FMT` (the path, query apart), `replace-pathq` (path and query),
    /// `replace-uri` (the target as it is): replaced whole when the regex matches.
    ReplaceTarget {
        part: TargetPart,
        regex: String,
        replacement: Template,
    },
    SetPath(Template),
    /// `set-pathq FMT`, `set-query FMT`, `set-method FMT`.
    SetPathQ(Template),
    SetQuery(Template),
    SetMethod(Template),
    /// `set-uri FMT`: the whole target (scheme, authority, path and query).
    SetUri(Template),
    /// `set-dst EXPR`, `set-dst-port EXPR`: the address the request counts as having
    /// reached (what `dst` says, and where a `0.0.0.0` server connects).
    SetDst(Expr),
    SetDstPort(Expr),
    /// `set-var(NAME[,COND...]) EXPR`, `set-var-fmt(NAME[,COND...]) FMT`.
    SetVar {
        name: VarName,
        conds: SetConds,
        value: VarValue,
    },
    /// `unset-var(NAME)`.
    UnsetVar(VarName),
    /// `set-status N [reason TEXT]` (responses).
    SetStatus {
        status: u16,
        reason: Option<String>,
    },
    /// `reject`: the connection is closed without a response.
    Reject,
    /// `track-scN KEY [table T]`: counter N tracks KEY's entry for this request, which
    /// counts one HTTP request.
    TrackSc {
        slot: u8,
        key: Expr,
        table: Option<String>,
    },
    /// `sc-inc-gpc0(N)`.
    ScIncGpc0(u8),
    /// `set-timeout server|tunnel T|EXPR`: this request's server (or tunnel) timeout, a time
    /// or an expression giving milliseconds.
    SetTimeout {
        tunnel: bool,
        value: TimeoutValue,
    },
    /// `wait-for-body time T [at-least N]`: the rules wait for the message's body, until it
    /// is whole, N bytes (N > 0) or a buffer's worth came; after T without that, the request
    /// is answered 408 (a response 504).
    WaitForBody {
        time: std::time::Duration,
        at_least: u64,
    },
    /// `tarpit [deny_status N]`: the request is held for `timeout tarpit` (else `timeout
    /// connect`), then answered with a 500 (or N); logged `PT`.
    Tarpit {
        status: u16,
    },
    /// `deny [deny_status N]`: a 403 (or N) from the proxy.
    Deny {
        status: u16,
        /// What is answered instead of the error page, when the line says.
        reply: Option<Box<Reply>>,
    },
    Return(Reply),
    Redirect(Redirect),
    /// `use-service NAME`: the proxy answers the request itself.
    UseService(Service),
    /// `auth [realm R]`: a 401 asking for Basic credentials (realm: the proxy's name by
    /// default).
    Auth {
        realm: Option<String>,
    },
    /// `set-nice N`: a scheduling priority, which changes nothing a client or server sees.
    NoEffect,
    /// `set-log-level LEVEL`: the level of the request's log line (None: `silent`, none).
    SetLogLevel(Option<u8>),
    /// `set-src EXPR`, `set-src-port EXPR`: the client's address (or port) as the rest of
    /// the request's handling sees it (ACLs, logs, `X-Forwarded-For`, `usesrc clientip`).
    SetSrc(Expr),
    SetSrcPort(Expr),
    /// `sc-set-gpt0(N) EXPR`.
    ScSetGpt0 {
        slot: u8,
        value: Expr,
    },
    /// `disable-l7-retry`: this request is not retried after a response (`retry-on`).
    DisableL7Retry,
    /// `silent-drop`: the connection goes without a word, and its closing never reaches the
    /// client (TTL 1), which keeps waiting.
    SilentDrop,
    /// `normalize-uri NORMALIZER`.
    NormalizeUri(Normalizer),
    /// `cache-use NAME`: a request the cache holds a fresh answer to gets it from there.
    CacheUse(String),
    /// `cache-store NAME`: a response that may be kept is kept.
    CacheStore(String),
    /// `capture EXPR len N|id N`: the value kept in a capture slot of the frontend (shown
    /// by `%hr`/`%hs`, read by `capture.req.hdr(N)`).
    Capture {
        expr: Expr,
        slot: CaptureSlot,
    },
}

/// Where a `capture` action keeps its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureSlot {
    /// `len N`: a new slot of N bytes (the section gives it its number).
    Len(usize),
    /// `id N`: a slot declared before (`declare capture`, or another rule's).
    Id(usize),
}

/// What `normalize-uri` does to the request target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Normalizer {
    /// `path-merge-slashes`: `//` becomes `/`.
    MergeSlashes,
    /// `path-strip-dot`: `/./` segments go.
    StripDot,
    /// `path-strip-dotdot [full]`: `/a/../` becomes `/`; `full` also drops a `..` above the root.
    StripDotDot {
        full: bool,
    },
    /// `percent-decode-unreserved [strict]`: `%41` becomes `A` (strict: a bad escape refuses
    /// the request with a 400).
    DecodeUnreserved {
        strict: bool,
    },
    /// `percent-to-uppercase [strict]`: `%2f` becomes `%2F`.
    PercentUpper {
        strict: bool,
    },
    /// `query-sort-by-name`: the query's parameters sorted by name (stable).
    QuerySort,
    /// `fragment-strip`: the `#...` part goes; `fragment-encode`: its `#` becomes `%23`.
    FragmentStrip,
    FragmentEncode,
}

/// The part of a request target a `replace-*` rule rewrites.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetPart {
    Path,
    PathQ,
    Uri,
}

/// What `set-var` stores: a sample expression's value, or a format's text (`set-var-fmt`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VarValue {
    Expr(Expr),
    Format(Template),
}

/// What `http-request use-service` can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// Metrics in Prometheus' text format, under HAProxy's names.
    PrometheusExporter,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRule {
    pub span: Span,
    pub action: HttpAction,
    pub condition: Option<Condition>,
}

impl Template {
    /// Whether an expression of the template passes `pred`.
    pub fn any_expr(&self, pred: &dyn Fn(&Fetch, &Chain) -> bool) -> bool {
        self.0
            .iter()
            .any(|p| matches!(p, Piece::Expr(e) if pred(&e.fetch, &e.convs)))
    }
}

impl Condition {
    /// Whether a test of the condition passes `pred`.
    pub fn any_expr(&self, pred: &dyn Fn(&Fetch, &Chain) -> bool) -> bool {
        self.any_of
            .iter()
            .flatten()
            .flat_map(|t| &t.tests)
            .any(|t| pred(&t.fetch, &t.convs))
    }
}

impl HttpRule {
    /// Whether an expression of the rule (its action's or its condition's) passes `pred`.
    pub fn any_expr(&self, pred: &dyn Fn(&Fetch, &Chain) -> bool) -> bool {
        let action = match &self.action {
            HttpAction::SetHeader { value, .. } | HttpAction::AddHeader { value, .. } => value.any_expr(pred),
            HttpAction::SetPath(t)
            | HttpAction::SetUri(t)
            | HttpAction::SetPathQ(t)
            | HttpAction::SetQuery(t)
            | HttpAction::SetMethod(t) => t.any_expr(pred),
            HttpAction::ReplaceHeader { replacement, .. } | HttpAction::ReplaceTarget { replacement, .. } => {
                replacement.any_expr(pred)
            }
            HttpAction::SetDst(e)
            | HttpAction::SetDstPort(e)
            | HttpAction::SetSrc(e)
            | HttpAction::SetSrcPort(e)
            | HttpAction::ScSetGpt0 { value: e, .. }
            | HttpAction::Capture { expr: e, .. }
            | HttpAction::TrackSc { key: e, .. }
            | HttpAction::SetTimeout {
                value: TimeoutValue::Expr(e),
                ..
            } => pred(&e.fetch, &e.convs),
            HttpAction::SetVar {
                value: VarValue::Expr(e),
                ..
            } => pred(&e.fetch, &e.convs),
            HttpAction::SetVar {
                value: VarValue::Format(t),
                ..
            } => t.any_expr(pred),
            HttpAction::Return(r) => {
                r.headers.iter().any(|(_, t)| t.any_expr(pred)) || r.format.as_ref().is_some_and(|t| t.any_expr(pred))
            }
            HttpAction::Redirect(r) => r.target.any_expr(pred),
            _ => false,
        };
        action || self.condition.as_ref().is_some_and(|c| c.any_expr(pred))
    }

    /// Every expression of the rule's action (not its condition's), to change.
    fn action_exprs_mut(&mut self, f: &mut dyn FnMut(&mut Expr)) {
        let template = |t: &mut Template, f: &mut dyn FnMut(&mut Expr)| {
            for p in &mut t.0 {
                if let Piece::Expr(e) = p {
                    f(e);
                }
            }
        };
        match &mut self.action {
            HttpAction::SetHeader { value, .. } | HttpAction::AddHeader { value, .. } => template(value, f),
            HttpAction::SetPath(t)
            | HttpAction::SetUri(t)
            | HttpAction::SetPathQ(t)
            | HttpAction::SetQuery(t)
            | HttpAction::SetMethod(t) => template(t, f),
            HttpAction::ReplaceHeader { replacement, .. } | HttpAction::ReplaceTarget { replacement, .. } => {
                template(replacement, f)
            }
            HttpAction::SetDst(e)
            | HttpAction::SetDstPort(e)
            | HttpAction::SetSrc(e)
            | HttpAction::SetSrcPort(e)
            | HttpAction::ScSetGpt0 { value: e, .. }
            | HttpAction::Capture { expr: e, .. }
            | HttpAction::TrackSc { key: e, .. }
            | HttpAction::SetTimeout {
                value: TimeoutValue::Expr(e),
                ..
            }
            | HttpAction::SetVar {
                value: VarValue::Expr(e),
                ..
            } => f(e),
            HttpAction::SetVar {
                value: VarValue::Format(t),
                ..
            } => template(t, f),
            HttpAction::Return(r) => {
                for (_, t) in &mut r.headers {
                    template(t, f);
                }
                if let Some(t) = &mut r.format {
                    template(t, f);
                }
            }
            HttpAction::Redirect(r) => template(&mut r.target, f),
            _ => {}
        }
    }

    /// Gives the rule, written in an `http-response` or `http-after-response` line, the
    /// meaning HAProxy gives it there: `hdr(NAME)` in its values reads the response's
    /// header, and a test of its condition that reads the request's headers (gone by
    /// then) never matches. Returns the names of the ACLs that never match.
    pub fn for_response(&mut self) -> Vec<String> {
        self.action_exprs_mut(&mut |e| {
            if let Fetch::Hdr(n) = &e.fetch {
                e.fetch = Fetch::ResHdr(n.clone());
            }
        });
        let mut never = Vec::new();
        for term in self.condition.iter_mut().flat_map(|c| c.any_of.iter_mut()).flatten() {
            for t in &mut term.tests {
                if t.fetch.needs_request_headers() {
                    t.fetch = Fetch::Never;
                    if !never.contains(&term.name) {
                        never.push(term.name.clone());
                    }
                }
            }
        }
        never
    }

    /// Whether the rule may store or clear a variable (so the message needs its stores).
    pub fn writes_vars(&self) -> bool {
        matches!(self.action, HttpAction::SetVar { .. } | HttpAction::UnsetVar(_))
            || self.any_expr(&|_, c| c.writes_vars())
    }

    /// Whether the rule reads which backend or server handles the request.
    pub fn reads_route(&self) -> bool {
        self.any_expr(&|f, _| f.reads_route())
    }
}

/// What `set-timeout` sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeoutValue {
    Fixed(std::time::Duration),
    /// Milliseconds, from the request's samples.
    Expr(Expr),
}

/// `tcp-request connection|session|content ACTION [if|unless COND]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpRule {
    pub span: Span,
    pub action: TcpAction,
    pub condition: Option<Condition>,
}

/// What a `tcp-request` rule does when its condition holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TcpAction {
    /// `track-scN KEY [table T]`: counter N tracks KEY's entry for the session (connection
    /// and session rules) or the request (content rules).
    TrackSc { slot: u8, key: Expr, table: Option<String> },
    /// `sc-inc-gpc0(N)`.
    ScIncGpc0(u8),
    /// `set-var(NAME[,COND...]) EXPR`, `set-var-fmt(...) FMT`; the rules after it go on.
    SetVar {
        name: VarName,
        conds: SetConds,
        value: VarValue,
    },
    /// `unset-var(NAME)`.
    UnsetVar(VarName),
    /// Accept: no later rule of the same list is looked at.
    Accept,
    /// Close the connection.
    Reject,
    /// `expect-proxy layer4` (connection rules): the connection starts with a PROXY protocol
    /// header; the rules after it go on.
    ExpectProxy,
    /// `tcp-response content close`: what the server sent so far goes to the client, then the
    /// session ends.
    Close,
}

/// A frontend's `tcp-request` settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TcpRules {
    /// `tcp-request inspect-delay`: how long content rules may wait for the client's data.
    pub inspect_delay: Option<std::time::Duration>,
    /// Evaluated when the connection is accepted (addresses and ports only): the real
    /// peer's, never a PROXY protocol header's.
    pub connection: Vec<TcpRule>,
    /// Evaluated once the connection's handshakes (PROXY protocol) are done: the addresses a
    /// header gave.
    pub session: Vec<TcpRule>,
    /// Evaluated on the client's first data, within `inspect_delay`.
    pub content: Vec<TcpRule>,
    /// `tcp-response inspect-delay` and `tcp-response content` rules (backends, `mode tcp`):
    /// evaluated on the server's first data, within that delay.
    pub response_delay: Option<std::time::Duration>,
    pub response: Vec<TcpRule>,
}

/// `http-reuse`: which idle server connections a request may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HttpReuse {
    /// A session's connections are its own.
    Never,
    /// A session's first request gets a connection of its own; later ones may use idle ones.
    #[default]
    Safe,
    /// Like `always` in Clearway: first requests may use idle connections that served before.
    Aggressive,
    Always,
}

/// What happens to connections between requests (`option http-keep-alive`,
/// `option http-server-close`, `option httpclose`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, PartialOrd, Ord)]
pub enum HttpConnMode {
    #[default]
    KeepAlive,
    /// The server connection is closed after each response; the client's stays open.
    ServerClose,
    /// Both connections are closed after each response.
    Close,
}

/// `errorfile CODE FILE`: the file's bytes, a complete HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorFile {
    pub span: Span,
    pub status: u16,
    pub response: Vec<u8>,
}

/// The statuses `errorfile` may replace, as in HAProxy.
pub const ERROR_STATUSES: &[u16] = &[
    200, 400, 401, 403, 404, 405, 407, 408, 410, 413, 425, 429, 500, 501, 502, 503, 504,
];

pub use clearway_sample::pattern::{net_contains, parse_int_range, parse_net};
