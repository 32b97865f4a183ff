//! One HTTP client connection's requests: each goes through the frontend's rules, the
//! backend choice, the backend's rules, a reused or new server connection (HTTP/1.1 or
//! HTTP/2), and back through the response rules. The connection itself (the choice of
//! protocol, HTTP/2's client-side timeouts) is `client`'s. Must not pick servers itself.

mod abort;
mod ahead;
mod answer;
mod client;
mod finish;
mod h2;
mod last;
mod open;
mod persist;
mod request;
mod response;
mod retry;
#[cfg(test)]
mod tests;
mod upgrade;

use crate::log::throttle::throttled;
use client::Activity;
pub use client::{serve, serve_once_readable};
use h2::{handshake_h2, H2Sent};
use request::{client_connection, count_failed_response, idempotent, origin_form, responded, spoofed_source};
use response::persist_response;
use upgrade::{ClientSwitch, ServerSwitch};

use super::access_log::ReqLog;
use super::body::{DoneGuard, Lease, ResBody};
use super::client_h1;
use super::h1;
use super::hop::strip_hop_by_hop_request;
use super::pool::{Key, Pool, ReqBody, Sender};
use super::rules::{forward_for, Verdict};
use crate::acl::ConnSamples;
use crate::dispatch::{self, ClientSide, Got};
use crate::kill::Kill;
use crate::model::{Backend, Frontend};
use clearway_config::model::{HttpConnMode, HttpReuse};
use clearway_core::Field;
use http::header::{self, HeaderValue};
use http::{Request, Response, Version};
use hyper::body::Body as _;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub use super::client_h1::max_head;
/// The largest response head taken from a server (502 above it).
const READ_BUF: usize = 64 * 1024;

/// One client connection's state shared by its requests.
struct Session {
    fe: Arc<Frontend>,
    conn: ConnSamples,
    /// HTTP/2 connections' timeouts follow their requests through it; an HTTP/1
    /// connection's are kept by `client_h1`, which needs none of it.
    act: Option<Arc<Activity>>,
    /// Requests begun so far.
    requests: AtomicU64,
    /// Server connections private to this session (`http-reuse never`, or after an NTLM
    /// challenge).
    own: std::sync::OnceLock<Arc<Pool>>,
    /// The server the next request prefers.
    last: last::Last,
    /// The request in flight, when its backend drops it if its client closes.
    abort: abort::Abort,
}

fn head_size(req: &http::request::Parts) -> usize {
    let line = req.method.as_str().len() + req.uri.path_and_query().map_or(1, |p| p.as_str().len()) + 12;
    line + req
        .headers
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum::<usize>()
}

/// Marks the response to a request a `tcp-request content` rule refused: never sent.
#[derive(Clone, Copy)]
struct Rejected;

impl Session {
    fn new(fe: Arc<Frontend>, conn: ConnSamples, act: Option<Arc<Activity>>) -> Session {
        Session {
            fe,
            conn,
            act,
            requests: AtomicU64::new(0),
            own: std::sync::OnceLock::new(),
            last: last::Last::default(),
            abort: abort::Abort::default(),
        }
    }

    /// The session's own idle server connections (`http-reuse never`), made on first use:
    /// most sessions never need one.
    fn own(&self) -> &Arc<Pool> {
        self.own
            .get_or_init(|| Arc::new(Pool::new(4, Duration::from_secs(3600), 1)))
    }

    /// One request. Only `route` is awaited; what comes before and after is plain code, so the
    /// future kept (and moved) per request holds little besides `route`'s.
    fn handle(self: Arc<Self>, req: Request<ReqBody>) -> impl Future<Output = Response<ResBody>> + Send {
        let index = self.requests.fetch_add(1, Ordering::Relaxed);
        let done = self.act.as_ref().map(|a| {
            a.begin();
            DoneGuard::new(a.clone())
        });
        // Moved into the block as they are: a `let mut` copy inside would hold the head twice.
        let (mut parts, body) = req.into_parts();
        // `http://h:80/` is `http://h/` (RFC 3986, 6.3.2), as HAProxy writes it for logs, rules
        // and servers alike.
        if parts.uri.scheme().is_some() {
            super::normalize::default_port(&mut parts);
        }
        if self.fe.log_requests {
            if let Some(l) = ReqLog::begin(&self.fe, &parts, || head_size(&parts)) {
                parts.extensions.insert(l);
            }
        }
        if index == 0 {
            parts.extensions.insert(super::samples::FirstRequest);
        }
        if !self.fe.captures.request.is_empty() {
            if let Some(c) = super::access_log::ReqCaptured::begin(&self.fe, &parts) {
                parts.extensions.insert(c);
            }
        }
        async move {
            let (mut res, be) = self.route(index, &mut parts, body).await;
            self.abort.disarm();
            self.respond(&mut res, be.as_ref(), &mut parts, done);
            super::decode::recycle(std::mem::take(&mut parts.headers));
            res
        }
    }

    /// The response to one request, and the backend that handled it, if any.
    async fn route(
        &self,
        index: u64,
        parts: &mut http::request::Parts,
        mut body: ReqBody,
    ) -> (Response<ResBody>, Option<Arc<Backend>>) {
        let fe = &self.fe;
        if fe.use_proxy_header {
            super::auth::ProxyRequest::mark(parts);
        }
        // An HTTP/1 head longer than this was refused before it was parsed (client_h1);
        // HTTP/2 heads are measured here.
        if parts.version == Version::HTTP_2 {
            let uri_len = parts.uri.path_and_query().map_or(0, |p| p.as_str().len());
            if uri_len > max_head() {
                throttled!(info, frontend = %fe.name, client = %self.conn.peer, "request refused: URI of {uri_len} bytes");
                return (self.error(None, 414), None);
            }
            let size = head_size(parts);
            if size > max_head() {
                throttled!(info, frontend = %fe.name, client = %self.conn.peer, "request refused: headers of {size} bytes");
                return (self.error(None, 431), None);
            }
        }
        // HTTP/2 names the host in the request target; servers get it as a Host header. A
        // `host` field beside `:authority` yields to it (RFC 9113, 8.3.1), so that rules see
        // the host the server will. (HTTP/1's absolute targets were checked on arrival.)
        if parts.version == Version::HTTP_2 || !parts.headers.contains_key(header::HOST) {
            if let Some(a) = parts
                .uri
                .authority()
                .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
            {
                parts.headers.insert(header::HOST, a);
            }
            upgrade::from_extended_connect(parts);
        }
        // `unique-id-format`: the request's id, before any rule may read it.
        if let Some((format, _)) = &fe.unique_id {
            let id = self.unique_id(format, parts);
            parts.extensions.insert(super::samples::UniqueId(id));
        }
        // `tcp-request content` rules: in HTTP, on each request, before anything else.
        if fe.tcp_rules.content_writes_vars {
            super::samples::with_vars(parts);
            parts.extensions.insert(super::samples::ReqTrackers::default());
        }
        // Each request counts on the entries the session tracks (HAProxy's http_req_cnt).
        if let Some(t) = self.conn.trackers.get() {
            let now = crate::stick::now_ms();
            for (table, key) in t.all() {
                table.count_request(&key, now);
            }
        }
        if let Some(span) = self.content_rejects(&fe.tcp_rules, parts) {
            return (self.reject(parts, span, false), None);
        }
        if let Some(t) = parts.extensions.get::<super::samples::ReqTrackers>() {
            let now = crate::stick::now_ms();
            for (table, key) in t.0.all() {
                table.count_request(&key, now);
            }
        }
        // `monitor-uri`: answered here, before any other rule, and not logged (HAProxy's
        // purpose for it: an upper load balancer's probe).
        if fe.http.is_monitor(parts) {
            parts.extensions.remove::<ReqLog>();
            fe.counters.inc(Field::Intercepted);
            let status = fe.http.monitor_status(parts, &self.conn);
            return (fe.http.errors.response(None, status), None);
        }
        let mut verdict = fe.http.on_request(parts, &self.conn, None, 0);
        if let Verdict::WaitBody { .. } = verdict {
            let wait = self.after_body(&fe.http, verdict, (parts, &mut body), None, &fe.timeouts);
            verdict = match Box::pin(wait).await {
                Ok(v) => v,
                Err(status) => return (self.error(None, status), None),
            };
        }
        match verdict {
            Verdict::WaitBody { .. } | Verdict::Continue => {}
            Verdict::Cached(res) => return (self.cached(None, parts, *res), None),
            Verdict::Respond { response, denied } => {
                if denied {
                    fe.count(&self.conn, Field::DeniedReq);
                }
                return (response.map(ResBody::from), None);
            }
            Verdict::Service(svc) => return (self.service(svc, parts), None),
            Verdict::Reject(span) => return (self.reject(parts, &span, false), None),
            Verdict::SilentDrop(span) => return (self.reject(parts, &span, true), None),
            Verdict::Tarpit(status) => return (self.tarpit(None, status, parts).await, None),
            Verdict::Auth(realm) => {
                fe.counters.inc(Field::Intercepted);
                return (self.ask_credentials(None, &realm, parts), None);
            }
        }
        if let Some(app) = fe
            .http
            .stats
            .as_ref()
            .filter(|a| super::stats_app::wants_page(a, parts))
        {
            return (self.stats_page(app, &fe.name, parts, body, &fe.http.errors).await, None);
        }
        let chosen = fe
            .choose_backend(&super::samples::ReqSamples {
                conn: &self.conn,
                req: parts,
            })
            .cloned();
        let Some(be) = chosen else {
            throttled!(warn, frontend = %fe.name, client = %self.conn.peer, "no backend for this request");
            return (self.error(None, 503), None);
        };
        if fe.http.reads_route || be.http.reads_route {
            parts.extensions.insert(super::samples::RoutedTo(be.clone()));
        }
        // HAProxy watches a client for its close when the frontend has the option, and drops
        // the request when the backend has it too.
        if be.abortonclose && fe.abortonclose {
            self.abort.arm(parts.extensions.get::<ReqLog>(), &be);
        }
        // A listen section's rules were run as the frontend's.
        if be.tcp_rules.content_writes_vars {
            super::samples::with_vars(parts);
        }
        if let Some(span) = self.content_rejects(&be.tcp_rules, parts) {
            return (self.reject(parts, span, false), Some(be));
        }
        let mut verdict = be.http.on_request(parts, &self.conn, Some(&fe.http.errors), 0);
        if let Verdict::WaitBody { .. } = verdict {
            let wait = self.after_body(
                &be.http,
                verdict,
                (parts, &mut body),
                Some(&fe.http.errors),
                &be.rt.timeouts,
            );
            verdict = match Box::pin(wait).await {
                Ok(v) => v,
                Err(status) => return (self.error(Some(&be), status), Some(be)),
            };
        }
        match verdict {
            Verdict::WaitBody { .. } | Verdict::Continue => {}
            Verdict::Cached(res) => {
                let res = self.cached(Some(&be), parts, *res);
                return (res, Some(be));
            }
            Verdict::Respond { response, denied } => {
                if denied {
                    fe.count(&self.conn, Field::DeniedReq);
                    be.rt.counters.inc(Field::DeniedReq);
                }
                return (response.map(ResBody::from), Some(be));
            }
            Verdict::Service(svc) => return (self.service(svc, parts), Some(be)),
            Verdict::Auth(realm) => return (self.ask_credentials(Some(&be), &realm, parts), Some(be)),
            Verdict::Reject(span) => return (self.reject(parts, &span, false), Some(be)),
            Verdict::SilentDrop(span) => return (self.reject(parts, &span, true), Some(be)),
            Verdict::Tarpit(status) => {
                let res = self.tarpit(Some(&be), status, parts).await;
                return (res, Some(be));
            }
        }
        if let Some(app) = be
            .http
            .stats
            .as_ref()
            .filter(|a| super::stats_app::wants_page(a, parts))
        {
            let res = self.stats_page(app, &be.rt.name, parts, body, &be.http.errors).await;
            return (res, Some(be));
        }
        // `unique-id-header`: after the rules, as HAProxy adds it.
        if let Some((_, Some(h))) = &fe.unique_id {
            let id = parts.extensions.get::<super::samples::UniqueId>();
            if let Some(v) = id.and_then(|u| HeaderValue::from_str(&u.0).ok()) {
                parts.headers.insert(h.clone(), v);
            }
        }
        let res = self.forward(index, &be, parts, body).await;
        (res, Some(be))
    }

    async fn forward(
        &self,
        index: u64,
        be: &Arc<Backend>,
        parts: &mut http::request::Parts,
        body: ReqBody,
    ) -> Response<ResBody> {
        let fe = &self.fe;
        // A client that closes after this request (`Connection: close`, or HTTP/1.0 without
        // keep-alive) does not make the server close, as in HAProxy. Its HTTP/1.1 server
        // connection is not pooled (HAProxy keeps it idle when its estimate of the
        // connections needed allows; without one, a stream of closing clients would fill the
        // pool with connections nobody takes): once the response is in, it is reset
        // (`server_io`), which leaves no TIME_WAIT on either side and spares the server a FIN.
        let (client_closes, upgrade) = client_connection(parts);
        let mode = be.http.conn_mode.max(fe.http.conn_mode);
        // The backend's forwardfor wins over the frontend's, as one header is enough.
        let ff = be.http.forwardfor.as_ref().or(fe.http.forwardfor.as_ref());
        let uri = origin_form(&parts.uri);
        let hdr_ip = be.hdr_ip.as_ref().and_then(|h| {
            h.pick(&super::samples::ReqSamples {
                conn: &self.conn,
                req: parts,
            })
        });
        // `balance uri|url_param|hdr`: read before the headers move on.
        let request_key = if be.balance.hashes_request() {
            super::hash_key::of(&be.balance, parts)
        } else {
            None
        };
        // Persistence, then what the client accepts of compression, both read before the
        // headers move on.
        let (persisted, assigned) = self.persistence(be, parts);
        let compress = super::compress::on_request(fe.http.compression.as_ref(), be.http.compression.as_ref(), parts);
        // The request's headers are only copied when something reads them after they are
        // sent: response rules, or an SNI taken from the request.
        let mut headers = super::decode::Reused::new(
            if fe.http.reads_request_later() || be.http.reads_request_later() || be.sni_from_request {
                parts.headers.clone()
            } else {
                std::mem::take(&mut parts.headers)
            },
        );
        strip_hop_by_hop_request(&mut headers);
        let client = if fe.http.moves_addresses || be.http.moves_addresses {
            parts
                .extensions
                .get::<super::rules::Source>()
                .map_or(self.conn.peer, |s| s.0)
        } else {
            self.conn.peer
        };
        forward_for(ff, &mut headers, client.ip());
        // `option originalto`: the backend's settings win, as in HAProxy.
        let ot = be.http.originalto.as_ref().or(fe.http.originalto.as_ref());
        if ot.is_some() {
            let dst = parts
                .extensions
                .get::<super::rules::Destination>()
                .map_or(self.conn.local, |d| d.0);
            super::rules::original_to(ot, &mut headers, dst.ip());
        }
        // An HTTP/1.1 upgrade (WebSocket): the two hop-by-hop headers that ask for it go on.
        if let Some(proto) = &upgrade {
            headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
            headers.insert(header::UPGRADE, proto.clone());
        } else if mode != HttpConnMode::KeepAlive {
            headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        // Response header lines stay raw unless something reads them: response rules, a
        // response header or cookie capture.
        let raw_response = parts.version != Version::HTTP_2
            && be.cookie.is_none()
            && !be.checkcache
            && !be.sticking.on_responses()
            && !compress
            && !fe.http.has_response_rules()
            && !be.http.has_response_rules()
            && !fe.http.has_after_rules()
            && !be.http.has_after_rules()
            && !fe.captures.reads_response();
        let client_upgrade = upgrade.is_some().then(|| ClientSwitch::take(parts)).flatten();
        // A WebSocket request for a server whose WebSockets go over HTTP/1.1 (`ws`): a
        // connection of its own, never an idle one (which may be HTTP/2).
        let ws_h1 = |server: usize| be.side(server).ws_h1 && upgrade.as_ref().is_some_and(upgrade::is_websocket);

        // `set-dst`/`set-dst-port`: where a `0.0.0.0` server connects for this request;
        // `set-src`/`set-src-port`: the client the backend sees (`usesrc clientip`, `balance
        // source`). Boxed: this request's future holds it across its awaits.
        let moved: Option<Box<ConnSamples>> = (fe.http.moves_addresses || be.http.moves_addresses)
            .then(|| super::rules::moved(&self.conn, parts))
            .flatten()
            .map(Box::new);
        let conn = moved.as_deref().unwrap_or(&self.conn);
        let mut side = ClientSide {
            conn,
            hdr_ip,
            data_waiting: true,
            timed: fe.log_requests,
            request_key,
            assigned,
            unique_id: parts.extensions.get::<super::samples::UniqueId>().map(|u| &*u.0),
            slotted: None,
        };
        let reuse = be.http.reuse;
        let shared = match reuse {
            HttpReuse::Never => false,
            HttpReuse::Safe => index > 0,
            HttpReuse::Aggressive | HttpReuse::Always => true,
        };
        let sni_of = |server: usize| -> Option<Arc<str>> {
            let f = be.side(server).tls.as_ref()?.sni_fetch.as_ref()?;
            let s = super::samples::ReqSamples {
                conn: &self.conn,
                req: parts,
            };
            let v = crate::acl::text(&s, f)?;
            // A Host header's port is no part of a name.
            let host = match v.rsplit_once(':') {
                Some((h, p)) if !h.contains(':') && p.bytes().all(|b| b.is_ascii_digit()) => h,
                _ => v.as_str(),
            };
            Some(Arc::from(host.to_ascii_lowercase()))
        };
        let key = |server: usize| Key {
            dst: {
                let s = &be.rt.servers[server];
                s.is_original_destination().then(|| s.target(conn.local))
            },
            epoch: be.rt.servers[server].epoch(),
            backend: be.id,
            server,
            source: spoofed_source(be, server, conn.peer.ip(), hdr_ip),
            sni: sni_of(server),
        };
        // After an NTLM challenge the session's connections are its own, as with `never`.
        let private = reuse == HttpReuse::Never || self.last.private(be);
        let home = match (mode, private) {
            // A session's own pool is made only for a connection it will give back.
            (HttpConnMode::KeepAlive, true) if client_closes => None,
            (HttpConnMode::KeepAlive, true) => Some(self.own().clone()),
            (HttpConnMode::KeepAlive, false) => Some(be.pool.clone()),
            _ => None,
        };
        let mut prefer = self.last.preferred(be);
        // An empty body can go again if a reused connection turns out closed; one that was
        // streamed to a server cannot.
        let mut body = Some(if body.is_end_stream() { ReqBody::Empty } else { body });
        // `retry-on` conditions about the response: a request without a body goes again, up
        // to `retries` times (one with a body is not kept to be sent twice).
        let mut l7_left = if be.retry_on.after_response()
            && matches!(body, Some(ReqBody::Empty))
            && parts.extensions.get::<super::rules::NoL7Retry>().is_none()
        {
            be.rt.retries
        } else {
            0
        };
        for attempt in 0..2 + l7_left {
            // An idle connection: the session's own with `http-reuse never`, else the backend's
            // (not for a session's first request with `safe`). A closing client's last request
            // may take one too, though it does not give it back.
            let take = |server: usize| {
                if attempt > 0 || mode != HttpConnMode::KeepAlive || ws_h1(server) {
                    return None;
                }
                match reuse {
                    _ if private => self.own.get()?.take(&key(server)),
                    _ if shared => be.pool.take(&key(server)),
                    _ => None,
                }
            };
            // The usual case takes no future; waiting in the queue or connecting does, boxed
            // so that this request's own future stays small.
            let got = match dispatch::reuse_now(be, side, prefer, take) {
                dispatch::Now::Reused(slot, sender) => Ok(Got::Reused(slot, sender)),
                dispatch::Now::Slot(slot) => {
                    if let Some(l) = parts.extensions.get::<ReqLog>() {
                        l.tried(slot.server);
                    }
                    Box::pin(dispatch::connect_or_reuse(be, side, Some(slot), take)).await
                }
                dispatch::Now::Wait => Box::pin(dispatch::connect_or_reuse(be, side, None, take)).await,
            };
            let (slot, sender, reused) = match got {
                Ok(Got::Reused(slot, sender)) => {
                    be.rt.servers[slot.server].counters.inc(Field::Reused);
                    (slot, sender, true)
                }
                // A plain HTTP/1.1 server: no TLS and no HTTP/2 handshake to wait for, so no
                // future (and no copy of one into a box) per new server connection.
                Ok(Got::New(c))
                    if be.side(c.slot.server).tls.is_none() && (!be.side(c.slot.server).h2 || ws_h1(c.slot.server)) =>
                {
                    let tally = be.tally(c.slot.server);
                    let stream = Kill::guard(be.side(c.slot.server).kill.as_ref(), c.stream);
                    (
                        c.slot,
                        Sender::H1(h1::Conn::counted(stream, READ_BUF, Some(tally))),
                        false,
                    )
                }
                Ok(Got::New(c)) => {
                    let (sni, h1_only) = (sni_of(c.slot.server), ws_h1(c.slot.server));
                    match Box::pin(self.open(be, c, (sni, h1_only))).await {
                        Ok((slot, sender)) => (slot, sender, false),
                        Err(res) => return res,
                    }
                }
                Err(e) => {
                    throttled!(warn, frontend = %fe.name, backend = %be.rt.name, client = %self.conn.peer, "request refused: {e}");
                    if let (dispatch::DispatchError::Connect { server, .. }, Some(l)) =
                        (&e, parts.extensions.get::<ReqLog>())
                    {
                        if let Some(i) = be.server_index(server) {
                            l.tried(i);
                        }
                    }
                    // As HAProxy: no server, a full queue and failed connects all answer 503.
                    return self.error(Some(be), 503);
                }
            };
            let server = slot.server;
            if fe.log_requests {
                if let Some(l) = parts.extensions.get::<ReqLog>() {
                    l.connected(server, slot.dequeued);
                }
            }
            // A closing client's server connection goes back to the backend's pool too, as in
            // HAProxy: the pool's estimate of the connections needed bounds what stays idle.
            let lease = |slot: dispatch::SlotGuard| Lease {
                // The address count of when the slot was taken (see `SlotGuard::epoch`).
                key: Key {
                    epoch: slot.epoch,
                    ..key(server)
                },
                // A header that carried this request's unique id speaks for no other request
                // (HAProxy keys connections by their header).
                home: home.clone().filter(|_| !be.side(server).send_proxy.v2_unique_id),
                slot,
            };
            let req_body = body.take().unwrap_or(ReqBody::Empty);
            match sender {
                Sender::H1(conn) => {
                    let head = h1::Head {
                        method: &parts.method,
                        uri: &uri,
                        headers: &headers,
                        // An HTTP/1 client gets the server's header lines as they came when no
                        // response rule reads them; an HTTP/2 client's goes through hyper,
                        // which needs the header map.
                        raw: raw_response,
                        http10: parts.version == Version::HTTP_10,
                    };
                    // A body read ahead whole can go again if a reused connection turns out
                    // closed. Boxed: rare, and this future holds it across the send.
                    let again: Option<Box<ReqBody>> = match (reused, attempt) {
                        (true, 0) => req_body.whole_copy().map(Box::new),
                        _ => None,
                    };
                    // `timeout server` runs on the connection's own timer.
                    match conn.send(head, req_body, self.server_timeouts(be, parts).0).await {
                        // Not this answer: the request again (its connection closes). Matched
                        // by reference: the usual answer is not moved once more.
                        ref sent if l7_left > 0 && retry::retried(&be.retry_on, sent) => {
                            l7_left -= 1;
                            side.assigned = be.l7_retry(server, side.assigned, l7_left == 0);
                            retry::count_retry(be, server, side.assigned.is_none());
                            prefer = None;
                            continue;
                        }
                        Ok((mut rp, rb)) if rp.status == http::StatusCode::SWITCHING_PROTOCOLS => {
                            responded(fe, parts);
                            be.rt.servers[server].counters.inc(Field::Http1xx);
                            self.stick(be, (server, &persisted), parts, &rp);
                            if be.cookie.is_some() {
                                // A 101 is not cacheable: nothing to refuse.
                                let _ = persist_response(be, (server, &persisted), parts, &mut rp);
                            }
                            let proto = upgrade.unwrap_or(HeaderValue::from_static(""));
                            let key = headers.get(header::SEC_WEBSOCKET_KEY);
                            let t = self.server_timeouts(be, parts);
                            return self.tunnel(be, rp, (&proto, key), client_upgrade, (slot, t), ServerSwitch::H1(rb));
                        }
                        Ok((rp, rb)) => {
                            responded(fe, parts);
                            if let Some(o) = &be.side(server).observer {
                                o.status(rp.status.as_u16());
                            }
                            let auth = rp.extensions.get::<h1::ConnectionAuth>().is_some();
                            self.last.record(be, server, auth);
                            let mut lease = lease(slot);
                            if auth && lease.home.is_some() {
                                lease.home = Some(self.own().clone());
                            }
                            let rb = rb.with_idle_timeout(self.server_timeouts(be, parts).0);
                            let rb = ResBody::h1(rb, lease);
                            if be.http.waits_response || fe.http.waits_response {
                                // Boxed: only responses whose rules may wait for the body come here.
                                return Box::pin(self.on_response_waiting(be, (server, &persisted), parts, rp, rb))
                                    .await;
                            }
                            return self.on_response(be, (server, &persisted), parts, rp, rb, None, &mut None);
                        }
                        // Its server's sessions were shut down (the socket with them).
                        Err(_) if slot.killed() => return self.killed(be, parts),
                        Err(f) if f.replayable && reused && attempt == 0 && idempotent(&parts.method) => {
                            tracing::debug!(backend = %be.rt.name, "idle server connection was closed: {}; using a new one", f.error);
                        }
                        Err(f) if f.nothing_back && again.is_some() && idempotent(&parts.method) => {
                            tracing::debug!(backend = %be.rt.name, "idle server connection was closed: {}; the request and its body go over a new one", f.error);
                            body = again.map(|b| *b);
                        }
                        // The client's fault, not the server's: 408 when it stopped sending,
                        // 400 otherwise (as HAProxy answers a request it could not read).
                        Err(h1::Failed {
                            error: h1::Error::ClientBody(e),
                            ..
                        }) => {
                            let stalled = e
                                .downcast_ref::<super::req_body::BodyError>()
                                .is_some_and(|b| b.is_timeout());
                            throttled!(info,
                                frontend = %fe.name, backend = %be.rt.name, client = %self.conn.peer,
                                "request refused: {e}"
                            );
                            fe.count(&self.conn, Field::ErrReq);
                            return self.error(Some(be), if stalled { 408 } else { 400 });
                        }
                        Err(h1::Failed {
                            error: h1::Error::NoResponse(_),
                            ..
                        }) => {
                            throttled!(warn, backend = %be.rt.name, server = %be.rt.servers[server].name, "no response within 'timeout server'");
                            count_failed_response(be, server);
                            if let Some(o) = &be.side(server).observer {
                                o.failed("Read timeout (http)");
                            }
                            return self.error(Some(be), 504);
                        }
                        Err(f) => {
                            throttled!(warn,
                                backend = %be.rt.name, server = %be.rt.servers[server].name, client = %self.conn.peer,
                                "bad or no response from the server: {}", f.error
                            );
                            count_failed_response(be, server);
                            if let Some(o) = &be.side(server).observer {
                                o.failed("Invalid http response");
                            }
                            return self.error(Some(be), 502);
                        }
                    }
                }
                // Boxed: the HTTP/2 request and its send are larger than anything an HTTP/1.1
                // request holds, and this request's future would otherwise carry room for them.
                Sender::H2(h2, origin, peer) => {
                    match Box::pin(self.send_h2(
                        be,
                        server,
                        (h2, &peer, reused),
                        parts,
                        &uri,
                        &headers,
                        req_body,
                        attempt,
                    ))
                    .await
                    {
                        // An extended CONNECT the server took: the response stands for a 101.
                        H2Sent::Answered(res, _) if upgrade.is_some() && res.status() == http::StatusCode::OK => {
                            responded(fe, parts);
                            be.rt.servers[server].counters.inc(Field::Http2xx);
                            let (mut rp, _) = res.into_parts();
                            let Some(on) = rp.extensions.remove::<hyper::upgrade::OnUpgrade>() else {
                                return self.error(Some(be), 502);
                            };
                            let proto = upgrade.unwrap_or(HeaderValue::from_static(""));
                            let key = headers.get(header::SEC_WEBSOCKET_KEY);
                            let t = self.server_timeouts(be, parts);
                            return self.tunnel(be, rp, (&proto, key), client_upgrade, (slot, t), ServerSwitch::H2(on));
                        }
                        H2Sent::Answered(res, _)
                            if l7_left > 0 && be.retry_on.statuses.contains(&res.status().as_u16()) =>
                        {
                            l7_left -= 1;
                            side.assigned = be.l7_retry(server, side.assigned, l7_left == 0);
                            retry::count_retry(be, server, side.assigned.is_none());
                            prefer = None;
                        }
                        H2Sent::Answered(res, h2) => {
                            responded(fe, parts);
                            if let Some(o) = &be.side(server).observer {
                                o.status(res.status().as_u16());
                            }
                            let (rp, rb) = res.into_parts();
                            let rb = ResBody::h2(rb, lease(slot), Sender::H2(h2, origin, peer));
                            if be.http.waits_response || fe.http.waits_response {
                                return Box::pin(self.on_response_waiting(be, (server, &persisted), parts, rp, rb))
                                    .await;
                            }
                            return self.on_response(be, (server, &persisted), parts, rp, rb, None, &mut None);
                        }
                        H2Sent::Again(_) | H2Sent::Refused(_) if slot.killed() => return self.killed(be, parts),
                        H2Sent::Again(b) if attempt == 0 => body = Some(b),
                        H2Sent::Again(_) => break,
                        H2Sent::Refused(status) => {
                            count_failed_response(be, server);
                            if let Some(o) = &be.side(server).observer {
                                o.failed("Invalid http response");
                            }
                            return self.error(Some(be), status);
                        }
                    }
                }
            }
        }
        // Only an HTTP/2 connection found closed on both tries gets here.
        throttled!(warn,
            backend = %be.rt.name, client = %self.conn.peer,
            "bad or no response from the server: its HTTP/2 connection closed before taking the request, twice"
        );
        self.error(Some(be), 502)
    }
}

impl client_h1::Service for Session {
    fn call(self: Arc<Self>, req: Request<ReqBody>) -> Pin<Box<dyn Future<Output = Response<ResBody>> + Send>> {
        Box::pin(self.handle(req))
    }

    fn abort_on_close(&self) -> bool {
        self.abort.armed()
    }

    fn client_closed(&self) {
        self.aborted();
    }

    fn refusal(&self, status: u16, why: &'static str, received: &[u8]) -> Response<ResBody> {
        self.fe.count(&self.conn, Field::ErrReq);
        // A malformed request is kept for `show errors`; a slow one (408) is no protocol error.
        if status != 408 {
            self.fe.errors.record(self.conn.peer, status, why, received);
        }
        self.fe.counters.inc(Field::of_status(status));
        self.error(None, status)
    }
}
