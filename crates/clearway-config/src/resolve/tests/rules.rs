//! `tcp-request` and `tcp-response` rules: where they may be and what they may read.

use super::*;

#[test]
fn backend_tcp_request_content_rules_and_where_tcp_rules_may_be_as_in_haproxy() {
    use crate::rules::TcpAction;
    // A backend's content rules and inspect delay are its own; a listen's are its frontend's.
    let l = ok(&format!(
        "{POLICY_BASE}backend b\n tcp-request inspect-delay 2s\n tcp-request content reject if !{{ src 10.0.0.0/8 }}\n \
         server s 127.0.0.1:1\nlisten l\n bind 127.0.0.1:8001\n tcp-request content reject\n server s 127.0.0.1:1\n"
    ));
    let b = l.config.backend("b").unwrap();
    assert_eq!(b.tcp_rules.inspect_delay, Some(Duration::from_secs(2)));
    assert_eq!(b.tcp_rules.content[0].action, TcpAction::Reject);
    assert!(l.config.backend("l").unwrap().tcp_rules.content.is_empty());
    assert_eq!(l.config.frontend("l").unwrap().tcp_rules.content.len(), 1);
    // Connection rules need a frontend side.
    let e = refused(&format!(
        "{POLICY_BASE}backend b\n tcp-request connection reject\n server s 127.0.0.1:1\n"
    ));
    assert!(e[0].message.contains("no frontend side"), "{e:?}");
    // Not in an anonymous defaults section; a named one serves frontends or backends.
    let e = refused(
        "defaults\n mode tcp\n tcp-request content reject if { src 10.0.0.1 }\nfrontend f\n bind :1\n default_backend b\n\
         backend b\n server s 127.0.0.1:1\n",
    );
    assert!(
        e[0].message.contains("anonymous 'defaults'") && e[0].span.line == 3,
        "{e:?}"
    );
    let two = "defaults d\n mode tcp\n tcp-request content reject if { src 10.0.0.1 }\n\
               frontend f from d\n bind :1\n default_backend b\nbackend b from d\n server s 127.0.0.1:1\n";
    let e = refused(two);
    assert!(
        e[0].message.contains("cannot use the same defaults") && e[0].span.line == 7,
        "{e:?}"
    );
    let l = ok(&two.replace("backend b from d", "defaults e\n mode tcp\nbackend b"));
    assert_eq!(l.config.frontend("f").unwrap().tcp_rules.content.len(), 1);
    assert!(l.config.backend("b").unwrap().tcp_rules.content.is_empty());
    // HTTP contents in mode tcp: a request is read from the buffer; a response never is.
    ok(&format!(
        "{POLICY_BASE}backend b\n tcp-request content reject if {{ hdr(host) -i bad }}\n server s 127.0.0.1:1\n"
    ));
    let e = refused(&format!(
        "{POLICY_BASE}backend b\n tcp-request content reject if {{ status 200 }}\n server s 127.0.0.1:1\n"
    ));
    assert!(e[0].message.contains("HTTP contents not there yet"), "{e:?}");
    let l = ok(&format!(
        "{POLICY_BASE}backend b\n server s 127.0.0.1:1\nlisten h\n mode http\n bind 127.0.0.1:8002\n \
         tcp-request content reject if {{ hdr(host) -i bad }}\n server s 127.0.0.1:1\n"
    ));
    assert_eq!(l.config.frontend("h").unwrap().tcp_rules.content.len(), 1);
}

#[test]
fn tcp_response_rules_and_where_they_may_be() {
    let l = ok(&format!(
        "{POLICY_BASE}backend b\n tcp-response inspect-delay 2s\n \
         tcp-response content reject if {{ res.payload(0,5) -m str ERROR }}\n tcp-response content close\n \
         server s 127.0.0.1:1\nlisten l\n bind 127.0.0.1:8003\n tcp-response content accept if {{ res.len gt 0 }}\n \
         server s 127.0.0.1:1\n"
    ));
    let b = &l.config.backend("b").unwrap().tcp_rules;
    assert_eq!(b.response_delay, Some(std::time::Duration::from_secs(2)));
    let actions: Vec<_> = b.response.iter().map(|r| r.action.clone()).collect();
    assert_eq!(
        actions,
        [crate::rules::TcpAction::Reject, crate::rules::TcpAction::Close]
    );
    assert_eq!(
        l.config.backend("l").unwrap().tcp_rules.response.len(),
        1,
        "a listen's backend has them"
    );
    for (cfg, needle) in [
        ("backend b\n tcp-response content set-tos 1\n", "not supported yet"),
        (
            "frontend f\n bind :1\n tcp-request connection set-var(sess.x) req.payload(0,1),hex\n",
            "not there yet",
        ),
        (
            "backend b\n tcp-request content reject if { res.len gt 0 }\n",
            "not there yet",
        ),
        (
            "frontend f\n bind :1\n use_backend b if { res.len gt 0 }\nbackend b\n",
            "not there yet",
        ),
        (
            "backend b\n tcp-response content reject if { req.len gt 0 }\n",
            "client's data",
        ),
        ("defaults\n tcp-response content reject\n", "anonymous 'defaults'"),
        (
            "backend b\n mode http\n tcp-response content close\n",
            "'tcp-response content close' in 'mode http'",
        ),
    ] {
        let e = crate::parse_str("t.cfg", cfg).unwrap_err().to_string();
        assert!(e.contains(needle), "{cfg}: {e}");
    }
}

#[test]
fn userlists_and_the_acls_that_name_them() {
    use crate::model::Secret;
    // The ACL may come before the userlist, as in HAProxy.
    let l = ok(
        "frontend f\n mode http\n bind :80\n acl a http_auth_group(L) admins\n acl k http_auth(L)\n \
                http-request auth realm R if !a\n http-request auth unless k\n default_backend b\n\
                backend b\n mode http\n server s 192.0.2.1:80\n\
                userlist L\n group admins users boss\n group devs\n user boss password $6$salt$hash groups devs\n \
                user scott insecure-password cat\n user quiet\n",
    );
    let u = &l.config.userlists[0];
    assert_eq!(
        (u.name.as_str(), u.groups.as_slice()),
        ("L", &["admins".to_string(), "devs".to_string()][..])
    );
    let boss = u.user("boss").unwrap();
    assert_eq!(boss.secret, Secret::Crypt("$6$salt$hash".into()));
    assert_eq!(boss.groups, [1, 0], "its own groups, then the groups naming it");
    assert_eq!(u.user("scott").unwrap().secret, Secret::Plain("cat".into()));
    assert_eq!(u.user("quiet").unwrap().secret, Secret::None);
    let f = l.config.frontend("f").unwrap();
    assert!(matches!(
        f.http.request_rules[0].action,
        crate::rules::HttpAction::Auth { realm: Some(ref r) } if r == "R"
    ));
    for (text, says) in [
        ("acl a http_auth(nope)", "no userlist named 'nope'"),
        ("acl a http_auth", "needs a userlist"),
        (
            "acl a http_auth_group(L) ops",
            "group 'ops' is not declared in userlist 'L'",
        ),
        ("acl a http_auth_group(L)", "needs at least one pattern"),
        ("http-request auth realm", "takes only 'realm REALM'"),
    ] {
        let cfg = format!("frontend f\n mode http\n {text}\nuserlist L\n group admins\n");
        let e = crate::parse_str("t.cfg", &cfg).unwrap_err().to_string();
        assert!(e.contains(says) && e.contains("t.cfg:3"), "{text}: {e}");
    }
    for (body, says) in [
        (" user a groups ops\n", "cannot find group 'ops' for user 'a'"),
        (" group g users zed\n", "cannot find user 'zed' for group 'g'"),
        (
            " user a password $y$j9T$abc\n",
            "crypt(3) scheme Clearway does not verify",
        ),
        (" user a secret x\n", "only supports the 'password'"),
        (" group g members a\n", "only supports the 'users' option"),
        // A refused line's lists are not kept (they named a group or user never added).
        (" group g users nobody junk\n", "only supports the 'users' option"),
        (" user bob groups g junk\n", "only supports the 'password'"),
        (" acl x src 1.2.3.4\n", "unknown keyword 'acl' in 'userlist' section"),
    ] {
        let cfg = format!("userlist L\n{body}");
        let e = crate::parse_str("t.cfg", &cfg).unwrap_err().to_string();
        assert!(e.contains(says) && e.contains("t.cfg:2"), "{body}: {e}");
    }
}

#[test]
fn response_rules_read_request_fetches_as_haproxy_does() {
    use crate::rules::{Fetch, HttpAction, Piece};
    let l = ok(
        "backend b\n mode http\n timeout connect 1s\n timeout server 1s\n acl api path_beg /api\n \
                http-response set-header x-h %[hdr(x-kind)] if api\n \
                http-response set-header x-m yes if METH_GET { res.hdr(x) y }\n \
                http-after-response set-header x-a yes unless { req.hdr(a) b }\n \
                http-request set-header x-r %[hdr(x-kind)] if api\n server s 127.0.0.1:80\n",
    );
    let b = l.config.backend("b").unwrap();
    // `hdr` in a response rule's value reads the response's header.
    let HttpAction::SetHeader { value, .. } = &b.http.response_rules[0].action else {
        panic!()
    };
    assert!(matches!(&value.0[..], [Piece::Expr(e)] if e.fetch == Fetch::ResHdr("x-kind".into())));
    // Request fetches in its condition never match (and are warned about); the method and
    // the response's own headers still do.
    let test = |r: &crate::rules::HttpRule| {
        r.condition.as_ref().unwrap().any_of[0]
            .iter()
            .map(|t| t.tests[0].fetch.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(test(&b.http.response_rules[0]), vec![Fetch::Never]);
    assert_eq!(
        test(&b.http.response_rules[1]),
        vec![Fetch::Method, Fetch::ResHdr("x".into())]
    );
    assert_eq!(test(&b.http.after_response_rules[0]), vec![Fetch::Never]);
    // A request rule keeps its meaning.
    let HttpAction::SetHeader { value, .. } = &b.http.request_rules[0].action else {
        panic!()
    };
    assert!(matches!(&value.0[..], [Piece::Expr(e)] if e.fetch == Fetch::Hdr("x-kind".into())));
    assert_eq!(test(&b.http.request_rules[0]), vec![Fetch::Path]);
    let w: Vec<String> = l.warnings.iter().map(|d| d.to_string()).collect();
    assert_eq!(w.len(), 2, "{w:#?}");
    assert!(
        w[0].contains("t.cfg:6") && w[0].contains("'api' never matches"),
        "{w:#?}"
    );
    assert!(
        w[1].contains("t.cfg:8") && w[1].contains("'{ req.hdr(a) b }' never matches"),
        "{w:#?}"
    );
}

#[test]
fn destination_and_uri_rewrites_and_response_deny() {
    use crate::rules::{Fetch, HttpAction};
    let l = ok(
        "frontend f\n mode http\n bind :80\n http-request set-dst url_ip\n http-request set-dst-port url_port\n \
                http-request set-uri %[pathq]\n http-response deny if { status 500 }\n http-response deny status 503\n \
                default_backend b\nbackend b\n mode http\n server s 0.0.0.0\n",
    );
    let f = l.config.frontend("f").unwrap();
    let actions: Vec<&HttpAction> = f.http.request_rules.iter().map(|r| &r.action).collect();
    assert!(matches!(&actions[0], HttpAction::SetDst(e) if e.fetch == Fetch::UrlIp));
    assert!(matches!(&actions[1], HttpAction::SetDstPort(e) if e.fetch == Fetch::UrlPort));
    assert!(matches!(actions[2], HttpAction::SetUri(_)));
    let res: Vec<&HttpAction> = f.http.response_rules.iter().map(|r| &r.action).collect();
    assert!(matches!(
        res[..],
        [
            HttpAction::Deny {
                status: 502,
                reply: None
            },
            HttpAction::Deny {
                status: 503,
                reply: None
            }
        ]
    ));
    for (text, says) in [
        ("http-request set-dst", "expects a sample expression"),
        ("http-request set-dst nosuch", "unknown ACL criterion"),
        ("http-request set-uri", "expects a format"),
    ] {
        let cfg = format!("frontend f\n mode http\n {text}\n");
        let e = crate::parse_str("t.cfg", &cfg).unwrap_err().to_string();
        assert!(e.contains(says) && e.contains("t.cfg:3"), "{text}: {e}");
    }
}

#[test]
fn state_fetches_name_backends_and_servers_that_exist() {
    use crate::rules::{Fetch, ProxyState, ServerState};
    let l = ok(&format!(
        "{POLICY_BASE}backend b\n tcp-request content reject if {{ nbsrv lt 1 }} || {{ srv_is_up(b/s) -m bool }}\n \
         server s 127.0.0.1:1\n"
    ));
    let c = l.config.backend("b").unwrap().tcp_rules.content[0]
        .condition
        .clone()
        .unwrap();
    assert_eq!(
        c.any_of[0][0].tests[0].fetch,
        Fetch::Proxy {
            what: ProxyState::Nbsrv,
            backend: "b".into()
        },
        "no name: the rule's own proxy"
    );
    assert!(matches!(
        &c.any_of[1][0].tests[0].fetch,
        Fetch::Server { what: ServerState::IsUp, backend, server } if backend == "b" && server == "s"
    ));
    for (bad, needle) in [
        (
            "frontend g\n bind :2\n tcp-request content reject if { be_conn gt 1 }\n default_backend b\n",
            "no backend named 'g'",
        ),
        (
            "frontend g\n bind :2\n tcp-request content reject if { queue(bq) gt 1 }\n default_backend b\n",
            "no backend named 'bq'",
        ),
        (
            "frontend g\n bind :2\n tcp-request content reject if { srv_conn(b/x) gt 1 }\n default_backend b\n",
            "no server named 'x'",
        ),
        (
            "frontend g\n bind :2\n tcp-request content reject if { srv_conn(b) gt 1 }\n default_backend b\n",
            "BACKEND/SERVER",
        ),
    ] {
        let e = refused(&format!("{POLICY_BASE}backend b\n server s 127.0.0.1:1\n{bad}"));
        assert!(e.iter().any(|e| e.message.contains(needle)), "{bad}: {e:?}");
    }
}

#[test]
fn http_rules_in_named_defaults_come_first_as_in_haproxy() {
    let l = ok(
        "defaults d\n mode http\n timeout connect 1s\n timeout client 1s\n timeout server 1s\n \
         http-request set-header X-From defaults\n http-response set-header X-R d\n\
         frontend f from d\n bind :1\n http-request set-header X-From frontend\n default_backend b\n\
         defaults e\n mode http\n timeout connect 1s\n timeout client 1s\n timeout server 1s\n\
         backend b from e\n server s 127.0.0.1:1\n",
    );
    let f = l.config.frontend("f").unwrap();
    assert_eq!(f.http.request_rules.len(), 2);
    assert_eq!(f.http.request_rules[0].span.line, 2 + 4, "the defaults' rule first");
    assert_eq!(f.http.response_rules.len(), 1);
    for (text, says) in [
        ("defaults\n http-request deny\n", "anonymous 'defaults'"),
        (
            "defaults d\n http-request deny\ndefaults e from d\n",
            "cannot inherit from a defaults section with rules",
        ),
        (
            "defaults d\n mode http\n http-request deny\nlisten l from d\n bind :1\n server s 127.0.0.1:1\n",
            "cannot use the same defaults",
        ),
    ] {
        let e = refused(text);
        assert!(e.iter().any(|e| e.message.contains(says)), "{text}: {e:?}");
    }
}

#[test]
fn compression_offload_is_refused_where_it_would_do_nothing() {
    let e = refused("defaults d\n mode http\n compression offload\nbackend b from d\n server s 127.0.0.1:1\n");
    assert!(
        e[0].message.contains("no effect in a 'defaults' section") && e[0].span.line == 3,
        "{e:?}"
    );
    let l = ok(&format!(
        "{POLICY_BASE}backend b\n mode http\n compression algo gzip\n compression offload\n server s 127.0.0.1:1\n"
    ));
    assert!(
        l.config
            .backend("b")
            .unwrap()
            .http
            .compression
            .as_ref()
            .unwrap()
            .offload
    );
}

#[test]
fn last_rule_fetches_are_for_log_formats_only() {
    let base = format!("{POLICY_BASE}backend b\n server s 127.0.0.1:1\n");
    ok(&format!(
        "{base}frontend g\n bind :2\n log-format \"%ci lr=%[last_rule_file]:%[last_rule_line]\"\n default_backend b\n"
    ));
    for bad in [
        "frontend g\n bind :2\n http-request deny if { last_rule_line 5 }\n default_backend b\n",
        "frontend g\n bind :2\n http-response set-header x %[last_rule_file]\n default_backend b\n",
    ] {
        let e = refused(&format!("{base}{bad}"));
        // The rule's own line: the third of the frontend.
        let line = base.lines().count() as u32 + 3;
        assert!(
            e.iter()
                .any(|e| e.message.contains("only in log formats") && e.span.line == line),
            "{bad}: {e:?}"
        );
    }
}
