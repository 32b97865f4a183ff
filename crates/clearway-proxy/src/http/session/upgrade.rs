//! Protocol switches (WebSocket and the like): HTTP/1.1's `Connection: upgrade` with
//! `Upgrade`, and HTTP/2's extended CONNECT with `:protocol` (RFC 8441), each turned into the
//! other's form when client and server speak different versions; then the tunnel once both
//! sides have switched. Must not choose servers or open connections.
//!
//! Inside the proxy a switch has one form, HTTP/1.1's: an HTTP/2 client's extended CONNECT
//! becomes `GET` with `Connection: upgrade` and `Upgrade: PROTOCOL` as it arrives (so rules and
//! logs see what an HTTP/1.1 client would send), and goes back to extended CONNECT only on the
//! way to an HTTP/2 server. A server's yes is 101 from HTTP/1.1 and 200 from HTTP/2; each
//! client gets its own version's.
//!
//! WebSocket's handshake keys (RFC 6455 section 4) exist only in HTTP/1.1 (RFC 8441 section
//! 5): an HTTP/2 client's request gets a random `Sec-WebSocket-Key` on its way to an HTTP/1.1
//! server, and an HTTP/1.1 client gets the `Sec-WebSocket-Accept` an HTTP/2 server does not
//! send. A server's 101 whose accept value does not answer the key is refused (502).

use super::Session;
use crate::http::body::ResBody;
use crate::http::pool::{H2Peer, ReqBody};
use crate::http::{client_h1, h1};
use crate::model::Backend;
use crate::stream::Stream;
use base64::Engine as _;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// The client's side of a switch, handed over once the response has gone out.
pub(super) enum ClientSwitch {
    H1(client_h1::OnUpgrade),
    H2(hyper::upgrade::OnUpgrade),
}

impl ClientSwitch {
    /// The client's handle, taken from a request that asks to switch.
    pub(super) fn take(parts: &mut http::request::Parts) -> Option<ClientSwitch> {
        if let Some(u) = parts.extensions.remove::<client_h1::OnUpgrade>() {
            return Some(ClientSwitch::H1(u));
        }
        parts
            .extensions
            .remove::<hyper::upgrade::OnUpgrade>()
            .map(ClientSwitch::H2)
    }

    async fn connection(self) -> Option<Box<dyn Stream>> {
        match self {
            ClientSwitch::H1(u) => Some(Box::new(u.connection().await?)),
            ClientSwitch::H2(u) => Some(Box::new(TokioIo::new(u.await.ok()?))),
        }
    }
}

/// The server's side of a switch it agreed to.
pub(super) enum ServerSwitch {
    H1(h1::ResponseBody),
    H2(hyper::upgrade::OnUpgrade),
}

impl ServerSwitch {
    async fn connection(self) -> Option<Box<dyn Stream>> {
        match self {
            ServerSwitch::H1(b) => Some(Box::new(b.into_upgraded()?)),
            ServerSwitch::H2(u) => Some(Box::new(TokioIo::new(u.await.ok()?))),
        }
    }
}

/// An HTTP/2 extended CONNECT (`:protocol`) in HTTP/1.1's form: `GET` with
/// `Connection: upgrade` and `Upgrade`. A plain CONNECT stays as it is.
pub(super) fn from_extended_connect(parts: &mut http::request::Parts) {
    if parts.method != Method::CONNECT {
        return;
    }
    let Some(p) = parts.extensions.remove::<hyper::ext::Protocol>() else {
        return;
    };
    // hyper took the value from an HPACK string that was a valid header value.
    let Ok(proto) = HeaderValue::from_str(p.as_str()) else {
        return;
    };
    parts.method = Method::GET;
    parts
        .headers
        .insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    if is_websocket(&proto) && !parts.headers.contains_key(header::SEC_WEBSOCKET_KEY) {
        let mut key = [0u8; 16];
        if ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut key).is_ok() {
            let key = base64::engine::general_purpose::STANDARD.encode(key);
            if let Ok(v) = HeaderValue::from_str(&key) {
                parts.headers.insert(header::SEC_WEBSOCKET_KEY, v);
            }
        }
    }
    parts.headers.insert(header::UPGRADE, proto);
}

/// Whether the protocol switched to is WebSocket.
pub(super) fn is_websocket(proto: &HeaderValue) -> bool {
    proto.as_bytes().eq_ignore_ascii_case(b"websocket")
}

/// The `Sec-WebSocket-Accept` value that answers `key` (RFC 6455 section 4.2.2).
fn websocket_accept(key: &HeaderValue) -> HeaderValue {
    const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY);
    ctx.update(key.as_bytes());
    ctx.update(GUID);
    let v = base64::engine::general_purpose::STANDARD.encode(ctx.finish());
    HeaderValue::from_str(&v).unwrap_or(HeaderValue::from_static(""))
}

/// A request for an HTTP/2 server that asks to switch (its `Upgrade` header) becomes an
/// extended CONNECT with the first protocol named (`:protocol` holds one). False when the
/// server has not said it takes them (SETTINGS_ENABLE_CONNECT_PROTOCOL): the request must
/// not go (RFC 8441, section 3).
pub(super) fn to_extended_connect(req: &mut Request<ReqBody>, server_accepts: bool) -> bool {
    let Some(up) = req.headers_mut().remove(header::UPGRADE) else {
        return true;
    };
    let first = up
        .to_str()
        .ok()
        .and_then(|v| v.split(',').next())
        .map(str::trim)
        .filter(|p| !p.is_empty());
    let (Some(proto), true) = (first, server_accepts) else {
        return false;
    };
    req.extensions_mut().insert(hyper::ext::Protocol::from(proto));
    *req.method_mut() = Method::CONNECT;
    req.headers_mut().remove(header::SEC_WEBSOCKET_KEY);
    true
}

/// Whether an HTTP/2 server connection takes extended CONNECT. A new connection's SETTINGS
/// may not have arrived when its first request is ready: that one waits for them, at most
/// `within`.
pub(super) async fn server_accepts(peer: &H2Peer, within: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    let mut step = Duration::from_millis(1);
    loop {
        if peer.connect_protocol.load(Ordering::Relaxed) {
            return true;
        }
        let answered = peer.answered.notified();
        peer.ask.notify_one();
        // The task is gone when the connection is: nothing answers then.
        if tokio::time::timeout_at(deadline, answered).await.is_err() {
            return peer.connect_protocol.load(Ordering::Relaxed);
        }
        if peer.connect_protocol.load(Ordering::Relaxed) {
            return true;
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return false;
        }
        tokio::time::sleep_until((now + step).min(deadline)).await;
        step = (step * 2).min(Duration::from_millis(50));
    }
}

impl Session {
    /// A server agreed to switch protocols: the client gets its own version's yes (101 with
    /// `Connection: upgrade` and `Upgrade` for HTTP/1.1, 200 for HTTP/2's extended CONNECT),
    /// and once both sides have switched, bytes flow as in `mode tcp` under `timeout tunnel`.
    /// The server connection leaves the pool for good; its slot is held until the tunnel ends.
    pub(super) fn tunnel(
        &self,
        be: &Arc<Backend>,
        mut rp: http::response::Parts,
        (proto, key): (&HeaderValue, Option<&HeaderValue>),
        client: Option<ClientSwitch>,
        (slot, (server_timeout, tunnel_timeout)): (crate::dispatch::SlotGuard, (Option<Duration>, Option<Duration>)),
        server: ServerSwitch,
    ) -> Response<ResBody> {
        let Some(client) = client else {
            tracing::warn!(backend = %be.rt.name, client = %self.conn.peer, "the server switched protocols without being asked to");
            return self.error(Some(be), 502);
        };
        let accept = is_websocket(proto).then(|| key.map(websocket_accept)).flatten();
        if let (Some(want), ServerSwitch::H1(_)) = (&accept, &server) {
            if rp.headers.get(header::SEC_WEBSOCKET_ACCEPT) != Some(want) {
                tracing::warn!(
                    backend = %be.rt.name, client = %self.conn.peer,
                    "protocol switch refused: the server's WebSocket handshake does not answer the key (Sec-WebSocket-Accept)"
                );
                return self.error(Some(be), 502);
            }
        }
        match client {
            ClientSwitch::H1(_) => {
                rp.status = StatusCode::SWITCHING_PROTOCOLS;
                rp.version = http::Version::HTTP_11;
                rp.headers
                    .insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
                if !rp.headers.contains_key(header::UPGRADE) {
                    rp.headers.insert(header::UPGRADE, proto.clone());
                }
                if let Some(a) = accept {
                    rp.headers.insert(header::SEC_WEBSOCKET_ACCEPT, a);
                }
            }
            ClientSwitch::H2(_) => {
                rp.status = StatusCode::OK;
                rp.version = http::Version::HTTP_2;
                rp.headers.remove(header::CONNECTION);
                rp.headers.remove(header::UPGRADE);
                rp.headers.remove(header::SEC_WEBSOCKET_ACCEPT);
            }
        }
        let limits = crate::forward::Limits::for_tunnel(self.fe.timeouts.client, server_timeout, tunnel_timeout);
        let (fe, be2, peer) = (self.fe.name.clone(), be.clone(), self.conn.peer);
        tokio::spawn(async move {
            let kill = be2.side(slot.server).kill.as_deref();
            match (client.connection().await, server.connection().await) {
                (Some(mut c), Some(mut s)) => {
                    let out = crate::forward::forward_any(&mut c, &mut s, limits, kill).await;
                    tracing::debug!(
                        frontend = %fe, backend = %be2.rt.name, client = %peer, bytes_in = out.bytes_in,
                        bytes_out = out.bytes_out, "upgraded connection ended: {}", out.end
                    );
                }
                (c, _) => {
                    let side = if c.is_none() { "client" } else { "server" };
                    tracing::info!(frontend = %fe, backend = %be2.rt.name, client = %peer, "protocol switch failed: the {side} connection was not handed over")
                }
            }
            drop(slot);
        });
        Response::from_parts(rp, ResBody::local(bytes::Bytes::new()))
    }
}
