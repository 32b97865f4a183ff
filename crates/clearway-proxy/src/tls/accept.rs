//! The server side of TLS (`bind ... ssl`): the certificate for each handshake chosen by
//! SNI as HAProxy chooses it (exact names before wildcards, `crt-list` filters, the key type
//! the client can use, the first certificate as default unless `strict-sni`), each with its
//! settings (a `crt-list` line's own, else the bind line's): versions, suites, groups, ALPN
//! and client-certificate checks.

use super::cert::{openssl_errors, VerifyResult};
use super::{load_certified, pem_certs, pem_crls, provider, roots, versions};
use crate::error::BuildError;
use clearway_config::model::{BindTls, CertEntry, ClientAuth, IgnoreErr, Span, TlsPolicy, Verify};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{DigitallySignedStruct, DistinguishedName};
use rustls::{ServerConfig, SignatureScheme};
use std::sync::Arc;

/// The TLS side of a listener.
#[derive(Clone)]
pub struct Acceptor(Arc<Table>);

impl std::fmt::Debug for Acceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Acceptor")
    }
}

/// One certificate and the names it answers.
struct Entry {
    ck: Arc<CertifiedKey>,
    /// Lower-case names, and wildcard names as their parent domain (`*.a.b` as `a.b`).
    exact: Vec<String>,
    wild: Vec<String>,
    /// Negative filters (`!name`, `!*.parent`, `!*`).
    not_exact: Vec<String>,
    not_wild: Vec<String>,
    not_any: bool,
    /// Its configuration, in `Table::configs`.
    config: usize,
}

impl Entry {
    fn excludes(&self, name: &str, parent: Option<&str>) -> bool {
        self.not_any
            || self.not_exact.iter().any(|n| n == name)
            || parent.is_some_and(|p| self.not_wild.iter().any(|n| n == p))
    }
}

struct Table {
    entries: Vec<Entry>,
    configs: Vec<Arc<ServerConfig>>,
    /// Per configuration: its verifier when it lets some errors through.
    lenient: Vec<Option<Arc<Lenient>>>,
    strict_sni: bool,
}

impl Table {
    /// The certificate for a handshake: a name match first, then a wildcard match, then the
    /// first certificate (none with `strict-sni`). Among several, the first whose key the
    /// client can use.
    fn choose(&self, sni: Option<&str>, schemes: &[SignatureScheme]) -> Option<&Entry> {
        let pick = |hit: &dyn Fn(&Entry) -> bool| {
            let mut hits = self.entries.iter().filter(|e| hit(e)).peekable();
            let first = hits.peek().copied();
            hits.find(|e| e.ck.key.choose_scheme(schemes).is_some()).or(first)
        };
        if let Some(sni) = sni {
            let name = sni.to_ascii_lowercase();
            let parent = name.split_once('.').map(|(_, p)| p);
            let found = pick(&|e| e.exact.contains(&name) && !e.excludes(&name, parent)).or_else(|| {
                parent.and_then(|p| pick(&|e| e.wild.iter().any(|w| w == p) && !e.excludes(&name, parent)))
            });
            if found.is_some() {
                return found;
            }
        }
        if self.strict_sni {
            None
        } else {
            self.entries.first()
        }
    }
}

impl Acceptor {
    /// Reads the client's hello, chooses the certificate and its settings, and completes the
    /// handshake; with what verifying the client's certificate found, when `*-ignore-err`
    /// let it through.
    pub async fn accept<IO>(&self, io: IO) -> std::io::Result<(tokio_rustls::server::TlsStream<IO>, VerifyResult)>
    where
        IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        let start = tokio_rustls::LazyConfigAcceptor::new(rustls::server::Acceptor::default(), io).await?;
        let hello = start.client_hello();
        let entry = self
            .0
            .choose(hello.server_name(), hello.signature_schemes())
            .ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "no certificate for SNI '{}' (strict-sni)",
                        hello.server_name().unwrap_or("")
                    ),
                )
            })?;
        let config = self.0.configs[entry.config].clone();
        let lenient = self.0.lenient[entry.config].clone();
        let stream = start.into_stream(config).await?;
        let found = match (&lenient, stream.get_ref().1.peer_certificates()) {
            (Some(l), Some([leaf, rest @ ..])) => l.found(leaf, rest),
            _ => VerifyResult::default(),
        };
        Ok((stream, found))
    }
}

/// Always the certificate `Table::choose` chose.
#[derive(Debug)]
struct Chosen(Arc<CertifiedKey>);

impl ResolvesServerCert for Chosen {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}

/// How client certificates are checked: None with `verify none`.
/// The client checks, and the lenient verifier among them when `*-ignore-err` is set.
type Checks = (Arc<dyn ClientCertVerifier>, Option<Arc<Lenient>>);

fn client_verifier(c: &ClientAuth, prov: &Arc<CryptoProvider>) -> Result<Option<Checks>, String> {
    if c.verify() == Verify::None {
        return Ok(None);
    }
    let mut all = rustls::RootCertStore::empty();
    let mut named = rustls::RootCertStore::empty();
    if let Some(f) = &c.ca_file {
        let certs = pem_certs(f, "ca-file")?;
        let what = format!("ca-file {}", f.display());
        roots(certs.clone(), &mut named, &what)?;
        roots(certs, &mut all, &what)?;
    }
    if let Some(f) = &c.ca_verify_file {
        roots(
            pem_certs(f, "ca-verify-file")?,
            &mut all,
            &format!("ca-verify-file {}", f.display()),
        )?;
    }
    let mut b = WebPkiClientVerifier::builder_with_provider(Arc::new(all), prov.clone()).clear_root_hint_subjects();
    if !c.no_ca_names {
        b = b.add_root_hint_subjects(named.subjects());
    }
    if let Some(f) = &c.crl_file {
        b = b.with_crls(pem_crls(f)?);
    }
    if c.verify() == Verify::Optional {
        b = b.allow_unauthenticated();
    }
    let strict = b.build().map_err(|e| format!("client certificates: {e}"))?;
    if c.ca_ignore == IgnoreErr::None && c.crt_ignore == IgnoreErr::None {
        return Ok(Some((strict, None)));
    }
    let lenient = Arc::new(Lenient {
        strict,
        ca: c.ca_ignore.clone(),
        crt: c.crt_ignore.clone(),
    });
    Ok(Some((lenient.clone(), Some(lenient))))
}

/// `ca-ignore-err` / `crt-ignore-err`: a client certificate whose errors are all among those
/// listed is let through (the handshake's signature is still checked), and what was found is
/// kept for `ssl_c_verify`, `ssl_c_err`, `ssl_c_ca_err`.
#[derive(Debug)]
struct Lenient {
    strict: Arc<dyn ClientCertVerifier>,
    ca: IgnoreErr,
    crt: IgnoreErr,
}

impl Lenient {
    /// What verifying the certificate finds (after a handshake this verifier let through).
    fn found(&self, leaf: &CertificateDer<'_>, rest: &[CertificateDer<'_>]) -> VerifyResult {
        match self.strict.verify_client_cert(leaf, rest, UnixTime::now()) {
            Ok(_) => VerifyResult::default(),
            Err(e) => VerifyResult::of(&openssl_errors(&e, leaf, rest.len())),
        }
    }
}

impl ClientCertVerifier for Lenient {
    fn offer_client_auth(&self) -> bool {
        self.strict.offer_client_auth()
    }
    fn client_auth_mandatory(&self) -> bool {
        self.strict.client_auth_mandatory()
    }
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.strict.root_hint_subjects()
    }
    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        match self.strict.verify_client_cert(end_entity, intermediates, now) {
            Err(e) => {
                let all_ignored = openssl_errors(&e, end_entity, intermediates.len())
                    .iter()
                    .all(|&(own, code)| if own { &self.crt } else { &self.ca }.ignores(code));
                if all_ignored {
                    Ok(ClientCertVerified::assertion())
                } else {
                    Err(e)
                }
            }
            ok => ok,
        }
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.strict.verify_tls12_signature(m, c, d)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.strict.verify_tls13_signature(m, c, d)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.strict.supported_verify_schemes()
    }
}

/// The settings certificates share: the policy as a provider, the client checks, ALPN.
struct Shared {
    prov: Arc<CryptoProvider>,
    verifier: Option<Checks>,
    alpn: Vec<Vec<u8>>,
}

impl Shared {
    fn new(policy: &TlsPolicy, client: &ClientAuth, alpn: Vec<Vec<u8>>) -> Result<Shared, String> {
        let prov = provider(policy);
        let verifier = client_verifier(client, &prov)?;
        Ok(Shared { prov, verifier, alpn })
    }

    /// The configuration of a handshake that chose `ck`.
    fn config(
        &self,
        prefer_client: bool,
        ck: Arc<CertifiedKey>,
        sessions: &Arc<dyn rustls::server::StoresServerSessions>,
    ) -> Result<ServerConfig, String> {
        let builder = ServerConfig::builder_with_provider(self.prov.clone())
            .with_protocol_versions(&versions(&self.prov))
            .map_err(|e| format!("TLS versions: {e}"))?;
        let builder = match &self.verifier {
            Some((v, _)) => builder.with_client_cert_verifier(v.clone()),
            None => builder.with_no_client_auth(),
        };
        let mut cfg = builder.with_cert_resolver(Arc::new(Chosen(ck)));
        cfg.alpn_protocols = self.alpn.clone();
        cfg.ignore_client_order = !prefer_client;
        cfg.session_storage = sessions.clone();
        Ok(cfg)
    }
}

/// The names a certificate answers when its line gives no SNI filter: its subject's common
/// names and its DNS subject alternative names.
fn own_names(ck: &CertifiedKey) -> Vec<String> {
    let Ok(der) = ck.end_entity_cert() else {
        return Vec::new();
    };
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else {
        return Vec::new();
    };
    let mut names: Vec<String> = cert
        .subject()
        .iter_common_name()
        .filter_map(|cn| cn.as_str().ok().map(str::to_string))
        .collect();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for n in &san.value.general_names {
            if let x509_parser::extensions::GeneralName::DNSName(d) = n {
                names.push(d.to_string());
            }
        }
    }
    names
}

fn entry(e: &CertEntry, ck: Arc<CertifiedKey>, config: usize) -> Entry {
    let mut out = Entry {
        exact: Vec::new(),
        wild: Vec::new(),
        not_exact: Vec::new(),
        not_wild: Vec::new(),
        not_any: false,
        config,
        ck,
    };
    let names = if e.filters.is_empty() {
        own_names(&out.ck)
    } else {
        e.filters.clone()
    };
    for n in names {
        let n = n.to_ascii_lowercase();
        let (neg, n) = match n.strip_prefix('!') {
            Some(rest) => (true, rest.to_string()),
            None => (false, n),
        };
        match (neg, n.strip_prefix("*.")) {
            (true, _) if n == "*" => out.not_any = true,
            (true, Some(p)) => out.not_wild.push(p.to_string()),
            (true, None) => out.not_exact.push(n),
            (false, Some(p)) => out.wild.push(p.to_string()),
            (false, None) => out.exact.push(n),
        }
    }
    out
}

/// The TLS server side of one bind line. `http`: offer `h2,http/1.1` when the bind line
/// sets no `alpn`.
pub fn acceptor(b: &BindTls, http: bool, span: &Span) -> Result<Acceptor, BuildError> {
    let err = |m: String| BuildError {
        span: span.clone(),
        message: m,
    };
    let alpn_of = |alpn: &[String]| -> Vec<Vec<u8>> {
        if alpn.is_empty() && http {
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        } else {
            alpn.iter().map(|p| p.as_bytes().to_vec()).collect()
        }
    };
    let sessions: Arc<dyn rustls::server::StoresServerSessions> = rustls::server::ServerSessionMemoryCache::new(256);
    let mut table = Table {
        entries: Vec::new(),
        configs: Vec::new(),
        lenient: Vec::new(),
        strict_sni: b.strict_sni,
    };
    let line = Shared::new(&b.policy, &b.client, alpn_of(&b.alpn)).map_err(err)?;
    for e in &b.certs {
        let ck = Arc::new(load_certified(&e.file, &line.prov).map_err(err)?);
        let own = match &e.conf {
            Some(c) => Some(
                Shared::new(&c.policy, &c.client, alpn_of(c.alpn.as_deref().unwrap_or(&[])))
                    .map_err(|m| err(format!("crt-list line for '{}': {m}", e.file.display())))?,
            ),
            None => None,
        };
        let cfg = own
            .as_ref()
            .unwrap_or(&line)
            .config(b.prefer_client_ciphers, ck.clone(), &sessions)
            .map_err(|m| err(format!("'{}': {m}", e.file.display())))?;
        table.configs.push(Arc::new(cfg));
        table.lenient.push(
            own.as_ref()
                .unwrap_or(&line)
                .verifier
                .as_ref()
                .and_then(|(_, l)| l.clone()),
        );
        table.entries.push(entry(e, ck, table.configs.len() - 1));
    }
    Ok(Acceptor(Arc::new(table)))
}
