//! The Galera scenario end to end: MariaDB servers behind a VIP on no interface, checked over
//! HTTP on port 9200 (a clustercheck-style responder), `usesrc clientip`, and a real `mariadb`
//! client that must see its own address in `SELECT USER()`; then the broken return path, where
//! the client must fail promptly and Clearway's log must say why.

mod common;
use clearway_testkit::{daemons, Clearway, HttpStatusServer};
use common::*;

const SYNCED: &str = "Galera Cluster Node is synced.\n";

/// Runs `SELECT USER(), @@bind_address` (who the server sees, which server) through the VIP from the client namespace, with `from` as source address.
fn mariadb_client(topo: &clearway_testkit::Topology, from: &str) -> std::process::Output {
    topo.client
        .sh(&format!("ip route replace 203.0.113.80/32 via 192.0.2.1 src {from}"));
    topo.client.exec(
        "mariadb",
        &[
            "--no-defaults",
            "-h",
            "203.0.113.80",
            "-P",
            "3306",
            "--connect-timeout",
            "10",
            "-uapp",
            "-papp",
            "-N",
            "-e",
            "SELECT USER(), @@bind_address",
        ],
    )
}

#[test]
fn galera_clients_keep_their_address_and_a_broken_return_path_fails_fast() {
    let Some(topo) = topology("galera") else { return };
    topo.apply_manual_tproxy();
    let mut nodes = Vec::new(); // kept alive until the end of the test
    let mut checks = Vec::new();
    for ip in ["198.51.100.10", "198.51.100.11"] {
        let db = daemons::mariadb(&topo.server, addr(&format!("{ip}:3306")));
        db.sql("CREATE USER 'app'@'192.0.2.%' IDENTIFIED BY 'app'");
        nodes.push(db);
        checks.push(HttpStatusServer::start(
            &topo.server,
            addr(&format!("{ip}:9200")),
            200,
            SYNCED,
        ));
    }
    let cfg = "global\n    maxconn 1000\n\
               defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 1m\n    timeout server 1m\n\
               listen galera\n    bind 203.0.113.80:3306 transparent\n    balance leastconn\n\
               \x20   option httpchk\n    source 0.0.0.0 usesrc clientip\n\
               \x20   server node1 198.51.100.10:3306 check port 9200 inter 200ms rise 2 fall 2\n\
               \x20   server node2 198.51.100.11:3306 check port 9200 inter 200ms rise 2 fall 2 backup\n";
    let lb = Clearway::start(&topo.lb, binary(), cfg, &[3306]);
    let out = mariadb_client(&topo, "192.0.2.2");
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        lb.log()
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "app@192.0.2.2\t198.51.100.10",
        "the database sees the client itself"
    );
    let out = mariadb_client(&topo, "192.0.2.3");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "app@192.0.2.3\t198.51.100.10"
    );

    // node1 is not synced: its clustercheck says 503 and the backup takes over.
    checks[0].set(503, "Galera Cluster Node is not synced.\n");
    assert!(
        lb.wait_log("Server galera/node1 is DOWN, reason: Layer7 wrong status", TIMEOUT),
        "{}",
        lb.log()
    );
    let out = mariadb_client(&topo, "192.0.2.2");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "app@192.0.2.2\t198.51.100.11",
        "served by the backup node"
    );
    checks[0].set(200, SYNCED);
    assert!(lb.wait_log("Server galera/node1 is UP", TIMEOUT), "{}", lb.log());

    // The servers' default gateway becomes another router: their replies bypass the proxy.
    let _router = topo.route_server_via_router();
    assert!(
        lb.wait_log("Server galera/node1 is UP, return path broken", TIMEOUT),
        "{}",
        lb.log()
    );
    assert!(
        lb.wait_log("Server galera/node2 is UP, return path broken", TIMEOUT),
        "{}",
        lb.log()
    );
    let out = mariadb_client(&topo, "192.0.2.2");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("ERROR 2013") || err.contains("Lost connection"), "{err}");
    assert!(
        lb.wait_log("every server's return path is broken", TIMEOUT),
        "the log says why: {}",
        lb.log()
    );
    assert!(
        !lb.log().contains("connect attempt"),
        "refused at once, no connect attempt hangs: {}",
        lb.log()
    );
}
