//! Signals, as HAProxy reads them: SIGHUP (logrotate's), SIGUSR2 and SIGQUIT do not stop the
//! process or cut a connection; SIGUSR1 is a soft stop: the listeners close at once, the
//! connections in progress are served to their end, then the process exits.

mod common;
use common::*;
use nix::sys::signal::Signal;

#[test]
fn hup_usr2_and_quit_are_survived_and_usr1_stops_softly() {
    let Some(topo) = topology("sig") else { return };
    let _srv = holding_servers(&topo, &["198.51.100.10:8080"]);
    let cfg = "defaults\n    mode tcp\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n\
               listen app\n    bind 192.0.2.1:8080\n    server s1 198.51.100.10:8080\n";
    let mut lb = start(&topo, cfg, &[8080]);
    // A connection in progress: the server holds it until the client half-closes.
    let held = hold(&topo, "192.0.2.1:8080");
    for (sig, name) in [
        (Signal::SIGHUP, "SIGHUP"),
        (Signal::SIGUSR2, "SIGUSR2"),
        (Signal::SIGQUIT, "SIGQUIT"),
    ] {
        lb.signal(sig);
        assert!(
            lb.wait_log(&format!("{name} received and ignored"), TIMEOUT),
            "{}",
            lb.log()
        );
    }
    assert!(lb.exited().is_none(), "{}", lb.log());
    // Still serving new connections too.
    let other = hold(&topo, "192.0.2.1:8080");
    assert_eq!(server_of(&read_all(other)), "s1");

    lb.signal(Signal::SIGUSR1);
    assert!(lb.wait_log("soft stop", TIMEOUT), "{}", lb.log());
    let to = addr("192.0.2.1:8080");
    let refused = || {
        topo.client
            .enter(move || std::net::TcpStream::connect_timeout(&to, TIMEOUT))
            .is_err()
    };
    assert!(eventually(refused), "the listener stays open after SIGUSR1");
    // The connection in progress keeps the process until it ends, and gets its answer.
    assert!(lb.exited().is_none(), "{}", lb.log());
    assert_eq!(server_of(&read_all(held)), "s1");
    let mut status = None;
    assert!(
        eventually(|| {
            status = lb.exited();
            status.is_some()
        }),
        "still running after its last session: {}",
        lb.log()
    );
    assert!(status.is_some_and(|s| s.success()), "{status:?}: {}", lb.log());
}
