//! One server's live state: where it is, its weight and limits, its administrative and
//! operational state (both changeable while it runs), and its connection counters. Owns the
//! connection-slot accounting; must not connect or decide which server to use.

use crate::counters::Counters;
use clearway_config::model::{self, ServerPort, Span};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU16, AtomicU32, AtomicU64, Ordering};

/// The administrative state an operator sets (`set server B/S state ...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admin {
    /// Takes traffic when up.
    Ready,
    /// Takes no new traffic; sessions in progress continue (`drain`).
    Drain,
    /// Maintenance: no new traffic, and its health no longer matters (`maint`, `disabled`).
    Maint,
}

// Bits of `ServerRt::state`: one load tells whether a server may take traffic.
const DRAIN: u16 = 1;
const MAINT: u16 = 2;
/// Its health checks last said down.
const DOWN: u16 = 4;
/// Its health checks are stopped (`disable health`): it counts as up.
const CHECK_OFF: u16 = 8;
/// Its replies to client addresses do not come back through this host.
const RETURN_PATH_BROKEN: u16 = 16;
/// Its agent (`agent-check`) last said down, fail or stopped.
const AGENT_DOWN: u16 = 32;
/// The server it tracks (`track`) is in maintenance, or draining.
const INHERITED_MAINT: u16 = 64;
const INHERITED_DRAIN: u16 = 128;
/// Its name has no address (yet, or any more): maintenance until DNS gives one.
const RESOLUTION_MAINT: u16 = 256;
/// Up, but its checks passed only conditionally (`http-check disable-on-404`): no new traffic
/// from the balancer (HAProxy's `NOLB`, a stopping server).
const NOLB: u16 = 512;
/// Removed by `del server`: kept in place (sessions may still name its index) but gone from
/// the backend's choices, names and statistics.
const DELETED: u16 = 1024;

/// A backend's servers, in configuration order, then those added at run time.
pub type Servers = crate::append::AppendOnly<ServerRt>;

#[derive(Debug)]
pub struct ServerRt {
    pub name: String,
    /// Its number (`id`, or the one the backend gave it): `srv_id`, the statistics' `sid`.
    pub id: u32,
    /// `non-stick`: stick rules never store it.
    pub non_stick: bool,
    pub span: Span,
    /// The address it was given at start-up (unspecified when it had none).
    pub ip: IpAddr,
    /// Where it is now, once DNS resolved its name at run time or `set server addr` moved
    /// it (None: no address yet for a resolved server; the start-up one otherwise). Never
    /// emptied once set: a name that loses its addresses puts the server in maintenance
    /// instead, so a connection chosen just before still has a place to go.
    moved_to: arc_swap::ArcSwapOption<DnsAddr>,
    /// Its name is resolved at run time (`resolvers`).
    resolved: bool,
    /// `moved_to` was ever set (a cheap test before its load on the connect path).
    moved: std::sync::atomic::AtomicBool,
    /// Counts the changes of its address: idle connections to an older one are not reused.
    epoch: AtomicU32,
    /// `server NAME 0.0.0.0` (or `*`): each client's original destination.
    original_destination: bool,
    /// The host name of its line, when it has one.
    pub fqdn: Option<Box<str>>,
    pub port: ServerPort,
    /// The weight the configuration gave (`set weight` may change the current one).
    pub initial_weight: u32,
    weight: AtomicU32,
    /// 0: unlimited (`set maxconn server` changes it).
    maxconn: AtomicU32,
    /// `minconn` (equal to `maxconn` when not set).
    pub minconn: u32,
    /// Set when its limit follows the backend's load (`minconn` below `maxconn`).
    follow: Option<Follow>,
    /// `maxqueue`: sessions that may wait for this server in particular; 0: unlimited.
    pub maxqueue: u32,
    /// `slowstart`, and the ramp in progress (stepped by the health checks, never read on
    /// the data path).
    pub slowstart: Option<std::time::Duration>,
    ramp: std::sync::Mutex<Option<Ramp>>,
    pub backup: bool,
    /// A backend's `dispatch` address: no statistics row.
    pub hidden: bool,
    /// `on-marked-down shutdown-sessions`, `on-marked-up shutdown-backup-sessions`.
    pub on_marked_down_shutdown: bool,
    pub on_marked_up_shutdown_backups: bool,
    pub source: Option<model::Source>,
    /// Administrative and operational state (the bits above).
    state: AtomicU16,
    active: AtomicU32,
    /// The most connections in use at once (`smax`).
    max_active: AtomicU32,
    total: AtomicU64,
    /// Traffic counters, per worker thread.
    pub counters: Counters,
    /// The last health check's result, for the statistics.
    pub last_check: std::sync::Mutex<Option<LastCheck>>,
    /// The last return-path probe: the client address it came from, when, and whether the
    /// server answered (`show transparent`).
    pub last_probe: std::sync::Mutex<Option<(IpAddr, std::time::SystemTime, bool)>>,
    /// When the operational or administrative state last changed, in seconds on the caller's
    /// clock (0: never).
    pub last_change: AtomicU64,
    /// Sessions given to it per second, counted when a rule reads it (`srv_sess_rate`).
    pub sess_rate: Option<crate::rate::Rate>,
}

/// What a `minconn` server's limit follows: the sessions of its backend (HAProxy's
/// `beconn`: those with a server and those waiting for one) against the backend's `fullconn`.
#[derive(Debug, Clone)]
pub struct Follow {
    pub fullconn: u32,
    pub sessions: std::sync::Arc<crate::counters::Gauge>,
}

/// Where DNS last placed a server: an address, and an SRV record's port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DnsAddr {
    pub ip: IpAddr,
    pub port: Option<u16>,
}

/// A health check's result as the statistics show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastCheck {
    /// HAProxy's wording of the result ("Layer7 check passed").
    pub reason: &'static str,
    /// What the server said, when it said something ("HTTP status 200", "Connection refused").
    pub info: String,
    pub duration_ms: u64,
    /// The HTTP status or program exit status HAProxy reports with it (`check_code`).
    pub code: Option<i32>,
}

/// A slow start in progress: since when, and the values it grows to.
#[derive(Debug, Clone, Copy)]
struct Ramp {
    since: std::time::Instant,
    weight: Option<u32>,
    maxconn: u32,
}

impl ServerRt {
    /// The server just came back up: with `slowstart`, its weight (`dynamic`: the algorithm
    /// reads weights as they change) and its maxconn start at 1 and grow at each
    /// `step_slowstart` to what they were.
    pub fn begin_slowstart(&self, dynamic: bool) {
        if self.slowstart.is_none() {
            return;
        }
        let mut r = self.ramp.lock().unwrap_or_else(|e| e.into_inner());
        // A ramp cut short (down again meanwhile) keeps its targets.
        let (weight, maxconn) = match *r {
            Some(old) => (old.weight, old.maxconn),
            None => (dynamic.then(|| self.weight()), self.maxconn()),
        };
        *r = Some(Ramp {
            since: std::time::Instant::now(),
            weight,
            maxconn,
        });
        drop(r);
        self.step_slowstart();
    }

    /// Moves a slow start on (HAProxy does it at each health check); its targets back at its
    /// end. False when none is in progress.
    pub fn step_slowstart(&self) -> bool {
        let (Some(d), mut r) = (self.slowstart, self.ramp.lock().unwrap_or_else(|e| e.into_inner())) else {
            return false;
        };
        let Some(ramp) = *r else { return false };
        let f = ramp.since.elapsed().as_secs_f64() / d.as_secs_f64();
        let part = |full: u32| -> u32 {
            if f >= 1.0 {
                full
            } else {
                ((f64::from(full) * f).ceil() as u32).clamp(1, full.max(1))
            }
        };
        if let Some(w) = ramp.weight.filter(|&w| w > 0) {
            self.set_weight(part(w));
        }
        if ramp.maxconn > 0 {
            self.set_maxconn(part(ramp.maxconn));
        }
        if f >= 1.0 {
            *r = None;
            return false;
        }
        true
    }

    /// Builds the runtime state of a configured server whose host is already resolved to `ip`
    /// (None: no address at start-up, `init-addr none`; it starts in maintenance).
    pub fn new(cfg: &model::Server, ip: Option<IpAddr>) -> ServerRt {
        let dynamic = cfg.dns.resolvers.is_some() && matches!(cfg.host, model::Host::Name(_));
        let mut state = if cfg.disabled { MAINT } else { 0 };
        if ip.is_none() {
            state |= RESOLUTION_MAINT;
        }
        ServerRt {
            name: cfg.name.clone(),
            id: cfg.id.unwrap_or(0),
            non_stick: cfg.non_stick,
            span: cfg.span.clone(),
            ip: ip.unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)),
            moved_to: arc_swap::ArcSwapOption::new(
                ip.filter(|_| dynamic)
                    .map(|ip| std::sync::Arc::new(DnsAddr { ip, port: None })),
            ),
            resolved: dynamic,
            moved: std::sync::atomic::AtomicBool::new(dynamic),
            epoch: AtomicU32::new(0),
            original_destination: matches!(cfg.host, model::Host::Ip(a) if a.is_unspecified()),
            fqdn: match &cfg.host {
                model::Host::Name(n) => Some(n.as_str().into()),
                model::Host::Ip(_) => None,
            },
            port: cfg.port,
            initial_weight: cfg.weight,
            weight: AtomicU32::new(cfg.weight),
            maxconn: AtomicU32::new(cfg.maxconn),
            minconn: cfg.minconn,
            follow: None,
            maxqueue: cfg.maxqueue,
            slowstart: cfg.slowstart,
            ramp: std::sync::Mutex::new(None),
            backup: cfg.backup,
            hidden: cfg.hidden,
            on_marked_down_shutdown: cfg.on_marked_down_shutdown,
            on_marked_up_shutdown_backups: cfg.on_marked_up_shutdown_backups,
            source: cfg.source.clone(),
            state: AtomicU16::new(state),
            active: AtomicU32::new(0),
            max_active: AtomicU32::new(0),
            total: AtomicU64::new(0),
            counters: Counters::default(),
            last_check: std::sync::Mutex::new(None),
            last_probe: std::sync::Mutex::new(None),
            last_change: AtomicU64::new(0),
            sess_rate: None,
        }
    }

    /// The same server, numbered `id`.
    pub fn with_id(mut self, id: u32) -> ServerRt {
        self.id = id;
        self
    }

    /// The same server, counting its session rate.
    pub fn counting_rate(mut self, yes: bool) -> ServerRt {
        self.sess_rate = yes.then(Default::default);
        self
    }

    /// The same server, with counters for `threads` worker threads.
    pub fn for_threads(mut self, threads: usize) -> ServerRt {
        self.counters = Counters::new(threads);
        self
    }

    /// The address to connect to for a client that connected to local port `client_dst_port`.
    /// The address to connect to for a client that reached `client_dst` on this host. A server
    /// address of `0.0.0.0` (or `*`) means the client's original destination, as in HAProxy:
    /// with a catch-all transparent bind, the address the client asked for.
    pub fn target(&self, client_dst: SocketAddr) -> SocketAddr {
        let port = |rule| match rule {
            ServerPort::Fixed(p) => p,
            ServerPort::SameAsClient => client_dst.port(),
            ServerPort::Offset(off) => (i32::from(client_dst.port()) + off).clamp(1, 65535) as u16,
        };
        if self.original_destination {
            return SocketAddr::new(client_dst.ip().to_canonical(), port(self.port));
        }
        match self.moved_now().as_deref() {
            Some(a) => SocketAddr::new(a.ip, a.port.unwrap_or_else(|| port(self.port))),
            // DNS has given no address yet (unspecified: connecting is refused), or it never
            // moved.
            None => SocketAddr::new(self.ip, port(self.port)),
        }
    }

    /// Where DNS or the runtime API put it, when either did.
    fn moved_now(&self) -> Option<std::sync::Arc<DnsAddr>> {
        if self.moved.load(Ordering::Relaxed) {
            self.moved_to.load_full()
        } else {
            None
        }
    }

    /// Counts the changes of its address (idle connections are kept per count).
    pub fn epoch(&self) -> u32 {
        self.epoch.load(Ordering::Relaxed)
    }

    /// True for `server NAME 0.0.0.0`: the destination is each client's original one.
    pub fn is_original_destination(&self) -> bool {
        self.original_destination
    }

    /// Its address now: the start-up one, or the last DNS gave (None: none yet).
    pub fn current_ip(&self) -> Option<IpAddr> {
        match self.moved_now() {
            Some(a) => Some(a.ip),
            None if self.resolved => None,
            None => Some(self.ip),
        }
    }

    /// The port it is at now, when one is known without a client: an SRV record's, else the
    /// configured one.
    pub fn current_port(&self) -> Option<u16> {
        let srv = self.moved_now().and_then(|a| a.port);
        srv.or(match self.port {
            ServerPort::Fixed(p) => Some(p),
            _ => None,
        })
    }

    /// True when DNS resolves its name at run time.
    pub fn resolved_at_run_time(&self) -> bool {
        self.resolved
    }

    /// A new address from DNS (for a server resolved at run time; ignored otherwise), with
    /// the port of an SRV record. True when it changed.
    pub fn set_addr(&self, ip: IpAddr, port: Option<u16>) -> bool {
        if !self.resolved {
            return false;
        }
        self.move_to(DnsAddr { ip, port })
    }

    /// A new address and port (`set server addr`), for any server but one at each client's
    /// original destination. True when it changed.
    pub fn move_to(&self, new: DnsAddr) -> bool {
        if self.original_destination {
            return false;
        }
        let now = self.moved_now();
        if now.as_deref() == Some(&new) || (now.is_none() && !self.resolved && new == self.at_start()) {
            return false;
        }
        self.moved_to.store(Some(std::sync::Arc::new(new)));
        self.moved.store(true, Ordering::Relaxed);
        self.epoch.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Its start-up address, as a `DnsAddr`.
    fn at_start(&self) -> DnsAddr {
        DnsAddr {
            ip: self.ip,
            port: None,
        }
    }

    /// The port DNS (an SRV record) or `set server addr` gave it, if any.
    pub fn moved_port(&self) -> Option<u16> {
        self.moved_now().and_then(|a| a.port)
    }

    /// The SRV port it was given, if any.
    pub fn srv_port(&self) -> Option<u16> {
        self.moved_now().and_then(|a| a.port).filter(|_| self.resolved)
    }

    /// Maintenance because its name has no address (HAProxy's `MAINT (resolution)`).
    pub fn set_resolution_maint(&self, on: bool) {
        self.set_bit(RESOLUTION_MAINT, on);
    }

    /// `NOLB`: up, but its last check passed only conditionally (a 404 under
    /// `http-check disable-on-404`).
    pub fn set_nolb(&self, on: bool) {
        self.set_bit(NOLB, on);
    }

    pub fn nolb(&self) -> bool {
        self.state.load(Ordering::Relaxed) & NOLB != 0
    }

    pub fn resolution_maint(&self) -> bool {
        self.state.load(Ordering::Relaxed) & RESOLUTION_MAINT != 0
    }

    /// May receive new traffic from the balancer: ready, up (or not checked), and a non-zero
    /// weight.
    pub fn usable(&self) -> bool {
        let s = self.state.load(Ordering::Relaxed);
        s & (DRAIN | MAINT | AGENT_DOWN | INHERITED_MAINT | INHERITED_DRAIN | RESOLUTION_MAINT | NOLB | DELETED) == 0
            && (s & DOWN == 0 || s & CHECK_OFF != 0)
            && self.weight() > 0
    }

    fn set_bit(&self, bit: u16, on: bool) {
        if on {
            self.state.fetch_or(bit, Ordering::Relaxed);
        } else {
            self.state.fetch_and(!bit, Ordering::Relaxed);
        }
    }

    /// What the health checks say.
    pub fn set_up(&self, up: bool) {
        self.set_bit(DOWN, !up);
    }

    pub fn set_return_path(&self, ok: bool) {
        self.set_bit(RETURN_PATH_BROKEN, !ok);
    }

    pub fn return_path_ok(&self) -> bool {
        self.state.load(Ordering::Relaxed) & RETURN_PATH_BROKEN == 0
    }

    /// Operationally up: the health checks say so, or they are stopped; and its agent, if
    /// any, has not said down.
    /// Not stopped, in HAProxy's sense (what `use-server` needs): up by its checks and its
    /// agent, not in maintenance (its own, inherited, or for want of an address), and its
    /// replies come back through this host. Draining, `NOLB` and weight 0 do not stop it.
    pub fn running(&self) -> bool {
        let s = self.state.load(Ordering::Relaxed);
        s & (MAINT | INHERITED_MAINT | RESOLUTION_MAINT | RETURN_PATH_BROKEN | DELETED) == 0 && self.is_up()
    }

    pub fn is_up(&self) -> bool {
        let s = self.state.load(Ordering::Relaxed);
        (s & DOWN == 0 || s & CHECK_OFF != 0) && s & AGENT_DOWN == 0
    }

    /// What the agent says (`down`, `fail`, `stopped`: true; `up`: false).
    pub fn set_agent_down(&self, down: bool) {
        self.set_bit(AGENT_DOWN, down);
    }

    pub fn agent_down(&self) -> bool {
        self.state.load(Ordering::Relaxed) & AGENT_DOWN != 0
    }

    /// What the last health check said, whether or not it counts now.
    pub fn check_says_up(&self) -> bool {
        self.state.load(Ordering::Relaxed) & DOWN == 0
    }

    /// `disable health` / `enable health`.
    pub fn set_checks_stopped(&self, stopped: bool) {
        self.set_bit(CHECK_OFF, stopped);
    }

    pub fn checks_stopped(&self) -> bool {
        self.state.load(Ordering::Relaxed) & CHECK_OFF != 0
    }

    /// The state a tracked server passes on (`track`): its maintenance or drain, else ready.
    pub fn set_inherited(&self, a: Admin) {
        self.set_bit(INHERITED_MAINT, a == Admin::Maint);
        self.set_bit(INHERITED_DRAIN, a == Admin::Drain);
    }

    pub fn inherited(&self) -> Admin {
        let s = self.state.load(Ordering::Relaxed);
        if s & INHERITED_MAINT != 0 {
            Admin::Maint
        } else if s & INHERITED_DRAIN != 0 {
            Admin::Drain
        } else {
            Admin::Ready
        }
    }

    /// Shown in the statistics and found by name: not a `dispatch` address, not deleted.
    #[inline]
    pub fn listed(&self) -> bool {
        !self.hidden && !self.is_deleted()
    }

    /// `del server`: the server is gone for good (it must be in maintenance already).
    pub fn set_deleted(&self) {
        self.set_bit(DELETED, true);
    }

    pub fn is_deleted(&self) -> bool {
        self.state.load(Ordering::Relaxed) & DELETED != 0
    }

    pub fn admin(&self) -> Admin {
        let s = self.state.load(Ordering::Relaxed);
        if s & MAINT != 0 {
            Admin::Maint
        } else if s & DRAIN != 0 {
            Admin::Drain
        } else {
            Admin::Ready
        }
    }

    pub fn set_admin(&self, a: Admin) {
        let (drain, maint) = match a {
            Admin::Ready => (false, false),
            Admin::Drain => (true, false),
            Admin::Maint => (false, true),
        };
        self.set_bit(DRAIN, drain);
        self.set_bit(MAINT, maint);
    }

    /// The current weight (0 to 256).
    pub fn weight(&self) -> u32 {
        self.weight.load(Ordering::Relaxed)
    }

    pub fn set_weight(&self, w: u32) {
        self.weight.store(w.min(256), Ordering::Relaxed);
    }

    /// Records a state change at `now` (seconds on the caller's clock).
    pub fn changed_at(&self, now: u64) {
        self.last_change.store(now, Ordering::Relaxed);
    }

    pub fn set_last_check(&self, c: LastCheck) {
        *self.last_check.lock().unwrap_or_else(|p| p.into_inner()) = Some(c);
    }

    pub fn last_check(&self) -> Option<LastCheck> {
        self.last_check.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The most connections in use at once.
    pub fn max_active(&self) -> u32 {
        self.max_active.load(Ordering::Relaxed)
    }

    /// `clear counters`: the maxima back to the current values.
    pub fn clear_max(&self) {
        self.max_active.store(self.active(), Ordering::Relaxed);
    }

    /// `clear counters all`: the maxima too, and the totals to zero.
    pub fn clear_counters(&self) {
        self.clear_max();
        self.counters.clear();
    }

    pub fn active(&self) -> u32 {
        self.active.load(Ordering::Relaxed)
    }

    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    /// Its connection limit; 0: none.
    pub fn maxconn(&self) -> u32 {
        self.maxconn.load(Ordering::Relaxed)
    }

    pub fn set_maxconn(&self, n: u32) {
        self.maxconn.store(n, Ordering::Relaxed);
    }

    /// Makes its limit follow the backend's load, when `minconn` is below `maxconn`.
    pub fn follow(&mut self, f: &Follow) {
        if self.minconn < self.maxconn() {
            self.follow = Some(f.clone());
        }
    }

    /// The connection limit now (0: none): `maxconn`, or with `minconn` HAProxy's dynamic
    /// limit, `maxconn` scaled by how full the backend is (`sessions / fullconn`), never below
    /// `minconn` (nor above `maxconn`, which `set maxconn server` may have lowered).
    #[inline]
    pub fn limit(&self) -> u32 {
        let max = self.maxconn();
        match &self.follow {
            Some(f) if max > 0 => {
                let busy = f.sessions.cur();
                if busy >= f.fullconn {
                    return max;
                }
                let scaled = u64::from(busy) * u64::from(max) / u64::from(f.fullconn.max(1));
                (scaled as u32).max(self.minconn.min(max))
            }
            _ => max,
        }
    }

    /// True when one more connection would stay within its limit.
    pub fn has_slot(&self) -> bool {
        let max = self.limit();
        max == 0 || self.active() < max
    }

    /// Takes a connection slot if its limit allows; the caller must call `release_slot` later.
    pub fn try_take_slot(&self) -> bool {
        let max = self.limit();
        let taken = self.active.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (max == 0 || n < max).then_some(n + 1)
        });
        if let Ok(before) = taken {
            self.total.fetch_add(1, Ordering::Relaxed);
            if let Some(r) = &self.sess_rate {
                r.add();
            }
            if before >= self.max_active.load(Ordering::Relaxed) {
                self.max_active.fetch_max(before + 1, Ordering::Relaxed);
            }
        }
        taken.is_ok()
    }

    pub fn release_slot(&self) {
        self.active.fetch_sub(1, Ordering::AcqRel);
    }
}
