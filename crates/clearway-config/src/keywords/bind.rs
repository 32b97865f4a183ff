//! The `bind` line: addresses (lists, ranges) and listener parameters.

use super::{other_param, Args, Ctx, Res};
use crate::addr;
use crate::ast::Directive;
use crate::model::Bind;
use crate::units;

const ACTED: &[&str] = &[
    "transparent",
    "freebind",
    "v4v6",
    "v6only",
    "interface",
    "name",
    "maxconn",
    "backlog",
];
/// Known bind parameters not acted on yet, with the number of values each takes.
const KNOWN_NOT_ACTED: &[(&str, usize)] = &[
    ("ssl", 0),
    ("crt", 1),
    ("crt-list", 1),
    ("alpn", 1),
    ("npn", 1),
    ("accept-proxy", 0),
    ("defer-accept", 0),
    ("tfo", 0),
    ("mss", 1),
    ("process", 1),
    ("level", 1),
    ("mode", 1),
    ("user", 1),
    ("group", 1),
    ("uid", 1),
    ("gid", 1),
    ("id", 1),
    ("nice", 1),
    ("tcp-ut", 1),
    ("ciphers", 1),
    ("ciphersuites", 1),
    ("ssl-min-ver", 1),
    ("ssl-max-ver", 1),
    ("ca-file", 1),
    ("crl-file", 1),
    ("verify", 1),
    ("strict-sni", 0),
    ("thread", 1),
    ("namespace", 1),
    ("no-sslv3", 0),
    ("no-tlsv10", 0),
    ("no-tlsv11", 0),
    ("no-tlsv12", 0),
    ("no-tlsv13", 0),
    ("force-tlsv12", 0),
    ("curves", 1),
    ("ecdhe", 1),
    ("severity-output", 1),
    ("expose-fd", 1),
    ("allow-0rtt", 0),
    ("prefer-client-ciphers", 0),
    ("generate-certificates", 0),
    ("proto", 1),
    ("no-tls-tickets", 0),
    ("ca-sign-file", 1),
    ("ca-sign-pass", 1),
    ("ca-ignore-err", 1),
    ("crt-ignore-err", 1),
    ("ssl_fc", 0),
];

pub fn parse(d: &Directive, ctx: &mut Ctx) -> Option<Bind> {
    match parse_inner(d, ctx) {
        Ok(b) => Some(b),
        Err((msg, hint)) => {
            ctx.error_hint(&d.span, msg, hint);
            None
        }
    }
}

/// Parses an address list such as the one on an old-style `listen NAME ADDR:PORT` line.
pub fn addresses(text: &str) -> Result<Vec<std::net::SocketAddr>, String> {
    let mut addrs = Vec::new();
    for item in text.split(',').filter(|s| !s.is_empty()) {
        addrs.extend(addr::bind_addrs(item)?);
    }
    if addrs.is_empty() {
        return Err("'bind' expects an address, e.g. 'bind :80' or 'bind 192.0.2.1:80'".into());
    }
    Ok(addrs)
}

/// A bind line with addresses only (the old `listen NAME ADDR:PORT` form).
pub fn simple(span: &crate::model::Span, text: &str, addrs: Vec<std::net::SocketAddr>) -> Bind {
    Bind {
        span: span.clone(),
        text: text.to_string(),
        addrs,
        name: None,
        transparent: false,
        freebind: false,
        v4v6: false,
        v6only: false,
        interface: None,
        maxconn: None,
        backlog: None,
    }
}

fn parse_inner(d: &Directive, ctx: &mut Ctx) -> Res<Bind> {
    let text = d
        .arg(1)
        .ok_or(("'bind' expects an address, e.g. 'bind :80'".to_string(), None))?;
    let addrs = addresses(text).map_err(|e| (format!("'bind {text}': {e}"), None))?;
    let mut b = simple(&d.span, text, addrs);
    let mut args = Args::new(d, 2);
    let num = |args: &mut Args<'_>, p: &str| -> Res<u32> {
        let v = args.value(p, "a number").map_err(|e| (e, None))?;
        units::int(v, p).map_err(|e| (e, None))
    };
    while let Some(p) = args.next() {
        match p {
            "transparent" => b.transparent = true,
            "freebind" => b.freebind = true,
            "v4v6" => b.v4v6 = true,
            "v6only" => b.v6only = true,
            "interface" => b.interface = Some(args.value(p, "an interface name").map_err(|e| (e, None))?.to_string()),
            "name" => b.name = Some(args.value(p, "a name").map_err(|e| (e, None))?.to_string()),
            "maxconn" => b.maxconn = Some(num(&mut args, p)?),
            "backlog" => b.backlog = Some(num(&mut args, p)?),
            _ => other_param(&mut args, p, "bind", ACTED, KNOWN_NOT_ACTED, &d.span, ctx)?,
        }
    }
    if b.v4v6 && b.v6only {
        return Err(("'v4v6' and 'v6only' cannot both be set".into(), None));
    }
    Ok(b)
}
