//! Health from traffic (`observe layer4|layer7`): connections and responses to a server
//! count as checks too, as HAProxy's health analysis does. Consecutive errors reaching
//! `error-limit` wake the server's check task, which applies `on-error`. Layer 4: a
//! connection made resets the count, a failed one counts. Layer 7: responses with a status
//! from 100 to 499, 501 or 505 reset it; other statuses, responses that are not HTTP, read
//! errors and timeouts count, as do failed connections.

use clearway_config::model::OnError;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

/// One server's observed errors.
#[derive(Debug)]
pub struct Observer {
    layer7: bool,
    limit: u32,
    pub on_error: OnError,
    errors: AtomicU32,
    /// The last error when the limit was reached, until the check task takes it.
    tripped: Mutex<Option<&'static str>>,
    pub wake: tokio::sync::Notify,
}

impl Observer {
    pub fn new(layer7: bool, limit: u32, on_error: OnError) -> Observer {
        Observer {
            layer7,
            limit: limit.max(1),
            on_error,
            errors: AtomicU32::new(0),
            tripped: Mutex::new(None),
            wake: tokio::sync::Notify::new(),
        }
    }

    /// A connection to the server was made (or not).
    pub fn connected(&self, ok: bool) {
        match (ok, self.layer7) {
            (true, true) => {}
            (true, false) => self.good(),
            (false, _) => self.bad("L4 unsuccessful connection"),
        }
    }

    /// The server answered with `status` (layer 7 only).
    pub fn status(&self, status: u16) {
        if !self.layer7 {
            return;
        }
        if matches!(status, 100..=499 | 501 | 505) {
            self.good()
        } else {
            self.bad("Wrong http response")
        }
    }

    /// The server's answer failed (layer 7 only): `what` in HAProxy's words ("Read timeout
    /// (http)", "Invalid http response"...).
    pub fn failed(&self, what: &'static str) {
        if self.layer7 {
            self.bad(what)
        }
    }

    fn good(&self) {
        if self.errors.load(Ordering::Relaxed) != 0 {
            self.errors.store(0, Ordering::Relaxed);
        }
    }

    fn bad(&self, what: &'static str) {
        if self.errors.fetch_add(1, Ordering::Relaxed) + 1 >= self.limit {
            self.errors.store(0, Ordering::Relaxed);
            *self.tripped.lock().unwrap_or_else(|e| e.into_inner()) = Some(what);
            self.wake.notify_one();
        }
    }

    /// The error that reached the limit, once.
    pub fn take(&self) -> Option<&'static str> {
        self.tripped.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    pub fn limit(&self) -> u32 {
        self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consecutive_errors_trip_once_and_successes_reset() {
        let o = Observer::new(true, 3, OnError::FailCheck);
        o.status(503);
        o.status(502);
        o.status(200);
        o.status(500);
        o.failed("Read timeout (http)");
        assert_eq!(o.take(), None);
        o.connected(false);
        assert_eq!(o.take(), Some("L4 unsuccessful connection"));
        assert_eq!(o.take(), None);
        // Layer 7: a connection made does not reset; 404 and 501 are fine.
        o.status(500);
        o.connected(true);
        o.status(404);
        o.status(501);
        o.status(500);
        o.status(500);
        assert_eq!(o.take(), None);
        let l4 = Observer::new(false, 2, OnError::MarkDown);
        l4.connected(false);
        l4.status(500);
        l4.connected(true);
        l4.connected(false);
        assert_eq!(l4.take(), None);
        l4.connected(false);
        assert!(l4.take().is_some());
    }
}
