//! HAProxy's process interface beyond the config: listening on a socket the process inherited
//! (`bind fd@N`, as systemd's socket activation and HAProxy's test harness hand them over),
//! `-cc EXPR` conditions and what `-vv` lists. The real binary throughout.

mod common;
use clearway_testkit::{HttpEchoServer, Netns};
use common::*;
use std::os::fd::AsRawFd;
use std::process::Command;

const DEFAULTS: &str =
    "defaults\n    mode http\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n";

#[test]
fn a_listener_inherited_as_fd_at_serves_clients() {
    if !clearway_testkit::require_root_and_netns() {
        return;
    }
    let ns = Netns::new("fdat");
    let _srv = HttpEchoServer::start(&ns, addr("127.0.0.1:8081"), "s1");
    // The parent (this test) opens and binds the socket; the child only inherits it.
    let listener = ns.enter(|| std::net::TcpListener::bind("127.0.0.1:0")).expect("bind");
    let port = listener.local_addr().unwrap().port();
    let fd = listener.as_raw_fd();
    nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty())).expect("inheritable");
    let cfg = format!(
        "{DEFAULTS}frontend ft\n    bind fd@{fd}\n    default_backend bk\n\
         backend bk\n    server s1 127.0.0.1:8081\n"
    );
    let lb = clearway_testkit::Clearway::start(&ns, binary(), &cfg, &[port]);
    // Only the child accepts from now on.
    drop(listener);
    for _ in 0..3 {
        let out = ns.exec(
            "curl",
            &["-sS", "--max-time", "10", &format!("http://127.0.0.1:{port}/x")],
        );
        let body = String::from_utf8_lossy(&out.stdout);
        assert!(
            body.contains("server=s1") && body.contains("line=GET /x HTTP/1.1"),
            "{body}\n{}",
            lb.log()
        );
    }
}

#[test]
fn an_fd_at_that_is_not_a_listening_socket_is_refused_with_its_line() {
    if !clearway_testkit::require_root_and_netns() {
        return;
    }
    let ns = Netns::new("fdbad");
    // A descriptor this process does not have open, then one that is a plain file.
    let file = std::fs::File::open("/proc/self/status").unwrap();
    let ffd = file.as_raw_fd();
    nix::fcntl::fcntl(ffd, nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty())).unwrap();
    for (fd, why) in [(900, "is not open"), (ffd, "is not a socket")] {
        let cfg = format!("{DEFAULTS}frontend ft\n    bind fd@{fd}\n    default_backend bk\nbackend bk\n    server s1 127.0.0.1:8081\n");
        let dir = std::env::temp_dir().join(format!("clearway-fdbad-{}-{fd}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("c.cfg");
        std::fs::write(&path, &cfg).unwrap();
        let out = Command::new("ip")
            .args(["netns", "exec", ns.name()])
            .arg(binary())
            .arg("-f")
            .arg(&path)
            .arg("-db")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains("c.cfg:7") && err.contains(&format!("fd@{fd}")) && err.contains(why),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
    drop(file);
    // Malformed: an error at its line when the config is checked.
    let out = clearway_testkit::Clearway::check(
        binary(),
        &format!(
            "{DEFAULTS}frontend ft\n    bind fd@x\n    default_backend bk\nbackend bk\n    server s1 127.0.0.1:1\n"
        ),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(":7:") && err.contains("fd@x"), "{err}");
}

#[test]
fn dash_cc_evaluates_conditions_as_haproxy_does() {
    let cc = |expr: &str| {
        Command::new(binary())
            .args(["-cc", expr])
            .env("TESTVAR", "1")
            .output()
            .unwrap()
            .status
            .code()
    };
    for (expr, code) in [
        ("version_atleast(2.5-dev0)", 0),
        ("version_atleast(1024)", 1),
        ("defined(TESTVAR) && streq(\"$TESTVAR\",\"1\")", 0),
        ("feature(TPROXY) && feature(OPENSSL) && !feature(LUA)", 0),
        ("streq(foo,'foo')", 0),
        ("", 1),
        ("200rrr", 2),
        ("streq(a,\"a)", 2),
    ] {
        assert_eq!(cc(expr), Some(code), "-cc '{expr}'");
    }
    let vv = Command::new(binary()).arg("-vv").output().unwrap();
    let vv = String::from_utf8_lossy(&vv.stdout);
    let features = vv
        .lines()
        .find_map(|l| l.strip_prefix("Feature list : "))
        .unwrap_or_else(|| panic!("{vv}"));
    assert!(
        features.split(' ').any(|f| f == "+TPROXY") && features.split(' ').any(|f| f == "-LUA"),
        "{features}"
    );
    assert!(vv.lines().any(|l| l.starts_with("Available services : ")), "{vv}");
}

#[test]
fn a_proxys_backlog_is_its_binds_default_as_in_haproxy() {
    let Some(topo) = topology("lbkl") else { return };
    let cfg = format!(
        "{TCP_DEFAULTS}frontend ft\n    backlog 77\n    bind 192.0.2.1:PORT\n    bind 192.0.2.1:1PORT backlog 33\n\
         \x20   default_backend bk\nbackend bk\n    server s1 198.51.100.10:80\n"
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    // `ss -ltn`: a listening socket's Send-Q is its backlog.
    let out = topo.lb.exec("ss", &["-Hltn"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let backlog = |port: u16| {
        text.lines()
            .find(|l| l.split_whitespace().nth(3) == Some(&format!("192.0.2.1:{port}")))
            .and_then(|l| l.split_whitespace().nth(2).map(String::from))
            .unwrap_or_else(|| panic!("no listener on {port}: {text}"))
    };
    for (ours, theirs, want) in [(80, 81, "77"), (180, 181, "33")] {
        assert_eq!(backlog(ours), want, "{text}");
        assert_eq!(backlog(theirs), want, "HAProxy: {text}");
    }
}
