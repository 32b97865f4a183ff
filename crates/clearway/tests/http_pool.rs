//! The idle server-connection pool's bounds, end to end: `pool-max-conn`,
//! `pool-purge-delay` and the estimate of the connections needed, under many clients that
//! each make one request (the case that used to leave one idle connection per client).
//! Connections are counted by the kernel (`ss` on the lb's side), not by the proxy.

mod common;
use clearway_testkit::HttpEchoServer;
use common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::time::Duration;

const DEFAULTS: &str =
    "defaults\n    mode http\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n";

/// Clients in parallel.
const PARALLEL: usize = 40;
/// Client connections each makes, one request on each.
const EACH: usize = 50;

/// `PARALLEL` threads in the client namespace, each opening `EACH` connections to `to` one
/// after another, with one keep-alive request on each (the client closes after the answer).
/// Returns how many answers were 200.
fn one_request_clients(topo: &clearway_testkit::Topology, to: &str) -> usize {
    let to = addr(to);
    topo.client.enter(|| {
        std::thread::scope(|s| {
            let workers: Vec<_> = (0..PARALLEL)
                .map(|_| s.spawn(move || (0..EACH).filter(|_| one_request(to)).count()))
                .collect();
            workers.into_iter().map(|w| w.join().unwrap_or(0)).sum()
        })
    })
}

fn one_request(to: std::net::SocketAddr) -> bool {
    let Ok(mut s) = std::net::TcpStream::connect_timeout(&to, Duration::from_secs(5)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    if s.write_all(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n").is_err() {
        return false;
    }
    let mut r = BufReader::new(s);
    let mut status = String::new();
    if r.read_line(&mut status).is_err() {
        return false;
    }
    let mut len = 0usize;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).map_or(true, |n| n == 0) {
            return false;
        }
        if line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).is_ok() && status.starts_with("HTTP/1.1 200")
}

/// Established connections from the lb to server port `port`.
fn to_server(topo: &clearway_testkit::Topology, port: u16) -> usize {
    topo.lb
        .sh(&format!("ss -tnH state established dst 198.51.100.10:{port}"))
        .lines()
        .count()
}

#[test]
fn many_one_request_clients_leave_about_as_many_idle_connections_as_were_in_use() {
    let Some(topo) = topology("hpool") else { return };
    let _s = HttpEchoServer::start(&topo.server, addr("198.51.100.10:80"), "s1");
    let cfg = format!(
        "{DEFAULTS}frontend ft\n    bind 192.0.2.1:80\n    default_backend bk\n\
         backend bk\n    server s1 198.51.100.10:80 pool-purge-delay 300ms\n"
    );
    let _lb = start(&topo, &cfg, &[80]);
    assert_eq!(one_request_clients(&topo, "192.0.2.1:80"), PARALLEL * EACH);
    // Each client's first request opens a connection of its own (`http-reuse safe`), and
    // 2,000 were made; at most `PARALLEL` were ever in use at once, and what stays idle is
    // bounded by that (plus one per thread that had none).
    let idle = to_server(&topo, 80);
    assert!(idle >= 1, "some stay idle for later requests");
    assert!(
        idle <= PARALLEL + 4,
        "{idle} idle connections after {} one-request clients, {PARALLEL} at a time",
        PARALLEL * EACH
    );
    // Once the load stops, each purge closes half the surplus over a decaying estimate:
    // they all go.
    assert!(
        eventually_for(Duration::from_secs(30), || to_server(&topo, 80) == 0),
        "{} still idle",
        to_server(&topo, 80)
    );
    let half_closed = topo.lb.sh("ss -tnH state close-wait");
    assert!(half_closed.trim().is_empty(), "{half_closed}");
}

#[test]
fn pool_max_conn_caps_idle_connections_and_pool_purge_delay_0_keeps_none() {
    let Some(topo) = topology("hpmax") else { return };
    let _s1 = HttpEchoServer::start(&topo.server, addr("198.51.100.10:80"), "s1");
    let _s2 = HttpEchoServer::start(&topo.server, addr("198.51.100.10:81"), "s2");
    let cfg = format!(
        "{DEFAULTS}frontend ft\n    bind 192.0.2.1:80\n    default_backend bk\n\
         frontend ft2\n    bind 192.0.2.1:81\n    default_backend bk2\n\
         backend bk\n    default-server pool-max-conn 5 pool-purge-delay 1h\n    server s1 198.51.100.10:80\n\
         backend bk2\n    server s2 198.51.100.10:81 pool-purge-delay 0\n"
    );
    let _lb = start(&topo, &cfg, &[80, 81]);
    assert_eq!(one_request_clients(&topo, "192.0.2.1:80"), PARALLEL * EACH);
    let idle = to_server(&topo, 80);
    assert!((1..=5).contains(&idle), "pool-max-conn 5: {idle} idle");
    // With no purge for an hour, they stay.
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(to_server(&topo, 80), idle);

    assert_eq!(one_request_clients(&topo, "192.0.2.1:81"), PARALLEL * EACH);
    assert_eq!(to_server(&topo, 81), 0, "pool-purge-delay 0 keeps no idle connection");
}

#[test]
fn pool_settings_are_checked() {
    for (line, want) in [
        ("pool-max-conn x", "pool-max-conn"),
        ("pool-max-conn -2", "pool-max-conn"),
        ("pool-low-conn -1", "pool-low-conn"),
        ("pool-purge-delay soon", "invalid time"),
    ] {
        let cfg = format!(
            "{DEFAULTS}frontend ft\n    bind 127.0.0.1:8080\n    default_backend bk\n\
             backend bk\n    server s1 127.0.0.1:80 {line}\n"
        );
        let out = clearway_testkit::Clearway::check(binary(), &cfg);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{line}: {err}");
        assert!(err.contains(want) && err.contains(":10:"), "{line}: {err}");
    }
    let cfg = format!(
        "{DEFAULTS}frontend ft\n    bind 127.0.0.1:8080\n    default_backend bk\n\
         backend bk\n    server s1 127.0.0.1:80 pool-max-conn -1 pool-low-conn 4 pool-purge-delay 10s\n"
    );
    let out = clearway_testkit::Clearway::check(binary(), &cfg);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("pool-"), "acted on, no warning: {err}");
}
