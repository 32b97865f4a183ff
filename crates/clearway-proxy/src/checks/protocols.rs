//! Application-level checks for databases, TLS, mail and directories, as HAProxy's check
//! options do them: `mysql-check`, `pgsql-check`, `redis-check`, `ssl-hello-chk`,
//! `smtpchk`, `ldap-check`. Each reads at most a few small answers and never logs in with a
//! password.

use super::Verdict;
use std::sync::atomic::{AtomicI32, Ordering};
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

/// A MySQL ERR packet (0xff, code, then `#` and the SQL state if any, and the message): what
/// follows the code, with the code stored as the check's, as HAProxy reports them.
fn mysql_error(p: &[u8], code: &AtomicI32) -> (&'static str, String) {
    let n = p.get(1..3).map_or(0, |c| u16::from_le_bytes([c[0], c[1]]));
    code.store(i32::from(n), Ordering::Relaxed);
    (
        WRONG,
        String::from_utf8_lossy(p.get(3..).unwrap_or_default()).into_owned(),
    )
}

/// `option mysql-check [user NAME [post-41]]`; `code`: where an error's code goes. As HAProxy,
/// with a user the login (without password, then COM_QUIT, so that the server does not
/// count an aborted connection) is sent at once, before the greeting is read.
pub async fn mysql<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    user: Option<&str>,
    post41: bool,
    code: &AtomicI32,
) -> Verdict {
    if let Some(user) = user {
        s.write_all(&mysql_login(user, post41)).await.map_err(io_err)?;
    }
    let greeting = mysql_packet(s).await?;
    let version = match greeting.first() {
        Some(0xff) => return Err(mysql_error(&greeting, code)),
        Some(10) => {
            let v = greeting[1..].split(|&b| b == 0).next().unwrap_or_default();
            String::from_utf8_lossy(v).into_owned()
        }
        _ => return Err((INVALID, "not a MySQL handshake".into())),
    };
    if user.is_none() {
        return Ok(("Layer7 check passed", version));
    }
    let answer = mysql_packet(s).await?;
    match answer.first() {
        Some(0x00) => Ok(("Layer7 check passed", version)),
        Some(0xff) => Err(mysql_error(&answer, code)),
        _ => Err((INVALID, "unexpected answer to the login of the check user".into())),
    }
}

/// The bytes HAProxy sends for the check user: its login packet, then COM_QUIT.
fn mysql_login(user: &str, post41: bool) -> Vec<u8> {
    let mut body = Vec::with_capacity(64);
    if post41 {
        // Capabilities CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION, max packet, UTF-8.
        body.extend_from_slice(&[0x00, 0x82, 0x00, 0x00, 0x00, 0x80, 0x00, 0x01, 0x21]);
        body.extend_from_slice(&[0u8; 23]);
    } else {
        // Capabilities CLIENT_SECURE_CONNECTION, max packet.
        body.extend_from_slice(&[0x00, 0x80, 0x00, 0x00, 0x01]);
    }
    body.extend_from_slice(user.as_bytes());
    body.extend_from_slice(&[0, 0]); // end of the name, empty password
    let mut packet = (body.len() as u32).to_le_bytes()[..3].to_vec();
    packet.push(1);
    packet.extend_from_slice(&body);
    packet.extend_from_slice(&[1, 0, 0, 0, 1]);
    packet
}

/// `option pgsql-check user NAME`: a StartupMessage; as HAProxy, an authentication answer
/// HAProxy knows passes (ok, clear-text, MD5, SCM, GSS, SSPI; not SASL), an error response is
/// invalid (its severity, "FATAL", as the information), anything else a wrong status.
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
    let mut got = Vec::with_capacity(64);
    let mut chunk = [0u8; 256];
    // Enough to judge: 9 bytes, or a whole error response (its length is in bytes 1-4).
    let enough = |got: &[u8]| match got {
        [b'E', a, b, c, d, ..] => got.len() > (u32::from_be_bytes([*a, *b, *c, *d]) as usize).min(1024),
        _ => got.len() >= 9,
    };
    while !enough(&got) {
        let n = s.read(&mut chunk).await.map_err(io_err)?;
        if n == 0 {
            break;
        }
        got.extend_from_slice(&chunk[..n]);
    }
    if got.first() == Some(&b'E') {
        let severity = got
            .get(6..)
            .unwrap_or_default()
            .split(|&b| b == 0)
            .next()
            .unwrap_or_default();
        return Err((INVALID, String::from_utf8_lossy(severity).into_owned()));
    }
    match got.get(..9) {
        Some([b'R', 0, 0, 0, 8 | 10 | 12, 0, 0, 0, 0 | 2..=6]) => {
            Ok(("Layer7 check passed", "PostgreSQL server is ok".into()))
        }
        _ => Err((WRONG, "PostgreSQL unknown error".into())),
    }
}

/// `option redis-check`: PING (as a command array, the bytes HAProxy sends) answered by +PONG.
pub async fn redis<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S) -> Verdict {
    s.write_all(b"*1\r\n$4\r\nPING\r\n").await.map_err(io_err)?;
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
        "+PONG" => Ok(("Layer7 check passed", "Redis server is ok".into())),
        // HAProxy's words: the answer's first line.
        l => Err((WRONG, l.chars().take(200).collect())),
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

/// A reply line's code, stored as the check's (HAProxy reports it), and its text.
fn smtp_text(line: &str, code: &AtomicI32) -> String {
    code.store(
        line.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0),
        Ordering::Relaxed,
    );
    line.get(4..).unwrap_or_default().trim_start().to_string()
}

/// Reads an SMTP reply to its last line (`250-...` lines continue it): its last line's text,
/// or the verdict when a line is not a `2xx`.
async fn smtp_reply<S: AsyncRead + Unpin>(s: &mut S, code: &AtomicI32) -> Result<String, (&'static str, String)> {
    loop {
        let line = smtp_line(s).await?;
        if !smtp_code(&line, None, b"- \r") {
            return Err((INVALID, line));
        }
        let text = smtp_text(&line, code);
        if !smtp_code(&line, Some(b'2'), b"- \r") {
            return Err((WRONG, text));
        }
        if line.as_bytes().get(3) != Some(&b'-') {
            return Ok(text);
        }
    }
}

/// `option smtpchk`, as HAProxy 2.6.12 runs it: the banner must be a 2xx, `hello` answered
/// by a 2xx (all its lines), then `QUIT` answered by a 2xx (whose code and text the check
/// reports), so that the server logs a clean session.
pub async fn smtp<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S, hello: &str, code: &AtomicI32) -> Verdict {
    let banner = smtp_line(s).await?;
    if !smtp_code(&banner, None, b" \r") {
        return Err((INVALID, banner));
    }
    let text = smtp_text(&banner, code);
    if !smtp_code(&banner, Some(b'2'), b" \r") {
        return Err((WRONG, text));
    }
    s.write_all(format!("{hello}\r\n").as_bytes()).await.map_err(io_err)?;
    smtp_reply(s, code).await?;
    s.write_all(b"QUIT\r\n").await.map_err(io_err)?;
    Ok(("Layer7 check passed", smtp_reply(s, code).await?))
}

/// An anonymous LDAPv3 simple bind, message id 1.
const LDAP_BIND: [u8; 14] = [
    0x30, 0x0c, 0x02, 0x01, 0x01, 0x60, 0x07, 0x02, 0x01, 0x03, 0x04, 0x00, 0x80, 0x00,
];

/// `option ldap-check`: the anonymous bind must be answered by a bind response with result
/// code 0 (any other is the check's code).
pub async fn ldap<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S, code: &AtomicI32) -> Verdict {
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
        Some([0x0a, 0x01, 0]) => Ok(("Layer7 check passed", "Success".into())),
        Some([0x0a, 0x01, n]) => {
            code.store(i32::from(*n), Ordering::Relaxed);
            Err((
                WRONG,
                "See RFC: http://tools.ietf.org/html/rfc4511#section-4.1.9".into(),
            ))
        }
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
    fn mysql_logins_are_haproxys_bytes() {
        let hex = |b: Vec<u8>| b.iter().map(|x| format!("{x:02X}")).collect::<String>();
        // From HAProxy's own reg-test (checks/mysql-check.vtc).
        assert_eq!(
            hex(mysql_login("user", false)),
            "0B00000100800000017573657200000100000001"
        );
        assert_eq!(
            hex(mysql_login("user", true)),
            "2600000100820000008000012100000000000000000000000000000000000000000000007573657200000100000001"
        );
    }

    #[test]
    fn mysql_error_text() {
        let mut p = vec![0xff, 0x15, 0x04, b'#'];
        p.extend_from_slice(b"28000Access denied for user 'x'");
        // HAProxy's words: what follows the code, the SQL state included; the code apart.
        let code = AtomicI32::default();
        assert_eq!(mysql_error(&p, &code).1, "#28000Access denied for user 'x'");
        assert_eq!(code.load(Ordering::Relaxed), 1045);
    }
}
