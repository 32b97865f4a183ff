//! Where a directive was written, carried by every model item so that errors and warnings at
//! any later stage can name the config line. Owns the type only.

use std::sync::Arc;

/// Where a directive was written: file and 1-based line number.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Span {
    pub file: Arc<str>,
    pub line: u32,
}

impl std::fmt::Display for Span {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}
