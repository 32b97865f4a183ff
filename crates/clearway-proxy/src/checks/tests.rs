use super::http::{judge, parse_status};
use super::*;
use clearway_config::model::Span;
use clearway_config::model::{ExpectMatch, HttpCheck, HttpExpect, TcpCheckRule};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn expect(negate: bool, matcher: ExpectMatch) -> HttpExpect {
    HttpExpect {
        span: Span {
            file: "t".into(),
            line: 1,
        },
        negate,
        matcher,
        comment: None,
    }
}

/// The rule of a `tcp-check` line (the words after `tcp-check`).
fn tcp(line: &str) -> TcpCheckRule {
    let text = format!("backend b\n option tcp-check\n tcp-check {line}\n server s 192.0.2.1:1 check\n");
    let l = clearway_config::parse_str("t.cfg", &text).expect(line);
    match &l.config.backends[0].options.check {
        CheckKind::TcpCheck(rules) => rules[0].clone(),
        other => panic!("{line}: {other:?}"),
    }
}

/// A route to `target` alone: no source, PROXY header or TLS.
fn to(target: SocketAddr) -> Route<'static> {
    Route {
        target,
        source: None,
        proxy: None,
        tls: None,
        step_tls: &[],
        rule_proxy: &[],
        socks4: None,
    }
}

#[test]
fn status_lines() {
    assert_eq!(parse_status(b"HTTP/1.1 503 Service Unavailable\r\n"), Some(503));
    assert_eq!(parse_status(b"HTTP/1.0 200 OK\r\n\r\nbody"), Some(200));
    assert_eq!(parse_status(b"SSH-2.0-OpenSSH\r\n"), None);
    assert_eq!(parse_status(b"HTTP/1.1 abc\r\n"), None);
    assert_eq!(parse_status(b""), None);
}

#[test]
fn default_expectation_is_2xx_or_3xx() {
    assert!(judge(&Regexes::default(), 200, b"", &[]).is_ok());
    assert!(judge(&Regexes::default(), 302, b"", &[]).is_ok());
    let (reason, info) = judge(
        &Regexes::default(),
        503,
        b"HTTP/1.1 503 Service Unavailable\r\n\r\n",
        &[],
    )
    .unwrap_err();
    // As HAProxy: the reason phrase tells.
    assert_eq!((reason, info.as_str()), ("Layer7 wrong status", "Service Unavailable"));
}

#[test]
fn header_rules_match_names_without_case_and_values_by_element() {
    use clearway_config::model::HeaderMatch::{Beg, Reg, Str, Sub};
    let resp = b"HTTP/1.1 200 OK\r\nX-State: up, ready\r\nServer: nginx/1.22\r\n\r\nbody";
    let mut regexes = std::collections::HashMap::new();
    for p in ["^ngi".to_string(), super::spec::nocase("^X-ST")] {
        regexes.insert(p.clone(), regex::bytes::Regex::new(&p).unwrap());
    }
    let regexes = Regexes(regexes);
    let hdr = |full: bool,
               name: (clearway_config::model::HeaderMatch, &str),
               value: Option<(clearway_config::model::HeaderMatch, &str)>| {
        judge(
            &regexes,
            200,
            resp,
            &[expect(
                false,
                ExpectMatch::Header {
                    full,
                    name: (name.0, name.1.into()),
                    value: value.map(|(m, v)| (m, v.into())),
                },
            )],
        )
        .is_ok()
    };
    assert!(hdr(false, (Str, "x-state"), None));
    assert!(!hdr(false, (Str, "x-stat"), None));
    assert!(hdr(false, (Beg, "X-ST"), Some((Str, "ready"))));
    assert!(!hdr(true, (Str, "x-state"), Some((Str, "ready"))));
    assert!(hdr(true, (Str, "x-state"), Some((Str, "up, ready"))));
    assert!(hdr(false, (Str, "server"), Some((Reg, "^ngi"))));
    assert!(hdr(false, (Str, "server"), Some((Sub, "1.22"))));
    assert!(!hdr(false, (Str, "server"), Some((Sub, "apache"))));
    // Names match without case, by regular expression too.
    assert!(hdr(false, (Reg, "^X-ST"), None));
    // Headers are not the body, nor the body headers.
    assert!(!hdr(false, (Str, "body"), None));
}

#[test]
fn expect_rules() {
    let resp = b"HTTP/1.1 200 OK\r\nX: synced\r\n\r\nGalera Cluster Node is synced.";
    assert!(judge(
        &Regexes::default(),
        200,
        resp,
        &[expect(false, ExpectMatch::Status(vec![(200, 200)]))]
    )
    .is_ok());
    assert!(judge(
        &Regexes::default(),
        404,
        resp,
        &[expect(false, ExpectMatch::Status(vec![(200, 399)]))]
    )
    .is_err());
    assert!(judge(
        &Regexes::default(),
        200,
        resp,
        &[expect(false, ExpectMatch::String("is synced".into()))]
    )
    .is_ok());
    assert!(judge(
        &Regexes::default(),
        200,
        resp,
        &[expect(true, ExpectMatch::String("is synced".into()))]
    )
    .is_err());
    // Headers do not count as body.
    assert!(judge(
        &Regexes::default(),
        200,
        resp,
        &[expect(false, ExpectMatch::String("X: synced".into()))]
    )
    .is_err());
    assert!(judge(
        &Regexes::default(),
        500,
        resp,
        &[expect(true, ExpectMatch::Status(vec![(500, 599)]))]
    )
    .is_err());
}

#[tokio::test]
async fn checks_against_real_sockets() {
    use tokio::net::TcpListener;
    let spec = |kind| CheckSpec::new(kind, &Default::default(), Timeouts::default());
    let t = Duration::from_secs(2);
    // Nothing listening: refused.
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = l.local_addr().unwrap();
    drop(l);
    let o = check_once(&to(dead), &spec(CheckKind::Connect), &Default::default(), t, t).await;
    assert_eq!(
        (o.ok, o.reason, o.info.as_str()),
        (false, "Layer4 connection problem", "Connection refused")
    );
    // A listener: a connect check passes; an HTTP check gets the status it answers.
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        for answer in ["HTTP/1.0 503 Service Unavailable\r\n\r\n", "HTTP/1.0 200 OK\r\n\r\nok"] {
            let (mut s, _) = l.accept().await.unwrap();
            let mut req = [0u8; 512];
            let n = s.read(&mut req).await.unwrap();
            assert!(std::str::from_utf8(&req[..n])
                .unwrap()
                .starts_with("OPTIONS / HTTP/1.0\r\n"));
            s.write_all(answer.as_bytes()).await.unwrap();
        }
        // Then one that never answers.
        let (_s, _) = l.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(5)).await;
    });
    let http = spec(CheckKind::Http(HttpCheck::default()));
    let o = check_once(&to(addr), &http, &Default::default(), t, t).await;
    assert_eq!((o.ok, o.reason), (false, "Layer7 wrong status"));
    let o = check_once(&to(addr), &http, &Default::default(), t, t).await;
    assert_eq!((o.ok, o.reason), (true, "Layer7 check passed"));
    let o = check_once(&to(addr), &http, &Default::default(), t, Duration::from_millis(200)).await;
    assert_eq!((o.ok, o.reason), (false, "Layer7 timeout"));
}

#[test]
fn checks_that_speak_first_are_told_apart() {
    let send = || tcp("send PING");
    let expect = || tcp("expect string +PONG");
    let connect = || tcp("connect port 6379");
    assert!(sends_first(&CheckKind::Redis));
    assert!(!sends_first(&CheckKind::Mysql {
        user: None,
        post41: false
    }));
    assert!(!sends_first(&CheckKind::Connect));
    assert!(sends_first(&CheckKind::TcpCheck(vec![connect(), send(), expect()])));
    assert!(!sends_first(&CheckKind::TcpCheck(vec![expect(), send()])));
    assert!(!sends_first(&CheckKind::TcpCheck(vec![])));
    // A later `connect` holds its ACK when a send follows it.
    let rules = [send(), expect(), connect(), send()];
    assert!(tcpcheck::sends_next(&rules, 3));
    assert!(!tcpcheck::sends_next(&rules, 1));
    // Comments do nothing, and are passed over.
    let rules = [connect(), tcp("comment x"), send()];
    assert!(tcpcheck::sends_next(&rules, 1));
}

/// How a check left a fake server that wrote `answer` (then closed its side when `closes`):
/// "fin" or "reset", as that server's next read saw it.
async fn end_seen_by_server(kind: CheckKind, answer: &'static [u8], closes: bool) -> (bool, &'static str) {
    use tokio::net::TcpListener;
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    // The MySQL check waits for the server's greeting; the others speak first.
    let reads_first = !matches!(kind, CheckKind::Mysql { .. });
    let server = tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        let mut buf = [0u8; 512];
        if reads_first {
            let _ = s.read(&mut buf).await.unwrap();
        }
        s.write_all(answer).await.unwrap();
        if closes {
            s.shutdown().await.unwrap();
        }
        loop {
            match s.read(&mut buf).await {
                Ok(0) => return "fin",
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return "reset",
                Err(e) => panic!("unexpected {e}"),
            }
        }
    });
    let t = Duration::from_secs(2);
    let spec = CheckSpec::new(kind, &Default::default(), Timeouts::default());
    let o = check_once(&to(addr), &spec, &Default::default(), t, t).await;
    (o.ok, server.await.unwrap())
}

#[tokio::test]
async fn a_check_connection_is_let_go_as_haproxys() {
    // Still open on the server's side: reset, so no TIME_WAIT is left here per check.
    assert_eq!(
        end_seen_by_server(CheckKind::Redis, b"+PONG\r\n", false).await,
        (true, "reset")
    );
    // A server that keeps the connection open after a whole response (despite the request's
    // `Connection: close`) passes without waiting for `timeout check`, and is reset.
    let http = || CheckKind::Http(HttpCheck::default());
    let whole = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    assert_eq!(end_seen_by_server(http(), whole, false).await, (true, "reset"));
    // The server closed first (as an HTTP check's `Connection: close` asks): a plain close.
    assert_eq!(
        end_seen_by_server(http(), b"HTTP/1.0 200 OK\r\n\r\n", true).await,
        (true, "fin")
    );
    // The database checks close cleanly, as HAProxy's (their servers log resets as aborts).
    let pgsql = CheckKind::Pgsql { user: "chk".into() };
    assert_eq!(
        end_seen_by_server(pgsql, b"R\x00\x00\x00\x08\x00\x00\x00\x03", false).await,
        (true, "fin")
    );
    let greeting = b"\x09\x00\x00\x00\x0a5.5\x00\x01\x02\x03\x04";
    let mysql = CheckKind::Mysql {
        user: None,
        post41: false,
    };
    assert_eq!(end_seen_by_server(mysql, greeting, false).await, (true, "fin"));
    // A tcp-check: reset, unless its connect rule says `linger`.
    let rules = |linger: bool| {
        let connect = if linger { "connect linger" } else { "connect" };
        CheckKind::TcpCheck(vec![tcp(connect), tcp("send PING"), tcp("expect string +PONG")])
    };
    assert_eq!(
        end_seen_by_server(rules(false), b"+PONG\r\n", false).await,
        (true, "reset")
    );
    assert_eq!(
        end_seen_by_server(rules(true), b"+PONG\r\n", false).await,
        (true, "fin")
    );
}

#[test]
fn an_http_check_response_is_whole_by_its_own_framing() {
    use super::http::complete;
    let whole = |r: &str| complete(r.as_bytes(), false);
    assert!(whole("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
    assert!(!whole("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok"));
    assert!(!whole("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"));
    assert!(whole("HTTP/1.1 204 No Content\r\n\r\n"));
    assert!(whole(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"
    ));
    assert!(!whole(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n"
    ));
    // Framed by the close: only the server's FIN ends it.
    assert!(!whole("HTTP/1.0 200 OK\r\n\r\nok"));
    assert!(!whole("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\nok"));
    // An interim response is not the answer: the final one must be whole too.
    assert!(!whole("HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"));
    assert!(whole(
        "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    ));
    // A HEAD check's answer has no body, whatever its length says.
    assert!(complete(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", true));
}

#[test]
fn spread_checks_moves_pauses_within_its_percentage() {
    let second = Duration::from_secs(1);
    let mut none = Jitter::new(0);
    assert_eq!(none.apply(second), second);
    let mut j = Jitter::new(10);
    let seen: Vec<Duration> = (0..1000).map(|_| j.apply(second)).collect();
    assert!(seen.iter().all(|d| (900..=1100).contains(&d.as_millis())), "{seen:?}");
    assert!(seen.iter().any(|d| d.as_millis() < 950) && seen.iter().any(|d| d.as_millis() > 1050));
}
