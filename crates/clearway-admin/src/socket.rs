//! The stats socket (`stats socket` in `global`): HAProxy's runtime API on a UNIX or TCP
//! socket, as `socat` and hatop speak it. A connection sends a line of commands separated by
//! `;`; each answer is followed by an empty line. Without `prompt` the connection closes once
//! the lines it sent are answered; with `prompt` it stays, showing `> `, until `quit` or
//! `stats timeout`. The sockets are opened at start-up (before privileges are dropped) and
//! served on an event loop the caller gives (worker thread 0's).

use clearway_config::model::{self, StatsAddr, StatsLevel};
use clearway_proxy::control::{self, Level};
use clearway_proxy::Runtime;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};

/// A command line longer than this closes the connection (HAProxy's buffer is 16 kB).
const MAX_LINE: usize = 16 * 1024;

/// One opened stats socket and the level it grants.
enum Opened {
    Unix(std::os::unix::net::UnixListener, String),
    Tcp(std::net::TcpListener),
}

/// The opened stats sockets of a configuration.
pub struct StatsSockets {
    sockets: Vec<(Opened, Level)>,
    timeout: Duration,
    maxconn: usize,
}

fn level(l: StatsLevel) -> Level {
    match l {
        StatsLevel::User => Level::User,
        StatsLevel::Operator => Level::Operator,
        StatsLevel::Admin => Level::Admin,
    }
}

impl StatsSockets {
    /// Opens every `stats socket` of `cfg`. A UNIX socket is made under a temporary name,
    /// given its mode and owner, then renamed over the configured path, so a client never
    /// finds a socket with the wrong permissions (nor an old one that nobody serves).
    pub fn open(cfg: &model::Config) -> Result<StatsSockets, String> {
        let mut sockets = Vec::new();
        for s in &cfg.global.stats_sockets {
            let err = |e: std::io::Error| format!("{}: stats socket: {e}", s.span);
            let opened = match &s.address {
                StatsAddr::Unix(path) => {
                    let tmp = path.with_file_name(format!(
                        "{}.{}.tmp",
                        path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default(),
                        std::process::id()
                    ));
                    let _ = std::fs::remove_file(&tmp);
                    let l = std::os::unix::net::UnixListener::bind(&tmp)
                        .map_err(|e| format!("{}: stats socket: cannot bind {}: {e}", s.span, path.display()))?;
                    let owned = || -> std::io::Result<()> {
                        if let Some(mode) = s.mode {
                            use std::os::unix::fs::PermissionsExt;
                            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode))?;
                        }
                        if s.user.is_some() || s.group.is_some() || s.uid.is_some() || s.gid.is_some() {
                            let d =
                                clearway_net::privileges::resolve(s.user.as_deref(), s.group.as_deref(), s.uid, s.gid)?;
                            // `user` names the owner only; the group changes when one is named.
                            let gid = if s.group.is_some() || s.gid.is_some() {
                                d.gid
                            } else {
                                None
                            };
                            std::os::unix::fs::chown(&tmp, d.uid, gid)?;
                        }
                        std::fs::rename(&tmp, path)
                    };
                    if let Err(e) = owned() {
                        let _ = std::fs::remove_file(&tmp);
                        return Err(err(e));
                    }
                    l.set_nonblocking(true).map_err(err)?;
                    Opened::Unix(l, path.display().to_string())
                }
                StatsAddr::Fd(fd) => {
                    let l = clearway_net::listen::inherited(*fd, 1)
                        .map_err(|e| format!("{}: stats socket: fd@{fd}: {e}", s.span))?;
                    Opened::Tcp(
                        l.into_iter()
                            .next()
                            .ok_or_else(|| format!("{}: stats socket: fd@{fd}", s.span))?,
                    )
                }
                StatsAddr::Tcp(addr) => {
                    let l = std::net::TcpListener::bind(addr)
                        .map_err(|e| format!("{}: stats socket: cannot bind {addr}: {e}", s.span))?;
                    l.set_nonblocking(true).map_err(err)?;
                    Opened::Tcp(l)
                }
            };
            sockets.push((opened, level(s.level)));
        }
        Ok(StatsSockets {
            sockets,
            timeout: cfg.global.stats_timeout.unwrap_or(Duration::from_secs(10)),
            maxconn: cfg.global.stats_maxconn.unwrap_or(10).max(1) as usize,
        })
    }

    /// Serves every socket (on the current event loop) until the process ends.
    pub async fn serve(self, rt: Arc<Runtime>) {
        let limit = Arc::new(tokio::sync::Semaphore::new(self.maxconn));
        let mut tasks = tokio::task::JoinSet::new();
        for (opened, lvl) in self.sockets {
            let conf = Conf {
                rt: rt.clone(),
                limit: limit.clone(),
                level: lvl,
                timeout: self.timeout,
            };
            let started = match opened {
                Opened::Unix(l, path) => {
                    tokio::net::UnixListener::from_std(l).map(|l| tasks.spawn(accept(conf, path, l)))
                }
                Opened::Tcp(l) => tokio::net::TcpListener::from_std(l).map(|l| {
                    let name = l.local_addr().map(|a| a.to_string()).unwrap_or_default();
                    tasks.spawn(accept(conf, name, l))
                }),
            };
            if let Err(e) = started {
                tracing::error!("stats socket: {e}");
            }
        }
        while tasks.join_next().await.is_some() {}
    }
}

/// What every connection to one socket shares.
struct Conf {
    rt: Arc<Runtime>,
    limit: Arc<tokio::sync::Semaphore>,
    level: Level,
    timeout: Duration,
}

/// A listening socket of either kind.
trait Accept: Send + 'static {
    type Conn: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    fn accept(&self) -> impl std::future::Future<Output = std::io::Result<Self::Conn>> + Send;
}

impl Accept for tokio::net::UnixListener {
    type Conn = tokio::net::UnixStream;
    async fn accept(&self) -> std::io::Result<Self::Conn> {
        tokio::net::UnixListener::accept(self).await.map(|(c, _)| c)
    }
}

impl Accept for tokio::net::TcpListener {
    type Conn = tokio::net::TcpStream;
    async fn accept(&self) -> std::io::Result<Self::Conn> {
        tokio::net::TcpListener::accept(self).await.map(|(c, _)| c)
    }
}

/// Accepts on one socket, up to `stats maxconn` connections at once, forever.
async fn accept<L: Accept>(c: Conf, name: String, l: L) {
    tracing::info!("runtime API on {name} (level {})", c.level.word());
    loop {
        let Ok(permit) = c.limit.clone().acquire_owned().await else {
            return;
        };
        match l.accept().await {
            Ok(conn) => {
                tokio::spawn(session(c.rt.clone(), conn, c.level, c.timeout, permit));
            }
            Err(e) => accept_failed(&name, e).await,
        }
    }
}

async fn accept_failed(name: &str, e: std::io::Error) {
    tracing::warn!("stats socket {name}: accept failed: {e}");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// One connection: lines of commands until the client is answered (or, with `prompt`,
/// until `quit`), or `timeout` passes without a line.
async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    rt: Arc<Runtime>,
    stream: S,
    level: Level,
    timeout: Duration,
    _permit: tokio::sync::OwnedSemaphorePermit,
) {
    let mut io = BufReader::new(stream);
    let mut cli = control::Cli::at(level);
    let mut interactive = false;
    let mut line = Vec::new();
    loop {
        line.clear();
        let mut limited = (&mut io).take(MAX_LINE as u64 + 1);
        let read = limited.read_until(b'\n', &mut line);
        match tokio::time::timeout(timeout, read).await {
            Ok(Ok(0)) | Err(_) | Ok(Err(_)) => return,
            Ok(Ok(_)) => {}
        }
        if line.len() > MAX_LINE {
            let _ = io.write_all(b"Command line too long.\n").await;
            return;
        }
        let text = String::from_utf8_lossy(&line);
        let mut out = String::new();
        let mut quit = false;
        for words in control::split(&text) {
            let answer = match control::parse(&words) {
                Ok(cmd) => {
                    let o = control::execute(&rt, &cmd, &mut cli);
                    interactive ^= o.prompt;
                    quit |= o.quit;
                    o.answer
                }
                Err(e) => format!("{e}\n"),
            };
            if quit {
                break;
            }
            out.push_str(&answer);
            out.push('\n');
        }
        if interactive && !quit {
            out.push_str("> ");
        }
        if io.write_all(out.as_bytes()).await.is_err() || quit {
            return;
        }
        // Without `prompt`, the lines already sent are answered, then the connection closes.
        if !interactive && io.buffer().is_empty() {
            let _ = io.shutdown().await;
            return;
        }
    }
}
