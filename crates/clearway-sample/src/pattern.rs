//! Pattern syntaxes shared by ACLs and maps: networks `ADDR[/LEN]` and integer ranges
//! `LOW:HIGH`.

use std::net::IpAddr;

/// An IPv4/IPv6 network `ADDR[/LEN]` (IPv4 masks may be dotted).
pub fn parse_net(s: &str) -> Result<(IpAddr, u8), String> {
    let (ip, len) = match s.split_once('/') {
        Some((ip, len)) => (ip, Some(len)),
        None => (s, None),
    };
    let ip: IpAddr = ip
        .parse()
        .map_err(|_| format!("'{s}' is not an IP address or network"))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len = match len {
        None => max,
        Some(l) => match (l.parse::<u8>(), l.parse::<std::net::Ipv4Addr>()) {
            (Ok(n), _) if n <= max => n,
            (_, Ok(mask)) if ip.is_ipv4() && (u32::from(mask).leading_ones() == u32::from(mask).count_ones()) => {
                u32::from(mask).leading_ones() as u8
            }
            _ => return Err(format!("'{s}': bad prefix length or mask")),
        },
    };
    Ok((ip, len))
}

/// Whether `ip` is in the network `(net, len)`; IPv4-mapped IPv6 addresses count as IPv4.
pub fn net_contains(net: (IpAddr, u8), ip: IpAddr) -> bool {
    match (net.0, ip.to_canonical()) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(net.1)).unwrap_or(0);
            u32::from(n) & mask == u32::from(a) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(net.1)).unwrap_or(0);
            u128::from(n) & mask == u128::from(a) & mask
        }
        _ => false,
    }
}

/// An integer pattern: `N`, `LOW:HIGH`, `:HIGH`, `LOW:`; returns the inclusive bounds.
pub fn parse_int_range(s: &str) -> Result<(i64, i64), String> {
    let num = |t: &str, dflt: i64| -> Result<i64, String> {
        if t.is_empty() {
            Ok(dflt)
        } else {
            t.parse()
                .map_err(|_| format!("'{s}' is not an integer or a range LOW:HIGH"))
        }
    };
    match s.split_once(':') {
        Some((lo, hi)) => Ok((num(lo, i64::MIN)?, num(hi, i64::MAX)?)),
        None => {
            let n = num(s, 0)?;
            if s.is_empty() {
                return Err("an empty integer pattern".into());
            }
            Ok((n, n))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks() {
        let n = parse_net("192.0.2.0/24").unwrap();
        assert!(net_contains(n, "192.0.2.77".parse().unwrap()));
        assert!(!net_contains(n, "192.0.3.1".parse().unwrap()));
        assert!(net_contains(n, "::ffff:192.0.2.1".parse().unwrap()));
        assert_eq!(parse_net("10.0.0.0/255.255.0.0").unwrap().1, 16);
        assert!(net_contains(
            parse_net("0.0.0.0/0").unwrap(),
            "1.2.3.4".parse().unwrap()
        ));
        assert!(net_contains(
            parse_net("2001:db8::/32").unwrap(),
            "2001:db8:1::2".parse().unwrap()
        ));
        assert!(parse_net("192.0.2.0/33").is_err());
        assert!(parse_net("nope").is_err());
    }

    #[test]
    fn int_ranges() {
        assert_eq!(parse_int_range("80").unwrap(), (80, 80));
        assert_eq!(parse_int_range("1024:65535").unwrap(), (1024, 65535));
        assert_eq!(parse_int_range(":10").unwrap(), (i64::MIN, 10));
        assert!(parse_int_range("x").is_err());
    }
}
