//! Protocol switches (WebSocket) across HTTP versions, side by side with HAProxy: an
//! HTTP/1.1 `Upgrade` carried to an HTTP/2 server as an extended CONNECT (RFC 8441) and back,
//! WebSocket's handshake keys made and checked where one side has none, and servers that
//! cannot switch or answer the key wrongly refused with 502. The real binaries, our echo
//! server (a WebSocket stand-in that echoes bytes once switched) and nginx (HTTP/2 without
//! extended CONNECT) in network namespaces.

mod common;
use common::http::*;
use common::*;

#[test]
fn websocket_crosses_an_http2_hop_both_ways_as_haproxy() {
    let Some(topo) = topology("hup2") else { return };
    let _srv = echo(&topo, "198.51.100.10:80", "s1");
    // HTTP/1.1 client -> a -> (HTTP/2) -> b -> HTTP/1.1 server: a turns the upgrade into an
    // extended CONNECT, b turns it back.
    let cfg = format!(
        "{DEFAULTS}frontend a\n    bind 192.0.2.1:PORT\n    default_backend to_b\n\
         backend to_b\n    timeout tunnel 1h\n    server b 192.0.2.1:1PORT proto h2\n\
         frontend b\n    bind 192.0.2.1:1PORT proto h2\n    default_backend ws\n\
         backend ws\n    timeout tunnel 1h\n    server s1 198.51.100.10:80\n"
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    for (who, to) in [("clearway", "192.0.2.1:80"), ("haproxy", "192.0.2.1:81")] {
        let (head, s) = switch(&topo, to, "/chat");
        assert!(head.starts_with("http/1.1 101"), "{who}: {head}");
        assert!(head.contains("upgrade: websocket"), "{who}: {head}");
        // The client's key is answered, though the HTTP/2 hop carried none.
        assert!(
            head.contains(&format!("sec-websocket-accept: {}", ACCEPT.to_ascii_lowercase())),
            "{who}: {head}"
        );
        // The server got an HTTP/1.1 upgrade with a key of its own to answer.
        assert!(head.contains("x-seen-line: get /chat http/1.1"), "{who}: {head}");
        let seen_key = head.lines().find_map(|l| l.strip_prefix("x-seen-key: ")).unwrap_or("-");
        assert_ne!(seen_key, "-", "{who}: the server got no key: {head}");
        echoes(s);
    }
}

#[test]
fn an_http2_server_without_extended_connect_is_not_asked_to_switch() {
    let Some(topo) = topology("hupn") else { return };
    // nginx speaks HTTP/2 in clear text on :81 and does not take extended CONNECT.
    let _nginx = clearway_testkit::daemons::nginx(&topo.server, addr("198.51.100.10:80"), addr("198.51.100.10:443"));
    let cfg = format!(
        "{DEFAULTS}frontend a\n    bind 192.0.2.1:PORT\n    default_backend h2\n\
         backend h2\n    server n 198.51.100.10:81 proto h2\n"
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    for (who, to) in [("clearway", "192.0.2.1:80"), ("haproxy", "192.0.2.1:81")] {
        let (head, _s) = switch(&topo, to, "/chat");
        assert!(head.starts_with("http/1.1 502"), "{who}: {head}");
    }
    // The same server connection still serves ordinary requests.
    assert_eq!(http_code(&topo, "http://192.0.2.1/", &[]), "200");
}

#[test]
fn a_websocket_switch_that_does_not_answer_the_key_is_refused() {
    let Some(topo) = topology("hupk") else { return };
    let _srv = echo(&topo, "198.51.100.10:80", "s1");
    let cfg = format!(
        "{DEFAULTS}frontend a\n    bind 192.0.2.1:PORT\n    default_backend ws\n\
         backend ws\n    timeout tunnel 1h\n    server s1 198.51.100.10:80\n"
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    // No Sec-WebSocket-Accept at all: both refuse.
    for (who, to) in [("clearway", "192.0.2.1:80"), ("haproxy", "192.0.2.1:81")] {
        let (head, _s) = switch(&topo, to, "/ws-noaccept");
        assert!(head.starts_with("http/1.1 502"), "{who}: {head}");
    }
    // A wrong one: HAProxy only checks that there is one and passes it on (the client then
    // fails the handshake); Clearway refuses it at once, stricter.
    let (head, _s) = switch(&topo, "192.0.2.1:81", "/ws-badaccept");
    assert!(head.starts_with("http/1.1 101"), "haproxy: {head}");
    let (head, _s) = switch(&topo, "192.0.2.1:80", "/ws-badaccept");
    assert!(head.starts_with("http/1.1 502"), "clearway: {head}");
    // The right one goes through.
    let (head, s) = switch(&topo, "192.0.2.1:80", "/chat");
    assert!(head.starts_with("http/1.1 101"), "clearway: {head}");
    echoes(s);
}

#[test]
fn the_ws_server_parameter_picks_the_version_websockets_go_with_as_haproxy() {
    let Some(topo) = topology("hupw") else { return };
    let _srv = echo(&topo, "198.51.100.10:80", "s1");
    let pki = clearway_testkit::Pki::new("pki");
    let leaf = pki.leaf("b", &["b.test"]);
    // Frontend b refuses what comes to it over HTTP/2 (403) and sends HTTP/1.1 upgrades on
    // to the WebSocket server (101): the answer tells which version a hop used.
    let cfg = format!(
        "{DEFAULTS}frontend a\n    bind 192.0.2.1:PORT\n\
         \x20   use_backend ws_h1 if {{ path_beg /h1 }}\n\
         \x20   use_backend ws_auto if {{ path_beg /auto }}\n\
         \x20   use_backend ws_h2 if {{ path_beg /h2 }}\n\
         \x20   use_backend tls_auto if {{ path_beg /tls-auto }}\n\
         \x20   use_backend tls_h2 if {{ path_beg /tls-h2 }}\n\
         backend ws_h1\n    timeout tunnel 1h\n    server b 192.0.2.1:1PORT proto h2 ws h1\n\
         backend ws_auto\n    server b 192.0.2.1:1PORT proto h2\n\
         backend ws_h2\n    server b 192.0.2.1:1PORT proto h2 ws h2\n\
         backend tls_auto\n    timeout tunnel 1h\n    server b 192.0.2.1:2PORT ssl verify none alpn h2,http/1.1\n\
         backend tls_h2\n    server b 192.0.2.1:2PORT ssl verify none alpn h2,http/1.1 ws h2\n\
         frontend b\n    bind 192.0.2.1:1PORT\n    bind 192.0.2.1:2PORT ssl crt {} alpn h2,http/1.1\n\
         \x20   http-request return status 200 content-type text/plain lf-string \"ver=%[req.ver]\" if {{ path_end /ver }}\n\
         \x20   http-request deny deny_status 403 if {{ req.ver 2.0 }}\n\
         \x20   default_backend echo\n\
         backend echo\n    timeout tunnel 1h\n    server s1 198.51.100.10:80\n",
        leaf.pem.display()
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    for (who, port) in [("clearway", 80), ("haproxy", 81)] {
        let to = format!("192.0.2.1:{port}");
        // `ws h1`: over HTTP/1.1 though the server line says `proto h2`.
        let (head, s) = switch(&topo, &to, "/h1/chat");
        assert!(head.starts_with("http/1.1 101"), "{who}: {head}");
        echoes(s);
        // `ws auto` (the default) with `proto h2`, and `ws h2`: over HTTP/2.
        for target in ["/auto/chat", "/h2/chat", "/tls-h2/chat"] {
            let (head, _s) = switch(&topo, &to, target);
            assert!(head.starts_with("http/1.1 403"), "{who} {target}: {head}");
        }
        // `ws auto` with ALPN `h2,http/1.1`: the WebSocket's own connection offers only
        // `http/1.1`...
        let (head, s) = switch(&topo, &to, "/tls-auto/chat");
        assert!(head.starts_with("http/1.1 101"), "{who}: {head}");
        echoes(s);
        // ... while the backend's other requests still go over HTTP/2.
        let body = get(&topo, &format!("http://{to}/tls-auto/ver"), &[]);
        assert_eq!(body, "ver=2.0", "{who}");
    }
}
