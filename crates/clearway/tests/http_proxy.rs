//! Clearway as an HTTP forward proxy, HAProxy's way (its `option-http_proxy.cfg` example)
//! side by side with HAProxy: `url_ip`/`url_port` ACLs, `http-request set-dst`,
//! `set-dst-port` and `set-uri %[pathq]` before a `0.0.0.0` server, and `http-response deny`.

mod common;
use common::http::{echo, headers, values, DEFAULTS};
use common::*;

const CONFIG: &str = "{DEFAULTS}frontend fp\n    bind 192.0.2.1:PORT\n\
    \x20   acl forbidden_dst url_ip 198.51.100.12/32\n\
    \x20   http-request deny if forbidden_dst\n\
    \x20   use_backend tp if { hdr(x-tp) yes }\n\
    \x20   default_backend next-hop\n\
    backend tp\n    option transparent\n\
    \x20   http-request set-dst url_ip\n    http-request set-dst-port url_port\n    http-request set-uri %[pathq]\n\
    backend next-hop\n\
    \x20   acl valid_method method GET\n\
    \x20   http-request deny if !valid_method\n\
    \x20   http-request set-dst url_ip\n\
    \x20   http-request set-dst-port url_port\n\
    \x20   http-request set-uri %[pathq]\n\
    \x20   http-request set-header X-Dst %[dst]:%[dst_port]\n\
    \x20   server next-hop 0.0.0.0\n\
    \x20   http-response deny if { res.hdr(x-bad) yes }\n";

/// Status, and the server, request line and `X-Dst` the server saw.
fn through(topo: &clearway_testkit::Topology, port: u16, url: &str, opts: &[&str]) -> (String, String, String, String) {
    let proxy = format!("http://192.0.2.1:{port}");
    let mut args = vec![
        "-sS",
        "--max-time",
        "10",
        "-w",
        "\nstatus=%{http_code}\n",
        "--proxy",
        proxy.as_str(),
    ];
    args.extend_from_slice(opts);
    args.push(url);
    let out = topo.client.exec("curl", &args);
    let body = String::from_utf8_lossy(&out.stdout).into_owned();
    (
        values(&body, "status").join(","),
        values(&body, "server").join(","),
        values(&body, "line").join(","),
        headers(&body, "x-dst").join(","),
    )
}

#[test]
fn a_forward_proxy_follows_the_urls_address_as_haproxy_does() {
    let Some(topo) = topology("hfwd") else { return };
    let _w1 = echo(&topo, "198.51.100.10:80", "web1");
    let _w2 = echo(&topo, "198.51.100.11:8080", "web2");
    let (_cw, _hap) = clearway_and_haproxy(&topo, &CONFIG.replace("{DEFAULTS}", DEFAULTS));
    let mut seen = Vec::new();
    for port in [80u16, 81] {
        let got = vec![
            through(&topo, port, "http://198.51.100.10/hello?x=1", &[]),
            through(&topo, port, "http://198.51.100.11:8080/other", &[]),
            // A private destination, a method the backend refuses, a response it refuses.
            through(&topo, port, "http://198.51.100.12/", &[]),
            through(&topo, port, "http://198.51.100.10/", &["-X", "DELETE"]),
            through(
                &topo,
                port,
                "http://198.51.100.10/",
                &["-H", "X-Reply-Header: X-Bad: yes"],
            ),
            // `option transparent` in a backend without servers: the same, HAProxy's old way.
            through(&topo, port, "http://198.51.100.11:8080/tp", &["-H", "X-Tp: yes"]),
        ];
        assert_eq!(
            got[0],
            (
                "200".into(),
                "web1".into(),
                "GET /hello?x=1 HTTP/1.1".into(),
                "198.51.100.10:80".into()
            ),
            "{port}"
        );
        assert_eq!(
            (got[1].1.as_str(), got[1].3.as_str()),
            ("web2", "198.51.100.11:8080"),
            "{port}"
        );
        // Two destinations over one client connection: the second must not get the first's
        // idle server connection.
        let both = through(
            &topo,
            port,
            "http://198.51.100.10/three",
            &["http://198.51.100.10/one", "http://198.51.100.11:8080/two"],
        );
        assert_eq!(both.1, "web1,web2,web1", "{port}: {both:?}");
        let statuses: Vec<&str> = got[2..5].iter().map(|g| g.0.as_str()).collect();
        assert_eq!(statuses, ["403", "403", "502"], "{port}");
        assert_eq!(
            (got[5].1.as_str(), got[5].2.as_str()),
            ("web2", "GET /tp HTTP/1.1"),
            "{port}"
        );
        // Its server connections are each client's own, as HAProxy keeps them: a second
        // client never gets the first one's.
        let conns = |_: u8| {
            let proxy = format!("http://192.0.2.1:{port}");
            let out = topo.client.exec(
                "curl",
                &[
                    "-sS",
                    "--max-time",
                    "10",
                    "--proxy",
                    &proxy,
                    "-H",
                    "X-Tp: yes",
                    "http://198.51.100.10/a",
                    "http://198.51.100.10/b",
                ],
            );
            values(&String::from_utf8_lossy(&out.stdout), "conn")
        };
        let (a, b) = (conns(1), conns(2));
        assert!(
            a.len() == 2 && b.len() == 2 && !b.iter().any(|c| a.contains(c)),
            "{port}: {a:?} {b:?}"
        );
        seen.push(got);
    }
    assert_eq!(seen[0], seen[1], "Clearway and HAProxy differ");
}

#[test]
fn option_originalto_tells_the_server_where_the_client_went_as_haproxy_does() {
    let Some(topo) = topology("horigto") else { return };
    let _w1 = echo(&topo, "198.51.100.10:80", "web1");
    let config = format!(
        "{DEFAULTS}frontend f1\n    bind 192.0.2.1:PORT\n    option originalto\n    option forwardfor\n    default_backend b1\n\
         frontend f2\n    bind 192.0.2.1:1PORT\n    option originalto except 192.0.2.0/24\n    default_backend b1\n\
         frontend f3\n    bind 192.0.2.1:2PORT\n    default_backend b2\n\
         backend b1\n    server web1 198.51.100.10:80\n\
         backend b2\n    option originalto header X-Dst\n    server web1 198.51.100.10:80\n"
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &config);
    let mut got = Vec::new();
    for (a, b, c) in [(80u16, 180u16, 280u16), (81, 181, 281)] {
        let one = |port: u16, opts: &[&str]| {
            let body = common::http::get(&topo, &format!("http://192.0.2.1:{port}/"), opts);
            ["x-original-to", "x-forwarded-for", "x-dst"]
                .iter()
                .map(|h| format!("{h}={}", headers(&body, h).join(",")))
                .collect::<Vec<_>>()
                .join(" ")
        };
        got.push(vec![one(a, &["-H", "X-Original-To: forged"]), one(b, &[]), one(c, &[])]);
    }
    assert_eq!(got[0], got[1], "Clearway, then HAProxy");
    assert_eq!(
        got[0],
        [
            "x-original-to=forged,192.0.2.1 x-forwarded-for=192.0.2.2 x-dst=",
            "x-original-to= x-forwarded-for= x-dst=",
            "x-original-to= x-forwarded-for= x-dst=192.0.2.1",
        ]
    );
}
