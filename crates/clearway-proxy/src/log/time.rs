//! Dates as HAProxy writes them in logs (`06/Dec/2026:08:30:01.123`, syslog's `Dec  6
//! 08:30:01`, RFC 5424's ISO form), in local time or UTC, without a calendar crate: the
//! civil date from a day count, and the time zone's offset from the C library. Must not
//! allocate per call beyond the output string.

use std::fmt::Write;
use std::time::{SystemTime, UNIX_EPOCH};

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

pub fn unix_secs(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

pub fn millis(t: SystemTime) -> u32 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_millis())
}

/// The local offset at `secs`, asked of the C library once per second per thread (every log
/// line needs it, often twice).
fn local_offset(secs: i64) -> i64 {
    thread_local! {
        static LAST: std::cell::Cell<(i64, i64)> = const { std::cell::Cell::new((i64::MIN, 0)) };
    }
    LAST.with(|last| {
        let (at, off) = last.get();
        if at == secs {
            return off;
        }
        let off = clearway_net::process::local_utc_offset(secs);
        last.set((secs, off));
        off
    })
}

/// A broken-down time: year, month (1-12), day, hour, minute, second, and the offset used.
pub struct Civil {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub min: u32,
    pub sec: u32,
    pub offset: i64,
}

/// `t` in local time (`local`) or UTC.
pub fn civil(t: SystemTime, local: bool) -> Civil {
    let secs = unix_secs(t);
    let offset = if local { local_offset(secs) } else { 0 };
    let s = secs + offset;
    let days = s.div_euclid(86_400);
    let rem = s.rem_euclid(86_400);
    let (year, month, day) = clearway_sample::conv::civil_from_days(days);
    Civil {
        year,
        month,
        day,
        hour: (rem / 3600) as u32,
        min: (rem / 60 % 60) as u32,
        sec: (rem % 60) as u32,
        offset,
    }
}

/// `n` (below 10^width) with leading zeros to `width` digits.
fn padded(out: &mut String, n: u32, width: usize) {
    let mut digits = [b'0'; 4];
    let mut n = n;
    for d in digits[..width].iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
    out.push_str(std::str::from_utf8(&digits[..width]).unwrap_or("0"));
}

/// A second's date strings, made once per second and thread: (`06/Dec/2026:08:30:01`,
/// `Dec  6 08:30:01`), the offset's ` +0000`.
struct Second {
    at: i64,
    local: bool,
    clf: String,
    syslog: String,
    zone: String,
}

thread_local! {
    static SECONDS: std::cell::RefCell<[Option<Second>; 2]> = const { std::cell::RefCell::new([None, None]) };
}

/// Calls `f` with the date strings of the second of `t`, in local time or UTC.
fn with_second<R>(t: SystemTime, local: bool, f: impl FnOnce(&Second) -> R) -> R {
    let secs = unix_secs(t);
    SECONDS.with(|cache| {
        let mut cache = cache.borrow_mut();
        let slot = &mut cache[usize::from(local)];
        if slot.as_ref().is_none_or(|s| s.at != secs) {
            let c = civil(t, local);
            let month = MONTHS[c.month as usize - 1];
            let mut clf = String::with_capacity(20);
            padded(&mut clf, c.day, 2);
            clf.push('/');
            clf.push_str(month);
            clf.push('/');
            padded(&mut clf, c.year.clamp(0, 9999) as u32, 4);
            let mut clock = String::with_capacity(8);
            for (i, v) in [c.hour, c.min, c.sec].into_iter().enumerate() {
                if i > 0 {
                    clock.push(':');
                }
                padded(&mut clock, v, 2);
            }
            clf.push(':');
            clf.push_str(&clock);
            let syslog = format!("{month} {:2} {clock}", c.day);
            let sign = if c.offset < 0 { '-' } else { '+' };
            let off = c.offset.abs();
            let zone = format!(" {sign}{:02}{:02}", off / 3600, off / 60 % 60);
            *slot = Some(Second {
                at: secs,
                local,
                clf,
                syslog,
                zone,
            });
        }
        let s = slot.as_ref().filter(|s| s.local == local).expect("filled above");
        f(s)
    })
}

/// `%t`/`%tr`: `06/Dec/2026:08:30:01.123`.
pub fn accept_date(out: &mut String, t: SystemTime, local: bool) {
    with_second(t, local, |s| out.push_str(&s.clf));
    out.push('.');
    padded(out, millis(t), 3);
}

/// `%T`/`%Tl`: `06/Dec/2026:08:30:01 +0000`.
pub fn clf_date(out: &mut String, t: SystemTime, local: bool) {
    with_second(t, local, |s| {
        out.push_str(&s.clf);
        out.push_str(&s.zone);
    });
}

/// The RFC 3164 header's local time: `Dec  6 08:30:01`.
pub fn syslog_date(out: &mut String, t: SystemTime) {
    with_second(t, true, |s| out.push_str(&s.syslog));
}

/// RFC 5424's timestamp, local with its offset: `2026-12-06T08:30:01.123456+00:00`.
pub fn iso_date(out: &mut String, t: SystemTime) {
    let c = civil(t, true);
    let micros = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_micros());
    let sign = if c.offset < 0 { '-' } else { '+' };
    let off = c.offset.abs();
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{micros:06}{sign}{:02}:{:02}",
        c.year,
        c.month,
        c.day,
        c.hour,
        c.min,
        c.sec,
        off / 3600,
        off / 60 % 60
    );
}

/// This host's name, read once.
pub fn hostname() -> &'static str {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn dates_are_written_as_haproxy_writes_them() {
        // 2026-12-06 08:30:01.123 UTC.
        let t = UNIX_EPOCH + Duration::from_millis(1_796_545_801_123);
        let mut s = String::new();
        accept_date(&mut s, t, false);
        assert_eq!(s, "06/Dec/2026:08:30:01.123");
        s.clear();
        clf_date(&mut s, t, false);
        assert_eq!(s, "06/Dec/2026:08:30:01 +0000");
        let leap = civil(UNIX_EPOCH + Duration::from_secs(951_782_400), false);
        assert_eq!((leap.year, leap.month, leap.day), (2000, 2, 29));
        let epoch = civil(UNIX_EPOCH, false);
        assert_eq!((epoch.year, epoch.month, epoch.day, epoch.hour), (1970, 1, 1, 0));
    }
}
