//! The runtime API's stick-table commands, in HAProxy's layout and words: `show table [NAME
//! [key KEY | data.TYPE OP VALUE ...]]`, `clear table NAME [key KEY | data.TYPE OP VALUE ...]`
//! and `set table NAME key KEY [data.TYPE VALUE]*` (an operator blocks an address by setting
//! its `gpc0`, or clears one). Reads and changes the process's tables (`crate::stick`); must
//! not count traffic.

use crate::stick::{data_named, key_of, key_text, kind_word, names, now_ms, table, Named};
use clearway_core::stick::{Data, Dumped, Key};
use clearway_sample::Sample;

/// What is done to the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Show,
    Clear,
    Set,
}

/// HAProxy's data types that Clearway's tables never store: named, they are "not stored in
/// this table" rather than unknown.
const NOT_KEPT: &[&str] = &[
    "server_id",
    "server_key",
    "bytes_in_cnt",
    "bytes_in_rate",
    "bytes_out_cnt",
    "bytes_out_rate",
    "gpc1",
    "gpc1_rate",
    "gpt",
    "gpc",
    "gpc_rate",
];

/// Filters on stored data, as HAProxy allows at most.
const MAX_FILTERS: usize = 4;

/// The command on table `name` (none: every table, for `show` only) with the words after it.
pub fn command(action: Action, name: Option<&str>, args: &[String]) -> Result<String, String> {
    let Some(name) = name else {
        return match action {
            Action::Show => Ok(names().iter().rev().filter_map(|n| Some(head(n, &table(n)?))).collect()),
            _ => Err(usage(action).into()),
        };
    };
    let named = table(name).ok_or("No such table")?;
    match args.first().map(String::as_str) {
        None => match action {
            Action::Show => Ok(dump(name, &named, |_| true)),
            Action::Clear => {
                named.0.clear(None);
                Ok(String::new())
            }
            // HAProxy 2.6 answers nothing and empties the table (its clearing loop runs for
            // `set` too): a mistyped command must not lift every block, so say what is missing.
            Action::Set => Err(usage(action).into()),
        },
        Some("key") => per_key(action, name, &named, &args[1..]),
        Some(w) if w.starts_with("data.") => {
            if action == Action::Set {
                return Err("content-based lookup is only supported with the \"show\" and \"clear\" actions".into());
            }
            let filters = filters(&named, args)?;
            let now = now_ms();
            let keep = |k: &Key| {
                filters.iter().all(|(d, op, v)| {
                    let x = named.0.get(k, *d, now).unwrap_or(0);
                    op.holds(x, *v)
                })
            };
            match action {
                Action::Show => Ok(dump(name, &named, keep)),
                _ => {
                    for k in named.0.keys(now).iter().filter(|k| keep(k)) {
                        if named.0.trackers(k, now) == 0 {
                            named.0.clear(Some(k));
                        }
                    }
                    Ok(String::new())
                }
            }
        }
        Some(_) => Err(usage(action).into()),
    }
}

fn usage(action: Action) -> &'static str {
    match action {
        Action::Show => "Optional argument only supports \"data.<store_data_type>\" <operator> <value> and key <key>",
        Action::Clear => {
            "Required arguments: <table> \"data.<store_data_type>\" <operator> <value> or <table> key <key>"
        }
        Action::Set => "Required arguments: <table> key <key> [data.<store_data_type> <value>]*",
    }
}

/// `... key KEY [data.TYPE VALUE]*`.
fn per_key(action: Action, name: &str, named: &Named, args: &[String]) -> Result<String, String> {
    let (t, kind, len) = named;
    let k = args.first().ok_or("Key value expected")?;
    let key = key_of(Sample::str(k), *kind, *len).ok_or("Invalid key")?;
    let now = now_ms();
    match action {
        Action::Show => Ok(match t.contains(&key, now) {
            true => dump(name, named, |x| *x == key),
            false => String::new(),
        }),
        Action::Clear => {
            if t.trackers(&key, now) > 0 {
                return Err("Entry currently in use, cannot remove".into());
            }
            t.clear(Some(&key));
            Ok(String::new())
        }
        Action::Set => {
            if !t.set(&key, &[], now) {
                return Err("Unable to allocate a new entry".into());
            }
            // As HAProxy: each pair in turn, the ones before an error kept.
            for pair in args[1..].chunks(2) {
                let d = pair[0]
                    .strip_prefix("data.")
                    .ok_or("\"data.<type>\" followed by a value expected")?;
                let d = data_type(t, d)?;
                let v = pair
                    .get(1)
                    .and_then(|v| v.parse::<i64>().ok())
                    .ok_or("Require a valid integer value to store")?;
                // Stored as HAProxy's unsigned counters store a negative value.
                t.set(&key, &[(d, v as u64)], now);
            }
            Ok(String::new())
        }
    }
}

/// A stored data type by name: unknown, not stored, or the one.
fn data_type(t: &clearway_core::stick::Table, name: &str) -> Result<Data, &'static str> {
    match data_named(name) {
        Some(d) if t.stores(d) => Ok(d),
        Some(_) => Err("Data type not stored in this table"),
        None if NOT_KEPT.contains(&name) => Err("Data type not stored in this table"),
        None => Err("Unknown data type"),
    }
}

/// A comparison of a filter.
#[derive(Debug, Clone, Copy)]
enum Op {
    Eq,
    Ne,
    Le,
    Ge,
    Lt,
    Gt,
}

impl Op {
    fn holds(self, x: i64, v: i64) -> bool {
        match self {
            Op::Eq => x == v,
            Op::Ne => x != v,
            Op::Le => x <= v,
            Op::Ge => x >= v,
            Op::Lt => x < v,
            Op::Gt => x > v,
        }
    }
}

/// `data.TYPE OP VALUE` filters (up to four), as HAProxy reads them.
fn filters(named: &Named, args: &[String]) -> Result<Vec<(Data, Op, i64)>, String> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < args.len() && out.len() < MAX_FILTERS {
        let n = out.len() + 1;
        let name = args[at].strip_prefix("data.").unwrap_or("");
        let d = data_type(&named.0, name).map_err(|e| format!("Filter entry #{n}: {e}"))?;
        let op = match args.get(at + 1).map(String::as_str) {
            Some("eq") => Op::Eq,
            Some("ne") => Op::Ne,
            Some("le") => Op::Le,
            Some("ge") => Op::Ge,
            Some("lt") => Op::Lt,
            Some("gt") => Op::Gt,
            _ => {
                return Err(format!(
                    "Filter entry #{n}: Require and operator among \"eq\", \"ne\", \"le\", \"ge\", \"lt\", \"gt\""
                ))
            }
        };
        let v = args
            .get(at + 2)
            .and_then(|v| v.parse::<i64>().ok())
            .ok_or_else(|| format!("Filter entry #{n}: Require a valid integer value to compare against"))?;
        out.push((d, op, v));
        at += 3;
    }
    if at < args.len() {
        // HAProxy counts the words from the command's first (`show table NAME` are 3).
        return Err(format!(
            "Detected extra data in filter, {}th word of input, after '{}'",
            at + 4,
            args[at - 1]
        ));
    }
    Ok(out)
}

/// A table's head line.
fn head(n: &str, (t, kind, _): &Named) -> String {
    format!(
        "# table: {n}, type: {}, size:{}, used:{}\n",
        kind_word(*kind),
        t.size,
        t.len(now_ms())
    )
}

/// A table's head line, then the entries `keep` keeps (an entry's address is a number of
/// our own).
fn dump(name: &str, named: &Named, keep: impl Fn(&Key) -> bool) -> String {
    let mut out = head(name, named);
    let entries: Vec<Dumped> = named.0.dump(now_ms());
    for (i, (k, used, exp, data, server, after)) in entries.into_iter().enumerate() {
        if !keep(&k) {
            continue;
        }
        out.push_str(&format!(
            "0x{:x}: key={} use={used} exp={exp}",
            0x1000 + i * 0x40,
            key_text(&k, named.1)
        ));
        for (n, v) in data {
            out.push_str(&format!(" {n}={v}"));
        }
        if let Some(name) = server {
            out.push_str(&format!(" server_key={name}"));
        }
        for (n, v) in after {
            out.push_str(&format!(" {n}={v}"));
        }
        out.push('\n');
    }
    out
}
