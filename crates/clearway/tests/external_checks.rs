//! `option external-check`: a program judges each server, run as HAProxy runs it (same
//! arguments, same environment), side by side with HAProxy.

mod common;

use common::*;
use std::path::Path;

fn rows(sock: &Path) -> Vec<(String, String, String)> {
    csv_rows(&cli(sock, "show stat"))
        .into_iter()
        .filter(|r| r["svname"] == "s1")
        .map(|r| {
            (
                r["status"].clone(),
                r["check_status"].trim_start_matches("* ").to_string(),
                r["check_code"].clone(),
            )
        })
        .collect()
}

#[test]
fn an_external_program_says_whether_a_server_is_up_as_with_haproxy() {
    let Some(topo) = topology("extchk") else { return };
    let dir = std::env::temp_dir().join(clearway_testkit::netns::unique_name("extchk"));
    std::fs::create_dir_all(&dir).unwrap();
    let d = dir.display();
    // The program notes its arguments and environment (by the proxy's port: one file per
    // proxy), then exits with the status the test chose.
    let script = dir.join("check.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$@\" > {d}/args-$2\nenv | grep -v '^PWD=' | sort > {d}/env-$2\nexit $(cat {d}/status)\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::write(dir.join("status"), "0").unwrap();
    let _srv = peer_servers(&topo, &["198.51.100.10:80"]);
    let cfg = format!(
        "global\n    external-check\n    insecure-fork-wanted\n    stats socket {d}/PORT.sock level admin\n{TCP_DEFAULTS}\
         listen app\n    bind 192.0.2.1:PORT\n    option external-check\n    external-check command {d}/check.sh\n\
         \x20   external-check path \"/usr/bin:/bin\"\n    server s1 198.51.100.10:80 maxconn 7 check inter 200ms rise 1 fall 1\n"
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    let sock = |port: u16| dir.join(format!("{port}.sock"));
    let both = |want: (&str, &str, &str)| {
        let want = vec![(want.0.to_string(), want.1.to_string(), want.2.to_string())];
        for port in [80, 81] {
            assert!(
                eventually(|| rows(&sock(port)) == want),
                "port {port}: {:?}",
                rows(&sock(port))
            );
        }
    };
    both(("UP", "PROCOK", "0"));
    // What the program was told: the same by both proxies, but for their port.
    let read = |name: &str, port: u16| std::fs::read_to_string(dir.join(format!("{name}-{port}"))).unwrap_or_default();
    for port in [80, 81] {
        assert_eq!(read("args", port), format!("192.0.2.1 {port} 198.51.100.10 80\n"));
        assert!(
            read("env", port).contains(&format!("HAPROXY_PROXY_PORT={port}\n")),
            "{}",
            read("env", port)
        );
    }
    let env = |port: u16| {
        read("env", port)
            .lines()
            .filter(|l| !l.starts_with("HAPROXY_PROXY_PORT="))
            .map(|l| format!("{l}\n"))
            .collect::<String>()
    };
    for var in [
        "HAPROXY_PROXY_NAME=app",
        "HAPROXY_SERVER_NAME=s1",
        "HAPROXY_SERVER_ADDR=198.51.100.10",
        "HAPROXY_SERVER_MAXCONN=7",
        "PATH=/usr/bin:/bin",
    ] {
        assert!(env(80).lines().any(|l| l == var), "{var}: {}", env(80));
    }
    assert_eq!(env(80), env(81), "the environments differ");
    // A failing program takes the server down; its exit status is the code.
    std::fs::write(dir.join("status"), "3").unwrap();
    both(("DOWN", "PROCERR", "3"));
    std::fs::write(dir.join("status"), "0").unwrap();
    both(("UP", "PROCOK", "0"));
    let _ = std::fs::remove_dir_all(&dir);
}
