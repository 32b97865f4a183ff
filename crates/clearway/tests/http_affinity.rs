//! Which server a client connection's requests go to beyond the balance algorithm, side by
//! side with HAProxy: `option prefer-last-server`, and the stickiness after an NTLM
//! challenge, whose server connection must stay the challenged client's own.

mod common;
use common::http::{echo, get, values, DEFAULTS};
use common::*;
use std::io::{Read, Write};

/// Sends `GET path` on `s` and reads one response: its body.
fn exchange(s: &mut std::net::TcpStream, path: &str) -> String {
    write!(s, "GET {path} HTTP/1.1\r\nHost: lb.test\r\n\r\n").expect("send");
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        assert_eq!(
            s.read(&mut byte).expect("read head"),
            1,
            "closed: {}",
            String::from_utf8_lossy(&buf)
        );
        buf.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buf).to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map(|v| v.trim().parse().expect("length"))
        .unwrap_or_else(|| panic!("no length in {head}"));
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).expect("body");
    String::from_utf8_lossy(&body).into_owned()
}

/// HAProxy in the server namespace at 198.51.100.12:80: a 401 asking for NTLM, with the
/// port the request came from.
fn ntlm_server(topo: &clearway_testkit::Topology) -> clearway_testkit::Clearway {
    let cfg = format!(
        "{DEFAULTS}frontend ntlm\n    bind 198.51.100.12:80\n\
         \x20   http-request return status 401 content-type text/plain hdr WWW-Authenticate NTLM lf-string \"server=ntlm\\nport=%[src_port]\\n\"\n"
    );
    clearway_testkit::Clearway::start(&topo.server, std::path::Path::new("/usr/sbin/haproxy"), &cfg, &[80])
}

const BACKENDS: &str = "frontend ft\n    bind 192.0.2.1:PORT\n    use_backend pl_safe if { path_beg /pl_safe }\n    use_backend pl if { path_beg /pl }\n\
    \x20   use_backend auth if { path_beg /auth }\n    default_backend rr\n\
    backend rr\n    server web1 198.51.100.10:80\n    server web2 198.51.100.11:80\n\
    backend pl\n    option prefer-last-server\n    http-reuse never\n    server web1 198.51.100.10:80\n    server web2 198.51.100.11:80\n\
    backend pl_safe\n    option prefer-last-server\n    server web1 198.51.100.10:80\n    server web2 198.51.100.11:80\n\
    backend auth\n    server web1 198.51.100.10:80\n    server ntlm 198.51.100.12:80\n";

#[test]
fn prefer_last_server_and_ntlm_keep_a_connection_on_its_server_as_haproxy_does() {
    let Some(topo) = topology("haff") else { return };
    let _w1 = echo(&topo, "198.51.100.10:80", "web1");
    let _w2 = echo(&topo, "198.51.100.11:80", "web2");
    let _ntlm = ntlm_server(&topo);
    let (_cw, _hap) = clearway_and_haproxy(&topo, &format!("{DEFAULTS}{BACKENDS}"));
    for port in [80, 81] {
        let to = format!("192.0.2.1:{port}");
        let seq = |path: &str| {
            let mut s = connect(&topo, &to);
            (0..4)
                .map(|_| values(&exchange(&mut s, path), "server").join(""))
                .collect::<Vec<_>>()
        };
        // Round robin alternates; with prefer-last-server one connection stays on one server
        // when the session keeps its server connections (`http-reuse never`), not otherwise.
        for path in ["/rr", "/pl_safe"] {
            let rr = seq(path);
            assert!(rr[0] != rr[1] && rr[0] == rr[2], "port {port} {path}: {rr:?}");
        }
        let pl = seq("/pl");
        assert!(pl.iter().all(|s| *s == pl[0]), "port {port}: {pl:?}");
        // Once the NTLM server challenged a connection, its requests stay there.
        let auth = seq("/auth");
        let first = auth.iter().position(|s| s == "ntlm").expect("ntlm reached");
        assert!(auth[first..].iter().all(|s| s == "ntlm"), "port {port}: {auth:?}");
        // ... on a server connection no other client gets while the first one is open.
        let mut a = connect(&topo, &to);
        let port_of = |body: &str| values(body, "port").join("");
        let a_port = loop {
            let b = exchange(&mut a, "/auth");
            if values(&b, "server") == ["ntlm"] {
                break port_of(&b);
            }
        };
        assert_eq!(
            port_of(&exchange(&mut a, "/auth")),
            a_port,
            "port {port}: the challenged connection moved"
        );
        let mut b = connect(&topo, &to);
        let b_port = loop {
            let body = exchange(&mut b, "/auth");
            if values(&body, "server") == ["ntlm"] {
                break port_of(&body);
            }
        };
        assert_ne!(
            a_port, b_port,
            "port {port}: another client got the challenged connection"
        );
    }
}

#[test]
fn use_server_assigns_a_server_unless_it_is_stopped_and_force_persist_insists_as_haproxy_does() {
    let Some(topo) = topology("huse") else { return };
    let _w1 = echo(&topo, "198.51.100.10:80", "web1");
    let _w2 = echo(&topo, "198.51.100.11:80", "web2");
    let _w3 = echo(&topo, "198.51.100.12:80", "web3");
    let dir = std::env::temp_dir().join(clearway_testkit::netns::unique_name("huse"));
    std::fs::create_dir_all(&dir).unwrap();
    // web2 and web3 take no balanced traffic (weight 0); `dead` has no server behind it and
    // its checks say so.
    let cfg = format!(
        "global\n    stats socket {d}/PORT.sock level admin\n{DEFAULTS}    timeout connect 500ms\n\
         frontend ft\n    bind 192.0.2.1:PORT\n    default_backend bk\n\
         backend bk\n    retries 1\n    option redispatch\n\
         \x20   use-server web2 if {{ path_beg /two }}\n\
         \x20   use-server web3 if {{ hdr(x-to) three }}\n\
         \x20   use-server dead if {{ path_beg /dead }}\n\
         \x20   use-server web2 if {{ path_beg /dead }}\n\
         \x20   force-persist if {{ hdr(x-force) yes }}\n\
         \x20   server dead 198.51.100.13:80 check inter 200ms fall 1 rise 1\n\
         \x20   server web1 198.51.100.10:80\n\
         \x20   server web2 198.51.100.11:80 weight 0\n\
         \x20   server web3 198.51.100.12:80 weight 0\n",
        d = dir.display()
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    for port in [80u16, 81] {
        let sock = dir.join(format!("{port}.sock"));
        let dead_down = || {
            csv_rows(&cli(&sock, "show stat"))
                .iter()
                .any(|r| r["svname"] == "dead" && r["status"].contains("DOWN"))
        };
        assert!(eventually(dead_down), "{port}: dead not seen down");
        let server = |path: &str, opts: &[&str]| -> String {
            let body = get(&topo, &format!("http://192.0.2.1:{port}{path}"), opts);
            values(&body, "server").join(",")
        };
        assert_eq!(server("/two", &[]), "web2", "{port}: weight 0 does not stop a rule");
        assert_eq!(server("/", &["-H", "x-to: three"]), "web3", "{port}");
        assert_eq!(server("/", &[]), "web1", "{port}: no rule holds: balanced");
        assert_eq!(
            server("/dead", &[]),
            "web2",
            "{port}: a down server's rule is passed over"
        );
        // force-persist: the down server all the same, and no redispatch away from it.
        let forced = http_code(&topo, &format!("http://192.0.2.1:{port}/dead"), &["-H", "x-force: yes"]);
        assert_eq!(forced, "503", "{port}");
        // Draining does not stop a server; maintenance does.
        cli(&sock, "set server bk/web2 state drain");
        assert_eq!(server("/two", &[]), "web2", "{port}: draining");
        cli(&sock, "set server bk/web2 state maint");
        assert_eq!(server("/two", &[]), "web1", "{port}: in maintenance");
        assert_eq!(server("/two", &["-H", "x-force: yes"]), "web2", "{port}: forced");
        cli(&sock, "set server bk/web2 state ready");
    }
    let _ = std::fs::remove_dir_all(dir);
}
