//! Health checks: one task per server with `check` (and one per `agent-check`, see
//! `agent`), running the backend's check (TCP connect or
//! `option httpchk` with `http-check expect`) at `inter`/`fastinter`/`downinter`, feeding the
//! rise/fall state machine and logging each state change as HAProxy does. Owns check I/O and
//! its messages; must not pick servers or touch client sessions (the queue is told of changes).

use crate::model::Backend;
use clearway_config::model::{CheckKind, CheckParams, Timeouts};
use clearway_core::health::{Health, Transition};
use clearway_net::connect::{self, ConnectStage, SourceBind};
use conn::CheckConn;
pub use spec::{CheckSpec, Regexes};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// The result of one check, in HAProxy's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub ok: bool,
    /// e.g. "Layer4 connection problem", "Layer7 wrong status".
    pub reason: &'static str,
    /// Detail, e.g. "Connection refused" or an HTTP reason phrase.
    pub info: String,
    pub duration: Duration,
    /// The `code` HAProxy reports with a passed, conditionally passed or wrong-status layer 7
    /// result: the HTTP status, else 0.
    pub code: Option<i32>,
    /// What the logs say instead of `info`, when HAProxy's differ: its MySQL and LDAP checks
    /// log the server's version or "Success", then leave the statistics' `last_chk` empty.
    pub logged: Option<String>,
}

impl Outcome {
    /// The detail the logs give.
    pub fn said(&self) -> &str {
        self.logged.as_deref().unwrap_or(&self.info)
    }
}

/// Where the check goes: `addr`/`port` of the server line, else the server's own address.
pub fn check_target(be: &Backend, server: usize, params: &CheckParams) -> Option<SocketAddr> {
    let s = &be.rt.servers[server];
    let ip = match params.addr {
        Some(a) => a,
        None => s.current_ip()?,
    };
    // An external check's program is told the server's port, 0 when it has none; a server
    // at 0.0.0.0 without one is checked at port 0 (refused: it is down), as in HAProxy.
    let external = matches!(be.check.kind, CheckKind::External { .. });
    let port = (params.port.or_else(|| s.current_port())).or((external || s.is_original_destination()).then_some(0))?;
    Some(SocketAddr::new(ip, port))
}

/// Starts the checks (and agent checks) of every checked server, their first runs spread over
/// their interval so they do not all fire at once.
pub fn spawn_all(rt: &crate::model::Runtime, tasks: &mut tokio::task::JoinSet<()>) {
    // `max-spread-checks`: the first checks all start within that time.
    let window = |inter: Duration| rt.max_spread_checks.map_or(inter, |m| m.min(inter));
    for be in &rt.backends {
        for (server, params, first) in spread(be.sides.iter().map(|s| s.check_params.as_ref()), |p| window(p.inter)) {
            let jitter = Jitter::new(rt.spread_checks);
            tasks.spawn(run(be.clone(), server, params.clone(), be.check.clone(), first, jitter));
        }
        for (server, a, first) in spread(be.sides.iter().map(|s| s.agent.as_ref()), |a| window(a.inter)) {
            tasks.spawn(agent::run(be.clone(), server, a.clone(), first));
        }
    }
}

/// `spread-checks`: each pause between checks varies by up to this percentage either way,
/// so that checks of servers on one host do not stay in step.
pub struct Jitter {
    percent: u32,
    state: u64,
}

impl Jitter {
    pub fn new(percent: u32) -> Jitter {
        use std::hash::{BuildHasher, Hasher};
        // A seed of its own per check task, from the standard library's random keys.
        let seed = std::collections::hash_map::RandomState::new().build_hasher().finish();
        Jitter {
            percent: percent.min(50),
            state: seed | 1,
        }
    }

    /// `d`, moved by a random part of `percent` of it.
    pub fn apply(&mut self, d: Duration) -> Duration {
        if self.percent == 0 {
            return d;
        }
        // xorshift64: enough to keep checks apart, not for secrets.
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        let span = u64::from(self.percent) * 2 + 1;
        let moved = (self.state % span) as i64 - i64::from(self.percent);
        let ms = d.as_millis() as i64;
        Duration::from_millis((ms + ms * moved / 100).max(1) as u64)
    }
}

/// The servers that have a `T`, each with a first delay: the k-th of n waits k/n of its
/// interval.
fn spread<'a, T>(
    per_server: impl Iterator<Item = Option<&'a T>>,
    inter: impl Fn(&T) -> Duration,
) -> Vec<(usize, &'a T, Duration)> {
    let some: Vec<(usize, &T)> = per_server.enumerate().filter_map(|(i, t)| t.map(|t| (i, t))).collect();
    let n = some.len().max(1) as u32;
    some.into_iter()
        .enumerate()
        .map(|(k, (i, t))| (i, t, inter(t) * (k as u32) / n))
        .collect()
}

/// Checks one server forever (until the task is dropped).
pub async fn run(
    be: Arc<Backend>,
    server: usize,
    params: CheckParams,
    spec: Arc<CheckSpec>,
    first_delay: Duration,
    mut jitter: Jitter,
) {
    let s = &be.rt.servers[server];
    // A server DNS moves is checked where it is at each check (and not while it has no address).
    if check_target(&be, server, &params).is_none() && !s.resolved_at_run_time() {
        tracing::error!(backend = %be.rt.name, server = %be.rt.servers[server].name, "no address or port to check (add 'addr' and 'port'): health checks disabled");
        return;
    }
    let source = check_source(&be, server);
    let proxy = check_proxy_header(&be.side(server).send_proxy, &params, be.side(server).dynamic);
    // What an `http-check connect send-proxy` sends: the server's kind of header, else v1.
    let rule_proxy = crate::proxy_protocol::encode(&be.side(server).send_proxy, &Default::default());
    let mut health = Health::new(params.rise, params.fall);
    let mut return_path = Health::new(params.rise, params.fall);
    tokio::time::sleep(first_delay).await;
    // The last result logged by `option log-health-checks` (None: none yet).
    let mut logged: Option<(bool, &'static str, u32)> = None;
    loop {
        if s.is_deleted() {
            return;
        }
        let target = match check_target(&be, server, &params) {
            // `disable health`: the server counts as up until `enable health`.
            _ if s.checks_stopped() || s.resolution_maint() => None,
            t => t,
        };
        let Some(target) = target else {
            tokio::time::sleep(params.inter).await;
            continue;
        };
        let (connect_timeout, read_timeout) = check_timeouts(&params, &spec.timeouts);
        let route = Route {
            target,
            source: source.as_ref(),
            proxy: proxy.as_deref(),
            tls: be.side(server).check_tls.as_ref(),
            step_tls: &be.side(server).check_step_tls,
            rule_proxy: &rule_proxy,
            socks4: be
                .side(server)
                .socks4
                .filter(|_| be.side(server).check_params.as_ref().is_some_and(|p| p.via_socks4)),
        };
        let state = spec.send_state.then(|| state_header(&be, server, &health));
        let ask = http::Ask {
            state: state.as_deref(),
            nolb_on_404: spec.disable_on_404 && health.is_up(),
            ..Default::default()
        };
        let outcome = match (&spec.kind, &spec.external) {
            (CheckKind::External { command, path }, Some(proxy)) => {
                let start = Instant::now();
                let at = (target.ip().to_string(), target.port().to_string());
                let v = external::run(&be, server, (command, path), proxy, at, read_timeout, &ask.code).await;
                let (ok, (reason, info)) = match v {
                    Ok(r) => (true, r),
                    Err(r) => (false, r),
                };
                Outcome {
                    ok,
                    reason,
                    info,
                    duration: start.elapsed(),
                    // As HAProxy: the exit status, with each of the three results.
                    code: Some(ask.code.load(std::sync::atomic::Ordering::Relaxed)),
                    logged: None,
                }
            }
            _ => check_once(&route, &spec, &ask, connect_timeout, read_timeout).await,
        };
        if s.is_deleted() {
            // Deleted while the check ran: nothing to say of it any more.
            return;
        }
        if !outcome.ok && s.check_says_up() {
            s.counters.inc(clearway_core::Field::CheckFailures);
        }
        if outcome.ok && spec.disable_on_404 {
            crate::control::actions::set_nolb(&be, server, outcome.reason == http::CONDITIONAL);
        }
        s.set_last_check(clearway_core::LastCheck {
            reason: outcome.reason,
            info: outcome.info.clone(),
            duration_ms: outcome.duration.as_millis() as u64,
            code: outcome.code,
        });
        tracing::debug!(backend = %be.rt.name, server = %be.rt.servers[server].name, ok = outcome.ok, "check: {}{}, {}", outcome.reason, code_part(&outcome), outcome.said());
        let t = health.record(outcome.ok);
        if be.log_health_checks {
            let now = (outcome.ok, outcome.reason, health.counter());
            if logged != Some(now) {
                logged = Some(now);
                log_check(&be, server, &outcome, &health);
            }
        }
        if let Some(t) = t {
            apply(&be, server, t, &outcome);
        } else if s.step_slowstart() {
            // `slowstart`: more weight and room at each check; queued sessions may use it.
            be.queue.offer(&be.rt, server);
        }
        if outcome.ok {
            if let Some(probe) = return_path::probe(&be, server, &params, target, connect_timeout).await {
                tracing::debug!(backend = %be.rt.name, server = %be.rt.servers[server].name, ok = probe.ok, "return-path probe from {}", probe.from);
                *s.last_probe.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some((probe.from, std::time::SystemTime::now(), probe.ok));
                if let Some(t) = return_path.record(probe.ok) {
                    return_path::apply(&be, server, t, &probe, connect_timeout);
                }
            }
        }
        let pause = jitter.apply(if health.in_transition() {
            params.fastinter.unwrap_or(params.inter)
        } else if !health.is_up() {
            params.downinter.unwrap_or(params.inter)
        } else {
            params.inter
        });
        let Some(o) = be.side(server).observer.as_deref() else {
            tokio::time::sleep(pause).await;
            continue;
        };
        // `observe`: errors seen in traffic may come first; then the next check comes at
        // `fastinter`, as in HAProxy.
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = o.wake.notified() => {
                if let Some(what) = o.take() {
                    observed(&be, server, o, what, &mut health);
                    tokio::time::sleep(params.fastinter.unwrap_or(params.inter)).await;
                }
            }
        }
    }
}

/// `error-limit` errors in a row were seen in traffic: `on-error` applies.
fn observed(be: &Backend, server: usize, o: &observe::Observer, what: &str, health: &mut Health) {
    use clearway_config::model::OnError;
    let s = &be.rt.servers[server];
    s.counters.inc(clearway_core::Field::HanaFailures);
    let outcome = Outcome {
        ok: false,
        reason: "Health analyze",
        info: format!("Detected {} consecutive errors, last one was: {what}", o.limit()),
        duration: Duration::ZERO,
        code: None,
        logged: None,
    };
    let t = match o.on_error {
        OnError::FastInter => None,
        OnError::FailCheck => health.record(false),
        OnError::SuddenDeath => {
            health.sudden_death();
            health.record(false)
        }
        OnError::MarkDown => {
            health.mark_down();
            health.record(false)
        }
    };
    tracing::info!(backend = %be.rt.name, server = %s.name, "{}: {}", outcome.reason, outcome.info);
    if o.on_error != OnError::FastInter {
        s.set_last_check(clearway_core::LastCheck {
            reason: outcome.reason,
            info: outcome.info.clone(),
            duration_ms: 0,
            code: None,
        });
    }
    if let Some(t) = t {
        apply(be, server, t, &outcome);
    }
}

/// `X-Haproxy-Server-State` (`http-check send-state`), as HAProxy writes it: the state with
/// its counts while in transition, then the server's address, names, weights and sessions.
fn state_header(be: &Backend, server: usize, health: &Health) -> String {
    let s = &be.rt.servers[server];
    let top = health.rise() + health.fall() - 1;
    let c = health.counter();
    let stopping = s.nolb();
    let state = match (health.is_up(), c == top) {
        (true, true) if stopping => "NOLB".to_string(),
        (true, true) => "UP".to_string(),
        (true, false) => format!(
            "{} {}/{}",
            if stopping { "NOLB" } else { "UP" },
            c + 1 - health.rise(),
            health.fall()
        ),
        (false, _) if c > 0 => format!("DOWN {c}/{}", health.rise()),
        (false, _) => "DOWN".to_string(),
    };
    let (addr, port) = match (s.current_ip(), s.current_port()) {
        (Some(ip), Some(p)) => (ip.to_string(), p.to_string()),
        (Some(ip), None) => (ip.to_string(), "0".to_string()),
        _ => (String::new(), String::new()),
    };
    let total: u32 = be.rt.servers.iter().filter(|x| x.usable()).map(|x| x.weight()).sum();
    let sessions: u32 = be.rt.servers.iter().map(|x| x.active()).sum();
    format!(
        "{state}; address={addr}; port={port}; name={}/{}; node={}; weight={}/{total}; scur={}/{sessions}; qcur=0",
        be.rt.name,
        s.name,
        crate::log::time::hostname(),
        s.weight(),
        s.active(),
    )
}

/// HAProxy's rule: with `timeout check`, connect within min(timeout connect, inter) and read
/// within `timeout check`; without it, `inter` bounds both.
fn check_timeouts(params: &CheckParams, t: &Timeouts) -> (Duration, Duration) {
    match t.check {
        Some(read) => (t.connect.map_or(params.inter, |c| c.min(params.inter)), read),
        None => (params.inter, params.inter),
    }
}

/// Checks come from this host's own address: the `source` address when it is a local one,
/// never a client's (`usesrc`).
fn check_source(be: &Backend, server: usize) -> Option<SourceBind> {
    let src = be.rt.servers[server].source.as_ref()?;
    if src.addr.ip().is_unspecified() && src.interface.is_none() {
        return None;
    }
    Some(SourceBind {
        addr: std::net::SocketAddr::new(src.addr.ip(), 0),
        transparent: false,
        interface: src.interface.clone(),
        port_range: None,
        port_hint: 0,
    })
}

/// `, code: N` after a layer 6 or 7 result, as HAProxy writes it.
fn code_part(o: &Outcome) -> String {
    o.code.map(|c| format!(", code: {c}")).unwrap_or_default()
}

/// `option log-health-checks`: one check's result, in HAProxy's words.
fn log_check(be: &Backend, server: usize, o: &Outcome, health: &Health) {
    let info = if o.said().is_empty() {
        String::new()
    } else {
        format!(", info: \"{}\"", o.said())
    };
    let msg = format!(
        "Health check for server {}/{} {}, reason: {}{}{info}, check duration: {}ms, status: {}.",
        be.rt.name,
        be.rt.servers[server].name,
        if o.ok { "succeeded" } else { "failed" },
        o.reason,
        code_part(o),
        o.duration.as_millis(),
        health.status()
    );
    tracing::info!("{msg}");
    be.events.send(crate::log::NOTICE, &msg);
}

fn apply(be: &Backend, server: usize, t: Transition, o: &Outcome) {
    use crate::control::actions;
    let s = &be.rt.servers[server];
    let ms = o.duration.as_millis();
    let info = if o.said().is_empty() {
        String::new()
    } else {
        format!(", info: \"{}\"", o.said())
    };
    let info = format!("{}{info}", code_part(o));
    match t {
        Transition::WentDown => {
            s.set_up(false);
            s.changed_at(crate::process::uptime_secs());
            crate::control::actions::propagate_health(be, server, false);
            s.counters.inc(clearway_core::Field::CheckDowns);
            let (active, backup) = be.rt.usable_by_kind();
            let msg = format!(
                "{} is DOWN, reason: {}{info}, check duration: {ms}ms{}",
                actions::label(be, s),
                o.reason,
                actions::left(be, s)
            );
            actions::say(be, crate::log::ALERT, &msg);
            if active + backup == 0 {
                actions::after_change(be, server);
            }
            if s.on_marked_down_shutdown {
                if let Some(k) = &be.side(server).kill {
                    tracing::warn!(
                        "Server {}/{}: its sessions are shut down (on-marked-down shutdown-sessions).",
                        be.rt.name,
                        s.name
                    );
                    k.fire();
                }
            }
        }
        Transition::WentUp => {
            // With `slowstart`, from a weight and maxconn of 1 (the weight only where the
            // algorithm reads it as it changes, as in HAProxy).
            s.begin_slowstart(matches!(
                be.balance,
                clearway_config::model::Balance::RoundRobin
                    | clearway_config::model::Balance::LeastConn
                    | clearway_config::model::Balance::Random { .. }
            ));
            s.set_up(true);
            s.changed_at(crate::process::uptime_secs());
            crate::control::actions::propagate_health(be, server, true);
            let msg = format!(
                "{} is UP, reason: {}{info}, check duration: {ms}ms{}",
                actions::label(be, s),
                o.reason,
                actions::online(be)
            );
            actions::say(be, crate::log::NOTICE, &msg);
            // Queued sessions may go to it now (and a lost backend is back).
            let (active, backup) = be.rt.usable_by_kind();
            if active + backup > 0 {
                actions::after_change(be, server);
            }
            if s.on_marked_up_shutdown_backups && !s.backup {
                for (i, b) in be.rt.servers.iter().enumerate().filter(|(_, b)| b.backup) {
                    if let Some(k) = &be.side(i).kill {
                        tracing::warn!(
                            "Server {}/{}: sessions shut down, {} is back (on-marked-up shutdown-backup-sessions).",
                            be.rt.name,
                            b.name,
                            s.name
                        );
                        k.fire();
                    }
                }
            }
        }
    }
}

/// The PROXY protocol header a server's checks start with: a `send-proxy*` server's, unless
/// its checks go to their own `port` or `addr` without `check-send-proxy` (as HAProxy). It
/// speaks for Clearway itself: version 1 `UNKNOWN`, version 2 `LOCAL`.
/// A server added at run time does not pass its `send-proxy` on to its checks (HAProxy 2.6
/// sets that up only for servers of the configuration): `check-send-proxy` does.
fn check_proxy_header(p: &clearway_config::model::SendProxy, params: &CheckParams, dynamic: bool) -> Option<Vec<u8>> {
    let own_target = params.port.is_some() || params.addr.is_some();
    let send = params.send_proxy || (p.on() && !own_target && !dynamic);
    send.then(|| crate::proxy_protocol::encode(p, &Default::default()))
}

/// Where a check connects, and how.
pub struct Route<'a> {
    pub target: SocketAddr,
    pub source: Option<&'a SourceBind>,
    /// The PROXY protocol header its connection starts with.
    pub proxy: Option<&'a [u8]>,
    /// TLS, for a server checked over TLS.
    pub tls: Option<&'a crate::tls::Connector>,
    /// The TLS of each `http-check connect ... ssl` step.
    pub step_tls: &'a [Option<crate::tls::Connector>],
    /// The PROXY protocol header of an `http-check connect send-proxy`.
    pub rule_proxy: &'a [u8],
    /// The SOCKS4 proxy checks go through (`check-via-socks4`).
    pub socks4: Option<SocketAddr>,
}

/// Runs one check; `ask`: what it asks beyond its rules (HTTP checks).
pub async fn check_once(
    route: &Route<'_>,
    spec: &CheckSpec,
    ask: &http::Ask<'_>,
    connect_timeout: Duration,
    read_timeout: Duration,
) -> Outcome {
    let Route {
        target,
        source,
        proxy,
        tls,
        ..
    } = *route;
    let start = Instant::now();
    let done = |verdict: Verdict| {
        let (ok, reason, info) = match verdict {
            Ok((reason, info)) => (true, reason, info),
            Err((reason, info)) => (false, reason, info),
        };
        // HAProxy reports a code with these results only (the HTTP status, else 0).
        let code = matches!(
            reason,
            "Layer7 check passed" | http::CONDITIONAL | "Layer7 wrong status"
        )
        .then(|| ask.code.load(std::sync::atomic::Ordering::Relaxed));
        let logged_only = ok && matches!(spec.kind, CheckKind::Mysql { .. } | CheckKind::Ldap);
        let (info, logged) = if logged_only {
            (String::new(), Some(info))
        } else {
            (info, None)
        };
        Outcome {
            ok,
            reason,
            info,
            duration: start.elapsed(),
            code,
            logged,
        }
    };
    // A plain connect check, as HAProxy's: the handshake's last ACK is held back and the
    // connection reset as soon as the server answered the SYN. The server's application never
    // accepts it: no log line per check, and no aborted connection counted against this host
    // (MySQL blocks a host after `max_connect_errors` of those).
    let plain = match &spec.kind {
        CheckKind::Connect | CheckKind::Unimplemented { .. } => true,
        CheckKind::TcpCheck(rules) => rules.is_empty(),
        _ => false,
    };
    let d = http_steps::Defaults {
        target,
        source,
        proxy,
        rule_proxy: route.rule_proxy,
        tls,
        socks4: route.socks4,
    };
    if spec.http_connects() {
        return done(http_steps::run(spec, &d, route.step_tls, ask, connect_timeout, read_timeout).await);
    }
    if let CheckKind::TcpCheck(rules) = &spec.kind {
        if !plain {
            // A tcp-check opens its own connections and runs under its own limits.
            let v = tcpcheck::run(rules, &spec.regexes, &d, route.step_tls, connect_timeout, read_timeout).await;
            return done(v);
        }
    }
    // A check that speaks first sends its first bytes with the handshake's last ACK, as
    // HAProxy's do (a TLS one sends its hello).
    let delayed_ack = plain || tls.is_some() || sends_first(&spec.kind);
    let stream = match connect_checked(target, (source, route.socks4), connect_timeout, delayed_ack, proxy).await {
        Ok(s) => s,
        Err(v) => return done(Err(v)),
    };
    let deadline = Instant::now() + read_timeout;
    if let Some(c) = tls {
        // `ssl` / `check-ssl`: the check runs over TLS; a connect check is the handshake.
        let mut s = match tokio::time::timeout_at(deadline, c.connector.connect(c.name.clone(), stream)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return done(Err(("Layer6 invalid response", format!("SSL handshake failure ({e})")))),
            Err(_) => return done(Err(("Layer6 timeout", String::new()))),
        };
        if plain {
            return done(Ok(("Layer6 check passed", String::new())));
        }
        let verdict = backstop(deadline, speak(&mut s, spec, ask), layer_of(spec)).await;
        return done(verdict);
    }
    if plain {
        // A server sent a PROXY protocol header has accepted the connection: closed cleanly.
        if proxy.is_none() {
            connect::reset_on_close(&stream);
        }
        return done(Ok(("Layer4 check passed", String::new())));
    }
    // Reset once done, unless the server closed first; the database checks close cleanly, as
    // HAProxy's.
    let linger = matches!(
        spec.kind,
        CheckKind::Mysql { .. } | CheckKind::Pgsql { .. } | CheckKind::Smtp { .. }
    );
    let mut conn = CheckConn::new(stream, linger);
    let verdict = backstop(deadline, speak(&mut *conn, spec, ask), layer_of(spec)).await;
    drop(conn);
    done(verdict)
}

/// A check's protocol on a connection: its verdict.
async fn speak<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    s: &mut S,
    spec: &CheckSpec,
    ask: &http::Ask<'_>,
) -> Verdict {
    match &spec.kind {
        // Answered by the connection alone (an external check runs no connection).
        CheckKind::Connect | CheckKind::Unimplemented { .. } | CheckKind::TcpCheck(_) | CheckKind::External { .. } => {
            Ok(("Layer4 check passed", String::new()))
        }
        CheckKind::Http(_) => match spec.http.first() {
            Some(step) => http::check(s, step, ask, &spec.regexes).await,
            None => Ok(("Layer4 check passed", String::new())),
        },
        CheckKind::Mysql { user, post41 } => protocols::mysql(s, user.as_deref(), *post41, &ask.code).await,
        CheckKind::Pgsql { user } => protocols::pgsql(s, user).await,
        CheckKind::Redis => protocols::redis(s).await,
        CheckKind::SslHello => protocols::ssl_hello(s).await,
        CheckKind::Smtp { hello } => protocols::smtp(s, hello, &ask.code).await,
        CheckKind::Ldap => protocols::ldap(s, &ask.code).await,
    }
}

/// How a check that never answers is reported.
fn layer_of(spec: &CheckSpec) -> &'static str {
    if matches!(spec.kind, CheckKind::SslHello) {
        "Layer6 timeout"
    } else {
        "Layer7 timeout"
    }
}

/// `check`, given up as a `layer` timeout at `at` (plus a little): the rules of a tcp-check
/// report their own timeout with the step; this is the backstop.
async fn backstop(at: Instant, check: impl std::future::Future<Output = Verdict>, layer: &'static str) -> Verdict {
    match tokio::time::timeout_at(at + Duration::from_millis(100), check).await {
        Ok(v) => v,
        Err(_) => Err((layer, String::new())),
    }
}

/// A check's verdict: (reason, info) either way.
pub type Verdict = Result<(&'static str, String), (&'static str, String)>;

/// Whether a check writes before it reads, once connected.
fn sends_first(kind: &CheckKind) -> bool {
    match kind {
        CheckKind::Http(_) | CheckKind::Pgsql { .. } | CheckKind::Redis | CheckKind::SslHello | CheckKind::Ldap => true,
        CheckKind::TcpCheck(rules) => tcpcheck::sends_next(rules, 0),
        // With a user, HAProxy sends the login before the server's greeting arrives.
        CheckKind::Mysql { user, .. } => user.is_some(),
        CheckKind::Smtp { .. } | CheckKind::Connect | CheckKind::Unimplemented { .. } | CheckKind::External { .. } => {
            false
        }
    }
}

/// Connects for a check, turning failures into Layer4 verdicts; `delayed_ack`: the kernel
/// holds the handshake's last ACK (see `connect::connect`); `proxy`: a PROXY protocol header
/// to send first. `source.1`: the SOCKS4 proxy to go through (`check-via-socks4`).
async fn connect_checked(
    target: SocketAddr,
    (source, via): (Option<&SourceBind>, Option<SocketAddr>),
    timeout: Duration,
    delayed_ack: bool,
    proxy: Option<&[u8]>,
) -> Result<tokio::net::TcpStream, (&'static str, String)> {
    let dialed = connect::connect(
        via.unwrap_or(target),
        source,
        Some(timeout),
        delayed_ack && via.is_none(),
        None,
    )
    .await;
    let dialed = match (dialed, via) {
        (Ok(s), Some(_)) => crate::dispatch::through_socks4(s, target, Some(timeout)).await,
        (d, _) => d,
    };
    let mut s = match dialed {
        Ok(s) => s,
        Err(e) if e.stage == ConnectStage::Timeout => return Err(("Layer4 timeout", String::new())),
        Err(e) => return Err(("Layer4 connection problem", os_message(&e.error))),
    };
    if let Some(h) = proxy {
        use tokio::io::AsyncWriteExt;
        if let Err(e) = s.write_all(h).await {
            return Err(("Layer4 connection problem", os_message(&e)));
        }
    }
    Ok(s)
}

/// True when `needle` occurs in `haystack` (an empty needle always does).
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

/// The OS's own wording (e.g. "Connection refused"), without the "(os error N)" suffix.
fn os_message(e: &std::io::Error) -> String {
    let s = e.to_string();
    s.split(" (os error").next().unwrap_or(&s).to_string()
}

pub mod agent;
mod conn;
mod external;
pub(crate) mod http;
mod http_steps;
pub mod observe;
pub(crate) mod protocols;
mod return_path;
pub mod spec;
mod tcpcheck;
#[cfg(test)]
mod tests;
