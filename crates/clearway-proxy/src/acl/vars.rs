//! Variables outside a message's own rules: the process's (`proc.*`, set at start-up from
//! the global section and by the runtime API's `set var`, shown by `get var`), and the
//! `set-var`/`unset-var` actions of every rule set. Owns the process's store; the other
//! scopes' stores belong to the samples that reach them.

use super::{first, render, text_of, Samples, Value};
use clearway_config::rules::{self, Fetch};
use clearway_sample::vars::{SetConds, VarStore};
use clearway_sample::{Sample, Scope, VarName};

/// Makes the process variables the configuration names (HAProxy creates them at start-up),
/// then runs the global section's `set-var` and `set-var-fmt` lines, in order (before any
/// traffic: only constants and other variables have values).
pub fn set_process_vars(names: &[VarName], lines: &[(VarName, rules::VarValue)]) {
    for n in names {
        PROC_VARS.declare(&n.name);
    }
    for (name, value) in lines {
        assign_process_var(name, value);
    }
}

/// Sets a process variable outside traffic (start-up, the runtime API's `set var`): only
/// constants and other variables have values. An expression without a value leaves the
/// variable as it was.
pub fn assign_process_var(name: &VarName, value: &rules::VarValue) {
    struct NoTraffic;
    impl Samples for NoTraffic {
        fn each(&self, _: &Fetch, _: &mut dyn FnMut(Value<'_>) -> bool) -> bool {
            false
        }
    }
    match value {
        rules::VarValue::Expr(e) => {
            first(&NoTraffic, e, |v| PROC_VARS.set(&name.name, v, SetConds::default()));
        }
        rules::VarValue::Format(t) => {
            PROC_VARS.set(&name.name, Sample::string(render(t, &NoTraffic)), SetConds::default());
        }
    }
}

/// `set-var(NAME,CONDS) EXPR` or `set-var-fmt(NAME,CONDS) FMT`, with the samples of the
/// connection or message: nothing when the scope has no store here.
pub fn set_var(name: &VarName, conds: SetConds, value: &rules::VarValue, s: &dyn Samples) {
    let Some(store) = s.vars(name.scope) else { return };
    match value {
        rules::VarValue::Expr(e) => {
            first(s, e, |v| store.set(&name.name, v, conds));
        }
        rules::VarValue::Format(t) => {
            store.set(&name.name, Sample::string(render(t, s)), conds);
        }
    }
}

/// `unset-var(NAME)`.
pub fn unset_var(name: &VarName, s: &dyn Samples) {
    if let Some(store) = s.vars(name.scope) {
        store.unset(&name.name);
    }
}

/// `get var proc.NAME`, as HAProxy answers it: `proc.x: type=sint value=<5>` (bytes that
/// are not printable as `.`); None when there is no such variable with a value.
pub fn show_process_var(name: &str) -> Option<String> {
    let v = VarName::parse(name).ok().filter(|v| v.scope == Scope::Proc)?;
    let s = PROC_VARS.get(&v.name)?;
    let kind = match s {
        Sample::Bool(_) => "bool",
        Sample::Int(_) => "sint",
        Sample::Ipv4(_) => "ipv4",
        Sample::Ipv6(_) => "ipv6",
        Sample::Str(_) => "str",
        Sample::Bin(_) => "bin",
    };
    let shown: String = text_of(&s)
        .iter()
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                char::from(b)
            } else {
                '.'
            }
        })
        .collect();
    Some(format!("{name}: type={kind} value=<{shown}>"))
}

/// The variables of the process (`proc.*`).
pub(super) static PROC_VARS: std::sync::LazyLock<VarStore> = std::sync::LazyLock::new(VarStore::default);
