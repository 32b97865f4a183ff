//! The PROXY protocol (versions 1 and 2, haproxy.org/download/2.6/doc/proxy-protocol.txt):
//! the header a load balancer in front sends first to say whose connection this is, and the
//! one Clearway sends to servers (`send-proxy*`). Owns the wire formats only: reading the
//! header off a client socket is `recv`'s, deciding whom to believe is the session's.

pub mod recv;
mod send;

pub use send::{encode, Outgoing, Version};

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The 12 bytes every version 2 header starts with.
pub const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";
/// The longest version 1 line, CRLF included (the specification's bound).
pub const V1_MAX: usize = 107;
/// The longest version 2 header accepted: as HAProxy, what fits its 16 kB buffer.
pub const V2_MAX: usize = 16 * 1024;

/// Version 2 TLV types (section 2.2 of the specification).
pub(crate) mod tlv {
    pub const ALPN: u8 = 0x01;
    pub const AUTHORITY: u8 = 0x02;
    pub const CRC32C: u8 = 0x03;
    pub const UNIQUE_ID: u8 = 0x05;
    pub const SSL: u8 = 0x20;
    pub const SSL_VERSION: u8 = 0x21;
    pub const SSL_CIPHER: u8 = 0x23;
}

/// The longest authority (TLV 0x02) accepted, as HAProxy.
const AUTHORITY_MAX: usize = 255;
/// The longest unique id (TLV 0x05) accepted, as the specification.
const UNIQUE_ID_MAX: usize = 128;

/// What a received header said.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    /// The client's address and the address it connected to, as the sender saw them; None when
    /// the header carries none to use (version 1 `UNKNOWN`, version 2 `LOCAL` such as a
    /// health check, or a family other than TCP over IPv4/IPv6): the connection's own stand.
    pub addrs: Option<(SocketAddr, SocketAddr)>,
    /// The TLS ALPN the sender negotiated with the client (version 2).
    pub alpn: Option<Box<[u8]>>,
    /// The host name the client asked for, as SNI (version 2 authority).
    pub authority: Option<Box<str>>,
    /// The sender's id for this connection (version 2 unique id).
    pub unique_id: Option<Box<[u8]>>,
}

/// How far a buffer's start is from being a complete header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scan {
    /// Every byte so far can begin a header; more are needed.
    Need,
    /// The header is the first `n` bytes.
    Complete(usize),
}

/// Why a header was refused. The messages are for logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("received something that is not a PROXY protocol header")]
    NotHeader,
    #[error("invalid PROXY protocol header: {0}")]
    Invalid(&'static str),
    #[error("the PROXY protocol header is longer than {0} bytes")]
    TooLong(usize),
}

/// Says whether `buf` starts with a complete header, could still become one, or cannot.
pub fn scan(buf: &[u8]) -> Result<Scan, Error> {
    let sig = buf.len().min(V2_SIGNATURE.len());
    if buf[..sig] == V2_SIGNATURE[..sig] {
        if buf.len() < 16 {
            return Ok(Scan::Need);
        }
        let total = 16 + usize::from(u16::from_be_bytes([buf[14], buf[15]]));
        if total > V2_MAX {
            return Err(Error::TooLong(V2_MAX));
        }
        return Ok(if buf.len() >= total {
            Scan::Complete(total)
        } else {
            Scan::Need
        });
    }
    let p = buf.len().min(6);
    if buf[..p] != b"PROXY "[..p] {
        return Err(Error::NotHeader);
    }
    match buf.iter().take(V1_MAX).position(|&b| b == b'\n') {
        Some(i) if i > 0 && buf[i - 1] == b'\r' => Ok(Scan::Complete(i + 1)),
        Some(_) => Err(Error::Invalid("a version 1 line must end with CRLF")),
        None if buf.len() >= V1_MAX => Err(Error::TooLong(V1_MAX)),
        None => Ok(Scan::Need),
    }
}

/// Parses a complete header (the bytes `scan` found complete).
pub fn parse(h: &[u8]) -> Result<Header, Error> {
    if h.starts_with(&V2_SIGNATURE) {
        parse_v2(h)
    } else if let Some(line) = h.strip_prefix(b"PROXY ").and_then(|l| l.strip_suffix(b"\r\n")) {
        parse_v1(line)
    } else {
        Err(Error::NotHeader)
    }
}

/// `TCP4|TCP6 SRC DST SPORT DPORT` or `UNKNOWN ...` (what follows UNKNOWN is ignored).
fn parse_v1(line: &[u8]) -> Result<Header, Error> {
    let line = std::str::from_utf8(line).map_err(|_| Error::Invalid("not text"))?;
    let mut words = line.split(' ');
    let v6 = match words.next() {
        Some("TCP4") => false,
        Some("TCP6") => true,
        Some("UNKNOWN") => return Ok(Header::default()),
        _ => return Err(Error::Invalid("unknown protocol (TCP4, TCP6 or UNKNOWN)")),
    };
    let (Some(src), Some(dst), Some(sport), Some(dport), None) =
        (words.next(), words.next(), words.next(), words.next(), words.next())
    else {
        return Err(Error::Invalid("expected 'PROXY TCP4|TCP6 SRC DST SPORT DPORT'"));
    };
    let ip = |s: &str| -> Result<IpAddr, Error> {
        if v6 {
            s.parse::<Ipv6Addr>().map(IpAddr::V6)
        } else {
            s.parse::<Ipv4Addr>().map(IpAddr::V4)
        }
        .map_err(|_| Error::Invalid("an address is not of the family announced"))
    };
    let port = |s: &str| -> Result<u16, Error> {
        if s.is_empty() || s.len() > 5 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::Invalid("a port is not a number from 0 to 65535"));
        }
        s.parse()
            .map_err(|_| Error::Invalid("a port is not a number from 0 to 65535"))
    };
    Ok(Header {
        addrs: Some((
            SocketAddr::new(ip(src)?, port(sport)?),
            SocketAddr::new(ip(dst)?, port(dport)?),
        )),
        ..Header::default()
    })
}

fn parse_v2(h: &[u8]) -> Result<Header, Error> {
    if h.len() < 16 || h.len() != 16 + usize::from(u16::from_be_bytes([h[14], h[15]])) {
        return Err(Error::Invalid("length mismatch"));
    }
    if h[12] >> 4 != 2 {
        return Err(Error::Invalid("version 2 headers say version 2"));
    }
    match h[12] & 0x0f {
        // LOCAL: the sender speaks for itself (a health check); nothing else counts.
        0 => return Ok(Header::default()),
        1 => {}
        _ => return Err(Error::Invalid("unknown command")),
    }
    let body = &h[16..];
    let (addrs, block) = match h[13] {
        0x11 => {
            let b = body.get(..12).ok_or(Error::Invalid("too short for IPv4 addresses"))?;
            let ip = |o: usize| IpAddr::V4(Ipv4Addr::new(b[o], b[o + 1], b[o + 2], b[o + 3]));
            let port = |o: usize| u16::from_be_bytes([b[o], b[o + 1]]);
            (
                Some((SocketAddr::new(ip(0), port(8)), SocketAddr::new(ip(4), port(10)))),
                12,
            )
        }
        0x21 => {
            let b = body.get(..36).ok_or(Error::Invalid("too short for IPv6 addresses"))?;
            let ip = |o: usize| {
                let mut a = [0u8; 16];
                a.copy_from_slice(&b[o..o + 16]);
                IpAddr::V6(Ipv6Addr::from(a))
            };
            let port = |o: usize| u16::from_be_bytes([b[o], b[o + 1]]);
            (
                Some((SocketAddr::new(ip(0), port(32)), SocketAddr::new(ip(16), port(34)))),
                36,
            )
        }
        // UDP over IPv4/IPv6, UNIX stream/datagram: addresses this TCP proxy cannot use.
        0x12 => (None, 12),
        0x22 => (None, 36),
        0x31 | 0x32 => (None, 216),
        // UNSPEC or unknown: the addresses' size is unknown, so are the TLVs; skip it all.
        _ => return Ok(Header::default()),
    };
    if body.len() < block {
        return Err(Error::Invalid("too short for its addresses"));
    }
    let mut out = Header {
        addrs,
        ..Header::default()
    };
    let mut at = 16 + block;
    while at < h.len() {
        if at + 3 > h.len() {
            return Err(Error::Invalid("a TLV is cut"));
        }
        let t = h[at];
        let start = at + 3;
        let end = start + usize::from(u16::from_be_bytes([h[at + 1], h[at + 2]]));
        let value = h.get(start..end).ok_or(Error::Invalid("a TLV runs past the header"))?;
        match t {
            tlv::CRC32C => {
                let sent: [u8; 4] = value.try_into().map_err(|_| Error::Invalid("CRC32C is not 4 bytes"))?;
                let mut copy = h.to_vec();
                copy[start..end].fill(0);
                if crc32c::crc32c(&copy) != u32::from_be_bytes(sent) {
                    return Err(Error::Invalid("wrong CRC32C"));
                }
            }
            tlv::AUTHORITY => {
                if value.len() > AUTHORITY_MAX {
                    return Err(Error::Invalid("authority longer than 255 bytes"));
                }
                let a = std::str::from_utf8(value).map_err(|_| Error::Invalid("authority is not UTF-8"))?;
                out.authority = Some(a.into());
            }
            tlv::UNIQUE_ID => {
                if value.len() > UNIQUE_ID_MAX {
                    return Err(Error::Invalid("unique id longer than 128 bytes"));
                }
                out.unique_id = Some(value.into());
            }
            tlv::ALPN => out.alpn = Some(value.into()),
            _ => {}
        }
        at = end;
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
