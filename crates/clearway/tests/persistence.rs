//! Cookie persistence side by side with HAProxy: `cookie NAME insert|prefix|rewrite` with
//! their options, servers' `cookie` values, `force-persist`/`ignore-persist`, a cookie jar
//! staying on one server, `nocache`, `option checkcache`, and the log's cookie flags.

mod common;
use common::http::{echo, headers, values, DEFAULTS};
use common::*;
use std::io::Write;
use std::net::UdpSocket;

/// What one request got: status, the response's `Set-Cookie` and `Cache-Control` lines, the
/// server that answered and the `Cookie` lines it received.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Got {
    status: String,
    set_cookie: Vec<String>,
    cache_control: Vec<String>,
    server: String,
    cookie_seen: Vec<String>,
}

fn send(topo: &clearway_testkit::Topology, port: u16, method: &str, path: &str, extra: &[&str]) -> Got {
    let mut s = connect(topo, &format!("192.0.2.1:{port}"));
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: lb.test\r\nConnection: close\r\n");
    for h in extra {
        req.push_str(h);
        req.push_str("\r\n");
    }
    if method == "POST" {
        req.push_str("Content-Length: 0\r\n");
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).expect("send");
    let answer = read_all(s);
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let field = |name: &str| -> Vec<String> {
        head.lines()
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .filter(|(k, _)| k.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_string())
            .collect()
    };
    Got {
        status: head.split(' ').nth(1).unwrap_or("").to_string(),
        set_cookie: field("set-cookie"),
        cache_control: field("cache-control"),
        server: values(body, "server").join(""),
        cookie_seen: headers(body, "cookie"),
    }
}

const CONFIG: &str = "global\n    stats socket DIR/PORT.sock level admin\n    log 127.0.0.1:1PORT5 local0\n\
    {DEFAULTS}    log global\n    log-format \"ck %b/%s %ST %tsc\"\n    retries 1\n    option redispatch\n\
    frontend ft\n    bind 192.0.2.1:PORT\n\
    \x20   use_backend pre if { path_beg /pre }\n\
    \x20   use_backend rew if { path_beg /rew }\n\
    \x20   use_backend post if { path_beg /post }\n\
    \x20   use_backend dated if { path_beg /dated }\n\
    \x20   use_backend cache if { path_beg /cache }\n\
    \x20   use_backend jar if { path_beg /jar }\n\
    \x20   default_backend ins\n\
    backend ins\n\
    \x20   cookie SRV insert indirect nocache httponly secure domain .lb.test attr SameSite=Lax\n\
    \x20   ignore-persist if { hdr(x-ignore) yes }\n\
    \x20   force-persist if { hdr(x-force) yes }\n\
    \x20   use-server web1 if { hdr(x-use) one }\n\
    \x20   server web1 198.51.100.10:80 cookie w1\n\
    \x20   server web2 198.51.100.11:80 cookie w2\n\
    \x20   server dead 198.51.100.12:80 cookie d check inter 200ms fall 1 rise 1\n\
    backend pre\n    cookie JSESSIONID prefix\n\
    \x20   server web1 198.51.100.10:80 cookie w1\n    server web2 198.51.100.11:80 cookie w2\n\
    backend rew\n    cookie SRV rewrite\n\
    \x20   server web1 198.51.100.10:80 cookie w1\n    server web2 198.51.100.11:80 cookie w2\n\
    backend post\n    cookie SRV insert postonly preserve\n\
    \x20   server web1 198.51.100.10:80 cookie w1\n    server web2 198.51.100.11:80 cookie w2\n\
    backend dated\n    cookie SRV insert indirect maxidle 1h maxlife 1d\n\
    \x20   server web1 198.51.100.10:80 cookie w1\n    server web2 198.51.100.11:80 cookie w2\n\
    backend jar\n    cookie SRV insert indirect nocache\n\
    \x20   server web1 198.51.100.10:80 cookie w1\n    server web2 198.51.100.11:80 cookie w2\n\
    backend cache\n    option checkcache\n\
    \x20   server web1 198.51.100.10:80 cookie w1\n";

/// The persistence part of a log line: `BACKEND/SERVER STATUS TSC`.
fn log_lines(rx: &UdpSocket, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 65536];
    while out.len() < n {
        let Ok(len) = rx.recv(&mut buf) else { break };
        let l = String::from_utf8_lossy(&buf[..len]).into_owned();
        if let Some((_, rest)) = l.split_once(" ck ") {
            out.push(rest.trim_end().to_string());
        }
    }
    out
}

#[test]
fn cookie_persistence_inserts_prefixes_and_rewrites_cookies_as_haproxy_does() {
    let Some(topo) = topology("ckie") else { return };
    let _w1 = echo(&topo, "198.51.100.10:80", "web1");
    let _w2 = echo(&topo, "198.51.100.11:80", "web2");
    let dir = std::env::temp_dir().join(clearway_testkit::netns::unique_name("ckie"));
    std::fs::create_dir_all(&dir).unwrap();
    let receivers = udp_receivers(&topo, &[1805, 1815]);
    let cfg = CONFIG
        .replace("{DEFAULTS}", DEFAULTS)
        .replace("DIR", &dir.display().to_string());
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    let mut seen = Vec::new();
    for (port, rx) in [(80u16, &receivers[0]), (81, &receivers[1])] {
        let sock = dir.join(format!("{port}.sock"));
        assert!(
            eventually(|| csv_rows(&cli(&sock, "show stat"))
                .iter()
                .any(|r| r["svname"] == "dead" && r["status"].contains("DOWN"))),
            "{port}: dead not seen down"
        );
        // The statistics show the cookie's name and the servers' values (HAProxy: at the
        // operator and admin levels).
        let rows = csv_rows(&cli(&sock, "show stat"));
        let cookie_of = |px: &str, sv: &str| {
            rows.iter()
                .find(|r| r["pxname"] == px && r["svname"] == sv)
                .map(|r| r["cookie"].clone())
        };
        assert_eq!(
            (cookie_of("ins", "web2"), cookie_of("ins", "BACKEND")),
            (Some("w2".into()), Some("SRV".into())),
            "{port}"
        );
        let get = |path: &str, extra: &[&str]| send(&topo, port, "GET", path, extra);
        let mut got = Vec::new();
        // Insert mode: a client without the cookie gets one for the server that answered,
        // with every attribute; the server never sees it.
        let first = get("/", &[]);
        assert_eq!(first.status, "200", "{port}: {first:?}");
        let id = if first.server == "web1" { "w1" } else { "w2" };
        assert_eq!(
            first.set_cookie,
            [format!(
                "SRV={id}; path=/; domain=.lb.test; HttpOnly; Secure; SameSite=Lax"
            )],
            "{port}"
        );
        assert!(first.cache_control.is_empty(), "{port}: {first:?}");
        got.push(first);
        // The cookie sends the client to its server, out of the request, and no new one.
        let back = get("/", &["Cookie: a=1; SRV=w2; b=2"]);
        assert_eq!(
            (back.server.as_str(), back.set_cookie.len()),
            ("web2", 0),
            "{port}: {back:?}"
        );
        assert_eq!(back.cookie_seen, ["a=1; b=2"], "{port}");
        got.push(back);
        got.push(get("/", &["Cookie: SRV=w1"]));
        // A cookie for a down server, or for none, is balanced anew and replaced; forced, the
        // down server is used anyway (and its connection fails: 503).
        got.push(get("/", &["Cookie: SRV=d"]));
        got.push(get("/", &["Cookie: SRV=nope"]));
        let forced = get("/", &["Cookie: SRV=d", "X-Force: yes"]);
        assert_eq!(forced.status, "503", "{port}: {forced:?}");
        got.push(forced);
        // A use-server rule comes first: the cookie is unused, still taken out.
        let ruled = get("/", &["Cookie: SRV=w2; q=1", "X-Use: one"]);
        assert_eq!(
            (ruled.server.as_str(), ruled.cookie_seen.clone()),
            ("web1", vec!["q=1".to_string()]),
            "{port}"
        );
        got.push(ruled);
        // Ignored: balanced, nothing inserted, and still taken out of the request.
        let ignored = get("/", &["Cookie: SRV=w2; z=9", "X-Ignore: yes"]);
        assert!(ignored.set_cookie.is_empty(), "{port}: {ignored:?}");
        assert_eq!(ignored.cookie_seen, ["z=9"], "{port}");
        got.push(ignored);
        // The server's own cookie of that name is replaced by ours; a response a cache may
        // keep gets `Cache-Control: private` (nocache).
        let own = get("/", &["X-Reply-Header: Set-Cookie: SRV=mine; Path=/x"]);
        assert_eq!(own.set_cookie.len(), 1, "{port}: {own:?}");
        got.push(own);
        let cacheable = get("/", &["Cookie: SRV=w9", "X-Reply-Header: Cache-Control: max-age=60"]);
        assert_eq!(cacheable.cache_control, ["max-age=60", "private"], "{port}");
        got.push(cacheable);
        // Prefix: the server's cookie gets its id in front, which is taken off again.
        let pre = get("/pre", &["X-Reply-Header: Set-Cookie: JSESSIONID=abc; Path=/"]);
        let pid = if pre.server == "web1" { "w1" } else { "w2" };
        assert_eq!(pre.set_cookie, [format!("JSESSIONID={pid}~abc; Path=/")], "{port}");
        got.push(pre);
        let pre_back = get("/pre", &["Cookie: JSESSIONID=w2~xyz; k=v"]);
        assert_eq!(pre_back.server, "web2", "{port}");
        assert_eq!(pre_back.cookie_seen, ["JSESSIONID=xyz; k=v"], "{port}");
        got.push(pre_back);
        // Rewrite: the server's value becomes its id; the request's cookie goes on as it is.
        let rew = get("/rew", &["X-Reply-Header: Set-Cookie: SRV=anything; Path=/"]);
        let rid = if rew.server == "web1" { "w1" } else { "w2" };
        assert_eq!(rew.set_cookie, [format!("SRV={rid}; Path=/")], "{port}");
        got.push(rew);
        got.push(get("/rew", &["Cookie: SRV=w2"]));
        // postonly: inserted on POST only; preserve: the server's own cookie wins.
        got.push(get("/post", &[]));
        let post = send(&topo, port, "POST", "/post", &[]);
        assert_eq!(post.set_cookie.len(), 1, "{port}: {post:?}");
        got.push(post);
        got.push(send(
            &topo,
            port,
            "POST",
            "/post",
            &["X-Reply-Header: Set-Cookie: SRV=app"],
        ));
        // Dated cookies: an idle one too old is ignored.
        let dated = get("/dated", &[]);
        assert_eq!(dated.set_cookie.len(), 1, "{port}: {dated:?}");
        let v = dated.set_cookie[0].split(';').next().unwrap().to_string();
        let fields: Vec<&str> = v.trim_start_matches("SRV=").split('|').collect();
        assert!(
            fields.len() == 3 && fields[1].len() == 5 && fields[2].len() == 5,
            "{port}: {v}"
        );
        let mut stale = get("/dated", &["Cookie: SRV=w2|AAAAB|AAAAB"]);
        assert_eq!(stale.set_cookie.len(), 1, "{port}: {stale:?}");
        // The dates are now's: the two proxies are asked seconds apart.
        let (id, _) = stale.set_cookie[0].split_once('|').expect("dated");
        let (_, rest) = stale.set_cookie[0].split_once(';').expect("attributes");
        stale.set_cookie[0] = format!("{id}|DATE|DATE;{rest}");
        got.push(stale);
        // checkcache: a cacheable response with a cookie is refused, with a 502 as HAProxy's
        // documentation says. (HAProxy 2.6.12 sends its "200 OK Service ready" page instead,
        // without the server's response: counted as the same refusal here.)
        let mut blocked = get(
            "/cache",
            &[
                "X-Reply-Header: Set-Cookie: a=b",
                "X-Reply-Header: Cache-Control: public, max-age=60",
            ],
        );
        assert!(
            blocked.set_cookie.is_empty() && blocked.server.is_empty(),
            "{port}: {blocked:?}"
        );
        if port == 81 && blocked.status == "200" {
            blocked.status = "502".into();
        }
        assert_eq!(blocked.status, "502", "{port}: {blocked:?}");
        got.push(blocked);
        got.push(get("/cache", &["X-Reply-Header: Set-Cookie: a=b"]));
        // A WebSocket upgrade gets the cookie with its 101, as HAProxy inserts it there too.
        let (head, ws) = common::http::switch(&topo, &format!("192.0.2.1:{port}"), "/jar/ws");
        assert!(head.starts_with("http/1.1 101"), "{port}: {head}");
        let set: Vec<&str> = head.lines().filter(|l| l.starts_with("set-cookie:")).collect();
        assert_eq!(set.len(), 1, "{port}: {head}");
        drop(ws);
        // A cookie jar stays on one server for ten requests.
        let jar = dir.join(format!("{port}.jar"));
        let jar = jar.to_str().unwrap();
        let url = format!("http://192.0.2.1:{port}/jar");
        let servers: Vec<String> = (0..10)
            .map(|_| {
                let body = common::http::get(&topo, &url, &["-b", jar, "-c", jar]);
                values(&body, "server").join("")
            })
            .collect();
        assert!(servers.iter().all(|s| *s == servers[0]), "{port}: {servers:?}");
        // Sorted: the upgraded connection's line comes when it closes, among the others.
        let mut logs: Vec<String> = log_lines(rx, got.len() + 10 + 1 + 1)
            .into_iter()
            .map(|l| l.replace(" 200 PH--", " 502 PH--"))
            .collect();
        logs.sort();
        seen.push((got, logs));
    }
    let (cw, hap) = (&seen[0], &seen[1]);
    assert_eq!(cw.0, hap.0, "what clients and servers saw differs from HAProxy");
    assert_eq!(cw.1, hap.1, "the logs' cookie flags differ from HAProxy's");
    assert!(cw.1.iter().any(|l| l.ends_with("--VN")), "{:#?}", cw.1);
    assert!(cw.1.iter().any(|l| l.ends_with("--NI")), "{:#?}", cw.1);
    assert!(cw.1.iter().any(|l| l == "ins/web1 200 --UN"), "{:#?}", cw.1);
    assert!(cw.1.iter().any(|l| l == "cache/web1 502 PH--"), "{:#?}", cw.1);
}
