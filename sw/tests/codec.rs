//! The worker's hand-written shapes against serde's: what the worker writes
//! reads back through `serde_json` as the same value (the page reads its
//! messages that way), and what serde writes (version 1 records, a page's
//! messages) the worker reads as the same value.
#![cfg(target_arch = "wasm32")]

use casefile_core::queue::{DeadLetter, QueueStats, StoredRequest, ToPage, ToWorker};
use casefile_sw::codec::{message_from_js, message_to_js, Js};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_service_worker);

fn stringify(value: &JsValue) -> String {
    js_sys::JSON::stringify(value).unwrap().into()
}

fn parse(text: &str) -> JsValue {
    js_sys::JSON::parse(text).unwrap()
}

fn request(id: &str, failed: bool) -> StoredRequest {
    StoredRequest {
        id: id.into(),
        method: "POST".into(),
        url: "http://127.0.0.1:8080/api/v1/events".into(),
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("idempotency-key".into(), "k-\"quoted\" ✓".into()),
        ],
        body: r#"{"events":[{"title":"<script>alert(1)</script> שלום 🙂"}]}"#.into(),
        idempotency_key: "k-\"quoted\" ✓".into(),
        enqueued_at: 1_790_000_000_123,
        attempts: if failed { 3 } else { 0 },
        next_attempt_at: 1_790_000_020_000,
        last_error: failed.then(|| "server error 503".into()),
        last_status: failed.then_some(503),
        user: failed.then(|| "sam".into()),
    }
}

fn letter(id: &str) -> DeadLetter {
    DeadLetter {
        request: request(id, true),
        reason: "the server refused it (422)".into(),
        status: Some(422),
        excerpt: r#"{"error":{"code":"invalid"}}"#.into(),
        dead_at: 1_790_000_030_000,
    }
}

#[wasm_bindgen_test]
fn queue_records_match_serde_both_ways() {
    for r in [request("q1", false), request("q2", true)] {
        let ours = stringify(&r.to_js());
        assert_eq!(serde_json::from_str::<StoredRequest>(&ours).unwrap(), r);
        let theirs = serde_json::to_string(&r).unwrap();
        assert_eq!(StoredRequest::from_js(&parse(&theirs)), Some(r));
    }
    let d = letter("q3");
    let ours = stringify(&d.to_js());
    assert_eq!(serde_json::from_str::<DeadLetter>(&ours).unwrap(), d);
    let theirs = serde_json::to_string(&d).unwrap();
    assert_eq!(DeadLetter::from_js(&parse(&theirs)), Some(d));
}

#[wasm_bindgen_test]
fn every_message_to_pages_reads_as_serde_reads_it() {
    let messages = [
        ToPage::Queued { id: "q1".into() },
        ToPage::Synced {
            id: "q1".into(),
            url: "http://x/api/v1/events".into(),
            status: 200,
            body: r#"{"results":[],"cursor":7}"#.into(),
        },
        ToPage::RetryScheduled {
            id: "q1".into(),
            at: 1_790_000_005_000,
        },
        ToPage::DeadLettered {
            letter: Box::new(letter("q2")),
        },
        ToPage::Discarded {
            letter: Box::new(letter("q3")),
        },
        ToPage::Stats {
            stats: QueueStats {
                queued: 2,
                dead: 1,
                next_attempt_at: Some(1_790_000_005_000),
                replaying: true,
                unreadable: 1,
                sign_in: 2,
                user: Some("sam".into()),
            },
        },
        ToPage::Stats {
            stats: QueueStats::default(),
        },
        ToPage::Listing {
            queued: vec![request("q4", false), request("q5", true)],
            dead: vec![letter("q6")],
            user: Some("sam".into()),
        },
        ToPage::Listing {
            queued: vec![],
            dead: vec![],
            user: None,
        },
    ];
    for m in messages {
        let ours = stringify(&message_to_js(&m));
        let read = ToPage::from_json(&serde_json::from_str(&ours).unwrap());
        assert_eq!(read, Ok(m.clone()), "the page reads it back: {ours}");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&ours).unwrap(),
            serde_json::to_value(&m).unwrap(),
            "the same JSON, field for field"
        );
    }
}

#[wasm_bindgen_test]
fn every_message_from_pages_reads_and_anything_else_is_refused() {
    let messages = [
        ToWorker::ReplayNow,
        ToWorker::List,
        ToWorker::Retry { id: "q1".into() },
        ToWorker::Discard { id: "q2".into() },
        ToWorker::SkipWaiting,
        ToWorker::Session {
            user: Some("sam".into()),
        },
        ToWorker::Session { user: None },
        ToWorker::Forget { user: "sam".into() },
    ];
    for m in messages {
        let theirs = serde_json::to_string(&m).unwrap();
        assert_eq!(message_from_js(&parse(&theirs)), Some(m), "{theirs}");
    }
    for bad in [
        r#"{"type":"explode"}"#,
        r#"{"type":"retry"}"#,
        r#"{"type":"retry","id":7}"#,
        r#"{"kind":"list"}"#,
        "[]",
        "null",
        "42",
    ] {
        assert_eq!(message_from_js(&parse(bad)), None, "{bad}");
    }
}

#[wasm_bindgen_test]
fn a_damaged_record_does_not_read() {
    let good = serde_json::to_value(request("q1", true)).unwrap();
    let damaged = |key: &str, value: serde_json::Value| {
        let mut v = good.clone();
        v[key] = value;
        parse(&v.to_string())
    };
    for (key, value) in [
        ("id", serde_json::Value::Null),
        ("attempts", serde_json::json!(-1)),
        ("attempts", serde_json::json!(1.5)),
        ("enqueued_at", serde_json::json!("yesterday")),
        ("headers", serde_json::json!([["only-a-name"]])),
        ("headers", serde_json::json!({"a": "b"})),
        ("last_status", serde_json::json!(70_000)),
        ("last_error", serde_json::json!(5)),
    ] {
        assert_eq!(
            StoredRequest::from_js(&damaged(key, value.clone())),
            None,
            "{key}: {value}"
        );
    }
    assert_eq!(StoredRequest::from_js(&JsValue::NULL), None);
    assert_eq!(DeadLetter::from_js(&parse(r#"{"reason":"x"}"#)), None);
}
