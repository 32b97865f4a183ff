//! An HTTP server connection's byte stream and how it is let go: a connection that Clearway
//! gives up while its server still holds it open (no FIN from it read or seen by the event
//! loop) is reset, not closed, as HAProxy does. A
//! close would leave a TIME_WAIT here for a minute on the connection's source port, which
//! with `usesrc clientip` is the client's own; it would also make the server answer with a
//! FIN of its own and keep a socket for it. Must not decide when a connection is given up
//! (the pool and the request's exchange do).

use crate::counted::{Meter, Tally};
use crate::stream::ServerStream;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;

/// A server connection's stream that notices the server's end of stream, and counts its
/// bytes for the statistics.
pub struct ServerIo {
    stream: Box<dyn ServerStream>,
    /// The server closed its side: a plain close is due, and nothing is left to reset.
    server_closed: bool,
    meter: Option<Meter>,
}

impl ServerIo {
    /// `tally`: the backend and server whose counters its bytes go to.
    pub fn new(stream: Box<dyn ServerStream>, tally: Option<Tally>) -> ServerIo {
        ServerIo {
            stream,
            server_closed: false,
            meter: tally.map(Meter::new),
        }
    }

    /// The socket, when the connection is plain TCP: a body may be spliced from or to it.
    pub fn plain(&self) -> Option<&TcpStream> {
        self.stream.plain()
    }

    /// Counts bytes spliced from (`read`) or to (`written`) the socket; a read of 0 is the
    /// server's end of stream.
    pub fn spliced(&mut self, read: usize, written: usize, eof: bool) {
        if eof {
            self.server_closed = true;
        }
        if let Some(m) = &mut self.meter {
            m.count_spliced(read, written);
        }
    }
}

impl Drop for ServerIo {
    fn drop(&mut self) {
        if self.server_closed {
            return;
        }
        // The close that follows, as the stream drops, resets.
        if let Some(s) = self.stream.socket().filter(|s| !fin_seen(s)) {
            clearway_net::connect::reset_on_close(s);
        }
    }
}

/// Whether the event loop has already seen the server's FIN on `s`, unread (after a response
/// whose length said where it ended, as with `http-server-close`): then a plain close is due.
/// Looks at the readiness the event loop recorded; no system call.
fn fin_seen(s: &TcpStream) -> bool {
    let mut cx = Context::from_waker(Waker::noop());
    let ready = std::pin::pin!(s.ready(Interest::READABLE));
    matches!(std::future::Future::poll(ready, &mut cx), Poll::Ready(Ok(r)) if r.is_read_closed())
}

impl AsyncRead for ServerIo {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let (room, before) = (buf.remaining(), buf.filled().len());
        let r = Pin::new(&mut self.stream).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = r {
            let n = buf.filled().len() - before;
            if room > 0 && n == 0 {
                self.server_closed = true;
            }
            if let Some(m) = &mut self.meter {
                m.count(n, 0);
            }
        }
        r
    }
}

impl AsyncWrite for ServerIo {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.stream).poll_write(cx, data);
        if let (Poll::Ready(Ok(n)), Some(m)) = (&r, &mut self.meter) {
            m.count(0, *n);
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        if let (Poll::Ready(Ok(n)), Some(m)) = (&r, &mut self.meter) {
            m.count(0, *n);
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    /// A connected pair on loopback: (ours, the server's).
    async fn pair() -> (TcpStream, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let ours = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (theirs, _) = l.accept().await.unwrap();
        (ours, theirs)
    }

    #[tokio::test]
    async fn a_connection_given_up_while_open_is_reset() {
        let (ours, mut theirs) = pair().await;
        drop(ServerIo::new(Box::new(ours), None));
        let mut buf = [0u8; 8];
        let e = theirs.read(&mut buf).await.expect_err("the server sees a reset");
        assert_eq!(e.kind(), io::ErrorKind::ConnectionReset);
    }

    #[tokio::test]
    async fn a_connection_whose_fin_came_unread_is_closed_as_usual() {
        let (ours, mut theirs) = pair().await;
        let io = ServerIo::new(Box::new(ours), None);
        theirs.shutdown().await.unwrap();
        // The event loop sees the FIN; nothing reads it.
        let s = io.stream.socket().expect("a socket");
        while !s.ready(Interest::READABLE).await.unwrap().is_read_closed() {}
        drop(io);
        let mut buf = [0u8; 8];
        assert_eq!(theirs.read(&mut buf).await.expect("a FIN, not a reset"), 0);
    }

    #[tokio::test]
    async fn a_connection_the_server_closed_is_closed_as_usual() {
        let (ours, mut theirs) = pair().await;
        let mut io = ServerIo::new(Box::new(ours), None);
        theirs.shutdown().await.unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(io.read(&mut buf).await.unwrap(), 0);
        drop(io);
        assert_eq!(theirs.read(&mut buf).await.expect("a FIN, not a reset"), 0);
    }
}
