use crate::model::{Balance, Mode, UseSrc};
use crate::parse_str;
use std::time::Duration;

fn ok(text: &str) -> crate::Loaded {
    parse_str("t.cfg", text).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn last_defaults_apply_and_named_defaults_with_from() {
    let l = ok(
        "defaults tcpd\n mode tcp\n timeout connect 1s\n timeout client 2s\n timeout server 3s\n balance leastconn\n\
                defaults\n mode http\n timeout client 9s\n\
                backend a from tcpd\n server s 192.0.2.1:1\n\
                backend b\n server s 192.0.2.1:1\n",
    );
    let a = l.config.backend("a").unwrap();
    assert_eq!(
        (a.mode, a.balance.clone(), a.timeouts.connect),
        (Mode::Tcp, Balance::LeastConn, Some(Duration::from_secs(1)))
    );
    let b = l.config.backend("b").unwrap();
    assert_eq!(
        (b.mode, b.balance.clone(), b.timeouts.client),
        (Mode::Http, Balance::RoundRobin, Some(Duration::from_secs(9)))
    );
    assert_eq!(b.retries, 3, "HAProxy's default");
}

#[test]
fn listen_is_a_frontend_and_a_backend() {
    let l = ok("listen db\n bind 192.0.2.1:3306\n maxconn 10\n server s1 198.51.100.10:3306\n");
    let f = l.config.frontend("db").unwrap();
    assert!(f.from_listen);
    assert_eq!(f.default_backend.as_deref(), Some("db"));
    assert_eq!(f.maxconn, Some(10));
    assert_eq!(l.config.backend("db").unwrap().servers.len(), 1);
}

#[test]
fn backend_source_is_copied_to_servers_without_their_own() {
    let l = ok("backend bk\n source 0.0.0.0 usesrc clientip\n server a 198.51.100.10:80\n server b 198.51.100.11:80 source 0.0.0.0 usesrc client\n");
    let b = l.config.backend("bk").unwrap();
    assert_eq!(b.servers[0].source.as_ref().unwrap().usesrc, Some(UseSrc::ClientIp));
    assert_eq!(b.servers[1].source.as_ref().unwrap().usesrc, Some(UseSrc::Client));
    assert_eq!(b.servers[0].source.as_ref().unwrap().span.line, 2);
}

#[test]
fn default_server_is_a_template() {
    let l = ok("backend bk\n default-server maxconn 7 weight 3\n server a 198.51.100.10:80\n server b 198.51.100.11:80 weight 1\n");
    let s = &l.config.backend("bk").unwrap().servers;
    assert_eq!((s[0].maxconn, s[0].weight, s[1].maxconn, s[1].weight), (7, 3, 7, 1));
}

#[test]
fn wrong_side_keywords_warn_and_missing_timeouts_warn() {
    let l = ok("frontend ft\n bind :80\n timeout server 5s\n balance roundrobin\n default_backend bk\nbackend bk\n server a 198.51.100.10:80\n");
    let w: Vec<String> = l.warnings.iter().map(|d| d.to_string()).collect();
    assert!(
        w.iter()
            .any(|m| m.starts_with("t.cfg:3:") && m.contains("no backend side")),
        "{w:?}"
    );
    assert!(
        w.iter()
            .any(|m| m.starts_with("t.cfg:4:") && m.contains("no backend side")),
        "{w:?}"
    );
    assert!(w.iter().any(|m| m.contains("has no 'timeout client'")), "{w:?}");
}

#[test]
fn errors_are_all_reported_with_lines() {
    let e = parse_str("t.cfg", "backend bk\n balanse roundrobin\n server a\n retries x\n").unwrap_err();
    let lines: Vec<u32> = e.errors.iter().map(|d| d.span.line).collect();
    assert_eq!(lines, [2, 3, 4], "{e}");
}

#[test]
fn env_variables_expand_in_double_quotes() {
    let env = |n: &str| (n == "VIP").then(|| "203.0.113.80".to_string());
    let l = crate::parse_texts(
        &[("t.cfg".into(), "frontend ft\n bind \"${VIP}:80\" transparent\n".into())],
        &env,
    )
    .unwrap();
    let b = &l.config.frontend("ft").unwrap().binds[0];
    assert_eq!(b.addrs, ["203.0.113.80:80".parse().unwrap()]);
    assert!(b.transparent);
}

#[test]
fn env_variables_expand_in_addresses_even_unquoted_as_haproxy_does() {
    let env = |n: &str| match n {
        "VIP" => Some("203.0.113.80".to_string()),
        "PORT" => Some("8080".to_string()),
        _ => None,
    };
    let l = crate::parse_texts(
        &[(
            "t.cfg".into(),
            "frontend ft\n bind ${VIP}:${PORT}\n http-request set-header X-Raw ${VIP}\n default_backend b\n\
             backend b\n mode tcp\n log ${UNSET}:${UNSET} local0\n server s ${VIP}:${PORT}\n"
                .into(),
        )],
        &env,
    )
    .unwrap();
    let f = l.config.frontend("ft").unwrap();
    assert_eq!(f.binds[0].addrs, ["203.0.113.80:8080".parse().unwrap()]);
    let b = l.config.backend("b").unwrap();
    assert_eq!(
        (&b.servers[0].host, b.servers[0].port),
        (
            &crate::model::Host::Ip("203.0.113.80".parse().unwrap()),
            crate::model::ServerPort::Fixed(8080)
        )
    );
    // An unset variable is empty: no host is any address, no port the default one.
    assert!(format!("{:?}", b.logs[0]).contains("0.0.0.0:514"), "{:?}", b.logs[0]);
    // Elsewhere, unquoted, it stays as written (HAProxy expands only in double quotes).
    let rule = format!("{:?}", f.http.request_rules[0]);
    assert!(rule.contains("${VIP}"), "{rule}");
}

#[test]
fn use_backend_without_condition_and_with_condition() {
    let l = ok("frontend ft\n bind :80\n use_backend b if { src 192.0.2.0/24 }\n use_backend a\nbackend a\n server s 192.0.2.1:1\nbackend b\n server s 192.0.2.1:1\n");
    let f = l.config.frontend("ft").unwrap();
    assert_eq!(f.use_backends.len(), 2);
    assert!(f.use_backends[0].condition.is_some() && f.use_backends[1].condition.is_none());
    let cond = f.use_backends[0].condition.as_ref().unwrap();
    assert_eq!(cond.any_of[0][0].tests[0].patterns, vec!["192.0.2.0/24"]);
}

#[test]
fn http_rules_and_connection_modes() {
    let l = ok(
        "defaults\n mode http\n option httpclose\nfrontend ft\n bind :80\n option http-server-close\n \
                acl api path_beg /api\n acl api hdr(host) -i api.example\n \
                http-request deny if { src 10.0.0.0/8 } !api\n http-request set-header X-Via %[dst]\n \
                redirect scheme https code 301 unless { ssl_fc }\n use_backend b if api\n default_backend b\n\
                backend b\n http-reuse never\n http-response del-header server\n server s 192.0.2.1:1\n",
    );
    let f = l.config.frontend("ft").unwrap();
    assert_eq!(f.http.conn_mode, crate::model::HttpConnMode::ServerClose);
    assert_eq!(f.http.request_rules.len(), 2);
    assert_eq!(f.http.redirects.len(), 1);
    let api = &f.use_backends[0].condition.as_ref().unwrap().any_of[0][0];
    assert_eq!(api.tests.len(), 2, "two lines of one ACL name");
    let b = l.config.backend("b").unwrap();
    assert_eq!(b.http.conn_mode, crate::model::HttpConnMode::Close);
    assert_eq!(b.http.reuse, crate::model::HttpReuse::Never);
    assert_eq!(b.http.response_rules.len(), 1);
}

#[test]
fn http_rule_errors_name_the_line() {
    for (cfg, want) in [
        (
            "frontend ft\n bind :80\n use_backend b if nope\nbackend b\n",
            "no ACL named 'nope'",
        ),
        (
            "frontend ft\n bind :80\n http-request set-heade X y\n",
            "did you mean 'set-header'?",
        ),
        (
            "frontend ft\n bind :80\n acl a path_bgn /x\n",
            "did you mean 'path_beg'?",
        ),
        (
            "frontend ft\n bind :80\n redirect scheme https code 304\n",
            "must be 301",
        ),
        (
            "frontend ft\n bind :80\n errorfile 503 /nonexistent/503.http\n",
            "cannot read",
        ),
        ("defaults\n acl a src 1.2.3.4\n", "not allowed in a 'defaults'"),
        (
            "backend b\n http-request set-timeout client 5s\n",
            "expects 'server' or 'tunnel'",
        ),
        ("backend b\n http-request wait-for-body 5s\n", "expects 'time T'"),
    ] {
        let e = crate::parse_str("t.cfg", cfg).unwrap_err().to_string();
        assert!(e.contains("t.cfg:") && e.contains(want), "{cfg}: {e}");
    }
}

#[test]
fn tcp_request_rules() {
    let l = ok("frontend ft\n bind :443\n tcp-request inspect-delay 5s\n \
                tcp-request content accept if { req.ssl_hello_type 1 }\n tcp-request content reject\n \
                tcp-request connection reject if { src 10.0.0.0/8 }\n");
    let f = l.config.frontend("ft").unwrap();
    assert_eq!(f.tcp_rules.inspect_delay, Some(std::time::Duration::from_secs(5)));
    assert_eq!(f.tcp_rules.content.len(), 2);
    use crate::rules::TcpAction;
    assert_eq!(f.tcp_rules.content[0].action, TcpAction::Accept);
    assert_eq!(f.tcp_rules.content[1].action, TcpAction::Reject);
    assert!(f.tcp_rules.content[1].condition.is_none());
    assert_eq!(f.tcp_rules.connection.len(), 1);
    let e = crate::parse_str("t.cfg", "frontend ft\n bind :1\n tcp-request content acept\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("t.cfg:3") && e.contains("did you mean 'accept'"), "{e}");
}

#[test]
fn tcp_response_rules_in_mode_http_run_on_the_head_only() {
    ok("backend b\n mode http\n tcp-response content set-var(txn.x) str(y)\n \
        tcp-response content reject if { var(txn.x) -m str z }\n server s 192.0.2.1:80\n");
    for (line, says) in [
        (
            "tcp-response content close",
            "'tcp-response content close' in 'mode http'",
        ),
        (
            "tcp-response content accept if { res.len gt 0 }",
            "reading 'res.len' or 'res.payload'",
        ),
        (
            "tcp-response content set-var(txn.x) res.payload(0,4)",
            "reading 'res.len' or 'res.payload'",
        ),
    ] {
        let e = crate::parse_str(
            "t.cfg",
            &format!("backend b\n mode http\n {line}\n server s 192.0.2.1:80\n"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("t.cfg:3") && e.contains(says), "{line}: {e}");
    }
}

#[test]
fn usesrc_hdr_ip_trust() {
    let l = ok("backend b\n mode http\n acl lb src 10.0.0.0/8\n source 0.0.0.0 usesrc hdr_ip(X-Forwarded-For) if lb\n server s 192.0.2.1:80\n");
    let b = l.config.backend("b").unwrap();
    match &b.servers[0].source.as_ref().unwrap().usesrc {
        Some(UseSrc::HdrIp { header, occ, trust }) => {
            assert_eq!((header.as_str(), *occ), ("x-forwarded-for", -1));
            assert!(trust.is_some());
        }
        other => panic!("{other:?}"),
    }
    let l = ok("backend b\n mode http\n source 0.0.0.0 usesrc hdr_ip(x-real-ip,1)\n server s 192.0.2.1:80\n");
    assert!(l.warnings.iter().any(|w| w.message.contains("no client is trusted")));
    let e = crate::parse_str(
        "t.cfg",
        "backend b\n acl a src 1.2.3.4\n source 0.0.0.0 usesrc clientip if a\n",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("t.cfg:3") && e.contains("only to 'usesrc hdr_ip"), "{e}");
}

#[test]
fn splice_settings_are_read_not_warned() {
    let l = ok("global\n maxpipes 128\n nosplice\n nbthread 2\n");
    let g = &l.config.global;
    assert_eq!((g.maxpipes, g.nosplice, g.nbthread), (Some(128), true, Some(2)));
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    let e = parse_str("t.cfg", "global\n maxpipes lots\n").unwrap_err().to_string();
    assert!(e.contains("t.cfg:2"), "{e}");
}

#[test]
fn option_splice_auto_is_what_clearway_does_anyway() {
    let l = ok("defaults\n mode tcp\n timeout connect 1s\n timeout server 1s\n option splice-auto\nbackend b\n server s 127.0.0.1:1\n");
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    let l = ok("defaults\n mode tcp\n no option splice-auto\nbackend b\n server s 127.0.0.1:1\n");
    assert!(
        l.warnings.iter().any(|w| w.message.contains("'nosplice'")),
        "{:?}",
        l.warnings
    );
}

#[test]
fn busy_polling_is_read_and_no_undoes_it() {
    let l = ok("global\n busy-polling\n");
    assert!(l.config.global.busy_polling);
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    let l = ok("global\n busy-polling\n no busy-polling\n");
    assert!(!l.config.global.busy_polling);
    let l = ok("global\n no strict-limits\n");
    assert!(
        l.notes.iter().any(|w| w.message.contains("'no strict-limits'")),
        "{:?}",
        l.notes
    );
    let l = ok("global\n log 127.0.0.1 local0\n no log\n");
    assert!(l.config.global.logs.is_empty());
    let e = parse_str("t.cfg", "global\n busy-polling on\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("t.cfg:2") && e.contains("unexpected 'on'"), "{e}");
    // HAProxy refuses 'no' before any other keyword, even one it knows.
    for line in ["no maxconn 10", "no quiet", "no busy-polling now"] {
        let e = parse_str("t.cfg", &format!("global\n {line}\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("t.cfg:2") && e.contains("only negates"), "{line}: {e}");
    }
}

#[test]
fn tcp_smart_accept_is_automatic_unless_written() {
    let smart = |text: &str| {
        let l = ok(text);
        let about_it = |w: &crate::Diagnostic| w.message.contains("smart-accept");
        assert!(!l.warnings.iter().any(about_it), "{:?}", l.warnings);
        let f = &l.config.frontends[0];
        (f.smart_accept(false), f.smart_accept(true))
    };
    // (plain bind, TLS bind)
    assert_eq!(smart("frontend f\n mode http\n bind :80\n"), (true, true));
    assert_eq!(smart("frontend f\n mode tcp\n bind :80\n"), (false, true));
    assert_eq!(
        smart("defaults\n mode http\n no option tcp-smart-accept\nfrontend f\n bind :80\n"),
        (false, false)
    );
    assert_eq!(
        smart("frontend f\n mode tcp\n option tcp-smart-accept\n bind :80\n"),
        (true, true)
    );
}

#[test]
fn tcp_smart_accept_in_a_backend_is_said_to_do_nothing() {
    let l = ok("backend b\n option tcp-smart-accept\n server s 127.0.0.1:1\n");
    assert!(
        l.warnings
            .iter()
            .any(|w| w.span.line == 2 && w.message.contains("ignored in backend 'b'")),
        "{:?}",
        l.warnings
    );
}

#[test]
fn tcp_smart_connect_is_off_unless_written_and_said_to_do_nothing_in_a_frontend() {
    let l = ok(
        "defaults\n option tcp-smart-connect\nbackend a\n server s 127.0.0.1:1\n\
                backend b\n no option tcp-smart-connect\n server s 127.0.0.1:1\n\
                backend c\n server s 127.0.0.1:1\n",
    );
    assert!(
        !l.warnings.iter().any(|w| w.message.contains("smart-connect")),
        "{:?}",
        l.warnings
    );
    let on: Vec<bool> = l.config.backends.iter().map(|b| b.options.smart_connect).collect();
    assert_eq!(on, [true, false, true]);
    assert!(
        !ok("backend c\n server s 127.0.0.1:1\n").config.backends[0]
            .options
            .smart_connect
    );
    let l = ok("frontend f\n bind :80\n option tcp-smart-connect\n");
    assert!(
        l.warnings
            .iter()
            .any(|w| w.span.line == 3 && w.message.contains("ignored in frontend 'f'")),
        "{:?}",
        l.warnings
    );
}

#[test]
fn defer_accept_is_a_bind_setting_acted_on() {
    let l = ok("frontend f\n bind :80 defer-accept\n bind :81\n");
    assert!(
        !l.warnings.iter().any(|w| w.message.contains("defer-accept")),
        "{:?}",
        l.warnings
    );
    let on: Vec<bool> = l.config.frontends[0].binds.iter().map(|b| b.defer_accept).collect();
    assert_eq!(on, [true, false]);
}

#[test]
fn stats_pages_are_inherited_and_what_cannot_be_honoured_is_refused() {
    // From defaults to every proxy; the backend half of a listen has none (it runs once).
    let l = ok("defaults\n mode http\n stats enable\n stats uri /s\n\
                listen web\n bind 192.0.2.1:80\n server s 198.51.100.10:80\n\
                frontend tcpfe\n mode tcp\n bind 192.0.2.1:81\n default_backend web2\n\
                backend web2\n mode tcp\n server s 198.51.100.10:80\n");
    assert_eq!(l.config.frontend("web").unwrap().http.stats.as_ref().unwrap().uri, "/s");
    assert!(l.config.backend("web").unwrap().http.stats.is_none());
    // A tcp proxy has no page: said so, as HAProxy does.
    assert!(l.config.frontend("tcpfe").unwrap().http.stats.is_none());
    assert!(l
        .warnings
        .iter()
        .any(|w| w.message.contains("'stats' needs 'mode http'")));
    for (text, says, line) in [
        (
            "listen s\n mode http\n bind :1\n stats auth a:b\n stats http-request deny\n",
            "cannot be used together",
            5,
        ),
        (
            "defaults\n mode http\n stats admin if TRUE\n",
            "not allowed in a 'defaults'",
            3,
        ),
        (
            "frontend f\n mode http\n bind :1\n http-request use-service lua.hello\n",
            "unknown service",
            4,
        ),
    ] {
        let e = parse_str("t.cfg", text).unwrap_err();
        assert!(
            e.errors.iter().any(|d| d.message.contains(says) && d.span.line == line),
            "{text}: {e}"
        );
    }
    let l =
        ok("frontend f\n mode http\n bind :1\n http-request use-service prometheus-exporter if { path /metrics }\n");
    let rule = &l.config.frontend("f").unwrap().http.request_rules[0];
    assert_eq!(
        rule.action,
        crate::rules::HttpAction::UseService(crate::rules::Service::PrometheusExporter)
    );
}

#[test]
fn socket_stats_and_listener_ids() {
    let l = ok("defaults\n option socket-stats\n\
                frontend a\n bind :80 id 4\n bind :81,:82 name pair\n\
                frontend b\n no option socket-stats\n bind :83\n");
    let a = l.config.frontend("a").unwrap();
    assert!(a.options.socket_stats, "inherited from defaults");
    assert!(!l.config.frontend("b").unwrap().options.socket_stats);
    let ids: Vec<Option<u32>> = a.binds.iter().map(|b| b.id).collect();
    assert_eq!(ids, [Some(4), None]);
    assert!(
        !l.warnings.iter().any(|w| w.message.contains("socket-stats")),
        "{:?}",
        l.warnings
    );
    // As HAProxy: an id names one socket, once per frontend, and is above 0.
    for (text, says) in [
        ("frontend f\n bind :80,:81 id 3\n", "single socket"),
        (
            "frontend f\n bind :80 id 3\n bind :81 id 3\n",
            "already used at t.cfg:2",
        ),
        ("frontend f\n bind :80 id 0\n", "above 0"),
    ] {
        let e = parse_str("t.cfg", text).unwrap_err();
        assert!(e.to_string().contains(says), "{text}: {e}");
    }
}

#[test]
fn header_captures_belong_to_frontends() {
    let l = ok("frontend f\n bind :80\n capture request header Host len 32\n\
                capture response header Content-Type len 10\n capture request header X-Id len 8\n\
                backend b\n capture request header Host len 3\n server s 192.0.2.1:80\n");
    let c = &l.config.frontend("f").unwrap().captures;
    assert_eq!(c.request, [("Host".to_string(), 32), ("X-Id".to_string(), 8)]);
    assert_eq!(c.response, [("Content-Type".to_string(), 10)]);
    let two = ok("frontend f\n bind :80\n capture cookie SID len 20\n capture cookie JSESSIONID= len 70\n");
    let c = &two.config.frontend("f").unwrap().captures;
    assert_eq!(
        c.cookie,
        Some(("JSESSIONID=".to_string(), 70)),
        "the last one, as HAProxy"
    );
    assert!(
        two.warnings
            .iter()
            .any(|w| w.span.line == 4 && w.message.contains("replaces")),
        "{:?}",
        two.warnings
    );
    // A backend has no log line of its own to carry them: ignored with a word, as HAProxy.
    assert!(
        l.warnings
            .iter()
            .any(|w| w.span.line == 7 && w.message.contains("'capture' ignored")),
        "{:?}",
        l.warnings
    );
    for (text, says) in [
        (
            "defaults\n capture request header Host len 3\n",
            "not allowed in a 'defaults' section",
        ),
        ("frontend f\n capture request header Host\n", "'capture' expects"),
        (
            "frontend f\n capture request header Ho(st len 3\n",
            "not a valid header name",
        ),
        ("frontend f\n capture response header Host len 0\n", "above 0"),
    ] {
        let e = parse_str("t.cfg", text).unwrap_err();
        assert!(e.to_string().contains(says), "{text}: {e}");
    }
}

/// The errors of a config that must not load.
fn refused(text: &str) -> Vec<crate::Diagnostic> {
    match parse_str("t.cfg", text) {
        Ok(_) => panic!("loaded: {text}"),
        Err(e) => e.errors,
    }
}

const POLICY_BASE: &str = "defaults\n mode tcp\n timeout connect 1s\n timeout client 1s\n timeout server 1s\n\
                           frontend f\n bind 127.0.0.1:8000\n default_backend b\n";

#[test]
fn what_would_change_traffic_is_refused_unless_the_operator_opts_out() {
    // A server parameter, a proxy keyword, an option: each names its line and the way out.
    for (line, key) in [
        ("backend b\n server s 127.0.0.1:1 redir http://example.com\n", "redir"),
        (
            "backend b\n http-send-name-header X-Srv\n server s 127.0.0.1:1\n",
            "http-send-name-header",
        ),
        ("backend b\n option nolinger\n server s 127.0.0.1:1\n", "nolinger"),
        (
            "backend b\n option spop-check\n server s 127.0.0.1:1 check\n",
            "spop-check",
        ),
        ("backend b\n dispatch 127.0.0.1:80\n server s 127.0.0.1:1\n", "dispatch"),
    ] {
        let text = format!("{POLICY_BASE}{line}");
        let e = refused(&text);
        assert_eq!(e.len(), 1, "{line}: {e:?}");
        assert_eq!(e[0].span.line, 10, "{line}: {e:?}");
        assert!(e[0].message.contains("not supported by Clearway"), "{line}: {e:?}");
        let hint = format!("remove it, or run without it: 'ignore-unsupported {key}' in the global section");
        assert_eq!(e[0].hint.as_deref(), Some(hint.as_str()), "{line}");
        // Opted out (the global section may come after): loads, with a warning that says so.
        let l = ok(&format!("{text}global\n ignore-unsupported {key}\n"));
        assert!(
            l.warnings
                .iter()
                .any(|w| w.message.contains("IGNORED") && w.span.line == 10),
            "{line}: {:?}",
            l.warnings
        );
    }
    // Without effect here: accepted, with a note (shown at -d), no warning.
    let l = ok(&format!(
        "{POLICY_BASE}backend b\n description db\n server s 127.0.0.1:1 tfo\n"
    ));
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    assert_eq!(l.notes.len(), 2, "{:?}", l.notes);
    // A word ignore-unsupported does not take: an error with the nearest one.
    let e = refused(&format!(
        "global\n ignore-unsupported rdeir\n{POLICY_BASE}backend b\n server s 127.0.0.1:1\n"
    ));
    assert_eq!(e[0].hint.as_deref(), Some("did you mean 'redir'?"), "{e:?}");
}

#[test]
fn tcp_keepalive_options_and_timers_reach_each_side() {
    let l = ok(&format!(
        "{POLICY_BASE}backend b\n option tcpka\n srvtcpka-idle 90s\n srvtcpka-intvl 5s\n srvtcpka-cnt 3\n server s 127.0.0.1:1\n"
    ));
    let b = l.config.backend("b").unwrap();
    assert!(b.options.srvtcpka);
    assert_eq!(
        b.options.srvtcpka_timers,
        crate::model::TcpKa {
            idle: Some(Duration::from_secs(90)),
            intvl: Some(Duration::from_secs(5)),
            cnt: Some(3)
        }
    );
    // HAProxy refuses the negation of `tcpka` (each side's has one).
    let e = refused(&format!(
        "{POLICY_BASE}backend b\n no option tcpka\n server s 127.0.0.1:1\n"
    ));
    assert!(e[0].message.contains("'no option tcpka' does not exist"), "{e:?}");
}

#[test]
fn tune_keywords_acted_on_or_noted() {
    let l = ok(&format!(
        "global\n tune.http.maxhdr 200\n{POLICY_BASE}backend b\n server s 127.0.0.1:1\n"
    ));
    assert_eq!(l.config.global.maxhdr, Some(200));
    for bad in ["0", "32768", "many"] {
        let e = refused(&format!(
            "global\n tune.http.maxhdr {bad}\n{POLICY_BASE}backend b\n server s 127.0.0.1:1\n"
        ));
        assert!(e[0].message.contains("expects a number from 1 to 32767"), "{e:?}");
    }
    let l = ok(&format!(
        "global\n tune.ssl.default-dh-param 2048\n{POLICY_BASE}backend b\n server s 127.0.0.1:1\n"
    ));
    assert!(
        l.warnings.is_empty() && l.notes.len() == 1,
        "{:?} {:?}",
        l.warnings,
        l.notes
    );
}

#[test]
fn tune_bufsize_and_maxrewrite_give_the_largest_request_head() {
    let head = |g: &str| {
        ok(&format!("global\n{g}{POLICY_BASE}backend b\n server s 127.0.0.1:1\n"))
            .config
            .global
            .max_request_head()
    };
    assert_eq!(head(""), 15360, "HAProxy's defaults");
    assert_eq!(head(" tune.bufsize 32k\n"), 32768 - 1024);
    assert_eq!(head(" tune.maxrewrite 8192\n"), 8192);
    assert_eq!(
        head(" tune.bufsize 4096\n tune.maxrewrite 3000\n"),
        2048,
        "at most half for rewrites"
    );
    let e = refused(&format!(
        "global\n tune.bufsize 100\n{POLICY_BASE}backend b\n server s 127.0.0.1:1\n"
    ));
    assert!(e[0].message.contains("too small"), "{e:?}");
    let e = refused(&format!(
        "global\n tune.maxrewrite\n{POLICY_BASE}backend b\n server s 127.0.0.1:1\n"
    ));
    assert!(e[0].message.contains("expects a size"), "{e:?}");
}

#[test]
fn spread_checks_and_max_spread_checks() {
    let g = ok(&format!(
        "global\n spread-checks 5\n max-spread-checks 2s\n{POLICY_BASE}backend b\n server s 127.0.0.1:1\n"
    ))
    .config
    .global;
    assert_eq!(
        (g.spread_checks, g.max_spread_checks),
        (5, Some(Duration::from_secs(2)))
    );
    let e = refused(&format!(
        "global\n spread-checks 60\n{POLICY_BASE}backend b\n server s 127.0.0.1:1\n"
    ));
    assert!(e[0].message.contains("at most 50"), "{e:?}");
}

#[test]
fn rate_limits() {
    let l = ok(&format!(
        "global\n maxconnrate 100\n maxsessrate 50\n{POLICY_BASE} rate-limit sessions 20\nbackend b\n server s 127.0.0.1:1\n"
    ));
    assert_eq!(
        (l.config.global.maxconnrate, l.config.global.maxsessrate),
        (Some(100), Some(50))
    );
    assert_eq!(l.config.frontend("f").unwrap().rate_limit_sessions, Some(20));
    let e = refused(&format!(
        "{POLICY_BASE} rate-limit connections 5\nbackend b\n server s 127.0.0.1:1\n"
    ));
    assert!(e[0].message.contains("expects 'sessions'"), "{e:?}");
}

#[test]
fn external_checks_need_the_global_permission_and_a_command() {
    let l = ok(&format!(
        "global\n external-check\n insecure-fork-wanted\n{POLICY_BASE}backend b\n option external-check\n \
         external-check command /bin/true\n external-check path /usr/bin\n server s 127.0.0.1:1 check\n"
    ));
    assert_eq!(
        l.config.backend("b").unwrap().options.check,
        crate::model::CheckKind::External {
            command: "/bin/true".into(),
            path: "/usr/bin".into()
        }
    );
    let e = refused(&format!(
        "{POLICY_BASE}backend b\n option external-check\n external-check command /bin/true\n server s 127.0.0.1:1 check\n"
    ));
    assert!(
        e[0].message.contains("needs 'external-check' in the global section"),
        "{e:?}"
    );
    let e = refused(&format!(
        "global\n external-check\n insecure-fork-wanted\n{POLICY_BASE}backend b\n option external-check\n server s 127.0.0.1:1\n"
    ));
    assert!(e[0].message.contains("needs 'external-check command'"), "{e:?}");
    // Without the right to fork, HAProxy's checks would fail: refused rather than different.
    let e = refused(&format!(
        "global\n external-check\n{POLICY_BASE}backend b\n option external-check\n external-check command /bin/true\n \
         server s 127.0.0.1:1\n"
    ));
    assert!(e[0].message.contains("needs 'insecure-fork-wanted'"), "{e:?}");
    ok(&format!(
        "global\n insecure-fork-wanted\n no insecure-fork-wanted\n{POLICY_BASE}backend b\n server s 127.0.0.1:1\n"
    ));
    let e = refused(&format!(
        "{POLICY_BASE}backend b\n external-check run /bin/true\n server s 127.0.0.1:1\n"
    ));
    assert!(
        e[0].message.contains("expects 'command PROGRAM' or 'path PATH'"),
        "{e:?}"
    );
}

#[test]
fn default_path_says_where_relative_files_are() {
    let dir = std::env::temp_dir().join(format!("cw-default-path-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("conf/errors")).unwrap();
    std::fs::create_dir_all(dir.join("errors")).unwrap();
    let page = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n";
    std::fs::write(dir.join("conf/errors/503.http"), page).unwrap();
    std::fs::write(dir.join("errors/503.http"), page).unwrap();
    let cfg = |policy: &str| {
        let file = dir.join("conf/lb.cfg");
        let text = format!(
            "global\n default-path {policy}\ndefaults\n mode http\n timeout connect 1s\n timeout client 1s\n \
             timeout server 1s\n errorfile 503 errors/503.http\nbackend b\n server s 127.0.0.1:1\n"
        );
        std::fs::write(&file, text).unwrap();
        crate::load(&[file])
    };
    // The file's directory, its parent, a given one: each has errors/503.http.
    assert!(cfg("config").is_ok(), "{:?}", cfg("config").err());
    assert!(cfg("parent").is_ok(), "{:?}", cfg("parent").err());
    assert!(cfg(&format!("origin {}", dir.display())).is_ok());
    // From the current directory (the tests run in the crate's), nothing is there.
    let e = cfg("current").unwrap_err();
    assert!(e.errors[0].message.contains("cannot read"), "{:?}", e.errors);
    let e = cfg("origin").unwrap_err();
    assert!(
        e.errors[0].message.contains("'origin' and a directory"),
        "{:?}",
        e.errors
    );
    let _ = std::fs::remove_dir_all(&dir);
}

mod dns;
mod rules;
mod servers;
mod tls;

#[test]
fn unique_ids_belong_to_frontends() {
    // Ignored in a backend, the header would silently not reach the servers: refused.
    for line in ["unique-id-format %[uuid]", "unique-id-header X-Id"] {
        let e = parse_str("t.cfg", &format!("backend b\n mode http\n {line}\n")).unwrap_err();
        assert!(e.to_string().contains("has no frontend side"), "{line}: {e}");
    }
}

#[test]
fn abortonclose_is_acted_on_in_both_modes() {
    for mode in ["http", "tcp"] {
        let l = ok(&format!(
            "defaults\n mode {mode}\n option abortonclose\nfrontend ft\n bind :80\n default_backend b\nbackend b\n server s 127.0.0.1:80\n"
        ));
        assert!(l.config.backends.iter().all(|b| b.options.abortonclose), "{mode}");
        assert!(l.warnings.iter().all(|w| !w.message.contains("abortonclose")), "{mode}");
    }
}
