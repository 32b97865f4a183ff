//! `balance ALGORITHM [args]` and `hash-type METHOD [FUNCTION] [avalanche]`: which
//! algorithm a backend uses, with the arguments of the request-hashing ones.

use super::NotActed;
use super::{err, Ctx, Failure, Res};
use crate::ast::Directive;
use crate::model::{Balance, HashType};
use crate::suggest;

/// `balance ...` (a bare `balance` is roundrobin, HAProxy's default).
pub fn balance(d: &Directive) -> Res<Balance> {
    // A bare `balance` is HAProxy's default, roundrobin.
    let algo = d.arg(1).unwrap_or("roundrobin");
    Ok(match algo {
        "roundrobin" => Balance::RoundRobin,
        "static-rr" => Balance::StaticRr,
        "leastconn" => Balance::LeastConn,
        "source" => Balance::Source,
        "first" => Balance::First,
        "random" => Balance::Random { draws: 2 },
        a if a.starts_with("random(") => {
            let n = a
                .strip_prefix("random(")
                .and_then(|r| r.strip_suffix(')'))
                .and_then(|n| n.parse::<u32>().ok())
                .filter(|&n| n >= 1)
                .ok_or_else(|| err(format!("'balance {a}': expected random(N), N a number of draws from 1")))?;
            Balance::Random { draws: n }
        }
        "uri" => {
            let (mut whole, mut len, mut depth, mut path_only) = (false, None, None, false);
            let mut rest = d.words[2..].iter().map(String::as_str);
            while let Some(w) = rest.next() {
                let mut number = |what: &str| -> Result<Option<u32>, Failure> {
                    rest.next()
                        .and_then(|n| n.parse::<u32>().ok())
                        .filter(|&n| n > 0)
                        .map(Some)
                        .ok_or_else(|| err(format!("'balance uri {what}' expects a positive number")))
                };
                match w {
                    "whole" => whole = true,
                    "path-only" => path_only = true,
                    "len" => len = number("len")?,
                    "depth" => depth = number("depth")?,
                    other => {
                        return Err((
                            format!("'balance uri {other}': unknown option"),
                            suggest::hint(other, ["whole", "len", "depth", "path-only"]),
                        ))
                    }
                }
            }
            Balance::Uri {
                whole,
                len,
                depth,
                path_only,
            }
        }
        "url_param" => {
            let name = d
                .arg(2)
                .ok_or_else(|| err("'balance url_param' expects a parameter name".to_string()))?;
            match d.arg(3) {
                None => {}
                Some("check_post") => {
                    return Err(err(
                        "'balance url_param ... check_post' is not supported yet: Clearway does not read \
                         request bodies to balance"
                            .to_string(),
                    ))
                }
                Some(other) => return Err(err(format!("'balance url_param {name} {other}': unknown option"))),
            }
            Balance::UrlParam { name: name.to_string() }
        }
        a if a.starts_with("hdr(") => {
            let name = a
                .strip_prefix("hdr(")
                .and_then(|r| r.strip_suffix(')'))
                .filter(|n| !n.is_empty())
                .ok_or_else(|| err(format!("'balance {a}': expected hdr(NAME)")))?;
            let domain_only = match d.arg(2) {
                None => false,
                Some("use_domain_only") => true,
                Some(other) => return Err(err(format!("'balance {a} {other}': unknown option"))),
            };
            Balance::Hdr {
                name: name.to_ascii_lowercase(),
                domain_only,
            }
        }
        "rdp-cookie" | "hash" => {
            return Err(err(format!(
                "'balance {algo}' is not supported yet (roundrobin, static-rr, leastconn, source, first, random, uri, url_param, hdr are)"
            )))
        }
        a if a.starts_with("rdp-cookie(") => {
            return Err(err(format!(
                "'balance {a}' is not supported yet (roundrobin, static-rr, leastconn, source, first, random, uri, url_param, hdr are)"
            )))
        }
        other => {
            let hint = suggest::hint(
                other,
                ["roundrobin", "static-rr", "leastconn", "source", "first", "random", "uri", "url_param"],
            );
            return Err((format!("unknown balance algorithm '{other}'"), hint));
        }
    })
}

/// `hash-type ...`: the method is acted on; a hash function or `avalanche` named after it
/// (which decide which client lands on which server) is not supported rather than silently
/// replaced by Clearway's own function.
pub fn hash_type(d: &Directive, ctx: &mut Ctx) -> Res<HashType> {
    // The method is acted on; Clearway hashes with its own function, so a function or
    // `avalanche` named here (which decide which client lands on which server) is
    // not supported rather than silently replaced.
    let usage =
        "'hash-type' expects map-based or consistent, then optionally sdbm, djb2, wt6, crc32 or none, and avalanche";
    let hash = match d.arg(1) {
        Some("map-based") => HashType::MapBased,
        Some("consistent") => HashType::Consistent,
        Some(other) => {
            return Err((
                format!("'hash-type {other}': {usage}"),
                suggest::hint(other, ["map-based", "consistent"]),
            ))
        }
        None => return Err(err(usage)),
    };
    let mut rest = d.words[2..].iter().map(String::as_str);
    let mut next = rest.next();
    if next.is_some_and(|f| matches!(f, "sdbm" | "djb2" | "wt6" | "crc32" | "none")) {
        next = rest.next();
    }
    if next == Some("avalanche") {
        next = rest.next();
    }
    if let Some(w) = next {
        return Err((
            format!("'hash-type ... {w}': {usage}"),
            suggest::hint(w, ["sdbm", "djb2", "wt6", "crc32", "none", "avalanche"]),
        ));
    }
    if let Some(f) = d.words.get(2) {
        ctx.not_acted(
            &d.span,
            &format!(
                "'hash-type {} {f}' (a hash function or modifier of HAProxy's)",
                d.words[1]
            ),
            "hash-type",
            NotActed::Unsupported,
        );
    }
    Ok(hash)
}
