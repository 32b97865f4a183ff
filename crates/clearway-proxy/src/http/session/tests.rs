use super::client::serve_hyper;
use super::*;
use crate::http::hop::strip_hop_by_hop;
use http::header::{HeaderMap, HeaderName};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::convert::Infallible;
use std::sync::atomic::AtomicUsize;
use std::task::Context;
use std::task::Poll;

#[test]
fn origin_form_writes_an_empty_path_as_a_slash_and_keeps_the_query() {
    for (target, want) in [
        ("http://a?q=1", "/?q=1"),
        ("https://a:443?p", "/?p"),
        ("http://a", "/"),
        ("http://a/x?y", "/x?y"),
        ("/x?y", "/x?y"),
    ] {
        let uri: http::Uri = target.parse().unwrap();
        assert_eq!(origin_form(&uri).to_string(), want, "{target}");
    }
}

#[tokio::test]
async fn an_http2_server_connection_let_go_while_open_is_reset() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ours = tokio::net::TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    let port = ours.local_addr().unwrap().port();
    let (mut theirs, _) = l.accept().await.unwrap();
    let io = super::super::server_io::ServerIo::new(Box::new(ours), None);
    let sender = handshake_h2(Box::new(io)).await.expect("handshake");
    // Let go (as the pool does on expiry): the connection's task says GOAWAY, shuts its
    // side down and drops the stream.
    drop(sender);
    let mut buf = [0u8; 1024];
    while theirs
        .read(&mut buf)
        .await
        .expect("the preface, SETTINGS, GOAWAY, a FIN")
        > 0
    {}
    theirs.shutdown().await.unwrap();
    // Reset, our socket is gone at once; closed, it would wait in TIME_WAIT for a minute.
    let ours_left = || {
        let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
        let local = format!(":{port:04X} ");
        table.lines().skip(1).any(|l| {
            l.split_whitespace()
                .nth(1)
                .is_some_and(|a| format!("{a} ").ends_with(&local))
        })
    };
    for _ in 0..200 {
        if !ours_left() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("our side of the connection is still there (TIME_WAIT?)");
}

fn map(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

#[test]
fn hop_by_hop_headers_and_those_connection_names_go() {
    let mut h = map(&[
        ("host", "a"),
        ("connection", "close, X-Trace"),
        ("x-trace", "1"),
        ("keep-alive", "timeout=5"),
        ("transfer-encoding", "chunked"),
        ("te", "trailers"),
        ("x-kept", "yes"),
    ]);
    strip_hop_by_hop(&mut h);
    let mut left: Vec<&str> = h.keys().map(|k| k.as_str()).collect();
    left.sort_unstable();
    assert_eq!(left, ["host", "x-kept"]);
    let mut plain = map(&[("host", "a"), ("accept", "*/*")]);
    strip_hop_by_hop(&mut plain);
    assert_eq!(plain.len(), 2);
}

#[test]
fn a_requests_te_goes_on_as_trailers_when_it_names_that_coding() {
    for (te, want) in [
        ("trailers, gzip", Some("trailers")),
        ("gzip, Trailers", Some("trailers")),
        ("gzip", None),
        ("trailers;q=0.5", None),
    ] {
        let mut h = map(&[("host", "a"), ("te", te), ("connection", "TE")]);
        strip_hop_by_hop_request(&mut h);
        assert_eq!(h.get("te").map(|v| v.to_str().unwrap()), want, "TE: {te}");
        assert!(!h.contains_key("connection"));
    }
    // A response's TE means nothing: it goes.
    let mut h = map(&[("te", "trailers"), ("connection", "close")]);
    strip_hop_by_hop(&mut h);
    assert!(h.is_empty());
}

use bytes::Bytes;
use http::Method;
use hyper::body::Body;

/// A request body whose one piece is sent when `tx` is.
struct Later(Option<tokio::sync::oneshot::Receiver<Bytes>>);

impl Body for Later {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, Infallible>>> {
        let Some(rx) = self.0.as_mut() else {
            return Poll::Ready(None);
        };
        let got = std::task::ready!(Pin::new(rx).poll(cx));
        self.0 = None;
        Poll::Ready(got.ok().map(|b| Ok(hyper::body::Frame::data(b))))
    }
    fn is_end_stream(&self) -> bool {
        self.0.is_none()
    }
}

#[tokio::test]
async fn an_http2_request_body_still_to_come_is_acknowledged_at_once() {
    use super::client_h1::tests::CountsAcks;
    let text = "frontend f\n mode http\n bind 127.0.0.1:80\n http-request return status 200\n";
    let cfg = clearway_config::parse_str("t.cfg", text).expect("config").config;
    let rt = crate::Runtime::build(&cfg, 1024).expect("runtime");
    let (c, server) = tokio::io::duplex(1 << 16);
    let acks = Arc::new(AtomicUsize::new(0));
    let conn = ConnSamples {
        peer: "192.0.2.2:4000".parse().unwrap(),
        local: "127.0.0.1:80".parse().unwrap(),
        tls: None,
        listener: None,
        so: None,
        proxy: None,
        fd: None,
        vars: Default::default(),
        frontend: None,
        trackers: Default::default(),
        real: None,
    };
    tokio::spawn(serve_hyper(
        rt.frontends[0].clone(),
        CountsAcks(server, acks.clone()),
        conn,
    ));
    let (mut send, h2) = hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(c))
        .await
        .expect("h2 handshake");
    tokio::spawn(h2);
    let request = |method: Method, body: Later| Request::builder().method(method).uri("http://x/").body(body).unwrap();
    // No body: nothing to hurry.
    let res = send.send_request(request(Method::GET, Later(None))).await.expect("GET");
    assert_eq!(res.status(), 200);
    assert_eq!(acks.load(Ordering::Relaxed), 0);
    // A body still to come: the connection acknowledges at once, before the answer.
    let (tx, rx) = tokio::sync::oneshot::channel();
    let res = send
        .send_request(request(Method::POST, Later(Some(rx))))
        .await
        .expect("POST");
    assert_eq!(res.status(), 200);
    assert_eq!(acks.load(Ordering::Relaxed), 1);
    let _ = tx.send(Bytes::from_static(b"late"));
}
