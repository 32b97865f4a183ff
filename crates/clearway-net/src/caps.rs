//! Reading this process's effective capabilities. Owns the /proc parsing; must not change them.

/// Capability numbers from linux/capability.h.
pub const CAP_NET_BIND_SERVICE: u32 = 10;
pub const CAP_NET_ADMIN: u32 = 12;
pub const CAP_NET_RAW: u32 = 13;

/// The effective capability set of this process, from /proc/self/status.
pub fn effective() -> std::io::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    parse_cap_eff(&status).ok_or_else(|| std::io::Error::other("no CapEff line in /proc/self/status"))
}

fn parse_cap_eff(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("CapEff:"))?;
    u64::from_str_radix(line.trim_start_matches("CapEff:").trim(), 16).ok()
}

/// True when the process may set IP_TRANSPARENT (the kernel accepts CAP_NET_ADMIN or CAP_NET_RAW).
pub fn can_use_transparent() -> bool {
    effective()
        .map(|set| set & (1 << CAP_NET_ADMIN) != 0 || set & (1 << CAP_NET_RAW) != 0)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cap_eff() {
        let s = "Name:\tx\nCapInh:\t0000000000000000\nCapEff:\t0000000000001000\n";
        assert_eq!(parse_cap_eff(s), Some(1 << CAP_NET_ADMIN));
        assert_eq!(parse_cap_eff("Name: x\n"), None);
    }
}
