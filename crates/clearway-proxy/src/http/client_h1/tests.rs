use super::*;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

impl ClientSocket for DuplexStream {
    fn ack_now(&self) {}
}

/// Answers each request with its method, target and body, and counts what it served.
#[derive(Default)]
struct Echo {
    served: std::sync::atomic::AtomicUsize,
    /// How often request bodies were polled, in all.
    body_polls: std::sync::atomic::AtomicUsize,
    /// How many pieces of request bodies came, in all.
    pieces: std::sync::atomic::AtomicUsize,
}

impl Service for Echo {
    fn call(self: Arc<Self>, req: Request<ReqBody>) -> Pin<Box<dyn Future<Output = Response<ResBody>> + Send>> {
        Box::pin(async move {
            let (parts, mut body) = req.into_parts();
            let mut got = Vec::new();
            let mut failed = false;
            let polls = &self.body_polls;
            let mut next = |cx: &mut Context<'_>| {
                polls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Pin::new(&mut body).poll_frame(cx)
            };
            while let Some(f) = poll_fn(&mut next).await {
                match f {
                    Ok(f) => {
                        self.pieces.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        got.extend_from_slice(&f.into_data().unwrap_or_default())
                    }
                    Err(_) => {
                        failed = true;
                        break;
                    }
                }
            }
            self.served.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let text = format!("{} {} [{}]", parts.method, parts.uri, String::from_utf8_lossy(&got));
            let mut r = Response::new(ResBody::local(Bytes::from(text)));
            if failed {
                *r.status_mut() = StatusCode::BAD_GATEWAY;
            }
            if parts.headers.contains_key("x-switch") {
                *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
                r.headers_mut()
                    .insert(header::UPGRADE, header::HeaderValue::from_static("test"));
            }
            r
        })
    }

    fn refusal(&self, status: u16, _: &'static str, _: &[u8]) -> Response<ResBody> {
        let mut r = Response::new(ResBody::local(Bytes::from_static(b"refused")));
        *r.status_mut() = StatusCode::from_u16(status).unwrap();
        r.headers_mut()
            .insert(header::CONTENT_LENGTH, header::HeaderValue::from_static("7"));
        r
    }
}

const LIMITS: Limits = Limits {
    head: Some((Duration::from_secs(5), "timeout http-request")),
    idle: Some((Duration::from_secs(10), "timeout http-keep-alive")),
    client: Some(Duration::from_secs(30)),
};

/// Serves one connection in a task; the test holds the client's end.
fn start(limits: Limits) -> (DuplexStream, Arc<Echo>, tokio::task::JoinHandle<(End, u64)>) {
    let (client, server) = tokio::io::duplex(1 << 20);
    let svc = Arc::new(Echo::default());
    let task = tokio::spawn(serve(svc.clone(), server, BytesMut::new(), limits, false));
    (client, svc, task)
}

/// Everything the connection sends until it closes.
async fn read_to_close(c: &mut DuplexStream) -> String {
    let mut all = Vec::new();
    c.read_to_end(&mut all).await.unwrap();
    String::from_utf8_lossy(&all).into_owned()
}

/// Reads until `n` responses' worth of `until` appeared.
async fn read_until(c: &mut DuplexStream, until: &str, n: usize) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while String::from_utf8_lossy(&got).matches(until).count() < n {
        let k = c.read(&mut buf).await.unwrap();
        assert!(k > 0, "closed early: {:?}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..k]);
    }
    String::from_utf8(got).unwrap()
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order_on_one_connection() {
    let (mut c, svc, task) = start(LIMITS);
    c.write_all(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b?q=1 HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let got = read_until(&mut c, "]", 2).await;
    let a = got.find("GET /a []").expect(&got);
    let b = got.find("GET /b?q=1 []").expect(&got);
    assert!(a < b, "{got}");
    assert_eq!(got.matches("HTTP/1.1 200 OK\r\n").count(), 2, "{got}");
    assert!(got.contains("content-length: 9\r\n"), "{got}");
    assert!(!got.contains("connection: close"), "{got}");
    // The client closes between requests: a clean end.
    drop(c);
    let (end, n) = task.await.unwrap();
    assert!(matches!(end, End::Closed), "{end:?}");
    assert_eq!(n, 2);
    assert_eq!(svc.served.load(std::sync::atomic::Ordering::Relaxed), 2);
}

#[tokio::test]
async fn a_chunked_request_with_a_length_too_is_served_then_the_connection_closes() {
    let (mut c, _, task) = start(LIMITS);
    // A front proxy going by the Content-Length would take the rest for a second request.
    c.write_all(
        b"POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 46\r\nTransfer-Encoding: chunked\r\n\r\n\
          3\r\nabc\r\n0\r\n\r\nGET /SMUGGLED HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .await
    .unwrap();
    let got = read_to_close(&mut c).await;
    assert!(got.contains("POST /c [abc]"), "{got}");
    assert!(got.contains("connection: close\r\n"), "{got}");
    assert!(!got.contains("SMUGGLED"), "{got}");
    let (end, n) = task.await.unwrap();
    assert!(matches!(end, End::Closed), "{end:?}");
    assert_eq!(n, 1);
}

#[tokio::test]
async fn a_chunked_body_cut_into_tiny_chunks_reaches_the_service_in_few_pieces() {
    let (mut c, svc, task) = start(LIMITS);
    let mut req = b"POST /t HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".to_vec();
    for _ in 0..2000 {
        req.extend_from_slice(b"1\r\nz\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    c.write_all(&req).await.unwrap();
    let got = read_to_close(&mut c).await;
    assert!(got.contains(&format!("POST /t [{}]", "z".repeat(2000))), "{got}");
    let (end, _) = task.await.unwrap();
    assert!(matches!(end, End::Closed), "{end:?}");
    // 2,000 chunks of a byte, sent in one write: a piece per read of the socket, not per chunk.
    let pieces = svc.pieces.load(std::sync::atomic::Ordering::Relaxed);
    assert!((1..=20).contains(&pieces), "{pieces} pieces");
}

#[tokio::test]
async fn request_bodies_by_length_and_chunked_reach_the_service() {
    let (mut c, _, task) = start(LIMITS);
    c.write_all(b"POST /l HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
        .await
        .unwrap();
    c.write_all(
        b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
          3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nTrailer: 1\r\n\r\n",
    )
    .await
    .unwrap();
    c.write_all(b"GET /after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let got = read_to_close(&mut c).await;
    assert!(got.contains("POST /l [hello]"), "{got}");
    assert!(got.contains("POST /c [abcde]"), "{got}");
    assert!(got.contains("GET /after []"), "the body's end was found: {got}");
    assert!(got.ends_with("GET /after []"), "{got}");
    assert!(got.contains("connection: close\r\n"), "{got}");
    let (end, n) = task.await.unwrap();
    assert!(matches!(end, End::Closed), "{end:?}");
    assert_eq!(n, 3);
}

#[tokio::test]
async fn expect_100_continue_is_answered_only_when_the_body_is_read() {
    let (mut c, _, _task) = start(LIMITS);
    c.write_all(b"PUT /u HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
        .await
        .unwrap();
    let interim = read_until(&mut c, "\r\n\r\n", 1).await;
    assert_eq!(interim, "HTTP/1.1 100 Continue\r\n\r\n");
    c.write_all(b"data").await.unwrap();
    let got = read_until(&mut c, "]", 1).await;
    assert!(got.starts_with("HTTP/1.1 200 OK\r\n"), "{got}");
    assert!(got.ends_with("PUT /u [data]"), "{got}");
}

#[tokio::test]
async fn http10_clients_get_keep_alive_only_when_they_ask() {
    let (mut c, _, task) = start(LIMITS);
    c.write_all(b"GET /k HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        .await
        .unwrap();
    let got = read_until(&mut c, "]", 1).await;
    assert!(got.contains("connection: keep-alive\r\n"), "{got}");
    c.write_all(b"GET /c HTTP/1.0\r\n\r\n").await.unwrap();
    let got = read_to_close(&mut c).await;
    assert!(got.ends_with("GET /c []"), "{got}");
    assert!(!got.contains("connection: keep-alive"), "{got}");
    assert_eq!(task.await.unwrap().1, 2);
}

#[tokio::test]
async fn a_head_response_carries_no_body() {
    let (mut c, _, _task) = start(LIMITS);
    c.write_all(b"HEAD /h HTTP/1.1\r\nHost: x\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let got = read_until(&mut c, "]", 1).await;
    assert!(!got.contains("HEAD /h"), "{got}");
    assert_eq!(got.matches("HTTP/1.1 200").count(), 2, "{got}");
    assert!(got.ends_with("GET /next []"), "{got}");
}

#[tokio::test]
async fn unreadable_requests_are_refused_and_the_connection_closed() {
    let cases: [(&[u8], &str); 5] = [
        (b"NOT HTTP AT ALL\r\n\r\n", "HTTP/1.1 400"),
        (b"GET / HTTP/1.1\r\nContent-Length: 1, 2\r\n\r\n", "HTTP/1.1 400"),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", "HTTP/1.1 400"),
        (&[b'a'; 20_000], "HTTP/1.1 414"),
        (b"", "HTTP/1.1 431"),
    ];
    for (i, (input, want)) in cases.into_iter().enumerate() {
        let (mut c, svc, task) = start(LIMITS);
        let owned;
        let input = if i == 3 {
            owned = [b"GET /".as_slice(), input].concat();
            &owned[..]
        } else if i == 4 {
            owned = [b"GET / HTTP/1.1\r\nX-Big: ".as_slice(), &[b'b'; 20_000]].concat();
            &owned[..]
        } else {
            input
        };
        // The proxy may close before it has read all of an oversized head.
        let _ = c.write_all(input).await;
        let got = read_to_close(&mut c).await;
        assert!(got.starts_with(want), "case {i}: {got:?}");
        assert!(got.ends_with("refused"), "case {i}: {got:?}");
        assert!(matches!(task.await.unwrap().0, End::Refused { .. }));
        assert_eq!(svc.served.load(std::sync::atomic::Ordering::Relaxed), 0);
    }
    // More header fields than HAProxy's limit.
    let (mut c, _, _) = start(LIMITS);
    let mut many = b"GET / HTTP/1.1\r\n".to_vec();
    for i in 0..120 {
        many.extend_from_slice(format!("X-H{i}: v\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    c.write_all(&many).await.unwrap();
    assert!(read_to_close(&mut c).await.starts_with("HTTP/1.1 431"));
}

#[tokio::test(start_paused = true)]
async fn a_slow_head_gets_408_and_an_idle_connection_is_closed_silently() {
    let (mut c, _, task) = start(LIMITS);
    c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let got = read_to_close(&mut c).await;
    assert!(got.starts_with("HTTP/1.1 408"), "{got}");
    let (end, _) = task.await.unwrap();
    assert!(
        matches!(
            end,
            End::Timeout {
                why: "timeout http-request",
                answered: true
            }
        ),
        "{end:?}"
    );

    let (mut c, _, task) = start(LIMITS);
    c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let got = read_to_close(&mut c).await;
    assert!(got.ends_with("GET / []"), "answered, then closed when idle: {got}");
    let (end, n) = task.await.unwrap();
    assert!(
        matches!(
            end,
            End::Timeout {
                why: "timeout http-keep-alive",
                answered: false
            }
        ),
        "{end:?}"
    );
    assert_eq!(n, 1);
}

#[tokio::test]
async fn a_client_that_closes_mid_body_fails_the_body() {
    let (mut c, _, task) = start(LIMITS);
    c.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        .await
        .unwrap();
    c.shutdown().await.unwrap();
    let got = read_to_close(&mut c).await;
    assert!(got.starts_with("HTTP/1.1 502"), "{got}");
    assert!(matches!(task.await.unwrap().0, End::BodyFailed(_)));
}

#[tokio::test]
async fn after_101_the_connection_goes_to_the_tunnel_with_early_bytes_first() {
    let (client, server) = tokio::io::duplex(1 << 16);
    let (tx, rx) = tokio::sync::oneshot::channel();
    struct Switch(Mutex<Option<tokio::sync::oneshot::Sender<OnUpgrade>>>);
    impl Service for Switch {
        fn call(self: Arc<Self>, mut req: Request<ReqBody>) -> Pin<Box<dyn Future<Output = Response<ResBody>> + Send>> {
            let up = req.extensions_mut().remove::<OnUpgrade>();
            if let (Some(up), Some(tx)) = (up, self.0.lock().unwrap().take()) {
                let _ = tx.send(up);
            }
            let mut r = Response::new(ResBody::local(Bytes::new()));
            *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
            Box::pin(async move { r })
        }
        fn refusal(&self, _: u16, _: &'static str, _: &[u8]) -> Response<ResBody> {
            unreachable!()
        }
    }
    let svc = Arc::new(Switch(Mutex::new(Some(tx))));
    let task = tokio::spawn(serve(svc, server, BytesMut::new(), LIMITS, false));
    let mut c = client;
    c.write_all(b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: test\r\n\r\nearly")
        .await
        .unwrap();
    let head = read_until(&mut c, "\r\n\r\n", 1).await;
    assert!(head.starts_with("HTTP/1.1 101 Switching Protocols\r\n"), "{head}");
    assert!(!head.contains("content-length"), "{head}");
    let mut tunnel = rx.await.unwrap().connection().await.expect("handed over");
    let mut early = [0u8; 5];
    tunnel.read_exact(&mut early).await.unwrap();
    assert_eq!(&early, b"early");
    tunnel.write_all(b"back").await.unwrap();
    let mut back = [0u8; 4];
    c.read_exact(&mut back).await.unwrap();
    assert_eq!(&back, b"back");
    assert!(matches!(task.await.unwrap().0, End::Upgraded));
}

#[test]
fn chunk_size_lines_are_hex() {
    for (n, want) in [
        (1usize, "1\r\n"),
        (15, "f\r\n"),
        (16, "10\r\n"),
        (0x1234ab, "1234ab\r\n"),
    ] {
        let mut w = BytesMut::new();
        put_chunk_size(&mut w, n);
        assert_eq!(&w[..], want.as_bytes());
    }
}

#[tokio::test]
async fn a_client_that_stops_sending_its_body_is_cut_by_timeout_client() {
    // Real time, short: a connection and a body that kept waking each other would spin
    // until the timer, and the count of polls below would show it.
    let limits = Limits {
        client: Some(Duration::from_millis(300)),
        ..LIMITS
    };
    let (mut c, svc, task) = start(limits);
    c.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        .await
        .unwrap();
    // Nothing more: the body waits for 'timeout client', then fails.
    let got = read_to_close(&mut c).await;
    assert!(
        got.starts_with("HTTP/1.1 502"),
        "the echo service saw its body fail: {got}"
    );
    match task.await.unwrap().0 {
        End::BodyFailed(why) => assert_eq!(why, BODY_TIMEOUT),
        end => panic!("{end:?}"),
    }
    let polls = svc.body_polls.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        polls < 10,
        "the body was polled {polls} times while the client sent nothing"
    );
}

/// Answers every request with a body larger than the connection's buffers.
struct Big;

impl Service for Big {
    fn call(self: Arc<Self>, _: Request<ReqBody>) -> Pin<Box<dyn Future<Output = Response<ResBody>> + Send>> {
        Box::pin(async { Response::new(ResBody::local(Bytes::from(vec![b'x'; 256 * 1024]))) })
    }

    fn refusal(&self, _: u16, _: &'static str, _: &[u8]) -> Response<ResBody> {
        unreachable!()
    }
}

#[tokio::test(start_paused = true)]
async fn a_client_that_stops_reading_the_response_is_cut_by_timeout_client() {
    let (mut c, server) = tokio::io::duplex(4096);
    let task = tokio::spawn(serve(Arc::new(Big), server, BytesMut::new(), LIMITS, false));
    c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    // Read a little, then nothing: the proxy's writes wait, and 'timeout client' ends them.
    let mut some = [0u8; 100];
    c.read_exact(&mut some).await.unwrap();
    assert!(some.starts_with(b"HTTP/1.1 200 OK\r\n"));
    let (end, _) = task.await.unwrap();
    assert!(
        matches!(
            end,
            End::Timeout {
                why: "timeout client",
                answered: false
            }
        ),
        "{end:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_timer_set_for_an_earlier_request_does_not_cut_a_later_one() {
    let (mut c, _, task) = start(LIMITS);
    c.write_all(b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    read_until(&mut c, "GET /1 []", 1).await;
    // The connection's timer now waits for the first idle limit: 10 s from here.
    tokio::time::sleep(Duration::from_secs(6)).await;
    c.write_all(b"GET /2 HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    read_until(&mut c, "GET /2 []", 1).await;
    // Past the first idle limit, within the second (16 s from the start).
    tokio::time::sleep(Duration::from_secs(8)).await;
    c.write_all(b"GET /3 HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let start = Instant::now();
    let got = read_to_close(&mut c).await;
    assert!(got.ends_with("GET /3 []"), "still open after 14 s: {got}");
    let (end, n) = task.await.unwrap();
    assert!(
        matches!(
            end,
            End::Timeout {
                why: "timeout http-keep-alive",
                ..
            }
        ),
        "{end:?}"
    );
    assert_eq!(n, 3);
    assert_eq!(
        start.elapsed(),
        Duration::from_secs(10),
        "closed by the idle limit after the last request"
    );
}

/// A client connection that counts the calls to `ack_now` (shared with the HTTP/2 side's
/// tests).
pub(crate) struct CountsAcks(pub DuplexStream, pub Arc<std::sync::atomic::AtomicUsize>);

impl AsyncRead for CountsAcks {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for CountsAcks {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl ClientSocket for CountsAcks {
    fn ack_now(&self) {
        self.1.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

#[tokio::test]
async fn a_request_body_still_to_come_is_acknowledged_at_once() {
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    let (mut c, server) = tokio::io::duplex(1 << 16);
    let acks = Arc::new(AtomicUsize::new(0));
    let io = CountsAcks(server, acks.clone());
    let _task = tokio::spawn(serve(Arc::new(Echo::default()), io, BytesMut::new(), LIMITS, true));
    // No body, and a body that came with its head: nothing to hurry.
    c.write_all(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    read_until(&mut c, "GET /a []", 1).await;
    c.write_all(b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
        .await
        .unwrap();
    read_until(&mut c, "POST /b [abc]", 1).await;
    c.write_all(b"POST /b2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n")
        .await
        .unwrap();
    read_until(&mut c, "POST /b2 [ok]", 1).await;
    assert_eq!(acks.load(Relaxed), 0);
    // Heads whose bodies follow later, with a length and chunked.
    for (n, (head, body, answer)) in [
        (
            "POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n",
            "xyz",
            "POST /c [xyz]",
        ),
        (
            "POST /d HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
            "2\r\nok\r\n0\r\n\r\n",
            "POST /d [ok]",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        c.write_all(head.as_bytes()).await.unwrap();
        // The head is read (and the ACK asked for) before the body is sent.
        for _ in 0..1000 {
            if acks.load(Relaxed) > n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(acks.load(Relaxed), n + 1, "{head}");
        c.write_all(body.as_bytes()).await.unwrap();
        read_until(&mut c, answer, 1).await;
    }
    // A connection that started with quick ACKs (no tcp-smart-accept) is left as it is.
    let (mut c, server) = tokio::io::duplex(1 << 16);
    let quick = Arc::new(AtomicUsize::new(0));
    let io = CountsAcks(server, quick.clone());
    let _task = tokio::spawn(serve(Arc::new(Echo::default()), io, BytesMut::new(), LIMITS, false));
    c.write_all(b"POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    c.write_all(b"xyz").await.unwrap();
    read_until(&mut c, "POST /e [xyz]", 1).await;
    assert_eq!(quick.load(Relaxed), 0);
}
