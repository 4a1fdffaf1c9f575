//! Tabs: one syncs (it holds the Web Lock `casefile-sync` until it closes,
//! then the next tab in line takes over); all of them hear on the
//! `BroadcastChannel` what changed, and the browser's triggers reach the
//! driver from here.

use super::{live, SyncEngine};
use casefile_core::api::TabNotice;
use casefile_core::event::Trigger;
use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// The lock and the channel share this name.
const NAME: &str = "casefile-sync";

/// The channel to the other tabs of this origin, if the browser has one.
pub fn channel() -> Option<web_sys::BroadcastChannel> {
    web_sys::BroadcastChannel::new(&name()).ok()
}

/// The signed-in user's tabs' channel and lock (core's
/// `device::sync_channel`): another user's tabs never lead for them.
fn name() -> String {
    crate::session::owner().map_or_else(
        || NAME.to_string(),
        |u| casefile_core::device::sync_channel(&u),
    )
}

/// Tells the other tabs (a tab does not hear its own messages).
pub fn post(channel: Option<&web_sys::BroadcastChannel>, notice: &TabNotice) {
    if let Some(channel) = channel {
        let text = serde_json::to_string(notice).expect("notices encode");
        let _ = channel.post_message(&JsValue::from_str(&text));
    }
}

/// Acts on what the other tabs say.
pub fn listen(engine: &SyncEngine) {
    let Some(channel) = engine.0.channel.as_ref() else {
        return;
    };
    let me = engine.clone();
    let on_message =
        Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
            let Some(text) = ev.data().as_string() else {
                return;
            };
            let Ok(notice) = serde_json::from_str::<TabNotice>(&text) else {
                leptos::logging::warn!("ignored a malformed tab message: {text}");
                return;
            };
            let status = me.status();
            match notice {
                TabNotice::Appended => me.trigger(Trigger::Appended),
                TabNotice::SyncNow => me.trigger(Trigger::SyncNow),
                TabNotice::Changed { aggregates } => me.changed(aggregates, false),
                TabNotice::Status {
                    pending,
                    last_push,
                    last_pull,
                    error,
                } => {
                    if !status.leader.get_untracked() {
                        status.pending.set(pending);
                        status.last_push.set(last_push);
                        status.last_pull.set(last_pull);
                        status.error.set(error);
                    }
                }
            }
        });
    channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();
}

/// `online`, `offline` and focus become triggers.
pub fn wire_triggers(engine: &SyncEngine) {
    for (event, trigger) in [("online", Trigger::Online), ("offline", Trigger::Offline)] {
        let me = engine.clone();
        std::mem::forget(window_event_listener_untyped(event, move |_| {
            me.trigger(trigger)
        }));
    }
    let me = engine.clone();
    std::mem::forget(window_event_listener(
        leptos::ev::visibilitychange,
        move |_| {
            if document().visibility_state() == web_sys::VisibilityState::Visible {
                me.trigger(Trigger::Focus);
            }
        },
    ));
    let me = engine.clone();
    std::mem::forget(window_event_listener(leptos::ev::focus, move |_| {
        me.trigger(Trigger::Focus)
    }));
}

/// Starts syncing once this tab holds the lock: at once for the first tab,
/// later for the others (when the syncing tab closes). Without Web Locks
/// every tab syncs; the server's idempotency keeps that safe.
pub fn lead(engine: &SyncEngine) {
    let start = {
        let me = engine.clone();
        move || {
            me.status().leader.set(true);
            live::connect(me.clone());
            wasm_bindgen_futures::spawn_local(me.run());
        }
    };
    let navigator = window().navigator();
    let request = js_sys::Reflect::get(&navigator, &"locks".into())
        .ok()
        .filter(|l| !l.is_undefined())
        .and_then(|locks| {
            let f = js_sys::Reflect::get(&locks, &"request".into()).ok()?;
            Some((locks, f.dyn_into::<js_sys::Function>().ok()?))
        });
    let Some((locks, request)) = request else {
        leptos::logging::warn!("no Web Locks: this tab syncs on its own");
        return start();
    };
    // Held until the tab closes: the callback's promise never settles.
    let granted = Closure::once_into_js(move |_lock: JsValue| -> js_sys::Promise {
        start();
        js_sys::Promise::new(&mut |_, _| {})
    });
    if let Err(e) = request.call2(&locks, &name().into(), &granted) {
        leptos::logging::warn!("Web Lock request failed ({e:?}): this tab syncs on its own");
    }
}
