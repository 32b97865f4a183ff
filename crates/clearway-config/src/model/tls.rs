//! TLS settings as the configuration states them: versions, suites and groups (for binds,
//! servers and the global defaults both start from), client-certificate checks, and the
//! certificates of a bind line with their SNI filters. Names are validated here; mapping
//! them to a TLS library is the runtime's.

use std::path::PathBuf;

/// TLS versions Clearway speaks (rustls has no TLS 1.0 or 1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    Tls12,
    Tls13,
}

/// Which versions, suites and key-exchange groups one side offers: `ssl-min-ver`,
/// `ssl-max-ver`, `no-tlsv1x`, `force-tlsv1x`, `ciphers`, `ciphersuites`, `curves`. Unset
/// fields come from the global `ssl-default-*` lines, then from rustls's defaults.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsPolicy {
    pub min_ver: Option<TlsVersion>,
    pub max_ver: Option<TlsVersion>,
    /// `no-tlsv12` / `no-tlsv13` (also what `force-tlsv13` / `force-tlsv12` imply).
    pub no_tls12: bool,
    pub no_tls13: bool,
    /// TLS 1.2 suites by OpenSSL name, in preference order: what the `ciphers` string
    /// selects among the suites Clearway speaks. None: all of them.
    pub ciphers: Option<Vec<String>>,
    /// TLS 1.3 suites (`ciphersuites`), by name, in preference order. None: all.
    pub ciphersuites: Option<Vec<String>>,
    /// Key-exchange groups (`curves`, `ecdhe`), by their TLS names (`X25519`, `P-256`,
    /// `P-384`), in preference order. None: all.
    pub curves: Option<Vec<String>>,
}

impl TlsPolicy {
    /// Fills what this line leaves unset from `d` (the global defaults, or a bind line for a
    /// `crt-list` entry). `no-*` options add up, as HAProxy's do.
    pub fn inherit(&mut self, d: &TlsPolicy) {
        self.min_ver = self.min_ver.or(d.min_ver);
        self.max_ver = self.max_ver.or(d.max_ver);
        self.no_tls12 |= d.no_tls12;
        self.no_tls13 |= d.no_tls13;
        for (mine, theirs) in [
            (&mut self.ciphers, &d.ciphers),
            (&mut self.ciphersuites, &d.ciphersuites),
            (&mut self.curves, &d.curves),
        ] {
            if mine.is_none() {
                mine.clone_from(theirs);
            }
        }
    }

    /// Whether `v` may be negotiated.
    pub fn allows(&self, v: TlsVersion) -> bool {
        let (lo, hi) = (
            self.min_ver.unwrap_or(TlsVersion::Tls12),
            self.max_ver.unwrap_or(TlsVersion::Tls13),
        );
        let off = match v {
            TlsVersion::Tls12 => self.no_tls12,
            TlsVersion::Tls13 => self.no_tls13,
        };
        lo <= v && v <= hi && !off
    }

    /// The versions left, or why none is.
    pub fn check(&self) -> Result<(), String> {
        let v12 = self.allows(TlsVersion::Tls12) && self.ciphers.as_ref().is_none_or(|c| !c.is_empty());
        let v13 = self.allows(TlsVersion::Tls13) && self.ciphersuites.as_ref().is_none_or(|c| !c.is_empty());
        if v12 || v13 {
            Ok(())
        } else if !self.allows(TlsVersion::Tls12) && !self.allows(TlsVersion::Tls13) {
            Err(
                "no TLS version is left enabled (ssl-min-ver, ssl-max-ver and no-tlsv1x exclude TLS 1.2 and 1.3)"
                    .into(),
            )
        } else {
            Err("no cipher suite is left for the TLS versions enabled ('ciphers' for TLS 1.2, 'ciphersuites' for TLS 1.3)".into())
        }
    }
}

/// `verify none|optional|required` on a bind line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Verify {
    /// No client certificate is asked for (HAProxy's default).
    #[default]
    None,
    /// Asked for; a client may send none, but one it sends must be valid.
    Optional,
    /// A valid client certificate is needed to connect.
    Required,
}

/// How a bind line checks client certificates: `verify`, `ca-file` (trusted and named to
/// clients), `ca-verify-file` (trusted, not named), `crl-file`, `no-ca-names`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClientAuth {
    pub verify: Option<Verify>,
    pub ca_file: Option<PathBuf>,
    pub ca_verify_file: Option<PathBuf>,
    pub crl_file: Option<PathBuf>,
    pub no_ca_names: bool,
    /// `ca-ignore-err`, `crt-ignore-err`: verification errors (OpenSSL's numbers) let through,
    /// on the certificates above the client's own, and on the client's own.
    pub ca_ignore: IgnoreErr,
    pub crt_ignore: IgnoreErr,
}

/// Which verification errors a bind line lets through.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum IgnoreErr {
    #[default]
    None,
    All,
    /// OpenSSL's `X509_V_ERR_*` numbers (10: expired, 20: unknown issuer...).
    Codes(Vec<u32>),
}

impl IgnoreErr {
    pub fn ignores(&self, code: u32) -> bool {
        match self {
            IgnoreErr::None => false,
            IgnoreErr::All => true,
            IgnoreErr::Codes(c) => c.contains(&code),
        }
    }
}

impl ClientAuth {
    /// Fills what a `crt-list` line leaves unset from its bind line.
    pub fn inherit(&mut self, d: &ClientAuth) {
        self.verify = self.verify.or(d.verify);
        for (mine, theirs) in [
            (&mut self.ca_file, &d.ca_file),
            (&mut self.ca_verify_file, &d.ca_verify_file),
            (&mut self.crl_file, &d.crl_file),
        ] {
            if mine.is_none() {
                mine.clone_from(theirs);
            }
        }
        self.no_ca_names |= d.no_ca_names;
        for (mine, theirs) in [
            (&mut self.ca_ignore, &d.ca_ignore),
            (&mut self.crt_ignore, &d.crt_ignore),
        ] {
            if *mine == IgnoreErr::None {
                mine.clone_from(theirs);
            }
        }
    }

    pub fn verify(&self) -> Verify {
        self.verify.unwrap_or_default()
    }
}

/// One certificate of a bind line: from `crt FILE`, a file of `crt DIR`, or a `crt-list` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertEntry {
    /// A PEM file with the chain and the key (or the key in `FILE.key`); an OCSP response in
    /// `FILE.ocsp` is stapled.
    pub file: PathBuf,
    /// A `crt-list` line's SNI filters (`www.example.com`, `*.example.com`, `!admin.example.com`,
    /// `!*`); empty: the names of the certificate itself.
    pub filters: Vec<String>,
    /// A `crt-list` line's `[...]` settings, used when a handshake chooses this certificate.
    pub conf: Option<Box<CertConf>>,
}

/// The settings a `crt-list` line may give its certificate; unset ones are the bind line's.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CertConf {
    pub alpn: Option<Vec<String>>,
    pub policy: TlsPolicy,
    pub client: ClientAuth,
}

/// `bind ... ssl crt FILE|DIR [crt-list FILE] [alpn LIST] [TLS policy] [verify ...]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BindTls {
    /// Certificates in order; the first is the default when none matches the client's SNI.
    pub certs: Vec<CertEntry>,
    /// ALPN protocols offered, e.g. `["h2", "http/1.1"]`; empty: none (the runtime offers
    /// `h2,http/1.1` on `mode http` frontends, as HAProxy 2.8 does).
    pub alpn: Vec<String>,
    pub policy: TlsPolicy,
    pub client: ClientAuth,
    /// `strict-sni`: a handshake whose SNI matches no certificate fails (no default).
    pub strict_sni: bool,
    /// `prefer-client-ciphers`: the client's suite order wins (default: ours).
    pub prefer_client_ciphers: bool,
}

/// The global TLS defaults: `ssl-default-bind-*`, `ssl-default-server-*`,
/// `ssl-server-verify`, `ca-base`, `crt-base`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsDefaults {
    pub bind: TlsPolicy,
    pub bind_prefer_client_ciphers: bool,
    pub server: TlsPolicy,
    /// `ssl-server-verify none`: servers' `verify` defaults to none (HAProxy: required).
    pub server_verify_none: bool,
    pub ca_base: Option<PathBuf>,
    pub crt_base: Option<PathBuf>,
}

impl TlsDefaults {
    /// `path` under `ca-base` when it is relative.
    pub fn ca_path(&self, path: &str) -> PathBuf {
        based(&self.ca_base, path)
    }
    /// `path` under `crt-base` when it is relative.
    pub fn crt_path(&self, path: &str) -> PathBuf {
        based(&self.crt_base, path)
    }
}

fn based(base: &Option<PathBuf>, path: &str) -> PathBuf {
    let p = match base {
        Some(b) if !path.starts_with('/') => b.join(path),
        _ => PathBuf::from(path),
    };
    // Still relative: under the `default-path` directory.
    crate::keywords::paths::file(p)
}
