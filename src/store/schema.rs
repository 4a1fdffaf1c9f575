//! Every IndexedDB name and version of the event store, in one place.

use indexed_db_futures::database::Database;
use indexed_db_futures::prelude::*;
use indexed_db_futures::KeyPath;

/// The database.
pub const DB_NAME: &str = "casefile-events";
/// Its schema version; [`upgrade`] brings any older one here.
pub const DB_VERSION: u8 = 1;

/// Events by id (`EventRecord`).
pub const EVENTS: &str = "events";
/// Settings: the Lamport clock and the node id.
pub const META: &str = "meta";
/// The server version known for each case, by case id.
pub const AGGREGATES: &str = "aggregates";
/// Records that failed verification (`Quarantined`), by id.
pub const QUARANTINE: &str = "quarantine";

/// Index on `aggregate_id`.
pub const INDEX_AGGREGATE: &str = "aggregate_id";
/// Index on `synced` (0/1).
pub const INDEX_SYNCED: &str = "synced";
/// Index on `event_type`.
pub const INDEX_TYPE: &str = "event_type";
/// Index on `timestamp`.
pub const INDEX_TIMESTAMP: &str = "timestamp";
/// Index on `[clock, node_id]`: the total order.
pub const INDEX_STAMP: &str = "stamp";

/// Key of the Lamport clock in [`META`].
pub const META_CLOCK: &str = "clock";
/// Key of this device's node id in [`META`].
pub const META_NODE_ID: &str = "node_id";

/// Creates or upgrades the schema from `old_version`.
pub fn upgrade(old_version: u32, db: &Database) -> indexed_db_futures::Result<()> {
    if old_version < 1 {
        let events = db
            .create_object_store(EVENTS)
            .with_key_path(KeyPath::One("id"))
            .build()?;
        for (name, field) in [
            (INDEX_AGGREGATE, "aggregate_id"),
            (INDEX_SYNCED, "synced"),
            (INDEX_TYPE, "event_type"),
            (INDEX_TIMESTAMP, "timestamp"),
        ] {
            events.create_index(name, KeyPath::One(field)).build()?;
        }
        events
            .create_index(INDEX_STAMP, KeyPath::from(vec!["clock", "node_id"]))
            .build()?;
        db.create_object_store(META).build()?;
        db.create_object_store(AGGREGATES).build()?;
        db.create_object_store(QUARANTINE)
            .with_key_path(KeyPath::One("id"))
            .build()?;
    }
    Ok(())
}
