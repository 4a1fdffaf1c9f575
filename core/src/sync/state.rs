//! Where each of this device's events stands on its way to the server
//! (SPEC §5): a typed state, the one transition function every store update
//! goes through, and the groupings the UI counts and lists. The event
//! store's schema is the only place that maps a state to stored bytes.

/// The sync state of one stored event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncState {
    /// Waiting to be pushed by this page.
    Pending,
    /// The service worker's queue holds its push, under this entry.
    Queued {
        /// The worker's queue entry.
        entry: String,
    },
    /// The server has it (pushed and answered, or pulled), at this version
    /// of its case when known.
    Synced {
        /// The case's server version after it.
        version: Option<u64>,
    },
    /// The server refused it for good, saying why; kept and shown.
    Refused(String),
    /// A conflict settled it away (the reason says how); kept and shown.
    Overruled(String),
    /// A manual conflict with these server events: the person decides.
    Parked {
        /// The server's events it collided with.
        theirs: Vec<String>,
    },
    /// The worker gave its push up (a dead letter), saying why: shown for
    /// the person to retry or discard.
    Dead(String),
}

/// A state without its data: what the store indexes and the UI counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SyncKind {
    /// [`SyncState::Pending`].
    Pending,
    /// [`SyncState::Queued`].
    Queued,
    /// [`SyncState::Synced`].
    Synced,
    /// [`SyncState::Refused`].
    Refused,
    /// [`SyncState::Overruled`].
    Overruled,
    /// [`SyncState::Parked`].
    Parked,
    /// [`SyncState::Dead`].
    Dead,
}

impl SyncKind {
    /// Every kind, in the order the performance panel lists them.
    pub const ALL: [SyncKind; 7] = [
        SyncKind::Synced,
        SyncKind::Pending,
        SyncKind::Queued,
        SyncKind::Dead,
        SyncKind::Refused,
        SyncKind::Overruled,
        SyncKind::Parked,
    ];
    /// Counts in the case's state: on the server or on its way.
    pub const LIVE: [SyncKind; 4] = [
        SyncKind::Pending,
        SyncKind::Synced,
        SyncKind::Queued,
        SyncKind::Dead,
    ];
    /// Not on the server yet but still meant to be (the header's "N
    /// waiting").
    pub const WAITING: [SyncKind; 3] = [SyncKind::Pending, SyncKind::Queued, SyncKind::Dead];
    /// Held by the service worker, not by this page: queued there, or a
    /// dead letter there.
    pub const ELSEWHERE: [SyncKind; 2] = [SyncKind::Queued, SyncKind::Dead];
    /// Needs the person (the header's attention badge).
    pub const ATTENTION: [SyncKind; 3] = [SyncKind::Parked, SyncKind::Refused, SyncKind::Dead];
    /// The person's changes that are not on the server (waiting, or
    /// needing them): what deleting the device's log would lose, so a
    /// sign-out asks before it does.
    pub const UNSENT: [SyncKind; 5] = [
        SyncKind::Pending,
        SyncKind::Queued,
        SyncKind::Dead,
        SyncKind::Parked,
        SyncKind::Refused,
    ];
    /// Did not go through as written (the sync center's problem list).
    pub const PROBLEMS: [SyncKind; 3] = [SyncKind::Parked, SyncKind::Refused, SyncKind::Overruled];

    /// A short word for the audit trail.
    pub fn word(self) -> &'static str {
        match self {
            SyncKind::Pending => "pending",
            SyncKind::Queued => "queued",
            SyncKind::Synced => "on the server",
            SyncKind::Refused => "refused",
            SyncKind::Overruled => "overruled",
            SyncKind::Parked => "conflict",
            SyncKind::Dead => "failed",
        }
    }

    /// A label for figures and lists.
    pub fn label(self) -> &'static str {
        match self {
            SyncKind::Pending => "Pending",
            SyncKind::Queued => "In the worker's queue",
            SyncKind::Synced => "On the server",
            SyncKind::Refused => "Refused by the server",
            SyncKind::Overruled => "Settled by a conflict",
            SyncKind::Parked => "Conflict: waiting for your decision",
            SyncKind::Dead => "Dead-lettered",
        }
    }

    /// Whether events of this kind count in their case's state.
    pub fn is_live(self) -> bool {
        SyncKind::LIVE.contains(&self)
    }

    /// Whether events of this kind are settled for good: on the server,
    /// refused or overruled (a snapshot may fold them away).
    pub fn is_settled(self) -> bool {
        matches!(
            self,
            SyncKind::Synced | SyncKind::Refused | SyncKind::Overruled
        )
    }

    /// Whether events of this kind are still meant to reach the server.
    pub fn is_waiting(self) -> bool {
        SyncKind::WAITING.contains(&self)
    }
}

impl SyncState {
    /// Its kind.
    pub fn kind(&self) -> SyncKind {
        match self {
            SyncState::Pending => SyncKind::Pending,
            SyncState::Queued { .. } => SyncKind::Queued,
            SyncState::Synced { .. } => SyncKind::Synced,
            SyncState::Refused(_) => SyncKind::Refused,
            SyncState::Overruled(_) => SyncKind::Overruled,
            SyncState::Parked { .. } => SyncKind::Parked,
            SyncState::Dead(_) => SyncKind::Dead,
        }
    }

    /// The reason it carries, if any.
    pub fn reason(&self) -> Option<&str> {
        match self {
            SyncState::Refused(r) | SyncState::Overruled(r) | SyncState::Dead(r) => Some(r),
            SyncState::Parked { .. } => Some("waiting for your decision"),
            _ => None,
        }
    }

    /// Refused because its person lost access to its case
    /// ([`super::access::NO_ACCESS`]).
    fn is_refused_for_access(&self) -> bool {
        matches!(self, SyncState::Refused(r) if r == super::access::NO_ACCESS)
    }

    /// The state after `change`, or `None` when the change does not apply
    /// to an event in this state (a late message never undoes an answer).
    pub fn apply(&self, change: &Change) -> Option<SyncState> {
        let waiting = self.kind().is_waiting();
        Some(match change {
            Change::Synced(version) => SyncState::Synced {
                version: Some(*version),
            },
            Change::Received(version) => {
                if *self
                    == (SyncState::Synced {
                        version: Some(*version),
                    })
                {
                    return None;
                }
                SyncState::Synced {
                    version: Some(*version),
                }
            }
            Change::Refused(r) => SyncState::Refused(r.clone()),
            Change::Overruled(r) => SyncState::Overruled(r.clone()),
            Change::Parked(theirs) => SyncState::Parked {
                theirs: theirs.clone(),
            },
            Change::Attempted(_) if waiting => self.clone(),
            Change::Queued(entry) if waiting => SyncState::Queued {
                entry: entry.clone(),
            },
            Change::Unqueued(entry) => match self {
                SyncState::Queued { entry: e } if e == entry => SyncState::Pending,
                _ => return None,
            },
            // A case its person may no longer read stays refused for it,
            // whatever copy the worker still holds (that copy's answer
            // will be a refusal too).
            Change::Listed(_) | Change::ListedDead(_) if self.is_refused_for_access() => {
                return None
            }
            Change::Listed(entry) => match self {
                SyncState::Pending | SyncState::Refused(_) => SyncState::Queued {
                    entry: entry.clone(),
                },
                _ => return None,
            },
            Change::ListedDead(r) => match self {
                SyncState::Pending | SyncState::Refused(_) => SyncState::Dead(r.clone()),
                _ => return None,
            },
            Change::Dead(r) if waiting => SyncState::Dead(r.clone()),
            Change::Discarded(r) if waiting => SyncState::Refused(r.clone()),
            Change::Wait(_) if waiting => SyncState::Pending,
            Change::Attempted(_)
            | Change::Queued(_)
            | Change::Dead(_)
            | Change::Discarded(_)
            | Change::Wait(_) => return None,
        })
    }
}

/// What happened to one event: a push's answer, a settlement, the worker's
/// word, or a pull.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The server has it, at this version of its case.
    Synced(u64),
    /// A pull brought it from the server, at this version of its case.
    Received(u64),
    /// The server refused it, saying why.
    Refused(String),
    /// A conflict settled it away (the reason says how).
    Overruled(String),
    /// A manual conflict with these server events, for the person to decide.
    Parked(Vec<String>),
    /// A push was tried and failed (the error is kept for the user).
    Attempted(String),
    /// The service worker queued its push under this id.
    Queued(String),
    /// The worker no longer holds the entry with this id and its answer was
    /// missed (`crate::queue::missed_answers`): pending again, to be sent
    /// once more. Only an event still queued under that entry changes.
    Unqueued(String),
    /// The worker's listing shows this event in the body of its queued
    /// entry with this id: it will be sent from there, so a pending event
    /// waits for it and one this device set aside (a discarded copy, a
    /// refusal) counts as on its way again. Only a pending or refused event
    /// changes.
    Listed(String),
    /// The worker's listing shows this event in the body of a dead letter
    /// (the reason says why it gave up): it waits for the person's Retry or
    /// Discard there. Only a pending or refused event changes.
    ListedDead(String),
    /// The worker gave its push up (a dead letter), saying why.
    Dead(String),
    /// The person discarded the dead letter or queued entry that held it
    /// (the reason says so): refused, unless it already reached the server
    /// or was settled another way.
    Discarded(String),
    /// Refused for a case or version the server lacks while an earlier event
    /// of its case is still on its way (`crate::event::read_answer`):
    /// pending again, saying what it waits for.
    Wait(String),
}

/// One event's sync bookkeeping: its state, plus the attempts and the last
/// error a pending event shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracking {
    /// Where it stands.
    pub state: SyncState,
    /// Push attempts so far.
    pub attempts: u32,
    /// When the last push attempt happened (ms).
    pub last_attempt: Option<u64>,
    /// The last push error or what it waits for (while pending or queued).
    pub note: Option<String>,
}

impl Tracking {
    /// A freshly appended event.
    pub fn new() -> Self {
        Tracking::with(SyncState::Pending)
    }

    /// An event in `state`, with no attempts.
    pub fn with(state: SyncState) -> Self {
        Tracking {
            state,
            attempts: 0,
            last_attempt: None,
            note: None,
        }
    }

    /// What the person reads about it: the state's reason, else the note.
    pub fn message(&self) -> Option<&str> {
        self.state.reason().or(self.note.as_deref())
    }

    /// Applies `change` at `now`; false when nothing changed.
    pub fn apply(&mut self, change: &Change, now: u64) -> bool {
        let Some(next) = self.state.apply(change) else {
            return false;
        };
        match change {
            Change::Attempted(error) => {
                self.attempts += 1;
                self.last_attempt = Some(now);
                self.note = Some(error.clone());
            }
            Change::Wait(reason) => self.note = Some(reason.clone()),
            Change::Unqueued(_) => {}
            _ => self.note = None,
        }
        self.state = next;
        true
    }
}

impl Default for Tracking {
    fn default() -> Self {
        Tracking::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queued(entry: &str) -> SyncState {
        SyncState::Queued {
            entry: entry.into(),
        }
    }

    #[test]
    fn a_late_worker_message_never_undoes_an_answer() {
        let synced = SyncState::Synced { version: Some(3) };
        assert_eq!(synced.apply(&Change::Queued("q".into())), None);
        assert_eq!(synced.apply(&Change::Dead("gone".into())), None);
        assert_eq!(synced.apply(&Change::Wait("later".into())), None);
        let refused = SyncState::Refused("no".into());
        assert_eq!(refused.apply(&Change::Queued("q".into())), None);
        assert_eq!(
            SyncState::Overruled("x".into()).apply(&Change::Dead("d".into())),
            None
        );
    }

    #[test]
    fn only_the_entry_that_holds_an_event_can_give_it_back() {
        let q = queued("q-1");
        assert_eq!(
            q.apply(&Change::Unqueued("q-1".into())),
            Some(SyncState::Pending)
        );
        assert_eq!(q.apply(&Change::Unqueued("q-2".into())), None);
        assert_eq!(
            SyncState::Pending.apply(&Change::Unqueued("q-1".into())),
            None
        );
        // A dead letter retried goes back into the queue.
        assert_eq!(
            SyncState::Dead("x".into()).apply(&Change::Queued("q-1".into())),
            Some(q)
        );
    }

    #[test]
    fn an_event_the_worker_still_holds_counts_as_queued_there() {
        let listed = Change::Listed("q-2".into());
        assert_eq!(SyncState::Pending.apply(&listed), Some(queued("q-2")));
        assert_eq!(
            SyncState::Refused("discarded by you".into()).apply(&listed),
            Some(queued("q-2")),
            "a discarded copy does not outweigh another copy still queued"
        );
        for kept in [
            SyncState::Synced { version: Some(1) },
            queued("q-1"),
            SyncState::Dead("d".into()),
            SyncState::Parked { theirs: vec![] },
            SyncState::Overruled("o".into()),
        ] {
            assert_eq!(kept.apply(&listed), None, "{kept:?}");
        }
        let dead = Change::ListedDead("gave up".into());
        assert_eq!(
            SyncState::Refused("discarded by you".into()).apply(&dead),
            Some(SyncState::Dead("gave up".into())),
            "another copy waits in the dead letters"
        );
        assert_eq!(queued("q-1").apply(&dead), None, "a live copy wins");
        let no_access = SyncState::Refused(crate::sync::access::NO_ACCESS.into());
        assert_eq!(no_access.apply(&listed), None, "a lost case stays refused");
        assert_eq!(no_access.apply(&dead), None);
        let discarded = Change::Discarded("discarded by you".into());
        assert_eq!(
            SyncState::Synced { version: Some(2) }.apply(&discarded),
            None,
            "discarding a copy does not undo what another copy delivered"
        );
        assert_eq!(
            SyncState::Dead("x".into()).apply(&discarded),
            Some(SyncState::Refused("discarded by you".into()))
        );
    }

    #[test]
    fn the_server_having_it_wins_over_every_local_state() {
        for from in [
            SyncState::Pending,
            queued("q"),
            SyncState::Refused("r".into()),
            SyncState::Parked { theirs: vec![] },
            SyncState::Dead("d".into()),
        ] {
            assert_eq!(
                from.apply(&Change::Received(4)),
                Some(SyncState::Synced { version: Some(4) }),
                "{from:?}"
            );
        }
        let same = SyncState::Synced { version: Some(4) };
        assert_eq!(
            same.apply(&Change::Received(4)),
            None,
            "a pull again is a no-op"
        );
    }

    #[test]
    fn attempts_are_counted_and_the_last_error_is_kept_until_an_answer() {
        let mut t = Tracking::new();
        assert!(t.apply(&Change::Attempted("offline".into()), 10));
        assert!(t.apply(&Change::Attempted("503".into()), 20));
        assert_eq!((t.attempts, t.last_attempt), (2, Some(20)));
        assert_eq!(t.message(), Some("503"));
        assert_eq!(t.state, SyncState::Pending);
        assert!(t.apply(&Change::Synced(2), 30));
        assert_eq!(t.message(), None);
        assert!(!t.apply(&Change::Attempted("late".into()), 40));
        assert_eq!(t.attempts, 2, "an answered event is not attempted again");
    }

    #[test]
    fn the_groupings_are_disjoint_where_the_ui_adds_them() {
        use std::collections::BTreeSet;
        let live: BTreeSet<_> = SyncKind::LIVE.into_iter().collect();
        for k in SyncKind::PROBLEMS {
            assert!(!k.is_live() || k == SyncKind::Dead, "{k:?}");
        }
        assert!(SyncKind::WAITING.iter().all(|k| live.contains(k)));
        // What the worker holds is waiting, and this page never sends it.
        assert!(SyncKind::ELSEWHERE
            .iter()
            .all(|k| SyncKind::WAITING.contains(k) && *k != SyncKind::Pending));
        assert!(!SyncKind::Refused.is_live() && !SyncKind::Overruled.is_live());
        assert_eq!(SyncKind::ALL.len(), 7);
        let words: BTreeSet<_> = SyncKind::ALL.iter().map(|k| k.word()).collect();
        assert_eq!(words.len(), 7, "every state reads differently");
    }
}
