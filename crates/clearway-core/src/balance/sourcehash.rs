//! `source`: a hash of the client's IP address over the eligible servers' weights, so one
//! client keeps reaching the same server while the set of servers does not change.

use super::{Algorithm, Choice};
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

impl Algorithm for SourceHash {
    fn choose(&self, servers: &[ServerRt], eligible: &[usize], client: IpAddr) -> Choice {
        let total: u64 = eligible.iter().map(|&i| u64::from(servers[i].weight())).sum();
        if total == 0 {
            return Choice::NoServer;
        }
        let mut point = hash_ip(client) % total;
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
            let Choice::Server(a) = SourceHash.choose(&s, &all, ip) else {
                panic!()
            };
            let Choice::Server(b) = SourceHash.choose(&s, &all, ip) else {
                panic!()
            };
            assert_eq!(a, b);
            seen[a] += 1;
        }
        assert!(seen.iter().all(|&c| c > 40), "{seen:?}");
    }
}
