//! `tcp-request inspect-delay TIME`, `tcp-request connection|session|content accept|reject
//! [if|unless COND]`, `tcp-request connection expect-proxy layer4 [if|unless COND]`, and
//! `tcp-response inspect-delay TIME` with `tcp-response content accept|reject|close [if|unless
//! COND]`. Must not evaluate the rules.

use super::acl::{self, Named};
use super::Res;
use crate::ast::Directive;
use crate::rules::{Condition, Fetch, TcpAction, TcpRule, TcpRules};
use crate::units;

/// Whether a condition uses a fetch that `f` picks.
pub fn uses(c: &Option<Condition>, f: impl Fn(&Fetch) -> bool) -> bool {
    c.iter()
        .flat_map(|c| c.any_of.iter().flatten())
        .flat_map(|t| &t.tests)
        .any(|t| f(&t.fetch))
}

/// A condition must not read the server's response where there is none yet.
pub fn no_response_fetch(c: &Option<Condition>, what: &str) -> Res<()> {
    if uses(c, Fetch::reads_response) {
        return Err((
            format!("{what}: 'res.len' and 'res.payload' read the server's response, which is not there yet"),
            Some("use them in 'tcp-response content' rules".into()),
        ));
    }
    Ok(())
}

/// A variable action parsed as an HTTP one, as a TCP one.
fn var_action(a: Option<crate::rules::HttpAction>) -> TcpAction {
    match a {
        Some(crate::rules::HttpAction::SetVar { name, conds, value }) => TcpAction::SetVar { name, conds, value },
        Some(crate::rules::HttpAction::UnsetVar(name)) => TcpAction::UnsetVar(name),
        _ => TcpAction::Accept,
    }
}

/// Applies one `tcp-response` line to `rules`.
pub fn response(d: &Directive, rules: &mut TcpRules, acls: &[Named]) -> Res<()> {
    match d.arg(1) {
        Some("inspect-delay") => {
            let (Some(t), None) = (d.arg(2), d.arg(3)) else {
                return Err(("'tcp-response inspect-delay' expects a time, e.g. 5s".into(), None));
            };
            rules.response_delay = Some(units::time(t).map_err(|e| (e, None))?);
            Ok(())
        }
        Some("content") => {
            let (words, condition) = acl::split_condition(&d.words[2..], acls)?;
            let var = match words {
                [a, rest @ ..] => super::http::variable_action(a, rest, &format!("tcp-response content {a}"))?,
                [] => None,
            };
            let action = match words {
                _ if var.is_some() => var_action(var),
                [a] if a == "accept" => TcpAction::Accept,
                [a] if a == "reject" => TcpAction::Reject,
                [a] if a == "close" => TcpAction::Close,
                [a, ..] if matches!(a.as_str(), "accept" | "reject" | "close") => {
                    return Err((format!("'tcp-response content {a}' takes only a condition"), None))
                }
                [a, ..] => {
                    return Err((
                        format!("'tcp-response content {a}' is not supported yet (accept, reject and close are)"),
                        crate::suggest::hint(a, ["accept", "reject", "close"]),
                    ))
                }
                [] => return Err(("'tcp-response content' expects accept, reject or close".into(), None)),
            };
            if uses(&condition, Fetch::reads_request_bytes) {
                return Err((
                    "'tcp-response content': conditions on the client's data are not supported yet".into(),
                    None,
                ));
            }
            rules.response.push(TcpRule {
                span: d.span.clone(),
                action,
                condition,
            });
            Ok(())
        }
        Some(other) => Err((
            format!("unknown 'tcp-response {other}'"),
            crate::suggest::hint(other, ["inspect-delay", "content"]),
        )),
        None => Err(("'tcp-response' expects inspect-delay or content".into(), None)),
    }
}

/// Applies one `tcp-request` line to `rules`.
pub fn request(d: &Directive, rules: &mut TcpRules, acls: &[Named]) -> Res<()> {
    match d.arg(1) {
        Some("inspect-delay") => {
            let (Some(t), None) = (d.arg(2), d.arg(3)) else {
                return Err(("'tcp-request inspect-delay' expects a time, e.g. 5s".into(), None));
            };
            rules.inspect_delay = Some(units::time(t).map_err(|e| (e, None))?);
            Ok(())
        }
        Some(when @ ("connection" | "content" | "session")) => {
            let (words, condition) = acl::split_condition(&d.words[2..], acls)?;
            let var = match words {
                [a, rest @ ..] => super::http::variable_action(a, rest, &format!("tcp-request {when} {a}"))?,
                [] => None,
            };
            let stick = match words {
                [a, rest @ ..] => super::http::stick_action(a, rest, &format!("tcp-request {when} {a}"))?,
                [] => None,
            };
            let stick = if let Some(s) = stick {
                if let super::http::StickAction::Track { key, .. } = &s {
                    if when != "content" && (key.fetch.reads_request_bytes() || key.fetch.needs_http()) {
                        return Err((
                            format!("'tcp-request {when}': the client's data is not there yet at this point"),
                            Some("track it in a 'tcp-request content' rule".into()),
                        ));
                    }
                }
                Some(match s {
                    super::http::StickAction::Track { slot, key, table } => TcpAction::TrackSc { slot, key, table },
                    super::http::StickAction::IncGpc0(n) => TcpAction::ScIncGpc0(n),
                })
            } else {
                None
            };
            if when != "content" {
                let reads = |f: &Fetch, _: &crate::rules::Chain| f.reads_request_bytes() || f.needs_http();
                let early = match &var {
                    Some(crate::rules::HttpAction::SetVar {
                        value: crate::rules::VarValue::Expr(e),
                        ..
                    }) => reads(&e.fetch, &e.convs),
                    Some(crate::rules::HttpAction::SetVar {
                        value: crate::rules::VarValue::Format(t),
                        ..
                    }) => t.any_expr(&reads),
                    _ => false,
                };
                if early {
                    return Err((
                        format!("'tcp-request {when}': the client's data is not there yet at this point"),
                        Some("read it in a 'tcp-request content' rule".into()),
                    ));
                }
            }
            let action = match (words, when) {
                _ if stick.is_some() => stick.unwrap_or(TcpAction::Accept),
                _ if var.is_some() => var_action(var),
                ([a], _) if a == "accept" => TcpAction::Accept,
                ([a], _) if a == "reject" => TcpAction::Reject,
                ([a, l], "connection") if a == "expect-proxy" && l == "layer4" => TcpAction::ExpectProxy,
                ([a, ..], "connection") if a == "expect-proxy" => {
                    return Err(("'tcp-request connection expect-proxy' is written 'expect-proxy layer4'".into(), None))
                }
                ([a, ..], _) if a == "expect-proxy" => {
                    return Err((
                        format!("'expect-proxy' is a 'tcp-request connection' action, not a '{when}' one"),
                        Some("the PROXY protocol header comes before anything else: 'tcp-request connection expect-proxy layer4 if COND'".into()),
                    ))
                }
                ([a, ..], _) if matches!(a.as_str(), "accept" | "reject") => {
                    return Err((format!("'tcp-request {when} {a}' takes only a condition"), None))
                }
                ([a, ..], _) => {
                    let known: &[&str] = if when == "connection" {
                        &["accept", "reject", "expect-proxy"]
                    } else {
                        &["accept", "reject"]
                    };
                    return Err((
                        format!(
                            "'tcp-request {when} {a}' is not supported yet ({} are)",
                            known.join(", ")
                        ),
                        crate::suggest::hint(a, known.iter().copied()),
                    ));
                }
                ([], _) => return Err((format!("'tcp-request {when}' expects accept or reject"), None)),
            };
            no_response_fetch(&condition, &format!("'tcp-request {when}'"))?;
            let rule = TcpRule {
                span: d.span.clone(),
                action,
                condition,
            };
            match when {
                "content" => rules.content.push(rule),
                "session" => rules.session.push(rule),
                _ => rules.connection.push(rule),
            }
            Ok(())
        }
        Some(other) => Err((
            format!("unknown 'tcp-request {other}'"),
            crate::suggest::hint(other, ["inspect-delay", "connection", "content", "session"]),
        )),
        None => Err((
            "'tcp-request' expects inspect-delay, connection or content".into(),
            None,
        )),
    }
}
