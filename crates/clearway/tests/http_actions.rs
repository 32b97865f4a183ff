//! HTTP actions side by side with HAProxy: `set-src` (what ACLs, `X-Forwarded-For` and
//! stick tables see), `sc-set-gpt0`, `set-log-level silent`, `normalize-uri`,
//! `disable-l7-retry`, `silent-drop`, `set-nice` (no effect), and `option
//! http-restrict-req-hdr-names`.

mod common;
use clearway_testkit::HttpStatusServer;
use common::http::{echo, headers, values, DEFAULTS};
use common::*;

const CONFIG: &str = "global\n    stats socket DIR/PORT.sock level admin\n    log 127.0.0.1:1PORT5 local0\n    expose-experimental-directives\n\
    {DEFAULTS}frontend fe\n    bind 192.0.2.1:PORT\n    log global\n    log-format \"lv %HP\"\n\
    \x20   option forwardfor\n\
    \x20   stick-table type ip size 10 store gpt0\n\
    \x20   http-request set-nice 100\n\
    \x20   http-request set-src hdr(x-real-ip) if { hdr(x-real-ip) -m found }\n\
    \x20   http-request set-header X-Src %[src]\n\
    \x20   http-request track-sc0 src\n\
    \x20   http-request sc-set-gpt0(0) 7 if { path_beg /mark }\n\
    \x20   http-request set-log-level silent if { path_beg /quiet }\n\
    \x20   http-request normalize-uri path-merge-slashes\n\
    \x20   http-request normalize-uri path-strip-dotdot\n\
    \x20   http-request normalize-uri percent-to-uppercase\n\
    \x20   http-request normalize-uri query-sort-by-name\n\
    \x20   http-request silent-drop if { path_beg /drop }\n\
    \x20   http-request disable-l7-retry if { path_beg /once }\n\
    \x20   use_backend flaky if { path_beg /flaky } || { path_beg /once }\n\
    \x20   default_backend be\n\
    backend be\n    server web1 198.51.100.10:80\n\
    backend flaky\n    retry-on 503\n    retries 2\n    server down 198.51.100.11:80\n";

#[test]
fn http_actions_act_as_haproxy() {
    let Some(topo) = topology("hact") else { return };
    let _w = echo(&topo, "198.51.100.10:80", "web1");
    let down = HttpStatusServer::start(&topo.server, addr("198.51.100.11:80"), 503, "busy");
    let dir = socket_dir("hact");
    let receivers = udp_receivers(&topo, &[1805, 1815]);
    let cfg = CONFIG
        .replace("{DEFAULTS}", DEFAULTS)
        .replace("DIR", &dir.display().to_string());
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    let mut seen = Vec::new();
    for (port, rx) in [(80u16, &receivers[0]), (81, &receivers[1])] {
        let sock = dir.join(format!("{port}.sock"));
        let curl = |path: &str, opts: &[&str]| {
            let mut args = vec!["-sS", "--max-time", "10", "-w", "\n%{http_code}"];
            args.extend_from_slice(opts);
            let url = format!("http://192.0.2.1:{port}{path}");
            args.push(&url);
            String::from_utf8_lossy(&topo.client.exec("curl", &args).stdout).into_owned()
        };
        let mut got = Vec::new();
        // The client's address from a header, and a target put in one form.
        let body = curl(
            "//a/b/../c?z=1&a=2%2f",
            &["--path-as-is", "-H", "X-Real-IP: 203.0.113.9"],
        );
        got.push(values(&body, "line").join(""));
        got.push(format!(
            "src={} xff={}",
            headers(&body, "x-src").join(","),
            headers(&body, "x-forwarded-for").join(",")
        ));
        // gpt0 set on the entry of the address the header gave.
        curl("/mark", &["-H", "X-Real-IP: 203.0.113.9"]);
        let table = cli(&sock, "show table fe");
        got.push(
            table
                .lines()
                .filter(|l| l.starts_with("0x"))
                .map(|l| {
                    l.split_whitespace()
                        .filter(|w| w.starts_with("key=") || w.starts_with("gpt0="))
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect::<Vec<_>>()
                .join(";"),
        );
        // A silenced request leaves no line; the others do.
        for p in ["/l1", "/quiet", "/l2"] {
            curl(p, &[]);
        }
        let mut lines = Vec::new();
        let mut buf = vec![0u8; 4096];
        while lines.len() < 2 {
            let Ok(n) = rx.recv(&mut buf) else { break };
            let l = String::from_utf8_lossy(&buf[..n]).into_owned();
            if let Some((_, rest)) = l.split_once(" lv ") {
                if ["/l1", "/quiet", "/l2"].iter().any(|p| rest.starts_with(p)) {
                    lines.push(rest.trim_end().to_string());
                }
            }
        }
        got.push(lines.join(","));
        // Retries: none when disabled for the request, `retries` more otherwise.
        let before = down.count();
        got.push(curl("/once", &[]).lines().last().unwrap_or("").to_string());
        got.push(format!("once asked {}", down.count() - before));
        let before = down.count();
        got.push(curl("/flaky", &[]).lines().last().unwrap_or("").to_string());
        got.push(format!("flaky asked {}", down.count() - before));
        // Dropped: the client hears nothing (curl gives up: no status).
        let out = topo.client.exec(
            "curl",
            &[
                "-sS",
                "--max-time",
                "1",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                &format!("http://192.0.2.1:{port}/drop"),
            ],
        );
        got.push(format!("drop {}", String::from_utf8_lossy(&out.stdout)));
        seen.push(got);
    }
    let cw = &seen[0];
    assert_eq!(cw[0], "GET /a/c?a=2%2F&z=1 HTTP/1.1", "{cw:?}");
    assert_eq!(cw[1], "src=203.0.113.9 xff=203.0.113.9", "{cw:?}");
    assert!(cw[2].contains("key=203.0.113.9 gpt0=7"), "{cw:?}");
    assert_eq!(cw[3], "/l1,/l2", "{cw:?}");
    assert_eq!(cw[5], "once asked 1", "{cw:?}");
    assert_eq!(cw[7], "flaky asked 3", "{cw:?}");
    assert_eq!(cw[8], "drop 000", "{cw:?}");
    for (i, (a, b)) in seen[0].iter().zip(&seen[1]).enumerate() {
        assert_eq!(a, b, "item {i}: Clearway, then HAProxy");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn capture_actions_fill_the_slots_the_log_shows_as_haproxy() {
    let Some(topo) = topology("hcap") else { return };
    let _w = echo(&topo, "198.51.100.10:80", "web1");
    let receivers = udp_receivers(&topo, &[1806, 1816]);
    let cfg = format!(
        "global\n    log 127.0.0.1:1PORT6 local0\n{DEFAULTS}frontend fe\n    bind 192.0.2.1:PORT\n    log global\n\
         \x20   log-format \"cap %hr %hs\"\n\
         \x20   capture request header Host len 20\n\
         \x20   declare capture request len 8\n\
         \x20   declare capture response len 4\n\
         \x20   http-request capture req.hdr(x-a) len 5\n\
         \x20   http-request capture str(abcdefghijkl) id 1\n\
         \x20   http-response capture res.hdr(content-type) id 0\n\
         \x20   http-response set-header X-Cap %[capture.req.hdr(2)]/%[capture.res.hdr(0)]\n\
         \x20   default_backend be\n\
         backend be\n    server web1 198.51.100.10:80\n"
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    let mut seen = Vec::new();
    for (port, rx) in [(80u16, &receivers[0]), (81, &receivers[1])] {
        let url = format!("http://192.0.2.1:{port}/");
        let out = topo.client.exec(
            "curl",
            &[
                "-sS",
                "-i",
                "--max-time",
                "10",
                "-H",
                "Host: lb.test",
                "-H",
                "X-A: hello world",
                &url,
            ],
        );
        let text = String::from_utf8_lossy(&out.stdout).replace('\r', "");
        let x_cap = text
            .lines()
            .find_map(|l| l.strip_prefix("x-cap: ").or(l.strip_prefix("X-Cap: ")));
        let mut got = vec![x_cap.unwrap_or_default().to_string()];
        let mut buf = vec![0u8; 4096];
        if let Ok(n) = rx.recv(&mut buf) {
            let l = String::from_utf8_lossy(&buf[..n]).into_owned();
            got.push(
                l.split_once(" cap ")
                    .map_or(l.clone(), |(_, r)| r.trim_end().to_string()),
            );
        }
        seen.push(got);
    }
    assert_eq!(seen[0], ["hello/text", "{lb.test|abcdefgh|hello} {text}"], "{seen:?}");
    assert_eq!(seen[0], seen[1], "Clearway, then HAProxy");
}

#[test]
fn header_names_beyond_letters_digits_and_dashes_are_kept_dropped_or_refused_as_haproxy() {
    let Some(topo) = topology("hrst") else { return };
    let _w = echo(&topo, "198.51.100.10:80", "web1");
    // The frontend's rules run before its option: a header they add with an underscore is
    // dropped too; the backend's option applies after the backend's rules.
    let cfg = format!(
        "{DEFAULTS}frontend fe\n    bind 192.0.2.1:PORT\n    option http-restrict-req-hdr-names delete\n\
         \x20   http-request set-header x-added_by fe\n\
         \x20   use_backend strict if {{ path_beg /strict }}\n    default_backend be\n\
         backend be\n    http-request set-header x-late_one be\n    server web1 198.51.100.10:80\n\
         frontend plain\n    bind 192.0.2.1:1PORT\n    default_backend strict\n\
         backend strict\n    option http-restrict-req-hdr-names reject\n    server web1 198.51.100.10:80\n"
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    for (who, port) in [("clearway", 80), ("haproxy", 81)] {
        let url = format!("http://192.0.2.1:{port}/a");
        let body = common::http::get(&topo, &url, &["-H", "X_Forwarded_For: 10.9.9.9", "-H", "x-ok: 1"]);
        assert!(headers(&body, "x_forwarded_for").is_empty(), "{who}: {body}");
        assert!(headers(&body, "x-added_by").is_empty(), "{who}: {body}");
        assert_eq!(headers(&body, "x-ok"), ["1"], "{who}: {body}");
        // Added by the backend's rules, after the frontend's option ran.
        assert_eq!(headers(&body, "x-late_one"), ["be"], "{who}: {body}");
        // Through `fe`, the frontend's deletion came first: the strict backend sees none.
        let url = format!("http://192.0.2.1:{port}/strict");
        assert_eq!(
            http_code(&topo, &url, &["-H", "X_Forwarded_For: 10.9.9.9"]),
            "200",
            "{who}"
        );
        // `reject`: 403 for a request with such a name, the others pass.
        let url = format!("http://192.0.2.1:1{port}/");
        assert_eq!(
            http_code(&topo, &url, &["-H", "X_Forwarded_For: 10.9.9.9"]),
            "403",
            "{who}"
        );
        assert_eq!(
            http_code(&topo, &url, &["-H", "X-Forwarded-For: 10.9.9.9"]),
            "200",
            "{who}"
        );
    }
}
