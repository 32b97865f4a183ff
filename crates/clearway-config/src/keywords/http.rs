//! Layer-7 keywords: `http-request`, `http-response`, `redirect`, `errorfile`, `http-reuse`.
//! Turns each line into an `HttpRule` (or setting) with its condition; must not evaluate them.

use super::acl::{self, Named};
use super::reply::{reply, status_code};
use super::Res;
use crate::ast::Directive;
use crate::rules::{HttpAction, HttpReuse, HttpRule, Redirect, RedirectKind, Service, Template};

fn fail<T>(msg: impl Into<String>) -> Res<T> {
    Err((msg.into(), None))
}

pub(super) fn tpl(s: &str) -> Res<Template> {
    acl::template(s).map_err(|e| (e, None))
}

pub(super) fn header_name(kw: &str, n: Option<&String>) -> Res<String> {
    match n {
        Some(n) if http_token(n) => Ok(n.clone()),
        Some(n) => fail(format!("'{kw}': '{n}' is not a valid header name")),
        None => fail(format!("'{kw}' expects a header name")),
    }
}

pub(super) fn http_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

const REQUEST_ACTIONS: &[&str] = &[
    "allow",
    "deny",
    "return",
    "redirect",
    "set-header",
    "add-header",
    "del-header",
    "replace-header",
    "set-path",
    "set-uri",
    "set-dst",
    "set-dst-port",
    "use-service",
    "auth",
    "reject",
    "tarpit",
    "replace-value",
    "replace-path",
    "replace-pathq",
    "replace-uri",
    "set-pathq",
    "set-query",
    "set-method",
    "wait-for-body",
    "set-timeout",
];
const RESPONSE_ACTIONS: &[&str] = &[
    "allow",
    "deny",
    "return",
    "redirect",
    "wait-for-body",
    "set-header",
    "add-header",
    "del-header",
    "replace-header",
    "replace-value",
    "set-status",
];
const AFTER_ACTIONS: &[&str] = &[
    "allow",
    "set-header",
    "add-header",
    "del-header",
    "replace-header",
    "replace-value",
    "set-status",
];

/// Which rule list a line belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Request,
    Response,
    /// `http-after-response`.
    After,
}
/// Actions HAProxy has that Clearway does not run yet.
const NOT_YET: &[&str] = &[
    "lua",
    "early-hint",
    "do-resolve",
    "set-map",
    "del-map",
    "add-acl",
    "del-acl",
    "set-tos",
    "set-mark",
    "send-spoe-group",
    "strict-mode",
    "set-bandwidth-limit",
];

/// A stick-table action, for HTTP and TCP rules alike.
#[derive(Debug)]
pub enum StickAction {
    Track {
        slot: u8,
        key: crate::rules::Expr,
        table: Option<String>,
    },
    IncGpc0(u8),
}

/// `track-scN KEY [table T]`, `sc-inc-gpc0(N)`: None when `action` is neither.
pub fn stick_action(action: &str, args: &[String], what: &str) -> Res<Option<StickAction>> {
    if let Some(n) = action.strip_prefix("track-sc") {
        let slot = n
            .parse::<u8>()
            .ok()
            .filter(|n| *n < 3)
            .ok_or_else(|| (format!("'{what}': the counter is 0, 1 or 2"), None))?;
        let (key, table) = match args {
            [k] => (k, None),
            [k, t, name] if t == "table" => (k, Some(name.as_str())),
            _ => {
                return fail(format!(
                    "'{what}' expects a key expression, then optionally 'table NAME'"
                ))
            }
        };
        let (key, _) = acl::expression(key).map_err(|e| (format!("'{what}': {e}"), None))?;
        let table = super::sample::table_or_own(table);
        return Ok(Some(StickAction::Track { slot, key, table }));
    }
    if let Some(rest) = action.strip_prefix("sc-inc-gpc0(") {
        let n = rest
            .strip_suffix(')')
            .and_then(|n| n.parse::<u8>().ok())
            .filter(|n| *n < 3)
            .ok_or_else(|| (format!("'{what}': written sc-inc-gpc0(N), N being 0, 1 or 2"), None))?;
        if !args.is_empty() {
            return fail(format!("'{what}' takes only a condition"));
        }
        return Ok(Some(StickAction::IncGpc0(n)));
    }
    Ok(None)
}

/// `set-var(NAME[,COND...]) EXPR`, `set-var-fmt(NAME[,COND...]) FMT`, `unset-var(NAME)`:
/// None when `action` is none of them.
pub fn variable_action(action: &str, args: &[String], what: &str) -> Res<Option<HttpAction>> {
    let Some((verb, rest)) = action.split_once('(') else {
        return match action {
            "set-var" | "set-var-fmt" | "unset-var" => {
                fail(format!("'{what}' expects a variable: '{action}(txn.name)'"))
            }
            _ => Ok(None),
        };
    };
    if !matches!(verb, "set-var" | "set-var-fmt" | "unset-var") {
        return Ok(None);
    }
    let inner = rest
        .strip_suffix(')')
        .ok_or_else(|| (format!("'{what}': missing ')'"), None))?;
    let mut parts = inner.split(',').map(str::trim);
    let name = clearway_sample::VarName::parse(parts.next().unwrap_or_default())
        .map_err(|e| (format!("'{what}': {e}"), None))?;
    let conds: Vec<&str> = parts.collect();
    if verb == "unset-var" {
        if !conds.is_empty() || !args.is_empty() {
            return fail(format!("'{what}' takes only a variable name"));
        }
        return Ok(Some(HttpAction::UnsetVar(name)));
    }
    let conds = crate::rules::SetConds::parse(&conds).map_err(|e| (format!("'{what}': {e}"), None))?;
    let [value] = args else {
        return fail(if verb == "set-var" {
            format!("'{what}' expects one sample expression, e.g. 'req.hdr(host),lower'")
        } else {
            format!("'{what}' expects one format, e.g. '%[src]:%[src_port]'")
        });
    };
    let value = if verb == "set-var" {
        let (expr, _) = acl::expression(value).map_err(|e| (format!("'{what}': {e}"), None))?;
        crate::rules::VarValue::Expr(expr)
    } else {
        crate::rules::VarValue::Format(tpl(value)?)
    };
    Ok(Some(HttpAction::SetVar { name, conds, value }))
}

/// `http-request ACTION ...`, `http-response ACTION ...` or `http-after-response ACTION ...`.
pub fn rule(d: &Directive, phase: Phase, acls: &[Named]) -> Res<Option<HttpRule>> {
    let response = phase != Phase::Request;
    let kw = d.keyword();
    let (words, condition) = acl::split_condition(&d.words[1..], acls)?;
    let Some(action) = words.first() else {
        return fail(format!("'{kw}' expects an action, e.g. '{kw} set-header NAME VALUE'"));
    };
    if let Some(action) = stick_action(action, &words[1..], &format!("{kw} {action}"))? {
        // As HAProxy: request and response rules track, not `http-after-response`.
        if phase == Phase::After {
            return fail(format!(
                "'{kw} {}': http-after-response rules do not track (use http-response)",
                words[0]
            ));
        }
        let action = match action {
            StickAction::Track { slot, key, table } => HttpAction::TrackSc { slot, key, table },
            StickAction::IncGpc0(n) => HttpAction::ScIncGpc0(n),
        };
        return Ok(Some(HttpRule {
            span: d.span.clone(),
            action,
            condition,
        }));
    }
    if let Some(action) = variable_action(action, &words[1..], &format!("{kw} {action}"))? {
        return Ok(Some(HttpRule {
            span: d.span.clone(),
            action,
            condition,
        }));
    }
    let more = super::http_actions::parse(action, &words[1..], &format!("{kw} {action}"), phase == Phase::Request)?;
    if let Some(action) = more {
        return Ok(Some(HttpRule {
            span: d.span.clone(),
            action,
            condition,
        }));
    }
    let allowed = match phase {
        Phase::Request => REQUEST_ACTIONS,
        Phase::Response => RESPONSE_ACTIONS,
        Phase::After => AFTER_ACTIONS,
    };
    if !allowed.contains(&action.as_str()) {
        if phase == Phase::After && (REQUEST_ACTIONS.contains(&action.as_str()) || NOT_YET.contains(&action.as_str())) {
            return fail(format!(
                "'{kw} {action}' is not available here (Clearway has {} after responses)",
                AFTER_ACTIONS.join(", ")
            ));
        }
        if NOT_YET.contains(&action.as_str()) || (response && REQUEST_ACTIONS.contains(&action.as_str())) {
            return fail(format!("'{kw} {action}' is not supported yet"));
        }
        return Err((
            format!("unknown action '{kw} {action}'"),
            crate::suggest::hint(action, allowed.iter().copied()),
        ));
    }
    let args = &words[1..];
    let what = format!("{kw} {action}");
    let action = match action.as_str() {
        "allow" => HttpAction::Allow,
        "set-header" | "add-header" => {
            let [name, value] = args else {
                return fail(format!("'{what}' expects a header name and a value"));
            };
            let name = header_name(&what, Some(name))?;
            let value = tpl(value)?;
            if action == "set-header" {
                HttpAction::SetHeader { name, value }
            } else {
                HttpAction::AddHeader { name, value }
            }
        }
        "del-header" => {
            let (name, method) = match args {
                [name] => (name, "str"),
                [name, m, method] if m == "-m" => (name, method.as_str()),
                _ => return fail(format!("'{what}' expects a header name, then optionally '-m METHOD'")),
            };
            let method = match method {
                "str" => crate::rules::MatchKind::Str,
                "beg" => crate::rules::MatchKind::Beg,
                "end" => crate::rules::MatchKind::End,
                "sub" => crate::rules::MatchKind::Sub,
                "reg" => crate::rules::MatchKind::Reg,
                m => {
                    return Err((
                        format!("'{what}': unknown matching method '{m}'"),
                        crate::suggest::hint(m, ["str", "beg", "end", "sub", "reg"]),
                    ))
                }
            };
            let name = if method == crate::rules::MatchKind::Reg {
                regex::Regex::new(name)
                    .map_err(|e| (format!("'{what}': bad regular expression '{name}': {e}"), None))?;
                name.clone()
            } else if method == crate::rules::MatchKind::Str {
                header_name(&what, Some(name))?
            } else {
                name.to_ascii_lowercase()
            };
            HttpAction::DelHeader { name, method }
        }
        "replace-header" | "replace-value" => {
            let [name, regex, replacement] = args else {
                return fail(format!("'{what}' expects a header name, a regex and a replacement"));
            };
            regex::Regex::new(regex).map_err(|e| (format!("'{what}': bad regular expression '{regex}': {e}"), None))?;
            HttpAction::ReplaceHeader {
                name: header_name(&what, Some(name))?,
                regex: regex.clone(),
                replacement: tpl(replacement)?,
                values: action == "replace-value",
            }
        }
        "replace-path" | "replace-pathq" | "replace-uri" => {
            let [regex, replacement] = args else {
                return fail(format!("'{what}' expects a regex and a replacement"));
            };
            regex::Regex::new(regex).map_err(|e| (format!("'{what}': bad regular expression '{regex}': {e}"), None))?;
            let part = match action.as_str() {
                "replace-path" => crate::rules::TargetPart::Path,
                "replace-pathq" => crate::rules::TargetPart::PathQ,
                _ => crate::rules::TargetPart::Uri,
            };
            HttpAction::ReplaceTarget {
                part,
                regex: regex.clone(),
                replacement: tpl(replacement)?,
            }
        }
        "set-pathq" | "set-query" | "set-method" => {
            let [v] = args else {
                return fail(format!("'{what}' expects a format"));
            };
            let t = tpl(v)?;
            match action.as_str() {
                "set-pathq" => HttpAction::SetPathQ(t),
                "set-query" => HttpAction::SetQuery(t),
                _ => HttpAction::SetMethod(t),
            }
        }
        "set-path" => {
            let [path] = args else {
                return fail(format!("'{what}' expects a path"));
            };
            HttpAction::SetPath(tpl(path)?)
        }
        "set-uri" => {
            let [uri] = args else {
                return fail(format!("'{what}' expects a format, e.g. '{what} %[pathq]'"));
            };
            HttpAction::SetUri(tpl(uri)?)
        }
        "set-dst" | "set-dst-port" => {
            let [expr] = args else {
                return fail(format!(
                    "'{what}' expects a sample expression, e.g. '{what} hdr(x-dst)'"
                ));
            };
            let (expr, _) = acl::expression(expr).map_err(|e| (format!("'{what}': {e}"), None))?;
            if action == "set-dst" {
                HttpAction::SetDst(expr)
            } else {
                HttpAction::SetDstPort(expr)
            }
        }
        "deny" => {
            // `deny_status` is `status`; a refused response is a 502 by default, a refused
            // request a 403, answered with the proxy's error page unless the line says more.
            let args: Vec<String> = args
                .iter()
                .map(|a| {
                    if a == "deny_status" {
                        "status".to_string()
                    } else {
                        a.clone()
                    }
                })
                .collect();
            let mut r = reply(&what, &args)?;
            if !args.iter().any(|a| a == "status") {
                r.status = if response { 502 } else { 403 };
            }
            // Without a word on what to answer, the proxy's error page.
            let says = args.iter().any(|a| {
                matches!(
                    a.as_str(),
                    "errorfile" | "errorfiles" | "string" | "lf-string" | "file" | "lf-file" | "hdr"
                )
            });
            let status = r.status;
            let reply = (says && r.from != crate::rules::ReplyFrom::Default).then(|| Box::new(r));
            HttpAction::Deny { status, reply }
        }
        "return" => HttpAction::Return(reply(&what, args)?),
        "reject" => match args {
            [] => HttpAction::Reject,
            _ => return fail(format!("'{what}' takes only a condition")),
        },
        "set-timeout" => {
            let (tunnel, v) = match args {
                [w, v] if w == "server" => (false, v),
                [w, v] if w == "tunnel" => (true, v),
                _ => {
                    return fail(format!(
                        "'{what}' expects 'server' or 'tunnel', then a time or an expression"
                    ))
                }
            };
            let value = match crate::units::time(v) {
                Ok(t) => crate::rules::TimeoutValue::Fixed(t),
                Err(_) => {
                    let (e, _) = acl::expression(v).map_err(|e| (format!("'{what}': {e}"), None))?;
                    crate::rules::TimeoutValue::Expr(e)
                }
            };
            HttpAction::SetTimeout { tunnel, value }
        }
        "wait-for-body" => {
            let (time, at_least) = match args {
                [k, t] if k == "time" => (t, None),
                [k, t, a, n] if k == "time" && a == "at-least" => (t, Some(n)),
                _ => return fail(format!("'{what}' expects 'time T', then optionally 'at-least BYTES'")),
            };
            let time = crate::units::time(time).map_err(|e| (format!("'{what}': {e}"), None))?;
            let at_least = match at_least {
                Some(n) => crate::units::size(n).map_err(|e| (format!("'{what}' at-least: {e}"), None))?,
                None => 0,
            };
            HttpAction::WaitForBody { time, at_least }
        }
        "tarpit" => match args {
            [] => HttpAction::Tarpit { status: 500 },
            [k, n] if k == "deny_status" || k == "status" => HttpAction::Tarpit {
                status: status_code(&what, n)?,
            },
            _ => {
                return fail(format!(
                    "'{what}' takes only 'deny_status CODE' in Clearway (a response of its own is not supported yet)"
                ))
            }
        },
        "set-status" => {
            let (status, reason) = match args {
                [n] => (n, None),
                [n, k, r] if k == "reason" => (n, Some(r.clone())),
                _ => return fail(format!("'{what}' expects a status code, then optionally 'reason TEXT'")),
            };
            let status: u16 = status
                .parse()
                .ok()
                .filter(|s| (100..=999).contains(s))
                .ok_or_else(|| (format!("'{what}': '{status}' is not a status code (100 to 999)"), None))?;
            if reason
                .as_deref()
                .is_some_and(|r| r.bytes().any(|b| b == b'\r' || b == b'\n'))
            {
                return fail(format!("'{what}': a reason holds no line break"));
            }
            HttpAction::SetStatus { status, reason }
        }
        "auth" => match args {
            [] => HttpAction::Auth { realm: None },
            [k, r] if k == "realm" => HttpAction::Auth { realm: Some(r.clone()) },
            _ => return fail(format!("'{what}' takes only 'realm REALM'")),
        },
        "redirect" => {
            let r = redirect(&what, args)?;
            // A response has no path to keep, as HAProxy says.
            if response && r.kind != crate::rules::RedirectKind::Location {
                return fail(format!(
                    "'{what}': only 'location' redirects apply to responses, as in HAProxy"
                ));
            }
            HttpAction::Redirect(r)
        }
        "use-service" => match args {
            [s] if s == "prometheus-exporter" => HttpAction::UseService(Service::PrometheusExporter),
            [s] => {
                return Err((
                    format!("'{what}': unknown service '{s}'"),
                    Some("Clearway has 'prometheus-exporter'".into()),
                ))
            }
            _ => return fail(format!("'{what}' expects a service name, e.g. prometheus-exporter")),
        },
        _ => unreachable!("action '{action}' is allowed but not handled"),
    };
    Ok(Some(HttpRule {
        span: d.span.clone(),
        action,
        condition,
    }))
}

/// `location|prefix|scheme TARGET [code N] [drop-query] [append-slash] [set-cookie X] [clear-cookie X]`.
pub fn redirect(what: &str, args: &[String]) -> Res<Redirect> {
    let (kind, target) = match args {
        [k, t, ..] => (k.as_str(), t),
        _ => {
            return fail(format!(
                "'{what}' expects 'location', 'prefix' or 'scheme' and a target"
            ))
        }
    };
    let kind = match kind {
        "location" => RedirectKind::Location,
        "prefix" => RedirectKind::Prefix,
        "scheme" => RedirectKind::Scheme,
        other => {
            return Err((
                format!("'{what}': unknown redirect type '{other}'"),
                crate::suggest::hint(other, ["location", "prefix", "scheme"]),
            ))
        }
    };
    let mut r = Redirect {
        kind,
        target: tpl(target)?,
        code: 302,
        drop_query: false,
        append_slash: false,
    };
    let mut it = args[2..].iter();
    while let Some(o) = it.next() {
        match o.as_str() {
            "code" => {
                let n = it
                    .next()
                    .ok_or((format!("'{what} code' expects 301, 302, 303, 307 or 308"), None))?;
                r.code = match n.parse() {
                    Ok(c @ (301 | 302 | 303 | 307 | 308)) => c,
                    _ => {
                        return fail(format!(
                            "'{what}': redirect code '{n}' must be 301, 302, 303, 307 or 308"
                        ))
                    }
                };
            }
            "drop-query" => r.drop_query = true,
            "append-slash" => r.append_slash = true,
            "set-cookie" | "clear-cookie" => {
                return fail(format!("'{what}': '{o}' is not supported yet"));
            }
            other => {
                return Err((
                    format!("'{what}': unknown option '{other}'"),
                    crate::suggest::hint(other, ["code", "drop-query", "append-slash"]),
                ))
            }
        }
    }
    Ok(r)
}

/// `redirect ...` as a section keyword: an `http-request redirect` evaluated after the
/// `http-request` rules.
pub fn redirect_rule(d: &Directive, acls: &[Named]) -> Res<HttpRule> {
    let (words, condition) = acl::split_condition(&d.words[1..], acls)?;
    Ok(HttpRule {
        span: d.span.clone(),
        action: HttpAction::Redirect(redirect("redirect", words)?),
        condition,
    })
}

/// `http-reuse never|safe|aggressive|always`.
pub fn reuse(d: &Directive) -> Res<HttpReuse> {
    match (d.arg(1), d.arg(2)) {
        (Some("never"), None) => Ok(HttpReuse::Never),
        (Some("safe"), None) => Ok(HttpReuse::Safe),
        (Some("aggressive"), None) => Ok(HttpReuse::Aggressive),
        (Some("always"), None) => Ok(HttpReuse::Always),
        (Some(o), None) => Err((
            format!("unknown 'http-reuse' mode '{o}'"),
            crate::suggest::hint(o, ["never", "safe", "aggressive", "always"]),
        )),
        _ => fail("'http-reuse' expects one of never, safe, aggressive, always"),
    }
}
