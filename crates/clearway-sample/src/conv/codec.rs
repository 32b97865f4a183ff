//! Encodings: hexadecimal, base64 (standard and URL-safe), URL encoding, JSON escaping,
//! big-endian numbers.

use super::{read, Arg, Def};
use crate::{Sample, Type};
use base64::Engine as _;
use std::borrow::Cow;

const HEX: &[u8; 16] = b"0123456789ABCDEF";

fn owned_str(v: Vec<u8>) -> Option<Sample<'static>> {
    Some(Sample::Str(Cow::Owned(v)))
}

fn owned_bin(v: Vec<u8>) -> Option<Sample<'static>> {
    Some(Sample::Bin(Cow::Owned(v)))
}

fn hex(b: &[u8]) -> Vec<u8> {
    b.iter()
        .flat_map(|c| [HEX[usize::from(c >> 4)], HEX[usize::from(c & 15)]])
        .collect()
}

pub(super) const DEFS: &[Def] = &[
    Def {
        name: "hex",
        input: Type::Bin,
        output: Type::Str,
        args: (0, 0),
        parse: read::none,
        run: |_, s, _| owned_str(hex(s.bytes()?)),
    },
    Def {
        name: "hex2i",
        input: Type::Str,
        output: Type::Int,
        args: (0, 0),
        parse: read::none,
        run: |_, s, _| {
            let mut n: i64 = 0;
            for &c in s.bytes()? {
                n = (n << 4) | i64::from((c as char).to_digit(16)?);
            }
            Some(Sample::Int(n))
        },
    },
    Def {
        name: "base64",
        input: Type::Bin,
        output: Type::Str,
        args: (0, 0),
        parse: read::none,
        run: |_, s, _| {
            owned_str(
                base64::engine::general_purpose::STANDARD
                    .encode(s.bytes()?)
                    .into_bytes(),
            )
        },
    },
    Def {
        name: "b64dec",
        input: Type::Str,
        output: Type::Bin,
        args: (0, 0),
        parse: read::none,
        run: |_, s, _| owned_bin(base64::engine::general_purpose::STANDARD.decode(s.bytes()?).ok()?),
    },
    Def {
        name: "ub64enc",
        input: Type::Bin,
        output: Type::Str,
        args: (0, 0),
        parse: read::none,
        run: |_, s, _| {
            owned_str(
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .encode(s.bytes()?)
                    .into_bytes(),
            )
        },
    },
    Def {
        name: "ub64dec",
        input: Type::Str,
        output: Type::Bin,
        args: (0, 0),
        parse: read::none,
        run: |_, s, _| {
            let b = s.bytes()?;
            let b = b.strip_suffix(b"==").or_else(|| b.strip_suffix(b"=")).unwrap_or(b);
            owned_bin(base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(b).ok()?)
        },
    },
    Def {
        name: "url_dec",
        input: Type::Str,
        output: Type::Str,
        args: (0, 1),
        parse: read::ints,
        run: |a, s, _| owned_str(url_dec(s.bytes()?, a.first().is_some_and(|f| f.int() != 0))?),
    },
    Def {
        name: "url_enc",
        input: Type::Str,
        output: Type::Str,
        args: (0, 1),
        parse: |a| match a.first().map(String::as_str) {
            None | Some("query") => Ok(Vec::new()),
            Some(o) => Err(format!("unknown encoding '{o}' (only 'query')")),
        },
        run: |_, s, _| {
            let mut out = Vec::new();
            for &c in s.bytes()? {
                if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~') {
                    out.push(c);
                } else {
                    out.extend_from_slice(&[b'%', HEX[usize::from(c >> 4)], HEX[usize::from(c & 15)]]);
                }
            }
            owned_str(out)
        },
    },
    Def {
        name: "json",
        input: Type::Str,
        output: Type::Str,
        args: (0, 1),
        parse: |a| {
            let mode = match a.first().map_or("ascii", String::as_str) {
                "" | "ascii" => 0,
                "utf8" | "utf8p" => 1,
                "utf8s" | "utf8ps" => 2,
                o => return Err(format!("unknown input code '{o}' (ascii, utf8, utf8s, utf8p, utf8ps)")),
            };
            Ok(vec![Arg::Int(mode)])
        },
        run: |a, s, _| owned_str(json(s.bytes()?, a[0].int())?),
    },
    Def {
        name: "be2dec",
        input: Type::Bin,
        output: Type::Str,
        args: (2, 3),
        parse: |a| {
            let chunk = read::int(&a[1], "the chunk size")?;
            if !(1..=8).contains(&chunk) {
                return Err(format!("the chunk size must be 1 to 8, not {chunk}"));
            }
            Ok(vec![Arg::Str(a[0].clone()), Arg::Int(chunk), truncate(a.get(2))?])
        },
        run: |a, s, _| {
            let pieces = chunks(s.bytes()?, a[1].int() as usize, a[2].int() != 0);
            let nums: Vec<String> = pieces
                .map(|c| c.iter().fold(0u64, |n, &b| (n << 8) | u64::from(b)).to_string())
                .collect();
            owned_str(nums.join(a[0].str()).into_bytes())
        },
    },
    Def {
        name: "be2hex",
        input: Type::Bin,
        output: Type::Str,
        args: (0, 3),
        parse: |a| {
            let sep = a.first().cloned().unwrap_or_default();
            let chunk = match a.get(1).filter(|c| !c.is_empty()) {
                Some(c) => read::int(c, "the chunk size")?,
                None => 0,
            };
            let trunc = truncate(a.get(2))?;
            if chunk <= 0 && (!sep.is_empty() || trunc.int() != 0) {
                return Err("the chunk size must be positive".into());
            }
            Ok(vec![Arg::Str(sep), Arg::Int(chunk), trunc])
        },
        run: |a, s, _| {
            let b = s.bytes()?;
            let chunk = match a[1].int() {
                n if n > 0 => n as usize,
                _ => b.len().max(1),
            };
            let pieces: Vec<Vec<u8>> = chunks(b, chunk, a[2].int() != 0).map(hex).collect();
            owned_str(pieces.join(a[0].str().as_bytes()))
        },
    },
];

fn truncate(a: Option<&String>) -> Result<Arg, String> {
    match a.map(String::as_str) {
        None | Some("") | Some("0") => Ok(Arg::Int(0)),
        Some("1") => Ok(Arg::Int(1)),
        Some(o) => Err(format!("truncate is 0 or 1, not '{o}'")),
    }
}

/// `b` in pieces of `size` bytes; with `truncate`, a last shorter piece is left out.
fn chunks(b: &[u8], size: usize, truncate: bool) -> impl Iterator<Item = &[u8]> {
    b.chunks(size).filter(move |c| !truncate || c.len() == size)
}

/// `%XX` decoded; `+` is a blank in a form or after `?`. None on a bad `%` sequence.
fn url_dec(s: &[u8], mut form: bool) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() && s[i] != 0 {
        match s[i] {
            b'+' => out.push(if form { b' ' } else { b'+' }),
            b'%' => {
                let h = |j: usize| s.get(j).and_then(|&c| (c as char).to_digit(16));
                out.push((h(i + 1)? * 16 + h(i + 2)?) as u8);
                i += 2;
            }
            c => {
                form |= c == b'?';
                out.push(c);
            }
        }
        i += 1;
    }
    Some(out)
}

/// JSON string escaping; `mode` 0 reads bytes, 1 UTF-8 failing on errors, 2 UTF-8 skipping
/// them. Overlong forms count as errors (HAProxy's `p` variants would repair them).
fn json(s: &[u8], mode: i64) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut push = |c: u32| match c {
        0x22 => out.extend_from_slice(b"\\\""),
        0x5c => out.extend_from_slice(b"\\\\"),
        0x2f => out.extend_from_slice(b"\\/"),
        0x08 => out.extend_from_slice(b"\\b"),
        0x0c => out.extend_from_slice(b"\\f"),
        0x0d => out.extend_from_slice(b"\\r"),
        0x0a => out.extend_from_slice(b"\\n"),
        0x09 => out.extend_from_slice(b"\\t"),
        0x20..=0x7e => out.push(c as u8),
        _ => out.extend_from_slice(format!("\\u{c:04x}").as_bytes()),
    };
    if mode == 0 {
        s.iter().for_each(|&b| push(u32::from(b)));
    } else {
        for chunk in s.utf8_chunks() {
            for ch in chunk.valid().chars() {
                match u32::from(ch) {
                    c if c > 0xffff && mode == 1 => return None,
                    c if c > 0xffff => {}
                    c => push(c),
                }
            }
            if !chunk.invalid().is_empty() && mode == 1 {
                return None;
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use crate::conv::testing::{bin, text};
    use crate::Sample;

    fn t(b: &[u8], convs: &str) -> String {
        String::from_utf8(bin(b, convs).unwrap().to_text().into_owned()).unwrap()
    }

    #[test]
    fn hex_and_base64() {
        assert_eq!(t(b"\x01\xab", "hex"), "01AB");
        assert_eq!(text("01ab", "hex2i").unwrap(), "427");
        assert_eq!(text("0x1", "hex2i"), None);
        assert_eq!(t(b"hello", "base64"), "aGVsbG8=");
        assert_eq!(text("aGVsbG8=", "b64dec").unwrap(), "hello");
        assert_eq!(t(b"\xfb\xff", "ub64enc"), "-_8");
        assert_eq!(text("-_8", "ub64dec,hex").unwrap(), "FBFF");
        assert_eq!(text("-_8=", "ub64dec,hex").unwrap(), "FBFF");
    }

    #[test]
    fn url_codings() {
        assert_eq!(text("/a%20b+c?d+e", "url_dec").unwrap(), "/a b+c?d e");
        assert_eq!(text("a+b", "url_dec(1)").unwrap(), "a b");
        assert_eq!(text("a%2", "url_dec"), None);
        assert_eq!(text("a b/c~", "url_enc").unwrap(), "a%20b%2Fc~");
        assert_eq!(text("a b", "url_enc(query)").unwrap(), "a%20b");
    }

    #[test]
    fn json_as_documented() {
        assert_eq!(
            text(r#"Very "Ugly" UA 1/2"#, "json").unwrap(),
            r#"Very \"Ugly\" UA 1\/2"#
        );
        assert_eq!(text("é", "json").unwrap(), r"\u00c3\u00a9");
        assert_eq!(text("é", "json(utf8)").unwrap(), r"\u00e9");
        let bad = bin(b"a\xffb", "json(utf8s)").unwrap();
        assert_eq!(bad, Sample::string("ab".into()));
        assert!(bin(b"a\xffb", "json(utf8)").is_none());
    }

    #[test]
    fn big_endian_as_documented() {
        let b = b"\x01\x02\x03\x04\x05\x06\x07";
        assert_eq!(t(b, "be2dec(:,2)"), "258:772:1286:7");
        assert_eq!(t(b, "be2dec(-,2,1)"), "258-772-1286");
        assert_eq!(t(b, "be2dec(,2,1)"), "2587721286");
        assert_eq!(t(b"\x7f\0\0\x01", "be2dec(.,1)"), "127.0.0.1");
        assert_eq!(t(b, "be2hex"), "01020304050607");
        assert_eq!(t(b, "be2hex(:,2)"), "0102:0304:0506:07");
        assert_eq!(t(b, "be2hex(--,2,1)"), "0102--0304--0506");
        assert_eq!(t(b"\x01\x02\x03\x04\x05\x06\x07\x08", "be2hex(,3,1)"), "010203040506");
    }
}
