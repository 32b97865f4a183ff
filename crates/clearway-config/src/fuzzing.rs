//! Entry point for the configuration fuzz target in `fuzz/` and for the unit test that
//! replays its seed corpus: any bytes as a configuration file, with invariants beyond "no
//! panic". Not an API: nothing else may call it.
//!
//! - a file that cannot be read as text is refused at a line of the file, never `file:0`;
//! - every diagnostic of a parsed file points at one of its lines;
//! - each line's words, written back quoted, split into the same words (the lexer's quoting
//!   and escapes round-trip).

use crate::{lexer, parse_texts, text};

/// One configuration file.
pub fn config(data: &[u8]) {
    let lines = u32::try_from(data.split(|&b| b == b'\n').count()).unwrap_or(u32::MAX);
    let text = match text::decode("fuzz.cfg", data.to_vec()) {
        Ok(t) => t,
        Err(d) => {
            assert!(
                (1..=lines).contains(&d.span.line),
                "a file refused at line {} of {lines}: {}",
                d.span.line,
                d.message
            );
            return;
        }
    };
    let env = |name: &str| (name == "PORT").then(|| "8080".to_string());
    let result = parse_texts(&[("fuzz.cfg".to_string(), text.clone())], &env);
    let diags = match &result {
        Ok(l) => l.warnings.iter().collect::<Vec<_>>(),
        Err(e) => e.errors.iter().chain(&e.warnings).collect(),
    };
    // Diagnostics about other files (a `crt-list`, a pattern file) are theirs.
    for d in diags.into_iter().filter(|d| &*d.span.file == "fuzz.cfg") {
        // Line 0 stands for the whole file (a section missing a server, no listener).
        assert!(
            d.span.line <= lines,
            "a diagnostic at line {} of {lines}: {}",
            d.span.line,
            d.message
        );
    }
    for line in text.lines() {
        let Ok(words) = lexer::words(line, &env) else {
            continue;
        };
        let quoted: Vec<String> = words
            .iter()
            .map(|w| format!("'{}'", w.replace('\'', "'\\''")))
            .collect();
        let again = lexer::words(&quoted.join(" "), &env);
        assert_eq!(again.as_ref(), Ok(&words), "{line:?} quoted as {quoted:?}");
    }
}

#[cfg(test)]
mod tests {
    /// The target over its seed corpus in `fuzz/corpus/config`.
    #[test]
    fn the_seed_corpus_passes() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/config");
        let files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .flatten()
            .collect();
        assert!(!files.is_empty(), "no seeds in {}", dir.display());
        for f in files {
            super::config(&std::fs::read(f.path()).unwrap());
        }
    }
}
