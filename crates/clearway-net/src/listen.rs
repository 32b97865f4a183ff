//! Opening listening sockets with the options of a `bind` line (transparent, freebind,
//! v4v6/v6only, interface), registering them for readiness, and the raw calls on what they
//! hand over: the `accept4` itself and a non-waiting read of a client not yet known to an
//! event loop. Owns socket creation for listeners and those calls; must not wait, loop over
//! accepts or know about sessions.

use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::SocketAddr;

/// How to open one listener.
#[derive(Debug, Clone, Default)]
pub struct ListenSpec {
    pub transparent: bool,
    pub freebind: bool,
    /// Some(true): IPv6 only; Some(false): dual stack; None: the system's default.
    pub v6only: Option<bool>,
    pub interface: Option<String>,
    pub backlog: Option<u32>,
    /// `tcp-smart-accept`: accepted connections start with delayed acknowledgements, so that
    /// the ACK of a client's first request rides on the response instead of a packet of its
    /// own.
    pub delayed_ack: bool,
}

/// Opens a non-blocking listening socket on `addr`. It is a std listener so that it can be
/// opened before the process daemonizes and the async runtime starts.
pub fn listen(addr: SocketAddr, spec: &ListenSpec) -> io::Result<std::net::TcpListener> {
    let socket = socket(addr, spec)?;
    socket.bind(&addr.into())?;
    finish(socket, spec)
}

/// Opens `n` listening sockets on `addr` sharing it with `SO_REUSEPORT`, one per worker
/// thread: the kernel spreads new clients across them, so each thread accepts its own
/// without waking the others. One socket when `n` is 1 or the port is chosen by the kernel.
///
/// A port that some other socket already listens on is refused (`AddrInUse`), as with a
/// single socket: `SO_REUSEPORT` would otherwise let a second copy of the same config (same
/// user) share the port unnoticed.
pub fn listen_group(addr: SocketAddr, spec: &ListenSpec, n: usize) -> io::Result<Vec<std::net::TcpListener>> {
    if n <= 1 || addr.port() == 0 {
        return Ok(vec![listen(addr, spec)?]);
    }
    // With SO_REUSEADDR alone, binding fails only where someone listens.
    let probe = socket(addr, spec)?;
    probe.bind(&addr.into())?;
    drop(probe);
    (0..n)
        .map(|_| {
            let s = socket(addr, spec)?;
            s.set_reuse_port(true)?;
            s.bind(&addr.into())?;
            finish(s, spec)
        })
        .collect()
}

/// A socket for `addr` with the options of `spec`, not bound yet.
fn socket(addr: SocketAddr, spec: &ListenSpec) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() {
        if let Some(only) = spec.v6only {
            socket.set_only_v6(only)?;
        }
    }
    if spec.transparent {
        set_transparent(&socket, addr)?;
    }
    if spec.freebind {
        if addr.is_ipv6() {
            socket.set_freebind_ipv6(true)?;
        } else {
            socket.set_freebind(true)?;
        }
    }
    if let Some(ifname) = &spec.interface {
        socket.bind_device(Some(ifname.as_bytes()))?;
    }
    Ok(socket)
}

fn finish(socket: Socket, spec: &ListenSpec) -> io::Result<std::net::TcpListener> {
    // Like HAProxy, default to a large backlog bounded by net.core.somaxconn.
    let backlog = spec.backlog.unwrap_or(1024).min(i32::MAX as u32) as i32;
    socket.listen(backlog)?;
    if spec.delayed_ack {
        // After listen(), which resets the acknowledgement mode; accepted connections take
        // it from the listener. Only an optimisation: a refusal is not an error.
        let _ = socket.set_quickack(false);
    }
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// The listening TCP socket the process inherited as descriptor `fd` (`bind fd@N`: from a
/// parent that opened it, such as systemd's socket activation or a test harness), taken over
/// as `n` listeners (one per worker thread, each a duplicate of it). Refused unless `fd` is
/// an open socket of type stream that listens; made close-on-exec and non-blocking.
pub fn inherited(fd: i32, n: usize) -> io::Result<Vec<std::net::TcpListener>> {
    use std::os::fd::FromRawFd;
    let invalid = |what: &str| io::Error::new(io::ErrorKind::InvalidInput, format!("descriptor {fd} {what}"));
    if fd < 0 {
        return Err(invalid("is not a descriptor"));
    }
    // SAFETY: F_GETFD only reads the descriptor's flags; an fd that is not open gives EBADF.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return Err(invalid("is not open"));
    }
    // SAFETY: the descriptor is open, and this process never uses it otherwise: the config
    // names it for this listener alone (a second `fd@` of the same number is refused when the
    // config is read), so the socket becomes its only owner.
    let socket = unsafe { Socket::from_raw_fd(fd) };
    let refuse = |socket: Socket, what: &str| {
        // Not ours to close: give the descriptor back untouched.
        std::mem::forget(socket);
        Err(invalid(what))
    };
    match (socket.r#type(), socket.is_listener()) {
        (Ok(t), Ok(true)) if t == Type::STREAM => {}
        (Ok(t), _) if t != Type::STREAM => return refuse(socket, "is not a stream socket"),
        (Ok(_), _) => return refuse(socket, "is not a listening socket"),
        (Err(_), _) => return refuse(socket, "is not a socket"),
    }
    socket.set_cloexec(true)?;
    socket.set_nonblocking(true)?;
    let first: std::net::TcpListener = socket.into();
    let mut out = Vec::with_capacity(n.max(1));
    for _ in 1..n.max(1) {
        out.push(first.try_clone()?);
    }
    out.insert(0, first);
    Ok(out)
}

/// `defer-accept`: the listener hands over a connection only once its first bytes are in, or
/// after about a second (TCP_DEFER_ACCEPT of one second, as HAProxy sets it). Separate from
/// `listen`, so that a kernel refusing it costs a warning, not the listener.
pub fn set_defer_accept(listener: &std::net::TcpListener) -> io::Result<()> {
    crate::sockopt::set_defer_accept(listener, 1)
}

/// IP_TRANSPARENT or IPV6_TRANSPARENT depending on the family.
pub(crate) fn set_transparent(socket: &Socket, addr: SocketAddr) -> io::Result<()> {
    if addr.is_ipv6() {
        crate::sockopt::set_ipv6_transparent(socket)
    } else {
        socket.set_ip_transparent(true)
    }
}

/// Accepts one client, its socket already non-blocking and close-on-exec (one `accept4`
/// call, where std's accept needs another call to make it non-blocking).
pub fn accept(listener: &std::net::TcpListener) -> io::Result<(std::net::TcpStream, SocketAddr)> {
    let (socket, peer) = socket2::SockRef::from(listener).accept4(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC)?;
    let peer = peer
        .as_socket()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "not an IP peer"))?;
    Ok((socket.into(), peer))
}

/// Reads what `s` holds into the unfilled part of `buf`, without waiting and without
/// zeroing that room first: `WouldBlock` when nothing is there; nothing added when the peer
/// closed. For a connection not (yet) registered with an event loop.
pub fn read_into<S: std::os::fd::AsFd>(s: &S, buf: &mut tokio::io::ReadBuf<'_>) -> io::Result<()> {
    // SAFETY: `recv` only writes into the room it is given, never de-initialises it.
    let n = socket2::SockRef::from(s).recv(unsafe { buf.unfilled_mut() })?;
    // SAFETY: `recv` initialised the first `n` bytes of the unfilled room.
    unsafe { buf.assume_init(n) };
    buf.advance(n);
    Ok(())
}

/// Registers a listening socket with the async runtime for readiness only, so an accept loop
/// can wait for a client before taking any connection-limit permit (tokio's `TcpListener`
/// offers accept, not readiness). Needs a tokio runtime.
pub fn readiness(listener: std::net::TcpListener) -> std::io::Result<tokio::io::unix::AsyncFd<std::net::TcpListener>> {
    listener.set_nonblocking(true)?;
    // SAFETY: the AsyncFd owns the listener, so the descriptor it registers stays open and is
    // not reused for as long as the registration exists.
    unsafe { tokio::io::unix::AsyncFd::register(listener) }.map_err(std::io::Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// TCP_QUICKACK of a connection accepted on a loopback listener opened with `spec`.
    fn accepted_quickack(spec: &ListenSpec) -> bool {
        let listener = listen("127.0.0.1:0".parse().expect("address"), spec).expect("listener");
        let _client = std::net::TcpStream::connect(listener.local_addr().expect("port")).expect("connect");
        let (s, _) = accept_one(&listener);
        socket2::SockRef::from(&s).quickack().expect("getsockopt")
    }

    /// The next connection `listener` hands over, waiting for it.
    fn accept_one(listener: &std::net::TcpListener) -> (std::net::TcpStream, SocketAddr) {
        loop {
            match accept(listener) {
                Ok(c) => return c,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    std::thread::sleep(std::time::Duration::from_millis(1))
                }
                Err(e) => panic!("accept: {e}"),
            }
        }
    }

    #[test]
    fn smart_accept_starts_accepted_connections_with_delayed_acks() {
        let smart = ListenSpec {
            delayed_ack: true,
            ..ListenSpec::default()
        };
        assert!(!accepted_quickack(&smart), "the listener's setting is inherited");
        assert!(accepted_quickack(&ListenSpec::default()), "and only with the option");
    }

    /// The peer port of the first connection accepted on a loopback listener (with
    /// `defer-accept` or not), when a silent client connects first and a second one connects
    /// and talks.
    fn first_accepted_of_silent_then_talking(defer: bool) -> (u16, u16, u16) {
        use std::io::Write;
        let listener = listen("127.0.0.1:0".parse().expect("address"), &ListenSpec::default()).expect("listener");
        if defer {
            set_defer_accept(&listener).expect("TCP_DEFER_ACCEPT");
        }
        let at = listener.local_addr().expect("port");
        let silent = std::net::TcpStream::connect(at).expect("connect");
        let mut talking = std::net::TcpStream::connect(at).expect("connect");
        talking.write_all(b"hello").expect("write");
        let ports = (
            silent.local_addr().expect("port").port(),
            talking.local_addr().expect("port").port(),
        );
        let (_, peer) = accept_one(&listener);
        (peer.port(), ports.0, ports.1)
    }

    #[test]
    fn defer_accept_hands_over_connections_once_they_have_data() {
        // The silent client's connection stays with the kernel (for about a second), so the
        // one that sent data comes out first; without the option they come in order.
        let (first, _silent, talking) = first_accepted_of_silent_then_talking(true);
        assert_eq!(first, talking);
        let (first, silent, _talking) = first_accepted_of_silent_then_talking(false);
        assert_eq!(first, silent);
    }
}
