//! Long HTTP/1 bodies moved with `splice(2)`, side by side with HAProxy (`option
//! splice-request`, `option splice-response`): a 1 MB upload and a 1 MB download on one
//! keep-alive connection arrive whole and the connection serves again; a body that runs until
//! the server closes goes out as it came, closing the client's connection; the h1 module's
//! spliced byte counters and the byte counters move; a server that stalls or dies in the
//! middle of a spliced body ends the client's connection rather than hang it.

mod common;
use common::http::DEFAULTS;
use common::*;
use std::io::{BufRead, BufReader, Read, Write};

const MB: usize = 1 << 20;

/// The test bodies' bytes: position modulo a prime, so a byte lost, doubled or moved shows.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// An HTTP/1.1 server on 198.51.100.10:80 that keeps its connections: `POST /up` answers
/// `ok LEN` when the body is the pattern (`bad` otherwise); `GET /down/N` sends N bytes of
/// the pattern with their length; `GET /close/N` sends them without a length, then closes;
/// `GET /stall/N` and `GET /die/N` announce N bytes, send a third of them, then wait for
/// good or close.
fn server(topo: &clearway_testkit::Topology) {
    let l = topo
        .server
        .enter(|| std::net::TcpListener::bind("198.51.100.10:80"))
        .expect("bind the test server");
    std::thread::spawn(move || {
        for c in l.incoming().flatten() {
            std::thread::spawn(move || serve(c));
        }
    });
}

fn serve(c: std::net::TcpStream) {
    let mut w = c.try_clone().expect("clone");
    let mut r = BufReader::new(c);
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut len = 0usize;
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            if h == "\r\n" {
                break;
            }
            if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0u8; len];
        if r.read_exact(&mut body).is_err() {
            return;
        }
        let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
        let n = |p: &str| path.strip_prefix(p).and_then(|n| n.parse::<usize>().ok()).unwrap_or(0);
        let sent = if path == "/up" {
            let answer = if body == pattern(len) {
                format!("ok {len}")
            } else {
                "bad".into()
            };
            w.write_all(format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{answer}", answer.len()).as_bytes())
        } else if path.starts_with("/down/") {
            let len = n("/down/");
            w.write_all(format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\n\r\n").as_bytes())
                .and_then(|_| w.write_all(&pattern(len)))
        } else if path.starts_with("/close/") {
            let _ = w.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n");
            let _ = w.write_all(&pattern(n("/close/")));
            return;
        } else if path.starts_with("/stall/") || path.starts_with("/die/") {
            let len = n("/stall/").max(n("/die/"));
            let _ = w.write_all(format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\n\r\n").as_bytes());
            let _ = w.write_all(&pattern(len / 3));
            if path.starts_with("/stall/") {
                // Longer than the client's read timeout: only `timeout server` ends it.
                std::thread::sleep(std::time::Duration::from_secs(30));
            }
            return;
        } else {
            w.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
        };
        if sent.is_err() {
            return;
        }
    }
}

/// Reads one response: its head (lower case) and its body, by its length or to the
/// connection's end (also when the connection ends early).
fn response(r: &mut BufReader<std::net::TcpStream>) -> (String, Vec<u8>) {
    let mut head = String::new();
    loop {
        let mut l = String::new();
        if r.read_line(&mut l).unwrap_or(0) == 0 || l == "\r\n" {
            break;
        }
        head.push_str(&l.to_ascii_lowercase());
    }
    let len = head.lines().find_map(|l| {
        l.strip_prefix("content-length:")
            .map(|v| v.trim().parse::<usize>().unwrap())
    });
    let mut body = Vec::new();
    match len {
        Some(n) => {
            body.resize(n, 0);
            let mut got = 0;
            while got < n {
                match r.read(&mut body[got..]) {
                    Ok(0) | Err(_) => break,
                    Ok(k) => got += k,
                }
            }
            body.truncate(got);
        }
        None => {
            let _ = r.read_to_end(&mut body);
        }
    }
    (head, body)
}

/// A counter of a `show stat typed` answer: `F` or `B` rows of proxy `iid`.
fn typed(out: &str, kind: char, iid: u32, name: &str) -> u64 {
    out.lines()
        .find_map(|l| {
            let (key, rest) = l.split_once(':')?;
            let mut k = key.split('.');
            let ok = k.next()? == kind.to_string() && k.next()? == iid.to_string() && k.nth(2)? == name;
            ok.then(|| rest.rsplit(':').next()?.parse().ok())?
        })
        .unwrap_or_else(|| panic!("no {kind}.{iid} {name} in:\n{out}"))
}

fn config(dir: &std::path::Path) -> String {
    format!(
        "global\n    stats socket {d}/PORT.sock level admin\n{DEFAULTS}    option splice-request\n    option splice-response\n\
         frontend fe\n    bind 192.0.2.1:PORT\n    id 10\n    default_backend be\n\
         backend be\n    id 20\n    timeout server 1s\n    server s1 198.51.100.10:80\n",
        d = dir.display()
    )
}

#[test]
fn long_bodies_go_socket_to_socket_both_ways_as_in_haproxy() {
    let Some(topo) = topology("splice") else { return };
    server(&topo);
    let dir = socket_dir("splice");
    let (_cw, _hap) = clearway_and_haproxy(&topo, &config(&dir));
    for (who, port) in [("clearway", 80), ("haproxy", 81)] {
        let c = connect(&topo, &format!("192.0.2.1:{port}"));
        let mut w = c.try_clone().unwrap();
        let mut r = BufReader::new(c);
        // A 1 MB upload reaches the server whole.
        w.write_all(format!("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: {MB}\r\n\r\n").as_bytes())
            .unwrap();
        w.write_all(&pattern(MB)).unwrap();
        let (head, body) = response(&mut r);
        assert!(head.starts_with("http/1.1 200"), "{who}: {head}");
        assert_eq!(String::from_utf8_lossy(&body), format!("ok {MB}"), "{who}");
        // A 1 MB download, then a small one on the same connection: each arrives whole.
        for len in [MB, 10, 3 * MB / 2] {
            w.write_all(format!("GET /down/{len} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
                .unwrap();
            let (head, body) = response(&mut r);
            assert!(head.starts_with("http/1.1 200"), "{who} {len}: {head}");
            assert!(body == pattern(len), "{who}: {len} bytes asked, {} came", body.len());
        }
        // A body that runs until the server closes goes out as it came, closing the client's
        // connection (HAProxy neither re-chunks it nor keeps the connection).
        w.write_all(b"GET /close/300000 HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let (head, body) = response(&mut r);
        assert!(head.contains("connection: close"), "{who}: {head}");
        assert!(!head.contains("transfer-encoding"), "{who}: {head}");
        assert!(body == pattern(300_000), "{who}: {} bytes", body.len());
    }
    // Both counted what they spliced, each way, on both sides.
    for port in [80, 81] {
        let out = cli(&dir.join(format!("{port}.sock")), "show stat typed");
        for (kind, iid) in [('F', 10), ('B', 20)] {
            for name in ["h1_spliced_bytes_in", "h1_spliced_bytes_out"] {
                assert!(
                    typed(&out, kind, iid, name) > 0,
                    "port {port}: {kind}.{iid} {name}:\n{out}"
                );
            }
        }
    }
    // Clearway's figures: all but the first bytes of each long body were spliced, and the
    // byte counters have them too.
    let out = cli(&dir.join("80.sock"), "show stat typed");
    let down = (MB + 3 * MB / 2 + 300_000) as u64;
    assert!(typed(&out, 'F', 10, "h1_spliced_bytes_in") >= (MB / 2) as u64, "{out}");
    assert!(typed(&out, 'B', 20, "h1_spliced_bytes_out") >= (MB / 2) as u64, "{out}");
    assert!(typed(&out, 'F', 10, "h1_spliced_bytes_out") >= down / 2, "{out}");
    assert!(typed(&out, 'B', 20, "h1_spliced_bytes_in") >= down / 2, "{out}");
    assert!(typed(&out, 'F', 10, "bin") >= MB as u64, "{out}");
    assert!(typed(&out, 'F', 10, "bout") >= down, "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_spliced_body_whose_server_stalls_or_dies_ends_the_client_connection_as_in_haproxy() {
    let Some(topo) = topology("splcut") else { return };
    server(&topo);
    let dir = socket_dir("splcut");
    let (_cw, _hap) = clearway_and_haproxy(&topo, &config(&dir));
    for (who, port) in [("clearway", 80), ("haproxy", 81)] {
        for path in ["/stall/3000000", "/die/3000000"] {
            let c = connect(&topo, &format!("192.0.2.1:{port}"));
            let mut w = c.try_clone().unwrap();
            let mut r = BufReader::new(c);
            w.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
                .unwrap();
            let (head, body) = response(&mut r);
            assert!(head.starts_with("http/1.1 200"), "{who} {path}: {head}");
            // What the server sent came, then the connection's end: for the stalled server,
            // by `timeout server` (1s), well before the client's read timeout (10s), which
            // would show as an error here.
            assert_eq!(body.len(), 1_000_000, "{who} {path}");
            assert!(body == pattern(1_000_000), "{who} {path}");
            let mut more = [0u8; 16];
            assert_eq!(r.read(&mut more).map_err(|e| e.kind()), Ok(0), "{who} {path}: closed");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
