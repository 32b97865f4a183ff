//! Clients run from inside a namespace: a raw TCP request with an optional source address,
//! and curl. Must not assert: tests decide what an answer means.

use crate::netns::Netns;
use std::io::{Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr};
use std::process::Output;
use std::time::Duration;

/// Connects to `to` (from `from` when given), sends `payload`, half-closes, reads to EOF.
pub fn request(
    ns: &Netns,
    to: SocketAddr,
    from: Option<IpAddr>,
    payload: &[u8],
    timeout: Duration,
) -> std::io::Result<String> {
    exchange(ns, to, from.map(|ip| SocketAddr::new(ip, 0)), payload, timeout)
}

/// Like `request`, from a fixed source address and port.
pub fn request_from_port(
    ns: &Netns,
    to: SocketAddr,
    from: IpAddr,
    port: u16,
    payload: &[u8],
    timeout: Duration,
) -> std::io::Result<String> {
    exchange(ns, to, Some(SocketAddr::new(from, port)), payload, timeout)
}

fn exchange(
    ns: &Netns,
    to: SocketAddr,
    from: Option<SocketAddr>,
    payload: &[u8],
    timeout: Duration,
) -> std::io::Result<String> {
    let payload = payload.to_vec();
    ns.enter(move || {
        let mut s = connect_from(to, from, timeout)?;
        s.set_read_timeout(Some(timeout))?;
        s.set_write_timeout(Some(timeout))?;
        // Write and read at once: a large payload echoed back would otherwise fill both buffers.
        let mut w = s.try_clone()?;
        let writer = std::thread::spawn(move || -> std::io::Result<()> {
            w.write_all(&payload)?;
            w.shutdown(Shutdown::Write)
        });
        let mut out = Vec::new();
        let read = s.read_to_end(&mut out);
        let wrote = writer.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
        match (read, wrote) {
            (Ok(_), _) => Ok(String::from_utf8_lossy(&out).into_owned()),
            // A connection reset by the proxy reads as an empty answer.
            (Err(e), _) if e.kind() == std::io::ErrorKind::ConnectionReset => Ok(String::new()),
            (Err(e), _) => Err(e),
        }
    })
}

/// `curl -sS --max-time 10 URL ARGS...` in the namespace.
pub fn curl(ns: &Netns, url: &str, extra: &[&str]) -> Output {
    let mut args = vec!["-sS", "--max-time", "10"];
    args.extend_from_slice(extra);
    args.push(url);
    ns.exec("curl", &args)
}

/// Connects, binding the source address first when one is given.
fn connect_from(to: SocketAddr, from: Option<SocketAddr>, timeout: Duration) -> std::io::Result<std::net::TcpStream> {
    let Some(from) = from else {
        return std::net::TcpStream::connect_timeout(&to, timeout);
    };
    let s = socket2::Socket::new(socket2::Domain::for_address(to), socket2::Type::STREAM, None)?;
    s.set_reuse_address(true)?;
    s.bind(&from.into())?;
    s.connect_timeout(&to.into(), timeout)?;
    Ok(s.into())
}
