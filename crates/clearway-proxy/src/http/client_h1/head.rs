//! Reading one HTTP/1 request head from a client: the request line and target form, the
//! fields that decide its framing, host and connection, and every refusal (with its status)
//! of a head that two parsers could read two ways. Must not read sockets or answer.

use super::REQUEST_ROOM;
use crate::http::decode::{header_map, header_room, stack_room, too_many_fields, Framing, Semantics, SpanRoom};
use bytes::BytesMut;
use http::header::{self, HeaderMap};
use http::{Method, Request, Uri, Version};

/// One parsed request head, and what it says of the connection.
pub(crate) struct Head {
    pub(crate) parts: http::request::Parts,
    pub(crate) framing: Framing,
    /// The client keeps the connection after this request.
    pub(crate) keep_alive: bool,
    pub(crate) expect_continue: bool,
    /// The client asks to switch protocols (`Connection: upgrade`, HTTP/1.1).
    pub(crate) upgrade: bool,
}

/// A complete request head at the start of `buf`, taken out of it; Err: the status to refuse
/// it with, and why.
pub(crate) fn parse_request(buf: &mut BytesMut) -> Result<Option<Head>, (u16, &'static str)> {
    let (mut stack, mut heap) = (stack_room(), Vec::new());
    let mut r = httparse::Request::new(&mut []);
    let len = match httparse::ParserConfig::default().parse_request_with_uninit_headers(
        &mut r,
        buf,
        header_room(&mut stack, &mut heap),
    ) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err((431, "too many headers")),
        Err(_) => return Err((400, "malformed request")),
    };
    let method = Method::from_bytes(r.method.unwrap_or("").as_bytes()).map_err(|_| (400, "invalid method"))?;
    let version = if r.version == Some(0) {
        Version::HTTP_10
    } else {
        Version::HTTP_11
    };
    let path = r.path.unwrap_or("");
    let absolute = request_target(&method, path.as_bytes())?;
    let path_at = path.as_ptr() as usize - buf.as_ptr() as usize;
    let path_end = path_at + path.len();
    let sem = Semantics::scan(r.headers);
    if too_many_fields(r.headers.len(), sem.uncounted) {
        return Err((431, "too many headers"));
    }
    let mut room = SpanRoom::default();
    let at = room.fill(buf, r.headers);
    let head = buf.split_to(len).freeze();
    let uri = Uri::from_maybe_shared(head.slice(path_at..path_end)).map_err(|_| (400, "invalid request target"))?;
    let mut headers = header_map(at, &head, REQUEST_ROOM).map_err(|e| (400, e))?;
    // Two Host fields would let a rule check one while the server uses the other; the
    // same one twice is kept once, as HAProxy does.
    if sem.hosts_differ {
        return Err((400, "Host fields that differ"));
    }
    if sem.hosts > 1 {
        if let Some(h) = headers.get(header::HOST).cloned() {
            headers.insert(header::HOST, h);
        }
    }
    if absolute {
        same_host(&uri, &mut headers)?;
    }
    let mut keep_alive = match version {
        Version::HTTP_10 => sem.connection.keep_alive,
        _ => !sem.connection.close,
    };
    let framing = if sem.transfer_encoding {
        if version == Version::HTTP_10 {
            // RFC 9112, 6.1: the framing of an HTTP/1.0 message with a transfer coding is
            // faulty; it is served, then the connection closes (as HAProxy does), so that
            // nothing after it is read by the rules of one framing or the other.
            keep_alive = false;
        }
        if !sem.chunked || sem.chunked_twice {
            // The body's end could not be found (RFC 9112, 6.3).
            return Err((400, "invalid Transfer-Encoding"));
        }
        if sem.other_coding {
            // Forwarding it without the coding would change the body; the server may not
            // know it either.
            return Err((422, "a transfer coding other than chunked"));
        }
        if sem.length.is_err() {
            // A length no one can read beside a coding: refused as HAProxy does.
            return Err((400, "an invalid Content-Length beside Transfer-Encoding"));
        }
        if sem.length != Ok(None) {
            // Both lengths: a proxy in front that went by the Content-Length sees another
            // request in what follows this body. Serve this one, then close (RFC 9112, 6.1).
            keep_alive = false;
            headers.remove(header::CONTENT_LENGTH);
        }
        Framing::Chunked
    } else {
        match sem.length.map_err(|e| (400, e))? {
            Some(n) => {
                if sem.length_repeated {
                    headers.insert(header::CONTENT_LENGTH, n.into());
                }
                Framing::Length(n)
            }
            None => Framing::Empty,
        }
    };
    let expect_continue = version == Version::HTTP_11 && sem.expect_continue;
    let upgrade = version == Version::HTTP_11 && sem.connection.upgrade;
    if upgrade && sem.websocket && !sem.websocket_key {
        // RFC 6455, 4.1: no WebSocket handshake without a key.
        return Err((400, "a WebSocket upgrade without Sec-WebSocket-Key"));
    }
    let (mut parts, ()) = Request::new(()).into_parts();
    parts.method = method;
    parts.uri = uri;
    parts.version = version;
    parts.headers = headers;
    Ok(Some(Head {
        parts,
        framing,
        keep_alive,
        expect_continue,
        upgrade,
    }))
}

/// Checks a request target's form (RFC 9112, 3.2); true when it is absolute
/// (`http://host/path`). A target of another form is not forwarded as something else.
fn request_target(method: &Method, t: &[u8]) -> Result<bool, (u16, &'static str)> {
    if *method == Method::CONNECT {
        // A tunnel to where the client names: not what a reverse proxy's servers expect.
        return Err((501, "CONNECT is not supported"));
    }
    if t.contains(&b'#') {
        return Err((400, "a fragment in the request target"));
    }
    let scheme = |s: &[u8]| t.len() > s.len() && t[..s.len()].eq_ignore_ascii_case(s);
    match t.first() {
        Some(b'/') => Ok(false),
        Some(b'*') if t.len() == 1 && *method == Method::OPTIONS => Ok(false),
        _ if scheme(b"http://") || scheme(b"https://") => {
            // `http://a?q`: a query right after the authority, with no path. Valid as a URI,
            // but refused as HAProxy does: one parser's path is another's "?q".
            let rest = &t[t.iter().position(|&b| b == b':').map_or(0, |i| i + 3)..];
            match rest.iter().position(|&b| b == b'/' || b == b'?') {
                Some(i) if rest[i] == b'?' => Err((400, "an absolute target with a query but no path")),
                _ => Ok(true),
            }
        }
        _ => Err((400, "invalid request target")),
    }
}

/// An absolute target's authority is the request's host (RFC 9112, 3.2.2): a Host field
/// naming another is refused, as HAProxy does (rules and the server must see the same host);
/// a missing one is added, for the server gets the path alone.
fn same_host(uri: &Uri, headers: &mut HeaderMap) -> Result<(), (u16, &'static str)> {
    let Some(a) = uri.authority() else {
        return Err((400, "invalid request target"));
    };
    if a.as_str().contains('@') {
        return Err((400, "user information in the request target"));
    }
    let port = if uri.scheme() == Some(&http::uri::Scheme::HTTPS) {
        ":443"
    } else {
        ":80"
    };
    let bare = |h: &str| h.strip_suffix(port).unwrap_or(h).to_ascii_lowercase();
    match headers.get(header::HOST) {
        None => {
            let v = http::HeaderValue::from_str(a.as_str()).map_err(|_| (400, "invalid request target"))?;
            headers.insert(header::HOST, v);
            Ok(())
        }
        Some(h) if h.to_str().is_ok_and(|h| bare(h.trim()) == bare(a.as_str())) => Ok(()),
        Some(_) => Err((400, "a Host field that differs from the request target")),
    }
}
