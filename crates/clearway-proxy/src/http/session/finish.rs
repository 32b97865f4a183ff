//! The last touches to a response on its way to the client: `http-after-response`,
//! `Connection: close`, the status counters, and the access log line with its sample values
//! and the request's unique id (made, from `unique-id-format`, as the request began). Must
//! not choose servers or change what the server sent otherwise.

use super::Session;
use crate::http::access_log::{PendingLog, ReqLog, ResCaptured};
use crate::http::body::{DoneGuard, ResBody};
use crate::http::session::Rejected;
use crate::model::Backend;
use clearway_config::model::HttpConnMode;
use clearway_core::Field;
use http::header::{self, HeaderValue};
use http::{Response, Version};
use std::sync::Arc;

impl Session {
    /// The last touches to a response, in place (a response is a few hundred bytes to copy).
    pub(super) fn respond(
        &self,
        res: &mut Response<ResBody>,
        be_arc: Option<&Arc<Backend>>,
        req: &mut http::request::Parts,
        done: Option<DoneGuard>,
    ) {
        let be = be_arc.map(|b| &**b);
        // An empty error file: the client connection is closed without an answer (an
        // HTTP/2 stream gets the empty answer: its connection serves others).
        if hyper::body::Body::size_hint(res.body()).exact() == Some(0)
            && req.version != Version::HTTP_2
            && res.extensions().get::<crate::http::reply::Silent>().is_some()
        {
            if let Some(fd) = self.conn.fd {
                // The client connection this request came on, open while it is handled.
                let _ = clearway_net::shutdown_both(fd);
            }
            res.extensions_mut().insert(Rejected);
        }
        // `http-after-response`: on every response, the backend's rules then the frontend's.
        if (be.is_some_and(|b| b.http.has_after_rules()) || self.fe.http.has_after_rules())
            && res.extensions().get::<Rejected>().is_none()
        {
            let (mut rp, body) = std::mem::replace(res, Response::new(ResBody::from(bytes::Bytes::new()))).into_parts();
            if let Some(b) = be {
                b.http.after_response(&mut rp, req, &self.conn);
            }
            self.fe.http.after_response(&mut rp, req, &self.conn);
            *res = Response::from_parts(rp, body);
        }
        let close =
            be.map_or(self.fe.http.conn_mode, |b| b.http.conn_mode.max(self.fe.http.conn_mode)) == HttpConnMode::Close;
        if close && req.version != Version::HTTP_2 && res.status() != http::StatusCode::SWITCHING_PROTOCOLS {
            res.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        // A refused request's response is never sent: no status to count.
        if res.extensions().get::<Rejected>().is_none() {
            let class = Field::of_status(res.status().as_u16());
            self.fe.counters.inc(class);
            if let Some(b) = be {
                b.rt.counters.inc(class);
            }
        }
        // Errors and failures count on the entries the request and its session track.
        let status = res.status().as_u16();
        if status >= 400 {
            let session = self.conn.trackers.get().map(|t| t.all()).unwrap_or_default();
            let request = if self.fe.http.tracks
                || self.fe.http.tracks_response
                || be.is_some_and(|b| b.http.tracks || b.http.tracks_response)
                || self.fe.tcp_rules.content_writes_vars
            {
                req.extensions
                    .get::<crate::http::samples::ReqTrackers>()
                    .map(|t| t.0.all())
            } else {
                None
            };
            crate::stick::count_status(session.into_iter().chain(request.unwrap_or_default()), status);
        }
        tracing::debug!(
            frontend = %self.fe.name, backend = be.map_or("-", |b| b.rt.name.as_str()),
            client = %self.conn.peer, method = %req.method, uri = %req.uri, status = res.status().as_u16(),
            "request"
        );
        res.body_mut().set_done(done);
        // The format's samples first, while the request still holds what they may read
        // (its log marks: `last_rule_*`; its captures).
        let logged = self.fe.log_requests && req.extensions.get::<ReqLog>().is_some();
        let samples = if logged {
            self.log_samples(res, req)
        } else {
            Box::default()
        };
        if let Some(mut l) = logged.then(|| req.extensions.remove::<ReqLog>()).flatten() {
            l.set_captures(req.extensions.remove::<crate::http::access_log::ReqCaptured>());
            let captured = res.extensions_mut().remove::<ResCaptured>();
            // The addresses as the rules left them (`set-src`, `set-dst`).
            let moved = crate::http::rules::moved(&self.conn, req);
            let mut log = PendingLog::new(
                self.fe.clone(),
                be_arc.cloned(),
                l,
                moved.as_ref().unwrap_or(&self.conn),
                res.status(),
                res.headers(),
                captured,
            );
            log.samples = samples;
            log.unique_id = req
                .extensions
                .get::<crate::http::samples::UniqueId>()
                .map(|u| u.0.clone());
            res.body_mut().set_log(log);
        }
    }

    /// A request's unique id: the frontend's `unique-id-format` with what is known as the
    /// request begins (the client, the frontend, the time, the request's own samples).
    pub(super) fn unique_id(&self, format: &crate::log::format::Format, parts: &http::request::Parts) -> Arc<str> {
        let s = crate::http::samples::ReqSamples {
            conn: &self.conn,
            req: parts,
        };
        let values: Vec<Option<Box<str>>> = format
            .exprs()
            .iter()
            .map(|e| crate::acl::text(&s, e).map(Box::from))
            .collect();
        let mut r = crate::log::Record::new(
            &self.fe.name,
            self.conn.peer,
            Some(self.conn.local),
            std::time::SystemTime::now(),
        );
        r.samples = &values;
        r.tls = self.conn.tls.is_some();
        Arc::from(format.render(&r))
    }

    /// The values of the log format's `%[...]` for this request and its response.
    fn log_samples(&self, res: &mut Response<ResBody>, req: &http::request::Parts) -> Box<[Option<Box<str>>]> {
        let exprs = self.fe.logger.as_ref().map_or(&[][..], |l| l.exprs());
        if exprs.is_empty() {
            return Box::default();
        }
        let (rp, body) = std::mem::replace(res, Response::new(ResBody::from(bytes::Bytes::new()))).into_parts();
        let s = crate::http::samples::ResSamples {
            req: crate::http::samples::ReqSamples { conn: &self.conn, req },
            res: &rp,
        };
        let values = exprs.iter().map(|e| crate::acl::text(&s, e).map(Box::from)).collect();
        *res = Response::from_parts(rp, body);
        values
    }
}
