//! The syntax of a sample expression: `name(arg,arg),conv(arg),conv`. Arguments are split
//! on commas; single or double quotes keep commas and parentheses in one argument, a
//! backslash escapes quotes, blanks and itself (not in single quotes). Names and arguments only: what they mean is
//! the fetch's or the converter's.

/// `name` or `name(args...)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub name: String,
    /// None without parentheses; `name()` has one empty argument list.
    pub args: Option<Vec<String>>,
}

impl Call {
    /// The arguments, none when there were no parentheses.
    pub fn args(&self) -> &[String] {
        self.args.as_deref().unwrap_or(&[])
    }
}

/// Reads an expression from the start of `s`: the fetch, its converters, and how many
/// bytes were read (the expression ends at the end of `s` or at the first character that
/// cannot continue it, such as `]` after `%[...`).
pub fn parse_prefix(s: &str) -> Result<(Call, Vec<Call>, usize), String> {
    let b = s.as_bytes();
    let mut at = 0;
    let mut calls = Vec::new();
    loop {
        let start = at;
        while at < b.len() && (b[at].is_ascii_alphanumeric() || matches!(b[at], b'_' | b'.' | b'-' | b'+')) {
            at += 1;
        }
        if at == start {
            return Err(if calls.is_empty() {
                format!("'{s}': expected a sample fetch name")
            } else {
                format!("'{s}': expected a converter name after ','")
            });
        }
        let name = s[start..at].to_string();
        let mut args = None;
        if b.get(at) == Some(&b'(') {
            let (list, used) = arguments(&s[at + 1..]).map_err(|e| format!("'{s}': {e}"))?;
            args = Some(list);
            at += 1 + used;
        }
        calls.push(Call { name, args });
        if b.get(at) == Some(&b',') {
            at += 1;
            continue;
        }
        break;
    }
    let first = calls.remove(0);
    Ok((first, calls, at))
}

/// The whole of `s` as an expression.
pub fn parse(s: &str) -> Result<(Call, Vec<Call>), String> {
    let (f, convs, used) = parse_prefix(s)?;
    if used != s.len() {
        return Err(format!("'{s}': unexpected '{}' after the expression", &s[used..]));
    }
    Ok((f, convs))
}

/// Splits the arguments after `(` up to the closing `)`; returns them and the bytes read
/// including `)`.
fn arguments(s: &str) -> Result<(Vec<String>, usize), String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match (quote, c) {
            // As HAProxy: outside single quotes a backslash escapes itself, a blank and the
            // quotes, and writes CR, LF and TAB as \r \n \t; before anything else it is
            // kept (regsub's \1 references).
            (None | Some('"'), '\\') => match chars.peek().map(|&(_, n)| n) {
                Some(n @ ('\\' | ' ' | '"' | '\'')) => {
                    cur.push(n);
                    chars.next();
                }
                Some('r') => {
                    cur.push('\r');
                    chars.next();
                }
                Some('n') => {
                    cur.push('\n');
                    chars.next();
                }
                Some('t') => {
                    cur.push('\t');
                    chars.next();
                }
                Some(_) => cur.push('\\'),
                None => return Err("a '\\' ends the arguments".into()),
            },
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => quote = Some(c),
            (None, ',') => out.push(std::mem::take(&mut cur)),
            (None, ')') => {
                out.push(cur);
                return Ok((out, i + 1));
            }
            (None, c) => cur.push(c),
        }
    }
    Err(match quote {
        Some(q) => format!("a {q} quote is not closed"),
        None => "missing ')'".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(name: &str, args: Option<&[&str]>) -> Call {
        Call {
            name: name.into(),
            args: args.map(|a| a.iter().map(|s| s.to_string()).collect()),
        }
    }

    #[test]
    fn chains() {
        let (f, convs) = parse("var(txn.input),add_item(',',txn.var,_suff_)").unwrap();
        assert_eq!(f, c("var", Some(&["txn.input"])));
        assert_eq!(convs, vec![c("add_item", Some(&[",", "txn.var", "_suff_"]))]);
        let (f, convs) = parse("path,field(3,/),lower").unwrap();
        assert_eq!(f, c("path", None));
        assert_eq!(convs, vec![c("field", Some(&["3", "/"])), c("lower", None)]);
        let (_, convs) = parse(r#"url,regsub("[/]+",/,g)"#).unwrap();
        assert_eq!(convs[0].args(), ["[/]+", "/", "g"]);
        let (_, convs) = parse(r#"hdr(x),regsub("(a)\"",\2\1,i)"#).unwrap();
        assert_eq!(convs[0].args(), ["(a)\"", r"\2\1", "i"]);
        let (_, convs) = parse(r"hdr(x),concat('\',\ )").unwrap();
        assert_eq!(convs[0].args(), [r"\", " "]);
        assert_eq!(parse("src()").unwrap().0, c("src", Some(&[""])));
        let (_, _, used) = parse_prefix("hdr(host),lower] tail").unwrap();
        assert_eq!(used, "hdr(host),lower".len());
        assert!(parse("hdr(host").is_err());
        assert!(parse("path,").is_err());
        assert!(parse("a,b(')").is_err());
    }
}
