//! Conditional blocks, as HAProxy reads them: `.if COND`, `.elif COND`, `.else`, `.endif`
//! (nested) decide which lines of a file are read; `.diag`, `.notice`, `.warning`, `.alert`
//! report from the lines that are. Owns the nesting; conditions are `cond`'s.

use crate::cond::{self, Facts};
use crate::diag::Diagnostic;
use crate::lexer::Env;
use crate::span::Span;

/// One `.if` level.
struct Frame {
    span: Span,
    /// Whether the lines around the block are read.
    outer: bool,
    /// Whether a branch of this level was taken already.
    taken: bool,
    /// Whether the current branch is read.
    active: bool,
    seen_else: bool,
}

/// The `.if` levels open at a point of a file.
#[derive(Default)]
pub struct Blocks {
    stack: Vec<Frame>,
}

/// What the caller does with a line.
pub enum Verdict {
    /// A block directive, handled: the line is not configuration.
    Handled,
    /// Not a block directive: read the line if `active()`.
    Other,
}

impl Blocks {
    /// Whether the lines at this point are read.
    pub fn active(&self) -> bool {
        self.stack.last().is_none_or(|f| f.active)
    }

    /// Handles a line whose first word is `word` (raw text `line`), when it is a block
    /// directive; malformed ones are errors, `.warning`/`.notice` warnings, `.alert` an error.
    pub fn line(
        &mut self,
        word: &str,
        line: &str,
        span: &Span,
        env: Env<'_>,
        errors: &mut Vec<Diagnostic>,
        warnings: &mut Vec<Diagnostic>,
    ) -> Verdict {
        let facts = Facts::clearway(env);
        let rest = expression(line);
        let eval = |errors: &mut Vec<Diagnostic>| match cond::eval(rest, &facts) {
            Ok(v) => v,
            Err(e) => {
                errors.push(Diagnostic::new(span.clone(), format!("'{word} {rest}': {e}")));
                false
            }
        };
        let misplaced = |what: &str| Diagnostic::new(span.clone(), format!("'{word}' {what}"));
        match word {
            ".if" => {
                let outer = self.active();
                let v = outer && eval(errors);
                self.stack.push(Frame {
                    span: span.clone(),
                    outer,
                    taken: v,
                    active: v,
                    seen_else: false,
                });
            }
            ".elif" | ".else" => {
                let Some(top) = self.stack.last() else {
                    errors.push(misplaced("without '.if'"));
                    return Verdict::Handled;
                };
                if top.seen_else {
                    errors.push(misplaced("after '.else'"));
                    return Verdict::Handled;
                }
                let open = top.outer && !top.taken;
                let v = open && (word == ".else" || eval(errors));
                let top = self.stack.last_mut().expect("checked above");
                top.active = v;
                top.taken |= v;
                top.seen_else = word == ".else";
            }
            ".endif" => {
                if self.stack.pop().is_none() {
                    errors.push(misplaced("without '.if'"));
                }
            }
            ".diag" | ".notice" | ".warning" | ".alert" => {
                if self.active() {
                    let text = crate::lexer::words(rest, env)
                        .map(|w| w.join(" "))
                        .unwrap_or_else(|_| rest.to_string());
                    let d = Diagnostic::new(span.clone(), text);
                    match word {
                        ".alert" => errors.push(d),
                        ".warning" | ".notice" => warnings.push(d),
                        _ => {}
                    }
                }
            }
            _ => return Verdict::Other,
        }
        Verdict::Handled
    }

    /// At the end of a file: an `.if` still open is an error.
    pub fn finish(self, errors: &mut Vec<Diagnostic>) {
        if let Some(f) = self.stack.last() {
            errors.push(Diagnostic::new(f.span.clone(), "'.if' without its '.endif'"));
        }
    }
}

/// The text after a line's first word, without a comment (a `#` outside quotes).
fn expression(line: &str) -> &str {
    let t = line.trim_start();
    let after = t.find(char::is_whitespace).map_or("", |i| &t[i..]);
    let mut quote = None;
    let mut escaped = false;
    for (i, c) in after.char_indices() {
        match (quote, c) {
            _ if escaped => escaped = false,
            (_, '\\') => escaped = true,
            (None, '#') => return after[..i].trim(),
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            _ => {}
        }
    }
    after.trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> (Vec<String>, Vec<Diagnostic>, Vec<Diagnostic>) {
        let env = |n: &str| (n == "WITH_SSL").then(|| "yes".to_string());
        let (mut errors, mut warnings, mut kept) = (Vec::new(), Vec::new(), Vec::new());
        let mut b = Blocks::default();
        for (i, line) in text.lines().enumerate() {
            let span = Span {
                file: "t".into(),
                line: i as u32 + 1,
            };
            let word = line.split_whitespace().next().unwrap_or("");
            if let Verdict::Other = b.line(word, line, &span, &env, &mut errors, &mut warnings) {
                if b.active() {
                    kept.push(line.trim().to_string());
                }
            }
        }
        b.finish(&mut errors);
        (kept, errors, warnings)
    }

    #[test]
    fn nesting_and_branches() {
        let (kept, errors, warnings) = read(
            ".if streq(\"$WITH_SSL\",yes) # a comment\n a\n .if 0\n  b\n .elif defined(WITH_SSL)\n  c\n \
             .else\n  d\n .endif\n.elif 1\n e\n.else\n f\n.endif\n.if feature(OPENSSL) && !feature(LUA)\n g\n\
             .warning \"odd\"\n.endif\n.if 0\n.alert \"never\"\n.endif\n",
        );
        assert_eq!(kept, ["a", "c", "g"]);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].message, "odd");
    }

    #[test]
    fn misplaced_directives_are_errors() {
        for bad in [
            ".endif\n",
            ".else\n",
            ".if 1\n.else\n.else\n.endif\n",
            ".if 1\n",
            ".if nope(\n.endif\n",
            ".alert \"stop\"\n",
        ] {
            let (_, errors, _) = read(bad);
            assert_eq!(errors.len(), 1, "{bad:?}: {errors:?}");
        }
    }
}
