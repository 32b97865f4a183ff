//! Keywords of `defaults`, `frontend`, `backend` and `listen` sections: what each section may
//! hold, and the proxy being built (`Draft`). Sections inherit a `Draft` from their defaults.

use super::NotActed;
use super::{acl, bind, checks, err, http, options, server, source, tcp, want_args, Args, Ctx, Res};
use crate::ast::{Directive, Kind};
use crate::model::{
    Balance, Bind, HttpConnMode, HttpSettings, Mode, ProxyLog, ProxyOptions, Server, Source, Span, Timeouts, UseBackend,
};
use crate::{suggest, units};

/// A proxy as its directives describe it, before defaults are resolved into the model.
#[derive(Debug, Clone)]
pub struct Draft {
    pub mode: Mode,
    pub binds: Vec<Bind>,
    pub maxconn: Option<u32>,
    /// `rate-limit sessions N`.
    pub rate_limit_sessions: Option<u32>,
    /// `backlog N`: the listen backlog of binds that set none.
    pub backlog: Option<u32>,
    pub default_backend: Option<(String, Span)>,
    pub use_backends: Vec<UseBackend>,
    /// `use-server` rules as written: server name, condition, line.
    pub use_servers: Vec<(String, crate::model::Condition, Span)>,
    /// `force-persist` and `ignore-persist` rules, in order.
    pub persist_rules: Vec<crate::model::PersistRule>,
    pub cookie: Option<crate::model::CookiePersist>,
    pub balance: Balance,
    /// A `balance` line was seen (here or in the defaults).
    pub balance_set: bool,
    /// `dispatch ADDR:PORT` and its line.
    pub dispatch: Option<(std::net::SocketAddr, Span)>,
    pub hash_type: crate::model::HashType,
    pub retries: u32,
    pub retry_on: crate::model::RetryOn,
    pub redispatch: bool,
    pub fullconn: Option<u32>,
    /// `disabled` (`enabled` undoes one from defaults): the proxy is checked, then stopped.
    pub disabled: bool,
    /// `id N`: the proxy's number.
    pub id: Option<(u32, Span)>,
    pub timeouts: Timeouts,
    /// Where each timeout was set, for warnings.
    pub timeout_spans: Vec<(&'static str, Span)>,
    pub options: ProxyOptions,
    /// Lines of options that need HTTP mode, for the warning in TCP proxies.
    pub http_options: Vec<(String, Span)>,
    pub source: Option<Source>,
    pub servers: Vec<Server>,
    pub default_server: Server,
    pub logs: Vec<ProxyLog>,
    pub log_format: Option<(String, Span)>,
    /// `stick-table ...`: the table this proxy keeps (named after it).
    pub stick_table: Option<crate::model::StickTable>,
    /// `stick on|match|store-*` rules, in order.
    pub stick_rules: Vec<crate::model::StickRule>,
    /// `unique-id-format FMT` and `unique-id-header NAME`.
    pub unique_id_format: Option<(String, Span)>,
    pub unique_id_header: Option<String>,
    pub log_tag: Option<String>,
    pub captures: crate::model::Captures,
    /// ACLs declared so far in this section.
    pub acls: Vec<acl::Named>,
    pub http: HttpSettings,
    pub tcp_rules: crate::rules::TcpRules,
    /// The defaults section the `tcp-request` rules came from, if any: a defaults section
    /// with rules may serve frontends or backends, not both (as HAProxy).
    pub rules_defaults: Option<Span>,
    /// This section has check rules of its own (`http-check`, `tcp-check`): those of its
    /// defaults section no longer apply, as in HAProxy.
    pub own_check_rules: bool,
    /// The first line with a layer-7 rule, for the warning in TCP proxies.
    pub http_rule_span: Option<Span>,
}

impl Draft {
    pub fn new(span: &Span) -> Draft {
        Draft {
            mode: Mode::Tcp,
            binds: Vec::new(),
            maxconn: None,
            rate_limit_sessions: None,
            backlog: None,
            default_backend: None,
            use_backends: Vec::new(),
            use_servers: Vec::new(),
            persist_rules: Vec::new(),
            cookie: None,
            balance: Balance::RoundRobin,
            balance_set: false,
            dispatch: None,
            hash_type: crate::model::HashType::MapBased,
            // HAProxy's default number of retries.
            retries: 3,
            retry_on: Default::default(),
            redispatch: false,
            fullconn: None,
            disabled: false,
            id: None,
            timeouts: Timeouts::default(),
            timeout_spans: Vec::new(),
            options: ProxyOptions::default(),
            http_options: Vec::new(),
            source: None,
            servers: Vec::new(),
            default_server: server::template(span),
            logs: Vec::new(),
            log_format: None,
            unique_id_format: None,
            stick_table: None,
            stick_rules: Vec::new(),
            unique_id_header: None,
            log_tag: None,
            captures: Default::default(),
            acls: Vec::new(),
            http: HttpSettings::default(),
            tcp_rules: crate::rules::TcpRules::default(),
            rules_defaults: None,
            own_check_rules: false,
            http_rule_span: None,
        }
    }
}

/// Which halves a section has.
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    pub frontend: bool,
    pub backend: bool,
    pub defaults: bool,
}

impl Caps {
    pub fn of(kind: Kind) -> Caps {
        match kind {
            Kind::Defaults => Caps {
                frontend: true,
                backend: true,
                defaults: true,
            },
            Kind::Frontend => Caps {
                frontend: true,
                backend: false,
                defaults: false,
            },
            Kind::Backend => Caps {
                frontend: false,
                backend: true,
                defaults: false,
            },
            _ => Caps {
                frontend: true,
                backend: true,
                defaults: false,
            },
        }
    }
}

mod l7;
mod table;
#[cfg(test)]
pub(super) use table::ACTED_TIMEOUTS;
pub(super) use table::{KEYWORDS, KNOWN_NOT_ACTED, TIMEOUTS};

fn has(caps: Caps, need: char) -> bool {
    match need {
        'F' => caps.frontend,
        'B' => caps.backend,
        _ => true,
    }
}

fn half(need: char) -> &'static str {
    if need == 'F' {
        "frontend"
    } else {
        "backend"
    }
}

/// Applies one directive of a proxy section (`kind` named `name`) to the draft.
pub fn apply(d: &Directive, kind: Kind, name: &str, caps: Caps, p: &mut Draft, ctx: &mut Ctx) {
    let kw = d.keyword();
    super::sample::set_proxy(name);
    let need = KEYWORDS.iter().find(|(k, _)| *k == kw).map(|(_, n)| *n);
    let Some(need) = need else {
        if let Some((_, class)) = KNOWN_NOT_ACTED.iter().find(|(k, _)| *k == kw) {
            ctx.not_acted(&d.span, &format!("'{kw}'"), kw, *class);
        } else {
            let all = KEYWORDS
                .iter()
                .map(|(k, _)| *k)
                .chain(KNOWN_NOT_ACTED.iter().map(|(k, _)| *k));
            ctx.error_hint(
                &d.span,
                format!("unknown keyword '{kw}' in '{}' section", kind.word()),
                suggest::hint(kw, all),
            );
        }
        return;
    };
    if caps.defaults
        && matches!(
            kw,
            "bind"
                | "server"
                | "server-template"
                | "use_backend"
                | "acl"
                | "redirect"
                | "capture"
                | "use-server"
                | "force-persist"
                | "ignore-persist"
                | "id"
                | "dispatch"
                | "stick-table"
                | "stick"
        )
    {
        ctx.error(&d.span, format!("'{kw}' is not allowed in a 'defaults' section"));
        return;
    }
    if matches!(
        kw,
        "tcp-request" | "tcp-response" | "http-request" | "http-response" | "http-after-response"
    ) && caps.defaults
        && name.is_empty()
    {
        // As HAProxy: which proxies rules of a defaults section go to must be said (`from`).
        ctx.error_hint(
            &d.span,
            format!(
                "'{kw} {}' is not allowed in an anonymous 'defaults' section",
                d.arg(1).unwrap_or_default()
            ),
            Some(
                "name the section ('defaults NAME') and use it with 'from NAME', or move the rule into the proxies"
                    .into(),
            ),
        );
        return;
    }
    // HAProxy runs content rules in backends too (an allow-list there is enforced).
    let backend_content = kw == "tcp-request" && matches!(d.arg(1), Some("content" | "inspect-delay"));
    if !has(caps, need) && !backend_content {
        // What would change what servers receive, or which server, is refused rather than
        // ignored.
        if matches!(
            kw,
            "bind"
                | "server"
                | "server-template"
                | "tcp-request"
                | "unique-id-format"
                | "unique-id-header"
                | "stick"
                | "use-server"
                | "cookie"
                | "force-persist"
                | "ignore-persist"
        ) {
            ctx.error(
                &d.span,
                format!(
                    "'{kw}' is not allowed in {} '{name}': it has no {} side",
                    kind.word(),
                    half(need)
                ),
            );
        } else {
            ctx.warn(
                &d.span,
                format!("'{kw}' ignored: {} '{name}' has no {} side", kind.word(), half(need)),
            );
        }
        return;
    }
    if let Err(e) = apply_known(d, caps, name, kind, p, ctx) {
        ctx.error_hint(&d.span, e.0, e.1);
    }
}

fn apply_known(d: &Directive, caps: Caps, name: &str, kind: Kind, p: &mut Draft, ctx: &mut Ctx) -> Res<()> {
    if let Some(r) = l7::apply(d, caps, p, ctx) {
        return r;
    }
    let kw = d.keyword();
    match kw {
        "mode" => {
            want_args(d, 1, "tcp or http").map_err(err)?;
            p.mode = match d.words[1].as_str() {
                "tcp" => Mode::Tcp,
                "http" => Mode::Http,
                "health" => return Err(err("'mode health' is not supported (it was removed from HAProxy too)")),
                other => {
                    return Err((
                        format!("unknown mode '{other}'"),
                        Some("use 'mode tcp' or 'mode http'".into()),
                    ))
                }
            };
        }
        "bind" => {
            if let Some(b) = bind::parse(d, ctx) {
                let taken =
                    b.id.and_then(|id| Some((id, p.binds.iter().find(|o| o.id == Some(id))?)));
                if let Some((id, other)) = taken {
                    let m = format!(
                        "listener id {id} is already used at {} ('bind {}')",
                        other.span, other.text
                    );
                    return Err((m, None));
                }
                p.binds.push(b);
            }
        }
        "default_backend" => {
            want_args(d, 1, "a backend name").map_err(err)?;
            p.default_backend = Some((d.words[1].clone(), d.span.clone()));
        }
        "use_backend" => {
            let backend = d
                .arg(1)
                .ok_or_else(|| err("'use_backend' expects a backend name"))?
                .to_string();
            let condition = match d.words.get(2) {
                None => None,
                Some(_) => Some(acl::condition(&d.words[2..], &p.acls)?),
            };
            tcp::no_response_fetch(&condition, "'use_backend'")?;
            let dynamic = if backend.contains("%[") {
                Some(acl::template(&backend).map_err(err)?)
            } else {
                None
            };
            p.use_backends.push(UseBackend {
                span: d.span.clone(),
                backend,
                dynamic,
                condition,
            });
        }
        "use-server" => {
            let name = d
                .arg(1)
                .ok_or_else(|| err("'use-server' expects a server name, then 'if' or 'unless' and a condition"))?;
            if name.contains("%[") {
                return Err(err(format!(
                    "'use-server {name}': server names from a log-format string are not supported yet"
                )));
            }
            if !matches!(d.arg(2), Some("if" | "unless")) {
                return Err(err("'use-server' requires 'if' or 'unless' followed by a condition"));
            }
            let condition = acl::condition(&d.words[2..], &p.acls)?;
            tcp::no_response_fetch(&Some(condition.clone()), "'use-server'")?;
            p.use_servers.push((name.to_string(), condition, d.span.clone()));
        }
        "force-persist" | "ignore-persist" => {
            if !matches!(d.arg(1), Some("if" | "unless")) {
                return Err(err(format!("'{kw}' requires 'if' or 'unless' followed by a condition")));
            }
            p.persist_rules.push(crate::model::PersistRule {
                force: kw == "force-persist",
                condition: acl::condition(&d.words[1..], &p.acls)?,
            });
        }
        "cookie" => p.cookie = Some(super::cookie::parse(d, ctx)?),
        "backlog" => {
            want_args(d, 1, "a number of connections").map_err(err)?;
            p.backlog = Some(units::int(&d.words[1], "backlog").map_err(err)?);
        }
        "maxconn" => {
            want_args(d, 1, "a number of connections").map_err(err)?;
            let n: u32 = units::int(&d.words[1], "maxconn").map_err(err)?;
            p.maxconn = (n > 0).then_some(n);
        }
        "rate-limit" => {
            if d.arg(1) != Some("sessions") {
                return Err(err("'rate-limit' expects 'sessions' and a number per second"));
            }
            want_args(d, 2, "'sessions' and a number per second").map_err(err)?;
            let n: u32 = units::int(&d.words[2], "rate-limit sessions").map_err(err)?;
            p.rate_limit_sessions = (n > 0).then_some(n);
        }
        "balance" => {
            p.balance = super::balance::balance(d)?;
            p.balance_set = true;
        }
        "dispatch" => {
            let (Some(a), None) = (d.arg(1), d.arg(2)) else {
                return Err(err(
                    "'dispatch' expects an address and a port, e.g. 'dispatch 192.0.2.10:80'",
                ));
            };
            let sa = match crate::addr::server_addr(a).map_err(err)? {
                (crate::model::Host::Ip(ip), crate::model::ServerPort::Fixed(port)) => {
                    std::net::SocketAddr::new(ip, port)
                }
                _ => return Err(err(format!("'dispatch {a}': expected an IP address and a port"))),
            };
            p.dispatch = Some((sa, d.span.clone()));
        }
        "hash-type" => p.hash_type = super::balance::hash_type(d, ctx)?,
        "id" => {
            want_args(d, 1, "a number above 0").map_err(err)?;
            let n: u32 = units::int(&d.words[1], "id").map_err(err)?;
            if n == 0 {
                return Err(err("'id' must be above 0"));
            }
            p.id = Some((n, d.span.clone()));
        }
        "disabled" | "enabled" => {
            if let Some(w) = d.arg(1) {
                return Err(err(format!("'{kw}' takes no argument; unexpected '{w}'")));
            }
            p.disabled = kw == "disabled";
        }
        "fullconn" => {
            want_args(d, 1, "a number of sessions").map_err(err)?;
            let n: u32 = units::int(&d.words[1], "fullconn").map_err(err)?;
            p.fullconn = (n > 0).then_some(n);
        }
        "retries" => {
            want_args(d, 1, "a number of retries").map_err(err)?;
            p.retries = units::int(&d.words[1], "retries").map_err(err)?;
        }
        "retry-on" => {
            if d.words.len() < 2 {
                return Err(err("'retry-on' expects keywords, e.g. 'retry-on conn-failure 503'"));
            }
            p.retry_on = crate::model::RetryOn::parse(d.words[1..].iter().map(String::as_str)).map_err(|e| {
                (
                    e,
                    Some(
                        "none, conn-failure, empty-response, junk-response, response-timeout, 0rtt-rejected, \
                         401, 403, 404, 408, 425, 500, 501, 502, 503, 504, all-retryable-errors"
                            .into(),
                    ),
                )
            })?;
        }
        "source" => {
            // `if|unless COND` after `usesrc hdr_ip(...)`: which clients may choose the source.
            let at = d.words.iter().position(|w| w == "if" || w == "unless");
            let trust = at.map(|i| acl::condition(&d.words[i..], &p.acls)).transpose()?;
            let head = Directive {
                words: d.words[..at.unwrap_or(d.words.len())].to_vec(),
                ..d.clone()
            };
            let mut args = Args::new(&head, 1);
            let mut src = source::parse(&mut args, &d.span, false)?;
            match (&mut src.usesrc, trust) {
                (Some(crate::model::UseSrc::HdrIp { trust: t, .. }), Some(c)) => *t = Some(c),
                (Some(crate::model::UseSrc::HdrIp { header, .. }), None) => ctx.warn(
                    &d.span,
                    format!(
                        "'usesrc hdr_ip({header})' without 'if COND': no client is trusted to choose the source, \
                         so connections come from this host's address (add e.g. 'if {{ src 10.0.0.0/8 }}' \
                         naming the proxies in front)"
                    ),
                ),
                (_, Some(_)) => {
                    return Err(err("a condition on 'source' applies only to 'usesrc hdr_ip(...)'"));
                }
                _ => {}
            }
            if src.port_range.is_some() {
                return Err((
                    "a source port range is only allowed on a server line".into(),
                    Some("write it as 'server NAME ADDR source IP:LOW-HIGH'".into()),
                ));
            }
            p.source = Some(src);
        }
        "server" => {
            if let Some(s) = server::parse_server(d, &p.default_server, ctx) {
                if p.servers.iter().any(|o| o.name == s.name) {
                    return Err(err(format!(
                        "duplicate server name '{}' in {} '{name}'",
                        s.name,
                        kind.word()
                    )));
                }
                p.servers.push(s);
            }
        }
        "server-template" => {
            for (line, slot) in crate::keywords::dns::template_lines(d)? {
                if let Some(mut s) = server::parse_server(&line, &p.default_server, ctx) {
                    if p.servers.iter().any(|o| o.name == s.name) {
                        return Err(err(format!(
                            "duplicate server name '{}' in {} '{name}'",
                            s.name,
                            kind.word()
                        )));
                    }
                    s.dns.template = Some(slot);
                    p.servers.push(s);
                } else {
                    break;
                }
            }
        }
        "default-server" => server::parse_default_server(d, &mut p.default_server, ctx),
        "option" => {
            if d.arg(1) == Some("httpchk") {
                checks::own_check_rules(&mut p.own_check_rules, &mut p.options);
            }
            option(d, false, caps, name, kind, p, ctx)
        }
        "no" if d.arg(1) == Some("log") && d.words.len() == 2 => p.logs.clear(),
        "no" => {
            if d.arg(1) != Some("option") {
                return Err(err(format!(
                    "'no' must be followed by 'option', not '{}'",
                    d.arg(1).unwrap_or("")
                )));
            }
            option(d, true, caps, name, kind, p, ctx);
        }
        "timeout" => {
            let which = d
                .arg(1)
                .ok_or_else(|| err("'timeout' expects a name and a time, e.g. 'timeout connect 5s'"))?;
            let Some((key, need)) = TIMEOUTS.iter().find(|(k, _)| *k == which).copied() else {
                let hint = suggest::hint(which, TIMEOUTS.iter().map(|(k, _)| *k));
                return Err((format!("unknown timeout '{which}'"), hint));
            };
            let value = d
                .arg(2)
                .ok_or_else(|| err(format!("'timeout {which}' expects a time, e.g. 5s")))?;
            if d.words.len() > 3 {
                return Err(err(format!(
                    "'timeout {which}' takes one time; unexpected '{}'",
                    d.words[3]
                )));
            }
            let t = units::time(value).map_err(err)?;
            if !has(caps, need) {
                ctx.warn(
                    &d.span,
                    format!(
                        "'timeout {which}' ignored: {} '{name}' has no {} side",
                        kind.word(),
                        half(need)
                    ),
                );
                return Ok(());
            }
            set_timeout(&mut p.timeouts, key, t, ctx, d);
            p.timeout_spans.retain(|(k, _)| *k != key);
            p.timeout_spans.push((key, d.span.clone()));
        }
        "contimeout" | "clitimeout" | "srvtimeout" => {
            want_args(d, 1, "a time").map_err(err)?;
            let t = units::time(&d.words[1]).map_err(err)?;
            let key = match kw {
                "contimeout" => "connect",
                "clitimeout" => "client",
                _ => "server",
            };
            ctx.warn(&d.span, format!("'{kw}' is deprecated: use 'timeout {key}'"));
            set_timeout(&mut p.timeouts, key, t, ctx, d);
        }
        "log" => match d.arg(1) {
            Some("global") if d.words.len() == 2 => p.logs.push(ProxyLog::Global(d.span.clone())),
            _ => p.logs.push(ProxyLog::Target(
                super::log::parse(&d.span, &d.words[1..]).map_err(err)?,
            )),
        },
        "stick-table" => {
            if p.stick_table.is_some() {
                return Err(err(format!(
                    "'{name}' has a stick-table already (one per proxy, named after it)"
                )));
            }
            p.stick_table = Some(super::stick::parse(d).map_err(err)?);
        }
        "stick" => p.stick_rules.push(super::stick::rule(d, &p.acls)?),
        "unique-id-format" => {
            if d.words.len() < 2 {
                return Err(err(
                    "'unique-id-format' expects a format, e.g. unique-id-format %[uuid()]",
                ));
            }
            p.unique_id_format = Some((d.words[1..].join(" "), d.span.clone()));
        }
        "unique-id-header" => {
            want_args(d, 1, "a header name").map_err(err)?;
            if !super::http::http_token(&d.words[1]) {
                return Err(err(format!("'{}' is not a valid header name", d.words[1])));
            }
            p.unique_id_header = Some(d.words[1].clone());
        }
        "log-format" => {
            if d.words.len() < 2 {
                return Err(err(
                    "'log-format' expects a format, e.g. log-format \"%ci:%cp [%tr] %ft %b/%s %ST\"",
                ));
            }
            // Words were split at unescaped spaces; the format keeps one space between them.
            p.log_format = Some((d.words[1..].join(" "), d.span.clone()));
        }
        "clitcpka-cnt" | "srvtcpka-cnt" | "clitcpka-idle" | "srvtcpka-idle" | "clitcpka-intvl" | "srvtcpka-intvl" => {
            want_args(d, 1, "a value").map_err(err)?;
            let t = if kw.starts_with("cli") {
                &mut p.options.clitcpka_timers
            } else {
                &mut p.options.srvtcpka_timers
            };
            let v = &d.words[1];
            match &kw[9..] {
                "cnt" => t.cnt = Some(crate::units::int(v, kw).map_err(err)?),
                // Whole seconds, as the socket options take them (HAProxy rounds the same way).
                "idle" => t.idle = Some(crate::units::time(v).map_err(err)?),
                _ => t.intvl = Some(crate::units::time(v).map_err(err)?),
            }
        }
        "log-tag" => {
            want_args(d, 1, "a tag").map_err(err)?;
            p.log_tag = Some(d.words[1].clone());
        }
        "external-check" | "tcp-check" | "http-check" => {
            if kw != "external-check" {
                checks::own_check_rules(&mut p.own_check_rules, &mut p.options);
            }
            checks::apply(d, &mut p.options, ctx)?;
        }
        "acl" => {
            let name = d
                .arg(1)
                .ok_or_else(|| err("'acl' expects a name, a criterion and values"))?;
            if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b)) {
                return Err(err(format!(
                    "'{name}' is not a valid ACL name (letters, digits, '-', '_', '.', ':')"
                )));
            }
            let test = acl::test(&d.words[2..])?;
            note_http(p, d, test.fetch.needs_http());
            match p.acls.iter_mut().find(|a| a.name == name) {
                Some(a) => a.tests.push(test),
                None => p.acls.push(acl::Named {
                    name: name.to_string(),
                    tests: vec![test],
                }),
            }
        }
        "tcp-request" => tcp::request(d, &mut p.tcp_rules, &p.acls)?,
        "tcp-response" => tcp::response(d, &mut p.tcp_rules, &p.acls)?,
        "stats" => {
            if caps.defaults && matches!(d.arg(1), Some("admin" | "http-request")) {
                return Err(err(format!(
                    "'stats {}' is not allowed in a 'defaults' section",
                    d.arg(1).unwrap_or_default()
                )));
            }
            super::stats_page::apply(d, name, &p.acls, &mut p.http.stats)?
        }
        _ => unreachable!("keyword '{kw}' is in KEYWORDS but has no handler"),
    }
    Ok(())
}

fn set_timeout(t: &mut Timeouts, key: &str, v: std::time::Duration, ctx: &mut Ctx, d: &Directive) {
    let slot = match key {
        "connect" => &mut t.connect,
        "client" => &mut t.client,
        "server" => &mut t.server,
        "queue" => &mut t.queue,
        "tunnel" => &mut t.tunnel,
        "client-fin" => &mut t.client_fin,
        "server-fin" => &mut t.server_fin,
        "check" => &mut t.check,
        "http-request" => &mut t.http_request,
        "http-keep-alive" => &mut t.http_keep_alive,
        "tarpit" => &mut t.tarpit,
        _ => {
            ctx.not_acted(&d.span, &format!("'timeout {key}'"), "timeout", NotActed::Unsupported);
            return;
        }
    };
    *slot = Some(v);
}

/// Remembers the first line that needs `mode http`.
fn note_http(p: &mut Draft, d: &Directive, needs_http: bool) {
    if needs_http && p.http_rule_span.is_none() {
        p.http_rule_span = Some(d.span.clone());
    }
}

fn option(d: &Directive, negated: bool, caps: Caps, name: &str, _kind: Kind, p: &mut Draft, ctx: &mut Ctx) {
    let at = if negated { 2 } else { 1 };
    if d.arg(at) == Some("tcp-smart-accept") && !has(caps, 'F') {
        ctx.warn(
            &d.span,
            format!("'option tcp-smart-accept' only concerns accepted connections: ignored in backend '{name}'"),
        );
    }
    if d.arg(at) == Some("tcp-smart-connect") && !has(caps, 'B') {
        ctx.warn(
            &d.span,
            format!("'option tcp-smart-connect' only concerns server connections: ignored in frontend '{name}'"),
        );
    }
    // Each of these replaces the others, as in HAProxy; `no option X` goes back to keep-alive.
    let mode = match d.arg(at) {
        Some("http-keep-alive") => Some(HttpConnMode::KeepAlive),
        Some("http-server-close") => Some(HttpConnMode::ServerClose),
        Some("httpclose") | Some("forceclose") => Some(HttpConnMode::Close),
        _ => None,
    };
    if let Some(m) = mode {
        p.http.conn_mode = if negated { HttpConnMode::KeepAlive } else { m };
    }
    options::apply(d, negated, &mut p.options, &mut p.redispatch, ctx);
    if let Some(o) = d.arg(at) {
        p.http_options.retain(|(n, _)| n != o);
        if !negated && options::HTTP_ONLY.contains(&o) {
            p.http_options.push((o.to_string(), d.span.clone()));
        }
    }
}
