//! `stick on|match|store-request|store-response` side by side with HAProxy: clients kept on
//! the server they first reached (by source address in mode tcp, by a session cookie the
//! server set in mode http), what `show table` says of the entries, a server in maintenance
//! and back, `non-stick`, a table of another backend, and the lines refused.

mod common;
use common::http::{echo, values, DEFAULTS};
use common::*;
use std::io::Write;

/// The `show table NAME` lines of entries, without what differs between processes (the
/// entry's address and the ms before it expires).
fn entries(sock: &std::path::Path, table: &str) -> Vec<String> {
    cli(sock, &format!("show table {table}"))
        .lines()
        .filter(|l| l.starts_with("0x"))
        .map(|l| {
            l.split_whitespace()
                .skip(1)
                .filter(|w| !w.starts_with("exp="))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

const TCP: &str = "global\n    stats socket DIR/PORT.sock level admin\n{TCP_DEFAULTS}\
    listen l\n    bind 192.0.2.1:PORT\n    balance roundrobin\n\
    \x20   stick-table type ip size 10 expire 10m store conn_cnt\n    stick on src\n\
    \x20   server s1 198.51.100.10:9000\n    server s2 198.51.100.11:9000 id 7\n";

#[test]
fn stick_on_src_keeps_each_client_on_its_server_as_haproxy_does() {
    let Some(topo) = topology("stks") else { return };
    let _srv = peer_servers(&topo, &["198.51.100.10:9000", "198.51.100.11:9000"]);
    let dir = socket_dir("stks");
    let cfg = TCP
        .replace("{TCP_DEFAULTS}", TCP_DEFAULTS)
        .replace("DIR", &dir.display().to_string());
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    let mut seen = Vec::new();
    for port in [80u16, 81] {
        let sock = dir.join(format!("{port}.sock"));
        let to = format!("192.0.2.1:{port}");
        let on = |from: &str| server_of(&ask(&topo, &to, Some(from)));
        let mut got = Vec::new();
        // Round robin deals the first connection of each client; the entry keeps it.
        let first = [on("192.0.2.2"), on("192.0.2.3")];
        assert_ne!(first[0], first[1], "{port}: round robin alternates");
        for _ in 0..4 {
            assert_eq!([on("192.0.2.2"), on("192.0.2.3")], first, "{port}");
        }
        got.push(first.to_vec());
        let id = |s: &str| if s == "s1" { "1" } else { "7" };
        assert_eq!(
            entries(&sock, "l"),
            [
                format!(
                    "key=192.0.2.2 use=0 server_id={} conn_cnt=0 server_key={}",
                    id(&first[0]),
                    first[0]
                ),
                format!(
                    "key=192.0.2.3 use=0 server_id={} conn_cnt=0 server_key={}",
                    id(&first[1]),
                    first[1]
                ),
            ],
            "{port}"
        );
        // Its server in maintenance, a client is balanced anew and stays on the new one,
        // also once the old one is back.
        cli(&sock, &format!("disable server l/{}", first[0]));
        let moved = on("192.0.2.2");
        assert_eq!(moved, first[1], "{port}");
        cli(&sock, &format!("enable server l/{}", first[0]));
        assert_eq!(on("192.0.2.2"), moved, "{port}");
        got.push(vec![moved]);
        // A cleared entry is dealt again.
        cli(&sock, "clear table l key 192.0.2.2");
        assert_eq!(entries(&sock, "l").len(), 1, "{port}");
        seen.push(got);
    }
    assert_eq!(seen[0], seen[1], "Clearway, then HAProxy");
    let _ = std::fs::remove_dir_all(&dir);
}

const HTTP: &str = "global\n    stats socket DIR/PORT.sock level admin\n{DEFAULTS}\
    frontend f\n    bind 192.0.2.1:PORT\n    use_backend byhdr if { path_beg /hdr }\n    default_backend learn\n\
    backend learn\n    balance roundrobin\n\
    \x20   stick-table type string len 32 size 100 expire 1m\n\
    \x20   stick match req.cook(sid)\n    stick store-response res.cook(sid)\n\
    \x20   server s1 198.51.100.10:80\n    server s2 198.51.100.11:80\n\
    backend byhdr\n    balance roundrobin\n\
    \x20   stick on req.hdr(x-user) table users if { req.hdr(x-user) -m found }\n\
    \x20   server s1 198.51.100.10:80\n    server s2 198.51.100.11:80 non-stick\n\
    backend users\n    stick-table type string size 10\n";

/// The server that answered a request with these header lines.
fn served(topo: &clearway_testkit::Topology, port: u16, path: &str, extra: &[&str]) -> String {
    let mut s = connect(topo, &format!("192.0.2.1:{port}"));
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: lb.test\r\nConnection: close\r\n");
    for h in extra {
        req.push_str(h);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).expect("send");
    let answer = read_all(s);
    values(&answer, "server").join("")
}

#[test]
fn stick_rules_learn_sessions_from_responses_as_haproxy_does() {
    let Some(topo) = topology("stkh") else { return };
    let _w1 = echo(&topo, "198.51.100.10:80", "s1");
    let _w2 = echo(&topo, "198.51.100.11:80", "s2");
    let dir = socket_dir("stkh");
    let cfg = HTTP
        .replace("{DEFAULTS}", DEFAULTS)
        .replace("DIR", &dir.display().to_string());
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    let mut seen = Vec::new();
    for port in [80u16, 81] {
        let sock = dir.join(format!("{port}.sock"));
        let get = |path: &str, extra: &[&str]| served(&topo, port, path, extra);
        let mut got = Vec::new();
        // The servers hand out session cookies; the table learns which server holds each.
        let a = get("/", &["X-Reply-Header: Set-Cookie: sid=A; Path=/"]);
        let b = get("/", &["X-Reply-Header: Set-Cookie: sid=B; Path=/"]);
        assert_ne!(a, b, "{port}");
        // Runs of one session (round robin alone would alternate).
        for (sid, server) in [("A", &a), ("B", &b)] {
            for _ in 0..3 {
                assert_eq!(&get("/", &[&format!("Cookie: sid={sid}")]), server, "{port}");
            }
        }
        // An unknown session is balanced.
        let unknown = [get("/", &["Cookie: sid=Z"]), get("/", &["Cookie: sid=Z"])];
        assert_ne!(unknown[0], unknown[1], "{port}");
        got.push([a.clone(), b.clone()].to_vec());
        let mut learned = entries(&sock, "learn");
        learned.sort();
        let id = |s: &str| if s == "s1" { "1" } else { "2" };
        assert_eq!(
            learned,
            [
                format!("key=A use=0 server_id={} server_key={a}", id(&a)),
                format!("key=B use=0 server_id={} server_key={b}", id(&b)),
            ],
            "{port}"
        );
        // A table of another backend; a `non-stick` server is never stored, so its users
        // are balanced on.
        let users: Vec<String> = (0..4).map(|_| get("/hdr", &["X-User: ann"])).collect();
        got.push(users.clone());
        let stuck = entries(&sock, "users");
        if users[0] == "s1" {
            assert!(users.iter().all(|u| u == "s1"), "{port}: {users:?}");
            assert_eq!(stuck, ["key=ann use=0 server_id=1 server_key=s1"], "{port}");
        } else {
            assert_eq!(users[1], "s1", "{port}: {users:?}");
            assert!(users[2..].iter().all(|u| u == "s1"), "{port}: {users:?}");
        }
        seen.push(got);
    }
    assert_eq!(seen[0], seen[1], "Clearway, then HAProxy");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn stick_lines_that_cannot_work_are_refused() {
    for (cfg, needle) in [
        (
            "frontend f\n bind :1\n stick on src\n default_backend b\nbackend b\n stick-table type ip size 1\n server s 127.0.0.1:1\n",
            "'stick'",
        ),
        (
            "defaults\n stick on src\nbackend b\n stick-table type ip size 1\n server s 127.0.0.1:1\n",
            "not allowed in a 'defaults' section",
        ),
        (
            "backend b\n mode tcp\n stick-table type ip size 1\n stick store-response src\n server s 127.0.0.1:1\n",
            "'stick store-response' in mode tcp is not supported yet",
        ),
        (
            "backend b\n stick on src table nope\n server s 127.0.0.1:1\n",
            "no stick-table named 'nope'",
        ),
        (
            "backend b\n stick-table type ip size 1\n stick on src\n server s 127.0.0.1:1 id 3\n server t 127.0.0.1:2 id 3\n",
            "same 'id'",
        ),
        (
            "backend b\n stick-table type ip size 1\n stick sideways src\n server s 127.0.0.1:1\n",
            "is not a stick rule",
        ),
        (
            "backend b\n stick-table type ip size 1\n stick on src when\n server s 127.0.0.1:1\n",
            "unexpected 'when'",
        ),
    ] {
        let dir = socket_dir("stkc");
        let path = dir.join("c.cfg");
        std::fs::write(&path, cfg).unwrap();
        let out = std::process::Command::new(binary())
            .args(["-c", "-f"])
            .arg(&path)
            .output()
            .expect("run clearway -c");
        let text = String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
        assert!(!out.status.success(), "{cfg}: accepted\n{text}");
        assert!(text.contains(needle), "{cfg}: {text}");
        assert!(text.contains("c.cfg:"), "{cfg}: no file:line in {text}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn http_errors_and_failures_count_on_tracked_entries_as_haproxy() {
    let Some(topo) = topology("stkerr") else { return };
    let _nf = clearway_testkit::HttpStatusServer::start(&topo.server, addr("198.51.100.10:80"), 404, "none");
    let _bad = clearway_testkit::HttpStatusServer::start(&topo.server, addr("198.51.100.11:80"), 503, "down");
    let dir = socket_dir("stkerr");
    let cfg = format!(
        "global\n    stats socket {}/PORT.sock level admin\n{DEFAULTS}frontend f\n    bind 192.0.2.1:PORT\n\
         \x20   stick-table type ip size 10 expire 1m store http_err_cnt,http_err_rate(10s),http_fail_cnt\n\
         \x20   http-request track-sc0 src\n\
         \x20   http-request deny deny_status 429 if {{ sc_http_err_cnt(0) gt 2 }}\n\
         \x20   use_backend bad if {{ path_beg /bad }}\n    default_backend nf\n\
         backend nf\n    server s1 198.51.100.10:80\n\
         backend bad\n    server s2 198.51.100.11:80\n",
        dir.display()
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    let mut seen = Vec::new();
    for port in [80u16, 81] {
        let sock = dir.join(format!("{port}.sock"));
        let codes: Vec<String> = ["/a", "/bad", "/b", "/c", "/d", "/e"]
            .iter()
            .map(|p| http_code(&topo, &format!("http://192.0.2.1:{port}{p}"), &[]))
            .collect();
        seen.push((codes, entries(&sock, "f")));
    }
    // Three 404s, then refused; the 429s count as errors too; the 503 is a failure.
    assert_eq!(seen[0].0, ["404", "503", "404", "404", "429", "429"], "{seen:?}");
    assert_eq!(
        seen[0].1,
        ["key=192.0.2.2 use=0 http_err_cnt=5 http_err_rate(10000)=5 http_fail_cnt=1"],
        "{seen:?}"
    );
    assert_eq!(seen[0], seen[1], "Clearway, then HAProxy");
    let _ = std::fs::remove_dir_all(&dir);
}
