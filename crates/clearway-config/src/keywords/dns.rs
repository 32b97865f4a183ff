//! The `resolvers` section's keywords, and the server parameters that ask for run-time DNS
//! (`resolvers`, `resolve-prefer`, `resolve-net`, `resolve-opts`, `init-addr`).

use super::{plain, Args, Ctx, Res};
use crate::ast::Directive;
use crate::model::{Family, InitAddr, Nameserver, Resolvers, ServerDns};
use crate::units;

/// The keywords of a `resolvers` section (all acted on).
pub const SECTION: &[&str] = &[
    "nameserver",
    "parse-resolv-conf",
    "hold",
    "resolve_retries",
    "timeout",
    "accepted_payload_size",
];

/// The server parameters of this file.
pub const SERVER_PARAMS: &[&str] = &[
    "resolvers",
    "resolve-prefer",
    "resolve-net",
    "resolve-opts",
    "init-addr",
];

/// Applies one line of `resolvers NAME` to `r`.
pub fn apply(d: &Directive, r: &mut Resolvers, ctx: &mut Ctx) {
    if let Err((m, h)) = line(d, r) {
        ctx.error_hint(&d.span, m, h);
    }
}

fn line(d: &Directive, r: &mut Resolvers) -> Res<()> {
    let mut args = Args::new(d, 1);
    let kw = d.keyword();
    match kw {
        "nameserver" => {
            let (Some(name), Some(addr)) = (args.next(), args.next()) else {
                return Err((
                    "'nameserver' expects a name and an address with its port".into(),
                    Some("e.g. 'nameserver dns1 192.0.2.53:53'".into()),
                ));
            };
            if let Some(w) = args.next() {
                return Err((format!("'nameserver {name}': unexpected '{w}'"), None));
            }
            let expanded = crate::lexer::address(addr);
            let addr: &str = &expanded;
            if r.nameservers.iter().any(|n| n.name == name) {
                return Err((
                    format!("nameserver '{name}' is defined twice in resolvers '{}'", r.name),
                    None,
                ));
            }
            let (tcp, rest) = match addr.split_once('@') {
                Some(("tcp" | "tcp4" | "tcp6", a)) => (true, a),
                Some(("udp" | "udp4" | "udp6", a)) => (false, a),
                Some((p, _)) => {
                    return Err((
                        format!("'nameserver {name} {addr}': the prefix '{p}@' is not one Clearway knows"),
                        Some("use 'udp@' (the default) or 'tcp@'".into()),
                    ))
                }
                None => (false, addr),
            };
            let sa = crate::addr::server_addr(rest)
                .ok()
                .and_then(|(host, port)| match (host, port) {
                    (crate::model::Host::Ip(ip), crate::model::ServerPort::Fixed(p)) if !ip.is_unspecified() => {
                        Some(std::net::SocketAddr::new(ip, p))
                    }
                    _ => None,
                })
                .ok_or_else(|| {
                    (
                        format!("'nameserver {name} {addr}': expected an IP address and a port"),
                        Some("e.g. '192.0.2.53:53' or '[2001:db8::53]:53'".into()),
                    )
                })?;
            r.nameservers.push(Nameserver {
                name: name.to_string(),
                addr: sa,
                tcp,
            });
        }
        "parse-resolv-conf" => {
            if let Some(w) = args.next() {
                return Err((format!("'parse-resolv-conf' takes no value; unexpected '{w}'"), None));
            }
            r.resolv_conf_at = Some(r.nameservers.len());
        }
        "hold" => {
            let (Some(status), Some(t)) = (args.next(), args.next()) else {
                return Err(("'hold' expects a status and a time, e.g. 'hold valid 10s'".into(), None));
            };
            let t = plain(units::time(t))?;
            let slot = match status {
                "valid" => &mut r.hold.valid,
                "nx" => &mut r.hold.nx,
                "refused" => &mut r.hold.refused,
                "timeout" => &mut r.hold.timeout,
                "other" => &mut r.hold.other,
                "obsolete" => &mut r.hold.obsolete,
                other => {
                    return Err((
                        format!("'hold {other}': unknown status"),
                        Some("one of valid, nx, refused, timeout, other, obsolete".into()),
                    ))
                }
            };
            *slot = t;
        }
        "resolve_retries" => {
            let n: u32 = plain(units::int(args.value(kw, "a number").map_err(|e| (e, None))?, kw))?;
            if n == 0 {
                return Err(("'resolve_retries' must be at least 1".into(), None));
            }
            r.resolve_retries = n;
        }
        "accepted_payload_size" => {
            let n: u32 = plain(units::int(
                args.value(kw, "a size in bytes").map_err(|e| (e, None))?,
                kw,
            ))?;
            if !(12..=65535).contains(&n) {
                return Err((
                    format!("'accepted_payload_size' must be between 12 and 65535 (was {n})"),
                    None,
                ));
            }
            r.accepted_payload_size = n as u16;
        }
        "timeout" => {
            let (Some(event), Some(t)) = (args.next(), args.next()) else {
                return Err(("'timeout' expects 'resolve' or 'retry' and a time".into(), None));
            };
            let t = plain(units::time(t))?;
            if t.is_zero() {
                return Err((format!("'timeout {event}' must not be 0"), None));
            }
            match event {
                "resolve" => r.timeout_resolve = t,
                "retry" => r.timeout_retry = t,
                other => {
                    return Err((
                        format!("'timeout {other}': unknown in a resolvers section"),
                        Some("use 'timeout resolve' or 'timeout retry'".into()),
                    ))
                }
            }
        }
        other => {
            return Err((
                format!("unknown keyword '{other}' in a resolvers section"),
                crate::suggest::hint(other, SECTION.iter().copied()),
            ))
        }
    }
    Ok(())
}

/// A DNS parameter of a server line (one of `SERVER_PARAMS`).
pub fn server_param(p: &str, args: &mut Args<'_>, dns: &mut ServerDns) -> Res<()> {
    let v = plain(args.value(p, "a value"))?;
    match p {
        "resolvers" => dns.resolvers = Some(v.to_string()),
        "resolve-prefer" => {
            dns.prefer = match v {
                "ipv4" => Family::V4,
                "ipv6" => Family::V6,
                other => return Err((format!("'resolve-prefer {other}': expected ipv4 or ipv6"), None)),
            }
        }
        "resolve-net" => {
            dns.nets = v
                .split(',')
                .map(|n| crate::rules::parse_net(n).map_err(|e| (format!("'resolve-net': {e}"), None)))
                .collect::<Res<_>>()?;
        }
        "resolve-opts" => {
            for o in v.split(',') {
                match o {
                    "allow-dup-ip" => dns.allow_dup_ip = true,
                    "prevent-dup-ip" => dns.allow_dup_ip = false,
                    "ignore-weight" => dns.ignore_weight = true,
                    other => {
                        return Err((
                            format!("'resolve-opts {other}': unknown option"),
                            Some("allow-dup-ip, prevent-dup-ip or ignore-weight".into()),
                        ))
                    }
                }
            }
        }
        _ => {
            dns.init_addr.clear();
            for m in v.split(',') {
                let method = match m {
                    "last" => InitAddr::Last,
                    "libc" => InitAddr::Libc,
                    "none" => InitAddr::None,
                    ip => InitAddr::Ip(ip.parse().map_err(|_| {
                        (
                            format!("'init-addr {v}': '{ip}' is not a method"),
                            Some("a list of last, libc, none or IP addresses, e.g. 'last,libc,none'".into()),
                        )
                    })?),
                };
                if !dns.init_addr.contains(&method) {
                    dns.init_addr.push(method);
                }
            }
        }
    }
    Ok(())
}

/// Splits `server-template PREFIX NUM|LOW-HIGH ADDR [params]` into the `server` lines it
/// stands for, each with its slot number.
pub fn template_lines(d: &Directive) -> Res<Vec<(Directive, u32)>> {
    let usage = || {
        (
            "'server-template' expects a prefix, a number or range, and an address".to_string(),
            Some("e.g. 'server-template web 1-3 app.example.com:80 check'".into()),
        )
    };
    let (Some(prefix), Some(range), Some(_)) = (d.arg(1), d.arg(2), d.arg(3)) else {
        return Err(usage());
    };
    let bad = || {
        (
            format!("'server-template {prefix} {range}': expected a number or a range such as 1-3"),
            None,
        )
    };
    let (low, high): (u32, u32) = match range.split_once('-') {
        Some((a, b)) => (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?),
        None => (1, range.parse().map_err(|_| bad())?),
    };
    if low == 0 || high < low {
        return Err(bad());
    }
    if high - low >= 10_000 {
        return Err((
            format!("'server-template {prefix} {range}': at most 10000 servers"),
            None,
        ));
    }
    Ok((low..=high)
        .map(|i| {
            let mut words = vec!["server".to_string(), format!("{prefix}{i}")];
            words.extend(d.words[3..].iter().cloned());
            (
                Directive {
                    span: d.span.clone(),
                    words,
                },
                i,
            )
        })
        .collect())
}
