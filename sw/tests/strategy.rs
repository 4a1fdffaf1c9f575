//! The fetch strategies against real Cache Storage inside a service worker,
//! with a scripted network and an injected clock and timer: no test waits
//! on real time.
#![cfg(target_arch = "wasm32")]

use casefile_core::precache::Precache;
use casefile_core::strategy::{RuntimeCache, Strategy, OFFLINE_HEADER, STORED_AT_HEADER};
use casefile_sw::respond_with;
use casefile_sw::strategy::{FetchStrategy, Fetcher, Handler};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;
use web_sys::{Cache, Headers, Request, Response, ResponseInit, ServiceWorkerGlobalScope};

wasm_bindgen_test_configure!(run_in_service_worker);

fn scope() -> ServiceWorkerGlobalScope {
    js_sys::global().unchecked_into()
}

async fn open(name: &str) -> Cache {
    JsFuture::from(scope().caches().unwrap().open(name))
        .await
        .unwrap()
        .unchecked_into()
}

async fn drop_cache(name: &str) {
    JsFuture::from(scope().caches().unwrap().delete(name))
        .await
        .unwrap();
}

async fn text(response: Response) -> String {
    JsFuture::from(response.text().unwrap())
        .await
        .unwrap()
        .as_string()
        .unwrap()
}

fn url(path: &str) -> String {
    format!("{}{path}", scope().location().origin())
}

fn get(path: &str) -> Request {
    Request::new_with_str(&url(path)).unwrap()
}

/// What the scripted network does next.
#[derive(Clone, Copy)]
enum Net {
    Answer(u16, &'static str, Option<&'static str>),
    Down,
    /// Answers only once the test opens the gate ([`Network::open`]).
    Slow(&'static str),
}

struct Network {
    next: Rc<Cell<Net>>,
    calls: Rc<Cell<u32>>,
    /// The slow answers' resolvers, waiting for the gate.
    gate: Rc<RefCell<Vec<js_sys::Function>>>,
}

fn response(status: u16, body: &str, cache_control: Option<&str>) -> Response {
    let init = ResponseInit::new();
    init.set_status(status);
    let headers = Headers::new().unwrap();
    headers.set("content-type", "application/json").unwrap();
    if let Some(cc) = cache_control {
        headers.set("cache-control", cc).unwrap();
    }
    init.set_headers(&headers);
    Response::new_with_opt_str_and_init(Some(body), &init).unwrap()
}

/// The simulated clock: every reading is 1 ms after the last, so entries
/// stored one after another have distinct times without waiting.
fn sim_now() -> u64 {
    thread_local!(static NOW: Cell<u64> = const { Cell::new(1_790_000_000_000) });
    NOW.with(|t| {
        t.set(t.get() + 1);
        t.get()
    })
}

/// The injected timer: whatever the timeout, it has passed.
fn timed_out(_ms: u64) -> js_sys::Promise {
    js_sys::Promise::resolve(&JsValue::UNDEFINED)
}

/// Lets the worker's event loop run once (a spawned task may go on).
fn next_task() -> JsFuture {
    JsFuture::from(js_sys::Promise::new(&mut |resolve, _| {
        scope()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 0)
            .unwrap();
    }))
}

impl Network {
    fn new() -> Self {
        Network {
            next: Rc::new(Cell::new(Net::Down)),
            calls: Rc::new(Cell::new(0)),
            gate: Rc::default(),
        }
    }

    /// The slow answers arrive.
    fn open(&self) {
        for resolve in self.gate.borrow_mut().drain(..) {
            resolve.call0(&JsValue::UNDEFINED).unwrap();
        }
    }

    fn fetcher(&self) -> Fetcher {
        let (next, calls, gate) = (self.next.clone(), self.calls.clone(), self.gate.clone());
        Rc::new(move |_request: Request| {
            calls.set(calls.get() + 1);
            let step = next.get();
            let gate = gate.clone();
            Box::pin(async move {
                match step {
                    Net::Answer(status, body, cc) => Ok(response(status, body, cc)),
                    Net::Down => Err(JsValue::from_str("TypeError: Failed to fetch")),
                    Net::Slow(body) => {
                        let opened =
                            js_sys::Promise::new(&mut |resolve, _| gate.borrow_mut().push(resolve));
                        let _ = JsFuture::from(opened).await;
                        Ok(response(200, body, None))
                    }
                }
            })
        })
    }
}

fn handler(cache: &'static str, max_entries: usize, network: &Network) -> Handler {
    Handler {
        cache: RuntimeCache {
            name: cache,
            max_entries,
            max_age_ms: 60_000,
        },
        bounded: true,
        fetcher: network.fetcher(),
        now: sim_now,
        timer: timed_out,
    }
}

const NETWORK_FIRST: Strategy = Strategy::NetworkFirst { timeout_ms: 200 };

#[wasm_bindgen_test]
async fn network_first_stores_successes_and_answers_offline_from_the_cache_marked() {
    let name = "casefile-runtime-t1";
    drop_cache(name).await;
    let net = Network::new();
    let h = handler(name, 10, &net);
    net.next
        .set(Net::Answer(200, r#"{"v":1}"#, Some("no-cache")));
    let res = NETWORK_FIRST
        .handle(&h, get("/api/v1/cases"))
        .await
        .unwrap();
    assert!(res.headers().get(OFFLINE_HEADER).unwrap().is_none());
    assert_eq!(text(res).await, r#"{"v":1}"#);
    let stored: Response = JsFuture::from(open(name).await.match_with_str(&url("/api/v1/cases")))
        .await
        .unwrap()
        .unchecked_into();
    assert!(stored.headers().get(STORED_AT_HEADER).unwrap().is_some());

    // Errors are answered as they are and never replace the stored copy.
    net.next
        .set(Net::Answer(500, r#"{"error":"internal"}"#, None));
    let res = NETWORK_FIRST
        .handle(&h, get("/api/v1/cases"))
        .await
        .unwrap();
    assert_eq!(res.status(), 500);
    net.next.set(Net::Answer(
        200,
        r#"{"v":"secret"}"#,
        Some("private, no-store"),
    ));
    NETWORK_FIRST
        .handle(&h, get("/api/v1/cases"))
        .await
        .unwrap();

    // Offline: the stored answer, marked as offline data.
    net.next.set(Net::Down);
    let res = NETWORK_FIRST
        .handle(&h, get("/api/v1/cases"))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().get(OFFLINE_HEADER).unwrap().is_some());
    assert_eq!(text(res).await, r#"{"v":1}"#);
    // Nothing stored for this one: the network error goes to the app.
    assert!(NETWORK_FIRST
        .handle(&h, get("/api/v1/never-seen"))
        .await
        .is_err());
}

#[wasm_bindgen_test]
async fn a_slow_network_is_answered_from_the_cache_after_the_timeout() {
    let name = "casefile-runtime-t2";
    drop_cache(name).await;
    let net = Network::new();
    let h = handler(name, 10, &net);
    net.next.set(Net::Answer(200, "fast", None));
    NETWORK_FIRST
        .handle(&h, get("/api/v1/dashboard"))
        .await
        .unwrap();
    // The network does not answer before the timeout: the cached copy.
    net.next.set(Net::Slow("slow"));
    let res = NETWORK_FIRST
        .handle(&h, get("/api/v1/dashboard"))
        .await
        .unwrap();
    assert_eq!(text(res).await, "fast");
    // With nothing cached it waits for the slow network.
    let (res, ()) =
        futures_util::future::join(NETWORK_FIRST.handle(&h, get("/api/v1/other")), async {
            let _ = next_task().await;
            net.open();
        })
        .await;
    assert_eq!(text(res.unwrap()).await, "slow");
}

#[wasm_bindgen_test]
async fn the_runtime_cache_stays_within_its_bounds() {
    let name = "casefile-runtime-t3";
    drop_cache(name).await;
    let net = Network::new();
    let h = handler(name, 2, &net);
    net.next.set(Net::Answer(200, "x", None));
    for path in ["/api/v1/a", "/api/v1/b", "/api/v1/c"] {
        NETWORK_FIRST.handle(&h, get(path)).await.unwrap();
    }
    assert_eq!(
        cached_urls(name).await,
        vec![url("/api/v1/b"), url("/api/v1/c")]
    );
}

async fn cached_urls(name: &str) -> Vec<String> {
    let keys: js_sys::Array = JsFuture::from(open(name).await.keys())
        .await
        .unwrap()
        .unchecked_into();
    let mut urls: Vec<String> = keys
        .iter()
        .map(|r| r.unchecked_into::<Request>().url())
        .collect();
    urls.sort();
    urls
}

/// A full quota: the next `Cache.put` in this worker throws the browser's
/// `QuotaExceededError` (a DOMException), once.
fn fill_the_quota_once() {
    js_sys::eval(
        r#"(() => {
            const put = Cache.prototype.put;
            Cache.prototype.put = function () {
                Cache.prototype.put = put;
                return Promise.reject(new DOMException("quota", "QuotaExceededError"));
            };
        })()"#,
    )
    .unwrap();
}

#[wasm_bindgen_test]
async fn a_full_quota_evicts_the_older_runtime_entries_and_stores_the_new_one() {
    let name = "casefile-runtime-quota";
    let other = "casefile-precache-quota-test";
    drop_cache(name).await;
    drop_cache(other).await;
    JsFuture::from(
        open(other)
            .await
            .put_with_str(&url("/app.wasm"), &response(200, "wasm", None)),
    )
    .await
    .unwrap();
    let net = Network::new();
    let h = handler(name, 10, &net);
    net.next.set(Net::Answer(200, "x", None));
    for path in ["/api/v1/a", "/api/v1/b", "/api/v1/c", "/api/v1/d"] {
        NETWORK_FIRST.handle(&h, get(path)).await.unwrap();
    }
    fill_the_quota_once();
    let answer = NETWORK_FIRST.handle(&h, get("/api/v1/e")).await.unwrap();
    assert_eq!(text(answer).await, "x", "the read still gets its answer");
    assert_eq!(
        cached_urls(name).await,
        vec![url("/api/v1/c"), url("/api/v1/d"), url("/api/v1/e")],
        "the older half went, the new entry is stored"
    );
    assert_eq!(
        cached_urls(other).await,
        vec![url("/app.wasm")],
        "other caches untouched"
    );
}

#[wasm_bindgen_test]
async fn cache_first_cache_only_and_stale_while_revalidate() {
    let name = "casefile-runtime-t4";
    drop_cache(name).await;
    let net = Network::new();
    let h = handler(name, 10, &net);
    // Cache-only with nothing cached: a clear 504, no network.
    let res = Strategy::CacheOnly.handle(&h, get("/x")).await.unwrap();
    assert_eq!(res.status(), 504);
    assert_eq!(net.calls.get(), 0);
    // Cache-first: the network once, then the cache.
    net.next.set(Net::Answer(200, "first", None));
    let res = Strategy::CacheFirst.handle(&h, get("/x")).await.unwrap();
    assert_eq!(text(res).await, "first");
    net.next.set(Net::Answer(200, "second", None));
    let res = Strategy::CacheFirst.handle(&h, get("/x")).await.unwrap();
    assert_eq!(text(res).await, "first");
    assert_eq!(net.calls.get(), 1);
    // Stale-while-revalidate: the cached copy now, the new one next time.
    let res = Strategy::StaleWhileRevalidate
        .handle(&h, get("/x"))
        .await
        .unwrap();
    assert_eq!(text(res).await, "first");
    // The refresh runs as its own task: let the event loop turn until it
    // stored the new copy (a bound, not a guess at its duration).
    let mut stored = String::new();
    for _ in 0..100 {
        let _ = next_task().await;
        let res = Strategy::CacheOnly.handle(&h, get("/x")).await.unwrap();
        stored = text(res).await;
        if stored == "second" {
            break;
        }
    }
    assert_eq!(stored, "second");
}

#[wasm_bindgen_test]
async fn api_reads_route_to_network_first_and_the_event_log_never_caches() {
    drop_cache("casefile-runtime-api").await;
    let precache = Precache::new("v1", ["/app.js"]);
    let net = Network::new();
    net.next.set(Net::Answer(200, r#"{"items":[]}"#, None));
    respond_with(
        &precache,
        &get("/api/v1/cases?limit=5"),
        false,
        net.fetcher(),
    )
    .await
    .unwrap();
    respond_with(
        &precache,
        &get("/api/v1/events?after=0"),
        false,
        net.fetcher(),
    )
    .await
    .unwrap();
    net.next.set(Net::Down);
    let res = respond_with(
        &precache,
        &get("/api/v1/cases?limit=5"),
        false,
        net.fetcher(),
    )
    .await
    .unwrap();
    assert!(res.headers().get(OFFLINE_HEADER).unwrap().is_some());
    assert!(
        respond_with(
            &precache,
            &get("/api/v1/events?after=0"),
            false,
            net.fetcher()
        )
        .await
        .is_err(),
        "the event log is never answered from a cache"
    );
}
