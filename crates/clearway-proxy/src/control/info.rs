//! The process-wide and per-server reports of the runtime API: `show info`, `show servers
//! state` (HAProxy's format 1, which `load-server-state-from-file` and scripts read) and
//! Clearway's own `show transparent`. Must not change any state.

use super::stats::proxy_ids;
use crate::model::Runtime;
use crate::process::{stopping, uptime_secs};
use clearway_core::{Admin, Field};
use std::fmt::Write;

/// An uptime as HAProxy writes it: `0d 3h05m09s`.
pub fn uptime_text(up: u64) -> String {
    format!("{}d {}h{:02}m{:02}s", up / 86400, up / 3600 % 24, up / 60 % 60, up % 60)
}

/// `show info`: `Name: value` lines, HAProxy's names for what Clearway has.
pub fn show_info(rt: &Runtime) -> String {
    let up = uptime_secs();
    let conns = rt.global_conns.in_use();
    let cum_conns: u64 = rt.frontends.iter().map(|f| f.counters.get(Field::Sessions)).sum();
    let cum_req: u64 = rt.frontends.iter().map(|f| f.counters.requests()).sum();
    let bytes_out: u64 = rt.frontends.iter().map(|f| f.counters.get(Field::BytesOut)).sum();
    let node = crate::log::time::hostname().to_string();
    let lines: Vec<(&str, String)> = vec![
        ("Name", "Clearway".into()),
        ("Version", env!("CARGO_PKG_VERSION").into()),
        ("Nbthread", rt.threads.to_string()),
        ("Nbproc", "1".into()),
        ("Process_num", "1".into()),
        ("Pid", std::process::id().to_string()),
        ("Uptime", uptime_text(up)),
        ("Uptime_sec", up.to_string()),
        ("Maxconn", rt.global_conns.max().to_string()),
        ("Hard_maxconn", rt.global_maxconn.to_string()),
        ("CurrConns", conns.to_string()),
        ("CumConns", cum_conns.to_string()),
        ("CumReq", cum_req.to_string()),
        ("ConnRate", rt.conn_rate.rate().to_string()),
        ("ConnRateLimit", rt.maxconnrate.unwrap_or(0).to_string()),
        ("MaxConnRate", rt.conn_rate.max().to_string()),
        ("SessRate", rt.conn_rate.rate().to_string()),
        ("SessRateLimit", rt.maxsessrate.unwrap_or(0).to_string()),
        ("MaxSessRate", rt.conn_rate.max().to_string()),
        ("node", node),
        ("Stopping", u8::from(stopping()).to_string()),
        ("Jobs", conns.to_string()),
        ("TotalBytesOut", bytes_out.to_string()),
        (
            "DroppedLogs",
            crate::log::sink::DROPPED
                .load(std::sync::atomic::Ordering::Relaxed)
                .to_string(),
        ),
    ];
    let mut s = String::new();
    for (k, v) in lines {
        let _ = writeln!(s, "{k}: {v}");
    }
    s
}

/// `show sess`: one line per session in progress, oldest first, in HAProxy's layout for
/// what Clearway knows (its number, protocol, client, frontend, backend and server, age).
pub fn show_sess(rt: &Runtime) -> String {
    let mut all: Vec<(&str, crate::sessions::Entry)> = Vec::new();
    for fe in &rt.frontends {
        if let Some(s) = &fe.sessions {
            all.extend(s.all().into_iter().map(|e| (fe.name.as_str(), e)));
        }
    }
    all.sort_by_key(|(_, e)| e.id);
    let mut out = String::new();
    for (fe, e) in all {
        let (be, srv) = match &e.server {
            Some(id) => {
                let (b, s) = rt.server(*id);
                (b.rt.name.as_str(), s.name.as_str())
            }
            None => ("<NONE>", "<none>"),
        };
        let proto = if e.client.is_ipv4() || e.client.ip().to_canonical().is_ipv4() {
            "tcpv4"
        } else {
            "tcpv6"
        };
        let _ = writeln!(
            out,
            "0x{:x}: proto={proto} src={} fe={fe} be={be} srv={srv} ts=00 epoch=0 age={}s calls=0 rate=0 cpu=0 lat=0",
            e.id,
            e.client,
            e.started.elapsed().as_secs()
        );
    }
    out
}

/// `show sess ID` (`all`: every session): a session's details in HAProxy's layout, for what
/// Clearway knows of it (when it began, its client, frontend, backend and server, its age);
/// HAProxy's internal states (flags, task, buffers) are left out. "Session not found." when
/// there is no such session in progress.
pub fn show_sess_detail(rt: &Runtime, id: Option<u64>) -> String {
    let ids = super::stats::proxy_ids(rt);
    let iid = |name: &str| ids.iter().find(|(n, _)| n == name).map_or(0, |(_, i)| *i);
    let mode = |m: clearway_config::model::Mode| match m {
        clearway_config::model::Mode::Http => "http",
        clearway_config::model::Mode::Tcp => "tcp",
    };
    let mut out = String::new();
    let mut all: Vec<(&crate::model::Frontend, crate::sessions::Entry)> = Vec::new();
    for fe in &rt.frontends {
        if let Some(s) = &fe.sessions {
            all.extend(
                s.all()
                    .into_iter()
                    .filter(|e| id.is_none_or(|i| i == e.id))
                    .map(|e| (&**fe, e)),
            );
        }
    }
    all.sort_by_key(|(_, e)| e.id);
    for (fe, e) in &all {
        let age = e.started.elapsed();
        let began = std::time::SystemTime::now() - age;
        let mut date = String::new();
        crate::log::time::accept_date(&mut date, began, true);
        let micros = began
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_micros());
        // HAProxy writes microseconds; `accept_date` ends with milliseconds.
        let date = format!("{}{:03}", date, micros % 1000);
        let proto = if e.client.ip().to_canonical().is_ipv4() {
            "tcpv4"
        } else {
            "tcpv6"
        };
        let _ = writeln!(
            out,
            "0x{:x}: [{date}] id={} proto={proto} source={}",
            e.id, e.id, e.client
        );
        let _ = writeln!(
            out,
            "  frontend={} (id={} mode={})",
            fe.name,
            iid(&fe.name),
            mode(fe.mode)
        );
        match &e.server {
            Some(sid) => {
                let (b, s) = rt.server(*sid);
                let _ = writeln!(
                    out,
                    "  backend={} (id={} mode={})",
                    b.rt.name,
                    iid(&b.rt.name),
                    mode(b.mode)
                );
                let _ = writeln!(
                    out,
                    "  server={} (id={}) addr={}",
                    s.name,
                    s.id,
                    s.target(std::net::SocketAddr::new(s.ip, 0))
                );
            }
            None => {
                let _ = writeln!(out, "  backend=<NONE> (id=-1 mode=-)");
                let _ = writeln!(out, "  server=<NONE> (id=-1)");
            }
        }
        let _ = writeln!(out, "  age={}s", age.as_secs());
    }
    if all.is_empty() && id.is_some() {
        out.push_str("Session not found.\n");
    }
    out
}

/// HAProxy's number for a check result (`srv_check_status`).
fn check_status_number(reason: &str) -> u8 {
    match super::stats::check_code(reason) {
        "SOCKERR" => 5,
        "L4OK" => 6,
        "L4TOUT" => 7,
        "L4CON" => 8,
        "L6OK" => 9,
        "L6TOUT" => 10,
        "L6RSP" => 11,
        "L7TOUT" => 12,
        "L7RSP" => 13,
        "L7OK" => 15,
        "L7OKC" => 16,
        "PROCERR" => 18,
        "PROCTOUT" => 19,
        "PROCOK" => 20,
        "L7STS" => 17,
        _ => 0,
    }
}

/// `show servers state [BACKEND]`.
pub fn servers_state(rt: &Runtime, only: Option<&str>) -> Result<String, String> {
    if let Some(b) = only {
        if !rt.backends.iter().any(|be| be.rt.name == b) {
            return Err(format!("Can't find backend '{b}'."));
        }
    }
    let ids = proxy_ids(rt);
    let mut s = String::from(
        "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight \
         srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state \
         srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl \
         srv_check_port srv_check_addr srv_agent_addr srv_agent_port\n",
    );
    for be in rt.backends.iter().filter(|b| only.is_none_or(|o| o == b.rt.name)) {
        let iid = ids.iter().find(|(n, _)| *n == be.rt.name).map_or(0, |(_, i)| *i);
        for (i, sv) in be.rt.servers.iter().enumerate().filter(|(_, s)| s.listed()) {
            // As HAProxy: a server in maintenance is stopped, and its checks paused.
            let maint = sv.admin() == Admin::Maint || sv.inherited() == Admin::Maint || sv.resolution_maint();
            let op = if sv.is_up() && !maint { 2 } else { 0 };
            let admin = match sv.admin() {
                Admin::Ready => 0,
                Admin::Drain => 0x08,
                Admin::Maint => 0x01,
            } | if sv.resolution_maint() { 0x20 } else { 0 };
            let checked = be.side(i).check_params.is_some();
            // An unchecked server stays as HAProxy starts every one: INI, at its `rise`.
            let (status, result) = match (checked, sv.last_check()) {
                (true, Some(c)) => (check_status_number(c.reason), if sv.check_says_up() { 3 } else { 2 }),
                _ => (1, 0),
            };
            let health = match &be.side(i).check_params {
                Some(p) if sv.check_says_up() => p.rise + p.fall - 1,
                Some(_) => 0,
                None => be.side(i).check_rise,
            };
            let state = match (checked, sv.checks_stopped()) {
                (false, _) => 0,
                (true, false) if maint => 14,
                (true, false) => 6,
                (true, true) => 2,
            };
            let port = sv.current_port().unwrap_or(0);
            let ssl = u8::from(be.side(i).tls.is_some());
            let since = uptime_secs().saturating_sub(sv.last_change.load(std::sync::atomic::Ordering::Relaxed));
            let _ = writeln!(
                s,
                "{iid} {} {} {} {} {op} {admin} {} {} {since} {status} {result} {health} {state} 0 0 0 {} {port} - {ssl} 0 - - 0",
                be.rt.name,
                sv.id,
                sv.name,
                sv.current_ip().unwrap_or(sv.ip),
                sv.weight(),
                sv.initial_weight,
                sv.fqdn.as_deref().unwrap_or("-"),
            );
        }
    }
    Ok(s)
}

/// `show transparent`: the servers that use a client's address as their source, and whether
/// their replies come back through this host.
pub fn show_transparent(rt: &Runtime) -> String {
    use clearway_config::model::UseSrc;
    let mut s = String::from("# backend/server usesrc return_path last_client last_probe\n");
    for be in &rt.backends {
        for sv in be.rt.servers.iter().filter(|s| !s.is_deleted()) {
            let Some(usesrc) = sv.source.as_ref().and_then(|s| s.usesrc.as_ref()) else {
                continue;
            };
            let how = match usesrc {
                UseSrc::Client => "client".to_string(),
                UseSrc::ClientIp => "clientip".to_string(),
                UseSrc::Addr(a) => a.to_string(),
                UseSrc::HdrIp { header, .. } => format!("hdr_ip({header})"),
            };
            let last = be.rt.last_client().map_or_else(|| "-".to_string(), |a| a.to_string());
            // The last probe: `answered|unanswered@FROM,AGEs` (`-`: none yet).
            let probe = match *sv.last_probe.lock().unwrap_or_else(|e| e.into_inner()) {
                Some((from, at, ok)) => format!(
                    "{}@{from},{}s",
                    if ok { "answered" } else { "unanswered" },
                    at.elapsed().map_or(0, |d| d.as_secs())
                ),
                None => "-".to_string(),
            };
            let _ = writeln!(
                s,
                "{}/{} {how} {} {last} {probe}",
                be.rt.name,
                sv.name,
                if sv.return_path_ok() { "ok" } else { "broken" }
            );
        }
    }
    s
}
