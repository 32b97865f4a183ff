//! Opening server connections: plain, from a chosen local source, or spoofed from a foreign
//! address (`usesrc`) with IP_TRANSPARENT. Owns the socket steps and their error reporting;
//! must not choose servers or retry.

use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpStream;

/// What to bind a server connection to before connecting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceBind {
    /// The source address; port 0 lets the kernel choose the port at connect time.
    pub addr: SocketAddr,
    /// The address is not one of this host's: needs IP_TRANSPARENT.
    pub transparent: bool,
    pub interface: Option<String>,
    /// Inclusive source port range to pick from (`source ADDR:LOW-HIGH`), starting at
    /// `LOW + port_hint % size` and moving on while ports are in use.
    pub port_range: Option<(u16, u16)>,
    pub port_hint: u32,
}

/// The step of a connection attempt that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectStage {
    Socket,
    Transparent,
    Bind,
    Connect,
    Timeout,
}

impl std::fmt::Display for ConnectStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ConnectStage::Socket => "socket",
            ConnectStage::Transparent => "setsockopt(IP_TRANSPARENT)",
            ConnectStage::Bind => "bind",
            ConnectStage::Connect => "connect",
            ConnectStage::Timeout => "connect timeout",
        })
    }
}

/// A failed connection attempt: which step, and the OS error.
#[derive(Debug)]
pub struct ConnectError {
    pub stage: ConnectStage,
    pub error: io::Error,
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.stage {
            ConnectStage::Timeout => write!(f, "connect timeout"),
            stage => write!(f, "{stage}: {}", self.error),
        }
    }
}

impl std::error::Error for ConnectError {}

impl ConnectError {
    fn at(stage: ConnectStage) -> impl FnOnce(io::Error) -> ConnectError {
        move |error| ConnectError { stage, error }
    }
    /// The errno, when the failure came from the OS.
    pub fn errno(&self) -> Option<i32> {
        self.error.raw_os_error()
    }
}

/// Connects to `server`, optionally from `source`, within `timeout` (None: no limit but the
/// kernel's). With `delayed_ack` (`option tcp-smart-connect`, when the caller has bytes to
/// send at once) the kernel does not acknowledge the server's SYN-ACK by itself: the first
/// bytes written carry the ACK, a packet less. Only for callers that write at once: the
/// kernel otherwise sends the ACK up to 200 ms later.
pub async fn connect(
    server: SocketAddr,
    source: Option<&SourceBind>,
    timeout: Option<Duration>,
    delayed_ack: bool,
    keepalive: Option<&crate::Keepalive>,
) -> Result<TcpStream, ConnectError> {
    // Non-blocking from the start: no extra call per connection.
    let socket = Socket::new(
        Domain::for_address(server),
        Type::STREAM.nonblocking(),
        Some(Protocol::TCP),
    )
    .map_err(ConnectError::at(ConnectStage::Socket))?;
    if let Some(src) = source {
        prepare_source(&socket, src)?;
    }
    socket
        .set_nodelay(true)
        .map_err(ConnectError::at(ConnectStage::Socket))?;
    if delayed_ack {
        // Only a packet saved: a kernel that refuses it still connects.
        let _ = socket.set_quickack(false);
    }
    if let Some(ka) = keepalive {
        crate::set_keepalive(&socket, ka).map_err(ConnectError::at(ConnectStage::Socket))?;
    }
    match socket.connect(&server.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return Err(ConnectError::at(ConnectStage::Connect)(e)),
    }
    let stream = TcpStream::from_std(socket.into()).map_err(ConnectError::at(ConnectStage::Connect))?;
    let attempt = established(stream);
    match timeout {
        Some(t) => match tokio::time::timeout(t, attempt).await {
            Ok(r) => r.map_err(ConnectError::at(ConnectStage::Connect)),
            Err(_) => Err(ConnectError {
                stage: ConnectStage::Timeout,
                error: io::Error::from(io::ErrorKind::TimedOut),
            }),
        },
        None => attempt.await.map_err(ConnectError::at(ConnectStage::Connect)),
    }
}

/// A connection under way, once the handshake is over. The socket's error is asked for only
/// when the event loop saw it fail (the usual `SO_ERROR` after every connect is one call per
/// connection for nothing; HAProxy does without it too).
async fn established(stream: TcpStream) -> io::Result<TcpStream> {
    let ready = stream.ready(tokio::io::Interest::WRITABLE).await?;
    if ready.is_write_closed() || ready.is_error() {
        if let Some(e) = stream.take_error()? {
            return Err(e);
        }
    }
    Ok(stream)
}

/// Makes the coming close of `s` a reset (SO_LINGER with a zero time): no TIME_WAIT is left
/// here, and a peer still in its handshake drops the connection unseen by its application.
/// A socket that refuses it is closed as usual.
pub fn reset_on_close(s: &TcpStream) {
    let _ = socket2::SockRef::from(s).set_linger(Some(Duration::ZERO));
}

/// Reads, without waiting, what `s` still holds (a few kB at most) and says whether the
/// peer's FIN is among it, or the connection is already gone: then a plain close is due
/// rather than a reset. A system call or a few: not for the data path.
pub fn peer_closed(s: &TcpStream) -> bool {
    let sock = socket2::SockRef::from(s);
    let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 1024];
    for _ in 0..16 {
        match sock.recv(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
            Err(_) => return true,
        }
    }
    false
}

fn prepare_source(socket: &Socket, src: &SourceBind) -> Result<(), ConnectError> {
    if src.transparent {
        crate::listen::set_transparent(socket, src.addr).map_err(ConnectError::at(ConnectStage::Transparent))?;
    }
    if let Some(ifname) = &src.interface {
        socket
            .bind_device(Some(ifname.as_bytes()))
            .map_err(ConnectError::at(ConnectStage::Bind))?;
    }
    if let Some((lo, hi)) = src.port_range {
        socket
            .set_reuse_address(true)
            .map_err(ConnectError::at(ConnectStage::Bind))?;
        return bind_in_range(socket, src.addr, lo, hi, src.port_hint);
    }
    if src.addr.port() == 0 {
        // Only the address is fixed: let connect() pick the port per destination, so one
        // spoofed client address can open many connections.
        crate::sockopt::set_bind_address_no_port(socket).map_err(ConnectError::at(ConnectStage::Bind))?;
    } else {
        socket
            .set_reuse_address(true)
            .map_err(ConnectError::at(ConnectStage::Bind))?;
    }
    socket
        .bind(&src.addr.into())
        .map_err(ConnectError::at(ConnectStage::Bind))
}

/// Binds to the first free port of `lo..=hi`, trying at most 64 of them.
fn bind_in_range(socket: &Socket, addr: SocketAddr, lo: u16, hi: u16, hint: u32) -> Result<(), ConnectError> {
    let size = u32::from(hi - lo) + 1;
    let mut last = io::Error::from(io::ErrorKind::AddrInUse);
    for k in 0..size.min(64) {
        let port = lo + ((hint.wrapping_add(k)) % size) as u16;
        match socket.bind(&SocketAddr::new(addr.ip(), port).into()) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => last = e,
            Err(e) => {
                return Err(ConnectError {
                    stage: ConnectStage::Bind,
                    error: e,
                })
            }
        }
    }
    Err(ConnectError {
        stage: ConnectStage::Bind,
        error: last,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_connect_returns_once_established() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
        let at = l.local_addr().expect("port");
        let s = connect(at, None, Some(Duration::from_secs(5)), false, None)
            .await
            .expect("connect");
        assert_eq!(s.peer_addr().expect("peer"), at);
        let (accepted, from) = l.accept().expect("accept");
        assert_eq!(from, s.local_addr().expect("local"));
        drop(accepted);
    }

    #[tokio::test]
    async fn a_refused_connect_says_so_at_the_connect_step() {
        // A port just freed: nothing listens there.
        let at = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("port");
        let e = connect(at, None, Some(Duration::from_secs(5)), false, None)
            .await
            .expect_err("refused");
        assert_eq!(e.stage, ConnectStage::Connect);
        assert_eq!(e.errno(), Some(libc::ECONNREFUSED), "{e}");
    }
}
