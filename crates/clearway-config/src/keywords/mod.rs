//! Keyword tables, one file per concern. Each table turns directives into model values and
//! reports problems through `Ctx`; none of them knows about other sections or defaults.

pub mod acl;
pub mod bind;
pub mod checks;
pub mod cpu_map;
pub mod global;
pub mod http;
pub mod log;
pub mod options;
pub mod proxy;
pub mod server;
pub mod source;
pub mod stats_page;
pub mod stats_socket;
pub mod tcp;

use crate::ast::Directive;
use crate::diag::Diagnostic;
use crate::model::Span;

/// Where diagnostics go while a configuration is read.
#[derive(Debug, Default)]
pub struct Ctx {
    pub errors: Vec<Diagnostic>,
    pub warnings: Vec<Diagnostic>,
}

impl Ctx {
    pub fn error(&mut self, span: &Span, msg: impl Into<String>) {
        self.errors.push(Diagnostic::new(span.clone(), msg));
    }
    pub fn error_hint(&mut self, span: &Span, msg: impl Into<String>, hint: Option<String>) {
        let mut d = Diagnostic::new(span.clone(), msg);
        d.hint = hint;
        self.errors.push(d);
    }
    pub fn warn(&mut self, span: &Span, msg: impl Into<String>) {
        self.warnings.push(Diagnostic::new(span.clone(), msg));
    }
}

/// A cursor over a directive's words, for keywords with parameters.
pub struct Args<'a> {
    pub d: &'a Directive,
    pub pos: usize,
}

impl<'a> Args<'a> {
    pub fn new(d: &'a Directive, start: usize) -> Self {
        Args { d, pos: start }
    }
    pub fn next(&mut self) -> Option<&'a str> {
        let w = self.d.words.get(self.pos).map(String::as_str);
        self.pos += 1;
        w
    }
    pub fn peek(&self) -> Option<&'a str> {
        self.d.words.get(self.pos).map(String::as_str)
    }
    /// The value of parameter `param`, or an error naming what is expected.
    pub fn value(&mut self, param: &str, expected: &str) -> Result<&'a str, String> {
        self.next().ok_or_else(|| format!("'{param}' expects {expected}"))
    }
}

/// The error for a keyword that needs exactly `n` arguments.
pub fn want_args(d: &Directive, n: usize, expected: &str) -> Result<(), String> {
    let have = d.words.len() - 1;
    if have < n {
        Err(format!("'{}' expects {expected}", d.keyword()))
    } else if have > n {
        Err(format!(
            "'{}' takes {expected} only; unexpected '{}'",
            d.keyword(),
            d.words[n + 1]
        ))
    } else {
        Ok(())
    }
}

/// A keyword failure: the message and an optional hint.
pub type Failure = (String, Option<String>);
pub type Res<T> = Result<T, Failure>;

/// A failure without a hint.
pub fn plain<T>(r: Result<T, String>) -> Res<T> {
    r.map_err(|e| (e, None))
}

/// Handles a line parameter that is not one Clearway acts on: a known one (from `known`, with
/// the number of values it takes) is skipped with a warning; anything else is an error with
/// the nearest known parameter as hint. `what` names the line kind ("bind", "server").
pub fn other_param(
    args: &mut Args<'_>,
    p: &str,
    what: &str,
    acted: &[&str],
    known: &[(&str, usize)],
    span: &Span,
    ctx: &mut Ctx,
) -> Res<()> {
    match known.iter().find(|(k, _)| *k == p) {
        Some((k, n)) => {
            for _ in 0..*n {
                plain(args.value(k, "a value"))?;
            }
            ctx.warn(
                span,
                format!("{what} parameter '{k}' is known but not acted on yet: ignored"),
            );
            Ok(())
        }
        None => {
            let all = acted.iter().copied().chain(known.iter().map(|(k, _)| *k));
            Err((format!("unknown {what} parameter '{p}'"), crate::suggest::hint(p, all)))
        }
    }
}
