//! The durable write queue and its dead letters, in IndexedDB
//! (`casefile-queue`), replayed by core's policy (`casefile_core::queue`).
//! Writes that fail for want of a server are answered `202 {"queued": id}`;
//! every page hears what happens to them.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use casefile_core::queue::{
    stored_headers, DeadLetter, Effects, Next, Outcome, Queue, QueueOp, QueueStats, StoredRequest,
    ToPage, ToWorker,
};
use casefile_core::retry::{parse_retry_after_with, Failure};
use core::cell::RefCell;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    Headers, IdbDatabase, Request, RequestInit, Response, ResponseInit, ServiceWorkerGlobalScope,
};

use crate::codec::{message_to_js, Js};
use crate::idb;
use crate::local::Local;
use crate::strategy::Fetcher;

/// The database; its schema version (upgrades keep the entries).
pub const DB_NAME: &str = "casefile-queue";
/// Version 1: `queue` and `dead`, both keyed by the entry id, each record
/// `{id, json}` with the entry as JSON text.
/// Version 2: the same stores; a record is `{id, entry}` with the entry as a
/// plain object (no JSON text to write or parse). Version 1 records stay as
/// they are and are still read; the next write of an entry stores it anew.
/// Version 3: a `meta` store with `{id: "user", user}`, who is signed in (a
/// restarted worker replays only their entries); entries carry their user.
pub const DB_VERSION: u8 = 3;
const QUEUE: &str = "queue";
const DEAD: &str = "dead";
const META: &str = "meta";

static DB: Local<RefCell<Option<IdbDatabase>>> = Local(RefCell::new(None));
/// Core's queue machine: every decision the replay makes is its. This file
/// stores what it says and sends what it names.
static MACHINE: Local<RefCell<Queue>> = Local(RefCell::new(Queue::new()));

/// A page has said who is signed in during this worker's life (then memory
/// is the truth; until then, what the store kept from before a restart).
static TOLD: Local<core::cell::Cell<bool>> = Local(core::cell::Cell::new(false));

/// Asks the machine (never across an await).
fn machine<T>(ask: impl FnOnce(&mut Queue) -> T) -> T {
    ask(&mut MACHINE.borrow_mut())
}

fn scope() -> ServiceWorkerGlobalScope {
    js_sys::global().unchecked_into()
}

fn now() -> u64 {
    js_sys::Date::now() as u64
}

/// The database, opened once per worker life.
async fn open() -> Result<IdbDatabase, JsValue> {
    if let Some(db) = DB.borrow().clone() {
        return Ok(db);
    }
    // Version 1 → 2: records change shape as they are next written (see
    // `DB_VERSION`); nothing has to move, so an upgrade only creates what is
    // missing.
    let db = idb::open(DB_NAME, DB_VERSION.into(), &[QUEUE, DEAD, META]).await?;
    // A newer worker upgrading the schema must not wait for this one.
    let on_change = Closure::<dyn FnMut()>::new(close);
    db.set_onversionchange(Some(on_change.as_ref().unchecked_ref()));
    on_change.forget();
    *DB.borrow_mut() = Some(db.clone());
    Ok(db)
}

/// Closes the connection; the next use opens it again (and upgrades it if a
/// newer schema is due).
pub fn close() {
    let db = DB.borrow_mut().take();
    if let Some(db) = db {
        db.close();
    }
}

/// As at a new worker life: the connection closes and what pages said is
/// forgotten, so the next use reads who is signed in from the store (tests
/// use it to restart the worker).
pub fn restart() {
    close();
    TOLD.set(false);
    machine(|q| q.set_user(None));
}

/// A stored entry as a JS value: `{entry}` (version 2) or `{json}` (version
/// 1, parsed by the browser's own JSON).
fn entry_of(record: &JsValue) -> Result<JsValue, JsValue> {
    let entry = js_sys::Reflect::get(record, &"entry".into())?;
    if !entry.is_undefined() {
        return Ok(entry);
    }
    let json = js_sys::Reflect::get(record, &"json".into())?;
    js_sys::JSON::parse(&json.as_string().unwrap_or_default())
}

/// Every record of `store`, as stored.
async fn records(store: &str) -> Result<js_sys::Array, JsValue> {
    let db = open().await?;
    let tx = idb::transaction(&db, &[store], false)?;
    let raw = idb::request(&tx.object_store(store)?.get_all()?).await?;
    Ok(js_sys::Array::from(&raw))
}

/// The readable entries among `raw`, and how many records did not read.
fn readable<T: Js>(raw: &js_sys::Array) -> (Vec<T>, usize) {
    // A record that no longer reads is reported, never silently dropped
    // from the store: it stays there for inspection.
    let mut bad = 0;
    let good = raw
        .iter()
        .filter_map(|r| match entry_of(&r).ok().as_ref().and_then(T::from_js) {
            Some(v) => Some(v),
            None => {
                bad += 1;
                web_sys::console::error_2(&"casefile-sw queue: unreadable entry".into(), &r);
                None
            }
        })
        .collect();
    (good, bad)
}

/// Writes `put` into `to` and deletes `delete` from `from`, in one
/// transaction (an entry is never in both stores, nor in neither).
async fn write(
    to: &str,
    put: Option<(&str, JsValue)>,
    from: &str,
    delete: Option<&str>,
) -> Result<(), JsValue> {
    let db = open().await?;
    let tx = idb::transaction(&db, &[QUEUE, DEAD], true)?;
    if let Some(id) = delete {
        idb::request(&tx.object_store(from)?.delete(&id.into())?).await?;
    }
    if let Some((id, entry)) = put {
        let record = js_sys::Object::new();
        js_sys::Reflect::set(&record, &"id".into(), &id.into())?;
        js_sys::Reflect::set(&record, &"entry".into(), &entry)?;
        idb::request(&tx.object_store(to)?.put(&record)?).await?;
    }
    idb::commit(&tx).await
}

/// Carries out the machine's effects: each store op in its own transaction,
/// then the messages, then the timer.
async fn apply(effects: Effects) -> Result<(), JsValue> {
    for op in effects.ops {
        match op {
            QueueOp::Put(e) => write(QUEUE, Some((&e.id, e.to_js())), QUEUE, None).await?,
            QueueOp::Remove(id) => write(QUEUE, None, QUEUE, Some(&id)).await?,
            QueueOp::Bury(letter) => {
                let id = letter.request.id.clone();
                write(DEAD, Some((&id, letter.to_js())), QUEUE, Some(&id)).await?
            }
            QueueOp::Revive(e) => write(QUEUE, Some((&e.id, e.to_js())), DEAD, Some(&e.id)).await?,
            QueueOp::Forget(id) => write(DEAD, None, DEAD, Some(&id)).await?,
        }
    }
    for message in &effects.tell {
        tell(message).await;
    }
    if let Some(at) = effects.wake_at {
        schedule(at);
    }
    Ok(())
}

/// Loads the machine from the store (the store is the truth: a restarted
/// worker has nothing else, and tests write it directly).
async fn load() -> Result<(), JsValue> {
    let (queued, bad_queued): (Vec<StoredRequest>, _) = readable(&records(QUEUE).await?);
    let (dead, bad_dead) = readable(&records(DEAD).await?);
    let user = records(META)
        .await?
        .iter()
        .find(|r| {
            js_sys::Reflect::get(r, &"id".into())
                .ok()
                .and_then(|v| v.as_string())
                .as_deref()
                == Some("user")
        })
        .and_then(|r| js_sys::Reflect::get(&r, &"user".into()).ok())
        .and_then(|v| v.as_string());
    machine(|q| {
        q.load(queued, dead, bad_queued + bad_dead);
        if !TOLD.get() {
            q.set_user(user);
        }
    });
    Ok(())
}

/// Who is signed in, as a page says: stored (a restarted worker knows it)
/// and the machine's.
async fn set_user(user: Option<String>) -> Result<(), JsValue> {
    TOLD.set(true);
    machine(|q| q.set_user(user.clone()));
    let db = open().await?;
    let tx = idb::transaction(&db, &[META], true)?;
    let record = js_sys::Object::new();
    js_sys::Reflect::set(&record, &"id".into(), &"user".into())?;
    let value = user.as_deref().map_or(JsValue::NULL, JsValue::from_str);
    js_sys::Reflect::set(&record, &"user".into(), &value)?;
    idb::request(&tx.object_store(META)?.put(&record)?).await?;
    idb::commit(&tx).await
}

/// Everything queued (oldest first) and every dead letter, as stored.
pub async fn listing() -> Result<(Vec<StoredRequest>, Vec<DeadLetter>), JsValue> {
    load().await?;
    Ok(machine(|q| {
        (q.queued().cloned().collect(), q.dead().cloned().collect())
    }))
}

/// The queue's figures, unreadable records included.
pub async fn stats() -> Result<QueueStats, JsValue> {
    load().await?;
    Ok(machine(|q| q.stats()))
}

/// Tells every page (all tabs, controlled or not).
pub async fn tell(message: &ToPage) {
    let value = message_to_js(message);
    let options = web_sys::ClientQueryOptions::new();
    options.set_include_uncontrolled(true);
    options.set_type(web_sys::ClientType::Window);
    let Ok(list) = JsFuture::from(scope().clients().match_all_with_options(&options)).await else {
        return;
    };
    for client in js_sys::Array::from(&list).iter() {
        let client: web_sys::Client = client.unchecked_into();
        let _ = client.post_message(&value);
    }
}

async fn tell_stats() {
    if let Ok(stats) = stats().await {
        tell(&ToPage::Stats { stats }).await;
    }
}

fn new_id() -> String {
    let random = (js_sys::Math::random() * 1e12) as u64;
    casefile_core::queue::queue_id(now(), random)
}

/// The request's headers as the queue keeps them (core's
/// `stored_headers`: no cookies, no connection headers).
async fn headers_of(request: &Request) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Ok(Some(iter)) = js_sys::try_iter(&request.headers()) {
        for pair in iter.flatten() {
            let pair = js_sys::Array::from(&pair);
            if let (Some(k), Some(v)) = (pair.get(0).as_string(), pair.get(1).as_string()) {
                out.push((k, v));
            }
        }
    }
    stored_headers(out)
}

fn to_request(entry: &StoredRequest) -> Result<Request, JsValue> {
    let headers = Headers::new()?;
    for (k, v) in &entry.headers {
        headers.set(k, v)?;
    }
    let init = RequestInit::new();
    init.set_method(&entry.method);
    init.set_headers(&headers);
    if !entry.body.is_empty() {
        init.set_body(&JsValue::from_str(&entry.body));
    }
    Request::new_with_str_and_init(&entry.url, &init)
}

async fn body_text(response: &Response) -> String {
    match response.text() {
        Ok(p) => JsFuture::from(p)
            .await
            .ok()
            .and_then(|v| v.as_string())
            .unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// What a response means for a queued write: `None` for a 2xx; otherwise the
/// status and any `Retry-After` (seconds or an HTTP date).
pub fn failure_of(response: &Response) -> Option<Failure> {
    let status = response.status();
    (!(200..300).contains(&status)).then(|| Failure::Http {
        status,
        retry_after_ms: response
            .headers()
            .get("retry-after")
            .ok()
            .flatten()
            .and_then(|v| parse_retry_after_with(&v, now(), browser_date)),
    })
}

/// An HTTP date read by the browser (ms since the epoch).
fn browser_date(text: &str) -> Option<u64> {
    let ms = js_sys::Date::parse(text);
    (ms.is_finite() && ms >= 0.0).then_some(ms as u64)
}

fn online() -> bool {
    let nav: web_sys::WorkerNavigator = scope().navigator();
    nav.on_line()
}

/// `202 {"queued": id}`; `held` names the server's own answer when it gave
/// one (a 401: the server is there, the session is not), so the page does
/// not call it unreachable.
fn queued_answer(id: &str, held: Option<u16>) -> Result<Response, JsValue> {
    let init = ResponseInit::new();
    init.set_status(202);
    init.set_status_text("Queued");
    let headers = Headers::new()?;
    headers.set("content-type", "application/json")?;
    if let Some(status) = held {
        // Three digits by hand: the slim worker has no formatting machinery.
        let digits = [100, 10, 1].map(|d| b'0' + (status / d % 10) as u8);
        headers.set(
            casefile_core::queue::HELD_HEADER,
            core::str::from_utf8(&digits).unwrap_or("0"),
        )?;
    }
    init.set_headers(&headers);
    // `casefile_core::queue::QueuedAnswer`, the id quoted by JSON itself.
    let quoted = js_sys::JSON::stringify(&JsValue::from_str(id))?;
    let body = [r#"{"queued":"#, &String::from(quoted), "}"].concat();
    Response::new_with_opt_str_and_init(Some(&body), &init)
}

/// Sends a write; if the server cannot be reached or has a passing problem
/// (5xx, 408, 429), stores it and answers `202 {"queued": id}`. A definite
/// answer (2xx, other 4xx) goes back to the page as it is.
pub async fn send_or_queue(request: &Request, fetcher: Fetcher) -> Result<Response, JsValue> {
    let body = match request.clone()?.text() {
        Ok(p) => JsFuture::from(p).await?.as_string().unwrap_or_default(),
        Err(_) => String::new(),
    };
    let mut headers = headers_of(request).await;
    let key = match headers.iter().find(|(k, _)| k == "idempotency-key") {
        Some((_, v)) => v.clone(),
        None => {
            let key = ["sw-", &new_id()].concat();
            headers.push(("idempotency-key".into(), key.clone()));
            key
        }
    };
    let user = headers
        .iter()
        .find(|(k, _)| k == casefile_core::queue::USER_HEADER)
        .map(|(_, v)| v.clone());
    let entry = StoredRequest {
        id: new_id(),
        method: request.method(),
        url: request.url(),
        headers,
        body,
        idempotency_key: key,
        enqueued_at: now(),
        attempts: 0,
        next_attempt_at: now(),
        last_error: None,
        last_status: None,
        user,
    };
    let (first, answer) = match (fetcher)(to_request(&entry)?).await {
        Ok(response) => match failure_of(&response) {
            Some(failure) => (Outcome::Failed(failure), Some(response)),
            None => (Outcome::Delivered, Some(response)),
        },
        Err(_) => (Outcome::Failed(Failure::Network), None),
    };
    let id = entry.id.clone();
    let held = answer.as_ref().map(Response::status);
    let kept = machine(|q| q.enqueue(entry, first, now(), js_sys::Math::random(), online()));
    match (kept, answer) {
        (Some(effects), _) => {
            apply(effects).await?;
            queued_answer(&id, held)
        }
        // Not kept: the answer goes back to the page as it is.
        (None, Some(response)) => Ok(response),
        (None, None) => Err(JsValue::from_str("unreachable and not kept")),
    }
}

/// Wakes the replay at `at` while the worker lives (pages also ask). Only a
/// configured worker arms timers (tests drive the replay themselves).
fn schedule(at: u64) {
    if !crate::configured() {
        return;
    }
    let wait = at.saturating_sub(now()).min(i32::MAX as u64) as i32;
    let callback = Closure::once_into_js(|| {
        wasm_bindgen_futures::spawn_local(async {
            let _ = replay(crate::network_fetcher()).await;
        });
    });
    let _ = scope()
        .set_timeout_with_callback_and_timeout_and_arguments_0(callback.unchecked_ref(), wait);
}

/// Replays the queue, oldest first, until it is empty, the oldest entry is
/// not due yet, or the replay pauses (core's `Queue` decides each step).
/// One replay at a time: a trigger during a replay makes it look once more
/// at the end.
pub async fn replay(fetcher: Fetcher) -> Result<(), JsValue> {
    if !machine(Queue::start) {
        return Ok(());
    }
    let result = replay_loop(&fetcher).await;
    let again = machine(Queue::finish);
    tell_stats().await;
    if again {
        return Box::pin(replay(fetcher)).await;
    }
    result
}

async fn replay_loop(fetcher: &Fetcher) -> Result<(), JsValue> {
    load().await?;
    tell(&machine(|q| q.stats_message())).await;
    loop {
        let entry = match machine(|q| q.next(now())) {
            Next::Send(entry) => *entry,
            Next::At(at) => {
                schedule(at);
                return Ok(());
            }
            Next::Idle => return Ok(()),
        };
        let (outcome, status, body) = match (fetcher)(to_request(&entry)?).await {
            Ok(response) => {
                let failure = failure_of(&response);
                let body = body_text(&response).await;
                (
                    failure.map_or(Outcome::Delivered, Outcome::Failed),
                    Some(response.status()),
                    body,
                )
            }
            Err(_) => (Outcome::Failed(Failure::Network), None, String::new()),
        };
        let (effects, go_on) = machine(|q| {
            q.answered(
                &entry.id,
                outcome,
                status,
                body,
                now(),
                js_sys::Math::random(),
                online(),
            )
        });
        apply(effects).await?;
        if !go_on {
            return Ok(());
        }
    }
}

/// Carries out a page's request.
pub async fn on_page_message(message: ToWorker) -> Result<(), JsValue> {
    match message {
        ToWorker::ReplayNow => replay(crate::network_fetcher()).await,
        ToWorker::List => {
            load().await?;
            tell(&machine(|q| q.listing())).await;
            Ok(())
        }
        ToWorker::Retry { id } => {
            load().await?;
            apply(machine(|q| q.retry(&id, now()))).await?;
            replay(crate::network_fetcher()).await
        }
        ToWorker::Discard { id } => {
            // A dead letter, or a write still waiting in the queue.
            load().await?;
            apply(machine(|q| q.discard(&id, now()))).await
        }
        // The page asks for the replay itself (it sends `ReplayNow` once
        // its user is known).
        ToWorker::Session { user } => {
            set_user(user).await?;
            load().await?;
            tell(&machine(|q| q.stats_message())).await;
            Ok(())
        }
        ToWorker::Forget { user } => {
            load().await?;
            apply(machine(|q| q.forget(&user))).await
        }
        ToWorker::SkipWaiting => {
            JsFuture::from(scope().skip_waiting()?).await?;
            Ok(())
        }
    }
}
