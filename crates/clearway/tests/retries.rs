//! `retry-on` side by side with HAProxy: a request answered 503 goes again (to another
//! server with `option redispatch`, to the same one without), a failed connection is not
//! tried again when `conn-failure` is not listed, and the retries show in the statistics.

mod common;
use clearway_testkit::HttpStatusServer;
use common::http::{echo, values, DEFAULTS};
use common::*;

const CONFIG: &str = "global\n    stats socket DIR/PORT.sock level admin\n{DEFAULTS}    retries 2\n\
    frontend fe\n    bind 192.0.2.1:PORT\n\
    \x20   use_backend same if { path_beg /same }\n    use_backend noconn if { path_beg /noconn }\n\
    \x20   default_backend redisp\n\
    backend redisp\n    balance roundrobin\n    option redispatch\n    retry-on 503 empty-response\n\
    \x20   server down 198.51.100.10:80\n    server up 198.51.100.11:80\n\
    backend same\n    retry-on 503\n    server down 198.51.100.10:80\n\
    backend noconn\n    retry-on 503\n    server gone 198.51.100.12:80\n";

#[test]
fn requests_are_retried_on_what_retry_on_names_as_haproxy_retries_them() {
    let Some(topo) = topology("retry") else { return };
    let down = HttpStatusServer::start(&topo.server, addr("198.51.100.10:80"), 503, "busy");
    let _up = echo(&topo, "198.51.100.11:80", "web2");
    let dir = socket_dir("retry");
    let cfg = CONFIG
        .replace("{DEFAULTS}", DEFAULTS)
        .replace("DIR", &dir.display().to_string());
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    let mut seen = Vec::new();
    for port in [80u16, 81] {
        let sock = dir.join(format!("{port}.sock"));
        let get = |path: &str| {
            let out = topo.client.exec(
                "curl",
                &[
                    "-sS",
                    "--max-time",
                    "10",
                    "-w",
                    " %{http_code}",
                    &format!("http://192.0.2.1:{port}{path}"),
                ],
            );
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            let server = values(&text, "server").join("");
            format!("{server} {}", text.rsplit(' ').next().unwrap_or(""))
        };
        let mut got = Vec::new();
        // Whichever server round robin deals first, the answer comes from the one up.
        for _ in 0..4 {
            got.push(get("/"));
        }
        // Without redispatch, the same server again: asked 1 + retries times.
        let before = down.count();
        got.push(get("/same"));
        got.push(format!("asked {}", down.count() - before));
        // Nothing listens, and conn-failure is not listed: one connection attempt, no retry.
        got.push(get("/noconn"));
        let rows = csv_rows(&cli(&sock, "show stat"));
        for px in ["redisp", "same", "noconn"] {
            let r = rows
                .iter()
                .find(|r| r["pxname"] == px && r["svname"] == "BACKEND")
                .expect("backend row");
            got.push(format!("{px} wretr={} wredis={}", r["wretr"], r["wredis"]));
        }
        seen.push(got);
    }
    let cw = &seen[0];
    assert!(cw[..4].iter().all(|g| g == "web2 200"), "{cw:?}");
    assert_eq!(cw[4], " 503", "{cw:?}");
    assert_eq!(cw[5], "asked 3", "{cw:?}");
    assert_eq!(cw[6], " 503", "{cw:?}");
    assert_eq!(seen[0], seen[1], "Clearway, then HAProxy");
    let _ = std::fs::remove_dir_all(&dir);
}
