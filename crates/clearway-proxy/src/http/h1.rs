//! HTTP/1.1 on a server connection, driven by the request that uses it: no task or channel of
//! its own, so a request costs no wake-up of another task. Writes a request head and body,
//! reads the response head (passing over 1xx), streams the response body by its framing and
//! says whether the connection can carry another request. Owns server-side HTTP/1 framing,
//! and which of a response's header lines may go to an HTTP/1 client as they came (the
//! client side writes the body's length itself); must not pick servers, apply rules or
//! write to the client.

use super::decode::{
    header_map, header_room, is_hop_by_hop, stack_room, Decoder, Framing, Semantics, Span, SpanRoom, Step,
};
use super::req_body::{Spliced, SplicedBody};
use super::server_io::ServerIo;
use crate::stream::ServerStream;
use crate::stream::Stream;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::header::{self, HeaderMap};
use http::{Method, StatusCode, Uri, Version};
use hyper::body::Body;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;
use tokio_util::io::poll_read_buf;

mod splice;
pub(crate) use splice::poll_splice_on;
pub use splice::SPLICE_MIN;

/// Read at least this much room at a time.
const READ_ROOM: usize = 8 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the server closed the connection without responding")]
    Closed,
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("bad response: {0}")]
    Bad(&'static str),
    #[error("response head larger than {0} bytes")]
    TooLarge(usize),
    #[error("the client's request body failed: {0}")]
    ClientBody(BoxError),
    #[error("the server closed the connection before the end of the response body")]
    Truncated,
    #[error("no data from the server for {0:?} in the middle of the response body ('timeout server')")]
    Timeout(Duration),
    #[error("no response within {0:?} ('timeout server')")]
    NoResponse(Duration),
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// An HTTP/1.1 connection to a server, between requests.
pub struct Conn {
    io: ServerIo,
    rbuf: BytesMut,
    wbuf: BytesMut,
    /// The largest response head accepted.
    max_head: usize,
    /// The worker thread that opened it (`clearway_core::thread::number`).
    origin: usize,
    /// `timeout server`, for the response head and then for each wait in its body; made on
    /// first use and kept with the connection.
    timer: crate::timer::Kept,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("h1::Conn").field("buffered", &self.rbuf.len()).finish()
    }
}

/// What is sent: the head as the session prepared it (hop-by-hop headers already dealt with).
pub struct Head<'a> {
    pub method: &'a Method,
    pub uri: &'a Uri,
    pub headers: &'a HeaderMap,
    /// The response's header lines may stay as the server sent them (`ResponseBody::take_raw`)
    /// instead of going into a header map: nothing will read or change them before an
    /// HTTP/1 client side writes them out.
    pub raw: bool,
    /// The client asked in HTTP/1.0: the server is asked so too (as HAProxy forwards it),
    /// with `Connection: keep-alive` unless the request says how the connection ends.
    pub http10: bool,
}

/// A failed exchange, and whether the request may go again over another connection: nothing
/// of a response came back, and the request had no body, so the server cannot have consumed
/// one that we could not replay.
#[derive(Debug)]
pub struct Failed {
    pub error: Error,
    pub replayable: bool,
    /// Nothing of a response came back and the connection closed or failed: a request
    /// whose body is kept whole may go again.
    pub nothing_back: bool,
}

impl Conn {
    /// Boxed once, here: the connection then moves between the pool, a request and its
    /// response body as a pointer, not as its 112 bytes at each step.
    pub fn new(io: Box<dyn ServerStream>, max_head: usize) -> Box<Conn> {
        Conn::counted(io, max_head, None)
    }

    /// A connection whose bytes count into `tally` (its backend's and server's statistics).
    pub fn counted(io: Box<dyn ServerStream>, max_head: usize, tally: Option<crate::counted::Tally>) -> Box<Conn> {
        Box::new(Conn {
            io: ServerIo::new(io, tally),
            rbuf: BytesMut::new(),
            wbuf: BytesMut::new(),
            max_head,
            origin: clearway_core::thread::number(),
            timer: None,
        })
    }

    /// The worker thread that opened it, whose event loop watches its socket.
    pub fn origin(&self) -> usize {
        self.origin
    }

    /// Whether an idle connection can take a request: the server has neither closed it nor
    /// sent anything unasked. Looks without waiting (the readiness the event loop recorded).
    pub fn is_usable(&mut self) -> bool {
        self.is_usable_or_wake(Waker::noop())
    }

    /// `is_usable`, and while it is, `waker` is woken once the server closes the connection
    /// or sends anything (the thread's pool sweeper, so that it closes the connection then).
    pub fn is_usable_or_wake(&mut self, waker: &Waker) -> bool {
        if !self.rbuf.is_empty() {
            return false;
        }
        let mut cx = Context::from_waker(waker);
        let mut byte = [0u8; 1];
        let mut rb = ReadBuf::new(&mut byte);
        Pin::new(&mut self.io).poll_read(&mut cx, &mut rb).is_pending()
    }

    /// Sends one request and reads the head of its response, within `limit` (`timeout
    /// server`) when given; the body follows from the returned `ResponseBody`, which holds the
    /// connection until the body is read.
    pub async fn send<B>(
        mut self: Box<Self>,
        req: Head<'_>,
        mut body: B,
        limit: Option<Duration>,
    ) -> Result<(http::response::Parts, ResponseBody), Failed>
    where
        B: Body<Data = Bytes> + SplicedBody + Unpin,
        B::Error: Into<BoxError>,
    {
        let has_body = !body.is_end_stream();
        let chunked = has_body && !req.headers.contains_key(header::CONTENT_LENGTH);
        if has_body && !chunked && self.takes_spliced() {
            body.accept_spliced();
        }
        self.wbuf.clear();
        encode_head(&mut self.wbuf, &req, chunked);
        let head_req = req.method == Method::HEAD;
        let mut ex = Exchange {
            body: has_body.then_some(body),
            spliced: None,
            chunked,
            written: 0,
            flushed: false,
            got_bytes: false,
            moved: false,
        };
        // `timeout server` is the server's inactivity, as in HAProxy: while it takes the
        // request (a long upload) or sends part of its head, the time starts again.
        let mut deadline = limit.map(|d| (Instant::now() + d, d));
        let keep_raw = req.raw;
        let r = poll_fn(|cx| match ex.poll(&mut self, cx, head_req, keep_raw) {
            Poll::Pending => match &mut deadline {
                Some((at, d)) => {
                    if std::mem::take(&mut ex.moved) {
                        *at = Instant::now() + *d;
                    }
                    match self.poll_timer(cx, *at) {
                        true => Poll::Ready(Err(Error::NoResponse(*d))),
                        false => Poll::Pending,
                    }
                }
                None => Poll::Pending,
            },
            done => done,
        })
        .await;
        match r {
            Ok(HeadParts {
                parts,
                framing,
                keep,
                raw,
            }) => {
                // A response that came before the whole request was sent leaves the
                // connection in no state to carry another one.
                let keep = keep && ex.body.is_none() && ex.flushed;
                let mut body = ResponseBody::new(self, framing, keep);
                body.raw = raw;
                Ok((parts, body))
            }
            Err(error) => {
                let nothing_back = !ex.got_bytes && matches!(error, Error::Closed | Error::Io(_));
                Err(Failed {
                    replayable: !has_body && nothing_back,
                    nothing_back,
                    error,
                })
            }
        }
    }

    /// The connection's one timer, for a deadline `at`: whether `at` has passed.
    fn poll_timer(&mut self, cx: &mut Context<'_>, at: Instant) -> bool {
        crate::timer::poll_kept(&mut self.timer, cx, at)
    }

    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        if self.rbuf.capacity() - self.rbuf.len() < READ_ROOM / 2 {
            self.rbuf.reserve(READ_ROOM);
        }
        poll_read_buf(Pin::new(&mut self.io), cx, &mut self.rbuf)
    }
}

/// The progress of one request on its way out while its response is awaited.
struct Exchange<B> {
    /// The request body still to send.
    body: Option<B>,
    /// Bytes of it in a kernel pipe, being written out.
    spliced: Option<Spliced>,
    chunked: bool,
    /// How much of `wbuf` is on the wire.
    written: usize,
    flushed: bool,
    /// Some bytes of a response arrived.
    got_bytes: bool,
    /// Since the last look, bytes went to or came from the server, or the request body
    /// waited for the client: either way the server was not idle by its own doing.
    moved: bool,
}

/// A response head as parsed: its header fields are either in `parts` or, kept as the
/// server sent them, in `raw`.
/// Marks a response whose framing was faulty (an HTTP/1.0 response with a transfer coding,
/// RFC 9112 6.1): read as chunked, after which the client's connection closes too, as
/// HAProxy's does. Carried in the response's extensions, which are empty otherwise.
#[derive(Debug, Clone, Copy)]
pub struct FaultyFraming;

pub(crate) struct HeadParts {
    pub(crate) parts: http::response::Parts,
    pub(crate) framing: Framing,
    /// The connection can carry another request after this response.
    pub(crate) keep: bool,
    pub(crate) raw: Bytes,
}

impl<B> Exchange<B>
where
    B: Body<Data = Bytes> + SplicedBody + Unpin,
    B::Error: Into<BoxError>,
{
    // Called from one place (`send`'s loop): inlined there, as it was before bodies could
    // be read ahead made the body's own polling larger.
    #[inline]
    fn poll(
        &mut self,
        c: &mut Conn,
        cx: &mut Context<'_>,
        head_req: bool,
        keep_raw: bool,
    ) -> Poll<Result<HeadParts, Error>> {
        loop {
            // Out: what is buffered, then more of the body, then a flush.
            let mut progress = false;
            if !self.flushed {
                while self.written < c.wbuf.len() {
                    match Pin::new(&mut c.io).poll_write(cx, &c.wbuf[self.written..]) {
                        Poll::Ready(Ok(0)) => return Poll::Ready(Err(Error::Io(io::ErrorKind::WriteZero.into()))),
                        Poll::Ready(Ok(n)) => {
                            self.written += n;
                            // (A request without a body is written at once: no need to look.)
                            self.moved |= self.body.is_some();
                        }
                        Poll::Ready(Err(e)) => return Poll::Ready(Err(e.into())),
                        Poll::Pending => break,
                    }
                }
                if self.written == c.wbuf.len() {
                    c.wbuf.clear();
                    self.written = 0;
                    if let Some(s) = &mut self.spliced {
                        let (r, wrote) = c.poll_splice_out(cx, s);
                        self.moved |= wrote;
                        match r {
                            Poll::Ready(Ok(())) => {
                                if let (Some(s), Some(b)) = (self.spliced.take(), self.body.as_mut()) {
                                    b.give_pipe(s.pipe);
                                }
                                continue;
                            }
                            Poll::Ready(Err(e)) => return Poll::Ready(Err(e.into())),
                            Poll::Pending => {}
                        }
                    } else {
                        match &mut self.body {
                            Some(b) => match b.take_spliced() {
                                Some(s) => {
                                    self.spliced = Some(s);
                                    continue;
                                }
                                None => match Pin::new(b).poll_frame(cx) {
                                    Poll::Ready(Some(Ok(f))) => {
                                        if let Ok(d) = f.into_data() {
                                            encode_data(&mut c.wbuf, &d, self.chunked);
                                        }
                                        progress = true;
                                    }
                                    Poll::Ready(None) => {
                                        if self.chunked {
                                            c.wbuf.put_slice(b"0\r\n\r\n");
                                        }
                                        self.body = None;
                                        progress = true;
                                    }
                                    Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(Error::ClientBody(e.into()))),
                                    // Waiting for the client, whose pace is `timeout client`'s
                                    // business: the server is not idle by its own doing.
                                    Poll::Pending => self.moved = true,
                                },
                            },
                            None => match Pin::new(&mut c.io).poll_flush(cx) {
                                Poll::Ready(Ok(())) => self.flushed = true,
                                Poll::Ready(Err(e)) => return Poll::Ready(Err(e.into())),
                                Poll::Pending => {}
                            },
                        }
                    }
                }
            }
            if progress {
                continue;
            }
            // In: the response head, which may come before the request is all sent.
            if let Some(h) = parse_head(&mut c.rbuf, head_req, keep_raw)? {
                return Poll::Ready(Ok(h));
            }
            if c.rbuf.len() >= c.max_head {
                return Poll::Ready(Err(Error::TooLarge(c.max_head)));
            }
            match c.poll_fill(cx) {
                Poll::Ready(Ok(0)) if self.got_bytes => return Poll::Ready(Err(Error::Bad("truncated response head"))),
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(Error::Closed)),
                Poll::Ready(Ok(_)) => {
                    self.got_bytes = true;
                    self.moved = true;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e.into())),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

pub(crate) fn encode_head(w: &mut BytesMut, req: &Head<'_>, chunked: bool) {
    let target = req.uri.path_and_query().map_or("", |p| p.as_str());
    w.reserve(64 + target.len() + req.headers.len() * 32);
    w.put_slice(req.method.as_str().as_bytes());
    w.put_u8(b' ');
    // In origin form (RFC 9112, 3.2.1): an absolute-form target with an empty path
    // (`http://a?q`) has its path written as "/", not left out ("GET ?q").
    if !target.starts_with('/') && target != "*" {
        w.put_u8(b'/');
    }
    w.put_slice(target.as_bytes());
    // A chunked body needs HTTP/1.1 (an HTTP/1.0 client never sends one).
    let http10 = req.http10 && !chunked;
    w.put_slice(if http10 { b" HTTP/1.0\r\n" } else { b" HTTP/1.1\r\n" });
    if http10 && !req.headers.contains_key(header::CONNECTION) {
        w.put_slice(b"connection: keep-alive\r\n");
    }
    for (k, v) in req.headers {
        w.put_slice(k.as_str().as_bytes());
        w.put_slice(b": ");
        w.put_slice(v.as_bytes());
        w.put_slice(b"\r\n");
    }
    if chunked {
        w.put_slice(b"transfer-encoding: chunked\r\n");
    }
    w.put_slice(b"\r\n");
}

pub(crate) fn encode_data(w: &mut BytesMut, d: &Bytes, chunked: bool) {
    if d.is_empty() {
        return;
    }
    if chunked {
        w.put_slice(format!("{:x}\r\n", d.len()).as_bytes());
        w.put_slice(d);
        w.put_slice(b"\r\n");
    } else {
        w.put_slice(d);
    }
}

/// A complete response head at the start of `buf`, taken out of it; 1xx informational
/// responses (but 101) are passed over. With `keep_raw`, its header lines are kept as they
/// came when they can be (`raw_lines`), and no header map is built.
/// Marks a server response that challenges the client for connection-based authentication
/// (see `session::last`).
#[derive(Debug, Clone, Copy)]
pub struct ConnectionAuth;

impl ConnectionAuth {
    /// Whether a response head asks for NTLM or Negotiate authentication (`WWW-Authenticate`
    /// on a 401, `Proxy-Authenticate` on a 407).
    fn asked(status: u16, headers: &[httparse::Header<'_>]) -> bool {
        let name = match status {
            401 => "www-authenticate",
            407 => "proxy-authenticate",
            _ => return false,
        };
        headers.iter().any(|h| {
            h.name.eq_ignore_ascii_case(name)
                && h.value.len() >= 4
                && (h.value[..4].eq_ignore_ascii_case(b"NTLM") || h.value[..4].eq_ignore_ascii_case(b"Nego"))
        })
    }
}

pub(crate) fn parse_head(buf: &mut BytesMut, head_req: bool, keep_raw: bool) -> Result<Option<HeadParts>, Error> {
    loop {
        let (mut stack, mut heap) = (stack_room(), Vec::new());
        let mut r = httparse::Response::new(&mut []);
        let len = match httparse::ParserConfig::default().parse_response_with_uninit_headers(
            &mut r,
            buf,
            header_room(&mut stack, &mut heap),
        ) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(httparse::Error::TooManyHeaders) => return Err(Error::Bad("too many headers")),
            Err(_) => return Err(Error::Bad("malformed head")),
        };
        let code = r.code.unwrap_or(0);
        let status = StatusCode::from_u16(code).map_err(|_| Error::Bad("invalid status code"))?;
        if status.is_informational() && status != StatusCode::SWITCHING_PROTOCOLS {
            buf.advance(len);
            continue;
        }
        let version = if r.version == Some(0) {
            Version::HTTP_10
        } else {
            Version::HTTP_11
        };
        let sem = Semantics::scan(r.headers);
        if super::decode::too_many_fields(r.headers.len(), sem.uncounted) {
            return Err(Error::Bad("too many headers"));
        }
        let auth = ConnectionAuth::asked(code, r.headers);
        let mut room = SpanRoom::default();
        let at = room.fill(buf, r.headers);
        let (framing, keep) = framing(status, version, &sem, head_req)?;
        // A body-less answer (to HEAD, 204, 304) keeps the length it gives, when it is a
        // valid one. Otherwise the client side writes the body's length itself (it sees no
        // length among raw lines), and a length beside a transfer coding is not the body's
        // (RFC 9112, 6.3): the client must not see it.
        let bad_length = sem.transfer_encoding || sem.length.is_err();
        let drop_length = bad_length || !super::decode::bodyless(head_req, status);
        // A 101 goes to the tunnel with its header map; a Connection field naming other
        // headers leaves their removal to the map.
        let lines = (keep_raw && status != StatusCode::SWITCHING_PROTOCOLS && !sem.connection.other)
            .then(|| raw_lines(&mut buf[..len], at, drop_length))
            .flatten();
        let head = buf.split_to(len).freeze();
        let (mut parts, ()) = http::Response::new(()).into_parts();
        parts.status = status;
        parts.version = version;
        if version == Version::HTTP_10 && sem.transfer_encoding {
            parts.extensions.insert(FaultyFraming);
        }
        if auth {
            parts.extensions.insert(ConnectionAuth);
        }
        let raw = match lines {
            Some(range) => head.slice(range),
            None => {
                parts.headers = header_map(at, &head, 0).map_err(Error::Bad)?;
                if bad_length {
                    parts.headers.remove(header::CONTENT_LENGTH);
                }
                Bytes::new()
            }
        };
        return Ok(Some(HeadParts {
            parts,
            framing,
            keep,
            raw,
        }));
    }
}

/// The header lines of the response head `head` (as parsed into `spans`) that go to the
/// client as they are: those that are not hop-by-hop, nor the length when `drop_length`.
/// The lines dropped are covered by moving the later ones back over them, in place, and the
/// range of `head` the kept lines then fill is returned. None, with nothing moved, unless
/// every line is in the usual `Name: value` form with CRLF endings: other forms go through
/// the header map, which writes them out in that form.
fn raw_lines(head: &mut [u8], spans: &[Span], drop_length: bool) -> Option<std::ops::Range<usize>> {
    let len = head.len();
    if !head.ends_with(b"\r\n\r\n") {
        return None;
    }
    // Each line runs from its name to the next line's (the last to the final empty line).
    let end = |i: usize| spans.get(i + 1).map_or(len - 2, |s| s.0 as usize);
    for (i, &(k0, k1, v0, v1)) in spans.iter().enumerate() {
        let (k0, k1, v0, v1) = (k0 as usize, k1 as usize, v0 as usize, v1 as usize);
        // (A name longer than a header map takes is refused there.)
        if k0 >= k1
            || k1 - k0 > usize::from(u16::MAX)
            || v0 != k1 + 2
            || v1 + 2 != end(i)
            || &head[k1..v0] != b": "
            || &head[v1..v1 + 2] != b"\r\n"
        {
            return None;
        }
    }
    let start = spans.first().map_or(0, |s| s.0 as usize);
    let mut to = start;
    for (i, &(k0, k1, _, _)) in spans.iter().enumerate() {
        let (k0, k1) = (k0 as usize, k1 as usize);
        let name = &head[k0..k1];
        if is_hop_by_hop(name) || (drop_length && name.eq_ignore_ascii_case(b"content-length")) {
            continue;
        }
        let e = end(i);
        if to != k0 {
            head.copy_within(k0..e, to);
        }
        to += e - k0;
    }
    Some(start..to)
}

/// The body's framing (RFC 9112, section 6.3) and whether the connection stays open after it.
fn framing(status: StatusCode, version: Version, h: &Semantics, head_req: bool) -> Result<(Framing, bool), Error> {
    let mut keep = match version {
        Version::HTTP_10 => h.connection.keep_alive,
        _ => !h.connection.close,
    };
    if status == StatusCode::SWITCHING_PROTOCOLS {
        return Ok((Framing::Empty, false));
    }
    if super::decode::bodyless(head_req, status) {
        return Ok((Framing::Empty, keep));
    }
    if h.transfer_encoding {
        // The client side writes its own framing and no Transfer-Encoding: another coding
        // would be dropped from under the body, and `chunked` twice is malformed.
        if h.other_coding || h.chunked_twice {
            return Err(Error::Bad("a transfer coding other than chunked"));
        }
        // Both lengths given is how requests get smuggled: the connection is not reused.
        if h.length != Ok(None) {
            keep = false;
        }
        // An HTTP/1.0 response with a transfer coding has a faulty framing (RFC 9112, 6.1):
        // read as chunked, as HAProxy does, and the connection not reused.
        return Ok(if h.chunked {
            (Framing::Chunked, keep && version == Version::HTTP_11)
        } else {
            (Framing::Close, false)
        });
    }
    Ok(match h.length.map_err(Error::Bad)? {
        Some(0) => (Framing::Empty, keep),
        Some(n) => (Framing::Length(n), keep),
        None => (Framing::Close, false),
    })
}

/// A response body read straight from the server connection as the client side asks for it.
#[derive(Debug)]
pub struct ResponseBody {
    conn: Option<Box<Conn>>,
    /// The response's header lines as the server sent them, hop-by-hop ones taken out, when
    /// the head was read with `Head::raw` (empty otherwise: the header map has them).
    raw: Bytes,
    dec: Decoder,
    keep: bool,
    /// `timeout server`: how long the server may keep quiet while the body is awaited.
    idle: Option<Duration>,
    /// Since when a read has been waiting for the server (time the client takes to read
    /// does not count).
    waiting: Option<Instant>,
}

impl ResponseBody {
    fn new(conn: Box<Conn>, framing: Framing, keep: bool) -> ResponseBody {
        ResponseBody {
            conn: Some(conn),
            raw: Bytes::new(),
            dec: Decoder::new(framing),
            keep,
            idle: None,
            waiting: None,
        }
    }

    /// Ends the body with `Error::Timeout` when the server sends nothing for `idle` while
    /// the body waits for it.
    pub fn with_idle_timeout(mut self, idle: Option<Duration>) -> ResponseBody {
        self.idle = idle;
        self
    }

    pub fn is_end(&self) -> bool {
        self.dec.is_end()
    }

    /// The response's header lines kept as the server sent them (each ending in CRLF), for
    /// the client side to write after its status line; taken once, so that the server
    /// connection's buffer is no longer shared while the body is read.
    pub fn take_raw(&mut self) -> Bytes {
        std::mem::take(&mut self.raw)
    }

    /// The body runs until the server closes (neither a length nor chunked).
    pub fn until_close(&self) -> bool {
        self.dec.until_close()
    }

    /// The exact length still to come, when the framing says it.
    pub fn exact_len(&self) -> Option<u64> {
        self.dec.exact_len()
    }

    /// The connection, once the body is read to its end and the connection can carry another
    /// request.
    pub fn take_reusable(&mut self) -> Option<Box<Conn>> {
        if self.dec.is_end() && self.keep {
            self.conn.take()
        } else {
            None
        }
    }

    /// After `101 Switching Protocols`: the connection as a byte stream, starting with what
    /// the server sent after its response head.
    pub fn into_upgraded(mut self) -> Option<Upgraded> {
        let c = self.conn.take()?;
        Some(Upgraded::new(c.rbuf.freeze(), Box::new(c.io)))
    }

    pub fn poll_data(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Error>>> {
        let Some(c) = self.conn.as_mut() else {
            return Poll::Ready(None);
        };
        loop {
            match self.dec.decode(&mut c.rbuf) {
                Ok(Step::Data(d)) => return Poll::Ready(Some(Ok(d))),
                Ok(Step::Done) => return Poll::Ready(None),
                Ok(Step::More) => {}
                Err(e) => return Poll::Ready(Some(Err(Error::Bad(e)))),
            }
            // More bytes are needed.
            let filled = match c.poll_fill(cx) {
                Poll::Ready(r) => r,
                Poll::Pending => return server_quiet(self.idle, &mut self.waiting, c, cx),
            };
            self.waiting = None;
            match filled {
                Ok(0) if self.dec.at_eof() => return Poll::Ready(None),
                Ok(0) => return Poll::Ready(Some(Err(Error::Truncated))),
                Ok(_) => {}
                Err(e) => return Poll::Ready(Some(Err(e.into()))),
            }
        }
    }
}

/// A response body's read found nothing from the server: Pending, or the `timeout server`
/// error once the server has kept quiet for `idle` since `waiting` (set by the first wait).
#[inline]
fn server_quiet<T>(
    idle: Option<Duration>,
    waiting: &mut Option<Instant>,
    c: &mut Conn,
    cx: &mut Context<'_>,
) -> Poll<Option<Result<T, Error>>> {
    if let Some(idle) = idle {
        let since = *waiting.get_or_insert_with(Instant::now);
        if c.poll_timer(cx, since + idle) {
            return Poll::Ready(Some(Err(Error::Timeout(idle))));
        }
    }
    Poll::Pending
}

/// A server connection after `101 Switching Protocols`: bytes the server sent right after
/// its response head come first.
pub type Upgraded = super::prefixed::Prefixed<Box<dyn Stream>>;

#[cfg(test)]
mod tests;
