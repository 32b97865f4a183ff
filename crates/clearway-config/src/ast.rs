//! Sections and directives as written: each directive keeps its words and its `Span`.
//! Owns the grouping of lines into sections; must not interpret keywords inside sections.

use crate::diag::Diagnostic;
use crate::lexer::{self, Env};
use crate::model::Span;
use crate::suggest;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Global,
    Defaults,
    Frontend,
    Backend,
    Listen,
    Resolvers,
    Userlist,
    /// `http-errors NAME`: error files proxies import with `errorfiles NAME`.
    HttpErrors,
    /// `cache NAME`: an HTTP cache rules use.
    Cache,
    /// A section HAProxy knows that Clearway does not support yet; its body is skipped.
    Unsupported,
}

impl Kind {
    pub fn word(self) -> &'static str {
        match self {
            Kind::Global => "global",
            Kind::Defaults => "defaults",
            Kind::Frontend => "frontend",
            Kind::Backend => "backend",
            Kind::Listen => "listen",
            Kind::Resolvers => "resolvers",
            Kind::Userlist => "userlist",
            Kind::HttpErrors => "http-errors",
            Kind::Cache => "cache",
            Kind::Unsupported => "unsupported",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Directive {
    pub span: Span,
    pub words: Vec<String>,
}

impl Directive {
    pub fn keyword(&self) -> &str {
        &self.words[0]
    }
    /// The word at `i`, if present.
    pub fn arg(&self, i: usize) -> Option<&str> {
        self.words.get(i).map(String::as_str)
    }
}

#[derive(Debug, Clone)]
pub struct Section {
    pub kind: Kind,
    pub span: Span,
    pub name: String,
    /// `from NAME`: the defaults section to inherit from.
    pub from: Option<String>,
    /// Words after the name on the section line (the old `listen NAME ADDR:PORT` form).
    pub extra: Vec<String>,
    pub directives: Vec<Directive>,
}

const SUPPORTED: [&str; 9] = [
    "global",
    "defaults",
    "frontend",
    "backend",
    "listen",
    "resolvers",
    "userlist",
    "http-errors",
    "cache",
];
const UNSUPPORTED: [&str; 7] = [
    "peers",
    "program",
    "ring",
    "mailers",
    "fcgi-app",
    "log-forward",
    "crt-store",
];

/// Splits `text` (from file `file`) into sections; errors and warnings are appended.
pub fn parse(
    file: &Arc<str>,
    text: &str,
    env: Env<'_>,
    errors: &mut Vec<Diagnostic>,
    warnings: &mut Vec<Diagnostic>,
) -> Vec<Section> {
    let mut sections: Vec<Section> = Vec::new();
    let mut blocks = crate::blocks::Blocks::default();
    for (i, line) in text.lines().enumerate() {
        let span = Span {
            file: file.clone(),
            line: (i + 1) as u32,
        };
        let first = line.split_whitespace().next().unwrap_or("");
        if first.starts_with('.') {
            if let crate::blocks::Verdict::Handled = blocks.line(first, line, &span, env, errors, warnings) {
                continue;
            }
        }
        if !blocks.active() {
            continue;
        }
        let words = match lexer::words(line, env) {
            Ok(w) if w.is_empty() => continue,
            Ok(w) => w,
            Err(e) => {
                errors.push(Diagnostic::new(span, e));
                continue;
            }
        };
        let kind = match words[0].as_str() {
            "global" => Some(Kind::Global),
            "defaults" => Some(Kind::Defaults),
            "frontend" => Some(Kind::Frontend),
            "backend" => Some(Kind::Backend),
            "listen" => Some(Kind::Listen),
            "resolvers" => Some(Kind::Resolvers),
            "userlist" => Some(Kind::Userlist),
            "http-errors" => Some(Kind::HttpErrors),
            "cache" => Some(Kind::Cache),
            w if UNSUPPORTED.contains(&w) => Some(Kind::Unsupported),
            _ => None,
        };
        match kind {
            Some(kind) => match section_header(kind, &words, &span) {
                Ok(section) => {
                    if kind == Kind::Unsupported {
                        warnings.push(Diagnostic::new(
                            span,
                            format!("section '{}' is not supported yet: ignored with its content", words[0]),
                        ));
                    }
                    sections.push(section);
                }
                Err(d) => {
                    errors.push(d);
                    // Keep the lines that follow out of the previous section.
                    sections.push(Section {
                        kind: Kind::Unsupported,
                        span,
                        name: String::new(),
                        from: None,
                        extra: vec![],
                        directives: vec![],
                    });
                }
            },
            None => match sections.last_mut() {
                Some(s) => s.directives.push(Directive { span, words }),
                None => {
                    let mut d = Diagnostic::new(span, format!("'{}' appears before any section", words[0]));
                    d = match suggest::hint(&words[0], SUPPORTED) {
                        Some(h) => d.hint(h),
                        None => d.hint("start with a section line such as 'global', 'defaults', 'frontend NAME', 'backend NAME' or 'listen NAME'"),
                    };
                    errors.push(d);
                }
            },
        }
    }
    blocks.finish(errors);
    sections
}

fn section_header(kind: Kind, words: &[String], span: &Span) -> Result<Section, Diagnostic> {
    let mut rest = words[1..].iter();
    let mut name = String::new();
    let mut from = None;
    let mut extra = Vec::new();
    while let Some(w) = rest.next() {
        if w == "from"
            && !matches!(
                kind,
                Kind::Global | Kind::Resolvers | Kind::Userlist | Kind::HttpErrors | Kind::Cache
            )
        {
            from = Some(rest.next().cloned().ok_or_else(|| {
                Diagnostic::new(span.clone(), "'from' needs the name of a defaults section")
                    .hint("e.g. 'backend app from tcp-defaults'")
            })?);
        } else if name.is_empty() && extra.is_empty() {
            name = w.clone();
        } else {
            extra.push(w.clone());
        }
    }
    if matches!(
        kind,
        Kind::Frontend
            | Kind::Backend
            | Kind::Listen
            | Kind::Resolvers
            | Kind::Userlist
            | Kind::HttpErrors
            | Kind::Cache
    ) && name.is_empty()
    {
        return Err(Diagnostic::new(span.clone(), format!("'{}' needs a name", kind.word()))
            .hint(format!("e.g. '{} app'", kind.word())));
    }
    if !name.is_empty()
        && !name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))
        && kind != Kind::Unsupported
    {
        return Err(Diagnostic::new(
            span.clone(),
            format!(
                "invalid {} name '{name}': only letters, digits, '-', '_', '.' and ':' are allowed",
                kind.word()
            ),
        ));
    }
    let allows_extra = matches!(kind, Kind::Listen | Kind::Unsupported | Kind::Global);
    if !extra.is_empty() && !allows_extra {
        return Err(Diagnostic::new(
            span.clone(),
            format!("unexpected '{}' after the {} name", extra[0], kind.word()),
        ));
    }
    Ok(Section {
        kind,
        span: span.clone(),
        name,
        from,
        extra,
        directives: Vec::new(),
    })
}
