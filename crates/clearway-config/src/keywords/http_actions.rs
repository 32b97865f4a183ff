//! The HTTP actions beside the header, target and reply ones (`http.rs`): scheduling and
//! logging (`set-nice`, `set-log-level`), the client's address (`set-src`, `set-src-port`),
//! stick-table tags (`sc-set-gpt0`), retries (`disable-l7-retry`), `silent-drop` and
//! `normalize-uri`.

use super::{acl, Res};
use crate::rules::{HttpAction, Normalizer};

fn fail<T>(m: String) -> Res<T> {
    Err((m, None))
}

/// The syslog levels by name, as `set-log-level` and log lines name them.
const LEVELS: &[&str] = &["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"];

/// The action `action ARGS` names, for a request rule (`request`) or a response rule; None
/// when it is none of these.
pub fn parse(action: &str, args: &[String], what: &str, request: bool) -> Res<Option<HttpAction>> {
    let one = || -> Res<&String> {
        match args {
            [a] => Ok(a),
            _ => fail(format!("'{what}' expects one argument")),
        }
    };
    let expr = |w: &str| {
        acl::expression(w)
            .map(|(e, _)| e)
            .map_err(|e| (format!("'{what}': {e}"), None))
    };
    Ok(Some(match action {
        "set-nice" => {
            let n: i32 = one()?
                .parse()
                .map_err(|_| (format!("'{what}' expects a number from -1024 to 1024"), None))?;
            if !(-1024..=1024).contains(&n) {
                return fail(format!("'{what}' expects a number from -1024 to 1024"));
            }
            HttpAction::NoEffect
        }
        "set-log-level" => {
            let l = one()?;
            match LEVELS.iter().position(|x| x == l) {
                Some(i) => HttpAction::SetLogLevel(Some(i as u8)),
                None if l == "silent" => HttpAction::SetLogLevel(None),
                None => {
                    return Err((
                        format!("'{what}': unknown level '{l}'"),
                        Some(format!("silent, {}", LEVELS.join(", "))),
                    ))
                }
            }
        }
        "set-src" | "set-src-port" if request => {
            let e = expr(one()?)?;
            if action == "set-src" {
                HttpAction::SetSrc(e)
            } else {
                HttpAction::SetSrcPort(e)
            }
        }
        "disable-l7-retry" if request => {
            if !args.is_empty() {
                return fail(format!("'{what}' takes only a condition"));
            }
            HttpAction::DisableL7Retry
        }
        "silent-drop" => {
            if !args.is_empty() {
                return fail(format!("'{what}' takes only a condition"));
            }
            HttpAction::SilentDrop
        }
        "normalize-uri" if request => HttpAction::NormalizeUri(normalizer(args, what)?),
        "cache-use" if request => HttpAction::CacheUse(one()?.clone()),
        "cache-store" if !request => HttpAction::CacheStore(one()?.clone()),
        "capture" => {
            let (e, slot) = match args {
                [e, k, n] if k == "len" && request => (e, k),
                [e, k, n] if k == "id" => (e, k),
                _ if request => return fail(format!("'{what}' expects an expression, then 'len N' or 'id N'")),
                _ => return fail(format!("'{what}' expects an expression, then 'id N'")),
            };
            let n: usize = args[2]
                .parse()
                .map_err(|_| (format!("'{what}': '{}' is not a number", args[2]), None))?;
            if slot == "len" && n == 0 {
                return fail(format!("'{what}': 'len' must be above 0"));
            }
            HttpAction::Capture {
                expr: expr(e)?,
                slot: if slot == "len" {
                    crate::rules::CaptureSlot::Len(n)
                } else {
                    crate::rules::CaptureSlot::Id(n)
                },
            }
        }
        _ => {
            let Some(n) = action.strip_prefix("sc-set-gpt0(").and_then(|r| r.strip_suffix(')')) else {
                return Ok(None);
            };
            let slot = n
                .parse::<u8>()
                .ok()
                .filter(|n| *n < 3)
                .ok_or_else(|| (format!("'{what}': written sc-set-gpt0(N), N being 0, 1 or 2"), None))?;
            // An integer, or a sample expression.
            let v = one()?;
            let value = match v.parse::<i64>() {
                Ok(n) => crate::rules::Expr::new(crate::rules::Fetch::Int(n)),
                Err(_) => expr(v)?,
            };
            HttpAction::ScSetGpt0 { slot, value }
        }
    }))
}

fn normalizer(args: &[String], what: &str) -> Res<Normalizer> {
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    Ok(match words.as_slice() {
        ["path-merge-slashes"] => Normalizer::MergeSlashes,
        ["path-strip-dot"] => Normalizer::StripDot,
        ["path-strip-dotdot"] => Normalizer::StripDotDot { full: false },
        ["path-strip-dotdot", "full"] => Normalizer::StripDotDot { full: true },
        ["percent-decode-unreserved"] => Normalizer::DecodeUnreserved { strict: false },
        ["percent-decode-unreserved", "strict"] => Normalizer::DecodeUnreserved { strict: true },
        ["percent-to-uppercase"] => Normalizer::PercentUpper { strict: false },
        ["percent-to-uppercase", "strict"] => Normalizer::PercentUpper { strict: true },
        ["query-sort-by-name"] => Normalizer::QuerySort,
        ["fragment-strip"] => Normalizer::FragmentStrip,
        ["fragment-encode"] => Normalizer::FragmentEncode,
        _ => {
            return Err((
                format!("'{what}': unknown normalizer '{}'", words.join(" ")),
                Some(
                    "path-merge-slashes, path-strip-dot, path-strip-dotdot [full], percent-decode-unreserved \
                     [strict], percent-to-uppercase [strict], query-sort-by-name, fragment-strip, fragment-encode"
                        .into(),
                ),
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use crate::rules::{HttpAction, Normalizer};

    fn action(line: &str) -> Result<HttpAction, String> {
        let cfg = format!("frontend f\n bind :1\n mode http\n {line}\n");
        crate::parse_str("t.cfg", &cfg)
            .map(|l| l.config.frontend("f").unwrap().http.request_rules[0].action.clone())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn actions_and_their_mistakes() {
        assert_eq!(
            action("http-request set-log-level silent").unwrap(),
            HttpAction::SetLogLevel(None)
        );
        assert_eq!(
            action("http-request set-log-level err").unwrap(),
            HttpAction::SetLogLevel(Some(3))
        );
        assert_eq!(
            action("http-request normalize-uri path-strip-dotdot full").unwrap(),
            HttpAction::NormalizeUri(Normalizer::StripDotDot { full: true })
        );
        assert_eq!(action("http-request set-nice -5").unwrap(), HttpAction::NoEffect);
        assert!(matches!(
            action("http-request sc-set-gpt0(1) 3").unwrap(),
            HttpAction::ScSetGpt0 { slot: 1, .. }
        ));
        for (bad, says) in [
            ("http-request set-log-level loud", "unknown level"),
            ("http-request normalize-uri path-tidy", "unknown normalizer"),
            ("http-request set-nice 5000", "-1024 to 1024"),
            ("http-request sc-set-gpt0(3) 1", "0, 1 or 2"),
            ("http-request silent-drop now", "only a condition"),
            ("http-response set-src src", "unknown action"),
            ("http-after-response track-sc0 src", "do not track"),
            ("http-after-response sc-inc-gpc0(0)", "do not track"),
            ("http-request capture src id 0", "no request capture slot 0"),
            ("http-response capture src len 4", "then 'id N'"),
            ("http-request capture src len 0", "above 0"),
        ] {
            let e = action(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
