//! `json_query(PATH[,int])`: a value out of a JSON text by a JSON path (`$.a.b`, `$.a[0]`,
//! `$['a']`), as HAProxy gives it: strings unescaped, booleans, whole numbers as integers and
//! others as text (with `int`: truncated to an integer), arrays as their JSON text; objects and
//! nulls give nothing.

use super::{Arg, Def};
use crate::{Sample, Type};
use serde_json::Value;
use std::borrow::Cow;

/// One step of a path.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Key(String),
    Index(usize),
}

fn parse_path(p: &str) -> Result<Vec<Step>, String> {
    let bad = || format!("'{p}' is not a JSON path such as '$.name' or '$.list[0]'");
    let mut rest = p.strip_prefix('$').ok_or_else(bad)?;
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            // A key runs to the next `.` or `[`; a backslash makes the next character (a
            // dot, as in `$.my\.key`) part of it, as HAProxy's JSON paths read it.
            let (mut key, mut end, mut chars) = (String::new(), r.len(), r.char_indices());
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => key.extend(chars.next().map(|(_, c)| c)),
                    '.' | '[' => {
                        end = i;
                        break;
                    }
                    c => key.push(c),
                }
            }
            if key.is_empty() {
                return Err(bad());
            }
            steps.push(Step::Key(key));
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']').ok_or_else(bad)?;
            let inner = r[..end].trim();
            let quoted = inner
                .strip_prefix('\'')
                .and_then(|x| x.strip_suffix('\''))
                .or_else(|| inner.strip_prefix('"').and_then(|x| x.strip_suffix('"')));
            steps.push(match quoted {
                Some(k) => Step::Key(k.to_string()),
                None => Step::Index(inner.parse().map_err(|_| bad())?),
            });
            rest = &r[end + 1..];
        } else {
            return Err(bad());
        }
    }
    Ok(steps)
}

fn find<'v>(v: &'v Value, steps: &[Step]) -> Option<&'v Value> {
    steps.iter().try_fold(v, |v, s| match (s, v) {
        (Step::Key(k), Value::Object(m)) => m.get(k),
        (Step::Index(i), Value::Array(a)) => a.get(*i),
        _ => None,
    })
}

pub(super) const DEFS: &[Def] = &[Def {
    name: "json_query",
    input: Type::Str,
    output: Type::Any,
    args: (1, 2),
    parse: |a| {
        let steps = parse_path(&a[0])?;
        let int = match a.get(1).map(String::as_str) {
            None | Some("") => false,
            Some("int") => true,
            Some(o) => return Err(format!("unknown output type '{o}' (only 'int')")),
        };
        Ok(vec![Arg::JsonPath(steps.into()), Arg::Int(i64::from(int))])
    },
    run: |a, s, _| {
        let text = s.to_text();
        let v: Value = serde_json::from_slice(&text).ok()?;
        let Arg::JsonPath(path) = &a[0] else { return None };
        let found = find(&v, path)?;
        let int = a[1].int() == 1;
        Some(match found {
            Value::String(x) if int => Sample::Int(x.trim().parse().ok()?),
            Value::String(x) => Sample::Str(Cow::Owned(x.clone().into_bytes())),
            Value::Bool(b) => Sample::Bool(*b),
            Value::Number(n) => match (n.as_i64(), int) {
                (Some(i), _) => Sample::Int(i),
                (None, true) => Sample::Int(n.as_f64()? as i64),
                (None, false) => Sample::Str(Cow::Owned(n.to_string().into_bytes())),
            },
            Value::Array(_) => Sample::Str(Cow::Owned(found.to_string().into_bytes())),
            Value::Object(_) | Value::Null => return None,
        })
    },
}];

#[cfg(test)]
mod tests {
    use super::super::testing::text;
    use super::*;

    #[test]
    fn queries() {
        let doc = r#"{"iss":"me","n":42,"f":1.5,"ok":true,"list":[1,"two"],"o":{"a b":{"c":"deep"}},"z":null,"my.key":"dotted"}"#;
        assert_eq!(text(doc, "json_query('$.iss')").as_deref(), Some("me"));
        assert_eq!(text(doc, "json_query('$.n')").as_deref(), Some("42"));
        assert_eq!(text(doc, "json_query('$.f')").as_deref(), Some("1.5"));
        assert_eq!(text(doc, "json_query('$.f',int)").as_deref(), Some("1"));
        assert_eq!(text(doc, "json_query('$.ok')").as_deref(), Some("1"));
        assert_eq!(text(doc, "json_query('$.list')").as_deref(), Some(r#"[1,"two"]"#));
        assert_eq!(text(doc, "json_query('$.list[1]')").as_deref(), Some("two"));
        assert_eq!(text(doc, "json_query(\"$.o['a b'].c\")").as_deref(), Some("deep"));
        assert_eq!(text(doc, "json_query('$.my\\.key')").as_deref(), Some("dotted"));
        assert_eq!(text(doc, "json_query('$.o')"), None, "objects give nothing");
        assert_eq!(text(doc, "json_query('$.z')"), None);
        assert_eq!(text(doc, "json_query('$.missing')"), None);
        assert_eq!(text("not json", "json_query('$.a')"), None);
        assert!(parse_path("a.b").is_err() && parse_path("$..a").is_err());
    }
}
