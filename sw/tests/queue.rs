//! The write queue in a real service worker: IndexedDB round trips, the
//! 202 answer, replay outcomes, dead letters with Retry and Discard.
#![cfg(target_arch = "wasm32")]

use casefile_core::queue::{DeadLetter, StoredRequest, ToWorker};
use casefile_sw::queue::{close, listing, on_page_message, replay, send_or_queue, stats, DB_NAME};
use casefile_sw::strategy::Fetcher;
use indexed_db_futures::database::Database;
use indexed_db_futures::prelude::*;
use indexed_db_futures::transaction::TransactionMode;
use indexed_db_futures::KeyPath;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;
use web_sys::{Headers, Request, RequestInit, Response, ResponseInit, ServiceWorkerGlobalScope};

wasm_bindgen_test_configure!(run_in_service_worker);

fn scope() -> ServiceWorkerGlobalScope {
    js_sys::global().unchecked_into()
}

/// A scripted server: each call takes the next status (0 = unreachable)
/// and records the body and idempotency key it got.
#[derive(Clone, Default)]
struct Server {
    script: Rc<RefCell<Vec<u16>>>,
    seen: Rc<RefCell<Vec<(String, String)>>>,
    calls: Rc<Cell<u32>>,
}

impl Server {
    fn will(&self, statuses: &[u16]) {
        *self.script.borrow_mut() = statuses.to_vec();
    }

    fn fetcher(&self) -> Fetcher {
        let me = self.clone();
        Rc::new(move |request: Request| {
            let me = me.clone();
            Box::pin(async move {
                me.calls.set(me.calls.get() + 1);
                let key = request
                    .headers()
                    .get("idempotency-key")?
                    .unwrap_or_default();
                let body = JsFuture::from(request.text()?).await?.as_string().unwrap();
                me.seen.borrow_mut().push((body, key));
                let status = {
                    let mut s = me.script.borrow_mut();
                    if s.is_empty() {
                        200
                    } else {
                        s.remove(0)
                    }
                };
                if status == 0 {
                    return Err(JsValue::from_str("TypeError: Failed to fetch"));
                }
                let init = ResponseInit::new();
                init.set_status(status);
                Response::new_with_opt_str_and_init(
                    Some(&format!(r#"{{"status":{status}}}"#)),
                    &init,
                )
            })
        })
    }
}

fn write(body: &str, key: Option<&str>) -> Request {
    write_as(body, key, "sam")
}

/// A page's write, naming its user as the app does.
fn write_as(body: &str, key: Option<&str>, user: &str) -> Request {
    let headers = Headers::new().unwrap();
    headers.set("content-type", "application/json").unwrap();
    headers.set("x-casefile-user", user).unwrap();
    if let Some(k) = key {
        headers.set("idempotency-key", k).unwrap();
    }
    let init = RequestInit::new();
    init.set_method("POST");
    init.set_headers(&headers);
    init.set_body(&JsValue::from_str(body));
    let url = format!("{}/api/v1/events", scope().location().origin());
    Request::new_with_str_and_init(&url, &init).unwrap()
}

async fn json(response: Response) -> serde_json::Value {
    let text = JsFuture::from(response.text().unwrap()).await.unwrap();
    serde_json::from_str(&text.as_string().unwrap()).unwrap()
}

/// Sam signed in, and nothing of Sam's queued or dead.
async fn clear() {
    signed_in(Some("sam")).await;
    let (queued, dead) = listing().await.unwrap();
    let ids = queued
        .into_iter()
        .map(|q| q.id)
        .chain(dead.into_iter().map(|d| d.request.id));
    for id in ids {
        on_page_message(ToWorker::Discard { id }).await.unwrap();
    }
    assert_eq!(listing().await.unwrap(), (vec![], vec![]));
}

async fn signed_in(user: Option<&str>) {
    on_page_message(ToWorker::Session {
        user: user.map(str::to_string),
    })
    .await
    .unwrap();
}

/// Two people on one device: Kim's write, queued while the network was
/// down, is neither listed nor sent for Sam, and goes once Kim is back
/// (who is signed in survives the worker's restart).
async fn another_users_write_waits_until_they_sign_in() {
    clear().await;
    let server = Server::default();
    server.will(&[0]);
    let queued = send_or_queue(
        &write_as(r#"{"events":[7]}"#, Some("kim-1"), "kim"),
        server.fetcher(),
    )
    .await
    .unwrap();
    assert_eq!(queued.status(), 202);
    assert_eq!(listing().await.unwrap().0, vec![], "not Sam's to see");
    assert_eq!(stats().await.unwrap().queued, 0);
    replay(server.fetcher()).await.unwrap();
    assert_eq!(server.calls.get(), 1, "not sent under Sam's session");
    signed_in(None).await;
    replay(server.fetcher()).await.unwrap();
    assert_eq!(server.calls.get(), 1, "nor with nobody signed in");
    signed_in(Some("kim")).await;
    casefile_sw::queue::restart();
    replay(server.fetcher()).await.unwrap();
    assert_eq!(
        server.calls.get(),
        2,
        "Kim's, once Kim is back, after a restart"
    );
    assert_eq!(listing().await.unwrap().0, vec![]);
    let (_, key) = server.seen.borrow().last().unwrap().clone();
    assert_eq!(key, "kim-1");
    // Sign-out with Discard forgets a user's entries, and only theirs.
    server.will(&[0, 0]);
    send_or_queue(&write_as("{}", Some("kim-2"), "kim"), server.fetcher())
        .await
        .unwrap();
    send_or_queue(&write_as("{}", Some("sam-2"), "sam"), server.fetcher())
        .await
        .unwrap();
    on_page_message(ToWorker::Forget { user: "kim".into() })
        .await
        .unwrap();
    assert_eq!(listing().await.unwrap().0, vec![]);
    signed_in(Some("sam")).await;
    let (queued, _) = listing().await.unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].user.as_deref(), Some("sam"));
    clear().await;
}

/// One test in phases: the queue is one shared database, and browser tests
/// run concurrently.
#[wasm_bindgen_test]
async fn the_queue_end_to_end() {
    a_version_1_queue_is_upgraded_and_keeps_its_entries().await;
    unreachable_writes_are_queued_durably_and_replayed_exactly_as_sent().await;
    definite_answers_pass_through_and_a_missing_key_is_added().await;
    a_refused_replay_goes_to_the_dead_letter_and_retry_or_discard_act_on_it().await;
    a_401_holds_the_write_for_sign_in_spending_nothing().await;
    another_users_write_waits_until_they_sign_in().await;
}

async fn unreachable_writes_are_queued_durably_and_replayed_exactly_as_sent() {
    clear().await;
    let server = Server::default();
    server.will(&[0]);
    let answer = send_or_queue(
        &write(r#"{"events":[1]}"#, Some("batch-1")),
        server.fetcher(),
    )
    .await
    .unwrap();
    assert_eq!(answer.status(), 202);
    let id = json(answer).await["queued"].as_str().unwrap().to_string();
    // Durable: read back from IndexedDB.
    let (queued, _) = listing().await.unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].id, id);
    assert_eq!(
        (queued[0].attempts, queued[0].idempotency_key.as_str()),
        (0, "batch-1")
    );
    // Still unreachable: it stays and spends nothing.
    server.will(&[0]);
    replay(server.fetcher()).await.unwrap();
    assert_eq!(listing().await.unwrap().0[0].attempts, 0);
    // Back: delivered once, with the same body and key, and removed.
    replay(server.fetcher()).await.unwrap();
    assert!(listing().await.unwrap().0.is_empty());
    let seen = server.seen.borrow().clone();
    assert_eq!(
        seen.last().unwrap(),
        &(r#"{"events":[1]}"#.to_string(), "batch-1".to_string())
    );
    assert_eq!(server.calls.get(), 3);
}

async fn definite_answers_pass_through_and_a_missing_key_is_added() {
    clear().await;
    let server = Server::default();
    server.will(&[422]);
    let answer = send_or_queue(&write("{}", None), server.fetcher())
        .await
        .unwrap();
    assert_eq!(answer.status(), 422, "a refusal is the page's to handle");
    assert!(listing().await.unwrap().0.is_empty());
    server.will(&[503]);
    let answer = send_or_queue(&write("{}", None), server.fetcher())
        .await
        .unwrap();
    assert_eq!(answer.status(), 202);
    let (queued, _) = listing().await.unwrap();
    assert_eq!(queued[0].attempts, 1, "the first 503 counts");
    assert!(queued[0].next_attempt_at as f64 >= js_sys::Date::now() + 4_000.0);
    assert!(queued[0].idempotency_key.starts_with("sw-"));
    assert!(queued[0]
        .headers
        .iter()
        .any(|(k, v)| k == "idempotency-key" && *v == queued[0].idempotency_key));
    clear().await;
}

async fn a_refused_replay_goes_to_the_dead_letter_and_retry_or_discard_act_on_it() {
    clear().await;
    let server = Server::default();
    server.will(&[0]);
    send_or_queue(&write(r#"{"n":1}"#, Some("k1")), server.fetcher())
        .await
        .unwrap();
    server.will(&[422]);
    replay(server.fetcher()).await.unwrap();
    let (queued, dead) = listing().await.unwrap();
    assert!(
        queued.is_empty(),
        "{queued:?} {dead:?} calls {}",
        server.calls.get()
    );
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].status, Some(422));
    assert!(dead[0].excerpt.contains("422"));
    assert!(dead[0].reason.contains("refused"));
    // Retry puts it back, attempts reset.
    let id = dead[0].request.id.clone();
    on_page_message(ToWorker::Retry { id: id.clone() })
        .await
        .ok();
    let (queued, dead) = listing().await.unwrap();
    // The real network (the test server) answers 404 here: dead again, but
    // it went back through the queue with its attempts reset.
    assert!(queued.is_empty() || queued[0].attempts == 0);
    let id = dead.first().map_or(id, |d| d.request.id.clone());
    on_page_message(ToWorker::Discard { id }).await.unwrap();
    let (queued, dead) = listing().await.unwrap();
    assert!(dead.is_empty());
    assert!(queued.is_empty());
}

/// A write the server answers 401 (the session ended) is held, not failed:
/// queued, no attempt spent, never dead-lettered however often it is tried,
/// counted for the pages' "sign in" banner, and sent as it was once the
/// server takes it again.
async fn a_401_holds_the_write_for_sign_in_spending_nothing() {
    clear().await;
    let server = Server::default();
    server.will(&[401]);
    let answer = send_or_queue(&write(r#"{"n":401}"#, Some("k401")), server.fetcher())
        .await
        .unwrap();
    assert_eq!(answer.status(), 202, "held, not refused");
    for _ in 0..5 {
        server.will(&[401]);
        replay(server.fetcher()).await.unwrap();
    }
    let (queued, dead) = listing().await.unwrap();
    assert!(dead.is_empty(), "never dead-lettered");
    assert_eq!((queued.len(), queued[0].attempts), (1, 0));
    assert_eq!(stats().await.unwrap().sign_in, 1);
    // Signed in again: delivered once, exactly as it was, and removed.
    server.will(&[200]);
    replay(server.fetcher()).await.unwrap();
    assert!(listing().await.unwrap().0.is_empty());
    assert_eq!(stats().await.unwrap().sign_in, 0);
    assert_eq!(
        server.seen.borrow().last().unwrap(),
        &(r#"{"n":401}"#.to_string(), "k401".to_string())
    );
    assert_eq!(server.calls.get(), 7);
}

fn stored(id: &str, enqueued_at: u64) -> StoredRequest {
    StoredRequest {
        id: id.into(),
        method: "POST".into(),
        url: format!("{}/api/v1/events", scope().location().origin()),
        headers: vec![("idempotency-key".into(), format!("key-{id}"))],
        body: format!(r#"{{"from":"{id}"}}"#),
        idempotency_key: format!("key-{id}"),
        enqueued_at,
        attempts: 1,
        next_attempt_at: 0,
        last_error: Some("503".into()),
        last_status: Some(503),
        user: Some("sam".into()),
    }
}

/// Writes `{id, json}` records (store, id, JSON text) as the version 1
/// worker did, into the database at version 1 (created if missing).
async fn put_version_1(records: Vec<(&str, String, String)>) {
    let db = Database::open(DB_NAME)
        .with_version(1u8)
        .with_on_upgrade_needed(|_, db| {
            for name in ["queue", "dead"] {
                db.create_object_store(name)
                    .with_key_path(KeyPath::One("id"))
                    .build()?;
            }
            Ok(())
        })
        .await
        .unwrap();
    let tx = db
        .transaction(["queue", "dead"])
        .with_mode(TransactionMode::Readwrite)
        .build()
        .unwrap();
    for (store, id, json) in records {
        let record = js_sys::Object::new();
        js_sys::Reflect::set(&record, &"id".into(), &id.into()).unwrap();
        js_sys::Reflect::set(&record, &"json".into(), &json.into()).unwrap();
        let store = tx.object_store(store).unwrap();
        store
            .put(JsValue::from(record))
            .primitive()
            .unwrap()
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    db.close();
}

/// A fresh queue as the version 1 worker left it.
async fn write_version_1(queued: &[StoredRequest], dead: &[DeadLetter]) {
    close();
    Database::delete_by_name(DB_NAME).unwrap().await.unwrap();
    let records = queued
        .iter()
        .map(|q| ("queue", q.id.clone(), serde_json::to_string(q).unwrap()))
        .chain(dead.iter().map(|d| {
            let json = serde_json::to_string(d).unwrap();
            ("dead", d.request.id.clone(), json)
        }))
        .collect();
    put_version_1(records).await;
}

async fn a_version_1_queue_is_upgraded_and_keeps_its_entries() {
    let queued = vec![stored("q-old-1", 10), stored("q-old-2", 20)];
    let letter = DeadLetter {
        request: stored("q-old-dead", 5),
        reason: "the server refused it (422)".into(),
        status: Some(422),
        excerpt: r#"{"error":"bad"}"#.into(),
        dead_at: 30,
    };
    write_version_1(&queued, std::slice::from_ref(&letter)).await;
    signed_in(Some("sam")).await;
    // The worker opens it at the current version: every entry is there,
    // unchanged.
    assert_eq!(
        listing().await.unwrap(),
        (queued.clone(), vec![letter.clone()])
    );
    // Durable across a re-open.
    close();
    assert_eq!(listing().await.unwrap(), (queued.clone(), vec![letter]));
    // And they still work: the old entries replay, in order, exactly once.
    let server = Server::default();
    replay(server.fetcher()).await.unwrap();
    let seen = server.seen.borrow().clone();
    assert_eq!(
        seen,
        vec![
            (
                r#"{"from":"q-old-1"}"#.to_string(),
                "key-q-old-1".to_string()
            ),
            (
                r#"{"from":"q-old-2"}"#.to_string(),
                "key-q-old-2".to_string()
            ),
        ]
    );
    assert!(listing().await.unwrap().0.is_empty());
    clear().await;
    a_damaged_record_is_counted_and_kept().await;
}

/// A record damaged on disk: not replayed, counted in the figures the pages
/// show, and still in the store.
async fn a_damaged_record_is_counted_and_kept() {
    write_version_1(&[stored("q-fine", 1)], &[]).await;
    let damaged = r#"{"id": "q-dam"#.to_string();
    put_version_1(vec![("queue", "q-damaged".into(), damaged)]).await;
    signed_in(Some("sam")).await;
    let stats = casefile_sw::queue::stats().await.unwrap();
    assert_eq!((stats.queued, stats.unreadable), (1, 1));
    let server = Server::default();
    replay(server.fetcher()).await.unwrap();
    assert_eq!(
        server.seen.borrow().len(),
        1,
        "only the readable entry is sent"
    );
    let stats = casefile_sw::queue::stats().await.unwrap();
    assert_eq!(
        (stats.queued, stats.unreadable),
        (0, 1),
        "the damaged one is kept"
    );
    close();
    Database::delete_by_name(DB_NAME).unwrap().await.unwrap();
}

#[wasm_bindgen_test]
fn retry_after_is_read_as_seconds_or_as_an_http_date() {
    use casefile_core::retry::{format_http_date, Failure};
    let with = |value: &str| {
        let headers = Headers::new().unwrap();
        headers.set("retry-after", value).unwrap();
        let init = ResponseInit::new();
        init.set_status(503);
        init.set_headers(&headers);
        let response = Response::new_with_opt_str_and_init(None, &init).unwrap();
        match casefile_sw::queue::failure_of(&response) {
            Some(Failure::Http {
                status: 503,
                retry_after_ms,
            }) => retry_after_ms,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(with("120"), Some(120_000));
    let now = js_sys::Date::now() as u64;
    let in_30_s = with(&format_http_date(now + 30_000)).expect("a date");
    assert!((28_000..=30_000).contains(&in_30_s), "{in_30_s}");
    assert_eq!(with(&format_http_date(now - 60_000)), Some(0), "past: now");
    assert_eq!(with("1.5"), None, "not a date, whatever Date.parse thinks");
    assert_eq!(with("soon"), None);
}
