//! One HTTP client connection: `client_h1` serves HTTP/1.x, hyper serves HTTP/2 (a client
//! that starts with the HTTP/2 preface, or TLS whose ALPN chose h2). Each request goes
//! through the frontend's rules, the backend choice, the backend's rules, a reused or new
//! server connection, and back through the response rules. Owns the choice of protocol and
//! the client-side timeouts of HTTP/2 connections; must not pick servers itself.

use super::body::{Done, DoneGuard, Lease, ResBody};
use super::client_h1;
use super::decode::HOP_BY_HOP;
use super::h1;
use super::pool::{Key, Pool, ReqBody, Sender};
use super::prefixed::Prefixed;
use super::rules::{forward_for, Verdict};
use crate::acl::ConnSamples;
use crate::dispatch::{self, ClientSide, Got};
use crate::frontend::Frontend;
use crate::runtime::Backend;
use clearway_config::model::{HttpConnMode, HttpReuse, UseSrc};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Request, Response, Uri, Version};
use hyper::body::{Body as _, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

/// The most a request's head may take (request line plus headers), as HAProxy's default
/// `tune.bufsize` 16384 less `tune.maxrewrite` 1024 leaves: a longer URI is refused with 414,
/// longer headers with 431.
pub const MAX_HEAD: usize = 16384 - 1024;
/// The largest response head taken from a server (502 above it).
const READ_BUF: usize = 64 * 1024;

const NONE: u64 = u64::MAX;

/// What the client side did when: for the timeouts.
struct Activity {
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
    fn begin(&self) -> u64 {
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

impl<IO: AsyncRead + AsyncWrite + client_h1::AckNow + Unpin> AsyncRead for Watched<IO> {
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

/// One client connection's state shared by its requests.
struct Session {
    fe: Arc<Frontend>,
    conn: ConnSamples,
    /// HTTP/2 connections' timeouts follow their requests through it; an HTTP/1
    /// connection's are kept by `client_h1`, which needs none of it.
    act: Option<Arc<Activity>>,
    /// Requests begun so far.
    requests: AtomicU64,
    /// Server connections private to this session (`http-reuse never`).
    own: std::sync::OnceLock<Arc<Pool>>,
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
        let mut client = super::client_io::ClientIo::new(client);
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
        Box::pin(serve_first(fe, client, conn, first, deadline)).await;
        drop(hold);
    }
}

/// Waits for a quiet client's first bytes; None: it closed, failed or sent nothing before
/// `deadline` (logged).
async fn first_bytes(
    fe: &Frontend,
    client: &mut super::client_io::ClientIo,
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
pub async fn serve<IO>(fe: Arc<Frontend>, mut client: IO, conn: ConnSamples)
where
    IO: AsyncRead + AsyncWrite + client_h1::AckNow + Unpin + Send + 'static,
{
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
    IO: AsyncRead + AsyncWrite + client_h1::AckNow + Unpin + Send + 'static,
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
async fn serve_hyper<IO>(fe: Arc<Frontend>, client: IO, conn: ConnSamples)
where
    IO: AsyncRead + AsyncWrite + client_h1::AckNow + Unpin + Send + 'static,
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
        let res = s.clone().handle(req.map(ReqBody::H2));
        async move { Ok::<_, Infallible>(res.await) }
    });
    let io = TokioIo::new(Watched {
        io: client,
        act: act.clone(),
    });
    // Responses pass on the server's Date, and Clearway's own (errors, redirects, `return`)
    // carry none, as HAProxy's: no Date is added, and no clock is read for it per response.
    let conn = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
        .auto_date_header(false)
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

/// Whether a header is one of `HOP_BY_HOP`. (Names in a HeaderMap are lower case.)
fn is_hop(k: &HeaderName) -> bool {
    HOP_BY_HOP.contains(&k.as_str())
}

fn strip_hop_by_hop(h: &mut HeaderMap) {
    // One pass over the names finds those present (usually none in a request, Connection
    // alone in a response), instead of a lookup for each name that could be. They are noted
    // on the stack: a HeaderMap yields each name once, so there are at most `HOP_BY_HOP.len()`.
    let mut found: [Option<HeaderName>; HOP_BY_HOP.len()] = Default::default();
    let mut n = 0;
    for k in h.keys().filter(|k| is_hop(k)) {
        found[n] = Some(k.clone());
        n += 1;
        if n == found.len() {
            break;
        }
    }
    if n == 0 {
        return;
    }
    // Headers the Connection header names are hop-by-hop too. The usual tokens (close,
    // keep-alive, upgrade) name nothing more, and cost no allocation.
    let named: Vec<HeaderName> = h
        .get_all(header::CONNECTION)
        .iter()
        .flat_map(|v| super::decode::tokens(v.as_bytes()))
        .filter(|t| super::decode::names_a_header(t))
        .filter_map(|t| HeaderName::from_bytes(t).ok())
        .collect();
    for k in found.iter().flatten().chain(&named) {
        h.remove(k);
    }
}

fn head_size(req: &http::request::Parts) -> usize {
    let line = req.method.as_str().len() + req.uri.path_and_query().map_or(1, |p| p.as_str().len()) + 12;
    line + req
        .headers
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum::<usize>()
}

/// The client address a server connection comes from, when it is spoofed per client: part
/// of the key under which the connection may be reused.
fn spoofed_source(be: &Backend, server: usize, client: IpAddr, hdr_ip: Option<IpAddr>) -> Option<IpAddr> {
    match be.rt.servers[server].source.as_ref()?.usesrc.as_ref()? {
        UseSrc::Client | UseSrc::ClientIp => Some(client),
        UseSrc::HdrIp { .. } => hdr_ip,
        UseSrc::Addr(_) => None,
    }
}

/// What sending a request on an HTTP/2 server connection came to.
enum H2Sent {
    /// The server's response, and the connection for the pool.
    Answered(Response<Incoming>, hyper::client::conn::http2::SendRequest<ReqBody>),
    /// The connection was closed before it took the request: its body, to try another.
    Again(ReqBody),
    /// The status to answer the client with (502 or 504), logged.
    Refused(u16),
}

impl Session {
    fn new(fe: Arc<Frontend>, conn: ConnSamples, act: Option<Arc<Activity>>) -> Session {
        Session {
            fe,
            conn,
            act,
            requests: AtomicU64::new(0),
            own: std::sync::OnceLock::new(),
        }
    }

    /// The session's own idle server connections (`http-reuse never`), made on first use:
    /// most sessions never need one.
    fn own(&self) -> &Arc<Pool> {
        self.own
            .get_or_init(|| Arc::new(Pool::new(4, Duration::from_secs(3600), 1)))
    }

    fn error(&self, be: Option<&Backend>, status: u16) -> Response<ResBody> {
        match be {
            Some(b) => b.http.errors.response(Some(&self.fe.http.errors), status),
            None => self.fe.http.errors.response(None, status),
        }
    }

    /// One request. Only `route` is awaited; what comes before and after is plain code, so the
    /// future kept (and moved) per request holds little besides `route`'s.
    fn handle(self: Arc<Self>, req: Request<ReqBody>) -> impl Future<Output = Response<ResBody>> + Send {
        let index = self.requests.fetch_add(1, Ordering::Relaxed);
        let done = self.act.as_ref().map(|a| {
            a.begin();
            DoneGuard::new(a.clone())
        });
        // Moved into the block as they are: a `let mut` copy inside would hold the head twice.
        let (mut parts, body) = req.into_parts();
        async move {
            let (mut res, be) = self.route(index, &mut parts, body).await;
            self.respond(&mut res, be.as_deref(), &parts, done);
            super::decode::recycle(std::mem::take(&mut parts.headers));
            res
        }
    }

    /// The last touches to a response, in place (a response is a few hundred bytes to copy).
    fn respond(
        &self,
        res: &mut Response<ResBody>,
        be: Option<&Backend>,
        req: &http::request::Parts,
        done: Option<DoneGuard>,
    ) {
        let close =
            be.map_or(self.fe.http.conn_mode, |b| b.http.conn_mode.max(self.fe.http.conn_mode)) == HttpConnMode::Close;
        if close && req.version != Version::HTTP_2 && res.status() != http::StatusCode::SWITCHING_PROTOCOLS {
            res.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        tracing::debug!(
            frontend = %self.fe.name, backend = be.map_or("-", |b| b.rt.name.as_str()),
            client = %self.conn.peer, method = %req.method, uri = %req.uri, status = res.status().as_u16(),
            "request"
        );
        res.body_mut().set_done(done);
    }

    /// The response to one request, and the backend that handled it, if any.
    async fn route(
        &self,
        index: u64,
        parts: &mut http::request::Parts,
        body: ReqBody,
    ) -> (Response<ResBody>, Option<Arc<Backend>>) {
        let fe = &self.fe;
        // An HTTP/1 head longer than this was refused before it was parsed (client_h1);
        // HTTP/2 heads are measured here.
        if parts.version == Version::HTTP_2 {
            let uri_len = parts.uri.path_and_query().map_or(0, |p| p.as_str().len());
            if uri_len > MAX_HEAD {
                tracing::info!(frontend = %fe.name, client = %self.conn.peer, "request refused: URI of {uri_len} bytes");
                return (self.error(None, 414), None);
            }
            let size = head_size(parts);
            if size > MAX_HEAD {
                tracing::info!(frontend = %fe.name, client = %self.conn.peer, "request refused: headers of {size} bytes");
                return (self.error(None, 431), None);
            }
        }
        // HTTP/2 names the host in the request target; servers get it as a Host header. A
        // `host` field beside `:authority` yields to it (RFC 9113, 8.3.1), so that rules see
        // the host the server will. (HTTP/1's absolute targets were checked on arrival.)
        if parts.version == Version::HTTP_2 || !parts.headers.contains_key(header::HOST) {
            if let Some(a) = parts
                .uri
                .authority()
                .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
            {
                parts.headers.insert(header::HOST, a);
            }
        }
        if let Verdict::Respond(r) = fe.http.on_request(parts, &self.conn, None) {
            return (*r, None);
        }
        let chosen = fe
            .choose_backend(&super::samples::ReqSamples {
                conn: &self.conn,
                req: parts,
            })
            .cloned();
        let Some(be) = chosen else {
            tracing::warn!(frontend = %fe.name, client = %self.conn.peer, "no backend for this request");
            return (self.error(None, 503), None);
        };
        // A listen section's rules were run as the frontend's.
        if let Verdict::Respond(r) = be.http.on_request(parts, &self.conn, Some(&fe.http.errors)) {
            return (*r, Some(be));
        }
        let res = self.forward(index, &be, parts, body).await;
        (res, Some(be))
    }

    async fn forward(
        &self,
        index: u64,
        be: &Arc<Backend>,
        parts: &mut http::request::Parts,
        body: ReqBody,
    ) -> Response<ResBody> {
        let fe = &self.fe;
        // A client that closes after this request (`Connection: close`, or HTTP/1.0 without
        // keep-alive) does not make the server close, as in HAProxy. Its HTTP/1.1 server
        // connection is not pooled (HAProxy keeps it idle when its estimate of the
        // connections needed allows; without one, a stream of closing clients would fill the
        // pool with connections nobody takes): once the response is in, it is reset
        // (`server_io`), which leaves no TIME_WAIT on either side and spares the server a FIN.
        let (client_closes, upgrade) = client_connection(parts);
        let mode = be.http.conn_mode.max(fe.http.conn_mode);
        // The backend's forwardfor wins over the frontend's, as one header is enough.
        let ff = be.http.forwardfor.as_ref().or(fe.http.forwardfor.as_ref());
        let uri = origin_form(&parts.uri);
        let hdr_ip = be.hdr_ip.as_ref().and_then(|h| {
            h.pick(&super::samples::ReqSamples {
                conn: &self.conn,
                req: parts,
            })
        });
        // The request's headers are only copied when something reads them after they are
        // sent: response rules, or an SNI taken from the request.
        let mut headers = super::decode::Reused::new(
            if fe.http.reads_request_later() || be.http.reads_request_later() || be.sni_from_request {
                parts.headers.clone()
            } else {
                std::mem::take(&mut parts.headers)
            },
        );
        strip_hop_by_hop(&mut headers);
        forward_for(ff, &mut headers, self.conn.peer.ip());
        // An HTTP/1.1 upgrade (WebSocket): the two hop-by-hop headers that ask for it go on.
        if let Some(proto) = &upgrade {
            headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
            headers.insert(header::UPGRADE, proto.clone());
        } else if mode != HttpConnMode::KeepAlive {
            headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        let raw_response =
            parts.version != Version::HTTP_2 && !fe.http.has_response_rules() && !be.http.has_response_rules();
        let client_upgrade = upgrade
            .is_some()
            .then(|| parts.extensions.remove::<client_h1::OnUpgrade>())
            .flatten();

        let side = ClientSide {
            peer: self.conn.peer,
            local: self.conn.local,
            hdr_ip,
            data_waiting: true,
        };
        let reuse = be.http.reuse;
        let shared = match reuse {
            HttpReuse::Never => false,
            HttpReuse::Safe => index > 0,
            HttpReuse::Aggressive | HttpReuse::Always => true,
        };
        let sni_of = |server: usize| -> Option<Arc<str>> {
            let f = be.tls[server].as_ref()?.sni_fetch.as_ref()?;
            let s = super::samples::ReqSamples {
                conn: &self.conn,
                req: parts,
            };
            let v = crate::acl::Samples::text(&s, f)?;
            // A Host header's port is no part of a name.
            let host = match v.rsplit_once(':') {
                Some((h, p)) if !h.contains(':') && p.bytes().all(|b| b.is_ascii_digit()) => h,
                _ => v.as_str(),
            };
            Some(Arc::from(host.to_ascii_lowercase()))
        };
        let key = |server: usize| Key {
            backend: be.id,
            server,
            source: spoofed_source(be, server, self.conn.peer.ip(), hdr_ip),
            sni: sni_of(server),
        };
        let home = match (mode, reuse) {
            // A session's own pool is made only for a connection it will give back.
            (HttpConnMode::KeepAlive, HttpReuse::Never) if client_closes => None,
            (HttpConnMode::KeepAlive, HttpReuse::Never) => Some(self.own().clone()),
            (HttpConnMode::KeepAlive, _) => Some(be.pool.clone()),
            _ => None,
        };
        // An empty body can go again if a reused connection turns out closed; one that was
        // streamed to a server cannot.
        let mut body = Some(if body.is_end_stream() { ReqBody::Empty } else { body });
        for attempt in 0..2 {
            // An idle connection: the session's own with `http-reuse never`, else the backend's
            // (not for a session's first request with `safe`). A closing client's last request
            // may take one too, though it does not give it back.
            let take = |server: usize| {
                if attempt > 0 || mode != HttpConnMode::KeepAlive {
                    return None;
                }
                match reuse {
                    HttpReuse::Never => self.own.get()?.take(&key(server)),
                    _ if shared => be.pool.take(&key(server)),
                    _ => None,
                }
            };
            // The usual case takes no future; waiting in the queue or connecting does, boxed
            // so that this request's own future stays small.
            let got = match dispatch::reuse_now(be, side, take) {
                dispatch::Now::Reused(slot, sender) => Ok(Got::Reused(slot, sender)),
                dispatch::Now::Slot(slot) => Box::pin(dispatch::connect_or_reuse(be, side, Some(slot), take)).await,
                dispatch::Now::Wait => Box::pin(dispatch::connect_or_reuse(be, side, None, take)).await,
            };
            let (slot, sender, reused) = match got {
                Ok(Got::Reused(slot, sender)) => (slot, sender, true),
                // A plain HTTP/1.1 server: no TLS and no HTTP/2 handshake to wait for, so no
                // future (and no copy of one into a box) per new server connection.
                Ok(Got::New(c)) if be.tls[c.slot.server].is_none() && !be.h2[c.slot.server] => {
                    let stream: Box<dyn crate::session::ServerStream> = Box::new(c.stream);
                    (c.slot, Sender::H1(h1::Conn::new(stream, READ_BUF)), false)
                }
                Ok(Got::New(c)) => {
                    let sni = sni_of(c.slot.server);
                    match Box::pin(self.open(be, c, sni)).await {
                        Ok((slot, sender)) => (slot, sender, false),
                        Err(res) => return res,
                    }
                }
                Err(e) => {
                    tracing::warn!(frontend = %fe.name, backend = %be.rt.name, client = %self.conn.peer, "request refused: {e}");
                    // As HAProxy: no server, a full queue and failed connects all answer 503.
                    return self.error(Some(be), 503);
                }
            };
            let server = slot.server;
            // A closing client's server connection goes back to the backend's pool too, as in
            // HAProxy: the pool's estimate of the connections needed bounds what stays idle.
            let lease = |slot| Lease {
                key: key(server),
                home: home.clone(),
                slot,
            };
            let req_body = body.take().unwrap_or(ReqBody::Empty);
            match sender {
                Sender::H1(conn) => {
                    let head = h1::Head {
                        method: &parts.method,
                        uri: &uri,
                        headers: &headers,
                        // An HTTP/1 client gets the server's header lines as they came when no
                        // response rule reads them; an HTTP/2 client's goes through hyper,
                        // which needs the header map.
                        raw: raw_response,
                    };
                    // `timeout server` runs on the connection's own timer.
                    match conn.send(head, req_body, be.rt.timeouts.server).await {
                        Ok((rp, rb)) if rp.status == http::StatusCode::SWITCHING_PROTOCOLS => {
                            return self.tunnel(be, rp, client_upgrade, slot, rb);
                        }
                        Ok((rp, rb)) => {
                            let rb = rb.with_idle_timeout(be.rt.timeouts.server);
                            return self.on_response(be, parts, rp, ResBody::h1(rb, lease(slot)));
                        }
                        Err(f) if f.replayable && reused && attempt == 0 && idempotent(&parts.method) => {
                            tracing::debug!(backend = %be.rt.name, "idle server connection was closed: {}; using a new one", f.error);
                        }
                        // The client's fault, not the server's: 408 when it stopped sending,
                        // 400 otherwise (as HAProxy answers a request it could not read).
                        Err(h1::Failed {
                            error: h1::Error::ClientBody(e),
                            ..
                        }) => {
                            let stalled = e.downcast_ref::<client_h1::BodyError>().is_some_and(|b| b.is_timeout());
                            tracing::info!(
                                frontend = %fe.name, backend = %be.rt.name, client = %self.conn.peer,
                                "request refused: {e}"
                            );
                            return self.error(Some(be), if stalled { 408 } else { 400 });
                        }
                        Err(h1::Failed {
                            error: h1::Error::NoResponse(_),
                            ..
                        }) => {
                            tracing::warn!(backend = %be.rt.name, server = %be.rt.servers[server].name, "no response within 'timeout server'");
                            return self.error(Some(be), 504);
                        }
                        Err(f) => {
                            tracing::warn!(
                                backend = %be.rt.name, server = %be.rt.servers[server].name, client = %self.conn.peer,
                                "bad or no response from the server: {}", f.error
                            );
                            return self.error(Some(be), 502);
                        }
                    }
                }
                // Boxed: the HTTP/2 request and its send are larger than anything an HTTP/1.1
                // request holds, and this request's future would otherwise carry room for them.
                Sender::H2(h2, origin) => {
                    match Box::pin(self.send_h2(be, server, h2, parts, &uri, &headers, req_body, attempt)).await {
                        H2Sent::Answered(res, h2) => {
                            let (rp, rb) = res.into_parts();
                            return self.on_response(
                                be,
                                parts,
                                rp,
                                ResBody::h2(rb, lease(slot), Sender::H2(h2, origin)),
                            );
                        }
                        H2Sent::Again(b) => body = Some(b),
                        H2Sent::Refused(status) => return self.error(Some(be), status),
                    }
                }
            }
        }
        // Only an HTTP/2 connection found closed on both tries gets here.
        tracing::warn!(
            backend = %be.rt.name, client = %self.conn.peer,
            "bad or no response from the server: its HTTP/2 connection closed before taking the request, twice"
        );
        self.error(Some(be), 502)
    }

    /// Sends one request on an HTTP/2 server connection once it is ready, the response head
    /// awaited under `timeout server`.
    #[allow(
        clippy::too_many_arguments,
        reason = "the parts of one request, borrowed from forward"
    )]
    async fn send_h2(
        &self,
        be: &Backend,
        server: usize,
        mut h2: hyper::client::conn::http2::SendRequest<ReqBody>,
        parts: &http::request::Parts,
        uri: &Uri,
        headers: &HeaderMap,
        body: ReqBody,
        attempt: u32,
    ) -> H2Sent {
        if h2.ready().await.is_err() {
            return H2Sent::Again(body);
        }
        let mut req = Request::new(body);
        *req.method_mut() = parts.method.clone();
        *req.uri_mut() = uri.clone();
        *req.headers_mut() = HeaderMap::clone(headers);
        to_h2(
            &mut req,
            be.tls[server].is_some(),
            be.rt.servers[server].target(self.conn.local),
        );
        let send = std::pin::pin!(h2.try_send_request(req));
        let Some(sent) = self.within_server_timeout(be, server, send).await else {
            return H2Sent::Refused(504);
        };
        match sent {
            Ok(res) => H2Sent::Answered(res, h2),
            Err(mut e) => match e.take_message() {
                Some(r) if attempt == 0 => {
                    tracing::debug!(backend = %be.rt.name, "idle server connection was closed; using a new one");
                    H2Sent::Again(r.into_body())
                }
                _ => {
                    tracing::warn!(
                        backend = %be.rt.name, server = %be.rt.servers[server].name, client = %self.conn.peer,
                        "bad or no response from the server: {}", e.error()
                    );
                    H2Sent::Refused(502)
                }
            },
        }
    }

    /// `fut` under `timeout server`; None when it ran out (logged).
    async fn within_server_timeout<F: Future>(
        &self,
        be: &Backend,
        server: usize,
        mut fut: Pin<&mut F>,
    ) -> Option<F::Output> {
        // `fut` is pinned by the caller and awaited once here with its timer: passed by value,
        // it was held twice (as the argument, then pinned), and a `timeout` wrapper or a
        // `match` with an await in each arm would hold it once more.
        let mut sleep = std::pin::pin!(be.rt.timeouts.server.map(tokio::time::sleep));
        let r = std::future::poll_fn(|cx| {
            if let Poll::Ready(v) = fut.as_mut().poll(cx) {
                return Poll::Ready(Some(v));
            }
            let expired = sleep.as_mut().as_pin_mut().is_some_and(|s| s.poll(cx).is_ready());
            if expired {
                Poll::Ready(None)
            } else {
                Poll::Pending
            }
        })
        .await;
        if r.is_none() {
            tracing::warn!(backend = %be.rt.name, server = %be.rt.servers[server].name, "no response within 'timeout server'");
        }
        r
    }

    /// A server's response on its way to the client: hop-by-hop headers out, then the
    /// backend's and the frontend's response rules.
    fn on_response(
        &self,
        be: &Backend,
        req: &http::request::Parts,
        mut rp: http::response::Parts,
        body: ResBody,
    ) -> Response<ResBody> {
        strip_hop_by_hop(&mut rp.headers);
        be.http.on_response(&mut rp, req, &self.conn);
        self.fe.http.on_response(&mut rp, req, &self.conn);
        Response::from_parts(rp, body)
    }
}

impl Session {
    /// TLS (when the server line says `ssl`) and the HTTP handshake on a new server connection.
    async fn open(
        &self,
        be: &Arc<Backend>,
        c: dispatch::ServerConn,
        sni: Option<Arc<str>>,
    ) -> Result<(dispatch::SlotGuard, Sender), Response<ResBody>> {
        let name = &be.rt.servers[c.slot.server].name;
        let (stream, alpn_h2) = match crate::session::server_tls(be, c.slot.server, c.stream, sni.as_deref()).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(backend = %be.rt.name, server = %name, client = %self.conn.peer, "{e}");
                return Err(self.error(Some(be), 503));
            }
        };
        if !(alpn_h2 || be.h2[c.slot.server]) {
            // A response head larger than a request's may be is refused (502), as HAProxy's
            // buffer would.
            return Ok((c.slot, Sender::H1(h1::Conn::new(stream, READ_BUF))));
        }
        // Given up while the server holds it open, it is reset, as an HTTP/1.1 one is.
        match handshake_h2(Box::new(super::server_io::ServerIo::new(stream))).await {
            Ok(s) => Ok((c.slot, s)),
            Err(e) => {
                tracing::warn!(backend = %be.rt.name, server = %name, "server connection failed at the HTTP handshake: {e}");
                Err(self.error(Some(be), 502))
            }
        }
    }

    /// A server agreed to switch protocols (WebSocket): the 101 goes to the client, and once
    /// both sides have switched, bytes flow as in `mode tcp` under `timeout tunnel`. The
    /// server connection leaves the pool for good; its slot is held until the tunnel ends.
    fn tunnel(
        &self,
        be: &Arc<Backend>,
        rp: http::response::Parts,
        client: Option<client_h1::OnUpgrade>,
        slot: crate::dispatch::SlotGuard,
        server: h1::ResponseBody,
    ) -> Response<ResBody> {
        let (Some(client), Some(server)) = (client, server.into_upgraded()) else {
            tracing::warn!(backend = %be.rt.name, client = %self.conn.peer, "the server switched protocols without being asked to");
            return self.error(Some(be), 502);
        };
        let t = &be.rt.timeouts;
        let limits = crate::forward::Limits::for_tunnel(self.fe.timeouts.client, t.server, t.tunnel);
        let (fe, be2, peer) = (self.fe.name.clone(), be.rt.name.clone(), self.conn.peer);
        tokio::spawn(async move {
            let _hold = slot;
            match client.connection().await {
                Some(c) => {
                    let (mut c, mut s) = (c, server);
                    let out = crate::forward::forward_any(&mut c, &mut s, limits).await;
                    tracing::debug!(
                        frontend = %fe, backend = %be2, client = %peer, bytes_in = out.bytes_in,
                        bytes_out = out.bytes_out, "upgraded connection ended: {}", out.end
                    );
                }
                None => {
                    tracing::info!(frontend = %fe, backend = %be2, client = %peer, "protocol switch failed: the client connection was not handed over")
                }
            }
        });
        Response::from_parts(rp, ResBody::local(bytes::Bytes::new()))
    }
}

impl client_h1::Service for Session {
    fn call(self: Arc<Self>, req: Request<ReqBody>) -> Pin<Box<dyn Future<Output = Response<ResBody>> + Send>> {
        Box::pin(self.handle(req))
    }

    fn refusal(&self, status: u16) -> Response<ResBody> {
        self.error(None, status)
    }
}

/// What a request's Connection header says of the client's side, read in one lookup: whether
/// the client closes its connection after this request, and the protocol an HTTP/1.1 request
/// asks to switch to (`Connection: upgrade` with `Upgrade`).
fn client_connection(req: &http::request::Parts) -> (bool, Option<HeaderValue>) {
    let t = super::ConnectionTokens::of(&req.headers);
    let closes = match req.version {
        Version::HTTP_10 | Version::HTTP_09 => !t.keep_alive,
        Version::HTTP_11 => t.close,
        _ => false,
    };
    let upgrade = (t.upgrade && req.version == Version::HTTP_11)
        .then(|| req.headers.get(header::UPGRADE).cloned())
        .flatten();
    (closes, upgrade)
}

/// An absolute request target (HTTP/2, or a proxy-style request) as the path a server expects.
fn origin_form(uri: &Uri) -> Uri {
    if uri.scheme().is_none() && uri.authority().is_none() {
        return uri.clone();
    }
    // As written out (`Display`), an empty path is "/": `http://a?q` becomes `/?q`, where
    // the raw text ("?q") is no origin form and its query would be lost.
    match uri.path_and_query() {
        Some(pq) => {
            Uri::from_maybe_shared(bytes::Bytes::from(pq.to_string())).unwrap_or_else(|_| Uri::from_static("/"))
        }
        None => Uri::from_static("/"),
    }
}

/// Starts HTTP/2 on a new server connection; its I/O runs in a task until it closes.
async fn handshake_h2(stream: Box<dyn crate::forward::Stream>) -> Result<Sender, hyper::Error> {
    let (sender, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .handshake(TokioIo::new(stream))
        .await?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!("server connection ended: {e}");
        }
    });
    Ok(Sender::H2(sender, super::pool::this_thread()))
}

/// Whether a request may be sent twice (RFC 9110, 9.2.2).
fn idempotent(m: &http::Method) -> bool {
    use http::Method as M;
    [M::GET, M::HEAD, M::OPTIONS, M::TRACE, M::PUT, M::DELETE].contains(m)
}

/// Turns a request prepared for HTTP/1.1 into one for HTTP/2: an absolute target (HTTP/2
/// carries scheme and authority), no connection-specific headers.
fn to_h2(req: &mut Request<ReqBody>, tls: bool, server: std::net::SocketAddr) {
    *req.version_mut() = Version::HTTP_2;
    let authority = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| server.to_string());
    let pq = req.uri().path_and_query().map_or("/", |p| p.as_str()).to_string();
    let scheme = if tls { "https" } else { "http" };
    if let Ok(u) = Uri::builder()
        .scheme(scheme)
        .authority(authority)
        .path_and_query(pq)
        .build()
    {
        *req.uri_mut() = u;
    }
    req.headers_mut().remove(header::CONNECTION);
    req.headers_mut().remove(header::HOST);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_form_writes_an_empty_path_as_a_slash_and_keeps_the_query() {
        for (target, want) in [
            ("http://a?q=1", "/?q=1"),
            ("https://a:443?p", "/?p"),
            ("http://a", "/"),
            ("http://a/x?y", "/x?y"),
            ("/x?y", "/x?y"),
        ] {
            let uri: Uri = target.parse().unwrap();
            assert_eq!(origin_form(&uri).to_string(), want, "{target}");
        }
    }

    #[tokio::test]
    async fn an_http2_server_connection_let_go_while_open_is_reset() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let ours = tokio::net::TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let port = ours.local_addr().unwrap().port();
        let (mut theirs, _) = l.accept().await.unwrap();
        let io = super::super::server_io::ServerIo::new(Box::new(ours));
        let sender = handshake_h2(Box::new(io)).await.expect("handshake");
        // Let go (as the pool does on expiry): the connection's task says GOAWAY, shuts its
        // side down and drops the stream.
        drop(sender);
        let mut buf = [0u8; 1024];
        while theirs
            .read(&mut buf)
            .await
            .expect("the preface, SETTINGS, GOAWAY, a FIN")
            > 0
        {}
        theirs.shutdown().await.unwrap();
        // Reset, our socket is gone at once; closed, it would wait in TIME_WAIT for a minute.
        let ours_left = || {
            let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
            let local = format!(":{port:04X} ");
            table.lines().skip(1).any(|l| {
                l.split_whitespace()
                    .nth(1)
                    .is_some_and(|a| format!("{a} ").ends_with(&local))
            })
        };
        for _ in 0..200 {
            if !ours_left() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("our side of the connection is still there (TIME_WAIT?)");
    }

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn hop_by_hop_headers_and_those_connection_names_go() {
        let mut h = map(&[
            ("host", "a"),
            ("connection", "close, X-Trace"),
            ("x-trace", "1"),
            ("keep-alive", "timeout=5"),
            ("transfer-encoding", "chunked"),
            ("te", "trailers"),
            ("x-kept", "yes"),
        ]);
        strip_hop_by_hop(&mut h);
        let mut left: Vec<&str> = h.keys().map(|k| k.as_str()).collect();
        left.sort_unstable();
        assert_eq!(left, ["host", "x-kept"]);
        let mut plain = map(&[("host", "a"), ("accept", "*/*")]);
        strip_hop_by_hop(&mut plain);
        assert_eq!(plain.len(), 2);
    }

    use bytes::Bytes;
    use http::Method;
    use hyper::body::Body;

    /// A request body whose one piece is sent when `tx` is.
    struct Later(Option<tokio::sync::oneshot::Receiver<Bytes>>);

    impl Body for Later {
        type Data = Bytes;
        type Error = Infallible;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, Infallible>>> {
            let Some(rx) = self.0.as_mut() else {
                return Poll::Ready(None);
            };
            let got = std::task::ready!(Pin::new(rx).poll(cx));
            self.0 = None;
            Poll::Ready(got.ok().map(|b| Ok(hyper::body::Frame::data(b))))
        }
        fn is_end_stream(&self) -> bool {
            self.0.is_none()
        }
    }

    #[tokio::test]
    async fn an_http2_request_body_still_to_come_is_acknowledged_at_once() {
        use super::client_h1::tests::CountsAcks;
        let text = "frontend f\n mode http\n bind 127.0.0.1:80\n http-request return status 200\n";
        let cfg = clearway_config::parse_str("t.cfg", text).expect("config").config;
        let rt = crate::runtime::Runtime::build(&cfg, 1024).expect("runtime");
        let (c, server) = tokio::io::duplex(1 << 16);
        let acks = Arc::new(AtomicUsize::new(0));
        let conn = ConnSamples {
            peer: "192.0.2.2:4000".parse().unwrap(),
            local: "127.0.0.1:80".parse().unwrap(),
            tls: None,
        };
        tokio::spawn(serve_hyper(
            rt.frontends[0].clone(),
            CountsAcks(server, acks.clone()),
            conn,
        ));
        let (mut send, h2) = hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(c))
            .await
            .expect("h2 handshake");
        tokio::spawn(h2);
        let request =
            |method: Method, body: Later| Request::builder().method(method).uri("http://x/").body(body).unwrap();
        // No body: nothing to hurry.
        let res = send.send_request(request(Method::GET, Later(None))).await.expect("GET");
        assert_eq!(res.status(), 200);
        assert_eq!(acks.load(Ordering::Relaxed), 0);
        // A body still to come: the connection acknowledges at once, before the answer.
        let (tx, rx) = tokio::sync::oneshot::channel();
        let res = send
            .send_request(request(Method::POST, Later(Some(rx))))
            .await
            .expect("POST");
        assert_eq!(res.status(), 200);
        assert_eq!(acks.load(Ordering::Relaxed), 1);
        let _ = tx.send(Bytes::from_static(b"late"));
    }
}
