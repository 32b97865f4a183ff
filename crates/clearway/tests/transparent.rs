//! Transparent binding (a VIP on no interface) and transparent proxying (`usesrc`), IPv4 and
//! IPv6, with the real binary in network namespaces and HAProxy's manual kernel recipe.

mod common;
use common::*;

const DEFAULTS: &str = TCP_DEFAULTS;

#[test]
fn vip_on_no_interface_answers_and_server_sees_client_ipv4() {
    let Some(topo) = topology("tpv4") else { return };
    topo.apply_manual_tproxy();
    assert!(
        !topo.lb.sh("ip addr").contains("203.0.113.80"),
        "the VIP must be on no interface"
    );
    let _srv = peer_servers(&topo, &["198.51.100.10:80"]);
    let cfg = format!(
        "{DEFAULTS}frontend ft_application\n    bind 203.0.113.80:80 transparent\n    default_backend bk_application\n\
         backend bk_application\n    source 0.0.0.0 usesrc clientip\n    server s1 198.51.100.10:80\n"
    );
    let _lb = start(&topo, &cfg, &[80]);
    let answer = ask(&topo, "203.0.113.80:80", Some("192.0.2.2"));
    assert_eq!(peer_of(&answer).ip().to_string(), "192.0.2.2", "{answer}");
    let answer = ask(&topo, "203.0.113.80:80", Some("192.0.2.3"));
    assert_eq!(peer_of(&answer).ip().to_string(), "192.0.2.3", "{answer}");
    // A real client too.
    let out = clearway_testkit::curl(&topo.client, "http://203.0.113.80/", &[]);
    let body = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(body.contains("peer=192.0.2.2:"), "{body}");
}

#[test]
fn server_sees_client_ipv6_with_usesrc_clientip() {
    let Some(topo) = topology("tpv6") else { return };
    topo.apply_manual_tproxy();
    assert!(!topo.lb.sh("ip -6 addr").contains("2001:db8:f::80"));
    let _srv = peer_servers(&topo, &["[2001:db8:5::10]:80"]);
    let cfg = format!(
        "{DEFAULTS}frontend ft\n    bind [2001:db8:f::80]:80 transparent\n    default_backend bk\n\
         backend bk\n    source :: usesrc clientip\n    server s1 [2001:db8:5::10]:80\n"
    );
    let _lb = start(&topo, &cfg, &[80]);
    let answer = ask(&topo, "[2001:db8:f::80]:80", Some("2001:db8:c::3"));
    assert_eq!(peer_of(&answer).ip().to_string(), "2001:db8:c::3", "{answer}");
}

#[test]
fn without_usesrc_the_server_sees_the_lb_address() {
    let Some(topo) = topology("tpno") else { return };
    topo.apply_manual_tproxy();
    let _srv = peer_servers(&topo, &["198.51.100.10:80"]);
    let cfg = format!(
        "{DEFAULTS}frontend ft\n    bind 203.0.113.80:80 transparent\n    default_backend bk\n\
         backend bk\n    server s1 198.51.100.10:80\n"
    );
    let _lb = start(&topo, &cfg, &[80]);
    let answer = ask(&topo, "203.0.113.80:80", Some("192.0.2.2"));
    assert_eq!(peer_of(&answer).ip().to_string(), "198.51.100.1", "{answer}");
}

#[test]
fn usesrc_client_keeps_the_client_port_and_usesrc_addr_uses_a_fixed_foreign_address() {
    let Some(topo) = topology("tpport") else {
        return;
    };
    topo.apply_manual_tproxy();
    let _srv = peer_servers(&topo, &["198.51.100.10:80", "198.51.100.11:80"]);
    let cfg = format!(
        "{DEFAULTS}frontend ft\n    bind 192.0.2.1:80\n    default_backend bk\n\
         frontend ft2\n    bind 192.0.2.1:81\n    default_backend bk2\n\
         backend bk\n    server s1 198.51.100.10:80 source 0.0.0.0 usesrc client\n\
         backend bk2\n    source 0.0.0.0 usesrc 192.0.2.200\n    server s2 198.51.100.11:80\n"
    );
    let _lb = start(&topo, &cfg, &[80, 81]);
    let answer = clearway_testkit::request_from_port(
        &topo.client,
        addr("192.0.2.1:80"),
        "192.0.2.2".parse().unwrap(),
        40123,
        b"hello\n",
        TIMEOUT,
    )
    .expect("request");
    assert_eq!(peer_of(&answer), addr("192.0.2.2:40123"), "{answer}");
    let answer = ask(&topo, "192.0.2.1:81", Some("192.0.2.2"));
    assert_eq!(peer_of(&answer).ip().to_string(), "192.0.2.200", "{answer}");
}

#[test]
fn dual_stack_listener_serves_both_families_and_spoofs_ipv4_clients() {
    let Some(topo) = topology("tpdual") else {
        return;
    };
    topo.apply_manual_tproxy();
    let _srv = peer_servers(&topo, &["198.51.100.10:80"]);
    let cfg = format!(
        "{DEFAULTS}frontend ft\n    bind :::8080 v4v6\n    default_backend bk\n\
         backend bk\n    source 0.0.0.0 usesrc clientip\n    server s1 198.51.100.10:80\n"
    );
    let _lb = start(&topo, &cfg, &[8080]);
    let answer = ask(&topo, "192.0.2.1:8080", Some("192.0.2.3"));
    assert_eq!(peer_of(&answer).ip().to_string(), "192.0.2.3", "{answer}");
    // An IPv6 client cannot be spoofed towards an IPv4 server: refused, and the log says why.
    let lb = start(&topo, &cfg.replace("8080", "8081"), &[8081]);
    let answer = clearway_testkit::request(&topo.client, addr("[2001:db8:c::1]:8081"), None, b"hello\n", TIMEOUT);
    assert_eq!(answer.unwrap_or_default(), "", "no answer for a family mismatch");
    assert!(lb.wait_log("cannot choose a source address", TIMEOUT), "{}", lb.log());
}

#[test]
fn missing_cap_net_admin_fails_at_start_naming_the_line() {
    if !clearway_testkit::require_root_and_netns() {
        return;
    }
    let cfg = format!(
        "{DEFAULTS}frontend ft\n    bind 127.0.0.1:18080\n    default_backend bk\n\
         backend bk\n    source 0.0.0.0 usesrc clientip\n    server s1 127.0.0.1:18081\n"
    );
    let dir = std::env::temp_dir().join(format!("cw-cap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("cap.cfg");
    std::fs::write(&file, cfg).unwrap();
    let out = std::process::Command::new("setpriv")
        .args(["--bounding-set", "-net_admin,-net_raw", "--"])
        .arg(binary())
        .arg("-f")
        .arg(&file)
        .arg("-db")
        .output()
        .expect("setpriv");
    std::fs::remove_dir_all(&dir).ok();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("CAP_NET_ADMIN"), "{err}");
    assert!(err.contains("cap.cfg:10:"), "the error names the usesrc line: {err}");
}

#[test]
fn spoofed_connect_without_return_path_is_explained_in_the_log() {
    let Some(topo) = topology("tpnoret") else {
        return;
    };
    // No divert rules on the lb: the server's SYN-ACK to the client's address is forwarded to
    // the client instead of reaching Clearway's spoofed socket.
    let _srv = peer_servers(&topo, &["198.51.100.10:80"]);
    let cfg = "defaults\n    mode tcp\n    timeout connect 300ms\n    timeout client 30s\n    timeout server 30s\n    retries 0\n\
               frontend ft\n    bind 192.0.2.1:80\n    default_backend bk\n\
               backend bk\n    source 0.0.0.0 usesrc clientip\n    server db1 198.51.100.10:80\n";
    let lb = start(&topo, cfg, &[80]);
    let answer =
        clearway_testkit::request(&topo.client, addr("192.0.2.1:80"), None, b"hello\n", TIMEOUT).unwrap_or_default();
    assert_eq!(answer, "");
    assert!(
        lb.wait_log("do not route back through this host", TIMEOUT),
        "{}",
        lb.log()
    );
    let log = lb.log();
    assert!(
        log.contains("db1") && log.contains("192.0.2.2"),
        "server and client address named: {log}"
    );
}

#[test]
fn bind_port_ranges_and_address_lists_open_every_listener() {
    let Some(topo) = topology("ranges") else {
        return;
    };
    let _srv = peer_servers(&topo, &["198.51.100.10:80"]);
    let cfg = format!(
        "{DEFAULTS}frontend ft\n    bind 192.0.2.1:8000-8002,[2001:db8:c::1]:9000\n    default_backend bk\n\
         backend bk\n    server s1 198.51.100.10:80\n"
    );
    let _lb = start(&topo, &cfg, &[8000, 8001, 8002, 9000]);
    for to in [
        "192.0.2.1:8000",
        "192.0.2.1:8001",
        "192.0.2.1:8002",
        "[2001:db8:c::1]:9000",
    ] {
        assert!(ask(&topo, to, None).contains("server=s1"), "{to}");
    }
}

#[test]
fn plain_source_binds_a_local_address_and_port_range() {
    let Some(topo) = topology("srcloc") else {
        return;
    };
    topo.lb.sh("ip addr add 198.51.100.2/24 dev eths");
    let _srv = peer_servers(&topo, &["198.51.100.10:80", "198.51.100.11:80"]);
    let cfg = format!(
        "{DEFAULTS}frontend ft\n    bind 192.0.2.1:80\n    default_backend bk\n\
         frontend ft2\n    bind 192.0.2.1:81\n    default_backend bk2\n\
         backend bk\n    source 198.51.100.2\n    server s1 198.51.100.10:80\n\
         backend bk2\n    server s2 198.51.100.11:80 source 198.51.100.2:40000-40001\n"
    );
    let _lb = start(&topo, &cfg, &[80, 81]);
    let answer = ask(&topo, "192.0.2.1:80", None);
    assert_eq!(peer_of(&answer).ip().to_string(), "198.51.100.2", "{answer}");
    for _ in 0..3 {
        let peer = peer_of(&ask(&topo, "192.0.2.1:81", None));
        assert_eq!(peer.ip().to_string(), "198.51.100.2");
        assert!(
            (40000..=40001).contains(&peer.port()),
            "port {} outside the range",
            peer.port()
        );
    }
}
