//! A server line given at run time (`add server BACKEND/NAME ADDR [params]`), read as HAProxy
//! reads one: no `default-server`, the backend's `source`, the subset of parameters HAProxy
//! takes there, and the same checks as a line of the file (`line_errors`).

use super::Ctx;
use crate::ast::Directive;
use crate::model::{Backend, Balance, HashType, Mode, Server, Span, TlsDefaults};

/// What a line of the file and one given at run time must both pass, once read: messages
/// with hints.
pub fn line_errors(srv: &Server, mode: Mode) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    if mode == Mode::Tcp && srv.send_proxy.v2_unique_id {
        // A TCP session has no request, so no unique id to send.
        out.push((
            format!(
                "server '{}': 'proxy-v2-options unique-id' needs 'mode http' (a request's unique id): in 'mode tcp' servers would not receive it",
                srv.name
            ),
            Some("remove 'unique-id' from 'proxy-v2-options', or use 'mode http'".into()),
        ));
    }
    if (srv.ssl || (srv.check.enabled && srv.check_tls())) && srv.tls.verifies() && srv.tls.ca_file.is_none() {
        out.push((
            format!(
                "server '{}' verifies the server's certificate ('ssl', verify required by default) but has no 'ca-file'",
                srv.name
            ),
            Some(
                "add 'ca-file /path/to/ca.pem', or 'verify none' to skip verification \
                 ('ssl-server-verify none' in the global section for every server)"
                    .into(),
            ),
        ));
    }
    if srv.check.observe == Some(true) && mode != Mode::Http {
        out.push((
            format!("server '{}': 'observe layer7' needs 'mode http'", srv.name),
            Some("use 'observe layer4' to watch connections in mode tcp".into()),
        ));
    }
    // As HAProxy: a server at 0.0.0.0 (each client's destination) is checked there, at its
    // port or port 0, where the check fails.
    let anywhere = matches!(srv.host, crate::model::Host::Ip(ip) if ip.is_unspecified());
    if srv.check.enabled
        && srv.check.port.is_none()
        && !anywhere
        && !matches!(srv.port, crate::model::ServerPort::Fixed(_))
    {
        out.push((
            format!("server '{}' has 'check' but no port to check", srv.name),
            Some("give the address a port, or add 'port N' to the server line".into()),
        ));
    }
    out
}

/// What a backend's `source` and HAProxy's reading of `minconn` with `maxconn` make of a
/// server as written.
pub fn settle(mut srv: Server, backend_source: &Option<crate::model::Source>) -> Server {
    if srv.source.is_none() {
        srv.source = backend_source.clone();
    }
    if srv.minconn > srv.maxconn {
        srv.maxconn = srv.minconn;
    } else if srv.minconn == 0 {
        srv.minconn = srv.maxconn;
    }
    srv
}

/// Whether servers can join `b` at run time: its algorithm follows a changing server list
/// (HAProxy's "dynamic" algorithms; not `static-rr` nor a map-based hash).
pub fn takes_dynamic_servers(b: &Backend) -> bool {
    match b.balance {
        Balance::StaticRr => false,
        Balance::RoundRobin | Balance::LeastConn | Balance::First | Balance::Random { .. } => true,
        _ => b.hash_type == HashType::Consistent,
    }
}

/// The parameters HAProxy's `add server` takes (besides the TLS policy ones, which it takes
/// too); any other is refused there.
const TAKEN: &[&str] = &[
    "agent-addr",
    "agent-check",
    "agent-inter",
    "agent-port",
    "agent-send",
    "allow-0rtt",
    "alpn",
    "addr",
    "backup",
    "ca-file",
    "check",
    "check-alpn",
    "check-proto",
    "check-send-proxy",
    "check-sni",
    "check-ssl",
    "check-via-socks4",
    "ciphers",
    "ciphersuites",
    "crl-file",
    "crt",
    "disabled",
    "downinter",
    "enabled",
    "error-limit",
    "fall",
    "fastinter",
    "id",
    "inter",
    "maxconn",
    "maxqueue",
    "minconn",
    "no-ssl-reuse",
    "no-tls-tickets",
    "npn",
    "observe",
    "on-error",
    "on-marked-down",
    "on-marked-up",
    "pool-low-conn",
    "pool-max-conn",
    "pool-purge-delay",
    "port",
    "proto",
    "proxy-v2-options",
    "rise",
    "send-proxy",
    "send-proxy-v2",
    "send-proxy-v2-ssl",
    "send-proxy-v2-ssl-cn",
    "slowstart",
    "sni",
    "source",
    "ssl",
    "ssl-max-ver",
    "ssl-min-ver",
    "tfo",
    "tls-tickets",
    "track",
    "usesrc",
    "verify",
    "verifyhost",
    "weight",
    "ws",
];

/// A server parameter's name (rather than a value).
fn is_param(w: &str) -> bool {
    use super::server::{ACTED, KNOWN_NOT_ACTED};
    const DNS: &[&str] = &[
        "resolvers",
        "init-addr",
        "resolve-prefer",
        "resolve-net",
        "resolve-opts",
    ];
    ACTED.contains(&w) || DNS.contains(&w) || KNOWN_NOT_ACTED.iter().any(|(k, _, _)| *k == w)
}

/// `words`: the name, the address, then parameters, as `add server B/NAME ...` gives them.
/// The backend is the one the server joins; `tls`: the global TLS defaults.
pub fn runtime_server(words: &[String], backend: &Backend, tls: &TlsDefaults) -> Result<Server, String> {
    if words.len() < 2 {
        return Err("'server' expects <name> and <addr>[:<port>] as arguments.".into());
    }
    // HAProxy refuses parameters outside its list by name; a value that happens to spell
    // one is read by the parser below, which knows which words are values.
    if let Some(p) = words[2..].iter().find(|w| {
        is_param(w)
            && !TAKEN.contains(&w.as_str())
            && !w.starts_with("force-")
            && !w.starts_with("no-")
            && !w.starts_with("check-")
    }) {
        return Err(format!("'{p}' option is not accepted for dynamic server"));
    }
    let span = Span {
        file: "cli".into(),
        line: 1,
    };
    let d = Directive {
        span: span.clone(),
        words: std::iter::once("server".to_string())
            .chain(words.iter().cloned())
            .collect(),
    };
    let mut ctx = Ctx {
        tls: tls.clone(),
        ..Ctx::default()
    };
    // What the runtime API answers for a refused line: the message, and its hint.
    let said = |m: &str, h: Option<&str>| match h {
        Some(h) => format!("{m} (hint: {h})"),
        None => m.to_string(),
    };
    let srv = super::server::parse_server(&d, &super::server::template(&span), &mut ctx);
    if let Some(e) = ctx.errors.first() {
        return Err(said(&e.message, e.hint.as_deref()));
    }
    let srv = srv.ok_or("invalid server line")?;
    if srv.source.as_ref().is_some_and(|s| s.usesrc.is_some()) {
        // Transparent proxying (capabilities, the return path) is set up at start.
        return Err(
            "'usesrc' is not supported on a server added at run time (hint: put the server in the configuration)"
                .into(),
        );
    }
    let srv = settle(srv, &backend.source);
    crate::resolve::checks::check_sources(std::slice::from_ref(&srv), &mut ctx);
    if let Some(e) = ctx.errors.first() {
        return Err(said(&e.message, e.hint.as_deref()));
    }
    if srv.proto_h2 && backend.mode == Mode::Tcp {
        return Err("MUX protocol is not usable for server.".into());
    }
    if let Some((m, h)) = line_errors(&srv, backend.mode).into_iter().next() {
        return Err(said(&m, h.as_deref()));
    }
    Ok(srv)
}
