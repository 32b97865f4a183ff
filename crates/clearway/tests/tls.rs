//! TLS end to end: certificates from a throw-away CA (real openssl), curl, h2load and nginx as
//! the clients and servers, the real binary in network namespaces.

mod common;
use clearway_testkit::{HttpEchoServer, Pki};
use common::*;

const DEFAULTS: &str =
    "defaults\n    mode http\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n";

/// nginx on `ip` (HTTP/1.1 on :80, h2c on :81, TLS with ALPN h2 on :443) with `leaf`.
fn nginx(
    topo: &clearway_testkit::Topology,
    ip: &str,
    leaf: &clearway_testkit::Leaf,
) -> clearway_testkit::daemons::Daemon {
    clearway_testkit::daemons::nginx_with_cert(
        &topo.server,
        addr(&format!("{ip}:80")),
        addr(&format!("{ip}:443")),
        Some((&leaf.crt, &leaf.key)),
    )
}

#[test]
fn sni_chooses_the_certificate_and_alpn_gives_http2() {
    let Some(topo) = topology("tsni") else { return };
    let pki = Pki::new("pki");
    let certs = pki.dir().join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    let a = pki.leaf("a", &["a.test"]);
    let b = pki.leaf("b", &["b.test", "*.b.test"]);
    std::fs::copy(&a.pem, certs.join("1-a.pem")).unwrap();
    std::fs::copy(&b.pem, certs.join("2-b.pem")).unwrap();
    let _web = HttpEchoServer::start(&topo.server, addr("198.51.100.10:80"), "web");
    let _bweb = HttpEchoServer::start(&topo.server, addr("198.51.100.11:80"), "bweb");
    let cfg = format!(
        "{DEFAULTS}frontend ft\n    bind 192.0.2.1:443 ssl crt {}\n    http-request set-header X-Proto %[ssl_fc]\n\
         use_backend bk_b if {{ ssl_fc_sni -m end b.test }}\n    default_backend bk\n\
         backend bk\n    server web 198.51.100.10:80\nbackend bk_b\n    server bweb 198.51.100.11:80\n",
        certs.display()
    );
    let _lb = start(&topo, &cfg, &[443]);
    let ca = pki.ca_file();
    // Each name gets its own certificate: curl verifies it against the name.
    let (ok, body, err) = curl_tls(
        &topo,
        &ca,
        "a.test",
        "192.0.2.1",
        "https://a.test/",
        &["-w", "\nversion=%{http_version}\n"],
    );
    assert!(ok, "{err}");
    assert!(body.contains("server=web"), "{body}");
    assert!(body.contains("version=2\n"), "ALPN h2 by default in mode http: {body}");
    assert!(body.contains("h:x-proto: 1"), "{body}");
    let (ok, body, err) = curl_tls(
        &topo,
        &ca,
        "www.b.test",
        "192.0.2.1",
        "https://www.b.test/",
        &["--http1.1", "-w", "\nversion=%{http_version}\n"],
    );
    assert!(ok, "{err}");
    assert!(body.contains("server=bweb"), "routed by ssl_fc_sni: {body}");
    assert!(body.contains("version=1.1\n"), "{body}");
    // An unknown name gets the first certificate, which curl rightly refuses for that name.
    let (ok, _, err) = curl_tls(&topo, &ca, "c.test", "192.0.2.1", "https://c.test/", &[]);
    assert!(!ok, "c.test must not verify");
    assert!(err.contains("a.test") || err.contains("SSL"), "{err}");
}

#[test]
fn h2load_over_tls_and_h2c() {
    let Some(topo) = topology("th2l") else { return };
    let pki = Pki::new("pki");
    let leaf = pki.leaf("lb", &["lb.test"]);
    let _web = HttpEchoServer::start(&topo.server, addr("198.51.100.10:80"), "web");
    let cfg = format!(
        "{DEFAULTS}frontend ft\n    bind 192.0.2.1:443 ssl crt {}\n    bind 192.0.2.1:80\n    default_backend bk\n\
         backend bk\n    server web 198.51.100.10:80\n",
        leaf.pem.display()
    );
    let _lb = start(&topo, &cfg, &[443, 80]);
    for url in ["https://192.0.2.1/", "http://192.0.2.1/"] {
        let out = topo.client.exec("h2load", &["-n", "400", "-c", "4", "-m", "8", url]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "h2load {url}: {text} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.contains("400 succeeded, 0 failed, 0 errored"),
            "h2load {url}: {text}"
        );
        assert!(text.contains("Application protocol: h2"), "{text}");
    }
}

#[test]
fn tls_to_the_server_is_verified_against_ca_file() {
    let Some(topo) = topology("tsrv") else { return };
    let pki = Pki::new("pki");
    let other = Pki::new("pkx");
    let leaf = pki.leaf("backend", &["backend.test"]);
    let _nginx = nginx(&topo, "198.51.100.10", &leaf);
    let cfg = format!(
        "{DEFAULTS}    retries 0\nfrontend ft\n    bind 192.0.2.1:80\n    bind 192.0.2.1:81\n    bind 192.0.2.1:82\n    bind 192.0.2.1:83\n\
         use_backend good if {{ dst_port 80 }}\n    use_backend wrong_ca if {{ dst_port 81 }}\n\
         use_backend wrong_name if {{ dst_port 82 }}\n    default_backend unverified\n\
         backend good\n    server s1 198.51.100.10:443 ssl verify required ca-file {ca} sni str(backend.test)\n\
         backend wrong_ca\n    server s1 198.51.100.10:443 ssl ca-file {other}\n\
         backend wrong_name\n    server s1 198.51.100.10:443 ssl ca-file {ca} sni str(backend.test) verifyhost other.test\n\
         backend unverified\n    server s1 198.51.100.10:443 ssl verify none\n",
        ca = pki.ca_file().display(),
        other = other.ca_file().display()
    );
    let lb = start(&topo, &cfg, &[80, 81, 82, 83]);
    let code = |port: u16| http_code(&topo, &format!("http://192.0.2.1:{port}/"), &[]);
    assert_eq!(code(80), "200", "{}", lb.log());
    assert_eq!(code(81), "503", "a server certificate from another CA is refused");
    assert!(
        lb.wait_log("TLS handshake with the server failed", TIMEOUT),
        "{}",
        lb.log()
    );
    assert_eq!(
        code(82),
        "503",
        "a certificate for another name is refused with verifyhost"
    );
    assert_eq!(code(83), "200", "verify none accepts it");
}

#[test]
fn tls_termination_in_tcp_mode() {
    let Some(topo) = topology("ttcp") else { return };
    let pki = Pki::new("pki");
    let leaf = pki.leaf("lb", &["lb.test"]);
    let _srv = peer_servers(&topo, &["198.51.100.10:80"]);
    let cfg = format!(
        "defaults\n    mode tcp\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n\
         listen tls\n    bind 192.0.2.1:443 ssl crt {}\n    server s1 198.51.100.10:80\n",
        leaf.pem.display()
    );
    let _lb = start(&topo, &cfg, &[443]);
    let (ok, body, err) = curl_tls(&topo, &pki.ca_file(), "lb.test", "192.0.2.1", "https://lb.test/", &[]);
    assert!(ok, "{err}");
    assert!(body.contains("server=s1 peer=198.51.100.1:"), "{body}");
}

#[test]
fn config_errors_for_tls() {
    let Some(_topo) = topology("tcfg") else { return };
    let pki = Pki::new("pki");
    let list = pki.dir().join("list.txt");
    std::fs::write(&list, "# one\n/etc/hostname [verfy required] a.test\n").unwrap();
    let crt_list_cfg = format!("frontend f\n    bind :443 ssl crt-list {}\n", list.display());
    for (cfg, want) in [
        ("frontend f\n    bind :443 ssl\n", "'ssl' needs a certificate"),
        (
            "frontend f\n    bind :443 ssl crt /nonexistent.pem\n",
            "crt /nonexistent.pem",
        ),
        ("backend b\n    server s 192.0.2.1:443 ssl\n", "no 'ca-file'"),
        (
            "backend b\n    server s 192.0.2.1:443 ssl verify requird\n",
            "did you mean 'required'",
        ),
        (
            "frontend f\n    bind :443 ssl crt /etc/hostname ssl-min-ver TLSv9\n",
            "unknown TLS version",
        ),
        (
            "frontend f\n    bind :443 ssl crt /etc/hostname ciphers HIGH:ECDHE-RSA-AES128-GCM-SHA265\n",
            "unknown cipher name 'ECDHE-RSA-AES128-GCM-SHA265'",
        ),
        (
            "frontend f\n    bind :443 ssl crt /etc/hostname verify required\n",
            "no 'ca-file' says which CAs to trust",
        ),
        (
            "global\n    ssl-default-bind-options no-tlsv12 no-tlsv13\nfrontend f\n    bind :443 ssl crt /etc/hostname\n",
            "no TLS version is left",
        ),
        (
            "frontend f\n    bind :443 ssl crt /etc/hostname curves X448\n",
            "names no group Clearway speaks",
        ),
        (crt_list_cfg.as_str(), "list.txt:2: 'verfy' is not a setting a crt-list line may give"),
    ] {
        let out = clearway_testkit::Clearway::check(binary(), cfg);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{cfg}");
        assert!(err.contains(want), "{cfg}: {err}");
    }
}

#[test]
fn sni_routing_in_tcp_mode_without_decrypting() {
    let Some(topo) = topology("tsnr") else { return };
    let pki = Pki::new("pki");
    let (a, b) = (pki.leaf("a", &["a.test"]), pki.leaf("b", &["b.test"]));
    let _na = nginx(&topo, "198.51.100.10", &a);
    let _nb = nginx(&topo, "198.51.100.11", &b);
    let cfg = "defaults\n    mode tcp\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n\
               frontend ft\n    bind 192.0.2.1:443\n    tcp-request inspect-delay 5s\n\
               tcp-request content accept if { req.ssl_hello_type 1 }\n    tcp-request content reject\n\
               use_backend bk_a if { req.ssl_sni -i a.test }\n    use_backend bk_b if { req_ssl_sni -i B.test }\n\
               backend bk_a\n    server a 198.51.100.10:443\nbackend bk_b\n    server b 198.51.100.11:443\n";
    let lb = start(&topo, cfg, &[443]);
    // Each name reaches the nginx holding its certificate: curl verifies it end to end.
    for host in ["a.test", "b.test", "a.test"] {
        let (ok, body, err) = curl_tls(
            &topo,
            &pki.ca_file(),
            host,
            "192.0.2.1",
            &format!("https://{host}/"),
            &[],
        );
        assert!(ok, "{host}: {err}\n{}", lb.log());
        assert_eq!(body, "ok\n");
    }
    // No SNI matches and no default backend: the connection is closed.
    let (ok, _, _) = curl_tls(&topo, &pki.ca_file(), "c.test", "192.0.2.1", "https://c.test/", &[]);
    assert!(!ok);
    // Plain text is not a ClientHello: rejected by the second rule.
    let got = clearway_testkit::request(
        &topo.client,
        addr("192.0.2.1:443"),
        None,
        b"GET / HTTP/1.0\r\n\r\n",
        TIMEOUT,
    )
    .expect("connect");
    assert_eq!(got, "", "closed without an answer");
    assert!(
        lb.wait_log("rejected by 'tcp-request content reject'", TIMEOUT),
        "{}",
        lb.log()
    );
}

#[test]
fn http2_to_servers_by_alpn_and_by_proto_h2() {
    let Some(topo) = topology("th2s") else { return };
    let pki = Pki::new("pki");
    let leaf = pki.leaf("backend", &["backend.test"]);
    // nginx: HTTP/1.1 on :80, h2c on :81, TLS with ALPN h2 on :443.
    let _nginx = nginx(&topo, "198.51.100.10", &leaf);
    let cfg = format!(
        "{DEFAULTS}frontend ft\n    bind 192.0.2.1:80\n    bind 192.0.2.1:81\n    bind 192.0.2.1:82\n\
         use_backend alpn if {{ dst_port 81 }}\n    use_backend h2c if {{ dst_port 82 }}\n    default_backend h1\n\
         backend h1\n    server s1 198.51.100.10:80\n\
         backend alpn\n    server s1 198.51.100.10:443 ssl verify required ca-file {} sni str(backend.test) alpn h2,http/1.1\n\
         backend h2c\n    server s1 198.51.100.10:81 proto h2\n",
        pki.ca_file().display()
    );
    let lb = start(&topo, &cfg, &[80, 81, 82]);
    let proto = |port: u16| {
        let url = format!("http://192.0.2.1:{port}/proto");
        let out = topo.client.exec("curl", &["-sS", "--max-time", "10", &url, &url]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(proto(80), "HTTP/1.1\nHTTP/1.1\n");
    assert_eq!(proto(81), "HTTP/2.0\nHTTP/2.0\n", "{}", lb.log());
    assert_eq!(proto(82), "HTTP/2.0\nHTTP/2.0\n", "{}", lb.log());
}

#[test]
fn server_sni_from_the_request_host() {
    let Some(topo) = topology("tdsn") else { return };
    let pki = Pki::new("pki");
    let leaf = pki.leaf("backend", &["a.backend.test"]);
    let _nginx = nginx(&topo, "198.51.100.10", &leaf);
    let cfg = format!(
        "{DEFAULTS}    retries 0\nfrontend ft\n    bind 192.0.2.1:80\n    default_backend bk\n\
         backend bk\n    server s1 198.51.100.10:443 ssl ca-file {} sni req.hdr(host)\n",
        pki.ca_file().display()
    );
    let lb = start(&topo, &cfg, &[80]);
    let code = |host: &str| http_code(&topo, "http://192.0.2.1/", &["-H", &format!("Host: {host}")]);
    // The certificate is checked against the SNI each request sends.
    assert_eq!(code("a.backend.test:8443"), "200", "{}", lb.log());
    assert_eq!(code("b.backend.test"), "503", "a name the certificate does not cover");
    assert!(
        lb.wait_log("TLS handshake with the server failed", TIMEOUT),
        "{}",
        lb.log()
    );
    assert_eq!(code("a.backend.test"), "200");
}

#[test]
fn ssl_min_ver_refuses_older_clients() {
    let Some(topo) = topology("tmin") else { return };
    let pki = Pki::new("pki");
    let leaf = pki.leaf("lb", &["lb.test"]);
    let _web = HttpEchoServer::start(&topo.server, addr("198.51.100.10:80"), "web");
    let cfg = format!(
        "{DEFAULTS}frontend ft\n    bind 192.0.2.1:443 ssl crt {} ssl-min-ver TLSv1.3\n    default_backend bk\n\
         backend bk\n    server web 198.51.100.10:80\n",
        leaf.pem.display()
    );
    let _lb = start(&topo, &cfg, &[443]);
    let ca = pki.ca_file();
    let (ok, body, err) = curl_tls(&topo, &ca, "lb.test", "192.0.2.1", "https://lb.test/", &["--tlsv1.3"]);
    assert!(ok && body.contains("server=web"), "{err}");
    let (ok, _, err) = curl_tls(
        &topo,
        &ca,
        "lb.test",
        "192.0.2.1",
        "https://lb.test/",
        &["--tls-max", "1.2"],
    );
    assert!(!ok, "a TLS 1.2 client must be refused");
    assert!(
        err.contains("SSL") || err.contains("TLS") || err.contains("version"),
        "{err}"
    );
}

#[test]
fn use_server_by_sni_and_use_backend_by_alpn_in_tcp_mode_as_haproxy_does() {
    let Some(topo) = topology("tuse") else { return };
    let pki = Pki::new("pki");
    let (a, b) = (pki.leaf("a", &["a.test"]), pki.leaf("b", &["b.test"]));
    let _na = nginx(&topo, "198.51.100.10", &a);
    let _nb = nginx(&topo, "198.51.100.11", &b);
    // HAProxy's own example: a server with weight 0 takes only what its rule sends it.
    let cfg = "defaults\n    mode tcp\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n\
               frontend ft\n    bind 192.0.2.1:PORT\n    tcp-request inspect-delay 5s\n\
               tcp-request content accept if { req.ssl_hello_type 1 }\n\
               use_backend by_alpn if { req.ssl_alpn acme-tls/1 }\n    default_backend bk\n\
               backend bk\n    use-server a if { req.ssl_sni -i a.test }\n\
               \x20   server a 198.51.100.10:443 weight 0\n    server b 198.51.100.11:443\n\
               backend by_alpn\n    server b 198.51.100.11:443\n";
    let (_cw, _hap) = clearway_and_haproxy(&topo, cfg);
    for port in [80u16, 81] {
        // curl checks each certificate: only nginx a holds a.test's.
        for host in ["a.test", "b.test", "a.test"] {
            let to = format!("{host}:443:192.0.2.1:{port}");
            let out = topo.client.exec(
                "curl",
                &[
                    "-sS",
                    "--max-time",
                    "10",
                    "--cacert",
                    pki.ca_file().to_str().unwrap(),
                    "--connect-to",
                    &to,
                    &format!("https://{host}/"),
                ],
            );
            assert!(
                out.status.success(),
                "{port} {host}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(String::from_utf8_lossy(&out.stdout), "ok\n");
        }
        // The certificate served to a.test: a's, unless the ClientHello offers acme-tls/1.
        let served = |alpn: &str| {
            let to = format!("192.0.2.1:{port}");
            let mut args = vec!["s_client", "-connect", &to, "-servername", "a.test"];
            if !alpn.is_empty() {
                args.extend(["-alpn", alpn]);
            }
            let out = topo.client.exec("openssl", &args);
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            text.lines()
                .find(|l| l.starts_with("subject="))
                .unwrap_or("")
                .to_string()
        };
        assert!(served("").contains("a.test"), "{port}: {}", served(""));
        assert!(served("http/1.1,acme-tls/1").contains("b.test"), "{port}");
        assert!(served("h2").contains("a.test"), "{port}");
    }
}
