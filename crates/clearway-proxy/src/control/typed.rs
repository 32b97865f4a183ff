//! `show stat typed` and `show stat json`: the statistics rows as HAProxy types them, each
//! field with its position, its tags (origin, nature, scope) and its value's type, so that
//! tools reading HAProxy's typed or JSON output read Clearway's. Fields without a value are
//! left out, as HAProxy leaves them. Must not change any state.

use super::stats::{Row, COLUMNS, MODULE_COLUMNS};
use std::fmt::Write;

/// Per column: its tags for frontends (and listeners), backends and servers (origin, nature,
/// scope letters, HAProxy's), then its value's type.
const FIELDS: [(&str, &str, &str, &str); 100] = [
    ("KNS", "KNS", "KNS", "str"),
    ("KNS", "KNS", "KNS", "str"),
    ("MGP", "MGP", "MGP", "u32"),
    ("MMP", "MMP", "MMP", "u32"),
    ("MGP", "MGP", "MGP", "u32"),
    ("MMP", "MMP", "MMP", "u32"),
    ("CLP", "CLP", "CLP", "u32"),
    ("MCP", "MCP", "MCP", "u64"),
    ("MCP", "MCP", "MCP", "u64"),
    ("MCP", "MCP", "MCP", "u64"),
    ("MCP", "MCP", "MCP", "u64"),
    ("MCP", "MCP", "MCP", "u64"),
    ("MCP", "MCP", "MCP", "u64"),
    ("MCP", "MCP", "MCP", "u64"),
    ("MCP", "MCP", "MCP", "u64"),
    ("MCP", "MCP", "MCP", "u64"),
    ("MCP", "MCP", "MCP", "u64"),
    ("SGP", "SGP", "SGP", "str"),
    ("MaP", "MaP", "MaP", "u32"),
    ("SGP", "MGP", "SGP", "u32"),
    ("SGP", "MGP", "SGP", "u32"),
    ("MCP", "MCP", "MCP", "u64"),
    ("MCP", "MCP", "MCP", "u64"),
    ("MAP", "MAP", "MAP", "u32"),
    ("MCP", "MCP", "MCP", "u32"),
    ("MGP", "MGP", "MGP", "u32"),
    ("KGP", "KGP", "KGP", "u32"),
    ("KGS", "KGS", "KGS", "u32"),
    ("KGS", "KGS", "KGS", "u32"),
    ("MGP", "MGP", "MGP", "u32"),
    ("MCP", "MCP", "MCP", "u64"),
    ("MGP", "MGP", "MGP", "u32"),
    ("CGS", "CGS", "CGS", "u32"),
    ("MRP", "MGP", "MRP", "u32"),
    ("CLP", "CLP", "CLP", "u32"),
    ("MMP", "MGP", "MMP", "u32"),
    ("MOP", "MOP", "MOP", "str"),
    ("MGP", "MGP", "MGP", "u32"),
    ("MDP", "MDP", "MDP", "u64"),
    ("MCP", "MCP", "MCP", "u64"),
    ("MCP", "MCP", "MCP", "u64"),
    ("MCP", "MCP", "MCP", "u64"),
    ("MCP", "MCP", "MCP", "u64"),
    ("MCP", "MCP", "MCP", "u64"),
    ("MCP", "MCP", "MCP", "u64"),
    ("MGP", "MGP", "MGP", "u32"),
    ("MRP", "MRP", "MRP", "u32"),
    ("MMP", "MMP", "MMP", "u32"),
    ("MCP", "MCP", "MCP", "u64"),
    ("MCP", "MCP", "MCP", "u64"),
    ("MCP", "MCP", "MCP", "u64"),
    ("MCP", "MCP", "MCP", "u64"),
    ("MCP", "MCP", "MCP", "u64"),
    ("MCP", "MCP", "MCP", "u64"),
    ("MCP", "MCP", "MCP", "u64"),
    ("MAP", "MAP", "MAP", "s32"),
    ("MOP", "MOP", "MOP", "str"),
    ("MGP", "MGP", "MGP", "u32"),
    ("MaP", "MaP", "MaP", "u32"),
    ("MaP", "MaP", "MaP", "u32"),
    ("MaP", "MaP", "MaP", "u32"),
    ("MaP", "MaP", "MaP", "u32"),
    ("MGP", "MGP", "MGP", "u32"),
    ("MGP", "MGP", "MGP", "u32"),
    ("MGP", "MGP", "MGP", "u32"),
    ("MOP", "MOP", "MOP", "str"),
    ("MGP", "MGP", "MGP", "u32"),
    ("CGS", "CGS", "CGS", "u32"),
    ("CGS", "CGS", "CGS", "u32"),
    ("CGS", "CGS", "CGS", "u32"),
    ("MGP", "MGP", "MGP", "u32"),
    ("MGP", "MGP", "MGP", "u32"),
    ("MGP", "MGP", "MGP", "u32"),
    ("CGS", "CGS", "CGS", "str"),
    ("MGP", "MGP", "MGP", "u32"),
    ("CGS", "CGS", "CGS", "str"),
    ("CGS", "CGS", "CGS", "str"),
    ("MRP", "MRP", "MRP", "u32"),
    ("MMP", "MMP", "MMP", "u32"),
    ("MCP", "MCP", "MCP", "u64"),
    ("MCP", "MCP", "MCP", "u64"),
    ("MCP", "MCP", "MCP", "u64"),
    ("MCP", "MCP", "MCP", "u64"),
    ("MCP", "MCP", "MCP", "u64"),
    ("MCP", "MCP", "MCP", "u64"),
    ("MCP", "MCP", "MCP", "u64"),
    ("MCP", "MCP", "MCP", "u64"),
    ("MCP", "MCP", "MCP", "u64"),
    ("MGP", "MGP", "MGP", "u32"),
    ("MGP", "MGP", "MGP", "u32"),
    ("MMP", "MMP", "MMP", "u32"),
    ("MMP", "MMP", "MMP", "u32"),
    ("MMP", "MMP", "MMP", "u32"),
    ("MMP", "MMP", "MMP", "u32"),
    ("MCP", "MCP", "MCP", "u64"),
    ("MGP", "MGP", "MGP", "u32"),
    ("MGP", "MGP", "MGP", "u32"),
    ("MGP", "MGP", "MGP", "u32"),
    ("MGP", "MGP", "MGP", "u32"),
    ("MaP", "MaP", "MaP", "u32"),
];

/// The kind of a row, from its `type` column: HAProxy's letter and JSON name.
fn kind(r: &Row) -> (char, &'static str, usize) {
    match r.get("type") {
        "0" => ('F', "Frontend", 0),
        "1" => ('B', "Backend", 1),
        // A listener's fields are tagged as its frontend's.
        "3" => ('L', "Listener", 0),
        _ => ('S', "Server", 2),
    }
}

/// The type a value is written with: the column's, unless the value is not a number.
fn value_type(declared: &'static str, v: &str) -> &'static str {
    let numeric = match declared {
        "u32" | "u64" => v.parse::<u64>().is_ok(),
        "s32" | "s64" => v.parse::<i64>().is_ok(),
        _ => true,
    };
    if numeric {
        declared
    } else {
        "str"
    }
}

/// The filled fields of a row: position, name, tags, type, value.
fn fields(r: &Row) -> impl Iterator<Item = (usize, &'static str, &'static str, &'static str, &str)> {
    let (_, _, k) = kind(r);
    r.0.iter()
        .enumerate()
        .filter(|(_, v)| !v.is_empty())
        .map(move |(i, v)| match MODULE_COLUMNS.get(i.wrapping_sub(COLUMNS.len())) {
            // A module's counter (they are all counters).
            Some((name, pos)) => (*pos, *name, "MCP", value_type("u64", v), v.as_str()),
            None => {
                let (f, b, s, t) = FIELDS[i];
                let tags = [f, b, s][k];
                (i, COLUMNS[i], tags, value_type(t, v), v.as_str())
            }
        })
}

/// `show stat typed`: `F.IID.SID.POS.NAME.1:TAGS:TYPE:VALUE` per filled field, a blank line
/// after each row.
pub fn typed(rows: &[Row]) -> String {
    let mut out = String::new();
    for r in rows {
        let (letter, _, _) = kind(r);
        let (iid, sid) = (r.get("iid"), r.get("sid"));
        for (pos, name, tags, ty, v) in fields(r) {
            let _ = writeln!(out, "{letter}.{iid}.{sid}.{pos}.{name}.1:{tags}:{ty}:{v}");
        }
        out.push('\n');
    }
    out
}

fn tag_words(tags: &str) -> (&'static str, &'static str, &'static str) {
    let mut c = tags.chars();
    let origin = match c.next() {
        Some('K') => "Key",
        Some('C') => "Config",
        Some('S') => "Status",
        _ => "Metric",
    };
    let nature = match c.next() {
        Some('N') => "Name",
        Some('M') => "Max",
        Some('L') => "Limit",
        Some('C') => "Counter",
        Some('R') => "Rate",
        Some('a') => "Avg",
        Some('A') => "Age",
        Some('O') => "Output",
        Some('D') => "Duration",
        _ => "Gauge",
    };
    let scope = match c.next() {
        Some('S') => "Service",
        _ => "Process",
    };
    (origin, nature, scope)
}

/// `show stat json`: an array per row of HAProxy's field objects, keys in HAProxy's order.
pub fn json(rows: &[Row]) -> String {
    let mut out = String::from("[");
    for (n, r) in rows.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        out.push('[');
        let (_, obj, _) = kind(r);
        let num = |c: &str| r.get(c).parse::<u64>().unwrap_or(0);
        for (k, (pos, name, tags, ty, v)) in fields(r).enumerate() {
            if k > 0 {
                out.push(',');
            }
            let (origin, nature, scope) = tag_words(tags);
            let value = match ty {
                // Quoted and escaped as JSON strings are.
                "str" => serde_json::Value::from(v).to_string(),
                _ => v.to_string(),
            };
            let _ = write!(
                out,
                "{{\"objType\":\"{obj}\",\"proxyId\":{},\"id\":{},\"field\":{{\"pos\":{pos},\"name\":\"{name}\"}},\
                 \"processNum\":1,\"tags\":{{\"origin\":\"{origin}\",\"nature\":\"{nature}\",\"scope\":\"{scope}\"}},\
                 \"value\":{{\"type\":\"{ty}\",\"value\":{value}}}}}",
                num("iid"),
                num("sid"),
            );
        }
        out.push(']');
    }
    out.push_str("]\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(pairs: &[(&str, &str)]) -> Row {
        let mut r = Row(vec![String::new(); COLUMNS.len()]);
        for (k, v) in pairs {
            let i = COLUMNS.iter().position(|c| c == k).expect("a column");
            r.0[i] = v.to_string();
        }
        r
    }

    #[test]
    fn typed_and_json_as_haproxy_writes_them() {
        let rows = [
            row(&[
                ("pxname", "fe1"),
                ("svname", "FRONTEND"),
                ("scur", "0"),
                ("iid", "2"),
                ("sid", "0"),
                ("type", "0"),
            ]),
            row(&[
                ("pxname", "b1"),
                ("svname", "srv1"),
                ("act", "1"),
                ("lastsess", "-1"),
                ("iid", "3"),
                ("sid", "1"),
                ("type", "2"),
            ]),
        ];
        let t = typed(&rows);
        assert!(
            t.starts_with(
                "F.2.0.0.pxname.1:KNS:str:fe1\nF.2.0.1.svname.1:KNS:str:FRONTEND\nF.2.0.4.scur.1:MGP:u32:0\n"
            ),
            "{t}"
        );
        assert!(t.contains("S.3.1.19.act.1:SGP:u32:1\n"), "{t}");
        assert!(t.contains("S.3.1.55.lastsess.1:MAP:s32:-1\n"), "{t}");
        let j: serde_json::Value = serde_json::from_str(&json(&rows)).expect("valid JSON");
        assert_eq!(j[0][0]["objType"], "Frontend");
        assert_eq!(j[0][0]["value"]["value"], "fe1");
        assert_eq!(j[1][2]["tags"]["origin"], "Status");
        let lastsess = j[1]
            .as_array()
            .expect("a row")
            .iter()
            .find(|f| f["field"]["name"] == "lastsess")
            .expect("lastsess");
        assert_eq!(lastsess["value"]["type"], "s32");
        assert_eq!(lastsess["value"]["value"], -1);
        assert!(json(&rows).starts_with("[[{\"objType\":\"Frontend\",\"proxyId\":2,\"id\":0,\"field\":{\"pos\":0,\"name\":\"pxname\"},\"processNum\":1,"));
    }

    #[test]
    fn module_counters_follow_at_haproxys_positions() {
        let mut r = row(&[("pxname", "fe1"), ("iid", "2"), ("sid", "0"), ("type", "0")]);
        r.0.extend(["7".to_string(), "9".to_string()]);
        let t = typed(&[r]);
        assert!(
            t.ends_with("F.2.0.125.h1_spliced_bytes_in.1:MCP:u64:7\nF.2.0.126.h1_spliced_bytes_out.1:MCP:u64:9\n\n"),
            "{t}"
        );
    }
}
