//! The query-cache adapter in a real page: shared fetches, focus refetch,
//! and persistence through real IndexedDB (wasm-bindgen-test, Chromium).
#![cfg(target_arch = "wasm32")]

use casefile::http::FetchError;
use casefile::query::{persist, provide_query_client, use_query, Fetched, QueryClient};
use casefile_core::query::{QueryKey, SavedEntry};
use leptos::prelude::*;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

mod common;
use common::{host, turn};

type Fetch = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Fetched, FetchError>>>>;

/// A fetcher that counts its calls and answers `value` a few turns of the
/// event loop later (an answer that is not there at once; no time passes).
fn counting(calls: Rc<Cell<u32>>, value: &'static str) -> impl Fn(QueryKey) -> Fetch + Clone {
    move |_| {
        calls.set(calls.get() + 1);
        Box::pin(async move {
            turn().await;
            Ok((Arc::new(serde_json::Value::from(value)), "test".to_string()))
        })
    }
}

#[component]
fn Reader(fetch_calls: Rc<Cell<u32>>, label: &'static str) -> impl IntoView {
    let q = use_query::<String, _, _>(|| QueryKey::new(["shared"]), counting(fetch_calls, "hello"));
    view! { <p class=label>{move || q.data.get().unwrap_or_default()}</p> }
}

/// The text of `selector` once it has some, turning the event loop (no
/// timer) between looks.
async fn text_of(host: &web_sys::HtmlElement, selector: &str) -> String {
    for _ in 0..200 {
        if let Some(el) = host.query_selector(selector).unwrap() {
            let text = el.text_content().unwrap_or_default();
            if !text.is_empty() {
                return text;
            }
        }
        turn().await;
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
    // The refetch starts at once (its fetcher is called before any wait).
    turn().await;
    assert_eq!(fresh_calls.get(), 1, "fresh data is not refetched on focus");
    assert_eq!(stale_calls.get(), 2, "stale data is refetched on focus");
}

#[wasm_bindgen_test]
async fn a_fetch_that_fails_offline_pauses_and_resumes_when_the_browser_is_online() {
    let calls = Rc::new(Cell::new(0));
    let c = calls.clone();
    let el = host();
    let paused = Rc::new(RefCell::new(None));
    let p = paused.clone();
    let _mounted = leptos::mount::mount_to(el.clone(), move || {
        provide_query_client(QueryClient::new());
        let c = c.clone();
        let q = use_query::<String, _, _>(
            || QueryKey::new(["offline"]),
            move |_| -> Fetch {
                c.set(c.get() + 1);
                let first = c.get() == 1;
                Box::pin(async move {
                    turn().await;
                    if first {
                        Err(FetchError::Network {
                            detail: "Failed to fetch".into(),
                        })
                    } else {
                        Ok((Arc::new(serde_json::Value::from("back")), "test".into()))
                    }
                })
            },
        );
        *p.borrow_mut() = Some(q.is_paused);
        view! { <p class="offline">{move || q.data.get().unwrap_or_default()}</p> }
    });
    let event = |name: &str| {
        let e = web_sys::Event::new(name).unwrap();
        web_sys::window().unwrap().dispatch_event(&e).unwrap();
    };
    let is_paused = paused.borrow().unwrap();
    event("offline");
    for _ in 0..5 {
        turn().await;
    }
    assert_eq!(calls.get(), 1, "one try, then it waits: no retry offline");
    assert!(is_paused.get_untracked(), "the query shows it is paused");
    event("online");
    assert_eq!(text_of(&el, "p.offline").await, "back");
    assert_eq!(calls.get(), 2, "resumed once the browser is back online");
    assert!(!is_paused.get_untracked());
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

mod mutations {
    use super::*;
    use casefile::query::{use_mutation, use_query_client, Mutation, MutationOptions};
    use casefile::toast::{provide_toaster, use_toaster, ToastHost};
    use casefile_core::query::MutationStatus;
    use std::collections::HashMap;

    type Handle = Rc<RefCell<Option<(QueryClient, Mutation<String, String>)>>>;

    fn list() -> QueryKey {
        QueryKey::new(["cases"])
    }

    fn detail(id: &str) -> QueryKey {
        QueryKey::new(["cases", id])
    }

    /// Mounts a page with a toast host and a mutation that adds `id` to the
    /// list optimistically and answers `answer` a few turns later.
    fn mount(answer: Result<(), &'static str>) -> (web_sys::HtmlElement, Handle) {
        let handle: Handle = Rc::new(RefCell::new(None));
        let out = handle.clone();
        let el = host();
        let mounted = leptos::mount::mount_to(el.clone(), move || {
            let client = provide_query_client(QueryClient::new());
            provide_toaster();
            client.set_query_data(list(), &vec!["a".to_string()]);
            let toaster = use_toaster();
            let mut options = MutationOptions::new(move |id: String| async move {
                turn().await;
                answer
                    .map(|()| format!("server copy of {id}"))
                    .map_err(String::from)
            });
            options.affects = Rc::new(|id: &String| vec![list(), detail(id)]);
            options.optimistic = Some(Rc::new(|client: &QueryClient, id: &String| {
                let mut items: Vec<String> = client.get_query_data(&list()).unwrap_or_default();
                items.push(id.clone());
                client.set_query_data(list(), &items);
                client.set_query_data(detail(id), &format!("optimistic {id}"));
            }));
            options.on_success = Some(Rc::new(
                |client: &QueryClient, id: &String, data: &String| {
                    client.set_query_data(detail(id), data);
                },
            ));
            options.invalidates = vec![list()];
            options.on_error = Some(Rc::new(move |_: &String, e: &str| {
                toaster.error(format!("Not saved: {e}"));
            }));
            *out.borrow_mut() = Some((
                use_query_client(),
                use_mutation(use_query_client(), options),
            ));
            view! { <ToastHost/> }
        });
        mounted.forget();
        (el, handle)
    }

    fn items(client: &QueryClient) -> Vec<String> {
        client.get_query_data(&list()).unwrap()
    }

    #[wasm_bindgen_test]
    async fn a_failed_write_rolls_the_list_back_exactly_and_raises_an_error_toast() {
        let (el, handle) = mount(Err("the server refused it (422): title too long"));
        let (client, mutation) = handle.borrow().clone().unwrap();
        let running = {
            let m = mutation.clone();
            wasm_bindgen_futures::JsFuture::from(wasm_bindgen_futures::future_to_promise(
                async move {
                    let _ = m.mutate_async("b".into()).await;
                    Ok(wasm_bindgen::JsValue::NULL)
                },
            ))
        };
        turn().await;
        // Optimistic: at once.
        assert_eq!(items(&client), ["a", "b"]);
        assert_eq!(mutation.status.get_untracked(), MutationStatus::Pending);
        running.await.unwrap();
        // Rolled back exactly: the list as it was, the detail gone again.
        assert_eq!(items(&client), ["a"]);
        assert_eq!(client.get_query_data::<String>(&detail("b")), None);
        assert_eq!(mutation.status.get_untracked(), MutationStatus::Error);
        let alert = text_of(&el, "[role=alert]").await;
        assert!(
            alert.contains("Not saved: the server refused it (422)"),
            "{alert}"
        );
    }

    #[wasm_bindgen_test]
    async fn a_success_sets_the_detail_and_invalidates_the_list() {
        let (_el, handle) = mount(Ok(()));
        let (client, mutation) = handle.borrow().clone().unwrap();
        let got = mutation.mutate_async("c".into()).await.unwrap();
        assert_eq!(got, "server copy of c");
        assert_eq!(
            client.get_query_data::<String>(&detail("c")).as_deref(),
            Some("server copy of c")
        );
        let invalidated = client.with_cache(|c| c.state(&list().hash_key()).unwrap().invalidated);
        assert!(invalidated, "the list is marked stale for a refetch");
        assert_eq!(mutation.status.get_untracked(), MutationStatus::Success);
    }

    #[wasm_bindgen_test]
    async fn writes_to_one_scope_run_in_order_and_a_batch_rolls_back_as_one() {
        let (_el, handle) = mount(Ok(()));
        let (client, _) = handle.borrow().clone().unwrap();
        let order = Rc::new(RefCell::new(Vec::new()));
        let o = order.clone();
        let o2 = order.clone();
        // Writes with a gate wait until the test opens it (gate 0: none).
        type Gates = HashMap<i32, futures_channel::oneshot::Receiver<()>>;
        let gates: Rc<RefCell<Gates>> = Rc::default();
        let mut open = HashMap::new();
        for gate in [1, 2] {
            let (tx, rx) = futures_channel::oneshot::channel();
            gates.borrow_mut().insert(gate, rx);
            open.insert(gate, tx);
        }
        let g = gates.clone();
        let mut options = MutationOptions::new(move |(scope, n, gate): (String, u32, i32)| {
            let o = o.clone();
            let gate = g.borrow_mut().remove(&gate);
            async move {
                if let Some(gate) = gate {
                    let _ = gate.await;
                }
                o.borrow_mut().push(format!("{scope}{n}"));
                if n == 99 {
                    Err("refused".to_string())
                } else {
                    Ok(n)
                }
            }
        });
        options.scope = Some(Rc::new(|(scope, _, _): &(String, u32, i32)| scope.clone()));
        options.affects = Rc::new(|(scope, _, _): &(String, u32, i32)| vec![detail(scope)]);
        options.optimistic = Some(Rc::new(
            |client: &QueryClient, (scope, n, _): &(String, u32, i32)| {
                client.set_query_data(detail(scope), &format!("{scope}{n}"));
            },
        ));
        let m = use_mutation(client.clone(), options);
        let slow = m.mutate_async(("x".into(), 1, 1));
        let fast = m.mutate_async(("x".into(), 2, 0));
        let other = m.mutate_async(("y".into(), 1, 2));
        let all = futures_util::future::join3(slow, fast, other);
        let opener = async move {
            turn().await;
            // x2 has no gate, yet waits for x1, its scope's first.
            assert!(o2.borrow().is_empty(), "{:?}", o2.borrow());
            open.remove(&2).unwrap().send(()).unwrap();
            turn().await;
            assert_eq!(*o2.borrow(), ["y1"], "y's write does not wait for x");
            open.remove(&1).unwrap().send(()).unwrap();
        };
        let ((a, b, c), ()) = futures_util::future::join(all, opener).await;
        assert_eq!((a, b, c), (Ok(1), Ok(2), Ok(1)));
        assert_eq!(
            *order.borrow(),
            ["y1", "x1", "x2"],
            "x2 waited for x1; y did not"
        );

        client.set_query_data(detail("z"), &"before".to_string());
        let batch = m
            .mutate_batch(vec![
                ("z".into(), 1, 0),
                ("z".into(), 99, 0),
                ("z".into(), 3, 0),
            ])
            .await;
        assert_eq!(batch, Err("refused".to_string()));
        assert_eq!(
            client.get_query_data::<String>(&detail("z")).as_deref(),
            Some("before"),
            "the whole batch is undone"
        );
        assert!(
            !order.borrow().contains(&"z3".to_string()),
            "nothing after the failure is sent"
        );
    }

    fn browser(event: &str) {
        let e = web_sys::Event::new(event).unwrap();
        web_sys::window().unwrap().dispatch_event(&e).unwrap();
    }

    /// A write that records its variables and fails its first `fail` calls.
    fn recording(calls: Rc<RefCell<Vec<String>>>, fail: u32) -> MutationOptions<String, String> {
        MutationOptions::new(move |v: String| {
            let calls = calls.clone();
            async move {
                calls.borrow_mut().push(v.clone());
                if calls.borrow().len() as u32 <= fail {
                    Err(format!("503 for {v}"))
                } else {
                    Ok(format!("saved {v}"))
                }
            }
        })
    }

    #[wasm_bindgen_test]
    async fn a_write_that_needs_the_network_waits_paused_offline_and_resumes_in_order() {
        let (_el, handle) = mount(Ok(()));
        let (client, _) = handle.borrow().clone().unwrap();
        let calls = Rc::new(RefCell::new(Vec::new()));
        let mut options = recording(calls.clone(), 0);
        options.optimistic = Some(Rc::new(|client: &QueryClient, v: &String| {
            client.set_query_data(detail(v), &format!("optimistic {v}"));
        }));
        let m = use_mutation(client.clone(), options);
        browser("offline");
        let first =
            wasm_bindgen_futures::JsFuture::from(wasm_bindgen_futures::future_to_promise({
                let m = m.clone();
                async move {
                    let got = m.mutate_async("a".into()).await;
                    Ok(wasm_bindgen::JsValue::from(got.unwrap()))
                }
            }));
        m.mutate("b".into());
        turn().await;
        assert!(calls.borrow().is_empty(), "nothing is sent offline");
        assert!(m.is_paused.get_untracked(), "the handle shows it waits");
        assert_eq!(m.status.get_untracked(), MutationStatus::Pending);
        assert_eq!(client.is_mutating(), 2);
        assert_eq!(
            client.get_query_data::<String>(&detail("a")).as_deref(),
            Some("optimistic a"),
            "the optimistic change shows while it waits"
        );
        browser("online");
        assert_eq!(first.await.unwrap().as_string().as_deref(), Some("saved a"));
        turn().await;
        assert_eq!(*calls.borrow(), ["a", "b"], "resumed in the order made");
        assert!(!m.is_paused.get_untracked());
        assert_eq!(client.is_mutating(), 0);
    }

    #[wasm_bindgen_test]
    async fn a_write_that_lands_locally_runs_offline() {
        let (_el, handle) = mount(Ok(()));
        let (client, _) = handle.borrow().clone().unwrap();
        let calls = Rc::new(RefCell::new(Vec::new()));
        let mut options = recording(calls.clone(), 0);
        options.needs_network = false;
        let m = use_mutation(client, options);
        browser("offline");
        let got = m.mutate_async("a".into()).await;
        browser("online");
        assert_eq!(got.as_deref(), Ok("saved a"));
    }

    #[wasm_bindgen_test]
    async fn a_failed_write_is_retried_as_configured_and_then_gives_up() {
        let (_el, handle) = mount(Ok(()));
        let (client, _) = handle.borrow().clone().unwrap();
        let retry = casefile_core::retry::RetryPolicy {
            base_delay_ms: 0,
            max_retries: 2,
            ..casefile_core::retry::RetryPolicy::QUERY
        };
        let calls = Rc::new(RefCell::new(Vec::new()));
        let mut options = recording(calls.clone(), 2);
        options.retry = retry;
        let m = use_mutation(client.clone(), options);
        assert_eq!(m.mutate_async("a".into()).await.as_deref(), Ok("saved a"));
        assert_eq!(calls.borrow().len(), 3, "two retries, then it went through");

        let always = Rc::new(RefCell::new(Vec::new()));
        let mut options = recording(always.clone(), u32::MAX);
        options.retry = retry;
        let m = use_mutation(client, options);
        assert_eq!(m.mutate_async("b".into()).await, Err("503 for b".into()));
        assert_eq!(always.borrow().len(), 3, "the first try and two retries");
        assert_eq!(m.failure_count.get_untracked(), 3);
        assert_eq!(m.status.get_untracked(), MutationStatus::Error);
    }

    #[wasm_bindgen_test]
    async fn a_write_waiting_for_its_scope_shows_paused() {
        let (_el, handle) = mount(Ok(()));
        let (client, _) = handle.borrow().clone().unwrap();
        let (open, gate) = futures_channel::oneshot::channel::<()>();
        let gate = Rc::new(RefCell::new(Some(gate)));
        let mut options = MutationOptions::new(move |n: u32| {
            let gate = gate.borrow_mut().take();
            async move {
                if let Some(gate) = gate {
                    let _ = gate.await;
                }
                Ok(n)
            }
        });
        options.scope = Some(Rc::new(|_: &u32| "case-1".to_string()));
        let m = use_mutation(client.clone(), options);
        m.mutate(1);
        m.mutate(2);
        turn().await;
        assert!(
            m.is_paused.get_untracked(),
            "the second waits for the first"
        );
        assert_eq!(client.is_mutating(), 2);
        open.send(()).unwrap();
        turn().await;
        assert!(!m.is_paused.get_untracked());
        assert_eq!(m.data.get_untracked(), Some(2));
        assert_eq!(client.is_mutating(), 0);
    }
}
