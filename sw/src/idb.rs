//! The little of IndexedDB the queue needs (open with an upgrade, read a
//! store, put and delete in one transaction), straight on web-sys. The app
//! uses `indexed_db_futures`; in the worker its channels and error types
//! weighed more than the four calls it made, against SPEC §9's size budget.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use js_sys::{Array, Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    IdbDatabase, IdbObjectStoreParameters, IdbOpenDbRequest, IdbRequest, IdbTransaction,
    IdbTransactionMode, WorkerGlobalScope,
};

/// Waits for the event `arm` hooks the promise's own resolve (success,
/// complete) and reject (error, abort) functions to: no closures to keep or
/// free, and a second event (abort after error) is a no-op. The
/// continuation runs in the microtasks right after the event, while a
/// transaction is still active, so requests can follow one another.
fn fired(arm: impl FnOnce(&Function, &Function)) -> JsFuture {
    let mut arm = Some(arm);
    let promise = Promise::new(&mut |resolve, reject| {
        if let Some(arm) = arm.take() {
            arm(&resolve, &reject);
        }
    });
    JsFuture::from(promise)
}

/// A request's result.
pub async fn request(req: &IdbRequest) -> Result<JsValue, JsValue> {
    fired(|ok, bad| {
        req.set_onsuccess(Some(ok));
        req.set_onerror(Some(bad));
    })
    .await
    .map_err(|_| {
        req.error()
            .ok()
            .flatten()
            .map_or(JsValue::NULL, JsValue::from)
    })?;
    req.result()
}

/// Waits until `tx` is durable (or failed). It commits on its own once its
/// last request is done (web-sys marks an explicit `commit()` deprecated).
pub async fn commit(tx: &IdbTransaction) -> Result<(), JsValue> {
    let done = fired(|ok, bad| {
        tx.set_oncomplete(Some(ok));
        tx.set_onerror(Some(bad));
        tx.set_onabort(Some(bad));
    });
    done.await.map_err(|_| {
        tx.error()
            .map_or_else(|| "the transaction was aborted".into(), JsValue::from)
    })?;
    Ok(())
}

/// Opens `name` at `version`; an upgrade creates each of `stores` (keyed by
/// `id`) that is not there yet.
pub async fn open(name: &str, version: u32, stores: &[&str]) -> Result<IdbDatabase, JsValue> {
    let scope: WorkerGlobalScope = js_sys::global().unchecked_into();
    let factory = scope
        .indexed_db()?
        .ok_or_else(|| JsValue::from_str("IndexedDB is not available"))?;
    let req: IdbOpenDbRequest = factory.open_with_u32(name, version)?;
    let names: Vec<String> = stores.iter().map(|s| s.to_string()).collect();
    let upgrading = req.clone();
    let on_upgrade = Closure::<dyn FnMut()>::new(move || {
        let Ok(db) = upgrading.result() else { return };
        let db: IdbDatabase = db.unchecked_into();
        let params = IdbObjectStoreParameters::new();
        params.set_key_path(&"id".into());
        for name in &names {
            if !db.object_store_names().contains(name) {
                let _ = db.create_object_store_with_optional_parameters(name, &params);
            }
        }
    });
    req.set_onupgradeneeded(Some(on_upgrade.as_ref().unchecked_ref()));
    let opened = request(&req).await;
    req.set_onupgradeneeded(None);
    drop(on_upgrade);
    Ok(opened?.unchecked_into())
}

/// A transaction over `stores`.
pub fn transaction(
    db: &IdbDatabase,
    stores: &[&str],
    write: bool,
) -> Result<IdbTransaction, JsValue> {
    let names: Array = stores.iter().map(|s| JsValue::from_str(s)).collect();
    let mode = if write {
        IdbTransactionMode::Readwrite
    } else {
        IdbTransactionMode::Readonly
    };
    db.transaction_with_str_sequence_and_mode(&names, mode)
}
