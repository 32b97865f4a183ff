//! Health-check rules: `http-check connect|send|expect`, the options of a check's `connect`
//! (`tcp-check` ones too), and where `tcp-check` lines go.

use super::{Ctx, NotActed, Res};
use crate::ast::Directive;
use crate::model::ProxyOptions;
use crate::model::{CheckConnect, ExpectMatch, HeaderMatch, HttpCheckRule, HttpExpect, HttpSend};

/// Parses `http-check expect [options] [!] MATCH PATTERN`. Of HAProxy's options, `comment`
/// is kept; `min-recv` has no effect (Clearway reads the whole answer, up to 16 kB, before
/// judging); `on-success`/`on-error` only change the message reported, and Clearway keeps
/// its own; the statuses may only be their defaults.
pub fn http_expect(d: &Directive) -> Result<HttpExpect, String> {
    let mut words = d
        .words
        .get(2..)
        .unwrap_or_default()
        .iter()
        .map(String::as_str)
        .peekable();
    let mut comment = None;
    while let Some(w) = words.peek().copied() {
        let defaults: &[&str] = match w {
            "ok-status" => &["L7OK"],
            "error-status" => &["L7RSP"],
            "tout-status" => &["L7TOUT"],
            "min-recv" | "comment" | "on-success" | "on-error" => &[],
            "status-code" => return Err("'http-check expect status-code' is not supported yet".into()),
            _ => break,
        };
        words.next();
        let v = words
            .next()
            .ok_or_else(|| format!("'http-check expect {w}' expects a value"))?;
        if !defaults.is_empty() && !defaults.contains(&v) {
            return Err(format!(
                "'http-check expect {w} {v}' is not supported yet (only {}, the default)",
                defaults[0]
            ));
        }
        if w == "comment" {
            comment = Some(v.to_string());
        }
    }
    let mut negate = false;
    if words.peek() == Some(&"!") {
        negate = true;
        words.next();
    }
    let kind = words
        .next()
        .ok_or("'http-check expect' expects a match: status, rstatus, string, rstring, hdr or fhdr")?;
    let rest: Vec<&str> = words.collect();
    let matcher = match (kind, rest.as_slice()) {
        ("hdr" | "fhdr", args) => header_match(kind == "fhdr", args)?,
        (_, [pattern]) => match kind {
            "status" => ExpectMatch::Status(status_list(pattern)?),
            "string" => ExpectMatch::String(pattern.to_string()),
            "rstatus" => ExpectMatch::RStatus(regex(pattern)?),
            "rstring" => ExpectMatch::RString(regex(pattern)?),
            "string-lf" => return Err("'http-check expect string-lf' is not supported yet".into()),
            other => {
                return Err(format!(
                    "unknown 'http-check expect' match '{other}' (status, rstatus, string, rstring, hdr or fhdr)"
                ))
            }
        },
        (_, []) => return Err(format!("'http-check expect {kind}' expects a pattern")),
        (_, [_, extra, ..]) => return Err(format!("unexpected '{extra}' after the pattern of 'http-check expect'")),
    };
    Ok(HttpExpect {
        span: d.span.clone(),
        negate,
        matcher,
        comment,
    })
}

/// `name [-m METH] NAME [value [-m METH] VALUE]` of `http-check expect hdr|fhdr`.
fn header_match(full: bool, mut args: &[&str]) -> Result<ExpectMatch, String> {
    let kind = if full { "fhdr" } else { "hdr" };
    let part = |word: &str, args: &mut &[&str]| -> Result<Option<(HeaderMatch, String)>, String> {
        match *args {
            [] => Ok(None),
            [w, rest @ ..] if *w == word => {
                let (m, rest) = match rest {
                    ["-m", m, rest @ ..] => (
                        match *m {
                            "str" => HeaderMatch::Str,
                            "beg" => HeaderMatch::Beg,
                            "end" => HeaderMatch::End,
                            "sub" => HeaderMatch::Sub,
                            "reg" => HeaderMatch::Reg,
                            other => {
                                return Err(format!(
                                    "'http-check expect {kind} {word} -m {other}': expected str, beg, end, sub or reg"
                                ))
                            }
                        },
                        rest,
                    ),
                    r => (HeaderMatch::Str, r),
                };
                let [v, rest @ ..] = rest else {
                    return Err(format!("'http-check expect {kind} {word}' expects a pattern"));
                };
                if m == HeaderMatch::Reg {
                    // Names match without case (ASCII), as the check compiles them.
                    regex(&if word == "name" {
                        format!("(?i-u){v}")
                    } else {
                        v.to_string()
                    })?;
                }
                *args = rest;
                Ok(Some((m, v.to_string())))
            }
            [w, ..] if w.ends_with("-lf") => Err(format!("'http-check expect {kind} {w}' is not supported yet")),
            [w, ..] => Err(format!(
                "'http-check expect {kind}': unexpected '{w}' (expected '{word}')"
            )),
        }
    };
    let name = part("name", &mut args)?.ok_or_else(|| format!("'http-check expect {kind}' expects 'name NAME'"))?;
    let value = part("value", &mut args)?;
    if let Some(extra) = args.first() {
        return Err(format!("unexpected '{extra}' in 'http-check expect {kind}'"));
    }
    Ok(ExpectMatch::Header { full, name, value })
}

/// Parses `http-check connect|send|expect|comment ...` into a rule (None: a rule that only
/// comments). `disable-on-404`, `send-state` and `set-var` are the caller's.
pub fn http_check(d: &Directive) -> Result<Option<HttpCheckRule>, String> {
    let w: Vec<&str> = d
        .words
        .get(2..)
        .unwrap_or_default()
        .iter()
        .map(String::as_str)
        .collect();
    match d.arg(1) {
        Some("expect") => Ok(Some(HttpCheckRule::Expect(http_expect(d)?))),
        Some("connect") => connect_options("http-check connect", &w).map(|(c, _)| Some(HttpCheckRule::Connect(c))),
        Some("send") => http_send(&w).map(|s| Some(HttpCheckRule::Send(s))),
        Some("comment") if w.len() == 1 => Ok(None),
        Some("comment") => Err("'http-check comment' expects one text (quote it)".into()),
        Some(other) => Err(format!(
            "unknown 'http-check' rule '{other}' (connect, send, expect, comment, disable-on-404, send-state)"
        )),
        None => Err("'http-check' expects a rule, e.g. 'http-check expect status 200'".into()),
    }
}

/// The options of `KW` (`http-check connect`, `tcp-check connect`), in any order, and its
/// `comment`.
pub(super) fn connect_options(kw: &str, mut opts: &[&str]) -> Result<(CheckConnect, Option<String>), String> {
    let mut c = CheckConnect::default();
    let mut comment = None;
    loop {
        opts = match opts {
            [] => return Ok((c, comment)),
            ["default", rest @ ..] => {
                c.default = true;
                rest
            }
            ["port", p, rest @ ..] => {
                c.port =
                    Some(p.parse().ok().filter(|&p: &u16| p > 0).ok_or_else(|| {
                        format!("'{kw} port {p}': expected a port (expressions are not supported yet)")
                    })?);
                rest
            }
            ["addr", a, rest @ ..] => {
                // An address, with a port if it says one.
                match (a.parse(), a.parse::<std::net::SocketAddr>()) {
                    (Ok(ip), _) => c.addr = Some(ip),
                    (_, Ok(sa)) => {
                        c.addr = Some(sa.ip());
                        c.port = Some(sa.port());
                    }
                    _ => return Err(format!("'{kw} addr {a}': not an IP address")),
                }
                rest
            }
            ["send-proxy", rest @ ..] => {
                c.send_proxy = true;
                rest
            }
            ["ssl", rest @ ..] => {
                c.ssl = true;
                rest
            }
            ["sni", n, rest @ ..] => {
                c.sni = Some(n.to_string());
                rest
            }
            ["alpn", a, rest @ ..] => {
                c.alpn = Some(a.to_string());
                rest
            }
            ["linger", rest @ ..] => {
                c.linger = true;
                rest
            }
            ["comment", t, rest @ ..] => {
                comment = Some(t.to_string());
                rest
            }
            [w @ ("via-socks4" | "proto"), ..] => {
                return Err(format!("'{kw} {w}' is not supported yet"));
            }
            [w @ ("port" | "addr" | "sni" | "alpn" | "comment")] => {
                return Err(format!("'{kw} {w}' expects a value"));
            }
            [other, ..] => {
                return Err(format!(
                    "unknown '{kw}' option '{other}' (default, port, addr, send-proxy, ssl, sni, alpn, linger, comment)"
                ))
            }
        }
    }
}

fn http_send(mut opts: &[&str]) -> Result<HttpSend, String> {
    let mut s = HttpSend::default();
    // A value with a log-format expression would be sent as written: refused.
    let literal = |what: &str, v: &str| {
        if v.contains('%') {
            Err(format!(
                "'http-check send {what} {v}': log-format values are not supported yet"
            ))
        } else {
            Ok(v.to_string())
        }
    };
    loop {
        opts = match opts {
            [] => return Ok(s),
            ["meth", m, rest @ ..] => {
                s.method = Some(m.to_string());
                rest
            }
            ["uri", u, rest @ ..] => {
                s.uri = Some(u.to_string());
                rest
            }
            ["ver", v, rest @ ..] => {
                s.version = Some(v.to_string());
                rest
            }
            ["hdr", n, v, rest @ ..] => {
                if n.is_empty() || !n.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
                    return Err(format!("'http-check send hdr {n}': not a header name"));
                }
                s.headers.push((n.to_string(), literal("hdr", v)?));
                rest
            }
            ["body", b, rest @ ..] => {
                s.body = Some(literal("body", b)?);
                rest
            }
            ["comment", _, rest @ ..] => rest,
            [w @ ("uri-lf" | "body-lf"), ..] => return Err(format!("'http-check send {w}' is not supported yet")),
            [w @ ("meth" | "uri" | "ver" | "body" | "comment")] | [w @ "hdr", ..] => {
                return Err(format!("'http-check send {w}' expects a value"))
            }
            [other, ..] => {
                return Err(format!(
                    "unknown 'http-check send' option '{other}' (meth, uri, ver, hdr, body, comment)"
                ))
            }
        }
    }
}

/// `200`, `200-399`, `200,204,300-399`.
fn status_list(s: &str) -> Result<Vec<(u16, u16)>, String> {
    s.split(',')
        .map(|part| {
            let code = |c: &str| c.parse::<u16>().ok().filter(|c| (100..=599).contains(c));
            let (lo, hi) = match part.split_once('-') {
                Some((a, b)) => (code(a), code(b)),
                None => (code(part), code(part)),
            };
            match (lo, hi) {
                (Some(lo), Some(hi)) if lo <= hi => Ok((lo, hi)),
                _ => Err(format!(
                    "invalid status '{part}' in 'http-check expect status': use codes like 200 or 200-399"
                )),
            }
        })
        .collect()
}

/// The section's first check rule (`http-check`, `tcp-check`, `option httpchk`): as in
/// HAProxy, its rules replace those of its defaults section, the request of `option httpchk`
/// included (back to `OPTIONS / HTTP/1.0` unless this section says otherwise).
pub(super) fn own_check_rules(own: &mut bool, o: &mut ProxyOptions) {
    if std::mem::replace(own, true) {
        return;
    }
    o.tcp_check.clear();
    o.http_check.clear();
    o.disable_on_404 = false;
    o.send_state = false;
    if let crate::model::CheckKind::Http(h) = &mut o.check {
        *h = Default::default();
    }
}

/// A proxy's `external-check`, `tcp-check` or `http-check` line.
pub(super) fn apply(d: &Directive, o: &mut ProxyOptions, ctx: &mut Ctx) -> Res<()> {
    let kw = d.keyword();
    match (kw, d.arg(1)) {
        ("external-check", _) => {
            let (what, v) = match (d.arg(1), d.arg(2)) {
                (Some(w @ ("command" | "path")), Some(v)) if d.words.len() == 3 => (w, v),
                _ => return Err(("'external-check' expects 'command PROGRAM' or 'path PATH'".into(), None)),
            };
            if what == "command" {
                o.external_command = Some(v.to_string());
            } else {
                o.external_path = Some(v.to_string());
            }
        }
        ("tcp-check", _) => {
            let words: Vec<&str> = d.words[1..].iter().map(String::as_str).collect();
            let rule = super::tcp_check::rule(&words).map_err(|e| (e, None))?;
            super::tcp_check::push(&mut o.tcp_check, rule).map_err(|e| (e, None))?;
        }
        (_, Some("disable-on-404")) => o.disable_on_404 = true,
        (_, Some("send-state")) => o.send_state = true,
        (_, Some(r)) if r.starts_with("set-var") || r.starts_with("unset-var") => {
            o.check_rules.push((d.span.clone(), d.words.clone()));
            // Variables feed the rules that decide which servers get traffic.
            ctx.not_acted(&d.span, &format!("'{kw} {r}'"), "http-check", NotActed::Unsupported);
        }
        _ => {
            let rule = http_check(d).map_err(|e| (e, None))?;
            let connects = o.http_check.iter().any(|r| matches!(r, HttpCheckRule::Connect(_)));
            if matches!(rule, Some(HttpCheckRule::Connect(_))) && !connects && !o.http_check.is_empty() {
                return Err((
                    "'http-check connect' must be the first rule when there is one (before any send or expect)".into(),
                    None,
                ));
            }
            o.http_check.extend(rule);
        }
    }
    Ok(())
}

/// Checks that `pattern` is a valid regular expression and returns it.
pub(super) fn regex(pattern: &str) -> Result<String, String> {
    regex::bytes::Regex::new(pattern).map_err(|e| format!("invalid regular expression '{pattern}': {e}"))?;
    Ok(pattern.to_string())
}

pub(super) fn unhex(h: &str) -> Result<Vec<u8>, String> {
    if h.len() % 2 != 0 || !h.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!("'{h}' is not an even number of hex digits"));
    }
    (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&h[i..i + 2], 16).map_err(|e| e.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Span;

    fn parse(line: &str) -> Result<HttpExpect, String> {
        let d = Directive {
            span: Span {
                file: "t".into(),
                line: 1,
            },
            words: line.split_whitespace().map(String::from).collect(),
        };
        http_expect(&d)
    }

    #[test]
    fn expect_forms() {
        assert_eq!(
            parse("http-check expect status 200").unwrap().matcher,
            ExpectMatch::Status(vec![(200, 200)])
        );
        assert_eq!(
            parse("http-check expect status 200-399,404").unwrap().matcher,
            ExpectMatch::Status(vec![(200, 399), (404, 404)])
        );
        let e = parse("http-check expect ! string maintenance").unwrap();
        assert!(e.negate);
        assert_eq!(e.matcher, ExpectMatch::String("maintenance".into()));
        assert!(parse("http-check expect comment x status 200").is_ok());
        assert!(parse("http-check expect status abc")
            .unwrap_err()
            .contains("invalid status"));
        assert_eq!(
            parse("http-check expect rstring ^ok").unwrap().matcher,
            ExpectMatch::RString("^ok".into())
        );
        assert_eq!(
            parse("http-check expect rstatus ^2").unwrap().matcher,
            ExpectMatch::RStatus("^2".into())
        );
        assert!(parse("http-check expect rstring [")
            .unwrap_err()
            .contains("invalid regular expression"));
        assert!(parse("http-check expect hdr x-check")
            .unwrap_err()
            .contains("expected 'name'"));
        assert_eq!(
            parse("http-check expect comment up ! hdr name -m beg X-St value -m reg ^(ok|up)$").unwrap(),
            HttpExpect {
                span: Span {
                    file: "t".into(),
                    line: 1
                },
                negate: true,
                matcher: ExpectMatch::Header {
                    full: false,
                    name: (HeaderMatch::Beg, "X-St".into()),
                    value: Some((HeaderMatch::Reg, "^(ok|up)$".into())),
                },
                comment: Some("up".into()),
            }
        );
        assert_eq!(
            parse("http-check expect fhdr name etag").unwrap().matcher,
            ExpectMatch::Header {
                full: true,
                name: (HeaderMatch::Str, "etag".into()),
                value: None
            }
        );
        for (line, needle) in [
            ("http-check expect hdr name x value", "expects a pattern"),
            ("http-check expect hdr name -m any x", "expected str, beg"),
            ("http-check expect hdr name x extra y", "unexpected 'extra'"),
            ("http-check expect hdr name-lf x", "not supported yet"),
            ("http-check expect ok-status L7OKC status 200", "not supported yet"),
            ("http-check expect status-code 1 status 200", "not supported yet"),
            ("http-check expect string-lf %[x]", "not supported yet"),
            ("http-check expect status 200 201", "unexpected '201'"),
        ] {
            assert!(parse(line).unwrap_err().contains(needle), "{line}: {:?}", parse(line));
        }
        assert!(parse("http-check expect ok-status L7OK min-recv 10 on-error x status 200").is_ok());
    }

    fn rule(line: &str) -> Result<Option<HttpCheckRule>, String> {
        http_check(&Directive {
            span: Span {
                file: "t".into(),
                line: 1,
            },
            words: line.split_whitespace().map(String::from).collect(),
        })
    }

    #[test]
    fn connect_and_send_forms() {
        assert_eq!(
            rule("http-check connect default port 8443 addr 192.0.2.9 ssl sni a.example alpn h2 linger send-proxy comment c")
                .unwrap(),
            Some(HttpCheckRule::Connect(CheckConnect {
                default: true,
                port: Some(8443),
                addr: Some("192.0.2.9".parse().unwrap()),
                send_proxy: true,
                ssl: true,
                sni: Some("a.example".into()),
                alpn: Some("h2".into()),
                linger: true,
            }))
        );
        assert_eq!(
            rule("http-check send meth GET uri /health ver HTTP/1.1 hdr Host a.example hdr X-A 1 body hi").unwrap(),
            Some(HttpCheckRule::Send(HttpSend {
                method: Some("GET".into()),
                uri: Some("/health".into()),
                version: Some("HTTP/1.1".into()),
                headers: vec![("Host".into(), "a.example".into()), ("X-A".into(), "1".into())],
                body: Some("hi".into()),
            }))
        );
        assert_eq!(rule("http-check comment hello").unwrap(), None);
        for (line, needle) in [
            ("http-check connect port ${X}", "expected a port"),
            ("http-check connect proto fcgi", "not supported yet"),
            ("http-check connect via-socks4", "not supported yet"),
            ("http-check connect sni", "expects a value"),
            ("http-check connect frob", "unknown 'http-check connect' option"),
            ("http-check send uri-lf /%[src]", "not supported yet"),
            ("http-check send hdr X-Src %[src]", "log-format values"),
            ("http-check send hdr X-A", "expects a value"),
            ("http-check send meth", "expects a value"),
            ("http-check send frob 1", "unknown 'http-check send' option"),
            ("http-check frob", "unknown 'http-check' rule"),
            ("http-check", "expects a rule"),
        ] {
            assert!(rule(line).unwrap_err().contains(needle), "{line}: {:?}", rule(line));
        }
    }
}
