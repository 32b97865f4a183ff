//! A `cache` section: HAProxy's small object cache, which `http-request cache-use` reads
//! and `http-response cache-store` fills.

use super::Span;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheDef {
    pub span: Span,
    pub name: String,
    /// `total-max-size` (megabytes in the config), in bytes.
    pub total_max_size: u64,
    /// `max-object-size` in bytes (default: a 256th of the total).
    pub max_object_size: u64,
    /// `max-age` in seconds (default 60): how long an object is served at most.
    pub max_age: u64,
    /// `process-vary on`: responses with `Vary` (on the headers it knows) are kept per
    /// variant; off (the default), they are not kept.
    pub process_vary: bool,
    /// `max-secondary-entries` (default 10): variants of one object at most.
    pub max_secondary_entries: usize,
}
