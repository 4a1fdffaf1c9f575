//! The page's side of the service worker's write queue: it asks the worker
//! to replay (on `online`, focus, the live socket coming back, "Sync now",
//! and every [`TICK_MS`] while writes wait), and turns what the worker says
//! into event-store changes. Only the syncing tab changes the store; every
//! tab shows the queue.

use super::SyncEngine;
use crate::store::schema::QUEUED;
use crate::store::Change;
use casefile_core::api::{PushRequest, PushResponse};
use casefile_core::event::DomainEvent;
use casefile_core::queue::{missed_answers, DeadLetter, StoredRequest, ToPage, ToWorker, TICK_MS};
use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

const EVENTS_PATH: &str = "/api/v1/events";

fn container() -> Option<web_sys::ServiceWorkerContainer> {
    let navigator = window().navigator();
    js_sys::Reflect::has(&navigator, &"serviceWorker".into())
        .unwrap_or(false)
        .then(|| navigator.service_worker())
}

/// Sends a request to the worker that controls this page, if any.
pub fn send(message: &ToWorker) {
    let Some(worker) = container().and_then(|c| c.controller()) else {
        return;
    };
    let text = serde_json::to_string(message).expect("messages encode");
    let _ = worker.post_message(&JsValue::from_str(&text));
}

/// Registers a Background Sync, so the browser wakes the worker to replay
/// when connectivity returns even with no page open (where supported).
pub fn ask_for_background_sync() {
    let Some(container) = container() else { return };
    let Ok(ready) = container.ready() else { return };
    wasm_bindgen_futures::spawn_local(async move {
        let Ok(reg) = wasm_bindgen_futures::JsFuture::from(ready).await else {
            return;
        };
        let sync = js_sys::Reflect::get(&reg, &"sync".into()).unwrap_or(JsValue::UNDEFINED);
        if sync.is_undefined() {
            return;
        }
        if let Ok(register) = js_sys::Reflect::get(&sync, &"register".into()) {
            if let Ok(f) = register.dyn_into::<js_sys::Function>() {
                let _ = f.call1(&sync, &"casefile-queue".into());
            }
        }
    });
}

/// While writes wait in the worker's queue, asks it to look every
/// [`TICK_MS`] (a sleeping worker's own timers are gone).
pub fn tick_while_queued(engine: &SyncEngine) {
    let status = engine.status();
    wasm_bindgen_futures::spawn_local(async move {
        loop {
            crate::http::sleep_ms(TICK_MS).await;
            if status.queue.with_untracked(|q| q.queued > 0) {
                send(&ToWorker::ReplayNow);
            }
        }
    });
}

/// The events inside a queued event push.
fn events_in(request_body: &str) -> Vec<DomainEvent> {
    serde_json::from_str::<PushRequest>(request_body)
        .map(|r| {
            r.events
                .into_iter()
                .filter_map(|v| serde_json::from_value(v).ok())
                .collect()
        })
        .unwrap_or_default()
}

fn is_event_push(url: &str) -> bool {
    web_sys::Url::new(url).is_ok_and(|u| u.pathname() == EVENTS_PATH)
}

/// The events of a dead letter, as stored on this device (for the sync
/// center to show readably).
pub fn letter_events(letter: &DeadLetter) -> Vec<DomainEvent> {
    if is_event_push(&letter.request.url) {
        events_in(&letter.request.body)
    } else {
        Vec::new()
    }
}

/// Hears the worker.
pub fn listen(engine: &SyncEngine) {
    let Some(container) = container() else { return };
    let me = engine.clone();
    let on_message =
        Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
            // The worker posts plain objects; JSON text is read as well.
            let data = ev.data();
            let text = match data.as_string() {
                Some(text) => text,
                None => js_sys::JSON::stringify(&data)
                    .ok()
                    .and_then(|t| t.as_string())
                    .unwrap_or_default(),
            };
            let Ok(message) = serde_json::from_str::<ToPage>(&text) else {
                leptos::logging::warn!("ignored a malformed worker message: {text}");
                return;
            };
            let me = me.clone();
            leptos::task::spawn_local(async move { me.on_worker(message).await });
        });
    container.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();
}

impl SyncEngine {
    async fn on_worker(&self, message: ToPage) {
        let status = self.status();
        let leader = status.leader.get_untracked();
        match message {
            ToPage::Stats { stats } => {
                status.queue.set(stats);
                return;
            }
            ToPage::Listing { queued, dead } => {
                if leader {
                    self.resend_missed(&queued, &dead).await;
                }
                status.queue_list.set((queued, dead));
                return;
            }
            ToPage::Queued { .. } | ToPage::RetryScheduled { .. } => {}
            ToPage::Synced {
                url,
                status: code,
                body,
                ..
            } if leader && is_event_push(&url) => {
                match serde_json::from_str::<PushResponse>(&body) {
                    Ok(response) => self.apply_worker_answer(&response).await,
                    Err(e) => leptos::logging::warn!("unreadable replay answer ({code}): {e}"),
                }
                // Events held back behind these (core::event::hold_back)
                // may go now.
                self.trigger(casefile_core::event::Trigger::Appended);
            }
            ToPage::Synced { .. } => {}
            ToPage::DeadLettered { letter } if leader => {
                let reason = format!("{} ({})", letter.reason, letter.excerpt);
                self.notify(format!(
                    "A change could not be delivered: {}. Retry or discard it in the sync center.",
                    letter.reason
                ));
                self.mark(&letter, Change::Dead(reason)).await;
            }
            ToPage::Discarded { letter } if leader => {
                let reason = format!("discarded by you: {}", letter.reason);
                self.mark(&letter, Change::Refused(reason)).await;
                self.trigger(casefile_core::event::Trigger::Appended);
            }
            ToPage::DeadLettered { .. } | ToPage::Discarded { .. } => {}
        }
        send(&ToWorker::List);
        self.refresh_counts().await;
        self.0.status.revision.update(|r| *r += 1);
    }

    /// Events marked queued under entries the worker no longer has: their
    /// answer came while no tab led, so they go out again (core's
    /// `missed_answers`).
    async fn resend_missed(&self, queued: &[StoredRequest], dead: &[DeadLetter]) {
        let Ok(store) = self.store() else { return };
        let Ok(waiting) = store.with_status(QUEUED).await else {
            return;
        };
        let listed: Vec<&str> = queued
            .iter()
            .map(|q| q.id.as_str())
            .chain(dead.iter().map(|d| d.request.id.as_str()))
            .collect();
        let pairs = waiting
            .iter()
            .filter_map(|(r, _)| Some((r.id.as_str(), r.queue_id.as_deref()?)));
        let changes: Vec<(String, Change)> =
            missed_answers(pairs, &listed, js_sys::Date::now() as u64)
                .into_iter()
                .map(|(event, entry)| (event.to_string(), Change::Unqueued(entry.to_string())))
                .collect();
        if changes.is_empty() {
            return;
        }
        if let Err(e) = store.update(&changes).await {
            self.0.status.error.set(Some(e.to_string()));
            return;
        }
        self.refresh_counts().await;
        self.trigger(casefile_core::event::Trigger::Appended);
    }

    /// A replayed push's answer, applied to the events it names.
    async fn apply_worker_answer(&self, response: &PushResponse) {
        let Ok(store) = self.store() else { return };
        let mut sent = Vec::new();
        for result in &response.results {
            if let Ok(Some((_, event))) = store.event(&result.id).await {
                sent.push(event);
            }
        }
        let refs: Vec<&DomainEvent> = sent.iter().collect();
        self.apply_answer(&refs, response).await;
    }

    async fn mark(&self, letter: &DeadLetter, change: Change) {
        let Ok(store) = self.store() else { return };
        let events = letter_events(letter);
        let changes: Vec<(String, Change)> = events
            .iter()
            .map(|e| (e.id.clone(), change.clone()))
            .collect();
        if let Err(e) = store.update(&changes).await {
            self.0.status.error.set(Some(e.to_string()));
        }
        let mut cases: Vec<String> = events.into_iter().map(|e| e.aggregate_id).collect();
        cases.sort();
        cases.dedup();
        self.changed(cases, true);
    }

    /// The person's Retry on a dead letter: back into the worker's queue;
    /// its events count as queued again.
    pub async fn retry_letter(&self, letter: &DeadLetter) {
        self.mark(letter, Change::Queued(letter.request.id.clone()))
            .await;
        send(&ToWorker::Retry {
            id: letter.request.id.clone(),
        });
    }

    /// The person's Discard on a dead letter: the worker drops it and its
    /// events leave the view (the optimistic change rolls back).
    pub fn discard_letter(&self, letter: &DeadLetter) {
        send(&ToWorker::Discard {
            id: letter.request.id.clone(),
        });
    }

    /// Asks the worker for its queue and dead letters.
    pub fn list_queue(&self) {
        send(&ToWorker::List);
    }
}
