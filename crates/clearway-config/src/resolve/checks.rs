//! Checks across sections once every proxy is built: proxy numbers (`id`), names used
//! twice, `track` targets, servers' `resolvers`, sources, and TLS keywords nothing uses.

use crate::ast::Section;
use crate::keywords::proxy::Caps;
use crate::keywords::Ctx;
use crate::model::{Config, Source};
use std::collections::HashMap;

/// Servers name existing `resolvers` sections, and those that need DNS have a name to
/// resolve.
pub(super) fn check_resolvers(cfg: &Config, ctx: &mut Ctx) {
    for s in cfg.backends.iter().flat_map(|b| &b.servers) {
        let Some(name) = &s.dns.resolvers else {
            if matches!(&s.host, crate::model::Host::Name(h) if h.starts_with('_')) {
                ctx.error_hint(
                    &s.span,
                    format!("server '{}': an SRV label needs run-time DNS", s.name),
                    Some("add 'resolvers NAME' naming a resolvers section".into()),
                );
            }
            continue;
        };
        if !cfg.resolvers.iter().any(|r| &r.name == name) {
            let hint = crate::suggest::hint(name, cfg.resolvers.iter().map(|r| r.name.as_str()))
                .or_else(|| Some(format!("add a section 'resolvers {name}' with its nameservers")));
            ctx.error_hint(
                &s.span,
                format!("server '{}': no resolvers section named '{name}'", s.name),
                hint,
            );
        }
    }
}

/// Global TLS settings Clearway does not act on: refused when a bind or a server uses TLS,
/// without effect otherwise.
pub(super) fn tls_unacted(cfg: &Config, ctx: &mut Ctx) {
    let binds = cfg.frontends.iter().flat_map(|f| &f.binds).any(|b| b.tls.is_some());
    let servers = cfg.backends.iter().flat_map(|b| &b.servers).any(|s| s.ssl);
    for (span, kw) in &cfg.global.tls_unacted {
        let class = if binds || servers {
            crate::keywords::NotActed::Unsupported
        } else {
            crate::keywords::NotActed::NoEffect
        };
        ctx.not_acted(span, &format!("'{kw}'"), kw, class);
    }
}

/// Numbers proxies as HAProxy does: an `id` is kept (two alike are an error); the others
/// take the next free number in file order, from 1 (2 with a stats socket, whose own
/// proxy takes a turn), disabled proxies included.
pub(super) fn number_proxies(
    proxies: &[(&Section, Option<(u32, crate::model::Span)>)],
    cfg: &mut Config,
    ctx: &mut Ctx,
) {
    let mut used: HashMap<u32, &Section> = HashMap::new();
    for (s, id) in proxies {
        if let Some((n, span)) = id {
            if let Some(other) = used.insert(*n, s) {
                ctx.error(
                    span,
                    format!(
                        "{} '{}' has the same id {n} as {} '{}' ({})",
                        s.kind.word(),
                        s.name,
                        other.kind.word(),
                        other.name,
                        other.span
                    ),
                );
            }
        }
    }
    let mut next = if cfg.global.stats_sockets.is_empty() { 1 } else { 2 };
    for (seq, (s, id)) in proxies.iter().enumerate() {
        let uuid = match id {
            Some((n, _)) => *n,
            None => {
                while used.contains_key(&next) {
                    next += 1;
                }
                next
            }
        };
        next += 1;
        let num = crate::model::ProxyNum { seq: seq as u32, uuid };
        let caps = Caps::of(s.kind);
        if caps.frontend {
            if let Some(f) = cfg.frontends.iter_mut().find(|f| f.name == s.name && f.span == s.span) {
                f.num = num;
            }
        }
        if caps.backend {
            if let Some(b) = cfg.backends.iter_mut().find(|b| b.name == s.name && b.span == s.span) {
                b.num = num;
            }
        }
    }
}

/// A `source` with a fixed address must match the server's family (IPv4 vs IPv6); SOCKS4
/// reaches IPv4 addresses only.
pub(crate) fn check_sources(servers: &[crate::model::Server], ctx: &mut Ctx) {
    for srv in servers.iter().filter(|s| s.socks4.is_some()) {
        if let crate::model::Host::Ip(std::net::IpAddr::V6(ip)) = &srv.host {
            ctx.error(
                &srv.span,
                format!(
                    "server '{}': SOCKS4 ('socks4') reaches IPv4 addresses only, not {ip}",
                    srv.name
                ),
            );
        }
    }
    for srv in servers {
        let (Some(Source { addr, span, usesrc, .. }), crate::model::Host::Ip(ip)) = (&srv.source, &srv.host) else {
            continue;
        };
        let fixed = match usesrc {
            Some(crate::model::UseSrc::Addr(a)) => Some(*a),
            None if !addr.ip().is_unspecified() => Some(*addr),
            _ => None,
        };
        if let Some(a) = fixed {
            if a.is_ipv4() != ip.to_canonical().is_ipv4() {
                ctx.error(
                    span,
                    format!(
                        "source address {} and server '{}' ({ip}) are of different address families",
                        a.ip(),
                        srv.name
                    ),
                );
            }
        }
    }
}

/// `track`: the server tracked exists, the chain of tracks ends at a server with `check`,
/// and a tracking server has no checks of its own (HAProxy's rules).
pub(super) fn check_tracks(cfg: &Config, ctx: &mut Ctx) {
    let find = |be: &str, srv: &str| {
        cfg.backends
            .iter()
            .find(|b| b.name == be)
            .and_then(|b| b.servers.iter().find(|s| s.name == srv).map(|s| (b.name.as_str(), s)))
    };
    for b in &cfg.backends {
        for s in b.servers.iter().filter(|s| s.track.is_some()) {
            if s.check.enabled {
                ctx.error(
                    &s.span,
                    format!(
                        "server '{}': 'track' and 'check' cannot be used together (HAProxy refuses it too)",
                        s.name
                    ),
                );
                continue;
            }
            let (mut be, mut cur) = (b.name.as_str(), s);
            let mut hops = 0;
            let end = loop {
                let Some((tb, ts)) = &cur.track else { break Ok(cur) };
                let tb = tb.as_deref().unwrap_or(be);
                match find(tb, ts) {
                    None => break Err(format!("server '{}': 'track {tb}/{ts}': no such server", s.name)),
                    Some((nb, next)) => (be, cur) = (nb, next),
                }
                hops += 1;
                if hops > cfg.backends.iter().map(|b| b.servers.len()).sum::<usize>() {
                    break Err(format!("server '{}': its 'track' chain loops", s.name));
                }
            };
            match end {
                Err(e) => ctx.error(&s.span, e),
                Ok(last) if !last.check.enabled => ctx.error_hint(
                    &s.span,
                    format!(
                        "server '{}' tracks '{be}/{}', which has no health checks",
                        s.name, last.name
                    ),
                    Some(format!("add 'check' to server '{}'", last.name)),
                ),
                Ok(_) => {}
            }
        }
    }
}

pub(super) fn check_names(cfg: &Config, ctx: &mut Ctx) {
    let mut seen: HashMap<(&str, bool), &crate::model::Span> = HashMap::new();
    for (name, span, is_fe) in cfg
        .frontends
        .iter()
        .map(|f| (f.name.as_str(), &f.span, true))
        .chain(cfg.backends.iter().map(|b| (b.name.as_str(), &b.span, false)))
    {
        if let Some(prev) = seen.insert((name, is_fe), span) {
            if prev != span {
                let what = if is_fe { "frontend" } else { "backend" };
                ctx.error(span, format!("{what} '{name}' is already defined at {prev}"));
            }
        }
    }
    let names: Vec<&str> = cfg.backends.iter().map(|b| b.name.as_str()).collect();
    for f in &cfg.frontends {
        let refs = f
            .default_backend
            .iter()
            .map(|n| (n.as_str(), f.default_backend_span.as_ref().unwrap_or(&f.span)))
            .chain(
                f.use_backends
                    .iter()
                    .filter(|u| u.dynamic.is_none())
                    .map(|u| (u.backend.as_str(), &u.span)),
            );
        for (n, span) in refs {
            if !names.contains(&n) {
                let hint = crate::suggest::hint(n, names.iter().copied());
                ctx.error_hint(
                    span,
                    format!("frontend '{}' refers to backend '{n}', which does not exist", f.name),
                    hint,
                );
            }
        }
    }
}

/// Every stick table a rule names (`track-scN ... table T`, `sc_*`/`src_*` fetches, `stick`
/// rules) is some proxy's.
pub(super) fn check_stick_tables(cfg: &Config, ctx: &mut Ctx) {
    let has = |n: &str| {
        (cfg.frontends.iter().any(|f| f.name == n && f.stick_table.is_some()))
            || cfg.backends.iter().any(|b| b.name == n && b.stick_table.is_some())
    };
    for (name, span) in cfg.stick_refs() {
        if !has(&name) {
            ctx.error_hint(
                &span,
                format!("no stick-table named '{name}'"),
                Some("a table is declared with 'stick-table' in the proxy of its name".into()),
            );
        }
    }
}

/// Every backend and server a state fetch names exists (a fetch that names none reads its
/// own proxy, which must then have a backend side, as HAProxy requires).
pub(super) fn check_state_refs(cfg: &Config, ctx: &mut Ctx) {
    for (backend, server, span) in cfg.state_refs() {
        let Some(b) = cfg.backends.iter().find(|b| b.name == backend) else {
            ctx.error_hint(
                &span,
                format!("no backend named '{backend}' (a state fetch reads a backend)"),
                crate::suggest::hint(&backend, cfg.backends.iter().map(|b| b.name.as_str())),
            );
            continue;
        };
        if let Some(s) = server.filter(|s| !b.servers.iter().any(|x| x.name == *s)) {
            ctx.error_hint(
                &span,
                format!("backend '{backend}' has no server named '{s}'"),
                crate::suggest::hint(&s, b.servers.iter().map(|x| x.name.as_str())),
            );
        }
    }
}

/// `last_rule_file` and `last_rule_line` are kept for a request's log line: a rule that
/// read them would see nothing where HAProxy's sees the rule before it (a mode tcp
/// session's, or a request of a frontend that logs no requests), so rules may not.
pub(super) fn check_last_rule_refs(cfg: &Config, ctx: &mut Ctx) {
    for span in cfg.last_rule_refs() {
        ctx.error_hint(
            &span,
            "'last_rule_file' and 'last_rule_line' are not supported in rules by Clearway yet, only in log formats",
            Some("log them ('log-format ... %[last_rule_file]:%[last_rule_line]') instead of testing them".into()),
        );
    }
}

/// Every `capture ... id N` of a frontend names one of its slots.
pub(super) fn check_capture_ids(cfg: &Config, ctx: &mut Ctx) {
    use crate::rules::{CaptureSlot, HttpAction};
    for f in &cfg.frontends {
        let sides = [
            (&f.http.request_rules, f.captures.request.len(), "request"),
            (&f.http.response_rules, f.captures.response.len(), "response"),
        ];
        for (rules, slots, side) in sides {
            for r in rules {
                if let HttpAction::Capture {
                    slot: CaptureSlot::Id(n),
                    ..
                } = r.action
                {
                    if n >= slots {
                        ctx.error_hint(
                            &r.span,
                            format!(
                                "frontend '{}' has no {side} capture slot {n} ({slots} declared)",
                                f.name
                            ),
                            Some(format!("declare it first: 'declare capture {side} len N'")),
                        );
                    }
                }
            }
        }
    }
}

/// Every `cache-use` and `cache-store` names a cache section.
pub(super) fn check_caches(cfg: &Config, ctx: &mut Ctx) {
    use crate::rules::HttpAction;
    let halves = (cfg.frontends.iter().map(|f| &f.http)).chain(cfg.backends.iter().map(|b| &b.http));
    for h in halves {
        for r in h.request_rules.iter().chain(&h.response_rules) {
            if let HttpAction::CacheUse(n) | HttpAction::CacheStore(n) = &r.action {
                if !cfg.caches.iter().any(|c| c.name == *n) {
                    ctx.error_hint(
                        &r.span,
                        format!("no cache named '{n}'"),
                        crate::suggest::hint(n, cfg.caches.iter().map(|c| c.name.as_str())),
                    );
                }
            }
        }
    }
}
