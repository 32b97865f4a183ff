//! The `clearway` binary: reads the command line and the config, sets up logging, and hands
//! over to `doctor` or to `startup`. Must not contain proxy logic.

mod cli;
mod doctor;
mod startup;
mod syslog_layer;

use clap::Parser;
use std::process::ExitCode;

/// mimalloc instead of glibc's malloc: per-thread free lists without arena locks or
/// consolidation passes, for the many small short-lived allocations of each connection.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clearway_config::cond::{FEATURES, HAPROXY_VERSION, NOT_FEATURES};

fn main() -> ExitCode {
    // `-cc EXPR` as HAProxy's: exit 0 when the condition holds, 1 when not, 2 when malformed.
    // (Two letters after one dash: not something the argument parser can take.)
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "-cc") {
        let Some(expr) = args.get(i + 1) else {
            eprintln!("clearway: -cc needs a condition, e.g. -cc 'version_atleast(2.6)'");
            return ExitCode::from(2);
        };
        let env = |name: &str| std::env::var(name).ok();
        let facts = clearway_config::cond::Facts::clearway(&env);
        return match clearway_config::cond::eval(expr, &facts) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::from(1),
            Err(e) => {
                eprintln!("[ALERT] -cc '{expr}': {e}");
                ExitCode::from(2)
            }
        };
    }
    let cli = cli::Cli::parse_from(without_no_effect_flags(args));
    if cli.version > 0 {
        println!("Clearway version {}", env!("CARGO_PKG_VERSION"));
        if cli.version > 1 {
            println!(
                "Build: Rust, Linux; transparent proxying: IP_TRANSPARENT/IPV6_TRANSPARENT, IP_BIND_ADDRESS_NO_PORT"
            );
            println!("Follows: HAProxy {HAPROXY_VERSION}");
            // HAProxy's layout: scripts (run-regtests.sh) read the TARGET line, then the
            // feature list, then the services.
            println!("Build options :\n  TARGET  = linux-glibc\n");
            let plus = FEATURES.iter().map(|f| format!("+{f}"));
            let minus = NOT_FEATURES.iter().map(|f| format!("-{f}"));
            println!("Feature list : {}", plus.chain(minus).collect::<Vec<_>>().join(" "));
            println!("Available services : prometheus-exporter");
        }
        return ExitCode::SUCCESS;
    }
    init_logging(&cli);
    if let Some(cli::Command::Doctor {
        files,
        json,
        probe,
        probe_from,
    }) = &cli.command
    {
        return run_doctor(files, *json, *probe, *probe_from);
    }
    if cli.files.is_empty() {
        eprintln!("clearway: no configuration file given (hint: clearway -f /etc/clearway/clearway.cfg)");
        return ExitCode::from(1);
    }
    let loaded = match clearway_config::load(&cli.files) {
        Ok(l) => l,
        Err(errs) => {
            for w in &errs.warnings {
                if !cli.quiet {
                    eprintln!("[WARNING] {w}");
                }
            }
            for e in &errs.errors {
                eprintln!("[ALERT] {e}");
            }
            eprintln!("[ALERT] configuration has {} error(s)", errs.errors.len());
            return ExitCode::from(1);
        }
    };
    if !cli.quiet {
        for w in &loaded.warnings {
            eprintln!("[WARNING] {w}");
        }
    }
    // Keywords accepted without effect: with -d (or -c -d), as notes.
    if cli.debug_output() {
        for n in &loaded.notes {
            eprintln!("[NOTICE] {n}");
        }
    }
    let cfg = loaded.config;
    // As HAProxy: a configuration without a single `bind` (a stats socket counts) is valid
    // text that would serve nothing, so it does not start (exit 2 for a check, 1 for a start).
    let listens = cfg.frontends.iter().any(|f| !f.binds.is_empty()) || !cfg.global.stats_sockets.is_empty();
    if cli.check {
        if !listens {
            println!("Configuration file has no error but will not start (no listener) => exit(2).");
            return ExitCode::from(2);
        }
        if !cli.quiet {
            println!("Configuration file is valid");
        }
        return ExitCode::SUCCESS;
    }
    if !listens {
        eprintln!("[ALERT] no listener in the configuration (add a 'bind' line to a 'frontend' or 'listen' section, or a 'stats socket'): nothing to do");
        return ExitCode::from(1);
    }
    match startup::start(&cli, &cfg) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("[ALERT] {msg}");
            ExitCode::from(1)
        }
    }
}

/// The command line without HAProxy's flags that change nothing in Clearway, which scripts and
/// test harnesses pass: `-dM[BYTE]` (poisoning freed memory, a debugging aid of HAProxy's
/// allocator) and `-L NAME` (the local peer's name; Clearway has no peers).
fn without_no_effect_flags(args: Vec<String>) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        if a.starts_with("-dM") {
            continue;
        }
        if a == "-L" {
            it.next();
            continue;
        }
        if a.starts_with("-L") && a.len() > 2 {
            continue;
        }
        out.push(a);
    }
    out
}

fn run_doctor(files: &[std::path::PathBuf], json: bool, probe: bool, probe_from: Option<std::net::IpAddr>) -> ExitCode {
    let cfg = if files.is_empty() {
        None
    } else {
        match clearway_config::load(files) {
            Ok(l) => Some(l.config),
            Err(errs) => {
                errs.errors.iter().for_each(|e| eprintln!("[ALERT] {e}"));
                return ExitCode::from(1);
            }
        }
    };
    let what = if files.is_empty() {
        "(all items: no configuration given)".to_string()
    } else {
        format!(
            "for {}",
            files
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("clearway doctor: {e}");
            return ExitCode::from(1);
        }
    };
    let probe_from = probe_from.or_else(|| {
        probe
            .then(|| cfg.as_ref().and_then(doctor::configured_probe_source))
            .flatten()
    });
    if probe && probe_from.is_none() {
        eprintln!("clearway doctor: --probe needs a client-side address: 'check-transparent-source ADDR' on a server, or --probe-from ADDR");
        return ExitCode::from(1);
    }
    let items = rt.block_on(doctor::run(cfg.as_ref(), probe_from));
    if doctor::print(&items, json, &what) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn init_logging(cli: &cli::Cli) {
    let level = if cli.debug_output() {
        "debug"
    } else if cli.quiet {
        "error"
    } else {
        "info"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("CLEARWAY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(false)
                .with_filter(filter),
        )
        // Its own filter keeps debug call sites disabled (their events are never built) when
        // stderr does not want them either.
        .with(syslog_layer::SyslogLayer.with_filter(tracing_subscriber::filter::LevelFilter::INFO))
        .init();
}
