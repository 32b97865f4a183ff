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

fn header_values(h: &HeaderMap, name: &str, sink: &mut dyn FnMut(Value<'_>) -> bool) -> bool {
    h.get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| sink(Value::Str(v.trim())))
}

impl Samples for ReqSamples<'_> {
    fn each(&self, fetch: &Fetch, sink: &mut dyn FnMut(Value<'_>) -> bool) -> bool {
        let r = self.req;
        match fetch {
            Fetch::Path => sink(Value::Str(r.uri.path())),
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
            Fetch::HttpAuth(_)
            | Fetch::HttpAuthGroup(_)
            | Fetch::HttpAuthType
            | Fetch::HttpAuthUser
            | Fetch::HttpAuthPass => auth(r, fetch, sink),
            _ => self.conn.each(fetch, sink),
        }
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
            _ => self.req.each(fetch, sink),
        }
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
