//! Which server a client connection's next request prefers, as HAProxy decides: the last
//! one with `option prefer-last-server` when the session keeps its server connections
//! (`http-reuse never`; with the other modes they go back to the backend's pool, and
//! HAProxy 2.6 then balances as usual), and after a connection-based authentication
//! challenge (a 401 or 407 offering NTLM or Negotiate), whose server connection also stays
//! this session's own: the authentication belongs to that TCP connection, and another
//! client given it would be let in as this one. Not with a hash-based `balance`, whose
//! choice is already the same each time.

use crate::model::Backend;
use clearway_config::model::Balance;
use std::sync::atomic::{AtomicU64, Ordering};

/// The last server: backend id + 1 in the high 31 bits, the authentication mark, the server
/// index in the low 32 bits; 0: none yet.
#[derive(Debug, Default)]
pub struct Last(AtomicU64);

const AUTH: u64 = 1 << 32;

impl Last {
    /// The server the next request to `be` prefers, if any.
    pub fn preferred(&self, be: &Backend) -> Option<usize> {
        let v = self.0.load(Ordering::Relaxed);
        if v == 0 || (v >> 33) != u64::from(be.id.0) + 1 || matches!(be.balance, Balance::Source) {
            return None;
        }
        (self.kept(be) || v & AUTH != 0).then_some((v & 0xffff_ffff) as usize)
    }

    /// `option prefer-last-server` on a backend whose session keeps its connections.
    fn kept(&self, be: &Backend) -> bool {
        be.prefer_last_server && be.http.reuse == clearway_config::model::HttpReuse::Never
    }

    /// Whether the session's connections to `be` are its own (an authentication was asked).
    pub fn private(&self, be: &Backend) -> bool {
        let v = self.0.load(Ordering::Relaxed);
        v & AUTH != 0 && (v >> 33) == u64::from(be.id.0) + 1
    }

    /// Notes the server a response came from; `auth`: it asked for connection-based
    /// authentication (kept for the session's later requests to that backend).
    pub fn record(&self, be: &Backend, server: usize, auth: bool) {
        let keep_auth = self.private(be);
        if !(auth || keep_auth || self.kept(be)) {
            return;
        }
        let mark = if auth || keep_auth { AUTH } else { 0 };
        let v = ((u64::from(be.id.0) + 1) << 33) | mark | server as u64;
        self.0.store(v, Ordering::Relaxed);
    }
}
