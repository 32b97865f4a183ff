//! Map converters: `map(FILE[,DEFAULT])` and `map_MATCH[_OUT](FILE[,DEFAULT])`, looking the
//! input up in a file of `KEY VALUE` lines read at load time. MATCH is how a key matches
//! (`str` exact, `beg`, `sub`, `dir`, `dom`, `end`, `reg`, `regm` with `\N` references in the
//! value, `int` ranges, `ip` networks with the longest prefix winning); OUT the value's type
//! (`str`, `int`, `ip`). Without a match, DEFAULT, else the converter fails.

use super::{Arg, Def};
use crate::{Sample, Type};
use std::borrow::Cow;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    Str,
    Beg,
    Sub,
    Dir,
    Dom,
    End,
    Reg,
    Regm,
    Int,
    Ip,
}

/// A map file, ready for one kind of match.
#[derive(Debug)]
pub struct Map {
    how: Match,
    /// Keys and values in file order (the first that matches wins, but for `ip`).
    entries: Vec<(String, String)>,
    /// `str`: the first entry of each key.
    exact: HashMap<String, usize>,
    regexes: Vec<regex::bytes::Regex>,
    ranges: Vec<(i64, i64)>,
    nets: Vec<(IpAddr, u8)>,
}

impl Map {
    /// Reads `text` (`KEY VALUE` lines; blank lines and `#` comments skipped); `what` names
    /// the file in messages.
    pub fn parse(text: &str, how: Match, what: &str) -> Result<Map, String> {
        let mut m = Map {
            how,
            entries: Vec::new(),
            exact: HashMap::new(),
            regexes: Vec::new(),
            ranges: Vec::new(),
            nets: Vec::new(),
        };
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (key, value) = match line.split_once([' ', '\t']) {
                Some((k, v)) => (k, v.trim()),
                None => (line, ""),
            };
            let bad = |e: String| format!("{what}:{}: {e}", n + 1);
            match how {
                Match::Reg | Match::Regm => m.regexes.push(
                    regex::bytes::RegexBuilder::new(key)
                        .unicode(false)
                        .build()
                        .map_err(|e| bad(format!("bad regular expression '{key}': {e}")))?,
                ),
                Match::Int => m.ranges.push(crate::pattern::parse_int_range(key).map_err(bad)?),
                Match::Ip => m.nets.push(crate::pattern::parse_net(key).map_err(bad)?),
                Match::Str => {
                    m.exact.entry(key.to_string()).or_insert(m.entries.len());
                }
                _ => {}
            }
            m.entries.push((key.to_string(), value.to_string()));
        }
        Ok(m)
    }

    /// The value `input` maps to.
    pub fn lookup<'v>(&'v self, input: &Sample<'_>) -> Option<Cow<'v, str>> {
        match self.how {
            Match::Ip => {
                let ip = match input {
                    Sample::Ipv4(a) => IpAddr::V4(*a),
                    Sample::Ipv6(a) => IpAddr::V6(*a),
                    _ => return None,
                };
                let best = self
                    .nets
                    .iter()
                    .enumerate()
                    .filter(|(_, n)| crate::pattern::net_contains(**n, ip))
                    .max_by_key(|(i, n)| (n.1, std::cmp::Reverse(*i)))?;
                Some(Cow::Borrowed(&self.entries[best.0].1))
            }
            Match::Int => {
                let n = input.int()?;
                let i = self.ranges.iter().position(|(lo, hi)| (*lo..=*hi).contains(&n))?;
                Some(Cow::Borrowed(&self.entries[i].1))
            }
            Match::Str => {
                let key = std::str::from_utf8(input.bytes()?).ok()?;
                self.exact.get(key).map(|&i| Cow::Borrowed(self.entries[i].1.as_str()))
            }
            Match::Reg | Match::Regm => {
                let s = input.bytes()?;
                self.regexes.iter().enumerate().find_map(|(i, re)| {
                    let caps = re.captures(s)?;
                    let value = &self.entries[i].1;
                    if self.how == Match::Reg {
                        return Some(Cow::Borrowed(value.as_str()));
                    }
                    Some(Cow::Owned(references(value, &caps)))
                })
            }
            how => {
                let s = std::str::from_utf8(input.bytes()?).ok()?;
                let i = self.entries.iter().position(|(k, _)| matches(how, s, k))?;
                Some(Cow::Borrowed(&self.entries[i].1))
            }
        }
    }
}

/// `\N` in `value` replaced by group N of the match.
fn references(value: &str, caps: &regex::bytes::Captures<'_>) -> String {
    let mut out = Vec::with_capacity(value.len());
    let v = value.as_bytes();
    let mut i = 0;
    while i < v.len() {
        if v[i] == b'\\' && v.get(i + 1).is_some_and(u8::is_ascii_digit) {
            if let Some(g) = caps.get(usize::from(v[i + 1] - b'0')) {
                out.extend_from_slice(g.as_bytes());
            }
            i += 2;
        } else {
            out.push(v[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn matches(how: Match, s: &str, key: &str) -> bool {
    match how {
        Match::Beg => s.starts_with(key),
        Match::End => s.ends_with(key),
        Match::Sub => s.contains(key),
        Match::Dir => delimited(s, key, |c| c == '/'),
        Match::Dom => delimited(s, key, |c| matches!(c, '.' | '/')),
        _ => s == key,
    }
}

/// Whether `key` appears in `s` with a delimiter (or an end) on each side.
fn delimited(s: &str, key: &str, delim: fn(char) -> bool) -> bool {
    if key.is_empty() {
        return false;
    }
    s.match_indices(key).any(|(at, _)| {
        let before = s[..at].chars().next_back().is_none_or(delim);
        let after = s[at + key.len()..].chars().next().is_none_or(delim);
        before && after
    })
}

/// The value as the converter's output type; None when it is not one.
fn output(value: &str, out: Type) -> Option<Sample<'static>> {
    match out {
        Type::Int => Some(Sample::Int(value.trim().parse().ok()?)),
        Type::Addr => Some(Sample::ip(value.trim().parse().ok()?)),
        _ => Some(Sample::string(value.to_string())),
    }
}

/// Reads the file and the default: the arguments of every map converter.
fn args(a: &[String], how: Match, out: Type) -> Result<Vec<Arg>, String> {
    let text = std::fs::read_to_string(&a[0]).map_err(|e| format!("cannot read map file '{}': {e}", a[0]))?;
    let map = Map::parse(&text, how, &a[0])?;
    let default = match a.get(1) {
        Some(d) => {
            output(d, out).ok_or_else(|| format!("the default '{d}' is not of the map's output type"))?;
            Arg::Str(d.clone())
        }
        None => Arg::None,
    };
    Ok(vec![Arg::Map(Arc::new(map)), default])
}

fn run<'a>(a: &[Arg], s: Sample<'a>, out: Type) -> Option<Sample<'a>> {
    let Arg::Map(map) = &a[0] else { return None };
    match map.lookup(&s) {
        Some(v) => output(&v, out),
        None => match &a[1] {
            Arg::Str(d) => output(d, out),
            _ => None,
        },
    }
}

macro_rules! map {
    ($name:literal, $how:ident, $input:ident, $out:ident) => {
        Def {
            name: $name,
            input: Type::$input,
            output: Type::$out,
            args: (1, 2),
            parse: |a| args(a, Match::$how, Type::$out),
            run: |a, s, _| run(a, s, Type::$out),
        }
    };
}

pub(super) const DEFS: &[Def] = &[
    map!("map", Str, Str, Str),
    map!("map_str", Str, Str, Str),
    map!("map_str_int", Str, Str, Int),
    map!("map_str_ip", Str, Str, Addr),
    map!("map_beg", Beg, Str, Str),
    map!("map_beg_int", Beg, Str, Int),
    map!("map_beg_ip", Beg, Str, Addr),
    map!("map_sub", Sub, Str, Str),
    map!("map_sub_int", Sub, Str, Int),
    map!("map_sub_ip", Sub, Str, Addr),
    map!("map_dir", Dir, Str, Str),
    map!("map_dir_int", Dir, Str, Int),
    map!("map_dir_ip", Dir, Str, Addr),
    map!("map_dom", Dom, Str, Str),
    map!("map_dom_int", Dom, Str, Int),
    map!("map_dom_ip", Dom, Str, Addr),
    map!("map_end", End, Str, Str),
    map!("map_end_int", End, Str, Int),
    map!("map_end_ip", End, Str, Addr),
    map!("map_reg", Reg, Str, Str),
    map!("map_reg_int", Reg, Str, Int),
    map!("map_reg_ip", Reg, Str, Addr),
    map!("map_regm", Regm, Str, Str),
    map!("map_regm_int", Regm, Str, Int),
    map!("map_regm_ip", Regm, Str, Addr),
    map!("map_int", Int, Int, Str),
    map!("map_int_int", Int, Int, Int),
    map!("map_int_ip", Int, Int, Addr),
    map!("map_ip", Ip, Addr, Str),
    map!("map_ip_int", Ip, Addr, Int),
    map!("map_ip_ip", Ip, Addr, Addr),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn map(text: &str, how: Match) -> Map {
        Map::parse(text, how, "test.map").unwrap()
    }

    fn find(m: &Map, s: Sample<'_>) -> Option<String> {
        m.lookup(&s).map(|v| v.into_owned())
    }

    #[test]
    fn each_kind_of_match() {
        let text = "# hosts\nexample.com be_ex\n\nwww.example.com  be_www\nexample.com other\n";
        let m = map(text, Match::Str);
        assert_eq!(find(&m, Sample::str("example.com")).as_deref(), Some("be_ex"));
        assert_eq!(find(&m, Sample::str("www.example.com")).as_deref(), Some("be_www"));
        assert_eq!(find(&m, Sample::str("x.example.com")), None);
        let m = map(text, Match::Dom);
        assert_eq!(find(&m, Sample::str("a.example.com")).as_deref(), Some("be_ex"));
        assert_eq!(find(&m, Sample::str("notexample.com")), None);
        let m = map("/api/ api\n/ root\n", Match::Beg);
        assert_eq!(find(&m, Sample::str("/api/v1")).as_deref(), Some("api"));
        assert_eq!(find(&m, Sample::str("/x")).as_deref(), Some("root"));
        let m = map("10.0.0.0/8 wide\n10.1.0.0/16 narrow\n::1 lo6\n", Match::Ip);
        assert_eq!(
            find(&m, Sample::Ipv4("10.1.2.3".parse().unwrap())).as_deref(),
            Some("narrow")
        );
        assert_eq!(
            find(&m, Sample::Ipv4("10.9.2.3".parse().unwrap())).as_deref(),
            Some("wide")
        );
        assert_eq!(find(&m, Sample::Ipv6("::1".parse().unwrap())).as_deref(), Some("lo6"));
        let m = map("0:99 small\n100: big\n", Match::Int);
        assert_eq!(find(&m, Sample::Int(150)).as_deref(), Some("big"));
        let m = map(r"^(.*)\.example\.(com|net)$ \1.\2.backend", Match::Regm);
        assert_eq!(
            find(&m, Sample::str("www.example.net")).as_deref(),
            Some("www.net.backend")
        );
        assert!(Map::parse("( x\n", Match::Reg, "bad.map")
            .unwrap_err()
            .starts_with("bad.map:1:"));
        assert!(Map::parse("x y\nnope z\n", Match::Ip, "bad.map")
            .unwrap_err()
            .starts_with("bad.map:1:"));
    }

    #[test]
    fn converters_read_the_file_and_fall_back_to_the_default() {
        let dir = std::env::temp_dir().join(format!("cw-map-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("hosts.map");
        std::fs::write(&f, "a.test 1\nb.test 2\n").unwrap();
        let f = f.display();
        let t = |convs: &str| crate::conv::testing::text("a.test", convs);
        assert_eq!(t(&format!("map({f})")).as_deref(), Some("1"));
        assert_eq!(t(&format!("map_str_int({f}),add(1)")).as_deref(), Some("2"));
        assert_eq!(
            crate::conv::testing::text("c.test", &format!("map({f},none)")).as_deref(),
            Some("none")
        );
        assert_eq!(crate::conv::testing::text("c.test", &format!("map({f})")), None);
        let (_, calls) = crate::args::parse(&format!("x,map_str_int({f},notanint)")).unwrap();
        assert!(crate::Conv::new(&calls[0]).is_err());
        let (_, calls) = crate::args::parse("x,map(/nonexistent.map)").unwrap();
        assert!(crate::Conv::new(&calls[0])
            .unwrap_err()
            .contains("cannot read map file"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
