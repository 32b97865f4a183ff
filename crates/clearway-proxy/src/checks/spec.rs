//! What a backend's health checks do, compiled once from its config (the check kind, the
//! expected answers and their regular expressions) and shared by its servers' check tasks.
//! Owns the description only; must not run checks.

use clearway_config::model::{CheckKind, ExpectMatch, HttpExpect, TcpCheckRule, TcpExpect, Timeouts};

/// What a backend's checks do, shared by its servers.
#[derive(Debug, Clone, Default)]
pub struct CheckSpec {
    pub kind: CheckKind,
    pub expect: Vec<HttpExpect>,
    pub timeouts: Timeouts,
    /// The regular expressions of the rules, compiled once.
    pub regexes: Regexes,
}

impl CheckSpec {
    pub fn new(kind: CheckKind, expect: Vec<HttpExpect>, timeouts: Timeouts) -> CheckSpec {
        let mut patterns: Vec<&str> = expect
            .iter()
            .filter_map(|e| match &e.matcher {
                ExpectMatch::RStatus(p) | ExpectMatch::RString(p) => Some(p.as_str()),
                _ => None,
            })
            .collect();
        if let CheckKind::TcpCheck(rules) = &kind {
            patterns.extend(rules.iter().filter_map(|r| match r {
                TcpCheckRule::Expect {
                    matcher: TcpExpect::Regex(p),
                    ..
                } => Some(p.as_str()),
                _ => None,
            }));
        }
        // The config crate validated every pattern; one that still fails never matches.
        let regexes = Regexes(
            patterns
                .into_iter()
                .filter_map(|p| Some((p.to_string(), regex::bytes::Regex::new(p).ok()?)))
                .collect(),
        );
        CheckSpec {
            kind,
            expect,
            timeouts,
            regexes,
        }
    }
}

/// Compiled regular expressions by pattern.
#[derive(Debug, Clone, Default)]
pub struct Regexes(std::collections::HashMap<String, regex::bytes::Regex>);

impl Regexes {
    /// True when `pattern` (compiled at start-up) matches `text`.
    pub fn is_match(&self, pattern: &str, text: &[u8]) -> bool {
        self.0.get(pattern).is_some_and(|r| r.is_match(text))
    }
}
