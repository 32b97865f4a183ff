//! Health checks in the validated configuration: what a backend sends its servers and what
//! answer passes (`option httpchk`, `tcp-check`, the database and Redis checks).

use super::Span;

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
    /// `option smtpchk [HELO|EHLO DOMAIN]`: a 2xx banner, then `hello` (default `HELO
    /// localhost`) answered by a 2xx.
    Smtp { hello: String },
    /// `option ldap-check`: an anonymous LDAPv3 bind answered by a successful bind response.
    Ldap,
    /// `option tcp-check` with its `tcp-check` rules (none: a plain connect).
    TcpCheck(Vec<TcpCheckRule>),
    /// `option external-check`: a program (`external-check command`, run with `external-check
    /// path` as its PATH) whose exit status says whether the server is up.
    External { command: String, path: String },
    /// A check option that is parsed but not implemented yet (`external-check`, ...): checks are
    /// run as plain connects meanwhile.
    Unimplemented { option: String, args: Vec<String> },
}

/// One `tcp-check` rule. A rule's `comment` (its own `comment TEXT`, or the text of a
/// `tcp-check comment` just before it) ends the messages of its failures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TcpCheckRule {
    /// `tcp-check connect [default] [port N] [addr IP] [send-proxy] [ssl] [sni NAME] [alpn
    /// LIST] [linger]`: a new connection (see `CheckConnect`); `linger`: closed with a FIN
    /// when let go, not reset.
    Connect {
        connect: CheckConnect,
        comment: Option<String>,
    },
    /// `tcp-check send STRING` / `send-binary HEX`. What was received so far is forgotten.
    Send { data: Vec<u8>, comment: Option<String> },
    /// `tcp-check expect ...`.
    Expect(Box<TcpCheckExpect>),
    /// `tcp-check comment TEXT`: a step that does nothing.
    Comment(String),
}

/// `tcp-check expect [min-recv N] [comment C] [ok-status S] [error-status S] [tout-status S]
/// [on-success TEXT] [on-error TEXT] [!] string|binary|rstring|rbinary PATTERN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpCheckExpect {
    pub negate: bool,
    pub matcher: TcpExpect,
    /// Judged once this many bytes are in; None: a mismatch waits for more data, until the
    /// server closes, 16 kB are in or the check times out.
    pub min_recv: Option<usize>,
    pub comment: Option<String>,
    /// The results reported instead of HAProxy's defaults (`Layer7 check passed`, `Layer7
    /// invalid response`, `Layer7 timeout`), in HAProxy's words.
    pub ok_status: Option<&'static str>,
    pub error_status: Option<&'static str>,
    pub tout_status: Option<&'static str>,
    /// The check's information on success or failure, instead of HAProxy's default one.
    pub on_success: Option<String>,
    pub on_error: Option<String>,
}

/// What a `tcp-check expect` looks for in the bytes received so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TcpExpect {
    /// These bytes (`string`, or `binary` given in hexadecimal).
    Bytes { data: Vec<u8>, binary: bool },
    /// A regular expression, validated when the config was read: on the bytes (`rstring`), or
    /// on their upper-case hexadecimal dump (`rbinary`).
    Regex { pattern: String, binary: bool },
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

/// One `http-check` rule of a backend's HTTP checks, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpCheckRule {
    /// `http-check connect ...`: a new connection (the first rule, when there is one).
    Connect(CheckConnect),
    /// `http-check send ...`: the request, on top of `option httpchk`'s.
    Send(HttpSend),
    /// `http-check expect ...`: a test of the last response.
    Expect(HttpExpect),
}

/// `http-check connect [default] [port N] [addr IP] [send-proxy] [ssl] [sni NAME] [alpn
/// LIST] [linger]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckConnect {
    /// `default`: the server line's check settings (port, address, TLS, PROXY header) for
    /// what the rule does not say.
    pub default: bool,
    pub port: Option<u16>,
    pub addr: Option<std::net::IpAddr>,
    pub send_proxy: bool,
    pub ssl: bool,
    pub sni: Option<String>,
    pub alpn: Option<String>,
    pub linger: bool,
}

/// `http-check send [meth M] [uri U] [ver V] [hdr NAME VALUE]* [body TEXT]`: what it does
/// not say comes from `option httpchk`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpSend {
    pub method: Option<String>,
    pub uri: Option<String>,
    pub version: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

/// One `http-check expect [!] status|string ...` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpExpect {
    pub span: Span,
    pub negate: bool,
    pub matcher: ExpectMatch,
    /// `comment TEXT`: reported when the rule fails.
    pub comment: Option<String>,
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
    /// `hdr` (each comma-separated value) or `fhdr` (the whole value) `name [-m M] NAME
    /// [value [-m M] VALUE]`: a response header, and its value if given.
    Header {
        full: bool,
        name: (HeaderMatch, String),
        value: Option<(HeaderMatch, String)>,
    },
}

/// How a header name or value is compared (`-m str|beg|end|sub|reg`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderMatch {
    Str,
    Beg,
    End,
    Sub,
    Reg,
}
