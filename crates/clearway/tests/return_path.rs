//! The broken return path of transparent proxying: servers whose replies to client addresses
//! go around the proxy. Normal checks stay green; Clearway's return-path probe must notice,
//! say how to fix it, steer clients away, and notice when it is fixed.

mod common;
use clearway_testkit::Clearway;
use common::*;

#[test]
fn broken_return_path_is_flagged_avoided_and_cleared() {
    let Some(topo) = topology("rpath") else { return };
    topo.apply_manual_tproxy();
    let _router = topo.route_server_via_router();
    // s2's replies come back through the lb; s1's go to the router and are lost.
    topo.fix_return_path("198.51.100.11");
    let srv = peer_servers(&topo, &["198.51.100.10:80", "198.51.100.11:80"]);
    let sock = std::env::temp_dir().join(format!("{}.sock", clearway_testkit::netns::unique_name("rpath")));
    let cfg = format!(
        "global\n    stats socket {}\n\
         defaults\n    mode tcp\n    timeout connect 500ms\n    timeout client 30s\n    timeout server 30s\n\
         frontend ft\n    bind 203.0.113.80:80 transparent\n    default_backend bk\n\
         backend bk\n    source 0.0.0.0 usesrc clientip\n\
         \x20   server s1 198.51.100.10:80 check inter 200ms rise 2 fall 2 check-transparent-source 192.0.2.3\n\
         \x20   server s2 198.51.100.11:80 check inter 200ms rise 2 fall 2 check-transparent-source 192.0.2.3\n",
        sock.display()
    );
    let lb = Clearway::start(&topo.lb, binary(), &cfg, &[80]);
    assert!(
        lb.wait_log("Server bk/s1 is UP, return path broken", TIMEOUT),
        "{}",
        lb.log()
    );
    let log = lb.log();
    assert!(log.contains("client address 192.0.2.3 to 198.51.100.10:80"), "{log}");
    assert!(log.contains("PROXY protocol"), "the fix is named: {log}");
    assert!(!log.contains("bk/s2 is UP, return path broken"), "s2 is fine: {log}");
    assert!(!log.contains("is DOWN"), "normal checks stay green: {log}");
    // The runtime API says which server's replies go around, and what the last probe saw.
    let show = cli(&sock, "show transparent");
    assert!(
        show.contains("bk/s1 clientip broken ") && show.contains(" unanswered@192.0.2.3,"),
        "{show}"
    );
    assert!(
        show.contains("bk/s2 clientip ok ") && show.contains(" answered@192.0.2.3,"),
        "{show}"
    );
    // New clients avoid s1 and see their own address at s2.
    for _ in 0..4 {
        let answer = ask(&topo, "203.0.113.80:80", Some("192.0.2.2"));
        assert_eq!(server_of(&answer), "s2", "{answer}");
        assert_eq!(peer_of(&answer).ip().to_string(), "192.0.2.2");
    }
    // Checks and probes reset before their handshakes end: s2's application accepted the
    // four clients (and at most one check or probe, on a slow machine), though it has been
    // checked and probed every 200 ms since the start.
    assert!(srv[1].count() <= 5, "s2 accepted {} connections", srv[1].count());
    topo.fix_return_path("198.51.100.10");
    assert!(
        lb.wait_log("Server bk/s1: return path restored", TIMEOUT),
        "{}",
        lb.log()
    );
    let seen: Vec<String> = (0..4)
        .map(|_| server_of(&ask(&topo, "203.0.113.80:80", Some("192.0.2.2"))))
        .collect();
    assert!(seen.contains(&"s1".to_string()), "s1 serves again: {seen:?}");
    let show = cli(&sock, "show transparent");
    assert!(
        show.contains("bk/s1 clientip ok 192.0.2.2 answered@192.0.2.3,"),
        "{show}"
    );
    let _ = std::fs::remove_file(&sock);
}

#[test]
fn probe_uses_the_last_client_seen_and_can_be_turned_off() {
    let Some(topo) = topology("rpauto") else { return };
    topo.apply_manual_tproxy();
    let _router = topo.route_server_via_router();
    topo.fix_return_path("198.51.100.11");
    let _srv = peer_servers(&topo, &["198.51.100.10:80", "198.51.100.11:80"]);
    // Clients only reach s2 (s1 is a backup), so the probe of s1 learns the client address.
    let cfg = "defaults\n    mode tcp\n    timeout connect 500ms\n    timeout client 30s\n    timeout server 30s\n\
               frontend ft\n    bind 192.0.2.1:80\n    default_backend bk\n\
               frontend ft2\n    bind 192.0.2.1:81\n    default_backend bk2\n\
               backend bk\n    source 0.0.0.0 usesrc clientip\n\
               \x20   server s2 198.51.100.11:80 check inter 200ms\n\
               \x20   server s1 198.51.100.10:80 check inter 200ms rise 1 fall 1 backup\n\
               backend bk2\n    source 0.0.0.0 usesrc clientip\n\
               \x20   server s2 198.51.100.11:80 check inter 200ms\n\
               \x20   server s1 198.51.100.10:80 check inter 200ms rise 1 fall 1 backup check-transparent-source off\n";
    let lb = Clearway::start(&topo.lb, binary(), cfg, &[80, 81]);
    assert_eq!(server_of(&ask(&topo, "192.0.2.1:80", Some("192.0.2.3"))), "s2");
    assert_eq!(server_of(&ask(&topo, "192.0.2.1:81", Some("192.0.2.3"))), "s2");
    assert!(
        lb.wait_log(
            "Server bk/s1 is UP, return path broken: a connection from the client address 192.0.2.3",
            TIMEOUT
        ),
        "{}",
        lb.log()
    );
    // Give bk2's probe the same chances: several check rounds, then it must still be silent.
    assert!(!eventually_for(std::time::Duration::from_secs(1), || lb
        .log()
        .contains("bk2/s1 is UP, return path broken")));
}
