//! Real servers from Debian's packages, run inside a namespace for one test: Redis,
//! PostgreSQL, MariaDB, nginx (HTTP and TLS). Each lives in its own temporary directory and is
//! stopped and removed on drop. Must not change anything outside that directory.

use crate::netns::{run, unique_name, Netns};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A server process in a namespace, with its directory.
#[derive(Debug)]
pub struct Daemon {
    name: &'static str,
    child: Option<Child>,
    pub dir: PathBuf,
    pub addr: SocketAddr,
}

impl Daemon {
    /// Spawns `program args` in `ns` (stdout/stderr to DIR/log) and waits for it to listen on `addr`.
    fn spawn(name: &'static str, ns: &Netns, dir: PathBuf, addr: SocketAddr, program: &str, args: &[&str]) -> Daemon {
        let log = std::fs::File::create(dir.join("log")).unwrap_or_else(|e| panic!("{name} log: {e}"));
        let err = log.try_clone().unwrap_or_else(|e| panic!("{e}"));
        let child = Command::new("ip")
            .args(["netns", "exec", ns.name(), program])
            .args(args)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
        let mut d = Daemon {
            name,
            child: Some(child),
            dir,
            addr,
        };
        d.wait_listening(ns);
        d
    }

    fn wait_listening(&mut self, ns: &Netns) {
        let until = Instant::now() + Duration::from_secs(30);
        let want = format!("{}", self.addr);
        loop {
            let ss = String::from_utf8_lossy(&ns.exec("ss", &["-Hltn"]).stdout).into_owned();
            if ss.lines().any(|l| l.split_whitespace().nth(3) == Some(want.as_str())) {
                return;
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("{} exited ({status}) before listening:\n{}", self.name, self.log());
            }
            if Instant::now() > until {
                panic!("{} did not listen on {want} within 30 s:\n{}", self.name, self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }

    /// Stops the server (SIGTERM, then SIGKILL after 10 s).
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        // Wrappers (runuser) may not pass signals on: also signal whatever runs from our directory.
        let pattern = self.dir.to_string_lossy().into_owned();
        let _ = Command::new("pkill").args(["-TERM", "-f", &pattern]).status();
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        let _ = Command::new("pkill").args(["-KILL", "-f", &pattern]).status();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(unique_name(tag));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap_or_else(|| panic!("non-UTF-8 path {}", p.display()))
}

/// `redis-server` without persistence.
pub fn redis(ns: &Netns, addr: SocketAddr) -> Daemon {
    let dir = temp_dir("redis");
    let (ip, port) = (addr.ip().to_string(), addr.port().to_string());
    let d = s(&dir).to_string();
    let args = [
        "--bind",
        &ip,
        "--port",
        &port,
        "--save",
        "",
        "--appendonly",
        "no",
        "--protected-mode",
        "no",
        "--dir",
        &d,
    ];
    Daemon::spawn("redis-server", ns, dir, addr, "redis-server", &args)
}

/// The newest PostgreSQL server binary directory of the machine.
fn pg_bin() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .unwrap_or_else(|e| panic!("PostgreSQL is not installed (/usr/lib/postgresql: {e})"))
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("postgres").exists())
        .collect();
    versions.sort();
    versions
        .pop()
        .unwrap_or_else(|| panic!("no PostgreSQL server binary under /usr/lib/postgresql"))
}

/// A PostgreSQL cluster (run as the `postgres` user, which the server requires) trusting every
/// connection, so a health check's StartupMessage is answered by an authentication request.
pub fn postgres(ns: &Netns, addr: SocketAddr) -> Daemon {
    postgres_with_hba(ns, addr, "")
}

/// Like `postgres`, with pg_hba.conf rules placed before the trust-all ones (e.g. a `reject`).
pub fn postgres_with_hba(ns: &Netns, addr: SocketAddr, first_rules: &str) -> Daemon {
    let dir = temp_dir("pg");
    let data = dir.join("data");
    run("chown", &["postgres:postgres", s(&dir)]);
    let bin = pg_bin();
    run(
        "runuser",
        &[
            "-u",
            "postgres",
            "--",
            s(&bin.join("initdb")),
            "-D",
            s(&data),
            "-A",
            "trust",
            "-U",
            "postgres",
        ],
    );
    // initdb trusts local connections only; the checks come from the lb's address.
    let hba = data.join("pg_hba.conf");
    let mut rules = std::fs::read_to_string(&hba).unwrap_or_else(|e| panic!("{}: {e}", hba.display()));
    rules.push_str(first_rules);
    rules.push_str("\nhost all all 0.0.0.0/0 trust\nhost all all ::/0 trust\n");
    std::fs::write(&hba, rules).unwrap_or_else(|e| panic!("{}: {e}", hba.display()));
    let postgres = bin.join("postgres");
    let (ip, port) = (addr.ip().to_string(), addr.port().to_string());
    let args = [
        "-u",
        "postgres",
        "--",
        s(&postgres),
        "-D",
        s(&data),
        "-k",
        s(&dir),
        "-h",
        &ip,
        "-p",
        &port,
    ];
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Daemon::spawn("postgres", ns, dir, addr, "runuser", &args)
}

/// A MariaDB server with a fresh data directory; `sql` runs statements as root over its socket.
pub fn mariadb(ns: &Netns, addr: SocketAddr) -> Daemon {
    let dir = temp_dir("maria");
    let data = dir.join("data");
    run(
        "mariadb-install-db",
        &[
            "--user=root",
            &format!("--datadir={}", s(&data)),
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
        ],
    );
    let (ip, port) = (addr.ip().to_string(), addr.port().to_string());
    let args = [
        "--no-defaults".to_string(),
        "--user=root".to_string(),
        format!("--datadir={}", s(&data)),
        format!("--socket={}", s(&dir.join("sock"))),
        format!("--pid-file={}", s(&dir.join("pid"))),
        format!("--bind-address={ip}"),
        format!("--port={port}"),
        "--skip-name-resolve".to_string(),
        "--innodb-buffer-pool-size=16M".to_string(),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Daemon::spawn("mariadbd", ns, dir, addr, "mariadbd", &args)
}

impl Daemon {
    /// Runs SQL as MariaDB's root over the server's UNIX socket.
    pub fn sql(&self, statements: &str) -> String {
        let sock = self.dir.join("sock");
        let out = run(
            "mariadb",
            &[
                "--no-defaults",
                "-uroot",
                &format!("--socket={}", s(&sock)),
                "-N",
                "-e",
                statements,
            ],
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// nginx answering `200 ok` on `http` and, with a fresh self-signed certificate, on `https`
/// (HTTP/2 offered by ALPN), and HTTP/2 in clear text on the port after `http`'s; `/proto`
/// answers the protocol nginx saw (`HTTP/1.1`, `HTTP/2.0`).
pub fn nginx(ns: &Netns, http: SocketAddr, https: SocketAddr) -> Daemon {
    nginx_with_cert(ns, http, https, None)
}

/// Like `nginx`, serving `https` with the given certificate and key files.
pub fn nginx_with_cert(ns: &Netns, http: SocketAddr, https: SocketAddr, cert: Option<(&Path, &Path)>) -> Daemon {
    let dir = temp_dir("nginx");
    let (crt, key) = match cert {
        Some((c, k)) => (c.to_path_buf(), k.to_path_buf()),
        None => (dir.join("cert.pem"), dir.join("key.pem")),
    };
    if cert.is_none() {
        run(
            "openssl",
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                "/CN=test",
                "-days",
                "1",
                "-keyout",
                s(&key),
                "-out",
                s(&crt),
            ],
        );
    }
    let listen = |a: SocketAddr| {
        if a.is_ipv6() {
            format!("[{}]:{}", a.ip(), a.port())
        } else {
            a.to_string()
        }
    };
    let conf = format!(
        "daemon off; master_process off; user root; pid {d}/nginx.pid; error_log {d}/error.log;\n\
         events {{ worker_connections 64; }}\n\
         http {{ access_log off; client_body_temp_path {d}; proxy_temp_path {d}; fastcgi_temp_path {d};\n\
           uwsgi_temp_path {d}; scgi_temp_path {d};\n\
           server {{ listen {h}; location / {{ return 200 'ok\\n'; }} location /proto {{ return 200 '$server_protocol\\n'; }} }}\n\
           server {{ listen {h2c} http2; location / {{ return 200 'ok\\n'; }} location /proto {{ return 200 '$server_protocol\\n'; }} }}\n\
           server {{ listen {t} ssl http2; ssl_certificate {c}; ssl_certificate_key {k}; location / {{ return 200 'ok\\n'; }}\n\
             location /proto {{ return 200 '$server_protocol\\n'; }} }}\n\
         }}\n",
        d = s(&dir),
        h = listen(http),
        h2c = listen(SocketAddr::new(http.ip(), http.port() + 1)),
        t = listen(https),
        c = s(&crt),
        k = s(&key)
    );
    let conf_path = dir.join("nginx.conf");
    std::fs::write(&conf_path, conf).unwrap_or_else(|e| panic!("{e}"));
    let mut d = Daemon::spawn("nginx", ns, dir, http, "nginx", &["-c", s(&conf_path), "-e", "stderr"]);
    d.addr = https;
    d.wait_listening(ns);
    d.addr = http;
    d
}
