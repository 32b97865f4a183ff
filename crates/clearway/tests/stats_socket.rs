//! The runtime API on `stats socket`, driven with socat as operators and deploy scripts do:
//! draining, maintenance and weights change where new traffic goes while sessions in progress
//! finish; `show stat` counts the traffic sent; a socket's level limits what it may change.

mod common;
use common::http::{echo, get, values, DEFAULTS as HTTP_DEFAULTS};
use common::*;

const TCP_DEFAULTS: &str =
    "defaults\n    mode tcp\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n";

/// A directory of its own for the test's sockets.
fn socket_dir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(clearway_testkit::netns::unique_name(tag));
    std::fs::create_dir_all(&d).expect("socket dir");
    d
}

/// Sends `line` to the stats socket at `path` with socat; returns the answer.
fn cli(path: &std::path::Path, line: &str) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new("socat")
        .args(["-t", "5", "-", &format!("UNIX-CONNECT:{}", path.display())])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("socat (a test dependency: scripts/test installs it)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{line}\n").as_bytes())
        .expect("send");
    let out = child.wait_with_output().expect("socat");
    assert!(out.status.success(), "socat: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The `show stat` row of `proxy/name`, as column name -> value.
fn stat(path: &std::path::Path, proxy: &str, name: &str) -> std::collections::HashMap<String, String> {
    let csv = cli(path, "show stat");
    let mut lines = csv.lines();
    let header: Vec<&str> = lines
        .next()
        .and_then(|h| h.strip_prefix("# "))
        .expect("a CSV header")
        .split(',')
        .collect();
    let row = lines
        .find(|l| l.starts_with(&format!("{proxy},{name},")))
        .unwrap_or_else(|| panic!("no row {proxy}/{name} in:\n{csv}"));
    header
        .iter()
        .zip(row.split(','))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn drain_maint_and_weight_move_new_traffic_while_sessions_in_progress_finish() {
    let Some(topo) = topology("cli") else { return };
    let dir = socket_dir("cli");
    let sock = dir.join("admin.sock");
    let user_sock = dir.join("user.sock");
    let _srv = holding_servers(&topo, &["198.51.100.10:80", "198.51.100.11:80"]);
    let cfg = format!(
        "global\n    stats socket {} level admin mode 600\n    stats socket {} level user\n{TCP_DEFAULTS}\
         listen app\n    bind 192.0.2.1:80\n    server s1 198.51.100.10:80\n    server s2 198.51.100.11:80\n",
        sock.display(),
        user_sock.display()
    );
    let lb = start(&topo, &cfg, &[80]);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&sock)
        .expect("the socket exists")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "mode 600");

    // Round robin: one session in progress on each server.
    let first = hold(&topo, "192.0.2.1:80");
    let second = hold(&topo, "192.0.2.1:80");
    // Both sessions have reached their server before s2 is drained (the connects return
    // once the kernel has accepted them, before Clearway has chosen a server).
    assert!(
        eventually(|| stat(&sock, "app", "s1")["scur"] == "1" && stat(&sock, "app", "s2")["scur"] == "1"),
        "one session in progress on each server"
    );
    assert_eq!(cli(&sock, "set server app/s2 state drain"), "\n");
    // New sessions avoid the drained server...
    for _ in 0..4 {
        assert_eq!(server_of(&read_all(hold(&topo, "192.0.2.1:80"))), "s1");
    }
    assert!(cli(&sock, "show stat").contains("app,s2,"), "the CSV lists the server");
    assert_eq!(stat(&sock, "app", "s2")["status"], "DRAIN");
    // ...while the sessions it had go on to their end.
    let mut ends = vec![server_of(&read_all(first)), server_of(&read_all(second))];
    ends.sort();
    assert_eq!(ends, ["s1", "s2"]);

    // Maintenance on s1 and s2 back: everything goes to s2.
    assert_eq!(
        cli(&sock, "disable server app/s1; set server app/s2 state ready"),
        "\n\n"
    );
    for _ in 0..3 {
        assert_eq!(server_of(&ask(&topo, "192.0.2.1:80", None)), "s2");
    }
    assert_eq!(stat(&sock, "app", "s1")["status"], "MAINT");
    // Weight 0 on s2 with s1 back: s1 takes it all.
    assert_eq!(cli(&sock, "enable server app/s1; set weight app/s2 0"), "\n\n");
    assert_eq!(cli(&sock, "get weight app/s2"), "0 (initial 1)\n\n");
    for _ in 0..3 {
        assert_eq!(server_of(&ask(&topo, "192.0.2.1:80", None)), "s1");
    }
    // And back to both.
    assert_eq!(cli(&sock, "set weight app/s2 100%"), "\n");
    let mut both: Vec<String> = (0..4).map(|_| server_of(&ask(&topo, "192.0.2.1:80", None))).collect();
    both.sort();
    both.dedup();
    assert_eq!(both, ["s1", "s2"]);

    // The counts: s1 served 1 + 4 + 3 + (its share of the last 4); every session counted once.
    let s1 = stat(&sock, "app", "s1");
    let s2 = stat(&sock, "app", "s2");
    let total = |r: &std::collections::HashMap<String, String>| r["stot"].parse::<u64>().expect("stot");
    assert_eq!(total(&s1) + total(&s2), 2 + 4 + 3 + 3 + 4);
    assert_eq!(stat(&sock, "app", "FRONTEND")["stot"], "16");
    assert!(s1["bin"].parse::<u64>().expect("bin") >= 6 * 8, "{s1:?}");

    // A user-level socket reads but does not change.
    assert_eq!(cli(&user_sock, "disable server app/s1"), "Permission denied\n\n");
    assert_eq!(stat(&user_sock, "app", "s1")["status"], "no check");
    assert!(cli(&user_sock, "frobnicate").starts_with("Unknown command"));
    drop(lb);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn show_stat_counts_http_responses_and_the_errors_of_a_dead_server() {
    let Some(topo) = topology("clih") else { return };
    let dir = socket_dir("clih");
    let sock = dir.join("s.sock");
    let _a = echo(&topo, "198.51.100.10:80", "s1");
    let b = echo(&topo, "198.51.100.11:80", "s2");
    let cfg = format!(
        "global\n    stats socket {}\n{HTTP_DEFAULTS}\
         frontend ft\n    bind 192.0.2.1:80\n    default_backend bk\n\
         backend bk\n    retries 0\n    server s1 198.51.100.10:80\n    server s2 198.51.100.11:80\n",
        sock.display()
    );
    let _lb = start(&topo, &cfg, &[80]);
    let url = "http://192.0.2.1/x";
    let served: Vec<String> = (0..6).flat_map(|_| values(&get(&topo, url, &[]), "server")).collect();
    assert_eq!(served.len(), 6);
    let fe = stat(&sock, "ft", "FRONTEND");
    assert_eq!((fe["req_tot"].as_str(), fe["hrsp_2xx"].as_str()), ("6", "6"), "{fe:?}");
    assert_eq!(fe["hrsp_5xx"], "0");
    assert!(fe["bout"].parse::<u64>().expect("bout") > 6 * 50, "{fe:?}");
    let s2 = stat(&sock, "bk", "s2");
    assert_eq!(s2["hrsp_2xx"], "3", "{s2:?}");

    // s2 dies: its requests fail (no retries), counted as 503s and connection errors.
    drop(b);
    let codes: Vec<String> = (0..4).map(|_| http_code(&topo, url, &[])).collect();
    let failed = codes.iter().filter(|c| *c == "503").count();
    assert_eq!(failed, 2, "{codes:?}");
    let fe = stat(&sock, "ft", "FRONTEND");
    assert_eq!((fe["req_tot"].as_str(), fe["hrsp_5xx"].as_str()), ("10", "2"), "{fe:?}");
    let bk = stat(&sock, "bk", "BACKEND");
    assert_eq!((bk["econ"].as_str(), bk["hrsp_5xx"].as_str()), ("2", "2"), "{bk:?}");
    assert_eq!(stat(&sock, "bk", "s2")["econ"], "2");
    // The operator level (the default) may clear the maxima, not the totals.
    assert_eq!(cli(&sock, "clear counters all"), "Permission denied\n\n");
    assert_eq!(cli(&sock, "clear counters"), "\n");
    assert_eq!(stat(&sock, "ft", "FRONTEND")["req_tot"], "10");
    let _ = std::fs::remove_dir_all(dir);
}
