//! Application-level checks for databases, TLS, mail and directories, as HAProxy's check
//! options do them: `mysql-check`, `pgsql-check`, `redis-check`, `ssl-hello-chk`,
//! `smtpchk`, `ldap-check`. Each reads at most a few small answers and never logs in with a
//! password.

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

/// Reads one SMTP reply line (up to CRLF, at most 512 bytes, as RFC 5321's limit).
async fn smtp_line<S: AsyncRead + Unpin>(s: &mut S) -> Result<String, (&'static str, String)> {
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    while !line.ends_with(b"\n") && line.len() < 512 {
        if s.read(&mut b).await.map_err(io_err)? == 0 {
            break;
        }
        line.push(b[0]);
    }
    Ok(String::from_utf8_lossy(&line)
        .trim_end_matches(['\r', '\n'])
        .to_string())
}

/// Whether `line` starts with a 3-digit code followed by one of `after` (or ends there).
fn smtp_code(line: &str, first: Option<u8>, after: &[u8]) -> bool {
    let b = line.as_bytes();
    b.len() >= 3
        && b[..3].iter().all(u8::is_ascii_digit)
        && first.is_none_or(|f| b[0] == f)
        && b.get(3).is_none_or(|c| after.contains(c))
}

/// Reads an SMTP reply to its last line (`250-...` lines continue it): its last line, or
/// the verdict when a line is not a `2xx`.
async fn smtp_reply<S: AsyncRead + Unpin>(s: &mut S) -> Result<String, (&'static str, String)> {
    loop {
        let line = smtp_line(s).await?;
        let text = line.get(4..).unwrap_or_default().trim_start().to_string();
        if !smtp_code(&line, None, b"- \r") {
            return Err((INVALID, line));
        }
        if !smtp_code(&line, Some(b'2'), b"- \r") {
            return Err((WRONG, text));
        }
        if line.as_bytes().get(3) != Some(&b'-') {
            return Ok(text);
        }
    }
}

/// `option smtpchk`, as HAProxy 2.6.12 runs it: the banner must be a 2xx, `hello` answered
/// by a 2xx (all its lines), then `QUIT` answered by a 2xx, so that the server logs a
/// clean session.
pub async fn smtp<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S, hello: &str) -> Verdict {
    let banner = smtp_line(s).await?;
    if !smtp_code(&banner, None, b" \r") {
        return Err((INVALID, banner));
    }
    if !smtp_code(&banner, Some(b'2'), b" \r") {
        return Err((WRONG, banner.get(4..).unwrap_or_default().trim_start().to_string()));
    }
    s.write_all(format!("{hello}\r\n").as_bytes()).await.map_err(io_err)?;
    smtp_reply(s).await?;
    s.write_all(b"QUIT\r\n").await.map_err(io_err)?;
    Ok(("Layer7 check passed", smtp_reply(s).await?))
}

/// An anonymous LDAPv3 simple bind, message id 1.
const LDAP_BIND: [u8; 14] = [
    0x30, 0x0c, 0x02, 0x01, 0x01, 0x60, 0x07, 0x02, 0x01, 0x03, 0x04, 0x00, 0x80, 0x00,
];

/// `option ldap-check`: the anonymous bind must be answered by a bind response with result
/// code 0.
pub async fn ldap<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S) -> Verdict {
    const NOT: &str = "Not LDAPv3 protocol";
    s.write_all(&LDAP_BIND).await.map_err(io_err)?;
    let mut got = Vec::with_capacity(64);
    let mut buf = [0u8; 256];
    // The message's length, once its header is in.
    let need = |got: &[u8]| -> Result<Option<usize>, (&'static str, String)> {
        if got.len() < 2 {
            return Ok(None);
        }
        if got[0] != 0x30 {
            return Err((INVALID, NOT.into()));
        }
        let (nbytes, len) = if got[1] & 0x80 != 0 {
            let n = usize::from(got[1] & 0x7f);
            if n != 2 && n != 4 {
                return Err((INVALID, NOT.into()));
            }
            let Some(b) = got.get(2..2 + n) else { return Ok(None) };
            (n, b.iter().fold(0usize, |a, &x| a << 8 | usize::from(x)))
        } else {
            (0, usize::from(got[1]))
        };
        Ok(Some((2 + nbytes + len).max(14)))
    };
    loop {
        if let Some(total) = need(&got)? {
            if got.len() >= total {
                break;
            }
        }
        if got.len() > 4096 {
            return Err((INVALID, NOT.into()));
        }
        let n = s.read(&mut buf).await.map_err(io_err)?;
        if n == 0 {
            return Err((INVALID, NOT.into()));
        }
        got.extend_from_slice(&buf[..n]);
    }
    let header = if got[1] & 0x80 != 0 {
        2 + usize::from(got[1] & 0x7f)
    } else {
        2
    };
    let rest = &got[header..];
    // messageID 1, then bindResponse (0x61) and its length.
    if !rest.starts_with(&[0x02, 0x01, 0x01, 0x61]) {
        return Err((INVALID, NOT.into()));
    }
    let op = &rest[4..];
    let skip = if op.first().is_some_and(|l| l & 0x80 != 0) {
        1 + usize::from(op[0] & 0x7f)
    } else {
        1
    };
    match op.get(skip..skip + 3) {
        // HAProxy's words.
        Some([0x0a, 0x01, 0]) => Ok(("Layer7 check passed", String::new())),
        Some([0x0a, 0x01, _]) => Err((
            WRONG,
            "See RFC: http://tools.ietf.org/html/rfc4511#section-4.1.9".into(),
        )),
        _ => Err((INVALID, NOT.into())),
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
