//! The return-path probe of servers reached with `usesrc`: a connection from a client-side
//! address, which only succeeds when the server's replies to clients come back through this
//! host. Catches the classic silent failure of transparent proxying, where normal checks
//! (from this host's own address) stay green while every client connection hangs.

use crate::model::Backend;
use clearway_config::model::{CheckParams, ReturnPathProbe, UseSrc};
use clearway_core::health::Transition;
use clearway_net::connect::{self, ConnectStage, SourceBind};
use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

#[derive(Debug)]
pub struct Probe {
    pub ok: bool,
    pub from: IpAddr,
    pub to: SocketAddr,
}

/// The client-side address to probe from, if this server is reached transparently and
/// probing is on.
fn probe_source(be: &Backend, server: usize, params: &CheckParams) -> Option<IpAddr> {
    let usesrc = be.rt.servers[server].source.as_ref()?.usesrc.as_ref()?;
    match params.return_path {
        ReturnPathProbe::Off => None,
        ReturnPathProbe::From(ip) => Some(ip),
        ReturnPathProbe::Auto => match usesrc {
            UseSrc::Addr(a) => Some(a.ip()),
            UseSrc::Client | UseSrc::ClientIp => be.rt.last_client(),
            // The addresses come from requests; only `check-transparent-source ADDR` says one.
            UseSrc::HdrIp { .. } => None,
        },
    }
}

/// Runs one probe; None when there is nothing to probe or the result says nothing about the
/// return path (a local error such as a missing capability, already reported elsewhere).
pub async fn probe(
    be: &Backend,
    server: usize,
    params: &CheckParams,
    target: SocketAddr,
    timeout: Duration,
) -> Option<Probe> {
    let from = probe_source(be, server, params)?;
    if from.is_ipv4() != target.ip().to_canonical().is_ipv4() {
        return None;
    }
    let bind = SourceBind {
        addr: SocketAddr::new(from, 0),
        transparent: true,
        interface: be.rt.servers[server].source.as_ref().and_then(|s| s.interface.clone()),
        port_range: None,
        port_hint: 0,
    };
    // Only the server's SYN-ACK is needed: like a plain check, the probe holds back its
    // handshake's last ACK and resets, so the server's application never sees it.
    let ok = match connect::connect(target, Some(&bind), Some(timeout), true, None).await {
        Ok(s) => {
            connect::reset_on_close(&s);
            true
        }
        // A reset is an answer too: it came back through this host.
        Err(e) if e.stage == ConnectStage::Connect && e.error.kind() == ErrorKind::ConnectionRefused => true,
        Err(e) if e.stage == ConnectStage::Timeout => false,
        Err(e) => {
            tracing::debug!(backend = %be.rt.name, server = %be.rt.servers[server].name, "return-path probe not run: {e}");
            return None;
        }
    };
    Some(Probe { ok, from, to: target })
}

/// Marks the server and says what is wrong and how to fix it, once per change.
pub fn apply(be: &Backend, server: usize, t: Transition, p: &Probe, timeout: Duration) {
    let s = &be.rt.servers[server];
    match t {
        Transition::WentDown => {
            s.set_return_path(false);
            tracing::warn!(
                "Server {}/{} is UP, return path broken: a connection from the client address {} to {} got no \
                 answer within {}ms while checks from this host's own address pass, so the server's replies to \
                 client addresses do not come back through this proxy and clients sent to it would hang. Fix: \
                 make this host the server's route back to the clients (its default gateway, or a route to the \
                 clients' networks via this host), or use the PROXY protocol instead of 'usesrc'. New clients \
                 avoid this server while another one is healthy.",
                be.rt.name,
                s.name,
                p.from,
                p.to,
                timeout.as_millis()
            );
        }
        Transition::WentUp => {
            s.set_return_path(true);
            tracing::info!(
                "Server {}/{}: return path restored: connections from client addresses ({}) are answered \
                 through this proxy again.",
                be.rt.name,
                s.name,
                p.from
            );
        }
    }
}
