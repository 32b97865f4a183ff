//! The request body read ahead for the rules, side by side with HAProxy: `option
//! http-buffer-request` and `http-request wait-for-body` (whole bodies, `at-least`, bodies
//! that do not come in time), with `req.body`, `req.body_len`, `req.body_size` and
//! `req.body_param` in rules, and the server still getting the whole body.

mod common;
use common::http::{echo, DEFAULTS};
use common::*;
use std::io::{Read, Write};

const CONFIG: &str = "{DEFAULTS}frontend buffered\n    bind 192.0.2.1:PORT\n\
    \x20   option http-buffer-request\n\
    \x20   http-request deny deny_status 403 if { req.body_param(user) -m str admin }\n\
    \x20   http-request set-header x-body-len %[req.body_len]\n\
    \x20   http-request set-header x-body-size %[req.body_size]\n\
    \x20   http-request set-header x-body %[req.body,hex] if { req.body_len lt 40 }\n\
    \x20   default_backend be\n\
    frontend waits\n    bind 192.0.2.1:1PORT\n\
    \x20   http-request wait-for-body time 300ms at-least 10 if { path_beg /ten }\n\
    \x20   http-request return status 200 content-type text/plain lf-string \"len=%[req.body_len]\" if { path_beg /ten }\n\
    \x20   http-request wait-for-body time 300ms if { path_beg /all }\n\
    \x20   http-request set-header x-body-len %[req.body_len]\n\
    \x20   default_backend be\n\
    backend be\n    server web1 198.51.100.10:80\n";

/// Sends `head` then each of `parts` (the client pausing between them until the proxy has
/// had time to read what came) and returns everything the proxy answered.
fn exchange(topo: &clearway_testkit::Topology, to: &str, head: &str, parts: &[&str]) -> String {
    let mut s = connect(topo, to);
    s.write_all(head.as_bytes()).unwrap();
    for p in parts {
        std::thread::sleep(std::time::Duration::from_millis(50));
        s.write_all(p.as_bytes()).unwrap();
    }
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.to_ascii_lowercase()
}

/// One response whose head gives its length, read without waiting for the connection's end.
fn response(s: &mut std::net::TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&got).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len = head.lines().find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length: ")?
                    .trim()
                    .parse::<usize>()
                    .ok()
            });
            if len.is_some_and(|n| body.len() >= n) {
                return text;
            }
        }
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return text,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
}

fn post(path: &str, len: usize, close: bool) -> String {
    let c = if close { "Connection: close\r\n" } else { "" };
    format!("POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len}\r\n{c}\r\n")
}

#[test]
fn bodies_read_ahead_for_the_rules_as_in_haproxy() {
    let Some(topo) = topology("rqb") else { return };
    let _w = echo(&topo, "198.51.100.10:80", "web1");
    let cfg = CONFIG.replace("{DEFAULTS}", DEFAULTS);
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    for (who, port, wport) in [("clearway", 80, 180), ("haproxy", 81, 181)] {
        let to = format!("192.0.2.1:{port}");
        // A form parameter refuses the request; the body came in two pieces.
        let out = exchange(&topo, &to, &post("/f", 14, true), &["user=ad", "min&x=1"]);
        assert!(out.starts_with("http/1.1 403"), "{who}: {out}");
        // Another goes through whole, the rules having seen all of it.
        let out = exchange(&topo, &to, &post("/f", 13, true), &["user=bo", "b&x=1!"]);
        assert!(out.starts_with("http/1.1 200"), "{who}: {out}");
        assert!(out.contains("h:x-body-len: 13\n"), "{who}: {out}");
        assert!(out.contains("h:x-body-size: 13\n"), "{who}: {out}");
        assert!(out.contains("h:x-body: 757365723d626f6226783d3121\n"), "{who}: {out}");
        assert!(out.contains("body_len=13\n"), "{who}: {out}");
        // Chunked: the size is what came.
        let out = exchange(
            &topo,
            &to,
            "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
            &["5\r\nuser=\r\n", "3\r\nbob\r\n0\r\n\r\n"],
        );
        assert!(out.contains("h:x-body-size: 8\n"), "{who}: {out}");
        assert!(out.contains("body_len=8\n"), "{who}: {out}");
        // No body: the rules go on at once.
        let out = exchange(
            &topo,
            &to,
            "GET /g HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            &[],
        );
        assert!(out.contains("h:x-body-len: 0\n"), "{who}: {out}");

        let to = format!("192.0.2.1:{wport}");
        // `at-least 10`: the rules go on with the first bytes (answering before the rest of
        // the body is even sent).
        let mut s = connect(&topo, &to);
        s.write_all(format!("{}0123456789ab", post("/ten", 30, false)).as_bytes())
            .unwrap();
        let out = response(&mut s);
        assert!(out.starts_with("HTTP/1.1 200"), "{who}: {out}");
        assert!(out.ends_with("\r\n\r\nlen=12"), "{who}: {out}");
        // A body that does not come within the rule's time: 408, nothing reaches the server.
        let mut s = connect(&topo, &to);
        s.write_all(post("/all", 30, false).as_bytes()).unwrap();
        s.write_all(b"only part").unwrap();
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        assert!(out.starts_with("HTTP/1.1 408"), "{who}: {out}");
        assert!(!out.contains("server=web1"), "{who}: {out}");
    }
}

#[test]
fn a_body_read_ahead_goes_again_when_its_reused_server_connection_closes() {
    let Some(topo) = topology("rqr") else { return };
    // A server that answers the first request of each connection and drops the second
    // unanswered (as one that closes an idle connection just as it is reused).
    let listener = topo
        .server
        .enter(|| std::net::TcpListener::bind("198.51.100.10:80"))
        .expect("bind");
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for s in listener.incoming().flatten() {
            let log = log.clone();
            std::thread::spawn(move || {
                let mut s = s;
                let mut buf = [0u8; 4096];
                for n in 0.. {
                    // One whole request: its head, then its five bytes of body.
                    let mut got = Vec::new();
                    while !got.ends_with(b"hello") {
                        match s.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(k) => got.extend_from_slice(&buf[..k]),
                        }
                    }
                    let text = String::from_utf8_lossy(&got).into_owned();
                    let line = text.lines().next().unwrap_or("").to_string();
                    log.lock().unwrap().push(format!("{n} {line}"));
                    if n > 0 {
                        return;
                    }
                    let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
                }
            });
        }
    });
    let cfg = format!(
        "{DEFAULTS}frontend buffered\n    bind 192.0.2.1:80\n    option http-buffer-request\n    default_backend be\n\
         backend be\n    server web1 198.51.100.10:80\n"
    );
    let _cw = start(&topo, &cfg, &[80]);
    let mut s = connect(&topo, "192.0.2.1:80");
    for path in ["/a", "/b"] {
        s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello").as_bytes())
            .unwrap();
        let out = response(&mut s);
        assert!(
            out.starts_with("HTTP/1.1 200"),
            "{path}: {out}\n{:?}",
            seen.lock().unwrap()
        );
    }
    // The second request reached the server twice, with its body both times: on the reused
    // connection (dropped) and on a new one (answered).
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen, ["0 GET /a HTTP/1.1", "1 GET /b HTTP/1.1", "0 GET /b HTTP/1.1"]);
}
