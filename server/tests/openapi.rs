//! The OpenAPI document (issue 15): served without credentials, OpenAPI 3.1,
//! and every operation it names is one the server routes (the fuzzer in
//! tests/e2e/openapi.test.mjs checks the answers against it).

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use casefile_server::{app, AppState};
use serde_json::Value;

#[tokio::test]
async fn the_document_is_served_to_anyone_and_names_only_routes_that_exist() {
    let (db, dir) = common::fresh_db().await;
    let app = app(AppState::new(db), dir.path().join("dist"));
    let req = Request::get("/api/v1/openapi.json").header("x-test-anonymous", "1");
    let r = common::send(&app, req.body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.header("content-type").starts_with("application/json"));
    let doc: Value = r.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
    assert!(doc["components"]["securitySchemes"]["token"].is_object());

    let paths = doc["paths"].as_object().unwrap();
    for want in [
        "/api/v1/cases",
        "/api/v1/cases/{id}",
        "/api/v1/events",
        "/api/v1/auth/session",
    ] {
        assert!(paths.contains_key(want), "{want} is not described");
    }
    // The bounds it states are the server's own.
    let maximum = |path: &str| {
        doc["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "limit")
            .map(|p| p["schema"]["maximum"].as_i64().unwrap())
    };
    assert_eq!(
        maximum("/api/v1/cases"),
        Some(casefile_core::api::MAX_PAGE_LIMIT.into())
    );
    assert_eq!(
        maximum("/api/v1/events"),
        Some(casefile_server::events::MAX_PULL)
    );

    let id = "00000000-0000-4000-8000-000000000000";
    for (path, ops) in paths {
        for method in ops.as_object().unwrap().keys() {
            let uri = path.replace("{id}", id);
            let req = Request::builder()
                .method(method.to_uppercase().as_str())
                .uri(&uri)
                .header("content-type", "application/json")
                .body(Body::from("{}"))
                .unwrap();
            let r = common::send(&app, req).await;
            let body = String::from_utf8_lossy(&r.body);
            assert!(
                !body.contains("no API route"),
                "{method} {path} is described but not routed: {body}"
            );
            assert_ne!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        }
    }
}
