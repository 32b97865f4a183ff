//! `tcp-response content` rules: in `mode tcp` backends, the server's first bytes, judged
//! before they reach the client as HAProxy judges them (`accept`, `reject`, `close`), each
//! rule as soon as its condition is decided, within `tcp-response inspect-delay`
//! (`res.len`, `res.payload` and the connection's fetches), while what the client sends goes
//! on to the server; in `mode http` backends, the response's head as it arrives, before the
//! `http-response` rules (`accept`, `reject`, variables).

use super::{payload, TcpRules, Verdict, MAX_INSPECT};
use crate::acl::{ConnSamples, Samples, Value};
use clearway_config::rules::Fetch;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The samples of a server's first bytes; until `fin`, those that need more may change.
struct ResSamples<'a> {
    conn: &'a ConnSamples,
    data: &'a [u8],
    fin: bool,
}

impl Samples for ResSamples<'_> {
    fn conn(&self) -> Option<&ConnSamples> {
        Some(self.conn)
    }

    fn each(&self, fetch: &Fetch, sink: &mut dyn FnMut(Value<'_>) -> bool) -> bool {
        match fetch {
            Fetch::ResLen => sink(Value::Int(self.data.len() as i64)),
            Fetch::WaitEnd => self.fin && sink(Value::Bool(true)),
            Fetch::ResPayload { offset, len } => payload(self.data, *offset, *len).is_some_and(|b| sink(Value::Bin(b))),
            _ => self.conn.each(fetch, sink),
        }
    }

    fn may_change(&self, fetch: &Fetch) -> bool {
        match fetch {
            _ if self.fin => false,
            Fetch::ResLen | Fetch::WaitEnd => true,
            Fetch::ResPayload { offset, len } => payload(self.data, *offset, *len).is_none(),
            _ => false,
        }
    }
}

impl TcpRules {
    /// Whether there are response rules to run.
    pub fn has_response(&self) -> bool {
        !self.response.is_empty()
    }

    /// The rules on an HTTP response's head (`mode http`), which `s` gives with its request:
    /// the first `accept` or `reject` that holds decides; variables are set on the way.
    pub fn on_http_response(&self, s: &dyn Samples) -> Verdict<'_> {
        Self::first(&self.response, s, &mut false)
    }

    /// Runs the response rules on the server's first bytes, read from `server` into `buf` as
    /// they come (until a rule decides; at the latest when the delay ends, 16 kB are in or the
    /// server is done sending), passing what the client sends meanwhile on to the server.
    /// Returns the verdict and how many client bytes went on.
    pub async fn inspect_response<S, C>(
        &self,
        server: &mut S,
        client: &mut C,
        buf: &mut Vec<u8>,
        conn: &ConnSamples,
    ) -> (Verdict<'_>, u64)
    where
        S: AsyncRead + AsyncWrite + Unpin + ?Sized,
        C: AsyncRead + Unpin + ?Sized,
    {
        let until = tokio::time::Instant::now() + self.response_delay.unwrap_or(Duration::ZERO);
        let mut chunk = [0u8; 4096];
        let mut upload = [0u8; 4096];
        let (mut eof, mut client_done, mut sent) = (false, false, 0u64);
        loop {
            let fin = eof || buf.len() >= MAX_INSPECT || tokio::time::Instant::now() >= until;
            let s = ResSamples { conn, data: buf, fin };
            if let Some(v) = Self::decided(&self.response, &s) {
                return (v, sent);
            }
            // Never more than the buffer holds: what is read goes to the client later.
            let room = MAX_INSPECT.saturating_sub(buf.len()).min(chunk.len());
            let from_client = tokio::select! {
                r = server.read(&mut chunk[..room]) => {
                    match r {
                        Ok(0) | Err(_) => eof = true,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                    0
                }
                r = client.read(&mut upload), if !client_done => match r {
                    Ok(0) | Err(_) => {
                        // Its end is seen again by the forwarding that follows.
                        client_done = true;
                        0
                    }
                    Ok(n) => n,
                },
                _ = tokio::time::sleep_until(until) => 0,
            };
            if from_client > 0 {
                if server.write_all(&upload[..from_client]).await.is_err() {
                    eof = true;
                }
                sent += from_client as u64;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::conn;
    use super::*;

    fn rules(lines: &str) -> TcpRules {
        let text = format!("backend b\n tcp-response inspect-delay 1s\n{lines} server s 192.0.2.1:1\n");
        let l = clearway_config::parse_str("t.cfg", &text).expect("config");
        TcpRules::new(&l.config.backends[0].tcp_rules)
    }

    #[tokio::test(start_paused = true)]
    async fn a_response_is_judged_as_it_comes_and_at_the_end_of_the_delay() {
        let r = rules(
            " tcp-response content close if { res.payload(0,3) -m str BYE }\n \
             tcp-response content accept if { res.len ge 4 }\n tcp-response content reject\n",
        );
        use tokio::io::AsyncWriteExt;
        for (sent, want) in [
            (&b"BYE now"[..], Verdict::Close),
            (b"HELLO", Verdict::Accept),
            (b"HI", Verdict::Reject(&r.response[2].span)),
        ] {
            let (mut server, mut ours) = tokio::io::duplex(64);
            server.write_all(sent).await.unwrap();
            // A client that says something meanwhile: it reaches the server.
            let (mut client, mut client_side) = tokio::io::duplex(64);
            client.write_all(b"ping").await.unwrap();
            let (c, mut buf) = (conn(), Vec::new());
            let (v, up) = r.inspect_response(&mut ours, &mut client_side, &mut buf, &c).await;
            assert_eq!(v, want, "{sent:?}");
            assert_eq!(buf, sent, "nothing read is lost");
            let mut got = vec![0u8; up as usize];
            server.read_exact(&mut got).await.unwrap();
            assert_eq!(got, b"ping"[..up as usize]);
        }
    }
}
