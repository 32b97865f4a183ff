//! Keyword tables, one file per concern. Each table turns directives into model values and
//! reports problems through `Ctx`; none of them knows about other sections or defaults.

pub mod acl;
pub mod balance;
pub mod bind;
pub mod cache;
pub mod checks;
pub mod classes;
pub mod cookie;
pub mod cpu_map;
pub mod dns;
pub mod dynamic_server;
pub mod global;
pub mod http;
pub mod http_actions;
pub mod log;
pub mod options;
pub mod paths;
pub mod proxy;
pub mod reply;
pub mod sample;
pub mod server;
pub mod source;
pub mod stats_page;
pub mod stats_socket;
pub mod stick;
pub mod tcp;
pub mod tcp_check;
pub mod tls;
pub mod userlist;

use crate::ast::Directive;
use crate::diag::Diagnostic;
use crate::model::Span;

/// What Clearway does with a keyword HAProxy knows and Clearway does not act on: never
/// "accepted and ignored" for anything that decides who gets in, where traffic goes or what a
/// server receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotActed {
    /// Nothing about traffic or security depends on it here (statistics details, tuning,
    /// leftovers of HAProxy's multi-process days, TLS versions rustls never speaks):
    /// accepted, with a note shown at `-d`.
    NoEffect,
    /// It changes traffic or security: a config error with its line, unless the global
    /// section opts out for it with `ignore-unsupported KEYWORD`, which is then warned about
    /// at every start.
    Unsupported,
}

/// Where diagnostics go while a configuration is read.
#[derive(Debug, Default)]
pub struct Ctx {
    pub errors: Vec<Diagnostic>,
    pub warnings: Vec<Diagnostic>,
    /// Keywords accepted without effect: shown at `-d`.
    pub notes: Vec<Diagnostic>,
    /// Unsupported keywords the operator runs without (`ignore-unsupported`).
    pub ignore_unsupported: Vec<String>,
    /// The global TLS defaults read so far (`ssl-default-*`, `ca-base`...), which bind and
    /// server lines start from, as in HAProxy (they must come first).
    pub tls: crate::model::TlsDefaults,
    /// The `http-errors` sections, read before the proxies: their error files by name.
    pub http_errors: Vec<(String, Vec<crate::rules::ErrorFile>)>,
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
    pub fn note(&mut self, span: &Span, msg: impl Into<String>) {
        self.notes.push(Diagnostic::new(span.clone(), msg));
    }

    /// A keyword Clearway reads but does not act on, by its class. `what` names it as the
    /// messages do ("'option tcpka'", "server parameter 'slowstart'"); `key` is the word
    /// `ignore-unsupported` takes for it.
    pub fn not_acted(&mut self, span: &Span, what: &str, key: &str, class: NotActed) {
        match class {
            NotActed::NoEffect => self.note(span, format!("{what} has no effect in Clearway: accepted")),
            NotActed::Unsupported if self.ignore_unsupported.iter().any(|k| k == key) => self.warn(
                span,
                format!(
                    "{what} is not supported by Clearway: IGNORED as 'ignore-unsupported {key}' asks; \
                     traffic is not handled as this line says"
                ),
            ),
            NotActed::Unsupported => self.error_hint(
                span,
                format!("{what} is not supported by Clearway yet, and ignoring it would change traffic or security"),
                Some(format!(
                    "remove it, or run without it: 'ignore-unsupported {key}' in the global section"
                )),
            ),
        }
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

/// A failure from a message, without a hint.
pub fn err(msg: impl Into<String>) -> Failure {
    (msg.into(), None)
}

/// A failure without a hint.
pub fn plain<T>(r: Result<T, String>) -> Res<T> {
    r.map_err(|e| (e, None))
}

/// Handles a line parameter that is not one Clearway acts on: a known one (from `known`, with
/// the number of values it takes and its class) is skipped as its class says; anything else
/// is an error with the nearest known parameter (or TLS policy parameter) as hint. `what`
/// names the line kind ("bind", "server").
pub fn other_param(
    args: &mut Args<'_>,
    p: &str,
    what: &str,
    acted: &[&str],
    known: &[(&str, usize, NotActed)],
    span: &Span,
    ctx: &mut Ctx,
) -> Res<()> {
    match known.iter().find(|(k, _, _)| *k == p) {
        Some((k, n, class)) => {
            for _ in 0..*n {
                plain(args.value(k, "a value"))?;
            }
            ctx.not_acted(span, &format!("{what} parameter '{k}'"), k, *class);
            Ok(())
        }
        None => {
            let all = acted
                .iter()
                .chain(tls::POLICY_PARAMS)
                .copied()
                .chain(known.iter().map(|(k, _, _)| *k));
            Err((format!("unknown {what} parameter '{p}'"), crate::suggest::hint(p, all)))
        }
    }
}
