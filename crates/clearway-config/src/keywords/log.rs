//! `log` lines (in `global` and in proxies): where log lines go, in which syslog format, with
//! which facility and levels. `log global` in a proxy stands for the global lines. Parsed as
//! HAProxy's `log <address> [len <n>] [format <fmt>] <facility> [<level> [<minlevel>]]`.

use crate::model::Span;
use crate::model::{LogDest, LogSample, LogTarget, SyslogFormat};

/// Syslog facilities by code, as HAProxy names them.
pub const FACILITIES: [&str; 24] = [
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "auth2", "ftp", "ntp", "audit",
    "alert", "cron2", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
];

/// Syslog levels by code.
pub const LEVELS: [&str; 8] = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"];

/// The words after `log` (`global` is the caller's to handle).
pub fn parse(span: &Span, words: &[String]) -> Result<LogTarget, String> {
    let addr = words
        .first()
        .ok_or("'log' expects an address and a facility, e.g. 'log 127.0.0.1 local0'")?;
    let dest = dest(addr)?;
    let mut t = LogTarget {
        span: span.clone(),
        dest,
        len: None,
        format: SyslogFormat::Rfc3164,
        facility: 1,
        level: 7,
        minlevel: 0,
        sample: None,
    };
    let mut i = 1;
    loop {
        match words.get(i).map(String::as_str) {
            Some("len") => {
                let n: usize = words
                    .get(i + 1)
                    .and_then(|v| v.parse().ok())
                    .filter(|n| (80..=65535).contains(n))
                    .ok_or("'log ... len' expects a line length from 80 to 65535")?;
                t.len = Some(n);
                i += 2;
            }
            Some("format") => {
                let f = words.get(i + 1).map(String::as_str).unwrap_or("");
                t.format = match f {
                    "rfc3164" => SyslogFormat::Rfc3164,
                    "rfc5424" => SyslogFormat::Rfc5424,
                    "short" => SyslogFormat::Short,
                    "raw" => SyslogFormat::Raw,
                    "priority" => SyslogFormat::Priority,
                    "timed" => SyslogFormat::Timed,
                    "iso" => SyslogFormat::Iso,
                    "local" => SyslogFormat::Local,
                    _ => {
                        return Err(format!(
                            "'log ... format {f}': expected rfc3164, rfc5424, short, raw, priority, timed, iso or local"
                        ))
                    }
                };
                i += 2;
            }
            Some("sample") => {
                t.sample = Some(sample(words.get(i + 1).map(String::as_str).unwrap_or(""))?);
                i += 2;
            }
            _ => break,
        }
    }
    let stdio = matches!(t.dest, LogDest::Stdout | LogDest::Stderr);
    match words.get(i) {
        Some(f) => {
            t.facility =
                FACILITIES.iter().position(|x| x == f).ok_or_else(|| {
                    format!("unknown log facility '{f}' (expected local0 to local7, daemon, user, ...)")
                })? as u8;
            i += 1;
        }
        // A facility is optional only on stdout/stderr.
        None if stdio => return Ok(t),
        None => return Err("'log' expects a facility after the address, e.g. 'log 127.0.0.1 local0 notice'".into()),
    }
    let level = |w: &String| {
        LEVELS
            .iter()
            .position(|x| x == w)
            .map(|l| l as u8)
            .ok_or_else(|| format!("unknown log level '{w}' (expected one of {})", LEVELS.join(", ")))
    };
    if let Some(w) = words.get(i) {
        t.level = level(w)?;
        i += 1;
    }
    if let Some(w) = words.get(i) {
        t.minlevel = level(w)?;
        i += 1;
    }
    if let Some(extra) = words.get(i) {
        return Err(format!("'log': unexpected '{extra}' after the levels"));
    }
    Ok(t)
}

/// `RANGES:SIZE`, as HAProxy reads it: ranges `N` or `LOW-HIGH` (from 1, not overlapping)
/// separated by commas, and a cycle at least as long as the highest range reaches.
fn sample(arg: &str) -> Result<LogSample, String> {
    let (ranges, size) = arg
        .split_once(':')
        .ok_or("'log ... sample': missing sample size (RANGES:SIZE)")?;
    let mut out: Vec<(u32, u32)> = Vec::new();
    for r in ranges.split(',') {
        let num = |x: &str| x.trim().parse::<u32>().ok().filter(|n| *n > 0);
        let (low, high) = match r.split_once('-') {
            Some((a, b)) => (num(a), num(b)),
            None => (num(r), num(r)),
        };
        let (Some(low), Some(high)) = (low, high) else {
            return Err(format!(
                "'log ... sample': wrong sample range '{r}' (ranges start from 1)"
            ));
        };
        if low > high {
            return Err(format!("'log ... sample': wrong sample range '{r}' (low above high)"));
        }
        if out.iter().any(|&(l, h)| low <= h && l <= high) {
            return Err(format!("'log ... sample': range '{r}' overlaps another"));
        }
        out.push((low, high));
    }
    let highest = out.iter().map(|r| r.1).max().unwrap_or(0);
    let size = size
        .parse::<u32>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("'log ... sample': wrong sample size '{size}' for sample range '{arg}'"))?;
    if size < highest {
        return Err(format!(
            "'log ... sample': sample size {size} should be greater or equal to {highest} the maximum of the high ranges limits"
        ));
    }
    out.sort_unstable();
    Ok(LogSample { ranges: out, size })
}

fn dest(addr: &str) -> Result<LogDest, String> {
    let addr = &*crate::lexer::address(addr);
    match addr {
        "stdout" => return Ok(LogDest::Stdout),
        "stderr" => return Ok(LogDest::Stderr),
        _ => {}
    }
    if let Some(n) = addr.strip_prefix("fd@") {
        return match n {
            "1" => Ok(LogDest::Stdout),
            "2" => Ok(LogDest::Stderr),
            _ => Err(format!(
                "'log {addr}': only fd@1 (stdout) and fd@2 (stderr) are supported"
            )),
        };
    }
    if addr.starts_with("ring@") {
        return Err(format!(
            "'log {addr}': rings are not supported; log to a syslog address instead"
        ));
    }
    if let Some(p) = addr.strip_prefix("unix@") {
        return Ok(LogDest::Unix(p.into()));
    }
    if addr.starts_with('/') {
        return Ok(LogDest::Unix(addr.into()));
    }
    let (tcp, rest) = match addr.split_once('@') {
        Some(("tcp" | "tcp4" | "tcp6", r)) => (true, r),
        Some(("udp" | "udp4" | "udp6" | "ipv4" | "ipv6", r)) => (false, r),
        Some((p, _)) => return Err(format!("'log {addr}': unknown address prefix '{p}@'")),
        None => (false, addr),
    };
    let sa = socket_addr(rest)
        .ok_or_else(|| format!("'log {addr}': not an address (expected HOST[:PORT], a path, stdout or stderr)"))?;
    Ok(if tcp { LogDest::Tcp(sa) } else { LogDest::Udp(sa) })
}

/// `IP`, `IP:PORT`, `[IPv6]:PORT` or a bare IPv6; the port defaults to 514.
fn socket_addr(s: &str) -> Option<std::net::SocketAddr> {
    if let Ok(a) = s.parse::<std::net::SocketAddr>() {
        return Some(a);
    }
    if let Ok(ip) = s
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::IpAddr>()
    {
        return Some(std::net::SocketAddr::new(ip, 514));
    }
    // As HAProxy: no host is any address, no port the default one.
    let (h, p) = s.rsplit_once(':')?;
    let h = h.trim_start_matches('[').trim_end_matches(']');
    let ip = if h.is_empty() {
        std::net::Ipv4Addr::UNSPECIFIED.into()
    } else {
        h.parse().ok()?
    };
    let port = if p.is_empty() { 514 } else { p.parse().ok()? };
    Some(std::net::SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn t(s: &str) -> Result<LogTarget, String> {
        parse(
            &Span {
                file: "t".into(),
                line: 1,
            },
            &words(s),
        )
    }

    #[test]
    fn haproxys_log_lines_are_read() {
        let l = t("127.0.0.1 local0").unwrap();
        assert_eq!(l.dest, LogDest::Udp("127.0.0.1:514".parse().unwrap()));
        assert_eq!((l.facility, l.level, l.minlevel), (16, 7, 0));
        let l = t("192.0.2.9:1514 len 2048 format rfc5424 local2 info notice").unwrap();
        assert_eq!(l.dest, LogDest::Udp("192.0.2.9:1514".parse().unwrap()));
        assert_eq!(
            (l.len, l.format, l.facility, l.level, l.minlevel),
            (Some(2048), SyslogFormat::Rfc5424, 18, 6, 5)
        );
        assert_eq!(t("/dev/log daemon err").unwrap().dest, LogDest::Unix("/dev/log".into()));
        assert_eq!(t("stdout format raw").unwrap().dest, LogDest::Stdout);
        assert_eq!(
            t("udp@[::1]:601 local0").unwrap().dest,
            LogDest::Udp("[::1]:601".parse().unwrap())
        );
        assert_eq!(t("fd@2 local0").unwrap().dest, LogDest::Stderr);
    }

    #[test]
    fn sample_ranges_are_read_sorted() {
        let s = t("127.0.0.1 sample 4-5,2:6 local0").expect("a log line").sample;
        assert_eq!(
            s,
            Some(LogSample {
                ranges: vec![(2, 2), (4, 5)],
                size: 6
            })
        );
    }

    #[test]
    fn what_cannot_be_honoured_is_an_error() {
        for (line, says) in [
            ("127.0.0.1", "expects a facility"),
            ("127.0.0.1 local9", "unknown log facility"),
            ("127.0.0.1 local0 loud", "unknown log level"),
            ("127.0.0.1 format json local0", "format json"),
            ("127.0.0.1 sample 1-x:2 local0", "wrong sample range '1-x'"),
            ("127.0.0.1 sample 3-2:4 local0", "low above high"),
            ("127.0.0.1 sample 1:0 local0", "wrong sample size '0'"),
            ("ring@buf local0", "rings"),
            ("bogus local0", "not an address"),
            ("127.0.0.1 local0 info debug extra", "unexpected 'extra'"),
        ] {
            let e = t(line).expect_err(line);
            assert!(e.contains(says), "{line}: {e}");
        }
    }
}
