use super::*;
use crate::api::{CaseStatus, Priority};
use proptest::prelude::*;
use serde_json::json;

const CASE: &str = "11111111-2222-4333-8444-555555555555";

fn uuid(n: u64) -> String {
    format!("00000000-0000-4000-8000-{n:012x}")
}

fn event(node: &str, clock: u64, base: u64, data: EventData) -> DomainEvent {
    let header = EventHeader {
        id: uuid(clock * 1000 + node.bytes().map(u64::from).sum::<u64>()),
        aggregate_id: CASE.into(),
        node_id: node.into(),
        clock,
        base_version: base,
        timestamp: 1_790_000_000_000 + clock,
    };
    DomainEvent::new(header, &data)
}

fn created(title: &str) -> EventData {
    crate::sync::testkit::new_case(title)
}

fn patch(p: CasePatch) -> EventData {
    EventData::CaseUpdated(p)
}

#[test]
fn a_sealed_event_verifies_and_survives_json() {
    let e = event("a", 1, 0, created("Rent arrears"));
    assert_eq!(e.checksum.len(), 64);
    e.verify().unwrap();
    let text = serde_json::to_string(&e).unwrap();
    let back: DomainEvent = serde_json::from_str(&text).unwrap();
    back.verify().unwrap();
    assert_eq!(back, e);
}

#[test]
fn tampering_is_detected() {
    let mut e = event("a", 1, 0, created("Rent arrears"));
    e.data["title"] = json!("Something else");
    assert!(matches!(e.verify(), Err(EventError::Checksum { .. })));
    let mut e = event("a", 1, 0, created("Rent arrears"));
    e.clock = 2;
    assert!(e.verify().is_err(), "every field is covered, not only data");
}

#[test]
fn the_checksum_ignores_key_order_inside_data() {
    let a = event("a", 1, 0, created("X"));
    let mut b = a.clone();
    let reordered: serde_json::Value = serde_json::from_str(
        r#"{"tags":[],"title":"X","status":"open","priority":"medium","description":"","assignee":null}"#,
    )
    .unwrap();
    b.data = reordered;
    assert_eq!(a.compute_checksum(), b.compute_checksum());
}

#[test]
fn validation_rejects_bad_payloads_with_a_reason() {
    let ok = event("a", 1, 0, created("Fine"));
    assert!(ok.validate().is_ok());

    let cases: Vec<(DomainEvent, &str)> = vec![
        (event("a", 1, 0, created("   ")), "title: is required"),
        // PostgreSQL text takes no NUL: found by the server's fuzzer.
        (
            event("a", 1, 0, created("a\0b")),
            "title: may not contain the NUL character",
        ),
        (
            event("a", 1, 0, created(&"x".repeat(201))),
            "title: may be at most 200 characters",
        ),
        (
            event("a", 1, 0, patch(CasePatch::default())),
            "at least one field",
        ),
        (
            event(
                "a",
                1,
                0,
                patch(CasePatch {
                    tags: Some(vec!["t".into(); 21]),
                    ..Default::default()
                }),
            ),
            "at most 20 tags",
        ),
        (
            event("a", 1, 3, created("Late create")),
            "base_version: a new case starts from version 0",
        ),
    ];
    for (e, expected) in cases {
        let err = e.validate().unwrap_err().to_string();
        assert!(err.contains(expected), "{err} should mention {expected}");
    }

    let mut unknown_field = event("a", 1, 0, created("X"));
    unknown_field.data["colour"] = json!("red");
    let err = unknown_field.validate().unwrap_err().to_string();
    assert!(err.contains("unknown field `colour`"), "{err}");

    let mut bad_enum = event(
        "a",
        1,
        0,
        patch(CasePatch {
            status: Some(CaseStatus::Closed),
            ..Default::default()
        }),
    );
    bad_enum.data["status"] = json!("archived");
    assert!(bad_enum
        .validate()
        .unwrap_err()
        .to_string()
        .contains("archived"));

    let mut bad_id = ok.clone();
    bad_id.id = "not-a-uuid".into();
    assert!(bad_id.validate().unwrap_err().to_string().contains("id:"));

    let mut bad_version = ok.clone();
    bad_version.version = 7;
    assert!(bad_version
        .validate()
        .unwrap_err()
        .to_string()
        .contains("version"));

    let mut data_on_delete = event("a", 2, 1, EventData::CaseDeleted);
    data_on_delete.data = json!({"why": "x"});
    assert!(data_on_delete.validate().is_err());
}

#[test]
fn unknown_envelope_fields_are_refused() {
    let mut v = serde_json::to_value(event("a", 1, 0, created("X"))).unwrap();
    v["extra"] = json!(1);
    let err = serde_json::from_value::<DomainEvent>(v)
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown field `extra`"), "{err}");
}

#[test]
fn an_explicit_null_assignee_clears_and_an_absent_one_keeps() {
    let clear: CasePatch = serde_json::from_value(json!({"assignee": null})).unwrap();
    assert_eq!(clear.assignee, Some(None));
    let keep: CasePatch = serde_json::from_value(json!({"title": "t"})).unwrap();
    assert_eq!(keep.assignee, None);
    assert_eq!(
        serde_json::to_value(&clear).unwrap(),
        json!({"assignee": null})
    );
}

fn history() -> Vec<DomainEvent> {
    vec![
        event("a", 1, 0, created("Housing")),
        event(
            "a",
            2,
            1,
            patch(CasePatch {
                status: Some(CaseStatus::InReview),
                ..Default::default()
            }),
        ),
        event(
            "b",
            3,
            2,
            patch(CasePatch {
                assignee: Some(Some("D. Haddad".into())),
                ..Default::default()
            }),
        ),
        event(
            "b",
            4,
            3,
            EventData::NoteAdded(NoteData {
                note_id: uuid(77),
                body: "Called the landlord".into(),
                author: "D. Haddad".into(),
            }),
        ),
        event(
            "a",
            5,
            4,
            patch(CasePatch {
                title: Some("Housing benefit".into()),
                ..Default::default()
            }),
        ),
        event("a", 6, 5, EventData::CaseDeleted),
        event("b", 7, 6, EventData::CaseRestored),
    ]
}

#[test]
fn replay_folds_events_into_the_case() {
    let view = replay(&history()).expect("the case exists");
    assert_eq!(view.case.title, "Housing benefit");
    assert_eq!(view.case.status, CaseStatus::InReview);
    assert_eq!(view.case.assignee.as_deref(), Some("D. Haddad"));
    assert!(!view.case.deleted, "deleted, then restored");
    assert_eq!(view.case.version, 7);
    assert_eq!(view.notes.len(), 1);
    assert_eq!(view.notes[0].body, "Called the landlord");
}

#[test]
fn replay_up_to_an_event_shows_the_case_as_it_was() {
    let h = history();
    let at_delete = replay(&h[..6]).unwrap();
    assert!(at_delete.case.deleted);
    assert_eq!(replay(&h[..1]).unwrap().case.title, "Housing");
}

#[test]
fn updates_before_the_creation_and_repeated_creations_change_nothing() {
    let orphan = event(
        "a",
        1,
        0,
        patch(CasePatch {
            title: Some("x".into()),
            ..Default::default()
        }),
    );
    assert_eq!(replay(&[orphan]), None);
    let twice = vec![
        event("a", 1, 0, created("First")),
        event("b", 2, 0, created("Second")),
    ];
    assert_eq!(replay(&twice).unwrap().case.title, "First");
}

#[test]
fn a_snapshot_plus_the_rest_equals_a_full_replay() {
    let h = history();
    let snap = Snapshot::of(&h[..4]).unwrap();
    assert_eq!(replay_from(Some(&snap), &h), replay(&h));
    assert_eq!(replay_from(None, &h), replay(&h));
    assert!(snap.holds_after(&h[4].stamp()));
    assert!(
        !snap.holds_after(&h[1].stamp()),
        "a late event before the snapshot voids it"
    );
}

proptest! {
    #[test]
    fn replay_is_the_same_under_any_delivery_order(order in Just((0..7usize).collect::<Vec<_>>()).prop_shuffle()) {
        let h = history();
        let shuffled: Vec<DomainEvent> = order.iter().map(|&i| h[i].clone()).collect();
        prop_assert_eq!(replay(&shuffled), replay(&h));
    }
}

fn update(node: &str, clock: u64, base: u64, p: CasePatch) -> DomainEvent {
    event(node, clock, base, patch(p))
}

fn title(t: &str) -> CasePatch {
    CasePatch {
        title: Some(t.into()),
        ..Default::default()
    }
}

#[test]
fn conflicts_are_concurrent_writes_to_the_same_field() {
    let a = update("a", 5, 3, title("A"));
    let b = update("b", 6, 3, title("B"));
    let b_status = update(
        "b",
        6,
        3,
        CasePatch {
            status: Some(CaseStatus::Closed),
            ..Default::default()
        },
    );
    let b_later = update("b", 7, 4, title("B"));
    let a_again = update("a", 8, 3, title("A2"));
    assert_eq!(overlap(&a, &b), Some(["title"].into()));
    assert_eq!(overlap(&a, &b_status), None, "disjoint fields merge");
    assert_eq!(overlap(&a, &b_later), None, "sequential, not concurrent");
    assert_eq!(
        overlap(&a, &a_again),
        None,
        "one device's own writes are ordered"
    );
    let found = detect_conflicts(&[a, b, b_status]);
    assert_eq!(found, vec![(0, 1, ["title"].into())]);
}

#[test]
fn each_policy_settles_a_conflict() {
    let mine_early = update(
        "a",
        5,
        3,
        CasePatch {
            title: Some("Mine".into()),
            priority: Some(Priority::High),
            ..Default::default()
        },
    );
    let theirs = update(
        "b",
        6,
        3,
        CasePatch {
            title: Some("Theirs".into()),
            ..Default::default()
        },
    );
    let mine_late = update(
        "a",
        7,
        3,
        CasePatch {
            title: Some("Mine".into()),
            priority: Some(Priority::High),
            ..Default::default()
        },
    );

    assert_eq!(
        resolve(ConflictPolicy::ServerWins, &mine_late, &theirs),
        Resolution::Overrule
    );
    assert_eq!(
        resolve(ConflictPolicy::Manual, &mine_late, &theirs),
        Resolution::Park
    );
    assert_eq!(
        resolve(ConflictPolicy::ClientWins, &mine_early, &theirs),
        Resolution::Overrule
    );
    assert!(
        matches!(resolve(ConflictPolicy::ClientWins, &mine_late, &theirs), Resolution::Rebase(p) if p.title.as_deref() == Some("Mine"))
    );
    // Merge: my priority survives; the title goes to the later writer.
    assert_eq!(
        resolve(ConflictPolicy::Merge, &mine_early, &theirs),
        Resolution::Rebase(CasePatch {
            priority: Some(Priority::High),
            ..Default::default()
        })
    );
    assert!(
        matches!(resolve(ConflictPolicy::Merge, &mine_late, &theirs), Resolution::Rebase(p) if p.title.as_deref() == Some("Mine"))
    );
    assert_eq!(ConflictPolicy::default(), ConflictPolicy::Merge);
    // Merging away every field leaves nothing to re-apply.
    let only_title = update("a", 5, 3, title("Mine"));
    assert_eq!(
        resolve(ConflictPolicy::Merge, &only_title, &theirs),
        Resolution::Overrule
    );
}

#[test]
fn batches_go_in_stamp_order_and_respect_both_limits() {
    let events: Vec<DomainEvent> = (1..=12u64)
        .rev()
        .map(|n| {
            update(
                if n % 2 == 0 { "a" } else { "b" },
                n,
                n,
                title(&"t".repeat(100)),
            )
        })
        .collect();
    let batch = next_batch_within(&events, 5, usize::MAX);
    assert_eq!(
        batch.iter().map(|e| e.clock).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );
    let one_size = serde_json::to_vec(&events[0]).unwrap().len();
    let by_bytes = next_batch_within(&events, 500, 3 * one_size + 10);
    assert_eq!(by_bytes.len(), 3);
    // A single event over the byte limit still goes, alone.
    assert_eq!(next_batch_within(&events, 500, 10).len(), 1);
    assert!(next_batch(&[]).is_empty());
    assert_eq!(MAX_BATCH_EVENTS, 500);
    assert_eq!(MAX_BATCH_BYTES, 262_144);
}

#[test]
fn each_answer_maps_to_a_local_action() {
    use crate::api::{PushResponse, PushResult, PushStatus};
    let events: Vec<DomainEvent> = (1..=5u64).map(|n| update("a", n, n, title("x"))).collect();
    let sent: Vec<&DomainEvent> = events.iter().collect();
    let r = |i: usize, status, version, message: Option<&str>| PushResult {
        id: events[i].id.clone(),
        status,
        version,
        message: message.map(str::to_string),
        conflicts_with: if status == PushStatus::Conflict {
            vec!["theirs".into()]
        } else {
            vec![]
        },
        code: None,
    };
    let response = PushResponse {
        results: vec![
            r(0, PushStatus::Applied, Some(2), None),
            r(1, PushStatus::Duplicate, Some(3), None),
            r(2, PushStatus::Invalid, None, Some("title: is required")),
            r(
                3,
                PushStatus::Conflict,
                Some(7),
                Some("another device changed title"),
            ),
        ],
        cursor: 9,
    };
    assert_eq!(
        read_response(&sent, &response),
        vec![
            LocalAction::MarkSynced {
                id: events[0].id.clone(),
                version: 2
            },
            LocalAction::MarkSynced {
                id: events[1].id.clone(),
                version: 3
            },
            LocalAction::Reject {
                id: events[2].id.clone(),
                reason: "title: is required".into()
            },
            LocalAction::Conflict {
                id: events[3].id.clone(),
                theirs: vec!["theirs".into()],
                version: Some(7)
            },
            LocalAction::Retry {
                id: events[4].id.clone()
            },
        ]
    );
}

fn applied(id: &str, node: &str, fields: &[&str]) -> Applied {
    Applied {
        id: id.into(),
        node_id: node.into(),
        fields: fields.iter().map(|f| f.to_string()).collect(),
    }
}

#[test]
fn the_server_rule_applies_refuses_or_reports_a_conflict() {
    let create = event("a", 1, 0, created("New"));
    let data = create.typed_data().unwrap();
    assert_eq!(
        judge(&create, &data, None, &[]),
        Verdict::Apply { version: 1 }
    );
    assert!(
        matches!(judge(&create, &data, Some(1), &[]), Verdict::Refuse(m) if m.contains("already exists"))
    );

    let retitle = update("a", 5, 3, title("T"));
    let data = retitle.typed_data().unwrap();
    assert!(
        matches!(judge(&retitle, &data, None, &[]), Verdict::Missing { code: crate::api::RefusalCode::UnknownCase, reason } if reason.contains("no case"))
    );
    assert_eq!(
        judge(&retitle, &data, Some(3), &[]),
        Verdict::Apply { version: 4 }
    );
    assert!(
        matches!(judge(&retitle, &data, Some(2), &[]), Verdict::Missing { code: crate::api::RefusalCode::UnknownVersion, reason } if reason.contains("based on version 3"))
    );
    // Behind by two: another device's title change conflicts, its status
    // change and this device's own change do not.
    let since = [
        applied("x", "b", &["status"]),
        applied("y", "a", &["title"]),
    ];
    assert_eq!(
        judge(&retitle, &data, Some(5), &since),
        Verdict::Apply { version: 6 }
    );
    let since = [
        applied("x", "b", &["status"]),
        applied("z", "b", &["title", "tags"]),
    ];
    assert_eq!(
        judge(&retitle, &data, Some(5), &since),
        Verdict::Conflict {
            with: vec!["z".into()],
            current: 5
        }
    );
}

#[test]
fn a_manual_conflict_shows_each_field_side_by_side_and_resolves_per_field() {
    let base = replay(&[event("A", 1, 0, created("Rent arrears"))])
        .unwrap()
        .case;
    let theirs_patch = CasePatch {
        title: Some("Rent arrears (urgent)".into()),
        priority: Some(Priority::High),
        ..CasePatch::default()
    };
    let theirs = replay(&[
        event("A", 1, 0, created("Rent arrears")),
        event("B", 2, 1, EventData::CaseUpdated(theirs_patch)),
    ])
    .unwrap()
    .case;
    let mine = CasePatch {
        title: Some("Rent arrears – payment plan".into()),
        status: Some(CaseStatus::InReview),
        assignee: Some(None),
        ..CasePatch::default()
    };
    let rows = sides(Some(&base), &mine, &theirs);
    let by_field: Vec<(&str, &str, &str, &str)> = rows
        .iter()
        .map(|r| (r.field, r.base.as_str(), r.mine.as_str(), r.theirs.as_str()))
        .collect();
    assert_eq!(
        by_field,
        [
            ("assignee", "Unassigned", "Unassigned", "Unassigned"),
            ("status", "Open", "In review", "Open"),
            (
                "title",
                "Rent arrears",
                "Rent arrears – payment plan",
                "Rent arrears (urgent)"
            ),
        ]
    );
    // Keep my status, their title: the resolution carries only my status.
    let keep: std::collections::BTreeSet<&str> = ["status"].into();
    let patch = resolution(&mine, &keep).unwrap();
    assert_eq!(
        patch,
        CasePatch {
            status: Some(CaseStatus::InReview),
            ..CasePatch::default()
        }
    );
    // Keeping nothing of mine appends nothing.
    assert_eq!(resolution(&mine, &Default::default()), None);
    // The base is the server's case at the update's base version.
    let later = CasePatch {
        title: Some("Later".into()),
        ..CasePatch::default()
    };
    let log = [
        (1, event("A", 1, 0, created("Rent arrears"))),
        (2, event("B", 2, 1, EventData::CaseUpdated(later))),
    ];
    assert_eq!(case_at_version(&log, 1).unwrap().title, "Rent arrears");
    assert_eq!(case_at_version(&log, 2).unwrap().title, "Later");
    assert_eq!(case_at_version(&log, 0), None);
    assert_eq!(field_label("status"), "Status");
    // An unknown base says so rather than guessing.
    assert_eq!(sides(None, &mine, &theirs)[0].base, "unknown");
}

/// The canonical encoding is part of the wire: every checksum already
/// stored on devices and the server was made with it. These bytes and
/// checksums were printed by the encoder before it was made faster; any
/// change to them breaks every stored event.
#[test]
fn the_canonical_encoding_stays_byte_for_byte_the_same() {
    let mut e = event(
        "node \"ü\"\\",
        7,
        2,
        EventData::CaseCreated(CaseFields {
            title: "Tab\there, \u{1}, ☃ and \"quotes\"".into(),
            description: "line\nbreak".into(),
            status: CaseStatus::Open,
            priority: Priority::High,
            assignee: None,
            tags: vec!["b".into(), "a</script>".into()],
            team: Some("north".into()),
        }),
    );
    e.correlation_id = Some("corr".into());
    e.data["nested"] =
        json!({"z": [1, -2.5, true, null], "a": {"y": 1, "b": 18446744073709551615u64}});
    let e = e.seal();
    assert_eq!(
        String::from_utf8(e.canonical_bytes()).unwrap(),
        r#"{"aggregate_id":"11111111-2222-4333-8444-555555555555","aggregate_type":"case","base_version":2,"causation_id":null,"clock":7,"correlation_id":"corr","data":{"assignee":null,"description":"line\nbreak","nested":{"a":{"b":18446744073709551615,"y":1},"z":[1,-2.5,true,null]},"priority":"high","status":"open","tags":["b","a</script>"],"team":"north","title":"Tab\there, \u0001, ☃ and \"quotes\""},"event_type":"case.created","id":"00000000-0000-4000-8000-000000001f3d","node_id":"node \"ü\"\\","timestamp":1790000000007,"version":3}"#
    );
    assert_eq!(
        e.checksum,
        "2666bd528f6c90f322df6f838600896ed92e0e0f7035e29defa04a881bee0cfc"
    );
    let update = event(
        "a",
        1,
        0,
        patch(CasePatch {
            assignee: Some(None),
            ..Default::default()
        }),
    );
    assert_eq!(
        update.checksum,
        "7ba2386156adba09a9d4900e04c76e3633cb0f3487763e5c181a9e3345090e90"
    );
    update.verify().unwrap();
    e.verify().unwrap();
}
