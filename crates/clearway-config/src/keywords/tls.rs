//! TLS parameters shared by bind lines, server lines, `crt-list` lines and the global
//! `ssl-default-*` lines: versions, OpenSSL cipher strings (evaluated over the suites
//! Clearway speaks, unknown names refused), TLS 1.3 suites and groups; and `crt-list` files.

use super::{Args, Ctx, Res};
use crate::model::{CertConf, CertEntry, ClientAuth, Span, TlsDefaults, TlsPolicy, TlsVersion, Verify};
use std::path::Path;

/// A TLS 1.2 suite Clearway speaks: its OpenSSL name, authentication, cipher and key bits.
struct Suite {
    name: &'static str,
    ecdsa: bool,
    enc: &'static str,
    bits: u16,
}

/// In OpenSSL's default order (strongest first).
const TLS12: [Suite; 6] = [
    Suite {
        name: "ECDHE-ECDSA-AES256-GCM-SHA384",
        ecdsa: true,
        enc: "AES256",
        bits: 256,
    },
    Suite {
        name: "ECDHE-RSA-AES256-GCM-SHA384",
        ecdsa: false,
        enc: "AES256",
        bits: 256,
    },
    Suite {
        name: "ECDHE-ECDSA-CHACHA20-POLY1305",
        ecdsa: true,
        enc: "CHACHA20",
        bits: 256,
    },
    Suite {
        name: "ECDHE-RSA-CHACHA20-POLY1305",
        ecdsa: false,
        enc: "CHACHA20",
        bits: 256,
    },
    Suite {
        name: "ECDHE-ECDSA-AES128-GCM-SHA256",
        ecdsa: true,
        enc: "AES128",
        bits: 128,
    },
    Suite {
        name: "ECDHE-RSA-AES128-GCM-SHA256",
        ecdsa: false,
        enc: "AES128",
        bits: 128,
    },
];

/// OpenSSL cipher-string words that select none of the suites above (other key exchanges,
/// ciphers, MACs or protocol eras): valid, and without effect here.
const NONE_OF_OURS: &[&str] = &[
    "kRSA",
    "RSA",
    "aNULL",
    "eNULL",
    "NULL",
    "aDSS",
    "DSS",
    "DH",
    "DHE",
    "EDH",
    "kDHE",
    "kEDH",
    "ADH",
    "AECDH",
    "kDHr",
    "kDHd",
    "kDH",
    "kECDHr",
    "kECDHe",
    "kECDH",
    "aECDH",
    "aDH",
    "kPSK",
    "PSK",
    "aPSK",
    "kRSAPSK",
    "kDHEPSK",
    "kECDHEPSK",
    "ECDHEPSK",
    "DHEPSK",
    "RSAPSK",
    "SRP",
    "kSRP",
    "aSRP",
    "aGOST",
    "aGOST01",
    "kGOST",
    "GOST94",
    "GOST89MAC",
    "CAMELLIA",
    "CAMELLIA128",
    "CAMELLIA256",
    "ARIA",
    "ARIA128",
    "ARIA256",
    "ARIAGCM",
    "SEED",
    "IDEA",
    "RC4",
    "RC2",
    "DES",
    "3DES",
    "MD5",
    "SHA1",
    "SHA",
    "SHA256",
    "SHA384",
    "LOW",
    "MEDIUM",
    "EXPORT",
    "EXP",
    "EXPORT40",
    "EXPORT56",
    "AESCCM",
    "AESCCM8",
    "COMPLEMENTOFDEFAULT",
    "COMPLEMENTOFALL",
    "SSLv3",
    "SSLv2",
    "TLSv1",
    "TLSv1.0",
    "SUITEB128",
    "SUITEB128ONLY",
    "SUITEB128C2",
    "SUITEB192",
    "eFZA",
    "kFZA",
    "aFZA",
    "FZA",
    "KRB5",
    "kKRB5",
    "aKRB5",
];

/// Whether a cipher-string word selects `s`; None: the word is not an alias (a suite name,
/// or unknown).
fn alias(word: &str, s: &Suite) -> Option<bool> {
    Some(match word {
        // `PROFILE=SYSTEM`: Red Hat's OpenSSL takes the system-wide crypto policy, whose
        // TLS 1.2 suites include all of these.
        "ALL" | "DEFAULT" | "HIGH" | "TLSv1.2" | "ECDHE" | "EECDH" | "kECDHE" | "kEECDH" | "ECDH" | "AEAD" | "FIPS"
        | "PROFILE=SYSTEM" => true,
        "AES" | "AESGCM" => s.enc.starts_with("AES"),
        "AES128" | "AES256" | "CHACHA20" => s.enc == word,
        "aRSA" => !s.ecdsa,
        "aECDSA" | "ECDSA" => s.ecdsa,
        w if NONE_OF_OURS.contains(&w) => false,
        _ => return None,
    })
}

/// Words of OpenSSL suite names (`DHE-RSA-AES128-GCM-SHA256`): a name made of these is a
/// suite Clearway may not speak, not a typo.
const SUITE_WORDS: &[&str] = &[
    "ECDHE",
    "DHE",
    "EDH",
    "ECDH",
    "RSA",
    "ECDSA",
    "DSS",
    "PSK",
    "SRP",
    "ADH",
    "AECDH",
    "AES128",
    "AES256",
    "AES",
    "GCM",
    "CCM",
    "CCM8",
    "SHA",
    "SHA256",
    "SHA384",
    "CHACHA20",
    "POLY1305",
    "CAMELLIA128",
    "CAMELLIA256",
    "ARIA128",
    "ARIA256",
    "DES",
    "CBC3",
    "CBC",
    "RC4",
    "MD5",
    "SEED",
    "IDEA",
    "NULL",
    "EXP",
    "RC2",
    "EXP1024",
    "GOST2001",
    "GOST2012",
    "GOST94",
    "GOST89",
    "KRB5",
    "FZA",
    "anon",
    "CBC40",
    "CBC56",
];

fn suite_name(word: &str) -> bool {
    let parts: Vec<&str> = word.split('-').collect();
    parts.len() >= 2 && parts.iter().all(|p| SUITE_WORDS.contains(p))
}

/// What a `ciphers` string selects among the TLS 1.2 suites Clearway speaks, in order, and
/// the suite names it lists that Clearway does not speak (dropped). Follows OpenSSL's rules:
/// `:`-separated words, `A+B` for both, `!W` removes for good, `-W` removes, `+W` moves to
/// the end, `@STRENGTH` sorts by key size.
pub fn ciphers(list: &str) -> Result<(Vec<String>, Vec<String>), String> {
    let mut chosen: Vec<usize> = Vec::new();
    let mut banned = [false; TLS12.len()];
    let mut dropped = Vec::new();
    for item in list.split([':', ',', ' ']).filter(|w| !w.is_empty()) {
        if let Some(cmd) = item.strip_prefix('@') {
            match cmd {
                "STRENGTH" => chosen.sort_by_key(|&i| std::cmp::Reverse(TLS12[i].bits)),
                c if c.starts_with("SECLEVEL=") => {}
                _ => return Err(format!("unknown cipher-string command '{item}'")),
            }
            continue;
        }
        let (op, word) = match item.as_bytes()[0] {
            b'!' | b'-' | b'+' => (item.as_bytes()[0], &item[1..]),
            _ => (b' ', item),
        };
        let mut picks = [true; TLS12.len()];
        for part in word.split('+') {
            for (i, s) in TLS12.iter().enumerate() {
                let hit = match alias(part, s) {
                    Some(h) => h,
                    None if part == s.name => true,
                    None if TLS12.iter().any(|t| t.name == part) || suite_name(part) => false,
                    None => return Err(format!("unknown cipher name '{part}'")),
                };
                picks[i] &= hit;
            }
            if !word.contains('+') && op == b' ' && suite_name(part) && !TLS12.iter().any(|t| t.name == part) {
                dropped.push(part.to_string());
            }
        }
        let selected = (0..TLS12.len()).filter(|&i| picks[i]);
        match op {
            b'!' => selected.for_each(|i| {
                banned[i] = true;
                chosen.retain(|&c| c != i);
            }),
            b'-' => selected.for_each(|i| chosen.retain(|&c| c != i)),
            b'+' => {
                let (moved, kept): (Vec<usize>, Vec<usize>) = chosen.iter().partition(|&&c| picks[c]);
                chosen = kept.into_iter().chain(moved).collect();
            }
            _ => {
                for i in selected {
                    if !banned[i] && !chosen.contains(&i) {
                        chosen.push(i);
                    }
                }
            }
        }
    }
    Ok((chosen.into_iter().map(|i| TLS12[i].name.to_string()).collect(), dropped))
}

/// The TLS 1.3 suites Clearway speaks, and those it knows but does not.
const TLS13: &[&str] = &[
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
    "TLS_AES_128_GCM_SHA256",
];
const TLS13_OTHER: &[&str] = &["TLS_AES_128_CCM_SHA256", "TLS_AES_128_CCM_8_SHA256"];

/// A `ciphersuites` list: the suites kept, in order, and those dropped.
pub fn ciphersuites(list: &str) -> Result<(Vec<String>, Vec<String>), String> {
    let (mut kept, mut dropped) = (Vec::new(), Vec::new());
    for s in list.split(':').filter(|w| !w.is_empty()) {
        if TLS13.contains(&s) {
            if !kept.iter().any(|k| k == s) {
                kept.push(s.to_string());
            }
        } else if TLS13_OTHER.contains(&s) {
            dropped.push(s.to_string());
        } else {
            return Err(format!("unknown TLS 1.3 suite '{s}'"));
        }
    }
    Ok((kept, dropped))
}

/// A `curves` list: groups kept by their TLS names, in order, and those dropped.
pub fn curves(list: &str) -> Result<(Vec<String>, Vec<String>), String> {
    let (mut kept, mut dropped) = (Vec::new(), Vec::new());
    for c in list.split(':').filter(|w| !w.is_empty()) {
        let name = match c {
            "X25519" | "x25519" => "X25519",
            "P-256" | "prime256v1" | "secp256r1" => "P-256",
            "P-384" | "secp384r1" => "P-384",
            "X448" | "x448" | "P-521" | "secp521r1" | "secp256k1" | "brainpoolP256r1" | "brainpoolP384r1"
            | "brainpoolP512r1" | "ffdhe2048" | "ffdhe3072" | "ffdhe4096" | "ffdhe6144" | "ffdhe8192" | "P-224"
            | "secp224r1" | "X25519MLKEM768" | "SecP256r1MLKEM768" => {
                dropped.push(c.to_string());
                continue;
            }
            _ => return Err(format!("unknown group '{c}'")),
        };
        if !kept.iter().any(|k| k == name) {
            kept.push(name.to_string());
        }
    }
    if kept.is_empty() {
        return Err(format!(
            "'{list}' names no group Clearway speaks (X25519, P-256, P-384)"
        ));
    }
    Ok((kept, dropped))
}

/// Notes names a list drops (`-d`): what the operator listed that is never offered.
fn note_dropped(ctx: &mut Ctx, span: &Span, p: &str, dropped: &[String]) {
    if !dropped.is_empty() {
        ctx.note(
            span,
            format!(
                "'{p}': {} not offered: Clearway's TLS library does not implement them",
                dropped.join(", ")
            ),
        );
    }
}

/// `TLSv1.2` / `TLSv1.3`; older versions are accepted with a warning and read as TLS 1.2.
pub fn version(v: &str, p: &str, ctx: &mut Ctx, span: &Span) -> Res<TlsVersion> {
    match v {
        "TLSv1.3" => Ok(TlsVersion::Tls13),
        "TLSv1.2" => Ok(TlsVersion::Tls12),
        "SSLv3" | "TLSv1.0" | "TLSv1.1" => {
            ctx.warn(
                span,
                format!("'{p} {v}': Clearway speaks TLS 1.2 and 1.3 only; read as TLSv1.2"),
            );
            Ok(TlsVersion::Tls12)
        }
        other => Err((
            format!("'{p} {other}': unknown TLS version"),
            crate::suggest::hint(other, ["TLSv1.2", "TLSv1.3"]),
        )),
    }
}

/// The policy parameters every TLS side knows.
pub const POLICY_PARAMS: &[&str] = &[
    "ssl-min-ver",
    "ssl-max-ver",
    "no-tlsv12",
    "no-tlsv13",
    "force-tlsv12",
    "force-tlsv13",
    "ciphers",
    "ciphersuites",
    "curves",
];

/// Reads policy parameter `p` (and its value) into `pol`; Ok(false) when `p` is not one.
/// `no-sslv3`, `no-tlsv10`, `no-tlsv11` are the callers' (no effect: never spoken).
pub fn policy_param(p: &str, args: &mut Args<'_>, pol: &mut TlsPolicy, ctx: &mut Ctx, span: &Span) -> Res<bool> {
    let mut value = |what: &str| args.value(p, what).map_err(|e| (e, None));
    match p {
        "ssl-min-ver" | "ssl-max-ver" => {
            let v = version(value("TLSv1.2 or TLSv1.3")?, p, ctx, span)?;
            if p == "ssl-min-ver" {
                pol.min_ver = Some(v);
            } else {
                pol.max_ver = Some(v);
            }
        }
        "no-tlsv12" => pol.no_tls12 = true,
        "no-tlsv13" => pol.no_tls13 = true,
        "force-tlsv12" => pol.no_tls13 = true,
        "force-tlsv13" => pol.no_tls12 = true,
        "force-sslv3" | "force-tlsv10" | "force-tlsv11" => {
            return Err((
                format!("'{p}': Clearway speaks TLS 1.2 and 1.3 only"),
                Some("use 'ssl-min-ver TLSv1.2', or keep a proxy that speaks the old version".into()),
            ))
        }
        "ciphers" => {
            let v = value("an OpenSSL cipher list")?;
            let (kept, dropped) = ciphers(v).map_err(|e| (format!("'ciphers {v}': {e}"), None))?;
            note_dropped(ctx, span, p, &dropped);
            pol.ciphers = Some(kept);
        }
        "ciphersuites" => {
            let v = value("a list of TLS 1.3 suites")?;
            let (kept, dropped) = ciphersuites(v).map_err(|e| {
                (
                    format!("'ciphersuites {v}': {e}"),
                    Some(format!("TLS 1.3 suites are {}", TLS13.join(", "))),
                )
            })?;
            note_dropped(ctx, span, p, &dropped);
            pol.ciphersuites = Some(kept);
        }
        "curves" | "ecdhe" => {
            let v = value("a list of groups such as X25519:P-256")?;
            let (kept, dropped) = curves(v).map_err(|e| (format!("'{p} {v}': {e}"), None))?;
            note_dropped(ctx, span, p, &dropped);
            pol.curves = Some(kept);
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// `ssl-default-bind-options` / `ssl-default-server-options`: policy words, plus
/// `prefer-client-ciphers` (binds) and `no-tls-tickets` (never issued by Clearway).
pub fn default_options(
    args: &mut Args<'_>,
    pol: &mut TlsPolicy,
    prefer_client: Option<&mut bool>,
    ctx: &mut Ctx,
    span: &Span,
) -> Res<()> {
    let mut prefer = prefer_client;
    while let Some(o) = args.next() {
        match o {
            "no-tls-tickets" | "no-sslv3" | "no-tlsv10" | "no-tlsv11" => {}
            "prefer-client-ciphers" if prefer.is_some() => {
                if let Some(p) = prefer.as_deref_mut() {
                    *p = true;
                }
            }
            "ciphers" | "ciphersuites" | "curves" | "ecdhe" => {
                return Err((
                    format!("unknown option '{o}'"),
                    Some(format!("use 'ssl-default-...-{o}'")),
                ))
            }
            _ if policy_param(o, args, pol, ctx, span)? => {}
            other => {
                return Err((
                    format!("unknown option '{other}'"),
                    crate::suggest::hint(
                        other,
                        POLICY_PARAMS
                            .iter()
                            .copied()
                            .chain(["no-tls-tickets", "prefer-client-ciphers"]),
                    ),
                ))
            }
        }
    }
    Ok(())
}

/// `verify none|optional|required` on a bind line.
pub fn verify(v: &str) -> Res<Verify> {
    match v {
        "none" => Ok(Verify::None),
        "optional" => Ok(Verify::Optional),
        "required" => Ok(Verify::Required),
        other => Err((
            format!("'verify {other}': expected none, optional or required"),
            crate::suggest::hint(other, ["none", "optional", "required"]),
        )),
    }
}

/// Reads client-certificate parameter `p` into `c`; Ok(false) when `p` is not one.
pub fn client_param(p: &str, args: &mut Args<'_>, c: &mut ClientAuth, base: &TlsDefaults) -> Res<bool> {
    let file =
        |args: &mut Args<'_>| -> Res<_> { Ok(Some(base.ca_path(args.value(p, "a PEM file").map_err(|e| (e, None))?))) };
    match p {
        "verify" => {
            c.verify = Some(verify(
                args.value(p, "none, optional or required").map_err(|e| (e, None))?,
            )?)
        }
        "ca-file" => c.ca_file = file(args)?,
        "ca-verify-file" => c.ca_verify_file = file(args)?,
        "crl-file" => c.crl_file = file(args)?,
        "no-ca-names" => c.no_ca_names = true,
        "ca-ignore-err" | "crt-ignore-err" => {
            let v = args
                .value(p, "all or error numbers such as 10,20")
                .map_err(|e| (e, None))?;
            let ignore = match v {
                "all" => crate::model::IgnoreErr::All,
                list => crate::model::IgnoreErr::Codes(
                    list.split(',')
                        .map(|n| n.trim().parse::<u32>())
                        .collect::<Result<_, _>>()
                        .map_err(|_| (format!("'{p} {v}': expected all or error numbers such as 10,20"), None))?,
                ),
            };
            if p == "ca-ignore-err" {
                c.ca_ignore = ignore;
            } else {
                c.crt_ignore = ignore;
            }
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// A `crt-list` file: one certificate per line, `FILE [\[SETTINGS...\]] [[!]SNI-FILTER...]`,
/// `#` comments. Its errors name the list's own file and line.
pub fn crt_list(path: &Path, base: &TlsDefaults, ctx: &mut Ctx) -> Result<Vec<CertEntry>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("'crt-list {}': {e}", path.display()))?;
    let file: std::sync::Arc<str> = path.display().to_string().into();
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let span = Span {
            file: file.clone(),
            line: n as u32 + 1,
        };
        match crt_list_line(line, base, ctx, &span) {
            Ok(e) => out.push(e),
            Err((m, h)) => ctx.error_hint(&span, m, h),
        }
    }
    if out.is_empty() {
        return Err(format!("'crt-list {}' lists no certificate", path.display()));
    }
    Ok(out)
}

/// The settings a `crt-list` line may carry.
const LINE_SETTINGS: &[&str] = &[
    "alpn",
    "ca-file",
    "ca-verify-file",
    "ciphers",
    "ciphersuites",
    "crl-file",
    "curves",
    "ecdhe",
    "no-ca-names",
    "npn",
    "verify",
    "ssl-min-ver",
    "ssl-max-ver",
    "allow-0rtt",
];

fn crt_list_line(line: &str, base: &TlsDefaults, ctx: &mut Ctx, span: &Span) -> Res<CertEntry> {
    let (head, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    let mut rest = rest.trim_start();
    let mut conf = None;
    if let Some(inner) = rest.strip_prefix('[') {
        let (settings, after) = inner
            .split_once(']')
            .ok_or_else(|| ("'[' without ']'".to_string(), None))?;
        rest = after;
        let d = crate::ast::Directive {
            span: span.clone(),
            words: std::iter::once("crt-list".to_string())
                .chain(settings.split_whitespace().map(String::from))
                .collect(),
        };
        let mut args = Args::new(&d, 1);
        let mut c = CertConf::default();
        while let Some(p) = args.next() {
            match p {
                "alpn" => {
                    c.alpn = Some(super::bind::alpn(
                        args.value(p, "a protocol list").map_err(|e| (e, None))?,
                    ))
                }
                "npn" => drop(args.value(p, "a protocol list").map_err(|e| (e, None))?),
                "allow-0rtt" => {}
                _ if client_param(p, &mut args, &mut c.client, base)? => {}
                _ if policy_param(p, &mut args, &mut c.policy, ctx, span)? => {}
                other => {
                    return Err((
                        format!("'{other}' is not a setting a crt-list line may give"),
                        crate::suggest::hint(other, LINE_SETTINGS.iter().copied()),
                    ))
                }
            }
        }
        conf = Some(Box::new(c));
    }
    let filters: Vec<String> = rest.split_whitespace().map(str::to_ascii_lowercase).collect();
    Ok(CertEntry {
        file: base.crt_path(head),
        filters,
        conf,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(s: &str) -> Vec<String> {
        ciphers(s).unwrap().0
    }

    #[test]
    fn cipher_strings_follow_openssl_rules() {
        // Mozilla's intermediate list: the DHE suites are not ours, and are dropped.
        let (kept, dropped) = ciphers(
            "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:\
             ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:\
             DHE-RSA-AES128-GCM-SHA256",
        )
        .unwrap();
        assert_eq!(kept[0], "ECDHE-ECDSA-AES128-GCM-SHA256");
        assert_eq!(kept.len(), 6);
        assert_eq!(dropped, ["DHE-RSA-AES128-GCM-SHA256"]);
        // The classic HAProxy list: RSA is RSA key exchange, none of ours.
        let v =
            names("ECDH+AESGCM:DH+AESGCM:ECDH+AES256:DH+AES256:ECDH+AES128:DH+AES:RSA+AESGCM:RSA+AES:!aNULL:!MD5:!DSS");
        assert_eq!(v.len(), 4);
        assert!(v.iter().all(|n| n.contains("GCM")));
        assert_eq!(names("HIGH:!aNULL:!MD5"), names("ALL"));
        assert_eq!(names("PROFILE=SYSTEM"), names("ALL"));
        assert_eq!(names("aECDSA").len(), 3);
        assert_eq!(names("ALL:!CHACHA20").len(), 4);
        assert_eq!(names("ALL:-aRSA:aRSA+AES128")[3], "ECDHE-RSA-AES128-GCM-SHA256");
        assert_eq!(names("ALL:!aRSA:aRSA"), names("aECDSA"));
        assert_eq!(names("AES128:AES256:@STRENGTH")[0], "ECDHE-ECDSA-AES256-GCM-SHA384");
        assert_eq!(names("ALL:+AES256").last().unwrap(), "ECDHE-RSA-AES256-GCM-SHA384");
        assert!(names("DHE-RSA-AES256-SHA256:kRSA").is_empty());
        assert!(ciphers("ECDHE-RSA-AES128-GCM-SHA265").is_err());
        assert!(ciphers("HIHG").is_err());
        assert!(ciphers("ALL:@FOO").is_err());
    }

    #[test]
    fn suites_and_groups() {
        assert_eq!(
            ciphersuites("TLS_AES_128_CCM_SHA256:TLS_AES_128_GCM_SHA256").unwrap().0,
            ["TLS_AES_128_GCM_SHA256"]
        );
        assert!(ciphersuites("TLS_AES_128_GCM").is_err());
        assert_eq!(curves("secp384r1:X448:prime256v1").unwrap().0, ["P-384", "P-256"]);
        assert!(curves("X448").is_err());
        assert!(curves("P-999").is_err());
    }
}
