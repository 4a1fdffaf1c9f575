//! The little of IndexedDB the app uses, straight on web-sys: open with an
//! upgrade, transactions, and requests on stores and indexes.
//!
//! Hand-written on purpose (issue 18). `indexed_db_futures` with its serde
//! feature brought a second serde backend (`serde-wasm-bindgen`), its own
//! futures and error types to every chunk that touched the store, for the
//! dozen calls made here; the worker dropped it the same way
//! (`sw/src/idb.rs`). Records cross the wasm boundary as one JSON text each
//! way ([`to_js`], [`from_js`]): `JSON.parse` and `JSON.stringify` are the
//! browser's own, and a page of records crosses once, not field by field.

use js_sys::{Array, Function, Promise};
use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    IdbDatabase, IdbIndex, IdbKeyRange, IdbObjectStore, IdbOpenDbRequest, IdbRequest,
    IdbTransaction, IdbTransactionMode,
};

/// A promise resolved, with the event, by whichever event `arm` hooks its
/// resolve function to (success or error; complete or abort), armed at
/// once: a request's events are caught even when it is awaited later. It
/// never rejects, so a request nobody awaits (an early return, a
/// transaction aborted under it) leaves no unhandled rejection; the
/// outcome is read from the request or transaction. No closures to keep or
/// free; a second event is a no-op.
fn settled(arm: impl FnOnce(&Function)) -> Promise {
    let mut arm = Some(arm);
    Promise::new(&mut |resolve, _| {
        if let Some(arm) = arm.take() {
            arm(&resolve);
        }
    })
}

/// A request in flight: issued when made (so several go in one round trip),
/// awaited with [`Req::value`]. A request never awaited still runs; its
/// failure aborts the transaction, which the commit reports.
pub struct Req {
    req: IdbRequest,
    done: Promise,
}

impl Req {
    fn of(req: IdbRequest) -> Req {
        let done = settled(|done| {
            req.set_onsuccess(Some(done));
            req.set_onerror(Some(done));
        });
        Req { req, done }
    }

    /// The result (`None` for `undefined`: no such record), or the
    /// request's own error.
    pub async fn value(self) -> Result<Option<JsValue>, JsValue> {
        let _ = JsFuture::from(self.done).await;
        if let Ok(Some(error)) = self.req.error() {
            return Err(error.into());
        }
        let value = self.req.result()?;
        Ok((!value.is_undefined()).then_some(value))
    }

    /// The result as a number (0 when there is none: counters start there).
    pub async fn number(self) -> Result<f64, JsValue> {
        Ok(self.value().await?.and_then(|v| v.as_f64()).unwrap_or(0.0))
    }
}

/// The page's IndexedDB.
fn factory() -> Result<web_sys::IdbFactory, JsValue> {
    web_sys::window()
        .ok_or_else(|| JsValue::from_str("no window"))?
        .indexed_db()?
        .ok_or_else(|| JsValue::from_str("IndexedDB is not available"))
}

/// Opens `name` at `version`; `upgrade(old version, db, its transaction)`
/// runs when the stored version is older. An error from it aborts the
/// upgrade, and the open fails.
pub async fn open(
    name: &str,
    version: u32,
    upgrade: impl FnOnce(u32, &IdbDatabase, &IdbTransaction) -> Result<(), JsValue> + 'static,
) -> Result<IdbDatabase, JsValue> {
    let req: IdbOpenDbRequest = factory()?.open_with_u32(name, version)?;
    /// Takes the upgrade handler off the request however `open` ends (a
    /// future dropped early included), before the closure is freed.
    struct Unhook(IdbOpenDbRequest);
    impl Drop for Unhook {
        fn drop(&mut self) {
            self.0.set_onupgradeneeded(None);
        }
    }
    let upgrading = req.clone();
    let mut upgrade = Some(upgrade);
    let on_upgrade = Closure::<dyn FnMut(web_sys::IdbVersionChangeEvent)>::new(
        move |event: web_sys::IdbVersionChangeEvent| {
            let (Some(upgrade), Ok(db), Some(tx)) =
                (upgrade.take(), upgrading.result(), upgrading.transaction())
            else {
                return;
            };
            if let Err(e) = upgrade(event.old_version() as u32, db.unchecked_ref(), &tx) {
                leptos::logging::error!("upgrade of the local database failed: {e:?}");
                let _ = tx.abort();
            }
        },
    );
    req.set_onupgradeneeded(Some(on_upgrade.as_ref().unchecked_ref()));
    // Declared after the closure, so dropped before it.
    let _unhook = Unhook(req.clone());
    let opened = Req::of(req.unchecked_into()).value().await;
    let db: IdbDatabase = opened?
        .ok_or_else(|| JsValue::from_str("IndexedDB opened nothing"))?
        .unchecked_into();
    // A page opening a newer version (after an update) or deleting the
    // database (a purge at start) waits until every connection closes: this
    // one closes at once, and its later requests fail with an error its page
    // reports, instead of the other page waiting with nothing on screen. One
    // handler serves every connection (it closes the event's own database),
    // so a connection nobody uses any more is still freed.
    CLOSE_ON_CHANGE.with(|close| db.set_onversionchange(Some(close)));
    Ok(db)
}

/// The names of this origin's databases (`indexedDB.databases()`; an
/// error where the browser has no such call).
pub async fn names() -> Result<Vec<String>, JsValue> {
    let factory = factory()?;
    let call: Function = js_sys::Reflect::get(&factory, &"databases".into())?.dyn_into()?;
    let list = JsFuture::from(Promise::from(call.call0(&factory)?)).await?;
    Ok(Array::from(&list)
        .iter()
        .filter_map(|d| js_sys::Reflect::get(&d, &"name".into()).ok()?.as_string())
        .collect())
}

thread_local! {
    /// `versionchange` handler of every connection: closes it.
    static CLOSE_ON_CHANGE: Function = Closure::<dyn Fn(web_sys::Event)>::new(|event: web_sys::Event| {
        if let Some(db) = event.target() {
            db.unchecked_into::<IdbDatabase>().close();
        }
    })
    .into_js_value()
    .unchecked_into();
}

/// Deletes the database `name`; done when the browser says so.
pub async fn delete(name: &str) -> Result<(), JsValue> {
    Req::of(factory()?.delete_database(name)?.unchecked_into())
        .value()
        .await
        .map(drop)
}

/// A transaction over `stores`.
pub fn transaction(db: &IdbDatabase, stores: &[&str], write: bool) -> Result<Tx, JsValue> {
    let names: Array = stores.iter().map(|s| JsValue::from_str(s)).collect();
    let mode = if write {
        IdbTransactionMode::Readwrite
    } else {
        IdbTransactionMode::Readonly
    };
    let tx = db.transaction_with_str_sequence_and_mode(&names, mode)?;
    Ok(Tx { tx, write })
}

/// A transaction. A read-write one dropped before [`Tx::commit`] (an
/// error on the way) is aborted: none of its writes land.
pub struct Tx {
    tx: IdbTransaction,
    write: bool,
}

impl Drop for Tx {
    fn drop(&mut self) {
        if self.write {
            // Already finished when it committed: then this is a no-op.
            let _ = self.tx.abort();
        }
    }
}

impl Tx {
    /// One of its stores.
    pub fn store(&self, name: &str) -> Result<Store, JsValue> {
        self.tx.object_store(name).map(Store)
    }

    /// Waits until it is durable (or failed). It commits on its own once its
    /// last request is done (web-sys marks an explicit `commit()`
    /// deprecated). A failure is reported at the abort, when the
    /// transaction's error is the failed request's own (a quota error is
    /// known by its name), not at the error event, before it is set.
    pub async fn commit(mut self) -> Result<(), JsValue> {
        self.write = false;
        let tx = &self.tx;
        let done = settled(|done| {
            tx.set_oncomplete(Some(done));
            tx.set_onabort(Some(done));
        });
        let event = JsFuture::from(done).await.unwrap_or_default();
        let kind = js_sys::Reflect::get(&event, &"type".into()).unwrap_or_default();
        if kind.as_string().as_deref() == Some("complete") {
            return Ok(());
        }
        Err(tx
            .error()
            .map_or_else(|| "the transaction was aborted".into(), JsValue::from))
    }
}

/// An object store in a transaction.
pub struct Store(IdbObjectStore);

impl Store {
    /// The record under `key`.
    pub fn get(&self, key: &JsValue) -> Result<Req, JsValue> {
        self.0.get(key).map(Req::of)
    }

    /// Puts `value` (under `key` for a store without a key path) without
    /// waiting: the commit reports a failure.
    pub fn put_now(&self, value: &JsValue, key: Option<&JsValue>) -> Result<(), JsValue> {
        match key {
            Some(key) => self.0.put_with_key(value, key),
            None => self.0.put(value),
        }
        .map(drop)
    }

    /// Deletes the record under `key`, without waiting: the commit reports
    /// a failure.
    pub fn delete(&self, key: &JsValue) -> Result<(), JsValue> {
        self.0.delete(key).map(drop)
    }

    /// Empties the store, without waiting.
    pub fn clear(&self) -> Result<(), JsValue> {
        self.0.clear().map(drop)
    }

    /// Every record (in `range` when given), in key order.
    pub fn all(&self, range: Option<&JsValue>) -> Result<Req, JsValue> {
        match range {
            Some(range) => self.0.get_all_with_key(range),
            None => self.0.get_all(),
        }
        .map(Req::of)
    }

    /// Every key, in key order.
    pub fn keys(&self) -> Result<Req, JsValue> {
        self.0.get_all_keys().map(Req::of)
    }

    /// How many records.
    pub fn count(&self) -> Result<Req, JsValue> {
        self.0.count().map(Req::of)
    }

    /// One of its indexes.
    pub fn index(&self, name: &str) -> Result<Index, JsValue> {
        self.0.index(name).map(Index)
    }
}

/// An index of a store.
pub struct Index(IdbIndex);

impl Index {
    /// The records whose index key is in `range`, in index order.
    pub fn all(&self, range: &JsValue) -> Result<Req, JsValue> {
        self.0.get_all_with_key(range).map(Req::of)
    }

    /// How many records have their index key in `range`.
    pub fn count(&self, range: &JsValue) -> Result<Req, JsValue> {
        self.0.count_with_key(range).map(Req::of)
    }
}

/// The key range of exactly `key`.
pub fn only(key: &JsValue) -> Result<JsValue, JsValue> {
    IdbKeyRange::only(key).map(JsValue::from)
}

/// The key range from `lower` to `upper`, each end open or not.
pub fn bound(
    lower: &JsValue,
    upper: &JsValue,
    lower_open: bool,
    upper_open: bool,
) -> Result<JsValue, JsValue> {
    IdbKeyRange::bound_with_lower_open_and_upper_open(lower, upper, lower_open, upper_open)
        .map(JsValue::from)
}

/// A value as a stored JS object, through its JSON text.
pub fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsValue> {
    let text = serde_json::to_string(value).map_err(|e| JsValue::from_str(&e.to_string()))?;
    js_sys::JSON::parse(&text)
}

/// A stored JS value (a record, or an array of them) read back, through
/// its JSON text.
pub fn from_js<T: DeserializeOwned>(value: &JsValue) -> Result<T, JsValue> {
    let text: String = js_sys::JSON::stringify(value)?.into();
    serde_json::from_str(&text).map_err(|e| JsValue::from_str(&format!("unreadable record: {e}")))
}
