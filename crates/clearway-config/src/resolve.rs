//! From sections to the validated model: applies defaults sections (the last one before a proxy,
//! or a named one with `from`), splits `listen` into a frontend and a backend, checks names
//! across sections and warns about settings that have no effect. Must not read files.

use crate::ast::{Kind, Section};
use crate::keywords::proxy::{self, Caps, Draft};
use crate::keywords::{bind, global, Ctx};
use crate::model::{Backend, Config, Frontend, HttpSettings, Mode};
use std::collections::HashMap;

pub(crate) mod checks;
use checks::{
    check_caches, check_capture_ids, check_last_rule_refs, check_names, check_resolvers, check_sources,
    check_state_refs, check_stick_tables, check_tracks, number_proxies, tls_unacted,
};

pub fn build(sections: &[Section], ctx: &mut Ctx) -> Config {
    // Userlists first: ACLs anywhere may name them (`http_auth(LIST)`).
    let mut userlists: Vec<std::sync::Arc<crate::model::Userlist>> = Vec::new();
    for s in sections.iter().filter(|s| s.kind == Kind::Userlist) {
        if userlists.iter().any(|u| u.name == s.name) {
            ctx.warn(&s.span, format!("ignoring duplicated userlist '{}'", s.name));
            continue;
        }
        userlists.push(std::sync::Arc::new(crate::keywords::userlist::build(s, ctx)));
    }
    // `http-errors` sections: proxies name them (`errorfiles`, `... errorfiles NAME`).
    for s in sections.iter().filter(|s| s.kind == Kind::HttpErrors) {
        if ctx.http_errors.iter().any(|(n, _)| *n == s.name) {
            ctx.error(&s.span, format!("http-errors '{}' is defined twice", s.name));
            continue;
        }
        let mut files: Vec<crate::rules::ErrorFile> = Vec::new();
        for d in &s.directives {
            if d.keyword() != "errorfile" {
                ctx.error_hint(
                    &d.span,
                    format!("unknown keyword '{}' in 'http-errors' section", d.keyword()),
                    Some("an http-errors section holds 'errorfile CODE FILE' lines".into()),
                );
                continue;
            }
            match crate::keywords::reply::errorfile(d) {
                Ok(e) => {
                    files.retain(|o| o.status != e.status);
                    files.push(e);
                }
                Err((m, h)) => ctx.error_hint(&d.span, m, h),
            }
        }
        ctx.http_errors.push((s.name.clone(), files));
    }
    let errors = ctx.http_errors.clone();
    let mut cfg = crate::keywords::reply::with_http_errors(&errors, || {
        crate::keywords::acl::with_userlists(&userlists, || proxies(sections, ctx))
    });
    cfg.userlists = userlists;
    cfg.tls_defaults = ctx.tls.clone();
    cfg
}

fn proxies(sections: &[Section], ctx: &mut Ctx) -> Config {
    let mut cfg = Config::default();
    let mut named: HashMap<String, Draft> = HashMap::new();
    let mut last: Option<Draft> = None;
    // Per defaults section with rules: whether frontends, backends use it.
    let mut rules_users: HashMap<(std::sync::Arc<str>, u32), (bool, bool)> = HashMap::new();
    // Proxy sections in file order, with their `id`, for numbering.
    let mut proxies: Vec<(&Section, Option<(u32, crate::model::Span)>)> = Vec::new();
    for s in sections {
        match s.kind {
            Kind::Unsupported | Kind::Userlist | Kind::HttpErrors => {}
            Kind::Cache => {
                if cfg.caches.iter().any(|c| c.name == s.name) {
                    ctx.error(&s.span, format!("cache '{}' is defined twice", s.name));
                } else if let Some(c) = crate::keywords::cache::build(s, ctx) {
                    cfg.caches.push(c);
                }
            }
            Kind::Resolvers => {
                if let Some(other) = cfg.resolvers.iter().find(|r| r.name == s.name) {
                    ctx.error(
                        &s.span,
                        format!("resolvers '{}' is defined twice (first at {})", s.name, other.span),
                    );
                    continue;
                }
                let mut r = crate::model::Resolvers::new(&s.name, &s.span);
                s.directives
                    .iter()
                    .for_each(|d| crate::keywords::dns::apply(d, &mut r, ctx));
                if r.nameservers.is_empty() && r.resolv_conf_at.is_none() {
                    ctx.error_hint(
                        &s.span,
                        format!("resolvers '{}' has no nameserver", s.name),
                        Some("add 'nameserver NAME IP:PORT' or 'parse-resolv-conf'".into()),
                    );
                }
                cfg.resolvers.push(r);
            }
            Kind::Global => s.directives.iter().for_each(|d| global::apply(d, &mut cfg.global, ctx)),
            Kind::Defaults => {
                let Some(mut draft) = base(s, &named, &last, ctx) else {
                    continue;
                };
                if let Some(at) = &draft.rules_defaults {
                    ctx.error(
                        &s.span,
                        format!(
                            "a defaults section cannot inherit from a defaults section with rules (the one at {at})"
                        ),
                    );
                }
                for d in &s.directives {
                    proxy::apply(d, s.kind, &s.name, Caps::of(s.kind), &mut draft, ctx);
                }
                let r = &draft.tcp_rules;
                let h = &draft.http;
                let has_rules = r.inspect_delay.is_some()
                    || r.response_delay.is_some()
                    || !(r.connection.is_empty()
                        && r.session.is_empty()
                        && r.content.is_empty()
                        && r.response.is_empty())
                    || !(h.request_rules.is_empty()
                        && h.response_rules.is_empty()
                        && h.after_response_rules.is_empty());
                draft.rules_defaults = has_rules.then(|| s.span.clone());
                if !s.name.is_empty() {
                    named.insert(s.name.clone(), draft.clone());
                }
                last = Some(draft);
            }
            Kind::Frontend | Kind::Backend | Kind::Listen => {
                let Some(mut draft) = base(s, &named, &last, ctx) else {
                    continue;
                };
                if let Some(at) = &draft.rules_defaults {
                    let caps = Caps::of(s.kind);
                    let used = rules_users.entry((at.file.clone(), at.line)).or_insert((false, false));
                    used.0 |= caps.frontend;
                    used.1 |= caps.backend;
                    if used.0 && used.1 {
                        ctx.error_hint(
                            &s.span,
                            format!(
                                "{} '{}': frontends and backends cannot use the same defaults section when it has \
                                 rules (the one at {at})",
                                s.kind.word(),
                                s.name
                            ),
                            Some("give frontends and backends defaults sections of their own ('defaults NAME', 'from NAME')".into()),
                        );
                    }
                }
                if s.kind == Kind::Listen {
                    if let Some(addr) = s.extra.first() {
                        match bind::addresses(addr) {
                            Ok(addrs) => draft.binds.push(bind::simple(&s.span, addr, addrs)),
                            Err(e) => ctx.error(&s.span, format!("'listen {} {addr}': {e}", s.name)),
                        }
                    }
                }
                for d in &s.directives {
                    proxy::apply(d, s.kind, &s.name, Caps::of(s.kind), &mut draft, ctx);
                }
                proxies.push((s, draft.id.clone()));
                finish(s, draft, &mut cfg, ctx);
            }
        }
    }
    number_proxies(&proxies, &mut cfg, ctx);
    check_names(&cfg, ctx);
    check_tracks(&cfg, ctx);
    check_stick_tables(&cfg, ctx);
    check_state_refs(&cfg, ctx);
    check_last_rule_refs(&cfg, ctx);
    check_capture_ids(&cfg, ctx);
    check_caches(&cfg, ctx);
    check_resolvers(&cfg, ctx);
    tls_unacted(&cfg, ctx);
    cfg
}

/// The draft a section starts from: its `from` defaults, else the last defaults, else fresh.
/// The server of no name (`<NOSRV>` in logs, absent from the statistics) of a backend
/// without servers: at the `dispatch` address `at`, else at each client's original
/// destination (`option transparent`).
fn no_name_server(span: &crate::model::Span, draft: &Draft, at: Option<std::net::SocketAddr>) -> crate::model::Server {
    let mut d = crate::keywords::server::template(span);
    d.name = "<NOSRV>".into();
    if let Some(addr) = at {
        d.host = crate::model::Host::Ip(addr.ip());
        d.port = crate::model::ServerPort::Fixed(addr.port());
    }
    d.hidden = true;
    d.source = draft.source.clone();
    d
}

fn base(s: &Section, named: &HashMap<String, Draft>, last: &Option<Draft>, ctx: &mut Ctx) -> Option<Draft> {
    let mut draft = match &s.from {
        Some(name) => match named.get(name) {
            Some(d) => d.clone(),
            None => {
                let hint = crate::suggest::hint(name, named.keys().map(String::as_str));
                ctx.error_hint(
                    &s.span,
                    format!("no defaults section named '{name}' before this line"),
                    hint,
                );
                return None;
            }
        },
        // A defaults section resets everything unless it names another one with `from`.
        None if s.kind == Kind::Defaults => Draft::new(&s.span),
        None => last.clone().unwrap_or_else(|| Draft::new(&s.span)),
    };
    // What a defaults section may not hold is never inherited.
    draft.binds.clear();
    draft.servers.clear();
    draft.use_backends.clear();
    draft.acls.clear();
    draft.http_rule_span = None;
    draft.own_check_rules = false;
    Some(draft)
}

fn finish(s: &Section, mut draft: Draft, cfg: &mut Config, ctx: &mut Ctx) {
    for t in draft.acls.iter().flat_map(|a| &a.tests) {
        if let crate::rules::Fetch::Server { backend, server, .. } = &t.fetch {
            (cfg.acl_line_refs).push((backend.clone(), Some(server.clone()), s.span.clone()));
        }
    }
    let caps = Caps::of(s.kind);
    let listen = s.kind == Kind::Listen;
    if draft.mode == Mode::Http && caps.backend {
        // In 'mode http' the rules run on the response's head, as it arrives: a rule that
        // reads the response's bytes (there are none to read then), or `close` (cutting the
        // server connection whose body is still coming), is not supported there yet.
        use crate::rules::{Piece, TcpAction, VarValue};
        let reads = |f: &crate::rules::Fetch| f.reads_response();
        for r in &draft.tcp_rules.response {
            let value_reads = match &r.action {
                TcpAction::SetVar {
                    value: VarValue::Expr(e),
                    ..
                } => reads(&e.fetch),
                TcpAction::SetVar {
                    value: VarValue::Format(t),
                    ..
                } => t.0.iter().any(|p| matches!(p, Piece::Expr(e) if reads(&e.fetch))),
                _ => false,
            };
            let what = if r.action == TcpAction::Close {
                "'tcp-response content close' in 'mode http'"
            } else if value_reads || crate::keywords::tcp::uses(&r.condition, reads) {
                "'tcp-response content' reading 'res.len' or 'res.payload' in 'mode http'"
            } else {
                continue;
            };
            ctx.not_acted(&r.span, what, "tcp-response", crate::keywords::NotActed::Unsupported);
        }
    }
    if draft.mode == Mode::Tcp {
        // Content rules read a request from the client's first bytes; a response is never there,
        // nor is anything when session rules run: a rule that never matches would let everyone
        // in (or no one).
        use crate::keywords::tcp::uses;
        let content = (draft.tcp_rules.content.iter()).filter(|r| uses(&r.condition, |f| f.needs_http()));
        let session =
            (draft.tcp_rules.session.iter()).filter(|r| uses(&r.condition, |f| f.needs_http() || f.reads_request()));
        for r in content.chain(session) {
            ctx.not_acted(
                &r.span,
                "a 'tcp-request' condition on HTTP contents not there yet in 'mode tcp'",
                "tcp-request",
                crate::keywords::NotActed::Unsupported,
            );
        }
    }
    if let Some(page) = &draft.http.stats {
        if !page.access.is_empty() && (!page.users.is_empty() || page.realm.is_some()) {
            ctx.error_hint(
                &page.access[0].span,
                format!(
                    "{} '{}': 'stats auth'/'stats realm' and 'stats http-request' cannot be used together",
                    s.kind.word(),
                    s.name
                ),
                Some("write the authentication as 'stats http-request auth [realm R] unless ...'".into()),
            );
        }
    }
    if draft.mode == Mode::Tcp {
        if let Some(page) = draft.http.stats.take() {
            ctx.warn(
                &page.span,
                format!(
                    "'stats' needs 'mode http': no statistics page on {} '{}', which is in 'mode tcp'",
                    s.kind.word(),
                    s.name
                ),
            );
        }
        if let Some(span) = &draft.http_rule_span {
            ctx.warn(
                span,
                format!(
                    "this layer-7 rule needs 'mode http': ignored by {} '{}', which is in 'mode tcp'",
                    s.kind.word(),
                    s.name
                ),
            );
        }
        if let Some(c) = draft.cookie.as_ref().filter(|_| caps.backend) {
            ctx.warn(
                &c.span,
                format!(
                    "'cookie' needs 'mode http': ignored by {} '{}', which is in 'mode tcp'",
                    s.kind.word(),
                    s.name
                ),
            );
        }
        for (opt, span) in &draft.http_options {
            // Acted on in both modes (mode tcp: a session waiting for its server).
            if opt == "abortonclose" {
                continue;
            }
            // As HAProxy: a TCP proxy logs in the TCP format instead.
            let what = if opt == "httplog" || opt == "httpslog" {
                "logs with 'option tcplog' instead"
            } else {
                "ignored"
            };
            ctx.warn(
                span,
                format!(
                    "'option {opt}' needs 'mode http': {what} by {} '{}', which is in 'mode tcp'",
                    s.kind.word(),
                    s.name
                ),
            );
        }
    }
    let t = &draft.timeouts;
    let mut missing = Vec::new();
    if caps.frontend && t.client.is_none() {
        missing.push("client");
    }
    if caps.backend && t.connect.is_none() {
        missing.push("connect");
    }
    if caps.backend && t.server.is_none() {
        missing.push("server");
    }
    if !missing.is_empty() {
        ctx.warn(
            &s.span,
            format!(
                "{} '{}' has no 'timeout {}': idle or stuck connections will stay open forever (set them in 'defaults')",
                s.kind.word(),
                s.name,
                missing.join("', 'timeout ")
            ),
        );
    }
    if caps.frontend {
        if draft.binds.is_empty() {
            ctx.warn(
                &s.span,
                format!(
                    "{} '{}' has no 'bind' line: it accepts no connections",
                    s.kind.word(),
                    s.name
                ),
            );
        }
        let default_backend = draft
            .default_backend
            .as_ref()
            .map(|(n, _)| n.clone())
            .or(listen.then(|| s.name.clone()));
        cfg.frontends.push(Frontend {
            num: Default::default(),
            name: s.name.clone(),
            span: s.span.clone(),
            from_listen: listen,
            mode: draft.mode,
            binds: draft.binds.clone(),
            maxconn: draft.maxconn,
            rate_limit_sessions: draft.rate_limit_sessions,
            backlog: draft.backlog,
            default_backend,
            default_backend_span: draft.default_backend.as_ref().map(|(_, span)| span.clone()),
            use_backends: draft.use_backends.clone(),
            timeouts: draft.timeouts,
            options: draft.options.clone(),
            logs: draft.logs.clone(),
            log_format: draft.log_format.clone(),
            stick_table: draft.stick_table.clone(),
            unique_id_format: draft.unique_id_format.clone(),
            unique_id_header: draft.unique_id_header.clone(),
            log_tag: draft.log_tag.clone(),
            captures: draft.captures.clone(),
            http: draft.http.clone(),
            tcp_rules: draft.tcp_rules.clone(),
        });
    }
    if caps.backend {
        let mut options = draft.options.clone();
        // A `dispatch` address wins over `option transparent`, as in HAProxy.
        options.transparent &= draft.dispatch.is_none();
        if let crate::model::CheckKind::TcpCheck(rules) = &mut options.check {
            *rules = options.tcp_check.clone();
        } else if let crate::model::CheckKind::External { command, path } = &mut options.check {
            // As HAProxy: the global `external-check` allows them, and a command is needed.
            if !cfg.global.external_check {
                ctx.error_hint(
                    &s.span,
                    format!(
                        "{} '{}': 'option external-check' needs 'external-check' in the global section",
                        s.kind.word(),
                        s.name
                    ),
                    Some("add 'external-check' to the global section to allow checks that run programs".into()),
                );
            }
            // HAProxy forbids its own forks without it: its external checks would fail, and the
            // servers go down; Clearway's would run. Refused, so both agree.
            if !cfg.global.insecure_fork_wanted {
                ctx.error_hint(
                    &s.span,
                    format!(
                        "{} '{}': 'option external-check' needs 'insecure-fork-wanted' in the global section",
                        s.kind.word(),
                        s.name
                    ),
                    Some("without it HAProxy cannot start the program and marks the servers down: add 'insecure-fork-wanted'".into()),
                );
            }
            match &options.external_command {
                Some(c) => *command = c.clone(),
                None => ctx.error_hint(
                    &s.span,
                    format!(
                        "{} '{}': 'option external-check' needs 'external-check command'",
                        s.kind.word(),
                        s.name
                    ),
                    Some("e.g. 'external-check command /usr/local/bin/check-galera'".into()),
                ),
            }
            *path = options.external_path.clone().unwrap_or_default();
        } else if !draft.options.tcp_check.is_empty() {
            ctx.warn(
                &s.span,
                format!(
                    "{} '{}' has tcp-check rules but no 'option tcp-check': they are ignored",
                    s.kind.word(),
                    s.name
                ),
            );
        }
        let servers = draft
            .servers
            .iter()
            .cloned()
            .map(|srv| crate::keywords::dynamic_server::settle(srv, &draft.source))
            .collect::<Vec<_>>();
        // A stopped proxy: checked, then without servers.
        let mut servers = if draft.disabled { Vec::new() } else { servers };
        if let Some((addr, span)) = draft.dispatch.as_ref().filter(|_| !draft.disabled) {
            if servers.is_empty() {
                // As HAProxy: every connection goes to that address, a server of no name.
                servers.push(no_name_server(span, &draft, Some(*addr)));
            } else if draft.balance_set {
                ctx.warn(
                    span,
                    format!(
                        "dispatch address of {} '{}' will be ignored in balance mode, as HAProxy does",
                        s.kind.word(),
                        s.name
                    ),
                );
            } else {
                ctx.not_acted(
                    span,
                    "'dispatch' beside 'server' lines without a 'balance' (HAProxy then sends everything to the dispatch address)",
                    "dispatch",
                    crate::keywords::NotActed::Unsupported,
                );
            }
        }
        // `option transparent` (a `dispatch` wins over it, as in HAProxy).
        if options.transparent && !draft.disabled {
            if draft.balance_set {
                ctx.error_hint(
                    &s.span,
                    format!(
                        "{} '{}' cannot use both transparent and balance mode",
                        s.kind.word(),
                        s.name
                    ),
                    Some("remove 'option transparent', or the 'balance' line (here or in its defaults)".into()),
                );
            } else if servers.is_empty() {
                // As HAProxy: each session goes to its original destination, a server of no name.
                servers.push(no_name_server(&s.span, &draft, None));
            } else {
                ctx.not_acted(
                    &s.span,
                    "'option transparent' beside 'server' lines (HAProxy then sends sessions without a \
                     persistence cookie to their original destination)",
                    "transparent",
                    crate::keywords::NotActed::Unsupported,
                );
            }
        }
        // A statistics page answers without servers.
        let page = draft.mode == Mode::Http && draft.http.stats.is_some();
        if servers.is_empty() && !draft.disabled && !page {
            ctx.warn(
                &s.span,
                format!(
                    "{} '{}' has no server: its clients will be closed",
                    s.kind.word(),
                    s.name
                ),
            );
        }
        check_sources(&servers, ctx);
        if draft.mode == Mode::Tcp {
            let hdr = servers.iter().find(|s| {
                matches!(
                    s.source.as_ref().and_then(|x| x.usesrc.as_ref()),
                    Some(crate::model::UseSrc::HdrIp { .. })
                )
            });
            if let Some(srv) = hdr {
                ctx.warn(
                    &srv.source.as_ref().map_or(srv.span.clone(), |x| x.span.clone()),
                    "'usesrc hdr_ip(...)' needs 'mode http': in 'mode tcp' connections come from this host's address",
                );
            }
        }
        for srv in &servers {
            for (m, h) in crate::keywords::dynamic_server::line_errors(srv, draft.mode) {
                ctx.error_hint(&srv.span, m, h);
            }
        }
        for srv in servers.iter().filter(|s| s.check.observe.is_some() && !s.check.enabled) {
            ctx.warn(
                &srv.span,
                format!(
                    "server '{}': 'observe' has no effect without 'check' (as in HAProxy)",
                    srv.name
                ),
            );
        }
        // As HAProxy: a request hash needs requests; in mode tcp, round robin, said so.
        let mut balance = draft.balance.clone();
        if draft.mode == Mode::Tcp && balance.hashes_request() {
            ctx.warn(
                &s.span,
                format!(
                    "{} '{}': 'balance' hashes HTTP requests and needs 'mode http': round robin instead, as HAProxy does",
                    s.kind.word(),
                    s.name
                ),
            );
            balance = crate::model::Balance::RoundRobin;
        }
        for (i, srv) in servers.iter().enumerate() {
            if let Some(other) = srv.id.and_then(|id| servers[..i].iter().find(|o| o.id == Some(id))) {
                ctx.error(
                    &srv.span,
                    format!(
                        "server '{}' has the same 'id' as server '{}' of {} '{}'",
                        srv.name,
                        other.name,
                        s.kind.word(),
                        s.name
                    ),
                );
            }
        }
        let use_servers = draft
            .use_servers
            .iter()
            .filter(|_| !draft.disabled)
            .filter_map(|(name, condition, span)| {
                let Some(server) = servers.iter().position(|x| x.name == *name) else {
                    ctx.error_hint(
                        span,
                        format!(
                            "'use-server': {} '{}' has no server named '{name}'",
                            s.kind.word(),
                            s.name
                        ),
                        crate::suggest::hint(name, servers.iter().map(|x| x.name.as_str())),
                    );
                    return None;
                };
                Some(crate::model::UseServer {
                    span: span.clone(),
                    server,
                    condition: condition.clone(),
                })
            })
            .collect();
        for r in &draft.stick_rules {
            if draft.mode == Mode::Tcp && r.op == crate::model::StickOp::StoreResponse {
                ctx.error_hint(
                    &r.span,
                    "'stick store-response' in mode tcp is not supported yet",
                    Some("store from the request ('stick on' or 'stick store-request')".into()),
                );
            }
        }
        cfg.backends.push(Backend {
            num: Default::default(),
            name: s.name.clone(),
            span: s.span.clone(),
            from_listen: listen,
            mode: draft.mode,
            balance,
            hash_type: draft.hash_type,
            logs: draft.logs.clone(),
            log_tag: draft.log_tag.clone(),
            servers,
            source: draft.source.clone(),
            retries: draft.retries,
            retry_on: draft.retry_on.clone(),
            redispatch: draft.redispatch,
            fullconn: draft.fullconn,
            disabled: draft.disabled,
            use_servers,
            persist_rules: draft.persist_rules.clone(),
            stick_table: draft.stick_table.clone(),
            stick_rules: draft.stick_rules.clone(),
            cookie: (draft.mode == Mode::Http).then(|| draft.cookie.clone()).flatten(),
            timeouts: draft.timeouts,
            options,
            http: if listen {
                // One proxy: its rules run once, as the frontend's.
                HttpSettings {
                    request_rules: Vec::new(),
                    response_rules: Vec::new(),
                    after_response_rules: Vec::new(),
                    redirects: Vec::new(),
                    stats: None,
                    ..draft.http.clone()
                }
            } else {
                draft.http.clone()
            },
            tcp_rules: if listen {
                // Its request rules run once, as the frontend's; response rules are the backend's.
                crate::rules::TcpRules {
                    response_delay: draft.tcp_rules.response_delay,
                    response: draft.tcp_rules.response.clone(),
                    ..Default::default()
                }
            } else {
                // Connection and session rules have no effect without a frontend side.
                crate::rules::TcpRules {
                    inspect_delay: draft.tcp_rules.inspect_delay,
                    content: draft.tcp_rules.content.clone(),
                    response_delay: draft.tcp_rules.response_delay,
                    response: draft.tcp_rules.response.clone(),
                    ..Default::default()
                }
            },
        });
    }
    if draft.disabled && caps.frontend {
        // A stopped frontend binds nothing and has no statistics: gone once checked.
        ctx.note(&s.span, format!("{} '{}' is disabled", s.kind.word(), s.name));
        cfg.frontends.retain(|f| f.name != s.name);
    }
}

#[cfg(test)]
mod tests;
