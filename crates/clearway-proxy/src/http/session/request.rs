//! What forwarding one request reads from it and from its server, apart from the session's
//! flow: the source address a reused connection is keyed by, whether the client closes or
//! asks to switch protocols, the target in origin form, whether it may be sent twice, and the
//! counts a failed or arrived response adds.

use crate::http::access_log::ReqLog;
use crate::model::{Backend, Frontend};
use clearway_config::model::UseSrc;
use clearway_core::Field;
use http::header::{self, HeaderValue};
use http::{Uri, Version};
use std::net::IpAddr;

/// The client address a server connection comes from, when it is spoofed per client: part
/// of the key under which the connection may be reused.
pub(super) fn spoofed_source(be: &Backend, server: usize, client: IpAddr, hdr_ip: Option<IpAddr>) -> Option<IpAddr> {
    match be.rt.servers[server].source.as_ref()?.usesrc.as_ref()? {
        UseSrc::Client | UseSrc::ClientIp => Some(client),
        UseSrc::HdrIp { .. } => hdr_ip,
        UseSrc::Addr(_) => None,
    }
}

/// What a request's Connection header says of the client's side, read in one lookup: whether
/// the client closes its connection after this request, and the protocol an HTTP/1.1 request
/// asks to switch to (`Connection: upgrade` with `Upgrade`).
pub(super) fn client_connection(req: &http::request::Parts) -> (bool, Option<HeaderValue>) {
    let t = crate::http::decode::ConnectionTokens::of(&req.headers);
    let closes = match req.version {
        Version::HTTP_10 | Version::HTTP_09 => !t.keep_alive,
        Version::HTTP_11 => t.close,
        _ => false,
    };
    // An HTTP/2 request carries these headers only as an extended CONNECT made over
    // (`upgrade::from_extended_connect`): HTTP/2 refuses connection headers on arrival.
    let upgrade = (t.upgrade && matches!(req.version, Version::HTTP_11 | Version::HTTP_2))
        .then(|| req.headers.get(header::UPGRADE).cloned())
        .flatten();
    (closes, upgrade)
}

/// An absolute request target (HTTP/2, or a proxy-style request) as the path a server expects.
pub(super) fn origin_form(uri: &Uri) -> Uri {
    if uri.scheme().is_none() && uri.authority().is_none() {
        return uri.clone();
    }
    // As written out (`Display`), an empty path is "/": `http://a?q` becomes `/?q`, where
    // the raw text ("?q") is no origin form and its query would be lost.
    match uri.path_and_query() {
        Some(pq) => {
            Uri::from_maybe_shared(bytes::Bytes::from(pq.to_string())).unwrap_or_else(|_| Uri::from_static("/"))
        }
        None => Uri::from_static("/"),
    }
}

/// Whether a request may be sent twice (RFC 9110, 9.2.2).
pub(super) fn idempotent(m: &http::Method) -> bool {
    use http::Method as M;
    [M::GET, M::HEAD, M::OPTIONS, M::TRACE, M::PUT, M::DELETE].contains(m)
}

/// A server that answered badly or not in time: an error on its backend's and its own count.
pub(super) fn count_failed_response(be: &Backend, server: usize) {
    be.rt.counters.inc(Field::ErrResp);
    be.rt.servers[server].counters.inc(Field::ErrResp);
}

/// Notes in a request's log line that its response head came.
pub(super) fn responded(fe: &Frontend, parts: &http::request::Parts) {
    if fe.log_requests {
        if let Some(l) = parts.extensions.get::<ReqLog>() {
            l.responded();
        }
    }
}
