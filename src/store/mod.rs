//! The device's event store in IndexedDB (SPEC §5).
//!
//! Guarantees:
//! - `append` reads and ticks the persisted Lamport clock, reads the case's
//!   known server version, and writes the sealed event in **one read-write
//!   transaction**; IndexedDB runs such transactions one at a time per store,
//!   so two tabs never issue the same stamp.
//! - `receive` stores pulled events, applies the receive rule to the clock
//!   and moves the pull cursor in one transaction too.
//! - Every read verifies each record's checksum; a record that fails is moved
//!   to the quarantine store with the reason, reported, and never used; the
//!   pull cursor goes back to the start so the server's copy, if it has one,
//!   comes back.
//! - Each event keeps its sync state (core's `SyncState`, stored as the
//!   byte [`schema::kind_byte`] gives, in `synced`): nothing is ever
//!   deleted, so nothing is lost.
//! - All names and versions live in [`schema`].

pub mod schema;

use crate::idb::{self, from_js, to_js, Store, Tx};
use casefile_core::api::PulledEvent;
use casefile_core::event::{
    known_after_push, replay_from, CaseView, DomainEvent, EventData, EventHeader, LamportClock,
    Snapshot, Stamp, SNAPSHOT_EVERY,
};
use casefile_core::sync::receive::{self, CaseHeld, PageEvent, Write};
pub use casefile_core::sync::Change;
use casefile_core::sync::{StoreOp, SyncKind, SyncState, Tracking};
use schema::*;
use serde::{Deserialize, Serialize};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::IdbDatabase;

/// One stored event: the fields the indexes need, the local sync state, and
/// the sealed event itself as JSON text (so its checksum can be verified).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    /// The event id (the key).
    pub id: String,
    /// Index `aggregate_id`.
    pub aggregate_id: String,
    /// Index `event_type`.
    pub event_type: String,
    /// Index `timestamp`.
    pub timestamp: f64,
    /// With `node_id`, index `stamp`.
    pub clock: f64,
    /// With `clock`, index `stamp`.
    pub node_id: String,
    /// Index `synced`: 0 or 1 (booleans cannot be index keys).
    pub synced: u8,
    /// Push attempts so far.
    pub sync_attempts: u32,
    /// When the last push attempt happened (ms).
    pub last_sync_attempt: Option<f64>,
    /// The last push error, or why it was refused or overruled, for the user.
    pub sync_error: Option<String>,
    /// The sealed event.
    pub event: String,
    /// The case's server version after this event, once the server has it
    /// (added in schema 2; older records read as unknown).
    #[serde(default)]
    pub server_version: Option<f64>,
    /// For a conflict: the server's events it collided with.
    #[serde(default)]
    pub theirs: Vec<String>,
    /// The service worker's queue entry carrying it, while queued or dead.
    #[serde(default)]
    pub queue_id: Option<String>,
}

impl EventRecord {
    fn of(event: &DomainEvent) -> Self {
        EventRecord {
            id: event.id.clone(),
            aggregate_id: event.aggregate_id.clone(),
            event_type: event.event_type.as_str().to_string(),
            timestamp: event.timestamp as f64,
            clock: event.clock as f64,
            node_id: event.node_id.clone(),
            synced: kind_byte(SyncKind::Pending),
            sync_attempts: 0,
            last_sync_attempt: None,
            sync_error: None,
            event: serde_json::to_string(event).expect("events encode"),
            server_version: None,
            theirs: Vec::new(),
            queue_id: None,
        }
    }

    /// Where the event stands, as core's typed state. A byte no version
    /// wrote (a damaged record) reads as refused: shown, never resent.
    pub fn tracking(&self) -> Tracking {
        let reason = || self.sync_error.clone().unwrap_or_default();
        let state = match byte_kind(self.synced) {
            Some(SyncKind::Pending) => SyncState::Pending,
            Some(SyncKind::Queued) => SyncState::Queued {
                entry: self.queue_id.clone().unwrap_or_default(),
            },
            Some(SyncKind::Synced) => SyncState::Synced {
                version: self.server_version.map(|v| v as u64),
            },
            Some(SyncKind::Refused) => SyncState::Refused(reason()),
            Some(SyncKind::Overruled) => SyncState::Overruled(reason()),
            Some(SyncKind::Parked) => SyncState::Parked {
                theirs: self.theirs.clone(),
            },
            Some(SyncKind::Dead) => SyncState::Dead(reason()),
            None => SyncState::Refused(format!(
                "this record's sync state ({}) does not read",
                self.synced
            )),
        };
        let note = match state {
            SyncState::Pending | SyncState::Queued { .. } => self.sync_error.clone(),
            _ => None,
        };
        Tracking {
            state,
            attempts: self.sync_attempts,
            last_attempt: self.last_sync_attempt.map(|t| t as u64),
            note,
        }
    }

    /// Stores `t` in the record's fields.
    fn set_tracking(&mut self, t: &Tracking) {
        self.synced = kind_byte(t.state.kind());
        self.sync_error = t.message().map(str::to_string);
        self.sync_attempts = t.attempts;
        self.last_sync_attempt = t.last_attempt.map(|t| t as f64);
        match &t.state {
            SyncState::Queued { entry } => self.queue_id = Some(entry.clone()),
            SyncState::Synced { version } => {
                self.queue_id = None;
                if let Some(v) = version {
                    self.server_version = Some(*v as f64);
                }
            }
            SyncState::Parked { theirs } => self.theirs = theirs.clone(),
            SyncState::Pending => self.queue_id = None,
            _ => {}
        }
    }

    /// Its sync state's kind.
    pub fn kind(&self) -> SyncKind {
        // Straight from the byte (no `Tracking` built): pages and the
        // snapshot fold ask this of every record. A byte no version wrote
        // reads as refused, as in `tracking`.
        byte_kind(self.synced).unwrap_or(SyncKind::Refused)
    }

    /// Whether the event counts in the case's state: on the server, or on
    /// its way (pending here, queued or dead-lettered in the worker).
    pub fn is_live(&self) -> bool {
        self.kind().is_live()
    }

    /// Whether the event is not on the server yet but still meant to be.
    pub fn is_waiting(&self) -> bool {
        self.kind().is_waiting()
    }

    /// The event, if the record is intact: it parses, its checksum holds, and
    /// the index fields agree with it.
    pub fn open(&self) -> Result<DomainEvent, RecordDamage> {
        let event: DomainEvent = serde_json::from_str(&self.event)
            .map_err(|e| RecordDamage::Undecodable(e.to_string()))?;
        event.verify()?;
        if event.id != self.id || event.aggregate_id != self.aggregate_id {
            return Err(RecordDamage::Mismatch);
        }
        Ok(event)
    }
}

/// Why a stored record cannot be used (it goes to quarantine, saying so).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordDamage {
    /// Its event is not JSON of an event.
    #[error("undecodable event: {0}")]
    Undecodable(String),
    /// Its event fails its own checks (the checksum among them).
    #[error(transparent)]
    Altered(#[from] casefile_core::event::EventError),
    /// The record's id or case differ from its event's.
    #[error("the record's index fields do not match its event")]
    Mismatch,
}

/// A record set aside because it failed verification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quarantined {
    /// The record's id.
    pub id: String,
    /// Why it was set aside.
    pub reason: String,
    /// The record as it was, JSON.
    pub record: String,
    /// The record's key as stored, when its `id` is not text (a damaged
    /// record): what deletes it. Not kept in the quarantine store.
    #[serde(skip)]
    pub key: Option<JsValue>,
}

impl Quarantined {
    /// The key the record is stored under in the events store.
    fn stored_key(&self) -> JsValue {
        self.key.clone().unwrap_or_else(|| self.id.as_str().into())
    }
}

/// Something the store could not do. The kind comes from the browser's
/// own error (a `DOMException`'s name), never from matching its words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The origin is over its storage quota: nothing of this write was
    /// saved, and what was saved before stays.
    #[error("This device is out of storage space for Casefile; free some space. Nothing was saved, and nothing saved before is lost.")]
    Quota,
    /// Anything else the browser's IndexedDB reported.
    #[error("The local event store failed: {0}")]
    Failed(String),
    /// A sign-out cut this log to the person's unsent work: what was pulled
    /// for them is not stored (see [`EventStore::keep_only_unsent`]).
    #[error("You signed out on this device: what was downloaded for you was not kept.")]
    SignedOut,
}

impl StoreError {
    /// A browser exception, by its name.
    fn of_exception(name: &str, text: String) -> StoreError {
        match name {
            "QuotaExceededError" => StoreError::Quota,
            _ => StoreError::Failed(text),
        }
    }
}

impl From<JsValue> for StoreError {
    fn from(e: JsValue) -> Self {
        match e.dyn_ref::<web_sys::DomException>() {
            Some(d) => {
                StoreError::of_exception(&d.name(), format!("{}: {}", d.name(), d.message()))
            }
            None => StoreError::Failed(e.as_string().unwrap_or_else(|| format!("{e:?}"))),
        }
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Failed(e.to_string())
    }
}

fn err(e: impl Into<StoreError>) -> StoreError {
    e.into()
}

/// What [`EventStore::receive`] did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Received {
    /// The cases that got events new to this device.
    pub aggregates: Vec<String>,
    /// How many events were new here.
    pub added: usize,
    /// Events the server sent that failed verification (quarantined).
    pub bad: Vec<String>,
    /// Cases purged because their reader lost access.
    pub purged: Vec<String>,
    /// Unsent events of purged cases, kept and refused.
    pub refused: usize,
}

/// What a pulled page says about access: cases revoked since the access
/// cursor, and the cursor after them.
#[derive(Debug, Clone, Copy)]
pub struct AccessPage<'a> {
    /// Cases to purge.
    pub revoked: &'a [String],
    /// Store as the access cursor.
    pub cursor: i64,
}

/// A stored snapshot: the state after the events up to a stamp, as JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SnapshotRecord {
    json: String,
}

/// A case as this device sees it: the server's events and its own pending
/// ones, folded in stamp order.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalCase {
    /// The state.
    pub view: CaseView,
    /// Events of this case not yet on the server.
    pub pending: usize,
}

/// A handle on the store (one per tab; several may be open at once).
pub struct EventStore {
    db: IdbDatabase,
    /// This device's id, once read.
    node: std::cell::OnceCell<String>,
    /// The clock and known versions this tab last read or wrote, for
    /// [`append_on_hint`](Self::append_on_hint).
    hint: std::cell::RefCell<Option<AppendHint>>,
}

/// What an append needs from the store (the clock; the known server
/// version of each case it writes to), as this tab last saw it. Only a
/// guess: another tab, or a pull, may have moved either since, and the
/// append that uses it checks it in its own transaction.
#[derive(Debug, Clone, Default)]
struct AppendHint {
    clock: u64,
    /// A few cases' known versions, the most recently written last. A short
    /// list scanned in order: appends go to a handful of cases at a time,
    /// and a map would add its code to the first load.
    known: Vec<(String, u64)>,
}

impl AppendHint {
    /// How many cases it keeps.
    const CASES: usize = 16;

    fn known(&self, case: &str) -> Option<u64> {
        self.known.iter().find(|(c, _)| c == case).map(|(_, v)| *v)
    }

    fn remember(&mut self, case: &str, version: u64) {
        self.known.retain(|(c, _)| c != case);
        if self.known.len() == Self::CASES {
            self.known.remove(0);
        }
        self.known.push((case.to_string(), version));
    }
}

impl EventStore {
    /// Opens (creating or upgrading) the signed-in user's store (core's
    /// `device::events_db`: each user's log, clock and node id are their
    /// own) and makes sure it has a node id.
    /// A log a sign-out closed ([`keep_only_unsent`](Self::keep_only_unsent))
    /// is open again: the user's own page is running.
    pub async fn open() -> Result<EventStore, StoreError> {
        let store = match crate::session::owner() {
            Some(user) => Self::open_named(&casefile_core::device::events_db(&user)).await,
            None => Self::open_named(DB_NAME).await,
        }?;
        // Best effort: a log that stays closed refuses pulls (saying so),
        // and the page still writes and reads.
        if let Err(e) = store.reopen().await {
            leptos::logging::error!("the log could not be opened for pulls again: {e}");
        }
        Ok(store)
    }

    /// Whether a sign-out closed this log ([`keep_only_unsent`](Self::keep_only_unsent)).
    pub async fn closed(&self) -> Result<bool, StoreError> {
        let (_tx, meta) = self.read(META)?;
        Ok(get_num(&meta, META_CLOSED).await? > 0.0)
    }

    /// Opens a log a sign-out closed: pulled pages are stored again.
    pub async fn reopen(&self) -> Result<(), StoreError> {
        let tx = self.write(&[META])?;
        tx.store(META)
            .map_err(err)?
            .delete(&META_CLOSED.into())
            .map_err(err)?;
        tx.commit().await.map_err(err)
    }

    /// Opens the store in the database `name` (tests use their own).
    pub async fn open_named(name: &str) -> Result<EventStore, StoreError> {
        let db = idb::open(name, u32::from(DB_VERSION), upgrade)
            .await
            .map_err(err)?;
        let store = EventStore {
            db,
            node: std::cell::OnceCell::new(),
            hint: std::cell::RefCell::default(),
        };
        let id = store.node_id().await?;
        let _ = store.node.set(id);
        Ok(store)
    }

    /// Closes the database connection (so it can be deleted).
    pub fn close(self) {
        self.db.close();
    }

    fn write(&self, stores: &[&str]) -> Result<Tx, StoreError> {
        idb::transaction(&self.db, stores, true).map_err(err)
    }

    /// A read-only transaction on one store, and the store.
    fn read(&self, name: &str) -> Result<(Tx, Store), StoreError> {
        let tx = idb::transaction(&self.db, &[name], false).map_err(err)?;
        let store = tx.store(name).map_err(err)?;
        Ok((tx, store))
    }

    async fn meta_get(&self, key: &str) -> Result<Option<JsValue>, StoreError> {
        let (_tx, meta) = self.read(META)?;
        get_js(&meta, key).await
    }

    /// This device's id: made once, then kept.
    pub async fn node_id(&self) -> Result<String, StoreError> {
        if let Some(id) = self.node.get() {
            return Ok(id.clone());
        }
        if let Some(id) = self
            .meta_get(META_NODE_ID)
            .await?
            .and_then(|v| v.as_string())
        {
            return Ok(id);
        }
        let tx = self.write(&[META, EVENTS])?;
        let meta = tx.store(META).map_err(err)?;
        let id = match get_js(&meta, META_NODE_ID)
            .await?
            .and_then(|v| v.as_string())
        {
            Some(id) => id,
            None => {
                // A new, empty log has received nothing, and from now on
                // it keeps how far it has (a log made before has no mark).
                let id = uuid::Uuid::new_v4().to_string();
                put_js(&meta, META_NODE_ID, id.clone().into())?;
                let events = tx.store(EVENTS).map_err(err)?;
                if events.count().map_err(err)?.number().await.map_err(err)? == 0.0 {
                    put_js(&meta, META_RECEIVED_UPTO, 0.0.into())?;
                }
                id
            }
        };
        tx.commit().await.map_err(err)?;
        Ok(id)
    }

    /// The Lamport clock as stored.
    pub async fn clock(&self) -> Result<LamportClock, StoreError> {
        let v = self.meta_get(META_CLOCK).await?.and_then(|v| v.as_f64());
        Ok(LamportClock::at(v.unwrap_or(0.0) as u64))
    }

    /// The pull cursor: the server's last event this device has.
    pub async fn cursor(&self) -> Result<i64, StoreError> {
        let v = self.meta_get(META_CURSOR).await?.and_then(|v| v.as_f64());
        Ok(v.unwrap_or(0.0) as i64)
    }

    /// Whether this log's first catch-up once reached the server's end
    /// (reset when the log is cut to the unsent work at a sign-out).
    pub async fn filled(&self) -> Result<bool, StoreError> {
        let v = self.meta_get(META_FILLED).await?.and_then(|v| v.as_f64());
        Ok(v.unwrap_or(0.0) != 0.0)
    }

    /// Appends a new event about `aggregate_id`: ticks the clock, bases it on
    /// the case's known server version, seals it and stores it pending, all
    /// in one transaction.
    pub async fn append(
        &self,
        aggregate_id: &str,
        data: &EventData,
    ) -> Result<DomainEvent, StoreError> {
        self.append_caused(aggregate_id, data, None).await
    }

    /// [`append`](Self::append), naming the event that caused this one (a
    /// conflict's rebase names the event it replaces).
    pub async fn append_caused(
        &self,
        aggregate_id: &str,
        data: &EventData,
        causation_id: Option<String>,
    ) -> Result<DomainEvent, StoreError> {
        let mut made = self
            .append_many(&[(aggregate_id.to_string(), data.clone(), causation_id)])
            .await?;
        Ok(made.pop().expect("one event in, one out"))
    }

    /// Appends several events in **one** transaction: all of them or none
    /// (a batch of changes is one unit), each with its own clock tick. Each
    /// is `(case id, data, causing event)`.
    pub async fn append_many(
        &self,
        items: &[(String, EventData, Option<String>)],
    ) -> Result<Vec<DomainEvent>, StoreError> {
        let ops: Vec<StoreOp> = items
            .iter()
            .map(|(case, data, caused_by)| StoreOp::Append {
                case: case.clone(),
                data: data.clone(),
                caused_by: caused_by.clone(),
            })
            .collect();
        self.commit(&ops).await
    }

    /// Applies `ops` in **one** transaction, in order: all of them or none
    /// (a settlement's replacement and the mark on the event it replaces
    /// land together). Returns the appended events.
    ///
    /// An append ticks the clock, bases the event on its case's known
    /// server version, seals it and stores it pending. A mark goes through
    /// core's transition ([`Tracking::apply`]); a synced event also moves
    /// its case's known version by [`known_after_push`] (so give a case's
    /// answers in version order).
    pub async fn commit(&self, ops: &[StoreOp]) -> Result<Vec<DomainEvent>, StoreError> {
        let appends_only = ops.iter().all(|op| matches!(op, StoreOp::Append { .. }));
        if !appends_only {
            // A mark may move a case's known version.
            self.hint.take();
        } else if let Some(made) = self.append_on_hint(ops).await? {
            return Ok(made);
        }
        let node_id = self.node_id().await?;
        let tx = self.write(&[EVENTS, META, AGGREGATES])?;
        let meta = tx.store(META).map_err(err)?;
        let aggregates = tx.store(AGGREGATES).map_err(err)?;
        let events = tx.store(EVENTS).map_err(err)?;
        let mut clock = None;
        let mut made = Vec::new();
        let now = js_sys::Date::now() as u64;
        // Only appends (no mark can move a case's known version first): the
        // clock and every base version are asked for at once, one round
        // trip instead of one per read (issue 18: an append's cost beside a
        // plain put). Awaited in order below.
        let mut early = Vec::new();
        if ops.iter().all(|op| matches!(op, StoreOp::Append { .. })) {
            let reads = std::iter::once(META_CLOCK).chain(ops.iter().filter_map(|op| match op {
                StoreOp::Append { case, .. } => Some(case.as_str()),
                StoreOp::Mark { .. } => None,
            }));
            for (i, key) in reads.enumerate() {
                let from = if i == 0 { &meta } else { &aggregates };
                early.push(from.get(&key.into()).map_err(err)?);
            }
            early.reverse();
        }
        let mut read = async |from: &Store, key: &str| -> Result<f64, StoreError> {
            match early.pop() {
                Some(issued) => issued.number().await.map_err(err),
                None => get_num(from, key).await,
            }
        };
        let mut appended = Vec::new();
        let mut bases = Vec::new();
        for op in ops {
            match op {
                StoreOp::Append {
                    case,
                    data,
                    caused_by,
                } => {
                    let clock = match &mut clock {
                        Some(c) => c,
                        None => {
                            clock.insert(LamportClock::at(read(&meta, META_CLOCK).await? as u64))
                        }
                    };
                    let tick = clock.tick();
                    let base = read(&aggregates, case).await? as u64;
                    bases.push((case.as_str(), base));
                    let event = new_event(&node_id, (case, data, caused_by), tick, base, now);
                    // Issued together, not awaited: the commit reports any
                    // failure (a failed request aborts the whole transaction).
                    appended.push(EventRecord::of(&event));
                    made.push(event);
                }
                StoreOp::Mark { id, change } => {
                    fire_records(&events, &std::mem::take(&mut appended))?;
                    let record: Option<EventRecord> = get_serde(&events, id).await?;
                    let Some(mut record) = record else { continue };
                    let mut tracking = record.tracking();
                    if !tracking.apply(change, now) {
                        continue;
                    }
                    if let Change::Synced(version) = change {
                        let known = get_num(&aggregates, &record.aggregate_id).await? as u64;
                        let next = known_after_push(known, *version);
                        if next != known {
                            put_js(&aggregates, &record.aggregate_id, (next as f64).into())?;
                        }
                    }
                    record.set_tracking(&tracking);
                    fire_records(&events, std::slice::from_ref(&record))?;
                }
            }
        }
        fire_records(&events, &appended)?;
        if let Some(clock) = clock {
            put_js(&meta, META_CLOCK, (clock.value() as f64).into())?;
        }
        tx.commit().await.map_err(err)?;
        if let (true, Some(clock)) = (appends_only, clock) {
            // Added to what the hint knows (each entry is checked against
            // the store when used): someone editing two cases in turn gets
            // the quick path for both.
            let mut hint = self.hint.take().unwrap_or_default();
            hint.clock = clock.value();
            for (case, base) in bases {
                hint.remember(case, base);
            }
            self.hint.replace(Some(hint));
        }
        Ok(made)
    }

    /// Appends on what this tab last saw of the clock and the cases' known
    /// versions (issue 18: an append beside a plain put), without waiting
    /// for a read first: the writes are issued at once, behind reads of
    /// the stored values in the same transaction (requests run in order,
    /// so the reads see the store as it was before the writes). If any
    /// stored value differs from the hint (another tab appended, a pull
    /// moved a version), the transaction is aborted, nothing of it lands,
    /// and `None` sends the caller to the reading path. So every event is
    /// stamped and based exactly as if read first.
    ///
    /// `None` too when the hint does not cover every case of `ops`.
    async fn append_on_hint(
        &self,
        ops: &[StoreOp],
    ) -> Result<Option<Vec<DomainEvent>>, StoreError> {
        let Some(hint) = self.hint.borrow().clone() else {
            return Ok(None);
        };
        let mut appends = Vec::with_capacity(ops.len());
        let mut bases = Vec::with_capacity(ops.len());
        for op in ops {
            let StoreOp::Append {
                case,
                data,
                caused_by,
            } = op
            else {
                return Ok(None);
            };
            let Some(base) = hint.known(case) else {
                return Ok(None);
            };
            appends.push((case.as_str(), data, caused_by));
            bases.push((case.as_str(), base));
        }
        let node_id = self.node_id().await?;
        let tx = self.write(&[EVENTS, META, AGGREGATES])?;
        let meta = tx.store(META).map_err(err)?;
        let aggregates = tx.store(AGGREGATES).map_err(err)?;
        let stored_clock = meta.get(&META_CLOCK.into()).map_err(err)?;
        let mut stored_bases = Vec::new();
        for (i, (case, base)) in bases.iter().enumerate() {
            if !bases[..i].iter().any(|(c, _)| c == case) {
                stored_bases.push((aggregates.get(&(*case).into()).map_err(err)?, *base));
            }
        }
        let mut clock = LamportClock::at(hint.clock);
        let now = js_sys::Date::now() as u64;
        let made: Vec<DomainEvent> = appends
            .into_iter()
            .zip(&bases)
            .map(|(append, (_, base))| new_event(&node_id, append, clock.tick(), *base, now))
            .collect();
        let records: Vec<EventRecord> = made.iter().map(EventRecord::of).collect();
        fire_records(&tx.store(EVENTS).map_err(err)?, &records)?;
        put_js(&meta, META_CLOCK, (clock.value() as f64).into())?;
        let mut as_hinted = stored_clock.number().await.map_err(err)? as u64 == hint.clock;
        for (stored, base) in stored_bases {
            as_hinted &= stored.number().await.map_err(err)? as u64 == base;
        }
        if !as_hinted {
            // Dropped unfinished: aborted.
            self.hint.take();
            return Ok(None);
        }
        if let Err(e) = tx.commit().await {
            self.hint.take();
            return Err(err(e));
        }
        if let Some(hint) = self.hint.borrow_mut().as_mut() {
            hint.clock = clock.value();
        }
        Ok(Some(made))
    }

    /// Records, by index `index` in `range` (all when `None`).
    async fn records(&self, index: Option<(&str, JsValue)>) -> Result<Records, StoreError> {
        let (_tx, events) = self.read(EVENTS)?;
        let read = match index {
            None => events.all(None),
            Some((name, range)) => events.index(name).map_err(err)?.all(&range),
        };
        Ok(sort_out(read.map_err(err)?.value().await.map_err(err)?))
    }

    /// Verifies records: good ones become events (in stamp order); bad ones
    /// are quarantined and reported.
    async fn verified(
        &self,
        (records, unreadable): Records,
    ) -> Result<(Vec<(EventRecord, DomainEvent)>, Vec<Quarantined>), StoreError> {
        let mut good = Vec::new();
        let mut bad = unreadable;
        for record in records {
            match record.open() {
                Ok(event) => good.push((record, event)),
                Err(damage) => bad.push(Quarantined {
                    id: record.id.clone(),
                    reason: damage.to_string(),
                    record: serde_json::to_string(&record).unwrap_or_default(),
                    key: None,
                }),
            }
        }
        if !bad.is_empty() {
            let tx = self.write(&[EVENTS, QUARANTINE, META])?;
            let events = tx.store(EVENTS).map_err(err)?;
            let quarantine = tx.store(QUARANTINE).map_err(err)?;
            // The server may hold a good copy of a damaged record: the next
            // pull starts from the beginning, and `receive` stores every
            // event this device no longer has (the others are no-ops).
            put_js(&tx.store(META).map_err(err)?, META_CURSOR, 0.0.into())?;
            for q in &bad {
                leptos::logging::error!("event {} quarantined: {}", q.id, q.reason);
                quarantine
                    .put_now(&to_js(q).map_err(err)?, None)
                    .map_err(err)?;
                events.delete(&q.stored_key()).map_err(err)?;
            }
            tx.commit().await.map_err(err)?;
        }
        let good = casefile_core::event::in_stamp_order(good, |(_, e)| e.stamp_key());
        Ok((good, bad))
    }

    /// Every record of a case (verified, any sync state) in stamp order, and
    /// any quarantined now: the audit trail.
    pub async fn records_for(
        &self,
        aggregate_id: &str,
    ) -> Result<(Vec<(EventRecord, DomainEvent)>, Vec<Quarantined>), StoreError> {
        let records = self
            .records(Some((INDEX_AGGREGATE, only(aggregate_id.into())?)))
            .await?;
        self.verified(records).await
    }

    /// A case's live events (pending or on the server) in stamp order, and
    /// any quarantined now.
    pub async fn events_for(
        &self,
        aggregate_id: &str,
    ) -> Result<(Vec<DomainEvent>, Vec<Quarantined>), StoreError> {
        let (good, bad) = self.records_for(aggregate_id).await?;
        let events = good
            .into_iter()
            .filter(|(r, _)| r.is_live())
            .map(|(_, e)| e)
            .collect();
        Ok((events, bad))
    }

    /// One event by id (verified), with its record.
    pub async fn event(&self, id: &str) -> Result<Option<(EventRecord, DomainEvent)>, StoreError> {
        let (_tx, events) = self.read(EVENTS)?;
        let record = get_js(&events, id).await?;
        let records = sort_out(record.map(|r| js_sys::Array::of1(&r).into()));
        Ok(self.verified(records).await?.0.pop())
    }

    /// Pending events in stamp order (through the `synced` index).
    pub async fn unsynced(&self) -> Result<Vec<DomainEvent>, StoreError> {
        Ok(self
            .with_status(SyncKind::Pending)
            .await?
            .into_iter()
            .map(|(_, e)| e)
            .collect())
    }

    /// Records in one sync state, in stamp order.
    pub async fn with_status(
        &self,
        kind: SyncKind,
    ) -> Result<Vec<(EventRecord, DomainEvent)>, StoreError> {
        let records = self
            .records(Some((INDEX_SYNCED, only(kind_byte(kind).into())?)))
            .await?;
        Ok(self.verified(records).await?.0)
    }

    /// How many events are in sync state `kind` (counted by the index, no
    /// reads).
    pub async fn count(&self, kind: SyncKind) -> Result<usize, StoreError> {
        let (_tx, events) = self.read(EVENTS)?;
        let n = events
            .index(INDEX_SYNCED)
            .map_err(err)?
            .count(&only(kind_byte(kind).into())?)
            .map_err(err)?
            .number()
            .await
            .map_err(err)?;
        Ok(n as usize)
    }

    /// How many events wait to be pushed by this page.
    pub async fn pending_count(&self) -> Result<usize, StoreError> {
        self.count(SyncKind::Pending).await
    }

    /// How many events are not on the server yet: pending here, or queued
    /// or dead-lettered in the worker. What the header shows.
    pub async fn waiting_count(&self) -> Result<usize, StoreError> {
        self.count_of(&SyncKind::WAITING).await
    }

    /// How many events are in any of `kinds`.
    pub async fn count_of(&self, kinds: &[SyncKind]) -> Result<usize, StoreError> {
        let mut n = 0;
        for kind in kinds {
            n += self.count(*kind).await?;
        }
        Ok(n)
    }

    /// Applies what pushes and settlements decided, in one transaction
    /// ([`commit`](Self::commit) of marks only).
    pub async fn update(&self, changes: &[(String, Change)]) -> Result<(), StoreError> {
        let ops: Vec<StoreOp> = changes
            .iter()
            .map(|(id, change)| StoreOp::Mark {
                id: id.clone(),
                change: change.clone(),
            })
            .collect();
        self.commit(&ops).await.map(|_| ())
    }

    /// Marks events synced: `(event id, case id, server version)`.
    pub async fn mark_synced(&self, synced: &[(String, String, u64)]) -> Result<(), StoreError> {
        let changes: Vec<(String, Change)> = synced
            .iter()
            .map(|(id, _, v)| (id.clone(), Change::Synced(*v)))
            .collect();
        self.update(&changes).await
    }

    /// Stores pulled events and moves the cursor to `cursor`, in one
    /// transaction: each new event is verified and kept as synced; this
    /// device's own events (a push whose answer was lost) become synced; the
    /// clock follows the receive rule; known server versions rise; a snapshot
    /// an earlier-stamped event arrives behind is dropped.
    ///
    /// With `access`, the same transaction purges the revoked cases
    /// (`casefile_core::sync::access::purge`: what the server has goes,
    /// unsent work stays, refused) and moves the access cursor.
    pub async fn receive(
        &self,
        pulled: &[PulledEvent],
        cursor: i64,
        access: Option<AccessPage<'_>>,
    ) -> Result<Received, StoreError> {
        self.receive_from(pulled, i64::MIN, cursor, access, false)
            .await
    }

    /// [`receive`](Self::receive) of a page pulled from cursor `from`: the
    /// stored cursor moves to `cursor` unless it was rewound below `from`
    /// while the page was under way (core's `sync::receive::cursor_after`).
    /// `last`: the page reached the server's end, so the log is now a whole
    /// copy ([`filled`](Self::filled)).
    pub async fn receive_from(
        &self,
        pulled: &[PulledEvent],
        from: i64,
        cursor: i64,
        access: Option<AccessPage<'_>>,
        last: bool,
    ) -> Result<Received, StoreError> {
        // It moves the clock and known versions.
        self.hint.take();
        let tx = self.write(&[EVENTS, META, AGGREGATES, SNAPSHOTS, QUARANTINE])?;
        let events = tx.store(EVENTS).map_err(err)?;
        let meta = tx.store(META).map_err(err)?;
        let aggregates = tx.store(AGGREGATES).map_err(err)?;
        let snapshots = tx.store(SNAPSHOTS).map_err(err)?;
        let quarantine = tx.store(QUARANTINE).map_err(err)?;
        // The meta reads go at once (one round trip, not four); no other
        // transaction writes them before this one ends.
        let [clock, upto, stored_cursor, closed] =
            [META_CLOCK, META_RECEIVED_UPTO, META_CURSOR, META_CLOSED]
                .map(|key| meta.get(&key.into()));
        // A page that was on its way when a sign-out cut the log is not
        // stored (dropping `tx` aborts it): the cut ran first, or runs
        // after this transaction and removes what it stored.
        if closed.map_err(err)?.number().await.map_err(err)? > 0.0 {
            return Err(StoreError::SignedOut);
        }
        let mut clock = LamportClock::at(clock.map_err(err)?.number().await.map_err(err)? as u64);
        let upto = upto
            .map_err(err)?
            .value()
            .await
            .map_err(err)?
            .and_then(|v| v.as_f64())
            .map(|v| v as i64);
        let stored_cursor = stored_cursor.map_err(err)?.number().await.map_err(err)? as i64;
        let own = self.node.get().map(String::as_str);
        let mut out = Received::default();
        // Verified first (no I/O); a bad event is set aside on its own.
        let mut good: Vec<&PulledEvent> = Vec::with_capacity(pulled.len());
        for p in pulled {
            let event = &p.event;
            if let Err(e) = event.verify() {
                out.bad.push(event.id.clone());
                let q = Quarantined {
                    id: event.id.clone(),
                    reason: format!("pulled from the server: {e}"),
                    record: serde_json::to_string(event).unwrap_or_default(),
                    key: None,
                };
                // Issued, not awaited: the commit reports a failure.
                quarantine
                    .put_now(&to_js(&q).map_err(err)?, None)
                    .map_err(err)?;
                continue;
            }
            good.push(p);
        }
        // The page's cases, first seen first. A linear scan: a page holds
        // at most 1,000 events, and a sort or a hash map would add their
        // code for this key type to the app's first load (measured).
        let mut cases: Vec<&str> = Vec::new();
        let mut case_of = Vec::with_capacity(good.len());
        for p in &good {
            let case = p.event.aggregate_id.as_str();
            case_of.push(cases.iter().position(|c| *c == case).unwrap_or_else(|| {
                cases.push(case);
                cases.len() - 1
            }));
        }
        // Every read the page needs is issued before any is awaited (a
        // request goes when it is built): one round trip for the page, not
        // three per event (a new device's catch-up, issue 18). Awaited in
        // turn rather than joined: no join combinator's code per request
        // kind in the app.
        let mut record_reads = Vec::with_capacity(good.len());
        let mut kinds = Vec::with_capacity(good.len());
        for (p, &case) in good.iter().zip(&case_of) {
            let maybe = receive::may_be_stored(p.seq, &p.event.node_id, own, upto);
            let creation = p.event.event_type == casefile_core::event::EventType::CaseCreated;
            kinds.push((case, creation, maybe));
            let read = maybe
                .then(|| events.get(&p.event.id.as_str().into()).map_err(err))
                .transpose()?;
            record_reads.push(read);
        }
        let to_read = receive::cases_to_read(cases.len(), &kinds);
        let versions = receive::versions_to_read(cases.len(), &kinds);
        let mut version_reads = Vec::with_capacity(cases.len());
        for (case, &read) in cases.iter().zip(&versions) {
            version_reads.push(
                read.then(|| aggregates.get(&(*case).into()))
                    .transpose()
                    .map_err(err)?,
            );
        }
        // A device holds snapshots only of cases it opened: a new device's
        // catch-up has none, and asks once, not once per case.
        let any_snapshot = snapshots
            .count()
            .map_err(err)?
            .number()
            .await
            .map_err(err)?
            > 0.0;
        let mut snapshot_reads = Vec::with_capacity(cases.len());
        for (case, &read) in cases.iter().zip(&to_read) {
            snapshot_reads.push(
                (read && any_snapshot)
                    .then(|| snapshots.get(&(*case).into()))
                    .transpose()
                    .map_err(err)?,
            );
        }
        let mut stored: Vec<Option<EventRecord>> = Vec::with_capacity(good.len());
        for read in record_reads {
            stored.push(match read {
                // A stored copy that no longer decodes is as good as absent:
                // the server's copy is stored over it.
                Some(read) => read
                    .value()
                    .await
                    .map_err(err)?
                    .and_then(|v| from_js(&v).ok()),
                None => None,
            });
        }
        let mut held = Vec::with_capacity(cases.len());
        for (version, snapshot) in version_reads.into_iter().zip(snapshot_reads) {
            let version = match version {
                Some(read) => read.number().await.map_err(err)?,
                None => 0.0,
            };
            let snapshot: Option<SnapshotRecord> = match snapshot {
                Some(read) => decoded(read).await?,
                None => None,
            };
            held.push(CaseHeld {
                version: version as u64,
                // Each snapshot parsed once per page, not once per event.
                snapshot_upto: snapshot
                    .and_then(|s| serde_json::from_str::<Snapshot>(&s.json).ok())
                    .map(|s| s.upto),
            });
        }
        let page: Vec<PageEvent> = good
            .iter()
            .zip(&case_of)
            .zip(&stored)
            .map(|((p, &case), record)| PageEvent {
                case,
                stamp: p.event.stamp(),
                version: p.version.max(0) as u64,
                stored: record.as_ref().map(EventRecord::tracking),
            })
            .collect();
        let merge = receive::merge(&held, &page);
        let mut writes = Vec::with_capacity(good.len());
        for ((p, record), write) in good.iter().zip(stored).zip(merge.writes) {
            clock.receive(p.event.clock);
            let record = match (write, record) {
                (Write::Update(tracking), Some(mut r)) => {
                    r.set_tracking(&tracking);
                    r
                }
                (Write::Add(tracking), _) => {
                    let mut r = EventRecord::of(&p.event);
                    r.set_tracking(&tracking);
                    r
                }
                _ => continue,
            };
            writes.push(record);
        }
        fire_records(&events, &writes)?;
        for case in merge.drop_snapshots {
            snapshots.delete(&cases[case].into()).map_err(err)?;
        }
        for (case, version) in merge.versions {
            put_js(&aggregates, cases[case], (version as f64).into())?;
        }
        out.added = merge.added;
        out.aggregates = merge
            .new_cases
            .into_iter()
            .map(|case| cases[case].to_string())
            .collect();
        if let Some(access) = access {
            for case in access.revoked {
                out.refused += purge_case(&events, &aggregates, &snapshots, case).await?;
                out.purged.push(case.clone());
            }
            put_js(&meta, META_ACCESS_CURSOR, (access.cursor as f64).into())?;
        }
        put_js(&meta, META_CLOCK, (clock.value() as f64).into())?;
        let top = good.iter().map(|p| p.seq).max();
        if let (Some(upto), Some(top)) = (upto, top) {
            if top > upto {
                put_js(&meta, META_RECEIVED_UPTO, (top as f64).into())?;
            }
        }
        let cursor = casefile_core::sync::receive::cursor_after(stored_cursor, from, cursor);
        put_js(&meta, META_CURSOR, (cursor as f64).into())?;
        if last {
            put_js(&meta, META_FILLED, 1.0.into())?;
        }
        tx.commit().await.map_err(err)?;
        Ok(out)
    }

    /// The access cursor: the server's access changes seen so far.
    pub async fn access_cursor(&self) -> Result<i64, StoreError> {
        let (_tx, meta) = self.read(META)?;
        Ok(get_num(&meta, META_ACCESS_CURSOR).await? as i64)
    }

    /// The case as this device sees it, folding from its snapshot when one
    /// holds, and refreshing the snapshot once [`SNAPSHOT_EVERY`] settled
    /// events lie past it.
    pub async fn local_case(&self, aggregate_id: &str) -> Result<Option<LocalCase>, StoreError> {
        let snapshot = self.snapshot(aggregate_id).await?;
        let records = match &snapshot {
            None => {
                self.records(Some((INDEX_AGGREGATE, only(aggregate_id.into())?)))
                    .await?
            }
            Some(s) => {
                let at = |clock: f64, node: &str| -> JsValue {
                    js_sys::Array::of3(&aggregate_id.into(), &clock.into(), &node.into()).into()
                };
                let lower = at(s.upto.clock as f64, &s.upto.node_id);
                let range = idb::bound(&lower, &at(f64::INFINITY, ""), true, false).map_err(err)?;
                self.records(Some((INDEX_AGGREGATE_STAMP, range))).await?
            }
        };
        let (good, _) = self.verified(records).await?;
        let case = fold_case(snapshot.as_ref(), &good);
        // Settled prefix: every event up to the first one still in play.
        let settled = good
            .iter()
            .take_while(|(r, _)| r.kind().is_settled())
            .count();
        if settled >= SNAPSHOT_EVERY {
            let prefix: Vec<DomainEvent> = good[..settled]
                .iter()
                .filter(|(r, _)| r.kind() == SyncKind::Synced)
                .map(|(r, e)| with_server_version(r, e))
                .collect();
            let next = Snapshot {
                state: replay_from(snapshot.as_ref(), &prefix),
                upto: good[settled - 1].1.stamp(),
            };
            self.save_snapshot(aggregate_id, &next).await?;
        }
        Ok(case)
    }

    /// Many cases in one read, each as [`local_case`](Self::local_case)
    /// sees it: every case this device knows (`None`), or those named.
    pub async fn cases(&self, ids: Option<&[String]>) -> Result<Vec<LocalCase>, StoreError> {
        let records = match ids {
            None => self.records(None).await?,
            Some(ids) => self.records_of(ids).await?,
        };
        let (good, _) = self.verified(records).await?;
        // `good` is in stamp order; grouping keeps that order per case.
        let mut groups: std::collections::HashMap<String, Vec<(EventRecord, DomainEvent)>> =
            std::collections::HashMap::new();
        for (record, event) in good {
            groups
                .entry(event.aggregate_id.clone())
                .or_default()
                .push((record, event));
        }
        Ok(groups.values().filter_map(|g| fold_case(None, g)).collect())
    }

    /// The records of the named cases, read in one transaction with every
    /// request in flight at once.
    async fn records_of(&self, ids: &[String]) -> Result<Records, StoreError> {
        let (_tx, events) = self.read(EVENTS)?;
        let index = events.index(INDEX_AGGREGATE).map_err(err)?;
        let mut reads = Vec::with_capacity(ids.len());
        for id in ids {
            reads.push(index.all(&only(id.as_str().into())?).map_err(err)?);
        }
        let mut out = Records::default();
        for read in reads {
            let (good, bad) = sort_out(read.value().await.map_err(err)?);
            out.0.extend(good);
            out.1.extend(bad);
        }
        Ok(out)
    }

    /// At a sign-out that keeps the person's unsent work (core's
    /// `device::Plan::prune_log`): in one transaction, every event
    /// [`kept_at_sign_out`](casefile_core::device::kept_at_sign_out) does
    /// not keep goes, with every snapshot, known version and quarantined
    /// record, and both pull cursors go back to 0. The clock and node id
    /// stay (the kept changes carry them). The log is closed: a pulled page
    /// still on its way is not stored until the user's page opens it again
    /// ([`reopen`](Self::reopen)). Returns how many events stayed.
    pub async fn keep_only_unsent(&self) -> Result<usize, StoreError> {
        let tx = self.write(&[EVENTS, META, AGGREGATES, SNAPSHOTS, QUARANTINE])?;
        let events = tx.store(EVENTS).map_err(err)?;
        let mut kept = 0;
        let (records, unreadable) =
            sort_out(events.all(None).map_err(err)?.value().await.map_err(err)?);
        for record in records {
            if casefile_core::device::kept_at_sign_out(record.kind()) {
                kept += 1;
                continue;
            }
            events.delete(&record.id.into()).map_err(err)?;
        }
        // Unreadable: nobody can tell whose work it was, and the next
        // person must not read it.
        for q in unreadable {
            events.delete(&q.stored_key()).map_err(err)?;
        }
        for name in [AGGREGATES, SNAPSHOTS, QUARANTINE] {
            tx.store(name).map_err(err)?.clear().map_err(err)?;
        }
        let meta = tx.store(META).map_err(err)?;
        // Only unsent work of this device is left: nothing received is.
        for key in [
            META_CURSOR,
            META_ACCESS_CURSOR,
            META_FILLED,
            META_RECEIVED_UPTO,
        ] {
            put_js(&meta, key, 0.0.into())?;
        }
        put_js(&meta, META_CLOSED, 1.0.into())?;
        tx.commit().await.map_err(err)?;
        Ok(kept)
    }

    /// The case's state (see [`local_case`](Self::local_case)).
    pub async fn replay(&self, aggregate_id: &str) -> Result<Option<CaseView>, StoreError> {
        Ok(self.local_case(aggregate_id).await?.map(|c| c.view))
    }

    async fn snapshot(&self, aggregate_id: &str) -> Result<Option<Snapshot>, StoreError> {
        let (_tx, store) = self.read(SNAPSHOTS)?;
        let record: Option<SnapshotRecord> = get_serde(&store, aggregate_id).await?;
        Ok(record.and_then(|r| serde_json::from_str(&r.json).ok()))
    }

    /// Not once a sign-out closed the log: the case's events were read
    /// before the cut, and a snapshot of them would be left after it.
    async fn save_snapshot(&self, aggregate_id: &str, s: &Snapshot) -> Result<(), StoreError> {
        let tx = self.write(&[SNAPSHOTS, META])?;
        if get_num(&tx.store(META).map_err(err)?, META_CLOSED).await? > 0.0 {
            return Ok(());
        }
        let store = tx.store(SNAPSHOTS).map_err(err)?;
        let record = SnapshotRecord {
            json: serde_json::to_string(s).map_err(err)?,
        };
        put_js(&store, aggregate_id, to_js(&record).map_err(err)?)?;
        tx.commit().await.map_err(err)
    }

    /// The stamp the case's snapshot reaches, if it has one.
    pub async fn snapshot_upto(&self, aggregate_id: &str) -> Result<Option<Stamp>, StoreError> {
        Ok(self.snapshot(aggregate_id).await?.map(|s| s.upto))
    }

    /// The cases with pending events, as this device sees them.
    pub async fn pending_cases(&self) -> Result<Vec<LocalCase>, StoreError> {
        let ids = self.waiting_ids().await?;
        let mut out = Vec::new();
        for id in ids {
            if let Some(c) = self.local_case(&id).await? {
                out.push(c);
            }
        }
        Ok(out)
    }

    /// The ids of the cases with events not yet delivered, sorted.
    pub async fn waiting_ids(&self) -> Result<Vec<String>, StoreError> {
        let mut ids = Vec::new();
        for kind in SyncKind::WAITING {
            for (record, _) in self.with_status(kind).await? {
                ids.push(record.aggregate_id);
            }
        }
        ids.sort();
        ids.dedup();
        Ok(ids)
    }

    /// Everything in quarantine.
    pub async fn quarantined(&self) -> Result<Vec<Quarantined>, StoreError> {
        let (_tx, q) = self.read(QUARANTINE)?;
        list(q.all(None)).await
    }
}

/// The event with its server version, when known (the checksum was already
/// verified on the event as sealed).
fn with_server_version(record: &EventRecord, event: &DomainEvent) -> DomainEvent {
    let mut e = event.clone();
    if let Some(v) = record.server_version {
        e.version = v as u64;
    }
    e
}

/// Purges one case its reader lost access to, inside the caller's
/// transaction, as core's rule says; returns how many unsent events it kept
/// and refused.
async fn purge_case(
    events: &Store,
    aggregates: &Store,
    snapshots: &Store,
    case: &str,
) -> Result<usize, StoreError> {
    let read = events
        .index(INDEX_AGGREGATE)
        .map_err(err)?
        .all(&only(case.into())?)
        .map_err(err)?;
    let (records, unreadable) = sort_out(read.value().await.map_err(err)?);
    // What no longer reads goes with the case: it cannot be shown anyway.
    for q in unreadable {
        events.delete(&q.stored_key()).map_err(err)?;
    }
    let plan =
        casefile_core::sync::access::purge(records.iter().map(|r| (r.id.as_str(), r.kind())));
    for id in plan.delete {
        events.delete(&id.into()).map_err(err)?;
    }
    let now = js_sys::Date::now() as u64;
    for (id, change) in &plan.refuse {
        let Some(mut record) = records.iter().find(|r| &r.id == id).cloned() else {
            continue;
        };
        let mut tracking = record.tracking();
        if tracking.apply(change, now) {
            record.set_tracking(&tracking);
            fire_records(events, std::slice::from_ref(&record))?;
        }
    }
    for store in [aggregates, snapshots] {
        store.delete(&case.into()).map_err(err)?;
    }
    Ok(plan.refuse.len())
}

/// Event records read back: those that decode, and those that do not (a
/// damaged record: a field of the wrong type, a missing one) set aside as
/// quarantined, so that one of them never fails the read of the rest.
type Records = (Vec<EventRecord>, Vec<Quarantined>);

/// Sorts a `get_all` read's records (all of them in one decode when they
/// all read, as they do but after damage).
fn sort_out(array: Option<JsValue>) -> Records {
    let Some(array) = array else {
        return Records::default();
    };
    if let Ok(all) = from_js::<Vec<EventRecord>>(&array) {
        return (all, Vec::new());
    }
    let mut out = Records::default();
    for item in js_sys::Array::from(&array).iter() {
        match from_js::<EventRecord>(&item) {
            Ok(record) => out.0.push(record),
            Err(why) => {
                let key = js_sys::Reflect::get(&item, &"id".into()).unwrap_or_default();
                // An id that is not text is shown as its JSON, and the
                // record is deleted by the key itself.
                let (id, key) = match key.as_string() {
                    Some(id) => (id, None),
                    None => (
                        js_sys::JSON::stringify(&key)
                            .map(String::from)
                            .unwrap_or_default(),
                        Some(key),
                    ),
                };
                out.1.push(Quarantined {
                    id,
                    reason: why.as_string().unwrap_or_default(),
                    record: js_sys::JSON::stringify(&item)
                        .map(String::from)
                        .unwrap_or_default(),
                    key,
                })
            }
        }
    }
    out
}

/// The key range of exactly `key`.
fn only(key: JsValue) -> Result<JsValue, StoreError> {
    idb::only(&key).map_err(err)
}

/// The records a `get_all` read gives, decoded in one go.
async fn list<T: serde::de::DeserializeOwned>(
    read: Result<idb::Req, JsValue>,
) -> Result<Vec<T>, StoreError> {
    match read.map_err(err)?.value().await.map_err(err)? {
        Some(array) => from_js(&array).map_err(err),
        None => Ok(Vec::new()),
    }
}

/// A read's record, decoded (`None` when there is none).
async fn decoded<T: serde::de::DeserializeOwned>(read: idb::Req) -> Result<Option<T>, StoreError> {
    read.value()
        .await
        .map_err(err)?
        .map(|v| from_js(&v).map_err(err))
        .transpose()
}

/// The record under `key`, decoded.
async fn get_serde<T: serde::de::DeserializeOwned>(
    store: &Store,
    key: &str,
) -> Result<Option<T>, StoreError> {
    decoded(store.get(&key.into()).map_err(err)?).await
}

async fn get_js(store: &Store, key: &str) -> Result<Option<JsValue>, StoreError> {
    store
        .get(&key.into())
        .map_err(err)?
        .value()
        .await
        .map_err(err)
}

async fn get_num(store: &Store, key: &str) -> Result<f64, StoreError> {
    store
        .get(&key.into())
        .map_err(err)?
        .number()
        .await
        .map_err(err)
}

/// Puts `value` under `key` without waiting: the transaction's commit
/// reports any failure (a failed request aborts the whole transaction).
fn put_js(store: &Store, key: &str, value: JsValue) -> Result<(), StoreError> {
    store.put_now(&value, Some(&key.into())).map_err(err)
}

/// Puts event records without waiting, like [`put_js`]: made JS objects in
/// one `JSON.parse` for all of them (a page of a catch-up, a batch of
/// appends), not one each.
fn fire_records(store: &Store, records: &[EventRecord]) -> Result<(), StoreError> {
    let all: js_sys::Array = to_js(&records).map_err(err)?.unchecked_into();
    for record in all.iter() {
        store.put_now(&record, None).map_err(err)?;
    }
    Ok(())
}

/// A case from its verified records (stamp order), folded from `snapshot`:
/// live events make the view; waiting ones are counted as pending.
fn fold_case(
    snapshot: Option<&Snapshot>,
    good: &[(EventRecord, DomainEvent)],
) -> Option<LocalCase> {
    let pending = good.iter().filter(|(r, _)| r.is_waiting()).count();
    let live: Vec<DomainEvent> = good
        .iter()
        .filter(|(r, _)| r.is_live())
        .map(|(r, e)| with_server_version(r, e))
        .collect();
    replay_from(snapshot, &live).map(|view| LocalCase { view, pending })
}

/// The sealed event an append makes: about `case`, stamped `clock` on this
/// device, based on `base`, at `now`.
fn new_event(
    node_id: &str,
    (case, data, caused_by): (&str, &EventData, &Option<String>),
    clock: u64,
    base: u64,
    now: u64,
) -> DomainEvent {
    let header = EventHeader {
        id: uuid::Uuid::new_v4().to_string(),
        aggregate_id: case.to_string(),
        node_id: node_id.to_string(),
        clock,
        base_version: base,
        timestamp: now,
    };
    let mut event = DomainEvent::new(header, data);
    if caused_by.is_some() {
        event.causation_id = caused_by.clone();
        event = event.seal();
    }
    event
}
