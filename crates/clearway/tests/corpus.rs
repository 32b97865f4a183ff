//! Real-world HAProxy configurations (tests/corpus/, each with its source on its first
//! line): `clearway -c` must give on each what tests/corpus/expected.tsv records (beside
//! what HAProxy 2.6's `haproxy -c` gave on the same file), and docs/corpus.md is that table.
//! After an intended change, `UPDATE_CORPUS=1 cargo test -p clearway --test corpus`
//! rewrites both.

mod common;
use common::binary;
use std::path::{Path, PathBuf};
use std::process::Command;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/corpus")
}

/// What `clearway -c` says of `file` (run from the corpus directory, so that messages name
/// the file alone): `valid`, `no listener`, or `invalid: ` and the first error.
fn verdict(file: &str) -> String {
    let out = Command::new(binary())
        .current_dir(dir())
        .args(["-c", "-f", file])
        .env_clear()
        .output()
        .expect("run clearway -c");
    let stderr = String::from_utf8_lossy(&out.stderr);
    match out.status.code() {
        Some(0) => "valid".into(),
        Some(2) => "no listener".into(),
        _ => {
            let first = stderr
                .lines()
                .find_map(|l| l.strip_prefix("[ALERT] "))
                .unwrap_or("(no message)");
            format!("invalid: {}", first.replace('\t', " "))
        }
    }
}

fn markdown(rows: &[Vec<String>]) -> String {
    let mut out = String::from(
        "# Real-world configurations\n\n\
         The HAProxy configurations in `tests/corpus/` come from public repositories and \
         documentation (each file's first line names its source). CI runs `clearway -c` on each \
         and compares the outcome with `tests/corpus/expected.tsv`, this table. HAProxy 2.6's own \
         `haproxy -c` on the same file is the oracle: many fail there only for what this machine \
         lacks (certificates, host names, environment variables).\n\n\
         | file | kind | HAProxy 2.6 `-c` | Clearway `-c` |\n|---|---|---|---|\n",
    );
    for r in rows {
        let cell = |s: &str| s.replace('|', "\\|");
        out.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            cell(&r[0]),
            cell(&r[1]),
            cell(&r[2]),
            cell(&r[3])
        ));
    }
    out
}

#[test]
fn each_real_world_config_gives_the_recorded_outcome() {
    let expected_path = dir().join("expected.tsv");
    let text = std::fs::read_to_string(&expected_path).expect("tests/corpus/expected.tsv");
    let mut lines = text.lines();
    let header = lines.next().expect("a header line").to_string();
    let mut rows: Vec<Vec<String>> = lines.map(|l| l.split('\t').map(String::from).collect()).collect();
    // Every file is in the table, and the other way round.
    let mut files: Vec<String> = std::fs::read_dir(dir())
        .expect("tests/corpus")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".cfg"))
        .collect();
    files.sort();
    let listed: Vec<String> = rows.iter().map(|r| r[0].clone()).collect();
    assert_eq!(files, listed, "tests/corpus and expected.tsv list different files");
    assert!(files.len() >= 40, "the corpus has {} files", files.len());
    let update = std::env::var_os("UPDATE_CORPUS").is_some();
    let mut differ = Vec::new();
    for r in &mut rows {
        assert_eq!(r.len(), 4, "{r:?}");
        let got = verdict(&r[0]);
        if got != r[3] {
            differ.push(format!("{}: recorded '{}', now '{got}'", r[0], r[3]));
            r[3] = got;
        }
    }
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/corpus.md");
    if update {
        let body: Vec<String> = rows.iter().map(|r| r.join("\t")).collect();
        std::fs::write(&expected_path, format!("{header}\n{}\n", body.join("\n"))).expect("write expected.tsv");
        std::fs::write(&docs, markdown(&rows)).expect("write docs/corpus.md");
        return;
    }
    assert!(
        differ.is_empty(),
        "outcomes changed (UPDATE_CORPUS=1 records them):\n{}",
        differ.join("\n")
    );
    assert_eq!(
        std::fs::read_to_string(&docs).unwrap_or_default(),
        markdown(&rows),
        "docs/corpus.md differs from tests/corpus/expected.tsv (UPDATE_CORPUS=1 rewrites it)"
    );
}
