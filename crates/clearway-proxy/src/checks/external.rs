//! `option external-check`: a program judges the server, as HAProxy runs it. It gets the
//! proxy's first address and port (`NOT_USED` for a backend) and the server's as arguments,
//! and only HAProxy's variables as its environment (`PATH` from `external-check path`); its
//! exit status 0 means up. One that outlives the check's time is killed. Owns the run only.

use super::spec::ExternalProxy;
use super::Verdict;
use crate::model::Backend;
use std::time::Duration;

/// HAProxy's words for the three outcomes.
pub const PASSED: &str = "External check passed";
pub const ERROR: &str = "External check error";
pub const TIMEOUT: &str = "External check timeout";

/// Runs `command` for server `i` of `be` at `addr`:`port`; the exit status is left in `code`.
pub async fn run(
    be: &Backend,
    i: usize,
    (command, path): (&str, &str),
    proxy: &ExternalProxy,
    (addr, port): (String, String),
    timeout: Duration,
    code: &std::sync::atomic::AtomicI32,
) -> Verdict {
    let s = &be.rt.servers[i];
    code.store(0, std::sync::atomic::Ordering::Relaxed);
    let proto = match be.mode {
        clearway_config::model::Mode::Http => "h1",
        _ => "tcp",
    };
    let mut cmd = tokio::process::Command::new(command);
    cmd.args([&proxy.addr, &proxy.port, &addr, &port])
        .env_clear()
        .env("PATH", path)
        .env("HAPROXY_PROXY_NAME", &be.rt.name)
        .env("HAPROXY_PROXY_ID", proxy.id.to_string())
        .env("HAPROXY_PROXY_ADDR", &proxy.addr)
        .env("HAPROXY_PROXY_PORT", &proxy.port)
        .env("HAPROXY_SERVER_NAME", &s.name)
        .env("HAPROXY_SERVER_ID", (i + 1).to_string())
        .env("HAPROXY_SERVER_ADDR", &addr)
        .env("HAPROXY_SERVER_PORT", &port)
        .env("HAPROXY_SERVER_MAXCONN", s.maxconn().to_string())
        .env("HAPROXY_SERVER_CURCONN", s.active().to_string())
        .env("HAPROXY_SERVER_SSL", if be.side(i).tls.is_some() { "1" } else { "0" })
        .env("HAPROXY_SERVER_PROTO", proto)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(backend = %be.rt.name, server = %s.name, "external check '{command}': {e}");
            return Err((ERROR, String::new()));
        }
    };
    match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(status)) => {
            let exit = status.code();
            // As HAProxy: the exit status is the code; a program killed by a signal, -1.
            code.store(exit.unwrap_or(-1), std::sync::atomic::Ordering::Relaxed);
            if exit == Some(0) {
                Ok((PASSED, String::new()))
            } else {
                Err((ERROR, String::new()))
            }
        }
        Ok(Err(e)) => {
            tracing::warn!(backend = %be.rt.name, server = %s.name, "external check '{command}': {e}");
            Err((ERROR, String::new()))
        }
        Err(_) => {
            // Dropping the child kills it (kill_on_drop); tokio reaps it.
            Err((TIMEOUT, String::new()))
        }
    }
}
