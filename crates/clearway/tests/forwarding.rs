//! Byte forwarding through the real binary: half-close and inactivity timeouts.

mod common;
use common::*;
use std::io::{Read, Write};

#[test]
fn half_close_is_passed_through() {
    let Some(topo) = topology("hclose") else {
        return;
    };
    let echo = clearway_testkit::EchoServer::start(&topo.server, addr("198.51.100.10:7"));
    let cfg = "defaults\n    mode tcp\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n\
               listen echo\n    bind 192.0.2.1:7\n    server e1 198.51.100.10:7\n";
    let _lb = start(&topo, cfg, &[7]);
    let payload: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
    // The echo server answers EOF with EOF only after it saw ours: the answer proves both FINs.
    let got = clearway_testkit::request(&topo.client, addr("192.0.2.1:7"), None, &payload, TIMEOUT).expect("echo");
    assert_eq!(got.as_bytes(), String::from_utf8_lossy(&payload).as_bytes());
    assert_eq!(echo.count(), 1);
}

#[test]
fn idle_client_is_closed_after_timeout_client() {
    let Some(topo) = topology("cto") else { return };
    let _echo = clearway_testkit::EchoServer::start(&topo.server, addr("198.51.100.10:7"));
    let cfg = "defaults\n    mode tcp\n    timeout connect 5s\n    timeout client 300ms\n    timeout server 30s\n\
               listen echo\n    bind 192.0.2.1:7\n    server e1 198.51.100.10:7\n";
    let lb = start(&topo, cfg, &[7]);
    let to = addr("192.0.2.1:7");
    let mut s = topo
        .client
        .enter(move || std::net::TcpStream::connect_timeout(&to, TIMEOUT))
        .expect("connect");
    s.write_all(b"ping").unwrap();
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut buf = [0u8; 4];
    s.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"ping");
    // Then silence: Clearway closes the idle session.
    let mut rest = Vec::new();
    let n = s
        .read_to_end(&mut rest)
        .expect("closed by the proxy, not by our read timeout");
    assert_eq!(n, 0);
    assert!(lb.wait_log("client timeout", TIMEOUT), "{}", lb.log());
}
