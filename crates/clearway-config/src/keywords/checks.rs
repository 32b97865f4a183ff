//! Health-check rules: `http-check expect [!] status CODES | string TEXT`.

use crate::ast::Directive;
use crate::model::{ExpectMatch, HttpExpect, TcpCheckRule, TcpExpect};

/// Parses `http-check expect [!] status|string PATTERN` (HAProxy's options before the matcher,
/// such as `min-recv` or `comment`, are skipped with their value).
pub fn http_expect(d: &Directive) -> Result<HttpExpect, String> {
    let mut words = d.words[2..].iter().map(String::as_str).peekable();
    while let Some(w) = words.peek() {
        match *w {
            "min-recv" | "comment" | "ok-status" | "error-status" | "tout-status" | "on-success" | "on-error"
            | "status-code" => {
                words.next();
                words.next();
            }
            _ => break,
        }
    }
    let mut negate = false;
    if words.peek() == Some(&"!") {
        negate = true;
        words.next();
    }
    let kind = words
        .next()
        .ok_or("'http-check expect' expects 'status CODES' or 'string TEXT'")?;
    let pattern = words
        .next()
        .ok_or_else(|| format!("'http-check expect {kind}' expects a pattern"))?;
    if let Some(extra) = words.next() {
        return Err(format!("unexpected '{extra}' after the pattern of 'http-check expect'"));
    }
    let matcher = match kind {
        "status" => ExpectMatch::Status(status_list(pattern)?),
        "string" => ExpectMatch::String(pattern.to_string()),
        "rstatus" => ExpectMatch::RStatus(regex(pattern)?),
        "rstring" => ExpectMatch::RString(regex(pattern)?),
        "hdr" | "fhdr" => {
            return Err(format!(
                "'http-check expect {kind}' is not supported yet (status and string are)"
            ))
        }
        other => {
            return Err(format!(
                "unknown 'http-check expect' matcher '{other}' (expected status or string)"
            ))
        }
    };
    Ok(HttpExpect {
        span: d.span.clone(),
        negate,
        matcher,
    })
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

/// The options of `tcp-check connect`, in any order: `port N` and `linger`.
fn connect_rule(mut opts: &[&str]) -> Result<TcpCheckRule, String> {
    let (mut port, mut linger) = (None, false);
    loop {
        opts = match opts {
            [] => return Ok(TcpCheckRule::Connect { port, linger }),
            ["port", p, rest @ ..] => {
                let p = p
                    .parse()
                    .ok()
                    .filter(|&p: &u16| p > 0)
                    .ok_or_else(|| format!("invalid port '{p}'"))?;
                port = Some(p);
                rest
            }
            ["port"] => return Err("'tcp-check connect port' expects a port number".into()),
            ["linger", rest @ ..] => {
                linger = true;
                rest
            }
            [other, ..] => {
                return Err(format!(
                    "'tcp-check connect' option '{other}' is not supported yet (port and linger are)"
                ))
            }
        }
    }
}

/// Parses `tcp-check connect [port N] [linger] | send STR | send-binary HEX | expect [!] string|binary PAT`.
pub fn tcp_check(d: &Directive) -> Result<TcpCheckRule, String> {
    let w: Vec<&str> = d.words[1..].iter().map(String::as_str).collect();
    match w.as_slice() {
        ["connect", opts @ ..] => connect_rule(opts),
        ["send", text] => Ok(TcpCheckRule::Send(text.as_bytes().to_vec())),
        ["send-binary", hex] => Ok(TcpCheckRule::Send(unhex(hex)?)),
        ["expect", rest @ ..] => {
            let (negate, rest) = match rest {
                ["!", r @ ..] => (true, r),
                r => (false, r),
            };
            match rest {
                ["string", s] => Ok(TcpCheckRule::Expect {
                    negate,
                    matcher: TcpExpect::Bytes(s.as_bytes().to_vec()),
                }),
                ["binary", h] => Ok(TcpCheckRule::Expect {
                    negate,
                    matcher: TcpExpect::Bytes(unhex(h)?),
                }),
                ["rstring", r] => Ok(TcpCheckRule::Expect {
                    negate,
                    matcher: TcpExpect::Regex(regex(r)?),
                }),
                [kind, ..] if kind.starts_with('r') => Err(format!(
                    "'tcp-check expect {kind}' is not supported yet (string, binary and rstring are)"
                )),
                _ => Err("'tcp-check expect' takes [!] string TEXT, binary HEX or rstring REGEX".into()),
            }
        }
        ["comment", ..] | ["set-var" | "unset-var", ..] => Err(format!("'tcp-check {}' is not supported yet", w[0])),
        [other, ..] => Err(format!(
            "unknown 'tcp-check' rule '{other}' (expected connect, send, send-binary or expect)"
        )),
        [] => Err("'tcp-check' expects a rule: connect, send, send-binary or expect".into()),
    }
}

/// Checks that `pattern` is a valid regular expression and returns it.
fn regex(pattern: &str) -> Result<String, String> {
    regex::bytes::Regex::new(pattern).map_err(|e| format!("invalid regular expression '{pattern}': {e}"))?;
    Ok(pattern.to_string())
}

fn unhex(h: &str) -> Result<Vec<u8>, String> {
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

    fn tcp(line: &str) -> Result<TcpCheckRule, String> {
        let d = Directive {
            span: Span {
                file: "t".into(),
                line: 1,
            },
            words: line.split_whitespace().map(String::from).collect(),
        };
        tcp_check(&d)
    }

    #[test]
    fn tcp_check_forms() {
        assert_eq!(
            tcp("tcp-check connect port 6379").unwrap(),
            TcpCheckRule::Connect {
                port: Some(6379),
                linger: false
            }
        );
        assert_eq!(
            tcp("tcp-check connect linger port 81").unwrap(),
            TcpCheckRule::Connect {
                port: Some(81),
                linger: true
            }
        );
        assert_eq!(
            tcp("tcp-check connect").unwrap(),
            TcpCheckRule::Connect {
                port: None,
                linger: false
            }
        );
        assert!(tcp("tcp-check connect port").is_err());
        assert!(tcp("tcp-check connect port 0").is_err());
        assert!(tcp("tcp-check connect ssl")
            .unwrap_err()
            .contains("'ssl' is not supported yet"));
        assert_eq!(
            tcp("tcp-check send PING\\r\\n").unwrap(),
            TcpCheckRule::Send(b"PING\\r\\n".to_vec())
        );
        assert_eq!(
            tcp("tcp-check send-binary 0a0B").unwrap(),
            TcpCheckRule::Send(vec![0x0a, 0x0b])
        );
        assert_eq!(
            tcp("tcp-check expect ! string -ERR").unwrap(),
            TcpCheckRule::Expect {
                negate: true,
                matcher: TcpExpect::Bytes(b"-ERR".to_vec())
            }
        );
        assert!(tcp("tcp-check send-binary 0g").is_err());
        assert_eq!(
            tcp(r"tcp-check expect rstring ^\+PONG").unwrap(),
            TcpCheckRule::Expect {
                negate: false,
                matcher: TcpExpect::Regex(r"^\+PONG".into())
            }
        );
        assert!(tcp("tcp-check expect rstring (")
            .unwrap_err()
            .contains("invalid regular expression"));
        assert!(tcp("tcp-check expect rbinary 00")
            .unwrap_err()
            .contains("not supported yet"));
        assert!(tcp("tcp-check frobnicate").unwrap_err().contains("unknown"));
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
            .contains("not supported yet"));
    }
}
