//! What ACLs and `%[...]` templates read from an HTTP request or response: method, path,
//! headers (split on commas as `hdr()` does), status, on top of the connection's samples.
//! Must not change the message.

use super::rules::Destination;
use crate::acl::{Cond, ConnSamples, Samples, Value};
use clearway_config::model::UseSrc;
use clearway_config::rules::Fetch;
use clearway_sample::vars::VarStore;
use clearway_sample::Scope;
use http::request::Parts;
use http::{HeaderMap, Version};
use std::net::IpAddr;
use std::sync::Arc;

/// The variables of one request and its response (`txn.*`), kept in the request.
#[derive(Debug, Clone, Default)]
pub struct TxnVars(pub Arc<VarStore>);

/// The variables of a request while it is processed (`req.*`).
#[derive(Debug, Clone, Default)]
pub struct ReqVars(pub Arc<VarStore>);

/// The variables of a response while it is processed (`res.*`), kept in the response.
#[derive(Debug, Clone, Default)]
pub struct ResVars(pub Arc<VarStore>);

/// The backend a request was routed to, for `be_name`/`be_id` (kept when rules read it).
#[derive(Debug, Clone)]
pub struct RoutedTo(pub Arc<crate::model::Backend>);

/// The server a response came from, for `srv_name`/`srv_id` (kept when rules read it).
#[derive(Debug, Clone)]
pub struct ServedBy {
    pub id: u32,
    pub name: Box<str>,
}

/// The stick-table entries a request tracks (`http-request track-scN`, and in `mode http`
/// `tcp-request content track-scN`).
#[derive(Debug, Clone, Default)]
pub struct ReqTrackers(pub Arc<crate::stick::Trackers>);

/// Marks a connection's first request (`http_first_req`).
#[derive(Debug, Clone, Copy)]
pub struct FirstRequest;

/// The request's unique id (`unique-id-format`).
#[derive(Debug, Clone)]
pub struct UniqueId(pub Arc<str>);

/// The request target as it came, kept when a rule rewrites it (`capture.req.uri`).
#[derive(Debug, Clone)]
pub struct OriginalUri(pub http::Uri);

fn version_text(v: Version) -> &'static str {
    match v {
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2.0",
        Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

/// Gives a request its variable stores (before rules that may write them run).
pub fn with_vars(req: &mut Parts) {
    if req.extensions.get::<TxnVars>().is_none() {
        req.extensions.insert(TxnVars::default());
        req.extensions.insert(ReqVars::default());
    }
}

/// A request as the rules see it.
pub struct ReqSamples<'a> {
    pub conn: &'a ConnSamples,
    pub req: &'a Parts,
}

/// A response, with the request it answers.
pub struct ResSamples<'a> {
    pub req: ReqSamples<'a>,
    pub res: &'a http::response::Parts,
}

/// The values of a header, whole (`fhdr`).
fn full_values(h: &HeaderMap, name: &str, sink: &mut dyn FnMut(Value<'_>) -> bool) -> bool {
    h.get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| sink(Value::Str(v.trim())))
}

/// The cookies named `name` (every cookie without one) of `Cookie` or `Set-Cookie` lines.
fn cookies(h: &HeaderMap, set_cookie: bool, name: Option<&str>, sink: &mut dyn FnMut(&str) -> bool) -> bool {
    let header = if set_cookie {
        http::header::SET_COOKIE
    } else {
        http::header::COOKIE
    };
    h.get_all(header).iter().any(|line| {
        super::cookie::pairs(line.as_bytes(), set_cookie)
            .filter(|(n, _)| name.is_none_or(|want| *n == want.as_bytes()))
            .filter_map(|(_, v)| std::str::from_utf8(v).ok())
            .any(&mut *sink)
    })
}

/// A header value as an address: an IPv4 one may end in `:PORT`, an IPv6 one be bracketed.
fn header_ip(v: &str) -> Option<IpAddr> {
    let v = v.trim();
    v.parse()
        .ok()
        .or_else(|| {
            v.rsplit_once(':')
                .and_then(|(a, _)| a.parse::<std::net::Ipv4Addr>().ok())
                .map(IpAddr::V4)
        })
        .or_else(|| v.strip_prefix('[')?.split_once(']')?.0.parse().ok())
}

fn header_values(h: &HeaderMap, name: &str, sink: &mut dyn FnMut(Value<'_>) -> bool) -> bool {
    h.get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| sink(Value::Str(v.trim())))
}

/// The values of parameter `name` (of any parameter with None) in `name=value` pairs split by
/// `split` (a query, a form body).
fn params<'a>(
    text: &'a str,
    split: impl Fn(char) -> bool + 'a,
    name: Option<&'a str>,
) -> impl Iterator<Item = &'a str> + 'a {
    text.split(split).filter_map(move |kv| match name {
        Some(n) => kv.strip_prefix(n)?.strip_prefix('='),
        None => kv.split_once('=').map(|(_, v)| v),
    })
}

impl Samples for ReqSamples<'_> {
    fn final_rule(&self, span: &clearway_config::model::Span) {
        if let Some(l) = self.req.extensions.get::<super::access_log::ReqLog>() {
            l.final_rule(span);
        }
    }

    fn each(&self, fetch: &Fetch, sink: &mut dyn FnMut(Value<'_>) -> bool) -> bool {
        let r = self.req;
        match fetch {
            Fetch::Path => sink(Value::Str(r.uri.path())),
            Fetch::LastRuleFile | Fetch::LastRuleLine => {
                let Some(span) = r
                    .extensions
                    .get::<super::access_log::ReqLog>()
                    .and_then(|l| l.last_rule())
                else {
                    return false;
                };
                sink(match fetch {
                    Fetch::LastRuleFile => Value::Str(&span.file),
                    _ => Value::Int(i64::from(span.line)),
                })
            }
            Fetch::PathQ => sink(Value::Str(r.uri.path_and_query().map_or("/", |p| p.as_str()))),
            Fetch::UrlIp | Fetch::UrlPort => url_addr(&r.uri).is_some_and(|a| {
                sink(match fetch {
                    Fetch::UrlIp => Value::Ip(a.ip()),
                    _ => Value::Int(i64::from(a.port())),
                })
            }),
            // `set-dst`, `set-dst-port`.
            Fetch::Dst | Fetch::DstPort if r.extensions.get::<Destination>().is_some() => {
                let d = r.extensions.get::<Destination>().map_or(self.conn.local, |d| d.0);
                sink(match fetch {
                    Fetch::Dst => Value::Ip(d.ip()),
                    _ => Value::Int(i64::from(d.port())),
                })
            }
            // `set-src`, `set-src-port`.
            Fetch::Src | Fetch::SrcPort if r.extensions.get::<super::rules::Source>().is_some() => {
                let a = r
                    .extensions
                    .get::<super::rules::Source>()
                    .map_or(self.conn.peer, |d| d.0);
                sink(match fetch {
                    Fetch::Src => Value::Ip(a.ip()),
                    _ => Value::Int(i64::from(a.port())),
                })
            }
            // The target as the request line has it: absolute for HTTP/2 and absolute-form
            // requests, as HAProxy's `url` (`path` is the path alone).
            Fetch::Url if r.uri.scheme().is_some() => sink(Value::Str(&r.uri.to_string())),
            Fetch::Url => sink(Value::Str(r.uri.path_and_query().map_or("/", |p| p.as_str()))),
            Fetch::Query => r.uri.query().is_some_and(|q| sink(Value::Str(q))),
            Fetch::Method => sink(Value::Str(r.method.as_str())),
            Fetch::Version => sink(Value::Str(match r.version {
                Version::HTTP_10 => "1.0",
                Version::HTTP_2 => "2.0",
                Version::HTTP_3 => "3.0",
                _ => "1.1",
            })),
            // HTTP/2 carries the host in the request's authority.
            Fetch::Hdr(h) if h == "host" && !r.headers.contains_key(http::header::HOST) => {
                r.uri.authority().is_some_and(|a| sink(Value::Str(a.as_str())))
            }
            Fetch::Hdr(h) => header_values(&r.headers, h, sink),
            Fetch::FHdr(h) => full_values(&r.headers, h, sink),
            Fetch::HdrCnt(name) => {
                let mut n = 0;
                match name {
                    Some(h) => header_values(&r.headers, h, &mut |_| {
                        n += 1;
                        false
                    }),
                    None => {
                        n = r.headers.len();
                        false
                    }
                };
                sink(Value::Int(n as i64))
            }
            Fetch::HdrIp(h) => header_values(&r.headers, h, &mut |v| match v {
                Value::Str(t) => header_ip(t).is_some_and(|ip| sink(Value::Ip(ip))),
                _ => false,
            }),
            Fetch::Cook(name) => cookies(&r.headers, false, name.as_deref(), &mut |v| sink(Value::Str(v))),
            Fetch::CookVal(name) => cookies(&r.headers, false, name.as_deref(), &mut |v| {
                clearway_sample::read_int(v.as_bytes()).is_some_and(|n| sink(Value::Int(n)))
            }),
            Fetch::CookCnt(name) => {
                let mut n = 0;
                cookies(&r.headers, false, name.as_deref(), &mut |_| {
                    n += 1;
                    false
                });
                sink(Value::Int(n))
            }
            Fetch::UrlParam { name, delim } => r.uri.query().is_some_and(|q| {
                let split = |c: char| delim.map_or(c == '&' || c == ';', |d| c == char::from(d));
                params(q, split, Some(name)).any(|v| sink(Value::Str(v)))
            }),
            Fetch::BeName | Fetch::BeId => r.extensions.get::<RoutedTo>().is_some_and(|b| {
                sink(match fetch {
                    Fetch::BeName => Value::Str(&b.0.rt.name),
                    _ => Value::Int(i64::from(b.0.num.uuid)),
                })
            }),
            Fetch::Timeout { tunnel, current } => r.extensions.get::<RoutedTo>().is_some_and(|b| {
                let t = &b.0.rt.timeouts;
                let own = current
                    .then(|| r.extensions.get::<super::rules::StreamTimeouts>())
                    .flatten()
                    .and_then(|o| if *tunnel { o.tunnel } else { o.server });
                let t = own.or(if *tunnel { t.tunnel } else { t.server });
                // Milliseconds; 0 when none is set.
                sink(Value::Int(t.map_or(0, |t| t.as_millis() as i64)))
            }),
            Fetch::CaptureReqUri => {
                let uri = r.extensions.get::<OriginalUri>().map_or(&r.uri, |o| &o.0);
                sink(Value::Str(uri.path_and_query().map_or("/", |p| p.as_str())))
            }
            Fetch::CaptureReqMethod => sink(Value::Str(r.method.as_str())),
            Fetch::UniqueId => r.extensions.get::<UniqueId>().is_some_and(|u| sink(Value::Str(&u.0))),
            Fetch::CaptureReqVer => sink(Value::Str(version_text(r.version))),
            Fetch::HdrVal(h) => header_values(&r.headers, h, &mut |v| match v {
                Value::Str(t) => clearway_sample::read_int(t.as_bytes()).is_some_and(|n| sink(Value::Int(n))),
                _ => false,
            }),
            Fetch::CaptureReqHdr(n) => r
                .extensions
                .get::<super::access_log::ReqCaptured>()
                .and_then(|l| l.captured(*n))
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| sink(Value::Str(v))),
            Fetch::ReqBody | Fetch::ReqBodyLen | Fetch::ReqBodySize | Fetch::ReqBodyParam(_) => {
                // Only what was read ahead (`wait-for-body`, `option http-buffer-request`).
                let Some(b) = r.extensions.get::<super::read_ahead::BodyAhead>() else {
                    return false;
                };
                match fetch {
                    Fetch::ReqBody => sink(Value::Bin(&b.data)),
                    Fetch::ReqBodyLen => sink(Value::Int(b.data.len() as i64)),
                    // The length the request gave, else what came (chunked).
                    Fetch::ReqBodySize => sink(Value::Int(b.size.unwrap_or(b.data.len() as u64) as i64)),
                    // Without a name, any parameter's.
                    Fetch::ReqBodyParam(name) => std::str::from_utf8(&b.data).is_ok_and(|text| {
                        let name = (!name.is_empty()).then_some(name.as_str());
                        params(text, |c| c == '&', name).any(|v| sink(Value::Str(v)))
                    }),
                    _ => false,
                }
            }
            Fetch::HttpFirstReq => sink(Value::Bool(r.extensions.get::<FirstRequest>().is_some())),
            Fetch::FcHttpMajor => sink(Value::Int(if r.version == Version::HTTP_2 { 2 } else { 1 })),
            Fetch::Base32 | Fetch::Base32Src => {
                let host = r
                    .headers
                    .get(http::header::HOST)
                    .map(|h| h.as_bytes())
                    .or(r.uri.authority().map(|a| a.as_str().as_bytes()))
                    .unwrap_or_default();
                let path = r.uri.path();
                let path: &[u8] = if path.starts_with('/') { path.as_bytes() } else { b"" };
                let joined = [host, path].concat();
                let hash = clearway_sample::conv::hash::avalanche(clearway_sample::conv::hash::sdbm(&joined));
                if *fetch == Fetch::Base32 {
                    return sink(Value::Int(i64::from(hash)));
                }
                let mut b = hash.to_be_bytes().to_vec();
                let src = r
                    .extensions
                    .get::<super::rules::Source>()
                    .map_or(self.conn.peer, |s| s.0);
                match src.ip() {
                    std::net::IpAddr::V4(a) => b.extend_from_slice(&a.octets()),
                    std::net::IpAddr::V6(a) => b.extend_from_slice(&a.octets()),
                }
                sink(Value::Bin(&b))
            }
            Fetch::Base => {
                let host = r
                    .headers
                    .get(http::header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .or(r.uri.authority().map(|a| a.as_str()));
                host.is_some_and(|h| sink(Value::Str(&format!("{h}{}", r.uri.path()))))
            }
            Fetch::HttpAuth(_)
            | Fetch::HttpAuthGroup(_)
            | Fetch::HttpAuthType
            | Fetch::HttpAuthUser
            | Fetch::HttpAuthPass => auth(r, fetch, sink),
            _ => self.conn.each(fetch, sink),
        }
    }

    fn trackers(&self) -> Option<&crate::stick::Trackers> {
        self.req.extensions.get::<ReqTrackers>().map(|t| &*t.0)
    }

    fn tracked(&self, slot: u8) -> Option<crate::stick::Tracked> {
        (self.req.extensions.get::<ReqTrackers>())
            .and_then(|t| t.0.get(slot))
            .or_else(|| self.conn.tracked(slot))
    }

    fn vars(&self, scope: Scope) -> Option<&VarStore> {
        match scope {
            Scope::Txn => self.req.extensions.get::<TxnVars>().map(|v| &*v.0),
            Scope::Req => self.req.extensions.get::<ReqVars>().map(|v| &*v.0),
            Scope::Res => None,
            _ => self.conn.vars(scope),
        }
    }
}

/// The IPv4 address and port of an absolute `http://` or `https://` target whose host is
/// one (HAProxy's `url_ip`, `url_port`); the scheme's port when it names none.
fn url_addr(uri: &http::Uri) -> Option<std::net::SocketAddr> {
    let default = match uri.scheme_str()? {
        s if s.eq_ignore_ascii_case("http") => 80,
        s if s.eq_ignore_ascii_case("https") => 443,
        _ => return None,
    };
    let ip: std::net::Ipv4Addr = uri.host()?.parse().ok()?;
    Some(std::net::SocketAddr::new(ip.into(), uri.port_u16().unwrap_or(default)))
}

/// The `http_auth*` fetches.
fn auth(r: &Parts, fetch: &Fetch, sink: &mut dyn FnMut(Value<'_>) -> bool) -> bool {
    let creds = crate::http::auth::Credentials::of(r);
    match (fetch, &creds) {
        (Fetch::HttpAuth(list), c) => sink(Value::Bool(
            c.as_ref().and_then(|c| crate::http::auth::check(list, c)).is_some(),
        )),
        (Fetch::HttpAuthGroup(list), Some(c)) => crate::http::auth::check(list, c)
            .is_some_and(|u| u.groups.iter().any(|&g| sink(Value::Str(&list.groups[g])))),
        (Fetch::HttpAuthType, Some(c)) => sink(Value::Str(c.scheme())),
        (Fetch::HttpAuthUser, Some(crate::http::auth::Credentials::Basic { user, .. })) => {
            sink(Value::Str(&String::from_utf8_lossy(user)))
        }
        (Fetch::HttpAuthPass, Some(crate::http::auth::Credentials::Basic { pass, .. })) => {
            sink(Value::Str(&String::from_utf8_lossy(pass)))
        }
        _ => false,
    }
}

impl Samples for ResSamples<'_> {
    fn each(&self, fetch: &Fetch, sink: &mut dyn FnMut(Value<'_>) -> bool) -> bool {
        match fetch {
            Fetch::Status => sink(Value::Int(i64::from(self.res.status.as_u16()))),
            Fetch::ResHdr(h) => header_values(&self.res.headers, h, sink),
            Fetch::ResFHdr(h) => full_values(&self.res.headers, h, sink),
            Fetch::SrvName | Fetch::SrvId => self.res.extensions.get::<ServedBy>().is_some_and(|s| {
                sink(match fetch {
                    Fetch::SrvName => Value::Str(&s.name),
                    _ => Value::Int(i64::from(s.id)),
                })
            }),
            Fetch::CaptureResVer => sink(Value::Str(version_text(self.res.version))),
            Fetch::ResCacheHit => sink(Value::Bool(
                self.res.extensions.get::<super::cache::CacheHit>().is_some(),
            )),
            Fetch::ResCacheName => self
                .res
                .extensions
                .get::<super::cache::CacheHit>()
                .is_some_and(|h| sink(Value::Str(&h.0))),
            Fetch::CaptureResHdr(n) => self
                .res
                .extensions
                .get::<super::access_log::ResCaptured>()
                .and_then(|c| c.captured(*n))
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| sink(Value::Str(v))),
            Fetch::ResCook(name) => cookies(&self.res.headers, true, name.as_deref(), &mut |v| sink(Value::Str(v))),
            // Only what was read ahead (`http-response wait-for-body`).
            Fetch::ResBody | Fetch::ResBodyLen | Fetch::ResBodySize => {
                let Some(b) = self.res.extensions.get::<super::read_ahead::BodyAhead>() else {
                    return false;
                };
                sink(match fetch {
                    Fetch::ResBody => Value::Bin(&b.data),
                    Fetch::ResBodyLen => Value::Int(b.data.len() as i64),
                    _ => Value::Int(b.size.unwrap_or(b.data.len() as u64) as i64),
                })
            }
            _ => self.req.each(fetch, sink),
        }
    }

    fn tracked(&self, slot: u8) -> Option<crate::stick::Tracked> {
        self.req.tracked(slot)
    }

    fn final_rule(&self, span: &clearway_config::model::Span) {
        self.req.final_rule(span);
    }

    fn trackers(&self) -> Option<&crate::stick::Trackers> {
        self.req.trackers()
    }

    fn vars(&self, scope: Scope) -> Option<&VarStore> {
        match scope {
            Scope::Res => self.res.extensions.get::<ResVars>().map(|v| &*v.0),
            // The request's processing is over.
            Scope::Req => None,
            _ => self.req.vars(scope),
        }
    }
}

/// `usesrc hdr_ip(HDR[,OCC]) [if COND]`, compiled: which requests may name their source
/// address, and where.
#[derive(Debug)]
pub struct HdrIp {
    header: http::HeaderName,
    occ: i32,
    trust: Option<Cond>,
}

impl HdrIp {
    /// From a backend's `source` line, or the first server line that has one.
    pub fn of(b: &clearway_config::model::Backend) -> Option<HdrIp> {
        let src = b
            .source
            .iter()
            .chain(b.servers.iter().filter_map(|s| s.source.as_ref()));
        src.filter_map(|s| match &s.usesrc {
            Some(UseSrc::HdrIp { header, occ, trust }) => Some(HdrIp {
                header: http::HeaderName::from_bytes(header.as_bytes()).ok()?,
                occ: *occ,
                trust: trust.as_ref().map(Cond::new),
            }),
            _ => None,
        })
        .next()
    }

    /// The address the request names, when its client is trusted to name one.
    pub fn pick(&self, s: &ReqSamples<'_>) -> Option<IpAddr> {
        if !self.trust.as_ref().is_some_and(|c| c.eval(s)) {
            return None;
        }
        let values: Vec<&str> = s
            .req
            .headers
            .get_all(&self.header)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        let i = if self.occ > 0 {
            usize::try_from(self.occ - 1).ok()?
        } else {
            values.len().checked_sub(usize::try_from(-i64::from(self.occ)).ok()?)?
        };
        values.get(i)?.parse().ok()
    }
}
