//! Writing the header a `send-proxy*` server receives first.

use super::{tlv, V2_SIGNATURE};
use clearway_config::model::SendProxy;
use std::net::{IpAddr, SocketAddr};

/// Which version a server is sent: version 2 when its line asks for both, as HAProxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
}

impl Version {
    pub fn of(p: &SendProxy) -> Option<Version> {
        if p.v2 {
            Some(Version::V2)
        } else if p.v1 {
            Some(Version::V1)
        } else {
            None
        }
    }
}

/// What a header says of the client's connection.
#[derive(Debug, Clone, Copy, Default)]
pub struct Outgoing<'a> {
    /// The client's address and the one it reached; None for a connection of Clearway's own
    /// (a health check): version 1 says `UNKNOWN`, version 2 `LOCAL`.
    pub addrs: Option<(SocketAddr, SocketAddr)>,
    /// The ALPN protocol agreed with the client, sent by version 2 always, as HAProxy.
    pub alpn: Option<&'a [u8]>,
    /// The host name the client asked for (received authority, else the client's SNI): sent
    /// with `proxy-v2-options authority`.
    pub authority: Option<&'a str>,
    /// The client's TLS version and cipher (OpenSSL's names), when it spoke TLS to Clearway.
    pub tls: Option<(&'a str, &'a str)>,
    /// The request's unique id (`unique-id-format`): sent with `proxy-v2-options unique-id`.
    pub unique_id: Option<&'a str>,
}

/// The header for `o`, in the version and with the options `p` asks for.
pub fn encode(p: &SendProxy, o: &Outgoing<'_>) -> Vec<u8> {
    match Version::of(p) {
        Some(Version::V2) => v2(p, o),
        _ => v1(o.addrs),
    }
}

/// `PROXY TCP4|TCP6 SRC DST SPORT DPORT\r\n`, or `PROXY UNKNOWN\r\n`.
fn v1(addrs: Option<(SocketAddr, SocketAddr)>) -> Vec<u8> {
    let Some((src, dst)) = addrs else {
        return b"PROXY UNKNOWN\r\n".to_vec();
    };
    let line = match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => format!("PROXY TCP4 {s} {d} {} {}\r\n", src.port(), dst.port()),
        (s, d) => format!("PROXY TCP6 {} {} {} {}\r\n", v6(s), v6(d), src.port(), dst.port()),
    };
    line.into_bytes()
}

fn v6(ip: IpAddr) -> std::net::Ipv6Addr {
    match ip {
        IpAddr::V4(a) => a.to_ipv6_mapped(),
        IpAddr::V6(a) => a,
    }
}

fn push_tlv(out: &mut Vec<u8>, t: u8, value: &[u8]) {
    let len = u16::try_from(value.len()).unwrap_or(u16::MAX);
    out.push(t);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&value[..usize::from(len)]);
}

fn v2(p: &SendProxy, o: &Outgoing<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(&V2_SIGNATURE);
    match o.addrs {
        None => out.extend_from_slice(&[0x20, 0x00, 0, 0]),
        Some((src, dst)) => match (src.ip(), dst.ip()) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                out.extend_from_slice(&[0x21, 0x11, 0, 0]);
                out.extend_from_slice(&s.octets());
                out.extend_from_slice(&d.octets());
                out.extend_from_slice(&src.port().to_be_bytes());
                out.extend_from_slice(&dst.port().to_be_bytes());
            }
            (s, d) => {
                out.extend_from_slice(&[0x21, 0x21, 0, 0]);
                out.extend_from_slice(&v6(s).octets());
                out.extend_from_slice(&v6(d).octets());
                out.extend_from_slice(&src.port().to_be_bytes());
                out.extend_from_slice(&dst.port().to_be_bytes());
            }
        },
    }
    let crc_at = p.v2_crc32c.then(|| {
        push_tlv(&mut out, tlv::CRC32C, &[0; 4]);
        out.len() - 4
    });
    if let Some(a) = o.alpn {
        push_tlv(&mut out, tlv::ALPN, a);
    }
    if let (true, Some(a)) = (p.v2_authority, o.authority) {
        push_tlv(&mut out, tlv::AUTHORITY, a.as_bytes());
    }
    if let (true, Some(id)) = (p.v2_unique_id, o.unique_id) {
        push_tlv(&mut out, tlv::UNIQUE_ID, id.as_bytes());
    }
    if p.v2_ssl {
        // client flags (bit 0: TLS), verify result (0: no certificate failed), sub-TLVs.
        let mut v = vec![u8::from(o.tls.is_some()), 0, 0, 0, 0];
        if let Some((version, cipher)) = o.tls {
            push_tlv(&mut v, tlv::SSL_VERSION, version.as_bytes());
            if p.v2_ssl_cipher {
                push_tlv(&mut v, tlv::SSL_CIPHER, cipher.as_bytes());
            }
        }
        push_tlv(&mut out, tlv::SSL, &v);
    }
    let len = u16::try_from(out.len() - 16).unwrap_or(u16::MAX);
    out[14..16].copy_from_slice(&len.to_be_bytes());
    if let Some(at) = crc_at {
        let crc = crc32c::crc32c(&out);
        out[at..at + 4].copy_from_slice(&crc.to_be_bytes());
    }
    out
}
