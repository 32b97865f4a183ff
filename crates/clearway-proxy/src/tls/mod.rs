//! TLS with rustls (ring). `accept`: the server side of `bind ... ssl` (certificates chosen
//! by SNI, client certificates, OCSP stapling); `connect`: the client side of `server ...
//! ssl`; `cert`: what a client's certificate says, for the `ssl_c_*` fetches. Here: what
//! both sides share (the TLS policy as a rustls provider, PEM loading, OpenSSL's names).
//! Owns certificate loading and verification policy; must not move application bytes.

mod accept;
pub mod cert;
mod connect;

pub use accept::{acceptor, Acceptor};
pub use connect::{connector, Connector};

use clearway_config::model::{TlsPolicy, TlsVersion};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use rustls::{NamedGroup, SupportedCipherSuite};
use std::path::Path;
use std::sync::Arc;

/// The suites and groups a TLS policy leaves, in its order, as a rustls provider.
fn provider(p: &TlsPolicy) -> Arc<CryptoProvider> {
    let mut prov = rustls::crypto::ring::default_provider();
    let all = std::mem::take(&mut prov.cipher_suites);
    let pick = |names: &Option<Vec<String>>, tls13: bool| -> Vec<SupportedCipherSuite> {
        let of_version = all
            .iter()
            .filter(move |s| matches!(s, SupportedCipherSuite::Tls13(_)) == tls13);
        match names {
            None => of_version.copied().collect(),
            Some(names) => names
                .iter()
                .filter_map(|n| of_version.clone().find(|s| openssl_name(s.suite()) == n))
                .copied()
                .collect(),
        }
    };
    if p.allows(TlsVersion::Tls13) {
        prov.cipher_suites.extend(pick(&p.ciphersuites, true));
    }
    if p.allows(TlsVersion::Tls12) {
        prov.cipher_suites.extend(pick(&p.ciphers, false));
    }
    if let Some(curves) = &p.curves {
        let groups = std::mem::take(&mut prov.kx_groups);
        prov.kx_groups = curves
            .iter()
            .filter_map(|c| groups.iter().find(|g| group_name(g.name()) == c).copied())
            .collect();
    }
    Arc::new(prov)
}

/// The protocol versions a provider from `provider` can negotiate.
fn versions(prov: &CryptoProvider) -> Vec<&'static rustls::SupportedProtocolVersion> {
    let has = |tls13: bool| {
        prov.cipher_suites
            .iter()
            .any(|s| matches!(s, SupportedCipherSuite::Tls13(_)) == tls13)
    };
    let mut v = Vec::new();
    if has(true) {
        v.push(&rustls::version::TLS13);
    }
    if has(false) {
        v.push(&rustls::version::TLS12);
    }
    v
}

/// The name a `curves` list gives a group.
fn group_name(g: NamedGroup) -> &'static str {
    match g {
        NamedGroup::X25519 => "X25519",
        NamedGroup::secp256r1 => "P-256",
        NamedGroup::secp384r1 => "P-384",
        _ => "",
    }
}

/// A certificate chain and key from one PEM file (the key may also sit in `FILE.key`, as
/// HAProxy allows), with the OCSP response in `FILE.ocsp` when there is one.
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
    let mut ck = CertifiedKey::from_der(chain, key, provider).map_err(|e| format!("'{}': {e}", path.display()))?;
    let ocsp = format!("{}.ocsp", path.display());
    match std::fs::read(&ocsp) {
        Ok(r) if r.is_empty() => return Err(format!("'{ocsp}' is empty")),
        Ok(r) => ck.ocsp = Some(r),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("cannot read '{ocsp}': {e}")),
    }
    Ok(ck)
}

/// The certificates of a PEM file (`ca-file`, `ca-verify-file`).
fn pem_certs(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("'{what} {}': {e}", path.display()))
}

/// A PEM file of revocation lists (`crl-file`).
fn pem_crls(path: &Path) -> Result<Vec<CertificateRevocationListDer<'static>>, String> {
    let crls: Vec<_> = CertificateRevocationListDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("'crl-file {}': {e}", path.display()))?;
    if crls.is_empty() {
        return Err(format!("'crl-file {}' holds no revocation list", path.display()));
    }
    Ok(crls)
}

/// Certificates into a root store; an error when none is usable.
fn roots(certs: Vec<CertificateDer<'static>>, store: &mut rustls::RootCertStore, what: &str) -> Result<(), String> {
    let (added, _) = store.add_parsable_certificates(certs);
    if added == 0 {
        return Err(format!("'{what}' holds no usable CA certificate"));
    }
    Ok(())
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
    /// The certificate the client sent (checked during the handshake), for `ssl_c_*`.
    pub peer_cert: Option<cert::PeerCert>,
    /// What its verification found, when `*-ignore-err` let it through.
    pub verify: cert::VerifyResult,
    /// The session was resumed (a ticket or the session cache), not fully negotiated.
    pub resumed: bool,
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
            peer_cert: c
                .peer_certificates()
                .and_then(|chain| chain.first())
                .map(|der| cert::PeerCert(der.clone().into_owned())),
            verify: cert::VerifyResult::default(),
            resumed: c.handshake_kind() == Some(rustls::HandshakeKind::Resumed),
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

/// How long a TLS handshake may take when no client-side timeout is set.
pub const HANDSHAKE_DEFAULT: std::time::Duration = std::time::Duration::from_secs(10);
