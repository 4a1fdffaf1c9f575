//! The live socket: the current cursor on connect, a notice after each
//! commit, and an answer to the client's heartbeat.

mod common;

use casefile_core::api::{CaseStatus, LiveNotice, Priority};
use casefile_core::event::{CaseFields, DomainEvent, EventData, EventHeader};
use casefile_server::{app, AppState};
use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

fn created(n: u64) -> DomainEvent {
    let data = EventData::CaseCreated(CaseFields {
        title: format!("Live case {n}"),
        description: String::new(),
        status: CaseStatus::Open,
        priority: Priority::Low,
        assignee: None,
        tags: vec![],
        team: None,
    });
    let header = EventHeader {
        id: format!("00000000-0000-4000-8000-{n:012x}"),
        aggregate_id: format!("10000000-0000-4000-8000-{n:012x}"),
        node_id: "tablet".into(),
        clock: n,
        base_version: 0,
        timestamp: 1_790_000_000_000,
    };
    DomainEvent::new(header, &data)
}

async fn next_notice<S>(ws: &mut S) -> LiveNotice
where
    S: StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a notice within 5 s")
            .expect("socket open")
            .expect("no socket error");
        if let Message::Text(text) = msg {
            return serde_json::from_str(&text).expect("a notice");
        }
    }
}

#[tokio::test]
async fn clients_hear_the_cursor_on_connect_and_after_every_commit() {
    let (db, dir) = common::fresh_db().await;
    let router = app(AppState::new(db), dir.path().join("dist"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server_app = router.clone();
    tokio::spawn(async move { axum::serve(listener, server_app).await.unwrap() });

    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = format!("ws://{addr}/api/v1/live")
        .into_client_request()
        .unwrap();
    let token = format!("Bearer {}", common::TEST_TOKEN);
    request
        .headers_mut()
        .insert("authorization", token.parse().unwrap());
    // Without a session the upgrade is refused: 403 with no Origin (or a
    // foreign one), 401 from the server's own origin.
    let own = format!("http://{addr}");
    for (origin, status) in [
        (None, 403),
        (Some("http://evil.example"), 403),
        (Some(own.as_str()), 401),
    ] {
        let mut r = format!("ws://{addr}/api/v1/live")
            .into_client_request()
            .unwrap();
        if let Some(o) = origin {
            r.headers_mut().insert("origin", o.parse().unwrap());
        }
        let answer = tokio_tungstenite::connect_async(r).await;
        assert!(
            matches!(&answer, Err(tokio_tungstenite::tungstenite::Error::Http(r)) if r.status() == status),
            "{origin:?}: {answer:?}"
        );
    }
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    assert_eq!(next_notice(&mut ws).await, LiveNotice { cursor: 0 });

    let body = serde_json::json!({ "events": [created(1)] }).to_string();
    let r = common::post_json(&router, "/api/v1/events", &body, &[]).await;
    assert_eq!(r.status, axum::http::StatusCode::OK);
    assert_eq!(next_notice(&mut ws).await, LiveNotice { cursor: 1 });

    // A duplicate commits nothing new: no notice for it; the next real one comes.
    common::post_json(&router, "/api/v1/events", &body, &[]).await;
    let body2 = serde_json::json!({ "events": [created(2)] }).to_string();
    common::post_json(&router, "/api/v1/events", &body2, &[]).await;
    assert_eq!(next_notice(&mut ws).await, LiveNotice { cursor: 2 });

    ws.send(Message::Text("ping".into())).await.unwrap();
    let pong = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(pong, Message::Text("pong".into()));
}

/// A socket's session is checked at every heartbeat: once its token is
/// revoked the server closes it; a client message over 1 KiB closes it too.
#[tokio::test]
async fn a_socket_closes_when_its_session_ends_and_on_an_oversized_message() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let (db, dir) = common::fresh_db().await;
    let state = AppState {
        live_heartbeat: Duration::from_millis(50),
        ..AppState::new(db.clone())
    };
    common::add_user(&db, "casey", "caseworker", &["north"], CASEY).await;
    let router = app(state, dir.path().join("dist"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router.clone()).await.unwrap() });
    let open = |token: &str| {
        let mut r = format!("ws://{addr}/api/v1/live")
            .into_client_request()
            .unwrap();
        r.headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        tokio_tungstenite::connect_async(r)
    };

    // Oversized: closed by the server.
    let (mut ws, _) = open(common::TEST_TOKEN).await.unwrap();
    next_notice(&mut ws).await;
    ws.send(Message::Text("x".repeat(4096).into()))
        .await
        .unwrap();
    assert!(ends(&mut ws).await, "an oversized message ends the socket");

    // Revoked: closed within a heartbeat.
    let (mut ws, _) = open(CASEY).await.unwrap();
    next_notice(&mut ws).await;
    sqlx::query("DELETE FROM api_tokens WHERE user_name = 'casey'")
        .execute(db.pool())
        .await
        .unwrap();
    assert!(ends(&mut ws).await, "a revoked token ends the socket");
}

/// A reader hears only of commits to their teams' cases: Casey (north)
/// hears nothing of a case created in south, then hears the next north one.
#[tokio::test]
async fn a_reader_hears_only_of_commits_to_their_teams_cases() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let (db, dir) = common::fresh_db().await;
    common::add_user(&db, "casey", "caseworker", &["north"], CASEY).await;
    let router = app(AppState::new(db), dir.path().join("dist"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server_app = router.clone();
    tokio::spawn(async move { axum::serve(listener, server_app).await.unwrap() });
    let mut r = format!("ws://{addr}/api/v1/live")
        .into_client_request()
        .unwrap();
    r.headers_mut()
        .insert("authorization", format!("Bearer {CASEY}").parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(r).await.unwrap();
    assert_eq!(next_notice(&mut ws).await, LiveNotice { cursor: 0 });
    // The tester supervises north and south; one case in each, south first.
    for (n, team) in [(1, "south"), (2, "north")] {
        let mut event = created(n);
        let mut fields: CaseFields = serde_json::from_value(event.data.clone()).unwrap();
        fields.team = Some(team.into());
        event.data = serde_json::to_value(&fields).unwrap();
        let body = serde_json::json!({ "events": [event.seal()] }).to_string();
        let r = common::post_json(&router, "/api/v1/events", &body, &[]).await;
        let text = String::from_utf8_lossy(&r.body);
        assert!(text.contains("\"applied\""), "{text}");
    }
    assert_eq!(
        next_notice(&mut ws).await,
        LiveNotice { cursor: 2 },
        "nothing of south's case reached a north caseworker"
    );
}

const CASEY: &str = "cf_1111111111111111111111111111111111111111111111111111111111111111";

/// Whether the server ends the socket within 5 s.
async fn ends<S>(ws: &mut S) -> bool
where
    S: StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => return false,
            Ok(None | Some(Err(_)) | Some(Ok(Message::Close(_)))) => return true,
            Ok(Some(Ok(_))) => continue,
        }
    }
}
