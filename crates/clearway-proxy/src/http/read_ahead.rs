//! A request body's first bytes read before the rules go on (`http-request wait-for-body`,
//! `option http-buffer-request`): the rules read them (`req.body`), and the server still gets
//! the whole body, those bytes first. Owns the waiting and the replay; must not decide what a
//! rule does with the bytes.

use super::req_body::{BodyError, BoxError, ReqBody};
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt as _;
use hyper::body::{Body, Frame, SizeHint};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// The bytes read ahead, as the rules see them (`req.body`), and the length the request
/// gave for its whole body (`req.body_size`), in the request's extensions.
#[derive(Clone, Debug)]
pub struct BodyAhead {
    pub data: Bytes,
    pub size: Option<u64>,
}

/// A body whose first bytes were read ahead: those, then a frame that ended the reading
/// (trailers), then the rest.
pub struct Ahead {
    data: Bytes,
    tail: Option<Frame<Bytes>>,
    rest: ReqBody,
}

// Kept out of line: most bodies are not read ahead, and `ReqBody`'s methods, inlined where
// requests are written out, stay small.
impl Ahead {
    /// A copy of the body when all of it was read ahead (nothing left to come from the
    /// client): a request whose server connection turned out closed can go again with it.
    #[inline(never)]
    pub(super) fn whole_copy(&self) -> Option<ReqBody> {
        (self.tail.is_none() && self.rest.is_end_stream()).then(|| {
            ReqBody::Ahead(Box::new(Ahead {
                data: self.data.clone(),
                tail: None,
                rest: ReqBody::Empty,
            }))
        })
    }

    #[inline(never)]
    pub(super) fn poll_frame(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if !self.data.is_empty() {
            return Poll::Ready(Some(Ok(Frame::data(std::mem::take(&mut self.data)))));
        }
        if let Some(t) = self.tail.take() {
            return Poll::Ready(Some(Ok(t)));
        }
        Pin::new(&mut self.rest).poll_frame(cx)
    }

    #[inline(never)]
    pub(super) fn is_end_stream(&self) -> bool {
        self.data.is_empty() && self.tail.is_none() && self.rest.is_end_stream()
    }

    #[inline(never)]
    pub(super) fn size_hint(&self) -> SizeHint {
        match &self.rest {
            // An HTTP/1 body's hint is the length its request gave, whatever was read.
            ReqBody::H1(_) => self.rest.size_hint(),
            rest => {
                let r = rest.size_hint();
                let n = self.data.len() as u64;
                let mut h = SizeHint::new();
                h.set_lower(r.lower() + n);
                if let Some(u) = r.upper() {
                    h.set_upper(u + n);
                }
                h
            }
        }
    }
}

/// Why the wait ended without the bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum NotRead {
    /// `time` passed first, or `timeout client` while the client sent nothing (the request
    /// is answered 408).
    TimedOut,
    /// The client's body failed (it closed, or sent a bad chunk).
    Failed,
}

/// Reads `body` ahead until it ends, `at_least` bytes came (when not 0), or `room` bytes
/// (a buffer's worth) did, within `time`; the body is then one that gives those bytes
/// first. Returns what was read ahead, all of it when an earlier wait read some.
pub async fn wait(body: &mut ReqBody, time: Option<Duration>, at_least: u64, room: usize) -> Result<Bytes, NotRead> {
    let (data, tail, rest) = match std::mem::replace(body, ReqBody::Empty) {
        ReqBody::Ahead(a) => (BytesMut::from(&a.data[..]), a.tail, a.rest),
        rest => (BytesMut::new(), None, rest),
    };
    let mut a = (data, tail, rest);
    let want = match at_least {
        0 => room,
        n => usize::try_from(n).unwrap_or(usize::MAX).min(room),
    };
    let read = async {
        let (data, tail, rest) = &mut a;
        while data.len() < want && tail.is_none() && !rest.is_end_stream() {
            match rest.frame().await {
                Some(Ok(f)) => match f.into_data() {
                    Ok(d) => data.extend_from_slice(&d),
                    Err(f) => *tail = Some(f),
                },
                // The client's connection stopped sending for `timeout client`.
                Some(Err(e)) if e.downcast_ref::<BodyError>().is_some_and(|b| b.is_timeout()) => {
                    return Err(NotRead::TimedOut)
                }
                Some(Err(_)) => return Err(NotRead::Failed),
                None => break,
            }
        }
        Ok(())
    };
    match time {
        Some(t) => tokio::time::timeout(t, read).await.map_err(|_| NotRead::TimedOut)??,
        None => read.await?,
    }
    let (data, tail, rest) = a;
    let data = data.freeze();
    *body = ReqBody::Ahead(Box::new(Ahead {
        data: data.clone(),
        tail,
        rest,
    }));
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::req_body::{Pipe, RequestBody};
    use std::sync::{Arc, Mutex};

    async fn next(body: &mut ReqBody) -> Option<Bytes> {
        let f = body.frame().await?;
        f.ok()?.into_data().ok()
    }

    #[tokio::test]
    async fn bytes_read_ahead_are_given_first_then_the_rest() {
        let pipe = Arc::new(Mutex::new(Pipe {
            data: Some(Bytes::from_static(b"hello world")),
            end: true,
            ..Pipe::default()
        }));
        let mut body = ReqBody::H1(RequestBody::new(pipe, Some(11)));
        let got = wait(&mut body, Some(Duration::from_secs(5)), 5, 16).await.unwrap();
        assert_eq!(&got[..], b"hello world");
        assert_eq!(body.size_hint().exact(), Some(11));
        // A second wait reads nothing more and gives the same bytes.
        let again = wait(&mut body, None, 0, 16).await.unwrap();
        assert_eq!(&again[..], b"hello world");
        assert!(!body.is_end_stream());
        assert_eq!(next(&mut body).await.as_deref(), Some(&b"hello world"[..]));
        assert_eq!(next(&mut body).await, None);
        assert!(body.is_end_stream());
    }

    #[tokio::test]
    async fn a_body_that_does_not_come_in_time_is_not_read() {
        let pipe = Arc::new(Mutex::new(Pipe::default()));
        let mut body = ReqBody::H1(RequestBody::new(pipe, Some(11)));
        let r = wait(&mut body, Some(Duration::from_millis(10)), 0, 16).await;
        assert_eq!(r, Err(NotRead::TimedOut));
    }
}
