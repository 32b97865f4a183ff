//! Converters on text: case, length, fields and words, concatenation, substitution,
//! comparison.

use super::{read, Arg, Def};
use crate::{Sample, Type};
use std::borrow::Cow;

pub(super) const DEFS: &[Def] = &[
    Def {
        name: "lower",
        input: Type::Str,
        output: Type::Str,
        args: (0, 0),
        parse: read::none,
        run: |_, s, _| Some(map_bytes(s, |b| b.to_ascii_lowercase())),
    },
    Def {
        name: "upper",
        input: Type::Str,
        output: Type::Str,
        args: (0, 0),
        parse: read::none,
        run: |_, s, _| Some(map_bytes(s, |b| b.to_ascii_uppercase())),
    },
    Def {
        name: "length",
        input: Type::Str,
        output: Type::Int,
        args: (0, 0),
        parse: read::none,
        run: |_, s, _| Some(Sample::Int(s.bytes()?.len() as i64)),
    },
    Def {
        name: "field",
        input: Type::Str,
        output: Type::Str,
        args: (2, 3),
        parse: index_args,
        run: |a, s, _| {
            let (index, delims, count) = (a[0].int(), a[1].str().as_bytes(), count(a));
            let (start, end) = field(s.bytes()?, index, delims, count)?;
            Some(slice(s, start, end))
        },
    },
    Def {
        name: "word",
        input: Type::Str,
        output: Type::Str,
        args: (2, 3),
        parse: index_args,
        run: |a, s, _| {
            let (index, delims, count) = (a[0].int(), a[1].str().as_bytes(), count(a));
            let (start, end) = word(s.bytes()?, index, delims, count)?;
            Some(slice(s, start, end))
        },
    },
    Def {
        name: "bytes",
        input: Type::Bin,
        output: Type::Bin,
        args: (1, 2),
        parse: |a| a.iter().map(|s| read::int_or_var(s)).collect(),
        run: |a, s, ctx| {
            let len = s.bytes()?.len();
            let from = usize::try_from(a[0].int_value(ctx)?).ok()?;
            if from > len {
                return None;
            }
            let to = match a.get(1) {
                Some(l) => from.saturating_add(usize::try_from(l.int_value(ctx)?).ok()?).min(len),
                None => len,
            };
            Some(slice(s, from, to))
        },
    },
    Def {
        name: "concat",
        input: Type::Str,
        output: Type::Str,
        args: (1, 3),
        parse: |a| {
            let mut out = vec![Arg::Str(a[0].clone())];
            if let Some(v) = a.get(1).filter(|v| !v.is_empty()) {
                out.push(read::var(v)?);
            } else {
                out.push(Arg::None);
            }
            out.push(Arg::Str(a.get(2).cloned().unwrap_or_default()));
            Ok(out)
        },
        run: |a, s, ctx| {
            let mut v = s.bytes()?.to_vec();
            v.extend_from_slice(a[0].str().as_bytes());
            if let Arg::Var(name) = &a[1] {
                if let Some(x) = ctx.var(name) {
                    v.extend_from_slice(&x.to_text());
                }
            }
            v.extend_from_slice(a[2].str().as_bytes());
            Some(Sample::Str(Cow::Owned(v)))
        },
    },
    Def {
        name: "add_item",
        input: Type::Str,
        output: Type::Str,
        args: (2, 3),
        parse: |a| {
            let var = match a[1].as_str() {
                "" => Arg::None,
                v => read::var(v)?,
            };
            let suffix = a.get(2).cloned().unwrap_or_default();
            if matches!(var, Arg::None) && suffix.is_empty() {
                return Err("needs a variable or a suffix".into());
            }
            Ok(vec![Arg::Str(a[0].clone()), var, Arg::Str(suffix)])
        },
        run: |a, s, ctx| {
            let item = match &a[1] {
                Arg::Var(name) => ctx.var(name).map(|x| x.to_text().into_owned()),
                _ => None,
            };
            let suffix = a[2].str().as_bytes();
            let mut v = s.bytes()?.to_vec();
            if !v.is_empty() && (item.as_ref().is_some_and(|i| !i.is_empty()) || !suffix.is_empty()) {
                v.extend_from_slice(a[0].str().as_bytes());
            }
            v.extend_from_slice(item.as_deref().unwrap_or_default());
            v.extend_from_slice(suffix);
            Some(Sample::Str(Cow::Owned(v)))
        },
    },
    Def {
        name: "regsub",
        input: Type::Str,
        output: Type::Str,
        args: (2, 3),
        parse: |a| {
            let flags = a.get(2).map_or("", String::as_str);
            if let Some(f) = flags.chars().find(|c| !matches!(c, 'i' | 'g')) {
                return Err(format!("unknown flag '{f}' (i: ignore case, g: every match)"));
            }
            let re = regex::bytes::RegexBuilder::new(&a[0])
                .case_insensitive(flags.contains('i'))
                // Bytes, as PCRE reads them; ASCII case folding.
                .unicode(false)
                .build()
                .map_err(|e| format!("bad regular expression '{}': {e}", a[0]))?;
            Ok(vec![
                Arg::Regex(re),
                Arg::Str(a[1].clone()),
                Arg::Int(i64::from(flags.contains('g'))),
            ])
        },
        run: |a, s, _| {
            let Arg::Regex(re) = &a[0] else { return None };
            Some(Sample::Str(Cow::Owned(regsub(
                re,
                s.bytes()?,
                a[1].str(),
                a[2].int() != 0,
            ))))
        },
    },
    Def {
        name: "strcmp",
        input: Type::Str,
        output: Type::Int,
        args: (1, 1),
        parse: |a| Ok(vec![read::var(&a[0])?]),
        run: |a, s, ctx| {
            let Arg::Var(name) = &a[0] else { return None };
            let other = ctx.var(name)?.cast(Type::Str)?;
            let (l, r) = (s.bytes()?, other.bytes()?);
            // As HAProxy: the first differing bytes' difference, else the lengths'.
            let diff = l.iter().zip(r).find(|(a, b)| a != b);
            Some(Sample::Int(match diff {
                Some((a, b)) => i64::from(*a) - i64::from(*b),
                None => l.len() as i64 - r.len() as i64,
            }))
        },
    },
    Def {
        name: "secure_memcmp",
        input: Type::Bin,
        output: Type::Bool,
        args: (1, 1),
        parse: |a| Ok(vec![read::var(&a[0])?]),
        run: |a, s, ctx| {
            let Arg::Var(name) = &a[0] else { return None };
            let other = ctx.var(name)?.cast(Type::Bin)?;
            let (l, r) = (s.bytes()?, other.bytes()?);
            Some(Sample::Bool(
                // Every byte is looked at whatever differs, so the time says nothing.
                l.len() == r.len() && l.iter().zip(r).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0,
            ))
        },
    },
];

fn map_bytes(s: Sample<'_>, f: fn(&u8) -> u8) -> Sample<'_> {
    match s {
        Sample::Str(b) => Sample::Str(Cow::Owned(b.iter().map(f).collect())),
        other => other,
    }
}

/// `s[start..end]`, borrowed when `s` was.
fn slice(s: Sample<'_>, start: usize, end: usize) -> Sample<'_> {
    fn cut(b: Cow<'_, [u8]>, start: usize, end: usize) -> Cow<'_, [u8]> {
        match b {
            Cow::Borrowed(x) => Cow::Borrowed(&x[start..end]),
            Cow::Owned(x) => Cow::Owned(x[start..end].to_vec()),
        }
    }
    match s {
        Sample::Str(b) => Sample::Str(cut(b, start, end)),
        Sample::Bin(b) => Sample::Bin(cut(b, start, end)),
        other => other,
    }
}

fn index_args(a: &[String]) -> Result<Vec<Arg>, String> {
    let index = read::int(&a[0], "the index")?;
    if index == 0 {
        return Err("the index counts from 1 (or from -1 at the end)".into());
    }
    let mut out = vec![Arg::Int(index), Arg::Str(a[1].clone())];
    if let Some(c) = a.get(2) {
        out.push(Arg::Int(read::int(c, "the count")?));
    }
    Ok(out)
}

fn count(a: &[Arg]) -> i64 {
    a.get(2).map_or(1, Arg::int)
}

/// The bytes of field `index` (and the `count - 1` after it; 0: all the rest) where every
/// delimiter ends a field; None when there is no such field.
fn field(s: &[u8], index: i64, delims: &[u8], mut count: i64) -> Option<(usize, usize)> {
    let is_delim = |b: u8| delims.contains(&b);
    if index > 0 {
        let (mut field, mut start) = (1, 0);
        for (end, &b) in s.iter().enumerate() {
            if !is_delim(b) {
                continue;
            }
            if field == index {
                if count == 1 {
                    return Some((start, end));
                }
                if count > 1 {
                    count -= 1;
                }
            } else {
                start = end + 1;
                field += 1;
            }
        }
        (field == index).then_some((start, s.len()))
    } else {
        let (mut field, mut end) = (-1, s.len());
        for start in (1..=s.len()).rev() {
            if !is_delim(s[start - 1]) {
                continue;
            }
            if field == index {
                if count == 1 {
                    return Some((start, end));
                }
                if count > 1 {
                    count -= 1;
                }
            } else {
                end = start - 1;
                field -= 1;
            }
        }
        (field == index).then_some((0, end))
    }
}

/// Like `field`, but runs of delimiters separate words and delimiters at either end are
/// ignored; a word that is not there is empty.
fn word(s: &[u8], index: i64, delims: &[u8], mut count: i64) -> Option<(usize, usize)> {
    let is_delim = |b: u8| delims.contains(&b);
    let (mut word, mut inword) = (0, false);
    if index > 0 {
        let mut start = 0;
        for (end, &b) in s.iter().enumerate() {
            let sep = is_delim(b);
            if !inword {
                if !sep {
                    if word != index {
                        word += 1;
                        start = end;
                    }
                    inword = true;
                }
            } else if sep {
                if word == index {
                    if count == 1 {
                        return Some((start, end));
                    }
                    if count > 1 {
                        count -= 1;
                    }
                }
                inword = false;
            }
        }
        Some(if word == index { (start, s.len()) } else { (0, 0) })
    } else {
        let mut end = s.len();
        for start in (1..=s.len()).rev() {
            let sep = is_delim(s[start - 1]);
            if !inword {
                if !sep {
                    if word != index {
                        word -= 1;
                        end = start;
                    }
                    inword = true;
                }
            } else if sep {
                if word == index {
                    if count == 1 {
                        return Some((start, end));
                    }
                    if count > 1 {
                        count -= 1;
                    }
                }
                inword = false;
            }
        }
        Some(if word == index { (0, end) } else { (0, 0) })
    }
}

/// `s/re/with/[g]`, `\N` in `with` naming group N.
fn regsub(re: &regex::bytes::Regex, s: &[u8], with: &str, global: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut last = 0;
    for caps in re.captures_iter(s) {
        let m = caps.get(0).expect("group 0 is the match");
        out.extend_from_slice(&s[last..m.start()]);
        let w = with.as_bytes();
        let mut i = 0;
        while i < w.len() {
            if w[i] == b'\\' && w.get(i + 1).is_some_and(u8::is_ascii_digit) {
                let g = usize::from(w[i + 1] - b'0');
                if let Some(x) = caps.get(g) {
                    out.extend_from_slice(x.as_bytes());
                }
                i += 2;
            } else {
                out.push(w[i]);
                i += 1;
            }
        }
        last = m.end();
        if !global {
            break;
        }
    }
    out.extend_from_slice(&s[last..]);
    out
}

#[cfg(test)]
mod tests {
    use crate::conv::testing::text;

    #[test]
    fn case_and_length() {
        assert_eq!(text("AbC", "lower").unwrap(), "abc");
        assert_eq!(text("AbC", "upper").unwrap(), "ABC");
        assert_eq!(text("AbC", "length").unwrap(), "3");
    }

    #[test]
    fn fields_as_documented() {
        let s = "f1_f2_f3__f5";
        assert_eq!(text(s, "field(5,_)").unwrap(), "f5");
        assert_eq!(text(s, "field(2,_,0)").unwrap(), "f2_f3__f5");
        assert_eq!(text(s, "field(2,_,2)").unwrap(), "f2_f3");
        assert_eq!(text(s, "field(-2,_,3)").unwrap(), "f2_f3_");
        assert_eq!(text(s, "field(-3,_,0)").unwrap(), "f1_f2_f3");
        assert_eq!(text(s, "field(6,_)"), None);
        assert_eq!(text("/a/b", "field(3,/)").unwrap(), "b");
    }

    #[test]
    fn words_as_documented() {
        let s = "f1_f2_f3__f5";
        assert_eq!(text(s, "word(4,_)").unwrap(), "f5");
        assert_eq!(text(s, "word(2,_,0)").unwrap(), "f2_f3__f5");
        assert_eq!(text(s, "word(3,_,2)").unwrap(), "f3__f5");
        assert_eq!(text(s, "word(-2,_,3)").unwrap(), "f1_f2_f3");
        assert_eq!(text(s, "word(-3,_,0)").unwrap(), "f1_f2");
        assert_eq!(text("/f1/f2/f3/f4", "word(1,/)").unwrap(), "f1");
        assert_eq!(text(s, "word(9,_)").unwrap(), "");
    }

    #[test]
    fn concat_and_add_item() {
        assert_eq!(text("a", "concat(<,txn.v,>)").unwrap(), "a<var>");
        assert_eq!(text("a", "concat(-)").unwrap(), "a-");
        assert_eq!(text("a", "concat(,txn.none,)").unwrap(), "a");
        assert_eq!(text("a", "add_item(',',txn.v,_suff_)").unwrap(), "a,var_suff_");
        assert_eq!(text("", "add_item(',',txn.v)").unwrap(), "var");
        assert_eq!(text("a", "add_item(',',,_suff_)").unwrap(), "a,_suff_");
        assert_eq!(text("a", "add_item(',',txn.none)").unwrap(), "a");
    }

    #[test]
    fn regsub_as_sed() {
        assert_eq!(text("/////a///b/", "regsub('/+','/','g')").unwrap(), "/a/b/");
        assert_eq!(text("/////a///b/", "regsub('/+','/')").unwrap(), "/a///b/");
        assert_eq!(
            text("FOO12", r#"regsub("(foo|bar)([0-9]+)?","\2\1",i)"#).unwrap(),
            "12FOO"
        );
    }

    #[test]
    fn comparisons() {
        assert_eq!(text("var", "strcmp(txn.v)").unwrap(), "0");
        assert_eq!(text("va", "strcmp(txn.v)").unwrap(), "-1");
        assert_eq!(text("x", "strcmp(txn.none)"), None);
        assert_eq!(text("var", "secure_memcmp(txn.v)").unwrap(), "1");
        assert_eq!(text("vaR", "secure_memcmp(txn.v)").unwrap(), "0");
        assert_eq!(text("abcdef", "bytes(2,3)").unwrap(), "cde");
        assert_eq!(text("abcdef", "bytes(4)").unwrap(), "ef");
        assert_eq!(text("abcdef", "bytes(txn.n,1)").unwrap(), "d");
    }
}
