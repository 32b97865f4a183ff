//! Traffic counters of a frontend, backend, server or listener, as HAProxy keeps them: one
//! block per worker thread, written only by that thread (a plain load and store, no locked
//! instruction and no cache line shared with another thread), summed when read. Threads that
//! are not worker threads (tests, start-up) share one extra block, written atomically.
//! Must not decide what is counted when (the data plane does) nor how it is shown (the stats
//! code does).

use crate::thread;
use std::sync::atomic::{AtomicU64, Ordering};

/// What is counted. One list for every kind of proxy object: each kind uses the fields
/// HAProxy's statistics give it (a frontend has no retries, a server no denied requests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum Field {
    /// Sessions (connections) ever started (`stot`).
    Sessions,
    /// Bytes from the client (`bin`) and to the client (`bout`).
    BytesIn,
    BytesOut,
    /// Requests refused by a rule (`dreq`), responses refused by a rule (`dresp`).
    DeniedReq,
    DeniedResp,
    /// Connections refused by a `tcp-request connection` rule (`dcon`) or a content rule (`dses`).
    DeniedConn,
    DeniedSess,
    /// Malformed requests (`ereq`), failed server connections (`econ`), failed or aborted
    /// responses (`eresp`).
    ErrReq,
    ErrConn,
    ErrResp,
    /// Connection attempts retried (`wretr`), sessions sent to another server (`wredis`).
    Retries,
    Redispatches,
    /// HTTP responses by class (`hrsp_1xx` .. `hrsp_5xx`, `hrsp_other`); every request gets
    /// one, so their sum is the request count (`req_tot`).
    Http1xx,
    Http2xx,
    Http3xx,
    Http4xx,
    Http5xx,
    HttpOther,
    /// Transfers aborted by the client (`cli_abrt`) or the server (`srv_abrt`).
    ClientAborts,
    ServerAborts,
    /// Idle server connections reused for a request (`reuse`), connections opened (`connect`).
    Reused,
    Connects,
    /// Failed health checks (`chkfail`), transitions to down (`chkdown`).
    CheckFailures,
    CheckDowns,
    /// Times errors seen in traffic reached `error-limit` (`hanafail`).
    HanaFailures,
    /// Requests the proxy answered itself: statistics page, metrics (`intercepted`).
    Intercepted,
    /// Bytes of HTTP/1 bodies moved with `splice(2)`, from this side's peer and to it (HAProxy's
    /// h1 module counters `h1_spliced_bytes_in`/`_out`): a frontend's from and to its clients,
    /// a backend's from and to its servers.
    SplicedIn,
    SplicedOut,
}

/// How many fields there are.
pub const FIELDS: usize = Field::SplicedOut as usize + 1;

impl Field {
    /// The response class field of an HTTP status.
    pub fn of_status(status: u16) -> Field {
        match status {
            100..=199 => Field::Http1xx,
            200..=299 => Field::Http2xx,
            300..=399 => Field::Http3xx,
            400..=499 => Field::Http4xx,
            500..=599 => Field::Http5xx,
            _ => Field::HttpOther,
        }
    }
}

/// One thread's block, on cache lines of its own.
#[repr(align(64))]
#[derive(Debug)]
struct Block([AtomicU64; FIELDS]);

impl Default for Block {
    fn default() -> Self {
        Block(std::array::from_fn(|_| AtomicU64::new(0)))
    }
}

/// The counters of one object.
#[derive(Debug)]
pub struct Counters {
    /// One block per worker thread, then the shared block; shared by every handle.
    blocks: std::sync::Arc<[Block]>,
}

impl Default for Counters {
    fn default() -> Self {
        Counters::new(1)
    }
}

impl Counters {
    /// Counters for `threads` worker threads.
    pub fn new(threads: usize) -> Counters {
        Counters {
            blocks: (0..=threads.max(1)).map(|_| Block::default()).collect(),
        }
    }

    /// Another handle on the same counters: what a connection keeps to add its bytes to,
    /// without holding the object they belong to.
    pub fn handle(&self) -> Counters {
        Counters {
            blocks: self.blocks.clone(),
        }
    }

    /// This thread's block, for several additions in a row.
    #[inline]
    pub fn local(&self) -> Local<'_> {
        let shared = self.blocks.len() - 1;
        match thread::worker() {
            Some(t) if t < shared => Local {
                block: &self.blocks[t],
                owned: true,
            },
            _ => Local {
                block: &self.blocks[shared],
                owned: false,
            },
        }
    }

    /// Adds `n` to `field`.
    #[inline]
    pub fn add(&self, field: Field, n: u64) {
        self.local().add(field, n);
    }

    /// Adds one to `field`.
    #[inline]
    pub fn inc(&self, field: Field) {
        self.add(field, 1);
    }

    /// The sum of the HTTP response classes: the requests answered (`req_tot`).
    pub fn requests(&self) -> u64 {
        [
            Field::Http1xx,
            Field::Http2xx,
            Field::Http3xx,
            Field::Http4xx,
            Field::Http5xx,
            Field::HttpOther,
        ]
        .iter()
        .map(|&f| self.get(f))
        .sum()
    }

    /// The sum over every thread.
    pub fn get(&self, field: Field) -> u64 {
        self.blocks
            .iter()
            .fold(0u64, |a, b| a.wrapping_add(b.0[field as usize].load(Ordering::Relaxed)))
    }

    /// Sets every field back to zero (`clear counters all`). A thread adding at the same time
    /// may keep its increment or lose it, as in HAProxy.
    pub fn clear(&self) {
        for b in self.blocks.iter() {
            for c in &b.0 {
                c.store(0, Ordering::Relaxed);
            }
        }
    }
}

/// One thread's block of an object's counters.
pub struct Local<'a> {
    block: &'a Block,
    /// Only this thread writes the block.
    owned: bool,
}

impl Local<'_> {
    #[inline]
    pub fn add(&self, field: Field, n: u64) {
        let c = &self.block.0[field as usize];
        if self.owned {
            // No other thread writes here: no locked instruction needed.
            c.store(c.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
        } else {
            c.fetch_add(n, Ordering::Relaxed);
        }
    }

    #[inline]
    pub fn inc(&self, field: Field) {
        self.add(field, 1);
    }
}

/// A current count with the highest value it reached (`scur`/`smax`, `qcur`/`qmax`): one
/// shared atomic, as the limits it serves must be exact.
#[derive(Debug, Default)]
pub struct Gauge {
    cur: std::sync::atomic::AtomicU32,
    max: std::sync::atomic::AtomicU32,
}

impl Gauge {
    /// One more; returns the new value.
    #[inline]
    pub fn up(&self) -> u32 {
        let n = self.cur.fetch_add(1, Ordering::Relaxed) + 1;
        self.note(n);
        n
    }

    #[inline]
    pub fn down(&self) {
        self.cur.fetch_sub(1, Ordering::Relaxed);
    }

    /// Records `n` as a value reached (for counts kept elsewhere).
    #[inline]
    pub fn note(&self, n: u32) {
        // Reading first keeps the line shared between threads until a new maximum.
        if n > self.max.load(Ordering::Relaxed) {
            self.max.fetch_max(n, Ordering::Relaxed);
        }
    }

    pub fn cur(&self) -> u32 {
        self.cur.load(Ordering::Relaxed)
    }

    pub fn max(&self) -> u32 {
        self.max.load(Ordering::Relaxed)
    }

    /// The maximum back to the current value (`clear counters`).
    pub fn clear_max(&self) {
        self.max.store(self.cur(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_thread_counts_in_its_own_block_and_reads_sum_them() {
        let c = std::sync::Arc::new(Counters::new(2));
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let c = c.clone();
                std::thread::spawn(move || {
                    // Threads 0 and 1 are workers; 2 and 3 are not and share a block.
                    if t < 2 {
                        thread::set_worker(t);
                    }
                    for _ in 0..10_000 {
                        c.inc(Field::Http2xx);
                    }
                    c.add(Field::BytesIn, 5);
                })
            })
            .collect();
        handles.into_iter().for_each(|h| h.join().unwrap());
        assert_eq!(c.get(Field::Http2xx), 40_000);
        c.inc(Field::Http5xx);
        assert_eq!(c.requests(), 40_001);
        assert_eq!(c.get(Field::BytesIn), 20);
        assert_eq!(c.get(Field::BytesOut), 0);
        c.clear();
        assert_eq!(c.requests(), 0);
    }

    #[test]
    fn a_worker_number_past_the_blocks_uses_the_shared_one() {
        let c = Counters::new(1);
        std::thread::scope(|s| {
            s.spawn(|| {
                thread::set_worker(7);
                c.inc(Field::Sessions);
            });
        });
        assert_eq!(c.get(Field::Sessions), 1);
    }

    #[test]
    fn statuses_fall_in_their_class() {
        assert_eq!(Field::of_status(101), Field::Http1xx);
        assert_eq!(Field::of_status(204), Field::Http2xx);
        assert_eq!(Field::of_status(399), Field::Http3xx);
        assert_eq!(Field::of_status(404), Field::Http4xx);
        assert_eq!(Field::of_status(503), Field::Http5xx);
        assert_eq!(Field::of_status(600), Field::HttpOther);
    }

    #[test]
    fn a_gauge_remembers_its_highest_value() {
        let g = Gauge::default();
        g.up();
        g.up();
        g.down();
        assert_eq!((g.cur(), g.max()), (1, 2));
        g.clear_max();
        assert_eq!(g.max(), 1);
    }
}
