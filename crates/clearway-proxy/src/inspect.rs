//! Reading the first bytes of a TCP session without terminating anything: whether they are a
//! TLS ClientHello, which SNI and ALPN protocols it asks for (`req.ssl_hello_type`,
//! `req.ssl_sni`, `req.ssl_alpn`), an HTTP/1 request head (`method`, `path`, `hdr`... and the
//! `HTTP` ACL in `mode tcp`), the bytes themselves (`req.len`, `req.payload`), and the
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
    /// A TLS handshake of this type (1: ClientHello) with, for a ClientHello, its SNI and
    /// the protocols its ALPN extension offers.
    Handshake {
        kind: u8,
        sni: Option<String>,
        alpn: Vec<String>,
    },
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
            alpn: Vec::new(),
        };
    }
    let (sni, alpn) = client_hello_extensions(&mut r).unwrap_or_default();
    Hello::Handshake { kind: 1, sni, alpn }
}

/// The SNI and the ALPN protocols of a ClientHello (None: its extensions are malformed).
fn client_hello_extensions(r: &mut Cur<'_>) -> Option<(Option<String>, Vec<String>)> {
    let mut body = r.block(3)?;
    body.take(2 + 32)?; // version, random
    body.block(1)?; // session id
    body.block(2)?; // cipher suites
    body.block(1)?; // compression methods
    let mut exts = body.block(2)?;
    let (mut sni, mut alpn) = (None, Vec::new());
    while let Some(ty) = exts.u16() {
        let mut data = exts.block(2)?;
        match ty {
            0 if sni.is_none() => sni = server_name(&mut data),
            16 if alpn.is_empty() => {
                let mut list = data.block(2)?;
                while let Some(name) = list.block(1) {
                    if let Ok(s) = std::str::from_utf8(name.0) {
                        alpn.push(s.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    Some((sni, alpn))
}

fn server_name(data: &mut Cur<'_>) -> Option<String> {
    let mut list = data.block(2)?;
    while let Some(name_type) = list.u8() {
        let name = list.block(2)?;
        // An empty name is no name (RFC 6066, 3: a HostName has at least one byte).
        if name_type == 0 && !name.0.is_empty() {
            let s = std::str::from_utf8(name.0).ok()?;
            return Some(s.to_ascii_lowercase());
        }
    }
    None
}

/// The first bytes of a TCP session read as an HTTP/1 request head, as HAProxy reads them for
/// layer-7 fetches in `mode tcp`.
#[derive(Debug, PartialEq, Eq)]
pub enum Head {
    /// Could still become a request head.
    Partial,
    /// Not an HTTP/1 request.
    NotHttp,
    Complete {
        method: String,
        target: String,
        /// `1.0` or `1.1`.
        version: &'static str,
        /// Lower-case names.
        headers: Vec<(String, Vec<u8>)>,
    },
}

impl Head {
    /// At most as many header fields as `tune.http.maxhdr` allows.
    pub fn parse(data: &[u8]) -> Head {
        let (mut stack, mut heap) = (crate::http::decode::stack_room(), Vec::new());
        let mut req = httparse::Request::new(&mut []);
        match httparse::ParserConfig::default().parse_request_with_uninit_headers(
            &mut req,
            data,
            crate::http::decode::header_room(&mut stack, &mut heap),
        ) {
            Ok(httparse::Status::Partial) => Head::Partial,
            Err(_) => Head::NotHttp,
            Ok(httparse::Status::Complete(_))
                if crate::http::decode::too_many_fields(
                    req.headers.len(),
                    crate::http::decode::Semantics::scan(req.headers).uncounted,
                ) =>
            {
                Head::NotHttp
            }
            Ok(httparse::Status::Complete(_)) => Head::Complete {
                method: req.method.unwrap_or_default().to_string(),
                target: req.path.unwrap_or_default().to_string(),
                version: if req.version == Some(0) { "1.0" } else { "1.1" },
                headers: req
                    .headers
                    .iter()
                    .map(|h| (h.name.to_ascii_lowercase(), h.value.to_vec()))
                    .collect(),
            },
        }
    }

    /// The path of its target (of an absolute one, after the authority).
    fn path_and_query(target: &str) -> &str {
        for scheme in ["http://", "https://"] {
            if target
                .get(..scheme.len())
                .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
            {
                let after = &target[scheme.len()..];
                return after.find('/').map_or("/", |i| &after[i..]);
            }
        }
        target
    }
}

/// The samples of a TCP connection and the data read so far (`data`, which `hello` parses).
/// Until `fin` (the inspect delay is over, the buffer full or the client done sending),
/// fetches of the data may change.
pub struct PayloadSamples<'a> {
    pub conn: &'a ConnSamples,
    pub hello: &'a Hello,
    pub data: &'a [u8],
    pub fin: bool,
    /// `data` as an HTTP request head, parsed when a fetch asks.
    head: std::cell::OnceCell<Head>,
}

impl<'a> PayloadSamples<'a> {
    pub fn new(conn: &'a ConnSamples, hello: &'a Hello, data: &'a [u8], fin: bool) -> PayloadSamples<'a> {
        PayloadSamples {
            conn,
            hello,
            data,
            fin,
            head: std::cell::OnceCell::new(),
        }
    }

    fn head(&self) -> &Head {
        self.head.get_or_init(|| Head::parse(self.data))
    }

    /// An HTTP request fetch on the head, when it is complete.
    fn request(&self, fetch: &Fetch, sink: &mut dyn FnMut(Value<'_>) -> bool) -> bool {
        let Head::Complete {
            method,
            target,
            version,
            headers,
        } = self.head()
        else {
            return false;
        };
        let pq = Head::path_and_query(target);
        match fetch {
            Fetch::Method => sink(Value::Str(method)),
            Fetch::Version => sink(Value::Str(version)),
            Fetch::Url => sink(Value::Str(target)),
            Fetch::Path => sink(Value::Str(pq.split('?').next().unwrap_or(pq))),
            Fetch::Query => pq.split_once('?').is_some_and(|(_, q)| sink(Value::Str(q))),
            // Values split on commas, as `hdr()` reads them in `mode http`.
            Fetch::Hdr(name) => headers
                .iter()
                .filter(|(n, _)| n == name)
                .filter_map(|(_, v)| std::str::from_utf8(v).ok())
                .flat_map(|v| v.split(','))
                .any(|v| sink(Value::Str(v.trim()))),
            _ => false,
        }
    }
}

/// `req.payload(offset,len)` and `res.payload` of `data`: None while those bytes are not all
/// there (`len` 0: all from `offset`).
fn payload(data: &[u8], offset: usize, len: usize) -> Option<&[u8]> {
    let end = if len == 0 { data.len() } else { offset.checked_add(len)? };
    data.get(offset..end)
}

impl Samples for PayloadSamples<'_> {
    fn conn(&self) -> Option<&ConnSamples> {
        Some(self.conn)
    }

    fn each(&self, fetch: &Fetch, sink: &mut dyn FnMut(Value<'_>) -> bool) -> bool {
        match (fetch, self.hello) {
            (Fetch::ReqSslHelloType, Hello::Handshake { kind, .. }) => sink(Value::Int(i64::from(*kind))),
            (Fetch::ReqSslHelloType, _) => sink(Value::Int(0)),
            (Fetch::ReqSslSni, Hello::Handshake { sni: Some(s), .. }) => sink(Value::Str(s)),
            (Fetch::ReqSslSni, _) => false,
            (Fetch::ReqSslAlpn, Hello::Handshake { alpn, .. }) => alpn.iter().any(|a| sink(Value::Str(a))),
            (Fetch::ReqSslAlpn, _) => false,
            (Fetch::ReqLen, _) => sink(Value::Int(self.data.len() as i64)),
            (Fetch::WaitEnd, _) => self.fin && sink(Value::Bool(true)),
            (Fetch::ReqPayload { offset, len }, _) => {
                payload(self.data, *offset, *len).is_some_and(|b| sink(Value::Bin(b)))
            }
            (f, _) if f.reads_request() => self.request(f, sink),
            _ => self.conn.each(fetch, sink),
        }
    }

    fn may_change(&self, fetch: &Fetch) -> bool {
        if self.fin {
            return false;
        }
        match fetch {
            Fetch::ReqLen | Fetch::WaitEnd => true,
            Fetch::ReqPayload { offset, len } => payload(self.data, *offset, *len).is_none(),
            Fetch::ReqSslHelloType | Fetch::ReqSslSni | Fetch::ReqSslAlpn => *self.hello == Hello::Incomplete,
            f if f.reads_request() => *self.head() == Head::Partial,
            _ => false,
        }
    }
}

#[derive(Debug)]
struct Rule {
    action: TcpAction,
    cond: Option<Cond>,
    span: Span,
}

/// A `set-var`/`unset-var` rule.
fn variable(a: &TcpAction, s: &dyn Samples) {
    match a {
        TcpAction::SetVar { name, conds, value } => crate::acl::set_var(name, *conds, value, s),
        TcpAction::UnsetVar(name) => crate::acl::unset_var(name, s),
        _ => {}
    }
}

/// A frontend's `tcp-request` rules, compiled.
#[derive(Debug, Default)]
pub struct TcpRules {
    pub inspect_delay: Option<Duration>,
    connection: Vec<Rule>,
    session: Vec<Rule>,
    content: Vec<Rule>,
    /// `tcp-response inspect-delay` and `tcp-response content` rules (see `response`).
    response_delay: Option<Duration>,
    response: Vec<Rule>,
    /// A content rule stores a variable: in `mode http`, each request needs its stores.
    pub content_writes_vars: bool,
}

/// What the rules decided for a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict<'a> {
    Accept,
    /// Rejected by the rule written there.
    Reject(&'a Span),
    /// `tcp-response content close`: what came goes on, then the session ends.
    Close,
}

impl TcpRules {
    pub fn new(r: &clearway_config::rules::TcpRules) -> TcpRules {
        let compile = |rules: &[clearway_config::rules::TcpRule]| {
            rules
                .iter()
                .map(|r| Rule {
                    action: r.action.clone(),
                    cond: r.condition.as_ref().map(Cond::new),
                    span: r.span.clone(),
                })
                .collect()
        };
        let content: Vec<Rule> = compile(&r.content);
        let content_writes_vars =
            (r.content.iter()).any(|r| matches!(r.action, TcpAction::SetVar { .. } | TcpAction::UnsetVar(_)));
        TcpRules {
            content_writes_vars,
            inspect_delay: r.inspect_delay,
            connection: compile(&r.connection),
            session: compile(&r.session),
            content,
            response_delay: r.response_delay,
            response: compile(&r.response),
        }
    }

    /// Whether there are content rules to evaluate.
    pub fn has_content(&self) -> bool {
        !self.content.is_empty()
    }

    /// Like `first`, but None while a condition is undecided (see `Cond::decide`).
    fn decided<'a>(rules: &'a [Rule], s: &dyn Samples) -> Option<Verdict<'a>> {
        for r in rules {
            let holds = match &r.cond {
                None => true,
                Some(c) => c.decide(s)?,
            };
            if holds && matches!(r.action, TcpAction::Accept | TcpAction::Reject | TcpAction::Close) {
                s.final_rule(&r.span);
            }
            match &r.action {
                _ if !holds => {}
                TcpAction::Accept => return Some(Verdict::Accept),
                TcpAction::Reject => return Some(Verdict::Reject(&r.span)),
                TcpAction::Close => return Some(Verdict::Close),
                TcpAction::ExpectProxy => {}
                a @ (TcpAction::SetVar { .. } | TcpAction::UnsetVar(_)) => variable(a, s),
                TcpAction::TrackSc { slot, key, table } => {
                    if let Some(into) = s.trackers() {
                        crate::stick::track(s, into, (*slot, key, table.as_deref()), false);
                    }
                }
                TcpAction::ScIncGpc0(n) => crate::stick::inc_gpc0(s, *n),
            }
        }
        Some(Verdict::Accept)
    }

    /// `tcp-request content` rules on a TCP session's first bytes, read into `buf` as they
    /// come, as HAProxy runs them: in order, each as soon as its condition is decided; one
    /// that looks at data not there yet waits for more, until the inspect delay ends, the
    /// buffer is full or the client is done sending, when what arrived decides. With
    /// `want_hello` (a switching rule reads the data), it also waits, within the same delay,
    /// until the data tells whether it is a ClientHello, and whether an HTTP request head.
    pub async fn inspect<R: AsyncRead + Unpin + ?Sized>(
        &self,
        client: &mut R,
        buf: &mut Vec<u8>,
        conn: &ConnSamples,
        want_hello: bool,
    ) -> (Verdict<'_>, Hello) {
        let until = tokio::time::Instant::now() + self.inspect_delay.unwrap_or(Duration::ZERO);
        let mut chunk = [0u8; 4096];
        let mut eof = false;
        loop {
            let fin = eof || buf.len() >= MAX_INSPECT || tokio::time::Instant::now() >= until;
            let hello = parse(buf);
            let decided = {
                let s = PayloadSamples::new(conn, &hello, buf, fin);
                let incomplete = || hello == Hello::Incomplete || *s.head() == Head::Partial;
                match Self::decided(&self.content, &s) {
                    Some(v @ Verdict::Reject(_)) => Some(v),
                    Some(v) if fin || !(want_hello && incomplete()) => Some(v),
                    _ => None,
                }
            };
            if let Some(v) = decided {
                return (v, hello);
            }
            // Never more than the buffer holds: what is read goes to the server later.
            let room = MAX_INSPECT.saturating_sub(buf.len()).min(chunk.len());
            tokio::select! {
                r = client.read(&mut chunk[..room]) => match r {
                    Ok(0) | Err(_) => eof = true,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                },
                _ = tokio::time::sleep_until(until) => {}
            }
        }
    }

    /// Rules in order until one accepts or rejects; none: accept. `expect-proxy` rules whose
    /// condition holds set `*proxy` and the rules go on.
    fn first<'a>(rules: &'a [Rule], s: &dyn Samples, proxy: &mut bool) -> Verdict<'a> {
        for r in rules {
            if !Cond::holds(&r.cond, s) {
                continue;
            }
            if matches!(r.action, TcpAction::Accept | TcpAction::Reject | TcpAction::Close) {
                s.final_rule(&r.span);
            }
            match &r.action {
                TcpAction::Accept => return Verdict::Accept,
                TcpAction::Reject => return Verdict::Reject(&r.span),
                TcpAction::Close => return Verdict::Close,
                TcpAction::ExpectProxy => *proxy = true,
                a @ (TcpAction::SetVar { .. } | TcpAction::UnsetVar(_)) => variable(a, s),
                TcpAction::TrackSc { slot, key, table } => {
                    if let Some(into) = s.trackers() {
                        crate::stick::track(s, into, (*slot, key, table.as_deref()), false);
                    }
                }
                TcpAction::ScIncGpc0(n) => crate::stick::inc_gpc0(s, *n),
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

    /// `tcp-request content` rules, on the addresses and the data read so far.
    pub fn on_content(&self, s: &dyn Samples) -> Verdict<'_> {
        Self::first(&self.content, s, &mut false)
    }
}

mod response;

/// The most read while inspecting: a ClientHello fits in one 16 kB record.
const MAX_INSPECT: usize = 16 * 1024 + 5;

/// A minimal ClientHello record for `sni` (for tests and the fuzz targets).
#[doc(hidden)]
pub fn client_hello_for(sni: &str) -> Vec<u8> {
    client_hello_offering(sni, &[])
}

/// A minimal ClientHello record for `sni`, offering `alpn` protocols if any.
#[doc(hidden)]
pub fn client_hello_offering(sni: &str, alpn: &[&str]) -> Vec<u8> {
    let name = sni.as_bytes();
    let mut sni_ext = Vec::new();
    sni_ext.extend_from_slice(&((name.len() + 3) as u16).to_be_bytes());
    sni_ext.push(0);
    sni_ext.extend_from_slice(&(name.len() as u16).to_be_bytes());
    sni_ext.extend_from_slice(name);
    let mut exts = vec![0, 0];
    exts.extend_from_slice(&(sni_ext.len() as u16).to_be_bytes());
    exts.extend_from_slice(&sni_ext);
    if !alpn.is_empty() {
        let mut list = Vec::new();
        for a in alpn {
            list.push(a.len() as u8);
            list.extend_from_slice(a.as_bytes());
        }
        exts.extend_from_slice(&[0, 16]);
        exts.extend_from_slice(&((list.len() + 2) as u16).to_be_bytes());
        exts.extend_from_slice(&(list.len() as u16).to_be_bytes());
        exts.extend_from_slice(&list);
    }
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
                sni: Some("www.example.com".into()),
                alpn: Vec::new(),
            }
        );
        let h = super::client_hello_offering("a.example", &["h2", "acme-tls/1"]);
        assert_eq!(
            parse(&h),
            Hello::Handshake {
                kind: 1,
                sni: Some("a.example".into()),
                alpn: vec!["h2".into(), "acme-tls/1".into()],
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

    /// Content rules as HAProxy's reg-tests write them: `accept if { req.len eq N }
    /// { req.payload(0,N) -m bin HEX }`, then `reject`.
    fn rules(n: usize, hex: &str) -> TcpRules {
        let text = format!(
            "frontend f\n bind :1\n tcp-request inspect-delay 1s\n \
             tcp-request content accept if {{ req.len eq {n} }} {{ req.payload(0,{n}) -m bin {hex} }}\n \
             tcp-request content reject\n"
        );
        let l = clearway_config::parse_str("t.cfg", &text).expect("config");
        TcpRules::new(&l.config.frontends[0].tcp_rules)
    }

    /// A client connection's samples, for tests.
    pub(super) fn conn() -> ConnSamples {
        ConnSamples {
            peer: "192.0.2.1:1000".parse().unwrap(),
            local: "192.0.2.2:1".parse().unwrap(),
            tls: None,
            listener: None,
            so: None,
            proxy: None,
            fd: None,
            vars: Default::default(),
            frontend: None,
            trackers: Default::default(),
            real: None,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_rule_on_the_data_waits_for_it_and_decides_once_it_is_there() {
        let r = rules(4, "50494e47");
        let (mut client, mut ours) = tokio::io::duplex(64);
        let c = conn();
        let mut buf = Vec::new();
        {
            let inspecting = r.inspect(&mut ours, &mut buf, &c, false);
            tokio::pin!(inspecting);
            use tokio::io::AsyncWriteExt;
            client.write_all(b"PI").await.unwrap();
            // Two bytes: undecided, the rule waits (the delay is far).
            assert!(tokio::time::timeout(Duration::from_millis(100), &mut inspecting)
                .await
                .is_err());
            client.write_all(b"NG").await.unwrap();
            let (v, _) = inspecting.await;
            assert_eq!(v, Verdict::Accept);
        }
        assert_eq!(buf, b"PING");
    }

    #[tokio::test(start_paused = true)]
    async fn data_that_never_matches_is_judged_at_the_end_of_the_delay() {
        let r = rules(4, "50494e47");
        for sent in [&b"PINGPONG"[..], b"PONG", b"PI"] {
            let (mut client, mut ours) = tokio::io::duplex(64);
            use tokio::io::AsyncWriteExt;
            client.write_all(sent).await.unwrap();
            let c = conn();
            let mut buf = Vec::new();
            let (v, _) = r.inspect(&mut ours, &mut buf, &c, false).await;
            assert!(matches!(v, Verdict::Reject(_)), "{sent:?}");
            assert_eq!(buf, sent, "nothing read is lost");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn wait_end_is_undecided_until_the_delay_ends_or_the_client_is_done() {
        let text = "frontend f\n bind :1\n tcp-request inspect-delay 1s\n \
                    tcp-request content accept if { req.len ge 8 }\n tcp-request content reject if WAIT_END\n \
                    tcp-request content accept\n";
        let l = clearway_config::parse_str("t.cfg", text).expect("config");
        let r = TcpRules::new(&l.config.frontends[0].tcp_rules);
        let c = conn();
        use tokio::io::AsyncWriteExt;
        // Too few bytes, the client waiting: nothing decided before the delay ends.
        let (mut client, mut ours) = tokio::io::duplex(64);
        client.write_all(b"PING").await.unwrap();
        let mut buf = Vec::new();
        let inspecting = r.inspect(&mut ours, &mut buf, &c, false);
        tokio::pin!(inspecting);
        let early = tokio::time::timeout(Duration::from_millis(900), &mut inspecting).await;
        assert!(early.is_err(), "decided before the end: {:?}", early.map(|(v, _)| v));
        assert!(matches!(inspecting.await.0, Verdict::Reject(_)));
        // The client done sending ends the inspection at once.
        let (mut client, mut ours) = tokio::io::duplex(64);
        client.write_all(b"PING").await.unwrap();
        drop(client);
        let mut buf = Vec::new();
        let at_once = tokio::time::timeout(Duration::from_millis(10), r.inspect(&mut ours, &mut buf, &c, false)).await;
        assert!(matches!(at_once, Ok((Verdict::Reject(_), _))));
        // Enough bytes: the first rule accepts before WAIT_END is asked.
        let (mut client, mut ours) = tokio::io::duplex(64);
        client.write_all(b"PINGPONG").await.unwrap();
        let mut buf = Vec::new();
        let at_once = tokio::time::timeout(Duration::from_millis(10), r.inspect(&mut ours, &mut buf, &c, false)).await;
        assert!(matches!(at_once, Ok((Verdict::Accept, _))));
    }

    #[test]
    fn an_http_request_is_read_from_the_first_bytes_in_mode_tcp() {
        let c = conn();
        let text = |data: &[u8], fin: bool, f: Fetch| {
            let hello = parse(data);
            let s = PayloadSamples::new(&c, &hello, data, fin);
            (
                crate::acl::text(&s, &clearway_config::rules::Expr::new(f.clone())),
                s.may_change(&f),
            )
        };
        let req = b"GET http://a.test/x/y?q=1 HTTP/1.0\r\nHost: a.test\r\nAccept: a, b\r\n\r\n";
        assert_eq!(text(req, false, Fetch::Method), (Some("GET".into()), false));
        assert_eq!(text(req, false, Fetch::Path), (Some("/x/y".into()), false));
        assert_eq!(text(req, false, Fetch::Query), (Some("q=1".into()), false));
        assert_eq!(text(req, false, Fetch::Version), (Some("1.0".into()), false));
        assert_eq!(
            text(req, false, Fetch::Hdr("host".into())),
            (Some("a.test".into()), false)
        );
        // Half a head may still become one; the end of the data decides it is none.
        let half = &req[..20];
        assert_eq!(text(half, false, Fetch::Method), (None, true));
        assert_eq!(text(half, true, Fetch::Method), (None, false));
        // Other protocols are not HTTP, at once.
        assert_eq!(text(b"SSH-2.0-OpenSSH_9.2\r\n", false, Fetch::Method), (None, false));
        assert_eq!(text(&client_hello("a.test"), false, Fetch::Method), (None, false));
    }
}
