//! `tcp-request content` rules where HAProxy runs them, side by side with HAProxy on the same
//! config: in backends (an allow-list there is enforced), and in `mode http` on each request,
//! where a refused request closes the connection without a response.

mod common;
use common::*;
use std::io::{Read, Write};

/// The frontend's `dreq` in a proxy's `show stat`.
fn denied_requests(sock: &str) -> String {
    let rows = csv_rows(&cli(std::path::Path::new(sock), "show stat"));
    rows.iter()
        .find(|r| r["pxname"] == "f" && r["svname"] == "FRONTEND")
        .map(|r| r["dreq"].clone())
        .unwrap_or_default()
}

#[test]
fn a_backend_allow_list_is_enforced_as_in_haproxy() {
    let Some(topo) = topology("tcrbe") else { return };
    let _srv = peer_servers(&topo, &["198.51.100.10:80"]);
    let dir = std::env::temp_dir().join(format!("tcrbe-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let cfg = format!(
        "global\n    stats socket {}/PORT.sock\n{TCP_DEFAULTS}frontend f\n    bind 192.0.2.1:PORT\n    default_backend b\n\
         backend b\n    acl internal src 192.0.2.3\n    tcp-request inspect-delay 5s\n    tcp-request content reject if !internal\n\
         \x20   server s1 198.51.100.10:80\n",
        dir.display()
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    for port in [80, 81] {
        let to = format!("192.0.2.1:{port}");
        let answer = ask(&topo, &to, Some("192.0.2.3"));
        assert_eq!(server_of(&answer), "s1", "{port}: {answer}");
        let refused = clearway_testkit::request(
            &topo.client,
            addr(&to),
            Some("192.0.2.2".parse().unwrap()),
            b"hello\n",
            TIMEOUT,
        )
        .unwrap_or_default();
        assert_eq!(refused, "", "{port}");
        assert_eq!(
            denied_requests(&format!("{}/{port}.sock", dir.display())),
            "1",
            "{port}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Sends `requests` on one connection from 192.0.2.2 and returns everything that came back.
fn exchange(topo: &clearway_testkit::Topology, port: u16, requests: &str) -> String {
    let mut s = connect(topo, &format!("192.0.2.1:{port}"));
    s.write_all(requests.as_bytes()).expect("send");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn http_content_rules_run_on_each_request_and_close_without_a_response_as_in_haproxy() {
    let Some(topo) = topology("tcrhttp") else { return };
    let _web = common::http::echo(&topo, "198.51.100.10:80", "web");
    let cfg = format!(
        "{}frontend f\n    bind 192.0.2.1:PORT\n    tcp-request content reject if {{ hdr(host) -i bad.test }}\n    default_backend b\n\
         backend b\n    tcp-request content reject if {{ path_beg /be-reject }}\n    server web 198.51.100.10:80\n",
        common::http::DEFAULTS
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    let get = |host: &str, path: &str, close: bool| {
        format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\n{}\r\n",
            if close { "Connection: close\r\n" } else { "" }
        )
    };
    for port in [80, 81] {
        // The rules see each request: the first passes, the second closes the connection.
        let out = exchange(
            &topo,
            port,
            &format!("{}{}", get("good.test", "/a", false), get("bad.test", "/b", false)),
        );
        assert_eq!(out.matches("HTTP/1.1 200").count(), 1, "{port}: {out}");
        assert!(out.contains("line=GET /a HTTP/1.1"), "{port}: {out}");
        assert!(!out.contains("/b HTTP/1.1"), "{port}: {out}");
        // The backend's too.
        let out = exchange(&topo, port, &get("good.test", "/be-reject", true));
        assert_eq!(out, "", "{port}");
        let out = exchange(&topo, port, &get("good.test", "/fine", true));
        assert!(out.starts_with("HTTP/1.1 200"), "{port}: {out}");
    }
}

#[test]
fn in_mode_tcp_an_http_request_is_read_from_the_first_bytes_as_in_haproxy() {
    let Some(topo) = topology("tcrh7") else { return };
    let _api = common::http::echo(&topo, "198.51.100.10:80", "api");
    let _web = common::http::echo(&topo, "198.51.100.11:80", "web");
    let _other = peer_servers(&topo, &["198.51.100.12:80"]);
    // One port, two protocols: HTTP by path, anything else to a line server.
    let cfg = format!(
        "{TCP_DEFAULTS}frontend f\n    bind 192.0.2.1:PORT\n    tcp-request inspect-delay 5s\n\
         \x20   tcp-request content reject if {{ hdr(x-bad) yes }}\n    tcp-request content accept if HTTP\n\
         \x20   use_backend api if {{ path_beg /api }} {{ method GET }}\n    use_backend web if HTTP\n\
         \x20   default_backend other\n\
         backend api\n    server api 198.51.100.10:80\nbackend web\n    server web 198.51.100.11:80\n\
         backend other\n    server s1 198.51.100.12:80\n"
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    for port in [80u16, 81] {
        let url = |p: &str| format!("http://192.0.2.1:{port}{p}");
        let server = |p: &str, opts: &[&str]| common::http::values(&common::http::get(&topo, &url(p), opts), "server");
        assert_eq!(server("/api/v1?x=1", &[]), ["api"], "{port}");
        assert_eq!(server("/", &[]), ["web"], "{port}");
        assert_eq!(server("/api/v1", &["-X", "DELETE"]), ["web"], "{port}");
        assert_eq!(
            http_code(&topo, &url("/"), &["-H", "x-bad: yes"]),
            "000",
            "{port}: rejected"
        );
        let line = ask(&topo, &format!("192.0.2.1:{port}"), None);
        assert!(line.contains("server=s1"), "{port}: {line}");
    }
}

#[test]
fn tcp_response_content_rules_accept_reject_and_close_as_in_haproxy() {
    let Some(topo) = topology("tcrsp") else { return };
    let dir = std::env::temp_dir().join(clearway_testkit::netns::unique_name("tcrsp"));
    std::fs::create_dir_all(&dir).unwrap();
    // A server whose answer depends on the line it gets; after "BYE" it stays connected.
    let _srv = Peer::start(
        &topo,
        "198.51.100.10:80",
        &dir,
        "read l; case \"$l\" in err*) printf 'ERROR no\\n';; bye*) printf 'BYE\\n'; sleep 60;; *) printf 'HELLO %s\\n' \"$l\";; esac",
    );
    let cfg = format!(
        "global\n    stats socket {d}/PORT.sock level admin\n{TCP_DEFAULTS}frontend f\n    bind 192.0.2.1:PORT\n    default_backend b\n\
         backend b\n    tcp-response inspect-delay 5s\n\
         \x20   tcp-response content reject if {{ res.payload(0,5) -m str ERROR }}\n\
         \x20   tcp-response content close if {{ res.payload(0,3) -m str BYE }}\n\
         \x20   tcp-response content accept if {{ res.len ge 4 }}\n\
         \x20   server s1 198.51.100.10:80\n",
        d = dir.display()
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    for port in [80u16, 81] {
        let to = addr(&format!("192.0.2.1:{port}"));
        let say = |line: &[u8]| clearway_testkit::request(&topo.client, to, None, line, TIMEOUT);
        assert_eq!(say(b"hi\n").expect("answered"), "HELLO hi\n", "{port}");
        assert_eq!(
            say(b"err\n").expect("closed"),
            "",
            "{port}: refused, nothing gets through"
        );
        // `close` ends the session at once: the server would hold it for a minute.
        assert_eq!(say(b"bye\n").expect("closed"), "BYE\n", "{port}");
        let rows = csv_rows(&cli(&dir.join(format!("{port}.sock")), "show stat"));
        let dresp = |sv: &str| rows.iter().find(|r| r["pxname"] == "b" && r["svname"] == sv).unwrap()["dresp"].clone();
        assert_eq!(
            (dresp("BACKEND"), dresp("s1")),
            ("1".to_string(), "1".to_string()),
            "{port}"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn tcp_rules_set_variables_that_route_as_in_haproxy() {
    let Some(topo) = topology("tcrvar") else { return };
    let _srv = peer_servers(&topo, &["198.51.100.10:80", "198.51.100.11:80"]);
    let cfg = format!(
        "{TCP_DEFAULTS}frontend f\n    bind 192.0.2.1:PORT\n\
         \x20   tcp-request connection set-var(sess.from) src,ipmask(24)\n\
         \x20   tcp-request session set-var-fmt(sess.tag) \"%[var(sess.from)]-x\"\n\
         \x20   tcp-request inspect-delay 5s\n\
         \x20   tcp-request content set-var(txn.verb) req.payload(0,4),lower\n\
         \x20   tcp-request content unset-var(txn.verb) if {{ src 192.0.2.3 }}\n\
         \x20   tcp-request content accept if {{ req.len ge 4 }}\n\
         \x20   use_backend b2 if {{ var(txn.verb) -m str ping }} {{ var(sess.tag) -m str 192.0.2.0-x }}\n\
         \x20   default_backend b1\n\
         backend b1\n    server s1 198.51.100.10:80\n\
         backend b2\n    server s2 198.51.100.11:80\n"
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    for port in [80, 81] {
        let to = addr(&format!("192.0.2.1:{port}"));
        let send = |from: &str, msg: &[u8]| {
            let a = clearway_testkit::request(&topo.client, to, Some(from.parse().unwrap()), msg, TIMEOUT);
            server_of(&a.unwrap_or_else(|e| panic!("{port}: {e}")))
        };
        assert_eq!(send("192.0.2.2", b"PING me\n"), "s2", "{port}");
        assert_eq!(send("192.0.2.2", b"PONG me\n"), "s1", "{port}");
        // The variable was set, then unset for this client.
        assert_eq!(send("192.0.2.3", b"PING me\n"), "s1", "{port}");
    }
}

#[test]
fn tcp_response_rules_in_mode_http_run_on_the_response_head_as_in_haproxy() {
    let Some(topo) = topology("tcrresh") else { return };
    let _web = common::http::echo(&topo, "198.51.100.10:80", "web");
    let rx = udp_receivers(&topo, &[180, 181]);
    let dir = socket_dir("tcrresh");
    let cfg = format!(
        "global\n    stats socket {}/PORT.sock level admin\n{}frontend f\n    bind 192.0.2.1:PORT\n\
         \x20   log 127.0.0.1:1PORT local0\n    log-format \"%ST %tsc %B %[var(txn.t)]\"\n    default_backend b\n\
         backend b\n    http-request set-var(txn.path) path\n\
         \x20   tcp-response content set-var(txn.t) str(seen)\n\
         \x20   tcp-response content accept if {{ var(txn.path) -m beg /ok }}\n\
         \x20   tcp-response content reject if {{ var(txn.path) -m beg /no }}\n\
         \x20   http-response set-header x-t %[var(txn.t)]\n    server web 198.51.100.10:80\n",
        dir.display(),
        common::http::DEFAULTS
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    let get = |path: &str| format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let mut logged = Vec::new();
    for (port, rx) in [(80, &rx[0]), (81, &rx[1])] {
        // The rules set a variable the HTTP rules read, and accept.
        let out = exchange(&topo, port, &get("/ok"));
        assert!(out.starts_with("HTTP/1.1 200"), "{port}: {out}");
        assert!(out.to_ascii_lowercase().contains("\r\nx-t: seen\r\n"), "{port}: {out}");
        // A rejected response: the client's connection closes without an answer.
        assert_eq!(exchange(&topo, port, &get("/no")), "", "{port}");
        let mut buf = [0u8; 2048];
        let mut lines = Vec::new();
        for _ in 0..2 {
            let n = rx.recv(&mut buf).expect("a log line");
            let line = String::from_utf8_lossy(&buf[..n]).into_owned();
            lines.push(
                line.split_once("]: ")
                    .map(|(_, m)| m.trim_end().to_string())
                    .unwrap_or(line),
            );
        }
        logged.push(lines);
        let rows = csv_rows(&cli(&dir.join(format!("{port}.sock")), "show stat"));
        let dresp = |name: &str| rows.iter().find(|r| r["svname"] == name).map(|r| r["dresp"].clone());
        assert_eq!(dresp("BACKEND").as_deref(), Some("1"), "{port}");
        assert_eq!(dresp("FRONTEND").as_deref(), Some("1"), "{port}");
    }
    // Logged as HAProxy logs them: the denied one `PD`, with no status and no bytes. (The
    // accepted one's byte count differs by the header lines each proxy writes.)
    let without_bytes = |l: &str| -> Vec<String> {
        let mut w: Vec<String> = l.split(' ').map(String::from).collect();
        w.remove(2);
        w
    };
    assert_eq!(
        without_bytes(&logged[0][0]),
        without_bytes(&logged[1][0]),
        "Clearway, then HAProxy"
    );
    assert_eq!(logged[0][1], logged[1][1], "Clearway, then HAProxy");
    assert_eq!(logged[0][1], "-1 PD-- 0 seen");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn wait_end_holds_a_verdict_until_inspection_is_over_as_in_haproxy() {
    let Some(topo) = topology("tcrwe") else { return };
    let _srv = peer_servers(&topo, &["198.51.100.10:80"]);
    // `first`: enough bytes are let in at once, too few are refused once inspection ends
    // (its delay, or the client's end); `delayed`: everything waits for the delay.
    let cfg = format!(
        "{TCP_DEFAULTS}listen first\n    bind 192.0.2.1:PORT\n    tcp-request inspect-delay 1s\n\
         \x20   tcp-request content accept if {{ req.len ge 6 }}\n    tcp-request content reject if WAIT_END\n\
         \x20   server s1 198.51.100.10:80\n\
         listen delayed\n    bind 192.0.2.1:1PORT\n    tcp-request inspect-delay 300ms\n\
         \x20   tcp-request content accept if WAIT_END\n    server s1 198.51.100.10:80\n"
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    let mut seen = Vec::new();
    for port in [80u16, 81] {
        let mut got = vec![server_of(&ask(&topo, &format!("192.0.2.1:{port}"), None))];
        // Too few bytes, the connection kept open: refused when the delay ends.
        got.push(exchange(&topo, port, "hi"));
        // Too few bytes, then the client's end: refused at once.
        let mut s = connect(&topo, &format!("192.0.2.1:{port}"));
        s.write_all(b"hi").expect("send");
        s.shutdown(std::net::Shutdown::Write).expect("shutdown");
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        got.push(String::from_utf8_lossy(&out).into_owned());
        got.push(server_of(&ask(&topo, &format!("192.0.2.1:{}", port + 100), None)));
        seen.push(got);
    }
    assert_eq!(seen[0], ["s1", "", "", "s1"]);
    assert_eq!(seen[0], seen[1], "Clearway and HAProxy differ");
}
