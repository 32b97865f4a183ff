//! Reading the host's transparent-proxying set-up: sysctls, kernel build options, divert rules
//! (iptables or nftables), policy routing. Owns how that state is read (through the standard
//! tools' machine-readable output); must never change it.

use std::net::SocketAddr;
use std::process::Command;

/// IPv4 or IPv6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub fn name(self) -> &'static str {
        match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        }
    }
}

/// A sysctl's value, e.g. `sysctl("net/ipv4/ip_forward")`.
pub fn sysctl(path: &str) -> Option<String> {
    std::fs::read_to_string(format!("/proc/sys/{path}"))
        .ok()
        .map(|s| s.trim().to_string())
}

/// Interfaces with a per-interface IPv4 configuration (for rp_filter).
pub fn interfaces() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir("/proc/sys/net/ipv4/conf")
        .map(|d| d.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

/// The kernel's build configuration, from /proc/config.gz or /boot/config-RELEASE.
pub fn kernel_config() -> Option<String> {
    if let Ok(out) = Command::new("zcat").arg("/proc/config.gz").output() {
        if out.status.success() && !out.stdout.is_empty() {
            return Some(String::from_utf8_lossy(&out.stdout).into_owned());
        }
    }
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").ok()?;
    std::fs::read_to_string(format!("/boot/config-{}", release.trim())).ok()
}

/// `y` or `m` for a kernel option (None: not set).
pub fn kernel_option<'a>(config: &'a str, name: &str) -> Option<&'a str> {
    config
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
        .filter(|v| *v == "y" || *v == "m")
}

/// True when this kernel accepts IP_TRANSPARENT (or IPV6_TRANSPARENT) on a socket; Err with
/// the OS error otherwise (EPERM: the capability is missing; ENOPROTOOPT: the kernel lacks it).
pub fn probe_transparent(family: Family) -> Result<(), std::io::Error> {
    let addr: SocketAddr = match family {
        Family::V4 => "0.0.0.0:0".parse().expect("literal"),
        Family::V6 => "[::]:0".parse().expect("literal"),
    };
    let socket = socket2::Socket::new(socket2::Domain::for_address(addr), socket2::Type::STREAM, None)?;
    crate::listen::set_transparent(&socket, addr)
}

fn run(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A divert rule found in the firewall: packets for local sockets get `mark`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Divert {
    pub mark: u32,
    /// Where it was found ("iptables", "nftables").
    pub source: &'static str,
}

/// Finds the divert marking (`-m socket ... MARK`) in iptables or nftables for `family`.
pub fn divert_rule(family: Family) -> Option<Divert> {
    let save = match family {
        Family::V4 => "iptables-save",
        Family::V6 => "ip6tables-save",
    };
    if let Some(text) = run(save, &["-t", "mangle"]) {
        if let Some(mark) = iptables_divert(&text) {
            return Some(Divert {
                mark,
                source: "iptables",
            });
        }
    }
    let text = run("nft", &["list", "ruleset"])?;
    nft_divert(&text, family).map(|mark| Divert {
        mark,
        source: "nftables",
    })
}

/// The mark set by a chain that `-m socket` packets jump to (or that sets it directly).
fn iptables_divert(save: &str) -> Option<u32> {
    let rules: Vec<&str> = save.lines().filter(|l| l.starts_with("-A ")).collect();
    let socket_jumps: Vec<&str> = rules
        .iter()
        .filter(|l| l.contains("-m socket"))
        .filter_map(|l| l.split(" -j ").nth(1)?.split_whitespace().next())
        .collect();
    rules.iter().find_map(|l| {
        let chain = l.split_whitespace().nth(1)?;
        let direct = l.contains("-m socket");
        if !(direct || socket_jumps.contains(&chain)) {
            return None;
        }
        let mark = l
            .split("--set-xmark ")
            .nth(1)
            .or_else(|| l.split("--set-mark ").nth(1))?;
        parse_mark(mark.split(['/', ' ']).next()?)
    })
}

/// A rule using the socket expression and setting a mark, in a table of the right family.
fn nft_divert(ruleset: &str, family: Family) -> Option<u32> {
    let mut table_ok = false;
    for line in ruleset.lines() {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("table ") {
            let fam = rest.split_whitespace().next().unwrap_or_default();
            table_ok = fam == "inet" || (fam == "ip" && family == Family::V4) || (fam == "ip6" && family == Family::V6);
        }
        if table_ok && t.contains("socket") && t.contains("mark set") {
            return parse_mark(t.split("mark set ").nth(1)?.split_whitespace().next()?);
        }
    }
    None
}

fn parse_mark(s: &str) -> Option<u32> {
    match s.strip_prefix("0x") {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

/// The routing table that `ip rule` sends packets marked `mark` to.
pub fn fwmark_table(family: Family, mark: u32) -> Option<String> {
    let fam = if family == Family::V6 { "-6" } else { "-4" };
    let text = run("ip", &[fam, "-j", "rule", "show"])?;
    let rules: serde_json::Value = serde_json::from_str(&text).ok()?;
    rules.as_array()?.iter().find_map(|r| {
        let m = parse_mark(r.get("fwmark")?.as_str()?)?;
        (m == mark)
            .then(|| r.get("table").and_then(|t| t.as_str()).map(String::from))
            .flatten()
    })
}

/// True when `table` has a `local` default route on `lo` (delivering everything locally).
pub fn has_local_default(family: Family, table: &str) -> bool {
    let fam = if family == Family::V6 { "-6" } else { "-4" };
    let Some(text) = run("ip", &[fam, "-j", "route", "show", "table", table]) else {
        return false;
    };
    let Ok(routes) = serde_json::from_str::<serde_json::Value>(&text) else {
        return false;
    };
    routes.as_array().is_some_and(|rs| {
        rs.iter().any(|r| {
            r.get("type").and_then(|t| t.as_str()) == Some("local")
                && matches!(
                    r.get("dst").and_then(|d| d.as_str()),
                    Some("default" | "0.0.0.0/0" | "::/0")
                )
                && r.get("dev").and_then(|d| d.as_str()) == Some("lo")
        })
    })
}

/// The index of a network interface by name.
pub fn interface_index(name: &str) -> Option<u32> {
    let c = std::ffi::CString::new(name).ok()?;
    // SAFETY: a valid NUL-terminated name.
    let index = unsafe { libc::if_nametoindex(c.as_ptr()) };
    (index != 0).then_some(index)
}

/// True when `ip` is configured on an interface of this host (in this network namespace).
pub fn is_local_address(ip: std::net::IpAddr) -> bool {
    let ip = ip.to_canonical();
    let Ok(addrs) = nix::ifaddrs::getifaddrs() else {
        return false;
    };
    addrs.filter_map(|a| a.address).any(|a| {
        a.as_sockaddr_in().map(|s| std::net::IpAddr::V4(s.ip())) == Some(ip)
            || a.as_sockaddr_in6().map(|s| std::net::IpAddr::V6(s.ip())) == Some(ip)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_iptables_divert() {
        let save = "*mangle\n:DIVERT - [0:0]\n-A PREROUTING -p tcp -m socket -j DIVERT\n\
                    -A DIVERT -j MARK --set-xmark 0x1/0xffffffff\n-A DIVERT -j ACCEPT\nCOMMIT\n";
        assert_eq!(iptables_divert(save), Some(1));
        assert_eq!(
            iptables_divert("*mangle\n-A PREROUTING -j MARK --set-xmark 0x5/0xffffffff\n"),
            None
        );
        let direct = "-A PREROUTING -p tcp -m socket --transparent -j MARK --set-mark 7\n";
        assert_eq!(iptables_divert(direct), Some(7));
    }

    #[test]
    fn finds_nft_divert() {
        let rs = "table inet tproxy {\n\tchain prerouting {\n\t\tmeta l4proto tcp socket transparent 1 meta mark set 0x00000001 accept\n\t}\n}\n";
        assert_eq!(nft_divert(rs, Family::V4), Some(1));
        assert_eq!(nft_divert(rs, Family::V6), Some(1));
        let v4only = rs.replace("inet", "ip");
        assert_eq!(nft_divert(&v4only, Family::V6), None);
    }

    #[test]
    fn kernel_options() {
        let cfg = "CONFIG_NFT_SOCKET=y\nCONFIG_NETFILTER_XT_MATCH_SOCKET=m\n# CONFIG_NFT_TPROXY is not set\n";
        assert_eq!(kernel_option(cfg, "CONFIG_NFT_SOCKET"), Some("y"));
        assert_eq!(kernel_option(cfg, "CONFIG_NETFILTER_XT_MATCH_SOCKET"), Some("m"));
        assert_eq!(kernel_option(cfg, "CONFIG_NFT_TPROXY"), None);
    }
}
