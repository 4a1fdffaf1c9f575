//! The browser's storage for this origin (SPEC §10): whether it is
//! persistent (the browser does not evict it silently when space runs low),
//! the usage and quota estimate, asking for persistence when core's
//! `device::ask_to_persist` says so, and the export of unsent changes.

use casefile_core::device::{ask_to_persist, storage_warning};
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// What the browser says about this origin's storage.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Facts {
    /// Granted persistent storage (`None`: the browser does not say).
    pub persisted: Option<bool>,
    /// Bytes used and available, if the browser estimates them.
    pub estimate: Option<(f64, f64)>,
}

thread_local! {
    static FACTS: RwSignal<Facts> = crate::page_signal(Facts::default());
    /// The node id of the user's log that was wiped since the last start.
    static LOST: RwSignal<Option<String>> = crate::page_signal(None);
}

/// At start, with the user's log open: was it wiped behind the app's back
/// since the last start (core's `device::store_lost`)? Remembers the log
/// twice: in local storage, and in a cookie (core's
/// `device::store_marker_cookie`), because a browser that evicts the
/// origin's storage under pressure takes local storage with the log but
/// leaves cookies.
pub fn check_log(user: &str, node_id: &str) {
    let key = casefile_core::device::store_marker(user);
    let storage = window().local_storage().ok().flatten();
    let remembered = storage
        .as_ref()
        .and_then(|s| s.get_item(&key).ok().flatten())
        .or_else(|| marker_cookie(user));
    if casefile_core::device::store_lost(remembered.as_deref(), node_id) {
        leptos::logging::warn!("the local log of {user} was cleared since the last start");
        LOST.with(|l| l.set(remembered));
    }
    if let Some(storage) = storage {
        let _ = storage.set_item(&key, node_id);
    }
    set_marker_cookie(user, Some(node_id));
}

/// A sign-out deletes the log on purpose: nothing to report next time.
pub fn forget_log(user: &str) {
    if let Some(storage) = window().local_storage().ok().flatten() {
        let _ = storage.remove_item(&casefile_core::device::store_marker(user));
    }
    set_marker_cookie(user, None);
}

fn cookies() -> Option<web_sys::HtmlDocument> {
    window().document()?.dyn_into().ok()
}

/// The node id the cookie remembers for `user`'s log.
fn marker_cookie(user: &str) -> Option<String> {
    let all = cookies()?.cookie().ok()?;
    casefile_core::device::read_marker_cookie(&all, user)
}

/// Remembers `node` for `user`'s log in the cookie, or forgets it.
fn set_marker_cookie(user: &str, node: Option<&str>) {
    if let Some(doc) = cookies() {
        let _ = doc.set_cookie(&casefile_core::device::store_marker_cookie(user, node));
    }
}

/// Deletes the stores every user of this device shared before each had
/// their own (`stores`: core's `device::SHARED`, by database name), or cuts
/// the log to its unsent changes, as core's `device::shared_plan` says.
/// Where the browser cannot list its databases, the query cache is deleted
/// all the same (deleting one that is not there does nothing); a log is
/// not opened, as that would make one.
pub async fn drop_shared_stores(stores: &[(&str, casefile_core::device::Shared)]) {
    use casefile_core::device::{kept_at_sign_out, shared_plan, Shared, SharedPlan};
    let names = crate::idb::names().await.ok();
    let kinds: Vec<_> = casefile_core::sync::SyncKind::ALL
        .into_iter()
        .filter(|k| kept_at_sign_out(*k))
        .collect();
    for &(name, store) in stores {
        match names.as_ref().map(|n| n.iter().any(|n| n == name)) {
            Some(false) => continue,
            None if store == Shared::Log => continue,
            _ => {}
        }
        let log = match store {
            Shared::Log => crate::store::EventStore::open_named(name).await.ok(),
            Shared::QueryCache => None,
        };
        // A log cut at an earlier start: nothing more to do.
        let cut_before = match &log {
            Some(log) => log.closed().await.unwrap_or(false),
            None => false,
        };
        if cut_before {
            if let Some(log) = log {
                log.close();
            }
            continue;
        }
        let kept = match &log {
            Some(log) => log.count_of(&kinds).await.ok(),
            None => None,
        };
        let done = match (shared_plan(store, kept), log) {
            (SharedPlan::KeepOnlyUnsent, Some(log)) => {
                let cut = log.keep_only_unsent().await.map_err(|e| e.to_string());
                log.close();
                cut.map(|n| leptos::logging::warn!("{name} (from before each user had their own) holds {n} unsent changes: kept, the rest removed"))
            }
            (plan, log) => {
                if let Some(log) = log {
                    log.close();
                }
                match plan {
                    SharedPlan::Delete => {
                        crate::idb::delete(name).await.map_err(|e| format!("{e:?}"))
                    }
                    _ => Err("it could not be read".to_string()),
                }
            }
        };
        if let Err(e) = done {
            leptos::logging::warn!("{name} (from before each user had their own) is left: {e}");
        }
    }
}

/// The storage facts, as last read.
pub fn facts() -> RwSignal<Facts> {
    FACTS.with(|f| *f)
}

async fn read() -> Facts {
    let storage = window().navigator().storage();
    let persisted = match storage.persisted() {
        Ok(p) => JsFuture::from(p).await.ok().and_then(|v| v.as_bool()),
        Err(_) => None,
    };
    let estimate = match storage.estimate() {
        Ok(p) => JsFuture::from(p).await.ok().and_then(|v| {
            let e: web_sys::StorageEstimate = v.unchecked_into();
            Some((e.get_usage()?, e.get_quota()?))
        }),
        Err(_) => None,
    };
    Facts {
        persisted,
        estimate,
    }
}

/// Reads the facts again.
pub async fn refresh() {
    let now = read().await;
    facts().set(now);
}

/// Asks for persistent storage (the browser decides, often silently), then
/// reads the facts again.
async fn ask() {
    if let Ok(p) = window().navigator().storage().persist() {
        let _ = JsFuture::from(p).await;
    }
    refresh().await;
}

/// Watches the unsent count: asks for persistence once the user's stores
/// are open and whenever unsent work appears (core's rule).
pub fn watch(unsent: Signal<usize>) {
    leptos::task::spawn_local(async move {
        refresh().await;
        if ask_to_persist(facts().get_untracked().persisted, 0, 0, true) {
            ask().await;
        }
    });
    Effect::new(move |before: Option<usize>| {
        let now = unsent.get();
        if let Some(before) = before {
            if ask_to_persist(facts().get_untracked().persisted, before, now, false) {
                leptos::task::spawn_local(ask());
            }
        }
        now
    });
}

fn megabytes(bytes: f64) -> String {
    format!("{:.1} MB", bytes / 1_048_576.0)
}

/// Persistence, usage and quota, and the warning while changes wait on
/// storage that may go (Sync center, Performance page).
#[component]
pub fn StorageFacts() -> impl IntoView {
    let facts = facts();
    let status = crate::sync::use_sync_status();
    leptos::task::spawn_local(refresh());
    // A wiped log: the server says what it received from it.
    let lost = LOST.with(|l| *l);
    let record = RwSignal::new(None::<casefile_core::api::DeviceRecord>);
    if let Some(node) = lost.get_untracked() {
        let path = format!(
            "/api/v1/devices/{}",
            String::from(js_sys::encode_uri_component(&node))
        );
        leptos::task::spawn_local(async move {
            if let Ok(found) = crate::http::get_json(&path).await {
                record.set(Some(found));
            }
        });
    }
    view! {
        <dl class="sync-facts" data-testid="storage-facts">
            <dt>"Storage"</dt>
            <dd data-testid="storage-persisted">{move || match facts.get().persisted {
                Some(true) => "persistent: the browser keeps it",
                Some(false) => "not persistent: the browser may clear it when space runs low",
                None => "this browser does not say whether it keeps it",
            }}</dd>
            <dt>"Used"</dt>
            <dd>{move || match facts.get().estimate {
                Some((used, quota)) => format!("{} of {} available to this site", megabytes(used), megabytes(quota)),
                None => "this browser does not report storage use".to_string(),
            }}</dd>
        </dl>
        {move || lost.get().is_some().then(|| view! {
            <p class="warning" role="alert" data-testid="storage-lost">
                {move || casefile_core::device::lost_words(record.get().as_ref(), crate::format::date)}
            </p>
        })}
        {move || storage_warning(facts.get().persisted, status.pending.get()).map(|w| view! {
            <p class="warning" role="status" data-testid="storage-warning">{w}</p>
        })}
    }
}

/// Saves every unsent change of this user as a readable JSON file.
pub async fn export_unsent(engine: &crate::sync::SyncEngine) -> Result<usize, String> {
    let user = crate::session::owner().ok_or("nobody is signed in")?;
    let export = engine
        .export_unsent(&user)
        .await
        .map_err(|e| e.to_string())?;
    let n = export.changes.len();
    let json = serde_json::to_string_pretty(&export).map_err(|e| e.to_string())?;
    let parts = js_sys::Array::of1(&wasm_bindgen::JsValue::from_str(&json));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("application/json");
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options)
        .map_err(|_| "the browser could not make the file")?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(|_| "no download URL")?;
    let a: web_sys::HtmlAnchorElement = document()
        .create_element("a")
        .map_err(|_| "no link")?
        .unchecked_into();
    a.set_href(&url);
    a.set_download(&casefile_core::device::export_name(
        &user,
        export.exported_at,
    ));
    a.click();
    let _ = web_sys::Url::revoke_object_url(&url);
    Ok(n)
}
