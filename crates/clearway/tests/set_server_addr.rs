//! `set server B/S addr IP [port P]` on the stats socket, side by side with HAProxy: the
//! answers, new connections going to the new address, and no request sent over an idle
//! connection to the old one.

mod common;
use common::http::{echo, values, DEFAULTS};
use common::*;

#[test]
fn set_server_addr_moves_a_server_as_haproxy_does() {
    let Some(topo) = topology("saddr") else { return };
    let _w1 = echo(&topo, "198.51.100.10:80", "web1");
    let _w2 = echo(&topo, "198.51.100.11:80", "web2");
    let _w3 = echo(&topo, "198.51.100.11:8080", "web3");
    let dir = std::env::temp_dir().join(clearway_testkit::netns::unique_name("saddr"));
    std::fs::create_dir_all(&dir).unwrap();
    // `http-reuse always`: any request may take an idle connection.
    let cfg = format!(
        "global\n    stats socket {d}/PORT.sock level admin\n{DEFAULTS}\
         frontend ft\n    bind 192.0.2.1:PORT\n    default_backend bk\n\
         backend bk\n    http-reuse always\n    server s1 198.51.100.10:80\n",
        d = dir.display()
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    let mut seen = Vec::new();
    for port in [80u16, 81] {
        let sock = dir.join(format!("{port}.sock"));
        let who = || {
            let body = common::http::get(&topo, &format!("http://192.0.2.1:{port}/"), &[]);
            values(&body, "server").join(",")
        };
        let addr = || {
            csv_rows(&cli(&sock, "show stat"))
                .into_iter()
                .find(|r| r["svname"] == "s1")
                .map(|r| r["addr"].clone())
                .unwrap_or_default()
        };
        let mut got = vec![who()];
        got.push(cli(&sock, "set server bk/s1 addr 198.51.100.11"));
        // An idle connection to 198.51.100.10 is there; it must not be used.
        got.push(who());
        got.push(addr());
        got.push(cli(&sock, "set server bk/s1 addr 198.51.100.11 port 8080"));
        got.push(who());
        got.push(addr());
        got.push(cli(&sock, "set server bk/s1 addr 198.51.100.11 port 8080"));
        got.push(cli(&sock, "set server bk/s1 addr nowhere"));
        assert_eq!(
            (got[0].as_str(), got[2].as_str(), got[5].as_str()),
            ("web1", "web2", "web3"),
            "{port}: {got:#?}"
        );
        seen.push(got);
    }
    assert_eq!(seen[0], seen[1], "Clearway and HAProxy differ");
    assert_eq!(
        seen[0][1],
        "IP changed from '198.51.100.10' to '198.51.100.11' by 'stats socket command'\n\n"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
