//! One client session: from an accepted connection (TLS terminated here when the bind line
//! says `ssl`) to a server connection and the forwarding between them, ending with one log
//! line saying how it ended. Owns the choice of the backend for a TCP frontend; must not pick
//! servers (dispatch does) or copy bytes itself (forward does).

use crate::acl::ConnSamples;
use crate::dispatch::{self, ClientSide};
use crate::forward::{self, Limits};
use crate::inspect::{self, PayloadSamples, Verdict};
use crate::log::throttle::throttled;
use crate::model::{Backend, Frontend};
use crate::stream::Stream;
use crate::tls::ClientTls;
use clearway_config::model::Mode;
use clearway_core::Field;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// Starts a session for an accepted client as a task of its own, holding `hold` (the
/// connection-limit permits) until it ends. Each kind of session (TCP, HTTP, TLS) is a
/// different task: a future is as large as its largest state, and an idle session should only
/// hold what its own kind needs. A plain HTTP client joins the event loop only when it first
/// has to wait (`http::client_io`); the others join it here.
pub fn spawn<H: Send + 'static>(
    fe: Arc<Frontend>,
    client: std::net::TcpStream,
    at: crate::stream::Accepted,
    tls: Option<crate::tls::Acceptor>,
    hold: H,
) {
    let peer = at.peer;
    let local = match at.local.map_or_else(|| client.local_addr(), Ok) {
        Ok(a) => a,
        Err(e) => {
            tracing::debug!(frontend = %fe.name, %peer, "client gone before the session started: {e}");
            return;
        }
    };
    let _ = client.set_nodelay(true);
    let mut conn = ConnSamples {
        peer,
        local,
        tls: None,
        listener: at.listener,
        so: at.so,
        proxy: None,
        fd: Some(std::os::fd::AsRawFd::as_raw_fd(&client)),
        vars: Default::default(),
        frontend: Some(fe.ident.clone()),
        trackers: Default::default(),
        real: None,
    };
    // Connection rules see the connection's own addresses, never a PROXY header's.
    let mut expect_proxy = at.accept_proxy;
    if let Verdict::Reject(span) = fe.tcp_rules.on_connection(&conn, &mut expect_proxy) {
        fe.count(&conn, Field::DeniedConn);
        throttled!(info, frontend = %fe.name, client = %peer, "connection rejected by 'tcp-request connection reject' at {span}");
        return;
    }
    if !expect_proxy {
        return established(fe, client, conn, tls, hold);
    }
    // The PROXY protocol header: usually here whole, read at once without the event loop.
    let mut partial = crate::proxy_protocol::recv::Partial::default();
    match partial.try_now(&client) {
        Ok(Some(h)) => {
            conn.proxied(h);
            established(fe, client, conn, tls, hold)
        }
        Ok(None) => {
            let client = match TcpStream::from_std(client) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(frontend = %fe.name, client = %peer, "cannot register the client connection: {e}");
                    return;
                }
            };
            tokio::spawn(async move {
                let limit = fe.timeouts.client.unwrap_or(crate::tls::HANDSHAKE_DEFAULT);
                match partial.finish(&client, limit).await {
                    Ok(h) => match client.into_std() {
                        Ok(client) => {
                            conn.proxied(h);
                            established(fe, client, conn, tls, hold)
                        }
                        Err(e) => tracing::debug!(frontend = %fe.name, client = %peer, "client connection lost: {e}"),
                    },
                    Err(e) => proxy_failed(&fe, &conn, &e),
                }
            });
        }
        Err(e) => proxy_failed(&fe, &conn, &e),
    }
}

/// A connection whose PROXY protocol header could not be read: closed, and logged as HAProxy
/// does (with `option dontlognull`, not when the client only closed or failed).
fn proxy_failed(fe: &Frontend, conn: &ConnSamples, e: &crate::proxy_protocol::recv::Failed) {
    use crate::proxy_protocol::recv::Failed;
    throttled!(info, frontend = %fe.name, client = %conn.peer, "connection closed: {e}");
    if let Some(l) = &fe.logger {
        if !(l.dontlognull() && matches!(e, Failed::Closed | Failed::Io(_))) {
            l.connection_error(&fe.name, conn.peer, conn.local, &e.to_string());
        }
    }
}

/// The session once the connection's own handshakes are done (a PROXY protocol header):
/// session rules, then a task of the session's kind.
fn established<H: Send + 'static>(
    fe: Arc<Frontend>,
    client: std::net::TcpStream,
    conn: ConnSamples,
    tls: Option<crate::tls::Acceptor>,
    hold: H,
) {
    let peer = conn.peer;
    let local = conn.local;
    if let Verdict::Reject(span) = fe.tcp_rules.on_session(&conn) {
        fe.count(&conn, Field::DeniedSess);
        throttled!(info, frontend = %fe.name, client = %peer, "session rejected by 'tcp-request session reject' at {span}");
        return;
    }
    if let Some(l) = &fe.logger {
        l.accepted(&fe.name, peer, local);
    }
    let reg = fe.sessions.as_ref().map(|s| crate::sessions::Sessions::start(s, peer));
    if tls.is_none() && fe.mode == Mode::Http {
        tokio::spawn(crate::http::session::serve_once_readable(fe, client, conn, (hold, reg)));
        return;
    }
    let client = match TcpStream::from_std(client) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(frontend = %fe.name, client = %peer, "cannot register the client connection: {e}");
            return;
        }
    };
    match (tls, fe.mode) {
        (Some(acceptor), _) => tokio::spawn(async move {
            tls_session(fe, client, conn, acceptor, reg.as_ref()).await;
            drop(hold);
        }),
        (None, _) => tokio::spawn(async move {
            tcp(fe, Client::Plain(client), conn, reg.as_ref()).await;
            drop(hold);
        }),
    };
}

/// A session whose client side is TLS, terminated here: a task of its own, as its state (the
/// TLS connection) is larger than a plain session's.
async fn tls_session(
    fe: Arc<Frontend>,
    client: TcpStream,
    mut conn: ConnSamples,
    acceptor: crate::tls::Acceptor,
    reg: Option<&crate::sessions::Registered>,
) {
    let peer = conn.peer;
    let limit = fe
        .timeouts
        .http_request
        .or(fe.timeouts.client)
        .unwrap_or(crate::tls::HANDSHAKE_DEFAULT);
    let (stream, verified) = match tokio::time::timeout(limit, acceptor.accept(client)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            throttled!(info, frontend = %fe.name, client = %peer, "TLS handshake failed: {e}");
            return;
        }
        Err(_) => {
            throttled!(info, frontend = %fe.name, client = %peer, "TLS handshake not finished within {limit:?}");
            return;
        }
    };
    let mut tls = ClientTls::of(&stream);
    tls.verify = verified;
    conn.tls = Some(Arc::new(tls));
    match fe.mode {
        Mode::Http => crate::http::session::serve(fe, stream, conn).await,
        Mode::Tcp => tcp(fe, Client::Tls(Box::new(stream)), conn, reg).await,
    }
}

/// The client side of a TCP session.
enum Client {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

impl Client {
    fn stream(&mut self) -> &mut dyn Stream {
        match self {
            Client::Plain(c) => c,
            Client::Tls(c) => &mut **c,
        }
    }
}

/// A TCP session's server side, once chosen and connected.
struct Connected {
    be: Arc<Backend>,
    sc: dispatch::ServerConn,
    /// The client's first bytes, read for content inspection: sent to the server first.
    first: Vec<u8>,
}

/// Why a TCP session got no server: the termination state to log, and the backend if one was
/// chosen.
type NotConnected = ([u8; 2], Option<Arc<Backend>>);

/// Content inspection, the backend choice and the server connection. A future of its own,
/// boxed and freed once done, so that a session's lasting state is only what forwarding needs.
async fn tcp_connect(fe: &Frontend, client: &mut Client, conn: &ConnSamples) -> Result<Connected, NotConnected> {
    let peer = conn.peer;
    let mut first = Vec::new();
    // Content rules, on the client's first bytes when they look at them: read as they come,
    // within the inspect delay.
    let mut hello = inspect::Hello::Incomplete;
    if fe.tcp_rules.has_content() || fe.switching_reads_payload {
        let (verdict, h) = fe
            .tcp_rules
            .inspect(client.stream(), &mut first, conn, fe.switching_reads_payload)
            .await;
        if let Verdict::Reject(span) = verdict {
            fe.content_rejected(conn, span);
            return Err((*b"PR", None));
        }
        hello = h;
    }
    // Samples are only made for rules that read them (the usual case has none).
    let chosen = if fe.switching.is_empty() {
        fe.backend.clone()
    } else {
        fe.choose_backend(&PayloadSamples::new(conn, &hello, &first, true))
            .cloned()
    };
    let Some(be) = chosen else {
        throttled!(warn, frontend = %fe.name, %peer, "no backend for this frontend: closing the connection");
        return Err((*b"PR", None));
    };
    // The backend's own content rules (reading on within its inspect delay if they look at
    // the data), as HAProxy runs them once the backend is chosen.
    if be.tcp_rules.has_content() {
        let (verdict, h) = be.tcp_rules.inspect(client.stream(), &mut first, conn, false).await;
        if let Verdict::Reject(span) = verdict {
            fe.content_rejected(conn, span);
            return Err((*b"PR", Some(be)));
        }
        hello = h;
    }
    // `use-server`, then `stick` rules, on what content inspection read, if anything.
    let (assigned, stick) = if be.use_servers.is_empty() && be.sticking.is_empty() {
        (None, Default::default())
    } else {
        let samples = PayloadSamples::new(conn, &hello, &first, true);
        let bent = be.bent(&samples);
        be.persistence(&samples, be.assigned_server(&samples, bent), bent)
    };
    let slotted = std::sync::atomic::AtomicBool::new(false);
    let side = ClientSide {
        conn,
        hdr_ip: None,
        data_waiting: !first.is_empty(),
        timed: fe.logger.as_ref().is_some_and(|l| l.per_session()),
        request_key: None,
        assigned,
        unique_id: None,
        slotted: Some(&slotted),
    };
    let connecting = dispatch::connect_server(&be, side);
    let connected = if be.abortonclose {
        // `option abortonclose`: a client that closes (or fails) while its session waits in
        // the queue or for the server's handshake ends it there, as HAProxy aborts it; what
        // it sends meanwhile goes to the server first.
        match abort_on_close(client.stream(), &mut first, connecting).await {
            Some(r) => r,
            None => {
                let queued = !slotted.load(std::sync::atomic::Ordering::Relaxed);
                tracing::info!(frontend = %fe.name, backend = %be.rt.name, client = %peer, "client closed while {}: session aborted ('option abortonclose')", if queued { "queued" } else { "connecting" });
                be.rt.counters.inc(Field::ClientAborts);
                return Err((if queued { *b"CQ" } else { *b"CC" }, Some(be)));
            }
        }
    } else {
        connecting.await
    };
    match connected {
        Ok(sc) => {
            stick.commit(&be.rt.servers[sc.slot.server]);
            Ok(Connected { be, sc, first })
        }
        Err(e) => {
            throttled!(warn, frontend = %fe.name, backend = %be.rt.name, client = %peer, dst = %conn.local, "session refused: {e}");
            let term = match e {
                dispatch::DispatchError::QueueTimeout(_) => *b"sQ",
                dispatch::DispatchError::QueueFull(_) => *b"SQ",
                _ => *b"SC",
            };
            Err((term, Some(be)))
        }
    }
}

/// The most read from a client while its session waits for a server (`abort_on_close`):
/// beyond it the client is no longer watched.
const WATCH_MAX: usize = 64 * 1024;

/// Runs `connecting` while watching the client (`option abortonclose`): what it sends
/// meanwhile is added to `first`; None when it closes its side, or its connection fails,
/// before `connecting` is done (which is then dropped, ending the attempt).
async fn abort_on_close<T>(
    client: &mut dyn Stream,
    first: &mut Vec<u8>,
    connecting: impl std::future::Future<Output = T>,
) -> Option<T> {
    use std::task::Poll;
    let mut connecting = std::pin::pin!(connecting);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(r) = connecting.as_mut().poll(cx) {
            return Poll::Ready(Some(r));
        }
        while first.len() < WATCH_MAX {
            let mut chunk = [0u8; 4096];
            let mut buf = tokio::io::ReadBuf::new(&mut chunk);
            match std::pin::Pin::new(&mut *client).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) if buf.filled().is_empty() => return Poll::Ready(None),
                Poll::Ready(Ok(())) => first.extend_from_slice(buf.filled()),
                Poll::Ready(Err(_)) => return Poll::Ready(None),
                Poll::Pending => break,
            }
        }
        Poll::Pending
    })
    .await
}

async fn tcp(fe: Arc<Frontend>, mut client: Client, conn: ConnSamples, reg: Option<&crate::sessions::Registered>) {
    let peer = conn.peer;
    let log = fe.logger.as_ref().filter(|l| l.per_session()).map(|_| TcpLog::start());
    let connected = Box::pin(tcp_connect(&fe, &mut client, &conn)).await;
    let connect_ms = log
        .as_ref()
        .map(|l| crate::log::ms_between(l.at, std::time::Instant::now()));
    let Connected { be, sc, first } = match connected {
        Ok(c) => c,
        Err((term, be)) => {
            if let Some(l) = log {
                l.finish(&fe, &conn, be.as_deref(), None, (None, connect_ms), term);
            }
            return;
        }
    };
    let slot = sc.slot;
    let queue_ms = log
        .as_ref()
        .and_then(|l| Some(crate::log::ms_between(l.at, slot.dequeued?)));
    if let Some(r) = reg {
        r.served_by(be.id.server(slot.server));
    }
    let server = &be.rt.servers[slot.server];
    let t = &be.rt.timeouts;
    let mut limits = Limits::for_tunnel(fe.timeouts.client, t.server, t.tunnel);
    limits.client_fin = fe.timeouts.client_fin;
    limits.server_fin = t.server_fin;
    let mut out = if let (Client::Plain(c), None) = (&mut client, &be.side(slot.server).tls) {
        // The common case: plain TCP both ways, split without locks.
        let mut stream = sc.stream;
        if let Err(e) = stream.write_all(&first).await {
            tracing::warn!(frontend = %fe.name, backend = %be.rt.name, server = %server.name, client = %peer, "server closed before the first bytes: {e}");
            return;
        }
        // Response rules are rare: their future is only made (and boxed) when there are some.
        let judged = if be.tcp_rules.has_response() {
            Box::pin(response_rules(&fe, &be, slot.server, &mut stream, c, &conn)).await
        } else {
            Ok((0, 0))
        };
        match judged {
            Ok((0, 0)) => forward::forward(c, &mut stream, limits, be.side(slot.server).kill.as_deref()).await,
            Ok((up, down)) => {
                let mut out = forward::forward(c, &mut stream, limits, be.side(slot.server).kill.as_deref()).await;
                out.bytes_in += up;
                out.bytes_out += down;
                out
            }
            Err(out) => out,
        }
    } else {
        // In mode tcp only connection samples exist (`sni ssl_fc_sni` passes the client's on).
        let sni = be
            .side(slot.server)
            .tls
            .as_ref()
            .and_then(|c| c.sni_fetch.as_ref())
            .and_then(|f| crate::acl::text(&conn, f));
        let mut s = match Box::pin(dispatch::server_tls(
            &be,
            slot.server,
            sc.stream,
            (sni.as_deref(), false),
        ))
        .await
        {
            Ok((s, _)) => s,
            Err(e) => {
                throttled!(warn, frontend = %fe.name, backend = %be.rt.name, server = %server.name, client = %peer, "session refused: {e}");
                return;
            }
        };
        if let Err(e) = s.write_all(&first).await {
            tracing::warn!(frontend = %fe.name, backend = %be.rt.name, server = %server.name, client = %peer, "server closed before the first bytes: {e}");
            return;
        }
        match Box::pin(response_rules(&fe, &be, slot.server, &mut *s, client.stream(), &conn)).await {
            Ok((up, down)) => {
                let mut out = Box::pin(forward::forward_any(
                    client.stream(),
                    &mut *s,
                    limits,
                    be.side(slot.server).kill.as_deref(),
                ))
                .await;
                out.bytes_in += up;
                out.bytes_out += down;
                out
            }
            Err(out) => out,
        }
    };
    out.bytes_in += first.len() as u64;
    count_end(&fe, &conn, &be, slot.server, &out);
    if let Some(l) = log {
        let term = match out.end {
            forward::End::Closed => *b"--",
            forward::End::ClientTimeout => *b"cD",
            forward::End::ServerTimeout => *b"sD",
            forward::End::ClientError(_) => *b"CD",
            forward::End::ServerError(_) => *b"SD",
            forward::End::Killed => *b"KD",
            forward::End::Denied => *b"PD",
        };
        let served = (slot.server, sc.source, &out);
        l.finish(&fe, &conn, Some(&be), Some(served), (queue_ms, connect_ms), term);
    }
    let src = sc.source.map_or_else(|| "-".to_string(), |s| s.to_string());
    match out.end {
        forward::End::Closed => tracing::debug!(
            frontend = %fe.name, backend = %be.rt.name, server = %server.name, client = %peer, source = %src,
            bytes_in = out.bytes_in, bytes_out = out.bytes_out, "session closed"
        ),
        ref end => tracing::info!(
            frontend = %fe.name, backend = %be.rt.name, server = %server.name, client = %peer, source = %src,
            bytes_in = out.bytes_in, bytes_out = out.bytes_out, "session ended: {end}"
        ),
    }
}

/// `tcp-response content` rules on the server's first bytes, if the backend has any: Ok with
/// how many bytes already went (client to server, server to client: the session goes on), or
/// Err with the outcome of a session they ended (`close`: those bytes delivered; `reject`:
/// nothing, both sides closed, counted as a denied response).
async fn response_rules<S, C>(
    fe: &Frontend,
    be: &Backend,
    server: usize,
    stream: &mut S,
    client: &mut C,
    conn: &ConnSamples,
) -> Result<(u64, u64), forward::Outcome>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + ?Sized,
    C: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + ?Sized,
{
    if !be.tcp_rules.has_response() {
        return Ok((0, 0));
    }
    let mut seen = Vec::new();
    let (verdict, up) = be.tcp_rules.inspect_response(stream, client, &mut seen, conn).await;
    if let Verdict::Reject(span) = verdict {
        tracing::info!(backend = %be.rt.name, server = %be.rt.servers[server].name, client = %conn.peer, "response rejected by 'tcp-response content reject' at {span}");
        let listener = conn.listener.as_ref().map(|l| &l.counters);
        let sv = &be.rt.servers[server].counters;
        for c in [&fe.counters, &be.rt.counters, sv].into_iter().chain(listener) {
            c.inc(Field::DeniedResp);
        }
        return Err(forward::Outcome {
            bytes_in: up,
            bytes_out: 0,
            end: forward::End::Denied,
        });
    }
    let sent = match client.write_all(&seen).await {
        Ok(()) => seen.len() as u64,
        Err(e) => {
            return Err(forward::Outcome {
                bytes_in: up,
                bytes_out: 0,
                end: forward::End::ClientError(e),
            })
        }
    };
    if verdict == Verdict::Close {
        let _ = client.flush().await;
        return Err(forward::Outcome {
            bytes_in: up,
            bytes_out: sent,
            end: forward::End::Closed,
        });
    }
    Ok((up, sent))
}

/// Counts a TCP session's bytes and how it ended, on its frontend (and listener), backend and
/// server.
fn count_end(fe: &Frontend, conn: &ConnSamples, be: &Backend, server: usize, out: &forward::Outcome) {
    let sv = &be.rt.servers[server].counters;
    let listener = conn.listener.as_ref().map(|l| &l.counters);
    for c in [&fe.counters, &be.rt.counters, sv].into_iter().chain(listener) {
        c.add(Field::BytesIn, out.bytes_in);
        c.add(Field::BytesOut, out.bytes_out);
    }
    let abort = match out.end {
        forward::End::ClientTimeout | forward::End::ClientError(_) => Some(Field::ClientAborts),
        forward::End::ServerTimeout | forward::End::ServerError(_) => Some(Field::ServerAborts),
        forward::End::Closed | forward::End::Killed | forward::End::Denied => None,
    };
    if let Some(f) = abort {
        be.rt.counters.inc(f);
        sv.inc(f);
    }
}

/// A TCP session's log line in the making: when it began.
struct TcpLog {
    wall: std::time::SystemTime,
    at: std::time::Instant,
}

impl TcpLog {
    fn start() -> TcpLog {
        TcpLog {
            wall: std::time::SystemTime::now(),
            at: std::time::Instant::now(),
        }
    }

    /// Logs the session: `served` is its server, source address and outcome when it had one;
    /// `(queued, connected)` when it left the queue (if it waited there) and when its server
    /// connection was ready, in ms since it started.
    fn finish(
        self,
        fe: &Frontend,
        conn: &ConnSamples,
        be: Option<&Backend>,
        served: Option<(usize, Option<SocketAddr>, &forward::Outcome)>,
        (queued, connected): (Option<i64>, Option<i64>),
        term: [u8; 2],
    ) {
        let Some(logger) = &fe.logger else { return };
        let mut r = crate::log::Record::new(&fe.name, conn.peer, Some(conn.local), self.wall);
        let samples: Vec<Option<Box<str>>> = (logger.exprs().iter())
            .map(|e| crate::acl::text(conn, e).map(Box::from))
            .collect();
        r.samples = &samples;
        r.tls = conn.tls.is_some();
        r.backend = be.map(|b| b.rt.name.as_str());
        let queued = queued.unwrap_or(0);
        r.t_queue = Some(queued);
        r.t_connect = connected.map(|c| c - queued);
        r.t_total = Some(crate::log::ms_between(self.at, std::time::Instant::now()));
        r.term = term;
        r.feconn = fe.sessions();
        r.actconn = fe.process_sessions();
        if let Some(b) = be {
            r.beconn = b.rt.conns.cur();
            r.backend_queue = b.queue.len();
        }
        if let (Some(b), Some((i, source, out))) = (be, served) {
            let s = &b.rt.servers[i];
            r.server = Some(s.name.as_str());
            r.server_addr = Some(s.target(conn.local));
            r.source_addr = source;
            r.srvconn = s.active();
            r.bytes_in = out.bytes_in;
            r.bytes_out = out.bytes_out;
        }
        logger.finished(&r);
    }
}
