//! Request helpers shared by the server's integration tests.
#![allow(dead_code)]

use axum::body::{to_bytes, Body};
use axum::http::{Request, StatusCode};
use axum::Router;
use casefile_core::api::ErrorBody;
use serde::de::DeserializeOwned;
use tower::ServiceExt;

pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json<T: DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not the expected JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("missing header {name}"))
            .to_str()
            .unwrap()
    }
    pub fn error(&self) -> ErrorBody {
        assert!(self.header("content-type").starts_with("application/json"));
        let body: ErrorBody = self.json();
        assert_eq!(body.request_id, self.header("x-request-id"));
        body
    }
}

/// The API token every test database has (see [`fresh_db`]): a supervisor
/// of the teams `general`, `north` and `south`. Requests without their own
/// credentials carry it; add `x-test-anonymous: 1` to send none.
pub const TEST_TOKEN: &str = "cf_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
/// An administrator's token in every test database (`/metrics`, the CSP
/// report list, the admin endpoints).
pub const ADMIN_TOKEN: &str = "cf_abcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcd";

/// A GET as the administrator of [`ADMIN_TOKEN`].
pub async fn get_as_admin(app: &Router, uri: &str) -> Reply {
    let req = Request::get(uri).header("authorization", format!("Bearer {ADMIN_TOKEN}"));
    send(app, req.body(Body::empty()).unwrap()).await
}

/// The user [`TEST_TOKEN`] acts for.
pub const TEST_USER: &str = "tester";

pub async fn send(app: &Router, mut req: Request<Body>) -> Reply {
    let h = req.headers_mut();
    if h.remove("x-test-anonymous").is_none()
        && !h.contains_key("authorization")
        && !h.contains_key("cookie")
    {
        h.insert(
            "authorization",
            format!("Bearer {TEST_TOKEN}").parse().unwrap(),
        );
    }
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body = to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec();
    Reply {
        status,
        headers,
        body,
    }
}

pub async fn get(app: &Router, uri: &str) -> Reply {
    send(app, Request::get(uri).body(Body::empty()).unwrap()).await
}

/// `POST path` with raw bytes declared as JSON (e.g. invalid UTF-8).
pub async fn post_bytes(app: &Router, path: &str, body: Vec<u8>) -> Reply {
    let req = Request::post(path).header("content-type", "application/json");
    send(app, req.body(Body::from(body)).unwrap()).await
}

/// `POST path` with a JSON body and optional extra headers.
pub async fn post_json(app: &Router, path: &str, body: &str, headers: &[(&str, &str)]) -> Reply {
    let mut req = Request::post(path).header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    send(app, req.body(Body::from(body.to_string())).unwrap()).await
}

/// `POST /api/v1/events` that must answer 200; its per-event results.
pub async fn push_ok(
    app: &Router,
    body: &str,
    headers: &[(&str, &str)],
) -> casefile_core::api::PushResponse {
    ok(post_json(app, "/api/v1/events", body, headers).await)
}

/// The body of an answer that must be 200.
pub fn ok<T: DeserializeOwned>(r: Reply) -> T {
    assert_eq!(
        r.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    r.json()
}

/// A fresh, migrated database for one test: a new PostgreSQL database when
/// `CASEFILE_TEST_PG_URL` is set (scripts/pg.sh), else an SQLite file in a
/// temporary folder (kept alive by the returned guard).
pub async fn fresh_db() -> (casefile_server::db::Db, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = match std::env::var("CASEFILE_TEST_PG_URL") {
        Ok(admin_url) => fresh_pg_database(&admin_url).await,
        Err(_) => format!("sqlite:{}", dir.path().join("test.db").display()),
    };
    let db = casefile_server::db::Db::connect(&url).await.unwrap();
    db.migrate().await.unwrap();
    // Migrating twice is harmless.
    db.migrate().await.unwrap();
    add_test_user(&db).await;
    (db, dir)
}

/// A new, empty PostgreSQL database on the server `admin_url` names; its URL.
pub async fn fresh_pg_database(admin_url: &str) -> String {
    let name = format!("cf_{}", uuid::Uuid::new_v4().simple());
    let admin = casefile_server::db::Db::connect(admin_url).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE \"{name}\""))
        .execute(admin.pool())
        .await
        .unwrap();
    admin.pool().close().await;
    let (base, query) = admin_url
        .split_once('?')
        .map_or((admin_url, ""), |(b, q)| (b, q));
    let root = base.rsplit_once('/').map_or(base, |(r, _)| r);
    if query.is_empty() {
        format!("{root}/{name}")
    } else {
        format!("{root}/{name}?{query}")
    }
}

/// The [`TEST_USER`] with its [`TEST_TOKEN`] (no password: it cannot sign in).
async fn add_test_user(db: &casefile_server::db::Db) {
    add_user(
        db,
        TEST_USER,
        "supervisor",
        &["general", "north", "south"],
        TEST_TOKEN,
    )
    .await;
    add_user(db, "test-admin", "admin", &[], ADMIN_TOKEN).await;
}

/// A user with a role, teams and an API token (`cf_` and 64 hex digits);
/// no password.
pub async fn add_user(
    db: &casefile_server::db::Db,
    name: &str,
    role: &str,
    teams: &[&str],
    token: &str,
) {
    let pool = db.pool();
    sqlx::query(
        "INSERT INTO users (name, display_name, role, password_hash, disabled, created_at) \
         VALUES ($1, $1, $2, '!', 0, 0)",
    )
    .bind(name)
    .bind(role)
    .execute(pool)
    .await
    .unwrap();
    for team in teams {
        sqlx::query("INSERT INTO team_members (team_id, user_name) VALUES ($1, $2)")
            .bind(*team)
            .bind(name)
            .execute(pool)
            .await
            .unwrap();
    }
    let secret = token.strip_prefix("cf_").unwrap();
    sqlx::query(
        "INSERT INTO api_tokens (hash, id, user_name, label, created_at, expires_at) \
         VALUES ($1, $2, $3, 'tests', 0, $4)",
    )
    .bind(blake3::hash(secret.as_bytes()).to_hex().to_string())
    .bind(&secret[..16])
    .bind(name)
    .bind(i64::MAX / 2)
    .execute(pool)
    .await
    .unwrap();
}
