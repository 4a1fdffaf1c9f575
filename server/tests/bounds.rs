//! Bounded input (issue 15, SPEC §8): no one request, however it is made,
//! hurts the other users. Each event here parses and verifies, so what
//! refuses it is the bound under test, and it is refused on its own.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use casefile_core::api::{Case, Note, PullResponse, PushResponse, PushStatus};
use casefile_core::event::{
    CaseFields, DomainEvent, EventData, EventHeader, NoteData, MAX_CLOCK, MAX_TIME_SKEW_MS,
};
use casefile_server::{app, AppState};
use common::{get, post_json, Reply};
use serde_json::json;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

const NOW: i64 = 1_790_000_000_000;

struct Server {
    app: Router,
    clock: Arc<AtomicI64>,
    state: AppState,
    _dir: tempfile::TempDir,
}

async fn server() -> Server {
    let (db, dir) = common::fresh_db().await;
    let clock = Arc::new(AtomicI64::new(NOW));
    let c = clock.clone();
    let state = AppState {
        clock: Arc::new(move || c.load(Ordering::SeqCst)),
        ..AppState::new(db)
    };
    Server {
        app: app(state.clone(), dir.path().join("dist")),
        clock,
        state,
        _dir: dir,
    }
}

fn uuid(prefix: u32, n: u64) -> String {
    format!("{prefix:08x}-0000-4000-8000-{n:012x}")
}

fn event(n: u64, case: u64, clock: u64, base: u64, data: EventData) -> DomainEvent {
    DomainEvent::new(
        EventHeader {
            id: uuid(0, n),
            aggregate_id: uuid(1, case),
            node_id: "phone".into(),
            clock,
            base_version: base,
            timestamp: NOW as u64,
        },
        &data,
    )
}

fn create(n: u64, case: u64, clock: u64) -> DomainEvent {
    event(
        n,
        case,
        clock,
        0,
        EventData::CaseCreated(CaseFields::titled(format!("Case {case}"))),
    )
}

fn note(n: u64, case: u64, clock: u64, base: u64, note_id: u64) -> DomainEvent {
    event(
        n,
        case,
        clock,
        base,
        EventData::NoteAdded(NoteData {
            note_id: uuid(2, note_id),
            body: format!("note {n}"),
            author: common::TEST_USER.into(),
        }),
    )
}

async fn push(app: &Router, events: &[DomainEvent]) -> PushResponse {
    common::push_ok(app, &json!({ "events": events }).to_string(), &[]).await
}

fn statuses(r: &PushResponse) -> Vec<PushStatus> {
    r.results.iter().map(|x| x.status).collect()
}

#[tokio::test]
async fn clocks_beyond_the_exact_range_or_far_ahead_of_the_log_are_refused_alone() {
    let s = server().await;
    let r = push(
        &s.app,
        &[
            create(1, 1, u64::MAX),
            create(2, 2, 1 << 60),
            create(3, 3, MAX_CLOCK + 1),
            create(4, 4, 5),
            // Within the exact range but 2^40 ahead of the log (at 5).
            create(5, 5, 1 << 40),
        ],
    )
    .await;
    assert_eq!(
        statuses(&r),
        [
            PushStatus::Invalid,
            PushStatus::Invalid,
            PushStatus::Invalid,
            PushStatus::Applied,
            PushStatus::Invalid
        ]
    );
    assert!(r.results[0].message.as_deref().unwrap().contains("clock"));
    assert!(r.results[4].message.as_deref().unwrap().contains("ahead"));
    // Nothing negative or rounded was stored: the one event pulls back exact.
    let pull: PullResponse = get(&s.app, "/api/v1/events?after=0").await.json();
    assert_eq!(pull.events.len(), 1);
    assert_eq!(pull.events[0].event.clock, 5);
}

#[tokio::test]
async fn long_correlation_ids_are_refused_alone() {
    let s = server().await;
    let mut long = create(1, 1, 1);
    long.correlation_id = Some("x".repeat(10_000));
    let long = long.seal();
    let r = push(&s.app, &[long, create(2, 2, 2)]).await;
    assert_eq!(statuses(&r), [PushStatus::Invalid, PushStatus::Applied]);
    assert!(r.results[0]
        .message
        .as_deref()
        .unwrap()
        .contains("correlation_id"));
}

/// A note id used twice was a unique-key failure: 500 for the whole batch,
/// which the worker then dead-lettered. Now it is that event's own refusal.
#[tokio::test]
async fn a_duplicate_note_id_is_that_events_own_refusal() {
    let s = server().await;
    let r = push(
        &s.app,
        &[
            create(1, 1, 1),
            note(2, 1, 2, 1, 7),
            note(3, 1, 3, 2, 7),
            create(4, 2, 4),
        ],
    )
    .await;
    assert_eq!(
        statuses(&r),
        [
            PushStatus::Applied,
            PushStatus::Applied,
            PushStatus::Invalid,
            PushStatus::Applied
        ]
    );
    assert!(r.results[2].message.as_deref().unwrap().contains("note"));
    // And in a later batch too.
    let r = push(&s.app, &[note(5, 1, 5, 2, 7)]).await;
    assert_eq!(statuses(&r), [PushStatus::Invalid]);
}

/// A device clock years ahead does not pin its case at the top of the list.
#[tokio::test]
async fn a_far_future_timestamp_is_clamped_in_the_lists() {
    let s = server().await;
    let mut future = create(1, 1, 1);
    future.timestamp = NOW as u64 + 10 * 365 * 24 * 3600 * 1000;
    let r = push(&s.app, &[future.seal()]).await;
    assert_eq!(statuses(&r), [PushStatus::Applied]);
    let case: Case = get(&s.app, &format!("/api/v1/cases/{}", uuid(1, 1)))
        .await
        .json();
    assert_eq!(case.updated_at, NOW + MAX_TIME_SKEW_MS as i64);
    assert_eq!(case.created_at, NOW + MAX_TIME_SKEW_MS as i64);
    // The event keeps the device's time, under its checksum.
    let pull: PullResponse = get(&s.app, "/api/v1/events?after=0").await.json();
    assert!(pull.events[0].event.verify().is_ok());
}

async fn push_keyed(app: &Router, events: &[DomainEvent], key: &str) -> Reply {
    post_json(
        app,
        "/api/v1/events",
        &json!({ "events": events }).to_string(),
        &[("idempotency-key", key)],
    )
    .await
}

#[tokio::test]
async fn an_idempotency_key_reused_with_another_body_is_422_and_keys_expire() {
    let s = server().await;
    let first = push_keyed(&s.app, &[create(1, 1, 1)], "k1").await;
    assert_eq!(first.status, StatusCode::OK);
    let again = push_keyed(&s.app, &[create(1, 1, 1)], "k1").await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body, first.body, "the same batch: the first answer");
    let other = push_keyed(&s.app, &[create(2, 2, 2)], "k1").await;
    assert_eq!(other.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(other.error().error, "idempotency_key_reused");
    // After the retention (7 days by default) the key is free again.
    s.clock
        .fetch_add(7 * 24 * 3600 * 1000 + 1, Ordering::SeqCst);
    let later = push_keyed(&s.app, &[create(2, 2, 2)], "k1").await;
    assert_eq!(later.status, StatusCode::OK);
    let r: PushResponse = later.json();
    assert_eq!(statuses(&r), [PushStatus::Applied]);
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM idempotency")
        .fetch_one(s.state.db.pool())
        .await
        .unwrap();
    assert_eq!(rows, 1, "the expired row is gone");
}

#[tokio::test]
async fn invented_methods_share_one_metrics_label() {
    let s = server().await;
    for m in ["BREW", "WHEN", "PROPFIND", "X-ANYTHING"] {
        let req = Request::builder()
            .method(m)
            .uri("/api/v1/health")
            .body(Body::empty())
            .unwrap();
        common::send(&s.app, req).await;
    }
    let metrics = common::get_as_admin(&s.app, "/metrics").await;
    let text = String::from_utf8_lossy(&metrics.body);
    for m in ["BREW", "WHEN", "PROPFIND", "X-ANYTHING"] {
        assert!(!text.contains(m), "{m} became a series:\n{text}");
    }
    assert!(text.contains("method=\"OTHER\""), "{text}");
}

#[tokio::test]
async fn pages_carry_the_isolation_headers() {
    let s = server().await;
    let r = get(&s.app, "/api/v1/health").await;
    assert_eq!(r.header("cross-origin-opener-policy"), "same-origin");
    assert_eq!(r.header("cross-origin-resource-policy"), "same-origin");
    assert!(
        r.headers.get("strict-transport-security").is_none(),
        "no HSTS over plain HTTP"
    );
    let (db, dir) = common::fresh_db().await;
    let mut state = AppState::new(db);
    state.auth.secure = true;
    let https = app(state, dir.path().join("dist"));
    let r = get(&https, "/api/v1/health").await;
    assert_eq!(
        r.header("strict-transport-security"),
        "max-age=31536000; includeSubDomains"
    );
}

/// Large events page by size: no pull answer grows past about 1 MiB (it
/// could pass the ETag buffer and answer 500 to every device behind it),
/// and paging still delivers every event once.
#[tokio::test]
async fn pulls_page_by_bytes_and_deliver_everything() {
    let s = server().await;
    let big = |n: u64| {
        let mut f = CaseFields::titled(format!("Case {n}"));
        f.description = "é".repeat(9_000);
        event(n, n, n, 0, EventData::CaseCreated(f))
    };
    for chunk in (1..=80).collect::<Vec<u64>>().chunks(20) {
        let events: Vec<_> = chunk.iter().map(|n| big(*n)).collect();
        let r = push(&s.app, &events).await;
        assert!(statuses(&r).iter().all(|s| *s == PushStatus::Applied));
    }
    let mut after = 0;
    let mut seen = Vec::new();
    loop {
        let r = get(&s.app, &format!("/api/v1/events?after={after}&limit=1000")).await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(
            r.body.len() <= (1 << 20) + 64 * 1024,
            "{} bytes",
            r.body.len()
        );
        assert!(
            r.headers.get("etag").is_none(),
            "pulls are not buffered to hash"
        );
        let page: PullResponse = r.json();
        seen.extend(page.events.iter().map(|e| e.seq));
        after = page.next_cursor;
        if !page.has_more {
            break;
        }
    }
    assert_eq!(seen, (1..=80).collect::<Vec<i64>>());
}

/// Events arriving behind a later stamp used to refold the whole case once
/// each, under the write lock; now a batch folds each case once.
#[tokio::test]
async fn a_batch_of_late_events_folds_its_case_once() {
    let s = server().await;
    let on = |n: u64, node: &str, clock: u64, base: u64, patch: casefile_core::event::CasePatch| {
        let mut e = event(n, 1, clock, base, EventData::CaseUpdated(patch));
        e.node_id = node.into();
        e.seal()
    };
    let r = push(&s.app, &[create(1, 1, 1)]).await;
    assert_eq!(statuses(&r), [PushStatus::Applied]);
    let title = casefile_core::event::CasePatch {
        title: Some("from the phone".into()),
        ..Default::default()
    };
    let r = push(&s.app, &[on(2, "phone", 1_000, 1, title)]).await;
    assert_eq!(statuses(&r), [PushStatus::Applied]);
    // The tablet was offline: 50 changes stamped before the phone's.
    let late: Vec<DomainEvent> = (0..50)
        .map(|k| {
            let patch = casefile_core::event::CasePatch {
                description: Some(format!("d{k}")),
                ..Default::default()
            };
            on(10 + k, "tablet", 2 + k, 2 + k, patch)
        })
        .collect();
    let before = casefile_server::events::refolds();
    let r = push(&s.app, &late).await;
    assert!(
        statuses(&r).iter().all(|x| *x == PushStatus::Applied),
        "{r:?}"
    );
    assert_eq!(
        casefile_server::events::refolds() - before,
        1,
        "one fold for the batch"
    );
    let case: Case = get(&s.app, &format!("/api/v1/cases/{}", uuid(1, 1)))
        .await
        .json();
    assert_eq!(case.title, "from the phone");
    assert_eq!(case.description, "d49");
    assert_eq!(case.version, 52);
}

#[tokio::test]
async fn notes_come_in_bounded_pages_that_miss_none() {
    let s = server().await;
    let mut events = vec![create(1, 1, 1)];
    for i in 0..5 {
        events.push(note(10 + i, 1, 2 + i, 1 + i, i));
    }
    let r = push(&s.app, &events).await;
    assert!(
        statuses(&r).iter().all(|x| *x == PushStatus::Applied),
        "{r:?}"
    );
    let base = format!("/api/v1/cases/{}/notes", uuid(1, 1));
    let mut seen = Vec::new();
    let mut path = format!("{base}?limit=2");
    for _ in 0..10 {
        let page: Vec<Note> = get(&s.app, &path).await.json();
        assert!(page.len() <= 2, "a page holds at most its limit");
        let full = page.len() == 2;
        let last = page.last().map(|n| format!("{}:{}", n.created_at, n.id));
        seen.extend(page.into_iter().map(|n| n.body));
        match last {
            Some(after) if full => path = format!("{base}?limit=2&after={after}"),
            _ => break,
        }
    }
    let mut want: Vec<String> = (10..15).map(|n| format!("note {n}")).collect();
    seen.sort();
    want.sort();
    assert_eq!(seen, want, "every note once, none missed");
    // Without a limit the page is the bound; a bad limit or cursor is 400.
    let all: Vec<Note> = get(&s.app, &base).await.json();
    assert_eq!(all.len(), 5);
    for bad in [
        "limit=0",
        "limit=501",
        "limit=",
        "limit=x",
        "after=nonsense",
    ] {
        let r = get(&s.app, &format!("{base}?{bad}")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(r.error().error, "invalid_query", "{bad}");
    }
}

/// Sealed, valid events (their checksums verify) carry SQL in every free
/// text field: it reaches the database as text, and a title one character
/// over the bound is refused by the length check itself.
#[tokio::test]
async fn hostile_text_in_valid_events_is_stored_as_text_and_lengths_are_checked() {
    let s = server().await;
    let sql = "'); DROP TABLE events; DELETE FROM cases WHERE ('1'='1";
    let fields = CaseFields {
        description: sql.into(),
        tags: vec![sql.chars().take(40).collect()],
        ..CaseFields::titled(sql)
    };
    let mut over = CaseFields::titled("x".repeat(201));
    over.description = sql.into();
    let at_bound = CaseFields::titled("y".repeat(200));
    let r = push(
        &s.app,
        &[
            event(1, 1, 1, 0, EventData::CaseCreated(fields)),
            event(
                2,
                1,
                2,
                1,
                EventData::NoteAdded(NoteData {
                    note_id: uuid(2, 1),
                    body: sql.into(),
                    author: common::TEST_USER.into(),
                }),
            ),
            event(3, 2, 3, 0, EventData::CaseCreated(over)),
            event(4, 3, 4, 0, EventData::CaseCreated(at_bound)),
        ],
    )
    .await;
    let (ok, refused) = (PushStatus::Applied, PushStatus::Invalid);
    assert_eq!(statuses(&r), [ok, ok, refused, ok]);
    assert!(
        r.results[2].message.as_deref().unwrap().contains("title"),
        "{r:?}"
    );
    let case: Case = get(&s.app, &format!("/api/v1/cases/{}", uuid(1, 1)))
        .await
        .json();
    assert_eq!((case.title.as_str(), case.description.as_str()), (sql, sql));
    let notes: Vec<Note> = get(&s.app, &format!("/api/v1/cases/{}/notes", uuid(1, 1)))
        .await
        .json();
    assert_eq!(notes[0].body, sql);
    // The tables are all there: three events pulled back, two cases listed.
    let pull: PullResponse = get(&s.app, "/api/v1/events?after=0").await.json();
    assert_eq!(pull.events.len(), 3);
    let list: serde_json::Value = get(&s.app, "/api/v1/cases").await.json();
    assert_eq!(list["total"], 2);
    // The search treats it as words too.
    let found: serde_json::Value = get(&s.app, "/api/v1/cases?q=DROP%20TABLE").await.json();
    assert_eq!(found["total"], 1);
}
