//! Socket options that socket2 does not wrap (IPv6 transparency, bind without port).
//! Owns the `unsafe` setsockopt calls only.

use std::io;
use std::os::fd::AsRawFd;

fn set_int(fd: &impl AsRawFd, level: libc::c_int, name: libc::c_int, value: libc::c_int) -> io::Result<()> {
    // SAFETY: a valid fd, a pointer to a live c_int and its exact size.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn get_int(fd: &impl AsRawFd, level: libc::c_int, name: libc::c_int) -> io::Result<libc::c_int> {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: a valid fd, a pointer to a live c_int and its exact size.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if rc == 0 {
        Ok(value)
    } else {
        Err(io::Error::last_os_error())
    }
}

/// IPV6_TRANSPARENT: like IP_TRANSPARENT, for IPv6 sockets.
pub(crate) fn set_ipv6_transparent(fd: &impl AsRawFd) -> io::Result<()> {
    set_int(fd, libc::SOL_IPV6, libc::IPV6_TRANSPARENT, 1)
}

/// TCP_DEFER_ACCEPT: a listener wakes its accepter for a connection only once data arrived
/// on it, or after `secs` (the kernel rounds it to its SYN-ACK retransmissions).
pub(crate) fn set_defer_accept(fd: &impl AsRawFd, secs: u32) -> io::Result<()> {
    set_int(
        fd,
        libc::IPPROTO_TCP,
        libc::TCP_DEFER_ACCEPT,
        secs.min(i32::MAX as u32) as libc::c_int,
    )
}

/// IP_BIND_ADDRESS_NO_PORT: defer the port choice to connect(), so many connections can share
/// one source address without exhausting ephemeral ports at bind() time.
pub(crate) fn set_bind_address_no_port(fd: &impl AsRawFd) -> io::Result<()> {
    set_int(fd, libc::SOL_IP, libc::IP_BIND_ADDRESS_NO_PORT, 1)
}

/// TCP_NOTSENT_LOWAT: the socket reports room for writing only while fewer than `bytes`
/// written bytes wait to be sent; bytes sent and not yet acknowledged do not count.
pub(crate) fn set_notsent_lowat(fd: &impl AsRawFd, bytes: u32) -> io::Result<()> {
    set_int(
        fd,
        libc::IPPROTO_TCP,
        libc::TCP_NOTSENT_LOWAT,
        bytes.min(i32::MAX as u32) as libc::c_int,
    )
}

/// The socket's own TCP_NOTSENT_LOWAT; 0 when it has none (the system's applies).
pub(crate) fn notsent_lowat(fd: &impl AsRawFd) -> io::Result<u32> {
    get_int(fd, libc::IPPROTO_TCP, libc::TCP_NOTSENT_LOWAT).map(|v| v as u32)
}

/// Shuts a socket down both ways (`shutdown(2)`), from outside the task that owns it: its
/// peer gets a FIN and the owner's reads and writes end at once. The descriptor stays open;
/// the caller must know it is still open (and still the same socket).
pub fn shutdown_both(fd: std::os::fd::RawFd) -> io::Result<()> {
    nix::sys::socket::shutdown(fd, nix::sys::socket::Shutdown::Both).map_err(io::Error::from)
}

/// TCP keep-alive on a socket (`option clitcpka` / `srvtcpka`): probes after `idle` without
/// traffic, every `interval`, the connection dropped after `count` unanswered; each None
/// leaves the system's setting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Keepalive {
    pub idle: Option<std::time::Duration>,
    pub interval: Option<std::time::Duration>,
    pub count: Option<u32>,
}

/// Turns keep-alive on for `s` with `ka`'s timers. On a listening socket, the connections it
/// accepts inherit them (Linux copies the options to each).
pub fn set_keepalive(s: &impl std::os::fd::AsFd, ka: &Keepalive) -> io::Result<()> {
    let s = socket2::SockRef::from(s);
    s.set_keepalive(true)?;
    let mut p = socket2::TcpKeepalive::new();
    if let Some(t) = ka.idle {
        p = p.with_time(t);
    }
    if let Some(t) = ka.interval {
        p = p.with_interval(t);
    }
    if let Some(n) = ka.count {
        p = p.with_retries(n);
    }
    if ka.idle.is_some() || ka.interval.is_some() || ka.count.is_some() {
        s.set_tcp_keepalive(&p)?;
    }
    Ok(())
}

/// Ends a connection without telling the peer (`silent-drop`), as HAProxy does: in TCP
/// repair mode (with CAP_NET_ADMIN) closing it sends nothing at all; otherwise what it sends
/// from now on dies one hop away (TTL / hop limit 1) before it is shut down.
pub fn drop_silently(fd: std::os::fd::RawFd) -> io::Result<()> {
    // The descriptor belongs to the caller, open for as long as this call.
    let b = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    if nix::sys::socket::setsockopt(&b, nix::sys::socket::sockopt::TcpRepair, &1).is_ok() {
        // Closed by its owner from now on, with nothing sent.
        return Ok(());
    }
    let s = socket2::SockRef::from(&b);
    let v6 = s
        .local_addr()
        .ok()
        .and_then(|a| a.as_socket())
        .is_some_and(|a| a.is_ipv6());
    if v6 {
        s.set_unicast_hops_v6(1)?;
    }
    // A v6 socket may carry v4 (mapped) traffic: its TTL too, when it takes one.
    let ttl = s.set_ttl(1);
    if !v6 {
        ttl?;
    }
    shutdown_both(fd)
}
