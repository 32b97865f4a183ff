//! Variable names (`txn.name`: a scope and a name), `set-var` conditions, and the store one
//! scope's variables live in. Who keeps which store (the process, a session, a request) is
//! the proxy's business.

use crate::Sample;
use std::sync::Mutex;

/// How long a variable lives (HAProxy's scopes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// The whole process.
    Proc,
    /// One client connection.
    Sess,
    /// One request and its response.
    Txn,
    /// While the request is processed.
    Req,
    /// While the response is processed.
    Res,
}

/// `SCOPE.NAME`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VarName {
    pub scope: Scope,
    pub name: Box<str>,
}

impl VarName {
    /// Parses `txn.name` (letters, digits, `.` and `_` after the scope).
    pub fn parse(s: &str) -> Result<VarName, String> {
        let (scope, name) = s
            .split_once('.')
            .ok_or_else(|| format!("'{s}': a variable is named SCOPE.NAME, e.g. 'txn.{s}'"))?;
        let scope = match scope {
            "proc" => Scope::Proc,
            "sess" => Scope::Sess,
            "txn" => Scope::Txn,
            "req" => Scope::Req,
            "res" => Scope::Res,
            _ => {
                return Err(format!(
                    "'{s}': unknown variable scope '{scope}' (proc, sess, txn, req or res)"
                ))
            }
        };
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_')
        {
            return Err(format!(
                "'{s}': a variable name may only hold letters, digits, '.' and '_'"
            ));
        }
        Ok(VarName {
            scope,
            name: name.into(),
        })
    }
}

impl std::fmt::Display for VarName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scope = match self.scope {
            Scope::Proc => "proc",
            Scope::Sess => "sess",
            Scope::Txn => "txn",
            Scope::Req => "req",
            Scope::Res => "res",
        };
        write!(f, "{scope}.{}", self.name)
    }
}

/// The conditions of `set-var(NAME,COND...)`, all of which must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SetConds(u8);

const CONDS: [&str; 8] = [
    "ifexists",
    "ifnotexists",
    "ifempty",
    "ifnotempty",
    "ifset",
    "ifnotset",
    "ifgt",
    "iflt",
];

impl SetConds {
    /// Parses the words after the name.
    pub fn parse(words: &[&str]) -> Result<SetConds, String> {
        let mut bits = 0u8;
        for w in words {
            let i = CONDS
                .iter()
                .position(|c| c == w)
                .ok_or_else(|| format!("unknown set-var condition '{w}' (expected one of {})", CONDS.join(", ")))?;
            bits |= 1 << i;
        }
        Ok(SetConds(bits))
    }

    fn has(self, name: &str) -> bool {
        CONDS
            .iter()
            .position(|c| *c == name)
            .is_some_and(|i| self.0 & (1 << i) != 0)
    }

    /// Whether `value` may be stored, the variable being `old` (None: does not exist;
    /// Some(None): exists but unset).
    pub fn allow(self, old: Option<Option<&Sample<'_>>>, value: &Sample<'_>) -> bool {
        if self.0 == 0 {
            return true;
        }
        let exists = old.is_some();
        let set = old.flatten();
        let empty = value.is_empty();
        let ints = match (set, value) {
            (Some(Sample::Int(a)), Sample::Int(b)) => Some((*a, *b)),
            _ => None,
        };
        !(self.has("ifexists") && !exists
            || self.has("ifnotexists") && exists
            || self.has("ifempty") && !empty
            || self.has("ifnotempty") && empty
            || self.has("ifset") && set.is_none()
            || self.has("ifnotset") && set.is_some()
            || self.has("ifgt") && ints.is_some_and(|(old, new)| old <= new)
            || self.has("iflt") && ints.is_some_and(|(old, new)| old >= new))
    }
}

/// The variables of one scope instance. A variable unset keeps existing, without a value.
#[derive(Debug, Default)]
pub struct VarStore {
    vars: Mutex<Vec<(Box<str>, Option<Sample<'static>>)>>,
}

impl VarStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(Box<str>, Option<Sample<'static>>)>> {
        // A panic elsewhere never leaves a half-written variable: keep serving.
        self.vars.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn get(&self, name: &str) -> Option<Sample<'static>> {
        self.lock()
            .iter()
            .find(|(n, _)| &**n == name)
            .and_then(|(_, v)| v.clone())
    }

    /// Stores `value` when `conds` allow it; returns whether it did.
    pub fn set(&self, name: &str, value: Sample<'_>, conds: SetConds) -> bool {
        let mut vars = self.lock();
        let at = vars.iter().position(|(n, _)| &**n == name);
        if !conds.allow(at.map(|i| vars[i].1.as_ref()), &value) {
            return false;
        }
        let value = Some(value.into_owned());
        match at {
            Some(i) => vars[i].1 = value,
            None => vars.push((name.into(), value)),
        }
        true
    }

    /// Makes the variable exist, unset, unless it does.
    pub fn declare(&self, name: &str) {
        let mut vars = self.lock();
        if !vars.iter().any(|(n, _)| &**n == name) {
            vars.push((name.into(), None));
        }
    }

    pub fn unset(&self, name: &str) {
        if let Some(v) = self.lock().iter_mut().find(|(n, _)| &**n == name) {
            v.1 = None;
        }
    }

    /// Forgets every variable (a scope that ends: `req` after the request).
    pub fn clear(&self) {
        self.lock().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let v = VarName::parse("txn.my_var.x").unwrap();
        assert_eq!((v.scope, &*v.name), (Scope::Txn, "my_var.x"));
        assert_eq!(v.to_string(), "txn.my_var.x");
        assert!(VarName::parse("foo").is_err());
        assert!(VarName::parse("txn.a-b").is_err());
        assert!(VarName::parse("tx.a").is_err());
    }

    #[test]
    fn conditions() {
        let s = VarStore::default();
        let c = |w: &[&str]| SetConds::parse(w).unwrap();
        assert!(!s.set("a", Sample::Int(1), c(&["ifexists"])));
        assert!(s.set("a", Sample::Int(5), c(&["ifnotexists"])));
        assert!(!s.set("a", Sample::Int(6), c(&["ifgt"])));
        assert!(s.set("a", Sample::Int(4), c(&["ifgt"])));
        assert_eq!(s.get("a"), Some(Sample::Int(4)));
        assert!(!s.set("a", Sample::str(""), c(&["ifnotempty"])));
        s.unset("a");
        assert_eq!(s.get("a"), None);
        assert!(s.set("a", Sample::Int(1), c(&["ifexists", "ifnotset"])));
        assert!(SetConds::parse(&["ifbad"]).is_err());
    }
}
