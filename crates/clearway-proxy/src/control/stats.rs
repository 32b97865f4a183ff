//! The statistics rows of a running Clearway in HAProxy's CSV layout (`show stat`, the stats
//! page's `;csv`): one row per frontend, per server and per backend, with HAProxy's column
//! names in HAProxy's order, so that scripts written for HAProxy read them unchanged. Columns
//! Clearway has no value for are left empty, as HAProxy leaves the ones that do not apply.
//! Must not change any state.

use crate::model::{Backend, Frontend, Runtime};
use crate::process::uptime_secs;
use clearway_config::model::Mode;
use clearway_core::{Admin, Field, ListenerRt, ServerRt};

/// HAProxy 2.6's CSV columns, up to the last general one (`agg_check_status`); its per-module
/// columns after `-` are not produced.
pub const COLUMNS: [&str; 100] = [
    "pxname",
    "svname",
    "qcur",
    "qmax",
    "scur",
    "smax",
    "slim",
    "stot",
    "bin",
    "bout",
    "dreq",
    "dresp",
    "ereq",
    "econ",
    "eresp",
    "wretr",
    "wredis",
    "status",
    "weight",
    "act",
    "bck",
    "chkfail",
    "chkdown",
    "lastchg",
    "downtime",
    "qlimit",
    "pid",
    "iid",
    "sid",
    "throttle",
    "lbtot",
    "tracked",
    "type",
    "rate",
    "rate_lim",
    "rate_max",
    "check_status",
    "check_code",
    "check_duration",
    "hrsp_1xx",
    "hrsp_2xx",
    "hrsp_3xx",
    "hrsp_4xx",
    "hrsp_5xx",
    "hrsp_other",
    "hanafail",
    "req_rate",
    "req_rate_max",
    "req_tot",
    "cli_abrt",
    "srv_abrt",
    "comp_in",
    "comp_out",
    "comp_byp",
    "comp_rsp",
    "lastsess",
    "last_chk",
    "last_agt",
    "qtime",
    "ctime",
    "rtime",
    "ttime",
    "agent_status",
    "agent_code",
    "agent_duration",
    "check_desc",
    "agent_desc",
    "check_rise",
    "check_fall",
    "check_health",
    "agent_rise",
    "agent_fall",
    "agent_health",
    "addr",
    "cookie",
    "mode",
    "algo",
    "conn_rate",
    "conn_rate_max",
    "conn_tot",
    "intercepted",
    "dcon",
    "dses",
    "wrew",
    "connect",
    "reuse",
    "cache_lookups",
    "cache_hits",
    "srv_icur",
    "src_ilim",
    "qtime_max",
    "ctime_max",
    "rtime_max",
    "ttime_max",
    "eint",
    "idle_conn_cur",
    "safe_conn_cur",
    "used_conn_cur",
    "need_conn_est",
    "uweight",
];

/// Which rows `show stat IID TYPE SID` asks for (HAProxy's filter: -1 for any proxy or
/// server; TYPE a mask of 1 frontends, 2 backends, 4 servers, 8 listeners).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Filter {
    pub iid: Option<u32>,
    pub types: u8,
    pub sid: Option<u32>,
}

impl Default for Filter {
    fn default() -> Self {
        Filter {
            iid: None,
            types: ALL_TYPES,
            sid: None,
        }
    }
}

/// Every kind of row (`-1` as a `show stat` type).
pub const ALL_TYPES: u8 = 15;

/// One row: a value (or nothing) per column.
#[derive(Debug, Clone)]
/// The values of a row: `COLUMNS`' in their order, then `MODULE_COLUMNS`'.
pub struct Row(pub Vec<String>);

/// The per-module fields Clearway has values for (HAProxy's h1 module's spliced bytes, for
/// frontends and backends), with their positions in HAProxy's typed and JSON output. They
/// follow the general columns in a row; the CSV leaves them out, as it does the other modules.
pub const MODULE_COLUMNS: [(&str, usize); 2] = [("h1_spliced_bytes_in", 125), ("h1_spliced_bytes_out", 126)];

fn index(column: &str) -> Option<usize> {
    COLUMNS.iter().position(|c| *c == column).or_else(|| {
        MODULE_COLUMNS
            .iter()
            .position(|(c, _)| *c == column)
            .map(|j| COLUMNS.len() + j)
    })
}

impl Row {
    fn new() -> Row {
        Row(vec![String::new(); COLUMNS.len() + MODULE_COLUMNS.len()])
    }

    fn set(&mut self, column: &str, v: impl ToString) {
        if let Some(i) = index(column) {
            self.0[i] = v.to_string();
        }
    }

    /// The value of a column, for tests and the page.
    pub fn get(&self, column: &str) -> &str {
        index(column).and_then(|i| self.0.get(i)).map_or("", |v| v.as_str())
    }

    /// The h1 module's spliced byte counters of a frontend or backend.
    fn spliced(&mut self, c: &clearway_core::Counters) {
        self.set("h1_spliced_bytes_in", c.get(Field::SplicedIn));
        self.set("h1_spliced_bytes_out", c.get(Field::SplicedOut));
    }

    fn counters(&mut self, c: &clearway_core::Counters, http: bool) {
        let pairs = [
            ("stot", Field::Sessions),
            ("bin", Field::BytesIn),
            ("bout", Field::BytesOut),
            ("dreq", Field::DeniedReq),
            ("dresp", Field::DeniedResp),
            ("ereq", Field::ErrReq),
            ("econ", Field::ErrConn),
            ("eresp", Field::ErrResp),
            ("wretr", Field::Retries),
            ("wredis", Field::Redispatches),
            ("cli_abrt", Field::ClientAborts),
            ("srv_abrt", Field::ServerAborts),
            ("dcon", Field::DeniedConn),
            ("dses", Field::DeniedSess),
            ("connect", Field::Connects),
            ("reuse", Field::Reused),
        ];
        for (col, f) in pairs {
            self.set(col, c.get(f));
        }
        if http {
            let classes = [
                ("hrsp_1xx", Field::Http1xx),
                ("hrsp_2xx", Field::Http2xx),
                ("hrsp_3xx", Field::Http3xx),
                ("hrsp_4xx", Field::Http4xx),
                ("hrsp_5xx", Field::Http5xx),
                ("hrsp_other", Field::HttpOther),
            ];
            for (col, f) in classes {
                self.set(col, c.get(f));
            }
            self.set("req_tot", c.requests());
        }
    }

    /// The counters of the client side (a frontend, a listener): those of the server side
    /// (connection errors, retries, aborts, reuse) left empty, as HAProxy leaves them.
    fn client_counters(&mut self, c: &clearway_core::Counters, http: bool) {
        self.counters(c, http);
        for col in [
            "econ", "eresp", "wretr", "wredis", "cli_abrt", "srv_abrt", "connect", "reuse",
        ] {
            self.set(col, "");
        }
    }

    /// The identity columns of a server (`kind` 2) or backend (1) row, and the rates and
    /// times Clearway does not measure, as zeros.
    fn ids(&mut self, iid: u32, sid: u32, kind: u8) {
        self.set("pid", 1);
        self.set("iid", iid);
        self.set("sid", sid);
        self.set("type", kind);
        self.set("lastsess", -1);
        for col in [
            "rate",
            "rate_max",
            "qtime",
            "ctime",
            "rtime",
            "ttime",
            "qtime_max",
            "ctime_max",
            "rtime_max",
            "ttime_max",
            "eint",
        ] {
            self.set(col, 0);
        }
    }

    /// The row as a CSV line (HAProxy ends each with a comma).
    pub fn csv(&self) -> String {
        let mut s = String::new();
        for v in self.0.iter().take(COLUMNS.len()) {
            s.push_str(&csv_field(v));
            s.push(',');
        }
        s
    }
}

/// A CSV field: quoted when it holds a comma or a quote.
fn csv_field(v: &str) -> std::borrow::Cow<'_, str> {
    if v.contains([',', '"', '\n']) {
        format!("\"{}\"", v.replace('"', "\"\"")).into()
    } else {
        v.into()
    }
}

/// The CSV header line.
pub fn header() -> String {
    format!("# {},", COLUMNS.join(","))
}

/// The running proxies with their ids (`iid`), in the file's order as HAProxy lists them;
/// a `listen` section is one proxy with one id for both of its rows.
pub fn proxy_ids(rt: &Runtime) -> Vec<(String, u32)> {
    let mut all: Vec<(u32, &str, u32)> = rt
        .frontends
        .iter()
        .map(|f| (f.num.seq, f.name.as_str(), f.num.uuid))
        .chain(
            rt.backends
                .iter()
                .filter(|b| !b.disabled)
                .map(|b| (b.num.seq, b.rt.name.as_str(), b.num.uuid)),
        )
        .collect();
    all.sort_unstable();
    all.dedup();
    all.into_iter().map(|(_, n, id)| (n.to_string(), id)).collect()
}

fn mode_word(m: Mode) -> &'static str {
    match m {
        Mode::Http => "http",
        _ => "tcp",
    }
}

/// Every row the filter asks for, in HAProxy's order: per proxy, its frontend, its servers,
/// then its backend.
pub fn rows(rt: &Runtime, filter: Filter) -> Vec<Row> {
    let ids = proxy_ids(rt);
    let mut out = Vec::new();
    for (name, iid) in &ids {
        if filter.iid.is_some_and(|i| i != *iid) {
            continue;
        }
        if filter.types & 1 != 0 && filter.sid.is_none_or(|s| s == 0) {
            if let Some(fe) = rt.frontends.iter().find(|f| &f.name == name && f.num.uuid == *iid) {
                let mut r = Row::new();
                r.set("pxname", &fe.name);
                r.set("svname", "FRONTEND");
                r.set("scur", fe.sessions());
                r.set("smax", fe.max_sessions.max());
                r.set("slim", fe.conns.max());
                r.client_counters(&fe.counters, fe.mode == Mode::Http);
                r.set("status", if crate::process::stopping() { "STOP" } else { "OPEN" });
                r.set("pid", 1);
                r.set("iid", iid);
                r.set("sid", 0);
                r.set("type", 0);
                // Sessions and connections per second: Clearway counts both at accept.
                let (rate, max) = (fe.sess_rate.rate(), fe.sess_rate.max());
                r.set("rate", rate);
                r.set("rate_lim", fe.rate_limit.unwrap_or(0));
                r.set("rate_max", max);
                r.set("conn_rate", rate);
                r.set("conn_rate_max", max);
                r.set("conn_tot", fe.counters.get(Field::Sessions));
                r.set("intercepted", fe.counters.get(Field::Intercepted));
                r.set("mode", mode_word(fe.mode));
                r.spliced(&fe.counters);
                out.push(r);
            }
        }
        if filter.types & 8 != 0 {
            if let Some(fe) = rt.frontends.iter().find(|f| &f.name == name && f.num.uuid == *iid) {
                let wanted = fe.listeners.iter().filter(|l| filter.sid.is_none_or(|s| s == l.id));
                out.extend(wanted.map(|l| listener_row(fe, l, *iid)));
            }
        }
        if let Some(be) = rt
            .backends
            .iter()
            .find(|b| &b.rt.name == name && b.num.uuid == *iid && !b.disabled)
        {
            if filter.types & 4 != 0 {
                for (i, s) in be.rt.servers.iter().enumerate().filter(|(_, s)| s.listed()) {
                    let sid = s.id;
                    if filter.sid.is_some_and(|f| f != sid) {
                        continue;
                    }
                    out.push(server_row(be, i, s, *iid, sid));
                }
            }
            if filter.types & 2 != 0 && filter.sid.is_none_or(|s| s == 0) {
                out.push(backend_row(be, *iid));
            }
        }
    }
    out
}

/// A server's status word, as HAProxy's statistics write it.
pub fn server_status(be: &Backend, i: usize, s: &ServerRt) -> String {
    let checked = (be.side(i).check_params.is_some() && !s.checks_stopped()) || be.side(i).tracks.is_some();
    if s.resolution_maint() {
        return "MAINT (resolution)".into();
    }
    if s.admin() != Admin::Maint && s.inherited() == Admin::Maint {
        return format!("MAINT (via {})", be.side(i).tracks.as_deref().unwrap_or_default());
    }
    let base = match s.admin() {
        Admin::Maint => return "MAINT".into(),
        _ if s.inherited() == Admin::Drain && s.is_up() => "DRAIN",
        _ if s.agent_down() => return "DOWN (agent)".into(),
        // As HAProxy: a draining server with an agent says so, whoever asked for the drain.
        Admin::Drain if s.is_up() && be.side(i).agent.is_some() => "DRAIN (agent)",
        Admin::Drain if s.is_up() => "DRAIN",
        _ if !checked => return if s.admin() == Admin::Drain { "DRAIN" } else { "no check" }.into(),
        _ if s.is_up() && s.nolb() => "NOLB",
        _ if s.is_up() => "UP",
        _ => "DOWN",
    };
    if s.is_up() && !s.return_path_ok() {
        // Clearway's own state: checks pass but clients' replies would go around it.
        return format!("{base}, return path broken");
    }
    base.into()
}

/// A listening socket's row (`option socket-stats`), after its frontend's: the columns
/// HAProxy fills for one.
fn listener_row(fe: &Frontend, l: &ListenerRt, iid: u32) -> Row {
    let mut r = Row::new();
    r.set("pxname", &fe.name);
    r.set("svname", &l.name);
    r.set("scur", l.conns.cur());
    r.set("smax", l.conns.max());
    r.set("slim", l.limit.unwrap_or(0));
    r.client_counters(&l.counters, false);
    let status = if crate::process::stopping() {
        "STOP"
    } else if l.full() {
        "FULL"
    } else {
        "OPEN"
    };
    r.set("status", status);
    r.set("pid", 1);
    r.set("iid", iid);
    r.set("sid", l.id);
    r.set("type", 3);
    r.set("addr", &l.addr);
    r.set("mode", mode_word(fe.mode));
    r.set("wrew", 0);
    r.set("eint", 0);
    r
}

fn server_row(be: &Backend, i: usize, s: &ServerRt, iid: u32, sid: u32) -> Row {
    let mut r = Row::new();
    let http = be.mode == Mode::Http;
    r.set("pxname", &be.rt.name);
    r.set("svname", &s.name);
    r.set("qcur", 0);
    r.set("qmax", 0);
    r.set("scur", s.active());
    r.set("smax", s.max_active());
    if s.maxconn() > 0 {
        r.set("slim", s.maxconn());
    }
    if s.maxqueue > 0 {
        r.set("qlimit", s.maxqueue);
    }
    r.counters(&s.counters, http);
    r.set("stot", s.total());
    r.set("lbtot", s.total());
    for col in ["dreq", "ereq", "dcon", "dses"] {
        r.set(col, "");
    }
    r.set("status", server_status(be, i, s));
    // As HAProxy: the server's current weight whatever its state; the backend's row sums
    // the weights of the servers that can take traffic.
    r.set("weight", s.weight());
    r.set("uweight", s.weight());
    r.set("act", u8::from(!s.backup));
    r.set("bck", u8::from(s.backup));
    r.ids(iid, sid, 2);
    r.set(
        "lastchg",
        uptime_secs().saturating_sub(s.last_change.load(std::sync::atomic::Ordering::Relaxed)),
    );
    if let Some(t) = &be.side(i).tracks {
        r.set("tracked", t);
    }
    if let Some(p) = &be.side(i).check_params {
        r.set("chkfail", s.counters.get(Field::CheckFailures));
        if be.side(i).observer.is_some() {
            r.set("hanafail", s.counters.get(Field::HanaFailures));
        }
        r.set("chkdown", s.counters.get(Field::CheckDowns));
        r.set("check_rise", p.rise);
        r.set("check_fall", p.fall);
        if let Some(c) = s.last_check() {
            r.set("check_status", check_code(c.reason));
            if let Some(code) = c.code {
                r.set("check_code", code);
            }
            r.set("check_duration", c.duration_ms);
            r.set("check_desc", c.reason);
            r.set("last_chk", &c.info);
        }
    }
    // As HAProxy: a server DNS left without an address shows none.
    if !(s.resolved_at_run_time() && s.resolution_maint()) {
        r.set("addr", s.target(std::net::SocketAddr::new(s.ip, 0)));
    }
    if let Some(v) = be.cookie.as_ref().and_then(|c| c.value_of(i)) {
        r.set("cookie", v);
    }
    r.set("mode", mode_word(be.mode));
    r.set("used_conn_cur", s.active());
    out_of_pool(&mut r, be, i);
    r
}

/// The idle connection columns of a server.
fn out_of_pool(r: &mut Row, be: &Backend, i: usize) {
    if be.mode == Mode::Http {
        r.set("idle_conn_cur", be.pool.idle(i));
        r.set("srv_icur", be.pool.idle(i));
    }
}

fn backend_row(be: &Backend, iid: u32) -> Row {
    let mut r = Row::new();
    let http = be.mode == Mode::Http;
    r.set("pxname", &be.rt.name);
    r.set("svname", "BACKEND");
    r.set("qcur", be.queue.len());
    r.set("qmax", be.queue.max_len());
    r.set("scur", be.rt.conns.cur());
    r.set("smax", be.rt.conns.max());
    r.set("slim", be.rt.fullconn);
    r.counters(&be.rt.counters, http);
    r.set("stot", be.rt.sessions());
    r.set("lbtot", be.rt.sessions());
    for col in ["ereq", "dcon", "dses"] {
        r.set(col, "");
    }
    let up = be.rt.servers.iter().any(|s| s.usable());
    // A `dispatch` address counts for the status, not as a server.
    let usable: Vec<&ServerRt> = be.rt.servers.iter().filter(|s| s.usable() && s.listed()).collect();
    r.set("status", if up { "UP" } else { "DOWN" });
    r.set("weight", usable.iter().map(|s| s.weight()).sum::<u32>());
    r.set(
        "uweight",
        be.rt
            .servers
            .iter()
            .filter(|s| !s.is_deleted())
            .map(|s| s.weight())
            .sum::<u32>(),
    );
    r.set("act", usable.iter().filter(|s| !s.backup).count());
    r.set("bck", usable.iter().filter(|s| s.backup).count());
    r.set(
        "chkdown",
        be.rt
            .servers
            .iter()
            .map(|s| s.counters.get(Field::CheckDowns))
            .sum::<u64>(),
    );
    r.ids(iid, 0, 1);
    r.set("mode", mode_word(be.mode));
    r.spliced(&be.rt.counters);
    r.set("algo", algo_name(&be.balance));
    if let Some(c) = &be.cookie {
        r.set("cookie", c.name());
    }
    r
}

/// The `balance` keyword's word for an algorithm.
pub fn algo_name(b: &clearway_config::model::Balance) -> &'static str {
    use clearway_config::model::Balance;
    match b {
        Balance::RoundRobin => "roundrobin",
        Balance::StaticRr => "static-rr",
        Balance::LeastConn => "leastconn",
        Balance::Source => "source",
        Balance::First => "first",
        Balance::Random { .. } => "random",
        Balance::Uri { .. } => "uri",
        Balance::UrlParam { .. } => "url_param",
        Balance::Hdr { .. } => "hdr",
    }
}

/// HAProxy's short code of a check result (`check_status`).
pub fn check_code(reason: &str) -> &'static str {
    match reason {
        "Layer4 check passed" => "L4OK",
        "Layer4 timeout" => "L4TOUT",
        "Layer4 connection problem" => "L4CON",
        "Layer6 check passed" => "L6OK",
        "Layer6 timeout" => "L6TOUT",
        "Layer6 invalid response" => "L6RSP",
        "Layer7 check passed" => "L7OK",
        "Layer7 check conditionally passed" => "L7OKC",
        "Layer7 timeout" => "L7TOUT",
        "Health analyze" => "HANA",
        "Layer7 invalid response" => "L7RSP",
        "Layer7 wrong status" => "L7STS",
        "Socket error" => "SOCKERR",
        "External check error" => "PROCERR",
        "External check timeout" => "PROCTOUT",
        "External check passed" => "PROCOK",
        _ => "UNK",
    }
}

/// `show stat`: the header and the rows.
pub fn csv(rt: &Runtime, filter: Filter) -> String {
    let mut out = header();
    out.push('\n');
    for r in rows(rt, filter) {
        out.push_str(&r.csv());
        out.push('\n');
    }
    out
}
