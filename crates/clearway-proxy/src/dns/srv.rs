//! Servers filled from SRV records (`server-template NAME N _service._proto.domain`), as
//! HAProxy fills them: each record (target and port) holds one server while it is answered
//! (and `hold obsolete` after); a new record takes the first free server; the server goes
//! to the target's address (from the answer's additional records, else its own A/AAAA
//! query) and port, with the record's weight scaled to 1-256 (`(w + 255) / 256`) unless
//! `resolve-opts ignore-weight`. Servers without a record are in maintenance.

use super::{absolute, failure, lookup, set_maint, Failure};
use crate::control::actions;
use crate::model::Backend;
use clearway_config::model::{Family, Resolvers};
use hickory_resolver::proto::rr::RData;
use hickory_resolver::TokioResolver;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One SRV record: where, and its weight.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Record {
    target: String,
    port: u16,
    weight: u16,
}

/// What one SRV query gave: the records, and the addresses of targets it carried along.
struct Answer {
    records: Vec<Record>,
    addresses: HashMap<String, Vec<IpAddr>>,
}

fn name_key(n: &hickory_resolver::Name) -> String {
    n.to_ascii().trim_end_matches('.').to_ascii_lowercase()
}

async fn query(resolver: &TokioResolver, label: &str) -> Result<Answer, Failure> {
    let found = resolver.srv_lookup(absolute(label)).await.map_err(|e| failure(&e))?;
    let mut records: Vec<Record> = Vec::new();
    for srv in found.iter() {
        let r = Record {
            target: name_key(srv.target()),
            port: srv.port(),
            weight: srv.weight(),
        };
        if !records.iter().any(|o| o.target == r.target && o.port == r.port) {
            records.push(r);
        }
    }
    let mut addresses: HashMap<String, Vec<IpAddr>> = HashMap::new();
    for rec in found.as_lookup().records() {
        let ip = match rec.data() {
            RData::A(a) => IpAddr::V4(a.0),
            RData::AAAA(a) => IpAddr::V6(a.0),
            _ => continue,
        };
        addresses.entry(name_key(rec.name())).or_default().push(ip);
    }
    if records.is_empty() {
        return Err(Failure::Other);
    }
    Ok(Answer { records, addresses })
}

/// The preferred family's first address, else the first.
fn preferred(ips: &[IpAddr], family: Family) -> Option<IpAddr> {
    let fits = |ip: &&IpAddr| matches!((family, ip), (Family::V4, IpAddr::V4(_)) | (Family::V6, IpAddr::V6(_)));
    ips.iter().find(fits).or(ips.first()).copied()
}

/// Queries `label` forever and fills `slots` (servers of `be`, in config order) from it.
pub(super) async fn run(
    r: Arc<Resolvers>,
    resolver: Arc<TokioResolver>,
    label: String,
    be: Arc<Backend>,
    slots: Vec<usize>,
) {
    let mut last_valid = Instant::now();
    // Records seen, and when last: kept for `hold obsolete` after they leave the answers.
    let mut seen: Vec<(Record, Instant)> = Vec::new();
    // The record each slot holds.
    let mut held: Vec<Option<(String, u16)>> = vec![None; slots.len()];
    loop {
        let pause = match query(&resolver, &label).await {
            Ok(answer) => {
                let now = Instant::now();
                last_valid = now;
                let fresh = |x: &Record| answer.records.iter().any(|a| a.target == x.target && a.port == x.port);
                seen.retain(|(x, at)| !fresh(x) && now.duration_since(*at) <= r.hold.obsolete);
                seen.extend(answer.records.iter().map(|x| (x.clone(), now)));
                fill(&r, &resolver, &be, &slots, &mut held, &seen, &answer.addresses).await;
                r.hold.valid
            }
            Err(f) => {
                tracing::debug!(resolvers = %r.name, "{label}: {}", f.words());
                if last_valid.elapsed() >= f.hold(&r) {
                    for &i in &slots {
                        set_maint(&be, i, true, f.words());
                    }
                }
                r.timeout_resolve
            }
        };
        tokio::time::sleep(pause.max(Duration::from_millis(10))).await;
    }
}

/// Gives each record a slot (the one it had, else the first free one), frees the slots of
/// records gone, and places each held slot at its target.
async fn fill(
    r: &Resolvers,
    resolver: &TokioResolver,
    be: &Backend,
    slots: &[usize],
    held: &mut [Option<(String, u16)>],
    seen: &[(Record, Instant)],
    addresses: &HashMap<String, Vec<IpAddr>>,
) {
    let key = |x: &Record| (x.target.clone(), x.port);
    for h in held.iter_mut() {
        if h.as_ref().is_some_and(|k| !seen.iter().any(|(x, _)| key(x) == *k)) {
            *h = None;
        }
    }
    for (x, _) in seen {
        if held.iter().any(|h| h.as_ref() == Some(&key(x))) {
            continue;
        }
        if let Some(free) = held.iter_mut().find(|h| h.is_none()) {
            *free = Some(key(x));
        }
    }
    for (k, &i) in slots.iter().enumerate() {
        let Some((target, port)) = held[k].clone() else {
            set_maint(be, i, true, "entry removed from SRV record");
            continue;
        };
        let dns = be.side(i).dns.as_ref().expect("a server resolved at run time");
        let ip = match addresses.get(&target) {
            Some(ips) => preferred(ips, dns.prefer),
            None => lookup(resolver, &target)
                .await
                .ok()
                .and_then(|ips| preferred(&ips, dns.prefer)),
        };
        let s = &be.rt.servers[i];
        let Some(ip) = ip else {
            set_maint(be, i, true, "No IP for server ");
            continue;
        };
        let before = s.current_ip().filter(|_| !s.resolution_maint());
        if s.set_addr(ip, Some(port)) {
            let old = before.map_or_else(|| "(none)".to_string(), |b| b.to_string());
            tracing::warn!(
                "{}/{} changed its IP from {old} to {ip} (port {port}, {target}) by resolvers {}.",
                be.rt.name,
                s.name,
                r.name
            );
        }
        if !dns.ignore_weight {
            let weight = seen
                .iter()
                .find(|(x, _)| x.target == target && x.port == port)
                .map_or(1, |(x, _)| x.weight);
            // A static algorithm takes no other weight: it keeps its own.
            let _ = actions::set_weight(be, i, u32::from(weight).div_ceil(256));
        }
        set_maint(be, i, false, "");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_preferred_family_first() {
        let ips: Vec<IpAddr> = ["192.0.2.1", "2001:db8::1"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(preferred(&ips, Family::V6), Some(ips[1]));
        assert_eq!(preferred(&ips, Family::V4), Some(ips[0]));
        assert_eq!(preferred(&ips[1..], Family::V4), Some(ips[1]));
        assert_eq!(preferred(&[], Family::V4), None);
    }
}
