//! The app's API origins (`--api-origins`, issue 15): pages of any listed
//! origin may call this instance (CORS with credentials, the CSRF check,
//! the CSP), pages are told the list, and no other origin gains anything.

mod common;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode};
use casefile_server::{app, auth, AppState};

const OTHER: &str = "http://127.0.0.1:9002";

async fn fleet_app(dist: &std::path::Path) -> (axum::Router, AppState, tempfile::TempDir) {
    let (db, dir) = common::fresh_db().await;
    let mut state = AppState::new(db);
    state.auth.api_origins = vec!["http://127.0.0.1:9001".into(), OTHER.into()];
    state.auth.api_balance = "rendezvous".into();
    (app(state.clone(), dist.to_path_buf()), state, dir)
}

fn preflight(origin: &str) -> Request<Body> {
    Request::builder()
        .method("OPTIONS")
        .uri("/api/v1/events")
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,x-casefile,idempotency-key",
        )
        .header("x-test-anonymous", "1")
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn listed_origins_may_call_with_credentials_and_others_may_not() {
    let dist = tempfile::tempdir().unwrap();
    std::fs::write(
        dist.path().join("index.html"),
        "<!doctype html><html><head><title>x</title></head><body></body></html>",
    )
    .unwrap();
    let (app, state, _dir) = fleet_app(dist.path()).await;

    let r = common::send(&app, preflight(OTHER)).await;
    assert!(r.status.is_success(), "{}", r.status);
    assert_eq!(r.header("access-control-allow-origin"), OTHER);
    assert_eq!(r.header("access-control-allow-credentials"), "true");
    assert!(r
        .header("access-control-allow-headers")
        .contains("x-casefile"));
    let r = common::send(&app, preflight("http://evil.example")).await;
    assert!(r.headers.get("access-control-allow-origin").is_none());

    // The CSRF rule counts a listed origin as the app's own, and only those.
    let write = |origin: &str| {
        let mut h = HeaderMap::new();
        h.insert("host", HeaderValue::from_static("127.0.0.1:9001"));
        h.insert("origin", origin.parse().unwrap());
        h.insert("sec-fetch-site", HeaderValue::from_static("same-site"));
        h.insert("content-type", HeaderValue::from_static("application/json"));
        h.insert("x-casefile", HeaderValue::from_static("1"));
        auth::csrf_problem(&state, &h, true)
    };
    assert_eq!(write(OTHER), None);
    assert!(write("http://127.0.0.1:9003").is_some());

    // Pages name the origins, and the CSP lets them be reached.
    let page = common::send(&app, Request::get("/cases").body(Body::empty()).unwrap()).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = String::from_utf8(page.body.clone()).unwrap();
    assert!(
        html.contains(r#"<meta name="casefile-api-origins" content="http://127.0.0.1:9001, http://127.0.0.1:9002">"#),
        "{html}"
    );
    assert!(html.contains(r#"<meta name="casefile-api-balance" content="rendezvous">"#));
    let csp = page.header("content-security-policy");
    assert!(
        csp.contains(&format!(
            "connect-src 'self' http://127.0.0.1:9001 ws://127.0.0.1:9001 {OTHER}"
        )),
        "{csp}"
    );
}

#[tokio::test]
async fn without_a_list_nothing_cross_origin_is_allowed() {
    let (db, dir) = common::fresh_db().await;
    let app = app(AppState::new(db), dir.path().join("dist"));
    let r = common::send(&app, preflight(OTHER)).await;
    assert!(r.headers.get("access-control-allow-origin").is_none());
    let r = common::get(&app, "/api/v1/health").await;
    assert!(r
        .header("content-security-policy")
        .contains("connect-src 'self';"));
}
