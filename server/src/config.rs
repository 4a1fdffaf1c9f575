//! Configuration from flags and environment variables (SPEC §2).

use clap::Parser;
use std::path::PathBuf;

/// Work other than serving.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Write a consistent copy of the live SQLite database to PATH (it must
    /// not exist yet) and exit; the server may go on serving meanwhile. For
    /// PostgreSQL use `pg_dump` (README, "Backups").
    Backup {
        /// Where the copy goes.
        path: PathBuf,
    },
}

/// The reference API server: serves the built app and the API on one origin.
#[derive(Debug, Clone, Parser)]
#[command(name = "casefile-server", version)]
pub struct Config {
    /// What to do instead of serving.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Address to listen on; port 0 picks a free port (the log says which).
    #[arg(long, env = "CASEFILE_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: String,

    /// `sqlite:<file>` (created and migrated on start) or `postgres://…`.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite:data/casefile.db")]
    pub database_url: String,

    /// The built app (Trunk's output) to serve.
    #[arg(long, env = "CASEFILE_DIST", default_value = "dist")]
    pub dist: PathBuf,

    /// Fill in N demo cases when the database has no cases yet.
    #[arg(long, value_name = "N")]
    pub seed: Option<u32>,

    /// Every K-th demo case is team north's, the others south's (2:
    /// alternately; 20: 500 of 10,000 for north, as the device-bytes
    /// benchmark seeds them).
    #[arg(long, value_name = "K", default_value_t = 2,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub seed_north_every: u32,

    /// Writes (POST/PUT/PATCH/DELETE under /api/) each client may make per
    /// second, with bursts of twice that; more get 429 with `Retry-After`.
    /// 0 turns the limit off.
    #[arg(long, env = "CASEFILE_WRITE_RATE", default_value_t = 20)]
    pub write_rate: u32,

    /// Connections open at once; more wait until one closes. A connection
    /// that sends nothing for 10 s after opening, or for 75 s later, is
    /// closed.
    #[arg(long, env = "CASEFILE_MAX_CONNECTIONS", default_value_t = 4096)]
    pub max_connections: usize,

    /// Days an Idempotency-Key answers a repeated batch with its first
    /// answer; older keys are forgotten (1–365).
    #[arg(long, env = "CASEFILE_IDEMPOTENCY_DAYS", default_value_t = 7,
          value_parser = clap::value_parser!(u32).range(1..=365))]
    pub idempotency_days: u32,

    /// The origin browsers reach the server at (e.g. behind a proxy,
    /// `https://casefile.example.org`). An https origin makes the session
    /// cookie `__Host-casefile` with `Secure`; on plain HTTP it is
    /// `casefile_session` (browsers refuse `__Host-` there).
    #[arg(long, env = "CASEFILE_PUBLIC_ORIGIN")]
    pub public_origin: Option<String>,

    /// A session unused this long ends (seconds; each use moves it).
    #[arg(long, env = "CASEFILE_SESSION_IDLE_SECS", default_value_t = 8 * 60 * 60)]
    pub session_idle_secs: u64,

    /// A session ends this long after sign-in at the latest (seconds).
    #[arg(long, env = "CASEFILE_SESSION_LIFETIME_SECS", default_value_t = 7 * 24 * 60 * 60)]
    pub session_lifetime_secs: u64,

    /// Create this administrator at start if no user has the name; the
    /// password comes from `CASEFILE_ADMIN_PASSWORD` (at least 10 characters).
    #[arg(long, env = "CASEFILE_CREATE_ADMIN", value_name = "NAME")]
    pub create_admin: Option<String>,

    /// Create demo users (an admin, a supervisor and two caseworkers in two
    /// teams) when the database has no users, and print their sign-in details.
    #[arg(long)]
    pub demo_users: bool,

    /// Host names the server answers to besides 127.0.0.1, localhost and
    /// [::1] and the public origin's (comma-separated; DNS rebinding).
    #[arg(long, env = "CASEFILE_ALLOWED_HOSTS", value_delimiter = ',')]
    pub allowed_hosts: Vec<String>,

    /// The API origins the app spreads its requests over, with failover
    /// (comma-separated, e.g. every instance behind its own name). The app
    /// is told them, and this server takes the app's requests from any of
    /// them (CORS with credentials, CSRF and CSP allow exactly these).
    #[arg(long, env = "CASEFILE_API_ORIGINS", value_delimiter = ',')]
    pub api_origins: Vec<String>,

    /// How pages choose among the API origins: `rendezvous` (one path keeps
    /// to one origin, so its cached copy revalidates there), `round-robin`
    /// or `fewest-in-flight`.
    #[arg(long, env = "CASEFILE_API_BALANCE", default_value = "rendezvous",
          value_parser = ["rendezvous", "round-robin", "fewest-in-flight"])]
    pub api_balance: String,
}

impl Config {
    /// Session settings from the flags.
    pub fn auth(&self) -> crate::auth::AuthConfig {
        crate::auth::AuthConfig {
            limits: casefile_core::signin::SessionLimits {
                idle_ms: (self.session_idle_secs.min(u32::MAX as u64) * 1000) as i64,
                lifetime_ms: (self.session_lifetime_secs.min(u32::MAX as u64) * 1000) as i64,
            },
            secure: self
                .public_origin
                .as_deref()
                .is_some_and(|o| o.starts_with("https://")),
            public_origin: self.public_origin.clone(),
            api_balance: self.api_balance.clone(),
            api_origins: self
                .api_origins
                .iter()
                .map(|o| o.trim().trim_end_matches('/').to_string())
                .filter(|o| !o.is_empty())
                .collect(),
            allowed_hosts: self
                .allowed_hosts
                .iter()
                .map(|h| h.trim().to_ascii_lowercase())
                .chain(
                    self.public_origin
                        .as_deref()
                        .and_then(|o| o.split("://").nth(1))
                        .map(|h| {
                            casefile_core::access::host_name(h.split('/').next().unwrap_or(h))
                                .to_ascii_lowercase()
                        }),
                )
                .collect(),
        }
    }
}
