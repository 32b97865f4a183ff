//! Small real servers of our own, listening inside a namespace: one that answers with the
//! peer address it sees (to check what a server sees through the proxy), and an echo server
//! (to check half-close). Each stops when dropped; they must not assert anything themselves.

use crate::netns::Netns;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Shared bookkeeping of a server.
#[derive(Debug, Default)]
struct Stats {
    peers: Mutex<Vec<SocketAddr>>,
    count: AtomicUsize,
    active: AtomicUsize,
    max_active: AtomicUsize,
}

/// The accept loop of a server; stops when `stop` is set (woken by a connection to itself).
#[derive(Debug)]
struct Running {
    addr: SocketAddr,
    ns_name: String,
    stop: Arc<AtomicBool>,
    stats: Arc<Stats>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    /// `handle` gets the connection, the peer, and a function to call when the connection stops
    /// counting as active (called anyway when `handle` returns).
    fn start(
        ns: &Netns,
        addr: SocketAddr,
        handle: impl Fn(TcpStream, SocketAddr, &dyn Fn()) + Send + Sync + 'static,
        stats: Arc<Stats>,
    ) -> Running {
        let listener = ns
            .enter(|| TcpListener::bind(addr))
            .unwrap_or_else(|e| panic!("bind {addr} in {}: {e}", ns.name()));
        let stop = Arc::new(AtomicBool::new(false));
        let handle = Arc::new(handle);
        let (stop2, stats2) = (stop.clone(), stats.clone());
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let Ok(peer) = conn.peer_addr() else { continue };
                stats2.peers.lock().unwrap_or_else(|p| p.into_inner()).push(peer);
                stats2.count.fetch_add(1, Ordering::SeqCst);
                let now = stats2.active.fetch_add(1, Ordering::SeqCst) + 1;
                stats2.max_active.fetch_max(now, Ordering::SeqCst);
                let (handle, stats3) = (handle.clone(), stats2.clone());
                std::thread::spawn(move || {
                    let done = AtomicBool::new(false);
                    let finish = || {
                        if !done.swap(true, Ordering::SeqCst) {
                            stats3.active.fetch_sub(1, Ordering::SeqCst);
                        }
                    };
                    handle(conn, peer, &finish);
                    finish();
                });
            }
        });
        Running {
            addr,
            ns_name: ns.name().to_string(),
            stop,
            stats,
            thread: Some(thread),
        }
    }
}

impl Running {
    fn peers(&self) -> Vec<SocketAddr> {
        self.stats.peers.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop with a connection from inside the namespace.
        let addr = self.addr;
        let path = format!("/run/netns/{}", self.ns_name);
        let _ = std::thread::spawn(move || {
            if let Ok(f) = std::fs::File::open(&path) {
                if nix::sched::setns(f, nix::sched::CloneFlags::CLONE_NEWNET).is_ok() {
                    let _ = TcpStream::connect_timeout(&addr, Duration::from_secs(1));
                }
            }
        })
        .join();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Answers each connection with `server=NAME peer=IP:PORT` (as an HTTP response when the
/// request is HTTP), then closes.
#[derive(Debug)]
pub struct PeerServer {
    running: Running,
}

impl PeerServer {
    pub fn start(ns: &Netns, addr: SocketAddr, name: &str) -> PeerServer {
        Self::start_holding(ns, addr, name, Duration::ZERO)
    }

    /// Like `start`, but each connection is held open before the answer, for `hold` or until
    /// the client half-closes: keeps connections busy for maxconn and leastconn tests.
    pub fn start_holding(ns: &Netns, addr: SocketAddr, name: &str, hold: Duration) -> PeerServer {
        let name = name.to_string();
        let stats = Arc::new(Stats::default());
        let running = Running::start(
            ns,
            addr,
            move |conn, peer, done| answer_peer(conn, peer, &name, hold, done),
            stats,
        );
        PeerServer { running }
    }

    pub fn peers(&self) -> Vec<SocketAddr> {
        self.running.peers()
    }
    pub fn count(&self) -> usize {
        self.running.stats.count.load(Ordering::SeqCst)
    }
    pub fn active(&self) -> usize {
        self.running.stats.active.load(Ordering::SeqCst)
    }
    pub fn max_active(&self) -> usize {
        self.running.stats.max_active.load(Ordering::SeqCst)
    }
}

fn answer_peer(conn: TcpStream, peer: SocketAddr, name: &str, hold: Duration, done: &dyn Fn()) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(match conn.try_clone() {
        Ok(c) => c,
        Err(_) => return,
    });
    let mut first = String::new();
    let _ = reader.read_line(&mut first);
    let http = ["GET ", "HEAD ", "POST ", "PUT ", "DELETE ", "OPTIONS "]
        .iter()
        .any(|m| first.starts_with(m));
    if http {
        let mut line = String::new();
        while reader.read_line(&mut line).map(|n| n > 0).unwrap_or(false) && line.trim_end() != "" {
            line.clear();
        }
    }
    if !hold.is_zero() {
        // Wait for the hold time or the client's FIN, whichever comes first.
        let _ = conn.set_read_timeout(Some(hold));
        let mut sink = [0u8; 64];
        loop {
            match reader.read(&mut sink) {
                Ok(0) | Err(_) => break,
                Ok(_) => continue,
            }
        }
    }
    // No longer active from here: the proxy cannot see the connection end before this point.
    done();
    let body = format!("server={name} peer={peer}\n");
    let mut out = &conn;
    let _ = if http {
        write!(
            out,
            "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    } else {
        out.write_all(body.as_bytes())
    };
    let _ = conn.shutdown(Shutdown::Both);
}

/// Echoes bytes back until the client half-closes, then half-closes too.
#[derive(Debug)]
pub struct EchoServer {
    running: Running,
}

impl EchoServer {
    pub fn start(ns: &Netns, addr: SocketAddr) -> EchoServer {
        let stats = Arc::new(Stats::default());
        let running = Running::start(
            ns,
            addr,
            |mut conn, _, _| {
                let mut buf = [0u8; 16384];
                loop {
                    match conn.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if conn.write_all(&buf[..n]).is_err() {
                                return;
                            }
                        }
                    }
                }
                let _ = conn.shutdown(Shutdown::Write);
            },
            stats,
        );
        EchoServer { running }
    }
    pub fn count(&self) -> usize {
        self.running.stats.count.load(Ordering::SeqCst)
    }
}

/// Answers every HTTP request with a status and body that the test can change at any time:
/// a stand-in for a health endpoint (e.g. Galera's clustercheck on port 9200).
#[derive(Debug)]
pub struct HttpStatusServer {
    running: Running,
    reply: Arc<Mutex<(u16, String)>>,
}

impl HttpStatusServer {
    pub fn start(ns: &Netns, addr: SocketAddr, status: u16, body: &str) -> HttpStatusServer {
        let reply = Arc::new(Mutex::new((status, body.to_string())));
        let shared = reply.clone();
        let running = Running::start(
            ns,
            addr,
            move |conn, _, _| {
                let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
                let mut reader = BufReader::new(match conn.try_clone() {
                    Ok(c) => c,
                    Err(_) => return,
                });
                let mut line = String::new();
                while reader.read_line(&mut line).map(|n| n > 0).unwrap_or(false) && line.trim_end() != "" {
                    line.clear();
                }
                let (status, body) = shared.lock().unwrap_or_else(|p| p.into_inner()).clone();
                let mut out = &conn;
                let _ = write!(
                    out,
                    "HTTP/1.1 {status} Status\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = conn.shutdown(Shutdown::Both);
            },
            Arc::new(Stats::default()),
        );
        HttpStatusServer { running, reply }
    }

    /// Changes what the next requests get.
    pub fn set(&self, status: u16, body: &str) {
        *self.reply.lock().unwrap_or_else(|p| p.into_inner()) = (status, body.to_string());
    }

    pub fn count(&self) -> usize {
        self.running.stats.count.load(Ordering::SeqCst)
    }
}

/// An HTTP/1.1 server with keep-alive that answers each request with what it saw, one fact a
/// line: `server=NAME`, `peer=IP:PORT`, `conn=N` (its connection number, from 1),
/// `req=N` (the request's number on that connection, from 1), `line=METHOD TARGET VERSION`,
/// then `h:NAME: VALUE` for each header as received, then `body_len=N` and `body_sum=N` (a
/// checksum) of the request body, which may come with `Content-Length` or chunked. It answers
/// `Connection: close` requests by closing, and a request with an `Upgrade` header with
/// `101 Switching Protocols`, then echoes bytes (a stand-in for WebSocket). The 101 carries
/// `X-Seen-Line` (the request line) and `X-Seen-Key` (the `Sec-WebSocket-Key` received, or
/// `-`), and answers a key with its `Sec-WebSocket-Accept`, except for targets
/// `/ws-noaccept...` (none) and `/ws-badaccept...` (a wrong one). The answer's own
/// framing follows the target: `/chunked...` is sent chunked (with a chunk extension and a
/// trailer), `/close...` without a length, then the connection closes, `/hop...` with
/// hop-by-hop fields among the others (`/hop-named...`: one more, named by `Connection`); a
/// HEAD gets the head only.
#[derive(Debug)]
pub struct HttpEchoServer {
    running: Running,
}

impl HttpEchoServer {
    pub fn start(ns: &Netns, addr: SocketAddr, name: &str) -> HttpEchoServer {
        HttpEchoServer::start_with_idle(ns, addr, name, Duration::from_secs(30))
    }

    /// Like `start`, closing a connection that stays idle for `idle`, as servers' keep-alive
    /// timeouts do.
    pub fn start_with_idle(ns: &Netns, addr: SocketAddr, name: &str, idle: Duration) -> HttpEchoServer {
        let name = name.to_string();
        let conns = Arc::new(AtomicUsize::new(0));
        let running = Running::start(
            ns,
            addr,
            move |conn, peer, _| {
                let n = conns.fetch_add(1, Ordering::SeqCst) + 1;
                echo_http(conn, peer, &name, n, idle);
            },
            Arc::new(Stats::default()),
        );
        HttpEchoServer { running }
    }

    /// Connections accepted so far.
    pub fn count(&self) -> usize {
        self.running.stats.count.load(Ordering::SeqCst)
    }

    /// The peer address of every connection, in order.
    pub fn peers(&self) -> Vec<SocketAddr> {
        self.running.peers()
    }
}

fn echo_http(conn: TcpStream, peer: SocketAddr, name: &str, conn_no: usize, idle: Duration) {
    let _ = conn.set_read_timeout(Some(idle));
    let Ok(clone) = conn.try_clone() else { return };
    let mut reader = BufReader::new(clone);
    for req_no in 1.. {
        let mut line = String::new();
        if reader.read_line(&mut line).map(|n| n == 0).unwrap_or(true) {
            return;
        }
        let mut body = format!(
            "server={name}\npeer={peer}\nconn={conn_no}\nreq={req_no}\nline={}\n",
            line.trim_end()
        );
        let (mut len, mut close) = (0usize, line.trim_end().ends_with("HTTP/1.0"));
        let (mut chunked, target) = (false, line.split(' ').nth(1).unwrap_or("/").to_string());
        let mut upgrade: Option<String> = None;
        let mut ws_key: Option<String> = None;
        // `X-Reply-Header: NAME: VALUE` (any number): header lines of the (plain) answer.
        let mut extra = String::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).map(|n| n == 0).unwrap_or(true) {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            body.push_str(&format!("h:{h}\n"));
            if let Some((k, v)) = h.split_once(':') {
                let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
                if k == "content-length" {
                    len = v.parse().unwrap_or(0);
                }
                if k == "connection" {
                    close = v.eq_ignore_ascii_case("close");
                }
                if k == "upgrade" {
                    upgrade = Some(v.to_string());
                }
                if k == "sec-websocket-key" {
                    ws_key = Some(v.to_string());
                }
                if k == "x-reply-header" {
                    extra.push_str(v);
                    extra.push_str("\r\n");
                }
                if k == "transfer-encoding" {
                    chunked = v.eq_ignore_ascii_case("chunked");
                }
            }
        }
        let received = if chunked {
            read_chunked(&mut reader)
        } else {
            let mut b = vec![0u8; len];
            reader.read_exact(&mut b).ok().map(|_| b)
        };
        let Some(received) = received else { return };
        let sum = received
            .iter()
            .fold(0u32, |a, &b| a.wrapping_mul(31).wrapping_add(u32::from(b)));
        body.push_str(&format!("body_len={}\nbody_sum={sum}\n", received.len()));
        let mut out = &conn;
        if let Some(proto) = upgrade {
            // Switch protocols, then echo bytes until the client half-closes.
            let accept = match (&ws_key, target.as_str()) {
                (Some(_), t) if t.starts_with("/ws-noaccept") => String::new(),
                (Some(_), t) if t.starts_with("/ws-badaccept") => "Sec-WebSocket-Accept: d3Jvbmc=\r\n".to_string(),
                (Some(k), _) => format!("Sec-WebSocket-Accept: {}\r\n", websocket_accept(k)),
                (None, _) => String::new(),
            };
            if write!(
                out,
                "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: {proto}\r\n{accept}\
                 X-Seen-Line: {}\r\nX-Seen-Key: {}\r\n\r\n",
                line.trim_end(),
                ws_key.as_deref().unwrap_or("-")
            )
            .is_err()
            {
                return;
            }
            let mut buf = [0u8; 4096];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) if out.write_all(&buf[..n]).is_ok() => {}
                    Ok(_) => break,
                }
            }
            let _ = conn.shutdown(Shutdown::Both);
            return;
        }
        // `/sleep-MS...`: a slow server, answering after MS milliseconds.
        if let Some(ms) = target
            .strip_prefix("/sleep-")
            .and_then(|t| t.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse::<u64>().ok())
        {
            std::thread::sleep(Duration::from_millis(ms));
        }
        let head_only = line.starts_with("HEAD ");
        let ok = if target.starts_with("/chunked") {
            let mut answer = String::from(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nServer: echo\r\nTransfer-Encoding: chunked\r\n",
            );
            if close {
                answer.push_str("Connection: close\r\n");
            }
            answer.push_str("\r\n");
            for (i, piece) in body.as_bytes().chunks(7).enumerate() {
                let ext = if i == 0 { ";x=1" } else { "" };
                answer.push_str(&format!(
                    "{:x}{ext}\r\n{}\r\n",
                    piece.len(),
                    String::from_utf8_lossy(piece)
                ));
            }
            answer.push_str("0\r\nX-Trailer: t\r\n\r\n");
            out.write_all(answer.as_bytes())
        } else if target.starts_with("/hop") {
            // Hop-by-hop fields among the others, as a proxy must not forward them; with
            // `/hop-named`, the Connection field names one more (`X-Private`).
            let named = target.starts_with("/hop-named");
            write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nKeep-Alive: timeout=5\r\nX-Kept: 1\r\n\
                 Proxy-Connection: keep-alive\r\nContent-Length: {}\r\nConnection: keep-alive{}\r\n{}Server: echo\r\n\r\n{}",
                body.len(),
                if named { ", X-Private" } else { "" },
                if named { "X-Private: secret\r\n" } else { "" },
                if head_only { "" } else { body.as_str() }
            )
        } else if let Some(ms) = target.strip_prefix("/stall-").and_then(|t| t.parse::<u64>().ok()) {
            // `/stall-MS`: the head and half the body, then MS milliseconds of silence.
            let (first, rest) = body.as_bytes().split_at(body.len() / 2);
            write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nServer: echo\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .and_then(|()| out.write_all(first))
            .and_then(|()| out.flush())
            .and_then(|()| {
                std::thread::sleep(Duration::from_millis(ms));
                out.write_all(rest)
            })
        } else if target.starts_with("/close") {
            close = true;
            write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nServer: echo\r\n\r\n{body}"
            )
        } else {
            write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nServer: echo\r\nContent-Length: {}\r\n{extra}{}\r\n{}",
                body.len(),
                if close { "Connection: close\r\n" } else { "" },
                if head_only { "" } else { body.as_str() }
            )
        };
        if ok.is_err() || close {
            let _ = conn.shutdown(Shutdown::Both);
            return;
        }
    }
}

/// A chunked request body, decoded (trailers skipped); None when it is malformed or cut.
fn read_chunked(reader: &mut impl BufRead) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let mut size = String::new();
        reader.read_line(&mut size).ok()?;
        let size = usize::from_str_radix(size.trim_end().split(';').next()?.trim(), 16).ok()?;
        if size == 0 {
            loop {
                let mut t = String::new();
                if reader.read_line(&mut t).ok()? == 0 || t.trim_end().is_empty() {
                    return Some(out);
                }
            }
        }
        let start = out.len();
        out.resize(start + size, 0);
        reader.read_exact(&mut out[start..]).ok()?;
        let mut crlf = [0u8; 2];
        reader.read_exact(&mut crlf).ok()?;
    }
}

/// An HTTP/1.1 server that records each request it reads, as a typical origin server frames
/// it (a chunked Transfer-Encoding wins over Content-Length), and answers each with `200`
/// and the body `ok`, keeping the connection open. A record reads
/// `METHOD TARGET host=HOST body=BODY` (`host=-` without a Host field): the request line and
/// host that decide what the server does, and the body it got. On bytes it cannot frame it
/// closes the connection. Lets a test see exactly which requests a proxy let through.
#[derive(Debug)]
pub struct RecordingHttpServer {
    running: Running,
    records: Arc<Mutex<Vec<String>>>,
}

impl RecordingHttpServer {
    pub fn start(ns: &Netns, addr: SocketAddr) -> RecordingHttpServer {
        let records = Arc::new(Mutex::new(Vec::new()));
        let r = records.clone();
        let running = Running::start(
            ns,
            addr,
            move |conn, _, _| record_http(conn, &r),
            Arc::new(Stats::default()),
        );
        RecordingHttpServer { running, records }
    }

    /// The requests recorded since the last call, taken.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.records.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Connections accepted so far.
    pub fn count(&self) -> usize {
        self.running.stats.count.load(Ordering::SeqCst)
    }
}

fn record_http(conn: TcpStream, records: &Mutex<Vec<String>>) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
    let Ok(mut out) = conn.try_clone() else { return };
    let mut r = BufReader::new(conn);
    let line = |r: &mut BufReader<TcpStream>| -> Option<String> {
        let mut l = Vec::new();
        r.read_until(b'\n', &mut l).ok().filter(|n| *n > 0)?;
        Some(String::from_utf8_lossy(&l).trim_end_matches(['\r', '\n']).to_string())
    };
    while let Some(start) = line(&mut r) {
        let mut fields = Vec::new();
        loop {
            let Some(l) = line(&mut r) else { return };
            if l.is_empty() {
                break;
            }
            let Some((k, v)) = l.split_once(':') else { return };
            fields.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
        let get = |n: &str| fields.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        let mut body = Vec::new();
        if get("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().ends_with("chunked")) {
            loop {
                let Some(size) = line(&mut r) else { return };
                let Ok(n) = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16) else {
                    return;
                };
                if n == 0 {
                    // Trailers, up to the empty line.
                    while line(&mut r).is_some_and(|l| !l.is_empty()) {}
                    break;
                }
                let mut chunk = vec![0; n + 2];
                if r.read_exact(&mut chunk).is_err() {
                    return;
                }
                body.extend_from_slice(&chunk[..n]);
            }
        } else if let Some(n) = get("content-length") {
            let Ok(n) = n.parse::<usize>() else { return };
            body.resize(n, 0);
            if r.read_exact(&mut body).is_err() {
                return;
            }
        }
        let mut words = start.split(' ');
        let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
        let host = get("host").unwrap_or_else(|| "-".into());
        let rec = format!("{method} {target} host={host} body={}", String::from_utf8_lossy(&body));
        records.lock().unwrap_or_else(|p| p.into_inner()).push(rec);
        if out
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            .is_err()
        {
            return;
        }
    }
}

/// The `Sec-WebSocket-Accept` value that answers a WebSocket key (RFC 6455 section 4.2.2).
pub fn websocket_accept(key: &str) -> String {
    use base64::Engine as _;
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY);
    ctx.update(key.as_bytes());
    ctx.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    base64::engine::general_purpose::STANDARD.encode(ctx.finish())
}
