//! Proxies as a whole, side by side with HAProxy: `disabled` stops a frontend (nothing bound)
//! or a backend (its clients get a 503), `enabled` undoes a `disabled` from defaults, and
//! stopped proxies leave the statistics.

mod common;
use common::http::{echo, get, values, DEFAULTS};
use common::*;

#[test]
fn disabled_proxies_are_checked_then_stopped_as_haproxy_does() {
    let Some(topo) = topology("pxoff") else { return };
    let _web = echo(&topo, "198.51.100.10:80", "web1");
    let dir = std::env::temp_dir().join(clearway_testkit::netns::unique_name("pxoff"));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = format!(
        "global\n    stats socket {d}/PORT.sock level admin\n{DEFAULTS}\
         frontend ft\n    bind 192.0.2.1:PORT\n    use_backend off if {{ path_beg /off }}\n    default_backend on\n\
         frontend stopped\n    disabled\n    bind 192.0.2.1:1PORT\n    default_backend on\n\
         backend on\n    id 3\n    server web1 198.51.100.10:80\n\
         backend off\n    disabled\n    server web1 198.51.100.10:80 check\n\
         defaults\n    mode http\n    disabled\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n\
         listen relisted\n    enabled\n    bind 192.0.2.1:2PORT\n    server web1 198.51.100.10:80\n\
         listen gone\n    bind 192.0.2.1:3PORT\n    server web1 198.51.100.10:80\n",
        d = dir.display()
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    for port in [80u16, 81] {
        let url = |p: u16, path: &str| format!("http://192.0.2.1:{p}{path}");
        let body = get(&topo, &url(port, "/"), &[]);
        assert_eq!(values(&body, "server"), ["web1"], "{port}");
        assert_eq!(
            http_code(&topo, &url(port, "/off"), &[]),
            "503",
            "{port}: a disabled backend"
        );
        let relisted = get(&topo, &url(200 + port, "/"), &[]);
        assert_eq!(values(&relisted, "server"), ["web1"], "{port}: enabled again");
        for p in [100 + port, 300 + port] {
            assert_eq!(http_code(&topo, &url(p, "/"), &[]), "000", "{p}: nothing listens");
        }
        let csv = cli(&dir.join(format!("{port}.sock")), "show stat");
        // In the file's order, numbered as HAProxy numbers them: `id 3` is kept, the others
        // take the next free number (disabled ones too: `stopped` has 4, `off` 6).
        let mut proxies: Vec<(String, String)> = csv_rows(&csv)
            .into_iter()
            .map(|r| (r["pxname"].clone(), r["iid"].clone()))
            .collect();
        proxies.dedup();
        let want = [("ft", "2"), ("on", "3"), ("relisted", "7")].map(|(a, b)| (a.to_string(), b.to_string()));
        assert_eq!(proxies, want, "{port}:\n{csv}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn dispatch_sends_a_serverless_backend_to_its_address_as_haproxy_does() {
    let Some(topo) = topology("pxdsp") else { return };
    let _web = echo(&topo, "198.51.100.10:80", "web1");
    let _line = peer_servers(&topo, &["198.51.100.11:80"]);
    let dir = std::env::temp_dir().join(clearway_testkit::netns::unique_name("pxdsp"));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = format!(
        "global\n    stats socket {d}/PORT.sock level admin\n{DEFAULTS}\
         listen web\n    bind 192.0.2.1:PORT\n    dispatch 198.51.100.10:80\n\
         listen line\n    mode tcp\n    bind 192.0.2.1:1PORT\n    dispatch 198.51.100.11:80\n",
        d = dir.display()
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    for port in [80u16, 81] {
        let body = get(&topo, &format!("http://192.0.2.1:{port}/"), &[]);
        assert_eq!(values(&body, "server"), ["web1"], "{port}");
        let answer = ask(&topo, &format!("192.0.2.1:{}", port + 100), None);
        assert!(answer.contains("server=s1"), "{port}: {answer}");
        // No server rows: the address is the backend's own.
        let csv = cli(&dir.join(format!("{port}.sock")), "show stat");
        let rows: Vec<String> = csv_rows(&csv)
            .into_iter()
            .map(|r| format!("{}/{} {}", r["pxname"], r["svname"], r["status"]))
            .collect();
        assert_eq!(
            rows,
            [
                "web/FRONTEND OPEN",
                "web/BACKEND UP",
                "line/FRONTEND OPEN",
                "line/BACKEND UP"
            ],
            "{port}"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}
