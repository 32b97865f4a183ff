//! TLS settings: the global defaults, where they matter, and checks over TLS.

use super::*;

#[test]
fn global_tls_settings_matter_only_where_tls_is_used() {
    let tls_globals = "global\n ssl-default-bind-ciphers ECDHE-RSA-AES128-GCM-SHA256\n ca-base /etc/ssl/certs\n";
    // Acted on: nothing to say without TLS (Debian's stock haproxy.cfg has these lines).
    let l = ok(&format!("{tls_globals}{POLICY_BASE}backend b\n server s 127.0.0.1:1\n"));
    assert!(
        l.warnings.is_empty() && l.notes.is_empty(),
        "{:?} {:?}",
        l.warnings,
        l.notes
    );
    // A cipher name that is a typo is refused, not dropped.
    let e = refused(&format!(
        "global\n ssl-default-bind-ciphers HIHG:!aNULL\n{POLICY_BASE}backend b\n server s 127.0.0.1:1\n"
    ));
    assert!(e[0].message.contains("'HIHG'"), "{e:?}");
    // Other ssl-* settings: refused where TLS is used, without effect elsewhere.
    let engine = "global\n ssl-mode-async\n";
    let l = ok(&format!("{engine}{POLICY_BASE}backend b\n server s 127.0.0.1:1\n"));
    assert_eq!(l.notes.len(), 1, "{:?}", l.notes);
    let e = refused(&format!(
        "{engine}{POLICY_BASE}backend b\n server s 127.0.0.1:1 ssl verify none\n"
    ));
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].message.contains("'ssl-mode-async'"), "{e:?}");
}

#[test]
fn checks_over_tls_follow_haproxy_rules() {
    let l = ok(&format!(
        "{POLICY_BASE}backend b\n server a 127.0.0.1:443 ssl verify none check\n \
         server b 127.0.0.1:443 ssl verify none check port 80\n \
         server c 127.0.0.1:80 verify none check check-ssl check-sni x.test check-alpn http/1.1\n \
         server d 127.0.0.1:443 ssl verify none check addr 127.0.0.2 check-ssl\n \
         server e 127.0.0.1:443 ssl verify none check no-check-ssl\n"
    ));
    let s = &l.config.backend("b").unwrap().servers;
    let tls: Vec<bool> = s.iter().map(|s| s.check_tls()).collect();
    assert_eq!(tls, [true, false, true, true, false]);
    let c = s[2].check_tls_settings();
    assert_eq!(c.sni, Some(crate::model::Sni::Fixed("x.test".into())));
    assert_eq!(c.alpn, ["http/1.1"]);
    // check-ssl verifies by default too: a CA is needed.
    let e = refused(&format!(
        "{POLICY_BASE}backend b\n server c 127.0.0.1:80 check check-ssl\n"
    ));
    assert!(e[0].message.contains("no 'ca-file'"), "{e:?}");
    // A tcp-check with rules over TLS loads.
    ok(&format!(
        "{POLICY_BASE}backend b\n option tcp-check\n tcp-check send PING\\r\\n\n \
         server a 127.0.0.1:443 ssl verify none check\n"
    ));
}

#[test]
fn tls_defaults_fill_what_lines_leave_unset() {
    let l = ok(&format!(
        "global\n ssl-default-server-options force-tlsv12 no-tls-tickets\n ssl-default-server-ciphers ECDHE-RSA-AES128-GCM-SHA256\n \
         ssl-server-verify none\n crt-base /certs\n ca-base /cas\n{POLICY_BASE}backend b\n \
         server a 127.0.0.1:443 ssl crt client.pem\n server b 127.0.0.1:443 ssl ciphers aECDSA ca-file /abs/ca.pem verify required\n"
    ));
    let s = &l.config.backend("b").unwrap().servers;
    assert_eq!(s[0].tls.verify, Some(false));
    assert_eq!(s[0].tls.crt.as_deref(), Some(std::path::Path::new("/certs/client.pem")));
    assert!(s[0].tls.policy.no_tls13);
    assert_eq!(
        s[0].tls.policy.ciphers.as_deref(),
        Some(&["ECDHE-RSA-AES128-GCM-SHA256".to_string()][..])
    );
    assert_eq!(s[1].tls.policy.ciphers.as_ref().map(Vec::len), Some(3));
    assert_eq!(s[1].tls.ca_file.as_deref(), Some(std::path::Path::new("/abs/ca.pem")));
    assert_eq!(s[1].tls.verify, Some(true));
    // Options that are not options, and settings that leave nothing, are refused.
    let e = refused("global\n ssl-default-bind-options no-tlsv12 sslv3\n");
    assert!(e[0].message.contains("unknown option 'sslv3'"), "{e:?}");
    let e = refused(&format!(
        "{POLICY_BASE}backend b\n server a 127.0.0.1:443 ssl verify none force-tlsv13 ciphersuites TLS_AES_128_CCM_SHA256\n"
    ));
    assert!(e[0].message.contains("no cipher suite is left"), "{e:?}");
}
