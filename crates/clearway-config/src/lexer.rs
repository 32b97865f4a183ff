//! Splits one configuration line into words as HAProxy does: `#` comments, double quotes
//! (with escapes and `${VAR}` expansion), single quotes (literal), backslash escapes. An
//! unquoted `${VAR}` stays as written, except in addresses, which HAProxy expands wherever
//! the variable is: `address` gives their expanded text. Owns the character-level rules only;
//! must not know any keyword.

use std::cell::RefCell;
use std::collections::HashMap;

/// Looks up an environment variable for `${VAR}` expansion.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

thread_local! {
    /// Words of the configuration being read that hold an unquoted `${VAR}`, and their
    /// expansion (for `address`).
    static UNQUOTED: RefCell<HashMap<String, String>> = RefCell::new(HashMap::new());
}

/// Forgets the expansions of a configuration read before.
pub fn reset() {
    UNQUOTED.with(|u| u.borrow_mut().clear());
}

/// The text of an address as HAProxy reads it: with `${VAR}` expanded even outside double
/// quotes (an unset variable is empty).
pub fn address(word: &str) -> std::borrow::Cow<'_, str> {
    match UNQUOTED.with(|u| u.borrow().get(word).cloned()) {
        Some(expanded) => expanded.into(),
        None => word.into(),
    }
}

/// `${NAME}` or `${NAME-default}` (with HAProxy's `[...]` suffix ignored): its value.
fn variable(name: &str, env: Env<'_>) -> Result<String, String> {
    let key = name.split('[').next().unwrap_or_default();
    let (key, default) = match key.split_once('-') {
        Some((k, d)) => (k, Some(d)),
        None => (key, None),
    };
    if key.is_empty() {
        return Err("empty environment variable name in '${}'".into());
    }
    Ok(env(key).unwrap_or_else(|| default.unwrap_or_default().to_string()))
}

/// `word` with each `${...}` replaced by its value.
fn expand(word: &str, env: Env<'_>) -> String {
    let mut out = String::new();
    let mut rest = word;
    while let Some(at) = rest.find("${") {
        out.push_str(&rest[..at]);
        match rest[at + 2..].find('}') {
            Some(end) => {
                out.push_str(&variable(&rest[at + 2..at + 2 + end], env).unwrap_or_default());
                rest = &rest[at + 2 + end + 1..];
            }
            None => {
                out.push_str(&rest[at..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The words of `line`, or a description of what is malformed.
pub fn words(line: &str, env: Env<'_>) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    // The word has an unquoted `${`.
    let mut unquoted_env = false;
    let end_word = |cur: &mut String, out: &mut Vec<String>, unquoted_env: &mut bool| {
        let word = std::mem::take(cur);
        if std::mem::take(unquoted_env) {
            let expanded = expand(&word, env);
            UNQUOTED.with(|u| u.borrow_mut().insert(word.clone(), expanded));
        }
        out.push(word);
    };
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\r' | '\n' => {
                if in_word {
                    end_word(&mut cur, &mut out, &mut unquoted_env);
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
                            cur.push_str(&variable(&name, env)?);
                        }
                        Some(ch) => cur.push(ch),
                        None => return Err("unterminated double quote".into()),
                    }
                }
            }
            _ => {
                in_word = true;
                if c == '$' && chars.peek() == Some(&'{') {
                    unquoted_env = true;
                }
                cur.push(c);
            }
        }
    }
    if in_word {
        end_word(&mut cur, &mut out, &mut unquoted_env);
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
