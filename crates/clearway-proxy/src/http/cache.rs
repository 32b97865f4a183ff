//! HAProxy's small object cache (`cache` sections, `http-request cache-use`, `http-response
//! cache-store`): which requests may be answered from it and with what (a fresh object,
//! a 304 to a conditional request), which responses it keeps (HAProxy's cacheability
//! rules: GET, 200, freshness or a validator, no `no-store`/`private`...), for how long
//! (`s-maxage`, `max-age`, `Expires`, capped by the section's `max-age`), per variant when
//! `process-vary` is on, and within its size (the oldest object goes first). Objects are
//! kept whole, as their response's body passes (`Fill`).

use bytes::{Bytes, BytesMut};
use clearway_config::model::CacheDef;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, StatusCode, Version};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// The caches of the running configuration, by name.
static CACHES: std::sync::RwLock<Option<Arc<ByName>>> = std::sync::RwLock::new(None);

type ByName = HashMap<String, Arc<Cache>>;

/// Makes these the caches rules find by name.
pub fn install(defs: &[CacheDef]) {
    let map = defs
        .iter()
        .map(|d| (d.name.clone(), Arc::new(Cache::new(d.clone()))))
        .collect();
    *CACHES.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(map));
}

/// The running configuration's cache of that name.
pub fn named(name: &str) -> Option<Arc<Cache>> {
    CACHES
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()?
        .get(name)
        .cloned()
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// What a kept response varies on (`process-vary on`): the request's `referer` when its
/// `Vary` names it, and the codings it is in when `Vary` names
/// `accept-encoding` (a request that accepts them all may have it).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Variant {
    headers: Vec<(String, String)>,
    codings: Option<Vec<String>>,
}

/// The codings HAProxy knows in `Accept-Encoding` and `Content-Encoding`.
const CODINGS: &[&str] = &[
    "aes128gcm",
    "br",
    "compress",
    "deflate",
    "exi",
    "gzip",
    "identity",
    "pack200-gzip",
    "x-compress",
    "x-gzip",
    "zstd",
];

/// The codings a request accepts (None: any), as HAProxy reads `Accept-Encoding`: identity
/// always, those listed with a weight above 0, all with `*` or without the header.
fn accepted_codings(h: &HeaderMap) -> Option<Vec<String>> {
    let items: Vec<String> = values(h, header::ACCEPT_ENCODING)
        .flat_map(|v| v.split(','))
        .map(|c| c.trim().to_ascii_lowercase())
        .filter(|c| !c.is_empty())
        .collect();
    // No header: any coding; an empty one: identity alone.
    if !h.contains_key(header::ACCEPT_ENCODING) {
        return None;
    }
    let mut ok = vec!["identity".to_string()];
    let mut refused = Vec::new();
    for item in items {
        let (name, params) = item.split_once(';').unwrap_or((&item, ""));
        let name = name.trim();
        let zero = params
            .split(';')
            .filter_map(|p| p.trim().strip_prefix("q="))
            .any(|q| q.trim().parse::<f32>().is_ok_and(|q| q == 0.0));
        if name == "*" && !zero {
            return None;
        }
        if zero {
            refused.push(name.to_string());
        } else {
            ok.push(name.to_string());
        }
    }
    ok.retain(|c| !refused.contains(c));
    Some(ok)
}

/// One kept response.
#[derive(Debug)]
struct Entry {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    /// When it was kept, and how old it was then (its `Age`), in seconds.
    stored: u64,
    age: u64,
    expire: u64,
    last_modified: Option<u64>,
    /// The request headers it varies on (empty without `Vary`), and the coding it is in.
    vary: Vec<String>,
    variant: Variant,
    seq: u64,
}

impl Entry {
    fn size(&self) -> u64 {
        let heads: usize = self.headers.iter().map(|(k, v)| k.as_str().len() + v.len() + 4).sum();
        (self.body.len() + heads + 64) as u64
    }
}

#[derive(Debug, Default)]
struct Store {
    /// By primary key (the hash of the request target): the variants.
    entries: HashMap<[u8; 20], Vec<Entry>>,
    /// Insertion order, for eviction: sequence number -> primary key.
    order: BTreeMap<u64, [u8; 20]>,
    bytes: u64,
    next: u64,
}

/// One `cache` section at run time.
#[derive(Debug)]
pub struct Cache {
    pub def: CacheDef,
    store: Mutex<Store>,
}

/// What `cache-use` worked out for a request, kept for `cache-store`.
#[derive(Debug, Clone)]
pub struct CacheTxn {
    key: [u8; 20],
    /// The request says not to use the cache (and what comes back is not kept either).
    ignore: bool,
    /// The request forbids keeping its response (`Authorization`, `no-store`).
    no_store: bool,
    get: bool,
    http11: bool,
    /// The request's `referer`, and the codings it accepts (None: any).
    variant_source: Vec<(String, String)>,
    accepts: Option<Vec<String>>,
}

/// Marks a response that came from a cache (`res.cache_hit`, `res.cache_name`).
#[derive(Debug, Clone)]
pub struct CacheHit(pub Arc<str>);

/// The value of directive `name` in Cache-Control values (`max-age=N`), or whether it is
/// there (Some("")).
fn directive<'a>(values: impl Iterator<Item = &'a str>, name: &str) -> Option<String> {
    for v in values {
        for d in v.split(',') {
            let d = d.trim();
            let (k, val) = d.split_once('=').unwrap_or((d, ""));
            if k.trim().eq_ignore_ascii_case(name) {
                return Some(val.trim().trim_matches('"').to_string());
            }
        }
    }
    None
}

fn values(h: &HeaderMap, name: header::HeaderName) -> impl Iterator<Item = &str> {
    h.get_all(name).iter().filter_map(|v| v.to_str().ok())
}

/// An HTTP date as seconds since the epoch.
fn http_date(s: &str) -> Option<u64> {
    httpdate::parse_http_date(s.trim())
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
}

/// The headers `process-vary` can vary on (HAProxy 2.6's).
const VARY_OK: &[&str] = &["accept-encoding", "referer"];

impl Cache {
    fn new(def: CacheDef) -> Cache {
        Cache {
            def,
            store: Mutex::new(Store::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `cache-use`: the request's key and what it allows; and the response to send when a
    /// fresh object answers it.
    pub fn lookup(&self, req: &http::request::Parts) -> (CacheTxn, Option<http::Response<Bytes>>) {
        let h = &req.headers;
        let get = req.method == Method::GET;
        let http11 = !matches!(req.version, Version::HTTP_09 | Version::HTTP_10);
        let mut ignore = !http11 || !(get || req.method == Method::HEAD);
        let mut no_store = h.contains_key(header::AUTHORIZATION);
        ignore |= no_store;
        let cc: Vec<&str> = values(h, header::CACHE_CONTROL).collect();
        for d in cc.iter().flat_map(|v| v.split(',')).map(str::trim) {
            let d = d.to_ascii_lowercase();
            if ["max-age", "no-cache", "max-stale", "min-fresh"]
                .iter()
                .any(|p| d.starts_with(p))
            {
                ignore = true;
            }
            if d.starts_with("no-store") {
                no_store = true;
            }
        }
        if cc.is_empty() && values(h, header::PRAGMA).any(|p| p.trim().eq_ignore_ascii_case("no-cache")) {
            ignore = true;
        }
        // The target made absolute, so HTTP/1 and HTTP/2 requests share objects.
        let target = match req.uri.authority() {
            Some(_) => req.uri.to_string(),
            None => {
                let host = h.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
                format!("https://{host}{}", req.uri.path_and_query().map_or("/", |p| p.as_str()))
            }
        };
        let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, target.as_bytes());
        let mut key = [0u8; 20];
        key.copy_from_slice(digest.as_ref());
        // What variants depend on, read only when the cache keeps variants.
        let (variant_source, accepts) = if self.def.process_vary {
            let referer = values(h, header::REFERER).collect::<Vec<_>>().join(",");
            (vec![("referer".to_string(), referer)], accepted_codings(h))
        } else {
            (Vec::new(), None)
        };
        let txn = CacheTxn {
            key,
            ignore,
            no_store,
            get,
            http11,
            variant_source,
            accepts,
        };
        if txn.ignore {
            return (txn, None);
        }
        let now = now_secs();
        let mut store = self.lock();
        let Some(list) = store.entries.get_mut(&key) else {
            return (txn, None);
        };
        list.retain(|e| e.expire > now);
        let found = list.iter().find(|e| {
            let headers_match = (txn.variant_source.iter())
                .filter(|(n, _)| e.vary.contains(n))
                .eq(e.variant.headers.iter());
            let codings_match = match (&e.variant.codings, &txn.accepts) {
                (None, _) | (Some(_), None) => true,
                (Some(have), Some(ok)) => have.iter().all(|c| ok.contains(c)),
            };
            headers_match && codings_match
        });
        let Some(e) = found else { return (txn, None) };
        let mut res = if not_modified(e, h) {
            let mut r = http::Response::new(Bytes::new());
            *r.status_mut() = StatusCode::NOT_MODIFIED;
            for n in [
                header::ETAG,
                header::LAST_MODIFIED,
                header::CACHE_CONTROL,
                header::EXPIRES,
                header::VARY,
            ] {
                for v in e.headers.get_all(&n) {
                    r.headers_mut().append(n.clone(), v.clone());
                }
            }
            r
        } else {
            let body = if req.method == Method::HEAD {
                Bytes::new()
            } else {
                e.body.clone()
            };
            let mut r = http::Response::new(body);
            *r.status_mut() = e.status;
            *r.headers_mut() = e.headers.clone();
            if !r.headers().contains_key(header::CONTENT_LENGTH) {
                r.headers_mut()
                    .insert(header::CONTENT_LENGTH, HeaderValue::from(e.body.len()));
            }
            r
        };
        let age = now.saturating_sub(e.stored) + e.age;
        res.headers_mut().insert(header::AGE, HeaderValue::from(age));
        res.extensions_mut().insert(CacheHit(self.def.name.as_str().into()));
        (txn, Some(res))
    }

    /// `cache-store`: whether the response is one to keep (then its body goes through the
    /// returned `Fill`), or, after a successful unsafe request, forgets the object.
    pub fn store(self: &Arc<Self>, txn: &CacheTxn, method: &Method, rp: &mut http::response::Parts) -> Option<Fill> {
        if rp.extensions.get::<CacheHit>().is_some() || !txn.http11 {
            return None;
        }
        let status = rp.status.as_u16();
        if !txn.get {
            let safe = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE);
            if !safe && (200..400).contains(&status) {
                self.forget(&txn.key);
            }
            return None;
        }
        if status != 200 || txn.ignore || txn.no_store {
            return None;
        }
        let h = &rp.headers;
        let length = h
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if length.is_some_and(|l| l > self.def.max_object_size) {
            return None;
        }
        // Vary: kept per variant when processed and on headers it knows, else not kept.
        let vary: Vec<String> = values(h, header::VARY)
            .flat_map(|v| v.split(','))
            .map(|v| v.trim().to_ascii_lowercase())
            .filter(|v| !v.is_empty())
            .collect();
        if !vary.is_empty() && (!self.def.process_vary || vary.iter().any(|v| !VARY_OK.contains(&v.as_str()))) {
            return None;
        }
        if !cacheable(h) {
            return None;
        }
        let (effective, true_max) = max_age(h, self.def.max_age)?;
        let age = match h.get(header::AGE) {
            None => 0,
            Some(v) => {
                let a = v.to_str().ok()?.trim().parse::<u64>().ok()?;
                if a > true_max {
                    return None;
                }
                a
            }
        };
        let codings = if vary.iter().any(|v| v == "accept-encoding") {
            let mut c: Vec<String> = values(h, header::CONTENT_ENCODING)
                .flat_map(|v| v.split(','))
                .map(|c| c.trim().to_ascii_lowercase())
                .filter(|c| !c.is_empty())
                .collect();
            // A coding HAProxy does not know: not kept.
            if c.iter().any(|x| !CODINGS.contains(&x.as_str())) {
                return None;
            }
            if c.is_empty() {
                c.push("identity".into());
            }
            Some(c)
        } else {
            None
        };
        let variant = Variant {
            headers: txn
                .variant_source
                .iter()
                .filter(|(n, _)| vary.contains(n))
                .cloned()
                .collect(),
            codings,
        };
        rp.headers.remove(header::AGE);
        let now = now_secs();
        Some(Fill {
            cache: self.clone(),
            key: txn.key,
            entry: Some(Entry {
                status: rp.status,
                headers: rp.headers.clone(),
                body: Bytes::new(),
                stored: now,
                age,
                expire: now + effective,
                // As HAProxy: Last-Modified, else Date, else now.
                last_modified: [header::LAST_MODIFIED, header::DATE]
                    .into_iter()
                    .find_map(|n| rp.headers.get(n).and_then(|v| v.to_str().ok()).and_then(http_date))
                    .or(Some(now)),
                vary,
                variant,
                seq: 0,
            }),
            body: BytesMut::new(),
        })
    }

    fn forget(&self, key: &[u8; 20]) {
        let mut s = self.lock();
        if let Some(list) = s.entries.remove(key) {
            for e in list {
                s.bytes -= e.size();
                s.order.remove(&e.seq);
            }
        }
    }

    fn insert(&self, key: [u8; 20], mut e: Entry) {
        let size = e.size();
        if size > self.def.max_object_size.max(1) + 4096 || size > self.def.total_max_size {
            return;
        }
        let mut s = self.lock();
        // The oldest objects go until this one fits.
        while s.bytes + size > self.def.total_max_size {
            let Some((&seq, &k)) = s.order.iter().next() else { break };
            s.order.remove(&seq);
            if let Some(list) = s.entries.get_mut(&k) {
                if let Some(i) = list.iter().position(|x| x.seq == seq) {
                    let gone = list.remove(i);
                    s.bytes -= gone.size();
                }
                if s.entries.get(&k).is_some_and(Vec::is_empty) {
                    s.entries.remove(&k);
                }
            }
        }
        s.next += 1;
        e.seq = s.next;
        s.order.insert(e.seq, key);
        s.bytes += size;
        let max = self.def.max_secondary_entries;
        let list = s.entries.entry(key).or_default();
        // The same variant is replaced; with as many variants as allowed already, a new
        // one is not kept (as HAProxy).
        let mut freed = Vec::new();
        if let Some(i) = list.iter().position(|x| x.variant == e.variant) {
            freed.push(list.remove(i));
        }
        let kept = list.len() < max;
        if kept {
            list.push(e);
        } else {
            freed.push(e);
        }
        for f in freed {
            s.bytes -= f.size();
            s.order.remove(&f.seq);
        }
    }
}

/// A conditional request the object satisfies: `If-None-Match` (any of its tags, or `*`,
/// compared weakly), else `If-Modified-Since` at or after its `Last-Modified`.
fn not_modified(e: &Entry, h: &HeaderMap) -> bool {
    let inm: Vec<&str> = values(h, header::IF_NONE_MATCH)
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    if !inm.is_empty() {
        let weak = |t: &str| t.trim_start_matches("W/").to_string();
        let tag = e.headers.get(header::ETAG).and_then(|v| v.to_str().ok()).map(weak);
        return inm
            .iter()
            .any(|t| *t == "*" || tag.as_deref() == Some(weak(t).as_str()));
    }
    let since = h
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(http_date);
    matches!((since, e.last_modified), (Some(s), Some(m)) if m <= s)
}

/// HAProxy's response cacheability: not `no-cache`/`no-store`/`private`, and with
/// freshness information or a validator.
fn cacheable(h: &HeaderMap) -> bool {
    if values(h, header::PRAGMA).any(|p| p.trim().eq_ignore_ascii_case("no-cache")) {
        return false;
    }
    let mut ok = true;
    let mut fresh = false;
    for d in values(h, header::CACHE_CONTROL)
        .flat_map(|v| v.split(','))
        .map(str::trim)
    {
        let l = d.to_ascii_lowercase();
        match l.as_str() {
            "public" => ok = true,
            "private" | "no-cache" | "no-store" | "max-age=0" | "s-maxage=0" => ok = false,
            _ if l.starts_with("no-cache=\"set-cookie") => ok = false,
            _ if l.starts_with("s-maxage") || l.starts_with("max-age") => fresh = true,
            _ => {}
        }
    }
    fresh |= h.contains_key(header::EXPIRES);
    ok && (fresh || h.contains_key(header::ETAG) || h.contains_key(header::LAST_MODIFIED))
}

/// How long to keep a response (capped by `cap`) and how long it says it lives; None when
/// its Cache-Control is malformed.
fn max_age(h: &HeaderMap, cap: u64) -> Option<(u64, u64)> {
    let num = |name: &str| -> Option<Option<u64>> {
        match directive(values(h, header::CACHE_CONTROL), name) {
            None => Some(None),
            Some(v) => v.parse::<u64>().ok().map(Some),
        }
    };
    let (smax, max) = (num("s-maxage")?, num("max-age")?);
    let expires = if smax.is_none() && max.is_none() {
        h.get(header::EXPIRES).map(|v| {
            let now = now_secs();
            v.to_str().ok().and_then(http_date).map_or(0, |t| t.saturating_sub(now))
        })
    } else {
        None
    };
    let true_max = match (smax.filter(|&s| s > 0), max.filter(|&m| m > 0), expires) {
        (Some(s), _, _) => s,
        (_, Some(m), _) => m,
        (_, _, Some(e)) => e,
        _ => return Some((cap, u64::MAX)),
    };
    Some((true_max.min(cap), true_max))
}

/// A response's `Fill`, carried in its extensions from the rules to its body.
#[derive(Debug, Clone)]
pub struct Filling(Arc<Mutex<Option<Fill>>>);

impl Filling {
    pub fn new(f: Fill) -> Filling {
        Filling(Arc::new(Mutex::new(Some(f))))
    }

    pub fn take(&self) -> Option<Fill> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// A response on its way to being kept: its body gathers as it passes, and the object is
/// kept once it is complete (not when it grows past `max-object-size`).
#[derive(Debug)]
pub struct Fill {
    cache: Arc<Cache>,
    key: [u8; 20],
    entry: Option<Entry>,
    body: BytesMut,
}

impl Fill {
    /// A piece of the body.
    pub fn data(&mut self, d: &Bytes) {
        if self.entry.is_none() {
            return;
        }
        if (self.body.len() + d.len()) as u64 > self.cache.def.max_object_size {
            self.entry = None;
            self.body = BytesMut::new();
            return;
        }
        self.body.extend_from_slice(d);
    }

    /// The body's end: the object is kept.
    pub fn end(&mut self) {
        if let Some(mut e) = self.entry.take() {
            e.body = std::mem::take(&mut self.body).freeze();
            // Kept whole: a length instead of the framing it came with.
            e.headers.remove(header::TRANSFER_ENCODING);
            e.headers
                .insert(header::CONTENT_LENGTH, HeaderValue::from(e.body.len()));
            self.cache.insert(self.key, e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(size_mb: u64, process_vary: bool) -> Arc<Cache> {
        Arc::new(Cache::new(CacheDef {
            span: clearway_config::model::Span {
                file: "t".into(),
                line: 1,
            },
            name: "c".into(),
            total_max_size: size_mb << 20,
            max_object_size: 100_000,
            max_age: 60,
            process_vary,
            max_secondary_entries: 10,
        }))
    }

    fn req(method: &str, path: &str, hdrs: &[(&str, &str)]) -> http::request::Parts {
        let mut b = http::Request::builder()
            .method(method)
            .uri(path)
            .header("host", "example.com");
        for (k, v) in hdrs {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    fn resp(status: u16, hdrs: &[(&str, &str)]) -> http::response::Parts {
        let mut b = http::Response::builder().status(status);
        for (k, v) in hdrs {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    /// Stores `body` for a GET of `path` answered with `hdrs`; whether it was kept.
    fn put(c: &Arc<Cache>, path: &str, req_h: &[(&str, &str)], hdrs: &[(&str, &str)], body: &str) -> bool {
        let r = req("GET", path, req_h);
        let (txn, _) = c.lookup(&r);
        let mut rp = resp(200, hdrs);
        match c.store(&txn, &r.method, &mut rp) {
            Some(mut f) => {
                f.data(&Bytes::from(body.to_string()));
                f.end();
                true
            }
            None => false,
        }
    }

    fn hit(c: &Arc<Cache>, method: &str, path: &str, hdrs: &[(&str, &str)]) -> Option<(u16, String)> {
        let (_, r) = c.lookup(&req(method, path, hdrs));
        r.map(|r| (r.status().as_u16(), String::from_utf8_lossy(r.body()).into_owned()))
    }

    #[test]
    fn keeps_what_haproxy_keeps_and_serves_it() {
        let c = cache(1, false);
        assert!(put(&c, "/a", &[], &[("cache-control", "max-age=30")], "hello"));
        assert_eq!(hit(&c, "GET", "/a", &[]), Some((200, "hello".into())));
        assert_eq!(hit(&c, "HEAD", "/a", &[]), Some((200, String::new())));
        // The request may refuse the cache: forwarded.
        assert_eq!(hit(&c, "GET", "/a", &[("cache-control", "no-cache")]), None);
        assert_eq!(hit(&c, "GET", "/a", &[("pragma", "no-cache")]), None);
        // Nothing to say how fresh, no validator: not kept; private or no-store: not kept.
        assert!(!put(&c, "/b", &[], &[], "x"));
        assert!(!put(&c, "/b", &[], &[("cache-control", "private, max-age=9")], "x"));
        assert!(!put(
            &c,
            "/b",
            &[("authorization", "Basic eA==")],
            &[("cache-control", "max-age=9")],
            "x"
        ));
        assert!(put(&c, "/b", &[], &[("etag", "\"v1\"")], "x"));
        // Conditional requests get a 304.
        assert_eq!(
            hit(&c, "GET", "/b", &[("if-none-match", "W/\"v1\"")]).map(|h| h.0),
            Some(304)
        );
        assert_eq!(
            hit(&c, "GET", "/b", &[("if-none-match", "\"v2\"")]).map(|h| h.0),
            Some(200)
        );
        // Vary is kept only when processed.
        assert!(!put(
            &c,
            "/v",
            &[],
            &[("cache-control", "max-age=9"), ("vary", "accept-encoding")],
            "x"
        ));
        let v = cache(1, true);
        let gz = [
            ("cache-control", "max-age=9"),
            ("vary", "accept-encoding"),
            ("content-encoding", "gzip"),
        ];
        assert!(put(&v, "/v", &[("accept-encoding", "gzip")], &gz, "gz"));
        assert_eq!(
            hit(&v, "GET", "/v", &[("accept-encoding", "gzip")]),
            Some((200, "gz".into()))
        );
        assert_eq!(
            hit(&v, "GET", "/v", &[("accept-encoding", "br")]),
            None,
            "gzip is not accepted"
        );
        assert!(hit(&v, "GET", "/v", &[("accept-encoding", "br, gzip;q=0.5")]).is_some());
        assert!(hit(&v, "GET", "/v", &[]).is_some(), "no Accept-Encoding: any coding");
        assert!(!put(
            &v,
            "/w",
            &[],
            &[("cache-control", "max-age=9"), ("vary", "cookie")],
            "x"
        ));
        let origin = [("cache-control", "max-age=9"), ("vary", "origin")];
        assert!(!put(&v, "/w", &[], &origin, "x"), "not a header HAProxy 2.6 varies on");
        // Past max-secondary-entries variants, a new one is not kept.
        let by_referer = [("cache-control", "max-age=9"), ("vary", "referer")];
        for i in 0..11 {
            put(&v, "/r", &[("referer", &format!("https://r{i}/"))], &by_referer, "r");
        }
        assert!(hit(&v, "GET", "/r", &[("referer", "https://r9/")]).is_some());
        assert!(hit(&v, "GET", "/r", &[("referer", "https://r10/")]).is_none());
        // A successful unsafe request forgets the object.
        let r = req("POST", "/a", &[]);
        let (txn, _) = c.lookup(&r);
        assert!(c.store(&txn, &r.method, &mut resp(204, &[])).is_none());
        assert_eq!(hit(&c, "GET", "/a", &[]), None);
    }

    #[test]
    fn size_bounds_what_is_kept() {
        let c = cache(1, false);
        let big = "x".repeat(200_000);
        assert!(put(&c, "/big", &[], &[("cache-control", "max-age=9")], &big));
        assert_eq!(hit(&c, "GET", "/big", &[]), None, "over max-object-size: not kept");
        let chunk = "y".repeat(90_000);
        for i in 0..30 {
            put(&c, &format!("/{i}"), &[], &[("cache-control", "max-age=9")], &chunk);
        }
        assert!(c.lock().bytes <= 1 << 20);
        assert_eq!(hit(&c, "GET", "/0", &[]), None, "the oldest went");
        assert!(hit(&c, "GET", "/29", &[]).is_some());
    }
}
