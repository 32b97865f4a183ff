//! The client side of TLS (`server ... ssl`): the server's certificate checked against
//! `ca-file` (and `crl-file`) and the name `verifyhost`/`sni` give, or not at all with
//! `verify none`; the TLS policy; a client certificate (`crt`) for servers that ask.

use crate::error::BuildError;
use clearway_config::model::{ServerTls, Sni, Span};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use std::net::IpAddr;
use std::sync::Arc;

/// How Clearway opens TLS to one server.
#[derive(Clone)]
pub struct Connector {
    pub connector: tokio_rustls::TlsConnector,
    /// The same with ALPN offering only `http/1.1`, for WebSocket requests that must not go
    /// over HTTP/2 (`ws`); None when the server line sets no ALPN.
    pub h1_only: Option<tokio_rustls::TlsConnector>,
    /// The name given to rustls when no per-request SNI applies: the fixed SNI, else the name
    /// to verify, else the server's address (then no SNI is sent).
    pub name: ServerName<'static>,
    /// `sni req.hdr(host)` and the like: the SNI comes from each request.
    pub sni_fetch: Option<clearway_config::rules::Expr>,
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
    let provider = super::provider(&t.policy);
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
    let chain = if t.verifies() {
        let path = t
            .ca_file
            .as_ref()
            .ok_or_else(|| err("no 'ca-file' to verify the server with".into()))?;
        let mut roots = rustls::RootCertStore::empty();
        let what = format!("ca-file {}", path.display());
        super::roots(super::pem_certs(path, "ca-file").map_err(err)?, &mut roots, &what).map_err(err)?;
        let mut b = rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone());
        if let Some(crl) = &t.crl_file {
            b = b.with_crls(super::pem_crls(crl).map_err(err)?);
        }
        Some(b.build().map_err(|e| err(format!("'{what}': {e}")))?)
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
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&super::versions(&provider))
        .map_err(|e| err(format!("TLS versions: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut cfg = match &t.crt {
        None => builder.with_no_client_auth(),
        Some(path) => {
            let ck = super::load_certified(path, &provider).map_err(|e| err(format!("'crt': {e}")))?;
            builder.with_client_cert_resolver(Arc::new(ClientCert(Arc::new(ck))))
        }
    };
    cfg.alpn_protocols = t.alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    cfg.enable_sni = sni.is_some() || sni_fetch.is_some();
    // With a per-request SNI and no value for it, no SNI is sent: the fallback is the address.
    let name = match sni_fetch {
        Some(_) => ServerName::IpAddress(server_ip.into()),
        None => sni.or(host).unwrap_or(ServerName::IpAddress(server_ip.into())),
    };
    let h1_only = (!cfg.alpn_protocols.is_empty()).then(|| {
        let mut h1 = cfg.clone();
        h1.alpn_protocols = vec![b"http/1.1".to_vec()];
        tokio_rustls::TlsConnector::from(Arc::new(h1))
    });
    Ok(Connector {
        connector: tokio_rustls::TlsConnector::from(Arc::new(cfg)),
        h1_only,
        name,
        sni_fetch,
    })
}

/// The certificate presented to a server that asks for one (`crt`).
#[derive(Debug)]
struct ClientCert(Arc<rustls::sign::CertifiedKey>);

impl rustls::client::ResolvesClientCert for ClientCert {
    fn resolve(&self, _: &[&[u8]], _: &[SignatureScheme]) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(self.0.clone())
    }
    fn has_certs(&self) -> bool {
        true
    }
}
