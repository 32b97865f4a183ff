//! `tcp-request inspect-delay TIME`, `tcp-request connection|session|content accept|reject
//! [if|unless COND]` and `tcp-request connection expect-proxy layer4 [if|unless COND]`.
//! Must not evaluate the rules.

use super::acl::{self, Named};
use super::Res;
use crate::ast::Directive;
use crate::rules::{TcpAction, TcpRule, TcpRules};
use crate::units;

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
            let action = match (words, when) {
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
