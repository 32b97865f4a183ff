//! Building the live model (`model::Runtime`) from a validated config: server names resolved,
//! frontends linked to their backends, pools, queues, loggers and TLS set up. Also the
//! start-up checks that need the system (capabilities for transparency).
//! Must not accept connections.

use crate::acl::Cond;
use crate::checks::CheckSpec;
use crate::error::BuildError;
use crate::http::pool::Need;
use crate::http::{HttpRules, Pool};
use crate::model::{Backend, Frontend, Runtime, Switch};
use crate::queue::Queue;
use clearway_config::model::{self, Host, Mode, Span};
use clearway_core::{BackendRt, ServerRt};
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;

/// Which CPUs each of `threads` worker threads is bound to by the `cpu-map` lines (thread
/// numbers from 1, as written); None: no line names it. Lines for other thread groups, and
/// threads past `threads`, are ignored; a later line for a thread replaces an earlier one.
/// With `auto:` the named threads take the named CPUs one each, in order.
pub fn thread_cpus(maps: &[model::CpuMap], threads: usize) -> Vec<Option<(Vec<usize>, Span)>> {
    use clearway_config::model::MAX_CPU;
    let mut out = vec![None; threads];
    for m in maps.iter().filter(|m| m.first_group) {
        let named: Vec<usize> = match &m.threads {
            None => (1..=threads).collect(),
            Some(t) => t.expand(threads),
        };
        let named = named.into_iter().filter(|&t| (1..=threads).contains(&t));
        let mut cpus: Vec<usize> = m.cpus.iter().flat_map(|c| c.expand(MAX_CPU)).collect();
        if m.auto {
            for (t, cpu) in named.zip(cpus) {
                out[t - 1] = Some((vec![cpu], m.span.clone()));
            }
        } else {
            cpus.sort_unstable();
            cpus.dedup();
            for t in named {
                out[t - 1] = Some((cpus.clone(), m.span.clone()));
            }
        }
    }
    out
}

/// The worker thread count of a config: `nbthread`, else one per CPU.
pub fn threads(cfg: &model::Config) -> usize {
    cfg.global
        .nbthread
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1)
}

/// The process-wide connection limit when `maxconn` is not set: half the file descriptors
/// (each session uses a client and a server socket), keeping a few for listeners and logs.
pub fn default_global_maxconn(nofile: u64) -> u32 {
    (nofile.saturating_sub(64) / 2).clamp(1, u64::from(u32::MAX)) as u32
}

/// HAProxy's `fullconn` when none is set: a tenth (rounded up, at least 1) of the `maxconn`
/// of the frontends that may send sessions to the backend, by `default_backend` or a
/// `use_backend` rule (each frontend counted once).
pub fn default_fullconn(cfg: &model::Config, backend: &str, global_maxconn: u32) -> u32 {
    let total: u64 = cfg
        .frontends
        .iter()
        .filter(|f| {
            f.default_backend.as_deref() == Some(backend) || f.use_backends.iter().any(|u| u.backend == backend)
        })
        .map(|f| u64::from(f.maxconn.unwrap_or(global_maxconn)))
        .sum();
    total.div_ceil(10).clamp(1, u64::from(u32::MAX)) as u32
}

/// Makes the proxies' stick tables (a `listen` section's once; the configuration checked
/// that every table a rule names is one of them).
fn stick_tables(cfg: &model::Config) {
    let mut tables = std::collections::HashMap::new();
    let mut order = Vec::new();
    let server_tables = cfg.server_tables();
    let defs = (cfg.frontends.iter().map(|f| (&f.name, &f.stick_table)))
        .chain(cfg.backends.iter().map(|b| (&b.name, &b.stick_table)));
    for (name, def) in defs {
        if let Some(t) = def {
            if !tables.contains_key(name) {
                order.push(name.clone());
            }
            tables.entry(name.clone()).or_insert_with(|| {
                let expire = t.expire.map(|e| e.as_millis() as u64);
                let store = model::StickStore {
                    server_id: server_tables.contains(&name.as_str()),
                    ..t.store
                };
                let table = clearway_core::stick::Table::new(name, store, t.size, expire, t.nopurge)
                    .keyed_by_addr(t.srvkey_addr);
                (Arc::new(table), t.kind, t.len)
            });
        }
    }
    crate::stick::install(tables, order);
}

impl Runtime {
    /// Resolves server names and links frontends to backends. Listeners are opened separately
    /// (`open_listeners`) so that a test can build a runtime without binding.
    pub fn build(cfg: &model::Config, nofile: u64) -> Result<Arc<Runtime>, BuildError> {
        crate::acl::set_process_vars(&cfg.proc_var_names(), &cfg.global.set_vars);
        stick_tables(cfg);
        crate::http::cache::install(&cfg.caches);
        crate::process::uptime_secs();
        crate::http::client_h1::set_max_head(cfg.global.max_request_head());
        crate::http::decode::set_max_headers(usize::from(cfg.global.maxhdr.unwrap_or(101)));
        crate::http::compress::set_level(cfg.global.comp_maxlevel.unwrap_or(1));
        clearway_sample::conv::time::set_local_offset(clearway_net::process::local_offset);
        let mut backends = Vec::with_capacity(cfg.backends.len());
        // As many pool shards as worker threads.
        let threads = threads(cfg);
        let global_maxconn = cfg.global.maxconn.unwrap_or_else(|| default_global_maxconn(nofile));
        let max_idle = global_maxconn as usize;
        // Whether an operator can end sessions at run time: a stats socket, or a stats page
        // with admin rights.
        let admin_page = |h: &model::HttpSettings| h.stats.as_ref().is_some_and(|p| !p.admin.is_empty());
        let killable = !cfg.global.stats_sockets.is_empty()
            || cfg.frontends.iter().any(|f| admin_page(&f.http))
            || cfg.backends.iter().any(|b| admin_page(&b.http));
        let log_globals = crate::log::Globals::open(&cfg.global).map_err(|(span, m)| BuildError::new(&span, m))?;
        let rate_read = cfg.rate_read_backends();
        let srv_rate_read = cfg.rate_read_servers();
        for (id, b) in cfg.backends.iter().enumerate() {
            let servers = b
                .servers
                .iter()
                .zip(b.server_ids())
                .map(|(s, id)| {
                    let rate = srv_rate_read.contains(&format!("{}/{}", b.name, s.name));
                    let rt = ServerRt::new(s, resolve(s)?).with_id(id).counting_rate(rate);
                    Ok(rt.for_threads(threads))
                })
                .collect::<Result<Vec<_>, BuildError>>()?;
            let mut check = CheckSpec::new(b.options.check.clone(), &b.options, b.timeouts);
            if let model::CheckKind::External { .. } = &b.options.check {
                check.external = Some(external_proxy(cfg, b));
            }
            let cx = crate::model::side::Context {
                backend: b,
                check: &check,
                killable,
                threads,
            };
            let sides = b
                .servers
                .iter()
                .zip(&servers)
                .map(|(s, rt)| crate::model::side::ServerSide::new(&cx, s, rt, false))
                .collect::<Result<clearway_core::AppendOnly<_>, BuildError>>()?;
            // A connection that began with a PROXY protocol header speaks for one client: as in
            // HAProxy, it stays that client's session's own (`http-reuse never`).
            // So is one to a transparent backend's original destinations (HAProxy treats them
            // as private too).
            let private = b.servers.iter().any(|s| s.send_proxy.on()) || b.options.transparent;
            let mut http = HttpRules::new(
                &b.http,
                (b.options.forwardfor.clone(), b.options.originalto.clone()),
                &b.name,
            );
            if private {
                http.reuse = model::HttpReuse::Never;
            }
            let http = http.with_options(&b.options);
            let sni_from_request = sides
                .iter()
                .any(|s| s.tls.as_ref().is_some_and(|t| t.sni_fetch.is_some()));
            backends.push(Arc::new(Backend {
                id: clearway_core::BackendId(id as u32),
                num: b.num,
                rt: BackendRt::new(b, servers)
                    .with_fullconn(
                        b.fullconn
                            .unwrap_or_else(|| default_fullconn(cfg, &b.name, global_maxconn)),
                    )
                    .for_threads(threads)
                    .counting_rate(rate_read.contains(&b.name)),
                mode: b.mode,
                queue: Queue::default(),
                conf: Arc::new(b.clone()),
                check: Arc::new(check),
                sides,
                http,
                tcp_rules: crate::inspect::TcpRules::new(&b.tcp_rules),
                use_servers: b
                    .use_servers
                    .iter()
                    .map(|u| (Cond::new(&u.condition), u.server))
                    .collect(),
                persist_rules: b
                    .persist_rules
                    .iter()
                    .map(|r| (r.force, Cond::new(&r.condition)))
                    .collect(),
                cookie: b
                    .cookie
                    .as_ref()
                    .map(|c| crate::http::cookie::CookiePersist::new(c, b.servers.iter().map(|s| s.cookie.as_deref()))),
                sticking: crate::stick::Sticking::new(&b.stick_rules),
                retry_on: b.retry_on.clone(),
                persist: b.options.persist,
                checkcache: b.options.checkcache && b.mode == model::Mode::Http,
                abortonclose: b.options.abortonclose,
                none_left: Default::default(),
                disabled: b.disabled,
                pool: Arc::new(Pool::with_needs(
                    // No cap per key but the connection limit: each server's `pool-max-conn`
                    // and its estimated need decide how many stay idle.
                    if b.http.reuse == model::HttpReuse::Never || private {
                        0
                    } else {
                        max_idle
                    },
                    b.timeouts.http_keep_alive.unwrap_or(std::time::Duration::from_secs(60)),
                    threads,
                    b.servers.iter().map(|s| Need::new(&s.pool, global_maxconn)).collect(),
                )),
                sni_from_request,
                hdr_ip: crate::http::HdrIp::of(b),
                smart_connect: b.options.smart_connect,
                keepalive: b
                    .options
                    .srvtcpka
                    .then(|| crate::listen::keepalive(&b.options.srvtcpka_timers)),
                balance: b.balance.clone(),
                prefer_last_server: b.options.prefer_last_server,
                log_health_checks: b.options.log_health_checks,
                events: crate::log::Globals::for_backend(b, &log_globals)
                    .map_err(|(span, m)| BuildError::new(&span, m))?,
            }));
        }
        link_trackers(&backends);
        pin_named_servers(cfg, &backends);
        let find = |name: &str, span: &Span| {
            backends
                .iter()
                .find(|b| b.rt.name == name)
                .cloned()
                .ok_or_else(|| BuildError::new(span, format!("no backend named '{name}'")))
        };
        let global_conns = Arc::new(crate::limit::Limit::new(global_maxconn));
        let mut frontends = Vec::with_capacity(cfg.frontends.len());
        for f in &cfg.frontends {
            let find = |name: &str, span: &Span| {
                let b = find(name, span)?;
                if b.mode != f.mode {
                    let word = |m: Mode| if m == Mode::Http { "http" } else { "tcp" };
                    return Err(BuildError::new(
                        span,
                        format!(
                            "frontend '{}' is in 'mode {}' but backend '{name}' is in 'mode {}' \
                             (hint: give both the same mode)",
                            f.name,
                            word(f.mode),
                            word(b.mode)
                        ),
                    ));
                }
                Ok(b)
            };
            let switching = f
                .use_backends
                .iter()
                .map(|u| {
                    let to = match &u.dynamic {
                        Some(t) => Switch::Named(t.clone()),
                        None => Switch::To(find(&u.backend, &u.span)?),
                    };
                    Ok((u.condition.as_ref().map(Cond::new), to))
                })
                .collect::<Result<Vec<_>, BuildError>>()?;
            let backend = match &f.default_backend {
                Some(name) => Some(find(name, &f.span)?),
                None => None,
            };
            let logger = crate::log::Logger::build(f, &log_globals).map_err(|(span, m)| BuildError::new(&span, m))?;
            let dynamic = switching.iter().any(|(_, to)| matches!(to, Switch::Named(_)));
            let mut fe = Frontend::new(f, switching, backend, global_maxconn)
                .for_threads(threads)
                .with_logger(logger);
            fe.global_conns = Some(global_conns.clone());
            if let Some((text, span)) = &f.unique_id_format {
                let format = crate::log::format::Format::parse(text)
                    .map_err(|e| BuildError::new(span, format!("unique-id-format: {e}")))?;
                let header =
                    (f.unique_id_header.as_deref()).and_then(|h| http::HeaderName::from_bytes(h.as_bytes()).ok());
                fe.unique_id = Some((format, header));
            }
            if dynamic {
                fe.by_name = (backends.iter())
                    .filter(|b| b.mode == f.mode && !b.disabled)
                    .map(|b| (b.rt.name.as_str().into(), b.clone()))
                    .collect();
            }
            if f.options.socket_stats {
                fe.listeners = listener_stats(f, threads);
            }
            if !cfg.global.stats_sockets.is_empty() {
                fe.sessions = Some(Arc::new(crate::sessions::Sessions::new(threads)));
            }
            frontends.push(Arc::new(fe));
        }
        crate::model::install_backends(&backends);
        let rt = Arc::new(Runtime {
            frontends,
            backends,
            global_conns,
            global_maxconn,
            threads,
            thread_cpus: thread_cpus(&cfg.global.cpu_maps, threads),
            conn_rate: Default::default(),
            maxconnrate: cfg.global.maxconnrate,
            maxsessrate: cfg.global.maxsessrate,
            spread_checks: cfg.global.spread_checks,
            max_spread_checks: cfg.global.max_spread_checks,
            tls_defaults: cfg.tls_defaults.clone(),
            resolvers: cfg
                .resolvers
                .iter()
                .map(|r| Arc::new(crate::dns::with_resolv_conf(r)))
                .collect(),
            busy_polling: cfg.global.busy_polling,
            log: {
                let g = Arc::new(log_globals);
                if !g.is_empty() {
                    crate::log::set_process_targets(g.clone());
                }
                g
            },
        });
        for fe in &rt.frontends {
            let _ = fe.runtime.set(Arc::downgrade(&rt));
        }
        Ok(rt)
    }
}

/// The statistics of each listening socket of `f` (`option socket-stats`), in the order
/// `listen::open_listeners` opens them, numbered as `listener_ids` says and named by the
/// bind's `name`, else `sock-N`.
fn listener_stats(f: &model::Frontend, threads: usize) -> Vec<Arc<clearway_core::ListenerRt>> {
    let mut ids = listener_ids(f).into_iter();
    let mut out = Vec::new();
    for b in &f.binds {
        let addrs = b.addrs.iter().map(|a| a.to_string());
        for addr in addrs.chain(b.fds.iter().map(|fd| format!("fd@{fd}"))) {
            let id = ids.next().unwrap_or(0);
            let name = b.name.clone().unwrap_or_else(|| format!("sock-{id}"));
            out.push(Arc::new(clearway_core::ListenerRt::new(
                name, id, addr, b.maxconn, threads,
            )));
        }
    }
    out
}

/// The number of each listening socket of `f`, in the order they are opened (bind lines in
/// order, each one's addresses then its inherited descriptors), as HAProxy numbers them: a
/// bind's `id`, else the first number from a counter that is not taken, the counter moving
/// on past every socket, numbered or not.
pub(crate) fn listener_ids(f: &model::Frontend) -> Vec<u32> {
    let mut used: Vec<u32> = f.binds.iter().filter_map(|b| b.id).collect();
    let mut next = 1;
    let mut out = Vec::new();
    for b in &f.binds {
        for _ in 0..b.addrs.len() + b.fds.len() {
            let id = match b.id {
                Some(id) => id,
                None => {
                    while used.contains(&next) {
                        next += 1;
                    }
                    used.push(next);
                    next
                }
            };
            out.push(id);
            next += 1;
        }
    }
    out
}

/// What an external check tells its program of backend `b`: the first address of its
/// `listen` section (`NOT_USED` for a backend), and its proxy id as the statistics number it.
fn external_proxy(cfg: &model::Config, b: &model::Backend) -> crate::checks::spec::ExternalProxy {
    let first = if b.from_listen {
        cfg.frontend(&b.name)
            .and_then(|f| f.binds.iter().flat_map(|x| &x.addrs).next())
    } else {
        None
    };
    let mut names: Vec<&str> = Vec::new();
    for n in cfg
        .frontends
        .iter()
        .map(|f| f.name.as_str())
        .chain(cfg.backends.iter().map(|b| b.name.as_str()))
    {
        if !names.contains(&n) {
            names.push(n);
        }
    }
    let first_id = if cfg.global.stats_sockets.is_empty() { 1 } else { 2 };
    let id = names
        .iter()
        .position(|n| *n == b.name)
        .map_or(0, |i| i as u32 + first_id);
    let (addr, port) = match first {
        Some(a) => (a.ip().to_string(), a.port().to_string()),
        None => ("NOT_USED".to_string(), "NOT_USED".to_string()),
    };
    crate::checks::spec::ExternalProxy { addr, port, id }
}

/// A server's address at start-up, by its `init-addr` methods in turn (HAProxy's default:
/// `last,libc`, then `none` with `resolvers`). None: it starts without one, in maintenance.
fn resolve(s: &model::Server) -> Result<Option<IpAddr>, BuildError> {
    use clearway_config::model::InitAddr;
    let name = match &s.host {
        Host::Ip(ip) => return Ok(Some(*ip)),
        Host::Name(name) => name,
    };
    let mut failed = false;
    for method in s.dns.init_methods() {
        match method {
            // Clearway keeps no server-state file: nothing was recorded.
            InitAddr::Last => {}
            // An SRV label has no address of its own.
            InitAddr::Libc if name.starts_with('_') => {}
            InitAddr::Libc => {
                let found = (name.as_str(), 0)
                    .to_socket_addrs()
                    .ok()
                    .and_then(|mut it| it.next())
                    .map(|a: SocketAddr| a.ip());
                if found.is_some() {
                    return Ok(found);
                }
                failed = true;
            }
            InitAddr::None => {
                if failed {
                    tracing::warn!(
                        "{}: server '{}': cannot resolve '{name}': starting in maintenance until DNS answers",
                        s.span,
                        s.name
                    );
                }
                return Ok(None);
            }
            InitAddr::Ip(ip) => {
                if failed {
                    tracing::warn!(
                        "{}: server '{}': cannot resolve '{name}': starting with {ip} ('init-addr')",
                        s.span,
                        s.name
                    );
                }
                return Ok(Some(ip));
            }
        }
    }
    let hint = if s.dns.resolvers.is_some() {
        " (with 'none' in its 'init-addr' it would start without an address and wait for DNS)"
    } else {
        ""
    };
    Err(BuildError::new(
        &s.span,
        format!("server '{}': cannot resolve '{name}'{hint}", s.name),
    ))
}

/// The lines of a config that need the right to use foreign addresses (IP_TRANSPARENT):
/// transparent binds and `usesrc`.
pub fn transparency_needs(cfg: &model::Config) -> Vec<(Span, String)> {
    let mut needs = Vec::new();
    for f in &cfg.frontends {
        for b in f.binds.iter().filter(|b| b.transparent) {
            needs.push((
                b.span.clone(),
                format!("'bind {} transparent' in frontend '{}'", b.text, f.name),
            ));
        }
    }
    for b in &cfg.backends {
        let mut seen = std::collections::HashSet::new();
        for s in &b.servers {
            if let Some(src) = s.source.as_ref().filter(|s| s.is_transparent()) {
                if seen.insert(src.span.clone()) {
                    needs.push((src.span.clone(), format!("'usesrc' in backend '{}'", b.name)));
                }
            }
        }
    }
    needs
}

/// Which address families the config's transparent binds and `usesrc` servers use.
pub fn transparency_families(cfg: &model::Config) -> (bool, bool) {
    let (mut v4, mut v6) = (false, false);
    for b in cfg.frontends.iter().flat_map(|f| &f.binds).filter(|b| b.transparent) {
        for a in &b.addrs {
            match a.ip() {
                std::net::IpAddr::V4(_) => v4 = true,
                std::net::IpAddr::V6(ip) if ip.is_unspecified() && !b.v6only => (v4, v6) = (true, true),
                std::net::IpAddr::V6(_) => v6 = true,
            }
        }
    }
    for s in cfg.backends.iter().flat_map(|b| &b.servers) {
        if s.source.as_ref().is_some_and(|src| src.usesrc.is_some()) {
            match s.host {
                Host::Ip(ip) if ip.to_canonical().is_ipv6() => v6 = true,
                _ => v4 = true,
            }
        }
    }
    (v4, v6)
}

/// Catch-all transparent binds (`bind :PORT transparent`): the ports to intercept for any
/// destination, per family (an IPv6 wildcard without `v6only` takes IPv4 too).
pub fn catch_all_binds(cfg: &model::Config) -> Vec<(clearway_net::system::Family, u16)> {
    use clearway_net::system::Family;
    let mut out = Vec::new();
    for b in cfg.frontends.iter().flat_map(|f| &f.binds).filter(|b| b.transparent) {
        for a in b.addrs.iter().filter(|a| a.ip().is_unspecified()) {
            if a.is_ipv6() {
                out.push((Family::V6, a.port()));
                if !b.v6only {
                    out.push((Family::V4, a.port()));
                }
            } else {
                out.push((Family::V4, a.port()));
            }
        }
    }
    out.sort_by_key(|(f, p)| (*p, *f == Family::V6));
    out.dedup();
    out
}

/// Fails when the config needs transparency and this process may not use it.
pub fn check_transparency_rights(cfg: &model::Config) -> Result<(), BuildError> {
    let needs = transparency_needs(cfg);
    match needs.first() {
        Some((span, what)) if !clearway_net::caps::can_use_transparent() => Err(BuildError::new(
            span,
            format!(
                "{what} needs the CAP_NET_ADMIN capability, which this process does not have \
                 (hint: run clearway as root, or grant it with `setcap cap_net_admin+ep` on the binary)"
            ),
        )),
        _ => Ok(()),
    }
}

/// Tells each tracked server (`track`) which servers follow it.
fn link_trackers(backends: &[Arc<Backend>]) {
    for b in backends {
        for (i, side) in b.sides.iter().enumerate() {
            if let Some(target) = side.tracks.as_deref().and_then(|t| find_server(backends, t)) {
                // The configuration checked that the tracked server exists.
                target
                    .trackers
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(crate::model::Tracker {
                        be: Arc::downgrade(b),
                        server: i,
                    });
                target.pin();
            }
        }
    }
}

/// Marks the servers the configuration names elsewhere than their own line (`use-server`,
/// a state fetch's argument, run-time DNS): `del server` keeps them, as HAProxy does.
fn pin_named_servers(cfg: &model::Config, backends: &[Arc<Backend>]) {
    for be in backends {
        for &(_, i) in &be.use_servers {
            be.side(i).pin();
        }
        be.sides.iter().filter(|s| s.dns.is_some()).for_each(|s| s.pin());
    }
    for (b, s, _) in cfg.state_refs() {
        if let Some(side) = s.and_then(|s| find_server(backends, &format!("{b}/{s}"))) {
            side.pin();
        }
    }
}

/// The server named `backend/server` (not deleted).
pub fn find_server<'a>(backends: &'a [Arc<Backend>], name: &str) -> Option<&'a crate::model::side::ServerSide> {
    let (tb, ts) = name.split_once('/')?;
    let be = backends.iter().find(|x| x.rt.name == tb)?;
    Some(be.side(be.server_index(ts)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn maps(lines: &str) -> Vec<model::CpuMap> {
        let text = format!("global\n{lines}");
        let loaded = clearway_config::parse_str("t.cfg", &text).expect("config");
        loaded.config.global.cpu_maps
    }

    fn cpus(lines: &str, threads: usize) -> Vec<Option<Vec<usize>>> {
        thread_cpus(&maps(lines), threads)
            .into_iter()
            .map(|t| t.map(|(c, _)| c))
            .collect()
    }

    #[test]
    fn cpu_map_lines_bind_threads_as_haproxy_does() {
        assert_eq!(
            cpus("    cpu-map auto:1/1-2 0-1\n", 2),
            vec![Some(vec![0]), Some(vec![1])]
        );
        assert_eq!(
            cpus("    cpu-map 1/all 1 0\n", 2),
            vec![Some(vec![0, 1]), Some(vec![0, 1])]
        );
        assert_eq!(cpus("    cpu-map 1/2 3\n", 3), vec![None, Some(vec![3]), None]);
        // Not enough CPUs for `auto:`: the threads left over are not bound.
        assert_eq!(cpus("    cpu-map auto:1/1-2 0\n", 2), vec![Some(vec![0]), None]);
        // An open range of threads ends at the last thread; threads past it are ignored.
        assert_eq!(
            cpus("    cpu-map auto:1/2- 4-\n", 3),
            vec![None, Some(vec![4]), Some(vec![5])]
        );
        assert_eq!(cpus("    cpu-map 1/5 0\n", 2), vec![None, None]);
        // Other groups are not ours; a later line wins.
        assert_eq!(cpus("    cpu-map 2/1 0\n", 1), vec![None]);
        assert_eq!(cpus("    cpu-map 1/1 0\n    cpu-map 1/1 1\n", 1), vec![Some(vec![1])]);
    }
}
