//! Helpers of the `mode http` tests: the usual defaults, curl in the client namespace, and
//! reading what the echo server reports.

use super::addr;
use clearway_testkit::HttpEchoServer;

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
