//! Ending a server's sessions from outside them: `shutdown sessions server`, and
//! `on-marked-down shutdown-sessions` when checks take a server down. A session that may be
//! ended listens on its worker thread's notifier (no lock shared between threads, no
//! allocation) and ends when the server's kill count has moved since it started. Servers
//! nobody can end sessions of have none, and their sessions pay nothing.
//!
//! HTTP requests do not listen (that would cost every request): their server connections
//! are registered instead, once per connection, and a kill shuts those sockets down
//! (`shutdown(2)`), so requests waiting on them fail at once through their usual error
//! paths, which tell a kill from a server's fault by the count. Owns the signal and the
//! registry; must not close descriptors.

use crate::stream::ServerStream;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::futures::Notified;
use tokio::sync::Notify;

#[derive(Debug)]
pub struct Kill {
    /// How many times the server's sessions were ended.
    count: AtomicU32,
    /// One per worker thread.
    shards: Vec<Notify>,
    /// The server's HTTP connections' sockets; one table per worker thread (a connection is
    /// registered on the thread that made it).
    sockets: Vec<Mutex<Sockets>>,
}

/// Registered sockets: a slot per connection, free slots reused.
#[derive(Debug, Default)]
struct Sockets {
    /// -1 for a free slot.
    fds: Vec<RawFd>,
    free: Vec<usize>,
}

impl Sockets {
    fn insert(&mut self, fd: RawFd) -> usize {
        match self.free.pop() {
            Some(i) => {
                self.fds[i] = fd;
                i
            }
            None => {
                self.fds.push(fd);
                self.fds.len() - 1
            }
        }
    }

    fn remove(&mut self, i: usize) {
        self.fds[i] = -1;
        self.free.push(i);
    }
}

impl Kill {
    pub fn new(threads: usize) -> Kill {
        let n = threads.max(1);
        Kill {
            count: AtomicU32::new(0),
            shards: (0..n).map(|_| Notify::new()).collect(),
            sockets: (0..n).map(|_| Mutex::new(Sockets::default())).collect(),
        }
    }

    /// Ends every session started before now, on every thread: listeners are woken, and
    /// registered connections' sockets are shut down both ways.
    pub fn fire(&self) {
        self.count.fetch_add(1, Ordering::AcqRel);
        for n in &self.shards {
            n.notify_waiters();
        }
        for shard in &self.sockets {
            let table = shard.lock().unwrap_or_else(|e| e.into_inner());
            for &fd in table.fds.iter().filter(|&&fd| fd >= 0) {
                // Open for as long as it is in the table: a connection leaves the table before
                // its socket closes, and waits for this lock to do so.
                let _ = clearway_net::shutdown_both(fd);
            }
        }
    }

    /// What a session starting now listens to: created before the count is read, so a
    /// `fire` in between is never missed.
    pub fn listen(&self) -> (Notified<'_>, u32) {
        let n = self.shards[clearway_core::thread::number() % self.shards.len()].notified();
        (n, self.count())
    }

    /// The kill count now: sessions starting now compare it with `fired_since` later.
    pub fn count(&self) -> u32 {
        self.count.load(Ordering::Acquire)
    }

    /// Whether sessions that started at `since` have been ended.
    pub fn fired_since(&self, since: u32) -> bool {
        self.count() != since
    }

    /// `stream`, registered to be shut down by `fire` while it lives, when `kill` is set and
    /// the stream has a socket; as it is otherwise.
    pub fn guard<S: ServerStream + 'static>(kill: Option<&Arc<Kill>>, stream: S) -> Box<dyn ServerStream> {
        let fd = stream.socket().map(|s| s.as_raw_fd());
        match (kill, fd) {
            (Some(k), Some(fd)) => {
                let shard = clearway_core::thread::number() % k.sockets.len();
                let id = k.sockets[shard].lock().unwrap_or_else(|e| e.into_inner()).insert(fd);
                Box::new(Registered {
                    _entry: Entry {
                        kill: k.clone(),
                        shard,
                        id,
                    },
                    stream,
                })
            }
            _ => Box::new(stream),
        }
    }
}

/// A registration in a kill's table, removed when dropped.
#[derive(Debug)]
struct Entry {
    kill: Arc<Kill>,
    shard: usize,
    id: usize,
}

impl Drop for Entry {
    fn drop(&mut self) {
        self.kill.sockets[self.shard]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(self.id);
    }
}

/// A server stream whose socket a kill may shut down. The entry is declared first, so it
/// leaves the table before the stream (and its descriptor) is dropped.
struct Registered<S> {
    _entry: Entry,
    stream: S,
}

impl<S: ServerStream> ServerStream for Registered<S> {
    fn socket(&self) -> Option<&tokio::net::TcpStream> {
        self.stream.socket()
    }

    fn plain(&self) -> Option<&tokio::net::TcpStream> {
        self.stream.plain()
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Registered<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Registered<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_listener_is_woken_and_sees_it_was_ended() {
        let k = Kill::new(2);
        let (n, since) = k.listen();
        let mut n = std::pin::pin!(n);
        // Not ended yet.
        assert!(tokio::time::timeout(std::time::Duration::from_millis(10), n.as_mut())
            .await
            .is_err());
        assert!(!k.fired_since(since));
        k.fire();
        n.await;
        assert!(k.fired_since(since));
        // A session that starts after is not ended by it.
        let (_n, later) = k.listen();
        assert!(!k.fired_since(later));
    }

    #[tokio::test]
    async fn fire_shuts_registered_sockets_down_and_a_dropped_one_leaves_the_table() {
        use tokio::io::AsyncReadExt;
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("listen");
        let at = l.local_addr().expect("addr");
        let k = Arc::new(Kill::new(1));
        let registered = |k: &Kill| {
            k.sockets[0]
                .lock()
                .expect("lock")
                .fds
                .iter()
                .filter(|&&f| f >= 0)
                .count()
        };
        let mut kept = Kill::guard(Some(&k), tokio::net::TcpStream::connect(at).await.expect("connect"));
        let (mut peer, _) = l.accept().await.expect("accept");
        let gone = Kill::guard(Some(&k), tokio::net::TcpStream::connect(at).await.expect("connect"));
        let _gone_peer = l.accept().await.expect("accept");
        assert_eq!(registered(&k), 2);
        drop(gone);
        assert_eq!(registered(&k), 1);
        k.fire();
        // Both ways: our reads end, and the server gets a FIN.
        let mut buf = [0u8; 8];
        assert_eq!(kept.read(&mut buf).await.expect("read"), 0);
        assert_eq!(peer.read(&mut buf).await.expect("read"), 0);
        // A stream without a kill is not registered.
        let plain = Kill::guard(None, tokio::net::TcpStream::connect(at).await.expect("connect"));
        assert!(plain.socket().is_some());
        assert_eq!(registered(&k), 1);
    }
}
