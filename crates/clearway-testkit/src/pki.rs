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
        self.leaf_subject(file, &format!("/CN={}", names[0]), names)
    }

    /// Like `leaf`, with the subject `subject` (`/C=FR/O=Org/CN=name`), e.g. for client
    /// certificates.
    pub fn leaf_subject(&self, file: &str, subject: &str, names: &[&str]) -> Leaf {
        self.leaf_days(file, subject, names, "2")
    }

    /// Like `leaf_subject`, already expired (its validity ended a day ago).
    pub fn expired(&self, file: &str, subject: &str, names: &[&str]) -> Leaf {
        self.leaf_days(file, subject, names, "-1")
    }

    fn leaf_days(&self, file: &str, subject: &str, names: &[&str], days: &str) -> Leaf {
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
        let mut args = vec!["req"];
        args.extend(NEW_KEY);
        args.extend(["-subj", subject, "-keyout", s(&key), "-out", s(&csr)]);
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
                days,
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

impl Pki {
    /// A revocation list from this CA naming `revoked`, as `crl.pem` (made with `openssl ca
    /// -gencrl` over a throw-away CA database).
    pub fn crl(&self, revoked: &[&Leaf]) -> PathBuf {
        let db = self.dir.join("index.txt");
        let mut index = String::new();
        for l in revoked {
            let out = std::process::Command::new("openssl")
                .args([
                    "x509",
                    "-noout",
                    "-serial",
                    "-subject",
                    "-nameopt",
                    "compat",
                    "-in",
                    s(&l.crt),
                ])
                .output()
                .expect("openssl x509");
            let text = String::from_utf8_lossy(&out.stdout);
            let field = |k: &str| {
                text.lines()
                    .find_map(|line| line.strip_prefix(k))
                    .unwrap_or_default()
                    .trim()
                    .to_string()
            };
            index.push_str(&format!(
                "R\t391231235959Z\t240101000000Z\t{}\tunknown\t{}\n",
                field("serial="),
                field("subject=")
            ));
        }
        std::fs::write(&db, index).expect("index.txt");
        std::fs::write(self.dir.join("crlnumber"), "01\n").expect("crlnumber");
        let cnf = self.dir.join("ca.cnf");
        std::fs::write(
            &cnf,
            format!(
                "[ca]\ndefault_ca = d\n[d]\ndatabase = {}\ncrlnumber = {}\ndefault_md = sha256\ndefault_crl_days = 2\n",
                db.display(),
                self.dir.join("crlnumber").display()
            ),
        )
        .expect("ca.cnf");
        let crl = self.dir.join("crl.pem");
        run(
            "openssl",
            &[
                "ca",
                "-gencrl",
                "-config",
                s(&cnf),
                "-keyfile",
                s(&self.dir.join("ca.key")),
                "-cert",
                s(&self.ca_file()),
                "-out",
                s(&crl),
            ],
        );
        crl
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
