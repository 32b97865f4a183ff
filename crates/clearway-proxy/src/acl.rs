//! Evaluating ACL conditions: conditions compiled once from the config (regexes built,
//! networks and ranges parsed) and matched against the samples of a connection or request.
//! Owns matching only; what a fetch returns is the caller's (`Samples`).

use clearway_config::rules::{self, AclTest, Chain, Condition, Expr, Fetch, MatchKind};
use clearway_sample::vars::{SetConds, VarStore};
use clearway_sample::{Sample, Scope, VarName};
use regex::{Regex, RegexBuilder};
use std::borrow::Cow;
use std::net::IpAddr;

mod vars;
use vars::PROC_VARS;
pub use vars::{assign_process_var, set_process_vars, set_var, show_process_var, unset_var};

/// One value a fetch produced.
#[derive(Debug, Clone, Copy)]
pub enum Value<'a> {
    Str(&'a str),
    Ip(IpAddr),
    Int(i64),
    Bool(bool),
    /// Bytes (`req.payload`): matched as hexadecimal by `-m bin`, as text otherwise.
    Bin(&'a [u8]),
}

/// Where an ACL's fetches read from: a TCP connection, an HTTP request, a response.
pub trait Samples {
    /// Calls `sink` with each value of `fetch` until it returns true; returns whether it did.
    /// A fetch that does not apply (a header in `mode tcp`) yields nothing.
    fn each(&self, fetch: &Fetch, sink: &mut dyn FnMut(Value<'_>) -> bool) -> bool;

    /// True when `fetch` may still give other values (the request's first bytes are still
    /// arriving): a condition that does not hold yet may hold later (HAProxy's MAY_CHANGE).
    fn may_change(&self, _fetch: &Fetch) -> bool {
        false
    }

    /// A rule evaluated on these samples decided (accepted, refused or answered): what
    /// `last_rule_file` and `last_rule_line` then say. Only a request's samples keep it.
    fn final_rule(&self, _span: &clearway_config::model::Span) {}

    /// The connection these samples were taken on, whose variables and tracked entries
    /// they share unless they have their own (a request's).
    fn conn(&self) -> Option<&ConnSamples> {
        None
    }

    /// Where `track-scN` rules evaluated on these samples keep what they track.
    fn trackers(&self) -> Option<&crate::stick::Trackers> {
        self.conn()?.trackers()
    }

    /// The stick-table entry counter `slot` tracks here (the request's, else the session's).
    fn tracked(&self, slot: u8) -> Option<crate::stick::Tracked> {
        self.conn()?.tracked(slot)
    }

    /// The store of the variables of `scope` this message can reach (none: nothing was
    /// ever set there, or the scope is over).
    fn vars(&self, scope: Scope) -> Option<&VarStore> {
        match (self.conn(), scope) {
            (Some(c), _) => c.vars(scope),
            (None, Scope::Proc) => Some(&PROC_VARS),
            (None, _) => None,
        }
    }
}

/// The first value of `expr` as text, for templates.
pub fn text(s: &dyn Samples, expr: &Expr) -> Option<String> {
    first(s, expr, |v| String::from_utf8_lossy(&text_of(&v)).into_owned())
}

/// Renders a template with the samples of the current connection, request or response.
pub fn render(t: &rules::Template, s: &dyn Samples) -> String {
    let mut out = String::new();
    for p in &t.0 {
        match p {
            rules::Piece::Text(x) => out.push_str(x),
            rules::Piece::Expr(e) => out.push_str(&text(s, e).unwrap_or_default()),
        }
    }
    out
}

/// A sample as text: addresses canonical (an IPv4-mapped IPv6 one as IPv4), bytes up to
/// the first NUL (HAProxy's cast).
pub fn text_of<'a>(v: &'a Sample<'_>) -> Cow<'a, [u8]> {
    match v {
        Sample::Ipv6(a) => Cow::Owned(IpAddr::V6(*a).to_canonical().to_string().into_bytes()),
        Sample::Bin(b) => Cow::Borrowed(&b[..b.iter().position(|&c| c == 0).unwrap_or(b.len())]),
        v => v.to_text(),
    }
}

/// What converters see of a message: its variables.
struct Vars<'a>(&'a dyn Samples);

impl clearway_sample::Ctx for Vars<'_> {
    fn var(&self, name: &VarName) -> Option<Sample<'static>> {
        self.0.vars(name.scope)?.get(&name.name)
    }

    fn set_var(&self, name: &VarName, value: Sample<'_>, conds: SetConds) -> bool {
        self.0.vars(name.scope).is_some_and(|v| v.set(&name.name, value, conds))
    }

    fn unset_var(&self, name: &VarName) {
        if let Some(v) = self.0.vars(name.scope) {
            v.unset(&name.name);
        }
    }

    fn table(&self, table: &str, key: Sample<'_>, data: &str) -> Option<i64> {
        crate::stick::lookup(table, key, data)
    }
}

/// A fetch's value as a sample.
fn sample(v: Value<'_>) -> Sample<'_> {
    match v {
        Value::Str(s) => Sample::str(s),
        Value::Ip(ip) => Sample::ip(ip),
        Value::Int(n) => Sample::Int(n),
        Value::Bool(b) => Sample::Bool(b),
        Value::Bin(b) => Sample::Bin(Cow::Borrowed(b)),
    }
}

/// A sample as a value to match.
fn value<'a>(s: &'a Sample<'_>) -> Value<'a> {
    match s {
        Sample::Str(b) => match std::str::from_utf8(b) {
            Ok(t) => Value::Str(t),
            Err(_) => Value::Bin(b),
        },
        Sample::Bin(b) => Value::Bin(b),
        Sample::Int(n) => Value::Int(*n),
        Sample::Bool(b) => Value::Bool(*b),
        Sample::Ipv4(a) => Value::Ip(IpAddr::V4(*a)),
        Sample::Ipv6(a) => Value::Ip(IpAddr::V6(*a)),
    }
}

/// Calls `sink` with each value of `fetch`, its converters applied (a value a converter
/// fails on is skipped), until it returns true; returns whether it did. The fetches that
/// read no message (variables, constants) are answered here.
pub fn values(s: &dyn Samples, fetch: &Fetch, convs: &Chain, sink: &mut dyn FnMut(Sample<'_>) -> bool) -> bool {
    let mut out = |v: Sample<'_>| -> bool {
        if convs.is_empty() {
            return sink(v);
        }
        match convs.run(v, &Vars(s)) {
            Some(v) => sink(v),
            None => false,
        }
    };
    match fetch {
        Fetch::Var { name, default } => match s.vars(name.scope).and_then(|v| v.get(&name.name)) {
            Some(v) => out(v),
            None => default.as_deref().is_some_and(|d| out(Sample::str(d))),
        },
        Fetch::Str(t) => out(Sample::str(t)),
        Fetch::Int(n) => out(Sample::Int(*n)),
        Fetch::Bool(b) => out(Sample::Bool(*b)),
        Fetch::Bin(b) => out(Sample::Bin(Cow::Borrowed(b))),
        Fetch::Ip(ip) => out(Sample::ip(*ip)),
        Fetch::Env(name) => {
            std::env::var_os(name).is_some_and(|v| out(Sample::Str(Cow::Owned(v.into_encoded_bytes()))))
        }
        Fetch::Uuid => out(Sample::string(uuid4())),
        Fetch::Proxy { what, backend } => out(Sample::Int(crate::state_fetch::proxy(*what, backend))),
        Fetch::Server { what, backend, server } => {
            crate::state_fetch::server(*what, backend, server).is_some_and(&mut out)
        }
        Fetch::Stick { slot, what, table } => {
            crate::stick::fetch(s, *slot, *what, table.as_deref()).is_some_and(&mut out)
        }
        Fetch::Rand(range) => {
            let r = u64::from(u32::from_be_bytes(random::<4>()));
            // As HAProxy: a 32-bit random number, scaled to [0, range) when given one.
            let n = match range {
                Some(max) => ((u128::from(r) * u128::from(*max)) >> 32) as u64,
                None => r,
            };
            out(Sample::Int(n as i64))
        }
        Fetch::Date(offset) => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64);
            out(Sample::Int(now.saturating_add(*offset)))
        }
        _ => s.each(fetch, &mut |v| out(sample(v))),
    }
}

/// N random bytes from the system.
fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    // The system's generator does not fail on Linux once booted; zeros would only make a
    // `rand` less random.
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b);
    b
}

/// A random (version 4) UUID.
fn uuid4() -> String {
    let mut b = random::<16>();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

/// Evaluates `expr` on the first value of its fetch and hands the result to `f`.
/// (the last of a header's or a cookie's, as HAProxy takes them outside ACLs).
pub fn first<R>(s: &dyn Samples, expr: &Expr, f: impl FnOnce(Sample<'_>) -> R) -> Option<R> {
    if expr.fetch.last_in_sample() {
        let mut last = None;
        values(s, &expr.fetch, &Chain::default(), &mut |v| {
            last = Some(v.into_owned());
            false
        });
        return expr.convs.run(last?, &Vars(s)).map(f);
    }
    let mut f = Some(f);
    let mut out = None;
    values(s, &expr.fetch, &expr.convs, &mut |v| {
        if let Some(f) = f.take() {
            out = Some(f(v));
        }
        true
    });
    out
}

/// The samples of a client connection: the client's address, the address it reached, the
/// TLS handshake when Clearway terminated one, and the listener it came through.
#[derive(Debug, Clone)]
pub struct ConnSamples {
    pub peer: std::net::SocketAddr,
    pub local: std::net::SocketAddr,
    pub tls: Option<std::sync::Arc<crate::tls::ClientTls>>,
    /// The listener's own statistics, when it keeps them (`option socket-stats`).
    pub listener: Option<std::sync::Arc<clearway_core::ListenerRt>>,
    /// The listening socket's number and name (`so_id`, `so_name`).
    pub so: Option<std::sync::Arc<SoIdent>>,
    /// The PROXY protocol header the connection started with, if it had one (its addresses
    /// are already `peer` and `local`).
    pub proxy: Option<std::sync::Arc<crate::proxy_protocol::Header>>,
    /// The client socket's descriptor, open as long as the session: a request refused by a
    /// `tcp-request content` rule shuts it down.
    pub fd: Option<std::os::fd::RawFd>,
    /// The session's variables (`sess.*`), then in `mode tcp` its stream's (`txn.*`,
    /// `req.*`, `res.*`), each made when first needed.
    pub vars: [std::sync::OnceLock<std::sync::Arc<VarStore>>; 4],
    /// The frontend that accepted it (`fe_name`, `fe_id`).
    pub frontend: Option<std::sync::Arc<Ident>>,
    /// The stick-table entries the session tracks (`tcp-request ... track-scN`).
    pub trackers: std::sync::OnceLock<std::sync::Arc<crate::stick::Trackers>>,
    /// The connection's own addresses (peer, local), when a PROXY protocol header replaced
    /// them (`fc_src`, `fc_dst`).
    pub real: Option<(std::net::SocketAddr, std::net::SocketAddr)>,
}

/// A listening socket's number in its frontend (a bind's `id`, else HAProxy's next free
/// one) and its bind line's `name`, for `so_id` and `so_name`.
#[derive(Debug)]
pub struct SoIdent {
    pub id: u32,
    pub name: Option<Box<str>>,
}

/// A proxy's or a server's name and number, for the fetches that tell them.
#[derive(Debug)]
pub struct Ident {
    pub id: u32,
    pub name: Box<str>,
}

impl ConnSamples {
    /// Takes a PROXY protocol header's word for who the client is and what it reached.
    pub fn proxied(&mut self, h: crate::proxy_protocol::Header) {
        if let Some((src, dst)) = h.addrs {
            self.real = Some((self.peer, self.local));
            (self.peer, self.local) = (src, dst);
        }
        self.proxy = Some(std::sync::Arc::new(h));
    }
}

impl Samples for ConnSamples {
    fn each(&self, fetch: &Fetch, sink: &mut dyn FnMut(Value<'_>) -> bool) -> bool {
        match fetch {
            Fetch::Src => sink(Value::Ip(self.peer.ip())),
            Fetch::FeName => self.frontend.as_ref().is_some_and(|f| sink(Value::Str(&f.name))),
            Fetch::FeId => self
                .frontend
                .as_ref()
                .is_some_and(|f| sink(Value::Int(i64::from(f.id)))),
            Fetch::Dst => sink(Value::Ip(self.local.ip())),
            Fetch::FcSrc | Fetch::FcDst | Fetch::FcSrcPort | Fetch::FcDstPort => {
                let (peer, local) = self.real.unwrap_or((self.peer, self.local));
                sink(match fetch {
                    Fetch::FcSrc => Value::Ip(peer.ip()),
                    Fetch::FcDst => Value::Ip(local.ip()),
                    Fetch::FcSrcPort => Value::Int(i64::from(peer.port())),
                    _ => Value::Int(i64::from(local.port())),
                })
            }
            Fetch::SrcPort => sink(Value::Int(i64::from(self.peer.port()))),
            Fetch::DstPort => sink(Value::Int(i64::from(self.local.port()))),
            Fetch::Always(b) => sink(Value::Bool(*b)),
            // Outside content inspection (where the inspection's own samples answer), the
            // content is all there is: an HTTP message's head, rules on a connection.
            Fetch::WaitEnd => sink(Value::Bool(true)),
            Fetch::SslFc => sink(Value::Bool(self.tls.is_some())),
            Fetch::SslFcSni => self
                .tls
                .as_ref()
                .and_then(|t| t.sni.as_deref())
                .is_some_and(|s| sink(Value::Str(s))),
            Fetch::SslFcHasSni => self.tls.as_ref().is_some_and(|t| sink(Value::Bool(t.sni.is_some()))),
            // False over plain TCP too, as HAProxy answers.
            Fetch::SslFcIsResumed => sink(Value::Bool(self.tls.as_ref().is_some_and(|t| t.resumed))),
            Fetch::SslFcErr => self.tls.is_some() && sink(Value::Int(0)),
            Fetch::FcErr => sink(Value::Int(0)),
            Fetch::SoId => self.so.as_ref().is_some_and(|s| sink(Value::Int(i64::from(s.id)))),
            Fetch::SoName => (self.so.as_ref())
                .and_then(|s| s.name.as_deref())
                .is_some_and(|n| sink(Value::Str(n))),
            Fetch::FcRcvdProxy => sink(Value::Bool(self.proxy.is_some())),
            Fetch::FcPpAuthority => self
                .proxy
                .as_ref()
                .and_then(|h| h.authority.as_deref())
                .is_some_and(|a| sink(Value::Str(a))),
            Fetch::FcPpUniqueId => self
                .proxy
                .as_ref()
                .and_then(|h| h.unique_id.as_deref())
                .and_then(|u| std::str::from_utf8(u).ok())
                .is_some_and(|u| sink(Value::Str(u))),
            Fetch::SslFcProtocol => self.tls.as_ref().is_some_and(|t| sink(Value::Str(t.version))),
            Fetch::SslFcCipher => self.tls.as_ref().is_some_and(|t| sink(Value::Str(t.cipher))),
            Fetch::SslFcAlpn => self
                .tls
                .as_ref()
                .and_then(|t| t.alpn.as_deref())
                .and_then(|a| std::str::from_utf8(a).ok())
                .is_some_and(|a| sink(Value::Str(a))),
            Fetch::Cert(field) => {
                let Some(t) = &self.tls else {
                    return false;
                };
                let v = match (&t.peer_cert, field) {
                    (_, rules::CertField::Verify) => return sink(Value::Int(i64::from(t.verify.verify))),
                    (_, rules::CertField::Err) => return sink(Value::Int(i64::from(t.verify.crt))),
                    (_, rules::CertField::CaErr) => return sink(Value::Int(i64::from(t.verify.ca))),
                    (None, rules::CertField::Used) => return sink(Value::Bool(false)),
                    (None, _) => return false,
                    (Some(c), rules::CertField::Used) => return sink(Value::Bool(c.field(field).is_some())),
                    (Some(c), _) => c.field(field),
                };
                match v {
                    Some(crate::tls::cert::CertValue::Text(s)) => sink(Value::Str(&s)),
                    Some(crate::tls::cert::CertValue::Int(n)) => sink(Value::Int(n)),
                    Some(crate::tls::cert::CertValue::Bin(b)) => sink(Value::Bin(&b)),
                    None => false,
                }
            }
            _ => false,
        }
    }

    fn vars(&self, scope: Scope) -> Option<&VarStore> {
        match scope {
            Scope::Proc => Some(&PROC_VARS),
            Scope::Sess => Some(self.vars[0].get_or_init(Default::default)),
            Scope::Txn => Some(self.vars[1].get_or_init(Default::default)),
            Scope::Req => Some(self.vars[2].get_or_init(Default::default)),
            Scope::Res => Some(self.vars[3].get_or_init(Default::default)),
        }
    }

    fn tracked(&self, slot: u8) -> Option<crate::stick::Tracked> {
        self.trackers.get()?.get(slot)
    }

    fn trackers(&self) -> Option<&crate::stick::Trackers> {
        Some(self.trackers.get_or_init(Default::default))
    }
}

#[derive(Debug)]
enum Patterns {
    /// Kept lower-case when the test ignores case.
    Text(Vec<String>),
    Regex(Vec<Regex>),
    Nets(Vec<(IpAddr, u8)>),
    Ints(Vec<(i64, i64)>),
    None,
}

#[derive(Debug)]
struct Test {
    fetch: Fetch,
    convs: Chain,
    kind: MatchKind,
    icase: bool,
    patterns: Patterns,
}

#[derive(Debug)]
struct Term {
    negate: bool,
    /// Any of them.
    tests: Vec<Test>,
}

/// A condition ready to evaluate.
#[derive(Debug)]
pub struct Cond {
    unless: bool,
    any_of: Vec<Vec<Term>>,
}

impl Cond {
    /// Compiles a validated condition (the config already checked every pattern).
    pub fn new(c: &Condition) -> Cond {
        Cond {
            unless: c.unless,
            any_of: c
                .any_of
                .iter()
                .map(|group| {
                    group
                        .iter()
                        .map(|t| Term {
                            negate: t.negate,
                            tests: t.tests.iter().map(compile).collect(),
                        })
                        .collect()
                })
                .collect(),
        }
    }

    pub fn eval(&self, s: &dyn Samples) -> bool {
        let hit = self
            .any_of
            .iter()
            .any(|group| group.iter().all(|t| t.tests.iter().any(|x| x.eval(s)) != t.negate));
        hit != self.unless
    }

    /// Like `eval`, but None while undecided: it does not hold yet, and data still arriving
    /// may change that (HAProxy's three-valued result: a term that fails on a fetch that may
    /// change is a miss; `!` keeps a miss; in a group of terms the first one not passing
    /// decides; between groups one pass is enough).
    pub fn decide(&self, s: &dyn Samples) -> Option<bool> {
        const FAIL: u8 = 0;
        const MISS: u8 = 1;
        const PASS: u8 = 3;
        let mut cond = FAIL;
        for group in &self.any_of {
            let mut all = PASS;
            for t in group {
                let mut r = FAIL;
                for x in &t.tests {
                    if x.eval(s) {
                        r = PASS;
                        break;
                    }
                    if s.may_change(&x.fetch) {
                        r = MISS;
                    }
                }
                if t.negate && r != MISS {
                    r = PASS - r;
                }
                all &= r;
                if all != PASS {
                    break;
                }
            }
            cond |= all;
            if cond == PASS {
                break;
            }
        }
        match cond {
            MISS => None,
            c => Some((c == PASS) != self.unless),
        }
    }

    /// Whether an optional condition holds (no condition: always).
    pub fn holds(c: &Option<Cond>, s: &dyn Samples) -> bool {
        c.as_ref().is_none_or(|c| c.eval(s))
    }

    /// True when some test reads the request's bytes (`req.ssl_sni`, `req.len`, an HTTP
    /// request's parts in `mode tcp`...): a TCP frontend must then wait for data before
    /// choosing a backend.
    pub fn reads_payload(&self) -> bool {
        (self.any_of.iter().flatten().flat_map(|t| &t.tests)).any(|t| t.fetch.reads_request_bytes())
    }
}

fn compile(t: &AclTest) -> Test {
    let patterns = match t.matcher {
        MatchKind::Ip => Patterns::Nets(t.patterns.iter().filter_map(|p| rules::parse_net(p).ok()).collect()),
        MatchKind::Int | MatchKind::Len => Patterns::Ints(
            t.patterns
                .iter()
                .filter_map(|p| rules::parse_int_range(p).ok())
                .collect(),
        ),
        MatchKind::Reg => Patterns::Regex(
            t.patterns
                .iter()
                .filter_map(|p| RegexBuilder::new(p).case_insensitive(t.icase).build().ok())
                .collect(),
        ),
        MatchKind::Bool | MatchKind::Found => Patterns::None,
        _ if t.icase || t.matcher == MatchKind::Bin => {
            Patterns::Text(t.patterns.iter().map(|p| p.to_ascii_lowercase()).collect())
        }
        _ => Patterns::Text(t.patterns.clone()),
    };
    Test {
        fetch: t.fetch.clone(),
        convs: t.convs.clone(),
        kind: t.matcher,
        icase: t.icase,
        patterns,
    }
}

impl Test {
    fn eval(&self, s: &dyn Samples) -> bool {
        if self.convs.is_empty() && !self.fetch.internal() {
            return s.each(&self.fetch, &mut |v| self.matches(v));
        }
        values(s, &self.fetch, &self.convs, &mut |v| self.matches(value(&v)))
    }

    fn matches(&self, v: Value<'_>) -> bool {
        match (&self.patterns, self.kind) {
            (_, MatchKind::Found) => true,
            (_, MatchKind::Bool) => match v {
                Value::Bool(b) => b,
                Value::Int(n) => n != 0,
                Value::Str(s) => !s.is_empty(),
                Value::Bin(b) => !b.is_empty(),
                Value::Ip(_) => true,
            },
            (Patterns::Nets(nets), _) => {
                let ip = match v {
                    Value::Ip(ip) => Some(ip),
                    Value::Str(s) => s.trim().parse().ok(),
                    _ => None,
                };
                ip.is_some_and(|ip| nets.iter().any(|n| rules::net_contains(*n, ip)))
            }
            (Patterns::Ints(ranges), kind) => {
                let n = match (v, kind) {
                    (Value::Str(s), MatchKind::Len) => Some(s.len() as i64),
                    (Value::Bin(b), MatchKind::Len) => Some(b.len() as i64),
                    (Value::Bin(_), _) => None,
                    (Value::Int(n), _) => Some(n),
                    (Value::Str(s), _) => s.trim().parse().ok(),
                    (Value::Bool(b), _) => Some(i64::from(b)),
                    (Value::Ip(_), _) => None,
                };
                n.is_some_and(|n| ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&n)))
            }
            (Patterns::Regex(res), kind) => with_text(v, kind, |t| res.iter().any(|r| r.is_match(t))),
            (Patterns::Text(pats), kind) => with_text(v, kind, |t| {
                let lower;
                let t = if self.icase || kind == MatchKind::Bin {
                    lower = t.to_ascii_lowercase();
                    lower.as_str()
                } else {
                    t
                };
                pats.iter().any(|p| text_match(kind, t, p))
            }),
            (Patterns::None, _) => false,
        }
    }
}

/// The value as text: bytes as hexadecimal for a `-m bin` match, as (lossy) text otherwise.
fn with_text(v: Value<'_>, kind: MatchKind, f: impl FnOnce(&str) -> bool) -> bool {
    match v {
        Value::Bin(b) if kind == MatchKind::Bin => f(&b.iter().map(|x| format!("{x:02x}")).collect::<String>()),
        Value::Bin(b) => f(&String::from_utf8_lossy(b)),
        Value::Str(s) => f(s),
        Value::Ip(ip) => f(&ip.to_canonical().to_string()),
        Value::Int(n) => f(&n.to_string()),
        Value::Bool(b) => f(if b { "1" } else { "0" }),
    }
}

fn text_match(kind: MatchKind, t: &str, p: &str) -> bool {
    match kind {
        MatchKind::Beg => t.starts_with(p),
        MatchKind::End => t.ends_with(p),
        MatchKind::Sub => t.contains(p),
        MatchKind::Dom => delimited(t, p, |c| matches!(c, '.' | '/' | '?' | ':' | '#')),
        MatchKind::Dir => delimited(t, p, |c| matches!(c, '/' | '?' | '#')),
        _ => t == p,
    }
}

/// `p` occurs in `t` bounded by delimiters (or the ends) on both sides.
fn delimited(t: &str, p: &str, delim: impl Fn(char) -> bool) -> bool {
    let p = p.trim_matches(&delim);
    if p.is_empty() {
        return false;
    }
    t.match_indices(p).any(|(i, _)| {
        let before = t[..i].chars().next_back().is_none_or(&delim);
        let after = t[i + p.len()..].chars().next().is_none_or(&delim);
        before && after
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clearway_config::rules::Term as CTerm;

    struct Req {
        src: IpAddr,
        path: &'static str,
        host: &'static str,
    }

    impl Samples for Req {
        fn each(&self, fetch: &Fetch, sink: &mut dyn FnMut(Value<'_>) -> bool) -> bool {
            match fetch {
                Fetch::Src => sink(Value::Ip(self.src)),
                Fetch::Path => sink(Value::Str(self.path)),
                Fetch::Hdr(h) if h == "host" => sink(Value::Str(self.host)),
                Fetch::Always(b) => sink(Value::Bool(*b)),
                _ => false,
            }
        }
    }

    fn test(fetch: Fetch, matcher: MatchKind, icase: bool, pats: &[&str]) -> AclTest {
        AclTest {
            fetch,
            convs: Chain::default(),
            matcher,
            icase,
            patterns: pats.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn cond(unless: bool, groups: Vec<Vec<(bool, AclTest)>>) -> Cond {
        Cond::new(&Condition {
            unless,
            any_of: groups
                .into_iter()
                .map(|g| {
                    g.into_iter()
                        .map(|(negate, t)| CTerm {
                            negate,
                            name: "t".into(),
                            tests: vec![t],
                        })
                        .collect()
                })
                .collect(),
        })
    }

    #[test]
    fn matching_kinds() {
        let r = Req {
            src: "192.0.2.7".parse().unwrap(),
            path: "/api/v1/users",
            host: "WWW.Example.com",
        };
        let one = |t| cond(false, vec![vec![(false, t)]]).eval(&r);
        assert!(one(test(Fetch::Src, MatchKind::Ip, false, &["192.0.2.0/24"])));
        assert!(!one(test(Fetch::Src, MatchKind::Ip, false, &["10.0.0.0/8"])));
        assert!(one(test(Fetch::Path, MatchKind::Beg, false, &["/api"])));
        assert!(one(test(Fetch::Path, MatchKind::End, false, &["users"])));
        assert!(one(test(Fetch::Path, MatchKind::Sub, false, &["v1"])));
        assert!(one(test(Fetch::Path, MatchKind::Dir, false, &["v1"])));
        assert!(!one(test(Fetch::Path, MatchKind::Dir, false, &["v"])));
        assert!(one(test(Fetch::Path, MatchKind::Reg, false, &["^/api/v[0-9]+/"])));
        assert!(one(test(Fetch::Path, MatchKind::Len, false, &["13"])));
        assert!(!one(test(
            Fetch::Hdr("host".into()),
            MatchKind::Str,
            false,
            &["www.example.com"]
        )));
        assert!(one(test(
            Fetch::Hdr("host".into()),
            MatchKind::Str,
            true,
            &["www.example.com"]
        )));
        assert!(one(test(Fetch::Hdr("host".into()), MatchKind::Dom, true, &["example"])));
        assert!(!one(test(Fetch::Hdr("host".into()), MatchKind::Dom, true, &["exam"])));
        assert!(one(test(Fetch::Hdr("host".into()), MatchKind::Found, false, &[])));
        assert!(!one(test(Fetch::Hdr("x-none".into()), MatchKind::Found, false, &[])));
        assert!(!one(test(Fetch::Always(false), MatchKind::Bool, false, &[])));
    }

    #[test]
    fn negation_and_or_and_unless() {
        let r = Req {
            src: "192.0.2.7".parse().unwrap(),
            path: "/x",
            host: "h",
        };
        let yes = test(Fetch::Always(true), MatchKind::Bool, false, &[]);
        let no = test(Fetch::Always(false), MatchKind::Bool, false, &[]);
        assert!(cond(false, vec![vec![(false, yes.clone()), (true, no.clone())]]).eval(&r));
        assert!(!cond(false, vec![vec![(false, yes.clone()), (false, no.clone())]]).eval(&r));
        assert!(cond(false, vec![vec![(false, no.clone())], vec![(false, yes.clone())]]).eval(&r));
        assert!(!cond(true, vec![vec![(false, yes)]]).eval(&r));
        assert!(cond(true, vec![vec![(false, no)]]).eval(&r));
    }
}
