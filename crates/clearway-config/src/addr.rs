//! Address syntax shared by `bind`, `server` and `source`: HAProxy's `host:port` forms with
//! IPv6 literals (bracketed, or with the last colon as port separator), `ipv4@`/`ipv6@`
//! prefixes, port ranges and relative ports. Owns parsing only; never resolves names.

use crate::model::{Host, ServerPort};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Splits `host:port` where the host may be an IPv6 literal in brackets or bare.
/// Returns (host, Some(port text)) or (host, None) when no port is written.
fn split_host_port(s: &str) -> Result<(&str, Option<&str>), String> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(|| format!("missing ']' in '{s}'"))?;
        return match after {
            "" => Ok((host, None)),
            p => p
                .strip_prefix(':')
                .map(|p| (host, Some(p)))
                .ok_or_else(|| format!("expected ':PORT' after ']' in '{s}'")),
        };
    }
    match s.rsplit_once(':') {
        Some((host, port)) => Ok((host, Some(port))),
        None => Ok((s, None)),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Any,
    V4,
    V6,
}

fn strip_family(s: &str) -> Result<(Family, &str), String> {
    if let Some(r) = s.strip_prefix("ipv4@") {
        return Ok((Family::V4, r));
    }
    if let Some(r) = s.strip_prefix("ipv6@") {
        return Ok((Family::V6, r));
    }
    for (p, fam) in [("tcp@", Family::Any), ("tcp4@", Family::V4), ("tcp6@", Family::V6)] {
        if let Some(rest) = s.strip_prefix(p) {
            return Ok((fam, rest));
        }
    }
    for p in [
        "unix@",
        "abns@",
        "fd@",
        "sockpair@",
        "udp@",
        "udp4@",
        "udp6@",
        "quic4@",
        "quic6@",
    ] {
        if s.starts_with(p) {
            return Err(format!(
                "'{p}' addresses are not supported yet: only TCP over IPv4/IPv6"
            ));
        }
    }
    if s.starts_with('/') {
        return Err(format!(
            "UNIX socket '{s}' is not supported yet: only TCP over IPv4/IPv6"
        ));
    }
    Ok((Family::Any, s))
}

fn parse_ip(host: &str, fam: Family) -> Result<IpAddr, String> {
    if host.is_empty() || host == "*" {
        return Ok(if fam == Family::V6 {
            Ipv6Addr::UNSPECIFIED.into()
        } else {
            Ipv4Addr::UNSPECIFIED.into()
        });
    }
    let ip: IpAddr = host.parse().map_err(|_| format!("'{host}' is not an IP address"))?;
    match (fam, ip) {
        (Family::V4, IpAddr::V6(_)) => Err(format!("'{host}' is not an IPv4 address (ipv4@)")),
        (Family::V6, IpAddr::V4(v4)) => Ok(v4.to_ipv6_mapped().into()),
        _ => Ok(ip),
    }
}

fn port(s: &str) -> Result<u16, String> {
    s.parse::<u16>()
        .ok()
        .filter(|&p| p > 0)
        .ok_or_else(|| format!("invalid port '{s}': expected 1 to 65535"))
}

/// One comma-separated item of a `bind` line: `[HOST]:PORT[-PORT]`, expanded.
pub fn bind_addrs(item: &str) -> Result<Vec<SocketAddr>, String> {
    let item = &*crate::lexer::address(item);
    let (fam, s) = strip_family(item)?;
    let (host, ports) = split_host_port(s)?;
    let ports = ports
        .filter(|p| !p.is_empty())
        .ok_or_else(|| format!("missing port in bind address '{item}'"))?;
    // HAProxy's ':::80' is the IPv6 wildcard: split_host_port leaves "::" as the host.
    let fam = if host.contains(':') && fam == Family::Any {
        Family::V6
    } else {
        fam
    };
    let ip = parse_ip(host, fam)?;
    let (lo, hi) = match ports.split_once('-') {
        Some((a, b)) => (port(a)?, port(b)?),
        None => {
            let p = port(ports)?;
            (p, p)
        }
    };
    if hi < lo {
        return Err(format!("port range '{ports}' is reversed"));
    }
    if hi - lo > 1024 {
        return Err(format!("port range '{ports}' is larger than 1024 ports"));
    }
    Ok((lo..=hi).map(|p| SocketAddr::new(ip, p)).collect())
}

/// A `server` address: an IP or a name to resolve, with an optional, possibly relative, port.
pub fn server_addr(s: &str) -> Result<(Host, ServerPort), String> {
    let s = &*crate::lexer::address(s);
    let (fam, s) = strip_family(s)?;
    // `*` is HAProxy's spelling of 0.0.0.0: the client's original destination.
    if let Some(rest) = s.strip_prefix('*') {
        let port = match rest.strip_prefix(':') {
            None if rest.is_empty() => ServerPort::SameAsClient,
            Some("") => ServerPort::SameAsClient,
            Some(p) => ServerPort::Fixed(port(p)?),
            None => return Err(format!("'{s}' is neither an IP address nor a host name")),
        };
        return Ok((Host::Ip(Ipv4Addr::UNSPECIFIED.into()), port));
    }
    // A bare IPv6 literal without port ("2001:db8::10") parses whole.
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok((Host::Ip(parse_ip(&ip.to_string(), fam)?), ServerPort::SameAsClient));
    }
    let (host, p) = split_host_port(s)?;
    let host = if let Ok(ip) = host.parse::<IpAddr>() {
        Host::Ip(parse_ip(&ip.to_string(), fam)?)
    } else if host.is_empty() && p.is_none() {
        return Err(format!("missing host in server address '{s}'"));
    } else if host.is_empty() {
        // As HAProxy reads `:PORT` (or `:`): no host is 0.0.0.0, each client's original
        // destination.
        Host::Ip(Ipv4Addr::UNSPECIFIED.into())
    } else if host.chars().all(|c| c.is_ascii_alphanumeric() || "-._".contains(c)) {
        Host::Name(host.to_string())
    } else {
        return Err(format!("'{host}' is neither an IP address nor a host name"));
    };
    let port = match p {
        None | Some("") => ServerPort::SameAsClient,
        Some(p) if p.starts_with('+') || p.starts_with('-') => {
            let off: i32 = p.parse().map_err(|_| format!("invalid relative port '{p}'"))?;
            ServerPort::Offset(off)
        }
        Some(p) => ServerPort::Fixed(port(p)?),
    };
    Ok((host, port))
}

/// A `source`/`usesrc` address: an IP with an optional port or port range.
pub fn source_addr(s: &str) -> Result<(SocketAddr, Option<(u16, u16)>), String> {
    let s = &*crate::lexer::address(s);
    let (fam, s) = strip_family(s)?;
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok((SocketAddr::new(parse_ip(&ip.to_string(), fam)?, 0), None));
    }
    if s == "*" || s.is_empty() {
        return Ok((SocketAddr::new(parse_ip("", fam)?, 0), None));
    }
    let (host, p) = split_host_port(s)?;
    let ip = parse_ip(host, fam)?;
    match p {
        None | Some("") => Ok((SocketAddr::new(ip, 0), None)),
        Some(p) => match p.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (port(a)?, port(b)?);
                if b < a {
                    return Err(format!("source port range '{p}' is reversed"));
                }
                Ok((SocketAddr::new(ip, 0), Some((a, b))))
            }
            None => Ok((SocketAddr::new(ip, port(p)?), None)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn bind_forms() {
        assert_eq!(bind_addrs(":80").unwrap(), [sa("0.0.0.0:80")]);
        assert_eq!(bind_addrs("*:80").unwrap(), [sa("0.0.0.0:80")]);
        assert_eq!(bind_addrs("203.0.113.80:80").unwrap(), [sa("203.0.113.80:80")]);
        assert_eq!(bind_addrs(":::80").unwrap(), [sa("[::]:80")]);
        assert_eq!(bind_addrs("[::]:80").unwrap(), [sa("[::]:80")]);
        assert_eq!(bind_addrs("2001:db8::1:443").unwrap(), [sa("[2001:db8::1]:443")]);
        assert_eq!(bind_addrs("ipv6@:80").unwrap(), [sa("[::]:80")]);
        assert_eq!(bind_addrs("ipv4@127.0.0.1:80").unwrap(), [sa("127.0.0.1:80")]);
        assert_eq!(
            bind_addrs("127.0.0.1:8000-8002").unwrap(),
            [sa("127.0.0.1:8000"), sa("127.0.0.1:8001"), sa("127.0.0.1:8002")]
        );
    }

    #[test]
    fn bind_errors() {
        assert!(bind_addrs("127.0.0.1").unwrap_err().contains("missing port"));
        assert!(bind_addrs("127.0.0.1:0").unwrap_err().contains("invalid port"));
        assert!(bind_addrs("127.0.0.1:90-80").unwrap_err().contains("reversed"));
        assert!(bind_addrs("/run/x.sock").unwrap_err().contains("not supported"));
        assert!(bind_addrs("unix@x").unwrap_err().contains("not supported"));
        assert!(bind_addrs("nothost:80").is_err());
    }

    #[test]
    fn server_forms() {
        assert_eq!(
            server_addr("198.51.100.10:80").unwrap(),
            (Host::Ip("198.51.100.10".parse().unwrap()), ServerPort::Fixed(80))
        );
        assert_eq!(server_addr("198.51.100.10").unwrap().1, ServerPort::SameAsClient);
        assert_eq!(server_addr("198.51.100.10:+1000").unwrap().1, ServerPort::Offset(1000));
        assert_eq!(
            server_addr("db1.example:3306").unwrap().0,
            Host::Name("db1.example".into())
        );
        assert_eq!(
            server_addr("2001:db8::10").unwrap(),
            (Host::Ip("2001:db8::10".parse().unwrap()), ServerPort::SameAsClient)
        );
        assert_eq!(server_addr("[2001:db8::10]:80").unwrap().1, ServerPort::Fixed(80));
        assert!(server_addr("a b:80").is_err());
        assert_eq!(
            server_addr("*").unwrap(),
            (Host::Ip("0.0.0.0".parse().unwrap()), ServerPort::SameAsClient)
        );
        assert_eq!(server_addr("*:8080").unwrap().1, ServerPort::Fixed(8080));
        assert_eq!(server_addr("0.0.0.0").unwrap().0, Host::Ip("0.0.0.0".parse().unwrap()));
        // As HAProxy: an empty host before a colon is 0.0.0.0; nothing at all is an error.
        let anywhere = Host::Ip("0.0.0.0".parse().unwrap());
        assert_eq!(server_addr(":").unwrap(), (anywhere.clone(), ServerPort::SameAsClient));
        assert_eq!(server_addr(":80").unwrap(), (anywhere, ServerPort::Fixed(80)));
        assert!(server_addr("").is_err());
    }

    #[test]
    fn source_forms() {
        assert_eq!(source_addr("0.0.0.0").unwrap(), (sa("0.0.0.0:0"), None));
        assert_eq!(source_addr("::").unwrap(), (sa("[::]:0"), None));
        assert_eq!(
            source_addr("192.0.2.1:1024-2048").unwrap(),
            (sa("192.0.2.1:0"), Some((1024, 2048)))
        );
        assert_eq!(source_addr("192.0.2.1:5000").unwrap(), (sa("192.0.2.1:5000"), None));
    }
}
