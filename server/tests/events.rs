//! The write path: idempotent ingestion, conflicts, validation, pull paging.

mod common;

use axum::http::StatusCode;
use axum::Router;
use casefile_core::api::{Case, PullResponse, PushResponse, PushStatus};
use casefile_core::api::{CaseStatus, Priority};
use casefile_core::event::{CaseFields, CasePatch, DomainEvent, EventData, EventHeader};
use casefile_server::{app, AppState};
use common::{get, post_json};
use serde_json::json;

struct Server {
    app: Router,
    _dir: tempfile::TempDir,
}

async fn server() -> Server {
    let (db, dir) = common::fresh_db().await;
    let state = AppState::new(db);
    Server {
        app: app(state, dir.path().join("dist")),
        _dir: dir,
    }
}

const CASE: &str = "6f1c2d3e-4b5a-4c6d-8e7f-901234567890";

fn uuid(n: u64) -> String {
    format!("00000000-0000-4000-8000-{n:012x}")
}

fn event(n: u64, node: &str, base: u64, data: EventData) -> DomainEvent {
    let header = EventHeader {
        id: uuid(n),
        aggregate_id: CASE.into(),
        node_id: node.into(),
        clock: n,
        base_version: base,
        timestamp: 1_790_000_000_000 + n,
    };
    DomainEvent::new(header, &data)
}

fn create(n: u64) -> DomainEvent {
    event(n, "phone", 0, new_case("Rent arrears", Priority::High))
}

fn new_case(title: &str, priority: Priority) -> EventData {
    EventData::CaseCreated(CaseFields {
        title: title.into(),
        description: String::new(),
        status: CaseStatus::Open,
        priority,
        assignee: None,
        tags: vec![],
        team: None,
    })
}

fn update(n: u64, node: &str, base: u64, patch: CasePatch) -> DomainEvent {
    event(n, node, base, EventData::CaseUpdated(patch))
}

/// A change made on the phone at `clock`, based on the case's first version.
fn from_phone(clock: u64, patch: CasePatch) -> DomainEvent {
    update(clock, "phone", 1, patch)
}

fn batch(events: &[&DomainEvent]) -> String {
    json!({ "events": events }).to_string()
}

async fn push(app: &Router, events: &[&DomainEvent], key: Option<&str>) -> PushResponse {
    let headers: Vec<(&str, &str)> = key.map(|k| ("idempotency-key", k)).into_iter().collect();
    common::push_ok(app, &batch(events), &headers).await
}

async fn pull_all(app: &Router) -> PullResponse {
    get(app, "/api/v1/events?after=0&limit=1000").await.json()
}

#[tokio::test]
async fn an_applied_event_updates_the_projection_and_can_be_pulled() {
    let s = server().await;
    let created = create(1);
    let r = push(&s.app, &[&created], None).await;
    assert_eq!(r.results[0].status, PushStatus::Applied);
    assert_eq!(r.results[0].version, Some(1));
    let case: Case = get(&s.app, &format!("/api/v1/cases/{CASE}")).await.json();
    assert_eq!(case.title, "Rent arrears");
    assert_eq!(case.version, 1);
    let pulled = pull_all(&s.app).await;
    assert_eq!(pulled.events.len(), 1);
    assert_eq!(pulled.events[0].event, created);
    pulled.events[0]
        .event
        .verify()
        .expect("checksum intact after the round trip");
    assert_eq!(pulled.next_cursor, r.cursor);
}

#[tokio::test]
async fn the_same_event_twice_is_a_duplicate_never_applied_again() {
    let s = server().await;
    let created = create(1);
    let retitle = update(
        2,
        "phone",
        1,
        CasePatch {
            title: Some("New".into()),
            ..Default::default()
        },
    );
    push(&s.app, &[&created, &retitle], None).await;
    let again = push(&s.app, &[&retitle], None).await;
    assert_eq!(again.results[0].status, PushStatus::Duplicate);
    assert_eq!(again.results[0].version, Some(2));
    // Twice in one batch: the second is a duplicate.
    let twice = update(
        3,
        "phone",
        2,
        CasePatch {
            priority: Some(Priority::Low),
            ..Default::default()
        },
    );
    let r = push(&s.app, &[&twice, &twice], None).await;
    assert_eq!(
        r.results.iter().map(|x| x.status).collect::<Vec<_>>(),
        vec![PushStatus::Applied, PushStatus::Duplicate]
    );
    assert_eq!(pull_all(&s.app).await.events.len(), 3);
    let case: Case = get(&s.app, &format!("/api/v1/cases/{CASE}")).await.json();
    assert_eq!(case.version, 3);
}

#[tokio::test]
async fn a_replayed_batch_with_its_idempotency_key_gets_the_same_answer() {
    let s = server().await;
    let created = create(1);
    let first = push(&s.app, &[&created], Some("batch-1")).await;
    let replay = push(&s.app, &[&created], Some("batch-1")).await;
    assert_eq!(replay, first, "the stored answer, not a fresh 'duplicate'");
    assert_eq!(pull_all(&s.app).await.events.len(), 1);
}

#[tokio::test]
async fn concurrent_pushes_of_the_same_event_apply_it_once() {
    let s = server().await;
    let created = create(1);
    push(&s.app, &[&created], None).await;
    let e = update(
        2,
        "phone",
        1,
        CasePatch {
            title: Some("Once".into()),
            ..Default::default()
        },
    );
    let one = [&e];
    let (a, b) = tokio::join!(push(&s.app, &one, None), push(&s.app, &one, None));
    let mut statuses = vec![a.results[0].status, b.results[0].status];
    statuses.sort_by_key(|s| format!("{s:?}"));
    assert_eq!(statuses, vec![PushStatus::Applied, PushStatus::Duplicate]);
    assert_eq!(pull_all(&s.app).await.events.len(), 2);
}

/// Writers on several threads at once (the multi-threaded runtime the
/// server runs on, not one thread taking turns), with a reader pulling
/// after its cursor all along: the same event pushed by 8 writers is
/// applied once, and the reader sees every event exactly once, none
/// skipped by a cursor that passed an event committed late.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writers_on_many_threads_apply_an_event_once_and_a_reader_sees_each_once() {
    let s = server().await;
    push(&s.app, &[&create(1)], None).await;
    let shared = update(
        2,
        "phone",
        1,
        CasePatch {
            title: Some("Once".into()),
            ..Default::default()
        },
    );
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let app = s.app.clone();
        let done = done.clone();
        tokio::spawn(async move {
            let (mut after, mut seen) = (0i64, Vec::new());
            loop {
                let last = done.load(std::sync::atomic::Ordering::SeqCst);
                let page: PullResponse =
                    get(&app, &format!("/api/v1/events?after={after}&limit=1000"))
                        .await
                        .json();
                seen.extend(page.events.iter().map(|e| e.event.id.clone()));
                after = page.next_cursor;
                if last && !page.has_more {
                    return seen;
                }
                tokio::task::yield_now().await;
            }
        })
    };
    let mut writers = Vec::new();
    for i in 0..8u64 {
        let app = s.app.clone();
        let shared = shared.clone();
        let own = DomainEvent::new(
            EventHeader {
                id: uuid(100 + i),
                aggregate_id: uuid(1000 + i),
                node_id: format!("tablet-{i}"),
                clock: 1,
                base_version: 0,
                timestamp: 1_790_000_000_000,
            },
            &new_case(&format!("Case {i}"), Priority::Low),
        );
        writers.push(tokio::spawn(async move {
            let a = push(&app, &[&shared], None).await.results[0].status;
            let b = push(&app, &[&own], None).await.results[0].status;
            (a, b)
        }));
    }
    let mut applied = 0;
    for w in writers {
        let (shared, own) = w.await.unwrap();
        assert_eq!(own, PushStatus::Applied);
        match shared {
            PushStatus::Applied => applied += 1,
            PushStatus::Duplicate => {}
            other => panic!("the shared edit answered {other:?}"),
        }
    }
    assert_eq!(applied, 1, "applied once, duplicate for the 7 others");
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let seen = reader.await.unwrap();
    let unique: std::collections::BTreeSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no event seen twice");
    assert_eq!(seen.len(), 1 + 1 + 8, "every event seen: {seen:?}");
    assert_eq!(pull_all(&s.app).await.events.len(), 10);
}

#[tokio::test]
async fn concurrent_writes_to_the_same_field_conflict_and_disjoint_ones_merge() {
    let s = server().await;
    push(&s.app, &[&create(1)], None).await;
    let laptop = update(
        2,
        "laptop",
        1,
        CasePatch {
            title: Some("Laptop".into()),
            ..Default::default()
        },
    );
    let phone_title = update(
        3,
        "phone",
        1,
        CasePatch {
            title: Some("Phone".into()),
            ..Default::default()
        },
    );
    let phone_status = update(
        4,
        "phone",
        1,
        CasePatch {
            status: Some(CaseStatus::Closed),
            ..Default::default()
        },
    );
    push(&s.app, &[&laptop], None).await;
    let r = push(&s.app, &[&phone_title, &phone_status], None).await;
    assert_eq!(r.results[0].status, PushStatus::Conflict);
    assert_eq!(r.results[0].conflicts_with, vec![laptop.id.clone()]);
    assert_eq!(r.results[0].version, Some(2));
    assert_eq!(
        r.results[1].status,
        PushStatus::Applied,
        "a different field merges"
    );
    let case: Case = get(&s.app, &format!("/api/v1/cases/{CASE}")).await.json();
    assert_eq!(case.title, "Laptop");
    assert_eq!(case.status, CaseStatus::Closed);
    assert_eq!(case.version, 3);
}

/// One device's two changes to a field, the older arriving last (the worker
/// replays a queued push after a newer one went straight through): the
/// server keeps the newer, as every device does when it replays the case in
/// stamp order.
#[tokio::test]
async fn an_older_change_from_the_same_device_arriving_late_goes_underneath() {
    let s = server().await;
    push(&s.app, &[&create(1)], None).await;
    let priority = |n, p| {
        let patch = CasePatch {
            priority: Some(p),
            ..Default::default()
        };
        from_phone(n, patch)
    };
    let older = priority(2, Priority::Low);
    let newer = priority(3, Priority::Critical);
    let title = update(
        4,
        "phone",
        1,
        CasePatch {
            title: Some("Arrears, late".into()),
            ..Default::default()
        },
    );
    push(&s.app, &[&newer], None).await;
    let r = push(&s.app, &[&older, &title], None).await;
    assert_eq!(r.results[0].status, PushStatus::Applied);
    assert_eq!(r.results[1].status, PushStatus::Applied);
    let case: Case = get(&s.app, &format!("/api/v1/cases/{CASE}")).await.json();
    assert_eq!(case.priority, Priority::Critical, "the newer change stays");
    assert_eq!(case.title, "Arrears, late", "the later title applies");
    assert_eq!(case.version, 4);
    let all: Vec<DomainEvent> = pull_all(&s.app)
        .await
        .events
        .into_iter()
        .map(|p| DomainEvent {
            version: p.version as u64,
            ..p.event
        })
        .collect();
    let replayed = casefile_core::event::replay(&all).unwrap();
    assert_eq!(
        replayed.case, case,
        "the server's case is the devices' replay"
    );
}

/// The same, inside one batch: the batch keeps what it has stored in mind
/// rather than asking the database per event, and must still see the newer
/// change it has just stored.
#[tokio::test]
async fn an_older_change_behind_a_newer_one_in_the_same_batch_goes_underneath() {
    let s = server().await;
    let status = |n, st| {
        let patch = CasePatch {
            status: Some(st),
            ..Default::default()
        };
        from_phone(n, patch)
    };
    let newer = status(3, CaseStatus::Closed);
    let older = status(2, CaseStatus::InReview);
    let r = push(&s.app, &[&create(1), &newer, &older, &newer], None).await;
    assert_eq!(
        r.results.iter().map(|x| x.status).collect::<Vec<_>>(),
        vec![
            PushStatus::Applied,
            PushStatus::Applied,
            PushStatus::Applied,
            PushStatus::Duplicate
        ]
    );
    let case: Case = get(&s.app, &format!("/api/v1/cases/{CASE}")).await.json();
    assert_eq!(case.status, CaseStatus::Closed, "the newer change stays");
    assert_eq!(case.version, 3);
}

#[tokio::test]
async fn invalid_events_are_refused_one_by_one_with_a_reason() {
    let s = server().await;
    let good = create(1);
    let mut tampered = update(
        2,
        "phone",
        1,
        CasePatch {
            title: Some("x".into()),
            ..Default::default()
        },
    );
    tampered.data["title"] = json!("changed after sealing");
    let empty_title = update(
        3,
        "phone",
        1,
        CasePatch {
            title: Some("  ".into()),
            ..Default::default()
        },
    );
    let mut unknown_case = update(
        4,
        "phone",
        0,
        CasePatch {
            title: Some("x".into()),
            ..Default::default()
        },
    );
    unknown_case.aggregate_id = uuid(999);
    let unknown_case = unknown_case.seal();
    let from_the_future = update(
        5,
        "phone",
        9,
        CasePatch {
            title: Some("x".into()),
            ..Default::default()
        },
    );
    let mut body = serde_json::to_value(update(
        6,
        "phone",
        1,
        CasePatch {
            title: Some("x".into()),
            ..Default::default()
        },
    ))
    .unwrap();
    body["surprise"] = json!(true);
    let r = post_json(
        &s.app,
        "/api/v1/events",
        &json!({ "events": [good, tampered, empty_title, unknown_case, from_the_future, body, 42] }).to_string(),
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let r: PushResponse = r.json();
    let statuses: Vec<_> = r.results.iter().map(|x| x.status).collect();
    assert_eq!(statuses[0], PushStatus::Applied);
    assert!(
        statuses[1..].iter().all(|s| *s == PushStatus::Invalid),
        "{statuses:?}"
    );
    let messages: Vec<String> = r.results[1..]
        .iter()
        .map(|x| x.message.clone().unwrap())
        .collect();
    for (message, expected) in messages.iter().zip([
        "checksum mismatch",
        "title: is required",
        "no case has id",
        "based on version 9",
        "unknown field `surprise`",
        "not a valid event",
    ]) {
        assert!(
            message.contains(expected),
            "{message} should mention {expected}"
        );
    }
    // What the server lacks is said in a code the device reads (issue 20:
    // it may have sent the case's creation by another path); every other
    // refusal carries none.
    use casefile_core::api::RefusalCode;
    let codes: Vec<_> = r.results[1..].iter().map(|x| x.code).collect();
    assert_eq!(
        codes,
        [
            None,
            None,
            Some(RefusalCode::UnknownCase),
            Some(RefusalCode::UnknownVersion),
            None,
            None
        ]
    );
    assert_eq!(
        pull_all(&s.app).await.events.len(),
        1,
        "only the good event"
    );
}

#[tokio::test]
async fn malformed_json_and_oversized_bodies_get_the_envelope() {
    let s = server().await;
    let r = post_json(&s.app, "/api/v1/events", "{not json", &[]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error().error, "invalid_json");

    let r = post_json(&s.app, "/api/v1/events", r#"{"events": 5}"#, &[]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error().error, "invalid_batch");

    let huge = format!(r#"{{"events": ["{}"]}}"#, "x".repeat(1024 * 1024 + 10));
    let r = post_json(&s.app, "/api/v1/events", &huge, &[]).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.error().error, "payload_too_large");

    let r = post_json(
        &s.app,
        "/api/v1/events",
        r#"{"events": []}"#,
        &[("idempotency-key", "")],
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error().error, "invalid_idempotency_key");
}

#[tokio::test]
async fn pulls_page_through_the_log_in_order() {
    let s = server().await;
    let mut events = vec![create(1)];
    for n in 2..=25 {
        events.push(update(
            n,
            "phone",
            n - 1,
            CasePatch {
                description: Some(format!("step {n}")),
                ..Default::default()
            },
        ));
    }
    let refs: Vec<&DomainEvent> = events.iter().collect();
    push(&s.app, &refs, None).await;
    let mut after = 0;
    let mut seen = Vec::new();
    loop {
        let page: PullResponse = get(&s.app, &format!("/api/v1/events?after={after}&limit=10"))
            .await
            .json();
        assert!(page.events.len() <= 10);
        seen.extend(page.events.iter().map(|e| (e.seq, e.event.id.clone())));
        after = page.next_cursor;
        if !page.has_more {
            break;
        }
    }
    assert_eq!(seen.len(), 25);
    assert!(
        seen.windows(2).all(|w| w[0].0 < w[1].0),
        "cursors only grow"
    );
    assert_eq!(
        seen.iter().map(|s| s.1.clone()).collect::<Vec<_>>(),
        events.iter().map(|e| e.id.clone()).collect::<Vec<_>>()
    );
    let empty: PullResponse = get(&s.app, &format!("/api/v1/events?after={after}"))
        .await
        .json();
    assert!(empty.events.is_empty());
    assert_eq!(empty.next_cursor, after);

    let bad = get(&s.app, "/api/v1/events?after=-1").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.error().error, "invalid_query");
}

#[tokio::test]
async fn a_response_lost_after_commit_leaves_the_write_applied_and_a_replay_is_a_duplicate() {
    let (db, dir) = common::fresh_db().await;
    let app = app(
        AppState {
            faults: Some(std::sync::Arc::default()),
            ..AppState::new(db)
        },
        dir.path().join("dist"),
    );
    let rules =
        r#"[{"path":"/api/v1/events","method":"POST","status":503,"times":1,"after_commit":true}]"#;
    let put = common::send(
        &app,
        axum::http::Request::put("/api/v1/_faults")
            .header("content-type", "application/json")
            .body(axum::body::Body::from(rules))
            .unwrap(),
    )
    .await;
    assert_eq!(put.status, StatusCode::NO_CONTENT);
    let created = create(1);
    let lost = post_json(&app, "/api/v1/events", &batch(&[&created]), &[]).await;
    assert_eq!(lost.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(lost.error().error, "injected_fault");
    // The server kept it although the client was told otherwise.
    assert_eq!(pull_all(&app).await.events.len(), 1);
    let again = push(&app, &[&created], None).await;
    assert_eq!(again.results[0].status, PushStatus::Duplicate);
    assert_eq!(pull_all(&app).await.events.len(), 1, "never applied twice");
}
