//! `transparent-setup auto`: installs the divert marking (an nftables table of our own) and the
//! policy routing (an `ip rule` for our mark and a local route in a table nobody uses) that
//! transparent binds and `usesrc` need, and knows how to remove exactly that. Owns those
//! changes to the host; must never touch rules it did not create.

use crate::system::Family;
use std::io::Write;
use std::process::{Command, Stdio};

/// Our packet mark ("CW") and the first routing table number we try.
pub const MARK: u32 = 0x4357;
const FIRST_TABLE: u32 = 0x4357;
const NFT_TABLE: &str = "clearway";

/// What was installed, and the commands that remove it.
#[derive(Debug, Clone)]
pub struct Installed {
    pub table: u32,
    pub families: Vec<Family>,
    /// Commands (program and arguments) that undo the set-up, in order.
    pub undo: Vec<Vec<String>>,
}

fn run(program: &str, args: &[&str], stdin: Option<&str>) -> Result<String, String> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {program}: {e} (is it installed?)"))?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes()).map_err(|e| format!("{program}: {e}"))?;
    }
    let out = child.wait_with_output().map_err(|e| format!("{program}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn fam_flag(f: Family) -> &'static str {
    match f {
        Family::V4 => "-4",
        Family::V6 => "-6",
    }
}

/// Routing tables mentioned by any rule or route of either family.
fn used_tables() -> Vec<u32> {
    let mut used = Vec::new();
    for f in ["-4", "-6"] {
        for args in [
            vec![f, "-j", "rule", "show"],
            vec![f, "-j", "route", "show", "table", "all"],
        ] {
            let Ok(text) = run("ip", &args, None) else { continue };
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
                continue;
            };
            for e in v.as_array().into_iter().flatten() {
                if let Some(t) = e.get("table").and_then(|t| t.as_str()).and_then(|t| t.parse().ok()) {
                    used.push(t);
                }
            }
        }
    }
    used
}

/// Removes what a previous run (e.g. one that was killed) left: our nftables table, and rules
/// carrying our mark with the routes of their tables.
fn remove_stale() {
    let _ = run("nft", &["delete", "table", "inet", NFT_TABLE], None);
    for f in [Family::V4, Family::V6] {
        while let Some(table) = crate::system::fwmark_table(f, MARK) {
            let (flag, any) = (fam_flag(f), if f == Family::V4 { "0.0.0.0/0" } else { "::/0" });
            let _ = run(
                "ip",
                &[flag, "route", "del", "local", any, "dev", "lo", "table", &table],
                None,
            );
            if run(
                "ip",
                &[flag, "rule", "del", "fwmark", &format!("{MARK:#x}"), "lookup", &table],
                None,
            )
            .is_err()
            {
                break;
            }
        }
    }
}

/// Installs the divert rule and policy routing for `families`, plus a TPROXY interception
/// rule for each catch-all transparent bind `(family, port)`: new connections to any address on
/// that port go to our listener, which sees the original destination as its local address.
pub fn install(families: &[Family], catch_all: &[(Family, u16)]) -> Result<Installed, String> {
    remove_stale();
    let used = used_tables();
    let table = (FIRST_TABLE..FIRST_TABLE + 1000)
        .find(|t| !used.contains(t))
        .ok_or("no free routing table number")?;
    let mut done = Installed {
        table,
        families: families.to_vec(),
        undo: Vec::new(),
    };
    let mut intercept = String::new();
    for (f, port) in catch_all {
        let (proto, ip) = if *f == Family::V4 {
            ("ipv4", "ip")
        } else {
            ("ipv6", "ip6")
        };
        intercept.push_str(&format!(
            "    meta nfproto {proto} tcp dport {port} tproxy {ip} to :{port} meta mark set {MARK:#x} accept\n"
        ));
    }
    let nft = format!(
        "table inet {NFT_TABLE} {{\n  chain divert {{\n    type filter hook prerouting priority mangle; policy accept;\n    \
         meta l4proto tcp socket transparent 1 meta mark set {MARK:#x} accept\n{intercept}  }}\n}}\n"
    );
    run("nft", &["-f", "-"], Some(&nft))?;
    done.undo.push(vec![
        "nft".into(),
        "delete".into(),
        "table".into(),
        "inet".into(),
        NFT_TABLE.into(),
    ]);
    let t = table.to_string();
    for &f in families {
        let (flag, any) = (fam_flag(f), if f == Family::V4 { "0.0.0.0/0" } else { "::/0" });
        let step = run(
            "ip",
            &[flag, "route", "add", "local", any, "dev", "lo", "table", &t],
            None,
        )
        .and_then(|_| {
            done.undo.insert(
                0,
                ["ip", flag, "route", "del", "local", any, "dev", "lo", "table", &t]
                    .map(String::from)
                    .to_vec(),
            );
            run(
                "ip",
                &[flag, "rule", "add", "fwmark", &format!("{MARK:#x}"), "lookup", &t],
                None,
            )
        })
        .map(|_| {
            done.undo.insert(
                0,
                ["ip", flag, "rule", "del", "fwmark", &format!("{MARK:#x}"), "lookup", &t]
                    .map(String::from)
                    .to_vec(),
            );
        });
        if let Err(e) = step {
            uninstall(&done);
            return Err(e);
        }
    }
    Ok(done)
}

/// Removes what `install` added (errors are ignored: the goal is to leave nothing behind).
pub fn uninstall(done: &Installed) {
    for cmd in &done.undo {
        let args: Vec<&str> = cmd[1..].iter().map(String::as_str).collect();
        let _ = run(&cmd[0], &args, None);
    }
}
