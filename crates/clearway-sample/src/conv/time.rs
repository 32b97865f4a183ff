//! Time converters: `utime(FORMAT[,OFFSET])` and `ltime(FORMAT[,OFFSET])`, a Unix time
//! written with strftime's conversions, in UTC or in the local time zone (whose offset the
//! process gives: `set_local_offset`; UTC until it does).

use super::{read, Arg, Def};
use crate::{Sample, Type};
use std::borrow::Cow;

/// The local time zone's offset from UTC, in seconds, at a Unix time.
pub type LocalOffset = fn(i64) -> i64;

static LOCAL: std::sync::OnceLock<LocalOffset> = std::sync::OnceLock::new();

/// How `ltime` learns the local time zone (once per process).
pub fn set_local_offset(f: LocalOffset) {
    let _ = LOCAL.set(f);
}

fn parse(a: &[String]) -> Result<Vec<Arg>, String> {
    let offset = match a.get(1).filter(|s| !s.is_empty()) {
        Some(o) => read::int(o, "the offset")?,
        None => 0,
    };
    Ok(vec![Arg::Str(a[0].clone()), Arg::Int(offset)])
}

fn run<'a>(a: &[Arg], s: Sample<'a>, local: bool) -> Option<Sample<'a>> {
    let Sample::Int(t) = s else { return None };
    let t = t.saturating_add(a[1].int());
    let off = if local { LOCAL.get().map_or(0, |f| f(t)) } else { 0 };
    Some(Sample::Str(Cow::Owned(strftime(a[0].str(), t, off).into_bytes())))
}

pub(super) const DEFS: &[Def] = &[
    Def {
        name: "utime",
        input: Type::Int,
        output: Type::Str,
        args: (1, 2),
        parse,
        run: |a, s, _| run(a, s, false),
    },
    Def {
        name: "ltime",
        input: Type::Int,
        output: Type::Str,
        args: (1, 2),
        parse,
        run: |a, s, _| run(a, s, true),
    },
];

const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// `t` (seconds since the epoch) `off` seconds east of UTC, written as `fmt` says with
/// strftime's conversions (an unknown one is written as it is).
pub fn strftime(fmt: &str, t: i64, off: i64) -> String {
    let local = t + off;
    let days = local.div_euclid(86_400);
    let rem = local.rem_euclid(86_400);
    let (year, month, day) = super::civil_from_days(days);
    let (h, m, s) = (rem / 3600, rem / 60 % 60, rem % 60);
    let wday = (days + 4).rem_euclid(7) as usize;
    let jan1 = days - (1..month).map(|mo| month_days(year, mo)).sum::<i64>() - i64::from(day - 1);
    let yday = days - jan1 + 1;
    let mut out = String::with_capacity(fmt.len() + 16);
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(k) = chars.next() else {
            out.push('%');
            break;
        };
        let piece = match k {
            'a' => DAYS[wday][..3].to_string(),
            'A' => DAYS[wday].to_string(),
            'b' | 'h' => MONTHS[(month - 1) as usize][..3].to_string(),
            'B' => MONTHS[(month - 1) as usize].to_string(),
            'C' => format!("{:02}", year / 100),
            'd' => format!("{day:02}"),
            'e' => format!("{day:2}"),
            'D' => format!("{month:02}/{day:02}/{:02}", year % 100),
            'F' => format!("{year:04}-{month:02}-{day:02}"),
            'H' => format!("{h:02}"),
            'I' => format!("{:02}", (h + 11) % 12 + 1),
            'j' => format!("{yday:03}"),
            'k' => format!("{h:2}"),
            'l' => format!("{:2}", (h + 11) % 12 + 1),
            'm' => format!("{month:02}"),
            'M' => format!("{m:02}"),
            'n' => "\n".into(),
            'p' => (if h < 12 { "AM" } else { "PM" }).into(),
            'R' => format!("{h:02}:{m:02}"),
            's' => t.to_string(),
            'S' => format!("{s:02}"),
            't' => "\t".into(),
            'T' => format!("{h:02}:{m:02}:{s:02}"),
            'u' => (if wday == 0 { 7 } else { wday }).to_string(),
            'w' => wday.to_string(),
            'y' => format!("{:02}", year.rem_euclid(100)),
            'Y' => year.to_string(),
            'z' => {
                let sign = if off < 0 { '-' } else { '+' };
                format!("{sign}{:02}{:02}", off.abs() / 3600, off.abs() / 60 % 60)
            }
            'Z' if off == 0 => "UTC".into(),
            '%' => "%".into(),
            other => format!("%{other}"),
        };
        out.push_str(&piece);
    }
    out
}

fn month_days(year: i64, month: u32) -> i64 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::run;
    use super::*;

    #[test]
    fn formats() {
        // HAProxy's documented example: utime("%Y-%m-%dT%H:%M:%S").
        let at = |f: &str| strftime(f, 1_700_000_000, 0);
        assert_eq!(at("%Y-%m-%dT%H:%M:%S"), "2023-11-14T22:13:20");
        assert_eq!(
            at("%a %A %b %B %j %u %w %y %%"),
            "Tue Tuesday Nov November 318 2 2 23 %"
        );
        assert_eq!(at("%d/%b/%Y:%H:%M:%S %z"), "14/Nov/2023:22:13:20 +0000");
        assert_eq!(strftime("%H:%M %z", 1_700_000_000, -5 * 3600), "17:13 -0500");
        assert_eq!(strftime("%F %T", 0, 0), "1970-01-01 00:00:00");
        assert_eq!(strftime("%j", 951_782_400, 0), "060", "29 Feb 2000");
        assert_eq!(
            run(Sample::Int(1_700_000_000), "utime(%Y%m%d,86400)")
                .unwrap()
                .to_text()
                .as_ref(),
            b"20231115"
        );
    }
}
