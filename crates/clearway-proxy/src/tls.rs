//! TLS with rustls (ring): the server side of `bind ... ssl crt ...` (certificates loaded
//! once, the one matching the client's SNI chosen per handshake, the first one otherwise) and
//! the client side of `server ... ssl` (verification against `ca-file`, or none). Owns
//! certificate loading and verification policy; must not move application bytes.

use crate::error::BuildError;
use clearway_config::model::{BindTls, ServerTls, Sni, Span, TlsVersion};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn versions(min: Option<TlsVersion>, max: Option<TlsVersion>) -> Vec<&'static rustls::SupportedProtocolVersion> {
    let (lo, hi) = (min.unwrap_or(TlsVersion::Tls12), max.unwrap_or(TlsVersion::Tls13));
    let mut v = Vec::new();
    if lo <= TlsVersion::Tls13 && hi >= TlsVersion::Tls13 {
        v.push(&rustls::version::TLS13);
    }
    if lo <= TlsVersion::Tls12 && hi >= TlsVersion::Tls12 {
        v.push(&rustls::version::TLS12);
    }
    v
}

/// A certificate chain and key from one PEM file (the key may also sit in `FILE.key`, as
/// HAProxy allows).
fn load_certified(path: &Path, provider: &CryptoProvider) -> Result<CertifiedKey, String> {
    let pem = std::fs::read(path).map_err(|e| format!("cannot read '{}': {e}", path.display()))?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("'{}': bad PEM certificate: {e}", path.display()))?;
    if chain.is_empty() {
        return Err(format!("'{}' holds no certificate", path.display()));
    }
    let key = match PrivateKeyDer::from_pem_slice(&pem) {
        Ok(k) => k,
        Err(_) => {
            let side = format!("{}.key", path.display());
            PrivateKeyDer::from_pem_file(&side)
                .map_err(|_| format!("'{}' holds no private key (and there is no '{side}')", path.display()))?
        }
    };
    CertifiedKey::from_der(chain, key, provider).map_err(|e| format!("'{}': {e}", path.display()))
}

/// Chooses the certificate for a handshake by the client's SNI.
#[derive(Debug)]
struct SniResolver {
    certs: Vec<Arc<CertifiedKey>>,
}

impl SniResolver {
    fn valid_for(ck: &CertifiedKey, name: &ServerName<'_>) -> bool {
        ck.end_entity_cert()
            .ok()
            .and_then(|der| webpki::EndEntityCert::try_from(der).ok())
            .is_some_and(|ee| ee.verify_is_valid_for_subject_name(name).is_ok())
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let chosen = hello
            .server_name()
            .and_then(|sni| ServerName::try_from(sni).ok())
            .and_then(|name| self.certs.iter().find(|c| Self::valid_for(c, &name)));
        chosen.or(self.certs.first()).cloned()
    }
}

/// The TLS server configuration of one bind line. `http`: offer `h2,http/1.1` when the bind
/// line sets no `alpn`.
pub fn acceptor(b: &BindTls, http: bool, span: &Span) -> Result<Acceptor, BuildError> {
    let provider = provider();
    let err = |m: String| BuildError {
        span: span.clone(),
        message: m,
    };
    let certs = b
        .crts
        .iter()
        .map(|p| load_certified(p, &provider).map(Arc::new))
        .collect::<Result<Vec<_>, _>>()
        .map_err(err)?;
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions(b.min_ver, b.max_ver))
        .map_err(|e| err(format!("TLS versions: {e}")))?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(SniResolver { certs }));
    cfg.alpn_protocols = if b.alpn.is_empty() && http {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        b.alpn.iter().map(|p| p.as_bytes().to_vec()).collect()
    };
    Ok(Acceptor(tokio_rustls::TlsAcceptor::from(Arc::new(cfg))))
}

/// What a client's TLS handshake said, for `ssl_fc_sni` and the protocol choice.
#[derive(Debug, Clone, Default)]
pub struct ClientTls {
    pub sni: Option<String>,
    pub alpn: Option<Vec<u8>>,
    /// The protocol version, as OpenSSL names it (`TLSv1.3`).
    pub version: &'static str,
    /// The cipher suite, as OpenSSL names it (`TLS_AES_256_GCM_SHA384`,
    /// `ECDHE-RSA-AES128-GCM-SHA256`).
    pub cipher: &'static str,
}

impl ClientTls {
    pub fn of<IO>(s: &tokio_rustls::server::TlsStream<IO>) -> ClientTls {
        let c = s.get_ref().1;
        ClientTls {
            sni: c.server_name().map(str::to_string),
            alpn: c.alpn_protocol().map(<[u8]>::to_vec),
            version: match c.protocol_version() {
                Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3",
                Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2",
                _ => "",
            },
            cipher: c.negotiated_cipher_suite().map_or("", |s| openssl_name(s.suite())),
        }
    }
}

/// OpenSSL's name for a cipher suite rustls speaks (what HAProxy reports and logs).
pub fn openssl_name(s: rustls::CipherSuite) -> &'static str {
    use rustls::CipherSuite as C;
    match s {
        C::TLS13_AES_128_GCM_SHA256 => "TLS_AES_128_GCM_SHA256",
        C::TLS13_AES_256_GCM_SHA384 => "TLS_AES_256_GCM_SHA384",
        C::TLS13_CHACHA20_POLY1305_SHA256 => "TLS_CHACHA20_POLY1305_SHA256",
        C::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 => "ECDHE-ECDSA-AES128-GCM-SHA256",
        C::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 => "ECDHE-ECDSA-AES256-GCM-SHA384",
        C::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 => "ECDHE-ECDSA-CHACHA20-POLY1305",
        C::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => "ECDHE-RSA-AES128-GCM-SHA256",
        C::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 => "ECDHE-RSA-AES256-GCM-SHA384",
        C::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 => "ECDHE-RSA-CHACHA20-POLY1305",
        _ => "",
    }
}

/// How Clearway opens TLS to one server.
#[derive(Clone)]
pub struct Connector {
    pub connector: tokio_rustls::TlsConnector,
    /// The name given to rustls when no per-request SNI applies: the fixed SNI, else the name
    /// to verify, else the server's address (then no SNI is sent).
    pub name: ServerName<'static>,
    /// `sni req.hdr(host)` and the like: the SNI comes from each request.
    pub sni_fetch: Option<clearway_config::rules::Fetch>,
}

impl Connector {
    /// The name for a connection whose per-request SNI is `sni` (None: use the fixed one).
    pub fn name_for(&self, sni: Option<&str>) -> ServerName<'static> {
        sni.and_then(|n| ServerName::try_from(n.to_string()).ok())
            .unwrap_or_else(|| self.name.clone())
    }
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// The TLS side of a listener.
#[derive(Clone)]
pub struct Acceptor(pub tokio_rustls::TlsAcceptor);

impl std::fmt::Debug for Acceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Acceptor")
    }
}

/// Which name a server certificate must be valid for.
#[derive(Debug)]
enum NameCheck {
    /// `verifyhost`, else a fixed `sni`.
    Fixed(ServerName<'static>),
    /// A per-request SNI: the name the connection was opened for, when it is a host name.
    FromConnect,
    /// None configured: the chain only, as HAProxy does.
    None,
}

/// Checks a server's certificate: the chain against the CA file and the name as `NameCheck`
/// says, or nothing at all with `verify none` (`chain: None`). The handshake's signatures are
/// checked either way.
#[derive(Debug)]
struct Verifier {
    chain: Option<Arc<rustls::client::WebPkiServerVerifier>>,
    name: NameCheck,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        let (name, strict) = match &self.name {
            NameCheck::Fixed(n) => (n, true),
            NameCheck::FromConnect => (server_name, matches!(server_name, ServerName::DnsName(_))),
            NameCheck::None => (server_name, false),
        };
        match chain.verify_server_cert(end_entity, intermediates, name, ocsp, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !strict => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, &self.provider.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &self.provider.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

fn dns_name(n: &str, what: &str) -> Result<ServerName<'static>, String> {
    ServerName::try_from(n.to_string()).map_err(|_| format!("'{what} {n}' is not a valid host name"))
}

/// The TLS client configuration for one server.
pub fn connector(t: &ServerTls, server_ip: IpAddr, span: &Span) -> Result<Connector, BuildError> {
    let err = |m: String| BuildError {
        span: span.clone(),
        message: m,
    };
    let provider = provider();
    let (sni, sni_fetch) = match &t.sni {
        Some(Sni::Fixed(n)) => (Some(dns_name(n, "sni").map_err(err)?), None),
        Some(Sni::Fetch(f)) => (None, Some(f.clone())),
        None => (None, None),
    };
    let host = t
        .verifyhost
        .as_deref()
        .map(|n| dns_name(n, "verifyhost"))
        .transpose()
        .map_err(err)?;
    let chain = if t.verify {
        let path = t
            .ca_file
            .as_ref()
            .ok_or_else(|| err("no 'ca-file' to verify the server with".into()))?;
        let mut roots = rustls::RootCertStore::empty();
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .and_then(|it| it.collect::<Result<_, _>>())
            .map_err(|e| err(format!("'ca-file {}': {e}", path.display())))?;
        let (added, _) = roots.add_parsable_certificates(certs);
        if added == 0 {
            return Err(err(format!(
                "'ca-file {}' holds no usable CA certificate",
                path.display()
            )));
        }
        let v = rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .map_err(|e| err(format!("'ca-file {}': {e}", path.display())))?;
        Some(v)
    } else {
        None
    };
    let name = match (host.clone().or(sni.clone()), &sni_fetch) {
        (Some(n), _) => NameCheck::Fixed(n),
        (None, Some(_)) => NameCheck::FromConnect,
        (None, None) => NameCheck::None,
    };
    let verifier = Arc::new(Verifier {
        chain,
        name,
        provider: provider.clone(),
    });
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions(None, None))
        .map_err(|e| err(format!("TLS versions: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    cfg.alpn_protocols = t.alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    cfg.enable_sni = sni.is_some() || sni_fetch.is_some();
    // With a per-request SNI and no value for it, no SNI is sent: the fallback is the address.
    let name = match sni_fetch {
        Some(_) => ServerName::IpAddress(server_ip.into()),
        None => sni.or(host).unwrap_or(ServerName::IpAddress(server_ip.into())),
    };
    Ok(Connector {
        connector: tokio_rustls::TlsConnector::from(Arc::new(cfg)),
        name,
        sni_fetch,
    })
}

/// How long a TLS handshake may take when no client-side timeout is set.
pub const HANDSHAKE_DEFAULT: std::time::Duration = std::time::Duration::from_secs(10);
