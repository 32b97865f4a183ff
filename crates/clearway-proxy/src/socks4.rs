//! The SOCKS4 CONNECT a server connection makes through its `socks4` proxy, as HAProxy makes
//! it: version 4, command 1, the server's port and IPv4 address, user id "HAProxy"; the
//! proxy's 8-byte answer must grant it (0x5A). Owns these bytes only; must not connect.

use std::io;
use std::net::SocketAddr;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The request for `target`; None for an IPv6 one (SOCKS4 has none).
pub fn request(target: SocketAddr) -> Option<Vec<u8>> {
    let SocketAddr::V4(t) = target else { return None };
    let mut r = vec![4, 1];
    r.extend_from_slice(&t.port().to_be_bytes());
    r.extend_from_slice(&t.ip().octets());
    r.extend_from_slice(b"HAProxy\0");
    Some(r)
}

/// Asks the proxy on `s` to connect to `target`; Ok once it has.
pub async fn connect<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S, target: SocketAddr) -> io::Result<()> {
    let req = request(target)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "SOCKS4 reaches IPv4 addresses only"))?;
    s.write_all(&req).await?;
    let mut answer = [0u8; 8];
    s.read_exact(&mut answer).await?;
    match answer[1] {
        0x5A => Ok(()),
        code => Err(io::Error::new(
            io::ErrorKind::ConnectionRefused,
            format!("the SOCKS4 proxy refused the connection (code 0x{code:02X})"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn haproxys_request_and_the_proxys_answer() {
        let target: SocketAddr = "192.0.2.1:443".parse().unwrap();
        assert_eq!(
            request(target).unwrap(),
            [4, 1, 1, 187, 192, 0, 2, 1, b'H', b'A', b'P', b'r', b'o', b'x', b'y', 0]
        );
        assert!(request("[2001:db8::1]:80".parse().unwrap()).is_none());
        for (answer, ok) in [
            ([0u8, 0x5A, 0, 0, 0, 0, 0, 0], true),
            ([0, 0x5B, 0, 0, 0, 0, 0, 0], false),
        ] {
            let (mut ours, mut proxy) = tokio::io::duplex(64);
            proxy.write_all(&answer).await.unwrap();
            assert_eq!(connect(&mut ours, target).await.is_ok(), ok);
            let mut sent = [0u8; 16];
            proxy.read_exact(&mut sent).await.unwrap();
            assert_eq!(sent[..2], [4, 1]);
        }
        // A proxy that hangs up before answering: an error, not a wait.
        let (mut ours, proxy) = tokio::io::duplex(64);
        drop(proxy);
        assert!(connect(&mut ours, target).await.is_err());
    }
}
