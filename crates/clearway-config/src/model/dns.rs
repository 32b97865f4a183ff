//! Run-time DNS resolution of servers: `resolvers` sections and what a server line asks of
//! them (`resolvers`, `resolve-prefer`, `resolve-net`, `resolve-opts`, `init-addr`).

use super::Span;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// A `resolvers NAME` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolvers {
    pub name: String,
    pub span: Span,
    pub nameservers: Vec<Nameserver>,
    /// `parse-resolv-conf`: the nameservers of /etc/resolv.conf go in at this index of
    /// `nameservers` (read when the runtime is built).
    pub resolv_conf_at: Option<usize>,
    /// `accepted_payload_size`: the largest answer announced (EDNS0 above 512).
    pub accepted_payload_size: u16,
    /// `resolve_retries`: queries sent before a resolution is given up.
    pub resolve_retries: u32,
    /// `timeout resolve`: how long after a failed resolution the next one starts.
    pub timeout_resolve: Duration,
    /// `timeout retry`: how long a query is waited for before it is sent again.
    pub timeout_retry: Duration,
    pub hold: Hold,
}

/// `hold STATUS PERIOD`: how long the last answer of each kind is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hold {
    /// After a valid answer, the time until the next resolution.
    pub valid: Duration,
    /// How long a server keeps its address while the name is unknown (NXDOMAIN).
    pub nx: Duration,
    /// ... while the nameservers refuse.
    pub refused: Duration,
    /// ... while the nameservers do not answer.
    pub timeout: Duration,
    /// ... after any other failure.
    pub other: Duration,
    /// How long an address no longer in the answers is still used.
    pub obsolete: Duration,
}

impl Default for Hold {
    fn default() -> Self {
        let s30 = Duration::from_secs(30);
        Hold {
            valid: Duration::from_secs(10),
            nx: s30,
            refused: s30,
            timeout: s30,
            other: s30,
            obsolete: Duration::ZERO,
        }
    }
}

impl Resolvers {
    pub fn new(name: &str, span: &Span) -> Resolvers {
        Resolvers {
            name: name.to_string(),
            span: span.clone(),
            nameservers: Vec::new(),
            resolv_conf_at: None,
            accepted_payload_size: 512,
            resolve_retries: 3,
            timeout_resolve: Duration::from_secs(1),
            timeout_retry: Duration::from_secs(1),
            hold: Hold::default(),
        }
    }
}

/// `nameserver NAME ADDR[:PORT]` (`tcp@ADDR` for DNS over TCP).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nameserver {
    pub name: String,
    pub addr: SocketAddr,
    pub tcp: bool,
}

/// The address family a server prefers (`resolve-prefer`), HAProxy's default IPv6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Family {
    V4,
    #[default]
    V6,
}

/// One way of finding a server's address at start-up (`init-addr`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitAddr {
    /// The address a server-state file recorded (Clearway keeps none: skipped).
    Last,
    /// The system's resolver.
    Libc,
    /// Start without an address, in maintenance until DNS gives one.
    None,
    /// This address.
    Ip(IpAddr),
}

/// What a server line asks of DNS.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerDns {
    /// `resolvers NAME`: its name is resolved again at run time.
    pub resolvers: Option<String>,
    pub prefer: Family,
    /// `resolve-net`: networks whose addresses are preferred.
    pub nets: Vec<(IpAddr, u8)>,
    /// `resolve-opts allow-dup-ip`: may share an address with a server of the same backend
    /// and name.
    pub allow_dup_ip: bool,
    /// `resolve-opts ignore-weight`: an SRV record's weight is not applied.
    pub ignore_weight: bool,
    /// `init-addr`, in order; empty for HAProxy's default (`last,libc`, and `none` with
    /// `resolvers`).
    pub init_addr: Vec<InitAddr>,
    /// Set by `server-template`: the number of this slot.
    pub template: Option<u32>,
}

impl ServerDns {
    /// The start-up methods in effect.
    pub fn init_methods(&self) -> Vec<InitAddr> {
        if !self.init_addr.is_empty() {
            return self.init_addr.clone();
        }
        let mut m = vec![InitAddr::Last, InitAddr::Libc];
        if self.resolvers.is_some() {
            m.push(InitAddr::None);
        }
        m
    }
}
