//! Traffic logs as HAProxy writes them, received by a real syslog socket: `option httplog`
//! lines that HAProxy's own `halog` reads and counts as it counts HAProxy's on the same
//! traffic, `option tcplog` lines, HAProxy's "Connect from" line without a format option,
//! `log-format` variables, and `dontlognull`.

mod common;
use common::http::DEFAULTS;
use common::syslog::*;
use common::*;
use std::net::UdpSocket;
use std::path::Path;

/// `halog ARGS` (HAProxy's log analyser, from its Debian package) over `lines`.
fn halog(args: &[&str], lines: &[String]) -> String {
    let all: Vec<&str> = ["-s", "0", "-q"].into_iter().chain(args.iter().copied()).collect();
    let out = run_with_input(
        "halog",
        &all,
        lines.concat().as_bytes(),
        "in the haproxy package, a test dependency",
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const HTTP_CONFIG: &str = "global\n    log 127.0.0.1:LOGPORT local0\n{DEFAULTS}    log global\n    option httplog\n\
    frontend ft\n    bind 192.0.2.1:PORT\n    http-request deny if { path_beg /denied }\n\
    use_backend dead if { path_beg /dead }\n    default_backend bk\n\
    backend bk\n    server s1 198.51.100.10:80\n\
    backend dead\n    retries 0\n    server d1 198.51.100.10:9\n";

#[test]
fn httplog_lines_read_by_halog_count_as_haproxys_do() {
    let Some(topo) = topology("logh") else { return };
    let _web = clearway_testkit::daemons::nginx(&topo.server, addr("198.51.100.10:80"), addr("198.51.100.10:443"));
    let (rx_cw, rx_hap) = (receiver(&topo), receiver(&topo));
    let config = |port: u16, rx: &UdpSocket| {
        HTTP_CONFIG
            .replace("{DEFAULTS}", DEFAULTS)
            .replace("LOGPORT", &rx.local_addr().expect("addr").port().to_string())
            .replace("PORT", &port.to_string())
    };
    let _cw = start(&topo, &config(80, &rx_cw), &[80]);
    let _hap = clearway_testkit::Clearway::start(&topo.lb, Path::new("/usr/sbin/haproxy"), &config(81, &rx_hap), &[81]);
    let paths = ["/", "/a", "/b?x=1", "/denied", "/dead", "/c", "/denied/2", "/"];
    let mut got = Vec::new();
    for (port, rx) in [(80, &rx_cw), (81, &rx_hap)] {
        let codes: Vec<String> = paths
            .iter()
            .map(|p| http_code(&topo, &format!("http://192.0.2.1:{port}{p}"), &[]))
            .collect();
        assert_eq!(
            codes,
            ["200", "200", "200", "403", "503", "200", "403", "200"],
            "port {port}"
        );
        got.push(traffic(rx, paths.len()));
    }
    let (cw, hap) = (&got[0], &got[1]);
    assert_eq!(cw.len(), paths.len(), "{cw:#?}");
    let pid = _cw.pid().expect("pid");
    let first = &cw[0];
    // <134> is local0.info; then HAProxy's httplog fields.
    assert!(first.starts_with("<134>"), "{first}");
    assert!(first.contains(&format!(" clearway[{pid}]: 192.0.2.2:")), "{first}");
    assert!(first.contains("] ft bk/s1 "), "{first}");
    assert!(first.ends_with(" \"GET / HTTP/1.1\"\n"), "{first}");
    assert!(cw[2].ends_with(" \"GET /b?x=1 HTTP/1.1\"\n"), "{}", cw[2]);
    assert!(
        cw[3].contains(" ft ft/<NOSRV> ") && cw[3].contains(" 403 ") && cw[3].contains(" PR-- "),
        "{}",
        cw[3]
    );
    assert!(
        cw[4].contains(" ft dead/d1 ") && cw[4].contains(" 503 ") && cw[4].contains(" SC-- "),
        "{}",
        cw[4]
    );
    // halog reads both the same way: statuses, servers, termination codes.
    for args in [&["-H", "-st"][..], &["-H", "-srv"][..], &["-H", "-tc"][..]] {
        let key = |out: &str| -> Vec<String> {
            // Per-server lines end with average times, which differ: keep the counts.
            out.lines()
                .map(|l| l.split_whitespace().take(9).collect::<Vec<_>>().join(" "))
                .collect()
        };
        assert_eq!(
            key(&halog(args, cw)),
            key(&halog(args, hap)),
            "halog {args:?}\n{cw:#?}\n{hap:#?}"
        );
    }
    assert_eq!(halog(&["-H", "-st"], cw), "200 5\n403 2\n503 1\n");
}

#[test]
fn tcplog_connect_lines_log_format_and_dontlognull() {
    let Some(topo) = topology("logt") else { return };
    let _srv = peer_servers(&topo, &["198.51.100.10:80"]);
    let rx = receiver(&topo);
    let port = rx.local_addr().expect("addr").port();
    let cfg = format!(
        "global\n    log 127.0.0.1:{port} len 4096 local1 info\n    log-tag lb1\n\
         defaults\n    mode tcp\n    log global\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n\
         listen tcp\n    bind 192.0.2.1:80\n    option tcplog\n    option dontlognull\n    server s1 198.51.100.10:80\n\
         listen plain\n    bind 192.0.2.1:81\n    server s1 198.51.100.10:80\n\
         listen custom\n    bind 192.0.2.1:82\n    log-format \"%ci %f %b/%s %B %U %ts [%t] %%\"\n    server s1 198.51.100.10:80\n\
         listen quiet\n    bind 192.0.2.1:83\n    no log\n    server s1 198.51.100.10:80\n"
    );
    let _lb = start(&topo, &cfg, &[80, 81, 82, 83]);
    let answer = ask(&topo, "192.0.2.1:80", Some("192.0.2.2"));
    let l = traffic(&rx, 1);
    // <142> is local1.info.
    assert!(l[0].starts_with("<142>") && l[0].contains(" lb1["), "{l:?}");
    let fields: Vec<&str> = l[0].split_once("]: ").expect("a tag").1.split_whitespace().collect();
    assert!(fields[0].starts_with("192.0.2.2:"), "{fields:?}");
    assert_eq!(fields[2], "tcp");
    assert_eq!(fields[3], "tcp/s1");
    assert_eq!(fields[5], answer.len().to_string(), "bytes to the client: {fields:?}");
    assert_eq!(fields[6], "--");
    // Nothing sent: no line with dontlognull.
    drop(connect(&topo, "192.0.2.1:80"));
    assert_eq!(quiet(&rx), None);
    // No format option: HAProxy's line at accept.
    ask(&topo, "192.0.2.1:81", Some("192.0.2.2"));
    let l = [line_with(&rx, "Connect from")];
    assert!(
        l[0].contains("]: Connect from 192.0.2.2:") && l[0].ends_with(" to 192.0.2.1:81 (plain/TCP)\n"),
        "{l:?}"
    );
    // log-format.
    let answer = ask(&topo, "192.0.2.1:82", Some("192.0.2.2"));
    let l = [line_with(&rx, " custom custom/s1 ")];
    let msg = l[0].split_once("]: ").expect("a tag").1;
    let expected_start = format!("192.0.2.2 custom custom/s1 {} 6 -- [", answer.len());
    assert!(msg.starts_with(&expected_start) && msg.ends_with("] %\n"), "{msg}");
    // `no log`.
    ask(&topo, "192.0.2.1:83", Some("192.0.2.2"));
    assert_eq!(quiet(&rx), None);
}

#[test]
fn a_proxy_protocol_client_is_logged_by_its_header_and_a_refused_header_is_logged() {
    let Some(topo) = topology("logpp") else { return };
    let _srv = peer_servers(&topo, &["198.51.100.10:80"]);
    let rx = receiver(&topo);
    let port = rx.local_addr().expect("addr").port();
    let cfg = format!(
        "global\n    log 127.0.0.1:{port} local1 info\n\
         defaults\n    mode tcp\n    log global\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n\
         listen pp\n    bind 192.0.2.1:80 accept-proxy\n    option tcplog\n    option dontlognull\n    server s1 198.51.100.10:80\n"
    );
    let _lb = start(&topo, &cfg, &[80]);
    let answer = ask_raw(&topo, "PROXY TCP4 10.1.2.3 192.0.2.1 1111 80\r\nhello\n");
    assert!(answer.contains("server=s1"), "{answer}");
    let l = traffic(&rx, 1);
    let msg = l[0].split_once("]: ").expect("a tag").1;
    assert!(msg.starts_with("10.1.2.3:1111 ["), "{msg}");
    // No header: the connection is closed and the line says why, with the real client.
    assert_eq!(ask_raw(&topo, "hello\n"), "");
    let l = traffic(&rx, 1);
    let msg = l[0].split_once("]: ").expect("a tag").1;
    assert!(
        msg.starts_with("192.0.2.2:")
            && msg.ends_with("] pp/192.0.2.1:80: received something that is not a PROXY protocol header\n"),
        "{msg}"
    );
    // A client that closes at once: nothing with dontlognull.
    drop(connect(&topo, "192.0.2.1:80"));
    assert_eq!(quiet(&rx), None);
}

#[test]
fn a_request_refused_by_a_content_rule_is_logged_pr_without_a_status() {
    let Some(topo) = topology("logtcr") else { return };
    let _web = common::http::echo(&topo, "198.51.100.10:80", "web");
    let rx = receiver(&topo);
    let port = rx.local_addr().expect("addr").port();
    let cfg = format!(
        "global\n    log 127.0.0.1:{port} local1 info\n{DEFAULTS}    log global\n    option httplog\n\
         frontend f\n    bind 192.0.2.1:80\n    default_backend b\n\
         backend b\n    tcp-request content reject if {{ path_beg /no }}\n    server web 198.51.100.10:80\n"
    );
    let _lb = start(&topo, &cfg, &[80]);
    assert_eq!(ask_raw(&topo, "GET /no HTTP/1.1\r\nHost: x\r\n\r\n"), "");
    let l = traffic(&rx, 1);
    let fields: Vec<&str> = l[0].split_once("]: ").expect("a tag").1.split_whitespace().collect();
    // CLIENT [DATE] FRONTEND BACKEND/SERVER TIMERS STATUS BYTES ... TERMINATION
    assert_eq!(
        (fields[3], fields[5], fields[6], fields[9]),
        ("b/<NOSRV>", "-1", "0", "PR--"),
        "{fields:?}"
    );
}

/// Sends `payload` from 192.0.2.2 to the lb's port 80 and returns the answer.
fn ask_raw(topo: &clearway_testkit::Topology, payload: &str) -> String {
    clearway_testkit::request(
        &topo.client,
        addr("192.0.2.1:80"),
        Some("192.0.2.2".parse().expect("ip")),
        payload.as_bytes(),
        TIMEOUT,
    )
    .unwrap_or_default()
}

#[test]
fn log_separate_errors_raises_failures_to_err_and_dontlog_normal_keeps_only_them() {
    let Some(topo) = topology("lgse") else { return };
    let _srv = common::http::echo(&topo, "198.51.100.10:80", "s1");
    let rx = receiver(&topo);
    let port = rx.local_addr().expect("addr").port();
    let cfg = format!(
        "{DEFAULTS}frontend sep\n    bind 192.0.2.1:80\n    log 127.0.0.1:{port} local0\n    option httplog\n\
         \x20   option log-separate-errors\n    use_backend dead if {{ path_beg /dead }}\n    default_backend bk\n\
         frontend errs\n    bind 192.0.2.1:81\n    log 127.0.0.1:{port} local0\n    option httplog\n\
         \x20   option dontlog-normal\n    use_backend dead if {{ path_beg /dead }}\n    default_backend bk\n\
         backend bk\n    server s1 198.51.100.10:80\n\
         backend dead\n    retries 0\n    server d1 198.51.100.10:9\n"
    );
    let _lb = start(&topo, &cfg, &[80, 81]);
    assert_eq!(http_code(&topo, "http://192.0.2.1/ok", &[]), "200");
    assert_eq!(http_code(&topo, "http://192.0.2.1/dead", &[]), "503");
    let l = traffic(&rx, 2);
    // <134> is local0.info, <131> local0.err.
    assert!(l[0].starts_with("<134>") && l[0].contains(" 200 "), "{l:?}");
    assert!(l[1].starts_with("<131>") && l[1].contains(" 503 "), "{l:?}");
    // dontlog-normal: the 200 is not logged, the 503 is (at info: no separate errors there).
    assert_eq!(http_code(&topo, "http://192.0.2.1:81/ok", &[]), "200");
    assert_eq!(http_code(&topo, "http://192.0.2.1:81/dead", &[]), "503");
    let l = traffic(&rx, 1);
    assert!(l[0].starts_with("<134>") && l[0].contains(" errs dead/d1 "), "{l:?}");
    assert_eq!(quiet(&rx), None);
}

#[test]
fn captured_headers_are_logged_as_haproxy_logs_them() {
    let Some(topo) = topology("logc") else { return };
    let _web = clearway_testkit::daemons::nginx(&topo.server, addr("198.51.100.10:80"), addr("198.51.100.10:443"));
    let (rx_cw, rx_hap) = (receiver(&topo), receiver(&topo));
    // Both braced and listed forms, quoted and escaped; a header cut to its length, one
    // absent, one with the characters that must be encoded; a response header changed by a
    // rule (captured before it), a cookie set by one (captured after it), a long cookie.
    let config = |port: u16, rx: &UdpSocket| {
        format!(
            "global\n    log 127.0.0.1:{}  local0\n{DEFAULTS}    log global\n\
             frontend ft\n    bind 192.0.2.1:{port}\n\
             \x20   capture request header Host len 9\n    capture request header X-Odd len 40\n\
             \x20   capture request header X-Missing len 4\n\
             \x20   capture response header Content-Type len 4\n    capture response header X-None len 8\n\
             \x20   capture cookie SID len 100\n\
             \x20   http-response set-header Content-Type changed\n\
             \x20   http-response add-header Set-Cookie \"SID=fromrule; Path=/\"\n\
             \x20   log-format \"%ci:%cp %hr %hs %hrl %{{+Q}}hsl %{{+Q}}hrl %{{+E}}hr %CC %CS %{{+Q}}CC %ST\"\n\
             \x20   http-request deny if {{ path /denied }}\n    default_backend bk\n\
             backend bk\n    server s1 198.51.100.10:80\n",
            rx.local_addr().expect("addr").port()
        )
    };
    let _cw = start(&topo, &config(80, &rx_cw), &[80]);
    let _hap = clearway_testkit::Clearway::start(&topo.lb, Path::new("/usr/sbin/haproxy"), &config(81, &rx_hap), &[81]);
    let mut got = Vec::new();
    for (port, rx) in [(80, &rx_cw), (81, &rx_hap)] {
        let url = format!("http://192.0.2.1:{port}/");
        let cookie = format!("Cookie: a=1; SIDX={}; SID=2", "v".repeat(80));
        let code = http_code(&topo, &url, &["-H", "X-Odd: a{b|c}\"d#e\\f]gé", "-H", &cookie]);
        assert_eq!(code, "200", "{port}");
        // A response Clearway makes itself: nothing of it is captured.
        assert_eq!(http_code(&topo, &format!("{url}denied"), &[]), "403", "{port}");
        // The messages after the client's address and port, which differ.
        let msgs: Vec<String> = after_client(rx, 2);
        got.push(msgs);
    }
    assert_eq!(got[0], got[1], "Clearway, then HAProxy");
    assert_eq!(
        got[0][1],
        "{192.0.2.1||} {|} 192.0.2.1 - - \"\" \"\" \"192.0.2.1\" \"\" \"\" {192.0.2.1||} - - \"\" 403"
    );
    let got: Vec<&String> = got.iter().map(|m| &m[0]).collect();
    assert!(
        got[0].starts_with("{192.0.2.1|a#7Bb#7Cc#7D#22d#23e\\f]g#C3#A9|} {text|}"),
        "{}",
        got[0]
    );
}

#[test]
fn time_in_the_queue_is_tw_not_tc() {
    let Some(topo) = topology("logq") else { return };
    let _s = common::http::echo(&topo, "198.51.100.10:80", "s1");
    let rx = receiver(&topo);
    // One connection at a time to the server: of two requests sent together, one waits in
    // the queue while the server takes a second over the other. The same in mode tcp.
    let cfg = format!(
        "global\n    log 127.0.0.1:{}  local0\n{DEFAULTS}    log global\n\
         frontend ft\n    bind 192.0.2.1:80\n    log-format \"%ci:%cp %Tw %Tc\"\n    default_backend bk\n\
         backend bk\n    timeout queue 10s\n    server s1 198.51.100.10:80 maxconn 1\n\
         frontend ftt\n    mode tcp\n    bind 192.0.2.1:81\n    log-format \"%ci:%cp %Tw %Tc\"\n    default_backend bkt\n\
         backend bkt\n    mode tcp\n    timeout queue 10s\n    server s1 198.51.100.10:80 maxconn 1\n",
        rx.local_addr().expect("addr").port()
    );
    let _cw = start(&topo, &cfg, &[80, 81]);
    let topo = &topo;
    for port in [80, 81] {
        std::thread::scope(|s| {
            for _ in 0..2 {
                let url = format!("http://192.0.2.1:{port}/sleep-1000");
                s.spawn(move || assert_eq!(http_code(topo, &url, &[]), "200"));
            }
        });
        let mut timers: Vec<(i64, i64)> = traffic(&rx, 2)
            .iter()
            .map(|l| {
                let f: Vec<i64> = l
                    .split_whitespace()
                    .rev()
                    .take(2)
                    .map(|v| v.parse().expect("a timer"))
                    .collect();
                (f[1], f[0])
            })
            .collect();
        timers.sort();
        let ((tw0, _), (tw1, tc1)) = (timers[0], timers[1]);
        assert_eq!(tw0, 0, "{port}: the first request did not wait: {timers:?}");
        // The second waited for the first's whole second on the server: that is queue time,
        // and its connect (on a local network) took a small part of it.
        assert!(tw1 >= 500, "{port}: {timers:?}");
        assert!(tc1 < tw1, "{port}: {timers:?}");
    }
}

#[test]
fn monitor_uri_is_answered_by_the_frontend_and_not_logged_as_haproxy_does() {
    let Some(topo) = topology("logm") else { return };
    let (rx_cw, rx_hap) = (receiver(&topo), receiver(&topo));
    // No server listens: anything forwarded gets 503.
    let config = |port: u16, rx: &UdpSocket| {
        format!(
            "global\n    log 127.0.0.1:{}  local0\n{DEFAULTS}    log global\n\
             frontend ft\n    bind 192.0.2.1:{port}\n    log-format \"%ci:%cp %HM %HU %ST\"\n    monitor-uri /health\n\
             \x20   monitor fail if {{ hdr(x-fail) -m found }}\n    default_backend bk\n\
             backend bk\n    server s1 198.51.100.10:80\n",
            rx.local_addr().expect("addr").port()
        )
    };
    let _cw = start(&topo, &config(80, &rx_cw), &[80]);
    let _hap = clearway_testkit::Clearway::start(&topo.lb, Path::new("/usr/sbin/haproxy"), &config(81, &rx_hap), &[81]);
    for (port, rx) in [(80, &rx_cw), (81, &rx_hap)] {
        let url = |p: &str| format!("http://192.0.2.1:{port}{p}");
        assert_eq!(http_code(&topo, &url("/health"), &[]), "200", "{port}");
        // Any method; the query is part of what must match.
        assert_eq!(http_code(&topo, &url("/health"), &["-X", "POST"]), "200", "{port}");
        // `monitor fail`: a condition that holds makes it a 503.
        assert_eq!(http_code(&topo, &url("/health"), &["-H", "X-Fail: 1"]), "503", "{port}");
        assert_eq!(http_code(&topo, &url("/health?x=1"), &[]), "503", "{port}");
        // Only the forwarded request is logged.
        let lines = traffic(rx, 1);
        assert!(
            lines
                .first()
                .is_some_and(|l| l.trim_end().ends_with("GET /health?x=1 503")),
            "{port}: {lines:?}"
        );
        assert_eq!(quiet(rx), None, "{port}: more was logged");
    }
}

#[test]
fn sample_expressions_in_log_formats_are_logged_as_haproxy_logs_them() {
    let Some(topo) = topology("logsmp") else { return };
    let _web = common::http::echo(&topo, "198.51.100.10:80", "web1");
    let _tcp = peer_servers(&topo, &["198.51.100.11:80"]);
    let (rx_cw, rx_hap) = (receiver(&topo), receiver(&topo));
    let config = |port: u16, rx: &UdpSocket| {
        format!(
            "global\n    log 127.0.0.1:{}  local0\n{DEFAULTS}    log global\n\
             frontend ft\n    bind 192.0.2.1:{port}\n\
             \x20   http-request set-var(txn.user) req.hdr(x-user),lower\n\
             \x20   http-request set-var(txn.host) req.hdr(host),field(1,:)\n\
             \x20   http-response set-var(txn.reply) res.hdr(x-reply)\n\
             \x20   log-format \"%ci:%cp %[src,ipmask(24)] %{{+Q}}[var(txn.user)] %[var(txn.host)] %[var(txn.reply)] %[var(txn.none)] %ST\"\n\
             \x20   default_backend bk\n\
             backend bk\n    server s1 198.51.100.10:80\n\
             frontend ftcp\n    mode tcp\n    bind 192.0.2.1:{}\n\
             \x20   log-format \"%ci:%cp tcp %[dst_port,add(1000)] %[src]\"\n\
             \x20   default_backend btcp\n\
             backend btcp\n    mode tcp\n    server s2 198.51.100.11:80\n",
            rx.local_addr().expect("addr").port(),
            port + 100
        )
    };
    let _cw = start(&topo, &config(80, &rx_cw), &[80, 180]);
    let _hap = clearway_testkit::Clearway::start(
        &topo.lb,
        Path::new("/usr/sbin/haproxy"),
        &config(81, &rx_hap),
        &[81, 181],
    );
    let mut got = Vec::new();
    for (port, rx) in [(80u16, &rx_cw), (81, &rx_hap)] {
        let url = format!("http://192.0.2.1:{port}/");
        let code = http_code(
            &topo,
            &url,
            &["-H", "X-User: Alice", "-H", "X-Reply-Header: X-Reply: yes"],
        );
        assert_eq!(code, "200", "{port}");
        ask(&topo, &format!("192.0.2.1:{}", port + 100), None);
        let msgs: Vec<String> = after_client(rx, 2);
        got.push(msgs);
    }
    // The TCP line names the port each proxy listens on.
    let cw_tcp = got[0][1].replace("1180", "PORT");
    let hap_tcp = got[1][1].replace("1181", "PORT");
    assert_eq!((&got[0][0], &cw_tcp), (&got[1][0], &hap_tcp), "Clearway, then HAProxy");
    assert_eq!(got[0][0], "192.0.2.0 \"alice\" 192.0.2.1 yes - 200");
    assert_eq!(cw_tcp, "tcp PORT 192.0.2.2");
}

#[test]
fn unique_ids_reach_the_server_the_rules_and_the_log_as_with_haproxy() {
    let Some(topo) = topology("loguid") else { return };
    let _web = common::http::echo(&topo, "198.51.100.10:80", "web1");
    let (rx_cw, rx_hap) = (receiver(&topo), receiver(&topo));
    let config = |port: u16, rx: &UdpSocket| {
        format!(
            "global\n    log 127.0.0.1:{}  local0\n{DEFAULTS}    log global\n\
             \x20   unique-id-format ID-%ci-%[req.hdr(x-in),lower]\n    unique-id-header X-Unique-ID\n\
             frontend ft\n    bind 192.0.2.1:{port}\n\
             \x20   http-request set-header X-Seen %[unique-id]\n\
             \x20   http-response set-header X-Id %[unique-id]\n\
             \x20   log-format \"%ci:%cp %ID %{{+Q}}ID %ST\"\n\
             \x20   default_backend bk\n\
             backend bk\n    server s1 198.51.100.10:80\n",
            rx.local_addr().expect("addr").port()
        )
    };
    let _cw = start(&topo, &config(80, &rx_cw), &[80]);
    let _hap = clearway_testkit::Clearway::start(&topo.lb, Path::new("/usr/sbin/haproxy"), &config(81, &rx_hap), &[81]);
    let mut got = Vec::new();
    for (port, rx) in [(80u16, &rx_cw), (81, &rx_hap)] {
        let url = format!("http://192.0.2.1:{port}/");
        let body = common::http::get(&topo, &url, &["-i", "-H", "X-In: ABC"]).replace('\r', "");
        let log = after_client(rx, 1);
        got.push((
            common::http::headers(&body, "x-unique-id"),
            common::http::headers(&body, "x-seen"),
            body.lines()
                .filter(|l| l.to_ascii_lowercase().starts_with("x-id:"))
                .map(String::from)
                .collect::<Vec<_>>(),
            log,
        ));
    }
    assert_eq!(got[0], got[1], "Clearway, then HAProxy");
    assert_eq!(got[0].0, ["ID-192.0.2.2-abc"]);
    assert_eq!(got[0].1, ["ID-192.0.2.2-abc"]);
    assert_eq!(got[0].3, ["ID-192.0.2.2-abc \"ID-192.0.2.2-abc\" 200"]);
}

#[test]
fn reject_and_tarpit_close_or_hold_and_are_logged_as_haproxy_does() {
    let Some(topo) = topology("logtarp") else { return };
    let _web = common::http::echo(&topo, "198.51.100.10:80", "web1");
    let (rx_cw, rx_hap) = (receiver(&topo), receiver(&topo));
    let config = |port: u16, rx: &UdpSocket| {
        format!(
            "global\n    log 127.0.0.1:{}  local0\n{DEFAULTS}    log global\n    timeout tarpit 200ms\n\
             frontend ft\n    bind 192.0.2.1:{port}\n\
             \x20   http-request reject if {{ path /rej }}\n\
             \x20   http-request tarpit deny_status 429 if {{ path /tar }}\n\
             \x20   http-request tarpit if {{ path /tar500 }}\n\
             \x20   log-format \"%ci:%cp %ST %tsc %r\"\n\
             \x20   default_backend bk\n\
             backend bk\n    server s1 198.51.100.10:80\n",
            rx.local_addr().expect("addr").port()
        )
    };
    let _cw = start(&topo, &config(80, &rx_cw), &[80]);
    let _hap = clearway_testkit::Clearway::start(&topo.lb, Path::new("/usr/sbin/haproxy"), &config(81, &rx_hap), &[81]);
    let mut got = Vec::new();
    for (port, rx) in [(80u16, &rx_cw), (81, &rx_hap)] {
        let codes: Vec<String> = ["/rej", "/tar", "/tar500", "/ok"]
            .iter()
            .map(|p| http_code(&topo, &format!("http://192.0.2.1:{port}{p}"), &[]))
            .collect();
        let logs: Vec<String> = after_client(rx, 4);
        got.push((codes, logs));
    }
    assert_eq!(got[0], got[1], "Clearway, then HAProxy");
    assert_eq!(got[0].0, ["000", "429", "500", "200"]);
    assert_eq!(got[0].1[0], "-1 PR-- GET /rej HTTP/1.1");
    assert_eq!(got[0].1[1], "429 PT-- GET /tar HTTP/1.1");
}

#[test]
fn httpslog_lines_end_with_the_tls_handshake_as_haproxys_do() {
    let Some(topo) = topology("logs") else { return };
    let _web = clearway_testkit::daemons::nginx(&topo.server, addr("198.51.100.10:80"), addr("198.51.100.10:443"));
    let pki = clearway_testkit::Pki::new("pki");
    let leaf = pki.leaf("lb", &["lb.test"]);
    let (rx_cw, rx_hap) = (receiver(&topo), receiver(&topo));
    let config = |port: u16, rx: &UdpSocket| {
        format!(
            "global\n    log 127.0.0.1:{}  local0\n{DEFAULTS}    log global\n\
             frontend ft\n    bind 192.0.2.1:{port} ssl crt {}\n    bind 192.0.2.1:1{port}\n    option httpslog\n\
             \x20   default_backend bk\n\
             backend bk\n    server s1 198.51.100.10:80\n",
            rx.local_addr().expect("addr").port(),
            leaf.pem.display()
        )
    };
    let _cw = start(&topo, &config(80, &rx_cw), &[80]);
    let _hap = clearway_testkit::Clearway::start(&topo.lb, Path::new("/usr/sbin/haproxy"), &config(81, &rx_hap), &[81]);
    let mut got = Vec::new();
    for (port, rx) in [(80, &rx_cw), (81, &rx_hap)] {
        let resolve = format!("lb.test:{port}:192.0.2.1");
        let url = format!("https://lb.test:{port}/");
        // Two connections from one curl: the second resumes the first's session.
        let out = topo.client.exec(
            "curl",
            &[
                "-sk",
                "-o",
                "/dev/null",
                "-o",
                "/dev/null",
                "-H",
                "Connection: close",
                "--http1.1",
                "--tlsv1.3",
                "--resolve",
                &resolve,
                &url,
                &url,
            ],
        );
        assert!(out.status.success(), "{port}: {out:?}");
        assert_eq!(
            http_code(&topo, &format!("http://192.0.2.1:1{port}/"), &[]),
            "200",
            "{port}"
        );
        // The fields after the request line: the handshake's outcome, SNI, version, suite.
        let tails: Vec<String> = after_client(rx, 3)
            .iter()
            .map(|l| {
                l.rsplit_once("HTTP/1.1\" ")
                    .map_or(l.clone(), |(_, t)| t.trim_end().to_string())
            })
            .collect();
        got.push(tails);
    }
    assert_eq!(got[0], got[1], "Clearway, then HAProxy");
    assert_eq!(
        got[0][0],
        "0/0000000000000000/0/0/0 lb.test/TLSv1.3/TLS_AES_256_GCM_SHA384"
    );
    assert_eq!(
        got[0][1],
        "0/0000000000000000/0/0/1 lb.test/TLSv1.3/TLS_AES_256_GCM_SHA384"
    );
    // Over plain TCP the TLS fields have no value (a resumed session is false).
    assert_eq!(got[0][2], "0/-/-/-/0 -/-/-");
}

#[test]
fn a_tcp_syslog_target_gets_the_same_lines_as_haproxy_sends_it() {
    let Some(topo) = topology("lgtc") else { return };
    let _srv = common::http::echo(&topo, "198.51.100.10:80", "s1");
    let listener = |()| {
        topo.lb
            .enter(|| std::net::TcpListener::bind("127.0.0.1:0"))
            .expect("a TCP listener in the lb namespace")
    };
    let (l_cw, l_hap) = (listener(()), listener(()));
    let config = |port: u16, l: &std::net::TcpListener| {
        HTTP_CONFIG
            .replace("{DEFAULTS}", DEFAULTS)
            .replace(
                "127.0.0.1:LOGPORT",
                &format!("tcp@127.0.0.1:{}", l.local_addr().expect("addr").port()),
            )
            .replace("PORT", &port.to_string())
    };
    let _cw = start(&topo, &config(80, &l_cw), &[80]);
    let _hap = clearway_testkit::Clearway::start(&topo.lb, Path::new("/usr/sbin/haproxy"), &config(81, &l_hap), &[81]);
    let paths = ["/", "/denied", "/dead", "/a"];
    let mut got = Vec::new();
    for (port, l) in [(80, &l_cw), (81, &l_hap)] {
        for p in paths {
            http_code(&topo, &format!("http://192.0.2.1:{port}{p}"), &[]);
        }
        let (c, _) = l.accept().expect("the proxy connects to the log server");
        c.set_read_timeout(Some(TIMEOUT)).expect("timeout");
        let mut r = std::io::BufReader::new(c);
        let mut lines = Vec::new();
        while lines.len() < paths.len() {
            use std::io::BufRead;
            let mut line = String::new();
            if r.read_line(&mut line).unwrap_or(0) == 0 {
                break;
            }
            // Only traffic lines: a client's address first after the tag.
            let msg = line.split_once("]: ").map_or("", |(_, m)| m);
            if msg
                .split(' ')
                .next()
                .and_then(|a| a.parse::<std::net::SocketAddr>().ok())
                .is_some()
            {
                lines.push(line);
            }
        }
        got.push(lines);
    }
    assert_eq!(got[0].len(), paths.len(), "{:#?}", got[0]);
    assert!(got[0][0].starts_with("<134>"), "{}", got[0][0]);
    assert_eq!(halog(&["-H", "-st"], &got[0]), halog(&["-H", "-st"], &got[1]));
    assert_eq!(halog(&["-H", "-st"], &got[0]), "200 2\n403 1\n503 1\n");
}

#[test]
fn the_rule_that_last_decided_is_logged_as_haproxy_logs_it() {
    let Some(topo) = topology("loglr") else { return };
    let _web = common::http::echo(&topo, "198.51.100.10:80", "web1");
    let (rx_cw, rx_hap) = (receiver(&topo), receiver(&topo));
    let config = |port: u16, rx: &UdpSocket| {
        format!(
            "global\n    log 127.0.0.1:{}  local0\n{DEFAULTS}    log global\n\
             frontend ft\n    bind 192.0.2.1:{port}\n\
             \x20   log-format \"%ci:%cp %HU %ST lr=%[last_rule_line]\"\n\
             \x20   http-request set-var(txn.p) path\n\
             \x20   http-request deny if {{ path /deny }}\n\
             \x20   http-request redirect location / if {{ path /redir }}\n\
             \x20   http-request allow if {{ path /allow /rdeny }}\n\
             \x20   http-request deny\n\
             \x20   http-response deny if {{ var(txn.p) -m str /rdeny }}\n\
             \x20   default_backend bk\n\
             backend bk\n    server s1 198.51.100.10:80\n",
            rx.local_addr().expect("addr").port(),
        )
    };
    let _cw = start(&topo, &config(80, &rx_cw), &[80]);
    let _hap = clearway_testkit::Clearway::start(&topo.lb, Path::new("/usr/sbin/haproxy"), &config(81, &rx_hap), &[81]);
    let mut got = Vec::new();
    for (port, rx) in [(80u16, &rx_cw), (81, &rx_hap)] {
        let mut lines = Vec::new();
        for path in ["/deny", "/redir", "/allow", "/rdeny", "/other"] {
            http_code(&topo, &format!("http://192.0.2.1:{port}{path}"), &[]);
            lines.extend(after_client(rx, 1));
        }
        got.push(lines);
    }
    assert_eq!(got[0], got[1], "Clearway, then HAProxy");
    let line = |l: &str| l.rsplit_once("lr=").map(|(_, n)| n.to_string()).unwrap_or_default();
    let lr: Vec<String> = got[0].iter().map(|l| line(l)).collect();
    // Each refusal, redirect and allow names its own line; the response's deny wins over
    // the request's allow.
    let mut distinct = lr.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 5, "{:?}", got[0]);
    assert!(got[0][3].starts_with("/rdeny 502 "), "{:?}", got[0]);
}
