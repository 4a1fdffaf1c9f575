//! The page's side of the service worker's write queue: the transport. It
//! carries messages both ways; what they mean for the event store (and
//! when to ask the worker to replay) is core's `SyncMachine`'s to decide.
//! Only the syncing tab changes the store; every tab shows the queue.

use super::SyncEngine;
use casefile_core::event::DomainEvent;
use casefile_core::queue::{DeadLetter, ToPage, ToWorker};
use casefile_core::sync::{retry_ops, Input};
use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

fn container() -> Option<web_sys::ServiceWorkerContainer> {
    let navigator = window().navigator();
    js_sys::Reflect::has(&navigator, &"serviceWorker".into())
        .unwrap_or(false)
        .then(|| navigator.service_worker())
}

/// Sends a request to the worker that controls this page, or, with no
/// controller yet (a first visit, a hard reload), to the active worker once
/// it is ready: a sign-out's `Session`/`Forget` must not be lost.
pub fn send(message: &ToWorker) {
    let Some(container) = container() else { return };
    let text = JsValue::from_str(&serde_json::to_string(message).expect("messages encode"));
    if let Some(worker) = container.controller() {
        let _ = worker.post_message(&text);
        return;
    }
    let Ok(ready) = container.ready() else { return };
    wasm_bindgen_futures::spawn_local(async move {
        if let Ok(reg) = wasm_bindgen_futures::JsFuture::from(ready).await {
            let reg: web_sys::ServiceWorkerRegistration = reg.unchecked_into();
            if let Some(worker) = reg.active() {
                let _ = worker.post_message(&text);
            }
        }
    });
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

/// The events of a dead letter, as stored on this device (for the sync
/// center to show readably).
pub fn letter_events(letter: &DeadLetter) -> Vec<DomainEvent> {
    casefile_core::sync::letter_events(letter)
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
            let message = serde_json::from_str::<serde_json::Value>(&text)
                .map_err(|e| e.to_string())
                .and_then(|v| ToPage::from_json(&v));
            let Ok(message) = message else {
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
    /// What the worker says: every tab shows the queue; the syncing tab's
    /// machine decides what it means for the store.
    async fn on_worker(&self, message: ToPage) {
        let status = self.status();
        let owner = crate::session::owner();
        let whose = match &message {
            ToPage::Stats { stats } => Some(&stats.user),
            ToPage::Listing { user, .. } => Some(user),
            _ => None,
        };
        if let Some(whose) = whose.filter(|w| **w != owner) {
            // The worker acts for someone else (a tab of another session
            // told it last): if this page's user is the one signed in, say
            // so (never over a sign-out: nobody is kept then); the figures
            // and listing are not this page's either way.
            if whose.is_some() && owner.is_some() && crate::session::kept_user() == owner {
                send(&ToWorker::Session { user: owner });
            }
            return;
        }
        match &message {
            ToPage::Stats { stats } => status.queue.set(stats.clone()),
            ToPage::Listing { queued, dead, .. } => {
                status.queue_list.set((queued.clone(), dead.clone()))
            }
            _ => {}
        }
        if status.leader.get_untracked() {
            self.input(Input::Worker(message));
        } else if casefile_core::sync::follower_rereads(&message) {
            send(&ToWorker::List);
            self.read_counts().await;
            status.revision.update(|r| *r += 1);
        }
    }

    /// The person's Retry on a dead letter: back into the worker's queue;
    /// its events count as queued again.
    pub async fn retry_letter(&self, letter: &DeadLetter) {
        if let Ok(store) = self.store() {
            if let Err(e) = store.commit(&retry_ops(letter)).await {
                self.0.status.error.set(Some(e.to_string()));
            }
        }
        let mut cases: Vec<String> = letter_events(letter)
            .into_iter()
            .map(|e| e.aggregate_id)
            .collect();
        cases.sort();
        cases.dedup();
        self.changed(cases, true);
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
