//! Byte forwarding through the real binary: half-close and inactivity timeouts.

mod common;
use common::*;
use std::io::{Read, Write};

#[test]
fn half_close_is_passed_through() {
    let Some(topo) = topology("hclose") else {
        return;
    };
    let echo = clearway_testkit::EchoServer::start(&topo.server, addr("198.51.100.10:7"));
    let cfg = "defaults\n    mode tcp\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n\
               listen echo\n    bind 192.0.2.1:7\n    server e1 198.51.100.10:7\n";
    let _lb = start(&topo, cfg, &[7]);
    let payload: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
    // The echo server answers EOF with EOF only after it saw ours: the answer proves both FINs.
    let got = clearway_testkit::request(&topo.client, addr("192.0.2.1:7"), None, &payload, TIMEOUT).expect("echo");
    assert_eq!(got.as_bytes(), String::from_utf8_lossy(&payload).as_bytes());
    assert_eq!(echo.count(), 1);
}

#[test]
fn idle_client_is_closed_after_timeout_client() {
    let Some(topo) = topology("cto") else { return };
    let _echo = clearway_testkit::EchoServer::start(&topo.server, addr("198.51.100.10:7"));
    let cfg = "defaults\n    mode tcp\n    timeout connect 5s\n    timeout client 300ms\n    timeout server 30s\n\
               listen echo\n    bind 192.0.2.1:7\n    server e1 198.51.100.10:7\n";
    let lb = start(&topo, cfg, &[7]);
    let to = addr("192.0.2.1:7");
    let mut s = topo
        .client
        .enter(move || std::net::TcpStream::connect_timeout(&to, TIMEOUT))
        .expect("connect");
    s.write_all(b"ping").unwrap();
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut buf = [0u8; 4];
    s.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"ping");
    // Then silence: Clearway closes the idle session.
    let mut rest = Vec::new();
    let n = s
        .read_to_end(&mut rest)
        .expect("closed by the proxy, not by our read timeout");
    assert_eq!(n, 0);
    assert!(lb.wait_log("client timeout", TIMEOUT), "{}", lb.log());
}

/// Sends `len` bytes to `to` from the client namespace while reading the echo, and returns
/// what came back.
fn echo_bulk(topo: &clearway_testkit::Topology, to: &str, len: u32) -> (Vec<u8>, Vec<u8>) {
    let to = addr(to);
    let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    let sent = payload.clone();
    let back = topo.client.enter(move || {
        let mut s = std::net::TcpStream::connect_timeout(&to, TIMEOUT).expect("connect");
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        let mut w = s.try_clone().expect("clone");
        let writer = std::thread::spawn(move || {
            w.write_all(&sent).expect("write");
            w.shutdown(std::net::Shutdown::Write).expect("shutdown");
        });
        let mut back = Vec::new();
        s.read_to_end(&mut back).expect("read");
        writer.join().expect("writer");
        back
    });
    (payload, back)
}

/// Kernel pipes the process holds open.
fn pipes_of(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("fd dir")
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|l| l.to_string_lossy().starts_with("pipe:"))
        .count()
}

#[test]
fn bulk_transfer_is_spliced_and_arrives_intact() {
    let Some(topo) = topology("splice") else { return };
    let _echo = clearway_testkit::EchoServer::start(&topo.server, addr("198.51.100.10:7"));
    let cfg = "global\n    nbthread 1\ndefaults\n    mode tcp\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n\
               listen echo\n    bind 192.0.2.1:7\n    server e1 198.51.100.10:7\n";
    let lb = start(&topo, cfg, &[7]);
    let pid = lb.pid().expect("pid");
    // The process may hold a pipe of its own (the cleanup guard's).
    let before = pipes_of(pid);
    for round in 0..2 {
        let (sent, back) = echo_bulk(&topo, "192.0.2.1:7", 16 << 20);
        assert!(
            back == sent,
            "round {round}: {} bytes back of {}",
            back.len(),
            sent.len()
        );
        // One pipe per direction, kept empty for the next transfer rather than closed; the
        // second round reuses them.
        assert_eq!(
            pipes_of(pid),
            before + 4,
            "round {round}: two pipes of two descriptors each"
        );
    }
}

#[test]
fn nosplice_copies_through_the_buffer() {
    let Some(topo) = topology("nosplice") else { return };
    let _echo = clearway_testkit::EchoServer::start(&topo.server, addr("198.51.100.10:7"));
    let cfg = "global\n    nosplice\ndefaults\n    mode tcp\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n\
               listen echo\n    bind 192.0.2.1:7\n    server e1 198.51.100.10:7\n";
    let lb = start(&topo, cfg, &[7]);
    let before = pipes_of(lb.pid().expect("pid"));
    let (sent, back) = echo_bulk(&topo, "192.0.2.1:7", 4 << 20);
    assert!(back == sent, "{} bytes back of {}", back.len(), sent.len());
    assert_eq!(pipes_of(lb.pid().expect("pid")), before);
}

#[test]
fn defer_accept_leaves_a_silent_client_with_the_kernel() {
    let Some(topo) = topology("defer") else { return };
    let echo = clearway_testkit::EchoServer::start(&topo.server, addr("198.51.100.10:7"));
    let cfg = "defaults\n    mode tcp\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n\
               listen echo\n    bind 192.0.2.1:7 defer-accept\n    server e1 198.51.100.10:7\n";
    let _lb = start(&topo, cfg, &[7]);
    let round_trip = |s: &mut std::net::TcpStream, msg: &[u8]| {
        s.write_all(msg).unwrap();
        let mut back = vec![0u8; msg.len()];
        s.read_exact(&mut back).expect("echo");
        assert_eq!(back, msg);
    };
    // A client that connects and says nothing is not handed to Clearway (for about a
    // second), so no server connection is opened for it, while one that talks is served.
    // Looked at within 800 ms of the silent client's connect, else tried again (up to five
    // times): after about a second the kernel hands the silent one over too.
    let mut tries = 0;
    let mut silent = loop {
        tries += 1;
        let start = std::time::Instant::now();
        let mut silent = connect(&topo, "192.0.2.1:7");
        let mut talking = connect(&topo, "192.0.2.1:7");
        round_trip(&mut talking, b"ping");
        let ss = topo.lb.sh("ss -tanH sport = :7");
        if start.elapsed() > std::time::Duration::from_millis(800) && tries < 5 {
            // Served once it talks, so each try leaves two server connections behind.
            round_trip(&mut silent, b"late");
            continue;
        }
        let state_of = |s: &std::net::TcpStream| {
            let client = s.local_addr().unwrap().to_string();
            ss.lines()
                .find(|l| l.split_whitespace().nth(4) == Some(client.as_str()))
                .and_then(|l| l.split_whitespace().next())
                .unwrap_or("none")
                .to_string()
        };
        assert_eq!(state_of(&talking), "ESTAB", "{ss}");
        assert_eq!(state_of(&silent), "SYN-RECV", "{ss}");
        assert_eq!(
            echo.count(),
            2 * tries - 1,
            "no server connection for the silent client"
        );
        break silent;
    };
    // Once it talks, it is served too.
    round_trip(&mut silent, b"late");
    assert_eq!(echo.count(), 2 * tries);
}

#[test]
fn tcp_keepalive_options_set_probes_on_each_side_as_haproxy() {
    let Some(topo) = topology("tcpka") else { return };
    let _echo = clearway_testkit::EchoServer::start(&topo.server, addr("198.51.100.10:7"));
    // The same text for both proxies (PORT: 80 for Clearway, 81 for HAProxy): `option tcpka`
    // from the defaults, client timers in the frontend, server timers in the backend, and a
    // frontend and backend that turn it off.
    let cfg = "defaults\n    mode tcp\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n    option tcpka\n\
               frontend ka\n    bind 192.0.2.1:PORT\n    clitcpka-idle 70s\n    clitcpka-intvl 3s\n    clitcpka-cnt 4\n    default_backend ka\n\
               backend ka\n    srvtcpka-idle 90s\n    server e1 198.51.100.10:7\n\
               frontend plain\n    bind 192.0.2.1:1PORT\n    no option clitcpka\n    default_backend plain\n\
               backend plain\n    no option srvtcpka\n    server e1 198.51.100.10:7\n";
    let (_cw, _hap) = clearway_and_haproxy(&topo, cfg);
    // A connection held open through each listener, proven established end to end by an echo.
    let held: Vec<std::net::TcpStream> = ["192.0.2.1:80", "192.0.2.1:81", "192.0.2.1:180", "192.0.2.1:181"]
        .iter()
        .map(|to| {
            let mut s = connect(&topo, to);
            s.write_all(b"x").unwrap();
            let mut b = [0u8; 1];
            s.read_exact(&mut b).expect("echo");
            s
        })
        .collect();
    // The lb's connections with their timers: `timer:(keepalive,SECONDS...)` when probing.
    let ss = topo.lb.sh("ss -tnoH state established");
    let timer = |local: &str, peer: &str| -> Option<f64> {
        let l = ss.lines().find(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            w.len() >= 4 && w[2] == local && (peer.is_empty() || w[3] == peer)
        })?;
        // ss prints "1min9sec", "59sec" or "900ms" up to the next comma.
        let t = l.split("timer:(keepalive,").nth(1)?.split(',').next()?;
        let (min, rest) = t.split_once("min").unwrap_or(("0", t));
        let secs = match rest.strip_suffix("sec") {
            Some(s) => s.parse::<f64>().ok()?,
            None => rest.strip_suffix("ms")?.parse::<f64>().ok()? / 1000.0,
        };
        Some(min.parse::<f64>().ok()? * 60.0 + secs)
    };
    for port in ["80", "81"] {
        // Clients of `ka`: probes after at most 70 s idle.
        let c = timer(&format!("192.0.2.1:{port}"), "")
            .unwrap_or_else(|| panic!("{port}: no keepalive on the client side:\n{ss}"));
        assert!(c > 0.0 && c <= 70.0, "{port}: {c}\n{ss}");
        // Through `plain`: none.
        assert!(
            timer(&format!("192.0.2.1:1{port}"), "").is_none(),
            "1{port}: keepalive without tcpka:\n{ss}"
        );
    }
    // Server connections: two with keepalive (one per proxy, `ka`), two without (`plain`).
    let to_server: Vec<&str> = ss.lines().filter(|l| l.contains("198.51.100.10:7")).collect();
    assert_eq!(to_server.len(), 4, "{ss}");
    let probing: Vec<f64> = to_server
        .iter()
        .filter_map(|l| timer(l.split_whitespace().nth(2).unwrap_or(""), "198.51.100.10:7"))
        .collect();
    assert_eq!(probing.len(), 2, "{ss}");
    // After at most 90 s idle, and more than the clients' 70 s: the backend's own timer.
    assert!(probing.iter().all(|&t| t > 70.0 && t <= 90.0), "{probing:?}\n{ss}");
    drop(held);
}

/// A SOCKS4 proxy in the server namespace on `addr`: each CONNECT is granted, written as
/// "IP:PORT USERID" to `log`, and relayed.
fn socks4_proxy(topo: &clearway_testkit::Topology, addr: &str, log: &std::path::Path) -> std::process::Child {
    let (ip, port) = addr.rsplit_once(':').unwrap();
    let script = format!(
        r#"
import socket, struct, threading
def relay(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d: break
            b.sendall(d)
    except OSError: pass
    try: b.shutdown(socket.SHUT_WR)
    except OSError: pass
def serve(c):
    head = b""
    while len(head) < 8 or not head[8:].endswith(b"\0"):
        d = c.recv(1)
        if not d: return
        head += d
    port, = struct.unpack("!H", head[2:4])
    ip = socket.inet_ntoa(head[4:8])
    with open("{log}", "a") as f: f.write("%s:%d %s\n" % (ip, port, head[8:-1].decode()))
    s = socket.create_connection((ip, port))
    c.sendall(b"\0\x5a" + b"\0" * 6)
    threading.Thread(target=relay, args=(c, s), daemon=True).start()
    relay(s, c)
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("{ip}", {port})); l.listen(64)
while True:
    c, _ = l.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"#,
        log = log.display()
    );
    let child = topo.server.spawn("python3", &["-c", &script]);
    let to: std::net::SocketAddr = addr.parse().unwrap();
    assert!(
        eventually(|| topo.server.enter(move || std::net::TcpStream::connect(to)).is_ok()),
        "the SOCKS4 proxy does not listen"
    );
    child
}

#[test]
fn servers_and_their_checks_reached_through_a_socks4_proxy_as_by_haproxy() {
    let Some(topo) = topology("fsocks") else { return };
    let _srv = peer_servers(&topo, &["198.51.100.10:80"]);
    let dir = std::env::temp_dir().join(clearway_testkit::netns::unique_name("fsocks"));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("socks.log");
    let mut proxy = socks4_proxy(&topo, "198.51.100.12:1080", &log);
    let cfg = format!(
        "{TCP_DEFAULTS}frontend f\n    bind 192.0.2.1:PORT\n    default_backend b\n\
         backend b\n    server s1 198.51.100.10:80 socks4 198.51.100.12:1080 check-via-socks4 check inter 60s\n"
    );
    for port in [80u16, 81] {
        let _ = std::fs::remove_file(&log);
        let one = cfg.replace("PORT", &port.to_string());
        let lb = if port == 80 {
            start(&topo, &one, &[port])
        } else {
            clearway_testkit::Clearway::start(&topo.lb, std::path::Path::new("/usr/sbin/haproxy"), &one, &[port])
        };
        let answer = ask(&topo, &format!("192.0.2.1:{port}"), None);
        assert!(answer.contains("server=s1"), "{port}: {answer}");
        drop(lb);
        // The check and the session each asked the proxy for the server, as HAProxy.
        let asked = std::fs::read_to_string(&log).unwrap_or_default();
        let lines: Vec<&str> = asked.lines().collect();
        assert!(
            lines.len() >= 2 && lines.iter().all(|l| *l == "198.51.100.10:80 HAProxy"),
            "{port}: {asked}"
        );
    }
    let _ = proxy.kill();
    let _ = proxy.wait();
    let _ = std::fs::remove_dir_all(dir);
}
