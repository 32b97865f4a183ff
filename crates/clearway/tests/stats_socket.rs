//! The runtime API on `stats socket`, driven with socat as operators and deploy scripts do:
//! draining, maintenance and weights change where new traffic goes while sessions in progress
//! finish; `show stat` counts the traffic sent; a socket's level limits what it may change.

mod common;
use common::http::{echo, get, values, DEFAULTS as HTTP_DEFAULTS};
use common::*;

/// The `show stat` row of `proxy/name`, as column name -> value.
fn stat(path: &std::path::Path, proxy: &str, name: &str) -> StatRow {
    let csv = cli(path, "show stat");
    csv_rows(&csv)
        .into_iter()
        .find(|r| r["pxname"] == proxy && r["svname"] == name)
        .unwrap_or_else(|| panic!("no row {proxy}/{name} in:\n{csv}"))
}

#[test]
fn drain_maint_and_weight_move_new_traffic_while_sessions_in_progress_finish() {
    let Some(topo) = topology("cli") else { return };
    let dir = socket_dir("cli");
    let sock = dir.join("admin.sock");
    let user_sock = dir.join("user.sock");
    let _srv = holding_servers(&topo, &["198.51.100.10:80", "198.51.100.11:80"]);
    let cfg = format!(
        "global\n    stats socket {} level admin mode 600\n    stats socket {} level user\n{TCP_DEFAULTS}\
         listen app\n    bind 192.0.2.1:80\n    server s1 198.51.100.10:80\n    server s2 198.51.100.11:80\n",
        sock.display(),
        user_sock.display()
    );
    let lb = start(&topo, &cfg, &[80]);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&sock)
        .expect("the socket exists")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "mode 600");

    // Round robin: one session in progress on each server.
    let first = hold(&topo, "192.0.2.1:80");
    let second = hold(&topo, "192.0.2.1:80");
    // Both sessions have reached their server before s2 is drained (the connects return
    // once the kernel has accepted them, before Clearway has chosen a server).
    assert!(
        eventually(|| stat(&sock, "app", "s1")["scur"] == "1" && stat(&sock, "app", "s2")["scur"] == "1"),
        "one session in progress on each server"
    );
    assert_eq!(cli(&sock, "set server app/s2 state drain"), "\n");
    // New sessions avoid the drained server...
    for _ in 0..4 {
        assert_eq!(server_of(&read_all(hold(&topo, "192.0.2.1:80"))), "s1");
    }
    assert!(cli(&sock, "show stat").contains("app,s2,"), "the CSV lists the server");
    assert_eq!(stat(&sock, "app", "s2")["status"], "DRAIN");
    // ...while the sessions it had go on to their end.
    let mut ends = vec![server_of(&read_all(first)), server_of(&read_all(second))];
    ends.sort();
    assert_eq!(ends, ["s1", "s2"]);

    // Maintenance on s1 and s2 back: everything goes to s2.
    assert_eq!(
        cli(&sock, "disable server app/s1; set server app/s2 state ready"),
        "\n\n"
    );
    for _ in 0..3 {
        assert_eq!(server_of(&ask(&topo, "192.0.2.1:80", None)), "s2");
    }
    assert_eq!(stat(&sock, "app", "s1")["status"], "MAINT");
    // Weight 0 on s2 with s1 back: s1 takes it all.
    assert_eq!(cli(&sock, "enable server app/s1; set weight app/s2 0"), "\n\n");
    assert_eq!(cli(&sock, "get weight app/s2"), "0 (initial 1)\n\n");
    for _ in 0..3 {
        assert_eq!(server_of(&ask(&topo, "192.0.2.1:80", None)), "s1");
    }
    // And back to both.
    assert_eq!(cli(&sock, "set weight app/s2 100%"), "\n");
    let mut both: Vec<String> = (0..4).map(|_| server_of(&ask(&topo, "192.0.2.1:80", None))).collect();
    both.sort();
    both.dedup();
    assert_eq!(both, ["s1", "s2"]);

    // The counts: s1 served 1 + 4 + 3 + (its share of the last 4); every session counted once.
    let s1 = stat(&sock, "app", "s1");
    let s2 = stat(&sock, "app", "s2");
    let total = |r: &std::collections::HashMap<String, String>| r["stot"].parse::<u64>().expect("stot");
    assert_eq!(total(&s1) + total(&s2), 2 + 4 + 3 + 3 + 4);
    assert_eq!(stat(&sock, "app", "FRONTEND")["stot"], "16");
    assert!(s1["bin"].parse::<u64>().expect("bin") >= 6 * 8, "{s1:?}");

    // A user-level socket reads but does not change.
    assert_eq!(cli(&user_sock, "disable server app/s1"), "Permission denied\n\n");
    assert_eq!(stat(&user_sock, "app", "s1")["status"], "no check");
    assert!(cli(&user_sock, "frobnicate").starts_with("Unknown command"));
    // Nor does it see the clients' addresses (HAProxy's `show sess` is an operator's).
    assert_eq!(cli(&user_sock, "show sess"), "Permission denied\n\n");
    drop(lb);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn show_stat_counts_http_responses_and_the_errors_of_a_dead_server() {
    let Some(topo) = topology("clih") else { return };
    let dir = socket_dir("clih");
    let sock = dir.join("s.sock");
    let _a = echo(&topo, "198.51.100.10:80", "s1");
    let b = echo(&topo, "198.51.100.11:80", "s2");
    let cfg = format!(
        "global\n    stats socket {}\n{HTTP_DEFAULTS}\
         frontend ft\n    bind 192.0.2.1:80\n    default_backend bk\n\
         backend bk\n    retries 0\n    server s1 198.51.100.10:80\n    server s2 198.51.100.11:80\n",
        sock.display()
    );
    let _lb = start(&topo, &cfg, &[80]);
    let url = "http://192.0.2.1/x";
    let served: Vec<String> = (0..6).flat_map(|_| values(&get(&topo, url, &[]), "server")).collect();
    assert_eq!(served.len(), 6);
    let fe = stat(&sock, "ft", "FRONTEND");
    assert_eq!((fe["req_tot"].as_str(), fe["hrsp_2xx"].as_str()), ("6", "6"), "{fe:?}");
    assert_eq!(fe["hrsp_5xx"], "0");
    assert!(fe["bout"].parse::<u64>().expect("bout") > 6 * 50, "{fe:?}");
    let s2 = stat(&sock, "bk", "s2");
    assert_eq!(s2["hrsp_2xx"], "3", "{s2:?}");

    // s2 dies: its requests fail (no retries), counted as 503s and connection errors.
    drop(b);
    let codes: Vec<String> = (0..4).map(|_| http_code(&topo, url, &[])).collect();
    let failed = codes.iter().filter(|c| *c == "503").count();
    assert_eq!(failed, 2, "{codes:?}");
    let fe = stat(&sock, "ft", "FRONTEND");
    assert_eq!((fe["req_tot"].as_str(), fe["hrsp_5xx"].as_str()), ("10", "2"), "{fe:?}");
    let bk = stat(&sock, "bk", "BACKEND");
    assert_eq!((bk["econ"].as_str(), bk["hrsp_5xx"].as_str()), ("2", "2"), "{bk:?}");
    assert_eq!(stat(&sock, "bk", "s2")["econ"], "2");
    // The operator level (the default) may clear the maxima, not the totals.
    assert_eq!(cli(&sock, "clear counters all"), "Permission denied\n\n");
    assert_eq!(cli(&sock, "clear counters"), "\n");
    assert_eq!(stat(&sock, "ft", "FRONTEND")["req_tot"], "10");
    let _ = std::fs::remove_dir_all(dir);
}

/// Sends `req` on a new connection to `to` and returns the response's first line; the
/// connection is returned too, still open.
fn raw(topo: &clearway_testkit::Topology, to: &str, req: &[u8]) -> (String, std::io::BufReader<std::net::TcpStream>) {
    use std::io::{BufRead, Write};
    let mut s = connect(topo, to);
    s.write_all(req).expect("send");
    let mut r = std::io::BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line).expect("a status line");
    (line.trim_end().to_string(), r)
}

#[test]
fn show_errors_dumps_a_refused_request_as_haproxy_does_and_set_maxconn_moves_limits() {
    let Some(topo) = topology("clie") else { return };
    let dir = socket_dir("clie");
    let _a = echo(&topo, "198.51.100.10:80", "s1");
    // The same text for both proxies; PORT is 80 for Clearway, 81 for HAProxy.
    let cfg = format!(
        "global\n    stats socket {}/PORT.sock level admin\n{HTTP_DEFAULTS}\
         frontend ft\n    bind 192.0.2.1:PORT\n    default_backend bk\n\
         backend bk\n    server s1 198.51.100.10:80\n",
        dir.display()
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    let sock = |port: u16| dir.join(format!("{port}.sock"));
    let bad = b"GET /x HTTP/1.1\r\nHost: x\r\nBad Header: x\r\n\r\n";
    for port in [80, 81] {
        let (status, _) = raw(&topo, &format!("192.0.2.1:{port}"), bad);
        assert!(status.starts_with("HTTP/1.1 400"), "{port}: {status}");
    }
    // The refused bytes, dumped line by line exactly as HAProxy dumps them.
    let dump = |port: u16| -> Vec<String> {
        cli(&sock(port), "show errors")
            .lines()
            .filter(|l| l.starts_with("  000"))
            .map(String::from)
            .collect()
    };
    assert_eq!(dump(80), dump(81));
    assert_eq!(dump(80).len(), 4, "{:?}", dump(80));
    let cw = cli(&sock(80), "show errors ft request");
    assert!(cw.contains("frontend ft (#2): invalid request"), "{cw}");
    for c in [
        "show errors nope",
        "set maxconn frontend nope 5",
        "set maxconn server bk/nope 7",
        "set maxconn global 99999999",
        "set maxconn frontend ft 1",
        "set maxconn server bk/s1 3",
    ] {
        assert_eq!(cli(&sock(80), c), cli(&sock(81), c), "{c}");
    }
    // `show stat typed`: the same positions, tags and types as HAProxy's for the fields both fill.
    let typed = |port: u16| -> std::collections::HashMap<String, String> {
        cli(&sock(port), "show stat typed")
            .lines()
            .filter_map(|l| {
                let mut parts = l.splitn(4, ':');
                let key = parts.next()?.to_string();
                Some((key, format!("{}:{}", parts.next()?, parts.next()?)))
            })
            .collect()
    };
    let (cw, hap) = (typed(80), typed(81));
    let common: Vec<&String> = cw.keys().filter(|k| hap.contains_key(*k)).collect();
    assert!(common.len() > 50, "{cw:?}");
    for k in common {
        assert_eq!(cw[k], hap[k], "{k}");
    }
    let json: serde_json::Value =
        serde_json::from_str(cli(&sock(80), "show stat json").trim_end()).expect("show stat json is JSON");
    assert_eq!(json[0][0]["value"]["value"], "ft");
    for port in [80, 81] {
        assert_eq!(stat(&sock(port), "ft", "FRONTEND")["slim"], "1", "{port}");
        assert_eq!(stat(&sock(port), "bk", "s1")["slim"], "3", "{port}");
    }

    // Frontend maxconn 1: a kept-alive client holds the only slot, so the next one waits...
    let (status, _first) = raw(&topo, "192.0.2.1:80", b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::scope(|sc| {
        sc.spawn(|| {
            let out = topo.client.exec(
                "curl",
                &[
                    "-s",
                    "--max-time",
                    "20",
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{http_code}",
                    "http://192.0.2.1/b",
                ],
            );
            let _ = tx.send(String::from_utf8_lossy(&out.stdout).into_owned());
        });
        assert!(
            rx.recv_timeout(std::time::Duration::from_secs(1)).is_err(),
            "served beyond the frontend's maxconn"
        );
        // ...until the limit is raised: then it is served at once.
        assert_eq!(cli(&sock(80), "set maxconn frontend ft 10"), "\n");
        assert_eq!(rx.recv_timeout(TIMEOUT).expect("served once raised"), "200");
    });
    assert_eq!(cli(&sock(80), "set maxconn global 0"), "Value out of range.\n\n");
    let _ = std::fs::remove_dir_all(dir);
}

/// Whether the proxy closed this connection (without reading or sending anything).
fn ended(s: &std::net::TcpStream) -> bool {
    use std::io::Read;
    s.set_nonblocking(true).expect("nonblocking");
    let mut b = [0u8; 64];
    let r = (&*s).read(&mut b);
    s.set_nonblocking(false).expect("blocking");
    match r {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
    }
}

#[test]
fn show_sess_shutdown_sessions_and_on_marked_down_end_a_servers_sessions_in_progress() {
    let Some(topo) = topology("clik") else { return };
    let dir = socket_dir("clik");
    let sock = dir.join("admin.sock");
    let _srv = holding_servers(&topo, &["198.51.100.10:80", "198.51.100.11:80"]);
    // s1's health is checked on a port of its own, so that checks can fail while its
    // sessions are still served.
    let check_port = clearway_testkit::PeerServer::start(&topo.server, addr("198.51.100.10:81"), "check");
    let cfg = format!(
        "global\n    stats socket {} level admin\n{TCP_DEFAULTS}\
         listen app\n    bind 192.0.2.1:80\n\
         \x20   server s1 198.51.100.10:80 check port 81 inter 200 fall 1 on-marked-down shutdown-sessions\n\
         \x20   server s2 198.51.100.11:80\n",
        sock.display()
    );
    let lb = start(&topo, &cfg, &[80]);
    let first = hold(&topo, "192.0.2.1:80");
    let second = hold(&topo, "192.0.2.1:80");
    assert!(
        eventually(|| stat(&sock, "app", "s1")["scur"] == "1" && stat(&sock, "app", "s2")["scur"] == "1"),
        "one session in progress on each server"
    );
    // `show sess` lists both, with where each went.
    let sess = cli(&sock, "show sess");
    let lines: Vec<&str> = sess.lines().filter(|l| l.starts_with("0x")).collect();
    assert_eq!(lines.len(), 2, "{sess}");
    for srv in ["s1", "s2"] {
        assert!(
            lines
                .iter()
                .any(|l| l.contains(" proto=tcpv4 src=") && l.contains(&format!(" fe=app be=app srv={srv} "))),
            "{sess}"
        );
    }
    // `show sess ID`: one session's details (`all`: each one's); an unknown one is not found.
    let id = lines[0].split(':').next().expect("an id");
    let one = cli(&sock, &format!("show sess {id}"));
    assert!(one.starts_with(&format!("{id}: [")), "{one}");
    assert!(one.contains(" proto=tcpv4 source=192.0.2.2:"), "{one}");
    assert!(
        one.contains("\n  frontend=app (id=") && one.contains(" mode=tcp)\n"),
        "{one}"
    );
    assert!(
        one.contains("\n  server=s") && one.contains(") addr=198.51.100.1"),
        "{one}"
    );
    let every = cli(&sock, "show sess all");
    assert_eq!(every.matches("\n  backend=app (id=").count(), 2, "{every}");
    assert_eq!(cli(&sock, "show sess 0xffffff"), "Session not found.\n\n");
    // The operator ends s2's sessions: its client is closed without the server's answer,
    // the other session goes on.
    assert_eq!(cli(&sock, "shutdown sessions server app/s2"), "\n");
    let held = [first, second];
    assert!(
        eventually(|| held.iter().filter(|s| ended(s)).count() == 1),
        "exactly one session (s2's) was ended"
    );
    assert!(eventually(|| stat(&sock, "app", "s2")["scur"] == "0"));
    assert_eq!(cli(&sock, "shutdown sessions server app/nope"), "No such server.\n\n");
    let sess = cli(&sock, "show sess");
    assert!(
        sess.lines().filter(|l| l.starts_with("0x")).count() == 1 && sess.contains(" srv=s1 "),
        "{sess}"
    );
    let [a, b] = held;
    let on_s1 = if ended(&a) { b } else { a };
    // s1's session goes on until checks take s1 down: then on-marked-down ends it too.
    assert_eq!(stat(&sock, "app", "s1")["scur"], "1");
    drop(check_port);
    assert!(lb.wait_log("Server app/s1 is DOWN", TIMEOUT), "{}", lb.log());
    assert!(
        eventually(|| ended(&on_s1)),
        "the session on s1 was ended when s1 went down"
    );
    assert!(lb.log().contains("on-marked-down shutdown-sessions"), "{}", lb.log());
    let _ = std::fs::remove_dir_all(dir);
}

/// Every `show stat` row of a listener (type 3) as `svname/sid` -> row.
fn listener_rows(path: &std::path::Path) -> std::collections::BTreeMap<String, StatRow> {
    csv_rows(&cli(path, "show stat"))
        .into_iter()
        .filter(|r| r["type"] == "3")
        .map(|r| (format!("{}/{}", r["svname"], r["sid"]), r))
        .collect()
}

#[test]
fn socket_stats_give_each_listener_the_row_and_metrics_haproxy_gives_it() {
    let Some(topo) = topology("clis") else { return };
    let dir = socket_dir("clis");
    let _a = echo(&topo, "198.51.100.10:80", "s1");
    // The same text for both proxies (PORT: 80 for Clearway, 81 for HAProxy): two listeners
    // on one bind line, one named, one numbered by hand; a frontend without socket-stats.
    let cfg = format!(
        "global\n    stats socket {}/PORT.sock level admin\n{HTTP_DEFAULTS}\
         frontend ft\n    option socket-stats\n    bind 192.0.2.1:PORT name first\n\
         \x20   bind 192.0.2.1:1PORT,192.0.2.1:2PORT\n    bind 192.0.2.1:3PORT id 7 maxconn 50\n\
         \x20   http-request deny if {{ path /deny }}\n    default_backend bk\n\
         frontend metrics\n    bind 192.0.2.1:9PORT\n    http-request use-service prometheus-exporter\n\
         backend bk\n    server s1 198.51.100.10:80\n",
        dir.display()
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    let sock = |port: u16| dir.join(format!("{port}.sock"));
    for port in [80, 81] {
        for _ in 0..3 {
            get(&topo, &format!("http://192.0.2.1:{port}/x"), &[]);
        }
        assert_eq!(http_code(&topo, &format!("http://192.0.2.1:{port}/deny"), &[]), "403");
        let (status, _) = raw(
            &topo,
            &format!("192.0.2.1:{port}"),
            b"GET /x HTTP/1.1\r\nHost: x\r\nBad Header: x\r\n\r\n",
        );
        assert!(status.starts_with("HTTP/1.1 400"), "{port}: {status}");
        for p in [format!("1{port}"), format!("1{port}"), format!("3{port}")] {
            get(&topo, &format!("http://192.0.2.1:{p}/y"), &[]);
        }
    }
    // Bytes are left out of the comparison: HAProxy counts an HTTP message as it holds it
    // (its internal form), Clearway the bytes on the wire.
    let (cw, hap) = (listener_rows(&sock(80)), listener_rows(&sock(81)));
    let names: Vec<&String> = cw.keys().collect();
    assert_eq!(names, ["first/1", "sock-2/2", "sock-3/3", "sock-7/7"], "{cw:?}");
    assert_eq!(cw.keys().collect::<Vec<_>>(), hap.keys().collect::<Vec<_>>());
    for (k, c) in &cw {
        let h = &hap[k];
        for col in [
            "pxname", "slim", "stot", "dreq", "dresp", "ereq", "status", "pid", "sid", "type", "mode", "dcon", "dses",
            "wrew", "eint",
        ] {
            assert_eq!(c[col], h[col], "{k} {col}: clearway {c:?}\nhaproxy {h:?}");
        }
        // The most sessions at once: the connections came one after the other, but whether a
        // proxy had counted one's end before it took the next depends on timing. (HAProxy's
        // count of the most may even pass its total by one: only Clearway's is held to it.)
        for (r, slack) in [(c, 0), (h, 1)] {
            let (smax, stot) = (r["smax"].parse::<u32>(), r["stot"].parse::<u32>());
            assert!(
                matches!((smax, stot), (Ok(m), Ok(t)) if m <= t + slack && (m >= 1 || t == 0)),
                "{k}: {r:?}"
            );
        }
        // The same address but for the port's last digit (0 for Clearway, 1 for HAProxy).
        let (a, b) = (&c["addr"], &h["addr"]);
        assert_eq!(&a[..a.len() - 1], &b[..b.len() - 1], "{k}");
        assert!(a.starts_with("192.0.2.1:") && a.ends_with('0'), "{k}: {a}");
    }
    let first = &cw["first/1"];
    assert_eq!(
        (first["stot"].as_str(), first["dreq"].as_str(), first["ereq"].as_str()),
        ("5", "1", "1")
    );
    assert_eq!(
        (cw["sock-2/2"]["stot"].as_str(), cw["sock-7/7"]["slim"].as_str()),
        ("2", "50")
    );
    // The listeners' bytes add up to their frontend's.
    let fe = stat(&sock(80), "ft", "FRONTEND");
    for col in ["bin", "bout"] {
        let sum: u64 = cw.values().map(|r| r[col].parse::<u64>().expect("a number")).sum();
        assert_eq!(sum.to_string(), fe[col], "{col}");
    }
    // Only `show stat -1 8 -1` (listeners): the same four rows; a listener by its number.
    let only = cli(&sock(80), "show stat -1 8 -1");
    assert_eq!(only.lines().filter(|l| l.starts_with("ft,")).count(), 4, "{only}");
    let seventh = cli(&sock(80), "show stat 2 8 7");
    assert!(
        seventh.lines().nth(1).is_some_and(|l| l.starts_with("ft,sock-7,")),
        "{seventh}"
    );
    // `show stat typed` tags them as HAProxy does.
    let typed = |port: u16| -> Vec<String> {
        cli(&sock(port), "show stat typed")
            .lines()
            .filter(|l| l.starts_with("L."))
            .map(|l| l.splitn(4, ':').take(3).collect::<Vec<_>>().join(":"))
            .collect()
    };
    let (t_cw, t_hap) = (typed(80), typed(81));
    assert!(t_cw.len() > 40, "{t_cw:?}");
    for line in &t_cw {
        assert!(t_hap.contains(line), "{line} is not in HAProxy's typed output");
    }
    // Prometheus: the same listener series (names and labels) as HAProxy's exporter.
    let series = |port: u16| -> std::collections::BTreeSet<String> {
        get(&topo, &format!("http://192.0.2.1:9{port}/metrics"), &[])
            .lines()
            .filter(|l| l.starts_with("haproxy_listener_"))
            .filter_map(|l| l.rsplit_once(' ').map(|(k, _)| k.to_string()))
            .collect()
    };
    let (p_cw, p_hap) = (series(80), series(81));
    assert!(
        p_cw.contains("haproxy_listener_sessions_total{proxy=\"ft\",listener=\"first\"}"),
        "{p_cw:?}"
    );
    assert!(
        p_cw.contains("haproxy_listener_status{proxy=\"ft\",listener=\"sock-7\",state=\"OPEN\"}"),
        "{p_cw:?}"
    );
    for s in &p_cw {
        assert!(p_hap.contains(s), "{s} is not among HAProxy's listener series");
    }
    assert!(
        !p_cw.iter().any(|s| s.contains("proxy=\"metrics\"")),
        "a frontend without socket-stats has no listener series"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn shutdown_sessions_server_ends_http_requests_in_flight_as_haproxy_does() {
    let Some(topo) = topology("clik") else { return };
    let dir = socket_dir("clik");
    let _a = echo(&topo, "198.51.100.10:80", "s1");
    // Each proxy logs to its own receiver on the lb's loopback (ports 5080 and 5081).
    let receivers: Vec<std::net::UdpSocket> = [5080, 5081]
        .iter()
        .map(|p| {
            let s = topo
                .lb
                .enter(|| std::net::UdpSocket::bind(("127.0.0.1", *p)))
                .expect("a syslog receiver");
            s.set_read_timeout(Some(TIMEOUT)).expect("timeout");
            s
        })
        .collect();
    let cfg = format!(
        "global\n    stats socket {}/PORT.sock level admin\n    log 127.0.0.1:50PORT local0\n{HTTP_DEFAULTS}    log global\n\
         frontend ft\n    bind 192.0.2.1:PORT\n    log-format \"%ST %ts\"\n    default_backend bk\n\
         backend bk\n    server s1 198.51.100.10:80\n",
        dir.display()
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    // A request in flight on s1 (waiting for its response, or reading a body the server
    // stalls in the middle of), then `shutdown sessions server`: what the client gets, and
    // what is logged.
    let killed = |port: u16, path: &str, ready: &dyn Fn(&StatRow) -> bool| -> (String, String) {
        let sock = dir.join(format!("{port}.sock"));
        let url = format!("http://192.0.2.1:{port}{path}");
        let got = std::thread::scope(|s| {
            let client = s.spawn(|| {
                let out = topo.client.exec(
                    "curl",
                    &["-s", "--max-time", "20", "-o", "/dev/null", "-w", "%{http_code}", &url],
                );
                format!(
                    "{} exit={}",
                    String::from_utf8_lossy(&out.stdout),
                    out.status.code().unwrap_or(-1)
                )
            });
            assert!(
                eventually(|| ready(&stat(&sock, "bk", "s1"))),
                "{port}{path}: not in flight"
            );
            assert_eq!(cli(&sock, "shutdown sessions server bk/s1"), "\n");
            client.join().expect("client")
        });
        // The request's line (the process's own messages go to the same target).
        let rx = &receivers[usize::from(port - 80)];
        let mut buf = vec![0u8; 4096];
        let msg = loop {
            let n = rx.recv(&mut buf).expect("a log line");
            let line = String::from_utf8_lossy(&buf[..n]);
            let msg = line.split_once("]: ").map_or("", |(_, m)| m).trim_end().to_string();
            if msg.starts_with(|c: char| c.is_ascii_digit()) {
                break msg;
            }
        };
        (got, msg)
    };
    let in_flight = |r: &StatRow| r["scur"] == "1";
    let head_in = |r: &StatRow| r["hrsp_2xx"] == "1";
    for (path, ready, expected, log) in [
        // Before the response: a 502, logged KH.
        (
            "/sleep-5000",
            &in_flight as &dyn Fn(&StatRow) -> bool,
            "502 exit=0",
            "502 KH",
        ),
        // In the middle of the body: the connection closes, the client has part of it (KD).
        ("/stall-5000", &head_in, "200 exit=18", "200 KD"),
    ] {
        let (cw, hap) = (killed(80, path, ready), killed(81, path, ready));
        assert_eq!(hap, (expected.to_string(), log.to_string()), "HAProxy, {path}");
        assert_eq!(cw, (expected.to_string(), log.to_string()), "Clearway, {path}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn maxqueue_refuses_sessions_beyond_a_servers_own_queue_as_haproxy_does() {
    let Some(topo) = topology("clmq") else { return };
    let dir = socket_dir("clmq");
    let _a = echo(&topo, "198.51.100.10:80", "s1");
    // One connection at a time to s1, one session waiting for it in particular (`balance
    // source` gives each client its server); with roundrobin the wait is the backend's, which
    // maxqueue does not bound.
    let cfg = format!(
        "global\n    stats socket {}/PORT.sock level admin\n{HTTP_DEFAULTS}    timeout queue 20s\n\
         frontend ft\n    bind 192.0.2.1:PORT\n    default_backend bk\n\
         frontend ft2\n    bind 192.0.2.1:1PORT\n    default_backend rr\n\
         backend bk\n    balance source\n    server s1 198.51.100.10:80 maxconn 1 maxqueue 1\n\
         backend rr\n    balance roundrobin\n    server s1 198.51.100.10:80 maxconn 1 maxqueue 1\n",
        dir.display()
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    let three = |port: u16, front: &str, be: &str| -> Vec<String> {
        let sock = dir.join(format!("{port}.sock"));
        let url = |p: &str| format!("http://192.0.2.1:{front}{p}");
        let topo = &topo;
        std::thread::scope(|s| {
            let code = |u: String| move || http_code(topo, &u, &[]);
            let first = s.spawn(code(url("/sleep-1500")));
            assert!(
                eventually(|| stat(&sock, be, "s1")["scur"] == "1"),
                "{port}: first not in"
            );
            let second = s.spawn(code(url("/sleep-10")));
            // Waiting in the backend's queue or the server's (HAProxy keeps one per server;
            // Clearway counts every waiter in the backend's row).
            let queued = || {
                let n = |row: &str| stat(&sock, be, row)["qcur"].parse::<u32>().unwrap_or(0);
                n("BACKEND") + n("s1") == 1
            };
            assert!(eventually(queued), "{port}: second not queued");
            let third = http_code(topo, &url("/"), &[]);
            vec![first.join().expect("first"), second.join().expect("second"), third]
        })
    };
    for port in [80u16, 81] {
        assert_eq!(
            three(port, &port.to_string(), "bk"),
            ["200", "200", "503"],
            "{port}, balance source"
        );
        assert_eq!(
            three(port, &format!("1{port}"), "rr"),
            ["200", "200", "200"],
            "{port}, roundrobin"
        );
        assert_eq!(
            stat(&dir.join(format!("{port}.sock")), "bk", "s1")["qlimit"],
            "1",
            "{port}"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn slowstart_ramps_a_returning_servers_weight_as_haproxy_does() {
    let Some(topo) = topology("clss") else { return };
    let dir = socket_dir("clss");
    let srv = echo(&topo, "198.51.100.10:80", "s1");
    let _s2 = echo(&topo, "198.51.100.10:81", "s2");
    let cfg = format!(
        "global\n    stats socket {}/PORT.sock level admin\n{HTTP_DEFAULTS}\
         frontend ft\n    bind 192.0.2.1:PORT\n    default_backend bk\n\
         backend bk\n    balance roundrobin\n\
         \x20   server s1 198.51.100.10:80 check inter 200ms fall 1 rise 1 weight 100 slowstart 6s\n\
         \x20   server s2 198.51.100.10:81 weight 100\n",
        dir.display()
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    let socks = [dir.join("80.sock"), dir.join("81.sock")];
    let s1 = |sock: &std::path::Path| stat(sock, "bk", "s1");
    let all = |cond: &dyn Fn(&StatRow) -> bool| socks.iter().all(|s| cond(&s1(s)));
    // Up from the start (no slow start when the process starts), at full weight.
    assert!(eventually(|| all(&|r| r["status"] == "UP" && r["weight"] == "100")));
    drop(srv);
    assert!(eventually(|| all(&|r| r["status"] == "DOWN")), "s1 not seen down");
    let _srv = echo(&topo, "198.51.100.10:80", "s1");
    assert!(
        eventually(|| all(&|r| r["status"].starts_with("UP"))),
        "s1 not seen up again"
    );
    // Back up: a part of its weight, then all of it once the 6 s have passed.
    for sock in &socks {
        let w: u32 = s1(sock)["weight"].parse().expect("a weight");
        assert!(
            (1..100).contains(&w),
            "{}: weight {w} right after coming back",
            sock.display()
        );
    }
    assert!(
        eventually_for(std::time::Duration::from_secs(20), || all(&|r| r["weight"] == "100")),
        "weights after the slow start: {:?}",
        socks.iter().map(|s| s1(s)["weight"].clone()).collect::<Vec<_>>()
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn set_var_works_in_experimental_mode_only_and_traffic_sees_it_as_in_haproxy() {
    let Some(topo) = topology("clivar") else { return };
    let dir = socket_dir("clivar");
    let cfg = format!(
        "global\n    stats socket {}/PORT.sock level admin\n    stats socket {}/PORT-op.sock level operator\n\
         \x20   set-var proc.n int(5)\n    set-var proc.s str(start)\n{HTTP_DEFAULTS}\
         frontend ft\n    bind 192.0.2.1:PORT\n\
         \x20   http-request return status 200 hdr x-v \"n=%[var(proc.n)] s=%[var(proc.s)]\"\n",
        dir.display(),
        dir.display()
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    let sock = |port: u16, s: &str| dir.join(format!("{port}{s}.sock"));
    let seen = |port: u16| -> String {
        let (status, mut r) = raw(
            &topo,
            &format!("192.0.2.1:{port}"),
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        );
        assert!(status.starts_with("HTTP/1.1 200"), "{port}: {status}");
        let mut v = String::new();
        loop {
            let mut l = String::new();
            if std::io::BufRead::read_line(&mut r, &mut l).unwrap_or(0) == 0 || l == "\r\n" {
                return v;
            }
            if let Some(x) = l.to_ascii_lowercase().strip_prefix("x-v: ") {
                v = x.trim().to_string();
            }
        }
    };
    for (line, level) in [
        // Refused outside experimental mode, whatever the level.
        ("set var proc.n int(7)", ""),
        ("experimental-mode", ""),
        (
            "experimental-mode on; experimental-mode; experimental-mode off; experimental-mode",
            "",
        ),
        // The mode needs admin level; `set var` needs operator.
        ("experimental-mode on", "-op"),
        ("experimental-mode on; set var proc.n int(7); get var proc.n", ""),
        (
            "experimental-mode on; set var proc.s fmt %[var(proc.s)]-%[var(proc.n),add(1)]; get var proc.s",
            "",
        ),
        (
            "experimental-mode on; set var proc.s expr str(x),upper; get var proc.s",
            "",
        ),
        (
            "experimental-mode on; set var proc.s fmt %[var(proc.s)]+; get var proc.s",
            "",
        ),
        ("experimental-mode on; set var", ""),
        ("experimental-mode on; set var proc.n", ""),
    ] {
        let (cw, hap) = (cli(&sock(80, level), line), cli(&sock(81, level), line));
        assert_eq!(cw, hap, "{line} (level {level})");
    }
    assert_eq!(seen(80), "n=7 s=x+");
    assert_eq!(seen(81), "n=7 s=x+");
    // Only process variables; a bad kind is named.
    for line in [
        "experimental-mode on; set var txn.n int(1)",
        "experimental-mode on; set var proc.n val int(1)",
    ] {
        // (HAProxy ends these errors without the blank line that ends its other answers.)
        let (cw, hap) = (cli(&sock(80, ""), line), cli(&sock(81, ""), line));
        assert_eq!(cw.trim_end(), hap.trim_end(), "{line}");
    }
    assert_eq!(seen(80), "n=7 s=x+");
    let _ = std::fs::remove_dir_all(&dir);
}
