//! A connection's one timer, looked at rather than polled on every wake-up: a tokio `Sleep`
//! together with the waker a poll last left with it. Owns when the `Sleep` needs polling and
//! how a deadline is kept; must not choose deadlines or know what firing means (its callers do).

use std::future::Future;
use std::ops::DerefMut;
use std::pin::Pin;
use std::task::{Context, Waker};
use tokio::time::{Instant, Sleep};

/// A `Sleep` behind any pinned pointer (`Box<Sleep>` kept in a connection, or `&mut Sleep`
/// pinned on a session's stack), and the waker it holds.
///
/// Polling a `Sleep` registers the caller's waker with the timer wheel each time, about 120
/// instructions. A task polled with the same waker as last time needs none of that: a look at
/// whether the timer left the wheel is enough until it fires. The `Sleep` is polled again
/// when that cannot be known: after a reset, when the last poll was refused for want of
/// tokio's cooperative budget (it then left no waker), or when the caller's waker is another
/// one (a future passed between tasks, or polled through a combinator with wakers of its own).
/// A timer found polled by another task once keeps no waker from then on: its connection
/// moves between tasks (a pooled server connection serves one client, then another), so
/// the waker kept would mostly be stale, and keeping it costs a clone per poll.
pub(crate) struct Timer<P> {
    sleep: Pin<P>,
    /// The waker the last registering poll left with the timer; `None` when not known.
    held: Option<Waker>,
    /// Polled by another task than the one whose waker it held: keep no waker.
    moves: bool,
}

impl<P: DerefMut<Target = Sleep>> Timer<P> {
    pub(crate) fn new(sleep: Pin<P>) -> Self {
        Timer {
            sleep,
            held: None,
            moves: false,
        }
    }

    pub(crate) fn deadline(&self) -> Instant {
        self.sleep.deadline()
    }

    /// Sets the timer to fire at `at`, earlier or later.
    pub(crate) fn reset(&mut self, at: Instant) {
        self.sleep.as_mut().reset(at);
        self.held = None;
    }

    /// Whether the timer has fired; if not, it will wake `cx`'s task when it does.
    #[inline(always)]
    pub(crate) fn fired(&mut self, cx: &mut Context<'_>) -> bool {
        if let Some(w) = &self.held {
            if w.will_wake(cx.waker()) {
                return self.sleep.is_elapsed();
            }
            self.moves = true;
            self.held = None;
        }
        self.poll(cx)
    }

    /// Polls the `Sleep`, which registers `cx`'s waker, and keeps that waker if it was.
    fn poll(&mut self, cx: &mut Context<'_>) -> bool {
        let budget = tokio::task::coop::has_budget_remaining();
        if self.sleep.as_mut().poll(cx).is_ready() {
            return true;
        }
        self.held = (budget && !self.moves).then(|| cx.waker().clone());
        false
    }

    /// Polls for the deadline `at`: whether it has passed. A deadline earlier than the timer's
    /// moves the timer; a later one (each request's limits start later than the last's) leaves
    /// it where it is, and is looked at when the timer fires. So a connection in use does not
    /// take its timer out of the wheel and put it back on every request.
    pub(crate) fn poll_until(&mut self, cx: &mut Context<'_>, at: Instant) -> bool {
        if self.deadline() > at {
            self.reset(at);
        }
        while self.fired(cx) {
            if Instant::now() >= at {
                return true;
            }
            // It fired for an earlier deadline that no longer applies.
            self.reset(at);
        }
        false
    }
}

/// The timer kept with a connection, made on its first deadline.
pub(crate) type Kept = Option<Timer<Box<Sleep>>>;

/// Polls a connection's kept timer for the deadline `at` (see `Timer::poll_until`), making it
/// on first use.
pub(crate) fn poll_kept(kept: &mut Kept, cx: &mut Context<'_>, at: Instant) -> bool {
    kept.get_or_insert_with(|| Timer::new(Box::pin(tokio::time::sleep_until(at))))
        .poll_until(cx, at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::Wake;
    use std::time::Duration;

    /// A waker that counts its wake-ups.
    #[derive(Default)]
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn waker() -> (Arc<Count>, Waker) {
        let c = Arc::new(Count::default());
        (c.clone(), Waker::from(c))
    }

    /// The time now, and a timer for five seconds later.
    fn in_five_seconds() -> (Instant, Timer<Box<Sleep>>) {
        let start = Instant::now();
        (
            start,
            Timer::new(Box::pin(tokio::time::sleep_until(start + Duration::from_secs(5)))),
        )
    }

    /// Polls `f` once with `w`.
    fn once(w: &Waker, mut f: impl FnMut(&mut Context<'_>) -> bool) -> bool {
        f(&mut Context::from_waker(w))
    }

    #[tokio::test(start_paused = true)]
    async fn a_held_waker_is_woken_and_the_look_sees_the_fire() {
        let (_, mut t) = in_five_seconds();
        let (count, w) = waker();
        assert!(!once(&w, |cx| t.fired(cx)));
        // Looked at, not polled: still not fired, and the same waker is still the one held.
        assert!(!once(&w, |cx| t.fired(cx)));
        tokio::time::sleep(Duration::from_secs(4)).await;
        assert_eq!(count.0.load(Ordering::SeqCst), 0);
        assert!(!once(&w, |cx| t.fired(cx)));
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(count.0.load(Ordering::SeqCst), 1, "the timer wakes the waker it holds");
        assert!(once(&w, |cx| t.fired(cx)));
    }

    #[tokio::test(start_paused = true)]
    async fn another_waker_is_registered_and_woken() {
        let (_, mut t) = in_five_seconds();
        let (first, w1) = waker();
        let (second, w2) = waker();
        assert!(!once(&w1, |cx| t.fired(cx)));
        // A poll with another waker must move the registration to it; the timer keeps no
        // waker from then on.
        assert!(!once(&w2, |cx| t.fired(cx)));
        assert!(t.held.is_none());
        assert!(!once(&w2, |cx| t.fired(cx)));
        assert!(t.held.is_none());
        tokio::time::sleep(Duration::from_secs(6)).await;
        assert_eq!(second.0.load(Ordering::SeqCst), 1, "the last waker is woken");
        assert_eq!(first.0.load(Ordering::SeqCst), 0);
        assert!(once(&w2, |cx| t.fired(cx)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_reset_after_a_look_registers_again() {
        let (start, mut t) = in_five_seconds();
        let (count, w) = waker();
        assert!(!once(&w, |cx| t.fired(cx)));
        tokio::time::sleep(Duration::from_secs(6)).await;
        assert!(once(&w, |cx| t.fired(cx)));
        t.reset(start + Duration::from_secs(10));
        // Set again: the fire used up the waker, so a look alone would leave none to wake.
        assert!(!once(&w, |cx| t.fired(cx)));
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(count.0.load(Ordering::SeqCst), 2);
        assert!(once(&w, |cx| t.fired(cx)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_poll_refused_for_want_of_budget_is_made_again() {
        let (_, mut t) = in_five_seconds();
        let (count, w) = waker();
        // Within one poll of this test's task: spend its budget, then look at the timer.
        std::future::poll_fn(|_| {
            let mut cx = Context::from_waker(&w);
            for _ in 0..1000 {
                let spend = std::pin::pin!(tokio::task::coop::consume_budget());
                if spend.poll(&mut cx).is_pending() {
                    break;
                }
            }
            assert!(!tokio::task::coop::has_budget_remaining());
            assert!(!t.fired(&mut cx));
            std::task::Poll::Ready(())
        })
        .await;
        // The refused polls have the task woken to try again (deferred by tokio until it
        // yields); the timer holds no waker yet.
        tokio::task::yield_now().await;
        let woken = count.0.load(Ordering::SeqCst);
        assert!(!once(&w, |cx| t.fired(cx)));
        tokio::time::sleep(Duration::from_secs(6)).await;
        assert_eq!(count.0.load(Ordering::SeqCst), woken + 1, "the timer wakes the task");
        assert!(once(&w, |cx| t.fired(cx)));
    }

    #[tokio::test(start_paused = true)]
    async fn poll_until_keeps_an_earlier_timer_and_waits_out_the_later_deadline() {
        let start = Instant::now();
        let mut kept: Kept = None;
        let (count, w) = waker();
        assert!(!once(&w, |cx| poll_kept(&mut kept, cx, start + Duration::from_secs(2))));
        // A later deadline leaves the timer at 2 s.
        let later = start + Duration::from_secs(5);
        assert!(!once(&w, |cx| poll_kept(&mut kept, cx, later)));
        assert_eq!(kept.as_ref().map(Timer::deadline), Some(start + Duration::from_secs(2)));
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        // Fired for 2 s: not yet the 5 s deadline, so the timer moves there.
        assert!(!once(&w, |cx| poll_kept(&mut kept, cx, later)));
        assert_eq!(kept.as_ref().map(Timer::deadline), Some(later));
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(count.0.load(Ordering::SeqCst), 2);
        assert!(once(&w, |cx| poll_kept(&mut kept, cx, later)));
        // An earlier deadline moves the timer back: here one already past, reported at once.
        let (_, w2) = waker();
        assert!(once(&w2, |cx| poll_kept(&mut kept, cx, start + Duration::from_secs(1))));
        assert_eq!(kept.as_ref().map(Timer::deadline), Some(start + Duration::from_secs(1)));
    }
}
