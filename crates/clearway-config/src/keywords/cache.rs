//! `cache NAME` sections: `total-max-size MB`, `max-object-size BYTES`, `max-age SECONDS`,
//! `process-vary on|off`, `max-secondary-entries N`.

use super::Ctx;
use crate::ast::Section;
use crate::model::CacheDef;

pub fn build(s: &Section, ctx: &mut Ctx) -> Option<CacheDef> {
    let mut c = CacheDef {
        span: s.span.clone(),
        name: s.name.clone(),
        total_max_size: 0,
        max_object_size: 0,
        max_age: 60,
        process_vary: false,
        max_secondary_entries: 10,
    };
    for d in &s.directives {
        let v = match (d.arg(1), d.arg(2)) {
            (Some(v), None) => v,
            _ => {
                ctx.error(&d.span, format!("'{}' expects one value", d.keyword()));
                continue;
            }
        };
        let num = |what: &str| -> Result<u64, String> {
            v.parse::<u64>()
                .map_err(|_| format!("'{what}' expects a number, not '{v}'"))
        };
        let r = match d.keyword() {
            "total-max-size" => num("total-max-size").and_then(|n| {
                if n == 0 || n > 4095 {
                    Err("'total-max-size' is a number of megabytes from 1 to 4095".into())
                } else {
                    c.total_max_size = n << 20;
                    Ok(())
                }
            }),
            "max-object-size" => num("max-object-size").map(|n| c.max_object_size = n),
            "max-age" => num("max-age").map(|n| c.max_age = n),
            "max-secondary-entries" => num("max-secondary-entries").and_then(|n| match n {
                1..=255 => {
                    c.max_secondary_entries = n as usize;
                    Ok(())
                }
                _ => Err("'max-secondary-entries' is from 1 to 255".into()),
            }),
            "process-vary" => match v {
                "on" | "off" => {
                    c.process_vary = v == "on";
                    Ok(())
                }
                _ => Err(format!("'process-vary' expects 'on' or 'off', not '{v}'")),
            },
            k => Err(format!("unknown keyword '{k}' in 'cache' section")),
        };
        if let Err(e) = r {
            ctx.error(&d.span, e);
        }
    }
    if c.total_max_size == 0 {
        ctx.error_hint(
            &s.span,
            format!("cache '{}' has no size", s.name),
            Some("add 'total-max-size MEGABYTES'".into()),
        );
        return None;
    }
    if c.max_object_size == 0 {
        c.max_object_size = c.total_max_size >> 8;
    } else if c.max_object_size > c.total_max_size / 2 {
        ctx.error(
            &s.span,
            format!(
                "cache '{}': 'max-object-size' is at most half of 'total-max-size'",
                s.name
            ),
        );
        return None;
    }
    Some(c)
}

#[cfg(test)]
mod tests {
    #[test]
    fn sections_and_their_mistakes() {
        let l = crate::parse_str(
            "t.cfg",
            "cache c\n total-max-size 4\n max-age 30\n process-vary on\n\
             backend b\n mode http\n http-request cache-use c\n http-response cache-store c\n server s 127.0.0.1:1\n",
        )
        .unwrap();
        let c = &l.config.caches[0];
        assert_eq!(
            (c.total_max_size, c.max_object_size, c.max_age, c.process_vary),
            (4 << 20, 16384, 30, true)
        );
        for (text, says) in [
            ("cache c\n max-age 5\n", "has no size"),
            ("cache c\n total-max-size 1\n max-object-size 900000\n", "at most half"),
            ("cache c\n total-max-size 1\n process-vary maybe\n", "'on' or 'off'"),
            ("cache c\n total-max-size 1\n colour blue\n", "unknown keyword 'colour'"),
            (
                "backend b\n mode http\n http-request cache-use nope\n server s 127.0.0.1:1\n",
                "no cache named 'nope'",
            ),
            (
                "backend b\n mode http\n http-response cache-use c\n server s 127.0.0.1:1\n",
                "cache-use",
            ),
        ] {
            let e = crate::parse_str("t.cfg", text).unwrap_err().to_string();
            assert!(e.contains(says), "{text}: {e}");
        }
    }
}
