//! The database: SQLite by default, PostgreSQL when `DATABASE_URL` says so.
//!
//! Both run through sqlx's `Any` driver with one set of SQL statements (numbered
//! `$n` placeholders, types both understand), so every query is written once.

use casefile_core::api::{Case, CasePage, CaseStatus, Count, Dashboard, Note, Priority};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyConnection, AnyPool, Row};
use std::path::Path;

/// Which database the server talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

impl Backend {
    /// The name reported by `/api/v1/health`.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Why the database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The URL names no supported database.
    #[error("DATABASE_URL must start with sqlite: or postgres://, got `{0}`")]
    UnsupportedUrl(String),
    /// The SQLite file's folder could not be created.
    #[error("cannot create the database folder {path}: {source}")]
    Folder {
        /// The folder.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Connecting or migrating failed.
    #[error("database: {0}")]
    Sqlx(#[from] sqlx::Error),
}

/// The advisory lock instances take to migrate (PostgreSQL).
const MIGRATE_LOCK: i64 = 0x6361_7365_6d69_6772;

/// Schema changes, applied in order, each once, as `(sqlite, postgres)` SQL
/// (the same text where the dialects agree). Append only: never edit a
/// migration that has shipped.
const MIGRATIONS: &[(&str, &str)] = &[
    (MIGRATION_1, MIGRATION_1),
    (MIGRATION_2_SQLITE, MIGRATION_2_POSTGRES),
    (MIGRATION_3, MIGRATION_3),
    (MIGRATION_4, MIGRATION_4),
    (MIGRATION_5, MIGRATION_5),
    (MIGRATION_6, MIGRATION_6),
    (MIGRATION_7_SQLITE, MIGRATION_7_POSTGRES),
    (MIGRATION_8, MIGRATION_8),
];

/// The administrator's settings (SPEC §10): one row per name, its value as
/// text (`shared_devices`: `"true"` or `"false"`).
/// Also what a device sent, found by its node id (`GET /api/v1/devices/{node}`).
const MIGRATION_8: &str = r#"CREATE TABLE settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE INDEX events_by_node ON events (node_id, received_at)
"#;

/// Access changes (SPEC §10, issue 17): one row per user and case whose
/// readability a team move or a membership change may have changed, in
/// the transaction that changed it; a device pulls them after its access
/// cursor (`id`) and is told `granted` or `revoked`.
macro_rules! migration_7 {
    ($id:literal) => {
        concat!(
            "CREATE TABLE access_changes (\n    id ",
            $id,
            r#",
    user_name TEXT NOT NULL,
    case_id TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX access_changes_by_user ON access_changes (user_name, id)
"#
        )
    };
}
const MIGRATION_7_SQLITE: &str = migration_7!("INTEGER PRIMARY KEY AUTOINCREMENT");
const MIGRATION_7_POSTGRES: &str = migration_7!("BIGSERIAL PRIMARY KEY");

/// Bounds (issue 15): the highest clock is read per batch (an index makes it
/// one lookup); idempotency rows remember their batch's hash (a key reused
/// with another body is refused) and expire by age.
const MIGRATION_6: &str = r#"
CREATE INDEX events_by_clock ON events (clock);
ALTER TABLE idempotency ADD COLUMN body_hash TEXT NOT NULL DEFAULT '';
CREATE INDEX idempotency_by_age ON idempotency (created_at)
"#;

/// Access (SPEC §10): each case's team (existing cases go to `general`),
/// who sent each stored event, which user each device id belongs to, the
/// denials an administrator reads, and hashed API tokens.
const MIGRATION_5: &str = r#"
ALTER TABLE cases ADD COLUMN team_id TEXT NOT NULL DEFAULT 'general';
CREATE INDEX cases_by_team ON cases (team_id, updated_at);
ALTER TABLE events ADD COLUMN actor TEXT NOT NULL DEFAULT '';
CREATE TABLE devices (
    node_id TEXT PRIMARY KEY,
    user_name TEXT NOT NULL,
    bound_at BIGINT NOT NULL
);
CREATE TABLE access_log (
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    reason TEXT NOT NULL
);
CREATE INDEX access_log_by_time ON access_log (at);
CREATE TABLE api_tokens (
    hash TEXT PRIMARY KEY,
    id TEXT NOT NULL,
    user_name TEXT NOT NULL,
    label TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
)
"#;

/// Identity (SPEC §10): users, teams and server-side sessions (a session is
/// stored by the hash of its secret id).
const MIGRATION_4: &str = r#"
CREATE TABLE users (
    name TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    disabled BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);
CREATE TABLE teams (
    id TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL
);
CREATE TABLE team_members (
    team_id TEXT NOT NULL,
    user_name TEXT NOT NULL,
    PRIMARY KEY (team_id, user_name)
);
CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    user_name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    user_agent TEXT NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_name);
CREATE INDEX members_by_user ON team_members (user_name)
"#;

const MIGRATION_1: &str = r#"
CREATE TABLE cases (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    status TEXT NOT NULL,
    priority TEXT NOT NULL,
    assignee TEXT,
    tags TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version BIGINT NOT NULL,
    deleted BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX cases_updated ON cases (updated_at, id);
CREATE TABLE notes (
    id TEXT PRIMARY KEY,
    case_id TEXT NOT NULL,
    body TEXT NOT NULL,
    author TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX notes_case ON notes (case_id, created_at);
"#;

/// The event log: `seq` is the pull cursor (monotonic: ingestion is
/// serialised), `version` the aggregate's version after the event, `body` the
/// event exactly as received (so clients can verify its checksum). Only the
/// auto-increment spelling differs between the two databases.
macro_rules! migration_2 {
    ($seq:literal) => {
        concat!(
            "CREATE TABLE events (\n    seq ",
            $seq,
            r#",
    id TEXT NOT NULL UNIQUE,
    aggregate_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    node_id TEXT NOT NULL,
    clock BIGINT NOT NULL,
    base_version BIGINT NOT NULL,
    version BIGINT NOT NULL,
    fields TEXT NOT NULL,
    body TEXT NOT NULL,
    received_at BIGINT NOT NULL
);
CREATE INDEX events_aggregate ON events (aggregate_id, version);
CREATE TABLE idempotency (
    key TEXT PRIMARY KEY,
    response TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
"#
        )
    };
}
const MIGRATION_2_SQLITE: &str = migration_2!("INTEGER PRIMARY KEY AUTOINCREMENT");

/// A case's events in stamp order: ingestion asks whether any stored event
/// of the case sorts after the incoming one (`events::arrives_behind`), one
/// index probe instead of a scan of the case's events.
const MIGRATION_3: &str = "CREATE INDEX events_stamp ON events (aggregate_id, clock, node_id)";
const MIGRATION_2_POSTGRES: &str = migration_2!("BIGSERIAL PRIMARY KEY");

pub(crate) const CASE_COLUMNS: &str =
    "id, title, description, status, priority, assignee, tags, created_at, updated_at, version, deleted";

/// Filters and paging for the case list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaseFilter {
    /// Only this status.
    pub status: Option<CaseStatus>,
    /// Only this priority.
    pub priority: Option<Priority>,
    /// Title contains this, case-insensitively.
    pub q: Option<String>,
    /// Page size.
    pub limit: u32,
    /// Continue after this `(updated_at, id)`.
    pub after: Option<(i64, String)>,
    /// Only cases of these teams (the reader's, SPEC §10); `None`: every
    /// team (internal callers only).
    pub teams: Option<Vec<String>>,
}

/// The cursor for the page after `case`.
pub fn cursor_after(case: &Case) -> String {
    format!("{}:{}", case.updated_at, case.id)
}

/// Reads a cursor made by [`cursor_after`].
pub fn parse_cursor(cursor: &str) -> Option<(i64, String)> {
    let (at, id) = cursor.split_once(':')?;
    let at = at.parse().ok()?;
    (!id.is_empty() && id.len() <= 64).then(|| (at, id.to_string()))
}

/// A value to bind to a `$n` placeholder.
enum Arg {
    Text(String),
    Int(i64),
}

/// SQL text plus its arguments, numbered as they are pushed.
#[derive(Default)]
struct Sql {
    text: String,
    args: Vec<Arg>,
}

impl Sql {
    /// ` AND team_id IN (…)` for a reader's teams; none reads nothing.
    fn teams(&mut self, teams: Option<&[String]>) -> &mut Self {
        match teams {
            None => self,
            Some(teams) => self.is_in(" AND team_id", teams),
        }
    }

    /// ` <what> IN (…)` with each value bound; an empty list matches
    /// nothing (` AND 1 = 0`: `IN ()` is not SQL). `what` starts with its
    /// ` AND `.
    fn is_in(&mut self, what: &str, values: &[String]) -> &mut Self {
        if values.is_empty() {
            return self.push(" AND 1 = 0");
        }
        self.push(what).push(" IN (");
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.bind(Arg::Text(v.clone()));
        }
        self.push(")")
    }

    fn new(text: &str) -> Self {
        Sql {
            text: text.to_string(),
            args: Vec::new(),
        }
    }
    fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }
    fn bind(&mut self, arg: Arg) -> &mut Self {
        self.args.push(arg);
        self.text.push_str(&format!("${}", self.args.len()));
        self
    }
    fn query(&self) -> sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments<'_>> {
        let mut q = sqlx::query(&self.text);
        for arg in &self.args {
            q = match arg {
                Arg::Text(s) => q.bind(s.as_str()),
                Arg::Int(i) => q.bind(*i),
            };
        }
        q
    }
}

fn like_pattern(q: &str) -> String {
    let mut out = String::with_capacity(q.len() + 2);
    out.push('%');
    for c in q.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

pub(crate) fn case_from_row(row: &AnyRow) -> Result<Case, sqlx::Error> {
    let decode = |col: &str, e: String| sqlx::Error::ColumnDecode {
        index: col.to_string(),
        source: e.into(),
    };
    let status: String = row.try_get("status")?;
    let priority: String = row.try_get("priority")?;
    let tags: String = row.try_get("tags")?;
    Ok(Case {
        id: row.try_get("id")?,
        title: row.try_get("title")?,
        description: row.try_get("description")?,
        status: status
            .parse()
            .map_err(|e| decode("status", format!("{e}")))?,
        priority: priority
            .parse()
            .map_err(|e| decode("priority", format!("{e}")))?,
        assignee: row.try_get("assignee")?,
        tags: serde_json::from_str(&tags).map_err(|e| decode("tags", e.to_string()))?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        version: row.try_get("version")?,
        deleted: row.try_get::<i64, _>("deleted")? != 0,
    })
}

/// Inserts a case (`exists == false`) or updates it, in the caller's
/// connection or transaction.
pub(crate) async fn write_case(
    conn: &mut AnyConnection,
    c: &Case,
    exists: bool,
) -> Result<(), sqlx::Error> {
    let sql = if exists {
        "UPDATE cases SET title = $2, description = $3, status = $4, priority = $5, assignee = $6, \
         tags = $7, created_at = $8, updated_at = $9, version = $10, deleted = $11 WHERE id = $1"
            .to_string()
    } else {
        format!("INSERT INTO cases ({CASE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)")
    };
    sqlx::query(&sql)
        .bind(c.id.as_str())
        .bind(c.title.as_str())
        .bind(c.description.as_str())
        .bind(c.status.as_str())
        .bind(c.priority.as_str())
        .bind(c.assignee.as_deref())
        .bind(serde_json::to_string(&c.tags).unwrap_or_else(|_| "[]".into()))
        .bind(c.created_at)
        .bind(c.updated_at)
        .bind(c.version)
        .bind(i64::from(c.deleted))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The connection pool and which database it is.
#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    url: String,
    instance: u64,
}

impl Db {
    /// Connects, creating the SQLite file (and its folder) when needed.
    pub async fn connect(url: &str) -> Result<Db, OpenError> {
        sqlx::any::install_default_drivers();
        let (backend, url) = if let Some(rest) = url.strip_prefix("sqlite:") {
            let path = rest.trim_start_matches("//");
            let file = path.split('?').next().unwrap_or("");
            if let Some(dir) = Path::new(file)
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
            {
                std::fs::create_dir_all(dir).map_err(|source| OpenError::Folder {
                    path: dir.display().to_string(),
                    source,
                })?;
            }
            let url = if url.contains("mode=") {
                url.to_string()
            } else if url.contains('?') {
                format!("{url}&mode=rwc")
            } else {
                format!("{url}?mode=rwc")
            };
            (Backend::Sqlite, url)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Backend::Postgres, url.to_string())
        } else {
            return Err(OpenError::UnsupportedUrl(url.to_string()));
        };
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 4 } else { 10 })
            .connect(&url)
            .await?;
        if backend == Backend::Sqlite {
            sqlx::query("PRAGMA journal_mode=WAL")
                .execute(&pool)
                .await?;
        }
        Ok(Db {
            pool,
            backend,
            url,
            instance: uuid::Uuid::new_v4().as_u64_pair().0,
        })
    }

    /// This process's own id among the instances on one database (its
    /// commit notices say who sent them).
    pub fn instance(&self) -> u64 {
        self.instance
    }

    /// Writes a consistent copy of the database to `path` (SQLite's
    /// `VACUUM INTO`: a snapshot within one read transaction, taken while
    /// writers go on). `path` must not exist. PostgreSQL: use `pg_dump`.
    pub async fn backup(&self, path: &Path) -> Result<(), sqlx::Error> {
        if self.backend != Backend::Sqlite {
            return Err(sqlx::Error::Configuration(
                "backup writes SQLite files; back PostgreSQL up with pg_dump".into(),
            ));
        }
        if path.exists() {
            return Err(sqlx::Error::Configuration(
                format!("{} exists already; choose a new file", path.display()).into(),
            ));
        }
        sqlx::query("VACUUM INTO $1")
            .bind(path.display().to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The URL it was opened with (a PostgreSQL listener opens its own
    /// connection with it).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Applies every migration not yet applied, each in its own transaction.
    /// On PostgreSQL under an advisory lock, so instances of a fleet that
    /// start together migrate one after another.
    pub async fn migrate(&self) -> Result<(), sqlx::Error> {
        let mut conn = self.pool.acquire().await?;
        let postgres = self.backend == Backend::Postgres;
        if postgres {
            sqlx::query("SELECT pg_advisory_lock($1)")
                .bind(MIGRATE_LOCK)
                .execute(&mut *conn)
                .await?;
        }
        let result = self.migrate_on(&mut conn).await;
        if postgres {
            sqlx::query("SELECT pg_advisory_unlock($1)")
                .bind(MIGRATE_LOCK)
                .execute(&mut *conn)
                .await?;
        }
        result
    }

    async fn migrate_on(&self, conn: &mut sqlx::AnyConnection) -> Result<(), sqlx::Error> {
        use sqlx::Connection;
        sqlx::query("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY)")
            .execute(&mut *conn)
            .await?;
        let done: i64 = sqlx::query("SELECT COUNT(*) AS n FROM schema_migrations")
            .fetch_one(&mut *conn)
            .await?
            .try_get("n")?;
        for (i, (sqlite, postgres)) in MIGRATIONS.iter().enumerate().skip(done as usize) {
            let migration = match self.backend {
                Backend::Sqlite => sqlite,
                Backend::Postgres => postgres,
            };
            let mut tx = conn.begin().await?;
            for statement in migration.split(';').filter(|s| !s.trim().is_empty()) {
                sqlx::query(statement).execute(&mut *tx).await?;
            }
            sqlx::query("INSERT INTO schema_migrations (version) VALUES ($1)")
                .bind(i as i64 + 1)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        }
        Ok(())
    }

    /// The connection pool, for modules with their own queries.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
    }

    fn filtered(base: &str, filter: &CaseFilter) -> Sql {
        let mut sql = Sql::new(base);
        sql.push(" WHERE deleted = 0");
        sql.teams(filter.teams.as_deref());
        if let Some(status) = filter.status {
            sql.push(" AND status = ")
                .bind(Arg::Text(status.as_str().into()));
        }
        if let Some(priority) = filter.priority {
            sql.push(" AND priority = ")
                .bind(Arg::Text(priority.as_str().into()));
        }
        if let Some(q) = filter.q.as_deref().filter(|q| !q.is_empty()) {
            sql.push(" AND LOWER(title) LIKE ")
                .bind(Arg::Text(like_pattern(q)))
                .push(" ESCAPE '\\'");
        }
        sql
    }

    /// One page of live cases, most recently updated first.
    pub async fn list_cases(&self, filter: &CaseFilter) -> Result<CasePage, sqlx::Error> {
        let total: i64 = Self::filtered("SELECT COUNT(*) AS n FROM cases", filter)
            .query()
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?;
        let mut sql = Self::filtered(&format!("SELECT {CASE_COLUMNS} FROM cases"), filter);
        if let Some((at, id)) = &filter.after {
            sql.push(" AND (updated_at < ")
                .bind(Arg::Int(*at))
                .push(" OR (updated_at = ")
                .bind(Arg::Int(*at))
                .push(" AND id < ")
                .bind(Arg::Text(id.clone()))
                .push("))");
        }
        sql.push(" ORDER BY updated_at DESC, id DESC LIMIT ")
            .bind(Arg::Int(i64::from(filter.limit) + 1));
        let rows = sql.query().fetch_all(&self.pool).await?;
        let mut items = rows
            .iter()
            .map(case_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let next_cursor = if items.len() > filter.limit as usize {
            items.truncate(filter.limit as usize);
            items.last().map(cursor_after)
        } else {
            None
        };
        Ok(CasePage {
            items,
            next_cursor,
            total,
        })
    }

    /// Up to `limit` events after cursor `after` and up to `end`, of cases
    /// of `teams` only (filtered before the limit), and of `cases` only
    /// when given (a backfill), oldest first: `(seq, version, body)`.
    pub async fn events_after(
        &self,
        after: i64,
        limit: i64,
        teams: &[String],
        end: i64,
        cases: Option<&[String]>,
    ) -> Result<Vec<sqlx::any::AnyRow>, sqlx::Error> {
        events_after_sql(after, limit, teams, end, cases)
            .query()
            .fetch_all(&self.pool)
            .await
    }

    /// A page of access changes for `user` after `after`: `(id, case id,
    /// readable now)`, oldest first.
    pub async fn access_after(
        &self,
        user: &str,
        after: i64,
        limit: i64,
        teams: &[String],
    ) -> Result<Vec<(i64, String, bool)>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT a.id AS id, a.case_id AS case_id, c.team_id AS team_id FROM access_changes a \
             LEFT JOIN cases c ON c.id = a.case_id \
             WHERE a.user_name = $1 AND a.id > $2 ORDER BY a.id LIMIT $3",
        )
        .bind(user)
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let team: Option<String> = r.try_get("team_id")?;
                Ok((
                    r.try_get("id")?,
                    r.try_get("case_id")?,
                    team.is_some_and(|t| teams.contains(&t)),
                ))
            })
            .collect()
    }

    /// The latest access change (the end of every user's access log).
    pub async fn latest_access(&self) -> Result<i64, sqlx::Error> {
        sqlx::query("SELECT COALESCE(MAX(id), 0) AS n FROM access_changes")
            .fetch_one(&self.pool)
            .await?
            .try_get("n")
    }

    /// What the server stored from device `node`, if it is `user`'s.
    pub async fn device_record(
        &self,
        node: &str,
        user: &str,
    ) -> Result<Option<casefile_core::api::DeviceRecord>, sqlx::Error> {
        let owner = sqlx::query("SELECT user_name FROM devices WHERE node_id = $1")
            .bind(node)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| r.try_get::<String, _>("user_name"))
            .transpose()?;
        if owner.as_deref() != Some(user) {
            return Ok(None);
        }
        let row = sqlx::query(
            "SELECT COUNT(*) AS n, MAX(received_at) AS last FROM events WHERE node_id = $1",
        )
        .bind(node)
        .fetch_one(&self.pool)
        .await?;
        Ok(Some(casefile_core::api::DeviceRecord {
            node_id: node.to_string(),
            events: u64::try_from(row.try_get::<i64, _>("n")?).unwrap_or(0),
            last_received_at: row.try_get::<Option<i64>, _>("last")?,
        }))
    }

    /// The administrator's settings (defaults where none was set).
    pub async fn settings(&self) -> Result<casefile_core::api::Settings, sqlx::Error> {
        let shared = sqlx::query("SELECT value FROM settings WHERE name = 'shared_devices'")
            .fetch_optional(&self.pool)
            .await?
            .map(|r| r.try_get::<String, _>("value"))
            .transpose()?;
        Ok(casefile_core::api::Settings {
            shared_devices: shared.as_deref() == Some("true"),
        })
    }

    /// Stores the administrator's settings.
    pub async fn set_settings(
        &self,
        settings: casefile_core::api::Settings,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO settings (name, value) VALUES ('shared_devices', $1) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        )
        .bind(if settings.shared_devices {
            "true"
        } else {
            "false"
        })
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The enabled members of `teams`, by name, each with their teams among
    /// `teams`.
    pub async fn people(
        &self,
        teams: &[String],
    ) -> Result<Vec<casefile_core::api::Person>, sqlx::Error> {
        let mut sql = Sql::new(
            "SELECT u.name AS name, u.display_name AS display_name, u.role AS role, \
             m.team_id AS team_id FROM team_members m JOIN users u ON u.name = m.user_name \
             WHERE u.disabled = 0",
        );
        sql.teams(Some(teams)).push(" ORDER BY u.name, m.team_id");
        let mut people: Vec<casefile_core::api::Person> = Vec::new();
        for row in sql.query().fetch_all(&self.pool).await? {
            let name: String = row.try_get("name")?;
            let team: String = row.try_get("team_id")?;
            match people.last_mut() {
                Some(p) if p.name == name => p.teams.push(team),
                _ => people.push(casefile_core::api::Person {
                    display_name: row.try_get("display_name")?,
                    role: casefile_core::access::Role::parse(&row.try_get::<String, _>("role")?)
                        .unwrap_or(casefile_core::access::Role::Caseworker),
                    teams: vec![team],
                    name,
                }),
            }
        }
        Ok(people)
    }

    /// The team a case belongs to (`None`: no such case).
    pub async fn case_team(&self, id: &str) -> Result<Option<String>, sqlx::Error> {
        sqlx::query("SELECT team_id FROM cases WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| r.try_get("team_id"))
            .transpose()
    }

    /// One case, tombstones included (the client shows "deleted").
    pub async fn get_case(&self, id: &str) -> Result<Option<Case>, sqlx::Error> {
        let row = sqlx::query(&format!("SELECT {CASE_COLUMNS} FROM cases WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(case_from_row).transpose()
    }

    /// A case's notes, oldest first.
    pub async fn notes_for(
        &self,
        case_id: &str,
        after: Option<(i64, String)>,
        limit: u32,
    ) -> Result<Vec<Note>, sqlx::Error> {
        // Keyset paging in the list's own order: after (created_at, id).
        let (at, id) = after.unwrap_or((i64::MIN, String::new()));
        let rows = sqlx::query(
            "SELECT id, case_id, body, author, created_at FROM notes WHERE case_id = $1 \
             AND (created_at > $2 OR (created_at = $2 AND id > $3)) \
             ORDER BY created_at, id LIMIT $4",
        )
        .bind(case_id)
        .bind(at)
        .bind(id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Note {
                    id: row.try_get("id")?,
                    case_id: row.try_get("case_id")?,
                    body: row.try_get("body")?,
                    author: row.try_get("author")?,
                    created_at: row.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// Inserts notes in one transaction.
    pub async fn insert_notes(&self, notes: &[Note]) -> Result<(), sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        for n in notes {
            sqlx::query(
                "INSERT INTO notes (id, case_id, body, author, created_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(n.id.as_str())
            .bind(n.case_id.as_str())
            .bind(n.body.as_str())
            .bind(n.author.as_str())
            .bind(n.created_at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await
    }

    /// Counts by status and priority, and the most recently updated cases.
    pub async fn dashboard(
        &self,
        recent: u32,
        teams: Option<&[String]>,
    ) -> Result<Dashboard, sqlx::Error> {
        let mut by_status: Vec<Count<CaseStatus>> = CaseStatus::ALL
            .iter()
            .map(|&key| Count { key, count: 0 })
            .collect();
        let mut by_priority: Vec<Count<Priority>> = Priority::ALL
            .iter()
            .map(|&key| Count { key, count: 0 })
            .collect();
        let mut sql =
            Sql::new("SELECT status, priority, COUNT(*) AS n FROM cases WHERE deleted = 0");
        sql.teams(teams).push(" GROUP BY status, priority");
        let rows = sql.query().fetch_all(&self.pool).await?;
        let mut total = 0;
        for row in rows {
            let n: i64 = row.try_get("n")?;
            let status: String = row.try_get("status")?;
            let priority: String = row.try_get("priority")?;
            total += n;
            if let Some(c) = by_status.iter_mut().find(|c| c.key.as_str() == status) {
                c.count += n;
            }
            if let Some(c) = by_priority.iter_mut().find(|c| c.key.as_str() == priority) {
                c.count += n;
            }
        }
        let recent = self
            .list_cases(&CaseFilter {
                limit: recent,
                teams: teams.map(<[String]>::to_vec),
                ..CaseFilter::default()
            })
            .await?
            .items;
        Ok(Dashboard {
            total,
            by_status,
            by_priority,
            recent,
        })
    }

    /// Number of cases, tombstones included.
    pub async fn count_cases(&self) -> Result<i64, sqlx::Error> {
        sqlx::query("SELECT COUNT(*) AS n FROM cases")
            .fetch_one(&self.pool)
            .await?
            .try_get("n")
    }

    /// Inserts cases in one transaction.
    pub async fn insert_cases(&self, cases: &[Case]) -> Result<(), sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        for c in cases {
            write_case(&mut tx, c, false).await?;
        }
        tx.commit().await
    }
}

/// Records that `cases` may have changed readability for `users`, in the
/// caller's transaction.
pub async fn record_access(
    conn: &mut sqlx::AnyConnection,
    users: &[String],
    cases: &[String],
    now: i64,
) -> Result<(), sqlx::Error> {
    for user in users {
        for case in cases {
            sqlx::query("INSERT INTO access_changes (user_name, case_id, at) VALUES ($1, $2, $3)")
                .bind(user.as_str())
                .bind(case.as_str())
                .bind(now)
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(())
}

/// A pull page: events after the cursor up to the log's end, of cases in
/// the reader's teams (or of the named cases: a backfill), in log order.
///
/// The team test is a lookup per event (the case by its primary key), not a
/// join: the only table to walk is the log, along its order, so the page
/// stops at its end whatever the planner knows. A join let SQLite start
/// from the teams' cases and sort every event of those teams for every
/// page: a supervisor's new device spent seconds on a 10,000-case catch-up.
fn events_after_sql(
    after: i64,
    limit: i64,
    teams: &[String],
    end: i64,
    cases: Option<&[String]>,
) -> Sql {
    let mut sql = Sql::new(
        "SELECT e.seq AS seq, e.version AS version, e.body AS body FROM events e WHERE e.seq > ",
    );
    sql.bind(Arg::Int(after))
        .push(" AND e.seq <= ")
        .bind(Arg::Int(end));
    sql.is_in(
        " AND (SELECT c.team_id FROM cases c WHERE c.id = e.aggregate_id)",
        teams,
    );
    if let Some(cases) = cases {
        sql.is_in(" AND e.aggregate_id", cases);
    }
    sql.push(" ORDER BY e.seq LIMIT ").bind(Arg::Int(limit));
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How SQLite plans a supervisor's pull page over a seeded log.
    async fn pull_plan() -> String {
        let dir = std::env::temp_dir().join(format!("casefile-plan-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite:{}", dir.join("plan.db").display());
        let db = Db::connect(&url).await.unwrap();
        db.migrate().await.unwrap();
        // 2,000 cases, every 20th in north, 3 events each (as the demo seed
        // spreads them), written in two statements.
        sqlx::query(
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 1999) \
             INSERT INTO cases (id, title, description, status, priority, tags, created_at, \
             updated_at, version, team_id) SELECT 'case-' || i, 't', '', 'open', 'low', '[]', 0, 0, 3, \
             CASE WHEN i % 20 = 0 THEN 'north' ELSE 'south' END FROM n",
        )
        .execute(&db.pool)
        .await
        .unwrap();
        sqlx::query(
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 5999) \
             INSERT INTO events (id, aggregate_id, event_type, node_id, clock, base_version, \
             version, fields, body, received_at) SELECT 'event-' || i, 'case-' || (i / 3), \
             'case_updated', 'n', i, 0, i % 3 + 1, '', '{}', 0 FROM n",
        )
        .execute(&db.pool)
        .await
        .unwrap();
        let teams = ["north".to_string(), "south".to_string()];
        let mut sql = events_after_sql(3_000, 501, &teams, 6_000, None);
        sql.text.insert_str(0, "EXPLAIN QUERY PLAN ");
        let rows = sql.query().fetch_all(&db.pool).await.unwrap();
        let plan = rows
            .iter()
            .map(|r| r.try_get::<String, _>("detail").unwrap())
            .collect::<Vec<_>>()
            .join("\n");
        let _ = std::fs::remove_dir_all(&dir);
        plan
    }

    /// A supervisor's pull page walks the log in order and stops at the
    /// page's end, with no planner statistics (a fresh or just-seeded
    /// database has none): it must not gather and sort every event of her
    /// teams for every page.
    #[tokio::test]
    async fn a_pull_page_walks_the_log_in_order_without_planner_statistics() {
        let plan = pull_plan().await;
        assert!(
            !plan.contains("TEMP B-TREE"),
            "the page must not sort: {plan}"
        );
        assert!(plan.contains("PRIMARY KEY"), "the page walks seq: {plan}");
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern("50%_Off\\"), "%50\\%\\_off\\\\%");
    }

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        assert_eq!(parse_cursor("17:abc"), Some((17, "abc".into())));
        assert_eq!(parse_cursor("x:abc"), None);
        assert_eq!(parse_cursor("17:"), None);
        assert_eq!(parse_cursor("nocolon"), None);
    }
}
