//! Every IndexedDB name and version of the event store, in one place.

use indexed_db_futures::database::Database;
use indexed_db_futures::prelude::*;
use indexed_db_futures::KeyPath;

/// The database.
pub const DB_NAME: &str = "casefile-events";
/// Its schema version; [`upgrade`] brings any older one here.
///
/// - 1: events (indexes `aggregate_id`, `synced`, `event_type`, `timestamp`,
///   `stamp`), meta, aggregates, quarantine.
/// - 2: snapshots, and the index `aggregate_stamp` so a replay reads only the
///   events after its snapshot.
pub const DB_VERSION: u8 = 3;

/// Events by id (`EventRecord`).
pub const EVENTS: &str = "events";
/// Settings: the Lamport clock and the node id.
pub const META: &str = "meta";
/// The server version known for each case, by case id.
pub const AGGREGATES: &str = "aggregates";
/// Records that failed verification (`Quarantined`), by id.
pub const QUARANTINE: &str = "quarantine";
/// The latest snapshot of each case (`SnapshotRecord`), by case id (v2).
pub const SNAPSHOTS: &str = "snapshots";

/// Index on `aggregate_id`.
pub const INDEX_AGGREGATE: &str = "aggregate_id";
/// Index on `synced` (0/1).
pub const INDEX_SYNCED: &str = "synced";
/// Indexes schema 1 made and nothing reads (`event_type`, `timestamp`,
/// `[clock, node_id]`), dropped by schema 3: each index is written with
/// every event, and a new device writes tens of thousands of them in its
/// first catch-up (issue 18).
pub const UNUSED_INDEXES: [&str; 3] = ["event_type", "timestamp", "stamp"];
/// A store that lives only during the schema 3 upgrade.
const UPGRADE_SCRATCH: &str = "upgrade_scratch";
/// Index on `[aggregate_id, clock, node_id]`: one case in stamp order (v2).
pub const INDEX_AGGREGATE_STAMP: &str = "aggregate_stamp";

/// Key of the Lamport clock in [`META`].
pub const META_CLOCK: &str = "clock";
/// Key of this device's node id in [`META`].
pub const META_NODE_ID: &str = "node_id";
/// Key of the pull cursor in [`META`].
pub const META_CURSOR: &str = "cursor";
/// Key of the mark that this log's first catch-up once reached the
/// server's end (1), in [`META`]: an empty server's log ends at cursor 0,
/// so the cursor alone cannot say it.
pub const META_FILLED: &str = "filled";
/// Key of the highest seq this log ever received, in [`META`] (kept by
/// logs made since issue 18; see core's `sync::receive::may_be_stored`).
pub const META_RECEIVED_UPTO: &str = "received_upto";
/// Key of the access cursor (the server's access changes seen) in [`META`].
pub const META_ACCESS_CURSOR: &str = "access_cursor";

/// `synced` of an event waiting to be pushed.
pub const PENDING: u8 = 0;
/// `synced` of an event the server has (applied, or pulled from it).
pub const SYNCED: u8 = 1;
/// `synced` of an event the server refused (`invalid`); kept, shown.
pub const REFUSED: u8 = 2;
/// `synced` of an event a conflict settled away (overruled, or replaced by
/// a rebased event); kept, shown.
pub const OVERRULED: u8 = 3;
/// `synced` of an event in a manual conflict, waiting for the person.
pub const PARKED: u8 = 4;
/// `synced` of an event whose push the service worker queued (it replays
/// it; the driver does not send it again).
pub const QUEUED: u8 = 5;
/// `synced` of an event whose push the worker gave up on (a dead letter):
/// still shown, for the person to retry or discard.
pub const DEAD: u8 = 6;

/// The stored byte of a sync state: the only place the mapping lives.
pub fn kind_byte(kind: casefile_core::sync::SyncKind) -> u8 {
    use casefile_core::sync::SyncKind::*;
    match kind {
        Pending => PENDING,
        Synced => SYNCED,
        Refused => REFUSED,
        Overruled => OVERRULED,
        Parked => PARKED,
        Queued => QUEUED,
        Dead => DEAD,
    }
}

/// The sync state a stored byte means; `None` for a byte no version wrote.
pub fn byte_kind(byte: u8) -> Option<casefile_core::sync::SyncKind> {
    use casefile_core::sync::SyncKind;
    SyncKind::ALL.into_iter().find(|k| kind_byte(*k) == byte)
}

/// Creates or upgrades the schema from `old_version` to [`DB_VERSION`].
pub fn upgrade(old_version: u32, db: &Database) -> indexed_db_futures::Result<()> {
    upgrade_to(old_version, u32::from(DB_VERSION), db)
}

/// Upgrades from `old_version` up to `target`, one step at a time (tests use
/// it to make a database of an older version).
pub fn upgrade_to(old_version: u32, target: u32, db: &Database) -> indexed_db_futures::Result<()> {
    if old_version < 1 && target >= 1 {
        let events = db
            .create_object_store(EVENTS)
            .with_key_path(KeyPath::One("id"))
            .build()?;
        // Schema 1 as it was; schema 3 drops the indexes nothing reads.
        for (name, field) in [
            (INDEX_AGGREGATE, "aggregate_id"),
            (INDEX_SYNCED, "synced"),
            (UNUSED_INDEXES[0], "event_type"),
            (UNUSED_INDEXES[1], "timestamp"),
        ] {
            events.create_index(name, KeyPath::One(field)).build()?;
        }
        events
            .create_index(UNUSED_INDEXES[2], KeyPath::from(vec!["clock", "node_id"]))
            .build()?;
        db.create_object_store(META).build()?;
        db.create_object_store(AGGREGATES).build()?;
        db.create_object_store(QUARANTINE)
            .with_key_path(KeyPath::One("id"))
            .build()?;
    }
    if old_version < 2 && target >= 2 {
        let snapshots = db.create_object_store(SNAPSHOTS).build()?;
        // The version-change transaction reaches the existing events store.
        snapshots
            .transaction()
            .object_store(EVENTS)?
            .create_index(
                INDEX_AGGREGATE_STAMP,
                KeyPath::from(vec!["aggregate_id", "clock", "node_id"]),
            )
            .build()?;
    }
    if old_version < 3 && target >= 3 {
        // The upgrade's transaction is reached through a store made for
        // the purpose (this crate's upgrade callback does not hand it out),
        // dropped again at once.
        let scratch = db.create_object_store(UPGRADE_SCRATCH).build()?;
        {
            let events = scratch.transaction().object_store(EVENTS)?;
            for name in UNUSED_INDEXES {
                events.delete_index(name)?;
            }
        }
        db.delete_object_store(UPGRADE_SCRATCH)?;
    }
    Ok(())
}
