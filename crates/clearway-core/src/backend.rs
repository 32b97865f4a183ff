//! A backend's live state: its servers, its algorithm and the rules that pick the tier of
//! servers allowed to take traffic (active servers, else backups). Owns the choice of a server
//! and the taking of its slot; must not wait, connect or retry (the data plane does).

pub use crate::balance::Choice;
use crate::balance::{self, Algorithm};
use crate::server::ServerRt;
use clearway_config::model::{self, Timeouts};
use std::net::IpAddr;
use std::sync::Mutex;

#[derive(Debug)]
pub struct BackendRt {
    pub name: String,
    pub servers: Vec<ServerRt>,
    pub retries: u32,
    pub redispatch: bool,
    pub allbackups: bool,
    pub timeouts: Timeouts,
    algo: Box<dyn Algorithm>,
    /// The last client address seen, for the return-path probe.
    last_client: Mutex<Option<IpAddr>>,
}

impl BackendRt {
    /// `servers` are the runtime states of `cfg.servers`, in the same order.
    pub fn new(cfg: &model::Backend, servers: Vec<ServerRt>) -> BackendRt {
        BackendRt {
            name: cfg.name.clone(),
            algo: balance::algorithm(cfg.balance, servers.len()),
            servers,
            retries: cfg.retries,
            redispatch: cfg.redispatch,
            allbackups: cfg.options.allbackups,
            timeouts: cfg.timeouts,
            last_client: Mutex::new(None),
        }
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
        let tier = |backup: bool| -> Vec<usize> {
            self.servers
                .iter()
                .enumerate()
                .filter(|(_, s)| s.backup == backup && s.usable())
                .map(|(i, _)| i)
                .collect()
        };
        let mut list = tier(false);
        if list.is_empty() {
            list = tier(true);
            if !self.allbackups {
                list.truncate(1);
            }
        }
        // A server whose replies to clients do not come back through us would make clients hang
        // until 'timeout connect': never send them there (see README, "Return path").
        list.retain(|&i| self.servers[i].return_path_ok());
        if let Some(a) = avoid {
            if list.len() > 1 {
                list.retain(|&i| i != a);
            }
        }
        list
    }

    /// Chooses a server for `client` and takes one of its connection slots.
    pub fn take_server(&self, client: IpAddr, avoid: Option<usize>) -> Choice {
        let eligible = self.eligible(avoid);
        // A slot can be taken by another session between the choice and the take: choose again.
        loop {
            match self.algo.choose(&self.servers, &eligible, client) {
                Choice::Server(i) if !self.servers[i].try_take_slot() => continue,
                other => return other,
            }
        }
    }

    /// Takes a slot on a given server (a retry on the same server).
    pub fn take_slot_on(&self, index: usize) -> bool {
        self.servers[index].try_take_slot()
    }

    pub fn release(&self, index: usize) {
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
    use crate::balance::testutil::servers;

    fn backend(mut s: Vec<ServerRt>, backups: &[usize], allbackups: bool) -> BackendRt {
        for &b in backups {
            s[b].backup = true;
        }
        BackendRt {
            name: "b".into(),
            algo: balance::algorithm(model::Balance::RoundRobin, s.len()),
            servers: s,
            retries: 3,
            redispatch: false,
            allbackups,
            timeouts: Timeouts::default(),
            last_client: Mutex::new(None),
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
}
