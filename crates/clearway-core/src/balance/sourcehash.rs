//! `source` (and `uri`, `url_param`, `hdr`): a hash of the client's IP address (or of a part
//! of the request) over the eligible servers' weights, so one client keeps reaching the same
//! server while the set of servers does not change (`hash-type map-based`, HAProxy's map and
//! hash, so the same server as HAProxy's), or while its own server stays (`consistent`,
//! Clearway's own rendezvous hashing).

use super::{Algorithm, Choice, Key};
use crate::server::Servers;
use std::net::IpAddr;

/// `hash-type map-based` (the default), as HAProxy maps: the hash modulo the eligible
/// servers' total effective weight picks a slot of HAProxy's server map, in which each server
/// holds as many slots as its effective weight (its weight × 16 over the weights' greatest
/// common divisor), in HAProxy's smooth weighted order. So a client or a URI reaches the
/// server HAProxy would send it to. The map is made again when the servers or weights change.
#[derive(Debug, Default)]
pub struct SourceHash {
    map: std::sync::Mutex<Option<Map>>,
}

/// A server map and what it was made from.
#[derive(Debug)]
struct Map {
    /// The eligible servers and their weights.
    from: Vec<(usize, u32)>,
    /// Per slot, the server's index.
    slots: Vec<usize>,
    /// The slot round robin goes on from, for requests without a hash key.
    next: usize,
}

impl Map {
    fn made_from(&self, servers: &Servers, eligible: &[usize]) -> bool {
        self.from.len() == eligible.len()
            && self
                .from
                .iter()
                .zip(eligible)
                .all(|(&(i, w), &e)| i == e && w == servers[e].weight())
    }

    /// HAProxy's `recalc_server_map`: slot after slot, each server gains its effective
    /// weight, the first with the highest score (in `tot`ths, rounded as HAProxy does) takes
    /// the slot and pays `tot`.
    fn new(servers: &Servers, eligible: &[usize]) -> Map {
        let from: Vec<(usize, u32)> = eligible.iter().map(|&i| (i, servers[i].weight())).collect();
        let gcd = |mut a: u64, mut b: u64| {
            while b != 0 {
                (a, b) = (b, a % b);
            }
            a
        };
        let pgcd = from
            .iter()
            .map(|&(_, w)| u64::from(w))
            .filter(|&w| w > 0)
            .fold(0, gcd)
            .max(1);
        let eweight: Vec<i64> = from
            .iter()
            .map(|&(_, w)| ((u64::from(w) * 16).div_ceil(pgcd)) as i64)
            .collect();
        let tot: i64 = eweight.iter().sum();
        let mut score = vec![0i64; from.len()];
        let mut slots = Vec::with_capacity(tot as usize);
        for _ in 0..tot {
            let mut best: Option<(usize, i64)> = None;
            for (k, &w) in eweight.iter().enumerate() {
                if w == 0 {
                    continue;
                }
                score[k] += w;
                let v = (score[k] + tot) / tot;
                if best.is_none_or(|(_, max)| v > max) {
                    best = Some((k, v));
                }
            }
            let Some((k, _)) = best else { break };
            score[k] -= tot;
            slots.push(from[k].0);
        }
        Map { from, slots, next: 0 }
    }
}

/// FNV-1a over the address bytes, then a final mix so nearby addresses spread out.
pub fn hash_ip(ip: IpAddr) -> u64 {
    let ip = ip.to_canonical();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |b: u8| {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    };
    match ip {
        IpAddr::V4(v4) => v4.octets().into_iter().for_each(&mut feed),
        IpAddr::V6(v6) => v6.octets().into_iter().for_each(&mut feed),
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^ (h >> 33)
}

/// A request part's hash, mixed so that near values spread out.
pub fn spread(h: u64) -> u64 {
    mix(h, 0)
}

impl Algorithm for SourceHash {
    fn choose(&self, servers: &Servers, eligible: &[usize], key: Key) -> Choice {
        let mut guard = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let map = match &mut *guard {
            Some(m) if m.made_from(servers, eligible) => m,
            other => other.insert(Map::new(servers, eligible)),
        };
        let n = map.slots.len();
        if n == 0 {
            return Choice::NoServer;
        }
        let Some(h) = key.map_hash() else {
            // A request without the part hashed: round robin over the map's slots, passing
            // full servers, as HAProxy does; all full: the backend's queue.
            for step in 0..n {
                let k = (map.next + step) % n;
                let i = map.slots[k];
                if servers[i].has_slot() {
                    map.next = k + 1;
                    return Choice::Server(i);
                }
            }
            return Choice::Wait(None);
        };
        let i = map.slots[(u64::from(h) % n as u64) as usize];
        // The client sticks to its server: when it is full, wait rather than move.
        if servers[i].has_slot() {
            Choice::Server(i)
        } else {
            Choice::Wait(Some(i))
        }
    }
}

/// The address's hash for `balance source` with a map, as HAProxy's: its 32-bit words
/// XORed (an IPv4 address is its own hash).
pub fn fold_ip(ip: IpAddr) -> u32 {
    match ip.to_canonical() {
        IpAddr::V4(v4) => u32::from(v4),
        IpAddr::V6(v6) => v6
            .octets()
            .chunks(4)
            .fold(0, |h, w| h ^ u32::from_be_bytes([w[0], w[1], w[2], w[3]])),
    }
}

/// `source` with `hash-type consistent`: weighted rendezvous hashing. Each server scores the
/// client by a hash of both, scaled by its weight; the best score wins. A server that goes
/// down or comes back only takes or gives its own clients; weight changes count at once. The
/// servers' names enter the hash, so load balancers with the same server names agree.
#[derive(Debug)]
pub struct Rendezvous;

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A final mix of two hashes (SplitMix64's).
fn mix(a: u64, b: u64) -> u64 {
    let mut z = a ^ b.rotate_left(32) ^ 0x9e37_79b9_7f4a_7c15;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Algorithm for Rendezvous {
    fn choose(&self, servers: &Servers, eligible: &[usize], key: Key) -> Choice {
        let Some(key) = key.hash() else {
            return Choice::NoServer;
        };
        let mut best: Option<(f64, usize)> = None;
        for &i in eligible {
            let w = servers[i].weight();
            if w == 0 {
                continue;
            }
            // u in (0, 1), from the 52 high bits: -ln(u) > 0.
            let u = ((mix(key, fnv(servers[i].name.as_bytes())) >> 12) as f64 + 0.5) / (1u64 << 52) as f64;
            let score = f64::from(w) / -u.ln();
            if best.is_none_or(|(s, _)| score > s) {
                best = Some((score, i));
            }
        }
        match best {
            None => Choice::NoServer,
            // The client sticks to its server: when it is full, wait rather than move.
            Some((_, i)) if servers[i].has_slot() => Choice::Server(i),
            Some((_, i)) => Choice::Wait(Some(i)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balance::testutil::servers;

    #[test]
    fn the_map_is_haproxys() {
        // Weights 1, 2, 3: effective weights 16, 32, 48, in HAProxy's order.
        let s = servers(&[1, 2, 3], 0);
        let m = Map::new(&s, &[0, 1, 2]);
        assert_eq!(m.slots.len(), 96);
        assert_eq!(m.slots[..12], [0, 2, 1, 2, 1, 2, 0, 2, 1, 2, 1, 2]);
        // Weights with a common divisor make the same map.
        let s = servers(&[10, 20, 30], 0);
        assert_eq!(Map::new(&s, &[0, 1, 2]).slots, m.slots);
        // An IPv4 address is its own hash; IPv6's words are XORed.
        assert_eq!(fold_ip([192, 0, 2, 1].into()), 0xc000_0201);
        assert_eq!(fold_ip("2001:db8::1".parse().unwrap()), 0x2001_0db8 ^ 1);
    }

    #[test]
    fn same_client_same_server_and_spread() {
        let s = servers(&[1, 1, 1], 0);
        let all = [0, 1, 2];
        let mut seen = [0; 3];
        for last in 0..=255u8 {
            let ip: IpAddr = [192, 0, 2, last].into();
            let Choice::Server(a) = SourceHash::default().choose(&s, &all, Key::Addr(ip)) else {
                panic!()
            };
            let Choice::Server(b) = SourceHash::default().choose(&s, &all, Key::Addr(ip)) else {
                panic!()
            };
            assert_eq!(a, b);
            seen[a] += 1;
        }
        assert!(seen.iter().all(|&c| c > 40), "{seen:?}");
    }

    #[test]
    fn consistent_moves_only_the_clients_of_a_server_that_goes() {
        let s = servers(&[1, 1, 1, 2], 0);
        let pick = |eligible: &[usize], ip: IpAddr| match Rendezvous.choose(&s, eligible, Key::Addr(ip)) {
            Choice::Server(i) => i,
            other => panic!("{other:?}"),
        };
        let ips: Vec<IpAddr> = (0..2000u32).map(|n| [10, 0, (n >> 8) as u8, n as u8].into()).collect();
        let before: Vec<usize> = ips.iter().map(|&ip| pick(&[0, 1, 2, 3], ip)).collect();
        // Spread by weight: about 400 / 400 / 400 / 800.
        let mut seen = [0; 4];
        before.iter().for_each(|&i| seen[i] += 1);
        assert!(
            seen[..3].iter().all(|&c| (300..500).contains(&c)) && (650..950).contains(&seen[3]),
            "{seen:?}"
        );
        // Server 1 goes: its clients spread over the others, nobody else moves.
        for (ip, &was) in ips.iter().zip(&before) {
            let now = pick(&[0, 2, 3], *ip);
            if was == 1 {
                assert_ne!(now, 1);
            } else {
                assert_eq!(now, was, "{ip}");
            }
        }
        // The map-based hash moves many more.
        let moved = ips
            .iter()
            .filter(|&&ip| {
                SourceHash::default().choose(&s, &[0, 1, 2, 3], Key::Addr(ip))
                    != SourceHash::default().choose(&s, &[0, 2, 3], Key::Addr(ip))
            })
            .count();
        assert!(moved > 800, "{moved}");
    }
}
