//! The process's own messages about refused clients, at most one line per cause per second:
//! a flood of refused connections must not become a flood of log lines (each `throttled!`
//! call site is a cause). The line after a quiet spell says how many were left out. Owns the
//! counting; must not decide what is refused.

use std::sync::atomic::{AtomicU64, Ordering};

/// One cause's budget: the second of its last line, and the lines left out since.
#[derive(Debug)]
pub struct Throttle {
    second: AtomicU64,
    left_out: AtomicU64,
}

impl Default for Throttle {
    fn default() -> Self {
        Throttle::new()
    }
}

impl Throttle {
    pub const fn new() -> Throttle {
        Throttle {
            second: AtomicU64::new(u64::MAX),
            left_out: AtomicU64::new(0),
        }
    }

    /// Some(n) when a line may be written now, `n` lines having been left out since the
    /// last one; None when this one is left out.
    pub fn admit(&self) -> Option<u64> {
        self.admit_at(crate::process::uptime_secs())
    }

    fn admit_at(&self, now: u64) -> Option<u64> {
        let last = self.second.load(Ordering::Relaxed);
        if last != now
            && self
                .second
                .compare_exchange(last, now, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            return Some(self.left_out.swap(0, Ordering::AcqRel));
        }
        self.left_out.fetch_add(1, Ordering::Relaxed);
        None
    }
}

/// A `tracing` event at `$level`, at most once per second for this call site; a line after
/// some were left out carries `left_out=N`.
macro_rules! throttled {
    ($level:ident, $($arg:tt)+) => {{
        static THROTTLE: $crate::log::throttle::Throttle = $crate::log::throttle::Throttle::new();
        match THROTTLE.admit() {
            Some(0) => tracing::$level!($($arg)+),
            Some(n) => tracing::$level!(left_out = n, $($arg)+),
            None => {}
        }
    }};
}
pub(crate) use throttled;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_a_second_and_the_count_of_the_rest() {
        let t = Throttle::new();
        assert_eq!(t.admit_at(5), Some(0));
        for _ in 0..9 {
            assert_eq!(t.admit_at(5), None);
        }
        assert_eq!(t.admit_at(6), Some(9));
        assert_eq!(t.admit_at(6), None);
        assert_eq!(t.admit_at(9), Some(1));
    }
}
