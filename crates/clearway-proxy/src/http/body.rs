//! The body of a response on its way to the client: bytes Clearway made, or a server's
//! streamed body that, once complete, gives its connection back for reuse and its slot back
//! to the queue; it also carries the header lines an HTTP/1.1 server's head kept as they
//! came (`take_raw_head`). Must not look at the bytes, which a compressed response hands to
//! its encoder (`compress`).

use super::h1;
use super::pool::{Key, Pool, Sender};
use crate::dispatch::SlotGuard;
use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// Called when the response is over (sent, or abandoned): the session counts requests in flight.
pub trait Done: Send + Sync {
    fn done(&self);
}

/// Calls `Done::done` once when dropped: held by a request's handler, then by its response
/// body, so a request abandoned at any point (client gone, stream reset) is counted as over.
pub struct DoneGuard(Arc<dyn Done>);

impl DoneGuard {
    pub fn new(d: Arc<dyn Done>) -> DoneGuard {
        DoneGuard(d)
    }
}

impl Drop for DoneGuard {
    fn drop(&mut self) {
        self.0.done();
    }
}

/// A server connection lent to one request: where it goes back to once its response is complete.
#[derive(Debug)]
pub struct Lease {
    pub key: Key,
    /// None: the connection is closed after this response (`http-server-close`, `httpclose`).
    pub home: Option<Arc<Pool>>,
    pub slot: SlotGuard,
}

impl Lease {
    /// Gives the connection back for reuse; the slot is released as the lease goes.
    fn give_back(self, conn: Sender) {
        if let Some(home) = self.home {
            home.put(self.key, conn, self.slot.in_use());
        }
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

pub struct ResBody {
    kind: Kind,
    done: Option<DoneGuard>,
    /// The request's log line, written when this body is done or dropped.
    log: Option<Box<super::access_log::PendingLog>>,
    /// What the bytes go through besides (compression, a cache): rare, so boxed, and one
    /// box for both (a body is moved many times on its way).
    extra: Option<Box<Extra>>,
}

/// A body's passengers.
#[derive(Debug, Default)]
struct Extra {
    /// `compression`: the encoder the bytes go through, until the body's end; then the
    /// trailers frame that came after the last bytes, if any.
    encoding: Option<Encoding>,
    /// `cache-store`: the object the body fills as it passes.
    fill: Option<super::cache::Fill>,
    /// `http-response wait-for-body`: what was read ahead for the rules, given first.
    ahead: Option<Ahead>,
}

/// A body's first bytes, read ahead, and the frame that ended the reading (trailers).
#[derive(Debug)]
struct Ahead {
    data: Bytes,
    tail: Option<Frame<Bytes>>,
}

impl Ahead {
    fn next(&mut self) -> Option<Frame<Bytes>> {
        if !self.data.is_empty() {
            return Some(Frame::data(std::mem::take(&mut self.data)));
        }
        self.tail.take()
    }

    fn is_empty(&self) -> bool {
        self.data.is_empty() && self.tail.is_none()
    }
}

/// A body being compressed.
#[derive(Debug)]
struct Encoding {
    encoder: Option<super::compress::Encoder>,
    trailers: Option<Frame<Bytes>>,
}

enum Kind {
    Local(Option<Bytes>),
    /// Read from an HTTP/1.1 server connection by this body itself.
    H1 {
        inner: h1::ResponseBody,
        lease: Option<Lease>,
    },
    /// Streamed from an HTTP/2 connection's task; `sender` is that connection.
    H2 {
        inner: Incoming,
        lease: Option<(Lease, Sender)>,
    },
}

impl From<Bytes> for ResBody {
    fn from(b: Bytes) -> ResBody {
        ResBody::local(b)
    }
}

impl ResBody {
    /// Reads the body to its end and drops what it holds: the answer to a HEAD the server got
    /// as a GET (`set-method`), whose server connection may then serve again, as in HAProxy.
    pub async fn discard(mut self) {
        use http_body_util::BodyExt as _;
        while !self.is_end_stream() {
            match self.frame().await {
                Some(Ok(_)) => {}
                _ => break,
            }
        }
    }

    pub fn local(b: Bytes) -> ResBody {
        ResBody {
            kind: Kind::Local((!b.is_empty()).then_some(b)),
            done: None,
            log: None,
            extra: None,
        }
    }

    #[inline(always)]
    pub fn h1(inner: h1::ResponseBody, lease: Lease) -> ResBody {
        let mut b = ResBody {
            kind: Kind::H1 {
                inner,
                lease: Some(lease),
            },
            done: None,
            log: None,
            extra: None,
        };
        // An empty body is over already: the connection can serve another request at once.
        b.finish_h1();
        b
    }

    pub fn h2(inner: Incoming, lease: Lease, sender: Sender) -> ResBody {
        ResBody {
            kind: Kind::H2 {
                inner,
                lease: Some((lease, sender)),
            },
            done: None,
            log: None,
            extra: None,
        }
    }

    /// The response's header lines as an HTTP/1.1 server sent them, when they were kept as
    /// they came (`h1::Head::raw`); empty when the header map holds them. Taken once.
    pub fn take_raw_head(&mut self) -> Bytes {
        match &mut self.kind {
            Kind::H1 { inner, .. } => inner.take_raw(),
            _ => Bytes::new(),
        }
    }

    /// Keeps `done` until this body is finished or dropped. In place: a response moved out
    /// and back in costs a copy of it each way.
    pub fn set_done(&mut self, done: Option<DoneGuard>) {
        self.done = done;
    }

    /// Reads the body ahead (`http-response wait-for-body`) until it ends, `at_least` bytes
    /// came (when not 0) or `room` bytes did; those bytes are then given first, before the
    /// rest. Returns all the bytes read ahead, an earlier wait's too. Before the body has a
    /// log line, a cache or an encoder: those see the bytes when they are given.
    pub async fn read_ahead(&mut self, at_least: u64, room: usize) -> Result<Bytes, BoxError> {
        let (mut data, mut tail) = match self.extra.as_deref_mut().and_then(|x| x.ahead.take()) {
            Some(a) => (bytes::BytesMut::from(&a.data[..]), a.tail),
            None => (bytes::BytesMut::new(), None),
        };
        let want = match at_least {
            0 => room,
            n => usize::try_from(n).unwrap_or(usize::MAX).min(room),
        };
        while data.len() < want && tail.is_none() && !self.ended() {
            match std::future::poll_fn(|cx| Pin::new(&mut *self).poll_inner(cx)).await {
                Some(Ok(f)) => match f.into_data() {
                    Ok(d) => data.extend_from_slice(&d),
                    Err(f) => tail = Some(f),
                },
                Some(Err(e)) => return Err(e),
                None => break,
            }
        }
        let data = data.freeze();
        self.extra.get_or_insert_with(Default::default).ahead = Some(Ahead {
            data: data.clone(),
            tail,
        });
        Ok(data)
    }

    /// Sends the body through `encoder` (`compression`).
    pub fn compress(&mut self, encoder: super::compress::Encoder) {
        self.extra.get_or_insert_with(Default::default).encoding = Some(Encoding {
            encoder: Some(encoder),
            trailers: None,
        });
    }

    /// Keeps the body in a cache as it passes (`cache-store`).
    pub fn fill(&mut self, f: super::cache::Fill) {
        self.extra.get_or_insert_with(Default::default).fill = Some(f);
    }

    /// Whether the rest of the body may be spliced from its server to the client: an
    /// HTTP/1 server's long body over plain TCP, with nothing to go through (compression, a
    /// cache, bytes read ahead) and nothing buffered.
    #[inline]
    pub fn spliceable(&self) -> bool {
        match &self.kind {
            Kind::H1 { inner, .. } => self.extra.is_none() && inner.spliceable(),
            _ => false,
        }
    }

    /// Moves what the server has ready of the body into `pipe` (empty), as `poll_frame` gives
    /// a frame: n bytes went in, or the body is over (its connection then goes back), or it
    /// failed. Counted in the log line as frames are.
    pub fn poll_splice(
        &mut self,
        cx: &mut Context<'_>,
        pipe: &clearway_net::splice::Pipe,
    ) -> Poll<Option<Result<usize, BoxError>>> {
        let Kind::H1 { inner, lease } = &mut self.kind else {
            return Poll::Ready(Some(Err("not an HTTP/1 server's body".into())));
        };
        let r = inner.poll_splice(cx, pipe);
        if let (Poll::Ready(Some(Err(e))), Some(l)) = (&r, lease.as_ref()) {
            let (backend, server) = l.slot.names();
            tracing::warn!(%backend, %server, "response to the client cut short: {e}");
        }
        if inner.is_end() {
            self.finish_h1();
        }
        if self.log.is_some() {
            let got = match &r {
                Poll::Ready(Some(Ok(n))) => Poll::Ready(Some(Ok(*n as u64))),
                Poll::Ready(Some(Err(_))) => Poll::Ready(Some(Err(()))),
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            };
            self.logged(got);
        }
        r.map(|o| o.map(|r| r.map_err(Into::into)))
    }

    /// The server's body runs until it closes its connection (HTTP/1 without a length).
    pub fn until_close(&self) -> bool {
        matches!(&self.kind, Kind::H1 { inner, .. } if inner.until_close())
    }

    /// A frame of the inner body through the encoder: data compressed, and at the end the
    /// encoder's last bytes before any trailers.
    fn encode(
        &mut self,
        r: Poll<Option<Result<Frame<Bytes>, BoxError>>>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let Some(enc) = self.extra.as_deref_mut().and_then(|x| x.encoding.as_mut()) else {
            return r;
        };
        match r {
            Poll::Ready(Some(Ok(f))) if f.is_data() => {
                let Some(e) = enc.encoder.as_mut() else {
                    return Poll::Ready(Some(Ok(f)));
                };
                let data = f.into_data().unwrap_or_default();
                if data.is_empty() {
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Poll::Ready(Some(Ok(Frame::data(e.push(data)))))
            }
            Poll::Ready(Some(Ok(f))) => match enc.encoder.take() {
                // Trailers: the stream's end first, then them.
                Some(e) => {
                    enc.trailers = Some(f);
                    Poll::Ready(Some(Ok(Frame::data(e.finish()))))
                }
                None => Poll::Ready(Some(Ok(f))),
            },
            Poll::Ready(None) => match (enc.encoder.take(), enc.trailers.take()) {
                (Some(e), _) => Poll::Ready(Some(Ok(Frame::data(e.finish())))),
                (None, Some(t)) => Poll::Ready(Some(Ok(t))),
                (None, None) => Poll::Ready(None),
            },
            other => other,
        }
    }

    /// Carries the request's log line, to be written when the body is over.
    pub fn set_log(&mut self, log: super::access_log::PendingLog) {
        let mut log = Box::new(log);
        log.complete = self.is_end_stream();
        self.log = Some(log);
    }

    /// Counts in the log line what a poll of the body gave (so many bytes, its end, a
    /// failure), and the body's end.
    fn logged(&mut self, r: Poll<Option<Result<u64, ()>>>) {
        let ended = self.ended();
        if let Some(l) = &mut self.log {
            match r {
                Poll::Ready(Some(Ok(n))) => l.bytes_out += n,
                Poll::Ready(None) => l.complete = true,
                // Cut short because the server's sessions were shut down: `KD`.
                Poll::Ready(Some(Err(_))) if self.kind.killed() => l.term = *b"KD",
                _ => {}
            }
            if ended {
                l.complete = true;
            }
        }
    }

    /// Once the body is over: its slot goes back, and its connection too when it has a home.
    /// A connection closed after this response stays in `inner` until the body is dropped,
    /// which the client side does after writing the response: the client has its answer
    /// before the server's close (a reset, whose delivery runs in this thread) takes its time.
    fn finish_h1(&mut self) {
        if let Kind::H1 { inner, lease } = &mut self.kind {
            if inner.is_end() {
                if let Some(l) = lease.take() {
                    if l.home.is_some() {
                        if let Some(c) = inner.take_reusable() {
                            l.give_back(Sender::H1(c));
                        }
                    }
                }
            }
        }
    }
}

impl Drop for ResBody {
    fn drop(&mut self) {
        // A lease still held here belongs to a body that was never polled to its end: when it
        // was empty the connection is reusable; otherwise its state is unknown and dropping it
        // closes it. The slot is released either way.
        if let Kind::H2 { inner, lease } = &mut self.kind {
            if let Some((l, sender)) = lease.take() {
                if inner.is_end_stream() {
                    l.give_back(sender);
                }
            }
        }
        // The guard, dropped with this body, ends the request.
    }
}

impl Body for ResBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let mut r = match self.extra.as_deref_mut().and_then(|x| x.ahead.as_mut()?.next()) {
            Some(f) => Poll::Ready(Some(Ok(f))),
            None => self.as_mut().poll_inner(cx),
        };
        if let Some(x) = self.extra.as_deref_mut() {
            if let Some(f) = x.fill.as_mut() {
                match &r {
                    Poll::Ready(Some(Ok(fr))) => {
                        if let Some(d) = fr.data_ref() {
                            f.data(d);
                        }
                    }
                    Poll::Ready(None) => f.end(),
                    _ => {}
                }
            }
            if x.encoding.is_some() {
                r = self.encode(r);
            }
        }
        if self.log.is_some() {
            let got = match &r {
                Poll::Ready(Some(Ok(f))) => Poll::Ready(Some(Ok(f.data_ref().map_or(0, |d| d.len() as u64)))),
                Poll::Ready(Some(Err(_))) => Poll::Ready(Some(Err(()))),
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            };
            self.logged(got);
        }
        r
    }

    fn is_end_stream(&self) -> bool {
        self.ended()
    }

    #[inline]
    fn size_hint(&self) -> SizeHint {
        if let Some(x) = self.extra.as_deref() {
            return self.size_hint_with(x);
        }
        self.kind.size_hint()
    }
}

impl ResBody {
    /// The size hint of a body with passengers: unknown when compressed, larger by what was
    /// read ahead.
    #[inline(never)]
    fn size_hint_with(&self, x: &Extra) -> SizeHint {
        if x.encoding.is_some() {
            return SizeHint::default();
        }
        let h = self.kind.size_hint();
        match &x.ahead {
            Some(a) if !a.data.is_empty() => with_more(h, a.data.len() as u64),
            _ => h,
        }
    }
}

/// A size hint `n` bytes larger.
fn with_more(h: SizeHint, n: u64) -> SizeHint {
    let mut more = SizeHint::new();
    if let Some(u) = h.upper() {
        more.set_upper(u.saturating_add(n));
    }
    more.set_lower(h.lower().saturating_add(n));
    more
}

impl Kind {
    #[inline]
    fn size_hint(&self) -> SizeHint {
        match self {
            Kind::Local(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            Kind::H1 { inner, .. } => inner.exact_len().map_or_else(SizeHint::default, SizeHint::with_exact),
            Kind::H2 { inner, .. } => inner.size_hint(),
        }
    }

    /// Whether the server's sessions were shut down since this response's request took its
    /// slot.
    fn killed(&self) -> bool {
        match self {
            Kind::H1 { lease: Some(l), .. }
            | Kind::H2 {
                lease: Some((l, _)), ..
            } => l.slot.killed(),
            _ => false,
        }
    }
}

impl ResBody {
    fn ended(&self) -> bool {
        if let Some(x) = self.extra.as_deref() {
            if let Some(e) = &x.encoding {
                if e.encoder.is_some() || e.trailers.is_some() {
                    return false;
                }
            }
            if x.ahead.as_ref().is_some_and(|a| !a.is_empty()) {
                return false;
            }
        }
        match &self.kind {
            Kind::Local(b) => b.is_none(),
            Kind::H1 { inner, .. } => inner.is_end(),
            Kind::H2 { inner, .. } => inner.is_end_stream(),
        }
    }

    #[inline]
    fn poll_inner(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match &mut self.kind {
            Kind::Local(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Kind::H1 { inner, lease } => {
                let r = inner.poll_data(cx);
                if let (Poll::Ready(Some(Err(e))), Some(l)) = (&r, lease.as_ref()) {
                    let (backend, server) = l.slot.names();
                    tracing::warn!(%backend, %server, "response to the client cut short: {e}");
                }
                if inner.is_end() {
                    self.finish_h1();
                }
                r.map(|o| o.map(|r| r.map(Frame::data).map_err(Into::into)))
            }
            Kind::H2 { inner, lease } => {
                let r = Pin::new(inner).poll_frame(cx);
                if let Poll::Ready(None) = r {
                    if let Some((l, sender)) = lease.take() {
                        l.give_back(sender);
                    }
                }
                r.map_err(Into::into)
            }
        }
    }
}
