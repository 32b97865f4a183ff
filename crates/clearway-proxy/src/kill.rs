//! Ending a server's sessions from outside them: `shutdown sessions server`, and
//! `on-marked-down shutdown-sessions` when checks take a server down. A session that may be
//! ended listens on its worker thread's notifier (no lock shared between threads, no
//! allocation) and ends when the server's kill count has moved since it started. Servers
//! nobody can end sessions of have none, and their sessions pay nothing. Owns the signal;
//! must not close connections itself.

use std::sync::atomic::{AtomicU32, Ordering};
use tokio::sync::futures::Notified;
use tokio::sync::Notify;

#[derive(Debug)]
pub struct Kill {
    /// How many times the server's sessions were ended.
    count: AtomicU32,
    /// One per worker thread.
    shards: Vec<Notify>,
}

impl Kill {
    pub fn new(threads: usize) -> Kill {
        Kill {
            count: AtomicU32::new(0),
            shards: (0..threads.max(1)).map(|_| Notify::new()).collect(),
        }
    }

    /// Ends every session started before now, on every thread.
    pub fn fire(&self) {
        self.count.fetch_add(1, Ordering::AcqRel);
        for n in &self.shards {
            n.notify_waiters();
        }
    }

    /// What a session starting now listens to: created before the count is read, so a
    /// `fire` in between is never missed.
    pub fn listen(&self) -> (Notified<'_>, u32) {
        let n = self.shards[clearway_core::thread::number() % self.shards.len()].notified();
        (n, self.count.load(Ordering::Acquire))
    }

    /// Whether sessions that started at `since` have been ended.
    pub fn fired_since(&self, since: u32) -> bool {
        self.count.load(Ordering::Acquire) != since
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_listener_is_woken_and_sees_it_was_ended() {
        let k = Kill::new(2);
        let (n, since) = k.listen();
        let mut n = std::pin::pin!(n);
        // Not ended yet.
        assert!(tokio::time::timeout(std::time::Duration::from_millis(10), n.as_mut())
            .await
            .is_err());
        assert!(!k.fired_since(since));
        k.fire();
        n.await;
        assert!(k.fired_since(since));
        // A session that starts after is not ended by it.
        let (_n, later) = k.listen();
        assert!(!k.fired_since(later));
    }
}
