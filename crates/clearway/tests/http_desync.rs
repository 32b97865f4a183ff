//! The differential HTTP/1 conformance suite: raw requests from the usual request-smuggling
//! catalogue (CL.TE, TE.CL, Transfer-Encoding obfuscations, bad chunk lines, Host tricks,
//! malformed heads) sent to Clearway and to HAProxy (Debian's binary) on the same config,
//! side by side, through the same recording server. Each case states what Clearway must do
//! (the statuses the client gets, the requests the server receives) and what HAProxy does:
//! the same, or a difference with the reason it is one (stricter, or normalised). A chain
//! test puts a front proxy that frames by Content-Length before Clearway and proves that no
//! smuggled request reaches the server.

mod common;
use clearway_testkit::RecordingHttpServer;
use common::*;
use std::io::{Read, Write};
use std::time::Duration;

/// What one side does with a case: the statuses of the responses the client reads, in
/// order, and the requests the server records (`METHOD TARGET host=HOST body=BODY`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    statuses: Vec<u16>,
    server: Vec<String>,
}

/// What HAProxy does with a case.
enum Hap {
    Same,
    /// Another outcome, and why Clearway's is the one wanted.
    Differs(&'static [u16], &'static [&'static str], &'static str),
}

struct Case {
    name: &'static str,
    req: &'static str,
    status: &'static [u16],
    server: &'static [&'static str],
    hap: Hap,
}

use Hap::*;

const NONE: &[&str] = &[];

fn case(
    name: &'static str,
    req: &'static str,
    status: &'static [u16],
    server: &'static [&'static str],
    hap: Hap,
) -> Case {
    Case {
        name,
        req,
        status,
        server,
        hap,
    }
}

/// The catalogue. Requests end with `Connection: close` where the connection would
/// otherwise stay open, so every exchange ends with the proxy's close.
fn cases() -> Vec<Case> {
    const STRICT_LF: &str = "stricter: a chunk line must end in CRLF (a bare LF is read differently by other parsers)";
    vec![
        // Request smuggling through two lengths: the chunked framing wins, and the
        // connection closes after the response (RFC 9112, 6.1), so what a Content-Length
        // front took for the body is never read as a request.
        case("te_and_cl", "POST /t HTTP/1.1\r\nHost: x\r\nContent-Length: 46\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /SMUGGLED HTTP/1.1\r\nHost: x\r\n\r\n",
            &[200], &["POST /t host=x body="], Same),
        case("cl_and_te", "POST /t HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\nGET /SMUGGLED HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            &[200], &["POST /t host=x body="], Same),
        case("te_and_bad_cl", "POST /t HTTP/1.1\r\nHost: x\r\nContent-Length: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /SMUGGLED HTTP/1.1\r\nHost: x\r\n\r\n",
            &[400], NONE, Same),
        // Transfer-Encoding obfuscations.
        case("te_twice", "POST /t HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n", &[400], NONE, Same),
        case("te_chunked_chunked", "POST /t HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\nConnection: close\r\n\r\n0\r\n\r\n", &[400], NONE, Same),
        case("te_gzip_chunked", "POST /t HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n0\r\n\r\n", &[422], NONE, Same),
        case("te_gzip", "POST /t HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\nConnection: close\r\n\r\n", &[400], NONE, Same),
        case("te_chunked_gzip", "POST /t HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\nConnection: close\r\n\r\n0\r\n\r\n", &[400], NONE, Same),
        case("te_identity", "POST /t HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\nConnection: close\r\n\r\n", &[400], NONE, Same),
        case("te_xchunked", "POST /t HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\nConnection: close\r\n\r\n0\r\n\r\n", &[400], NONE, Same),
        case("te_upper_case", "POST /t HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: CHUNKED\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n", &[200], &["POST /t host=x body=abc"], Same),
        case("te_tabs", "POST /t HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\tchunked\t\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n", &[200], &["POST /t host=x body=abc"], Same),
        case("te_space_before_colon", "POST /t HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\nConnection: close\r\n\r\n0\r\n\r\n", &[400], NONE, Same),
        case("te_folded", "POST /t HTTP/1.1\r\nHost: x\r\nX: y\r\n Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n", &[400], NONE,
            Differs(&[200], &["POST /t host=x body="], "stricter: a folded line (obs-fold) is refused, which RFC 9112 5.2 allows; HAProxy unfolds it")),
        case("te_first_line_indented", "POST /t HTTP/1.1\r\n Transfer-Encoding: chunked\r\nHost: x\r\nConnection: close\r\n\r\n", &[400], NONE, Same),
        case("te_in_http10", "POST /t HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", &[200], &["POST /t host=x body=abc"], Same),
        case("te_in_http10_kept_alive", "POST /t HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /SMUGGLED HTTP/1.0\r\nHost: x\r\n\r\n",
            &[200], &["POST /t host=x body=abc"], Same),
        // Content-Length.
        case("cl_conflict", "POST /t HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\nConnection: close\r\n\r\nabcd", &[400], NONE, Same),
        case("cl_list_same", "POST /t HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\nConnection: close\r\n\r\nabc", &[200], &["POST /t host=x body=abc"], Same),
        case("cl_twice_same", "POST /t HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc", &[200], &["POST /t host=x body=abc"], Same),
        case("cl_plus", "POST /t HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\nConnection: close\r\n\r\nabc", &[400], NONE, Same),
        case("cl_hex", "POST /t HTTP/1.1\r\nHost: x\r\nContent-Length: 0x3\r\nConnection: close\r\n\r\nabc", &[400], NONE, Same),
        case("cl_trailing_blank", "POST /t HTTP/1.1\r\nHost: x\r\nContent-Length: 3 \r\nConnection: close\r\n\r\nabc", &[200], &["POST /t host=x body=abc"], Same),
        // Chunk lines.
        case("chunk_ext_with_lf", "POST /t HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3;a=b\nhello\r\nabc\r\n0\r\n\r\n", &[400], NONE, Same),
        case("chunk_ext_quoted", "POST /t HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3;a=b;c=\"d\"\r\nabc\r\n0\r\n\r\n", &[200], &["POST /t host=x body=abc"], Same),
        case("chunk_size_blank", "POST /t HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3 \r\nabc\r\n0\r\n\r\n", &[200], &["POST /t host=x body=abc"], Same),
        case("chunk_size_lf", "POST /t HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\nabc\r\n0\r\n\r\n", &[400], NONE,
            Differs(&[200], &["POST /t host=x body=abc"], STRICT_LF)),
        case("chunk_data_lf", "POST /t HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\n0\r\n\r\n", &[400], NONE,
            Differs(&[200], &["POST /t host=x body=abc"], STRICT_LF)),
        case("chunk_size_zero_padded", "POST /t HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n00000000000000000003\r\nabc\r\n0\r\n\r\n", &[200], &["POST /t host=x body=abc"], Same),
        case("chunk_size_overflow", "POST /t HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n10000000000000003\r\nabc\r\n0\r\n\r\n", &[400], NONE, Same),
        case("chunk_size_negative", "POST /t HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n-3\r\nabc\r\n0\r\n\r\n", &[400], NONE, Same),
        case("chunk_size_0x", "POST /t HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0x3\r\nabc\r\n0\r\n\r\n", &[400], NONE, Same),
        case("chunk_trailers", "POST /t HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n", &[200], &["POST /t host=x body=abc"], Same),
        // Host.
        case("host_twice_differs", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n", &[400], NONE, Same),
        case("host_twice_same", "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\nConnection: close\r\n\r\n", &[200], &["GET / host=a body="], Same),
        case("host_missing", "GET / HTTP/1.1\r\nConnection: close\r\n\r\n", &[200], &["GET / host=- body="], Same),
        case("absolute_host_differs", "GET http://a/p HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n", &[400], NONE, Same),
        case("absolute_same_host", "GET http://a/p HTTP/1.1\r\nHost: A\r\nConnection: close\r\n\r\n", &[200], &["GET /p host=A body="],
            Differs(&[200], &["GET http://a/p host=A body="], "normalised: the server gets the path (origin form, RFC 9112 3.2.1), the host in Host")),
        case("absolute_no_host", "GET http://a/p HTTP/1.1\r\nConnection: close\r\n\r\n", &[200], &["GET /p host=a body="],
            Differs(&[200], &["GET http://a/p host=- body="], "normalised: the server gets the path, and the target's host as Host")),
        case("absolute_default_port", "GET https://a:443/p HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", &[200], &["GET /p host=a body="],
            Differs(&[200], &["GET https://a/p host=a body="], "normalised: the server gets the path")),
        case("absolute_query_only", "GET http://a?q=1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", &[400], NONE, Same),
        case("absolute_no_path", "GET http://a HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", &[200], &["GET / host=a body="],
            Differs(&[200], &["GET http://a host=a body="], "normalised: the server gets the path, / for an empty one (RFC 9112 3.2.1)")),
        case("absolute_userinfo", "GET http://u@a/p HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", &[400], NONE,
            Differs(&[200], &["GET http://u@a/p host=a body="], "stricter: user information in a target is refused (RFC 9110 4.2.4)")),
        // Heads.
        case("nul_in_name", "GET / HTTP/1.1\r\nHost: x\r\nX\0Y: 1\r\nConnection: close\r\n\r\n", &[400], NONE, Same),
        case("nul_in_value", "GET / HTTP/1.1\r\nHost: x\r\nX: a\0b\r\nConnection: close\r\n\r\n", &[400], NONE,
            Differs(&[200], &["GET / host=x body="], "stricter: a NUL in a field value is refused (RFC 9110 5.5)")),
        case("cr_in_value", "GET / HTTP/1.1\r\nHost: x\r\nX: a\rb\r\nConnection: close\r\n\r\n", &[400], NONE, Same),
        case("space_in_name", "GET / HTTP/1.1\r\nHost: x\r\nX Y: 1\r\nConnection: close\r\n\r\n", &[400], NONE, Same),
        case("empty_name", "GET / HTTP/1.1\r\nHost: x\r\n: 1\r\nConnection: close\r\n\r\n", &[400], NONE, Same),
        case("lf_line_ends", "GET / HTTP/1.1\nHost: x\nConnection: close\n\n", &[200], &["GET / host=x body="], Same),
        case("request_line_two_spaces", "GET  / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &[400], NONE,
            Differs(&[200], &["GET / host=x body="], "stricter: one space between the request line's parts (RFC 9112 3)")),
        case("version_1_2", "GET / HTTP/1.2\r\nHost: x\r\nConnection: close\r\n\r\n", &[400], NONE,
            Differs(&[200], &["GET / host=x body="], "stricter: only HTTP/1.0 and HTTP/1.1 are read as HTTP/1")),
        case("version_lower_case", "GET / http/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &[400], NONE, Same),
        case("http09", "GET /\r\n\r\n", &[400], NONE, Same),
        case("bad_method", "G@T / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &[400], NONE, Same),
        case("space_in_target", "GET /a b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &[400], NONE, Same),
        case("del_in_target", "GET /\x7f HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &[400], NONE, Same),
        case("fragment_in_target", "GET /a#f HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &[400], NONE, Same),
        case("relative_target", "GET p HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &[400], NONE, Same),
        case("options_asterisk", "OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &[200], &["OPTIONS * host=x body="], Same),
        case("connect", "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\nConnection: close\r\n\r\n", &[501], NONE,
            Differs(&[200], &["CONNECT a:443 host=a body="], "Clearway tunnels no CONNECT to a server (a reverse proxy's servers do not expect one): 501")),
        case("expect_continue", "POST /t HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc", &[200], &["POST /t host=x body=abc"], Same),
        case("websocket_without_key", "GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n", &[400], NONE, Same),
        case("upgrade_h2c_closing", "GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: h2c\r\nConnection: close\r\n\r\n", &[200], &["GET / host=x body="], Same),
        case("http10_get_with_body", "GET / HTTP/1.0\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", &[200], &["GET / host=x body=abc"],
            Differs(&[413], NONE, "HAProxy 2.6 refuses an HTTP/1.0 GET with a body; RFC 9110 9.3.1 lets it through")),
        case("pipelined", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &[200, 200],
            &["POST /a host=x body=", "GET /b host=x body="], Same),
    ]
}

/// Sends `req` on a new connection to `to` from the client namespace and reads until the
/// proxy closes (or a few seconds pass with the connection still open: a case that keeps
/// it open reads as what it got by then). Returns the statuses of the responses read.
fn exchange(topo: &clearway_testkit::Topology, to: &str, req: &[u8]) -> Vec<u16> {
    let mut c = connect(topo, to);
    c.set_read_timeout(Some(Duration::from_secs(3))).expect("timeout");
    let _ = c.write_all(req);
    let mut got = Vec::new();
    let _ = c.read_to_end(&mut got);
    statuses(&got)
}

/// The status of each response in `got` (each starts with `HTTP/1.x NNN `).
fn statuses(got: &[u8]) -> Vec<u16> {
    let text = String::from_utf8_lossy(got);
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(i) = text[at..].find("HTTP/1.") {
        let s = &text[at + i..];
        if let Some(code) = s.get(9..12).and_then(|c| c.parse().ok()) {
            // A 100 Continue is an interim answer, not the request's.
            if code != 100 {
                out.push(code);
            }
        }
        at += i + 7;
    }
    out
}

fn seen(topo: &clearway_testkit::Topology, srv: &RecordingHttpServer, to: &str, req: &[u8]) -> Seen {
    srv.take();
    let statuses = exchange(topo, to, req);
    // What was let through reached the server before the client's answer; a moment more for
    // a request let through without one.
    std::thread::sleep(Duration::from_millis(100));
    Seen {
        statuses,
        server: srv.take(),
    }
}

#[test]
fn requests_from_the_desync_catalogue_against_clearway_and_haproxy() {
    let Some(topo) = topology("hds") else { return };
    let srv = RecordingHttpServer::start(&topo.server, addr("198.51.100.10:80"));
    let (_cw, _hap) = clearway_and_haproxy(&topo, HTTP_PORT_CONFIG);
    let mut wrong = Vec::new();
    for c in cases() {
        let want = Seen {
            statuses: c.status.to_vec(),
            server: c.server.iter().map(|s| s.to_string()).collect(),
        };
        let cw = seen(&topo, &srv, "192.0.2.1:80", c.req.as_bytes());
        if cw != want {
            wrong.push(format!("{}: Clearway {cw:?}, wanted {want:?}", c.name));
        }
        let hap_want = match c.hap {
            Same => want,
            Differs(status, server, _why) => Seen {
                statuses: status.to_vec(),
                server: server.iter().map(|s| s.to_string()).collect(),
            },
        };
        let hap = seen(&topo, &srv, "192.0.2.1:81", c.req.as_bytes());
        if hap != hap_want {
            wrong.push(format!("{}: HAProxy {hap:?}, the table says {hap_want:?}", c.name));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} cases:\n{}",
        wrong.len(),
        cases().len(),
        wrong.join("\n")
    );
}

/// A front proxy as a CDN or an older proxy is: it frames each request by its Content-Length
/// alone and sends every client's requests over one kept-alive connection to Clearway.
/// Listens on `127.0.0.1:8000` in `ns`; serves `clients` connections, one request each.
fn length_front(ns: &clearway_testkit::Netns, upstream: &str, clients: usize) -> std::thread::JoinHandle<()> {
    use std::io::BufReader;
    let listener = ns
        .enter(|| std::net::TcpListener::bind("127.0.0.1:8000"))
        .expect("front listener");
    let up = connect_from(ns, upstream);
    std::thread::spawn(move || {
        let mut up_read = BufReader::new(up.try_clone().expect("clone"));
        let mut up = up;
        for conn in listener.incoming().take(clients) {
            let Ok(mut conn) = conn else { continue };
            let mut r = BufReader::new(conn.try_clone().expect("clone"));
            let Some((mut head, len)) = read_head(&mut r) else {
                return;
            };
            let mut body = vec![0; len];
            if r.read_exact(&mut body).is_err() {
                return;
            }
            head.extend_from_slice(&body);
            // One response back, framed by its length, to the client that asked.
            if up.write_all(&head).is_err() {
                let _ = conn.write_all(b"HTTP/1.1 502 Front Lost Upstream\r\nContent-Length: 0\r\n\r\n");
                continue;
            }
            let resp = match read_head(&mut up_read) {
                Some((mut resp, len)) => {
                    let mut b = vec![0; len];
                    let _ = up_read.read_exact(&mut b);
                    resp.extend_from_slice(&b);
                    resp
                }
                None => b"HTTP/1.1 502 Front Lost Upstream\r\nContent-Length: 0\r\n\r\n".to_vec(),
            };
            let _ = conn.write_all(&resp);
        }
    })
}

/// A message head read line by line up to its empty line, and the length its
/// Content-Length gives (0 without one); None when the peer closed first.
fn read_head(r: &mut impl std::io::BufRead) -> Option<(Vec<u8>, usize)> {
    let (mut head, mut len) = (Vec::new(), 0);
    loop {
        let mut l = Vec::new();
        if r.read_until(b'\n', &mut l).unwrap_or(0) == 0 {
            return None;
        }
        let text = String::from_utf8_lossy(&l).to_ascii_lowercase();
        if let Some(v) = text.strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
        head.extend_from_slice(&l);
        if l == b"\r\n" {
            return Some((head, len));
        }
    }
}

fn connect_from(ns: &clearway_testkit::Netns, to: &str) -> std::net::TcpStream {
    let to = addr(to);
    let s = ns
        .enter(move || std::net::TcpStream::connect_timeout(&to, TIMEOUT))
        .expect("connect");
    s.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    s
}

#[test]
fn a_content_length_front_before_clearway_lets_no_smuggled_request_through() {
    let Some(topo) = topology("hdc") else { return };
    let srv = RecordingHttpServer::start(&topo.server, addr("198.51.100.10:80"));
    let _cw = start(&topo, &HTTP_PORT_CONFIG.replace("PORT", "80"), &[80]);
    let front = length_front(&topo.client, "192.0.2.1:80", 2);
    // The attacker: to the front, one request whose body runs to the end; to a chunked
    // reader, a request ending at `0`, then another for /SMUGGLED, whose answer a victim
    // sharing the front's connection would get.
    let attack = "POST /t HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n\
                  0\r\n\r\nGET /SMUGGLED HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_eq!(attack.len() - attack.find("\r\n\r\n").unwrap() - 4, 40);
    let first = exchange_at(&topo, attack);
    assert_eq!(statuses(first.as_bytes()), [200], "{first}");
    let victim = exchange_at(&topo, "GET /victim HTTP/1.1\r\nHost: x\r\n\r\n");
    front.join().expect("front");
    let seen = srv.take();
    assert!(seen.iter().all(|r| !r.contains("SMUGGLED")), "{seen:?}");
    assert_eq!(seen[0], "POST /t host=x body=", "{seen:?}");
    // The victim gets its own answer or, as Clearway closed the front's connection after
    // the attack, the front's error: never the smuggled request's.
    assert!(!victim.contains("SMUGGLED"), "{victim}");
}

/// One request through the front (127.0.0.1:8000 in the client namespace); the raw answer.
fn exchange_at(topo: &clearway_testkit::Topology, req: &str) -> String {
    let mut c = connect_from(&topo.client, "127.0.0.1:8000");
    c.write_all(req.as_bytes()).expect("send");
    let mut got = Vec::new();
    let mut buf = [0; 4096];
    // The front answers once and keeps the connection: read until one response is whole.
    while !String::from_utf8_lossy(&got).contains("\r\n\r\n") || statuses(&got).is_empty() {
        match c.read(&mut buf) {
            Ok(n) if n > 0 => got.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

#[test]
fn an_upload_longer_than_timeout_server_goes_through_while_it_flows() {
    let Some(topo) = topology("hdu") else { return };
    let srv = RecordingHttpServer::start(&topo.server, addr("198.51.100.10:80"));
    let cfg = "defaults\n    mode http\n    timeout connect 5s\n    timeout client 30s\n    timeout server 1s\n\
               frontend ft\n    bind 192.0.2.1:80\n    default_backend bk\n\
               backend bk\n    server s1 198.51.100.10:80\n";
    let _cw = start(&topo, cfg, &[80]);
    let mut c = connect(&topo, "192.0.2.1:80");
    c.write_all(b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nConnection: close\r\n\r\n")
        .expect("head");
    // Six bytes over about 2.4 s, more than twice 'timeout server': the server is never
    // idle for its own sake (it reads each byte as it comes).
    for b in b"abcdef" {
        std::thread::sleep(Duration::from_millis(400));
        c.write_all(&[*b]).expect("body");
    }
    let mut got = Vec::new();
    let _ = c.read_to_end(&mut got);
    assert_eq!(statuses(&got), [200], "{}", String::from_utf8_lossy(&got));
    assert_eq!(srv.take(), ["POST /up host=x body=abcdef"]);
}
