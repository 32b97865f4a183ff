//! Writing a response head to an HTTP/1 client: the status line, the server's kept lines
//! and the map's fields, and the framing this client gets (a length, chunked, or until the
//! close) with the Connection field that goes with it. Must not read or write sockets.

use bytes::{BufMut, BytesMut};
use http::header::HeaderMap;
use http::{StatusCode, Version};

/// A chunk's size line.
pub(super) fn put_chunk_size(w: &mut BytesMut, n: usize) {
    let digits = (usize::BITS - n.leading_zeros()).div_ceil(4).max(1);
    for i in (0..digits).rev() {
        w.put_u8(b"0123456789abcdef"[(n >> (i * 4)) & 0xf]);
    }
    w.put_slice(b"\r\n");
}

/// How a response body goes to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Out {
    /// No body (HEAD, 1xx, 204, 304).
    None,
    /// As its Content-Length header says.
    Length,
    /// Its length is known: a Content-Length header is added.
    AddLength(u64),
    Chunked,
    /// Until the connection closes (an HTTP/1.0 client and no length).
    Close,
}

#[allow(
    clippy::too_many_arguments,
    reason = "one response head: its parts and how its framing goes out"
)]
pub(crate) fn encode_head(
    w: &mut BytesMut,
    (status, reason): (StatusCode, Option<&str>),
    raw: &[u8],
    headers: &HeaderMap,
    out: Out,
    version: Version,
    keep: bool,
    says_close: bool,
) {
    w.reserve(64 + raw.len() + headers.len() * 48);
    w.put_slice(b"HTTP/1.1 ");
    w.put_slice(status.as_str().as_bytes());
    w.put_u8(b' ');
    w.put_slice(reason.or(status.canonical_reason()).unwrap_or("Unknown").as_bytes());
    w.put_slice(b"\r\n");
    w.put_slice(raw);
    for (k, v) in headers {
        w.put_slice(k.as_str().as_bytes());
        w.put_slice(b": ");
        w.put_slice(v.as_bytes());
        w.put_slice(b"\r\n");
    }
    match out {
        Out::AddLength(n) => {
            w.put_slice(b"content-length: ");
            w.put_slice(itoa::Buffer::new().format(n).as_bytes());
            w.put_slice(b"\r\n");
        }
        Out::Chunked => w.put_slice(b"transfer-encoding: chunked\r\n"),
        _ => {}
    }
    if status != StatusCode::SWITCHING_PROTOCOLS {
        if !keep && !says_close && version == Version::HTTP_11 {
            w.put_slice(b"connection: close\r\n");
        } else if keep && version == Version::HTTP_10 {
            w.put_slice(b"connection: keep-alive\r\n");
        }
    }
    w.put_slice(b"\r\n");
}
