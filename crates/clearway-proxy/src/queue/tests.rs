use super::*;
use clearway_config::model::{self, Balance, CheckParams, Host, ServerPort, Span};
use clearway_core::ServerRt;
use std::sync::Arc;

fn backend(maxconn: u32, n: usize, balance: Balance) -> BackendRt {
    backend_min(maxconn, maxconn, n, balance)
}

/// Servers with `minconn` too (the caller sets `fullconn`).
fn backend_min(maxconn: u32, minconn: u32, n: usize, balance: Balance) -> BackendRt {
    let span = Span {
        file: "t".into(),
        line: 1,
    };
    let servers: Vec<model::Server> = (0..n)
        .map(|i| model::Server {
            name: format!("s{i}"),
            span: span.clone(),
            host: Host::Name("x".into()),
            port: ServerPort::Fixed(80),
            weight: 1,
            maxconn,
            minconn,
            maxqueue: 0,
            slowstart: None,
            backup: false,
            disabled: false,
            hidden: false,
            on_marked_down_shutdown: false,
            on_marked_up_shutdown_backups: false,
            source: None,
            check: CheckParams::default(),
            agent: Default::default(),
            track: None,
            ssl: false,
            proto_h2: false,
            ws: Default::default(),
            tls: Default::default(),
            pool: Default::default(),
            send_proxy: Default::default(),
            socks4: None,
            id: None,
            non_stick: false,
            cookie: None,
            dns: Default::default(),
        })
        .collect();
    let cfg = model::Backend {
        num: Default::default(),
        name: "bk".into(),
        span,
        from_listen: false,
        mode: model::Mode::Tcp,
        balance,
        hash_type: Default::default(),
        logs: Vec::new(),
        log_tag: None,
        servers: servers.clone(),
        source: None,
        retries: 3,
        redispatch: false,
        fullconn: None,
        disabled: false,
        use_servers: Vec::new(),
        persist_rules: Vec::new(),
        stick_table: None,
        stick_rules: Vec::new(),
        retry_on: Default::default(),
        cookie: None,
        timeouts: model::Timeouts::default(),
        options: model::ProxyOptions::default(),
        http: model::HttpSettings::default(),
        tcp_rules: Default::default(),
    };
    let rts = servers
        .iter()
        .map(|s| ServerRt::new(s, Some([127, 0, 0, 1].into())))
        .collect();
    BackendRt::new(&cfg, rts)
}

const IP: Key = Key::Addr(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));

#[tokio::test]
async fn waiters_are_served_in_arrival_order() {
    let be = Arc::new(backend(1, 1, Balance::RoundRobin));
    let q = Arc::new(Queue::default());
    assert_eq!(q.acquire(&be, IP, Want::Any { avoid: None }, None).await, Ok(0));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for n in 0..5 {
        let (be2, q2, tx) = (be.clone(), q.clone(), tx.clone());
        tokio::spawn(async move {
            let got = q2.acquire(&be2, IP, Want::Any { avoid: None }, None).await;
            tx.send((n, got)).unwrap();
        });
        // Let each waiter enqueue before the next one arrives.
        while q.len() < n + 1 {
            tokio::task::yield_now().await;
        }
    }
    for expected in 0..5 {
        q.release(&be, 0);
        let (n, got) = rx.recv().await.unwrap();
        assert_eq!((n, got), (expected, Ok(0)));
    }
    assert_eq!(be.servers[0].active(), 1, "the last waiter holds the only slot");
}

#[tokio::test(start_paused = true)]
async fn timeout_leaves_the_line_and_frees_nothing() {
    let be = backend(1, 1, Balance::RoundRobin);
    let q = Queue::default();
    assert_eq!(q.acquire(&be, IP, Want::Any { avoid: None }, None).await, Ok(0));
    let r = q
        .acquire(&be, IP, Want::Any { avoid: None }, Some(Duration::from_secs(1)))
        .await;
    assert_eq!(r, Err(NoSlot::Timeout));
    assert_eq!(q.len(), 0);
    q.release(&be, 0);
    assert_eq!(be.servers[0].active(), 0);
}

#[tokio::test]
async fn specific_server_waiters_get_only_their_server() {
    let be = Arc::new(backend(1, 2, Balance::RoundRobin));
    let q = Arc::new(Queue::default());
    assert_eq!(q.acquire(&be, IP, Want::Server(0), None).await, Ok(0));
    assert_eq!(q.acquire(&be, IP, Want::Server(1), None).await, Ok(1));
    let (be2, q2) = (be.clone(), q.clone());
    let waiter = tokio::spawn(async move { q2.acquire(&be2, IP, Want::Server(1), None).await });
    while q.is_empty() {
        tokio::task::yield_now().await;
    }
    q.release(&be, 0);
    assert_eq!(
        be.servers[0].active(),
        0,
        "server 0's slot is not given to a waiter for server 1"
    );
    q.release(&be, 1);
    assert_eq!(waiter.await.unwrap(), Ok(1));
}

#[tokio::test]
async fn no_server_is_an_immediate_error() {
    let be = backend(1, 0, Balance::RoundRobin);
    let q = Queue::default();
    assert_eq!(
        q.acquire(&be, IP, Want::Any { avoid: None }, None).await,
        Err(NoSlot::NoServer)
    );
}

#[tokio::test]
async fn a_minconn_limit_follows_the_backends_sessions_as_haproxy_computes_it() {
    // minconn 2, maxconn 10, fullconn 30: the limit is max(2, sessions * 10 / 30).
    let be = Arc::new(backend_min(10, 2, 1, Balance::RoundRobin).with_fullconn(30));
    let q = Arc::new(Queue::default());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut waiters = Vec::new();
    for n in 0..20u32 {
        let (be2, q2, tx) = (be.clone(), q.clone(), tx.clone());
        waiters.push(tokio::spawn(async move {
            let got = q2.acquire(&be2, IP, Want::Any { avoid: None }, None).await;
            tx.send(got).unwrap();
        }));
        // Sessions arrive one after the other.
        while be.servers[0].active() + q.len() < n + 1 {
            tokio::task::yield_now().await;
        }
    }
    assert_eq!(be.servers[0].active(), 2, "at 1 and 2 sessions the limit is minconn");
    assert_eq!(
        q.len(),
        18,
        "20 sessions raise it to 6, but newcomers do not overtake the line"
    );
    for _ in 0..2 {
        assert_eq!(rx.recv().await.unwrap(), Ok(0));
    }
    // One leaves: 19 sessions, a limit of 6: five more are served at once.
    q.release(&be, 0);
    for _ in 0..5 {
        assert_eq!(rx.recv().await.unwrap(), Ok(0));
    }
    assert_eq!((be.servers[0].active(), q.len()), (6, 13));
    assert_eq!(be.servers[0].limit(), 6);
    // Those still waiting give up (their futures dropped): the load falls with them.
    for w in &waiters {
        w.abort();
    }
    for w in waiters {
        let _ = w.await;
    }
    for _ in 0..6 {
        q.release(&be, 0);
    }
    assert_eq!(be.servers[0].active(), 0);
    assert_eq!(be.servers[0].limit(), 2, "no session left: back to minconn");
}
