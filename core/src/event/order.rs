//! Per-case causal order across a device's send paths (SPEC §8: no write
//! lost).
//!
//! A device's events reach the server by more than one path: the page's own
//! push, the service worker's queue (FIFO, but only within itself, and with
//! retry times of its own), a dead letter the person retries, and a resend
//! after an answer no tab heard. Nothing orders one path against another, so
//! without a rule an edit still pending in the page can be pushed while the
//! case's creation waits in the worker's queue, and the server refuses the
//! edit for a case it has not seen yet. Two rules here keep each case's
//! events in the order the device made them:
//!
//! - [`hold_back`]: an event is not sent while an earlier event of its case
//!   from this device is unacknowledged on another path;
//! - [`read_answer`]: a refusal for a missing case or base version
//!   ([`crate::api::RefusalCode`]) does not stand while this device still has an earlier
//!   unacknowledged event of that case; the event waits
//!   ([`LocalAction::Wait`]) and goes after it.

use super::model::DomainEvent;
use super::sync::{read_response, LocalAction};
use crate::api::PushResponse;

/// Splits `pending` (events to push, any order) into those that may be sent
/// now, in stamp order, and the number held back.
///
/// `elsewhere` are this device's events that the server may not have and
/// that another path holds: queued in the worker, dead-lettered there, or in
/// flight. A pending event waits while one of those is of its case and has
/// an earlier stamp: it goes once that one is answered (or, for a dead
/// letter, retried and answered, or discarded).
pub fn hold_back(
    pending: Vec<DomainEvent>,
    elsewhere: &[DomainEvent],
) -> (Vec<DomainEvent>, usize) {
    let (send, held): (Vec<DomainEvent>, Vec<DomainEvent>) = pending.into_iter().partition(|e| {
        !elsewhere
            .iter()
            .any(|o| o.aggregate_id == e.aggregate_id && o.stamp() < e.stamp())
    });
    (
        super::in_stamp_order(send, DomainEvent::stamp_key),
        held.len(),
    )
}

/// What the push answer `response` means for the events `sent`, given this
/// device's events that another path still holds (`elsewhere`, as for
/// [`hold_back`]; the answered events among them are the ones this answer
/// is for, and do not count).
///
/// Like [`read_response`], except that a refusal with a
/// [`crate::api::RefusalCode`]
/// (the server lacks the case or the base version) becomes
/// [`LocalAction::Wait`] while an earlier event of the same case from this
/// device is unacknowledged: held elsewhere, or in this batch and itself not
/// answered for good (not mentioned, or waiting too). Only a refusal that
/// stands after the device's own earlier events have landed is final.
pub fn read_answer(
    sent: &[&DomainEvent],
    response: &PushResponse,
    elsewhere: &[DomainEvent],
) -> Vec<LocalAction> {
    let mut actions = read_response(sent, response);
    let order = super::stamp_order(sent, |e| e.stamp_key());
    for (pos, &i) in order.iter().enumerate() {
        let event = sent[i];
        let LocalAction::Reject { id, reason } = &actions[i] else {
            continue;
        };
        let coded = response
            .results
            .iter()
            .find(|r| r.id == event.id)
            .and_then(|r| r.code)
            .is_some();
        if !coded {
            continue;
        }
        let held = elsewhere.iter().any(|o| {
            o.aggregate_id == event.aggregate_id
                && o.stamp() < event.stamp()
                && !sent.iter().any(|s| s.id == o.id)
        });
        let unanswered = order[..pos].iter().any(|&j| {
            sent[j].aggregate_id == event.aggregate_id
                && matches!(
                    actions[j],
                    LocalAction::Retry { .. } | LocalAction::Wait { .. }
                )
        });
        if held || unanswered {
            actions[i] = LocalAction::Wait {
                id: id.clone(),
                reason: waiting_reason(reason),
            };
        }
    }
    actions
}

/// The words a waiting event shows.
fn waiting_reason(server: &str) -> String {
    format!(
        "waiting for an earlier change of this case to reach the server (the server said: {server})"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{PushResult, PushStatus, RefusalCode};
    use crate::event::{CaseFields, CasePatch, EventData, EventHeader};

    fn event(case: &str, clock: u64, data: EventData) -> DomainEvent {
        DomainEvent::new(
            EventHeader {
                id: format!("{case}-{clock}"),
                aggregate_id: case.into(),
                node_id: "b".into(),
                clock,
                base_version: u64::from(!matches!(data, EventData::CaseCreated(_))),
                timestamp: clock,
            },
            &data,
        )
    }

    fn create(case: &str, clock: u64) -> DomainEvent {
        event(
            case,
            clock,
            EventData::CaseCreated(CaseFields::titled("first")),
        )
    }

    fn edit(case: &str, clock: u64) -> DomainEvent {
        event(
            case,
            clock,
            EventData::CaseUpdated(CasePatch {
                title: Some("second".into()),
                ..CasePatch::default()
            }),
        )
    }

    fn missing(e: &DomainEvent) -> PushResult {
        PushResult {
            id: e.id.clone(),
            status: PushStatus::Invalid,
            version: None,
            message: Some(format!("no case has id {}", e.aggregate_id)),
            conflicts_with: vec![],
            code: Some(RefusalCode::UnknownCase),
        }
    }

    fn answer(results: Vec<PushResult>) -> PushResponse {
        PushResponse { results, cursor: 0 }
    }

    #[test]
    fn an_edit_waits_while_its_creation_is_in_the_workers_queue() {
        let queued = [create("c", 1)];
        let (send, held) = hold_back(vec![edit("c", 2), create("d", 3)], &queued);
        assert_eq!(held, 1);
        assert_eq!(
            send.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
            ["d-3"],
            "other cases go at once"
        );
    }

    #[test]
    fn a_later_event_held_elsewhere_does_not_hold_an_earlier_one() {
        // An earlier event pending again (its answer was missed) goes.
        let (send, held) = hold_back(vec![create("c", 1)], &[edit("c", 2)]);
        assert_eq!((send.len(), held), (1, 0));
    }

    #[test]
    fn what_may_be_sent_goes_in_stamp_order() {
        let (send, _) = hold_back(vec![edit("c", 5), create("c", 4), create("a", 1)], &[]);
        let clocks: Vec<u64> = send.iter().map(|e| e.clock).collect();
        assert_eq!(clocks, [1, 4, 5]);
    }

    #[test]
    fn a_refusal_for_a_missing_case_waits_while_the_creation_is_held() {
        let e = edit("c", 2);
        let actions = read_answer(&[&e], &answer(vec![missing(&e)]), &[create("c", 1)]);
        assert!(
            matches!(&actions[0], LocalAction::Wait { id, reason } if id == "c-2" && reason.contains("no case has id c")),
            "{actions:?}"
        );
    }

    #[test]
    fn a_refusal_stands_once_nothing_earlier_is_unacknowledged() {
        let e = edit("c", 2);
        let actions = read_answer(&[&e], &answer(vec![missing(&e)]), &[]);
        assert!(matches!(actions[0], LocalAction::Reject { .. }));
        // Held elsewhere, but for another case: stands too.
        let actions = read_answer(&[&e], &answer(vec![missing(&e)]), &[create("x", 1)]);
        assert!(matches!(actions[0], LocalAction::Reject { .. }));
    }

    #[test]
    fn the_answered_events_do_not_count_as_held_elsewhere() {
        // A worker replay answers the queued creation and the edit together;
        // both are still marked queued, but this answer is theirs.
        let (c, e) = (create("c", 1), edit("c", 2));
        let mut refused = missing(&c);
        refused.code = None;
        refused.message = Some("title: is required".into());
        let queued = [c.clone(), e.clone()];
        let actions = read_answer(&[&c, &e], &answer(vec![refused, missing(&e)]), &queued);
        assert!(
            matches!(actions[1], LocalAction::Reject { .. }),
            "{actions:?}"
        );
    }

    #[test]
    fn a_refusal_without_a_code_is_final_even_behind_a_queued_creation() {
        let e = edit("c", 2);
        let mut r = missing(&e);
        r.code = None;
        r.message = Some("title: is required".into());
        let actions = read_answer(&[&e], &answer(vec![r]), &[create("c", 1)]);
        assert!(matches!(actions[0], LocalAction::Reject { .. }));
    }

    #[test]
    fn in_one_batch_an_unanswered_creation_keeps_the_edit_waiting() {
        let (c, e) = (create("c", 1), edit("c", 2));
        // The answer names only the edit (a truncated answer): the creation
        // is sent again, so the edit's refusal cannot stand yet.
        let actions = read_answer(&[&c, &e], &answer(vec![missing(&e)]), &[]);
        assert!(matches!(actions[0], LocalAction::Retry { .. }));
        assert!(matches!(actions[1], LocalAction::Wait { .. }));
        // A creation refused for good: the edit's refusal is explained.
        let mut refused = missing(&c);
        refused.code = None;
        refused.message = Some("title: is required".into());
        let actions = read_answer(&[&e, &c], &answer(vec![refused, missing(&e)]), &[]);
        assert!(
            matches!(actions[0], LocalAction::Reject { .. }),
            "{actions:?}"
        );
    }
}
