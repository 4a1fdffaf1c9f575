//! `GET /api/v1/live`: a WebSocket that tells clients the latest event
//! cursor, on connect and after every commit, so they pull at once instead of
//! waiting for their periodic pull. Notices carry no data, and a reader
//! hears only of commits that touched a case of one of their teams (SPEC §10:
//! another team's activity is not theirs to see, not even its timing).

use crate::AppState;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use casefile_core::api::LiveNotice;
use sqlx::Row;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// How often the server pings an idle socket, so dead peers are noticed and
/// proxies keep the connection open.
pub const HEARTBEAT: Duration = Duration::from_secs(25);
/// Notices kept for slow sockets before they are told the latest instead.
pub const BACKLOG: usize = 64;

async fn latest(state: &AppState) -> i64 {
    let row = sqlx::query("SELECT COALESCE(MAX(seq), 0) AS n FROM events")
        .fetch_one(state.db.pool())
        .await;
    row.and_then(|r| r.try_get("n")).unwrap_or(0)
}

async fn notify(socket: &mut WebSocket, cursor: i64) -> bool {
    let text = serde_json::to_string(&LiveNotice { cursor }).expect("notices encode");
    socket.send(Message::Text(text.into())).await.is_ok()
}

/// A commit, as the sockets hear of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    /// The latest cursor after it.
    pub cursor: i64,
    /// The teams of the cases it changed.
    pub teams: Arc<[String]>,
}

impl Commit {
    /// Whether a reader of `readable` teams may hear of it.
    pub fn concerns(&self, readable: &[String]) -> bool {
        self.teams
            .iter()
            .any(|t| t == EVERY_TEAM || readable.contains(t))
    }

    /// The text a PostgreSQL notice carries (well under its 8,000-byte
    /// limit: team ids are short and a batch touches few teams).
    pub fn payload(from: u64, cursor: i64, teams: &[String]) -> String {
        serde_json::json!({ "from": from.to_string(), "cursor": cursor, "teams": teams })
            .to_string()
    }

    /// A notice's payload read back, with the instance that sent it
    /// (`None`: not one of ours).
    pub fn from_payload(text: &str) -> Option<(u64, Commit)> {
        #[derive(serde::Deserialize)]
        struct Wire {
            from: String,
            cursor: i64,
            teams: Vec<String>,
        }
        let w: Wire = serde_json::from_str(text).ok()?;
        Some((
            w.from.parse().ok()?,
            Commit {
                cursor: w.cursor,
                teams: w.teams.into(),
            },
        ))
    }
}

/// The PostgreSQL channel commits are announced on.
pub const CHANNEL: &str = "casefile_commits";
/// A commit whose teams are not known (notices were missed): everyone is
/// told; their pull shows only what they may read.
const EVERY_TEAM: &str = "*";

/// On PostgreSQL: hears the other instances' commits and passes them to
/// this instance's sockets (its own commits it tells them itself). The
/// notice is sent inside the committing transaction, so it arrives only for
/// what committed. After a lost connection, which may have lost notices,
/// every socket is told the latest cursor.
pub async fn listen(state: AppState) {
    let mut listener = loop {
        match sqlx::postgres::PgListener::connect(state.db.url()).await {
            Ok(mut l) => match l.listen(CHANNEL).await {
                Ok(()) => break l,
                Err(e) => tracing::warn!(error = %e, "cannot LISTEN; retrying"),
            },
            Err(e) => tracing::warn!(error = %e, "cannot open the listener; retrying"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    loop {
        match listener.try_recv().await {
            Ok(Some(n)) => match Commit::from_payload(n.payload()) {
                Some((from, commit)) if from != state.db.instance() => {
                    let _ = state.live.send(commit);
                }
                _ => {}
            },
            // Reconnected (notices may be lost) or failed: tell everyone.
            Ok(None) | Err(_) => {
                let _ = state.live.send(Commit {
                    cursor: latest(&state).await,
                    teams: vec![EVERY_TEAM.to_string()].into(),
                });
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

/// Largest message a client may send (its heartbeat is 4 bytes).
pub const MAX_MESSAGE: usize = 1024;

/// The upgrade (the gate has checked the session and the origin).
pub async fn live(
    ws: WebSocketUpgrade,
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
) -> Response {
    // A place among the open sockets, or 503: the client's reconnect backs
    // off and its periodic pull goes on meanwhile.
    let Ok(place) = state.live_sockets.clone().try_acquire_owned() else {
        return crate::error::ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "too_many_sockets",
            "Too many live connections; pulls go on, try again later.",
        )
        .into_response();
    };
    ws.max_message_size(MAX_MESSAGE)
        .max_frame_size(MAX_MESSAGE)
        .on_upgrade(move |socket| async move {
            serve(socket, state, headers).await;
            drop(place);
        })
}

/// Live sockets open at once, per instance.
pub const MAX_SOCKETS: usize = 2048;

/// The teams the socket's reader may read while the credentials it was
/// opened with still hold; `None` once they do not.
async fn still_signed_in(state: &AppState, headers: &axum::http::HeaderMap) -> Option<Vec<String>> {
    match crate::auth::credentials_of(state, headers).await {
        Ok(Some(me)) => Some(crate::routes::readable_teams(&me)),
        _ => None,
    }
}

async fn serve(mut socket: WebSocket, state: AppState, headers: axum::http::HeaderMap) {
    let mut commits = state.live.subscribe();
    let Some(mut readable) = still_signed_in(&state, &headers).await else {
        let _ = socket.send(Message::Close(None)).await;
        return;
    };
    if !notify(&mut socket, latest(&state).await).await {
        return;
    }
    let mut heartbeat = tokio::time::interval(state.live_heartbeat);
    heartbeat.tick().await;
    // A peer that answers neither pings nor anything else for two
    // heartbeats is gone (or hostile): its socket closes.
    let mut last_heard = tokio::time::Instant::now();
    loop {
        tokio::select! {
            commit = commits.recv() => {
                let cursor = match commit {
                    Ok(commit) if commit.concerns(&readable) => commit.cursor,
                    Ok(_) => continue,
                    // Missed some: the latest one says it all.
                    Err(RecvError::Lagged(_)) => latest(&state).await,
                    Err(RecvError::Closed) => break,
                };
                if !notify(&mut socket, cursor).await {
                    break;
                }
            }
            _ = heartbeat.tick() => {
                // A session that ended (signed out, expired, disabled, a
                // revoked token) ends its sockets within a heartbeat.
                if last_heard.elapsed() > state.live_heartbeat * 2 {
                    let _ = socket.send(Message::Close(None)).await;
                    break;
                }
                // Team changes take effect here too.
                match still_signed_in(&state, &headers).await {
                    Some(teams) => readable = teams,
                    None => {
                        let _ = socket.send(Message::Close(None)).await;
                        break;
                    }
                }
                if socket.send(Message::Ping(Vec::new().into())).await.is_err() {
                    break;
                }
            }
            incoming = socket.recv() => {
                if matches!(incoming, Some(Ok(_))) {
                    last_heard = tokio::time::Instant::now();
                }
                match incoming {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
                    // The client's own heartbeat.
                    Some(Ok(Message::Text(t))) if t.as_str() == "ping" => {
                        if socket.send(Message::Text("pong".into())).await.is_err() {
                            break;
                        }
                    }
                    Some(Ok(_)) => {}
                }
            }
        }
    }
}
