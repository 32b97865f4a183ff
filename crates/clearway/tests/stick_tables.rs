//! Stick tables side by side with HAProxy: request and response rules that track and count
//! on them (rate limits, the 404 scanner pattern), and the runtime API's table commands
//! (`show table` with its filters, `clear table`, `set table`).

mod common;
use common::http::{echo, headers, DEFAULTS};
use common::*;

#[test]
fn stick_tables_count_and_rate_limit_as_haproxy() {
    let Some(topo) = topology("rulestk") else { return };
    let _w = echo(&topo, "198.51.100.10:80", "web1");
    let _t = peer_servers(&topo, &["198.51.100.11:80"]);
    let config = format!(
        "{DEFAULTS}frontend fe\n    bind 192.0.2.1:PORT\n\
         \x20   stick-table type ip size 100k expire 30s store http_req_rate(10s),http_req_cnt,conn_cur,gpc0\n\
         \x20   http-request track-sc0 src\n\
         \x20   http-request deny deny_status 429 if {{ sc_http_req_rate(0) gt 4 }}\n\
         \x20   http-request sc-inc-gpc0(0) if {{ path /mark }}\n\
         \x20   http-request set-header X-Cnt %[sc_http_req_cnt(0)]/%[sc0_conn_cur]/%[sc0_get_gpc0]/%[src_http_req_cnt(fe)]/%[sc_tracked(1)]\n\
         \x20   default_backend be\n\
         backend be\n    server web1 198.51.100.10:80\n\
         frontend ft\n    mode tcp\n    bind 192.0.2.1:1PORT\n\
         \x20   stick-table type ip size 10 store conn_cnt,conn_cur\n\
         \x20   tcp-request connection track-sc1 src\n\
         \x20   tcp-request connection reject if {{ sc1_conn_cnt gt 2 }}\n\
         \x20   default_backend bt\n\
         backend bt\n    mode tcp\n    server t1 198.51.100.11:80\n"
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &config);
    let mut got = Vec::new();
    for (port, tport) in [(80u16, 180u16), (81, 181)] {
        let mut seen = Vec::new();
        for path in ["/a", "/mark", "/b", "/c", "/d", "/e"] {
            let url = format!("http://192.0.2.1:{port}{path}");
            let out = topo.client.exec("curl", &["-sS", "-i", "--max-time", "10", &url]);
            let text = String::from_utf8_lossy(&out.stdout).replace('\r', "");
            let status = text.lines().next().unwrap_or("").to_string();
            seen.push(format!("{status} {}", headers(&text, "x-cnt").join(",")));
        }
        // The third connection from the same address is refused.
        for _ in 0..3 {
            let a = clearway_testkit::request(
                &topo.client,
                addr(&format!("192.0.2.1:{tport}")),
                None,
                b"hi\n",
                TIMEOUT,
            );
            seen.push(a.map_or_else(
                |_| "refused".into(),
                |a| if a.is_empty() { "refused".into() } else { server_of(&a) },
            ));
        }
        got.push(seen);
    }
    assert_eq!(got[0], got[1], "Clearway, then HAProxy");
    assert_eq!(got[0][0], "HTTP/1.1 200 OK 1/1/0/1/0");
    assert_eq!(got[0][1], "HTTP/1.1 200 OK 2/1/1/2/0");
    assert!(got[0][5].starts_with("HTTP/1.1 429"), "{:?}", got[0]);
    assert_eq!(got[0][6..], ["s1", "s1", "refused"]);
}

#[test]
fn stick_tables_are_shown_and_cleared_on_the_stats_socket_as_with_haproxy() {
    let Some(topo) = topology("rulesht") else { return };
    let dir = socket_dir("rulesht");
    let _w = echo(&topo, "198.51.100.10:80", "web1");
    let config = |sock: &std::path::Path| {
        format!(
            "global\n    stats socket {} level admin\n{DEFAULTS}frontend fe\n    bind 192.0.2.1:PORT\n\
             \x20   stick-table type ip size 1k expire 1h store gpc0,conn_cnt,conn_cur,http_req_cnt,http_req_rate(1h)\n\
             \x20   http-request track-sc0 src\n    http-request deny if {{ sc0_get_gpc0 gt 0 }}\n    default_backend be\n\
             backend be\n    stick-table type string len 16 size 10\n    server web1 198.51.100.10:80\n",
            sock.display()
        )
    };
    let (cw_sock, hap_sock) = (dir.join("cw.sock"), dir.join("hap.sock"));
    let _cw = start(&topo, &config(&cw_sock).replace("PORT", "80"), &[80]);
    let _hap = clearway_testkit::Clearway::start(
        &topo.lb,
        std::path::Path::new("/usr/sbin/haproxy"),
        &config(&hap_sock).replace("PORT", "81"),
        &[81],
    );
    for port in [80, 81] {
        for _ in 0..2 {
            common::http::get(&topo, &format!("http://192.0.2.1:{port}/"), &[]);
        }
    }
    // Entry addresses and times left differ by nature.
    let mask = |s: String| {
        s.lines()
            .map(|l| {
                let l = match l.split_once(": key=") {
                    Some((_, rest)) => format!("ADDR: key={rest}"),
                    None => l.to_string(),
                };
                l.split(' ')
                    .map(|w| if w.starts_with("exp=") { "exp=T" } else { w })
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let ask = |sock: &std::path::Path| {
        [
            "show table",
            "show table fe",
            "show table nope",
            "clear table fe key 192.0.2.2",
            "show table fe",
            // `set table`: entries made or changed, then looked up by key or by their data.
            "set table fe key 192.0.2.9 data.gpc0 3 data.http_req_cnt 7",
            "set table fe key 192.0.2.10 data.http_req_rate 5 data.conn_cnt 1",
            "show table fe key 192.0.2.9",
            "show table fe key 192.0.2.77",
            "show table fe data.gpc0 gt 1",
            "show table fe data.gpc0 lt 1 data.http_req_rate ge 5",
            "show table fe data.gpc0 gt 5",
            // The errors, in HAProxy's words.
            "set table fe key 192.0.2.9 data.nope 1",
            "set table fe key 192.0.2.9 data.bytes_in_cnt 1",
            "set table fe key 192.0.2.9 data.gpc0 x",
            "set table fe key 192.0.2.9 gpc0 1",
            "set table fe key",
            "set table",
            "set table nope key 1.2.3.4",
            "set table fe data.gpc0 gt 1",
            "show table fe data.gpc0 zz 1",
            "show table fe data.gpc0 gt 1 data.conn_cnt",
            "show table fe data.gpc0 gt 1 data.gpc0 gt 1 data.gpc0 gt 1 data.gpc0 gt 1 extra",
            "show table fe foo",
            "clear table fe data.gpc0 eq 3",
            "show table fe",
        ]
        .iter()
        .map(|c| mask(cli(sock, c)))
        .collect::<Vec<_>>()
    };
    let (cw, hap) = (ask(&cw_sock), ask(&hap_sock));
    assert_eq!(cw, hap, "Clearway, then HAProxy");
    assert_eq!(
        cw[7],
        "# table: fe, type: ip, size:1024, used:2\n\
         ADDR: key=192.0.2.9 use=0 exp=T gpc0=3 conn_cnt=0 conn_cur=0 http_req_cnt=7 http_req_rate(3600000)=0\n"
    );
    // A deliberate difference: HAProxy 2.6 empties the table on `set table NAME` alone.
    assert_eq!(
        cli(&cw_sock, "set table fe"),
        "Required arguments: <table> key <key> [data.<store_data_type> <value>]*\n\n"
    );
    assert!(cli(&cw_sock, "show table fe").contains("key=192.0.2.10 "));
    // The usual use: an operator blocks a client by its gpc0, and lets it in again.
    for (sock, port) in [(&cw_sock, 80), (&hap_sock, 81)] {
        let url = format!("http://192.0.2.1:{port}/");
        assert_eq!(cli(sock, "set table fe key 192.0.2.2 data.gpc0 1"), "\n");
        assert_eq!(http_code(&topo, &url, &[]), "403", "{port}");
        assert_eq!(cli(sock, "set table fe key 192.0.2.2 data.gpc0 0"), "\n");
        assert_eq!(http_code(&topo, &url, &[]), "200", "{port}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(
        cw[1],
        "# table: fe, type: ip, size:1024, used:1\n\
         ADDR: key=192.0.2.2 use=0 exp=T gpc0=0 conn_cnt=2 conn_cur=0 http_req_cnt=2 http_req_rate(3600000)=2\n"
    );
    assert_eq!(cw[4], "# table: fe, type: ip, size:1024, used:0\n");
}

#[test]
fn response_rules_track_and_count_on_stick_tables_as_haproxy() {
    let Some(topo) = topology("rulerstk") else { return };
    let dir = socket_dir("rulerstk");
    let _w = echo(&topo, "198.51.100.10:80", "web1");
    let cfg = format!(
        "global\n    stats socket {}/PORT.sock level admin\n{DEFAULTS}frontend fe\n    bind 192.0.2.1:PORT\n\
         \x20   stick-table type ip size 1k expire 1h store gpc0,conn_cnt,conn_cur,http_req_cnt,http_err_cnt\n\
         \x20   http-response track-sc0 src if {{ status 404 }}\n\
         \x20   http-response sc-inc-gpc0(0) if {{ status 404 }}\n    http-request set-var(txn.p) path\n    default_backend be\n\
         backend be\n    http-response set-status 404 if {{ var(txn.p) -m str /missing }}\n    server web1 198.51.100.10:80\n",
        dir.display()
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    let mut tables = Vec::new();
    for port in [80, 81] {
        for path in ["/", "/missing", "/", "/missing", "/missing"] {
            common::http::get(
                &topo,
                &format!("http://192.0.2.1:{port}{path}"),
                &["--interface", "192.0.2.2"],
            );
        }
        // Entry addresses and times left differ by nature.
        let table: Vec<String> = cli(&dir.join(format!("{port}.sock")), "show table fe")
            .lines()
            .map(|l| {
                let l = l
                    .split_once(": key=")
                    .map_or(l.to_string(), |(_, r)| format!("key={r}"));
                l.split(' ')
                    .filter(|w| !w.starts_with("exp="))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        tables.push(table);
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(tables[0], tables[1], "Clearway, then HAProxy");
    assert_eq!(
        tables[0][1],
        "key=192.0.2.2 use=0 gpc0=3 conn_cnt=3 conn_cur=0 http_req_cnt=3 http_err_cnt=3"
    );
}
