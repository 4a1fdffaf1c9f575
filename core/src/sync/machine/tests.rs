use super::*;
use crate::api::{PulledEvent, PushResult, PushStatus};
use crate::event::CasePatch;
use crate::queue::{QueueStats, StoredRequest};
use crate::sync::testkit::{new_case, MemStore};
use crate::sync::SyncState;

const T0: u64 = 1_790_000_000_000;
const CASE: &str = "c0000000-0000-4000-8000-000000000001";

fn create() -> EventData {
    new_case("Rent arrears")
}

fn retitle(t: &str) -> EventData {
    EventData::CaseUpdated(CasePatch {
        title: Some(t.into()),
        ..Default::default()
    })
}

/// Takes every pending output.
fn drain(m: &mut SyncMachine) -> Vec<Io> {
    std::iter::from_fn(|| m.poll_io()).collect()
}

/// Carries out outputs against `store` until the machine asks for the
/// network; returns that request (and everything else seen).
fn run_to_network(m: &mut SyncMachine, store: &mut MemStore, now: u64) -> (Option<Io>, Vec<Io>) {
    let mut seen = Vec::new();
    while let Some(io) = m.poll_io() {
        match &io {
            Io::Read(r) => {
                let answer = store.read(r);
                seen.push(io);
                m.handle(now, answer);
            }
            Io::Commit(ops) => {
                store.commit(ops, now);
                seen.push(io);
            }
            Io::Push { .. } | Io::Pull { .. } => return (Some(io), seen),
            _ => seen.push(io),
        }
    }
    (None, seen)
}

/// Runs until idle, answering pulls with an empty page (no push expected).
fn idle(m: &mut SyncMachine, store: &mut MemStore, now: u64) -> Vec<Io> {
    let mut all = Vec::new();
    loop {
        let (io, seen) = run_to_network(m, store, now);
        all.extend(seen);
        match io {
            None => return all,
            Some(Io::Pull { .. }) => m.handle(now, pulled_nothing(store.cursor)),
            Some(other) => panic!("unexpected {other:?}"),
        }
    }
}

fn started(store: &mut MemStore) -> SyncMachine {
    let mut m = SyncMachine::new(T0, true, store.cursor, 1);
    m.handle(T0, Input::Trigger(Trigger::Start));
    m
}

fn applied(batch: &[DomainEvent], first_version: i64) -> PushResponse {
    PushResponse {
        results: batch
            .iter()
            .enumerate()
            .map(|(i, e)| {
                PushResult::new(&e.id, PushStatus::Applied, Some(first_version + i as i64))
            })
            .collect(),
        cursor: 0,
    }
}

fn pulled_nothing(cursor: i64) -> Input {
    Input::Pulled {
        next_cursor: cursor,
        has_more: false,
        log_end: 0,
        aggregates: vec![],
        bad: 0,
        revoked: Vec::new(),
        refused: 0,
    }
}

#[test]
fn nothing_happens_before_start_then_waiting_events_are_pushed() {
    let mut store = MemStore::new("device-a");
    store.append(CASE, &create(), None, T0);
    let mut m = SyncMachine::new(T0, true, 0, 1);
    m.handle_timeout(T0 + 10_000);
    assert!(
        drain(&mut m).is_empty(),
        "the tab may not hold the lock yet"
    );
    m.handle(T0, Input::Trigger(Trigger::Start));
    let (io, seen) = run_to_network(&mut m, &mut store, T0);
    assert!(seen.contains(&Io::Worker(ToWorker::List)));
    let Some(Io::Push { batch, key }) = io else {
        panic!("expected a push, got {io:?}")
    };
    assert_eq!(batch.len(), 1);
    assert_eq!(key, batch_key(&batch.iter().collect::<Vec<_>>()));
    assert_eq!(m.poll_timeout(), None, "waiting for the answer");
    m.handle(T0 + 5, Input::Pushed(applied(&batch, 1)));
    let (io, seen) = run_to_network(&mut m, &mut store, T0 + 5);
    assert!(
        seen.iter()
            .any(|io| matches!(io, Io::Commit(ops) if ops.len() == 1)),
        "{seen:?}"
    );
    assert_eq!(
        store.state(&batch[0].id),
        Some(&SyncState::Synced { version: Some(1) })
    );
    assert!(matches!(io, Some(Io::Pull { .. })), "then the pull: {io:?}");
    assert_eq!(m.figures().last_push, Some(T0 + 5));
}

#[test]
fn a_conflict_pulls_every_page_first_and_settles_in_one_commit() {
    let mut store = MemStore::new("device-a");
    store.append(CASE, &create(), None, T0);
    let mut m = started(&mut store);
    let (Some(Io::Push { batch, .. }), _) = run_to_network(&mut m, &mut store, T0) else {
        panic!()
    };
    m.handle(T0, Input::Pushed(applied(&batch, 1)));
    let (Some(Io::Pull { .. }), _) = run_to_network(&mut m, &mut store, T0) else {
        panic!()
    };
    m.handle(T0, pulled_nothing(1));
    // A later title edit collides with another device's, stamped earlier.
    let mut other = MemStore::new("device-0");
    let theirs = other.append(CASE, &retitle("Theirs"), None, T0);
    let mine = store.append(CASE, &retitle("Mine"), None, T0 + 1);
    assert!(mine.stamp() > theirs.stamp());
    m.handle(T0 + 1, Input::Trigger(Trigger::Appended));
    m.handle_timeout(T0 + 1_000);
    let (Some(Io::Push { batch, .. }), _) = run_to_network(&mut m, &mut store, T0 + 1_000) else {
        panic!()
    };
    let conflict = PushResponse {
        results: vec![PushResult {
            conflicts_with: vec![theirs.id.clone()],
            ..PushResult::new(&batch[0].id, PushStatus::Conflict, Some(2))
        }],
        cursor: 2,
    };
    m.handle(T0 + 1_000, Input::Pushed(conflict));
    // Catch up: page one of two, then two; only then read and settle.
    let (Some(Io::Pull { .. }), _) = run_to_network(&mut m, &mut store, T0 + 1_000) else {
        panic!()
    };
    assert_eq!(m.schedule().cursor(), 1);
    m.handle(
        T0 + 1_000,
        Input::Pulled {
            next_cursor: 1,
            has_more: true,
            log_end: 0,
            aggregates: vec![],
            bad: 0,
            revoked: Vec::new(),
            refused: 0,
        },
    );
    let (Some(Io::Pull { .. }), seen) = run_to_network(&mut m, &mut store, T0 + 1_000) else {
        panic!()
    };
    assert!(seen.is_empty(), "no settlement before every page: {seen:?}");
    let cases = store.receive(
        &[PulledEvent {
            seq: 2,
            event: theirs.clone(),
            version: 2,
        }],
        2,
    );
    m.handle(
        T0 + 1_000,
        Input::Pulled {
            next_cursor: 2,
            has_more: false,
            log_end: 0,
            aggregates: cases,
            bad: 0,
            revoked: Vec::new(),
            refused: 0,
        },
    );
    let (_, seen) = run_to_network(&mut m, &mut store, T0 + 1_000);
    let settlement = seen
        .iter()
        .find_map(|io| match io {
            Io::Commit(ops) if ops.iter().any(|op| matches!(op, StoreOp::Append { .. })) => {
                Some(ops.clone())
            }
            _ => None,
        })
        .expect("a settlement commit");
    assert!(
        matches!(&settlement[..], [StoreOp::Append { caused_by: Some(c), .. }, StoreOp::Mark { id, change: Change::Overruled(_) }] if *c == mine.id && *id == mine.id),
        "the replacement and the mark in one commit: {settlement:?}"
    );
    assert!(matches!(
        store.state(&mine.id),
        Some(SyncState::Overruled(_))
    ));
    let Input::Pending { unsynced, .. } = store.read(&Read::Pending) else {
        panic!()
    };
    assert_eq!(unsynced.len(), 1, "the rebased title waits to be sent");
    assert_eq!(unsynced[0].causation_id.as_deref(), Some(mine.id.as_str()));
}

#[test]
fn a_later_creation_that_collides_is_reissued_not_emptied() {
    let mut other = MemStore::new("device-a");
    let theirs = other.append(CASE, &create(), None, T0);
    // Mine is stamped after theirs (its clock heard theirs).
    let mut store = MemStore::new("device-b");
    store.receive(
        &[PulledEvent {
            seq: 1,
            event: theirs.clone(),
            version: 1,
        }],
        1,
    );
    let mine = store.append(CASE, &EventData::CaseDeleted, None, T0);
    let mut m = SyncMachine::new(T0, true, 0, 1);
    m.set_policy(ConflictPolicy::Merge);
    let theirs_ids = [theirs.id.clone()];
    let ops = m.settlement(&mine.id, &theirs_ids, &[mine.clone(), theirs]);
    assert!(
        matches!(
            &ops[..],
            [
                StoreOp::Append {
                    data: EventData::CaseDeleted,
                    ..
                },
                StoreOp::Mark { .. }
            ]
        ),
        "{ops:?}"
    );
}

#[test]
fn a_refused_batch_is_refused_whole_and_told_and_a_network_failure_backs_off() {
    let mut store = MemStore::new("device-a");
    let made = store.append(CASE, &create(), None, T0);
    let mut m = started(&mut store);
    let (Some(Io::Push { .. }), _) = run_to_network(&mut m, &mut store, T0) else {
        panic!()
    };
    m.handle(
        T0,
        Input::PushFailed {
            failure: Failure::Network,
            message: "offline".into(),
            online: true,
        },
    );
    let (io, _) = run_to_network(&mut m, &mut store, T0);
    assert!(matches!(io, Some(Io::Pull { .. })));
    m.handle(
        T0,
        Input::PullFailed {
            message: "offline".into(),
            network: true,
        },
    );
    let (io, _) = run_to_network(&mut m, &mut store, T0);
    assert_eq!(io, None);
    assert_eq!(store.events[&made.id].1.attempts, 1);
    assert_eq!(store.events[&made.id].1.state, SyncState::Pending);
    let wake = m.poll_timeout().unwrap();
    assert!(wake > T0 + 1_000, "it waits, it does not spin");
    m.handle(T0 + 10, Input::Trigger(Trigger::Online));
    let (Some(Io::Push { .. }), _) = run_to_network(&mut m, &mut store, T0 + 10) else {
        panic!("online pushes at once")
    };
    m.handle(
        T0 + 10,
        Input::PushFailed {
            failure: Failure::Http {
                status: 413,
                retry_after_ms: None,
            },
            message: "413 Payload Too Large".into(),
            online: true,
        },
    );
    let (_, seen) = run_to_network(&mut m, &mut store, T0 + 10);
    assert!(matches!(store.state(&made.id), Some(SyncState::Refused(_))));
    assert!(seen
        .iter()
        .any(|io| matches!(io, Io::Notify(t) if t.contains("refused"))));
    assert!(seen.iter().any(|io| matches!(io, Io::Invalidate(_))));
}

#[test]
fn the_first_catch_up_fills_quietly_and_later_pulls_refetch() {
    let mut store = MemStore::new("device-a");
    let mut m = started(&mut store);
    let (Some(Io::Pull { .. }), _) = run_to_network(&mut m, &mut store, T0) else {
        panic!()
    };
    m.handle(
        T0,
        Input::Pulled {
            next_cursor: 500,
            has_more: true,
            log_end: 0,
            aggregates: vec![CASE.into()],
            bad: 0,
            revoked: Vec::new(),
            refused: 0,
        },
    );
    let (_, seen) = run_to_network(&mut m, &mut store, T0);
    assert!(
        !seen.iter().any(|io| matches!(io, Io::Invalidate(_))),
        "{seen:?}"
    );
    assert!(m.filling());
    m.handle(T0, pulled_nothing(600));
    assert!(!m.filling());
    m.handle(T0, Input::Trigger(Trigger::Notice { cursor: 601 }));
    let (Some(Io::Pull { .. }), _) = run_to_network(&mut m, &mut store, T0) else {
        panic!()
    };
    m.handle(
        T0,
        Input::Pulled {
            next_cursor: 601,
            has_more: false,
            log_end: 0,
            aggregates: vec![CASE.into()],
            bad: 0,
            revoked: Vec::new(),
            refused: 0,
        },
    );
    let seen = drain(&mut m);
    assert!(
        seen.iter().any(|io| matches!(io, Io::Invalidate(_))),
        "{seen:?}"
    );
    assert!(seen
        .iter()
        .any(|io| matches!(io, Io::Tabs(TabNotice::Changed { .. }))));
}

fn letter_of(events: &[DomainEvent], entry: &str) -> DeadLetter {
    DeadLetter {
        request: StoredRequest {
            id: entry.into(),
            url: format!("https://casefile.example{EVENTS_PATH}"),
            method: "POST".into(),
            headers: vec![],
            body: serde_json::to_string(&PushRequest {
                events: events
                    .iter()
                    .map(|e| serde_json::to_value(e).unwrap())
                    .collect(),
            })
            .unwrap(),
            idempotency_key: "batch-x".into(),
            enqueued_at: T0,
            attempts: 3,
            next_attempt_at: T0,
            last_error: None,
            last_status: Some(503),
            user: None,
        },
        reason: "gave up after 3 tries".into(),
        status: Some(503),
        excerpt: String::new(),
        dead_at: T0,
    }
}

#[test]
fn worker_messages_move_queued_events_and_wait_for_a_running_flow() {
    let mut store = MemStore::new("device-a");
    store.append(CASE, &create(), None, T0);
    let mut m = started(&mut store);
    let (Some(Io::Push { batch, .. }), _) = run_to_network(&mut m, &mut store, T0) else {
        panic!()
    };
    m.handle(
        T0,
        Input::PushQueued {
            entry: "q-1".into(),
        },
    );
    let (io, seen) = run_to_network(&mut m, &mut store, T0);
    assert!(seen.contains(&Io::BackgroundSync));
    assert!(matches!(io, Some(Io::Pull { .. })), "{io:?}");
    assert_eq!(
        store.state(&batch[0].id),
        Some(&SyncState::Queued {
            entry: "q-1".into()
        })
    );
    // The worker's answer arrives while a pull runs: it waits for it.
    let answer = ToPage::Synced {
        id: "q-1".into(),
        url: EVENTS_PATH.into(),
        status: 200,
        body: serde_json::to_string(&applied(&batch, 1)).unwrap(),
    };
    m.handle(T0, Input::Worker(answer));
    let (io, _) = run_to_network(&mut m, &mut store, T0);
    assert_eq!(io, None);
    assert!(matches!(
        store.state(&batch[0].id),
        Some(SyncState::Queued { .. })
    ));
    m.handle(T0, pulled_nothing(0));
    let (_, seen) = run_to_network(&mut m, &mut store, T0);
    assert_eq!(
        store.state(&batch[0].id),
        Some(&SyncState::Synced { version: Some(1) }),
        "{seen:?}"
    );
    assert!(seen.contains(&Io::Worker(ToWorker::List)));
}

#[test]
fn a_dead_letter_is_shown_and_a_missed_answer_is_sent_again() {
    let mut store = MemStore::new("device-a");
    let a = store.append(CASE, &create(), None, T0);
    let b = store.append(CASE, &retitle("Two"), None, T0);
    store.commit(
        &[
            StoreOp::Mark {
                id: a.id.clone(),
                change: Change::Queued(crate::queue::queue_id(T0, 1)),
            },
            StoreOp::Mark {
                id: b.id.clone(),
                change: Change::Queued(crate::queue::queue_id(T0, 2)),
            },
        ],
        T0,
    );
    let mut m = started(&mut store);
    idle(&mut m, &mut store, T0);
    m.handle(
        T0,
        Input::Worker(ToPage::DeadLettered {
            letter: Box::new(letter_of(
                std::slice::from_ref(&a),
                &crate::queue::queue_id(T0, 1),
            )),
        }),
    );
    let (_, seen) = run_to_network(&mut m, &mut store, T0);
    assert!(matches!(store.state(&a.id), Some(SyncState::Dead(_))));
    assert!(seen
        .iter()
        .any(|io| matches!(io, Io::Notify(t) if t.contains("could not be delivered"))));
    // Later the listing no longer has b's entry: its answer was missed.
    let later = T0 + 3_600_000;
    m.handle(
        later,
        Input::Worker(ToPage::Listing {
            queued: vec![],
            dead: vec![letter_of(
                std::slice::from_ref(&a),
                &crate::queue::queue_id(T0, 1),
            )],
            user: None,
        }),
    );
    idle(&mut m, &mut store, later);
    assert_eq!(store.state(&b.id), Some(&SyncState::Pending));
    assert!(matches!(store.state(&a.id), Some(SyncState::Dead(_))));
}

fn listing(queued: &[(&[DomainEvent], &str)]) -> Input {
    Input::Worker(ToPage::Listing {
        queued: queued
            .iter()
            .map(|(events, entry)| letter_of(events, entry).request)
            .collect(),
        dead: vec![],
        user: None,
    })
}

/// A creation dead in letter q-1 and, after `then` appended more, the
/// person's discard of q-1.
fn dead_creation_discarded(
    then: impl Fn(&mut MemStore) -> DomainEvent,
) -> (MemStore, SyncMachine, DomainEvent, DomainEvent) {
    let mut store = MemStore::new("device-a");
    let a = store.append(CASE, &create(), None, T0);
    store.commit(
        &[StoreOp::Mark {
            id: a.id.clone(),
            change: Change::Dead("gave up".into()),
        }],
        T0,
    );
    let mut m = started(&mut store);
    idle(&mut m, &mut store, T0);
    let b = then(&mut store);
    let q1 = crate::queue::queue_id(T0, 1);
    m.handle(
        T0,
        Input::Worker(ToPage::Discarded {
            letter: Box::new(letter_of(std::slice::from_ref(&a), &q1)),
        }),
    );
    m.handle(T0, Input::Trigger(Trigger::Appended));
    (store, m, a, b)
}

#[test]
fn a_discarded_copy_does_not_release_its_case_while_another_entry_carries_it() {
    // The page pushed the creation twice without hearing either answer: the
    // worker holds it in q-1 (dead) and q-2 (queued). The person discards
    // q-1; the edit behind the creation must still wait for q-2.
    let q2 = crate::queue::queue_id(T0, 2);
    let (mut store, mut m, a, b) =
        dead_creation_discarded(|store| store.append(CASE, &retitle("Two"), None, T0));
    // `idle` panics on a push: none starts before the listing.
    idle(&mut m, &mut store, T0);
    assert!(matches!(store.state(&a.id), Some(SyncState::Refused(_))));
    m.handle(T0, listing(&[(std::slice::from_ref(&a), &q2)]));
    idle(&mut m, &mut store, T0);
    assert_eq!(
        store.state(&a.id),
        Some(&SyncState::Queued { entry: q2.clone() }),
        "still on its way in q-2"
    );
    assert_eq!(
        store.state(&b.id),
        Some(&SyncState::Pending),
        "the edit waits behind it"
    );
}

#[test]
fn a_discard_waits_for_the_listing_at_most_until_the_next_tick() {
    let other = "c0000000-0000-4000-8000-000000000002";
    let (mut store, mut m, _, _) =
        dead_creation_discarded(|store| store.append(other, &create(), None, T0));
    idle(&mut m, &mut store, T0);
    // No listing ever comes: the next tick lets the push go.
    let at = m.poll_timeout().unwrap();
    assert!(at <= T0 + TICK_MS, "the wait is bounded: {at}");
    m.handle_timeout(T0 + TICK_MS);
    let (io, _) = run_to_network(&mut m, &mut store, T0 + TICK_MS);
    assert!(matches!(io, Some(Io::Push { .. })), "{io:?}");
}

#[test]
fn a_pending_event_the_worker_already_holds_is_not_pushed_again() {
    // After a reload the page lost the worker's 202: the listing tells.
    let mut store = MemStore::new("device-a");
    let a = store.append(CASE, &create(), None, T0);
    let mut m = SyncMachine::new(T0, false, store.cursor, 1);
    m.handle(T0, Input::Trigger(Trigger::Start));
    idle(&mut m, &mut store, T0);
    let other = "c0000000-0000-4000-8000-000000000002";
    let b = store.append(other, &create(), None, T0);
    let q = crate::queue::queue_id(T0, 7);
    let Input::Worker(ToPage::Listing { queued, .. }) = listing(&[(std::slice::from_ref(&a), &q)])
    else {
        unreachable!()
    };
    m.handle(
        T0,
        Input::Worker(ToPage::Listing {
            queued,
            dead: vec![letter_of(std::slice::from_ref(&b), "q-dead")],
            user: None,
        }),
    );
    idle(&mut m, &mut store, T0);
    assert_eq!(store.state(&a.id), Some(&SyncState::Queued { entry: q }));
    assert!(
        matches!(store.state(&b.id), Some(SyncState::Dead(r)) if r.contains("gave up")),
        "one in a dead letter waits for the person there"
    );
    m.handle(T0, Input::Trigger(Trigger::Online));
    idle(&mut m, &mut store, T0);
}

#[test]
fn the_worker_is_nudged_while_it_holds_writes() {
    let mut store = MemStore::new("device-a");
    let mut m = started(&mut store);
    idle(&mut m, &mut store, T0);
    m.handle_timeout(T0 + TICK_MS);
    assert!(
        !idle(&mut m, &mut store, T0 + TICK_MS).contains(&Io::Worker(ToWorker::ReplayNow)),
        "nothing queued"
    );
    m.handle(
        T0 + TICK_MS,
        Input::Worker(ToPage::Stats {
            stats: QueueStats {
                queued: 2,
                ..Default::default()
            },
        }),
    );
    let at = m.poll_timeout().unwrap();
    assert!(at <= T0 + 2 * TICK_MS);
    m.handle_timeout(T0 + 2 * TICK_MS);
    assert!(idle(&mut m, &mut store, T0 + 2 * TICK_MS).contains(&Io::Worker(ToWorker::ReplayNow)));
}

#[test]
fn urls_of_event_pushes_are_recognised() {
    assert!(is_event_push("https://a.example/api/v1/events"));
    assert!(is_event_push("/api/v1/events?x=1"));
    assert!(!is_event_push("https://a.example/api/v1/events/x"));
    assert!(!is_event_push("https://a.example/api/v1/cases"));
    assert_eq!(clamp_wait(0, 10), MIN_WAIT_MS);
    assert_eq!(clamp_wait(u64::MAX, 10), MAX_WAIT_MS);
    assert!(wakes_worker(Trigger::Focus) && !wakes_worker(Trigger::Appended));
}

#[test]
fn a_tab_that_does_not_sync_rereads_after_a_queue_change_only() {
    let stats = ToPage::Stats {
        stats: QueueStats::default(),
    };
    assert!(!follower_rereads(&stats), "figures are shown as they come");
    let listing = ToPage::Listing {
        queued: vec![],
        dead: vec![],
        user: None,
    };
    assert!(!follower_rereads(&listing));
    let queued = ToPage::Queued { id: "q-1".into() };
    assert!(follower_rereads(&queued), "the store may have changed");
}

/// The simulation's worker path found this: an edit held back behind its
/// case's creation (queued in the worker) waited for a trigger that never
/// came once the creation settled by another road (a pull brought it back
/// synced while this page missed the worker's answer).
#[test]
fn an_event_held_back_goes_once_what_held_it_settles_by_a_pull() {
    let mut store = MemStore::new("device-a");
    let a = store.append(CASE, &create(), None, T0);
    store.commit(
        &[StoreOp::Mark {
            id: a.id.clone(),
            change: Change::Queued(crate::queue::queue_id(T0, 1)),
        }],
        T0,
    );
    let mut m = started(&mut store);
    idle(&mut m, &mut store, T0);
    // The edit waits behind the queued creation.
    store.append(CASE, &retitle("Two"), None, T0);
    m.handle(T0, Input::Trigger(Trigger::Appended));
    let later = T0 + 1_000;
    m.handle_timeout(later);
    let (io, _) = run_to_network(&mut m, &mut store, later);
    assert!(!matches!(io, Some(Io::Push { .. })), "held back: {io:?}");
    // The worker delivered the creation; this page missed its message, and
    // a pull brings the creation back.
    let mut created = a.clone();
    created.version = 1;
    let pulled = [PulledEvent {
        seq: 1,
        version: 1,
        event: created,
    }];
    let aggregates = store.receive(&pulled, 1);
    if let Some(Io::Pull { .. }) = io {
        m.handle(
            later,
            Input::Pulled {
                next_cursor: 1,
                has_more: false,
                log_end: 0,
                aggregates,
                bad: 0,
                revoked: Vec::new(),
                refused: 0,
            },
        );
    }
    assert_eq!(
        store.state(&a.id),
        Some(&SyncState::Synced { version: Some(1) })
    );
    // No other trigger: the edit goes on its own.
    let mut pushed = None;
    for step in 1..=40u64 {
        let now = later + step * 1_000;
        m.handle_timeout(now);
        let (io, _) = run_to_network(&mut m, &mut store, now);
        match io {
            Some(Io::Push { batch, .. }) => {
                pushed = Some(batch);
                break;
            }
            Some(Io::Pull { .. }) => m.handle(now, pulled_nothing(store.cursor)),
            _ => {}
        }
    }
    let batch = pushed.expect("the held-back edit was never sent");
    assert_eq!(batch.len(), 1);
    assert_ne!(batch[0].id, a.id);
}

#[test]
fn a_revoked_case_drops_its_queries_and_cached_answers_and_says_what_was_refused() {
    let mut store = MemStore::new("device-a");
    let mut m = started(&mut store);
    idle(&mut m, &mut store, T0);
    m.handle(T0 + 1_000, Input::Trigger(Trigger::SyncNow));
    let (Some(Io::Pull { .. }), _) = run_to_network(&mut m, &mut store, T0 + 1_000) else {
        panic!("a pull")
    };
    m.handle(
        T0 + 1_000,
        Input::Pulled {
            next_cursor: 5,
            has_more: false,
            log_end: 0,
            aggregates: vec![],
            bad: 0,
            revoked: vec![CASE.into()],
            refused: 2,
        },
    );
    let seen = drain(&mut m);
    assert!(seen.contains(&Io::Revoked(vec![CASE.into()])), "{seen:?}");
    assert!(
        seen.iter().any(|io| matches!(io, Io::Notify(t)
            if t.starts_with("2 unsent changes were refused: you no longer have access"))),
        "{seen:?}"
    );
    assert!(
        seen.contains(&Io::Changed(vec![CASE.into()])),
        "re-read: {seen:?}"
    );
    assert!(seen.iter().any(|io| matches!(io, Io::Invalidate(_))));
    assert!(
        seen.contains(&Io::Read(Read::Counts)),
        "the badge counts them"
    );
}

/// A new device's first catch-up asks for the server's largest page (fewer
/// round trips and store transactions), fetches each next page while it
/// stores one, and says how far it has come; once it has the log, pulls go
/// back to the usual page, one at a time.
#[test]
fn a_first_catch_up_pulls_the_largest_pages_ahead_then_the_usual_ones() {
    let mut store = MemStore::new("device-a");
    let mut m = started(&mut store);
    let (Some(Io::Pull { limit, ahead }), _) = run_to_network(&mut m, &mut store, T0) else {
        panic!("a new device pulls first");
    };
    assert_eq!(limit, CATCH_UP_PAGE);
    assert!(ahead, "the next page is fetched while this one is stored");
    let page = |next_cursor, has_more| Input::Pulled {
        next_cursor,
        has_more,
        log_end: 2_000,
        aggregates: vec![CASE.into()],
        bad: 0,
        revoked: Vec::new(),
        refused: 0,
    };
    assert_eq!(m.figures().catching_up, None, "nothing heard yet");
    m.handle(T0 + 1, page(1_000, true));
    assert_eq!(m.figures().catching_up, Some(50), "half the log is here");
    let (Some(Io::Pull { limit, ahead }), _) = run_to_network(&mut m, &mut store, T0 + 1) else {
        panic!("more to come: the next page");
    };
    assert_eq!((limit, ahead), (CATCH_UP_PAGE, true), "still catching up");
    m.handle(T0 + 2, page(2_000, false));
    assert!(!m.filling());
    assert_eq!(m.figures().catching_up, None, "done");
    m.handle(T0 + 3, Input::Trigger(Trigger::Appended));
    m.handle_timeout(T0 + 60_000);
    let (Some(Io::Pull { limit, ahead }), _) = run_to_network(&mut m, &mut store, T0 + 60_000)
    else {
        panic!("a later pull");
    };
    assert_eq!(limit, PULL_PAGE);
    assert!(!ahead, "a later pull fetches nothing it may not need");
}

#[test]
fn catch_up_percent_is_bounded_and_never_says_done_early() {
    assert_eq!(catch_up_percent(0, 0), 0);
    assert_eq!(catch_up_percent(500, 1_000), 50);
    assert_eq!(catch_up_percent(1_000, 1_000), 99);
    assert_eq!(catch_up_percent(5_000, 1_000), 99);
    assert_eq!(catch_up_percent(-3, 1_000), 0);
    assert_eq!(catch_up_percent(i64::MAX, i64::MAX), 99);
}

/// An empty server's log ends at cursor 0: a device whose first catch-up
/// reached that end, and whose own writes were sent before any later pull,
/// restarts at cursor 0 with a whole copy. It must not wait for the server's
/// list (which a stopped server or an ended session never gives).
#[test]
fn a_log_caught_up_once_is_not_filling_at_cursor_zero() {
    let fresh = SyncMachine::new(T0, true, 0, 1);
    assert!(fresh.filling(), "a new log waits for its first catch-up");
    let restarted = SyncMachine::new(T0, true, 0, 1).caught_up_once(true);
    assert!(!restarted.filling(), "the store says it once caught up");
    let never = SyncMachine::new(T0, true, 0, 1).caught_up_once(false);
    assert!(never.filling());
}
