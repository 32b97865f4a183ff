//! `tcp-check connect|send|send-binary|expect|comment` rules, and the order HAProxy requires
//! of them (a ruleset with a `connect` starts with one).

use super::checks::{connect_options, regex, unhex};
use crate::model::{TcpCheckExpect, TcpCheckRule, TcpExpect};

/// HAProxy's results an `expect` may report instead of its defaults, by option.
fn status(option: &str, word: &str) -> Result<&'static str, String> {
    let allowed: &[(&str, &str)] = match option {
        "ok-status" => &[
            ("L7OK", "Layer7 check passed"),
            ("L7OKC", "Layer7 check conditionally passed"),
            ("L6OK", "Layer6 check passed"),
            ("L4OK", "Layer4 check passed"),
        ],
        "error-status" => &[
            ("L7OKC", "Layer7 check conditionally passed"),
            ("L7RSP", "Layer7 invalid response"),
            ("L7STS", "Layer7 wrong status"),
            ("L6RSP", "Layer6 invalid response"),
            ("L4CON", "Layer4 connection problem"),
        ],
        _ => &[
            ("L7TOUT", "Layer7 timeout"),
            ("L6TOUT", "Layer6 timeout"),
            ("L4TOUT", "Layer4 timeout"),
        ],
    };
    allowed
        .iter()
        .find(|(w, _)| *w == word)
        .map(|(_, r)| *r)
        .ok_or_else(|| {
            let names: Vec<&str> = allowed.iter().map(|(w, _)| *w).collect();
            format!(
                "'tcp-check expect {option} {word}': expected one of {}",
                names.join(", ")
            )
        })
}

/// A message of `on-success`/`on-error`: plain text (log-format variables are not supported
/// yet).
fn message(option: &str, text: &str) -> Result<String, String> {
    if text.contains('%') {
        return Err(format!(
            "'tcp-check expect {option}': log-format variables are not supported yet (plain text is)"
        ));
    }
    Ok(text.to_string())
}

/// `[!] string|binary|rstring|rbinary PATTERN` (`!` alone or before the kind, `!rstring`),
/// then what follows it.
fn matcher<'a, 'w>(words: &'a [&'w str]) -> Result<(bool, TcpExpect, &'a [&'w str]), String> {
    let (negate, rest) = match words {
        ["!", r @ ..] => (true, r),
        r => (false, r),
    };
    let (Some(kind), Some(pattern)) = (rest.first(), rest.get(1)) else {
        return Err(
            "'tcp-check expect' takes [options] [!] string TEXT, binary HEX, rstring REGEX or rbinary REGEX".into(),
        );
    };
    let (negate, kind) = match kind.strip_prefix('!') {
        Some(k) if !negate => (true, k),
        _ => (negate, *kind),
    };
    let m = match [kind, *pattern] {
        ["string", s] => TcpExpect::Bytes {
            data: s.as_bytes().to_vec(),
            binary: false,
        },
        ["binary", h] => TcpExpect::Bytes {
            data: unhex(h)?,
            binary: true,
        },
        ["rstring", r] => TcpExpect::Regex {
            pattern: regex(r)?,
            binary: false,
        },
        ["rbinary", r] => TcpExpect::Regex {
            pattern: regex(r)?,
            binary: true,
        },
        [kind @ ("string-lf" | "binary-lf"), _] => {
            return Err(format!("'tcp-check expect {kind}' is not supported yet"))
        }
        _ => {
            return Err(format!(
                "'tcp-check expect': unknown option or match '{kind}' (string, binary, rstring, rbinary)"
            ))
        }
    };
    Ok((negate, m, &rest[2..]))
}

/// Its options come before or after the match, as HAProxy takes them.
fn expect(mut words: &[&str]) -> Result<TcpCheckExpect, String> {
    let mut e = TcpCheckExpect {
        negate: false,
        matcher: TcpExpect::Bytes {
            data: Vec::new(),
            binary: false,
        },
        min_recv: None,
        comment: None,
        ok_status: None,
        error_status: None,
        tout_status: None,
        on_success: None,
        on_error: None,
    };
    let mut matched = false;
    loop {
        words = match words {
            [] if matched => return Ok(e),
            [] => return Err("'tcp-check expect' needs a match: [!] string|binary|rstring|rbinary PATTERN".into()),
            ["min-recv", n, rest @ ..] => {
                let n: i64 = n
                    .parse()
                    .map_err(|_| format!("'tcp-check expect min-recv {n}': not a number"))?;
                // -1 is HAProxy's "none".
                e.min_recv = usize::try_from(n).ok();
                rest
            }
            ["comment", c, rest @ ..] => {
                e.comment = Some(c.to_string());
                rest
            }
            [o @ ("ok-status" | "error-status" | "tout-status"), s, rest @ ..] => {
                let r = Some(status(o, s)?);
                match *o {
                    "ok-status" => e.ok_status = r,
                    "error-status" => e.error_status = r,
                    _ => e.tout_status = r,
                }
                rest
            }
            [o @ ("on-success" | "on-error"), t, rest @ ..] => {
                let t = Some(message(o, t)?);
                if *o == "on-success" {
                    e.on_success = t;
                } else {
                    e.on_error = t;
                }
                rest
            }
            ["status-code", ..] => return Err("'tcp-check expect status-code' is not supported yet".into()),
            [o @ ("min-recv" | "comment" | "ok-status" | "error-status" | "tout-status" | "on-success" | "on-error")] => {
                return Err(format!("'tcp-check expect {o}' expects a value"))
            }
            m if !matched => {
                let rest;
                (e.negate, e.matcher, rest) = matcher(m)?;
                matched = true;
                rest
            }
            [other, ..] => return Err(format!("'tcp-check expect': unexpected '{other}' after the match")),
        }
    }
}

/// `send TEXT|send-binary HEX [comment C]`.
fn send(kind: &str, words: &[&str]) -> Result<TcpCheckRule, String> {
    let (data, comment) = match words {
        [d] => (*d, None),
        [d, "comment", c] => (*d, Some(c.to_string())),
        _ => {
            return Err(format!(
                "'tcp-check {kind}' expects one argument (quote it), then optionally 'comment TEXT'"
            ))
        }
    };
    let data = if kind == "send-binary" {
        unhex(data)?
    } else {
        data.as_bytes().to_vec()
    };
    Ok(TcpCheckRule::Send { data, comment })
}

/// Parses the words after `tcp-check`.
pub fn rule(w: &[&str]) -> Result<TcpCheckRule, String> {
    match w {
        ["connect", opts @ ..] => {
            let (connect, comment) = connect_options("tcp-check connect", opts)?;
            Ok(TcpCheckRule::Connect { connect, comment })
        }
        [kind @ ("send" | "send-binary"), rest @ ..] => send(kind, rest),
        [kind @ ("send-lf" | "send-binary-lf"), ..] => Err(format!("'tcp-check {kind}' is not supported yet")),
        ["expect", rest @ ..] => Ok(TcpCheckRule::Expect(Box::new(expect(rest)?))),
        ["comment", c] => Ok(TcpCheckRule::Comment(c.to_string())),
        ["comment", ..] => Err("'tcp-check comment' expects one text (quote it)".into()),
        [other, ..] => Err(format!(
            "unknown 'tcp-check' rule '{other}' (expected connect, send, send-binary, expect or comment)"
        )),
        [] => Err("'tcp-check' expects a rule: connect, send, send-binary, expect or comment".into()),
    }
}

/// Adds `rule` to a ruleset as HAProxy does: a `connect` must come first when there is one
/// (after comments only), and a `tcp-check comment` names the rule after it.
pub fn push(rules: &mut Vec<TcpCheckRule>, mut rule: TcpCheckRule) -> Result<(), String> {
    let steps = |r: &TcpCheckRule| !matches!(r, TcpCheckRule::Comment(_));
    let has_connect = rules.iter().any(|r| matches!(r, TcpCheckRule::Connect { .. }));
    if matches!(rule, TcpCheckRule::Connect { .. }) && !has_connect && rules.iter().any(steps) {
        return Err(
            "'tcp-check connect' must be the first rule when there is one (comments may come before it)".into(),
        );
    }
    if let Some(TcpCheckRule::Comment(text)) = rules.last() {
        let text = Some(text.clone());
        match &mut rule {
            TcpCheckRule::Connect { comment, .. } | TcpCheckRule::Send { comment, .. } if comment.is_none() => {
                *comment = text
            }
            TcpCheckRule::Expect(e) if e.comment.is_none() => e.comment = text,
            _ => {}
        }
    }
    rules.push(rule);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::CheckConnect;

    fn tcp(line: &str) -> Result<TcpCheckRule, String> {
        let w: Vec<&str> = line.split_whitespace().collect();
        rule(&w)
    }

    fn expect_of(line: &str) -> TcpCheckExpect {
        match tcp(line) {
            Ok(TcpCheckRule::Expect(e)) => *e,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn connect_and_send_forms() {
        let connect = |line| match tcp(line) {
            Ok(TcpCheckRule::Connect { connect, comment }) => (connect, comment),
            other => panic!("{line}: {other:?}"),
        };
        assert_eq!(connect("connect port 6379").0.port, Some(6379));
        let (c, comment) = connect("connect linger port 81 ssl sni a.test alpn h2 default comment x");
        assert_eq!(
            c,
            CheckConnect {
                default: true,
                port: Some(81),
                ssl: true,
                sni: Some("a.test".into()),
                alpn: Some("h2".into()),
                linger: true,
                ..Default::default()
            }
        );
        assert_eq!(comment.as_deref(), Some("x"));
        assert!(tcp("connect port").is_err());
        assert!(tcp("connect port 0").is_err());
        assert!(tcp("connect via-socks4").unwrap_err().contains("not supported yet"));
        assert_eq!(
            tcp("send PING\\r\\n").unwrap(),
            TcpCheckRule::Send {
                data: b"PING\\r\\n".to_vec(),
                comment: None
            }
        );
        assert_eq!(
            tcp("send-binary 0a0B comment two").unwrap(),
            TcpCheckRule::Send {
                data: vec![0x0a, 0x0b],
                comment: Some("two".into())
            }
        );
        assert!(tcp("send-binary 0g").is_err());
        assert!(tcp("send-lf %[src]").unwrap_err().contains("not supported yet"));
        assert!(tcp("frobnicate").unwrap_err().contains("unknown"));
    }

    #[test]
    fn expect_forms() {
        let e = expect_of("expect ! string -ERR");
        assert!(e.negate);
        assert_eq!(
            e.matcher,
            TcpExpect::Bytes {
                data: b"-ERR".to_vec(),
                binary: false
            }
        );
        let e2 = expect_of(r"expect min-recv 5 comment c error-status L7STS on-error bad ! rbinary ^2B");
        assert_eq!(expect_of(r"expect !rbinary ^2B"), expect_of(r"expect ! rbinary ^2B"));
        assert_eq!(e2.min_recv, Some(5));
        assert_eq!(e2.comment.as_deref(), Some("c"));
        assert_eq!(e2.error_status, Some("Layer7 wrong status"));
        assert_eq!(e2.on_error.as_deref(), Some("bad"));
        assert!(e2.negate);
        assert_eq!(
            e2.matcher,
            TcpExpect::Regex {
                pattern: "^2B".into(),
                binary: true
            }
        );
        assert_eq!(expect_of("expect min-recv -1 string x").min_recv, None);
        assert_eq!(
            expect_of("expect ok-status L6OK string x").ok_status,
            Some("Layer6 check passed")
        );
        assert!(tcp("expect ok-status L7RSP string x")
            .unwrap_err()
            .contains("L7OK, L7OKC"));
        assert!(tcp("expect rstring (")
            .unwrap_err()
            .contains("invalid regular expression"));
        assert!(tcp("expect on-error %[res.payload(0,4)] string x")
            .unwrap_err()
            .contains("log-format"));
        assert!(tcp("expect status-code 1 string x")
            .unwrap_err()
            .contains("not supported yet"));
    }

    #[test]
    fn a_ruleset_starts_with_its_connect_and_comments_name_the_next_rule() {
        let mut rules = Vec::new();
        for line in [
            "comment first",
            "connect port 80",
            "comment pong",
            "expect string +PONG",
        ] {
            push(&mut rules, tcp(line).unwrap()).unwrap();
        }
        match &rules[1] {
            TcpCheckRule::Connect { comment, .. } => assert_eq!(comment.as_deref(), Some("first")),
            r => panic!("{r:?}"),
        }
        match &rules[3] {
            TcpCheckRule::Expect(e) => assert_eq!(e.comment.as_deref(), Some("pong")),
            r => panic!("{r:?}"),
        }
        let mut rules = Vec::new();
        push(&mut rules, tcp("send x").unwrap()).unwrap();
        assert!(push(&mut rules, tcp("connect").unwrap())
            .unwrap_err()
            .contains("first rule"));
    }
}
