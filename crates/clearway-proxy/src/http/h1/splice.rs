//! HTTP/1 bodies moved with `splice(2)` on a plain TCP server connection, without copying
//! them through Clearway (HAProxy's `option splice-request`/`splice-response`, which Clearway
//! does by itself for long bodies): a response body read from the server's socket into a
//! kernel pipe, for the client side to write out, and a request body that the client side
//! put in a kernel pipe, written from it to the server's socket. Owns these calls on the
//! server's socket; must not decide whether to splice (the client side does, for a body with
//! nothing buffered, nothing to change in it and a socket on both sides).

use super::{Conn, Error, ResponseBody};
use crate::http::req_body::Spliced;
use clearway_net::splice::Pipe;
use std::io;
use std::task::{Context, Poll};
use tokio::io::Interest;

/// The least a body must still hold for splicing it to be worth a kernel pipe (smaller
/// bodies go through the buffers, in as many system calls).
pub const SPLICE_MIN: u64 = 64 * 1024;

/// The most one splice moves: a pipe's capacity.
const SPLICE_MAX: u64 = clearway_net::splice::PIPE_SIZE as u64;

/// One splice call on `s` (`f`: filling a pipe from it, or draining one to it) once `s` is
/// ready for `interest`; Pending (woken when it is) until then. A readiness that turns out
/// stale is cleared and waited for again. Shared by both sides' spliced bodies.
pub(crate) fn poll_splice_on(
    s: &tokio::net::TcpStream,
    cx: &mut Context<'_>,
    interest: Interest,
    mut f: impl FnMut() -> io::Result<usize>,
) -> Poll<io::Result<usize>> {
    loop {
        let ready = match interest {
            Interest::WRITABLE => s.poll_write_ready(cx),
            _ => s.poll_read_ready(cx),
        };
        match ready {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        }
        match s.try_io(interest, &mut f) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            r => return Poll::Ready(r),
        }
    }
}

impl ResponseBody {
    /// Whether the rest of the body may be spliced from the server: nothing of it read into
    /// the buffer, a plain TCP connection, and a length of at least `SPLICE_MIN` still to
    /// come (or a body that runs until the server closes).
    #[inline]
    pub fn spliceable(&self) -> bool {
        match &self.conn {
            Some(c) => c.rbuf.is_empty() && self.dec.splice_room(SPLICE_MIN).is_some() && c.io.plain().is_some(),
            None => false,
        }
    }

    /// Moves what the server has ready of the body, up to a pipe's worth, into `pipe` (which
    /// must be empty): Ready(Some(Ok(n))) when n bytes went in, Ready(None) at the body's
    /// end. The server's silence counts against `timeout server` as in `poll_data`.
    pub fn poll_splice(&mut self, cx: &mut Context<'_>, pipe: &Pipe) -> Poll<Option<Result<usize, Error>>> {
        let Some(c) = self.conn.as_mut() else {
            return Poll::Ready(None);
        };
        if self.dec.is_end() {
            return Poll::Ready(None);
        }
        let Some(room) = self.dec.splice_room(0) else {
            return Poll::Ready(Some(Err(Error::Bad("a chunked body cannot be spliced"))));
        };
        let max = room.min(SPLICE_MAX) as usize;
        let Some(s) = c.io.plain() else {
            return Poll::Ready(Some(Err(Error::Bad("not a plain TCP connection"))));
        };
        let moved = match poll_splice_on(s, cx, Interest::READABLE, || pipe.fill(s, max)) {
            Poll::Ready(Ok(n)) => n,
            Poll::Ready(Err(e)) => return Poll::Ready(Some(Err(e.into()))),
            Poll::Pending => return super::server_quiet(self.idle, &mut self.waiting, c, cx),
        };
        self.waiting = None;
        c.io.spliced(moved, 0, moved == 0);
        if moved == 0 {
            return match self.dec.at_eof() {
                true => Poll::Ready(None),
                false => Poll::Ready(Some(Err(Error::Truncated))),
            };
        }
        self.dec.took(moved as u64);
        Poll::Ready(Some(Ok(moved)))
    }
}

impl Conn {
    /// Whether a request body may be spliced to this connection (plain TCP).
    pub(super) fn takes_spliced(&self) -> bool {
        self.io.plain().is_some()
    }

    /// Writes what `s` holds to the server; Ready once all of it is out. Returns whether
    /// anything was written meanwhile.
    pub(super) fn poll_splice_out(&mut self, cx: &mut Context<'_>, s: &mut Spliced) -> (Poll<io::Result<()>>, bool) {
        let mut wrote = false;
        while s.len > 0 {
            let Some(sock) = self.io.plain() else {
                return (Poll::Ready(Err(io::ErrorKind::Unsupported.into())), wrote);
            };
            match poll_splice_on(sock, cx, Interest::WRITABLE, || s.pipe.drain(sock, s.len)) {
                Poll::Ready(Ok(n)) => {
                    s.len -= n;
                    wrote = true;
                    self.io.spliced(0, n, false);
                }
                Poll::Ready(Err(e)) => return (Poll::Ready(Err(e)), wrote),
                Poll::Pending => return (Poll::Pending, wrote),
            }
        }
        (Poll::Ready(Ok(())), wrote)
    }
}
