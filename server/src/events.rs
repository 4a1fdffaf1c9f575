//! The write path (SPEC §2, §5): `POST /api/v1/events` applies a batch of
//! events in one transaction, idempotently, and `GET /api/v1/events` lets
//! clients pull what they have not seen.
//!
//! Per event: unreadable, altered (checksum) or invalid → `invalid` with the
//! reason; an id seen before → `duplicate`; based on an older version while
//! another device changed the same fields since → `conflict`; otherwise
//! applied as the aggregate's next version, and the projections (cases,
//! notes) are updated in the same transaction. Ingestion is serialised, so
//! the pull cursor (`seq`) only ever grows in commit order.

use crate::db::{case_from_row, write_case, Db, CASE_COLUMNS};
use crate::error::ApiError;
use crate::AppState;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use casefile_core::access::{authorize, new_case_team, Actor, CaseAccess};
use casefile_core::api::{
    Case, CaseStatus, PullResponse, PulledEvent, PushRequest, PushResponse, PushResult, PushStatus,
};
use casefile_core::event::{
    apply, clock_acceptable, judge, projected_time, replay, Applied, CaseView, DomainEvent,
    EventData, Verdict,
};
use casefile_core::sync::access::BACKFILL_CASES;
use serde::Deserialize;
use serde_json::Value;
use sqlx::{AnyConnection, Row};
use std::collections::{BTreeSet, HashMap};

/// One ingestion at a time in this process: keeps `seq` in commit order.
/// On PostgreSQL the database's advisory lock [`INGEST_LOCK`] does the same
/// across every instance; this one spares it the waiting connections.
static INGEST: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
/// The advisory lock every instance takes to ingest (an arbitrary number,
/// the same everywhere).
const INGEST_LOCK: i64 = 0x6361_7365_6669_6c65;
/// How long an idempotency key answers with its first response (7 days, as
/// long as a device may sit offline with its queue before a retry).
pub const IDEMPOTENCY_RETENTION_MS: i64 = 7 * 24 * 60 * 60 * 1000;

/// Longest `Idempotency-Key` accepted.
const MAX_KEY_LEN: usize = 200;
/// Most events in one push.
pub const MAX_BATCH: usize = 1_000;

fn result(
    id: &str,
    status: PushStatus,
    version: Option<i64>,
    message: Option<String>,
) -> PushResult {
    PushResult {
        message,
        ..PushResult::new(id, status, version)
    }
}

fn invalid(id: &str, message: impl Into<String>) -> PushResult {
    result(id, PushStatus::Invalid, None, Some(message.into()))
}

/// What a batch's transaction has already read or written, so that an event
/// does not ask the database again for what an earlier one in the batch
/// made known: every query is a round trip to the database's thread, and a
/// device back from a long offline session sends many events per case.
#[derive(Default)]
struct Known {
    /// Events stored before or during this batch: id → version.
    events: HashMap<String, i64>,
    /// Each case as it stands in the transaction (`None`: no such case).
    cases: HashMap<String, Option<Case>>,
    /// Each case's latest Lamport stamp among its stored events.
    latest: HashMap<String, Option<(u64, String)>>,
    /// Each case's team, assignee and status, as stored (access checks).
    access: HashMap<String, Option<(String, CaseAccess)>>,
    /// Each team's members.
    members: HashMap<String, Vec<String>>,
    /// Device ids known to belong to the actor in this batch.
    nodes: HashMap<String, String>,
    /// The teams of the cases this batch changed (who hears of it live).
    touched: BTreeSet<String>,
    /// The highest clock stored (new clocks may lead it only so far).
    highest_clock: u64,
    /// Cases to fold again at the batch's end (an event arrived behind).
    refold: BTreeSet<String>,
}

impl Known {
    /// Reads which of `ids` are stored already, in one query per 500.
    async fn load_events(
        &mut self,
        conn: &mut AnyConnection,
        ids: &[&str],
    ) -> Result<(), sqlx::Error> {
        for chunk in ids.chunks(500) {
            let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT id, version FROM events WHERE id IN ({})",
                marks.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(*id);
            }
            for row in query.fetch_all(&mut *conn).await? {
                self.events
                    .insert(row.try_get("id")?, row.try_get("version")?);
            }
        }
        Ok(())
    }

    async fn case(
        &mut self,
        conn: &mut AnyConnection,
        id: &str,
    ) -> Result<Option<Case>, sqlx::Error> {
        if let Some(case) = self.cases.get(id) {
            return Ok(case.clone());
        }
        let case = load_case(conn, id).await?;
        self.cases.insert(id.to_string(), case.clone());
        Ok(case)
    }

    /// Whether the case already has an event that sorts after `event` (a
    /// later Lamport stamp, compared as core compares them): one device's
    /// changes arriving out of order, as when the worker replays an older
    /// queued push after a newer one went straight through. Such an event
    /// goes underneath, as on every device.
    async fn arrives_behind(
        &mut self,
        conn: &mut AnyConnection,
        event: &DomainEvent,
    ) -> Result<bool, sqlx::Error> {
        let id = event.aggregate_id.as_str();
        if !self.latest.contains_key(id) {
            let latest = latest_stamp(conn, id).await?;
            self.latest.insert(id.to_string(), latest);
        }
        Ok(self.latest[id].as_ref().is_some_and(|(clock, node)| {
            (*clock, node.as_str()) > (event.clock, event.node_id.as_str())
        }))
    }

    /// Why `actor` may not apply `event` (SPEC §10), or `None`: the device
    /// id must be theirs (bound on first use), and core's rule must allow
    /// the change against the case as the server stores it.
    async fn denied(
        &mut self,
        conn: &mut AnyConnection,
        actor: &Actor,
        event: &DomainEvent,
        data: &EventData,
        now: i64,
    ) -> Result<Option<&'static str>, sqlx::Error> {
        let node = event.node_id.as_str();
        if !self.nodes.contains_key(node) {
            let owner: Option<String> =
                sqlx::query("SELECT user_name FROM devices WHERE node_id = $1")
                    .bind(node)
                    .fetch_optional(&mut *conn)
                    .await?
                    .map(|r| r.try_get("user_name"))
                    .transpose()?;
            let owner = match owner {
                Some(o) => o,
                None => {
                    sqlx::query(
                        "INSERT INTO devices (node_id, user_name, bound_at) VALUES ($1, $2, $3)",
                    )
                    .bind(node)
                    .bind(actor.user.as_str())
                    .bind(now)
                    .execute(&mut *conn)
                    .await?;
                    actor.user.clone()
                }
            };
            self.nodes.insert(node.to_string(), owner);
        }
        if self.nodes[node] != actor.user {
            return Ok(Some("this device id belongs to another user"));
        }
        let id = event.aggregate_id.as_str();
        if !self.access.contains_key(id) {
            let row = sqlx::query("SELECT team_id, assignee, status FROM cases WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?;
            let access = match row {
                None => None,
                Some(r) => {
                    let team: String = r.try_get("team_id")?;
                    let status: String = r.try_get("status")?;
                    Some((
                        team.clone(),
                        CaseAccess {
                            team,
                            assignee: r.try_get("assignee")?,
                            status: status.parse().unwrap_or(CaseStatus::Open),
                        },
                    ))
                }
            };
            self.access.insert(id.to_string(), access);
        }
        let case = self.access[id].as_ref().map(|(_, a)| a.clone());
        if case.is_none() && !matches!(data, EventData::CaseCreated(_)) {
            // No such case (yet): the judge says so, with the code that lets
            // the device tell an early arrival (issue 20). Nothing leaks.
            return Ok(None);
        }
        let new_team = new_case_team(actor, data);
        // Members of the team the case is in after the event: a move names
        // its new team.
        let team = moves_to(data)
            .map(str::to_string)
            .filter(|_| case.is_some())
            .or_else(|| case.as_ref().map(|c| c.team.clone()))
            .or_else(|| new_team.map(str::to_string));
        let members = match &team {
            Some(t) => self.members_of(conn, t).await?,
            None => Vec::new(),
        };
        Ok(authorize(actor, case.as_ref(), new_team, data, &members)
            .err()
            .map(|d| d.reason()))
    }

    async fn members_of(
        &mut self,
        conn: &mut AnyConnection,
        team: &str,
    ) -> Result<Vec<String>, sqlx::Error> {
        if let Some(m) = self.members.get(team) {
            return Ok(m.clone());
        }
        let members = sqlx::query("SELECT user_name FROM team_members WHERE team_id = $1")
            .bind(team)
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|r| r.try_get::<String, _>("user_name"))
            .collect::<Result<Vec<_>, _>>()?;
        self.members.insert(team.to_string(), members.clone());
        Ok(members)
    }

    /// Records an event stored and the case it made.
    fn stored(&mut self, event: &DomainEvent, version: i64, case: &Case) {
        self.events.insert(event.id.clone(), version);
        self.cases.insert(case.id.clone(), Some(case.clone()));
        let stamp = (event.clock, event.node_id.clone());
        let latest = self.latest.entry(event.aggregate_id.clone()).or_default();
        if latest.as_ref().is_none_or(|l| *l < stamp) {
            *latest = Some(stamp);
        }
    }
}

/// The latest stamp among a case's stored events: the highest clock from
/// the database (the `events_stamp` index), the node order compared here,
/// byte for byte like core's Lamport order (a database collation need not
/// be).
async fn latest_stamp(
    conn: &mut AnyConnection,
    id: &str,
) -> Result<Option<(u64, String)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT clock, node_id FROM events WHERE aggregate_id = $1 \
         AND clock = (SELECT MAX(clock) FROM events WHERE aggregate_id = $1)",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let mut latest: Option<(u64, String)> = None;
    for row in rows {
        let stamp = (
            row.try_get::<i64, _>("clock")? as u64,
            row.try_get::<String, _>("node_id")?,
        );
        if latest.as_ref().is_none_or(|l| *l < stamp) {
            latest = Some(stamp);
        }
    }
    Ok(latest)
}

async fn load_case(conn: &mut AnyConnection, id: &str) -> Result<Option<Case>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {CASE_COLUMNS} FROM cases WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(case_from_row).transpose()
}

/// Applies one event inside the batch's transaction.
/// An event that reads, is unaltered and is valid, or its refusal.
fn check(raw: Value) -> Result<(DomainEvent, EventData), PushResult> {
    let raw_id = raw
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let event: DomainEvent = serde_json::from_value(raw)
        .map_err(|e| invalid(&raw_id, format!("not a valid event: {e}")))?;
    event
        .verify()
        .map_err(|e| invalid(&event.id, e.to_string()))?;
    let data = event
        .validate()
        .map_err(|e| invalid(&event.id, e.to_string()))?;
    Ok((event, data))
}

/// Applies one checked event inside the batch's transaction.
async fn ingest_one(
    conn: &mut AnyConnection,
    known: &mut Known,
    event: DomainEvent,
    data: EventData,
    now: i64,
    actor: Option<&Actor>,
) -> Result<PushResult, sqlx::Error> {
    let id = event.id.clone();
    if let Some(version) = known.events.get(&id) {
        return Ok(result(&id, PushStatus::Duplicate, Some(*version), None));
    }
    if let Err(why) = clock_acceptable(event.clock, known.highest_clock) {
        return Ok(invalid(&id, why));
    }
    if let Some(actor) = actor {
        if let Some(reason) = known.denied(conn, actor, &event, &data, now).await? {
            crate::auth::log_denial(
                conn,
                now,
                &actor.user,
                event.event_type.as_str(),
                &event.aggregate_id,
                reason,
            )
            .await?;
            return Ok(result(
                &id,
                PushStatus::Forbidden,
                None,
                Some(reason.to_string()),
            ));
        }
    }
    if let EventData::NoteAdded(note) = &data {
        // A note id is the note's key: a second use is this event's own
        // refusal (it was a unique-key error that failed the whole batch).
        let taken = sqlx::query("SELECT 1 AS one FROM notes WHERE id = $1")
            .bind(note.note_id.as_str())
            .fetch_optional(&mut *conn)
            .await?
            .is_some();
        if taken {
            return Ok(invalid(
                &id,
                format!("note_id {} is another note's already", note.note_id),
            ));
        }
    }
    let current = known.case(conn, &event.aggregate_id).await?;
    let current_version = current.as_ref().map(|c| c.version as u64);
    let base = event.base_version as i64;
    let mut since_base = Vec::new();
    if current_version.is_some_and(|v| v > event.base_version) {
        let rows = sqlx::query(
            "SELECT id, node_id, fields FROM events WHERE aggregate_id = $1 AND version > $2",
        )
        .bind(event.aggregate_id.as_str())
        .bind(base)
        .fetch_all(&mut *conn)
        .await?;
        for row in rows {
            since_base.push(Applied {
                id: row.try_get("id")?,
                node_id: row.try_get("node_id")?,
                fields: serde_json::from_str(&row.try_get::<String, _>("fields")?)
                    .unwrap_or_default(),
            });
        }
    }
    let fields = data.fields();
    let version = match judge(&event, &data, current_version, &since_base) {
        Verdict::Refuse(reason) => return Ok(invalid(&id, reason)),
        Verdict::Missing { code, reason } => {
            return Ok(PushResult {
                code: Some(code),
                ..invalid(&id, reason)
            })
        }
        Verdict::Conflict { with, current } => {
            return Ok(PushResult {
                conflicts_with: with,
                ..result(
                    &id,
                    PushStatus::Conflict,
                    Some(current as i64),
                    Some(format!(
                        "another device changed {} since version {base}",
                        fields.iter().copied().collect::<Vec<_>>().join(", ")
                    )),
                )
            })
        }
        Verdict::Apply { version } => version as i64,
    };
    let mut applied = event.clone();
    applied.version = version as u64;
    let exists = current.is_some();
    let before = current.map(|case| CaseView {
        case,
        notes: Vec::new(),
    });
    // An event behind a later stamp belongs underneath: the case is folded
    // again in stamp order, once per batch, at the batch's end (however
    // many such events the batch has); until then it stands as applied on
    // top, or as it was if it does not apply on top.
    let behind = known.arrives_behind(conn, &event).await?;
    let mut after = match (apply(before.clone(), &applied, &data), before) {
        (Some(after), _) => after,
        (None, Some(before)) if behind => before,
        (None, _) => return Ok(invalid(&id, "the event does not apply to this case")),
    };
    if behind {
        known.refold.insert(event.aggregate_id.clone());
    }
    clamp_times(&mut after.case, now);
    write_case(conn, &after.case, exists).await?;
    let team = match (exists, actor) {
        (false, Some(actor)) => {
            let team = new_case_team(actor, &data).unwrap_or_default().to_string();
            sqlx::query("UPDATE cases SET team_id = $1 WHERE id = $2")
                .bind(team.as_str())
                .bind(event.aggregate_id.as_str())
                .execute(&mut *conn)
                .await?;
            Some(team)
        }
        _ => known
            .access
            .get(&event.aggregate_id)
            .cloned()
            .flatten()
            .map(|(t, _)| t),
    };
    let team = match (team, moves_to(&data)) {
        (Some(from), Some(to)) if from != to => {
            move_case(conn, known, &event.aggregate_id, &from, to, now).await?;
            known.touched.insert(from);
            Some(to.to_string())
        }
        (team, _) => team,
    };
    if let Some(team) = team {
        known.touched.insert(team.clone());
        let access = CaseAccess {
            team: team.clone(),
            assignee: after.case.assignee.clone(),
            status: after.case.status,
        };
        known
            .access
            .insert(event.aggregate_id.clone(), Some((team, access)));
    }
    if let EventData::NoteAdded(note) = &data {
        sqlx::query(
            "INSERT INTO notes (id, case_id, body, author, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(note.note_id.as_str())
        .bind(event.aggregate_id.as_str())
        .bind(note.body.as_str())
        .bind(note.author.as_str())
        .bind(projected_time(event.timestamp, now as u64) as i64)
        .execute(&mut *conn)
        .await?;
    }
    let field_list: BTreeSet<&str> = fields;
    sqlx::query(
        "INSERT INTO events (id, aggregate_id, event_type, node_id, clock, base_version, version, fields, body, received_at, actor) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(id.as_str())
    .bind(event.aggregate_id.as_str())
    .bind(event.event_type.as_str())
    .bind(event.node_id.as_str())
    .bind(event.clock as i64)
    .bind(base)
    .bind(version)
    .bind(serde_json::to_string(&field_list).unwrap_or_else(|_| "[]".into()))
    .bind(serde_json::to_string(&event).unwrap_or_default())
    .bind(now)
    .bind(actor.map_or("", |a| a.user.as_str()))
    .execute(&mut *conn)
    .await?;
    known.highest_clock = known.highest_clock.max(event.clock);
    known.stored(&event, version, &after.case);
    Ok(result(&id, PushStatus::Applied, Some(version), None))
}

/// The team an event moves its case to, if it says one.
fn moves_to(data: &EventData) -> Option<&str> {
    match data {
        EventData::CaseUpdated(p) => p.team.as_deref(),
        _ => None,
    }
}

/// Moves a case to another team in the ingesting transaction, and records
/// the access change for every member of either team (SPEC §10): their
/// next pull says `granted` or `revoked`.
async fn move_case(
    conn: &mut AnyConnection,
    known: &mut Known,
    case: &str,
    from: &str,
    to: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE cases SET team_id = $1 WHERE id = $2")
        .bind(to)
        .bind(case)
        .execute(&mut *conn)
        .await?;
    let mut users = known.members_of(conn, from).await?;
    users.extend(known.members_of(conn, to).await?);
    users.sort();
    users.dedup();
    crate::db::record_access(conn, &users, &[case.to_string()], now).await
}

/// The case as all its stored events make it, folded in stamp order like
/// every device folds them. `None` when they do not make a case (cases
/// written without events).
async fn refold(conn: &mut AnyConnection, case: &str) -> Result<Option<CaseView>, sqlx::Error> {
    REFOLDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let rows = sqlx::query("SELECT version, body FROM events WHERE aggregate_id = $1")
        .bind(case)
        .fetch_all(&mut *conn)
        .await?;
    let mut events = Vec::with_capacity(rows.len());
    for row in rows {
        let body: String = row.try_get("body")?;
        let Ok(mut event) = serde_json::from_str::<DomainEvent>(&body) else {
            tracing::error!(aggregate = %case, "stored event does not parse");
            return Ok(None);
        };
        event.version = row.try_get::<i64, _>("version")? as u64;
        events.push(event);
    }
    Ok(replay(&events))
}

/// Cases folded again since start (each at most once per batch).
static REFOLDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How many times a case was folded again from its stored events.
pub fn refolds() -> u64 {
    REFOLDS.load(std::sync::atomic::Ordering::Relaxed)
}

/// A device clock far in the future does not pin the case at the top of
/// every list: its times are clamped in the projection.
fn clamp_times(case: &mut Case, now: i64) {
    let latest = projected_time(u64::MAX, now as u64) as i64;
    case.updated_at = case.updated_at.min(latest);
    case.created_at = case.created_at.min(latest);
}

async fn latest_cursor(conn: &mut AnyConnection) -> Result<i64, sqlx::Error> {
    sqlx::query("SELECT COALESCE(MAX(seq), 0) AS n FROM events")
        .fetch_one(&mut *conn)
        .await?
        .try_get("n")
}

/// A transaction that takes its turn with ingestion (this process's mutex
/// and, on PostgreSQL, every instance's advisory lock): what changes who
/// may read a case commits in order with the events, so no reader's
/// cursor passes an event its access change has not recorded.
pub async fn log_turn(
    db: &Db,
) -> Result<
    (
        tokio::sync::MutexGuard<'static, ()>,
        sqlx::Transaction<'static, sqlx::Any>,
    ),
    sqlx::Error,
> {
    let serial = INGEST.lock().await;
    let mut tx = db.pool().begin().await?;
    if db.backend() == crate::db::Backend::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(INGEST_LOCK)
            .execute(&mut *tx)
            .await?;
    }
    Ok((serial, tx))
}

/// Applies a batch in one transaction. With an idempotency key, a batch seen
/// before gets its first answer again, and nothing is applied twice.
/// `actor`: who sends the batch (each event is checked against what they
/// may do); `None` only for the server's own writes (the demo seed).
/// Idempotency keys are the actor's own: another user's same key is another
/// batch.
/// Returns the answer and the teams of the cases the batch changed (none when a
/// repeated idempotency key answered from before).
pub async fn ingest(
    db: &Db,
    events: Vec<Value>,
    key: Option<Keyed<'_>>,
    now: i64,
    actor: Option<&Actor>,
) -> Result<(PushResponse, Vec<String>), IngestError> {
    let retention_ms = key.map_or(IDEMPOTENCY_RETENTION_MS, |k| k.retention_ms);
    let key = key.map(|k| k.key);
    let scoped = key.map(|k| match actor {
        Some(a) => format!("{}\u{1f}{k}", a.user),
        None => k.to_string(),
    });
    let key = scoped.as_deref();
    // What the key is bound to: the batch as sent.
    let body_hash = blake3::hash(
        serde_json::to_string(&events)
            .unwrap_or_default()
            .as_bytes(),
    )
    .to_hex()
    .to_string();
    // Every instance on the database takes turns here, so `seq` commits in
    // order (no reader's cursor passes an event still to commit) and the
    // judge sees every committed event. Held until commit.
    let (_serial, mut tx) = log_turn(db).await?;
    if let Some(key) = key {
        sqlx::query("DELETE FROM idempotency WHERE created_at < $1")
            .bind(now.saturating_sub(retention_ms))
            .execute(&mut *tx)
            .await?;
        if let Some(row) = sqlx::query("SELECT response, body_hash FROM idempotency WHERE key = $1")
            .bind(key)
            .fetch_optional(&mut *tx)
            .await?
        {
            let stored: String = row.try_get("body_hash")?;
            if !stored.is_empty() && stored != body_hash {
                return Err(IngestError::KeyReused);
            }
            let text: String = row.try_get("response")?;
            if let Ok(response) = serde_json::from_str(&text) {
                return Ok((response, Vec::new()));
            }
        }
    }
    let mut results = Vec::with_capacity(events.len());
    let checked: Vec<_> = events.into_iter().map(check).collect();
    let ids: Vec<&str> = checked
        .iter()
        .flatten()
        .map(|(e, _)| e.id.as_str())
        .collect();
    let mut known = Known::default();
    known.load_events(&mut tx, &ids).await?;
    known.highest_clock = sqlx::query("SELECT COALESCE(MAX(clock), 0) AS n FROM events")
        .fetch_one(&mut *tx)
        .await?
        .try_get::<i64, _>("n")?
        .max(0) as u64;
    for event in checked {
        results.push(match event {
            Ok((event, data)) => ingest_one(&mut tx, &mut known, event, data, now, actor).await?,
            Err(refused) => refused,
        });
    }
    for case in std::mem::take(&mut known.refold) {
        if let Some(mut view) = refold(&mut tx, &case).await? {
            clamp_times(&mut view.case, now);
            write_case(&mut tx, &view.case, true).await?;
        }
    }
    let response = PushResponse {
        results,
        cursor: latest_cursor(&mut tx).await?,
    };
    if let Some(key) = key {
        sqlx::query(
            "INSERT INTO idempotency (key, response, created_at, body_hash) VALUES ($1, $2, $3, $4)",
        )
        .bind(key)
        .bind(serde_json::to_string(&response).unwrap_or_default())
        .bind(now)
        .bind(&body_hash)
        .execute(&mut *tx)
        .await?;
    }
    let teams: Vec<String> = known.touched.into_iter().collect();
    if db.backend() == crate::db::Backend::Postgres && !teams.is_empty() {
        // Delivered to every instance's listener when (and only if) the
        // transaction commits.
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(crate::live::CHANNEL)
            .bind(crate::live::Commit::payload(
                db.instance(),
                response.cursor,
                &teams,
            ))
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok((response, teams))
}

/// A batch's idempotency key, and how long keys answer.
#[derive(Debug, Clone, Copy)]
pub struct Keyed<'a> {
    /// The key as the client sent it.
    pub key: &'a str,
    /// How long a key answers with its first response (ms).
    pub retention_ms: i64,
}

/// Why a batch was not ingested.
#[derive(Debug)]
pub enum IngestError {
    /// The database failed (nothing was applied).
    Db(sqlx::Error),
    /// The idempotency key answered another batch (422).
    KeyReused,
}

impl From<sqlx::Error> for IngestError {
    fn from(e: sqlx::Error) -> Self {
        IngestError::Db(e)
    }
}

impl From<IngestError> for ApiError {
    fn from(e: IngestError) -> Self {
        match e {
            IngestError::Db(e) => e.into(),
            IngestError::KeyReused => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "This Idempotency-Key was used for another batch; send a new key for new events.",
            ),
        }
    }
}

impl std::fmt::Display for IngestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IngestError::Db(e) => write!(f, "database: {e}"),
            IngestError::KeyReused => f.write_str("idempotency key reused for another batch"),
        }
    }
}

impl std::error::Error for IngestError {}

/// `POST /api/v1/events`.
#[utoipa::path(post, path = "/api/v1/events", tag = "events",
    params(("Idempotency-Key" = Option<String>, Header, max_length = 200,
        description = "Repeats of the same batch with this key get the first answer")),
    request_body = PushRequest,
    responses((status = 200, description = "One result per event, in order", body = PushResponse),
        crate::openapi::Errors))]
pub async fn push(
    State(state): State<AppState>,
    axum::Extension(me): axum::Extension<crate::auth::SessionInfo>,
    headers: HeaderMap,
    body: Result<Json<PushRequest>, JsonRejection>,
) -> Result<Json<PushResponse>, ApiError> {
    let Json(request) = body.map_err(|e| {
        let status = e.status();
        let code = match status {
            StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
            StatusCode::UNPROCESSABLE_ENTITY => "invalid_batch",
            _ => "invalid_json",
        };
        ApiError::new(status, code, e.body_text())
    })?;
    if request.events.len() > MAX_BATCH {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "batch_too_large",
            format!(
                "at most {MAX_BATCH} events per push, got {}",
                request.events.len()
            ),
        ));
    }
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .filter(|k| !k.is_empty() && k.len() <= MAX_KEY_LEN)
                .ok_or_else(|| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "invalid_idempotency_key",
                        format!("Idempotency-Key must be 1–{MAX_KEY_LEN} visible characters"),
                    )
                })?,
        ),
    };
    let actor = Actor {
        user: me.user,
        role: me.role,
        teams: me.teams,
    };
    let (response, teams) = ingest(
        &state.db,
        request.events,
        key.map(|key| Keyed {
            key,
            retention_ms: state.idempotency_retention_ms,
        }),
        state.now(),
        Some(&actor),
    )
    .await?;
    // This instance's sockets hear of it here; the others' through the
    // database's notice (PostgreSQL).
    if !teams.is_empty() {
        // No receivers is fine: nobody is listening live.
        let _ = state.live.send(crate::live::Commit {
            cursor: response.cursor,
            teams: teams.into(),
        });
    }
    Ok(Json(response))
}

/// The pull endpoint's query string.
#[derive(Debug, Default, Deserialize)]
pub struct PullParams {
    after: Option<String>,
    limit: Option<String>,
    access_after: Option<String>,
    cases: Option<String>,
}

/// Reads a cursor parameter: a whole number ≥ 0 (absent: 0).
fn cursor_param(name: &str, value: Option<&str>) -> Result<i64, ApiError> {
    match value {
        None => Ok(0),
        Some(s) => s.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
            ApiError::invalid_query(format!(
                "{name} must be a cursor (a whole number ≥ 0), got `{s}`"
            ))
        }),
    }
}

/// Reads `cases`: 1 to [`BACKFILL_CASES`] case ids (UUIDs), comma-separated.
fn cases_param(value: &str) -> Result<Vec<String>, ApiError> {
    let ids: Vec<String> = value.split(',').map(str::to_string).collect();
    let bad = ids.len() > BACKFILL_CASES
        || ids
            .iter()
            .any(|id| uuid::Uuid::parse_str(id).is_err() || id.len() != 36);
    if bad {
        return Err(ApiError::invalid_query(format!(
            "cases must be 1–{BACKFILL_CASES} case ids (UUIDs), comma-separated"
        )));
    }
    Ok(ids)
}

/// Most events in one pull page.
pub const MAX_PULL: i64 = 1_000;
/// Most bytes of events in one pull page (1 MiB).
pub const MAX_PULL_BYTES: usize = 1 << 20;

/// `GET /api/v1/events?after=<cursor>&limit=<n>`.
#[utoipa::path(get, path = "/api/v1/events", tag = "events",
    params(
        ("after" = Option<i64>, Query, minimum = 0, description = "Cursor: events after it (default 0)"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 1000, description = "Most events (default 500)"),
        ("access_after" = Option<i64>, Query, minimum = 0, description = "Access cursor: access changes after it (default 0)"),
        ("cases" = Option<String>, Query, description = "A backfill: only these cases' events (1–50 UUIDs, comma-separated); no access changes"),
    ),
    responses((status = 200, description = "Events of the reader's teams after the cursor", body = PullResponse),
        crate::openapi::Errors))]
pub async fn pull(
    State(state): State<AppState>,
    axum::Extension(me): axum::Extension<crate::auth::SessionInfo>,
    params: Result<Query<PullParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<PullResponse>, ApiError> {
    let Query(p) = params.map_err(|e| ApiError::invalid_query(e.body_text()))?;
    let after = cursor_param("after", p.after.as_deref())?;
    let access_after = cursor_param("access_after", p.access_after.as_deref())?;
    let backfill = p.cases.as_deref().map(cases_param).transpose()?;
    let limit = i64::from(crate::routes::page_limit(
        p.limit.as_deref(),
        500,
        MAX_PULL as u32,
    )?);
    // Read the log's end first: every event up to it is committed, so a
    // page with nothing more to show may move the cursor there, past events
    // of cases this reader may not see, without skipping any it may.
    let end = latest_cursor(&mut *state.db.pool().acquire().await?).await?;
    // The access log's end, read before the events: a change recorded
    // after this is told in the next pull, never skipped.
    let access_end = state.db.latest_access().await?;
    let teams = crate::routes::readable_teams(&me);
    let rows = state
        .db
        .events_after(after, limit + 1, &teams, end, backfill.as_deref())
        .await?;
    // Access changes since the device's access cursor (not in a backfill):
    // each case named once, as readable now or not.
    let (mut granted, mut revoked, mut access_cursor) = (Vec::new(), Vec::new(), access_after);
    let mut access_more = false;
    // A device's first pull (both cursors 0) brings every case it may read
    // anyway: it starts at the access log's end, told nothing (a fresh
    // device of a user with a long access history would otherwise backfill
    // every case it is pulling already).
    let fresh = after == 0 && access_after == 0;
    if fresh {
        access_cursor = access_end;
    } else if backfill.is_none() {
        let changes = state
            .db
            .access_after(&me.user, access_after, limit + 1, &teams)
            .await?;
        access_more = changes.len() as i64 > limit;
        for (id, case, readable) in changes.into_iter().take(limit as usize) {
            access_cursor = id;
            if readable {
                granted.push(case);
            } else {
                revoked.push(case);
            }
        }
        if !access_more {
            access_cursor = access_end.max(access_after);
        }
        (granted, revoked) = casefile_core::sync::access::normalize(&granted, &revoked);
    }
    let mut has_more = rows.len() as i64 > limit;
    let mut events = Vec::with_capacity(rows.len());
    let mut bytes = 0;
    for row in rows.iter().take(limit as usize) {
        let body: String = row.try_get("body")?;
        // Pages are bounded by size as well as count; the first event
        // always goes (one event is far below the bound).
        bytes += body.len();
        if bytes > MAX_PULL_BYTES && !events.is_empty() {
            has_more = true;
            break;
        }
        let event = serde_json::from_str(&body).map_err(|e| {
            tracing::error!(error = %e, "stored event does not parse");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "a stored event is unreadable; it has been logged",
            )
        })?;
        events.push(PulledEvent {
            seq: row.try_get("seq")?,
            version: row.try_get("version")?,
            event,
        });
    }
    let next_cursor = if has_more {
        events.last().map_or(after, |e| e.seq)
    } else {
        end.max(after)
    };
    Ok(Json(PullResponse {
        events,
        next_cursor,
        has_more: has_more || access_more,
        granted,
        revoked,
        access_cursor,
        log_end: end,
    }))
}
