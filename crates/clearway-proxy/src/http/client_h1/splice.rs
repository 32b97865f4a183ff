//! The client side of HTTP/1 bodies moved with `splice(2)`: a response body that its server
//! connection puts in a kernel pipe is written from it to the client's socket, and a request
//! body is spliced from the client's socket into a kernel pipe that the server side writes
//! out. Both need plain TCP on both sides and a body sent as it came with nothing buffered
//! (the caller checks the response's framing; the server side accepts a request body's).
//! Owns these calls on the client's socket and when a splice starts; must not parse.

use super::super::body::ResBody;
use super::super::decode::Decoder;
use super::super::h1::{poll_splice_on, SPLICE_MIN};
use super::super::req_body::{wake, Pipe as BodyPipe, Spliced, BODY_CLOSED, BODY_FAILED, BODY_TIMEOUT};
use super::{ClientSocket, Conn, End};
use clearway_net::splice::Pipe;
use std::io;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, Interest};
use tokio::time::Instant;

/// The most one splice moves: a pipe's capacity.
const SPLICE_MAX: u64 = clearway_net::splice::PIPE_SIZE as u64;

/// A response body being spliced: the kernel pipe and how many bytes it holds.
pub(super) type Splicing = Option<(Pipe, usize)>;

/// Where a request body's splicing stands.
#[derive(Debug, Default)]
pub(super) struct RequestSplice {
    /// Some of it was spliced: the rest is, however short.
    started: bool,
    /// It cannot be (no pipe to spare, no socket).
    unable: bool,
}

impl<IO: AsyncRead + AsyncWrite + ClientSocket + Unpin + Send + 'static> Conn<IO> {
    /// Moves the rest of `rb` from its server to the client through a kernel pipe (once the
    /// response head and what was buffered are out, `rb.spliceable()`). Ready(Ok(true)) once
    /// the body is over; Ready(Ok(false)) when it cannot be spliced after all (no pipe to
    /// spare, no socket), before anything was: the caller goes on through its buffers.
    pub(super) fn poll_splice_response(
        &mut self,
        cx: &mut Context<'_>,
        rb: &mut ResBody,
        sp: &mut Splicing,
        waiting_since: &mut Option<Instant>,
    ) -> Poll<Result<bool, End>> {
        if sp.is_none() {
            let Some(s) = self.io.splice_socket() else {
                return Poll::Ready(Ok(false));
            };
            let Some(p) = Pipe::take() else {
                return Poll::Ready(Ok(false));
            };
            if let Err(e) = clearway_net::splice::limit_unsent(s) {
                tracing::debug!("cannot limit the unsent bytes of a spliced body: {e}");
            }
            *sp = Some((p, 0));
        }
        let Some((pipe, held)) = sp.as_mut() else {
            return Poll::Ready(Ok(false));
        };
        loop {
            if *held == 0 {
                match rb.poll_splice(cx, pipe) {
                    Poll::Ready(Some(Ok(n))) => *held = n,
                    Poll::Ready(None) => {
                        if let Some((p, _)) = sp.take() {
                            p.give_back();
                        }
                        return Poll::Ready(Ok(true));
                    }
                    // Logged by the body itself, with the server's name.
                    Poll::Ready(Some(Err(_))) => return Poll::Ready(Err(End::CutShort)),
                    Poll::Pending => return Poll::Pending,
                }
            }
            let wrote = {
                let Some(s) = self.io.splice_socket() else {
                    return Poll::Ready(Err(End::Io(io::ErrorKind::NotConnected.into())));
                };
                match poll_splice_on(s, cx, Interest::WRITABLE, || pipe.drain(s, *held)) {
                    Poll::Ready(Ok(n)) => Some(n),
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(End::Io(e))),
                    Poll::Pending => None,
                }
            };
            match wrote {
                Some(n) => {
                    *held -= n;
                    *waiting_since = None;
                    self.io.spliced(0, n);
                }
                // The client does not take the response.
                None => {
                    return match self.client_gone_quiet(cx, waiting_since) {
                        true => Poll::Ready(Err(End::Timeout {
                            why: "timeout client",
                            answered: false,
                        })),
                        false => Poll::Pending,
                    };
                }
            }
        }
    }

    /// Splices what the client has ready of its request body into a kernel pipe for the
    /// server side (`p.spliced`), when the server side takes spliced bytes, nothing of the
    /// body is buffered and enough of it is still to come. None: not spliced, the caller
    /// reads the body into its buffer; Some: done what could be done (spliced, or waiting
    /// for the client or for the pipe to come back), or failed with the reason.
    pub(super) fn splice_request(
        &mut self,
        cx: &mut Context<'_>,
        (dec, waiting, st): (&mut Decoder, &mut Option<Instant>, &mut RequestSplice),
        p: &mut BodyPipe,
    ) -> Option<Result<(), &'static str>> {
        if !p.sink || st.unable || !self.rbuf.is_empty() {
            return None;
        }
        let room = dec.splice_room(if st.started { 0 } else { SPLICE_MIN })?;
        if p.lent {
            // The server side writes out what it took; the pipe comes back then.
            p.conn = Some(cx.waker().clone());
            return Some(Ok(()));
        }
        let Some(pipe) = p.spare.take().or_else(Pipe::take) else {
            st.unable = true;
            return None;
        };
        st.started = true;
        let max = room.min(SPLICE_MAX) as usize;
        let Some(s) = self.io.splice_socket() else {
            pipe.give_back();
            st.unable = true;
            return None;
        };
        let got = match poll_splice_on(s, cx, Interest::READABLE, || pipe.fill(s, max)) {
            Poll::Ready(Ok(0)) => Err(BODY_CLOSED),
            Poll::Ready(Ok(n)) => Ok(n),
            Poll::Ready(Err(_)) => Err(BODY_FAILED),
            Poll::Pending => {
                p.spare = Some(pipe);
                p.conn = Some(cx.waker().clone());
                if self.client_gone_quiet(cx, waiting) {
                    p.failed = Some(BODY_TIMEOUT);
                    wake(&mut p.reader);
                    return Some(Err(BODY_TIMEOUT));
                }
                return Some(Ok(()));
            }
        };
        match got {
            Ok(n) => {
                *waiting = None;
                dec.took(n as u64);
                self.io.spliced(n, 0);
                p.spliced = Some(Spliced { pipe, len: n });
                wake(&mut p.reader);
                Some(Ok(()))
            }
            Err(e) => {
                p.failed = Some(e);
                wake(&mut p.reader);
                Some(Err(e))
            }
        }
    }
}
