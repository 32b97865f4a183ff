//! Which source address a server connection uses: a local address (`source ADDR`), the
//! client's address (`usesrc clientip`), the client's address and port (`usesrc client`) or a
//! fixed foreign address (`usesrc ADDR`). Owns that computation; must not touch sockets.

use clearway_config::model::{Source, UseSrc};
use std::net::{IpAddr, SocketAddr};

/// The address to bind before connecting, and whether it is foreign (needs IP_TRANSPARENT).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceAddr {
    pub addr: SocketAddr,
    pub transparent: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    #[error("the client address {client} is {} but the server {server} is {}: a connection cannot come from the client's address", family(client.ip()), family(server.ip()))]
    FamilyMismatch { client: SocketAddr, server: SocketAddr },
}

fn family(ip: IpAddr) -> &'static str {
    if ip.is_ipv4() {
        "IPv4"
    } else {
        "IPv6"
    }
}

/// An IPv4 client seen on a dual-stack IPv6 listener arrives as `::ffff:a.b.c.d`; use its IPv4 form.
pub fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

/// Computes the source of a connection to `server` on behalf of `client`; `from_header` is the
/// address a trusted request named for `usesrc hdr_ip` (None: not trusted, or no address).
pub fn source_for(
    src: &Source,
    client: SocketAddr,
    server: SocketAddr,
    from_header: Option<IpAddr>,
) -> Result<SourceAddr, SourceError> {
    let client = canonical(client);
    let (addr, transparent) = match &src.usesrc {
        None => (src.addr, false),
        Some(UseSrc::ClientIp) => (SocketAddr::new(client.ip(), 0), true),
        Some(UseSrc::Client) => (client, true),
        Some(UseSrc::Addr(a)) => (*a, true),
        Some(UseSrc::HdrIp { .. }) => match from_header {
            Some(ip) => (SocketAddr::new(ip.to_canonical(), 0), true),
            None => (src.addr, false),
        },
    };
    if addr.is_ipv4() != server.is_ipv4() {
        if transparent {
            return Err(SourceError::FamilyMismatch { client, server });
        }
        // `source 0.0.0.0` with an IPv6 server: only the family of a wildcard differs, let the
        // kernel choose instead of failing.
        if addr.ip().is_unspecified() {
            let any: IpAddr = if server.is_ipv4() {
                IpAddr::from([0u8; 4])
            } else {
                IpAddr::from([0u16; 8])
            };
            return Ok(SourceAddr {
                addr: SocketAddr::new(any, addr.port()),
                transparent: false,
            });
        }
        return Err(SourceError::FamilyMismatch { client: addr, server });
    }
    Ok(SourceAddr { addr, transparent })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clearway_config::model::Span;

    fn src(usesrc: Option<UseSrc>) -> Source {
        Source {
            span: Span {
                file: "t".into(),
                line: 1,
            },
            addr: "0.0.0.0:0".parse().unwrap(),
            port_range: None,
            usesrc,
            interface: None,
        }
    }

    #[test]
    fn clientip_keeps_address_not_port() {
        let s = source_for(
            &src(Some(UseSrc::ClientIp)),
            "192.0.2.2:4000".parse().unwrap(),
            "198.51.100.10:80".parse().unwrap(),
            None,
        )
        .unwrap();
        assert_eq!(s.addr, "192.0.2.2:0".parse().unwrap());
        assert!(s.transparent);
    }

    #[test]
    fn client_keeps_port_and_maps_v4_in_v6() {
        let s = source_for(
            &src(Some(UseSrc::Client)),
            "[::ffff:192.0.2.2]:4000".parse().unwrap(),
            "198.51.100.10:80".parse().unwrap(),
            None,
        )
        .unwrap();
        assert_eq!(s.addr, "192.0.2.2:4000".parse().unwrap());
    }

    #[test]
    fn family_mismatch_is_an_error() {
        let e = source_for(
            &src(Some(UseSrc::ClientIp)),
            "[2001:db8::2]:4000".parse().unwrap(),
            "198.51.100.10:80".parse().unwrap(),
            None,
        );
        assert!(matches!(e, Err(SourceError::FamilyMismatch { .. })));
    }

    #[test]
    fn hdr_ip_spoofs_only_a_trusted_header_address() {
        let hdr = src(Some(UseSrc::HdrIp {
            header: "x-forwarded-for".into(),
            occ: -1,
            trust: None,
        }));
        let (client, server) = ("192.0.2.9:4000".parse().unwrap(), "198.51.100.10:80".parse().unwrap());
        let s = source_for(&hdr, client, server, Some("192.0.2.77".parse().unwrap())).unwrap();
        assert_eq!(s.addr, "192.0.2.77:0".parse().unwrap());
        assert!(s.transparent);
        let s = source_for(&hdr, client, server, None).unwrap();
        assert!(!s.transparent && s.addr.ip().is_unspecified());
    }

    #[test]
    fn wildcard_source_follows_server_family() {
        let s = source_for(
            &src(None),
            "192.0.2.2:1".parse().unwrap(),
            "[2001:db8::10]:80".parse().unwrap(),
            None,
        )
        .unwrap();
        assert!(s.addr.is_ipv6() && !s.transparent);
    }
}
