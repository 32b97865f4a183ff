//! Moving bytes between a client and a server connection in both directions, with one buffer
//! per direction, half-close passed through (a FIN on one side becomes a shutdown on the other),
//! and inactivity timeouts per side. Must not know about backends or servers.

use crate::stream::Stream;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Each direction's buffer. It is read into without being zeroed first (`read_buf` fills
/// its spare capacity): zeroing 32 KiB per connection was most of the instructions a short
/// TCP connection cost, and pushed the connection's other data out of the CPU's L1 cache.
const BUF_SIZE: usize = 16 * 1024;

/// Inactivity limits; `None` is no limit.
#[derive(Debug, Clone, Copy, Default)]
pub struct Limits {
    /// Client side: nothing read from or written to the client for this long.
    pub client: Option<Duration>,
    /// Server side: nothing read from or written to the server for this long.
    pub server: Option<Duration>,
    /// Replaces `client` once the client has half-closed.
    pub client_fin: Option<Duration>,
    /// Replaces `server` once the server has half-closed.
    pub server_fin: Option<Duration>,
}

impl Limits {
    /// HAProxy's rules for an established TCP session: `timeout tunnel`, when set, replaces the
    /// client and server timeouts.
    pub fn for_tunnel(client: Option<Duration>, server: Option<Duration>, tunnel: Option<Duration>) -> Limits {
        Limits {
            client: tunnel.or(client),
            server: tunnel.or(server),
            client_fin: None,
            server_fin: None,
        }
    }
}

/// Why a session ended.
#[derive(Debug)]
pub enum End {
    /// Both sides closed normally.
    Closed,
    ClientTimeout,
    ServerTimeout,
    ClientError(io::Error),
    ServerError(io::Error),
    /// Ended from outside: `shutdown sessions`, or its server was marked down.
    Killed,
    /// The server's response was refused (`tcp-response content reject`).
    Denied,
}

impl std::fmt::Display for End {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            End::Closed => f.write_str("closed"),
            End::ClientTimeout => f.write_str("client timeout"),
            End::ServerTimeout => f.write_str("server timeout"),
            End::ClientError(e) => write!(f, "client side error: {e}"),
            End::ServerError(e) => write!(f, "server side error: {e}"),
            End::Killed => f.write_str("killed (its server's sessions were shut down)"),
            End::Denied => f.write_str("response refused by a 'tcp-response content reject' rule"),
        }
    }
}

#[derive(Debug)]
pub struct Outcome {
    /// Bytes from the client to the server.
    pub bytes_in: u64,
    /// Bytes from the server to the client.
    pub bytes_out: u64,
    pub end: End,
}

/// Last activity and half-close state of one side, shared by the two directions. A read or
/// write only raises `active`; the session reads the clock once after polling both
/// directions and stamps `seen_ms` then (`Side::stamp`), as HAProxy reads its clock once per
/// turn of its loop, rather than once per read and once per write.
struct Side {
    seen_ms: AtomicU64,
    active: AtomicBool,
    fin: AtomicBool,
}

impl Side {
    fn new() -> Side {
        Side {
            seen_ms: AtomicU64::new(0),
            active: AtomicBool::new(false),
            fin: AtomicBool::new(false),
        }
    }
    fn touch(&self) {
        self.active.store(true, Ordering::Relaxed);
    }
    /// Records the activity since the last stamp as happening at `now`.
    fn stamp(&self, start: Instant, now: Instant) {
        if self.active.swap(false, Ordering::Relaxed) {
            self.seen_ms
                .store(now.duration_since(start).as_millis() as u64, Ordering::Relaxed);
        }
    }
    /// When this side expires, given its limits; None: never.
    fn deadline(&self, start: Instant, normal: Option<Duration>, fin: Option<Duration>) -> Option<Instant> {
        // After a FIN nothing more is expected from this side: only its own fin limit applies.
        let limit = if self.fin.load(Ordering::Relaxed) { fin } else { normal }?;
        Some(start + Duration::from_millis(self.seen_ms.load(Ordering::Relaxed)) + limit)
    }
}

#[derive(Debug)]
enum PipeError {
    Read(io::Error),
    Write(io::Error),
}

/// A read side that can say when it has data without taking any: a direction's buffer is only
/// allocated then, so an idle session holds no buffers (as HAProxy allocates them on demand).
pub(crate) trait Readable {
    fn readable(&self) -> impl std::future::Future<Output = io::Result<()>> + Send;
}

impl<T> Readable for tokio::io::ReadHalf<T> {
    /// TLS and upgraded streams cannot tell; their buffer is allocated at once.
    fn readable(&self) -> impl std::future::Future<Output = io::Result<()>> + Send {
        std::future::ready(Ok(()))
    }
}

/// Copies `from` to `to` until EOF, then shuts down `to`'s write side.
async fn pipe<R, W>(mut from: R, mut to: W, src: &Side, dst: &Side) -> Result<u64, PipeError>
where
    R: AsyncRead + Readable + Unpin,
    W: AsyncWrite + Unpin,
{
    from.readable().await.map_err(PipeError::Read)?;
    let mut buf = Vec::with_capacity(BUF_SIZE);
    let mut total = 0u64;
    loop {
        buf.clear();
        let n = from.read_buf(&mut buf).await.map_err(PipeError::Read)?;
        src.touch();
        if n == 0 {
            src.fin.store(true, Ordering::Relaxed);
            // The peer may already be gone; its own direction reports that.
            let _ = to.shutdown().await;
            return Ok(total);
        }
        to.write_all(&buf[..n]).await.map_err(PipeError::Write)?;
        dst.touch();
        total += n as u64;
    }
}

/// Like `pipe`, between two TCP sockets: once a read fills the whole buffer (a bulk transfer,
/// not request and answer), the rest goes socket to pipe to socket with `splice(2)`, without
/// copying through this process, as HAProxy does on Linux. Without a pipe to spare, it keeps
/// copying. The socket spliced to then keeps few unsent bytes (`splice::limit_unsent`).
async fn pipe_tcp(
    mut from: tokio::net::tcp::ReadHalf<'_>,
    mut to: tokio::net::tcp::WriteHalf<'_>,
    src: &Side,
    dst: &Side,
) -> Result<u64, PipeError> {
    from.readable().await.map_err(PipeError::Read)?;
    let mut buf = Vec::with_capacity(BUF_SIZE);
    let mut total = 0u64;
    let pipe = loop {
        buf.clear();
        let n = from.read_buf(&mut buf).await.map_err(PipeError::Read)?;
        src.touch();
        if n == 0 {
            src.fin.store(true, Ordering::Relaxed);
            let _ = to.shutdown().await;
            return Ok(total);
        }
        to.write_all(&buf[..n]).await.map_err(PipeError::Write)?;
        dst.touch();
        total += n as u64;
        if n == BUF_SIZE {
            if let Some(p) = clearway_net::splice::Pipe::take() {
                break p;
            }
        }
    };
    drop(buf);
    let (from, to_stream) = (from.as_ref(), to.as_ref());
    if let Err(e) = clearway_net::splice::limit_unsent(to_stream) {
        tracing::debug!("cannot limit the unsent bytes of a bulk transfer: {e}");
    }
    loop {
        let n = loop {
            from.readable().await.map_err(PipeError::Read)?;
            match from.try_io(tokio::io::Interest::READABLE, || pipe.fill(from, SPLICE_MAX)) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(PipeError::Read(e)),
            }
        };
        src.touch();
        if n == 0 {
            pipe.give_back();
            src.fin.store(true, Ordering::Relaxed);
            let _ = to.shutdown().await;
            return Ok(total);
        }
        // Everything moved in goes out before the next read, so the pipe is empty when the
        // read side waits, and when it is given back. On an error it is dropped, with its bytes.
        let mut left = n;
        while left > 0 {
            to_stream.writable().await.map_err(PipeError::Write)?;
            match to_stream.try_io(tokio::io::Interest::WRITABLE, || pipe.drain(to_stream, left)) {
                Ok(m) => left -= m,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(PipeError::Write(e)),
            }
        }
        dst.touch();
        total += n as u64;
    }
}

/// The most one splice call moves: a pipe's capacity.
const SPLICE_MAX: usize = clearway_net::splice::PIPE_SIZE;

/// Forwards until both directions are closed, a side errors, a side is idle too long, or
/// `kill` ends the session.
pub async fn forward(
    client: &mut TcpStream,
    server: &mut TcpStream,
    limits: Limits,
    kill: Option<&crate::kill::Kill>,
) -> Outcome {
    let (cr, cw) = client.split();
    let (sr, sw) = server.split();
    let start = Instant::now();
    let (cs, ss) = (Side::new(), Side::new());
    let up = std::pin::pin!(pipe_tcp(cr, sw, &cs, &ss));
    let down = std::pin::pin!(pipe_tcp(sr, cw, &ss, &cs));
    run(up, down, start, &cs, &ss, limits, kill).await
}

/// Like `forward`, for streams that are not plain TCP (TLS terminated or originated here).
pub async fn forward_any(
    client: &mut dyn Stream,
    server: &mut dyn Stream,
    limits: Limits,
    kill: Option<&crate::kill::Kill>,
) -> Outcome {
    let (cr, cw) = tokio::io::split(client);
    let (sr, sw) = tokio::io::split(server);
    forward_halves(cr, cw, sr, sw, limits, kill).await
}

async fn forward_halves<CR, CW, SR, SW>(
    cr: CR,
    cw: CW,
    sr: SR,
    sw: SW,
    limits: Limits,
    kill: Option<&crate::kill::Kill>,
) -> Outcome
where
    CR: AsyncRead + Readable + Unpin,
    CW: AsyncWrite + Unpin,
    SR: AsyncRead + Readable + Unpin,
    SW: AsyncWrite + Unpin,
{
    let start = Instant::now();
    let (cs, ss) = (Side::new(), Side::new());
    let up = std::pin::pin!(pipe(cr, sw, &cs, &ss));
    let down = std::pin::pin!(pipe(sr, cw, &ss, &cs));
    run(up, down, start, &cs, &ss, limits, kill).await
}

/// Runs both directions under the inactivity limits. Written as one poll function, with the
/// two directions and one timer pinned in place, so that an idle session's future stays small
/// (nested async blocks and `select!` would each keep their own copy of what they hold).
async fn run(
    mut up: Pin<&mut impl std::future::Future<Output = Result<u64, PipeError>>>,
    mut down: Pin<&mut impl std::future::Future<Output = Result<u64, PipeError>>>,
    start: Instant,
    cs: &Side,
    ss: &Side,
    limits: Limits,
    kill: Option<&crate::kill::Kill>,
) -> Outcome {
    use std::task::Poll;
    // Listened to from the start; polled once, to leave this task's waker with it.
    let (listen, since) = match kill.map(|k| k.listen()) {
        Some((n, since)) => (Some(n), since),
        None => (None, 0),
    };
    let mut listen = std::pin::pin!(listen);
    let mut listening = false;
    let sleep = std::pin::pin!(tokio::time::sleep_until(start));
    let mut timer = crate::timer::Timer::new(sleep);
    let mut armed = false;
    let (mut bytes_in, mut bytes_out) = (None, None);
    let end = std::future::poll_fn(|cx| {
        if let (Some(k), Some(n)) = (kill, listen.as_mut().as_pin_mut()) {
            if !listening {
                listening = true;
                let _ = std::future::Future::poll(n, cx);
            }
            if k.fired_since(since) {
                return Poll::Ready(End::Killed);
            }
        }
        if bytes_in.is_none() {
            if let Poll::Ready(r) = up.as_mut().poll(cx) {
                match r {
                    Ok(n) => bytes_in = Some(n),
                    Err(PipeError::Read(e)) => return Poll::Ready(End::ClientError(e)),
                    Err(PipeError::Write(e)) => return Poll::Ready(End::ServerError(e)),
                }
            }
        }
        if bytes_out.is_none() {
            if let Poll::Ready(r) = down.as_mut().poll(cx) {
                match r {
                    Ok(n) => bytes_out = Some(n),
                    Err(PipeError::Read(e)) => return Poll::Ready(End::ServerError(e)),
                    Err(PipeError::Write(e)) => return Poll::Ready(End::ClientError(e)),
                }
            }
        }
        if bytes_in.is_some() && bytes_out.is_some() {
            return Poll::Ready(End::Closed);
        }
        // One clock read for whatever both directions did in this poll.
        let mut now = None;
        if cs.active.load(Ordering::Relaxed) || ss.active.load(Ordering::Relaxed) {
            let t = Instant::now();
            cs.stamp(start, t);
            ss.stamp(start, t);
            now = Some(t);
        }
        // The deadlines are only looked at when the timer set for the earliest one fires:
        // activity meanwhile moves them later, and the timer is then set again.
        loop {
            if armed {
                if !timer.fired(cx) {
                    return Poll::Pending;
                }
                // Fired: read the clock afresh.
                now = None;
            }
            let dc = cs.deadline(start, limits.client, limits.client_fin);
            let ds = ss.deadline(start, limits.server, limits.server_fin);
            let t = *now.get_or_insert_with(Instant::now);
            if dc.is_some_and(|d| d <= t) {
                return Poll::Ready(End::ClientTimeout);
            }
            if ds.is_some_and(|d| d <= t) {
                return Poll::Ready(End::ServerTimeout);
            }
            match dc.into_iter().chain(ds).min() {
                Some(at) => {
                    timer.reset(at);
                    armed = true;
                }
                None => {
                    armed = false;
                    return Poll::Pending;
                }
            }
        }
    })
    .await;
    Outcome {
        bytes_in: bytes_in.unwrap_or(0),
        bytes_out: bytes_out.unwrap_or(0),
        end,
    }
}

#[cfg(test)]
mod tests;
