//! Health-check rules: `http-check expect [!] status CODES | string TEXT`.

use crate::ast::Directive;
use crate::model::{ExpectMatch, HttpExpect};

/// Parses `http-check expect [!] status|string PATTERN` (HAProxy's options before the matcher,
/// such as `min-recv` or `comment`, are skipped with their value).
pub fn http_expect(d: &Directive) -> Result<HttpExpect, String> {
    let mut words = d.words[2..].iter().map(String::as_str).peekable();
    while let Some(w) = words.peek() {
        match *w {
            "min-recv" | "comment" | "ok-status" | "error-status" | "tout-status" | "on-success" | "on-error"
            | "status-code" => {
                words.next();
                words.next();
            }
            _ => break,
        }
    }
    let mut negate = false;
    if words.peek() == Some(&"!") {
        negate = true;
        words.next();
    }
    let kind = words
        .next()
        .ok_or("'http-check expect' expects 'status CODES' or 'string TEXT'")?;
    let pattern = words
        .next()
        .ok_or_else(|| format!("'http-check expect {kind}' expects a pattern"))?;
    if let Some(extra) = words.next() {
        return Err(format!("unexpected '{extra}' after the pattern of 'http-check expect'"));
    }
    let matcher = match kind {
        "status" => ExpectMatch::Status(status_list(pattern)?),
        "string" => ExpectMatch::String(pattern.to_string()),
        "rstatus" | "rstring" | "hdr" | "fhdr" => {
            return Err(format!(
                "'http-check expect {kind}' is not supported yet (status and string are)"
            ))
        }
        other => {
            return Err(format!(
                "unknown 'http-check expect' matcher '{other}' (expected status or string)"
            ))
        }
    };
    Ok(HttpExpect {
        span: d.span.clone(),
        negate,
        matcher,
    })
}

/// `200`, `200-399`, `200,204,300-399`.
fn status_list(s: &str) -> Result<Vec<(u16, u16)>, String> {
    s.split(',')
        .map(|part| {
            let code = |c: &str| c.parse::<u16>().ok().filter(|c| (100..=599).contains(c));
            let (lo, hi) = match part.split_once('-') {
                Some((a, b)) => (code(a), code(b)),
                None => (code(part), code(part)),
            };
            match (lo, hi) {
                (Some(lo), Some(hi)) if lo <= hi => Ok((lo, hi)),
                _ => Err(format!(
                    "invalid status '{part}' in 'http-check expect status': use codes like 200 or 200-399"
                )),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Span;

    fn parse(line: &str) -> Result<HttpExpect, String> {
        let d = Directive {
            span: Span {
                file: "t".into(),
                line: 1,
            },
            words: line.split_whitespace().map(String::from).collect(),
        };
        http_expect(&d)
    }

    #[test]
    fn expect_forms() {
        assert_eq!(
            parse("http-check expect status 200").unwrap().matcher,
            ExpectMatch::Status(vec![(200, 200)])
        );
        assert_eq!(
            parse("http-check expect status 200-399,404").unwrap().matcher,
            ExpectMatch::Status(vec![(200, 399), (404, 404)])
        );
        let e = parse("http-check expect ! string maintenance").unwrap();
        assert!(e.negate);
        assert_eq!(e.matcher, ExpectMatch::String("maintenance".into()));
        assert!(parse("http-check expect comment x status 200").is_ok());
        assert!(parse("http-check expect status abc")
            .unwrap_err()
            .contains("invalid status"));
        assert!(parse("http-check expect rstring ^ok")
            .unwrap_err()
            .contains("not supported yet"));
    }
}
