//! The bench lab: the client / lb / server namespaces (the test topology), the servers behind
//! the proxies (nginx with a small fixed response, an iperf3 server) and where every process
//! runs (CPU pinning). Owns starting and stopping them; must not measure.

use clearway_testkit::Topology;
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

pub const SERVER: &str = "198.51.100.10";
pub const LB: &str = "192.0.2.1";
pub const VIP: &str = "203.0.113.80";

/// A child process killed on drop.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub struct Lab {
    pub topo: Topology,
    pub dir: PathBuf,
    _servers: Vec<Proc>,
}

/// `taskset -c CPUS PROGRAM ARGS...` when `cpus` is given, else the program itself.
pub fn pinned(cpus: Option<&str>, program: &str, args: &[&str]) -> (String, Vec<String>) {
    match cpus {
        Some(c) => (
            "taskset".to_string(),
            ["-c", c, program].iter().chain(args).map(|s| s.to_string()).collect(),
        ),
        None => (program.to_string(), args.iter().map(|s| s.to_string()).collect()),
    }
}

/// Waits until something listens on `addr`, seen from `ns`; false after 20 s.
pub fn port_open(ns: &clearway_testkit::Netns, addr: SocketAddr) -> bool {
    let until = Instant::now() + Duration::from_secs(20);
    while Instant::now() < until {
        if ns.enter(|| TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Like `port_open`, panicking with `what` when nothing listens.
pub fn wait_port(ns: &clearway_testkit::Netns, addr: SocketAddr, what: &str) {
    assert!(port_open(ns, addr), "{what} does not listen on {addr}");
}

impl Lab {
    /// Builds the namespaces, the kernel recipe for transparent proxying in the lb, and the
    /// servers (pinned to `server_cpus`).
    pub fn new(server_cpus: Option<&str>) -> Lab {
        let topo = Topology::new("bench");
        topo.apply_manual_tproxy();
        // A client opening tens of thousands of connections a second would otherwise run out
        // of ports to the same address within a minute (its TIME_WAITs), whichever proxy is
        // measured: the usual tuning of a load-generating host, for the client and for the
        // proxies' connections to the servers alike.
        for ns in [&topo.client, &topo.lb] {
            ns.sh("sysctl -qw net.ipv4.tcp_tw_reuse=1 net.ipv4.ip_local_port_range='1024 65000'");
        }
        let dir = std::env::temp_dir().join(clearway_testkit::netns::unique_name("bench"));
        std::fs::create_dir_all(&dir).expect("bench dir");
        let d = dir.display();
        let conf = format!(
            "daemon off; master_process off; worker_processes 1; user root; pid {d}/nginx.pid;\n\
             error_log {d}/nginx.err; worker_rlimit_nofile 65536;\n\
             events {{ worker_connections 30000; }}\n\
             http {{ access_log off; keepalive_requests 100000000; keepalive_timeout 300s;\n\
               client_body_temp_path {d}; proxy_temp_path {d}; fastcgi_temp_path {d}; uwsgi_temp_path {d};\n\
               scgi_temp_path {d};\n\
               server {{ listen {SERVER}:80 backlog=4096; location / {{ return 200 'a small fixed answer of 40 bytes......\\n'; }} }}\n\
             }}\n"
        );
        let conf_path = dir.join("nginx.conf");
        std::fs::write(&conf_path, conf).expect("nginx.conf");
        let conf_s = conf_path.display().to_string();
        let (p, a) = pinned(server_cpus, "nginx", &["-c", &conf_s, "-e", "stderr"]);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let nginx = Proc(topo.server.spawn(&p, &a));
        let (p, a) = pinned(server_cpus, "iperf3", &["-s", "-B", SERVER, "-p", "5201"]);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let iperf = Proc(
            std::process::Command::new("ip")
                .args(["netns", "exec", topo.server.name(), &p])
                .args(&a)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("iperf3 -s"),
        );
        wait_port(&topo.client, format!("{SERVER}:80").parse().unwrap(), "nginx");
        wait_port(&topo.client, format!("{SERVER}:5201").parse().unwrap(), "iperf3");
        Lab {
            topo,
            dir,
            _servers: vec![nginx, iperf],
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
