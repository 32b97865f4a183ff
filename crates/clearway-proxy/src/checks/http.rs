//! `option httpchk` with `http-check expect`: one request, the status line and up to 16 kB of
//! the answer, judged as HAProxy does (2xx/3xx pass when no rule is given).

use super::{os_message, Regexes, Verdict};
use clearway_config::model::{ExpectMatch, HttpCheck, HttpExpect};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

pub async fn check<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    h: &HttpCheck,
    expect: &[HttpExpect],
    regexes: &Regexes,
) -> Verdict {
    let (status, response) = exchange(stream, h).await.map_err(|e| ("Layer7 invalid response", e))?;
    judge(regexes, status, &response, expect)?;
    Ok((
        "Layer7 check passed",
        format!("HTTP status check returned code <{status}>"),
    ))
}

/// Sends the check request; returns the status code and up to 16 kB of the response.
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S, h: &HttpCheck) -> Result<(u16, Vec<u8>), String> {
    let req = format!("{} {} {}\r\nConnection: close\r\n\r\n", h.method, h.uri, h.version);
    stream
        .write_all(req.as_bytes())
        .await
        .map_err(|e| format!("send: {}", os_message(&e)))?;
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    let head_only = h.method.eq_ignore_ascii_case("HEAD");
    while buf.len() < MAX_READ && !complete(&buf, head_only) {
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
    if expect.is_empty() {
        return if (200..400).contains(&status) {
            Ok(())
        } else {
            Err((
                "Layer7 wrong status",
                format!("HTTP status check returned code <{status}>"),
            ))
        };
    }
    let body_at = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(response.len(), |p| p + 4);
    let body = &response[body_at..];
    for e in expect {
        let (hit, reason, info) = match &e.matcher {
            ExpectMatch::Status(ranges) => (
                ranges.iter().any(|&(lo, hi)| (lo..=hi).contains(&status)),
                "Layer7 wrong status",
                format!("HTTP status check returned code <{status}>"),
            ),
            ExpectMatch::RStatus(p) => (
                regexes.is_match(p, status.to_string().as_bytes()),
                "Layer7 wrong status",
                format!("HTTP status check returned code <{status}>"),
            ),
            ExpectMatch::RString(p) => (
                regexes.is_match(p, body),
                "Layer7 invalid response",
                format!("HTTP content check {}matched '{p}'", if e.negate { "" } else { "not " }),
            ),
            ExpectMatch::String(s) => (
                super::contains(body, s.as_bytes()),
                "Layer7 invalid response",
                format!("HTTP content check {}found '{s}'", if e.negate { "" } else { "not " }),
            ),
        };
        if hit == e.negate {
            return Err((reason, info));
        }
    }
    Ok(())
}
