//! `GET /api/v1/live`: a WebSocket that tells clients the latest event
//! cursor, on connect and after every commit, so they pull at once instead of
//! waiting for their periodic pull. Notices carry no data, and a reader
//! hears only of commits that touched a case of one of their teams (SPEC §10:
//! another team's activity is not theirs to see, not even its timing).

use crate::AppState;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
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
        self.teams.iter().any(|t| readable.contains(t))
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
    ws.max_message_size(MAX_MESSAGE)
        .max_frame_size(MAX_MESSAGE)
        .on_upgrade(move |socket| serve(socket, state, headers))
}

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
            incoming = socket.recv() => match incoming {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
                // The client's own heartbeat.
                Some(Ok(Message::Text(t))) if t.as_str() == "ping" => {
                    if socket.send(Message::Text("pong".into())).await.is_err() {
                        break;
                    }
                }
                Some(Ok(_)) => {}
            },
        }
    }
}
