//! `option NAME [args]` and `no option NAME`: which options exist, which capability they need,
//! and how they set the proxy's `ProxyOptions`.

use super::Ctx;
use super::NotActed::{self, NoEffect, Unsupported};
use crate::ast::Directive;
use crate::model::{CheckKind, ForwardFor, HttpCheck, ProxyOptions};
use crate::suggest;

/// Options Clearway acts on.
pub(super) const ACTED: &[&str] = &[
    "httpslog",
    "http-restrict-req-hdr-names",
    "redispatch",
    "prefer-last-server",
    "allbackups",
    "persist",
    "checkcache",
    "http-buffer-request",
    "abortonclose",
    "http-use-proxy-header",
    "transparent",
    "originalto",
    "forwardfor",
    "http-keep-alive",
    "http-server-close",
    "httpclose",
    "forceclose",
    "splice-auto",
    "tcp-smart-accept",
    "tcp-smart-connect",
    "httplog",
    "tcplog",
    "dontlognull",
    "dontlog-normal",
    "log-separate-errors",
    "log-health-checks",
    "socket-stats",
    "tcpka",
    "clitcpka",
    "srvtcpka",
];
/// Options that only make sense in HTTP mode (warned about in TCP proxies).
pub const HTTP_ONLY: &[&str] = &[
    "httplog",
    "httpslog",
    // Acted on for HTTP/1 clients; a TCP proxy would have to watch its clients while
    // connecting, which it does not yet (refused there).
    "abortonclose",
    "http-server-close",
    "httpclose",
    "forceclose",
    "http-keep-alive",
    "forwardfor",
    "http-buffer-request",
    "http-pretend-keepalive",
    "http-no-delay",
    "originalto",
    "http-use-proxy-header",
    "accept-invalid-http-request",
    "accept-invalid-http-response",
    "checkcache",
    "http-ignore-probes",
    "http-restrict-req-hdr-names",
    "disable-h2-upgrade",
    "h1-case-adjust-bogus-client",
    "h1-case-adjust-bogus-server",
];
/// Health-check options, stored as written for the health-check work.
pub const CHECKS: &[&str] = &[
    "httpchk",
    "ssl-hello-chk",
    "mysql-check",
    "pgsql-check",
    "redis-check",
    "tcp-check",
    "ldap-check",
    "smtpchk",
    "external-check",
    "spop-check",
];
/// Health-check options Clearway does not run: not supported (a plain TCP connect instead).
pub(super) const UNRUN_CHECKS: &[&str] = &["spop-check"];
/// Options HAProxy knows that Clearway does not act on, by class.
pub(super) const UNACTED: &[(&str, NotActed)] = &[
    ("splice-request", NoEffect),
    ("splice-response", NoEffect),
    ("contstats", NoEffect),
    ("logasap", NoEffect),
    // Closing with a reset instead of a FIN can lose data in flight.
    ("nolinger", Unsupported),
    ("independent-streams", NoEffect),
    ("idle-close-on-response", NoEffect),
    ("http-use-htx", NoEffect),
    ("http-pretend-keepalive", Unsupported),
    ("http-no-delay", NoEffect),
    ("accept-invalid-http-request", Unsupported),
    ("accept-invalid-http-response", Unsupported),
    ("http-ignore-probes", NoEffect),
    ("disable-h2-upgrade", NoEffect),
    ("h1-case-adjust-bogus-client", Unsupported),
    ("h1-case-adjust-bogus-server", Unsupported),
];

pub fn apply(d: &Directive, negated: bool, opts: &mut ProxyOptions, redispatch: &mut bool, ctx: &mut Ctx) {
    let start = if negated { 2 } else { 1 };
    let Some(name) = d.arg(start) else {
        ctx.error(&d.span, "'option' expects an option name, e.g. 'option redispatch'");
        return;
    };
    let args = &d.words[start + 1..];
    match name {
        "redispatch" => *redispatch = !negated,
        "allbackups" => opts.allbackups = !negated,
        "persist" => opts.persist = !negated,
        "checkcache" => opts.checkcache = !negated,
        "http-buffer-request" => opts.buffer_request = !negated,
        "http-restrict-req-hdr-names" => {
            use crate::model::HdrNames;
            opts.restrict_hdr_names = match (negated, args.first().map(String::as_str), args.len()) {
                (false, Some("preserve"), 1) => HdrNames::Preserve,
                (false, Some("delete"), 1) => HdrNames::Delete,
                (false, Some("reject"), 1) => HdrNames::Reject,
                _ => {
                    return ctx.error(
                        &d.span,
                        "'option http-restrict-req-hdr-names' expects one of preserve, delete or reject",
                    )
                }
            }
        }
        "abortonclose" => opts.abortonclose = !negated,
        "transparent" => opts.transparent = !negated,
        "http-use-proxy-header" => opts.use_proxy_header = !negated,
        "prefer-last-server" => opts.prefer_last_server = !negated,
        "tcplog" => opts.tcplog = !negated,
        "httplog" if !args.is_empty() => {
            return ctx.error(
                &d.span,
                format!(
                    "'option httplog {}' is not supported: only the default HTTP log format is \
                     (hint: write the format with 'log-format')",
                    args.join(" ")
                ),
            )
        }
        "httplog" => opts.httplog = !negated,
        // HAProxy's HTTPS format: the HTTP one and the TLS handshake's outcome.
        "httpslog" => {
            opts.httplog = !negated;
            opts.httpslog = !negated;
        }
        "dontlognull" => opts.dontlognull = !negated,
        "dontlog-normal" => opts.dontlog_normal = !negated,
        "log-separate-errors" => opts.log_separate_errors = !negated,
        "log-health-checks" => opts.log_health_checks = !negated,
        "socket-stats" => opts.socket_stats = !negated,
        // Each side reads its own flag: in a frontend `tcpka` concerns clients, in a backend
        // servers, in a listen section both, as in HAProxy.
        "tcpka" if negated => {
            return ctx.error_hint(
                &d.span,
                "'no option tcpka' does not exist (HAProxy refuses it too)",
                Some("'no option clitcpka' and 'no option srvtcpka' turn each side off".into()),
            )
        }
        "tcpka" => (opts.clitcpka, opts.srvtcpka) = (true, true),
        "clitcpka" => opts.clitcpka = !negated,
        "srvtcpka" => opts.srvtcpka = !negated,
        "http-server-close" => opts.http_server_close = !negated,
        "tcp-smart-accept" => opts.smart_accept = Some(!negated),
        "tcp-smart-connect" => opts.smart_connect = !negated,
        "forwardfor" => match forwardfor(args) {
            Ok(f) => opts.forwardfor = (!negated).then_some(f),
            Err(e) => return ctx.error(&d.span, e),
        },
        "originalto" => match forwardfor(args) {
            Ok(f) if !f.if_none => opts.originalto = (!negated).then_some(f),
            Ok(_) => return ctx.error(&d.span, "'option originalto' has no 'if-none'"),
            Err(e) => return ctx.error(&d.span, e.replace("forwardfor", "originalto")),
        },
        "httpchk" => {
            opts.check = if negated {
                CheckKind::Connect
            } else {
                match httpchk(args) {
                    Ok(h) => CheckKind::Http(h),
                    Err(e) => return ctx.error(&d.span, e),
                }
            };
            return;
        }
        "mysql-check" | "pgsql-check" | "redis-check" | "ssl-hello-chk" | "tcp-check" | "smtpchk" | "ldap-check"
        | "external-check"
            if !negated =>
        {
            match check_option(name, args) {
                Ok(kind) => opts.check = kind,
                Err(e) => return ctx.error(&d.span, e),
            }
            return;
        }
        n if CHECKS.contains(&n) => {
            opts.check = if negated {
                CheckKind::Connect
            } else {
                CheckKind::Unimplemented {
                    option: n.to_string(),
                    args: args.to_vec(),
                }
            };
            // Ignored on request, servers are checked with a plain TCP connect.
            if !negated {
                ctx.not_acted(&d.span, &format!("'option {n}'"), n, NotActed::Unsupported);
            }
            return;
        }
        // What Clearway does anyway: a transfer moves to splice(2) once a read fills a whole
        // buffer, and small exchanges stay in user space.
        "splice-auto" => {
            if negated {
                ctx.warn(
                    &d.span,
                    "'no option splice-auto' has no effect: Clearway decides per transfer when to splice \
                     (hint: 'nosplice' in the global section turns splicing off)",
                );
            }
            return;
        }
        n if HTTP_ONLY.contains(&n) || UNACTED.iter().any(|(k, _)| *k == n) => {}
        other => {
            let all = ACTED
                .iter()
                .chain(HTTP_ONLY)
                .chain(CHECKS)
                .copied()
                .chain(UNACTED.iter().map(|(k, _)| *k));
            ctx.error_hint(&d.span, format!("unknown option '{other}'"), suggest::hint(other, all));
            return;
        }
    }
    if !ACTED.contains(&name) && !negated {
        let class = UNACTED
            .iter()
            .find(|(k, _)| *k == name)
            .map_or(NotActed::Unsupported, |(_, c)| *c);
        ctx.not_acted(&d.span, &format!("'option {name}'"), name, class);
    }
}

fn forwardfor(args: &[String]) -> Result<ForwardFor, String> {
    let mut f = ForwardFor::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "except" => {
                f.except = Some(
                    it.next()
                        .ok_or("'option forwardfor except' expects a network, e.g. 127.0.0.0/8")?
                        .clone(),
                )
            }
            "header" => {
                f.header = Some(
                    it.next()
                        .ok_or("'option forwardfor header' expects a header name")?
                        .clone(),
                )
            }
            "if-none" => f.if_none = true,
            other => {
                return Err(format!(
                    "unknown 'option forwardfor' parameter '{other}' (expected except, header or if-none)"
                ))
            }
        }
    }
    Ok(f)
}

/// `option httpchk`, `option httpchk URI`, `option httpchk METHOD URI [VERSION]`.
fn httpchk(args: &[String]) -> Result<HttpCheck, String> {
    let mut h = HttpCheck::default();
    match args {
        [] => {}
        [uri] => h.uri = uri.clone(),
        [method, uri] => (h.method, h.uri) = (method.clone(), uri.clone()),
        [method, uri, version] => (h.method, h.uri, h.version) = (method.clone(), uri.clone(), version.clone()),
        _ => return Err("'option httpchk' takes at most a method, a URI and a version".into()),
    }
    if !h.uri.starts_with('/') && h.uri != "*" {
        return Err(format!("'option httpchk': the URI '{}' must start with '/'", h.uri));
    }
    Ok(h)
}

/// The check options other than httpchk.
fn check_option(name: &str, args: &[String]) -> Result<CheckKind, String> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match (name, args.as_slice()) {
        ("mysql-check", []) => Ok(CheckKind::Mysql {
            user: None,
            post41: false,
        }),
        // post-41 is HAProxy's default.
        ("mysql-check", ["user", u] | ["user", u, "post-41"]) => Ok(CheckKind::Mysql {
            user: Some(u.to_string()),
            post41: true,
        }),
        ("mysql-check", ["user", u, "pre-41"]) => Ok(CheckKind::Mysql {
            user: Some(u.to_string()),
            post41: false,
        }),
        ("mysql-check", _) => Err("'option mysql-check' takes [user NAME [post-41|pre-41]]".into()),
        ("pgsql-check", ["user", u]) => Ok(CheckKind::Pgsql { user: u.to_string() }),
        ("pgsql-check", _) => Err("'option pgsql-check' needs 'user NAME'".into()),
        ("redis-check", []) => Ok(CheckKind::Redis),
        ("ssl-hello-chk", []) => Ok(CheckKind::SslHello),
        // As HAProxy: HELO or EHLO with a domain, anything else the default.
        ("smtpchk", [h @ ("HELO" | "EHLO"), domain, ..]) => Ok(CheckKind::Smtp {
            hello: format!("{h} {domain}"),
        }),
        ("smtpchk", _) => Ok(CheckKind::Smtp {
            hello: "HELO localhost".into(),
        }),
        ("ldap-check", []) => Ok(CheckKind::Ldap),
        // The command and path come from `external-check` lines; resolve.rs fills them in.
        ("external-check", []) => Ok(CheckKind::External {
            command: String::new(),
            path: String::new(),
        }),
        // The rules come from the tcp-check lines; resolve.rs fills them in.
        ("tcp-check", []) => Ok(CheckKind::TcpCheck(Vec::new())),
        (n, _) => Err(format!("'option {n}' takes no argument")),
    }
}
