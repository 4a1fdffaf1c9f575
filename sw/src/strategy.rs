//! Fetch strategies: one trait with one required method; the cross-cutting
//! work (storing only what core allows, bounds, quota recovery, marking
//! cached answers) lives in [`Handler`], which every strategy uses.

use crate::local::Local;
use alloc::boxed::Box;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use casefile_core::small::decimal;
use casefile_core::strategy::{
    cacheable, ResponseFacts, RuntimeCache, RuntimeIndex, Strategy, OFFLINE_HEADER,
    STORED_AT_HEADER,
};
use core::cell::RefCell;
use futures_util::future::{select, Either, LocalBoxFuture};
use js_sys::Promise;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, Request, Response, ResponseInit, ResponseType};

/// Sends a request to the network (tests pass one that fails).
pub type Fetcher = Rc<dyn Fn(Request) -> LocalBoxFuture<'static, Result<Response, JsValue>>>;

/// Each runtime cache's index, rebuilt from the entries after a restart.
static INDEXES: Local<RefCell<Vec<(&'static str, RuntimeIndex)>>> = Local(RefCell::new(Vec::new()));

/// How a request gets answered.
#[allow(async_fn_in_trait)]
pub trait FetchStrategy {
    /// Answers `request` through `handler`.
    async fn handle(&self, handler: &Handler, request: Request) -> Result<Response, JsValue>;
}

/// The network, one cache, and the rules for both.
pub struct Handler {
    /// The cache this strategy reads and fills.
    pub cache: RuntimeCache,
    /// Whether `cache` is a bounded runtime cache (the precache is not).
    pub bounded: bool,
    /// The network.
    pub fetcher: Fetcher,
    /// Wall-clock ms.
    pub now: fn() -> u64,
    /// A promise that settles after this many ms ([`wait_ms`]; tests
    /// inject their own clock).
    pub timer: fn(u64) -> Promise,
}

/// The browser's timer: settles after `ms`.
pub fn wait_ms(ms: u64) -> Promise {
    Promise::new(&mut |resolve, _| {
        let scope: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
        let _ = scope.set_timeout_with_callback_and_timeout_and_arguments_0(
            &resolve,
            ms.min(i32::MAX as u64) as i32,
        );
    })
}

fn stored_at(response: &Response) -> Option<u64> {
    response
        .headers()
        .get(STORED_AT_HEADER)
        .ok()
        .flatten()
        .and_then(|v| v.parse().ok())
}

/// A copy of `response` with `extra` headers added (bodies are streams, so
/// the copy takes over the body).
fn with_headers(response: &Response, extra: &[(&str, String)]) -> Result<Response, JsValue> {
    let headers = Headers::new_with_headers(&response.headers())?;
    for (name, value) in extra {
        headers.set(name, value)?;
    }
    let init = ResponseInit::new();
    init.set_status(response.status());
    init.set_status_text(&response.status_text());
    init.set_headers(&headers);
    Response::new_with_opt_readable_stream_and_init(response.body().as_ref(), &init)
}

/// The browser's full-storage error (a `DOMException` named so).
fn is_quota_error(e: &JsValue) -> bool {
    js_sys::Reflect::get(e, &"name".into())
        .ok()
        .and_then(|n| n.as_string())
        .is_some_and(|n| n == "QuotaExceededError")
}

impl Handler {
    /// The network answer.
    pub async fn fetch(&self, request: &Request) -> Result<Response, JsValue> {
        (self.fetcher)(request.clone()?).await
    }

    /// The cached answer if there is a usable one, with when it was stored.
    pub async fn cached(&self, request: &Request) -> Result<Option<(Response, u64)>, JsValue> {
        let cache = crate::open_cache(self.cache.name).await?;
        let hit = JsFuture::from(cache.match_with_request(request)).await?;
        let Ok(response) = hit.dyn_into::<Response>() else {
            return Ok(None);
        };
        let at = stored_at(&response).unwrap_or(0);
        if self.bounded && !RuntimeIndex::usable(&self.cache, at, (self.now)()) {
            JsFuture::from(cache.delete_with_request(request)).await?;
            self.load_index().await?;
            self.index(|i| i.removed(&request.url()));
            return Ok(None);
        }
        Ok(Some((response, at)))
    }

    /// This cache's index, read from its entries if this worker life has
    /// none yet. One async step for every use: a generic one would be a
    /// state machine per caller in the worker's wasm.
    async fn load_index(&self) -> Result<(), JsValue> {
        let name = self.cache.name;
        let known = |i: &[(&str, RuntimeIndex)]| i.iter().any(|(n, _)| *n == name);
        if !known(&INDEXES.borrow()) {
            // After a restart: read when each entry was stored.
            let cache = crate::open_cache(name).await?;
            let keys: js_sys::Array = JsFuture::from(cache.keys()).await?.unchecked_into();
            let mut index = RuntimeIndex::default();
            for key in keys.iter() {
                let request: Request = key.unchecked_into();
                let hit = JsFuture::from(cache.match_with_request(&request)).await?;
                if let Ok(response) = hit.dyn_into::<Response>() {
                    index.stored(&request.url(), stored_at(&response).unwrap_or(0));
                }
            }
            let mut i = INDEXES.borrow_mut();
            if !known(&i) {
                i.push((name, index));
            }
        }
        Ok(())
    }

    /// Uses this cache's index; `load_index` must have run.
    fn index<R>(&self, f: impl FnOnce(&mut RuntimeIndex) -> R) -> R {
        let mut i = INDEXES.borrow_mut();
        let name = self.cache.name;
        let at = i
            .iter()
            .position(|(n, _)| *n == name)
            .expect("index loaded");
        f(&mut i[at].1)
    }

    /// Stores a copy of `response` for `request` if core allows it, keeps the
    /// cache within its bounds, and recovers from a full quota by evicting
    /// this cache's older entries (never the precache or the write queue).
    pub async fn store(&self, request: &Request, response: &Response) -> Result<(), JsValue> {
        let cache_control = response.headers().get("cache-control")?;
        let facts = ResponseFacts {
            method: &request.method(),
            status: response.status(),
            opaque: response.type_() == ResponseType::Opaque,
            cache_control: cache_control.as_deref(),
            authorization: request.headers().has("authorization")?,
        };
        if !cacheable(&facts) {
            return Ok(());
        }
        let now = (self.now)();
        let cache = crate::open_cache(self.cache.name).await?;
        let put = |copy: Response| cache.put_with_request(request, &copy);
        let copy = with_headers(&response.clone()?, &[(STORED_AT_HEADER, decimal(now))])?;
        if let Err(e) = JsFuture::from(put(copy)).await {
            if !is_quota_error(&e) || !self.bounded {
                return Err(e);
            }
            self.load_index().await?;
            for url in self.index(|i| i.quota_victims()) {
                JsFuture::from(cache.delete_with_str(&url)).await?;
                self.index(|i| i.removed(&url));
            }
            let copy = with_headers(&response.clone()?, &[(STORED_AT_HEADER, decimal(now))])?;
            JsFuture::from(put(copy)).await?;
        }
        if self.bounded {
            let url = request.url();
            self.load_index().await?;
            let victims = self.index(|i| {
                i.stored(&url, now);
                i.evictions(&self.cache, now)
            });
            for url in victims {
                JsFuture::from(cache.delete_with_str(&url)).await?;
                self.index(|i| i.removed(&url));
            }
        }
        Ok(())
    }

    /// The network answer, stored when allowed.
    /// A copy that cannot be stored (storage full even after eviction, a
    /// broken cache) costs the offline copy, never the answer itself.
    pub async fn fetch_and_store(&self, request: &Request) -> Result<Response, JsValue> {
        let response = self.fetch(request).await?;
        if let Err(e) = self.store(request, &response).await {
            web_sys::console::warn_2(&"casefile-sw: could not keep an offline copy".into(), &e);
        }
        Ok(response)
    }
}

/// A cached answer, marked so the app can say it is offline data.
fn offline_copy(response: &Response, stored_at: u64) -> Result<Response, JsValue> {
    with_headers(response, &[(OFFLINE_HEADER, decimal(stored_at))])
}

fn not_cached() -> Result<Response, JsValue> {
    let init = ResponseInit::new();
    init.set_status(504);
    init.set_status_text("Not in the offline cache");
    let headers = Headers::new()?;
    headers.set("content-type", "application/json")?;
    init.set_headers(&headers);
    Response::new_with_opt_str_and_init(
        Some(
            r#"{"error":"offline","message":"This is not in the offline cache.","request_id":""}"#,
        ),
        &init,
    )
}

impl FetchStrategy for Strategy {
    async fn handle(&self, handler: &Handler, request: Request) -> Result<Response, JsValue> {
        match *self {
            Strategy::NetworkOnly => handler.fetch(&request).await,
            Strategy::CacheOnly => match handler.cached(&request).await? {
                Some((response, _)) => Ok(response),
                None => not_cached(),
            },
            Strategy::CacheFirst => match handler.cached(&request).await? {
                Some((response, _)) => Ok(response),
                None => handler.fetch_and_store(&request).await,
            },
            Strategy::StaleWhileRevalidate => match handler.cached(&request).await? {
                Some((response, _)) => {
                    let fetcher = handler.fetcher.clone();
                    let refresh = Handler {
                        fetcher,
                        ..*handler
                    };
                    let again = request.clone()?;
                    wasm_bindgen_futures::spawn_local(async move {
                        let _ = refresh.fetch_and_store(&again).await;
                    });
                    Ok(response)
                }
                None => handler.fetch_and_store(&request).await,
            },
            Strategy::NetworkFirst { timeout_ms } => {
                let network = Box::pin(handler.fetch_and_store(&request));
                let timer = JsFuture::from((handler.timer)(timeout_ms));
                let network = match select(network, timer).await {
                    Either::Left((Ok(response), _)) => return Ok(response),
                    Either::Left((Err(e), _)) => {
                        return match handler.cached(&request).await? {
                            Some((response, at)) => offline_copy(&response, at),
                            None => Err(e),
                        };
                    }
                    Either::Right((_, network)) => network,
                };
                // Slow network: a cached answer now if there is one, else wait.
                match handler.cached(&request).await? {
                    Some((response, at)) => offline_copy(&response, at),
                    None => network.await,
                }
            }
        }
    }
}
