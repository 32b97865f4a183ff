//! Entry points for the fuzz targets in `fuzz/` and for the unit test that replays their seed
//! corpora: each takes any bytes, runs one parser on them and panics when one of its
//! invariants fails. Not an API: nothing else may call these.
//!
//! The invariants, beyond "no panic":
//! - a request head: a head cut short is only ever "more needed"; what Clearway would send on
//!   to a server parses back to the same method, target, fields and framing;
//! - a response head: kept as raw lines or as a header map, the client gets the same fields;
//!   what Clearway writes to the client parses back to the same status, framing and fields;
//! - a chunked body: the same outcome and bytes however the input is cut into reads, with or
//!   without gathering pieces, as a reference decoder written the plain way; re-encoded, the
//!   bytes decode back to themselves;
//! - a TLS ClientHello: a record cut short is "incomplete", never "not TLS"; an SNI found is
//!   in the input; a hello built around a name gives that name back;
//! - health-check answers: any answer ends each check with a verdict, and a 2xx HTTP
//!   answer passes a check that has no rule;
//! - a runtime API line (from the stats socket): every command in it gets an answer, and at
//!   the `user` level none changes a server;
//! - a `log-format`: accepted or refused, and an accepted one renders any record;
//! - a statistics page request (the URI after the prefix, then a posted form): the options
//!   read from it put only plain characters back into the page's links, and every form reads;
//! - persistence cookies (`Cookie` lines, then `Set-Cookie` lines): in `insert indirect` mode
//!   the server never gets the cookie, a cookie only names a server that has that value, and
//!   in insert mode the client gets at most one cookie of that name.

use crate::http::client_h1::encode::{encode_head as encode_response, Out};
use crate::http::client_h1::head::parse_request;
use crate::http::decode::{is_hop_by_hop, Decoder, Framing, Step};
use crate::http::h1::{encode_data, encode_head as encode_request, parse_head, Head};
use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderMap};

/// A request head from a client.
/// Every `normalize-uri` of a request's target gives a target, and doing it twice changes
/// nothing more (but decoding escapes, which may make new ones as HAProxy's single pass does).
fn normalized(uri: &http::Uri) {
    use clearway_config::rules::Normalizer as N;
    for n in [
        N::MergeSlashes,
        N::StripDot,
        N::StripDotDot { full: false },
        N::StripDotDot { full: true },
        N::DecodeUnreserved { strict: false },
        N::DecodeUnreserved { strict: true },
        N::PercentUpper { strict: false },
        N::PercentUpper { strict: true },
        N::QuerySort,
    ] {
        if let Ok(Some(once)) = crate::http::normalize::uri(uri, n) {
            if matches!(n, N::DecodeUnreserved { .. }) {
                continue;
            }
            let twice = crate::http::normalize::uri(&once, n);
            assert!(matches!(twice, Ok(None)), "{n:?} of {uri} gave {once}, then {twice:?}");
        }
    }
}

pub fn request_head(data: &[u8]) {
    let mut buf = BytesMut::from(data);
    let Ok(Some(head)) = parse_request(&mut buf) else {
        return;
    };
    let used = data.len() - buf.len();
    // Cut anywhere before its end, the head is incomplete, not refused nor read otherwise.
    for cut in cuts(data, used) {
        let mut part = BytesMut::from(&data[..cut]);
        assert!(
            matches!(parse_request(&mut part), Ok(None)),
            "a head cut at {cut} of {used} bytes was not 'more needed'"
        );
    }
    // What goes to the server: the fields less the hop-by-hop ones, framed as decided.
    let mut fields = head.parts.headers.clone();
    strip_hop_by_hop(&mut fields);
    let chunked = head.framing == Framing::Chunked;
    let mut out = BytesMut::new();
    encode_request(
        &mut out,
        &Head {
            method: &head.parts.method,
            uri: &head.parts.uri,
            headers: &fields,
            raw: false,
            http10: false,
        },
        chunked,
    );
    let sent = out.clone();
    normalized(&head.parts.uri);
    // A Host field added to a head that already has the most fields a head may have takes
    // it past that limit, which every reader here shares: not comparable.
    if fields.len() + usize::from(chunked) > crate::http::decode::max_fields() {
        return;
    }
    let again = match parse_request(&mut out) {
        Ok(Some(h)) => h,
        other => panic!(
            "what would be sent does not parse back ({:?}): {:?}",
            other.err(),
            String::from_utf8_lossy(&sent)
        ),
    };
    assert!(out.is_empty(), "bytes left after the head sent");
    assert_eq!(again.parts.method, head.parts.method);
    let target = head.parts.uri.path_and_query().map_or("", |p| p.as_str());
    let sent_target = again.parts.uri.path_and_query().map_or("", |p| p.as_str());
    if target.starts_with('/') || target == "*" {
        assert_eq!(sent_target, target);
    } else {
        assert_eq!(sent_target, format!("/{target}"));
    }
    assert_eq!(again.framing, head.framing, "{:?}", String::from_utf8_lossy(&sent));
    let mut back = again.parts.headers;
    strip_hop_by_hop(&mut back);
    assert_eq!(back, fields, "fields changed: {:?}", String::from_utf8_lossy(&sent));
}

/// A response head from a server. The first byte says whether it answers a HEAD request.
pub fn response_head(data: &[u8]) {
    let Some((&flags, data)) = data.split_first() else {
        return;
    };
    let head_req = flags & 1 == 1;
    let parse = |bytes: &[u8], keep_raw: bool| {
        let mut buf = BytesMut::from(bytes);
        let r = parse_head(&mut buf, head_req, keep_raw);
        (r, bytes.len() - buf.len())
    };
    let (Ok(Some(raw)), used) = parse(data, true) else {
        return;
    };
    let (Ok(Some(map)), used_map) = parse(data, false) else {
        panic!("parsed with raw lines kept but not into a map");
    };
    assert_eq!(used, used_map);
    for cut in cuts(data, used) {
        assert!(
            matches!(parse(&data[..cut], true).0, Ok(None)),
            "a head cut at {cut} of {used} bytes was not 'more needed'"
        );
    }
    assert_eq!(
        (raw.parts.status, raw.framing, raw.keep),
        (map.parts.status, map.framing, map.keep)
    );
    // What the client gets of the server's fields, either way.
    let mut visible = map.parts.headers.clone();
    strip_hop_by_hop(&mut visible);
    if !crate::http::decode::bodyless(head_req, map.parts.status) {
        visible.remove(header::CONTENT_LENGTH);
    }
    let mut from_raw = fields_of(&raw.raw);
    from_raw.extend(raw.parts.headers.clone());
    strip_hop_by_hop(&mut from_raw);
    // A body's length goes out as the client side frames it (below), whichever way.
    if !crate::http::decode::bodyless(head_req, map.parts.status) {
        from_raw.remove(header::CONTENT_LENGTH);
    }
    assert_eq!(from_raw, visible, "raw lines and the header map differ");
    // Written to an HTTP/1.1 client and read back.
    if map.parts.status == http::StatusCode::SWITCHING_PROTOCOLS {
        return;
    }
    // As the client side frames it (`client_h1`): a length the fields hold, else one it
    // knows, else chunked.
    let mut fields = raw.parts.headers.clone();
    strip_hop_by_hop(&mut fields);
    let bodyless = crate::http::decode::bodyless(head_req, map.parts.status);
    let out = match map.framing {
        Framing::Empty if bodyless => Out::None,
        Framing::Empty => Out::AddLength(0),
        _ if fields.contains_key(header::CONTENT_LENGTH) => Out::Length,
        Framing::Length(n) => Out::AddLength(n),
        Framing::Chunked | Framing::Close => Out::Chunked,
    };
    let mut w = BytesMut::new();
    encode_response(
        &mut w,
        (raw.parts.status, None),
        &raw.raw,
        &fields,
        out,
        http::Version::HTTP_11,
        raw.keep,
        false,
    );
    let written = w.clone();
    // The framing fields added to a head that already has the most fields a head may have
    // take it past that limit, which every reader here shares: not comparable.
    let lines = written.windows(2).filter(|p| p == b"\r\n").count();
    if lines > crate::http::decode::MAX_HEADERS {
        return;
    }
    let again = match parse_head(&mut w, head_req, false) {
        Ok(Some(h)) => h,
        other => panic!(
            "what the client gets does not parse back ({:?}): {:?}",
            other.err(),
            String::from_utf8_lossy(&written)
        ),
    };
    assert_eq!(again.parts.status, map.parts.status);
    let framing = match map.framing {
        Framing::Close => Framing::Chunked,
        f => f,
    };
    assert_eq!(again.framing, framing, "{:?}", String::from_utf8_lossy(&written));
    let mut back = again.parts.headers;
    strip_hop_by_hop(&mut back);
    if !crate::http::decode::bodyless(head_req, map.parts.status) {
        back.remove(header::CONTENT_LENGTH);
    }
    assert_eq!(back, visible, "{:?}", String::from_utf8_lossy(&written));
}

/// A chunked body. The first byte picks how the input is cut into reads and how far pieces
/// are gathered.
pub fn chunked(data: &[u8]) {
    let Some((&knobs, body)) = data.split_first() else {
        return;
    };
    let whole = decode_all(body, &[body.len().max(1)], None);
    let step = usize::from(knobs % 17) + 1;
    let gather = (knobs & 0x80 != 0).then_some(usize::from(knobs >> 4 & 7) * 7 + 1);
    let cut = decode_all(body, &[step, step * 3 + 1], gather);
    assert_eq!(whole, cut, "cut into reads of {step}, gathering {gather:?}");
    let ends = Decoder::new(Framing::Chunked).ends_within(body);
    assert_eq!(ends, matches!(whole, Outcome::Done(..)), "ends_within disagrees");
    match (reference(body), &whole) {
        (Outcome::Done(b, n), Outcome::Done(b2, n2)) => {
            assert_eq!((&b, n), (b2, *n2), "differs from the reference decoder")
        }
        (Outcome::Done(..), other) => panic!("the reference decoder ends the body; ours: {other:?}"),
        (other, Outcome::Done(..)) => panic!("ours ends the body; the reference decoder: {other:?}"),
        (Outcome::Bad, Outcome::More(_)) => panic!("the reference decoder refuses what ours waits on"),
        _ => {}
    }
    // Re-encoded as Clearway sends bodies on, the bytes decode back to themselves.
    if let Outcome::Done(bytes, _) = &whole {
        let mut w = BytesMut::new();
        for piece in bytes.chunks(usize::from(knobs) + 1) {
            encode_data(&mut w, &Bytes::copy_from_slice(piece), true);
        }
        w.extend_from_slice(b"0\r\n\r\n");
        let len = w.len();
        assert_eq!(decode_all(&w, &[len], None), Outcome::Done(bytes.clone(), len));
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// The body, and the bytes its encoding took.
    Done(Vec<u8>, usize),
    /// Not over; the body so far.
    More(Vec<u8>),
    Bad,
}

/// Decodes `input` chunked, read in pieces of the sizes `steps` (in turn), gathering pieces up
/// to `gather` bytes when given.
fn decode_all(input: &[u8], steps: &[usize], gather: Option<usize>) -> Outcome {
    let mut d = Decoder::new(Framing::Chunked);
    let mut buf = BytesMut::new();
    let mut body = Vec::new();
    let (mut fed, mut turn) = (0, 0);
    loop {
        match d.decode(&mut buf) {
            Err(_) => return Outcome::Bad,
            Ok(Step::Done) => return Outcome::Done(body, fed - buf.len()),
            Ok(Step::Data(piece)) => match gather {
                Some(up_to) => body.extend_from_slice(&d.gather(&mut buf, piece, up_to)),
                None => body.extend_from_slice(&piece),
            },
            Ok(Step::More) if fed == input.len() => return Outcome::More(body),
            Ok(Step::More) => {
                let n = steps[turn % steps.len()].min(input.len() - fed);
                buf.extend_from_slice(&input[fed..fed + n]);
                fed += n;
                turn += 1;
            }
        }
    }
}

/// A chunked body decoded the plain way, line by line over the whole input (RFC 9112, 7.1,
/// with Clearway's strictness: CRLF after sizes and data, no CR, LF or NUL in an extension,
/// lines of at most 4 kB). `More` carries no body: only whole outcomes are compared.
fn reference(input: &[u8]) -> Outcome {
    const MAX_LINE: usize = 4096;
    let line_at = |at: usize| -> Option<&[u8]> {
        let rest = &input[at..];
        rest.windows(2).position(|w| w == b"\r\n").map(|e| &rest[..e])
    };
    let (mut at, mut body) = (0, Vec::new());
    loop {
        let Some(line) = line_at(at) else {
            return Outcome::More(Vec::new());
        };
        if line.len() + 2 > MAX_LINE {
            return Outcome::Bad;
        }
        let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
        let rest = line[digits..].trim_ascii_start();
        let rest_ok = match rest.first() {
            None => line[digits..].iter().all(|&b| b == b' ' || b == b'\t'),
            Some(b';') => !rest.iter().any(|&b| matches!(b, b'\r' | b'\n' | 0)),
            Some(_) => false,
        };
        // trim_ascii_start also passes over CR, LF, FF and VT, which may not come before ';'.
        let blanks_ok = line[digits..line.len() - rest.len()]
            .iter()
            .all(|&b| b == b' ' || b == b'\t');
        if digits == 0 || !rest_ok || !blanks_ok {
            return Outcome::Bad;
        }
        let hex = std::str::from_utf8(&line[..digits]).unwrap_or("");
        let Ok(size) = u64::from_str_radix(hex.trim_start_matches('0').max("0"), 16) else {
            return Outcome::Bad;
        };
        at += line.len() + 2;
        if size == 0 {
            break;
        }
        let Ok(size) = usize::try_from(size) else {
            return Outcome::Bad;
        };
        if input.len() - at < size.saturating_add(2) {
            return Outcome::More(Vec::new());
        }
        body.extend_from_slice(&input[at..at + size]);
        if &input[at + size..at + size + 2] != b"\r\n" {
            return Outcome::Bad;
        }
        at += size + 2;
    }
    // Trailer lines, each ended by LF, up to an empty one.
    loop {
        let rest = &input[at..];
        let Some(e) = rest.iter().position(|&b| b == b'\n') else {
            return Outcome::More(Vec::new());
        };
        if e + 1 > MAX_LINE {
            return Outcome::Bad;
        }
        at += e + 1;
        if e == 0 || (e == 1 && rest[0] == b'\r') {
            return Outcome::Done(body, at);
        }
    }
}

/// The start of a TLS connection.
pub fn client_hello(data: &[u8]) {
    use crate::inspect::{parse, Hello};
    let full = parse(data);
    // Read as an HTTP request head too (layer-7 fetches in mode tcp): never a panic.
    let _ = crate::inspect::Head::parse(data);
    if let Hello::Handshake { sni: Some(name), .. } = &full {
        assert!(
            data.windows(name.len().max(1))
                .any(|w| w.eq_ignore_ascii_case(name.as_bytes())),
            "an SNI that is not in the input: {name:?}"
        );
    }
    // Cut short, a record that could still be TLS is incomplete, never "not TLS".
    if data.len() >= 5 && data[0] == 22 && data[1] == 3 {
        let record = 5 + usize::from(u16::from_be_bytes([data[3], data[4]]));
        for cut in cuts(data, record.min(data.len())) {
            assert_eq!(parse(&data[..cut]), Hello::Incomplete, "cut at {cut}");
        }
    }
    // A hello built around a name found in the input gives that name back.
    let name: String = data.iter().map(|&b| char::from(b'a' + b % 26)).take(200).collect();
    if !name.is_empty() {
        let hello = crate::inspect::client_hello_for(&name);
        assert_eq!(
            parse(&hello),
            Hello::Handshake {
                kind: 1,
                sni: Some(name),
                alpn: Vec::new(),
            }
        );
    }
}

/// A server's answer to a health check. The first byte picks the check.
pub fn check_answer(data: &[u8]) {
    use crate::checks::{http as httpchk, protocols, CheckSpec};
    use clearway_config::model::{CheckKind, ExpectMatch, HttpCheck, HttpCheckRule, HttpExpect, Span, Timeouts};
    let Some((&which, answer)) = data.split_first() else {
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let verdict = rt.block_on(async {
        // The server's side writes the answer and closes; the check's requests go unread
        // into the pipe's room.
        let (mut check, mut server) = tokio::io::duplex(64 * 1024);
        {
            use tokio::io::AsyncWriteExt;
            let _ = server.write_all(answer).await;
            let _ = server.shutdown().await;
        }
        let span = Span {
            file: "fuzz".into(),
            line: 1,
        };
        let rules = |matcher| {
            vec![HttpCheckRule::Expect(HttpExpect {
                span: span.clone(),
                negate: which & 0x10 != 0,
                matcher,
                comment: None,
            })]
        };
        let code = std::sync::atomic::AtomicI32::default();
        match which % 10 {
            0 => protocols::mysql(&mut check, None, false, &code).await,
            1 => protocols::mysql(&mut check, Some("haproxy"), which & 0x10 != 0, &code).await,
            8 => protocols::smtp(&mut check, "HELO localhost", &code).await,
            9 => protocols::ldap(&mut check, &code).await,
            2 => protocols::pgsql(&mut check, "haproxy").await,
            3 => protocols::redis(&mut check).await,
            4 => protocols::ssl_hello(&mut check).await,
            n => {
                let expect = match n {
                    5 => Vec::new(),
                    6 => rules(ExpectMatch::RString("^[a-z]+ok".into())),
                    _ => rules(ExpectMatch::Status(vec![(200, 204), (302, 302)])),
                };
                let options = clearway_config::model::ProxyOptions {
                    http_check: expect,
                    ..Default::default()
                };
                let spec = CheckSpec::new(CheckKind::Http(HttpCheck::default()), &options, Timeouts::default());
                httpchk::check(&mut check, &spec.http[0], &Default::default(), &spec.regexes).await
            }
        }
    });
    if which % 10 == 5 {
        let passes = httpchk::parse_status(answer).is_some_and(|s| (200..400).contains(&s));
        assert_eq!(verdict.is_ok(), passes, "{verdict:?}");
    }
}

/// Where to cut a message of `len` bytes to check that a part of it reads as "more needed":
/// a few places, picked from the data so that the fuzzer moves them.
fn cuts(data: &[u8], len: usize) -> impl Iterator<Item = usize> {
    let seed = data.first().map_or(0, |&b| usize::from(b));
    [
        0,
        len / 2,
        len.saturating_sub(1),
        seed % len.max(1),
        len.saturating_sub(2),
    ]
    .into_iter()
    .filter(move |&c| c < len)
}

fn strip_hop_by_hop(h: &mut HeaderMap) {
    let names: Vec<_> = h
        .keys()
        .filter(|k| is_hop_by_hop(k.as_str().as_bytes()))
        .cloned()
        .collect();
    for n in names {
        h.remove(n);
    }
}

/// The fields of raw header lines (each `Name: value\r\n`).
fn fields_of(raw: &[u8]) -> HeaderMap {
    // Room for every line: the reader under test decides how many fields a head may have.
    let mut room = vec![httparse::EMPTY_HEADER; raw.iter().filter(|&&b| b == b'\n').count() + 1];
    let mut with_end = raw.to_vec();
    with_end.extend_from_slice(b"\r\n");
    let mut map = HeaderMap::new();
    if let Ok(httparse::Status::Complete((_, fields))) = httparse::parse_headers(&with_end, &mut room) {
        for f in fields {
            if let (Ok(k), Ok(v)) = (
                http::HeaderName::from_bytes(f.name.as_bytes()),
                http::HeaderValue::from_bytes(f.value),
            ) {
                map.append(k, v);
            }
        }
    }
    map
}

/// A line sent to the stats socket.
pub fn cli_command(data: &[u8]) {
    use crate::control::{execute, parse, split, Cli, Level};
    static RT: std::sync::OnceLock<std::sync::Arc<crate::model::Runtime>> = std::sync::OnceLock::new();
    let rt = RT.get_or_init(|| {
        let text = "defaults\n    mode http\nfrontend f\n    bind 127.0.0.1:1\n    default_backend b\n\
                    backend b\n    server s1 127.0.0.1:2 check weight 7\n    server s2 127.0.0.1:3\n";
        let cfg = clearway_config::parse_str("fuzz.cfg", text).expect("config").config;
        crate::Runtime::build(&cfg, 1024).expect("runtime")
    });
    let line = String::from_utf8_lossy(data);
    let state = |rt: &crate::model::Runtime| -> Vec<(u32, bool)> {
        rt.backends[0]
            .rt
            .servers
            .iter()
            .map(|s| (s.weight(), s.usable()))
            .collect()
    };
    let before = state(rt);
    let mut cli = Cli::at(Level::User);
    for words in split(&line) {
        match parse(&words) {
            Ok(c) => {
                let _ = execute(rt, &c, &mut cli);
            }
            Err(e) => assert!(!e.is_empty(), "a refused command gets an answer"),
        }
    }
    assert_eq!(state(rt), before, "a user-level line changed a server: {line:?}");
}

/// A `log-format` string.
pub fn log_format(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(f) = crate::log::format::Format::parse(&text) else {
        return;
    };
    let mut r = crate::log::Record::new(
        "fe",
        "192.0.2.1:1234".parse().expect("addr"),
        None,
        std::time::UNIX_EPOCH,
    );
    r.http = Some(crate::log::HttpLine {
        method: http::Method::GET,
        uri: "http://h/p?q".parse().expect("uri"),
        version: http::Version::HTTP_11,
    });
    let _ = f.render(&r);
    r.http = None;
    let line = f.render(&r);
    if !text.contains('%') {
        assert_eq!(line, text, "a format without variables is its text");
    }
}

/// A statistics page request: the URI after the page's prefix, a newline, a posted form.
pub fn stats_request(data: &[u8]) {
    use crate::control::page::{status_of, View};
    let (uri, form) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let uri = String::from_utf8_lossy(uri);
    static PAGE: std::sync::OnceLock<clearway_config::model::StatsPage> = std::sync::OnceLock::new();
    let page = PAGE.get_or_init(|| {
        let text = "defaults\n    mode http\nlisten s\n    bind 127.0.0.1:1\n    stats uri /\n    stats refresh 5s\n";
        let cfg = clearway_config::parse_str("fuzz.cfg", text).expect("config").config;
        cfg.frontends[0].http.stats.clone().expect("a page")
    });
    let view = View::new(page, "s", &uri, true);
    let suffix = view.suffix();
    assert!(
        suffix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ";?=-_.:".contains(c)),
        "{suffix:?}"
    );
    if let Some(code) = status_of(&uri) {
        assert_eq!(code.len(), 4);
    }
    let _ = crate::control::prometheus::scopes(Some(&uri));
    let f = crate::http::service::Form::parse(form);
    assert!(f.servers.len() <= form.len() / 2 + 1);
}

/// A PROXY protocol header as a client sends it: never a panic; a header found complete is
/// needs more in any shorter piece of it; and what
/// it says, sent on as version 1 and version 2, reads back the same.
pub fn proxy_header(data: &[u8]) {
    use crate::proxy_protocol::{encode, parse, scan, Outgoing, Scan};
    let Ok(Scan::Complete(n)) = scan(data) else {
        return;
    };
    assert!(n <= data.len());
    // Any shorter piece of it is worth waiting for.
    let cut = usize::from(data[0]) % n;
    if cut > 0 {
        assert_eq!(scan(&data[..cut]), Ok(Scan::Need));
    }
    let Ok(h) = parse(&data[..n]) else {
        return;
    };
    for v2 in [false, true] {
        let p = clearway_config::model::SendProxy {
            v1: !v2,
            v2,
            v2_authority: true,
            v2_crc32c: true,
            v2_unique_id: true,
            ..Default::default()
        };
        let id = h.unique_id.as_deref().and_then(|b| std::str::from_utf8(b).ok());
        let o = Outgoing {
            addrs: h.addrs,
            alpn: h.alpn.as_deref().filter(|a| a.len() < 1024),
            authority: h.authority.as_deref(),
            tls: None,
            unique_id: id,
        };
        let back = parse(&encode(&p, &o)).expect("what is sent reads back");
        assert_eq!(back.addrs, h.addrs);
        if v2 && h.addrs.is_some() {
            assert_eq!(back.authority, h.authority);
            assert_eq!(back.unique_id.as_deref(), id.map(str::as_bytes));
        }
    }
}

/// Persistence cookies: the first byte picks the mode and options, the rest is `Cookie`
/// lines, then after a NUL `Set-Cookie` lines.
pub fn cookies(data: &[u8]) {
    use crate::http::cookie::{Bent, CookiePersist};
    use clearway_config::model::{self, CookieMode};
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let mode = [
        CookieMode::Passive,
        CookieMode::Insert,
        CookieMode::Rewrite,
        CookieMode::Prefix,
    ][usize::from(pick & 3)];
    let indirect = pick & 4 != 0 && mode != CookieMode::Rewrite;
    let preserve = pick & 8 != 0 && (mode == CookieMode::Insert || indirect);
    let c = model::CookiePersist {
        mode,
        indirect,
        nocache: pick & 16 != 0,
        preserve,
        maxidle: if pick & 32 != 0 { 3600 } else { 0 },
        maxlife: if pick & 64 != 0 { 86_400 } else { 0 },
        ..model::CookiePersist::named(
            model::Span {
                file: "fuzz".into(),
                line: 1,
            },
            "SRV",
        )
    };
    let servers = [Some("a"), Some("b~c"), None];
    let p = CookiePersist::new(&c, servers);
    let (req, res) = match rest.iter().position(|&b| b == 0) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    let lines = |bytes: &[u8], name: &header::HeaderName| {
        let mut h = HeaderMap::new();
        for l in bytes.split(|&b| b == b'\n') {
            if let Ok(v) = header::HeaderValue::from_bytes(l) {
                h.append(name.clone(), v);
            }
        }
        h
    };
    let named = |h: &HeaderMap, name: &header::HeaderName| -> usize {
        h.get_all(name)
            .iter()
            .flat_map(|v| crate::http::cookie::names(v.as_bytes(), *name == header::SET_COOKIE))
            .filter(|n| *n == b"SRV")
            .count()
    };
    let bent = [Bent::No, Bent::Forced, Bent::Ignored][usize::from(pick >> 7)];
    let mut h = lines(req, &header::COOKIE);
    let from = p.on_request(
        &mut h,
        (bent, pick & 2 == 0 && pick & 1 == 1),
        1_000_000_000,
        |i| Some(i != 1),
        false,
    );
    if mode == CookieMode::Insert && indirect {
        assert_eq!(named(&h, &header::COOKIE), 0, "{h:?}");
    }
    if let Some(i) = from.server {
        assert!(servers[i].is_some());
    }
    let mut h = lines(res, &header::SET_COOKIE);
    let answer = crate::http::cookie::Answer {
        server: 2,
        direct: from.server == Some(2),
        method: &http::Method::GET,
        status: 200,
        now: 1_000_000_000,
        checkcache: true,
    };
    let _ = p.on_response(&mut h, &from, bent, &answer);
    if mode == CookieMode::Insert && !preserve {
        assert!(named(&h, &header::SET_COOKIE) <= 1, "{h:?}");
    }
}

/// Sample expressions: the text before the first NUL is `FETCH,CONV...` (the fetch name is
/// ignored), the bytes after it the text sample the converters run on, with `txn.v` set.
/// Nothing panics, and a chain that writes no variable gives the same twice.
pub fn samples(data: &[u8]) {
    use clearway_sample::vars::{SetConds, VarStore};
    use clearway_sample::{Chain, Sample, Type, VarName};
    let (expr, input) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &b""[..]),
    };
    let Ok(expr) = std::str::from_utf8(expr) else {
        return;
    };
    let Ok((_, calls)) = clearway_sample::args::parse(expr) else {
        return;
    };
    struct Vars(VarStore);
    impl clearway_sample::Ctx for Vars {
        fn var(&self, n: &VarName) -> Option<Sample<'static>> {
            self.0.get(&n.name)
        }
        fn set_var(&self, n: &VarName, v: Sample<'_>, c: SetConds) -> bool {
            self.0.set(&n.name, v, c)
        }
        fn unset_var(&self, n: &VarName) {
            self.0.unset(&n.name)
        }
    }
    let vars = Vars(VarStore::default());
    vars.0.set("v", Sample::Str(input.to_vec().into()), SetConds::default());
    for input_type in [Type::Str, Type::Int, Type::Ipv4] {
        let Ok((chain, _)) = Chain::new(&calls, input_type) else {
            continue;
        };
        let sample = match input_type {
            Type::Str => Sample::Str(input.into()),
            Type::Int => Sample::Int(clearway_sample::read_int(input).unwrap_or(7)),
            _ => Sample::Ipv4(std::net::Ipv4Addr::new(192, 0, 2, input.len() as u8)),
        };
        let once = chain.run(sample.clone(), &vars).map(Sample::into_owned);
        if !chain.writes_vars() {
            assert_eq!(once, chain.run(sample, &vars).map(Sample::into_owned), "{expr}");
        }
    }
}

#[cfg(test)]
mod tests {
    /// Each target over its seed corpus in `fuzz/corpus`: what the fuzzers once found stays
    /// fixed without them.
    #[test]
    fn the_seed_corpora_pass() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus");
        type Target = fn(&[u8]);
        let targets: [(&str, Target); 11] = [
            ("request_head", super::request_head),
            ("response_head", super::response_head),
            ("chunked", super::chunked),
            ("client_hello", super::client_hello),
            ("check_answer", super::check_answer),
            ("cli_command", super::cli_command),
            ("log_format", super::log_format),
            ("stats_request", super::stats_request),
            ("proxy_header", super::proxy_header),
            ("cookies", super::cookies),
            ("samples", super::samples),
        ];
        for (name, run) in targets {
            let dir = root.join(name);
            let files: Vec<_> = std::fs::read_dir(&dir)
                .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .flatten()
                .collect();
            assert!(!files.is_empty(), "no seeds in {}", dir.display());
            for f in files {
                let data = std::fs::read(f.path()).unwrap();
                run(&data);
            }
        }
    }
}
