//! Who is signed in (SPEC §10), as the app knows it: read from
//! `GET /api/v1/auth/session` at start and after signing in, cleared at
//! sign-out. The session itself is the server's, in an `HttpOnly` cookie that
//! no script here can read; this holds only what the header shows.

use crate::http::{self, FetchError};
use casefile_core::api::SessionInfo;
use leptos::prelude::*;

/// The signed-in user, when known (`None`: signed out, or not known yet).
#[derive(Clone, Copy)]
pub struct Session(pub RwSignal<Option<SessionInfo>>);

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

fn kept() -> Option<SessionInfo> {
    let text = window().local_storage().ok()??.get_item(KEPT).ok()??;
    let info: SessionInfo = serde_json::from_str(&text).ok()?;
    (info.expires_at as f64 > js_sys::Date::now()).then_some(info)
}

/// Provides the session signal: the kept user at once, then what the
/// server says.
pub fn provide_session() {
    let session = Session(RwSignal::new(kept()));
    provide_context(session);
    leptos::task::spawn_local(async move { refresh(session).await });
}

/// The session signal from context.
pub fn use_session() -> Session {
    expect_context::<Session>()
}

fn set(session: Session, info: Option<SessionInfo>) {
    keep(info.as_ref());
    session.0.set(info);
}

/// Reads the session from the server; a 401 clears it, an unreachable
/// server keeps what is known (offline, the app goes on for the last user).
pub async fn refresh(session: Session) {
    match http::get_json::<SessionInfo>("/api/v1/auth/session").await {
        Ok(info) => set(session, Some(info)),
        Err(FetchError::Http { status: 401, .. }) => set(session, None),
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

/// Signs in; on success the session is known and the worker's held writes
/// go out.
pub async fn sign_in(session: Session, name: &str, password: &str) -> Result<(), String> {
    let body = serde_json::json!({ "name": name, "password": password }).to_string();
    match http::post_json::<SessionInfo>("/api/v1/auth/login", &body, &[]).await {
        Ok(info) => {
            set(session, Some(info));
            crate::sync::worker_link::send(&casefile_core::queue::ToWorker::ReplayNow);
            Ok(())
        }
        Err(e) => Err(sign_in_problem(&e)),
    }
}

/// Signs out: the server ends the session and the cookie goes.
pub async fn sign_out(session: Session) -> Result<(), String> {
    let result = http::post_json::<serde_json::Value>("/api/v1/auth/logout", "{}", &[]).await;
    match result {
        // 204 has no body to decode: that is the success.
        Ok(_) | Err(FetchError::Decode { .. }) => {
            set(session, None);
            Ok(())
        }
        Err(e) => Err(e.to_string()),
    }
}
