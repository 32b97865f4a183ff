//! `compression` side by side with HAProxy: which responses are compressed (the algorithm
//! the client accepts, the content types listed, 200 to 203 only, not HEAD, not already
//! encoded, not `no-transform`), the headers of a compressed response, `offload`, and the
//! body curl decodes being the server's.

mod common;
use common::http::{echo, headers, DEFAULTS};
use common::*;

const CONFIG: &str = "{DEFAULTS}frontend fe\n    bind 192.0.2.1:PORT\n\
    \x20   compression algo gzip deflate\n    compression type text/plain text/css\n\
    \x20   use_backend off if { path_beg /off }\n    use_backend json if { path_beg /json }\n\
    \x20   default_backend be\n\
    backend be\n    server web1 198.51.100.10:80\n\
    backend off\n    compression algo gzip\n    compression offload\n    server web1 198.51.100.10:80\n\
    backend json\n    compression algo gzip\n    compression type application/json\n    server web1 198.51.100.10:80\n";

/// What the client got: the status, the headers compression touches, and the body curl
/// decoded (`--compressed` when `decode`), with the server's view of `Accept-Encoding`.
fn fetch(topo: &clearway_testkit::Topology, port: u16, path: &str, opts: &[&str]) -> Vec<String> {
    let url = format!("http://192.0.2.1:{port}{path}");
    let mut args = vec!["-sS", "-i", "--max-time", "10"];
    args.extend_from_slice(opts);
    args.push(&url);
    let out = topo.client.exec("curl", &args);
    let text = String::from_utf8_lossy(&out.stdout).replace('\r', "");
    let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
    let mut got = vec![head.lines().next().unwrap_or("").to_string()];
    for name in ["content-encoding", "vary", "content-length", "transfer-encoding"] {
        let v: Vec<&str> = head
            .lines()
            .filter_map(|l| l.split_once(':'))
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
            .collect();
        // A length's value differs with the port in the echoed Host.
        let v = if name == "content-length" && !v.is_empty() {
            vec!["set"]
        } else {
            v
        };
        got.push(format!("{name}={}", v.join(",")));
    }
    got.push(format!("server-saw-ae={}", headers(body, "accept-encoding").join(",")));
    got.push(format!(
        "decoded-line={}",
        body.lines().find(|l| l.starts_with("line=")).unwrap_or("")
    ));
    got
}

#[test]
fn responses_are_compressed_as_haproxy_compresses_them() {
    let Some(topo) = topology("comp") else { return };
    let _w = echo(&topo, "198.51.100.10:80", "web1");
    let (_cw, _hap) = clearway_and_haproxy(&topo, &CONFIG.replace("{DEFAULTS}", DEFAULTS));
    let mut seen = Vec::new();
    for port in [80u16, 81] {
        let gz: &[&str] = &["--compressed"];
        let cases: Vec<(&str, Vec<&str>)> = vec![
            ("/a", gz.to_vec()),
            (
                "/a",
                vec!["-H", "Accept-Encoding: gzip;q=0.9, deflate;q=0.5", "--compressed"],
            ),
            ("/a", vec!["-H", "Accept-Encoding: br"]),
            ("/a", vec![]),
            ("/a", vec!["-I", "--compressed"]),
            ("/chunked", gz.to_vec()),
            (
                "/a",
                vec!["--compressed", "-H", "X-Reply-Header: Cache-Control: no-transform"],
            ),
            (
                "/a",
                vec!["--compressed", "-H", "X-Reply-Header: Content-Encoding: identity"],
            ),
            ("/off", gz.to_vec()),
            ("/json", gz.to_vec()),
            (
                "/a",
                vec!["--compressed", "-H", "User-Agent: Mozilla/4.0 (compatible; old)"],
            ),
            ("/a", vec!["--compressed", "--http1.0"]),
        ];
        let got: Vec<Vec<String>> = cases.iter().map(|(p, o)| fetch(&topo, port, p, o)).collect();
        seen.push(got);
    }
    let cw = &seen[0];
    // curl offers "deflate, gzip, ...": the first of equal weight.
    assert_eq!(cw[0][1], "content-encoding=deflate", "{:?}", cw[0]);
    assert_eq!(cw[0][2], "vary=Accept-Encoding", "{:?}", cw[0]);
    assert_eq!(cw[0][3], "content-length=", "{:?}", cw[0]);
    assert_eq!(cw[0][6], "decoded-line=line=GET /a HTTP/1.1", "{:?}", cw[0]);
    assert_eq!(cw[1][1], "content-encoding=gzip", "{:?}", cw[1]);
    assert_eq!(cw[2][1], "content-encoding=", "{:?}", cw[2]);
    assert_eq!(cw[8][5], "server-saw-ae=", "offload: {:?}", cw[8]);
    assert_eq!(cw[9][1], "content-encoding=", "type not listed: {:?}", cw[9]);
    // An HTTP/1.0 request goes to the server in HTTP/1.0, as HAProxy forwards it.
    assert_eq!(cw[11][6], "decoded-line=line=GET /a HTTP/1.0", "{:?}", cw[11]);
    for (i, (a, b)) in seen[0].iter().zip(&seen[1]).enumerate() {
        assert_eq!(a, b, "case {i}: Clearway, then HAProxy");
    }
}
