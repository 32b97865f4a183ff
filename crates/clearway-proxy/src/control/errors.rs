//! `show errors`: the last request each frontend refused as malformed, with its bytes dumped
//! as HAProxy dumps them (one input line per output line, escapes for what is not printable,
//! long lines continued on lines marked `+`), so an operator sees what the client sent.
//! Must not change any state.

use crate::log::time::accept_date;
use crate::model::Runtime;
use clearway_core::capture::{self, Capture};
use std::time::SystemTime;

/// The answer to `show errors [PROXY|IID] [request|response]`.
pub fn show(rt: &Runtime, proxy: Option<&str>, responses_only: bool) -> Result<String, String> {
    let ids = super::stats::proxy_ids(rt);
    let wanted = match proxy {
        None => None,
        Some(p) => {
            let id = match p.parse::<u32>() {
                Ok(n) => ids.iter().find(|(_, i)| *i == n),
                Err(_) => ids.iter().find(|(name, _)| name == p),
            };
            Some(id.ok_or("No such proxy.")?.0.clone())
        }
    };
    let mut out = String::from("Total events captured on [");
    accept_date(&mut out, SystemTime::now(), true);
    out.push_str(&format!("] : {}\n", capture::total()));
    if responses_only {
        // Clearway keeps no response errors yet: servers' malformed answers become 502s.
        return Ok(out);
    }
    for fe in &rt.frontends {
        if wanted.as_ref().is_some_and(|w| w != &fe.name) {
            continue;
        }
        let Some(c) = fe.errors.request() else { continue };
        let iid = ids.iter().find(|(n, _)| n == &fe.name).map_or(0, |(_, i)| *i);
        dump(&mut out, &fe.name, iid, &c);
    }
    Ok(out)
}

fn dump(out: &mut String, name: &str, iid: u32, c: &Capture) {
    out.push_str(" \n[");
    accept_date(out, c.when, true);
    out.push_str(&format!(
        "] frontend {name} (#{iid}): invalid request\n  backend <NONE> (#-1), server <NONE> (#-1), event #{}, src {}\n  \
         refused with {} ({}), len {}{}:\n  \n",
        c.event,
        c.client,
        c.status,
        c.why,
        c.len,
        if c.bytes.len() < c.len {
            format!(", the first {} bytes", c.bytes.len())
        } else {
            String::new()
        }
    ));
    hexdump(out, &c.bytes);
}

/// The widest output line.
const WIDTH: usize = 79;

/// HAProxy's text dump: `  OFFSET  line` per input line, `  OFFSET+ rest` for the rest of a
/// line too long for one output line.
pub fn hexdump(out: &mut String, bytes: &[u8]) {
    let mut at = 0;
    let mut continued = false;
    while at < bytes.len() {
        let mut line = format!("  {at:05}{} ", if continued { '+' } else { ' ' });
        continued = true;
        while at < bytes.len() {
            let b = bytes[at];
            let piece = match b {
                b'\t' => "\\t".to_string(),
                b'\n' => "\\n".to_string(),
                b'\r' => "\\r".to_string(),
                27 => "\\e".to_string(),
                b'\\' => "\\\\".to_string(),
                0x20..=0x7e => (b as char).to_string(),
                _ => format!("\\x{b:02x}"),
            };
            if line.len() + piece.len() > WIDTH {
                break;
            }
            line.push_str(&piece);
            at += 1;
            if b == b'\n' {
                continued = false;
                break;
            }
        }
        out.push_str(&line);
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_escapes_and_continuations() {
        let mut o = String::new();
        hexdump(&mut o, b"GET /x HTTP/1.1\r\nBad\tH\x01\\: x\r\n\r\n");
        assert_eq!(
            o,
            "  00000  GET /x HTTP/1.1\\r\\n\n  00017  Bad\\tH\\x01\\\\: x\\r\\n\n  00029  \\r\\n\n"
        );
        let mut o = String::new();
        hexdump(&mut o, &[b'a'; 100]);
        let lines: Vec<&str> = o.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines.iter().all(|l| l.len() <= WIDTH));
        assert!(lines[1].starts_with("  00070+ "), "{o}");
    }
}
