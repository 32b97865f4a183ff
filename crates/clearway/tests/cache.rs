//! The HTTP cache side by side with HAProxy: an object served again without asking the
//! server, a request's `Cache-Control: no-cache` going to the server, a successful POST
//! forgetting the object, `private` responses never kept, a conditional request answered
//! 304, and `res.cache_hit` telling which is which.

mod common;
use common::http::{echo, values, DEFAULTS};
use common::*;

const CONFIG: &str = "{DEFAULTS}frontend fe\n    bind 192.0.2.1:PORT\n    default_backend be\n\
    backend be\n    http-request cache-use objects\n    http-response cache-store objects\n\
    \x20   http-response set-header X-Hit %[res.cache_hit]\n\
    \x20   server web1 198.51.100.10:80\n\
    cache objects\n    total-max-size 4\n    max-age 240\n";

#[test]
fn objects_are_served_from_the_cache_as_haproxy_serves_them() {
    let Some(topo) = topology("cache") else { return };
    let _w = echo(&topo, "198.51.100.10:80", "web1");
    let (_cw, _hap) = clearway_and_haproxy(&topo, &CONFIG.replace("{DEFAULTS}", DEFAULTS));
    let mut seen = Vec::new();
    for port in [80u16, 81] {
        // What came back: the status, whether it was a hit, and which request of its server
        // connection answered it (the same one again: nothing asked the server).
        let get = |method: &str, path: &str, extra: &[&str]| {
            let url = format!("http://192.0.2.1:{port}{path}");
            let mut args = vec![
                "-sS",
                "-i",
                "--max-time",
                "10",
                "-X",
                method,
                "-H",
                "X-Reply-Header: Cache-Control: max-age=60",
            ];
            args.extend_from_slice(extra);
            args.push(&url);
            let text = String::from_utf8_lossy(&topo.client.exec("curl", &args).stdout).replace('\r', "");
            let status = text.split_whitespace().nth(1).unwrap_or("").to_string();
            let hit = text
                .lines()
                .find_map(|l| l.strip_prefix("x-hit: "))
                .unwrap_or("-")
                .to_string();
            let answer = format!("{}/{}", values(&text, "conn").join(""), values(&text, "req").join(""));
            (status, hit, answer)
        };
        let mut got = Vec::new();
        let first = get("GET", "/obj", &[]);
        let again = get("GET", "/obj", &[]);
        assert_eq!(
            (&again.1, &again.2),
            (&"1".to_string(), &first.2),
            "{port}: served from the cache"
        );
        got.push(format!("{} {} then {} {}", first.0, first.1, again.0, again.1));
        // The request refuses the cache: the server answers; the object stays.
        let fresh = get("GET", "/obj", &["-H", "Cache-Control: no-cache"]);
        assert_ne!(fresh.2, first.2, "{port}");
        got.push(format!(
            "no-cache {} {} then {}",
            fresh.0,
            fresh.1,
            get("GET", "/obj", &[]).1
        ));
        // A conditional request the object satisfies.
        got.push(format!(
            "ims {}",
            get(
                "GET",
                "/obj",
                &["-H", "If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT"]
            )
            .0
        ));
        // A successful POST forgets it: the next GET goes to the server.
        got.push(format!(
            "post {} then {}",
            get("POST", "/obj", &[]).1,
            get("GET", "/obj", &[]).1
        ));
        // Private answers are never kept.
        let p = ["-H", "X-Reply-Header: Cache-Control: private, max-age=60"];
        got.push(format!(
            "private {} then {}",
            get("GET", "/p", &p).1,
            get("GET", "/p", &p).1
        ));
        seen.push(got);
    }
    assert_eq!(
        seen[0],
        [
            "200 0 then 200 1",
            "no-cache 200 0 then 1",
            "ims 304",
            "post 0 then 0",
            "private 0 then 0"
        ],
        "{seen:?}"
    );
    assert_eq!(seen[0], seen[1], "Clearway, then HAProxy");
}
