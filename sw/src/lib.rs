//! Casefile's service worker: a thin adapter that carries out what
//! `casefile_core::precache` decides. The JS bootstrap (`bootstrap.js`, filled
//! in at build time) registers the listeners synchronously and forwards each
//! event here once the module is instantiated.
//!
//! Built with the `slim` feature (as trunk builds it), nothing in the
//! worker's graph links std: a panic traps without formatting a message, and
//! the allocator is a small one, both for SPEC §9's size budget.

#![no_std]

extern crate alloc;
// Tests and workspace builds link std, which brings the panic handler and
// allocator.
#[cfg(not(feature = "slim"))]
extern crate std;

/// A panic traps, as `panic = "abort"` did with std, only without
/// formatting a message first: the event's promise rejects (a fetch is
/// answered with a network error). Nothing in the worker panics by design;
/// bad input and failed I/O are `Err` values.
#[cfg(feature = "slim")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

// SAFETY: the worker's wasm runs on one thread (see `local`).
#[cfg(feature = "slim")]
#[global_allocator]
static ALLOCATOR: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };

pub mod codec;
pub mod idb;
pub mod local;
pub mod queue;
pub mod strategy;

use alloc::string::String;
use alloc::vec::Vec;
use casefile_core::precache::{Precache, RequestFacts, Route, SHELL_PATH};
use casefile_core::strategy::{RuntimeCache, Strategy};
use core::cell::RefCell;
use js_sys::{Array, Promise};
use local::Local;
use strategy::{FetchStrategy, Fetcher, Handler};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    Cache, CacheQueryOptions, FetchEvent, Request, RequestCache, RequestInit, RequestMode,
    Response, ServiceWorkerGlobalScope,
};

static PRECACHE: Local<RefCell<Option<Precache>>> = Local(RefCell::new(None));

fn scope() -> ServiceWorkerGlobalScope {
    js_sys::global().unchecked_into()
}

/// Whether the bootstrap configured this worker (a real worker, not a test).
pub fn configured() -> bool {
    PRECACHE.borrow().is_some()
}

fn precache() -> Result<Precache, JsValue> {
    PRECACHE
        .borrow()
        .clone()
        .ok_or_else(|| JsValue::from_str("casefile-sw: configure() was not called"))
}

/// Called once by the bootstrap with the build's version and file list.
#[wasm_bindgen]
pub fn configure(version: String, paths: Vec<String>) {
    *PRECACHE.borrow_mut() = Some(Precache::new(version, paths));
    // Worker start-up is a replay trigger: writes may wait from last time
    // (after core's delay, so the waking event is answered first).
    let later = Closure::once_into_js(|| {
        wasm_bindgen_futures::spawn_local(async {
            let _ = queue::replay(network_fetcher()).await;
        });
    });
    let _ = scope().set_timeout_with_callback_and_timeout_and_arguments_0(
        later.unchecked_ref(),
        casefile_core::queue::STARTUP_REPLAY_DELAY_MS as i32,
    );
}

/// `sync` (Background Sync): replay the queue.
#[wasm_bindgen]
pub async fn on_sync() -> Result<(), JsValue> {
    queue::replay(network_fetcher()).await
}

/// The Cache Storage cache `name` (opened, or made).
pub(crate) async fn open_cache(name: &str) -> Result<Cache, JsValue> {
    let caches = scope().caches()?;
    Ok(JsFuture::from(caches.open(name)).await?.unchecked_into())
}

/// Fetches every file of the shell into the versioned cache. All or nothing:
/// one failed file rejects, the install fails, and the old worker stays. So
/// does a cache that is gone when the files are in: an older build that
/// activated meanwhile (its banner's Reload) deleted it, and this build must
/// not take over with no shell.
pub async fn install_precache(precache: &Precache) -> Result<(), JsValue> {
    let name = precache.cache_name();
    let cache = open_cache(&name).await?;
    let requests = Array::new();
    for path in precache.paths() {
        // Bypass the HTTP cache so the shell is this build's, not a stale copy.
        let init = RequestInit::new();
        init.set_cache(RequestCache::NoCache);
        requests.push(&JsValue::from(Request::new_with_str_and_init(path, &init)?));
    }
    JsFuture::from(cache.add_all_with_request_sequence(&requests)).await?;
    if !JsFuture::from(scope().caches()?.has(&name))
        .await?
        .is_truthy()
    {
        return Err(JsValue::from_str(
            "casefile-sw: the precache was deleted while installing; the next update check tries again",
        ));
    }
    Ok(())
}

/// This build's files that its precache does not hold.
async fn missing_from_precache(precache: &Precache) -> Result<Vec<String>, JsValue> {
    let name = precache.cache_name();
    if !JsFuture::from(scope().caches()?.has(&name))
        .await?
        .is_truthy()
    {
        return Ok(precache.missing([]));
    }
    let keys: Array = JsFuture::from(open_cache(&name).await?.keys())
        .await?
        .unchecked_into();
    let mut present = Vec::new();
    for key in keys.iter() {
        present.push(web_sys::Url::new(&key.unchecked_into::<Request>().url())?.pathname());
    }
    Ok(precache.missing(present.iter().map(String::as_str)))
}

/// Deletes the precaches of other builds; returns their names. If this
/// build's own precache is incomplete, it is filled again first; if that
/// fails (offline), the others stay, to answer from (core's
/// `Precache::stale_caches`).
pub async fn delete_stale_caches(precache: &Precache) -> Result<Vec<String>, JsValue> {
    let mut complete = missing_from_precache(precache).await?.is_empty();
    if !complete && install_precache(precache).await.is_ok() {
        complete = missing_from_precache(precache).await?.is_empty();
    }
    let caches = scope().caches()?;
    let keys: Array = JsFuture::from(caches.keys()).await?.unchecked_into();
    let names: Vec<String> = keys.iter().filter_map(|k| k.as_string()).collect();
    let stale = precache.stale_caches(names.iter().map(String::as_str), complete);
    for name in &stale {
        JsFuture::from(caches.delete(name)).await?;
    }
    Ok(stale)
}

/// `install`: precache this build's shell.
#[wasm_bindgen]
pub async fn on_install() -> Result<(), JsValue> {
    install_precache(&precache()?).await
}

/// `activate`: drop other builds' caches and take control of open pages.
#[wasm_bindgen]
pub async fn on_activate() -> Result<(), JsValue> {
    delete_stale_caches(&precache()?).await?;
    JsFuture::from(scope().clients().claim()).await?;
    Ok(())
}

/// `path` from this build's precache or, failing that, from any cache (an
/// older build's precache kept because this one's is incomplete: hashed
/// files are the same bytes, and an older shell beats no answer offline).
async fn from_cache(precache: &Precache, path: &str) -> Result<Option<Response>, JsValue> {
    let options = CacheQueryOptions::new();
    options.set_cache_name(&precache.cache_name());
    let caches = scope().caches()?;
    let hit = JsFuture::from(caches.match_with_str_and_options(path, &options)).await?;
    if let Ok(response) = hit.dyn_into::<Response>() {
        return Ok(Some(response));
    }
    let hit = JsFuture::from(caches.match_with_str(path)).await?;
    Ok(hit.dyn_into::<Response>().ok())
}

async fn network(request: &Request) -> Result<Response, JsValue> {
    Ok(JsFuture::from(scope().fetch_with_request(request))
        .await?
        .unchecked_into())
}

fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}

/// The real network.
pub fn network_fetcher() -> Fetcher {
    alloc::rc::Rc::new(|request: Request| {
        alloc::boxed::Box::pin(async move { network(&request).await })
    })
}

/// Answers one request by the route core chose, through `fetcher`.
pub async fn respond_with(
    precache: &Precache,
    request: &Request,
    navigate: bool,
    fetcher: Fetcher,
) -> Result<Response, JsValue> {
    let url = web_sys::Url::new(&request.url())?;
    let own_origin = scope().location().origin();
    let method = request.method();
    let same_origin = url.origin() == own_origin;
    let facts = RequestFacts {
        method: &method,
        path: &url.pathname(),
        same_origin,
        navigate,
    };
    match precache.route(&facts) {
        Route::Queue => queue::send_or_queue(request, fetcher).await,
        Route::AppShell => match from_cache(precache, SHELL_PATH).await? {
            Some(response) => Ok(response),
            None => (fetcher)(request.clone()?).await,
        },
        Route::Precached { path } => match from_cache(precache, &path).await? {
            Some(response) => Ok(response),
            None => (fetcher)(request.clone()?).await,
        },
        Route::Runtime { strategy, cache } => {
            let handler = Handler {
                cache,
                bounded: true,
                fetcher,
                now: now_ms,
                timer: strategy::wait_ms,
            };
            strategy.handle(&handler, request.clone()?).await
        }
        Route::Network => {
            Strategy::NetworkOnly
                .handle(&plain(fetcher), request.clone()?)
                .await
        }
    }
}

/// A handler with no cache of its own, for network-only answers.
fn plain(fetcher: Fetcher) -> Handler {
    Handler {
        cache: RuntimeCache {
            name: "casefile-unused",
            max_entries: 0,
            max_age_ms: 0,
        },
        bounded: false,
        fetcher,
        now: now_ms,
        timer: strategy::wait_ms,
    }
}

/// Answers one request by the route core chose.
pub async fn respond(
    precache: &Precache,
    request: &Request,
    navigate: bool,
) -> Result<Response, JsValue> {
    respond_with(precache, request, navigate, network_fetcher()).await
}

/// `fetch`: the bootstrap passes every fetch event here.
#[wasm_bindgen]
pub fn on_fetch(event: FetchEvent) -> Promise {
    wasm_bindgen_futures::future_to_promise(async move {
        let request = event.request();
        let navigate = request.mode() == RequestMode::Navigate;
        let precache = precache()?;
        respond(&precache, &request, navigate)
            .await
            .map(JsValue::from)
    })
}

/// `message`: a page's request (`casefile_core::queue::ToWorker`, as JSON
/// text or as an object), e.g. `{"type": "skip_waiting"}`.
#[wasm_bindgen]
pub async fn on_message(data: JsValue) -> Result<(), JsValue> {
    let value = match data.as_string() {
        Some(text) => js_sys::JSON::parse(&text),
        None => Ok(data.clone()),
    };
    match value.ok().as_ref().and_then(codec::message_from_js) {
        Some(message) => queue::on_page_message(message).await,
        None => {
            web_sys::console::warn_2(&"casefile-sw: ignored message".into(), &data);
            Ok(())
        }
    }
}
