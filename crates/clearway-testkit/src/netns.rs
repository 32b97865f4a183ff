//! Network namespaces owned by a test: created with a unique name, deleted on drop (also when
//! the test panics), and swept by the next test run when the process that made them was
//! killed (no drop runs then). Must not create links or addresses (topology does).

use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A unique, short name: `cw`, the tag's letters, process id, `x`, counter (the process id
/// can be read back: see `owner`).
pub fn unique_name(tag: &str) -> String {
    let tag: String = tag.chars().filter(|c| c.is_ascii_alphabetic()).take(8).collect();
    format!(
        "cw{tag}{}x{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Runs a command and panics with everything it printed when it fails.
pub fn run(program: &str, args: &[&str]) -> Output {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} {args:?}: {e}"));
    if !out.status.success() {
        panic!(
            "{program} {} failed ({}):\nstdout: {}\nstderr: {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out
}

/// The process id in a name `unique_name` made.
fn owner(name: &str) -> Option<u32> {
    let rest = name
        .strip_prefix("cw")?
        .trim_start_matches(|c: char| c.is_ascii_alphabetic());
    let (pid, counter) = rest.split_once('x')?;
    counter.parse::<u32>().ok()?;
    pid.parse().ok()
}

/// Deletes the namespaces of test processes that no longer run (killed before their drops
/// ran), once per process.
fn sweep_orphans() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(sweep);
}

fn sweep() {
    let Ok(dir) = std::fs::read_dir("/run/netns") else {
        return;
    };
    for name in dir.filter_map(|e| e.ok()?.file_name().into_string().ok()) {
        if owner(&name).is_some_and(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists()) {
            let _ = Command::new("ip")
                .args(["netns", "del", &name])
                .stderr(Stdio::null())
                .status();
        }
    }
}

#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    pub fn new(tag: &str) -> Netns {
        sweep_orphans();
        let name = unique_name(tag);
        run("ip", &["netns", "add", &name]);
        let ns = Netns { name };
        ns.sh("ip link set lo up");
        ns
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs a program in the namespace and returns its output, whatever its status.
    pub fn exec(&self, program: &str, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.name, program])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program} in {}: {e}", self.name))
    }

    /// Runs a shell script in the namespace; panics with its output when it fails.
    pub fn sh(&self, script: &str) -> String {
        let out = run("ip", &["netns", "exec", &self.name, "sh", "-ec", script]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Starts a program in the namespace.
    pub fn spawn(&self, program: &str, args: &[&str]) -> std::process::Child {
        Command::new("ip")
            .args(["netns", "exec", &self.name, program])
            .args(args)
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program} in {}: {e}", self.name))
    }

    /// Runs `f` on a thread that has entered the namespace: sockets it creates live there.
    pub fn enter<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let path = format!("/run/netns/{}", self.name);
        std::thread::scope(|s| {
            s.spawn(|| {
                let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
                nix::sched::setns(file, nix::sched::CloneFlags::CLONE_NEWNET)
                    .unwrap_or_else(|e| panic!("setns {path}: {e}"));
                f()
            })
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
        })
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .stderr(Stdio::null())
            .status();
    }
}

/// True when the tests can build namespaces. Without root or namespaces a test is skipped with
/// a message, except with CI=true where it must fail instead.
pub fn require_root_and_netns() -> bool {
    let reason = if !nix::unistd::Uid::effective().is_root() {
        Some("not running as root".to_string())
    } else {
        let name = unique_name("probe");
        match Command::new("ip").args(["netns", "add", &name]).output() {
            Ok(o) if o.status.success() => {
                let _ = Command::new("ip").args(["netns", "del", &name]).status();
                None
            }
            Ok(o) => Some(format!(
                "ip netns add failed: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            )),
            Err(e) => Some(format!("cannot run ip: {e}")),
        }
    };
    match reason {
        None => true,
        Some(r) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CI=true and the test needs root and network namespaces: {r}")
        }
        Some(r) => {
            eprintln!("skipping: {r} (run the tests as root: scripts/test)");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_say_whose_they_are() {
        let name = unique_name("t9ls-x");
        assert_eq!(owner(&name), Some(std::process::id()), "{name}");
        assert_eq!(owner("cwbenchc14840x4"), Some(14840));
        assert_eq!(owner("cwfoo"), None);
        assert_eq!(owner("other1x2"), None);
    }

    #[test]
    fn namespaces_of_processes_gone_are_swept() {
        if !require_root_and_netns() {
            return;
        }
        // The process's own sweep first: run by another test while the orphan is being
        // made, it would delete it half-made (seen once in CI).
        sweep_orphans();
        // No process has this id (above the kernel's largest).
        let orphan = "cworphan999999999x0";
        run("ip", &["netns", "add", orphan]);
        let mine = Netns::new("mine");
        // What the first namespace of a process does (once per process).
        sweep();
        let gone = |n: &str| !std::path::Path::new(&format!("/run/netns/{n}")).exists();
        assert!(gone(orphan));
        assert!(!gone(mine.name()), "a live process's namespace is kept");
    }
}
