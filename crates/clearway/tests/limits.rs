//! Connection limits and failures: server `maxconn` with its queue and `timeout queue`,
//! frontend `maxconn`, retries and `option redispatch` on a dead server.

mod common;
use common::*;
use std::time::Duration;

const DEFAULTS: &str =
    "defaults\n    mode tcp\n    timeout connect 500ms\n    timeout client 30s\n    timeout server 30s\n";

#[test]
fn server_maxconn_queues_then_serves() {
    let Some(topo) = topology("queue") else {
        return;
    };
    let srv = holding_servers(&topo, &["198.51.100.10:80"]).remove(0);
    let cfg = format!(
        "{DEFAULTS}    timeout queue 20s\nfrontend ft\n    bind 192.0.2.1:80\n    default_backend bk\n\
         backend bk\n    server s1 198.51.100.10:80 maxconn 1\n"
    );
    let _lb = start(&topo, &cfg, &[80]);
    let first = hold(&topo, "192.0.2.1:80");
    assert!(eventually(|| srv.active() == 1));
    let second = hold(&topo, "192.0.2.1:80");
    let third = hold(&topo, "192.0.2.1:80");
    // The queued connections are not passed to the server while the first one is open.
    assert!(
        !eventually_for(Duration::from_millis(500), || srv.count() > 1),
        "maxconn 1 was exceeded"
    );
    drop(first);
    // Both half-close at once, so neither waits on the other's hold whatever the queue order
    // (FIFO order itself is unit-tested in clearway-proxy's queue).
    let other = std::thread::spawn(move || read_all(third));
    let answers = [read_all(second), other.join().expect("reader")];
    for a in &answers {
        assert!(
            a.contains("server=s1"),
            "a queued client is served once a slot frees: {a:?}\n{}",
            _lb.log()
        );
    }
    assert_eq!(srv.max_active(), 1, "never more than maxconn at the server");
    assert_eq!(srv.count(), 3);
}

#[test]
fn timeout_queue_expires() {
    let Some(topo) = topology("qto") else { return };
    let srv = holding_servers(&topo, &["198.51.100.10:80"]).remove(0);
    let cfg = format!(
        "{DEFAULTS}    timeout queue 300ms\nfrontend ft\n    bind 192.0.2.1:80\n    default_backend bk\n\
         backend bk\n    server s1 198.51.100.10:80 maxconn 1\n"
    );
    let lb = start(&topo, &cfg, &[80]);
    let _first = hold(&topo, "192.0.2.1:80");
    assert!(eventually(|| srv.active() == 1));
    let second = hold(&topo, "192.0.2.1:80");
    assert_eq!(read_all(second), "", "the queued client is closed without an answer");
    assert!(lb.wait_log("queue timeout", TIMEOUT), "{}", lb.log());
    assert_eq!(srv.count(), 1);
}

#[test]
fn frontend_maxconn_stops_accepting_without_dropping() {
    let Some(topo) = topology("femax") else {
        return;
    };
    let srv = holding_servers(&topo, &["198.51.100.10:80"]).remove(0);
    let cfg = format!(
        "{DEFAULTS}frontend ft\n    bind 192.0.2.1:80\n    maxconn 1\n    default_backend bk\n\
         backend bk\n    server s1 198.51.100.10:80\n"
    );
    let _lb = start(&topo, &cfg, &[80]);
    let first = hold(&topo, "192.0.2.1:80");
    assert!(eventually(|| srv.active() == 1));
    // The kernel completes the handshake (backlog), but Clearway does not take the client yet.
    let second = hold(&topo, "192.0.2.1:80");
    assert!(
        !eventually_for(Duration::from_millis(500), || srv.count() > 1),
        "frontend maxconn 1 was exceeded"
    );
    drop(first);
    assert!(
        read_all(second).contains("server=s1"),
        "the waiting client is served, not dropped"
    );
    assert_eq!(srv.max_active(), 1);
}

#[test]
fn dead_server_is_retried_then_redispatched() {
    let Some(topo) = topology("redisp") else {
        return;
    };
    // s1 at .10:81 has nothing listening: every connect is refused.
    let srv = [clearway_testkit::PeerServer::start(
        &topo.server,
        addr("198.51.100.11:80"),
        "s2",
    )];
    let cfg = format!(
        "{DEFAULTS}frontend ft\n    bind 192.0.2.1:80\n    default_backend bk\n\
         backend bk\n    retries 2\n    option redispatch\n    server s1 198.51.100.10:81\n    server s2 198.51.100.11:80\n\
         frontend ft2\n    bind 192.0.2.1:81\n    default_backend bk2\n\
         backend bk2\n    retries 2\n    server s1 198.51.100.10:81\n    server s2 198.51.100.11:80\n"
    );
    let lb = start(&topo, &cfg, &[80, 81]);
    // Round robin starts with s1, which is dead: two retries on s1, then the last attempt goes to s2.
    let answer = ask(&topo, "192.0.2.1:80", None);
    assert_eq!(server_of(&answer), "s2", "{answer}");
    assert!(lb.wait_log("connect attempt 1/3", TIMEOUT), "{}", lb.log());
    assert!(lb.log().contains("ECONNREFUSED"), "the errno is logged: {}", lb.log());
    assert_eq!(srv[0].count(), 1);
    // Without redispatch, all attempts stay on s1 and the client is closed.
    let answer =
        clearway_testkit::request(&topo.client, addr("192.0.2.1:81"), None, b"hello\n", TIMEOUT).unwrap_or_default();
    assert_eq!(answer, "", "no answer without redispatch");
    assert!(lb.wait_log("connect attempt 3/3", TIMEOUT), "{}", lb.log());
    assert_eq!(srv[0].count(), 1, "s2 was never tried without redispatch");
}

#[test]
fn global_maxconn_limits_all_frontends_together() {
    let Some(topo) = topology("glmax") else {
        return;
    };
    let srv = holding_servers(&topo, &["198.51.100.10:80"]).remove(0);
    let cfg = format!(
        "global\n    maxconn 1\n{DEFAULTS}frontend a\n    bind 192.0.2.1:80\n    default_backend bk\n\
         frontend b\n    bind 192.0.2.1:81\n    default_backend bk\n\
         backend bk\n    server s1 198.51.100.10:80\n"
    );
    let _lb = start(&topo, &cfg, &[80, 81]);
    let first = hold(&topo, "192.0.2.1:80");
    assert!(eventually(|| srv.active() == 1));
    let second = hold(&topo, "192.0.2.1:81");
    assert!(
        !eventually_for(Duration::from_millis(500), || srv.count() > 1),
        "global maxconn 1 was exceeded"
    );
    drop(first);
    assert!(
        read_all(second).contains("server=s1"),
        "the client of the other frontend is served next"
    );
    assert_eq!(srv.max_active(), 1);
}

#[test]
fn rate_limit_sessions_lets_clients_wait_and_keeps_the_rate_as_haproxy_does() {
    let Some(topo) = topology("ratelim") else {
        return;
    };
    let _srv = peer_servers(&topo, &["198.51.100.10:80"]);
    let dir = std::env::temp_dir().join(clearway_testkit::netns::unique_name("ratelim"));
    std::fs::create_dir_all(&dir).unwrap();
    // Frontend `limited` at 10 sessions a second; `free` without a limit, as a control.
    let cfg = format!(
        "global\n    stats socket {d}/PORT.sock level admin\n{DEFAULTS}\
         frontend limited\n    bind 192.0.2.1:PORT\n    rate-limit sessions 10\n    default_backend bk\n\
         frontend free\n    bind 192.0.2.1:1PORT\n    default_backend bk\n\
         backend bk\n    server s1 198.51.100.10:80\n",
        d = dir.display()
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    // 30 clients one after the other on each frontend of both proxies: every one is served.
    let served: Vec<usize> = std::thread::scope(|scope| {
        let runs: Vec<_> = [80u16, 81, 180, 181]
            .into_iter()
            .map(|port| {
                let ns = &topo.client;
                scope.spawn(move || {
                    let to = addr(&format!("192.0.2.1:{port}"));
                    (0..30)
                        .filter(|_| {
                            clearway_testkit::request(ns, to, None, b"hello\n", TIMEOUT)
                                .is_ok_and(|a| a.contains("server=s1"))
                        })
                        .count()
                })
            })
            .collect();
        runs.into_iter().map(|t| t.join().unwrap()).collect()
    });
    assert_eq!(served, [30, 30, 30, 30]);
    // The most sessions a second each frontend saw: within the limit, well above it without.
    let rate_max = |port: u16, fe: &str| -> u32 {
        let rows = csv_rows(&cli(&dir.join(format!("{port}.sock")), "show stat"));
        let r = rows
            .iter()
            .find(|r| r["pxname"] == fe && r["svname"] == "FRONTEND")
            .unwrap();
        assert_eq!(r["rate_lim"], if fe == "limited" { "10" } else { "0" }, "{fe}");
        r["rate_max"].parse().unwrap()
    };
    for port in [80, 81] {
        let (limited, free) = (rate_max(port, "limited"), rate_max(port, "free"));
        assert!((1..=11).contains(&limited), "port {port}: {limited}");
        assert!(free > 11, "port {port}: {free}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn minconn_grows_a_servers_limit_with_the_backends_load_up_to_fullconn_as_haproxy_does() {
    let Some(topo) = topology("minconn") else {
        return;
    };
    let srv = holding_servers(&topo, &["198.51.100.10:80"]).remove(0);
    let dir = std::env::temp_dir().join(clearway_testkit::netns::unique_name("minconn"));
    std::fs::create_dir_all(&dir).unwrap();
    // bk: a limit of max(2, sessions * 10 / 30). auto: no fullconn, so a tenth of the maxconn
    // of the frontends that may use it (200 + 95); a lone minconn is also the maxconn.
    let cfg = format!(
        "global\n    stats socket {d}/PORT.sock level admin\n{DEFAULTS}    timeout queue 30s\n\
         frontend ft\n    bind 192.0.2.1:PORT\n    maxconn 200\n\
         \x20   use_backend auto if {{ src 10.9.9.9 }}\n    default_backend bk\n\
         frontend ft2\n    bind 192.0.2.1:1PORT\n    maxconn 95\n    default_backend auto\n\
         backend bk\n    fullconn 30\n    server s1 198.51.100.10:80 minconn 2 maxconn 10\n\
         backend auto\n    server s1 198.51.100.10:80 minconn 4\n",
        d = dir.display()
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    for port in [80u16, 81] {
        let sock = dir.join(format!("{port}.sock"));
        let row = |px: &str, sv: &str| -> StatRow {
            csv_rows(&cli(&sock, "show stat"))
                .into_iter()
                .find(|r| r["pxname"] == px && r["svname"] == sv)
                .unwrap_or_else(|| panic!("{port}: no row {px}/{sv}"))
        };
        let n = |r: &StatRow, c: &str| r[c].parse::<u32>().unwrap_or(0);
        // (server's connections, sessions waiting, backend's sessions)
        let load = || {
            let (b, s) = (row("bk", "BACKEND"), row("bk", "s1"));
            (n(&s, "scur"), n(&b, "qcur") + n(&s, "qcur"), n(&b, "scur"))
        };
        assert_eq!(row("bk", "BACKEND")["slim"], "30", "{port}");
        assert_eq!(row("bk", "s1")["slim"], "10", "{port}");
        assert_eq!(
            row("auto", "BACKEND")["slim"],
            "30",
            "{port}: (200 + 95) / 10, rounded up"
        );
        assert_eq!(row("auto", "s1")["slim"], "4", "{port}");
        // 20 clients, one after the other.
        let mut clients = Vec::new();
        for k in 1..=20u32 {
            clients.push(hold(&topo, &format!("192.0.2.1:{port}")));
            assert!(
                eventually(|| { load().0 + load().1 == k }),
                "{port}: client {k} neither served nor queued: {:?}",
                load()
            );
        }
        // At 1 and 2 sessions the limit is minconn; later ones raise it (to 6 at 20), but
        // wait behind those already waiting.
        assert_eq!(load(), (2, 18, 20), "{port}");
        // The first one leaves: at 19 sessions the limit is 6, the line moves up.
        assert!(read_all(clients.remove(0)).contains("server=s1"), "{port}");
        assert!(eventually(|| load() == (6, 13, 19)), "{port}: {:?}", load());
        drop(clients);
        assert!(eventually(|| srv.active() == 0), "{port}");
    }
    let _ = std::fs::remove_dir_all(dir);
}
