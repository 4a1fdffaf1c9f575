//! A fleet (issue 15): three server processes on one PostgreSQL database
//! behave as one. Many writers push to all of them at once while a reader
//! on each pulls with its cursor; then every applied event reached every
//! reader exactly once, no case version was applied twice, two instances'
//! changes to one field conflict, and each instance's live socket heard of
//! the commits made on the others. Runs where `CASEFILE_TEST_PG_URL` names
//! a PostgreSQL server (the test command's PostgreSQL stage); SQLite is one
//! instance by design.
#![cfg(unix)]

mod common;

use casefile_core::api::{LiveNotice, PullResponse, PushResponse, PushStatus};
use casefile_core::event::{CaseFields, CasePatch, DomainEvent, EventData, EventHeader};
use futures_util::StreamExt;
use std::collections::{BTreeMap, BTreeSet};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

const INSTANCES: usize = 3;
const WRITERS_PER_INSTANCE: usize = 6;
const BATCHES: u64 = 10;
const PER_BATCH: u64 = 5;

/// One request over a new connection: status and body.
async fn http(addr: &str, method: &str, path: &str, head: &str, body: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{head}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    stream.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out).to_string();
    let status = text[9..12].parse().unwrap();
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn bearer(token: &str) -> String {
    format!("Authorization: Bearer {token}\r\n")
}

async fn start(url: &str, dir: &std::path::Path) -> (tokio::process::Child, String) {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_casefile-server"))
        .arg("--demo-users")
        .env("CASEFILE_ADDR", "127.0.0.1:0")
        .env("DATABASE_URL", url)
        .env("CASEFILE_DIST", dir.join("no-dist"))
        .env("CASEFILE_WRITE_RATE", "0")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .await
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("casefile-server listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line: {line}"))
        .to_string();
    (child, addr)
}

async fn token(addr: &str) -> String {
    let head =
        format!("Origin: http://{addr}\r\nX-Casefile: 1\r\nContent-Type: application/json\r\n");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let body = r#"{"name":"sam","password":"casefile-demo"}"#;
    let req = format!(
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{head}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    stream.read_to_string(&mut out).await.unwrap();
    let cookie = out
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_string();
    let (status, body) = http(
        addr,
        "POST",
        "/api/v1/auth/tokens",
        &format!("{head}Cookie: {cookie}\r\n"),
        r#"{"label":"fleet","days":1}"#,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["token"].as_str().unwrap().to_string()
}

fn uuid(prefix: u32, n: u64) -> String {
    format!("{prefix:08x}-0000-4000-8000-{n:012x}")
}

fn event(
    id: String,
    case: String,
    node: &str,
    clock: u64,
    base: u64,
    data: EventData,
) -> DomainEvent {
    DomainEvent::new(
        EventHeader {
            id,
            aggregate_id: case,
            node_id: node.into(),
            clock,
            base_version: base,
            timestamp: 1_790_000_000_000,
        },
        &data,
    )
}

async fn push(addr: &str, token: &str, events: &[DomainEvent]) -> PushResponse {
    let body = serde_json::json!({ "events": events }).to_string();
    let head = format!("{}Content-Type: application/json\r\n", bearer(token));
    let (status, text) = http(addr, "POST", "/api/v1/events", &head, &body).await;
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).unwrap()
}

async fn pull_page(addr: &str, token: &str, after: i64) -> PullResponse {
    let (status, text) = http(
        addr,
        "GET",
        &format!("/api/v1/events?after={after}&limit=1000"),
        &bearer(token),
        "",
    )
    .await;
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_instances_on_one_postgresql_behave_as_one() {
    let Ok(admin_url) = std::env::var("CASEFILE_TEST_PG_URL") else {
        eprintln!("skipped: CASEFILE_TEST_PG_URL is not set (runs in the PostgreSQL stage)");
        return;
    };
    let url = common::fresh_pg_database(&admin_url).await;
    let dir = tempfile::tempdir().unwrap();
    // They start together (migrations and demo users under the lock).
    let mut fleet = Vec::new();
    let starts: Vec<_> = (0..INSTANCES).map(|_| start(&url, dir.path())).collect();
    for s in futures_util::future::join_all(starts).await {
        fleet.push(s);
    }
    let addrs: Vec<String> = fleet.iter().map(|(_, a)| a.clone()).collect();
    let token = token(&addrs[0]).await;

    // A live socket on every instance.
    let mut sockets = Vec::new();
    for addr in &addrs {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut r = format!("ws://{addr}/api/v1/live")
            .into_client_request()
            .unwrap();
        r.headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        let (ws, _) = tokio_tungstenite::connect_async(r).await.unwrap();
        sockets.push(ws);
    }
    let listeners: Vec<_> = sockets
        .into_iter()
        .map(|mut ws| {
            tokio::spawn(async move {
                let mut cursors = Vec::new();
                while let Ok(Some(Ok(msg))) =
                    tokio::time::timeout(Duration::from_secs(5), ws.next()).await
                {
                    if let tokio_tungstenite::tungstenite::Message::Text(t) = msg {
                        if let Ok(n) = serde_json::from_str::<LiveNotice>(&t) {
                            cursors.push(n.cursor);
                        }
                    }
                }
                cursors
            })
        })
        .collect();

    // Readers pull from each instance while the writers write.
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = addrs
        .iter()
        .map(|addr| {
            let (addr, token, done) = (addr.clone(), token.clone(), done.clone());
            tokio::spawn(async move {
                let mut after = 0;
                let mut seen: Vec<(i64, String)> = Vec::new();
                loop {
                    let finished = done.load(std::sync::atomic::Ordering::SeqCst);
                    let page = pull_page(&addr, &token, after).await;
                    seen.extend(page.events.iter().map(|e| (e.seq, e.event.id.clone())));
                    after = page.next_cursor;
                    if finished && !page.has_more {
                        break seen;
                    }
                }
            })
        })
        .collect();

    // Writers: each creates its cases and changes them, on its instance.
    let mut writers = Vec::new();
    for (i, addr) in addrs.iter().enumerate() {
        for w in 0..WRITERS_PER_INSTANCE {
            let (addr, token) = (addr.clone(), token.clone());
            let writer = (i * WRITERS_PER_INSTANCE + w) as u64;
            writers.push(tokio::spawn(async move {
                let node = format!("fleet-{writer}");
                let mut applied = Vec::new();
                for b in 0..BATCHES {
                    let mut events = Vec::new();
                    for k in 0..PER_BATCH {
                        let n = (writer * 1_000 + b) * 100 + k;
                        let case = uuid(1, writer * 1_000 + k);
                        let clock = b * PER_BATCH + k + 1;
                        events.push(if b == 0 {
                            let data = EventData::CaseCreated(CaseFields::titled(format!("c{n}")));
                            event(uuid(0, n), case, &node, clock, 0, data)
                        } else {
                            // Each change based on the version before it.
                            let patch = CasePatch {
                                title: Some(format!("t{n}")),
                                ..CasePatch::default()
                            };
                            event(
                                uuid(0, n),
                                case,
                                &node,
                                clock,
                                b,
                                EventData::CaseUpdated(patch),
                            )
                        });
                    }
                    let r = push(&addr, &token, &events).await;
                    for res in r.results {
                        assert_eq!(res.status, PushStatus::Applied, "{res:?}");
                        applied.push(res.id);
                    }
                }
                applied
            }));
        }
    }
    // Contested: one case, and two instances change its title from the same
    // version at once: one applies, the other conflicts.
    let case = uuid(2, 1);
    let created = event(
        uuid(3, 1),
        case.clone(),
        "fleet-x",
        1,
        0,
        EventData::CaseCreated(CaseFields::titled("contested")),
    );
    assert_eq!(
        push(&addrs[0], &token, &[created]).await.results[0].status,
        PushStatus::Applied
    );
    let rival = |n: u64, node: &str| {
        let patch = CasePatch {
            title: Some(format!("from {node}")),
            ..CasePatch::default()
        };
        event(
            uuid(3, n),
            case.clone(),
            node,
            2,
            1,
            EventData::CaseUpdated(patch),
        )
    };
    let (x, y) = ([rival(2, "fleet-x")], [rival(3, "fleet-y")]);
    let (a, b) = tokio::join!(push(&addrs[1], &token, &x), push(&addrs[2], &token, &y));
    let mut outcomes = vec![a.results[0].status, b.results[0].status];
    outcomes.sort_by_key(|s| format!("{s:?}"));
    assert_eq!(
        outcomes,
        [PushStatus::Applied, PushStatus::Conflict],
        "across instances"
    );

    let mut applied: BTreeSet<String> = BTreeSet::new();
    for w in writers {
        applied.extend(w.await.unwrap());
    }
    let expected = INSTANCES * WRITERS_PER_INSTANCE * (BATCHES * PER_BATCH) as usize;
    assert_eq!(applied.len(), expected);
    done.store(true, std::sync::atomic::Ordering::SeqCst);

    for (i, reader) in readers.into_iter().enumerate() {
        let seen = reader.await.unwrap();
        let ids: BTreeSet<&String> = seen.iter().map(|(_, id)| id).collect();
        assert_eq!(ids.len(), seen.len(), "reader {i} saw an event twice");
        for id in &applied {
            assert!(
                ids.contains(id),
                "reader {i} never saw {id}: its cursor skipped it"
            );
        }
        let seqs: Vec<i64> = seen.iter().map(|(s, _)| *s).collect();
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "reader {i}: seq in order"
        );
    }

    // No version applied twice: per case, each version once.
    let admin = casefile_server::db::Db::connect(&url).await.unwrap();
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT aggregate_id, version FROM events ORDER BY seq")
            .fetch_all(admin.pool())
            .await
            .unwrap();
    let last: i64 = sqlx::query_scalar("SELECT MAX(seq) FROM events")
        .fetch_one(admin.pool())
        .await
        .unwrap();
    let mut versions: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
    for (case, version) in &rows {
        assert!(
            versions.entry(case.clone()).or_default().insert(*version),
            "{case} version {version} applied twice"
        );
    }

    // Every instance's socket heard commits up to the last one, including
    // those made on the other instances.
    for (i, l) in listeners.into_iter().enumerate() {
        let cursors = l.await.unwrap();
        assert!(
            cursors.iter().any(|c| *c >= last),
            "instance {i} heard up to {:?}, the log is at {last}",
            cursors.last()
        );
        assert!(
            cursors.len() > 2,
            "instance {i} heard {} notices",
            cursors.len()
        );
    }
    for (mut child, _) in fleet {
        let _ = child.kill().await;
    }
}
