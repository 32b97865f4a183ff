//! `option tcp-check` with its `tcp-check connect|send|expect|comment` rules, run in order as
//! HAProxy runs them: connections plain or TLS (`ssl`, or the server's `check-ssl` for the
//! first one), an `expect` judging what was received since the last `send` (waiting for more
//! while a mismatch may still turn into a match, unless `min-recv` says enough), and
//! HAProxy's words for every result.

use super::conn::CheckConn;
use super::http_steps::Defaults;
use super::{connect_checked, Regexes, Verdict};
use crate::tls::Connector;
use clearway_config::model::{CheckConnect, TcpCheckExpect, TcpCheckRule, TcpExpect};
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// What a check reads at most (HAProxy's buffer): full, an `expect` is judged on what it holds.
const MAX_READ: usize = 16 * 1024;

/// The steps that do something (comments are steps too, but only count).
fn acts(r: &TcpCheckRule) -> bool {
    !matches!(r, TcpCheckRule::Comment(_))
}

/// Whether the first rule from `rules[from]` on that acts and is not a `connect` sends
/// something: then a connection opened for it can hold back its handshake's last ACK for
/// those bytes.
pub(super) fn sends_next(rules: &[TcpCheckRule], from: usize) -> bool {
    matches!(
        rules
            .iter()
            .skip(from)
            .find(|r| acts(r) && !matches!(r, TcpCheckRule::Connect { .. })),
        Some(TcpCheckRule::Send { .. })
    )
}

/// A check's connection, plain or TLS.
enum Conn {
    Plain(CheckConn),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl AsyncRead for Conn {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(&mut **s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(&mut **s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(&mut **s).poll_write(cx, buf),
            Conn::Tls(s) => Pin::new(&mut **s).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(&mut **s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(&mut **s).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(&mut **s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(&mut **s).poll_shutdown(cx),
        }
    }
}

/// A rule's comment, as failure messages end with it.
fn comment_of(r: &TcpCheckRule) -> Option<&str> {
    match r {
        TcpCheckRule::Connect { comment, .. } | TcpCheckRule::Send { comment, .. } => comment.as_deref(),
        TcpCheckRule::Expect(e) => e.comment.as_deref(),
        TcpCheckRule::Comment(_) => None,
    }
}

/// Where a failure happened, in HAProxy's words: ` at step N of tcp-check (what)` and the
/// rule's comment; `step` 0 is the first connection, when no rule asked for it.
fn place(step: usize, rule: Option<&TcpCheckRule>) -> String {
    if step == 0 {
        return " at initial connection step of tcp-check".into();
    }
    let what = match rule {
        Some(TcpCheckRule::Connect { connect, .. }) => match connect.port {
            Some(p) => format!(" (connect port {p})"),
            None => " (connect)".into(),
        },
        Some(TcpCheckRule::Send { .. }) => " (send)".into(),
        Some(TcpCheckRule::Expect(e)) => match &e.matcher {
            TcpExpect::Bytes { data, binary: false } => {
                format!(" (expect string '{}')", String::from_utf8_lossy(data))
            }
            TcpExpect::Bytes { data, binary: true } => {
                format!(" (expect binary '{}')", String::from_utf8_lossy(data))
            }
            TcpExpect::Regex { binary: false, .. } => " (expect regex)".into(),
            TcpExpect::Regex { binary: true, .. } => " (expect binary regex)".into(),
        },
        _ => String::new(),
    };
    let comment = rule
        .and_then(comment_of)
        .map(|c| format!(" comment: '{c}'"))
        .unwrap_or_default();
    format!(" at step {step} of tcp-check{what}{comment}")
}

/// The state of a run: the open connection and what it received since the last send.
struct Run<'a> {
    d: &'a Defaults<'a>,
    step_tls: &'a [Option<Connector>],
    connect_timeout: Duration,
    read_timeout: Duration,
    conn: Option<Conn>,
    received: Vec<u8>,
    /// The server closed its side (or the buffer is full): nothing more will come.
    eof: bool,
    /// An `expect` must read before judging (after a connect or a send).
    must_read: bool,
    /// When waiting for the server gives up (`timeout check`, from the first connection).
    deadline: Option<Instant>,
}

impl Run<'_> {
    /// Opens the connection of step `step` (0: the first one, with the server's check
    /// settings); `last`: no rule acts after it; `sends`: the next rule that acts sends.
    async fn connect(
        &mut self,
        (step, rule): (usize, Option<&TcpCheckRule>),
        c: &CheckConnect,
        last: bool,
        tls: Option<&Connector>,
        sends: bool,
    ) -> Result<(), (&'static str, String)> {
        let d = self.d;
        let target = SocketAddr::new(c.addr.unwrap_or(d.target.ip()), c.port.unwrap_or(d.target.port()));
        let proxy = if c.send_proxy {
            Some(d.rule_proxy)
        } else if c.default || step == 0 {
            d.proxy
        } else {
            None
        };
        let tls = if c.ssl {
            tls
        } else if c.default || step == 0 {
            d.tls
        } else {
            None
        };
        // A connect with no rule after it only asks whether the port answers: as a plain
        // check, the handshake's last ACK is held back and the connection reset, so the
        // server's application does not accept it. One followed by a `send` lets those bytes
        // carry that ACK.
        let delayed_ack = tls.is_some() || last || sends;
        let s = connect_checked(target, (d.source, d.socks4), self.connect_timeout, delayed_ack, proxy)
            .await
            .map_err(|(r, i)| (r, format!("{i}{}", place(step, rule))))?;
        let deadline = *self.deadline.get_or_insert_with(|| Instant::now() + self.read_timeout);
        self.conn = None;
        self.received.clear();
        self.eof = false;
        self.must_read = true;
        match tls {
            Some(t) => {
                let s = match tokio::time::timeout_at(deadline, t.connector.connect(t.name.clone(), s)).await {
                    Ok(Ok(s)) => s,
                    Ok(Err(_)) => {
                        return Err((
                            "Layer6 invalid response",
                            format!("SSL handshake failure{}", place(step, rule)),
                        ))
                    }
                    Err(_) => return Err(("Layer6 timeout", place(step, rule))),
                };
                self.conn = Some(Conn::Tls(Box::new(s)));
            }
            None if last => {
                if !c.linger {
                    clearway_net::connect::reset_on_close(&s);
                }
            }
            None => self.conn = Some(Conn::Plain(CheckConn::new(s, c.linger))),
        }
        Ok(())
    }

    /// Reads once more (at least a byte, or the end), until the deadline: false when it
    /// passed.
    async fn read_more(&mut self) -> bool {
        let Some(conn) = self.conn.as_mut() else {
            self.eof = true;
            return true;
        };
        let mut chunk = [0u8; 4096];
        let room = MAX_READ.saturating_sub(self.received.len()).min(chunk.len());
        let at = self.deadline.unwrap_or_else(Instant::now);
        match tokio::time::timeout_at(at, conn.read(&mut chunk[..room])).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => self.eof = true,
            Ok(Ok(n)) => self.received.extend_from_slice(&chunk[..n]),
        }
        if self.received.len() >= MAX_READ {
            self.eof = true;
        }
        true
    }

    /// One `expect`: Ok when its rule is satisfied.
    async fn expect(
        &mut self,
        step: usize,
        rule: &TcpCheckRule,
        e: &TcpCheckExpect,
        regexes: &Regexes,
    ) -> Result<(), (&'static str, String)> {
        let timeout = || (e.tout_status.unwrap_or("Layer7 timeout"), place(step, Some(rule)));
        if self.conn.is_none() {
            return Err(("Layer7 invalid response", format!("no connection at step {step}")));
        }
        if std::mem::take(&mut self.must_read) && !self.read_more().await {
            return Err(timeout());
        }
        loop {
            let data = &self.received;
            let short = match &e.matcher {
                TcpExpect::Bytes { data: want, .. } => data.len() < want.len(),
                TcpExpect::Regex { .. } => false,
            } || e.min_recv.is_some_and(|n| data.len() < n);
            if !self.eof && short {
                if !self.read_more().await {
                    return Err(timeout());
                }
                continue;
            }
            let found = match &e.matcher {
                TcpExpect::Bytes { data: want, .. } => super::contains(data, want),
                TcpExpect::Regex { pattern, binary: false } => regexes.is_match(pattern, data),
                TcpExpect::Regex { pattern, binary: true } => {
                    let hex: String = data.iter().map(|b| format!("{b:02X}")).collect();
                    regexes.is_match(pattern, hex.as_bytes())
                }
            };
            // A mismatch may still turn into a match, unless min-recv says enough came.
            if !found && !self.eof && e.min_recv.is_none() {
                if !self.read_more().await {
                    return Err(timeout());
                }
                continue;
            }
            if found != e.negate {
                return Ok(());
            }
            let info = e.on_error.clone().unwrap_or_else(|| {
                let did = if found {
                    "TCPCHK matched unwanted content"
                } else {
                    "TCPCHK did not match content"
                };
                let what = match &e.matcher {
                    TcpExpect::Bytes { data, binary: false } => format!(" '{}'", String::from_utf8_lossy(data)),
                    TcpExpect::Bytes { binary: true, .. } => " (binary)".into(),
                    TcpExpect::Regex { binary: false, .. } => " (regex)".into(),
                    TcpExpect::Regex { binary: true, .. } => " (binary regex)".into(),
                };
                let comment = e.comment.as_ref().map(|c| format!(" comment: {c}")).unwrap_or_default();
                format!("{did}{what} at step {step}{comment}")
            });
            return Err((e.error_status.unwrap_or("Layer7 invalid response"), info));
        }
    }
}

/// Runs `rules` against the server. The check port is connected to first (with the server's
/// check settings: TLS with `check-ssl`, its PROXY header), unless the first rule that acts is
/// a `connect`; `step_tls[k]`: the TLS of rule k's `connect ... ssl`. Waiting for the server
/// gives up `read_timeout` after the first connection is open.
pub async fn run(
    rules: &[TcpCheckRule],
    regexes: &Regexes,
    d: &Defaults<'_>,
    step_tls: &[Option<Connector>],
    connect_timeout: Duration,
    read_timeout: Duration,
) -> Verdict {
    let mut run = Run {
        d,
        step_tls,
        connect_timeout,
        read_timeout,
        conn: None,
        received: Vec::new(),
        eof: false,
        must_read: true,
        deadline: None,
    };
    let starts_with_connect = matches!(rules.iter().find(|r| acts(r)), Some(TcpCheckRule::Connect { .. }));
    if !starts_with_connect {
        let c = CheckConnect {
            default: true,
            ..Default::default()
        };
        let last = !rules.iter().any(acts);
        run.connect((0, None), &c, last, None, sends_next(rules, 0)).await?;
    }
    // The last rule that acted decides what a success reports.
    let mut last_acted: Option<&TcpCheckRule> = None;
    let mut tls_last = false;
    for (k, rule) in rules.iter().enumerate() {
        let step = k + 1;
        match rule {
            TcpCheckRule::Comment(_) => continue,
            TcpCheckRule::Connect { connect, .. } => {
                let last = !rules[step..].iter().any(acts);
                let tls = run.step_tls.get(k).and_then(Option::as_ref);
                let sends = sends_next(rules, step);
                run.connect((step, Some(rule)), connect, last, tls, sends).await?;
                tls_last = connect.ssl || (connect.default && d.tls.is_some());
            }
            TcpCheckRule::Send { data, .. } => {
                let at = run.deadline.unwrap_or_else(Instant::now);
                let Some(conn) = run.conn.as_mut() else {
                    return Err(("Layer7 invalid response", format!("no connection at step {step}")));
                };
                // What came so far is forgotten: the next expect judges the answer to this.
                run.received.clear();
                run.must_read = true;
                match tokio::time::timeout_at(at, conn.write_all(data)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        return Err((
                            "Layer4 connection problem",
                            format!("{}{}", super::os_message(&e), place(step, Some(rule))),
                        ))
                    }
                    Err(_) => return Err(("Layer7 timeout", place(step, Some(rule)))),
                }
            }
            TcpCheckRule::Expect(e) => match run.expect(step, rule, e, regexes).await {
                Ok(()) => {}
                Err((super::http::CONDITIONAL, info)) => return Ok((super::http::CONDITIONAL, info)),
                Err(v) => return Err(v),
            },
        }
        last_acted = Some(rule);
    }
    Ok(match last_acted {
        Some(TcpCheckRule::Expect(e)) => (
            e.ok_status.unwrap_or("Layer7 check passed"),
            e.on_success.clone().unwrap_or_else(|| "(tcp-check)".into()),
        ),
        Some(TcpCheckRule::Connect { .. }) if tls_last => ("Layer6 check passed", "(tcp-check)".into()),
        Some(TcpCheckRule::Connect { .. }) => ("Layer4 check passed", "(tcp-check)".into()),
        _ => ("Layer7 check passed", "(tcp-check)".into()),
    })
}
