//! What an L7 retry (`retry-on`) looks at: whether a server's answer (or its absence) is
//! one to retry, and how HAProxy counts the retry.

use crate::http::h1;
use crate::model::Backend;
use clearway_core::Field;

/// Whether what a server connection gave back is one `retry-on` retries: a status it
/// names, no response in time, a close without one, or not a response.
pub(super) fn retried(
    r: &clearway_config::model::RetryOn,
    sent: &Result<(http::response::Parts, h1::ResponseBody), h1::Failed>,
) -> bool {
    match sent {
        Ok((rp, _)) => r.statuses.contains(&rp.status.as_u16()),
        Err(f) => match &f.error {
            h1::Error::NoResponse(_) => r.response_timeout,
            h1::Error::Closed | h1::Error::Io(_) => r.empty_response && f.replayable,
            h1::Error::Bad(_) | h1::Error::TooLarge(_) => r.junk_response,
            _ => false,
        },
    }
}

/// An L7 retry, counted as HAProxy 2.6 counts them: a retry, then a redispatch when the
/// balancer chooses anew, else a second retry (`wretr`, `wredis`).
pub(super) fn count_retry(be: &Backend, server: usize, redispatched: bool) {
    let srv = &be.rt.servers[server].counters;
    be.rt.counters.inc(Field::Retries);
    srv.inc(Field::Retries);
    if redispatched {
        be.rt.counters.inc(Field::Redispatches);
    } else {
        be.rt.counters.inc(Field::Retries);
        srv.inc(Field::Retries);
    }
}
