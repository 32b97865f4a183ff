//! `option httpchk` with `http-check expect`: one request, the status line and up to 16 kB of
//! the answer, judged as HAProxy does (2xx/3xx pass when no rule is given).

use super::spec::HttpStep;
use super::{os_message, Regexes, Verdict};
use clearway_config::model::{ExpectMatch, HeaderMatch, HttpExpect};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// What one check asks beyond its rules, from the server's state, and the HTTP status it got.
#[derive(Debug, Default)]
pub struct Ask<'a> {
    /// The `X-Haproxy-Server-State` value (`http-check send-state`).
    pub state: Option<&'a str>,
    /// A 404 passes conditionally (`http-check disable-on-404`, while the server is up).
    pub nolb_on_404: bool,
    /// The status of the last answer (0: none), or an external check's exit status, for the
    /// check's `code`.
    pub code: std::sync::atomic::AtomicI32,
}

/// HAProxy's words for a 404 under `http-check disable-on-404`: the server stays up but takes
/// no new traffic (`NOLB`).
pub const CONDITIONAL: &str = "Layer7 check conditionally passed";

/// Sends `step`'s request on `stream` and judges the answer.
pub async fn check<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    step: &HttpStep,
    ask: &Ask<'_>,
    regexes: &Regexes,
) -> Verdict {
    let (status, response) = exchange(stream, step, ask.state)
        .await
        .map_err(|e| ("Layer7 invalid response", e))?;
    ask.code.store(i32::from(status), std::sync::atomic::Ordering::Relaxed);
    if ask.nolb_on_404 && status == 404 {
        return Ok((CONDITIONAL, String::new()));
    }
    judge(regexes, status, &response, &step.expect)?;
    Ok(("Layer7 check passed", String::new()))
}

/// Sends the check request; returns the status code and up to 16 kB of the response.
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    step: &HttpStep,
    state: Option<&str>,
) -> Result<(u16, Vec<u8>), String> {
    let mut req = step.head.clone();
    if let Some(st) = state {
        req.push_str("X-Haproxy-Server-State: ");
        req.push_str(st);
        req.push_str("\r\n");
    }
    req.push_str(&step.tail);
    stream
        .write_all(req.as_bytes())
        .await
        .map_err(|e| format!("send: {}", os_message(&e)))?;
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    while buf.len() < MAX_READ && !complete(&buf, step.head_only) {
        match stream.read(&mut chunk).await {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if buf.is_empty() => return Err(os_message(&e)),
            Err(_) => break,
        }
    }
    let status = parse_status(&buf).ok_or_else(|| {
        let line = String::from_utf8_lossy(buf.split(|&b| b == b'\n').next().unwrap_or_default())
            .trim()
            .to_string();
        if line.is_empty() {
            "empty response".to_string()
        } else {
            format!(
                "not an HTTP status line: '{}'",
                line.chars().take(60).collect::<String>()
            )
        }
    })?;
    Ok((status, buf))
}

/// What a check reads of a response at most.
const MAX_READ: usize = 16 * 1024;

/// Whether `buf` holds a whole response by its own framing (RFC 9112, 6.3), so the check
/// need not wait for the server to close: a server that keeps the connection open despite
/// the request's `Connection: close` still passes, as with HAProxy. A response framed by
/// the close, or not parsed yet, is not complete.
pub(super) fn complete(buf: &[u8], head_only: bool) -> bool {
    use crate::http::decode::{Decoder, Framing, Semantics};
    let mut headers = [httparse::EMPTY_HEADER; crate::http::decode::MAX_HEADERS];
    let mut res = httparse::Response::new(&mut headers);
    let Ok(httparse::Status::Complete(head_len)) = res.parse(buf) else {
        return false;
    };
    let code = res.code.unwrap_or(0);
    if (100..200).contains(&code) && code != 101 {
        // An interim response (`103 Early Hints`): the final one follows.
        return complete(&buf[head_len..], head_only);
    }
    let sem = Semantics::scan(res.headers);
    let framing = if head_only || code == 101 || code == 204 || code == 304 {
        Framing::Empty
    } else if sem.chunked {
        Framing::Chunked
    } else if sem.transfer_encoding {
        Framing::Close
    } else {
        match sem.length {
            Ok(Some(n)) => Framing::Length(n),
            _ => Framing::Close,
        }
    };
    Decoder::new(framing).ends_within(&buf[head_len..])
}

/// The status code of `HTTP/1.x NNN ...`.
pub(crate) fn parse_status(buf: &[u8]) -> Option<u16> {
    let line = buf.split(|&b| b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.split_whitespace();
    if !parts.next()?.starts_with("HTTP/") {
        return None;
    }
    parts.next()?.parse().ok().filter(|c| (100..=599).contains(c))
}

/// Applies `http-check expect` rules (all must hold); without rules, 2xx and 3xx pass.
pub(super) fn judge(
    regexes: &Regexes,
    status: u16,
    response: &[u8],
    expect: &[HttpExpect],
) -> Result<(), (&'static str, String)> {
    // As HAProxy: a wrong status (or header) is told by the answer's reason phrase, a body
    // by a fixed message.
    let phrase = || {
        let line = response.split(|&b| b == b'\n').next().unwrap_or_default();
        let text = String::from_utf8_lossy(line);
        text.trim_end().splitn(3, ' ').nth(2).unwrap_or_default().to_string()
    };
    if expect.is_empty() {
        return if (200..400).contains(&status) {
            Ok(())
        } else {
            Err(("Layer7 wrong status", phrase()))
        };
    }
    let body_at = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(response.len(), |p| p + 4);
    let body = &response[body_at..];
    let content = |negate: bool| {
        if negate {
            "HTTP check matched unwanted content".to_string()
        } else {
            "HTTP content check did not match".to_string()
        }
    };
    for e in expect {
        let (hit, reason, info) = match &e.matcher {
            ExpectMatch::Status(ranges) => (
                ranges.iter().any(|&(lo, hi)| (lo..=hi).contains(&status)),
                "Layer7 wrong status",
                phrase(),
            ),
            ExpectMatch::RStatus(p) => (
                regexes.is_match(p, status.to_string().as_bytes()),
                "Layer7 wrong status",
                phrase(),
            ),
            ExpectMatch::RString(p) => (regexes.is_match(p, body), "Layer7 invalid response", content(e.negate)),
            ExpectMatch::String(s) => (
                super::contains(body, s.as_bytes()),
                "Layer7 invalid response",
                content(e.negate),
            ),
            ExpectMatch::Header { full, name, value } => (
                header_matches(regexes, &response[..body_at], *full, name, value.as_ref()),
                "Layer7 wrong status",
                phrase(),
            ),
        };
        if hit == e.negate {
            let info = match &e.comment {
                Some(c) => format!("{info} comment: {c}"),
                None => info,
            };
            return Err((reason, info));
        }
    }
    Ok(())
}

/// Whether a header of `head` has a name matching `name` and, if given, a value matching
/// `value`: each comma-separated element of it (`hdr`), or the whole (`fhdr`). Names compare
/// without case.
fn header_matches(
    regexes: &Regexes,
    head: &[u8],
    full: bool,
    name: &(HeaderMatch, String),
    value: Option<&(HeaderMatch, String)>,
) -> bool {
    let mut headers = [httparse::EMPTY_HEADER; crate::http::decode::MAX_HEADERS];
    let mut res = httparse::Response::new(&mut headers);
    if !matches!(res.parse(head), Ok(httparse::Status::Complete(_))) {
        return false;
    }
    let is = |how: &(HeaderMatch, String), text: &[u8], nocase: bool| -> bool {
        let (m, p) = how;
        let (text, p) = if nocase {
            (text.to_ascii_lowercase(), p.to_ascii_lowercase())
        } else {
            (text.to_vec(), p.clone())
        };
        match m {
            HeaderMatch::Str => text == p.as_bytes(),
            HeaderMatch::Beg => text.starts_with(p.as_bytes()),
            HeaderMatch::End => text.ends_with(p.as_bytes()),
            HeaderMatch::Sub => super::contains(&text, p.as_bytes()),
            HeaderMatch::Reg if nocase => regexes.is_match(&super::spec::nocase(&how.1), &text),
            HeaderMatch::Reg => regexes.is_match(&how.1, &text),
        }
    };
    res.headers.iter().any(|h| {
        if !is(name, h.name.as_bytes(), true) {
            return false;
        }
        let Some(v) = value else { return true };
        if full {
            is(v, h.value.trim_ascii(), false)
        } else {
            h.value
                .split(|&b| b == b',')
                .any(|part| is(v, part.trim_ascii(), false))
        }
    })
}
