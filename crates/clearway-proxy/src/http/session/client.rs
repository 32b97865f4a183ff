//! A client connection before and around its requests: its first bytes (read at once when
//! there, else waited for within `timeout http-request`), the choice of protocol
//! (`client_h1` serves HTTP/1.x; hyper serves HTTP/2, for a client that starts with its
//! preface or TLS whose ALPN chose h2), and the client-side timeouts of HTTP/2 connections,
//! which follow their requests' activity. Must not route requests (`Session` does).

use super::Session;
use crate::acl::ConnSamples;
use crate::counted::Counted;
use crate::http::body::{Done, ResBody};
use crate::http::client_h1;
use crate::http::pool::ReqBody;
use crate::http::prefixed::Prefixed;
use crate::model::Frontend;
use http::Request;
use hyper::body::{Body as _, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

const NONE: u64 = u64::MAX;

/// What the client side did when: for the timeouts.
pub(super) struct Activity {
    start: Instant,
    /// Last byte read or written, in ms since `start`.
    last_ms: AtomicU64,
    /// When the first byte of a request head arrived (NONE: no head being read).
    head_ms: AtomicU64,
    in_flight: AtomicUsize,
    requests: AtomicU64,
    /// A request's body is still to come: the connection is to acknowledge at once again
    /// (`option tcp-smart-accept` started it with delayed ACKs), done at its next read.
    ack_wanted: AtomicBool,
}

impl Activity {
    fn now(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    fn read_some(&self) {
        let now = self.now();
        self.last_ms.store(now, Ordering::Relaxed);
        if self.in_flight.load(Ordering::Relaxed) == 0 && self.head_ms.load(Ordering::Relaxed) == NONE {
            self.head_ms.store(now, Ordering::Relaxed);
        }
    }

    /// A request head is complete: returns its index in the session.
    pub(super) fn begin(&self) -> u64 {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.head_ms.store(NONE, Ordering::Relaxed);
        self.requests.fetch_add(1, Ordering::Relaxed)
    }

    /// When the client side expires and why; None: not now (a request is being served, and
    /// the server side's timeouts apply).
    fn deadline(&self, t: &client_h1::Limits) -> Option<(Instant, &'static str)> {
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            return None;
        }
        let ms = |v: u64| self.start + Duration::from_millis(v);
        if let Some(d) = self.head_deadline(t) {
            return Some(d);
        }
        let last = ms(self.last_ms.load(Ordering::Relaxed));
        let (limit, why) = if self.requests.load(Ordering::Relaxed) == 0 {
            t.head?
        } else {
            t.idle?
        };
        Some((last + limit, why))
    }
}

impl Activity {
    /// When the request head being received must be complete, if one is.
    fn head_deadline(&self, t: &client_h1::Limits) -> Option<(Instant, &'static str)> {
        let head = self.head_ms.load(Ordering::Relaxed);
        if head == NONE || self.in_flight.load(Ordering::Relaxed) > 0 {
            return None;
        }
        let (limit, why) = t.head?;
        Some((self.start + Duration::from_millis(head) + limit, why))
    }
}

fn pick(
    a: Option<Duration>,
    wa: &'static str,
    b: Option<Duration>,
    wb: &'static str,
) -> Option<(Duration, &'static str)> {
    a.map(|d| (d, wa)).or(b.map(|d| (d, wb)))
}

impl Done for Activity {
    fn done(&self) {
        self.last_ms.store(self.now(), Ordering::Relaxed);
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A frontend's client-side time limits, each with the keyword that set it: the same for
/// HTTP/1 (`client_h1`) and HTTP/2 connections (the watchdog).
fn client_limits(fe: &Frontend) -> client_h1::Limits {
    let t = fe.timeouts;
    let idle_why = if t.http_keep_alive.is_some() {
        "timeout http-keep-alive"
    } else {
        "timeout http-request"
    };
    client_h1::Limits {
        head: pick(t.http_request, "timeout http-request", t.client, "timeout client"),
        idle: pick(
            t.http_keep_alive.or(t.http_request),
            idle_why,
            t.client,
            "timeout client",
        ),
        client: t.client,
    }
}

/// An HTTP/2 client connection, noting activity for the timeouts. (A request head that
/// does not come in time closes the connection: HTTP/2 has no 408 to send before a stream.)
struct Watched<IO> {
    io: IO,
    act: Arc<Activity>,
}

impl<IO: AsyncRead + AsyncWrite + client_h1::ClientSocket + Unpin> AsyncRead for Watched<IO> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        // hyper reads on after handing a new stream to the service, so a wanted ACK goes out
        // before the client waits for it.
        if self.act.ack_wanted.load(Ordering::Relaxed) && self.act.ack_wanted.swap(false, Ordering::Relaxed) {
            self.io.ack_now();
        }
        let before = buf.filled().len();
        let r = Pin::new(&mut self.io).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.act.read_some();
        }
        r
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Watched<IO> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.act.last_ms.store(self.act.now(), Ordering::Relaxed);
        }
        r
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.act.last_ms.store(self.act.now(), Ordering::Relaxed);
        }
        r
    }
    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// Serves a plain-TCP client connection once its first bytes arrive, within
/// `timeout http-request` (else `timeout client`); a client that sends nothing in time is
/// closed silently. They are read at once when already there; otherwise no buffer is held
/// while the client keeps quiet. `hold` (the connection's permits) goes when it ends.
///
/// This is a connection's task, copied whole as it is spawned, so it is kept small: a plain
/// function around an `async` block holds its arguments once (an `async fn` keeps them twice),
/// and the wait for a quiet client, with its timer, is boxed.
#[allow(clippy::manual_async_fn, reason = "an async fn would hold its arguments twice")]
pub fn serve_once_readable<H: Send + 'static>(
    fe: Arc<Frontend>,
    client: std::net::TcpStream,
    conn: ConnSamples,
    hold: H,
) -> impl Future<Output = ()> + Send + 'static {
    async move {
        let deadline = first_deadline(&fe);
        let mut client = crate::http::client_io::ClientIo::new(client);
        let mut first = bytes::BytesMut::with_capacity(FIRST_READ);
        // One try at once, as the request usually came with the handshake (HAProxy reads at
        // once too); the event loop would otherwise wait for the kernel's word first.
        let read = std::future::poll_fn(|cx| {
            Poll::Ready(tokio_util::io::poll_read_buf(Pin::new(&mut client), cx, &mut first))
        })
        .await;
        let first = match read {
            Poll::Ready(Ok(0)) => return,
            Poll::Ready(Ok(_)) => first,
            Poll::Pending => {
                drop(first);
                match Box::pin(first_bytes(&fe, &mut client, &conn, deadline)).await {
                    Some(b) => b,
                    None => return,
                }
            }
            Poll::Ready(Err(_)) => return,
        };
        client.count_into(fe.tally(&conn), first.len());
        Box::pin(serve_first(fe, client, conn, first, deadline)).await;
        drop(hold);
    }
}

/// Waits for a quiet client's first bytes; None: it closed, failed or sent nothing before
/// `deadline` (logged).
async fn first_bytes(
    fe: &Frontend,
    client: &mut crate::http::client_io::ClientIo,
    conn: &ConnSamples,
    deadline: Option<(Instant, &'static str)>,
) -> Option<bytes::BytesMut> {
    let client = match client.registered() {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(frontend = %fe.name, client = %conn.peer, "cannot register the client connection: {e}");
            return None;
        }
    };
    loop {
        let ready = match deadline {
            None => client.readable().await,
            Some((at, why)) => match tokio::time::timeout_at(at, client.readable()).await {
                Ok(r) => r,
                Err(_) => {
                    tracing::info!(frontend = %fe.name, client = %conn.peer, requests = 0, "client connection closed: {why}");
                    return None;
                }
            },
        };
        ready.ok()?;
        let mut buf = bytes::BytesMut::with_capacity(FIRST_READ);
        match client.try_read_buf(&mut buf) {
            Ok(0) => return None,
            Ok(_) => return Some(buf),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(_) => return None,
        }
    }
}

/// Serves a TLS client connection: HTTP/2 when ALPN chose it, else by its first bytes.
pub async fn serve<IO>(fe: Arc<Frontend>, client: IO, conn: ConnSamples)
where
    IO: AsyncRead + AsyncWrite + client_h1::ClientSocket + Unpin + Send + 'static,
{
    let mut client = Counted::new(client, fe.tally(&conn));
    if conn.tls.as_ref().and_then(|t| t.alpn.as_deref()) == Some(b"h2") {
        return serve_hyper(fe, client, conn).await;
    }
    let deadline = first_deadline(&fe);
    let mut first = bytes::BytesMut::with_capacity(FIRST_READ);
    if !read_more(&fe, &conn, &mut client, &mut first, deadline).await {
        return;
    }
    serve_first(fe, client, conn, first, deadline).await
}

/// When a new connection's first request must have begun, and the keyword that says so.
fn first_deadline(fe: &Frontend) -> Option<(Instant, &'static str)> {
    client_limits(fe).head.map(|(d, why)| (Instant::now() + d, why))
}

/// Reads more of a connection's first bytes before `deadline`; false: the client closed, or
/// sent nothing in time (logged), or the read failed.
async fn read_more<IO: AsyncRead + Unpin>(
    fe: &Frontend,
    conn: &ConnSamples,
    io: &mut IO,
    buf: &mut bytes::BytesMut,
    deadline: Option<(Instant, &'static str)>,
) -> bool {
    use tokio::io::AsyncReadExt;
    let r = match deadline {
        None => io.read_buf(buf).await,
        Some((at, why)) => match tokio::time::timeout_at(at, io.read_buf(buf)).await {
            Ok(r) => r,
            Err(_) => {
                tracing::info!(frontend = %fe.name, client = %conn.peer, requests = 0, "client connection closed: {why}");
                return false;
            }
        },
    };
    matches!(r, Ok(n) if n > 0)
}

/// Serves a connection by its first bytes: HTTP/2 if they are its preface (RFC 9113, 3.4),
/// HTTP/1 otherwise.
async fn serve_first<IO>(
    fe: Arc<Frontend>,
    mut io: IO,
    conn: ConnSamples,
    mut first: bytes::BytesMut,
    deadline: Option<(Instant, &'static str)>,
) where
    IO: AsyncRead + AsyncWrite + client_h1::ClientSocket + Unpin + Send + 'static,
{
    // A few bytes that could still be the preface (or "PUT"): read on until it is clear.
    while first.len() < H2_PREFACE.len() && H2_PREFACE.starts_with(&first) {
        if !read_more(&fe, &conn, &mut io, &mut first, deadline).await {
            return;
        }
    }
    if first.starts_with(H2_PREFACE) {
        // Boxed: hyper's connection state is large, and an HTTP/1 connection should not
        // carry (and move) room for it.
        return Box::pin(serve_hyper(fe, Prefixed::new(first.freeze(), io), conn)).await;
    }
    let limits = client_limits(&fe);
    let peer = conn.peer;
    let s = Arc::new(Session::new(fe.clone(), conn, None));
    let (end, n) = client_h1::serve(s, io, first, limits, fe.smart_accept).await;
    use client_h1::End;
    match end {
        End::Closed | End::Upgraded => {}
        End::Timeout { why, answered: true } => {
            tracing::info!(frontend = %fe.name, client = %peer, requests = n, "client connection closed: {why}, 408 sent")
        }
        End::Timeout { why, answered: false } => {
            tracing::info!(frontend = %fe.name, client = %peer, requests = n, "client connection closed: {why}")
        }
        End::Refused { status, why } => {
            tracing::info!(frontend = %fe.name, client = %peer, "request refused: {why} ({status} sent)")
        }
        End::BodyFailed(why) => tracing::info!(frontend = %fe.name, client = %peer, "client connection closed: {why}"),
        End::Io(e) => tracing::debug!(frontend = %fe.name, client = %peer, "client connection ended: {e}"),
        End::CutShort => {
            tracing::debug!(frontend = %fe.name, client = %peer, "client connection closed after a response cut short")
        }
    }
}

/// What a plain client connection's first read takes: a whole usual request head.
const FIRST_READ: usize = 4096;
/// What an HTTP/2 client sends first (RFC 9113, 3.4).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Serves an HTTP/2 client connection with hyper.
pub(super) async fn serve_hyper<IO>(fe: Arc<Frontend>, client: IO, conn: ConnSamples)
where
    IO: AsyncRead + AsyncWrite + client_h1::ClientSocket + Unpin + Send + 'static,
{
    let peer = conn.peer;
    let act = Arc::new(Activity {
        start: Instant::now(),
        last_ms: AtomicU64::new(0),
        head_ms: AtomicU64::new(NONE),
        in_flight: AtomicUsize::new(0),
        requests: AtomicU64::new(0),
        ack_wanted: AtomicBool::new(false),
    });
    let s = Arc::new(Session::new(fe.clone(), conn, Some(act.clone())));
    let limits = client_limits(&fe);
    let (svc_act, smart_accept) = (act.clone(), fe.smart_accept);
    let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
        // As for HTTP/1: a body still to come should not wait for delayed ACKs.
        if smart_accept && !req.body().is_end_stream() {
            svc_act.ack_wanted.store(true, Ordering::Relaxed);
        }
        let head = req.method() == http::Method::HEAD;
        let res = s.clone().handle(req.map(ReqBody::H2));
        async move {
            let mut res = res.await;
            // hyper sends the body it is given: a HEAD's answer goes without the one its
            // server sent (the request went there as a GET).
            if head && !res.body().is_end_stream() {
                let body = std::mem::replace(res.body_mut(), ResBody::local(bytes::Bytes::new()));
                body.discard().await;
            }
            Ok::<_, Infallible>(res)
        }
    });
    let io = TokioIo::new(Watched {
        io: client,
        act: act.clone(),
    });
    // Responses pass on the server's Date, and Clearway's own (errors, redirects, `return`)
    // carry none, as HAProxy's: no Date is added, and no clock is read for it per response.
    let conn = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
        .auto_date_header(false)
        // WebSocket over HTTP/2 (RFC 8441): extended CONNECT is taken, and passed to
        // HTTP/1.1 servers as an upgrade.
        .enable_connect_protocol()
        // Flow-control windows start at HTTP/2's default (no WINDOW_UPDATE before the first
        // request, as HAProxy) and grow with the measured bandwidth-delay product.
        .adaptive_window(true)
        .serve_connection(io, svc);
    drive(conn, &fe, peer, &act, limits).await
}

/// Runs hyper's connection `conn` beside the watchdog of the client-side timeouts.
async fn drive<E: std::fmt::Display>(
    conn: impl Future<Output = Result<(), E>>,
    fe: &Frontend,
    peer: std::net::SocketAddr,
    act: &Activity,
    limits: client_h1::Limits,
) {
    let watchdog = async {
        let idle_check = [limits.client, limits.head.map(|h| h.0), limits.idle.map(|i| i.0)]
            .into_iter()
            .flatten()
            .min();
        loop {
            match act.deadline(&limits) {
                Some((at, why)) if at <= Instant::now() => return why,
                // The deadline may move earlier meanwhile (the first request's limit gives way
                // to the keep-alive one): look again at least at the pace of the shortest timeout.
                Some((at, _)) => {
                    let next = idle_check.map_or(at, |d| at.min(Instant::now() + d));
                    tokio::time::sleep_until(next).await
                }
                // Busy: look again later, at the pace of the shortest timeout.
                None => match idle_check {
                    Some(d) => tokio::time::sleep(d).await,
                    None => std::future::pending::<()>().await,
                },
            }
        }
    };
    tokio::select! {
        r = conn => if let Err(e) = r {
            tracing::debug!(frontend = %fe.name, client = %peer, "client connection ended: {e}");
        },
        why = watchdog => {
            let n = act.requests.load(Ordering::Relaxed);
            tracing::info!(frontend = %fe.name, client = %peer, requests = n, "client connection closed: {why}");
        }
    }
}
