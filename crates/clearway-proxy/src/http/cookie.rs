//! Cookie persistence on the HTTP path, as HAProxy does it: the request's cookie names a
//! server (and is taken out or unprefixed before the server sees it), the response gets the
//! cookie inserted, rewritten or prefixed, and `nocache`/`checkcache` keep shared caches
//! from handing one client's cookie to others. Owns the `Cookie`/`Set-Cookie` syntax; the
//! choice of server stays with dispatch.

use clearway_config::model::{self, CookieMode};
use http::header::{HeaderValue, CACHE_CONTROL, COOKIE, ETAG, EXPIRES, LAST_MODIFIED, PRAGMA, SET_COOKIE};
use http::{HeaderMap, Method};
use std::borrow::Cow;

/// A backend's `cookie` line and its servers' `cookie` values, ready for traffic.
#[derive(Debug)]
pub struct CookiePersist {
    name: Box<[u8]>,
    mode: CookieMode,
    indirect: bool,
    nocache: bool,
    postonly: bool,
    preserve: bool,
    maxidle: u32,
    maxlife: u32,
    /// What follows `; path=/` in an inserted cookie: domains, HttpOnly, Secure, attributes.
    tail: String,
    /// Per server: its cookie value.
    servers: Vec<Option<Box<[u8]>>>,
}

/// What the request's cookie said, as HAProxy's log shows it (third character of the
/// termination state).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// `N`: no persistence cookie.
    None,
    /// `I`: it names no server.
    Invalid,
    /// `D`: it names a server that is down (used anyway when persistence is forced).
    Down,
    /// `V`: it names a server that takes the request.
    Valid,
    /// `E`: not seen for longer than `maxidle`.
    Expired,
    /// `O`: given longer ago than `maxlife`.
    Old,
    /// `U`: not used (`ignore-persist`, or the session already had a server).
    Unused,
}

impl Seen {
    pub fn log_char(self) -> u8 {
        b"NIDVEOU"[self as usize]
    }
}

/// What was done with the response's cookie (fourth character of the termination state).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Set {
    /// `N`: no persistence cookie in the response.
    None,
    /// `P`: the server's cookie went on untouched.
    Passed,
    /// `D`: the server's cookie was taken out.
    Deleted,
    /// `I`: Clearway inserted one.
    Inserted,
    /// `R`: the server's cookie was rewritten or prefixed.
    Rewritten,
    /// `U`: the cookie's last-seen date was refreshed.
    Updated,
}

impl Set {
    pub fn log_char(self) -> u8 {
        b"NPDIRU"[self as usize]
    }
}

/// The request's side of persistence, kept for its response.
#[derive(Debug, Clone, Copy)]
pub struct FromRequest {
    pub seen: Seen,
    /// The server the cookie assigns.
    pub server: Option<usize>,
    /// Dates the cookie carried (seconds since the epoch, 0: none).
    first: u32,
    last: u32,
}

/// How `force-persist`/`ignore-persist` bent persistence for this request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Bent {
    #[default]
    No,
    Forced,
    Ignored,
}

/// A request's persistence, kept for its response.
#[derive(Debug)]
pub struct Persisted {
    /// What its cookie said, when the backend has cookie persistence.
    pub cookie: Option<FromRequest>,
    pub bent: Bent,
    /// The server a cookie or a `use-server` rule gave it: the response to a request that
    /// went there is "direct".
    pub assigned: Option<usize>,
    /// The keys `stick` rules store once the server answers.
    pub stick: crate::stick::Pending,
}

/// Seconds since the epoch, as cookie dates count them.
pub fn unix_now() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as u32)
}

/// The response persistence looks at, and what it needs to know of its request.
#[derive(Debug, Clone, Copy)]
pub struct Answer<'a> {
    /// The server that answered.
    pub server: usize,
    /// The session went to the server its cookie (or a `use-server` rule) named.
    pub direct: bool,
    pub method: &'a Method,
    pub status: u16,
    /// Seconds since the epoch.
    pub now: u32,
    /// `option checkcache`: refuse the response when a shared cache could keep it with the
    /// server's cookie.
    pub checkcache: bool,
}

/// Why a response must not go to the client (`option checkcache`).
#[derive(Debug)]
pub struct CacheableCookie;

impl CookiePersist {
    /// `servers`: each server's `cookie` value, in order.
    pub fn new<'a>(c: &model::CookiePersist, servers: impl IntoIterator<Item = Option<&'a str>>) -> CookiePersist {
        let mut tail = String::new();
        for d in &c.domains {
            tail.push_str("; domain=");
            tail.push_str(d);
        }
        if c.httponly {
            tail.push_str("; HttpOnly");
        }
        if c.secure {
            tail.push_str("; Secure");
        }
        for a in &c.attrs {
            tail.push_str("; ");
            tail.push_str(a);
        }
        CookiePersist {
            name: c.name.as_bytes().into(),
            mode: c.mode,
            indirect: c.indirect,
            nocache: c.nocache,
            postonly: c.postonly,
            preserve: c.preserve,
            maxidle: c.maxidle,
            maxlife: c.maxlife,
            tail,
            servers: servers.into_iter().map(|v| v.map(|v| v.as_bytes().into())).collect(),
        }
    }

    /// The cookie's name, for the statistics.
    pub fn name(&self) -> &str {
        std::str::from_utf8(&self.name).unwrap_or_default()
    }

    /// Server `i`'s cookie value, for the statistics.
    pub fn value_of(&self, i: usize) -> Option<&str> {
        self.servers
            .get(i)?
            .as_deref()
            .and_then(|v| std::str::from_utf8(v).ok())
    }

    /// Reads the persistence cookie of a request: the first server (in file order) whose
    /// cookie it is and that is `running` (or any, with `option persist` or forced
    /// persistence; `running` None: the server was deleted, its cookie names none).
    /// `assigned`: a `use-server` rule already gave the session a server (the
    /// cookie is then unused). In `insert indirect` mode the cookie is taken out of the
    /// request; in `prefix` mode the server's part is.
    pub fn on_request(
        &self,
        headers: &mut HeaderMap,
        (bent, assigned): (Bent, bool),
        now: u32,
        running: impl Fn(usize) -> Option<bool>,
        persist: bool,
    ) -> FromRequest {
        let mut r = FromRequest {
            seen: Seen::None,
            server: None,
            first: 0,
            last: 0,
        };
        if !headers.contains_key(COOKIE) {
            return r;
        }
        let strip = self.mode == CookieMode::Insert && self.indirect;
        let mut rebuilt: Option<Vec<Vec<u8>>> = None;
        let values: Vec<HeaderValue> = headers.get_all(COOKIE).iter().cloned().collect();
        for (n, v) in values.iter().enumerate() {
            let line = v.as_bytes();
            let mut kept: Vec<Cow<'_, [u8]>> = Vec::new();
            let mut changed = false;
            // Attributes (`$Path`...) go with the cookie before them.
            let mut dropping = false;
            for item in items(line, false) {
                let text = &line[item.start..item.end];
                if text.first() == Some(&b'$') {
                    if dropping {
                        changed = true;
                    } else {
                        kept.push(Cow::Borrowed(text));
                    }
                    continue;
                }
                dropping = false;
                let Some((vb, ve)) = item.value.filter(|_| line[item.start..item.name_end] == *self.name) else {
                    kept.push(Cow::Borrowed(text));
                    continue;
                };
                let value = &line[vb..ve];
                self.judge(value, (bent, assigned, persist), now, &running, &mut r);
                match value.iter().position(|&b| b == b'~') {
                    Some(t) if self.mode == CookieMode::Prefix => {
                        kept.push(Cow::Owned([&line[item.start..vb], &value[t + 1..]].concat()));
                        changed = true;
                    }
                    _ if strip => {
                        dropping = true;
                        changed = true;
                    }
                    _ => kept.push(Cow::Borrowed(text)),
                }
            }
            if changed {
                let out = rebuilt.get_or_insert_with(|| values[..n].iter().map(|v| v.as_bytes().to_vec()).collect());
                if !kept.is_empty() {
                    out.push(kept.join(&b"; "[..]));
                }
            } else if let Some(out) = rebuilt.as_mut() {
                out.push(line.to_vec());
            }
        }
        if let Some(lines) = rebuilt {
            headers.remove(COOKIE);
            for l in lines {
                if let Ok(v) = HeaderValue::from_bytes(&l) {
                    headers.append(COOKIE, v);
                }
            }
        }
        r
    }

    /// One occurrence of the cookie: its server, dates and what it says (HAProxy's order:
    /// too old, then idle too long, then the servers).
    fn judge(
        &self,
        value: &[u8],
        (bent, assigned, persist): (Bent, bool, bool),
        now: u32,
        running: &impl Fn(usize) -> Option<bool>,
        r: &mut FromRequest,
    ) {
        let id = if self.mode == CookieMode::Prefix {
            &value[..value.iter().position(|&b| b == b'~').unwrap_or(value.len())]
        } else {
            let mut parts = value.splitn(3, |&b| b == b'|');
            let id = parts.next().unwrap_or_default();
            if let Some(last) = parts.next() {
                r.last = date(last);
                if let Some(first) = parts.next() {
                    r.first = date(first);
                }
            }
            id
        };
        let now = i64::from(now);
        let stale = |d: u32, max: u32| {
            d != 0 && max != 0 && (now - i64::from(d) > i64::from(max) || i64::from(d) - now > 86_400)
        };
        let mut id = id;
        if stale(r.first, self.maxlife) {
            r.seen = Seen::Old;
            (r.first, r.last) = (0, 0);
            id = &[];
        } else if stale(r.last, self.maxidle) {
            r.seen = Seen::Expired;
            (r.first, r.last) = (0, 0);
            id = &[];
        }
        // An empty value names no server, so clients that learned one from a server without
        // a cookie are not stuck on it.
        let unused = bent == Bent::Ignored || assigned || r.server.is_some();
        if !(id.is_empty() || unused) {
            for (i, c) in self.servers.iter().enumerate() {
                if c.as_deref() != Some(id) {
                    continue;
                }
                // A deleted server (`del server`): its cookie names no server any more.
                let Some(up) = running(i) else { continue };
                if up || persist || bent == Bent::Forced {
                    r.seen = if up { Seen::Valid } else { Seen::Down };
                    r.server = Some(i);
                    return;
                }
                r.seen = Seen::Down;
            }
        }
        // Only a first verdict is kept: a second occurrence of the cookie changes nothing.
        if r.seen == Seen::None {
            r.seen = if unused { Seen::Unused } else { Seen::Invalid };
        }
    }

    /// Treats the response of `server` to a request whose cookie gave `req`: the server's own
    /// cookie of that name is passed, taken out, rewritten or prefixed, and in insert mode
    /// Clearway's is added when the client does not have the right one (or its date needs
    /// refreshing). `direct`: the session went to the server its cookie (or a `use-server`
    /// rule) named. Err: `option checkcache` refuses the response.
    pub fn on_response(
        &self,
        headers: &mut HeaderMap,
        req: &FromRequest,
        bent: Bent,
        a: &Answer<'_>,
    ) -> (Set, Result<(), CacheableCookie>) {
        let Answer {
            server,
            direct,
            method,
            status,
            now,
            checkcache,
        } = *a;
        let mut set = Set::None;
        let present = headers.contains_key(SET_COOKIE);
        let ours = self.servers.get(server).and_then(|c| c.as_deref());
        if bent != Bent::Ignored && headers.contains_key(SET_COOKIE) {
            let values: Vec<HeaderValue> = headers.get_all(SET_COOKIE).iter().cloned().collect();
            let mut out: Vec<Option<Vec<u8>>> = Vec::with_capacity(values.len());
            let mut changed = false;
            for v in &values {
                let line = v.as_bytes();
                let item = items(line, true).next();
                let Some((item, (vb, ve))) = item.and_then(|i| Some((i, i.value?))) else {
                    out.push(Some(line.to_vec()));
                    continue;
                };
                if line[item.start..item.name_end] != *self.name {
                    out.push(Some(line.to_vec()));
                    continue;
                }
                set = Set::Passed;
                if self.preserve {
                    out.push(Some(line.to_vec()));
                } else if self.mode == CookieMode::Insert || (direct && self.indirect) {
                    set = Set::Deleted;
                    changed = true;
                    out.push(None);
                } else if let (Some(id), CookieMode::Rewrite | CookieMode::Prefix) = (ours, self.mode) {
                    let mut l = line[..vb].to_vec();
                    l.extend_from_slice(id);
                    if self.mode == CookieMode::Prefix {
                        l.push(b'~');
                        l.extend_from_slice(&line[vb..ve]);
                    }
                    l.extend_from_slice(&line[ve..]);
                    set = Set::Rewritten;
                    changed = true;
                    out.push(Some(l));
                } else {
                    out.push(Some(line.to_vec()));
                }
            }
            if changed {
                headers.remove(SET_COOKIE);
                for l in out.into_iter().flatten() {
                    if let Ok(v) = HeaderValue::from_bytes(&l) {
                        headers.append(SET_COOKIE, v);
                    }
                }
            }
        }
        let refresh = (self.maxidle != 0 || req.last != 0) && (req.last == 0 || req.last < now)
            || (self.maxlife != 0 && req.first == 0)
            || (self.maxlife == 0 && req.first != 0);
        let insert = self.mode == CookieMode::Insert
            && !(set == Set::Passed && self.preserve)
            && (!direct || refresh)
            && (!self.postonly || method == Method::POST)
            && bent != Bent::Ignored;
        let mut private = false;
        if insert {
            let name = String::from_utf8_lossy(&self.name);
            let mut c = match ours {
                None => format!("{name}=; Expires=Thu, 01-Jan-1970 00:00:01 GMT; path=/"),
                Some(id) => {
                    let mut c = format!("{name}={}", String::from_utf8_lossy(id));
                    if self.maxidle != 0 || self.maxlife != 0 {
                        c.push('|');
                        c.push_str(&date_text(now.wrapping_add(3) >> 2));
                        if self.maxlife != 0 {
                            c.push('|');
                            let first = if req.first != 0 {
                                req.first >> 2
                            } else {
                                now.wrapping_add(3) >> 2
                            };
                            c.push_str(&date_text(first));
                        }
                    }
                    c.push_str("; path=/");
                    c
                }
            };
            c.push_str(&self.tail);
            if let Ok(v) = HeaderValue::from_str(&c) {
                headers.append(SET_COOKIE, v);
            }
            set = if ours.is_some() && direct {
                Set::Updated
            } else {
                Set::Inserted
            };
            if self.nocache && cacheability(method, status, headers).0 {
                headers.append(CACHE_CONTROL, HeaderValue::from_static("private"));
                private = true;
            }
        }
        let blocked = checkcache && present && !private && cacheability(method, status, headers) == (true, true);
        (set, if blocked { Err(CacheableCookie) } else { Ok(()) })
    }
}

/// `option checkcache`: whether a response a shared cache could keep sets a cookie (HAProxy
/// then refuses it, so no cache hands one client's cookie to others).
pub fn cacheable_cookie(method: &Method, status: u16, headers: &HeaderMap) -> Result<(), CacheableCookie> {
    if !headers.contains_key(SET_COOKIE) {
        return Ok(());
    }
    match cacheability(method, status, headers) {
        (true, true) => Err(CacheableCookie),
        _ => Ok(()),
    }
}

/// Whether a shared cache may keep the response, and whether it may keep its cookies too,
/// as HAProxy judges it: a safe method, a status cacheable by default, then `Pragma:
/// no-cache` and each `Cache-Control` value in order; and only with a lifetime
/// (`max-age`, `s-maxage`, `Expires`) or a validator (`ETag`, `Last-Modified`).
fn cacheability(method: &Method, status: u16, headers: &HeaderMap) -> (bool, bool) {
    let safe = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE);
    let by_status = matches!(status, 200 | 203 | 204 | 206 | 300 | 301 | 404 | 405 | 410 | 414 | 501);
    let (mut cacheable, mut cook) = (safe && by_status, safe && by_status);
    let mut fresh = false;
    let starts = |d: &[u8], w: &[u8]| d.len() >= w.len() && d[..w.len()].eq_ignore_ascii_case(w);
    if status < 200 {
        return (false, false);
    }
    if headers
        .get(PRAGMA)
        .is_some_and(|p| p.as_bytes().eq_ignore_ascii_case(b"no-cache"))
    {
        return (false, false);
    }
    for v in headers.get_all(CACHE_CONTROL) {
        for d in v.as_bytes().split(|&b| b == b',') {
            let d = d.trim_ascii();
            let is = |w: &[u8]| d.eq_ignore_ascii_case(w);
            if is(b"public") {
                (cacheable, cook) = (true, true);
            } else if is(b"private") || is(b"no-cache") || is(b"no-store") || is(b"max-age=0") || is(b"s-maxage=0") {
                (cacheable, cook) = (false, false);
            } else if starts(d, b"no-cache=\"set-cookie") {
                cook = false;
            } else if starts(d, b"max-age") || starts(d, b"s-maxage") {
                fresh = true;
            }
        }
    }
    // Without a lifetime or a validator, a cache does not keep it (HAProxy 2.6.12).
    fresh = fresh || headers.contains_key(EXPIRES);
    if !fresh && !headers.contains_key(ETAG) && !headers.contains_key(LAST_MODIFIED) {
        return (false, false);
    }
    (cacheable, cook)
}

/// The names of the cookies of a `Cookie` line (or of a `Set-Cookie` line's cookie) that
/// have a value.
pub fn names(line: &[u8], set_cookie: bool) -> impl Iterator<Item = &[u8]> {
    items(line, set_cookie)
        .filter(|i| i.value.is_some())
        .map(move |i| &line[i.start..i.name_end])
}

/// The cookies of a `Cookie` line (or a `Set-Cookie` line's cookie) as (name, value); a
/// cookie without `=` has an empty value.
pub fn pairs(line: &[u8], set_cookie: bool) -> impl Iterator<Item = (&[u8], &[u8])> {
    items(line, set_cookie).map(move |i| {
        let value = i.value.map_or(&b""[..], |(a, b)| &line[a..b]);
        (&line[i.start..i.name_end], value)
    })
}

/// One cookie of a `Cookie` or `Set-Cookie` line: where it is and where its name ends.
#[derive(Debug, Clone, Copy)]
struct Item {
    start: usize,
    name_end: usize,
    /// Its value, when it has an `=`.
    value: Option<(usize, usize)>,
    /// Its end (the value's end, or the name's).
    end: usize,
}

/// The cookies of a line, split at `;` and `,` outside quotes as HAProxy splits them (a
/// `Set-Cookie` line holds one cookie, followed by its attributes).
fn items(line: &[u8], set_cookie: bool) -> impl Iterator<Item = Item> + '_ {
    let sp = |b: u8| b == b' ' || b == b'\t';
    let mut at = 0;
    let mut done = false;
    std::iter::from_fn(move || loop {
        if done || at >= line.len() {
            return None;
        }
        let mut start = at;
        while start < line.len() && sp(line[start]) {
            start += 1;
        }
        let mut eq = start;
        let mut name_end = start;
        while eq < line.len() && !matches!(line[eq], b'=' | b',' | b';') {
            if !sp(line[eq]) {
                name_end = eq + 1;
            }
            eq += 1;
        }
        let (value, end, next) = if eq < line.len() && line[eq] == b'=' {
            let mut vb = eq + 1;
            while vb < line.len() && sp(line[vb]) {
                vb += 1;
            }
            let next = value_end(line, vb);
            let mut ve = next;
            while ve > vb && sp(line[ve - 1]) {
                ve -= 1;
            }
            (Some((vb, ve)), ve, next)
        } else {
            (None, name_end, eq)
        };
        at = next + 1;
        if set_cookie {
            done = true;
        }
        if name_end == start && value.is_none() {
            continue;
        }
        return Some(Item {
            start,
            name_end,
            value,
            end,
        });
    })
}

/// Where a cookie value starting at `from` ends: the first `,` or `;` outside quotes.
fn value_end(line: &[u8], from: usize) -> usize {
    let (mut quoted, mut escaped) = (false, false);
    for (i, &b) in line.iter().enumerate().skip(from) {
        if escaped {
            escaped = false;
        } else if quoted {
            match b {
                b'\\' => escaped = true,
                b'"' => quoted = false,
                _ => {}
            }
        } else if b == b'"' {
            quoted = true;
        } else if b == b',' || b == b';' {
            return i;
        }
    }
    line.len()
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// A date in a cookie: 30 bits of 4-second units, five base64 characters, as HAProxy
/// writes it.
fn date_text(units: u32) -> String {
    (0..5)
        .map(|i| B64[((units >> (24 - 6 * i)) & 63) as usize] as char)
        .collect()
}

/// The date (seconds) five base64 characters stand for; 0 when they are not a date.
fn date(s: &[u8]) -> u32 {
    if s.len() < 5 {
        return 0;
    }
    let mut v: u32 = 0;
    for &c in &s[..5] {
        let Some(d) = B64.iter().position(|&b| b == c) else {
            return 0;
        };
        v = (v << 6) | d as u32;
    }
    v << 2
}

#[cfg(test)]
mod tests;
