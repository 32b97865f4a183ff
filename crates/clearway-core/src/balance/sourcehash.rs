//! `source` (and `uri`, `url_param`, `hdr`): a hash of the client's IP address (or of a part
//! of the request) over the eligible servers' weights, so one client keeps reaching the same
//! server while the set of servers does not change (`hash-type map-based`), or while its own
//! server stays (`consistent`).

use super::{Algorithm, Choice, Key};
use crate::server::ServerRt;
use std::net::IpAddr;

#[derive(Debug)]
pub struct SourceHash;

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
    fn choose(&self, servers: &[ServerRt], eligible: &[usize], key: Key) -> Choice {
        let total: u64 = eligible.iter().map(|&i| u64::from(servers[i].weight())).sum();
        if total == 0 {
            return Choice::NoServer;
        }
        let Some(h) = key.hash() else {
            return Choice::NoServer;
        };
        let mut point = h % total;
        for &i in eligible {
            let w = u64::from(servers[i].weight());
            if point < w {
                // The client sticks to its server: when it is full, wait rather than move.
                return if servers[i].has_slot() {
                    Choice::Server(i)
                } else {
                    Choice::Wait(Some(i))
                };
            }
            point -= w;
        }
        Choice::NoServer
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
    fn choose(&self, servers: &[ServerRt], eligible: &[usize], key: Key) -> Choice {
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
    fn same_client_same_server_and_spread() {
        let s = servers(&[1, 1, 1], 0);
        let all = [0, 1, 2];
        let mut seen = [0; 3];
        for last in 0..=255u8 {
            let ip: IpAddr = [192, 0, 2, last].into();
            let Choice::Server(a) = SourceHash.choose(&s, &all, Key::Addr(ip)) else {
                panic!()
            };
            let Choice::Server(b) = SourceHash.choose(&s, &all, Key::Addr(ip)) else {
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
                SourceHash.choose(&s, &[0, 1, 2, 3], Key::Addr(ip)) != SourceHash.choose(&s, &[0, 2, 3], Key::Addr(ip))
            })
            .count();
        assert!(moved > 800, "{moved}");
    }
}
