//! The case list as it was last shown (core's [`Peek`]), painted at a start
//! before the signed-in part of the app has loaded, and put away the moment
//! the app mounts over it. A repeat visit to the list (offline, with a cold
//! worker) shows the person's cases without waiting for the signed-in
//! chunks of the wasm to download and compile, for the saved query cache to
//! be read and for the store to open.
//!
//! It is kept in local storage, which a start reads synchronously; IndexedDB
//! would cost an open and a transaction before the first paint. What it
//! holds is core's rule: a page of rows, only what a row shows, named for
//! its user. It goes at every sign-out and whenever the device's user
//! changes ([`crate::session`]). The peek is inert: it cannot be typed into
//! or clicked, so nothing done in it is lost when the app replaces it.

use crate::components::{CaseTable, CasesHead, PeekHeader};
use casefile_core::cases::{CaseRow, Peek};
use leptos::prelude::*;
use std::any::Any;
use std::cell::RefCell;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;

/// The longest wait for the peek's paint ([`painted`]).
const PAINT_WAIT_MS: i32 = 50;

/// Its local storage key.
const KEY: &str = "casefile.peek";

thread_local! {
    /// The painted peek, until the app replaces it.
    static SHOWN: RefCell<Option<Box<dyn Any>>> = const { RefCell::new(None) };
}

fn storage() -> Option<web_sys::Storage> {
    window().local_storage().ok().flatten()
}

/// Keeps the first page of `user`'s unfiltered list, as shown, while
/// `user` is the one this browser keeps signed in: a list that changes
/// during a sign-out (a sync page landing, another tab) is not kept again.
/// A failure (storage full or refused) only costs the next start its early
/// paint.
pub fn save(user: &str, matches: usize, rows: &[CaseRow]) {
    if crate::session::kept_user().as_deref() != Some(user) {
        return;
    }
    let Some(store) = storage() else { return };
    let text = serde_json::to_string(&Peek::of(user, matches, rows)).unwrap_or_default();
    if store.get_item(KEY).ok().flatten().as_deref() != Some(text.as_str()) {
        let _ = store.set_item(KEY, &text);
    }
}

/// Deletes the peek (a sign-out, another user).
pub fn forget() {
    if let Some(store) = storage() {
        let _ = store.remove_item(KEY);
    }
}

/// Paints `user`'s peek if this start opens the case list and one is kept
/// for them, and says whether it did. A peek that does not read, or is
/// someone else's, is not shown. The peek is part of the first chunk of the
/// wasm: as a chunk of its own it painted about 30 ms later (its fetch
/// through a cold worker is on the way), which costs more than the first
/// load's 1.8 KB → 25 KB gzip it saves (measured, issue 18).
pub fn show(user: &str) -> bool {
    if window().location().pathname().ok().as_deref() != Some("/cases") {
        return false;
    }
    let Some(text) = storage().and_then(|s| s.get_item(KEY).ok().flatten()) else {
        return false;
    };
    let Some((rows, matches)) = serde_json::from_str::<Peek>(&text).ok().and_then(|p| {
        let matches = p.matches;
        Some((p.rows_for(user)?, matches))
    }) else {
        return false;
    };
    let who = crate::session::kept().filter(|s| s.user == user);
    let Some(body) = document().body() else {
        return false;
    };
    let handle = leptos::mount::mount_to(body, move || {
        // The rows it has (a page's first few), not the page it was.
        let count = format!("Showing {} of {matches} cases", rows.len());
        let ignore = Callback::new(|_: String| {});
        view! {
            <div class="peek" inert aria-busy="true">
                <PeekHeader who/>
                <main class="content">
                    <CasesHead q=Signal::stored(String::new()) on_q=ignore on_status=ignore on_priority=ignore on_sort=ignore/>
                    <div class="case-list">
                        <p class="muted count">{count}</p>
                        <CaseTable rows/>
                    </div>
                </main>
            </div>
        }
    });
    SHOWN.with(|s| *s.borrow_mut() = Some(Box::new(handle)));
    true
}

/// Resolves once the browser has painted (after the next frame): the rest
/// of the app loads after the peek is on screen, not before, as compiling
/// its chunks would hold the frame back. A hidden tab paints no frames, so
/// it also resolves after [`PAINT_WAIT_MS`] at most: the app must start
/// (its sync, its queued writes) whether or not anyone looks.
pub async fn painted() {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let _ = window().set_timeout_with_callback_and_timeout_and_arguments_0(
            resolve.unchecked_ref(),
            PAINT_WAIT_MS,
        );
        let later = Closure::once_into_js(move || {
            let _ = window().set_timeout_with_callback(resolve.unchecked_ref());
        });
        let _ = window().request_animation_frame(later.unchecked_ref());
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// Takes the peek away (the app is mounted, or could not load).
pub fn hide() {
    SHOWN.with(|s| s.borrow_mut().take());
}
