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

/// IPV6_TRANSPARENT: like IP_TRANSPARENT, for IPv6 sockets.
pub(crate) fn set_ipv6_transparent(fd: &impl AsRawFd) -> io::Result<()> {
    set_int(fd, libc::SOL_IPV6, libc::IPV6_TRANSPARENT, 1)
}

/// IP_BIND_ADDRESS_NO_PORT: defer the port choice to connect(), so many connections can share
/// one source address without exhausting ephemeral ports at bind() time.
pub(crate) fn set_bind_address_no_port(fd: &impl AsRawFd) -> io::Result<()> {
    set_int(fd, libc::SOL_IP, libc::IP_BIND_ADDRESS_NO_PORT, 1)
}
