//! `first`: the first server in configuration order with a free connection slot, so servers
//! fill up one after the other and the others can be switched off.

use super::{Algorithm, Choice, Key};
use crate::server::Servers;

#[derive(Debug)]
pub struct First;

impl Algorithm for First {
    fn choose(&self, servers: &Servers, eligible: &[usize], _key: Key) -> Choice {
        if eligible.is_empty() {
            return Choice::NoServer;
        }
        eligible
            .iter()
            .copied()
            .find(|&i| servers[i].has_slot())
            .map_or(Choice::Wait(None), Choice::Server)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balance::testutil::servers;

    #[test]
    fn fills_servers_in_order() {
        let s = servers(&[1, 1], 2);
        let ip = Key::Addr([0, 0, 0, 0].into());
        let mut order = vec![];
        for _ in 0..4 {
            let Choice::Server(i) = First.choose(&s, &[0, 1], ip) else {
                panic!()
            };
            assert!(s[i].try_take_slot());
            order.push(i);
        }
        assert_eq!(order, vec![0, 0, 1, 1]);
        assert_eq!(First.choose(&s, &[0, 1], ip), Choice::Wait(None));
    }
}
