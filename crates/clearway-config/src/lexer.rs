//! Splits one configuration line into words as HAProxy does: `#` comments, double quotes
//! (with escapes and `${VAR}` expansion), single quotes (literal), backslash escapes.
//! Owns the character-level rules only; must not know any keyword.

/// Looks up an environment variable for `${VAR}` expansion.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The words of `line`, or a description of what is malformed.
pub fn words(line: &str, env: Env<'_>) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\r' | '\n' => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '#' => break,
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(e) => cur.push_str(&unescape(e, &mut chars)?),
                    None => return Err("a backslash ends the line (line continuation is not supported)".into()),
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(ch) => cur.push(ch),
                        None => return Err("unterminated single quote".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(e) => cur.push_str(&unescape(e, &mut chars)?),
                            None => return Err("unterminated double quote".into()),
                        },
                        Some('$') if chars.peek() == Some(&'{') => {
                            chars.next();
                            let mut name = String::new();
                            loop {
                                match chars.next() {
                                    Some('}') => break,
                                    Some(ch) => name.push(ch),
                                    None => return Err(format!("unterminated '${{{name}' in double quotes")),
                                }
                            }
                            // HAProxy's `${NAME[,]}` form: the part after '[' only controls
                            // splitting; `${NAME-default}` stands for `default` when NAME is unset.
                            let key = name.split('[').next().unwrap_or_default();
                            let (key, default) = match key.split_once('-') {
                                Some((k, d)) => (k, Some(d)),
                                None => (key, None),
                            };
                            if key.is_empty() {
                                return Err("empty environment variable name in '${}'".into());
                            }
                            match env(key) {
                                Some(v) => cur.push_str(&v),
                                None => cur.push_str(default.unwrap_or_default()),
                            }
                        }
                        Some(ch) => cur.push(ch),
                        None => return Err("unterminated double quote".into()),
                    }
                }
            }
            _ => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

fn unescape(e: char, rest: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Result<String, String> {
    Ok(match e {
        't' => "\t".into(),
        'n' => "\n".into(),
        'r' => "\r".into(),
        'x' => {
            let hex: String = [rest.next(), rest.next()].into_iter().flatten().collect();
            let v = u8::from_str_radix(&hex, 16)
                .map_err(|_| format!("invalid escape '\\x{hex}': two hex digits expected"))?;
            char::from(v).to_string()
        }
        ' ' | '#' | '\\' | '\'' | '"' | '$' => e.to_string(),
        // Not a special character: HAProxy keeps the backslash, so regular expressions such
        // as `^www\.example\.com$` or `^\+PONG` survive.
        other => format!("\\{other}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "PORT").then(|| "8080".to_string())
    }

    fn w(line: &str) -> Vec<String> {
        words(line, &env).unwrap()
    }

    #[test]
    fn splits_and_strips_comments() {
        assert_eq!(
            w("  bind 1.2.3.4:80   transparent # a comment"),
            ["bind", "1.2.3.4:80", "transparent"]
        );
        assert_eq!(w("# only a comment"), Vec::<String>::new());
        assert_eq!(w(""), Vec::<String>::new());
    }

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(
            w(r#"description "two words" 'single $x' a\ b c\#d"#),
            ["description", "two words", "single $x", "a b", "c#d"]
        );
        assert_eq!(w(r#"x "say \"hi\"" "" y"#), ["x", "say \"hi\"", "", "y"]);
        assert_eq!(w(r"x \x41"), ["x", "A"]);
        assert_eq!(
            w(r"rstring ^\+PONG ^www\.example\.com$"),
            ["rstring", r"^\+PONG", r"^www\.example\.com$"]
        );
        assert_eq!(w(r#"x "a\.b" c\$d"#), ["x", r"a\.b", "c$d"]);
    }

    #[test]
    fn env_expansion_only_in_double_quotes() {
        assert_eq!(
            w(r#"bind ":${PORT}" '${PORT}' "${UNSET}x""#),
            ["bind", ":8080", "${PORT}", "x"]
        );
        // A default for an unset variable, as HAProxy's `${NAME-default}`.
        assert_eq!(
            w(r#"timeout "${UNSET-5s}" "${PORT-1}" "${UNSET-}""#),
            ["timeout", "5s", "8080", ""]
        );
    }

    #[test]
    fn malformed_lines() {
        assert!(words("x \"open", &env).unwrap_err().contains("double quote"));
        assert!(words("x 'open", &env).unwrap_err().contains("single quote"));
        assert!(words("x \\", &env).is_err());
    }
}
