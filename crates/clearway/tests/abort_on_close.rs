//! `option abortonclose` side by side with HAProxy: a request whose HTTP/1 client closes its
//! side while the request waits in the queue is dropped (the server never gets it) and logged
//! `CQ` with no status; without the option it is served. As in HAProxy, the option works from
//! a `defaults` section, where it reaches the frontend too (whose connections HAProxy then
//! watches for the close); in a backend alone it does nothing there.

mod common;
use clearway_testkit::PeerServer;
use common::http::DEFAULTS;
use common::*;
use std::io::{Read, Write};
use std::time::Duration;

#[test]
fn a_queued_request_whose_client_closes_is_dropped_as_in_haproxy() {
    let Some(topo) = topology("aoc") else { return };
    // One connection at a time, each held until its client (the proxy) half-closes, or 3 s.
    let held = PeerServer::start_holding(&topo.server, addr("198.51.100.10:80"), "s1", Duration::from_secs(3));
    let receivers = udp_receivers(&topo, &[1807, 1817]);
    let cfg = format!(
        "global\n    log 127.0.0.1:1PORT7 local0\n{DEFAULTS}    option httplog\n    option abortonclose\n\
         frontend fe\n    bind 192.0.2.1:PORT\n    log global\n\
         \x20   use_backend keep if {{ path_beg /keep }}\n    default_backend drop\n\
         backend drop\n    server s1 198.51.100.10:80 maxconn 1\n\
         backend keep\n    no option abortonclose\n    server s1 198.51.100.10:80 maxconn 1\n"
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    for (port, rx) in [(80u16, &receivers[0]), (81, &receivers[1])] {
        let to = format!("192.0.2.1:{port}");
        let before = held.count();
        // The first request takes the server's one slot and is held there.
        let mut first = connect(&topo, &to);
        first.write_all(b"GET /first HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        while held.active() == 0 {
            std::thread::sleep(Duration::from_millis(20));
        }
        // The second waits in the queue, and its client closes its side.
        let mut second = connect(&topo, &to);
        second.write_all(b"GET /second HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        // Closing once the request is queued (HAProxy takes a FIN that comes with the request
        // for a client that only closed its output).
        std::thread::sleep(Duration::from_millis(200));
        second.shutdown(std::net::Shutdown::Write).unwrap();
        let mut got = String::new();
        let _ = second.read_to_string(&mut got);
        assert_eq!(got, "", "port {port}: a dropped request gets no answer");
        let line = next_line(rx);
        assert!(line.contains(" fe drop/<NOSRV> "), "port {port}: {line}");
        assert!(line.contains(" -1 ") && line.contains(" CQ-- "), "port {port}: {line}");
        assert!(line.contains("\"GET /second HTTP/1.1\""), "port {port}: {line}");
        drop(first);
        // Only the first request reached the server.
        while held.active() > 0 {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(held.count() - before, 1, "port {port}");
        let _ = next_line(rx);
        // Without the option, a client that closes its side still gets its answer.
        let mut s = connect(&topo, &to);
        s.write_all(b"GET /keep HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        s.shutdown(std::net::Shutdown::Write).unwrap();
        let mut got = String::new();
        let _ = s.read_to_string(&mut got);
        // (HAProxy answers in its server's HTTP/1.0, Clearway in HTTP/1.1.)
        assert!(
            got.starts_with("HTTP/1.") && got.contains(" 200 OK\r\n"),
            "port {port}: {got}"
        );
    }
}

fn next_line(rx: &std::net::UdpSocket) -> String {
    let mut buf = [0u8; 4096];
    let n = rx.recv(&mut buf).expect("a log line");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// In `mode tcp`, a session whose client closes its side while the session waits in the
/// queue is dropped there (the server never sees it) and logged `CQ`, as in HAProxy; without
/// the option, what it sent still goes to the server once a slot frees.
#[test]
fn a_queued_tcp_session_whose_client_closes_is_dropped_as_in_haproxy() {
    let Some(topo) = topology("aoct") else { return };
    let held = PeerServer::start_holding(&topo.server, addr("198.51.100.10:80"), "s1", Duration::from_secs(3));
    let receivers = udp_receivers(&topo, &[1807, 1817]);
    let cfg = format!(
        "global\n    log 127.0.0.1:1PORT7 local0\n{TCP_DEFAULTS}    option tcplog\n    option abortonclose\n\
         frontend fe\n    bind 192.0.2.1:PORT\n    log global\n    default_backend drop\n\
         frontend fk\n    bind 192.0.2.1:2PORT\n    log global\n    default_backend keep\n\
         backend drop\n    server s1 198.51.100.10:80 maxconn 1\n\
         backend keep\n    no option abortonclose\n    server s1 198.51.100.10:80 maxconn 1\n"
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    for (port, rx) in [(80u16, &receivers[0]), (81, &receivers[1])] {
        for (to, drops) in [
            (format!("192.0.2.1:{port}"), true),
            (format!("192.0.2.1:2{port}"), false),
        ] {
            let before = held.count();
            // The first session takes the server's one slot and is held there.
            let mut first = connect(&topo, &to);
            first.write_all(b"first\n").unwrap();
            while held.active() == 0 {
                std::thread::sleep(Duration::from_millis(20));
            }
            // The second waits in the queue; its client sends, then closes its side.
            let mut second = connect(&topo, &to);
            second.write_all(b"second\n").unwrap();
            std::thread::sleep(Duration::from_millis(200));
            second.shutdown(std::net::Shutdown::Write).unwrap();
            if drops {
                let mut got = String::new();
                let _ = second.read_to_string(&mut got);
                assert_eq!(got, "", "{to}: a dropped session gets nothing");
                let line = next_line(rx);
                assert!(line.contains(" fe drop/<NOSRV> "), "{to}: {line}");
                assert!(line.contains(" CQ "), "{to}: {line}");
            }
            first.shutdown(std::net::Shutdown::Write).unwrap();
            let mut got = String::new();
            let _ = first.read_to_string(&mut got);
            assert!(got.contains("server=s1"), "{to}: {got}");
            if !drops {
                // Served once the first is done, its data and close passed on.
                let mut got = String::new();
                let _ = second.read_to_string(&mut got);
                assert!(got.contains("server=s1"), "{to}: {got}");
            }
            while held.active() > 0 {
                std::thread::sleep(Duration::from_millis(20));
            }
            assert_eq!(held.count() - before, if drops { 1 } else { 2 }, "{to}");
            // The served sessions' lines.
            for _ in 0..(if drops { 1 } else { 2 }) {
                let _ = next_line(rx);
            }
        }
    }
}
