//! Stick tables: entries keyed by an address, an integer or bytes, each holding the counters
//! its table stores (connections, HTTP requests, their rates over a period, gpc0, gpt0),
//! bounded by `size` (the least recently used entry goes first) and forgotten `expire` after
//! their last use. Sharded by key so that threads seldom wait on one another. Owns the
//! counting only: the caller says what happened and when (milliseconds on its clock).

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;

pub use clearway_config::model::StickStore as Store;

pub use clearway_config::model::StickData as Data;

/// An entry's key. Addresses are kept as IPv6 (IPv4 mapped), so both families share a table.
/// Ordered as HAProxy's trees order them (`show table` lists entries so): addresses and
/// bytes by their bytes, integers by value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Key {
    Ip(Ipv6Addr),
    Int(i64),
    Bytes(Box<[u8]>),
}

impl Key {
    pub fn ip(ip: IpAddr) -> Key {
        Key::Ip(match ip {
            IpAddr::V4(a) => a.to_ipv6_mapped(),
            IpAddr::V6(a) => a,
        })
    }
}

/// Events over a period: the current window's count and the previous one's, which HAProxy
/// weighs by how much of it still overlaps the last period.
#[derive(Debug, Clone, Copy, Default)]
struct Freq {
    start: u64,
    curr: u64,
    prev: u64,
}

impl Freq {
    fn rotate(&mut self, now: u64, period: u64) {
        if now >= self.start + period {
            self.prev = if now < self.start + 2 * period { self.curr } else { 0 };
            self.curr = 0;
            self.start = now - (now - self.start) % period;
        }
    }

    fn add(&mut self, now: u64, period: u64, n: u64) {
        self.rotate(now, period);
        self.curr += n;
    }

    fn read(mut self, now: u64, period: u64) -> u64 {
        self.rotate(now, period);
        let left = period - (now - self.start).min(period);
        self.curr + self.prev * left / period
    }
}

#[derive(Debug, Clone, Default)]
struct Entry {
    conn_cnt: u64,
    conn_cur: u64,
    conn_rate: Freq,
    sess_cnt: u64,
    sess_rate: Freq,
    http_req_cnt: u64,
    http_req_rate: Freq,
    http_err_cnt: u64,
    http_err_rate: Freq,
    http_fail_cnt: u64,
    http_fail_rate: Freq,
    gpc0: u64,
    gpc0_rate: Freq,
    gpt0: u64,
    /// The server `stick` rules stored: its number and its name (or address).
    server: Option<(u32, std::sync::Arc<str>)>,
    used: u64,
}

/// An entry as `show table` writes it: its key, how many track it, the ms before it
/// expires, its data by name, the name (or address) of the server it keeps, and the data
/// written after that name.
pub type Dumped = (
    Key,
    u64,
    u64,
    Vec<(String, u64)>,
    Option<std::sync::Arc<str>>,
    Vec<(String, u64)>,
);

/// One stick table.
#[derive(Debug)]
pub struct Table {
    pub name: String,
    pub store: Store,
    /// Entries at most (spread over the shards).
    pub size: usize,
    expire: Option<u64>,
    nopurge: bool,
    /// `srvkey addr`: entries name their server by its address, not its name.
    pub srvkey_addr: bool,
    shards: Box<[Mutex<HashMap<Key, Entry>>]>,
}

impl Table {
    pub fn new(name: &str, store: Store, size: usize, expire_ms: Option<u64>, nopurge: bool) -> Table {
        // Small tables keep one shard, so the least recently used entry is the one to go.
        let n = (size / 4096).clamp(1, 16);
        Table {
            name: name.to_string(),
            store,
            size: size.max(1),
            expire: expire_ms,
            nopurge,
            srvkey_addr: false,
            shards: (0..n).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }

    /// The same table, naming servers by address (`srvkey addr`).
    pub fn keyed_by_addr(mut self, yes: bool) -> Table {
        self.srvkey_addr = yes;
        self
    }

    fn shard(&self, key: &Key) -> std::sync::MutexGuard<'_, HashMap<Key, Entry>> {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        key.hash(&mut h);
        let s = &self.shards[h.finish() as usize % self.shards.len()];
        s.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn live(&self, e: &Entry, now: u64) -> bool {
        self.expire.is_none_or(|x| e.used + x > now)
    }

    /// The entry of `key`, made when missing (None: the table is full and keeps its
    /// entries, `nopurge`), then `f` on it.
    fn with<R>(&self, key: &Key, now: u64, f: impl FnOnce(&mut Entry, &Store) -> R) -> Option<R> {
        let mut map = self.shard(key);
        if map.get(key).is_some_and(|e| !self.live(e, now)) {
            map.remove(key);
        }
        if !map.contains_key(key) {
            let cap = self.size.div_ceil(self.shards.len());
            if map.len() >= cap {
                map.retain(|_, e| self.live(e, now));
            }
            if map.len() >= cap {
                if self.nopurge {
                    return None;
                }
                let oldest = map.iter().min_by_key(|(_, e)| e.used).map(|(k, _)| k.clone())?;
                map.remove(&oldest);
            }
            map.insert(key.clone(), Entry::default());
        }
        let e = map.get_mut(key)?;
        e.used = now;
        Some(f(e, &self.store))
    }

    /// A session (or request) starts tracking the entry: connection counters up.
    pub fn track(&self, key: &Key, now: u64) -> bool {
        self.with(key, now, |e, s| {
            e.conn_cnt += 1;
            e.conn_cur += 1;
            if let Some(p) = s.conn_rate {
                e.conn_rate.add(now, p, 1);
            }
            e.sess_cnt += 1;
            if let Some(p) = s.sess_rate {
                e.sess_rate.add(now, p, 1);
            }
        })
        .is_some()
    }

    /// It stops tracking it.
    pub fn untrack(&self, key: &Key) {
        if let Some(e) = self.shard(key).get_mut(key) {
            e.conn_cur = e.conn_cur.saturating_sub(1);
        }
    }

    /// An HTTP request counted for the entry.
    pub fn count_request(&self, key: &Key, now: u64) {
        self.with(key, now, |e, s| {
            e.http_req_cnt += 1;
            if let Some(p) = s.http_req_rate {
                e.http_req_rate.add(now, p, 1);
            }
        });
    }

    /// An HTTP error (a 4xx, a refused request) counted for the entry, or a failure (a 5xx
    /// but 501 and 505).
    pub fn count_http(&self, key: &Key, now: u64, fail: bool) {
        self.with(key, now, |e, s| {
            if fail {
                e.http_fail_cnt += 1;
                if let Some(p) = s.http_fail_rate {
                    e.http_fail_rate.add(now, p, 1);
                }
            } else {
                e.http_err_cnt += 1;
                if let Some(p) = s.http_err_rate {
                    e.http_err_rate.add(now, p, 1);
                }
            }
        });
    }

    /// gpc0 plus one; its new value.
    pub fn inc_gpc0(&self, key: &Key, now: u64) -> Option<i64> {
        self.with(key, now, |e, s| {
            e.gpc0 += 1;
            if let Some(p) = s.gpc0_rate {
                e.gpc0_rate.add(now, p, 1);
            }
            e.gpc0 as i64
        })
    }

    /// The server the live entry of `key` names (`stick match`): its number and its name
    /// or address; the entry counts as used.
    pub fn server(&self, key: &Key, now: u64) -> Option<(u32, std::sync::Arc<str>)> {
        let mut map = self.shard(key);
        let e = map.get_mut(key).filter(|e| self.live(e, now))?;
        e.used = now;
        e.server.clone()
    }

    /// The entry of `key` names this server from now on (`stick store-*`).
    pub fn store_server(&self, key: &Key, id: u32, name: std::sync::Arc<str>, now: u64) {
        self.with(key, now, |e, _| e.server = Some((id, name)));
    }

    /// The number of the server the live entry of `key` names (no use counted).
    pub fn server_id(&self, key: &Key, now: u64) -> Option<u32> {
        let map = self.shard(key);
        map.get(key).filter(|e| self.live(e, now))?.server.as_ref().map(|s| s.0)
    }

    /// How many sessions or requests track the live entry of `key` (its `conn_cur` count of
    /// trackers, 0 without an entry).
    pub fn trackers(&self, key: &Key, now: u64) -> i64 {
        let map = self.shard(key);
        map.get(key)
            .filter(|e| self.live(e, now))
            .map_or(0, |e| e.conn_cur as i64)
    }

    /// gpc0 back to 0; its value before.
    pub fn clr_gpc0(&self, key: &Key, now: u64) -> Option<i64> {
        self.with(key, now, |e, _| std::mem::take(&mut e.gpc0) as i64)
    }

    /// gpt0 set.
    pub fn set_gpt0(&self, key: &Key, v: u64, now: u64) {
        self.with(key, now, |e, _| e.gpt0 = v);
    }

    /// A stored value of the entry; None when the entry is not there, or the table does not
    /// store that value.
    pub fn get(&self, key: &Key, d: Data, now: u64) -> Option<i64> {
        let map = self.shard(key);
        let e = map.get(key).filter(|e| self.live(e, now))?;
        let s = &self.store;
        let v = match d {
            Data::ConnCnt => s.conn_cnt.then_some(e.conn_cnt)?,
            Data::ConnCur => s.conn_cur.then_some(e.conn_cur)?,
            Data::ConnRate => e.conn_rate.read(now, s.conn_rate?),
            Data::SessCnt => s.sess_cnt.then_some(e.sess_cnt)?,
            Data::SessRate => e.sess_rate.read(now, s.sess_rate?),
            Data::HttpReqCnt => s.http_req_cnt.then_some(e.http_req_cnt)?,
            Data::HttpReqRate => e.http_req_rate.read(now, s.http_req_rate?),
            Data::HttpErrCnt => s.http_err_cnt.then_some(e.http_err_cnt)?,
            Data::HttpErrRate => e.http_err_rate.read(now, s.http_err_rate?),
            Data::HttpFailCnt => s.http_fail_cnt.then_some(e.http_fail_cnt)?,
            Data::HttpFailRate => e.http_fail_rate.read(now, s.http_fail_rate?),
            Data::Gpc0 => s.gpc0.then_some(e.gpc0)?,
            Data::Gpc0Rate => e.gpc0_rate.read(now, s.gpc0_rate?),
            Data::Gpt0 => s.gpt0.then_some(e.gpt0)?,
        };
        Some(v as i64)
    }

    /// The live entries, ordered by key: the key, how many track it, the ms left before it
    /// expires (0 without `expire`), and the stored data in HAProxy's order with their
    /// names (`gpc0`, `http_req_rate(10000)`).
    pub fn dump(&self, now: u64) -> Vec<Dumped> {
        let s = &self.store;
        let mut out: Vec<_> = self
            .shards
            .iter()
            .flat_map(|m| {
                let m = m.lock().unwrap_or_else(|e| e.into_inner());
                m.iter()
                    .filter(|(_, e)| self.live(e, now))
                    .map(|(k, e)| {
                        let mut d = Vec::new();
                        if s.server_id {
                            d.push(("server_id".into(), e.server.as_ref().map_or(0, |x| u64::from(x.0))));
                        }
                        let rate = |name: &str, p: u64, f: Freq| (format!("{name}({p})"), f.read(now, p));
                        if s.gpt0 {
                            d.push(("gpt0".into(), e.gpt0));
                        }
                        if s.gpc0 {
                            d.push(("gpc0".into(), e.gpc0));
                        }
                        if let Some(p) = s.gpc0_rate {
                            d.push(rate("gpc0_rate", p, e.gpc0_rate));
                        }
                        if s.conn_cnt {
                            d.push(("conn_cnt".into(), e.conn_cnt));
                        }
                        if let Some(p) = s.conn_rate {
                            d.push(rate("conn_rate", p, e.conn_rate));
                        }
                        if s.conn_cur {
                            d.push(("conn_cur".into(), e.conn_cur));
                        }
                        if s.sess_cnt {
                            d.push(("sess_cnt".into(), e.sess_cnt));
                        }
                        if let Some(p) = s.sess_rate {
                            d.push(rate("sess_rate", p, e.sess_rate));
                        }
                        if s.http_req_cnt {
                            d.push(("http_req_cnt".into(), e.http_req_cnt));
                        }
                        if let Some(p) = s.http_req_rate {
                            d.push(rate("http_req_rate", p, e.http_req_rate));
                        }
                        if s.http_err_cnt {
                            d.push(("http_err_cnt".into(), e.http_err_cnt));
                        }
                        if let Some(p) = s.http_err_rate {
                            d.push(rate("http_err_rate", p, e.http_err_rate));
                        }
                        // HAProxy lists these after the server's key.
                        let mut after = Vec::new();
                        if s.http_fail_cnt {
                            after.push(("http_fail_cnt".into(), e.http_fail_cnt));
                        }
                        if let Some(p) = s.http_fail_rate {
                            after.push(rate("http_fail_rate", p, e.http_fail_rate));
                        }
                        let exp = self.expire.map_or(0, |x| (e.used + x).saturating_sub(now));
                        (
                            k.clone(),
                            e.conn_cur,
                            exp,
                            d,
                            e.server.as_ref().map(|x| x.1.clone()),
                            after,
                        )
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Whether the table stores `d`.
    pub fn stores(&self, d: Data) -> bool {
        let s = &self.store;
        match d {
            Data::ConnCnt => s.conn_cnt,
            Data::ConnCur => s.conn_cur,
            Data::ConnRate => s.conn_rate.is_some(),
            Data::SessCnt => s.sess_cnt,
            Data::SessRate => s.sess_rate.is_some(),
            Data::HttpReqCnt => s.http_req_cnt,
            Data::HttpReqRate => s.http_req_rate.is_some(),
            Data::HttpErrCnt => s.http_err_cnt,
            Data::HttpErrRate => s.http_err_rate.is_some(),
            Data::HttpFailCnt => s.http_fail_cnt,
            Data::HttpFailRate => s.http_fail_rate.is_some(),
            Data::Gpc0 => s.gpc0,
            Data::Gpc0Rate => s.gpc0_rate.is_some(),
            Data::Gpt0 => s.gpt0,
        }
    }

    /// The entry of `key`, made when missing, with each of `values` set (`set table`): a
    /// counter to the value, a rate to that many events in the current period and none in
    /// the previous (so it holds for the period, then fades, as HAProxy's). Values the table
    /// does not store are passed over. false: no room for a new entry (`nopurge`).
    pub fn set(&self, key: &Key, values: &[(Data, u64)], now: u64) -> bool {
        self.with(key, now, |e, _| {
            let rate = |v: u64| Freq {
                start: now,
                curr: v,
                prev: 0,
            };
            for &(d, v) in values {
                match d {
                    Data::ConnCnt => e.conn_cnt = v,
                    Data::ConnCur => e.conn_cur = v,
                    Data::ConnRate => e.conn_rate = rate(v),
                    Data::SessCnt => e.sess_cnt = v,
                    Data::SessRate => e.sess_rate = rate(v),
                    Data::HttpReqCnt => e.http_req_cnt = v,
                    Data::HttpReqRate => e.http_req_rate = rate(v),
                    Data::HttpErrCnt => e.http_err_cnt = v,
                    Data::HttpErrRate => e.http_err_rate = rate(v),
                    Data::HttpFailCnt => e.http_fail_cnt = v,
                    Data::HttpFailRate => e.http_fail_rate = rate(v),
                    Data::Gpc0 => e.gpc0 = v,
                    Data::Gpc0Rate => e.gpc0_rate = rate(v),
                    Data::Gpt0 => e.gpt0 = v,
                }
            }
        })
        .is_some()
    }

    /// The live keys, for a look at each (`show table NAME data.X op V`).
    pub fn keys(&self, now: u64) -> Vec<Key> {
        self.shards
            .iter()
            .flat_map(|m| {
                let m = m.lock().unwrap_or_else(|e| e.into_inner());
                m.iter()
                    .filter(|(_, e)| self.live(e, now))
                    .map(|(k, _)| k.clone())
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// Forgets the entry of `key`, or every entry.
    pub fn clear(&self, key: Option<&Key>) {
        match key {
            Some(k) => {
                self.shard(k).remove(k);
            }
            None => self
                .shards
                .iter()
                .for_each(|m| m.lock().unwrap_or_else(|e| e.into_inner()).clear()),
        }
    }

    /// Whether the key has a live entry.
    pub fn contains(&self, key: &Key, now: u64) -> bool {
        self.shard(key).get(key).is_some_and(|e| self.live(e, now))
    }

    /// Entries in use now.
    pub fn len(&self, now: u64) -> usize {
        self.shards
            .iter()
            .map(|s| {
                let m = s.lock().unwrap_or_else(|e| e.into_inner());
                m.values().filter(|e| self.live(e, now)).count()
            })
            .sum()
    }

    pub fn is_empty(&self, now: u64) -> bool {
        self.len(now) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> Store {
        Store {
            conn_cur: true,
            conn_cnt: true,
            http_req_cnt: true,
            http_req_rate: Some(10_000),
            gpc0: true,
            ..Store::default()
        }
    }

    #[test]
    fn entries_are_listed_in_key_order_and_set_values_read_back() {
        let t = Table::new("t", store(), 100, None, false);
        for a in ["2001:db8::1", "::ffff:192.168.1.101", "::ffff:192.168.1.0"] {
            assert!(t.set(
                &Key::ip(a.parse().unwrap()),
                &[(Data::Gpc0, 4), (Data::HttpReqRate, 9)],
                50
            ));
        }
        let keys: Vec<String> = t.dump(60).into_iter().map(|d| format!("{:?}", d.0)).collect();
        assert_eq!(
            keys,
            ["Ip(::ffff:192.168.1.0)", "Ip(::ffff:192.168.1.101)", "Ip(2001:db8::1)"]
        );
        let k = Key::ip("2001:db8::1".parse().unwrap());
        assert_eq!(t.get(&k, Data::Gpc0, 60), Some(4));
        assert_eq!(
            t.get(&k, Data::HttpReqRate, 60),
            Some(9),
            "a rate set holds for its period"
        );
        assert!(t.stores(Data::Gpc0) && !t.stores(Data::Gpt0));
    }

    #[test]
    fn counts_rates_and_expiry() {
        let t = Table::new("t", store(), 100, Some(30_000), false);
        let k = Key::ip("192.0.2.1".parse().unwrap());
        assert_eq!(t.get(&k, Data::ConnCur, 0), None);
        assert!(t.track(&k, 1000));
        for i in 0..5 {
            t.count_request(&k, 1000 + i);
        }
        assert_eq!(t.get(&k, Data::ConnCur, 2000), Some(1));
        assert_eq!(t.get(&k, Data::HttpReqCnt, 2000), Some(5));
        assert_eq!(t.get(&k, Data::HttpReqRate, 2000), Some(5));
        // A period later the rate counts what still overlaps it.
        let r = t.get(&k, Data::HttpReqRate, 15_000).unwrap();
        assert!((0..5).contains(&r), "{r}");
        assert_eq!(t.get(&k, Data::HttpReqRate, 25_000), Some(0));
        t.untrack(&k);
        assert_eq!(t.get(&k, Data::ConnCur, 2000), Some(0));
        assert_eq!(t.inc_gpc0(&k, 3000), Some(1));
        assert_eq!(t.get(&k, Data::ConnRate, 3000), None, "not stored");
        // Forgotten `expire` after its last use.
        assert_eq!(t.get(&k, Data::HttpReqCnt, 40_000), None);
        // v4 and v4-mapped v6 are one key.
        assert_eq!(Key::ip("::ffff:192.0.2.1".parse().unwrap()), k);
    }

    #[test]
    fn size_bounds_memory_least_recently_used_first() {
        let t = Table::new("t", store(), 3, None, false);
        for i in 0..3 {
            t.track(&Key::Int(i), i as u64);
        }
        t.count_request(&Key::Int(0), 10);
        t.track(&Key::Int(9), 11);
        assert_eq!(t.len(12), 3);
        assert!(t.get(&Key::Int(1), Data::ConnCnt, 12).is_none(), "the oldest went");
        assert!(t.get(&Key::Int(0), Data::ConnCnt, 12).is_some());
        let full = Table::new("t", store(), 1, None, true);
        assert!(full.track(&Key::Int(1), 0));
        assert!(!full.track(&Key::Int(2), 1), "nopurge keeps what it has");
    }

    #[test]
    fn entries_keep_a_server() {
        let t = Table::new(
            "t",
            Store {
                server_id: true,
                ..store()
            },
            10,
            Some(1000),
            false,
        );
        let k = Key::Int(7);
        assert_eq!(t.server(&k, 0), None, "no entry yet");
        t.store_server(&k, 2, "s2".into(), 10);
        assert_eq!(t.server(&k, 500), Some((2, "s2".into())));
        // Matching counts as a use: the entry lives on.
        assert_eq!(t.server(&k, 1400), Some((2, "s2".into())));
        let d = t.dump(1400);
        assert_eq!(d[0].3[0], ("server_id".to_string(), 2));
        assert_eq!(d[0].4.as_deref(), Some("s2"));
        assert_eq!(t.server(&k, 2500), None, "expired");
    }
}
