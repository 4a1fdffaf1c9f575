//! Sign-in rules (SPEC §10): how long a session lives, and how failed
//! sign-ins slow down the next try, per user name and per client address.
//! Pure: the caller passes `now` (ms) and stores the state.

/// How long a session lives: idle timeout and absolute lifetime (ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimits {
    /// A session unused this long ends (sliding: each use moves it).
    pub idle_ms: i64,
    /// A session ends this long after sign-in, used or not.
    pub lifetime_ms: i64,
}

impl Default for SessionLimits {
    fn default() -> Self {
        SessionLimits {
            idle_ms: 8 * 60 * 60 * 1000,
            lifetime_ms: 7 * 24 * 60 * 60 * 1000,
        }
    }
}

/// When a session that began at `created_at` and was last used at
/// `last_seen` ends: the earlier of its idle end and its absolute end.
pub fn session_ends(limits: SessionLimits, created_at: i64, last_seen: i64) -> i64 {
    (last_seen.saturating_add(limits.idle_ms)).min(created_at.saturating_add(limits.lifetime_ms))
}

/// Whether the session is still alive at `now`.
pub fn session_alive(limits: SessionLimits, created_at: i64, last_seen: i64, now: i64) -> bool {
    now < session_ends(limits, created_at, last_seen)
}

/// Failed sign-ins for one user name free of delay before the delays begin.
pub const FREE_FAILURES: u32 = 3;
/// Failed sign-ins from one client address free of delay: more than for a
/// name, because one office address (a NAT, a proxy) carries many people,
/// each of whom mistypes now and then; a guesser trying many names from one
/// address still meets the delays after these.
pub const FREE_FAILURES_PER_ADDRESS: u32 = 20;
/// The first delay after the free failures (ms); each further failure doubles it.
pub const FIRST_DELAY_MS: i64 = 1_000;
/// The longest delay (ms).
pub const MAX_DELAY_MS: i64 = 15 * 60 * 1000;
/// A key whose last failure is this old starts afresh (ms).
pub const FORGET_AFTER_MS: i64 = 60 * 60 * 1000;

/// Failed sign-ins for one key (a user name or a client address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttle {
    /// Failures in a row.
    pub failures: u32,
    /// When the last one was (ms).
    pub last_failure: i64,
    /// Failures free of delay.
    pub free: u32,
}

impl Default for Throttle {
    /// A user name's throttle.
    fn default() -> Self {
        Throttle::with_free(FREE_FAILURES)
    }
}

impl Throttle {
    /// A throttle that lets `free` failures through before the delays.
    pub fn with_free(free: u32) -> Self {
        Throttle {
            failures: 0,
            last_failure: 0,
            free,
        }
    }

    /// A client address's throttle.
    pub fn for_address() -> Self {
        Throttle::with_free(FREE_FAILURES_PER_ADDRESS)
    }

    /// When the next try is allowed: at once for the first `free`
    /// failures, then 1 s, 2 s, 4 s … up to [`MAX_DELAY_MS`] after the last
    /// failure.
    pub fn allowed_at(&self, now: i64) -> i64 {
        if self.failures < self.free || now - self.last_failure >= FORGET_AFTER_MS {
            return now;
        }
        let doublings = (self.failures - self.free).min(20);
        let delay = (FIRST_DELAY_MS << doublings).min(MAX_DELAY_MS);
        self.last_failure + delay
    }

    /// How long to wait from `now` (ms), 0 when a try is allowed.
    pub fn wait_ms(&self, now: i64) -> i64 {
        (self.allowed_at(now) - now).max(0)
    }

    /// Records a failed try.
    pub fn failed(&mut self, now: i64) {
        if now - self.last_failure >= FORGET_AFTER_MS {
            self.failures = 0;
        }
        self.failures = self.failures.saturating_add(1);
        self.last_failure = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_800_000_000_000;
    const H: i64 = 60 * 60 * 1000;

    #[test]
    fn a_session_ends_when_idle_or_at_its_absolute_end_whichever_is_first() {
        let l = SessionLimits::default();
        assert!(session_alive(l, T0, T0, T0 + 8 * H - 1));
        assert!(!session_alive(l, T0, T0, T0 + 8 * H), "idle 8 h");
        // Used every hour: sliding keeps it alive, up to 7 days.
        let last = T0 + 7 * 24 * H - H;
        assert!(session_alive(l, T0, last, T0 + 7 * 24 * H - 1));
        assert!(
            !session_alive(l, T0, last, T0 + 7 * 24 * H),
            "7 days at most"
        );
        let short = SessionLimits {
            idle_ms: 1_000,
            lifetime_ms: 5_000,
        };
        assert_eq!(session_ends(short, T0, T0 + 4_500), T0 + 5_000);
        assert_eq!(session_ends(short, T0, T0 + 1_000), T0 + 2_000);
    }

    #[test]
    fn failures_grow_the_delay_after_three_free_tries() {
        let mut t = Throttle::default();
        for _ in 0..3 {
            assert_eq!(t.wait_ms(T0), 0);
            t.failed(T0);
        }
        assert_eq!(t.wait_ms(T0), 1_000);
        t.failed(T0 + 1_000);
        assert_eq!(t.wait_ms(T0 + 1_000), 2_000);
        t.failed(T0 + 3_000);
        assert_eq!(t.wait_ms(T0 + 3_000), 4_000);
        for _ in 0..30 {
            t.failed(T0 + 3_000);
        }
        assert_eq!(t.wait_ms(T0 + 3_000), MAX_DELAY_MS, "capped");
        // An hour of quiet forgets it.
        assert_eq!(t.wait_ms(T0 + 3_000 + H), 0);
        t.failed(T0 + 3_000 + H);
        assert_eq!(t.failures, 1);
    }

    #[test]
    fn an_address_shared_by_an_office_gets_twenty_free_failures() {
        let mut t = Throttle::for_address();
        for i in 0..FREE_FAILURES_PER_ADDRESS {
            assert_eq!(t.wait_ms(T0), 0, "failure {i} from one address is free");
            t.failed(T0);
        }
        assert_eq!(t.wait_ms(T0), FIRST_DELAY_MS, "then the delays begin");
    }
}
