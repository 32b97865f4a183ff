//! A chain of converters after a fetch, checked at load time for types that cannot meet
//! (`src,lower`: an address is no string... but casts, so it may) and run on each value.

use crate::args::Call;
use crate::conv::{Conv, Ctx};
use crate::{Sample, Type};

/// The converters of an expression, in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Chain(pub Vec<Conv>);

impl Chain {
    /// Compiles the converters, the fetch giving `input`; returns the chain and what it gives.
    pub fn new(calls: &[Call], input: Type) -> Result<(Chain, Type), String> {
        let mut t = input;
        let mut convs = Vec::with_capacity(calls.len());
        for c in calls {
            let conv = Conv::new(c)?;
            if !t.casts_to(conv.def.input) {
                return Err(format!(
                    "converter '{}' takes {} input, and a sample of type {} cannot be made one",
                    conv.def.name,
                    conv.def.input.name(),
                    t.name()
                ));
            }
            t = conv.output(t);
            convs.push(conv);
        }
        Ok((Chain(convs), t))
    }

    /// The variables its converters name (`add(txn.x)`, `set-var(proc.y)`).
    pub fn var_names(&self) -> impl Iterator<Item = &crate::VarName> {
        self.0.iter().flat_map(|c| &c.args).filter_map(|a| match a {
            crate::conv::Arg::Var(v) => Some(v),
            _ => None,
        })
    }

    /// The stick tables its converters read (`in_table`, `table_*`).
    pub fn table_names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().filter_map(crate::conv::table::table_of)
    }

    /// Whether a converter of the chain stores or clears a variable.
    pub fn writes_vars(&self) -> bool {
        self.0.iter().any(|c| matches!(c.def.name, "set-var" | "unset-var"))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The value after every converter; None when one fails.
    pub fn run<'a>(&self, mut s: Sample<'a>, ctx: &dyn Ctx) -> Option<Sample<'a>> {
        for c in &self.0 {
            s = c.run(s, ctx)?;
        }
        Some(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conv::NoVars;

    #[test]
    fn types_are_checked() {
        let (_, calls) = crate::args::parse("x,lower,length").unwrap();
        let (chain, t) = Chain::new(&calls, Type::Str).unwrap();
        assert_eq!(t, Type::Int);
        assert_eq!(chain.run(Sample::str("AbC"), &NoVars), Some(Sample::Int(3)));
        // An address casts to text.
        assert!(Chain::new(&calls, Type::Ipv4).is_ok());
        // Binary does not cast to an integer.
        let (_, calls) = crate::args::parse("x,add(1)").unwrap();
        assert!(Chain::new(&calls, Type::Bin).unwrap_err().contains("integer input"));
    }
}
