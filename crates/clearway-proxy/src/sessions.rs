//! The sessions in progress of a frontend, for `show sess`: one table per worker thread, so
//! a session's start and end lock nothing another thread uses. Kept only when a stats socket
//! exists (nothing else can read it); sessions of other frontends pay nothing. Owns the
//! tables; must not end or change sessions.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// One session, as `show sess` reports it.
#[derive(Debug, Clone)]
pub struct Entry {
    pub id: u64,
    pub client: SocketAddr,
    pub started: Instant,
    /// Its server, once chosen (`mode tcp`; an HTTP session chooses per request).
    pub server: Option<clearway_core::ServerId>,
}

#[derive(Debug)]
pub struct Sessions {
    shards: Vec<Mutex<foldhash::HashMap<u64, Entry>>>,
}

/// Session numbers, process-wide.
static NEXT: AtomicU64 = AtomicU64::new(1);

impl Sessions {
    pub fn new(threads: usize) -> Sessions {
        Sessions {
            shards: (0..threads.max(1)).map(|_| Mutex::new(Default::default())).collect(),
        }
    }

    fn shard(&self, i: usize) -> std::sync::MutexGuard<'_, foldhash::HashMap<u64, Entry>> {
        self.shards[i % self.shards.len()]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Records a session starting on this thread; it is forgotten when the returned guard drops.
    pub fn start(this: &Arc<Self>, client: SocketAddr) -> Registered {
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        let shard = clearway_core::thread::number();
        this.shard(shard).insert(
            id,
            Entry {
                id,
                client,
                started: Instant::now(),
                server: None,
            },
        );
        Registered {
            sessions: this.clone(),
            shard,
            id,
        }
    }

    /// Every session in progress, oldest first.
    pub fn all(&self) -> Vec<Entry> {
        let mut v: Vec<Entry> = (0..self.shards.len())
            .flat_map(|i| self.shard(i).values().cloned().collect::<Vec<_>>())
            .collect();
        v.sort_by_key(|e| e.id);
        v
    }
}

/// A session's place in its frontend's table.
#[derive(Debug)]
pub struct Registered {
    sessions: Arc<Sessions>,
    shard: usize,
    id: u64,
}

impl Registered {
    /// The server the session was sent to.
    pub fn served_by(&self, server: clearway_core::ServerId) {
        if let Some(e) = self.sessions.shard(self.shard).get_mut(&self.id) {
            e.server = Some(server);
        }
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.sessions.shard(self.shard).remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_is_listed_until_its_guard_drops() {
        let s = Arc::new(Sessions::new(2));
        let a = Sessions::start(&s, "192.0.2.7:1000".parse().expect("addr"));
        let b = Sessions::start(&s, "192.0.2.8:1000".parse().expect("addr"));
        let all = s.all();
        assert_eq!(all.len(), 2);
        assert!(all[0].id < all[1].id, "oldest first");
        drop(a);
        assert_eq!(s.all().len(), 1);
        assert_eq!(s.all()[0].client.port(), 1000);
        drop(b);
        assert!(s.all().is_empty());
    }
}
