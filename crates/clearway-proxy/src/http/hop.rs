//! Hop-by-hop header fields (RFC 9110, 7.6.1): the ones a proxy must not pass on, and the
//! ones the `Connection` header names, removed from a request or a response in one pass.
//! Must not touch end-to-end fields.

use super::decode::HOP_BY_HOP;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};

/// Whether a header is one of `HOP_BY_HOP`. (Names in a HeaderMap are lower case.)
fn is_hop(k: &HeaderName) -> bool {
    HOP_BY_HOP.contains(&k.as_str())
}

/// Removes the hop-by-hop fields. A request's `TE` goes on as `TE: trailers` when it names
/// that coding (as HAProxy's does: the server may then send trailers); other codings it
/// names are this hop's business.
pub(super) fn strip_hop_by_hop_request(h: &mut HeaderMap) {
    strip(h, true);
}

pub(super) fn strip_hop_by_hop(h: &mut HeaderMap) {
    strip(h, false);
}

fn strip(h: &mut HeaderMap, request: bool) {
    // One pass over the names finds those present (usually none in a request, Connection
    // alone in a response), instead of a lookup for each name that could be. They are noted
    // on the stack: a HeaderMap yields each name once, so there are at most `HOP_BY_HOP.len()`.
    let mut found: [Option<HeaderName>; HOP_BY_HOP.len()] = Default::default();
    let mut n = 0;
    for k in h.keys().filter(|k| is_hop(k)) {
        found[n] = Some(k.clone());
        n += 1;
        if n == found.len() {
            break;
        }
    }
    if n == 0 {
        return;
    }
    // Headers the Connection header names are hop-by-hop too. The usual tokens (close,
    // keep-alive, upgrade) name nothing more, and cost no allocation.
    let named: Vec<HeaderName> = h
        .get_all(header::CONNECTION)
        .iter()
        .flat_map(|v| super::decode::tokens(v.as_bytes()))
        .filter(|t| super::decode::names_a_header(t))
        .filter_map(|t| HeaderName::from_bytes(t).ok())
        .collect();
    let trailers = request
        && h.get_all(header::TE)
            .iter()
            .flat_map(|v| super::decode::tokens(v.as_bytes()))
            .any(|t| t.eq_ignore_ascii_case(b"trailers"));
    for k in found.iter().flatten().chain(&named) {
        h.remove(k);
    }
    if trailers {
        h.insert(header::TE, HeaderValue::from_static("trailers"));
    }
}
