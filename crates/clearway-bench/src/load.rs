//! Load generators and what they report: wrk for request rates and saturated latency, iperf3
//! for bulk throughput, a fixed-rate client of our own for latency at a moderate rate, and
//! idle connections for memory. Owns running them in the client namespace and parsing their
//! output; must not start or judge proxies.

use crate::lab::{pinned, Lab};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// What one wrk run measured.
#[derive(Debug, Clone, Copy, Default)]
pub struct Wrk {
    pub requests: u64,
    pub rate: f64,
    pub errors: u64,
    /// Latency percentiles in microseconds.
    pub p50: f64,
    pub p99: f64,
    pub p999: f64,
}

const WRK_SCRIPT: &str = r#"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("CWBENCH requests=%d duration_us=%d errors=%d p50=%d p99=%d p999=%d\n",
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9)))
end
"#;

/// `wrk` with `conns` connections for `secs` seconds against `addr`, one thread per client CPU.
pub fn wrk(lab: &Lab, cpus: Option<&str>, addr: &str, conns: u32, secs: u32, close: bool) -> Wrk {
    let script = lab.dir.join("report.lua");
    if !script.exists() {
        std::fs::write(&script, WRK_SCRIPT).expect("wrk script");
    }
    let threads = cpus.map_or(2, |c| c.split(',').count()).min(conns as usize).to_string();
    let (c, d, s, url) = (
        conns.to_string(),
        format!("{secs}s"),
        script.display().to_string(),
        format!("http://{addr}/"),
    );
    let mut args = vec!["-t", &threads, "-c", &c, "-d", &d, "--timeout", "10s", "-s", &s];
    if close {
        args.extend(["-H", "Connection: close"]);
    }
    args.push(&url);
    let (p, a) = pinned(cpus, "wrk", &args);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let out = lab.topo.client.exec(&p, &a);
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.starts_with("CWBENCH")).unwrap_or_else(|| {
        panic!(
            "wrk gave no result for {url}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let field = |k: &str| -> f64 {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{k}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    let requests = field("requests");
    let secs = field("duration_us") / 1e6;
    Wrk {
        requests: requests as u64,
        rate: if secs > 0.0 { requests / secs } else { 0.0 },
        errors: field("errors") as u64,
        p50: field("p50"),
        p99: field("p99"),
        p999: field("p999"),
    }
}

/// `iperf3` with `streams` parallel streams: received Gbit/s.
pub fn iperf(lab: &Lab, cpus: Option<&str>, addr: &str, streams: u32, secs: u32) -> f64 {
    let (host, port) = addr.rsplit_once(':').expect("host:port");
    let (p, t) = (streams.to_string(), secs.to_string());
    let (prog, a) = pinned(cpus, "iperf3", &["-c", host, "-p", port, "-t", &t, "-P", &p, "-J"]);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let out = lab.topo.client.exec(&prog, &a);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let bps = v["end"]["sum_received"]["bits_per_second"].as_f64().unwrap_or(0.0);
    if bps == 0.0 {
        eprintln!(
            "iperf3 to {addr} gave no result: {}",
            v["error"].as_str().unwrap_or(&String::from_utf8_lossy(&out.stderr))
        );
    }
    bps / 1e9
}

/// Latency percentiles (µs) at a fixed request rate over `conns` kept-alive connections,
/// measured from each request's scheduled time (so a stall counts for every request it delays).
pub fn fixed_rate(lab: &Lab, addr: &str, rate: u32, conns: u32, secs: u32) -> (f64, f64, f64) {
    let addr: SocketAddr = addr.parse().expect("addr");
    let per_conn = Duration::from_secs_f64(f64::from(conns) / f64::from(rate));
    let mut all: Vec<u32> = lab.topo.client.enter(move || {
        let handles: Vec<_> = (0..conns)
            .map(|i| {
                std::thread::spawn(move || {
                    let mut lat = Vec::new();
                    let Ok(s) = TcpStream::connect_timeout(&addr, Duration::from_secs(5)) else {
                        return lat;
                    };
                    let _ = s.set_nodelay(true);
                    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
                    let mut w = s.try_clone().expect("clone");
                    let mut r = BufReader::new(s);
                    let start = Instant::now() + per_conn.mul_f64(f64::from(i) / f64::from(conns));
                    let end = start + Duration::from_secs(u64::from(secs));
                    let mut k = 0u32;
                    loop {
                        let due = start + per_conn * k;
                        if due >= end {
                            break;
                        }
                        if let Some(wait) = due.checked_duration_since(Instant::now()) {
                            std::thread::sleep(wait);
                        }
                        if w.write_all(b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n").is_err() || !read_response(&mut r) {
                            break;
                        }
                        lat.push(due.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
                        k += 1;
                    }
                    lat
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    });
    all.sort_unstable();
    let pct = |p: f64| -> f64 {
        if all.is_empty() {
            return 0.0;
        }
        let i = ((p / 100.0) * (all.len() - 1) as f64).round() as usize;
        f64::from(all[i.min(all.len() - 1)])
    };
    (pct(50.0), pct(99.0), pct(99.9))
}

fn read_response(r: &mut BufReader<TcpStream>) -> bool {
    let mut len = 0usize;
    let mut line = String::new();
    loop {
        line.clear();
        match r.read_line(&mut line) {
            Ok(0) | Err(_) => return false,
            Ok(_) => {}
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).is_ok()
}

/// Opens `n` idle connections to `addr` from the client namespace and keeps them until the
/// returned guard is dropped.
pub fn idle_connections(lab: &Lab, addr: &str, n: u32) -> Vec<TcpStream> {
    let addr: SocketAddr = addr.parse().expect("addr");
    lab.topo.client.enter(move || {
        (0..n)
            .filter_map(|_| TcpStream::connect_timeout(&addr, Duration::from_secs(5)).ok())
            .collect()
    })
}
