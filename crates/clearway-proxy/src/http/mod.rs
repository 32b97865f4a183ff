//! `mode http`: HTTP/1.x clients served by `client_h1` and HTTP/2 clients by hyper, requests
//! routed by ACLs to backends, rewritten by rules and sent over reused server connections.
//! Must not parse config text or open listeners.

pub mod access_log;
pub mod auth;
pub mod body;
pub mod cache;
pub mod client_h1;
pub mod client_io;
pub mod compress;
pub mod cookie;
pub mod decode;
pub mod h1;
mod hash_key;
mod hop;
pub mod normalize;
pub mod pool;
pub mod prefixed;
pub mod read_ahead;
pub mod reply;
pub mod req_body;
pub mod rules;
pub mod samples;
pub mod server_io;
pub mod service;
pub mod session;
pub mod stats_app;

pub use pool::Pool;
pub use rules::HttpRules;
pub use samples::HdrIp;

pub(crate) use decode::ConnectionTokens;

/// A response's reason phrase when a rule set one (`set-status N reason TEXT`); HTTP/1 only.
#[derive(Debug, Clone)]
pub struct Reason(pub Box<str>);
