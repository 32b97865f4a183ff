//! What the control plane does to one server: its administrative state, weight and
//! connection limit, and what its agent says, each logged in HAProxy's words and followed by
//! what the change allows (queued sessions let in, or failed when no server is left). The
//! runtime commands and the agent checks both act through these. Must not parse anything.

use crate::model::Backend;
use clearway_config::model::Balance;
use clearway_core::{Admin, ServerRt};

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
    let (active, backup) = be.rt.usable_by_kind();
    if down {
        tracing::warn!(
            "Server {}/{} is DOWN, reason: Agent reports '{word}'. {active} active and {backup} backup servers left. {} sessions active, {} in queue.",
            be.rt.name, s.name, s.active(), be.queue.len()
        );
    } else {
        tracing::warn!(
            "Server {}/{} is {} (agent reports up).",
            be.rt.name,
            s.name,
            if s.is_up() {
                "UP"
            } else {
                "still DOWN: its health checks fail"
            }
        );
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
    propagate_admin(be, i);
    let (active, backup) = be.rt.usable_by_kind();
    match a {
        Admin::Maint => tracing::warn!(
            "Server {}/{} is going DOWN for maintenance. {active} active and {backup} backup servers left. {} sessions active, {} remaining in queue.",
            be.rt.name, s.name, s.active(), be.queue.len()
        ),
        Admin::Drain => tracing::warn!("Server {}/{} enters drain state.", be.rt.name, s.name),
        Admin::Ready if before == Admin::Maint => tracing::warn!(
            "Server {}/{} is {} (leaving forced maintenance).",
            be.rt.name,
            s.name,
            if s.is_up() { "UP" } else { "DOWN" }
        ),
        Admin::Ready => tracing::warn!("Server {}/{} is UP (leaving forced drain).", be.rt.name, s.name),
    }
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
        let (active, backup) = be.rt.usable_by_kind();
        tracing::warn!(
            "Server {}/{} is going DOWN for maintenance ({why}). {active} active and {backup} backup servers left. {} sessions active, {} remaining in queue.",
            be.rt.name, s.name, s.active(), be.queue.len()
        );
    } else {
        tracing::warn!(
            "Server {}/{} administratively READY thanks to valid DNS answer.",
            be.rt.name,
            s.name
        );
    }
    after_change(be, i);
}

/// After a server's state changed: queued sessions may go to it now, or, when no server is
/// left, fail at once instead of waiting for their timeout.
pub fn after_change(be: &Backend, i: usize) {
    let (active, backup) = be.rt.usable_by_kind();
    if active + backup == 0 {
        tracing::error!("backend {} has no server available!", be.rt.name);
        be.queue.fail_all();
    } else {
        be.queue.offer(&be.rt, i);
    }
}

/// The servers tracking server `i` of `be` (`track`) follow its health: up or down, logged
/// as HAProxy logs it, and on along chains of tracks.
pub fn propagate_health(be: &Backend, i: usize, up: bool) {
    let Some(list) = be.trackers.get().and_then(|l| l.get(i)) else {
        return;
    };
    let via = format!("{}/{}", be.rt.name, be.rt.servers[i].name);
    for t in list {
        let Some(tb) = t.be.upgrade() else { continue };
        let s = &tb.rt.servers[t.server];
        if s.check_says_up() == up {
            continue;
        }
        s.set_up(up);
        s.changed_at(crate::process::uptime_secs());
        let (active, backup) = tb.rt.usable_by_kind();
        tracing::warn!(
            "Server {}/{} is {} (via {via}). {active} active and {backup} backup servers left. {} sessions active, {} in queue.",
            tb.rt.name,
            s.name,
            if up { "UP" } else { "DOWN" },
            s.active(),
            tb.queue.len()
        );
        after_change(&tb, t.server);
        propagate_health(&tb, t.server, up);
    }
}

/// The servers tracking server `i` of `be` inherit its maintenance or drain, on along chains.
pub fn propagate_admin(be: &Backend, i: usize) {
    let Some(list) = be.trackers.get().and_then(|l| l.get(i)) else {
        return;
    };
    let s = &be.rt.servers[i];
    // What this server passes on: its own state, else what it inherited.
    let passed = match (s.admin(), s.inherited()) {
        (Admin::Ready, inherited) => inherited,
        (own, _) => own,
    };
    for t in list {
        let Some(tb) = t.be.upgrade() else { continue };
        let ts = &tb.rt.servers[t.server];
        if ts.inherited() == passed {
            continue;
        }
        ts.set_inherited(passed);
        ts.changed_at(crate::process::uptime_secs());
        match passed {
            Admin::Maint => tracing::warn!(
                "Server {}/{} is going DOWN for maintenance (via {}/{}).",
                tb.rt.name,
                ts.name,
                be.rt.name,
                s.name
            ),
            Admin::Drain => tracing::warn!(
                "Server {}/{} enters drain state (via {}/{}).",
                tb.rt.name,
                ts.name,
                be.rt.name,
                s.name
            ),
            Admin::Ready => tracing::warn!(
                "Server {}/{} is leaving maintenance or drain (via {}/{}).",
                tb.rt.name,
                ts.name,
                be.rt.name,
                s.name
            ),
        }
        after_change(&tb, t.server);
        propagate_admin(&tb, t.server);
    }
}
