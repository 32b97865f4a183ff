//! `clearway doctor` in namespaces: everything missing in a bare namespace (with the fixes),
//! everything in place after HAProxy's manual recipe, nothing needed without transparency,
//! and the live return-path probe.

mod common;
use clearway_testkit::Netns;
use common::*;

const TRANSPARENT: &str =
    "defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\n\
                           frontend ft\n    bind 203.0.113.80:80 transparent\n    default_backend bk\n\
                           backend bk\n    source 0.0.0.0 usesrc clientip\n    server s1 198.51.100.10:80\n";

/// Runs `clearway doctor -f CONFIG ARGS` in `ns`; returns (exit code, stdout).
fn doctor(ns: &Netns, config: &str, args: &[&str]) -> (Option<i32>, String) {
    let dir = std::env::temp_dir().join(format!("cw-doctor-{}-{}", std::process::id(), ns.name()));
    std::fs::create_dir_all(&dir).expect("tmp");
    let file = dir.join("d.cfg");
    std::fs::write(&file, config).expect("write");
    let mut all = vec!["doctor", "-f", file.to_str().expect("utf-8")];
    all.extend_from_slice(args);
    let out = ns.exec(binary().to_str().expect("utf-8"), &all);
    std::fs::remove_dir_all(&dir).ok();
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned())
}

fn status_of(items: &serde_json::Value, prefix: &str) -> String {
    items
        .as_array()
        .expect("array")
        .iter()
        .find(|i| i["item"].as_str().is_some_and(|s| s.starts_with(prefix)))
        .unwrap_or_else(|| panic!("no item '{prefix}' in {items}"))["status"]
        .as_str()
        .expect("status")
        .to_string()
}

#[test]
fn bare_namespace_reports_each_missing_item_with_its_fix() {
    if !clearway_testkit::require_root_and_netns() {
        return;
    }
    let ns = Netns::new("docbare");
    let (code, out) = doctor(&ns, TRANSPARENT, &[]);
    assert_eq!(code, Some(1), "{out}");
    for (line, fix) in [
        (
            "WARNING     sysctl net.ipv4.ip_forward=1",
            "fix: sysctl -w net.ipv4.ip_forward=1",
        ),
        ("MISSING     IPv4 divert rules", "fix: iptables -t mangle -N DIVERT"),
        (
            "MISSING     IPv4 policy routing rule",
            "fix: ip rule add fwmark 1 lookup 100",
        ),
        (
            "MISSING     IPv4 local route",
            "fix: ip route add local 0.0.0.0/0 dev lo table 100",
        ),
    ] {
        assert!(out.contains(line), "{line}:\n{out}");
        assert!(out.contains(fix), "{fix}:\n{out}");
    }
    assert!(out.contains("NOT NEEDED  IPv6 divert rules"), "{out}");
    assert!(out.contains("NOT NEEDED  kernel: TPROXY"), "no catch-all bind: {out}");
    let catch_all = TRANSPARENT.replace("bind 203.0.113.80:80 transparent", "bind :80 transparent");
    let (_, out) = doctor(&ns, &catch_all, &[]);
    assert!(
        out.contains("OK          kernel: TPROXY"),
        "this kernel has TPROXY: {out}"
    );
    assert!(out.contains("REMINDER    return path of backend 'bk'"), "{out}");
    let (code, json) = doctor(&ns, TRANSPARENT, &["--json"]);
    assert_eq!(code, Some(1));
    let items: serde_json::Value = serde_json::from_str(&json).expect("JSON output");
    assert_eq!(status_of(&items, "IPv4 divert rules"), "MISSING");
    assert_eq!(status_of(&items, "CAP_NET_ADMIN"), "OK");
}

#[test]
fn manual_recipe_satisfies_doctor_for_ipv4_and_ipv6() {
    let Some(topo) = topology("docok") else { return };
    topo.apply_manual_tproxy();
    let cfg = TRANSPARENT.replace(
        "    server s1 198.51.100.10:80\n",
        "    server s1 198.51.100.10:80\n    server s2 [2001:db8:5::10]:80\n",
    );
    let (code, out) = doctor(&topo.lb, &cfg, &[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(!out.contains("MISSING"), "{out}");
    assert!(
        out.contains("OK          IPv6 divert rules"),
        "IPv6 is checked for the IPv6 server: {out}"
    );
    assert!(out.contains("everything needed is in place"), "{out}");
}

#[test]
fn auto_set_up_needs_no_manual_rules() {
    if !clearway_testkit::require_root_and_netns() {
        return;
    }
    let ns = Netns::new("docauto");
    let cfg = format!("global\n    transparent-setup auto\n{TRANSPARENT}");
    let (code, out) = doctor(&ns, &cfg, &[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("OK          IPv4 divert rules") && !out.contains("MISSING"),
        "{out}"
    );
}

#[test]
fn no_transparency_needs_nothing() {
    if !clearway_testkit::require_root_and_netns() {
        return;
    }
    let ns = Netns::new("docnone");
    let plain = "defaults\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\n\
                 listen l\n    bind 127.0.0.1:8080\n    server s1 127.0.0.1:8081\n";
    let (code, out) = doctor(&ns, plain, &[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("NOT NEEDED  IPv4 divert rules") && !out.contains("MISSING"),
        "{out}"
    );
}

#[test]
fn probe_tests_the_return_path_live() {
    let Some(topo) = topology("docprobe") else { return };
    topo.apply_manual_tproxy();
    let _srv = peer_servers(&topo, &["198.51.100.10:80"]);
    let (code, out) = doctor(&topo.lb, TRANSPARENT, &["--probe-from", "192.0.2.2"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("OK          return path of backend 'bk': 198.51.100.10:80 from 192.0.2.2"),
        "{out}"
    );
    // --probe takes the client-side address from the config's check-transparent-source.
    let with_source = TRANSPARENT.replace(
        "server s1 198.51.100.10:80",
        "server s1 198.51.100.10:80 check-transparent-source 192.0.2.2",
    );
    let (code, out) = doctor(&topo.lb, &with_source, &["--probe"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("OK          return path of backend 'bk': 198.51.100.10:80 from 192.0.2.2"),
        "{out}"
    );
    let (code, _) = doctor(&topo.lb, TRANSPARENT, &["--probe"]);
    assert_eq!(code, Some(1), "--probe without any client-side address is an error");
    let _router = topo.route_server_via_router();
    let (code, out) = doctor(&topo.lb, TRANSPARENT, &["--probe-from", "192.0.2.2"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("MISSING     return path of backend 'bk'"), "{out}");
    assert!(out.contains("do not come back through this host"), "{out}");
}
