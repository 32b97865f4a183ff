//! Response compression (`compression algo|type|offload`), as HAProxy decides it: the
//! algorithm a request accepts (the backend's list first, else the frontend's), whether a
//! response qualifies, the headers a compressed response gets, and the streaming encoder
//! its body goes through (each piece flushed, so a stream stays a stream).

use bytes::Bytes;
use clearway_config::model::{CompAlgo, Compression};
use http::header::{self, HeaderMap, HeaderValue};
use std::io::Write;
use std::sync::atomic::{AtomicU32, Ordering};

/// `tune.comp.maxlevel`.
static LEVEL: AtomicU32 = AtomicU32::new(1);

pub fn set_level(n: u32) {
    LEVEL.store(n.clamp(1, 9), Ordering::Relaxed);
}

/// A request's chosen algorithm, kept in its extensions for the response.
#[derive(Debug, Clone, Copy)]
pub struct Accepted(pub CompAlgo);

/// The settings in force for a request: the backend's, else the frontend's (the offload of
/// either).
pub fn settings<'a>(fe: Option<&'a Compression>, be: Option<&'a Compression>) -> Option<(&'a Compression, bool)> {
    let offload = fe.is_some_and(|c| c.offload) || be.is_some_and(|c| c.offload);
    let algos = be
        .filter(|c| !c.algos.is_empty())
        .or(fe.filter(|c| !c.algos.is_empty()))?;
    Some((algos, offload))
}

/// The content types compressed: the backend's list, else the frontend's.
pub fn types<'a>(fe: Option<&'a Compression>, be: Option<&'a Compression>) -> &'a [String] {
    be.filter(|c| !c.types.is_empty()).or(fe).map_or(&[], |c| &c.types)
}

/// Old browsers that announce themselves as `Mozilla/4` get nothing compressed, unless
/// known good (MSIE 6 with XP SP2, MSIE 7 and later), as HAProxy judges them.
fn old_agent(ua: &[u8]) -> bool {
    if ua.len() < 9 || &ua[..9] != b"Mozilla/4" {
        return false;
    }
    ua.len() < 31
        || &ua[25..30] != b"MSIE "
        || ua[30] < b'6'
        || (ua[30] == b'6' && (ua.len() < 54 || &ua[51..54] != b"SV1"))
}

/// A `q=` weight in thousandths (1000 when absent or unreadable as HAProxy reads it).
fn qvalue(params: &str) -> u32 {
    let Some(q) = params.split(';').map(str::trim).find_map(|p| p.strip_prefix("q=")) else {
        return 1000;
    };
    let q = q.trim();
    let (int, frac) = q.split_once('.').unwrap_or((q, ""));
    if int.starts_with('1') {
        return 1000;
    }
    if !int.starts_with('0') {
        return 0;
    }
    let digits: String = frac.chars().take_while(char::is_ascii_digit).take(3).collect();
    format!("{digits:0<3}").parse().unwrap_or(0)
}

/// The algorithm a request's `Accept-Encoding` lets this proxy use: the coding with the
/// highest weight that one of `c.algos` sends (`*`: the preferred one); `identity` when
/// configured and nothing else fits. `offload` takes the header out of the request.
pub fn choose(c: &Compression, offload: bool, headers: &mut HeaderMap) -> Option<CompAlgo> {
    if headers
        .get(header::USER_AGENT)
        .is_some_and(|ua| old_agent(ua.as_bytes()))
    {
        return None;
    }
    let mut best: Option<(u32, CompAlgo)> = None;
    for v in headers.get_all(header::ACCEPT_ENCODING) {
        let Ok(v) = v.to_str() else { continue };
        for item in v.split(',') {
            let item = item.trim_start();
            let (token, params) = item.split_once(';').unwrap_or((item, ""));
            let token = token.trim();
            let q = qvalue(params);
            if best.is_some_and(|(b, _)| q <= b) || q == 0 {
                continue;
            }
            let found = c
                .algos
                .iter()
                .find(|a| token.starts_with('*') || token.eq_ignore_ascii_case(a.token()));
            if let Some(a) = found {
                best = Some((q, *a));
            }
        }
    }
    let chosen = best.map(|(_, a)| a);
    if chosen.is_some() && offload {
        headers.remove(header::ACCEPT_ENCODING);
    }
    chosen.or_else(|| c.algos.contains(&CompAlgo::Identity).then_some(CompAlgo::Identity))
}

/// A request's turn, after its backend is known: the algorithm the client accepts that this
/// proxy sends, kept in its extensions (`Accepted`); true when there is one.
#[inline]
pub fn on_request(fe: Option<&Compression>, be: Option<&Compression>, parts: &mut http::request::Parts) -> bool {
    if fe.is_none() && be.is_none() {
        return false;
    }
    let chosen = settings(fe, be).and_then(|(c, offload)| choose(c, offload, &mut parts.headers));
    if let Some(a) = chosen {
        parts.extensions.insert(Accepted(a));
    }
    chosen.is_some()
}

/// What a response says of itself, for `qualifies`.
pub struct Response<'a> {
    pub status: u16,
    /// Both the request and the response are HTTP/1.1 or later.
    pub http11: bool,
    pub head_request: bool,
    /// The body's end is known without the server closing (a length, chunked, HTTP/2).
    pub framed: bool,
    pub headers: &'a HeaderMap,
}

/// An ETag HAProxy accepts: `"..."` or `W/"..."`.
fn etag_valid(v: &[u8]) -> bool {
    let v = v.strip_prefix(b"W/").unwrap_or(v);
    v.len() >= 2 && v[0] == b'"' && v[v.len() - 1] == b'"'
}

/// Whether a response may be compressed: a 200 to 203 with a body, not compressed yet, not
/// `no-transform`, one valid ETag at most, and a content type `types` lists (any but
/// `multipart` when it lists none; with a list, a response without a type is left alone).
pub fn qualifies(r: &Response<'_>, types: &[String]) -> bool {
    if !r.http11 || r.head_request || !(200..=203).contains(&r.status) || !r.framed {
        return false;
    }
    let h = r.headers;
    if h.contains_key(header::CONTENT_ENCODING) {
        return false;
    }
    let no_transform = h
        .get_all(header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|d| d.trim().eq_ignore_ascii_case("no-transform"));
    if no_transform {
        return false;
    }
    let mut etags = h.get_all(header::ETAG).iter();
    if let Some(e) = etags.next() {
        if !etag_valid(e.as_bytes()) || etags.next().is_some() {
            return false;
        }
    }
    match h.get(header::CONTENT_TYPE).map(HeaderValue::as_bytes) {
        Some(t) if t.len() >= 9 && t[..9].eq_ignore_ascii_case(b"multipart") => false,
        Some(t) => {
            types.is_empty()
                || types
                    .iter()
                    .any(|x| t.len() >= x.len() && t[..x.len()].eq_ignore_ascii_case(x.as_bytes()))
        }
        None => types.is_empty(),
    }
}

/// The headers of a response about to be compressed: its coding (none for `identity`),
/// no length (the body is sent chunked), a weak ETag, and `Vary: Accept-Encoding`.
pub fn mark(headers: &mut HeaderMap, algo: CompAlgo) {
    if algo != CompAlgo::Identity {
        headers.append(header::CONTENT_ENCODING, HeaderValue::from_static(algo.token()));
    }
    headers.remove(header::CONTENT_LENGTH);
    if let Some(e) = headers.get_mut(header::ETAG) {
        if e.as_bytes().starts_with(b"\"") {
            let mut weak = b"W/".to_vec();
            weak.extend_from_slice(e.as_bytes());
            if let Ok(v) = HeaderValue::from_bytes(&weak) {
                *e = v;
            }
        }
    }
    headers.append(header::VARY, HeaderValue::from_static("Accept-Encoding"));
}

/// A body's encoder.
pub enum Encoder {
    Identity,
    Gzip(flate2::write::GzEncoder<Vec<u8>>),
    Zlib(flate2::write::ZlibEncoder<Vec<u8>>),
    Raw(flate2::write::DeflateEncoder<Vec<u8>>),
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Encoder")
    }
}

impl Encoder {
    pub fn new(algo: CompAlgo) -> Encoder {
        let level = flate2::Compression::new(LEVEL.load(Ordering::Relaxed));
        match algo {
            CompAlgo::Identity => Encoder::Identity,
            CompAlgo::Gzip => Encoder::Gzip(flate2::write::GzEncoder::new(Vec::new(), level)),
            CompAlgo::Deflate => Encoder::Zlib(flate2::write::ZlibEncoder::new(Vec::new(), level)),
            CompAlgo::RawDeflate => Encoder::Raw(flate2::write::DeflateEncoder::new(Vec::new(), level)),
        }
    }

    /// `data` compressed and flushed: what the client can decode so far.
    pub fn push(&mut self, data: Bytes) -> Bytes {
        fn step<W: Write>(w: &mut W, data: &[u8], out: impl FnOnce(&mut W) -> Vec<u8>) -> Bytes {
            // Writing to a Vec does not fail.
            let _ = w.write_all(data);
            let _ = w.flush();
            Bytes::from(out(w))
        }
        match self {
            Encoder::Identity => data,
            Encoder::Gzip(e) => step(e, &data, |e| std::mem::take(e.get_mut())),
            Encoder::Zlib(e) => step(e, &data, |e| std::mem::take(e.get_mut())),
            Encoder::Raw(e) => step(e, &data, |e| std::mem::take(e.get_mut())),
        }
    }

    /// The stream's end (the gzip trailer, the zlib checksum).
    pub fn finish(self) -> Bytes {
        let out = match self {
            Encoder::Identity => Ok(Vec::new()),
            Encoder::Gzip(e) => e.finish(),
            Encoder::Zlib(e) => e.finish(),
            Encoder::Raw(e) => e.finish(),
        };
        Bytes::from(out.unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn comp(algos: &[CompAlgo]) -> Compression {
        Compression {
            algos: algos.to_vec(),
            ..Default::default()
        }
    }

    fn ae(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn the_heaviest_accepted_coding_wins() {
        let c = comp(&[CompAlgo::Gzip, CompAlgo::Deflate]);
        assert_eq!(choose(&c, false, &mut ae("gzip, deflate")), Some(CompAlgo::Gzip));
        assert_eq!(
            choose(&c, false, &mut ae("gzip;q=0.5, deflate")),
            Some(CompAlgo::Deflate)
        );
        assert_eq!(
            choose(&c, false, &mut ae("deflate;q=0.2, gzip;q=0.3")),
            Some(CompAlgo::Gzip)
        );
        assert_eq!(choose(&c, false, &mut ae("br")), None);
        assert_eq!(choose(&c, false, &mut ae("gzip;q=0")), None);
        assert_eq!(
            choose(&c, false, &mut ae("*")),
            Some(CompAlgo::Gzip),
            "the preferred one"
        );
        assert_eq!(choose(&c, false, &mut HeaderMap::new()), None);
        let mut h = ae("gzip");
        assert_eq!(choose(&c, true, &mut h), Some(CompAlgo::Gzip));
        assert!(h.get(header::ACCEPT_ENCODING).is_none(), "offload takes it out");
        let id = comp(&[CompAlgo::Gzip, CompAlgo::Identity]);
        assert_eq!(choose(&id, false, &mut ae("br")), Some(CompAlgo::Identity));
        let mut old = ae("gzip");
        old.insert(header::USER_AGENT, HeaderValue::from_static("Mozilla/4.0 (compatible)"));
        assert_eq!(choose(&c, false, &mut old), None);
        assert_eq!(qvalue("q=0.25"), 250);
        assert_eq!(qvalue(" q=1"), 1000);
    }

    #[test]
    fn only_plain_successful_bodies_of_listed_types_qualify() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        fn r(status: u16, h: &HeaderMap) -> Response<'_> {
            Response {
                status,
                http11: true,
                head_request: false,
                framed: true,
                headers: h,
            }
        }
        let types = ["text/".to_string()];
        assert!(qualifies(&r(200, &h), &types));
        assert!(qualifies(&r(200, &h), &[]));
        assert!(!qualifies(&r(404, &h), &types));
        assert!(!qualifies(&r(200, &h), &["application/json".into()]));
        let mut enc = h.clone();
        enc.insert(header::CONTENT_ENCODING, HeaderValue::from_static("br"));
        assert!(!qualifies(&r(200, &enc), &types));
        let mut nt = h.clone();
        nt.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, no-transform"));
        assert!(!qualifies(&r(200, &nt), &types));
        let mut bad = h.clone();
        bad.insert(header::ETAG, HeaderValue::from_static("abc"));
        assert!(!qualifies(&r(200, &bad), &types));
        let mut mp = HeaderMap::new();
        mp.insert(header::CONTENT_TYPE, HeaderValue::from_static("multipart/mixed"));
        assert!(!qualifies(&r(200, &mp), &[]));
        assert!(!qualifies(&r(200, &HeaderMap::new()), &types), "a type is required");
        assert!(qualifies(&r(200, &HeaderMap::new()), &[]));
        let mut m = h.clone();
        m.insert(header::ETAG, HeaderValue::from_static("\"v1\""));
        m.insert(header::CONTENT_LENGTH, HeaderValue::from_static("10"));
        mark(&mut m, CompAlgo::Gzip);
        assert_eq!(m[header::ETAG], "W/\"v1\"");
        assert_eq!(m[header::CONTENT_ENCODING], "gzip");
        assert!(m.get(header::CONTENT_LENGTH).is_none());
    }

    #[test]
    fn each_piece_decodes_as_it_comes() {
        let mut e = Encoder::new(CompAlgo::Gzip);
        let mut out = Vec::new();
        out.extend_from_slice(&e.push(Bytes::from_static(b"hello ")));
        // What came so far decodes already (a streamed response is not held back).
        let mut partial = String::new();
        let _ = flate2::read::GzDecoder::new(&out[..]).read_to_string(&mut partial);
        assert_eq!(partial, "hello ");
        out.extend_from_slice(&e.push(Bytes::from_static(b"world")));
        out.extend_from_slice(&e.finish());
        let mut s = String::new();
        flate2::read::GzDecoder::new(&out[..]).read_to_string(&mut s).unwrap();
        assert_eq!(s, "hello world");
        let mut z = Encoder::new(CompAlgo::Deflate);
        let mut zo = z.push(Bytes::from_static(b"abc")).to_vec();
        zo.extend_from_slice(&z.finish());
        let mut s = String::new();
        flate2::read::ZlibDecoder::new(&zo[..]).read_to_string(&mut s).unwrap();
        assert_eq!(s, "abc");
    }
}
