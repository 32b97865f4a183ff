//! What the proxy answers itself instead of forwarding a request: a refusal by a
//! `tcp-request content` rule (no answer at all), `use-service`, the statistics page.

use super::{Rejected, Session};
use crate::http::access_log::ReqLog;
use crate::http::body::ResBody;
use crate::http::pool::ReqBody;
use clearway_core::Field;
use http::Response;

impl Session {
    /// The span of the `tcp-request content reject` rule that refuses this request, if one does.
    pub(super) fn content_rejects<'r>(
        &self,
        rules: &'r crate::inspect::TcpRules,
        parts: &http::request::Parts,
    ) -> Option<&'r clearway_config::model::Span> {
        if !rules.has_content() {
            return None;
        }
        let s = crate::http::samples::ReqSamples {
            conn: &self.conn,
            req: parts,
        };
        match rules.on_content(&s) {
            crate::inspect::Verdict::Reject(span) => Some(span),
            // `close` is a response rule's.
            crate::inspect::Verdict::Accept | crate::inspect::Verdict::Close => None,
        }
    }

    /// A request refused by a `tcp-request content reject` rule: as HAProxy, the client
    /// connection is closed without a response (every stream of an HTTP/2 one), and the
    /// request logged `PR` with status -1.
    pub(super) fn reject(
        &self,
        parts: &http::request::Parts,
        span: &clearway_config::model::Span,
        silent: bool,
    ) -> Response<ResBody> {
        self.fe.content_rejected(&self.conn, span);
        if let Some(l) = parts.extensions.get::<ReqLog>() {
            l.rejected();
        }
        if let Some(fd) = self.conn.fd {
            // The descriptor is the client connection this request came on, open while the
            // request is handled. `silent-drop`: what it sends dies one hop away.
            let _ = if silent {
                clearway_net::drop_silently(fd)
            } else {
                clearway_net::shutdown_both(fd)
            };
        }
        let mut res = self.error(None, 403);
        res.extensions_mut().insert(Rejected);
        res
    }

    /// A service of the proxy's own (`http-request use-service`).
    pub(super) fn service(
        &self,
        svc: clearway_config::rules::Service,
        parts: &http::request::Parts,
    ) -> Response<ResBody> {
        self.fe.counters.inc(Field::Intercepted);
        match svc {
            clearway_config::rules::Service::PrometheusExporter => {
                crate::http::service::prometheus(self.fe.runtime.get().and_then(|w| w.upgrade()), parts)
            }
        }
    }

    /// The statistics page of a proxy (`stats uri`).
    pub(super) async fn stats_page(
        &self,
        app: &crate::http::stats_app::StatsApp,
        proxy: &str,
        parts: &http::request::Parts,
        body: ReqBody,
        errors: &crate::http::reply::ErrorPages,
    ) -> Response<ResBody> {
        self.fe.counters.inc(Field::Intercepted);
        let rt = self.fe.runtime.get().and_then(|w| w.upgrade());
        let (res, denied) = crate::http::service::stats_page(app, proxy, rt, parts, body, &self.conn, errors).await;
        if denied {
            self.fe.count(&self.conn, Field::DeniedReq);
        }
        res
    }
}
