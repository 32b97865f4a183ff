//! Start-up of the serving process, in the order that keeps it safe: check the rights the
//! config needs, build the runtime model, prepare the kernel (`transparent-setup auto`), open
//! the listeners and the stats sockets, run the self-test, go to the background, write the
//! pidfile, drop root, then serve until SIGTERM/SIGINT (or, softly, SIGUSR1). Owns that
//! sequence and the signals; must not contain proxy logic.

use crate::{cli, doctor};
use clearway_proxy::{listen, runtime, Runtime};

/// Starts serving `cfg`; returns when a stop signal arrives (the other worker threads end
/// with the process).
pub fn start(cli: &cli::Cli, cfg: &clearway_config::Config) -> Result<(), String> {
    runtime::check_transparency_rights(cfg).map_err(|e| e.to_string())?;
    let nofile = clearway_net::process::raise_nofile_limit();
    let rt = Runtime::build(cfg, nofile).map_err(|e| e.to_string())?;
    // As HAProxy's `maxpipes` default: a quarter of maxconn, each pipe two descriptors.
    let pipes = match (cfg.global.nosplice, cfg.global.maxpipes) {
        (true, _) => 0,
        (false, Some(n)) => n,
        (false, None) => rt.global_maxconn as usize / 4,
    };
    clearway_net::splice::set_limit(pipes);
    if u64::from(rt.global_maxconn) * 2 > nofile {
        tracing::warn!(
            "global maxconn {} needs about {} file descriptors but the limit is {nofile}",
            rt.global_maxconn,
            u64::from(rt.global_maxconn) * 2
        );
    }
    // Rules first: a client arriving as soon as a listener opens must already be diverted.
    if cfg.global.transparent_setup_auto {
        setup_transparency(cfg)?;
    }
    let listeners = listen::open_listeners(cfg, &rt).map_err(|e| e.to_string())?;
    let cli_sockets = clearway_admin::StatsSockets::open(cfg)?;
    self_test(cfg);
    let pidfile = cli.pidfile.as_ref().or(cfg.global.pidfile.as_ref());
    if (cfg.global.daemon || cli.daemon) && !cli.foreground() {
        // In the background stderr is gone: without a `log` line, the process's own messages
        // go to the local syslog socket, when there is one.
        if rt.log.is_empty() {
            match clearway_proxy::log::Globals::dev_log() {
                Some(g) => {
                    tracing::info!(
                        "no 'log' line in 'global': messages go to /dev/log (facility daemon) once in the background"
                    );
                    clearway_proxy::log::set_process_targets(std::sync::Arc::new(g));
                }
                None => tracing::warn!(
                    "no 'log' line in 'global' and no /dev/log: messages after going to the background are lost \
                     (hint: add 'log /dev/log daemon' or a syslog address to 'global')"
                ),
            }
        }
        clearway_net::process::daemonize(pidfile.map(|p| p.as_path()))
            .map_err(|e| format!("cannot go to the background: {e}"))?;
    } else if let Some(path) = pidfile {
        std::fs::write(path, format!("{}\n", std::process::id()))
            .map_err(|e| format!("cannot write pidfile {}: {e}", path.display()))?;
    }
    drop_privileges(cfg)?;
    let server = clearway_proxy::server::serve(rt, listeners)?;
    let handle = server.handle();
    let hard_stop_after = cfg.global.hard_stop_after;
    // The control plane shares thread 0's event loop: it is light, and a process with no
    // thread but its workers makes cheaper system calls.
    server.run(async move {
        let rt = handle.runtime().clone();
        let cli = async move {
            cli_sockets.serve(rt).await;
            std::future::pending::<()>().await
        };
        tokio::select! {
            () = cli => {}
            () = wait_for_stop(&handle, hard_stop_after) => {}
        }
    });
    Ok(())
}

/// The start-up self-test: when the config uses transparency, the doctor's items are checked
/// (as root, before the privileges are dropped) and each problem is logged with its fix. A
/// server's `check-transparent-source ADDR` also lets it probe the return path right away.
fn self_test(cfg: &clearway_config::Config) {
    if runtime::transparency_needs(cfg).is_empty() {
        return;
    }
    let probe_from = doctor::configured_probe_source(cfg);
    if probe_from.is_none() {
        tracing::info!(
            "self-test: no server has 'check-transparent-source ADDR', so the return path is not probed now; \
             health checks probe it from the first client address seen"
        );
    }
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return tracing::warn!("self-test not run: {e}"),
    };
    let items = rt.block_on(doctor::run(Some(cfg), probe_from));
    let mut problems = 0;
    for i in &items {
        let fix = i.fix.as_ref().map(|f| format!("; fix: {f}")).unwrap_or_default();
        match i.status {
            doctor::Status::Missing => {
                problems += 1;
                tracing::warn!("self-test: {} is MISSING: {}{fix}", i.item, i.detail);
            }
            doctor::Status::Warning => tracing::warn!("self-test: {}: {}{fix}", i.item, i.detail),
            doctor::Status::Ok if i.item.starts_with("return path") => {
                tracing::info!("self-test: {}: {}", i.item, i.detail)
            }
            _ => {}
        }
    }
    if problems == 0 {
        tracing::info!("self-test: transparent proxying prerequisites are in place");
    } else {
        tracing::warn!(
            "self-test: {problems} prerequisite(s) missing: transparent connections will fail (see 'clearway doctor')"
        );
    }
}

/// `transparent-setup auto`: installs the divert rule and policy routing the config needs, and
/// leaves a guard process that removes them when Clearway ends, however it ends.
fn setup_transparency(cfg: &clearway_config::Config) -> Result<(), String> {
    use clearway_net::system::Family;
    let (v4, v6) = runtime::transparency_families(cfg);
    let families: Vec<Family> = [(v4, Family::V4), (v6, Family::V6)]
        .into_iter()
        .filter(|(n, _)| *n)
        .map(|(_, f)| f)
        .collect();
    if families.is_empty() {
        return Ok(());
    }
    let catch_all = runtime::catch_all_binds(cfg);
    let done = clearway_net::tproxy_setup::install(&families, &catch_all)
        .map_err(|e| format!("transparent-setup auto: {e}"))?;
    let guard_copy = done.clone();
    if let Err(e) =
        clearway_net::process::spawn_cleanup_guard(move || match clearway_net::tproxy_setup::uninstall(&guard_copy) {
            Ok(()) => eprintln!("clearway: removed the transparent-proxying rules it had installed"),
            Err(e) => eprintln!("clearway: could not remove all the transparent-proxying rules it had installed: {e}"),
        })
    {
        let _ = clearway_net::tproxy_setup::uninstall(&done);
        return Err(format!("transparent-setup auto: cannot start the clean-up guard: {e}"));
    }
    tracing::info!(
        "transparent-setup auto: nftables table 'inet clearway' marks packets of transparent sockets {:#x}; \
         'ip rule fwmark {:#x} lookup {}' with a local route for {}; removed when clearway stops",
        clearway_net::tproxy_setup::MARK,
        clearway_net::tproxy_setup::MARK,
        done.table,
        families.iter().map(|f| f.name()).collect::<Vec<_>>().join(" and ")
    );
    for (family, port) in &catch_all {
        tracing::info!(
            "transparent-setup auto: {} TCP port {port} is intercepted for any destination (TPROXY)",
            family.name()
        );
    }
    Ok(())
}

/// Switches to `user`/`group` (or `uid`/`gid`) and `chroot` once the listeners are open, keeping
/// CAP_NET_ADMIN when the config needs transparency, plus what `setcap` lists.
fn drop_privileges(cfg: &clearway_config::Config) -> Result<(), String> {
    use clearway_net::privileges;
    let g = &cfg.global;
    if g.user.is_none() && g.group.is_none() && g.uid.is_none() && g.gid.is_none() && g.chroot.is_none() {
        return Ok(());
    }
    let mut d = privileges::resolve(g.user.as_deref(), g.group.as_deref(), g.uid, g.gid)
        .map_err(|e| format!("cannot switch user: {e}"))?;
    d.chroot = g.chroot.clone();
    let transparent = !runtime::transparency_needs(cfg).is_empty();
    d.keep = g
        .setcap
        .iter()
        .filter_map(|c| privileges::cap_bit(c))
        .fold(0, |a, b| a | b);
    if transparent {
        d.keep |= 1 << clearway_net::caps::CAP_NET_ADMIN;
    }
    let euid = nix::unistd::geteuid().as_raw();
    if euid != 0 {
        if d.uid.is_some_and(|u| u != euid) {
            return Err(format!(
                "cannot switch to uid {}: clearway was not started as root",
                d.uid.unwrap_or(0)
            ));
        }
        // Already the right user (started with file capabilities): nothing to switch.
        d.uid = None;
        d.gid = None;
    }
    privileges::apply(&d).map_err(|e| format!("cannot drop privileges: {e}"))?;
    if transparent && !clearway_net::caps::can_use_transparent() {
        return Err("after switching user, CAP_NET_ADMIN is gone: transparent proxying cannot work".into());
    }
    tracing::info!(
        uid = %nix::unistd::getuid(),
        gid = %nix::unistd::getgid(),
        chroot = ?g.chroot,
        "privileges dropped; capabilities kept: {}",
        if d.keep == 0 { "none".to_string() } else { format!("{:#x}", d.keep) }
    );
    Ok(())
}

/// Waits for the signals that end the process, as HAProxy answers them: SIGTERM and SIGINT
/// stop at once; SIGUSR1 stops softly (the listeners close, sessions in progress finish,
/// then the process ends).
async fn wait_for_stop(handle: &clearway_proxy::server::Handle, hard_stop_after: Option<std::time::Duration>) {
    let mut signals = match Signals::new() {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("cannot watch signals: {e}");
            return std::future::pending().await;
        }
    };
    loop {
        match signals.next().await {
            Signal::Stop(why) => {
                tracing::info!("{why} received: stopping");
                return;
            }
            Signal::SoftStop => {
                tracing::info!(
                    "SIGUSR1 received: soft stop: the listeners close, {} session(s) in progress are served to their end",
                    handle.sessions()
                );
                handle.soft_stop();
                let deadline = async {
                    match hard_stop_after {
                        Some(d) => tokio::time::sleep(d).await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    () = handle.idle() => tracing::info!("soft stop: every session ended"),
                    why = signals.stop() => tracing::info!("{why} received during the soft stop: stopping now"),
                    () = deadline => tracing::warn!(
                        "soft stop: 'hard-stop-after' reached, closing the {} session(s) still in progress",
                        handle.sessions()
                    ),
                }
                return;
            }
            Signal::Ignored(name) => {
                tracing::warn!("{name} received and ignored (HAProxy's reloads and dumps are not supported yet)")
            }
        }
    }
}

/// The signals Clearway answers, as HAProxy: SIGTERM and SIGINT stop at once, SIGUSR1 stops
/// softly; SIGHUP (which logrotate sends), SIGUSR2 and SIGQUIT must not kill the process, so
/// they are watched and logged until they get their HAProxy meaning.
enum Signal {
    Stop(&'static str),
    SoftStop,
    Ignored(&'static str),
}

struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    usr1: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
    usr2: tokio::signal::unix::Signal,
    quit: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> std::io::Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            usr1: signal(SignalKind::user_defined1())?,
            hup: signal(SignalKind::hangup())?,
            usr2: signal(SignalKind::user_defined2())?,
            quit: signal(SignalKind::quit())?,
        })
    }

    async fn next(&mut self) -> Signal {
        tokio::select! {
            _ = self.term.recv() => Signal::Stop("SIGTERM"),
            _ = self.int.recv() => Signal::Stop("SIGINT"),
            _ = self.usr1.recv() => Signal::SoftStop,
            _ = self.hup.recv() => Signal::Ignored("SIGHUP"),
            _ = self.usr2.recv() => Signal::Ignored("SIGUSR2"),
            _ = self.quit.recv() => Signal::Ignored("SIGQUIT"),
        }
    }

    /// The next signal that stops at once, the others logged meanwhile.
    async fn stop(&mut self) -> &'static str {
        loop {
            match self.next().await {
                Signal::Stop(why) => return why,
                Signal::SoftStop => tracing::info!("SIGUSR1 received: the soft stop is under way"),
                Signal::Ignored(name) => tracing::warn!("{name} received and ignored"),
            }
        }
    }
}
