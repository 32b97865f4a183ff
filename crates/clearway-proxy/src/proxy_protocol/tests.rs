use super::*;
use clearway_config::model::SendProxy;

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn whole(b: &[u8]) -> Result<Header, Error> {
    match scan(b)? {
        Scan::Complete(n) => parse(&b[..n]),
        Scan::Need => panic!("incomplete: {b:?}"),
    }
}

#[test]
fn version_1_lines() {
    let h = whole(b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nGET /").unwrap();
    assert_eq!(h.addrs, Some((sa("192.0.2.1:56324"), sa("198.51.100.2:443"))));
    let h = whole(b"PROXY TCP6 2001:db8::1 2001:db8::2 1 65535\r\n").unwrap();
    assert_eq!(h.addrs, Some((sa("[2001:db8::1]:1"), sa("[2001:db8::2]:65535"))));
    // UNKNOWN: the connection's own addresses stand, whatever follows it.
    assert_eq!(whole(b"PROXY UNKNOWN\r\n").unwrap().addrs, None);
    assert_eq!(whole(b"PROXY UNKNOWN ffff:: 1.2.3.4 1 2\r\n").unwrap().addrs, None);
    // Where the line ends: exactly after its CRLF.
    assert_eq!(scan(b"PROXY UNKNOWN\r\nxyz"), Ok(Scan::Complete(15)));
    for bad in [
        &b"PROXY TCP4 192.0.2.1 198.51.100.2 56324\r\n"[..],
        b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443 7\r\n",
        b"PROXY TCP4 2001:db8::1 198.51.100.2 1 2\r\n",
        b"PROXY TCP6 192.0.2.1 2001:db8::2 1 2\r\n",
        b"PROXY TCP4 192.0.2.1 198.51.100.2 65536 443\r\n",
        b"PROXY TCP4 192.0.2.1 198.51.100.2 -1 443\r\n",
        b"PROXY TCP4 192.0.2.1 198.51.100.2 +1 443\r\n",
        b"PROXY TCP4  192.0.2.1 198.51.100.2 1 443\r\n",
        b"PROXY UDP4 192.0.2.1 198.51.100.2 1 443\r\n",
        b"PROXY TCP4 192.0.2.1 198.51.100.2 1 443\n",
    ] {
        assert!(whole(bad).is_err(), "{}", String::from_utf8_lossy(bad));
    }
    // Not a header at all, or one that never ends within the limit.
    assert_eq!(scan(b"GET / HTTP/1.1\r\n"), Err(Error::NotHeader));
    assert_eq!(scan(b"PROXX"), Err(Error::NotHeader));
    assert_eq!(scan(&[b'P'; 3]), Err(Error::NotHeader));
    let long = [&b"PROXY TCP4 "[..], &[b'1'; 120]].concat();
    assert_eq!(scan(&long), Err(Error::TooLong(V1_MAX)));
    // A prefix is worth waiting for.
    assert_eq!(scan(b"PRO"), Ok(Scan::Need));
    assert_eq!(scan(b"PROXY TCP4 192.0"), Ok(Scan::Need));
}

fn v2(cmd: u8, fam: u8, body: &[u8]) -> Vec<u8> {
    let mut h = V2_SIGNATURE.to_vec();
    h.extend_from_slice(&[cmd, fam]);
    h.extend_from_slice(&(body.len() as u16).to_be_bytes());
    h.extend_from_slice(body);
    h
}

const IP4: [u8; 12] = [127, 0, 0, 1, 127, 0, 0, 2, 0, 42, 5, 57];

#[test]
fn version_2_headers() {
    let h = whole(&v2(0x21, 0x11, &IP4)).unwrap();
    assert_eq!(h.addrs, Some((sa("127.0.0.1:42"), sa("127.0.0.2:1337"))));
    // TLVs: the authority is kept, an unknown type skipped.
    let body = [&IP4[..], &[0x02, 0, 5], b"12345", &[0xe0, 0, 1, 9]].concat();
    let h = whole(&v2(0x21, 0x11, &body)).unwrap();
    assert_eq!(h.authority.as_deref(), Some("12345"));
    // LOCAL: the sender speaks for itself; the body is skipped whatever it is.
    let h = whole(&v2(0x20, 0x00, &[1, 2, 3])).unwrap();
    assert_eq!(h, Header::default());
    // IPv6.
    let mut b6 = vec![0u8; 36];
    b6[15] = 1;
    b6[31] = 2;
    b6[32..36].copy_from_slice(&[0, 80, 1, 187]);
    let h = whole(&v2(0x21, 0x21, &b6)).unwrap();
    assert_eq!(h.addrs, Some((sa("[::1]:80"), sa("[::2]:443"))));
    // Families this proxy cannot use: the connection's own addresses stand.
    assert_eq!(whole(&v2(0x21, 0x12, &IP4)).unwrap().addrs, None);
    assert_eq!(whole(&v2(0x21, 0x00, &[])).unwrap().addrs, None);
    // The reg-test's cases: a TLV running past the header, or cut in the middle.
    let past = [&IP4[..], &[0x02, 0, 10], b"12345"].concat();
    let mut h = v2(0x21, 0x11, &past);
    h[15] = 20;
    assert!(whole(&h[..36]).is_err());
    let short = [&IP4[..], &[0x02, 0, 4], b"1234"].concat();
    let mut h = v2(0x21, 0x11, &short);
    h[15] = 20;
    h.push(b'x');
    assert!(whole(&h).is_err());
    for bad in [
        v2(0x22, 0x11, &IP4),      // command 2
        v2(0x11, 0x11, &IP4),      // version 1 in a version 2 header
        v2(0x21, 0x11, &IP4[..8]), // too short for its addresses
        v2(0x21, 0x21, &IP4),      // idem
        v2(0x21, 0x11, &[&IP4[..], &[0x02, 0]].concat()),
        v2(0x21, 0x11, &[&IP4[..], &[0x03, 0, 3, 0, 0, 0]].concat()),
        v2(0x21, 0x11, &[&IP4[..], &[0x03, 0, 4, 0, 0, 0, 0]].concat()),
        v2(0x21, 0x11, &[&IP4[..], &[0x02, 1, 0], &[b'a'; 256]].concat()),
    ] {
        assert!(whole(&bad).is_err(), "{bad:?}");
    }
    // Partial headers are waited for; an announced length beyond the limit is refused.
    let full = v2(0x21, 0x11, &IP4);
    for n in 1..full.len() {
        assert_eq!(scan(&full[..n]), Ok(Scan::Need), "{n}");
    }
    let mut huge = full.clone();
    huge[14..16].copy_from_slice(&u16::MAX.to_be_bytes());
    assert_eq!(scan(&huge), Err(Error::TooLong(V2_MAX)));
}

#[test]
fn what_is_sent_reads_back() {
    let v1 = SendProxy {
        v1: true,
        ..SendProxy::default()
    };
    let all = SendProxy {
        v2: true,
        v2_ssl: true,
        v2_ssl_cipher: true,
        v2_authority: true,
        v2_crc32c: true,
        v2_unique_id: true,
        ..SendProxy::default()
    };
    for addrs in [
        (sa("192.0.2.1:56324"), sa("198.51.100.2:443")),
        (sa("[2001:db8::1]:1"), sa("[2001:db8::2]:2")),
    ] {
        let o = Outgoing {
            addrs: Some(addrs),
            alpn: Some(b"h2"),
            authority: Some("www.example.com"),
            tls: Some(("TLSv1.3", "TLS_AES_128_GCM_SHA256")),
            unique_id: Some("req-42"),
        };
        for p in [&v1, &all] {
            let h = encode(p, &o);
            assert_eq!(scan(&h), Ok(Scan::Complete(h.len())));
            let back = parse(&h).unwrap();
            assert_eq!(back.addrs, Some(addrs));
            if p.v2 {
                assert_eq!(back.alpn.as_deref(), Some(&b"h2"[..]));
                assert_eq!(back.authority.as_deref(), Some("www.example.com"));
                assert_eq!(back.unique_id.as_deref(), Some(&b"req-42"[..]));
            }
        }
    }
    assert_eq!(
        encode(
            &v1,
            &Outgoing {
                addrs: Some((sa("192.0.2.1:5"), sa("198.51.100.2:443"))),
                ..Outgoing::default()
            }
        ),
        b"PROXY TCP4 192.0.2.1 198.51.100.2 5 443\r\n"
    );
    // Mixed families go as IPv6, the IPv4 one mapped (as HAProxy).
    assert_eq!(
        encode(
            &v1,
            &Outgoing {
                addrs: Some((sa("192.0.2.1:5"), sa("[2001:db8::2]:443"))),
                ..Outgoing::default()
            }
        ),
        b"PROXY TCP6 ::ffff:192.0.2.1 2001:db8::2 5 443\r\n"
    );
    // A check's: UNKNOWN / LOCAL.
    assert_eq!(encode(&v1, &Outgoing::default()), b"PROXY UNKNOWN\r\n");
    let local = encode(&all, &Outgoing::default());
    assert_eq!(local[12], 0x20);
    assert_eq!(parse(&local).unwrap(), Header::default());
    // The checksum is checked: one byte changed is refused.
    let mut h = encode(
        &all,
        &Outgoing {
            addrs: Some((sa("192.0.2.1:5"), sa("198.51.100.2:443"))),
            ..Outgoing::default()
        },
    );
    assert!(parse(&h).is_ok());
    h[17] ^= 1;
    assert_eq!(parse(&h), Err(Error::Invalid("wrong CRC32C")));
}

#[test]
fn only_the_header_is_taken_from_the_socket() {
    // Over TCP, as clients send it: the header and a request in one write, then a header
    // arriving in pieces.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (s, _) = l.accept().unwrap();
    s.set_nonblocking(true).unwrap();
    use std::io::{Read, Write};
    c.write_all(b"PROXY TCP4 192.0.2.1 198.51.100.2 5 443\r\nGET / HTTP/1.1\r\n")
        .unwrap();
    let mut p = recv::Partial::default();
    let h = loop {
        if let Some(h) = p.try_now(&s).unwrap() {
            break h;
        }
    };
    assert_eq!(h.addrs.unwrap().0, sa("192.0.2.1:5"));
    s.set_nonblocking(false).unwrap();
    let mut rest = [0u8; 16];
    (&s).read_exact(&mut rest).unwrap();
    assert_eq!(&rest, b"GET / HTTP/1.1\r\n");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut c = tokio::net::TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (mut s, _) = l.accept().await.unwrap();
        let reader = tokio::spawn(async move {
            let h = recv::Partial::default()
                .finish(&s, std::time::Duration::from_secs(10))
                .await
                .unwrap();
            let mut rest = [0u8; 3];
            tokio::io::AsyncReadExt::read_exact(&mut s, &mut rest).await.unwrap();
            (h, rest)
        });
        use tokio::io::AsyncWriteExt;
        let hdr = v2(0x21, 0x11, &IP4);
        for chunk in hdr.chunks(5) {
            c.write_all(chunk).await.unwrap();
            c.flush().await.unwrap();
            tokio::task::yield_now().await;
        }
        c.write_all(b"abc").await.unwrap();
        let (h, rest) = reader.await.unwrap();
        assert_eq!(h.addrs.unwrap().0, sa("127.0.0.1:42"));
        assert_eq!(&rest, b"abc");
        // Nothing within the limit: a timeout, not a hang.
        let l2 = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let _c2 = tokio::net::TcpStream::connect(l2.local_addr().unwrap()).await.unwrap();
        let (s2, _) = l2.accept().await.unwrap();
        let r = recv::Partial::default()
            .finish(&s2, std::time::Duration::from_millis(50))
            .await;
        assert!(matches!(r, Err(recv::Failed::Timeout(_))), "{r:?}");
    });
}
