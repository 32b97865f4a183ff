//! A new server connection made ready for requests: TLS when the server line says `ssl`,
//! then HTTP/1.1, or HTTP/2 when ALPN or `proto h2` says so.

use super::*;

impl Session {
    /// TLS (when the server line says `ssl`) and the HTTP handshake on a new server
    /// connection; `h1_only`: HTTP/1.1 whatever the server line says (a WebSocket request's
    /// own connection, `ws`).
    pub(super) async fn open(
        &self,
        be: &Arc<Backend>,
        c: dispatch::ServerConn,
        (sni, h1_only): (Option<Arc<str>>, bool),
    ) -> Result<(dispatch::SlotGuard, Sender), Response<ResBody>> {
        let name = &be.rt.servers[c.slot.server].name;
        let tls = crate::dispatch::server_tls(be, c.slot.server, c.stream, (sni.as_deref(), h1_only));
        let (stream, alpn_h2) = match tls.await {
            Ok(s) => s,
            Err(e) => {
                throttled!(warn, backend = %be.rt.name, server = %name, client = %self.conn.peer, "{e}");
                return Err(self.error(Some(be), 503));
            }
        };
        let tally = be.tally(c.slot.server);
        let stream = Kill::guard(be.side(c.slot.server).kill.as_ref(), stream);
        if h1_only || !(alpn_h2 || be.side(c.slot.server).h2) {
            // A response head larger than a request's may be is refused (502), as HAProxy's
            // buffer would.
            return Ok((c.slot, Sender::H1(h1::Conn::counted(stream, READ_BUF, Some(tally)))));
        }
        // Given up while the server holds it open, it is reset, as an HTTP/1.1 one is.
        match handshake_h2(Box::new(crate::http::server_io::ServerIo::new(stream, Some(tally)))).await {
            Ok(s) => Ok((c.slot, s)),
            Err(e) => {
                tracing::warn!(backend = %be.rt.name, server = %name, "server connection failed at the HTTP handshake: {e}");
                Err(self.error(Some(be), 502))
            }
        }
    }
}
