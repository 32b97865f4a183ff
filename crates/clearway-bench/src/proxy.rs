//! The things measured side by side: Clearway, HAProxy (Debian's package) and the direct path
//! (no proxy). Owns their one shared configuration text, starting them pinned as a leg says,
//! and reading their CPU time, context switches and memory from /proc; must not generate load.

use crate::lab::{pinned, port_open, Lab, Proc, LB, SERVER, VIP};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Clearway,
    Haproxy,
    Direct,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Clearway => "Clearway",
            Kind::Haproxy => "HAProxy",
            Kind::Direct => "direct",
        }
    }
}

/// Plain (the proxy's own addresses) or transparent (a VIP on no interface, servers see the
/// client's address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    Plain,
    Transparent,
}

impl Variant {
    pub fn name(self) -> &'static str {
        match self {
            Variant::Plain => "plain",
            Variant::Transparent => "transparent",
        }
    }
}

/// The connection limit of both proxies, from the process's descriptor limit: HAProxy needs
/// two descriptors per connection (and refuses to start without them), so 10,500, room for
/// the 10,000 idle connections of the memory row, where the runner could raise the limit
/// (`run::NOFILE_WANTED`), else 9,800, which fits the 20,000 seen on machines that cannot.
pub fn maxconn(nofile: u64) -> u32 {
    if nofile >= 2 * 10_500 + 1_000 {
        10_500
    } else {
        9_800
    }
}
/// Kernel pipes for splicing, per proxy: two per spliced connection, and the bulk rows run
/// at most 8 streams.
pub const MAXPIPES: u32 = 64;

/// Ports of the listeners, the same for every proxy.
pub const TCP_PORT: u16 = 8001;
pub const HTTP_PORT: u16 = 8002;
pub const BULK_PORT: u16 = 5201;

/// Where a client connects for `port`.
pub fn target(kind: Kind, variant: Variant, port: u16) -> String {
    match (kind, variant) {
        (Kind::Direct, _) => match port {
            BULK_PORT => format!("{SERVER}:5201"),
            _ => format!("{SERVER}:80"),
        },
        (_, Variant::Plain) => format!("{LB}:{port}"),
        (_, Variant::Transparent) => format!("{VIP}:{port}"),
    }
}

/// The configuration both proxies run, unchanged: the same text for Clearway and HAProxy.
/// The bulk proxy has `option splice-auto`, without which HAProxy never splices; Clearway
/// does the same with or without it. `maxpipes` is set because HAProxy reserves two
/// descriptors per pipe at start-up, and its default (a quarter of `maxconn`) would take it
/// past the descriptor limit that `maxconn` is sized for. `busy_polling` adds that global
/// keyword to both.
pub fn config(variant: Variant, threads: usize, busy_polling: bool) -> String {
    let (addr, bindopt, source) = match variant {
        Variant::Plain => (LB, "", ""),
        Variant::Transparent => (VIP, " transparent", "    source 0.0.0.0 usesrc clientip\n"),
    };
    let busy = if busy_polling { "    busy-polling\n" } else { "" };
    // The limit the runner set for itself, which the proxies inherit.
    let nofile = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).map_or(0, |(soft, _)| soft);
    let maxconn = maxconn(nofile);
    format!(
        "global\n    maxconn {maxconn}\n    maxpipes {MAXPIPES}\n    nbthread {threads}\n{busy}\
         defaults\n    timeout connect 5s\n    timeout client 120s\n    timeout server 120s\n    timeout queue 60s\n\
         listen tcp_ka\n    mode tcp\n    bind {addr}:{TCP_PORT}{bindopt}\n{source}    server s1 {SERVER}:80\n\
         listen http_ka\n    mode http\n    bind {addr}:{HTTP_PORT}{bindopt}\n{source}    http-request set-header X-Bench 1\n    server s1 {SERVER}:80\n\
         listen bulk\n    mode tcp\n    option splice-auto\n    bind {addr}:{BULK_PORT}{bindopt}\n{source}    server s1 {SERVER}:5201\n"
    )
}

/// A running proxy.
pub struct Running {
    pub kind: Kind,
    pub pid: u32,
    _proc: Proc,
}

/// Starts `kind` in the lb namespace on `cpus`, and waits for its listeners.
pub fn start(
    lab: &Lab,
    kind: Kind,
    variant: Variant,
    threads: usize,
    cpus: Option<&str>,
    clearway: &Path,
    busy_polling: bool,
) -> Option<Running> {
    let cfg: PathBuf = lab
        .dir
        .join(format!("{}-{}-{threads}.cfg", kind.name(), variant.name()));
    std::fs::write(&cfg, config(variant, threads, busy_polling)).expect("config");
    let cfg_s = cfg.display().to_string();
    let clearway = clearway.display().to_string();
    let (program, args): (&str, Vec<&str>) = match kind {
        Kind::Direct => return None,
        Kind::Clearway => (&clearway, vec!["-f", &cfg_s, "-db"]),
        Kind::Haproxy => ("haproxy", vec!["-f", &cfg_s, "-db"]),
    };
    let (p, a) = pinned(cpus, program, &args);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let log_path = lab.dir.join(format!("{}.log", kind.name()));
    let log = std::fs::File::create(&log_path).expect("log");
    let child = std::process::Command::new("ip")
        .args(["netns", "exec", lab.topo.lb.name(), &p])
        .args(&a)
        .env("CLEARWAY_LOG", "warn")
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("start the proxy");
    let pid = child.id();
    let proc = Proc(child);
    for port in [TCP_PORT, HTTP_PORT, BULK_PORT] {
        let addr = target(kind, variant, port);
        if !port_open(&lab.topo.client, addr.parse().expect("addr")) {
            panic!(
                "{} does not listen on {addr}; its output:\n{}",
                kind.name(),
                std::fs::read_to_string(&log_path).unwrap_or_default()
            );
        }
    }
    Some(Running { kind, pid, _proc: proc })
}

/// What /proc says of a process and all its threads.
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    /// CPU time in user and system mode, in seconds.
    pub user: f64,
    pub system: f64,
    /// Voluntary plus involuntary context switches.
    pub switches: u64,
    /// Resident memory in bytes.
    pub rss: u64,
}

pub fn usage(pid: u32) -> Usage {
    let tick = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as f64;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) in parentheses.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let num = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of stat: 11 and 12 after the state field.
    let (user, system) = (num(11) / tick, num(12) / tick);
    let mut switches = 0;
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in tasks.flatten() {
            let status = std::fs::read_to_string(t.path().join("status")).unwrap_or_default();
            switches += status
                .lines()
                .filter(|l| l.starts_with("voluntary_ctxt_switches") || l.starts_with("nonvoluntary_ctxt_switches"))
                .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                .sum::<u64>();
        }
    }
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        .unwrap_or(0)
        * 1024;
    Usage {
        user,
        system,
        switches,
        rss,
    }
}

/// The versions of the things measured, for the report.
pub fn versions(clearway: &Path) -> Vec<(String, String)> {
    let first_line = |prog: &str, args: &[&str]| {
        std::process::Command::new(prog)
            .args(args)
            .output()
            .ok()
            .map(|o| {
                let text = if o.stdout.is_empty() { o.stderr } else { o.stdout };
                String::from_utf8_lossy(&text).lines().next().unwrap_or("").to_string()
            })
            .unwrap_or_else(|| "not found".into())
    };
    vec![
        ("Clearway".into(), first_line(&clearway.display().to_string(), &["-v"])),
        ("HAProxy".into(), first_line("haproxy", &["-v"])),
        ("nginx".into(), first_line("nginx", &["-v"])),
        ("wrk".into(), first_line("wrk", &["--version"])),
        ("iperf3".into(), first_line("iperf3", &["--version"])),
        ("kernel".into(), first_line("uname", &["-sr"])),
        ("cpu".into(), cpu_model()),
    ]
}

fn cpu_model() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = info
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown".to_string(), |(_, m)| m.trim().to_string());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{model}, {cores} cores")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maxconn_fits_the_descriptor_limit() {
        // HAProxy needs two descriptors per connection and about 150 more (it asked for 21,144
        // with maxconn 10,500); it refuses to start otherwise ("Cannot raise FD limit").
        for nofile in [20_000, 21_999, 22_000, 65_536] {
            let m = u64::from(maxconn(nofile));
            assert!(2 * m + 200 <= nofile, "maxconn {m} with {nofile} descriptors");
        }
        assert_eq!(maxconn(65_536), 10_500, "room for 10,000 idle connections");
    }
}
