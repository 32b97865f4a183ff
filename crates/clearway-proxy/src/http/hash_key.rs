//! The part of a request `balance uri`, `balance url_param` and `balance hdr()` hash, as
//! HAProxy takes it: the target up to `?` (or whole), cut at `len` bytes or before the
//! `depth`-th slash; a query parameter's value; a header's first value (its domain's main
//! label with `use_domain_only`). None when the request has no such part.

use clearway_config::model::Balance;

/// `sdbm`, HAProxy's default hash function (`hash-type map-based`): the same part of a
/// request reaches the server HAProxy would send it to.
fn sdbm(bytes: impl IntoIterator<Item = u8>) -> u64 {
    let h = bytes.into_iter().fold(0u32, |h, b| {
        u32::from(b).wrapping_add(h << 6).wrapping_add(h << 16).wrapping_sub(h)
    });
    u64::from(h)
}

/// The hash `balance` takes from `req`, for the algorithms that read requests.
pub fn of(balance: &Balance, req: &http::request::Parts) -> Option<u64> {
    match balance {
        Balance::Uri {
            whole,
            len,
            depth,
            path_only,
        } => {
            let target = match (path_only, req.uri.authority()) {
                (false, Some(_)) => req.uri.to_string(),
                _ => req.uri.path_and_query().map_or("/", |p| p.as_str()).to_string(),
            };
            Some(sdbm(uri_part(&target, *whole, *len, *depth).bytes()))
        }
        Balance::UrlParam { name } => {
            let query = req.uri.query()?;
            let value = query
                .split(['&', ';'])
                .find_map(|kv| kv.strip_prefix(name.as_str())?.strip_prefix('='))?;
            (!value.is_empty()).then(|| sdbm(value.bytes()))
        }
        Balance::Hdr { name, domain_only } => {
            let v = req.headers.get(name.as_str())?.as_bytes();
            let v = v.trim_ascii();
            if v.is_empty() {
                return None;
            }
            let v = if *domain_only { main_label(v) } else { v };
            Some(sdbm(v.iter().copied()))
        }
        _ => None,
    }
}

/// `uri`'s part of a target: before the `?` unless `whole`, at most `len` bytes, and before
/// the slash that follows `depth` directories.
fn uri_part(target: &str, whole: bool, len: Option<u32>, depth: Option<u32>) -> &str {
    let mut slashes = 0;
    let limit = len.map_or(usize::MAX, |l| l as usize);
    for (i, b) in target.bytes().enumerate() {
        if i >= limit || (b == b'?' && !whole) {
            return &target[..i];
        }
        if b == b'/' {
            slashes += 1;
            // As HAProxy: `depth` directories, so the slash after them ends the part.
            if depth.is_some_and(|d| slashes == d + 1) {
                return &target[..i];
            }
        }
    }
    target
}

/// The label before the last dot (`www.example.com`: `example`); without a dot, all of it.
fn main_label(host: &[u8]) -> &[u8] {
    let host = match host.iter().rposition(|&b| b == b':') {
        Some(i) if host[i + 1..].iter().all(u8::is_ascii_digit) => &host[..i],
        _ => host,
    };
    let mut parts = host.rsplit(|&b| b == b'.');
    match (parts.next(), parts.next()) {
        (Some(_), Some(label)) => label,
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_parts() {
        assert_eq!(uri_part("/a/b/c?x=1", false, None, None), "/a/b/c");
        assert_eq!(uri_part("/a/b/c?x=1", true, None, None), "/a/b/c?x=1");
        assert_eq!(uri_part("/a/b/c", false, Some(4), None), "/a/b");
        assert_eq!(uri_part("/a/b/c", false, None, Some(2)), "/a/b");
        assert_eq!(uri_part("/a/b/c", false, None, Some(1)), "/a");
        assert_eq!(main_label(b"www.example.com:8080"), b"example");
        assert_eq!(main_label(b"localhost"), b"localhost");
    }
}
