//! The log line of one HTTP request, gathered along its way: begun when the request arrives
//! (`ReqLog`, carried in the request's extensions, only when its frontend logs per request),
//! told when a server connection was ready and when the response head came, then carried by
//! the response body (`PendingLog`), which counts its bytes and writes the line when it is
//! done or dropped. Must not change the request or the response.

use crate::log::{ms_between, HttpLine, Record};
use crate::model::{Backend, Frontend};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

/// What is known of a request's log line before its response.
#[derive(Clone)]
pub struct ReqLog {
    wall: SystemTime,
    at: Instant,
    line: HttpLine,
    bytes_in: u64,
    /// What the frontend's request capture slots hold, once the request was handled.
    captures: Option<ReqCaptured>,
    /// The captured cookie (`capture cookie`).
    cookie: Option<Box<str>>,
    /// Marked on the way (through a shared reference: the request is borrowed there).
    marks: Arc<Marks>,
}

/// Microseconds after the request's arrival, 0 for "not yet".
#[derive(Default)]
struct Marks {
    /// It left the queue, when it had to wait there.
    dequeued: AtomicU64,
    /// A server connection was ready for it (after the queue and the connect).
    connected: AtomicU64,
    /// The response head came.
    responded: AtomicU64,
    /// The server's index plus one.
    server: AtomicUsize,
    /// Its server's sessions were shut down before the response came (`KH`).
    killed: std::sync::atomic::AtomicBool,
    /// The rule that last decided for it (`last_rule_file`, `last_rule_line`).
    last_rule: std::sync::Mutex<Option<clearway_config::model::Span>>,
    /// A `tcp-request content` rule refused it: no response (`PR`, status -1).
    rejected: std::sync::atomic::AtomicBool,
    /// Clearway refused the server's response (`option checkcache`): `PH`.
    blocked: std::sync::atomic::AtomicBool,
    /// A `tcp-response content` rule refused the server's response: no answer (`PD`, status
    /// -1, as HAProxy logs it).
    dropped: std::sync::atomic::AtomicBool,
    /// A response rule answered it instead of the server (`http-response return`): `LH`.
    local: std::sync::atomic::AtomicBool,
    /// `http-request tarpit` held it, then answered: `PT`.
    tarpitted: std::sync::atomic::AtomicBool,
    /// Its body (`c`), or its response's (`s`), awaited for the rules, did not come in
    /// time: `cD`, `sR` (as HAProxy logs them); 0 when it did.
    body_late: std::sync::atomic::AtomicU8,
    /// Its client closed while it waited (`option abortonclose`): where it was, `Q`, `C`
    /// or `H`; 0 when it was not aborted.
    aborted: std::sync::atomic::AtomicU8,
    /// What persistence made of its cookies (HAProxy's last two termination characters),
    /// as two bytes; 0 when its backend has no cookie persistence (`--`).
    persistence: std::sync::atomic::AtomicU16,
    /// `set-log-level`: 0 unset, the level plus one, or `SILENT`.
    level: std::sync::atomic::AtomicU8,
}

/// `set-log-level silent`.
const SILENT: u8 = u8::MAX;

impl ReqLog {
    fn since(&self) -> u64 {
        (self.at.elapsed().as_micros() as u64).max(1)
    }

    /// The request's captures, for its line.
    pub fn set_captures(&mut self, c: Option<ReqCaptured>) {
        self.captures = c;
    }

    /// `set-log-level`: the line's level (None: no line).
    pub fn set_level(&self, level: Option<u8>) {
        let v = level.map_or(SILENT, |l| l.saturating_add(1));
        self.marks.level.store(v, Ordering::Relaxed);
    }

    /// A connection to server `i` is ready for the request, which waited in the queue until
    /// `dequeued` if it did.
    pub fn connected(&self, server: usize, dequeued: Option<Instant>) {
        if let Some(t) = dequeued {
            let us = t.saturating_duration_since(self.at).as_micros() as u64;
            self.marks.dequeued.store(us.max(1), Ordering::Relaxed);
        }
        self.marks.connected.store(self.since(), Ordering::Relaxed);
        self.marks.server.store(server + 1, Ordering::Relaxed);
    }

    /// Server `i` was chosen for it: a connection is being made, or was tried in vain.
    pub fn tried(&self, server: usize) {
        self.marks.server.store(server + 1, Ordering::Relaxed);
    }

    /// A rule decided for it: the last one is what `last_rule_file`/`last_rule_line` say.
    pub fn final_rule(&self, span: &clearway_config::model::Span) {
        *self.marks.last_rule.lock().unwrap_or_else(|p| p.into_inner()) = Some(span.clone());
    }

    pub fn last_rule(&self) -> Option<clearway_config::model::Span> {
        self.marks.last_rule.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Its server's sessions were shut down while it waited for the response.
    pub fn killed(&self) {
        self.marks.killed.store(true, Ordering::Relaxed);
    }

    /// A `tcp-request content` rule refused it: the client got no response.
    pub fn rejected(&self) {
        self.marks.rejected.store(true, Ordering::Relaxed);
    }

    /// `http-request tarpit` held it (`PT`).
    pub fn tarpitted(&self) {
        self.marks.tarpitted.store(true, Ordering::Relaxed);
    }

    /// Its body (`side` `c`), or its response's (`s`), awaited for the rules
    /// (`wait-for-body`), did not come in time (`cD`, `sR`); a response's head is then not
    /// the one the client got.
    pub fn body_late(&self, side: u8) {
        self.marks.body_late.store(side, Ordering::Relaxed);
        if side == b's' {
            self.not_a_response();
        }
    }

    /// Its client closed while it waited, and it was dropped (`option abortonclose`): the
    /// phase it was in (`Q`ueue, `C`onnection, `H`eaders), from what was marked so far.
    pub fn aborted(&self) -> u8 {
        let phase = if self.marks.connected.load(Ordering::Relaxed) != 0 {
            b'H'
        } else if self.server().is_some() {
            b'C'
        } else {
            b'Q'
        };
        self.marks.aborted.store(phase, Ordering::Relaxed);
        phase
    }

    /// The server's response was refused while its head was read (`PH`).
    pub fn blocked(&self) {
        self.marks.blocked.store(true, Ordering::Relaxed);
        self.not_a_response();
    }

    /// A `tcp-response content` rule refused the server's response, and the client
    /// connection was closed without an answer (`PD`).
    pub fn response_dropped(&self) {
        self.marks.dropped.store(true, Ordering::Relaxed);
        self.not_a_response();
    }

    /// A response rule answered instead of the server's response (`LH`).
    pub fn answered_locally(&self) {
        self.marks.local.store(true, Ordering::Relaxed);
        self.not_a_response();
    }

    /// The server's response head is not the one the client got (refused, or its body
    /// awaited in vain): no response time (`Tr` -1), as HAProxy logs it.
    fn not_a_response(&self) {
        self.marks.responded.store(0, Ordering::Relaxed);
    }

    /// What the cookie of the request said and what was done with the response's.
    pub fn persistence(&self, flags: [u8; 2]) {
        self.marks
            .persistence
            .store(u16::from_be_bytes(flags), Ordering::Relaxed);
    }

    /// The response head came.
    pub fn responded(&self) {
        self.marks.responded.store(self.since(), Ordering::Relaxed);
    }

    fn mark(a: &AtomicU64) -> Option<i64> {
        match a.load(Ordering::Relaxed) {
            0 => None,
            us => Some((us / 1000) as i64),
        }
    }

    fn server(&self) -> Option<usize> {
        self.marks.server.load(Ordering::Relaxed).checked_sub(1)
    }
}

impl ReqLog {
    /// Begins the line of a request arriving now, if `fe` logs per request.
    pub fn begin(fe: &Frontend, req: &http::request::Parts, head_bytes: impl FnOnce() -> usize) -> Option<ReqLog> {
        fe.logger.as_ref().filter(|l| l.per_session())?;
        let head_bytes = head_bytes();
        Some(ReqLog {
            wall: SystemTime::now(),
            at: Instant::now(),
            line: HttpLine {
                method: req.method.clone(),
                uri: req.uri.clone(),
                version: req.version,
            },
            bytes_in: head_bytes as u64,
            captures: None,
            cookie: fe.captures.request_cookie(&req.headers),
            marks: Arc::new(Marks::default()),
        })
    }
}

/// What a frontend's request capture slots hold (`capture request header`, `http-request
/// capture`), carried in the request's extensions while it is handled.
#[derive(Clone)]
pub struct ReqCaptured {
    slots: Box<[Option<http::HeaderValue>]>,
    lens: Arc<[usize]>,
}

impl ReqCaptured {
    /// The header captures of a request arriving at `fe`, when it has capture slots.
    pub fn begin(fe: &Frontend, req: &http::request::Parts) -> Option<ReqCaptured> {
        let slots = crate::log::Captures::take(
            &fe.captures.request,
            &req.headers,
            req.uri.authority().map(|a| a.as_str()),
        )?;
        Some(ReqCaptured {
            slots,
            lens: fe.captures.request_lens.clone(),
        })
    }

    /// `http-request capture ... id N`: slot N keeps `v`, cut to the slot's length.
    pub fn capture(&mut self, slot: usize, v: &str) {
        crate::log::fill_slot(&mut self.slots, &self.lens, slot, v);
    }

    /// What slot N holds (`capture.req.hdr(N)`).
    pub fn captured(&self, slot: usize) -> Option<&http::HeaderValue> {
        self.slots.get(slot)?.as_ref()
    }
}

/// What a frontend's captures took of a server's response (`capture response header`
/// before the response rules, `capture cookie` after them, as HAProxy takes them), carried in
/// the response's extensions to its log line.
#[derive(Clone)]
pub struct ResCaptured {
    headers: Option<Box<[Option<http::HeaderValue>]>>,
    lens: Option<Arc<[usize]>>,
    cookie: Option<Box<str>>,
}

impl ResCaptured {
    /// The response headers captured by `fe`, before the response rules change them.
    pub fn headers(fe: &Frontend, headers: &http::HeaderMap) -> ResCaptured {
        ResCaptured {
            headers: crate::log::Captures::take(&fe.captures.response, headers, None),
            lens: (!fe.captures.response.is_empty()).then(|| fe.captures.response_lens.clone()),
            cookie: None,
        }
    }

    /// `http-response capture ... id N`: slot N keeps `v`, cut to the slot's length.
    pub fn capture(&mut self, slot: usize, v: &str) {
        if let (Some(caps), Some(lens)) = (self.headers.as_mut(), self.lens.as_ref()) {
            crate::log::fill_slot(caps, lens, slot, v);
        }
    }

    /// What response capture slot N holds (`capture.res.hdr(N)`).
    pub fn captured(&self, slot: usize) -> Option<&http::HeaderValue> {
        self.headers.as_ref()?.get(slot)?.as_ref()
    }

    /// The cookie the response sets, after the response rules.
    pub fn cookie(&mut self, fe: &Frontend, headers: &http::HeaderMap) {
        self.cookie = fe.captures.response_cookie(headers);
    }
}

/// A request's line, waiting for the end of its response.
pub struct PendingLog {
    fe: Arc<Frontend>,
    be: Option<Arc<Backend>>,
    req: ReqLog,
    client: SocketAddr,
    local: SocketAddr,
    tls: bool,
    /// None: no response was sent (a content rule refused the request).
    status: Option<u16>,
    /// Why it ended, when not by the response's end (HAProxy's first two characters).
    pub term: [u8; 2],
    /// What was captured of the server's response.
    captured: ResCaptured,
    /// Response bytes to the client so far (head and body).
    pub bytes_out: u64,
    /// The body was sent to its end.
    pub complete: bool,
    /// The values of the log format's `%[...]`, taken when the response went out.
    pub samples: Box<[Option<Box<str>>]>,
    /// The request's unique id, when the frontend makes them.
    pub unique_id: Option<Arc<str>>,
}

impl PendingLog {
    /// The line of a request answered with `status`, by a server (what the captures took of
    /// its response: `captured`) or by Clearway itself.
    pub fn new(
        fe: Arc<Frontend>,
        be: Option<Arc<Backend>>,
        req: ReqLog,
        conn: &crate::acl::ConnSamples,
        status: http::StatusCode,
        headers: &http::HeaderMap,
        captured: Option<ResCaptured>,
    ) -> PendingLog {
        let status = status.as_u16();
        let head: usize = headers
            .iter()
            .map(|(k, v)| k.as_str().len() + v.len() + 4)
            .sum::<usize>()
            + 19;
        // Why a request answered by Clearway itself ended (HAProxy's first two characters).
        let responded = ReqLog::mark(&req.marks.responded).is_some();
        let killed = req.marks.killed.load(Ordering::Relaxed);
        let rejected = req.marks.rejected.load(Ordering::Relaxed);
        let blocked = req.marks.blocked.load(Ordering::Relaxed);
        let dropped = req.marks.dropped.load(Ordering::Relaxed);
        let tarpitted = req.marks.tarpitted.load(Ordering::Relaxed);
        let local = req.marks.local.load(Ordering::Relaxed);
        let body_late = req.marks.body_late.load(Ordering::Relaxed);
        let aborted = req.marks.aborted.load(Ordering::Relaxed);
        let term = match (responded, status) {
            _ if rejected => *b"PR",
            _ if dropped => *b"PD",
            _ if blocked => *b"PH",
            _ if local => *b"LH",
            _ if tarpitted => *b"PT",
            _ if killed => *b"KH",
            _ if body_late == b'c' => *b"cD",
            _ if body_late != 0 => *b"sR",
            _ if aborted != 0 => [b'C', aborted],
            (true, _) => *b"--",
            (false, 502) => *b"SH",
            (false, 504) => *b"sH",
            (false, 503) if be.is_some() => *b"SC",
            (false, 408) => *b"cR",
            (false, 400 | 414 | 431) => *b"CR",
            (false, 401 | 403) => *b"PR",
            _ => *b"--",
        };
        // A response Clearway made itself captures nothing, as in HAProxy.
        let captured = captured.unwrap_or_else(|| ResCaptured {
            headers: crate::log::Captures::take(&fe.captures.response, &http::HeaderMap::new(), None),
            lens: None,
            cookie: None,
        });
        PendingLog {
            captured,
            fe,
            be,
            req,
            client: conn.peer,
            local: conn.local,
            tls: conn.tls.is_some(),
            // A request dropped before its server answered has no status (HAProxy logs -1;
            // it logs its 400 once the request reached the server).
            status: (!rejected && !dropped && !matches!(aborted, b'Q' | b'C')).then_some(status),
            term,
            bytes_out: head as u64,
            complete: false,
            samples: Box::default(),
            unique_id: None,
        }
    }
}

impl Drop for PendingLog {
    fn drop(&mut self) {
        let Some(logger) = &self.fe.logger else { return };
        let now = Instant::now();
        let q = &self.req;
        let mut r = Record::new(&self.fe.name, self.client, Some(self.local), q.wall);
        r.request = q.wall;
        r.tls = self.tls;
        r.http = Some(q.line.clone());
        r.samples = &self.samples;
        r.unique_id = self.unique_id.as_deref();
        r.req_captures = q.captures.as_ref().map(|c| &*c.slots);
        r.res_captures = self.captured.headers.as_deref();
        r.req_cookie = q.cookie.as_deref();
        r.res_cookie = self.captured.cookie.as_deref();
        r.backend = self.be.as_ref().map(|b| b.rt.name.as_str());
        r.persistence = match q.marks.persistence.load(Ordering::Relaxed) {
            0 => *b"--",
            f => f.to_be_bytes(),
        };
        r.status = self.status;
        r.level = match q.marks.level.load(Ordering::Relaxed) {
            0 => None,
            SILENT => Some(None),
            l => Some(Some(l - 1)),
        };
        r.bytes_in = q.bytes_in;
        // A refused request's response was never sent.
        r.bytes_out = if self.status.is_some() { self.bytes_out } else { 0 };
        r.term = if self.complete || self.term != *b"--" {
            self.term
        } else {
            // The client went before the body's end.
            *b"CD"
        };
        let connected = ReqLog::mark(&q.marks.connected);
        // Tw: in the queue; Tc: the connect after it (or after the request, not queued).
        let dequeued = ReqLog::mark(&q.marks.dequeued).unwrap_or(0);
        if connected.is_some() || q.server().is_some() {
            // Through the queue (to a server that did not answer, too: HAProxy's SC).
            r.t_queue = Some(dequeued);
        } else if q.marks.aborted.load(Ordering::Relaxed) == b'Q' {
            // Still in the queue when its client left.
            r.t_queue = Some(ms_between(q.at, now));
        }
        r.t_connect = connected.map(|c| c - dequeued);
        r.t_response = match (connected, ReqLog::mark(&q.marks.responded)) {
            (Some(c), Some(h)) => Some(h - c),
            _ => None,
        };
        r.t_active = Some(ms_between(q.at, now));
        r.t_total = r.t_active;
        r.feconn = self.fe.sessions();
        r.actconn = self.fe.process_sessions();
        if let Some(b) = &self.be {
            r.beconn = b.rt.conns.cur();
            r.backend_queue = b.queue.len();
            if let Some(s) = q.server().and_then(|i| b.rt.servers.get(i)) {
                r.server = Some(s.name.as_str());
                r.server_addr = Some(s.target(self.local));
                r.srvconn = s.active();
            }
        }
        logger.finished(&r);
    }
}
