//! Idle HTTP server connections, kept for reuse and keyed by server and source address:
//! a connection opened from a client's own address (`usesrc`) is only ever reused for that
//! same address. Owns keeping, expiring and handing out idle connections, and closing them
//! once their server does; must not open any. How many a server keeps is `need`'s.

mod need;

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::task::{Context, Waker};
use std::time::{Duration, Instant};

pub use need::Need;

/// An idle server connection: HTTP/1.1 driven by the request that takes it, or the sending
/// half of an HTTP/2 connection (whose I/O runs in a task of its own).
#[derive(Debug)]
pub enum Sender {
    H1(Box<super::h1::Conn>),
    /// With the worker thread (`clearway_core::thread::number`) whose event loop runs the
    /// connection's task, and what the server's SETTINGS said.
    H2(
        hyper::client::conn::http2::SendRequest<ReqBody>,
        usize,
        std::sync::Arc<H2Peer>,
    ),
}

/// What an HTTP/2 server said of itself in its SETTINGS that requests need to know, kept by
/// the connection's task as it reads them.
#[derive(Debug, Default)]
pub struct H2Peer {
    /// SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441): it takes extended CONNECT.
    pub connect_protocol: std::sync::atomic::AtomicBool,
    /// Asks the connection's task to look at the SETTINGS received so far (they are read by
    /// a task of hyper's own, which tells no one).
    pub ask: tokio::sync::Notify,
    /// Woken once the task has looked.
    pub answered: tokio::sync::Notify,
}

pub use super::req_body::ReqBody;

impl Sender {
    /// Whether the server closed it (or, for HTTP/1.1, sent something unasked).
    pub fn is_closed(&mut self) -> bool {
        self.is_closed_or_wake(Waker::noop())
    }

    /// `is_closed`; while it is not, an HTTP/1.1 connection wakes `waker` once its server
    /// closes it. (An HTTP/2 connection's own task sees that.)
    fn is_closed_or_wake(&mut self, waker: &Waker) -> bool {
        match self {
            Sender::H1(c) => !c.is_usable_or_wake(waker),
            Sender::H2(s, _, _) => s.is_closed(),
        }
    }

    /// The worker thread whose event loop the connection's socket is registered with.
    fn origin(&self) -> usize {
        match self {
            Sender::H1(c) => c.origin(),
            Sender::H2(_, t, _) => *t,
        }
    }
}

/// What makes an idle connection usable for a request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    /// The backend.
    pub backend: clearway_core::BackendId,
    /// The server's index in its backend.
    pub server: usize,
    /// The client address the connection was opened from, for `usesrc` servers; None when
    /// it comes from one of this host's own addresses.
    pub source: Option<IpAddr>,
    /// The SNI of a TLS connection opened with a per-request SNI (`sni req.hdr(host)`).
    pub sni: Option<std::sync::Arc<str>>,
    /// The address connected to, for a server that connects where each request was going
    /// (`0.0.0.0`, `option transparent`, `set-dst`): no request reuses a connection to
    /// another destination.
    pub dst: Option<std::net::SocketAddr>,
    /// The server's address count (`ServerRt::epoch`): once DNS or the runtime API moved
    /// it, no request takes a connection to where it was.
    pub epoch: u32,
}

#[derive(Debug)]
struct Idle {
    sender: Sender,
    since: Instant,
}

/// Idle connections by key, oldest first. Hashed with foldhash, seeded per process: two
/// lookups per request, with keys that can hold a client's address (`usesrc clientip`), so
/// fast but not predictable from outside.
type Lists = HashMap<Key, VecDeque<Idle>, foldhash::fast::RandomState>;

/// One worker thread's idle connections, and its sweeper to wake when their server closes one.
#[derive(Debug, Default)]
struct Shard {
    lists: Lists,
    sweeper: Option<Waker>,
}

impl Shard {
    /// Removes the connections of `list` that are past `max_idle` or closed, oldest first,
    /// stopping at the first live one; returns how many went.
    fn expire_front(
        list: &mut VecDeque<Idle>,
        now: Instant,
        max_idle: Duration,
        waker: &Waker,
        gone: &mut Vec<Sender>,
    ) -> usize {
        let before = gone.len();
        while list
            .front_mut()
            .is_some_and(|i| now.duration_since(i.since) >= max_idle || i.sender.is_closed_or_wake(waker))
        {
            gone.extend(list.pop_front().map(|i| i.sender));
        }
        gone.len() - before
    }
}

/// Idle connections of one backend (or of one client session). There is one shard per worker
/// thread, so that giving a connection back and taking one, the per-request path, only ever
/// locks a mutex no other thread is holding; a thread with none idle looks in the other shards
/// before a new connection is opened. A connection goes back to the shard of the thread that
/// opened it, whose event loop watches its socket: one borrowed by another thread does not
/// stay there, where every request on it would need a wake-up across threads.
#[derive(Debug)]
pub struct Pool {
    shards: Box<[Mutex<Shard>]>,
    /// At most this many per key and shard.
    per_key: usize,
    max_idle: Duration,
    /// Per server (by index), how many it keeps; empty for a session's own pool, which keeps
    /// up to `per_key`.
    needs: clearway_core::AppendOnly<Need>,
}

impl Pool {
    /// A pool with `shards` shards (the worker thread count, or 1 for a pool that only one
    /// session uses) that keeps up to `per_key` connections per key and shard.
    pub fn new(per_key: usize, max_idle: Duration, shards: usize) -> Pool {
        Pool::with_needs(per_key, max_idle, shards, Vec::new())
    }

    /// A backend's pool, whose server `i` keeps what `needs[i]` allows.
    pub fn with_needs(per_key: usize, max_idle: Duration, shards: usize, needs: Vec<Need>) -> Pool {
        Pool {
            shards: (0..shards.max(1)).map(|_| Mutex::new(Shard::default())).collect(),
            per_key,
            max_idle,
            needs: needs.into_iter().collect(),
        }
    }

    /// The budget of a server added at run time (`add server`), at the next index.
    pub fn add_need(&self, need: Need) -> usize {
        self.needs.push(need)
    }

    /// Closes every idle connection to `server` (`del server`).
    pub fn purge_all(&self, server: usize) {
        self.purge(server, self.idle(server) as usize);
    }

    fn lock(&self, i: usize) -> std::sync::MutexGuard<'_, Shard> {
        // A panic elsewhere while holding the lock leaves a map that is still consistent.
        self.shards[i].lock().unwrap_or_else(|p| p.into_inner())
    }

    fn home(&self) -> usize {
        clearway_core::thread::number() % self.shards.len()
    }

    fn gone(&self, server: usize, n: usize) {
        if let Some(need) = self.needs.get(server) {
            need.gone(n);
        }
    }

    /// Idle connections to server `server` in all shards.
    pub fn idle(&self, server: usize) -> u32 {
        self.needs.get(server).map_or(0, Need::idle)
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
            let shard = &mut *shard;
            let waker = shard.sweeper.as_ref().unwrap_or(Waker::noop());
            let list = shard.lists.get_mut(key)?;
            while let Some(i) = list.pop_back() {
                if now.duration_since(i.since) >= self.max_idle {
                    // The rest are older still.
                    gone.push(i.sender);
                    gone.extend(list.drain(..).map(|i| i.sender));
                    return None;
                }
                let mut sender = i.sender;
                if !sender.is_closed_or_wake(waker) {
                    return Some(sender);
                }
                gone.push(sender);
            }
            None
        });
        self.gone(key.server, gone.len() + usize::from(found.is_some()));
        drop(gone);
        found
    }

    /// Keeps a connection whose last response is complete, `used` being the connections to
    /// its server in use (this one among them); closes it when the server's budget or the
    /// pool is full.
    pub fn put(&self, key: Key, mut sender: Sender, used: u32) {
        if self.per_key == 0 {
            return;
        }
        let now = Instant::now();
        // What goes is closed once the lock is let go, as in `take`.
        let mut gone = Vec::new();
        let mut guard = self.lock(sender.origin() % self.shards.len());
        let shard = &mut *guard;
        let waker = shard.sweeper.as_ref().unwrap_or(Waker::noop());
        if sender.is_closed_or_wake(waker) {
            return;
        }
        let server = key.server;
        let list = shard.lists.entry(key).or_default();
        // Oldest first: those past their time, then the oldest when the list is full (it is
        // the likeliest to be closed by the server soon).
        let mut expired = Shard::expire_front(list, now, self.max_idle, waker, &mut gone);
        let kept = match self.needs.get(server) {
            Some(need) => need.admit(used, list.is_empty()),
            None => true,
        };
        if kept {
            if list.len() >= self.per_key {
                gone.extend(list.pop_front().map(|i| i.sender));
                expired += 1;
            }
            list.push_back(Idle { sender, since: now });
        } else {
            gone.push(sender);
        }
        drop(guard);
        self.gone(server, expired);
        drop(gone);
    }

    /// Closes this thread's idle connections that are past their time or that their server
    /// closed, and runs the servers' purges that are due (`in_use(i)`: connections to server
    /// `i` in use). HTTP/1.1 connections have no task of their own to notice a close: the
    /// sweeper, woken by their sockets, does.
    pub fn sweep(&self, in_use: &dyn Fn(usize) -> u32) {
        let now = Instant::now();
        // Closed once the lock is let go, as in `take`.
        let mut gone = Vec::new();
        let mut guard = self.lock(self.home());
        let shard = &mut *guard;
        let waker = shard.sweeper.as_ref().unwrap_or(Waker::noop());
        let mut dropped = vec![0usize; self.needs.len()];
        shard.lists.retain(|key, list| {
            for mut i in std::mem::take(list) {
                if now.duration_since(i.since) < self.max_idle && !i.sender.is_closed_or_wake(waker) {
                    list.push_back(i);
                } else {
                    gone.push(i.sender);
                    if let Some(d) = dropped.get_mut(key.server) {
                        *d += 1;
                    }
                }
            }
            !list.is_empty()
        });
        drop(guard);
        for (server, n) in dropped.into_iter().enumerate() {
            self.gone(server, n);
        }
        drop(gone);
        for (server, need) in self.needs.iter().enumerate() {
            if let Some(kill) = need.purge(now, in_use(server)) {
                self.purge(server, kill as usize);
            }
        }
    }

    /// Closes `kill` idle connections to `server`, the oldest of each shard first, each shard
    /// giving its share.
    fn purge(&self, server: usize, kill: usize) {
        let total = self.idle(server) as usize;
        if kill == 0 || total == 0 {
            return;
        }
        let mut left = kill;
        for i in 0..self.shards.len() {
            let mut gone = Vec::new();
            {
                let mut shard = self.lock(i);
                let mine: usize = shard
                    .lists
                    .iter()
                    .filter(|(k, _)| k.server == server)
                    .map(|(_, l)| l.len())
                    .sum();
                let mut share = (kill * mine).div_ceil(total).min(left);
                shard.lists.retain(|k, list| {
                    while k.server == server && share > 0 {
                        let Some(i) = list.pop_front() else { break };
                        gone.push(i.sender);
                        share -= 1;
                    }
                    !list.is_empty()
                });
            }
            left -= gone.len();
            self.gone(server, gone.len());
            drop(gone);
            if left == 0 {
                break;
            }
        }
    }

    /// Makes `waker` the one this thread's idle HTTP/1.1 connections wake when their server
    /// closes them (from then on, as each is put back or swept).
    fn set_sweeper(&self, waker: &Waker) {
        let mut shard = self.lock(self.home());
        if !shard.sweeper.as_ref().is_some_and(|w| w.will_wake(waker)) {
            shard.sweeper = Some(waker.clone());
        }
    }

    /// The shortest purge period of the pool's servers.
    fn purge_every(&self) -> Option<Duration> {
        self.needs.iter().map(Need::purge_delay).filter(|d| !d.is_zero()).min()
    }
}

/// Connections in use to server `i` of a pool's backend, which the estimate of its need follows.
pub type InUse = Box<dyn Fn(usize) -> u32 + Send + Sync>;

/// Keeps this thread's shard of each pool (each worker thread runs one): sweeps every `every`
/// (or a server's shorter `pool-purge-delay`), and, soon after a server closes an idle
/// connection, closes it on this side too instead of leaving it half-closed.
pub async fn sweep_every(pools: Vec<(std::sync::Arc<Pool>, InUse)>, every: Duration) {
    let every = pools
        .iter()
        .filter_map(|(p, _)| p.purge_every())
        .fold(every, Duration::min);
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    const SETTLE: Duration = Duration::from_millis(20);
    loop {
        let mut polled = false;
        let woken = std::future::poll_fn(|cx: &mut Context<'_>| {
            if tick.poll_tick(cx).is_ready() {
                return std::task::Poll::Ready(false);
            }
            // Any other wake-up is a socket's.
            if polled {
                return std::task::Poll::Ready(true);
            }
            polled = true;
            for (p, _) in &pools {
                p.set_sweeper(cx.waker());
            }
            std::task::Poll::Pending
        });
        if woken.await {
            // Closes come in bursts (a server restarting): waiting a moment before sweeping
            // keeps the cost of a burst to a few passes over the idle connections, not one
            // per close; those closed meanwhile are swept in the same pass.
            tokio::time::sleep(SETTLE).await;
        }
        for (p, in_use) in &pools {
            p.sweep(in_use.as_ref());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Key {
        Key {
            dst: None,
            epoch: 0,
            backend: clearway_core::BackendId(0),
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
        pool.put(key(), sender, 1);
        assert_eq!(pool.lock(origin).lists.get(&key()).map_or(0, VecDeque::len), 1);
        assert_eq!(pool.lock(pool.home()).lists.get(&key()).map_or(0, VecDeque::len), 0);
        // This thread still finds it when it has none of its own.
        assert!(pool.take(&key()).is_some());
    }

    #[test]
    fn sweep_drops_connections_their_server_closed() {
        let pool = Pool::new(8, Duration::from_secs(60), 1);
        let (a, b) = tokio::io::duplex(64);
        pool.put(key(), Sender::H1(super::super::h1::Conn::new(Box::new(a), 1024)), 1);
        let (c, _kept) = tokio::io::duplex(64);
        pool.put(key(), Sender::H1(super::super::h1::Conn::new(Box::new(c), 1024)), 1);
        drop(b);
        pool.sweep(&|_| 0);
        assert_eq!(pool.lock(0).lists.get(&key()).map_or(0, VecDeque::len), 1);
    }
}
