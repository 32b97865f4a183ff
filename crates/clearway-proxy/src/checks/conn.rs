//! A health check's connection and how it is let go, as HAProxy lets its checks' go: closed
//! with a FIN when the server has closed its side already, or when the check asks for a
//! clean close (`tcp-check connect linger`, and the MySQL and PostgreSQL checks, whose
//! servers would log each reset as an aborted connection); reset otherwise. A close leaves
//! a TIME_WAIT on this host for a minute per check, one every `inter` for every server.
//! Owns only that choice; must not judge what the server answered.

use std::ops::{Deref, DerefMut};
use tokio::net::TcpStream;

/// A check's open connection; used as the `TcpStream` it holds.
pub struct CheckConn {
    stream: TcpStream,
    linger: bool,
}

impl CheckConn {
    /// `linger`: closed with a FIN whatever the server did.
    pub fn new(stream: TcpStream, linger: bool) -> CheckConn {
        CheckConn { stream, linger }
    }
}

impl Drop for CheckConn {
    fn drop(&mut self) {
        // Whatever the server still sent is read first, as a close with unread bytes would
        // reset anyway (PostgreSQL's authentication request is longer than what its check
        // reads). The server's FIN among them makes a plain close.
        let server_closed = clearway_net::connect::peer_closed(&self.stream);
        if !self.linger && !server_closed {
            clearway_net::connect::reset_on_close(&self.stream);
        }
    }
}

impl Deref for CheckConn {
    type Target = TcpStream;
    fn deref(&self) -> &TcpStream {
        &self.stream
    }
}

impl DerefMut for CheckConn {
    fn deref_mut(&mut self) -> &mut TcpStream {
        &mut self.stream
    }
}
