//! The PROXY protocol both ways, with HAProxy as the peer that sends or receives it: whose
//! address a header names becomes the session's (logs, rules, `forwardfor` and `usesrc
//! clientip`: the mmproxy case), only from trusted senders (`expect-proxy`), and servers get
//! the header HAProxy would send, checks included.

mod common;
use common::http::{echo, get, headers, DEFAULTS};
use common::*;
use std::path::Path;

/// HAProxy as the load balancer in front: it sends the header, Clearway believes it.
#[test]
fn a_balancer_in_front_sends_it_and_servers_see_the_real_client() {
    let Some(topo) = topology("ppin") else { return };
    topo.apply_manual_tproxy();
    let _tcp = peer_servers(&topo, &["198.51.100.10:80"]);
    let _web = echo(&topo, "198.51.100.11:80", "web");
    let pki = clearway_testkit::Pki::new("ppin");
    let leaf = pki.leaf("lb", &["lb.test"]);
    // The mmproxy case: servers without PROXY support see the client as their TCP peer. And
    // TLS after the header, as behind a cloud load balancer.
    let cw = format!(
        "{TCP_DEFAULTS}frontend pp_tcp\n    bind 127.0.0.1:8001 accept-proxy\n    default_backend bk_tcp\n\
         frontend pp_http\n    mode http\n    bind 127.0.0.1:8002 accept-proxy\n    bind 127.0.0.1:8003 accept-proxy ssl crt {}\n\
         \x20   option forwardfor\n    http-request set-header x-pp \"%[fc_rcvd_proxy] %[fc_pp_unique_id]\"\n    default_backend bk_http\n\
         backend bk_tcp\n    source 0.0.0.0 usesrc clientip\n    server s1 198.51.100.10:80\n\
         backend bk_http\n    mode http\n    server web 198.51.100.11:80\n",
        leaf.pem.display()
    );
    let _cw = start(&topo, &cw, &[8001, 8002, 8003]);
    let front = format!(
        "{TCP_DEFAULTS}listen v1\n    bind 192.0.2.1:81\n    server cw 127.0.0.1:8001 send-proxy\n\
         listen v2\n    bind 192.0.2.1:82\n    server cw 127.0.0.1:8001 send-proxy-v2\n\
         listen web\n    bind 192.0.2.1:83\n    unique-id-format abc123\n    server cw 127.0.0.1:8002 send-proxy-v2 proxy-v2-options unique-id\n\
         listen tls\n    bind 192.0.2.1:84\n    server cw 127.0.0.1:8003 send-proxy\n"
    );
    let _hap = clearway_testkit::Clearway::start(&topo.lb, Path::new("/usr/sbin/haproxy"), &front, &[81, 82, 83, 84]);
    for (port, from) in [
        (81, "192.0.2.2"),
        (81, "192.0.2.3"),
        (82, "192.0.2.3"),
        (82, "192.0.2.2"),
    ] {
        let answer = ask(&topo, &format!("192.0.2.1:{port}"), Some(from));
        assert_eq!(peer_of(&answer).ip().to_string(), from, "port {port}: {answer}");
    }
    let body = get(&topo, "http://192.0.2.1:83/", &["--interface", "192.0.2.3"]);
    assert_eq!(headers(&body, "x-forwarded-for"), ["192.0.2.3"], "{body}");
    // What the header said, for rules: it came, and the sender's unique id.
    assert_eq!(headers(&body, "x-pp"), ["1 abc123"], "{body}");
    let body = get(&topo, "http://192.0.2.1:83/", &["--interface", "192.0.2.2"]);
    assert_eq!(headers(&body, "x-forwarded-for"), ["192.0.2.2"], "{body}");
    let body = get(&topo, "https://192.0.2.1:84/", &["-k", "--interface", "192.0.2.3"]);
    assert_eq!(headers(&body, "x-forwarded-for"), ["192.0.2.3"], "{body}");
}

/// HAProxy behind, as the server: it says what the header it received told it.
const HAPROXY_RECEIVER: &str = "defaults\n    mode http\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n\
     frontend pp\n    bind 127.0.0.1:9001 accept-proxy\n    \
     http-request return status 200 content-type text/plain lf-string \"src=%[src]:%[src_port] dst=%[dst]:%[dst_port] authority=%[fc_pp_authority] uid=%[fc_pp_unique_id]\\n\"\n\
     frontend plain\n    bind 127.0.0.1:9002\n    http-request return status 200 content-type text/plain string ok\n";

fn value<'a>(body: &'a str, key: &str) -> &'a str {
    body.split_whitespace()
        .find_map(|w| w.strip_prefix(key))
        .unwrap_or_else(|| panic!("no {key} in {body:?}"))
}

#[test]
fn servers_receive_the_header_haproxy_would_send() {
    let Some(topo) = topology("ppout") else { return };
    let pki = clearway_testkit::Pki::new("pp");
    let leaf = pki.leaf("lb", &["www.example.com"]);
    let _hap = clearway_testkit::Clearway::start(
        &topo.lb,
        Path::new("/usr/sbin/haproxy"),
        HAPROXY_RECEIVER,
        &[9001, 9002],
    );
    let cfg = format!(
        "{TCP_DEFAULTS}frontend v1\n    bind 192.0.2.1:80\n    default_backend b1\n\
         frontend v2\n    bind 192.0.2.1:81\n    default_backend b2\n\
         frontend tls\n    bind 192.0.2.1:443 ssl crt {}\n    default_backend b2\n\
         frontend web\n    mode http\n    bind 192.0.2.1:82\n    default_backend b3\n\
         frontend ids\n    mode http\n    bind 192.0.2.1:83\n    unique-id-format TEST-%[path]\n    default_backend b4\n\
         backend b1\n    server h 127.0.0.1:9001 send-proxy\n\
         backend b2\n    server h 127.0.0.1:9001 send-proxy-v2 proxy-v2-options authority,crc32c,ssl-cipher\n\
         backend b3\n    mode http\n    http-reuse always\n    server h 127.0.0.1:9001 send-proxy-v2\n\
         backend b4\n    mode http\n    server h 127.0.0.1:9001 send-proxy-v2 proxy-v2-options unique-id\n",
        leaf.pem.display()
    );
    let _cw = start(&topo, &cfg, &[80, 81, 82, 83, 443]);
    for (port, version) in [(80, "v1"), (81, "v2")] {
        let body = get(
            &topo,
            &format!("http://192.0.2.1:{port}/"),
            &["--interface", "192.0.2.3"],
        );
        assert!(value(&body, "src=").starts_with("192.0.2.3:"), "{version}: {body}");
        assert_eq!(value(&body, "dst="), format!("192.0.2.1:{port}"), "{version}: {body}");
        assert_eq!(value(&body, "authority="), "", "{version}: {body}");
    }
    // TLS terminated here: the name the client asked for goes on as the authority (and
    // HAProxy checked the CRC32C on the way).
    let body = get(
        &topo,
        "https://www.example.com/",
        &[
            "-k",
            "--resolve",
            "www.example.com:443:192.0.2.1",
            "--interface",
            "192.0.2.2",
        ],
    );
    assert!(value(&body, "src=").starts_with("192.0.2.2:"), "{body}");
    assert_eq!(value(&body, "dst="), "192.0.2.1:443", "{body}");
    assert_eq!(value(&body, "authority="), "www.example.com", "{body}");
    // mode http, even with `http-reuse always`: a server connection that began with one
    // client's header never carries another client's requests.
    for from in ["192.0.2.2", "192.0.2.3", "192.0.2.2", "192.0.2.3"] {
        let body = get(&topo, "http://192.0.2.1:82/", &["--interface", from]);
        assert!(value(&body, "src=").starts_with(&format!("{from}:")), "{from}: {body}");
    }
    // `proxy-v2-options unique-id`: each request's own id, also for two requests on one
    // client connection (a header names one request, so its connection serves no other).
    let body = common::http::get_all(&topo, &["http://192.0.2.1:83/a", "http://192.0.2.1:83/b"], &[]);
    let ids: Vec<&str> = body.split_whitespace().filter_map(|w| w.strip_prefix("uid=")).collect();
    assert_eq!(ids, ["TEST-/a", "TEST-/b"], "{body}");
    assert_eq!(
        value(&get(&topo, "http://192.0.2.1:82/", &[]), "uid="),
        "",
        "not asked for"
    );
}

#[test]
fn a_unique_id_tlv_needs_mode_http() {
    let cfg = format!(
        "{TCP_DEFAULTS}frontend f\n    bind 127.0.0.1:8080\n    default_backend b\n\
         backend b\n    server h 127.0.0.1:9001 send-proxy-v2 proxy-v2-options unique-id\n"
    );
    let out = clearway_testkit::Clearway::check(binary(), &cfg);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("needs 'mode http'"), "{err}");
}

/// Checks of a `send-proxy` server start with a header too (LOCAL / UNKNOWN), unless they go
/// to their own port without `check-send-proxy`, as HAProxy's.
#[test]
fn checks_send_it_as_haproxy_does() {
    let Some(topo) = topology("ppchk") else { return };
    let _hap = clearway_testkit::Clearway::start(
        &topo.lb,
        Path::new("/usr/sbin/haproxy"),
        HAPROXY_RECEIVER,
        &[9001, 9002],
    );
    let sock = std::env::temp_dir().join(format!("pp-checks-{}.sock", std::process::id()));
    let cfg = format!(
        "global\n    stats socket {}\n{DEFAULTS}frontend f\n    bind 192.0.2.1:80\n    default_backend b\n\
         backend b\n    option httpchk GET /\n    default-server check inter 300ms fall 1 rise 1\n\
         \x20   server v1 127.0.0.1:9001 send-proxy\n\
         \x20   server v2 127.0.0.1:9001 send-proxy-v2 proxy-v2-options crc32c\n\
         \x20   server plain 127.0.0.1:9001\n\
         \x20   server own-port 127.0.0.1:9002 send-proxy-v2 port 9001\n\
         \x20   server forced 127.0.0.1:9002 send-proxy-v2 port 9001 check-send-proxy\n",
        sock.display()
    );
    let _cw = start(&topo, &cfg, &[80]);
    let status = |sv: &str| -> String {
        let rows = csv_rows(&cli(&sock, "show stat"));
        rows.iter()
            .find(|r| r["pxname"] == "b" && r["svname"] == sv)
            .map(|r| r["status"].clone())
            .unwrap_or_default()
    };
    let expected = [
        ("v1", "UP"),
        ("v2", "UP"),
        ("plain", "DOWN"),
        ("own-port", "DOWN"),
        ("forced", "UP"),
    ];
    assert!(
        eventually(|| expected.iter().all(|(sv, st)| status(sv) == *st)),
        "{:?}",
        expected.map(|(sv, _)| (sv, status(sv)))
    );
    let _ = std::fs::remove_file(&sock);
}

/// `expect-proxy layer4 if COND`: only trusted senders are believed; a bad header closes the
/// connection before any server sees it; session rules see the header's address and connection
/// rules the real one. Side by side with HAProxy on the same config.
#[test]
fn only_trusted_senders_are_believed_as_in_haproxy() {
    let Some(topo) = topology("pptrust") else { return };
    let web = echo(&topo, "198.51.100.10:80", "web");
    let cfg = format!(
        "{DEFAULTS}frontend f\n    bind 192.0.2.1:PORT\n    option forwardfor\n\
         \x20   tcp-request connection reject if {{ src 10.9.8.7 }}\n\
         \x20   tcp-request connection expect-proxy layer4 if {{ src 192.0.2.3 }}\n\
         \x20   tcp-request session reject if {{ src 10.66.0.0/16 }}\n    default_backend b\n\
         backend b\n    server web 198.51.100.10:80\n"
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    let send = |port: u16, from: &str, head: &[u8]| -> String {
        let req = [head, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"].concat();
        clearway_testkit::request(
            &topo.client,
            addr(&format!("192.0.2.1:{port}")),
            Some(from.parse().unwrap()),
            &req,
            TIMEOUT,
        )
        .unwrap_or_default()
    };
    let header = b"PROXY TCP4 10.9.8.7 192.0.2.1 1234 80\r\n";
    for port in [80, 81] {
        let who = if port == 80 { "clearway" } else { "haproxy" };
        // Trusted: the header's client (not refused by the connection rule naming it).
        let a = send(port, "192.0.2.3", header);
        assert_eq!(headers(&a, "x-forwarded-for"), ["10.9.8.7"], "{who}: {a}");
        // Version 2 too.
        let mut v2 = b"\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0c".to_vec();
        v2.extend_from_slice(&[10, 9, 8, 6, 192, 0, 2, 1, 4, 210, 0, 80]);
        let a = send(port, "192.0.2.3", &v2);
        assert_eq!(headers(&a, "x-forwarded-for"), ["10.9.8.6"], "{who}: {a}");
        // Untrusted: the line is no header but a bad request line.
        let a = send(port, "192.0.2.2", header);
        assert!(a.starts_with("HTTP/1.1 400"), "{who}: {a}");
        // Without a header where one is expected, or a broken one: closed, nothing answered.
        let before = web.count();
        for bad in [
            "",
            "PROXY TCP4 10.9.8.7 192.0.2.1 1234\r\n",
            "PROXY TCP5 10.9.8.7 192.0.2.1 1 2\r\n",
        ] {
            let a = send(port, "192.0.2.3", bad.as_bytes());
            assert_eq!(a, "", "{who}: {bad:?}");
        }
        // A session rule sees the header's address.
        let a = send(port, "192.0.2.3", b"PROXY TCP4 10.66.1.1 192.0.2.1 1234 80\r\n");
        assert_eq!(a, "", "{who}");
        assert_eq!(web.count(), before, "{who}: no server saw those");
        // UNKNOWN: the connection's own address stands.
        let a = send(port, "192.0.2.3", b"PROXY UNKNOWN\r\n");
        assert_eq!(headers(&a, "x-forwarded-for"), ["192.0.2.3"], "{who}: {a}");
    }
}
