//! The response body read ahead for the rules (`http-response wait-for-body`), side by side
//! with HAProxy: whole bodies in pieces, `at-least`, chunked bodies, bodies that do not come
//! in time (504, logged `sD`), with `res.body`, `res.body_len` and `res.body_size` in rules,
//! and the client still getting the whole body.

mod common;
use common::http::DEFAULTS;
use common::*;
use std::io::{Read, Write};
use std::time::Duration;

const CONFIG: &str = "{DEFAULTS}    log 127.0.0.1:5614 local0\n    option httplog\n\
    frontend fe\n    bind 192.0.2.1:PORT\n    default_backend be\n\
    backend be\n\
    \x20   http-response wait-for-body time 3s if { res.hdr(x-kind) whole }\n\
    \x20   http-response wait-for-body time 3s at-least 5 if { res.hdr(x-kind) least }\n\
    \x20   http-response wait-for-body time 300ms if { res.hdr(x-kind) late }\n\
    \x20   http-response deny deny_status 502 if { res.body -m sub secret }\n\
    \x20   http-response set-header x-body-len %[res.body_len]\n\
    \x20   http-response set-header x-body-size %[res.body_size]\n\
    \x20   server web1 198.51.100.10:80\n";

/// What the server sends for each path: the head, then pieces with a pause before each.
fn script(path: &str) -> (&'static str, Vec<&'static str>) {
    match path {
        "/secret" => (
            "HTTP/1.1 200 OK\r\nx-kind: whole\r\nContent-Length: 18\r\n\r\nhello ",
            vec!["secret world"],
        ),
        "/public" => (
            "HTTP/1.1 200 OK\r\nx-kind: whole\r\nContent-Length: 18\r\n\r\nhello ",
            vec!["public world"],
        ),
        "/least" => (
            "HTTP/1.1 200 OK\r\nx-kind: least\r\nContent-Length: 20\r\n\r\n0123456789",
            vec!["abcdefghij"],
        ),
        "/chunked" => (
            "HTTP/1.1 200 OK\r\nx-kind: whole\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
            vec!["6\r\n world\r\n0\r\n\r\n"],
        ),
        // Part of the body, then nothing for longer than the rule waits.
        _ => (
            "HTTP/1.1 200 OK\r\nx-kind: late\r\nContent-Length: 20\r\n\r\npartial",
            vec![],
        ),
    }
}

/// A server answering each connection's one request as `script` says, then closing.
fn server(topo: &clearway_testkit::Topology) {
    let listener = topo
        .server
        .enter(|| std::net::TcpListener::bind("198.51.100.10:80"))
        .expect("bind");
    std::thread::spawn(move || {
        for s in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut s = s;
                let mut got = Vec::new();
                let mut buf = [0u8; 4096];
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&got).into_owned();
                let path = text.split(' ').nth(1).unwrap_or("/").to_string();
                let (head, pieces) = script(&path);
                let _ = s.write_all(head.as_bytes());
                for p in pieces {
                    std::thread::sleep(Duration::from_millis(200));
                    let _ = s.write_all(p.as_bytes());
                }
                // The late one stays silent for longer than the rule waits.
                std::thread::sleep(Duration::from_secs(2));
            });
        }
    });
}

fn get(topo: &clearway_testkit::Topology, to: &str, path: &str) -> String {
    let mut s = connect(topo, to);
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).to_ascii_lowercase()
}

#[test]
fn response_bodies_read_ahead_for_the_rules_as_in_haproxy() {
    let Some(topo) = topology("rsb") else { return };
    server(&topo);
    let cfg = CONFIG.replace("{DEFAULTS}", DEFAULTS);
    let logs = udp_receivers(&topo, &[5614]);
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    for (who, port) in [("clearway", 80), ("haproxy", 81)] {
        let to = format!("192.0.2.1:{port}");
        // The rule sees the whole body, although it came in two pieces: refused.
        let out = get(&topo, &to, "/secret");
        assert!(out.starts_with("http/1.1 502"), "{who}: {out}");
        assert!(!out.contains("hello"), "{who}: {out}");
        // Another goes through whole, its length read by the rules.
        let out = get(&topo, &to, "/public");
        assert!(out.starts_with("http/1.1 200"), "{who}: {out}");
        assert!(out.contains("\r\nx-body-len: 18\r\n"), "{who}: {out}");
        assert!(out.contains("\r\nx-body-size: 18\r\n"), "{who}: {out}");
        assert!(out.ends_with("\r\n\r\nhello public world"), "{who}: {out}");
        // `at-least 5`: the rules go on with what came first; the client gets everything.
        let out = get(&topo, &to, "/least");
        assert!(out.contains("\r\nx-body-len: 10\r\n"), "{who}: {out}");
        assert!(out.contains("\r\nx-body-size: 20\r\n"), "{who}: {out}");
        assert!(out.ends_with("\r\n\r\n0123456789abcdefghij"), "{who}: {out}");
        // Chunked: the size is what came.
        let out = get(&topo, &to, "/chunked");
        assert!(out.contains("\r\nx-body-len: 11\r\n"), "{who}: {out}");
        assert!(out.contains("\r\nx-body-size: 11\r\n"), "{who}: {out}");
        assert!(out.contains("hello world"), "{who}: {out}");
        // A body that does not come within the rule's time: 504.
        let out = get(&topo, &to, "/late");
        assert!(out.starts_with("http/1.1 504"), "{who}: {out}");
        assert!(!out.contains("partial"), "{who}: {out}");
    }
    // Both logged the refused and the late ones without a response time (`Tr` -1), the late
    // one as a server-side timeout while its response was read (`sR`).
    let mut lines = Vec::new();
    let mut buf = [0u8; 2048];
    while lines.iter().filter(|l: &&String| l.contains("/late")).count() < 2 {
        let Ok(n) = logs[0].recv(&mut buf) else { break };
        lines.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    for (path, status, term) in [("/secret", "502", "PH--"), ("/late", "504", "sR--")] {
        let found: Vec<_> = lines.iter().filter(|l| l.contains(path)).collect();
        assert_eq!(found.len(), 2, "{path}: {lines:#?}");
        for l in found {
            let f: Vec<&str> = l.split_whitespace().collect();
            let at = f.iter().position(|w| w.starts_with("be/")).expect("backend/server");
            let tr = f[at + 1].split('/').nth(3);
            assert_eq!(tr, Some("-1"), "{l}");
            assert_eq!((f[at + 2], f[at + 6]), (status, term), "{l}");
        }
    }
}
