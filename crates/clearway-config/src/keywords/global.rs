//! The `global` section's keywords.

use super::NotActed::{self, NoEffect, Unsupported};
use super::{want_args, Ctx};
use crate::ast::Directive;
use crate::model::Global;
use crate::{suggest, units};

/// Known in HAProxy's global section and not acted on by Clearway, by class. Other `ssl-*`
/// settings are handled apart (see `apply_inner`).
pub(super) const KNOWN_NOT_ACTED: &[(&str, NotActed)] = &[
    ("ulimit-n", NoEffect),
    ("node", NoEffect),
    ("description", NoEffect),
    ("quiet", NoEffect),
    ("debug", NoEffect),
    ("master-worker", NoEffect),
    // A limit on who gets in.
    ("maxsslconn", Unsupported),
    ("noepoll", NoEffect),
    ("nogetaddrinfo", NoEffect),
    ("server-state-file", NoEffect),
    ("server-state-base", NoEffect),
    ("localpeer", NoEffect),
    // Header names' case as servers receive them.
    ("h1-case-adjust", Unsupported),
    // They change what `${VAR}` stands for in the lines after them.
    ("presetenv", Unsupported),
    ("setenv", Unsupported),
    ("unsetenv", Unsupported),
    ("resetenv", Unsupported),
    ("lua-load", Unsupported),
    // How long listeners stay open once a stop begins: who still gets in.
    ("grace", Unsupported),
    ("strict-limits", NoEffect),
    ("expose-experimental-directives", NoEffect),
    ("log-format", NoEffect),
    // Who may use UNIX sockets.
    ("unix-bind", Unsupported),
    ("tune", NoEffect),
    ("maxcomprate", NoEffect),
    ("maxcompcpuusage", NoEffect),
    ("nbproc", NoEffect),
    ("profiling.tasks", NoEffect),
    ("set-dumpable", NoEffect),
    ("zero-warning", NoEffect),
    // HTTP/2 clients are offered WebSocket over HTTP/2 (RFC 8441) regardless.
    ("h2-workaround-bogus-websocket-clients", Unsupported),
    // QUIC, master-worker, memory, pollers and NUMA: nothing here depends on them.
    ("cluster-secret", NoEffect),
    ("mworker-max-reloads", NoEffect),
    ("no-memory-trimming", NoEffect),
    ("noevports", NoEffect),
    ("nokqueue", NoEffect),
    ("nopoll", NoEffect),
    ("numa-cpu-mapping", NoEffect),
    ("insecure-setuid-wanted", NoEffect),
    ("maxzlibmem", NoEffect),
    // Another process may not share Clearway's ports anyway (each thread's socket is its own).
    ("noreuseport", NoEffect),
    // The HTTP client of Lua scripts: Clearway runs none.
    ("httpclient.resolvers.id", NoEffect),
    ("httpclient.resolvers.prefer", NoEffect),
    ("httpclient.ssl.ca-file", NoEffect),
    ("httpclient.ssl.verify", NoEffect),
    // The default maxconn follows the descriptors it allows: who gets in.
    ("fd-hard-limit", Unsupported),
    // Which requests are accepted, or how their header names reach servers.
    ("h1-accept-payload-with-any-method", Unsupported),
    ("h1-case-adjust-file", Unsupported),
    // The chain served with certificates.
    ("issuers-chain-path", Unsupported),
    ("maxsslrate", Unsupported),
    // What health checks send in their PROXY header.
    ("pp2-never-send-local", Unsupported),
    ("lua-load-per-thread", Unsupported),
    ("lua-prepend-path", Unsupported),
];
/// `tune.*` keywords that decide which requests get in (the largest head or header count
/// accepted): unsupported. Every other `tune.*` has no effect here.
pub(super) const TUNE_UNSUPPORTED: &[&str] = &[];
/// The global TLS defaults Clearway acts on (kept in `Ctx::tls` for the lines after them).
pub(super) const TLS_DEFAULTS: &[&str] = &[
    "ssl-default-bind-ciphers",
    "ssl-default-bind-ciphersuites",
    "ssl-default-bind-options",
    "ssl-default-bind-curves",
    "ssl-default-server-ciphers",
    "ssl-default-server-ciphersuites",
    "ssl-default-server-options",
    "ssl-default-server-curves",
    "ssl-server-verify",
    "ca-base",
    "crt-base",
];

/// Capabilities `setcap` may keep after the switch to `user`/`uid`.
pub const SETCAP: &[&str] = &["cap_net_admin", "cap_net_bind_service", "cap_net_raw"];
pub(super) const ACTED: &[&str] = &[
    "ignore-unsupported",
    "setcap",
    "transparent-setup",
    "maxconn",
    "daemon",
    "pidfile",
    "user",
    "group",
    "uid",
    "gid",
    "chroot",
    "nbthread",
    "cpu-map",
    "maxpipes",
    "nosplice",
    "busy-polling",
    "tune.bufsize",
    "tune.comp.maxlevel",
    "tune.http.maxhdr",
    "tune.maxrewrite",
    "spread-checks",
    "max-spread-checks",
    "maxconnrate",
    "maxsessrate",
    "external-check",
    "insecure-fork-wanted",
    "hard-stop-after",
    "log",
    "log-tag",
    "log-send-hostname",
    "stats",
    "default-path",
    "set-var",
    "set-var-fmt",
];

pub fn apply(d: &Directive, g: &mut Global, ctx: &mut Ctx) {
    if let Err(e) = apply_inner(d, g, ctx) {
        ctx.error(&d.span, e);
    }
}

fn apply_inner(d: &Directive, g: &mut Global, ctx: &mut Ctx) -> Result<(), String> {
    let kw = d.keyword();
    match kw {
        "maxconn" => {
            want_args(d, 1, "a number of connections")?;
            let n: u32 = units::int(&d.words[1], "maxconn")?;
            if n == 0 {
                return Err("'maxconn' must be at least 1".into());
            }
            g.maxconn = Some(n);
        }
        "daemon" => {
            want_args(d, 0, "no argument")?;
            g.daemon = true;
        }
        "pidfile" => {
            want_args(d, 1, "a file path")?;
            g.pidfile = Some(d.words[1].clone().into());
        }
        "user" | "group" | "chroot" => {
            want_args(d, 1, if kw == "chroot" { "a directory" } else { "a name" })?;
            let v = d.words[1].clone();
            match kw {
                "user" => g.user = Some(v),
                "group" => g.group = Some(v),
                _ => g.chroot = Some(v.into()),
            }
        }
        "uid" | "gid" => {
            want_args(d, 1, "a number")?;
            let v: u32 = units::int(&d.words[1], kw)?;
            if kw == "uid" {
                g.uid = Some(v);
            } else {
                g.gid = Some(v);
            }
        }
        "transparent-setup" => {
            want_args(d, 1, "auto or manual")?;
            g.transparent_setup_auto = match d.words[1].as_str() {
                "auto" => true,
                "manual" => false,
                other => return Err(format!("'transparent-setup {other}': expected auto or manual")),
            };
        }
        // Relative paths are read from where Clearway starts: `current`, HAProxy's default.
        // Moving them elsewhere is not supported yet: certificates would be looked for in
        // the wrong place.
        "default-path" => {
            // The directory of the file holding this line.
            let here = || {
                let dir = std::path::Path::new(&*d.span.file)
                    .parent()
                    .map(std::path::Path::to_path_buf);
                dir.filter(|p| !p.as_os_str().is_empty()).unwrap_or_else(|| ".".into())
            };
            let base = match d.words.get(1).map(String::as_str) {
                Some("current") => {
                    want_args(d, 1, "current, config, parent or origin PATH")?;
                    None
                }
                Some("config") => {
                    want_args(d, 1, "current, config, parent or origin PATH")?;
                    Some(here())
                }
                Some("parent") => {
                    want_args(d, 1, "current, config, parent or origin PATH")?;
                    Some(here().join(".."))
                }
                Some("origin") => {
                    want_args(d, 2, "'origin' and a directory")?;
                    Some(d.words[2].clone().into())
                }
                _ => return Err("'default-path' expects current, config, parent or origin PATH".into()),
            };
            super::paths::set_base(base);
        }
        "setcap" => {
            want_args(
                d,
                1,
                "a comma-separated list of capabilities, e.g. cap_net_admin,cap_net_bind_service",
            )?;
            for cap in d.words[1].split(',') {
                let cap = cap.trim().to_ascii_lowercase();
                if !SETCAP.contains(&cap.as_str()) {
                    return Err(format!(
                        "'setcap': unknown or unsupported capability '{cap}' (supported: {})",
                        SETCAP.join(", ")
                    ));
                }
                g.setcap.push(cap);
            }
        }
        "maxpipes" => {
            want_args(d, 1, "a number of pipes")?;
            g.maxpipes = Some(units::int(&d.words[1], "maxpipes")?);
        }
        "nosplice" => {
            want_args(d, 0, "no argument")?;
            g.nosplice = true;
        }
        "busy-polling" => {
            want_args(d, 0, "no argument")?;
            g.busy_polling = true;
        }
        "external-check" => {
            want_args(d, 0, "no argument")?;
            g.external_check = true;
        }
        "insecure-fork-wanted" => {
            want_args(d, 0, "no argument")?;
            g.insecure_fork_wanted = true;
        }
        "maxconnrate" | "maxsessrate" => {
            want_args(d, 1, "a number per second")?;
            let n: u32 = units::int(&d.words[1], kw)?;
            let n = (n > 0).then_some(n);
            if kw == "maxconnrate" {
                g.maxconnrate = n;
            } else {
                g.maxsessrate = n;
            }
        }
        "spread-checks" => {
            want_args(d, 1, "a percentage from 0 to 50")?;
            let n: u32 = units::int(&d.words[1], kw)?;
            if n > 50 {
                return Err(format!("'spread-checks {n}': at most 50 (percent)"));
            }
            g.spread_checks = n;
        }
        "max-spread-checks" => {
            want_args(d, 1, "a time")?;
            g.max_spread_checks = Some(units::time(&d.words[1])?);
        }
        "tune.http.maxhdr" => {
            want_args(d, 1, "a number of header fields")?;
            match d.words[1].parse::<u16>() {
                Ok(n) if (1..=32_767).contains(&n) => g.maxhdr = Some(n),
                _ => return Err(format!("'{kw}' expects a number from 1 to 32767, not '{}'", d.words[1])),
            }
        }
        "tune.comp.maxlevel" => {
            want_args(d, 1, "a level from 1 to 9")?;
            match d.words[1].parse::<u32>() {
                Ok(n) if (1..=9).contains(&n) => g.comp_maxlevel = Some(n),
                _ => return Err(format!("'{kw}' expects a level from 1 to 9, not '{}'", d.words[1])),
            }
        }
        "tune.bufsize" | "tune.maxrewrite" => {
            want_args(d, 1, "a size in bytes")?;
            let n = units::size(&d.words[1])?;
            let n = u32::try_from(n).map_err(|_| format!("'{kw} {}' is too large", d.words[1]))?;
            if kw == "tune.bufsize" {
                // Room for a request line and a few headers; HAProxy's own checks need more.
                if n < 1024 {
                    return Err(format!("'tune.bufsize {n}' is too small (at least 1024)"));
                }
                g.bufsize = Some(n);
            } else {
                g.maxrewrite = Some(n);
            }
        }
        // The keywords HAProxy lets 'no' negate in this section; it refuses any other.
        "no" => match (d.arg(1), d.words.len()) {
            (Some("busy-polling"), 2) => g.busy_polling = false,
            (Some("log"), 2) => g.logs.clear(),
            (Some("insecure-fork-wanted"), 2) => g.insecure_fork_wanted = false,
            (Some(k @ ("set-dumpable" | "strict-limits" | "numa-cpu-mapping")), 2) => {
                ctx.not_acted(&d.span, &format!("'no {k}'"), k, NotActed::NoEffect);
            }
            _ => {
                return Err("'no' in the 'global' section only negates 'log', 'busy-polling', \
                            'set-dumpable', 'strict-limits', 'insecure-fork-wanted' or \
                            'numa-cpu-mapping', on its own"
                    .into())
            }
        },
        "nbthread" => {
            want_args(d, 1, "a number of threads")?;
            let n: usize = units::int(&d.words[1], "nbthread")?;
            if n == 0 {
                return Err("'nbthread' must be at least 1".into());
            }
            g.nbthread = Some(n);
        }
        "cpu-map" => g.cpu_maps.push(super::cpu_map::parse(d)?),
        "set-var" | "set-var-fmt" => {
            // Process variables, set once at start-up from constants and other variables.
            want_args(d, 2, "a variable name and a value, e.g. 'proc.limit int(10)'")?;
            g.set_vars.push(process_var(kw, &d.words[1], &d.words[2])?);
        }
        "hard-stop-after" => {
            want_args(d, 1, "a time, e.g. 30s")?;
            g.hard_stop_after = Some(units::time(&d.words[1])?);
        }
        "log" => g.logs.push(super::log::parse(&d.span, &d.words[1..])?),
        "log-tag" => {
            want_args(d, 1, "a tag")?;
            g.log_tag = Some(d.words[1].clone());
        }
        "log-send-hostname" => {
            g.log_send_hostname = Some(match d.arg(1) {
                Some(name) => name.to_string(),
                None => std::fs::read_to_string("/proc/sys/kernel/hostname")
                    .map(|h| h.trim().to_string())
                    .unwrap_or_default(),
            });
        }
        "stats" => match d.arg(1) {
            Some("socket") => g.stats_sockets.push(super::stats_socket::parse(d)?),
            Some("timeout") => {
                want_args(d, 2, "'timeout' and a time")?;
                g.stats_timeout = Some(units::time(&d.words[2])?);
            }
            Some("maxconn") => {
                want_args(d, 2, "'maxconn' and a number")?;
                g.stats_maxconn = Some(units::int(&d.words[2], "stats maxconn")?);
            }
            Some("bind-process") => {
                ctx.warn(&d.span, "'stats bind-process' has no effect: Clearway runs one process");
            }
            other => {
                return Err(format!(
                    "unknown 'stats' keyword '{}' in global section",
                    other.unwrap_or("")
                ))
            }
        },
        "ignore-unsupported" => {
            if d.words.len() < 2 {
                return Err("'ignore-unsupported' expects the keywords to run without, e.g. \
                            'ignore-unsupported slowstart'"
                    .into());
            }
            // Read before every section (`super::ignored`); here each word is checked.
            for k in &d.words[1..] {
                if !super::classes::unsupported(k) {
                    let hint = suggest::hint(k, super::classes::all_unsupported());
                    ctx.error_hint(
                        &d.span,
                        format!("'ignore-unsupported {k}': '{k}' is not a keyword Clearway refuses"),
                        hint,
                    );
                }
            }
        }
        k if TLS_DEFAULTS.contains(&k) => tls_default(d, ctx)?,
        "ssl-dh-param-file" => ctx.not_acted(&d.span, &format!("'{kw}'"), kw, NotActed::NoEffect),
        // Engines, providers, extra files: refused where TLS is used, without effect elsewhere.
        // (`ssl-dh-param-file` never has one: rustls offers no finite-field Diffie-Hellman.)
        _ if kw.starts_with("ssl-") => g.tls_unacted.push((d.span.clone(), kw.to_string())),
        _ if kw.starts_with("tune.") => {
            let class = if TUNE_UNSUPPORTED.contains(&kw) {
                NotActed::Unsupported
            } else {
                NotActed::NoEffect
            };
            ctx.not_acted(&d.span, &format!("'{kw}'"), kw, class);
        }
        _ => match KNOWN_NOT_ACTED.iter().find(|(k, _)| *k == kw) {
            Some(&(_, class)) => ctx.not_acted(&d.span, &format!("'{kw}'"), kw, class),
            None => {
                let hint = suggest::hint(
                    kw,
                    ACTED
                        .iter()
                        .copied()
                        .chain(KNOWN_NOT_ACTED.iter().map(|(k, _)| *k))
                        .chain(TLS_DEFAULTS.iter().copied()),
                );
                ctx.error_hint(&d.span, format!("unknown keyword '{kw}' in 'global' section"), hint);
            }
        },
    }
    Ok(())
}

/// `ssl-default-bind-*`, `ssl-default-server-*`, `ssl-server-verify`, `ca-base`, `crt-base`:
/// kept in `ctx.tls` for the bind and server lines after them.
fn tls_default(d: &Directive, ctx: &mut Ctx) -> Result<(), String> {
    let kw = d.keyword();
    let one = |what: &str| -> Result<&str, String> {
        super::want_args(d, 1, what)?;
        Ok(d.words[1].as_str())
    };
    let mut t = std::mem::take(&mut ctx.tls);
    let mut args = super::Args::new(d, 0);
    let r = match kw {
        "ca-base" => one("a directory").map(|v| t.ca_base = Some(v.into())),
        "crt-base" => one("a directory").map(|v| t.crt_base = Some(v.into())),
        "ssl-server-verify" => one("none or required").and_then(|v| match v {
            "none" | "required" => {
                t.server_verify_none = v == "none";
                Ok(())
            }
            other => Err(format!("'ssl-server-verify {other}': expected none or required")),
        }),
        "ssl-default-bind-options" | "ssl-default-server-options" => {
            args.pos = 1;
            let bind = kw.contains("bind");
            let (pol, prefer) = if bind {
                (&mut t.bind, Some(&mut t.bind_prefer_client_ciphers))
            } else {
                (&mut t.server, None)
            };
            super::tls::default_options(&mut args, pol, prefer, ctx, &d.span).map_err(|(m, _)| format!("'{kw}': {m}"))
        }
        _ => {
            // ssl-default-{bind,server}-{ciphers,ciphersuites,curves}: the line's value, read
            // as the same parameter on a bind or server line.
            let param = kw.rsplit('-').next().unwrap_or(kw);
            let pol = if kw.contains("-bind-") {
                &mut t.bind
            } else {
                &mut t.server
            };
            one("a list").and_then(|_| {
                let words = vec![param.to_string(), d.words[1].clone()];
                let line = Directive {
                    span: d.span.clone(),
                    words,
                };
                let mut a = super::Args::new(&line, 1);
                super::tls::policy_param(param, &mut a, pol, ctx, &d.span)
                    .map(|_| ())
                    .map_err(|(m, _)| format!("'{kw}': {m}"))
            })
        }
    };
    ctx.tls = t;
    r
}

/// A process variable's assignment outside traffic (the global section's `set-var` and
/// `set-var-fmt`, the runtime API's `set var`): `kw` says which (`set-var-fmt`: `value` is a
/// log-format string, else a sample expression), for a `proc.` variable, from constants and
/// other variables only.
pub fn process_var(
    kw: &str,
    name: &str,
    value: &str,
) -> Result<(clearway_sample::VarName, crate::rules::VarValue), String> {
    let name = clearway_sample::VarName::parse(name)?;
    if name.scope != clearway_sample::Scope::Proc {
        return Err(format!("'{kw}': only process variables (proc.NAME) may be set here"));
    }
    let value = if kw == "set-var-fmt" {
        crate::rules::VarValue::Format(super::acl::template(value)?)
    } else {
        let (expr, _) = super::acl::expression(value)?;
        if expr.fetch.reads_request_bytes() || expr.fetch.needs_http() {
            return Err(format!("'{kw}': '{value}' reads traffic, and there is none here"));
        }
        crate::rules::VarValue::Expr(expr)
    };
    Ok((name, value))
}
