//! Casefile's reference API server: the API and the built app on one origin.

pub mod auth;
pub mod config;
pub mod conn;
pub mod csp;
pub mod db;
pub mod error;
pub mod events;
pub mod faults;
pub mod http;
pub mod live;
pub mod metrics;
pub mod openapi;
pub mod rate;
pub mod routes;
pub mod seed;

use axum::extract::{DefaultBodyLimit, Request};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::IntoResponse;
use axum::routing::{delete, get, patch, post, put};
use axum::Router;
use config::Config;
use db::Db;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tower::ServiceExt;
use tower_http::compression::CompressionLayer;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};

/// Largest request body accepted (SPEC §2): bigger ones get 413.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub db: Db,
    /// Request metrics.
    pub metrics: Arc<metrics::Metrics>,
    /// Fault injection, only when `CASEFILE_FAULTS=1`.
    pub faults: Option<Arc<faults::Faults>>,
    /// Each commit (its cursor and the teams it touched), for `/api/v1/live`.
    pub live: tokio::sync::broadcast::Sender<live::Commit>,
    /// CSP violations browsers reported.
    pub csp: Arc<csp::CspReports>,
    /// The per-client limit on writes (none: unlimited).
    pub writes: Option<Arc<rate::WriteLimit>>,
    /// Session settings.
    pub auth: auth::AuthConfig,
    /// Failed sign-ins, per name and per address.
    pub throttles: Arc<auth::Throttles>,
    /// The clock (ms since the epoch); tests put a fake one here.
    pub clock: Arc<dyn Fn() -> i64 + Send + Sync>,
    /// How often a live socket is pinged and its session checked.
    pub live_heartbeat: std::time::Duration,
    /// How long an idempotency key answers with its first response (ms).
    pub idempotency_retention_ms: i64,
    /// Places for live sockets.
    pub live_sockets: Arc<tokio::sync::Semaphore>,
}

impl AppState {
    /// State over `db`, without fault injection.
    pub fn new(db: Db) -> Self {
        AppState {
            db,
            metrics: Arc::default(),
            faults: None,
            live: tokio::sync::broadcast::channel(live::BACKLOG).0,
            csp: Arc::default(),
            writes: None,
            auth: auth::AuthConfig::default(),
            throttles: Arc::default(),
            clock: Arc::new(|| {
                casefile_core::retry::system_time_ms(std::time::SystemTime::now()) as i64
            }),
            live_heartbeat: live::HEARTBEAT,
            idempotency_retention_ms: events::IDEMPOTENCY_RETENTION_MS,
            live_sockets: Arc::new(tokio::sync::Semaphore::new(live::MAX_SOCKETS)),
        }
    }

    /// Now, by the state's clock (ms).
    pub fn now(&self) -> i64 {
        (self.clock)()
    }
}

impl axum::extract::FromRef<AppState> for Arc<metrics::Metrics> {
    fn from_ref(state: &AppState) -> Self {
        state.metrics.clone()
    }
}

fn api_router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/health", get(routes::health))
        .route("/api/v1/openapi.json", get(openapi::serve))
        .route("/api/v1/cases", get(routes::list_cases))
        .route("/api/v1/cases/{id}", get(routes::get_case))
        .route("/api/v1/cases/{id}/notes", get(routes::case_notes))
        .route("/api/v1/dashboard", get(routes::dashboard))
        .route("/api/v1/people", get(routes::people))
        .route("/api/v1/events", get(events::pull).post(events::push))
        .route("/api/v1/live", get(live::live))
        .route(
            "/api/v1/csp-reports",
            get(csp::list)
                .post(csp::receive)
                .layer(DefaultBodyLimit::max(csp::REPORT_LIMIT)),
        )
        .route_layer(from_fn(http::etag))
        .route("/api/v1/auth/login", post(auth::login))
        .route("/api/v1/auth/logout", post(auth::logout))
        .route("/api/v1/auth/session", get(auth::session))
        .route("/api/v1/auth/sessions", get(auth::sessions))
        .route("/api/v1/auth/sessions/{id}", delete(auth::end_session))
        .route(
            "/api/v1/admin/users",
            get(auth::admin_users).post(auth::admin_create_user),
        )
        .route("/api/v1/admin/users/{name}", patch(auth::admin_change_user))
        .route(
            "/api/v1/admin/teams/{team}/members/{user}",
            put(auth::admin_add_member).delete(auth::admin_remove_member),
        )
        .route("/api/v1/devices/{node}", get(routes::device))
        .route("/api/v1/admin/access-log", get(auth::access_log))
        .route(
            "/api/v1/admin/settings",
            get(auth::admin_settings).put(auth::admin_change_settings),
        )
        .route("/api/v1/auth/tokens", post(auth::create_token))
        .route("/api/v1/auth/tokens/{id}", delete(auth::revoke_token))
        .route("/api", get(routes::api_not_found))
        .route("/api/{*rest}", axum::routing::any(routes::api_not_found))
        .route("/metrics", get(metrics::expose))
}

/// The app's files from `dist`, with an SPA fallback: a path without a file
/// extension is an app route and gets `index.html`; a missing file is a 404.
fn static_files(dist: &Path, api_origins: &[String], api_balance: &str) -> Router<AppState> {
    let index = dist.join("index.html");
    let fallback = move |req: Request| {
        let index = index.clone();
        async move {
            let last = req.uri().path().rsplit('/').next().unwrap_or("");
            if last.contains('.') {
                axum::http::StatusCode::NOT_FOUND.into_response()
            } else {
                ServeFile::new(index)
                    .oneshot(req)
                    .await
                    .map(IntoResponse::into_response)
                    .unwrap_or_else(|e| match e {})
            }
        }
    };
    let serve = ServeDir::new(dist)
        .append_index_html_on_directories(true)
        .fallback(axum::routing::any(fallback));
    let meta = http::origins_meta(api_origins, api_balance);
    Router::new()
        .fallback_service(serve)
        .layer(from_fn(http::static_cache_headers))
        .layer(axum::middleware::from_fn(move |req, next| {
            http::tell_api_origins(meta.clone(), req, next)
        }))
}

/// Longest time an API request may take, body and answer (408 after).
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// Longest time a request's body may take to arrive.
pub const REQUEST_BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// The whole application: API, metrics and the app's files.
pub fn app(state: AppState, dist: PathBuf) -> Router {
    let mut api = api_router().layer(from_fn_with_state(state.clone(), auth::gate));
    if let Some(faults) = state.faults.clone() {
        tracing::warn!("fault injection is ON (CASEFILE_FAULTS=1): for tests only");
        let control = Router::new()
            .route(
                "/api/v1/_faults",
                get(faults::show).put(faults::replace).delete(faults::clear),
            )
            .with_state(faults.clone());
        api = api
            .merge(control)
            .layer(from_fn_with_state(faults, faults::inject));
    }
    if let Some(limit) = state.writes.clone() {
        api = api.layer(from_fn_with_state(limit, rate::limit_writes));
    }
    // Pages of the app's other API origins may call (`--api-origins`).
    if let Some(cors) = http::cors(&state.auth.api_origins) {
        api = api.layer(cors);
    }
    // No request holds a task for long: its body must arrive within
    // REQUEST_BODY_TIMEOUT and its answer within REQUEST_TIMEOUT (408).
    let api = api
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            REQUEST_BODY_TIMEOUT,
        ))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ));
    // Inside the router, the metrics middleware sees the matched route.
    let router = api
        .merge(static_files(
            &dist,
            &state.auth.api_origins,
            &state.auth.api_balance,
        ))
        .layer(from_fn_with_state(state.metrics.clone(), metrics::track))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    let id = req
                        .headers()
                        .get(&http::X_REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("");
                    tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
                })
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(from_fn(http::request_context));
    // Outside the request context, so envelopes it renders get them too.
    let mut router = router;
    for (name, value) in http::security_headers(&state.auth.api_origins) {
        router = router.layer(SetResponseHeaderLayer::if_not_present(name, value));
    }
    if state.auth.secure {
        router = router.layer(SetResponseHeaderLayer::if_not_present(
            axum::http::header::STRICT_TRANSPORT_SECURITY,
            axum::http::HeaderValue::from_static(http::HSTS),
        ));
    }
    router.layer(CompressionLayer::new()).with_state(state)
}

/// Opens the database, migrates, seeds when asked, and serves until SIGINT or
/// SIGTERM, finishing the requests in flight.
pub async fn serve(config: Config) -> Result<(), Box<dyn std::error::Error>> {
    let db = Db::connect(&config.database_url).await?;
    db.migrate().await?;
    if let Some(config::Command::Backup { path }) = &config.command {
        db.backup(path).await?;
        println!("backup written to {}", path.display());
        return Ok(());
    }
    if let Some(n) = config.seed {
        let now = casefile_core::retry::system_time_ms(std::time::SystemTime::now()) as i64;
        let inserted = seed::seed_if_empty(&db, n, now, config.seed_north_every as usize).await?;
        tracing::info!(inserted, "demo seed");
    }
    if !config.dist.join("index.html").is_file() {
        tracing::warn!(dist = %config.dist.display(), "no index.html in the dist folder: build the app first (scripts/run.sh does)");
    }
    let faults = std::env::var("CASEFILE_FAULTS").is_ok_and(|v| v == "1");
    let mut state = AppState {
        faults: faults.then(Arc::default),
        writes: rate::WriteLimit::per_second(config.write_rate),
        auth: config.auth(),
        idempotency_retention_ms: i64::from(config.idempotency_days) * 24 * 60 * 60 * 1000,
        ..AppState::new(db.clone())
    };
    // Tests move a restarted server's clock on instead of waiting for a
    // session to expire; only with fault injection on.
    let skew: i64 = std::env::var("CASEFILE_CLOCK_SKEW_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if faults && skew != 0 {
        tracing::warn!(
            skew,
            "the clock is moved (CASEFILE_CLOCK_SKEW_MS): for tests only"
        );
        let system = state.clock.clone();
        state.clock = Arc::new(move || system().saturating_add(skew));
    }
    if let Some(name) = &config.create_admin {
        let password = std::env::var("CASEFILE_ADMIN_PASSWORD").unwrap_or_default();
        match auth::create_user(
            &state,
            name,
            name,
            casefile_core::access::Role::Admin,
            &password,
            &[],
        )
        .await
        {
            Ok(()) => tracing::info!(%name, "administrator created"),
            Err(e) if e.code == "user_exists" => tracing::info!(%name, "administrator exists"),
            Err(e) => return Err(format!("--create-admin {name}: {}", e.message).into()),
        }
    }
    if config.demo_users {
        seed::demo_users(&state).await?;
    }
    if db.backend() == db::Backend::Postgres {
        tokio::spawn(live::listen(state.clone()));
    }
    let listener = tokio::net::TcpListener::bind(&config.addr).await?;
    let addr = listener.local_addr()?;
    let bounds = conn::Bounds {
        max_connections: config.max_connections,
        ..conn::Bounds::default()
    };
    // `tap_io` only to get axum's `ConnectInfo` for any listener.
    let listener = axum::serve::ListenerExt::tap_io(conn::Bounded::new(listener, bounds), |_| {});
    tracing::info!(%addr, database = db.backend().name(), "listening");
    println!("casefile-server listening on http://{addr}");
    let service = app(state, config.dist).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, service)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}
