//! The read API, its error envelope, caching and security headers, driven
//! through the real router against a real SQLite file.

mod common;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use casefile_core::api::{Case, CasePage, CaseStatus, Dashboard, Health};
use casefile_server::db::Db;
use casefile_server::{app, seed, AppState};
use common::{get, send};
use std::sync::Arc;

struct Fixture {
    app: Router,
    db: Db,
    cases: Vec<Case>,
    _dir: tempfile::TempDir,
}

const NOW: i64 = 1_790_000_000_000;

async fn fixture(n: u32) -> Fixture {
    let (db, dir) = common::fresh_db().await;
    let cases = seed::demo_cases(n, 7, NOW);
    db.insert_cases(&cases).await.unwrap();
    let dist = dir.path().join("dist");
    std::fs::create_dir_all(&dist).unwrap();
    std::fs::write(
        dist.join("index.html"),
        "<!doctype html><title>Casefile</title>",
    )
    .unwrap();
    std::fs::write(dist.join("casefile-0123456789abcdef.js"), "export {}").unwrap();
    std::fs::write(dist.join("sw.js"), "// worker").unwrap();
    let state = AppState::new(db.clone());
    Fixture {
        db,
        app: app(state, dist),
        cases,
        _dir: dir,
    }
}

#[tokio::test]
async fn health_reports_version_and_database() {
    let f = fixture(0).await;
    let r = get(&f.app, "/api/v1/health").await;
    assert_eq!(r.status, StatusCode::OK);
    let h: Health = r.json();
    assert_eq!(h.status, "ok");
    let expected = if std::env::var("CASEFILE_TEST_PG_URL").is_ok() {
        "postgres"
    } else {
        "sqlite"
    };
    assert_eq!(h.database, expected);
    assert!(!h.version.is_empty());
}

#[tokio::test]
async fn lists_cases_newest_first_and_pages_with_a_cursor() {
    let f = fixture(25).await;
    let first: CasePage = get(&f.app, "/api/v1/cases?limit=10").await.json();
    assert_eq!(first.items.len(), 10);
    assert_eq!(first.total, 25);
    assert!(first
        .items
        .windows(2)
        .all(|w| (w[0].updated_at, &w[0].id) > (w[1].updated_at, &w[1].id)));

    let mut seen: Vec<String> = first.items.iter().map(|c| c.id.clone()).collect();
    let mut cursor = first.next_cursor.expect("more pages");
    loop {
        let page: CasePage = get(&f.app, &format!("/api/v1/cases?limit=10&cursor={cursor}"))
            .await
            .json();
        seen.extend(page.items.iter().map(|c| c.id.clone()));
        match page.next_cursor {
            Some(next) => cursor = next,
            None => break,
        }
    }
    let mut expected: Vec<String> = f.cases.iter().map(|c| c.id.clone()).collect();
    expected.sort();
    let mut got = seen.clone();
    got.sort();
    assert_eq!(got, expected, "every case exactly once across pages");
}

#[tokio::test]
async fn filters_by_status_priority_and_title() {
    let f = fixture(40).await;
    let page: CasePage = get(&f.app, "/api/v1/cases?status=in_review&limit=500")
        .await
        .json();
    let expected = f
        .cases
        .iter()
        .filter(|c| c.status == CaseStatus::InReview)
        .count();
    assert_eq!(page.items.len(), expected);
    assert_eq!(page.total as usize, expected);
    assert!(page.items.iter().all(|c| c.status == CaseStatus::InReview));

    let target = &f.cases[3];
    let word = target.title.split(' ').next().unwrap().to_uppercase();
    let page: CasePage = get(
        &f.app,
        &format!(
            "/api/v1/cases?q={word}&priority={}&limit=500",
            target.priority
        ),
    )
    .await
    .json();
    assert!(page.items.iter().any(|c| c.id == target.id));
    assert!(page
        .items
        .iter()
        .all(|c| c.priority == target.priority && c.title.to_uppercase().contains(&word)));
}

#[tokio::test]
async fn search_treats_wildcards_literally() {
    let f = fixture(10).await;
    let page: CasePage = get(&f.app, "/api/v1/cases?q=%25").await.json();
    assert_eq!(page.total, 0, "`%` matches only titles containing `%`");
}

#[tokio::test]
async fn bad_query_parameters_get_the_envelope() {
    let f = fixture(3).await;
    for (uri, mentions) in [
        ("/api/v1/cases?status=bogus", "status"),
        ("/api/v1/cases?priority=urgent", "priority"),
        ("/api/v1/cases?limit=0", "limit"),
        ("/api/v1/cases?limit=abc", "limit"),
        ("/api/v1/cases?limit=501", "limit"),
        ("/api/v1/cases?cursor=garbage", "cursor"),
    ] {
        let r = get(&f.app, uri).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{uri}");
        let e = r.error();
        assert_eq!(e.error, "invalid_query", "{uri}");
        assert!(e.message.contains(mentions), "{uri}: {}", e.message);
    }
}

#[tokio::test]
async fn one_case_by_id_and_clear_errors_for_unknown_or_bad_ids() {
    let f = fixture(5).await;
    let want = &f.cases[2];
    let got: Case = get(&f.app, &format!("/api/v1/cases/{}", want.id))
        .await
        .json();
    assert_eq!(&got, want);

    let r = get(&f.app, "/api/v1/cases/00000000-0000-4000-8000-000000000000").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.error().error, "not_found");

    let r = get(&f.app, "/api/v1/cases/not-a-uuid").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error().error, "invalid_id");
}

#[tokio::test]
async fn notes_of_a_case_oldest_first_and_404_for_unknown_cases() {
    let f = fixture(4).await;
    let notes = seed::demo_notes(&f.cases, 3);
    let with_notes = notes.first().expect("some notes").case_id.clone();
    f.db.insert_notes(&notes).await.unwrap();
    let got: Vec<casefile_core::api::Note> =
        get(&f.app, &format!("/api/v1/cases/{with_notes}/notes"))
            .await
            .json();
    let mut want: Vec<_> = notes
        .iter()
        .filter(|n| n.case_id == with_notes)
        .cloned()
        .collect();
    want.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    assert_eq!(got, want);

    let r = get(
        &f.app,
        "/api/v1/cases/00000000-0000-4000-8000-000000000000/notes",
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.error().error, "not_found");
}

#[tokio::test]
async fn dashboard_counts_match_the_cases() {
    let f = fixture(30).await;
    let d: Dashboard = get(&f.app, "/api/v1/dashboard").await.json();
    assert_eq!(d.total, 30);
    assert_eq!(d.by_status.len(), 3);
    assert_eq!(d.by_priority.len(), 4);
    for c in &d.by_status {
        let n = f.cases.iter().filter(|x| x.status == c.key).count() as i64;
        assert_eq!(c.count, n, "{:?}", c.key);
    }
    assert_eq!(d.by_priority.iter().map(|c| c.count).sum::<i64>(), 30);
    let newest = f.cases.iter().map(|c| c.updated_at).max().unwrap();
    assert_eq!(d.recent[0].updated_at, newest);
}

#[tokio::test]
async fn unknown_api_routes_and_methods_get_the_envelope() {
    let f = fixture(0).await;
    let r = get(&f.app, "/api/v1/nope").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.error().error, "not_found");

    let r = send(
        &f.app,
        Request::builder()
            .method(Method::DELETE)
            .uri("/api/v1/dashboard")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.error().error, "method_not_allowed");
}

#[tokio::test]
async fn etag_and_if_none_match_give_304() {
    let f = fixture(5).await;
    let r = get(&f.app, "/api/v1/dashboard").await;
    let tag = r.header("etag").to_string();
    assert_eq!(r.header("cache-control"), "no-cache");
    let again = send(
        &f.app,
        Request::get("/api/v1/dashboard")
            .header(header::IF_NONE_MATCH, &tag)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(again.body.is_empty());
    assert_eq!(again.header("etag"), tag);

    let stale = send(
        &f.app,
        Request::get("/api/v1/dashboard")
            .header(header::IF_NONE_MATCH, "\"something-else\"")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(stale.status, StatusCode::OK);
}

#[tokio::test]
async fn request_ids_are_echoed_or_generated() {
    let f = fixture(0).await;
    let r = send(
        &f.app,
        Request::get("/api/v1/health")
            .header("x-request-id", "client-abc-1")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.header("x-request-id"), "client-abc-1");
    let generated = get(&f.app, "/api/v1/health").await;
    assert!(uuid::Uuid::parse_str(generated.header("x-request-id")).is_ok());
    let hostile = send(
        &f.app,
        Request::get("/api/v1/health")
            .header("x-request-id", "<script>")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_ne!(hostile.header("x-request-id"), "<script>");
}

#[tokio::test]
async fn security_headers_are_on_every_kind_of_response() {
    let f = fixture(0).await;
    for uri in [
        "/api/v1/health",
        "/api/v1/nope",
        "/",
        "/cases/x",
        "/missing.js",
    ] {
        let r = get(&f.app, uri).await;
        let csp = r.header("content-security-policy");
        assert!(csp.contains("'wasm-unsafe-eval'"), "{uri}");
        assert!(!csp.contains("unsafe-inline"), "{uri}");
        assert_eq!(r.header("x-content-type-options"), "nosniff", "{uri}");
        assert!(!r.header("referrer-policy").is_empty(), "{uri}");
        assert!(!r.header("x-request-id").is_empty(), "{uri}");
    }
}

#[tokio::test]
async fn static_files_have_the_right_cache_headers_and_spa_fallback() {
    let f = fixture(0).await;
    let shell = get(&f.app, "/").await;
    assert_eq!(shell.status, StatusCode::OK);
    assert_eq!(shell.header("cache-control"), "no-cache");
    assert!(String::from_utf8_lossy(&shell.body).contains("Casefile"));

    let route = get(&f.app, "/cases/1234").await;
    assert_eq!(route.status, StatusCode::OK, "app routes get the shell");
    assert_eq!(route.body, shell.body);

    let asset = get(&f.app, "/casefile-0123456789abcdef.js").await;
    assert_eq!(
        asset.header("cache-control"),
        "public, max-age=31536000, immutable"
    );
    assert_eq!(
        get(&f.app, "/sw.js").await.header("cache-control"),
        "no-cache"
    );

    let missing = get(&f.app, "/missing.js").await;
    assert_eq!(
        missing.status,
        StatusCode::NOT_FOUND,
        "no shell for missing files"
    );
}

#[tokio::test]
async fn responses_are_compressed_when_asked() {
    let f = fixture(60).await;
    let r = send(
        &f.app,
        Request::get("/api/v1/cases?limit=60")
            .header(header::ACCEPT_ENCODING, "br, gzip")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-encoding"), "br");
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    let f = fixture(1).await;
    get(&f.app, "/api/v1/cases/not-a-uuid").await;
    get(&f.app, "/api/v1/health").await;
    let text = String::from_utf8(common::get_as_admin(&f.app, "/metrics").await.body).unwrap();
    assert!(
        text.contains(r#"casefile_http_requests_total{method="GET",route="/api/v1/cases/{id}",status="400"} 1"#),
        "{text}"
    );
    assert!(text.contains("casefile_http_request_duration_seconds_bucket"));
}

#[tokio::test]
async fn seeding_fills_an_empty_database_once() {
    let (db, _dir) = common::fresh_db().await;
    assert_eq!(seed::seed_if_empty(&db, 120, NOW, 2).await.unwrap(), 120);
    assert_eq!(seed::seed_if_empty(&db, 120, NOW, 2).await.unwrap(), 0);
    assert_eq!(db.count_cases().await.unwrap(), 120);
}

#[tokio::test]
async fn unsupported_database_urls_are_refused_clearly() {
    let err = Db::connect("mysql://localhost/x").await.unwrap_err();
    assert!(err.to_string().contains("sqlite:"), "{err}");
}

#[tokio::test]
async fn fault_injection_is_off_by_default() {
    let f = fixture(0).await;
    let r = get(&f.app, "/api/v1/_faults").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn fault_rules_answer_matching_requests_and_record_them() {
    let (db, dir) = common::fresh_db().await;
    let app = app(
        AppState {
            faults: Some(Arc::default()),
            ..AppState::new(db)
        },
        dir.path().join("dist"),
    );
    let put = send(
        &app,
        Request::put("/api/v1/_faults")
            .header("content-type", "application/json")
            .body(Body::from(
                r#"[{"path":"/api/v1/health","status":503,"times":2}]"#,
            ))
            .unwrap(),
    )
    .await;
    assert_eq!(put.status, StatusCode::NO_CONTENT);
    assert_eq!(
        get(&app, "/api/v1/health").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    let second = get(&app, "/api/v1/health").await;
    assert_eq!(second.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(second.error().error, "injected_fault");
    assert_eq!(
        get(&app, "/api/v1/health").await.status,
        StatusCode::OK,
        "only twice"
    );
    let table: serde_json::Value = get(&app, "/api/v1/_faults").await.json();
    assert_eq!(table["hits"].as_array().unwrap().len(), 2);

    let bad = send(
        &app,
        Request::put("/api/v1/_faults")
            .header("content-type", "application/json")
            .body(Body::from(r#"[{"path":"/x","bogus":1}]"#))
            .unwrap(),
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.error().error, "invalid_faults");
}
