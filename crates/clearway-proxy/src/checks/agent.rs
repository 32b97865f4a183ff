//! Agent checks (`agent-check`): every `agent-inter`, a connection to the server's agent
//! (`agent-addr`, else the server's address, and `agent-port`), `agent-send` written, one
//! line read, and what it says applied through the control layer: a weight in percent of
//! the configured one, `maxconn:N`, `ready`/`drain`/`maint`, `up`, and `down`/`fail`/
//! `stopped` (a word starting with `#` begins a description). An agent that cannot be
//! reached, or whose line has no end, changes nothing:
//! connectivity is the health check's business, as in HAProxy.

use crate::control::actions;
use crate::model::Backend;
use clearway_config::model::AgentCheck;
use clearway_core::Admin;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The longest reply read.
const MAX_REPLY: usize = 1024;

/// Asks one server's agent forever (until the task is dropped).
pub async fn run(be: Arc<Backend>, server: usize, agent: AgentCheck, first_delay: Duration) {
    let s = &be.rt.servers[server];
    let Some(port) = agent.port else { return };
    let source = super::check_source(&be, server);
    // `agent-inter` is also the timeout unless `timeout check` is set.
    let timeout = be.check.timeouts.check.unwrap_or(agent.inter);
    // The agent's own count of good and bad replies (the server's `rise` and `fall`), and
    // the last result `option log-health-checks` logged.
    let (rise, fall) = be.side(server).rise_fall;
    let mut health = clearway_core::health::Health::new(rise, fall);
    let mut logged: Option<(bool, String, u32)> = None;
    tokio::time::sleep(first_delay).await;
    loop {
        if s.is_deleted() {
            return;
        }
        if be.side(server).agent_stopped() {
            tokio::time::sleep(agent.inter).await;
            continue;
        }
        // A server DNS moves is asked where it is now (and not while it has no address).
        let Some(ip) = agent.addr.or_else(|| s.current_ip().filter(|_| !s.resolution_maint())) else {
            tokio::time::sleep(agent.inter).await;
            continue;
        };
        let target = SocketAddr::new(ip, port);
        let start = std::time::Instant::now();
        let reply = ask(target, source.as_ref(), &agent.send, timeout).await;
        if s.is_deleted() {
            // Deleted while its agent was asked: its reply changes nothing.
            return;
        }
        match reply {
            Ok(reply) => {
                if let Some((down, word)) = apply(&be, server, &reply) {
                    health.record(!down);
                    let now = (!down, word, health.counter());
                    if be.log_health_checks && logged.as_ref() != Some(&now) {
                        log_reply(&be, server, &now.1, !down, start.elapsed(), &health);
                        logged = Some(now);
                    }
                }
            }
            Err(e) => tracing::debug!(backend = %be.rt.name, server = %s.name, "agent at {target}: {e}"),
        }
        tokio::time::sleep(agent.inter).await;
    }
}

/// One exchange: the reply's first line.
async fn ask(
    target: SocketAddr,
    source: Option<&clearway_net::connect::SourceBind>,
    send: &[u8],
    timeout: Duration,
) -> Result<String, String> {
    let exchange = async {
        let mut s = super::connect_checked(target, (source, None), timeout, !send.is_empty(), None)
            .await
            .map_err(|(reason, info)| format!("{reason} {info}"))?;
        if !send.is_empty() {
            s.write_all(send).await.map_err(|e| e.to_string())?;
        }
        let mut got = Vec::new();
        let mut buf = [0u8; 256];
        loop {
            let n = s.read(&mut buf).await.map_err(|e| e.to_string())?;
            got.extend_from_slice(&buf[..n]);
            if let Some(end) = got.iter().position(|&b| b == b'\r' || b == b'\n') {
                got.truncate(end);
                return Ok(String::from_utf8_lossy(&got).into_owned());
            }
            // As HAProxy: a line without its end is not taken.
            if n == 0 || got.len() >= MAX_REPLY {
                return Err("incomplete line from the agent: ignored".into());
            }
        }
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .unwrap_or_else(|_| Err("no reply in time".into()))
}

/// `option log-health-checks`: an agent's reply that changed something, in HAProxy's words.
fn log_reply(
    be: &Backend,
    server: usize,
    word: &str,
    ok: bool,
    took: Duration,
    health: &clearway_core::health::Health,
) {
    let msg = format!(
        "Agent check for server {}/{} {}, reason: {}, code: 0, info: \"via agent : {word}\", check duration: {}ms, status: {}.",
        be.rt.name,
        be.rt.servers[server].name,
        if ok { "succeeded" } else { "failed" },
        if ok { "Layer7 check passed" } else { "Layer7 wrong status" },
        took.as_millis(),
        health.status()
    );
    tracing::info!("{msg}");
    be.events.send(crate::log::NOTICE, &msg);
}

/// What one agent reply says, applied: the administrative state first, then the weight, the
/// connection limit and the operational state; the last word of each kind wins. Words are
/// separated by spaces, tabs or commas; one starting with `#` begins a description. Words
/// not understood are ignored. Returns the operational word, if any (true: a down one).
pub fn apply(be: &Backend, server: usize, reply: &str) -> Option<(bool, String)> {
    let (mut admin, mut weight, mut maxconn, mut state) = (None, None, None, None);
    for w in reply.split([' ', '\t', ',']).filter(|w| !w.is_empty()) {
        if w.starts_with('#') {
            break;
        }
        let lower = w.to_ascii_lowercase();
        match lower.as_str() {
            "ready" => admin = Some(Admin::Ready),
            "drain" => admin = Some(Admin::Drain),
            "maint" => admin = Some(Admin::Maint),
            "up" => state = Some((false, w)),
            "down" | "fail" | "stopped" => state = Some((true, w)),
            _ if w.starts_with(|c: char| c.is_ascii_digit()) && w.contains('%') => {
                let digits: String = w.chars().take_while(char::is_ascii_digit).collect();
                weight = digits.parse::<u32>().ok();
            }
            _ => {
                if let Some(n) = lower.strip_prefix("maxconn:").and_then(|n| n.parse::<u32>().ok()) {
                    maxconn = Some(n);
                }
            }
        }
    }
    let s = &be.rt.servers[server];
    if let Some(a) = admin {
        actions::set_admin(be, server, a);
    }
    if let Some(p) = weight {
        if let Err(e) = actions::set_weight(be, server, actions::percent_of(s, p)) {
            tracing::warn!(backend = %be.rt.name, server = %s.name, "agent weight {p}%: {e}");
        }
    }
    if let Some(n) = maxconn {
        actions::set_maxconn(be, server, n);
    }
    if let Some((down, word)) = state {
        actions::set_agent_down(be, server, down, word);
    }
    state.map(|(down, word)| (down, word.to_ascii_lowercase()))
}
