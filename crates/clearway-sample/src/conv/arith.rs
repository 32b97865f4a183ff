//! Integer converters: arithmetic (saturating, as HAProxy), bitwise operations, truth.
//! An operand is an integer or a variable's value.

use super::{read, Arg, Ctx, Def};
use crate::{Sample, Type};

fn operand(a: &[String]) -> Result<Vec<Arg>, String> {
    Ok(vec![read::int_or_var(&a[0])?])
}

/// The input and the operand as integers; a variable that is not set fails the converter,
/// as in HAProxy.
fn pair(a: &[Arg], s: &Sample<'_>, ctx: &dyn Ctx) -> Option<(i64, i64)> {
    Some((s.int()?, a[0].int_value(ctx)?))
}

macro_rules! binary {
    ($name:literal, $f:expr) => {
        Def {
            name: $name,
            input: Type::Int,
            output: Type::Int,
            args: (1, 1),
            parse: operand,
            run: |a, s, ctx| {
                let (x, y) = pair(a, &s, ctx)?;
                let f: fn(i64, i64) -> i64 = $f;
                Some(Sample::Int(f(x, y)))
            },
        }
    };
}

macro_rules! unary {
    ($name:literal, $out:expr, $f:expr) => {
        Def {
            name: $name,
            input: Type::Int,
            output: $out,
            args: (0, 0),
            parse: read::none,
            run: |_, s, _| {
                let f: fn(i64) -> Sample<'static> = $f;
                Some(f(s.int()?))
            },
        }
    };
}

pub(super) const DEFS: &[Def] = &[
    binary!("add", |x, y| x.saturating_add(y)),
    binary!("sub", |x, y| x.saturating_sub(y)),
    binary!("mul", |x, y| x.saturating_mul(y)),
    // By 0: the largest integer, as HAProxy says.
    binary!("div", |x, y| if y == 0 {
        i64::MAX
    } else {
        x.checked_div(y).unwrap_or(i64::MAX)
    }),
    binary!("mod", |x, y| if y == 0 { 0 } else { x.checked_rem(y).unwrap_or(0) }),
    binary!("and", |x, y| x & y),
    binary!("or", |x, y| x | y),
    binary!("xor", |x, y| x ^ y),
    unary!("neg", Type::Int, |x| Sample::Int(x.saturating_neg())),
    unary!("cpl", Type::Int, |x| Sample::Int(!x)),
    unary!("not", Type::Bool, |x| Sample::Bool(x == 0)),
    unary!("bool", Type::Bool, |x| Sample::Bool(x != 0)),
    unary!("odd", Type::Bool, |x| Sample::Bool(x & 1 == 1)),
    unary!("even", Type::Bool, |x| Sample::Bool(x & 1 == 0)),
];

#[cfg(test)]
mod tests {
    use crate::conv::testing::run;
    use crate::Sample;

    fn int(n: i64, convs: &str) -> Option<Sample<'static>> {
        run(Sample::Int(n), convs)
    }

    #[test]
    fn arithmetic() {
        assert_eq!(int(7, "add(3)"), Some(Sample::Int(10)));
        assert_eq!(int(7, "add(txn.n)"), Some(Sample::Int(10)));
        assert_eq!(int(7, "add(txn.none)"), None);
        assert_eq!(int(7, "sub(10)"), Some(Sample::Int(-3)));
        assert_eq!(int(i64::MAX, "add(1)"), Some(Sample::Int(i64::MAX)));
        assert_eq!(int(7, "div(2)"), Some(Sample::Int(3)));
        assert_eq!(int(7, "div(0)"), Some(Sample::Int(i64::MAX)));
        assert_eq!(int(7, "mod(0)"), Some(Sample::Int(0)));
        assert_eq!(int(7, "mod(4)"), Some(Sample::Int(3)));
        assert_eq!(int(6, "and(3)"), Some(Sample::Int(2)));
        assert_eq!(int(6, "or(1)"), Some(Sample::Int(7)));
        assert_eq!(int(6, "xor(3)"), Some(Sample::Int(5)));
        assert_eq!(int(6, "neg"), Some(Sample::Int(-6)));
        assert_eq!(int(0, "cpl"), Some(Sample::Int(-1)));
        assert_eq!(int(0, "not"), Some(Sample::Bool(true)));
        assert_eq!(int(3, "bool"), Some(Sample::Bool(true)));
        assert_eq!(int(3, "odd"), Some(Sample::Bool(true)));
        assert_eq!(int(3, "even"), Some(Sample::Bool(false)));
        assert_eq!(run(Sample::str("12"), "mul(2)"), Some(Sample::Int(24)));
    }
}
