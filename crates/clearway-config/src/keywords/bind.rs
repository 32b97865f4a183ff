//! The `bind` line: addresses (lists, ranges) and listener parameters.

use super::NotActed::{self, NoEffect, Unsupported};
use super::{other_param, Args, Ctx, Res};
use crate::addr;
use crate::ast::Directive;
use crate::model::{Bind, BindTls, CertEntry, Verify};
use crate::units;
use std::path::PathBuf;

/// Parameters acted on, besides the TLS policy ones (`tls::POLICY_PARAMS`).
pub(super) const ACTED: &[&str] = &[
    "transparent",
    "freebind",
    "v4v6",
    "v6only",
    "interface",
    "name",
    "id",
    "maxconn",
    "backlog",
    "ssl",
    "crt",
    "alpn",
    "ecdhe",
    "crt-list",
    "verify",
    "ca-file",
    "ca-verify-file",
    "crl-file",
    "no-ca-names",
    "ca-ignore-err",
    "crt-ignore-err",
    "strict-sni",
    "prefer-client-ciphers",
    "no-tls-tickets",
    "proto",
    "defer-accept",
    "accept-proxy",
];
/// Known bind parameters not acted on, with the number of values each takes and their class:
/// without effect here (NPN, which ALPN replaced; TCP Fast Open; process and thread
/// placement; stats-socket-only parameters; TLS versions and 0-RTT rustls never accepts), or
/// unsupported (generated certificates, socket
/// ownership, namespaces, MSS, TCP user timeout).
pub(super) const KNOWN_NOT_ACTED: &[(&str, usize, NotActed)] = &[
    ("npn", 1, NoEffect),
    ("tfo", 0, NoEffect),
    ("mss", 1, Unsupported),
    ("process", 1, NoEffect),
    ("level", 1, NoEffect),
    ("mode", 1, Unsupported),
    ("user", 1, Unsupported),
    ("group", 1, Unsupported),
    ("uid", 1, Unsupported),
    ("gid", 1, Unsupported),
    ("nice", 1, NoEffect),
    ("tcp-ut", 1, Unsupported),
    ("thread", 1, NoEffect),
    ("namespace", 1, Unsupported),
    ("no-sslv3", 0, NoEffect),
    ("no-tlsv10", 0, NoEffect),
    ("no-tlsv11", 0, NoEffect),
    ("severity-output", 1, NoEffect),
    ("expose-fd", 1, NoEffect),
    ("allow-0rtt", 0, NoEffect),
    ("generate-certificates", 0, Unsupported),
    ("ca-sign-file", 1, Unsupported),
    ("ca-sign-pass", 1, Unsupported),
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

/// A bind line's address list: socket addresses, and `fd@N` items (inherited listening
/// sockets) apart.
fn bind_targets(text: &str) -> Result<(Vec<std::net::SocketAddr>, Vec<i32>), String> {
    let mut fds = Vec::new();
    let mut rest = Vec::new();
    for item in text.split(',').filter(|s| !s.is_empty()) {
        match item.strip_prefix("fd@") {
            Some(n) => fds.push(
                n.parse::<i32>()
                    .ok()
                    .filter(|&n| n >= 0)
                    .ok_or_else(|| format!("'{item}': expected fd@ and a descriptor number, e.g. fd@3"))?,
            ),
            None => rest.push(item),
        }
    }
    if rest.is_empty() && !fds.is_empty() {
        return Ok((Vec::new(), fds));
    }
    Ok((addresses(&rest.join(","))?, fds))
}

/// A bind line with addresses only (the old `listen NAME ADDR:PORT` form).
pub fn simple(span: &crate::model::Span, text: &str, addrs: Vec<std::net::SocketAddr>) -> Bind {
    Bind {
        span: span.clone(),
        text: text.to_string(),
        addrs,
        fds: Vec::new(),
        name: None,
        id: None,
        transparent: false,
        freebind: false,
        v4v6: false,
        v6only: false,
        interface: None,
        maxconn: None,
        backlog: None,
        tls: None,
        proto_h2: false,
        defer_accept: false,
        accept_proxy: false,
    }
}

fn parse_inner(d: &Directive, ctx: &mut Ctx) -> Res<Bind> {
    let text = d
        .arg(1)
        .ok_or(("'bind' expects an address, e.g. 'bind :80'".to_string(), None))?;
    let (addrs, fds) = bind_targets(text).map_err(|e| (format!("'bind {text}': {e}"), None))?;
    let mut b = simple(&d.span, text, addrs);
    b.fds = fds;
    let mut args = Args::new(d, 2);
    let (mut ssl, mut tls) = (false, BindTls::default());
    let num = |args: &mut Args<'_>, p: &str| -> Res<u32> {
        let v = args.value(p, "a number").map_err(|e| (e, None))?;
        units::int(v, p).map_err(|e| (e, None))
    };
    while let Some(p) = args.next() {
        match p {
            "transparent" => b.transparent = true,
            "freebind" => b.freebind = true,
            "defer-accept" => b.defer_accept = true,
            "accept-proxy" => b.accept_proxy = true,
            "v4v6" => b.v4v6 = true,
            "v6only" => b.v6only = true,
            "interface" => b.interface = Some(args.value(p, "an interface name").map_err(|e| (e, None))?.to_string()),
            "name" => b.name = Some(args.value(p, "a name").map_err(|e| (e, None))?.to_string()),
            "id" => {
                let id = num(&mut args, p)?;
                if id == 0 {
                    return Err(("'id 0': a listener id must be above 0".into(), None));
                }
                if b.addrs.len() + b.fds.len() > 1 {
                    return Err((
                        format!("'id' can only be used with a single socket, and '{text}' names several"),
                        Some("give each address its own bind line to number them".into()),
                    ));
                }
                b.id = Some(id);
            }
            "maxconn" => b.maxconn = Some(num(&mut args, p)?),
            "backlog" => b.backlog = Some(num(&mut args, p)?),
            "ssl" => ssl = true,
            "crt" => {
                let path = args.value(p, "a PEM file or a directory").map_err(|e| (e, None))?;
                tls.certs.extend(
                    crt_files(&ctx.tls.crt_path(path).to_string_lossy())?
                        .into_iter()
                        .map(|file| CertEntry {
                            file,
                            filters: Vec::new(),
                            conf: None,
                        }),
                );
            }
            "crt-list" => {
                let path = ctx.tls.crt_path(args.value(p, "a file").map_err(|e| (e, None))?);
                let base = ctx.tls.clone();
                tls.certs
                    .extend(super::tls::crt_list(&path, &base, ctx).map_err(|e| (e, None))?);
            }
            "alpn" => {
                tls.alpn = alpn(
                    args.value(p, "a protocol list such as h2,http/1.1")
                        .map_err(|e| (e, None))?,
                )
            }
            "strict-sni" => tls.strict_sni = true,
            "prefer-client-ciphers" => tls.prefer_client_ciphers = true,
            // Clearway never issues session tickets.
            "no-tls-tickets" => {}
            _ if super::tls::policy_param(p, &mut args, &mut tls.policy, ctx, &d.span)? => {}
            _ if super::tls::client_param(p, &mut args, &mut tls.client, &ctx.tls)? => {}
            "proto" => match args.value(p, "h2").map_err(|e| (e, None))? {
                "h2" => b.proto_h2 = true,
                "h1" | "http/1.1" => b.proto_h2 = false,
                other => return Err((format!("'proto {other}': only 'h2' is supported"), None)),
            },
            _ => other_param(&mut args, p, "bind", ACTED, KNOWN_NOT_ACTED, &d.span, ctx)?,
        }
    }
    if b.v4v6 && b.v6only {
        return Err(("'v4v6' and 'v6only' cannot both be set".into(), None));
    }
    if ssl {
        if tls.certs.is_empty() {
            return Err((
                "'ssl' needs a certificate".into(),
                Some("add 'crt /path/to/cert-and-key.pem' (or a directory of such files, or 'crt-list FILE')".into()),
            ));
        }
        tls_defaults(&mut tls, ctx)?;
        b.tls = Some(tls);
    } else if !tls.certs.is_empty() {
        return Err((
            "'crt' without 'ssl'".into(),
            Some("add 'ssl' to terminate TLS on this bind".into()),
        ));
    }
    Ok(b)
}

/// Completes a bind line's TLS settings from the global defaults (and each `crt-list`
/// line's from the bind line), and checks what is left.
fn tls_defaults(tls: &mut BindTls, ctx: &Ctx) -> Res<()> {
    tls.policy.inherit(&ctx.tls.bind);
    tls.prefer_client_ciphers |= ctx.tls.bind_prefer_client_ciphers;
    let check = |policy: &crate::model::TlsPolicy, client: &crate::model::ClientAuth, what: &str| -> Res<()> {
        policy.check().map_err(|e| (format!("{what}{e}"), None))?;
        if client.verify() != Verify::None && client.ca_file.is_none() && client.ca_verify_file.is_none() {
            return Err((
                format!("{what}'verify' asks for client certificates but no 'ca-file' says which CAs to trust"),
                Some("add 'ca-file /path/to/ca.pem'".into()),
            ));
        }
        Ok(())
    };
    check(&tls.policy, &tls.client, "")?;
    for c in &mut tls.certs {
        if let Some(conf) = &mut c.conf {
            conf.policy.inherit(&tls.policy);
            conf.client.inherit(&tls.client);
            if conf.alpn.is_none() {
                conf.alpn = Some(tls.alpn.clone());
            }
            check(
                &conf.policy,
                &conf.client,
                &format!("crt-list line for '{}': ", c.file.display()),
            )?;
        }
    }
    Ok(())
}

/// `alpn h2,http/1.1`.
pub fn alpn(v: &str) -> Vec<String> {
    v.split(',').filter(|p| !p.is_empty()).map(String::from).collect()
}

/// The certificate files a `crt` parameter names: the file, or a directory's files in name
/// order (key, OCSP and issuer side files excluded, as HAProxy does).
fn crt_files(path: &str) -> Res<Vec<PathBuf>> {
    let p = PathBuf::from(path);
    let meta = std::fs::metadata(&p).map_err(|e| (format!("'crt {path}': {e}"), None))?;
    if !meta.is_dir() {
        return Ok(vec![p]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&p)
        .map_err(|e| (format!("'crt {path}': {e}"), None))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|f| f.is_file())
        .filter(|f| {
            !matches!(
                f.extension().and_then(|e| e.to_str()),
                Some("key" | "ocsp" | "issuer" | "sctl")
            )
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err((format!("'crt {path}': the directory holds no certificate"), None));
    }
    Ok(files)
}
