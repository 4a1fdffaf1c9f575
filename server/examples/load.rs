//! Load generator (prints figures; loopback only, bounded in time and
//! count): 100 devices push and pull at once, each pushing 10 batches of 10
//! events (10,000 in all) and pulling from its cursor after every push,
//! against one server on SQLite, then 1, 2 and 3 servers on one PostgreSQL
//! database (devices spread round-robin over the instances). Prints events/s
//! and p50/p99 push and pull latency, side by side.
//!
//! Run: `bash scripts/bench.sh` (it builds the server with `--profile
//! server` and gives PostgreSQL by `CASEFILE_BENCH_PG_URL`; without it the
//! PostgreSQL rows are skipped).

use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

const DEVICES: usize = 100;
const BATCHES: usize = 10;
const PER_BATCH: usize = 10;
/// The whole run of one configuration stops here, finished or not.
const LIMIT: Duration = Duration::from_secs(120);

struct Reply {
    status: u16,
    head: String,
    body: String,
}

/// One request on a new loopback connection.
async fn request(addr: &str, method: &str, path: &str, extra: &str, body: &str) -> Reply {
    let mut conn = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connects");
    let text = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nOrigin: http://{addr}\r\nX-Casefile: 1\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    conn.write_all(text.as_bytes()).await.expect("writes");
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw).await.expect("reads");
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    Reply {
        status: head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0),
        head: head.to_string(),
        body: body.to_string(),
    }
}

/// Starts one server process; its address.
async fn launch(url: &str, dir: &std::path::Path) -> (tokio::process::Child, String) {
    let exe = std::env::current_exe().expect("own path");
    let server = exe
        .parent()
        .and_then(|examples| examples.parent())
        .expect("target/<profile>/examples")
        .join("casefile-server");
    let mut child = tokio::process::Command::new(server)
        .arg("--demo-users")
        .env("CASEFILE_ADDR", "127.0.0.1:0")
        .env("DATABASE_URL", url)
        .env("CASEFILE_DIST", dir.join("none"))
        .env("CASEFILE_WRITE_RATE", "0")
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("build the server first: cargo build --profile server -p casefile-server");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .await
        .expect("a first line");
    let addr = first
        .trim()
        .rsplit("http://")
        .next()
        .expect("an address")
        .to_string();
    (child, addr)
}

/// An API token for the demo supervisor.
async fn sign_in(addr: &str) -> String {
    let login = request(
        addr,
        "POST",
        "/api/v1/auth/login",
        "",
        r#"{"name":"sam","password":"casefile-demo"}"#,
    )
    .await;
    let cookie = login
        .head
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .and_then(|c| c.split(';').next())
        .expect("signed in")
        .to_string();
    let issued = request(
        addr,
        "POST",
        "/api/v1/auth/tokens",
        &format!("Cookie: {cookie}\r\n"),
        r#"{"label":"load","days":1}"#,
    )
    .await;
    let v: serde_json::Value = serde_json::from_str(&issued.body).expect("a token");
    v["token"].as_str().expect("a token").to_string()
}

fn batch(device: usize, b: usize) -> String {
    use casefile_core::event::{CaseFields, CasePatch, DomainEvent, EventData, EventHeader};
    let events: Vec<DomainEvent> = (0..PER_BATCH)
        .map(|k| {
            let n = (device * BATCHES + b) * PER_BATCH + k;
            let data = if b == 0 {
                EventData::CaseCreated(CaseFields::titled(format!("Load {device}-{k}")))
            } else {
                EventData::CaseUpdated(CasePatch {
                    title: Some(format!("Load {device}-{k}, change {b}")),
                    ..CasePatch::default()
                })
            };
            DomainEvent::new(
                EventHeader {
                    id: format!("{n:08x}-0000-4000-8000-000000000001"),
                    aggregate_id: format!("{device:08x}-{k:04x}-4000-8000-000000000002"),
                    node_id: format!("load-{device}"),
                    clock: (b * PER_BATCH + k + 1) as u64,
                    base_version: b as u64,
                    timestamp: 1_790_000_000_000,
                },
                &data,
            )
        })
        .collect();
    serde_json::json!({ "events": events }).to_string()
}

struct Run {
    events: usize,
    seconds: f64,
    push_ms: Vec<f64>,
    pull_ms: Vec<f64>,
}

/// 100 devices over `addrs`.
async fn drive(addrs: &[String], token: &str) -> Run {
    let started = Instant::now();
    let auth = format!("Authorization: Bearer {token}\r\n");
    let devices: Vec<_> = (0..DEVICES)
        .map(|d| {
            let addr = addrs[d % addrs.len()].clone();
            let auth = auth.clone();
            tokio::spawn(async move {
                let (mut pushes, mut pulls, mut applied, mut cursor) = (vec![], vec![], 0, 0i64);
                for b in 0..BATCHES {
                    if started.elapsed() > LIMIT {
                        break;
                    }
                    let t = Instant::now();
                    let r = request(&addr, "POST", "/api/v1/events", &auth, &batch(d, b)).await;
                    pushes.push(t.elapsed().as_secs_f64() * 1e3);
                    assert_eq!(r.status, 200, "{}", r.body);
                    applied += r.body.matches("\"applied\"").count();
                    let t = Instant::now();
                    let path = format!("/api/v1/events?after={cursor}&limit=1000");
                    let page = request(&addr, "GET", &path, &auth, "").await;
                    pulls.push(t.elapsed().as_secs_f64() * 1e3);
                    let v: serde_json::Value = serde_json::from_str(&page.body).expect("a page");
                    cursor = v["next_cursor"].as_i64().unwrap_or(cursor);
                }
                (pushes, pulls, applied)
            })
        })
        .collect();
    let mut run = Run {
        events: 0,
        seconds: 0.0,
        push_ms: vec![],
        pull_ms: vec![],
    };
    for d in devices {
        let (pushes, pulls, applied) = d.await.expect("a device");
        run.push_ms.extend(pushes);
        run.pull_ms.extend(pulls);
        run.events += applied;
    }
    run.seconds = started.elapsed().as_secs_f64();
    run
}

fn quantile(values: &mut [f64], q: f64) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values
        .get(((values.len() as f64 - 1.0) * q).round() as usize)
        .copied()
        .unwrap_or(f64::NAN)
}

/// A new database on the PostgreSQL server `admin` names.
async fn pg_database(admin: &str) -> String {
    let db = casefile_server::db::Db::connect(admin)
        .await
        .expect("PostgreSQL");
    let name = format!("cf_load_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE \"{name}\""))
        .execute(db.pool())
        .await
        .expect("CREATE DATABASE");
    let (base, query) = admin.split_once('?').unwrap_or((admin, ""));
    let root = base.rsplit_once('/').map_or(base, |(r, _)| r);
    match query {
        "" => format!("{root}/{name}"),
        q => format!("{root}/{name}?{q}"),
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let mut configs = vec![(
        "SQLite".to_string(),
        format!("sqlite:{}", dir.path().join("load.db").display()),
        1,
    )];
    match std::env::var("CASEFILE_BENCH_PG_URL") {
        Ok(admin) => {
            for n in 1..=3 {
                configs.push((format!("PostgreSQL ×{n}"), pg_database(&admin).await, n));
            }
        }
        Err(_) => eprintln!("(no CASEFILE_BENCH_PG_URL: PostgreSQL rows skipped)"),
    }
    println!(
        "load: {DEVICES} devices, each {BATCHES} pushes of {PER_BATCH} events and a pull after each"
    );
    println!(
        "{:<16} {:>9} {:>9} {:>10} {:>12} {:>12} {:>12} {:>12}",
        "server",
        "instances",
        "events",
        "events/s",
        "push p50 ms",
        "push p99 ms",
        "pull p50 ms",
        "pull p99 ms"
    );
    for (name, url, instances) in configs {
        let mut fleet = Vec::new();
        for _ in 0..instances {
            fleet.push(launch(&url, dir.path()).await);
        }
        let addrs: Vec<String> = fleet.iter().map(|(_, a)| a.clone()).collect();
        let token = sign_in(&addrs[0]).await;
        let mut run = drive(&addrs, &token).await;
        println!(
            "{:<16} {:>9} {:>9} {:>10.0} {:>12.1} {:>12.1} {:>12.1} {:>12.1}",
            name,
            instances,
            run.events,
            run.events as f64 / run.seconds,
            quantile(&mut run.push_ms, 0.5),
            quantile(&mut run.push_ms, 0.99),
            quantile(&mut run.pull_ms, 0.5),
            quantile(&mut run.pull_ms, 0.99),
        );
        for (mut child, _) in fleet {
            let _ = child.kill().await;
        }
    }
}
