//! `resolvers` sections, the server parameters that use them, and `server-template`.

use super::*;
use crate::model::{Family, InitAddr};

#[test]
fn a_resolvers_section_and_the_servers_that_use_it() {
    let l = ok(&format!(
        "resolvers dns\n nameserver ns1 192.0.2.53:53\n nameserver ns2 tcp@[2001:db8::53]:5353\n \
         hold valid 5s\n hold obsolete 2s\n resolve_retries 4\n timeout resolve 2s\n timeout retry 500ms\n \
         accepted_payload_size 8192\n\
         {POLICY_BASE}backend b\n default-server init-addr last,libc,none resolvers dns\n \
         server a app.example:80 resolve-prefer ipv4 resolve-net 10.0.0.0/8,2001:db8::/32 resolve-opts allow-dup-ip\n \
         server-template web 2-3 web.example:8080 check init-addr 192.0.2.9\n"
    ));
    let r = &l.config.resolvers[0];
    assert_eq!(r.name, "dns");
    assert_eq!(r.nameservers[0].addr, "192.0.2.53:53".parse().unwrap());
    assert!(!r.nameservers[0].tcp && r.nameservers[1].tcp);
    assert_eq!(r.nameservers[1].addr, "[2001:db8::53]:5353".parse().unwrap());
    assert_eq!(
        (r.hold.valid, r.hold.obsolete, r.hold.nx),
        (Duration::from_secs(5), Duration::from_secs(2), Duration::from_secs(30))
    );
    assert_eq!((r.resolve_retries, r.accepted_payload_size), (4, 8192));
    assert_eq!(
        (r.timeout_resolve, r.timeout_retry),
        (Duration::from_secs(2), Duration::from_millis(500))
    );
    let b = l.config.backend("b").unwrap();
    let names: Vec<&str> = b.servers.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["a", "web2", "web3"]);
    let a = &b.servers[0].dns;
    assert_eq!(a.resolvers.as_deref(), Some("dns"));
    assert_eq!(a.prefer, Family::V4);
    assert_eq!(a.nets.len(), 2);
    assert!(a.allow_dup_ip && a.template.is_none());
    assert_eq!(a.init_methods(), [InitAddr::Last, InitAddr::Libc, InitAddr::None]);
    let w = &b.servers[2];
    assert!(w.check.enabled);
    assert_eq!(w.dns.template, Some(3));
    assert_eq!(w.dns.prefer, Family::V6, "HAProxy's default");
    assert_eq!(w.dns.init_methods(), [InitAddr::Ip("192.0.2.9".parse().unwrap())]);
}

#[test]
fn without_init_addr_resolvers_add_none_to_the_default() {
    let l = ok(&format!(
        "resolvers dns\n parse-resolv-conf\n{POLICY_BASE}backend b\n server a app.example:80 resolvers dns\n \
         server c app.example:80\n"
    ));
    assert_eq!(l.config.resolvers[0].resolv_conf_at, Some(0));
    let b = l.config.backend("b").unwrap();
    assert_eq!(
        b.servers[0].dns.init_methods(),
        [InitAddr::Last, InitAddr::Libc, InitAddr::None]
    );
    assert_eq!(b.servers[1].dns.init_methods(), [InitAddr::Last, InitAddr::Libc]);
}

#[test]
fn dns_mistakes_are_errors_with_their_line() {
    for (text, needle) in [
        (
            "resolvers dns\n nameserver ns1 192.0.2.53\n".to_string(),
            "expected an IP address and a port",
        ),
        (
            "resolvers dns\n nameserver ns1 ipv4@192.0.2.53:53\n".into(),
            "prefix 'ipv4@'",
        ),
        (
            "resolvers dns\n nameserver ns1 192.0.2.53:53\n nameserver ns1 192.0.2.54:53\n".into(),
            "defined twice",
        ),
        ("resolvers dns\n hold valid 1s\n".into(), "has no nameserver"),
        (
            "resolvers dns\n nameserver n 192.0.2.53:53\n hold fresh 1s\n".into(),
            "'hold fresh'",
        ),
        (
            "resolvers dns\n nameserver n 192.0.2.53:53\n timeout query 1s\n".into(),
            "'timeout query'",
        ),
        (
            "resolvers dns\n nameserver n 192.0.2.53:53\n resolve_retries 0\n".into(),
            "at least 1",
        ),
        (
            "resolvers dns\n nameserver n 192.0.2.53:53\n accepted_payload_size 70000\n".into(),
            "between 12",
        ),
        (
            "resolvers dns\n nameserver n 192.0.2.53:53\n namesever m 192.0.2.54:53\n".into(),
            "unknown keyword",
        ),
        (
            format!("{POLICY_BASE}backend b\n server a app.example:80 resolvers nope\n"),
            "no resolvers section named 'nope'",
        ),
        (
            format!("{POLICY_BASE}backend b\n server a app.example:80 resolve-prefer ipv5\n"),
            "expected ipv4 or ipv6",
        ),
        (
            format!("{POLICY_BASE}backend b\n server a app.example:80 resolve-opts no-dup\n"),
            "unknown option",
        ),
        (
            format!("{POLICY_BASE}backend b\n server a app.example:80 init-addr libc,dns\n"),
            "'dns' is not a method",
        ),
        (
            format!("{POLICY_BASE}backend b\n server a app.example:80 resolve-net 10.0.0.0/33\n"),
            "resolve-net",
        ),
        (
            format!("{POLICY_BASE}backend b\n server-template w 0 app.example:80\n"),
            "a number or a range",
        ),
        (
            format!("{POLICY_BASE}backend b\n server-template w 3-1 app.example:80\n"),
            "a number or a range",
        ),
        (
            format!("{POLICY_BASE}backend b\n server-template w 3\n"),
            "expects a prefix",
        ),
        (
            format!("{POLICY_BASE}backend b\n server w2 192.0.2.1:80\n server-template w 3 app.example:80\n"),
            "duplicate server name 'w2'",
        ),
        (
            format!("{POLICY_BASE}backend b\n server a _http._tcp.app.example\n"),
            "an SRV label needs run-time DNS",
        ),
        (
            format!("{POLICY_BASE}defaults\n server-template w 3 app.example:80\n"),
            "not allowed in a 'defaults' section",
        ),
    ] {
        let e = refused(&text);
        assert!(e.iter().any(|d| d.message.contains(needle)), "{text}: {e:?}");
        assert!(e[0].span.line >= 1, "{text}: {e:?}");
    }
}
