//! A throw-away certificate authority for TLS tests, made with the real `openssl` command:
//! a CA and leaf certificates for chosen names, signed by it. Files live in a temporary
//! directory removed on drop.

use crate::netns::{run, unique_name};
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub struct Pki {
    dir: PathBuf,
}

/// A leaf certificate: `crt` and `key` apart, and `pem` with both (HAProxy's `crt` format).
#[derive(Debug, Clone)]
pub struct Leaf {
    pub crt: PathBuf,
    pub key: PathBuf,
    pub pem: PathBuf,
}

/// `openssl req` arguments for a new P-256 key without a passphrase.
const NEW_KEY: [&str; 5] = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

impl Pki {
    /// A new CA whose certificate is `ca_file()`.
    pub fn new(tag: &str) -> Pki {
        let dir = std::env::temp_dir().join(unique_name(tag));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let pki = Pki { dir };
        let (crt, key) = (pki.ca_file(), pki.dir.join("ca.key"));
        let mut args = vec!["req", "-x509"];
        args.extend(NEW_KEY);
        args.extend([
            "-subj",
            "/CN=Clearway test CA",
            "-days",
            "2",
            "-keyout",
            s(&key),
            "-out",
            s(&crt),
        ]);
        run("openssl", &args);
        pki
    }

    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// A directory for `crt DIR` tests.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A certificate for `names` (DNS names, the first also the CN), signed by this CA, as
    /// `FILE.crt`, `FILE.key` and `FILE.pem` (both) in this CA's directory.
    pub fn leaf(&self, file: &str, names: &[&str]) -> Leaf {
        let base = self.dir.join(file);
        let (crt, key, pem, csr, ext) = (
            base.with_extension("crt"),
            base.with_extension("key"),
            base.with_extension("pem"),
            base.with_extension("csr"),
            base.with_extension("ext"),
        );
        let san: Vec<String> = names.iter().map(|n| format!("DNS:{n}")).collect();
        std::fs::write(&ext, format!("subjectAltName={}\n", san.join(","))).expect("ext file");
        let cn = format!("/CN={}", names[0]);
        let mut args = vec!["req"];
        args.extend(NEW_KEY);
        args.extend(["-subj", &cn, "-keyout", s(&key), "-out", s(&csr)]);
        run("openssl", &args);
        run(
            "openssl",
            &[
                "x509",
                "-req",
                "-in",
                s(&csr),
                "-CA",
                s(&self.ca_file()),
                "-CAkey",
                s(&self.dir.join("ca.key")),
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                s(&ext),
                "-out",
                s(&crt),
            ],
        );
        let both = [std::fs::read(&crt).expect("crt"), std::fs::read(&key).expect("key")].concat();
        std::fs::write(&pem, both).expect("pem");
        Leaf { crt, key, pem }
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
