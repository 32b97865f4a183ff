//! One proxy half's layer-7 settings, compiled: `http-request` and `redirect` rules applied to
//! a request, `http-response` rules to a response, `option forwardfor`, error pages. Owns what
//! the rules do to headers, paths and replies; must not choose backends or talk to servers.

use super::reply::{default_page, ErrorPages, Page};
use super::samples::{ReqSamples, ResSamples};
use crate::acl::{Cond, ConnSamples, Samples};
use bytes::Bytes;
use clearway_config::model::{ForwardFor, HttpConnMode, HttpReuse, HttpSettings};
use clearway_config::rules::{self, Expr, HttpAction, HttpRule, Piece, RedirectKind, Template, VarValue};
use clearway_sample::vars::SetConds;
use clearway_sample::VarName;
use http::header::{HeaderName, HeaderValue};
use http::request::Parts;
use http::{HeaderMap, StatusCode, Uri};
use regex::Regex;
use std::net::IpAddr;

mod edit;
mod response;
use edit::{apply, expand, prepare, redirect, retarget, with_path, with_path_query};
pub use edit::{forward_for, original_to};
pub use response::ResVerdict;

#[derive(Debug)]
enum Action {
    Allow,
    Set(HeaderName, Value),
    Add(HeaderName, Value),
    Del(HeaderName),
    /// `del-header -m beg|end|sub|reg`: the pattern (lower case), or the regex.
    DelMatching(rules::MatchKind, Box<str>, Option<Regex>),
    /// `replace-header` (false) or `replace-value` (true).
    Replace(HeaderName, Regex, Template, bool),
    ReplaceTarget(rules::TargetPart, Regex, Template),
    SetPathQ(Template),
    SetQuery(Template),
    SetMethod(Template),
    SetPath(Template),
    SetUri(Template),
    SetDst(Expr),
    SetDstPort(Expr),
    SetVar(VarName, SetConds, VarValue),
    UnsetVar(VarName),
    SetStatus(StatusCode, Option<super::Reason>),
    Reject,
    Tarpit(u16),
    /// `set-timeout server|tunnel` (true: tunnel).
    SetTimeout(bool, rules::TimeoutValue),
    /// `wait-for-body`: how long, how many bytes are enough (0: the whole body), and the
    /// index of the rule to go on with.
    WaitForBody(std::time::Duration, u64, usize),
    TrackSc(u8, Expr, Option<String>),
    ScIncGpc0(u8),
    /// A reply, and whether it refuses the request (`deny`) rather than answering it.
    Reply(Reply, bool),
    Redirect(rules::Redirect),
    Service(rules::Service),
    /// `auth`: its realm, the proxy's name when it has none.
    Auth(Box<str>),
    /// `set-log-level` (None: `silent`).
    LogLevel(Option<u8>),
    SetSrc(Expr),
    SetSrcPort(Expr),
    ScSetGpt0(u8, Expr),
    DisableL7Retry,
    SilentDrop,
    Normalize(rules::Normalizer),
    /// `capture EXPR id N`.
    Capture(Expr, usize),
    CacheUse(std::sync::Arc<super::cache::Cache>),
    CacheStore(std::sync::Arc<super::cache::Cache>),
}

impl Action {
    /// It decides the message's fate (HAProxy's final actions): what `last_rule_file` and
    /// `last_rule_line` name once it ran.
    fn is_final(&self) -> bool {
        matches!(
            self,
            Action::Allow
                | Action::Reject
                | Action::Tarpit(_)
                | Action::Reply(..)
                | Action::Redirect(_)
                | Action::Service(_)
                | Action::Auth(_)
                | Action::SilentDrop
        )
    }
}

/// A header value a rule sets or adds.
#[derive(Debug)]
enum Value {
    /// Made once, at load, from a template that fetches nothing (`set-header X-Bench 1`):
    /// no rendering and no allocation per message.
    Fixed(HeaderValue),
    /// Rendered per message.
    Rendered(Template),
}

impl Value {
    fn of(t: &Template) -> Value {
        let mut text = String::new();
        for p in &t.0 {
            match p {
                Piece::Text(x) => text.push_str(x),
                Piece::Expr(_) => return Value::Rendered(t.clone()),
            }
        }
        // An invalid value stays a template, to be refused (and logged) where it is used.
        match HeaderValue::from_maybe_shared(Bytes::from(text)) {
            Ok(v) => Value::Fixed(v),
            Err(_) => Value::Rendered(t.clone()),
        }
    }
}

#[derive(Debug)]
enum Reply {
    Error(u16),
    /// A page, its headers made per request, and its body too when it is a format.
    Page(Page, Vec<(HeaderName, Template)>, Option<Template>),
}

#[derive(Debug)]
struct Rule {
    action: Action,
    cond: Option<Cond>,
    span: clearway_config::model::Span,
}

/// `track-scN` and `sc-inc-gpc0(N)`, in request and response rules alike (the request
/// counts on an entry tracked in either).
fn stick_effect(a: &Action, s: &dyn crate::acl::Samples) {
    match a {
        Action::TrackSc(slot, key, table) => {
            if let Some(into) = s.trackers() {
                crate::stick::track(s, into, (*slot, key, table.as_deref()), true);
            }
        }
        Action::ScIncGpc0(n) => crate::stick::inc_gpc0(s, *n),
        _ => {}
    }
}

/// What the request rules decided.
pub enum Verdict {
    Continue,
    /// Answer with this instead of forwarding; `denied` when a rule refused the request
    /// (`deny`), rather than answering it (`return`, `redirect`).
    Respond {
        response: Box<http::Response<Bytes>>,
        denied: bool,
    },
    /// Answer with a service of the proxy's own (`use-service`).
    Service(rules::Service),
    /// Ask for Basic credentials in this realm (`auth`): a 401, or a 407 to a proxy request.
    Auth(Box<str>),
    /// Close the connection without a response (`reject`), refused by the rule written there.
    Reject(clearway_config::model::Span),
    /// Hold the request, then answer with this status (`tarpit`).
    Tarpit(u16),
    /// Close the connection so that the client never learns it (`silent-drop`).
    SilentDrop(clearway_config::model::Span),
    /// Answered from a cache (`cache-use`): the response rules still see it.
    Cached(Box<http::Response<Bytes>>),
    /// Read the body ahead (`wait-for-body`: within `time` when given, else the proxy's
    /// `timeout http-request`), then go on with rule `next`.
    WaitBody {
        next: usize,
        time: Option<std::time::Duration>,
        at_least: u64,
    },
}

/// The client address a request counts as coming from once `set-src` or `set-src-port`
/// changed it: what `src` says, logs show, `X-Forwarded-For` and `usesrc clientip` use.
#[derive(Debug, Clone, Copy)]
pub struct Source(pub std::net::SocketAddr);

/// The connection as a request's rules left it (`set-src`, `set-dst`...), when they moved
/// one of its addresses.
pub fn moved(conn: &ConnSamples, req: &Parts) -> Option<ConnSamples> {
    let dst = req.extensions.get::<Destination>();
    let src = req.extensions.get::<Source>();
    (dst.is_some() || src.is_some()).then(|| ConnSamples {
        local: dst.map_or(conn.local, |d| d.0),
        peer: src.map_or(conn.peer, |s| s.0),
        ..conn.clone()
    })
}

/// `disable-l7-retry` held for the request.
#[derive(Debug, Clone, Copy)]
pub struct NoL7Retry;

/// This request's own server and tunnel timeouts (`set-timeout`), over its backend's.
#[derive(Debug, Clone, Copy, Default)]
pub struct StreamTimeouts {
    pub server: Option<std::time::Duration>,
    pub tunnel: Option<std::time::Duration>,
}

/// The compiled HTTP settings of a frontend or a backend.
#[derive(Debug)]
pub struct HttpRules {
    request: Vec<Rule>,
    response: Vec<Rule>,
    /// `http-after-response`.
    after: Vec<Rule>,
    redirects: Vec<Rule>,
    pub errors: ErrorPages,
    pub conn_mode: HttpConnMode,
    pub reuse: HttpReuse,
    pub forwardfor: Option<ForwardFor>,
    /// `option originalto`.
    pub originalto: Option<ForwardFor>,
    /// `stats ...`: the statistics page this proxy half answers.
    pub stats: Option<super::stats_app::StatsApp>,
    /// `monitor-uri` (frontends).
    pub monitor_uri: Option<Box<str>>,
    /// `monitor fail` conditions: one that holds makes the monitor URI answer 503.
    monitor_fail: Vec<Cond>,
    /// `compression ...`.
    pub compression: Option<clearway_config::model::Compression>,
    /// `option http-buffer-request`: the body is read ahead before the request rules.
    buffer_request: bool,
    /// `option http-restrict-req-hdr-names`: after the request rules.
    restrict_hdr_names: clearway_config::model::HdrNames,
    /// A request rule sets this request's timeouts (`set-timeout`).
    pub sets_timeouts: bool,
    /// A response rule waits for the body (`http-response wait-for-body`).
    pub waits_response: bool,
    /// A request rule may change the request's destination or source (`set-dst`,
    /// `set-dst-port`, `set-src`, `set-src-port`).
    pub moves_addresses: bool,
    /// A rule may store a variable: messages need their stores.
    writes_vars: bool,
    /// A request rule tracks stick-table entries (`track-scN`).
    pub tracks: bool,
    /// A response rule does (`http-response track-scN`).
    pub tracks_response: bool,
    /// A rule reads which backend or server handles the request: messages keep them.
    pub reads_route: bool,
}

fn name(n: &str) -> HeaderName {
    // Validated as an HTTP token when the config was read.
    HeaderName::from_bytes(n.as_bytes()).unwrap_or(HeaderName::from_static("x-invalid"))
}

/// None for a rule whose regex does not build (the config checked them all: not expected).
/// `proxy`: the name of the proxy the rule is in.
fn compile(r: &HttpRule, proxy: &str) -> Option<Rule> {
    let action = match &r.action {
        HttpAction::Allow => Action::Allow,
        HttpAction::SetHeader { name: n, value } => Action::Set(name(n), Value::of(value)),
        HttpAction::AddHeader { name: n, value } => Action::Add(name(n), Value::of(value)),
        HttpAction::DelHeader {
            name: n,
            method: rules::MatchKind::Str,
        } => Action::Del(name(n)),
        HttpAction::DelHeader { name: n, method } => Action::DelMatching(
            *method,
            n.as_str().into(),
            (*method == rules::MatchKind::Reg).then(|| Regex::new(n).ok()).flatten(),
        ),
        HttpAction::ReplaceHeader {
            name: n,
            regex,
            replacement: rep,
            values,
        } => Action::Replace(name(n), Regex::new(regex).ok()?, rep.clone(), *values),
        HttpAction::ReplaceTarget {
            part,
            regex,
            replacement,
        } => Action::ReplaceTarget(*part, Regex::new(regex).ok()?, replacement.clone()),
        HttpAction::SetPathQ(t) => Action::SetPathQ(t.clone()),
        HttpAction::SetQuery(t) => Action::SetQuery(t.clone()),
        HttpAction::SetMethod(t) => Action::SetMethod(t.clone()),
        HttpAction::SetPath(t) => Action::SetPath(t.clone()),
        HttpAction::SetUri(t) => Action::SetUri(t.clone()),
        HttpAction::SetDst(f) => Action::SetDst(f.clone()),
        HttpAction::SetDstPort(f) => Action::SetDstPort(f.clone()),
        HttpAction::SetVar { name, conds, value } => Action::SetVar(name.clone(), *conds, value.clone()),
        HttpAction::UnsetVar(name) => Action::UnsetVar(name.clone()),
        HttpAction::Reject => Action::Reject,
        HttpAction::TrackSc { slot, key, table } => Action::TrackSc(*slot, key.clone(), table.clone()),
        HttpAction::ScIncGpc0(n) => Action::ScIncGpc0(*n),
        HttpAction::Tarpit { status } => Action::Tarpit(*status),
        HttpAction::SetTimeout { tunnel, value } => Action::SetTimeout(*tunnel, value.clone()),
        HttpAction::WaitForBody { time, at_least } => Action::WaitForBody(*time, *at_least, 0),
        HttpAction::SetStatus { status, reason } => Action::SetStatus(
            StatusCode::from_u16(*status).ok()?,
            reason.as_deref().map(|r| super::Reason(r.into())),
        ),
        HttpAction::Deny { status, reply } => match reply {
            None => Action::Reply(Reply::Error(*status), true),
            Some(rep) => Action::Reply(reply_of(rep), true),
        },
        HttpAction::Return(rep) => Action::Reply(reply_of(rep), false),
        HttpAction::Redirect(r) => Action::Redirect(r.clone()),
        HttpAction::UseService(s) => Action::Service(*s),
        HttpAction::Auth { realm } => Action::Auth(realm.as_deref().unwrap_or(proxy).into()),
        HttpAction::NoEffect => return None,
        HttpAction::SetLogLevel(l) => Action::LogLevel(*l),
        HttpAction::SetSrc(e) => Action::SetSrc(e.clone()),
        HttpAction::SetSrcPort(e) => Action::SetSrcPort(e.clone()),
        HttpAction::ScSetGpt0 { slot, value } => Action::ScSetGpt0(*slot, value.clone()),
        HttpAction::DisableL7Retry => Action::DisableL7Retry,
        HttpAction::SilentDrop => Action::SilentDrop,
        HttpAction::NormalizeUri(n) => Action::Normalize(*n),
        HttpAction::CacheUse(n) => Action::CacheUse(super::cache::named(n)?),
        HttpAction::CacheStore(n) => Action::CacheStore(super::cache::named(n)?),
        HttpAction::Capture { expr, slot } => Action::Capture(
            expr.clone(),
            match slot {
                rules::CaptureSlot::Id(n) | rules::CaptureSlot::Len(n) => *n,
            },
        ),
    };
    Some(Rule {
        action,
        cond: r.condition.as_ref().map(Cond::new),
        span: r.span.clone(),
    })
}

/// The destination a request counts as having reached once `set-dst` or `set-dst-port`
/// changed it: what `dst` and `dst_port` say, and where a `0.0.0.0` server connects.
#[derive(Debug, Clone, Copy)]
pub struct Destination(pub std::net::SocketAddr);

/// The new destination a `set-dst`/`set-dst-port` rule gives, from the first value of its
/// expression; None when it has none that fits (the rule then does nothing, as in HAProxy).
fn destination(action: &Action, e: &Expr, s: &ReqSamples<'_>) -> Option<std::net::SocketAddr> {
    use clearway_sample::{Sample, Type};
    let now = s.req.extensions.get::<Destination>().map_or(s.conn.local, |d| d.0);
    crate::acl::first(s, e, |v| match action {
        Action::SetDst(_) => match v.cast(Type::Addr)? {
            Sample::Ipv4(a) => Some(std::net::SocketAddr::new(a.into(), now.port())),
            Sample::Ipv6(a) => Some(std::net::SocketAddr::new(a.into(), now.port())),
            _ => None,
        },
        _ => u16::try_from(v.int()?)
            .ok()
            .map(|p| std::net::SocketAddr::new(now.ip(), p)),
    })
    .flatten()
}

/// The rules with each `wait-for-body` knowing the rule that follows it.
fn resume_points(mut rules: Vec<Rule>) -> Vec<Rule> {
    for (i, r) in rules.iter_mut().enumerate() {
        if let Action::WaitForBody(_, _, next) = &mut r.action {
            *next = i + 1;
        }
    }
    rules
}

/// A `return` or `deny` reply, ready to send: the proxy's error page, a page of its own
/// (an error file's, or the line's with its headers and format made per request).
fn reply_of(rep: &rules::Reply) -> Reply {
    match &rep.from {
        rules::ReplyFrom::Default => Reply::Error(rep.status),
        rules::ReplyFrom::Raw(raw) => match super::reply::raw_page(rep.status, raw) {
            Some(page) => Reply::Page(page, Vec::new(), None),
            None => Reply::Error(rep.status),
        },
        rules::ReplyFrom::Fields => {
            let mut page = Page {
                status: StatusCode::from_u16(rep.status).unwrap_or(StatusCode::OK),
                headers: Vec::new(),
                body: Bytes::from(rep.body.clone()),
                close: false,
            };
            if let Some(ct) = rep.content_type.as_deref().and_then(|c| HeaderValue::from_str(c).ok()) {
                page.headers.push((http::header::CONTENT_TYPE, ct));
            }
            let extra = rep.headers.iter().map(|(n, v)| (name(n), v.clone())).collect();
            Reply::Page(page, extra, rep.format.clone())
        }
    }
}

/// A page of a rule's own (`return`, `deny` with an answer), its headers and its format
/// made for this message.
fn page_reply(
    page: &Page,
    extra: &[(HeaderName, Template)],
    format: Option<&Template>,
    s: &dyn Samples,
) -> http::Response<Bytes> {
    let mut r: http::Response<Bytes> = page.response();
    if let Some(t) = format {
        let body = Bytes::from(render(t, s));
        r.headers_mut()
            .insert(http::header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        *r.body_mut() = body;
    }
    for (n, t) in extra {
        if let Ok(v) = HeaderValue::from_str(&render(t, s)) {
            r.headers_mut().append(n.clone(), v);
        }
    }
    r
}

/// The new client address a `set-src`/`set-src-port` rule gives, from the first value of
/// its expression; None when it has none that fits (the rule then does nothing).
fn source(action: &Action, e: &Expr, s: &ReqSamples<'_>) -> Option<std::net::SocketAddr> {
    use clearway_sample::{Sample, Type};
    let now = s.req.extensions.get::<Source>().map_or(s.conn.peer, |d| d.0);
    crate::acl::first(s, e, |v| match action {
        Action::SetSrc(_) => match v.cast(Type::Addr)? {
            // As HAProxy: the port becomes 0.
            Sample::Ipv4(a) => Some(std::net::SocketAddr::new(a.into(), 0)),
            Sample::Ipv6(a) => Some(std::net::SocketAddr::new(a.into(), 0)),
            _ => None,
        },
        _ => u16::try_from(v.int()?)
            .ok()
            .map(|p| std::net::SocketAddr::new(now.ip(), p)),
    })
    .flatten()
}

/// What a rule does the same to a request or a response: `set-var`/`unset-var` with the
/// samples of the message, `sc-set-gpt0`, `set-log-level` on the request's log line.
fn effect(action: &Action, s: &dyn Samples, req: &Parts) {
    match action {
        Action::SetVar(name, conds, value) => crate::acl::set_var(name, *conds, value, s),
        Action::UnsetVar(name) => crate::acl::unset_var(name, s),
        Action::ScSetGpt0(slot, value) => crate::stick::set_gpt0(s, *slot, value),
        Action::LogLevel(l) => {
            if let Some(log) = req.extensions.get::<super::access_log::ReqLog>() {
                log.set_level(*l);
            }
        }
        _ => {}
    }
}

pub use crate::acl::render;

impl HttpRules {
    /// The rules of proxy `proxy`.
    pub fn new(
        h: &HttpSettings,
        (forwardfor, originalto): (Option<ForwardFor>, Option<ForwardFor>),
        proxy: &str,
    ) -> HttpRules {
        let compile = |r| compile(r, proxy);
        let moves_addresses = (h.request_rules.iter()).any(|r| {
            matches!(
                r.action,
                HttpAction::SetDst(_) | HttpAction::SetDstPort(_) | HttpAction::SetSrc(_) | HttpAction::SetSrcPort(_)
            )
        });
        HttpRules {
            moves_addresses,
            tracks: (h.request_rules.iter()).any(|r| matches!(r.action, HttpAction::TrackSc { .. })),
            tracks_response: (h.response_rules.iter()).any(|r| matches!(r.action, HttpAction::TrackSc { .. })),
            writes_vars: (h
                .request_rules
                .iter()
                .chain(&h.response_rules)
                .chain(&h.after_response_rules))
            .any(HttpRule::writes_vars),
            after: h.after_response_rules.iter().filter_map(compile).collect(),
            reads_route: (h
                .request_rules
                .iter()
                .chain(&h.response_rules)
                .chain(&h.after_response_rules))
            .any(HttpRule::reads_route),
            request: resume_points(h.request_rules.iter().filter_map(compile).collect()),
            response: resume_points(h.response_rules.iter().filter_map(compile).collect()),
            redirects: h.redirects.iter().filter_map(compile).collect(),
            errors: ErrorPages::new(&h.errorfiles),
            conn_mode: h.conn_mode,
            reuse: h.reuse,
            forwardfor,
            originalto,
            stats: h.stats.as_ref().map(super::stats_app::StatsApp::new),
            monitor_uri: h.monitor_uri.as_deref().map(Box::from),
            monitor_fail: h.monitor_fail.iter().map(Cond::new).collect(),
            compression: h.compression.clone(),
            buffer_request: false,
            restrict_hdr_names: Default::default(),
            sets_timeouts: (h.request_rules.iter()).any(|r| matches!(r.action, HttpAction::SetTimeout { .. })),
            waits_response: (h.response_rules.iter()).any(|r| matches!(r.action, HttpAction::WaitForBody { .. })),
        }
    }

    /// With the proxy's options that act on its rules: `option http-buffer-request` (the
    /// body is read ahead before the rules) and `option http-restrict-req-hdr-names`.
    pub fn with_options(mut self, o: &clearway_config::model::ProxyOptions) -> HttpRules {
        self.buffer_request = o.buffer_request;
        self.restrict_hdr_names = o.restrict_hdr_names;
        self
    }

    /// Whether a request is for the `monitor-uri`: its path and query when the URI starts
    /// with `/` (so that HTTP/2's absolute targets match too), else its whole target.
    /// What the monitor URI answers: 503 when a `monitor fail` condition holds, else 200.
    pub fn monitor_status(&self, req: &Parts, conn: &ConnSamples) -> u16 {
        let s = ReqSamples { conn, req };
        if self.monitor_fail.iter().any(|c| c.eval(&s)) {
            503
        } else {
            200
        }
    }

    pub fn is_monitor(&self, req: &Parts) -> bool {
        let Some(u) = self.monitor_uri.as_deref() else {
            return false;
        };
        if u.starts_with('/') {
            req.uri.path_and_query().is_some_and(|p| p.as_str() == u)
        } else {
            req.uri == u
        }
    }

    /// Applies the `http-request` rules, then the `redirect` rules, to a request, from rule
    /// `from` on (after a `wait-for-body`, the rule that follows it). Each rule sees the
    /// request as the rules before it left it.
    pub fn on_request(
        &self,
        req: &mut Parts,
        conn: &ConnSamples,
        fallback: Option<&ErrorPages>,
        from: usize,
    ) -> Verdict {
        if self.writes_vars {
            super::samples::with_vars(req);
        }
        // Response rules that track: the request keeps their entries (its status counts on
        // them when it ends).
        if self.tracks_response && req.extensions.get::<super::samples::ReqTrackers>().is_none() {
            req.extensions.insert(super::samples::ReqTrackers::default());
        }
        if from == 0 && self.buffer_request && req.extensions.get::<super::read_ahead::BodyAhead>().is_none() {
            return Verdict::WaitBody {
                next: 0,
                time: None,
                at_least: 0,
            };
        }
        // Only request rules wait: `from` is one of theirs, or just past them.
        let rules = self.request.get(from..).unwrap_or_default();
        for r in rules.iter().chain(&self.redirects) {
            let s = ReqSamples { conn, req };
            if !Cond::holds(&r.cond, &s) {
                continue;
            }
            if matches!(r.action, Action::TrackSc(..)) && req.extensions.get::<super::samples::ReqTrackers>().is_none()
            {
                req.extensions.insert(super::samples::ReqTrackers::default());
            }
            let s = ReqSamples { conn, req };
            if r.action.is_final() {
                s.final_rule(&r.span);
            }
            let edit = match &r.action {
                Action::Allow => break,
                a @ (Action::TrackSc(..) | Action::ScIncGpc0(_)) => {
                    stick_effect(a, &s);
                    continue;
                }
                Action::SetPath(t) => {
                    let path = render(t, &s);
                    if let Some(u) = with_path(&req.uri, &path) {
                        retarget(req, u);
                    }
                    continue;
                }
                Action::SetUri(t) => {
                    match Uri::try_from(render(t, &s)) {
                        Ok(u) => retarget(req, u),
                        Err(e) => tracing::debug!("set-uri: not a request target ({e}): rule skipped"),
                    }
                    continue;
                }
                Action::SetPathQ(t) => {
                    let pq = render(t, &s);
                    if let Some(u) = with_path_query(&req.uri, &pq) {
                        retarget(req, u);
                    }
                    continue;
                }
                Action::SetQuery(t) => {
                    let q = render(t, &s);
                    // As HAProxy: a `?` there stays, even before an empty query.
                    let pq = match (req.uri.path_and_query().map(|p| p.as_str()), q.is_empty()) {
                        (Some(p), _) if p.contains('?') => format!("{}?{q}", req.uri.path()),
                        (_, true) => req.uri.path().to_string(),
                        _ => format!("{}?{q}", req.uri.path()),
                    };
                    if let Some(u) = with_path_query(&req.uri, &pq) {
                        retarget(req, u);
                    }
                    continue;
                }
                Action::SetMethod(t) => {
                    if let Ok(m) = http::Method::from_bytes(render(t, &s).as_bytes()) {
                        req.method = m;
                    }
                    continue;
                }
                Action::ReplaceTarget(part, re, t) => {
                    let now = match part {
                        rules::TargetPart::Path => req.uri.path().to_string(),
                        rules::TargetPart::PathQ => req.uri.path_and_query().map_or("/", |p| p.as_str()).to_string(),
                        rules::TargetPart::Uri => req.uri.to_string(),
                    };
                    let Some(caps) = re.captures(&now) else { continue };
                    let new = expand(&render(t, &s), &caps);
                    let uri = match part {
                        rules::TargetPart::Path => with_path(&req.uri, &new),
                        rules::TargetPart::PathQ => with_path_query(&req.uri, &new),
                        rules::TargetPart::Uri => Uri::try_from(new).ok(),
                    };
                    if let Some(u) = uri {
                        retarget(req, u);
                    }
                    continue;
                }
                Action::SetDst(f) | Action::SetDstPort(f) => {
                    let to = destination(&r.action, f, &s);
                    if let Some(to) = to {
                        req.extensions.insert(Destination(to));
                    }
                    continue;
                }
                Action::SetSrc(f) | Action::SetSrcPort(f) => {
                    if let Some(from) = source(&r.action, f, &s) {
                        req.extensions.insert(Source(from));
                    }
                    continue;
                }
                a @ (Action::ScSetGpt0(..) | Action::LogLevel(_)) => {
                    effect(a, &s, req);
                    continue;
                }
                Action::SetTimeout(tunnel, v) => {
                    let t = match v {
                        rules::TimeoutValue::Fixed(t) => Some(*t),
                        // Milliseconds; 0 or less leaves the timeout as it was.
                        rules::TimeoutValue::Expr(e) => crate::acl::first(&s, e, |v| v.int())
                            .flatten()
                            .and_then(|ms| u64::try_from(ms).ok())
                            .filter(|ms| *ms > 0)
                            .map(std::time::Duration::from_millis),
                    };
                    if let Some(t) = t {
                        let mut now = req.extensions.get::<StreamTimeouts>().copied().unwrap_or_default();
                        match tunnel {
                            true => now.tunnel = Some(t),
                            false => now.server = Some(t),
                        }
                        req.extensions.insert(now);
                    }
                    continue;
                }
                Action::DisableL7Retry => {
                    req.extensions.insert(NoL7Retry);
                    continue;
                }
                Action::CacheUse(cache) => {
                    let (txn, hit) = cache.lookup(req);
                    req.extensions.insert(txn);
                    if let Some(res) = hit {
                        return Verdict::Cached(Box::new(res));
                    }
                    continue;
                }
                Action::Capture(e, slot) => {
                    if let Some(v) = crate::acl::text(&s, e) {
                        if let Some(c) = req.extensions.get_mut::<super::access_log::ReqCaptured>() {
                            c.capture(*slot, &v);
                        }
                    }
                    continue;
                }
                Action::SilentDrop => return Verdict::SilentDrop(r.span.clone()),
                Action::Normalize(n) => {
                    match super::normalize::uri(&req.uri, *n) {
                        Ok(Some(u)) => retarget(req, u),
                        Ok(None) => {}
                        Err(super::normalize::BadEscape) => {
                            let s = ReqSamples { conn, req };
                            return Verdict::Respond {
                                response: Box::new(self.reply(&Reply::Error(400), &s, fallback)),
                                denied: true,
                            };
                        }
                    }
                    continue;
                }
                Action::SetVar(..) | Action::UnsetVar(_) => {
                    effect(&r.action, &s, req);
                    continue;
                }
                Action::Reply(rep, denied) => {
                    return Verdict::Respond {
                        denied: *denied,
                        response: Box::new(self.reply(rep, &s, fallback)),
                    }
                }
                Action::Redirect(red) => {
                    return Verdict::Respond {
                        response: Box::new(redirect(red, req, &s)),
                        denied: false,
                    }
                }
                Action::Service(svc) => return Verdict::Service(*svc),
                Action::Auth(realm) => return Verdict::Auth(realm.clone()),
                Action::Reject => return Verdict::Reject(r.span.clone()),
                Action::Tarpit(status) => return Verdict::Tarpit(*status),
                Action::WaitForBody(time, at_least, next) => {
                    return Verdict::WaitBody {
                        next: *next,
                        time: Some(*time),
                        at_least: *at_least,
                    }
                }
                a => prepare(a, &s),
            };
            apply(edit, &mut req.headers);
        }
        if self.restrict_hdr_names != clearway_config::model::HdrNames::Preserve {
            return self.restrict_names(req, conn, fallback);
        }
        Verdict::Continue
    }

    /// `option http-restrict-req-hdr-names delete|reject`, after the request rules: header
    /// fields whose names hold anything but letters, digits and `-` (`X_Forwarded_For`, which
    /// some servers and FastCGI read as `X-Forwarded-For`) are removed, or refuse the
    /// request (403).
    #[inline(never)]
    fn restrict_names(&self, req: &mut Parts, conn: &ConnSamples, fallback: Option<&ErrorPages>) -> Verdict {
        let odd = |n: &HeaderName| !n.as_str().bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !req.headers.keys().any(odd) {
            return Verdict::Continue;
        }
        if self.restrict_hdr_names == clearway_config::model::HdrNames::Reject {
            let s = ReqSamples { conn, req };
            return Verdict::Respond {
                response: Box::new(self.reply(&Reply::Error(403), &s, fallback)),
                denied: true,
            };
        }
        let names: Vec<HeaderName> = req.headers.keys().filter(|n| odd(n)).cloned().collect();
        for n in names {
            req.headers.remove(n);
        }
        Verdict::Continue
    }

    /// Whether the response rules read the request (so it must be kept until the response).
    pub fn reads_request_later(&self) -> bool {
        self.has_response_rules() || self.has_after_rules()
    }

    fn reply(&self, rep: &Reply, s: &dyn Samples, fallback: Option<&ErrorPages>) -> http::Response<Bytes> {
        match rep {
            Reply::Error(status) => self.errors.response(fallback, *status),
            Reply::Page(page, extra, format) => page_reply(page, extra, format.as_ref(), s),
        }
    }
}
