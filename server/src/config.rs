//! Configuration from flags and environment variables (SPEC §2).

use clap::Parser;
use std::path::PathBuf;

/// The reference API server: serves the built app and the API on one origin.
#[derive(Debug, Clone, Parser)]
#[command(name = "casefile-server", version)]
pub struct Config {
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

    /// Writes (POST/PUT/PATCH/DELETE under /api/) each client may make per
    /// second, with bursts of twice that; more get 429 with `Retry-After`.
    /// 0 turns the limit off.
    #[arg(long, env = "CASEFILE_WRITE_RATE", default_value_t = 20)]
    pub write_rate: u32,
}
