//! Bad input never gets a 500: malformed or hostile bodies and parameters
//! get the JSON error envelope with the right status (or, inside a well-formed
//! batch, a per-event refusal with its reason), and nothing bad is stored.

mod common;

use axum::http::StatusCode;
use axum::Router;
use casefile_core::api::{PullResponse, PushResponse, PushStatus};
use casefile_server::{app, AppState};
use common::{get, post_bytes, post_json, Reply};
use proptest::prelude::*;
use serde_json::json;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

async fn server() -> (Router, tempfile::TempDir) {
    let (db, dir) = common::fresh_db().await;
    (app(AppState::new(db), dir.path().join("dist")), dir)
}

/// A refusal with the envelope (code, words, request id) and one of the
/// statuses a client can act on.
fn refused(r: &Reply, statuses: &[StatusCode]) -> String {
    assert!(
        statuses.contains(&r.status),
        "status {} for {}",
        r.status,
        String::from_utf8_lossy(&r.body)
    );
    let e = r.error();
    assert!(!e.message.is_empty());
    e.error
}

/// Either the envelope, or a batch answer whose every result is a
/// refusal with a reason; never a 5xx.
fn answered_safely(r: &Reply) {
    assert!(
        !r.status.is_server_error(),
        "{} for {}",
        r.status,
        String::from_utf8_lossy(&r.body)
    );
    if r.status == StatusCode::OK {
        let answer: PushResponse = r.json();
        for result in answer.results {
            assert_eq!(result.status, PushStatus::Invalid, "{result:?}");
            assert!(result.message.is_some_and(|m| !m.is_empty()));
        }
    } else {
        let _ = r.error();
    }
}

async fn stored_events(app: &Router) -> usize {
    let r = get(app, "/api/v1/events?after=0&limit=500").await;
    r.json::<PullResponse>().events.len()
}

#[tokio::test]
async fn hostile_batches_get_the_envelope_and_store_nothing() {
    let (app, _dir) = server().await;
    let bad = (StatusCode::BAD_REQUEST, StatusCode::UNPROCESSABLE_ENTITY);
    let cases: Vec<(&str, String)> = vec![
        ("empty body", String::new()),
        ("not JSON", "hello".into()),
        ("truncated", r#"{"events": [{"id": "#.into()),
        ("a number", "42".into()),
        ("events missing", "{}".into()),
        (
            "events of the wrong type",
            r#"{"events": "all of them"}"#.into(),
        ),
        ("events null", r#"{"events": null}"#.into()),
        (
            "deep nesting",
            format!("{}{}", "[".repeat(5_000), "]".repeat(5_000)),
        ),
        (
            "deep nesting inside the batch",
            format!(
                r#"{{"events": {}{}}}"#,
                "[".repeat(5_000),
                "]".repeat(5_000)
            ),
        ),
        ("trailing garbage", r#"{"events": []} and more"#.into()),
    ];
    for (what, body) in &cases {
        let r = post_json(&app, "/api/v1/events", body, &[]).await;
        let code = refused(&r, &[bad.0, bad.1]);
        assert!(!code.is_empty(), "{what}");
    }
    // Invalid UTF-8 in a string.
    let mut bytes = br#"{"events": [{"id": ""#.to_vec();
    bytes.extend_from_slice(&[0xff, 0xfe, 0xc3]);
    bytes.extend_from_slice(br#""}]}"#);
    let r = post_bytes(&app, "/api/v1/events", bytes).await;
    refused(&r, &[bad.0, bad.1]);
    // Over the body limit, even as one huge string.
    let huge = json!({ "events": [{ "title": "x".repeat(2 * 1024 * 1024) }] }).to_string();
    let r = post_json(&app, "/api/v1/events", &huge, &[]).await;
    assert_eq!(
        refused(&r, &[StatusCode::PAYLOAD_TOO_LARGE]),
        "payload_too_large"
    );
    assert_eq!(stored_events(&app).await, 0);
}

#[tokio::test]
async fn hostile_events_inside_a_good_batch_are_refused_one_by_one() {
    let (app, _dir) = server().await;
    let sql = "'; DROP TABLE events; --";
    let events = json!({ "events": [
        { "id": sql, "aggregate_id": sql, "node_id": sql, "clock": 1, "base_version": 0,
          "timestamp": 1, "aggregate_type": "case", "event_type": "case.created",
          "data": { "title": sql }, "checksum": "00" },
        { "id": "00000000-0000-4000-8000-000000000001", "event_type": "case.exploded" },
        { "id": "00000000-0000-4000-8000-000000000002", "clock": "one", "base_version": -1 },
        { "event_type": ["case.created"] },
        null, true, 3.5, "event", [],
        { "id": "00000000-0000-4000-8000-000000000003", "data": { "title": "x".repeat(100_000) } },
    ]});
    let r = post_json(&app, "/api/v1/events", &events.to_string(), &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    answered_safely(&r);
    let answer: PushResponse = r.json();
    assert_eq!(answer.results.len(), 10, "one answer per event");
    assert_eq!(stored_events(&app).await, 0);
    // The tables are still there and answer.
    assert_eq!(get(&app, "/api/v1/cases").await.status, StatusCode::OK);
}

#[tokio::test]
async fn hostile_reads_get_clear_answers() {
    let (app, _dir) = server().await;
    let bad = [StatusCode::BAD_REQUEST, StatusCode::NOT_FOUND];
    for uri in [
        "/api/v1/cases/'%20OR%201=1%20--",
        "/api/v1/cases/..%2F..%2Fetc%2Fpasswd",
        "/api/v1/cases/00000000-0000-4000-8000-000000000000",
        "/api/v1/cases/00000000-0000-4000-8000-000000000000/notes",
        "/api/v1/cases?limit=-1",
        "/api/v1/cases?limit=99999999999999999999",
        "/api/v1/cases?status=%00",
        "/api/v1/cases?cursor=%FF%FE",
        "/api/v1/events?after=abc",
        "/api/v1/events?after=-5&limit=0",
    ] {
        let r = get(&app, uri).await;
        refused(&r, &bad);
    }
    // A search that looks like SQL is only a search.
    let r = get(&app, "/api/v1/cases?q=%27%20OR%20%271%27%3D%271").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json::<serde_json::Value>()["total"], 0);
}

/// One server for every fuzzed case (a fresh database per case would cost
/// more than the cases), on a runtime that outlives them.
/// `which` keeps fuzzers apart: one stores nothing, one stores events.
fn shared(which: usize) -> &'static (tokio::runtime::Runtime, Router, tempfile::TempDir) {
    type Shared = (tokio::runtime::Runtime, Router, tempfile::TempDir);
    static SHARED: [std::sync::OnceLock<Shared>; 2] =
        [std::sync::OnceLock::new(), std::sync::OnceLock::new()];
    SHARED[which].get_or_init(|| {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let (app, dir) = rt.block_on(server());
        (rt, app, dir)
    })
}

/// Any JSON value a fuzzer can build, up to a few levels deep.
fn any_json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,40}".prop_map(serde_json::Value::from),
        Just(json!("case.created")),
        Just(json!("00000000-0000-4000-8000-000000000001")),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(serde_json::Value::from),
            prop::collection::hash_map(
                prop_oneof![
                    Just("id".to_string()),
                    Just("events".to_string()),
                    Just("event_type".to_string()),
                    Just("data".to_string()),
                    Just("clock".to_string()),
                    "[a-z_]{1,12}"
                ],
                inner,
                0..8
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Random batches and random bytes: never a 5xx, always the envelope or
    /// per-event refusals, and nothing stored.
    #[test]
    fn fuzzed_bodies_never_break_the_server(
        events in prop::collection::vec(any_json(), 0..6),
        wrapper in any_json(),
        bytes in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        let (rt, app, _) = shared(0);
        rt.block_on(async {
            let batch = json!({ "events": events }).to_string();
            answered_safely(&post_json(app, "/api/v1/events", &batch, &[]).await);
            answered_safely(&post_json(app, "/api/v1/events", &wrapper.to_string(), &[]).await);
            answered_safely(&post_bytes(app, "/api/v1/events", bytes).await);
            assert_eq!(stored_events(app).await, 0);
        });
    }
}

/// Any text, including control characters, quotes and astral planes.
fn any_text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(any::<char>(), 0..max).prop_map(|v| v.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Sealed events with fuzzed contents (their checksums verify, so they
    /// reach validation and storage): each is stored exactly as sent and
    /// pulls back verifying, or is refused alone with a reason; never a 5xx.
    #[test]
    fn fuzzed_valid_events_are_stored_exactly_or_refused_with_a_reason(
        title in any_text(220),
        description in any_text(200),
        tags in prop::collection::vec(any_text(45), 0..22),
        clock in prop_oneof![1u64..1_000, Just(casefile_core::event::MAX_CLOCK + 1)],
        timestamp in prop_oneof![Just(1_790_000_000_000u64), any::<u64>()],
        n in 1u64..(1 << 40),
    ) {
        use casefile_core::event::{CaseFields, DomainEvent, EventData, EventHeader};
        let (rt, app, _) = shared(1);
        rt.block_on(async {
            let id = format!("00000007-0000-4000-8000-{n:012x}");
            let fields = CaseFields { description, tags, ..CaseFields::titled(title) };
            let sent = DomainEvent::new(
                EventHeader {
                    id: id.clone(),
                    aggregate_id: format!("00000008-0000-4000-8000-{n:012x}"),
                    node_id: "fuzzer".into(),
                    clock,
                    base_version: 0,
                    timestamp,
                },
                &EventData::CaseCreated(fields),
            );
            let r = post_json(app, "/api/v1/events", &json!({ "events": [sent] }).to_string(), &[]).await;
            assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.body));
            let result = r.json::<PushResponse>().results.remove(0);
            match result.status {
                PushStatus::Applied | PushStatus::Duplicate => {
                    let pulled = get(app, "/api/v1/events?after=0&limit=1000").await.json::<PullResponse>();
                    let back = pulled.events.into_iter().find(|e| e.event.id == id).expect("stored");
                    assert_eq!(back.event, sent, "stored exactly as sent");
                    assert!(back.event.verify().is_ok(), "and its checksum still verifies");
                }
                _ => assert!(result.message.is_some_and(|m| !m.is_empty()), "refused with a reason"),
            }
        });
    }
}

#[tokio::test]
async fn csp_reports_are_counted_and_anything_else_is_refused() {
    let (app, _dir) = server().await;
    let report = json!({ "csp-report": {
        "document-uri": "http://127.0.0.1/cases",
        "effective-directive": "script-src-elem",
        "blocked-uri": "inline",
    }});
    let r = post_json(&app, "/api/v1/csp-reports", &report.to_string(), &[]).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    for junk in ["", "{}", "not json", r#"{"csp-report": 5}"#] {
        let r = post_json(&app, "/api/v1/csp-reports", junk, &[]).await;
        assert_eq!(
            refused(&r, &[StatusCode::BAD_REQUEST]),
            "invalid_report",
            "{junk}"
        );
    }
    let huge = json!({ "csp-report": { "blocked-uri": "x".repeat(20_000) } }).to_string();
    let r = post_json(&app, "/api/v1/csp-reports", &huge, &[]).await;
    refused(&r, &[StatusCode::PAYLOAD_TOO_LARGE]);
    let listing: serde_json::Value = common::get_as_admin(&app, "/api/v1/csp-reports")
        .await
        .json();
    assert_eq!(listing["count"], 1);
    assert_eq!(
        listing["recent"][0],
        "script-src-elem blocked inline on http://127.0.0.1/cases"
    );
    let metrics = String::from_utf8(common::get_as_admin(&app, "/metrics").await.body).unwrap();
    assert!(
        metrics.contains("casefile_csp_reports_total 1"),
        "{metrics}"
    );
}

/// An empty push from `client` (the address the listener would record).
async fn push_from(app: &Router, client: [u8; 4]) -> Reply {
    let mut req = axum::http::Request::post("/api/v1/events")
        .header("content-type", "application/json")
        .body(axum::body::Body::from(r#"{"events": []}"#))
        .unwrap();
    let addr = std::net::SocketAddr::from((client, 40_000));
    req.extensions_mut()
        .insert(axum::extract::ConnectInfo(addr));
    common::send(app, req).await
}

#[tokio::test]
async fn writes_beyond_the_rate_get_429_with_retry_after_and_reads_never_do() {
    let (db, dir) = common::fresh_db().await;
    let now = Arc::new(AtomicI64::new(1_790_000_000_000));
    let clock = now.clone();
    let state = AppState {
        writes: casefile_server::rate::WriteLimit::per_second_on(
            1,
            Arc::new(move || clock.load(Ordering::SeqCst)),
        ),
        ..AppState::new(db)
    };
    let app = app(state, dir.path().join("dist"));
    let (one, two) = ([10, 0, 0, 1], [10, 0, 0, 2]);
    // A burst of two, then the limit.
    for _ in 0..2 {
        assert_eq!(push_from(&app, one).await.status, StatusCode::OK);
    }
    let r = push_from(&app, one).await;
    assert_eq!(
        refused(&r, &[StatusCode::TOO_MANY_REQUESTS]),
        "rate_limited"
    );
    let wait: u64 = r.header("retry-after").parse().unwrap();
    assert_eq!(wait, 1, "Retry-After");
    // Another address has its own budget; reads are never limited.
    assert_eq!(push_from(&app, two).await.status, StatusCode::OK);
    for _ in 0..10 {
        assert_eq!(get(&app, "/api/v1/cases").await.status, StatusCode::OK);
    }
    // Nearly a second on, still limited; a second on, writes go through.
    now.fetch_add(900, Ordering::SeqCst);
    assert_eq!(
        push_from(&app, one).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    now.fetch_add(100, Ordering::SeqCst);
    assert_eq!(push_from(&app, one).await.status, StatusCode::OK);
}
