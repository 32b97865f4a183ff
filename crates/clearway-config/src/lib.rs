//! HAProxy configuration text to a validated, plain-data [`model::Config`].
//! Owns reading config files and every syntax and semantic check; must not open sockets,
//! resolve names or know about the runtime.

mod addr;
pub mod ast;
mod blocks;
pub mod cond;
pub mod diag;
#[doc(hidden)]
pub mod fuzzing;
mod keywords;
mod lexer;
pub mod model;
mod resolve;
pub mod rules;
pub mod span;
mod suggest;
mod text;
pub mod units;

pub use diag::{Diagnostic, Errors};
pub use keywords::dynamic_server;
pub use keywords::global::process_var;
pub use model::Config;

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A configuration that passed validation, with the warnings found on the way.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<Diagnostic>,
    /// Keywords accepted without effect (shown at `-d`).
    pub notes: Vec<Diagnostic>,
}

/// Reads and validates the given files or directories (a directory contributes its `*.cfg`
/// files in name order), expanding `${VAR}` from the process environment.
pub fn load(paths: &[PathBuf]) -> Result<Loaded, Errors> {
    let mut texts = Vec::new();
    let mut errs = Errors::default();
    for path in paths {
        match files_of(path) {
            Ok(files) => {
                for f in files {
                    let name = f.display().to_string();
                    match std::fs::read(&f) {
                        Ok(b) => match text::decode(&name, b) {
                            Ok(t) => match truncated(&name, &t) {
                                Some(d) => errs.errors.push(d),
                                None => texts.push((name, t)),
                            },
                            Err(d) => errs.errors.push(d),
                        },
                        Err(e) => errs.errors.push(file_error(&f, &format!("cannot read the file: {e}"))),
                    }
                }
            }
            Err(e) => errs.errors.push(file_error(path, &e)),
        }
    }
    if !errs.errors.is_empty() {
        return Err(errs);
    }
    let env = |name: &str| std::env::var(name).ok();
    parse_texts(&texts, &env)
}

/// Parses one configuration text; `name` is the file name used in messages.
/// A sample expression (`FETCH(ARGS),CONV(ARGS),...`), as a `%[...]` in a log format holds.
pub fn sample_expression(text: &str) -> Result<rules::Expr, String> {
    keywords::acl::expression(text).map(|(e, _)| e)
}

pub fn parse_str(name: &str, text: &str) -> Result<Loaded, Errors> {
    let env = |name: &str| std::env::var(name).ok();
    parse_texts(&[(name.to_string(), text.to_string())], &env)
}

/// Parses texts as one configuration, in order, with `env` for `${VAR}`.
pub fn parse_texts(texts: &[(String, String)], env: lexer::Env<'_>) -> Result<Loaded, Errors> {
    let mut ctx = keywords::Ctx::default();
    keywords::paths::reset();
    lexer::reset();
    let mut sections = Vec::new();
    for (name, text) in texts {
        let file: Arc<str> = Arc::from(name.as_str());
        sections.extend(ast::parse(&file, text, env, &mut ctx.errors, &mut ctx.warnings));
    }
    // `ignore-unsupported` decides how lines before it are taken: read first.
    ctx.ignore_unsupported = sections
        .iter()
        .filter(|s| s.kind == ast::Kind::Global)
        .flat_map(|s| &s.directives)
        .filter(|d| d.keyword() == "ignore-unsupported")
        .flat_map(|d| d.words[1..].iter().cloned())
        .collect();
    let config = resolve::build(&sections, &mut ctx);
    keywords::paths::reset();
    if ctx.errors.is_empty() {
        Ok(Loaded {
            config,
            warnings: ctx.warnings,
            notes: ctx.notes,
        })
    } else {
        Err(Errors {
            errors: ctx.errors,
            warnings: ctx.warnings,
        })
    }
}

/// A file whose last line has no newline may have been cut short (a copy or an editor that
/// stopped half-way: the lines lost could be rules). As HAProxy: refused.
fn truncated(name: &str, text: &str) -> Option<Diagnostic> {
    if text.is_empty() || text.ends_with('\n') {
        return None;
    }
    let span = model::Span {
        file: Arc::from(name),
        line: text.lines().count() as u32,
    };
    Some(
        Diagnostic::new(
            span,
            "the last line has no newline at its end: the file may have been truncated",
        )
        .hint("check that the file is complete, then end it with a newline"),
    )
}

fn files_of(path: &Path) -> Result<Vec<PathBuf>, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot open: {e}"))?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|e| format!("cannot list the directory: {e}"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "cfg") && p.is_file())
        .collect();
    files.sort();
    Ok(files)
}

fn file_error(path: &Path, msg: &str) -> Diagnostic {
    Diagnostic::new(
        model::Span {
            file: Arc::from(path.display().to_string()),
            line: 0,
        },
        msg.to_string(),
    )
}
