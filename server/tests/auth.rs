//! Sign-in and sessions (SPEC §10) against the real router and database
//! (SQLite, and PostgreSQL when `CASEFILE_TEST_PG_URL` is set), on an
//! injected clock.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use casefile_core::access::Role;
use casefile_server::auth::{create_user, AuthConfig, SessionInfo, SessionRow, UserRow};
use casefile_server::{app, AppState};
use common::{send, Reply};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

const T0: i64 = 1_800_000_000_000;
const H: i64 = 60 * 60 * 1000;
const PASSWORD: &str = "correct horse battery";

struct Server {
    app: Router,
    clock: Arc<AtomicI64>,
    _dir: tempfile::TempDir,
}

impl Server {
    fn advance(&self, ms: i64) {
        self.clock.fetch_add(ms, Ordering::SeqCst);
    }
}

async fn server_with(auth: AuthConfig) -> Server {
    let (db, dir) = common::fresh_db().await;
    let clock = Arc::new(AtomicI64::new(T0));
    let c = clock.clone();
    let state = AppState {
        auth,
        clock: Arc::new(move || c.load(Ordering::SeqCst)),
        ..AppState::new(db)
    };
    create_user(
        &state,
        "casey",
        "Casey",
        Role::Caseworker,
        PASSWORD,
        &["north"],
    )
    .await
    .unwrap();
    create_user(&state, "ada", "Ada", Role::Admin, PASSWORD, &[])
        .await
        .unwrap();
    Server {
        app: app(state, dir.path().join("dist")),
        clock,
        _dir: dir,
    }
}

async fn server() -> Server {
    server_with(AuthConfig::default()).await
}

async fn login(app: &Router, name: &str, password: &str, cookie: Option<&str>) -> Reply {
    let mut req = same_origin(Request::post("/api/v1/auth/login"));
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let body = serde_json::json!({ "name": name, "password": password }).to_string();
    send(app, req.body(Body::from(body)).unwrap()).await
}

/// The `name=value` part of a sign-in's Set-Cookie.
fn cookie_of(reply: &Reply) -> String {
    reply
        .header("set-cookie")
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

/// What the app's own page sends with a write: its origin, JSON, the app's
/// header.
fn same_origin(req: axum::http::request::Builder) -> axum::http::request::Builder {
    req.header("host", "127.0.0.1:8080")
        .header("origin", "http://127.0.0.1:8080")
        .header("content-type", "application/json")
        .header("x-casefile", "1")
}

async fn with_cookie(app: &Router, method: &str, uri: &str, cookie: &str) -> Reply {
    let req = same_origin(Request::builder().method(method).uri(uri)).header("cookie", cookie);
    send(app, req.body(Body::empty()).unwrap()).await
}

async fn session_status(app: &Router, cookie: &str) -> StatusCode {
    with_cookie(app, "GET", "/api/v1/auth/session", cookie)
        .await
        .status
}

async fn anonymous(app: &Router, uri: &str) -> Reply {
    let req = Request::get(uri).header("x-test-anonymous", "1");
    send(app, req.body(Body::empty()).unwrap()).await
}

async fn signed_in(s: &Server, name: &str) -> String {
    let r = login(&s.app, name, PASSWORD, None).await;
    assert_eq!(r.status, StatusCode::OK);
    cookie_of(&r)
}

#[tokio::test]
async fn the_session_cookie_has_exactly_the_attributes_it_must() {
    let s = server().await;
    let r = login(&s.app, "casey", PASSWORD, None).await;
    assert_eq!(r.status, StatusCode::OK);
    let set = r.header("set-cookie").to_string();
    let (pair, attrs) = set.split_once("; ").unwrap();
    let (name, value) = pair.split_once('=').unwrap();
    assert_eq!(name, "casefile_session", "plain-HTTP development name");
    assert_eq!(value.len(), 64);
    assert!(value.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(attrs, "HttpOnly; SameSite=Strict; Path=/; Max-Age=604800");
    assert_eq!(r.header("cache-control"), "no-store");
    let info: SessionInfo = r.json();
    assert_eq!((info.user.as_str(), info.role), ("casey", Role::Caseworker));
    assert_eq!(info.teams, ["north"]);
    assert_eq!(info.idle_expires_at, T0 + 8 * H);
    assert_eq!(info.expires_at, T0 + 7 * 24 * H);
    assert!(
        !set.contains(&info.session),
        "the listed id is not the secret"
    );

    let secure = server_with(AuthConfig {
        secure: true,
        ..AuthConfig::default()
    })
    .await;
    let r = login(&secure.app, "casey", PASSWORD, None).await;
    let set = r.header("set-cookie");
    assert!(set.starts_with("__Host-casefile="), "{set}");
    assert!(
        set.ends_with("; HttpOnly; SameSite=Strict; Path=/; Max-Age=604800; Secure"),
        "{set}"
    );
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_user_get_the_same_answer() {
    let s = server().await;
    let wrong = login(&s.app, "casey", "not the password", None).await;
    let unknown = login(&s.app, "nobody", "not the password", None).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    let (a, b) = (wrong.error(), unknown.error());
    assert_eq!(
        (a.error.as_str(), a.message.as_str()),
        (b.error.as_str(), b.message.as_str())
    );
    assert!(wrong.headers.get("set-cookie").is_none());
    // Malformed sign-ins are clear 4xx errors, never a crash.
    let r = common::post_json(
        &s.app,
        "/api/v1/auth/login",
        "{\"name\":1}",
        &[
            ("host", "127.0.0.1"),
            ("origin", "http://127.0.0.1"),
            ("x-casefile", "1"),
        ],
    )
    .await;
    assert!(r.status.is_client_error(), "{}", r.status);
    let long = "x".repeat(5_000);
    assert_eq!(
        login(&s.app, "casey", &long, None).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn the_session_id_changes_at_sign_in_and_the_old_one_ends() {
    let s = server().await;
    let first = signed_in(&s, "casey").await;
    let again = login(&s.app, "casey", PASSWORD, Some(&first)).await;
    let second = cookie_of(&again);
    assert_ne!(first, second);
    let old = with_cookie(&s.app, "GET", "/api/v1/auth/session", &first).await;
    assert_eq!(
        old.status,
        StatusCode::UNAUTHORIZED,
        "the cookie it replaced is dead"
    );
    assert_eq!(session_status(&s.app, &second).await, StatusCode::OK);
}

#[tokio::test]
async fn a_cookie_replayed_after_sign_out_is_refused() {
    let s = server().await;
    let cookie = signed_in(&s, "casey").await;
    let out = with_cookie(&s.app, "POST", "/api/v1/auth/logout", &cookie).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert!(out.header("set-cookie").contains("Max-Age=0"));
    // The browser drops the HTTP cache of what this user read; not
    // "storage", which would unregister the service worker.
    assert_eq!(out.header("clear-site-data"), "\"cache\"");
    let replay = with_cookie(&s.app, "GET", "/api/v1/auth/session", &cookie).await;
    assert_eq!(replay.status, StatusCode::UNAUTHORIZED);
    assert_eq!(replay.error().error, "unauthorized");
    // No cookie, a forged one: 401 too.
    assert_eq!(
        anonymous(&s.app, "/api/v1/auth/session").await.status,
        StatusCode::UNAUTHORIZED
    );
    let forged = format!("casefile_session={}", "0".repeat(64));
    assert_eq!(
        session_status(&s.app, &forged).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn idle_sessions_end_after_8_hours_and_every_session_after_7_days() {
    let s = server().await;
    let cookie = signed_in(&s, "casey").await;

    // Used every 7 hours, it slides...
    for _ in 0..23 {
        s.advance(7 * H);
        assert_eq!(session_status(&s.app, &cookie).await, StatusCode::OK);
    }
    // ...but never past 7 days from sign-in (23 × 7 h = 161 h; 7 days = 168 h).
    s.advance(7 * H);
    assert_eq!(
        session_status(&s.app, &cookie).await,
        StatusCode::UNAUTHORIZED,
        "absolute lifetime"
    );
    let idle = signed_in(&s, "casey").await;
    s.advance(8 * H - 1);
    assert_eq!(session_status(&s.app, &idle).await, StatusCode::OK);
    s.advance(8 * H);
    assert_eq!(
        session_status(&s.app, &idle).await,
        StatusCode::UNAUTHORIZED,
        "idle 8 h"
    );
}

#[tokio::test]
async fn repeated_failures_are_throttled_with_growing_delays() {
    let s = server().await;
    for _ in 0..3 {
        assert_eq!(
            login(&s.app, "casey", "guess", None).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let r = login(&s.app, "casey", PASSWORD, None).await;
    assert_eq!(
        r.status,
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits"
    );
    assert_eq!(r.header("retry-after"), "1");
    s.advance(1_000);
    assert_eq!(
        login(&s.app, "casey", "guess", None).await.status,
        StatusCode::UNAUTHORIZED
    );
    let r = login(&s.app, "casey", PASSWORD, None).await;
    assert_eq!(r.header("retry-after"), "2", "the delay doubles");
    s.advance(2_000);
    assert_eq!(
        login(&s.app, "casey", PASSWORD, None).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn one_address_may_mistype_often_but_a_name_sprayer_is_slowed() {
    let s = server().await;
    // Nineteen people behind one office address each mistype once: nobody
    // waits, and Casey (same address) signs in at once.
    for i in 0..19 {
        let r = login(&s.app, &format!("person{i}"), "typo", None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "failure {i}");
    }
    assert_eq!(
        login(&s.app, "casey", PASSWORD, None).await.status,
        StatusCode::OK
    );
    // One more failure from the address, under yet another name, is the
    // twentieth: now every name from that address waits.
    assert_eq!(
        login(&s.app, "person19", "typo", None).await.status,
        StatusCode::UNAUTHORIZED
    );
    let r = login(&s.app, "casey", PASSWORD, None).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.header("retry-after"), "1");
}

#[tokio::test]
async fn a_user_lists_and_ends_their_own_sessions_only() {
    let s = server().await;
    let a = signed_in(&s, "casey").await;
    let b = signed_in(&s, "casey").await;
    let admin = signed_in(&s, "ada").await;
    let list: Vec<SessionRow> = with_cookie(&s.app, "GET", "/api/v1/auth/sessions", &a)
        .await
        .json();
    assert_eq!(list.len(), 2);
    assert_eq!(list.iter().filter(|r| r.current).count(), 1);
    let other = list.iter().find(|r| !r.current).unwrap().id.clone();
    // Ada cannot end Casey's session...
    let r = with_cookie(
        &s.app,
        "DELETE",
        &format!("/api/v1/auth/sessions/{other}"),
        &admin,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // ...Casey can.
    let r = with_cookie(
        &s.app,
        "DELETE",
        &format!("/api/v1/auth/sessions/{other}"),
        &a,
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(session_status(&s.app, &b).await, StatusCode::UNAUTHORIZED);
    assert_eq!(session_status(&s.app, &a).await, StatusCode::OK);
}

async fn json_with_cookie(
    app: &Router,
    method: &str,
    uri: &str,
    cookie: &str,
    body: serde_json::Value,
) -> Reply {
    let req = same_origin(Request::builder().method(method).uri(uri)).header("cookie", cookie);
    send(app, req.body(Body::from(body.to_string())).unwrap()).await
}

#[tokio::test]
async fn only_an_admin_manages_users_and_disabling_or_a_new_password_ends_sessions() {
    let s = server().await;
    let casey = signed_in(&s, "casey").await;
    let admin = signed_in(&s, "ada").await;
    let new_user = serde_json::json!({ "name": "kim", "role": "caseworker", "password": PASSWORD, "teams": ["south"] });
    let r = json_with_cookie(
        &s.app,
        "POST",
        "/api/v1/admin/users",
        &casey,
        new_user.clone(),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = common::post_json(
        &s.app,
        "/api/v1/admin/users",
        &new_user.to_string(),
        &[
            ("x-test-anonymous", "1"),
            ("host", "127.0.0.1"),
            ("origin", "http://127.0.0.1"),
            ("x-casefile", "1"),
        ],
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "same origin, but no session"
    );
    let r = json_with_cookie(
        &s.app,
        "POST",
        "/api/v1/admin/users",
        &admin,
        new_user.clone(),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = json_with_cookie(&s.app, "POST", "/api/v1/admin/users", &admin, new_user).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let weak = serde_json::json!({ "name": "lee", "role": "caseworker", "password": "short" });
    let r = json_with_cookie(&s.app, "POST", "/api/v1/admin/users", &admin, weak).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let users: Vec<UserRow> = with_cookie(&s.app, "GET", "/api/v1/admin/users", &admin)
        .await
        .json();
    let kim = users.iter().find(|u| u.name == "kim").unwrap();
    assert_eq!(
        (kim.role, kim.teams.as_slice()),
        (Role::Caseworker, &["south".to_string()][..])
    );

    // A new password ends Casey's sessions; the old password stops working.
    let change = serde_json::json!({ "password": "a brand new secret" });
    let r = json_with_cookie(&s.app, "PATCH", "/api/v1/admin/users/casey", &admin, change).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        session_status(&s.app, &casey).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login(&s.app, "casey", PASSWORD, None).await.status,
        StatusCode::UNAUTHORIZED
    );
    let casey = cookie_of(&login(&s.app, "casey", "a brand new secret", None).await);
    // Disabling ends them too, and a disabled user cannot sign in.
    let r = json_with_cookie(
        &s.app,
        "PATCH",
        "/api/v1/admin/users/casey",
        &admin,
        serde_json::json!({ "disabled": true }),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        session_status(&s.app, &casey).await,
        StatusCode::UNAUTHORIZED
    );
    s.advance(60 * 60 * 1000);
    assert_eq!(
        login(&s.app, "casey", "a brand new secret", None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    // The admin's own session survives all of it.
    assert_eq!(session_status(&s.app, &admin).await, StatusCode::OK);
}

/// A shared device: Casey's write, queued while Casey was signed in, must
/// not land under Ada's session when it replays. The server refuses it with
/// 401 (the worker keeps it, spending nothing, until Casey is back).
#[tokio::test]
async fn a_write_named_for_another_user_is_refused_under_this_session() {
    let s = server().await;
    let ada = signed_in(&s, "ada").await;
    let write = |user: &'static str| {
        let req = same_origin(Request::post("/api/v1/events"))
            .header("cookie", &ada)
            .header("x-casefile-user", user);
        send(&s.app, req.body(Body::from(r#"{"events":[]}"#)).unwrap())
    };
    let theirs = write("casey").await;
    assert_eq!(theirs.status, StatusCode::UNAUTHORIZED);
    assert_eq!(theirs.error().error, "other_user");
    let own = write("ada").await;
    assert_eq!(
        own.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&own.body)
    );
}

#[tokio::test]
async fn only_an_admin_says_devices_are_shared_and_every_session_read_carries_it() {
    let s = server().await;
    let casey = signed_in(&s, "casey").await;
    let admin = signed_in(&s, "ada").await;
    let me: SessionInfo = with_cookie(&s.app, "GET", "/api/v1/auth/session", &casey)
        .await
        .json();
    assert!(!me.shared_devices, "not shared until an admin says so");
    let shared = serde_json::json!({ "shared_devices": true });
    let r = json_with_cookie(
        &s.app,
        "PUT",
        "/api/v1/admin/settings",
        &casey,
        shared.clone(),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = with_cookie(&s.app, "GET", "/api/v1/admin/settings", &casey).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // A misspelt setting is refused, not taken as "false".
    let typo = serde_json::json!({ "shared_device": true });
    let r = json_with_cookie(&s.app, "PUT", "/api/v1/admin/settings", &admin, typo).await;
    assert!(r.status.is_client_error(), "{:?}", r.status);
    let r = json_with_cookie(&s.app, "PUT", "/api/v1/admin/settings", &admin, shared).await;
    assert_eq!(r.status, StatusCode::OK);
    let me: SessionInfo = with_cookie(&s.app, "GET", "/api/v1/auth/session", &casey)
        .await
        .json();
    assert!(me.shared_devices, "the session read says so");
    let signed: SessionInfo = login(&s.app, "casey", PASSWORD, None).await.json();
    assert!(signed.shared_devices, "and so does the sign-in's answer");
    let back = serde_json::json!({ "shared_devices": false });
    let r = json_with_cookie(&s.app, "PUT", "/api/v1/admin/settings", &admin, back).await;
    assert_eq!(r.status, StatusCode::OK);
    let now: serde_json::Value = with_cookie(&s.app, "GET", "/api/v1/admin/settings", &admin)
        .await
        .json();
    assert_eq!(now, serde_json::json!({ "shared_devices": false }));
}
