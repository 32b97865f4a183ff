//! Counting the bytes of a connection into the statistics: a client connection into its
//! frontend's `bin`/`bout`, a server connection into its backend's and server's. A `Meter`
//! sums them beside the socket and adds them to the counters every `FLUSH` bytes and when
//! the connection ends, so a read or write costs an addition, not a counter update; the
//! statistics lag a live connection by less than `FLUSH` bytes each way. The plain client and
//! server streams keep a meter themselves; `Counted` gives one to any other stream (TLS).
//! Owns nothing but the counting; must not change the bytes or their timing.

use clearway_core::{Counters, Field};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Whose counters a stream adds to (handles on them: `Frontend::tally`, `Backend::tally`).
pub enum Tally {
    /// A client connection: reads are the frontend's bytes in, writes its bytes out; the
    /// same for its listener when it keeps its own statistics.
    Client(Counters, Option<Counters>),
    /// A connection to a server, counted into its backend's and its own counters: writes are
    /// bytes in (towards the server), reads bytes out (back to the client), as HAProxy
    /// counts them.
    Server([Counters; 2]),
}

/// Bytes a stream holds back from the counters at most, each way.
const FLUSH: u64 = 16 * 1024;

impl Tally {
    /// Bytes moved with `splice(2)` (an HTTP/1 body), counted at once in the h1 module's
    /// spliced counters: read from this side's peer, written to it. The frontend's or the
    /// backend's only (HAProxy keeps these for them, not for servers or listeners).
    fn add_spliced(&self, read: u64, written: u64) {
        let c = match self {
            Tally::Client(fe, _) => fe.local(),
            Tally::Server([backend, _]) => backend.local(),
        };
        c.add(Field::SplicedIn, read);
        c.add(Field::SplicedOut, written);
    }

    fn add(&self, read: u64, written: u64) {
        match self {
            Tally::Client(fe, listener) => {
                for c in std::iter::once(fe).chain(listener).map(Counters::local) {
                    c.add(Field::BytesIn, read);
                    c.add(Field::BytesOut, written);
                }
            }
            Tally::Server(both) => {
                for c in both.iter().map(Counters::local) {
                    c.add(Field::BytesOut, read);
                    c.add(Field::BytesIn, written);
                }
            }
        }
    }
}

/// The bytes a stream moved and has not yet added to its tally's counters: what a stream
/// type that counts (`ClientIo`, `ServerIo`, `Counted`) keeps beside its socket.
pub struct Meter {
    tally: Tally,
    read: u64,
    written: u64,
}

impl Meter {
    pub fn new(tally: Tally) -> Meter {
        Meter {
            tally,
            read: 0,
            written: 0,
        }
    }

    fn flush(&mut self) {
        self.tally.add(self.read, self.written);
        (self.read, self.written) = (0, 0);
    }

    /// Counts bytes moved with `splice(2)`: as `count` does, and in the spliced counters.
    pub fn count_spliced(&mut self, read: usize, written: usize) {
        self.tally.add_spliced(read as u64, written as u64);
        self.count(read, written);
    }

    /// Counts `read` bytes in and `written` bytes out.
    #[inline]
    pub fn count(&mut self, read: usize, written: usize) {
        self.read += read as u64;
        self.written += written as u64;
        if self.read >= FLUSH || self.written >= FLUSH {
            self.flush();
        }
    }
}

impl Drop for Meter {
    fn drop(&mut self) {
        self.flush();
    }
}

/// `io`, counted into a tally: for the streams that do not count by themselves (TLS).
pub struct Counted<IO> {
    io: IO,
    meter: Meter,
}

impl<IO> Counted<IO> {
    pub fn new(io: IO, tally: Tally) -> Counted<IO> {
        Counted {
            io,
            meter: Meter::new(tally),
        }
    }

    /// Counts bytes read before the stream was wrapped.
    pub fn already_read(&mut self, n: usize) {
        self.meter.count(n, 0);
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Counted<IO> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.io).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        self.meter.count(n, 0);
        r
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Counted<IO> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write(cx, data);
        if let Poll::Ready(Ok(n)) = r {
            self.meter.count(0, n);
        }
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = r {
            self.meter.count(0, n);
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

impl<IO> Counted<IO> {
    /// The stream it counts.
    pub fn get_ref(&self) -> &IO {
        &self.io
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_client_stream_counts_reads_in_and_writes_out() {
        let fe = Counters::default();
        let (a, mut b) = tokio::io::duplex(64);
        let mut c = Counted::new(a, Tally::Client(fe.handle(), None));
        c.already_read(3);
        b.write_all(b"hello").await.unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(c.read(&mut buf).await.unwrap(), 5);
        c.write_all(b"ok").await.unwrap();
        assert_eq!(fe.get(Field::BytesIn), 0, "held back until FLUSH bytes or the end");
        drop(c);
        assert_eq!(fe.get(Field::BytesIn), 8);
        assert_eq!(fe.get(Field::BytesOut), 2);
    }

    #[tokio::test]
    async fn a_long_lived_stream_adds_its_bytes_every_flush_bytes() {
        let fe = Counters::default();
        let (a, mut b) = tokio::io::duplex(64 * 1024);
        let mut c = Counted::new(a, Tally::Client(fe.handle(), None));
        c.write_all(&[0u8; 20_000]).await.unwrap();
        let mut sink = vec![0u8; 20_000];
        b.read_exact(&mut sink).await.unwrap();
        let seen = fe.get(Field::BytesOut);
        assert!(
            (FLUSH..=20_000).contains(&seen),
            "{seen} counted while the stream lives"
        );
        drop(c);
        assert_eq!(fe.get(Field::BytesOut), 20_000);
    }
}
