//! Stick tables as the rules use them: the process's tables by name, the counters a session
//! or a request tracks (`track-sc0..2`), and what tracking, `sc-inc-gpc0` and the `sc_*` /
//! `src_*` fetches do with them. The counting itself is clearway-core's.

use crate::acl::Samples;
use clearway_config::model::StickKind;
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

/// Makes `tables` the ones rules find by name; `order` their names in the config's order.
pub fn install(tables: HashMap<String, Named>, order: Vec<String>) {
    *TABLES.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(tables));
    *ORDER.write().unwrap_or_else(|e| e.into_inner()) = order;
}

fn kind_word(k: StickKind) -> &'static str {
    match k {
        StickKind::Ip => "ip",
        StickKind::Ipv6 => "ipv6",
        StickKind::Integer => "integer",
        StickKind::String => "string",
        StickKind::Binary => "binary",
    }
}

fn key_text(k: &Key, kind: StickKind) -> String {
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

/// `show table [NAME]`: every table's head line, or one table's with its entries, in
/// HAProxy's layout (an entry's address is a number of our own).
pub fn show(name: Option<&str>) -> Result<String, String> {
    let now = now_ms();
    let head = |n: &str, (t, kind, _): &Named| {
        format!(
            "# table: {n}, type: {}, size:{}, used:{}\n",
            kind_word(*kind),
            t.size,
            t.len(now)
        )
    };
    let Some(name) = name else {
        let order = ORDER.read().unwrap_or_else(|e| e.into_inner()).clone();
        // The last declared first, as HAProxy lists them.
        return Ok(order.iter().rev().filter_map(|n| Some(head(n, &table(n)?))).collect());
    };
    let named = table(name).ok_or("No such table")?;
    let mut out = head(name, &named);
    for (i, (k, used, exp, data)) in named.0.dump(now).into_iter().enumerate() {
        out.push_str(&format!(
            "0x{:x}: key={} use={used} exp={exp}",
            0x1000 + i * 0x40,
            key_text(&k, named.1)
        ));
        for (n, v) in data {
            out.push_str(&format!(" {n}={v}"));
        }
        out.push('\n');
    }
    Ok(out)
}

/// `clear table NAME [key KEY]`.
pub fn clear(name: &str, key: Option<&str>) -> Result<(), String> {
    let (t, kind, len) = table(name).ok_or("No such table")?;
    match key {
        None => t.clear(None),
        Some(k) => {
            let key = key_of(Sample::str(k), kind, len).ok_or("Unable to parse key")?;
            t.clear(Some(&key));
        }
    }
    Ok(())
}

fn table(name: &str) -> Option<Named> {
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
fn key_of(s: Sample<'_>, kind: StickKind, len: usize) -> Option<Key> {
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
