//! TLS policy side by side with HAProxy (the oracle): the same config text run by both, the
//! same clients (curl, openssl s_client), what they negotiate and what the server receives
//! compared. Client certificates and the `ssl_c_*` fetches, versions, cipher strings and
//! groups, `crt-list` with SNI filters and `strict-sni`, client certificates to servers,
//! OCSP stapling.

mod common;
use clearway_testkit::{Leaf, Pki, Topology};
use common::http::{echo, headers, DEFAULTS};
use common::*;

/// curl to `https://NAME:PORT/` (NAME resolved to the lb) trusting `pki`, with a client
/// certificate when given: (success, body, stderr).
fn curl(topo: &Topology, pki: &Pki, name: &str, port: u16, cert: Option<&Leaf>) -> (bool, String, String) {
    let resolve = format!("{name}:{port}:192.0.2.1");
    let (c, k) = cert.map_or((String::new(), String::new()), |l| {
        (l.crt.display().to_string(), l.key.display().to_string())
    });
    let mut opts = vec!["--resolve", &resolve];
    if cert.is_some() {
        opts.extend(["--cert", &c, "--key", &k]);
    }
    let url = format!("https://{name}:{port}/");
    curl_tls(topo, &pki.ca_file(), name, "192.0.2.1", &url, &opts)
}

/// What `openssl s_client` negotiated with the lb on `port`: None when the handshake
/// failed, else (protocol, cipher, certificate subject, ALPN).
fn handshake(topo: &Topology, port: u16, sni: Option<&str>, opts: &[&str]) -> Option<[String; 4]> {
    let to = format!("192.0.2.1:{port}");
    let mut args = vec!["s_client", "-connect", &to];
    match sni {
        Some(n) => args.extend(["-servername", n]),
        None => args.push("-noservername"),
    }
    args.extend_from_slice(opts);
    let out = topo.client.exec("openssl", &args);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let field = |prefix: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(prefix).map(|v| v.trim().to_string()))
            .unwrap_or_default()
    };
    // "New, TLSv1.3, Cipher is TLS_AES_256_GCM_SHA384"
    let new = field("New, ");
    let (proto, cipher) = new.split_once(", Cipher is ")?;
    if cipher == "(NONE)" {
        return None;
    }
    Some([
        proto.to_string(),
        cipher.to_string(),
        field("subject="),
        field("ALPN protocol:"),
    ])
}

#[test]
fn client_certificates_are_checked_and_described_as_haproxy_does() {
    let Some(topo) = topology("tcli") else { return };
    let pki = Pki::new("pki");
    let lb = pki.leaf("lb", &["lb.test"]);
    let alice = pki.leaf_subject(
        "alice",
        "/C=FR/ST=Paris/O=Acme, Inc./OU=Ops/OU=Web/CN=alice",
        &["alice.test"],
    );
    let other = Pki::new("other");
    let mallory = other.leaf_subject("mallory", "/CN=mallory", &["mallory.test"]);
    let _web = echo(&topo, "198.51.100.10:80", "web");
    let fetches = [
        ("x-used", "ssl_c_used"),
        ("x-verify", "ssl_c_verify"),
        ("x-dn", "ssl_c_s_dn"),
        ("x-cn", "ssl_c_s_dn(CN)"),
        ("x-ou2", "ssl_c_s_dn(OU,2)"),
        ("x-oulast", "ssl_c_s_dn(ou,-1)"),
        ("x-rfc", "ssl_c_s_dn(,0,rfc2253)"),
        ("x-idn", "ssl_c_i_dn"),
        ("x-serial", "ssl_c_serial,hex"),
        ("x-sha1", "ssl_c_sha1,hex"),
        ("x-notafter", "ssl_c_notafter"),
        ("x-version", "ssl_c_version"),
        ("x-sig", "ssl_c_sig_alg"),
        ("x-key", "ssl_c_key_alg"),
        ("x-crt", "ssl_fc_has_crt"),
        ("x-proto", "ssl_fc_protocol"),
    ];
    let rules: String = fetches
        .iter()
        .map(|(h, f)| format!("    http-request set-header {h} %[{f}]\n"))
        .collect();
    let cfg = format!(
        "{DEFAULTS}frontend opt\n    bind 192.0.2.1:PORT ssl crt {lb} verify optional ca-file {ca}\n{rules}\
         \x20   http-request deny if {{ ssl_c_s_dn(OU) -m str Blocked }}\n    default_backend bk\n\
         frontend req\n    bind 192.0.2.1:1PORT ssl crt {lb} verify required ca-file {ca}\n{rules}    default_backend bk\n\
         backend bk\n    server web 198.51.100.10:80\n",
        lb = lb.pem.display(),
        ca = pki.ca_file().display(),
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    let seen = |port: u16, cert: Option<&Leaf>| {
        let (ok, body, err) = curl(&topo, &pki, "lb.test", port, cert);
        ok.then(|| {
            fetches
                .iter()
                .map(|(h, _)| (h.to_string(), headers(&body, h).join("|")))
                .collect::<Vec<_>>()
        })
        .ok_or(err)
    };
    for (cert, what) in [(Some(&alice), "alice"), (None, "no certificate")] {
        for (cw_port, hap_port) in [(80, 81), (180, 181)] {
            let (ours, theirs) = (seen(cw_port, cert), seen(hap_port, cert));
            assert_eq!(
                ours.is_ok(),
                theirs.is_ok(),
                "{what} on port {cw_port}: {ours:?} vs {theirs:?}"
            );
            // Refusals reach curl as an alert or as a reset: only the outcome is compared.
            assert_eq!(ours.ok(), theirs.ok(), "{what} on port {cw_port}");
        }
    }
    // What both agree on, spelled out.
    let with = seen(80, Some(&alice)).unwrap();
    let get = |k: &str| with.iter().find(|(h, _)| h == k).unwrap().1.clone();
    assert_eq!(get("x-dn"), "/C=FR/ST=Paris/O=Acme, Inc./OU=Ops/OU=Web/CN=alice");
    assert_eq!(get("x-cn"), "alice");
    assert_eq!(get("x-ou2"), "Web");
    assert_eq!(get("x-rfc"), "CN=alice,OU=Web,OU=Ops,O=Acme\\, Inc.,ST=Paris,C=FR");
    assert_eq!(get("x-used"), "1");
    let without = seen(80, None).unwrap();
    assert!(without.contains(&("x-used".into(), "0".into())), "{without:?}");
    // Required: no certificate, no session. A certificate from another CA: refused by both.
    assert!(seen(180, None).is_err());
    for port in [80, 81, 180, 181] {
        assert!(
            seen(port, Some(&mallory)).is_err(),
            "an untrusted certificate got in on {port}"
        );
    }
    // An ACL on the certificate: a blocked unit gets 403 from both.
    let blocked = pki.leaf_subject("blocked", "/O=Acme/OU=Blocked/CN=bob", &["bob.test"]);
    for port in [80, 81] {
        let (ok, body, _) = curl(&topo, &pki, "lb.test", port, Some(&blocked));
        assert!(ok && body.contains("403"), "port {port}: {body}");
    }
}

#[test]
fn versions_cipher_strings_and_groups_negotiate_as_with_haproxy() {
    let Some(topo) = topology("tpol") else { return };
    let pki = Pki::new("pki");
    let lb = pki.leaf("lb", &["lb.test"]);
    let _web = echo(&topo, "198.51.100.10:80", "web");
    let cfg = format!(
        "global\n    ssl-default-bind-ciphers ECDH+AESGCM:DH+AESGCM:ECDH+AES256:RSA+AESGCM:!aNULL:!MD5:!DSS:-AES128\n\
         \x20   ssl-default-bind-ciphersuites TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256\n\
         \x20   ssl-default-bind-options ssl-min-ver TLSv1.2 no-tls-tickets\n\
         {DEFAULTS}frontend a\n    bind 192.0.2.1:PORT ssl crt {lb} curves P-384:X25519\n    default_backend bk\n\
         frontend b\n    bind 192.0.2.1:1PORT ssl crt {lb} force-tlsv12 ciphers ECDHE-ECDSA-CHACHA20-POLY1305:AES128\n\
         \x20   default_backend bk\n\
         backend bk\n    server web 198.51.100.10:80\n",
        lb = lb.pem.display(),
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    let probes: &[(u16, &[&str])] = &[
        (80, &["-tls1_3"]),
        (80, &["-tls1_3", "-ciphersuites", "TLS_AES_128_GCM_SHA256"]),
        (
            80,
            &[
                "-tls1_3",
                "-ciphersuites",
                "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256",
            ],
        ),
        (80, &["-tls1_2"]),
        (80, &["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"]),
        (
            80,
            &[
                "-tls1_2",
                "-cipher",
                "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES256-GCM-SHA384",
            ],
        ),
        (80, &["-tls1_3", "-groups", "X25519"]),
        (80, &["-tls1_3", "-groups", "P-256"]),
        (80, &["-tls1_2", "-groups", "P-256"]),
        (180, &["-tls1_3"]),
        (180, &["-tls1_2"]),
        (180, &["-tls1_2", "-cipher", "ECDHE-ECDSA-AES256-GCM-SHA384"]),
        (180, &["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"]),
    ];
    let mut outcomes = Vec::new();
    for (port, opts) in probes {
        let ours = handshake(&topo, *port, Some("lb.test"), opts);
        let theirs = handshake(&topo, port + 1, Some("lb.test"), opts);
        let strip = |h: &Option<[String; 4]>| h.as_ref().map(|h| [h[0].clone(), h[1].clone()]);
        assert_eq!(strip(&ours), strip(&theirs), "port {port} {opts:?}");
        outcomes.push(strip(&ours));
    }
    let ok = |i: usize| outcomes[i].clone().map(|[p, c]| format!("{p} {c}"));
    assert_eq!(ok(0).as_deref(), Some("TLSv1.3 TLS_AES_256_GCM_SHA384"));
    assert_eq!(ok(1), None, "a TLS 1.3 suite outside ciphersuites was accepted");
    assert_eq!(ok(3).as_deref(), Some("TLSv1.2 ECDHE-ECDSA-AES256-GCM-SHA384"));
    assert_eq!(ok(4), None, "a suite '-AES128' removed was accepted");
    assert_eq!(ok(7), None, "a group outside 'curves' was accepted");
    assert_eq!(ok(9), None, "force-tlsv12 let TLS 1.3 in");
    assert_eq!(ok(10).as_deref(), Some("TLSv1.2 ECDHE-ECDSA-CHACHA20-POLY1305"));
}

#[test]
fn crt_list_sni_filters_and_strict_sni_choose_as_haproxy_does() {
    let Some(topo) = topology("tcrl") else { return };
    let pki = Pki::new("pki");
    for (file, names) in [
        ("default", &["default.test"][..]),
        ("wild", &["*.example.test"]),
        ("www", &["www.example.test"]),
        ("secure", &["secure.example.test"]),
    ] {
        pki.leaf(file, names);
    }
    let list = pki.dir().join("list.txt");
    std::fs::write(
        &list,
        "# comment\ndefault.pem !*\nwild.pem *.example.test !admin.example.test\nwww.pem\n\n\
         secure.pem [alpn h2 ssl-min-ver TLSv1.3] secure.example.test\n",
    )
    .unwrap();
    let _web = echo(&topo, "198.51.100.10:80", "web");
    let cfg = format!(
        "global\n    crt-base {dir}\n{DEFAULTS}frontend a\n    bind 192.0.2.1:PORT ssl crt-list {list}\n    default_backend bk\n\
         frontend b\n    bind 192.0.2.1:1PORT ssl strict-sni crt-list {list}\n    default_backend bk\n\
         backend bk\n    server web 198.51.100.10:80\n",
        dir = pki.dir().display(),
        list = list.display(),
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    // (port, SNI sent, s_client options, the CN of the certificate served; None: refused)
    type Case<'a> = (u16, Option<&'a str>, &'a [&'a str], Option<&'a str>);
    let cases: &[Case] = &[
        (80, None, &[], Some("default.test")),
        (80, Some("www.example.test"), &[], Some("www.example.test")),
        (80, Some("WWW.Example.TEST"), &[], Some("www.example.test")),
        (80, Some("foo.example.test"), &[], Some("*.example.test")),
        (80, Some("a.b.example.test"), &[], Some("default.test")),
        (80, Some("admin.example.test"), &[], Some("default.test")),
        (80, Some("unknown.test"), &[], Some("default.test")),
        (80, Some("secure.example.test"), &["-tls1_2"], None),
        (
            80,
            Some("secure.example.test"),
            &["-alpn", "h2,http/1.1"],
            Some("secure.example.test"),
        ),
        (180, Some("unknown.test"), &[], None),
        (180, Some("foo.example.test"), &[], Some("*.example.test")),
    ];
    for (port, sni, opts, want) in cases {
        let ours = handshake(&topo, *port, *sni, opts);
        let theirs = handshake(&topo, port + 1, *sni, opts);
        assert_eq!(ours, theirs, "port {port}, SNI {sni:?} {opts:?}");
        let cn = ours.as_ref().map(|h| h[2].trim_start_matches("CN = ").to_string());
        assert_eq!(cn.as_deref(), *want, "port {port}, SNI {sni:?} {opts:?}");
    }
    let secure = handshake(&topo, 80, Some("secure.example.test"), &["-alpn", "h2,http/1.1"]).unwrap();
    assert_eq!(secure[3], "h2");
}

#[test]
fn servers_get_the_client_certificate_and_their_own_is_verified() {
    let Some(topo) = topology("tsrv") else { return };
    let pki = Pki::new("pki");
    let srv = pki.leaf("srv", &["srv.test"]);
    let alice = pki.leaf_subject("alice", "/O=Acme/CN=alice", &["alice.test"]);
    // HAProxy as the server: it asks for a client certificate and says whose it got.
    let server_cfg = format!(
        "{DEFAULTS}frontend tls\n    bind 198.51.100.10:443 ssl crt {} verify required ca-file {}\n\
         \x20   http-request return status 200 content-type text/plain lf-string \"cn=%[ssl_c_s_dn(CN)] %[ssl_fc_protocol]\"\n",
        srv.pem.display(),
        pki.ca_file().display()
    );
    let _server = clearway_testkit::Clearway::start(
        &topo.server,
        std::path::Path::new("/usr/sbin/haproxy"),
        &server_cfg,
        &[443],
    );
    let backend = |params: &str| {
        format!(
            "{DEFAULTS}frontend ft\n    bind 192.0.2.1:80\n    default_backend bk\n\
             backend bk\n    server s 198.51.100.10:443 ssl {params}\n"
        )
    };
    let ca = pki.ca_file().display().to_string();
    let get = || {
        let out = topo
            .client
            .exec("curl", &["-s", "--max-time", "10", "http://192.0.2.1/"]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    {
        let _lb = start(
            &topo,
            &backend(&format!(
                "ca-file {ca} crt {} ssl-max-ver TLSv1.2 ciphers ECDHE-ECDSA-CHACHA20-POLY1305",
                alice.pem.display()
            )),
            &[80],
        );
        assert_eq!(get(), "cn=alice TLSv1.2");
    }
    {
        // No client certificate: the server refuses it (at the end of the handshake in TLS
        // 1.2, just after it in TLS 1.3: a 503 or a 502).
        let _lb = start(&topo, &backend(&format!("ca-file {ca}")), &[80]);
        let got = get();
        assert!(got.contains("<h1>50") && !got.contains("cn="), "{got}");
    }
    {
        // Verified against another CA: refused by Clearway.
        let other = Pki::new("other");
        let _lb = start(
            &topo,
            &backend(&format!(
                "ca-file {} crt {}",
                other.ca_file().display(),
                alice.pem.display()
            )),
            &[80],
        );
        assert!(get().contains("503"), "{}", get());
    }
    {
        // ssl-server-verify none: no ca-file needed, the server is not verified.
        let cfg = backend(&format!("crt {}", alice.pem.display()))
            .replace("defaults", "global\n    ssl-server-verify none\ndefaults");
        let _lb = start(&topo, &cfg, &[80]);
        assert!(get().starts_with("cn=alice TLSv1.3"), "{}", get());
    }
}

#[test]
fn an_ocsp_response_next_to_the_certificate_is_stapled() {
    let Some(topo) = topology("tocs") else { return };
    let pki = Pki::new("pki");
    let lb = pki.leaf("lb", &["lb.test"]);
    let dir = pki.dir();
    let (ca, key) = (pki.ca_file(), dir.join("ca.key"));
    let serial = String::from_utf8(
        std::process::Command::new("openssl")
            .args(["x509", "-noout", "-serial", "-in", lb.crt.to_str().unwrap()])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let serial = serial.trim().trim_start_matches("serial=");
    std::fs::write(
        dir.join("index.txt"),
        format!("V\t391231235959Z\t\t{serial}\tunknown\t/CN=lb.test\n"),
    )
    .unwrap();
    let s = |p: &std::path::Path| p.to_str().unwrap().to_string();
    let req = dir.join("req.der");
    let resp = format!("{}.ocsp", lb.pem.display());
    for args in [
        vec![
            "ocsp",
            "-issuer",
            &s(&ca),
            "-cert",
            &s(&lb.crt),
            "-no_nonce",
            "-reqout",
            &s(&req),
        ],
        vec![
            "ocsp",
            "-index",
            &s(&dir.join("index.txt")),
            "-rsigner",
            &s(&ca),
            "-rkey",
            &s(&key),
            "-CA",
            &s(&ca),
            "-reqin",
            &s(&req),
            "-respout",
            &resp,
            "-ndays",
            "1",
        ],
    ] {
        let out = std::process::Command::new("openssl").args(&args).output().unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let _web = echo(&topo, "198.51.100.10:80", "web");
    let cfg = format!(
        "{DEFAULTS}frontend ft\n    bind 192.0.2.1:443 ssl crt {}\n    default_backend bk\n\
         backend bk\n    server web 198.51.100.10:80\n",
        lb.pem.display()
    );
    let _lb = start(&topo, &cfg, &[443]);
    let out = topo.client.exec(
        "openssl",
        &[
            "s_client",
            "-connect",
            "192.0.2.1:443",
            "-servername",
            "lb.test",
            "-status",
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("OCSP Response Status: successful"), "{text}");
    assert!(text.contains("Cert Status: good"), "{text}");
}

/// Servers for checks: HAProxy at 198.51.100.10:443 answering HTTP over TLS to clients that
/// name srv.test only (strict-sni; 200 for /health, else 404), and a plain HTTP echo server
/// at 198.51.100.11:80.
fn check_servers(
    topo: &clearway_testkit::Topology,
    pki: &Pki,
) -> (clearway_testkit::Clearway, clearway_testkit::HttpEchoServer) {
    let srv = pki.leaf("srv", &["srv.test"]);
    let server_cfg = format!(
        "{DEFAULTS}frontend tls\n    bind 198.51.100.10:443 ssl strict-sni crt {}\n\
         \x20   http-request return status 200 if {{ path /health }}\n    http-request return status 404\n",
        srv.pem.display(),
    );
    let server = clearway_testkit::Clearway::start(
        &topo.server,
        std::path::Path::new("/usr/sbin/haproxy"),
        &server_cfg,
        &[443],
    );
    (server, echo(topo, "198.51.100.11:80", "plain"))
}

#[test]
fn health_checks_run_over_tls_as_with_haproxy() {
    let Some(topo) = topology("tchk") else { return };
    let pki = Pki::new("pki");
    let _servers = check_servers(&topo, &pki);
    let dir = pki.dir().display().to_string();
    let cfg = format!(
        "global\n    stats socket {dir}/PORT.sock level admin\n{DEFAULTS}frontend ft\n    bind 192.0.2.1:PORT\n    default_backend bk\n\
         backend bk\n    option httpchk GET /health\n    default-server check inter 300ms fall 1 rise 1\n\
         \x20   server named 198.51.100.10:443 ssl ca-file {ca} check-sni srv.test\n\
         \x20   server unnamed 198.51.100.10:443 ssl ca-file {ca}\n\
         \x20   server wrongpath 198.51.100.10:443 ssl verify none check-sni srv.test check-alpn http/1.1\n\
         \x20   server plain 198.51.100.11:80 check-ssl verify none\n\
         \x20   server other_port 198.51.100.11:443 ssl verify none port 80\n\
         backend l4\n    server named 198.51.100.10:443 ssl ca-file {ca} check-sni srv.test check inter 300ms\n\
         \x20   server plain 198.51.100.11:80 check-ssl verify none check inter 300ms fall 1\n",
        ca = pki.ca_file().display(),
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    let status = |port: u16| -> Vec<(String, String)> {
        let csv = cli(std::path::Path::new(&format!("{dir}/{port}.sock")), "show stat");
        csv_rows(&csv)
            .into_iter()
            .filter(|r| r["svname"] != "FRONTEND" && r["svname"] != "BACKEND")
            // HAProxy marks a check under way with "* "; which one is under way is timing.
            .map(|r| {
                (
                    format!("{}/{}", r["pxname"], r["svname"]),
                    r["check_status"].trim_start_matches("* ").to_string(),
                )
            })
            .collect()
    };
    // Both have run their checks at least twice.
    let settled = |port| eventually(|| status(port).iter().all(|(_, s)| !s.is_empty() && !s.starts_with("INI")));
    assert!(settled(80) && settled(81));
    std::thread::sleep(std::time::Duration::from_millis(700));
    let (ours, theirs) = (status(80), status(81));
    assert_eq!(ours, theirs);
    let of = |name: &str| ours.iter().find(|(n, _)| n == name).unwrap().1.clone();
    assert_eq!(of("bk/named"), "L7OK");
    assert_eq!(of("bk/unnamed"), "L6RSP", "no SNI: the strict-sni server refuses");
    assert_eq!(of("bk/other_port"), "L7OK", "a check to its own port is not over TLS");
    assert_eq!(of("l4/named"), "L6OK");
    assert_eq!(of("l4/plain"), "L6RSP");
}

#[test]
fn a_revoked_client_certificate_is_refused_as_by_haproxy() {
    let Some(topo) = topology("tcrv") else { return };
    let pki = Pki::new("pki");
    let lb = pki.leaf("lb", &["lb.test"]);
    let good = pki.leaf_subject("good", "/CN=good", &["good.test"]);
    let bad = pki.leaf_subject("bad", "/CN=bad", &["bad.test"]);
    let crl = pki.crl(&[&bad]);
    let _web = echo(&topo, "198.51.100.10:80", "web");
    let cfg = format!(
        "{DEFAULTS}frontend ft\n    bind 192.0.2.1:PORT ssl crt {} verify required ca-file {} crl-file {}\n\
         \x20   default_backend bk\nbackend bk\n    server web 198.51.100.10:80\n",
        lb.pem.display(),
        pki.ca_file().display(),
        crl.display()
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    for port in [80, 81] {
        let (ok, body, err) = curl(&topo, &pki, "lb.test", port, Some(&good));
        assert!(ok && body.contains("server=web"), "port {port}: {err}");
        let (ok, _, _) = curl(&topo, &pki, "lb.test", port, Some(&bad));
        assert!(!ok, "port {port}: a revoked certificate got in");
    }
}

#[test]
fn ignored_verification_errors_let_a_certificate_in_and_say_which_as_haproxy_does() {
    let Some(topo) = topology("tign") else { return };
    let pki = Pki::new("pki");
    let lb = pki.leaf("lb", &["lb.test"]);
    let expired = pki.expired("expired", "/CN=expired", &["expired.test"]);
    let other = Pki::new("other");
    let stranger = other.leaf_subject("stranger", "/CN=stranger", &["stranger.test"]);
    let _web = echo(&topo, "198.51.100.10:80", "web");
    let rules = "    http-request set-header x-verify \"%[ssl_c_verify] %[ssl_c_err] %[ssl_c_ca_err] %[ssl_c_used]\"\n";
    let cfg = format!(
        "{DEFAULTS}frontend all\n    bind 192.0.2.1:PORT ssl crt {lb} verify required ca-file {ca} crt-ignore-err all ca-ignore-err all\n\
         {rules}    default_backend bk\n\
         frontend expiry\n    bind 192.0.2.1:1PORT ssl crt {lb} verify required ca-file {ca} crt-ignore-err 10\n\
         {rules}    default_backend bk\n\
         backend bk\n    server web 198.51.100.10:80\n",
        lb = lb.pem.display(),
        ca = pki.ca_file().display(),
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    let seen = |port: u16, cert: &Leaf| {
        let (ok, body, _) = curl(&topo, &pki, "lb.test", port, Some(cert));
        ok.then(|| headers(&body, "x-verify").join("|"))
    };
    let mut results = Vec::new();
    for (cert, what) in [(&expired, "expired"), (&stranger, "unknown issuer")] {
        for (cw, hap) in [(80, 81), (180, 181)] {
            let (ours, theirs) = (seen(cw, cert), seen(hap, cert));
            assert_eq!(ours, theirs, "{what} on port {cw}");
            results.push(ours);
        }
    }
    assert_eq!(results[0].as_deref(), Some("10 10 0 1"), "expired, all errors ignored");
    assert_eq!(results[1].as_deref(), Some("10 10 0 1"), "expired, 10 ignored");
    assert!(results[2].is_some(), "unknown issuer, all errors ignored: let in");
    assert_eq!(results[3], None, "unknown issuer, only 10 ignored: refused");
}

#[test]
fn tcp_check_rules_run_over_tls_as_with_haproxy() {
    let Some(topo) = topology("ttcc") else { return };
    let pki = Pki::new("pki");
    let _servers = check_servers(&topo, &pki);
    let dir = pki.dir().display().to_string();
    let send = "    tcp-check send \"GET /health HTTP/1.0\\r\\n\\r\\n\"\n";
    let cfg = format!(
        "global\n    stats socket {dir}/PORT.sock level admin\n{DEFAULTS}frontend ft\n    bind 192.0.2.1:PORT\n    default_backend tc\n\
         backend tc\n    option tcp-check\n    default-server check inter 300ms fall 1 rise 1 verify none\n\
         \x20   tcp-check connect ssl sni srv.test\n{send}    tcp-check expect string \"200 OK\"\n\
         \x20   server named 198.51.100.10:443\n    server plain 198.51.100.11:80\n\
         backend implicit\n    option tcp-check\n    default-server check inter 300ms fall 1 rise 1 verify none\n\
         {send}    tcp-check expect string \"200 OK\"\n\
         \x20   server named 198.51.100.10:443 check-ssl check-sni srv.test\n\
         \x20   server unnamed 198.51.100.10:443 check-ssl\n\
         backend wrong\n    option tcp-check\n    default-server check inter 300ms fall 1 rise 1 verify none\n\
         \x20   tcp-check connect ssl sni srv.test\n    tcp-check send \"GET /nope HTTP/1.0\\r\\n\\r\\n\"\n\
         \x20   tcp-check expect string \"200 OK\" comment \"wants ok\"\n    server named 198.51.100.10:443\n"
    );
    let (_cw, _hap) = clearway_and_haproxy(&topo, &cfg);
    let status = |port: u16| -> Vec<String> {
        let csv = cli(std::path::Path::new(&format!("{dir}/{port}.sock")), "show stat");
        csv_rows(&csv)
            .into_iter()
            .filter(|r| r["svname"] != "FRONTEND" && r["svname"] != "BACKEND")
            .map(|r| {
                // What layer 7 said, word for word; below it, the status only.
                let st = r["check_status"].trim_start_matches("* ").to_string();
                let info = if st.starts_with("L7") {
                    r["last_chk"].clone()
                } else {
                    String::new()
                };
                format!("{}/{} {st} {info}", r["pxname"], r["svname"])
            })
            .collect()
    };
    let want = [
        "tc/named L7OK (tcp-check)",
        "tc/plain L6RSP ",
        "implicit/named L7OK (tcp-check)",
        "implicit/unnamed L6RSP ",
        "wrong/named L7RSP TCPCHK did not match content '200 OK' at step 3 comment: wants ok",
    ];
    for port in [81, 80] {
        assert!(eventually(|| status(port) == want), "port {port}: {:?}", status(port));
    }
}
