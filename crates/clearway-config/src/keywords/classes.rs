//! Every keyword's class, gathered from the keyword tables: acted on, no effect here, or not
//! supported (a config error unless `ignore-unsupported` names it). The one source for
//! `ignore-unsupported`'s check and for docs/configuration.md's keyword reference.

#[cfg(test)]
use super::NotActed::NoEffect;
use super::NotActed::{self, Unsupported};
use super::{bind, global, options, proxy, server};

/// Words `ignore-unsupported` takes that are not table entries: rules whose other forms are
/// acted on, and the health checks Clearway does not run.
const SPECIAL: &[(&str, &str)] = &[
    (
        "tcp-request",
        "`tcp-request` conditions on HTTP contents not there yet in `mode tcp` (a response; a request in session rules)",
    ),
    ("tcp-response", "`tcp-response content` in `mode http`"),
    (
        "dispatch",
        "`dispatch` beside `server` lines without a `balance` line",
    ),
    ("http-check", "`http-check set-var` and `unset-var`"),
    (
        "transparent",
        "`option transparent` beside `server` lines without a `balance` line",
    ),
    (
        "hash-type",
        "a hash function or `avalanche` after the `hash-type` method",
    ),
    (
        "timeout",
        "`timeout` kinds Clearway does not know",
    ),
];

/// Whether `k` is a word `ignore-unsupported` takes.
pub fn unsupported(k: &str) -> bool {
    let other_ssl = k.starts_with("ssl-") && !global::TLS_DEFAULTS.contains(&k) && k != "ssl-dh-param-file";
    other_ssl || all_unsupported().any(|u| u == k)
}

/// Every word `ignore-unsupported` takes.
pub fn all_unsupported() -> impl Iterator<Item = &'static str> + Clone {
    let class = |c: NotActed| c == Unsupported;
    global::KNOWN_NOT_ACTED
        .iter()
        .filter(move |(_, c)| class(*c))
        .map(|(k, _)| *k)
        .chain(
            proxy::KNOWN_NOT_ACTED
                .iter()
                .filter(move |(_, c)| class(*c))
                .map(|(k, _)| *k),
        )
        .chain(options::UNACTED.iter().filter(move |(_, c)| class(*c)).map(|(k, _)| *k))
        .chain(unrun_checks())
        .chain(
            bind::KNOWN_NOT_ACTED
                .iter()
                .filter(move |(_, _, c)| class(*c))
                .map(|(k, _, _)| *k),
        )
        .chain(
            server::KNOWN_NOT_ACTED
                .iter()
                .filter(move |(_, _, c)| class(*c))
                .map(|(k, _, _)| *k),
        )
        .chain(global::TUNE_UNSUPPORTED.iter().copied())
        .chain(SPECIAL.iter().map(|(k, _)| *k))
}

/// Health-check options Clearway does not run (they would fall back to a TCP connect).
fn unrun_checks() -> impl Iterator<Item = &'static str> + Clone {
    options::CHECKS
        .iter()
        .copied()
        .filter(|c| options::UNRUN_CHECKS.contains(c))
}

#[cfg(test)]
fn cell(c: NotActed) -> &'static str {
    match c {
        NoEffect => "no effect",
        Unsupported => "**not supported**",
    }
}

#[cfg(test)]
fn table<'a>(out: &mut String, title: &str, intro: &str, rows: impl Iterator<Item = (&'a str, &'static str)>) {
    let mut rows: Vec<(&str, &str)> = rows.collect();
    rows.sort_unstable();
    rows.dedup_by(|a, b| a.0 == b.0);
    out.push_str(&format!("\n## {title}\n\n{intro}\n\n| keyword | class |\n|---|---|\n"));
    for (k, c) in rows {
        out.push_str(&format!("| `{k}` | {c} |\n"));
    }
}

/// The keyword reference (docs/configuration.md), generated from the tables (by the test
/// below, which keeps the file in step).
#[cfg(test)]
fn markdown() -> String {
    let mut out = String::from(
        "# Configuration keywords\n\n\
         Generated from Clearway's keyword tables (`crates/clearway-config/src/keywords/`); a test \
         keeps this file and the tables in agreement (regenerate with \
         `UPDATE_DOCS=1 cargo test -p clearway-config keyword_reference`).\n\n\
         Clearway reads HAProxy's configuration language. Each keyword is in one of three classes:\n\n\
         - **acted on**: it does what HAProxy's documentation says (differences are noted where \
         they exist, in docs/operations.md and the keyword's error messages);\n\
         - **no effect**: nothing about traffic or security depends on it in Clearway (statistics \
         details, tuning, leftovers of HAProxy's multi-process days, TLS versions rustls never \
         speaks); accepted, with a note shown at `-d`;\n\
         - **not supported**: it would change who gets in, where traffic goes or what a server \
         receives, and Clearway does not act on it yet: a config error naming the line. To run \
         without it anyway, name it in the global section: `ignore-unsupported KEYWORD...`; each \
         such line is then warned about at every start.\n\n\
         A keyword in none of these tables is unknown: a config error with the nearest known \
         keyword as hint.\n",
    );
    let acted = |k: &'static str| (k, "acted on");
    table(
        &mut out,
        "Global section",
        "Other `ssl-*` settings (engines, providers, `ssl-mode-async`, `ssl-load-extra-files`...) \
         are not supported when a bind or a server uses TLS, and have no effect otherwise. Other \
         `tune.*` keywords have no effect.",
        global::ACTED
            .iter()
            .map(|k| acted(k))
            .chain(global::KNOWN_NOT_ACTED.iter().map(|(k, c)| (*k, cell(*c))))
            .chain(global::TLS_DEFAULTS.iter().map(|k| acted(k)))
            .chain(global::TUNE_UNSUPPORTED.iter().map(|k| (*k, "**not supported**")))
            .chain([("ssl-dh-param-file", "no effect")]),
    );
    table(
        &mut out,
        "Proxy sections (defaults, frontend, listen, backend)",
        "`tcp-request content` conditions on HTTP contents (`hdr()`, `path`...) in `mode tcp` are not \
         supported (HAProxy parses the buffered data as HTTP for them); `http-check set-var` and \
         `unset-var` are not supported. In `mode http`, `tcp-request content` rules run on each request, \
         a backend's once it is chosen, and a reject closes the connection without a response, as in \
         HAProxy. `hash-type`: its method is acted on. `map-based` (the default) hashes as HAProxy's does \
         (`sdbm` for `uri`, `url_param` and `hdr`, the address for `source`, over HAProxy's server \
         map), so each client or URI reaches the server HAProxy would pick; `consistent` hashes \
         with Clearway's own function (which client lands on which server differs from HAProxy's; how \
         clients stay or move does not); a hash function or `avalanche` after it is not supported.",
        proxy::KEYWORDS
            .iter()
            .map(|(k, _)| acted(k))
            .chain(proxy::KNOWN_NOT_ACTED.iter().map(|(k, c)| (*k, cell(*c)))),
    );
    table(
        &mut out,
        "`option` names",
        "The health-check options not listed as acted on are not supported (servers would be \
         checked with a plain TCP connect instead).",
        options::ACTED
            .iter()
            .chain(options::CHECKS.iter().filter(|c| !options::UNRUN_CHECKS.contains(c)))
            .map(|k| acted(k))
            .chain(unrun_checks().map(|k| (k, "**not supported**")))
            .chain(options::UNACTED.iter().map(|(k, c)| (*k, cell(*c)))),
    );
    table(
        &mut out,
        "`timeout` kinds",
        "Other kinds HAProxy knows are not supported.",
        proxy::TIMEOUTS.iter().map(|(k, _)| {
            (
                *k,
                if proxy::ACTED_TIMEOUTS.contains(k) {
                    "acted on"
                } else {
                    "**not supported**"
                },
            )
        }),
    );
    table(
        &mut out,
        "`bind` parameters",
        "",
        bind::ACTED
            .iter()
            .chain(crate::keywords::tls::POLICY_PARAMS)
            .map(|k| acted(k))
            .chain(bind::KNOWN_NOT_ACTED.iter().map(|(k, _, c)| (*k, cell(*c)))),
    );
    table(
        &mut out,
        "`server` and `default-server` parameters",
        "",
        server::ACTED
            .iter()
            .chain(crate::keywords::tls::POLICY_PARAMS)
            .chain(crate::keywords::dns::SERVER_PARAMS)
            .map(|k| acted(k))
            .chain(server::KNOWN_NOT_ACTED.iter().map(|(k, _, c)| (*k, cell(*c)))),
    );
    table(
        &mut out,
        "`resolvers` sections",
        "Servers with `resolvers NAME` have their name resolved again at run time through the \
         section's nameservers (with the Rust resolver hickory: EDNS0 is announced whenever \
         `accepted_payload_size` is above 512). A server whose name is an SRV label \
         (`_service._proto.name`, usually on `server-template`) takes a record's target, port and \
         weight.",
        crate::keywords::dns::SECTION.iter().map(|k| acted(k)),
    );
    table(
        &mut out,
        "`userlist` sections",
        "Users and groups that the `http_auth(LIST)` and `http_auth_group(LIST)` ACLs check a \
         request's Basic credentials against (`http-request auth` and `stats http-request auth` \
         ask for them). `password` takes a crypt(3) hash: SHA-512 (`$6$`, what `openssl passwd -6` \
         and `mkpasswd -m sha-512` make), SHA-256 (`$5$`), MD5 (`$1$`), bcrypt (`$2b$`) or \
         traditional DES; any other scheme (yescrypt `$y$`) is a config error.",
        crate::keywords::userlist::KEYWORDS.iter().map(|k| acted(k)),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyword_reference_is_the_tables() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/configuration.md");
        let made = markdown();
        if std::env::var_os("UPDATE_DOCS").is_some() {
            std::fs::write(path, &made).expect("write docs/configuration.md");
        }
        let kept = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            kept == made,
            "docs/configuration.md differs from the keyword tables: regenerate it with \
             UPDATE_DOCS=1 cargo test -p clearway-config keyword_reference"
        );
    }

    #[test]
    fn no_keyword_is_in_two_classes_of_one_table() {
        let once = |what: &str, keys: &mut dyn Iterator<Item = &str>| {
            let mut seen = std::collections::HashSet::new();
            for k in keys {
                assert!(seen.insert(k), "{what} '{k}' twice");
            }
        };
        once(
            "bind parameter",
            &mut bind::ACTED
                .iter()
                .chain(crate::keywords::tls::POLICY_PARAMS)
                .copied()
                .chain(bind::KNOWN_NOT_ACTED.iter().map(|(k, _, _)| *k)),
        );
        once(
            "server parameter",
            &mut server::ACTED
                .iter()
                .chain(crate::keywords::tls::POLICY_PARAMS)
                .copied()
                .chain(server::KNOWN_NOT_ACTED.iter().map(|(k, _, _)| *k)),
        );
        once(
            "option",
            &mut options::ACTED
                .iter()
                .copied()
                .chain(options::UNACTED.iter().map(|(k, _)| *k)),
        );
    }
}
