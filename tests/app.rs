//! The app in a real browser page (wasm-bindgen-test, headless Chromium).
#![cfg(target_arch = "wasm32")]

use casefile::http::{get_json, FetchError};
use casefile_core::api::Health;
use casefile_core::{Failure, RetryDecision, RetryPolicy};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

mod common;
use common::{host, sleep};

/// Polls until `selector` matches inside `host`, for up to 5 s.
async fn wait_for(host: &web_sys::HtmlElement, selector: &str) -> web_sys::Element {
    for _ in 0..100 {
        if let Some(el) = host.query_selector(selector).unwrap() {
            return el;
        }
        sleep(50).await;
    }
    panic!(
        "`{selector}` never appeared; the page holds: {}",
        host.inner_html()
    );
}

#[wasm_bindgen_test]
async fn the_app_mounts_its_shell_and_explains_a_failing_api() {
    let host = host();
    let handle = leptos::mount::mount_to(host.clone(), || {
        use leptos::prelude::*;
        view! { <casefile::App/> }
    });

    let nav: Vec<String> = {
        let links = host.query_selector_all("nav.mainnav a").unwrap();
        (0..links.length())
            .map(|i| links.item(i).unwrap().text_content().unwrap())
            .collect()
    };
    assert_eq!(
        nav,
        ["Dashboard", "Cases", "New case", "Sync", "Performance"]
    );
    let indicator = wait_for(&host, "[data-testid=online-indicator]").await;
    assert!(indicator.text_content().unwrap().contains("Online"));

    // The test server has no API: the dashboard must say so in words.
    let alert = wait_for(&host, "[role=alert]").await;
    let text = alert.text_content().unwrap();
    assert!(text.contains("404"), "{text}");
    assert!(
        alert.query_selector("button").unwrap().is_some(),
        "offers a retry"
    );
    drop(handle);
}

#[wasm_bindgen_test]
async fn http_errors_are_classified_for_the_retry_policy() {
    let err = get_json::<Health>("/api/v1/health").await.unwrap_err();
    assert_eq!(err.status(), Some(404));
    assert_eq!(
        RetryPolicy::QUERY.decide(&err.failure(), 1, true, 0.0),
        RetryDecision::GiveUp,
        "a 404 is never retried"
    );
}

#[wasm_bindgen_test]
async fn unreachable_servers_are_network_failures() {
    // Port 9 (discard) on loopback refuses connections.
    let err = get_json::<Health>("http://127.0.0.1:9/api/v1/health")
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Network { .. }), "{err:?}");
    assert_eq!(err.failure(), Failure::Network);
    assert!(err.to_string().contains("Can't reach the Casefile server"));
}

#[wasm_bindgen_test]
async fn undecodable_bodies_are_decode_failures() {
    // The runner serves its own HTML page at `/`: not the JSON we ask for.
    let err = get_json::<Health>("/").await.unwrap_err();
    assert!(matches!(err, FetchError::Decode { .. }), "{err:?}");
    assert_eq!(
        RetryPolicy::QUERY.decide(&err.failure(), 1, true, 0.0),
        RetryDecision::GiveUp
    );
}

#[wasm_bindgen_test]
async fn a_dead_origin_fails_over_to_a_live_one_and_is_marked_unhealthy() {
    use casefile::http::{configure_origins, origin_health};
    use casefile_core::origins::Balance;
    // Port 9 refuses connections; "" is the test server (which answers 404).
    configure_origins(
        vec!["http://127.0.0.1:9".into(), String::new()],
        Balance::RoundRobin,
    );
    let err = get_json::<Health>("/api/v1/health").await.unwrap_err();
    assert_eq!(
        err.status(),
        Some(404),
        "answered by the live origin: {err:?}"
    );
    let health = origin_health();
    assert!(!health[0].healthy, "the dead origin is marked unhealthy");
    assert!(health[0].probe_at.is_some(), "and will be probed");
    assert!(health[1].healthy);
    // The next request goes straight to the healthy origin.
    let err = get_json::<Health>("/api/v1/health").await.unwrap_err();
    assert_eq!(err.status(), Some(404));
    assert_eq!(
        origin_health()[0].failures,
        1,
        "the dead one was not tried again"
    );
    configure_origins(Vec::new(), Balance::RoundRobin);
}

/// A page-wide signal outlives the first component or effect that touched
/// it: after that owner is gone, reading it elsewhere must not panic (it
/// did in the chaos run: the storage facts were first read on the Sync
/// center, and the next unsent change after leaving it read a disposed
/// signal).
#[wasm_bindgen_test]
fn a_page_signal_outlives_the_owner_that_made_it() {
    use leptos::prelude::*;
    let owner = Owner::new();
    let signal = owner.with(|| casefile::page_signal(7));
    let local = owner.with(|| RwSignal::new(7));
    owner.cleanup();
    drop(owner);
    assert_eq!(
        local.try_get_untracked(),
        None,
        "an owned signal goes with its owner"
    );
    assert_eq!(signal.try_get_untracked(), Some(7));
    signal.set(8);
    assert_eq!(signal.get_untracked(), 8);
}
