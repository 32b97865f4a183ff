//! The rule language's sample expressions through the real binary, side by side with
//! HAProxy on the same config: converter chains in headers and ACLs, variables of every
//! scope (`set-var`, `set-var-fmt`, `unset-var`, the global section's), request fetches
//! (`url_param`, cookies, header counts, `capture.req.uri`), the backend and server names,
//! `http-response set-status`, `http-after-response` on the proxy's own answers, and
//! `return` with a format body. What servers and clients see must be the same.

mod common;
use common::http::{echo, headers, values, DEFAULTS};
use common::*;

const CONFIG: &str = "global\n    set-var proc.limit int(12)\n    set-var-fmt proc.greeting \"hi %[var(proc.limit)]\"\n\
    {DEFAULTS}frontend fe\n    bind 192.0.2.1:PORT\n\
    \x20   acl admin hdr(x-user),lower -m str admin\n\
    \x20   acl long_path path,length gt 20\n\
    \x20   http-request deny deny_status 429 if admin long_path\n\
    \x20   http-request set-var(txn.path) path,lower\n\
    \x20   http-request set-var(sess.seen,ifnotset) int(0)\n\
    \x20   http-request set-var(sess.seen) int(1),add(sess.seen)\n\
    \x20   http-request set-var-fmt(txn.who) \"%[src]:%[hdr(x-user),upper]\"\n\
    \x20   http-request return status 200 content-type text/plain lf-string \"path=%[var(txn.path)] q=%[url_param(q)]\" if { path_beg /ret }\n\
    \x20   http-request set-header X-Api %[var(txn.path),regsub(^/api/,/),field(2,/)]\n\
    \x20   http-request set-header X-Who %[var(txn.who)]\n\
    \x20   http-request set-header X-Seen %[var(sess.seen)]\n\
    \x20   http-request set-header X-Limit %[var(proc.limit),mul(2)]\n\
    \x20   http-request set-header X-Greeting %[var(proc.greeting)]\n\
    \x20   http-request set-header X-Q %[url_param(q),url_dec]\n\
    \x20   http-request set-header X-Sid %[req.cook(sid)]\n\
    \x20   http-request set-header X-Count %[req.hdr_cnt(x-a)]\n\
    \x20   http-request set-header X-Sum %[str(abc),crc32,add(1)],%[str(abc),sha1,hex,lower]\n\
    \x20   http-request set-path /renamed if { path /rename }\n\
    \x20   http-request set-header X-Orig %[capture.req.uri] if { path /renamed }\n\
    \x20   http-request set-var(txn.gone) str(x)\n\
    \x20   http-request unset-var(txn.gone)\n\
    \x20   http-request set-header X-Gone %[var(txn.gone,default)]\n\
    \x20   http-response set-header X-Served %[be_name]/%[srv_name]/%[srv_id]\n\
    \x20   http-response set-status 203 reason Rewritten if { var(txn.path) -m beg /api }\n\
    \x20   http-after-response set-header X-After %[status],%[var(txn.path)]\n\
    \x20   default_backend be\n\
    backend be\n    server web1 198.51.100.10:80\n";

/// What the server saw of a request to `path` on `port`: the values of `names` (joined by
/// `sep`), then its `key=` line (`server`, `line`), on one line.
fn seen_by_server(
    topo: &clearway_testkit::Topology,
    port: u16,
    (path, opts): (&str, &[&str]),
    names: &[&str],
    sep: &str,
    key: &str,
) -> String {
    let body = common::http::get(topo, &format!("http://192.0.2.1:{port}{path}"), opts);
    names
        .iter()
        .map(|h| format!("{h}={}", headers(&body, h).join(sep)))
        .chain(values(&body, key))
        .collect::<Vec<_>>()
        .join(" ")
}

/// What the client got (status line, `x-*` response headers) and what the server saw
/// (`x-*` request headers).
fn exchange(topo: &clearway_testkit::Topology, port: u16, path: &str, opts: &[&str]) -> (Vec<String>, String) {
    let url = format!("http://192.0.2.1:{port}{path}");
    let mut args = vec!["-sS", "-i", "--max-time", "10"];
    args.extend_from_slice(opts);
    args.push(&url);
    let out = topo.client.exec("curl", &args);
    let text = String::from_utf8_lossy(&out.stdout).replace('\r', "");
    let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
    let mut seen: Vec<String> = head
        .lines()
        .filter(|l| l.starts_with("HTTP/") || l.to_ascii_lowercase().starts_with("x-"))
        .map(|l| l.to_ascii_lowercase())
        .collect();
    seen.sort();
    let server: Vec<String> = [
        "x-api",
        "x-who",
        "x-seen",
        "x-limit",
        "x-greeting",
        "x-q",
        "x-sid",
        "x-count",
        "x-sum",
        "x-orig",
        "x-gone",
    ]
    .iter()
    .map(|h| format!("{h}={}", headers(body, h).join(",")))
    .chain(values(body, "line"))
    .collect();
    let body = if body.contains("server=") {
        server.join("\n")
    } else {
        body.to_string()
    };
    (seen, body)
}

#[test]
fn sample_expressions_and_variables_as_haproxy() {
    let Some(topo) = topology("rules") else { return };
    let _w = echo(&topo, "198.51.100.10:80", "web1");
    let (_cw, _hap) = clearway_and_haproxy(&topo, &CONFIG.replace("{DEFAULTS}", DEFAULTS));
    let cases: [(&str, &[&str]); 6] = [
        (
            "/API/Users/42?q=a%20b&x=1",
            &[
                "-H",
                "X-User: alice",
                "-H",
                "X-A: 1, 2",
                "-H",
                "X-A: 3",
                "-b",
                "sid=s1; o=2",
            ],
        ),
        ("/plain", &["-H", "X-User: bob"]),
        ("/rename", &[]),
        ("/ret/x?q=7", &[]),
        // Refused by an ACL on converted samples: the after-response rules still run.
        ("/a/rather/long/path/over/twenty", &["-H", "X-User: ADMIN"]),
        ("/short", &["-H", "X-User: ADMIN"]),
    ];
    let mut got = Vec::new();
    for port in [80u16, 81] {
        got.push(
            cases
                .iter()
                .map(|(p, o)| exchange(&topo, port, p, o))
                .collect::<Vec<_>>(),
        );
    }
    for (i, (cw, hap)) in got[0].iter().zip(&got[1]).enumerate() {
        assert_eq!(cw.0, hap.0, "case {i} ({}): Clearway, then HAProxy", cases[i].0);
        // Error pages are in each proxy's own words.
        if i != 4 {
            assert_eq!(cw.1, hap.1, "case {i} ({}): Clearway, then HAProxy", cases[i].0);
        }
    }
    // And what that is, so that a shared mistake shows too.
    let (client, server) = &got[0][0];
    assert!(client.contains(&"http/1.1 203 rewritten".to_string()), "{client:?}");
    assert!(client.contains(&"x-served: be/web1/1".to_string()), "{client:?}");
    assert!(client.contains(&"x-after: 203,/api/users/42".to_string()), "{client:?}");
    for want in [
        "x-api=users",
        "x-who=192.0.2.2:ALICE",
        "x-seen=1",
        "x-limit=24",
        "x-greeting=hi 12",
        "x-q=a b",
        "x-sid=s1",
        "x-count=3",
        "x-sum=891568579,a9993e364706816aba3e25717850c26c9cd0d89d",
        "x-gone=default",
    ] {
        assert!(server.lines().any(|l| l == want), "{want} not in:\n{server}");
    }
    assert!(got[0][2].1.contains("x-orig=/rename"), "{}", got[0][2].1);
    assert_eq!(got[0][3].1, "path=/ret/x q=7");
    // Refused before `txn.path` was set.
    assert!(got[0][4].0.contains(&"x-after: 429,".to_string()), "{:?}", got[0][4].0);
    assert!(
        got[0][5].0.iter().any(|l| l.starts_with("http/1.1 200")),
        "{:?}",
        got[0][5].0
    );
}

#[test]
fn a_session_variable_lives_as_long_as_the_connection() {
    let Some(topo) = topology("rulesess") else { return };
    let _w = echo(&topo, "198.51.100.10:80", "web1");
    let (_cw, _hap) = clearway_and_haproxy(&topo, &CONFIG.replace("{DEFAULTS}", DEFAULTS));
    for port in [80u16, 81] {
        let urls: Vec<String> = (0..3).map(|i| format!("http://192.0.2.1:{port}/n{i}")).collect();
        let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
        let body = common::http::get_all(&topo, &urls, &[]);
        assert_eq!(headers(&body, "x-seen"), ["1", "2", "3"], "port {port}:\n{body}");
    }
}

#[test]
fn maps_and_dynamic_backend_names_route_as_haproxy() {
    let Some(topo) = topology("rulemap") else { return };
    let dir = std::env::temp_dir().join(format!("cw-maps-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let hosts = dir.join("hosts.map");
    std::fs::write(
        &hosts,
        "# host -> backend\na.test be_a\nb.test be_b\nc.test be_missing\n",
    )
    .unwrap();
    let nets = dir.join("nets.map");
    std::fs::write(&nets, "192.0.2.0/24 lab\n0.0.0.0/0 world\n").unwrap();
    let paths = dir.join("paths.map");
    std::fs::write(&paths, "/api/v2 v2\n/api v1\n").unwrap();
    let config = format!(
        "{DEFAULTS}frontend fe\n    bind 192.0.2.1:PORT\n\
         \x20   http-request set-header X-Net %[src,map_ip({nets},none)]\n\
         \x20   http-request set-header X-Api %[path,map_beg({paths},none)]\n\
         \x20   use_backend be_%[req.hdr(x-be)] if {{ req.hdr(x-be) -m found }}\n\
         \x20   use_backend %[req.hdr(host),field(1,:),lower,map({hosts},be_default)]\n\
         \x20   default_backend be_b\n\
         backend be_a\n    server web1 198.51.100.10:80\n\
         backend be_b\n    server web2 198.51.100.11:80\n\
         backend be_default\n    http-request set-header X-Default yes\n    server web1 198.51.100.10:80\n",
        hosts = hosts.display(),
        nets = nets.display(),
        paths = paths.display(),
    );
    let _w1 = echo(&topo, "198.51.100.10:80", "web1");
    let _w2 = echo(&topo, "198.51.100.11:80", "web2");
    let (_cw, _hap) = clearway_and_haproxy(&topo, &config);
    let cases: [(&str, &[&str]); 6] = [
        ("/api/v2/x", &["-H", "Host: A.test"]),
        ("/api/v1", &["-H", "Host: b.test:8080"]),
        ("/", &["-H", "Host: unknown.test"]),
        // A name from the map that no backend has, and one from a header: the default.
        ("/", &["-H", "Host: c.test"]),
        ("/", &["-H", "Host: a.test", "-H", "X-Be: b"]),
        ("/", &["-H", "Host: a.test", "-H", "X-Be: nope"]),
    ];
    let mut got = Vec::new();
    for port in [80u16, 81] {
        got.push(
            cases
                .iter()
                .map(|(path, opts)| {
                    seen_by_server(
                        &topo,
                        port,
                        (path, opts),
                        &["x-net", "x-api", "x-default"],
                        ",",
                        "server",
                    )
                })
                .collect::<Vec<_>>(),
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(got[0], got[1], "Clearway, then HAProxy");
    assert_eq!(
        got[0],
        [
            "x-net=lab x-api=v2 x-default= web1",
            "x-net=lab x-api=v1 x-default= web2",
            "x-net=lab x-api=none x-default=yes web1",
            "x-net=lab x-api=none x-default= web2",
            "x-net=lab x-api=none x-default= web2",
            "x-net=lab x-api=none x-default= web2",
        ]
    );
}

#[test]
fn rewrites_replace_what_the_regex_matches_whole_as_haproxy() {
    let Some(topo) = topology("rulerw") else { return };
    let _w = echo(&topo, "198.51.100.10:80", "web1");
    let config = format!(
        "{DEFAULTS}frontend fe\n    bind 192.0.2.1:PORT\n\
         \x20   http-request replace-header X-A foo X%[str(y)]\n\
         \x20   http-request replace-value X-B ^a(.*)$ <\\1>\n\
         \x20   http-request replace-path ^/old/(.*)$ /new/\\1\n\
         \x20   http-request replace-pathq ^/pq/([^?]*)\\?(.*)$ /PQ/\\2/\\1\n\
         \x20   http-request replace-uri ^/u(.*)$ /U\\1\n\
         \x20   http-request set-pathq /set?%[url_param(k)] if {{ path /setpq }}\n\
         \x20   http-request set-query k=%[req.hdr(x-k)] if {{ req.hdr(x-k) -m found }}\n\
         \x20   http-request set-method PUT if {{ path_beg /put }}\n\
         \x20   http-request set-header X-Orig %[capture.req.uri]\n\
         \x20   default_backend be\n\
         backend be\n    server web1 198.51.100.10:80\n"
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &config);
    let cases: [(&str, &[&str]); 7] = [
        ("/old/x/y?q=1", &["-H", "X-A: afoob", "-H", "X-B: abc, xyz, a1"]),
        ("/pq/a/b?z=9", &[]),
        ("/ux?z", &[]),
        ("/setpq?k=v", &[]),
        ("/q?old=1", &["-H", "X-K: 5"]),
        ("/q", &["-H", "X-K: 6"]),
        ("/put/it", &[]),
    ];
    let mut got = Vec::new();
    for port in [80u16, 81] {
        got.push(
            cases
                .iter()
                .map(|(path, opts)| seen_by_server(&topo, port, (path, opts), &["x-a", "x-b", "x-orig"], "|", "line"))
                .collect::<Vec<_>>(),
        );
    }
    assert_eq!(got[0], got[1], "Clearway, then HAProxy");
    assert_eq!(
        got[0],
        [
            "x-a=Xy x-b=<bc>, xyz,<1> x-orig=/old/x/y?q=1 GET /new/x/y?q=1 HTTP/1.1",
            "x-a= x-b= x-orig=/pq/a/b?z=9 GET /PQ/z=9/a/b HTTP/1.1",
            "x-a= x-b= x-orig=/ux?z GET /Ux?z HTTP/1.1",
            "x-a= x-b= x-orig=/setpq?k=v GET /set?v HTTP/1.1",
            "x-a= x-b= x-orig=/q?old=1 GET /q?k=5 HTTP/1.1",
            "x-a= x-b= x-orig=/q GET /q?k=6 HTTP/1.1",
            "x-a= x-b= x-orig=/put/it PUT /put/it HTTP/1.1",
        ]
    );
}

#[test]
fn process_variables_are_read_on_the_stats_socket_as_with_haproxy() {
    let Some(topo) = topology("rulevar") else { return };
    let dir = socket_dir("rulevar");
    let _w = echo(&topo, "198.51.100.10:80", "web1");
    // One config text for both proxies: each gets its own socket.
    let config = |sock: &std::path::Path| {
        format!(
            "global\n    stats socket {} level admin\n    set-var proc.limit int(12)\n\
             \x20   set-var proc.name str(a\\ b),concat(!)\n    set-var proc.net ipv4(192.0.2.1),ipmask(24)\n\
             {DEFAULTS}frontend fe\n    bind 192.0.2.1:PORT\n\
             \x20   http-request set-var(proc.hits) int(1),add(proc.hits) if {{ var(proc.hits) -m found }}\n\
             \x20   http-request set-var(proc.hits,ifnotset) int(1)\n\
             \x20   default_backend be\nbackend be\n    server web1 198.51.100.10:80\n",
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
        for _ in 0..3 {
            common::http::get(&topo, &format!("http://192.0.2.1:{port}/"), &[]);
        }
    }
    let ask = |sock: &std::path::Path| {
        ["proc.limit", "proc.name", "proc.net", "proc.hits", "proc.none", "txn.x"]
            .iter()
            .map(|v| cli(sock, &format!("get var {v}")))
            .collect::<Vec<_>>()
    };
    let (cw, hap) = (ask(&cw_sock), ask(&hap_sock));
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(cw, hap, "Clearway, then HAProxy");
    assert_eq!(cw[0], "proc.limit: type=sint value=<12>\n");
    assert_eq!(cw[1], "proc.name: type=str value=<a b!>\n");
    assert_eq!(cw[2], "proc.net: type=ipv4 value=<192.0.2.0>\n");
    assert_eq!(cw[3], "proc.hits: type=sint value=<3>\n");
}

#[test]
fn errorloc_and_http_error_replace_error_pages_as_haproxy() {
    let Some(topo) = topology("ruleerr") else { return };
    let config = format!(
        "{DEFAULTS}frontend fe\n    bind 192.0.2.1:PORT\n\
         \x20   errorloc 503 https://status.example/down\n\
         \x20   errorloc303 403 /denied\n\
         \x20   http-error status 429 content-type text/plain string \"slow down\" hdr Retry-After 30\n\
         \x20   http-request deny if {{ path /deny }}\n\
         \x20   http-request deny deny_status 429 if {{ path /slow }}\n\
         \x20   default_backend empty\n\
         backend empty\n"
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &config);
    let mut got = Vec::new();
    for port in [80u16, 81] {
        got.push(
            ["/x", "/deny", "/slow"]
                .iter()
                .map(|p| {
                    let url = format!("http://192.0.2.1:{port}{p}");
                    let out = topo.client.exec("curl", &["-sS", "-i", "--max-time", "10", &url]);
                    let text = String::from_utf8_lossy(&out.stdout).replace('\r', "");
                    let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
                    let mut keep: Vec<String> = head
                        .lines()
                        .filter(|l| {
                            let l = l.to_ascii_lowercase();
                            l.starts_with("http/")
                                || l.starts_with("location")
                                || l.starts_with("retry-after")
                                || l.starts_with("content-type")
                                || l.starts_with("content-length")
                        })
                        .map(|l| l.to_ascii_lowercase())
                        .collect();
                    keep.sort();
                    keep.push(body.to_string());
                    keep.join("|")
                })
                .collect::<Vec<_>>(),
        );
    }
    assert_eq!(got[0], got[1], "Clearway, then HAProxy");
    assert_eq!(
        got[0][0],
        "content-length: 0|http/1.1 302 found|location: https://status.example/down|"
    );
    assert_eq!(got[0][1], "content-length: 0|http/1.1 303 see other|location: /denied|");
    assert_eq!(
        got[0][2],
        "content-length: 9|content-type: text/plain|http/1.1 429 too many requests|retry-after: 30|slow down"
    );
}

#[test]
fn backend_and_server_state_fetches_read_as_haproxy() {
    let Some(topo) = topology("rulestate") else { return };
    let _w1 = echo(&topo, "198.51.100.10:80", "web1");
    let _w2 = echo(&topo, "198.51.100.11:80", "web2");
    let dir = socket_dir("rulestate");
    let config = format!(
        "global\n    stats socket {}/PORT.sock level admin\n{DEFAULTS}frontend fe\n    bind 192.0.2.1:PORT\n\
         \x20   http-request return status 200 content-type text/plain lf-string \"n=%[nbsrv(bk)] \
         up=%[srv_is_up(bk/s2)],%[srv_is_up(bk/s1)] c=%[be_conn(bk)] f=%[be_conn_free(bk)] s=%[connslots(bk)] \
         q=%[queue(bk)] a=%[avg_queue(bk)] sc=%[srv_conn(bk/s1)] sf=%[srv_conn_free(bk/s1)]\" \
         if {{ path /state }}\n\
         \x20   use_backend sorry if {{ nbsrv(bk) lt 2 }}\n\
         \x20   default_backend bk\n\
         backend bk\n    server s1 198.51.100.10:80 maxconn 10 maxqueue 5\n\
         \x20   server s2 198.51.100.11:80 maxconn 20 maxqueue 5\n\
         backend sorry\n    http-request return status 503 content-type text/plain lf-string \"sorry %[nbsrv]\"\n",
        dir.display()
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &config);
    let mut got = Vec::new();
    for port in [80u16, 81] {
        let sock = dir.join(format!("{port}.sock"));
        let get = |path: &str| {
            let out = topo.client.exec(
                "curl",
                &["-sS", "--max-time", "10", &format!("http://192.0.2.1:{port}{path}")],
            );
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        };
        let mut seen = vec![get("/state"), values(&get("/"), "server").join("")];
        cli(&sock, "disable server bk/s2");
        seen.push(get("/state"));
        seen.push(get("/"));
        got.push(seen);
    }
    assert_eq!(got[0], got[1], "Clearway, then HAProxy");
    assert_eq!(got[0][0], "n=2 up=1,1 c=0 f=30 s=40 q=0 a=0 sc=0 sf=10", "{:?}", got[0]);
    assert_eq!(got[0][3], "sorry 0", "{:?}", got[0]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn table_time_json_and_request_hash_samples_read_as_haproxy() {
    let Some(topo) = topology("rulemisc") else { return };
    let config = format!(
        "{DEFAULTS}frontend fe\n    bind 192.0.2.1:PORT\n\
         \x20   stick-table type ip size 10 store http_req_rate(10s),conn_cur\n\
         \x20   http-request track-sc0 src\n\
         \x20   http-request set-var(txn.doc) req.fhdr(x-doc)\n\
         \x20   http-request return status 200 content-type text/plain lf-string \"in=%[src,in_table(fe)] \
         out=%[str(10.9.9.9),in_table(fe)] rate=%[src,table_http_req_rate(fe)] cur=%[src,table_conn_cur(fe)] \
         none=%[str(10.9.9.9),table_conn_cur(fe)] utime=%[int(1700000000),utime(%Y-%m-%dT%H:%M:%S)] \
         ltime=%[int(1700000000),ltime(%d/%b/%Y)] id=%[var(txn.doc),json_query('\\$.user.id')] \
         name=%[var(txn.doc),json_query('\\$.user.name')] \
         b32=%[base32] b32src=%[base32+src,hex] val=%[hdr_val(x-n)] major=%[fc_http_major] fcsrc=%[fc_src] first=%[http_first_req]\"\n"
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &config);
    let mut got = Vec::new();
    for port in [80u16, 81] {
        let url = format!("http://192.0.2.1:{port}/some/path?q=1");
        let doc = r#"X-Doc: {"user":{"id":7,"name":"ann"}}"#;
        let out = topo.client.exec(
            "curl",
            &[
                "-sS",
                "--max-time",
                "10",
                "-H",
                "Host: example.com",
                "-H",
                "X-N: 41",
                "-H",
                doc,
                &url,
            ],
        );
        got.push(String::from_utf8_lossy(&out.stdout).trim().to_string());
    }
    assert_eq!(got[0], got[1], "Clearway, then HAProxy");
    let v = &got[0];
    for part in [
        "in=1 out=0 rate=1 cur=1 none=0",
        "utime=2023-11-14T22:13:20",
        "id=7 name=ann",
        "val=41 major=1 fcsrc=192.0.2.",
        "first=1",
    ] {
        assert!(v.contains(part), "{part} in {v}");
    }
}

#[test]
fn response_rules_read_the_response_not_the_request_as_haproxy() {
    let Some(topo) = topology("rres") else { return };
    let _w = echo(&topo, "198.51.100.10:80", "web1");
    // The echo server answers with `Server: echo`; the client sends `Server: client`.
    let cfg = format!(
        "{DEFAULTS}frontend fe\n    bind 192.0.2.1:PORT\n    default_backend be\n\
         backend be\n    acl from_client hdr(server) client\n\
         \x20   http-response set-header x-server \"%[hdr(server)]\"\n\
         \x20   http-response set-header x-path yes if {{ path_beg / }}\n\
         \x20   http-response set-header x-named yes if from_client\n\
         \x20   http-response set-header x-unless yes unless {{ hdr(server) client }}\n\
         \x20   http-response set-header x-method yes if METH_GET\n\
         \x20   http-response set-header x-res yes if {{ res.hdr(server) echo }}\n\
         \x20   server web1 198.51.100.10:80\n"
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    let mut seen = Vec::new();
    for port in [80, 81] {
        let (head, _) = exchange(&topo, port, "/a", &["-H", "Server: client"]);
        seen.push(head);
    }
    // `hdr` in a value reads the response's header; request fetches in a response rule's
    // condition never match (so `unless` holds); the method and the response's headers do.
    let want = [
        "http/1.1 200 ok",
        "x-method: yes",
        "x-res: yes",
        "x-server: echo",
        "x-unless: yes",
    ];
    assert_eq!(seen[0], want, "clearway");
    assert_eq!(seen[1], want, "haproxy");
}

#[test]
fn response_rules_answer_instead_of_the_server_as_haproxy() {
    let Some(topo) = topology("rret") else { return };
    let _w = echo(&topo, "198.51.100.10:80", "web1");
    let cfg = format!(
        "{DEFAULTS}frontend fe\n    bind 192.0.2.1:PORT\n    default_backend be\n\
         \x20   http-request set-var(txn.path) path\n\
         \x20   http-after-response set-header x-after yes\n\
         backend be\n\
         \x20   http-response return status 201 content-type text/plain string replaced hdr x-r 1 if {{ res.hdr(server) echo }} {{ var(txn.path) -m str /ret }}\n\
         \x20   http-response deny deny_status 403 content-type text/plain lf-string \"no %[var(txn.path)]\" hdr x-d 2 if {{ var(txn.path) -m str /deny }}\n\
         \x20   http-response return status 503 if {{ var(txn.path) -m str /empty }}\n\
         \x20   http-response redirect location /new code 301 if {{ var(txn.path) -m str /moved }}\n\
         \x20   server web1 198.51.100.10:80\n"
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    for (who, port) in [("clearway", 80), ("haproxy", 81)] {
        let (head, body) = exchange(&topo, port, "/ret", &[]);
        assert_eq!(head, ["http/1.1 201 created", "x-after: yes", "x-r: 1"], "{who}");
        assert_eq!(body, "replaced", "{who}");
        let (head, body) = exchange(&topo, port, "/deny", &[]);
        assert_eq!(head, ["http/1.1 403 forbidden", "x-after: yes", "x-d: 2"], "{who}");
        assert_eq!(body, "no /deny", "{who}");
        // `return` without an answer: an empty one, not the error page.
        let (head, body) = exchange(&topo, port, "/empty", &[]);
        assert_eq!(head, ["http/1.1 503 service unavailable", "x-after: yes"], "{who}");
        assert_eq!(body, "", "{who}");
        // A redirect instead of the response.
        let (head, _) = exchange(&topo, port, "/moved", &[]);
        assert_eq!(head, ["http/1.1 301 moved permanently", "x-after: yes"], "{who}");
        let url = format!("http://192.0.2.1:{port}/moved");
        let out = topo
            .client
            .exec("curl", &["-sS", "-o", "/dev/null", "-w", "%{redirect_url}", &url]);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("http://192.0.2.1:{port}/new"),
            "{who}"
        );
        // Other responses go through.
        let (head, _) = exchange(&topo, port, "/other", &[]);
        assert_eq!(head, ["http/1.1 200 ok", "x-after: yes"], "{who}");
    }
}

#[test]
fn so_id_and_so_name_tell_the_listening_socket_as_haproxy() {
    let Some(topo) = topology("rso") else { return };
    // The first bind gets number 1, the second its own; the third 3, as HAProxy's counter
    // moves on past numbered sockets too. Only the first has a name.
    let cfg = format!(
        "{DEFAULTS}frontend fe\n    bind 192.0.2.1:PORT name web\n    bind 192.0.2.1:1PORT id 7\n    bind 192.0.2.1:2PORT\n\
         \x20   http-request return status 200 hdr x-so \"%[so_id]/%[so_name]\"\n"
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    for (who, base) in [("clearway", 80), ("haproxy", 81)] {
        let got: Vec<Vec<String>> = [base, 100 + base, 200 + base]
            .iter()
            .map(|&port| exchange(&topo, port, "/", &[]).0)
            .collect();
        let want = [
            ["http/1.1 200 ok", "x-so: 1/web"],
            ["http/1.1 200 ok", "x-so: 7/"],
            ["http/1.1 200 ok", "x-so: 3/"],
        ];
        assert_eq!(got, want, "{who}");
    }
}
