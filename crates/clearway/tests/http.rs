//! `mode http` end to end: the real binary in network namespaces, curl as the client and our
//! keep-alive echo server (which reports its connection and request numbers, the peer and
//! every header it received) behind it.

mod common;
use clearway_testkit::HttpEchoServer;
use common::http::*;
use common::*;

#[test]
fn keep_alive_on_both_sides_and_forwardfor() {
    let Some(topo) = topology("hka") else { return };
    let srv = echo(&topo, "198.51.100.10:80", "s1");
    let cfg = format!(
        "{DEFAULTS}frontend ft\n    bind 192.0.2.1:80\n    option forwardfor\n    default_backend bk\n\
         backend bk\n    server s1 198.51.100.10:80\n"
    );
    let _lb = start(&topo, &cfg, &[80]);
    // One curl, three requests: one client connection kept alive.
    let body = get_all(
        &topo,
        &["http://192.0.2.1/a", "http://192.0.2.1/b", "http://192.0.2.1/c"],
        &["-H", "X-Forwarded-For: 10.9.9.9"],
    );
    assert_eq!(values(&body, "req"), ["1", "2", "3"], "{body}");
    assert_eq!(
        values(&body, "conn"),
        ["1", "1", "1"],
        "one server connection reused: {body}"
    );
    assert_eq!(srv.count(), 1);
    assert_eq!(
        values(&body, "line"),
        ["GET /a HTTP/1.1", "GET /b HTTP/1.1", "GET /c HTTP/1.1"]
    );
    // HAProxy adds its own header line after the client's.
    let xff = headers(&body, "x-forwarded-for");
    assert_eq!(
        xff,
        [
            "10.9.9.9",
            "192.0.2.2",
            "10.9.9.9",
            "192.0.2.2",
            "10.9.9.9",
            "192.0.2.2"
        ],
        "{body}"
    );
    // A second client connection: with `http-reuse safe` its first request goes over a new
    // server connection, its second over an idle one.
    let body = get_all(&topo, &["http://192.0.2.1/d", "http://192.0.2.1/e"], &[]);
    let conns = values(&body, "conn");
    assert_eq!(
        conns[0], "2",
        "first request of a session on its own connection: {body}"
    );
    assert!(conns[1] == "1" || conns[1] == "2", "{body}");
    assert_eq!(srv.count(), 2, "the second request reused an idle connection");
}

#[test]
fn forwardfor_except_header_and_if_none() {
    let Some(topo) = topology("hxff") else { return };
    let _srv = echo(&topo, "198.51.100.10:80", "s1");
    let cfg = format!(
        "{DEFAULTS}frontend ft\n    bind 192.0.2.1:80\n    default_backend bk\n\
         backend bk\n    option forwardfor except 192.0.2.2 header X-Client if-none\n    server s1 198.51.100.10:80\n"
    );
    let _lb = start(&topo, &cfg, &[80]);
    let from2 = get(&topo, "http://192.0.2.1/", &["--interface", "192.0.2.2"]);
    assert!(headers(&from2, "x-client").is_empty(), "excepted network: {from2}");
    let from3 = get(&topo, "http://192.0.2.1/", &["--interface", "192.0.2.3"]);
    assert_eq!(headers(&from3, "x-client"), ["192.0.2.3"], "{from3}");
    assert!(headers(&from3, "x-forwarded-for").is_empty());
    let preset = get(
        &topo,
        "http://192.0.2.1/",
        &["--interface", "192.0.2.3", "-H", "X-Client: 1.2.3.4"],
    );
    assert_eq!(
        headers(&preset, "x-client"),
        ["1.2.3.4"],
        "if-none keeps the client's: {preset}"
    );
}

#[test]
fn acls_route_requests_to_two_backends() {
    let Some(topo) = topology("hacl") else { return };
    let _web = echo(&topo, "198.51.100.10:80", "web");
    let _api = echo(&topo, "198.51.100.11:80", "api");
    let cfg = format!(
        "{DEFAULTS}frontend ft\n    bind 192.0.2.1:80\n    acl is_api path_beg /api\n    acl api_host hdr(host) -i api.example.com\n\
         use_backend bk_api if is_api || api_host\n    use_backend bk_api if {{ src 192.0.2.3 }} {{ method POST }}\n\
         default_backend bk_web\n\
         backend bk_web\n    server web 198.51.100.10:80\nbackend bk_api\n    server api 198.51.100.11:80\n"
    );
    let _lb = start(&topo, &cfg, &[80]);
    let server = |url: &str, extra: &[&str]| values(&get(&topo, url, extra), "server").join(",");
    let servers = |urls: &[&str]| values(&get_all(&topo, urls, &[]), "server").join(",");
    assert_eq!(server("http://192.0.2.1/index.html", &[]), "web");
    assert_eq!(server("http://192.0.2.1/api/users", &[]), "api");
    assert_eq!(server("http://192.0.2.1/", &["-H", "Host: API.example.com"]), "api");
    assert_eq!(
        server("http://192.0.2.1/", &["-X", "POST", "--interface", "192.0.2.3"]),
        "api"
    );
    assert_eq!(
        server("http://192.0.2.1/", &["-X", "POST", "--interface", "192.0.2.2"]),
        "web"
    );
    // One keep-alive client connection, each request routed on its own.
    assert_eq!(
        servers(&["http://192.0.2.1/x", "http://192.0.2.1/api/y", "http://192.0.2.1/z"]),
        "web,api,web"
    );
}

#[test]
fn request_and_response_header_rules_and_set_path() {
    let Some(topo) = topology("hhdr") else { return };
    let _srv = echo(&topo, "198.51.100.10:80", "s1");
    let cfg = format!(
        "{DEFAULTS}frontend ft\n    bind 192.0.2.1:80\n\
         http-request set-header X-Seen-By clearway\n    http-request add-header X-Client-Ip %[src]\n\
         http-request del-header X-Secret\n    http-request replace-header User-Agent ^curl/(.*)$ agent-\\1\n\
         http-request set-path /v2%[path] if {{ path_beg /api }}\n\
         http-response set-header X-Frame-Options DENY\n    http-response del-header Server\n    default_backend bk\n\
         backend bk\n    http-response add-header X-Backend bk\n    server s1 198.51.100.10:80\n"
    );
    let _lb = start(&topo, &cfg, &[80]);
    let out = get(
        &topo,
        "http://192.0.2.1/api/x?q=1",
        &[
            "-i",
            "-H",
            "X-Secret: hunter2",
            "-H",
            "X-Seen-By: client",
            "-A",
            "curl/8.0",
        ],
    );
    assert_eq!(values(&out, "line"), ["GET /v2/api/x?q=1 HTTP/1.1"], "{out}");
    assert_eq!(headers(&out, "x-seen-by"), ["clearway"], "{out}");
    assert_eq!(headers(&out, "x-client-ip"), ["192.0.2.2"]);
    assert!(headers(&out, "x-secret").is_empty());
    assert_eq!(headers(&out, "user-agent"), ["agent-8.0"]);
    let lower = out.to_ascii_lowercase();
    let (head, _) = lower.split_once("\r\n\r\n").expect("a response head");
    assert!(head.contains("x-frame-options: deny"), "{head}");
    assert!(head.contains("x-backend: bk"), "{head}");
    assert!(!head.contains("\nserver:"), "server header removed: {head}");
}

#[test]
fn responses_lose_their_hop_by_hop_fields_with_and_without_response_rules() {
    let Some(topo) = topology("hhop") else { return };
    let _srv = echo(&topo, "198.51.100.10:80", "s1");
    // Port 80 has no response rules: the server's lines go out as they came. Port 81 has one:
    // they go through the header map. Both must drop the same fields and keep the others.
    let cfg = format!(
        "{DEFAULTS}frontend plain\n    bind 192.0.2.1:80\n    default_backend bk\n\
         frontend ruled\n    bind 192.0.2.1:81\n    http-response set-header X-Rule 1\n    default_backend bk\n\
         backend bk\n    server s1 198.51.100.10:80\n"
    );
    let _lb = start(&topo, &cfg, &[80, 81]);
    for port in [80, 81] {
        for path in ["/hop", "/hop-named"] {
            let url = format!("http://192.0.2.1:{port}{path}");
            // Twice over one connection: the first answer's framing left the second intact.
            let out = get_all(&topo, &[&url, &url], &["-i"]);
            let answers: Vec<&str> = out.split("HTTP/1.1 200").filter(|a| !a.is_empty()).collect();
            assert_eq!(answers.len(), 2, "{url}: {out}");
            for a in answers {
                let (head, body) = a.split_once("\r\n\r\n").expect("a response head");
                let head = head.to_ascii_lowercase() + "\r\n";
                for gone in ["keep-alive:", "proxy-connection:", "x-private:", "connection:"] {
                    assert!(!head.contains(&format!("\n{gone}")), "{url}: {gone} forwarded: {head}");
                }
                for kept in ["content-type: text/plain", "x-kept: 1", "server: echo"] {
                    assert!(head.contains(&format!("\n{kept}\r")), "{url}: {kept} lost: {head}");
                }
                assert!(
                    head.contains(&format!("\ncontent-length: {}\r", body.len())),
                    "{url}: {head}"
                );
                assert_eq!(head.contains("\nx-rule: 1"), port == 81, "{url}: {head}");
                assert_eq!(values(body, "line"), [format!("GET {path} HTTP/1.1")], "{url}: {body}");
            }
        }
    }
    // A HEAD answer keeps the length the server gave.
    let out = get(&topo, "http://192.0.2.1/hop", &["-I"]);
    let lower = out.to_ascii_lowercase();
    assert!(
        lower.contains("\ncontent-length: ") && !lower.contains("\nkeep-alive:"),
        "{out}"
    );
}

#[test]
fn redirects_deny_and_return() {
    let Some(topo) = topology("hred") else { return };
    let srv = echo(&topo, "198.51.100.10:80", "s1");
    let cfg = format!(
        "{DEFAULTS}frontend ft\n    bind 192.0.2.1:80\n    acl blocked path_beg /admin\n\
         http-request deny if blocked\n    http-request deny deny_status 429 if {{ path /slow }}\n\
         http-request return status 200 content-type text/plain string pong hdr X-Pong yes if {{ path /ping }}\n\
         http-request redirect location /new code 308 if {{ path /old }}\n\
         redirect scheme https code 301 if {{ hdr(host) -i secure.example }}\n\
         redirect prefix https://www.example.com drop-query if {{ hdr_beg(host) -i example. }}\n\
         default_backend bk\n\
         backend bk\n    server s1 198.51.100.10:80\n"
    );
    let _lb = start(&topo, &cfg, &[80]);
    let head = |path: &str, extra: &[&str]| {
        let mut args = vec!["-s", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}"];
        args.extend_from_slice(extra);
        get(&topo, &format!("http://192.0.2.1{path}"), &args)
    };
    assert_eq!(head("/admin/x", &[]), "403 ");
    assert_eq!(head("/slow", &[]), "429 ");
    assert_eq!(get(&topo, "http://192.0.2.1/ping", &[]), "pong");
    let pong = get(&topo, "http://192.0.2.1/ping", &["-i"]).to_ascii_lowercase();
    assert!(pong.contains("x-pong: yes"), "{pong}");
    // As HAProxy, no Date is added: not to Clearway's own responses, nor to a server's that
    // has none (the echo server sends none).
    assert!(!pong.contains("\ndate:"), "{pong}");
    assert_eq!(head("/old", &[]), "308 http://192.0.2.1/new");
    assert_eq!(
        head("/a/b?x=1", &["-H", "Host: secure.example"]),
        "301 https://secure.example/a/b?x=1"
    );
    assert_eq!(
        head("/a/b?x=1", &["-H", "Host: example.org"]),
        "302 https://www.example.com/a/b"
    );
    assert_eq!(srv.count(), 0, "nothing reached the server");
    assert_eq!(head("/fine", &[]), "200 ");
    let fine = get(&topo, "http://192.0.2.1/fine", &["-i"]).to_ascii_lowercase();
    assert!(fine.starts_with("http/1.1 200") && !fine.contains("\ndate:"), "{fine}");
}

#[test]
fn error_pages_when_no_server_answers_and_errorfile() {
    let Some(topo) = topology("herr") else { return };
    let dir = std::env::temp_dir().join(clearway_testkit::netns::unique_name("errf"));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("503.http");
    std::fs::write(
        &file,
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nX-Custom: 1\r\n\r\nall servers are resting\n",
    )
    .unwrap();
    // Nothing listens on the servers: connects are refused.
    let cfg = format!(
        "{DEFAULTS}    retries 1\nfrontend ft\n    bind 192.0.2.1:80\n    bind 192.0.2.1:81\n    use_backend custom if {{ dst_port 81 }}\n    default_backend plain\n\
         backend plain\n    server s1 198.51.100.10:80\n\
         backend custom\n    errorfile 503 {}\n    server s1 198.51.100.10:80\n",
        file.display()
    );
    let lb = start(&topo, &cfg, &[80, 81]);
    let plain = get(&topo, "http://192.0.2.1/", &["-i"]);
    assert!(plain.starts_with("HTTP/1.1 503"), "{plain}");
    assert!(plain.contains("<h1>503 Service Unavailable</h1>"), "{plain}");
    let custom = get(&topo, "http://192.0.2.1:81/", &["-i"]);
    assert!(custom.starts_with("HTTP/1.1 503"), "{custom}");
    assert!(custom.contains("all servers are resting"), "{custom}");
    assert!(custom.to_ascii_lowercase().contains("x-custom: 1"), "{custom}");
    assert!(
        lb.wait_log("nothing listens on 198.51.100.10:80", TIMEOUT),
        "{}",
        lb.log()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn oversized_uri_and_headers_are_refused() {
    let Some(topo) = topology("hbig") else { return };
    let srv = echo(&topo, "198.51.100.10:80", "s1");
    let cfg = format!(
        "{DEFAULTS}frontend ft\n    bind 192.0.2.1:80\n    default_backend bk\n\
         backend bk\n    server s1 198.51.100.10:80\n"
    );
    let _lb = start(&topo, &cfg, &[80]);
    let code = |path: &str, extra: &[&str]| http_code(&topo, &format!("http://192.0.2.1{path}"), extra);
    let long_path = format!("/{}", "a".repeat(20_000));
    assert_eq!(code(&long_path, &[]), "414");
    let big = format!("X-Big: {}", "b".repeat(20_000));
    assert_eq!(code("/", &["-H", &big]), "431");
    let many: Vec<String> = (0..120).map(|i| format!("X-H{i}: v")).collect();
    let mut args: Vec<&str> = Vec::new();
    for h in &many {
        args.extend(["-H", h.as_str()]);
    }
    assert_eq!(code("/", &args), "431", "more than 101 headers");
    assert_eq!(srv.count(), 0);
    assert_eq!(code("/ok", &[]), "200");
}

#[test]
fn http2_prior_knowledge_to_an_http1_server() {
    let Some(topo) = topology("hh2c") else { return };
    let _srv = echo(&topo, "198.51.100.10:80", "s1");
    let cfg = format!(
        "{DEFAULTS}frontend ft\n    bind 192.0.2.1:80\n    default_backend bk\n\
         backend bk\n    server s1 198.51.100.10:80\n"
    );
    let _lb = start(&topo, &cfg, &[80]);
    let out = get(&topo, "http://192.0.2.1/h2/a?x=1", &["--http2-prior-knowledge", "-i"]);
    assert!(out.starts_with("HTTP/2 200"), "{out}");
    assert_eq!(values(&out, "line"), ["GET /h2/a?x=1 HTTP/1.1"], "{out}");
    assert_eq!(headers(&out, "host"), ["192.0.2.1"], "{out}");
    // Two streams on one HTTP/2 connection (nghttp: curl 7.88 fails to reuse an h2c connection).
    let out = topo
        .client
        .exec("nghttp", &["http://192.0.2.1/h2/b", "http://192.0.2.1/h2/c"]);
    let body = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "nghttp: {}", String::from_utf8_lossy(&out.stderr));
    let mut lines = values(&body, "line");
    lines.sort();
    assert_eq!(lines, ["GET /h2/b HTTP/1.1", "GET /h2/c HTTP/1.1"], "{body}");
}

#[test]
fn usesrc_clientip_in_http_mode_never_shares_a_spoofed_connection() {
    let Some(topo) = topology("htp") else { return };
    topo.apply_manual_tproxy();
    let srv = echo(&topo, "198.51.100.10:80", "s1");
    // `http-reuse always` would hand any idle connection to any request: the source address
    // in the pool key must still keep each client on connections from its own address.
    let cfg = format!(
        "{DEFAULTS}frontend ft\n    bind 203.0.113.80:80 transparent\n    default_backend bk\n\
         backend bk\n    http-reuse always\n    source 0.0.0.0 usesrc clientip\n    server s1 198.51.100.10:80\n"
    );
    let _lb = start(&topo, &cfg, &[80]);
    for round in 0..3 {
        for client in ["192.0.2.2", "192.0.2.3"] {
            let body = get_all(
                &topo,
                &["http://203.0.113.80/a", "http://203.0.113.80/b"],
                &["--interface", client],
            );
            let peers = values(&body, "peer");
            assert_eq!(peers.len(), 2, "{body}");
            for p in &peers {
                let ip = p.parse::<std::net::SocketAddr>().expect("peer").ip().to_string();
                assert_eq!(
                    ip, client,
                    "round {round}: a request of {client} reached the server from {p}"
                );
            }
        }
    }
    // Idle connections were reused, but only per client address: at most one per client.
    let peers = srv.peers();
    assert_eq!(peers.len(), 2, "one spoofed connection per client address: {peers:?}");
}

#[test]
fn usesrc_hdr_ip_only_for_trusted_clients() {
    let Some(topo) = topology("hhip") else { return };
    topo.apply_manual_tproxy();
    let _srv = echo(&topo, "198.51.100.10:80", "s1");
    // 192.0.2.2 plays an offloader in front, trusted to name the client; 192.0.2.3 is anyone.
    let cfg = format!(
        "{DEFAULTS}frontend ft\n    bind 192.0.2.1:80\n    default_backend bk\n\
         backend bk\n    acl offloader src 192.0.2.2\n\
         source 0.0.0.0 usesrc hdr_ip(x-forwarded-for,-1) if offloader\n    server s1 198.51.100.10:80\n"
    );
    let _lb = start(&topo, &cfg, &[80]);
    let peer_ip = |body: &str| {
        let p = values(body, "peer");
        assert_eq!(p.len(), 1, "{body}");
        p[0].parse::<std::net::SocketAddr>().expect("peer").ip().to_string()
    };
    let trusted = get(
        &topo,
        "http://192.0.2.1/",
        &[
            "--interface",
            "192.0.2.2",
            "-H",
            "X-Forwarded-For: 10.1.1.1, 192.0.2.50",
        ],
    );
    assert_eq!(
        peer_ip(&trusted),
        "192.0.2.50",
        "the last X-Forwarded-For address: {trusted}"
    );
    let untrusted = get(
        &topo,
        "http://192.0.2.1/",
        &["--interface", "192.0.2.3", "-H", "X-Forwarded-For: 192.0.2.60"],
    );
    assert_eq!(
        peer_ip(&untrusted),
        "198.51.100.1",
        "an untrusted client cannot pick: {untrusted}"
    );
    let no_header = get(&topo, "http://192.0.2.1/", &["--interface", "192.0.2.2"]);
    assert_eq!(peer_ip(&no_header), "198.51.100.1", "{no_header}");
    // One kept-alive client connection naming two addresses: two spoofed server connections.
    let out = topo.client.exec(
        "curl",
        &[
            "-sS",
            "--max-time",
            "10",
            "--interface",
            "192.0.2.2",
            "-H",
            "X-Forwarded-For: 192.0.2.51",
            "http://192.0.2.1/a",
            "--next",
            "--interface",
            "192.0.2.2",
            "-H",
            "X-Forwarded-For: 192.0.2.52",
            "http://192.0.2.1/b",
        ],
    );
    let body = String::from_utf8_lossy(&out.stdout);
    let ips: Vec<String> = values(&body, "peer")
        .iter()
        .map(|p| p.parse::<std::net::SocketAddr>().expect("peer").ip().to_string())
        .collect();
    assert_eq!(ips, ["192.0.2.51", "192.0.2.52"], "{body}");
}

#[test]
fn server_close_and_httpclose_modes() {
    let Some(topo) = topology("hmode") else { return };
    let _srv = echo(&topo, "198.51.100.10:80", "s1");
    let cfg = format!(
        "{DEFAULTS}frontend ft\n    bind 192.0.2.1:80\n    bind 192.0.2.1:81\n    use_backend close if {{ dst_port 81 }}\n    default_backend sclose\n\
         backend sclose\n    option http-server-close\n    server s1 198.51.100.10:80\n\
         backend close\n    option httpclose\n    server s1 198.51.100.10:80\n"
    );
    let _lb = start(&topo, &cfg, &[80, 81]);
    let fmt = ["-w", "connects=%{num_connects}\n"];
    // http-server-close: one client connection, a new server connection per request.
    let body = get_all(&topo, &["http://192.0.2.1/a", "http://192.0.2.1/b"], &fmt);
    assert_eq!(values(&body, "req"), ["1", "1"], "{body}");
    assert_ne!(values(&body, "conn")[0], values(&body, "conn")[1], "{body}");
    assert_eq!(
        values(&body, "connects"),
        ["1", "0"],
        "the client connection was kept: {body}"
    );
    assert_eq!(headers(&body, "connection"), ["close", "close"], "{body}");
    // httpclose: both sides close after each response.
    let body = get_all(&topo, &["http://192.0.2.1:81/a", "http://192.0.2.1:81/b"], &fmt);
    assert_eq!(values(&body, "connects"), ["1", "1"], "{body}");
    let head = get(&topo, "http://192.0.2.1:81/", &["-sS", "-D", "-", "-o", "/dev/null"]);
    assert!(head.to_ascii_lowercase().contains("connection: close"), "{head}");
}

#[test]
fn bad_request_bad_response_and_server_timeout() {
    let Some(topo) = topology("hbad") else { return };
    // An echo server sends the request back: not an HTTP response.
    let _echo = clearway_testkit::EchoServer::start(&topo.server, addr("198.51.100.10:80"));
    let _slow = clearway_testkit::PeerServer::start_holding(
        &topo.server,
        addr("198.51.100.11:80"),
        "slow",
        std::time::Duration::from_secs(30),
    );
    let cfg = format!(
        "{DEFAULTS}frontend ft\n    bind 192.0.2.1:80\n    bind 192.0.2.1:81\n    use_backend slow if {{ dst_port 81 }}\n    default_backend garbage\n\
         backend garbage\n    server e 198.51.100.10:80\n\
         backend slow\n    timeout server 300ms\n    server s 198.51.100.11:80\n"
    );
    let lb = start(&topo, &cfg, &[80, 81]);
    let code = |url: &str| http_code(&topo, url, &[]);
    assert_eq!(code("http://192.0.2.1/"), "502");
    assert!(
        lb.wait_log("bad or no response from the server", TIMEOUT),
        "{}",
        lb.log()
    );
    assert_eq!(code("http://192.0.2.1:81/"), "504");
    assert!(
        lb.wait_log("no response within 'timeout server'", TIMEOUT),
        "{}",
        lb.log()
    );
    let got = clearway_testkit::request(
        &topo.client,
        addr("192.0.2.1:80"),
        None,
        b"NOT HTTP AT ALL\r\n\r\n",
        TIMEOUT,
    )
    .expect("request");
    assert!(got.starts_with("HTTP/1.1 400"), "{got:?}");
}

#[test]
fn websocket_upgrade_becomes_a_tunnel() {
    let Some(topo) = topology("hws") else { return };
    let _srv = echo(&topo, "198.51.100.10:80", "s1");
    let cfg = format!(
        "{DEFAULTS}    option httpclose\nfrontend ft\n    bind 192.0.2.1:80\n    option forwardfor\n    default_backend bk\n\
         backend bk\n    timeout tunnel 1h\n    server s1 198.51.100.10:80\n"
    );
    let _lb = start(&topo, &cfg, &[80]);
    let (head, s) = switch(&topo, "192.0.2.1:80", "/chat");
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(head.contains("upgrade: websocket"), "{head}");
    assert!(
        head.contains(&format!("sec-websocket-accept: {}", ACCEPT.to_ascii_lowercase())),
        "{head}"
    );
    // Bytes both ways through the tunnel, several times.
    echoes(s);
}

#[test]
fn a_closing_clients_server_connection_stays_idle_for_others_or_is_reset() {
    let Some(topo) = topology("hccl") else { return };
    let srv = echo(&topo, "198.51.100.10:80", "s1");
    let none = echo(&topo, "198.51.100.10:81", "s2");
    let cfg = format!(
        "{DEFAULTS}frontend ft\n    bind 192.0.2.1:80\n    default_backend bk\n\
         frontend ft2\n    bind 192.0.2.1:81\n    default_backend bk2\n\
         backend bk\n    http-reuse always\n    server s1 198.51.100.10:80\n\
         backend bk2\n    http-reuse always\n    server s2 198.51.100.10:81 pool-max-conn 0\n"
    );
    let _lb = start(&topo, &cfg, &[80, 81]);
    // As HAProxy, the server is not asked to close, and the connection goes back to the pool
    // (within the estimate of the connections needed): the next clients' requests take it.
    for n in 1..=3 {
        let body = get(&topo, "http://192.0.2.1/", &["-H", "Connection: close"]);
        assert!(headers(&body, "connection").is_empty(), "{body}");
        assert_eq!(values(&body, "req"), [n.to_string()], "{body}");
    }
    // An HTTP/1.0 client: asked in HTTP/1.0 with keep-alive, as HAProxy asks.
    let body = get(&topo, "http://192.0.2.1/", &["--http1.0"]);
    assert_eq!(headers(&body, "connection"), ["keep-alive"], "{body}");
    assert_eq!(values(&body, "line"), ["GET / HTTP/1.0"], "{body}");
    assert_eq!(values(&body, "req"), ["4"], "{body}");
    assert_eq!(srv.count(), 1);
    let left = topo.lb.sh("ss -tanH dst 198.51.100.10:80");
    assert!(
        left.lines().count() == 1 && left.contains("ESTAB"),
        "one idle connection to the server:\n{left}"
    );
    // With no room in the pool (`pool-max-conn 0`), each is reset once the response is in:
    // no TIME_WAIT is left on the lb's side.
    let resets = tcp_counter(&topo.lb, "OutRsts");
    for _ in 0..3 {
        let body = get(&topo, "http://192.0.2.1:81/", &["-H", "Connection: close"]);
        assert_eq!(values(&body, "req"), ["1"], "{body}");
    }
    assert_eq!(none.count(), 3);
    let left = topo.lb.sh("ss -tanH dst 198.51.100.10:81");
    assert!(left.trim().is_empty(), "sockets left to the server:\n{left}");
    assert!(tcp_counter(&topo.lb, "OutRsts") >= resets + 3);
}

/// A counter of the namespace's TCP statistics (`/proc/net/snmp`, line `Tcp:`).
fn tcp_counter(ns: &clearway_testkit::Netns, name: &str) -> u64 {
    let snmp = ns.sh("cat /proc/net/snmp");
    let mut tcp = snmp.lines().filter(|l| l.starts_with("Tcp:"));
    let (names, values) = (tcp.next().unwrap_or(""), tcp.next().unwrap_or(""));
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .find(|(n, _)| *n == name)
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or_else(|| panic!("no Tcp counter {name} in:\n{snmp}"))
}

/// The echo server's checksum of a body.
fn body_sum(b: &[u8]) -> u32 {
    b.iter()
        .fold(0u32, |a, &x| a.wrapping_mul(31).wrapping_add(u32::from(x)))
}

#[test]
fn request_and_response_bodies_keep_their_framing() {
    let Some(topo) = topology("hbody") else { return };
    let _srv = echo(&topo, "198.51.100.10:80", "s1");
    let cfg = format!(
        "{DEFAULTS}frontend ft\n    bind 192.0.2.1:80\n    default_backend bk\n\
         backend bk\n    server s1 198.51.100.10:80 pool-low-conn 10\n"
    );
    let _lb = start(&topo, &cfg, &[80]);
    let dir = std::env::temp_dir().join(format!("clearway-hbody-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("body");
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&file, &data).unwrap();
    let at = format!("@{}", file.display());
    let want = [format!("{}", data.len()), format!("{}", body_sum(&data))];

    // A body with its length, and the same streamed chunked: the server gets every byte.
    let sized = get(&topo, "http://192.0.2.1/up", &["--data-binary", &at]);
    assert_eq!(
        [values(&sized, "body_len"), values(&sized, "body_sum")].concat(),
        want,
        "{sized}"
    );
    let chunked = get(
        &topo,
        "http://192.0.2.1/up",
        &["--data-binary", &at, "-H", "Transfer-Encoding: chunked"],
    );
    assert_eq!(
        [values(&chunked, "body_len"), values(&chunked, "body_sum")].concat(),
        want,
        "{chunked}"
    );
    assert_eq!(headers(&chunked, "transfer-encoding"), ["chunked"], "{chunked}");
    let _ = std::fs::remove_dir_all(&dir);

    // Responses chunked, sized and ended by a close, one after another on one client
    // connection: each arrives whole, and the server connection is reused after the chunked
    // one, not after the one that ended with a close.
    let body = get_all(
        &topo,
        &[
            "http://192.0.2.1/chunked",
            "http://192.0.2.1/a",
            "http://192.0.2.1/close",
            "http://192.0.2.1/b",
        ],
        &[],
    );
    assert_eq!(
        values(&body, "line"),
        [
            "GET /chunked HTTP/1.1",
            "GET /a HTTP/1.1",
            "GET /close HTTP/1.1",
            "GET /b HTTP/1.1"
        ],
        "{body}"
    );
    // (The uploads above each had a server connection of their own: with `http-reuse safe`
    // a client's first request never takes another client's idle connection. They stay idle
    // too: `pool-low-conn` lets more stay than one-at-a-time requests need, so the chunked
    // response's connection is kept, and is the one this thread took last.)
    let conns = values(&body, "conn");
    assert!(conns[..3].iter().all(|c| *c == conns[0]), "{body}");
    assert_ne!(conns[3], conns[0], "{body}");
    assert_eq!(values(&body, "req")[..3], ["1", "2", "3"], "{body}");

    // A HEAD answer has a length but no body: nothing is waited for.
    let head = get(&topo, "http://192.0.2.1/a", &["-I"]).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("content-length:"), "{head}");
}

#[test]
fn idle_server_connections_the_server_closed_are_closed_here_too() {
    let Some(topo) = topology("hidle") else { return };
    let _srv = HttpEchoServer::start_with_idle(
        &topo.server,
        addr("198.51.100.10:80"),
        "s1",
        std::time::Duration::from_millis(300),
    );
    let cfg = format!(
        "{DEFAULTS}frontend ft\n    bind 192.0.2.1:80\n    default_backend bk\n\
         backend bk\n    http-reuse always\n    server s1 198.51.100.10:80\n"
    );
    let _lb = start(&topo, &cfg, &[80]);
    let body = get(&topo, "http://192.0.2.1/a", &[]);
    assert_eq!(values(&body, "conn"), ["1"], "{body}");
    // The server closes its idle connection after 300 ms; the proxy's end must not linger
    // half-closed (CLOSE_WAIT) while no request comes.
    let lingering = || {
        let out = topo.lb.exec("ss", &["-Htn", "state", "close-wait"]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(
        eventually(|| lingering().is_empty()),
        "still half-closed: {}",
        lingering()
    );
    // And the next request goes over a new connection.
    let body = get(&topo, "http://192.0.2.1/b", &[]);
    assert_eq!(values(&body, "conn"), ["2"], "{body}");
}

/// Adds to the lb namespace's OUTPUT chain a rule that counts pure ACKs (no data, no SYN,
/// FIN or RST) matching `filter`, under the comment `tag`.
fn count_pure_acks(topo: &clearway_testkit::Topology, filter: &str, tag: &str) {
    topo.lb.sh(&format!(
        "iptables -w -A OUTPUT -p tcp {filter} --tcp-flags SYN,FIN,RST,ACK ACK \
         -m length --length 0:60 -m comment --comment {tag} -j ACCEPT"
    ));
}

/// Runs Clearway on `cfg` for twenty clients of one request each; returns how many packets
/// the rule `tag` counted meanwhile.
fn packets_over_twenty_clients(topo: &clearway_testkit::Topology, cfg: &str, tag: &str) -> u64 {
    let counter = || {
        let out = topo.lb.sh("iptables -w -L OUTPUT -v -x -n");
        out.lines()
            .find(|l| l.contains(&format!("/* {tag} */")))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("no {tag} counter in:\n{out}"))
    };
    let _lb = start(topo, cfg, &[80]);
    let before = counter();
    for _ in 0..20 {
        assert!(get(topo, "http://192.0.2.1/", &[]).contains("req=1"));
    }
    counter() - before
}

#[test]
fn tcp_smart_accept_lets_the_response_carry_the_ack_of_the_request() {
    let Some(topo) = topology("hack") else { return };
    let _srv = echo(&topo, "198.51.100.10:80", "s1");
    count_pure_acks(&topo, "--sport 80", "pureack");
    // The pure ACKs Clearway's side sent to twenty clients.
    let acks_with = |defaults_line: &str| {
        let cfg = format!(
            "{DEFAULTS}{defaults_line}frontend ft\n    bind 192.0.2.1:80\n    default_backend bk\n\
             backend bk\n    server s1 198.51.100.10:80\n"
        );
        packets_over_twenty_clients(&topo, &cfg, "pureack")
    };
    // In mode http the kernel holds the ACK of each request until the response carries it;
    // without the option it sends one at once, a packet more per connection. (A response
    // later than the delayed-ACK timer, 40 ms, on a loaded machine also gets a bare ACK: the
    // margin allows for half of them.)
    let smart = acks_with("");
    let quick = acks_with("    no option tcp-smart-accept\n");
    assert!(
        quick >= smart + 10,
        "pure ACKs: {smart} with tcp-smart-accept, {quick} without"
    );
}

#[test]
fn tcp_smart_connect_lets_the_request_carry_the_ack_of_the_handshake() {
    let Some(topo) = topology("hsmc") else { return };
    let _srv = echo(&topo, "198.51.100.10:80", "s1");
    count_pure_acks(&topo, "-d 198.51.100.10 --dport 80", "srvack");
    // The pure ACKs the lb sent to the server for twenty clients, so twenty new server
    // connections (`http-reuse never`).
    let acks_with = |backend_line: &str| {
        let cfg = format!(
            "{DEFAULTS}frontend ft\n    bind 192.0.2.1:80\n    default_backend bk\n\
             backend bk\n    http-reuse never\n{backend_line}    server s1 198.51.100.10:80\n"
        );
        packets_over_twenty_clients(&topo, &cfg, "srvack")
    };
    // Without the option the handshake ends with an ACK of its own, then the request goes;
    // with it the request is the handshake's last packet. (Each connection also acknowledges
    // the response with a bare ACK, either way.)
    let quick = acks_with("");
    let smart = acks_with("    option tcp-smart-connect\n");
    assert!(
        quick >= smart + 15,
        "pure ACKs to the server: {quick} without tcp-smart-connect, {smart} with it"
    );
}
