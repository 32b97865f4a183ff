//! Reading HTTP/1 messages out of a read buffer, for both sides (requests from clients,
//! responses from servers): what the framing and connection fields say, which fields are
//! hop-by-hop, and a body by its framing (RFC 9112, 6: a length, chunked, or until the peer
//! closes). Where the fields lie and how many there may be: `fields`. Must not read sockets.

use bytes::{Buf, Bytes, BytesMut};

/// A chunk-size line or a trailer line longer than this is refused.
mod fields;
pub use fields::*;

const MAX_LINE: usize = 4096;

/// How a body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    Empty,
    Length(u64),
    Chunked,
    /// Until the peer closes.
    Close,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Length(u64),
    Close,
    ChunkSize,
    ChunkData(u64),
    ChunkEnd,
    Trailers,
    Done,
}

/// What the buffer gave.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    Data(Bytes),
    /// More bytes are needed (the body is not over).
    More,
    Done,
}

#[derive(Debug)]
pub struct Decoder {
    state: State,
}

impl Decoder {
    pub fn new(framing: Framing) -> Decoder {
        let state = match framing {
            Framing::Empty | Framing::Length(0) => State::Done,
            Framing::Length(n) => State::Length(n),
            Framing::Chunked => State::ChunkSize,
            Framing::Close => State::Close,
        };
        Decoder { state }
    }

    /// The body runs until the peer closes (no length, not chunked).
    pub fn until_close(&self) -> bool {
        matches!(self.state, State::Close)
    }

    pub fn is_end(&self) -> bool {
        self.state == State::Done
    }

    /// The exact length still to come, when the framing says it.
    pub fn exact_len(&self) -> Option<u64> {
        match self.state {
            State::Done => Some(0),
            State::Length(n) => Some(n),
            _ => None,
        }
    }

    /// How much of the body may be spliced from here (its bytes moved without being looked
    /// at): the length still to come when it is at least `min`, or all of a body that runs
    /// until the peer closes; None for a chunked body (or a shorter one).
    pub fn splice_room(&self, min: u64) -> Option<u64> {
        match self.state {
            State::Length(n) if n >= min => Some(n),
            State::Close => Some(u64::MAX),
            _ => None,
        }
    }

    /// `n` bytes of the body went by without being decoded here (spliced; at most what
    /// `splice_room` allowed).
    pub fn took(&mut self, n: u64) {
        if let State::Length(m) = self.state {
            self.state = if n >= m { State::Done } else { State::Length(m - n) };
        }
    }

    /// The next piece of the body at the start of `buf`, taken out of it (the body's bytes
    /// are slices of the buffer, not copies). Trailer fields are passed over: no rule reads
    /// them and neither side forwards them.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Step, &'static str> {
        loop {
            if self.state == State::Done {
                return Ok(Step::Done);
            }
            let Some(a) = advance(self.state, buf)? else {
                return Ok(Step::More);
            };
            self.state = a.state;
            if a.data {
                return Ok(Step::Data(buf.split_to(a.used).freeze()));
            }
            buf.advance(a.used);
        }
    }

    /// `first` (a piece `decode` gave) and the body pieces right behind it in `buf`, as one
    /// piece of up to about `up_to` bytes: a chunked body goes on as fewer, larger chunks, so
    /// what it costs is bound by its bytes, not by how many chunks the sender cut it into. (A
    /// piece that is alone, the usual case, is not copied.) A framing error behind `first` is
    /// left for the next `decode` to report.
    pub fn gather(&mut self, buf: &mut BytesMut, first: Bytes, up_to: usize) -> Bytes {
        if buf.is_empty() || first.len() >= up_to {
            return first;
        }
        let mut all: Option<BytesMut> = None;
        while !buf.is_empty() {
            let Ok(Step::Data(d)) = self.decode(buf) else { break };
            let a = all.get_or_insert_with(|| {
                let mut a = BytesMut::with_capacity(up_to);
                a.extend_from_slice(&first);
                a
            });
            a.extend_from_slice(&d);
            if a.len() >= up_to {
                break;
            }
        }
        all.map_or(first, BytesMut::freeze)
    }

    /// Whether `buf` holds all the rest of the body, to its end (a body read until the peer
    /// closes never does). Looks without taking anything.
    pub fn ends_within(&self, buf: &[u8]) -> bool {
        let (mut state, mut at) = (self.state, 0);
        while state != State::Done {
            match advance(state, &buf[at..]) {
                Ok(Some(a)) => {
                    state = a.state;
                    at += a.used;
                }
                _ => return false,
            }
        }
        true
    }

    /// The peer closed its side: whether that ends the body (it does for `Framing::Close`,
    /// and then the body is over), rather than cutting it short.
    pub fn at_eof(&mut self) -> bool {
        match self.state {
            State::Close | State::Done => {
                self.state = State::Done;
                true
            }
            _ => false,
        }
    }
}

/// The hop-by-hop headers (RFC 9110, 7.6.1): they describe one connection, so a proxy
/// drops them rather than forward them. Lower case, as a header map holds names.
pub const HOP_BY_HOP: [&str; 7] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
    "transfer-encoding",
];

/// Whether a response has no body whatever its fields say (RFC 9112, 6.3): the answer to a
/// HEAD, a 204 or a 304. Its Content-Length, if any, tells the size of another answer.
pub fn bodyless(head_req: bool, status: http::StatusCode) -> bool {
    head_req || status == http::StatusCode::NO_CONTENT || status == http::StatusCode::NOT_MODIFIED
}

/// Whether a Connection token names a header of its own, which is then hop-by-hop too
/// (`Connection: X-Private`). `close` and the hop-by-hop names themselves name nothing more.
pub fn names_a_header(token: &[u8]) -> bool {
    !token.eq_ignore_ascii_case(b"close") && !is_hop_by_hop(token)
}

/// Whether a header name, in any case, is one of `HOP_BY_HOP`.
pub fn is_hop_by_hop(name: &[u8]) -> bool {
    HOP_BY_HOP.iter().any(|h| name.eq_ignore_ascii_case(h.as_bytes()))
}

/// What a message's `Connection` fields list (in any of their comma-separated values,
/// whatever the case).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionTokens {
    pub close: bool,
    pub keep_alive: bool,
    pub upgrade: bool,
    /// A token that names a header of its own (`Connection: X-Private`), which is then
    /// hop-by-hop too.
    pub other: bool,
}

impl ConnectionTokens {
    /// Adds what one Connection field's value lists; true when it lists nothing but
    /// `close` and `keep-alive`.
    fn add(&mut self, value: &[u8]) -> bool {
        let mut only_persistence = true;
        for t in tokens(value) {
            let close = t.eq_ignore_ascii_case(b"close");
            let keep_alive = !close && t.eq_ignore_ascii_case(b"keep-alive");
            self.close |= close;
            self.keep_alive |= keep_alive;
            only_persistence &= close | keep_alive;
            if !(close | keep_alive) {
                self.upgrade |= t.eq_ignore_ascii_case(b"upgrade");
                self.other |= names_a_header(t);
            }
        }
        only_persistence
    }

    /// The Connection fields of a message already in a header map, with one lookup.
    pub fn of(h: &http::HeaderMap) -> ConnectionTokens {
        let mut t = ConnectionTokens::default();
        for v in h.get_all(http::header::CONNECTION) {
            let _ = t.add(v.as_bytes());
        }
        t
    }
}

/// What a head's header fields say of its framing and its connection, read once from the
/// fields as parsed: no lookups in the header map afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Semantics {
    /// What `Connection` lists.
    pub connection: ConnectionTokens,
    /// The length the Content-Length fields give (equal repeated values are one), or why
    /// they give none that can be trusted (which only matters without Transfer-Encoding).
    pub length: Result<Option<u64>, &'static str>,
    /// The Content-Length fields are not one plain number (`3, 3`, or the field twice): the
    /// message must carry the length in one field before it goes on.
    pub length_repeated: bool,
    /// There is a Transfer-Encoding field, and whether its last coding is `chunked` (only
    /// then is the body chunked, RFC 9112, 6.3).
    pub transfer_encoding: bool,
    pub chunked: bool,
    /// `chunked` is listed more than once (RFC 9112, 7: a sender must not apply it twice).
    pub chunked_twice: bool,
    /// A coding other than `chunked` is listed (gzip, deflate, ...).
    pub other_coding: bool,
    /// `Expect: 100-continue`.
    pub expect_continue: bool,
    /// How many Host fields there are (at most 2 is counted), and whether two differ.
    pub hosts: u8,
    pub hosts_differ: bool,
    /// `Upgrade` names `websocket`, and a `Sec-WebSocket-Key` field is there.
    pub websocket: bool,
    pub websocket_key: bool,
    /// Fields HAProxy's parser drops before it counts them against `tune.http.maxhdr`: a
    /// `Connection` field of only `close`/`keep-alive`, a repeated `Host` or
    /// `Content-Length` with the same value.
    pub uncounted: usize,
}

impl Semantics {
    pub fn scan(headers: &[httparse::Header<'_>]) -> Semantics {
        let mut s = Semantics {
            connection: ConnectionTokens::default(),
            length: Ok(None),
            length_repeated: false,
            transfer_encoding: false,
            chunked: false,
            chunked_twice: false,
            other_coding: false,
            expect_continue: false,
            hosts: 0,
            hosts_differ: false,
            websocket: false,
            websocket_key: false,
            uncounted: 0,
        };
        let mut host: &[u8] = &[];
        let mut seen_chunked = false;
        for h in headers {
            // The length tells most fields apart before any comparison.
            let name = h.name.as_bytes();
            match name.len() {
                4 if name.eq_ignore_ascii_case(b"host") => {
                    let v = h.value.trim_ascii();
                    if s.hosts == 0 {
                        host = v;
                    } else if !v.eq_ignore_ascii_case(host) {
                        s.hosts_differ = true;
                    } else {
                        s.uncounted += 1;
                    }
                    s.hosts = (s.hosts + 1).min(2);
                }
                10 if name.eq_ignore_ascii_case(b"connection") => {
                    s.uncounted += usize::from(s.connection.add(h.value));
                }
                14 if name.eq_ignore_ascii_case(b"content-length") => {
                    let again = matches!(s.length, Ok(Some(n)) if lengths(h.value, None) == Ok(Some(n)));
                    s.uncounted += usize::from(again);
                    s.length_repeated |= s.length != Ok(None) || h.value.contains(&b',');
                    if let Ok(sofar) = s.length {
                        s.length = lengths(h.value, sofar);
                    }
                }
                17 if name.eq_ignore_ascii_case(b"transfer-encoding") => {
                    s.transfer_encoding = true;
                    // A later field's codings come after an earlier one's.
                    for t in tokens(h.value) {
                        let chunked = t.eq_ignore_ascii_case(b"chunked");
                        s.chunked_twice |= chunked && seen_chunked;
                        seen_chunked |= chunked;
                        s.other_coding |= !chunked;
                        s.chunked = chunked;
                    }
                }
                17 if name.eq_ignore_ascii_case(b"sec-websocket-key") => s.websocket_key = true,
                7 if name.eq_ignore_ascii_case(b"upgrade") => {
                    s.websocket |= tokens(h.value).any(|t| t.eq_ignore_ascii_case(b"websocket"));
                }
                6 if name.eq_ignore_ascii_case(b"expect") => {
                    s.expect_continue = h.value.trim_ascii().eq_ignore_ascii_case(b"100-continue");
                }
                _ => {}
            }
        }
        s
    }
}

/// The length one Content-Length field gives, beside `sofar` from earlier ones.
fn lengths(v: &[u8], mut sofar: Option<u64>) -> Result<Option<u64>, &'static str> {
    for t in v.split(|&b| b == b',') {
        let t = t.trim_ascii();
        // 19 digits always fit in a u64.
        if t.is_empty() || t.len() > 19 || !t.iter().all(u8::is_ascii_digit) {
            return Err("invalid Content-Length");
        }
        let n = t.iter().fold(0u64, |n, &d| n * 10 + u64::from(d - b'0'));
        if sofar.is_some_and(|l| l != n) {
            return Err("conflicting Content-Length values");
        }
        sofar = Some(n);
    }
    Ok(sofar)
}

/// The non-empty comma-separated items of a field value, trimmed.
pub(crate) fn tokens(v: &[u8]) -> impl Iterator<Item = &[u8]> {
    v.split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .filter(|t| !t.is_empty())
}

/// One move of the body's state machine over the start of `buf`.
struct Advance {
    state: State,
    /// Bytes of `buf` it covers.
    used: usize,
    /// Those bytes are body data (else framing, passed over).
    data: bool,
}

/// The move `state` makes over the start of `buf`; None when `buf` holds too little to make
/// one (or the body is over).
fn advance(state: State, buf: &[u8]) -> Result<Option<Advance>, &'static str> {
    let framing = |state, used| {
        Ok(Some(Advance {
            state,
            used,
            data: false,
        }))
    };
    match state {
        State::Length(left) | State::ChunkData(left) if !buf.is_empty() => {
            let n = (buf.len() as u64).min(left) as usize;
            let rest = left - n as u64;
            let state = match (state, rest) {
                (State::Length(_), 0) => State::Done,
                (State::Length(_), _) => State::Length(rest),
                (_, 0) => State::ChunkEnd,
                _ => State::ChunkData(rest),
            };
            Ok(Some(Advance {
                state,
                used: n,
                data: true,
            }))
        }
        State::Close if !buf.is_empty() => Ok(Some(Advance {
            state,
            used: buf.len(),
            data: true,
        })),
        // A line longer than `MAX_LINE` is refused however it arrives: whole in one read or
        // cut across several, where the refusal comes before its end is seen.
        State::ChunkSize if !buf.is_empty() => match chunk_size(buf)? {
            Some((used, _)) if used > MAX_LINE => Err("invalid chunk size"),
            Some((used, 0)) => framing(State::Trailers, used),
            Some((used, size)) => framing(State::ChunkData(size), used),
            None if buf.len() < MAX_LINE => Ok(None),
            None => Err("invalid chunk size"),
        },
        State::ChunkEnd if buf.len() >= 2 => {
            if &buf[..2] != b"\r\n" {
                return Err("chunk not ended by CRLF");
            }
            framing(State::ChunkSize, 2)
        }
        State::Trailers if !buf.is_empty() => match buf.iter().position(|&b| b == b'\n') {
            Some(0) => framing(State::Done, 1),
            Some(1) if buf[0] == b'\r' => framing(State::Done, 2),
            Some(i) if i >= MAX_LINE => Err("trailer line too long"),
            Some(i) => framing(State::Trailers, i + 1),
            None if buf.len() < MAX_LINE => Ok(None),
            None => Err("trailer line too long"),
        },
        _ => Ok(None),
    }
}

/// A chunk-size line at the start of `buf` (RFC 9112, 7.1): hex digits, optional blanks,
/// optional extensions, CRLF. Its length and the size; None while it is not all there.
/// Stricter than the grammar's tolerance, as the bytes after it are someone else's request
/// when two parsers disagree: the line must end in CRLF, and an extension may hold no CR,
/// LF or NUL (an LF inside one would end the line for some parsers and not for others).
pub(crate) fn chunk_size(buf: &[u8]) -> Result<Option<(usize, u64)>, &'static str> {
    const BAD: &str = "invalid chunk size";
    let mut size: u64 = 0;
    let mut i = 0;
    while let Some(d) = buf.get(i).and_then(|&b| (b as char).to_digit(16)) {
        if size > u64::MAX >> 4 {
            return Err(BAD);
        }
        size = size << 4 | u64::from(d);
        i += 1;
    }
    if i == 0 && !buf.is_empty() {
        return Err(BAD);
    }
    while matches!(buf.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    if buf.get(i) == Some(&b';') {
        while let Some(&b) = buf.get(i) {
            match b {
                b'\r' => break,
                b'\n' | 0 => return Err("invalid chunk extension"),
                _ => i += 1,
            }
        }
    }
    match (buf.get(i), buf.get(i + 1)) {
        (None, _) | (Some(b'\r'), None) => Ok(None),
        (Some(b'\r'), Some(b'\n')) => Ok(Some((i + 2, size))),
        _ => Err(BAD),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(f: Framing, input: &[u8]) -> (Result<Vec<u8>, &'static str>, BytesMut, bool) {
        let mut d = Decoder::new(f);
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        loop {
            match d.decode(&mut buf) {
                Ok(Step::Data(b)) => out.extend_from_slice(&b),
                Ok(Step::More) | Ok(Step::Done) => return (Ok(out), buf, d.is_end()),
                Err(e) => return (Err(e), buf, d.is_end()),
            }
        }
    }

    #[test]
    fn only_bodies_by_length_or_to_the_close_are_spliced_and_a_splice_counts_against_the_length() {
        let mut d = Decoder::new(Framing::Length(100));
        assert_eq!(d.splice_room(101), None, "too short");
        assert_eq!(d.splice_room(100), Some(100));
        d.took(60);
        assert_eq!(d.exact_len(), Some(40));
        let mut buf = BytesMut::from(&b"0123456789abcdefghijklmnopqrstuvwxyzABCDGET /"[..]);
        assert!(matches!(d.decode(&mut buf), Ok(Step::Data(b)) if b.len() == 40));
        assert!(d.is_end(), "the rest of the length came through the buffer");
        assert_eq!(&buf[..], b"GET /");
        let mut d = Decoder::new(Framing::Length(10));
        d.took(10);
        assert!(d.is_end());
        assert_eq!(d.splice_room(0), None, "nothing left");
        let mut d = Decoder::new(Framing::Close);
        assert_eq!(d.splice_room(1 << 20), Some(u64::MAX));
        d.took(5000);
        assert!(d.until_close() && d.at_eof() && d.is_end());
        assert_eq!(Decoder::new(Framing::Chunked).splice_room(0), None);
    }

    #[test]
    fn a_body_ends_within_a_buffer_only_when_all_of_it_is_there() {
        let ends = |f: Framing, buf: &[u8]| Decoder::new(f).ends_within(buf);
        assert!(ends(Framing::Empty, b""));
        assert!(ends(Framing::Length(3), b"abcGET /"));
        assert!(!ends(Framing::Length(3), b"ab"));
        assert!(ends(Framing::Chunked, b"2\r\nok\r\n0\r\n\r\n"));
        assert!(ends(Framing::Chunked, b"2;x=y\r\nok\r\n0\r\nT: v\r\n\r\nGET /"));
        assert!(!ends(Framing::Chunked, b"2\r\nok\r\n0\r\n"), "trailers not ended");
        assert!(!ends(Framing::Chunked, b"2\r\nok\r\n"));
        assert!(
            !ends(Framing::Chunked, b"zz\r\n"),
            "bad framing is for decode to report"
        );
        assert!(!ends(Framing::Close, b"anything"));
        // Partway through: what is left from where the decoder stands.
        let mut d = Decoder::new(Framing::Chunked);
        let mut buf = BytesMut::from(&b"2\r\nok"[..]);
        assert_eq!(d.decode(&mut buf), Ok(Step::Data(Bytes::from_static(b"ok"))));
        assert!(d.ends_within(b"\r\n0\r\n\r\n"));
        assert!(!d.ends_within(b"\r\n"));
    }

    #[test]
    fn a_length_takes_its_bytes_and_leaves_the_next_message() {
        let (out, rest, end) = all(Framing::Length(5), b"helloGET /");
        assert_eq!(out.unwrap(), b"hello");
        assert_eq!(&rest[..], b"GET /");
        assert!(end);
        let (out, _, end) = all(Framing::Length(10), b"hel");
        assert_eq!(out.unwrap(), b"hel");
        assert!(!end);
    }

    #[test]
    fn chunked_with_extensions_and_trailers_and_split_anywhere() {
        let msg = b"4;ext=1\r\nWiki\r\n5\r\npedia\r\n0\r\nX-T: 1\r\n\r\nNEXT";
        let (out, rest, end) = all(Framing::Chunked, msg);
        assert_eq!(out.unwrap(), b"Wikipedia");
        assert_eq!(&rest[..], b"NEXT");
        assert!(end);
        // Fed one byte at a time, the same body comes out.
        let mut d = Decoder::new(Framing::Chunked);
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for &b in &msg[..msg.len() - 4] {
            buf.extend_from_slice(&[b]);
            while let Ok(Step::Data(x)) = d.decode(&mut buf) {
                out.extend_from_slice(&x);
            }
        }
        assert_eq!(out, b"Wikipedia");
        assert!(d.is_end());
    }

    #[test]
    fn bad_chunks_are_refused() {
        assert_eq!(all(Framing::Chunked, b"zz\r\n").0, Err("invalid chunk size"));
        assert_eq!(all(Framing::Chunked, b"2\r\nabXY").0, Err("chunk not ended by CRLF"));
        let long = [b'1'; MAX_LINE + 1];
        assert_eq!(all(Framing::Chunked, &long).0, Err("invalid chunk size"));
    }

    #[test]
    fn a_chunk_size_line_ends_in_crlf_and_its_extensions_hold_no_lf() {
        assert_eq!(chunk_size(b"3\r\nabc"), Ok(Some((3, 3))));
        assert_eq!(chunk_size(b"1aF \t;a=b;c=\"d\"\r\n"), Ok(Some((17, 0x1af))));
        assert_eq!(chunk_size(b"00000000000000000003\r\n"), Ok(Some((22, 3))));
        assert_eq!(chunk_size(b"3;a=b\nhello\r\n"), Err("invalid chunk extension"));
        assert_eq!(chunk_size(b"3;a\0\r\n"), Err("invalid chunk extension"));
        for bad in [
            &b"3\nabc"[..],
            b"-3\r\n",
            b"0x3\r\n",
            b";\r\n",
            b"3 4\r\n",
            b"3\r\r\n",
            b"10000000000000000\r\n",
        ] {
            assert!(chunk_size(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        for partial in [&b"3"[..], b"3;ext", b"3\r", b"ffff "] {
            assert_eq!(chunk_size(partial), Ok(None));
        }
        // The body an LF inside an extension would hide is refused, not swallowed.
        assert!(all(Framing::Chunked, b"3;a=b\nhello\r\nabc\r\n0\r\n\r\n").0.is_err());
    }

    #[test]
    fn codings_hosts_and_lengths_that_let_requests_be_smuggled_are_seen() {
        let s = scan(&[("Transfer-Encoding", "chunked"), ("Transfer-Encoding", "chunked")]);
        assert!(s.chunked && s.chunked_twice && !s.other_coding);
        let s = scan(&[("Transfer-Encoding", "chunked, chunked")]);
        assert!(s.chunked_twice);
        let s = scan(&[("Transfer-Encoding", "gzip, chunked")]);
        assert!(s.chunked && !s.chunked_twice && s.other_coding);
        let s = scan(&[("Transfer-Encoding", "chunked")]);
        assert!(s.chunked && !s.chunked_twice && !s.other_coding);
        let s = scan(&[("Host", "a"), ("host", " A ")]);
        assert_eq!((s.hosts, s.hosts_differ), (2, false));
        let s = scan(&[("Host", "a"), ("Host", "b"), ("Host", "a")]);
        assert_eq!((s.hosts, s.hosts_differ), (2, true));
        assert_eq!(scan(&[("Host", "a")]).hosts, 1);
        assert!(scan(&[("Content-Length", "3, 3")]).length_repeated);
        assert!(scan(&[("Content-Length", "3"), ("Content-Length", "3")]).length_repeated);
        assert!(!scan(&[("Content-Length", "3")]).length_repeated);
        let s = scan(&[("Upgrade", "WebSocket"), ("Connection", "upgrade")]);
        assert!(s.websocket && !s.websocket_key);
        assert!(scan(&[("Upgrade", "websocket"), ("Sec-WebSocket-Key", "k")]).websocket_key);
    }

    #[test]
    fn only_a_close_delimited_body_ends_at_eof() {
        let mut d = Decoder::new(Framing::Close);
        assert!(d.at_eof() && d.is_end());
        let mut d = Decoder::new(Framing::Length(3));
        assert!(!d.at_eof());
        let mut d = Decoder::new(Framing::Chunked);
        assert!(!d.at_eof());
        assert!(Decoder::new(Framing::Length(0)).is_end());
        assert_eq!(Decoder::new(Framing::Length(7)).exact_len(), Some(7));
    }

    fn scan(fields: &[(&str, &str)]) -> Semantics {
        let h: Vec<httparse::Header<'_>> = fields
            .iter()
            .map(|(n, v)| httparse::Header {
                name: n,
                value: v.as_bytes(),
            })
            .collect();
        Semantics::scan(&h)
    }

    #[test]
    fn the_framing_and_connection_fields_are_read_whatever_their_case() {
        let s = scan(&[
            ("Host", "x"),
            ("CONNECTION", "Keep-Alive, Upgrade"),
            ("content-length", "12, 12"),
            ("Expect", " 100-Continue "),
        ]);
        let c = s.connection;
        assert!(c.keep_alive && c.upgrade && !c.close && s.expect_continue);
        assert_eq!(s.length, Ok(Some(12)));
        assert!(!s.transfer_encoding);
        let s = scan(&[("Transfer-Encoding", "gzip"), ("transfer-encoding", "chunked")]);
        assert!(s.transfer_encoding && s.chunked);
        let s = scan(&[("Transfer-Encoding", "chunked, gzip"), ("Connection", "close")]);
        assert!(s.transfer_encoding && !s.chunked && s.connection.close);
    }

    #[test]
    fn bad_lengths_are_refused() {
        assert_eq!(
            scan(&[("Content-Length", "1, 2")]).length,
            Err("conflicting Content-Length values")
        );
        assert_eq!(scan(&[("Content-Length", "-1")]).length, Err("invalid Content-Length"));
        assert_eq!(scan(&[("Content-Length", "")]).length, Err("invalid Content-Length"));
        assert_eq!(
            scan(&[("Content-Length", "99999999999999999999")]).length,
            Err("invalid Content-Length")
        );
        assert_eq!(
            scan(&[("Content-Length", "1"), ("Content-Length", "2")]).length,
            Err("conflicting Content-Length values")
        );
    }
}
