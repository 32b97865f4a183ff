//! `log-format` strings: compiled once into literal text and variables (`%ci`, `%{+Q}r`,
//! ...), rendered for each session or request from a `Record`. HAProxy's `option tcplog` and
//! `option httplog` are the format strings HAProxy documents as their equivalents. Must not
//! send anything.

use super::Record;
use std::fmt::Write;

/// HAProxy's `option tcplog`, as its documentation gives it.
pub const TCPLOG: &str = "%ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq";
/// HAProxy's `option httplog`.
pub const HTTPLOG: &str =
    "%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r";

/// HAProxy's `option httpslog`: the HTTP format and the TLS handshake's outcome.
pub const HTTPSLOG: &str =
    "%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r \
     %[fc_err]/%[ssl_fc_err,hex]/%[ssl_c_err]/%[ssl_c_ca_err]/%[ssl_fc_is_resumed] %[ssl_fc_sni]/%sslv/%sslc";

/// The variables Clearway fills (HAProxy's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Var {
    ClientIp,
    ClientPort,
    FrontendIp,
    FrontendPort,
    Date,
    GmtDate,
    LocalDate,
    RequestDate,
    RequestGmtDate,
    RequestLocalDate,
    Timestamp,
    Millis,
    Frontend,
    FrontendTransport,
    Backend,
    Server,
    ServerIp,
    ServerPort,
    BackendSourceIp,
    BackendSourcePort,
    Th,
    Ti,
    TR,
    Tq,
    Tw,
    Tc,
    Tr,
    Ta,
    Tt,
    Td,
    Tu,
    Status,
    BytesRead,
    BytesUploaded,
    CapturedReqCookie,
    CapturedResCookie,
    TermState,
    TermStateCookie,
    ActConn,
    FeConn,
    BeConn,
    SrvConn,
    Retries,
    SrvQueue,
    BeQueue,
    CapturedReqHeaders,
    CapturedResHeaders,
    CapturedReqHeaderList,
    CapturedResHeaderList,
    Request,
    Method,
    Path,
    PathOnly,
    Query,
    Uri,
    Version,
    Pid,
    Hostname,
    RequestCounter,
    LogCounter,
    UniqueId,
}

const VARS: &[(&str, Var)] = &[
    ("ci", Var::ClientIp),
    ("cp", Var::ClientPort),
    ("fi", Var::FrontendIp),
    ("fp", Var::FrontendPort),
    ("t", Var::Date),
    ("T", Var::GmtDate),
    ("Tl", Var::LocalDate),
    ("tr", Var::RequestDate),
    ("trg", Var::RequestGmtDate),
    ("trl", Var::RequestLocalDate),
    ("Ts", Var::Timestamp),
    ("ms", Var::Millis),
    ("f", Var::Frontend),
    ("ft", Var::FrontendTransport),
    ("b", Var::Backend),
    ("s", Var::Server),
    ("si", Var::ServerIp),
    ("sp", Var::ServerPort),
    ("bi", Var::BackendSourceIp),
    ("bp", Var::BackendSourcePort),
    ("Th", Var::Th),
    ("Ti", Var::Ti),
    ("TR", Var::TR),
    ("Tq", Var::Tq),
    ("Tw", Var::Tw),
    ("Tc", Var::Tc),
    ("Tr", Var::Tr),
    ("Ta", Var::Ta),
    ("Tt", Var::Tt),
    ("Td", Var::Td),
    ("Tu", Var::Tu),
    ("ST", Var::Status),
    ("B", Var::BytesRead),
    ("U", Var::BytesUploaded),
    ("CC", Var::CapturedReqCookie),
    ("CS", Var::CapturedResCookie),
    ("ts", Var::TermState),
    ("tsc", Var::TermStateCookie),
    ("ac", Var::ActConn),
    ("fc", Var::FeConn),
    ("bc", Var::BeConn),
    ("sc", Var::SrvConn),
    ("rc", Var::Retries),
    ("sq", Var::SrvQueue),
    ("bq", Var::BeQueue),
    ("hr", Var::CapturedReqHeaders),
    ("hs", Var::CapturedResHeaders),
    ("hrl", Var::CapturedReqHeaderList),
    ("hsl", Var::CapturedResHeaderList),
    ("r", Var::Request),
    ("HM", Var::Method),
    ("HP", Var::Path),
    ("HPO", Var::PathOnly),
    ("HQ", Var::Query),
    ("HU", Var::Uri),
    ("HV", Var::Version),
    ("pid", Var::Pid),
    ("H", Var::Hostname),
    ("rt", Var::RequestCounter),
    ("lc", Var::LogCounter),
    ("ID", Var::UniqueId),
];

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Flags {
    quote: bool,
    hex: bool,
    escape: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    Text(String),
    Var(Var, Flags),
    /// `%[EXPR]`: the N-th of the format's expressions, evaluated when the line is made.
    Sample(usize, Flags),
}

/// A compiled `log-format`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Format(Vec<Node>, Vec<clearway_config::rules::Expr>);

impl Format {
    /// Compiles `text`. Err: what is wrong, for the config error.
    pub fn parse(text: &str) -> Result<Format, String> {
        let mut nodes = Vec::new();
        let mut exprs = Vec::new();
        let mut text_buf = String::new();
        let mut global = Flags::default();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            if c != '%' {
                text_buf.push(c);
                continue;
            }
            if chars.peek() == Some(&'%') {
                chars.next();
                text_buf.push('%');
                continue;
            }
            let mut flags = global;
            if chars.peek() == Some(&'{') {
                chars.next();
                let mut args = String::new();
                for a in chars.by_ref() {
                    if a == '}' {
                        break;
                    }
                    args.push(a);
                }
                for arg in args.split(',').filter(|a| !a.is_empty()) {
                    // (Not split at a byte offset: the text may hold any character.)
                    let (on, name) = match (arg.strip_prefix('+'), arg.strip_prefix('-')) {
                        (Some(n), _) => (true, n),
                        (_, Some(n)) => (false, n),
                        _ => return Err(format!("flag '{arg}' must start with + or -")),
                    };
                    match name {
                        "Q" => flags.quote = on,
                        "X" => flags.hex = on,
                        "E" => flags.escape = on,
                        _ => return Err(format!("unknown flag '{name}' (Q, X and E exist)")),
                    }
                }
            }
            if chars.peek() == Some(&'[') {
                chars.next();
                let rest: String = chars.clone().collect();
                let (_, _, used) = clearway_sample::args::parse_prefix(&rest)?;
                if rest.as_bytes().get(used) != Some(&b']') {
                    return Err(format!("'%[{rest}': the sample expression is not closed with ']'"));
                }
                exprs.push(clearway_config::sample_expression(&rest[..used])?);
                for _ in rest[..=used].chars() {
                    chars.next();
                }
                if !text_buf.is_empty() {
                    nodes.push(Node::Text(std::mem::take(&mut text_buf)));
                }
                nodes.push(Node::Sample(exprs.len() - 1, flags));
                continue;
            }
            let mut name = String::new();
            while let Some(&n) = chars.peek() {
                if n.is_ascii_alphanumeric() {
                    name.push(n);
                    chars.next();
                } else {
                    break;
                }
            }
            if name == "o" {
                global = flags;
                continue;
            }
            // The TLS version and cipher of the client connection: what those fetches give.
            let same_as = match name.as_str() {
                "sslv" => Some("ssl_fc_protocol"),
                "sslc" => Some("ssl_fc_cipher"),
                _ => None,
            };
            if let Some(fetch) = same_as {
                exprs.push(clearway_config::sample_expression(fetch)?);
                if !text_buf.is_empty() {
                    nodes.push(Node::Text(std::mem::take(&mut text_buf)));
                }
                nodes.push(Node::Sample(exprs.len() - 1, flags));
                continue;
            }
            let var = VARS
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| *v)
                .ok_or_else(|| format!("unknown log-format variable '%{name}'"))?;
            if !text_buf.is_empty() {
                nodes.push(Node::Text(std::mem::take(&mut text_buf)));
            }
            nodes.push(Node::Var(var, flags));
        }
        if !text_buf.is_empty() {
            nodes.push(Node::Text(text_buf));
        }
        Ok(Format(nodes, exprs))
    }

    /// The line for `r`.
    pub fn render(&self, r: &Record) -> String {
        let mut out = String::with_capacity(256);
        for n in &self.0 {
            match n {
                Node::Text(t) => out.push_str(t),
                Node::Var(v, f) => var(&mut out, *v, *f, r),
                Node::Sample(i, f) => match r.samples.get(*i).and_then(Option::as_deref) {
                    Some(v) => string(&mut out, v, *f),
                    None => out.push('-'),
                },
            }
        }
        out
    }

    /// The expressions of its `%[...]`, in order: their values make `Record::samples`.
    pub fn exprs(&self) -> &[clearway_config::rules::Expr] {
        &self.1
    }
}

/// A number, without the formatting machinery (a log line has a dozen).
pub(super) fn push_num<N: itoa::Integer>(out: &mut String, n: N) {
    out.push_str(itoa::Buffer::new().format(n));
}

/// A timer in milliseconds, -1 when the step was not reached.
fn ms(out: &mut String, v: Option<i64>) {
    push_num(out, v.unwrap_or(-1));
}

fn string(out: &mut String, s: &str, f: Flags) {
    if f.quote {
        out.push('"');
    }
    if f.escape {
        for c in s.chars() {
            if matches!(c, '"' | '\\' | ']') {
                out.push('\\');
            }
            out.push(c);
        }
    } else {
        out.push_str(s);
    }
    if f.quote {
        out.push('"');
    }
}

/// A captured value as logs write it: bytes that would break the line or its braces
/// (controls, non-ASCII, `"`, `#`, `{`, `|`, `}`) as `#XX`; with `+E`, `\` before `"`, `\`
/// and `]`.
fn captured(out: &mut String, v: &http::HeaderValue, f: Flags) {
    for &b in v.as_bytes() {
        if !(0x20..0x7f).contains(&b) || b"\"#{|}".contains(&b) {
            let _ = write!(out, "#{b:02X}");
        } else {
            if f.escape && matches!(b, b'\\' | b']') {
                out.push('\\');
            }
            out.push(b as char);
        }
    }
}

/// `%hr`, `%hs`: `{value1|value2}` (an absent header is empty), quoted as a whole with `+Q`.
fn captures_braced(out: &mut String, caps: &[Option<http::HeaderValue>], f: Flags) {
    if f.quote {
        out.push('"');
    }
    out.push('{');
    for (i, c) in caps.iter().enumerate() {
        if i > 0 {
            out.push('|');
        }
        if let Some(v) = c {
            captured(out, v, f);
        }
    }
    out.push('}');
    if f.quote {
        out.push('"');
    }
}

/// `%hrl`, `%hsl`: the values separated by spaces, `-` for an absent header (each value
/// quoted with `+Q`, an absent one then as `""`).
fn captures_listed(out: &mut String, caps: &[Option<http::HeaderValue>], f: Flags) {
    for (i, c) in caps.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        if f.quote {
            out.push('"');
        }
        match c {
            Some(v) => captured(out, v, f),
            None if !f.quote => out.push('-'),
            None => {}
        }
        if f.quote {
            out.push('"');
        }
    }
}

fn var(out: &mut String, v: Var, f: Flags, r: &Record) {
    use std::net::IpAddr;
    let ip = |out: &mut String, a: Option<IpAddr>| match (a, f.hex) {
        (Some(IpAddr::V4(v4)), true) => {
            let _ = write!(out, "{:08X}", u32::from(v4));
        }
        (Some(IpAddr::V4(v4)), false) => {
            let o = v4.octets();
            for (i, b) in o.iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                push_num(out, *b);
            }
        }
        (Some(a), _) => {
            let _ = write!(out, "{}", a.to_canonical());
        }
        (None, _) => out.push('-'),
    };
    let port = |out: &mut String, p: Option<u16>| match (p, f.hex) {
        (Some(p), true) => {
            let _ = write!(out, "{p:04X}");
        }
        (Some(p), false) => push_num(out, p),
        (None, _) => out.push('-'),
    };
    let num = |out: &mut String, n: u64| push_num(out, n);
    match v {
        Var::ClientIp => ip(out, Some(r.client.ip())),
        Var::ClientPort => port(out, Some(r.client.port())),
        Var::FrontendIp => ip(out, r.local.map(|a| a.ip())),
        Var::FrontendPort => port(out, r.local.map(|a| a.port())),
        Var::Date => super::time::accept_date(out, r.accept, true),
        Var::LocalDate => super::time::clf_date(out, r.accept, true),
        Var::GmtDate => super::time::clf_date(out, r.accept, false),
        Var::RequestDate => super::time::accept_date(out, r.request, true),
        Var::RequestLocalDate => super::time::clf_date(out, r.request, true),
        Var::RequestGmtDate => super::time::clf_date(out, r.request, false),
        Var::Timestamp => {
            let s = super::time::unix_secs(r.accept);
            if f.hex {
                let _ = write!(out, "{s:08X}");
            } else {
                let _ = write!(out, "{s}");
            }
        }
        Var::Millis => {
            let _ = write!(out, "{:03}", super::time::millis(r.accept));
        }
        Var::Frontend => string(out, r.frontend, f),
        Var::FrontendTransport => {
            string(out, r.frontend, Flags { quote: false, ..f });
            if r.tls {
                out.push('~');
            }
        }
        Var::Backend => string(out, r.backend.unwrap_or(r.frontend), f),
        Var::Server => string(out, r.server.unwrap_or("<NOSRV>"), f),
        Var::ServerIp => ip(out, r.server_addr.map(|a| a.ip())),
        Var::ServerPort => port(out, r.server_addr.map(|a| a.port())),
        Var::BackendSourceIp => ip(out, r.source_addr.map(|a| a.ip())),
        Var::BackendSourcePort => port(out, r.source_addr.map(|a| a.port())),
        Var::Th => ms(out, Some(0)),
        Var::Ti => ms(out, r.t_idle),
        Var::TR => ms(out, r.t_request),
        Var::Tq => ms(out, r.t_request.map(|t| t + r.t_idle.unwrap_or(0))),
        Var::Tw => ms(out, r.t_queue),
        Var::Tc => ms(out, r.t_connect),
        Var::Tr => ms(out, r.t_response),
        Var::Ta => ms(out, r.t_active),
        Var::Tt => ms(out, r.t_total),
        Var::Td => ms(
            out,
            r.t_total.map(|t| {
                t - r.t_request.unwrap_or(0)
                    - r.t_queue.unwrap_or(0)
                    - r.t_connect.unwrap_or(0)
                    - r.t_response.unwrap_or(0)
            }),
        ),
        Var::Tu => ms(out, r.t_total.map(|t| t - r.t_idle.unwrap_or(0))),
        Var::Status => match r.status {
            Some(s) => num(out, u64::from(s)),
            None => out.push_str("-1"),
        },
        Var::BytesRead => num(out, r.bytes_out),
        Var::BytesUploaded => num(out, r.bytes_in),
        Var::CapturedReqCookie | Var::CapturedResCookie => {
            let cookie = if v == Var::CapturedReqCookie {
                r.req_cookie
            } else {
                r.res_cookie
            };
            match (cookie, f.quote) {
                (Some(c), _) => string(out, c, f),
                (None, true) => out.push_str("\"\""),
                (None, false) => out.push('-'),
            }
        }
        Var::TermState => string(out, std::str::from_utf8(&r.term).unwrap_or("--"), f),
        Var::TermStateCookie => {
            string(
                out,
                std::str::from_utf8(&r.term).unwrap_or("--"),
                Flags { quote: false, ..f },
            );
            out.push_str(std::str::from_utf8(&r.persistence).unwrap_or("--"));
        }
        Var::ActConn => num(out, u64::from(r.actconn)),
        Var::FeConn => num(out, u64::from(r.feconn)),
        Var::BeConn => num(out, u64::from(r.beconn)),
        Var::SrvConn => num(out, u64::from(r.srvconn)),
        Var::Retries => num(out, u64::from(r.retries)),
        Var::SrvQueue => num(out, 0),
        Var::BeQueue => num(out, u64::from(r.backend_queue)),
        Var::CapturedReqHeaders | Var::CapturedResHeaders | Var::CapturedReqHeaderList | Var::CapturedResHeaderList => {
            let request = matches!(v, Var::CapturedReqHeaders | Var::CapturedReqHeaderList);
            let braced = matches!(v, Var::CapturedReqHeaders | Var::CapturedResHeaders);
            match (if request { r.req_captures } else { r.res_captures }, braced) {
                (Some(caps), true) => captures_braced(out, caps, f),
                (Some(caps), false) => captures_listed(out, caps, f),
                // Nothing captured: the field and the space before it disappear, as in HAProxy.
                (None, _) => {
                    if out.ends_with(' ') {
                        out.pop();
                    }
                }
            }
        }
        Var::Request => match &r.http {
            Some(h) => {
                let unquoted = Flags { quote: false, ..f };
                if f.quote {
                    out.push('"');
                }
                string(out, h.method.as_str(), unquoted);
                out.push(' ');
                uri(out, h, unquoted);
                out.push(' ');
                out.push_str(h.version_str());
                if f.quote {
                    out.push('"');
                }
            }
            None => string(out, "<BADREQ>", f),
        },
        Var::Method => string(out, r.http.as_ref().map_or("-", |h| h.method.as_str()), f),
        Var::Uri => match &r.http {
            Some(h) => {
                if f.quote {
                    out.push('"');
                }
                uri(out, h, Flags { quote: false, ..f });
                if f.quote {
                    out.push('"');
                }
            }
            None => string(out, "-", f),
        },
        Var::Path => {
            let mut s = String::new();
            if let Some(h) = &r.http {
                uri(&mut s, h, Flags::default());
            }
            string(out, s.split('?').next().unwrap_or(""), f)
        }
        Var::PathOnly => string(out, r.http.as_ref().map_or("-", |h| h.uri.path()), f),
        Var::Query => match r.http.as_ref().and_then(|h| h.uri.query()) {
            Some(q) => string(out, &format!("?{q}"), f),
            None => string(out, "", f),
        },
        Var::Version => string(out, r.http.as_ref().map_or("-", |h| h.version_str()), f),
        Var::Pid => {
            let p = std::process::id();
            if f.hex {
                let _ = write!(out, "{p:08X}");
            } else {
                let _ = write!(out, "{p}");
            }
        }
        Var::Hostname => string(out, super::time::hostname(), f),
        Var::RequestCounter | Var::LogCounter => num(out, r.counter),
        Var::UniqueId => string(out, r.unique_id.unwrap_or("-"), f),
    }
}

/// A request's target as it came: the path and query, or the whole absolute form.
fn uri(out: &mut String, h: &super::HttpLine, f: Flags) {
    let t = h.target();
    if t.is_empty() {
        string(out, &h.uri.to_string(), f);
    } else {
        string(out, t, f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_formats_compile() {
        assert!(Format::parse(TCPLOG).is_ok());
        assert!(Format::parse(HTTPLOG).is_ok());
        assert!(Format::parse(HTTPSLOG).is_ok());
    }

    #[test]
    fn unknown_variables_and_flags_are_errors() {
        assert!(Format::parse("%zz").unwrap_err().contains("'%zz'"));
        assert!(Format::parse("%{+Z}r").unwrap_err().contains("unknown flag"));
        // Found by the fuzzer: a flag starting with a multi-byte character.
        assert!(Format::parse("%{\u{fffd}Q}").unwrap_err().contains("must start with"));
        let f = Format::parse("%[src] %{+Q}[hdr(host),lower] %[var(txn.x)]").unwrap();
        assert_eq!(f.exprs().len(), 3);
        let at = std::time::SystemTime::UNIX_EPOCH;
        let mut r = Record::new("f", "192.0.2.1:1".parse().unwrap(), None, at);
        let values = [Some("192.0.2.1".into()), Some("a.test".into()), None];
        r.samples = &values;
        assert_eq!(f.render(&r), "192.0.2.1 \"a.test\" -");
        assert!(Format::parse("%[src").is_err());
        assert!(Format::parse("%[nope]").is_err());
        assert_eq!(Format::parse("100%% %%").unwrap().0, vec![Node::Text("100% %".into())]);
    }

    #[test]
    fn request_variables_follow_the_target_as_it_came() {
        let at = std::time::UNIX_EPOCH;
        let fmt = Format::parse("%HM|%HU|%HP|%HPO|%HQ|%HV|%{+Q}r").unwrap();
        let mut r = Record::new("f", "192.0.2.1:1".parse().unwrap(), None, at);
        let line = |uri: &str| super::super::HttpLine {
            method: http::Method::GET,
            uri: uri.parse().unwrap(),
            version: http::Version::HTTP_11,
        };
        r.http = Some(line("/r/2?q=2"));
        assert_eq!(
            fmt.render(&r),
            "GET|/r/2?q=2|/r/2|/r/2|?q=2|HTTP/1.1|\"GET /r/2?q=2 HTTP/1.1\""
        );
        r.http = Some(line("http://localhost/r/3"));
        assert_eq!(
            fmt.render(&r),
            "GET|http://localhost/r/3|http://localhost/r/3|/r/3||HTTP/1.1|\"GET http://localhost/r/3 HTTP/1.1\""
        );
    }
}
