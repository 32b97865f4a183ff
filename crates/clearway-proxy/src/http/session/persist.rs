//! A request's persistence, read before its headers move on, in HAProxy's order:
//! `force-persist`/`ignore-persist`, then `use-server`, then the cookie (unused when a rule
//! gave the server; taken out of the request or unprefixed all the same), then `stick`
//! rules.

use super::Session;
use crate::http::access_log::ReqLog;
use crate::http::cookie::{unix_now, Bent, Persisted};
use crate::model::{Assigned, Backend};

impl Session {
    /// What persistence says of a request: kept for its response, and the server it gives.
    #[inline]
    pub(super) fn persistence(&self, be: &Backend, parts: &mut http::request::Parts) -> (Persisted, Option<Assigned>) {
        let bent = if be.persist_rules.is_empty() {
            Bent::No
        } else {
            be.bent(&crate::http::samples::ReqSamples {
                conn: &self.conn,
                req: parts,
            })
        };
        let ruled = be.assigned_server(
            &crate::http::samples::ReqSamples {
                conn: &self.conn,
                req: parts,
            },
            bent,
        );
        let cookie = be.cookie.as_ref().map(|c| {
            c.on_request(
                &mut parts.headers,
                (bent, ruled.is_some()),
                unix_now(),
                |i| (!be.rt.servers[i].is_deleted()).then(|| be.rt.servers[i].running()),
                be.persist,
            )
        });
        let assigned = ruled.or_else(|| {
            cookie.and_then(|c| c.server).map(|server| Assigned {
                server,
                stays: bent == Bent::Forced,
            })
        });
        // Then `stick` rules.
        let (assigned, stick) = be.persistence(
            &crate::http::samples::ReqSamples {
                conn: &self.conn,
                req: parts,
            },
            assigned,
            bent,
        );
        if let (Some(c), Some(l)) = (&cookie, parts.extensions.get::<ReqLog>()) {
            // Logged even when no response comes.
            l.persistence([c.seen.log_char(), b'N']);
        }
        let persisted = Persisted {
            cookie,
            bent,
            assigned: assigned.map(|a| a.server),
            stick,
        };
        (persisted, assigned)
    }
}
