//! `random[(draws)]`: servers drawn at random in proportion to their weights, `draws` times
//! (2 by default: the "power of two random choices"), the least loaded of them relative to its
//! weight taken. Weights changed at run time count at once.

use super::{Algorithm, Choice, Key};
use crate::server::Servers;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug)]
pub struct Random {
    draws: u32,
    /// The generator's state (SplitMix64: statistically good, not for secrets; nothing here is).
    state: AtomicU64,
}

impl Random {
    pub fn new(draws: u32) -> Random {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0x9e37_79b9, |d| d.as_nanos() as u64);
        Random::seeded(draws, seed)
    }

    fn seeded(draws: u32, seed: u64) -> Random {
        Random {
            draws: draws.max(1),
            state: AtomicU64::new(seed),
        }
    }

    fn next(&self) -> u64 {
        let mut z = self
            .state
            .fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed)
            .wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

impl Algorithm for Random {
    fn choose(&self, servers: &Servers, eligible: &[usize], _key: Key) -> Choice {
        if eligible.is_empty() {
            return Choice::NoServer;
        }
        // Draw among the servers with a free slot; when all are full, wait for any.
        let total: u64 = eligible
            .iter()
            .filter(|&&i| servers[i].has_slot())
            .map(|&i| u64::from(servers[i].weight()))
            .sum();
        if total == 0 {
            return Choice::Wait(None);
        }
        let mut best: Option<usize> = None;
        for _ in 0..self.draws {
            let mut point = self.next() % total;
            let Some(i) = eligible.iter().copied().find(|&i| {
                let w = if servers[i].has_slot() {
                    u64::from(servers[i].weight())
                } else {
                    0
                };
                if point < w {
                    return true;
                }
                point -= w;
                false
            }) else {
                break;
            };
            best = Some(super::less_loaded(servers, best, i));
        }
        best.map_or(Choice::Wait(None), Choice::Server)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balance::testutil::servers;

    fn pick(r: &Random, s: &Servers, eligible: &[usize]) -> usize {
        match r.choose(s, eligible, [127, 0, 0, 1].into()) {
            Choice::Server(i) => i,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn weights_are_followed_and_a_loaded_server_is_avoided() {
        let s = servers(&[1, 3, 0], 0);
        let r = Random::seeded(1, 7);
        let mut n = [0u32; 3];
        for _ in 0..4000 {
            n[pick(&r, &s, &[0, 1, 2])] += 1;
        }
        // One draw: about 1000 / 3000 / 0.
        assert_eq!(n[2], 0, "{n:?}");
        assert!((800..1200).contains(&n[0]) && (2800..3200).contains(&n[1]), "{n:?}");
        // Two draws: a server with connections loses to an idle one whenever both are drawn.
        let s = servers(&[1, 1], 0);
        for _ in 0..5 {
            assert!(s[0].try_take_slot());
        }
        let (one, two) = (Random::seeded(1, 9), Random::seeded(2, 9));
        let count = |r: &Random| (0..2000).filter(|_| pick(r, &s, &[0, 1]) == 0).count();
        let (a, b) = (count(&one), count(&two));
        assert!((850..1150).contains(&a), "one draw: {a}");
        assert!((350..650).contains(&b), "two draws: {b}");
        // Nothing eligible, or everything full.
        assert_eq!(two.choose(&s, &[], [127, 0, 0, 1].into()), Choice::NoServer);
        let full = servers(&[1], 1);
        assert!(full[0].try_take_slot());
        assert_eq!(two.choose(&full, &[0], [127, 0, 0, 1].into()), Choice::Wait(None));
    }
}
