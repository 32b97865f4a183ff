//! Requests to HTTP/2 servers (ALPN `h2` or `proto h2`): the handshake on a new server
//! connection, a request turned into HTTP/2's form, and one exchange on a shared connection.
//! Must not choose servers or open connections.

use super::Session;
use crate::http::pool::{ReqBody, Sender};
use crate::log::throttle::throttled;
use crate::model::Backend;
use http::header::{self, HeaderMap};
use http::{Request, Response, Uri, Version};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};

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
        mut h2: hyper::client::conn::http2::SendRequest<ReqBody>,
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
            be.tls[server].is_some(),
            be.rt.servers[server].target(self.conn.local),
        );
        let send = std::pin::pin!(h2.try_send_request(req));
        let Some(sent) = self.within_server_timeout(be, server, send).await else {
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
        .handshake(TokioIo::new(stream))
        .await?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!("server connection ended: {e}");
        }
    });
    Ok(Sender::H2(sender, clearway_core::thread::number()))
}

/// Turns a request prepared for HTTP/1.1 into one for HTTP/2: an absolute target (HTTP/2
/// carries scheme and authority), no connection-specific headers.
fn to_h2(req: &mut Request<ReqBody>, tls: bool, server: std::net::SocketAddr) {
    *req.version_mut() = Version::HTTP_2;
    let authority = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| server.to_string());
    let pq = req.uri().path_and_query().map_or("/", |p| p.as_str()).to_string();
    let scheme = if tls { "https" } else { "http" };
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
