//! Worker threads: with `nbthread 2` each thread has a listening socket of its own on every
//! address (SO_REUSEPORT) and serves the clients it accepts, or hands them to the other thread
//! when that one serves fewer; a port someone else already listens on is still refused.

mod common;
use common::*;

const CFG: &str = "global\n    nbthread 2\ndefaults\n    mode tcp\n    timeout connect 1s\n    timeout client 10s\n    timeout server 10s\n\
                   frontend ft\n    bind 192.0.2.1:80\n    default_backend bk\n\
                   backend bk\n    server s1 198.51.100.10:80\n";

#[test]
fn each_thread_accepts_on_its_own_socket() {
    let Some(topo) = topology("thr") else { return };
    let _srv = peer_servers(&topo, &["198.51.100.10:80"]);
    let lb = start(&topo, CFG, &[80]);
    let ss = topo.lb.sh("ss -Hltn 'sport = :80'");
    assert_eq!(
        ss.lines().count(),
        2,
        "one listening socket per thread:\n{ss}\n{}",
        lb.log()
    );
    // The kernel spreads clients over both sockets by their address and port: were one
    // thread not accepting, about half of these would never be answered.
    for i in 0..40 {
        let a = ask(&topo, "192.0.2.1:80", None);
        assert_eq!(server_of(&a), "s1", "client {i}: {a:?}\n{}", lb.log());
    }
}

#[test]
fn a_port_already_listened_on_is_refused() {
    let Some(topo) = topology("thrdup") else { return };
    let _lb = start(&topo, CFG, &[80]);
    let dir = std::env::temp_dir().join(clearway_testkit::netns::unique_name("thrdup"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let cfg = dir.join("second.cfg");
    std::fs::write(&cfg, CFG).expect("config");
    // A second copy of the same config must not quietly share the port through SO_REUSEPORT.
    let out = topo.lb.exec(
        "timeout",
        &[
            "10",
            &binary().display().to_string(),
            "-f",
            &cfg.display().to_string(),
            "-db",
        ],
    );
    let _ = std::fs::remove_dir_all(&dir);
    let err = String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "the second instance must fail at once: {err}"
    );
    assert!(err.contains("another process already listens there"), "{err}");
}

#[test]
fn clients_are_spread_evenly_over_the_threads() {
    let Some(topo) = topology("thrbal") else { return };
    let servers = holding_servers(&topo, &["198.51.100.10:80"]);
    let lb = clearway_testkit::Clearway::start_with_log(&topo.lb, binary(), CFG, &[80], "debug");
    // The kernel's hash puts each client on one thread's socket at random (32 of 64 on each
    // only about one time in ten); each client here is served before the next connects, so
    // the loads the threads compare are settled.
    let clients: Vec<_> = (0..64)
        .map(|i| {
            let c = hold(&topo, "192.0.2.1:80");
            assert!(
                eventually(|| servers[0].count() == i + 1),
                "client {i} never reached the server\n{}",
                lb.log()
            );
            c
        })
        .collect();
    for c in clients {
        assert_eq!(server_of(&read_all(c)), "s1");
    }
    let per_thread = |t: usize| {
        let tag = format!("worker{{thread={t}}}");
        lb.log()
            .lines()
            .filter(|l| l.contains(&tag) && l.contains("session closed"))
            .count()
    };
    assert!(eventually(|| per_thread(0) + per_thread(1) == 64), "{}", lb.log());
    assert_eq!(
        (per_thread(0), per_thread(1)),
        (32, 32),
        "each thread serves half of the clients\n{}",
        lb.log()
    );
}

/// The CPUs a thread of `pid` may run on (`Cpus_allowed_list`), by the thread's name.
fn allowed_cpus(pid: u32, name: &str) -> Option<String> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .ok()?
        .flatten()
        .find_map(|t| {
            let comm = std::fs::read_to_string(t.path().join("comm")).ok()?;
            (comm.trim() == name).then(|| {
                let status = std::fs::read_to_string(t.path().join("status")).ok()?;
                status
                    .lines()
                    .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
                    .map(|v| v.trim().to_string())
            })?
        })
}

#[test]
fn cpu_map_binds_each_thread_to_its_cpu() {
    let Some(topo) = topology("thrcpu") else { return };
    let _srv = peer_servers(&topo, &["198.51.100.10:80"]);
    // The last CPU this test may use, so that the test also means something on one CPU.
    let last = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0))
        .ok()
        .and_then(|set| {
            (0..nix::sched::CpuSet::count())
                .rev()
                .find(|&c| set.is_set(c).unwrap_or(false))
        })
        .expect("this process's CPUs");
    let cfg = CFG.replace(
        "nbthread 2\n",
        &format!("nbthread 2\n    cpu-map auto:1/1-2 0 {last}\n"),
    );
    let lb = start(&topo, &cfg, &[80]);
    let pid = lb.pid().expect("pid");
    assert_eq!(
        allowed_cpus(pid, "clearway").as_deref(),
        Some("0"),
        "thread 1\n{}",
        lb.log()
    );
    assert_eq!(
        allowed_cpus(pid, "clearway-1"),
        Some(last.to_string()),
        "thread 2\n{}",
        lb.log()
    );
    // Both threads still serve.
    for _ in 0..10 {
        assert_eq!(server_of(&ask(&topo, "192.0.2.1:80", None)), "s1");
    }
}

/// How many of `samples` looks at the scheduler state of `pid`'s thread `name`, 5 ms apart,
/// found it running or ready to run (`R`) rather than asleep.
fn times_running(pid: u32, name: &str, samples: usize) -> usize {
    let tid = std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("the process's threads")
        .flatten()
        .find(|t| std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim() == name))
        .unwrap_or_else(|| panic!("no thread named {name}"))
        .path();
    (0..samples)
        .filter(|_| {
            std::thread::sleep(std::time::Duration::from_millis(5));
            let stat = std::fs::read_to_string(tid.join("stat")).expect("thread stat");
            // The state is the first field after the parenthesised name.
            stat.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with('R'))
        })
        .count()
}

#[test]
fn busy_polling_keeps_every_event_loop_awake_and_serving() {
    let Some(topo) = topology("thrbusy") else { return };
    let _srv = peer_servers(&topo, &["198.51.100.10:80"]);
    let lb = start(
        &topo,
        &CFG.replace("nbthread 2\n", "nbthread 2\n    busy-polling\n"),
        &[80],
    );
    let pid = lb.pid().expect("pid");
    // No client is connected: an event loop that is not busy-polling sleeps in epoll_wait
    // (state S) all the time.
    for name in ["clearway", "clearway-1"] {
        let running = times_running(pid, name, 40);
        assert!(
            running >= 30,
            "thread {name} ran in {running} of 40 looks\n{}",
            lb.log()
        );
    }
    for _ in 0..10 {
        assert_eq!(server_of(&ask(&topo, "192.0.2.1:80", None)), "s1");
    }
}

#[test]
fn without_busy_polling_an_idle_event_loop_sleeps() {
    let Some(topo) = topology("thrnobusy") else { return };
    let _srv = peer_servers(&topo, &["198.51.100.10:80"]);
    let cfg = CFG.replace("nbthread 2\n", "nbthread 2\n    busy-polling\n    no busy-polling\n");
    let lb = start(&topo, &cfg, &[80]);
    assert_eq!(server_of(&ask(&topo, "192.0.2.1:80", None)), "s1");
    let pid = lb.pid().expect("pid");
    for name in ["clearway", "clearway-1"] {
        let running = times_running(pid, name, 40);
        assert!(
            running <= 10,
            "thread {name} ran in {running} of 40 looks\n{}",
            lb.log()
        );
    }
}
