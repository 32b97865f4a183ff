//! HTTP checks with connections of their own (`http-check connect`): each step opens its
//! connection (its `port`, `addr`, `ssl`, `sni`, `alpn`, `send-proxy`; with `default`, the
//! server line's check settings for what it does not say), sends its request and judges the
//! answer; the check passes when every step does.

use super::conn::CheckConn;
use super::spec::{CheckSpec, HttpStep};
use super::{connect_checked, Verdict};
use crate::tls::Connector;
use clearway_net::connect::SourceBind;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::time::Instant;

/// What a server's checks use by default, for `connect default` and what a rule leaves out.
pub struct Defaults<'a> {
    /// The check's own address and port.
    pub target: SocketAddr,
    pub source: Option<&'a SourceBind>,
    /// The server's PROXY protocol header for checks, if any.
    pub proxy: Option<&'a [u8]>,
    /// The PROXY protocol header a rule's `send-proxy` sends (the server's, or Clearway's own).
    pub rule_proxy: &'a [u8],
    /// The server's TLS for checks, if its checks use TLS.
    pub tls: Option<&'a Connector>,
    /// The SOCKS4 proxy checks go through (`check-via-socks4`).
    pub socks4: Option<SocketAddr>,
}

/// Runs the steps of `spec.http`; `tls[k]`: the connector of step k's `ssl`.
pub async fn run(
    spec: &CheckSpec,
    d: &Defaults<'_>,
    tls: &[Option<Connector>],
    ask: &super::http::Ask<'_>,
    connect_timeout: Duration,
    read_timeout: Duration,
) -> Verdict {
    let mut passed = None;
    for (k, step) in spec.http.iter().enumerate() {
        let v = one(
            spec,
            step,
            d,
            tls.get(k).and_then(Option::as_ref),
            ask,
            connect_timeout,
            read_timeout,
        )
        .await;
        match v {
            Ok(ok) => passed = Some(ok),
            Err((reason, info)) => {
                let info = if spec.http.len() > 1 {
                    format!("{info} (at step {})", k + 1)
                } else {
                    info
                };
                return Err((reason, info));
            }
        }
    }
    Ok(passed.unwrap_or(("Layer7 check passed", String::new())))
}

async fn one(
    spec: &CheckSpec,
    step: &HttpStep,
    d: &Defaults<'_>,
    step_tls: Option<&Connector>,
    ask: &super::http::Ask<'_>,
    connect_timeout: Duration,
    read_timeout: Duration,
) -> Verdict {
    let c = step
        .connect
        .clone()
        .unwrap_or_else(|| clearway_config::model::CheckConnect {
            default: true,
            ..Default::default()
        });
    let target = SocketAddr::new(c.addr.unwrap_or(d.target.ip()), c.port.unwrap_or(d.target.port()));
    let proxy = if c.send_proxy {
        Some(d.rule_proxy)
    } else if c.default {
        d.proxy
    } else {
        None
    };
    let tls = if c.ssl {
        step_tls
    } else if c.default {
        d.tls
    } else {
        None
    };
    let stream = connect_checked(target, (d.source, d.socks4), connect_timeout, true, proxy).await?;
    let deadline = Instant::now() + read_timeout;
    let judged = async {
        match tls {
            Some(t) => {
                let mut s = match tokio::time::timeout_at(deadline, t.connector.connect(t.name.clone(), stream)).await {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => return Err(("Layer6 invalid response", format!("SSL handshake failure ({e})"))),
                    Err(_) => return Err(("Layer6 timeout", String::new())),
                };
                super::http::check(&mut s, step, ask, &spec.regexes).await
            }
            None => {
                let mut conn = CheckConn::new(stream, c.linger);
                super::http::check(&mut *conn, step, ask, &spec.regexes).await
            }
        }
    };
    super::backstop(deadline, judged, "Layer7 timeout").await
}
