//! The server as a process: configuration from the environment, the SQLite
//! file created on start, seeding, and a clean exit on SIGTERM.
#![cfg(unix)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One HTTP/1.1 request over a new connection; the whole answer as text.
fn http(addr: &str, head: &str, body: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "{head}\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    stream.read_to_string(&mut out).unwrap();
    out
}

/// The server binary on a free port with its database at `db_file`, its
/// environment (the test's, minus `CASEFILE_FAULTS`) plus `env`; the child
/// and its address once it listens.
fn start(
    db_file: &std::path::Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> (std::process::Child, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_casefile-server"));
    command
        .args(args)
        .env_remove("CASEFILE_FAULTS")
        .env("CASEFILE_ADDR", "127.0.0.1:0")
        .env("DATABASE_URL", format!("sqlite:{}", db_file.display()))
        .env("CASEFILE_DIST", db_file.with_file_name("no-dist"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("casefile-server listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line: {line}"))
        .to_string();
    (child, addr)
}

#[test]
fn fault_injection_answers_only_when_the_environment_says_1() {
    let dir = tempfile::tempdir().unwrap();
    for (value, on) in [
        (None, false),
        (Some("0"), false),
        (Some("true"), false),
        (Some("1"), true),
    ] {
        let db_file = dir.path().join(format!("{value:?}.db"));
        let env: Vec<(&str, &str)> = value.map(|v| ("CASEFILE_FAULTS", v)).into_iter().collect();
        let (mut child, addr) = start(&db_file, &[], &env);
        let reply = http(&addr, "GET /api/v1/_faults HTTP/1.1", "");
        let want = if on { "HTTP/1.1 200" } else { "HTTP/1.1 404" };
        assert!(
            reply.starts_with(want),
            "CASEFILE_FAULTS={value:?}: {reply}"
        );
        child.kill().unwrap();
        child.wait().unwrap();
    }
}

#[test]
fn starts_from_env_seeds_serves_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let db_file = dir.path().join("nested/data/casefile.db");
    let (mut child, addr) = start(&db_file, &["--seed", "12", "--demo-users"], &[]);
    assert!(
        db_file.is_file(),
        "the SQLite file and its folders are created"
    );

    let reply = http(&addr, "GET /api/v1/cases?limit=1 HTTP/1.1", "");
    assert!(reply.starts_with("HTTP/1.1 401"), "no session: {reply}");
    // The demo supervisor signs in and sees the seeded cases of both teams.
    let login = http(
        &addr,
        &format!(
            "POST /api/v1/auth/login HTTP/1.1\r\nOrigin: http://{addr}\r\nX-Casefile: 1\r\nContent-Type: application/json"
        ),
        r#"{"name":"sam","password":"casefile-demo"}"#,
    );
    assert!(login.starts_with("HTTP/1.1 200"), "{login}");
    let cookie = login
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_string();
    let reply = http(
        &addr,
        &format!("GET /api/v1/cases?limit=1 HTTP/1.1\r\nCookie: {cookie}"),
        "",
    );
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.contains("\"total\":12"), "seeded: {reply}");

    send_sigterm(child.id());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "did not stop");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "exit status {status}");
}

#[test]
fn a_bad_database_url_is_a_clear_error_and_a_failing_exit() {
    let out = Command::new(env!("CARGO_BIN_EXE_casefile-server"))
        .args([
            "--database-url",
            "mysql://nowhere/db",
            "--addr",
            "127.0.0.1:0",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("DATABASE_URL must start with sqlite:"),
        "{stderr}"
    );
}

fn send_sigterm(pid: u32) {
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// `casefile-server backup PATH` copies a live SQLite database; a server
/// started on the copy serves the same cases.
#[test]
fn a_backup_of_a_live_database_restores_to_the_same_cases() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live.db");
    let copy = dir.path().join("copy.db");
    let serve_on = |file: &std::path::Path| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_casefile-server"))
            .args(["--seed", "25", "--demo-users"])
            .env("CASEFILE_ADDR", "127.0.0.1:0")
            .env("DATABASE_URL", format!("sqlite:{}", file.display()))
            .env("CASEFILE_DIST", dir.path().join("no-dist"))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("casefile-server listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line: {line}"))
            .to_string();
        (child, addr)
    };
    let cases_at = |addr: &str| {
        let login = http(
            addr,
            &format!(
                "POST /api/v1/auth/login HTTP/1.1\r\nOrigin: http://{addr}\r\nX-Casefile: 1\r\nContent-Type: application/json"
            ),
            r#"{"name":"sam","password":"casefile-demo"}"#,
        );
        let cookie = login
            .lines()
            .find_map(|l| l.strip_prefix("set-cookie: "))
            .and_then(|c| c.split(';').next())
            .expect("a session cookie")
            .to_string();
        let reply = http(
            addr,
            &format!("GET /api/v1/cases?limit=100 HTTP/1.1\r\nCookie: {cookie}"),
            "",
        );
        reply.split_once("\r\n\r\n").unwrap().1.to_string()
    };
    // The live server keeps serving while the backup is taken.
    let (mut server, addr) = serve_on(&live);
    let before = cases_at(&addr);
    let out = Command::new(env!("CARGO_BIN_EXE_casefile-server"))
        .args(["backup", copy.to_str().unwrap()])
        .env("DATABASE_URL", format!("sqlite:{}", live.display()))
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(cases_at(&addr).contains("\"total\":25"), "still serving");
    server.kill().unwrap();
    let _ = server.wait();
    // A second backup to the same file is refused, not overwritten.
    let again = Command::new(env!("CARGO_BIN_EXE_casefile-server"))
        .args(["backup", copy.to_str().unwrap()])
        .env("DATABASE_URL", format!("sqlite:{}", live.display()))
        .output()
        .unwrap();
    assert!(!again.status.success());
    let (mut restored, addr) = serve_on(&copy);
    let after = cases_at(&addr);
    restored.kill().unwrap();
    let _ = restored.wait();
    assert!(after.contains("\"total\":25"), "{after}");
    // The same cases (the lists are ordered the same way).
    let ids = |page: &str| -> Vec<String> {
        let v: serde_json::Value = serde_json::from_str(page).unwrap();
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(&before), ids(&after));
}
