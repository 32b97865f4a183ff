//! What the control plane does to one server: its administrative state, weight and
//! connection limit, and what its agent says, each logged in HAProxy's words and followed by
//! what the change allows (queued sessions let in, or failed when no server is left). The
//! runtime commands and the agent checks both act through these. Must not parse anything.

use crate::model::Backend;
use clearway_config::model::Balance;
use clearway_core::{Admin, ServerRt};

/// How HAProxy names server `s` of `be` in its events: `Server bk/s1`, `Backup Server bk/s9`.
pub fn label(be: &Backend, s: &ServerRt) -> String {
    let backup = if s.backup { "Backup " } else { "" };
    format!("{backup}Server {}/{}", be.rt.name, s.name)
}

/// What is left after a server went down or into maintenance, in HAProxy's words.
pub fn left(be: &Backend, s: &ServerRt) -> String {
    let (active, backup) = be.rt.usable_by_kind();
    let on_backup = if active == 0 && backup > 0 {
        " Running on backup."
    } else {
        ""
    };
    format!(
        ". {active} active and {backup} backup servers left.{on_backup} {} sessions active, 0 requeued, {} remaining in queue",
        s.active(),
        be.queue.len()
    )
}

/// What is online after a server came back, in HAProxy's words.
pub fn online(be: &Backend) -> String {
    let (active, backup) = be.rt.usable_by_kind();
    let on_backup = if active == 0 && backup > 0 {
        " Running on backup."
    } else {
        ""
    };
    format!(
        ". {active} active and {backup} backup servers online.{on_backup} 0 sessions requeued, {} total in queue",
        be.queue.len()
    )
}

/// Says a server event (`msg`: HAProxy's words, without the final period) as a warning, and to
/// the backend's own log targets at syslog `level`, as HAProxy does.
pub fn say(be: &Backend, level: u8, msg: &str) {
    tracing::warn!("{msg}.");
    be.events.send(level, &format!("{msg}."));
}

/// `P%` of a server's configured weight (at most 256).
pub fn percent_of(s: &ServerRt, p: u32) -> u32 {
    (u64::from(s.initial_weight) * u64::from(p) / 100).min(256) as u32
}

/// Sets a server's weight; a static algorithm only takes 0 and the configured weight.
pub fn set_weight(be: &Backend, i: usize, new: u32) -> Result<(), String> {
    let s = &be.rt.servers[i];
    let static_algo = matches!(be.balance, Balance::StaticRr);
    if static_algo && new != 0 && new != s.initial_weight {
        return Err("Backend is using a static LB algorithm and only accepts weights '0%' and '100%'.".into());
    }
    let before = s.weight();
    s.set_weight(new);
    if before != new {
        tracing::info!("{}/{} changed its weight from {before} to {new}", be.rt.name, s.name);
    }
    be.queue.offer(&be.rt, i);
    Ok(())
}

/// Sets a server's maxconn; a higher limit lets queued sessions in now.
pub fn set_maxconn(be: &Backend, i: usize, n: u32) {
    be.rt.servers[i].set_maxconn(n);
    be.queue.offer(&be.rt, i);
}

/// What a server's agent says of its operational state: down (`word` is what it said:
/// down, fail, stopped) or up.
pub fn set_agent_down(be: &Backend, i: usize, down: bool, word: &str) {
    let s = &be.rt.servers[i];
    if s.agent_down() == down {
        return;
    }
    s.set_agent_down(down);
    s.changed_at(crate::process::uptime_secs());
    if down {
        let msg = format!("{} is DOWN, reason: Agent reports '{word}'", label(be, s));
        say(be, crate::log::ALERT, &format!("{msg}{}", left(be, s)));
    } else {
        let msg = format!(
            "{} is {} (agent reports up)",
            label(be, s),
            if s.is_up() {
                "UP"
            } else {
                "still DOWN: its health checks fail"
            }
        );
        say(be, crate::log::NOTICE, &msg);
    }
    after_change(be, i);
}

/// Sets a server's administrative state, saying so in HAProxy's words.
pub fn set_admin(be: &Backend, i: usize, a: Admin) {
    let s = &be.rt.servers[i];
    let before = s.admin();
    if before == a {
        return;
    }
    s.set_admin(a);
    s.changed_at(crate::process::uptime_secs());
    let who = label(be, s);
    let state = if s.is_up() { "UP" } else { "DOWN" };
    match a {
        // Already down: no traffic is lost, a notice (HAProxy's words).
        Admin::Maint if !s.is_up() => say(
            be,
            crate::log::NOTICE,
            &format!("{who} was DOWN and now enters maintenance{}", left(be, s)),
        ),
        Admin::Maint => say(
            be,
            crate::log::ALERT,
            &format!("{who} is going DOWN for maintenance{}", left(be, s)),
        ),
        Admin::Drain => say(be, crate::log::NOTICE, &format!("{who} enters drain state")),
        Admin::Ready if before == Admin::Maint => say(
            be,
            crate::log::NOTICE,
            &format!("{who} is {state}/READY (leaving forced maintenance)"),
        ),
        Admin::Ready => say(
            be,
            crate::log::NOTICE,
            &format!("{who} is {state} (leaving forced drain)"),
        ),
    }
    // Its own change is logged first, then its trackers', as HAProxy does.
    propagate_admin(be, i);
    after_change(be, i);
}

/// Puts a server into maintenance for want of an address (`why`: HAProxy's words, "DNS NX
/// status"), or takes it out once DNS gave one.
pub fn set_resolution_maint(be: &Backend, i: usize, on: bool, why: &str) {
    let s = &be.rt.servers[i];
    if s.resolution_maint() == on {
        return;
    }
    s.set_resolution_maint(on);
    s.changed_at(crate::process::uptime_secs());
    if on {
        let msg = format!("{} is going DOWN for maintenance ({why})", label(be, s));
        say(be, crate::log::ALERT, &format!("{msg}{}", left(be, s)));
    } else {
        let msg = format!(
            "Server {}/{} administratively READY thanks to valid DNS answer",
            be.rt.name, s.name
        );
        say(be, crate::log::NOTICE, &msg);
    }
    after_change(be, i);
}

/// A check passed only conditionally (`http-check disable-on-404`: `NOLB`, no new traffic),
/// or fully again.
pub fn set_nolb(be: &Backend, i: usize, on: bool) {
    let s = &be.rt.servers[i];
    if s.nolb() == on {
        return;
    }
    s.set_nolb(on);
    s.changed_at(crate::process::uptime_secs());
    if on {
        let msg = format!(
            "{} is stopping, reason: Layer7 check conditionally passed",
            label(be, s)
        );
        say(be, crate::log::NOTICE, &format!("{msg}{}", left(be, s)));
    } else {
        let msg = format!("{} is UP, reason: Layer7 check passed", label(be, s));
        say(be, crate::log::NOTICE, &format!("{msg}{}", online(be)));
    }
    after_change(be, i);
}

/// After a server's state changed: queued sessions may go to it now, or, when no server is
/// left, fail at once instead of waiting for their timeout.
pub fn after_change(be: &Backend, i: usize) {
    use std::sync::atomic::Ordering::Relaxed;
    let (active, backup) = be.rt.usable_by_kind();
    if active + backup == 0 {
        // Said when the last server goes, not at every change while none is left.
        if !be.none_left.swap(true, Relaxed) {
            let msg = format!("backend {} has no server available!", be.rt.name);
            tracing::error!("{msg}");
            be.events.send(crate::log::EMERG, &msg);
        }
        be.queue.fail_all();
    } else {
        be.none_left.store(false, Relaxed);
        be.queue.offer(&be.rt, i);
    }
}

/// The servers tracking server `i` of `be` (`track`) follow its health: up or down, logged
/// as HAProxy logs it, and on along chains of tracks.
pub fn propagate_health(be: &Backend, i: usize, up: bool) {
    let list = be.side(i).trackers();
    let via = format!("{}/{}", be.rt.name, be.rt.servers[i].name);
    // Newest first, as HAProxy's list of trackers.
    for t in list.iter().rev() {
        let Some(tb) = t.be.upgrade() else { continue };
        let s = &tb.rt.servers[t.server];
        if s.check_says_up() == up {
            continue;
        }
        s.set_up(up);
        s.changed_at(crate::process::uptime_secs());
        let msg = format!("{} is {} (via {via})", label(&tb, s), if up { "UP" } else { "DOWN" });
        if up {
            say(&tb, crate::log::NOTICE, &format!("{msg}{}", online(&tb)));
        } else {
            say(&tb, crate::log::ALERT, &format!("{msg}{}", left(&tb, s)));
        }
        after_change(&tb, t.server);
        propagate_health(&tb, t.server, up);
    }
}

/// The administrative state a server passes on to those tracking it: its own, else what it
/// inherited itself.
pub fn passed_on(s: &ServerRt) -> Admin {
    match (s.admin(), s.inherited()) {
        (Admin::Ready, inherited) => inherited,
        (own, _) => own,
    }
}

/// The servers tracking server `i` of `be` inherit its maintenance or drain, on along chains.
pub fn propagate_admin(be: &Backend, i: usize) {
    let list = be.side(i).trackers();
    let s = &be.rt.servers[i];
    let passed = passed_on(s);
    // Newest first, as HAProxy's list of trackers.
    for t in list.iter().rev() {
        let Some(tb) = t.be.upgrade() else { continue };
        let ts = &tb.rt.servers[t.server];
        if ts.inherited() == passed {
            continue;
        }
        ts.set_inherited(passed);
        ts.changed_at(crate::process::uptime_secs());
        let via = format!("(via {}/{})", be.rt.name, s.name);
        let (msg, level) = match passed {
            Admin::Maint => (format!("is going DOWN for maintenance {via}"), crate::log::ALERT),
            Admin::Drain => (format!("enters drain state {via}"), crate::log::NOTICE),
            Admin::Ready => {
                let state = if ts.is_up() { "UP" } else { "DOWN" };
                (format!("is {state}/READY (leaving maintenance)"), crate::log::NOTICE)
            }
        };
        let msg = format!("{} {msg}", label(&tb, ts));
        say(&tb, level, &msg);
        after_change(&tb, t.server);
        propagate_admin(&tb, t.server);
    }
}

/// `set server B/S addr IP [port P]`: moves the server (idle connections to where it was are
/// no longer reused), and answers in HAProxy's words.
pub fn set_addr(be: &Backend, i: usize, addr: &str, port: Option<&str>) -> String {
    let s = &be.rt.servers[i];
    let by = " by 'stats socket command'\n";
    let Ok(ip) = addr.parse::<std::net::IpAddr>() else {
        return format!("Invalid addr '{addr}'{by}");
    };
    if s.is_original_destination() {
        return format!(
            "Server {}/{} is at each client's original destination (0.0.0.0): Clearway does not move it{by}",
            be.rt.name, s.name
        );
    }
    let now = s.current_ip();
    let mut msg = if now == Some(ip) {
        "no need to change the addr".to_string()
    } else {
        let was = now.map_or_else(|| "0.0.0.0".to_string(), |a| a.to_string());
        format!("IP changed from '{was}' to '{addr}'")
    };
    let mut new_port = s.moved_port();
    if let Some(p) = port {
        msg.push_str(", ");
        let current = s.current_port().unwrap_or(0);
        if p.starts_with(['+', '-']) {
            msg.push_str("Clearway does not map ports ('+N', '-N') at run time");
        } else {
            match p.parse::<u16>() {
                Err(_) => msg.push_str(&format!("problem converting port '{p}' to an int")),
                Ok(n) if n == current => msg.push_str("no need to change the port"),
                Ok(n) => {
                    msg.push_str(&format!("port changed from '{current}' to '{n}'"));
                    new_port = Some(n);
                }
            }
        }
    }
    s.move_to(clearway_core::server::DnsAddr { ip, port: new_port });
    if s.resolution_maint() {
        set_resolution_maint(be, i, false, "");
    }
    msg.push_str(by);
    msg
}
