//! Who may read and change what (SPEC §8, §10), and the attacks on it, at
//! the real router and database: every request reaches the layer it names
//! (the events parse and verify; only access refuses them).

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use casefile_core::api::{
    CasePage, CaseStatus, Dashboard, Priority, PullResponse, PushResponse, PushStatus,
};
use casefile_core::event::{CaseFields, CasePatch, DomainEvent, EventData, EventHeader, NoteData};
use casefile_server::{app, AppState};
use common::{add_user, send, Reply};

const CASEY: &str = "cf_1111111111111111111111111111111111111111111111111111111111111111";
const KIM: &str = "cf_2222222222222222222222222222222222222222222222222222222222222222";
const MAX: &str = "cf_4444444444444444444444444444444444444444444444444444444444444444";
const SAM: &str = "cf_3333333333333333333333333333333333333333333333333333333333333333";

struct World {
    app: Router,
    state: AppState,
    _dir: tempfile::TempDir,
}

async fn world() -> World {
    let (db, dir) = common::fresh_db().await;
    add_user(&db, "casey", "caseworker", &["north"], CASEY).await;
    add_user(&db, "kim", "caseworker", &["south"], KIM).await;
    add_user(&db, "sam", "supervisor", &["north"], SAM).await;
    let state = AppState::new(db);
    World {
        app: app(state.clone(), dir.path().join("dist")),
        state,
        _dir: dir,
    }
}

fn event(n: u64, case: u64, node: &str, base: u64, data: EventData) -> DomainEvent {
    DomainEvent::new(
        EventHeader {
            id: format!("00000000-0000-4000-8000-{n:012x}"),
            aggregate_id: format!("10000000-0000-4000-8000-{case:012x}"),
            node_id: node.into(),
            clock: n,
            base_version: base,
            timestamp: 1_790_000_000_000 + n,
        },
        &data,
    )
}

fn create(n: u64, case: u64, node: &str, assignee: Option<&str>) -> DomainEvent {
    let mut f = CaseFields::titled(format!("Case {case}"));
    f.assignee = assignee.map(str::to_string);
    f.priority = Priority::High;
    event(n, case, node, 0, EventData::CaseCreated(f))
}

fn patch(n: u64, case: u64, node: &str, base: u64, p: CasePatch) -> DomainEvent {
    event(n, case, node, base, EventData::CaseUpdated(p))
}

fn case_id(case: u64) -> String {
    format!("10000000-0000-4000-8000-{case:012x}")
}

async fn push_as(
    app: &Router,
    token: &str,
    events: &[DomainEvent],
    key: Option<&str>,
) -> PushResponse {
    let body = serde_json::json!({ "events": events }).to_string();
    let auth = format!("Bearer {token}");
    let mut headers = vec![("authorization", auth.as_str())];
    if let Some(k) = key {
        headers.push(("idempotency-key", k));
    }
    common::push_ok(app, &body, &headers).await
}

async fn get_as(app: &Router, token: &str, uri: &str) -> Reply {
    let req = Request::get(uri).header("authorization", format!("Bearer {token}"));
    send(app, req.body(Body::empty()).unwrap()).await
}

fn statuses(r: &PushResponse) -> Vec<PushStatus> {
    r.results.iter().map(|x| x.status).collect()
}

#[tokio::test]
async fn without_a_session_every_api_route_but_health_and_sign_in_is_401() {
    let w = world().await;
    for uri in [
        "/api/v1/cases",
        "/api/v1/cases/10000000-0000-4000-8000-000000000001",
        "/api/v1/cases/10000000-0000-4000-8000-000000000001/notes",
        "/api/v1/dashboard",
        "/api/v1/events?after=0",
        "/api/v1/auth/session",
        "/api/v1/auth/sessions",
        "/api/v1/admin/users",
        "/api/v1/admin/access-log",
        "/api/v1/no-such-route",
    ] {
        let req = Request::get(uri).header("x-test-anonymous", "1");
        let r = send(&w.app, req.body(Body::empty()).unwrap()).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{uri}");
        assert_eq!(r.error().error, "unauthorized");
    }
    let req = Request::get("/api/v1/health").header("x-test-anonymous", "1");
    assert_eq!(
        send(&w.app, req.body(Body::empty()).unwrap()).await.status,
        StatusCode::OK
    );
    // What the server counts and what browsers report: administrators only.
    for uri in ["/metrics", "/api/v1/csp-reports"] {
        let req = Request::get(uri).header("x-test-anonymous", "1");
        let r = send(&w.app, req.body(Body::empty()).unwrap()).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{uri}");
        assert_eq!(
            get_as(&w.app, SAM, uri).await.status,
            StatusCode::FORBIDDEN,
            "{uri}"
        );
        assert_eq!(
            common::get_as_admin(&w.app, uri).await.status,
            StatusCode::OK,
            "{uri}"
        );
    }
    // A revoked or unknown token is no session either.
    let r = get_as(&w.app, &format!("cf_{}", "9".repeat(64)), "/api/v1/cases").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

/// A supervisor of two teams files a new case in the one they choose; a
/// caseworker naming a team not theirs is refused (and it is logged).
#[tokio::test]
async fn a_new_case_joins_the_team_its_creator_chooses_among_their_own() {
    let w = world().await;
    add_user(&w.state.db, "max", "supervisor", &["north", "south"], MAX).await;
    let in_team = |n: u64, case: u64, node: &str, team: &str| {
        let mut f = CaseFields::titled(format!("Case {case}"));
        f.team = Some(team.into());
        event(n, case, node, 0, EventData::CaseCreated(f))
    };
    let r = push_as(&w.app, MAX, &[in_team(1, 1, "max-phone", "south")], None).await;
    assert_eq!(statuses(&r), [PushStatus::Applied]);
    assert_eq!(
        w.state.db.case_team(&case_id(1)).await.unwrap().as_deref(),
        Some("south"),
        "not the first of max's teams (north)"
    );
    assert_eq!(
        get_as(&w.app, KIM, &format!("/api/v1/cases/{}", case_id(1)))
            .await
            .status,
        StatusCode::OK,
        "south's caseworker reads it"
    );
    let r = push_as(
        &w.app,
        CASEY,
        &[in_team(2, 2, "casey-phone", "south")],
        None,
    )
    .await;
    assert_eq!(statuses(&r), [PushStatus::Forbidden]);
    assert_eq!(w.state.db.case_team(&case_id(2)).await.unwrap(), None);
}

/// The people a reader may assign cases to are their teams' members, and
/// nobody else: Casey (north) never learns who is in south.
#[tokio::test]
async fn people_lists_only_the_members_of_the_readers_teams() {
    let w = world().await;
    add_user(&w.state.db, "max", "supervisor", &["north", "south"], MAX).await;
    let names = |r: Reply| -> Vec<(String, Vec<String>)> {
        r.json::<Vec<casefile_core::api::Person>>()
            .into_iter()
            .map(|p| (p.name, p.teams))
            .collect()
    };
    let north = |n: &str| (n.to_string(), vec!["north".to_string()]);
    assert_eq!(
        names(get_as(&w.app, CASEY, "/api/v1/people").await),
        [north("casey"), north("max"), north("sam"), north("tester")]
    );
    assert_eq!(
        names(get_as(&w.app, MAX, "/api/v1/people").await),
        [
            north("casey"),
            ("kim".into(), vec!["south".into()]),
            ("max".into(), vec!["north".into(), "south".into()]),
            north("sam"),
            ("tester".into(), vec!["north".into(), "south".into()]),
        ]
    );
    let r = send(
        &w.app,
        Request::get("/api/v1/people")
            .header("x-test-anonymous", "1")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_caseworker_never_sees_another_teams_case_anywhere() {
    let w = world().await;
    let r = push_as(&w.app, KIM, &[create(1, 1, "kim-phone", Some("kim"))], None).await;
    assert_eq!(statuses(&r), [PushStatus::Applied]);
    let r = push_as(&w.app, CASEY, &[create(2, 2, "casey-phone", None)], None).await;
    assert_eq!(statuses(&r), [PushStatus::Applied]);
    let south = case_id(1);
    // Not in Casey's list, case, notes, dashboard or pull.
    let page: CasePage = get_as(&w.app, CASEY, "/api/v1/cases").await.json();
    assert_eq!(
        page.items.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        [case_id(2)]
    );
    assert_eq!(page.total, 1);
    let r = get_as(&w.app, CASEY, &format!("/api/v1/cases/{south}")).await;
    assert_eq!(
        r.status,
        StatusCode::NOT_FOUND,
        "404, not 403: it does not exist for her"
    );
    let r = get_as(&w.app, CASEY, &format!("/api/v1/cases/{south}/notes")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let d: Dashboard = get_as(&w.app, CASEY, "/api/v1/dashboard").await.json();
    assert_eq!(d.total, 1);
    assert!(d.recent.iter().all(|c| c.id != south));
    let pull: PullResponse = get_as(&w.app, CASEY, "/api/v1/events?after=0").await.json();
    assert!(pull.events.iter().all(|e| e.event.aggregate_id != south));
    assert_eq!(pull.events.len(), 1);
    assert_eq!(
        pull.next_cursor, 2,
        "the cursor moves past what she may not see"
    );
    // Kim sees hers.
    let r = get_as(&w.app, KIM, &format!("/api/v1/cases/{south}")).await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn forbidden_changes_are_refused_one_by_one_logged_and_the_rest_applied() {
    let w = world().await;
    // Two cases of team north: one assigned to Sam, one to Casey.
    let r = push_as(
        &w.app,
        SAM,
        &[
            create(1, 1, "sam-desk", Some("sam")),
            create(2, 2, "sam-desk", Some("casey")),
        ],
        None,
    )
    .await;
    assert_eq!(statuses(&r), [PushStatus::Applied, PushStatus::Applied]);
    let other = 1; // assigned to Sam
    let mine = 2; // assigned to Casey
    let close = CasePatch {
        status: Some(CaseStatus::Closed),
        ..CasePatch::default()
    };
    let reassign = CasePatch {
        assignee: Some(Some("casey".into())),
        ..CasePatch::default()
    };
    let retitle = CasePatch {
        title: Some("Casey's edit".into()),
        ..CasePatch::default()
    };
    let batch = [
        patch(10, other, "casey-phone", 1, retitle.clone()),
        patch(11, other, "casey-phone", 1, reassign),
        patch(12, mine, "casey-phone", 1, close),
        event(13, mine, "casey-phone", 1, EventData::CaseDeleted),
        patch(14, mine, "casey-phone", 1, retitle),
    ];
    let r = push_as(&w.app, CASEY, &batch, None).await;
    assert_eq!(
        statuses(&r),
        [
            PushStatus::Forbidden,
            PushStatus::Forbidden,
            PushStatus::Forbidden,
            PushStatus::Forbidden,
            PushStatus::Applied
        ]
    );
    let reasons: Vec<String> = r.results[..4]
        .iter()
        .map(|x| x.message.clone().unwrap())
        .collect();
    assert!(reasons[0].contains("assigned to you"), "{reasons:?}");
    assert!(reasons[2].contains("close or reopen"), "{reasons:?}");
    assert!(reasons[3].contains("delete"), "{reasons:?}");
    let c: casefile_core::api::Case =
        get_as(&w.app, SAM, &format!("/api/v1/cases/{}", case_id(other)))
            .await
            .json();
    assert_eq!(
        (c.title.as_str(), c.assignee.as_deref(), c.version),
        ("Case 1", Some("sam"), 1),
        "nothing applied"
    );
    let c: casefile_core::api::Case =
        get_as(&w.app, SAM, &format!("/api/v1/cases/{}", case_id(mine)))
            .await
            .json();
    assert_eq!(
        (c.title.as_str(), c.status),
        ("Casey's edit", CaseStatus::Open)
    );
    // The admin reads every denial.
    add_user(
        &w.state.db,
        "ada",
        "admin",
        &[],
        "cf_4444444444444444444444444444444444444444444444444444444444444444",
    )
    .await;
    let log: Vec<casefile_server::auth::Denial> = get_as(
        &w.app,
        "cf_4444444444444444444444444444444444444444444444444444444444444444",
        "/api/v1/admin/access-log",
    )
    .await
    .json();
    assert_eq!(log.len(), 4);
    assert!(log.iter().all(|d| d.actor == "casey"));
    // Not a supervisor's business to read it.
    assert_eq!(
        get_as(&w.app, SAM, "/api/v1/admin/access-log").await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn a_spoofed_note_author_and_another_users_device_id_are_refused() {
    let w = world().await;
    push_as(
        &w.app,
        CASEY,
        &[create(1, 1, "casey-phone", Some("casey"))],
        None,
    )
    .await;
    let note = |n: u64, author: &str, node: &str| {
        event(
            n,
            1,
            node,
            1,
            EventData::NoteAdded(NoteData {
                note_id: format!("20000000-0000-4000-8000-{n:012x}"),
                body: "seen today".into(),
                author: author.into(),
            }),
        )
    };
    let r = push_as(
        &w.app,
        CASEY,
        &[
            note(2, "sam", "casey-phone"),
            note(3, "casey", "casey-phone"),
        ],
        None,
    )
    .await;
    assert_eq!(statuses(&r), [PushStatus::Forbidden, PushStatus::Applied]);
    assert!(r.results[0].message.as_deref().unwrap().contains("author"));
    // Sam writing under Casey's device id.
    let r = push_as(&w.app, SAM, &[note(4, "sam", "casey-phone")], None).await;
    assert_eq!(statuses(&r), [PushStatus::Forbidden]);
    assert!(r.results[0].message.as_deref().unwrap().contains("device"));
    let r = push_as(&w.app, SAM, &[note(5, "sam", "sam-desk")], None).await;
    assert_eq!(statuses(&r), [PushStatus::Applied]);
}

#[tokio::test]
async fn an_idempotency_key_belongs_to_its_user() {
    let w = world().await;
    let a = push_as(
        &w.app,
        CASEY,
        &[create(1, 1, "casey-phone", None)],
        Some("same-key"),
    )
    .await;
    assert_eq!(statuses(&a), [PushStatus::Applied]);
    // Kim reuses the key with her own batch: she gets her own result, not
    // Casey's answer (which would tell her about Casey's case).
    let b = push_as(
        &w.app,
        KIM,
        &[create(2, 2, "kim-phone", None)],
        Some("same-key"),
    )
    .await;
    assert_eq!(b.results[0].id, "00000000-0000-4000-8000-000000000002");
    assert_eq!(statuses(&b), [PushStatus::Applied]);
    // Casey's replay still gets hers.
    let again = push_as(
        &w.app,
        CASEY,
        &[create(1, 1, "casey-phone", None)],
        Some("same-key"),
    )
    .await;
    assert_eq!(again, a);
}

fn browser_write(uri: &str, cookie: &str) -> axum::http::request::Builder {
    Request::post(uri)
        .header("cookie", cookie)
        .header("host", "127.0.0.1:8080")
}

#[tokio::test]
async fn cross_site_writes_and_foreign_hosts_are_refused() {
    let w = world().await;
    casefile_server::auth::create_user(
        &w.state,
        "lee",
        "Lee",
        casefile_core::access::Role::Caseworker,
        "a long enough secret",
        &["north"],
    )
    .await
    .unwrap();
    let login = Request::post("/api/v1/auth/login")
        .header("host", "127.0.0.1:8080")
        .header("origin", "http://127.0.0.1:8080")
        .header("content-type", "application/json")
        .header("x-casefile", "1");
    let body = r#"{"name":"lee","password":"a long enough secret"}"#;
    let r = send(&w.app, login.body(Body::from(body)).unwrap()).await;
    assert_eq!(r.status, StatusCode::OK);
    let cookie = r
        .header("set-cookie")
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let events = serde_json::json!({ "events": [create(1, 1, "lee-phone", None)] }).to_string();
    let cases: [(&str, Vec<(&str, &str)>); 5] = [
        (
            "a foreign Origin",
            vec![
                ("origin", "http://evil.example"),
                ("content-type", "application/json"),
                ("x-casefile", "1"),
            ],
        ),
        (
            "no Origin",
            vec![("content-type", "application/json"), ("x-casefile", "1")],
        ),
        (
            "no app header",
            vec![
                ("origin", "http://127.0.0.1:8080"),
                ("content-type", "application/json"),
            ],
        ),
        (
            "text/plain",
            vec![
                ("origin", "http://127.0.0.1:8080"),
                ("content-type", "text/plain"),
                ("x-casefile", "1"),
            ],
        ),
        (
            "cross-site fetch",
            vec![
                ("origin", "http://127.0.0.1:8080"),
                ("content-type", "application/json"),
                ("x-casefile", "1"),
                ("sec-fetch-site", "cross-site"),
            ],
        ),
    ];
    for (what, headers) in cases {
        let mut req = browser_write("/api/v1/events", &cookie);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        let r = send(&w.app, req.body(Body::from(events.clone())).unwrap()).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{what}");
        assert_eq!(r.error().error, "forbidden");
    }
    // The same write from the app's page goes through.
    let req = browser_write("/api/v1/events", &cookie)
        .header("origin", "http://127.0.0.1:8080")
        .header("content-type", "application/json")
        .header("x-casefile", "1");
    let r = send(&w.app, req.body(Body::from(events)).unwrap()).await;
    assert_eq!(r.status, StatusCode::OK);
    let pushed: PushResponse = r.json();
    assert_eq!(statuses(&pushed), [PushStatus::Applied]);
    // DNS rebinding: a name that is not the server's.
    let req = Request::get("/api/v1/cases")
        .header("host", "attacker.example")
        .header("cookie", &cookie);
    let r = send(&w.app, req.body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error().error, "unknown_host");
}

#[tokio::test]
async fn a_user_issues_and_revokes_their_own_api_tokens() {
    let w = world().await;
    let auth = format!("Bearer {CASEY}");
    let r = common::post_json(
        &w.app,
        "/api/v1/auth/tokens",
        r#"{"label":"ingest script","days":30}"#,
        &[("authorization", &auth)],
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let issued: casefile_server::auth::IssuedToken = r.json();
    assert!(issued.token.starts_with("cf_"));
    assert_eq!(
        get_as(&w.app, &issued.token, "/api/v1/cases").await.status,
        StatusCode::OK
    );
    let req = Request::delete(format!("/api/v1/auth/tokens/{}", issued.id))
        .header("authorization", &auth);
    assert_eq!(
        send(&w.app, req.body(Body::empty()).unwrap()).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        get_as(&w.app, &issued.token, "/api/v1/cases").await.status,
        StatusCode::UNAUTHORIZED
    );
    let r = common::post_json(
        &w.app,
        "/api/v1/auth/tokens",
        r#"{"label":"","days":9999}"#,
        &[("authorization", &auth)],
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

const SUE: &str = "cf_5555555555555555555555555555555555555555555555555555555555555555";
const ADA: &str = "cf_6666666666666666666666666666666666666666666666666666666666666666";

async fn pull_as(app: &Router, token: &str, after: i64, access_after: i64) -> PullResponse {
    let uri = format!("/api/v1/events?after={after}&access_after={access_after}");
    common::ok(get_as(app, token, &uri).await)
}

fn moved(n: u64, case: u64, base: u64, team: &str, to: Option<&str>) -> DomainEvent {
    patch(
        n,
        case,
        "sue-tablet",
        base,
        CasePatch {
            team: Some(team.into()),
            assignee: Some(to.map(str::to_string)),
            ..CasePatch::default()
        },
    )
}

#[tokio::test]
async fn a_case_moved_to_another_team_is_revoked_from_one_reader_and_granted_with_its_history_to_the_other(
) {
    let w = world().await;
    add_user(&w.state.db, "sue", "supervisor", &["north", "south"], SUE).await;
    let r = push_as(
        &w.app,
        CASEY,
        &[create(1, 1, "casey-phone", Some("casey"))],
        None,
    )
    .await;
    assert_eq!(statuses(&r), [PushStatus::Applied]);
    let casey = pull_as(&w.app, CASEY, 0, 0).await;
    let kim = pull_as(&w.app, KIM, 0, 0).await;
    assert_eq!(casey.events.len(), 1);
    assert!(kim.events.is_empty() && kim.granted.is_empty());

    // Sam supervises only north: he may not move it south.
    let sams = patch(
        2,
        1,
        "sam-tablet",
        1,
        CasePatch {
            team: Some("south".into()),
            assignee: Some(Some("kim".into())),
            ..CasePatch::default()
        },
    );
    let r = push_as(&w.app, SAM, &[sams], None).await;
    assert_eq!(statuses(&r), [PushStatus::Forbidden]);
    // Nor may Sue leave it with Casey, who could not read it there.
    let keeps_casey = patch(
        3,
        1,
        "sue-tablet",
        1,
        CasePatch {
            team: Some("south".into()),
            ..CasePatch::default()
        },
    );
    let r = push_as(&w.app, SUE, &[keeps_casey], None).await;
    assert_eq!(statuses(&r), [PushStatus::Forbidden]);
    let r = push_as(&w.app, SUE, &[moved(3, 1, 1, "south", None)], None).await;
    assert_eq!(statuses(&r), [PushStatus::Applied], "unassigned is fine");
    let r = push_as(&w.app, SUE, &[moved(4, 1, 2, "north", Some("casey"))], None).await;
    assert_eq!(statuses(&r), [PushStatus::Applied], "and back");
    let r = push_as(&w.app, SUE, &[moved(5, 1, 3, "south", Some("kim"))], None).await;
    assert_eq!(statuses(&r), [PushStatus::Applied]);

    let c = pull_as(&w.app, CASEY, casey.next_cursor, casey.access_cursor).await;
    assert_eq!(c.revoked, [case_id(1)], "gone from Casey's device");
    assert!(c.granted.is_empty());
    assert!(c.events.iter().all(|e| e.event.aggregate_id != case_id(1)));
    let k = pull_as(&w.app, KIM, kim.next_cursor, kim.access_cursor).await;
    assert_eq!(k.granted, [case_id(1)], "Kim is told, once");
    assert!(k.revoked.is_empty());
    // Her backfill brings the case from its creation.
    let uri = format!("/api/v1/events?after=0&cases={}", case_id(1));
    let back: PullResponse = get_as(&w.app, KIM, &uri).await.json();
    assert_eq!(back.events.len(), 4, "created, moved, moved back, moved");
    assert!(back.granted.is_empty() && back.revoked.is_empty());
    let none: PullResponse = get_as(&w.app, CASEY, &uri).await.json();
    assert!(none.events.is_empty(), "a backfill is filtered too");
    // Asked again after its cursor, nothing more is said.
    let again = pull_as(&w.app, KIM, k.next_cursor, k.access_cursor).await;
    assert!(again.granted.is_empty() && again.revoked.is_empty() && !again.has_more);
    // Casey's offline edit on it is refused as unreadable, on its own.
    let edit = patch(
        6,
        1,
        "casey-phone",
        1,
        CasePatch {
            title: Some("written offline".into()),
            ..CasePatch::default()
        },
    );
    let r = push_as(
        &w.app,
        CASEY,
        &[edit, create(7, 2, "casey-phone", None)],
        None,
    )
    .await;
    assert_eq!(statuses(&r), [PushStatus::Forbidden, PushStatus::Applied]);
    assert_eq!(
        r.results[0].message.as_deref(),
        Some("you do not have access to this case")
    );
}

#[tokio::test]
async fn leaving_a_team_revokes_its_cases_and_joining_grants_them() {
    let w = world().await;
    add_user(&w.state.db, "ada", "admin", &[], ADA).await;
    for n in 1..=3 {
        let r = push_as(&w.app, SAM, &[create(n, n, "sam-tablet", None)], None).await;
        assert_eq!(statuses(&r), [PushStatus::Applied]);
    }
    let before = pull_as(&w.app, CASEY, 0, 0).await;
    assert_eq!(before.events.len(), 3);
    let member = |verb: &'static str| {
        Request::builder()
            .method(verb)
            .uri("/api/v1/admin/teams/north/members/casey")
            .header("authorization", format!("Bearer {ADA}"))
            .body(Body::empty())
            .unwrap()
    };
    assert_eq!(
        send(&w.app, member("DELETE")).await.status,
        StatusCode::NO_CONTENT
    );
    let gone = pull_as(&w.app, CASEY, before.next_cursor, before.access_cursor).await;
    assert_eq!(gone.revoked, (1..=3).map(case_id).collect::<Vec<_>>());
    // Taking her out again changes nothing and says nothing.
    assert_eq!(
        send(&w.app, member("DELETE")).await.status,
        StatusCode::NO_CONTENT
    );
    let quiet = pull_as(&w.app, CASEY, gone.next_cursor, gone.access_cursor).await;
    assert!(quiet.revoked.is_empty() && quiet.granted.is_empty());
    assert_eq!(
        send(&w.app, member("PUT")).await.status,
        StatusCode::NO_CONTENT
    );
    let back = pull_as(&w.app, CASEY, quiet.next_cursor, quiet.access_cursor).await;
    assert_eq!(back.granted, (1..=3).map(case_id).collect::<Vec<_>>());
    // A new device of hers pulls every case it may read anyway: it is told
    // no access history, and starts at the log's end.
    let fresh = pull_as(&w.app, CASEY, 0, 0).await;
    assert_eq!(fresh.events.len(), 3);
    assert!(fresh.granted.is_empty() && fresh.revoked.is_empty());
    assert_eq!(fresh.access_cursor, back.access_cursor);
    let next = pull_as(&w.app, CASEY, fresh.next_cursor, fresh.access_cursor).await;
    assert!(next.granted.is_empty() && next.revoked.is_empty());
    // Only an administrator changes teams.
    let by_sam = Request::delete("/api/v1/admin/teams/north/members/casey")
        .header("authorization", format!("Bearer {SAM}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&w.app, by_sam).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_role_change_to_admin_revokes_her_teams_cases_and_back_grants_them() {
    let w = world().await;
    add_user(&w.state.db, "ada", "admin", &[], ADA).await;
    for n in 1..=2 {
        let r = push_as(&w.app, SAM, &[create(n, n, "sam-tablet", None)], None).await;
        assert_eq!(statuses(&r), [PushStatus::Applied]);
    }
    let before = pull_as(&w.app, CASEY, 0, 0).await;
    assert_eq!(before.events.len(), 2);
    let role = |name: &'static str| {
        Request::patch("/api/v1/admin/users/casey")
            .header("authorization", format!("Bearer {ADA}"))
            .header("content-type", "application/json")
            .body(Body::from(format!(r#"{{"role":"{name}"}}"#)))
            .unwrap()
    };
    assert_eq!(
        send(&w.app, role("admin")).await.status,
        StatusCode::NO_CONTENT
    );
    let gone = pull_as(&w.app, CASEY, before.next_cursor, before.access_cursor).await;
    assert_eq!(gone.revoked, (1..=2).map(case_id).collect::<Vec<_>>());
    assert_eq!(
        send(&w.app, role("caseworker")).await.status,
        StatusCode::NO_CONTENT
    );
    let back = pull_as(&w.app, CASEY, gone.next_cursor, gone.access_cursor).await;
    assert_eq!(back.granted, (1..=2).map(case_id).collect::<Vec<_>>());
    // Caseworker to supervisor reads the same cases: nothing to say.
    assert_eq!(
        send(&w.app, role("supervisor")).await.status,
        StatusCode::NO_CONTENT
    );
    let quiet = pull_as(&w.app, CASEY, back.next_cursor, back.access_cursor).await;
    assert!(quiet.granted.is_empty() && quiet.revoked.is_empty());
}

#[tokio::test]
async fn hostile_backfill_and_access_cursors_are_refused_before_any_query() {
    let w = world().await;
    let many = (0..51).map(case_id).collect::<Vec<_>>().join(",");
    for query in [
        "access_after=-1",
        "access_after=1e3",
        "cases=",
        "cases=1%27%20OR%20%271%27%3D%271",
        "cases=10000000-0000-4000-8000-000000000001,x",
        &format!("cases={many}"),
    ] {
        let r = get_as(&w.app, CASEY, &format!("/api/v1/events?{query}")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(r.error().error, "invalid_query", "{query}");
    }
}

#[tokio::test]
async fn a_device_record_is_told_to_its_own_user_only() {
    let w = world().await;
    let r = push_as(
        &w.app,
        CASEY,
        &[
            create(1, 1, "casey-phone", Some("casey")),
            create(2, 2, "casey-phone", None),
        ],
        None,
    )
    .await;
    assert_eq!(statuses(&r), [PushStatus::Applied, PushStatus::Applied]);
    let mine: casefile_core::api::DeviceRecord =
        common::ok(get_as(&w.app, CASEY, "/api/v1/devices/casey-phone").await);
    assert_eq!(mine.events, 2);
    assert!(mine.last_received_at.is_some());
    // Another user's device, or one never seen, is not found: nobody
    // learns what someone else's device sent.
    let theirs = get_as(&w.app, KIM, "/api/v1/devices/casey-phone").await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    let unknown = get_as(&w.app, CASEY, "/api/v1/devices/never-seen").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let long = format!("/api/v1/devices/{}", "x".repeat(65));
    assert_eq!(
        get_as(&w.app, CASEY, &long).await.status,
        StatusCode::BAD_REQUEST
    );
}
