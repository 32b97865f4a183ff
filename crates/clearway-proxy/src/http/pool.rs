//! Idle HTTP server connections, kept for reuse and keyed by server and source address:
//! a connection opened from a client's own address (`usesrc`) is only ever reused for that
//! same address. Owns keeping, expiring and handing out idle connections; must not open any.

use hyper::body::Incoming;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The sending half of a server connection (its I/O runs in a task of its own).
#[derive(Debug)]
pub enum Sender {
    H1(hyper::client::conn::http1::SendRequest<Incoming>),
    H2(hyper::client::conn::http2::SendRequest<Incoming>),
}

type TrySendError = hyper::client::conn::TrySendError<http::Request<Incoming>>;

impl Sender {
    pub fn is_closed(&self) -> bool {
        match self {
            Sender::H1(s) => s.is_closed(),
            Sender::H2(s) => s.is_closed(),
        }
    }

    pub fn is_h2(&self) -> bool {
        matches!(self, Sender::H2(_))
    }

    /// Waits until the connection can take a request; an error means it is gone.
    pub async fn ready(&mut self) -> Result<(), hyper::Error> {
        match self {
            Sender::H1(s) => s.ready().await,
            Sender::H2(s) => s.ready().await,
        }
    }

    /// Sends a request; when it could not be sent at all, the error gives it back.
    pub async fn send(&mut self, req: http::Request<Incoming>) -> Result<http::Response<Incoming>, TrySendError> {
        match self {
            Sender::H1(s) => s.try_send_request(req).await,
            Sender::H2(s) => s.try_send_request(req).await,
        }
    }
}

/// What makes an idle connection usable for a request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    /// The backend's index in the runtime.
    pub backend: usize,
    /// The server's index in its backend.
    pub server: usize,
    /// The client address the connection was opened from, for `usesrc` servers; None when
    /// it comes from one of this host's own addresses.
    pub source: Option<IpAddr>,
    /// The SNI of a TLS connection opened with a per-request SNI (`sni req.hdr(host)`).
    pub sni: Option<std::sync::Arc<str>>,
}

#[derive(Debug)]
struct Idle {
    sender: Sender,
    since: Instant,
}

/// Idle connections of one backend (or of one client session), at most `per_key` per key.
#[derive(Debug)]
pub struct Pool {
    idle: Mutex<HashMap<Key, Vec<Idle>>>,
    per_key: usize,
    max_idle: Duration,
}

impl Pool {
    pub fn new(per_key: usize, max_idle: Duration) -> Pool {
        Pool {
            idle: Mutex::new(HashMap::new()),
            per_key,
            max_idle,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Vec<Idle>>> {
        // A panic elsewhere while holding the lock leaves a map that is still consistent.
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The most recently used live connection for `key`, if any.
    pub fn take(&self, key: &Key) -> Option<Sender> {
        let mut idle = self.lock();
        let list = idle.get_mut(key)?;
        while let Some(i) = list.pop() {
            if !i.sender.is_closed() && i.since.elapsed() < self.max_idle {
                return Some(i.sender);
            }
        }
        None
    }

    /// Keeps a connection whose last response is complete; drops it when the pool is full.
    pub fn put(&self, key: Key, sender: Sender) {
        if sender.is_closed() || self.per_key == 0 {
            return;
        }
        let mut idle = self.lock();
        let list = idle.entry(key).or_default();
        let max = self.max_idle;
        list.retain(|i| !i.sender.is_closed() && i.since.elapsed() < max);
        if list.len() >= self.per_key {
            // The oldest goes: it is the likeliest to be closed by the server soon.
            list.remove(0);
        }
        list.push(Idle {
            sender,
            since: Instant::now(),
        });
    }
}
