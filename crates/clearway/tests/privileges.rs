//! Dropping root: `user`/`group`, `chroot` and `setcap`, with transparent proxying still
//! working from the unprivileged process because CAP_NET_ADMIN is kept.

mod common;
use clearway_testkit::Clearway;
use common::*;

/// A field of /proc/PID/status, e.g. "Uid" or "CapEff".
fn status_field(pid: u32, field: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("process status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in status"))
        .trim()
        .to_string()
}

fn cap_bits(pid: u32, field: &str) -> u64 {
    u64::from_str_radix(&status_field(pid, field), 16).expect("hex capability set")
}

#[test]
fn unprivileged_worker_keeps_only_cap_net_admin_and_still_spoofs() {
    let Some(topo) = topology("privs") else { return };
    topo.apply_manual_tproxy();
    let _srv = peer_servers(&topo, &["198.51.100.10:80"]);
    let root = std::env::temp_dir().join(format!("cw-chroot-{}", std::process::id()));
    std::fs::create_dir_all(&root).expect("chroot dir");
    let cfg = format!(
        "global\n    user nobody\n    group nogroup\n    chroot {}\n    setcap cap_net_bind_service\n\
         defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 30s\n    timeout server 30s\n\
         frontend ft\n    bind 203.0.113.80:80 transparent\n    default_backend bk\n\
         backend bk\n    source 0.0.0.0 usesrc clientip\n    server s1 198.51.100.10:80\n",
        root.display()
    );
    let lb = Clearway::start(&topo.lb, binary(), &cfg, &[80]);
    assert!(lb.wait_log("privileges dropped", TIMEOUT), "{}", lb.log());
    let pid = lb.pid().expect("pid");
    let answer = ask(&topo, "203.0.113.80:80", Some("192.0.2.3"));
    assert_eq!(peer_of(&answer).ip().to_string(), "192.0.2.3", "{answer}");
    let uids = status_field(pid, "Uid");
    assert!(
        uids.split_whitespace().all(|u| u == "65534"),
        "real, effective, saved uid are nobody's: {uids}"
    );
    let gids = status_field(pid, "Gid");
    assert!(gids.split_whitespace().all(|g| g == "65534"), "{gids}");
    let eff = cap_bits(pid, "CapEff");
    let expected = (1 << 12) | (1 << 10); // CAP_NET_ADMIN, CAP_NET_BIND_SERVICE
    assert_eq!(eff, expected, "only the needed capabilities are left: {eff:#x}");
    assert_eq!(cap_bits(pid, "CapPrm"), expected);
    let proc_root = std::fs::read_link(format!("/proc/{pid}/root")).expect("root link");
    assert_eq!(
        proc_root,
        root.canonicalize().expect("canonical"),
        "the process is chrooted"
    );
    drop(lb);
    std::fs::remove_dir_all(&root).ok();
}

#[test]
fn unknown_user_is_refused_at_start() {
    if !clearway_testkit::require_root_and_netns() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("cw-nouser-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    let file = dir.join("u.cfg");
    let port = 20000 + std::process::id() % 20000;
    std::fs::write(
        &file,
        format!(
            "global\n    user no_such_user_here\ndefaults\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\n\
             listen l\n    bind 127.0.0.1:{port}\n    server s1 127.0.0.1:9\n"
        ),
    )
    .expect("write");
    let out = std::process::Command::new(binary())
        .arg("-f")
        .arg(&file)
        .arg("-db")
        .output()
        .expect("run");
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no user named 'no_such_user_here'"));
}
