//! HTTP authentication side by side with HAProxy: `userlist` sections (passwords in clear
//! and crypt(3) hashes from `openssl passwd`), the `http_auth` and `http_auth_group` ACLs,
//! `http-request auth [realm]` (401, or 407 to a proxy request with `option
//! http-use-proxy-header`), `http_auth_user` in a header, and a statistics page behind
//! `stats http-request auth`.

mod common;
use common::http::{echo, headers, DEFAULTS};
use common::*;

const CONFIG: &str = "userlist users\n    group admins users boss\n    group devs\n\
    \x20   user scott insecure-password cat groups devs\n\
    \x20   user boss password $6$Q9n3$RgzwzMBnQZY8YFuuwLG61tOlO7hc85TbEReqBitz/Cw9y6d4vWeFAKGcqYqVJbh5kOL3DtUR06OXCj7gukn/0.\n\
    \x20   user ann password $5$Q9n3$r.0CUREM0xxz9qdSAlvrRjA5VvU96TI8XTSFPTJzaeB groups devs\n\
    \x20   user old password $1$Q9n3$ASY4m/tCLcB09miyUQuiJ0\n\
    {DEFAULTS}\
    frontend ft\n    bind 192.0.2.1:PORT\n\
    \x20   acl admin http_auth_group(users) admins\n\
    \x20   acl dev http_auth_group(users) devs\n\
    \x20   acl known http_auth(users)\n\
    \x20   http-request auth realm Admin if { path_beg /admin } !admin\n\
    \x20   http-request auth if { path_beg /dev } !dev\n\
    \x20   http-request auth unless known\n\
    \x20   http-request set-header X-User %[http_auth_user]\n\
    \x20   http-request set-header X-Auth-Type %[http_auth_type]\n\
    \x20   default_backend bk\n\
    frontend px\n    bind 192.0.2.1:1PORT\n    option http-use-proxy-header\n\
    \x20   http-request auth unless { http_auth(users) }\n    default_backend bk\n\
    backend bk\n    server web1 198.51.100.10:80\n\
    listen stats\n    bind 192.0.2.1:2PORT\n    stats enable\n    stats uri /\n\
    \x20   acl ok http_auth(users)\n    stats http-request auth unless ok\n";

/// Status, the authenticate header's value, and the `X-User` the server saw.
fn ask_with(topo: &clearway_testkit::Topology, url: &str, opts: &[&str]) -> (String, String, String) {
    let mut args = vec!["-sS", "--max-time", "10", "-D", "-"];
    args.extend_from_slice(opts);
    args.push(url);
    let out = topo.client.exec("curl", &args);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split(' ').nth(1).unwrap_or("").to_string();
    let challenge = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.eq_ignore_ascii_case("www-authenticate") || k.eq_ignore_ascii_case("proxy-authenticate"))
        .map(|(k, v)| format!("{}: {}", k.to_ascii_lowercase(), v.trim()))
        .unwrap_or_default();
    let user = headers(body, "x-user").join(",") + "/" + &headers(body, "x-auth-type").join(",");
    (status, challenge, user)
}

#[test]
fn userlists_authenticate_requests_and_statistics_as_haproxy_does() {
    let Some(topo) = topology("hauth") else { return };
    let _w1 = echo(&topo, "198.51.100.10:80", "web1");
    let (_cw, _hap) = clearway_and_haproxy(&topo, &CONFIG.replace("{DEFAULTS}", DEFAULTS));
    let mut seen = Vec::new();
    for port in [80u16, 81] {
        let url = |p: &str| format!("http://192.0.2.1:{port}{p}");
        let ask = |p: &str, opts: &[&str]| ask_with(&topo, &url(p), opts);
        let mut got = vec![
            ask("/", &[]),
            ask("/", &["-u", "scott:cat"]),
            ask("/", &["-u", "scott:dog"]),
            ask("/", &["-u", "boss:secret"]),
            ask("/", &["-u", "ann:hunter2"]),
            ask("/", &["-u", "old:md5pass"]),
            // (A user without a password never authenticates here; HAProxy 2.6.12 crashes on
            // one, so that case is a unit test: `http::auth`.)
            ask("/", &["-u", "nobody:x"]),
            ask("/", &["-H", "Authorization: Bearer abc"]),
            ask("/admin", &["-u", "scott:cat"]),
            ask("/admin", &["-u", "boss:secret"]),
            ask("/dev", &["-u", "ann:hunter2"]),
            ask("/dev", &["-u", "boss:secret"]),
        ];
        // A proxy request asks with a 407 and reads Proxy-Authorization.
        let proxy = format!("http://192.0.2.1:1{port}");
        let proxied = |opts: &[&str]| {
            let mut o = vec!["--proxy", proxy.as_str()];
            o.extend_from_slice(opts);
            ask_with(&topo, "http://origin.test/", &o)
        };
        got.push(proxied(&[]));
        got.push(proxied(&["--proxy-user", "scott:cat"]));
        got.push(proxied(&["-u", "scott:cat"]));
        // The statistics page.
        let stats = |opts: &[&str]| {
            let (status, challenge, _) = ask_with(&topo, &format!("http://192.0.2.1:2{port}/;csv"), opts);
            (status, challenge, String::new())
        };
        got.push(stats(&[]));
        got.push(stats(&["-u", "boss:secret"]));
        seen.push(got);
    }
    let (cw, hap) = (&seen[0], &seen[1]);
    let expect = |i: usize, status: &str, challenge: &str, user: &str| {
        assert_eq!(
            (cw[i].0.as_str(), cw[i].1.as_str(), cw[i].2.as_str()),
            (status, challenge, user),
            "request {i}: {cw:#?}"
        );
    };
    expect(0, "401", "www-authenticate: Basic realm=\"ft\"", "/");
    expect(1, "200", "", "scott/Basic");
    expect(2, "401", "www-authenticate: Basic realm=\"ft\"", "/");
    expect(3, "200", "", "boss/Basic");
    expect(4, "200", "", "ann/Basic");
    expect(5, "200", "", "old/Basic");
    expect(6, "401", "www-authenticate: Basic realm=\"ft\"", "/");
    expect(8, "401", "www-authenticate: Basic realm=\"Admin\"", "/");
    expect(9, "200", "", "boss/Basic");
    expect(12, "407", "proxy-authenticate: Basic realm=\"px\"", "/");
    expect(15, "401", "www-authenticate: Basic realm=\"HAProxy Statistics\"", "");
    expect(16, "200", "", "");
    assert_eq!(cw, hap, "what clients and servers saw differs from HAProxy");
}
