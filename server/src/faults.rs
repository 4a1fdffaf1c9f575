//! Fault injection for tests: only when `CASEFILE_FAULTS=1`, never by default.
//!
//! `PUT /api/v1/_faults` with a JSON list of rules replaces the rules;
//! `GET` shows them and every request they answered (path and time);
//! `DELETE` clears both. A rule answers requests whose path starts with
//! `path` (and whose method matches, if given) with `status` after
//! `delay_ms`, `times` times or until cleared. With `body`, the answer is that
//! body as it is (HTML, broken JSON, nothing, the wrong shape) with
//! `content_type`, instead of the error envelope. With `after_commit`, the
//! request is carried out first and its answer thrown away: the client gets
//! `status` for a write the server did keep (a response lost after commit).

use crate::error::ApiError;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// One fault.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    /// Requests whose path starts with this.
    pub path: String,
    /// Only this method (any when absent).
    #[serde(default)]
    pub method: Option<String>,
    /// Answer with this status (pass through after the delay when absent).
    #[serde(default)]
    pub status: Option<u16>,
    /// Wait this long first.
    #[serde(default)]
    pub delay_ms: u64,
    /// How many requests it applies to (all until cleared when absent).
    #[serde(default)]
    pub times: Option<u32>,
    /// Answer with exactly this body (needs `status`).
    #[serde(default)]
    pub body: Option<String>,
    /// The body's content type (default `application/json`).
    #[serde(default)]
    pub content_type: Option<String>,
    /// Carry the request out first, then answer `status` instead of its
    /// real answer (needs `status`).
    #[serde(default)]
    pub after_commit: bool,
    /// Only requests a page of this user sends (its `X-Casefile-User`
    /// header): one person's device cut off while the others work.
    #[serde(default)]
    pub user: Option<String>,
}

/// A request a rule applied to.
#[derive(Debug, Clone, Serialize)]
pub struct FaultHit {
    /// Its path.
    pub path: String,
    /// When it arrived (ms since the epoch).
    pub at_ms: u64,
}

#[derive(Debug, Default, Serialize)]
struct Table {
    rules: Vec<FaultRule>,
    hits: Vec<FaultHit>,
}

/// The rules and the record of what they did.
#[derive(Debug, Default)]
pub struct Faults(Mutex<Table>);

impl Faults {
    fn take(&self, method: &str, path: &str, user: Option<&str>) -> Option<FaultRule> {
        let mut table = self.0.lock().expect("fault table poisoned");
        let index = table.rules.iter().position(|r| {
            path.starts_with(&r.path)
                && r.user.as_deref().is_none_or(|u| Some(u) == user)
                && r.method
                    .as_deref()
                    .is_none_or(|m| m.eq_ignore_ascii_case(method))
                && r.times != Some(0)
        })?;
        let rule = &mut table.rules[index];
        if let Some(times) = rule.times.as_mut() {
            *times -= 1;
        }
        let rule = rule.clone();
        let at_ms = casefile_core::retry::system_time_ms(SystemTime::now());
        table.hits.push(FaultHit {
            path: path.to_string(),
            at_ms,
        });
        Some(rule)
    }
}

/// Middleware: applies the first matching rule.
pub async fn inject(State(faults): State<Arc<Faults>>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    if path.starts_with("/api/v1/_faults") {
        return next.run(req).await;
    }
    let user = req
        .headers()
        .get(casefile_core::queue::USER_HEADER)
        .and_then(|v| v.to_str().ok());
    let Some(rule) = faults.take(req.method().as_str(), &path, user) else {
        return next.run(req).await;
    };
    if rule.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(rule.delay_ms)).await;
    }
    if rule.after_commit && rule.status.is_some() {
        // The real answer is dropped on the floor, as a proxy losing it would.
        drop(next.run(req).await);
        return fault_answer(rule.status, rule.body, rule.content_type.as_deref())
            .unwrap_or_else(|| StatusCode::BAD_GATEWAY.into_response());
    }
    match fault_answer(rule.status, rule.body, rule.content_type.as_deref()) {
        Some(answer) => answer,
        None => next.run(req).await,
    }
}

/// The answer a rule gives in place of the real one (none: pass through).
fn fault_answer(status: Option<u16>, body: Option<String>, kind: Option<&str>) -> Option<Response> {
    match (status.and_then(|s| StatusCode::from_u16(s).ok()), body) {
        (Some(status), Some(body)) => {
            let kind = kind.unwrap_or("application/json");
            Some(
                (
                    status,
                    [(axum::http::header::CONTENT_TYPE, kind.to_string())],
                    body,
                )
                    .into_response(),
            )
        }
        (Some(status), None) => Some(
            ApiError::new(status, "injected_fault", "fault injected for a test").into_response(),
        ),
        (None, _) => None,
    }
}

/// `GET /api/v1/_faults`.
pub async fn show(State(faults): State<Arc<Faults>>) -> Response {
    let table = faults.0.lock().expect("fault table poisoned");
    Json(&*table).into_response()
}

/// `PUT /api/v1/_faults`.
pub async fn replace(
    State(faults): State<Arc<Faults>>,
    rules: Result<Json<Vec<FaultRule>>, axum::extract::rejection::JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let Json(rules) = rules
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_faults", e.body_text()))?;
    let mut table = faults.0.lock().expect("fault table poisoned");
    table.rules = rules;
    table.hits.clear();
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/_faults`.
pub async fn clear(State(faults): State<Arc<Faults>>) -> StatusCode {
    *faults.0.lock().expect("fault table poisoned") = Table::default();
    StatusCode::NO_CONTENT
}
