use super::*;
use http::header::HeaderValue;
use http_body_util::{Empty, Full};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

fn conn() -> (Box<Conn>, DuplexStream) {
    let (a, b) = tokio::io::duplex(1 << 20);
    (Conn::new(Box::new(a), 64 * 1024), b)
}

fn get() -> (Method, Uri, HeaderMap) {
    let mut h = HeaderMap::new();
    h.insert(header::HOST, HeaderValue::from_static("example.test"));
    (Method::GET, Uri::from_static("/a?b=1"), h)
}

/// Reads what the server received until `until` appears in it.
async fn received(server: &mut DuplexStream, until: &str) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains(until) {
        let n = server.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed early; got {:?}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8(got).unwrap()
}

async fn read_all(body: &mut ResponseBody) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    while let Some(d) = poll_fn(|cx| body.poll_data(cx)).await {
        out.extend_from_slice(&d?);
    }
    Ok(out)
}

type Sent = Result<(http::response::Parts, ResponseBody), Failed>;

async fn exchange(response: &[u8], method: Method) -> (Sent, DuplexStream) {
    exchange_then(response, method, false).await
}

/// A GET answered with `response`, after which the server half-closes when `close` says so.
async fn exchange_then(response: &[u8], method: Method, close: bool) -> (Sent, DuplexStream) {
    let (c, mut server) = conn();
    let (_, uri, h) = get();
    server.write_all(response).await.unwrap();
    if close {
        server.shutdown().await.unwrap();
    }
    let r = c
        .send(
            Head {
                method: &method,
                uri: &uri,
                headers: &h,
                raw: false,
                http10: false,
            },
            Empty::<Bytes>::new(),
            None,
        )
        .await;
    (r, server)
}

#[tokio::test]
async fn a_get_goes_out_as_one_head_and_its_connection_is_reused() {
    let (c, mut server) = conn();
    let (m, uri, h) = get();
    server
        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\n\r\nhello")
        .await
        .unwrap();
    let head = Head {
        method: &m,
        uri: &uri,
        headers: &h,
        raw: false,
        http10: false,
    };
    let (parts, mut body) = c.send(head, Empty::<Bytes>::new(), None).await.unwrap();
    assert_eq!(
        received(&mut server, "\r\n\r\n").await,
        "GET /a?b=1 HTTP/1.1\r\nhost: example.test\r\n\r\n"
    );
    assert_eq!(parts.status, 200);
    assert_eq!(parts.headers["x-a"], "1");
    assert_eq!(body.exact_len(), Some(5));
    assert_eq!(read_all(&mut body).await.unwrap(), b"hello");
    let mut again = body
        .take_reusable()
        .expect("a complete keep-alive response leaves the connection reusable");
    assert!(again.is_usable());
    server.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").await.unwrap();
    let head = Head {
        method: &m,
        uri: &uri,
        headers: &h,
        raw: false,
        http10: false,
    };
    let (parts, mut body) = again.send(head, Empty::<Bytes>::new(), None).await.unwrap();
    assert_eq!(parts.status, 204);
    assert!(body.is_end());
    assert!(body.take_reusable().is_some());
}

#[tokio::test]
async fn chunked_body_with_extensions_and_trailers_is_decoded() {
    let (r, _server) = exchange(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n",
        Method::GET,
    )
    .await;
    let (_, mut body) = r.unwrap();
    assert_eq!(body.exact_len(), None);
    assert_eq!(read_all(&mut body).await.unwrap(), b"hello, world");
    assert!(body.take_reusable().is_some());
}

#[tokio::test]
async fn a_length_beside_chunked_is_dropped_and_the_connection_not_reused() {
    let (r, _server) = exchange(
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
        Method::GET,
    )
    .await;
    let (parts, mut body) = r.unwrap();
    assert!(!parts.headers.contains_key(header::CONTENT_LENGTH));
    assert_eq!(read_all(&mut body).await.unwrap(), b"ok");
    assert!(body.take_reusable().is_none());
}

#[tokio::test]
async fn a_body_without_length_runs_to_the_close_and_the_connection_goes() {
    let (r, server) = exchange(b"HTTP/1.1 200 OK\r\n\r\nuntil the end", Method::GET).await;
    drop(server);
    let (_, mut body) = r.unwrap();
    assert_eq!(read_all(&mut body).await.unwrap(), b"until the end");
    assert!(body.take_reusable().is_none());
}

#[tokio::test]
async fn head_responses_and_connection_close_have_no_body_to_wait_for() {
    let (r, _s) = exchange(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", Method::HEAD).await;
    let (parts, mut body) = r.unwrap();
    assert_eq!(parts.headers[header::CONTENT_LENGTH], "100");
    assert!(body.is_end());
    assert!(body.take_reusable().is_some());

    let (r, _s) = exchange(
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
        Method::GET,
    )
    .await;
    let (_, mut body) = r.unwrap();
    assert_eq!(read_all(&mut body).await.unwrap(), b"ok");
    assert!(body.take_reusable().is_none(), "Connection: close");

    let (r, _s) = exchange(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", Method::GET).await;
    let (_, mut body) = r.unwrap();
    assert_eq!(read_all(&mut body).await.unwrap(), b"ok");
    assert!(body.take_reusable().is_none(), "HTTP/1.0 without keep-alive");
}

#[tokio::test]
async fn interim_responses_are_passed_over() {
    let (r, _s) = exchange(
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n",
        Method::GET,
    )
    .await;
    assert_eq!(r.unwrap().0.status, 201);
}

#[tokio::test]
async fn a_streamed_request_body_goes_chunked_and_a_sized_one_as_is() {
    let (c, mut server) = conn();
    let (_, uri, h) = get();
    let frames = futures_stream(vec![Bytes::from_static(b"abc"), Bytes::from_static(b"defgh")]);
    let task = tokio::spawn(async move {
        let m = Method::POST;
        let r = c
            .send(
                Head {
                    method: &m,
                    uri: &uri,
                    headers: &h,
                    raw: false,
                    http10: false,
                },
                frames,
                None,
            )
            .await;
        r.map(|(p, _)| p.status).map_err(|f| f.error.to_string())
    });
    let got = received(&mut server, "0\r\n\r\n").await;
    assert!(got.starts_with("POST /a?b=1 HTTP/1.1\r\n"), "{got}");
    assert!(
        got.contains("transfer-encoding: chunked\r\n\r\n3\r\nabc\r\n5\r\ndefgh\r\n0\r\n\r\n"),
        "{got}"
    );
    server
        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(task.await.unwrap().unwrap(), 200);

    let (c, mut server) = conn();
    let (_, uri, mut h) = get();
    h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("4"));
    server
        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        .await
        .unwrap();
    let m = Method::PUT;
    let head = Head {
        method: &m,
        uri: &uri,
        headers: &h,
        raw: false,
        http10: false,
    };
    let (_, mut body) = c
        .send(head, Full::new(Bytes::from_static(b"data")), None)
        .await
        .unwrap();
    assert!(body.take_reusable().is_some());
    let got = received(&mut server, "data").await;
    assert!(got.ends_with("content-length: 4\r\n\r\ndata"), "{got}");
    assert!(!got.contains("chunked"));
}

/// A request body that arrives in separate frames of unknown total length, as a client's
/// chunked body does.
fn futures_stream(parts: Vec<Bytes>) -> Frames {
    Frames(parts.into())
}

struct Frames(std::collections::VecDeque<Bytes>);

impl crate::http::req_body::SplicedBody for Frames {}

impl Body for Frames {
    type Data = Bytes;
    type Error = std::convert::Infallible;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        Poll::Ready(self.0.pop_front().map(|b| Ok(hyper::body::Frame::data(b))))
    }
}

#[tokio::test]
async fn a_connection_closed_unanswered_can_be_replayed_only_without_a_body() {
    let (r, _) = exchange_then(b"", Method::GET, true).await;
    let f = r.unwrap_err();
    assert!(matches!(f.error, Error::Closed), "{}", f.error);
    assert!(f.replayable);

    let (r, _) = exchange_then(b"HTTP/1.1 200", Method::GET, true).await;
    let f = r.unwrap_err();
    assert!(!f.replayable, "part of a response came back: {}", f.error);

    let (c, server) = conn();
    drop(server);
    let (_, uri, h) = get();
    let m = Method::POST;
    let head = Head {
        method: &m,
        uri: &uri,
        headers: &h,
        raw: false,
        http10: false,
    };
    let f = c
        .send(head, Full::new(Bytes::from_static(b"x")), None)
        .await
        .unwrap_err();
    assert!(!f.replayable, "{}", f.error);
}

#[tokio::test]
async fn bad_responses_are_refused() {
    for (bytes, want) in [
        (
            &b"HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n"[..],
            "invalid Content-Length",
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            "conflicting",
        ),
        (b"HTTP/1.1 2000 OK\r\n\r\n", "malformed"),
        (b"NOT HTTP\r\n\r\n", "malformed"),
    ] {
        let (r, _s) = exchange(bytes, Method::GET).await;
        let e = r.unwrap_err().error.to_string();
        assert!(e.contains(want), "{e}");
    }
    let mut big = b"HTTP/1.1 200 OK\r\n".to_vec();
    for _ in 0..20 {
        big.extend_from_slice(format!("X-Filler: {}\r\n", "0".repeat(4000)).as_bytes());
    }
    let (r, _s) = exchange(&big, Method::GET).await;
    assert!(matches!(r.unwrap_err().error, Error::TooLarge(_)));
}

#[tokio::test]
async fn a_truncated_body_is_an_error_and_a_bad_chunk_too() {
    let (r, server) = exchange(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", Method::GET).await;
    drop(server);
    let (_, mut body) = r.unwrap();
    assert!(matches!(read_all(&mut body).await, Err(Error::Truncated)));

    let (r, _s) = exchange(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        Method::GET,
    )
    .await;
    let (_, mut body) = r.unwrap();
    assert!(matches!(read_all(&mut body).await, Err(Error::Bad(_))));
}

#[tokio::test]
async fn an_idle_connection_the_server_closed_is_not_usable() {
    let (r, server) = exchange(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", Method::GET).await;
    let (_, mut body) = r.unwrap();
    let mut c = body.take_reusable().unwrap();
    assert!(c.is_usable());
    drop(server);
    assert!(!c.is_usable());
}

#[tokio::test]
async fn after_101_the_connection_is_a_byte_stream_with_early_bytes_first() {
    let (r, mut server) = exchange(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\nearly",
        Method::GET,
    )
    .await;
    let (parts, body) = r.unwrap();
    assert_eq!(parts.status, 101);
    let mut up = body.into_upgraded().unwrap();
    let mut got = [0u8; 5];
    up.read_exact(&mut got).await.unwrap();
    assert_eq!(&got, b"early");
    server.write_all(b"later").await.unwrap();
    up.read_exact(&mut got).await.unwrap();
    assert_eq!(&got, b"later");
    up.write_all(b"up").await.unwrap();
    received(&mut server, "up").await;
}

#[tokio::test(start_paused = true)]
async fn server_goes_quiet_mid_body_and_only_its_silence_counts() {
    use std::time::Duration;
    let (sent, mut server) = exchange(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", Method::GET).await;
    let (_, body) = sent.expect("response");
    let mut body = body.with_idle_timeout(Some(Duration::from_secs(5)));
    let first = poll_fn(|cx| body.poll_data(cx)).await.expect("data").expect("bytes");
    assert_eq!(&first[..], b"abc");
    // The client takes longer than the timeout to ask for more: that time is not the server's.
    tokio::time::sleep(Duration::from_secs(60)).await;
    let waiting = poll_fn(|cx| Poll::Ready(body.poll_data(cx))).await;
    assert!(waiting.is_pending(), "the body waits for the server");
    server.write_all(b"def").await.unwrap();
    let more = poll_fn(|cx| body.poll_data(cx)).await.expect("data").expect("bytes");
    assert_eq!(&more[..], b"def");
    // The timer armed by the first wait is past its deadline now; a new wait starts afresh.
    tokio::time::sleep(Duration::from_secs(60)).await;
    let waiting = poll_fn(|cx| Poll::Ready(body.poll_data(cx))).await;
    assert!(waiting.is_pending(), "a slow client is not a quiet server");
    // Then the server keeps quiet for longer than the timeout, while the body waits.
    let end = poll_fn(|cx| body.poll_data(cx)).await.expect("an error");
    assert!(
        matches!(end, Err(Error::Timeout(d)) if d == Duration::from_secs(5)),
        "{end:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn timeout_server_on_the_head_and_not_from_an_earlier_request() {
    let limit = Some(std::time::Duration::from_secs(10));
    let (c, mut server) = conn();
    let (m, uri, h) = get();
    let head = || Head {
        method: &m,
        uri: &uri,
        headers: &h,
        raw: false,
        http10: false,
    };
    server.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").await.unwrap();
    let (_, mut body) = c.send(head(), Empty::<Bytes>::new(), limit).await.unwrap();
    let c = body.take_reusable().expect("reusable");
    // The connection's timer now waits for the first request's limit, 10 s from here. The
    // second request goes at 6 s and is answered at 14 s: within its own limit (16 s).
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    let answer = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_secs(8)).await;
        server.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").await.unwrap();
        server
    });
    let (parts, mut body) = c.send(head(), Empty::<Bytes>::new(), limit).await.unwrap();
    assert_eq!(parts.status, 204);
    let _server = answer.await.unwrap();
    // A third request gets no answer: it fails when its own limit runs out.
    let c = body.take_reusable().expect("reusable");
    let start = tokio::time::Instant::now();
    let f = c.send(head(), Empty::<Bytes>::new(), limit).await.unwrap_err();
    assert!(
        matches!(f.error, Error::NoResponse(d) if Some(d) == limit),
        "{:?}",
        f.error
    );
    assert_eq!(start.elapsed(), std::time::Duration::from_secs(10));
}

/// The head of `response` read with `Head::raw`, and what is left in the buffer after it.
fn raw_head(response: &[u8], head_req: bool) -> (HeadParts, BytesMut) {
    let mut buf = BytesMut::from(response);
    let h = parse_head(&mut buf, head_req, true).unwrap().unwrap();
    (h, buf)
}

#[test]
fn raw_header_lines_go_as_they_came_without_hop_by_hop_ones() {
    let (h, rest) = raw_head(
        b"HTTP/1.1 200 OK\r\nServer: nginx\r\nKeep-Alive: timeout=5\r\nContent-Type: text/plain\r\n\
          Content-Length: 5\r\nProxy-Connection: keep-alive\r\nConnection: keep-alive\r\nX-Last: y\r\n\r\nhello",
        false,
    );
    // The length goes too: the client side writes the body's own.
    assert_eq!(
        &h.raw[..],
        b"Server: nginx\r\nContent-Type: text/plain\r\nX-Last: y\r\n"
    );
    assert!(h.parts.headers.is_empty());
    assert_eq!(h.framing, Framing::Length(5));
    assert!(h.keep);
    assert_eq!(&rest[..], b"hello");

    // A body-less answer keeps the length it gives; a chunked one loses a length beside it.
    let (h, _) = raw_head(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\nETag: \"a\"\r\n\r\n", true);
    assert_eq!(&h.raw[..], b"Content-Length: 9\r\nETag: \"a\"\r\n");
    let (h, _) = raw_head(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\nVary: x\r\n\r\n",
        false,
    );
    assert_eq!(&h.raw[..], b"Vary: x\r\n");
    assert_eq!(h.framing, Framing::Chunked);
    let (h, _) = raw_head(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n", false);
    assert!(h.raw.is_empty() && h.parts.headers.is_empty() && !h.keep);
}

#[test]
fn raw_header_lines_leave_unusual_heads_to_the_header_map() {
    // A Connection field naming another header, a line not in `Name: value` form, a bare LF
    // and a 101 all go through the header map, with nothing moved.
    for (response, name) in [
        &b"HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Private\r\nX-Private: s\r\nContent-Length: 0\r\n\r\n"[..],
        b"HTTP/1.1 200 OK\r\nX-Odd:v\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX-Odd: v\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nX-Odd: v\r\n\r\n",
    ]
    .into_iter()
    .zip(["x-private", "x-odd", "x-odd", "x-odd"])
    {
        let (h, _) = raw_head(response, false);
        assert!(h.raw.is_empty(), "{:?}", String::from_utf8_lossy(response));
        assert!(
            h.parts.headers.contains_key(name),
            "{:?}",
            String::from_utf8_lossy(response)
        );
    }
    // Without `raw`, the map has them all, as before.
    let mut buf = BytesMut::from(&b"HTTP/1.1 200 OK\r\nServer: s\r\nContent-Length: 0\r\n\r\n"[..]);
    let h = parse_head(&mut buf, false, false).unwrap().unwrap();
    assert!(h.raw.is_empty());
    assert_eq!(h.parts.headers.len(), 2);
}

#[test]
fn heads_with_more_fields_than_the_stack_room_are_read_whole() {
    // More fields than `SpanRoom` keeps on the stack: the rest are noted on the heap.
    let mut head = String::from("HTTP/1.1 200 OK\r\n");
    let lines: String = (0..40).map(|i| format!("X-F{i}: v{i}\r\n")).collect();
    head.push_str(&lines);
    head.push_str("Content-Length: 0\r\n\r\n");
    let mut buf = BytesMut::from(head.as_bytes());
    let h = parse_head(&mut buf, false, false).unwrap().unwrap();
    assert_eq!(h.parts.headers.len(), 41);
    assert_eq!(h.parts.headers["x-f39"], "v39");
    let (h, _) = raw_head(head.as_bytes(), false);
    assert_eq!(&h.raw[..], lines.as_bytes());
}

#[test]
fn kept_lines_refuse_what_the_header_map_refuses_and_drop_invalid_lengths() {
    // A name longer than a header map takes is refused on both paths, not forwarded.
    let long = format!(
        "HTTP/1.1 200 OK\r\n{}: v\r\nContent-Length: 0\r\n\r\n",
        "x".repeat(70_000)
    );
    for keep_raw in [false, true] {
        let mut buf = BytesMut::from(long.as_bytes());
        assert!(matches!(parse_head(&mut buf, false, keep_raw), Err(Error::Bad(_))));
    }
    // A body-less answer's length goes on only when it is a valid one.
    for keep_raw in [false, true] {
        let mut buf = BytesMut::from(&b"HTTP/1.1 304 Not Modified\r\nContent-Length: x\r\nETag: \"a\"\r\n\r\n"[..]);
        let h = parse_head(&mut buf, false, keep_raw).unwrap().unwrap();
        assert!(!h.parts.headers.contains_key(header::CONTENT_LENGTH));
        assert!(!h.raw.windows(15).any(|w| w.eq_ignore_ascii_case(b"content-length:")));
        assert_eq!(h.parts.headers.contains_key("etag"), !keep_raw);
    }
}
