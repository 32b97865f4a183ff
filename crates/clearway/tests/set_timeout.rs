//! `http-request set-timeout server|tunnel` side by side with HAProxy: a request's own server
//! timeout (a time, or an expression in milliseconds) decides whether a slow server's answer
//! is awaited, and `be_server_timeout` / `cur_server_timeout` show both values.

mod common;
use clearway_testkit::PeerServer;
use common::http::{get, DEFAULTS};
use common::*;
use std::time::Duration;

#[test]
fn a_request_sets_its_own_server_timeout_as_in_haproxy() {
    let Some(topo) = topology("stmo") else { return };
    // Answers each request after 2 s.
    let _slow = PeerServer::start_holding(&topo.server, addr("198.51.100.10:80"), "s1", Duration::from_secs(2));
    let cfg = format!(
        "{DEFAULTS}frontend fe\n    bind 192.0.2.1:PORT\n    default_backend be\n\
         backend be\n    timeout server 1s\n\
         \x20   http-request set-timeout server 4s if {{ path_sub slow }}\n\
         \x20   http-request set-timeout server int(2500),add(1000) if {{ path_sub expr }}\n\
         \x20   http-request set-timeout tunnel 9s if {{ path_sub tunnel }}\n\
         \x20   http-request return status 200 content-type text/plain lf-string \"%[be_server_timeout] %[cur_server_timeout] %[cur_tunnel_timeout]\" if {{ path_beg /show }}\n\
         \x20   server s1 198.51.100.10:80\n"
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    for port in [80, 81] {
        let get = |path: &str| {
            get(
                &topo,
                &format!("http://192.0.2.1:{port}{path}"),
                &["-w", " %{http_code}"],
            )
        };
        // Before a server connection, HAProxy's current server timeout is 0 unless a rule set
        // it; Clearway gives the one that will apply (the backend's). After the response (in
        // a log line) both give the backend's.
        let cur = if port == 80 { "1000" } else { "0" };
        assert_eq!(get("/show"), format!("1000 {cur} 0 200"), "port {port}");
        assert_eq!(get("/show-slow"), "1000 4000 0 200", "port {port}");
        assert_eq!(get("/show-expr"), "1000 3500 0 200", "port {port}");
        assert_eq!(get("/show-tunnel"), format!("1000 {cur} 9000 200"), "port {port}");
        // The server takes 2 s: too long for the backend's 1 s, not for 4 s or 3.5 s.
        assert!(get("/fast").ends_with(" 504"), "port {port}");
        assert!(get("/slow").ends_with(" 200"), "port {port}");
        assert!(get("/expr").ends_with(" 200"), "port {port}");
    }
}
