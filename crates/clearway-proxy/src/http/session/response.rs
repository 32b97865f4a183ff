//! What goes back to the client instead of, or on top of, forwarding: a server's response
//! through the response rules and persistence cookies (`http-response deny` and `option
//! checkcache` refusing it), and Clearway's own answers (error pages, `auth` challenges, a
//! request whose server's sessions were shut down). Must not choose servers or connect.

use super::Session;
use crate::http::access_log::{ReqLog, ResCaptured};
use crate::http::body::ResBody;
use crate::http::cookie::{unix_now, Persisted};
use crate::http::hop::strip_hop_by_hop;
use crate::model::Backend;
use clearway_core::Field;
use http::header;
use http::Response;

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
    pub(super) fn server_timeouts(
        &self,
        be: &Backend,
        parts: &http::request::Parts,
    ) -> (Option<std::time::Duration>, Option<std::time::Duration>) {
        let t = &be.rt.timeouts;
        if !(be.http.sets_timeouts || self.fe.http.sets_timeouts) {
            return (t.server, t.tunnel);
        }
        let own = parts
            .extensions
            .get::<crate::http::rules::StreamTimeouts>()
            .copied()
            .unwrap_or_default();
        (own.server.or(t.server), own.tunnel.or(t.tunnel))
    }

    /// A server's response on its way to the client: hop-by-hop headers out, then the
    /// backend's and the frontend's response rules.
    pub(super) fn on_response(
        &self,
        be: &Backend,
        (server, persisted): (usize, &Persisted),
        req: &http::request::Parts,
        mut rp: http::response::Parts,
        mut body: ResBody,
    ) -> Response<ResBody> {
        be.rt.servers[server].counters.inc(Field::of_status(rp.status.as_u16()));
        self.stick(be, (server, persisted), req, &rp);
        strip_hop_by_hop(&mut rp.headers);
        let fe = &self.fe;
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
        // A response rule's `deny` (the backend's first, as HAProxy runs them).
        let denied = be
            .http
            .on_response(&mut rp, req, &self.conn)
            .or_else(|| fe.http.on_response(&mut rp, req, &self.conn));
        if let Some(status) = denied {
            return self.refuse_response(be, req, body, status);
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
            return self.refuse_response(be, req, body, 502);
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

    /// A response from a cache (`cache-use`): the response rules see it as a server's
    /// (the backend's first), as HAProxy runs them.
    pub(super) fn cached(
        &self,
        be: Option<&Backend>,
        req: &http::request::Parts,
        res: Response<bytes::Bytes>,
    ) -> Response<ResBody> {
        let (mut rp, body) = res.into_parts();
        let denied = be
            .and_then(|b| b.http.on_response(&mut rp, req, &self.conn))
            .or_else(|| self.fe.http.on_response(&mut rp, req, &self.conn));
        if let Some(status) = denied {
            return self.error(be, status);
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
        status: u16,
    ) -> Response<ResBody> {
        be.rt.counters.inc(Field::DeniedResp);
        self.fe.counters.inc(Field::DeniedResp);
        if let Some(l) = req.extensions.get::<ReqLog>() {
            l.blocked();
        }
        drop(body);
        self.error(Some(be), status)
    }
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
