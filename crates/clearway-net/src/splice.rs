//! Zero-copy forwarding between two sockets through a kernel pipe (`splice(2)`), and each
//! thread's reserve of empty pipes. Owns the pipes, their count and the splice calls; must not
//! wait for readiness nor know about sessions (the caller does both).

use nix::fcntl::{splice, OFlag, SpliceFFlags};
use std::cell::RefCell;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Pipes that exist, lent or kept in a reserve.
static OPEN: AtomicUsize = AtomicUsize::new(0);
/// At most this many pipes; 0 turns splicing off.
static LIMIT: AtomicUsize = AtomicUsize::new(0);
/// The capacity asked for each pipe.
pub const PIPE_SIZE: usize = 256 * 1024;
/// Empty pipes kept per thread for the next bulk transfer.
const RESERVE: usize = 64;

thread_local! {
    static SPARE: RefCell<Vec<Pipe>> = const { RefCell::new(Vec::new()) };
}

/// Sets how many pipes may exist at once (HAProxy's `maxpipes`, a quarter of `maxconn` by
/// default): each is two descriptors.
pub fn set_limit(n: usize) {
    LIMIT.store(n, Ordering::Relaxed);
}

/// How many pipes exist now (lent or in a reserve).
pub fn open_pipes() -> usize {
    OPEN.load(Ordering::Relaxed)
}

/// How many empty pipes this thread keeps for its next transfers.
pub fn spare_pipes() -> usize {
    SPARE.with(|s| s.borrow().len())
}

/// A kernel pipe, empty whenever it is given back.
#[derive(Debug)]
pub struct Pipe {
    read: OwnedFd,
    write: OwnedFd,
}

impl Pipe {
    /// An empty pipe from this thread's reserve, or a new one; None when the limit is reached
    /// or the system has no descriptor left (the caller copies through its buffer instead).
    pub fn take() -> Option<Pipe> {
        if let Some(p) = SPARE.with(|s| s.borrow_mut().pop()) {
            return Some(p);
        }
        let limit = LIMIT.load(Ordering::Relaxed);
        if OPEN.fetch_add(1, Ordering::Relaxed) >= limit {
            OPEN.fetch_sub(1, Ordering::Relaxed);
            return None;
        }
        match nix::unistd::pipe2(OFlag::O_NONBLOCK | OFlag::O_CLOEXEC) {
            Ok((read, write)) => {
                // Best effort: a larger pipe moves more per call; the default is 64 kB.
                let _ = nix::fcntl::fcntl(write.as_raw_fd(), nix::fcntl::FcntlArg::F_SETPIPE_SZ(PIPE_SIZE as i32));
                Some(Pipe { read, write })
            }
            Err(_) => {
                OPEN.fetch_sub(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// Keeps this pipe for the next transfer. It must be empty: the caller has moved out every
    /// byte it moved in (a pipe with bytes left in it is dropped instead).
    pub fn give_back(self) {
        SPARE.with(|s| {
            let mut s = s.borrow_mut();
            if s.len() < RESERVE {
                s.push(self);
            }
        })
    }

    /// Moves what `from` has ready, up to `max` bytes, into the pipe; Ok(0) is the end of the
    /// stream, WouldBlock that nothing is ready.
    pub fn fill(&self, from: impl AsFd, max: usize) -> io::Result<usize> {
        splice(from, None, &self.write, None, max, flags()).map_err(io::Error::from)
    }

    /// Moves up to `len` bytes from the pipe to `to`; WouldBlock when `to` has no room.
    pub fn drain(&self, to: impl AsFd, len: usize) -> io::Result<usize> {
        splice(&self.read, None, to, None, len, flags()).map_err(io::Error::from)
    }
}

/// Unsent bytes a spliced-to socket may hold: enough to keep the link busy between two
/// wake-ups, without letting megabytes wait in its send queue.
pub const UNSENT_MAX: u32 = 128 * 1024;

/// Readies `to` for a bulk transfer: at most `UNSENT_MAX` written bytes wait there to be
/// sent. Otherwise its send queue grows to the system's limit (megabytes), and the data in
/// flight through the proxy outgrows the caches: the sender's copies into fresh kernel pages
/// then cost several times more. What has been sent and waits for its acknowledgement is not
/// limited, so distant peers are not slowed.
pub fn limit_unsent(to: &impl AsRawFd) -> io::Result<()> {
    crate::sockopt::set_notsent_lowat(to, UNSENT_MAX)
}

/// The limit `limit_unsent` put on `s`; 0 when it has none.
pub fn unsent_limit(s: &impl AsRawFd) -> io::Result<u32> {
    crate::sockopt::notsent_lowat(s)
}

fn flags() -> SpliceFFlags {
    SpliceFFlags::SPLICE_F_MOVE | SpliceFFlags::SPLICE_F_NONBLOCK
}

impl Drop for Pipe {
    fn drop(&mut self) {
        OPEN.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};

    #[test]
    fn moves_bytes_between_sockets_and_respects_the_limit() {
        set_limit(1);
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut a = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (b, _) = l.accept().unwrap();
        let l2 = TcpListener::bind("127.0.0.1:0").unwrap();
        let c = TcpStream::connect(l2.local_addr().unwrap()).unwrap();
        let (mut d, _) = l2.accept().unwrap();
        let p = Pipe::take().expect("a pipe");
        assert!(Pipe::take().is_none(), "the limit is one pipe");
        a.write_all(b"hello").unwrap();
        let mut n = 0;
        while n == 0 {
            n = match p.fill(&b, 1 << 16) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
                Err(e) => panic!("{e}"),
            };
        }
        assert_eq!(n, 5);
        assert_eq!(p.drain(&c, n).unwrap(), 5);
        let mut got = [0u8; 5];
        d.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"hello");
        drop(a);
        // The end of the stream reads as 0.
        let mut eof = None;
        while eof.is_none() {
            eof = p.fill(&b, 1 << 16).ok();
        }
        assert_eq!(eof, Some(0));
        p.give_back();
        assert!(Pipe::take().is_some(), "a pipe given back is lent again");
    }
}
