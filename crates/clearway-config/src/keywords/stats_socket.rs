//! `stats socket ADDRESS [PARAM...]` in the `global` section: where the runtime API listens
//! and who may use it. Parameters that decide who gets in (`level`, `mode`, `uid`, `gid`,
//! `user`, `group`) are acted on; the ones about processes and threads have no effect on a
//! single process; any other `bind` parameter is an error, as it would be ignored.

use crate::ast::Directive;
use crate::model::{StatsAddr, StatsLevel, StatsSocket};
use crate::units;

/// Parameters (each with one value) that change nothing in one Clearway process.
const NO_EFFECT: &[&str] = &["process", "thread", "name", "expose-fd"];

pub fn parse(d: &Directive) -> Result<StatsSocket, String> {
    let text = d.arg(2).ok_or("'stats socket' expects an address or a path")?;
    let address = address(text)?;
    let mut s = StatsSocket {
        span: d.span.clone(),
        address,
        level: StatsLevel::Operator,
        mode: None,
        uid: None,
        gid: None,
        user: None,
        group: None,
    };
    let mut i = 3;
    while i < d.words.len() {
        let kw = d.words[i].as_str();
        let val = d.words.get(i + 1).map(String::as_str);
        let need = |what: &str| val.ok_or_else(|| format!("'stats socket': '{kw}' expects {what}"));
        match kw {
            "level" => {
                s.level = match need("'user', 'operator' or 'admin'")? {
                    "user" => StatsLevel::User,
                    "operator" => StatsLevel::Operator,
                    "admin" => StatsLevel::Admin,
                    other => {
                        return Err(format!(
                            "'stats socket': level '{other}' is not one of 'user', 'operator' or 'admin'"
                        ))
                    }
                }
            }
            "mode" => {
                let m = need("an octal mode, e.g. 660")?;
                s.mode = Some(
                    u32::from_str_radix(m, 8)
                        .ok()
                        .filter(|m| *m <= 0o7777)
                        .ok_or_else(|| format!("'stats socket': mode '{m}' is not an octal mode"))?,
                );
            }
            "uid" => s.uid = Some(units::int(need("a user id")?, "uid")?),
            "gid" => s.gid = Some(units::int(need("a group id")?, "gid")?),
            "user" => s.user = Some(need("a user name")?.to_string()),
            "group" => s.group = Some(need("a group name")?.to_string()),
            "severity-output" => match need("'none', 'number' or 'string'")? {
                "none" => {}
                other => {
                    return Err(format!(
                        "'stats socket': 'severity-output {other}' is not supported (only 'none'): \
                         scripts reading the answers would see them change"
                    ))
                }
            },
            _ if NO_EFFECT.contains(&kw) => {
                need("a value")?;
            }
            _ => {
                return Err(format!(
                    "'stats socket': parameter '{kw}' is not supported (hint: 'level', 'mode', 'uid', \
                     'gid', 'user' and 'group' are)"
                ))
            }
        }
        i += 2;
    }
    Ok(s)
}

/// A path (`/run/clearway.sock`, `unix@...`), a TCP address (`ipv4@`, `ipv6@`, `HOST:PORT`),
/// or an inherited listening socket (`fd@N`).
fn address(text: &str) -> Result<StatsAddr, String> {
    if let Some(n) = text.strip_prefix("fd@") {
        return n
            .parse()
            .map(StatsAddr::Fd)
            .map_err(|_| format!("'stats socket': '{text}': expected fd@ and a descriptor number, e.g. fd@3"));
    }
    if let Some(p) = text.strip_prefix("unix@") {
        return Ok(StatsAddr::Unix(p.into()));
    }
    if text.starts_with('/') || text.starts_with('.') || !text.contains(':') {
        return Ok(StatsAddr::Unix(text.into()));
    }
    let addrs = crate::addr::bind_addrs(text).map_err(|e| format!("'stats socket': {e}"))?;
    match addrs.as_slice() {
        [one] => Ok(StatsAddr::Tcp(*one)),
        _ => Err(format!(
            "'stats socket': '{text}' must be one address and port, not a range"
        )),
    }
}

#[cfg(test)]
mod tests {
    use crate::model::{StatsAddr, StatsLevel};

    fn global(lines: &str) -> Result<crate::model::Global, String> {
        crate::parse_str("t.cfg", &format!("global\n{lines}"))
            .map(|l| l.config.global)
            .map_err(|e| e.errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))
    }

    #[test]
    fn a_socket_line_gives_its_address_level_and_owner() {
        let g = global("    stats socket /run/cw.sock mode 660 level admin user root group 0 expose-fd listeners\n    stats timeout 2m\n")
            .expect("valid");
        let s = &g.stats_sockets[0];
        assert_eq!(s.address, StatsAddr::Unix("/run/cw.sock".into()));
        assert_eq!((s.level, s.mode), (StatsLevel::Admin, Some(0o660)));
        assert_eq!((s.user.as_deref(), s.group.as_deref()), (Some("root"), Some("0")));
        assert_eq!(g.stats_timeout, Some(std::time::Duration::from_secs(120)));
        let g = global("    stats socket fd@7 level admin\n").expect("valid");
        assert_eq!(g.stats_sockets[0].address, StatsAddr::Fd(7));
        let g = global("    stats socket ipv4@127.0.0.1:9999\n").expect("valid");
        assert_eq!(
            g.stats_sockets[0].address,
            StatsAddr::Tcp("127.0.0.1:9999".parse().unwrap())
        );
        assert_eq!(g.stats_sockets[0].level, StatsLevel::Operator, "HAProxy's default");
    }

    #[test]
    fn what_would_be_ignored_is_an_error_with_its_line() {
        for (line, says) in [
            ("stats socket /s level root", "level 'root'"),
            ("stats socket /s mode 999", "mode '999'"),
            (
                "stats socket /s accept-proxy",
                "parameter 'accept-proxy' is not supported",
            ),
            ("stats socket /s level", "'level' expects"),
            ("stats socket 127.0.0.1:1-3", "not a range"),
            ("stats socket fd@x", "expected fd@ and a descriptor number"),
        ] {
            let e = global(&format!("    {line}\n")).expect_err(line);
            assert!(e.contains("t.cfg:2") && e.contains(says), "{line}: {e}");
        }
    }
}
