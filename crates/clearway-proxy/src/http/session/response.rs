//! What goes back to the client instead of, or on top of, forwarding: a server's response
//! through the response rules and persistence cookies (`http-response deny` and `option
//! checkcache` refusing it), and Clearway's own answers (error pages, `auth` challenges, a
//! request whose server's sessions were shut down). Must not choose servers or connect.

use super::Session;
use crate::http::access_log::{ReqLog, ResCaptured};
use crate::http::body::ResBody;
use crate::http::cookie::{unix_now, Persisted};
use crate::http::hop::strip_hop_by_hop;
use crate::http::read_ahead::BodyAhead;
use crate::http::rules::ResVerdict;
use crate::log::throttle::throttled;
use crate::model::Backend;
use clearway_core::Field;
use http::header;
use http::Response;
use hyper::body::Body as _;

impl Session {
    /// A request whose server had its sessions shut down (`shutdown sessions server`) before
    /// the response came: 502, logged `KH`, as HAProxy answers it.
    pub(super) fn killed(&self, be: &Backend, parts: &http::request::Parts) -> Response<ResBody> {
        if let Some(l) = parts.extensions.get::<ReqLog>() {
            l.killed();
        }
        self.error(Some(be), 502)
    }

    /// HAProxy's `auth` action: a 401 with `WWW-Authenticate`, or for a proxy request
    /// (`option http-use-proxy-header`, a target that is not a path) a 407 with
    /// `Proxy-Authenticate`, asking for Basic credentials in `realm`.
    pub(super) fn ask_credentials(
        &self,
        be: Option<&Backend>,
        realm: &str,
        parts: &http::request::Parts,
    ) -> Response<ResBody> {
        let (status, field) = if crate::http::auth::ProxyRequest::is(parts) {
            (407, header::PROXY_AUTHENTICATE)
        } else {
            (401, header::WWW_AUTHENTICATE)
        };
        let mut r = self.error(be, status);
        crate::http::auth::challenge(&mut r, field, realm);
        r
    }

    /// `http-request tarpit`: the request is held for `timeout tarpit` (else `timeout
    /// connect`) of the proxy whose rule it is, then answered with `status`; counted as
    /// denied, logged `PT`.
    pub(super) async fn tarpit(
        &self,
        be: Option<&Backend>,
        status: u16,
        parts: &http::request::Parts,
    ) -> Response<ResBody> {
        self.fe.count(&self.conn, Field::DeniedReq);
        if let Some(b) = be {
            b.rt.counters.inc(Field::DeniedReq);
        }
        if let Some(l) = parts.extensions.get::<ReqLog>() {
            l.tarpitted();
        }
        let t = match be {
            Some(b) => b.rt.timeouts.tarpit.or(b.rt.timeouts.connect),
            None => self.fe.timeouts.tarpit.or(self.fe.timeouts.connect),
        };
        // Boxed: a request's future holds what its awaits keep, and most never get here.
        Box::pin(tokio::time::sleep(t.unwrap_or_default())).await;
        self.error(be, status)
    }

    pub(super) fn error(&self, be: Option<&Backend>, status: u16) -> Response<ResBody> {
        match be {
            Some(b) => b.http.errors.response(Some(&self.fe.http.errors), status),
            None => self.fe.http.errors.response(None, status),
        }
    }

    /// The request's server and tunnel timeouts: its backend's, or what `set-timeout` rules
    /// made them.
    #[inline]
    pub(super) fn server_timeouts(
        &self,
        be: &Backend,
        parts: &http::request::Parts,
    ) -> (Option<std::time::Duration>, Option<std::time::Duration>) {
        let t = &be.rt.timeouts;
        if !(be.http.sets_timeouts || self.fe.http.sets_timeouts) {
            return (t.server, t.tunnel);
        }
        own_timeouts(be, parts)
    }

    /// A server's response on its way to the client: hop-by-hop headers out, then the
    /// backend's and the frontend's response rules (from `resume` on, when a wait for the
    /// body interrupted them). When a rule waits for the body, that wait is put in `wait`
    /// (the response returned then stands for nothing): `waited` goes on from there. (Not a
    /// `Result`, nor split in two: the usual response would be copied once more.)
    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_response(
        &self,
        be: &Backend,
        (server, persisted): (usize, &Persisted),
        req: &http::request::Parts,
        mut rp: http::response::Parts,
        mut body: ResBody,
        resume: Option<At>,
        wait: &mut Option<Box<Waiting>>,
    ) -> Response<ResBody> {
        let fe = &self.fe;
        if resume.is_none() {
            be.rt.servers[server].counters.inc(Field::of_status(rp.status.as_u16()));
            self.stick(be, (server, persisted), req, &rp);
            strip_hop_by_hop(&mut rp.headers);
            if fe.http.reads_route || be.http.reads_route {
                rp.extensions.insert(crate::http::samples::ServedBy {
                    id: be.rt.servers[server].id,
                    name: be.rt.servers[server].name.as_str().into(),
                });
            }
            // Header captures before the rules (which may fill slots of their own).
            if fe.captures.reads_response() {
                rp.extensions.insert(ResCaptured::headers(fe, &rp.headers));
            }
        }
        // `tcp-response content` rules, on the head as it arrived, before the HTTP ones.
        if resume.is_none() && be.tcp_rules.has_response() {
            if let Some(span) = self.tcp_response_rules(be, req, &rp) {
                return self.drop_response(be, server, req, body, &span);
            }
        }
        let at = resume.unwrap_or(At::Backend(0));
        match self.response_rules(Some(be), req, &mut rp, at) {
            (ResVerdict::Continue, _) => {}
            // A rule's `deny`.
            (ResVerdict::Deny(status), _) => return self.refuse_response(be, req, body, (status, None)),
            (v @ (ResVerdict::Answer { .. } | ResVerdict::Return(_)), _) => {
                return self.answer_instead(be, req, body, v)
            }
            (ResVerdict::WaitBody { next, time, at_least }, at) => {
                *wait = Some(Box::new(Waiting {
                    rp,
                    body,
                    at: at.at(next),
                    time,
                    at_least,
                }));
                return Response::new(ResBody::local(bytes::Bytes::new()));
            }
        }
        if let Some(c) = rp.extensions.get_mut::<ResCaptured>() {
            c.cookie(fe, &rp.headers);
        }
        // Persistence cookies after the rules, as HAProxy treats them.
        let verdict = persist_response(be, (server, persisted), req, &mut rp);
        if verdict.is_err() {
            let msg = format!(
                "Blocking cacheable cookie in response from instance {}, server {}.",
                be.rt.name, be.rt.servers[server].name
            );
            tracing::error!("{msg}");
            be.events.send(crate::log::ALERT, &msg);
            return self.refuse_response(be, req, body, (502, None));
        }
        // `cache-store` (a response rule): the body is kept as it passes.
        if be.http.has_response_rules() || fe.http.has_response_rules() {
            if let Some(f) = rp
                .extensions
                .remove::<crate::http::cache::Filling>()
                .and_then(|f| f.take())
            {
                body.fill(f);
            }
        }
        if fe.http.compression.is_some() || be.http.compression.is_some() {
            if let Some(a) = req.extensions.get::<crate::http::compress::Accepted>() {
                self.compress(be, a.0, req, &mut rp, &mut body);
            }
        }
        Response::from_parts(rp, body)
    }

    /// The response rules from `at` on: the backend's, then the frontend's, as HAProxy runs
    /// them. What they decided, and whose rules decided it.
    #[inline]
    fn response_rules(
        &self,
        be: Option<&Backend>,
        req: &http::request::Parts,
        rp: &mut http::response::Parts,
        mut at: At,
    ) -> (ResVerdict, At) {
        loop {
            let v = match (at, be) {
                (At::Backend(i), Some(b)) => b.http.on_response(rp, req, &self.conn, i),
                (At::Backend(_), None) => ResVerdict::Continue,
                (At::Frontend(i), _) => self.fe.http.on_response(rp, req, &self.conn, i),
            };
            match (v, at) {
                (ResVerdict::Continue, At::Backend(_)) => at = At::Frontend(0),
                (v, at) => return (v, at),
            }
        }
    }

    /// The backend's `tcp-response content` rules on a response's head: the rule that
    /// rejected it, if one did.
    #[inline(never)]
    fn tcp_response_rules(
        &self,
        be: &Backend,
        req: &http::request::Parts,
        rp: &http::response::Parts,
    ) -> Option<clearway_config::model::Span> {
        let s = crate::http::samples::ResSamples {
            req: crate::http::samples::ReqSamples { conn: &self.conn, req },
            res: rp,
        };
        match be.tcp_rules.on_http_response(&s) {
            crate::inspect::Verdict::Reject(span) => Some(span.clone()),
            _ => None,
        }
    }

    /// A response a `tcp-response content reject` rule refused, as HAProxy treats it: the
    /// client's connection is closed without an answer, the server's too; counted as a
    /// denied response, logged `PD` with no status.
    #[inline(never)]
    fn drop_response(
        &self,
        be: &Backend,
        server: usize,
        req: &http::request::Parts,
        body: ResBody,
        span: &clearway_config::model::Span,
    ) -> Response<ResBody> {
        tracing::info!(backend = %be.rt.name, server = %be.rt.servers[server].name, client = %self.conn.peer, "response rejected by 'tcp-response content reject' at {span}");
        let listener = self.conn.listener.as_ref().map(|l| &l.counters);
        let sv = &be.rt.servers[server].counters;
        for c in [&self.fe.counters, &be.rt.counters, sv].into_iter().chain(listener) {
            c.inc(Field::DeniedResp);
        }
        if let Some(l) = req.extensions.get::<ReqLog>() {
            l.response_dropped();
        }
        // The server's connection goes with its body (reset: its state is unknown).
        drop(body);
        // An empty answer marked silent: the client side closes its connection instead.
        let mut res = Response::new(ResBody::local(bytes::Bytes::new()));
        *res.status_mut() = http::StatusCode::BAD_GATEWAY;
        res.extensions_mut().insert(crate::http::reply::Silent);
        res
    }

    /// `on_response` for a response whose rules may wait for its body (`http-response
    /// wait-for-body`), and the wait.
    pub(super) async fn on_response_waiting(
        &self,
        be: &Backend,
        sp: (usize, &Persisted),
        req: &http::request::Parts,
        rp: http::response::Parts,
        body: ResBody,
    ) -> Response<ResBody> {
        let mut wait = None;
        let r = self.on_response(be, sp, req, rp, body, None, &mut wait);
        match wait {
            None => r,
            Some(w) => self.waited(be, sp, req, w).await,
        }
    }

    /// A response whose rules wait for its body (`http-response wait-for-body`): the body
    /// is read ahead (`res.body`), then the rules go on. 504 when it does not come within
    /// the rule's time (logged `sR`), 502 when the server's body fails.
    async fn waited(
        &self,
        be: &Backend,
        (server, persisted): (usize, &Persisted),
        req: &http::request::Parts,
        mut w: Box<Waiting>,
    ) -> Response<ResBody> {
        loop {
            let room = crate::http::client_h1::max_head();
            match tokio::time::timeout(w.time, w.body.read_ahead(w.at_least, room)).await {
                Ok(Ok(data)) => {
                    let size = w.body.size_hint().exact();
                    w.rp.extensions.insert(BodyAhead { data, size });
                }
                Ok(Err(e)) => {
                    throttled!(warn,
                        backend = %be.rt.name, server = %be.rt.servers[server].name,
                        "response body awaited for the rules failed: {e}"
                    );
                    super::request::count_failed_response(be, server);
                    return self.error(Some(be), 502);
                }
                Err(_) => {
                    if let Some(l) = req.extensions.get::<ReqLog>() {
                        l.body_late(b's');
                    }
                    super::request::count_failed_response(be, server);
                    return self.error(Some(be), 504);
                }
            }
            let Waiting { rp, body, at, .. } = *w;
            let mut again = None;
            let r = self.on_response(be, (server, persisted), req, rp, body, Some(at), &mut again);
            match again {
                None => return r,
                Some(a) => w = a,
            }
        }
    }

    /// A response from a cache (`cache-use`): the response rules see it as a server's
    /// (the backend's first), as HAProxy runs them.
    pub(super) fn cached(
        &self,
        be: Option<&Backend>,
        req: &http::request::Parts,
        res: Response<bytes::Bytes>,
    ) -> Response<ResBody> {
        let (mut rp, body) = res.into_parts();
        let mut at = At::Backend(0);
        loop {
            match self.response_rules(be, req, &mut rp, at) {
                (ResVerdict::Continue, _) => break,
                (ResVerdict::Deny(status) | ResVerdict::Return(status), _) => return self.error(be, status),
                (ResVerdict::Answer { response, .. }, _) => return response.map(ResBody::from),
                // The body is all here already.
                (ResVerdict::WaitBody { next, .. }, whose) => {
                    let size = Some(body.len() as u64);
                    rp.extensions.insert(BodyAhead {
                        data: body.clone(),
                        size,
                    });
                    at = whose.at(next);
                }
            }
        }
        Response::from_parts(rp, ResBody::from(body))
    }

    /// `compression`: a response that qualifies is marked compressed and its body goes
    /// through the encoder.
    fn compress(
        &self,
        be: &Backend,
        algo: clearway_config::model::CompAlgo,
        req: &http::request::Parts,
        rp: &mut http::response::Parts,
        body: &mut ResBody,
    ) {
        use crate::http::compress;
        let old = |v: http::Version| v == http::Version::HTTP_09 || v == http::Version::HTTP_10;
        let r = compress::Response {
            status: rp.status.as_u16(),
            http11: !old(req.version) && !old(rp.version),
            head_request: req.method == http::Method::HEAD,
            framed: !body.until_close(),
            headers: &rp.headers,
        };
        let types = compress::types(self.fe.http.compression.as_ref(), be.http.compression.as_ref());
        if compress::qualifies(&r, types) {
            compress::mark(&mut rp.headers, algo);
            body.compress(compress::Encoder::new(algo));
        }
    }

    /// The `stick` rules' turn on a response from `server`: what they store names it.
    #[inline]
    pub(super) fn stick(
        &self,
        be: &Backend,
        (server, persisted): (usize, &Persisted),
        req: &http::request::Parts,
        rp: &http::response::Parts,
    ) {
        if !be.sticking.is_empty() {
            let s = crate::http::samples::ResSamples {
                req: crate::http::samples::ReqSamples { conn: &self.conn, req },
                res: rp,
            };
            be.sticking.on_response(&s, &persisted.stick, &be.rt.servers[server]);
        }
    }

    /// A server's response refused by the proxy (`http-response deny`, `option
    /// checkcache`): the client gets the error `status` instead, logged `PH`.
    pub(super) fn refuse_response(
        &self,
        be: &Backend,
        req: &http::request::Parts,
        body: ResBody,
        (status, page): (u16, Option<Box<Response<bytes::Bytes>>>),
    ) -> Response<ResBody> {
        be.rt.counters.inc(Field::DeniedResp);
        self.fe.counters.inc(Field::DeniedResp);
        if let Some(l) = req.extensions.get::<ReqLog>() {
            l.blocked();
        }
        drop(body);
        match page {
            Some(p) => p.map(ResBody::from),
            None => self.error(Some(be), status),
        }
    }

    /// A server's response a rule replaced with an answer of its own: `deny` with one
    /// (refused, as `refuse_response`), or `return` (answered by the proxy, logged `LH`
    /// with no response time, as HAProxy logs it).
    #[inline(never)]
    fn answer_instead(
        &self,
        be: &Backend,
        req: &http::request::Parts,
        body: ResBody,
        v: ResVerdict,
    ) -> Response<ResBody> {
        match v {
            ResVerdict::Answer { response, denied: true } => {
                let status = response.status().as_u16();
                self.refuse_response(be, req, body, (status, Some(response)))
            }
            v => {
                drop(body);
                if let Some(l) = req.extensions.get::<ReqLog>() {
                    l.answered_locally();
                }
                match v {
                    ResVerdict::Answer { response, .. } => response.map(ResBody::from),
                    ResVerdict::Return(status) => self.error(Some(be), status),
                    _ => self.error(Some(be), 502),
                }
            }
        }
    }
}

/// Whose response rules are next, and from which one.
#[derive(Debug, Clone, Copy)]
pub(super) enum At {
    Backend(usize),
    Frontend(usize),
}

impl At {
    /// Rule `i` of the same proxy's.
    fn at(self, i: usize) -> At {
        match self {
            At::Backend(_) => At::Backend(i),
            At::Frontend(_) => At::Frontend(i),
        }
    }
}

/// A server's response whose rules wait for its body (`http-response wait-for-body`).
pub(super) struct Waiting {
    rp: http::response::Parts,
    body: ResBody,
    /// The rule to go on with.
    at: At,
    time: std::time::Duration,
    at_least: u64,
}

/// The persistence cookies of a server's response (also a `101`, as HAProxy treats them),
/// and what `option checkcache` says of it.
pub(super) fn persist_response(
    be: &Backend,
    (server, persisted): (usize, &Persisted),
    req: &http::request::Parts,
    rp: &mut http::response::Parts,
) -> Result<(), crate::http::cookie::CacheableCookie> {
    let status = rp.status.as_u16();
    match (&be.cookie, &persisted.cookie) {
        (Some(c), Some(from)) => {
            let answer = crate::http::cookie::Answer {
                server,
                direct: persisted.assigned == Some(server),
                method: &req.method,
                status,
                now: unix_now(),
                checkcache: be.checkcache,
            };
            let (set, verdict) = c.on_response(&mut rp.headers, from, persisted.bent, &answer);
            if let Some(l) = req.extensions.get::<ReqLog>() {
                l.persistence([from.seen.log_char(), set.log_char()]);
            }
            verdict
        }
        _ if be.checkcache => crate::http::cookie::cacheable_cookie(&req.method, status, &rp.headers),
        _ => Ok(()),
    }
}

/// The request's server and tunnel timeouts when a `set-timeout` rule may have set them.
#[inline(never)]
fn own_timeouts(
    be: &Backend,
    parts: &http::request::Parts,
) -> (Option<std::time::Duration>, Option<std::time::Duration>) {
    let t = &be.rt.timeouts;
    let own = parts
        .extensions
        .get::<crate::http::rules::StreamTimeouts>()
        .copied()
        .unwrap_or_default();
    (own.server.or(t.server), own.tunnel.or(t.tunnel))
}
