//! Metrics for `http-request use-service prometheus-exporter`: the counters of `show stat`
//! under the names HAProxy's exporter gives them (`haproxy_frontend_current_sessions`,
//! `haproxy_server_http_responses_total{code="5xx"}`, ...), so that dashboards made for
//! HAProxy read Clearway unchanged, plus Clearway's own under `clearway_`. A value Clearway
//! does not have for a row is `NaN`, as HAProxy writes it. Must not change any state.

use super::stats::{self, Row};
use crate::model::Runtime;
use crate::process::uptime_secs;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

pub use prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

type Labels = Vec<(String, String)>;
type Gauges = Family<Labels, Gauge<f64, AtomicU64>>;
type Counters = Family<Labels, Counter<f64, AtomicU64>>;

/// Which groups of metrics a scrape asks for (`?scope=...`, HAProxy's names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scopes {
    pub process: bool,
    pub frontend: bool,
    /// Listening sockets with `option socket-stats`.
    pub listener: bool,
    pub backend: bool,
    pub server: bool,
    /// `no-maint`: servers in maintenance are left out.
    pub no_maint: bool,
}

/// Reads the query string: no `scope` means all; each `scope=NAME` adds one (an empty name
/// adds none); `scope` without a value is a mistake, as in HAProxy.
pub fn scopes(query: Option<&str>) -> Result<Scopes, String> {
    let mut s = Scopes {
        process: false,
        frontend: false,
        listener: false,
        backend: false,
        server: false,
        no_maint: false,
    };
    let mut any = false;
    for p in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = match p.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (p, None),
        };
        match (k, v) {
            ("scope", None) => return Err("'scope' needs a value, e.g. ?scope=server".into()),
            ("scope", Some(v)) => {
                any = true;
                match v {
                    "global" => s.process = true,
                    "frontend" => s.frontend = true,
                    "backend" => s.backend = true,
                    "server" => s.server = true,
                    "listener" => s.listener = true,
                    "" | "sticktable" => {}
                    "*" => {
                        s.process = true;
                        s.frontend = true;
                        s.listener = true;
                        s.backend = true;
                        s.server = true;
                    }
                    other => return Err(format!("unknown scope '{other}'")),
                }
            }
            ("no-maint", _) => s.no_maint = true,
            _ => {}
        }
    }
    if !any {
        s.process = true;
        s.frontend = true;
        s.listener = true;
        s.backend = true;
        s.server = true;
    }
    Ok(s)
}

/// A gauge or counter fed from one CSV column, for the kinds of rows in `kinds`: `f`
/// frontends, `l` listeners, `b` backends, `s` servers.
struct Metric {
    name: &'static str,
    kinds: &'static str,
    column: &'static str,
    counter: bool,
    help: &'static str,
}

const fn g(name: &'static str, kinds: &'static str, column: &'static str, help: &'static str) -> Metric {
    Metric {
        name,
        kinds,
        column,
        counter: false,
        help,
    }
}

const fn c(name: &'static str, kinds: &'static str, column: &'static str, help: &'static str) -> Metric {
    Metric {
        name,
        kinds,
        column,
        counter: true,
        help,
    }
}

const METRICS: &[Metric] = &[
    g("current_queue", "bs", "qcur", "Current number of queued requests"),
    g("max_queue", "bs", "qmax", "Maximum observed number of queued requests"),
    g("queue_limit", "s", "qlimit", "Configured queue limit (maxqueue)"),
    g("current_sessions", "flbs", "scur", "Current number of active sessions"),
    g(
        "max_sessions",
        "flbs",
        "smax",
        "Maximum observed number of active sessions",
    ),
    g("limit_sessions", "fls", "slim", "Configured session limit (maxconn)"),
    c("sessions", "flbs", "stot", "Total number of sessions"),
    c("bytes_in", "flbs", "bin", "Total number of request bytes"),
    c("bytes_out", "flbs", "bout", "Total number of response bytes"),
    c("requests_denied", "flb", "dreq", "Total number of denied requests"),
    c("responses_denied", "flbs", "dresp", "Total number of denied responses"),
    c("request_errors", "fl", "ereq", "Total number of request errors"),
    c(
        "denied_connections",
        "fl",
        "dcon",
        "Total number of connections denied by tcp-request connection rules",
    ),
    c(
        "denied_sessions",
        "fl",
        "dses",
        "Total number of sessions denied by tcp-request content rules",
    ),
    c("connections", "f", "conn_tot", "Total number of connections"),
    c("http_requests", "fb", "req_tot", "Total number of HTTP requests"),
    c(
        "intercepted_requests",
        "f",
        "intercepted",
        "Total number of requests answered by the proxy itself",
    ),
    c("connection_errors", "bs", "econ", "Total number of connection errors"),
    c("response_errors", "bs", "eresp", "Total number of response errors"),
    c("retry_warnings", "bs", "wretr", "Total number of retry warnings"),
    c(
        "redispatch_warnings",
        "bs",
        "wredis",
        "Total number of redispatch warnings",
    ),
    g(
        "weight",
        "bs",
        "weight",
        "Weight of the server, or of a backend's servers that can take traffic",
    ),
    g(
        "active_servers",
        "b",
        "act",
        "Current number of active servers that can take traffic",
    ),
    g(
        "backup_servers",
        "b",
        "bck",
        "Current number of backup servers that can take traffic",
    ),
    c("check_failures", "s", "chkfail", "Total number of failed health checks"),
    c("check_up_down", "bs", "chkdown", "Total number of UP->DOWN transitions"),
    c("downtime_seconds", "bs", "downtime", "Total downtime in seconds"),
    c(
        "loadbalanced",
        "bs",
        "lbtot",
        "Total number of times a server was chosen",
    ),
    c(
        "client_aborts",
        "bs",
        "cli_abrt",
        "Total number of transfers aborted by the client",
    ),
    c(
        "server_aborts",
        "bs",
        "srv_abrt",
        "Total number of transfers aborted by the server",
    ),
    g(
        "current_throttle",
        "s",
        "throttle",
        "Current throttle percentage (slowstart)",
    ),
    g(
        "idle_connections_current",
        "s",
        "srv_icur",
        "Current number of idle connections",
    ),
    g(
        "idle_connections_limit",
        "s",
        "src_ilim",
        "Limit on the number of idle connections",
    ),
    g(
        "used_connections_current",
        "s",
        "used_conn_cur",
        "Current number of connections in use",
    ),
    c(
        "connection_attempts",
        "bs",
        "connect",
        "Total number of connection attempts",
    ),
    c("connection_reuses", "bs", "reuse", "Total number of reused connections"),
];

const CODES: [(&str, &str); 6] = [
    ("1xx", "hrsp_1xx"),
    ("2xx", "hrsp_2xx"),
    ("3xx", "hrsp_3xx"),
    ("4xx", "hrsp_4xx"),
    ("5xx", "hrsp_5xx"),
    ("other", "hrsp_other"),
];

fn value(r: &Row, column: &str) -> f64 {
    r.get(column).parse::<f64>().unwrap_or(f64::NAN)
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// Registers one family per metric of a kind of row (`frontend` ...) and fills it from `rows`.
fn metrics(reg: &mut Registry, kind: &str, rows: &[(&Row, Labels)]) {
    let letter = &kind[..1];
    for m in METRICS.iter().filter(|m| m.kinds.contains(letter)) {
        let name = format!("haproxy_{kind}_{}", m.name);
        if m.counter {
            let f = Counters::default();
            for (r, l) in rows {
                f.get_or_create(l).inc_by(value(r, m.column));
            }
            reg.register(name, m.help, f);
        } else {
            let f = Gauges::default();
            for (r, l) in rows {
                f.get_or_create(l).set(value(r, m.column));
            }
            reg.register(name, m.help, f);
        }
    }
}

/// The HTTP responses by class, for the rows of `mode http` proxies that count them (none:
/// no family).
fn responses(reg: &mut Registry, kind: &str, rows: &[(&Row, Labels)]) {
    let f = Counters::default();
    let mut any = false;
    // Listeners count no responses (HAProxy's rows leave the columns empty for them).
    let counted = |r: &Row| r.get("mode") == "http" && !r.get("hrsp_2xx").is_empty();
    for (r, l) in rows.iter().filter(|(r, _)| counted(r)) {
        any = true;
        for (code, col) in CODES {
            let mut l = l.clone();
            l.push(("code".into(), code.into()));
            f.get_or_create(&l).inc_by(value(r, col));
        }
    }
    if any {
        reg.register(
            format!("haproxy_{kind}_http_responses"),
            "Total number of HTTP responses, by class of status code",
            f,
        );
    }
}

/// Everything of one kind of row: its state metric (one series per possible state, 1 for
/// the current one), its metrics, its HTTP responses.
fn section(reg: &mut Registry, kind: &str, rows: &[(&Row, Labels)], all: &[&str], state: fn(&Row) -> &str) {
    let f = Gauges::default();
    for (r, l) in rows {
        let now = state(r);
        for s in all {
            let mut l = l.clone();
            l.push(("state".into(), s.to_string()));
            f.get_or_create(&l).set(if *s == now { 1.0 } else { 0.0 });
        }
    }
    reg.register(
        format!("haproxy_{kind}_status"),
        format!("Current status of the {kind}"),
        f,
    );
    metrics(reg, kind, rows);
    responses(reg, kind, rows);
}

/// The server state word of a row, as HAProxy's exporter names states.
fn server_state(status: &str) -> &'static str {
    if status == "MAINT" {
        "MAINT"
    } else if status.starts_with("DRAIN") {
        "DRAIN"
    } else if status.starts_with("DOWN") {
        "DOWN"
    } else {
        "UP"
    }
}

/// The exposition text of the metrics `scopes` asks for.
pub fn render(rt: &Runtime, scopes: &Scopes) -> String {
    let mut reg = Registry::default();
    let rows = stats::rows(rt, stats::Filter::default());
    if scopes.process {
        let info = Gauges::default();
        info.get_or_create(&labels(&[("version", env!("CARGO_PKG_VERSION"))]))
            .set(1.0);
        reg.register("haproxy_process_build_info", "Build information", info);
        let one = |v: f64| {
            let f = Gauges::default();
            f.get_or_create(&Vec::new()).set(v);
            f
        };
        reg.register(
            "haproxy_process_nbthread",
            "Number of worker threads",
            one(rt.threads as f64),
        );
        reg.register(
            "haproxy_process_uptime_seconds",
            "How long the process has run, in seconds",
            one(uptime_secs() as f64),
        );
        reg.register(
            "haproxy_process_max_connections",
            "Process-wide connection limit (global maxconn)",
            one(f64::from(rt.global_conns.max())),
        );
        let used = rt.global_conns.in_use();
        reg.register(
            "haproxy_process_current_connections",
            "Current number of connections",
            one(used as f64),
        );
    }
    // The rows of one kind (type 0 frontends, 1 backends, 2 servers, 3 listeners), with
    // their labels: the proxy, and the row's own name under `named` (server, listener).
    let of_kind = |t: &str, named: Option<&str>| -> Vec<(&Row, Labels)> {
        rows.iter()
            .filter(|r| r.get("type") == t)
            .filter(|r| !(t == "2" && scopes.no_maint && r.get("status") == "MAINT"))
            .map(|r| {
                let mut l = labels(&[("proxy", r.get("pxname"))]);
                if let Some(n) = named {
                    l.push((n.into(), r.get("svname").into()));
                }
                (r, l)
            })
            .collect()
    };
    if scopes.frontend {
        let open = |r: &Row| if r.get("status") == "OPEN" { "UP" } else { "DOWN" };
        section(&mut reg, "frontend", &of_kind("0", None), &["DOWN", "UP"], open);
    }
    let listeners = of_kind("3", Some("listener"));
    if scopes.listener && !listeners.is_empty() {
        let state = |r: &Row| match r.get("status") {
            "OPEN" => "OPEN",
            "FULL" => "FULL",
            _ => "WAITING",
        };
        section(&mut reg, "listener", &listeners, &["WAITING", "OPEN", "FULL"], state);
    }
    if scopes.backend {
        section(&mut reg, "backend", &of_kind("1", None), &["DOWN", "UP"], |r| {
            r.get("status")
        });
    }
    if scopes.server {
        let l = of_kind("2", Some("server"));
        let state = |r: &Row| server_state(r.get("status"));
        section(&mut reg, "server", &l, &["DOWN", "UP", "MAINT", "DRAIN", "NOLB"], state);
        let rp = Gauges::default();
        for (r, l) in &l {
            rp.get_or_create(l)
                .set(if r.get("status").contains("return path broken") {
                    1.0
                } else {
                    0.0
                });
        }
        reg.register(
            "clearway_server_return_path_broken",
            "1 when the server's replies to clients would not come back through Clearway (checks pass, clients hang)",
            rp,
        );
    }
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &reg);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_as_haproxy_reads_them() {
        let all = scopes(None).expect("none");
        assert!(all.process && all.frontend && all.listener && all.backend && all.server);
        let s = scopes(Some("scope=frontend&scope=backend")).expect("two");
        assert!(s.frontend && s.backend && !s.server && !s.process && !s.listener);
        assert!(scopes(Some("scope=listener")).expect("listener").listener);
        let s = scopes(Some("scope=")).expect("empty");
        assert!(!s.frontend && !s.backend && !s.server && !s.process);
        assert!(scopes(Some("scope")).is_err());
        assert!(scopes(Some("scope=nonsense")).is_err());
        assert!(scopes(Some("no-maint")).expect("flag").no_maint);
    }

    #[test]
    fn states_and_values() {
        assert_eq!(server_state("UP, return path broken"), "UP");
        assert_eq!(server_state("no check"), "UP");
        assert_eq!(server_state("DOWN 1/2"), "DOWN");
        let mut r = stats_row();
        r.0[0] = "x".into();
        assert!(value(&r, "qlimit").is_nan());
    }

    fn stats_row() -> Row {
        Row(vec![String::new(); stats::COLUMNS.len()])
    }
}
