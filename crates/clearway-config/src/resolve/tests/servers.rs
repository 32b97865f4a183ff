//! Servers and how traffic reaches them: PROXY protocol, balance algorithms, agent and
//! protocol checks, `track`.

use super::*;

#[test]
fn proxy_protocol_keywords() {
    use crate::rules::TcpAction;
    let l = ok(&format!(
        "{POLICY_BASE}frontend g\n bind 127.0.0.1:8001 accept-proxy\n \
         tcp-request connection expect-proxy layer4 if {{ src 10.0.0.0/8 }}\n tcp-request session reject if {{ src 192.0.2.1 }}\n \
         default_backend b\n\
         backend b\n default-server send-proxy-v2 check-send-proxy\n server a 127.0.0.1:1\n \
         server b 127.0.0.1:2 no-send-proxy-v2 send-proxy no-check-send-proxy\n \
         server c 127.0.0.1:3 send-proxy-v2-ssl-cn proxy-v2-options crc32c,authority,ssl-cipher\n"
    ));
    let g = l.config.frontend("g").unwrap();
    assert!(g.binds[0].accept_proxy);
    assert!(!l.config.frontend("f").unwrap().binds[0].accept_proxy);
    assert_eq!(g.tcp_rules.connection[0].action, TcpAction::ExpectProxy);
    assert!(g.tcp_rules.connection[0].condition.is_some());
    assert_eq!(g.tcp_rules.session[0].action, TcpAction::Reject);
    let b = l.config.backend("b").unwrap();
    let (a, bb, c) = (&b.servers[0], &b.servers[1], &b.servers[2]);
    assert!(a.send_proxy.v2 && !a.send_proxy.v1 && a.check.send_proxy);
    assert!(bb.send_proxy.v1 && !bb.send_proxy.v2 && !bb.check.send_proxy);
    let p = c.send_proxy;
    assert!(p.v2 && p.v2_ssl && p.v2_ssl_cn && p.v2_crc32c && p.v2_authority && p.v2_ssl_cipher);
    // What Clearway cannot send, and words out of place: errors with their line.
    for (line, needle) in [
        (
            " tcp-request content expect-proxy layer4\n",
            "a 'tcp-request connection' action",
        ),
        (
            " tcp-request session expect-proxy layer4\n",
            "a 'tcp-request connection' action",
        ),
        (" tcp-request connection expect-proxy\n", "'expect-proxy layer4'"),
        (" tcp-request connection expect-prxy layer4\n", "not supported yet"),
    ] {
        let e = refused(&format!("{POLICY_BASE}frontend g\n bind 127.0.0.1:8001\n{line} default_backend b\nbackend b\n server a 127.0.0.1:1\n"));
        assert!(e[0].message.contains(needle) && e[0].span.line == 11, "{line}: {e:?}");
    }
    let e = refused(&format!(
        "{POLICY_BASE}backend b\n server a 127.0.0.1:1 send-proxy-v2 proxy-v2-options ssl,cert-sig\n"
    ));
    assert!(
        e[0].message.contains("'proxy-v2-options cert-sig' is not supported"),
        "{e:?}"
    );
    let e = refused(&format!(
        "{POLICY_BASE}backend b\n server a 127.0.0.1:1 send-proxy-v2 proxy-v2-options crc32\n"
    ));
    assert_eq!(e[0].hint.as_deref(), Some("did you mean 'crc32c'?"), "{e:?}");
}

#[test]
fn balance_random_and_a_bare_balance() {
    let l = ok(&format!(
        "{POLICY_BASE}backend b\n balance random\n server s 127.0.0.1:1\n\
         backend c\n balance random(5)\n server s 127.0.0.1:1\nbackend d\n balance leastconn\n balance\n server s 127.0.0.1:1\n"
    ));
    assert_eq!(l.config.backend("b").unwrap().balance, Balance::Random { draws: 2 });
    assert_eq!(l.config.backend("c").unwrap().balance, Balance::Random { draws: 5 });
    // As HAProxy: `balance` alone is roundrobin.
    assert_eq!(l.config.backend("d").unwrap().balance, Balance::RoundRobin);
    // hash-type: the method is acted on; Clearway's hash is its own, so a function is refused.
    let l = ok(&format!(
        "{POLICY_BASE}backend b\n balance source\n hash-type consistent\n server s 127.0.0.1:1\n\
         backend c\n balance source\n hash-type map-based\n server s 127.0.0.1:1\n"
    ));
    assert_eq!(
        l.config.backend("b").unwrap().hash_type,
        crate::model::HashType::Consistent
    );
    assert_eq!(
        l.config.backend("c").unwrap().hash_type,
        crate::model::HashType::MapBased
    );
    for f in ["consistent sdbm avalanche", "map-based djb2", "map-based avalanche"] {
        let e = refused(&format!(
            "{POLICY_BASE}backend b\n hash-type {f}\n server s 127.0.0.1:1\n"
        ));
        assert!(e[0].message.contains("not supported by Clearway"), "{f}: {e:?}");
        assert_eq!(
            e[0].hint.as_deref(),
            Some("remove it, or run without it: 'ignore-unsupported hash-type' in the global section"),
            "{f}"
        );
    }
    for (bad, hint) in [
        ("consistant", "consistent"),
        ("consistent sdbn", "sdbm"),
        ("map-based crc32 avalanche x", ""),
    ] {
        let e = refused(&format!(
            "{POLICY_BASE}backend b\n hash-type {bad}\n server s 127.0.0.1:1\n"
        ));
        assert!(e[0].message.contains("'hash-type"), "{bad}: {e:?}");
        if !hint.is_empty() {
            assert_eq!(
                e[0].hint.as_deref(),
                Some(format!("did you mean '{hint}'?").as_str()),
                "{bad}"
            );
        }
    }
    for bad in ["random(0)", "random(x)", "random(2"] {
        let e = refused(&format!(
            "{POLICY_BASE}backend b\n balance {bad}\n server s 127.0.0.1:1\n"
        ));
        assert!(e[0].message.contains("expected random(N)"), "{bad}: {e:?}");
    }
}

#[test]
fn agent_checks_need_a_port() {
    let l = ok(&format!(
        "{POLICY_BASE}backend b\n server s 127.0.0.1:1 agent-check agent-port 9999 agent-inter 500ms agent-addr 127.0.0.2 agent-send \"ping\\n\"\n"
    ));
    let a = &l.config.backend("b").unwrap().servers[0].agent;
    assert!(a.enabled);
    assert_eq!((a.port, a.inter), (Some(9999), Duration::from_millis(500)));
    assert_eq!(a.send, b"ping\n");
    let e = refused(&format!("{POLICY_BASE}backend b\n server s 127.0.0.1:1 agent-check\n"));
    assert!(e[0].message.contains("needs 'agent-port'"), "{e:?}");
}

#[test]
fn request_hash_algorithms_and_their_options() {
    use crate::model::Balance;
    let l = ok(&format!(
        "{POLICY_BASE}backend a\n mode http\n balance uri whole len 10 depth 2 path-only\n server s 127.0.0.1:1\n\
         backend b\n mode http\n balance url_param session_id\n server s 127.0.0.1:1\n\
         backend c\n mode http\n balance hdr(X-Tenant)\n server s 127.0.0.1:1\n"
    ));
    assert_eq!(
        l.config.backend("a").unwrap().balance,
        Balance::Uri {
            whole: true,
            len: Some(10),
            depth: Some(2),
            path_only: true
        }
    );
    assert_eq!(
        l.config.backend("b").unwrap().balance,
        Balance::UrlParam {
            name: "session_id".into()
        }
    );
    assert_eq!(
        l.config.backend("c").unwrap().balance,
        Balance::Hdr {
            name: "x-tenant".into(),
            domain_only: false
        }
    );
    // In mode tcp there is no request: round robin, with a warning, as HAProxy.
    let l = ok(&format!(
        "{POLICY_BASE}backend b\n server s 127.0.0.1:1\nbackend t\n balance uri\n server s 127.0.0.1:1\n"
    ));
    assert_eq!(l.config.backend("t").unwrap().balance, Balance::RoundRobin);
    assert!(
        l.warnings.iter().any(|w| w.message.contains("needs 'mode http'")),
        "{:?}",
        l.warnings
    );
    for bad in [
        "balance uri depth 0",
        "balance uri deep 2",
        "balance url_param",
        "balance url_param u check_post",
        "balance hdr()",
        "balance rdp-cookie",
    ] {
        let e = refused(&format!(
            "{POLICY_BASE}backend b\n mode http\n {bad}\n server s 127.0.0.1:1\n"
        ));
        assert!(!e.is_empty(), "{bad}");
    }
}

#[test]
fn smtp_and_ldap_check_options() {
    use crate::model::CheckKind;
    let kind = |line: &str| {
        let l = ok(&format!(
            "{POLICY_BASE}backend b\n {line}\n server s 127.0.0.1:1 check\n"
        ));
        l.config.backend("b").unwrap().options.check.clone()
    };
    let smtp = |h: &str| CheckKind::Smtp { hello: h.into() };
    assert_eq!(kind("option smtpchk"), smtp("HELO localhost"));
    assert_eq!(kind("option smtpchk EHLO mx.example.com"), smtp("EHLO mx.example.com"));
    // As HAProxy: anything but HELO/EHLO with a domain is the default.
    assert_eq!(kind("option smtpchk HELLO x"), smtp("HELO localhost"));
    assert_eq!(kind("option smtpchk EHLO"), smtp("HELO localhost"));
    assert_eq!(kind("option ldap-check"), CheckKind::Ldap);
}

#[test]
fn track_rules_are_haproxys() {
    let base =
        |lines: &str| format!("{POLICY_BASE}backend b\n server s 127.0.0.1:1 check\n server u 127.0.0.1:2\n{lines}");
    let l = ok(&base(
        "backend c\n server t 127.0.0.1:1 track b/s\n server v 127.0.0.1:1 track t\n",
    ));
    let c = l.config.backend("c").unwrap();
    assert_eq!(c.servers[0].track, Some((Some("b".into()), "s".into())));
    assert_eq!(c.servers[1].track, Some((None, "t".into())));
    for (lines, want) in [
        (
            "backend c\n server t 127.0.0.1:1 track b/s check\n",
            "cannot be used together",
        ),
        ("backend c\n server t 127.0.0.1:1 track b/nope\n", "no such server"),
        ("backend c\n server t 127.0.0.1:1 track b/u\n", "has no health checks"),
        (
            "backend c\n server t 127.0.0.1:1 track v\n server v 127.0.0.1:1 track t\n",
            "loops",
        ),
    ] {
        let e = refused(&base(lines));
        assert!(e.iter().any(|d| d.message.contains(want)), "{lines}: {e:?}");
    }
}

#[test]
fn use_server_minconn_fullconn_and_proxy_ids() {
    let l = ok(
        "backend b\n fullconn 40\n option persist\n use-server s2 if { src 10.0.0.0/8 }\n \
                force-persist unless { src 192.0.2.1 }\n server s1 192.0.2.1:1 minconn 5\n \
                server s2 192.0.2.2:1 minconn 2 maxconn 10\n server s3 192.0.2.3:1 maxconn 7\n",
    );
    let b = l.config.backend("b").unwrap();
    assert_eq!(b.fullconn, Some(40));
    assert!(b.options.persist);
    assert_eq!(
        (b.use_servers.len(), b.use_servers[0].server),
        (1, 1),
        "s2 is declared after the rule"
    );
    assert!(b.persist_rules[0].force && b.persist_rules[0].condition.unless);
    // HAProxy's reading: a lone minconn is the maxconn too; no minconn is the maxconn.
    let limits: Vec<(u32, u32)> = b.servers.iter().map(|s| (s.minconn, s.maxconn)).collect();
    assert_eq!(limits, [(5, 5), (2, 10), (7, 7)]);
    for (cfg, needle) in [
        (
            "backend b\n use-server s9 if TRUE\n server s1 192.0.2.1:1\n",
            "has no server named 's9'",
        ),
        (
            "backend b\n use-server s1\n server s1 192.0.2.1:1\n",
            "requires 'if' or 'unless'",
        ),
        (
            "backend b\n use-server %[req.hdr(x)] if TRUE\n server s1 192.0.2.1:1\n",
            "not supported yet",
        ),
        (
            "defaults\n force-persist if TRUE\n",
            "not allowed in a 'defaults' section",
        ),
    ] {
        let e = crate::parse_str("t.cfg", cfg).unwrap_err().to_string();
        assert!(e.contains(needle) && e.contains("t.cfg:"), "{cfg}: {e}");
    }
}

#[test]
fn dispatch_is_a_hidden_server_or_ignored_in_balance_mode() {
    let l = ok("backend a\n dispatch 192.0.2.1:80\nbackend b\n balance roundrobin\n dispatch 192.0.2.1:80\n server s 192.0.2.2:80\n");
    let a = &l.config.backend("a").unwrap().servers;
    assert_eq!((a.len(), a[0].name.as_str(), a[0].hidden), (1, "<NOSRV>", true));
    assert_eq!(l.config.backend("b").unwrap().servers.len(), 1);
    assert!(
        l.warnings.iter().any(|w| w.message.contains("ignored in balance mode")),
        "{:?}",
        l.warnings
    );
}

#[test]
fn cookie_persistence_lines_as_haproxy_reads_them() {
    use crate::model::CookieMode;
    let l = ok(
        "defaults\n mode http\n cookie SRV insert indirect nocache httponly secure domain .a.test domain .b.test \
                maxidle 30m maxlife 1d attr SameSite=Lax\n\
                backend b\n ignore-persist if { path_beg /static }\n server s1 192.0.2.1:80 cookie one\n\
                backend c\n cookie JSESSIONID prefix\n default-server cookie x\n server s1 192.0.2.1:80\n\
                backend t\n mode tcp\n server s1 192.0.2.1:80 cookie one\n",
    );
    let b = l.config.backend("b").unwrap();
    let c = b.cookie.as_ref().expect("inherited from the defaults");
    assert_eq!((c.name.as_str(), c.mode), ("SRV", CookieMode::Insert));
    assert!(c.indirect && c.nocache && c.httponly && c.secure && !c.preserve && !c.postonly);
    assert_eq!(c.domains, [".a.test", ".b.test"]);
    assert_eq!((c.maxidle, c.maxlife), (1800, 86_400));
    assert_eq!(c.attrs, ["SameSite=Lax"]);
    assert!(!b.persist_rules[0].force);
    assert_eq!(b.servers[0].cookie.as_deref(), Some("one"));
    let c = l.config.backend("c").unwrap();
    assert_eq!(c.cookie.as_ref().map(|c| c.mode), Some(CookieMode::Prefix));
    assert_eq!(c.servers[0].cookie.as_deref(), Some("x"));
    // In mode tcp it does nothing, as in HAProxy, which warns too.
    assert!(l.config.backend("t").unwrap().cookie.is_none());
    assert!(
        l.warnings
            .iter()
            .any(|w| w.message.contains("'cookie' needs 'mode http'")),
        "{:?}",
        l.warnings
    );
    for (line, needle) in [
        ("cookie", "expects a cookie name"),
        ("cookie S insert rewrite", "modes are incompatible"),
        (
            "cookie S rewrite indirect",
            "'rewrite' and 'indirect' modes are incompatible",
        ),
        ("cookie S preserve", "requires at least 'insert' or 'indirect'"),
        ("cookie S insert dynamic", "not supported by Clearway yet"),
        ("cookie S insert domain a/b", "not permitted in domain name"),
        ("cookie S insert maxidle soon", "expects a time"),
        ("cookie S insert bogus", "unknown 'cookie' option 'bogus'"),
        ("ignore-persist", "requires 'if' or 'unless'"),
    ] {
        let cfg = format!("backend b\n mode http\n {line}\n server s1 192.0.2.1:80\n");
        let e = crate::parse_str("t.cfg", &cfg).unwrap_err().to_string();
        assert!(e.contains(needle) && e.contains("t.cfg:3"), "{line}: {e}");
    }
}

#[test]
fn option_transparent_is_a_server_of_no_name_at_the_original_destination() {
    let l = ok("backend b\n option transparent\n");
    let s = &l.config.backend("b").unwrap().servers;
    assert_eq!(s.len(), 1);
    assert!(s[0].hidden && matches!(s[0].host, crate::model::Host::Ip(a) if a.is_unspecified()));
    // A stopped backend has no server, not even one of no name.
    for line in ["dispatch 192.0.2.1:80", "option transparent"] {
        let l = ok(&format!("backend b\n disabled\n {line}\n"));
        assert!(l.config.backend("b").unwrap().servers.is_empty(), "{line}");
    }
    // A dispatch address wins, as in HAProxy.
    let l = ok("backend b\n option transparent\n dispatch 192.0.2.1:80\n");
    let s = &l.config.backend("b").unwrap().servers;
    assert!(matches!(s[0].host, crate::model::Host::Ip(a) if !a.is_unspecified()));
    for (cfg, needle) in [
        (
            "backend b\n balance roundrobin\n option transparent\n server s 192.0.2.1:80\n",
            "cannot use both transparent and balance mode",
        ),
        (
            "backend b\n option transparent\n server s 192.0.2.1:80\n",
            "'option transparent' beside 'server' lines",
        ),
    ] {
        let e = crate::parse_str("t.cfg", cfg).unwrap_err().to_string();
        assert!(e.contains(needle), "{cfg}: {e}");
    }
}
