//! The start-up self-test, and starting as a non-root user from a binary with file
//! capabilities.

mod common;
use clearway_testkit::Clearway;
use common::*;

const BASE: &str = "defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 30s\n    timeout server 30s\n\
                    frontend ft\n    bind 203.0.113.80:8080 transparent\n    default_backend bk\n\
                    backend bk\n    source 0.0.0.0 usesrc clientip\n";

#[test]
fn self_test_logs_each_missing_prerequisite_with_its_fix() {
    let Some(topo) = topology("stmiss") else { return };
    let cfg = format!("{BASE}    server s1 198.51.100.10:80\n");
    let lb = Clearway::start(&topo.lb, binary(), &cfg, &[8080]);
    assert!(lb.wait_log("prerequisite(s) missing", TIMEOUT), "{}", lb.log());
    let log = lb.log();
    assert!(
        log.contains("self-test: IPv4 divert rules (packets of local sockets get a mark) is MISSING"),
        "{log}"
    );
    assert!(log.contains("fix: iptables -t mangle -N DIVERT"), "{log}");
    assert!(
        log.contains("self-test: IPv4 policy routing rule for the mark is MISSING"),
        "{log}"
    );
    assert!(log.contains("3 prerequisite(s) missing"), "{log}");
}

#[test]
fn self_test_confirms_auto_set_up_with_a_live_probe() {
    let Some(topo) = topology("stauto") else { return };
    let _srv = peer_servers(&topo, &["198.51.100.10:80"]);
    let cfg = format!(
        "global\n    transparent-setup auto\n{BASE}    server s1 198.51.100.10:80 check-transparent-source 192.0.2.2\n"
    );
    let lb = Clearway::start(&topo.lb, binary(), &cfg, &[8080]);
    assert!(lb.wait_log("ready", TIMEOUT), "{}", lb.log());
    let log = lb.log();
    assert!(
        log.contains("self-test: transparent proxying prerequisites are in place"),
        "{log}"
    );
    assert!(
        log.contains("self-test: return path of backend 'bk': 198.51.100.10:80 from 192.0.2.2: answered"),
        "{log}"
    );
}

#[test]
fn non_root_start_with_file_capabilities_spoofs() {
    let Some(topo) = topology("fcaps") else { return };
    topo.apply_manual_tproxy();
    let _srv = peer_servers(&topo, &["198.51.100.10:80"]);
    // A copy of the binary with CAP_NET_ADMIN as a file capability, run as nobody.
    let dir = std::env::temp_dir().join(format!("cw-fcaps-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let copy = dir.join("clearway");
    std::fs::copy(binary(), &copy).expect("copy");
    let out = std::process::Command::new("setcap")
        .arg("cap_net_admin+ep")
        .arg(&copy)
        .output()
        .expect("setcap");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::process::Command::new("chmod")
        .args(["-R", "a+rx"])
        .arg(&dir)
        .status()
        .expect("chmod");
    let cfg = format!("{BASE}    server s1 198.51.100.10:80\n");
    let wrapper = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"];
    let lb = Clearway::start_wrapped(&topo.lb, &wrapper, &copy, &cfg, &[8080], "info");
    let pid = lb.pid().expect("pid");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().skip(1).all(|u| u == "65534")),
        "{status}"
    );
    let answer = ask(&topo, "203.0.113.80:8080", Some("192.0.2.3"));
    assert_eq!(peer_of(&answer).ip().to_string(), "192.0.2.3", "{answer}");
    drop(lb);
    std::fs::remove_dir_all(&dir).ok();
}
