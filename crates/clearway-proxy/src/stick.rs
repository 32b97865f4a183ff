//! Stick tables as the rules use them: the process's tables by name, the counters a session
//! or a request tracks (`track-sc0..2`), and what tracking, `sc-inc-gpc0` and the `sc_*` /
//! `src_*` fetches do with them; and a backend's `stick` rules (server affinity). The
//! counting itself is clearway-core's.

use crate::acl::Samples;
use clearway_config::model::{StickKind, StickOp};
use clearway_config::rules::{Expr, StickSlot, StickWhat};
use clearway_core::stick::{Key, Table};
use clearway_sample::{Sample, Type};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A table, with its key type and the bytes a string key keeps.
pub type Named = (Arc<Table>, StickKind, usize);

/// The tables of the running configuration, by name.
static TABLES: std::sync::RwLock<Option<Arc<HashMap<String, Named>>>> = std::sync::RwLock::new(None);
/// Their names in the configuration's order (`show table` lists them so).
static ORDER: std::sync::RwLock<Vec<String>> = std::sync::RwLock::new(Vec::new());

/// The tables' names in the configuration's order.
pub(crate) fn names() -> Vec<String> {
    ORDER.read().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Makes `tables` the ones rules find by name; `order` their names in the config's order.
pub fn install(tables: HashMap<String, Named>, order: Vec<String>) {
    *TABLES.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(tables));
    *ORDER.write().unwrap_or_else(|e| e.into_inner()) = order;
}

pub(crate) fn kind_word(k: StickKind) -> &'static str {
    match k {
        StickKind::Ip => "ip",
        StickKind::Ipv6 => "ipv6",
        StickKind::Integer => "integer",
        StickKind::String => "string",
        StickKind::Binary => "binary",
    }
}

pub(crate) fn key_text(k: &Key, kind: StickKind) -> String {
    match k {
        Key::Ip(a) => match (kind, a.to_ipv4_mapped()) {
            (StickKind::Ip, Some(v4)) => v4.to_string(),
            _ => a.to_string(),
        },
        Key::Int(n) => n.to_string(),
        Key::Bytes(b) if kind == StickKind::String => String::from_utf8_lossy(b).into_owned(),
        Key::Bytes(b) => b.iter().map(|x| format!("{x:02X}")).collect(),
    }
}

/// The table of this name.
pub(crate) fn table(name: &str) -> Option<Named> {
    TABLES
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()?
        .get(name)
        .cloned()
}

/// Milliseconds on the process's clock (what tables count time in).
pub fn now_ms() -> u64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START.get_or_init(std::time::Instant::now).elapsed().as_millis() as u64 + 1
}

/// The entries a session or a request tracks, by counter; they stop being tracked (their
/// `conn_cur` goes down) when it ends.
#[derive(Debug, Default)]
pub struct Trackers(Mutex<[Option<Tracked>; 3]>);

/// A tracked entry: its table and its key.
pub type Tracked = (Arc<Table>, Key);

impl Trackers {
    pub fn get(&self, slot: u8) -> Option<Tracked> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(usize::from(slot))?
            .clone()
    }

    /// Every tracked entry.
    pub fn all(&self) -> Vec<Tracked> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .flatten()
            .cloned()
            .collect()
    }

    fn set(&self, slot: u8, t: Arc<Table>, k: Key) {
        if let Some(s) = self
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(usize::from(slot))
        {
            *s = Some((t, k));
        }
    }
}

impl Drop for Trackers {
    fn drop(&mut self) {
        for (t, k) in self.0.get_mut().unwrap_or_else(|e| e.into_inner()).iter().flatten() {
            t.untrack(k);
        }
    }
}

/// A sample as a key of a table of this type; None when it cannot be one.
pub(crate) fn key_of(s: Sample<'_>, kind: StickKind, len: usize) -> Option<Key> {
    Some(match kind {
        StickKind::Ip | StickKind::Ipv6 => match s.cast(Type::Addr)? {
            Sample::Ipv4(a) => Key::ip(a.into()),
            Sample::Ipv6(a) => Key::ip(a.into()),
            _ => return None,
        },
        StickKind::Integer => Key::Int(s.int()?),
        StickKind::String | StickKind::Binary => {
            let b = s.to_text();
            Key::Bytes(b[..b.len().min(len)].into())
        }
    })
}

/// `track-scN KEY [table T]`: unless counter N tracks an entry already (here or for the
/// whole session), `into` tracks KEY's; `http` counts the request on it too.
pub fn track(s: &dyn Samples, into: &Trackers, (slot, key, name): (u8, &Expr, Option<&str>), http: bool) {
    if s.tracked(slot).is_some() {
        return;
    }
    let Some((t, kind, len)) = name.and_then(table) else {
        return;
    };
    let Some(k) = crate::acl::first(s, key, |v| key_of(v, kind, len)).flatten() else {
        return;
    };
    let now = now_ms();
    if t.track(&k, now) {
        if http {
            t.count_request(&k, now);
        }
        into.set(slot, t, k);
    }
}

/// `sc-inc-gpc0(N)`.
pub fn inc_gpc0(s: &dyn Samples, slot: u8) {
    if let Some((t, k)) = s.tracked(slot) {
        t.inc_gpc0(&k, now_ms());
    }
}

/// `sc-set-gpt0(N) VALUE`: the entry counter N tracks keeps VALUE's integer.
pub fn set_gpt0(s: &dyn Samples, slot: u8, value: &Expr) {
    let Some((t, k)) = s.tracked(slot) else { return };
    if let Some(v) = crate::acl::first(s, value, |v| v.int()).flatten() {
        t.set_gpt0(&k, v.max(0) as u64, now_ms());
    }
}

/// A request's final answer counted on the entries it and its session track: a 4xx as an
/// HTTP error, a 5xx but 501 and 505 as a failure (`http_err_*`, `http_fail_*`).
pub fn count_status(tracked: impl Iterator<Item = Tracked>, status: u16) {
    let fail = match status {
        400..=499 => false,
        500..=599 if status != 501 && status != 505 => true,
        _ => return,
    };
    let now = now_ms();
    for (t, k) in tracked {
        t.count_http(&k, now, fail);
    }
}

/// A stored value by HAProxy's name for it (`gpc0`, `http_req_rate`), among those Clearway
/// keeps (not `server_id`, which names a server).
pub(crate) fn data_named(name: &str) -> Option<clearway_core::stick::Data> {
    use clearway_core::stick::Data;
    Some(match name {
        "conn_cnt" => Data::ConnCnt,
        "conn_cur" => Data::ConnCur,
        "conn_rate" => Data::ConnRate,
        "sess_cnt" => Data::SessCnt,
        "sess_rate" => Data::SessRate,
        "http_req_cnt" => Data::HttpReqCnt,
        "http_req_rate" => Data::HttpReqRate,
        "http_err_cnt" => Data::HttpErrCnt,
        "http_err_rate" => Data::HttpErrRate,
        "http_fail_cnt" => Data::HttpFailCnt,
        "http_fail_rate" => Data::HttpFailRate,
        "gpc0" => Data::Gpc0,
        "gpc0_rate" => Data::Gpc0Rate,
        "gpt0" => Data::Gpt0,
        _ => return None,
    })
}

/// What table `name`'s entry of `key` keeps of `data` (a `table_*` converter; `""`: whether
/// the entry exists, `in_table`): 0 without an entry, None when the table does not store it.
pub fn lookup(name: &str, key: Sample<'_>, data: &str) -> Option<i64> {
    let (t, kind, len) = table(name)?;
    let k = key_of(key, kind, len)?;
    let now = now_ms();
    let d = match data {
        "" => return Some(i64::from(t.contains(&k, now))),
        "server_id" => return t.store.server_id.then(|| t.server_id(&k, now).map_or(0, i64::from)),
        "trackers" => return Some(t.trackers(&k, now)),
        other => data_named(other)?,
    };
    // Whether the table stores it: asked of an entry that may not exist.
    let stored = t.stores(d);
    stored.then(|| t.get(&k, d, now).unwrap_or(0))
}

/// A stick-table fetch's value.
pub fn fetch(s: &dyn Samples, slot: StickSlot, what: StickWhat, name: Option<&str>) -> Option<Sample<'static>> {
    let (t, k) = match slot {
        StickSlot::Sc(n) => {
            let tracked = s.tracked(n);
            if what == StickWhat::Tracked {
                return Some(Sample::Bool(tracked.is_some()));
            }
            let (t, k) = tracked?;
            match name.filter(|n| *n != t.name) {
                // Another table, at the tracked key.
                Some(other) => (table(other)?.0, k),
                None => (t, k),
            }
        }
        StickSlot::Src => {
            let (t, kind, len) = table(name?)?;
            let mut src = None;
            s.each(&clearway_config::rules::Fetch::Src, &mut |v| {
                if let crate::acl::Value::Ip(ip) = v {
                    src = Some(ip);
                }
                true
            });
            (t, key_of(Sample::ip(src?), kind, len)?)
        }
    };
    let now = now_ms();
    let v = match what {
        // As HAProxy: an address without an entry reads 0.
        StickWhat::Get(_) if slot == StickSlot::Src && !t.contains(&k, now) => 0,
        StickWhat::Get(d) => t.get(&k, d, now)?,
        StickWhat::IncGpc0 => t.inc_gpc0(&k, now)?,
        StickWhat::ClrGpc0 => t.clr_gpc0(&k, now)?,
        StickWhat::Tracked => return None,
    };
    Some(Sample::Int(v))
}

/// A backend's `stick` rule, its table found.
#[derive(Debug)]
struct Rule {
    op: StickOp,
    key: Expr,
    table: Named,
    cond: Option<crate::acl::Cond>,
}

/// A backend's `stick on|match|store-request|store-response` rules.
#[derive(Debug, Default)]
pub struct Sticking {
    rules: Vec<Rule>,
}

/// Keys to point at the server a request ends up on, once it is known: one per table.
#[derive(Debug, Default)]
pub struct Pending(Vec<Tracked>);

impl Pending {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn has(&self, t: &Arc<Table>) -> bool {
        self.0.iter().any(|(x, _)| Arc::ptr_eq(x, t))
    }

    fn push(&mut self, t: Arc<Table>, k: Key) {
        self.0.push((t, k));
    }

    /// Each key's entry names `server` from now on (unless it is `non-stick`).
    pub fn commit(&self, server: &clearway_core::ServerRt) {
        if server.non_stick || self.0.is_empty() {
            return;
        }
        let now = now_ms();
        for (t, k) in &self.0 {
            t.store_server(k, server.id, server_key(t, server).into(), now);
        }
    }
}

/// How entries of `t` name `server`: its name, or with `srvkey addr` its address.
fn server_key<'a>(t: &Table, server: &'a clearway_core::ServerRt) -> std::borrow::Cow<'a, str> {
    if !t.srvkey_addr {
        return server.name.as_str().into();
    }
    let ip = server.current_ip().unwrap_or(server.ip);
    match server.current_port() {
        Some(p) => std::net::SocketAddr::new(ip, p).to_string().into(),
        None => ip.to_string().into(),
    }
}

impl Sticking {
    /// The backend's rules, their tables looked up (the configuration checked they exist).
    pub fn new(rules: &[clearway_config::model::StickRule]) -> Sticking {
        Sticking {
            rules: rules
                .iter()
                .filter_map(|r| {
                    Some(Rule {
                        op: r.op,
                        key: r.expr.clone(),
                        table: table(&r.table)?,
                        cond: r.condition.as_ref().map(crate::acl::Cond::new),
                    })
                })
                .collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Whether some rule reads the response.
    pub fn on_responses(&self) -> bool {
        self.rules.iter().any(|r| r.op == StickOp::StoreResponse)
    }

    fn holds(r: &Rule, s: &dyn Samples) -> bool {
        r.cond.as_ref().is_none_or(|c| c.eval(s))
    }

    fn key(r: &Rule, s: &dyn Samples) -> Option<Key> {
        let (_, kind, len) = &r.table;
        crate::acl::first(s, &r.key, |v| key_of(v, *kind, *len)).flatten()
    }

    /// The request's turn, in the rules' order: the first `stick match|on` whose key has
    /// an entry names the server (by name, else by number, among `servers`; None when
    /// `assigned`, or when `usable` says it may not take the request), and the first
    /// `stick on|store-request` of each table gives a key to store.
    pub fn on_request(
        &self,
        s: &dyn Samples,
        servers: &clearway_core::backend::Servers,
        assigned: bool,
        usable: impl Fn(usize) -> bool,
    ) -> (Option<usize>, Pending) {
        let mut found = None;
        let mut pending = Pending::default();
        let now = now_ms();
        for r in &self.rules {
            let stores = r.op.stores_request() && !pending.has(&r.table.0);
            if !(stores || r.op.matches()) || !Self::holds(r, s) {
                continue;
            }
            let Some(k) = Self::key(r, s) else { continue };
            if r.op.matches() {
                if let Some((id, name)) = r.table.0.server(&k, now) {
                    if !assigned && found.is_none() {
                        let by_name = |(_, x): &(usize, &clearway_core::ServerRt)| server_key(&r.table.0, x) == *name;
                        let all = || servers.iter().enumerate().filter(|(_, x)| x.listed());
                        let i = all()
                            .find(by_name)
                            .or_else(|| all().find(|(_, x)| x.id == id))
                            .map(|(i, _)| i);
                        found = i.filter(|&i| usable(i));
                    }
                }
            }
            if stores {
                pending.push(r.table.0.clone(), k);
            }
        }
        (found, pending)
    }

    /// The response's turn, from `server`: the first `stick store-response` of each table
    /// adds a key, then every key (the request's too) names the server.
    pub fn on_response(&self, s: &dyn Samples, request: &Pending, server: &clearway_core::ServerRt) {
        let mut more = Pending::default();
        for r in self.rules.iter().filter(|r| r.op == StickOp::StoreResponse) {
            if more.has(&r.table.0) || !Self::holds(r, s) {
                continue;
            }
            if let Some(k) = Self::key(r, s) {
                more.push(r.table.0.clone(), k);
            }
        }
        request.commit(server);
        more.commit(server);
    }
}
