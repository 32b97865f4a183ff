//! The body of a response on its way to the client: bytes Clearway made, or a server's
//! streamed body that, once complete, gives its connection back for reuse and its slot back
//! to the queue. Must not look at the bytes.

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
    pub sender: Sender,
    pub key: Key,
    /// None: the connection is closed after this response (`http-server-close`, `httpclose`).
    pub home: Option<Arc<Pool>>,
    pub slot: SlotGuard,
}

pub struct ResBody {
    kind: Kind,
    done: Option<DoneGuard>,
}

enum Kind {
    Local(Option<Bytes>),
    Server { inner: Incoming, lease: Option<Lease> },
}

impl ResBody {
    pub fn local(b: Bytes) -> ResBody {
        ResBody {
            kind: Kind::Local((!b.is_empty()).then_some(b)),
            done: None,
        }
    }

    pub fn server(inner: Incoming, lease: Lease) -> ResBody {
        ResBody {
            kind: Kind::Server {
                inner,
                lease: Some(lease),
            },
            done: None,
        }
    }

    /// Keeps `done` until this body is finished or dropped.
    pub fn on_done(mut self, done: DoneGuard) -> ResBody {
        self.done = Some(done);
        self
    }
}

impl Drop for ResBody {
    fn drop(&mut self) {
        // A lease still held here belongs to a body that was never polled to its end: when it
        // was empty the connection is reusable; otherwise its state is unknown and dropping it
        // closes it. The slot is released either way.
        if let Kind::Server { inner, lease } = &mut self.kind {
            if let Some(l) = lease.take() {
                if let (true, Some(home)) = (inner.is_end_stream(), &l.home) {
                    home.put(l.key, l.sender);
                }
            }
        }
        // The guard, dropped with this body, ends the request.
    }
}

impl Body for ResBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        match &mut self.kind {
            Kind::Local(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Kind::Server { inner, lease } => {
                let r = Pin::new(inner).poll_frame(cx);
                if let Poll::Ready(None) = r {
                    if let Some(l) = lease.take() {
                        if let Some(home) = &l.home {
                            home.put(l.key, l.sender);
                        }
                    }
                }
                r
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Local(b) => b.is_none(),
            Kind::Server { inner, .. } => inner.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Local(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            Kind::Server { inner, .. } => inner.size_hint(),
        }
    }
}
