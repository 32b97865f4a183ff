//! `leastconn`: the server with the fewest active connections relative to its weight;
//! ties rotate so equal servers share new connections.

use super::{Algorithm, Choice, Key};
use crate::server::Servers;
use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Debug, Default)]
pub struct LeastConn {
    rotor: AtomicUsize,
}

impl Algorithm for LeastConn {
    fn choose(&self, servers: &Servers, eligible: &[usize], _key: Key) -> Choice {
        if eligible.is_empty() {
            return Choice::NoServer;
        }
        let start = self.rotor.fetch_add(1, Ordering::Relaxed);
        let n = eligible.len();
        let mut best: Option<usize> = None;
        for k in 0..n {
            let i = eligible[(start + k) % n];
            let s = &servers[i];
            if !s.has_slot() {
                continue;
            }
            best = Some(super::less_loaded(servers, best, i));
        }
        best.map_or(Choice::Wait(None), Choice::Server)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balance::testutil::servers;

    #[test]
    fn picks_least_loaded_relative_to_weight() {
        let s = servers(&[1, 1, 2], 0);
        let algo = LeastConn::default();
        let ip = Key::Addr([0, 0, 0, 0].into());
        let mut counts = [0; 3];
        for _ in 0..8 {
            let Choice::Server(i) = algo.choose(&s, &[0, 1, 2], ip) else {
                panic!()
            };
            assert!(s[i].try_take_slot());
            counts[i] += 1;
        }
        assert_eq!(counts, [2, 2, 4]);
        s[0].release_slot();
        s[0].release_slot();
        assert_eq!(algo.choose(&s, &[0, 1, 2], ip), Choice::Server(0));
    }
}
