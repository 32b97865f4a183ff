//! Where log lines go: a UDP syslog server, a UNIX datagram socket (`/dev/log`), stdout or
//! stderr, or a syslog server over TCP, each line framed in the target's syslog format
//! (`<134>Dec  6 08:27:37 clearway[6027]: ...`, HAProxy's bytes, one line each, ending with a
//! newline). Sending never waits: a line the socket cannot take now is dropped and counted, as
//! HAProxy drops it. A TCP target has a thread of its own that connects (again after a
//! failure) and writes what a bounded queue holds. Must not format the message itself.

use clearway_config::model::{LogDest, LogTarget, SyslogFormat};
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

/// Lines dropped by every sink (`show info`'s DroppedLogs).
pub static DROPPED: AtomicU64 = AtomicU64::new(0);

enum Socket {
    Udp(std::net::UdpSocket, std::net::SocketAddr),
    Unix(std::os::unix::net::UnixDatagram, std::path::PathBuf),
    Stdout,
    Stderr,
    Tcp(std::net::SocketAddr, std::sync::Mutex<Option<TcpQueue>>),
}

/// The queue to a TCP target's writer thread, and the process that started it: a thread does
/// not survive going to the background (fork), so a new process starts its own.
struct TcpQueue {
    pid: u32,
    tx: std::sync::mpsc::SyncSender<String>,
}

/// Queues `line` for the TCP target `to`, starting its writer when this process has none.
fn queue_tcp(to: std::net::SocketAddr, q: &std::sync::Mutex<Option<TcpQueue>>, line: String) -> std::io::Result<()> {
    let mut q = q.lock().unwrap_or_else(|e| e.into_inner());
    let pid = std::process::id();
    if q.as_ref().is_none_or(|t| t.pid != pid) {
        let (tx, rx) = std::sync::mpsc::sync_channel(TCP_QUEUE);
        std::thread::Builder::new()
            .name("log-tcp".into())
            .spawn(move || tcp_writer(to, rx))?;
        *q = Some(TcpQueue { pid, tx });
    }
    let t = q.as_ref().expect("just set");
    t.tx.try_send(line).map_err(|_| std::io::ErrorKind::WouldBlock.into())
}

/// Lines waiting for a TCP target (HAProxy's implicit ring holds about as many).
const TCP_QUEUE: usize = 4096;

/// The thread writing a TCP target's lines: connects, writes, and after a failure waits a
/// second and connects again; lines queued meanwhile wait, those beyond the queue are dropped.
fn tcp_writer(to: std::net::SocketAddr, lines: std::sync::mpsc::Receiver<String>) {
    let mut conn: Option<std::net::TcpStream> = None;
    let mut pending: Option<String> = None;
    loop {
        let line = match pending.take() {
            Some(l) => l,
            None => match lines.recv() {
                Ok(l) => l,
                Err(_) => return,
            },
        };
        if conn.is_none() {
            match std::net::TcpStream::connect_timeout(&to, std::time::Duration::from_secs(2)) {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    conn = Some(s);
                }
                Err(_) => {
                    // Keep this line for the next try; the queue holds the others.
                    pending = Some(line);
                    std::thread::sleep(std::time::Duration::from_secs(1));
                    continue;
                }
            }
        }
        if let Some(s) = conn.as_mut() {
            if s.write_all(line.as_bytes()).is_err() {
                conn = None;
                DROPPED.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// One `log` line's destination, opened.
pub struct Sink {
    socket: Socket,
    format: SyslogFormat,
    facility: u8,
    /// The least severe level sent, and the most severe level written.
    level: u8,
    minlevel: u8,
    len: usize,
    /// `sample`: the lines this target takes, and the count of lines offered so far.
    sample: Option<(clearway_config::model::LogSample, AtomicU64)>,
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("log::Sink")
    }
}

impl Sink {
    /// Opens a target's socket (a TCP target's writer starts with its first line).
    pub fn open(t: &LogTarget) -> std::io::Result<Sink> {
        let socket = match &t.dest {
            LogDest::Udp(addr) => {
                let bind: std::net::SocketAddr = if addr.is_ipv6() {
                    "[::]:0".parse().expect("an address")
                } else {
                    "0.0.0.0:0".parse().expect("an address")
                };
                let s = std::net::UdpSocket::bind(bind)?;
                s.set_nonblocking(true)?;
                Socket::Udp(s, *addr)
            }
            LogDest::Unix(path) => {
                let s = std::os::unix::net::UnixDatagram::unbound()?;
                s.set_nonblocking(true)?;
                Socket::Unix(s, path.clone())
            }
            LogDest::Stdout => Socket::Stdout,
            LogDest::Stderr => Socket::Stderr,
            LogDest::Tcp(a) => Socket::Tcp(*a, std::sync::Mutex::new(None)),
        };
        Ok(Sink {
            socket,
            format: t.format,
            facility: t.facility,
            level: t.level,
            minlevel: t.minlevel,
            len: t.len.unwrap_or(1024),
            sample: t.sample.clone().map(|s| (s, AtomicU64::new(0))),
        })
    }

    /// Whether the next line offered is one `sample` keeps (each line of a level this target
    /// takes counts, as HAProxy counts them).
    fn sampled(&self) -> bool {
        let Some((s, n)) = &self.sample else { return true };
        let at = (n.fetch_add(1, Ordering::Relaxed) % u64::from(s.size)) as u32 + 1;
        s.ranges.iter().any(|&(low, high)| (low..=high).contains(&at))
    }

    /// Sends `msg` at syslog `level` (6 info, 3 err, ...), unless the target takes only more
    /// severe lines. `tag` is the program name, `host` the name `log-send-hostname` gives.
    pub fn send(&self, level: u8, tag: &str, host: Option<&str>, msg: &str) {
        if level > self.level || !self.sampled() {
            return;
        }
        let level = level.max(self.minlevel);
        let mut line = String::with_capacity(msg.len() + 64);
        frame(
            &mut line,
            self.format,
            self.facility,
            level,
            tag,
            host,
            SystemTime::now(),
        );
        line.push_str(msg);
        // Cut to `len` on a character boundary, then end with a newline, as HAProxy does.
        if line.len() > self.len.saturating_sub(1) {
            let mut cut = self.len.saturating_sub(1);
            while !line.is_char_boundary(cut) {
                cut -= 1;
            }
            line.truncate(cut);
        }
        line.push('\n');
        let sent = match &self.socket {
            Socket::Udp(s, to) => s.send_to(line.as_bytes(), to).map(drop),
            Socket::Unix(s, to) => s.send_to(line.as_bytes(), to).map(drop),
            Socket::Stdout => std::io::stdout().lock().write_all(line.as_bytes()),
            Socket::Stderr => std::io::stderr().lock().write_all(line.as_bytes()),
            Socket::Tcp(to, q) => queue_tcp(*to, q, line),
        };
        if sent.is_err() {
            DROPPED.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The syslog header of a line, as HAProxy writes each format.
fn frame(out: &mut String, f: SyslogFormat, facility: u8, level: u8, tag: &str, host: Option<&str>, now: SystemTime) {
    use std::fmt::Write;
    let pri = u32::from(facility) * 8 + u32::from(level);
    let pid = std::process::id();
    match f {
        SyslogFormat::Rfc3164 | SyslogFormat::Local => {
            out.push('<');
            super::format::push_num(out, pri);
            out.push('>');
            super::time::syslog_date(out, now);
            out.push(' ');
            if let (SyslogFormat::Rfc3164, Some(h)) = (f, host) {
                out.push_str(h);
                out.push(' ');
            }
            out.push_str(tag);
            out.push('[');
            super::format::push_num(out, pid);
            out.push_str("]: ");
        }
        SyslogFormat::Rfc5424 => {
            let _ = write!(out, "<{pri}>1 ");
            super::time::iso_date(out, now);
            let _ = write!(out, " {} {tag} {pid} - - ", host.unwrap_or("-"));
        }
        SyslogFormat::Short | SyslogFormat::Priority => {
            let _ = write!(out, "<{pri}>");
        }
        SyslogFormat::Timed => {
            let _ = write!(out, "<{pri}>");
            super::time::syslog_date(out, now);
            out.push(' ');
        }
        SyslogFormat::Iso => {
            super::time::iso_date(out, now);
            out.push(' ');
        }
        SyslogFormat::Raw => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_follow_each_format() {
        let now = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_796_545_801);
        let pid = std::process::id();
        let mut s = String::new();
        frame(&mut s, SyslogFormat::Rfc3164, 16, 6, "clearway", None, now);
        assert!(
            s.starts_with("<134>Dec  6 ") && s.ends_with(&format!(" clearway[{pid}]: ")),
            "{s}"
        );
        s.clear();
        frame(&mut s, SyslogFormat::Rfc3164, 16, 6, "cw", Some("lb1"), now);
        assert!(s.ends_with(&format!(" lb1 cw[{pid}]: ")), "{s}");
        s.clear();
        frame(&mut s, SyslogFormat::Rfc5424, 16, 3, "cw", None, now);
        assert!(
            s.starts_with("<131>1 2026-12-0") && s.ends_with(&format!(" - cw {pid} - - ")),
            "{s}"
        );
        s.clear();
        frame(&mut s, SyslogFormat::Short, 1, 7, "cw", None, now);
        assert_eq!(s, "<15>");
        s.clear();
        frame(&mut s, SyslogFormat::Raw, 1, 7, "cw", None, now);
        assert_eq!(s, "");
    }

    #[test]
    fn a_tcp_target_gets_each_line_and_survives_its_receiver_going_away() {
        use std::io::BufRead;
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let t = LogTarget {
            span: clearway_config::model::Span {
                file: "t".into(),
                line: 1,
            },
            dest: LogDest::Tcp(l.local_addr().unwrap()),
            len: None,
            format: SyslogFormat::Rfc3164,
            facility: 16,
            level: 6,
            minlevel: 0,
            sample: None,
        };
        let sink = Sink::open(&t).unwrap();
        sink.send(6, "cw", None, "first");
        sink.send(3, "cw", None, "second");
        let (c, _) = l.accept().unwrap();
        c.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
        let mut r = std::io::BufReader::new(c);
        let mut got = Vec::new();
        for _ in 0..2 {
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            got.push(line);
        }
        assert!(got[0].starts_with("<134>") && got[0].ends_with("]: first\n"), "{got:?}");
        assert!(
            got[1].starts_with("<131>") && got[1].ends_with("]: second\n"),
            "{got:?}"
        );
        // The receiver restarts: the writer connects again.
        drop(r);
        sink.send(6, "cw", None, "lost or not");
        let (c, _) = loop {
            sink.send(6, "cw", None, "again");
            l.set_nonblocking(true).unwrap();
            match l.accept() {
                Ok(c) => break c,
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(100)),
            }
        };
        c.set_nonblocking(false).unwrap();
        c.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
        let mut line = String::new();
        std::io::BufReader::new(c).read_line(&mut line).unwrap();
        assert!(line.contains("]: "), "{line}");
    }

    #[test]
    fn a_line_is_cut_to_its_length_and_ends_with_a_newline() {
        let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let t = LogTarget {
            span: clearway_config::model::Span {
                file: "t".into(),
                line: 1,
            },
            dest: LogDest::Udp(rx.local_addr().unwrap()),
            len: Some(100),
            format: SyslogFormat::Raw,
            facility: 16,
            level: 6,
            minlevel: 0,
            sample: None,
        };
        let sink = Sink::open(&t).unwrap();
        sink.send(7, "cw", None, "debug is above this target's level");
        sink.send(6, "cw", None, &"x".repeat(300));
        let mut buf = [0u8; 512];
        let n = rx.recv(&mut buf).unwrap();
        assert_eq!(n, 100);
        assert_eq!(buf[n - 1], b'\n');
        assert_eq!(buf[0], b'x', "the debug line was not sent");
    }
}
