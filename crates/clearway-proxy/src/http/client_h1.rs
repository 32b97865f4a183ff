//! HTTP/1.x on a client connection: reads each request head, hands the request to the
//! session, writes its response with the framing this client can take, and keeps the
//! connection for the next request. A request body is read from the socket only as the server
//! side asks for it. Owns client-side HTTP/1 framing and this connection's client-side
//! timeouts (`timeout http-request`, `http-keep-alive`, `client`); must not route, apply rules
//! or touch server connections.

use super::body::ResBody;
pub use super::client_io::ClientSocket;
use super::decode::{Decoder, Step};
use super::req_body::{lock, wake, Pipe, ReqBody, RequestBody, BODY_CLOSED, BODY_FAILED, BODY_TIMEOUT};
use crate::stream::Stream;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::header;
use http::{Method, Request, Response, StatusCode, Version};
use hyper::body::Body;
use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;
use tokio_util::io::poll_read_buf;

/// Read at least this much room at a time.
const READ_ROOM: usize = 4096;
/// Fields a request's map has room for beyond its own: what the common rules add
/// (`option forwardfor`, a `set-header`) then goes in without growing the map.
const REQUEST_ROOM: usize = 2;
/// After a refusal, what is read and dropped at most before the close, and for how long.
const DRAIN_MAX: usize = 256 * 1024;
const DRAIN_TIME: Duration = Duration::from_secs(1);
/// A body piece at most this large is copied behind the response head, so that a small
/// response goes out in one `send`; a larger one is written from where it lies (`writev`).
const COPY_MAX: usize = 1024;
/// Small pieces are gathered up to this much before a write.
const GATHER: usize = 16 * 1024;
/// A buffer larger than this is not kept between requests: an idle connection holds no
/// more than what a usual request needs.
const KEEP_MAX: usize = 8 * 1024;

/// The client-side time limits of a connection, each with the keyword that set it.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// From a request head's first byte to its last (408 when it runs out).
    pub head: Option<(Duration, &'static str)>,
    /// Between a response and the next request's first byte.
    pub idle: Option<(Duration, &'static str)>,
    /// How long the client may leave a response or a request body waiting.
    pub client: Option<Duration>,
}

/// What the connection serves its requests with.
pub trait Service: Send + Sync + 'static {
    /// One request's response.
    fn call(self: Arc<Self>, req: Request<ReqBody>) -> Pin<Box<dyn Future<Output = Response<ResBody>> + Send>>;
    /// The answer to a request refused before it could be served (400, 408, 414, 431);
    /// `why` says what was wrong, `received` is what had come of it.
    fn refusal(&self, status: u16, why: &'static str, received: &[u8]) -> Response<ResBody>;
    /// Whether the request in flight is to be dropped if the client closes its side
    /// (`option abortonclose`), once its body is in.
    fn abort_on_close(&self) -> bool {
        false
    }
    /// The client closed while such a request waited: it was dropped.
    fn client_closed(&self) {}
}

/// Why a connection ended.
#[derive(Debug)]
pub enum End {
    /// The client closed between requests, or a response asked for the close.
    Closed,
    /// A client-side time limit ran out; `answered` when 408 was sent.
    Timeout { why: &'static str, answered: bool },
    /// A request that could not be read was refused with `status`.
    Refused { status: u16, why: &'static str },
    /// The connection failed (reset, broken pipe), or the client closed mid-request.
    Io(io::Error),
    /// A response body failed half way: the client's copy is cut short.
    CutShort,
    /// The request body could not be read to its end.
    BodyFailed(&'static str),
    /// The connection went on as a tunnel after `101 Switching Protocols`.
    Upgraded,
}

/// The most a request's head may take (request line plus headers): `tune.bufsize` less
/// `tune.maxrewrite`, by default 16384 less 1024, as in HAProxy. A longer URI is refused with
/// 414, longer headers with 431. Process-wide, as HAProxy's `tune.*` settings are.
static MAX_HEAD: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(16384 - 1024);

/// The largest request head accepted now.
pub fn max_head() -> usize {
    MAX_HEAD.load(std::sync::atomic::Ordering::Relaxed)
}

/// Sets the largest request head (from the configuration's `tune.bufsize`/`tune.maxrewrite`).
pub fn set_max_head(n: usize) {
    MAX_HEAD.store(n, std::sync::atomic::Ordering::Relaxed);
}

/// A request body on its way in, as the connection reads it.
struct Upload {
    pipe: Arc<Mutex<Pipe>>,
    dec: Decoder,
    /// `100 Continue` was sent, or not asked for.
    continued: bool,
    /// Since when the client has sent nothing of the body the server side waits for.
    waiting: Option<Instant>,
    splice: splice::RequestSplice,
}

/// The hand-over of a client connection that switched protocols (`101`), with the bytes it
/// sent after its request head first.
pub type Upgraded = super::prefixed::Prefixed<Box<dyn Stream>>;

/// Put in a request's extensions when the client asks to switch protocols: gives the
/// connection once the `101` response has been written. (Extensions must be `Clone`; the
/// connection goes to the first that takes it.)
#[derive(Clone)]
pub struct OnUpgrade(Arc<Mutex<Option<tokio::sync::oneshot::Receiver<Upgraded>>>>);

impl OnUpgrade {
    /// The connection, once it has switched; None when the response did not switch it or it
    /// was taken already.
    pub async fn connection(self) -> Option<Upgraded> {
        let rx = self.0.lock().unwrap_or_else(|e| e.into_inner()).take()?;
        rx.await.ok()
    }
}

/// The client connection.
struct Conn<IO> {
    io: IO,
    rbuf: BytesMut,
    /// What is to be written, in order, before anything else.
    wbuf: BytesMut,
    limits: Limits,
    timer: crate::timer::Kept,
    /// The connection started with delayed acknowledgements (`tcp-smart-accept`).
    smart_accept: bool,
}

/// Serves HTTP/1 requests on `io`, whose first bytes (`first`) were already read, until the
/// connection ends; returns why, and how many requests it carried. `smart_accept`: the
/// connection started with delayed acknowledgements (`tcp-smart-accept`).
pub async fn serve<IO, S>(svc: Arc<S>, io: IO, first: BytesMut, limits: Limits, smart_accept: bool) -> (End, u64)
where
    IO: AsyncRead + AsyncWrite + ClientSocket + Unpin + Send + 'static,
    S: Service,
{
    let mut c = Conn {
        io,
        rbuf: first,
        wbuf: BytesMut::new(),
        limits,
        timer: None,
        smart_accept,
    };
    let mut n = 0;
    let end = loop {
        match c.one(&svc, &mut n).await {
            Ok(Next::Again) => continue,
            Ok(Next::Close) => break End::Closed,
            Ok(Next::Switch(tx)) => {
                // The tunnel takes the connection from here, with what the client sent after
                // its request head; a session that gave up on it meanwhile drops it, closing it.
                let Conn { io, rbuf, .. } = c;
                let io: Box<dyn Stream> = Box::new(io);
                let _ = tx.send(Upgraded::new(rbuf.freeze(), io));
                return (End::Upgraded, n);
            }
            Err(e) => break e,
        }
    };
    // What is left to say (a refusal, a last response) goes out before the close.
    let _ = c.poll_flush_all().await;
    let _ = poll_fn(|cx| Pin::new(&mut c.io).poll_shutdown(cx)).await;
    if matches!(end, End::Refused { .. } | End::Timeout { answered: true, .. }) {
        c.drain().await;
    }
    (end, n)
}

/// What follows a request.
enum Next {
    /// The connection can carry another request.
    Again,
    /// It closes, as the client or the response asked.
    Close,
    /// The response switched protocols: the connection goes to the tunnel.
    Switch(tokio::sync::oneshot::Sender<Upgraded>),
}

impl<IO: AsyncRead + AsyncWrite + ClientSocket + Unpin + Send + 'static> Conn<IO> {
    /// One request and its response, and what the connection does next.
    async fn one<S: Service>(&mut self, svc: &Arc<S>, n: &mut u64) -> Result<Next, End> {
        // Blocks end what is not needed across the awaits that follow: a local moved from
        // keeps its room in this future until its scope ends (the request's head and parts,
        // the response and its head), and the future is boxed per connection.
        let (mut fut, mut upload, head_req, version, keep_alive, upgrade) = {
            let Some(Head {
                mut parts,
                framing,
                keep_alive,
                expect_continue,
                upgrade,
            }) = self.read_head(svc).await?
            else {
                return Ok(Next::Close);
            };
            *n += 1;
            let head_req = parts.method == Method::HEAD;
            let version = parts.version;
            let upgrade = upgrade.then(|| {
                let (tx, rx) = tokio::sync::oneshot::channel();
                parts.extensions.insert(OnUpgrade(Arc::new(Mutex::new(Some(rx)))));
                tx
            });
            let dec = Decoder::new(framing);
            let (body, upload) = if dec.is_end() {
                (ReqBody::Empty, None)
            } else {
                // Delayed ACKs would hold a client that waits for the ACK of its head before
                // sending the body (HAProxy turns quick ACKs back on here too); not needed when
                // the whole body came with the head.
                if self.smart_accept && !dec.ends_within(&self.rbuf) {
                    self.io.ack_now();
                }
                let pipe = Arc::new(Mutex::new(Pipe::default()));
                let body = RequestBody::new(pipe.clone(), dec.exact_len());
                let up = Upload {
                    pipe,
                    dec,
                    continued: !expect_continue,
                    waiting: None,
                    splice: Default::default(),
                };
                (ReqBody::H1(body), Some(up))
            };
            let fut = svc.clone().call(Request::from_parts(parts, body));
            (fut, upload, head_req, version, keep_alive, upgrade)
        };
        let mut body_failed = None;
        let mut dropped = false;
        let (mut rb, out, keep, switching) = {
            let res = poll_fn(|cx| {
                if let Some(up) = &mut upload {
                    if let Err(e) = self.pump(cx, up) {
                        body_failed.get_or_insert(e);
                    }
                }
                // `100 Continue`, if the pump put it there; a failed write shows again when the
                // response is written.
                let _ = self.poll_flush_wbuf(cx);
                let r = fut.as_mut().poll(cx);
                if r.is_ready() {
                    return r;
                }
                // `option abortonclose`: a client that closes once its request is in drops it
                // (an empty answer stands for the response; it is not sent).
                if svc.abort_on_close() && upload.as_ref().is_none_or(|u| u.dec.is_end()) && self.poll_closed(cx) {
                    dropped = true;
                    return Poll::Ready(Response::new(ResBody::local(Bytes::new())));
                }
                Poll::Pending
            })
            .await;
            drop(fut);
            if dropped {
                svc.client_closed();
                return Ok(Next::Close);
            }
            // The whole body was read (else the next request cannot be found in what follows).
            let body_done = upload.is_none_or(|u| u.dec.is_end()) && body_failed.is_none();
            let status = res.status();
            let (mut rp, mut rb) = res.into_parts();
            let switching = status == StatusCode::SWITCHING_PROTOCOLS && upgrade.is_some();
            let no_body = super::decode::bodyless(head_req, status) || status.is_informational();
            let says_close = super::ConnectionTokens::of(&rp.headers).close;
            let faulty = rp.extensions.get::<super::h1::FaultyFraming>().is_some();
            let mut keep =
                keep_alive && body_done && !says_close && !switching && !faulty && !crate::process::stopping();
            let out = if no_body {
                Out::None
            } else if rp.headers.contains_key(header::CONTENT_LENGTH) {
                Out::Length
            } else if let Some(n) = rb.size_hint().exact() {
                Out::AddLength(n)
            } else if version == Version::HTTP_11 && !rb.until_close() {
                Out::Chunked
            } else {
                // A server's body that ends with its connection ends the client's too, as
                // HAProxy forwards it: unchanged (and spliced when long), not re-chunked.
                keep = false;
                Out::Close
            };
            // Header lines a server's response kept as they came go out as they are, beside
            // what the map holds (what Clearway added). They hold no length unless the
            // answer is body-less (`h1::parse_head`): a body's length is written here.
            let raw = rb.take_raw_head();
            debug_assert!(raw.is_empty() || out != Out::Length);
            let reason = rp.extensions.get::<super::Reason>().map(|r| &*r.0);
            encode_head(
                &mut self.wbuf,
                (status, reason),
                &raw,
                &rp.headers,
                out,
                version,
                keep,
                says_close,
            );
            drop(raw);
            super::decode::recycle(std::mem::take(&mut rp.headers));
            (rb, out, keep, switching)
        };
        if switching {
            self.poll_flush_all().await.map_err(End::Io)?;
            return match upgrade {
                Some(tx) => Ok(Next::Switch(tx)),
                None => Err(End::Closed),
            };
        }
        if out == Out::None {
            // The body goes after the head is out: it may hold a server connection to close.
            self.poll_flush_all().await.map_err(End::Io)?;
            // A body the client is not to get (its HEAD went to the server as a GET).
            if !rb.is_end_stream() {
                rb.discard().await;
            }
        } else {
            self.write_body(&mut rb, out).await?;
        }
        if self.wbuf.capacity() > KEEP_MAX {
            self.wbuf = BytesMut::new();
        }
        if self.rbuf.is_empty() && self.rbuf.capacity() > KEEP_MAX {
            self.rbuf = BytesMut::new();
        }
        match body_failed {
            Some(e) => Err(End::BodyFailed(e)),
            None if keep => Ok(Next::Again),
            None => Ok(Next::Close),
        }
    }

    /// Whether the client closed its side (or its connection failed), reading what it sent
    /// meanwhile (a pipelined request) into `rbuf`, up to a head's worth.
    fn poll_closed(&mut self, cx: &mut Context<'_>) -> bool {
        while self.rbuf.len() < max_head() {
            match poll_read_buf(Pin::new(&mut self.io), cx, &mut self.rbuf) {
                Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => return true,
                Poll::Ready(Ok(_)) => {}
                Poll::Pending => return false,
            }
        }
        false
    }

    /// Writes the response body after its head (already in `wbuf`).
    async fn write_body(&mut self, rb: &mut ResBody, out: Out) -> Result<(), End> {
        let chunked = out == Out::Chunked;
        // A body piece too large to copy, written from where it lies after `wbuf`.
        let mut big: Option<Bytes> = None;
        let mut ended = false;
        let mut waiting_since: Option<Instant> = None;
        // A long body from a plain server connection goes from socket to socket once what
        // was buffered is out (`splice`); `unspliced`: it cannot be.
        let mut sp: splice::Splicing = None;
        let mut unspliced = chunked;
        poll_fn(|cx| loop {
            if sp.is_some() || (!unspliced && !ended && big.is_none() && self.wbuf.is_empty() && rb.spliceable()) {
                match self.poll_splice_response(cx, rb, &mut sp, &mut waiting_since) {
                    Poll::Ready(Ok(true)) => return Poll::Ready(Ok(())),
                    Poll::Ready(Ok(false)) => unspliced = true,
                    other => return other.map_ok(|_| ()),
                }
            }
            // Gather what the body has ready, up to a full write.
            while !ended && big.is_none() && self.wbuf.len() < GATHER {
                match Pin::new(&mut *rb).poll_frame(cx) {
                    Poll::Ready(Some(Ok(f))) => {
                        let Ok(d) = f.into_data() else { continue };
                        if d.is_empty() {
                            continue;
                        }
                        if chunked {
                            put_chunk_size(&mut self.wbuf, d.len());
                        }
                        if d.len() <= COPY_MAX {
                            self.wbuf.put_slice(&d);
                            if chunked {
                                self.wbuf.put_slice(b"\r\n");
                            }
                        } else {
                            big = Some(d);
                        }
                    }
                    Poll::Ready(None) => {
                        ended = true;
                        if chunked {
                            self.wbuf.put_slice(b"0\r\n\r\n");
                        }
                    }
                    Poll::Ready(Some(Err(_))) => {
                        // Logged by the body itself, with the server's name.
                        return Poll::Ready(Err(End::CutShort));
                    }
                    Poll::Pending => break,
                }
            }
            if self.wbuf.is_empty() && big.is_none() {
                return if ended { Poll::Ready(Ok(())) } else { Poll::Pending };
            }
            let r = match &big {
                None => Pin::new(&mut self.io).poll_write(cx, &self.wbuf),
                Some(b) => {
                    let bufs = [io::IoSlice::new(&self.wbuf), io::IoSlice::new(b)];
                    Pin::new(&mut self.io).poll_write_vectored(cx, &bufs)
                }
            };
            match r {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(End::Io(io::ErrorKind::WriteZero.into()))),
                Poll::Ready(Ok(mut n)) => {
                    waiting_since = None;
                    let w = n.min(self.wbuf.len());
                    self.wbuf.advance(w);
                    n -= w;
                    if let Some(b) = &mut big {
                        b.advance(n);
                        if b.is_empty() {
                            big = None;
                            if chunked {
                                self.wbuf.put_slice(b"\r\n");
                            }
                        }
                    }
                    if self.wbuf.is_empty() {
                        // Keeps its room for the next response.
                        self.wbuf.clear();
                    }
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(End::Io(e))),
                Poll::Pending => {
                    // The client does not take the response.
                    return match self.client_gone_quiet(cx, &mut waiting_since) {
                        true => Poll::Ready(Err(End::Timeout {
                            why: "timeout client",
                            answered: false,
                        })),
                        false => Poll::Pending,
                    };
                }
            }
        })
        .await
    }

    /// Reads the next request head. None: the client closed (or went idle too long) between
    /// requests, which ends the connection without an answer.
    async fn read_head<S: Service>(&mut self, svc: &Arc<S>) -> Result<Option<Head>, End> {
        // When this head's first byte came, or when the connection went idle.
        let mut since: Option<Instant> = None;
        // A soft stop closes a connection between requests rather than wait for one, unless
        // the next request's first bytes are already there to read.
        if self.rbuf.is_empty() && crate::process::stopping() {
            if self.rbuf.capacity() < READ_ROOM / 2 {
                self.rbuf.reserve(READ_ROOM);
            }
            let mut cx = Context::from_waker(Waker::noop());
            match poll_read_buf(Pin::new(&mut self.io), &mut cx, &mut self.rbuf) {
                Poll::Ready(Ok(n)) if n > 0 => {}
                _ => return Ok(None),
            }
        }
        loop {
            if !self.rbuf.is_empty() {
                match parse_request(&mut self.rbuf) {
                    Ok(Some(h)) => return Ok(Some(h)),
                    Ok(None) if self.rbuf.len() >= max_head() => {
                        // A request line that long is a URI that long.
                        let line_ends = self.rbuf[..max_head()].contains(&b'\n');
                        let (status, why) = if line_ends {
                            (431, "request head too large")
                        } else {
                            (414, "URI too long")
                        };
                        return Err(self.refuse(svc, status, why));
                    }
                    Ok(None) => {}
                    Err((status, why)) => return Err(self.refuse(svc, status, why)),
                }
            }
            let head_started = !self.rbuf.is_empty();
            if self.rbuf.capacity() - self.rbuf.len() < READ_ROOM / 2 {
                self.rbuf.reserve(READ_ROOM);
            }
            let got = poll_fn(|cx| {
                if let Poll::Ready(r) = poll_read_buf(Pin::new(&mut self.io), cx, &mut self.rbuf) {
                    return Poll::Ready(Ok(r));
                }
                let limit = if head_started {
                    self.limits.head
                } else {
                    self.limits.idle
                };
                let Some((d, why)) = limit else {
                    return Poll::Pending;
                };
                let at = *since.get_or_insert_with(Instant::now) + d;
                match self.poll_timer(cx, at) {
                    true => Poll::Ready(Err((why, head_started))),
                    false => Poll::Pending,
                }
            })
            .await;
            match got {
                Ok(Ok(0)) if self.rbuf.is_empty() => return Ok(None),
                Ok(Ok(0)) => return Err(End::Io(io::ErrorKind::UnexpectedEof.into())),
                Ok(Ok(_)) => {
                    if !head_started {
                        // The idle wait is over; the head's own limit starts now, if it
                        // has to wait at all.
                        since = None;
                    }
                }
                Ok(Err(e)) => return Err(End::Io(e)),
                Err((why, true)) => {
                    self.refuse(svc, 408, why);
                    return Err(End::Timeout { why, answered: true });
                }
                Err((why, false)) => return Err(End::Timeout { why, answered: false }),
            }
        }
    }

    /// Puts the refusal for a request that cannot be read in `wbuf`; the connection closes
    /// after it.
    fn refuse<S: Service>(&mut self, svc: &Arc<S>, status: u16, why: &'static str) -> End {
        let (rp, mut rb) = svc.refusal(status, why, &self.rbuf).into_parts();
        let mut body = BytesMut::new();
        let mut cx = Context::from_waker(Waker::noop());
        while let Poll::Ready(Some(Ok(f))) = Pin::new(&mut rb).poll_frame(&mut cx) {
            if let Ok(d) = f.into_data() {
                body.put_slice(&d);
            }
        }
        let out = if rp.headers.contains_key(header::CONTENT_LENGTH) {
            Out::Length
        } else {
            Out::AddLength(body.len() as u64)
        };
        encode_head(
            &mut self.wbuf,
            (rp.status, None),
            &[],
            &rp.headers,
            out,
            Version::HTTP_11,
            false,
            false,
        );
        self.wbuf.put_slice(&body);
        End::Refused { status, why }
    }

    /// Moves the request body from the socket to the server side, as fast as it asks, within
    /// `timeout client` of the client's last bytes.
    fn pump(&mut self, cx: &mut Context<'_>, up: &mut Upload) -> Result<(), &'static str> {
        let mut p = lock(&up.pipe);
        let fail = |p: &mut Pipe, e: &'static str| {
            p.failed = Some(e);
            wake(&mut p.reader);
            Err(e)
        };
        loop {
            if p.gone || p.end || p.failed.is_some() {
                return Ok(());
            }
            if p.data.is_some() || p.spliced.is_some() {
                p.conn = Some(cx.waker().clone());
                return Ok(());
            }
            match up.dec.decode(&mut self.rbuf) {
                Err(e) => return fail(&mut p, e),
                Ok(Step::Data(d)) => {
                    p.data = Some(up.dec.gather(&mut self.rbuf, d, GATHER));
                    wake(&mut p.reader);
                }
                Ok(Step::Done) => {
                    p.end = true;
                    if let Some(spare) = p.spare.take() {
                        spare.give_back();
                    }
                    wake(&mut p.reader);
                }
                Ok(Step::More) if !p.want => {
                    // Nothing is read before the server side asks for it.
                    p.conn = Some(cx.waker().clone());
                    return Ok(());
                }
                Ok(Step::More) => {
                    if !up.continued {
                        up.continued = true;
                        self.wbuf.put_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
                        let _ = self.poll_flush_wbuf(cx);
                    }
                    match self.splice_request(cx, (&mut up.dec, &mut up.waiting, &mut up.splice), &mut p) {
                        // Spliced, or waiting for the client or the pipe: woken then.
                        Some(Ok(())) => {
                            p.conn = Some(cx.waker().clone());
                            return Ok(());
                        }
                        Some(Err(e)) => return Err(e),
                        None => {}
                    }
                    if self.rbuf.capacity() - self.rbuf.len() < READ_ROOM / 2 {
                        self.rbuf.reserve(READ_ROOM);
                    }
                    match poll_read_buf(Pin::new(&mut self.io), cx, &mut self.rbuf) {
                        Poll::Ready(Ok(0)) => return fail(&mut p, BODY_CLOSED),
                        Poll::Ready(Ok(_)) => up.waiting = None,
                        Poll::Ready(Err(_)) => return fail(&mut p, BODY_FAILED),
                        Poll::Pending => {
                            p.conn = Some(cx.waker().clone());
                            if self.client_gone_quiet(cx, &mut up.waiting) {
                                return fail(&mut p, BODY_TIMEOUT);
                            }
                            return Ok(());
                        }
                    }
                }
            }
        }
    }

    /// Reads and drops what the client still sends after a refusal, for a while: closing a
    /// socket with unread bytes resets the connection, and the client may then lose the
    /// answer before reading it.
    async fn drain(&mut self) {
        let deadline = Instant::now() + DRAIN_TIME;
        let mut left = DRAIN_MAX;
        while left > 0 {
            self.rbuf.clear();
            self.rbuf.reserve(READ_ROOM);
            let read = poll_fn(|cx| poll_read_buf(Pin::new(&mut self.io), cx, &mut self.rbuf));
            match tokio::time::timeout_at(deadline, read).await {
                Ok(Ok(n)) if n > 0 => left = left.saturating_sub(n),
                _ => return,
            }
        }
    }

    /// Writes what `wbuf` holds; Ready once it is empty (or the write failed).
    fn poll_flush_wbuf(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.wbuf.is_empty() {
            match Pin::new(&mut self.io).poll_write(cx, &self.wbuf) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => self.wbuf.advance(n),
                Poll::Ready(Err(e)) => {
                    self.wbuf.clear();
                    return Poll::Ready(Err(e));
                }
                Poll::Pending => return Poll::Pending,
            }
        }
        self.wbuf.clear();
        Poll::Ready(Ok(()))
    }

    /// Writes what `wbuf` holds, within `timeout client`.
    async fn poll_flush_all(&mut self) -> io::Result<()> {
        let mut since = None;
        poll_fn(|cx| match self.poll_flush_wbuf(cx) {
            Poll::Ready(r) => Poll::Ready(r),
            Poll::Pending => match self.client_gone_quiet(cx, &mut since) {
                true => Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "timeout client"))),
                false => Poll::Pending,
            },
        })
        .await
    }

    /// Whether the client has kept the connection waiting (a write or a body read that could
    /// not go on) for `timeout client` since `since`, which the first wait sets and progress
    /// clears.
    fn client_gone_quiet(&mut self, cx: &mut Context<'_>, since: &mut Option<Instant>) -> bool {
        let Some(limit) = self.limits.client else {
            return false;
        };
        let at = *since.get_or_insert_with(Instant::now) + limit;
        self.poll_timer(cx, at)
    }

    /// The connection's one timer, for a deadline `at`: whether `at` has passed.
    fn poll_timer(&mut self, cx: &mut Context<'_>, at: Instant) -> bool {
        crate::timer::poll_kept(&mut self.timer, cx, at)
    }
}

pub(crate) mod encode;
pub(crate) mod head;
mod splice;
use encode::{encode_head, put_chunk_size, Out};
use head::{parse_request, Head};

#[cfg(test)]
pub(crate) mod tests;
