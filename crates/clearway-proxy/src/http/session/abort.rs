//! `option abortonclose`: a request whose HTTP/1 client closes its side while the request
//! waits (in the queue, for a server connection, for the response) is dropped, and logged as
//! HAProxy logs it (`CQ`, `CC`, `CH`). The client connection (`client_h1`) watches for the
//! close while a request is armed here; this module keeps what the log line needs.

use super::Session;
use crate::http::access_log::{PendingLog, ReqLog};
use crate::model::Backend;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// The request in flight, when its backend has `option abortonclose`.
#[derive(Default)]
pub(super) struct Abort {
    armed: AtomicBool,
    what: Mutex<Option<(Option<ReqLog>, Arc<Backend>)>>,
}

impl Abort {
    /// The request now in flight goes to `be`, which drops it if its client closes.
    pub(super) fn arm(&self, log: Option<&ReqLog>, be: &Arc<Backend>) {
        *self.lock() = Some((log.cloned(), be.clone()));
        self.armed.store(true, Ordering::Relaxed);
    }

    /// The request got its response (or was never armed).
    pub(super) fn disarm(&self) {
        if self.armed.swap(false, Ordering::Relaxed) {
            *self.lock() = None;
        }
    }

    pub(super) fn armed(&self) -> bool {
        self.armed.load(Ordering::Relaxed)
    }

    /// The armed request's log line and backend, disarming.
    fn take(&self) -> Option<(Option<ReqLog>, Arc<Backend>)> {
        self.armed.store(false, Ordering::Relaxed);
        self.lock().take()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(Option<ReqLog>, Arc<Backend>)>> {
        // Nothing panics while holding it; a poisoned lock still has consistent data.
        self.what.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Session {
    /// The client closed while the armed request waited, and the request was dropped: its
    /// log line, with where it was.
    pub(super) fn aborted(&self) {
        let Some((log, be)) = self.abort.take() else {
            return;
        };
        tracing::debug!(frontend = %self.fe.name, backend = %be.rt.name, client = %self.conn.peer, "request dropped: its client closed (option abortonclose)");
        if let Some(l) = log {
            // HAProxy's CH line carries the 400 it would have answered.
            let status = match l.aborted() {
                b'H' => http::StatusCode::BAD_REQUEST,
                _ => http::StatusCode::OK,
            };
            let headers = http::HeaderMap::new();
            drop(PendingLog::new(
                self.fe.clone(),
                Some(be),
                l,
                &self.conn,
                status,
                &headers,
                None,
            ));
        }
    }
}
