//! A running Clearway as a value: `serve(runtime, listeners)` starts one event loop per worker
//! thread, as HAProxy runs its threads; `Server::run` gives it the caller's thread as thread 0
//! beside the control plane, and its `Handle` stops it softly. Each thread accepts on its own listening sockets and runs the sessions it accepted,
//! or passes a new client to a less loaded thread (`workers`); a session's client side,
//! server side and timers never wake another thread. Thread 0 also runs the health checks.
//! Owns the threads and their loops; must not read signals or the command line (the binary
//! does, and tells the handle).

use crate::listen::{self, Listener};
use crate::model::Runtime;
use crate::workers::Workers;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// A handle on a running Clearway, for the control plane and the signals.
#[derive(Clone)]
pub struct Handle {
    rt: Arc<Runtime>,
    /// The worker threads' loads, and the hand-off of clients between them.
    workers: Arc<Workers>,
    /// Set on a soft stop: every thread closes its listeners and serves what it has.
    soft_stop: Arc<watch::Sender<bool>>,
}

impl Handle {
    /// The live runtime, for the control plane.
    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.rt
    }

    /// Starts a soft stop (`SIGUSR1`): the listeners close, HTTP/1 connections close after
    /// their response in progress, sessions in progress go on to their end.
    pub fn soft_stop(&self) {
        let _ = self.soft_stop.send(true);
        crate::process::stop_softly();
    }

    /// Sessions in progress, all threads together.
    pub fn sessions(&self) -> usize {
        self.workers.loads().iter().sum()
    }

    /// Returns once no session is left (after a soft stop, the process may then end).
    pub async fn idle(&self) {
        while self.sessions() > 0 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A Clearway whose worker threads 1.. run, and whose thread 0 is the caller's, to be given
/// with `run`. (A process whose only thread serves makes cheaper system calls: the C
/// library skips its thread-cancellation bookkeeping around each one.)
pub struct Server {
    handle: Handle,
    listeners: Vec<Listener>,
    stopping: watch::Receiver<bool>,
    event_loop: tokio::runtime::Runtime,
}

/// Starts serving: one thread per worker thread of `rt` but the first, each with the
/// listeners opened for it; the first is the caller's, in `Server::run`.
pub fn serve(rt: Arc<Runtime>, listeners: Vec<Listener>) -> Result<Server, String> {
    let mut per_thread: Vec<Vec<Listener>> = (0..rt.threads).map(|_| Vec::new()).collect();
    for l in listeners {
        if l.thread == 0 {
            tracing::info!(frontend = %rt.frontends[l.frontend.index()].name, addr = %l.addr, "listening");
        }
        per_thread[l.thread % rt.threads].push(l);
    }
    let event_loop = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the runtime: {e}"))
    };
    let (soft_stop, stopping) = watch::channel(false);
    let workers = Workers::new(rt.threads);
    let mut mine = Vec::new();
    for (i, listeners) in per_thread.into_iter().enumerate() {
        if i == 0 {
            mine = listeners;
            continue;
        }
        let (rt, workers, tokio_rt, stopping) = (rt.clone(), workers.clone(), event_loop()?, stopping.clone());
        std::thread::Builder::new()
            .name(format!("clearway-{i}"))
            .spawn(move || {
                let _span = tracing::error_span!("worker", thread = i).entered();
                bind_cpus(&rt, i);
                tokio_rt.block_on(async move {
                    let mut tasks = start_thread(&rt, &workers, i, listeners, stopping);
                    while tasks.join_next().await.is_some() {}
                    // The accept loops end on a soft stop or a broken listener: keep serving
                    // the sessions in progress.
                    std::future::pending::<()>().await
                })
            })
            .map_err(|e| format!("cannot start worker thread {i}: {e}"))?;
    }
    Ok(Server {
        handle: Handle {
            rt,
            workers,
            soft_stop: Arc::new(soft_stop),
        },
        listeners: mine,
        stopping,
        event_loop: event_loop()?,
    })
}

impl Server {
    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }

    /// Runs worker thread 0 (its listeners, and the health checks) on the calling thread,
    /// beside `until` (the control plane: signals, the runtime API), and returns when `until`
    /// does. The other threads end with the process.
    pub fn run(self, until: impl std::future::Future<Output = ()>) {
        let Server {
            handle,
            listeners,
            stopping,
            event_loop,
        } = self;
        let (rt, workers) = (handle.rt, handle.workers);
        // With several threads, each log line says which one wrote it.
        let _span = (rt.threads > 1).then(|| tracing::error_span!("worker", thread = 0).entered());
        // Last: the threads started before would have inherited this thread's binding.
        bind_cpus(&rt, 0);
        event_loop.block_on(async move {
            let mut tasks = start_thread(&rt, &workers, 0, listeners, stopping);
            let listeners = tasks.len();
            crate::checks::spawn_all(&rt, &mut tasks);
            let checks = tasks.len() - listeners;
            crate::dns::spawn_all(&rt, &mut tasks);
            tracing::info!(
                "clearway {} ready, {listeners} listener(s) on each of {} thread(s), {} health check(s)",
                env!("CARGO_PKG_VERSION"),
                rt.threads,
                checks
            );
            until.await;
            tasks.abort_all();
        });
    }
}

/// Binds worker thread `i` (numbered from 0; `cpu-map` numbers from 1) to its CPUs, if a
/// `cpu-map` line names it; a binding that fails is logged and the thread runs unbound.
fn bind_cpus(rt: &Runtime, i: usize) {
    let Some((cpus, span)) = &rt.thread_cpus[i] else {
        return;
    };
    let list = cpu_list(cpus);
    match clearway_net::process::set_thread_cpus(cpus) {
        Ok(()) => tracing::debug!("thread {} bound to CPU(s) {list} ({span})", i + 1),
        Err(e) => tracing::warn!("{span}: cpu-map: cannot bind thread {} to CPU(s) {list}: {e}", i + 1),
    }
}

/// `0-3,6` for 0, 1, 2, 3 and 6 (sorted or not: runs of consecutive numbers are joined).
fn cpu_list(cpus: &[usize]) -> String {
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for &c in cpus {
        match runs.last_mut() {
            Some((_, end)) if *end + 1 == c => *end = c,
            _ => runs.push((c, c)),
        }
    }
    let run = |&(a, b): &(usize, usize)| if a == b { a.to_string() } else { format!("{a}-{b}") };
    runs.iter().map(run).collect::<Vec<_>>().join(",")
}

/// Starts what every worker thread runs on its own event loop (call it there): the accept
/// loops of its listeners, which the returned set holds, and the tasks that take clients
/// handed over by other threads, sweep idle server connections and, with `busy-polling`,
/// keep the loop from sleeping. An accept loop ends, closing its listener, once `stopping`
/// says so (a soft stop).
fn start_thread(
    rt: &Arc<Runtime>,
    workers: &Arc<Workers>,
    i: usize,
    listeners: Vec<Listener>,
    stopping: watch::Receiver<bool>,
) -> tokio::task::JoinSet<()> {
    clearway_core::thread::set_worker(i);
    let mut tasks = tokio::task::JoinSet::new();
    for l in listeners {
        let mut stopping = stopping.clone();
        let accept = listen::accept_loop(rt.clone(), workers.clone(), l);
        tasks.spawn(async move {
            tokio::select! {
                () = accept => {}
                _ = stopping.wait_for(|s| *s) => {}
            }
        });
    }
    tokio::spawn(listen::serve_handed_over(workers.clone(), i));
    tokio::spawn(crate::http::pool::sweep_every(rt.http_pools(), Duration::from_secs(1)));
    if rt.busy_polling {
        tokio::spawn(busy_poll());
    }
    tasks
}

/// `busy-polling`: a task that is always ready again. While it is queued, the event loop asks
/// the kernel for events without waiting (`epoll_wait` with a zero timeout) between rounds of
/// work instead of sleeping, so a thread never pays for going to sleep and being woken, and
/// neither does the CPU that wakes it; the thread's CPU stays fully busy in exchange.
async fn busy_poll() {
    loop {
        tokio::task::yield_now().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_join_runs() {
        assert_eq!(cpu_list(&[0, 1, 2, 3, 6]), "0-3,6");
        assert_eq!(cpu_list(&[5]), "5");
        assert_eq!(cpu_list(&[1, 3]), "1,3");
    }
}
