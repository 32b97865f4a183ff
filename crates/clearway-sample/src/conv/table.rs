//! Stick-table converters: `in_table(T)` (whether the input is a key of table T) and
//! `table_DATA(T)` (what T's entry of the input keeps: 0 when there is none, no value when T
//! does not store it). The tables themselves are the caller's (`Ctx::table`).

use super::{Arg, Ctx, Def};
use crate::{Sample, Type};

/// A table converter's arguments: the table, then what it reads ("" for presence).
fn run(a: &[Arg], s: Sample<'_>, ctx: &dyn Ctx) -> Option<Sample<'static>> {
    let (table, data) = (a[0].str(), a[1].str());
    let v = ctx.table(table, s, data)?;
    Some(if data.is_empty() {
        Sample::Bool(v != 0)
    } else {
        Sample::Int(v)
    })
}

macro_rules! table_defs {
    ($(($name:literal, $data:literal)),* $(,)?) => {
        pub(super) const DEFS: &[Def] = &[
            Def {
                name: "in_table",
                input: Type::Any,
                output: Type::Bool,
                args: (1, 1),
                parse: |a| Ok(vec![Arg::Str(a[0].clone()), Arg::Str(String::new())]),
                run: |a, s, ctx| run(a, s, ctx),
            },
            $(Def {
                name: $name,
                input: Type::Any,
                output: Type::Int,
                args: (1, 1),
                parse: |a| Ok(vec![Arg::Str(a[0].clone()), Arg::Str($data.into())]),
                run: |a, s, ctx| run(a, s, ctx),
            },)*
        ];
    };
}

table_defs![
    ("table_conn_cnt", "conn_cnt"),
    ("table_conn_cur", "conn_cur"),
    ("table_conn_rate", "conn_rate"),
    ("table_sess_cnt", "sess_cnt"),
    ("table_sess_rate", "sess_rate"),
    ("table_http_req_cnt", "http_req_cnt"),
    ("table_http_req_rate", "http_req_rate"),
    ("table_http_err_cnt", "http_err_cnt"),
    ("table_http_err_rate", "http_err_rate"),
    ("table_http_fail_cnt", "http_fail_cnt"),
    ("table_http_fail_rate", "http_fail_rate"),
    ("table_gpc0", "gpc0"),
    ("table_gpc0_rate", "gpc0_rate"),
    ("table_gpt0", "gpt0"),
    ("table_server_id", "server_id"),
    ("table_trackers", "trackers"),
];

/// The table a converter reads, when it is one of these.
pub fn table_of(conv: &super::Conv) -> Option<&str> {
    (conv.def.name == "in_table" || conv.def.name.starts_with("table_")).then(|| conv.args[0].str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vars::VarName;

    /// Table `t` holds key "a" with conn_cur 2; it stores no gpt0.
    struct Tables;

    impl Ctx for Tables {
        fn var(&self, _: &VarName) -> Option<Sample<'static>> {
            None
        }

        fn table(&self, table: &str, key: Sample<'_>, data: &str) -> Option<i64> {
            let present = table == "t" && &*key.to_text() == b"a";
            match data {
                "" => Some(i64::from(present)),
                "conn_cur" => Some(if present { 2 } else { 0 }),
                _ => None,
            }
        }
    }

    fn conv(s: &str, input: &str) -> Option<Sample<'static>> {
        let (_, calls) = crate::args::parse(&format!("x,{s}")).unwrap();
        super::super::Conv::new(&calls[0])
            .unwrap()
            .run(Sample::string(input.into()), &Tables)
            .map(|s| s.into_owned())
    }

    #[test]
    fn lookups() {
        assert_eq!(conv("in_table(t)", "a"), Some(Sample::Bool(true)));
        assert_eq!(conv("in_table(t)", "b"), Some(Sample::Bool(false)));
        assert_eq!(conv("table_conn_cur(t)", "a"), Some(Sample::Int(2)));
        assert_eq!(conv("table_conn_cur(t)", "b"), Some(Sample::Int(0)), "no entry: 0");
        assert_eq!(conv("table_gpt0(t)", "a"), None, "not stored: no value");
    }
}
