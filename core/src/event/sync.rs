//! The push half of the sync protocol (SPEC §5): which unsynced events go in
//! the next batch, and what each per-event answer means for the local copy.

use super::conflict::{resolve, ConflictPolicy, Resolution};
use super::model::DomainEvent;
use crate::api::{PushResponse, PushStatus};
use crate::retry::{Failure, FailureClass, RetryPolicy};

/// Whether a failed push refuses its whole batch: the server answered with
/// a status that sending again cannot change (400, 413, 422 …), so its events
/// are refused and leave the view. An unreachable server, 5xx, 408, 429 and an
/// answer that could not be read keep the events pending for another try.
pub fn batch_refused(failure: &Failure) -> bool {
    matches!(failure, Failure::Http { .. })
        && RetryPolicy::classify(failure) == FailureClass::Permanent
}

/// Most events in one push.
pub const MAX_BATCH_EVENTS: usize = 500;
/// Most bytes (JSON) in one push.
pub const MAX_BATCH_BYTES: usize = 256 * 1024;

/// The next batch to push: unsynced events in stamp order, up to
/// [`MAX_BATCH_EVENTS`] events and [`MAX_BATCH_BYTES`] of JSON. An event
/// larger than the byte limit on its own still goes alone (the server's
/// 1 MiB body limit decides), so the queue can never get stuck behind it.
pub fn next_batch(unsynced: &[DomainEvent]) -> Vec<&DomainEvent> {
    next_batch_within(unsynced, MAX_BATCH_EVENTS, MAX_BATCH_BYTES)
}

/// [`next_batch`] with explicit limits.
pub fn next_batch_within(
    unsynced: &[DomainEvent],
    max_events: usize,
    max_bytes: usize,
) -> Vec<&DomainEvent> {
    let ordered = super::in_stamp_order(unsynced.iter().collect(), |e| e.stamp_key());
    let mut batch = Vec::new();
    let mut bytes = 2; // the surrounding brackets
    for event in ordered {
        let size = serde_json::to_vec(event).map_or(0, |v| v.len()) + 1;
        if batch.len() == max_events || (!batch.is_empty() && bytes + size > max_bytes) {
            break;
        }
        bytes += size;
        batch.push(event);
    }
    batch
}

/// What to do with a local event after the server's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalAction {
    /// Applied or seen before: mark it synced with the server's version.
    MarkSynced {
        /// The event.
        id: String,
        /// The aggregate's server version after it.
        version: i64,
    },
    /// Refused for good: keep it, visibly, with the server's reason.
    Reject {
        /// The event.
        id: String,
        /// Why, in the server's words.
        reason: String,
    },
    /// Concurrent with another device's change: settle it by policy, once the
    /// other device's events are pulled. `theirs` lists those event ids.
    Conflict {
        /// The event.
        id: String,
        /// The server's events it collided with.
        theirs: Vec<String>,
        /// The server's current version of the aggregate.
        version: Option<i64>,
    },
    /// The answer did not mention it (a truncated response): push it again.
    Retry {
        /// The event.
        id: String,
    },
    /// Refused for a case or version the server lacks while an earlier event
    /// of the same case from this device is still on its way
    /// ([`super::order::read_answer`]): pending again, sent after that one.
    Wait {
        /// The event.
        id: String,
        /// What it waits for, with the server's words.
        reason: String,
    },
}

/// Reads a push response against the batch that was sent.
pub fn read_response(sent: &[&DomainEvent], response: &PushResponse) -> Vec<LocalAction> {
    sent.iter()
        .map(|event| {
            let id = event.id.clone();
            match response.results.iter().find(|r| r.id == event.id) {
                None => LocalAction::Retry { id },
                Some(r) => match (r.status, r.version) {
                    (PushStatus::Applied | PushStatus::Duplicate, Some(version)) => {
                        LocalAction::MarkSynced { id, version }
                    }
                    (PushStatus::Applied | PushStatus::Duplicate, None) => {
                        LocalAction::Retry { id }
                    }
                    (PushStatus::Invalid | PushStatus::Forbidden, _) => LocalAction::Reject {
                        id,
                        reason: r
                            .message
                            .clone()
                            .unwrap_or_else(|| "refused by the server".into()),
                    },
                    (PushStatus::Conflict, version) => LocalAction::Conflict {
                        id,
                        theirs: r.conflicts_with.clone(),
                        version,
                    },
                },
            }
        })
        .collect()
}

/// A case's known server version after a push answer put one of this
/// device's events at `version`, from `known`.
///
/// Only the next version moves it. A gap means other devices' changes sit in
/// between, which this device has not pulled, nor their clocks: raising past
/// them would let its next change claim to be based on them while its stamp
/// sorts before theirs, so the server would put it on top and every replica
/// underneath. The pull closes the gap (it receives those clocks).
pub fn known_after_push(known: u64, version: u64) -> u64 {
    if version == known + 1 {
        version
    } else {
        known
    }
}

/// Settles a conflicted local event once the server's colliding event is
/// known (pulled): by the policy of its aggregate type.
pub fn settle(policy: ConflictPolicy, mine: &DomainEvent, theirs: &DomainEvent) -> Resolution {
    resolve(policy, mine, theirs)
}

#[cfg(test)]
mod refusal_tests {
    use super::*;

    fn http(status: u16) -> Failure {
        Failure::Http {
            status,
            retry_after_ms: None,
        }
    }

    #[test]
    fn a_push_answer_moves_the_known_version_only_without_a_gap() {
        assert_eq!(known_after_push(3, 4), 4, "its own event, next in line");
        assert_eq!(known_after_push(3, 5), 3, "version 4 is unseen");
        assert_eq!(known_after_push(5, 4), 5, "a late duplicate answer");
        assert_eq!(known_after_push(0, 1), 1, "a creation");
    }

    #[test]
    fn only_a_definite_http_refusal_refuses_a_batch() {
        for status in [400, 403, 404, 409, 413, 422] {
            assert!(batch_refused(&http(status)), "{status}");
        }
        assert!(
            !batch_refused(&http(401)),
            "a 401 asks for sign-in: the events wait and are sent as they are"
        );
        for status in [408, 429, 500, 502, 503] {
            assert!(!batch_refused(&http(status)), "{status}");
        }
        assert!(!batch_refused(&Failure::Network));
        assert!(
            !batch_refused(&Failure::Decode),
            "an unreadable answer may hide a commit: keep the events, the idempotency key makes the retry safe"
        );
    }
}
