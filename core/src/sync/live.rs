//! The live socket's rules (`GET /api/v1/live`): when to say `ping`, when a
//! silent connection is dead, and how long to wait before reconnecting.
//! The browser's transport (`src/sync/live.rs`) carries them out.

use crate::event::LIVE_RECONNECT;

/// How often the client says `ping`.
pub const HEARTBEAT_MS: u64 = 25_000;
/// A connection with nothing heard for this long is dead.
pub const SILENCE_MS: u64 = 60_000;
/// While waiting to reconnect, how often to look whether a push or pull
/// went through (the server is back: try at once).
pub const ANSWER_POLL_MS: u64 = 500;

/// What to do when the heartbeat timer fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Beat {
    /// Say `ping`.
    Ping,
    /// Nothing heard for [`SILENCE_MS`]: close and reconnect.
    Dead,
}

/// One connection's liveness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Liveness {
    heard: u64,
    up: bool,
}

impl Liveness {
    /// A connection opened at `now`, not heard from yet.
    pub fn new(now: u64) -> Self {
        Liveness {
            heard: now,
            up: false,
        }
    }

    /// Something arrived at `now`; true when it is the first (the socket
    /// is up: catch up both ways).
    pub fn heard(&mut self, now: u64) -> bool {
        self.heard = now;
        !std::mem::replace(&mut self.up, true)
    }

    /// Something that is not a notice (a pong) arrived at `now`: alive, but
    /// not yet up.
    pub fn touch(&mut self, now: u64) {
        self.heard = now;
    }

    /// Whether a notice was ever heard.
    pub fn was_up(&self) -> bool {
        self.up
    }

    /// The heartbeat timer fired at `now`.
    pub fn beat(&self, now: u64) -> Beat {
        if now.saturating_sub(self.heard) > SILENCE_MS {
            Beat::Dead
        } else {
            Beat::Ping
        }
    }
}

/// The wait before reconnect attempt `failures` (1, 2, …); `jitter` in
/// `[0, 1)`. A connection that was up resets the count.
pub fn reconnect_wait(failures: u32, jitter: f64) -> u64 {
    LIVE_RECONNECT.jittered_ms(failures, jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_message_brings_the_socket_up_once() {
        let mut l = Liveness::new(0);
        assert!(!l.was_up());
        l.touch(5);
        assert!(!l.was_up(), "a pong is not a notice");
        assert!(l.heard(10));
        assert!(!l.heard(20), "up already");
        assert!(l.was_up());
    }

    #[test]
    fn a_silent_connection_is_dead_after_the_silence_limit() {
        let mut l = Liveness::new(0);
        l.heard(1_000);
        assert_eq!(l.beat(1_000 + HEARTBEAT_MS), Beat::Ping);
        assert_eq!(l.beat(1_000 + SILENCE_MS), Beat::Ping);
        assert_eq!(l.beat(1_001 + SILENCE_MS), Beat::Dead);
        // Two pings fit before giving up.
        const { assert!(HEARTBEAT_MS * 2 < SILENCE_MS) };
    }

    #[test]
    fn reconnects_back_off_to_a_cap() {
        assert_eq!(reconnect_wait(1, 0.0), 1_000);
        assert_eq!(reconnect_wait(30, 0.0), 30_000);
    }
}
