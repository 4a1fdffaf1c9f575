//! Identity (SPEC §10): users, teams, server-side sessions in a cookie, and
//! sign-in with Argon2id passwords.
//!
//! - A session id is 32 random bytes from the operating system, sent only in
//!   an `HttpOnly`, `SameSite=Strict`, `Path=/` cookie (`__Host-casefile`
//!   with `Secure` when the public origin is https; `casefile_session` on
//!   plain-HTTP development origins, where browsers refuse `__Host-`). The
//!   database keeps its BLAKE3 hash, so a copy of the table signs nobody in.
//!   A new id at every sign-in; sign-out deletes the row.
//! - Lifetimes are core's [`SessionLimits`]: idle (default 8 h, sliding) and
//!   absolute (default 7 days). The clock is the state's, so tests inject it.
//! - Passwords are hashed and checked with `password-auth` (Argon2id) on the
//!   blocking pool. An unknown name is checked against a dummy hash, so it
//!   costs the same time as a wrong password and gets the same answer.
//! - Failed sign-ins slow down per name and per client address (core's
//!   [`Throttle`]): 429 with `Retry-After`. Every attempt is logged.

use crate::error::ApiError;
use crate::AppState;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use casefile_core::access::Role;
use casefile_core::api::Settings;
use casefile_core::signin::{session_ends, SessionLimits, Throttle};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{LazyLock, Mutex};

/// The session cookie's name on an https origin.
pub const SECURE_COOKIE: &str = "__Host-casefile";
/// The session cookie's name on a plain-HTTP development origin.
pub const DEV_COOKIE: &str = "casefile_session";
/// Longest user name.
pub const NAME_MAX: usize = 64;
/// Longest password accepted (Argon2 hashes any length; this bounds the work).
pub const PASSWORD_MAX: usize = 256;
/// Shortest password a new user may have.
pub const PASSWORD_MIN: usize = 10;
/// Most throttle entries kept (oldest dropped beyond): memory is bounded.
const THROTTLE_KEYS_MAX: usize = 100_000;
/// A session's last use is written at most this often (ms).
const TOUCH_EVERY_MS: i64 = 60_000;

/// Session settings.
#[derive(Debug, Clone, Default)]
pub struct AuthConfig {
    /// Idle timeout and absolute lifetime.
    pub limits: SessionLimits,
    /// The public origin is https: `__Host-` and `Secure`.
    pub secure: bool,
    /// The origin pages of this server have, when configured (behind a
    /// proxy); otherwise `http://` and the request's `Host`.
    pub public_origin: Option<String>,
    /// Host names accepted besides loopback ones (lower-case, no port).
    pub allowed_hosts: Vec<String>,
    /// The app's API origins (`--api-origins`): pages of any of them may
    /// call this server.
    pub api_origins: Vec<String>,
    /// How pages choose among them (`--api-balance`).
    pub api_balance: String,
}

impl AuthConfig {
    /// The cookie's name.
    pub fn cookie_name(&self) -> &'static str {
        if self.secure {
            SECURE_COOKIE
        } else {
            DEV_COOKIE
        }
    }

    fn cookie(&self, value: &str, max_age_s: i64) -> HeaderValue {
        let secure = if self.secure { "; Secure" } else { "" };
        let text = format!(
            "{}={value}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age_s}{secure}",
            self.cookie_name()
        );
        HeaderValue::from_str(&text).expect("cookie text is ASCII")
    }
}

/// How a client address's throttle key begins.
const ADDRESS_KEY: &str = "addr:";

/// The failed sign-ins, per name and per address.
#[derive(Default)]
pub struct Throttles {
    by_key: Mutex<HashMap<String, Throttle>>,
}

impl Throttles {
    fn wait_ms(&self, keys: &[String], now: i64) -> i64 {
        let map = self.by_key.lock().expect("throttle lock");
        keys.iter()
            .filter_map(|k| map.get(k))
            .map(|t| t.wait_ms(now))
            .max()
            .unwrap_or(0)
    }

    fn failed(&self, keys: &[String], now: i64) {
        let mut map = self.by_key.lock().expect("throttle lock");
        if map.len() >= THROTTLE_KEYS_MAX {
            map.retain(|_, t| t.wait_ms(now) > 0);
        }
        for k in keys {
            map.entry(k.clone())
                .or_insert_with(|| {
                    if k.starts_with(ADDRESS_KEY) {
                        Throttle::for_address()
                    } else {
                        Throttle::default()
                    }
                })
                .failed(now);
        }
    }

    fn succeeded(&self, name_key: &str) {
        self.by_key.lock().expect("throttle lock").remove(name_key);
    }
}

pub use casefile_core::api::SessionInfo;

/// One of a user's sessions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SessionRow {
    /// Its id (the hash of the secret, never the secret).
    pub id: String,
    /// When it began (ms).
    pub created_at: i64,
    /// When it was last used (ms, to the minute).
    pub last_seen: i64,
    /// The browser that began it.
    pub user_agent: String,
    /// This is the session asking.
    pub current: bool,
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn token_hash(token: &str) -> String {
    blake3::hash(token.as_bytes()).to_hex().to_string()
}

/// Hashes a password with Argon2id on the blocking pool.
pub async fn hash_password(password: String) -> String {
    tokio::task::spawn_blocking(move || password_auth::generate_hash(password))
        .await
        .expect("hashing does not panic")
}

/// What unknown names are checked against, so they cost what a wrong
/// password costs.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| password_auth::generate_hash("casefile dummy password"));

async fn password_matches(password: String, hash: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| DUMMY_HASH.clone());
        password_auth::verify_password(password, &hash).is_ok() && known
    })
    .await
    .unwrap_or(false)
}

/// Why a user could not be made.
fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_input", message)
}

/// Checks a new user's name and password.
pub fn check_new_user(name: &str, password: &str) -> Result<(), ApiError> {
    let name_ok = !name.is_empty()
        && name.len() <= NAME_MAX
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if !name_ok {
        return Err(bad_request(format!(
            "a user name is 1–{NAME_MAX} letters, digits, dots, dashes or underscores"
        )));
    }
    let chars = password.chars().count();
    if !(PASSWORD_MIN..=PASSWORD_MAX).contains(&chars) {
        return Err(bad_request(format!(
            "a password is {PASSWORD_MIN}–{PASSWORD_MAX} characters"
        )));
    }
    Ok(())
}

/// Creates a user (and their password hash); `teams` are team names, made
/// when missing.
pub async fn create_user(
    state: &AppState,
    name: &str,
    display_name: &str,
    role: Role,
    password: &str,
    teams: &[&str],
) -> Result<(), ApiError> {
    check_new_user(name, password)?;
    let hash = hash_password(password.to_string()).await;
    let now = state.now();
    let pool = state.db.pool();
    // One statement, so two instances creating one user at once cannot
    // both pass a check: the second finds it made.
    let made = sqlx::query(
        "INSERT INTO users (name, display_name, role, password_hash, disabled, created_at) \
         VALUES ($1, $2, $3, $4, 0, $5) ON CONFLICT (name) DO NOTHING",
    )
    .bind(name)
    .bind(display_name.chars().take(100).collect::<String>())
    .bind(role.as_str())
    .bind(hash)
    .bind(now)
    .execute(pool)
    .await?
    .rows_affected();
    if made == 0 {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "user_exists",
            format!("a user named {name} exists"),
        ));
    }
    for team in teams {
        add_member(state, team, name).await?;
    }
    Ok(())
}

/// Puts `user` in the team named `team` (made when missing).
pub async fn add_member(state: &AppState, team: &str, user: &str) -> Result<(), ApiError> {
    change_member(state, team, user, true).await
}

/// Puts `user` in `team` (`join`) or takes them out, and records the
/// access change for each of the team's cases in the same transaction.
pub async fn change_member(
    state: &AppState,
    team: &str,
    user: &str,
    join: bool,
) -> Result<(), ApiError> {
    let now = state.now();
    let (_turn, mut tx) = crate::events::log_turn(&state.db).await?;
    let changed = if join {
        sqlx::query(
            "INSERT INTO teams (id, created_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
        )
        .bind(team)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO team_members (team_id, user_name) VALUES ($1, $2) \
             ON CONFLICT (team_id, user_name) DO NOTHING",
        )
        .bind(team)
        .bind(user)
        .execute(&mut *tx)
        .await?
    } else {
        sqlx::query("DELETE FROM team_members WHERE team_id = $1 AND user_name = $2")
            .bind(team)
            .bind(user)
            .execute(&mut *tx)
            .await?
    }
    .rows_affected()
        > 0;
    if changed {
        let cases = case_ids(&mut tx, "SELECT id FROM cases WHERE team_id = $1", team).await?;
        crate::db::record_access(&mut tx, &[user.to_string()], &cases, now).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Ends every session of `user` but `except` (a session id hash).
pub async fn end_sessions(
    state: &AppState,
    user: &str,
    except: Option<&str>,
) -> Result<u64, ApiError> {
    let done = sqlx::query("DELETE FROM sessions WHERE user_name = $1 AND id_hash <> $2")
        .bind(user)
        .bind(except.unwrap_or(""))
        .execute(state.db.pool())
        .await?;
    Ok(done.rows_affected())
}

fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The signed-in user of a request, from its session cookie; the session's
/// last use moves (sliding expiry). `None`: no live session.
pub async fn session_of(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<SessionInfo>, ApiError> {
    match cookie_value(headers, state.auth.cookie_name()) {
        Some(token) => session_by_token(state, token).await,
        None => Ok(None),
    }
}

/// The live session whose secret is `token` (sliding its last use).
async fn session_by_token(state: &AppState, token: &str) -> Result<Option<SessionInfo>, ApiError> {
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let id = token_hash(token);
    let pool = state.db.pool();
    let row = sqlx::query(
        "SELECT s.user_name, s.created_at, s.last_seen, u.display_name, u.role, u.disabled \
         FROM sessions s JOIN users u ON u.name = s.user_name WHERE s.id_hash = $1",
    )
    .bind(&id)
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let now = state.now();
    let limits = state.auth.limits;
    let created_at: i64 = row.try_get("created_at")?;
    let mut last_seen: i64 = row.try_get("last_seen")?;
    let disabled: i64 = row.try_get("disabled")?;
    if disabled != 0 || now >= session_ends(limits, created_at, last_seen) {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(&id)
            .execute(pool)
            .await?;
        return Ok(None);
    }
    if now - last_seen >= TOUCH_EVERY_MS || now < last_seen {
        last_seen = now;
        sqlx::query("UPDATE sessions SET last_seen = $1 WHERE id_hash = $2")
            .bind(now)
            .bind(&id)
            .execute(pool)
            .await?;
    }
    let user: String = row.try_get("user_name")?;
    let role = Role::parse(&row.try_get::<String, _>("role")?).unwrap_or(Role::Caseworker);
    let teams = teams_of(pool, &user).await?;
    Ok(Some(SessionInfo {
        display_name: row.try_get("display_name")?,
        user,
        role,
        teams,
        idle_expires_at: session_ends(
            SessionLimits {
                lifetime_ms: i64::MAX / 2,
                ..limits
            },
            created_at,
            last_seen,
        ),
        expires_at: created_at.saturating_add(limits.lifetime_ms),
        session: id,
        shared_devices: false,
    }))
}

/// The teams `user` belongs to, by id.
pub async fn teams_of(pool: &sqlx::AnyPool, user: &str) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query("SELECT team_id FROM team_members WHERE user_name = $1 ORDER BY team_id")
        .bind(user)
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| r.try_get::<String, _>("team_id"))
        .collect()
}

fn unauthorized() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "Sign in to continue.",
    )
}

/// `POST /api/v1/auth/login`'s body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    /// Sign-in name.
    pub name: String,
    /// Password.
    pub password: String,
}

/// `POST /api/v1/auth/login`: a new session in the cookie, or 401 (the same
/// answer for an unknown name and a wrong password), or 429 while failures
/// for the name or the address wait out their delay.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", security(),
    request_body = Login,
    responses((status = 200, description = "Signed in: the session is in the cookie", body = SessionInfo),
        crate::openapi::Errors))]
pub async fn login(
    State(state): State<AppState>,
    extensions: axum::http::Extensions,
    headers: HeaderMap,
    Json(login): Json<Login>,
) -> Result<Response, ApiError> {
    let now = state.now();
    let client: Option<IpAddr> = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let name: String = login.name.chars().take(NAME_MAX + 1).collect();
    let name_key = format!("name:{}", name.to_lowercase());
    let keys = [name_key.clone(), format!("{ADDRESS_KEY}{client:?}")];
    let wait = state.throttles.wait_ms(&keys, now);
    if wait > 0 {
        let seconds = (wait + 999) / 1000;
        tracing::warn!(user = %name, ?client, seconds, "sign-in throttled");
        let mut res = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many failed sign-ins; try again in {seconds} s"),
        )
        .into_response();
        res.headers_mut()
            .insert("retry-after", HeaderValue::from(seconds));
        return Ok(res);
    }
    let row = sqlx::query("SELECT password_hash, disabled FROM users WHERE name = $1")
        .bind(&name)
        .fetch_optional(state.db.pool())
        .await?;
    let (hash, disabled) = match &row {
        Some(r) => (
            Some(r.try_get::<String, _>("password_hash")?),
            r.try_get::<i64, _>("disabled")? != 0,
        ),
        None => (None, false),
    };
    let long = login.password.len() > PASSWORD_MAX * 4;
    let ok = !long && password_matches(login.password, hash).await && !disabled;
    if !ok {
        state.throttles.failed(&keys, now);
        tracing::warn!(user = %name, ?client, "sign-in failed");
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "bad_credentials",
            "Wrong name or password.",
        ));
    }
    state.throttles.succeeded(&name_key);
    // A new id at every sign-in; an old cookie's session ends with it.
    if let Some(old) = cookie_value(&headers, state.auth.cookie_name()) {
        delete_session(&state, old).await?;
    }
    let token = random_token();
    let agent: String = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .chars()
        .take(200)
        .collect();
    sqlx::query(
        "INSERT INTO sessions (id_hash, user_name, created_at, last_seen, user_agent) \
         VALUES ($1, $2, $3, $3, $4)",
    )
    .bind(token_hash(&token))
    .bind(&name)
    .bind(now)
    .bind(agent)
    .execute(state.db.pool())
    .await?;
    tracing::info!(user = %name, ?client, "signed in");
    let info = session_by_token(&state, &token)
        .await?
        .ok_or_else(unauthorized)?;
    let info = with_settings(&state, info).await?;
    let max_age = state.auth.limits.lifetime_ms / 1000;
    let mut res = no_store(Json(info));
    res.headers_mut()
        .insert(header::SET_COOKIE, state.auth.cookie(&token, max_age));
    Ok(res)
}

/// `POST /api/v1/auth/logout`: the session ends and the cookie goes.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(),
    responses((status = 204, description = "Signed out (also when no one was)"), crate::openapi::Errors))]
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(token) = cookie_value(&headers, state.auth.cookie_name()) {
        delete_session(&state, token).await?;
    }
    let mut res = StatusCode::NO_CONTENT.into_response();
    res.headers_mut()
        .insert(header::SET_COOKIE, state.auth.cookie("", 0));
    // The browser drops this origin's HTTP cache (answers the user read).
    // Not "storage": that would unregister the service worker and its app
    // shell, and the app clears its own stores itself.
    res.headers_mut().insert(
        HeaderName::from_static("clear-site-data"),
        HeaderValue::from_static("\"cache\""),
    );
    Ok(res)
}

/// `GET /api/v1/auth/session`: who is signed in, and until when.
#[utoipa::path(get, path = "/api/v1/auth/session", tag = "auth",
    responses((status = 200, description = "Who is signed in, until when", body = SessionInfo),
        crate::openapi::Errors))]
pub async fn session(
    State(state): State<AppState>,
    axum::Extension(me): axum::Extension<SessionInfo>,
) -> Result<Response, ApiError> {
    Ok(no_store(Json(with_settings(&state, me).await?)))
}

/// What the app needs of the administrator's settings, on the session it
/// reads at start and at sign-in (and keeps for offline sign-outs).
async fn with_settings(state: &AppState, me: SessionInfo) -> Result<SessionInfo, ApiError> {
    let settings = state.db.settings().await?;
    Ok(SessionInfo {
        shared_devices: settings.shared_devices,
        ..me
    })
}

/// `GET /api/v1/admin/settings`: the settings for every device.
pub async fn admin_settings(
    State(state): State<AppState>,
    axum::Extension(me): axum::Extension<SessionInfo>,
) -> Result<Json<Settings>, ApiError> {
    admin_only(&me)?;
    Ok(Json(state.db.settings().await?))
}

/// `PUT /api/v1/admin/settings`: changes them; devices hear at their next
/// session read (start, sign-in).
pub async fn admin_change_settings(
    State(state): State<AppState>,
    axum::Extension(me): axum::Extension<SessionInfo>,
    Json(settings): Json<Settings>,
) -> Result<Json<Settings>, ApiError> {
    admin_only(&me)?;
    state.db.set_settings(settings).await?;
    tracing::info!(admin = %me.user, ?settings, "settings changed");
    Ok(Json(settings))
}

fn no_store(body: impl IntoResponse) -> Response {
    let mut res = body.into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

async fn delete_session(state: &AppState, token: &str) -> Result<(), ApiError> {
    sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
        .bind(token_hash(token))
        .execute(state.db.pool())
        .await?;
    Ok(())
}

/// `GET /api/v1/auth/sessions`: the signed-in user's own sessions.
#[utoipa::path(get, path = "/api/v1/auth/sessions", tag = "auth",
    responses((status = 200, description = "The user's own sessions", body = Vec<SessionRow>),
        crate::openapi::Errors))]
pub async fn sessions(
    State(state): State<AppState>,
    axum::Extension(me): axum::Extension<SessionInfo>,
) -> Result<Json<Vec<SessionRow>>, ApiError> {
    let rows = sqlx::query(
        "SELECT id_hash, created_at, last_seen, user_agent FROM sessions \
         WHERE user_name = $1 ORDER BY created_at",
    )
    .bind(&me.user)
    .fetch_all(state.db.pool())
    .await?;
    let mut out = Vec::new();
    for r in rows {
        let id: String = r.try_get("id_hash")?;
        out.push(SessionRow {
            current: id == me.session,
            id,
            created_at: r.try_get("created_at")?,
            last_seen: r.try_get("last_seen")?,
            user_agent: r.try_get("user_agent")?,
        });
    }
    Ok(Json(out))
}

/// Deletes `me`'s own row `id` by `sql` (`$1` the id, `$2` the user): 204,
/// or 404 for an unknown id and for another user's alike.
async fn delete_own(
    state: &AppState,
    sql: &str,
    id: &str,
    me: &SessionInfo,
    what: &str,
) -> Result<StatusCode, ApiError> {
    let done = sqlx::query(sql)
        .bind(id)
        .bind(&me.user)
        .execute(state.db.pool())
        .await?;
    if done.rows_affected() == 0 {
        return Err(ApiError::not_found(format!("no such {what}")));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/auth/sessions/{id}`: ends one of the user's own sessions
/// (another user's id is 404, like an unknown one).
#[utoipa::path(delete, path = "/api/v1/auth/sessions/{id}", tag = "auth",
    params(("id" = String, Path, description = "A session's id from the list")),
    responses((status = 204, description = "Ended"), crate::openapi::Errors))]
pub async fn end_session(
    State(state): State<AppState>,
    axum::Extension(me): axum::Extension<SessionInfo>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    delete_own(
        &state,
        "DELETE FROM sessions WHERE id_hash = $1 AND user_name = $2",
        &id,
        &me,
        "session",
    )
    .await
}

/// `POST /api/v1/admin/users`'s body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// Sign-in name.
    pub name: String,
    /// Name to show (the sign-in name when absent).
    #[serde(default)]
    pub display_name: Option<String>,
    /// Role.
    pub role: Role,
    /// First password.
    pub password: String,
    /// Team ids.
    #[serde(default)]
    pub teams: Vec<String>,
}

fn admin_only(me: &SessionInfo) -> Result<(), ApiError> {
    if me.role != Role::Admin {
        tracing::warn!(user = %me.user, "admin endpoint refused");
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Only an administrator may do this.",
        ));
    }
    Ok(())
}

/// `POST /api/v1/admin/users`: an administrator makes a user.
pub async fn admin_create_user(
    State(state): State<AppState>,
    axum::Extension(me): axum::Extension<SessionInfo>,
    Json(user): Json<NewUser>,
) -> Result<StatusCode, ApiError> {
    admin_only(&me)?;
    if user.teams.len() > 50
        || user
            .teams
            .iter()
            .any(|t| t.is_empty() || t.len() > NAME_MAX)
    {
        return Err(bad_request("at most 50 teams, each 1–64 characters"));
    }
    let teams: Vec<&str> = user.teams.iter().map(String::as_str).collect();
    let display = user.display_name.as_deref().unwrap_or(&user.name);
    create_user(
        &state,
        &user.name,
        display,
        user.role,
        &user.password,
        &teams,
    )
    .await?;
    Ok(StatusCode::CREATED)
}

/// `PATCH /api/v1/admin/users/{name}`'s body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserChange {
    /// Disable (true) or enable (false).
    #[serde(default)]
    pub disabled: Option<bool>,
    /// A new role.
    #[serde(default)]
    pub role: Option<Role>,
    /// A new password.
    #[serde(default)]
    pub password: Option<String>,
}

/// The case ids `sql` (one `$1` parameter, `id` column) selects.
async fn case_ids(
    tx: &mut sqlx::AnyConnection,
    sql: &str,
    param: &str,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query(sql)
        .bind(param)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| r.try_get("id"))
        .collect()
}

/// Gives `user` the role `role`; when that changes which of their teams'
/// cases they may read (core's `access::role_change_moves_access`), an
/// access change for each of those cases is recorded in the same
/// transaction, so their devices are told in the next pull.
async fn set_role(state: &AppState, user: &str, role: Role) -> Result<(), ApiError> {
    let now = state.now();
    let (_turn, mut tx) = crate::events::log_turn(&state.db).await?;
    let before: Option<String> = sqlx::query("SELECT role FROM users WHERE name = $1")
        .bind(user)
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| r.try_get("role"))
        .transpose()?;
    sqlx::query("UPDATE users SET role = $1 WHERE name = $2")
        .bind(role.as_str())
        .bind(user)
        .execute(&mut *tx)
        .await?;
    let before = before.as_deref().and_then(Role::parse);
    if before.is_some_and(|b| casefile_core::access::role_change_moves_access(b, role)) {
        let cases = case_ids(
            &mut tx,
            "SELECT c.id FROM cases c JOIN team_members m ON m.team_id = c.team_id \
             WHERE m.user_name = $1 ORDER BY c.id",
            user,
        )
        .await?;
        crate::db::record_access(&mut tx, &[user.to_string()], &cases, now).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// `PATCH /api/v1/admin/users/{name}`: disable, change role or reset the
/// password. Disabling or a new password ends the user's sessions.
pub async fn admin_change_user(
    State(state): State<AppState>,
    axum::Extension(me): axum::Extension<SessionInfo>,
    Path(name): Path<String>,
    Json(change): Json<UserChange>,
) -> Result<StatusCode, ApiError> {
    admin_only(&me)?;
    let pool = state.db.pool();
    if sqlx::query("SELECT 1 FROM users WHERE name = $1")
        .bind(&name)
        .fetch_optional(pool)
        .await?
        .is_none()
    {
        return Err(ApiError::not_found(format!("no user named {name}")));
    }
    let mut end = false;
    if let Some(disabled) = change.disabled {
        sqlx::query("UPDATE users SET disabled = $1 WHERE name = $2")
            .bind(i64::from(disabled))
            .bind(&name)
            .execute(pool)
            .await?;
        end |= disabled;
    }
    if let Some(role) = change.role {
        set_role(&state, &name, role).await?;
    }
    if let Some(password) = change.password {
        check_new_user(&name, &password)?;
        let hash = hash_password(password).await;
        sqlx::query("UPDATE users SET password_hash = $1 WHERE name = $2")
            .bind(hash)
            .bind(&name)
            .execute(pool)
            .await?;
        end = true;
    }
    if end {
        let keep = (name == me.user).then_some(me.session.as_str());
        end_sessions(&state, &name, keep).await?;
    }
    tracing::info!(admin = %me.user, user = %name, "user changed");
    Ok(StatusCode::NO_CONTENT)
}

/// One user as the admin list shows them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct UserRow {
    /// Sign-in name.
    pub name: String,
    /// Name to show.
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// Disabled.
    pub disabled: bool,
    /// Team ids.
    pub teams: Vec<String>,
}

/// `GET /api/v1/admin/users`.
pub async fn admin_users(
    State(state): State<AppState>,
    axum::Extension(me): axum::Extension<SessionInfo>,
) -> Result<Json<Vec<UserRow>>, ApiError> {
    admin_only(&me)?;
    let pool = state.db.pool();
    let rows = sqlx::query("SELECT name, display_name, role, disabled FROM users ORDER BY name")
        .fetch_all(pool)
        .await?;
    let mut out = Vec::new();
    for r in rows {
        let name: String = r.try_get("name")?;
        let teams = teams_of(pool, &name).await?;
        out.push(UserRow {
            display_name: r.try_get("display_name")?,
            role: Role::parse(&r.try_get::<String, _>("role")?).unwrap_or(Role::Caseworker),
            disabled: r.try_get::<i64, _>("disabled")? != 0,
            teams,
            name,
        });
    }
    Ok(Json(out))
}

/// `PUT /api/v1/admin/teams/{team}/members/{user}`: adds a member (the
/// team is made when new).
pub async fn admin_add_member(
    State(state): State<AppState>,
    axum::Extension(me): axum::Extension<SessionInfo>,
    Path((team, user)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    admin_only(&me)?;
    if team.is_empty() || team.len() > NAME_MAX {
        return Err(bad_request("a team id is 1–64 characters"));
    }
    if sqlx::query("SELECT 1 FROM users WHERE name = $1")
        .bind(&user)
        .fetch_optional(state.db.pool())
        .await?
        .is_none()
    {
        return Err(ApiError::not_found(format!("no user named {user}")));
    }
    add_member(&state, &team, &user).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/admin/teams/{team}/members/{user}`: takes a member out
/// of a team; their devices are told at their next pull which cases they
/// may no longer read, and purge them.
pub async fn admin_remove_member(
    State(state): State<AppState>,
    axum::Extension(me): axum::Extension<SessionInfo>,
    Path((team, user)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    admin_only(&me)?;
    if team.is_empty() || team.len() > NAME_MAX || user.is_empty() || user.len() > NAME_MAX {
        return Err(bad_request("a team id and a user name are 1–64 characters"));
    }
    change_member(&state, &team, &user, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The app's own request header: every write and the socket upgrade from a
/// page of this origin carries it (a cross-site form cannot set it).
pub const APP_HEADER: &str = "x-casefile";

fn host_allowed(state: &AppState, headers: &HeaderMap) -> bool {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    casefile_core::access::host_allowed(host, &state.auth.allowed_hosts)
}

/// The origin a page of this server has: the configured public origin, or
/// `http://` and the request's `Host`.
fn expected_origin(state: &AppState, headers: &HeaderMap) -> Option<String> {
    if let Some(o) = &state.auth.public_origin {
        return Some(o.trim_end_matches('/').to_string());
    }
    let host = headers.get(header::HOST)?.to_str().ok()?;
    Some(format!("http://{host}"))
}

/// Why a cookie-authenticated request may be forged by another site, or
/// `None` (core's rule, [`casefile_core::access::forgery`]).
pub fn csrf_problem(state: &AppState, headers: &HeaderMap, write: bool) -> Option<&'static str> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    // A page of one of the app's API origins is the app's own page.
    let own = match text("origin") {
        Some(o) if state.auth.api_origins.iter().any(|a| a == o) => Some(o.to_string()),
        _ => expected_origin(state, headers),
    };
    let provenance = casefile_core::access::Provenance {
        origin: text("origin"),
        own_origin: own.as_deref(),
        fetch_site: text("sec-fetch-site"),
        content_type: text("content-type"),
        app_header: text(APP_HEADER),
    };
    casefile_core::access::forgery(provenance, write)
}

/// The token of an `Authorization: Bearer` header.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// The user an API token acts for, if it is live.
async fn token_session(state: &AppState, token: &str) -> Result<Option<SessionInfo>, ApiError> {
    let secret = token.strip_prefix(TOKEN_PREFIX).unwrap_or("");
    if secret.len() != 64 || !secret.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let pool = state.db.pool();
    let row = sqlx::query(
        "SELECT t.id, t.user_name, t.created_at, t.expires_at, u.display_name, u.role, u.disabled \
         FROM api_tokens t JOIN users u ON u.name = t.user_name WHERE t.hash = $1",
    )
    .bind(token_hash(secret))
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let expires_at: i64 = row.try_get("expires_at")?;
    if row.try_get::<i64, _>("disabled")? != 0 || state.now() >= expires_at {
        return Ok(None);
    }
    let user: String = row.try_get("user_name")?;
    Ok(Some(SessionInfo {
        display_name: row.try_get("display_name")?,
        role: Role::parse(&row.try_get::<String, _>("role")?).unwrap_or(Role::Caseworker),
        teams: teams_of(pool, &user).await?,
        user,
        idle_expires_at: expires_at,
        expires_at,
        session: format!("token:{}", row.try_get::<String, _>("id")?),
        shared_devices: false,
    }))
}

/// API tokens start with this, so a leaked one is easy to find.
pub const TOKEN_PREFIX: &str = "cf_";

/// Records a denial where an administrator can read it, and in the log.
/// (On the caller's connection: ingest logs inside its transaction.)
pub async fn log_denial(
    conn: &mut sqlx::AnyConnection,
    at: i64,
    actor: &str,
    action: &str,
    target: &str,
    reason: &str,
) -> Result<(), sqlx::Error> {
    tracing::warn!(%actor, %action, %target, %reason, "access denied");
    sqlx::query(
        "INSERT INTO access_log (at, actor, action, target, reason) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(at)
    .bind(actor)
    .bind(action)
    .bind(target)
    .bind(reason)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Middleware for everything under `/api/` (SPEC §10): the `Host` must be
/// one of the server's names; a cookie-authenticated write, sign-in and the
/// socket upgrade must come from the server's own origin (and a write must
/// be JSON with the app's header); and every route but health, sign-in and
/// CSP reports needs a live session or API token (`/metrics` and the CSP
/// report list an administrator's), which the handlers find
/// as a [`SessionInfo`] extension. Otherwise 400, 403 or 401, in the
/// envelope.
pub async fn gate(
    State(state): State<AppState>,
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let path = req.uri().path().to_string();
    let metrics = path == "/metrics";
    if !(path.starts_with("/api/") || metrics) || path.starts_with("/api/v1/_faults") {
        return next.run(req).await;
    }
    let headers = req.headers();
    if !host_allowed(&state, headers) {
        return ApiError::new(
            StatusCode::BAD_REQUEST,
            "unknown_host",
            "This server does not answer to that host name.",
        )
        .into_response();
    }
    let write = !matches!(
        *req.method(),
        axum::http::Method::GET | axum::http::Method::HEAD | axum::http::Method::OPTIONS
    );
    let report = path == "/api/v1/csp-reports" && write;
    let token = bearer(headers).map(str::to_string);
    if token.is_none() && !report && (write || path == "/api/v1/live") {
        if let Some(why) = csrf_problem(&state, headers, write) {
            let client = req
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip());
            tracing::warn!(%path, ?client, %why, "refused as a possible cross-site request");
            return ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("Refused: {why}."),
            )
            .into_response();
        }
    }
    let open = [
        "/api/v1/health",
        "/api/v1/openapi.json",
        "/api/v1/auth/login",
        "/api/v1/auth/logout",
    ];
    if open.contains(&path.as_str()) || report {
        return next.run(req).await;
    }
    let found = match &token {
        Some(t) => token_session(&state, t).await,
        None => session_of(&state, req.headers()).await,
    };
    match found {
        // What the server counts and what browsers report is for
        // administrators only.
        Ok(Some(info))
            if (metrics || path == "/api/v1/csp-reports") && info.role != Role::Admin =>
        {
            ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "Only an administrator may read this.",
            )
            .into_response()
        }
        Ok(Some(info)) => {
            let claimed = req
                .headers()
                .get(casefile_core::queue::USER_HEADER)
                .and_then(|v| v.to_str().ok());
            if let Some(why) = casefile_core::access::other_user(claimed, &info.user) {
                tracing::warn!(%path, session_user = %info.user, ?claimed, "refused: another user's write");
                return ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "other_user",
                    format!("Not sent: {why}."),
                )
                .into_response();
            }
            req.extensions_mut().insert(info);
            next.run(req).await
        }
        Ok(None) => unauthorized().into_response(),
        Err(e) => e.into_response(),
    }
}

/// Whether the session cookie or API token in `headers` is still live.
pub async fn credentials_of(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<SessionInfo>, ApiError> {
    match bearer(headers) {
        Some(t) => token_session(state, t).await,
        None => session_of(state, headers).await,
    }
}

/// `POST /api/v1/auth/tokens`'s body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// What it is for (≤ 100 characters).
    pub label: String,
    /// Days it lives (1–365).
    pub days: u32,
}

/// A token as its owner sees it once, at creation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IssuedToken {
    /// Its id (to revoke it).
    pub id: String,
    /// The token itself: shown only now.
    pub token: String,
    /// When it stops working (ms).
    pub expires_at: i64,
}

/// `POST /api/v1/auth/tokens`: an API token for the signed-in user, for
/// scripts (`Authorization: Bearer …`). Stored hashed; shown once.
pub async fn create_token(
    State(state): State<AppState>,
    axum::Extension(me): axum::Extension<SessionInfo>,
    Json(new): Json<NewToken>,
) -> Result<(StatusCode, Json<IssuedToken>), ApiError> {
    if new.label.is_empty() || new.label.chars().count() > 100 || !(1..=365).contains(&new.days) {
        return Err(bad_request(
            "a token needs a label of 1–100 characters and 1–365 days",
        ));
    }
    let issued = issue_token(&state, &me.user, &new.label, new.days).await?;
    Ok((StatusCode::CREATED, Json(issued)))
}

/// A new API token for `user` (stored hashed; the returned text is the
/// only copy).
pub async fn issue_token(
    state: &AppState,
    user: &str,
    label: &str,
    days: u32,
) -> Result<IssuedToken, ApiError> {
    let secret = random_token();
    let id = secret[..16].to_string();
    let now = state.now();
    let expires_at = now + i64::from(days) * 24 * 60 * 60 * 1000;
    sqlx::query(
        "INSERT INTO api_tokens (hash, id, user_name, label, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(token_hash(&secret))
    .bind(&id)
    .bind(user)
    .bind(label)
    .bind(now)
    .bind(expires_at)
    .execute(state.db.pool())
    .await?;
    tracing::info!(%user, token = %id, "API token issued");
    Ok(IssuedToken {
        id,
        token: format!("{TOKEN_PREFIX}{secret}"),
        expires_at,
    })
}

/// `DELETE /api/v1/auth/tokens/{id}`: revokes one of the user's tokens.
pub async fn revoke_token(
    State(state): State<AppState>,
    axum::Extension(me): axum::Extension<SessionInfo>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    delete_own(
        &state,
        "DELETE FROM api_tokens WHERE id = $1 AND user_name = $2",
        &id,
        &me,
        "token",
    )
    .await
}

/// One denial as the access log keeps it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Denial {
    /// When (ms).
    pub at: i64,
    /// Who asked.
    pub actor: String,
    /// What they tried (e.g. `case.updated`).
    pub action: String,
    /// On what (a case id).
    pub target: String,
    /// Why it was refused.
    pub reason: String,
}

/// `GET /api/v1/admin/access-log`: the latest 500 denials, newest first.
pub async fn access_log(
    State(state): State<AppState>,
    axum::Extension(me): axum::Extension<SessionInfo>,
) -> Result<Json<Vec<Denial>>, ApiError> {
    admin_only(&me)?;
    let rows = sqlx::query(
        "SELECT at, actor, action, target, reason FROM access_log ORDER BY at DESC LIMIT 500",
    )
    .fetch_all(state.db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Denial {
                at: r.try_get("at")?,
                actor: r.try_get("actor")?,
                action: r.try_get("action")?,
                target: r.try_get("target")?,
                reason: r.try_get("reason")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()
        .map(Json)
        .map_err(ApiError::from)
}
