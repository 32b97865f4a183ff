//! Helpers of the `mode http` tests: the usual defaults, curl in the client namespace, and
//! reading what the echo server reports.

use super::addr;
use clearway_testkit::HttpEchoServer;
use std::io::{Read, Write};

pub const DEFAULTS: &str =
    "defaults\n    mode http\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n";

pub fn echo(topo: &clearway_testkit::Topology, a: &str, name: &str) -> HttpEchoServer {
    HttpEchoServer::start(&topo.server, addr(a), name)
}

/// Runs curl in the client namespace with `opts`, then `url`; returns stdout, failing the test
/// if curl fails.
pub fn get(topo: &clearway_testkit::Topology, url: &str, opts: &[&str]) -> String {
    get_all(topo, &[url], opts)
}

/// Like `get`, with several URLs fetched in order over one kept-alive connection.
pub fn get_all(topo: &clearway_testkit::Topology, urls: &[&str], opts: &[&str]) -> String {
    let mut args = vec!["-sS", "--max-time", "10"];
    args.extend_from_slice(opts);
    args.extend_from_slice(urls);
    let out = topo.client.exec("curl", &args);
    assert!(
        out.status.success(),
        "curl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The value of `key=` lines in an echo answer, in order (one per request in a multi-URL curl).
pub fn values(body: &str, key: &str) -> Vec<String> {
    body.lines()
        .filter_map(|l| l.strip_prefix(&format!("{key}=")))
        .map(String::from)
        .collect()
}

/// The values of header `name` (lower-case) the server received, per `h:` line.
pub fn headers(body: &str, name: &str) -> Vec<String> {
    body.lines()
        .filter_map(|l| l.strip_prefix("h:"))
        .filter_map(|h| h.split_once(':'))
        .filter(|(k, _)| k.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim().to_string())
        .collect()
}

/// The key of RFC 6455's example and the accept value that answers it.
pub const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
pub const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// Sends a WebSocket upgrade for `target` to `to`; the response head (lowercased) and the
/// connection.
pub fn switch(topo: &clearway_testkit::Topology, to: &str, target: &str) -> (String, std::net::TcpStream) {
    let mut s = super::connect(topo, to);
    write!(
        s,
        "GET {target} HTTP/1.1\r\nHost: ws.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    (String::from_utf8_lossy(&head).to_ascii_lowercase(), s)
}

/// Bytes go both ways through a switched connection, several times, and it closes after our FIN.
pub fn echoes(mut s: std::net::TcpStream) {
    for msg in [&b"ping"[..], b"second frame", &[0u8, 159, 146, 150][..]] {
        s.write_all(msg).unwrap();
        let mut back = vec![0u8; msg.len()];
        s.read_exact(&mut back).expect("echo through the tunnel");
        assert_eq!(back, msg);
    }
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    assert_eq!(s.read_to_end(&mut rest).expect("the tunnel closes after our FIN"), 0);
}
