//! Where log lines go, side by side with HAProxy where it applies: the targets a `log` line
//! names (a TCP syslog server, `sample` spreading lines over targets, the global targets
//! for the process's own messages), the refused-client lines' rate limit, and what cannot be
//! honoured (a config error, not lines lost).

mod common;
use common::http::DEFAULTS;
use common::syslog::*;
use common::*;
use std::net::UdpSocket;

#[test]
fn log_lines_that_cannot_be_honoured_are_config_errors() {
    for (line, says) in [
        ("log ring@buf local0", "rings are not supported"),
        ("log 127.0.0.1 sample 0:2 local0", "ranges start from 1"),
        ("log 127.0.0.1 sample 1,3:2 local0", "should be greater or equal to 3"),
        ("log 127.0.0.1 sample 1-3,2:5 local0", "overlaps"),
        ("log 127.0.0.1 sample 1-3 local0", "missing sample size"),
        (
            "log 127.0.0.1 local0\n    option httplog clf",
            "'option httplog clf' is not supported",
        ),
    ] {
        let cfg = format!(
            "defaults\n    mode http\n    timeout connect 5s\n    timeout client 5s\n    timeout server 5s\n\
             frontend f\n    bind 127.0.0.1:8080\n    {line}\n"
        );
        let out = clearway_testkit::Clearway::check(binary(), &cfg);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(says), "{line}: {err}");
    }
}

#[test]
fn the_processs_own_messages_go_to_the_global_log_too() {
    let Some(topo) = topology("logp") else { return };
    let rx = receiver(&topo);
    let port = rx.local_addr().expect("addr").port();
    // Nothing listens on the server's port: its health check fails.
    let cfg = format!(
        "global\n    log 127.0.0.1:{port} local0\n{DEFAULTS}frontend ft\n    bind 192.0.2.1:80\n    default_backend bk\n\
         backend bk\n    server s1 198.51.100.10:9 check inter 200ms fall 1\n"
    );
    let _lb = start(&topo, &cfg, &[80]);
    let l = line_with(&rx, "Server bk/s1 is DOWN");
    // <132> is local0.warning, HAProxy's wording after the tag.
    assert!(
        l.starts_with("<132>") && l.contains("]: Server bk/s1 is DOWN, reason: Layer4 connection problem"),
        "{l}"
    );
}

#[test]
fn refused_clients_are_logged_at_most_once_a_second_with_the_count_left_out() {
    let Some(topo) = topology("lgth") else { return };
    let _srv = peer_servers(&topo, &["198.51.100.10:80"]);
    let cfg = "defaults\n    mode tcp\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n\
               frontend ft\n    bind 192.0.2.1:80\n    tcp-request connection reject\n    default_backend bk\n\
               backend bk\n    server s1 198.51.100.10:80\n";
    let lb = start(&topo, cfg, &[80]);
    let refused = |n: usize| {
        for _ in 0..n {
            let _ = read_all(connect(&topo, "192.0.2.1:80"));
        }
    };
    refused(30);
    // A new second: the next refusal is logged, with how many were left out before it.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    refused(1);
    let needle = "rejected by 'tcp-request connection reject'";
    let counted = || {
        let log = lb.log();
        let mine: Vec<&str> = log.lines().filter(|l| l.contains(needle)).collect();
        let left_out: u64 = mine
            .iter()
            .filter_map(|l| l.split("left_out=").nth(1))
            .filter_map(|v| v.split(|c: char| !c.is_ascii_digit()).next()?.parse::<u64>().ok())
            .sum();
        (mine.len(), left_out)
    };
    assert!(
        eventually(|| {
            let (n, l) = counted();
            n as u64 + l == 31
        }),
        "{:?}: {}",
        counted(),
        lb.log()
    );
    let (lines, _) = counted();
    assert!(lines < 31, "one line per refusal: {}", lb.log());
}

#[test]
fn log_sample_spreads_lines_over_targets_as_haproxy_does() {
    let Some(topo) = topology("logsmp") else { return };
    let _w = common::http::echo(&topo, "198.51.100.10:80", "web1");
    let rx = udp_receivers(&topo, &[180, 181, 280, 281]);
    let cfg = format!(
        "{DEFAULTS}frontend fe\n    bind 192.0.2.1:PORT\n    option httplog\n\
         \x20   log 127.0.0.1:1PORT sample 1,3:5 local0\n    log 127.0.0.1:2PORT sample 2,4-5:5 local0\n\
         \x20   default_backend be\nbackend be\n    server web1 198.51.100.10:80\n"
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    let paths = |rx: &UdpSocket, n: usize| -> Vec<String> {
        traffic(rx, n)
            .iter()
            .filter_map(|l| {
                l.split_once("\"GET ")
                    .map(|(_, r)| r.split(' ').next().unwrap_or("").to_string())
            })
            .collect()
    };
    for port in [80, 81] {
        for i in 1..=10 {
            common::http::get(&topo, &format!("http://192.0.2.1:{port}/r{i}"), &[]);
        }
    }
    for (who, first, second) in [("clearway", &rx[0], &rx[2]), ("haproxy", &rx[1], &rx[3])] {
        assert_eq!(paths(first, 4), ["/r1", "/r3", "/r6", "/r8"], "{who}");
        assert_eq!(paths(second, 6), ["/r2", "/r4", "/r5", "/r7", "/r9", "/r10"], "{who}");
        assert_eq!(quiet(first), None, "{who}");
    }
}
