//! Idle HTTP server connections, kept for reuse and keyed by server and source address:
//! a connection opened from a client's own address (`usesrc`) is only ever reused for that
//! same address. Owns keeping, expiring and handing out idle connections; must not open any.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// An idle server connection: HTTP/1.1 driven by the request that takes it, or the sending
/// half of an HTTP/2 connection (whose I/O runs in a task of its own).
#[derive(Debug)]
pub enum Sender {
    H1(Box<super::h1::Conn>),
    /// With the worker thread (`this_thread`) whose event loop runs the connection's task.
    H2(hyper::client::conn::http2::SendRequest<ReqBody>, usize),
}

pub use super::client_h1::ReqBody;

impl Sender {
    /// Whether the server closed it (or, for HTTP/1.1, sent something unasked).
    pub fn is_closed(&mut self) -> bool {
        match self {
            Sender::H1(c) => !c.is_usable(),
            Sender::H2(s, _) => s.is_closed(),
        }
    }

    /// The worker thread whose event loop the connection's socket is registered with.
    fn origin(&self) -> usize {
        match self {
            Sender::H1(c) => c.origin(),
            Sender::H2(_, t) => *t,
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

/// Idle connections by key, oldest first. Hashed with foldhash, seeded per process: two
/// lookups per request, with keys that can hold a client's address (`usesrc clientip`), so
/// fast but not predictable from outside.
type Shard = HashMap<Key, VecDeque<Idle>, foldhash::fast::RandomState>;

/// Idle connections of one backend (or of one client session), at most `per_key` per key
/// and per shard. There is one shard per worker thread, so that giving a connection back and
/// taking one, the per-request path, only ever locks a mutex no other thread is holding; a
/// thread with none idle looks in the other shards before a new connection is opened. A
/// connection goes back to the shard of the thread that opened it, whose event loop watches
/// its socket: one borrowed by another thread does not stay there, where every request on it
/// would need a wake-up across threads.
#[derive(Debug)]
pub struct Pool {
    shards: Box<[Mutex<Shard>]>,
    per_key: usize,
    max_idle: Duration,
}

/// This thread's number (threads are numbered as they first use a pool or open a server
/// connection); a pool's shard for it is this number modulo its shard count.
pub fn this_thread() -> usize {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static MINE: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    MINE.with(|m| *m)
}

impl Pool {
    /// A pool with `shards` shards: the worker thread count, or 1 for a pool that only one
    /// session uses.
    pub fn new(per_key: usize, max_idle: Duration, shards: usize) -> Pool {
        Pool {
            shards: (0..shards.max(1)).map(|_| Mutex::new(Shard::default())).collect(),
            per_key,
            max_idle,
        }
    }

    fn lock(&self, i: usize) -> std::sync::MutexGuard<'_, Shard> {
        // A panic elsewhere while holding the lock leaves a map that is still consistent.
        self.shards[i].lock().unwrap_or_else(|p| p.into_inner())
    }

    fn home(&self) -> usize {
        this_thread() % self.shards.len()
    }

    /// The most recently used live connection for `key`, if any: this thread's first.
    pub fn take(&self, key: &Key) -> Option<Sender> {
        let home = self.home();
        let n = self.shards.len();
        let now = Instant::now();
        // Connections found dead or past their time are closed once the lock is let go:
        // closing one can take a system call or two (see `server_io`).
        let mut gone = Vec::new();
        let found = (0..n).find_map(|k| {
            let mut shard = self.lock((home + k) % n);
            let list = shard.get_mut(key)?;
            while let Some(i) = list.pop_back() {
                if now.duration_since(i.since) >= self.max_idle {
                    // The rest are older still.
                    gone.push(i.sender);
                    gone.extend(list.drain(..).map(|i| i.sender));
                    return None;
                }
                let mut sender = i.sender;
                if !sender.is_closed() {
                    return Some(sender);
                }
                gone.push(sender);
            }
            None
        });
        drop(gone);
        found
    }

    /// Keeps a connection whose last response is complete; drops it when the pool is full.
    pub fn put(&self, key: Key, mut sender: Sender) {
        if sender.is_closed() || self.per_key == 0 {
            return;
        }
        let now = Instant::now();
        // What goes is closed once the lock is let go, as in `take`.
        let mut gone = Vec::new();
        let mut shard = self.lock(sender.origin() % self.shards.len());
        let list = shard.entry(key).or_default();
        // Oldest first: those past their time, then the oldest when the list is full (it is
        // the likeliest to be closed by the server soon).
        while list
            .front_mut()
            .is_some_and(|i| now.duration_since(i.since) >= self.max_idle || i.sender.is_closed())
        {
            gone.extend(list.pop_front().map(|i| i.sender));
        }
        if list.len() >= self.per_key {
            gone.extend(list.pop_front().map(|i| i.sender));
        }
        list.push_back(Idle { sender, since: now });
        drop(shard);
        drop(gone);
    }

    /// Closes this thread's idle connections that are past their time or that their server
    /// closed: HTTP/1.1 connections have no task of their own to notice a close, so without
    /// this a quiet backend would keep them half-closed until the next request.
    pub fn sweep(&self) {
        let now = Instant::now();
        // Closed once the lock is let go, as in `take`.
        let mut gone = Vec::new();
        let mut shard = self.lock(self.home());
        shard.retain(|_, list| {
            for mut i in std::mem::take(list) {
                if now.duration_since(i.since) < self.max_idle && !i.sender.is_closed() {
                    list.push_back(i);
                } else {
                    gone.push(i.sender);
                }
            }
            !list.is_empty()
        });
        drop(shard);
        drop(gone);
    }
}

/// Runs `Pool::sweep` on `pools` every `every`, for the calling thread's shards: each worker
/// thread runs one.
pub async fn sweep_every(pools: Vec<std::sync::Arc<Pool>>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        for p in &pools {
            p.sweep();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Key {
        Key {
            backend: 0,
            server: 0,
            source: None,
            sni: None,
        }
    }

    /// An HTTP/1.1 connection opened on a thread of its own, whose other end stays open.
    fn conn_from_another_thread() -> (Sender, tokio::io::DuplexStream) {
        std::thread::spawn(|| {
            let (a, b) = tokio::io::duplex(64);
            (Sender::H1(super::super::h1::Conn::new(Box::new(a), 1024)), b)
        })
        .join()
        .unwrap()
    }

    #[test]
    fn a_connection_goes_back_to_the_shard_of_the_thread_that_opened_it() {
        let pool = Pool::new(8, Duration::from_secs(60), 2);
        // Threads are numbered in turn: of two new ones, one maps to the other shard.
        let (sender, _peer) = std::iter::repeat_with(conn_from_another_thread)
            .take(2)
            .find(|(s, _)| s.origin() % 2 != pool.home())
            .expect("one of two new threads maps to the other shard");
        let origin = sender.origin() % 2;
        pool.put(key(), sender);
        assert_eq!(pool.lock(origin).get(&key()).map_or(0, VecDeque::len), 1);
        assert_eq!(pool.lock(pool.home()).get(&key()).map_or(0, VecDeque::len), 0);
        // This thread still finds it when it has none of its own.
        assert!(pool.take(&key()).is_some());
    }

    #[test]
    fn sweep_drops_connections_their_server_closed() {
        let pool = Pool::new(8, Duration::from_secs(60), 1);
        let (a, b) = tokio::io::duplex(64);
        pool.put(key(), Sender::H1(super::super::h1::Conn::new(Box::new(a), 1024)));
        let (c, _kept) = tokio::io::duplex(64);
        pool.put(key(), Sender::H1(super::super::h1::Conn::new(Box::new(c), 1024)));
        drop(b);
        pool.sweep();
        assert_eq!(pool.lock(0).get(&key()).map_or(0, VecDeque::len), 1);
    }
}
