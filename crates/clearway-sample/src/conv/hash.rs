//! Hashes: HAProxy's own (sdbm, djb2, wt6, with its avalanche), CRC32 and CRC32C, xxHash,
//! and the cryptographic digests and HMACs.

use super::{read, Arg, Def};
use crate::vars::VarName;
use crate::{Sample, Type};
use base64::Engine as _;
use std::borrow::Cow;

/// Bob Jenkins' full avalanche on 32 bits, then spread by a large prime, as HAProxy applies
/// it on request.
pub fn avalanche(mut a: u32) -> u32 {
    a = a.wrapping_add(0x7ed5_5d16).wrapping_add(a << 12);
    a = (a ^ 0xc761_c23c) ^ (a >> 19);
    a = a.wrapping_add(0x1656_67b1).wrapping_add(a << 5);
    a = a.wrapping_add(0xd3a2_646c) ^ (a << 9);
    a = a.wrapping_add(0xfd70_46c5).wrapping_add(a << 3);
    a = (a ^ 0xb55a_4f09) ^ (a >> 16);
    a.wrapping_mul(3_221_225_473)
}

pub fn sdbm(b: &[u8]) -> u32 {
    b.iter().fold(0u32, |h, &c| {
        u32::from(c).wrapping_add(h << 6).wrapping_add(h << 16).wrapping_sub(h)
    })
}

pub fn djb2(b: &[u8]) -> u32 {
    b.iter()
        .fold(5381u32, |h, &c| (h << 5).wrapping_add(h).wrapping_add(u32::from(c)))
}

pub fn wt6(b: &[u8]) -> u32 {
    let (mut h0, mut h1) = (0xa53c_965a_u32, 0x5ca6_953a_u32);
    let (mut step0, mut step1) = (6u32, 18u32);
    for &c in b {
        let t = u32::from(c);
        h0 = !(h0 ^ t);
        h1 = !(h1.wrapping_add(t));
        let t = h1.rotate_left(step0);
        h1 = h0.rotate_left(step1);
        h0 = t;
        let t = ((h0 >> 16) ^ h1) & 0xffff;
        step0 = t & 0x1f;
        step1 = t >> 11;
    }
    h0 ^ h1
}

macro_rules! hash32 {
    ($name:literal, $f:expr) => {
        Def {
            name: $name,
            input: Type::Bin,
            output: Type::Int,
            args: (0, 1),
            parse: read::ints,
            run: |a, s, _| {
                let f: fn(&[u8]) -> u32 = $f;
                let h = f(s.bytes()?);
                let h = if a.first().is_some_and(|x| x.int() != 0) {
                    avalanche(h)
                } else {
                    h
                };
                Some(Sample::Int(i64::from(h)))
            },
        }
    };
}

macro_rules! seeded {
    ($name:literal, $f:expr) => {
        Def {
            name: $name,
            input: Type::Bin,
            output: Type::Int,
            args: (0, 1),
            parse: read::ints,
            run: |a, s, _| {
                let f: fn(&[u8], u64) -> i64 = $f;
                Some(Sample::Int(f(s.bytes()?, a.first().map_or(0, Arg::int) as u64)))
            },
        }
    };
}

fn digest(alg: &str, b: &[u8]) -> Option<Vec<u8>> {
    use sha2::Digest as _;
    Some(match alg.to_ascii_lowercase().as_str() {
        "md5" => md5::Md5::digest(b).to_vec(),
        "sha1" => ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, b)
            .as_ref()
            .to_vec(),
        "sha224" => sha2::Sha224::digest(b).to_vec(),
        "sha256" => ring::digest::digest(&ring::digest::SHA256, b).as_ref().to_vec(),
        "sha384" => ring::digest::digest(&ring::digest::SHA384, b).as_ref().to_vec(),
        "sha512" => ring::digest::digest(&ring::digest::SHA512, b).as_ref().to_vec(),
        _ => return None,
    })
}

fn hmac_alg(alg: &str) -> Option<ring::hmac::Algorithm> {
    Some(match alg.to_ascii_lowercase().as_str() {
        "sha1" => ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        "sha256" => ring::hmac::HMAC_SHA256,
        "sha384" => ring::hmac::HMAC_SHA384,
        "sha512" => ring::hmac::HMAC_SHA512,
        _ => return None,
    })
}

fn b64(s: &[u8]) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(s).ok()
}

fn bin(v: Vec<u8>) -> Option<Sample<'static>> {
    Some(Sample::Bin(Cow::Owned(v)))
}

pub(super) const DEFS: &[Def] = &[
    hash32!("sdbm", sdbm),
    hash32!("djb2", djb2),
    hash32!("wt6", wt6),
    hash32!("crc32", crc32fast::hash),
    hash32!("crc32c", crc32c::crc32c),
    seeded!("xxh32", |b, seed| i64::from(xxhash_rust::xxh32::xxh32(b, seed as u32))),
    seeded!("xxh64", |b, seed| xxhash_rust::xxh64::xxh64(b, seed) as i64),
    seeded!("xxh3", |b, seed| xxhash_rust::xxh3::xxh3_64_with_seed(b, seed) as i64),
    Def {
        name: "sha1",
        input: Type::Bin,
        output: Type::Bin,
        args: (0, 0),
        parse: read::none,
        run: |_, s, _| bin(digest("sha1", s.bytes()?)?),
    },
    Def {
        name: "sha2",
        input: Type::Bin,
        output: Type::Bin,
        args: (0, 1),
        parse: |a| match a.first().map_or("256", String::as_str) {
            b @ ("" | "224" | "256" | "384" | "512") => {
                Ok(vec![Arg::Str(format!("sha{}", if b.is_empty() { "256" } else { b }))])
            }
            o => Err(format!("the bits are 224, 256, 384 or 512, not '{o}'")),
        },
        run: |a, s, _| bin(digest(a[0].str(), s.bytes()?)?),
    },
    Def {
        name: "digest",
        input: Type::Bin,
        output: Type::Bin,
        args: (1, 1),
        parse: |a| match digest(&a[0], b"") {
            Some(_) => Ok(vec![Arg::Str(a[0].clone())]),
            None => Err(format!(
                "unknown digest '{}' (md5, sha1, sha224, sha256, sha384, sha512)",
                a[0]
            )),
        },
        run: |a, s, _| bin(digest(a[0].str(), s.bytes()?)?),
    },
    Def {
        name: "hmac",
        input: Type::Bin,
        output: Type::Bin,
        args: (2, 2),
        parse: |a| {
            if hmac_alg(&a[0]).is_none() {
                return Err(format!("unknown HMAC digest '{}' (sha1, sha256, sha384, sha512)", a[0]));
            }
            // The key, base64-encoded, or a variable holding it so.
            let key = match VarName::parse(&a[1]) {
                Ok(v) => Arg::Var(v),
                Err(_) => {
                    let k = b64(a[1].as_bytes()).ok_or_else(|| format!("the key '{}' is not base64", a[1]))?;
                    Arg::Str(String::from_utf8(k).map_err(|_| "the key must decode to text".to_string())?)
                }
            };
            Ok(vec![Arg::Str(a[0].clone()), key])
        },
        run: |a, s, ctx| {
            let alg = hmac_alg(a[0].str())?;
            let key = match &a[1] {
                Arg::Var(v) => b64(&ctx.var(v)?.to_text())?,
                k => k.str().as_bytes().to_vec(),
            };
            let tag = ring::hmac::sign(&ring::hmac::Key::new(alg, &key), s.bytes()?);
            bin(tag.as_ref().to_vec())
        },
    },
];

#[cfg(test)]
mod tests {
    use crate::conv::testing::text;

    #[test]
    fn haproxy_hashes() {
        // HAProxy 2.6's reg-test sample_fetches/hashes: the 256 bytes 0..=255.
        let all: Vec<u8> = (0..=255).collect();
        let h = |convs: &str| {
            let v = crate::conv::testing::bin(&all, convs).unwrap();
            String::from_utf8(v.to_text().into_owned()).unwrap()
        };
        for (convs, want) in [
            ("crc32", "688229491"),
            ("crc32(1)", "4230317029"),
            ("crc32c", "2621708363"),
            ("crc32c(1)", "2242979626"),
            ("djb2", "2589693061"),
            ("djb2(1)", "600622701"),
            ("sdbm", "905707648"),
            ("sdbm(1)", "3103804144"),
            ("wt6", "4090277559"),
            ("wt6(1)", "1192658767"),
            ("xxh3", "-7779787747613135503"),
            ("xxh3(1)", "5930632130106562027"),
            ("xxh32", "1497633363"),
            ("xxh32(1)", "1070421674"),
            ("xxh64", "2282408585429094475"),
            ("xxh64(1)", "-4689339368900765961"),
            ("sha1,hex", "4916D6BDB7F78E6803698CAB32D1586EA457DFC8"),
            (
                "sha2(224),hex",
                "88702E63237824C4EB0D0FCFE41469A462493E8BEB2A75BBE5981734",
            ),
            (
                "sha2,hex",
                "40AFF2E9D2D8922E47AFD4648E6967497158785FBD1DA870E7110266BF944880",
            ),
        ] {
            assert_eq!(h(convs), want, "{convs}");
        }
    }

    #[test]
    fn digests_and_hmacs() {
        assert_eq!(
            text("abc", "sha1,hex,lower").unwrap(),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            text("abc", "sha2(224),hex,lower").unwrap(),
            "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7"
        );
        assert_eq!(
            text("abc", "digest(md5),hex,lower").unwrap(),
            "900150983cd24fb0d6963f7d28e17f72"
        );
        assert_eq!(
            text("abc", "sha2,hex").unwrap(),
            text("abc", "digest(SHA256),hex").unwrap()
        );
        // HAProxy's reg-test converter/hmac: key "key" written as base64.
        assert_eq!(
            text("1", "hmac(sha1,a2V5),hex,lower").unwrap(),
            "e23feb105f9622241bf23db1638cd2b4208b1f53"
        );
        assert_eq!(text("1", "hmac(sha1,txn.k),hex").unwrap().len(), 40);
    }
}
