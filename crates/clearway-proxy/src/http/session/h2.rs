//! Requests to HTTP/2 servers (ALPN `h2` or `proto h2`): the handshake on a new server
//! connection, a request turned into HTTP/2's form, and one exchange on a shared connection.
//! Must not choose servers or open connections.

use super::Session;
use crate::http::pool::{H2Peer, ReqBody, Sender};
use crate::log::throttle::throttled;
use crate::model::Backend;
use http::header::{self, HeaderMap};
use http::{Request, Response, Uri, Version};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

/// What sending a request on an HTTP/2 server connection came to.
pub(super) enum H2Sent {
    /// The server's response, and the connection for the pool.
    Answered(Response<Incoming>, hyper::client::conn::http2::SendRequest<ReqBody>),
    /// The connection was closed before it took the request: its body, to try another.
    Again(ReqBody),
    /// The status to answer the client with (502 or 504), logged.
    Refused(u16),
}

impl Session {
    #[allow(
        clippy::too_many_arguments,
        reason = "the parts of one request, borrowed from forward"
    )]
    pub(super) async fn send_h2(
        &self,
        be: &Backend,
        server: usize,
        (mut h2, peer, reused): (hyper::client::conn::http2::SendRequest<ReqBody>, &H2Peer, bool),
        parts: &http::request::Parts,
        uri: &Uri,
        headers: &HeaderMap,
        body: ReqBody,
        attempt: u32,
    ) -> H2Sent {
        if h2.ready().await.is_err() {
            return H2Sent::Again(body);
        }
        let mut req = Request::new(body);
        *req.method_mut() = parts.method.clone();
        *req.uri_mut() = uri.clone();
        *req.headers_mut() = HeaderMap::clone(headers);
        to_h2(
            &mut req,
            parts.uri.scheme(),
            be.rt.servers[server].target(self.conn.local),
        );
        // A switch of protocols (WebSocket) goes as an extended CONNECT, to a server that
        // takes them; to one that does not, nothing is sent (as HAProxy, 502).
        if req.headers().contains_key(header::UPGRADE) {
            // A new connection's SETTINGS may still be on their way.
            let within = if reused {
                Duration::ZERO
            } else {
                be.rt
                    .timeouts
                    .connect
                    .map_or(Duration::from_secs(1), |t| t.min(Duration::from_secs(1)))
            };
            let accepts = super::upgrade::server_accepts(peer, within).await;
            if !super::upgrade::to_extended_connect(&mut req, accepts) {
                throttled!(
                    warn,
                    backend = %be.rt.name, server = %be.rt.servers[server].name, client = %self.conn.peer,
                    "protocol switch refused: the server's HTTP/2 connection does not take extended CONNECT (RFC 8441)"
                );
                return H2Sent::Refused(502);
            }
        }
        let send = std::pin::pin!(h2.try_send_request(req));
        let timeout = self.server_timeouts(be, parts).0;
        let Some(sent) = self.within_server_timeout(be, (server, timeout), send).await else {
            return H2Sent::Refused(504);
        };
        match sent {
            Ok(res) => H2Sent::Answered(res, h2),
            Err(mut e) => match e.take_message() {
                Some(r) if attempt == 0 => {
                    tracing::debug!(backend = %be.rt.name, "idle server connection was closed; using a new one");
                    H2Sent::Again(r.into_body())
                }
                _ => {
                    throttled!(
                        warn,
                        backend = %be.rt.name, server = %be.rt.servers[server].name, client = %self.conn.peer,
                        "bad or no response from the server: {}", e.error()
                    );
                    H2Sent::Refused(502)
                }
            },
        }
    }
}

/// Starts HTTP/2 on a new server connection; its I/O runs in a task until it closes.
pub(super) async fn handshake_h2(stream: Box<dyn crate::stream::Stream>) -> Result<Sender, hyper::Error> {
    let (sender, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        // Windows start at HTTP/2's default (nothing sent before the first request, as
        // HAProxy) and grow with the measured bandwidth-delay product.
        .adaptive_window(true)
        .handshake(TokioIo::new(stream))
        .await?;
    let peer = Arc::new(H2Peer::default());
    let seen = peer.clone();
    tokio::spawn(async move {
        let mut conn = std::pin::pin!(conn);
        let r = loop {
            tokio::select! {
                r = conn.as_mut() => break r,
                // A request that would switch protocols asks whether the server takes
                // extended CONNECT yet.
                () = seen.ask.notified() => {
                    if conn.is_extended_connect_protocol_enabled() {
                        seen.connect_protocol.store(true, Ordering::Relaxed);
                    }
                    seen.answered.notify_waiters();
                }
            }
        };
        if let Err(e) = r {
            tracing::debug!("server connection ended: {e}");
        }
    });
    Ok(Sender::H2(sender, clearway_core::thread::number(), peer))
}

/// Turns a request prepared for HTTP/1.1 into one for HTTP/2: an absolute target (HTTP/2
/// carries scheme and authority), no connection-specific headers.
///
/// The scheme is the client's when it named one (an absolute target, or an HTTP/2
/// client's `:scheme`); an origin-form target gets `https`, whatever the connections: what
/// browsers send and what HAProxy sends, so servers see the same `:scheme` behind both.
fn to_h2(req: &mut Request<ReqBody>, scheme: Option<&http::uri::Scheme>, server: std::net::SocketAddr) {
    *req.version_mut() = Version::HTTP_2;
    let authority = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| server.to_string());
    let pq = req.uri().path_and_query().map_or("/", |p| p.as_str()).to_string();
    let scheme = scheme.cloned().unwrap_or(http::uri::Scheme::HTTPS);
    if let Ok(u) = Uri::builder()
        .scheme(scheme)
        .authority(authority)
        .path_and_query(pq)
        .build()
    {
        *req.uri_mut() = u;
    }
    req.headers_mut().remove(header::CONNECTION);
    req.headers_mut().remove(header::HOST);
}

impl Session {
    /// `fut` under `timeout server`; None when it ran out (logged).
    async fn within_server_timeout<F: Future>(
        &self,
        be: &Backend,
        (server, timeout): (usize, Option<Duration>),
        mut fut: Pin<&mut F>,
    ) -> Option<F::Output> {
        // `fut` is pinned by the caller and awaited once here with its timer: passed by value,
        // it was held twice (as the argument, then pinned), and a `timeout` wrapper or a
        // `match` with an await in each arm would hold it once more.
        let mut sleep = std::pin::pin!(timeout.map(tokio::time::sleep));
        let r = std::future::poll_fn(|cx| {
            if let Poll::Ready(v) = fut.as_mut().poll(cx) {
                return Poll::Ready(Some(v));
            }
            let expired = sleep.as_mut().as_pin_mut().is_some_and(|s| s.poll(cx).is_ready());
            if expired {
                Poll::Ready(None)
            } else {
                Poll::Pending
            }
        })
        .await;
        if r.is_none() {
            throttled!(warn, backend = %be.rt.name, server = %be.rt.servers[server].name, "no response within 'timeout server'");
        }
        r
    }
}
