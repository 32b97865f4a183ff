//! Weighted round-robin with smooth interleaving (`roundrobin`, `static-rr`): each server gets
//! picks in proportion to its weight, spread out rather than in bursts.

use super::{Algorithm, Choice, Key};
use crate::server::Servers;
use std::sync::Mutex;

#[derive(Debug)]
pub struct SmoothWeighted {
    /// Current weight per server; one lock per backend, held for a few arithmetic steps.
    current: Mutex<Vec<i64>>,
}

impl SmoothWeighted {
    pub fn new(n: usize) -> Self {
        SmoothWeighted {
            current: Mutex::new(vec![0; n]),
        }
    }
}

impl Algorithm for SmoothWeighted {
    fn choose(&self, servers: &Servers, eligible: &[usize], _key: Key) -> Choice {
        if eligible.is_empty() {
            return Choice::NoServer;
        }
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if current.len() < servers.len() {
            // Servers added at run time start level with a server that was never picked.
            current.resize(servers.len(), 0);
        }
        let mut total = 0i64;
        let mut best: Option<usize> = None;
        for &i in eligible.iter().filter(|&&i| servers[i].has_slot()) {
            let w = i64::from(servers[i].weight());
            current[i] += w;
            total += w;
            if best.is_none_or(|b| current[i] > current[b]) {
                best = Some(i);
            }
        }
        match best {
            Some(b) => {
                current[b] -= total;
                Choice::Server(b)
            }
            None => Choice::Wait(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balance::testutil::servers;

    fn run(weights: &[u32], n: usize) -> Vec<usize> {
        let s = servers(weights, 0);
        let algo = SmoothWeighted::new(s.len());
        let all: Vec<usize> = (0..s.len()).collect();
        (0..n)
            .map(|_| match algo.choose(&s, &all, [0, 0, 0, 0].into()) {
                Choice::Server(i) => i,
                c => panic!("{c:?}"),
            })
            .collect()
    }

    #[test]
    fn equal_weights_cycle_in_order() {
        assert_eq!(run(&[1, 1, 1], 6), vec![0, 1, 2, 0, 1, 2]);
    }

    #[test]
    fn weights_are_proportional_and_interleaved() {
        let picks = run(&[1, 2], 6);
        assert_eq!(picks, vec![1, 0, 1, 1, 0, 1]);
        let picks = run(&[5, 1, 1], 70);
        assert_eq!(picks.iter().filter(|&&i| i == 0).count(), 50);
    }

    #[test]
    fn a_server_added_later_takes_its_turns() {
        let s = servers(&[1, 1], 0);
        let algo = SmoothWeighted::new(s.len());
        let pick = |eligible: &[usize]| match algo.choose(&s, eligible, [0, 0, 0, 0].into()) {
            Choice::Server(i) => i,
            c => panic!("{c:?}"),
        };
        assert_eq!(pick(&[0, 1]), 0);
        s.push(crate::balance::testutil::servers_vec(&[1], 0).remove(0));
        let picks: Vec<usize> = (0..6).map(|_| pick(&[0, 1, 2])).collect();
        assert_eq!(picks.iter().filter(|&&i| i == 2).count(), 2, "{picks:?}");
    }

    #[test]
    fn full_servers_are_skipped() {
        let s = servers(&[1, 1], 1);
        assert!(s[0].try_take_slot());
        let algo = SmoothWeighted::new(2);
        assert_eq!(algo.choose(&s, &[0, 1], [0, 0, 0, 0].into()), Choice::Server(1));
        assert!(s[1].try_take_slot());
        assert_eq!(algo.choose(&s, &[0, 1], [0, 0, 0, 0].into()), Choice::Wait(None));
    }
}
