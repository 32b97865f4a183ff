//! Health checks through the real binary: TCP and HTTP checks, rise/fall counting, traffic
//! leaving a DOWN server and coming back, and prompt failure when no server is left.

mod common;
use clearway_testkit::{Clearway, EchoServer, HttpStatusServer, PeerServer};
use common::*;

const DEFAULTS: &str =
    "defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 30s\n    timeout server 30s\n";

/// Lines of the log between the first line containing `from` and the first later line containing `to`.
fn between<'a>(log: &'a str, from: &str, to: &str) -> Vec<&'a str> {
    let lines: Vec<&str> = log.lines().collect();
    let start = lines.iter().position(|l| l.contains(from)).unwrap_or(lines.len());
    let end = lines[start..]
        .iter()
        .position(|l| l.contains(to))
        .map_or(lines.len(), |p| start + p);
    lines[start..end].to_vec()
}

/// Clearway on `cfg` (its frontend on 192.0.2.1:80) with each check's result logged.
fn start_logging_checks(topo: &clearway_testkit::Topology, cfg: &str) -> Clearway {
    Clearway::start_with_log(&topo.lb, binary(), cfg, &[80], "info,clearway_proxy::checks=debug")
}

/// How many checks of `backend` passed, by the log.
fn checks_passed(log: &str, backend: &str) -> usize {
    log.lines()
        .filter(|l| l.contains("check passed") && l.contains(&format!("backend={backend} ")))
        .count()
}

fn servers_seen(topo: &clearway_testkit::Topology, n: usize) -> Vec<String> {
    (0..n).map(|_| server_of(&ask(topo, "192.0.2.1:80", None))).collect()
}

#[test]
fn tcp_check_takes_a_dead_server_out_after_fall_and_back_after_rise() {
    let Some(topo) = topology("hctcp") else {
        return;
    };
    let s1 = PeerServer::start(&topo.server, addr("198.51.100.10:80"), "s1");
    let _s2 = PeerServer::start(&topo.server, addr("198.51.100.11:80"), "s2");
    let cfg = format!(
        "{DEFAULTS}frontend ft\n    bind 192.0.2.1:80\n    default_backend bk\n\
         backend bk\n    server s1 198.51.100.10:80 check inter 100ms rise 2 fall 3\n    server s2 198.51.100.11:80 check inter 100ms\n"
    );
    let lb = start_logging_checks(&topo, &cfg);
    assert_eq!(servers_seen(&topo, 4), ["s1", "s2", "s1", "s2"]);
    drop(s1);
    assert!(
        lb.wait_log("Server bk/s1 is DOWN, reason: Layer4 connection problem", TIMEOUT),
        "{}",
        lb.log()
    );
    let log = lb.log();
    assert!(log.contains("info: \"Connection refused\""), "{log}");
    assert!(log.contains("1 active and 0 backup servers left"), "{log}");
    // Exactly `fall` failed checks of s1 led to DOWN.
    let failures = between(&log, "Layer4 connection problem", "is DOWN")
        .iter()
        .filter(|l| l.contains("check: Layer4 connection problem") && l.contains("server=s1"))
        .count();
    assert_eq!(failures, 3, "fall 3:\n{log}");
    assert_eq!(
        servers_seen(&topo, 4),
        ["s2", "s2", "s2", "s2"],
        "a DOWN server gets no traffic"
    );
    let _s1 = PeerServer::start(&topo.server, addr("198.51.100.10:80"), "s1");
    assert!(lb.wait_log("Server bk/s1 is UP", TIMEOUT), "{}", lb.log());
    let log = lb.log();
    let passes = between(&log, "is DOWN", "is UP")
        .iter()
        .filter(|l| l.contains("check: Layer4 check passed") && l.contains("server=s1"))
        .count();
    assert_eq!(passes, 2, "rise 2:\n{log}");
    let seen = servers_seen(&topo, 4);
    assert!(seen.contains(&"s1".to_string()), "traffic comes back: {seen:?}");
}

#[test]
fn http_check_status_and_string() {
    let Some(topo) = topology("hchttp") else {
        return;
    };
    let _data = peer_servers(&topo, &["198.51.100.10:3306", "198.51.100.11:3306"]);
    let chk1 = HttpStatusServer::start(
        &topo.server,
        addr("198.51.100.10:9200"),
        200,
        "Galera Cluster Node is synced.",
    );
    let _chk2 = HttpStatusServer::start(
        &topo.server,
        addr("198.51.100.11:9200"),
        200,
        "Galera Cluster Node is synced.",
    );
    let cfg = format!(
        "{DEFAULTS}frontend ft\n    bind 192.0.2.1:80\n    default_backend galera\n\
         backend galera\n    option httpchk GET /\n    http-check expect status 200\n\
         \x20   server s1 198.51.100.10:3306 check port 9200 inter 100ms rise 1 fall 1\n\
         \x20   server s2 198.51.100.11:3306 check port 9200 inter 100ms rise 1 fall 1\n"
    );
    let lb = start(&topo, &cfg, &[80]);
    assert!(eventually(|| chk1.count() >= 2), "checks reach port 9200");
    chk1.set(503, "Galera Cluster Node is not synced.");
    assert!(
        lb.wait_log("Server galera/s1 is DOWN, reason: Layer7 wrong status", TIMEOUT),
        "{}",
        lb.log()
    );
    assert!(
        lb.log()
            .contains("reason: Layer7 wrong status, code: 503, info: \"Status\""),
        "{}",
        lb.log()
    );
    assert_eq!(servers_seen(&topo, 3), ["s2", "s2", "s2"]);
    chk1.set(200, "Galera Cluster Node is synced.");
    assert!(lb.wait_log("Server galera/s1 is UP", TIMEOUT), "{}", lb.log());
    drop(lb);

    // The same with a body expectation: a 200 without the word is not healthy.
    let cfg = cfg.replace("http-check expect status 200", "http-check expect string synced.");
    let lb = start(&topo, &cfg, &[80]);
    chk1.set(200, "Galera Cluster Node is donor/desynced");
    assert!(
        lb.wait_log("Server galera/s1 is DOWN, reason: Layer7 invalid response", TIMEOUT),
        "{}",
        lb.log()
    );
}

#[test]
fn no_server_left_fails_clients_promptly_and_says_why() {
    let Some(topo) = topology("hcnone") else {
        return;
    };
    let s1 = PeerServer::start(&topo.server, addr("198.51.100.10:80"), "s1");
    let dir = socket_dir("hcnone");
    let sock = dir.join("admin.sock");
    let cfg = format!(
        "global\n    stats socket {} level admin\n{DEFAULTS}    timeout queue 30s\nfrontend ft\n    bind 192.0.2.1:80\n    default_backend bk\n\
         backend bk\n    server s1 198.51.100.10:80 check inter 100ms fall 1\n",
        sock.display()
    );
    let lb = start(&topo, &cfg, &[80]);
    assert!(ask(&topo, "192.0.2.1:80", None).contains("server=s1"));
    drop(s1);
    assert!(
        lb.wait_log("backend bk has no server available!", TIMEOUT),
        "{}",
        lb.log()
    );
    // Changes while no server is left say it again no more (HAProxy says it once per loss).
    cli(&sock, "disable server bk/s1");
    cli(&sock, "set weight bk/s1 0");
    assert!(
        lb.wait_log("was DOWN and now enters maintenance", TIMEOUT),
        "{}",
        lb.log()
    );
    assert_eq!(lb.log().matches("has no server available!").count(), 1, "{}", lb.log());
    let answer =
        clearway_testkit::request(&topo.client, addr("192.0.2.1:80"), None, b"hello\n", TIMEOUT).unwrap_or_default();
    assert_eq!(answer, "");
    assert!(
        lb.wait_log("session refused: no server available", TIMEOUT),
        "{}",
        lb.log()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_tcp_check_is_never_accepted_by_the_servers_application() {
    let Some(topo) = topology("hcrst") else {
        return;
    };
    let s1 = PeerServer::start(&topo.server, addr("198.51.100.10:80"), "s1");
    let cfg = format!(
        "{DEFAULTS}frontend ft\n    bind 192.0.2.1:80\n    default_backend bk\n\
         backend bk\n    server s1 198.51.100.10:80 check inter 100ms\n"
    );
    let lb = start_logging_checks(&topo, &cfg);
    // As HAProxy's: the server answers the SYN, which is all a plain check needs, and the
    // check resets before its handshake ends, so the server's accept() never sees it (no
    // log line or aborted-connection count per check on the server).
    let passed = |log: &str| log.matches("check: Layer4 check passed").count();
    assert!(eventually(|| passed(&lb.log()) >= 5), "{}", lb.log());
    // Each would be accepted without the held-back ACK; one may slip through when the check's
    // task runs later than the kernel holds an ACK (200 ms) on a loaded machine.
    let accepted = s1.count();
    assert!(accepted <= 1, "{accepted} check connections accepted by the server");
    // Clients are served as usual.
    assert_eq!(servers_seen(&topo, 1), ["s1"]);
    assert!(s1.count() > accepted);
}

#[test]
fn an_http_check_sends_its_request_with_the_handshakes_last_ack() {
    let Some(topo) = topology("hcack") else {
        return;
    };
    let _s1 = HttpStatusServer::start(&topo.server, addr("198.51.100.10:80"), 200, "ok");
    topo.lb.sh(
        "iptables -w -A OUTPUT -p tcp -d 198.51.100.10 --dport 80 --tcp-flags SYN,FIN,RST,ACK ACK \
         -m length --length 0:60 -m comment --comment chkack -j ACCEPT",
    );
    let pure_acks = || {
        let out = topo.lb.sh("iptables -w -L OUTPUT -v -x -n");
        out.lines()
            .find(|l| l.contains("/* chkack */"))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or_else(|| panic!("no chkack counter in:\n{out}"))
    };
    let cfg = format!(
        "{DEFAULTS}frontend ft\n    bind 192.0.2.1:80\n    default_backend bk\n\
         backend bk\n    option httpchk GET /\n    server s1 198.51.100.10:80 check inter 100ms\n"
    );
    let lb = start_logging_checks(&topo, &cfg);
    assert!(eventually(|| checks_passed(&lb.log(), "bk") >= 10), "{}", lb.log());
    let log = lb.log();
    drop(lb);
    // As HAProxy's: the check's request carries the handshake's last ACK, and the ACKs of
    // the response wait to be merged. Here that is 10 pure ACKs for 10 checks, against 70
    // when each check connected with quick ACKs.
    let (checks, acks) = (checks_passed(&log, "bk"), pure_acks());
    assert!(acks <= 2 * checks, "{acks} pure ACKs to the server for {checks} checks");
}

#[test]
fn a_tcp_check_that_connects_elsewhere_opens_nothing_to_the_server_port_first() {
    let Some(topo) = topology("hcto") else {
        return;
    };
    let traffic = PeerServer::start(&topo.server, addr("198.51.100.10:80"), "s1");
    let probe = PeerServer::start(&topo.server, addr("198.51.100.10:81"), "probe");
    let cfg = format!(
        "{DEFAULTS}frontend ft\n    bind 192.0.2.1:80\n    default_backend bk\n\
         backend bk\n    option tcp-check\n    tcp-check connect port 81\n\
         \x20   server s1 198.51.100.10:80 check inter 100ms\n"
    );
    let lb = start_logging_checks(&topo, &cfg);
    assert!(eventually(|| checks_passed(&lb.log(), "bk") >= 5), "{}", lb.log());
    // As HAProxy: the rule's own connection is the only one, and as the last rule it is a
    // plain check, reset before its handshake ends (one may slip through on a slow machine).
    assert_eq!(traffic.count(), 0, "check connections to the traffic port");
    assert!(
        probe.count() <= 1,
        "{} check connections accepted on the check port",
        probe.count()
    );
}

#[test]
fn a_check_that_exchanged_data_leaves_no_time_wait_unless_it_lingers() {
    let Some(topo) = topology("hctw") else {
        return;
    };
    let _plain = EchoServer::start(&topo.server, addr("198.51.100.10:80"));
    let _lingers = EchoServer::start(&topo.server, addr("198.51.100.10:81"));
    let exchange = "    tcp-check send PING\\r\\n\n    tcp-check expect string PING\n";
    let cfg = format!(
        "{DEFAULTS}frontend ft\n    bind 192.0.2.1:80\n    default_backend plain\n\
         backend plain\n    option tcp-check\n{exchange}\
         \x20   server s1 198.51.100.10:80 check inter 100ms\n\
         backend lingers\n    option tcp-check\n    tcp-check connect linger\n{exchange}\
         \x20   server s1 198.51.100.10:81 check inter 100ms\n"
    );
    let lb = start_logging_checks(&topo, &cfg);
    assert!(
        eventually(|| checks_passed(&lb.log(), "plain") >= 5 && checks_passed(&lb.log(), "lingers") >= 5),
        "{}",
        lb.log()
    );
    let time_waits = |port: u16| {
        let out = topo.lb.sh(&format!("ss -Htan state time-wait '( dport = :{port} )'"));
        out.lines().filter(|l| !l.trim().is_empty()).count()
    };
    // As HAProxy's: once answered, a check's connection is reset, so this host keeps no
    // TIME_WAIT per check (one every `inter` per server otherwise)...
    assert_eq!(time_waits(80), 0, "TIME_WAITs left by checks without linger");
    // ...unless the check asks for a clean close: then this side closed first, and waits.
    assert!(
        time_waits(81) >= 3,
        "{} TIME_WAITs left by lingering checks",
        time_waits(81)
    );
}

#[test]
fn log_health_checks_writes_each_change_of_result_or_health_as_haproxy_does() {
    let Some(topo) = topology("hclog") else { return };
    let srv = PeerServer::start(&topo.server, addr("198.51.100.10:80"), "s1");
    let cfg = format!(
        "{DEFAULTS}listen app\n    bind 192.0.2.1:80\n    option log-health-checks\n\
         \x20   server s1 198.51.100.10:80 check inter 200 rise 2 fall 3\n"
    );
    let lb = start(&topo, &cfg, &[80]);
    assert!(lb.wait_log("status: 3/3 UP.", TIMEOUT), "{}", lb.log());
    drop(srv);
    assert!(lb.wait_log("Server app/s1 is DOWN", TIMEOUT), "{}", lb.log());
    let srv = PeerServer::start(&topo.server, addr("198.51.100.10:80"), "s1");
    assert!(lb.wait_log("Server app/s1 is UP", TIMEOUT), "{}", lb.log());
    // What HAProxy 2.6 writes for the same history (check durations left out): one line per
    // change, none for a check that repeats a settled state.
    let log = lb.log();
    let seen: Vec<String> = log
        .lines()
        .filter_map(|l| l.split("Health check for server ").nth(1))
        .map(|l| {
            let (head, status) = l.split_once(", check duration: ").expect("a duration");
            format!("{head} {}", status.split_once(", ").map_or(status, |(_, s)| s))
        })
        .collect();
    let refused = "failed, reason: Layer4 connection problem, info: \"Connection refused\"";
    assert_eq!(
        seen,
        [
            "app/s1 succeeded, reason: Layer4 check passed status: 3/3 UP.".to_string(),
            format!("app/s1 {refused} status: 2/3 UP."),
            format!("app/s1 {refused} status: 1/3 UP."),
            format!("app/s1 {refused} status: 0/2 DOWN."),
            "app/s1 succeeded, reason: Layer4 check passed status: 1/2 DOWN.".to_string(),
            "app/s1 succeeded, reason: Layer4 check passed status: 3/3 UP.".to_string(),
        ],
        "{log}"
    );
    drop(srv);
}

#[test]
fn agent_checks_set_weight_state_and_maxconn_as_with_haproxy() {
    let Some(topo) = topology("hagt") else { return };
    let dir = std::env::temp_dir().join(clearway_testkit::netns::unique_name("agent"));
    std::fs::create_dir_all(&dir).unwrap();
    let (reply, got) = (dir.join("reply"), dir.join("got"));
    std::fs::write(&reply, "75%\n").unwrap();
    // The agent notes what it was sent, then answers the reply file's first line.
    let script = format!("read l; echo \"$l\" >> {}; head -n1 {}", got.display(), reply.display());
    let _agent = Peer::start(&topo, "198.51.100.10:9999", &dir, &script);
    let _a = clearway_testkit::HttpEchoServer::start(&topo.server, addr("198.51.100.10:80"), "a");
    let _b = clearway_testkit::HttpEchoServer::start(&topo.server, addr("198.51.100.11:80"), "b");
    let cfg = format!(
        "global\n    stats socket {dir}/PORT.sock level admin\n\
         defaults\n    mode http\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n\
         frontend ft\n    bind 192.0.2.1:PORT\n    default_backend bk\n\
         backend bk\n    server a 198.51.100.10:80 weight 100 check inter 200ms agent-check agent-port 9999 agent-inter 200ms agent-send \"hello\\n\"\n\
         \x20   server b 198.51.100.11:80 weight 100 check inter 200ms\n",
        dir = dir.display()
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    let row = |port: u16| {
        let csv = cli(&dir.join(format!("{port}.sock")), "show stat");
        let r = csv_rows(&csv).into_iter().find(|r| r["svname"] == "a").expect("row a");
        format!("{} weight={} slim={}", r["status"], r["weight"], r["slim"])
    };
    for (said, want) in [
        ("75%", "UP weight=75 slim="),
        ("drain", "DRAIN (agent) weight=75 slim="),
        ("ready 50% maxconn:7", "UP weight=50 slim=7"),
        ("down#not a description, not 'down'", "UP weight=50 slim=7"),
        ("down #maintenance window", "DOWN (agent) weight=50 slim=7"),
        ("up", "UP weight=50 slim=7"),
        ("maint", "MAINT weight=50 slim=7"),
        ("ready,100%", "UP weight=100 slim=7"),
    ] {
        std::fs::write(&reply, format!("{said}\n")).unwrap();
        let settled = eventually(|| row(80) == want && row(81) == want);
        assert!(
            settled,
            "agent says '{said}': want '{want}', Clearway '{}', HAProxy '{}'",
            row(80),
            row(81)
        );
    }
    let sent = std::fs::read_to_string(&got).unwrap();
    assert!(sent.lines().any(|l| l == "hello"), "{sent}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn observed_errors_in_traffic_mark_a_server_down_as_with_haproxy() {
    let Some(topo) = topology("hobs") else { return };
    // A server whose checks pass and whose answers to traffic are 500s, and a good one.
    let bad_cfg = "defaults\n    mode http\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n\
        frontend bad\n    bind 198.51.100.10:80\n    http-request return status 200 if { path /health }\n    http-request return status 500\n";
    let _bad = Clearway::start(&topo.server, std::path::Path::new("/usr/sbin/haproxy"), bad_cfg, &[80]);
    let _good = clearway_testkit::HttpEchoServer::start(&topo.server, addr("198.51.100.11:80"), "good");
    let dir = std::env::temp_dir().join(clearway_testkit::netns::unique_name("observe"));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = format!(
        "global\n    stats socket {dir}/PORT.sock level admin\n\
         defaults\n    mode http\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n\
         frontend ft\n    bind 192.0.2.1:PORT\n    default_backend bk\n\
         backend bk\n    option httpchk GET /health\n\
         \x20   server bad 198.51.100.10:80 check inter 30s observe layer7 error-limit 3 on-error mark-down\n\
         \x20   server good 198.51.100.11:80 check inter 30s\n",
        dir = dir.display()
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    let state = |port: u16| {
        let csv = cli(&dir.join(format!("{port}.sock")), "show stat");
        let r = csv_rows(&csv).into_iter().find(|r| r["svname"] == "bad").expect("row");
        format!("{} {} hanafail={}", r["status"], r["check_status"], r["hanafail"])
    };
    for port in [80, 81] {
        let code = |path: &str| {
            let url = format!("http://192.0.2.1:{port}{path}");
            let out = topo
                .client
                .exec("curl", &["-s", "-o", "/dev/null", "-w", "%{http_code}", &url]);
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        let settled = eventually(|| state(port).starts_with("UP L7OK"));
        assert!(settled, "port {port}: {}", state(port));
        // Round robin: six requests, three 500s from the bad server, and it is taken out.
        let codes: Vec<String> = (0..6).map(|_| code("/app")).collect();
        assert_eq!(
            codes.iter().filter(|c| *c == "500").count(),
            3,
            "port {port}: {codes:?}"
        );
        assert!(
            eventually(|| state(port).starts_with("DOWN")),
            "port {port}: {}",
            state(port)
        );
        assert!(
            (0..4).all(|_| code("/app") == "200"),
            "port {port}: traffic still reaches the bad server"
        );
    }
    assert_eq!(state(80), state(81));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn smtp_and_ldap_checks_judge_servers_as_haproxy_does() {
    let Some(topo) = topology("hsml") else { return };
    let dir = std::env::temp_dir().join(clearway_testkit::netns::unique_name("smtpldap"));
    std::fs::create_dir_all(&dir).unwrap();
    let _peers = [
        // An ESMTP server answering EHLO with several lines (and QUIT, which HAProxy 2.6.12
        // sends), and one that turns clients away.
        Peer::start(&topo, "198.51.100.10:25", &dir, "printf '220 mail.test ESMTP\\r\\n'; read l; printf '250-mail.test\\r\\n250 SIZE 1000\\r\\n'; read q; printf '221 Bye\\r\\n'"),
        Peer::start(&topo, "198.51.100.11:25", &dir, "printf '554 no service\\r\\n'"),
        // A directory answering the anonymous bind with success, and one with code 49.
        Peer::start(&topo, "198.51.100.10:389", &dir, "head -c 14 >/dev/null; printf '\\060\\014\\002\\001\\001\\141\\007\\012\\001\\000\\004\\000\\004\\000'"),
        Peer::start(&topo, "198.51.100.11:389", &dir, "head -c 14 >/dev/null; printf '\\060\\014\\002\\001\\001\\141\\007\\012\\001\\061\\004\\000\\004\\000'"),
    ];
    let cfg = format!(
        "global\n    stats socket {dir}/PORT.sock level admin\n{DEFAULTS}\
         frontend ft\n    bind 192.0.2.1:PORT\n    default_backend smtp\n\
         backend smtp\n    option smtpchk EHLO lb.test\n\
         \x20   server ok 198.51.100.10:25 check inter 300ms\n    server bad 198.51.100.11:25 check inter 300ms\n\
         backend ldap\n    option ldap-check\n\
         \x20   server ok 198.51.100.10:389 check inter 300ms\n    server bad 198.51.100.11:389 check inter 300ms\n",
        dir = dir.display()
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    let states = |port: u16| -> Vec<String> {
        let csv = cli(&dir.join(format!("{port}.sock")), "show stat");
        csv_rows(&csv)
            .into_iter()
            .filter(|r| r["svname"] == "ok" || r["svname"] == "bad")
            .map(|r| {
                format!(
                    "{}/{} {} {} {}",
                    r["pxname"], r["svname"], r["status"], r["check_status"], r["last_chk"]
                )
            })
            .collect()
    };
    let want = [
        "smtp/ok UP L7OK Bye",
        "smtp/bad DOWN L7STS no service",
        "ldap/ok UP L7OK ",
        "ldap/bad DOWN L7STS See RFC: http://tools.ietf.org/html/rfc4511#section-4.1.9",
    ];
    for port in [80, 81] {
        assert!(eventually(|| states(port) == want), "port {port}: {:?}", states(port));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn tracking_servers_follow_the_health_and_maintenance_they_track_as_with_haproxy() {
    let Some(topo) = topology("htrk") else { return };
    let s1 = EchoServer::start(&topo.server, addr("198.51.100.10:80"));
    let _s2 = EchoServer::start(&topo.server, addr("198.51.100.11:80"));
    let dir = std::env::temp_dir().join(clearway_testkit::netns::unique_name("track"));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = format!(
        "global\n    stats socket {dir}/PORT.sock level admin\n{DEFAULTS}\
         frontend ft\n    bind 192.0.2.1:PORT\n    default_backend bk1\n\
         backend bk1\n    server s1 198.51.100.10:80 check inter 200ms fall 1 rise 1\n\
         \x20   server s2 198.51.100.11:80 check inter 200ms fall 1 rise 1\n\
         backend bk2\n    server t1 198.51.100.10:80 track bk1/s1\n    server t2 198.51.100.11:80 track bk1/s2\n\
         \x20   server t3 198.51.100.10:80 track t1\n",
        dir = dir.display()
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    let states = |port: u16| -> Vec<String> {
        let csv = cli(&dir.join(format!("{port}.sock")), "show stat");
        csv_rows(&csv)
            .into_iter()
            .filter(|r| r["svname"].starts_with('t'))
            .map(|r| format!("{} {} {}", r["svname"], r["status"], r["tracked"]))
            .collect()
    };
    let both = |want: &[&str]| {
        let ok = eventually(|| states(80) == want && states(81) == want);
        assert!(ok, "want {want:?}: Clearway {:?}, HAProxy {:?}", states(80), states(81));
    };
    both(&["t1 UP bk1/s1", "t2 UP bk1/s2", "t3 UP bk2/t1"]);
    // s1 stops answering: its trackers go down, along the chain.
    drop(s1);
    both(&["t1 DOWN bk1/s1", "t2 UP bk1/s2", "t3 DOWN bk2/t1"]);
    // s2 in maintenance: its tracker inherits it.
    for port in [80, 81] {
        cli(&dir.join(format!("{port}.sock")), "set server bk1/s2 state maint");
    }
    both(&["t1 DOWN bk1/s1", "t2 MAINT (via bk1/s2) bk1/s2", "t3 DOWN bk2/t1"]);
    for port in [80, 81] {
        cli(&dir.join(format!("{port}.sock")), "set server bk1/s2 state ready");
    }
    both(&["t1 DOWN bk1/s1", "t2 UP bk1/s2", "t3 DOWN bk2/t1"]);
    let _ = std::fs::remove_dir_all(&dir);
}
