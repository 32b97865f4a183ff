//! Every check type against a real server of its kind (Debian's packages), each passing
//! against the right server and failing with HAProxy's reason against the wrong answer.

mod common;
use clearway_testkit::{daemons, Clearway};
use common::*;

const DEFAULTS: &str = "defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 30s\n    timeout server 30s\n    timeout check 2s\n";

/// One backend per (name, check lines, server address), each with one server checked every 200 ms.
fn config(backends: &[(&str, &str, &str)]) -> String {
    let mut cfg = format!(
        "{DEFAULTS}frontend ft\n    bind 192.0.2.1:80\n    default_backend {}\n",
        backends[0].0
    );
    for (name, check, server) in backends {
        cfg.push_str(&format!(
            "backend {name}\n{check}    server s1 {server} check inter 200ms rise 2 fall 3\n"
        ));
    }
    cfg
}

fn start_debug(topo: &clearway_testkit::Topology, cfg: &str) -> Clearway {
    Clearway::start_with_log(&topo.lb, binary(), cfg, &[80], "info,clearway_proxy::checks=debug")
}

/// How many checks of `backend` in a row had `ok` right before the first log line containing `event`.
fn streak_before(log: &str, backend: &str, event: &str, ok: bool) -> usize {
    let lines: Vec<&str> = log.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.contains(event))
        .unwrap_or_else(|| panic!("no '{event}' in:\n{log}"));
    let mine = lines[..at]
        .iter()
        .rev()
        .filter(|l| l.contains(&format!("backend={backend} ")) && l.contains("check:"));
    mine.take_while(|l| l.contains(&format!("ok={ok}"))).count()
}

/// Resets connections to `port` in the server namespace until each of `backends` goes DOWN,
/// then lets them through until each is UP again, and checks every change took exactly fall 3
/// failed / rise 2 passing checks.
fn down_and_back(topo: &clearway_testkit::Topology, lb: &Clearway, backends: &[&str], port: u16) {
    let rule = format!("INPUT -p tcp --dport {port} -j REJECT --reject-with tcp-reset");
    topo.server.sh(&format!("iptables -I {rule}"));
    for backend in backends {
        let down = format!("Server {backend}/s1 is DOWN, reason: Layer4 connection problem");
        assert!(lb.wait_log(&down, TIMEOUT), "{}", lb.log());
    }
    topo.server.sh(&format!("iptables -D {rule}"));
    for backend in backends {
        let up = format!("Server {backend}/s1 is UP");
        assert!(lb.wait_log(&up, TIMEOUT), "{}", lb.log());
    }
    let log = lb.log();
    for backend in backends {
        let down = format!("Server {backend}/s1 is DOWN, reason: Layer4 connection problem");
        let up = format!("Server {backend}/s1 is UP");
        assert_eq!(
            streak_before(&log, backend, &down, false),
            3,
            "fall 3 for {backend}:\n{log}"
        );
        assert_eq!(
            streak_before(&log, backend, &up, true),
            2,
            "rise 2 for {backend}:\n{log}"
        );
    }
}

/// A passing check of `backend` was logged with `reason`.
fn passed(lb: &Clearway, backend: &str, reason: &str) -> bool {
    eventually(|| {
        lb.log()
            .lines()
            .any(|l| l.contains(&format!("backend={backend} ")) && l.contains("ok=true") && l.contains(reason))
    })
}

#[test]
fn redis_check_and_tcp_check() {
    let Some(topo) = topology("ckredis") else { return };
    let _redis = daemons::redis(&topo.server, addr("198.51.100.10:6379"));
    let cfg = config(&[
        ("bk_redis", "    option redis-check\n", "198.51.100.10:6379"),
        (
            "bk_tcp_re",
            "    option tcp-check\n    tcp-check send PING\\r\\n\n    tcp-check expect rstring ^\\+PO[N]G\n",
            "198.51.100.10:6379",
        ),
        (
            "bk_tcp",
            "    option tcp-check\n    tcp-check send PING\\r\\n\n    tcp-check expect string +PONG\n",
            "198.51.100.10:6379",
        ),
        (
            "bk_tcp_bad",
            "    option tcp-check\n    tcp-check send PING\\r\\n\n    tcp-check expect string +NOPE\n",
            "198.51.100.10:6379",
        ),
    ]);
    let lb = start_debug(&topo, &cfg);
    assert!(passed(&lb, "bk_redis", "Layer7 check passed"), "{}", lb.log());
    assert!(passed(&lb, "bk_tcp", "Layer7 check passed"), "{}", lb.log());
    assert!(passed(&lb, "bk_tcp_re", "Layer7 check passed"), "{}", lb.log());
    // HAProxy's words for an expect still waiting when the check times out (checked against
    // HAProxy 2.6.12): where, and what it waited for.
    assert!(
        lb.wait_log(
            "Server bk_tcp_bad/s1 is DOWN, reason: Layer7 timeout, info: \" at step 2 of tcp-check (expect string '+NOPE')\"",
            TIMEOUT
        ),
        "{}",
        lb.log()
    );
    assert!(!lb.log().contains("bk_redis/s1 is DOWN"));
    down_and_back(&topo, &lb, &["bk_redis", "bk_tcp", "bk_tcp_re"], 6379);
    // A Redis that wants a password answers PING with an error: wrong status.
    topo.server
        .sh("redis-cli -h 198.51.100.10 -p 6379 CONFIG SET requirepass secret >/dev/null");
    assert!(
        lb.wait_log(
            "Server bk_redis/s1 is DOWN, reason: Layer7 wrong status, code: 0, info: \"-NOAUTH",
            TIMEOUT
        ),
        "{}",
        lb.log()
    );
    // The tcp-check expects +PONG too, and gets the error instead.
    assert!(
        lb.wait_log(
            "Server bk_tcp/s1 is DOWN, reason: Layer7 timeout, info: \" at step 2 of tcp-check (expect string '+PONG')\"",
            TIMEOUT
        ),
        "{}",
        lb.log()
    );
}

#[test]
fn pgsql_check() {
    let Some(topo) = topology("ckpg") else { return };
    // Under trust, PostgreSQL accepts any user name before looking it up; a reject rule makes it refuse.
    let _pg = daemons::postgres_with_hba(
        &topo.server,
        addr("198.51.100.10:5432"),
        "host all nobody_here 0.0.0.0/0 reject",
    );
    let cfg = config(&[
        ("bk_pg", "    option pgsql-check user postgres\n", "198.51.100.10:5432"),
        (
            "bk_pg_bad",
            "    option pgsql-check user nobody_here\n",
            "198.51.100.10:5432",
        ),
    ]);
    let lb = start_debug(&topo, &cfg);
    assert!(passed(&lb, "bk_pg", "PostgreSQL server is ok"), "{}", lb.log());
    // HAProxy's words for an error response: invalid, with its severity.
    assert!(
        lb.wait_log(
            "Server bk_pg_bad/s1 is DOWN, reason: Layer7 invalid response, info: \"FATAL\"",
            TIMEOUT
        ),
        "{}",
        lb.log()
    );
    assert!(!lb.log().contains("bk_pg/s1 is DOWN"));
    down_and_back(&topo, &lb, &["bk_pg"], 5432);
}

#[test]
fn mysql_check_with_and_without_user() {
    let Some(topo) = topology("ckmy") else { return };
    let db = daemons::mariadb(&topo.server, addr("198.51.100.10:3306"));
    db.sql("CREATE USER 'haproxy'@'198.51.100.1'");
    let cfg = config(&[
        ("bk_greeting", "    option mysql-check\n", "198.51.100.10:3306"),
        (
            "bk_user",
            "    option mysql-check user haproxy post-41\n",
            "198.51.100.10:3306",
        ),
        (
            "bk_user41",
            "    option mysql-check user haproxy\n",
            "198.51.100.10:3306",
        ),
        (
            "bk_nouser",
            "    option mysql-check user nobody_here post-41\n",
            "198.51.100.10:3306",
        ),
    ]);
    let lb = start_debug(&topo, &cfg);
    assert!(passed(&lb, "bk_greeting", "MariaDB"), "{}", lb.log());
    assert!(passed(&lb, "bk_user", "Layer7 check passed"), "{}", lb.log());
    assert!(passed(&lb, "bk_user41", "Layer7 check passed"), "{}", lb.log());
    assert!(
        lb.wait_log(
            "Server bk_nouser/s1 is DOWN, reason: Layer7 wrong status, code: 1045, info: \"#28000Access denied",
            TIMEOUT
        ),
        "{}",
        lb.log()
    );
    assert!(
        !lb.log().contains("bk_user/s1 is DOWN") && !lb.log().contains("bk_greeting/s1 is DOWN"),
        "{}",
        lb.log()
    );
    down_and_back(&topo, &lb, &["bk_greeting", "bk_user", "bk_user41"], 3306);
}

#[test]
fn ssl_hello_and_httpchk_against_nginx() {
    let Some(topo) = topology("cknginx") else { return };
    let _nginx = daemons::nginx(&topo.server, addr("198.51.100.10:80"), addr("198.51.100.10:443"));
    let cfg = config(&[
        ("bk_tls", "    option ssl-hello-chk\n", "198.51.100.10:443"),
        ("bk_tls_bad", "    option ssl-hello-chk\n", "198.51.100.10:80"),
        ("bk_http", "    option httpchk GET /\n", "198.51.100.10:80"),
        (
            "bk_http_re",
            "    option httpchk GET /\n    http-check expect rstatus ^2\n",
            "198.51.100.10:80",
        ),
        (
            "bk_http_bad",
            "    option httpchk GET /\n    http-check expect status 404\n",
            "198.51.100.10:80",
        ),
    ]);
    let lb = start_debug(&topo, &cfg);
    assert!(passed(&lb, "bk_tls", "Layer6 check passed"), "{}", lb.log());
    assert!(passed(&lb, "bk_http", "Layer7 check passed, code: 200"), "{}", lb.log());
    assert!(
        lb.wait_log("Server bk_tls_bad/s1 is DOWN, reason: Layer6 invalid response", TIMEOUT),
        "{}",
        lb.log()
    );
    assert!(
        lb.wait_log("Server bk_http_bad/s1 is DOWN, reason: Layer7 wrong status", TIMEOUT),
        "{}",
        lb.log()
    );
    assert!(
        !lb.log().contains("bk_tls/s1 is DOWN") && !lb.log().contains("bk_http/s1 is DOWN"),
        "{}",
        lb.log()
    );
    down_and_back(&topo, &lb, &["bk_tls"], 443);
    down_and_back(&topo, &lb, &["bk_http", "bk_http_re"], 80);
}
