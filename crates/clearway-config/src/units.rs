//! Numbers with units as HAProxy reads them: times (`ms` by default, `us s m h d`), sizes
//! (`k m g`, powers of 1024) and plain integers. Owns value syntax; must not know keywords.

use std::time::Duration;

/// A time value such as `5000`, `5s`, `100ms`, `1m`.
pub fn time(s: &str) -> Result<Duration, String> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().map_err(|_| {
        format!("invalid time '{s}': expected a number with an optional unit (us, ms, s, m, h, d), e.g. 5s")
    })?;
    let per_unit_us: u64 = match unit {
        "us" => 1,
        "" | "ms" => 1_000,
        "s" => 1_000_000,
        "m" => 60_000_000,
        "h" => 3_600_000_000,
        "d" => 86_400_000_000,
        _ => return Err(format!("invalid time unit '{unit}' in '{s}': use us, ms, s, m, h or d")),
    };
    n.checked_mul(per_unit_us)
        .filter(|&us| us <= 24 * 86_400_000_000)
        .map(Duration::from_micros)
        .ok_or_else(|| format!("time '{s}' is too large (at most 24 days, as HAProxy)"))
}

/// A size value such as `16384`, `16k`, `1m`.
pub fn size(s: &str) -> Result<u64, String> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid size '{s}': expected a number with an optional unit (k, m, g)"))?;
    let mult: u64 = match unit.to_ascii_lowercase().as_str() {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        _ => return Err(format!("invalid size unit '{unit}' in '{s}': use k, m or g")),
    };
    n.checked_mul(mult).ok_or_else(|| format!("size '{s}' is too large"))
}

/// A non-negative integer that fits `T`.
pub fn int<T: std::str::FromStr>(s: &str, what: &str) -> Result<T, String> {
    s.parse()
        .map_err(|_| format!("invalid {what} '{s}': expected a whole number"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(time("5000").unwrap(), Duration::from_millis(5000));
        assert_eq!(time("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(time("100us").unwrap(), Duration::from_micros(100));
        assert_eq!(time("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(time("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(time("1d").unwrap(), Duration::from_secs(86400));
        assert!(time("5x").unwrap_err().contains("unit"));
        assert!(time("abc").is_err());
        assert!(time("").is_err());
        assert!(time("99999999999999d").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(size("16k").unwrap(), 16384);
        assert_eq!(size("1m").unwrap(), 1 << 20);
        assert_eq!(size("2G").unwrap(), 2 << 30);
        assert!(size("1t").is_err());
    }
}
