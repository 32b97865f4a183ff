//! A configuration file's bytes to the text the lexer reads. HAProxy reads bytes, so a
//! comment in Latin-1 is no reason to refuse a file: bytes that are not UTF-8 inside a
//! comment are replaced (a comment means nothing); anywhere else they are an error naming
//! the line and column, since Clearway's values are text. Must not parse anything more.

use crate::diag::Diagnostic;
use crate::model::Span;
use std::sync::Arc;

/// The text of a file named `file`, whose bytes are `bytes`.
pub(crate) fn decode(file: &str, bytes: Vec<u8>) -> Result<String, Diagnostic> {
    let bytes = match String::from_utf8(bytes) {
        Ok(t) => return Ok(t),
        Err(e) => e.into_bytes(),
    };
    let mut out = String::with_capacity(bytes.len());
    for (n, line) in bytes.split_inclusive(|&b| b == b'\n').enumerate() {
        match std::str::from_utf8(line) {
            Ok(l) => out.push_str(l),
            Err(e) => {
                let bad = e.valid_up_to();
                match comment_start(line) {
                    Some(c) if c < bad => out.push_str(&String::from_utf8_lossy(line)),
                    _ => {
                        let col = std::str::from_utf8(&line[..bad]).map_or(bad, |s| s.chars().count()) + 1;
                        return Err(Diagnostic::new(
                            Span {
                                file: Arc::from(file),
                                line: u32::try_from(n + 1).unwrap_or(u32::MAX),
                            },
                            format!("column {col}: byte 0x{:02x} is not UTF-8", line[bad]),
                        )
                        .hint("write the file in UTF-8; other encodings are only accepted in comments"));
                    }
                }
            }
        }
    }
    Ok(out)
}

/// Where an unquoted, unescaped `#` starts a comment on `line`, if one does.
fn comment_start(line: &[u8]) -> Option<usize> {
    let (mut single, mut double, mut escaped) = (false, false, false);
    for (i, &b) in line.iter().enumerate() {
        match b {
            _ if escaped => escaped = false,
            b'\\' if !single => escaped = true,
            b'\'' if !double => single = !single,
            b'"' if !single => double = !double,
            b'#' if !single && !double => return Some(i),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_byte_that_is_not_utf8_in_a_comment_is_let_be_elsewhere_it_is_an_error() {
        let t = decode("a.cfg", b"global\n    # caf\xe9\n    maxconn 10 # \xff\n".to_vec()).unwrap();
        assert!(t.starts_with("global\n    # caf"), "{t}");
        assert!(t.ends_with("maxconn 10 # \u{fffd}\n"), "{t}");
        let e = decode("a.cfg", b"global\n  x caf\xe9 # fine\n".to_vec()).unwrap_err();
        assert_eq!(e.span.line, 2);
        assert!(e.to_string().contains("column 8: byte 0xe9"), "{e}");
        // A '#' inside quotes or escaped starts no comment.
        assert!(decode("a.cfg", b"  x \"#\xe9\"\n".to_vec()).is_err());
        assert!(decode("a.cfg", b"  x \\#\xe9\n".to_vec()).is_err());
        assert_eq!(decode("a.cfg", b"ok\n".to_vec()).unwrap(), "ok\n");
    }
}
