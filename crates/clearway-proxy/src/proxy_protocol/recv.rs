//! Reading a PROXY header off a client socket: exactly its bytes, never any of what follows
//! (a TLS ClientHello, a request), so the rest of the session reads the socket as if the
//! header had never been there. The socket is looked at (peek) and then only the header's
//! bytes are taken, as HAProxy does: two system calls when it arrived whole.

use super::{parse, scan, Error, Header, Scan};
use std::io;
use std::time::Duration;

/// Why no header was read.
#[derive(Debug, thiserror::Error)]
pub enum Failed {
    #[error(transparent)]
    Protocol(#[from] Error),
    #[error("connection closed before a complete PROXY protocol header")]
    Closed,
    #[error("no complete PROXY protocol header within {0:?}")]
    Timeout(Duration),
    #[error("connection error while reading the PROXY protocol header: {0}")]
    Io(io::Error),
}

/// The header read so far.
#[derive(Debug, Default)]
pub struct Partial(Vec<u8>);

/// How many of `peeked` (what the socket holds after the `got` already taken) belong to the
/// header, and whether they complete it.
fn belongs(got: &[u8], peeked: &[u8]) -> Result<(usize, bool), Error> {
    let mut all = Vec::with_capacity(got.len() + peeked.len());
    all.extend_from_slice(got);
    all.extend_from_slice(peeked);
    Ok(match scan(&all)? {
        Scan::Complete(n) => (n - got.len(), true),
        Scan::Need => (peeked.len(), false),
    })
}

/// How much is looked at at once: a version 1 line, or most version 2 headers.
const PEEK: usize = 536;

impl Partial {
    /// Takes the header's part of `peeked` (what the socket holds now, looked at without
    /// taking) with `read`. Ok(None): the header goes on beyond what arrived.
    fn offer(
        &mut self,
        peeked: &[u8],
        read: impl FnOnce(&mut [u8]) -> io::Result<usize>,
    ) -> Result<Option<Header>, Failed> {
        if peeked.is_empty() {
            return Err(Failed::Closed);
        }
        let (take, complete) = belongs(&self.0, peeked)?;
        let mut buf = [0u8; PEEK];
        match read(&mut buf[..take]) {
            Ok(m) if m == take => {}
            Ok(_) => return Err(Failed::Closed),
            Err(e) => return Err(Failed::Io(e)),
        }
        self.0.extend_from_slice(&buf[..take]);
        if complete {
            return Ok(Some(parse(&self.0)?));
        }
        Ok(None)
    }

    /// Takes what a non-blocking socket holds of the header now, without waiting. Ok(None):
    /// more must come (then `finish` waits for it).
    pub fn try_now(&mut self, s: &std::net::TcpStream) -> Result<Option<Header>, Failed> {
        let mut buf = [0u8; PEEK];
        match s.peek(&mut buf) {
            Ok(n) => self.offer(&buf[..n], |b| io::Read::read(&mut &*s, b)),
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted) => Ok(None),
            Err(e) => Err(Failed::Io(e)),
        }
    }

    /// Reads the rest of the header from a registered socket, within `limit`.
    pub async fn finish(mut self, s: &tokio::net::TcpStream, limit: Duration) -> Result<Header, Failed> {
        let work = async {
            let mut buf = [0u8; PEEK];
            loop {
                // Waits for data; a peek that finds none clears the readiness first.
                let n = s.peek(&mut buf).await.map_err(Failed::Io)?;
                if let Some(h) = self.offer(&buf[..n], |b| s.try_read(b))? {
                    return Ok(h);
                }
            }
        };
        match tokio::time::timeout(limit, work).await {
            Ok(r) => r,
            Err(_) => Err(Failed::Timeout(limit)),
        }
    }
}
