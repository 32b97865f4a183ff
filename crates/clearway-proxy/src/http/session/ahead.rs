//! The request rules' `wait-for-body` (and `option http-buffer-request`): the body is read
//! ahead, then the rules go on where they stopped. Only requests whose rules wait come here.

use super::Session;
use crate::http::access_log::ReqLog;
use crate::http::pool::ReqBody;
use crate::http::read_ahead::{self, BodyAhead, NotRead};
use crate::http::reply::ErrorPages;
use crate::http::rules::{HttpRules, Verdict};
use clearway_config::model::Timeouts;
use hyper::body::Body as _;

impl Session {
    /// Goes on with `http`'s request rules after `v` asked to wait for the body: the rules'
    /// final verdict, or the status to answer when the body did not come in time (408) or
    /// failed (400). `timeouts` are the rules' proxy's (`timeout http-request`, else
    /// `timeout client`, when the rule gives no time).
    pub(super) async fn after_body(
        &self,
        http: &HttpRules,
        mut v: Verdict,
        (parts, body): (&mut http::request::Parts, &mut ReqBody),
        fallback: Option<&ErrorPages>,
        timeouts: &Timeouts,
    ) -> Result<Verdict, u16> {
        while let Verdict::WaitBody { next, time, at_least } = v {
            let time = time.or(timeouts.http_request).or(timeouts.client);
            // A buffer's worth at most, as HAProxy's: what fits beside the head.
            let room = crate::http::client_h1::max_head();
            match read_ahead::wait(body, time, at_least, room).await {
                Ok(data) => {
                    let size = body.size_hint().exact();
                    parts.extensions.insert(BodyAhead { data, size });
                }
                Err(NotRead::TimedOut) => {
                    if let Some(l) = parts.extensions.get::<ReqLog>() {
                        l.body_late(b'c');
                    }
                    return Err(408);
                }
                Err(NotRead::Failed) => return Err(400),
            }
            v = http.on_request(parts, &self.conn, fallback, next);
        }
        Ok(v)
    }
}
