//! The device's event store in IndexedDB (SPEC §5).
//!
//! Guarantees:
//! - `append` reads and ticks the persisted Lamport clock, reads the case's
//!   known server version, and writes the sealed event in **one read-write
//!   transaction**; IndexedDB runs such transactions one at a time per store,
//!   so two tabs never issue the same stamp.
//! - Every read verifies each record's checksum; a record that fails is moved
//!   to the quarantine store with the reason, reported, and never used.
//! - All names and versions live in [`schema`].

pub mod schema;

use casefile_core::event::{replay, CaseView, DomainEvent, EventData, EventHeader, LamportClock};
use indexed_db_futures::database::Database;
use indexed_db_futures::prelude::*;
use indexed_db_futures::transaction::TransactionMode;
use schema::*;
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsValue;

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
    /// The last push error, for the user.
    pub sync_error: Option<String>,
    /// The sealed event.
    pub event: String,
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
            synced: 0,
            sync_attempts: 0,
            last_sync_attempt: None,
            sync_error: None,
            event: serde_json::to_string(event).expect("events encode"),
        }
    }

    /// The event, if the record is intact: it parses, its checksum holds, and
    /// the index fields agree with it.
    pub fn open(&self) -> Result<DomainEvent, String> {
        let event: DomainEvent =
            serde_json::from_str(&self.event).map_err(|e| format!("undecodable event: {e}"))?;
        event.verify().map_err(|e| e.to_string())?;
        if event.id != self.id || event.aggregate_id != self.aggregate_id {
            return Err("the record's index fields do not match its event".into());
        }
        Ok(event)
    }
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
}

/// Something the store could not do, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(pub String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.contains("QuotaExceeded") {
            f.write_str("This device is out of storage space for Casefile; free some space. Nothing was saved, and nothing saved before is lost.")
        } else {
            write!(f, "The local event store failed: {}", self.0)
        }
    }
}

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError(e.to_string())
}

/// A handle on the store (one per tab; several may be open at once).
pub struct EventStore {
    db: Database,
}

impl EventStore {
    /// Opens (creating or upgrading) the store and makes sure this device has
    /// a node id.
    pub async fn open() -> Result<EventStore, StoreError> {
        let db = Database::open(DB_NAME)
            .with_version(DB_VERSION)
            .with_on_upgrade_needed(|event, db| {
                upgrade(event.old_version() as u32, &db)?;
                Ok(())
            })
            .await
            .map_err(err)?;
        let store = EventStore { db };
        store.node_id().await?;
        Ok(store)
    }

    async fn meta_get(&self, key: &str) -> Result<Option<JsValue>, StoreError> {
        let tx = self.db.transaction(META).build().map_err(err)?;
        let meta = tx.object_store(META).map_err(err)?;
        let v: Option<JsValue> = meta.get(key).primitive().map_err(err)?.await.map_err(err)?;
        Ok(v)
    }

    /// This device's id: made once, then kept.
    pub async fn node_id(&self) -> Result<String, StoreError> {
        if let Some(id) = self
            .meta_get(META_NODE_ID)
            .await?
            .and_then(|v| v.as_string())
        {
            return Ok(id);
        }
        let tx = self
            .db
            .transaction(META)
            .with_mode(TransactionMode::Readwrite)
            .build()
            .map_err(err)?;
        let meta = tx.object_store(META).map_err(err)?;
        let existing: Option<JsValue> = meta
            .get(META_NODE_ID)
            .primitive()
            .map_err(err)?
            .await
            .map_err(err)?;
        let id = match existing.and_then(|v| v.as_string()) {
            Some(id) => id,
            None => {
                let id = uuid::Uuid::new_v4().to_string();
                meta.put(id.clone())
                    .with_key(META_NODE_ID)
                    .await
                    .map_err(err)?;
                id
            }
        };
        tx.commit().await.map_err(err)?;
        Ok(id)
    }

    /// The Lamport clock as stored.
    pub async fn clock(&self) -> Result<LamportClock, StoreError> {
        let v = self
            .meta_get(META_CLOCK)
            .await?
            .and_then(|v| v.as_f64())
            .unwrap_or(0.0);
        Ok(LamportClock::at(v as u64))
    }

    /// Appends a new event about `aggregate_id`: ticks the clock, bases it on
    /// the case's known server version, seals it and stores it unsynced, all
    /// in one transaction.
    pub async fn append(
        &self,
        aggregate_id: &str,
        data: &EventData,
    ) -> Result<DomainEvent, StoreError> {
        let node_id = self.node_id().await?;
        let tx = self
            .db
            .transaction([EVENTS, META, AGGREGATES])
            .with_mode(TransactionMode::Readwrite)
            .build()
            .map_err(err)?;
        let meta = tx.object_store(META).map_err(err)?;
        let aggregates = tx.object_store(AGGREGATES).map_err(err)?;
        let events = tx.object_store(EVENTS).map_err(err)?;
        let clock: Option<JsValue> = meta
            .get(META_CLOCK)
            .primitive()
            .map_err(err)?
            .await
            .map_err(err)?;
        let mut clock = LamportClock::at(clock.and_then(|v| v.as_f64()).unwrap_or(0.0) as u64);
        let stamp = clock.tick();
        meta.put(stamp as f64)
            .with_key(META_CLOCK)
            .await
            .map_err(err)?;
        let base: Option<JsValue> = aggregates
            .get(aggregate_id)
            .primitive()
            .map_err(err)?
            .await
            .map_err(err)?;
        let header = EventHeader {
            id: uuid::Uuid::new_v4().to_string(),
            aggregate_id: aggregate_id.to_string(),
            node_id,
            clock: stamp,
            base_version: base.and_then(|v| v.as_f64()).unwrap_or(0.0) as u64,
            timestamp: js_sys::Date::now() as u64,
        };
        let event = DomainEvent::new(header, data);
        events
            .put(EventRecord::of(&event))
            .serde()
            .map_err(err)?
            .await
            .map_err(err)?;
        tx.commit().await.map_err(err)?;
        Ok(event)
    }

    /// Records, by index `index` equal to `key` (all when `None`).
    async fn records<K>(&self, index: Option<(&str, K)>) -> Result<Vec<EventRecord>, StoreError>
    where
        K: Serialize + indexed_db_futures::primitive::TryToJs,
    {
        let tx = self.db.transaction(EVENTS).build().map_err(err)?;
        let events = tx.object_store(EVENTS).map_err(err)?;
        let raw: Vec<EventRecord> = match index {
            None => events
                .get_all()
                .serde()
                .map_err(err)?
                .await
                .map_err(err)?
                .collect::<Result<_, _>>()
                .map_err(err)?,
            Some((name, key)) => events
                .index(name)
                .map_err(err)?
                .get_all()
                .with_query::<K, _>(key)
                .serde()
                .map_err(err)?
                .await
                .map_err(err)?
                .collect::<Result<_, _>>()
                .map_err(err)?,
        };
        Ok(raw)
    }

    /// Verifies records: good ones become events; bad ones are quarantined
    /// and reported (in the returned list of reasons).
    async fn verified(
        &self,
        records: Vec<EventRecord>,
    ) -> Result<(Vec<(EventRecord, DomainEvent)>, Vec<Quarantined>), StoreError> {
        let mut good = Vec::new();
        let mut bad = Vec::new();
        for record in records {
            match record.open() {
                Ok(event) => good.push((record, event)),
                Err(reason) => bad.push(Quarantined {
                    id: record.id.clone(),
                    reason,
                    record: serde_json::to_string(&record).unwrap_or_default(),
                }),
            }
        }
        if !bad.is_empty() {
            let tx = self
                .db
                .transaction([EVENTS, QUARANTINE])
                .with_mode(TransactionMode::Readwrite)
                .build()
                .map_err(err)?;
            let events = tx.object_store(EVENTS).map_err(err)?;
            let quarantine = tx.object_store(QUARANTINE).map_err(err)?;
            for q in &bad {
                leptos::logging::error!("event {} quarantined: {}", q.id, q.reason);
                quarantine
                    .put(q.clone())
                    .serde()
                    .map_err(err)?
                    .await
                    .map_err(err)?;
                events
                    .delete(q.id.clone())
                    .primitive()
                    .map_err(err)?
                    .await
                    .map_err(err)?;
            }
            tx.commit().await.map_err(err)?;
        }
        Ok((good, bad))
    }

    /// A case's events in stamp order (verified), and any quarantined now.
    pub async fn events_for(
        &self,
        aggregate_id: &str,
    ) -> Result<(Vec<DomainEvent>, Vec<Quarantined>), StoreError> {
        let records = self
            .records(Some((INDEX_AGGREGATE, aggregate_id.to_string())))
            .await?;
        let (good, bad) = self.verified(records).await?;
        let mut events: Vec<DomainEvent> = good.into_iter().map(|(_, e)| e).collect();
        events.sort_by_key(DomainEvent::stamp);
        Ok((events, bad))
    }

    /// Unsynced events in stamp order (through the `synced` index).
    pub async fn unsynced(&self) -> Result<Vec<DomainEvent>, StoreError> {
        let records = self.records(Some((INDEX_SYNCED, 0u8))).await?;
        let (good, _) = self.verified(records).await?;
        let mut events: Vec<DomainEvent> = good.into_iter().map(|(_, e)| e).collect();
        events.sort_by_key(DomainEvent::stamp);
        Ok(events)
    }

    /// Marks events synced and records each case's server version.
    pub async fn mark_synced(&self, synced: &[(String, String, u64)]) -> Result<(), StoreError> {
        let tx = self
            .db
            .transaction([EVENTS, AGGREGATES])
            .with_mode(TransactionMode::Readwrite)
            .build()
            .map_err(err)?;
        let events = tx.object_store(EVENTS).map_err(err)?;
        let aggregates = tx.object_store(AGGREGATES).map_err(err)?;
        for (id, aggregate_id, version) in synced {
            let record: Option<EventRecord> = events
                .get(id.clone())
                .serde()
                .map_err(err)?
                .await
                .map_err(err)?;
            if let Some(mut record) = record {
                record.synced = 1;
                record.sync_error = None;
                events
                    .put(record)
                    .serde()
                    .map_err(err)?
                    .await
                    .map_err(err)?;
            }
            let known: Option<JsValue> = aggregates
                .get(aggregate_id.clone())
                .primitive()
                .map_err(err)?
                .await
                .map_err(err)?;
            let known = known.and_then(|v| v.as_f64()).unwrap_or(0.0) as u64;
            if *version > known {
                aggregates
                    .put(*version as f64)
                    .with_key(aggregate_id.clone())
                    .await
                    .map_err(err)?;
            }
        }
        tx.commit().await.map_err(err)
    }

    /// The case as its stored events make it.
    pub async fn replay(&self, aggregate_id: &str) -> Result<Option<CaseView>, StoreError> {
        Ok(replay(&self.events_for(aggregate_id).await?.0))
    }

    /// Everything in quarantine.
    pub async fn quarantined(&self) -> Result<Vec<Quarantined>, StoreError> {
        let tx = self.db.transaction(QUARANTINE).build().map_err(err)?;
        let q = tx.object_store(QUARANTINE).map_err(err)?;
        q.get_all()
            .serde()
            .map_err(err)?
            .await
            .map_err(err)?
            .collect::<Result<_, _>>()
            .map_err(err)
    }
}
