//! Dispatch: the only caller of the balancer and of connect. Owns the server queue (waiting up
//! to `timeout queue` for a free slot), the connection attempt with its source address, retries
//! and `option redispatch`, the TLS handshake with `ssl` servers, and explaining failed
//! attempts; must not move session bytes.

use crate::acl::ConnSamples;
use crate::model::{Assigned, Backend};
use crate::proxy_protocol;
use crate::queue::{NoSlot, Want};
use crate::stream::ServerStream;
use clearway_config::model::SendProxy;
use clearway_core::balance::Key;
use clearway_core::source::{source_for, SourceAddr};
use clearway_core::Field;
use clearway_net::connect::{self, ConnectError, ConnectStage, SourceBind};
use clearway_net::errors::errno_name;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// Holds a server connection slot; releasing it wakes queued sessions.
#[derive(Debug)]
pub struct SlotGuard {
    backend: Arc<Backend>,
    pub server: usize,
    /// When the slot was granted after waiting for it in the queue, for a session that is
    /// logged (`%Tw`); None when it was free at once or nobody logs the wait.
    pub dequeued: Option<Instant>,
    /// The server's kill count when the slot was granted (0 for servers without one).
    kill_since: u32,
    /// The server's address count when the slot was granted, before its address was read
    /// to connect: a connection kept idle under it is never one to a newer address.
    pub epoch: u32,
}

impl SlotGuard {
    fn new(be: &Arc<Backend>, server: usize, dequeued: Option<Instant>) -> SlotGuard {
        SlotGuard {
            backend: be.clone(),
            server,
            dequeued,
            kill_since: be.side(server).kill.as_ref().map_or(0, |k| k.count()),
            epoch: be.rt.servers[server].epoch(),
        }
    }

    /// Whether the server's sessions were shut down since the slot was granted
    /// (`shutdown sessions server`, `on-marked-down shutdown-sessions`): a request failing on
    /// it failed for that reason.
    pub fn killed(&self) -> bool {
        self.kill().is_some_and(|k| k.fired_since(self.kill_since))
    }

    /// The server's kill, when its sessions can be ended from outside.
    pub fn kill(&self) -> Option<&Arc<crate::kill::Kill>> {
        self.backend.side(self.server).kill.as_ref()
    }

    /// The backend's and the server's names, for logs.
    pub fn names(&self) -> (&str, &str) {
        (&self.backend.rt.name, &self.backend.rt.servers[self.server].name)
    }

    /// Connections to this slot's server in use now, this one among them.
    pub fn in_use(&self) -> u32 {
        self.backend.rt.servers[self.server].active()
    }
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        self.backend.release(self.server);
    }
}

/// An established server connection and the slot it occupies.
#[derive(Debug)]
pub struct ServerConn {
    pub stream: TcpStream,
    pub slot: SlotGuard,
    /// The source address used, when one was set (`source` / `usesrc`).
    pub source: Option<SocketAddr>,
}

#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    #[error("no server available")]
    NoServer,
    #[error(
        "no server available: every server's return path is broken (their replies to client addresses do not \
         come back through this proxy; see the 'return path broken' warnings)"
    )]
    ReturnPathBroken,
    #[error("queue timeout: no server had a free slot within {0:?}")]
    QueueTimeout(Duration),
    #[error("server '{0}': its queue is full (maxqueue)")]
    QueueFull(String),
    #[error("server '{server}': {reason}")]
    Connect { server: String, reason: String },
}

/// The client a server connection is for.
#[derive(Debug, Clone, Copy)]
pub struct ClientSide<'a> {
    /// The client's connection: its address and the one it reached on this host (those a
    /// PROXY protocol header gave, if any), and what a header sent to servers tells of it.
    pub conn: &'a ConnSamples,
    /// The address a trusted request named for `usesrc hdr_ip`.
    pub hdr_ip: Option<std::net::IpAddr>,
    /// Bytes from the client are waiting to go to the server as soon as it is connected (a
    /// request, or what content inspection read): with `option tcp-smart-connect` they carry
    /// the handshake's last ACK.
    pub data_waiting: bool,
    /// The session is logged: note when a queued slot is granted (`SlotGuard::dequeued`).
    pub timed: bool,
    /// The hash of the request part `balance uri|url_param|hdr` reads (None: the request
    /// has none, or the algorithm reads no request).
    pub request_key: Option<u64>,
    /// The server a `use-server` rule assigned (`Backend::assigned_server`).
    pub assigned: Option<Assigned>,
    /// The request's unique id, for a PROXY protocol header that carries it.
    pub unique_id: Option<&'a str>,
    /// Set once a server's slot is granted (the session left the queue, if it was in it).
    pub slotted: Option<&'a std::sync::atomic::AtomicBool>,
}

impl ClientSide<'_> {
    /// What the backend's algorithm hashes for this session.
    fn key(&self, be: &Backend) -> Key {
        if be.balance.hashes_request() {
            Key::Request(self.request_key)
        } else {
            Key::Addr(self.conn.peer.ip())
        }
    }
}

/// Chooses a server and connects to it, retrying and redispatching on failure as configured.
pub async fn connect_server(be: &Arc<Backend>, client: ClientSide<'_>) -> Result<ServerConn, DispatchError> {
    match connect_or_reuse(be, client, None, |_| None::<std::convert::Infallible>).await? {
        Got::New(c) => Ok(c),
        Got::Reused(_, never) => match never {},
    }
}

/// A server connection for a request: one already open that `reuse` handed back, or a new one.
#[derive(Debug)]
pub enum Got<T> {
    Reused(SlotGuard, T),
    New(ServerConn),
}

/// What `reuse_now` found.
pub enum Now<T> {
    /// A slot, and an idle connection to its server.
    Reused(SlotGuard, T),
    /// A slot, but no idle connection: pass it to `connect_or_reuse`.
    Slot(SlotGuard),
    /// No slot without waiting: `connect_or_reuse` queues.
    Wait,
}

/// The usual case of an HTTP request, without waiting and without a future: a free slot on
/// the server the balancer picks, and `reuse(server)` offering an idle connection to it.
pub fn reuse_now<T>(
    be: &Arc<Backend>,
    client: ClientSide<'_>,
    prefer: Option<usize>,
    reuse: impl FnOnce(usize) -> Option<T>,
) -> Now<T> {
    be.rt.note_client(client.conn.peer.ip());
    if let Some(a) = client.assigned {
        // A `use-server` rule's server: its slot now, or its line.
        let Some(server) = be.queue.try_acquire(&be.rt, client.key(be), Want::Server(a.server)) else {
            return Now::Wait;
        };
        let slot = SlotGuard::new(be, server, None);
        return match reuse(server) {
            Some(t) => Now::Reused(slot, t),
            None => Now::Slot(slot),
        };
    }
    // The server the session prefers (`option prefer-last-server`, an NTLM challenge), when
    // it may take sessions and has room; the balance algorithm's choice otherwise.
    let preferred = prefer.filter(|&i| {
        if !be.rt.with_eligible(None, |l| l.contains(&i)) {
            return false;
        }
        be.rt.enter();
        let taken = be.rt.take_slot_on(i);
        if !taken {
            be.rt.leave();
        }
        taken
    });
    let Some(server) = preferred.or_else(|| be.queue.try_acquire(&be.rt, client.key(be), Want::Any { avoid: None }))
    else {
        return Now::Wait;
    };
    let slot = SlotGuard::new(be, server, None);
    match reuse(server) {
        Some(t) => Now::Reused(slot, t),
        None => Now::Slot(slot),
    }
}

/// Like `connect_server`, but once a server is chosen (and its slot taken), `reuse(server)` may
/// offer an idle connection to it instead of opening one (HTTP connection reuse). `first` is
/// a slot `reuse_now` already took: the first attempt uses it.
pub async fn connect_or_reuse<T>(
    be: &Arc<Backend>,
    client: ClientSide<'_>,
    mut first: Option<SlotGuard>,
    mut reuse: impl FnMut(usize) -> Option<T>,
) -> Result<Got<T>, DispatchError> {
    if first.is_none() {
        be.rt.note_client(client.conn.peer.ip());
    }
    // `retry-on` without `conn-failure`: a failed connection is not tried again.
    let attempts = if be.retry_on.conn_failure {
        be.rt.retries.saturating_add(1)
    } else {
        1
    };
    let queue_limit = be.rt.timeouts.queue_or_connect();
    let mut last: Option<usize> = None;
    let mut last_err = DispatchError::NoServer;
    for attempt in 1..=attempts {
        let stays = client.assigned.is_some_and(|a| a.stays);
        let redispatch = be.rt.redispatch && !stays && attempt == attempts && attempt > 1;
        let want = match (last, client.assigned) {
            (Some(i), _) if !redispatch => {
                // Same server again, after a short turn-around as HAProxy does so a restarting
                // server is not hammered: min(timeout connect, 1s).
                let pause = be
                    .rt
                    .timeouts
                    .connect
                    .unwrap_or(Duration::from_secs(1))
                    .min(Duration::from_secs(1));
                tokio::time::sleep(pause).await;
                Want::Server(i)
            }
            (None, Some(a)) => Want::Server(a.server),
            _ => Want::Any { avoid: last },
        };
        let slot = match first.take() {
            Some(slot) => slot,
            None => match be.queue.acquire(&be.rt, client.key(be), want, queue_limit).await {
                Ok(server) => {
                    if let Some(s) = client.slotted {
                        s.store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                    SlotGuard::new(be, server, client.timed.then(Instant::now))
                }
                Err(NoSlot::NoServer) if be.rt.only_broken_return_paths() => {
                    return Err(DispatchError::ReturnPathBroken)
                }
                Err(NoSlot::NoServer) => return Err(DispatchError::NoServer),
                Err(NoSlot::Timeout) => return Err(DispatchError::QueueTimeout(queue_limit.unwrap_or_default())),
                Err(NoSlot::Full(i)) => return Err(DispatchError::QueueFull(be.rt.servers[i].name.clone())),
            },
        };
        if let Some(t) = reuse(slot.server) {
            return Ok(Got::Reused(slot, t));
        }
        let server = &be.rt.servers[slot.server];
        let target = server.target(client.conn.local);
        if target.ip().is_unspecified() {
            // A server DNS has given no address yet (it is in maintenance: only a race gets here).
            return Err(DispatchError::Connect {
                server: server.name.clone(),
                reason: "no address yet (DNS)".into(),
            });
        }
        if server.is_original_destination() && clearway_net::system::is_local_address(target.ip()) {
            // A catch-all bind also accepts connections to this host's own addresses: following
            // them to their "original destination" would connect Clearway to itself, forever.
            return Err(DispatchError::Connect {
                server: server.name.clone(),
                reason: format!("the client's original destination {target} is this host: not connecting to itself"),
            });
        }
        let source = match &server.source {
            Some(src) => match source_for(src, client.conn.peer, target, client.hdr_ip) {
                Ok(s) => Some((s, src.interface.clone())),
                Err(e) => {
                    // A permanent mismatch between the client and the server: retrying cannot help.
                    tracing::warn!(backend = %be.rt.name, server = %server.name, "{}: cannot choose a source address: {e}", src.span);
                    return Err(DispatchError::Connect {
                        server: server.name.clone(),
                        reason: e.to_string(),
                    });
                }
            },
            None => None,
        };
        let bind = source.as_ref().map(|(s, iface)| SourceBind {
            addr: s.addr,
            transparent: s.transparent,
            interface: iface.clone(),
            // `usesrc client` keeps the client's port; otherwise a configured range applies.
            port_range: server
                .source
                .as_ref()
                .and_then(|src| src.port_range)
                .filter(|_| s.addr.port() == 0),
            port_hint: server.total() as u32,
        });
        // Through a SOCKS4 proxy (`socks4`): connected to it, then asked to reach the server.
        let socks = be.side(slot.server).socks4;
        let delayed_ack = be.smart_connect && client.data_waiting && socks.is_none();
        let connected = connect::connect(
            socks.unwrap_or(target),
            bind.as_ref(),
            be.rt.timeouts.connect,
            delayed_ack,
            be.keepalive.as_ref(),
        )
        .await;
        let connected = match (connected, socks) {
            (Ok(s), Some(_)) => through_socks4(s, target, be.rt.timeouts.connect).await,
            (r, _) => r,
        };
        let connected = match (connected, &be.side(slot.server).send_proxy) {
            (Ok(s), p) if p.on() => send_proxy(s, p, client.conn, client.unique_id).await,
            (r, _) => r,
        };
        match connected {
            Ok(stream) => {
                server.counters.inc(Field::Connects);
                if let Some(o) = &be.side(slot.server).observer {
                    o.connected(true);
                }
                return Ok(Got::New(ServerConn {
                    stream,
                    slot,
                    source: source.map(|(s, _)| s.addr),
                }));
            }
            Err(e) => {
                server.counters.inc(Field::ErrConn);
                if let Some(o) = &be.side(slot.server).observer {
                    o.connected(false);
                }
                if attempt < attempts {
                    let next_redispatches = be.rt.redispatch && attempt + 1 == attempts;
                    let f = if next_redispatches {
                        Field::Redispatches
                    } else {
                        Field::Retries
                    };
                    be.rt.counters.inc(f);
                    server.counters.inc(f);
                } else {
                    be.rt.counters.inc(Field::ErrConn);
                }
                let reason = explain(&e, source.as_ref().map(|(s, _)| *s), client.conn.peer, target);
                tracing::warn!(
                    backend = %be.rt.name,
                    server = %server.name,
                    "connect attempt {attempt}/{attempts} to {target} failed: {reason}"
                );
                last_err = DispatchError::Connect {
                    server: server.name.clone(),
                    reason,
                };
                last = Some(slot.server);
            }
        }
    }
    Err(last_err)
}

/// Sends a `send-proxy*` server the PROXY protocol header that starts its connection: the
/// client's addresses (those a received header gave, if any), and with version 2 the ALPN
/// and what `proxy-v2-options` asks for. A new connection has room for it at once.
async fn send_proxy(
    mut s: TcpStream,
    p: &SendProxy,
    c: &ConnSamples,
    unique_id: Option<&str>,
) -> Result<TcpStream, ConnectError> {
    use tokio::io::AsyncWriteExt;
    let tls = c.tls.as_deref();
    let out = proxy_protocol::Outgoing {
        addrs: Some((c.peer, c.local)),
        alpn: tls.and_then(|t| t.alpn.as_deref()),
        authority: c
            .proxy
            .as_ref()
            .and_then(|h| h.authority.as_deref())
            .or_else(|| tls.and_then(|t| t.sni.as_deref())),
        tls: tls.map(|t| (t.version, t.cipher)),
        unique_id,
    };
    match s.write_all(&proxy_protocol::encode(p, &out)).await {
        Ok(()) => Ok(s),
        Err(error) => Err(ConnectError {
            stage: ConnectStage::Connect,
            error,
        }),
    }
}

/// The SOCKS4 CONNECT to `target` on a connection to the proxy, within `timeout`.
pub async fn through_socks4(
    mut s: TcpStream,
    target: SocketAddr,
    timeout: Option<Duration>,
) -> Result<TcpStream, ConnectError> {
    let asked = crate::socks4::connect(&mut s, target);
    let done = match timeout {
        Some(t) => tokio::time::timeout(t, asked)
            .await
            .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into())),
        None => asked.await,
    };
    match done {
        Ok(()) => Ok(s),
        Err(error) if error.kind() == std::io::ErrorKind::TimedOut => Err(ConnectError {
            stage: ConnectStage::Timeout,
            error,
        }),
        Err(error) => Err(ConnectError {
            stage: ConnectStage::Connect,
            error,
        }),
    }
}

/// Says what failed and the likely cause, in words an operator can act on.
fn explain(e: &ConnectError, source: Option<SourceAddr>, client: SocketAddr, target: SocketAddr) -> String {
    let spoofed = source.filter(|s| s.transparent);
    let errno = errno_name(&e.error);
    let what = match e.stage {
        ConnectStage::Timeout => "no answer within 'timeout connect'".to_string(),
        _ => format!("{e} ({errno})"),
    };
    let cause = match (e.stage, e.error.kind(), spoofed) {
        (ConnectStage::Timeout, _, Some(s)) | (ConnectStage::Connect, std::io::ErrorKind::TimedOut, Some(s)) => {
            format!(
                "the connection came from the client's address {}; the server's replies to it probably do not \
             route back through this host (route the clients' network, or the server's default gateway, via \
             this host), or the divert rules for returning packets are missing here (iptables -m socket \
             mark + 'ip rule add fwmark 1 lookup 100' + 'ip route add local 0.0.0.0/0 dev lo table 100')",
                s.addr.ip()
            )
        }
        (ConnectStage::Timeout, _, None) => {
            format!("the server {target} did not answer: down, filtered or unreachable")
        }
        (ConnectStage::Transparent, std::io::ErrorKind::PermissionDenied, _) => {
            "using a foreign source address needs the CAP_NET_ADMIN capability".to_string()
        }
        (ConnectStage::Bind, std::io::ErrorKind::AddrNotAvailable, Some(s)) => format!(
            "the kernel refused the foreign source address {} (IP_TRANSPARENT not in effect?)",
            s.addr.ip()
        ),
        (ConnectStage::Bind, std::io::ErrorKind::AddrInUse, Some(_)) => format!(
            "the client's own port {} is already in use towards this server ('usesrc client' needs one \
             port per connection; 'usesrc clientip' avoids this)",
            client.port()
        ),
        (ConnectStage::Bind, std::io::ErrorKind::AddrNotAvailable, None) => {
            "the 'source' address is not configured on this host".to_string()
        }
        (ConnectStage::Connect, std::io::ErrorKind::ConnectionRefused, _) => format!("nothing listens on {target}"),
        (ConnectStage::Connect, _, _) if matches!(errno, "EHOSTUNREACH" | "ENETUNREACH") => {
            format!("no route to {target}")
        }
        _ => String::new(),
    };
    if cause.is_empty() {
        what
    } else {
        format!("{what}: {cause}")
    }
}

/// Opens TLS to a server when its line says `ssl`. Also says whether the server agreed to
/// HTTP/2 (ALPN `h2`).
/// `sni` is the per-request SNI, for servers with `sni req.hdr(host)` and the like;
/// `h1_only`: ALPN offers only `http/1.1` (a WebSocket request's own connection, `ws`).
pub async fn server_tls(
    be: &Backend,
    server: usize,
    stream: TcpStream,
    (sni, h1_only): (Option<&str>, bool),
) -> Result<(Box<dyn ServerStream>, bool), String> {
    match &be.side(server).tls {
        None => Ok((Box::new(stream), false)),
        Some(c) => {
            let connector = match (&c.h1_only, h1_only) {
                (Some(h1), true) => h1,
                _ => &c.connector,
            };
            let handshake = connector.connect(c.name_for(sni), stream);
            let limit = be.rt.timeouts.connect.unwrap_or(crate::tls::HANDSHAKE_DEFAULT);
            match tokio::time::timeout(limit, handshake).await {
                Ok(Ok(s)) => {
                    let h2 = s.get_ref().1.alpn_protocol() == Some(b"h2");
                    Ok((Box::new(s), h2))
                }
                Ok(Err(e)) => Err(format!("TLS handshake with the server failed: {e}")),
                Err(_) => Err(format!("TLS handshake with the server not finished within {limit:?}")),
            }
        }
    }
}
