//! Application-level checks for databases and TLS, as HAProxy's check options do them:
//! `mysql-check`, `pgsql-check`, `redis-check`, `ssl-hello-chk`. Each reads at most one small
//! answer and never logs in with a password.

use super::Verdict;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

const INVALID: &str = "Layer7 invalid response";
const WRONG: &str = "Layer7 wrong status";

fn io_err(e: std::io::Error) -> (&'static str, String) {
    (INVALID, super::os_message(&e))
}

/// Reads one MySQL packet (4-byte header: 3-byte little-endian length, sequence id).
async fn mysql_packet<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S) -> Result<Vec<u8>, (&'static str, String)> {
    let mut head = [0u8; 4];
    s.read_exact(&mut head).await.map_err(io_err)?;
    let len = usize::from(head[0]) | usize::from(head[1]) << 8 | usize::from(head[2]) << 16;
    if len == 0 || len > 64 * 1024 {
        return Err((INVALID, format!("MySQL packet of {len} bytes")));
    }
    let mut payload = vec![0u8; len];
    s.read_exact(&mut payload).await.map_err(io_err)?;
    Ok(payload)
}

/// The message of a MySQL ERR packet (0xff, code, optional '#' + SQL state, text).
fn mysql_error(p: &[u8]) -> String {
    let code = p.get(1..3).map_or(0, |c| u16::from_le_bytes([c[0], c[1]]));
    let text = match p.get(3) {
        Some(b'#') => p.get(9..).unwrap_or_default(),
        _ => p.get(3..).unwrap_or_default(),
    };
    format!("{code} {}", String::from_utf8_lossy(text))
}

/// `option mysql-check [user NAME [post-41]]`.
pub async fn mysql<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S, user: Option<&str>, post41: bool) -> Verdict {
    let greeting = mysql_packet(s).await?;
    let version = match greeting.first() {
        Some(0xff) => return Err((WRONG, mysql_error(&greeting))),
        Some(10) => {
            let v = greeting[1..].split(|&b| b == 0).next().unwrap_or_default();
            String::from_utf8_lossy(v).into_owned()
        }
        _ => return Err((INVALID, "not a MySQL handshake".into())),
    };
    let Some(user) = user else {
        return Ok(("Layer7 check passed", version));
    };
    let mut body = Vec::with_capacity(64);
    if post41 {
        // CLIENT_LONG_PASSWORD | CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION; no password.
        body.extend_from_slice(&0x0000_8201u32.to_le_bytes());
        body.extend_from_slice(&0x0100_0000u32.to_le_bytes());
        body.push(0x21);
        body.extend_from_slice(&[0u8; 23]);
        body.extend_from_slice(user.as_bytes());
        body.push(0);
        body.push(0);
    } else {
        body.extend_from_slice(&0x0001u16.to_le_bytes());
        body.extend_from_slice(&[0, 0, 0]);
        body.extend_from_slice(user.as_bytes());
        body.push(0);
    }
    let mut packet = (body.len() as u32).to_le_bytes()[..3].to_vec();
    packet.push(1);
    packet.extend_from_slice(&body);
    s.write_all(&packet).await.map_err(io_err)?;
    let answer = mysql_packet(s).await?;
    match answer.first() {
        Some(0x00) => {
            // COM_QUIT, so the server does not count an aborted connection.
            let _ = s.write_all(&[1, 0, 0, 0, 1]).await;
            Ok(("Layer7 check passed", version))
        }
        Some(0xff) => Err((WRONG, mysql_error(&answer))),
        _ => Err((INVALID, "unexpected answer to the login of the check user".into())),
    }
}

/// `option pgsql-check user NAME`: a StartupMessage; an authentication request passes.
pub async fn pgsql<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S, user: &str) -> Verdict {
    let mut body = Vec::new();
    body.extend_from_slice(&196_608u32.to_be_bytes()); // protocol 3.0
    for part in ["user", user] {
        body.extend_from_slice(part.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut msg = ((body.len() + 4) as u32).to_be_bytes().to_vec();
    msg.extend_from_slice(&body);
    s.write_all(&msg).await.map_err(io_err)?;
    let mut head = [0u8; 5];
    s.read_exact(&mut head).await.map_err(io_err)?;
    let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
    match head[0] {
        b'R' => Ok(("Layer7 check passed", "PostgreSQL server is ok".into())),
        b'E' if (4..=8192).contains(&len) => {
            let mut fields = vec![0u8; len - 4];
            s.read_exact(&mut fields).await.map_err(io_err)?;
            // Fields: a type byte then a NUL-terminated string; 'M' is the message.
            let msg = fields
                .split(|&b| b == 0)
                .find(|f| f.first() == Some(&b'M'))
                .map(|f| String::from_utf8_lossy(&f[1..]).into_owned())
                .unwrap_or_else(|| "error".into());
            Err((WRONG, msg))
        }
        _ => Err((INVALID, "not a PostgreSQL answer".into())),
    }
}

/// `option redis-check`: PING answered by +PONG.
pub async fn redis<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S) -> Verdict {
    s.write_all(b"PING\r\n").await.map_err(io_err)?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 256];
    while !buf.ends_with(b"\r\n") && buf.len() < 1024 {
        let n = s.read(&mut chunk).await.map_err(io_err)?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let line = String::from_utf8_lossy(&buf).trim_end().to_string();
    match line.as_str() {
        "+PONG" => Ok(("Layer7 check passed", "PONG".into())),
        l if l.starts_with('-') => Err((WRONG, l[1..].to_string())),
        l => Err((
            INVALID,
            format!("expected +PONG, got '{}'", l.chars().take(60).collect::<String>()),
        )),
    }
}

/// A TLS 1.2 ClientHello with common ciphers and groups, no SNI.
fn client_hello() -> Vec<u8> {
    let mut hello = vec![0x03, 0x03];
    // Not a secret: a check needs no randomness.
    hello.extend((0u8..32).map(|i| i.wrapping_mul(73).wrapping_add(11)));
    hello.push(0); // no session id
    let ciphers: [u16; 10] = [
        0xc02f, 0xc02b, 0xc030, 0xc02c, 0xcca8, 0xcca9, 0x009c, 0x009d, 0x002f, 0x0035,
    ];
    hello.extend_from_slice(&((ciphers.len() * 2) as u16).to_be_bytes());
    ciphers.iter().for_each(|c| hello.extend_from_slice(&c.to_be_bytes()));
    hello.extend_from_slice(&[1, 0]); // null compression
    let mut ext = Vec::new();
    let mut add = |kind: u16, data: &[u8]| {
        ext.extend_from_slice(&kind.to_be_bytes());
        ext.extend_from_slice(&(data.len() as u16).to_be_bytes());
        ext.extend_from_slice(data);
    };
    add(0x000a, &[0, 6, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x18]); // groups: x25519, P-256, P-384
    add(0x000b, &[1, 0]); // uncompressed points
    add(
        0x000d,
        &[
            0, 12, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01, 0x05, 0x03, 0x08, 0x05, 0x05, 0x01,
        ],
    );
    hello.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    hello.extend_from_slice(&ext);
    let mut handshake = vec![1];
    handshake.extend_from_slice(&(hello.len() as u32).to_be_bytes()[1..]);
    handshake.extend_from_slice(&hello);
    let mut record = vec![0x16, 0x03, 0x01];
    record.extend_from_slice(&(handshake.len() as u16).to_be_bytes());
    record.extend_from_slice(&handshake);
    record
}

/// `option ssl-hello-chk`: any TLS record in answer (a handshake or an alert) shows a TLS server.
pub async fn ssl_hello<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S) -> Verdict {
    s.write_all(&client_hello())
        .await
        .map_err(|e| ("Layer6 invalid response", super::os_message(&e)))?;
    let mut head = [0u8; 6];
    s.read_exact(&mut head)
        .await
        .map_err(|e| ("Layer6 invalid response", super::os_message(&e)))?;
    match (head[0], head[1]) {
        (0x16, 0x03) if head[5] == 2 => Ok(("Layer6 check passed", "TLS ServerHello".into())),
        (0x16 | 0x15, 0x03) => Ok(("Layer6 check passed", "TLS answer".into())),
        _ => Err(("Layer6 invalid response", "not a TLS record".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_hello_is_well_formed() {
        let r = client_hello();
        assert_eq!(&r[..3], &[0x16, 0x03, 0x01]);
        assert_eq!(u16::from_be_bytes([r[3], r[4]]) as usize, r.len() - 5);
        assert_eq!(r[5], 1, "ClientHello");
        let hs_len = u32::from_be_bytes([0, r[6], r[7], r[8]]) as usize;
        assert_eq!(hs_len, r.len() - 9);
    }

    #[test]
    fn mysql_error_text() {
        let mut p = vec![0xff, 0x15, 0x04, b'#'];
        p.extend_from_slice(b"28000Access denied for user 'x'");
        assert_eq!(mysql_error(&p), "1045 Access denied for user 'x'");
    }
}
