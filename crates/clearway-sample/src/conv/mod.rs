//! Converters: each one a registered [`Def`] (name, input and output types, how its
//! arguments are read at load time, what it does), grouped by family in the modules below,
//! each with its tests. A [`Conv`] is one compiled use of a converter in a config.

mod arith;
mod codec;
pub mod hash;
mod json;
pub mod map;
mod misc;
pub use misc::civil_from_days;
pub mod table;
mod text;
pub mod time;

use crate::args::Call;
use crate::vars::{SetConds, VarName};
use crate::{Sample, Type};

/// What converters may read or change besides their input: variables.
pub trait Ctx {
    fn var(&self, name: &VarName) -> Option<Sample<'static>>;
    /// `set-var` as a converter; returns whether the value was stored.
    fn set_var(&self, _name: &VarName, _value: Sample<'_>, _conds: SetConds) -> bool {
        false
    }
    fn unset_var(&self, _name: &VarName) {}
    /// What stick table `table`'s entry of `key` keeps of `data` (`""`: 1 when the entry
    /// exists, else 0); 0 for a key without an entry, None when the table does not store it.
    fn table(&self, _table: &str, _key: Sample<'_>, _data: &str) -> Option<i64> {
        None
    }
}

/// No variables (load-time evaluation, tests).
pub struct NoVars;

impl Ctx for NoVars {
    fn var(&self, _: &VarName) -> Option<Sample<'static>> {
        None
    }
}

/// One argument, as its converter read it at load time.
#[derive(Debug, Clone)]
pub enum Arg {
    None,
    Str(String),
    Int(i64),
    Var(VarName),
    Regex(regex::bytes::Regex),
    Conds(SetConds),
    /// A map file, read at load time.
    Map(std::sync::Arc<map::Map>),
    /// A JSON path (`json_query`).
    JsonPath(std::sync::Arc<[json::Step]>),
}

impl Arg {
    pub(crate) fn str(&self) -> &str {
        match self {
            Arg::Str(s) => s,
            _ => "",
        }
    }

    pub(crate) fn int(&self) -> i64 {
        match self {
            Arg::Int(n) => *n,
            _ => 0,
        }
    }

    /// An integer argument or the value of the variable it names.
    pub(crate) fn int_value(&self, ctx: &dyn Ctx) -> Option<i64> {
        match self {
            Arg::Int(n) => Some(*n),
            Arg::Var(v) => ctx.var(v)?.int(),
            _ => None,
        }
    }
}

/// The function a converter runs.
pub type Run = for<'a> fn(&[Arg], Sample<'a>, &dyn Ctx) -> Option<Sample<'a>>;

/// One converter.
pub struct Def {
    pub name: &'static str,
    pub input: Type,
    /// `Any`: the input's type.
    pub output: Type,
    /// How many arguments it takes, at least and at most.
    pub args: (usize, usize),
    /// Reads the arguments (there are between `args.0` and `args.1` of them).
    pub parse: fn(&[String]) -> Result<Vec<Arg>, String>,
    pub run: Run,
}

/// Argument readers shared by the families.
pub(crate) mod read {
    use super::Arg;
    use crate::vars::VarName;

    pub fn none(_: &[String]) -> Result<Vec<Arg>, String> {
        Ok(Vec::new())
    }

    pub fn strs(a: &[String]) -> Result<Vec<Arg>, String> {
        Ok(a.iter().map(|s| Arg::Str(s.clone())).collect())
    }

    pub fn int(s: &str, what: &str) -> Result<i64, String> {
        s.trim()
            .parse()
            .map_err(|_| format!("{what} must be an integer, not '{s}'"))
    }

    /// Every argument an integer (an empty one: absent).
    pub fn ints(a: &[String]) -> Result<Vec<Arg>, String> {
        a.iter()
            .map(|s| {
                if s.is_empty() {
                    Ok(Arg::None)
                } else {
                    int(s, "the argument").map(Arg::Int)
                }
            })
            .collect()
    }

    /// An integer or a variable name.
    pub fn int_or_var(s: &str) -> Result<Arg, String> {
        match s.trim().parse::<i64>() {
            Ok(n) => Ok(Arg::Int(n)),
            Err(_) => VarName::parse(s)
                .map(Arg::Var)
                .map_err(|_| format!("'{s}' is neither an integer nor a variable name")),
        }
    }

    pub fn var(s: &str) -> Result<Arg, String> {
        VarName::parse(s).map(Arg::Var)
    }
}

fn families() -> impl Iterator<Item = &'static Def> {
    [
        text::DEFS,
        arith::DEFS,
        codec::DEFS,
        hash::DEFS,
        misc::DEFS,
        map::DEFS,
        table::DEFS,
        time::DEFS,
        json::DEFS,
    ]
    .into_iter()
    .flatten()
}

/// The converter of that name.
pub fn find(name: &str) -> Option<&'static Def> {
    families().find(|d| d.name == name)
}

/// Every converter's name (for suggestions).
pub fn names() -> impl Iterator<Item = &'static str> {
    families().map(|d| d.name)
}

/// A converter as a config uses it.
#[derive(Clone)]
pub struct Conv {
    pub def: &'static Def,
    pub args: Vec<Arg>,
    /// As written, for messages and comparisons.
    pub text: String,
}

impl std::fmt::Debug for Conv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl PartialEq for Conv {
    fn eq(&self, other: &Conv) -> bool {
        self.text == other.text
    }
}

impl Eq for Conv {}

impl Conv {
    /// Compiles `name(args)`.
    pub fn new(call: &Call) -> Result<Conv, String> {
        let def = find(&call.name).ok_or_else(|| format!("unknown converter '{}'", call.name))?;
        let args = call.args();
        // `conv()` is `conv` without arguments.
        let args: &[String] = if args.len() == 1 && args[0].is_empty() && def.args.0 == 0 {
            &[]
        } else {
            args
        };
        if args.len() < def.args.0 || args.len() > def.args.1 {
            let want = match def.args {
                (0, 0) => "no argument".to_string(),
                (a, b) if a == b => format!("{a} argument(s)"),
                (a, b) => format!("{a} to {b} arguments"),
            };
            return Err(format!("converter '{}' takes {want}, not {}", def.name, args.len()));
        }
        let parsed = (def.parse)(args).map_err(|e| format!("converter '{}': {e}", def.name))?;
        let text = match &call.args {
            Some(a) => format!("{}({})", call.name, a.join(",")),
            None => call.name.clone(),
        };
        Ok(Conv {
            def,
            args: parsed,
            text,
        })
    }

    /// Runs the converter on `s`, cast first to the type it takes.
    pub fn run<'a>(&self, s: Sample<'a>, ctx: &dyn Ctx) -> Option<Sample<'a>> {
        let s = s.cast(self.def.input)?;
        (self.def.run)(&self.args, s, ctx)
    }

    /// What it gives for an input of type `input`.
    pub fn output(&self, input: Type) -> Type {
        match self.def.output {
            // `json_query`: an integer with `int`, else whatever the document holds there
            // (known when it runs), not its input's type.
            Type::Any if self.def.name == "json_query" => match self.args.get(1).map(Arg::int) {
                Some(1) => Type::Int,
                _ => Type::Any,
            },
            Type::Any => input,
            t => t,
        }
    }
}

#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use crate::args;

    /// Variables for tests: `txn.v` holds "var", `txn.n` holds 3.
    pub struct TestVars;

    impl Ctx for TestVars {
        fn var(&self, name: &VarName) -> Option<Sample<'static>> {
            match &*name.name {
                "v" => Some(Sample::string("var".into())),
                "n" => Some(Sample::Int(3)),
                "k" => Some(Sample::string("c2VjcmV0".into())),
                _ => None,
            }
        }
    }

    /// `expr` applied to `input` (the converters after the first word).
    pub fn run(input: Sample<'_>, convs: &str) -> Option<Sample<'static>> {
        let (_, calls) = args::parse(&format!("x,{convs}")).unwrap();
        let mut s = input.into_owned();
        for c in &calls {
            s = Conv::new(c).unwrap().run(s, &TestVars)?.into_owned();
        }
        Some(s)
    }

    pub fn text(input: &str, convs: &str) -> Option<String> {
        run(Sample::string(input.into()), convs).map(|s| String::from_utf8_lossy(&s.to_text()).into_owned())
    }

    pub fn bin(input: &[u8], convs: &str) -> Option<Sample<'static>> {
        run(Sample::Bin(input.to_vec().into()), convs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_checked_at_load() {
        let c = |s: &str| {
            let (_, calls) = crate::args::parse(&format!("x,{s}")).unwrap();
            Conv::new(&calls[0])
        };
        assert!(c("lower").is_ok());
        assert!(c("lower()").is_ok());
        assert!(c("lower(1)").unwrap_err().contains("no argument"));
        assert!(c("nope").unwrap_err().contains("unknown converter"));
        assert!(c("field(x,/)").is_err());
        assert!(c("add(txn.x)").is_ok());
        assert!(c("add(bad)").is_err());
        assert!(c("regsub(\"(\",x)").is_err());
    }

    #[test]
    fn every_name_is_registered_once() {
        let mut seen = std::collections::HashSet::new();
        for n in names() {
            assert!(seen.insert(n), "{n} registered twice");
        }
    }
}
