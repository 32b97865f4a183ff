//! `transparent-setup auto`: the seed scenario without any manual iptables/ip rule, the host's
//! ruleset and routing policy restored byte for byte afterwards (also after SIGKILL), unrelated
//! rules left alone, and leftovers of a crashed run replaced.

mod common;
use clearway_testkit::{Clearway, Topology};
use common::*;

const CONFIG: &str = "global\n    transparent-setup auto\n\
                      defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 30s\n    timeout server 30s\n\
                      frontend ft\n    bind 203.0.113.80:80 transparent\n    default_backend bk\n\
                      frontend ft6\n    bind [2001:db8:f::80]:80 transparent\n    default_backend bk6\n\
                      backend bk\n    source 0.0.0.0 usesrc clientip\n    server s1 198.51.100.10:80\n\
                      backend bk6\n    source :: usesrc clientip\n    server s1 [2001:db8:5::10]:80\n";

/// Everything the set-up may touch in the lb namespace (the kernel's own `local` table, where
/// link-local addresses appear by themselves, is left out: we never write there).
fn snapshot(topo: &Topology) -> String {
    topo.lb.sh(
        "nft list ruleset; echo ---; ip -4 rule; echo ---; ip -6 rule; echo ---; \
         ip -4 route show table all | grep -v 'table local'; echo ---; ip -6 route show table all | grep -v 'table local'; echo ---; iptables-save | grep -v '^#' || true",
    )
}

fn serves_both_families(topo: &Topology) {
    let answer = ask(topo, "203.0.113.80:80", Some("192.0.2.3"));
    assert_eq!(peer_of(&answer).ip().to_string(), "192.0.2.3", "{answer}");
    let answer = ask(topo, "[2001:db8:f::80]:80", Some("2001:db8:c::3"));
    assert_eq!(peer_of(&answer).ip().to_string(), "2001:db8:c::3", "{answer}");
}

#[test]
fn one_line_set_up_works_and_is_removed_exactly() {
    let Some(topo) = topology("auto") else { return };
    // Unrelated rules of the host, including a manual TPROXY set-up using mark 1 and table 100.
    topo.lb.sh(
        "nft add table inet other\n nft add chain inet other c '{ type filter hook input priority 0; }'\n\
         iptables -A INPUT -p tcp --dport 9999 -j ACCEPT\n ip rule add fwmark 1 lookup 100\n\
         ip route add local 0.0.0.0/0 dev lo table 100",
    );
    let _srv = peer_servers(&topo, &["198.51.100.10:80", "[2001:db8:5::10]:80"]);
    let before = snapshot(&topo);
    let mut lb = Clearway::start(&topo.lb, binary(), CONFIG, &[80]);
    assert!(lb.wait_log("transparent-setup auto", TIMEOUT), "{}", lb.log());
    serves_both_families(&topo);
    let during = snapshot(&topo);
    assert!(
        during.contains("table inet clearway") && during.contains("table inet other"),
        "{during}"
    );
    assert!(
        during.contains("dport 9999") && during.contains("lookup 100"),
        "the host's rules stay: {during}"
    );
    lb.stop();
    assert!(
        eventually(|| snapshot(&topo) == before),
        "not restored:\nbefore:\n{before}\nafter:\n{}",
        snapshot(&topo)
    );
}

#[test]
fn sigkill_still_leaves_nothing_and_a_crash_does_not_break_the_next_start() {
    let Some(topo) = topology("autokill") else { return };
    let _srv = peer_servers(&topo, &["198.51.100.10:80", "[2001:db8:5::10]:80"]);
    let before = snapshot(&topo);
    let lb = Clearway::start(&topo.lb, binary(), CONFIG, &[80]);
    serves_both_families(&topo);
    let pid = lb.pid().expect("pid");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill");
    assert!(
        eventually(|| snapshot(&topo) == before),
        "not restored after SIGKILL:\n{}",
        snapshot(&topo)
    );
    drop(lb);

    // Leftovers as a crash without the guard would leave them: the next start replaces them.
    topo.lb
        .sh("nft add table inet clearway\n ip rule add fwmark 0x4357 lookup 17239\n\
         ip route add local 0.0.0.0/0 dev lo table 17239");
    let mut lb = Clearway::start(&topo.lb, binary(), CONFIG, &[80]);
    serves_both_families(&topo);
    lb.stop();
    assert!(
        eventually(|| snapshot(&topo) == before),
        "leftovers remain:\n{}",
        snapshot(&topo)
    );
}

#[test]
fn unprivileged_worker_with_auto_set_up_is_cleaned_up_by_the_guard() {
    let Some(topo) = topology("autouser") else { return };
    let _srv = peer_servers(&topo, &["198.51.100.10:80", "[2001:db8:5::10]:80"]);
    let before = snapshot(&topo);
    let cfg = CONFIG.replace("global\n", "global\n    user nobody\n    group nogroup\n");
    let mut lb = Clearway::start(&topo.lb, binary(), &cfg, &[80]);
    assert!(lb.wait_log("privileges dropped", TIMEOUT), "{}", lb.log());
    serves_both_families(&topo);
    lb.stop();
    assert!(
        eventually(|| snapshot(&topo) == before),
        "not restored:\n{}",
        snapshot(&topo)
    );
}

#[test]
fn catch_all_bind_serves_the_destination_the_client_chose() {
    let Some(topo) = topology("catchall") else { return };
    let _srv = peer_servers(&topo, &["198.51.100.10:80", "198.51.100.11:80", "198.51.100.12:80"]);
    // A `0.0.0.0` server, or HAProxy's older `option transparent` in a backend without servers.
    for original in ["server dst 0.0.0.0", "option transparent"] {
        catch_all(&topo, original);
    }
}

fn catch_all(topo: &clearway_testkit::Topology, original: &str) {
    let cfg = format!(
        "global\n    transparent-setup auto\n\
         defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 30s\n    timeout server 30s\n\
         frontend intercept\n    bind :80 transparent\n    default_backend original\n\
         backend original\n    {original}\n"
    );
    let mut lb = Clearway::start(&topo.lb, binary(), &cfg, &[80]);
    assert!(
        lb.wait_log("TCP port 80 is intercepted for any destination", TIMEOUT),
        "{}",
        lb.log()
    );
    for (name, dst) in [
        ("s1", "198.51.100.10:80"),
        ("s2", "198.51.100.11:80"),
        ("s3", "198.51.100.12:80"),
    ] {
        let answer = ask(topo, dst, Some("192.0.2.2"));
        assert_eq!(
            server_of(&answer),
            name,
            "{original}: the client's own destination {dst}: {answer}"
        );
        // Forwarded past the lb, the server would see 192.0.2.2; through Clearway (no usesrc)
        // it sees the lb's address.
        assert_eq!(
            peer_of(&answer).ip().to_string(),
            "198.51.100.1",
            "{original}: intercepted by Clearway: {answer}"
        );
    }
    lb.stop();
}

#[test]
fn catch_all_refuses_to_loop_to_this_host() {
    let Some(topo) = topology("catchloop") else { return };
    let cfg = "global\n    transparent-setup auto\n\
               defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 30s\n    timeout server 30s\n\
               frontend intercept\n    bind :80 transparent\n    default_backend original\n\
               backend original\n    server dst 0.0.0.0\n";
    let lb = Clearway::start(&topo.lb, binary(), cfg, &[80]);
    // 192.0.2.1 is the lb's own address: its "original destination" is Clearway itself.
    let answer =
        clearway_testkit::request(&topo.client, addr("192.0.2.1:80"), None, b"hello\n", TIMEOUT).unwrap_or_default();
    assert_eq!(answer, "");
    assert!(
        lb.wait_log("is this host: not connecting to itself", TIMEOUT),
        "{}",
        lb.log()
    );
    let sessions = lb.log().matches("session refused").count();
    assert_eq!(
        sessions,
        1,
        "one refusal, no chain of connections to itself: {}",
        lb.log()
    );
}
