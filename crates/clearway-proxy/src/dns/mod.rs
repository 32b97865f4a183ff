//! Run-time DNS resolution of servers (`resolvers` sections), as HAProxy does it: one task per
//! name and preferred family asks the section's nameservers (all at once, the first valid
//! answer wins) every `hold valid`, or `timeout resolve` after a failure, and places the
//! servers that use the name (`place`); names that are SRV labels fill their servers from the
//! records (`srv`). A server left without an address, or whose name fails for longer than the
//! `hold` of that failure, goes into maintenance (`MAINT (resolution)`) until an answer gives
//! it one. Owns the queries; the state changes go through `control::actions`.

mod place;
mod srv;

use crate::control::actions;
use crate::model::{Backend, Runtime};
use clearway_config::model::{Family, Resolvers};
use hickory_resolver::config::{LookupIpStrategy, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::xfer::Protocol;
use hickory_resolver::TokioResolver;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A section with the nameservers of /etc/resolv.conf in place of its `parse-resolv-conf`.
pub fn with_resolv_conf(r: &Resolvers) -> Resolvers {
    let mut r = r.clone();
    let Some(at) = r.resolv_conf_at.take() else {
        return r;
    };
    match hickory_resolver::system_conf::read_system_conf() {
        Ok((cfg, _)) => {
            let found = cfg
                .name_servers()
                .iter()
                .filter(|n| n.protocol == Protocol::Udp)
                .enumerate()
                .map(|(i, n)| clearway_config::model::Nameserver {
                    name: format!("resolv.conf-{}", i + 1),
                    addr: n.socket_addr,
                    tcp: false,
                })
                .collect::<Vec<_>>();
            let at = at.min(r.nameservers.len());
            r.nameservers.splice(at..at, found);
        }
        Err(e) => tracing::warn!("{}: resolvers '{}': parse-resolv-conf: {e}", r.span, r.name),
    }
    r
}

/// The servers of one backend asking for one name.
type Users = Vec<(Arc<Backend>, Vec<usize>)>;
/// A resolution: its section, name and family, and for an SRV label its backend.
type Key = (String, String, Family, Option<usize>);

/// Starts one resolution task per name and family of the servers resolved at run time (one
/// per backend for an SRV label: its servers are the slots the records fill).
pub fn spawn_all(rt: &Runtime, tasks: &mut tokio::task::JoinSet<()>) {
    // (section, name, family, backend for SRV) -> the servers asking, by backend.
    let mut wanted: Vec<(Key, Users)> = Vec::new();
    for (b, be) in rt.backends.iter().enumerate() {
        for (i, side) in be.sides.iter().enumerate() {
            let (Some(dns), Some(fqdn)) = (&side.dns, be.rt.servers[i].fqdn.as_deref()) else {
                continue;
            };
            let Some(section) = dns.resolvers.clone() else { continue };
            let srv = fqdn.starts_with('_').then_some(b);
            let key = (section, fqdn.to_ascii_lowercase(), dns.prefer, srv);
            let users = match wanted.iter_mut().find(|(k, _)| *k == key) {
                Some((_, users)) => users,
                None => {
                    wanted.push((key, Vec::new()));
                    &mut wanted.last_mut().expect("just pushed").1
                }
            };
            match users.iter_mut().find(|(b, _)| Arc::ptr_eq(b, be)) {
                Some((_, servers)) => servers.push(i),
                None => users.push((be.clone(), vec![i])),
            }
        }
    }
    let mut resolvers: HashMap<(String, Family), Arc<TokioResolver>> = HashMap::new();
    for ((section, fqdn, family, srv), users) in wanted {
        let Some(r) = rt.resolvers.iter().find(|r| r.name == section) else {
            continue;
        };
        let resolver = resolvers
            .entry((section, family))
            .or_insert_with(|| Arc::new(resolver(r, family)))
            .clone();
        if srv.is_some() {
            // One backend per SRV resolution (its key holds the backend).
            for (be, slots) in users {
                tasks.spawn(srv::run(r.clone(), resolver.clone(), fqdn.clone(), be, slots));
            }
        } else {
            tasks.spawn(run(r.clone(), resolver, fqdn, users));
        }
    }
}

/// A resolver asking `r`'s nameservers, without cache (each resolution asks again) or hosts
/// file, as HAProxy's resolvers do.
fn resolver(r: &Resolvers, family: Family) -> TokioResolver {
    let mut cfg = ResolverConfig::new();
    for ns in &r.nameservers {
        let proto = if ns.tcp { Protocol::Tcp } else { Protocol::Udp };
        cfg.add_name_server(NameServerConfig::new(ns.addr, proto));
    }
    let mut opts = ResolverOpts::default();
    opts.timeout = r.timeout_retry;
    opts.attempts = r.resolve_retries as usize;
    opts.cache_size = 0;
    opts.positive_max_ttl = Some(Duration::ZERO);
    opts.negative_max_ttl = Some(Duration::ZERO);
    opts.use_hosts_file = ResolveHosts::Never;
    opts.ndots = 0;
    opts.edns0 = r.accepted_payload_size > 512;
    // The preferred family is asked first, the other when it has no address (HAProxy's
    // query type fallback).
    opts.ip_strategy = match family {
        Family::V4 => LookupIpStrategy::Ipv4thenIpv6,
        Family::V6 => LookupIpStrategy::Ipv6thenIpv4,
    };
    // All nameservers at once: the first valid answer wins.
    opts.num_concurrent_reqs = r.nameservers.len().max(1);
    TokioResolver::builder_with_config(cfg, TokioConnectionProvider::default())
        .with_options(opts)
        .build()
}

/// Why a resolution failed, with the `hold` that says how long servers keep their address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    Nx,
    Refused,
    Timeout,
    Other,
}

impl Failure {
    fn hold(self, r: &Resolvers) -> Duration {
        match self {
            Failure::Nx => r.hold.nx,
            Failure::Refused => r.hold.refused,
            Failure::Timeout => r.hold.timeout,
            Failure::Other => r.hold.other,
        }
    }

    /// HAProxy's words for it.
    fn words(self) -> &'static str {
        match self {
            Failure::Nx => "DNS NX status",
            Failure::Refused => "DNS refused status",
            Failure::Timeout => "DNS timeout status",
            Failure::Other => "unspecified DNS error",
        }
    }
}

/// `fqdn` as an absolute name: no search domain is tried, as in HAProxy.
fn absolute(fqdn: &str) -> String {
    if fqdn.ends_with('.') {
        fqdn.to_string()
    } else {
        format!("{fqdn}.")
    }
}

/// The addresses of `fqdn`, in the order of the answer.
async fn lookup(resolver: &TokioResolver, fqdn: &str) -> Result<Vec<IpAddr>, Failure> {
    let found = resolver.lookup_ip(absolute(fqdn)).await.map_err(|e| failure(&e))?;
    let mut ips: Vec<IpAddr> = Vec::new();
    for ip in found.iter() {
        if !ips.contains(&ip) {
            ips.push(ip);
        }
    }
    if ips.is_empty() {
        Err(Failure::Other)
    } else {
        Ok(ips)
    }
}

/// The kind of a failed resolution.
fn failure(e: &hickory_resolver::ResolveError) -> Failure {
    use hickory_resolver::proto::op::ResponseCode;
    use hickory_resolver::proto::ProtoErrorKind;
    if e.is_nx_domain() {
        return Failure::Nx;
    }
    match e.proto().map(|p| p.kind()) {
        Some(ProtoErrorKind::Timeout) => Failure::Timeout,
        Some(ProtoErrorKind::NoRecordsFound { response_code, .. }) if *response_code == ResponseCode::Refused => {
            Failure::Refused
        }
        _ if e.to_string().contains("timed out") => Failure::Timeout,
        _ => Failure::Other,
    }
}

/// Resolves `fqdn` forever and places the servers of `users` (per backend, in config order).
async fn run(r: Arc<Resolvers>, resolver: Arc<TokioResolver>, fqdn: String, users: Users) {
    let mut last_valid = Instant::now();
    // Addresses seen, and when last: kept for `hold obsolete` after they leave the answers.
    let mut seen: Vec<(IpAddr, Instant)> = Vec::new();
    loop {
        let pause = match lookup(&resolver, &fqdn).await {
            Ok(ips) => {
                let now = Instant::now();
                last_valid = now;
                seen.retain(|(ip, at)| !ips.contains(ip) && now.duration_since(*at) <= r.hold.obsolete);
                let held: Vec<IpAddr> = seen.iter().map(|(ip, _)| *ip).collect();
                seen.extend(ips.iter().map(|ip| (*ip, now)));
                // Fresh answers first, then those still held.
                let answer: Vec<IpAddr> = ips.into_iter().chain(held).collect();
                tracing::debug!(resolvers = %r.name, "{fqdn}: {answer:?}");
                for (be, servers) in &users {
                    place::place(&r, be, servers, &answer);
                }
                r.hold.valid
            }
            Err(f) => {
                tracing::debug!(resolvers = %r.name, "{fqdn}: {}", f.words());
                if last_valid.elapsed() >= f.hold(&r) {
                    for (be, servers) in &users {
                        for &i in servers {
                            set_maint(be, i, true, f.words());
                        }
                    }
                }
                r.timeout_resolve
            }
        };
        tokio::time::sleep(pause.max(Duration::from_millis(10))).await;
    }
}

/// Puts server `i` into maintenance for want of an address (`why`, HAProxy's words), or takes
/// it out.
fn set_maint(be: &Backend, i: usize, on: bool, why: &str) {
    actions::set_resolution_maint(be, i, on, why);
}
