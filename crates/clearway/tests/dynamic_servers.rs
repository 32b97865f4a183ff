//! `add server` and `del server` on the stats socket, side by side with HAProxy: the
//! answers, a new server taking traffic only once enabled, a deleted one gone from the
//! balancing and the statistics, and its name free again.

mod common;
use common::http::{echo, values, DEFAULTS};
use common::*;

#[test]
fn servers_join_and_leave_a_running_backend_as_in_haproxy() {
    let Some(topo) = topology("dynsrv") else { return };
    let _w1 = echo(&topo, "198.51.100.10:80", "web1");
    let _w2 = echo(&topo, "198.51.100.11:80", "web2");
    let dir = std::env::temp_dir().join(clearway_testkit::netns::unique_name("dynsrv"));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = format!(
        "global\n    stats socket {d}/PORT.sock level admin\n    stats socket {d}/PORT-user.sock level user\n{DEFAULTS}\
         frontend ft\n    bind 192.0.2.1:PORT\n    default_backend bk\n\
         backend bk\n    server s1 198.51.100.10:80\n\
         backend fixed\n    balance static-rr\n    server s1 198.51.100.10:80\n\
         backend hashed\n    balance source\n    server s1 198.51.100.10:80\n",
        d = dir.display()
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    let mut seen = Vec::new();
    for port in [80u16, 81] {
        let sock = dir.join(format!("{port}.sock"));
        let user = dir.join(format!("{port}-user.sock"));
        // Who answers four requests in a row, in order of first answer.
        let who = || {
            let mut v: Vec<String> = (0..4)
                .map(|_| {
                    let body = common::http::get(&topo, &format!("http://192.0.2.1:{port}/"), &[]);
                    values(&body, "server").join(",")
                })
                .collect();
            v.sort();
            v.dedup();
            v.join(",")
        };
        let listed = || {
            csv_rows(&cli(&sock, "show stat"))
                .into_iter()
                .filter(|r| r["pxname"] == "bk" && r["svname"].starts_with('s'))
                .map(|r| format!("{}:{}", r["svname"], r["status"]))
                .collect::<Vec<_>>()
                .join(",")
        };
        let mut got = vec![who()];
        got.push(cli(&user, "add server bk/s2 198.51.100.11:80"));
        got.push(cli(&sock, "add server nope/s2 198.51.100.11:80"));
        got.push(cli(&sock, "add server bk/s2"));
        got.push(cli(&sock, "add server fixed/s2 198.51.100.11:80"));
        got.push(cli(&sock, "add server hashed/s2 198.51.100.11:80"));
        got.push(cli(&sock, "add server bk/s2 198.51.100.11:80"));
        got.push(cli(&sock, "add server bk/s2 198.51.100.11:80"));
        got.push(cli(&sock, "add server bk/s3 198.51.100.12:80 cookie c3"));
        got.push(cli(&sock, "add server bk/s3 198.51.100.12:80 weight 300"));
        got.push(cli(&sock, "add server bk/s3 198.51.100.12:80 id 1"));
        // Added in maintenance: no traffic yet.
        got.push(who());
        got.push(listed());
        got.push(cli(&sock, "enable server bk/s2"));
        got.push(who());
        got.push(listed());
        got.push(cli(&sock, "del server bk/s2"));
        got.push(cli(&sock, "del server bk/other"));
        got.push(cli(&sock, "del server nope/s2"));
        got.push(cli(&sock, "disable server bk/s2"));
        got.push(cli(&sock, "del server bk/s2"));
        got.push(who());
        got.push(listed());
        // The name is free again.
        got.push(cli(&sock, "add server bk/s2 198.51.100.11:80 weight 0"));
        got.push(listed());
        assert_eq!(
            (got[0].as_str(), got[11].as_str(), got[14].as_str(), got[21].as_str()),
            ("web1", "web1", "web1,web2", "web1"),
            "{port}: {got:#?}"
        );
        seen.push(got);
    }
    // Both refuse an out-of-range weight, in their own words (Clearway's gives the range).
    for got in &mut seen {
        assert!(got[9].contains("300") && !got[9].contains("registered"), "{got:?}");
        got[9].clear();
        // The id's first user, named by where each proxy's file has it.
        let (head, tail) = ("'id' : custom id 1 already used at ", ":13 ('server s1').\n\n");
        assert!(got[10].starts_with(head) && got[10].ends_with(tail), "{got:?}");
        got[10] = format!("{head}FILE{tail}");
    }
    assert_eq!(seen[0], seen[1], "Clearway and HAProxy differ");
    assert_eq!(seen[0][6], "New server registered.\n\n");
    assert_eq!(seen[0][20], "Server deleted.\n");
    assert_eq!(seen[0][22], "s1:no check");
    // Clearway refuses what it would not carry out as asked (HAProxy takes them): a PROXY
    // header on connections this backend shares between clients, transparent sources.
    let sock = dir.join("80.sock");
    let proxy = cli(&sock, "add server bk/s4 198.51.100.12:80 send-proxy");
    assert!(proxy.contains("http-reuse never"), "{proxy}");
    let usesrc = cli(
        &sock,
        "add server bk/s4 198.51.100.12:80 source 0.0.0.0 usesrc clientip",
    );
    assert!(usesrc.contains("'usesrc' is not supported"), "{usesrc}");
    assert!(!cli(&sock, "show stat").contains("s4"), "neither was added");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_server_with_sessions_is_kept_until_they_end_as_in_haproxy() {
    let Some(topo) = topology("dynsess") else { return };
    let _servers = holding_servers(&topo, &["198.51.100.10:80", "198.51.100.11:80"]);
    let dir = std::env::temp_dir().join(clearway_testkit::netns::unique_name("dynsess"));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = format!(
        "global\n    stats socket {d}/PORT.sock level admin\n\
         defaults\n    mode tcp\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n\
         listen ft\n    bind 192.0.2.1:PORT\n    balance leastconn\n    server s1 198.51.100.10:80\n",
        d = dir.display()
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    let mut seen = Vec::new();
    for port in [80u16, 81] {
        let sock = dir.join(format!("{port}.sock"));
        let scur = || {
            csv_rows(&cli(&sock, "show stat"))
                .into_iter()
                .find(|r| r["svname"] == "s2")
                .map(|r| r["scur"].clone())
                .unwrap_or_default()
        };
        // Waits (bounded) for the statistics to show `want` sessions on s2.
        let until = |want: &str| {
            for _ in 0..200 {
                if scur() == want {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(25));
            }
            panic!("{port}: s2 never had {want} session(s)");
        };
        let mut got = vec![cli(&sock, "add server ft/s2 198.51.100.11:80")];
        got.push(cli(&sock, "enable server ft/s2"));
        got.push(cli(&sock, "disable server ft/s1"));
        let held = hold(&topo, &format!("192.0.2.1:{port}"));
        until("1");
        got.push(cli(&sock, "disable server ft/s2"));
        got.push(cli(&sock, "del server ft/s2"));
        let answer = read_all(held);
        until("0");
        got.push(cli(&sock, "del server ft/s2"));
        assert!(answer.contains("s2"), "{port}: the session went to s2: {answer:?}");
        seen.push(got);
    }
    assert_eq!(seen[0], seen[1], "Clearway and HAProxy differ");
    assert_eq!(
        seen[0][4],
        "Server still has connections attached to it, cannot remove it.\n"
    );
    assert_eq!(seen[0][5], "Server deleted.\n");
    let _ = std::fs::remove_dir_all(&dir);
}
