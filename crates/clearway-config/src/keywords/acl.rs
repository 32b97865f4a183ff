//! `acl NAME CRITERION [FLAGS] PATTERNS...` and conditions (`if|unless` with `!`, `||`, `or`
//! and anonymous `{ ... }` ACLs): match methods, flags and patterns. The expressions they
//! test are `sample`'s; must not know which keyword a condition belongs to.

pub use super::sample::{expression, template, with_userlists};
use super::Res;
use crate::rules::{parse_int_range, parse_net, AclTest, Chain, Condition, Expr, Fetch, MatchKind, Term};

/// A named ACL as declared so far in a section: every line with that name, any of which may match.
#[derive(Debug, Clone)]
pub struct Named {
    pub name: String,
    pub tests: Vec<AclTest>,
}

/// Parses `CRITERION [FLAGS] PATTERNS...` (the words after the ACL name, or inside `{ }`).
pub fn test(words: &[String]) -> Result<AclTest, (String, Option<String>)> {
    let Some(first) = words.first() else {
        return Err(("an ACL needs a criterion, e.g. 'path_beg /api'".into(), None));
    };
    let (expr, mut matcher) = expression(first).map_err(|e| {
        let base = first.split('(').next().unwrap_or(first);
        let hint = if e.starts_with("unknown") {
            crate::suggest::hint(base, super::sample::CRITERIA.iter().copied())
        } else {
            None
        };
        (e, hint)
    })?;
    let mut icase = false;
    let mut i = 1;
    let mut patterns = Vec::new();
    while let Some(w) = words.get(i) {
        match w.as_str() {
            "-i" => icase = true,
            "-n" | "-u" => {}
            "-m" => {
                i += 1;
                let kind = words
                    .get(i)
                    .ok_or("'-m' expects a match method (str, beg, end, sub, reg, ...)")
                    .map_err(|e| (e.to_string(), None))?;
                matcher = match kind.as_str() {
                    "str" => MatchKind::Str,
                    "beg" => MatchKind::Beg,
                    "end" => MatchKind::End,
                    "sub" => MatchKind::Sub,
                    "reg" => MatchKind::Reg,
                    "dom" => MatchKind::Dom,
                    "dir" => MatchKind::Dir,
                    "len" => MatchKind::Len,
                    "ip" => MatchKind::Ip,
                    "int" => MatchKind::Int,
                    "bool" => MatchKind::Bool,
                    "found" => MatchKind::Found,
                    "bin" => MatchKind::Bin,
                    other => {
                        let all = [
                            "str", "beg", "end", "sub", "reg", "dom", "dir", "len", "ip", "int", "bool", "found", "bin",
                        ];
                        return Err((
                            format!("unknown match method '-m {other}'"),
                            crate::suggest::hint(other, all),
                        ));
                    }
                };
            }
            "-f" => {
                i += 1;
                let path = words
                    .get(i)
                    .ok_or(("'-f' expects a file of patterns".to_string(), None))?;
                let text = std::fs::read_to_string(super::paths::file(path))
                    .map_err(|e| (format!("cannot read pattern file '{path}': {e}"), None))?;
                patterns.extend(
                    text.lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty() && !l.starts_with('#'))
                        .map(String::from),
                );
            }
            "--" => {
                i += 1;
                break;
            }
            f if f.starts_with('-') && f.len() > 1 && !matches!(matcher, MatchKind::Int) => {
                return Err((
                    format!("unknown ACL flag '{f}'"),
                    Some("flags are -i, -m METHOD, -f FILE, -n, -u and --".into()),
                ));
            }
            _ => break,
        }
        i += 1;
    }
    let mut rest: Vec<String> = words[i.min(words.len())..].to_vec();
    // Integer operators: `gt 10` and friends become ranges.
    if matches!(matcher, MatchKind::Int | MatchKind::Len) {
        if let [op, n] = rest.as_slice() {
            let v: i64 = n.parse().map_err(|_| (format!("'{n}' is not an integer"), None))?;
            let range = match op.as_str() {
                "eq" => Some(format!("{v}")),
                "ge" => Some(format!("{v}:")),
                "gt" => Some(format!("{}:", v.saturating_add(1))),
                "le" => Some(format!(":{v}")),
                "lt" => Some(format!(":{}", v.saturating_sub(1))),
                _ => None,
            };
            if let Some(r) = range {
                rest = vec![r];
            }
        }
    }
    patterns.extend(rest);
    for p in &patterns {
        let checked = match matcher {
            MatchKind::Ip => parse_net(p).map(|_| ()),
            MatchKind::Int | MatchKind::Len => parse_int_range(p).map(|_| ()),
            MatchKind::Bin if p.len() % 2 != 0 || !p.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Err(format!("'{p}' is not a hexadecimal string"))
            }
            MatchKind::Reg => regex::RegexBuilder::new(p)
                .case_insensitive(icase)
                .build()
                .map(|_| ())
                .map_err(|e| format!("bad regular expression '{p}': {e}")),
            _ => Ok(()),
        };
        checked.map_err(|e| (e, None))?;
    }
    let Expr { fetch, convs } = expr;
    if let Fetch::HttpAuthGroup(ul) = &fetch {
        // As HAProxy: the groups must be the list's.
        if let Some(g) = patterns.iter().find(|g| !ul.groups.contains(g)) {
            return Err((format!("group '{g}' is not declared in userlist '{}'", ul.name), None));
        }
    }
    if patterns.is_empty() && !matches!(matcher, MatchKind::Bool | MatchKind::Found) {
        return Err((
            format!("the ACL criterion '{first}' needs at least one pattern to match"),
            Some("add a value, or use '-m found' to test that it exists".into()),
        ));
    }
    Ok(AclTest {
        fetch,
        convs,
        matcher,
        icase,
        patterns,
    })
}

/// ACLs every proxy has without declaring them, as in HAProxy.
fn predefined(name: &str) -> Option<AclTest> {
    let t = |fetch: Fetch, matcher: MatchKind, patterns: &[&str]| AclTest {
        fetch,
        convs: Chain::default(),
        matcher,
        icase: false,
        patterns: patterns.iter().map(|s| s.to_string()).collect(),
    };
    Some(match name {
        "TRUE" => t(Fetch::Always(true), MatchKind::Bool, &[]),
        "FALSE" => t(Fetch::Always(false), MatchKind::Bool, &[]),
        "WAIT_END" => t(Fetch::WaitEnd, MatchKind::Bool, &[]),
        "LOCALHOST" => t(Fetch::Src, MatchKind::Ip, &["127.0.0.0/8", "::1"]),
        "HTTP" => t(Fetch::Method, MatchKind::Found, &[]),
        "HTTP_1.0" => t(Fetch::Version, MatchKind::Str, &["1.0"]),
        "HTTP_1.1" => t(Fetch::Version, MatchKind::Str, &["1.1"]),
        "HTTP_2.0" => t(Fetch::Version, MatchKind::Str, &["2.0"]),
        "HTTP_URL_SLASH" => t(Fetch::Url, MatchKind::Beg, &["/"]),
        "HTTP_URL_STAR" => t(Fetch::Url, MatchKind::Str, &["*"]),
        "METH_GET" => t(Fetch::Method, MatchKind::Str, &["GET", "HEAD"]),
        "METH_HEAD" => t(Fetch::Method, MatchKind::Str, &["HEAD"]),
        "METH_POST" => t(Fetch::Method, MatchKind::Str, &["POST"]),
        "METH_PUT" => t(Fetch::Method, MatchKind::Str, &["PUT"]),
        "METH_DELETE" => t(Fetch::Method, MatchKind::Str, &["DELETE"]),
        "METH_OPTIONS" => t(Fetch::Method, MatchKind::Str, &["OPTIONS"]),
        "METH_CONNECT" => t(Fetch::Method, MatchKind::Str, &["CONNECT"]),
        "METH_TRACE" => t(Fetch::Method, MatchKind::Str, &["TRACE"]),
        _ => return None,
    })
}

/// Parses the words of a condition, starting at `if` or `unless`, against the ACLs declared so far.
pub fn condition(words: &[String], acls: &[Named]) -> Result<Condition, (String, Option<String>)> {
    let unless = match words.first().map(String::as_str) {
        Some("if") => false,
        Some("unless") => true,
        Some(w) => return Err((format!("expected 'if' or 'unless' before a condition, not '{w}'"), None)),
        None => return Err(("expected 'if' or 'unless'".into(), None)),
    };
    // `!{ ... }`, written without a space as HAProxy accepts it, is `! { ... }`.
    let split: Vec<String>;
    let words = if words.iter().any(|w| w == "!{") {
        split = words
            .iter()
            .flat_map(|w| match w.as_str() {
                "!{" => vec!["!".to_string(), "{".to_string()],
                _ => vec![w.clone()],
            })
            .collect();
        &split[..]
    } else {
        words
    };
    let mut any_of = vec![Vec::new()];
    let mut i = 1;
    let mut negate = false;
    while let Some(w) = words.get(i) {
        match w.as_str() {
            "||" | "or" => {
                if negate || any_of.last().is_some_and(Vec::is_empty) {
                    return Err((format!("'{w}' without an ACL before it"), None));
                }
                any_of.push(Vec::new());
            }
            "!" => negate = !negate,
            "{" => {
                let end = words[i..]
                    .iter()
                    .position(|w| w == "}")
                    .map(|p| p + i)
                    .ok_or(("anonymous ACL '{' is not closed with '}'".to_string(), None))?;
                let inner = &words[i + 1..end];
                let test = test(inner)?;
                any_of.last_mut().expect("a group").push(Term {
                    negate,
                    name: format!("{{ {} }}", inner.join(" ")),
                    tests: vec![test],
                });
                negate = false;
                i = end;
            }
            name => {
                let name = name.strip_prefix('!').map_or(name, |n| {
                    negate = !negate;
                    n
                });
                let tests = match acls.iter().find(|a| a.name == name) {
                    Some(a) => a.tests.clone(),
                    None => match predefined(name) {
                        Some(t) => vec![t],
                        None => {
                            let hint = crate::suggest::hint(name, acls.iter().map(|a| a.name.as_str()));
                            return Err((
                                format!("no ACL named '{name}' is declared before this line"),
                                hint.or(Some("declare it first: 'acl NAME CRITERION VALUES'".into())),
                            ));
                        }
                    },
                };
                any_of.last_mut().expect("a group").push(Term {
                    negate,
                    name: name.to_string(),
                    tests,
                });
                negate = false;
            }
        }
        i += 1;
    }
    if negate || any_of.iter().any(Vec::is_empty) {
        return Err(("incomplete condition: an ACL is missing".into(), None));
    }
    Ok(Condition { unless, any_of })
}

/// Splits a rule's words at `if`/`unless`: the action's words and the parsed condition.
pub fn split_condition<'a>(words: &'a [String], acls: &[Named]) -> Res<(&'a [String], Option<Condition>)> {
    match words.iter().position(|w| w == "if" || w == "unless") {
        Some(at) => Ok((&words[..at], Some(condition(&words[at..], acls)?))),
        None => Ok((words, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn criteria_and_flags() {
        let t = test(&w("hdr_beg(Host) -i api.")).unwrap();
        assert_eq!(t.fetch, Fetch::Hdr("host".into()));
        assert_eq!(t.matcher, MatchKind::Beg);
        assert!(t.icase);
        let t = test(&w("path -m reg ^/a+$")).unwrap();
        assert_eq!(t.matcher, MatchKind::Reg);
        assert_eq!(test(&w("dst_port gt 1023")).unwrap().patterns, vec!["1024:"]);
        assert!(test(&w("src 10.0.0.0/40")).is_err());
        assert!(test(&w("path_reg (")).is_err());
        let e = test(&w("path_bgn /x")).unwrap_err();
        assert_eq!(e.1.as_deref(), Some("did you mean 'path_beg'?"));
        assert_eq!(test(&w("ssl_fc")).unwrap().matcher, MatchKind::Bool);
        assert!(test(&w("path")).is_err());
        // Converters: the match kind follows what they give.
        let t = test(&w("path,field(2,/),length gt 3")).unwrap();
        assert_eq!((t.matcher, t.convs.0.len()), (MatchKind::Int, 2));
        assert_eq!(test(&w("src,ipmask(24) 10.0.0.0")).unwrap().matcher, MatchKind::Ip);
        let t = test(&w("var(txn.x) -m str a")).unwrap();
        assert!(matches!(t.fetch, Fetch::Var { .. }));
        assert!(test(&w("var(x) a")).is_err());
        assert!(test(&w("path,nope a")).unwrap_err().0.contains("unknown converter"));
        assert_eq!(test(&w("str(a),lower a")).unwrap().fetch, Fetch::Str("a".into()));
    }

    #[test]
    fn conditions() {
        let acls = vec![Named {
            name: "api".into(),
            tests: vec![test(&w("path_beg /api")).unwrap()],
        }];
        let c = condition(&w("if api || { src 192.0.2.0/24 } !METH_GET"), &acls).unwrap();
        assert!(!c.unless);
        assert_eq!(c.any_of.len(), 2);
        assert_eq!(c.any_of[1].len(), 2);
        assert!(c.any_of[1][1].negate);
        let c = condition(&w("unless !api"), &acls).unwrap();
        assert!(c.unless && c.any_of[0][0].negate);
        assert!(condition(&w("if nope"), &acls).is_err());
        assert!(condition(&w("if api ||"), &acls).is_err());
        assert!(condition(&w("if { path_beg /x"), &acls).is_err());
        // `!{` without a space, as HAProxy reads it.
        let c = condition(&w("if !{ ssl_fc } api"), &acls).unwrap();
        assert!(c.any_of[0][0].negate && !c.any_of[0][1].negate, "{c:?}");
        assert_eq!(c.any_of[0][0].tests[0].fetch, Fetch::SslFc);
    }
}
