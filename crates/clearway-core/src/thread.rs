//! The numbering of the calling thread: a worker thread's index, given once when the worker
//! starts, and a number for any other thread, so that per-thread structures (counters, pool
//! and kill shards, session tables) can pick their part without a lock. Owns only the numbers;
//! must not start threads.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

thread_local! {
    static WORKER: Cell<Option<usize>> = const { Cell::new(None) };
    static NUMBER: Cell<Option<usize>> = const { Cell::new(None) };
}

/// Numbers the calling thread as worker thread `i` (from 0), before it serves anything: each
/// per-thread part then belongs to exactly one worker.
pub fn set_worker(i: usize) {
    WORKER.with(|w| w.set(Some(i)));
    NUMBER.with(|n| n.set(Some(i)));
}

/// The calling thread's worker number, if it is a worker thread.
pub fn worker() -> Option<usize> {
    WORKER.with(Cell::get)
}

/// The calling thread's number: its worker index (`set_worker`), else a number given when the
/// thread first asks. A structure with N parts uses part `number() % N`.
pub fn number() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    NUMBER.with(|t| {
        t.get().unwrap_or_else(|| {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            t.set(Some(n));
            n
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_keeps_its_number_and_other_threads_get_distinct_ones() {
        let (a, b) = std::thread::scope(|s| {
            let w = s.spawn(|| {
                set_worker(5);
                (worker(), number(), number())
            });
            let o = s.spawn(|| (worker(), number(), number()));
            (w.join().unwrap(), o.join().unwrap())
        });
        assert_eq!(a, (Some(5), 5, 5));
        assert_eq!(b.0, None);
        assert_eq!(b.1, b.2, "a thread's number does not change");
    }
}
