//! HTTP health checks written with `http-check connect|send|expect`, `disable-on-404` and
//! `send-state`, side by side with HAProxy: what the servers receive and what each proxy
//! makes of their answers.

mod common;

use common::http::DEFAULTS;
use common::*;
use std::path::{Path, PathBuf};

/// A scripted HTTP server (socat): records each request head it gets in `got-PORT` and
/// answers the contents of `reply-PORT`. Killed on drop.
struct Server {
    child: std::process::Child,
}

impl Server {
    fn start(topo: &clearway_testkit::Topology, ip: &str, port: u16, dir: &Path, reply: &str) -> Server {
        let (got, answer) = (dir.join(format!("got-{port}")), dir.join(format!("reply-{port}")));
        std::fs::write(&answer, reply).unwrap();
        // Lines until the blank one, each without its CR; then a separator; then the reply.
        let script = format!(
            "while IFS= read -r l; do l=$(printf '%s' \"$l\" | tr -d '\\r'); [ -z \"$l\" ] && break; \
             echo \"$l\" >> {g}; done; echo -- >> {g}; cat {a}",
            g = got.display(),
            a = answer.display()
        );
        let file = dir.join(format!("server-{port}.sh"));
        std::fs::write(&file, script).unwrap();
        let listen = format!("TCP-LISTEN:{port},bind={ip},fork,reuseaddr");
        Server {
            child: topo
                .server
                .spawn("socat", &[&listen, &format!("SYSTEM:sh {}", file.display())]),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(clearway_testkit::netns::unique_name(tag));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The request heads a `Server` on `port` got, oldest first.
fn requests(dir: &Path, port: u16) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join(format!("got-{port}"))).unwrap_or_default();
    let mut all: Vec<String> = text.split("--\n").map(str::to_string).collect();
    all.pop();
    all
}

/// `server -> (status, check_status, last_chk)` of `show stat`, one backend's servers.
fn checks(dir: &Path, port: u16) -> Vec<(String, String, String, String)> {
    csv_rows(&cli(&dir.join(format!("{port}.sock")), "show stat"))
        .into_iter()
        .filter(|r| r["svname"] != "FRONTEND" && r["svname"] != "BACKEND")
        .map(|r| {
            (
                format!("{}/{}", r["pxname"], r["svname"]),
                r["status"].clone(),
                r["check_status"].trim_start_matches("* ").to_string(),
                r["last_chk"].clone(),
            )
        })
        .collect()
}

const OK: &str = "HTTP/1.1 200 OK\r\nX-State: up, ready\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";

#[test]
fn send_rules_build_the_request_and_header_expectations_judge_it_as_haproxy_does() {
    let Some(topo) = topology("hcsend") else { return };
    let dir = temp_dir("hcsend");
    let _servers: Vec<Server> = [180, 181, 280, 281]
        .into_iter()
        .map(|p| Server::start(&topo, "198.51.100.10", p, &dir, OK))
        .collect();
    let cfg = format!(
        "global\n    stats socket {d}/PORT.sock level admin\n{DEFAULTS}\
         frontend ft\n    bind 192.0.2.1:PORT\n    default_backend a\n\
         backend a\n    option httpchk HEAD /ignored\n\
         \x20   http-check send meth GET uri /health ver HTTP/1.1 hdr Host svc.test hdr X-Check yes body ping\n\
         \x20   http-check expect status 200\n\
         \x20   http-check expect hdr name x-state value -m str ready\n\
         \x20   server s 198.51.100.10:1PORT check inter 200ms\n\
         backend b\n    option httpchk GET /b\n\
         \x20   http-check expect comment not-ready fhdr name -m beg X-St value ready\n\
         \x20   server s 198.51.100.10:2PORT check inter 200ms rise 1 fall 1\n",
        d = dir.display()
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    let settled = |port: u16| {
        eventually(|| {
            checks(&dir, port)
                .iter()
                .all(|(_, _, c, _)| !c.is_empty() && !c.starts_with("INI"))
                && requests(&dir, 100 + port).len() >= 2
        })
    };
    assert!(settled(80) && settled(81));
    // HAProxy empties `last_chk` while a check runs: compared between checks.
    assert!(
        eventually(|| checks(&dir, 80) == checks(&dir, 81)),
        "clearway {:?}\nhaproxy {:?}",
        checks(&dir, 80),
        checks(&dir, 81)
    );
    let ours = checks(&dir, 80);
    let want = |name: &str, status: &str, code: &str| {
        let row = ours.iter().find(|(n, ..)| n == name).unwrap();
        assert_eq!((row.1.as_str(), row.2.as_str()), (status, code), "{ours:?}");
    };
    want("a/s", "UP", "L7OK");
    // `fhdr` takes the whole value: "up, ready" is not "ready".
    want("b/s", "DOWN", "L7STS");
    // The request the server got: the send rule's line and headers, a close, the body's length.
    let (mine, hers) = (requests(&dir, 180), requests(&dir, 181));
    let lower = |r: &String| r.to_ascii_lowercase();
    assert_eq!(
        lower(&mine[0]),
        lower(&hers[0]),
        "clearway:\n{}\nhaproxy:\n{}",
        mine[0],
        hers[0]
    );
    assert!(mine[0].starts_with("GET /health HTTP/1.1\n"), "{}", mine[0]);
    for h in [
        "host: svc.test",
        "x-check: yes",
        "connection: close",
        "content-length: 4",
    ] {
        assert!(lower(&mine[0]).contains(h), "{h}: {}", mine[0]);
    }
    assert!(requests(&dir, 280)[0].starts_with("GET /b HTTP/1.0\n"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn connect_rules_open_their_own_connections_with_their_port_and_tls_as_haproxy_does() {
    let Some(topo) = topology("hcconn") else { return };
    let dir = temp_dir("hcconn");
    let pki = clearway_testkit::Pki::new("pki");
    let srv = pki.leaf("srv", &["srv.test"]);
    // A TLS server that answers only clients naming it, on 8443; plain answers on 180/181.
    let tls_cfg = format!(
        "{DEFAULTS}frontend tls\n    bind 198.51.100.11:8443 ssl strict-sni crt {}\n\
         \x20   http-request return status 200 if {{ path /tls }}\n    http-request return status 404\n",
        srv.pem.display(),
    );
    let _tls = clearway_testkit::Clearway::start(&topo.server, Path::new("/usr/sbin/haproxy"), &tls_cfg, &[8443]);
    let _plain: Vec<Server> = [180, 181]
        .into_iter()
        .map(|p| Server::start(&topo, "198.51.100.11", p, &dir, OK))
        .collect();
    let cfg = format!(
        "global\n    stats socket {d}/PORT.sock level admin\n{DEFAULTS}\
         frontend ft\n    bind 192.0.2.1:PORT\n    default_backend both\n\
         backend both\n    option httpchk\n\
         \x20   http-check connect\n    http-check send meth GET uri /plain\n    http-check expect status 200\n\
         \x20   http-check connect port 8443 ssl sni srv.test\n    http-check send meth GET uri /tls ver HTTP/1.1 hdr Host srv.test\n\
         \x20   http-check expect status 200\n\
         \x20   server s 198.51.100.11:1PORT check inter 200ms ca-file {ca}\n\
         backend nosni\n    option httpchk\n\
         \x20   http-check connect port 8443 ssl\n    http-check send meth GET uri /tls\n\
         \x20   server s 198.51.100.11:1PORT check inter 200ms ca-file {ca} rise 1 fall 1\n\
         backend wrongpath\n    option httpchk\n\
         \x20   http-check connect port 8443 ssl sni srv.test\n    http-check send meth GET uri /other\n\
         \x20   server s 198.51.100.11:1PORT check inter 200ms ca-file {ca} rise 1 fall 1\n",
        d = dir.display(),
        ca = pki.ca_file().display(),
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    let settled = |port: u16| {
        eventually(|| {
            checks(&dir, port)
                .iter()
                .all(|(_, _, c, _)| !c.is_empty() && !c.starts_with("INI"))
        })
    };
    assert!(settled(80) && settled(81));
    std::thread::sleep(std::time::Duration::from_millis(500));
    let status = |port: u16| -> Vec<(String, String, String)> {
        checks(&dir, port).into_iter().map(|(n, s, c, _)| (n, s, c)).collect()
    };
    let (ours, theirs) = (status(80), status(81));
    assert_eq!(ours, theirs);
    let row = |n: &str| ours.iter().find(|r| r.0 == n).unwrap().clone();
    assert_eq!(
        (row("both/s").1, row("both/s").2),
        ("UP".into(), "L7OK".into()),
        "{ours:?}"
    );
    assert_eq!(
        row("nosni/s").1,
        "DOWN",
        "no SNI: the strict-sni server refuses: {ours:?}"
    );
    assert_eq!(
        (row("wrongpath/s").1, row("wrongpath/s").2),
        ("DOWN".into(), "L7STS".into()),
        "{ours:?}"
    );
    // The plain step reached the server's own port.
    assert!(requests(&dir, 180)
        .iter()
        .any(|r| r.starts_with("GET /plain HTTP/1.0\n")));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn disable_on_404_stops_new_traffic_and_send_state_tells_the_server_as_haproxy_does() {
    let Some(topo) = topology("hc404") else { return };
    let dir = temp_dir("hc404");
    let not_found = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    let _servers: Vec<Server> = [180, 181]
        .into_iter()
        .map(|p| Server::start(&topo, "198.51.100.10", p, &dir, OK))
        .collect();
    let _b = clearway_testkit::HttpEchoServer::start(&topo.server, addr("198.51.100.11:80"), "b");
    let cfg = format!(
        "global\n    stats socket {d}/PORT.sock level admin\n{DEFAULTS}\
         frontend ft\n    bind 192.0.2.1:PORT\n    default_backend bk\n\
         backend bk\n    option httpchk GET /health\n    http-check disable-on-404\n    http-check send-state\n\
         \x20   server a 198.51.100.10:1PORT check inter 200ms rise 1 fall 1\n\
         \x20   server b 198.51.100.11:80\n",
        d = dir.display()
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    let status = |port: u16| {
        checks(&dir, port)
            .into_iter()
            .find(|r| r.0 == "bk/a")
            .map(|r| (r.1, r.2))
    };
    // Both proxies see `bk/a` in `state` with check status `code`.
    let both_see = |state: &str, code: &str| {
        for port in [80, 81] {
            let want = Some((state.to_string(), code.to_string()));
            assert!(eventually(|| status(port) == want), "{:?}", status(port));
        }
    };
    let reply = |text: &str| {
        for port in [180, 181] {
            std::fs::write(dir.join(format!("reply-{port}")), text).unwrap();
        }
    };
    both_see("UP", "L7OK");
    // The state header, as each proxy writes it.
    let state = |port: u16| {
        requests(&dir, 100 + port)
            .last()
            .and_then(|r| {
                r.lines().find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("x-haproxy-server-state: ")
                        .map(str::to_string)
                })
            })
            .unwrap_or_default()
    };
    // The check that found the server up was sent while it was still down: the next one
    // says "up" (each proxy's, once both have sent one since).
    let up = |port: u16| state(port).starts_with("up; ");
    assert!(eventually(|| up(80) && up(81)), "{} / {}", state(80), state(81));
    let (mine, hers) = (state(80), state(81));
    assert!(
        mine.starts_with("up; address=198.51.100.10; port=180; name=bk/a; node="),
        "{mine}"
    );
    assert_eq!(
        mine.replace("port=180", "port=18x"),
        hers.replace("port=181", "port=18x"),
        "clearway: {mine}\nhaproxy: {hers}"
    );
    // A 404: still up, but no new traffic (NOLB).
    reply(not_found);
    both_see("NOLB", "L7OKC");
    for port in [80, 81] {
        let url = format!("http://192.0.2.1:{port}/");
        for _ in 0..4 {
            let got = String::from_utf8_lossy(&topo.client.exec("curl", &["-s", "--max-time", "5", &url]).stdout)
                .into_owned();
            assert!(got.contains("server=b"), "port {port}: {got}");
        }
    }
    // Back to 200: up again.
    reply(OK);
    both_see("UP", "L7OK");
    let _ = std::fs::remove_dir_all(&dir);
}
