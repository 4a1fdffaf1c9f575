//! Who is signed in (SPEC §10), as the app knows it: read from
//! `GET /api/v1/auth/session` at start and after signing in, cleared at
//! sign-out. The session itself is the server's, in an `HttpOnly` cookie that
//! no script here can read; this holds only what the header shows.

use crate::http::{self, FetchError};
use casefile_core::api::SessionInfo;
use casefile_core::device::Plan;
use casefile_core::queue::ToWorker;
use leptos::prelude::*;
use std::cell::RefCell;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

thread_local! {
    /// The user whose stores this page opened at start (`None`: nobody's).
    static OWNER: RefCell<Option<String>> = const { RefCell::new(None) };
    /// The channel on which tabs hear that the signed-in user changed.
    static TABS: RefCell<Option<web_sys::BroadcastChannel>> = const { RefCell::new(None) };
}

/// A sign-out the server has not heard yet (it was offline): sent before
/// anything else next time, so the old cookie cannot bring the session
/// back.
const OWED_LOGOUT: &str = "casefile-logout-owed";
/// Databases a sign-out left to delete (JSON list of names): deleted at the
/// next start, before any store opens them.
const PURGE: &str = "casefile-purge";
/// Whose stores the last start opened (cached answers are theirs).
const LAST_OWNER: &str = "casefile-last-owner";
/// Tabs tell each other that the signed-in user changed (they reload).
const SESSION_CHANNEL: &str = "casefile-session";

/// The user whose stores this page has open (core's `device` names them).
pub fn owner() -> Option<String> {
    OWNER.with(|o| o.borrow().clone())
}

/// The user signed in as this browser last knew (kept across pages).
pub fn kept_user() -> Option<String> {
    kept().map(|i| i.user)
}

/// Whether this page's user left since it started: the session the browser
/// keeps (as stored, expired or not) is gone, or someone else's (a sign-out
/// or another sign-in, here or in another tab). `false` where local storage
/// cannot be read, or nobody owns the page.
pub fn owner_left() -> bool {
    let (Some(owner), Some(storage)) = (owner(), storage()) else {
        return false;
    };
    match storage.get_item(KEPT) {
        Ok(Some(text)) => {
            serde_json::from_str::<SessionInfo>(&text).is_ok_and(|info| info.user != owner)
        }
        Ok(None) => true,
        Err(_) => false,
    }
}

fn storage() -> Option<web_sys::Storage> {
    window().local_storage().ok().flatten()
}

thread_local! {
    /// Whether this page's start asked the server for the session and it
    /// answered that there is none.
    static ANSWERED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// At start, before any store opens: what a sign-out left owed (stores to
/// delete, a sign-out the server has not heard), then whose stores to open
/// (the kept user's; `None`: signed out, nothing opens).
pub async fn begin() -> Option<String> {
    purge_owed().await;
    if logout_owed() {
        settle_logout().await;
    }
    let mut user = kept().map(|i| i.user);
    if user.is_none() && !logout_owed() {
        // Nobody kept here, yet the browser may hold a session cookie (no
        // script can see it): the server says whose, when it answers.
        match http::get_json::<SessionInfo>("/api/v1/auth/session").await {
            Ok(info) => {
                user = Some(info.user.clone());
                keep(Some(&info));
            }
            // The server said there is none: the page's first refresh need
            // not ask it again (one request, one logged 401 per first
            // visit). Any other failure is asked again.
            Err(http::FetchError::Http { status: 401, .. }) => ANSWERED.set(true),
            Err(_) => {}
        }
    }
    // Cached answers belong to the user they were read for: another user
    // (or nobody) now, and they go.
    let last = storage().and_then(|s| s.get_item(LAST_OWNER).ok().flatten());
    if last != user {
        crate::peek::forget();
        clear_cached_answers().await;
        if let Some(s) = storage() {
            let _ = match &user {
                Some(u) => s.set_item(LAST_OWNER, u),
                None => s.remove_item(LAST_OWNER),
            };
        }
    }
    OWNER.with(|o| *o.borrow_mut() = user.clone());
    listen_to_tabs();
    user
}

/// Deletes the databases a sign-out left, and every cached answer.
async fn purge_owed() {
    let Some(store) = storage() else { return };
    let names: Vec<String> = store
        .get_item(PURGE)
        .ok()
        .flatten()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    if names.is_empty() {
        return;
    }
    let mut left = Vec::new();
    for name in names {
        let deleted = crate::idb::delete(&name).await.is_ok();
        if !deleted {
            leptos::logging::warn!("could not delete {name} yet; trying at the next start");
            left.push(name);
        }
    }
    clear_cached_answers().await;
    let _ = if left.is_empty() {
        store.remove_item(PURGE)
    } else {
        store.set_item(PURGE, &serde_json::to_string(&left).unwrap_or_default())
    };
}

/// Drops the worker's runtime caches (answers the user read); the precached
/// app shell stays, so the app still starts offline.
pub(crate) async fn clear_cached_answers() {
    let Ok(caches) = window().caches() else {
        return;
    };
    let Ok(keys) = JsFuture::from(caches.keys()).await else {
        return;
    };
    for name in js_sys::Array::from(&keys)
        .iter()
        .filter_map(|k| k.as_string())
    {
        if casefile_core::device::holds_user_data(&name) {
            let _ = JsFuture::from(caches.delete(&name)).await;
        }
    }
}

fn logout_owed() -> bool {
    storage().is_some_and(|s| s.get_item(OWED_LOGOUT).ok().flatten().is_some())
}

/// Sends the sign-out the server has not heard; true once it has.
async fn settle_logout() -> bool {
    let result = http::post_json::<serde_json::Value>("/api/v1/auth/logout", "{}", &[]).await;
    // Heard: done (204 has no body to decode), or the session is gone
    // already. A proxy's 5xx or a 429 is not a sign-out.
    let heard = matches!(
        result,
        Ok(_) | Err(FetchError::Decode { .. }) | Err(FetchError::Http { status: 401, .. })
    );
    if let (true, Some(s)) = (heard, storage()) {
        let _ = s.remove_item(OWED_LOGOUT);
    }
    heard
}

/// Another tab changed who is signed in: this one starts again for them.
fn listen_to_tabs() {
    let Ok(channel) = web_sys::BroadcastChannel::new(SESSION_CHANNEL) else {
        return;
    };
    let on_message = wasm_bindgen::closure::Closure::<dyn Fn()>::new(|| {
        let _ = window().location().reload();
    });
    channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();
    TABS.with(|t| *t.borrow_mut() = Some(channel));
}

fn tell_tabs() {
    TABS.with(|t| {
        if let Some(c) = t.borrow().as_ref() {
            let _ = c.post_message(&JsValue::from_str("changed"));
        }
    });
}

/// Someone else is signed in now than this page's stores belong to: the
/// answers cached for the last user go, and every tab starts again, for the
/// new one.
async fn restart_for_new_user() {
    clear_cached_answers().await;
    tell_tabs();
    let _ = window().location().assign("/");
}

/// The signed-in user, when known (`None`: signed out, or not known yet),
/// and whether the server has ended their session (a 401: idle timeout,
/// ended from another device). An ended session keeps the user: this page
/// and the next start go on with their stores, their writes wait in the
/// worker ("sign in to send N changes", SPEC §10) and nothing is lost; only
/// the server's answers wait for them to sign in again.
#[derive(Clone, Copy)]
pub struct Session(pub RwSignal<Option<SessionInfo>>, pub RwSignal<bool>);

/// The last signed-in user, kept in local storage so the app goes on for
/// them offline until the session's absolute end (SPEC §10). Not a secret:
/// the session itself is the `HttpOnly` cookie; this is what the header
/// shows.
const KEPT: &str = "casefile-session";

fn keep(info: Option<&SessionInfo>) {
    let Ok(Some(storage)) = window().local_storage() else {
        return;
    };
    let _ = match info.and_then(|i| serde_json::to_string(i).ok()) {
        Some(text) => storage.set_item(KEPT, &text),
        None => storage.remove_item(KEPT),
    };
}

/// The session this browser kept, while it has not expired.
pub fn kept() -> Option<SessionInfo> {
    let text = window().local_storage().ok()??.get_item(KEPT).ok()??;
    let info: SessionInfo = serde_json::from_str(&text).ok()?;
    (info.expires_at as f64 > js_sys::Date::now()).then_some(info)
}

/// Provides the session signal: the kept user at once, then what the
/// server says.
pub fn provide_session() {
    let session = Session(RwSignal::new(kept()), RwSignal::new(false));
    provide_context(session);
    if !ANSWERED.replace(false) {
        leptos::task::spawn_local(async move { refresh(session).await });
    }
    // Signed in again elsewhere (another tab, a script): the next time the
    // page is looked at or the network is back, it asks again.
    let again = move || {
        if session.1.try_get_untracked() == Some(true) {
            leptos::task::spawn_local(refresh(session));
        }
    };
    for event in ["visibilitychange", "online", "focus"] {
        std::mem::forget(window_event_listener_untyped(event, move |_| again()));
    }
}

/// The session signal from context.
pub fn use_session() -> Session {
    expect_context::<Session>()
}

fn set(session: Session, info: Option<SessionInfo>) {
    keep(info.as_ref());
    session.0.set(info);
    session.1.set(false);
}

/// Reads the session from the server; an unreachable server keeps what is
/// known (offline, the app goes on for the last user), and so does a 401
/// for this page's user: their session ended, not their work (it waits for
/// them to sign in again). A 401 on a page of nobody's clears what little
/// is known.
pub async fn refresh(session: Session) {
    // An unheard sign-out first: the old cookie must not sign anyone in.
    if logout_owed() && !settle_logout().await {
        return;
    }
    match http::get_json::<SessionInfo>("/api/v1/auth/session").await {
        Ok(info) => {
            if owner().as_deref() != Some(info.user.as_str()) {
                // Kept for the next start; this page is not theirs.
                keep(Some(&info));
                restart_for_new_user().await;
                return;
            }
            set(session, Some(info));
        }
        Err(FetchError::Http { status: 401, .. }) => match owner() {
            Some(_) => session.1.set(true),
            None => set(session, None),
        },
        Err(_) => {}
    }
}

/// Why a sign-in did not go through, in words.
pub fn sign_in_problem(error: &FetchError) -> String {
    match error {
        FetchError::Http { status: 401, .. } => "Wrong name or password.".into(),
        FetchError::Http {
            status: 429,
            message,
            ..
        } => format!("Too many tries: {message}."),
        FetchError::Network { .. } => {
            "The server cannot be reached. Sign in once you are back online.".into()
        }
        other => other.to_string(),
    }
}

/// What a sign-in led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignedIn {
    /// The same user as this page's: it goes on.
    Here,
    /// Another user: the page is being replaced by one of theirs.
    Restarting,
}

/// Signs in; on success the session is known and the worker's held writes
/// go out.
pub async fn sign_in(session: Session, name: &str, password: &str) -> Result<SignedIn, String> {
    // The last sign-out first: sent after this sign-in it would end the new
    // session.
    if logout_owed() && !settle_logout().await {
        return Err(
            "The server has not heard your last sign-out yet; try again once it can be reached."
                .into(),
        );
    }
    let body = serde_json::json!({ "name": name, "password": password }).to_string();
    match http::post_json::<SessionInfo>("/api/v1/auth/login", &body, &[]).await {
        Ok(info) => {
            let user = info.user.clone();
            if owner().as_deref() != Some(user.as_str()) {
                // This page's stores are someone else's (or nobody's): it
                // starts again for the new user, who is kept for that start.
                keep(Some(&info));
                restart_for_new_user().await;
                return Ok(SignedIn::Restarting);
            }
            set(session, Some(info));
            crate::sync::worker_link::send(&ToWorker::Session { user: Some(user) });
            crate::sync::worker_link::send(&ToWorker::ReplayNow);
            Ok(SignedIn::Here)
        }
        Err(e) => Err(sign_in_problem(&e)),
    }
}

/// Signs out, carrying out core's `device::sign_out` plan: the server ends
/// the session (or hears it at the next start, if it cannot be reached:
/// signing out works offline); the worker stops acting for the user (and
/// forgets their entries if the plan says so); the user's databases are
/// deleted as the next start opens nothing; cached answers go; every tab
/// starts again, signed out.
pub async fn sign_out(session: Session, plan: Plan) {
    let user = owner().or_else(|| session.0.get_untracked().map(|i| i.user));
    // Nobody is kept from here on: no tab of this user claims the worker
    // back, and a start now opens nothing.
    set(session, None);
    crate::peek::forget();
    if let Some(s) = storage() {
        let _ = s.set_item(OWED_LOGOUT, "1");
    }
    settle_logout().await;
    crate::sync::worker_link::send(&ToWorker::Session { user: None });
    if let Some(user) = &user {
        if plan.drop.contains(&casefile_core::device::events_db(user)) {
            crate::storage::forget_log(user);
        }
    }
    if let (true, Some(user)) = (plan.prune_log, &user) {
        // The kept log holds the person's unsent work and nothing of the
        // team's cases. A failure here keeps more than it should, never
        // less: say so, and sign out all the same.
        let name = casefile_core::device::events_db(user);
        let pruned = match crate::store::EventStore::open_named(&name).await {
            Ok(store) => store.keep_only_unsent().await.map(|_| ()),
            Err(e) => Err(e),
        };
        if let Err(e) = pruned {
            leptos::logging::error!("sign-out could not prune the kept log: {e}");
        }
    }
    if let (true, Some(user)) = (plan.forget_queue, user) {
        crate::sync::worker_link::send(&ToWorker::Forget { user });
    }
    if let Some(s) = storage() {
        let mut names: Vec<String> = s
            .get_item(PURGE)
            .ok()
            .flatten()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        names.extend(plan.drop);
        let _ = s.set_item(PURGE, &serde_json::to_string(&names).unwrap_or_default());
    }
    clear_cached_answers().await;
    tell_tabs();
    // Nothing of the list is kept past this point (see peek::save).
    crate::peek::forget();
    let _ = window().location().assign("/sign-in");
}
