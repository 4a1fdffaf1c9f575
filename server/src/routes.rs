//! The read side of the API (SPEC §2).

use crate::auth::SessionInfo;
use crate::db::{parse_cursor, CaseFilter};
use crate::error::ApiError;
use crate::AppState;
use axum::extract::{Extension, Path, Query, State};
use axum::Json;
use casefile_core::access::Role;
use casefile_core::api::MAX_NOTES_PAGE;
use casefile_core::api::{
    Case, CasePage, Dashboard, Health, Note, DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT,
};
use serde::Deserialize;

/// The server's build version, reported by `/api/v1/health`.
pub const BUILD_VERSION: &str = match option_env!("CASEFILE_BUILD") {
    Some(v) => v,
    None => env!("CARGO_PKG_VERSION"),
};

/// How many cases the dashboard lists as recently updated.
const DASHBOARD_RECENT: u32 = 8;
/// Longest search string accepted.
const MAX_QUERY_CHARS: usize = 200;

/// `GET /api/v1/health`.
#[utoipa::path(get, path = "/api/v1/health", tag = "meta", security(),
    responses((status = 200, description = "The server and its database answer", body = Health),
        crate::openapi::Errors))]
pub async fn health(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    state.db.ping().await?;
    Ok(Json(Health {
        status: "ok".into(),
        version: BUILD_VERSION.into(),
        database: state.db.backend().name().into(),
    }))
}

/// The list endpoint's query string, as text: each field is checked by hand
/// so a bad value gets a sentence that names it.
#[derive(Debug, Default, Deserialize)]
pub struct ListParams {
    status: Option<String>,
    priority: Option<String>,
    q: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

/// A page size: `default` when absent, else a whole number from 1 to
/// `max` (`limit=` is as wrong as `limit=x`).
pub(crate) fn page_limit(raw: Option<&str>, default: u32, max: u32) -> Result<u32, ApiError> {
    let Some(s) = raw else { return Ok(default) };
    s.parse::<u32>()
        .ok()
        .filter(|n| (1..=max).contains(n))
        .ok_or_else(|| {
            ApiError::invalid_query(format!(
                "limit must be a whole number from 1 to {max}, got `{s}`"
            ))
        })
}

fn non_empty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl ListParams {
    /// Checks every field and builds the database filter.
    pub fn into_filter(self) -> Result<CaseFilter, ApiError> {
        // An enum's value or nothing: `status=` names no state.
        let status = self
            .status
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(|e| ApiError::invalid_query(format!("status: {e}")))?;
        let priority = self
            .priority
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(|e| ApiError::invalid_query(format!("priority: {e}")))?;
        let limit = page_limit(self.limit.as_deref(), DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT)?;
        let q = non_empty(&self.q).map(str::to_string);
        if q.as_ref()
            .is_some_and(|q| q.chars().count() > MAX_QUERY_CHARS)
        {
            return Err(ApiError::invalid_query(format!(
                "q may be at most {MAX_QUERY_CHARS} characters"
            )));
        }
        let after = non_empty(&self.cursor)
            .map(|c| {
                parse_cursor(c)
                    .ok_or_else(|| ApiError::invalid_query("cursor is not one this server issued"))
            })
            .transpose()?;
        Ok(CaseFilter {
            status,
            priority,
            q,
            limit,
            after,
            teams: None,
        })
    }
}

/// `GET /api/v1/cases`.
#[utoipa::path(get, path = "/api/v1/cases", tag = "cases",
    params(
        ("status" = Option<casefile_core::api::CaseStatus>, Query, description = "Only cases in this state"),
        ("priority" = Option<casefile_core::api::Priority>, Query, description = "Only cases of this urgency"),
        ("q" = Option<String>, Query, max_length = 200, description = "Words in the title, description or tags"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 500, description = "Page size (default 50)"),
        ("cursor" = Option<String>, Query, description = "A `next_cursor` from an earlier page"),
    ),
    responses((status = 200, description = "One page of the cases the reader may see", body = CasePage),
        crate::openapi::Errors))]
pub async fn list_cases(
    State(state): State<AppState>,
    Extension(me): Extension<SessionInfo>,
    params: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<CasePage>, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::invalid_query(e.body_text()))?;
    let filter = CaseFilter {
        teams: Some(readable_teams(&me)),
        ..params.into_filter()?
    };
    Ok(Json(state.db.list_cases(&filter).await?))
}

fn case_id(raw: &str) -> Result<String, ApiError> {
    uuid::Uuid::parse_str(raw)
        .map(|u| u.to_string())
        .map_err(|_| {
            ApiError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "invalid_id",
                format!("`{raw}` is not a case id (a UUID)"),
            )
        })
}

/// The teams whose cases `me` may read (core's rule: their teams; none for
/// an administrator).
pub fn readable_teams(me: &SessionInfo) -> Vec<String> {
    if me.role == Role::Admin {
        Vec::new()
    } else {
        me.teams.clone()
    }
}

/// 404 unless `me` may read case `id` (a case they may not read does not
/// exist for them).
async fn readable(state: &AppState, me: &SessionInfo, id: &str) -> Result<(), ApiError> {
    let team = state.db.case_team(id).await?;
    if team.is_some_and(|t| readable_teams(me).contains(&t)) {
        Ok(())
    } else {
        Err(ApiError::not_found(format!("no case has id {id}")))
    }
}

/// `GET /api/v1/cases/{id}`.
#[utoipa::path(get, path = "/api/v1/cases/{id}", tag = "cases",
    params(("id" = String, Path, description = "The case's id (a UUID)")),
    responses((status = 200, description = "The case", body = Case), crate::openapi::Errors))]
pub async fn get_case(
    State(state): State<AppState>,
    Extension(me): Extension<SessionInfo>,
    Path(id): Path<String>,
) -> Result<Json<Case>, ApiError> {
    let id = case_id(&id)?;
    readable(&state, &me, &id).await?;
    state
        .db
        .get_case(&id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no case has id {id}")))
}

/// `GET /api/v1/cases/{id}/notes`'s query string.
#[derive(Debug, Default, Deserialize)]
pub struct NotesParams {
    limit: Option<String>,
    after: Option<String>,
}

/// `GET /api/v1/cases/{id}/notes`: a page of a case's notes, oldest first
/// (at most `limit`, default and most [`MAX_NOTES_PAGE`]); a full page
/// means there may be more after its last note (`after=created_at:id`).
/// 404 when the case does not exist.
#[utoipa::path(get, path = "/api/v1/cases/{id}/notes", tag = "cases",
    params(
        ("id" = String, Path, description = "The case's id (a UUID)"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 500, description = "Most notes (default 500)"),
        ("after" = Option<String>, Query, max_length = 100,
            description = "`created_at:id` of the last note of the page before"),
    ),
    responses((status = 200, description = "A page of the case's notes, oldest first", body = Vec<Note>),
        crate::openapi::Errors))]
pub async fn case_notes(
    State(state): State<AppState>,
    Extension(me): Extension<SessionInfo>,
    Path(id): Path<String>,
    params: Result<Query<NotesParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<Note>>, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::invalid_query(e.body_text()))?;
    let limit = page_limit(params.limit.as_deref(), MAX_NOTES_PAGE, MAX_NOTES_PAGE)?;
    let after = params
        .after
        .as_deref()
        .map(|c| {
            parse_cursor(c)
                .ok_or_else(|| ApiError::invalid_query("after must be `created_at:id` of a note"))
        })
        .transpose()?;
    let id = case_id(&id)?;
    readable(&state, &me, &id).await?;
    Ok(Json(state.db.notes_for(&id, after, limit).await?))
}

/// `GET /api/v1/dashboard`.
#[utoipa::path(get, path = "/api/v1/dashboard", tag = "cases",
    responses((status = 200, description = "Counts and recent cases of the reader's teams", body = Dashboard),
        crate::openapi::Errors))]
pub async fn dashboard(
    State(state): State<AppState>,
    Extension(me): Extension<SessionInfo>,
) -> Result<Json<Dashboard>, ApiError> {
    let teams = readable_teams(&me);
    Ok(Json(
        state.db.dashboard(DASHBOARD_RECENT, Some(&teams)).await?,
    ))
}

/// `GET /api/v1/people`: the enabled members of the reader's teams, by
/// name, each with their teams among the reader's (who a case can be
/// assigned to; the server checks it again at every assignment).
#[utoipa::path(get, path = "/api/v1/people", tag = "cases",
    responses((status = 200, description = "Who cases can be assigned to", body = Vec<casefile_core::api::Person>),
        crate::openapi::Errors))]
pub async fn people(
    State(state): State<AppState>,
    Extension(me): Extension<SessionInfo>,
) -> Result<Json<Vec<casefile_core::api::Person>>, ApiError> {
    let teams = readable_teams(&me);
    Ok(Json(state.db.people(&teams).await?))
}

/// `GET /api/v1/devices/{node}`: what the server received from one of the
/// reader's own devices (a device whose log was wiped asks about its old
/// node id). Another user's device, or one never seen, is 404.
#[utoipa::path(get, path = "/api/v1/devices/{node}", tag = "sync",
    params(("node" = String, Path, description = "The device's node id")),
    responses((status = 200, description = "What the server has from it", body = casefile_core::api::DeviceRecord),
        crate::openapi::Errors))]
pub async fn device(
    State(state): State<AppState>,
    Extension(me): Extension<SessionInfo>,
    Path(node): Path<String>,
) -> Result<Json<casefile_core::api::DeviceRecord>, ApiError> {
    if node.is_empty() || node.len() > 64 {
        return Err(ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "bad_request",
            "a node id is 1–64 characters",
        ));
    }
    match state.db.device_record(&node, &me.user).await? {
        Some(record) => Ok(Json(record)),
        None => Err(ApiError::not_found("no such device of yours")),
    }
}

/// Any other path under `/api/`.
pub async fn api_not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!("no API route for {}", uri.path()))
}
