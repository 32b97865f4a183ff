//! Reading the first bytes of a TCP session without terminating anything: whether they are a
//! TLS ClientHello and which SNI it asks for (`req.ssl_hello_type`, `req.ssl_sni`), and the
//! `tcp-request content` rules that wait for them. Owns the parsing of untrusted bytes: it
//! must never panic or read out of bounds, whatever arrives.

use crate::acl::{Cond, ConnSamples, Samples, Value};
use clearway_config::model::Span;
use clearway_config::rules::{Fetch, TcpAction};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt};

/// What the buffered bytes are, so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hello {
    /// Not enough bytes to tell.
    Incomplete,
    /// Not a TLS handshake record.
    NotTls,
    /// A TLS handshake of this type (1: ClientHello) with, for a ClientHello, its SNI.
    Handshake { kind: u8, sni: Option<String> },
}

/// A cursor that fails instead of panicking.
struct Cur<'a>(&'a [u8]);

impl<'a> Cur<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u16(&mut self) -> Option<usize> {
        self.take(2).map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
    }
    fn u24(&mut self) -> Option<usize> {
        self.take(3)
            .map(|b| (usize::from(b[0]) << 16) | (usize::from(b[1]) << 8) | usize::from(b[2]))
    }
    /// A length-prefixed block: `n` bytes of length, then that many bytes.
    fn block(&mut self, n: usize) -> Option<Cur<'a>> {
        let len = match n {
            1 => usize::from(self.u8()?),
            2 => self.u16()?,
            _ => self.u24()?,
        };
        self.take(len).map(Cur)
    }
}

/// Parses the first TLS record in `buf`.
pub fn parse(buf: &[u8]) -> Hello {
    let mut c = Cur(buf);
    let (Some(kind), Some(major)) = (c.u8(), c.u8()) else {
        return if buf.first().is_some_and(|&b| b != 22) {
            Hello::NotTls
        } else {
            Hello::Incomplete
        };
    };
    if kind != 22 || major != 3 {
        return Hello::NotTls;
    }
    let Some(_minor) = c.u8() else {
        return Hello::Incomplete;
    };
    let Some(len) = c.u16() else { return Hello::Incomplete };
    let Some(record) = c.take(len) else {
        return Hello::Incomplete;
    };
    let mut r = Cur(record);
    let Some(hs_type) = r.u8() else { return Hello::NotTls };
    if hs_type != 1 {
        return Hello::Handshake {
            kind: hs_type,
            sni: None,
        };
    }
    Hello::Handshake {
        kind: 1,
        sni: client_hello_sni(&mut r),
    }
}

fn client_hello_sni(r: &mut Cur<'_>) -> Option<String> {
    let mut body = r.block(3)?;
    body.take(2 + 32)?; // version, random
    body.block(1)?; // session id
    body.block(2)?; // cipher suites
    body.block(1)?; // compression methods
    let mut exts = body.block(2)?;
    while let Some(ty) = exts.u16() {
        let mut data = exts.block(2)?;
        if ty != 0 {
            continue;
        }
        let mut list = data.block(2)?;
        while let Some(name_type) = list.u8() {
            let name = list.block(2)?;
            // An empty name is no name (RFC 6066, 3: a HostName has at least one byte).
            if name_type == 0 && !name.0.is_empty() {
                let s = std::str::from_utf8(name.0).ok()?;
                return Some(s.to_ascii_lowercase());
            }
        }
    }
    None
}

/// The samples of a TCP connection and the data read so far.
pub struct PayloadSamples<'a> {
    pub conn: &'a ConnSamples,
    pub hello: &'a Hello,
}

impl Samples for PayloadSamples<'_> {
    fn each(&self, fetch: &Fetch, sink: &mut dyn FnMut(Value<'_>) -> bool) -> bool {
        match (fetch, self.hello) {
            (Fetch::ReqSslHelloType, Hello::Handshake { kind, .. }) => sink(Value::Int(i64::from(*kind))),
            (Fetch::ReqSslHelloType, _) => sink(Value::Int(0)),
            (Fetch::ReqSslSni, Hello::Handshake { sni: Some(s), .. }) => sink(Value::Str(s)),
            (Fetch::ReqSslSni, _) => false,
            _ => self.conn.each(fetch, sink),
        }
    }
}

#[derive(Debug)]
struct Rule {
    action: TcpAction,
    cond: Option<Cond>,
    span: Span,
}

/// A frontend's `tcp-request` rules, compiled.
#[derive(Debug, Default)]
pub struct TcpRules {
    pub inspect_delay: Option<Duration>,
    connection: Vec<Rule>,
    session: Vec<Rule>,
    content: Vec<Rule>,
    /// Some content rule looks at the client's data (`req.ssl_sni`...): it is read first,
    /// within the inspect delay. Rules on addresses alone decide at once, as HAProxy's.
    reads_payload: bool,
}

/// What the rules decided for a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict<'a> {
    Accept,
    /// Rejected by the rule written there.
    Reject(&'a Span),
}

impl TcpRules {
    pub fn new(r: &clearway_config::rules::TcpRules) -> TcpRules {
        let compile = |rules: &[clearway_config::rules::TcpRule]| {
            rules
                .iter()
                .map(|r| Rule {
                    action: r.action,
                    cond: r.condition.as_ref().map(Cond::new),
                    span: r.span.clone(),
                })
                .collect()
        };
        let content: Vec<Rule> = compile(&r.content);
        TcpRules {
            inspect_delay: r.inspect_delay,
            connection: compile(&r.connection),
            session: compile(&r.session),
            reads_payload: content.iter().any(|r| r.cond.as_ref().is_some_and(Cond::reads_payload)),
            content,
        }
    }

    /// Whether there are content rules to evaluate.
    pub fn has_content(&self) -> bool {
        !self.content.is_empty()
    }

    /// Rules in order until one accepts or rejects; none: accept. `expect-proxy` rules whose
    /// condition holds set `*proxy` and the rules go on.
    fn first<'a>(rules: &'a [Rule], s: &dyn Samples, proxy: &mut bool) -> Verdict<'a> {
        for r in rules {
            if !Cond::holds(&r.cond, s) {
                continue;
            }
            match r.action {
                TcpAction::Accept => return Verdict::Accept,
                TcpAction::Reject => return Verdict::Reject(&r.span),
                TcpAction::ExpectProxy => *proxy = true,
            }
        }
        Verdict::Accept
    }

    /// `tcp-request connection` rules, on the connection's own addresses; sets `*proxy` when
    /// one says `expect-proxy layer4`.
    pub fn on_connection(&self, s: &ConnSamples, proxy: &mut bool) -> Verdict<'_> {
        Self::first(&self.connection, s, proxy)
    }

    /// `tcp-request session` rules, once a PROXY protocol header set the addresses.
    pub fn on_session(&self, s: &ConnSamples) -> Verdict<'_> {
        Self::first(&self.session, s, &mut false)
    }

    /// Whether the client's data must be read before choosing: a content rule or a backend
    /// switching rule looks at it.
    pub fn wants_payload(&self, switching_reads: bool) -> bool {
        self.reads_payload || switching_reads
    }

    /// Reads the client's first bytes into `buf` within these rules' inspect delay (see
    /// `read_hello`).
    pub async fn read<R: AsyncRead + Unpin + ?Sized>(&self, client: &mut R, buf: &mut Vec<u8>) -> Hello {
        read_hello(client, buf, self.inspect_delay.unwrap_or(Duration::ZERO)).await
    }

    /// `tcp-request content` rules, on the addresses and the data read so far.
    pub fn on_content(&self, s: &dyn Samples) -> Verdict<'_> {
        Self::first(&self.content, s, &mut false)
    }
}

/// Reads the client's first bytes into `buf` until they can be judged (a complete TLS
/// record, or data that is not TLS), the client stops sending, or `delay` runs out.
pub async fn read_hello<R: AsyncRead + Unpin + ?Sized>(client: &mut R, buf: &mut Vec<u8>, delay: Duration) -> Hello {
    let until = tokio::time::Instant::now() + delay;
    let mut chunk = [0u8; 4096];
    loop {
        let hello = parse(buf);
        if hello != Hello::Incomplete || buf.len() >= MAX_INSPECT {
            return hello;
        }
        tokio::select! {
            r = client.read(&mut chunk) => match r {
                Ok(0) | Err(_) => return parse(buf),
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            },
            _ = tokio::time::sleep_until(until) => return parse(buf),
        }
    }
}

/// The most read while inspecting: a ClientHello fits in one 16 kB record.
const MAX_INSPECT: usize = 16 * 1024 + 5;

/// A minimal ClientHello record for `sni` (for tests and the fuzz targets).
#[doc(hidden)]
pub fn client_hello_for(sni: &str) -> Vec<u8> {
    let name = sni.as_bytes();
    let mut sni_ext = Vec::new();
    sni_ext.extend_from_slice(&((name.len() + 3) as u16).to_be_bytes());
    sni_ext.push(0);
    sni_ext.extend_from_slice(&(name.len() as u16).to_be_bytes());
    sni_ext.extend_from_slice(name);
    let mut exts = vec![0, 0];
    exts.extend_from_slice(&(sni_ext.len() as u16).to_be_bytes());
    exts.extend_from_slice(&sni_ext);
    let mut body = vec![3, 3];
    body.extend_from_slice(&[7; 32]);
    body.push(0); // session id
    body.extend_from_slice(&[0, 2, 0x13, 0x01]); // one cipher suite
    body.extend_from_slice(&[1, 0]); // null compression
    body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    body.extend_from_slice(&exts);
    let mut hs = vec![1];
    hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend_from_slice(&body);
    let mut rec = vec![22, 3, 1];
    rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    rec.extend_from_slice(&hs);
    rec
}

#[cfg(test)]
mod tests {
    use super::client_hello_for as client_hello;
    use super::*;

    #[test]
    fn finds_the_sni() {
        let h = client_hello("Www.Example.com");
        assert_eq!(
            parse(&h),
            Hello::Handshake {
                kind: 1,
                sni: Some("www.example.com".into())
            }
        );
        // Every prefix is incomplete, never a panic or a wrong answer.
        for n in 0..h.len() {
            assert_eq!(parse(&h[..n]), Hello::Incomplete, "prefix of {n} bytes");
        }
    }

    #[test]
    fn other_data_is_not_tls() {
        assert_eq!(parse(b"GET / HTTP/1.1\r\n"), Hello::NotTls);
        assert_eq!(parse(b"\x16\x02"), Hello::NotTls);
    }

    #[test]
    fn garbage_never_panics() {
        // A cheap deterministic fuzz: corrupt every byte of a valid hello in turn.
        let h = client_hello("a.example");
        for i in 0..h.len() {
            for v in [0u8, 1, 0x7f, 0xff] {
                let mut g = h.clone();
                g[i] = v;
                let _ = parse(&g);
            }
        }
        let mut state = 0x2545_f491_u32;
        for _ in 0..2000 {
            let len = (state % 300) as usize;
            let mut g = vec![22u8, 3, 1];
            for _ in 0..len {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                g.push(state as u8);
            }
            let _ = parse(&g);
        }
    }
}
