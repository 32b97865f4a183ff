//! Reading this process's effective capabilities. Owns the /proc parsing; must not change them.

/// Capability numbers from linux/capability.h.
pub const CAP_NET_BIND_SERVICE: u32 = 10;
pub const CAP_NET_ADMIN: u32 = 12;
pub const CAP_NET_RAW: u32 = 13;

/// The effective capability set of this process (capget(2): works in a chroot without /proc).
pub fn effective() -> std::io::Result<u64> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: libc::c_int,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let mut header = Header {
        version: 0x2008_0522,
        pid: 0,
    };
    let mut data = [Data::default(); 2];
    // SAFETY: capget(2) with a v3 header and room for two data structs, as the kernel ABI defines.
    let rc = unsafe { libc::syscall(libc::SYS_capget, &mut header as *mut Header, data.as_mut_ptr()) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(u64::from(data[0].effective) | u64::from(data[1].effective) << 32)
}

/// The effective set as /proc shows it, for messages and tests.
#[cfg(test)]
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
    fn capget_agrees_with_proc() {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        assert_eq!(effective().unwrap(), parse_cap_eff(&status).unwrap());
    }

    #[test]
    fn parses_cap_eff() {
        let s = "Name:\tx\nCapInh:\t0000000000000000\nCapEff:\t0000000000001000\n";
        assert_eq!(parse_cap_eff(s), Some(1 << CAP_NET_ADMIN));
        assert_eq!(parse_cap_eff("Name: x\n"), None);
    }
}
