//! How many idle connections one server keeps: `pool-max-conn`, `pool-low-conn`,
//! `pool-purge-delay`, and the estimate of the connections the server actually needs. Owns
//! the counts and the arithmetic; must not touch a connection (the pool does).
//!
//! The estimate follows HAProxy's: it is the most connections in use at once, remembered
//! across purges and halved towards the current use at each one. A returned connection stays
//! idle only while connections in use plus idle ones stay within it (plus `pool-low-conn`), or
//! when its thread has none idle for the server; each purge closes half the idle
//! connections beyond it. A burst of new clients thus leaves about as many idle connections
//! as were in use at its peak, and they drain away a few purges after the load stops.

use clearway_config::model::IdlePool;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One server's idle-connection budget.
#[derive(Debug)]
pub struct Need {
    /// At most this many idle (`pool-max-conn`, else the process's connection limit).
    max_conn: u32,
    low_conn: u32,
    purge_delay: Duration,
    /// Idle connections in all the pool's shards.
    idle: AtomicU32,
    /// The most connections in use at once since the last purge.
    max_used: AtomicU32,
    /// The estimated need: at least `max_used`.
    est_need: AtomicU32,
    /// When the next purge is due.
    next_purge: Mutex<Instant>,
}

impl Need {
    /// A budget from a server's `pool-*` settings; `cap` bounds it when `pool-max-conn` does not.
    pub fn new(p: &IdlePool, cap: u32) -> Need {
        Need {
            max_conn: if p.purge_delay.is_zero() {
                0
            } else {
                p.max_conn.unwrap_or(cap).min(cap)
            },
            low_conn: p.low_conn,
            purge_delay: p.purge_delay,
            idle: AtomicU32::new(0),
            max_used: AtomicU32::new(0),
            est_need: AtomicU32::new(0),
            next_purge: Mutex::new(Instant::now() + p.purge_delay),
        }
    }

    /// Idle connections now.
    pub fn idle(&self) -> u32 {
        self.idle.load(Ordering::Relaxed)
    }

    /// Whether a connection coming back from a request may stay idle, with `used` connections
    /// in use (this one among them) and `alone` when its thread keeps none idle for the
    /// server. Counts it as idle when it may.
    pub fn admit(&self, used: u32, alone: bool) -> bool {
        // Races between threads only blur the figures a little; they converge at each purge.
        if self.max_used.load(Ordering::Relaxed) < used {
            self.max_used.store(used, Ordering::Relaxed);
        }
        let est = self.est_need.load(Ordering::Relaxed);
        let est = if est < used {
            self.est_need.store(used, Ordering::Relaxed);
            used
        } else {
            est
        };
        let idle = self.idle();
        if idle >= self.max_conn {
            return false;
        }
        if !alone && used.saturating_add(idle) > est.saturating_add(self.low_conn) {
            return false;
        }
        self.idle.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// `n` idle connections left the pool (taken for a request, or closed).
    pub fn gone(&self, n: usize) {
        if n > 0 {
            let n = u32::try_from(n).unwrap_or(u32::MAX);
            let _ = self
                .idle
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |i| Some(i.saturating_sub(n)));
        }
    }

    /// When a purge is due at `now`, with `used` connections in use: how many idle connections
    /// to close (half the surplus over the estimate, rounded up), after moving the estimate.
    /// None when no purge is due; only one caller per period gets Some.
    pub fn purge(&self, now: Instant, used: u32) -> Option<u32> {
        {
            let mut next = self.next_purge.try_lock().ok()?;
            if now < *next {
                return None;
            }
            *next = now + self.purge_delay;
        }
        let idle = self.idle();
        if idle == 0 {
            return Some(0);
        }
        let max_used = self.max_used.load(Ordering::Relaxed);
        let est = self.est_need.load(Ordering::Relaxed);
        let surplus = i64::from(used) + i64::from(idle) - i64::from(max_used.max(est));
        let halfway = ((u64::from(est) + u64::from(max_used)) / 2) as u32;
        self.est_need.store(halfway.max(max_used), Ordering::Relaxed);
        self.max_used.store(used, Ordering::Relaxed);
        Some(if surplus <= 0 { 0 } else { (surplus as u32).div_ceil(2) })
    }

    /// The purge period: how often the sweeper must look.
    pub fn purge_delay(&self) -> Duration {
        self.purge_delay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn need(max_conn: Option<u32>, low_conn: u32) -> Need {
        Need::new(
            &IdlePool {
                max_conn,
                low_conn,
                purge_delay: Duration::from_secs(5),
            },
            1000,
        )
    }

    #[test]
    fn a_burst_leaves_about_as_many_idle_as_were_in_use_at_its_peak() {
        let n = need(None, 0);
        // 50 requests in flight, then they end one by one; each connection is offered back.
        let kept = (1..=50).rev().filter(|&used| n.admit(used, false)).count();
        assert_eq!(kept, 50);
        // A new wave of first requests (which may not reuse: `http-reuse safe`) opens 50 more
        // while those 50 sit idle: past the estimate, only the thread's first is kept.
        let kept = (1..=50).rev().filter(|&used| n.admit(used, false)).count();
        assert_eq!(kept, 0);
        assert_eq!(n.idle(), 50);
        assert!(n.admit(1, true), "a thread with none idle keeps one");
    }

    #[test]
    fn purges_drain_idle_connections_once_the_load_stops() {
        let n = need(None, 0);
        for used in (1..=40).rev() {
            n.admit(used, false);
        }
        let mut now = Instant::now() + Duration::from_secs(6);
        let mut rounds = 0;
        while n.idle() > 0 {
            let kill = n.purge(now, 0).expect("due");
            n.gone(kill as usize);
            now += Duration::from_secs(6);
            rounds += 1;
            assert!(rounds < 20, "idle connections never drained: {}", n.idle());
        }
        // Not all at once: the first purges keep what the last peak needed.
        assert!(rounds > 2);
    }

    #[test]
    fn a_purge_is_not_due_before_its_delay_and_goes_to_one_caller() {
        let n = need(None, 0);
        n.admit(3, false);
        let now = Instant::now();
        assert_eq!(n.purge(now, 0), None);
        let later = now + Duration::from_secs(6);
        assert!(n.purge(later, 0).is_some());
        assert_eq!(n.purge(later, 0), None);
    }

    #[test]
    fn pool_max_conn_caps_and_zero_keeps_none() {
        let n = need(Some(2), 0);
        assert_eq!((1..=10).rev().filter(|&u| n.admit(u, true)).count(), 2);
        let none = need(Some(0), 0);
        assert!(!none.admit(1, true));
        let no_delay = Need::new(
            &IdlePool {
                max_conn: None,
                low_conn: 0,
                purge_delay: Duration::ZERO,
            },
            1000,
        );
        assert!(!no_delay.admit(1, true), "pool-purge-delay 0 keeps no idle connection");
    }

    #[test]
    fn pool_low_conn_keeps_some_beyond_the_estimate() {
        let n = need(None, 4);
        for used in (1..=10).rev() {
            n.admit(used, false);
        }
        let extra = (0..10).filter(|_| n.admit(1, false)).count();
        assert_eq!(extra, 4, "idle goes up to 14: 10 in use at the peak, plus 4");
    }
}
