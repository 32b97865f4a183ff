//! A backend's live state: its servers, its algorithm and the rules that pick the tier of
//! servers allowed to take traffic (active servers, else backups). Owns the choice of a server
//! and the taking of its slot; must not wait, connect or retry (the data plane does).

pub use crate::balance::Choice;
use crate::balance::{self, Algorithm};
use crate::counters::{Counters, Gauge};
use crate::server::ServerRt;
pub use crate::server::Servers;
use clearway_config::model::{self, Timeouts};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

#[derive(Debug)]
pub struct BackendRt {
    pub name: String,
    /// Its servers; `add server` appends to them at run time.
    pub servers: Servers,
    pub retries: u32,
    pub redispatch: bool,
    pub allbackups: bool,
    pub timeouts: Timeouts,
    algo: Box<dyn Algorithm>,
    /// The last client address seen, for the return-path probe.
    last_client: Mutex<Option<IpAddr>>,
    /// Sessions with a server or waiting for one (HAProxy's `beconn`, the backend's
    /// `scur`/`smax`): what the limit of servers with `minconn` follows.
    pub conns: std::sync::Arc<Gauge>,
    /// `fullconn` (configured, or worked out from the frontends), shown as the backend's `slim`.
    pub fullconn: u32,
    /// A server's limit follows `conns` (`minconn` below `maxconn`).
    follows: AtomicBool,
    /// Traffic counters, per worker thread.
    pub counters: Counters,
    /// Sessions per second, counted when a rule reads it (`be_sess_rate`).
    pub sess_rate: Option<crate::rate::Rate>,
}

impl BackendRt {
    /// `servers` are the runtime states of `cfg.servers`, in the same order.
    pub fn new(cfg: &model::Backend, servers: Vec<ServerRt>) -> BackendRt {
        BackendRt {
            name: cfg.name.clone(),
            algo: balance::algorithm(&cfg.balance, cfg.hash_type, servers.len()),
            servers: servers.into_iter().collect(),
            retries: cfg.retries,
            redispatch: cfg.redispatch,
            allbackups: cfg.options.allbackups,
            timeouts: cfg.timeouts,
            last_client: Mutex::new(None),
            conns: Default::default(),
            fullconn: cfg.fullconn.unwrap_or(1),
            follows: AtomicBool::new(false),
            counters: Counters::default(),
            sess_rate: None,
        }
    }

    /// The same backend with its `fullconn` (the configured one, or the default the caller
    /// worked out): servers with a `minconn` below their `maxconn` then follow its load.
    pub fn with_fullconn(mut self, fullconn: u32) -> BackendRt {
        self.fullconn = fullconn.max(1);
        let follow = self.follow();
        self.servers.for_each_mut(|s| s.follow(&follow));
        self.follows = AtomicBool::new(self.servers.iter().any(|s| s.minconn < s.maxconn()));
        self
    }

    /// What a server with a `minconn` below its `maxconn` follows: this backend's load.
    pub fn follow(&self) -> crate::server::Follow {
        crate::server::Follow {
            fullconn: self.fullconn,
            sessions: self.conns.clone(),
        }
    }

    /// A server added at run time has a `minconn` below its `maxconn`: its limit follows
    /// this backend's load from now on.
    pub fn now_follows(&self) {
        self.follows.store(true, Ordering::Relaxed);
    }

    /// A session starts wanting a server: it counts in `conns` until `leave` (or `release`
    /// of the slot it gets).
    #[inline]
    pub fn enter(&self) {
        self.conns.up();
        if let Some(r) = &self.sess_rate {
            r.add();
        }
    }

    /// The same backend, counting its session rate.
    pub fn counting_rate(mut self, yes: bool) -> BackendRt {
        self.sess_rate = yes.then(Default::default);
        self
    }

    /// A session that `enter`ed gives up without a slot.
    #[inline]
    pub fn leave(&self) {
        self.conns.down();
    }

    /// True when a server's limit follows the backend's load: waiters are then served first
    /// (a rising limit must not let newcomers overtake them).
    pub fn follows_load(&self) -> bool {
        self.follows.load(Ordering::Relaxed)
    }

    /// The same backend, with counters for `threads` worker threads.
    pub fn for_threads(mut self, threads: usize) -> BackendRt {
        self.counters = Counters::new(threads);
        self
    }

    /// Remembers a client address for the return-path probe. Never waits: when another session
    /// holds the lock, this one is simply not recorded.
    pub fn note_client(&self, ip: IpAddr) {
        if let Ok(mut last) = self.last_client.try_lock() {
            *last = Some(ip.to_canonical());
        }
    }

    pub fn last_client(&self) -> Option<IpAddr> {
        *self.last_client.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Servers allowed to take new traffic now: usable active servers; when there is none, the
    /// first usable backup (all of them with `option allbackups`). `avoid` is skipped unless it
    /// is the only candidate (redispatch to the same server beats no server at all).
    pub fn eligible(&self, avoid: Option<usize>) -> Vec<usize> {
        let mut list = vec![0; self.servers.len()];
        let n = self.eligible_in(avoid, &mut list);
        list.truncate(n);
        list
    }

    /// Calls `f` with the eligible servers (see `eligible`), listed on the stack for backends
    /// of up to `INLINE` servers: choosing a server allocates nothing per request.
    pub fn with_eligible<R>(&self, avoid: Option<usize>, f: impl FnOnce(&[usize]) -> R) -> R {
        const INLINE: usize = 64;
        if self.servers.len() <= INLINE {
            let mut buf = [0usize; INLINE];
            let n = self.eligible_in(avoid, &mut buf);
            f(&buf[..n])
        } else {
            f(&self.eligible(avoid))
        }
    }

    /// Writes the eligible servers to the start of `buf` (as long as `servers`) in order;
    /// returns how many.
    fn eligible_in(&self, avoid: Option<usize>, buf: &mut [usize]) -> usize {
        let tier = |backup: bool, buf: &mut [usize]| {
            let mut n = 0;
            // `buf` holds as many as there were servers when it was made: one added since
            // (in maintenance at first) waits for the next choice.
            for (i, s) in self.servers.iter().enumerate().take(buf.len()) {
                if s.backup == backup && s.usable() {
                    buf[n] = i;
                    n += 1;
                }
            }
            n
        };
        let mut n = tier(false, buf);
        if n == 0 {
            n = tier(true, buf);
            if !self.allbackups {
                n = n.min(1);
            }
        }
        // A server whose replies to clients do not come back through us would make clients hang
        // until 'timeout connect': never send them there (see docs/transparent.md, "Return path").
        let keep = |buf: &mut [usize], n: usize, ok: &dyn Fn(usize) -> bool| {
            let mut k = 0;
            for j in 0..n {
                if ok(buf[j]) {
                    buf[k] = buf[j];
                    k += 1;
                }
            }
            k
        };
        n = keep(buf, n, &|i| self.servers[i].return_path_ok());
        if let Some(a) = avoid {
            if n > 1 {
                n = keep(buf, n, &|i| i != a);
            }
        }
        n
    }

    /// Chooses a server for a session (`key`: what hash-based algorithms hash) and takes one
    /// of its connection slots.
    pub fn take_server(&self, key: crate::balance::Key, avoid: Option<usize>) -> Choice {
        self.with_eligible(avoid, |eligible| {
            // A slot can be taken by another session between the choice and the take: choose
            // again.
            loop {
                match self.algo.choose(&self.servers, eligible, key) {
                    Choice::Server(i) if !self.servers[i].try_take_slot() => continue,
                    Choice::Server(i) => return Choice::Server(i),
                    other => return other,
                }
            }
        })
    }

    /// Takes a slot on a given server (a retry on the same server).
    pub fn take_slot_on(&self, index: usize) -> bool {
        self.servers[index].try_take_slot()
    }

    /// Sessions ever given a server (`stot`): the sum of its servers'.
    pub fn sessions(&self) -> u64 {
        self.servers.iter().map(ServerRt::total).sum()
    }

    /// Gives back the slot of a session that leaves the backend.
    pub fn release(&self, index: usize) {
        self.give_back(index);
        self.leave();
    }

    /// Gives back a slot its session did not take after all (handed to a waiter that had
    /// already gone): the session's own `leave` is its own business.
    pub fn give_back(&self, index: usize) {
        self.servers[index].release_slot();
    }

    /// True when servers are up but every one of them has a broken return path: clients are
    /// refused at once with that reason instead of hanging.
    pub fn only_broken_return_paths(&self) -> bool {
        let mut usable = self.servers.iter().filter(|s| s.usable()).peekable();
        usable.peek().is_some() && usable.all(|s| !s.return_path_ok())
    }

    /// Usable (active, backup) servers, for messages.
    pub fn usable_by_kind(&self) -> (usize, usize) {
        let usable = self.servers.iter().filter(|s| s.usable());
        usable.fold((0, 0), |(a, b), s| if s.backup { (a, b + 1) } else { (a + 1, b) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balance::testutil::servers_vec as servers;

    fn backend(mut s: Vec<ServerRt>, backups: &[usize], allbackups: bool) -> BackendRt {
        for &b in backups {
            s[b].backup = true;
        }
        BackendRt {
            name: "b".into(),
            algo: balance::algorithm(&model::Balance::RoundRobin, model::HashType::MapBased, s.len()),
            servers: s.into_iter().collect(),
            retries: 3,
            redispatch: false,
            allbackups,
            timeouts: Timeouts::default(),
            last_client: Mutex::new(None),
            conns: Default::default(),
            fullconn: 1,
            follows: AtomicBool::new(false),
            counters: Counters::default(),
            sess_rate: None,
        }
    }

    #[test]
    fn backups_only_when_no_active_server() {
        let b = backend(servers(&[1, 1, 1, 1], 0), &[2, 3], false);
        assert_eq!(b.eligible(None), vec![0, 1]);
        b.servers[0].set_up(false);
        b.servers[1].set_up(false);
        assert_eq!(b.eligible(None), vec![2]);
        let b = backend(servers(&[1, 1, 1, 1], 0), &[2, 3], true);
        b.servers[0].set_up(false);
        b.servers[1].set_up(false);
        assert_eq!(b.eligible(None), vec![2, 3]);
    }

    #[test]
    fn broken_return_path_is_avoided_while_another_server_is_fine() {
        let b = backend(servers(&[1, 1], 0), &[], false);
        b.servers[0].set_return_path(false);
        assert_eq!(b.eligible(None), vec![1]);
        assert!(!b.only_broken_return_paths());
        b.servers[1].set_return_path(false);
        assert_eq!(
            b.eligible(None),
            Vec::<usize>::new(),
            "all broken: nobody to send clients to"
        );
        assert!(b.only_broken_return_paths());
    }

    #[test]
    fn avoid_is_kept_when_alone_and_weight_zero_excluded() {
        let b = backend(servers(&[1, 0], 0), &[], false);
        assert_eq!(b.eligible(Some(0)), vec![0]);
        let b = backend(servers(&[1, 1], 0), &[], false);
        assert_eq!(b.eligible(Some(0)), vec![1]);
    }

    #[test]
    fn drained_and_maintained_servers_take_no_new_traffic_until_ready_again() {
        use crate::server::Admin;
        let b = backend(servers(&[1, 1, 1], 0), &[], false);
        b.servers[0].set_admin(Admin::Drain);
        b.servers[1].set_admin(Admin::Maint);
        assert_eq!(b.eligible(None), vec![2]);
        assert_eq!(b.servers[0].admin(), Admin::Drain);
        b.servers[0].set_admin(Admin::Ready);
        b.servers[1].set_admin(Admin::Ready);
        assert_eq!(b.eligible(None), vec![0, 1, 2]);
    }

    #[test]
    fn stopped_checks_count_as_up_and_a_weight_change_is_followed() {
        let b = backend(servers(&[1, 1], 0), &[], false);
        b.servers[0].set_up(false);
        assert_eq!(b.eligible(None), vec![1]);
        b.servers[0].set_checks_stopped(true);
        assert!(b.servers[0].is_up() && !b.servers[0].check_says_up());
        assert_eq!(b.eligible(None), vec![0, 1]);
        b.servers[1].set_weight(0);
        assert_eq!(b.eligible(None), vec![0]);
        b.servers[1].set_weight(3);
        b.servers[0].set_weight(1);
        let picks: Vec<usize> = (0..8)
            .map(|_| {
                b.enter();
                b.take_server([0, 0, 0, 0].into(), None)
            })
            .map(|c| match c {
                Choice::Server(i) => {
                    b.release(i);
                    i
                }
                c => panic!("{c:?}"),
            })
            .collect();
        assert_eq!(picks.iter().filter(|&&i| i == 1).count(), 6, "weights 1:3 -> {picks:?}");
        assert_eq!(b.sessions(), 8);
        assert_eq!((b.conns.cur(), b.conns.max()), (0, 1));
    }

    #[test]
    fn the_list_on_the_stack_and_the_one_on_the_heap_agree() {
        for n in [3, 64, 65, 200] {
            let b = backend(servers(&vec![1; n], 0), &[], false);
            b.servers[1].set_up(false);
            b.servers[n - 1].set_return_path(false);
            let expected: Vec<usize> = (0..n).filter(|&i| i != 1 && i != n - 1 && i != 2).collect();
            assert_eq!(b.eligible(Some(2)), expected, "{n} servers");
            assert_eq!(b.with_eligible(Some(2), |l| l.to_vec()), expected, "{n} servers");
        }
    }
}
