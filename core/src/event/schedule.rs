//! When the sync driver pushes and pulls (SPEC §5), as a sans-IO state
//! machine: the browser feeds it triggers and results with `now`, asks what
//! is due, and sleeps until [`SyncSchedule::next_wake`].
//!
//! - Push: debounced after a local append, at once on `online`, focus, start,
//!   the live socket (re)connecting, and "Sync now", and every [`PUSH_INTERVAL_MS`] while anything is
//!   unsynced. A failed push backs off by [`PUSH_RETRY`] (5 s, 10 s, 20 s …
//!   capped at 300 s, jittered, `Retry-After` honoured); an unreachable
//!   network spends nothing and waits for `online` or the next interval.
//! - Pull: at start, on focus, on `online`, on a live notice past the cursor,
//!   and periodically: every [`PULL_INTERVAL_MS`] while the live socket is up,
//!   every [`PULL_FALLBACK_MS`] while it is down.

use super::model::DomainEvent;
use crate::retry::{Failure, RetryDecision, RetryPolicy};

/// Quiet time after a local append before pushing, so a burst of edits goes
/// in one batch.
pub const PUSH_DEBOUNCE_MS: u64 = 300;
/// Push at least this often while something is unsynced.
pub const PUSH_INTERVAL_MS: u64 = 30_000;
/// Pull this often while live notices arrive.
pub const PULL_INTERVAL_MS: u64 = 60_000;
/// Pull this often while the live socket is down.
pub const PULL_FALLBACK_MS: u64 = 15_000;

/// Backoff for failed pushes: the queue's schedule, but events are never
/// given up here (they stay unsynced and visible until they go through).
pub const PUSH_RETRY: RetryPolicy = RetryPolicy {
    max_retries: u32::MAX,
    ..RetryPolicy::SYNC_QUEUE
};

/// Reconnecting the live socket: 1 s, 2 s, 4 s … capped at 30 s, with up to
/// 50 % jitter so a server restart is not met by every client at once.
pub const LIVE_RECONNECT: RetryPolicy = RetryPolicy {
    base_delay_ms: 1_000,
    max_delay_ms: 30_000,
    max_retries: u32::MAX,
    jitter_ratio_percent: 50,
    network_spends_attempt: false,
};

/// Something that may make a push or pull due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// The app started.
    Start,
    /// A local event was appended.
    Appended,
    /// The browser went online.
    Online,
    /// The browser went offline.
    Offline,
    /// The tab got focus or became visible.
    Focus,
    /// The person pressed "Sync now": everything at once, backoff forgotten.
    SyncNow,
    /// The live socket connected.
    LiveUp,
    /// The live socket dropped.
    LiveDown,
    /// A live notice: the server has events up to `cursor`.
    Notice {
        /// The server's latest cursor.
        cursor: i64,
    },
}

/// What to do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Due {
    /// Push the next batch.
    pub push: bool,
    /// Pull after the cursor.
    pub pull: bool,
}

/// How a push went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    /// The server answered; `remaining` events are still unsynced.
    Answered {
        /// Unsynced events left (more batches when > 0).
        remaining: usize,
    },
    /// The request failed.
    Failed(Failure),
}

/// The driver's timers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncSchedule {
    pending: usize,
    online: bool,
    live: bool,
    push_at: Option<u64>,
    pull_at: u64,
    push_failures: u32,
    cursor: i64,
}

impl SyncSchedule {
    /// A schedule at start: pull at once; push at once if `pending`.
    pub fn new(now: u64, online: bool, pending: usize, cursor: i64) -> Self {
        SyncSchedule {
            pending,
            online,
            live: false,
            push_at: (pending > 0).then_some(now),
            pull_at: now,
            push_failures: 0,
            cursor,
        }
    }

    /// Unsynced events now.
    pub fn pending(&self) -> usize {
        self.pending
    }

    /// Whether the browser was last known online.
    pub fn online(&self) -> bool {
        self.online
    }

    /// Failed pushes in a row.
    pub fn push_failures(&self) -> u32 {
        self.push_failures
    }

    /// When the next push is planned, if any.
    pub fn push_at(&self) -> Option<u64> {
        self.push_at
    }

    /// The pull cursor as last reported.
    pub fn cursor(&self) -> i64 {
        self.cursor
    }

    fn pull_interval(&self) -> u64 {
        if self.live {
            PULL_INTERVAL_MS
        } else {
            PULL_FALLBACK_MS
        }
    }

    fn push_soon(&mut self, at: u64) {
        if self.pending > 0 {
            self.push_at = Some(self.push_at.map_or(at, |t| t.min(at)));
        }
    }

    /// Records a trigger.
    pub fn trigger(&mut self, trigger: Trigger, now: u64) {
        match trigger {
            Trigger::Start => {
                self.pull_at = now;
                self.push_soon(now);
            }
            Trigger::Appended => {
                self.pending += 1;
                if self.push_failures == 0 {
                    self.push_soon(now + PUSH_DEBOUNCE_MS);
                } else {
                    self.push_soon(now + PUSH_INTERVAL_MS);
                }
            }
            Trigger::Online => {
                self.online = true;
                self.pull_at = now;
                self.push_soon(now);
            }
            Trigger::Offline => self.online = false,
            Trigger::Focus => {
                self.pull_at = now;
                if self.push_failures == 0 {
                    self.push_soon(now);
                }
            }
            Trigger::SyncNow => {
                self.push_failures = 0;
                self.push_at = None;
                self.push_soon(now);
                self.pull_at = now;
            }
            Trigger::LiveUp => {
                // The server is reachable again: catch up both ways.
                self.live = true;
                self.pull_at = now;
                self.push_soon(now);
            }
            Trigger::LiveDown => {
                self.live = false;
                self.pull_at = self.pull_at.min(now + PULL_FALLBACK_MS);
            }
            Trigger::Notice { cursor } => {
                if cursor > self.cursor {
                    self.pull_at = now;
                }
            }
        }
    }

    /// Sets the unsynced count (after a reload of the store or a settlement).
    pub fn set_pending(&mut self, pending: usize, now: u64) {
        self.pending = pending;
        if pending == 0 {
            self.push_at = None;
        } else if self.push_at.is_none() {
            self.push_at = Some(now + PUSH_DEBOUNCE_MS);
        }
    }

    /// What is due at `now`. Nothing is while offline.
    pub fn due(&self, now: u64) -> Due {
        Due {
            push: self.online && self.pending > 0 && self.push_at.is_some_and(|t| t <= now),
            pull: self.online && self.pull_at <= now,
        }
    }

    /// When the next pull is planned.
    pub fn pull_at(&self) -> u64 {
        self.pull_at
    }

    /// When to look again (the earliest planned push or pull).
    pub fn next_wake(&self) -> u64 {
        self.push_at.map_or(self.pull_at, |p| p.min(self.pull_at))
    }

    /// Records a push's result. `online` is the browser's belief; `jitter` a
    /// sample in `[0, 1)`.
    pub fn push_done(&mut self, outcome: PushOutcome, now: u64, online: bool, jitter: f64) {
        self.online = online;
        match outcome {
            PushOutcome::Answered { remaining } => {
                self.push_failures = 0;
                self.pending = remaining;
                self.push_at = (remaining > 0).then_some(now);
            }
            PushOutcome::Failed(failure) => {
                let counted = PUSH_RETRY.counts_attempt(&failure, online);
                if counted {
                    self.push_failures += 1;
                }
                let wait = match PUSH_RETRY.decide(&failure, self.push_failures, online, jitter) {
                    RetryDecision::RetryIn(ms) => ms,
                    RetryDecision::WaitForNetwork => PUSH_INTERVAL_MS,
                    RetryDecision::GiveUp => PUSH_RETRY.max_delay_ms,
                };
                self.push_at = Some(now + wait);
            }
        }
    }

    /// Records a pull's result: the new cursor and whether more pages wait,
    /// or `None` when it failed.
    pub fn pull_done(&mut self, result: Option<(i64, bool)>, now: u64) {
        match result {
            Some((cursor, more)) => {
                self.cursor = cursor;
                self.pull_at = if more {
                    now
                } else {
                    now + self.pull_interval()
                };
            }
            None => self.pull_at = now + PULL_FALLBACK_MS,
        }
    }
}

/// The `Idempotency-Key` of a batch: a BLAKE3 of its event ids in order, so
/// a retried batch carries the same key and a different batch never does.
pub fn batch_key(batch: &[&DomainEvent]) -> String {
    let mut hasher = blake3::Hasher::new();
    for event in batch {
        hasher.update(event.id.as_bytes());
        hasher.update(b"\n");
    }
    format!("batch-{}", &hasher.finalize().to_hex()[..48])
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_000_000;

    #[test]
    fn start_pulls_at_once_and_pushes_only_when_something_waits() {
        let s = SyncSchedule::new(T0, true, 0, 0);
        assert_eq!(
            s.due(T0),
            Due {
                push: false,
                pull: true
            }
        );
        let s = SyncSchedule::new(T0, true, 3, 0);
        assert!(s.due(T0).push);
        assert!(!SyncSchedule::new(T0, false, 3, 0).due(T0).pull);
    }

    #[test]
    fn appends_are_debounced_into_one_push() {
        let mut s = SyncSchedule::new(T0, true, 0, 0);
        s.pull_done(Some((10, false)), T0);
        s.trigger(Trigger::Appended, T0);
        s.trigger(Trigger::Appended, T0 + 100);
        assert!(!s.due(T0 + 200).push);
        assert!(s.due(T0 + PUSH_DEBOUNCE_MS).push);
        assert_eq!(s.pending(), 2);
    }

    #[test]
    fn offline_nothing_is_due_and_online_brings_both_at_once() {
        let mut s = SyncSchedule::new(T0, true, 0, 0);
        s.pull_done(Some((0, false)), T0);
        s.trigger(Trigger::Offline, T0);
        s.trigger(Trigger::Appended, T0);
        assert_eq!(s.due(T0 + 3_600_000), Due::default());
        s.trigger(Trigger::Online, T0 + 3_600_000);
        assert_eq!(
            s.due(T0 + 3_600_000),
            Due {
                push: true,
                pull: true
            }
        );
    }

    #[test]
    fn failed_pushes_back_off_and_network_errors_spend_nothing() {
        let mut s = SyncSchedule::new(T0, true, 5, 0);
        let server_error = Failure::Http {
            status: 503,
            retry_after_ms: None,
        };
        s.push_done(PushOutcome::Failed(server_error), T0, true, 0.0);
        assert_eq!(s.push_at(), Some(T0 + 5_000));
        s.push_done(PushOutcome::Failed(server_error), T0, true, 0.0);
        assert_eq!(s.push_at(), Some(T0 + 10_000));
        s.push_done(PushOutcome::Failed(server_error), T0, true, 0.99);
        let at = s.push_at().unwrap() - T0;
        assert!((20_000..24_000).contains(&at), "{at}");
        // An append during backoff does not cut it short.
        s.trigger(Trigger::Appended, T0);
        assert!(!s.due(T0 + 1_000).push);
        // Offline failures are free and wait for the network.
        s.push_done(PushOutcome::Failed(Failure::Network), T0, false, 0.0);
        assert_eq!(s.push_failures(), 3);
        assert_eq!(s.push_at(), Some(T0 + PUSH_INTERVAL_MS));
        // Retry-After is honoured.
        let limited = Failure::Http {
            status: 429,
            retry_after_ms: Some(120_000),
        };
        s.push_done(PushOutcome::Failed(limited), T0, true, 0.0);
        assert_eq!(s.push_at(), Some(T0 + 120_000));
        // Sync now forgets the backoff; success resets it.
        s.trigger(Trigger::SyncNow, T0 + 1);
        assert!(s.due(T0 + 1).push);
        s.push_done(PushOutcome::Answered { remaining: 0 }, T0 + 2, true, 0.0);
        assert_eq!((s.push_failures(), s.push_at()), (0, None));
    }

    #[test]
    fn permanent_failures_wait_the_longest_not_forever() {
        let mut s = SyncSchedule::new(T0, true, 1, 0);
        let bad = Failure::Http {
            status: 413,
            retry_after_ms: None,
        };
        s.push_done(PushOutcome::Failed(bad), T0, true, 0.0);
        assert_eq!(s.push_at(), Some(T0 + 300_000));
    }

    #[test]
    fn more_batches_follow_at_once() {
        let mut s = SyncSchedule::new(T0, true, 900, 0);
        s.push_done(PushOutcome::Answered { remaining: 400 }, T0, true, 0.0);
        assert!(s.due(T0).push);
        s.push_done(PushOutcome::Answered { remaining: 0 }, T0, true, 0.0);
        assert!(!s.due(T0 + 10 * PUSH_INTERVAL_MS).push);
    }

    #[test]
    fn pulls_follow_notices_pages_and_the_socket_state() {
        let mut s = SyncSchedule::new(T0, true, 0, 0);
        s.pull_done(Some((50, true)), T0);
        assert!(s.due(T0).pull, "another page waits");
        s.pull_done(Some((80, false)), T0);
        assert!(!s.due(T0 + 1).pull);
        assert!(s.due(T0 + PULL_FALLBACK_MS).pull, "socket down: fallback");
        s.trigger(Trigger::Appended, T0);
        s.push_done(PushOutcome::Failed(Failure::Network), T0, true, 0.0);
        s.trigger(Trigger::LiveUp, T0);
        assert!(s.due(T0).push, "a reconnect means the server is back");
        s.push_done(PushOutcome::Answered { remaining: 0 }, T0, true, 0.0);
        s.pull_done(Some((80, false)), T0);
        assert!(!s.due(T0 + PULL_FALLBACK_MS).pull);
        assert!(s.due(T0 + PULL_INTERVAL_MS).pull);
        s.trigger(Trigger::Notice { cursor: 80 }, T0 + 5);
        assert!(!s.due(T0 + 5).pull, "nothing new");
        s.trigger(Trigger::Notice { cursor: 81 }, T0 + 5);
        assert!(s.due(T0 + 5).pull);
        s.pull_done(None, T0 + 6);
        assert_eq!(s.next_wake(), T0 + 6 + PULL_FALLBACK_MS);
    }

    #[test]
    fn live_reconnect_grows_to_its_cap_with_bounded_jitter() {
        assert_eq!(LIVE_RECONNECT.jittered_ms(1, 0.0), 1_000);
        assert_eq!(LIVE_RECONNECT.jittered_ms(3, 0.0), 4_000);
        assert_eq!(LIVE_RECONNECT.jittered_ms(20, 0.0), 30_000);
        assert_eq!(LIVE_RECONNECT.jittered_ms(20, 0.999_9), 44_998);
    }

    #[test]
    fn batch_keys_are_stable_and_distinct() {
        use crate::event::{CasePatch, EventData, EventHeader};
        let make = |id: &str| {
            DomainEvent::new(
                EventHeader {
                    id: id.into(),
                    aggregate_id: "00000000-0000-4000-8000-000000000001".into(),
                    node_id: "n".into(),
                    clock: 1,
                    base_version: 1,
                    timestamp: 0,
                },
                &EventData::CaseUpdated(CasePatch {
                    title: Some("x".into()),
                    ..Default::default()
                }),
            )
        };
        let (a, b) = (make("a"), make("b"));
        assert_eq!(batch_key(&[&a, &b]), batch_key(&[&a, &b]));
        assert_ne!(batch_key(&[&a, &b]), batch_key(&[&b, &a]));
        assert_ne!(batch_key(&[&a]), batch_key(&[&a, &b]));
        assert!(batch_key(&[&a]).len() <= 200);
    }
}
