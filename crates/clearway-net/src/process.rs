//! Process-level operations: going to the background, the file-descriptor limit, the
//! worker threads' CPU binding, and the local time zone's offset. Owns the fork/setsid calls
//! (to be made before any thread, tokio runtime included, starts) and the affinity calls.

use std::io;
use std::path::Path;

/// Detaches from the terminal: forks; the parent writes the child's pid to `pidfile` (so it is
/// there when the parent's exit status is seen, as with HAProxy) and exits; the child starts a
/// new session with stdio on /dev/null. Must run before any other thread exists.
pub fn daemonize(pidfile: Option<&Path>) -> io::Result<()> {
    // SAFETY: the process is single-threaded here, so fork() duplicates only this thread.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid > 0 {
        let code = match pidfile.map(|p| std::fs::write(p, format!("{pid}\n"))) {
            Some(Err(e)) => {
                eprintln!(
                    "[ALERT] cannot write pidfile {}: {e}",
                    pidfile.map(|p| p.display().to_string()).unwrap_or_default()
                );
                // SAFETY: signalling our own child.
                unsafe { libc::kill(pid, libc::SIGTERM) };
                1
            }
            _ => 0,
        };
        // SAFETY: leave without running the parent's destructors or atexit handlers twice.
        unsafe { libc::_exit(code) };
    }
    // SAFETY: plain syscalls on this process and on descriptors we open here.
    unsafe {
        if libc::setsid() < 0 {
            return Err(io::Error::last_os_error());
        }
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if null >= 0 {
            for fd in 0..3 {
                libc::dup2(null, fd);
            }
            if null > 2 {
                libc::close(null);
            }
        }
    }
    Ok(())
}

/// The soft limit on open files (RLIMIT_NOFILE).
pub fn nofile_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    if rc == 0 {
        lim.rlim_cur
    } else {
        1024
    }
}

/// Raises the soft RLIMIT_NOFILE to the hard limit, so `maxconn` can be honoured.
pub fn raise_nofile_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                return raised.rlim_cur;
            }
        }
    }
    nofile_limit()
}

/// Starts a small process that outlives this one by design: it keeps the current privileges,
/// waits until this process is gone (however it ends, even SIGKILL), then runs `cleanup`.
/// Used to remove host changes after the worker dropped root. Must run before any other
/// thread exists and before the listeners are opened: the guard keeps every descriptor the
/// process has at that moment.
pub fn spawn_cleanup_guard(cleanup: impl FnOnce()) -> io::Result<()> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: pipe2 fills the two descriptors we pass room for.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let (read_end, write_end) = (fds[0], fds[1]);
    // SAFETY: single-threaded here, so fork() duplicates only this thread.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid > 0 {
        // Parent: the write end stays open (never closed here) for the process's whole life;
        // the kernel closing it at exit is the signal.
        // SAFETY: closing our copy of the read end.
        unsafe { libc::close(read_end) };
        return Ok(());
    }
    // Child: ignore the signals aimed at the worker's process group, wait for EOF, clean up,
    // leave. It is forked before any listener exists, so it holds no listening socket (and
    // closing the runtime's own descriptors here would break the clean-up's runtime).
    // SAFETY: signal dispositions, descriptor closing and a blocking read on our own pipe.
    unsafe {
        for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGPIPE] {
            libc::signal(sig, libc::SIG_IGN);
        }
        libc::close(write_end);
        let mut byte = 0u8;
        while libc::read(read_end, (&mut byte as *mut u8).cast(), 1) > 0 {}
    }
    cleanup();
    // SAFETY: leave without running the parent's destructors.
    unsafe { libc::_exit(0) }
}

/// Binds the calling thread to `cpus` (`cpu-map`). Fails when none of them can be used (e.g.
/// no such CPU, or outside the CPUs the process was started on).
pub fn set_thread_cpus(cpus: &[usize]) -> io::Result<()> {
    use nix::sched::{sched_setaffinity, CpuSet};
    let mut set = CpuSet::new();
    for &c in cpus {
        set.set(c).map_err(io::Error::from)?;
    }
    sched_setaffinity(nix::unistd::Pid::from_raw(0), &set).map_err(io::Error::from)
}

/// The offset of local time from UTC, in seconds, at `unix_secs` (the system's time zone, as
/// `localtime_r` reads it: log timestamps in local time, as HAProxy writes them).
pub fn local_utc_offset(unix_secs: i64) -> i64 {
    let t: libc::time_t = unix_secs as libc::time_t;
    // SAFETY: `tm` is a plain C struct for which all-zero bytes are a valid value.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the call; localtime_r is the thread-safe variant and
    // only writes `tm`.
    let r = unsafe { libc::localtime_r(&t, &mut tm) };
    if r.is_null() {
        0
    } else {
        tm.tm_gmtoff
    }
}

/// The local time zone's offset from UTC at Unix time `t`, in seconds (0 when the system
/// cannot say): what `ltime` writes times in.
pub fn local_offset(t: i64) -> i64 {
    let t = t as libc::time_t;
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // localtime_r writes only into `tm`, and reads the time zone the process was given.
    let ok = unsafe { !libc::localtime_r(&t, &mut tm).is_null() };
    if ok {
        tm.tm_gmtoff
    } else {
        0
    }
}
