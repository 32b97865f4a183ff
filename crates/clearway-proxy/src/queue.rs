//! The backend queue: sessions waiting for a server connection slot, served in arrival order.
//! A released slot is handed directly to the oldest waiter that can use that server, as HAProxy
//! does, so newcomers cannot overtake queued sessions. Owns slot accounting around waiting;
//! must not choose servers by itself (the balancer does) or connect.

use clearway_core::balance::Key;
use clearway_core::{BackendRt, Choice};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::time::Instant;

/// Which slot a session waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// Any eligible server, avoiding this one when another exists (redispatch).
    Any { avoid: Option<usize> },
    /// This server only (a retry, or `balance source`).
    Server(usize),
}

#[derive(Debug)]
struct Waiter {
    id: u64,
    want: Want,
    tx: oneshot::Sender<usize>,
}

/// Why no slot was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoSlot {
    NoServer,
    Timeout,
    /// The server this session must have (its index) already has `maxqueue` sessions
    /// waiting for it.
    Full(usize),
}

#[derive(Debug, Default)]
pub struct Queue {
    waiters: Mutex<VecDeque<Waiter>>,
    /// Waiters in the deque plus sessions about to enqueue; lets `release` skip the lock when 0.
    len: AtomicU32,
    /// The longest the line has been (`qmax`).
    max: AtomicU32,
    next_id: AtomicU64,
}

impl Queue {
    /// Sessions currently waiting.
    pub fn len(&self) -> u32 {
        self.len.load(Ordering::SeqCst)
    }

    /// The longest the line has been since start (or `clear counters`).
    pub fn max_len(&self) -> u32 {
        self.max.load(Ordering::Relaxed)
    }

    pub fn clear_max(&self) {
        self.max.store(self.len(), Ordering::Relaxed);
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A slot now, without waiting and only when nobody waits; None otherwise (then `acquire`).
    pub fn try_acquire(&self, be: &BackendRt, key: Key, want: Want) -> Option<usize> {
        if be.follows_load() && !self.is_empty() {
            return None;
        }
        be.enter();
        let got = self.try_take(be, key, want).ok();
        if got.is_none() {
            be.leave();
        }
        got
    }

    /// Takes a slot now, or waits in line up to `limit` (None: no limit). Returns the server
    /// index; its slot is held and must be given back with `release`.
    pub async fn acquire(
        &self,
        be: &BackendRt,
        key: Key,
        want: Want,
        limit: Option<Duration>,
    ) -> Result<usize, NoSlot> {
        let deadline = limit.map(|l| Instant::now() + l);
        be.enter();
        let mut pending = Pending {
            queue: self,
            be,
            rx: None,
            holds: false,
        };
        // Waiters go first when server limits follow the load: a limit raised by newcomers
        // serves the line, not them (HAProxy's order too).
        let served_first = |n: usize| be.follows_load() && n > 0;
        // Fast path, no lock: a free slot and nobody waiting for it.
        let want = if served_first(self.len() as usize) {
            want
        } else {
            match self.try_take(be, key, want) {
                Ok(i) => return Ok(pending.holds(i)),
                Err(None) => return Err(NoSlot::NoServer),
                Err(Some(w)) => w,
            }
        };
        // Announce ourselves before the locked retry, so a concurrent `release` that frees a slot
        // either sees us or leaves the slot free for the retry.
        let n = self.len.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(n, Ordering::Relaxed);
        let id = {
            let mut q = self.waiters.lock().unwrap_or_else(|p| p.into_inner());
            let want = if served_first(q.len()) {
                want
            } else {
                match self.try_take(be, key, want) {
                    Ok(i) => {
                        self.len.fetch_sub(1, Ordering::SeqCst);
                        return Ok(pending.holds(i));
                    }
                    Err(None) => {
                        self.len.fetch_sub(1, Ordering::SeqCst);
                        return Err(NoSlot::NoServer);
                    }
                    Err(Some(w)) => w,
                }
            };
            if let Want::Server(i) = want {
                let max = be.servers[i].maxqueue;
                if max > 0 && q.iter().filter(|w| w.want == want).count() >= max as usize {
                    self.len.fetch_sub(1, Ordering::SeqCst);
                    return Err(NoSlot::Full(i));
                }
            }
            let (tx, rx) = oneshot::channel();
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            q.push_back(Waiter { id, want, tx });
            pending.rx = Some(rx);
            id
        };
        let rx = pending.rx.as_mut().expect("just set");
        let got = match deadline {
            Some(d) => tokio::time::timeout_at(d, &mut *rx).await.ok(),
            None => Some((&mut *rx).await),
        };
        match got {
            Some(Ok(i)) => return Ok(pending.holds(i)),
            // The queue was emptied because no server is left: fail now, not at the timeout.
            Some(Err(_)) => return Err(NoSlot::NoServer),
            None => {}
        }
        // Timed out: leave the line, unless a slot was handed over at the last moment.
        {
            let mut q = self.waiters.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(pos) = q.iter().position(|w| w.id == id) {
                q.remove(pos);
                self.len.fetch_sub(1, Ordering::SeqCst);
            }
        }
        rx.close();
        match rx.try_recv() {
            Ok(i) => Ok(pending.holds(i)),
            Err(_) => Err(NoSlot::Timeout),
        }
    }

    /// Ok(server) with its slot taken; Err(Some(want)) to wait for `want`; Err(None): no server.
    fn try_take(&self, be: &BackendRt, key: Key, want: Want) -> Result<usize, Option<Want>> {
        match want {
            Want::Server(i) => {
                if be.take_slot_on(i) {
                    Ok(i)
                } else {
                    Err(Some(want))
                }
            }
            Want::Any { avoid } => match be.take_server(key, avoid) {
                Choice::Server(i) => Ok(i),
                Choice::Wait(Some(i)) => Err(Some(Want::Server(i))),
                Choice::Wait(None) => Err(Some(want)),
                Choice::NoServer => Err(None),
            },
        }
    }

    /// Gives back a slot of server `i`: hands it to the oldest waiter that can use it.
    pub fn release(&self, be: &BackendRt, i: usize) {
        be.release(i);
        self.offer(be, i);
    }

    /// Hands free slots of server `i` to waiters that can use it, oldest first, for as long as
    /// the server has room (after a release, or when a server comes up).
    pub fn offer(&self, be: &BackendRt, i: usize) {
        if self.len.load(Ordering::SeqCst) == 0 {
            return;
        }
        let mut q = self.waiters.lock().unwrap_or_else(|p| p.into_inner());
        let mut pos = 0;
        while pos < q.len() {
            let fits = match q[pos].want {
                Want::Server(s) => s == i,
                Want::Any { avoid } => be.with_eligible(avoid, |l| l.contains(&i)),
            };
            if !fits {
                pos += 1;
                continue;
            }
            if !be.take_slot_on(i) {
                // No room (left) on this server; its next release comes back here.
                return;
            }
            let Some(w) = q.remove(pos) else { return };
            self.len.fetch_sub(1, Ordering::SeqCst);
            if w.tx.send(i).is_err() {
                // That waiter gave up (and left): the slot goes back, try the next one.
                be.give_back(i);
            }
        }
    }

    /// Whether a session waits for server `i` in particular (`del server` then refuses).
    pub fn waits_for(&self, i: usize) -> bool {
        let q = self.waiters.lock().unwrap_or_else(|p| p.into_inner());
        q.iter().any(|w| w.want == Want::Server(i))
    }

    /// Fails every waiter at once (no server is left to serve them).
    pub fn fail_all(&self) {
        let mut q = self.waiters.lock().unwrap_or_else(|p| p.into_inner());
        let n = q.len() as u32;
        q.clear();
        self.len.fetch_sub(n, Ordering::SeqCst);
    }
}

/// A session counted in its backend's load (`BackendRt::enter`) while it looks for a slot.
/// Dropped without a slot (it gave up, or its future was dropped while it waited) it leaves
/// the load, giving back a slot handed to it meanwhile.
struct Pending<'a> {
    queue: &'a Queue,
    be: &'a BackendRt,
    rx: Option<oneshot::Receiver<usize>>,
    holds: bool,
}

impl Pending<'_> {
    /// It got the slot of server `i`: from now on, `release` ends its part in the load.
    fn holds(&mut self, i: usize) -> usize {
        self.holds = true;
        i
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if self.holds {
            return;
        }
        if let Some(rx) = &mut self.rx {
            rx.close();
            if let Ok(i) = rx.try_recv() {
                // Handed over as it went: back to the line, then the session leaves.
                self.queue.release(self.be, i);
                return;
            }
        }
        self.be.leave();
    }
}

#[cfg(test)]
mod tests;
