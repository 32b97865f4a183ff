//! Shared pieces of the end-to-end tests: the binary under test and topology set-up.
#![allow(dead_code)]

pub mod http;
pub mod syslog;

use clearway_testkit::{Clearway, PeerServer, Topology};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

pub fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_clearway"))
}

/// A topology, or None when the test must be skipped (never in CI: there it panics).
pub fn topology(tag: &str) -> Option<Topology> {
    clearway_testkit::require_root_and_netns().then(|| Topology::new(tag))
}

pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The usual `mode tcp` defaults of the tests.
pub const TCP_DEFAULTS: &str =
    "defaults\n    mode tcp\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n";

pub fn addr(s: &str) -> SocketAddr {
    s.parse().expect("test address")
}

/// Starts Clearway in the lb namespace and waits for its listeners on `ports`.
pub fn start(topo: &Topology, config: &str, ports: &[u16]) -> Clearway {
    Clearway::start(&topo.lb, binary(), config, ports)
}

/// One PeerServer per address, named s1, s2, ... in order.
pub fn peer_servers(topo: &Topology, addrs: &[&str]) -> Vec<PeerServer> {
    addrs
        .iter()
        .enumerate()
        .map(|(i, a)| PeerServer::start(&topo.server, addr(a), &format!("s{}", i + 1)))
        .collect()
}

/// Like `peer_servers`, but each holds its connections open (30 s, or until the client
/// half-closes) before answering.
pub fn holding_servers(topo: &Topology, addrs: &[&str]) -> Vec<PeerServer> {
    addrs
        .iter()
        .enumerate()
        .map(|(i, a)| PeerServer::start_holding(&topo.server, addr(a), &format!("s{}", i + 1), Duration::from_secs(30)))
        .collect()
}

/// Half-closes (a holding PeerServer answers on EOF) and reads the answer.
pub fn read_all(mut s: std::net::TcpStream) -> String {
    use std::io::Read;
    let _ = s.shutdown(std::net::Shutdown::Write);
    s.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

/// Sends one line to `to` from the client namespace and returns the server's answer.
pub fn ask(topo: &Topology, to: &str, from: Option<&str>) -> String {
    clearway_testkit::request(
        &topo.client,
        addr(to),
        from.map(|f| f.parse().expect("ip")),
        b"hello\n",
        TIMEOUT,
    )
    .unwrap_or_else(|e| panic!("request to {to} failed: {e}"))
}

/// The `server=NAME` part of a PeerServer answer.
pub fn server_of(answer: &str) -> String {
    answer
        .split_whitespace()
        .find_map(|w| w.strip_prefix("server="))
        .unwrap_or_else(|| panic!("no server= in answer {answer:?}"))
        .to_string()
}

/// The `peer=IP:PORT` part of a PeerServer answer.
pub fn peer_of(answer: &str) -> SocketAddr {
    answer
        .split_whitespace()
        .find_map(|w| w.strip_prefix("peer="))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no peer= in answer {answer:?}"))
}

/// Polls `cond` until it holds or 10 s pass; returns whether it held (not a timing assertion:
/// the limit only bounds a test that would otherwise hang).
pub fn eventually(cond: impl FnMut() -> bool) -> bool {
    eventually_for(TIMEOUT, cond)
}

/// Like `eventually`, but gives up after `d` (for checking that something does NOT happen).
pub fn eventually_for(d: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let until = std::time::Instant::now() + d;
    while std::time::Instant::now() < until {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    cond()
}

/// Opens a connection from the client namespace, with `TIMEOUT` as its read timeout.
pub fn connect(topo: &Topology, to: &str) -> std::net::TcpStream {
    let to = addr(to);
    let s = topo
        .client
        .enter(move || std::net::TcpStream::connect_timeout(&to, TIMEOUT))
        .unwrap_or_else(|e| panic!("connect to {to}: {e}"));
    s.set_read_timeout(Some(TIMEOUT)).expect("read timeout");
    s
}

/// Opens a connection from the client namespace, sends a line and keeps it open until dropped.
pub fn hold(topo: &Topology, to: &str) -> std::net::TcpStream {
    use std::io::Write;
    let mut s = connect(topo, to);
    s.write_all(b"hello\n").expect("send");
    s
}

/// The HTTP status code curl gets for `url` from the client namespace, with `opts` before the
/// URL; "000" when it got no answer.
pub fn http_code(topo: &Topology, url: &str, opts: &[&str]) -> String {
    let mut args = vec!["-sS", "--max-time", "10", "-o", "/dev/null", "-w", "%{http_code}"];
    args.extend_from_slice(opts);
    args.push(url);
    String::from_utf8_lossy(&topo.client.exec("curl", &args).stdout).into_owned()
}

/// A mode http frontend on 192.0.2.1:PORT before one server, 198.51.100.10:80, for the
/// side-by-side tests (`clearway_and_haproxy`).
pub const HTTP_PORT_CONFIG: &str =
    "defaults\n    mode http\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n\
     frontend ft\n    bind 192.0.2.1:PORT\n    default_backend bk\n\
     backend bk\n    server s1 198.51.100.10:80\n";

/// The same config (`PORT` standing for the port) run by Clearway on port 80 and by HAProxy,
/// the oracle (`/usr/sbin/haproxy`), on port 81, both on the lb: for side-by-side tests.
pub fn clearway_and_haproxy(topo: &Topology, config: &str) -> (Clearway, Clearway) {
    let cw = start(topo, &config.replace("PORT", "80"), &[80]);
    let hap = Clearway::start(
        &topo.lb,
        Path::new("/usr/sbin/haproxy"),
        &config.replace("PORT", "81"),
        &[81],
    );
    (cw, hap)
}

/// UDP sockets on the lb's loopback at `ports`, a syslog receiver each.
pub fn udp_receivers(topo: &Topology, ports: &[u16]) -> Vec<std::net::UdpSocket> {
    ports
        .iter()
        .map(|p| {
            let s = topo
                .lb
                .enter(|| std::net::UdpSocket::bind(("127.0.0.1", *p)))
                .expect("udp");
            s.set_read_timeout(Some(TIMEOUT)).expect("read timeout");
            s
        })
        .collect()
}

/// A fresh directory for a test's sockets (`stats socket DIR/PORT.sock`); the test removes it.
pub fn socket_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(clearway_testkit::netns::unique_name(tag));
    std::fs::create_dir_all(&dir).expect("socket directory");
    dir
}

/// One statistics row of HAProxy's CSV layout: column name -> value.
pub type StatRow = std::collections::HashMap<String, String>;

/// The rows of a statistics CSV (`show stat`, a page's `;csv`), in order, each by column name.
pub fn csv_rows(csv: &str) -> Vec<StatRow> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines
        .next()
        .and_then(|h| h.strip_prefix("# "))
        .unwrap_or_else(|| panic!("no CSV header in:\n{csv}"))
        .split(',')
        .collect();
    lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            header
                .iter()
                .zip(l.split(','))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// Runs `program args`, writes `input` to its standard input and returns what it gave;
/// `missing` says which test dependency provides it when it cannot be started.
pub fn run_with_input(program: &str, args: &[&str], input: &[u8], missing: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = std::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program} ({missing}): {e}"));
    child.stdin.take().expect("stdin").write_all(input).expect("send");
    child.wait_with_output().unwrap_or_else(|e| panic!("{program}: {e}"))
}

/// Sends `line` to the stats socket at `path` with socat; returns the answer.
pub fn cli(path: &std::path::Path, line: &str) -> String {
    let to = format!("UNIX-CONNECT:{}", path.display());
    let out = run_with_input(
        "socat",
        &["-t", "5", "-", &to],
        format!("{line}\n").as_bytes(),
        "a test dependency: scripts/test installs it",
    );
    assert!(out.status.success(), "socat: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// curl in the client namespace, trusting `ca`, with `host` resolved to `ip` (port 443; `opts`
/// may add `--resolve` for others); returns (success, stdout, stderr).
pub fn curl_tls(
    topo: &clearway_testkit::Topology,
    ca: &std::path::Path,
    host: &str,
    ip: &str,
    url: &str,
    opts: &[&str],
) -> (bool, String, String) {
    let resolve = format!("{host}:443:{ip}");
    let mut args = vec![
        "-sS",
        "--max-time",
        "10",
        "--cacert",
        ca.to_str().unwrap(),
        "--resolve",
        &resolve,
    ];
    args.extend_from_slice(opts);
    args.push(url);
    let out = topo.client.exec("curl", &args);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A scripted peer in the server namespace on `addr`: each connection runs `script` (sh).
pub struct Peer(std::process::Child);

impl Peer {
    pub fn start(topo: &clearway_testkit::Topology, addr: &str, dir: &std::path::Path, script: &str) -> Peer {
        let (ip, port) = addr.rsplit_once(':').unwrap();
        let file = dir.join(format!("{ip}-{port}.sh"));
        std::fs::write(&file, script).unwrap();
        let listen = format!("TCP-LISTEN:{port},bind={ip},fork,reuseaddr");
        Peer(
            topo.server
                .spawn("socat", &[&listen, &format!("SYSTEM:sh {}", file.display())]),
        )
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
