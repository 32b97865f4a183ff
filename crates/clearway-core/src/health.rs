//! The rise/fall state machine of a checked server, as HAProxy counts it: a server is UP while
//! its health counter is at least `rise`; failures count it down, successes up, so `fall`
//! consecutive failures take an UP server down and `rise` consecutive successes bring a DOWN
//! one up. Owns the counting only; must not run checks or log.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    WentUp,
    WentDown,
}

#[derive(Debug, Clone)]
pub struct Health {
    rise: u32,
    fall: u32,
    /// 0 ..= rise + fall - 1; UP when >= rise.
    counter: u32,
}

impl Health {
    /// A server starts UP, as in HAProxy (it takes `fall` failed checks to go down).
    pub fn new(rise: u32, fall: u32) -> Health {
        let (rise, fall) = (rise.max(1), fall.max(1));
        Health {
            rise,
            fall,
            counter: rise + fall - 1,
        }
    }

    pub fn is_up(&self) -> bool {
        self.counter >= self.rise
    }

    pub fn rise(&self) -> u32 {
        self.rise
    }

    pub fn fall(&self) -> u32 {
        self.fall
    }

    /// The health counter (changes with every check that is not a repeat of a settled state).
    pub fn counter(&self) -> u32 {
        self.counter
    }

    /// HAProxy's `X/Y UP|DOWN` of a check line: while up, failures left before going down
    /// out of `fall`; while down, successes so far out of `rise`.
    pub fn status(&self) -> String {
        if self.is_up() {
            format!("{}/{} UP", self.counter - self.rise + 1, self.fall)
        } else {
            format!("{}/{} DOWN", self.counter, self.rise)
        }
    }

    /// True while the server is UP but has failed checks, or DOWN but has passed some: HAProxy
    /// then checks at `fastinter`.
    pub fn in_transition(&self) -> bool {
        let top = self.rise + self.fall - 1;
        (self.is_up() && self.counter < top) || (!self.is_up() && self.counter > 0)
    }

    /// `on-error sudden-death`: as HAProxy, left where the failure recorded next leaves it
    /// one failure away from down.
    pub fn sudden_death(&mut self) {
        self.counter = self.counter.min(self.rise + 1);
    }

    /// `on-error mark-down`: left where the failure recorded next takes it down.
    pub fn mark_down(&mut self) {
        self.counter = self.counter.min(self.rise);
    }

    /// Records one check result; returns the state change it caused, if any.
    pub fn record(&mut self, ok: bool) -> Option<Transition> {
        let was_up = self.is_up();
        let top = self.rise + self.fall - 1;
        if ok {
            // An UP server that passes is fully healthy again; a DOWN one climbs towards rise.
            self.counter = if was_up { top } else { (self.counter + 1).min(top) };
            if !was_up && self.is_up() {
                self.counter = top;
                return Some(Transition::WentUp);
            }
        } else {
            self.counter = if was_up { self.counter.saturating_sub(1) } else { 0 };
            if was_up && !self.is_up() {
                self.counter = 0;
                return Some(Transition::WentDown);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fall_failures_take_it_down_rise_successes_bring_it_up() {
        let mut h = Health::new(2, 3);
        assert!(h.is_up());
        assert_eq!(h.record(false), None);
        assert!(h.in_transition());
        assert_eq!(h.record(false), None);
        assert_eq!(h.record(false), Some(Transition::WentDown));
        assert!(!h.is_up() && !h.in_transition());
        assert_eq!(h.record(true), None);
        assert!(h.in_transition());
        assert_eq!(h.record(true), Some(Transition::WentUp));
        assert!(!h.in_transition());
        assert_eq!(h.status(), "3/3 UP");
        h.record(false);
        assert_eq!(h.status(), "2/3 UP");
        h.record(false);
        h.record(false);
        assert_eq!(h.status(), "0/2 DOWN");
        h.record(true);
        assert_eq!(h.status(), "1/2 DOWN");
    }

    #[test]
    fn a_success_resets_the_count_of_failures() {
        let mut h = Health::new(2, 2);
        assert_eq!(h.record(false), None);
        assert_eq!(h.record(true), None);
        assert_eq!(h.record(false), None);
        assert_eq!(h.record(false), Some(Transition::WentDown));
        // While down, a failure starts the climb again.
        assert_eq!(h.record(true), None);
        assert_eq!(h.record(false), None);
        assert_eq!(h.record(true), None);
        assert_eq!(h.record(true), Some(Transition::WentUp));
    }

    #[test]
    fn rise_one_fall_one() {
        let mut h = Health::new(1, 1);
        assert_eq!(h.record(false), Some(Transition::WentDown));
        assert_eq!(h.record(true), Some(Transition::WentUp));
    }
}
