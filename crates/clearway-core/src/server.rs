//! One server's live state: where it is, its weight and limits, and its connection counters.
//! Owns the connection-slot accounting; must not connect or decide which server to use.

use clearway_config::model::{self, ServerPort, Span};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

#[derive(Debug)]
pub struct ServerRt {
    pub name: String,
    pub span: Span,
    pub ip: IpAddr,
    pub port: ServerPort,
    pub weight: u32,
    /// 0: unlimited.
    pub maxconn: u32,
    pub backup: bool,
    pub source: Option<model::Source>,
    /// Administratively enabled (`disabled` on the server line clears it).
    enabled: AtomicBool,
    /// Operational state, driven by health checks. Starts up.
    up: AtomicBool,
    /// False when spoofed connections to this server get no answer (its replies to client
    /// addresses do not come back through this host).
    return_path: AtomicBool,
    active: AtomicU32,
    total: AtomicU64,
}

impl ServerRt {
    /// Builds the runtime state of a configured server whose host is already resolved to `ip`.
    pub fn new(cfg: &model::Server, ip: IpAddr) -> ServerRt {
        ServerRt {
            name: cfg.name.clone(),
            span: cfg.span.clone(),
            ip,
            port: cfg.port,
            weight: cfg.weight,
            maxconn: cfg.maxconn,
            backup: cfg.backup,
            source: cfg.source.clone(),
            enabled: AtomicBool::new(!cfg.disabled),
            up: AtomicBool::new(true),
            return_path: AtomicBool::new(true),
            active: AtomicU32::new(0),
            total: AtomicU64::new(0),
        }
    }

    /// The address to connect to for a client that connected to local port `client_dst_port`.
    /// The address to connect to for a client that reached `client_dst` on this host. A server
    /// address of `0.0.0.0` (or `*`) means the client's original destination, as in HAProxy:
    /// with a catch-all transparent bind, the address the client asked for.
    pub fn target(&self, client_dst: SocketAddr) -> SocketAddr {
        let port = match self.port {
            ServerPort::Fixed(p) => p,
            ServerPort::SameAsClient => client_dst.port(),
            ServerPort::Offset(off) => (i32::from(client_dst.port()) + off).clamp(1, 65535) as u16,
        };
        let ip = if self.ip.is_unspecified() {
            client_dst.ip().to_canonical()
        } else {
            self.ip
        };
        SocketAddr::new(ip, port)
    }

    /// True for `server NAME 0.0.0.0`: the destination is each client's original one.
    pub fn is_original_destination(&self) -> bool {
        self.ip.is_unspecified()
    }

    /// May receive new traffic from the balancer: enabled, up, and a non-zero weight.
    pub fn usable(&self) -> bool {
        self.enabled.load(Ordering::Relaxed) && self.up.load(Ordering::Relaxed) && self.weight > 0
    }

    pub fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::Relaxed);
    }

    pub fn set_return_path(&self, ok: bool) {
        self.return_path.store(ok, Ordering::Relaxed);
    }

    pub fn return_path_ok(&self) -> bool {
        self.return_path.load(Ordering::Relaxed)
    }

    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    pub fn active(&self) -> u32 {
        self.active.load(Ordering::Relaxed)
    }

    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    /// True when one more connection would stay within `maxconn`.
    pub fn has_slot(&self) -> bool {
        self.maxconn == 0 || self.active() < self.maxconn
    }

    /// Takes a connection slot if `maxconn` allows; the caller must call `release_slot` later.
    pub fn try_take_slot(&self) -> bool {
        let taken = self
            .active
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (self.maxconn == 0 || n < self.maxconn).then_some(n + 1)
            })
            .is_ok();
        if taken {
            self.total.fetch_add(1, Ordering::Relaxed);
        }
        taken
    }

    pub fn release_slot(&self) {
        self.active.fetch_sub(1, Ordering::AcqRel);
    }
}
