//! `stick-table type ip|ipv6|integer|string [len N]|binary [len N] size N [expire T]
//! [nopurge] [store DATA,...]`: the table a proxy keeps, as plain data. The data Clearway
//! counts: conn_cnt, conn_cur, conn_rate(T), sess_cnt, sess_rate(T), http_req_cnt,
//! http_req_rate(T), gpc0, gpc0_rate(T), gpt0; others and `peers` are refused as not
//! supported yet. And the `stick on|match|store-request|store-response` rules of backends.

use crate::ast::Directive;
use crate::model::{StickKind, StickOp, StickRule, StickStore as Store, StickTable};
use crate::units;

pub fn parse(d: &Directive) -> Result<StickTable, String> {
    let mut kind = None;
    let mut size = None;
    let mut expire = None;
    let mut nopurge = false;
    let mut len = None;
    let mut store = Store::default();
    let mut srvkey_addr = false;
    let mut it = d.words[1..].iter();
    while let Some(w) = it.next() {
        let mut val = |what: &str| it.next().ok_or_else(|| format!("'stick-table {w}' expects {what}"));
        match w.as_str() {
            "type" => {
                let k = match val("a type")?.as_str() {
                    "ip" => StickKind::Ip,
                    "ipv6" => StickKind::Ipv6,
                    "integer" => StickKind::Integer,
                    "string" => StickKind::String,
                    "binary" => StickKind::Binary,
                    t => {
                        return Err(format!(
                            "unknown stick-table type '{t}' (ip, ipv6, integer, string, binary)"
                        ))
                    }
                };
                // As HAProxy: `len` belongs to `type string|binary`, right after it.
                if matches!(k, StickKind::String | StickKind::Binary)
                    && it.as_slice().first().is_some_and(|w| w == "len")
                {
                    it.next();
                    let n = it.next().ok_or("'stick-table type ... len' expects a length")?;
                    len = Some(units::int::<usize>(n, "len")?);
                }
                kind = Some(k);
            }
            "size" => {
                let n = units::size(val("a number of entries")?)?;
                size = Some(usize::try_from(n).map_err(|_| "'stick-table size' is too large".to_string())?);
            }
            "expire" => expire = Some(units::time(val("a time")?)?),
            "nopurge" => nopurge = true,
            "store" => {
                for item in split_store(val("a list of data")?) {
                    let (name, period) = match item.split_once('(') {
                        Some((n, rest)) => {
                            let p = rest.strip_suffix(')').ok_or_else(|| format!("'{item}': missing ')'"))?;
                            (n, Some(units::time(p)?.as_millis().max(1) as u64))
                        }
                        None => (item, None),
                    };
                    let need_period = || period.ok_or_else(|| format!("'{name}' needs a period, e.g. '{name}(10s)'"));
                    match name {
                        "conn_cnt" => store.conn_cnt = true,
                        "conn_cur" => store.conn_cur = true,
                        "conn_rate" => store.conn_rate = Some(need_period()?),
                        "sess_cnt" => store.sess_cnt = true,
                        "sess_rate" => store.sess_rate = Some(need_period()?),
                        "http_req_cnt" => store.http_req_cnt = true,
                        "http_req_rate" => store.http_req_rate = Some(need_period()?),
                        "http_err_cnt" => store.http_err_cnt = true,
                        "http_err_rate" => store.http_err_rate = Some(need_period()?),
                        "http_fail_cnt" => store.http_fail_cnt = true,
                        "http_fail_rate" => store.http_fail_rate = Some(need_period()?),
                        "gpc0" => store.gpc0 = true,
                        "gpc0_rate" => store.gpc0_rate = Some(need_period()?),
                        "gpt0" => store.gpt0 = true,
                        // Kept by the tables `stick` rules use; naming it changes nothing else.
                        "server_id" | "server_key" => store.server_id = true,
                        other => {
                            return Err(format!(
                                "stick-table data '{other}' is not supported yet (conn_cnt, conn_cur, conn_rate, \
                                 sess_cnt, sess_rate, http_req_cnt, http_req_rate, http_err_cnt, http_err_rate, \
                                 http_fail_cnt, http_fail_rate, gpc0, gpc0_rate, gpt0 are)"
                            ))
                        }
                    }
                }
            }
            "srvkey" => {
                srvkey_addr = match val("'name' or 'addr'")?.as_str() {
                    "name" => false,
                    "addr" => true,
                    o => return Err(format!("'stick-table srvkey' expects 'name' or 'addr', not '{o}'")),
                }
            }
            o @ ("peers" | "write-to" | "recv-only") => {
                return Err(format!(
                    "'stick-table ... {o}' is not supported yet: tables are not shared between nodes"
                ))
            }
            o => return Err(format!("unknown stick-table parameter '{o}'")),
        }
    }
    let kind = kind.ok_or("'stick-table' needs a 'type'")?;
    let size = size.ok_or("'stick-table' needs a 'size'")?;
    let len = match kind {
        StickKind::String => len.unwrap_or(32),
        StickKind::Binary => len.unwrap_or(32),
        _ => 0,
    };
    Ok(StickTable {
        span: d.span.clone(),
        kind,
        len,
        size,
        expire,
        nopurge,
        store,
        srvkey_addr,
    })
}

/// `stick on|match|store-request|store-response EXPR [table T] [if|unless COND]`.
pub fn rule(d: &Directive, acls: &[super::acl::Named]) -> Result<StickRule, (String, Option<String>)> {
    let plain = |m: String| (m, None);
    let op = match d.arg(1) {
        Some("on") => StickOp::On,
        Some("match") => StickOp::Match,
        Some("store-request") => StickOp::StoreRequest,
        Some("store-response") => StickOp::StoreResponse,
        other => {
            return Err((
                format!("'stick {}' is not a stick rule", other.unwrap_or_default()),
                Some("stick on|match|store-request|store-response EXPR [table NAME] [if|unless COND]".into()),
            ))
        }
    };
    let expr = d
        .arg(2)
        .ok_or_else(|| plain(format!("'stick {}' expects a sample expression", d.words[1])))?;
    let (expr, _) = super::sample::expression(expr).map_err(plain)?;
    let mut rest = &d.words[3..];
    let mut table = None;
    if rest.first().is_some_and(|w| w == "table") {
        table = Some(
            rest.get(1)
                .ok_or_else(|| plain("'table' expects a table name".into()))?
                .as_str(),
        );
        rest = &rest[2..];
    }
    let condition = match rest.first().map(String::as_str) {
        None => None,
        Some("if" | "unless") => Some(super::acl::condition(rest, acls)?),
        Some(w) => {
            return Err(plain(format!(
                "'stick': unexpected '{w}' (expected 'table', 'if' or 'unless')"
            )))
        }
    };
    let table = super::sample::table_or_own(table).ok_or_else(|| plain("'stick' needs a table".into()))?;
    Ok(StickRule {
        span: d.span.clone(),
        op,
        expr,
        table,
        condition,
    })
}

/// `a,b(10s),c` split at the commas outside parentheses.
fn split_store(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out.into_iter().filter(|x| !x.is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use crate::rules::{Fetch, HttpAction, StickSlot, StickWhat};

    #[test]
    fn tables_fetches_and_actions() {
        let cfg = "defaults\n mode http\n timeout connect 1s\n timeout client 1s\n timeout server 1s\n\
                   frontend f\n bind :1\n stick-table type ip size 100k expire 30s store http_req_rate(10s),conn_cur,gpc0\n\
                   http-request track-sc0 src\n http-request deny if { sc_http_req_rate(0) gt 10 } || { src_conn_cur(b) gt 2 }\n\
                   default_backend b\nbackend b\n stick-table type string len 8 size 10 store gpt0\n server s 127.0.0.1:1\n";
        let l = crate::parse_str("t.cfg", cfg).unwrap();
        let f = l.config.frontend("f").unwrap();
        let t = f.stick_table.as_ref().unwrap();
        assert_eq!(
            (t.size, t.store.http_req_rate, t.store.conn_cur),
            (102_400, Some(10_000), true)
        );
        assert!(
            matches!(&f.http.request_rules[0].action, HttpAction::TrackSc { slot: 0, table: Some(n), .. } if n == "f")
        );
        let c = f.http.request_rules[1].condition.as_ref().unwrap();
        assert!(
            matches!(&c.any_of[0][0].tests[0].fetch, Fetch::Stick { slot: StickSlot::Sc(0), table: Some(n), .. } if n == "f")
        );
        assert!(matches!(
            &c.any_of[1][0].tests[0].fetch,
            Fetch::Stick { slot: StickSlot::Src, what: StickWhat::Get(_), table: Some(n) } if n == "b"
        ));
        assert_eq!(l.config.backend("b").unwrap().stick_table.as_ref().unwrap().len, 8);
        for (bad, needle) in [
            (
                "stick-table type ip size 1 store bytes_in_rate(1s)",
                "not supported yet",
            ),
            ("stick-table type ip size 1 peers p", "not supported yet"),
            ("stick-table type nope size 1", "unknown stick-table type"),
            (
                "stick-table type ip len 4 size 1",
                "unknown stick-table parameter 'len'",
            ),
            (
                "stick-table type ip size 1\n stick-table type ip size 2",
                "has a stick-table already",
            ),
            ("stick-table type ip", "needs a 'size'"),
            ("stick-table type ip size 1 store conn_rate", "needs a period"),
            ("http-request track-sc3 src", "0, 1 or 2"),
            ("http-request deny if { sc_bytes_in_rate(0) gt 1 }", "not supported yet"),
        ] {
            let e = crate::parse_str("t.cfg", &format!("frontend f\n bind :1\n mode http\n {bad}\n"))
                .unwrap_err()
                .to_string();
            assert!(e.contains(needle), "{bad}: {e}");
        }
    }
}
