//! `option tcp-check` with `tcp-check connect|send|send-binary|expect` rules, run in order.

use super::conn::CheckConn;
use super::{connect_checked, Regexes, Verdict};
use clearway_config::model::{TcpCheckRule, TcpExpect};
use clearway_net::connect::SourceBind;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// What an `expect` rule may read before it gives up.
const MAX_READ: usize = 16 * 1024;

/// Whether the first rule from `rules[from]` on that is not a `connect` sends something: then
/// a connection opened for it can hold back its handshake's last ACK for those bytes.
pub(super) fn sends_next(rules: &[TcpCheckRule], from: usize) -> bool {
    matches!(
        rules
            .iter()
            .skip(from)
            .find(|r| !matches!(r, TcpCheckRule::Connect { .. })),
        Some(TcpCheckRule::Send(_))
    )
}

/// Runs `rules` against the server at `target`. The check port is connected to first, unless
/// the first rule is a `connect` (as HAProxy's); `expect` rules give up `read_timeout` after
/// the first connection is open, and so does the whole check (with a leading `connect` rule,
/// that connection's own time counts too).
/// `(target, source, proxy)`: where and from where it connects, and the PROXY protocol header
/// the server's own first connection starts with (rules' `connect`s send none).
pub async fn run(
    rules: &[TcpCheckRule],
    regexes: &Regexes,
    (target, source, proxy): (SocketAddr, Option<&SourceBind>, Option<&[u8]>),
    connect_timeout: Duration,
    read_timeout: Duration,
) -> Verdict {
    let mut first = None;
    if !matches!(rules.first(), Some(TcpCheckRule::Connect { .. })) {
        let s = connect_checked(target, source, connect_timeout, sends_next(rules, 0), proxy)
            .await
            .map_err(|(r, i)| (r, where_failed(&i, " at initial connection step of tcp-check")))?;
        first = Some(CheckConn::new(s, false));
    }
    let mut at = Instant::now() + read_timeout;
    if first.is_none() {
        at += connect_timeout;
    }
    // The rules, from the first connection if already open.
    let steps = async {
        let mut stream = first;
        let mut deadline = stream.as_ref().map(|_| Instant::now() + read_timeout);
        let mut received = Vec::new();
        for (step, rule) in rules.iter().enumerate() {
            let step = step + 1;
            match rule {
                TcpCheckRule::Connect { port, linger } => {
                    // A `connect` with no rule after it only asks whether the port answers: as a
                    // plain check, the handshake's last ACK is held back and the connection reset,
                    // so the server's application does not accept it. One followed by a `send`
                    // lets those bytes carry that ACK.
                    let last = step == rules.len();
                    let to = SocketAddr::new(target.ip(), port.unwrap_or(target.port()));
                    let s = connect_checked(to, source, connect_timeout, last || sends_next(rules, step), None)
                        .await
                        .map_err(|(r, i)| {
                            let what = match port {
                                Some(p) => format!(" at step {step} of tcp-check (connect port {p})"),
                                None => format!(" at step {step} of tcp-check (connect)"),
                            };
                            (r, where_failed(&i, &what))
                        })?;
                    deadline.get_or_insert_with(|| Instant::now() + read_timeout);
                    if last {
                        if !linger {
                            clearway_net::connect::reset_on_close(&s);
                        }
                        stream = None;
                    } else {
                        // The one it replaces is let go (see `CheckConn`).
                        stream = Some(CheckConn::new(s, *linger));
                    }
                    received.clear();
                }
                TcpCheckRule::Send(bytes) => {
                    let s = stream
                        .as_mut()
                        .ok_or(("Layer7 invalid response", format!("no connection at step {step}")))?;
                    s.write_all(bytes)
                        .await
                        .map_err(|e| ("Layer7 invalid response", format!("TCPCHK send at step {step}: {e}")))?;
                }
                TcpCheckRule::Expect { negate, matcher } => {
                    let s = stream
                        .as_mut()
                        .ok_or(("Layer7 invalid response", format!("no connection at step {step}")))?;
                    let found = |data: &[u8]| match matcher {
                        TcpExpect::Bytes(b) => super::contains(data, b),
                        TcpExpect::Regex(r) => regexes.is_match(r, data),
                    };
                    let what = match matcher {
                        TcpExpect::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
                        TcpExpect::Regex(r) => r.clone(),
                    };
                    // Set with the first connection, which this rule's stream is or came after.
                    let at = *deadline.get_or_insert_with(|| Instant::now() + read_timeout);
                    let Ok(found) = tokio::time::timeout_at(at, read_until(s, &mut received, found)).await else {
                        let info =
                            format!("TCPCHK did not match content '{what}' at step {step} before 'timeout check'");
                        return Err(("Layer7 timeout", info));
                    };
                    if found == *negate {
                        let info = if *negate {
                            format!("TCPCHK matched unwanted content '{what}' at step {step}")
                        } else {
                            format!("TCPCHK did not match content '{what}' at step {step}")
                        };
                        return Err(("Layer7 invalid response", info));
                    }
                }
            }
        }
        Ok((
            if rules.is_empty() {
                "Layer4 check passed"
            } else {
                "Layer7 check passed"
            },
            String::new(),
        ))
    };
    super::backstop(at, steps, "Layer7 timeout").await
}

/// HAProxy's words for a failed connection of a tcp-check: the system's message, then where.
fn where_failed(os: &str, at: &str) -> String {
    format!("{os}{at}")
}

/// Reads until `found` holds for what was received, the peer closes, or `MAX_READ` is reached.
async fn read_until(s: &mut TcpStream, received: &mut Vec<u8>, found: impl Fn(&[u8]) -> bool) -> bool {
    let mut chunk = [0u8; 4096];
    while !found(received) && received.len() < MAX_READ {
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => received.extend_from_slice(&chunk[..n]),
        }
    }
    found(received)
}
