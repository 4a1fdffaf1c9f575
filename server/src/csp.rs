//! Content-Security-Policy violation reports (`report-uri`): each one is
//! logged, counted in `/metrics`, and the latest are listed at
//! `GET /api/v1/csp-reports`, so a violation in the field is seen, not lost.

use crate::error::ApiError;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use std::sync::Mutex;

/// Largest report body accepted.
pub const REPORT_LIMIT: usize = 16 * 1024;
/// How many recent reports are kept.
const KEEP: usize = 50;

/// The reports received since start-up.
#[derive(Debug, Default)]
pub struct CspReports(Mutex<Listing>);

/// `GET /api/v1/csp-reports`.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Listing {
    /// How many reports arrived.
    pub count: u64,
    /// The latest, newest last: "directive blocked-uri on document".
    pub recent: Vec<String>,
}

/// A report in one line, from the `application/csp-report` body.
fn summary(body: &serde_json::Value) -> Option<String> {
    let r = body.get("csp-report")?.as_object()?;
    let field = |k: &str| r.get(k).and_then(|v| v.as_str()).unwrap_or("?").to_string();
    let directive = r
        .get("effective-directive")
        .or_else(|| r.get("violated-directive"))
        .and_then(|v| v.as_str())
        .unwrap_or("?");
    Some(format!(
        "{directive} blocked {} on {}",
        field("blocked-uri"),
        field("document-uri")
    ))
}

/// `POST /api/v1/csp-reports`: a browser's report. Anything that is not a
/// report gets the 400 envelope and is not counted.
pub async fn receive(State(state): State<AppState>, body: Bytes) -> Result<StatusCode, ApiError> {
    let line = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .as_ref()
        .and_then(summary)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_report",
                "expected a CSP report: {\"csp-report\": {...}}",
            )
        })?;
    tracing::warn!(report = %line, "CSP violation reported");
    state.metrics.csp_report();
    let mut listing = state.csp.0.lock().expect("csp reports poisoned");
    listing.count += 1;
    listing.recent.push(line);
    let excess = listing.recent.len().saturating_sub(KEEP);
    listing.recent.drain(..excess);
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/csp-reports`: the count and the latest reports.
pub async fn list(State(state): State<AppState>) -> Json<Listing> {
    Json(state.csp.0.lock().expect("csp reports poisoned").clone())
}
