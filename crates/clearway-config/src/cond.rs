//! HAProxy's conditions, as `haproxy -cc EXPR` evaluates them: terms joined by `&&` (binding
//! tighter) and `||`, negated by `!`, grouped by parentheses. A term is a number (true unless
//! 0) or a predicate: `defined(VAR)`, `feature(NAME)`, `streq(A,B)`, `strneq(A,B)`,
//! `version_atleast(V)`, `version_before(V)`, `openssl_version_atleast(V)`,
//! `openssl_version_before(V)`, `ssllib_name_startswith(S)`. Arguments may be quoted: in single
//! quotes literally, in double quotes with `$VAR` and `${VAR}` expanded. Owns the grammar and
//! the evaluation; the facts (the version, the features) are the caller's.

use crate::lexer::Env;

/// What a condition can ask about.
pub struct Facts<'a> {
    /// The HAProxy version whose behaviour is followed, e.g. "2.6.0".
    pub version: &'a str,
    /// The names of the features there are, as `-vv` lists them with a `+`.
    pub features: &'a [&'a str],
    /// The TLS library's name.
    pub ssl_lib: &'a str,
    pub env: Env<'a>,
}

/// The HAProxy version whose configuration and behaviour Clearway follows: what
/// `version_atleast()` in a condition compares with.
pub const HAPROXY_VERSION: &str = "2.6.0";

/// What `-vv` lists with a `+` as HAProxy does, and `feature()` finds: only what Clearway
/// really has (`EPOLL`: its event loop; `TPROXY`/`LINUX_TPROXY`: transparent binds and
/// `usesrc`; `CPU_AFFINITY`: `cpu-map`; `OPENSSL`: HAProxy's TLS keywords, which configs
/// guard with `.if feature(OPENSSL)`, done by `RUSTLS`).
pub const FEATURES: &[&str] = &[
    "EPOLL",
    "TPROXY",
    "LINUX_TPROXY",
    "CPU_AFFINITY",
    "OPENSSL",
    "RUSTLS",
    "PROMEX",
    // Compression (flate2): gzip and deflate as zlib makes them.
    "ZLIB",
    // splice(2): TCP streams and long HTTP/1 bodies go socket to socket.
    "LINUX_SPLICE",
];
/// Features of HAProxy builds that Clearway does not have, listed with a `-`.
pub const NOT_FEATURES: &[&str] = &["LUA", "PCRE", "PCRE2", "SLZ", "QUIC"];

impl<'a> Facts<'a> {
    /// Clearway's own facts, with `env` for variables.
    pub fn clearway(env: Env<'a>) -> Facts<'a> {
        Facts {
            version: HAPROXY_VERSION,
            features: FEATURES,
            ssl_lib: "rustls",
            env,
        }
    }
}

/// Evaluates `expr`; Err says what is malformed.
pub fn eval(expr: &str, facts: &Facts<'_>) -> Result<bool, String> {
    // An empty condition is false.
    if expr.trim().is_empty() {
        return Ok(false);
    }
    let mut p = Parser {
        s: expr.as_bytes(),
        at: 0,
        facts,
    };
    let v = p.or()?;
    p.blanks();
    if p.at < p.s.len() {
        return Err(format!("unexpected '{}' at column {}", p.rest(), p.at + 1));
    }
    Ok(v)
}

struct Parser<'a, 'f> {
    s: &'a [u8],
    at: usize,
    facts: &'f Facts<'f>,
}

impl Parser<'_, '_> {
    fn rest(&self) -> String {
        String::from_utf8_lossy(&self.s[self.at..]).chars().take(20).collect()
    }

    fn blanks(&mut self) {
        while self.s.get(self.at).is_some_and(|b| b.is_ascii_whitespace()) {
            self.at += 1;
        }
    }

    fn eat(&mut self, token: &str) -> bool {
        self.blanks();
        if self.s[self.at..].starts_with(token.as_bytes()) {
            self.at += token.len();
            true
        } else {
            false
        }
    }

    fn or(&mut self) -> Result<bool, String> {
        let mut v = self.and()?;
        while self.eat("||") {
            // Both sides are parsed (a malformed right side is an error either way).
            let r = self.and()?;
            v = v || r;
        }
        Ok(v)
    }

    fn and(&mut self) -> Result<bool, String> {
        let mut v = self.not()?;
        while self.eat("&&") {
            let r = self.not()?;
            v = v && r;
        }
        Ok(v)
    }

    fn not(&mut self) -> Result<bool, String> {
        if self.eat("!") {
            return Ok(!self.not()?);
        }
        if self.eat("(") {
            let v = self.or()?;
            if !self.eat(")") {
                return Err(format!("expected ')' at column {}", self.at + 1));
            }
            return Ok(v);
        }
        self.term()
    }

    fn term(&mut self) -> Result<bool, String> {
        self.blanks();
        let start = self.at;
        if self.s.get(self.at) == Some(&b'-') {
            self.at += 1;
        }
        while self
            .s
            .get(self.at)
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
        {
            self.at += 1;
        }
        let word = std::str::from_utf8(&self.s[start..self.at]).unwrap_or_default();
        if word.is_empty() {
            return Err(format!("expected a term at column {}", self.at + 1));
        }
        if !self.eat("(") {
            return match word.parse::<i64>() {
                Ok(n) => Ok(n != 0),
                Err(_) => Err(format!("'{word}' is neither a number nor a predicate")),
            };
        }
        let args = self.args()?;
        let f = self.facts;
        let one = |args: &[String]| match args {
            [a] => Ok(a.clone()),
            _ => Err(format!("{word}() takes one argument")),
        };
        let two = |args: &[String]| match args {
            [a, b] => Ok((a.clone(), b.clone())),
            _ => Err(format!("{word}() takes two arguments")),
        };
        Ok(match word {
            "defined" => (f.env)(&one(&args)?).is_some(),
            "feature" => f.features.contains(&one(&args)?.as_str()),
            "streq" => {
                let (a, b) = two(&args)?;
                a == b
            }
            "strneq" => {
                let (a, b) = two(&args)?;
                a != b
            }
            "version_atleast" => version(f.version)? >= version(&one(&args)?)?,
            "version_before" => version(f.version)? < version(&one(&args)?)?,
            // There is no OpenSSL here: no version of it is at least or before anything.
            "openssl_version_atleast" | "openssl_version_before" => {
                version(&one(&args)?)?;
                false
            }
            "ssllib_name_startswith" => f.ssl_lib.starts_with(one(&args)?.as_str()),
            other => return Err(format!("unknown predicate '{other}'")),
        })
    }

    /// A predicate's arguments after its '(' up to its ')'.
    fn args(&mut self) -> Result<Vec<String>, String> {
        let mut args = Vec::new();
        let mut cur = String::new();
        loop {
            let Some(&b) = self.s.get(self.at) else {
                return Err("unterminated argument list: expected ')'".into());
            };
            self.at += 1;
            match b {
                b')' => {
                    args.push(std::mem::take(&mut cur));
                    break;
                }
                b',' => args.push(std::mem::take(&mut cur)),
                // Blanks outside quotes only separate.
                b if b.is_ascii_whitespace() => {}
                b'\'' => loop {
                    let Some(&c) = self.s.get(self.at) else {
                        return Err("unterminated single quote".into());
                    };
                    self.at += 1;
                    if c == b'\'' {
                        break;
                    }
                    self.push_char(&mut cur, c);
                },
                b'"' => loop {
                    let Some(&c) = self.s.get(self.at) else {
                        return Err("unterminated double quote".into());
                    };
                    self.at += 1;
                    match c {
                        b'"' => break,
                        b'\\' => {
                            let Some(&e) = self.s.get(self.at) else {
                                return Err("unterminated double quote".into());
                            };
                            self.at += 1;
                            cur.push(char::from(e));
                        }
                        b'$' => cur.push_str(&self.variable()?),
                        _ => self.push_char(&mut cur, c),
                    }
                },
                _ => self.push_char(&mut cur, b),
            }
        }
        // `f()` has no argument, not one empty one.
        if args.len() == 1 && args[0].is_empty() {
            args.clear();
        }
        Ok(args)
    }

    /// Pushes the character starting with byte `b` (the rest of a multi-byte one follows it).
    fn push_char(&mut self, cur: &mut String, b: u8) {
        let start = self.at - 1;
        let len = match b {
            0xc0..=0xdf => 2,
            0xe0..=0xef => 3,
            0xf0..=0xf7 => 4,
            _ => 1,
        };
        let end = (start + len).min(self.s.len());
        cur.push_str(&String::from_utf8_lossy(&self.s[start..end]));
        self.at = end;
    }

    /// `$NAME` or `${NAME}` (after the '$'), expanded; unset is empty.
    fn variable(&mut self) -> Result<String, String> {
        let braced = self.s.get(self.at) == Some(&b'{');
        if braced {
            self.at += 1;
        }
        let start = self.at;
        while self
            .s
            .get(self.at)
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
        {
            self.at += 1;
        }
        let name = String::from_utf8_lossy(&self.s[start..self.at]).into_owned();
        if braced {
            if self.s.get(self.at) != Some(&b'}') {
                return Err(format!("unterminated '${{{name}'"));
            }
            self.at += 1;
        }
        if name.is_empty() {
            return Ok("$".into());
        }
        Ok((self.facts.env)(&name).unwrap_or_default())
    }
}

/// A version such as `2.6.0`, `2.5-dev0`, `2.4.0-rc1`, in HAProxy's order (a development
/// version comes before its pre-releases, those before its release candidates, those before it).
fn version(v: &str) -> Result<(u32, u32, u32, u32, u32), String> {
    let bad = || format!("'{v}' is not a version such as 2.6 or 2.5-dev0");
    let (nums, suffix) = match v.split_once('-') {
        Some((n, s)) => (n, Some(s)),
        None => (v, None),
    };
    let mut parts = nums.split('.').map(|p| p.parse::<u32>().map_err(|_| bad()));
    let major = parts.next().ok_or_else(bad)??;
    let minor = parts.next().transpose()?.unwrap_or(0);
    let patch = parts.next().transpose()?.unwrap_or(0);
    if parts.next().is_some() {
        return Err(bad());
    }
    let (stage, n) = match suffix {
        None => (3, 0),
        Some(s) => {
            let (stage, n) = ["dev", "pre", "rc"]
                .iter()
                .enumerate()
                .find_map(|(i, p)| s.strip_prefix(p).map(|n| (i as u32, n)))
                .ok_or_else(bad)?;
            (stage, if n.is_empty() { 0 } else { n.parse().map_err(|_| bad())? })
        }
    };
    Ok((major, minor, patch, stage, n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(expr: &str) -> Result<bool, String> {
        let env = |name: &str| (name == "TESTVAR").then(|| "1".to_string());
        eval(
            expr,
            &Facts {
                version: "2.6.0",
                features: &["EPOLL", "TPROXY"],
                ssl_lib: "rustls",
                env: &env,
            },
        )
    }

    #[test]
    fn haproxy_reg_test_conditions() {
        for (expr, want) in [
            ("version_atleast(2.5-dev0)", true),
            ("version_atleast(2.6-dev0)", true),
            ("version_atleast(2.7)", false),
            ("version_before(2.7-dev0)", true),
            ("feature(EPOLL)", true),
            ("feature(OPENSSL)", false),
            ("feature(OPENSSL) || !feature(OPENSSL)", true),
            ("defined(TESTVAR) && streq(\"$TESTVAR\",\"1\")", true),
            ("defined(NOPE)", false),
            ("1 && !0 && !((streq(a,b) || !streq(a,a) && 1) || strneq(a,a))", true),
            ("1 && !0 && !((streq(a,b) || !streq(a,a) && 1) || strneq(a,b))", false),
            ("1 && !0 && !((streq(a,a) || !streq(a,a) && 1) || strneq(a,a))", false),
            ("1   &&!   0&&    !((streq(a,b)||!streq(a,a)&&1)||strneq(a,a))", true),
            ("", false),
            ("-1000 && 200", true),
            ("1&&!0&&!((streq(a,b)||!streq(a,a)&&1)||strneq(a,a))", true),
            ("version_atleast(2.5-dev5) && (feature(PCRE) || feature(PCRE2))", false),
            (
                "feature(OPENSSL) && ssllib_name_startswith(OpenSSL) && openssl_version_atleast(1.1.1)",
                false,
            ),
            ("ssllib_name_startswith(rust)", true),
            ("0 || 2", true),
            ("streq(foo,'foo')", true),
            ("streq(\"foo bar\",'foo bar')", true),
            ("streq( a , a )", true),
            ("version_atleast(2.4)", true),
            ("version_atleast(1024)", false),
        ] {
            assert_eq!(run(expr), Ok(want), "{expr}");
        }
    }

    #[test]
    fn malformed_conditions_are_errors() {
        for expr in [
            "200rrr",
            "streq(a,\"a)",
            "!(0))",
            "(1",
            "1 &&",
            "nope(1)",
            "version_atleast(x)",
            "streq(a)",
            "1 1",
        ] {
            assert!(run(expr).is_err(), "{expr}: {:?}", run(expr));
        }
    }
}
