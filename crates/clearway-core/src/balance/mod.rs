//! Balance algorithms behind one trait. Each owns its own small state (no lock shared across
//! backends) and must only choose among the servers the backend says are eligible.

mod first;
mod leastconn;
mod random;
mod roundrobin;
mod sourcehash;

use crate::server::Servers;
use clearway_config::model::{Balance, HashType};
use std::net::IpAddr;

/// What the algorithm decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// Use this server (index in the backend); its slot is not taken yet.
    Server(usize),
    /// Eligible servers exist but are at `maxconn`: wait in the queue for a slot on any of
    /// them, or on the given one when the algorithm insists on it (`source`).
    Wait(Option<usize>),
    /// No eligible server at all.
    NoServer,
}

/// What a hash-based algorithm hashes for one session: the client's address (`source`), or
/// a hash of a part of the request (`uri`, `url_param`, `hdr`), None when the request has
/// no such part (then round robin decides, as in HAProxy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Addr(IpAddr),
    Request(Option<u64>),
}

impl Key {
    /// The value hashed: the address's hash, or the request part's, mixed.
    pub fn hash(self) -> Option<u64> {
        match self {
            Key::Addr(ip) => Some(sourcehash::hash_ip(ip)),
            Key::Request(h) => h.map(sourcehash::spread),
        }
    }

    /// The value a map-based hash takes, HAProxy's: the address's words XORed, or the
    /// request part's hash (`sdbm`) as it is.
    pub fn map_hash(self) -> Option<u32> {
        match self {
            Key::Addr(ip) => Some(sourcehash::fold_ip(ip)),
            Key::Request(h) => h.map(|h| h as u32),
        }
    }
}

/// For tests: an IPv4 address as a client's key.
#[cfg(test)]
impl From<[u8; 4]> for Key {
    fn from(a: [u8; 4]) -> Key {
        Key::Addr(a.into())
    }
}

/// A load-balancing algorithm. `eligible` lists indices of servers allowed to take traffic now,
/// in configuration order; `key` is what hash-based algorithms hash.
pub trait Algorithm: Send + Sync + std::fmt::Debug {
    fn choose(&self, servers: &Servers, eligible: &[usize], key: Key) -> Choice;
}

/// A hash of a request part, or round robin when the request lacks it.
#[derive(Debug)]
struct OrRoundRobin {
    hashed: Box<dyn Algorithm>,
    rr: roundrobin::SmoothWeighted,
}

impl Algorithm for OrRoundRobin {
    fn choose(&self, servers: &Servers, eligible: &[usize], key: Key) -> Choice {
        match key {
            Key::Request(None) => self.rr.choose(servers, eligible, key),
            _ => self.hashed.choose(servers, eligible, key),
        }
    }
}

/// The algorithm of a `balance` keyword (and `hash-type`), for a backend of `n` servers.
pub fn algorithm(balance: &Balance, hash: HashType, n: usize) -> Box<dyn Algorithm> {
    let hashed = |hash: HashType| -> Box<dyn Algorithm> {
        match hash {
            HashType::Consistent => Box::new(sourcehash::Rendezvous),
            HashType::MapBased => Box::new(sourcehash::SourceHash::default()),
        }
    };
    match *balance {
        Balance::Source => hashed(hash),
        // Map-based: requests without the part hashed go round the same map, as HAProxy's.
        Balance::Uri { .. } | Balance::UrlParam { .. } | Balance::Hdr { .. } if hash == HashType::MapBased => {
            hashed(hash)
        }
        Balance::Uri { .. } | Balance::UrlParam { .. } | Balance::Hdr { .. } => Box::new(OrRoundRobin {
            hashed: hashed(hash),
            rr: roundrobin::SmoothWeighted::new(n),
        }),
        Balance::RoundRobin | Balance::StaticRr => Box::new(roundrobin::SmoothWeighted::new(n)),
        Balance::LeastConn => Box::new(leastconn::LeastConn::default()),
        Balance::First => Box::new(first::First),
        Balance::Random { draws } => Box::new(random::Random::new(draws)),
    }
}

/// Of the best server so far and candidate `i`, the one with fewer active connections relative
/// to its weight (compared without division: a.active * b.weight < b.active * a.weight); the
/// best so far on a tie.
fn less_loaded(servers: &Servers, best: Option<usize>, i: usize) -> usize {
    match best {
        Some(b) => {
            let (s, bs) = (&servers[i], &servers[b]);
            if u64::from(s.active()) * u64::from(bs.weight()) < u64::from(bs.active()) * u64::from(s.weight()) {
                i
            } else {
                b
            }
        }
        None => i,
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    use crate::server::ServerRt;
    use clearway_config::model::{CheckParams, Host, Server, ServerPort, Span};

    pub fn servers(weights: &[u32], maxconn: u32) -> crate::server::Servers {
        servers_vec(weights, maxconn).into_iter().collect()
    }

    pub fn servers_vec(weights: &[u32], maxconn: u32) -> Vec<ServerRt> {
        weights
            .iter()
            .enumerate()
            .map(|(i, &w)| {
                let cfg = Server {
                    name: format!("s{}", i + 1),
                    span: Span {
                        file: "t".into(),
                        line: 1,
                    },
                    host: Host::Name("x".into()),
                    port: ServerPort::Fixed(80),
                    weight: w,
                    maxconn,
                    minconn: maxconn,
                    maxqueue: 0,
                    slowstart: None,
                    backup: false,
                    disabled: false,
                    hidden: false,
                    on_marked_down_shutdown: false,
                    on_marked_up_shutdown_backups: false,
                    source: None,
                    check: CheckParams::default(),
                    agent: Default::default(),
                    track: None,
                    ssl: false,
                    proto_h2: false,
                    ws: Default::default(),
                    tls: Default::default(),
                    pool: Default::default(),
                    send_proxy: Default::default(),
                    socks4: None,
                    id: None,
                    non_stick: false,
                    cookie: None,
                    dns: Default::default(),
                };
                ServerRt::new(&cfg, Some([127, 0, 0, 1].into()))
            })
            .collect()
    }
}
