//! More of the differential HTTP/1 suite (see `http_desync.rs`): what a client sees of a
//! server's response framing, and how heads too large or with too many fields are refused,
//! each case sent through Clearway and through HAProxy (`/usr/sbin/haproxy`) on the same
//! config. Every difference from HAProxy is in the table, with why.

mod common;
use clearway_testkit::RecordingHttpServer;
use common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::time::Duration;

/// What a client got: each response's status, then the body as curl decodes it (or curl's
/// error when the exchange failed).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Got {
    status: String,
    body: String,
}

fn got(status: &str, body: &str) -> Got {
    Got {
        status: status.into(),
        body: body.into(),
    }
}

struct Case {
    name: &'static str,
    /// The server's whole answer, sent as is, then the server closes.
    response: &'static str,
    /// Whether the client asks with HEAD.
    head: bool,
    clearway: Got,
    /// None: HAProxy gives the same; else what it gives, and why Clearway differs.
    haproxy: Option<(Got, &'static str)>,
}

fn cases() -> Vec<Case> {
    let case = |name, response, clearway, haproxy| Case {
        name,
        response,
        head: false,
        clearway,
        haproxy,
    };
    vec![
        case("length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", got("200", "hello"), None),
        case("chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", got("200", "hello"), None),
        case("close_delimited", "HTTP/1.1 200 OK\r\n\r\nuntil the close", got("200", "until the close"), None),
        // Both lengths: the chunked framing wins and the length is not passed on.
        case("te_and_cl", "HTTP/1.1 200 OK\r\nContent-Length: 50\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", got("200", "hello"), None),
        case("cl_conflict", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", got("502", ""), None),
        case("cl_list_same", "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello", got("200", "hello"), None),
        case("te_chunked_twice", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", got("502", ""), None),
        case("te_gzip_only", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nbytes", got("502", ""), None),
        case("chunk_size_lf", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n", got("200", ""),
            Some((got("200", "hello"), "stricter: a chunk-size line must end in CRLF; the response is cut where it is malformed"))),
        case("nul_in_value", "HTTP/1.1 200 OK\r\nX: a\0b\r\nContent-Length: 2\r\n\r\nok", got("502", ""),
            Some((got("200", ""), "stricter: a NUL in a field value is refused (RFC 9110 5.5); HAProxy passes the head on and loses the body"))),
        case("space_before_colon", "HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok", got("502", ""), None),
        case("no_content_with_body", "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello", got("204", ""), None),
        case("interim_then_final", "HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", got("200", "ok"), None),
        case("http10_response", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", got("200", "ok"), None),
        // A transfer coding in HTTP/1.0 is faulty framing (RFC 9112 6.1): read as chunked.
        case("http10_chunked", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", got("200", "hello"), None),
        case("bad_status", "HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\nok", got("502", ""),
            Some((got("curl error 1", ""), "stricter: a status code outside 100-599 gets 502; HAProxy passes it on and the client cannot read it"))),
        Case {
            name: "head_with_length",
            response: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
            head: true,
            clearway: got("200", ""),
            haproxy: None,
        },
    ]
}

/// One response at a time: each connection gets the answer its request's path names
/// (`/N`: case N), then is closed.
fn scripted_server(ns: &clearway_testkit::Netns, answers: Vec<&'static str>) {
    let listener = ns
        .enter(|| std::net::TcpListener::bind("198.51.100.10:80"))
        .expect("bind");
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let answers = answers.clone();
            std::thread::spawn(move || {
                let mut r = BufReader::new(conn.try_clone().expect("clone"));
                let mut line = String::new();
                let _ = r.read_line(&mut line);
                let n: usize = line
                    .split_whitespace()
                    .nth(1)
                    .and_then(|t| t.trim_start_matches('/').parse().ok())
                    .unwrap_or(usize::MAX);
                loop {
                    let mut l = String::new();
                    if r.read_line(&mut l).unwrap_or(0) == 0 || l == "\r\n" {
                        break;
                    }
                }
                let mut conn = conn;
                if let Some(a) = answers.get(n) {
                    let _ = conn.write_all(a.as_bytes());
                }
                let _ = conn.shutdown(std::net::Shutdown::Both);
            });
        }
    });
}

fn curl(topo: &clearway_testkit::Topology, url: &str, head: bool) -> Got {
    let mut args = vec!["-s", "--max-time", "5", "-w", "\n%{http_code}"];
    if head {
        args.push("-I");
    }
    args.push(url);
    let out = topo.client.exec("curl", &args);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').unwrap_or(("", &text));
    // A HEAD's "body" is the head curl printed, an error's is the proxy's error page: only
    // the status counts.
    let body = if head || !status.starts_with('2') {
        String::new()
    } else {
        body.to_string()
    };
    let status = match (status, out.status.code()) {
        ("000", code) => format!("curl error {}", code.unwrap_or(-1)),
        (s, _) => s.to_string(),
    };
    Got { status, body }
}

#[test]
fn response_framing_against_clearway_and_haproxy() {
    let Some(topo) = topology("hdr") else { return };
    let table = cases();
    scripted_server(&topo.server, table.iter().map(|c| c.response).collect());
    let (_cw, _hap) = clearway_and_haproxy(&topo, HTTP_PORT_CONFIG);
    let mut wrong = Vec::new();
    for (i, c) in table.iter().enumerate() {
        let cw = curl(&topo, &format!("http://192.0.2.1:80/{i}"), c.head);
        if cw != c.clearway {
            wrong.push(format!("{}: Clearway {cw:?}, wanted {:?}", c.name, c.clearway));
        }
        let hap_want = c.haproxy.as_ref().map_or(&c.clearway, |(g, _)| g);
        let hap = curl(&topo, &format!("http://192.0.2.1:81/{i}"), c.head);
        if &hap != hap_want {
            wrong.push(format!("{}: HAProxy {hap:?}, the table says {hap_want:?}", c.name));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} cases:\n{}",
        wrong.len(),
        table.len(),
        wrong.join("\n")
    );
}

/// The statuses a raw request gets, reading until the proxy closes.
fn statuses(topo: &clearway_testkit::Topology, to: &str, req: &[u8]) -> Vec<u16> {
    let to = addr(to);
    let mut c = topo
        .client
        .enter(move || std::net::TcpStream::connect_timeout(&to, Duration::from_secs(5)))
        .expect("connect");
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = c.write_all(req);
    let mut got = Vec::new();
    let _ = c.read_to_end(&mut got);
    String::from_utf8_lossy(&got)
        .match_indices("HTTP/1.")
        .filter_map(|(i, _)| std::str::from_utf8(&got[i + 9..i + 12]).ok()?.parse().ok())
        .collect()
}

#[test]
fn heads_too_large_or_with_too_many_fields_against_clearway_and_haproxy() {
    let Some(topo) = topology("hdz") else { return };
    let srv = RecordingHttpServer::start(&topo.server, addr("198.51.100.10:80"));
    let (_cw, _hap) = clearway_and_haproxy(&topo, HTTP_PORT_CONFIG);
    let fields = |n: usize| (0..n).map(|i| format!("X-F{i}: v\r\n")).collect::<String>();
    let req = |target: &str, extra: &str| {
        format!("GET {target} HTTP/1.1\r\nHost: x\r\n{extra}Connection: close\r\n\r\n").into_bytes()
    };
    let long = format!("/{}", "a".repeat(20_000));
    // Both refuse the same heads; Clearway says why with RFC 9110's 414 and RFC 6585's 431
    // where HAProxy answers 400 to all.
    // (name, request, Clearway's statuses, HAProxy's)
    type Row = (&'static str, Vec<u8>, Vec<u16>, Vec<u16>);
    let table: Vec<Row> = vec![
        ("uri_20k", req(&long, ""), vec![414], vec![400]),
        (
            "head_20k",
            req("/", &format!("X-Big: {}\r\n", "b".repeat(20_000))),
            vec![431],
            vec![400],
        ),
        ("fields_99", req("/", &fields(99)), vec![200], vec![200]),
        ("fields_120", req("/", &fields(120)), vec![431], vec![400]),
    ];
    let mut wrong = Vec::new();
    for (name, r, cw_want, hap_want) in &table {
        let cw = statuses(&topo, "192.0.2.1:80", r);
        if &cw != cw_want {
            wrong.push(format!("{name}: Clearway {cw:?}, wanted {cw_want:?}"));
        }
        let hap = statuses(&topo, "192.0.2.1:81", r);
        if &hap != hap_want {
            wrong.push(format!("{name}: HAProxy {hap:?}, the table says {hap_want:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // Refused heads never reached the server; the accepted ones did, once per proxy.
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(srv.count(), 2, "{:?}", srv.take());
}

#[test]
fn tune_http_maxhdr_counts_fields_as_haproxy_does() {
    let Some(topo) = topology("hdm") else { return };
    let _srv = common::http::echo(&topo, "198.51.100.10:80", "web1");
    let cfg = format!("global\n    tune.http.maxhdr 10\n{HTTP_PORT_CONFIG}");
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    let fields = |n: usize, name: &str| (0..n).map(|i| format!("{name}{i}: v\r\n")).collect::<String>();
    let req = |extra: &str| format!("GET / HTTP/1.1\r\nHost: x\r\n{extra}Connection: close\r\n\r\n").into_bytes();
    // 10 counts the start line: 9 fields (Host and 8 more); `Connection: close`, and a
    // repeated Host or Content-Length of the same value, are not counted. A response with
    // more (the echo server sends 3 of its own) is a 502. Clearway answers 431 where HAProxy
    // answers 400.
    type Row = (&'static str, Vec<u8>, Vec<u16>, Vec<u16>);
    let table: Vec<Row> = vec![
        ("fields_9", req(&fields(8, "X-F")), vec![200], vec![200]),
        ("fields_10", req(&fields(9, "X-F")), vec![431], vec![400]),
        (
            "same_host_twice",
            req(&format!("{}Host: x\r\n", fields(8, "X-F"))),
            vec![200],
            vec![200],
        ),
        (
            "response_9",
            req(&fields(6, "X-Reply-Header: X-R")),
            vec![200],
            vec![200],
        ),
        (
            "response_10",
            req(&format!(
                "{}X-Reply-Header: X-R6: 1\r\n",
                fields(6, "X-Reply-Header: X-R")
            )),
            vec![502],
            vec![502],
        ),
    ];
    let mut wrong = Vec::new();
    for (name, r, cw_want, hap_want) in &table {
        for (port, want) in [(80, cw_want), (81, hap_want)] {
            let got = statuses(&topo, &format!("192.0.2.1:{port}"), r);
            if &got != want {
                wrong.push(format!("{name}: port {port} {got:?}, wanted {want:?}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn tune_bufsize_and_maxrewrite_set_the_largest_head_as_in_haproxy() {
    let Some(topo) = topology("hdt") else { return };
    let srv = RecordingHttpServer::start(&topo.server, addr("198.51.100.10:80"));
    let req = |extra: usize| {
        format!(
            "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
            "b".repeat(extra)
        )
        .into_bytes()
    };
    // (global lines, header value length, accepted)
    let cases = [
        ("    tune.bufsize 32768\n", 20_000, true),
        ("    tune.bufsize 32768\n", 40_000, false),
        ("    tune.maxrewrite 8192\n", 6_000, true),
        ("    tune.maxrewrite 8192\n", 10_000, false),
        // At most half the buffer is kept for rewrites.
        ("    tune.bufsize 20000\n    tune.maxrewrite 15000\n", 9_000, true),
    ];
    for (global, len, accepted) in cases {
        let cfg = format!("global\n{global}{HTTP_PORT_CONFIG}");
        let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
        let (cw, hap) = (
            statuses(&topo, "192.0.2.1:80", &req(len)),
            statuses(&topo, "192.0.2.1:81", &req(len)),
        );
        let want = |ok| if accepted { vec![200] } else { vec![ok] };
        assert_eq!((cw, hap), (want(431), want(400)), "{global} {len}");
    }
    assert!(srv.count() > 0);
}

#[test]
fn an_http2_authority_that_differs_from_host_wins_as_in_haproxy() {
    let Some(topo) = topology("hda") else { return };
    let srv = RecordingHttpServer::start(&topo.server, addr("198.51.100.10:80"));
    let (_cw, _hap) = clearway_and_haproxy(&topo, HTTP_PORT_CONFIG);
    // HTTP/2 from the first byte (prior knowledge), `:authority` a and a `host` field b:
    // RFC 9113 8.3.1 makes the authority the request's host, for the rules and the server.
    for port in [80, 81] {
        srv.take();
        let out = topo.client.exec(
            "nghttp",
            &[
                "-H",
                ":authority: a.example",
                "-H",
                "host: b.example",
                &format!("http://192.0.2.1:{port}/p"),
            ],
        );
        assert!(
            out.status.success(),
            "port {port}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(srv.take(), ["GET /p host=a.example body="], "port {port}");
    }
}

#[test]
fn default_ports_and_the_http2_scheme_as_in_haproxy() {
    let Some(topo) = topology("hdp") else { return };
    // `a` is what the tests send to; `b` (HTTP/2 behind `a`) answers with the target it got.
    let cfg = "defaults\n    mode http\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n\
         frontend a\n    bind 192.0.2.1:PORT\n    default_backend to_b\n\
         backend to_b\n    server b 192.0.2.1:1PORT proto h2\n\
         frontend b\n    bind 192.0.2.1:1PORT proto h2\n\
         \x20   http-request return status 200 content-type text/plain lf-string \"%[url] %[req.hdr(host)]\"\n";
    let (_cw, _hap) = clearway_and_haproxy(&topo, cfg);
    let run = |cmd: &str, args: &[&str]| {
        let out = topo.client.exec(cmd, args);
        assert!(
            out.status.success(),
            "{cmd} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    for port in [80, 81] {
        // An origin-form HTTP/1.1 request reaches an HTTP/2 server with `:scheme https`,
        // whatever the connections (what browsers send, what HAProxy sends). Clearway names
        // the host in `:authority` (RFC 9113 8.3.1), where HAProxy keeps a `host` field and
        // sends no authority: the server's host is the same, its `url` differs.
        let url = format!("http://192.0.2.1:{port}/p");
        let got = run("curl", &["-sS", "--max-time", "5", &url]);
        let want = match port {
            80 => "https://192.0.2.1/p 192.0.2.1",
            _ => "/p 192.0.2.1:81",
        };
        assert_eq!(got, want, "port {port}");
        // An absolute target keeps its scheme and loses its default port, Host with it
        // (RFC 3986 6.3.2).
        let got = run(
            "curl",
            &[
                "-sS",
                "--max-time",
                "5",
                "--request-target",
                "http://x.example:80/q",
                "-H",
                "Host: x.example:80",
                &url,
            ],
        );
        assert_eq!(got, "http://x.example/q x.example", "port {port}");
        // HTTP/2 clients: `:authority` with the scheme's default port, or another one.
        for (auth, want) in [
            ("y.example:80", "http://y.example/r y.example"),
            ("y.example:8080", "http://y.example:8080/r y.example:8080"),
        ] {
            let got = run(
                "nghttp",
                &[
                    "-H",
                    &format!(":authority: {auth}"),
                    &format!("http://192.0.2.1:{port}/r"),
                ],
            );
            assert_eq!(got, want, "port {port} {auth}");
        }
    }
}

#[test]
fn a_head_sent_on_as_a_get_gets_no_body_and_keeps_its_server_connection_as_in_haproxy() {
    let Some(topo) = topology("hdh") else { return };
    let _srv = common::http::echo(&topo, "198.51.100.10:80", "s1");
    // http_bodyless_response.vtc's case: the server answers the GET it got with a body,
    // which the client, who asked HEAD, must not get, over HTTP/1.1 or HTTP/2.
    let cfg =
        format!(
        "{}frontend h2\n    bind 192.0.2.1:1PORT proto h2\n    http-request set-method GET\n    default_backend bk\n",
        HTTP_PORT_CONFIG.replace("default_backend bk", "http-request set-method GET\n    default_backend bk")
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    for (port, h2) in [(80, 180), (81, 181)] {
        let mut s = connect(&topo, &format!("192.0.2.1:{port}"));
        s.write_all(b"HEAD /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        // Read until the proxy closes after the second answer (no half-close before: HAProxy
        // may drop a pipelined request once the client has shut its side).
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        let (first, rest) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
        assert!(first.starts_with("HTTP/1.1 200"), "port {port}: {out}");
        // Nothing between the HEAD's answer and the next one, which came on the same server
        // connection.
        assert!(rest.starts_with("HTTP/1.1 200"), "port {port}: {out}");
        assert!(rest.contains("\nreq=2\nline=GET /b HTTP/1.1\n"), "port {port}: {out}");
        let out = topo.client.exec(
            "nghttp",
            &["-v", "-H", ":method: HEAD", &format!("http://192.0.2.1:{h2}/c")],
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(":status: 200"), "port {h2}: {text}");
        assert!(
            !text.contains("recv DATA frame <length=") || text.contains("recv DATA frame <length=0,"),
            "port {h2}: {text}"
        );
    }
}
