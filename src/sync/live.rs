//! Live notices (`GET /api/v1/live`, a WebSocket): the server says its
//! latest cursor on connect and after every commit, and the driver pulls.
//! The transport only: when to ping, when a silent connection is dead and
//! how long to wait before reconnecting are `casefile_core::sync::live`'s
//! rules. It waits for `online` before reconnecting.

use super::SyncEngine;
use casefile_core::api::LiveNotice;
use casefile_core::event::Trigger;
use casefile_core::sync::live::{reconnect_wait, Beat, Liveness, ANSWER_POLL_MS, HEARTBEAT_MS};
use futures_util::future::{select, Either};
use futures_util::{SinkExt, StreamExt};
use gloo_net::websocket::{futures::WebSocket, Message};
use leptos::prelude::*;

fn url() -> Option<String> {
    let location = window().location();
    let scheme = if location.protocol().ok()? == "https:" {
        "wss"
    } else {
        "ws"
    };
    Some(format!("{scheme}://{}/api/v1/live", location.host().ok()?))
}

/// Keeps a live socket open for as long as the page lives.
pub fn connect(engine: SyncEngine) {
    wasm_bindgen_futures::spawn_local(async move {
        let mut failures = 0u32;
        loop {
            if window().navigator().on_line() {
                if session(&engine).await {
                    failures = 0;
                }
                engine.trigger(Trigger::LiveDown);
                shown(&engine, false);
            }
            failures += 1;
            let wait = reconnect_wait(failures, js_sys::Math::random());
            wait_or_answered(&engine, wait).await;
        }
    });
}

/// The socket's state, in the status and on `<html data-live>` (for tests
/// and styles).
fn shown(engine: &SyncEngine, up: bool) {
    engine.status().live.set(up);
    if let Some(root) = document().document_element() {
        let _ = root.set_attribute("data-live", if up { "up" } else { "down" });
    }
}

/// Waits `wait_ms`, or less: once a push or pull goes through, the server
/// is back and the socket tries again at once (a backoff grown while the
/// server was down would otherwise keep notices away for up to 30 s).
async fn wait_or_answered(engine: &SyncEngine, wait_ms: u64) {
    let status = engine.status();
    let answered = move || {
        (
            status.last_pull.get_untracked(),
            status.last_push.get_untracked(),
        )
    };
    let before = answered();
    let mut waited = 0;
    while waited < wait_ms && answered() == before {
        let step = ANSWER_POLL_MS.min(wait_ms - waited);
        crate::http::sleep_ms(step).await;
        waited += step;
    }
}

/// One connection, until it drops. True when it was up at some point.
async fn session(engine: &SyncEngine) -> bool {
    let Some(url) = url() else { return false };
    let Ok(socket) = WebSocket::open(&url) else {
        return false;
    };
    let (mut write, mut read) = socket.split();
    let now = || js_sys::Date::now() as u64;
    let mut live = Liveness::new(now());
    loop {
        let tick = Box::pin(crate::http::sleep_ms(HEARTBEAT_MS));
        match select(read.next(), tick).await {
            Either::Left((Some(Ok(Message::Text(text))), _)) => {
                if live.heard(now()) {
                    shown(engine, true);
                    engine.trigger(Trigger::LiveUp);
                }
                if let Ok(notice) = serde_json::from_str::<LiveNotice>(&text) {
                    engine.trigger(Trigger::Notice {
                        cursor: notice.cursor,
                    });
                }
            }
            Either::Left((Some(Ok(Message::Bytes(_))), _)) => live.touch(now()),
            Either::Left((None | Some(Err(_)), _)) => return live.was_up(),
            Either::Right(_) => {
                if live.beat(now()) == Beat::Dead
                    || write.send(Message::Text("ping".into())).await.is_err()
                {
                    return live.was_up();
                }
            }
        }
    }
}
