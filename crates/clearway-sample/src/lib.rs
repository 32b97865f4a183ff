//! HAProxy's sample expressions without the traffic: the typed value a fetch yields
//! ([`Sample`]), the casts between types, the converters that transform it (`conv`), the
//! chain syntax `fetch(args),conv(args),...` (`expr`) and variable names and stores (`vars`).
//! Owns pure computation only (map files are read once, at load): what a fetch reads from a
//! connection or a request belongs to the proxy, which hands the values to a chain.

pub mod args;
pub mod conv;
pub mod expr;
pub mod pattern;
pub mod vars;

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub use conv::{Conv, Ctx};
pub use expr::Chain;
pub use vars::{Scope, VarName};

/// The types of HAProxy's samples (its `SMP_T_*`; a method is a string here).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    /// Accepts any input as it is.
    Any,
    Bool,
    Int,
    /// An IPv4 or IPv6 address, whichever it is.
    Addr,
    Ipv4,
    Ipv6,
    Str,
    Bin,
}

impl Type {
    pub fn name(self) -> &'static str {
        match self {
            Type::Any => "any",
            Type::Bool => "boolean",
            Type::Int => "integer",
            Type::Addr => "address",
            Type::Ipv4 => "ipv4",
            Type::Ipv6 => "ipv6",
            Type::Str => "string",
            Type::Bin => "binary",
        }
    }

    /// Whether a sample of this type may be cast to `to` (HAProxy's cast matrix; a cast
    /// may still fail on a value, as "abc" to an address).
    pub fn casts_to(self, to: Type) -> bool {
        use Type::*;
        match (self, to) {
            (_, Any) | (Any, _) => true,
            (a, b) if a == b => true,
            (Bool, Int | Str | Bin) => true,
            (Int, Bool | Addr | Ipv4 | Ipv6 | Str | Bin) => true,
            (Ipv4, Int | Addr | Ipv6 | Str | Bin) => true,
            (Ipv6, Addr | Ipv4 | Str | Bin) => true,
            (Addr, Ipv4 | Ipv6 | Str | Bin) => true,
            (Str, Bool | Int | Addr | Ipv4 | Ipv6 | Bin) => true,
            (Bin, Str) => true,
            _ => false,
        }
    }
}

/// One value: what a fetch yields and a converter takes and gives. Text and bytes borrow
/// from the message while no converter changed them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sample<'a> {
    Bool(bool),
    Int(i64),
    Ipv4(Ipv4Addr),
    Ipv6(Ipv6Addr),
    /// Text as bytes: HAProxy's strings need not be UTF-8.
    Str(Cow<'a, [u8]>),
    Bin(Cow<'a, [u8]>),
}

impl<'a> Sample<'a> {
    pub fn str(s: &'a str) -> Sample<'a> {
        Sample::Str(Cow::Borrowed(s.as_bytes()))
    }

    pub fn string(s: String) -> Sample<'static> {
        Sample::Str(Cow::Owned(s.into_bytes()))
    }

    pub fn ip(ip: IpAddr) -> Sample<'static> {
        match ip {
            IpAddr::V4(v4) => Sample::Ipv4(v4),
            IpAddr::V6(v6) => Sample::Ipv6(v6),
        }
    }

    pub fn kind(&self) -> Type {
        match self {
            Sample::Bool(_) => Type::Bool,
            Sample::Int(_) => Type::Int,
            Sample::Ipv4(_) => Type::Ipv4,
            Sample::Ipv6(_) => Type::Ipv6,
            Sample::Str(_) => Type::Str,
            Sample::Bin(_) => Type::Bin,
        }
    }

    /// A copy that borrows nothing (to keep in a variable).
    pub fn into_owned(self) -> Sample<'static> {
        match self {
            Sample::Bool(b) => Sample::Bool(b),
            Sample::Int(n) => Sample::Int(n),
            Sample::Ipv4(a) => Sample::Ipv4(a),
            Sample::Ipv6(a) => Sample::Ipv6(a),
            Sample::Str(s) => Sample::Str(Cow::Owned(s.into_owned())),
            Sample::Bin(b) => Sample::Bin(Cow::Owned(b.into_owned())),
        }
    }

    /// A borrowed view of this sample.
    pub fn view(&self) -> Sample<'_> {
        match self {
            Sample::Str(s) => Sample::Str(Cow::Borrowed(s)),
            Sample::Bin(b) => Sample::Bin(Cow::Borrowed(b)),
            Sample::Bool(b) => Sample::Bool(*b),
            Sample::Int(n) => Sample::Int(*n),
            Sample::Ipv4(a) => Sample::Ipv4(*a),
            Sample::Ipv6(a) => Sample::Ipv6(*a),
        }
    }

    /// The sample as `to`, as HAProxy casts it; None when it cannot be.
    pub fn cast(self, to: Type) -> Option<Sample<'a>> {
        use Sample as S;
        Some(match (self, to) {
            (s, Type::Any) => s,
            (S::Bool(b), Type::Bool) => S::Bool(b),
            (S::Bool(b), Type::Int) => S::Int(i64::from(b)),
            (S::Int(n), Type::Int) => S::Int(n),
            (S::Int(n), Type::Bool) => S::Bool(n != 0),
            (S::Bool(b), Type::Str) => S::Str(Cow::Owned(if b { b"1".to_vec() } else { b"0".to_vec() })),
            (S::Int(n), Type::Str) => S::Str(Cow::Owned(n.to_string().into_bytes())),
            (S::Bool(b), Type::Bin) => S::Bin(Cow::Owned(u64::from(b).to_be_bytes().to_vec())),
            (S::Int(n), Type::Bin) => S::Bin(Cow::Owned(n.to_be_bytes().to_vec())),
            (S::Int(n), Type::Addr | Type::Ipv4) => S::Ipv4(Ipv4Addr::from(n as u32)),
            (S::Int(n), Type::Ipv6) => S::Ipv6(Ipv4Addr::from(n as u32).to_ipv6_mapped()),
            (S::Ipv4(a), Type::Ipv4 | Type::Addr) => S::Ipv4(a),
            (S::Ipv4(a), Type::Int) => S::Int(i64::from(u32::from(a))),
            (S::Ipv4(a), Type::Ipv6) => S::Ipv6(a.to_ipv6_mapped()),
            (S::Ipv4(a), Type::Str) => S::Str(Cow::Owned(a.to_string().into_bytes())),
            (S::Ipv4(a), Type::Bin) => S::Bin(Cow::Owned(a.octets().to_vec())),
            (S::Ipv6(a), Type::Ipv6 | Type::Addr) => S::Ipv6(a),
            (S::Ipv6(a), Type::Ipv4) => S::Ipv4(a.to_ipv4_mapped()?),
            (S::Ipv6(a), Type::Str) => S::Str(Cow::Owned(a.to_string().into_bytes())),
            (S::Ipv6(a), Type::Bin) => S::Bin(Cow::Owned(a.octets().to_vec())),
            (S::Str(s), Type::Str) => S::Str(s),
            (S::Str(s), Type::Bin) => S::Bin(s),
            (S::Str(s), Type::Int) => S::Int(read_int(&s)?),
            (S::Str(s), Type::Bool) => S::Bool(read_int(&s)? != 0),
            (S::Str(s), Type::Ipv4) => S::Ipv4(std::str::from_utf8(&s).ok()?.parse().ok()?),
            (S::Str(s), Type::Ipv6) => S::Ipv6(std::str::from_utf8(&s).ok()?.parse().ok()?),
            (S::Str(s), Type::Addr) => Sample::ip(std::str::from_utf8(&s).ok()?.parse().ok()?),
            (S::Bin(b), Type::Bin) => S::Bin(b),
            // Text ends at a NUL byte, as HAProxy's cast says.
            (S::Bin(b), Type::Str) => match b.iter().position(|&c| c == 0) {
                Some(at) => S::Str(match b {
                    Cow::Borrowed(x) => Cow::Borrowed(&x[..at]),
                    Cow::Owned(mut x) => {
                        x.truncate(at);
                        Cow::Owned(x)
                    }
                }),
                None => S::Str(b),
            },
            _ => return None,
        })
    }

    /// The bytes of a text or binary sample.
    pub fn bytes(&self) -> Option<&[u8]> {
        match self {
            Sample::Str(s) | Sample::Bin(s) => Some(s),
            _ => None,
        }
    }

    /// The sample written as text (HAProxy's cast to string; binary as its bytes).
    pub fn to_text(&self) -> Cow<'_, [u8]> {
        match self {
            Sample::Str(s) | Sample::Bin(s) => Cow::Borrowed(s),
            other => match other.view().cast(Type::Str) {
                Some(Sample::Str(s)) => Cow::Owned(s.into_owned()),
                _ => Cow::Borrowed(b""),
            },
        }
    }

    /// The integer this sample is (or casts to).
    pub fn int(&self) -> Option<i64> {
        match self.view().cast(Type::Int)? {
            Sample::Int(n) => Some(n),
            _ => None,
        }
    }

    /// Whether a text or binary sample is empty (scalars never are).
    pub fn is_empty(&self) -> bool {
        self.bytes().is_some_and(<[u8]>::is_empty)
    }
}

/// HAProxy's string-to-integer: an optional sign and the digits that follow; nothing is
/// read from an empty string, the rest after the digits is ignored.
pub fn read_int(s: &[u8]) -> Option<i64> {
    if s.is_empty() {
        return None;
    }
    let (neg, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let mut n: i64 = 0;
    for &c in digits.iter().take_while(|c| c.is_ascii_digit()) {
        let d = i64::from(c - b'0');
        n = if neg {
            n.saturating_mul(10).saturating_sub(d)
        } else {
            n.saturating_mul(10).saturating_add(d)
        };
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn casts_follow_haproxy() {
        assert_eq!(Sample::str("12abc").cast(Type::Int), Some(Sample::Int(12)));
        assert_eq!(Sample::str("-7").cast(Type::Int), Some(Sample::Int(-7)));
        assert_eq!(Sample::str("").cast(Type::Int), None);
        assert_eq!(
            Sample::Int(0x0a000001).cast(Type::Ipv4),
            Some(Sample::Ipv4("10.0.0.1".parse().unwrap()))
        );
        assert_eq!(Sample::Bool(true).cast(Type::Str), Some(Sample::str("1")));
        assert_eq!(
            Sample::Bin(Cow::Borrowed(b"ab\0cd")).cast(Type::Str),
            Some(Sample::str("ab"))
        );
        assert_eq!(
            Sample::Int(1).cast(Type::Bin).unwrap().bytes().unwrap(),
            &[0, 0, 0, 0, 0, 0, 0, 1]
        );
        assert!(Sample::str("x").cast(Type::Ipv4).is_none());
        assert!(!Type::Bin.casts_to(Type::Int));
        assert!(Type::Str.casts_to(Type::Ipv4));
    }
}
