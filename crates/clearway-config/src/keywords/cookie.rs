//! `cookie NAME [options]` in a backend: cookie persistence as HAProxy configures it, with
//! HAProxy's checks (modes that exclude each other, `preserve` needing `insert` or
//! `indirect`, domain characters).

use super::{err, Ctx, Res};
use crate::ast::Directive;
use crate::model::{CookieMode, CookiePersist};

/// Reads a `cookie` line.
pub fn parse(d: &Directive, ctx: &mut Ctx) -> Res<CookiePersist> {
    let name = d.arg(1).filter(|n| !n.is_empty()).ok_or_else(|| {
        (
            "'cookie' expects a cookie name".to_string(),
            Some("e.g. 'cookie SERVERID insert indirect nocache'".into()),
        )
    })?;
    let mut c = CookiePersist::named(d.span.clone(), name);
    let mut modes = Vec::new();
    let mut words = d.words[2..].iter().map(String::as_str);
    while let Some(w) = words.next() {
        let mut value = |what: &str| {
            words
                .next()
                .filter(|v| !v.is_empty())
                .ok_or_else(|| err(format!("'{w}' expects {what}")))
        };
        match w {
            "rewrite" | "insert" | "prefix" => modes.push(w),
            "indirect" => c.indirect = true,
            "nocache" => c.nocache = true,
            "postonly" => c.postonly = true,
            "preserve" => c.preserve = true,
            "httponly" => c.httponly = true,
            "secure" => c.secure = true,
            "domain" => {
                let dom = value("a domain")?;
                if let Some(bad) = dom
                    .chars()
                    .find(|ch| !(ch.is_ascii_alphanumeric() || "._-".contains(*ch)))
                {
                    return Err(err(format!(
                        "character '{bad}' is not permitted in domain name '{dom}'"
                    )));
                }
                if !dom.contains('.') {
                    ctx.warn(
                        &d.span,
                        format!(
                            "domain '{dom}' contains no embedded dot: browsers may refuse the cookie (RFC 6265, 5.2.3)"
                        ),
                    );
                }
                c.domains.push(dom.to_string());
            }
            "maxidle" => c.maxidle = seconds(value("a time in seconds")?, w)?,
            "maxlife" => c.maxlife = seconds(value("a time in seconds")?, w)?,
            "attr" => {
                let a = value("an attribute")?;
                if let Some(bad) = a.bytes().find(|b| b.is_ascii_control() || *b == b';') {
                    return Err(err(format!(
                        "character '%x{bad:02X}' is not permitted in attribute value"
                    )));
                }
                c.attrs.push(a.to_string());
            }
            "dynamic" => {
                return Err((
                    "'cookie ... dynamic' (cookies made from 'dynamic-cookie-key') is not supported by Clearway yet"
                        .into(),
                    Some("give each server its own 'cookie VALUE' instead".into()),
                ))
            }
            other => {
                return Err((
                    format!("unknown 'cookie' option '{other}'"),
                    Some(
                        "options are rewrite, insert, prefix, indirect, nocache, postonly, preserve, httponly, \
                         secure, domain, maxidle, maxlife and attr"
                            .into(),
                    ),
                ))
            }
        }
    }
    modes.dedup();
    c.mode = match modes.as_slice() {
        [] => CookieMode::Passive,
        ["insert"] => CookieMode::Insert,
        ["rewrite"] => CookieMode::Rewrite,
        ["prefix"] => CookieMode::Prefix,
        _ => return Err(err("cookie 'rewrite', 'insert' and 'prefix' modes are incompatible")),
    };
    if c.mode == CookieMode::Rewrite && c.indirect {
        return Err(err("cookie 'rewrite' and 'indirect' modes are incompatible"));
    }
    if c.preserve && c.mode != CookieMode::Insert && !c.indirect {
        return Err(err("cookie 'preserve' requires at least 'insert' or 'indirect'"));
    }
    Ok(c)
}

/// A time in seconds by default (`30`, `30m`, `12h`, `7d`; `ms` rounds up to whole seconds).
fn seconds(s: &str, what: &str) -> Res<u32> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| err(format!("'{what}' expects a time such as 30m, not '{s}'")))?;
    let secs = match unit {
        "" | "s" => Some(n),
        "m" => n.checked_mul(60),
        "h" => n.checked_mul(3600),
        "d" => n.checked_mul(86_400),
        "ms" => Some(n.div_ceil(1000)),
        "us" => Some(n.div_ceil(1_000_000)),
        _ => return Err(err(format!("invalid time unit '{unit}' in '{s}': use s, m, h or d"))),
    };
    secs.filter(|&v| v <= i32::MAX as u64).map(|v| v as u32).ok_or_else(|| {
        err(format!(
            "'{what} {s}' is too large: at most 2147483647 s (about 68 years)"
        ))
    })
}
