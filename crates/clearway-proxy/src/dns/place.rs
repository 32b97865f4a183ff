//! Which address of an answer each server of a name takes, as HAProxy chooses: a server keeps
//! its address while the name still has it, else takes the best free one (the preferred
//! family, then `resolve-net`), never one another server of its backend with the same name
//! holds unless `resolve-opts allow-dup-ip`.

use super::set_maint;
use crate::model::Backend;
use clearway_config::model::{Family, Resolvers, ServerDns};
use std::net::IpAddr;

/// Gives each server of `servers` (all of `be`, same name) an address from `answer`.
pub(super) fn place(r: &Resolvers, be: &Backend, servers: &[usize], answer: &[IpAddr]) {
    let prefs = |i: usize| be.side(i).dns.as_ref().expect("a server resolved at run time");
    let mut chosen: Vec<Option<IpAddr>> = vec![None; servers.len()];
    // First, servers whose address is still answered keep it (unless an earlier one has it).
    for (k, &i) in servers.iter().enumerate() {
        let s = &be.rt.servers[i];
        let Some(cur) = s.current_ip().filter(|_| !s.resolution_maint()) else {
            continue;
        };
        let taken = chosen.contains(&Some(cur)) && !prefs(i).allow_dup_ip;
        if answer.contains(&cur) && !taken {
            chosen[k] = Some(cur);
        }
    }
    // Then the others take the best address no other server of theirs holds.
    for (k, &i) in servers.iter().enumerate() {
        if chosen[k].is_some() {
            continue;
        }
        chosen[k] = best(prefs(i), answer, &chosen);
    }
    for (k, &i) in servers.iter().enumerate() {
        let s = &be.rt.servers[i];
        match chosen[k] {
            Some(ip) => {
                let before = s.current_ip().filter(|ip| !ip.is_unspecified());
                if s.set_addr(ip, None) {
                    let old = before.map_or_else(|| "(none)".to_string(), |b| b.to_string());
                    tracing::warn!(
                        "{}/{} changed its IP from {old} to {ip} by resolvers {}.",
                        be.rt.name,
                        s.name,
                        r.name
                    );
                }
                set_maint(be, i, false, "");
            }
            None => set_maint(be, i, true, "No IP for server "),
        }
    }
}

/// The best address of `answer` for a server asking `dns`, among those not in `taken`
/// (unless it allows duplicates): its family first, then its networks, then a free one.
fn best(dns: &ServerDns, answer: &[IpAddr], taken: &[Option<IpAddr>]) -> Option<IpAddr> {
    let mut best: Option<(u32, IpAddr)> = None;
    for &ip in answer {
        let used = taken.contains(&Some(ip));
        if used && !dns.allow_dup_ip {
            continue;
        }
        let family = matches!(
            (dns.prefer, ip),
            (Family::V4, IpAddr::V4(_)) | (Family::V6, IpAddr::V6(_))
        );
        let net = dns.nets.iter().any(|&(n, len)| in_net(ip, n, len));
        let score = 8 * u32::from(family) + 4 * u32::from(net) + 2 * u32::from(!used);
        if best.is_none_or(|(b, _)| score > b) {
            best = Some((score, ip));
        }
    }
    best.map(|(_, ip)| ip)
}

fn in_net(ip: IpAddr, net: IpAddr, len: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dns(prefer: Family, nets: &[(&str, u8)], dup: bool) -> ServerDns {
        ServerDns {
            prefer,
            nets: nets.iter().map(|(n, l)| (n.parse().unwrap(), *l)).collect(),
            allow_dup_ip: dup,
            ..Default::default()
        }
    }

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn the_preferred_family_then_network_then_a_free_address_wins() {
        let answer = ips(&["192.0.2.1", "10.1.0.1", "2001:db8::1"]);
        let v4 = dns(Family::V4, &[], false);
        assert_eq!(best(&v4, &answer, &[]), Some(answer[0]));
        let v6 = dns(Family::V6, &[], false);
        assert_eq!(best(&v6, &answer, &[]), Some(answer[2]));
        let net = dns(Family::V4, &[("10.0.0.0", 8)], false);
        assert_eq!(best(&net, &answer, &[]), Some(answer[1]));
        // Taken addresses are skipped, or only lose points with allow-dup-ip.
        assert_eq!(best(&net, &answer, &[Some(answer[1])]), Some(answer[0]));
        assert_eq!(best(&v4, &answer[..1], &[Some(answer[0])]), None);
        let dup = dns(Family::V4, &[], true);
        assert_eq!(best(&dup, &answer[..1], &[Some(answer[0])]), Some(answer[0]));
    }

    #[test]
    fn networks_match_by_prefix() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(in_net(ip("10.2.3.4"), ip("10.0.0.0"), 8));
        assert!(!in_net(ip("11.2.3.4"), ip("10.0.0.0"), 8));
        assert!(in_net(ip("11.2.3.4"), ip("10.0.0.0"), 0));
        assert!(in_net(ip("2001:db8::5"), ip("2001:db8::"), 32));
        assert!(!in_net(ip("2001:db9::5"), ip("2001:db8::"), 32));
        assert!(!in_net(ip("10.2.3.4"), ip("2001:db8::"), 0));
    }
}
