//! One benchmark run: options, the legs (pinned single core, two threads), the rounds that
//! alternate which proxy goes first, and the rows each proxy is measured on. Owns the order of
//! work; must not parse tool output (load does) or format results (report does).

use crate::lab::Lab;
use crate::load;
use crate::proxy::{self, Kind, Variant, BULK_PORT, HTTP_PORT, TCP_PORT};
use crate::report::{self, Better, Sample};
use std::path::PathBuf;

/// The descriptor limit the runner asks for (and the proxies it starts inherit): room for
/// the 10,000 idle connections the issue names, two descriptors each in a proxy.
const NOFILE_WANTED: u64 = 65_536;

#[derive(Debug, Clone)]
pub struct Options {
    /// A second or two per row, one round: proves the runner works (CI), measures nothing.
    pub smoke: bool,
    pub rounds: u32,
    pub secs: u32,
    pub legs: Vec<Leg>,
    pub clearway: PathBuf,
    pub out: PathBuf,
    pub png: PathBuf,
    /// Idle connections for the memory row.
    pub idle: u32,
    /// `busy-polling` in both proxies' global section.
    pub busy_polling: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leg {
    /// Each proxy on CPU 0 with one thread; client and servers on CPU 1.
    OneCore,
    /// Two threads each, no pinning.
    TwoThreads,
}

impl Leg {
    fn name(self) -> &'static str {
        match self {
            Leg::OneCore => "1 core",
            Leg::TwoThreads => "2 threads",
        }
    }
    /// How `--legs` names it.
    fn flag(self) -> &'static str {
        match self {
            Leg::OneCore => "1core",
            Leg::TwoThreads => "2threads",
        }
    }
    fn threads(self) -> usize {
        match self {
            Leg::OneCore => 1,
            Leg::TwoThreads => 2,
        }
    }
    fn proxy_cpus(self) -> Option<&'static str> {
        match self {
            Leg::OneCore => Some("0"),
            Leg::TwoThreads => None,
        }
    }
    fn other_cpus(self) -> Option<&'static str> {
        match self {
            Leg::OneCore => Some("1"),
            Leg::TwoThreads => None,
        }
    }
}

impl Options {
    pub fn parse(args: impl Iterator<Item = String>) -> Result<Options, String> {
        let mut o = Options {
            smoke: false,
            rounds: 3,
            secs: 5,
            legs: vec![Leg::OneCore, Leg::TwoThreads],
            clearway: PathBuf::from("target/release/clearway"),
            out: PathBuf::from("docs/benchmarks.md"),
            png: PathBuf::from("docs/benchmarks.png"),
            idle: 10_000,
            busy_polling: false,
        };
        let mut args = args.peekable();
        while let Some(a) = args.next() {
            let mut val = |name: &str| args.next().ok_or_else(|| format!("{name} expects a value"));
            match a.as_str() {
                "--smoke" => {
                    o.smoke = true;
                    o.rounds = 1;
                    o.secs = 1;
                    o.idle = 500;
                }
                "--rounds" => o.rounds = val("--rounds")?.parse().map_err(|_| "--rounds expects a number")?,
                "--secs" => o.secs = val("--secs")?.parse().map_err(|_| "--secs expects a number")?,
                "--idle" => o.idle = val("--idle")?.parse().map_err(|_| "--idle expects a number")?,
                "--busy-polling" => o.busy_polling = true,
                "--clearway" => o.clearway = val("--clearway")?.into(),
                "--out" => o.out = val("--out")?.into(),
                "--png" => o.png = val("--png")?.into(),
                "--legs" => {
                    o.legs = val("--legs")?
                        .split(',')
                        .map(|l| {
                            [Leg::OneCore, Leg::TwoThreads]
                                .into_iter()
                                .find(|leg| leg.flag() == l)
                                .ok_or_else(|| format!("unknown leg '{l}' (1core, 2threads)"))
                        })
                        .collect::<Result<_, _>>()?
                }
                "-h" | "--help" => {
                    return Err("usage: clearway-bench [--smoke] [--rounds N] [--secs N] [--idle N] \
                                [--legs 1core,2threads] [--busy-polling] [--clearway PATH] [--out FILE] [--png FILE]"
                        .into())
                }
                other => return Err(format!("unknown option '{other}' (see --help)")),
            }
        }
        if o.rounds == 0 || o.secs == 0 {
            return Err("--rounds and --secs must be at least 1".into());
        }
        Ok(o)
    }
}

fn need_tools() -> Result<(), String> {
    let missing: Vec<&str> = ["wrk", "iperf3", "haproxy", "nginx", "taskset", "ip"]
        .into_iter()
        .filter(|t| {
            !std::process::Command::new("sh")
                .args(["-c", &format!("command -v {t}")])
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "missing tools: {} (apt-get install wrk iperf3 haproxy nginx-light util-linux iproute2)",
            missing.join(", ")
        ))
    }
}

/// Everything measured for one proxy in one round.
fn measure(lab: &Lab, o: &Options, leg: Leg, variant: Variant, kind: Kind, round: u32, out: &mut Vec<Sample>) {
    let cpus = leg.other_cpus();
    let mut add = |metric: &str, unit: &'static str, better: Better, value: f64| {
        out.push(Sample {
            leg: leg.name().into(),
            variant: variant.name(),
            metric: metric.into(),
            unit,
            better,
            kind,
            round,
            value,
        })
    };
    let start = || {
        let (threads, cpus) = (leg.threads(), leg.proxy_cpus());
        proxy::start(lab, kind, variant, threads, cpus, &o.clearway, o.busy_polling)
    };
    let running = start();
    let pid = running.as_ref().map(|r| r.pid);
    let tcp = proxy::target(kind, variant, TCP_PORT);
    let http = proxy::target(kind, variant, HTTP_PORT);
    // Warm-up: connections, pools and caches, not measured.
    let _ = load::wrk(lab, cpus, &http, 50, 1, false);
    for (addr, conns, what) in [
        (&tcp, 50, "tcp"),
        (&http, 50, "http"),
        (&tcp, 1000, "tcp"),
        (&http, 1000, "http"),
    ] {
        let before = pid.map(proxy::usage);
        let w = load::wrk(lab, cpus, addr, conns, o.secs, false);
        let after = pid.map(proxy::usage);
        add(
            &format!("mode {what} keep-alive, {conns} conns"),
            "req/s",
            Better::Higher,
            w.rate,
        );
        if w.errors > 0 {
            eprintln!("  {} {what} {conns}: {} errors", kind.name(), w.errors);
        }
        if conns == 50 {
            add(&format!("mode {what} p50 at saturation"), "µs", Better::Lower, w.p50);
            add(&format!("mode {what} p99 at saturation"), "µs", Better::Lower, w.p99);
            add(&format!("mode {what} p99.9 at saturation"), "µs", Better::Lower, w.p999);
            if let (Some(b), Some(a)) = (before, after) {
                let n = w.requests.max(1) as f64;
                add(
                    &format!("mode {what} CPU user per request"),
                    "µs",
                    Better::Lower,
                    (a.user - b.user) * 1e6 / n,
                );
                add(
                    &format!("mode {what} CPU system per request"),
                    "µs",
                    Better::Lower,
                    (a.system - b.system) * 1e6 / n,
                );
                add(
                    &format!("mode {what} context switches per request"),
                    "switches",
                    Better::Lower,
                    (a.switches - b.switches) as f64 / n,
                );
                add(
                    &format!("mode {what} CPU seconds per million requests"),
                    "s",
                    Better::Lower,
                    (a.user + a.system - b.user - b.system) * 1e6 / n,
                );
            }
        }
    }
    let close = load::wrk(lab, cpus, &http, 50, o.secs, true);
    add(
        "new connections (Connection: close)",
        "conn/s",
        Better::Higher,
        close.rate,
    );
    let (p50, p99, p999) = load::fixed_rate(lab, &http, 2000, 20, o.secs);
    add("mode http p50 at 2000 req/s", "µs", Better::Lower, p50);
    add("mode http p99 at 2000 req/s", "µs", Better::Lower, p99);
    add("mode http p99.9 at 2000 req/s", "µs", Better::Lower, p999);
    let bulk = proxy::target(kind, variant, BULK_PORT);
    for streams in [1, 8] {
        let g = load::iperf(lab, cpus, &bulk, streams, o.secs);
        add(&format!("bulk, {streams} stream(s)"), "Gbit/s", Better::Higher, g);
    }
    // Memory on a freshly started proxy: after the load rows, sessions would be served from
    // memory those rows freed, and the growth of the resident size would say how much of it
    // was left over rather than what a connection needs (run 5 measured 152 bytes that way).
    drop(running);
    let running = start();
    if let Some(pid) = running.as_ref().map(|r| r.pid) {
        let before = proxy::usage(pid).rss;
        let conns = load::idle_connections(lab, &tcp, o.idle);
        std::thread::sleep(std::time::Duration::from_secs(1));
        let after = proxy::usage(pid).rss;
        let n = conns.len().max(1) as f64;
        add(
            &format!("memory per idle connection ({} open)", conns.len()),
            "bytes",
            Better::Lower,
            after.saturating_sub(before) as f64 / n,
        );
        drop(conns);
    }
    drop(running);
}

pub fn run(o: &Options) -> Result<(), String> {
    if !nix::unistd::Uid::effective().is_root() {
        return Err("run as root: the benchmark builds network namespaces".into());
    }
    need_tools()?;
    if !o.clearway.exists() {
        return Err(format!(
            "no Clearway binary at {} (cargo build --release)",
            o.clearway.display()
        ));
    }
    // Descriptors for the idle row: each idle connection costs the proxy two, and this
    // process (the clients) one. Root may raise the hard limit; otherwise as many as allowed.
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (_, mut hard) = getrlimit(Resource::RLIMIT_NOFILE).map_err(|e| format!("getrlimit: {e}"))?;
    if hard < NOFILE_WANTED && setrlimit(Resource::RLIMIT_NOFILE, NOFILE_WANTED, NOFILE_WANTED).is_ok() {
        hard = NOFILE_WANTED;
    }
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard).map_err(|e| format!("setrlimit: {e}"))?;
    // Each proxy also stops accepting at its maxconn.
    let fit = u32::try_from((hard.saturating_sub(200)) / 2)
        .unwrap_or(u32::MAX)
        .min(proxy::maxconn(hard) - 100);
    if o.idle > fit {
        eprintln!(
            "only {hard} file descriptors per process here (more needs CAP_SYS_RESOURCE): measuring memory with {fit} idle connections, not {}",
            o.idle
        );
    }
    let o = &Options {
        idle: o.idle.min(fit),
        ..o.clone()
    };
    let mut samples = Vec::new();
    for &leg in &o.legs {
        let lab = Lab::new(leg.other_cpus());
        for variant in [Variant::Plain, Variant::Transparent] {
            for round in 0..o.rounds {
                let mut order = if round % 2 == 0 {
                    vec![Kind::Clearway, Kind::Haproxy]
                } else {
                    vec![Kind::Haproxy, Kind::Clearway]
                };
                // The direct path does not depend on the proxy's configuration.
                if variant == Variant::Plain {
                    order.push(Kind::Direct);
                }
                for kind in order {
                    eprintln!(
                        "{} / {} / round {} / {}",
                        leg.name(),
                        variant.name(),
                        round + 1,
                        kind.name()
                    );
                    measure(&lab, o, leg, variant, kind, round, &mut samples);
                }
            }
        }
    }
    // The direct figures stand for both configurations.
    let direct: Vec<Sample> = samples
        .iter()
        .filter(|s| s.kind == Kind::Direct)
        .map(|s| Sample {
            variant: Variant::Transparent.name(),
            ..s.clone()
        })
        .collect();
    samples.extend(direct);
    samples.sort_by_key(|s| (s.leg.clone(), s.variant));
    let rows = report::rows(&samples);
    let mut command = String::from("scripts/bench");
    if o.smoke {
        command.push_str(" --smoke");
    } else {
        // The figures depend on these: the report says which were used.
        command.push_str(&format!(" --rounds {} --secs {}", o.rounds, o.secs));
    }
    if let [leg] = o.legs[..] {
        command.push_str(&format!(" --legs {}", leg.flag()));
    }
    if o.busy_polling {
        command.push_str(" --busy-polling");
    }
    let png_name = o
        .png
        .file_name()
        .map_or("benchmarks.png".into(), |n| n.to_string_lossy().into_owned());
    let md = report::markdown(&rows, &proxy::versions(&o.clearway), &command, &png_name);
    if let Some(dir) = o.out.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    // The record of each optimisation at the end of docs/benchmarks.md is written by hand.
    // A file that is there but cannot be read is not overwritten (its hand-written part would
    // be lost): the report goes next to it.
    let mut out = o.out.clone();
    let previous = match std::fs::read_to_string(&o.out) {
        Ok(p) => Some(p),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            out.as_mut_os_string().push(".new");
            eprintln!(
                "{}: {e}; not overwritten, the report goes to {}",
                o.out.display(),
                out.display()
            );
            None
        }
    };
    if previous.as_deref().is_some_and(|p| report::kept_from(p).is_none()) {
        eprintln!(
            "{}: no hand-written part to keep (no line \"{}\"): all of it is replaced",
            o.out.display(),
            report::KEPT_BELOW
        );
    }
    std::fs::write(&out, report::with_kept_part(&md, previous.as_deref()))
        .map_err(|e| format!("{}: {e}", out.display()))?;
    report::chart(&rows, &o.png)?;
    println!("{md}");
    let missing: Vec<&report::Row> = rows
        .iter()
        .filter(|r| r.clearway.is_none_or(|v| v <= 0.0) && !r.metric.starts_with("memory"))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "{} rows have no Clearway figure: {:?}",
            missing.len(),
            missing.iter().map(|r| &r.metric).collect::<Vec<_>>()
        ));
    }
    Ok(())
}
