//! The byte streams sessions move: any stream (plain or TLS, on either side), and a stream to
//! a server, which lends the TCP socket under it; and where an accepted client comes from.
//! Owns these types only.

use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// Any byte stream: a TLS connection on either side.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// A stream to a server, plain or TLS, that lends the TCP socket under it (for a reset).
pub trait ServerStream: Stream {
    /// The socket, when there is one (not for in-memory streams in tests).
    fn socket(&self) -> Option<&TcpStream>;

    /// The socket when the stream's bytes are its bytes as they are (no TLS over it), so
    /// that they may be spliced to or from it.
    fn plain(&self) -> Option<&TcpStream> {
        None
    }
}

impl ServerStream for Box<dyn ServerStream> {
    fn socket(&self) -> Option<&TcpStream> {
        (**self).socket()
    }

    fn plain(&self) -> Option<&TcpStream> {
        (**self).plain()
    }
}

impl ServerStream for TcpStream {
    fn socket(&self) -> Option<&TcpStream> {
        Some(self)
    }

    fn plain(&self) -> Option<&TcpStream> {
        Some(self)
    }
}

impl ServerStream for tokio_rustls::client::TlsStream<TcpStream> {
    fn socket(&self) -> Option<&TcpStream> {
        Some(self.get_ref().0)
    }
}

#[cfg(test)]
impl ServerStream for tokio::io::DuplexStream {
    fn socket(&self) -> Option<&TcpStream> {
        None
    }
}

/// Where an accepted client comes from, where it connected to when already known, and the
/// listener's own statistics when it keeps them (`option socket-stats`).
#[derive(Debug, Clone)]
pub struct Accepted {
    pub peer: SocketAddr,
    pub local: Option<SocketAddr>,
    pub listener: Option<Arc<clearway_core::ListenerRt>>,
    /// Its number and name (`so_id`, `so_name`).
    pub so: Option<Arc<crate::acl::SoIdent>>,
    /// `accept-proxy` on its bind line: a PROXY protocol header comes first.
    pub accept_proxy: bool,
}
