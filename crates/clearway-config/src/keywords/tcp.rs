//! `tcp-request inspect-delay TIME` and `tcp-request connection|content accept|reject
//! [if|unless COND]`. Must not evaluate the rules.

use super::acl::{self, Named};
use super::Res;
use crate::ast::Directive;
use crate::rules::{TcpRule, TcpRules};
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
            let accept = match words {
                [a] if a == "accept" => true,
                [a] if a == "reject" => false,
                [a, ..] if matches!(a.as_str(), "accept" | "reject") => {
                    return Err((format!("'tcp-request {when} {a}' takes only a condition"), None))
                }
                [a, ..] => {
                    return Err((
                        format!("'tcp-request {when} {a}' is not supported yet (accept and reject are)"),
                        crate::suggest::hint(a, ["accept", "reject"]),
                    ))
                }
                [] => return Err((format!("'tcp-request {when}' expects accept or reject"), None)),
            };
            let rule = TcpRule {
                span: d.span.clone(),
                accept,
                condition,
            };
            if when == "content" {
                rules.content.push(rule);
            } else {
                // A session rule sees nothing more than a connection rule here.
                rules.connection.push(rule);
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
