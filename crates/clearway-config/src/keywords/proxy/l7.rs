//! The layer-7 keywords of a proxy section: `http-request`/`http-response`/
//! `http-after-response` rules (a `capture ... len` one making its slot), `redirect`, the
//! error pages (`errorfile`, `errorloc*`, `http-error`, `errorfiles`), captures
//! (`capture`, `declare capture`), `compression`, `http-reuse`, `monitor-uri`, `monitor fail`.

use super::{acl, err, http, note_http, want_args, Caps, Ctx, Draft, Res};
use crate::ast::Directive;

/// Applies `d` when it is one of these keywords; None when it is another.
pub(super) fn apply(d: &Directive, caps: Caps, p: &mut Draft, ctx: &mut Ctx) -> Option<Res<()>> {
    let l7 = matches!(
        d.keyword(),
        "capture"
            | "declare"
            | "http-request"
            | "http-response"
            | "http-after-response"
            | "redirect"
            | "errorfile"
            | "errorloc"
            | "errorloc302"
            | "errorloc303"
            | "http-error"
            | "errorfiles"
            | "http-reuse"
            | "compression"
            | "monitor-uri"
            | "monitor"
    );
    l7.then(|| known(d, caps, p, ctx))
}

fn known(d: &Directive, caps: Caps, p: &mut Draft, ctx: &mut Ctx) -> Res<()> {
    let kw = d.keyword();
    match kw {
        "capture" => capture(d, p, ctx)?,
        "declare" => match d
            .words
            .iter()
            .skip(1)
            .map(String::as_str)
            .collect::<Vec<_>>()
            .as_slice()
        {
            ["capture", side @ ("request" | "response"), "len", n] => {
                let len: usize = crate::units::int(n, "len").map_err(err)?;
                if len == 0 {
                    return Err(err("'len' must be above 0"));
                }
                let list = if *side == "request" {
                    &mut p.captures.request
                } else {
                    &mut p.captures.response
                };
                list.push((String::new(), len));
            }
            _ => return Err(err("'declare' expects 'capture request|response len N'")),
        },
        "http-request" | "http-response" | "http-after-response" => {
            let phase = match kw {
                "http-request" => http::Phase::Request,
                "http-response" => http::Phase::Response,
                _ => http::Phase::After,
            };
            if let Some(mut rule) = http::rule(d, phase, &p.acls)? {
                note_http(p, d, true);
                // `capture ... len N`: a new request slot of the frontend's.
                if let crate::rules::HttpAction::Capture { slot, .. } = &mut rule.action {
                    if let crate::rules::CaptureSlot::Len(n) = *slot {
                        if !caps.frontend {
                            return Err(err(format!(
                                "'{kw} capture ... len' makes a capture slot, which only a frontend has: \
                                 declare one there and use 'id'"
                            )));
                        }
                        p.captures.request.push((String::new(), n));
                        *slot = crate::rules::CaptureSlot::Id(p.captures.request.len() - 1);
                    }
                }
                // In a response rule, what HAProxy makes of request fetches there.
                if phase != http::Phase::Request {
                    for name in rule.for_response() {
                        ctx.warn(
                            &d.span,
                            format!(
                                "'{kw}': the ACL '{name}' never matches here: it reads the request's headers, \
                                 which HAProxy no longer has when the response rules run (it warns and never \
                                 matches it either; a variable set by an 'http-request' rule can carry the value)"
                            ),
                        );
                    }
                }
                match phase {
                    http::Phase::Request => p.http.request_rules.push(rule),
                    http::Phase::Response => p.http.response_rules.push(rule),
                    http::Phase::After => p.http.after_response_rules.push(rule),
                }
            }
        }
        "redirect" => {
            let rule = http::redirect_rule(d, &p.acls)?;
            note_http(p, d, true);
            p.http.redirects.push(rule);
        }
        "errorfile" | "errorloc" | "errorloc302" | "errorloc303" | "http-error" | "errorfiles" => {
            // Each line replaces what an earlier one said of its statuses.
            let pages = match kw {
                "errorfile" => vec![(0, Some(super::super::reply::errorfile(d)?))],
                "http-error" => vec![super::super::reply::http_error(d)?],
                "errorfiles" => super::super::reply::errorfiles(d)?
                    .into_iter()
                    .map(|e| (0, Some(e)))
                    .collect(),
                _ => vec![(0, Some(super::super::reply::errorloc(d)?))],
            };
            for (status, e) in pages {
                let status = e.as_ref().map_or(status, |e| e.status);
                p.http.errorfiles.retain(|o| o.status != status);
                p.http.errorfiles.extend(e);
            }
        }
        "http-reuse" => p.http.reuse = http::reuse(d)?,
        "compression" => compression(d, caps, p)?,
        "monitor-uri" => {
            want_args(d, 1, "a URI, e.g. /haproxy_health").map_err(err)?;
            p.http.monitor_uri = Some(d.words[1].clone());
        }
        "monitor" => {
            if d.arg(1) != Some("fail") || !matches!(d.arg(2), Some("if" | "unless")) {
                return Err(err("'monitor' expects 'fail if COND' or 'fail unless COND'"));
            }
            let c = acl::condition(&d.words[2..], &p.acls)?;
            p.http.monitor_fail.push(c);
        }
        _ => {}
    }
    Ok(())
}

/// `compression algo ALGO... | type TYPE... | offload`, lines adding up.
fn compression(d: &Directive, caps: Caps, p: &mut Draft) -> Res<()> {
    let c = p.http.compression.get_or_insert_with(Default::default);
    let values = &d.words[2.min(d.words.len())..];
    match d.arg(1) {
        Some("algo") if !values.is_empty() => {
            for v in values {
                let a = crate::model::CompAlgo::parse(v).ok_or_else(|| {
                    (
                        format!("'compression algo': '{v}' is not a supported algorithm"),
                        Some("identity, gzip, deflate or raw-deflate".into()),
                    )
                })?;
                // As HAProxy: the last named is preferred.
                c.algos.insert(0, a);
            }
        }
        Some("type") if !values.is_empty() => c.types.extend(values.iter().cloned()),
        Some("offload") if values.is_empty() => {
            // HAProxy ignores it there; ignoring it would change what servers are sent.
            if caps.defaults {
                return Err((
                    "'compression offload' has no effect in a 'defaults' section".into(),
                    Some("write it in the frontend or backend that compresses".into()),
                ));
            }
            c.offload = true;
        }
        _ => {
            return Err((
                "'compression' expects 'algo ALGO...', 'type TYPE...' or 'offload'".into(),
                None,
            ))
        }
    }
    Ok(())
}

/// `capture request|response header NAME len N`, `capture cookie NAME len N`.
fn capture(d: &Directive, p: &mut Draft, ctx: &mut Ctx) -> Res<()> {
    let usage = "'capture request|response header NAME len N' or 'capture cookie NAME len N'";
    let words: Vec<&str> = d.words.iter().skip(1).map(String::as_str).collect();
    let (name, n) = match words.as_slice() {
        ["request" | "response", "header", name, "len", n] | ["cookie", name, "len", n] => (*name, *n),
        _ => {
            return Err((
                format!("'capture' expects {usage}"),
                Some("e.g. 'capture request header Host len 32'".into()),
            ))
        }
    };
    let len: usize = crate::units::int(n, "len").map_err(err)?;
    if len == 0 {
        return Err(err("'len' must be above 0"));
    }
    match words[0] {
        "cookie" => {
            if p.captures.cookie.is_some() {
                ctx.warn(
                    &d.span,
                    "a frontend captures one cookie: this 'capture cookie' replaces the earlier one",
                );
            }
            p.captures.cookie = Some((name.to_string(), len));
        }
        side => {
            if !super::http::http_token(name) {
                return Err((format!("'{name}' is not a valid header name"), None));
            }
            let list = if side == "request" {
                &mut p.captures.request
            } else {
                &mut p.captures.response
            };
            list.push((name.to_string(), len));
        }
    }
    Ok(())
}
