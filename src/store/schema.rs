//! Every IndexedDB name and version of the event store, in one place.

use js_sys::Array;
use wasm_bindgen::JsValue;
use web_sys::{IdbDatabase, IdbObjectStoreParameters, IdbTransaction};

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
/// Key of the mark (1) that a sign-out cut this log to the person's unsent
/// work, in [`META`]: nothing pulled is stored until the user's own page
/// opens the log again (a page that was on its way when the sign-out began
/// must not land after the cut).
pub const META_CLOSED: &str = "closed";

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

/// Creates or upgrades the schema from `old_version` to [`DB_VERSION`], in
/// the upgrade's transaction `tx`.
pub fn upgrade(old_version: u32, db: &IdbDatabase, tx: &IdbTransaction) -> Result<(), JsValue> {
    upgrade_to(old_version, u32::from(DB_VERSION), db, tx)
}

/// A store keyed by its records' `id`.
fn keyed_by_id() -> IdbObjectStoreParameters {
    let params = IdbObjectStoreParameters::new();
    params.set_key_path(&"id".into());
    params
}

/// The key path of several fields.
fn fields(names: &[&str]) -> JsValue {
    names
        .iter()
        .map(|n| JsValue::from_str(n))
        .collect::<Array>()
        .into()
}

/// Upgrades from `old_version` up to `target`, one step at a time (tests use
/// it to make a database of an older version).
pub fn upgrade_to(
    old_version: u32,
    target: u32,
    db: &IdbDatabase,
    tx: &IdbTransaction,
) -> Result<(), JsValue> {
    if old_version < 1 && target >= 1 {
        let events = db.create_object_store_with_optional_parameters(EVENTS, &keyed_by_id())?;
        // Schema 1 as it was; schema 3 drops the indexes nothing reads.
        for (name, field) in [
            (INDEX_AGGREGATE, "aggregate_id"),
            (INDEX_SYNCED, "synced"),
            (UNUSED_INDEXES[0], "event_type"),
            (UNUSED_INDEXES[1], "timestamp"),
        ] {
            events.create_index_with_str(name, field)?;
        }
        events.create_index_with_str_sequence(UNUSED_INDEXES[2], &fields(&["clock", "node_id"]))?;
        db.create_object_store(META)?;
        db.create_object_store(AGGREGATES)?;
        db.create_object_store_with_optional_parameters(QUARANTINE, &keyed_by_id())?;
    }
    if old_version < 2 && target >= 2 {
        db.create_object_store(SNAPSHOTS)?;
        tx.object_store(EVENTS)?.create_index_with_str_sequence(
            INDEX_AGGREGATE_STAMP,
            &fields(&["aggregate_id", "clock", "node_id"]),
        )?;
    }
    if old_version < 3 && target >= 3 {
        let events = tx.object_store(EVENTS)?;
        for name in UNUSED_INDEXES {
            events.delete_index(name)?;
        }
    }
    Ok(())
}
