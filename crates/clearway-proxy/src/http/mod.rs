//! `mode http`: HTTP/1.x clients served by `client_h1` and HTTP/2 clients by hyper, requests
//! routed by ACLs to backends, rewritten by rules and sent over reused server connections.
//! Must not parse config text or open listeners.

pub mod body;
pub mod client_h1;
pub mod client_io;
pub mod decode;
pub mod h1;
pub mod pool;
pub mod prefixed;
pub mod reply;
pub mod rules;
pub mod samples;
pub mod server_io;
pub mod session;

pub use pool::Pool;
pub use rules::HttpRules;
pub use samples::HdrIp;

pub(crate) use decode::ConnectionTokens;

/// Polls a connection's one timer for the deadline `at`: whether `at` has passed. The timer
/// is made on first use and only ever moved earlier. A later deadline (each request's limits
/// start later than the last's) keeps it where it is and is looked at when it fires, so a
/// connection in use does not take its timer out of the timer wheel and put it back on
/// every request.
pub(crate) fn poll_deadline(
    timer: &mut Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
    cx: &mut std::task::Context<'_>,
    at: tokio::time::Instant,
) -> bool {
    let t = timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(at)));
    if t.deadline() > at {
        t.as_mut().reset(at);
    }
    while std::future::Future::poll(t.as_mut(), cx).is_ready() {
        if tokio::time::Instant::now() >= at {
            return true;
        }
        // It fired for an earlier deadline that no longer applies.
        t.as_mut().reset(at);
    }
    false
}
