//! Benchmark (prints figures): the server ingesting 10,000 events in batches
//! of 500 over loopback, on a fresh SQLite file, as a device syncing a long
//! offline session would send them. Also the pull of all of them back.
//!
//! Run: `bash scripts/bench.sh` (or `cargo run --profile server -p
//! casefile-server --example ingest`).

use casefile_core::api::{CaseStatus, Priority, PullResponse, PushResponse, PushStatus};
use casefile_core::event::{CaseFields, CasePatch, DomainEvent, EventData, EventHeader};
use casefile_server::db::Db;
use casefile_server::{app, AppState};
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const EVENTS: usize = 10_000;
const PER_CASE: usize = 10;
const BATCH: usize = 500;

fn events() -> Vec<DomainEvent> {
    let mut out = Vec::with_capacity(EVENTS);
    let mut clock = 0;
    for c in 0..EVENTS / PER_CASE {
        let case = format!("{c:08x}-0000-4000-8000-000000000000");
        for k in 0..PER_CASE {
            clock += 1;
            let data = if k == 0 {
                EventData::CaseCreated(CaseFields {
                    title: format!("Bench case {c}"),
                    description: "Created by the ingest benchmark.".into(),
                    status: CaseStatus::Open,
                    priority: Priority::Medium,
                    assignee: None,
                    tags: vec!["bench".into()],
                    team: None,
                })
            } else {
                EventData::CaseUpdated(CasePatch {
                    title: Some(format!("Bench case {c}, edit {k}")),
                    ..Default::default()
                })
            };
            let header = EventHeader {
                id: format!("{c:08x}-{k:04x}-4000-8000-000000000001"),
                aggregate_id: case.clone(),
                node_id: "bench-device".into(),
                clock,
                base_version: k as u64,
                timestamp: 1_790_000_000_000 + clock,
            };
            out.push(DomainEvent::new(header, &data));
        }
    }
    out
}

/// One HTTP/1.1 request on its own connection; the body of the answer.
async fn request(addr: &str, token: &str, method: &str, path: &str, body: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    body.to_string()
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("bench.db").display());
    let db = Db::connect(&url).await.unwrap();
    db.migrate().await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let state = AppState::new(db);
    // A supervisor of the team the cases go to, with an API token (SPEC §10).
    casefile_server::auth::create_user(
        &state,
        "bench",
        "Bench",
        casefile_core::access::Role::Supervisor,
        "benchmark password",
        &["bench"],
    )
    .await
    .unwrap();
    let token = casefile_server::auth::issue_token(&state, "bench", "ingest benchmark", 1)
        .await
        .unwrap()
        .token;
    let router = app(state, dir.path().join("no-dist"));
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

    let events = events();
    let bodies: Vec<String> = events
        .chunks(BATCH)
        .map(|chunk| serde_json::json!({ "events": chunk }).to_string())
        .collect();
    let started = Instant::now();
    let mut applied = 0;
    for body in &bodies {
        let answer: PushResponse =
            serde_json::from_str(&request(&addr, &token, "POST", "/api/v1/events", body).await)
                .unwrap();
        applied += answer
            .results
            .iter()
            .filter(|r| r.status == PushStatus::Applied)
            .count();
    }
    let push = started.elapsed();
    assert_eq!(applied, EVENTS, "every event applied once");

    let started = Instant::now();
    let (mut cursor, mut pulled) = (0, 0);
    loop {
        let page: PullResponse = serde_json::from_str(
            &request(
                &addr,
                &token,
                "GET",
                &format!("/api/v1/events?after={cursor}&limit=1000"),
                "",
            )
            .await,
        )
        .unwrap();
        pulled += page.events.len();
        cursor = page.next_cursor;
        if !page.has_more {
            break;
        }
    }
    let pull = started.elapsed();
    assert_eq!(pulled, EVENTS);

    let rate = |d: std::time::Duration| EVENTS as f64 / d.as_secs_f64();
    println!(
        "Server on SQLite over loopback, {EVENTS} events ({} cases × {PER_CASE})\n",
        EVENTS / PER_CASE
    );
    println!("| workload | time | events/s | goal |");
    println!("|---|---:|---:|---|");
    println!(
        "| push in batches of {BATCH} (validate, judge, apply, project; one transaction per batch) | {:.0} ms | {:.0} | 10,000 in < 1 s (SPEC §9) |",
        push.as_secs_f64() * 1000.0,
        rate(push)
    );
    println!(
        "| pull back in pages of 1,000 | {:.0} ms | {:.0} | – |",
        pull.as_secs_f64() * 1000.0,
        rate(pull)
    );
}
