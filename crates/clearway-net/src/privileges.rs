//! Dropping root after the listeners are open: optional chroot, switch to the configured
//! user and group, and keep only the capabilities the data plane needs (CAP_NET_ADMIN for
//! spoofed connects). Owns the set*id/capset calls; must run before any other thread exists.

use std::io;
use std::path::PathBuf;

/// Who to become. `keep` is a capability bit mask (bit N = capability N).
#[derive(Debug, Clone, Default)]
pub struct Drop {
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// The user's name, for its supplementary groups.
    pub user_name: Option<String>,
    pub chroot: Option<PathBuf>,
    pub keep: u64,
}

/// Resolves `user`/`group` names (uid/gid numbers win when both are given, as in HAProxy).
pub fn resolve(user: Option<&str>, group: Option<&str>, uid: Option<u32>, gid: Option<u32>) -> io::Result<Drop> {
    let mut d = Drop {
        uid,
        gid,
        ..Drop::default()
    };
    if let Some(name) = user {
        let u = nix::unistd::User::from_name(name)
            .map_err(io::Error::from)?
            .ok_or_else(|| io::Error::other(format!("no user named '{name}'")))?;
        d.uid = d.uid.or(Some(u.uid.as_raw()));
        // The user's primary group unless a group is configured.
        d.gid = d.gid.or(Some(u.gid.as_raw()));
        d.user_name = Some(name.to_string());
    }
    if let Some(name) = group {
        let g = nix::unistd::Group::from_name(name)
            .map_err(io::Error::from)?
            .ok_or_else(|| io::Error::other(format!("no group named '{name}'")))?;
        if gid.is_none() {
            d.gid = Some(g.gid.as_raw());
        }
    }
    Ok(d)
}

fn check(rc: libc::c_int, what: &str) -> io::Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        let e = io::Error::last_os_error();
        Err(io::Error::new(e.kind(), format!("{what}: {e}")))
    }
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const CAP_V3: u32 = 0x2008_0522;

/// Sets the effective and permitted capability sets to `mask` (nothing inheritable).
fn set_caps(mask: u64) -> io::Result<()> {
    let mut header = CapHeader {
        version: CAP_V3,
        pid: 0,
    };
    let lo = mask as u32;
    let hi = (mask >> 32) as u32;
    let mut data = [
        CapData {
            effective: lo,
            permitted: lo,
            inheritable: 0,
        },
        CapData {
            effective: hi,
            permitted: hi,
            inheritable: 0,
        },
    ];
    // SAFETY: capset(2) with a v3 header and two data structs, as the kernel ABI defines.
    let rc = unsafe { libc::syscall(libc::SYS_capset, &mut header as *mut CapHeader, data.as_mut_ptr()) };
    check(rc as libc::c_int, "capset")
}

/// Applies `d` to this process. Must run while the process is single-threaded.
pub fn apply(d: &Drop) -> io::Result<()> {
    // SAFETY: plain syscalls on this process with valid, NUL-terminated arguments.
    unsafe {
        if let Some(dir) = &d.chroot {
            let c = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes())
                .map_err(|_| io::Error::other("chroot path contains a NUL byte"))?;
            check(libc::chroot(c.as_ptr()), &format!("chroot {}", dir.display()))?;
            check(libc::chdir(c"/".as_ptr()), "chdir /")?;
        }
        if d.uid.is_none() && d.gid.is_none() {
            return Ok(());
        }
        // Keep the permitted set across the uid change; we trim it right after.
        check(libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0), "prctl(PR_SET_KEEPCAPS)")?;
        if let Some(gid) = d.gid {
            match (&d.user_name, d.uid) {
                (Some(name), _) => {
                    let c = std::ffi::CString::new(name.as_str())
                        .map_err(|_| io::Error::other("user name contains NUL"))?;
                    check(libc::initgroups(c.as_ptr(), gid), "initgroups")?;
                }
                _ => check(libc::setgroups(0, std::ptr::null()), "setgroups")?,
            }
            check(libc::setresgid(gid, gid, gid), &format!("setgid {gid}"))?;
        }
        if let Some(uid) = d.uid {
            check(libc::setresuid(uid, uid, uid), &format!("setuid {uid}"))?;
        }
        check(libc::prctl(libc::PR_SET_KEEPCAPS, 0, 0, 0, 0), "prctl(PR_SET_KEEPCAPS)")?;
    }
    set_caps(d.keep)
}

/// The bit of a capability by its `setcap` name.
pub fn cap_bit(name: &str) -> Option<u64> {
    let n = match name {
        "cap_net_bind_service" => crate::caps::CAP_NET_BIND_SERVICE,
        "cap_net_admin" => crate::caps::CAP_NET_ADMIN,
        "cap_net_raw" => crate::caps::CAP_NET_RAW,
        _ => return None,
    };
    Some(1 << n)
}
