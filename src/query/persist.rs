//! Saves the query cache to IndexedDB (debounced) and restores it before the
//! first render, so a cold start without a network shows the last data.
//! Each entry is one record: its JSON text under its key hash.

use super::client::{now_ms, QueryClient, QueryData};
use crate::build::BUILD_VERSION;
use crate::idb::{self, Tx};
use casefile_core::query::{PersistedEntry, SavedEntry, SAVE_DEBOUNCE_MS};
use leptos::prelude::*;
use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;
use wasm_bindgen::JsValue;

/// The database of the saved query cache when nobody owns the page (tests;
/// the app saves nothing then).
pub const DB_NAME: &str = "casefile-query-cache";

/// The signed-in user's own database (core's `device::query_db`).
pub fn db_name() -> String {
    crate::session::owner().map_or_else(
        || DB_NAME.to_string(),
        |u| casefile_core::device::query_db(&u),
    )
}
/// Its one store: JSON text by key hash.
pub const STORE: &str = "entries";
/// Version 2: version 1 could be left without its store when something else
/// created the database first; every upgrade now makes sure the store exists.
const DB_VERSION: u8 = 2;

/// Words for a browser error.
fn said(e: JsValue) -> String {
    crate::store::StoreError::from(e).to_string()
}

/// The store in a read-write transaction of the user's database. Refused
/// once this page's user is no longer the one kept signed in (a sign-out
/// began, here or in another tab): a save then would make the database
/// again after the sign-out's purge deleted it.
async fn readwrite() -> Result<(Tx, idb::Store), String> {
    if crate::session::owner_left() {
        return Err("signed out: the saved query cache is not written".into());
    }
    let name = db_name();
    let db = idb::open(&name, u32::from(DB_VERSION), |_old, db, _tx| {
        if !db.object_store_names().contains(STORE) {
            db.create_object_store(STORE)?;
        }
        Ok(())
    })
    .await
    .map_err(|e| format!("cannot open {name}: {}", said(e)))?;
    let tx = idb::transaction(&db, &[STORE], true).map_err(said)?;
    let store = tx.store(STORE).map_err(said)?;
    // Closed once its transaction is done (one connection per use; an open
    // one would hold up a sign-out's deletion of the database).
    db.close();
    Ok((tx, store))
}

/// Why one saved record was not restored.
fn decode(raw: &JsValue, now: u64) -> Result<SavedEntry<QueryData>, String> {
    let text = raw.as_string().ok_or("the record is not text")?;
    let entry: PersistedEntry<serde_json::Value> =
        serde_json::from_str(&text).map_err(|e| format!("undecodable: {e}"))?;
    entry
        .check(BUILD_VERSION, now)
        .map_err(|why| format!("{why:?}"))?;
    Ok(SavedEntry {
        key: entry.key,
        data: Arc::new(entry.data),
        updated_at: entry.updated_at,
    })
}

/// Reads every saved entry this build may use. Records that are corrupted,
/// from another build or too old are deleted and logged; a failure to read
/// at all is logged and gives nothing (the app then starts empty).
pub async fn load() -> Vec<SavedEntry<QueryData>> {
    match try_load().await {
        Ok(entries) => entries,
        Err(err) => {
            leptos::logging::warn!("query cache not restored: {err}");
            Vec::new()
        }
    }
}

async fn try_load() -> Result<Vec<SavedEntry<QueryData>>, String> {
    let (tx, store) = readwrite().await?;
    let keys = store.keys().map_err(said)?;
    let values = store.all(None).map_err(said)?;
    let array = |got: Option<JsValue>| -> Vec<JsValue> {
        got.map(|a| js_sys::Array::from(&a).to_vec())
            .unwrap_or_default()
    };
    let keys = array(keys.value().await.map_err(said)?);
    let values = array(values.value().await.map_err(said)?);
    let now = now_ms();
    let mut entries = Vec::with_capacity(values.len());
    for (key, raw) in keys.iter().zip(&values) {
        match decode(raw, now) {
            Ok(entry) => entries.push(entry),
            Err(why) => {
                leptos::logging::warn!("dropping saved query {key:?}: {why}");
                store.delete(key).map_err(said)?;
            }
        }
    }
    tx.commit().await.map_err(said)?;
    Ok(entries)
}

/// Replaces the saved cache with `entries`, in one transaction.
pub async fn save(entries: Vec<SavedEntry<QueryData>>) -> Result<(), String> {
    let (tx, store) = readwrite().await?;
    store.clear().map_err(said)?;
    for entry in entries {
        let hash = entry.key.hash_key();
        let record = PersistedEntry {
            key: entry.key,
            data: &*entry.data,
            updated_at: entry.updated_at,
            build: BUILD_VERSION.to_string(),
        };
        let text = serde_json::to_string(&record).map_err(|e| e.to_string())?;
        store
            .put_now(&text.into(), Some(&hash.into()))
            .map_err(said)?;
    }
    tx.commit().await.map_err(said)
}

/// Saves the cache [`SAVE_DEBOUNCE_MS`] after changes settle.
pub fn autosave(client: &QueryClient) {
    let pending = Rc::new(Cell::new(false));
    let weak = client.clone();
    client.on_change(move || {
        if pending.replace(true) {
            return;
        }
        let pending = pending.clone();
        let client = weak.clone();
        let fire = move || {
            pending.set(false);
            let entries = client.with_cache(|c| c.saved_entries());
            leptos::task::spawn_local(async move {
                if let Err(err) = save(entries).await {
                    leptos::logging::warn!("query cache not saved: {err}");
                }
            });
        };
        if set_timeout_with_handle(fire, Duration::from_millis(SAVE_DEBOUNCE_MS)).is_err() {
            leptos::logging::warn!("query cache: cannot schedule a save");
        }
    });
}
