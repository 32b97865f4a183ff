//! The rest: truth to text (`iif`), variables as converters (`set-var`, `unset-var`),
//! address masks, HTTP dates.

use super::{read, Arg, Def};
use crate::vars::SetConds;
use crate::{Sample, Type};
use std::borrow::Cow;
use std::net::{Ipv4Addr, Ipv6Addr};

pub(super) const DEFS: &[Def] = &[
    Def {
        name: "iif",
        input: Type::Bool,
        output: Type::Str,
        args: (2, 2),
        parse: read::strs,
        run: |a, s, _| {
            let Sample::Bool(b) = s else { return None };
            let pick = if b { &a[0] } else { &a[1] };
            Some(Sample::Str(Cow::Owned(pick.str().as_bytes().to_vec())))
        },
    },
    Def {
        name: "set-var",
        input: Type::Any,
        output: Type::Any,
        args: (1, 5),
        parse: |a| {
            let conds: Vec<&str> = a[1..].iter().map(String::as_str).collect();
            Ok(vec![read::var(&a[0])?, Arg::Conds(SetConds::parse(&conds)?)])
        },
        run: |a, s, ctx| {
            if let (Arg::Var(v), Arg::Conds(c)) = (&a[0], &a[1]) {
                ctx.set_var(v, s.view(), *c);
            }
            Some(s)
        },
    },
    Def {
        name: "unset-var",
        input: Type::Any,
        output: Type::Any,
        args: (1, 1),
        parse: |a| Ok(vec![read::var(&a[0])?]),
        run: |a, s, ctx| {
            if let Arg::Var(v) = &a[0] {
                ctx.unset_var(v);
            }
            Some(s)
        },
    },
    Def {
        name: "ipmask",
        input: Type::Addr,
        output: Type::Addr,
        args: (1, 2),
        parse: |a| {
            let v4 = mask4(&a[0])?;
            let mut out = vec![Arg::Int(i64::from(v4))];
            if let Some(m) = a.get(1) {
                out.push(Arg::Str(mask6(m)?.to_string()));
            }
            Ok(out)
        },
        run: |a, s, _| {
            let s = match s {
                Sample::Ipv6(v6) => v6.to_ipv4_mapped().map_or(Sample::Ipv6(v6), Sample::Ipv4),
                other => other,
            };
            match s {
                Sample::Ipv4(v4) => Some(Sample::Ipv4(Ipv4Addr::from(u32::from(v4) & a[0].int() as u32))),
                Sample::Ipv6(v6) => {
                    let m: Ipv6Addr = a.get(1)?.str().parse().ok()?;
                    Some(Sample::Ipv6(Ipv6Addr::from(u128::from(v6) & u128::from(m))))
                }
                _ => None,
            }
        },
    },
    Def {
        name: "http_date",
        input: Type::Int,
        output: Type::Str,
        args: (0, 2),
        parse: |a| {
            let offset = match a.first().filter(|s| !s.is_empty()) {
                Some(o) => read::int(o, "the offset")?,
                None => 0,
            };
            let unit = match a.get(1).map(String::as_str) {
                None | Some("") | Some("s") => 1,
                Some("ms") => 1_000,
                Some("us") => 1_000_000,
                Some(o) => return Err(format!("unknown unit '{o}' (s, ms or us)")),
            };
            Ok(vec![Arg::Int(offset), Arg::Int(unit)])
        },
        run: |a, s, _| {
            let Sample::Int(t) = s else { return None };
            let t = t.saturating_add(a[0].int());
            let unit = a[1].int();
            let (secs, frac) = (t / unit, t % unit);
            let text = http_date(secs & 0x007f_ffff_ffff_ffff, (unit != 1).then_some(frac));
            Some(Sample::Str(Cow::Owned(text.into_bytes())))
        },
    },
];

/// `24` or `255.255.255.0`.
fn mask4(s: &str) -> Result<u32, String> {
    if let Ok(bits) = s.parse::<u32>() {
        return match bits {
            0 => Ok(0),
            1..=32 => Ok(u32::MAX << (32 - bits)),
            _ => Err(format!("'{s}': an IPv4 mask is 0 to 32 bits")),
        };
    }
    s.parse::<Ipv4Addr>()
        .map(u32::from)
        .map_err(|_| format!("'{s}' is not an IPv4 mask"))
}

/// `64` or `ffff:ffff::`.
fn mask6(s: &str) -> Result<Ipv6Addr, String> {
    if let Ok(bits) = s.parse::<u32>() {
        return match bits {
            0 => Ok(Ipv6Addr::UNSPECIFIED),
            1..=128 => Ok(Ipv6Addr::from(u128::MAX << (128 - bits))),
            _ => Err(format!("'{s}': an IPv6 mask is 0 to 128 bits")),
        };
    }
    s.parse().map_err(|_| format!("'{s}' is not an IPv6 mask"))
}

/// The date (year, month 1-12, day 1-31) `days` after 1970-01-01 (Howard Hinnant's
/// days-to-civil algorithm).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// `Sun, 06 Nov 1994 08:49:37 GMT` (with `.FRAC` before GMT when given).
pub fn http_date(secs: i64, frac: Option<i64>) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let wday = DAYS[days.rem_euclid(7) as usize];
    let frac = frac.map(|f| format!(".{f}")).unwrap_or_default();
    format!(
        "{wday}, {day:02} {} {year:04} {:02}:{:02}:{:02}{frac} GMT",
        MONTHS[(month - 1) as usize],
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use crate::conv::testing::{run, text};
    use crate::Sample;

    #[test]
    fn iif_and_masks() {
        assert_eq!(
            run(Sample::Bool(true), "iif(https,http)"),
            Some(Sample::str("https").into_owned())
        );
        assert_eq!(
            run(Sample::Int(0), "iif(https,http)"),
            Some(Sample::str("http").into_owned())
        );
        assert_eq!(text("192.168.1.77", "ipmask(24)").unwrap(), "192.168.1.0");
        assert_eq!(text("192.168.1.77", "ipmask(255.255.0.0)").unwrap(), "192.168.0.0");
        assert_eq!(text("2001:db8::1", "ipmask(24,64)").unwrap(), "2001:db8::");
        assert_eq!(text("2001:db8::1", "ipmask(24)"), None);
        assert_eq!(text("::ffff:10.1.2.3", "ipmask(8)").unwrap(), "10.0.0.0");
    }

    #[test]
    fn http_dates() {
        assert_eq!(
            run(Sample::Int(784111777), "http_date").unwrap(),
            Sample::str("Sun, 06 Nov 1994 08:49:37 GMT")
        );
        assert_eq!(
            run(Sample::Int(0), "http_date(86400)").unwrap(),
            Sample::str("Fri, 02 Jan 1970 00:00:00 GMT")
        );
        assert_eq!(
            run(Sample::Int(784111777123), "http_date(0,ms)").unwrap(),
            Sample::str("Sun, 06 Nov 1994 08:49:37.123 GMT")
        );
    }
}
