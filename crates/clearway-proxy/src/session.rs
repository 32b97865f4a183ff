//! One client session: from an accepted connection to a server connection and the forwarding
//! between them, ending with one log line saying how it ended. Owns the choice of the backend
//! for a frontend; must not pick servers (dispatch does) or copy bytes itself (forward does).

use crate::acl::ConnSamples;
use crate::dispatch::{self, ClientSide};
use crate::forward::{self, Limits};
use crate::frontend::Frontend;
use clearway_config::model::Mode;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpStream;

pub async fn run(fe: Arc<Frontend>, mut client: TcpStream, peer: SocketAddr) {
    let local = match client.local_addr() {
        Ok(a) => a,
        Err(e) => {
            tracing::debug!(frontend = %fe.name, %peer, "client gone before the session started: {e}");
            return;
        }
    };
    let _ = client.set_nodelay(true);
    if fe.mode == Mode::Http {
        return crate::http::session::serve(fe, client, peer, local).await;
    }
    let Some(be) = fe.choose_backend(&ConnSamples { peer, local }).cloned() else {
        tracing::warn!(frontend = %fe.name, %peer, "no backend for this frontend: closing the connection");
        return;
    };
    let side = ClientSide { peer, local };
    let mut conn = match dispatch::connect_server(&be, side).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(frontend = %fe.name, backend = %be.rt.name, client = %peer, dst = %local, "session refused: {e}");
            return;
        }
    };
    let server = &be.rt.servers[conn.slot.server];
    let t = &be.rt.timeouts;
    let mut limits = Limits::for_tunnel(fe.timeouts.client, t.server, t.tunnel);
    limits.client_fin = fe.timeouts.client_fin;
    limits.server_fin = t.server_fin;
    let out = forward::forward(&mut client, &mut conn.stream, limits).await;
    let src = conn.source.map_or_else(|| "-".to_string(), |s| s.to_string());
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
