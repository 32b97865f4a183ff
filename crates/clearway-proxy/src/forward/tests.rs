use super::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A connected pair of loopback sockets.
async fn pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let a = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    let (b, _) = l.accept().await.unwrap();
    (a, b)
}

/// client_app <-> (client_side | proxy | server_side) <-> server_app
async fn proxied(limits: Limits) -> (TcpStream, TcpStream, tokio::task::JoinHandle<Outcome>) {
    let (client_app, mut client_side) = pair().await;
    let (mut server_side, server_app) = pair().await;
    let task = tokio::spawn(async move { forward(&mut client_side, &mut server_side, limits, None).await });
    (client_app, server_app, task)
}

#[tokio::test]
async fn half_close_reaches_the_server_and_the_reply_still_flows() {
    let (mut client, mut server, task) = proxied(Limits::default()).await;
    client.write_all(b"request").await.unwrap();
    client.shutdown().await.unwrap();
    let mut got = Vec::new();
    server.read_to_end(&mut got).await.unwrap();
    assert_eq!(got, b"request", "the server sees the data then EOF");
    server.write_all(b"reply after the client's FIN").await.unwrap();
    server.shutdown().await.unwrap();
    let mut reply = Vec::new();
    client.read_to_end(&mut reply).await.unwrap();
    assert_eq!(reply, b"reply after the client's FIN");
    let out = task.await.unwrap();
    assert!(matches!(out.end, End::Closed), "{}", out.end);
    assert_eq!((out.bytes_in, out.bytes_out), (7, 28));
}

#[tokio::test]
async fn large_transfers_both_ways_do_not_deadlock() {
    echo_both_ways(4_000_000).await;
}

#[tokio::test]
async fn bulk_transfers_are_spliced_and_their_pipes_kept_for_the_next() {
    clearway_net::splice::set_limit(1024);
    let before = clearway_net::splice::spare_pipes();
    echo_both_ways(8_000_000).await;
    // Both directions moved to pipes, ended with them empty, and gave them back to this
    // thread (the test's runtime runs every task on it).
    assert_eq!(clearway_net::splice::spare_pipes(), before + 2);
    // The next session takes them again instead of opening new ones.
    echo_both_ways(1_000_000).await;
    assert_eq!(clearway_net::splice::spare_pipes(), before + 2);
}

#[tokio::test]
async fn a_spliced_to_socket_keeps_few_unsent_bytes() {
    clearway_net::splice::set_limit(1024);
    let (client_app, mut client_side) = pair().await;
    let (mut server_side, server_app) = pair().await;
    // Second descriptors of the proxy's two sockets, to look at their options meanwhile.
    let dup = |s: &TcpStream| socket2::SockRef::from(s).try_clone().unwrap();
    let (to_client, to_server) = (dup(&client_side), dup(&server_side));
    let task = tokio::spawn(async move { forward(&mut client_side, &mut server_side, Limits::default(), None).await });
    let (mut client, mut server) = (client_app, server_app);
    // A bulk upload: the direction to the server moves to a pipe.
    let data = vec![7u8; 1_000_000];
    let (_, got) = tokio::join!(client.write_all(&data), async {
        let mut got = vec![0u8; data.len()];
        server.read_exact(&mut got).await.unwrap();
        got
    });
    assert_eq!(got, data);
    // Both proxy sockets are still open: the session goes on until a side closes.
    assert_eq!(
        clearway_net::splice::unsent_limit(&to_server).unwrap(),
        clearway_net::splice::UNSENT_MAX,
        "the socket spliced to is limited"
    );
    assert_eq!(
        clearway_net::splice::unsent_limit(&to_client).unwrap(),
        0,
        "nothing bulk went to the client: its socket keeps the system's setting"
    );
    drop(client);
    drop(server);
    task.await.unwrap();
}

/// Sends `len` bytes through the proxy to a server that echoes them while still reading,
/// and checks every byte and count.
async fn echo_both_ways(len: u32) {
    let (client, server, task) = proxied(Limits::default()).await;
    let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    let echo = tokio::spawn(async move {
        // The server writes everything back while still reading: needs both directions at once.
        let (mut r, mut w) = server.into_split();
        tokio::io::copy(&mut r, &mut w).await.unwrap();
        w.shutdown().await.unwrap();
    });
    let (mut r, mut w) = client.into_split();
    let sent = data.clone();
    let writer = tokio::spawn(async move {
        w.write_all(&sent).await.unwrap();
        w.shutdown().await.unwrap();
    });
    let mut back = Vec::new();
    r.read_to_end(&mut back).await.unwrap();
    writer.await.unwrap();
    echo.await.unwrap();
    assert_eq!(back, data);
    let out = task.await.unwrap();
    assert_eq!(out.bytes_in, data.len() as u64);
    assert_eq!(out.bytes_out, data.len() as u64);
}

#[tokio::test(start_paused = true)]
async fn idle_client_side_times_out() {
    let limits = Limits {
        client: Some(Duration::from_secs(5)),
        server: Some(Duration::from_secs(60)),
        ..Limits::default()
    };
    let (_client, _server, task) = proxied(limits).await;
    let out = task.await.unwrap();
    assert!(matches!(out.end, End::ClientTimeout), "{}", out.end);
}

/// Activity on a side moves its deadline later: a client that talks every three seconds
/// outlives a five-second client timeout, and the session ends five seconds after it falls
/// silent, not five seconds after it began.
#[tokio::test(start_paused = true)]
async fn activity_moves_the_deadline_and_silence_ends_the_session() {
    let limits = Limits {
        client: Some(Duration::from_secs(5)),
        server: Some(Duration::from_secs(60)),
        ..Limits::default()
    };
    let (mut client, mut server, task) = proxied(limits).await;
    let begun = Instant::now();
    let mut byte = [0u8; 1];
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_secs(3)).await;
        client.write_all(b"x").await.unwrap();
        server.read_exact(&mut byte).await.unwrap();
        server.write_all(b"y").await.unwrap();
        client.read_exact(&mut byte).await.unwrap();
        assert!(!task.is_finished(), "the session ended while its client was talking");
    }
    let last = Instant::now();
    let out = task.await.unwrap();
    assert!(matches!(out.end, End::ClientTimeout), "{}", out.end);
    let ended = Instant::now();
    assert!(last - begun >= Duration::from_secs(12), "the client talked for 12 s");
    assert!(
        ended - last >= Duration::from_secs(5) && ended - last < Duration::from_secs(6),
        "ended {:?} after the last exchange",
        ended - last
    );
}

#[tokio::test(start_paused = true)]
async fn tunnel_timeout_replaces_client_and_server() {
    let l = Limits::for_tunnel(
        Some(Duration::from_secs(1)),
        Some(Duration::from_secs(1)),
        Some(Duration::from_secs(3600)),
    );
    assert_eq!(l.client, Some(Duration::from_secs(3600)));
    assert_eq!(l.server, Some(Duration::from_secs(3600)));
    let (_client, _server, task) = proxied(Limits {
        client: None,
        server: Some(Duration::from_secs(2)),
        ..l
    })
    .await;
    let out = task.await.unwrap();
    assert!(matches!(out.end, End::ServerTimeout), "{}", out.end);
}

#[tokio::test]
async fn server_reset_ends_the_session_with_a_server_error() {
    let (mut client, server, task) = proxied(Limits::default()).await;
    // SO_LINGER 0 makes close() send a RST.
    socket2::SockRef::from(&server)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(server);
    let mut buf = [0u8; 16];
    let _ = client.read(&mut buf).await;
    let out = task.await.unwrap();
    assert!(matches!(out.end, End::ServerError(_)), "{}", out.end);
}
