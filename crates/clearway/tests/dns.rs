//! Run-time DNS (`resolvers` sections, `server-template`), side by side with HAProxy: a real
//! DNS server (dnsmasq) in the server namespace answers from a hosts file the test rewrites
//! while clients connect, over UDP and over TCP (`nameserver NAME tcp@IP:PORT`).

mod common;

use clearway_testkit::Topology;
use common::*;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// dnsmasq on 198.51.100.12:53 answering for `.test` from a hosts file (NXDOMAIN for
/// names it lacks); killed on drop.
struct Dns {
    child: std::process::Child,
    hosts: PathBuf,
}

impl Dns {
    fn start(topo: &Topology, dir: &Path, hosts: &str) -> Dns {
        Dns::start_with(topo, dir, hosts, &[])
    }

    /// With more options, such as `--srv-host` records.
    fn start_with(topo: &Topology, dir: &Path, hosts: &str, more: &[&str]) -> Dns {
        let file = dir.join("hosts");
        std::fs::write(&file, hosts).expect("hosts file");
        let hosts_arg = format!("--addn-hosts={}", file.display());
        let mut args = vec![
            "--keep-in-foreground",
            "--no-resolv",
            "--no-hosts",
            "--user=root",
            "--pid-file=",
            "--listen-address=198.51.100.12",
            "--bind-interfaces",
            "--port=53",
            "--local=/test/",
            "--local-ttl=0",
            &hosts_arg,
        ];
        args.extend_from_slice(more);
        let child = topo.server.spawn("dnsmasq", &args);
        let dns = Dns { child, hosts: file };
        assert!(
            eventually(|| topo.server.sh("ss -Hlun 'sport = :53'").contains("198.51.100.12")),
            "dnsmasq did not start (package dnsmasq-base)"
        );
        dns
    }

    /// New records; dnsmasq reads its hosts files again on SIGHUP.
    fn set(&self, hosts: &str) {
        std::fs::write(&self.hosts, hosts).expect("hosts file");
        let _ = std::process::Command::new("kill")
            .args(["-HUP", &self.child.id().to_string()])
            .status();
    }
}

impl Drop for Dns {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cw-dns-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

const RESOLVERS: &str = "resolvers dns\n    nameserver ns1 198.51.100.12:53\n    hold valid 100ms\n    hold nx 300ms\n\
                         \x20   timeout resolve 100ms\n    timeout retry 300ms\n";

/// Clearway and HAProxy side by side in `mode tcp` on 192.0.2.1, each with a stats socket
/// in `dir`, before a backend of `servers` (its lines, indented) resolved through `dns`.
fn proxies(topo: &Topology, dir: &Path, servers: &str) -> (clearway_testkit::Clearway, clearway_testkit::Clearway) {
    let cfg = format!(
        "global\n    stats socket {d}/PORT.sock level admin\n{RESOLVERS}{TCP_DEFAULTS}\
         frontend ft\n    bind 192.0.2.1:PORT\n    default_backend bk\n\
         backend bk\n    balance roundrobin\n{servers}",
        d = dir.display()
    );
    clearway_and_haproxy(topo, &cfg)
}

/// `(status, addr)` of each server row of `show stat`, by server name.
fn servers(sock: &Path) -> Vec<(String, String, String)> {
    csv_rows(&cli(sock, "show stat"))
        .into_iter()
        .filter(|r| r["svname"] != "FRONTEND" && r["svname"] != "BACKEND")
        .map(|r| (r["svname"].clone(), r["status"].clone(), r["addr"].clone()))
        .collect()
}

#[test]
fn a_changed_record_moves_the_server_while_clients_connect_as_in_haproxy() {
    let Some(topo) = topology("dnsmove") else { return };
    let dir = temp_dir("move");
    let dns = Dns::start(&topo, &dir, "198.51.100.10 app.test\n");
    let _peers = peer_servers(&topo, &["198.51.100.10:80", "198.51.100.11:80"]);
    let (_cw, _hap) = proxies(&topo, &dir, "    server app app.test:80 resolvers dns init-addr none\n");
    let sock = |port: u16| dir.join(format!("{port}.sock"));
    for port in [80, 81] {
        assert!(
            eventually(|| servers(&sock(port)) == [("app".into(), "no check".into(), "198.51.100.10:80".into())]),
            "port {port}: {:?}",
            servers(&sock(port))
        );
    }
    // Clients keep connecting to both while the record changes.
    let stop = Arc::new(AtomicBool::new(false));
    let seen: Arc<Mutex<Vec<(u16, String)>>> = Arc::default();
    let client = {
        let (stop, seen) = (stop.clone(), seen.clone());
        let client_ns = topo.client.name().to_string();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                for port in [80u16, 81] {
                    let out = std::process::Command::new("ip")
                        .args([
                            "netns",
                            "exec",
                            &client_ns,
                            "socat",
                            "-T5",
                            "-",
                            &format!("TCP:192.0.2.1:{port}"),
                        ])
                        .stdin(std::process::Stdio::piped())
                        .stdout(std::process::Stdio::piped())
                        .spawn()
                        .and_then(|mut c| {
                            use std::io::Write;
                            c.stdin.take().expect("stdin").write_all(b"hello\n")?;
                            c.wait_with_output()
                        })
                        .expect("socat");
                    let text = String::from_utf8_lossy(&out.stdout).into_owned();
                    let who = text
                        .split_whitespace()
                        .find_map(|w| w.strip_prefix("server="))
                        .unwrap_or("FAILED")
                        .to_string();
                    seen.lock().unwrap().push((port, who));
                }
            }
        })
    };
    assert!(eventually(|| seen.lock().unwrap().len() >= 4));
    dns.set("198.51.100.11 app.test\n");
    for port in [80, 81] {
        assert!(
            eventually(|| servers(&sock(port)) == [("app".into(), "no check".into(), "198.51.100.11:80".into())]),
            "port {port}: {:?}",
            servers(&sock(port))
        );
    }
    let moved_at = seen.lock().unwrap().len();
    assert!(eventually(|| seen.lock().unwrap().len() >= moved_at + 4));
    stop.store(true, Ordering::Relaxed);
    client.join().expect("client thread");
    let seen = seen.lock().unwrap().clone();
    for port in [80, 81] {
        let mine: Vec<&str> = seen
            .iter()
            .filter(|(p, _)| *p == port)
            .map(|(_, w)| w.as_str())
            .collect();
        // Every connection was served: by s1 until the move, then by s2 (never back).
        let switch = mine.iter().position(|w| *w != "s1").unwrap_or(mine.len());
        assert!(switch > 0, "port {port}: {mine:?}");
        assert!(mine[switch..].iter().all(|w| *w == "s2"), "port {port}: {mine:?}");
        assert_eq!(mine.last(), Some(&"s2"), "port {port}: {mine:?}");
    }
    // The name disappears: after `hold nx`, the server is in maintenance, without an address.
    dns.set("");
    for port in [80, 81] {
        assert!(
            eventually(|| servers(&sock(port)) == [("app".into(), "MAINT (resolution)".into(), String::new())]),
            "port {port}: {:?}",
            servers(&sock(port))
        );
        let answer = clearway_testkit::request(
            &topo.client,
            addr(&format!("192.0.2.1:{port}")),
            None,
            b"hello\n",
            TIMEOUT,
        )
        .unwrap_or_default();
        assert!(!answer.contains("server="), "port {port}: {answer:?}");
    }
    // And comes back.
    dns.set("198.51.100.10 app.test\n");
    for port in [80, 81] {
        assert!(
            eventually(|| servers(&sock(port)) == [("app".into(), "no check".into(), "198.51.100.10:80".into())]),
            "port {port}: {:?}",
            servers(&sock(port))
        );
        assert_eq!(server_of(&ask(&topo, &format!("192.0.2.1:{port}"), None)), "s1");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_server_template_takes_one_address_per_slot_as_in_haproxy() {
    let Some(topo) = topology("dnstmpl") else { return };
    let dir = temp_dir("tmpl");
    let dns = Dns::start(&topo, &dir, "198.51.100.10 web.test\n198.51.100.11 web.test\n");
    let _peers = peer_servers(&topo, &["198.51.100.10:80", "198.51.100.11:80"]);
    let (_cw, _hap) = proxies(
        &topo,
        &dir,
        "    server-template web 1-3 web.test:80 resolvers dns init-addr none\n",
    );
    let sock = |port: u16| dir.join(format!("{port}.sock"));
    // Which slot gets which address may differ (HAProxy rotates the answers); what each
    // backend holds may not.
    let state = |port: u16| {
        let mut s: Vec<(String, String)> = servers(&sock(port)).into_iter().map(|(_, st, a)| (st, a)).collect();
        s.sort();
        s
    };
    let want = |addrs: &[&str]| {
        let mut w: Vec<(String, String)> = addrs
            .iter()
            .map(|a| {
                if a.is_empty() {
                    ("MAINT (resolution)".to_string(), String::new())
                } else {
                    ("no check".to_string(), format!("{a}:80"))
                }
            })
            .collect();
        w.sort();
        w
    };
    for port in [80, 81] {
        let names: Vec<String> = servers(&sock(port)).into_iter().map(|(n, _, _)| n).collect();
        assert_eq!(names, ["web1", "web2", "web3"]);
        assert!(
            eventually(|| state(port) == want(&["198.51.100.10", "198.51.100.11", ""])),
            "port {port}: {:?}",
            state(port)
        );
        // Both addresses take traffic.
        let mut who: Vec<String> = (0..4)
            .map(|_| server_of(&ask(&topo, &format!("192.0.2.1:{port}"), None)))
            .collect();
        who.sort();
        who.dedup();
        assert_eq!(who, ["s1", "s2"], "port {port}");
    }
    // A third address fills the free slot; the others keep theirs.
    let before: Vec<_> = servers(&sock(80));
    dns.set("198.51.100.10 web.test\n198.51.100.11 web.test\n198.51.100.12 web.test\n");
    for port in [80, 81] {
        assert!(
            eventually(|| state(port) == want(&["198.51.100.10", "198.51.100.11", "198.51.100.12"])),
            "port {port}: {:?}",
            state(port)
        );
    }
    for (name, _, a) in before.iter().filter(|(_, _, a)| !a.is_empty()) {
        let now = servers(&sock(80));
        assert!(now.iter().any(|(n, _, b)| n == name && b == a), "{name} moved: {now:?}");
    }
    // One address goes: its slot goes back into maintenance.
    dns.set("198.51.100.11 web.test\n198.51.100.12 web.test\n");
    for port in [80, 81] {
        assert!(
            eventually(|| state(port) == want(&["198.51.100.11", "198.51.100.12", ""])),
            "port {port}: {:?}",
            state(port)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn srv_records_fill_a_server_template_with_their_targets_ports_and_weights_as_in_haproxy() {
    let Some(topo) = topology("dnssrv") else { return };
    let dir = temp_dir("srv");
    let hosts = "198.51.100.10 a.test\n198.51.100.11 b.test\n";
    let a = "--srv-host=_app._tcp.svc.test,a.test,8080,0,256";
    let b = "--srv-host=_app._tcp.svc.test,b.test,8081,0,1000";
    let dns = Dns::start_with(&topo, &dir, hosts, &[a, b]);
    let _peers = peer_servers(&topo, &["198.51.100.10:8080", "198.51.100.11:8081"]);
    let (_cw, _hap) = proxies(
        &topo,
        &dir,
        "    server-template app 3 _app._tcp.svc.test resolvers dns init-addr none\n",
    );
    let sock = |port: u16| dir.join(format!("{port}.sock"));
    let state = |port: u16| {
        let mut s: Vec<(String, String, String)> = csv_rows(&cli(&sock(port), "show stat"))
            .into_iter()
            .filter(|r| r["svname"].starts_with("app"))
            .map(|r| (r["status"].clone(), r["addr"].clone(), r["weight"].clone()))
            .collect();
        s.sort();
        s
    };
    let row = |st: &str, a: &str, w: &str| (st.to_string(), a.to_string(), w.to_string());
    let maint = row("MAINT (resolution)", "", "1");
    let mut want = vec![
        maint.clone(),
        row("no check", "198.51.100.10:8080", "1"),
        row("no check", "198.51.100.11:8081", "4"),
    ];
    want.sort();
    for port in [80, 81] {
        assert!(eventually(|| state(port) == want), "port {port}: {:?}", state(port));
        let mut who: Vec<String> = (0..10)
            .map(|_| server_of(&ask(&topo, &format!("192.0.2.1:{port}"), None)))
            .collect();
        who.sort();
        who.dedup();
        assert_eq!(who, ["s1", "s2"], "port {port}");
    }
    // a.test leaves the records: its server is freed.
    drop(dns);
    let _dns = Dns::start_with(&topo, &dir, hosts, &[b]);
    let mut want = vec![maint.clone(), maint, row("no check", "198.51.100.11:8081", "4")];
    want.sort();
    for port in [80, 81] {
        assert!(eventually(|| state(port) == want), "port {port}: {:?}", state(port));
        assert_eq!(server_of(&ask(&topo, &format!("192.0.2.1:{port}"), None)), "s2");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_nameserver_over_tcp_answers_as_in_haproxy() {
    let Some(topo) = topology("dnstcp") else { return };
    let dir = temp_dir("tcp");
    let _dns = Dns::start(&topo, &dir, "198.51.100.10 web.test\n");
    // Queries over UDP are dropped: only TCP gets answers.
    let out = topo.server.sh("nft add table inet nodns && \
         nft add chain inet nodns in '{ type filter hook input priority 0; }' && \
         nft add rule inet nodns in udp dport 53 drop && echo ok");
    assert!(out.contains("ok"), "nft: {out}");
    let _peers = peer_servers(&topo, &["198.51.100.10:80"]);
    let cfg = format!(
        "global\n    stats socket {d}/PORT.sock level admin\n\
         {r}{TCP_DEFAULTS}frontend ft\n    bind 192.0.2.1:PORT\n    default_backend bk\n\
         backend bk\n    server web web.test:80 resolvers dns init-addr none\n",
        d = dir.display(),
        r = RESOLVERS.replace("198.51.100.12:53", "tcp@198.51.100.12:53"),
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    for port in [80, 81] {
        let sock = dir.join(format!("{port}.sock"));
        assert!(
            eventually(|| servers(&sock) == [("web".into(), "no check".into(), "198.51.100.10:80".into())]),
            "port {port}: {:?}",
            servers(&sock)
        );
        assert_eq!(server_of(&ask(&topo, &format!("192.0.2.1:{port}"), None)), "s1");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
