//! The error of turning a validated config into a live runtime (a server name that does not
//! resolve, a certificate that does not load), with the config line it comes from.

use clearway_config::model::Span;

/// A start-up failure tied to a configuration line.
#[derive(Debug, thiserror::Error)]
#[error("{span}: {message}")]
pub struct BuildError {
    pub span: Span,
    pub message: String,
}

impl BuildError {
    pub(crate) fn new(span: &Span, message: impl Into<String>) -> Self {
        BuildError {
            span: span.clone(),
            message: message.into(),
        }
    }
}
