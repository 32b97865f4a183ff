//! Signals, as HAProxy reads them: SIGHUP (logrotate's), SIGUSR2 and SIGQUIT do not stop the
//! process or cut a connection; SIGUSR1 is a soft stop: the listeners close at once, the
//! connections in progress are served to their end, then the process exits.

mod common;
use common::*;
use nix::sys::signal::Signal;

#[test]
fn hup_usr2_and_quit_are_survived_and_usr1_stops_softly() {
    let Some(topo) = topology("sig") else { return };
    let _srv = holding_servers(&topo, &["198.51.100.10:8080"]);
    let cfg = "defaults\n    mode tcp\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n\
               listen app\n    bind 192.0.2.1:8080\n    server s1 198.51.100.10:8080\n";
    let mut lb = start(&topo, cfg, &[8080]);
    // A connection in progress: the server holds it until the client half-closes.
    let held = hold(&topo, "192.0.2.1:8080");
    for (sig, name) in [
        (Signal::SIGHUP, "SIGHUP"),
        (Signal::SIGUSR2, "SIGUSR2"),
        (Signal::SIGQUIT, "SIGQUIT"),
    ] {
        lb.signal(sig);
        assert!(
            lb.wait_log(&format!("{name} received and ignored"), TIMEOUT),
            "{}",
            lb.log()
        );
    }
    assert!(lb.exited().is_none(), "{}", lb.log());
    // Still serving new connections too.
    let other = hold(&topo, "192.0.2.1:8080");
    assert_eq!(server_of(&read_all(other)), "s1");

    lb.signal(Signal::SIGUSR1);
    assert!(lb.wait_log("soft stop", TIMEOUT), "{}", lb.log());
    let to = addr("192.0.2.1:8080");
    let refused = || {
        topo.client
            .enter(move || std::net::TcpStream::connect_timeout(&to, TIMEOUT))
            .is_err()
    };
    assert!(eventually(refused), "the listener stays open after SIGUSR1");
    // The connection in progress keeps the process until it ends, and gets its answer.
    assert!(lb.exited().is_none(), "{}", lb.log());
    assert_eq!(server_of(&read_all(held)), "s1");
    let mut status = None;
    assert!(
        eventually(|| {
            status = lb.exited();
            status.is_some()
        }),
        "still running after its last session: {}",
        lb.log()
    );
    assert!(status.is_some_and(|s| s.success()), "{status:?}: {}", lb.log());
}

/// One response from `s`: its head (lower-cased) and body, by its Content-Length.
fn response(s: &mut std::io::BufReader<std::net::TcpStream>) -> String {
    use std::io::{BufRead, Read};
    let mut head = String::new();
    loop {
        let mut line = String::new();
        assert!(
            s.read_line(&mut line).unwrap_or(0) > 0,
            "closed before a whole head: {head}"
        );
        head.push_str(&line.to_ascii_lowercase());
        if line == "\r\n" {
            break;
        }
    }
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map_or(0, |v| v.trim().parse().unwrap());
    let mut body = vec![0; len];
    s.read_exact(&mut body).expect("body");
    head + &String::from_utf8_lossy(&body)
}

#[test]
fn a_soft_stop_closes_kept_alive_http_connections_after_their_response() {
    use std::io::{Read, Write};
    let Some(topo) = topology("sighttp") else { return };
    let _web = clearway_testkit::HttpEchoServer::start(&topo.server, addr("198.51.100.10:80"), "s1");
    let _raw = holding_servers(&topo, &["198.51.100.10:8080"]);
    let cfg = "defaults\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n\
               listen web\n    mode http\n    bind 192.0.2.1:80\n    server s1 198.51.100.10:80\n\
               listen raw\n    mode tcp\n    bind 192.0.2.1:8080\n    server s2 198.51.100.10:8080\n";
    let mut lb = start(&topo, cfg, &[80, 8080]);
    // A connection in progress keeps the process up through the soft stop.
    let held = hold(&topo, "192.0.2.1:8080");
    let to = addr("192.0.2.1:80");
    let c = topo
        .client
        .enter(move || std::net::TcpStream::connect_timeout(&to, TIMEOUT))
        .expect("connect");
    c.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut w = c.try_clone().unwrap();
    let mut r = std::io::BufReader::new(c);
    w.write_all(b"GET /first HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let first = response(&mut r);
    assert!(
        first.starts_with("http/1.1 200") && !first.contains("connection: close"),
        "{first}"
    );

    // The next request is under way when the soft stop begins (half its body sent).
    w.write_all(b"POST /second HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nab")
        .unwrap();
    lb.signal(Signal::SIGUSR1);
    assert!(lb.wait_log("soft stop", TIMEOUT), "{}", lb.log());
    // It is served to its end, told the connection closes, and the connection is closed.
    w.write_all(b"cd").unwrap();
    let second = response(&mut r);
    assert!(
        second.starts_with("http/1.1 200") && second.contains("line=POST /second"),
        "{second}"
    );
    assert!(second.contains("body_len=4"), "{second}");
    assert!(second.contains("connection: close"), "{second}");
    let mut rest = Vec::new();
    assert_eq!(r.read_to_end(&mut rest).expect("closed, not left open"), 0);
    assert_eq!(server_of(&read_all(held)), "s1");
    assert!(eventually(|| lb.exited().is_some()), "{}", lb.log());
}

#[test]
fn sigterm_and_sigint_stop_at_once_with_or_without_a_stats_socket() {
    let Some(topo) = topology("sigterm") else { return };
    let _srv = holding_servers(&topo, &["198.51.100.10:8080"]);
    let sock = std::env::temp_dir().join(clearway_testkit::netns::unique_name("sigterm.sock"));
    let plain = "defaults\n    mode tcp\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n\
                 listen app\n    bind 192.0.2.1:8080\n    server s1 198.51.100.10:8080\n";
    let with_socket = format!("global\n    stats socket {}\n{plain}", sock.display());
    for (cfg, sig) in [
        (plain.to_string(), Signal::SIGTERM),
        (with_socket.clone(), Signal::SIGTERM),
        (with_socket, Signal::SIGINT),
    ] {
        let mut lb = start(&topo, &cfg, &[8080]);
        // Even with a session in progress: a stop is not a soft stop.
        let _held = hold(&topo, "192.0.2.1:8080");
        lb.signal(sig);
        let mut status = None;
        assert!(
            eventually(|| {
                status = lb.exited();
                status.is_some()
            }),
            "{sig:?} did not stop it: {}",
            lb.log()
        );
        assert!(status.is_some_and(|s| s.success()), "{status:?}: {}", lb.log());
        assert!(
            lb.log().contains(&format!("{sig:?} received: stopping")),
            "{}",
            lb.log()
        );
    }
    let _ = std::fs::remove_file(sock);
}

#[test]
fn hard_stop_after_ends_a_soft_stop_that_sessions_would_hold_open() {
    let Some(topo) = topology("hsa") else { return };
    let srv = holding_servers(&topo, &["198.51.100.10:8080"]);
    let cfg = "global\n    hard-stop-after 1s\n\
               defaults\n    mode tcp\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n\
               listen app\n    bind 192.0.2.1:8080\n    server s1 198.51.100.10:8080\n";
    let mut lb = start(&topo, cfg, &[8080]);
    // The server holds this session for 30 s unless the client half-closes, which it does not.
    let held = hold(&topo, "192.0.2.1:8080");
    assert!(eventually(|| srv[0].active() == 1), "the session reaches its server");
    lb.signal(Signal::SIGUSR1);
    assert!(lb.wait_log("soft stop", TIMEOUT), "{}", lb.log());
    let mut status = None;
    assert!(
        eventually(|| {
            status = lb.exited();
            status.is_some()
        }),
        "still running with a held session after hard-stop-after: {}",
        lb.log()
    );
    assert!(status.is_some_and(|s| s.success()), "{status:?}: {}", lb.log());
    assert!(lb.log().contains("'hard-stop-after' reached"), "{}", lb.log());
    // The session was closed by the proxy's exit, not answered.
    use std::io::Read;
    let mut held = held;
    held.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    let mut got = Vec::new();
    let _ = held.read_to_end(&mut got);
    assert!(got.is_empty(), "{:?}", String::from_utf8_lossy(&got));
}
