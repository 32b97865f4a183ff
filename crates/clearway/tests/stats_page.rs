//! The statistics page (`stats uri`, `stats auth`, `stats admin`, `;csv`, `scope`) and the
//! Prometheus exporter (`http-request use-service prometheus-exporter`), read with curl as a
//! browser, a script and a Prometheus server would, after known traffic; `promtool check
//! metrics` (Debian's prometheus package) must accept the exporter's text.

mod common;
use common::http::{echo, get, values, DEFAULTS};
use common::*;
use std::collections::HashMap;

/// The CSV rows of a `;csv` page, by `proxy/name`, as column -> value.
fn rows_by_name(csv: &str) -> HashMap<String, StatRow> {
    common::csv_rows(csv)
        .into_iter()
        .map(|row| (format!("{}/{}", row["pxname"], row["svname"]), row))
        .collect()
}

/// curl's `-i` output: the status line and headers, lower-cased names.
fn head(topo: &clearway_testkit::Topology, url: &str, opts: &[&str]) -> String {
    let mut o = vec!["-i"];
    o.extend_from_slice(opts);
    get(topo, url, &o)
}

#[test]
fn stats_page_asks_for_credentials_counts_traffic_and_drains_a_server_from_its_form() {
    let Some(topo) = topology("stpg") else { return };
    let _a = echo(&topo, "198.51.100.10:80", "s1");
    let _b = echo(&topo, "198.51.100.11:80", "s2");
    let cfg = format!(
        "{DEFAULTS}frontend web\n    bind 192.0.2.1:80\n    stats uri /admin?stats\n    stats realm Ops\\ only\n\
         \x20   stats auth ops:s3cret\n    stats refresh 10s\n    stats admin if TRUE\n    default_backend app\n\
         backend app\n    server s1 198.51.100.10:80\n    server s2 198.51.100.11:80\n\
         backend unused\n    server u1 198.51.100.12:80\n"
    );
    let _lb = start(&topo, &cfg, &[80]);
    let page = "http://192.0.2.1/admin?stats";
    let creds = ["-u", "ops:s3cret"];

    // No credentials, or wrong ones: a 401 naming the realm, and the page is not shown.
    let r = head(&topo, page, &[]);
    assert!(r.starts_with("HTTP/1.1 401"), "{r}");
    assert!(r.contains("www-authenticate: Basic realm=\"Ops only\""), "{r}");
    assert!(!r.contains("<table"), "{r}");
    assert!(head(&topo, page, &["-u", "ops:wrong"]).starts_with("HTTP/1.1 401"));
    // Other URIs are the application's, as before.
    let served: Vec<String> = (0..4)
        .flat_map(|_| values(&get(&topo, "http://192.0.2.1/app", &[]), "server"))
        .collect();
    assert_eq!(served.len(), 4);

    // The page: HTML with a refresh, server rows and the admin form.
    let html = head(&topo, page, &creds);
    assert!(html.starts_with("HTTP/1.1 200"), "{html}");
    assert!(html.contains("refresh: 10"), "{html}");
    for needle in ["<table", ">web<", ">app<", "name=\"s\" value=\"s2\"", "name=\"action\""] {
        assert!(html.contains(needle), "{needle} in:\n{html}");
    }
    // The CSV: HAProxy's columns, the 4 requests, each counted once.
    let rows = rows_by_name(&get(&topo, &format!("{page};csv"), &creds));
    let total = |k: &str| rows[k]["stot"].parse::<u64>().expect("stot");
    assert_eq!(total("app/s1") + total("app/s2"), 4);
    assert_eq!(rows["app/BACKEND"]["hrsp_2xx"], "4");
    // The frontend also answered the page: two 401s and the HTML (this CSV is counted after).
    let fe = &rows["web/FRONTEND"];
    assert_eq!((fe["hrsp_2xx"].as_str(), fe["hrsp_4xx"].as_str()), ("5", "2"), "{fe:?}");
    assert_eq!(fe["intercepted"], "4", "{fe:?}");
    // `scope=` narrows the report to proxies whose name holds the text.
    let scoped = rows_by_name(&get(&topo, &format!("{page};csv;scope=app"), &creds));
    assert!(scoped.contains_key("app/BACKEND") && !scoped.contains_key("web/FRONTEND"));
    assert!(!scoped.contains_key("unused/BACKEND"));

    // The form drains s2: a 303 back to the page saying it was done, and s2 gets nothing new.
    let r = head(&topo, page, &[&creds[..], &["-d", "s=s2&action=drain&b=app"]].concat());
    assert!(r.starts_with("HTTP/1.1 303"), "{r}");
    assert!(r.contains("location: /admin?stats;st=DONE"), "{r}");
    let after: Vec<String> = (0..4)
        .flat_map(|_| values(&get(&topo, "http://192.0.2.1/app", &[]), "server"))
        .collect();
    assert_eq!(after, ["s1", "s1", "s1", "s1"]);
    let rows = rows_by_name(&get(&topo, &format!("{page};csv"), &creds));
    assert_eq!(rows["app/s2"]["status"], "DRAIN");
    // A server the backend does not have: nothing changes, and the page says so.
    let r = head(
        &topo,
        page,
        &[&creds[..], &["-d", "s=nope&action=maint&b=app"]].concat(),
    );
    assert!(r.contains(";st=ERRP"), "{r}");
    // Back to ready by the backend's id, as the page's own form names it.
    let id = rows["app/BACKEND"]["iid"].clone();
    let r = head(
        &topo,
        page,
        &[&creds[..], &["-d", &format!("s=s2&action=ready&b=%23{id}")]].concat(),
    );
    assert!(r.contains(";st=DONE"), "{r}");
    let rows = rows_by_name(&get(&topo, &format!("{page};csv"), &creds));
    assert_eq!(rows["app/s2"]["status"], "no check");
}

#[test]
fn a_page_without_admin_rights_refuses_changes_and_access_rules_are_acted_on() {
    let Some(topo) = topology("stpr") else { return };
    let _a = echo(&topo, "198.51.100.10:80", "s1");
    let cfg = format!(
        "{DEFAULTS}listen stats\n    bind 192.0.2.1:8404\n    stats enable\n    stats uri /\n\
         \x20   stats http-request deny if {{ path_beg /secret }}\n    stats scope app\n\
         frontend web\n    option socket-stats\n    bind 192.0.2.1:80\n    default_backend app\n\
         backend app\n    server s1 198.51.100.10:80\n"
    );
    let _lb = start(&topo, &cfg, &[80, 8404]);
    // Read-only: a form post changes nothing.
    let r = head(&topo, "http://192.0.2.1:8404/", &["-d", "s=s1&action=maint&b=app"]);
    assert!(
        r.starts_with("HTTP/1.1 303") && r.contains("location: /;st=DENY"),
        "{r}"
    );
    let rows = rows_by_name(&get(&topo, "http://192.0.2.1:8404/;csv", &[]));
    assert_eq!(rows["app/s1"]["status"], "no check");
    // `stats scope app`: only that proxy is reported.
    assert!(!rows.contains_key("web/FRONTEND") && !rows.contains_key("stats/FRONTEND"));
    // `stats http-request deny`: a 403, counted as a denied request.
    let r = head(&topo, "http://192.0.2.1:8404/secret", &[]);
    assert!(r.starts_with("HTTP/1.1 403"), "{r}");
    let html = get(&topo, "http://192.0.2.1:8404/", &[]);
    assert!(html.contains(">app<") && !html.contains(">web<"), "{html}");
    assert!(!html.contains("name=\"action\""), "no admin form on a read-only page");
    // The application's traffic is not the page's: a tcp-mode-free frontend forwards it.
    assert_eq!(values(&get(&topo, "http://192.0.2.1/x", &[]), "server"), ["s1"]);
}

#[test]
fn prometheus_exporter_counts_responses_and_errors_under_haproxys_names() {
    let Some(topo) = topology("prom") else { return };
    let _a = echo(&topo, "198.51.100.10:80", "s1");
    let b = echo(&topo, "198.51.100.11:80", "s2");
    let cfg = format!(
        "{DEFAULTS}frontend metrics\n    bind 192.0.2.1:8405\n    http-request use-service prometheus-exporter if {{ path /metrics }}\n\
         frontend web\n    option socket-stats\n    bind 192.0.2.1:80\n    default_backend app\n\
         backend app\n    retries 0\n    server s1 198.51.100.10:80\n    server s2 198.51.100.11:80\n"
    );
    let _lb = start(&topo, &cfg, &[80, 8405]);
    for _ in 0..4 {
        get(&topo, "http://192.0.2.1/x", &[]);
    }
    // s2 dies: its next requests fail with 503s (no retries).
    drop(b);
    let codes: Vec<String> = (0..4).map(|_| http_code(&topo, "http://192.0.2.1/x", &[])).collect();
    assert_eq!(codes.iter().filter(|c| *c == "503").count(), 2, "{codes:?}");

    let r = head(&topo, "http://192.0.2.1:8405/metrics", &[]);
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    assert!(r.contains("content-type: text/plain; version=0.0.4"), "{r}");
    let text = get(&topo, "http://192.0.2.1:8405/metrics", &[]);
    let metric = |series: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series).and_then(|v| v.strip_prefix(' ')))
            .unwrap_or_else(|| panic!("no {series} in:\n{text}"))
            .parse()
            .expect("a number")
    };
    assert_eq!(
        metric("haproxy_backend_http_responses_total{proxy=\"app\",code=\"2xx\"}"),
        6.0
    );
    assert_eq!(
        metric("haproxy_backend_http_responses_total{proxy=\"app\",code=\"5xx\"}"),
        2.0
    );
    assert_eq!(metric("haproxy_frontend_http_requests_total{proxy=\"web\"}"), 8.0);
    assert_eq!(
        metric("haproxy_server_connection_errors_total{proxy=\"app\",server=\"s2\"}"),
        2.0
    );
    assert_eq!(
        metric("haproxy_server_status{proxy=\"app\",server=\"s1\",state=\"UP\"}"),
        1.0
    );
    assert_eq!(metric("haproxy_backend_status{proxy=\"app\",state=\"UP\"}"), 1.0);
    assert!(metric("haproxy_frontend_bytes_out_total{proxy=\"web\"}") > 6.0 * 50.0);
    // The frontend's one listener (`option socket-stats`) took all 8 connections.
    assert_eq!(
        metric("haproxy_listener_sessions_total{proxy=\"web\",listener=\"sock-1\"}"),
        8.0
    );
    assert!(metric("haproxy_server_queue_limit{proxy=\"app\",server=\"s1\"}").is_nan());
    assert_eq!(
        metric("clearway_server_return_path_broken{proxy=\"app\",server=\"s1\"}"),
        0.0
    );

    // promtool, Prometheus' own checker, accepts the text.
    let out = run_with_input(
        "promtool",
        &["check", "metrics"],
        text.as_bytes(),
        "a test dependency: scripts/test installs Debian's prometheus package",
    );
    assert!(
        out.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // Scopes as HAProxy reads them.
    let servers = get(&topo, "http://192.0.2.1:8405/metrics?scope=server", &[]);
    assert!(servers.contains("haproxy_server_") && !servers.contains("haproxy_frontend_"));
    assert_eq!(get(&topo, "http://192.0.2.1:8405/metrics?scope=", &[]), "");
    assert_eq!(http_code(&topo, "http://192.0.2.1:8405/metrics?scope", &[]), "400");
    // Other paths on that frontend have no backend: a 503, no metrics.
    assert_eq!(http_code(&topo, "http://192.0.2.1:8405/other", &[]), "503");
}
