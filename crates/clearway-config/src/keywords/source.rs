//! The `source ADDR[:PORT[-PORT]] [usesrc clientip|client|ADDR[:PORT]] [interface NAME]`
//! syntax, shared by the proxy directive and the server parameter.

use super::{Args, Res};
use crate::addr;
use crate::model::{Source, Span, UseSrc};
use crate::suggest;

/// Parses a source starting at the address word; stops before the first word that is not one
/// of its own parameters (so a server line can go on).
pub fn parse(args: &mut Args<'_>, span: &Span, in_server: bool) -> Res<Source> {
    let a = args.next().ok_or((
        "'source' expects an address, e.g. 'source 0.0.0.0 usesrc clientip'".to_string(),
        None,
    ))?;
    let (addr, port_range) = addr::source_addr(a).map_err(|e| (format!("'source': {e}"), None))?;
    let mut src = Source {
        span: span.clone(),
        addr,
        port_range,
        usesrc: None,
        interface: None,
    };
    while let Some(w) = args.peek() {
        match w {
            "usesrc" => {
                args.next();
                let v = args
                    .next()
                    .ok_or(("'usesrc' expects clientip, client or an address".to_string(), None))?;
                src.usesrc = Some(match v {
                    "clientip" => UseSrc::ClientIp,
                    "client" => UseSrc::Client,
                    v if v.starts_with("hdr_ip(") => hdr_ip(v)?,
                    v => {
                        let (ua, range) = addr::source_addr(v).map_err(|e| {
                            (
                                format!("'usesrc': {e}"),
                                Some("use clientip, client or an IP address".to_string()),
                            )
                        })?;
                        if range.is_some() {
                            return Err((
                                "'usesrc' takes one address and port, not a port range".to_string(),
                                None,
                            ));
                        }
                        if !addr.ip().is_unspecified() && addr.is_ipv4() != ua.is_ipv4() {
                            return Err((
                                format!("'source {a}' and 'usesrc {v}' are of different address families"),
                                None,
                            ));
                        }
                        UseSrc::Addr(ua)
                    }
                });
            }
            "interface" => {
                args.next();
                let v = args
                    .next()
                    .ok_or(("'interface' expects an interface name".to_string(), None))?;
                src.interface = Some(v.to_string());
            }
            _ if in_server => break,
            other => {
                let hint = suggest::hint(other, ["usesrc", "interface"]);
                return Err((format!("unknown keyword '{other}' in 'source'"), hint));
            }
        }
    }
    Ok(src)
}

/// `hdr_ip(NAME[,OCC])`.
fn hdr_ip(v: &str) -> Res<UseSrc> {
    let inner = v
        .strip_prefix("hdr_ip(")
        .and_then(|r| r.strip_suffix(')'))
        .ok_or((format!("'usesrc {v}': expected hdr_ip(NAME[,OCC])"), None))?;
    let (name, occ) = match inner.split_once(',') {
        Some((n, o)) => (n.trim(), o.trim()),
        None => (inner.trim(), "-1"),
    };
    let occ: i32 = occ
        .parse()
        .map_err(|_| (format!("'usesrc {v}': '{occ}' is not an occurrence number"), None))?;
    if name.is_empty() || occ == 0 {
        return Err((
            format!("'usesrc {v}': needs a header name and a non-zero occurrence"),
            Some("e.g. hdr_ip(x-forwarded-for,-1) for the last address".into()),
        ));
    }
    Ok(UseSrc::HdrIp {
        header: name.to_ascii_lowercase(),
        occ,
        trust: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::Directive;

    fn parse_line(line: &str) -> Res<Source> {
        let span = Span {
            file: "t".into(),
            line: 1,
        };
        let d = Directive {
            span: span.clone(),
            words: line.split_whitespace().map(String::from).collect(),
        };
        parse(&mut Args::new(&d, 1), &span, false)
    }

    #[test]
    fn forms() {
        let s = parse_line("source 0.0.0.0 usesrc clientip").unwrap();
        assert_eq!(s.usesrc, Some(UseSrc::ClientIp));
        let s = parse_line("source 0.0.0.0 usesrc client interface eth1").unwrap();
        assert_eq!((s.usesrc, s.interface.as_deref()), (Some(UseSrc::Client), Some("eth1")));
        let s = parse_line("source 192.0.2.1 usesrc 192.0.2.200:5000").unwrap();
        assert_eq!(s.usesrc, Some(UseSrc::Addr("192.0.2.200:5000".parse().unwrap())));
        assert_eq!(parse_line("source 192.0.2.1").unwrap().usesrc, None);
    }

    #[test]
    fn errors_with_hints() {
        let (msg, hint) = parse_line("source 0.0.0.0 usersrc clientip").unwrap_err();
        assert!(msg.contains("usersrc"));
        assert_eq!(hint.as_deref(), Some("did you mean 'usesrc'?"));
        assert!(parse_line("source 192.0.2.1 usesrc 2001:db8::1")
            .unwrap_err()
            .0
            .contains("families"));
        assert!(parse_line("source 0.0.0.0 usesrc").is_err());
        assert!(parse_line("source 0.0.0.0 usesrc hdr_ip(x-forwarded-for,0)")
            .unwrap_err()
            .0
            .contains("non-zero occurrence"));
        assert!(parse_line("source 0.0.0.0 usesrc hdr_ip(x-forwarded-for,x)").is_err());
    }
}
