use super::*;
use clearway_config::model::Span;

fn persist(mode: CookieMode, indirect: bool) -> CookiePersist {
    let c = model::CookiePersist {
        mode,
        indirect,
        nocache: true,
        ..model::CookiePersist::named(
            Span {
                file: "t".into(),
                line: 1,
            },
            "SRV",
        )
    };
    CookiePersist::new(&c, [Some("a"), Some("b"), None])
}

fn answer(server: usize, direct: bool, method: &Method, status: u16, now: u32) -> Answer<'_> {
    Answer {
        server,
        direct,
        method,
        status,
        now,
        checkcache: false,
    }
}

fn cookies(lines: &[&str]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for l in lines {
        h.append(COOKIE, HeaderValue::from_str(l).unwrap());
    }
    h
}

fn values(h: &HeaderMap, name: http::header::HeaderName) -> Vec<&str> {
    h.get_all(name).iter().map(|v| v.to_str().unwrap()).collect()
}

#[test]
fn insert_indirect_takes_the_cookie_and_its_attributes_out_of_the_request() {
    let p = persist(CookieMode::Insert, true);
    let mut h = cookies(&["x=1; SRV=b; $Path=/; y=\"q;r\"", "SRV=a"]);
    let r = p.on_request(&mut h, (Bent::No, false), 0, |_| Some(true), false);
    assert_eq!((r.seen, r.server), (Seen::Valid, Some(1)));
    assert_eq!(values(&h, COOKIE), ["x=1; y=\"q;r\""]);
    // A header with nothing else left goes; one without our cookie stays as it was.
    let mut h = cookies(&["SRV=a", "k = v"]);
    p.on_request(&mut h, (Bent::No, false), 0, |_| Some(true), false);
    assert_eq!(values(&h, COOKIE), ["k = v"]);
}

#[test]
fn a_deleted_servers_cookie_names_no_server_even_when_persistence_is_forced() {
    let p = persist(CookieMode::Insert, false);
    let mut h = cookies(&["SRV=a"]);
    let gone = |i: usize| (i != 0).then_some(true);
    let unknown = p.on_request(&mut h, (Bent::No, false), 0, |_| Some(true), false);
    let unknown = {
        let mut h = cookies(&["SRV=zz"]);
        let r = p.on_request(&mut h, (Bent::No, false), 0, |_| Some(true), false);
        assert_eq!(unknown.server, Some(0), "the cookie names server 0 while it exists");
        r.seen
    };
    for (bent, persist) in [(Bent::No, true), (Bent::Forced, false)] {
        let r = p.on_request(&mut h, (bent, false), 0, gone, persist);
        assert_eq!((r.seen, r.server), (unknown, None), "{bent:?} persist={persist}");
    }
}

#[test]
fn a_down_server_is_skipped_unless_persistence_is_forced() {
    let p = persist(CookieMode::Insert, false);
    let mut h = cookies(&["SRV=a"]);
    let r = p.on_request(&mut h, (Bent::No, false), 0, |i| Some(i != 0), false);
    assert_eq!((r.seen, r.server), (Seen::Down, None));
    assert_eq!(values(&h, COOKIE), ["SRV=a"], "not indirect: left in");
    let r = p.on_request(&mut h, (Bent::Forced, false), 0, |i| Some(i != 0), false);
    assert_eq!((r.seen, r.server), (Seen::Down, Some(0)));
    let r = p.on_request(&mut h, (Bent::No, false), 0, |i| Some(i != 0), true);
    assert_eq!(
        (r.seen, r.server),
        (Seen::Down, Some(0)),
        "option persist: used, logged down"
    );
    let r = p.on_request(&mut h, (Bent::No, true), 0, |_| Some(true), false);
    assert_eq!((r.seen, r.server), (Seen::Unused, None), "a use-server rule came first");
    let r = p.on_request(&mut h, (Bent::Ignored, false), 0, |_| Some(true), false);
    assert_eq!((r.seen, r.server), (Seen::Unused, None));
    for v in ["SRV=zz", "SRV="] {
        let r = p.on_request(&mut cookies(&[v]), (Bent::No, false), 0, |_| Some(true), false);
        assert_eq!((r.seen, r.server), (Seen::Invalid, None), "{v}");
    }
    let r = p.on_request(&mut cookies(&["other=1"]), (Bent::No, false), 0, |_| Some(true), false);
    assert_eq!(r.seen, Seen::None);
}

#[test]
fn prefix_mode_strips_the_server_part_and_prefixes_the_servers_cookie() {
    let p = persist(CookieMode::Prefix, false);
    let mut h = cookies(&["SRV=b~opaque~x; o=1"]);
    let r = p.on_request(&mut h, (Bent::No, false), 0, |_| Some(true), false);
    assert_eq!(r.server, Some(1));
    assert_eq!(values(&h, COOKIE), ["SRV=opaque~x; o=1"]);
    let mut res = HeaderMap::new();
    res.append(SET_COOKIE, HeaderValue::from_static("SRV=val; Path=/"));
    res.append(SET_COOKIE, HeaderValue::from_static("other=1"));
    let (set, ok) = p.on_response(&mut res, &r, Bent::No, &answer(0, false, &Method::GET, 200, 0));
    assert_eq!((set, ok.is_ok()), (Set::Rewritten, true));
    assert_eq!(values(&res, SET_COOKIE), ["SRV=a~val; Path=/", "other=1"]);
}

#[test]
fn insert_mode_replaces_the_servers_cookie_and_marks_cacheable_answers_private() {
    let p = persist(CookieMode::Insert, true);
    let none = p.on_request(&mut HeaderMap::new(), (Bent::No, false), 0, |_| Some(true), false);
    let mut res = HeaderMap::new();
    res.append(SET_COOKIE, HeaderValue::from_static("SRV=app"));
    res.append(CACHE_CONTROL, HeaderValue::from_static("max-age=60"));
    let (set, _) = p.on_response(&mut res, &none, Bent::No, &answer(1, false, &Method::GET, 200, 0));
    assert_eq!(set, Set::Inserted);
    assert_eq!(values(&res, SET_COOKIE), ["SRV=b; path=/"]);
    assert_eq!(values(&res, CACHE_CONTROL), ["max-age=60", "private"]);
    // A server without a cookie value clears the client's.
    let mut res = HeaderMap::new();
    let _ = p.on_response(&mut res, &none, Bent::No, &answer(2, false, &Method::POST, 200, 0));
    assert_eq!(
        values(&res, SET_COOKIE),
        ["SRV=; Expires=Thu, 01-Jan-1970 00:00:01 GMT; path=/"]
    );
    // The client already has the right one: nothing.
    let mut res = HeaderMap::new();
    let (set, _) = p.on_response(&mut res, &none, Bent::No, &answer(1, true, &Method::GET, 200, 0));
    assert_eq!((set, res.len()), (Set::None, 0));
}

#[test]
fn dates_read_back_and_stale_cookies_are_ignored() {
    // HAProxy wrote "axZge" for a date in December 2026.
    let t = date(b"axZge");
    assert!((1_796_000_000..1_800_000_000).contains(&t), "{t}");
    assert_eq!(date(date_text(t >> 2).as_bytes()), t);
    assert_eq!(date(b"ab"), 0);
    assert_eq!(date(b"a*Zge"), 0);
    let mut p = persist(CookieMode::Insert, false);
    (p.maxidle, p.maxlife) = (3600, 86_400);
    let now = t + 100;
    let fresh = format!("SRV=a|{}|{}", date_text(t >> 2), date_text(t >> 2));
    let r = p.on_request(&mut cookies(&[&fresh]), (Bent::No, false), now, |_| Some(true), false);
    assert_eq!((r.seen, r.server), (Seen::Valid, Some(0)));
    let r = p.on_request(
        &mut cookies(&[&fresh]),
        (Bent::No, false),
        t + 7200,
        |_| Some(true),
        false,
    );
    assert_eq!((r.seen, r.server), (Seen::Expired, None));
    let r = p.on_request(
        &mut cookies(&[&fresh]),
        (Bent::No, false),
        t + 90_000,
        |_| Some(true),
        false,
    );
    assert_eq!(r.seen, Seen::Old);
    // A fresh cookie is refreshed when its date is behind: the first date stays.
    let mut res = HeaderMap::new();
    let r = p.on_request(&mut cookies(&[&fresh]), (Bent::No, false), now, |_| Some(true), false);
    let (set, _) = p.on_response(&mut res, &r, Bent::No, &answer(0, true, &Method::GET, 200, now));
    assert_eq!(set, Set::Updated);
    let v = values(&res, SET_COOKIE)[0];
    assert!(v.ends_with(&format!("|{}; path=/", date_text(t >> 2))), "{v}");
}

#[test]
fn cacheability_follows_haproxy() {
    let h = |pairs: &[(&'static str, &'static str)]| {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.append(*k, HeaderValue::from_static(v));
        }
        m
    };
    let get = &Method::GET;
    assert_eq!(
        cacheability(get, 200, &h(&[("cache-control", "max-age=5")])),
        (true, true)
    );
    assert_eq!(
        cacheability(get, 200, &h(&[])),
        (false, false),
        "no lifetime, no validator"
    );
    assert_eq!(cacheability(get, 200, &h(&[("etag", "x")])), (true, true));
    assert_eq!(cacheability(&Method::POST, 200, &h(&[("etag", "x")])), (false, false));
    assert_eq!(cacheability(get, 302, &h(&[("etag", "x")])), (false, false));
    assert_eq!(
        cacheability(get, 302, &h(&[("cache-control", "public, max-age=5")])),
        (true, true)
    );
    assert_eq!(
        cacheability(get, 200, &h(&[("cache-control", "max-age=5, no-cache=\"set-cookie\"")])),
        (true, false)
    );
    assert_eq!(
        cacheability(get, 200, &h(&[("etag", "x"), ("pragma", "no-cache")])),
        (false, false)
    );
    let mut m = h(&[("set-cookie", "a=b"), ("cache-control", "public, max-age=9")]);
    assert!(cacheable_cookie(get, 200, &m).is_err());
    m.append(CACHE_CONTROL, HeaderValue::from_static("private"));
    assert!(cacheable_cookie(get, 200, &m).is_ok());
}
