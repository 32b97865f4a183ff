//! Each `balance` algorithm, weights and backup servers, observed at real servers.

mod common;
use common::*;
use std::collections::HashMap;

const DEFAULTS: &str = TCP_DEFAULTS;
const SERVERS: [&str; 3] = ["198.51.100.10:80", "198.51.100.11:80", "198.51.100.12:80"];

fn config_on(port: u16, balance: &str, server_lines: &str) -> String {
    format!("{DEFAULTS}frontend ft\n    bind 192.0.2.1:{port}\n    default_backend bk\nbackend bk\n    balance {balance}\n{server_lines}")
}

fn config(balance: &str, server_lines: &str) -> String {
    config_on(80, balance, server_lines)
}

fn three(params: [&str; 3]) -> String {
    (0..3)
        .map(|i| format!("    server s{} {} {}\n", i + 1, SERVERS[i], params[i]))
        .collect()
}

fn sequence(topo: &clearway_testkit::Topology, n: usize, from: &str) -> Vec<String> {
    (0..n)
        .map(|_| server_of(&ask(topo, "192.0.2.1:80", Some(from))))
        .collect()
}

#[test]
fn roundrobin_cycles_in_order_and_honours_weights() {
    let Some(topo) = topology("rr") else { return };
    let _srv = peer_servers(&topo, &SERVERS);
    let lb = start(&topo, &config("roundrobin", &three(["", "", ""])), &[80]);
    assert_eq!(sequence(&topo, 6, "192.0.2.2"), ["s1", "s2", "s3", "s1", "s2", "s3"]);
    drop(lb);
    let _lb = start(
        &topo,
        &config("roundrobin", &three(["weight 1", "weight 2", "weight 3"])),
        &[80],
    );
    let mut counts: HashMap<String, usize> = HashMap::new();
    let seq = sequence(&topo, 12, "192.0.2.2");
    for s in &seq {
        *counts.entry(s.clone()).or_default() += 1;
    }
    assert_eq!((counts["s1"], counts["s2"], counts["s3"]), (2, 4, 6), "{seq:?}");
    // Smooth: the heaviest server never gets more than two in a row here.
    assert!(!seq.windows(3).any(|w| w.iter().all(|s| s == "s3")), "{seq:?}");
}

#[test]
fn static_rr_honours_weights() {
    let Some(topo) = topology("srr") else { return };
    let _srv = peer_servers(&topo, &SERVERS);
    let _lb = start(
        &topo,
        &config("static-rr", &three(["weight 3", "weight 1", "weight 0"])),
        &[80],
    );
    let seq = sequence(&topo, 8, "192.0.2.2");
    assert_eq!(seq.iter().filter(|s| *s == "s1").count(), 6, "{seq:?}");
    assert_eq!(seq.iter().filter(|s| *s == "s2").count(), 2, "{seq:?}");
    assert!(!seq.contains(&"s3".to_string()), "weight 0 gets no traffic: {seq:?}");
}

#[test]
fn source_hash_keeps_each_client_on_one_server() {
    let Some(topo) = topology("src") else { return };
    let _srv = peer_servers(&topo, &SERVERS);
    let _lb = start(&topo, &config("source", &three(["", "", ""])), &[80]);
    for client in ["192.0.2.2", "192.0.2.3"] {
        let seq = sequence(&topo, 6, client);
        assert!(
            seq.iter().all(|s| s == &seq[0]),
            "{client} moved between servers: {seq:?}"
        );
    }
}

#[test]
fn random_follows_weights_and_never_picks_a_weight_zero_server() {
    let Some(topo) = topology("rnd") else { return };
    let _srv = peer_servers(&topo, &SERVERS);
    let _lb = start(
        &topo,
        &config("random", &three(["weight 1", "weight 3", "weight 0"])),
        &[80],
    );
    let got = sequence(&topo, 80, "192.0.2.2");
    let n = |s: &str| got.iter().filter(|g| *g == s).count();
    // Weighted draws, 1 to 3 (the chance of s1 reaching s2's count in 80 is below 1e-6).
    assert!(n("s1") > 0 && n("s2") > n("s1") && n("s3") == 0, "{got:?}");
}

#[test]
fn source_with_consistent_hashing_moves_only_the_clients_of_a_server_that_goes() {
    let Some(topo) = topology("srcc") else { return };
    let _srv = peer_servers(&topo, &SERVERS);
    let sock = std::env::temp_dir().join(clearway_testkit::netns::unique_name("srcc"));
    let cfg = format!(
        "global\n    stats socket {} level admin\n{}",
        sock.display(),
        config("source\n    hash-type consistent", &three(["", "", ""]))
    );
    let _lb = start(&topo, &cfg, &[80]);
    let clients = ["192.0.2.2", "192.0.2.3"];
    let before: Vec<String> = clients
        .iter()
        .map(|c| server_of(&ask(&topo, "192.0.2.1:80", Some(c))))
        .collect();
    // A server neither client uses goes into maintenance: neither moves (with the map-based
    // hash, the clients of the remaining servers are dealt again).
    let gone = ["s1", "s2", "s3"]
        .into_iter()
        .find(|s| !before.iter().any(|b| b == s))
        .expect("two clients, three servers");
    cli(&sock, &format!("disable server bk/{gone}"));
    for (c, was) in clients.iter().zip(&before) {
        for _ in 0..3 {
            assert_eq!(&server_of(&ask(&topo, "192.0.2.1:80", Some(c))), was, "{c}");
        }
    }
    // The server of the first client goes: it moves, the other stays.
    cli(&sock, &format!("disable server bk/{}", before[0]));
    let now: Vec<String> = clients
        .iter()
        .map(|c| server_of(&ask(&topo, "192.0.2.1:80", Some(c))))
        .collect();
    assert_ne!(now[0], before[0]);
    if before[1] != before[0] {
        assert_eq!(now[1], before[1]);
    }
    let _ = std::fs::remove_file(&sock);
}

#[test]
fn leastconn_sends_new_connections_to_the_least_busy_server() {
    let Some(topo) = topology("lc") else { return };
    let servers = holding_servers(&topo, &SERVERS[..2]);
    let _lb = start(&topo, &config("leastconn", &three(["", "", "disabled"])), &[80]);
    // Three held connections: 2 on one server, 1 on the other.
    let held: Vec<_> = (0..3).map(|_| hold(&topo, "192.0.2.1:80")).collect();
    assert!(eventually(|| servers.iter().map(|s| s.active()).sum::<usize>() == 3));
    let busy = servers.iter().map(|s| s.active()).collect::<Vec<_>>();
    assert!(busy.contains(&1) && busy.contains(&2), "{busy:?}");
    // The next one goes to the server with one connection.
    let fourth = hold(&topo, "192.0.2.1:80");
    assert!(
        eventually(|| servers.iter().all(|s| s.active() == 2)),
        "{:?}",
        servers.iter().map(|s| s.active()).collect::<Vec<_>>()
    );
    drop((held, fourth));
}

#[test]
fn first_fills_servers_in_order() {
    let Some(topo) = topology("first") else {
        return;
    };
    let servers = holding_servers(&topo, &SERVERS[..2]);
    let _lb = start(
        &topo,
        &config("first", &three(["maxconn 2", "maxconn 2", "disabled"])),
        &[80],
    );
    let a = hold(&topo, "192.0.2.1:80");
    let b = hold(&topo, "192.0.2.1:80");
    assert!(eventually(|| servers[0].active() == 2));
    assert_eq!(
        servers[1].active(),
        0,
        "the second server gets nothing while the first has room"
    );
    let c = hold(&topo, "192.0.2.1:80");
    assert!(eventually(|| servers[1].active() == 1));
    drop((a, b, c));
}

#[test]
fn backup_serves_only_when_no_active_server_is_left() {
    let Some(topo) = topology("bkp") else { return };
    let _srv = peer_servers(&topo, &SERVERS);
    let lines = three(["", "backup", "backup"]);
    let _lb = start(&topo, &config("roundrobin", &lines), &[80]);
    assert_eq!(sequence(&topo, 3, "192.0.2.2"), ["s1", "s1", "s1"]);
    // With the only active server disabled, the first backup takes all the traffic...
    let _lb2 = start(
        &topo,
        &config_on(81, "roundrobin", &three(["disabled", "backup", "backup"])),
        &[81],
    );
    let seq: Vec<String> = (0..4).map(|_| server_of(&ask(&topo, "192.0.2.1:81", None))).collect();
    assert_eq!(seq, ["s2", "s2", "s2", "s2"]);
    // ...and with `option allbackups`, all backups share it.
    let cfg = config_on(
        82,
        "roundrobin\n    option allbackups",
        &three(["disabled", "backup", "backup"]),
    );
    let _lb3 = start(&topo, &cfg, &[82]);
    let seq: Vec<String> = (0..4).map(|_| server_of(&ask(&topo, "192.0.2.1:82", None))).collect();
    assert_eq!(seq, ["s2", "s3", "s2", "s3"]);
}

#[test]
fn request_hashes_keep_each_uri_parameter_and_host_on_one_server_as_haproxy_does() {
    let Some(topo) = topology("bhash") else { return };
    let _servers: Vec<_> = (0..3)
        .map(|i| clearway_testkit::HttpEchoServer::start(&topo.server, addr(SERVERS[i]), &format!("s{}", i + 1)))
        .collect();
    let srv = three(["", "", ""]);
    let cfg = format!(
        "defaults\n    mode http\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n\
         frontend ft\n    bind 192.0.2.1:PORT\n    use_backend depth if {{ path_beg /d/ }}\n\
         \x20   use_backend param if {{ path_beg /p }}\n    use_backend host if {{ path_beg /h }}\n    default_backend uri\n\
         backend uri\n    balance uri\n{srv}backend depth\n    balance uri depth 2\n{srv}\
         backend param\n    balance url_param user\n{srv}backend host\n    balance hdr(Host) use_domain_only\n{srv}"
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    let server = |port: u16, path: &str, host: &str| {
        let url = format!("http://192.0.2.1:{port}{path}");
        let h = format!("Host: {host}");
        common::http::values(&common::http::get(&topo, &url, &["-H", &h]), "server").join("")
    };
    for port in [80, 81] {
        // The same target: the same server, connection after connection; targets spread.
        let first = server(port, "/img/logo.png?v=1", "x");
        for q in ["?v=2", "", "?other"] {
            assert_eq!(server(port, &format!("/img/logo.png{q}"), "x"), first, "port {port}");
        }
        let spread: std::collections::HashSet<String> =
            (0..24).map(|i| server(port, &format!("/page/{i}"), "x")).collect();
        assert!(spread.len() >= 2, "port {port}: {spread:?}");
        // depth 2: the first two directories (`/d/a`) decide.
        let d = server(port, "/d/a/1", "x");
        assert!(
            ["/d/a/2", "/d/a/3/4", "/d/a"].iter().all(|p| server(port, p, "x") == d),
            "port {port}"
        );
        // url_param: the value decides; without one, round robin.
        let alice = server(port, "/p?user=alice", "x");
        assert!(
            (0..4).all(|_| server(port, "/p?x=1&user=alice", "x") == alice),
            "port {port}"
        );
        let anon: std::collections::HashSet<String> = (0..6).map(|_| server(port, "/p?x=1", "x")).collect();
        assert!(anon.len() >= 2, "port {port}: without the parameter, {anon:?}");
        // hdr(Host) use_domain_only: www.example.com and api.example.com hash `example`.
        let h = server(port, "/h", "www.example.com");
        assert!(
            ["api.example.com", "example.org:8080"]
                .iter()
                .all(|host| server(port, "/h", host) == h),
            "port {port}"
        );
    }
}

#[test]
fn map_based_hashes_pick_the_server_haproxy_picks() {
    let Some(topo) = topology("bmap") else { return };
    let _servers: Vec<_> = (0..3)
        .map(|i| clearway_testkit::HttpEchoServer::start(&topo.server, addr(SERVERS[i]), &format!("s{}", i + 1)))
        .collect();
    // Unequal weights: the slots of HAProxy's server map interleave the servers. The picks
    // are HAProxy's whatever the weights' order, so the hash (sdbm) and the map are its own.
    let srv = three(["weight 1", "weight 2", "weight 3"]);
    let cfg = format!(
        "defaults\n    mode http\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n\
         frontend ft\n    bind 192.0.2.1:PORT\n    use_backend param if {{ path_beg /p }}\n\
         \x20   use_backend host if {{ path_beg /h }}\n    default_backend uri\n\
         backend uri\n    balance uri\n{srv}backend param\n    balance url_param user\n{srv}\
         backend host\n    balance hdr(x-key)\n{srv}"
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    let server = |port: u16, path: &str, key: &str| {
        let url = format!("http://192.0.2.1:{port}{path}");
        let h = format!("x-key: {key}");
        common::http::values(&common::http::get(&topo, &url, &["-H", &h]), "server").join("")
    };
    let picks = |port: u16| -> Vec<String> {
        (0..24)
            .flat_map(|i| {
                [
                    server(port, &format!("/x/{i}"), "-"),
                    server(port, &format!("/p?user=u{i}"), "-"),
                    server(port, "/h", &format!("key-{i}")),
                    // Without the parameter: round robin over the same map.
                    server(port, "/p?none", "-"),
                ]
            })
            .collect()
    };
    let (cw, hap) = (picks(80), picks(81));
    assert_eq!(cw, hap);
    // And they spread over all three.
    assert_eq!(cw.iter().collect::<std::collections::HashSet<_>>().len(), 3, "{cw:?}");
}

#[test]
fn source_hashing_picks_the_server_haproxy_picks() {
    let Some(topo) = topology("bsrc") else { return };
    let _servers: Vec<_> = (0..3)
        .map(|i| clearway_testkit::HttpEchoServer::start(&topo.server, addr(SERVERS[i]), &format!("s{}", i + 1)))
        .collect();
    // Clients from twenty addresses (the test's own, in its client namespace).
    for n in 20..40 {
        topo.client.sh(&format!("ip addr add 192.0.2.{n}/24 dev eth0"));
    }
    let srv = three(["weight 3", "weight 1", "weight 2"]);
    let cfg = format!(
        "defaults\n    mode http\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n\
         frontend ft\n    bind 192.0.2.1:PORT\n    default_backend bk\nbackend bk\n    balance source\n{srv}"
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    let picks = |port: u16| -> Vec<String> {
        (20..40)
            .map(|n| {
                let url = format!("http://192.0.2.1:{port}/");
                let from = format!("192.0.2.{n}");
                common::http::values(&common::http::get(&topo, &url, &["--interface", &from]), "server").join("")
            })
            .collect()
    };
    let (cw, hap) = (picks(80), picks(81));
    assert_eq!(cw, hap);
    assert_eq!(cw.iter().collect::<std::collections::HashSet<_>>().len(), 3, "{cw:?}");
}
