//! A syslog receiver for the log tests: a UDP socket in the lb namespace, and reading the
//! lines it gets (all, the traffic ones, one holding a word, none).

use super::TIMEOUT;
use std::net::UdpSocket;

/// A syslog receiver: a UDP socket on the lb's loopback, where the proxies run.
pub fn receiver(topo: &clearway_testkit::Topology) -> UdpSocket {
    let s = topo
        .lb
        .enter(|| UdpSocket::bind("127.0.0.1:0"))
        .expect("a UDP socket in the lb namespace");
    s.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    s
}

/// The next `n` lines the receiver gets (fewer if they stop coming).
pub fn lines(rx: &UdpSocket, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 65536];
    while out.len() < n {
        match rx.recv(&mut buf) {
            Ok(len) => out.push(String::from_utf8_lossy(&buf[..len]).into_owned()),
            Err(_) => break,
        }
    }
    out
}

/// The next `n` traffic lines (a client's `ADDR:PORT [` after the tag), skipping the
/// process's own messages, which go to the same global targets.
pub fn traffic(rx: &UdpSocket, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    while out.len() < n {
        let got = lines(rx, 1);
        let Some(l) = got.into_iter().next() else { break };
        let msg = l.split_once("]: ").map_or("", |(_, m)| m);
        let first = msg.split(' ').next().unwrap_or("");
        if first.parse::<std::net::SocketAddr>().is_ok() {
            out.push(l);
        }
    }
    out
}

/// The next `n` traffic lines' messages after the client's address and port (which differ
/// from one proxy to the other).
pub fn after_client(rx: &UdpSocket, n: usize) -> Vec<String> {
    traffic(rx, n)
        .iter()
        .map(|line| {
            let msg = line.split_once("]: ").map_or("", |(_, m)| m).trim_end();
            msg.split_once(' ').map_or(String::new(), |(_, rest)| rest.to_string())
        })
        .collect()
}

/// The next line containing `needle`, skipping others.
pub fn line_with(rx: &UdpSocket, needle: &str) -> String {
    loop {
        match lines(rx, 1).into_iter().next() {
            Some(l) if l.contains(needle) => return l,
            Some(_) => continue,
            None => panic!("no log line with '{needle}'"),
        }
    }
}

/// Whether nothing more arrives within a short while.
pub fn quiet(rx: &UdpSocket) -> Option<String> {
    rx.set_read_timeout(Some(std::time::Duration::from_millis(500)))
        .expect("timeout");
    let mut buf = vec![0u8; 65536];
    let r = rx
        .recv(&mut buf)
        .ok()
        .map(|n| String::from_utf8_lossy(&buf[..n]).into_owned());
    rx.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    r
}
