//! `server NAME ADDR[:PORT] [params]` and `default-server [params]`.

use super::NotActed::{self, NoEffect, Unsupported};
use super::{other_param, plain, source, Args, Ctx, Res};
use crate::addr;
use crate::ast::Directive;
use crate::model::{CheckParams, Host, ReturnPathProbe, Server, ServerPort, ServerTls, Sni, Span};
use crate::units;
use std::net::Ipv4Addr;

/// Parameters acted on, besides the TLS policy ones (`tls::POLICY_PARAMS`).
pub(super) const ACTED: &[&str] = &[
    "check-transparent-source",
    "weight",
    "maxconn",
    "maxqueue",
    "minconn",
    "socks4",
    "check-via-socks4",
    "cookie",
    "id",
    "non-stick",
    "stick",
    "slowstart",
    "backup",
    "disabled",
    "on-marked-down",
    "on-marked-up",
    "enabled",
    "source",
    "check",
    "no-check",
    "inter",
    "fastinter",
    "downinter",
    "rise",
    "fall",
    "port",
    "addr",
    "ssl",
    "no-ssl",
    "verify",
    "ca-file",
    "crl-file",
    "crt",
    "no-tls-tickets",
    "sni",
    "alpn",
    "verifyhost",
    "proto",
    "ws",
    "pool-max-conn",
    "pool-low-conn",
    "pool-purge-delay",
    "send-proxy",
    "send-proxy-v2",
    "send-proxy-v2-ssl",
    "send-proxy-v2-ssl-cn",
    "no-send-proxy",
    "no-send-proxy-v2",
    "no-send-proxy-v2-ssl",
    "no-send-proxy-v2-ssl-cn",
    "proxy-v2-options",
    "check-send-proxy",
    "no-check-send-proxy",
    "check-ssl",
    "no-check-ssl",
    "check-sni",
    "check-alpn",
    "track",
    "observe",
    "error-limit",
    "on-error",
    "agent-check",
    "no-agent-check",
    "agent-port",
    "agent-inter",
    "agent-addr",
    "agent-send",
];
/// Known server parameters not acted on, with the number of values each takes and their
/// class: without effect here (statistics ids, NPN, TCP Fast Open, TLS session reuse, TLS
/// versions and 0-RTT rustls never uses, negations of what Clearway never does), or
/// unsupported (anything that moves traffic, changes what the server receives or the checks
/// that decide whether it gets any).
pub(super) const KNOWN_NOT_ACTED: &[(&str, usize, NotActed)] = &[
    ("npn", 1, NoEffect),
    ("redir", 1, Unsupported),
    ("tfo", 0, NoEffect),
    ("namespace", 1, Unsupported),
    ("tcp-ut", 1, Unsupported),
    ("ssl-reuse", 0, NoEffect),
    ("no-ssl-reuse", 0, NoEffect),
    ("no-tlsv10", 0, NoEffect),
    ("no-tlsv11", 0, NoEffect),
    ("no-sslv3", 0, NoEffect),
    ("allow-0rtt", 0, NoEffect),
    ("log-proto", 1, NoEffect),
    ("max-reuse", 1, Unsupported),
    ("check-proto", 1, Unsupported),
    ("no-backup", 0, Unsupported),
    ("no-tfo", 0, NoEffect),
    ("shard", 1, NoEffect),
    ("set-proxy-v2-tlv-fmt", 1, Unsupported),
    ("sigalgs", 1, Unsupported),
    ("client-sigalgs", 1, Unsupported),
];

/// A parameter whose only possible value is `word` (`on-marked-down shutdown-sessions`).
fn the_only(args: &mut Args<'_>, p: &str, word: &str) -> Res<bool> {
    match args.value(p, &format!("'{word}'")) {
        Ok(v) if v == word => Ok(true),
        Ok(other) => Err((format!("'{p} {other}': only '{word}' exists"), None)),
        Err(e) => Err((e, None)),
    }
}

/// The template that `default-server` modifies and each `server` line starts from.
pub fn template(span: &Span) -> Server {
    Server {
        name: String::new(),
        span: span.clone(),
        host: Host::Ip(Ipv4Addr::UNSPECIFIED.into()),
        port: ServerPort::SameAsClient,
        weight: 1,
        maxconn: 0,
        minconn: 0,
        maxqueue: 0,
        slowstart: None,
        backup: false,
        disabled: false,
        hidden: false,
        on_marked_down_shutdown: false,
        on_marked_up_shutdown_backups: false,
        source: None,
        check: CheckParams::default(),
        agent: Default::default(),
        track: None,
        ssl: false,
        proto_h2: false,
        ws: Default::default(),
        tls: ServerTls::default(),
        pool: Default::default(),
        send_proxy: Default::default(),
        socks4: None,
        cookie: None,
        id: None,
        non_stick: false,
        dns: Default::default(),
    }
}

/// Parses a `server` line on top of `tmpl` (from `default-server`).
pub fn parse_server(d: &Directive, tmpl: &Server, ctx: &mut Ctx) -> Option<Server> {
    match server_line(d, tmpl, ctx) {
        Ok(s) => Some(s),
        Err((m, h)) => {
            ctx.error_hint(&d.span, m, h);
            None
        }
    }
}

fn server_line(d: &Directive, tmpl: &Server, ctx: &mut Ctx) -> Res<Server> {
    let name = d.arg(1).ok_or((
        "'server' expects a name and an address, e.g. 'server s1 192.0.2.10:80'".to_string(),
        None,
    ))?;
    let a = d.arg(2).ok_or((
        format!("server '{name}' needs an address, e.g. 'server {name} 192.0.2.10:80'"),
        None,
    ))?;
    let (host, port) = plain(addr::server_addr(a).map_err(|e| format!("server '{name}': {e}")))?;
    let mut s = tmpl.clone();
    s.name = name.to_string();
    s.span = d.span.clone();
    s.host = host;
    s.port = port;
    params(&mut Args::new(d, 3), &mut s, ctx, &d.span)?;
    s.tls.verify = Some(s.tls.verify.unwrap_or(!ctx.tls.server_verify_none));
    if s.agent.enabled && s.agent.port.is_none() {
        return Err((
            format!("server '{name}': 'agent-check' needs 'agent-port'"),
            Some("add 'agent-port N', the port the agent listens on".into()),
        ));
    }
    s.tls.policy.inherit(&ctx.tls.server);
    if s.ssl {
        s.tls
            .policy
            .check()
            .map_err(|e| (format!("server '{name}': {e}"), None))?;
    }
    Ok(s)
}

/// Applies `default-server` parameters to the template.
pub fn parse_default_server(d: &Directive, tmpl: &mut Server, ctx: &mut Ctx) {
    if let Err((m, h)) = params(&mut Args::new(d, 1), tmpl, ctx, &d.span) {
        ctx.error_hint(&d.span, m, h);
    }
}

fn params(args: &mut Args<'_>, s: &mut Server, ctx: &mut Ctx, span: &Span) -> Res<()> {
    while let Some(p) = args.next() {
        let mut value = |what: &str| plain(args.value(p, what));
        match p {
            "weight" => {
                let w: u32 = plain(units::int(value("a weight from 0 to 256")?, "weight"))?;
                if w > 256 {
                    return Err((
                        format!("weight {w} is out of range"),
                        Some("weights go from 0 to 256".into()),
                    ));
                }
                s.weight = w;
            }
            "maxconn" => s.maxconn = plain(units::int(value("a number of connections")?, "maxconn"))?,
            "minconn" => s.minconn = plain(units::int(value("a number of connections")?, "minconn"))?,
            "maxqueue" => s.maxqueue = plain(units::int(value("a number of sessions")?, "maxqueue"))?,
            // 0 turns it off, as in HAProxy.
            "slowstart" => {
                let t = plain(units::time(value("a time, e.g. 60s")?))?;
                s.slowstart = (!t.is_zero()).then_some(t);
            }
            "backup" => s.backup = true,
            "on-marked-down" => s.on_marked_down_shutdown = the_only(args, p, "shutdown-sessions")?,
            "on-marked-up" => s.on_marked_up_shutdown_backups = the_only(args, p, "shutdown-backup-sessions")?,
            "disabled" => s.disabled = true,
            "enabled" => s.disabled = false,
            "check" => s.check.enabled = true,
            "no-check" => s.check.enabled = false,
            "inter" => s.check.inter = nonzero(plain(units::time(value("a time such as 2s")?))?, p)?,
            "fastinter" => s.check.fastinter = Some(nonzero(plain(units::time(value("a time such as 1s")?))?, p)?),
            "downinter" => s.check.downinter = Some(nonzero(plain(units::time(value("a time such as 5s")?))?, p)?),
            "rise" | "fall" => {
                let n: u32 = plain(units::int(value("a count")?, p))?;
                if n == 0 {
                    return Err((format!("'{p}' must be at least 1"), None));
                }
                if p == "rise" {
                    s.check.rise = n;
                } else {
                    s.check.fall = n;
                }
            }
            "check-transparent-source" => {
                let v = value("auto, off or a client-side IP address")?;
                s.check.return_path = match v {
                    "auto" => ReturnPathProbe::Auto,
                    "off" => ReturnPathProbe::Off,
                    ip => ReturnPathProbe::From(ip.parse().map_err(|_| {
                        (
                            format!("'check-transparent-source {ip}': expected auto, off or an IP address"),
                            None,
                        )
                    })?),
                };
            }
            "port" => {
                let n: u16 = plain(units::int(value("a port")?, "port"))?;
                s.check.port = Some(n);
            }
            "addr" => {
                let v = value("an IP address")?;
                s.check.addr = Some(
                    v.parse()
                        .map_err(|_| (format!("'addr {v}': not an IP address"), None))?,
                );
            }
            "source" => {
                // `source` consumes its own parameters (usesrc, interface) and stops at the next server keyword.
                s.source = Some(source::parse(args, span, true)?);
                if let Some(crate::model::UseSrc::HdrIp { header, .. }) =
                    s.source.as_ref().and_then(|x| x.usesrc.as_ref())
                {
                    ctx.warn(
                        span,
                        format!(
                            "'usesrc hdr_ip({header})' on a server line cannot say which clients are trusted: \
                             connections come from this host's address (put it on the backend's 'source' line \
                             with 'if COND')"
                        ),
                    );
                }
            }
            "pool-max-conn" => {
                let v = value("a number of connections, or -1 for no limit")?;
                s.pool.max_conn = match v {
                    "-1" => None,
                    n => Some(
                        plain(units::int(n, "pool-max-conn"))
                            .map_err(|(m, _)| (m, Some("-1 keeps any number of idle connections, 0 none".into())))?,
                    ),
                };
            }
            "pool-low-conn" => s.pool.low_conn = plain(units::int(value("a number of connections")?, p))?,
            "pool-purge-delay" => s.pool.purge_delay = plain(units::time(value("a time such as 5s")?))?,
            p if super::dns::SERVER_PARAMS.contains(&p) => super::dns::server_param(p, args, &mut s.dns)?,
            "send-proxy" => s.send_proxy.v1 = true,
            "send-proxy-v2" => s.send_proxy.v2 = true,
            "send-proxy-v2-ssl" | "send-proxy-v2-ssl-cn" => {
                s.send_proxy.v2 = true;
                s.send_proxy.v2_ssl = true;
                s.send_proxy.v2_ssl_cn |= p.ends_with("-cn");
            }
            "no-send-proxy" => s.send_proxy.v1 = false,
            "no-send-proxy-v2" => s.send_proxy.v2 = false,
            "no-send-proxy-v2-ssl" | "no-send-proxy-v2-ssl-cn" => {
                s.send_proxy.v2 = false;
                s.send_proxy.v2_ssl = false;
                if p.ends_with("-cn") {
                    s.send_proxy.v2_ssl_cn = false;
                }
            }
            "proxy-v2-options" => proxy_v2_options(value("a list such as ssl,authority,crc32c")?, &mut s.send_proxy)?,
            "check-send-proxy" => s.check.send_proxy = true,
            "check-via-socks4" => s.check.via_socks4 = true,
            "cookie" => s.cookie = Some(value("a cookie value")?.to_string()),
            "id" => {
                let n: u32 = plain(units::int(value("a number")?, "id"))?;
                if n == 0 {
                    return Err(("'id' must be a positive number".into(), None));
                }
                s.id = Some(n);
            }
            "non-stick" => s.non_stick = true,
            "stick" => s.non_stick = false,
            "socks4" => {
                let v = value("the SOCKS4 proxy's IP:PORT")?;
                let sa: std::net::SocketAddr = crate::lexer::address(v)
                    .parse()
                    .ok()
                    .filter(|a: &std::net::SocketAddr| a.is_ipv4())
                    .ok_or_else(|| (format!("'socks4 {v}': expected the proxy's IPv4:PORT"), None))?;
                s.socks4 = Some(sa);
            }
            "no-check-send-proxy" => s.check.send_proxy = false,
            "track" => {
                let v = value("[BACKEND/]SERVER")?;
                s.track = Some(match v.split_once('/') {
                    Some((b, srv)) if !b.is_empty() && !srv.is_empty() => (Some(b.to_string()), srv.to_string()),
                    None if !v.is_empty() => (None, v.to_string()),
                    _ => return Err((format!("'track {v}': expected [BACKEND/]SERVER"), None)),
                });
            }
            "observe" => {
                s.check.observe = match value("layer4 or layer7")? {
                    "layer4" => Some(false),
                    "layer7" => Some(true),
                    "none" => None,
                    other => {
                        return Err((
                            format!("'observe {other}': expected layer4 or layer7"),
                            crate::suggest::hint(other, ["layer4", "layer7"]),
                        ))
                    }
                }
            }
            "error-limit" => {
                let n: u32 = plain(units::int(value("a number of errors")?, "error-limit"))?;
                if n == 0 {
                    return Err(("'error-limit' must be at least 1".into(), None));
                }
                s.check.error_limit = n;
            }
            "on-error" => {
                use crate::model::OnError;
                s.check.on_error = match value("fastinter, fail-check, sudden-death or mark-down")? {
                    "fastinter" => OnError::FastInter,
                    "fail-check" => OnError::FailCheck,
                    "sudden-death" => OnError::SuddenDeath,
                    "mark-down" => OnError::MarkDown,
                    other => {
                        return Err((
                            format!("'on-error {other}': expected fastinter, fail-check, sudden-death or mark-down"),
                            crate::suggest::hint(other, ["fastinter", "fail-check", "sudden-death", "mark-down"]),
                        ))
                    }
                }
            }
            "agent-check" => s.agent.enabled = true,
            "no-agent-check" => s.agent.enabled = false,
            "agent-port" => {
                let v = value("a port")?;
                s.agent.port = Some(
                    v.parse::<u16>()
                        .ok()
                        .filter(|p| *p > 0)
                        .ok_or_else(|| (format!("'agent-port {v}': expected a port from 1 to 65535"), None))?,
                )
            }
            "agent-inter" => s.agent.inter = nonzero(plain(units::time(value("a time such as 2s")?))?, p)?,
            "agent-addr" => {
                let v = value("an IP address")?;
                s.agent.addr = Some(
                    v.parse()
                        .map_err(|_| (format!("'agent-addr {v}': expected an IP address"), None))?,
                )
            }
            "agent-send" => s.agent.send = value("a string")?.as_bytes().to_vec(),
            "check-ssl" => s.check.ssl = Some(true),
            "no-check-ssl" => s.check.ssl = Some(false),
            "check-sni" => s.check.sni = Some(value("a host name")?.to_string()),
            "check-alpn" => s.check.alpn = Some(super::bind::alpn(value("a protocol list such as http/1.1")?)),
            "ssl" => s.ssl = true,
            "proto" => {
                s.proto_h2 = match value("h2")? {
                    "h2" => true,
                    "h1" | "http/1.1" => false,
                    other => return Err((format!("'proto {other}': only 'h2' is supported"), None)),
                }
            }
            "ws" => {
                s.ws = match value("auto, h1 or h2")? {
                    "auto" => crate::model::WsProto::Auto,
                    "h1" => crate::model::WsProto::H1,
                    "h2" => crate::model::WsProto::H2,
                    other => return Err((format!("'ws {other}': expects auto, h1 or h2"), None)),
                }
            }
            "no-ssl" => s.ssl = false,
            "verify" => {
                s.tls.verify = match value("none or required")? {
                    "none" => Some(false),
                    "required" => Some(true),
                    other => {
                        return Err((
                            format!("'verify {other}': expected none or required"),
                            crate::suggest::hint(other, ["none", "required"]),
                        ))
                    }
                }
            }
            "ca-file" => s.tls.ca_file = Some(ctx.tls.ca_path(value("a PEM file of CA certificates")?)),
            "crl-file" => s.tls.crl_file = Some(ctx.tls.ca_path(value("a PEM file of revocation lists")?)),
            "crt" => s.tls.crt = Some(ctx.tls.crt_path(value("a PEM file with a certificate and its key")?)),
            // Clearway never asks for session tickets.
            "no-tls-tickets" => {}
            "alpn" => s.tls.alpn = super::bind::alpn(value("a protocol list such as h2,http/1.1")?),
            "verifyhost" => s.tls.verifyhost = Some(value("a host name")?.to_string()),
            "sni" => {
                let v = value("an expression such as str(www.example.com) or req.hdr(host)")?;
                s.tls.sni = Some(match v.strip_prefix("str(").and_then(|r| r.strip_suffix(')')) {
                    Some(n) if !n.is_empty() => Sni::Fixed(n.to_string()),
                    _ => {
                        let (expr, _) = super::acl::expression(v).map_err(|e| {
                            (
                                format!("'sni {v}': {e}"),
                                Some("e.g. 'sni str(NAME)', 'sni req.hdr(host)' or 'sni ssl_fc_sni'".into()),
                            )
                        })?;
                        Sni::Fetch(expr)
                    }
                });
            }
            _ if super::tls::policy_param(p, args, &mut s.tls.policy, ctx, span)? => {}
            _ => other_param(args, p, "server", ACTED, KNOWN_NOT_ACTED, span, ctx)?,
        }
    }
    Ok(())
}

/// `proxy-v2-options LIST`: what version 2 headers carry besides the addresses.
fn proxy_v2_options(list: &str, p: &mut crate::model::SendProxy) -> Res<()> {
    const KNOWN: [&str; 8] = [
        "ssl",
        "cert-cn",
        "ssl-cipher",
        "authority",
        "crc32c",
        "cert-sig",
        "cert-key",
        "unique-id",
    ];
    for o in list.split(',') {
        match o {
            "ssl" => p.v2_ssl = true,
            "cert-cn" => (p.v2_ssl, p.v2_ssl_cn) = (true, true),
            "ssl-cipher" => (p.v2_ssl, p.v2_ssl_cipher) = (true, true),
            "authority" => p.v2_authority = true,
            "crc32c" => p.v2_crc32c = true,
            "unique-id" => p.v2_unique_id = true,
            "cert-sig" | "cert-key" => {
                return Err((
                    format!("'proxy-v2-options {o}' is not supported: servers would not receive it"),
                    Some(format!(
                        "remove '{o}' from the list (supported: ssl, cert-cn, ssl-cipher, authority, crc32c, unique-id)"
                    )),
                ))
            }
            other => {
                return Err((
                    format!("'proxy-v2-options {other}': unknown option"),
                    crate::suggest::hint(other, KNOWN),
                ))
            }
        }
    }
    Ok(())
}

fn nonzero(t: std::time::Duration, p: &str) -> Res<std::time::Duration> {
    if t.is_zero() {
        Err((format!("'{p}' must be greater than zero"), None))
    } else {
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::UseSrc;

    fn line(text: &str) -> (Option<Server>, Ctx) {
        let span = Span {
            file: "t".into(),
            line: 3,
        };
        let d = Directive {
            span: span.clone(),
            words: text.split_whitespace().map(String::from).collect(),
        };
        let mut ctx = Ctx::default();
        (parse_server(&d, &template(&span), &mut ctx), ctx)
    }

    #[test]
    fn galera_style_line() {
        let (s, ctx) =
            line("server node1 198.51.100.11:3306 check fall 2 inter 5000 maxconn 5000 port 9200 rise 2 weight 1");
        let s = s.unwrap();
        assert!(ctx.errors.is_empty());
        assert!(s.check.enabled);
        assert_eq!(
            (s.check.fall, s.check.rise, s.check.port, s.maxconn, s.weight),
            (2, 2, Some(9200), 5000, 1)
        );
        assert_eq!(s.check.inter, std::time::Duration::from_secs(5));
    }

    #[test]
    fn source_on_server_line_stops_at_next_keyword() {
        let (s, ctx) = line("server s1 198.51.100.10:80 source 0.0.0.0 usesrc client weight 3 backup");
        let s = s.unwrap();
        assert!(ctx.errors.is_empty(), "{:?}", ctx.errors);
        assert_eq!(s.source.unwrap().usesrc, Some(UseSrc::Client));
        assert_eq!(s.weight, 3);
        assert!(s.backup);
    }

    #[test]
    fn errors() {
        let (_, ctx) = line("server s1 198.51.100.10:80 wieght 3");
        assert_eq!(ctx.errors[0].hint.as_deref(), Some("did you mean 'weight'?"));
        let (_, ctx) = line("server s1 198.51.100.10:80 weight 300");
        assert!(ctx.errors[0].message.contains("out of range"));
        let (_, ctx) = line("server s1");
        assert!(ctx.errors[0].message.contains("needs an address"));
        // What the server would receive: refused, unless the operator opts out for it.
        let (_, ctx) = line("server s1 198.51.100.10:80 redir http://example.com");
        assert!(
            ctx.errors[0].message.contains("'redir' is not supported"),
            "{:?}",
            ctx.errors
        );
        assert_eq!(
            ctx.errors[0].hint.as_deref(),
            Some("remove it, or run without it: 'ignore-unsupported redir' in the global section")
        );
        // Without effect here: a note only.
        let (_, ctx) = line("server s1 198.51.100.10:80 tfo");
        assert!(ctx.errors.is_empty() && ctx.warnings.is_empty() && ctx.notes.len() == 1);
        let (_, ctx) = line("server s1 198.51.100.10:80 on-marked-down nope");
        assert!(ctx.errors[0].message.contains("only 'shutdown-sessions' exists"));
        let (_, ctx) = line("server s1 198.51.100.10:80 on-marked-up");
        assert!(ctx.errors[0].message.contains("expects 'shutdown-backup-sessions'"));
        let (s, ctx) =
            line("server s1 198.51.100.10:80 on-marked-down shutdown-sessions on-marked-up shutdown-backup-sessions");
        let s = s.expect("valid");
        assert!(ctx.errors.is_empty() && s.on_marked_down_shutdown && s.on_marked_up_shutdown_backups);
    }
}
