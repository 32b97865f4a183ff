//! `mode http` time limits end to end: `timeout http-request` against slow and silent
//! clients, `timeout http-keep-alive` between requests, `timeout server` against a server
//! that stalls in a body, and `timeout client` against a request body that stops coming.

mod common;
use common::http::*;
use common::*;
use std::io::{Read, Write};

#[test]
fn slowloris_is_cut_by_timeout_http_request() {
    let Some(topo) = topology("hslow") else { return };
    let srv = echo(&topo, "198.51.100.10:80", "s1");
    let cfg = format!(
        "{DEFAULTS}    timeout http-request 1s\nfrontend ft\n    bind 192.0.2.1:80\n    default_backend bk\n\
         backend bk\n    server s1 198.51.100.10:80\n"
    );
    let lb = start(&topo, &cfg, &[80]);
    let mut s = connect(&topo, "192.0.2.1:80");
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
    // Keep sending a header line every 100 ms, never finishing the head: each line resets an
    // inactivity timer, but not the request timer. Stop when the proxy answers.
    s.set_nonblocking(true).unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 512];
    for _ in 0..200 {
        std::thread::sleep(std::time::Duration::from_millis(100));
        match s.read(&mut buf) {
            Ok(n) => {
                answer.extend_from_slice(&buf[..n]);
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("the connection failed before an answer: {e}"),
        }
        if s.write_all(b"X-a: b\r\n").is_err() {
            break;
        }
    }
    s.set_nonblocking(false).unwrap();
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    let _ = s.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 408"),
        "the slow client gets 408: {answer:?}"
    );
    assert!(lb.wait_log("timeout http-request, 408 sent", TIMEOUT), "{}", lb.log());
    assert_eq!(srv.count(), 0);
}

#[test]
fn a_client_that_never_sends_is_closed_by_timeout_http_request() {
    let Some(topo) = topology("hmute") else { return };
    let srv = echo(&topo, "198.51.100.10:80", "s1");
    let cfg = format!(
        "{DEFAULTS}    timeout http-request 500ms\nfrontend ft\n    bind 192.0.2.1:80\n    default_backend bk\n\
         backend bk\n    server s1 198.51.100.10:80\n"
    );
    let lb = start(&topo, &cfg, &[80]);
    let mut s = connect(&topo, "192.0.2.1:80");
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut got = Vec::new();
    // Closed, without an answer: nothing of a request arrived (as HAProxy does for an idle
    // keep-alive connection).
    let r = s.read_to_end(&mut got);
    assert!(r.is_ok(), "closed, not left open: {r:?}");
    assert!(got.is_empty(), "{:?}", String::from_utf8_lossy(&got));
    assert!(
        lb.wait_log("client connection closed: timeout http-request", TIMEOUT),
        "{}",
        lb.log()
    );
    // A client that does send, on a new connection, is served.
    let mut s = connect(&topo, "192.0.2.1:80");
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
    assert_eq!(srv.count(), 1);
}

#[test]
fn idle_keep_alive_connection_is_closed_by_timeout_http_keep_alive() {
    let Some(topo) = topology("hkat") else { return };
    let _srv = echo(&topo, "198.51.100.10:80", "s1");
    let cfg = format!(
        "{DEFAULTS}    timeout http-keep-alive 300ms\nfrontend ft\n    bind 192.0.2.1:80\n    default_backend bk\n\
         backend bk\n    server s1 198.51.100.10:80\n"
    );
    let lb = start(&topo, &cfg, &[80]);
    let mut s = connect(&topo, "192.0.2.1:80");
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    // Reads the response, then EOF once the idle connection is closed: read_to_end returns
    // instead of running into our own read timeout.
    let mut all = Vec::new();
    let r = s.read_to_end(&mut all);
    assert!(r.is_ok(), "closed by the proxy, not by our read timeout: {r:?}");
    let text = String::from_utf8_lossy(&all);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(lb.wait_log("timeout http-keep-alive", TIMEOUT), "{}", lb.log());
}

#[test]
fn a_server_that_stalls_mid_body_is_cut_by_timeout_server() {
    let Some(topo) = topology("hstall") else { return };
    // A server that answers with a head and part of the body, then goes silent (its socket
    // stays open for 30 s).
    let listener = topo
        .server
        .enter(|| std::net::TcpListener::bind("198.51.100.10:80"))
        .expect("bind");
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().flatten().take(4) {
            let mut s = s;
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nfirst bytes");
            held.push(s);
        }
        std::thread::sleep(std::time::Duration::from_secs(30));
    });
    let cfg = "defaults\n    mode http\n    timeout connect 5s\n    timeout client 30s\n    timeout server 1s\n\
               frontend ft\n    bind 192.0.2.1:80\n    default_backend bk\n\
               backend bk\n    server s1 198.51.100.10:80\n";
    let lb = start(&topo, cfg, &[80]);
    let mut s = connect(&topo, "192.0.2.1:80");
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    // The client gets what the server sent, then the connection closes (the body is cut
    // short) instead of staying open as long as the server keeps quiet.
    let mut answer = Vec::new();
    let read = s.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        read.is_ok(),
        "the connection was not closed: {read:?}, got {answer:?}\n{}",
        lb.log()
    );
    assert!(
        answer.starts_with("HTTP/1.1 200") && answer.ends_with("first bytes"),
        "{answer:?}"
    );
    assert!(lb.wait_log("timeout server", TIMEOUT), "{}", lb.log());
}

#[test]
fn a_request_body_that_stops_coming_is_cut_by_timeout_client() {
    let Some(topo) = topology("hstall") else { return };
    let _srv = echo(&topo, "198.51.100.10:80", "s1");
    let cfg = format!(
        "{DEFAULTS}    timeout client 1s\nfrontend ft\n    bind 192.0.2.1:80\n    default_backend bk\n\
         backend bk\n    server s1 198.51.100.10:80\n"
    );
    let lb = start(&topo, &cfg, &[80]);
    let mut s = connect(&topo, "192.0.2.1:80");
    // Three bytes of ten, then nothing: the server side waits for the rest, and the client's
    // silence is the client's fault (408), not the server's (502 or 504).
    s.write_all(b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        .unwrap();
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut answer = Vec::new();
    let r = s.read_to_end(&mut answer);
    assert!(r.is_ok(), "closed by the proxy, not by our read timeout: {r:?}");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?}");
    assert!(
        lb.wait_log("'timeout client' in the middle of the body", TIMEOUT),
        "{}",
        lb.log()
    );
}
