//! `clearway -c`: exit 0 for every valid fixture, 1 with `FILE:LINE` for every invalid one.

mod common;
use common::binary;
use std::path::PathBuf;
use std::process::Command;

fn fixtures(kind: &str) -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/configs")
        .join(kind);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "cfg"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no fixtures in {}", dir.display());
    files
}

fn check(file: &PathBuf) -> std::process::Output {
    Command::new(binary())
        .arg("-c")
        .arg("-f")
        .arg(file)
        .output()
        .expect("run clearway -c")
}

#[test]
fn valid_fixtures_pass() {
    for f in fixtures("valid") {
        let out = check(&f);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {}",
            f.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn invalid_fixtures_fail_with_their_line() {
    for f in fixtures("invalid") {
        let text = std::fs::read_to_string(&f).expect("read fixture");
        let expect = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{}: no '# expect:' line", f.display()));
        let (line, substring) = expect.split_once(": ").expect("LINE: SUBSTRING");
        let out = check(&f);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{}: {err}", f.display());
        let name = f.file_name().and_then(|n| n.to_str()).expect("name");
        let at = format!("{name}:{line}: ");
        let hit = err.lines().any(|l| l.contains(&at) && l.contains(substring));
        assert!(hit, "{}: expected '{at}...{substring}' in:\n{err}", f.display());
    }
}

#[test]
fn typo_gets_a_hint_and_directory_loading_works() {
    let dir = std::env::temp_dir().join(format!("cw-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    std::fs::write(
        dir.join("10-front.cfg"),
        "frontend ft\n    bind 127.0.0.1:1\n    default_backend bk\n",
    )
    .expect("w");
    std::fs::write(
        dir.join("20-back.cfg"),
        "backend bk\n    source 0.0.0.0 usersrc clientip\n    server s1 127.0.0.1:2\n",
    )
    .expect("w");
    std::fs::write(dir.join("ignored.txt"), "garbage").expect("w");
    let out = Command::new(binary())
        .arg("-c")
        .arg("-f")
        .arg(&dir)
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    std::fs::write(
        dir.join("20-back.cfg"),
        "backend bk\n    source 0.0.0.0 usesrc clientip\n    server s1 127.0.0.1:2\n",
    )
    .expect("w");
    let fixed = Command::new(binary())
        .arg("-c")
        .arg("-f")
        .arg(&dir)
        .output()
        .expect("run");
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("20-back.cfg:2:"), "{err}");
    assert!(err.contains("usesrc"), "the nearest keyword is suggested: {err}");
    assert_eq!(
        fixed.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&fixed.stderr)
    );
}

#[test]
fn version_and_help() {
    let out = Command::new(binary()).arg("-v").output().expect("run");
    assert!(String::from_utf8_lossy(&out.stdout).contains("Clearway version"));
    let out = Command::new(binary()).arg("--help").output().expect("run");
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("-f") && help.contains("-c"), "{help}");
}

#[test]
fn daemon_mode_detaches_and_writes_the_pidfile() {
    let dir = std::env::temp_dir().join(format!("cw-daemon-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    let cfg = dir.join("d.cfg");
    let pidfile = dir.join("clearway.pid");
    // A port free right now (one derived from the pid could be any client's ephemeral port).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let text = format!("global\n    daemon\ndefaults\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\nlisten l\n    bind 127.0.0.1:{port}\n    server s1 127.0.0.1:9\n");
    std::fs::write(&cfg, text).expect("w");
    // The parent returns once the child is detached.
    let status = Command::new(binary())
        .arg("-f")
        .arg(&cfg)
        .arg("-p")
        .arg(&pidfile)
        .status()
        .expect("run");
    assert!(status.success());
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .expect("pidfile written")
        .trim()
        .parse()
        .expect("a pid");
    let alive = std::path::Path::new(&format!("/proc/{pid}")).exists();
    let _ = Command::new("kill").arg(pid.to_string()).status();
    std::fs::remove_dir_all(&dir).ok();
    assert!(alive, "the daemon runs after the parent returned");
    assert_ne!(pid as u32, std::process::id());
}

/// `clearway -c` on `bytes` written to a file of their own.
fn check_bytes(tag: &str, bytes: &[u8]) -> (Option<i32>, String) {
    let dir = std::env::temp_dir().join(clearway_testkit::netns::unique_name(tag));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let f = dir.join("t.cfg");
    std::fs::write(&f, bytes).expect("write");
    let out = check(&f);
    let _ = std::fs::remove_dir_all(&dir);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

const LISTENS: &[u8] =
    b"defaults\n    mode http\n    timeout client 5s\n    timeout server 5s\n    timeout connect 5s\n\
    frontend ft\n    bind 127.0.0.1:8080\n    default_backend bk\nbackend bk\n    server s1 127.0.0.1:8081\n";

#[test]
fn a_latin1_byte_in_a_comment_is_accepted_and_elsewhere_refused_with_its_line_and_column() {
    let mut cfg = b"# r\xe9seau du caf\xe9 (Latin-1)\n".to_vec();
    cfg.extend_from_slice(LISTENS);
    let (code, out) = check_bytes("cfglat", &cfg);
    assert_eq!(code, Some(0), "{out}");
    let mut bad = LISTENS.to_vec();
    bad.extend_from_slice(b"    http-request set-header X caf\xe9\n");
    let (code, out) = check_bytes("cfglat", &bad);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("t.cfg:11: column 34: byte 0xe9 is not UTF-8"), "{out}");
}

#[test]
fn a_file_cut_short_is_refused_as_haproxy_refuses_it() {
    // The last line without its newline: the file may have been truncated.
    let cut = &LISTENS[..LISTENS.len() - 1];
    let (code, out) = check_bytes("cfgcut", cut);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("t.cfg:10: the last line has no newline"), "{out}");
    let (code, out) = check_bytes("cfgcut", LISTENS);
    assert_eq!(code, Some(0), "{out}");
    assert_ne!(haproxy_check("cfgcuth", cut), Some(0), "HAProxy refuses it too");
}

#[test]
fn a_configuration_with_no_listener_does_not_start() {
    for text in [
        &b""[..],
        b"global\n    maxconn 10\n",
        b"backend bk\n    server s1 127.0.0.1:8081\n",
    ] {
        let (code, out) = check_bytes("cfgnol", text);
        assert_eq!(code, Some(2), "{out}");
        assert!(out.contains("will not start (no listener)"), "{out}");
    }
    // Started rather than checked: an alert and exit 1, as HAProxy.
    let dir = std::env::temp_dir().join(clearway_testkit::netns::unique_name("cfgnol"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let f = dir.join("t.cfg");
    std::fs::write(&f, "global\n    maxconn 10\n").expect("write");
    let out = Command::new(binary())
        .arg("-db")
        .arg("-f")
        .arg(&f)
        .output()
        .expect("run");
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no listener"));
}

#[test]
fn haproxys_no_effect_flags_are_accepted() {
    // `-dM` (allocator poisoning) and `-L NAME` (the local peer), as scripts and HAProxy's
    // test harness pass them: they change nothing in Clearway, and must not stop it.
    let file = fixtures("valid").into_iter().next().expect("a valid fixture");
    for args in [&["-dM"][..], &["-dM0x55", "-L", "peer1"][..], &["-Lpeer1"][..]] {
        let out = Command::new(binary())
            .args(args)
            .arg("-c")
            .arg("-f")
            .arg(&file)
            .output()
            .expect("run");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// `haproxy -c` (the oracle) on `bytes`: its exit code.
fn haproxy_check(tag: &str, bytes: &[u8]) -> Option<i32> {
    let dir = std::env::temp_dir().join(clearway_testkit::netns::unique_name(tag));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("t.cfg"), bytes).expect("write");
    let hap = Command::new("/usr/sbin/haproxy")
        .args(["-c", "-f"])
        .arg(dir.join("t.cfg"))
        .output()
        .expect("haproxy");
    let _ = std::fs::remove_dir_all(&dir);
    hap.status.code()
}

#[test]
fn conditional_blocks_choose_lines_as_haproxy_does() {
    // The lines only a build without TLS, or with QUIC, would read are not read.
    let cfg = b"global\n.if feature(QUIC)\n    lua-load /nonexistent.lua\n.endif\n\
        defaults\n    mode http\n    timeout client 5s\n    timeout server 5s\n    timeout connect 5s\n\
        frontend ft\n    bind 127.0.0.1:8080\n\
        .if !feature(OPENSSL)\n    default_backend nowhere\n\
        .elif version_atleast(2.4) && streq(\"$CLEARWAY_BLOCK_TEST\",\"\")  # a comment\n    default_backend bk\n\
        .else\n    default_backend missing\n.endif\n\
        backend bk\n    server s1 127.0.0.1:8081\n";
    let (code, out) = check_bytes("cfgif", cfg);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(haproxy_check("cfgifh", cfg), Some(0));
    // `.alert` in a block that is read stops the load; an unclosed `.if` is an error.
    for bad in [
        &b".if 1\n.alert \"this build is not the right one\"\n.endif\n"[..],
        b".if 1\n",
        b".else\n",
    ] {
        let mut text = bad.to_vec();
        text.extend_from_slice(LISTENS);
        let (code, out) = check_bytes("cfgif", &text);
        assert_eq!(code, Some(1), "{out}");
        assert!(out.contains("t.cfg:1") || out.contains("t.cfg:2"), "{out}");
        assert_ne!(haproxy_check("cfgifh", &text), Some(0), "HAProxy refuses it too");
    }
}
