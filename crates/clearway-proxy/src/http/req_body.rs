//! A request body on its way to a server: none, an HTTP/1 client's (passed through a pipe
//! that the client connection fills as the server side asks), an HTTP/2 client's, or one
//! whose first bytes were read ahead for the rules (`read_ahead`). Owns
//! the server side's end of the pipe; must not read sockets (`client_h1` fills the pipe).

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

/// A request body on its way to a server: none (a request that may be sent again), an
/// HTTP/1 client's (read by this module as the server side asks for it), or an HTTP/2
/// client's (read by hyper).
pub enum ReqBody {
    Empty,
    H1(RequestBody),
    H2(hyper::body::Incoming),
    /// Its first bytes read ahead (`wait-for-body`), then the rest.
    Ahead(Box<super::read_ahead::Ahead>),
}

impl ReqBody {
    /// A copy of a body read ahead whole (`option http-buffer-request`, `wait-for-body`),
    /// to send again; None for any other.
    pub fn whole_copy(&self) -> Option<ReqBody> {
        match self {
            ReqBody::Ahead(a) => a.whole_copy(),
            _ => None,
        }
    }
}

impl std::fmt::Debug for ReqBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ReqBody::Empty => "ReqBody::Empty",
            ReqBody::H1(_) => "ReqBody::H1",
            ReqBody::H2(_) => "ReqBody::H2",
            ReqBody::Ahead(_) => "ReqBody::Ahead",
        })
    }
}

impl Body for ReqBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            ReqBody::Empty => Poll::Ready(None),
            ReqBody::H1(b) => b
                .poll_data(cx)
                .map(|o| o.map(|r| r.map(Frame::data).map_err(Into::into))),
            ReqBody::H2(b) => Pin::new(b).poll_frame(cx).map_err(Into::into),
            ReqBody::Ahead(b) => b.poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ReqBody::Empty => true,
            ReqBody::H1(b) => b.is_end(),
            ReqBody::H2(b) => b.is_end_stream(),
            ReqBody::Ahead(b) => b.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ReqBody::Empty => SizeHint::with_exact(0),
            ReqBody::H1(b) => b.exact.map_or_else(SizeHint::default, SizeHint::with_exact),
            ReqBody::H2(b) => b.size_hint(),
            ReqBody::Ahead(b) => b.size_hint(),
        }
    }
}

pub(super) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Bytes of a request body waiting in a kernel pipe: spliced there from an HTTP/1 client's
/// socket, to be spliced on to the server's.
#[derive(Debug)]
pub struct Spliced {
    pub pipe: clearway_net::splice::Pipe,
    pub len: usize,
}

/// A request body that may hand over some of its bytes in a kernel pipe rather than in
/// frames (an HTTP/1 client's, once the server side says it can take them).
pub trait SplicedBody {
    /// The server side can write bytes from a kernel pipe (a plain TCP connection, the body
    /// sent as it came): from now on the client side may splice the body.
    fn accept_spliced(&mut self) {}

    /// Bytes waiting in a kernel pipe: they come before any frame polled after this.
    fn take_spliced(&mut self) -> Option<Spliced> {
        None
    }

    /// The pipe of a `Spliced` taken, emptied: the client side's for its next bytes.
    fn give_pipe(&mut self, pipe: clearway_net::splice::Pipe) {
        pipe.give_back();
    }
}

// The bodies the server side's unit tests send: never spliced.
#[cfg(test)]
impl SplicedBody for http_body_util::Empty<Bytes> {}
#[cfg(test)]
impl SplicedBody for http_body_util::Full<Bytes> {}

impl SplicedBody for ReqBody {
    fn accept_spliced(&mut self) {
        if let ReqBody::H1(b) = self {
            b.spliced_on = true;
            lock(&b.pipe).sink = true;
        }
    }

    fn take_spliced(&mut self) -> Option<Spliced> {
        match self {
            ReqBody::H1(b) if b.spliced_on => {
                let mut p = lock(&b.pipe);
                let s = p.spliced.take()?;
                p.lent = true;
                Some(s)
            }
            _ => None,
        }
    }

    fn give_pipe(&mut self, pipe: clearway_net::splice::Pipe) {
        match self {
            ReqBody::H1(b) => {
                let mut p = lock(&b.pipe);
                p.lent = false;
                p.spare = Some(pipe);
                wake(&mut p.conn);
            }
            _ => pipe.give_back(),
        }
    }
}

/// The client's side of a request body: what the connection read for it so far.
#[derive(Default)]
pub(super) struct Pipe {
    /// One piece read and not yet taken.
    pub(super) data: Option<Bytes>,
    pub(super) end: bool,
    pub(super) failed: Option<&'static str>,
    /// The server side waits for more.
    pub(super) want: bool,
    /// The server side let go of the body.
    pub(super) gone: bool,
    pub(super) reader: Option<Waker>,
    pub(super) conn: Option<Waker>,
    /// The server side takes spliced bytes (`SplicedBody::accept_spliced`).
    pub(super) sink: bool,
    /// Bytes spliced from the client, not yet taken by the server side.
    pub(super) spliced: Option<Spliced>,
    /// The server side holds the kernel pipe, writing out what it took.
    pub(super) lent: bool,
    /// The kernel pipe, back from the server side, empty.
    pub(super) spare: Option<clearway_net::splice::Pipe>,
}

pub(super) fn lock(p: &Mutex<Pipe>) -> std::sync::MutexGuard<'_, Pipe> {
    // Neither side panics while holding it; a poisoned lock still has consistent data.
    p.lock().unwrap_or_else(|e| e.into_inner())
}

/// Why a request body could not be read to its end.
pub(super) const BODY_CLOSED: &str = "the client closed its connection in the middle of the body";
pub(super) const BODY_FAILED: &str = "the client's connection failed in the middle of the body";
pub(super) const BODY_TIMEOUT: &str = "no data from the client for 'timeout client' in the middle of the body";

/// An HTTP/1 client's request body, as the server side reads it.
pub struct RequestBody {
    pipe: Arc<Mutex<Pipe>>,
    /// The length the request gave, when it gave one.
    exact: Option<u64>,
    ended: bool,
    /// The server side takes spliced bytes: it looks for them before each frame.
    spliced_on: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("the client's request body failed: {0}")]
pub struct BodyError(&'static str);

impl BodyError {
    /// The client stopped sending (`timeout client`), rather than closing or failing.
    pub fn is_timeout(&self) -> bool {
        self.0 == BODY_TIMEOUT
    }
}

impl RequestBody {
    /// The server side's end of `pipe`, for a body of `exact` bytes when the request says.
    pub(super) fn new(pipe: Arc<Mutex<Pipe>>, exact: Option<u64>) -> RequestBody {
        RequestBody {
            pipe,
            exact,
            ended: false,
            spliced_on: false,
        }
    }

    fn is_end(&self) -> bool {
        self.ended
    }

    fn poll_data(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, BodyError>>> {
        if self.ended {
            return Poll::Ready(None);
        }
        let mut p = lock(&self.pipe);
        // The connection is woken only when this changes what it should do: room for the
        // next piece, or a first ask. (Waking it on every poll would have the two wake each
        // other for as long as the client sends nothing.)
        let (r, news) = if let Some(d) = p.data.take() {
            (Poll::Ready(Some(Ok(d))), true)
        } else if let Some(e) = p.failed {
            self.ended = true;
            (Poll::Ready(Some(Err(BodyError(e)))), false)
        } else if p.end {
            self.ended = true;
            (Poll::Ready(None), false)
        } else {
            let first = !p.want;
            p.want = true;
            p.reader = Some(cx.waker().clone());
            (Poll::Pending, first)
        };
        if news {
            wake(&mut p.conn);
        }
        r
    }
}

impl Drop for RequestBody {
    fn drop(&mut self) {
        let mut p = lock(&self.pipe);
        p.gone = true;
        wake(&mut p.conn);
    }
}

pub(super) fn wake(w: &mut Option<Waker>) {
    if let Some(w) = w.take() {
        w.wake();
    }
}
