//! `stats ...` in `defaults`, `frontend`, `backend` and `listen` sections: the statistics page
//! a proxy answers itself on a URI prefix, who may see it (`stats auth`, `stats http-request`)
//! and who may change servers from it (`stats admin`). Each line but the access rules also
//! turns the page on, as in HAProxy. Owns the page's settings; must not know how it is drawn.

use super::{acl, Failure, Res};
use crate::ast::Directive;
use crate::model::{StatsAccess, StatsAccessKind, StatsPage};

fn fail<T>(msg: impl Into<String>) -> Res<T> {
    Err((msg.into(), None))
}

/// The settings of a page turned on with HAProxy's defaults.
pub fn enabled(d: &Directive) -> StatsPage {
    StatsPage {
        span: d.span.clone(),
        uri: "/haproxy?stats".into(),
        realm: None,
        users: Vec::new(),
        refresh: None,
        admin: Vec::new(),
        hide_version: false,
        show_legends: false,
        show_node: None,
        show_desc: None,
        scope: Vec::new(),
        access: Vec::new(),
    }
}

/// Applies one `stats` line of the section named `section` to its page settings.
pub fn apply(d: &Directive, section: &str, acls: &[acl::Named], page: &mut Option<StatsPage>) -> Res<()> {
    let Some(sub) = d.arg(1) else {
        return Err((
            "'stats' expects a setting".into(),
            Some("e.g. 'stats enable', 'stats uri /stats', 'stats auth USER:PASSWORD'".into()),
        ));
    };
    let args = &d.words[2..];
    let p = page.get_or_insert_with(|| enabled(d));
    let one = |what: &str| -> Res<String> {
        match args {
            [v] => Ok(v.clone()),
            _ => fail(format!("'stats {sub}' expects {what}")),
        }
    };
    let optional = || -> Res<Option<String>> {
        match args {
            [] => Ok(None),
            [v] => Ok(Some(v.clone())),
            _ => fail(format!(
                "'stats {sub}' takes at most one word (escape spaces with '\\')"
            )),
        }
    };
    match sub {
        "enable" => no_args(sub, args)?,
        "uri" => {
            let uri = one("a URI prefix, e.g. /stats")?;
            if uri.is_empty() {
                return fail("'stats uri' expects a non-empty URI prefix");
            }
            p.uri = uri;
        }
        "realm" => p.realm = Some(one("a realm (escape spaces with '\\')")?),
        "auth" => {
            let v = one("USER:PASSWORD")?;
            let Some((user, pass)) = v.split_once(':') else {
                return fail(format!("'stats auth {v}': expected USER:PASSWORD"));
            };
            if user.is_empty() {
                return fail("'stats auth': the user name is empty");
            }
            p.users.push((user.to_string(), pass.to_string()));
        }
        "refresh" => {
            let v = one("a delay, e.g. 10s")?;
            // Seconds unless a unit is given.
            let t = if v.bytes().all(|b| b.is_ascii_digit()) {
                crate::units::time(&format!("{v}s"))
            } else {
                crate::units::time(&v)
            };
            p.refresh = Some(t.map_err(|e| (format!("'stats refresh': {e}"), None))?);
        }
        "admin" => {
            if args.is_empty() {
                return Err((
                    "'stats admin' expects a condition".into(),
                    Some("e.g. 'stats admin if LOCALHOST', or 'stats admin if TRUE' behind 'stats auth'".into()),
                ));
            }
            p.admin.push(acl::condition(args, acls)?);
        }
        "hide-version" => {
            no_args(sub, args)?;
            p.hide_version = true;
        }
        "show-legends" => {
            no_args(sub, args)?;
            p.show_legends = true;
        }
        "show-node" => p.show_node = Some(optional()?),
        "show-desc" => p.show_desc = Some((!args.is_empty()).then(|| args.join(" "))),
        "show-modules" => no_args(sub, args)?,
        "scope" => {
            let name = one("a proxy name, or '.' for this section")?;
            p.scope.push(if name == "." { section.to_string() } else { name });
        }
        "http-request" => p.access.push(access(d, args, acls)?),
        "socket" | "timeout" | "maxconn" | "bind-process" => {
            return fail(format!("'stats {sub}' belongs in the 'global' section"));
        }
        other => {
            let all = [
                "enable",
                "uri",
                "realm",
                "auth",
                "refresh",
                "admin",
                "hide-version",
                "show-legends",
                "show-node",
                "show-desc",
                "show-modules",
                "scope",
                "http-request",
            ];
            return Err((format!("unknown 'stats {other}'"), crate::suggest::hint(other, all)));
        }
    }
    Ok(())
}

fn no_args(sub: &str, args: &[String]) -> Res<()> {
    match args {
        [] => Ok(()),
        _ => fail(format!("'stats {sub}' takes no argument")),
    }
}

/// `stats http-request allow|deny|auth [realm R] [if|unless COND]`.
fn access(d: &Directive, args: &[String], acls: &[acl::Named]) -> Res<StatsAccess> {
    let (words, condition) = acl::split_condition(args, acls)?;
    let kind = match words {
        [a] if a == "allow" => StatsAccessKind::Allow,
        [a] if a == "deny" => StatsAccessKind::Deny,
        [a] if a == "auth" => StatsAccessKind::Auth { realm: None },
        [a, r, realm] if a == "auth" && r == "realm" => StatsAccessKind::Auth {
            realm: Some(realm.clone()),
        },
        _ => {
            let f: Failure = (
                "'stats http-request' expects 'allow', 'deny' or 'auth [realm REALM]', then an optional condition"
                    .into(),
                None,
            );
            return Err(f);
        }
    };
    Ok(StatsAccess {
        span: d.span.clone(),
        kind,
        condition,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Span;

    fn page(lines: &[&str]) -> Res<Option<StatsPage>> {
        let mut p = None;
        for l in lines {
            let d = Directive {
                words: l.split_whitespace().map(String::from).collect(),
                span: Span {
                    file: "t.cfg".into(),
                    line: 1,
                },
            };
            apply(&d, "web", &[], &mut p)?;
        }
        Ok(p)
    }

    #[test]
    fn each_line_turns_the_page_on_with_haproxys_defaults() {
        let p = page(&["stats realm Hi"]).expect("valid").expect("on");
        assert_eq!(p.uri, "/haproxy?stats");
        assert_eq!(p.realm.as_deref(), Some("Hi"));
        let p = page(&[
            "stats uri /s",
            "stats auth a:b:c",
            "stats auth x:",
            "stats refresh 5",
            "stats scope .",
            "stats scope other",
            "stats admin if TRUE",
            "stats show-node",
            "stats hide-version",
        ])
        .expect("valid")
        .expect("on");
        assert_eq!(p.uri, "/s");
        assert_eq!(p.users, [("a".into(), "b:c".into()), ("x".into(), String::new())]);
        assert_eq!(p.refresh, Some(std::time::Duration::from_secs(5)));
        assert_eq!(p.scope, ["web", "other"]);
        assert_eq!(p.admin.len(), 1);
        assert_eq!(p.show_node, Some(None));
        assert!(p.hide_version);
        let p = page(&["stats refresh 500ms"]).expect("valid").expect("on");
        assert_eq!(p.refresh, Some(std::time::Duration::from_millis(500)));
    }

    #[test]
    fn access_rules_and_mistakes() {
        let p = page(&["stats http-request auth realm R unless TRUE", "stats http-request deny"])
            .expect("valid")
            .expect("on");
        assert_eq!(p.access.len(), 2);
        assert!(matches!(&p.access[0].kind, StatsAccessKind::Auth { realm: Some(r) } if r == "R"));
        assert!(p.access[0].condition.is_some());
        for (line, says) in [
            ("stats", "expects a setting"),
            ("stats auth nocolon", "USER:PASSWORD"),
            ("stats auth :pw", "user name is empty"),
            ("stats admin", "expects a condition"),
            ("stats enable now", "takes no argument"),
            ("stats refresh soon", "stats refresh"),
            ("stats http-request tarpit", "'allow', 'deny' or 'auth"),
            ("stats socket /x", "global"),
            ("stats ur /x", "unknown 'stats ur'"),
        ] {
            let e = page(&[line]).expect_err(line);
            assert!(e.0.contains(says), "{line}: {e:?}");
        }
    }
}
