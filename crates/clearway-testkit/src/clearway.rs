//! The `clearway` process under test: started in a namespace with a config written to a
//! temporary file, its output captured to a log file, stopped on drop. Must not interpret the
//! log beyond searching it.

use crate::netns::{unique_name, Netns};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Clearway {
    child: Option<Child>,
    dir: PathBuf,
    log: PathBuf,
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(unique_name(tag));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

impl Clearway {
    /// Starts `binary -f CONFIG -db` in `ns` and waits until it listens on every port of `wait_ports`.
    pub fn start(ns: &Netns, binary: &Path, config_text: &str, wait_ports: &[u16]) -> Clearway {
        Self::start_with_log(ns, binary, config_text, wait_ports, "info")
    }

    /// Like `start`, with a log filter (`CLEARWAY_LOG`), e.g. "debug" to see every check.
    pub fn start_with_log(
        ns: &Netns,
        binary: &Path,
        config_text: &str,
        wait_ports: &[u16],
        log_filter: &str,
    ) -> Clearway {
        Self::start_wrapped(ns, &[], binary, config_text, wait_ports, log_filter)
    }

    /// Like `start_with_log`, with `wrapper` (a program and its arguments, e.g. `setpriv ...`)
    /// running the binary.
    pub fn start_wrapped(
        ns: &Netns,
        wrapper: &[&str],
        binary: &Path,
        config_text: &str,
        wait_ports: &[u16],
        log_filter: &str,
    ) -> Clearway {
        let dir = temp_dir("cwrun");
        let cfg = dir.join("clearway.cfg");
        let log = dir.join("clearway.log");
        std::fs::write(&cfg, config_text).unwrap_or_else(|e| panic!("{}: {e}", cfg.display()));
        let out = std::fs::File::create(&log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
        let err = out.try_clone().unwrap_or_else(|e| panic!("{e}"));
        let child = Command::new("ip")
            .args(["netns", "exec", ns.name()])
            .args(wrapper)
            .arg(binary)
            .arg("-f")
            .arg(&cfg)
            .arg("-db")
            .env(
                "CLEARWAY_LOG",
                std::env::var("CLEARWAY_TEST_LOG").unwrap_or_else(|_| log_filter.into()),
            )
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let mut cw = Clearway {
            child: Some(child),
            dir,
            log,
        };
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            let listening = String::from_utf8_lossy(&ns.exec("ss", &["-Hltn"]).stdout).into_owned();
            let ready = wait_ports.iter().all(|p| listening.lines().any(|l| listens_on(l, *p)));
            if ready {
                return cw;
            }
            if let Some(status) = cw.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("clearway exited ({status}) before listening:\n{}", cw.log());
            }
            if Instant::now() > until {
                panic!(
                    "clearway did not listen on {wait_ports:?} within 10 s:\n{}\nss:\n{listening}",
                    cw.log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `binary -c -f CONFIG` on the given text (no namespace needed).
    pub fn check(binary: &Path, config_text: &str) -> Output {
        let dir = temp_dir("cwchk");
        let cfg = dir.join("check.cfg");
        std::fs::write(&cfg, config_text).unwrap_or_else(|e| panic!("{}: {e}", cfg.display()));
        let out = Command::new(binary)
            .arg("-c")
            .arg("-f")
            .arg(&cfg)
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        let _ = std::fs::remove_dir_all(&dir);
        out
    }

    /// Everything the process printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Polls the log until it contains `needle`; false after `timeout`.
    pub fn wait_log(&self, needle: &str, timeout: Duration) -> bool {
        let until = Instant::now() + timeout;
        loop {
            if self.log().contains(needle) {
                return true;
            }
            if Instant::now() > until {
                return false;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// Sends `signal` to the process.
    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        if let Some(pid) = self.pid() {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), signal);
        }
    }

    /// The exit status, once the process has ended by itself.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.as_mut().and_then(|c| c.try_wait().ok().flatten())
    }

    /// SIGTERM, then SIGKILL after 5 s. Returns the exit status when known.
    pub fn stop(&mut self) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        // `ip netns exec` (and a wrapper such as setpriv) execs the binary: the child's pid is clearway's.
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        child.wait().ok()
    }
}

/// True when an `ss -Hltn` line shows a listener on `port` (local address column).
fn listens_on(line: &str, port: u16) -> bool {
    line.split_whitespace()
        .nth(3)
        .is_some_and(|local| local.rsplit(':').next() == Some(&port.to_string()))
}

impl Drop for Clearway {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_ss_lines() {
        assert!(super::listens_on("LISTEN 0 1024 203.0.113.80:80 0.0.0.0:*", 80));
        assert!(super::listens_on("LISTEN 0 1024 [2001:db8:f::80]:8080 [::]:*", 8080));
        assert!(!super::listens_on("LISTEN 0 1024 0.0.0.0:8080 0.0.0.0:*", 80));
    }
}
