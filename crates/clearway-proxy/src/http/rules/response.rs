//! The `http-response` and `http-after-response` rules run on a response: what they change
//! in it, and whether one refuses it or waits for its body.

use super::*;

/// What the response rules decided.
#[derive(Debug)]
pub enum ResVerdict {
    Continue,
    /// Refuse the response (`deny`): the client gets this error instead.
    Deny(u16),
    /// Answer with this instead (`return`, or `deny` with an answer of its own: `denied`).
    Answer {
        response: Box<http::Response<Bytes>>,
        denied: bool,
    },
    /// Answer with the proxy's error page for this status (`return` with the default
    /// error files), not counted as a refusal.
    Return(u16),
    /// Read the body ahead (`wait-for-body`) within `time`, then go on with rule `next`.
    WaitBody {
        next: usize,
        time: std::time::Duration,
        at_least: u64,
    },
}

impl HttpRules {
    /// Whether there are `http-response` rules, which read and change a response's headers.
    pub fn has_response_rules(&self) -> bool {
        !self.response.is_empty()
    }

    /// Applies the `http-response` rules to a response, from rule `from` on (after a
    /// `wait-for-body`, the rule that follows it).
    pub fn on_response(
        &self,
        res: &mut http::response::Parts,
        req: &Parts,
        conn: &ConnSamples,
        from: usize,
    ) -> ResVerdict {
        let rules = self.response.get(from..).unwrap_or_default();
        Self::response_rules(rules, self.writes_vars, res, req, conn)
    }

    /// Whether there are `http-after-response` rules.
    pub fn has_after_rules(&self) -> bool {
        !self.after.is_empty()
    }

    /// Applies the `http-after-response` rules to any response, the proxy's own too.
    pub fn after_response(&self, res: &mut http::response::Parts, req: &Parts, conn: &ConnSamples) {
        // `wait-for-body` is not one of theirs: nothing to wait for.
        let _ = Self::response_rules(&self.after, self.writes_vars, res, req, conn);
    }

    #[inline]
    fn response_rules(
        rules: &[Rule],
        writes_vars: bool,
        res: &mut http::response::Parts,
        req: &Parts,
        conn: &ConnSamples,
    ) -> ResVerdict {
        if writes_vars && res.extensions.get::<crate::http::samples::ResVars>().is_none() {
            res.extensions.insert(crate::http::samples::ResVars::default());
        }
        for r in rules {
            let s = ResSamples {
                req: ReqSamples { conn, req },
                res,
            };
            if !Cond::holds(&r.cond, &s) {
                continue;
            }
            if r.action.is_final() {
                s.final_rule(&r.span);
            }
            let edit = match &r.action {
                Action::Allow => break,
                Action::Reply(Reply::Error(status), true) => return ResVerdict::Deny(*status),
                Action::Reply(Reply::Error(status), false) => return ResVerdict::Return(*status),
                Action::Reply(Reply::Page(page, extra, format), denied) => {
                    return ResVerdict::Answer {
                        response: Box::new(page_reply(page, extra, format.as_ref(), &s)),
                        denied: *denied,
                    }
                }
                // `location` only (checked at load): the server's response gives way.
                Action::Redirect(red) => {
                    return ResVerdict::Answer {
                        response: Box::new(redirect(red, req, &s)),
                        denied: false,
                    }
                }
                Action::WaitForBody(time, at_least, next) => {
                    return ResVerdict::WaitBody {
                        next: *next,
                        time: *time,
                        at_least: *at_least,
                    }
                }
                a @ (Action::SetVar(..) | Action::UnsetVar(_) | Action::ScSetGpt0(..) | Action::LogLevel(_)) => {
                    effect(a, &s, req);
                    continue;
                }
                Action::CacheStore(cache) => {
                    let fill = (req.extensions.get::<crate::http::cache::CacheTxn>())
                        .and_then(|txn| cache.store(txn, &req.method, res));
                    if let Some(f) = fill {
                        res.extensions.insert(crate::http::cache::Filling::new(f));
                    }
                    continue;
                }
                // As HAProxy: the request counts on an entry tracked here (its status too,
                // when it ends).
                a @ (Action::TrackSc(..) | Action::ScIncGpc0(_)) => {
                    super::stick_effect(a, &s);
                    continue;
                }
                Action::Capture(e, slot) => {
                    if let Some(v) = crate::acl::text(&s, e) {
                        if let Some(c) = res.extensions.get_mut::<crate::http::access_log::ResCaptured>() {
                            c.capture(*slot, &v);
                        }
                    }
                    continue;
                }
                Action::SetStatus(status, reason) => {
                    res.status = *status;
                    match reason {
                        Some(r) => res.extensions.insert(r.clone()),
                        None => res.extensions.remove::<crate::http::Reason>(),
                    };
                    continue;
                }
                a => prepare(a, &s),
            };
            apply(edit, &mut res.headers);
        }
        ResVerdict::Continue
    }
}
