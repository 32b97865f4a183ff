//! What a client's certificate says, as HAProxy's `ssl_c_*` fetches give it: names in
//! OpenSSL's one-line form (`/C=FR/O=Org/CN=name`) or RFC 2253, single name entries,
//! serial and SHA-1 as hexadecimal, dates as `YYMMDDhhmmssZ`. Parsed when a fetch asks.

use clearway_config::rules::{CertField, Dn};
use rustls::pki_types::CertificateDer;
use x509_parser::prelude::{FromDer, X509Certificate, X509Name};

/// The leaf certificate a client presented (already verified by the handshake).
#[derive(Debug, Clone)]
pub struct PeerCert(pub CertificateDer<'static>);

/// A fetched value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertValue {
    Text(String),
    Int(i64),
    /// Binary (serial, SHA-1, DER): written as hexadecimal by `,hex`.
    Bin(Vec<u8>),
}

impl PeerCert {
    /// The value of `f`; None when the certificate lacks it (or does not parse).
    pub fn field(&self, f: &CertField) -> Option<CertValue> {
        let der = self.0.as_ref();
        match f {
            CertField::Used => return Some(CertValue::Int(1)),
            // Kept on the connection (`ClientTls::verify`).
            CertField::Verify | CertField::Err | CertField::CaErr => return None,
            CertField::Der => return Some(CertValue::Bin(der.to_vec())),
            CertField::Sha1 => {
                let d = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, der);
                return Some(CertValue::Bin(d.as_ref().to_vec()));
            }
            _ => {}
        }
        let (_, c) = X509Certificate::from_der(der).ok()?;
        Some(match f {
            CertField::Dn { issuer, dn } => CertValue::Text(name(if *issuer { c.issuer() } else { c.subject() }, dn)?),
            CertField::Serial => CertValue::Bin(serial(c.raw_serial()).to_vec()),
            CertField::NotBefore => CertValue::Text(date(c.validity().not_before)),
            CertField::NotAfter => CertValue::Text(date(c.validity().not_after)),
            CertField::Version => CertValue::Int(i64::from(c.version().0) + 1),
            CertField::SigAlg => CertValue::Text(oid_name(&c.signature_algorithm.algorithm.to_id_string())),
            CertField::KeyAlg => CertValue::Text(oid_name(&c.public_key().algorithm.algorithm.to_id_string())),
            _ => return None,
        })
    }
}

/// A serial's bytes without DER's sign byte (a leading 0 before a byte with its top bit
/// set), as OpenSSL gives them to HAProxy.
fn serial(der: &[u8]) -> &[u8] {
    match der {
        [0, rest @ ..] if !rest.is_empty() => rest,
        all => all,
    }
}

/// `YYMMDDhhmmssZ`, as OpenSSL prints a UTCTime (GeneralizedTime years in full).
fn date(t: x509_parser::time::ASN1Time) -> String {
    let d = t.to_datetime();
    let year = if (1950..2050).contains(&d.year()) {
        format!("{:02}", d.year() % 100)
    } else {
        format!("{:04}", d.year())
    };
    format!(
        "{year}{:02}{:02}{:02}{:02}{:02}Z",
        u8::from(d.month()),
        d.day(),
        d.hour(),
        d.minute(),
        d.second()
    )
}

/// OpenSSL's short names of name attributes, algorithms and key types; other identifiers as
/// dotted numbers, as OpenSSL prints them.
fn oid_name(oid: &str) -> String {
    let known = match oid {
        "2.5.4.3" => "CN",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "street",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.12" => "title",
        "2.5.4.4" => "SN",
        "2.5.4.5" => "serialNumber",
        "2.5.4.17" => "postalCode",
        "2.5.4.42" => "GN",
        "2.5.4.43" => "initials",
        "2.5.4.44" => "generationQualifier",
        "2.5.4.46" => "dnQualifier",
        "2.5.4.65" => "pseudonym",
        "2.5.4.15" => "businessCategory",
        "1.2.840.113549.1.9.1" => "emailAddress",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        "1.3.6.1.4.1.311.60.2.1.3" => "jurisdictionC",
        "1.2.840.113549.1.1.1" => "rsaEncryption",
        "1.2.840.113549.1.1.5" => "RSA-SHA1",
        "1.2.840.113549.1.1.10" => "RSASSA-PSS",
        "1.2.840.113549.1.1.11" => "RSA-SHA256",
        "1.2.840.113549.1.1.12" => "RSA-SHA384",
        "1.2.840.113549.1.1.13" => "RSA-SHA512",
        "1.2.840.10045.2.1" => "id-ecPublicKey",
        "1.2.840.10045.4.3.2" => "ecdsa-with-SHA256",
        "1.2.840.10045.4.3.3" => "ecdsa-with-SHA384",
        "1.2.840.10045.4.3.4" => "ecdsa-with-SHA512",
        "1.3.101.112" => "ED25519",
        "1.3.101.113" => "ED448",
        _ => return oid.to_string(),
    };
    known.to_string()
}

/// The entries of a name in order: (short name, raw value).
fn entries<'a>(n: &'a X509Name<'a>) -> Vec<(String, &'a [u8])> {
    n.iter_attributes()
        .map(|a| (oid_name(&a.attr_type().to_id_string()), a.attr_value().data))
        .collect()
}

/// A name as `ssl_c_s_dn(...)` gives it.
fn name(n: &X509Name<'_>, dn: &Dn) -> Option<String> {
    let all = entries(n);
    if let Some(want) = &dn.entry {
        let matching = all.iter().filter(|(k, _)| k.eq_ignore_ascii_case(want));
        let hit = match dn.occ {
            0 => None,
            o if o > 0 => matching.clone().nth(o as usize - 1),
            o => matching.rev().nth(o.unsigned_abs() as usize - 1),
        };
        return hit.map(|(_, v)| String::from_utf8_lossy(v).into_owned());
    }
    if all.is_empty() {
        return None;
    }
    Some(if dn.rfc2253 {
        rfc2253(n)
    } else {
        all.iter()
            .map(|(k, v)| format!("/{k}={}", String::from_utf8_lossy(v)))
            .collect()
    })
}

/// RFC 2253: the last entry first, entries of one RDN joined with `+`, special characters
/// escaped (`\,`), bytes outside printable ASCII as `\XX`.
fn rfc2253(n: &X509Name<'_>) -> String {
    let rdns: Vec<String> = n
        .iter()
        .map(|rdn| {
            rdn.iter()
                .map(|a| {
                    format!(
                        "{}={}",
                        oid_name(&a.attr_type().to_id_string()),
                        escape(a.attr_value().data)
                    )
                })
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect();
    rdns.into_iter().rev().collect::<Vec<_>>().join(",")
}

fn escape(v: &[u8]) -> String {
    let mut out = String::new();
    for (i, &b) in v.iter().enumerate() {
        let edge = (i == 0 && (b == b' ' || b == b'#')) || (i + 1 == v.len() && b == b' ');
        match b {
            b',' | b'+' | b'"' | b'\\' | b'<' | b'>' | b';' => {
                out.push('\\');
                out.push(b as char);
            }
            _ if edge => {
                out.push('\\');
                out.push(b as char);
            }
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_as_rfc2253_says() {
        assert_eq!(escape(b"a,b"), "a\\,b");
        assert_eq!(escape(b" x "), "\\ x\\ ");
        assert_eq!(escape(b"#1"), "\\#1");
        assert_eq!(escape("é".as_bytes()), "\\C3\\A9");
    }

    fn hex(b: &[u8]) -> String {
        use std::fmt::Write;
        b.iter().fold(String::with_capacity(b.len() * 2), |mut s, x| {
            let _ = write!(s, "{x:02X}");
            s
        })
    }

    #[test]
    fn serials_lose_the_der_sign_byte() {
        assert_eq!(hex(serial(&[0x00, 0xfb, 0x76])), "FB76");
        assert_eq!(hex(serial(&[0x4b, 0x5e])), "4B5E");
        assert_eq!(hex(serial(&[0x00])), "00");
    }
}

/// What verifying a client's certificate found, in OpenSSL's numbers (0: nothing), when
/// `ca-ignore-err`/`crt-ignore-err` let it through anyway: the error (`ssl_c_verify`), the
/// one of the client's own certificate (`ssl_c_err`) and of those above it (`ssl_c_ca_err`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VerifyResult {
    pub verify: u32,
    pub crt: u32,
    pub ca: u32,
}

/// The errors OpenSSL's verification reports for what rustls found, in order: each with
/// whether it concerns the client's own certificate (depth 0) rather than one above it.
/// A client certificate is let through only when every one is ignored.
pub fn openssl_errors(e: &rustls::Error, end_entity: &[u8], intermediates: usize) -> Vec<(bool, u32)> {
    use rustls::CertificateError as C;
    let leaf = X509Certificate::from_der(end_entity).ok().map(|(_, c)| c);
    let leaf_in_time = leaf.as_ref().is_some_and(|c| c.validity().is_valid());
    let self_signed = leaf.as_ref().is_some_and(|c| c.subject() == c.issuer());
    let rustls::Error::InvalidCertificate(c) = e else {
        return vec![(true, 1)];
    };
    match c {
        // X509_V_ERR_CERT_HAS_EXPIRED / _NOT_YET_VALID, on the leaf unless it is in time.
        C::Expired | C::ExpiredContext { .. } => vec![(!leaf_in_time, 10)],
        C::NotValidYet | C::NotValidYetContext { .. } => vec![(!leaf_in_time, 9)],
        // DEPTH_ZERO_SELF_SIGNED_CERT.
        C::UnknownIssuer if self_signed && intermediates == 0 => vec![(true, 18)],
        // A lone certificate whose issuer is not trusted (or only shares a trusted one's
        // name): UNABLE_TO_GET_ISSUER_CERT_LOCALLY, then UNABLE_TO_VERIFY_LEAF_SIGNATURE.
        C::UnknownIssuer | C::BadSignature if intermediates == 0 => vec![(true, 20), (true, 21)],
        C::UnknownIssuer => vec![(false, 20)],
        C::BadSignature => vec![(false, 7)],
        C::Revoked => vec![(true, 23)],
        C::UnknownRevocationStatus => vec![(true, 3)],
        C::ExpiredRevocationList | C::ExpiredRevocationListContext { .. } => vec![(true, 12)],
        C::InvalidPurpose | C::InvalidPurposeContext { .. } => vec![(true, 26)],
        _ => vec![(true, 1)],
    }
}

impl VerifyResult {
    /// As HAProxy keeps them: the last error, and the first on each side.
    pub fn of(errors: &[(bool, u32)]) -> VerifyResult {
        let first = |own: bool| errors.iter().find(|(o, _)| *o == own).map_or(0, |(_, c)| *c);
        VerifyResult {
            verify: errors.last().map_or(0, |(_, c)| *c),
            crt: first(true),
            ca: first(false),
        }
    }
}
