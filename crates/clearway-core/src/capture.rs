//! The last request a frontend refused as malformed, kept with its bytes for `show errors`
//! (HAProxy's error snapshots): what an operator needs to see why a client's request was
//! refused. Recording happens only on the error path; must not parse anything.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::SystemTime;

/// How many bytes of a refused request are kept (HAProxy keeps one buffer's worth).
pub const MAX_BYTES: usize = 16 * 1024;

/// Events captured since start, all proxies together (HAProxy numbers them this way).
static EVENTS: AtomicU64 = AtomicU64::new(0);

/// One refused request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capture {
    pub when: SystemTime,
    pub client: SocketAddr,
    /// The process-wide event number.
    pub event: u64,
    /// The status the client got and why.
    pub status: u16,
    pub why: &'static str,
    /// The request's bytes as received (the first `MAX_BYTES`), and how many there were.
    pub bytes: Vec<u8>,
    pub len: usize,
}

/// A proxy's last captured request error.
#[derive(Debug, Default)]
pub struct Captures {
    request: Mutex<Option<Capture>>,
}

impl Captures {
    /// Keeps `bytes` as the proxy's last request error.
    pub fn record(&self, client: SocketAddr, status: u16, why: &'static str, bytes: &[u8]) {
        let c = Capture {
            when: SystemTime::now(),
            client,
            event: EVENTS.fetch_add(1, Ordering::Relaxed),
            status,
            why,
            bytes: bytes[..bytes.len().min(MAX_BYTES)].to_vec(),
            len: bytes.len(),
        };
        *self.request.lock().unwrap_or_else(|e| e.into_inner()) = Some(c);
    }

    /// The last request error, if any.
    pub fn request(&self) -> Option<Capture> {
        self.request.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// How many events were captured since start.
pub fn total() -> u64 {
    EVENTS.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_error_is_kept_cut_to_a_buffer() {
        let c = Captures::default();
        assert_eq!(c.request(), None);
        let peer: SocketAddr = "192.0.2.9:4000".parse().expect("addr");
        c.record(peer, 400, "first", b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n");
        let big = vec![b'a'; MAX_BYTES + 10];
        c.record(peer, 414, "second", &big);
        let got = c.request().expect("kept");
        assert_eq!(
            (got.status, got.why, got.len, got.bytes.len()),
            (414, "second", MAX_BYTES + 10, MAX_BYTES)
        );
        assert!(total() >= 2);
    }
}
