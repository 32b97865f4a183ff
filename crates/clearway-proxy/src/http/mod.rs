//! `mode http`: HTTP/1.1 and HTTP/2 clients served by hyper, requests routed by ACLs to
//! backends, rewritten by rules and sent over reused HTTP/1.1 server connections.
//! Must not parse config text or open listeners.

pub mod body;
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
