//! The query-cache adapter in a real page: shared fetches, focus refetch,
//! and persistence through real IndexedDB (wasm-bindgen-test, Chromium).
#![cfg(target_arch = "wasm32")]

use casefile::http::FetchError;
use casefile::query::{persist, provide_query_client, use_query, Fetched, QueryClient};
use casefile_core::query::{QueryKey, SavedEntry};
use leptos::prelude::*;
use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

mod common;
use common::{host, sleep};

type Fetch = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Fetched, FetchError>>>>;

/// A fetcher that counts its calls and answers `value` after 30 ms.
fn counting(calls: Rc<Cell<u32>>, value: &'static str) -> impl Fn(QueryKey) -> Fetch + Clone {
    move |_| {
        calls.set(calls.get() + 1);
        Box::pin(async move {
            sleep(30).await;
            Ok((Arc::new(serde_json::Value::from(value)), "test".to_string()))
        })
    }
}

#[component]
fn Reader(fetch_calls: Rc<Cell<u32>>, label: &'static str) -> impl IntoView {
    let q = use_query::<String, _, _>(|| QueryKey::new(["shared"]), counting(fetch_calls, "hello"));
    view! { <p class=label>{move || q.data.get().unwrap_or_default()}</p> }
}

async fn text_of(host: &web_sys::HtmlElement, selector: &str) -> String {
    for _ in 0..100 {
        if let Some(el) = host.query_selector(selector).unwrap() {
            let text = el.text_content().unwrap_or_default();
            if !text.is_empty() {
                return text;
            }
        }
        sleep(20).await;
    }
    panic!("{selector} stayed empty: {}", host.inner_html());
}

#[wasm_bindgen_test]
async fn two_components_on_one_key_share_one_fetch() {
    let calls = Rc::new(Cell::new(0));
    let c = calls.clone();
    let el = host();
    let _mounted = leptos::mount::mount_to(el.clone(), move || {
        provide_query_client(QueryClient::new());
        view! {
            <Reader fetch_calls=c.clone() label="a"/>
            <Reader fetch_calls=c.clone() label="b"/>
        }
    });
    assert_eq!(text_of(&el, "p.a").await, "hello");
    assert_eq!(text_of(&el, "p.b").await, "hello");
    assert_eq!(calls.get(), 1, "one network call for two observers");
}

fn dispatch_visibility_change() {
    let document = web_sys::window().unwrap().document().unwrap();
    let init = web_sys::EventInit::new();
    init.set_bubbles(true);
    let event = web_sys::Event::new_with_event_init_dict("visibilitychange", &init).unwrap();
    document.dispatch_event(&event).unwrap();
}

#[wasm_bindgen_test]
async fn focus_refetches_stale_data_but_not_fresh_data() {
    let fresh_calls = Rc::new(Cell::new(0));
    let stale_calls = Rc::new(Cell::new(0));
    let (f, s) = (fresh_calls.clone(), stale_calls.clone());
    let el = host();
    let _mounted = leptos::mount::mount_to(el.clone(), move || {
        provide_query_client(QueryClient::new());
        let fresh =
            use_query::<String, _, _>(|| QueryKey::new(["fresh"]), counting(f.clone(), "f"));
        let stale = casefile::query::use_query_with_options::<String, _, _>(
            || QueryKey::new(["stale"]),
            counting(s.clone(), "s"),
            casefile::query::UseQueryOptions {
                query: casefile_core::query::QueryOptions {
                    stale_time_ms: 0,
                    ..Default::default()
                },
                ..Default::default()
            },
        );
        view! {
            <p class="fresh">{move || fresh.data.get().unwrap_or_default()}</p>
            <p class="stale">{move || stale.data.get().unwrap_or_default()}</p>
        }
    });
    text_of(&el, "p.fresh").await;
    text_of(&el, "p.stale").await;
    assert_eq!((fresh_calls.get(), stale_calls.get()), (1, 1));
    // The page is visible in the test browser: the event means "focused".
    dispatch_visibility_change();
    sleep(100).await;
    assert_eq!(fresh_calls.get(), 1, "fresh data is not refetched on focus");
    assert_eq!(stale_calls.get(), 2, "stale data is refetched on focus");
}

async fn raw_put(key: &str, value: &wasm_bindgen::JsValue) {
    use indexed_db_futures::prelude::*;
    use indexed_db_futures::transaction::TransactionMode;
    let db = indexed_db_futures::database::Database::open(persist::DB_NAME)
        .await
        .unwrap();
    let tx = db
        .transaction(persist::STORE)
        .with_mode(TransactionMode::Readwrite)
        .build()
        .unwrap();
    let store = tx.object_store(persist::STORE).unwrap();
    store
        .put(value.clone())
        .with_key(key.to_string())
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

#[wasm_bindgen_test]
async fn a_body_of_the_wrong_shape_is_a_decode_error_not_data() {
    let el = host();
    let calls = Rc::new(Cell::new(0));
    let c = calls.clone();
    let _mounted = leptos::mount::mount_to(el.clone(), move || {
        provide_query_client(QueryClient::new());
        // The server "answers" a string where a list of numbers is expected.
        let q =
            use_query::<Vec<u32>, _, _>(|| QueryKey::new(["shape"]), counting(c.clone(), "oops"));
        view! {
            <p class="state">{move || match (q.data.get(), q.error.get()) {
                (Some(_), _) => "data".to_string(),
                (None, Some(FetchError::Decode { .. })) => "decode error".to_string(),
                (None, Some(other)) => format!("other: {other}"),
                (None, None) => String::new(),
            }}</p>
        }
    });
    assert_eq!(text_of(&el, "p.state").await, "decode error");
    assert_eq!(calls.get(), 1, "a decode error is not retried");
}

#[wasm_bindgen_test]
async fn saved_entries_round_trip_and_corrupted_ones_are_dropped() {
    let key = QueryKey::new(["cases", "list"]);
    let data = Arc::new(serde_json::json!({"items": [1, 2, 3], "title": "ünïcode ✓"}));
    let updated_at = js_sys::Date::now() as u64 - 5_000;
    persist::save(vec![SavedEntry {
        key: key.clone(),
        data: data.clone(),
        updated_at,
    }])
    .await
    .unwrap();
    // Corrupt records beside the good one: not text, text that is not an
    // entry, and an entry of another build.
    raw_put("bad-number", &wasm_bindgen::JsValue::from_f64(42.0)).await;
    raw_put("bad-json", &"{not json".into()).await;
    let other_build = serde_json::json!({
        "key": ["dashboard"], "data": 1, "updated_at": updated_at, "build": "someone-else"
    });
    raw_put("other-build", &other_build.to_string().into()).await;

    let restored = persist::load().await;
    assert_eq!(restored.len(), 1, "only the good entry survives");
    assert_eq!(restored[0].key, key);
    assert_eq!(restored[0].data, data);
    assert_eq!(restored[0].updated_at, updated_at);

    // The bad records were deleted, so the next start does not trip on them.
    assert_eq!(persist::load().await.len(), 1);
}
