//! Process-wide serving state that every layer may read: whether a soft stop has begun, and
//! the clock of the statistics. Owns only these two facts; must not stop anything itself.

/// Set once a soft stop begins (`SIGUSR1`): an HTTP/1 connection then closes after the
/// response in progress (saying `Connection: close`) instead of waiting for another request,
/// as HAProxy's connections do when it stops.
static STOPPING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Begins a soft stop for the sessions (the listeners are the caller's to close).
pub fn stop_softly() {
    STOPPING.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// Whether a soft stop has begun.
pub fn stopping() -> bool {
    STOPPING.load(std::sync::atomic::Ordering::Relaxed)
}

/// When the process started serving (the first runtime built).
static STARTED: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

/// Seconds since the first runtime was built: the clock of the statistics' state changes.
pub fn uptime_secs() -> u64 {
    STARTED.get_or_init(std::time::Instant::now).elapsed().as_secs()
}
