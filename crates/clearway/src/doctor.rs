//! `clearway doctor`: checks, one item a line, what this host needs for the transparent
//! proxying its config asks for (or for all of it, without a config), and prints the exact fix
//! for each missing item. Reads system state only; never changes it.

use clearway_config::model::Config;
use clearway_net::system::{self, Family};
use serde::Serialize;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    Ok,
    Missing,
    NotNeeded,
    /// Works, but may cause trouble; does not fail the check.
    Warning,
    /// Cannot be checked here; does not fail the check.
    Unknown,
    /// Something to verify elsewhere (e.g. on the servers).
    Reminder,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Missing => "MISSING",
            Status::NotNeeded => "NOT NEEDED",
            Status::Warning => "WARNING",
            Status::Unknown => "UNKNOWN",
            Status::Reminder => "REMINDER",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Item {
    pub item: String,
    pub status: Status,
    pub detail: String,
    pub fix: Option<String>,
}

fn item(item: impl Into<String>, status: Status, detail: impl Into<String>, fix: Option<String>) -> Item {
    Item {
        item: item.into(),
        status,
        detail: detail.into(),
        fix,
    }
}

/// What the config asks for, per family.
#[derive(Debug, Default)]
struct Needs {
    v4: bool,
    v6: bool,
    /// (backend, check addresses of its servers) for backends with `usesrc`.
    usesrc: Vec<(String, Vec<SocketAddr>)>,
}

fn needs(cfg: Option<&Config>) -> Needs {
    let Some(cfg) = cfg else {
        return Needs {
            v4: true,
            v6: true,
            usesrc: Vec::new(),
        };
    };
    let (v4, v6) = clearway_proxy::runtime::transparency_families(cfg);
    let mut n = Needs {
        v4,
        v6,
        usesrc: Vec::new(),
    };
    for be in &cfg.backends {
        let mut servers = Vec::new();
        for s in &be.servers {
            let Some(src) = &s.source else { continue };
            if src.usesrc.is_none() {
                continue;
            }
            if let clearway_config::model::Host::Ip(ip) = s.host {
                let port = match s.check.port.or(match s.port {
                    clearway_config::model::ServerPort::Fixed(p) => Some(p),
                    _ => None,
                }) {
                    Some(p) => p,
                    None => continue,
                };
                servers.push(SocketAddr::new(s.check.addr.unwrap_or(ip), port));
            }
        }
        if !servers.is_empty() {
            n.usesrc.push((be.name.clone(), servers));
        }
    }
    n
}

/// The first `check-transparent-source ADDR` of the config: a client-side address to probe from.
pub fn configured_probe_source(cfg: &Config) -> Option<IpAddr> {
    cfg.backends
        .iter()
        .flat_map(|b| &b.servers)
        .find_map(|s| match s.check.return_path {
            clearway_config::model::ReturnPathProbe::From(ip) => Some(ip),
            _ => None,
        })
}

/// Runs every check. `probe_from`: a client-side address for live return-path probes.
pub async fn run(cfg: Option<&Config>, probe_from: Option<IpAddr>) -> Vec<Item> {
    let n = needs(cfg);
    let any = n.v4 || n.v6;
    let mut items = Vec::new();
    let not_needed = |what: &str| {
        item(
            what,
            Status::NotNeeded,
            "the configuration uses no transparent proxying",
            None,
        )
    };

    let cap = "CAP_NET_ADMIN for this process";
    items.push(if !any {
        not_needed(cap)
    } else if clearway_net::caps::can_use_transparent() {
        item(cap, Status::Ok, "transparent sockets may be used", None)
    } else {
        item(
            cap,
            Status::Missing,
            "without it the kernel refuses IP_TRANSPARENT",
            Some("run clearway as root, or: setcap cap_net_admin+ep \"$(command -v clearway)\"".into()),
        )
    });

    let kconfig = system::kernel_config();
    for fam in [Family::V4, Family::V6] {
        let needed = if fam == Family::V4 { n.v4 } else { n.v6 };
        let name = format!("kernel: {} transparent sockets", fam.name());
        items.push(if !needed {
            not_needed(&name)
        } else {
            match system::probe_transparent(fam) {
                Ok(()) => item(name, Status::Ok, "the kernel accepts IP_TRANSPARENT", None),
                Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                    item(name, Status::Unknown, "cannot try without CAP_NET_ADMIN", None)
                }
                Err(e) => item(
                    name,
                    Status::Missing,
                    format!("the kernel refuses the socket option: {e}"),
                    Some("use a kernel with CONFIG_NETFILTER_TPROXY (every distribution kernel has it)".into()),
                ),
            }
        });
    }

    let socket_match = "kernel: netfilter socket match (for the divert rules)";
    let options = ["CONFIG_NETFILTER_XT_MATCH_SOCKET", "CONFIG_NFT_SOCKET"];
    items.push(if any {
        kernel_item(socket_match, &options, kconfig.as_deref())
    } else {
        not_needed(socket_match)
    });

    let auto = cfg.is_some_and(|c| c.global.transparent_setup_auto);
    let tproxy = "kernel: TPROXY (for catch-all transparent binds)";
    let catch_all = cfg.map(clearway_proxy::runtime::catch_all_binds).unwrap_or_default();
    items.push(if cfg.is_some() && catch_all.is_empty() {
        item(
            tproxy,
            Status::NotNeeded,
            "no 'bind :PORT transparent' in the configuration",
            None,
        )
    } else {
        kernel_item(
            tproxy,
            &["CONFIG_NETFILTER_XT_TARGET_TPROXY", "CONFIG_NFT_TPROXY"],
            kconfig.as_deref(),
        )
    });

    for fam in [Family::V4, Family::V6] {
        let needed = if fam == Family::V4 { n.v4 } else { n.v6 };
        items.extend(family_items(fam, needed, auto));
    }

    if any {
        let strict: Vec<String> = system::interfaces()
            .into_iter()
            .filter(|i| system::sysctl(&format!("net/ipv4/conf/{i}/rp_filter")).as_deref() == Some("1"))
            .collect();
        items.push(if strict.is_empty() {
            item(
                "rp_filter",
                Status::Ok,
                "no interface uses strict reverse-path filtering",
                None,
            )
        } else {
            item(
                "rp_filter",
                Status::Warning,
                format!(
                    "strict reverse-path filtering on {} may drop asymmetric traffic",
                    strict.join(", ")
                ),
                Some(
                    strict
                        .iter()
                        .map(|i| format!("sysctl -w net.ipv4.conf.{i}.rp_filter=2"))
                        .collect::<Vec<_>>()
                        .join("; "),
                ),
            )
        });
    }

    for (backend, servers) in &n.usesrc {
        let list = servers
            .iter()
            .map(|s| s.ip().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let name = format!("return path of backend '{backend}'");
        let Some(from) = probe_from else {
            items.push(item(
                name,
                Status::Reminder,
                format!(
                    "the servers ({list}) must send their replies to client addresses through this host \
                     (their default gateway, or a route to the clients' networks via this host); \
                     'clearway doctor --probe' (with 'check-transparent-source ADDR' on a server) or \
                     '--probe-from CLIENT_IP' tests it"
                ),
                None,
            ));
            continue;
        };
        for server in servers {
            items.push(probe(&name, from, *server).await);
        }
    }
    items
}

/// A kernel feature that any one of `options` provides, read from the kernel's build config.
fn kernel_item(title: &str, options: &[&str], kconfig: Option<&str>) -> Item {
    let Some(k) = kconfig else {
        return item(
            title,
            Status::Unknown,
            "no /proc/config.gz or /boot/config-* to read",
            None,
        );
    };
    let found: Vec<&str> = options
        .iter()
        .copied()
        .filter(|o| system::kernel_option(k, o).is_some())
        .collect();
    if found.is_empty() {
        let any_of = options.join(" or ");
        item(
            title,
            Status::Missing,
            format!("none of {any_of} is built"),
            Some(format!("use a kernel built with {any_of}")),
        )
    } else {
        item(title, Status::Ok, found.join(", "), None)
    }
}

/// Sysctl, divert rule, policy rule and local route for one family. With `auto`, Clearway
/// installs the last three itself at start-up.
fn family_items(fam: Family, needed: bool, auto: bool) -> Vec<Item> {
    let f = fam.name();
    let (v6, ipt, any_addr) = match fam {
        Family::V4 => ("", "iptables", "0.0.0.0/0"),
        Family::V6 => (" -6", "ip6tables", "::/0"),
    };
    let forward_key = match fam {
        Family::V4 => "net/ipv4/ip_forward",
        Family::V6 => "net/ipv6/conf/all/forwarding",
    };
    let names = [
        format!("sysctl {}=1", forward_key.replace('/', ".")),
        format!("{f} divert rules (packets of local sockets get a mark)"),
        format!("{f} policy routing rule for the mark"),
        format!("{f} local route in that table"),
    ];
    if !needed {
        return names
            .into_iter()
            .map(|n| {
                item(
                    n,
                    Status::NotNeeded,
                    format!("the configuration uses no {f} transparent proxying"),
                    None,
                )
            })
            .collect();
    }
    let [n_fwd, n_div, n_rule, n_route] = names;
    let mut out = Vec::new();
    if auto {
        let by_us = "clearway installs it at start-up and removes it at exit (transparent-setup auto)";
        out.extend([&n_div, &n_rule, &n_route].map(|n| item(n.clone(), Status::Ok, by_us, None)));
    }
    out.push(match system::sysctl(forward_key).as_deref() {
        Some("1") => item(n_fwd, Status::Ok, "forwarding is on", None),
        // The proxied flows are delivered locally by the divert; forwarding matters for the rest
        // of the traffic when this host is the servers' or clients' gateway.
        v => item(
            n_fwd,
            Status::Warning,
            format!(
                "is {}: fine for the proxied connections, but other traffic between clients and servers \
                 is not routed through this host",
                v.unwrap_or("unreadable")
            ),
            Some(format!("sysctl -w {}=1", forward_key.replace('/', "."))),
        ),
    });
    if auto {
        return out;
    }
    let divert = system::divert_rule(fam);
    let mark = divert.as_ref().map_or(1, |d| d.mark);
    out.push(match &divert {
        Some(d) => item(
            n_div,
            Status::Ok,
            format!("found in {}, mark {:#x}", d.source, d.mark),
            None,
        ),
        None => item(
            n_div,
            Status::Missing,
            "packets for transparent sockets are not diverted to local delivery",
            Some(format!(
                "{ipt} -t mangle -N DIVERT; {ipt} -t mangle -A PREROUTING -p tcp -m socket -j DIVERT; \
                 {ipt} -t mangle -A DIVERT -j MARK --set-mark 1; {ipt} -t mangle -A DIVERT -j ACCEPT"
            )),
        ),
    });
    let table = system::fwmark_table(fam, mark);
    out.push(match &table {
        Some(t) => item(n_rule, Status::Ok, format!("fwmark {mark:#x} looks up table {t}"), None),
        None => item(
            n_rule,
            Status::Missing,
            format!("no 'ip rule' sends mark {mark:#x} to a table with a local route"),
            Some(format!("ip{v6} rule add fwmark {mark} lookup 100")),
        ),
    });
    let t = table.unwrap_or_else(|| "100".into());
    out.push(if system::has_local_default(fam, &t) {
        item(
            n_route,
            Status::Ok,
            format!("table {t} delivers everything locally"),
            None,
        )
    } else {
        item(
            n_route,
            Status::Missing,
            format!("table {t} has no 'local {any_addr} dev lo' route"),
            Some(format!("ip{v6} route add local {any_addr} dev lo table {t}")),
        )
    });
    out
}

/// A spoofed connection from `from` to `server`: answered means the return path works.
async fn probe(name: &str, from: IpAddr, server: SocketAddr) -> Item {
    let title = format!("{name}: {server} from {from}");
    if from.is_ipv4() != server.ip().to_canonical().is_ipv4() {
        return item(
            title,
            Status::NotNeeded,
            "the client address is of the other family",
            None,
        );
    }
    let bind = clearway_net::SourceBind {
        addr: SocketAddr::new(from, 0),
        transparent: true,
        interface: None,
        port_range: None,
        port_hint: 0,
    };
    match clearway_net::connect::connect(server, Some(&bind), Some(Duration::from_secs(2)), false, None).await {
        Ok(_) => item(title, Status::Ok, "answered through this host", None),
        Err(e) if e.error.kind() == std::io::ErrorKind::ConnectionRefused => {
            item(title, Status::Ok, "answered (refused) through this host", None)
        }
        Err(e) if e.stage == clearway_net::ConnectStage::Timeout => item(
            title,
            Status::Missing,
            "no answer within 2 s: the server's replies to client addresses do not come back through this host",
            Some(format!(
                "on the server: route the clients' network via this host, e.g. 'ip route add {}/24 via THIS_HOST'",
                from
            )),
        ),
        Err(e) => item(title, Status::Unknown, format!("probe not run: {e}"), None),
    }
}

/// Prints the checklist; returns whether everything needed is in place.
pub fn print(items: &[Item], json: bool, what: &str) -> bool {
    let ok = !items.iter().any(|i| i.status == Status::Missing);
    if json {
        match serde_json::to_string_pretty(items) {
            Ok(s) => println!("{s}"),
            Err(e) => eprintln!("clearway doctor: {e}"),
        }
        return ok;
    }
    println!("clearway doctor: transparent proxying {what}");
    for i in items {
        println!("  {:<11} {}", i.status.label(), i.item);
        if i.status != Status::Ok && i.status != Status::NotNeeded {
            println!("  {:<11} {}", "", i.detail);
        }
        if let Some(fix) = &i.fix {
            println!("  {:<11} fix: {fix}", "");
        }
    }
    let missing = items.iter().filter(|i| i.status == Status::Missing).count();
    if missing == 0 {
        println!("everything needed is in place");
    } else {
        println!("{missing} item(s) missing: transparent proxying will not work until they are fixed");
    }
    ok
}
