//! A listening socket's own statistics (`option socket-stats`): its name and number as
//! HAProxy shows them, the connections it accepted and holds, and its share of the
//! frontend's counters (bytes, denials, bad requests). Owns these figures; must not accept.

use crate::counters::{Counters, Gauge};
use std::sync::Arc;

#[derive(Debug)]
pub struct ListenerRt {
    /// The bind line's `name`, else `sock-N` (HAProxy's).
    pub name: String,
    /// Its number in its frontend (`sid`): the bind line's `id`, else the next free one.
    pub id: u32,
    /// The address it listens on, as the statistics show it.
    pub addr: String,
    /// The bind line's `maxconn`.
    pub limit: Option<u32>,
    pub counters: Counters,
    /// Connections accepted on it and not yet closed (`scur`, `smax`).
    pub conns: Gauge,
}

impl ListenerRt {
    pub fn new(name: String, id: u32, addr: String, limit: Option<u32>, threads: usize) -> ListenerRt {
        ListenerRt {
            name,
            id,
            addr,
            limit,
            counters: Counters::new(threads),
            conns: Gauge::default(),
        }
    }

    /// Whether it holds as many connections as its `maxconn` allows (HAProxy's `FULL`).
    pub fn full(&self) -> bool {
        self.limit.is_some_and(|l| self.conns.cur() >= l)
    }
}

/// A connection accepted on a listener, counted in its `conns` until dropped.
#[derive(Debug)]
pub struct ListenerConn(Arc<ListenerRt>);

impl ListenerConn {
    pub fn new(l: Arc<ListenerRt>) -> ListenerConn {
        l.conns.up();
        ListenerConn(l)
    }
}

impl Drop for ListenerConn {
    fn drop(&mut self) {
        self.0.conns.down();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_counts_until_dropped_and_fills_a_limited_listener() {
        let l = Arc::new(ListenerRt::new("sock-1".into(), 1, "127.0.0.1:80".into(), Some(2), 1));
        let a = ListenerConn::new(l.clone());
        assert!(!l.full());
        let b = ListenerConn::new(l.clone());
        assert!(l.full());
        drop(a);
        drop(b);
        assert_eq!(l.conns.cur(), 0);
        assert_eq!(l.conns.max(), 2);
        assert!(!l.full());
    }
}
