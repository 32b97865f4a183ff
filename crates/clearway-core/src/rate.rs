//! Events per second, counted as HAProxy's frequency counters count them: the events of the
//! current second, plus those of the previous second weighted by the part of it still within
//! the last second. Lock-free, shared by the worker threads; also says how long to wait
//! before one more event fits under a limit. Owns the counting only; must not sleep.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Milliseconds since the first use, on a clock that never goes back (read it once for
/// several counters of one event).
pub fn now_ms() -> u64 {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_millis() as u64
}

#[derive(Debug, Default)]
pub struct Rate {
    /// The current second (high 32 bits) and its events (low 32 bits).
    curr: AtomicU64,
    /// The events of the second before.
    prev: AtomicU32,
    /// The highest rate seen at an event.
    max: AtomicU32,
}

impl Rate {
    /// Counts one event now; returns the rate with it.
    pub fn add(&self) -> u32 {
        self.add_at(now_ms())
    }

    /// Counts one event at `ms` (from `now_ms`); returns the rate with it.
    pub fn add_at(&self, ms: u64) -> u32 {
        let sec = ms / 1000;
        let mut v = self.curr.load(Ordering::Relaxed);
        loop {
            let (at, n) = (v >> 32, v & 0xffff_ffff);
            let (new, prev) = if at == sec {
                (v + 1, None)
            } else if at + 1 == sec {
                ((sec << 32) | 1, Some(n as u32))
            } else {
                ((sec << 32) | 1, Some(0))
            };
            match self
                .curr
                .compare_exchange_weak(v, new, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => {
                    if let Some(p) = prev {
                        self.prev.store(p, Ordering::Relaxed);
                    }
                    break;
                }
                Err(seen) => v = seen,
            }
        }
        let r = self.rate_at(ms);
        self.max.fetch_max(r, Ordering::Relaxed);
        r
    }

    /// Events over the last second, as of now.
    pub fn rate(&self) -> u32 {
        self.rate_at(now_ms())
    }

    fn rate_at(&self, ms: u64) -> u32 {
        let (sec, into) = (ms / 1000, ms % 1000);
        let v = self.curr.load(Ordering::Relaxed);
        let (at, n) = (v >> 32, (v & 0xffff_ffff) as u32);
        let prev = u64::from(self.prev.load(Ordering::Relaxed));
        let weighted = |p: u64| (p * (1000 - into) / 1000) as u32;
        if at == sec {
            n + weighted(prev)
        } else if at + 1 == sec {
            weighted(u64::from(n))
        } else {
            0
        }
    }

    /// The highest rate seen.
    pub fn max(&self) -> u32 {
        self.max.load(Ordering::Relaxed)
    }

    /// How long to wait before one more event keeps the rate within `limit` (None: now).
    pub fn wait_for(&self, limit: u32) -> Option<Duration> {
        self.wait_at(limit, now_ms())
    }

    fn wait_at(&self, limit: u32, ms: u64) -> Option<Duration> {
        if self.rate_at(ms) < limit {
            return None;
        }
        // Some of the last second's events age out every few milliseconds: look again then,
        // and at the latest when this second ends.
        let to_next = 1000 - ms % 1000;
        Some(Duration::from_millis(
            to_next.min(1000 / u64::from(limit.max(1))).max(1),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_this_second_and_a_fading_share_of_the_last() {
        let r = Rate::default();
        for _ in 0..10 {
            r.add_at(5_000);
        }
        assert_eq!(r.rate_at(5_999), 10);
        // Half of the next second gone: half of the previous second's events still count.
        assert_eq!(r.rate_at(6_500), 5);
        r.add_at(6_500);
        assert_eq!(r.rate_at(6_500), 6);
        assert_eq!(r.rate_at(7_000), 1, "the second before counts whole at the start");
        assert_eq!(r.rate_at(9_000), 0, "seconds without events reset it");
        assert_eq!(r.max(), 10);
    }

    #[test]
    fn says_when_one_more_event_fits_under_a_limit() {
        let r = Rate::default();
        for _ in 0..3 {
            r.add_at(1_000);
        }
        assert_eq!(r.wait_at(4, 1_100), None);
        r.add_at(1_100);
        let d = r.wait_at(4, 1_100).expect("full");
        assert!(d > Duration::ZERO && d <= Duration::from_millis(900), "{d:?}");
        // A second later only a share of them counts.
        assert_eq!(r.wait_at(4, 2_500), None);
    }
}
