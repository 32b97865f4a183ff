//! The worker threads' loads and the hand-off of accepted clients between them. Each thread
//! accepts on its own `SO_REUSEPORT` socket, so the kernel's hash of the client's address and
//! port decides where a connection lands, whatever the threads already carry; a thread that
//! accepts a client while another thread serves fewer sessions passes the client to that
//! thread (as HAProxy gives each new connection to its least loaded thread). Owns the
//! per-thread session counts and the inboxes; must not accept, serve or choose servers.

use crate::model::Frontend;
use crate::stream::Accepted;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use tokio::sync::OwnedSemaphorePermit;

/// The connection-limit permits a session holds (global, frontend, bind line), and its place
/// in its listener's count (`option socket-stats`).
pub type Permits = (
    OwnedSemaphorePermit,
    OwnedSemaphorePermit,
    Option<OwnedSemaphorePermit>,
    Option<clearway_core::ListenerConn>,
);

/// A client accepted on one thread, to be served by another.
pub struct Handoff {
    pub fe: Arc<Frontend>,
    pub stream: std::net::TcpStream,
    pub at: Accepted,
    pub tls: Option<crate::tls::Acceptor>,
    pub permits: Permits,
    pub load: Load,
}

/// One thread's session count, alone on its cache line so that threads counting their own
/// sessions do not slow each other down.
#[repr(align(64))]
#[derive(Debug, Default)]
struct Count(AtomicUsize);

/// The worker threads: how many sessions each serves, and each one's inbox of clients handed
/// over by the others.
pub struct Workers {
    load: Box<[Count]>,
    inboxes: Box<[mpsc::UnboundedSender<Handoff>]>,
    /// Taken once by each thread as it starts.
    receivers: Mutex<Vec<Option<mpsc::UnboundedReceiver<Handoff>>>>,
}

impl std::fmt::Debug for Workers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workers").field("load", &self.loads()).finish()
    }
}

/// A session's share of its thread's load, given back when the session ends.
pub struct Load {
    workers: Arc<Workers>,
    thread: usize,
}

impl Load {
    /// The thread that counts (and serves) this session.
    pub fn thread(&self) -> usize {
        self.thread
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.workers.load[self.thread].0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Workers {
    pub fn new(threads: usize) -> Arc<Workers> {
        let (inboxes, receivers): (Vec<_>, Vec<_>) = (0..threads.max(1))
            .map(|_| {
                let (tx, rx) = mpsc::unbounded_channel();
                (tx, Some(rx))
            })
            .unzip();
        Arc::new(Workers {
            load: (0..inboxes.len()).map(|_| Count::default()).collect(),
            inboxes: inboxes.into(),
            receivers: Mutex::new(receivers),
        })
    }

    /// The number of sessions each thread serves.
    pub fn loads(&self) -> Vec<usize> {
        self.load.iter().map(|c| c.0.load(Ordering::Relaxed)).collect()
    }

    /// Chooses the thread that serves a client accepted on thread `me`, and counts the session
    /// there: `me`, unless another thread serves fewer sessions (the least loaded one).
    pub fn assign(self: &Arc<Self>, me: usize) -> Load {
        let me = me % self.load.len();
        let thread = least_loaded(me, self.load.iter().map(|c| c.0.load(Ordering::Relaxed)));
        self.load[thread].0.fetch_add(1, Ordering::Relaxed);
        Load {
            workers: self.clone(),
            thread,
        }
    }

    /// Passes a client to the thread its `load` names. Gives the client back if that thread
    /// no longer takes any (its event loop has ended).
    pub fn hand_over(&self, h: Handoff) -> Result<(), Box<Handoff>> {
        self.inboxes[h.load.thread]
            .send(h)
            .map_err(|mpsc::error::SendError(h)| Box::new(h))
    }

    /// Thread `thread`'s inbox; None when it was already taken.
    pub fn inbox(&self, thread: usize) -> Option<mpsc::UnboundedReceiver<Handoff>> {
        let mut r = self.receivers.lock().unwrap_or_else(|e| e.into_inner());
        r.get_mut(thread).and_then(Option::take)
    }
}

/// `me`, unless some thread's load is lower than `me`'s: then the first of the least loaded.
fn least_loaded(me: usize, loads: impl Iterator<Item = usize>) -> usize {
    let mut mine = None;
    let mut best: Option<(usize, usize)> = None;
    for (t, l) in loads.enumerate() {
        if t == me {
            mine = Some(l);
        }
        if best.is_none_or(|(_, b)| l < b) {
            best = Some((t, l));
        }
    }
    match (mine, best) {
        (Some(m), Some((t, l))) if l < m => t,
        _ => me,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_keeps_its_client_unless_another_serves_fewer() {
        assert_eq!(least_loaded(0, [3, 3].into_iter()), 0);
        assert_eq!(least_loaded(1, [3, 3].into_iter()), 1);
        assert_eq!(least_loaded(0, [4, 3].into_iter()), 1);
        assert_eq!(least_loaded(1, [2, 3].into_iter()), 0);
        assert_eq!(least_loaded(2, [5, 1, 2, 1].into_iter()), 1);
        assert_eq!(least_loaded(0, [0].into_iter()), 0);
    }

    #[test]
    fn clients_accepted_on_one_thread_end_up_spread_over_all() {
        let w = Workers::new(3);
        // Every client lands on thread 0's socket.
        let held: Vec<Load> = (0..30).map(|_| w.assign(0)).collect();
        assert_eq!(w.loads(), vec![10, 10, 10]);
        assert_eq!(held.iter().filter(|l| l.thread() == 2).count(), 10);
        drop(held);
        assert_eq!(w.loads(), vec![0, 0, 0], "an ended session is no longer counted");
    }

    #[test]
    fn each_inbox_is_given_out_once() {
        let w = Workers::new(2);
        assert!(w.inbox(1).is_some());
        assert!(w.inbox(1).is_none());
        assert!(w.inbox(2).is_none());
    }
}
