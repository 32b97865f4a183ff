//! `mode http`: HTTP/1.x clients served by `client_h1` and HTTP/2 clients by hyper, requests
//! routed by ACLs to backends, rewritten by rules and sent over reused server connections.
//! Must not parse config text or open listeners.

pub mod body;
pub mod client_h1;
pub mod decode;
pub mod h1;
pub mod pool;
pub mod prefixed;
pub mod reply;
pub mod rules;
pub mod samples;
pub mod session;

pub use pool::Pool;
pub use rules::HttpRules;
pub use samples::HdrIp;

/// Whether a message's `Connection` header lists `token` (in any of its comma-separated
/// values, whatever the case): `close`, `keep-alive`, `upgrade`.
pub(crate) fn connection_has(h: &http::HeaderMap, token: &str) -> bool {
    h.get_all(http::header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}
