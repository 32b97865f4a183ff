//! Responses Clearway makes itself: error pages (400 to 504, replaced by `errorfile`),
//! `http-request return` and `deny` replies, redirects. Owns their wording and headers;
//! must not decide when to send them.

use bytes::Bytes;
use clearway_config::rules::ErrorFile;
use http::{header, HeaderValue, Response, StatusCode};

/// A complete prepared response: status, headers and body.
#[derive(Debug, Clone)]
pub struct Page {
    pub status: StatusCode,
    pub headers: Vec<(header::HeaderName, HeaderValue)>,
    pub body: Bytes,
    /// An empty error file: the connection is closed without an answer.
    pub close: bool,
}

/// Marks a response that must not be sent: the client connection is closed instead (an
/// empty error file).
#[derive(Debug, Clone, Copy)]
pub struct Silent;

impl Page {
    /// The page as a response, with any body type made of bytes (`ResBody`, or `Bytes` where
    /// the caller turns it into one).
    pub fn response<B: From<Bytes>>(&self) -> Response<B> {
        let mut r = Response::new(B::from(self.body.clone()));
        *r.status_mut() = self.status;
        if self.close {
            r.extensions_mut().insert(Silent);
        }
        let h = r.headers_mut();
        for (k, v) in &self.headers {
            h.append(k.clone(), v.clone());
        }
        if !h.contains_key(header::CONTENT_LENGTH) {
            h.insert(header::CONTENT_LENGTH, HeaderValue::from(self.body.len()));
        }
        r
    }
}

/// What each error status says, in our own words.
fn message(status: u16) -> &'static str {
    match status {
        200 => "The service is ready.",
        400 => "The request could not be understood.",
        401 => "This resource needs authentication.",
        403 => "The request was refused by the proxy's rules.",
        404 => "Nothing is here.",
        405 => "This method is not allowed here.",
        407 => "The proxy needs authentication.",
        408 => "The request did not arrive in time.",
        410 => "This resource is gone.",
        413 => "The request is too large.",
        414 => "The request's URI is too long.",
        422 => "The request's transfer coding cannot be processed.",
        425 => "Too early for this request.",
        429 => "Too many requests: slow down.",
        431 => "The request's headers are too large.",
        500 => "The proxy failed to handle the request.",
        501 => "This is not implemented.",
        502 => "The server sent an invalid or no response.",
        503 => "No server is available to answer this request.",
        504 => "The server did not answer in time.",
        _ => "",
    }
}

/// Clearway's default page for `status`.
pub fn default_page(status: u16) -> Page {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let reason = code.canonical_reason().unwrap_or("");
    let body = format!(
        "<html><body><h1>{} {reason}</h1>\n{}\n</body></html>\n",
        code.as_u16(),
        message(code.as_u16())
    );
    Page {
        status: code,
        headers: vec![
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (header::CONTENT_TYPE, HeaderValue::from_static("text/html")),
        ],
        body: Bytes::from(body),
        close: false,
    }
}

/// An `errorfile`'s raw response, parsed (the config already checked that it parses).
pub fn from_errorfile(e: &ErrorFile) -> Option<Page> {
    raw_page(e.status, &e.response)
}

/// A complete response written in a file (`errorfile`): `status` and nothing else when the
/// file is empty (the connection is then closed without an answer).
pub fn raw_page(status: u16, raw: &[u8]) -> Option<Page> {
    if raw.is_empty() {
        return Some(Page {
            status: StatusCode::from_u16(status).ok()?,
            headers: Vec::new(),
            body: Bytes::new(),
            close: true,
        });
    }
    let e = ErrorFile {
        span: clearway_config::model::Span {
            file: "".into(),
            line: 0,
        },
        status,
        response: raw.to_vec(),
    };
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut r = httparse::Response::new(&mut headers);
    let Ok(httparse::Status::Complete(len)) = r.parse(&e.response) else {
        return None;
    };
    let status = StatusCode::from_u16(r.code?).ok()?;
    let mut out = Vec::new();
    for h in r.headers.iter() {
        let name = header::HeaderName::from_bytes(h.name.as_bytes()).ok()?;
        // The body is sent as read; our own framing replaces the file's.
        if name == header::CONTENT_LENGTH || name == header::TRANSFER_ENCODING || name == header::CONNECTION {
            continue;
        }
        out.push((name, HeaderValue::from_bytes(h.value).ok()?));
    }
    Some(Page {
        status,
        headers: out,
        body: Bytes::copy_from_slice(&e.response[len..]),
        close: false,
    })
}

/// The error pages of one proxy half: `errorfile` replacements over the defaults.
#[derive(Debug, Clone, Default)]
pub struct ErrorPages {
    custom: Vec<(u16, Page)>,
}

impl ErrorPages {
    pub fn new(files: &[ErrorFile]) -> ErrorPages {
        ErrorPages {
            custom: files
                .iter()
                .filter_map(|f| Some((f.status, from_errorfile(f)?)))
                .collect(),
        }
    }

    pub fn get(&self, status: u16) -> Option<&Page> {
        self.custom.iter().find(|(s, _)| *s == status).map(|(_, p)| p)
    }

    /// The page for `status`: this half's errorfile, else `fallback`'s, else the default.
    pub fn response<B: From<Bytes>>(&self, fallback: Option<&ErrorPages>, status: u16) -> Response<B> {
        match self.get(status).or_else(|| fallback.and_then(|f| f.get(status))) {
            Some(p) => p.response(),
            None => default_page(status).response(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errorfile_replaces_the_default() {
        let e = ErrorFile {
            span: clearway_config::model::Span {
                file: "t".into(),
                line: 1,
            },
            status: 503,
            response:
                b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 99\r\n\r\nsorry\n"
                    .to_vec(),
        };
        let pages = ErrorPages::new(&[e]);
        let p = pages.get(503).expect("parsed");
        assert_eq!(p.status, 503);
        assert_eq!(&p.body[..], b"sorry\n");
        assert!(p.headers.iter().all(|(k, _)| k != header::CONTENT_LENGTH));
        assert!(pages.get(502).is_none());
        let d = default_page(504);
        assert!(String::from_utf8_lossy(&d.body).contains("504 Gateway Timeout"));
    }
}
