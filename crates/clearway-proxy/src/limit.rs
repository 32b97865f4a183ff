//! A connection limit that can change while connections hold it (`maxconn` of the process
//! and of frontends, changed by `set maxconn`): a semaphore whose size may grow at once or
//! shrink as permits come back. Owns the counting; must not accept connections itself.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

#[derive(Debug)]
pub struct Limit {
    sem: Arc<Semaphore>,
    max: AtomicU32,
    /// Permits given out beyond a lowered limit: destroyed as they are taken back.
    debt: AtomicU32,
    /// Serialises changes of the limit (never taken on the data path).
    changing: std::sync::Mutex<()>,
}

impl Limit {
    pub fn new(max: u32) -> Limit {
        Limit {
            sem: Arc::new(Semaphore::new(max as usize)),
            max: AtomicU32::new(max),
            debt: AtomicU32::new(0),
            changing: std::sync::Mutex::new(()),
        }
    }

    /// The limit now.
    pub fn max(&self) -> u32 {
        self.max.load(Ordering::Relaxed)
    }

    /// Permits held now.
    pub fn in_use(&self) -> u32 {
        (self.max() + self.debt.load(Ordering::Relaxed)).saturating_sub(self.sem.available_permits() as u32)
    }

    /// Waits for a permit within the limit; None once the limit is closed.
    pub async fn acquire(&self) -> Option<OwnedSemaphorePermit> {
        loop {
            let p = self.sem.clone().acquire_owned().await.ok()?;
            // After the limit was lowered below what was in use, a permit given back pays
            // the difference instead of letting one more connection in.
            if self.debt.load(Ordering::Relaxed) == 0
                || self
                    .debt
                    .fetch_update(Ordering::AcqRel, Ordering::Acquire, |d| d.checked_sub(1))
                    .is_err()
            {
                return Some(p);
            }
            p.forget();
        }
    }

    /// Changes the limit: a higher one lets waiting clients in at once; a lower one lets no
    /// new one in until fewer than it are in use.
    pub fn set(&self, new: u32) {
        let _one = self.changing.lock().unwrap_or_else(|e| e.into_inner());
        let old = self.max.swap(new, Ordering::AcqRel);
        if new >= old {
            let mut more = new - old;
            let debt = self.debt.load(Ordering::Acquire);
            let paid = debt.min(more);
            self.debt.fetch_sub(paid, Ordering::AcqRel);
            more -= paid;
            self.sem.add_permits(more as usize);
        } else {
            let less = old - new;
            let gone = self.sem.forget_permits(less as usize) as u32;
            self.debt.fetch_add(less - gone, Ordering::AcqRel);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lowered_below_what_is_in_use_then_raised() {
        let l = Limit::new(3);
        let a = l.acquire().await.expect("1");
        let b = l.acquire().await.expect("2");
        let c = l.acquire().await.expect("3");
        assert_eq!(l.in_use(), 3);
        l.set(1);
        assert_eq!((l.max(), l.in_use()), (1, 3));
        drop(a);
        drop(b);
        // Two given back paid the debt: still one in use, the limit, so none is free.
        assert_eq!(l.in_use(), 1);
        assert!(tokio::time::timeout(std::time::Duration::from_millis(20), l.acquire())
            .await
            .is_err());
        l.set(2);
        let d = l.acquire().await.expect("room again");
        assert_eq!(l.in_use(), 2);
        drop((c, d));
        assert_eq!(l.in_use(), 0);
        // Lowered with permits free: they go at once.
        l.set(0);
        assert!(tokio::time::timeout(std::time::Duration::from_millis(20), l.acquire())
            .await
            .is_err());
        l.set(5);
        assert_eq!((l.max(), l.in_use()), (5, 0));
    }
}
