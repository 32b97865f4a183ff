//! A plain HTTP client connection that joins the event loop only when it first has to wait.
//! Owns reading, writing and shutting that socket, counting its bytes for the statistics, and
//! telling it to acknowledge at once or lending it for `splice(2)` (`ClientSocket`); must not parse, buffer or time anything.
//!
//! A client that sends its request with the handshake and reads its response in one go (the
//! usual `Connection: close` exchange) never waits: its socket is read, written and closed
//! with no epoll registration, no readiness slot and no events for its packets, as HAProxy
//! does. The first read or write that would block registers it, and from then on tokio's
//! stream does the work.

use crate::counted::{Meter, Tally};
use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

pub struct ClientIo(State, Option<Meter>);

enum State {
    /// Not known to the event loop yet.
    Raw(std::net::TcpStream),
    Registered(TcpStream),
    /// Registration failed, which closed the socket; the error was returned then.
    Gone,
}

impl ClientIo {
    /// `s` must be non-blocking (accepted with `SOCK_NONBLOCK`).
    pub fn new(s: std::net::TcpStream) -> ClientIo {
        ClientIo(State::Raw(s), None)
    }

    /// Counts the connection's bytes into `tally` from now on, `already` read before.
    pub fn count_into(&mut self, tally: Tally, already: usize) {
        let mut m = Meter::new(tally);
        m.count(already, 0);
        self.1 = Some(m);
    }

    /// The socket as the event loop's stream, registering it on first use. Needs the runtime.
    pub fn registered(&mut self) -> io::Result<&TcpStream> {
        if matches!(self.0, State::Raw(_)) {
            if let State::Raw(s) = std::mem::replace(&mut self.0, State::Gone) {
                self.0 = State::Registered(TcpStream::from_std(s)?);
            }
        }
        match &self.0 {
            State::Registered(s) => Ok(s),
            _ => Err(gone()),
        }
    }

    /// The socket while it is not registered, for a call that does not wait (std implements
    /// reads and writes on a shared reference).
    fn raw(&self) -> Option<&std::net::TcpStream> {
        match &self.0 {
            State::Raw(s) => Some(s),
            _ => None,
        }
    }

    /// The socket, unless it was lost to a failed registration.
    fn fd(&self) -> Option<BorrowedFd<'_>> {
        match &self.0 {
            State::Raw(s) => Some(s.as_fd()),
            State::Registered(s) => Some(s.as_fd()),
            State::Gone => None,
        }
    }

    /// The registered stream, pinned, registering it first: for the call that would block.
    fn tokio(&mut self) -> io::Result<Pin<&mut TcpStream>> {
        self.registered()?;
        match &mut self.0 {
            State::Registered(s) => Ok(Pin::new(s)),
            _ => Err(gone()),
        }
    }
}

fn gone() -> io::Error {
    io::Error::other("client connection could not join the event loop")
}

impl ClientIo {
    /// One read or write of `arg`: `now` on the unregistered socket, and `wait` through the
    /// event loop once `now` would block (or when the socket is registered already).
    fn poll_io<A: ?Sized, T>(
        &mut self,
        cx: &mut Context<'_>,
        arg: &mut A,
        now: impl FnOnce(&std::net::TcpStream, &mut A) -> io::Result<T>,
        wait: impl FnOnce(Pin<&mut TcpStream>, &mut Context<'_>, &mut A) -> Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if let Some(s) = self.raw() {
            match now(s, arg) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                r => return Poll::Ready(r),
            }
        }
        match self.tokio() {
            Ok(s) => wait(s, cx, arg),
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}

impl AsyncRead for ClientIo {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let me = self.get_mut();
        let r = me.poll_io(
            cx,
            buf,
            |s, buf| clearway_net::listen::read_into(s, buf),
            |s, cx, buf| s.poll_read(cx, buf),
        );
        if let Some(m) = &mut me.1 {
            m.count(buf.filled().len() - before, 0);
        }
        r
    }
}

impl ClientIo {
    fn written(&mut self, r: Poll<io::Result<usize>>) -> Poll<io::Result<usize>> {
        if let (Poll::Ready(Ok(n)), Some(m)) = (&r, &mut self.1) {
            m.count(0, *n);
        }
        r
    }
}

impl AsyncWrite for ClientIo {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        let r = me.poll_io(cx, &mut (), |mut s, _| s.write(buf), |s, cx, _| s.poll_write(cx, buf));
        me.written(r)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        let r = me.poll_io(
            cx,
            &mut (),
            |mut s, _| s.write_vectored(bufs),
            |s, cx, _| s.poll_write_vectored(cx, bufs),
        );
        me.written(r)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().0 {
            State::Raw(s) => Poll::Ready(s.shutdown(std::net::Shutdown::Write)),
            State::Registered(s) => Pin::new(s).poll_shutdown(cx),
            State::Gone => Poll::Ready(Err(gone())),
        }
    }
}

impl ClientSocket for ClientIo {
    fn ack_now(&self) {
        if let Some(fd) = self.fd() {
            let _ = socket2::SockRef::from(&fd).set_quickack(true);
        }
    }

    fn splice_socket(&mut self) -> Option<&TcpStream> {
        self.registered().ok()
    }

    fn spliced(&mut self, read: usize, written: usize) {
        if let Some(m) = &mut self.1 {
            m.count_spliced(read, written);
        }
    }
}

/// What a client connection's socket does besides reading and writing: acknowledge at once,
/// and lend itself to `splice(2)` when the connection is plain TCP.
pub trait ClientSocket {
    /// Turns delayed acknowledgements off for now (`TCP_QUICKACK`). A request body that
    /// follows its head in a later packet must not wait for the delayed-ACK timer: a client
    /// that holds small writes until the last one is acknowledged (Nagle) would stall on it.
    /// A failure only costs time, so it is not reported.
    fn ack_now(&self);

    /// The socket, registered with the event loop, when the connection's bytes are the
    /// socket's (plain TCP, nothing read ahead of it): a body may be spliced to or from it.
    fn splice_socket(&mut self) -> Option<&TcpStream> {
        None
    }

    /// Counts bytes spliced from (`read`) and to (`written`) the socket.
    fn spliced(&mut self, _read: usize, _written: usize) {}
}

impl ClientSocket for tokio::net::TcpStream {
    fn ack_now(&self) {
        let _ = socket2::SockRef::from(self).set_quickack(true);
    }
}

impl<IO: ClientSocket> ClientSocket for crate::counted::Counted<IO> {
    fn ack_now(&self) {
        self.get_ref().ack_now();
    }
}

impl<IO: ClientSocket> ClientSocket for super::prefixed::Prefixed<IO> {
    fn ack_now(&self) {
        self.inner().ack_now();
    }
}

impl ClientSocket for tokio_rustls::server::TlsStream<tokio::net::TcpStream> {
    fn ack_now(&self) {
        self.get_ref().0.ack_now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::io::Read;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Our side (accepted, non-blocking, as the accept loop makes it) and the peer's.
    fn pair() -> (ClientIo, std::net::TcpStream) {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let peer = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (ours, _) = l.accept().unwrap();
        ours.set_nonblocking(true).unwrap();
        (ClientIo::new(ours), peer)
    }

    fn is_raw(c: &ClientIo) -> bool {
        matches!(c.0, State::Raw(_))
    }

    #[tokio::test]
    async fn an_exchange_that_never_waits_never_joins_the_event_loop() {
        use std::io::Write;
        let (mut ours, mut peer) = pair();
        peer.write_all(b"request").unwrap();
        // Until the bytes are there, looked at without reading or registering.
        let mut one = [0u8; 1];
        while ours.raw().unwrap().peek(&mut one).is_err() {
            std::thread::yield_now();
        }
        let mut buf = [0u8; 16];
        let n = ours.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"request");
        ours.write_all(b"response").await.unwrap();
        ours.shutdown().await.unwrap();
        let mut got = Vec::new();
        peer.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"response");
        assert!(is_raw(&ours), "no read or write had to wait");
    }

    #[tokio::test]
    async fn a_read_that_must_wait_registers_and_is_woken() {
        use std::io::Write;
        let (mut ours, mut peer) = pair();
        let mut buf = [0u8; 8];
        {
            let mut read = std::pin::pin!(ours.read(&mut buf));
            let first = std::future::poll_fn(|cx| Poll::Ready(read.as_mut().poll(cx))).await;
            assert!(first.is_pending(), "nothing was sent yet");
            peer.write_all(b"late").unwrap();
            assert_eq!(read.await.unwrap(), 4);
        }
        assert_eq!(&buf[..4], b"late");
        assert!(!is_raw(&ours), "the read waited, so the socket joined the event loop");
        drop(peer);
        assert_eq!(ours.read(&mut buf).await.unwrap(), 0, "the peer's close is seen");
    }

    #[tokio::test]
    async fn a_write_that_must_wait_registers_and_completes() {
        let (mut ours, mut peer) = pair();
        // More than the socket buffers hold: the write must wait for the peer to read.
        let big = vec![7u8; 16 << 20];
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            peer.read_to_end(&mut got).unwrap();
            got.len()
        });
        ours.write_all(&big).await.unwrap();
        assert!(!is_raw(&ours), "the write waited, so the socket joined the event loop");
        ours.shutdown().await.unwrap();
        drop(ours);
        assert_eq!(reader.join().unwrap(), big.len());
    }
}
