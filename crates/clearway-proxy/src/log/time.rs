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
    let offset = if local {
        clearway_net::process::local_utc_offset(secs)
    } else {
        0
    };
    let s = secs + offset;
    let days = s.div_euclid(86_400);
    let rem = s.rem_euclid(86_400);
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
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

/// `06/Dec/2026:08:30:01`, the part common to HAProxy's log dates.
fn day_and_time(out: &mut String, c: &Civil) {
    let month = MONTHS[c.month as usize - 1];
    let _ = write!(
        out,
        "{:02}/{month}/{:04}:{:02}:{:02}:{:02}",
        c.day, c.year, c.hour, c.min, c.sec
    );
}

/// `%t`/`%tr`: `06/Dec/2026:08:30:01.123`.
pub fn accept_date(out: &mut String, t: SystemTime, local: bool) {
    day_and_time(out, &civil(t, local));
    let _ = write!(out, ".{:03}", millis(t));
}

/// `%T`/`%Tl`: `06/Dec/2026:08:30:01 +0000`.
pub fn clf_date(out: &mut String, t: SystemTime, local: bool) {
    let c = civil(t, local);
    day_and_time(out, &c);
    let sign = if c.offset < 0 { '-' } else { '+' };
    let off = c.offset.abs();
    let _ = write!(out, " {sign}{:02}{:02}", off / 3600, off / 60 % 60);
}

/// The RFC 3164 header's local time: `Dec  6 08:30:01`.
pub fn syslog_date(out: &mut String, t: SystemTime) {
    let c = civil(t, true);
    let _ = write!(
        out,
        "{} {:2} {:02}:{:02}:{:02}",
        MONTHS[c.month as usize - 1],
        c.day,
        c.hour,
        c.min,
        c.sec
    );
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
