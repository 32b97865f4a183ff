//! `http-request normalize-uri`: the request target rewritten into one canonical form, as
//! HAProxy's normalizers do (merged slashes, `.` and `..` segments, percent escapes, the
//! query sorted, the fragment), and the scheme's default port dropped from absolute targets.
//! Pure: a target in, a target out.

use clearway_config::rules::Normalizer;
use http::Uri;

/// A `strict` normalizer found a malformed escape: the request is refused (400).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadEscape;

/// An absolute target naming its scheme's default port (`http://h:80/`, `https://h:443/`)
/// loses it, and so do the request's Host fields (RFC 3986, 6.3.2; HAProxy does it as
/// requests arrive). Other targets are left alone.
pub fn default_port(parts: &mut http::request::Parts) {
    let u = &parts.uri;
    let (Some(scheme), Some(auth), Some(port)) = (u.scheme_str(), u.authority(), u.port_u16()) else {
        return;
    };
    let default = match scheme {
        "http" => 80,
        "https" => 443,
        _ => return,
    };
    if port != default {
        return;
    }
    let host = auth.as_str().rsplit_once(':').map_or(auth.as_str(), |(h, _)| h);
    let (Ok(auth), Ok(value)) = (host.parse::<http::uri::Authority>(), http::HeaderValue::from_str(host)) else {
        return;
    };
    let mut p = u.clone().into_parts();
    p.authority = Some(auth);
    let Ok(uri) = Uri::from_parts(p) else {
        return;
    };
    parts.uri = uri;
    if let http::header::Entry::Occupied(mut e) = parts.headers.entry(http::header::HOST) {
        for v in e.iter_mut() {
            *v = value.clone();
        }
    }
}

/// The target after `n`: None when unchanged, Err when `strict` finds a bad escape.
pub fn uri(u: &Uri, n: Normalizer) -> Result<Option<Uri>, BadEscape> {
    let Some(pq) = u.path_and_query().map(|p| p.as_str()) else {
        return Ok(None);
    };
    let (path, query) = match pq.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (pq, None),
    };
    let path_only = matches!(
        n,
        Normalizer::MergeSlashes | Normalizer::StripDot | Normalizer::StripDotDot { .. }
    );
    // `*` (OPTIONS) and other targets without a path are left alone.
    if path_only && !path.starts_with('/') {
        return Ok(None);
    }
    let (path, query) = match n {
        Normalizer::MergeSlashes => (merge_slashes(path), query.map(String::from)),
        Normalizer::StripDot => (strip_dot(path), query.map(String::from)),
        Normalizer::StripDotDot { full } => (strip_dotdot(path, full), query.map(String::from)),
        Normalizer::DecodeUnreserved { strict } => (
            decode_unreserved(path, strict)?,
            query.map(|q| decode_unreserved(q, strict)).transpose()?,
        ),
        Normalizer::PercentUpper { strict } => (
            upper_escapes(path, strict)?,
            query.map(|q| upper_escapes(q, strict)).transpose()?,
        ),
        Normalizer::QuerySort => (path.to_string(), query.map(sort_query)),
        // The http crate keeps no fragment in a request target: nothing to strip or encode.
        Normalizer::FragmentStrip | Normalizer::FragmentEncode => return Ok(None),
    };
    let new = match &query {
        Some(q) => format!("{path}?{q}"),
        None => path,
    };
    if new == pq {
        return Ok(None);
    }
    let mut parts = u.clone().into_parts();
    parts.path_and_query = new.parse().ok();
    Ok(Uri::from_parts(parts).ok())
}

fn merge_slashes(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    for c in p.chars() {
        if !(c == '/' && out.ends_with('/')) {
            out.push(c);
        }
    }
    out
}

/// `/./` segments out (a lone `.` at the end too), as HAProxy strips them.
fn strip_dot(p: &str) -> String {
    let segs: Vec<&str> = p.split('/').collect();
    let last = segs.len() - 1;
    let kept: Vec<&str> = segs
        .iter()
        .enumerate()
        .filter(|(i, s)| *i == 0 || **s != ".")
        .map(|(_, s)| *s)
        .collect();
    let mut out = kept.join("/");
    // A trailing `.` leaves its slash: `/a/.` is `/a/`.
    if segs.len() > 1 && segs[last] == "." && !out.ends_with('/') {
        out.push('/');
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// `a/../` pairs out; with `full`, a `..` above the root goes too.
fn strip_dotdot(p: &str, full: bool) -> String {
    let segs: Vec<&str> = p.split('/').skip(1).collect();
    let mut out: Vec<&str> = Vec::new();
    let n = segs.len();
    for (i, s) in segs.iter().enumerate() {
        if *s == ".." {
            match out.last() {
                Some(l) if *l != ".." => {
                    out.pop();
                }
                _ if full => {}
                _ => out.push(s),
            }
            // `/a/..` ends with its slash: `/`.
            if i == n - 1 {
                out.push("");
            }
        } else {
            out.push(s);
        }
    }
    format!("/{}", out.join("/"))
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// `%XX` escapes of unreserved characters (letters, digits, `-._~`) decoded.
fn decode_unreserved(s: &str, strict: bool) -> Result<String, BadEscape> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            match (b.get(i + 1).and_then(|&x| hex(x)), b.get(i + 2).and_then(|&x| hex(x))) {
                (Some(h), Some(l)) => {
                    let c = h * 16 + l;
                    if c.is_ascii_alphanumeric() || b"-._~".contains(&c) {
                        out.push(c);
                    } else {
                        out.extend_from_slice(&b[i..i + 3]);
                    }
                    i += 3;
                    continue;
                }
                _ if strict => return Err(BadEscape),
                _ => {}
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).map_err(|_| BadEscape)
}

/// `%xx` escapes written in upper case.
fn upper_escapes(s: &str, strict: bool) -> Result<String, BadEscape> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if let (Some(h), Some(l)) = (b.get(i + 1), b.get(i + 2)) {
                if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() {
                    out.extend_from_slice(&[b'%', h.to_ascii_uppercase(), l.to_ascii_uppercase()]);
                    i += 3;
                    continue;
                }
            }
            if strict {
                return Err(BadEscape);
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).map_err(|_| BadEscape)
}

/// The query's `&`-separated parameters sorted by name, those of one name in their order.
fn sort_query(q: &str) -> String {
    let mut params: Vec<&str> = q.split('&').collect();
    params.sort_by_key(|p| p.split('=').next().unwrap_or(""));
    params.join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(target: &str, n: Normalizer) -> String {
        let u: Uri = target.parse().unwrap();
        match uri(&u, n) {
            Ok(Some(x)) => x.to_string(),
            Ok(None) => u.to_string(),
            Err(BadEscape) => "400".into(),
        }
    }

    fn default_port_of(target: &str, host: &str) -> (String, String) {
        let (mut parts, ()) = http::Request::get(target)
            .header("host", host)
            .body(())
            .unwrap()
            .into_parts();
        default_port(&mut parts);
        (
            parts.uri.to_string(),
            parts.headers["host"].to_str().unwrap().to_string(),
        )
    }

    #[test]
    fn default_ports_are_dropped_from_absolute_targets_and_hosts() {
        // scheme_based_normalize.vtc's four cases, and the forms left alone.
        let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(default_port_of("http://h:80/a?b", "h:80"), pair("http://h/a?b", "h"));
        assert_eq!(
            default_port_of("http://h:8080/", "h:8080"),
            pair("http://h:8080/", "h:8080")
        );
        assert_eq!(default_port_of("https://h:443/", "h:443"), pair("https://h/", "h"));
        assert_eq!(default_port_of("https://h:80/", "h:80"), pair("https://h:80/", "h:80"));
        assert_eq!(
            default_port_of("http://[::1]:80/", "[::1]:80"),
            pair("http://[::1]/", "[::1]")
        );
        assert_eq!(default_port_of("/x", "h:80"), pair("/x", "h:80"));
        assert_eq!(default_port_of("ws://h:80/", "h:80"), pair("ws://h:80/", "h:80"));
    }

    #[test]
    fn haproxy_documented_examples() {
        assert_eq!(norm("//a///b/c//", Normalizer::MergeSlashes), "/a/b/c/");
        assert_eq!(norm("/a/./b/.", Normalizer::StripDot), "/a/b/");
        assert_eq!(norm("/./a", Normalizer::StripDot), "/a");
        let dd = Normalizer::StripDotDot { full: false };
        assert_eq!(norm("/foo/../", dd), "/");
        assert_eq!(norm("/foo/../bar/", dd), "/bar/");
        assert_eq!(norm("/foo/bar/..", dd), "/foo/");
        assert_eq!(norm("/../bar/", dd), "/../bar/");
        assert_eq!(norm("/../bar/", Normalizer::StripDotDot { full: true }), "/bar/");
        let du = Normalizer::DecodeUnreserved { strict: false };
        assert_eq!(norm("/%61?%7E%2F", du), "/a?~%2F");
        assert_eq!(norm("/%zz", du), "/%zz");
        assert_eq!(norm("/%zz", Normalizer::DecodeUnreserved { strict: true }), "400");
        assert_eq!(norm("/%6a?%2f", Normalizer::PercentUpper { strict: false }), "/%6A?%2F");
        assert_eq!(norm("/?b=1&a=2&b=0&c", Normalizer::QuerySort), "/?a=2&b=1&b=0&c");
        assert_eq!(norm("*", dd), "*");
    }
}
