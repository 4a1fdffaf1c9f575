//! The worker's cache logic inside a real service worker (headless Chromium).
#![cfg(target_arch = "wasm32")]

use casefile_core::precache::Precache;
use casefile_sw::{delete_stale_caches, install_precache, respond};
use js_sys::Array;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;
use web_sys::{Cache, CacheStorage, Request, Response, ServiceWorkerGlobalScope};

wasm_bindgen_test_configure!(run_in_service_worker);

fn scope() -> ServiceWorkerGlobalScope {
    js_sys::global().unchecked_into()
}

fn caches() -> CacheStorage {
    scope().caches().unwrap()
}

async fn open(name: &str) -> Cache {
    JsFuture::from(caches().open(name))
        .await
        .unwrap()
        .unchecked_into()
}

async fn cache_names() -> Vec<String> {
    let keys: Array = JsFuture::from(caches().keys())
        .await
        .unwrap()
        .unchecked_into();
    let mut names: Vec<String> = keys.iter().filter_map(|k| k.as_string()).collect();
    names.sort();
    names
}

async fn clear_all() {
    for name in cache_names().await {
        JsFuture::from(caches().delete(&name)).await.unwrap();
    }
}

async fn cached_paths(cache: &Cache) -> Vec<String> {
    let keys: Array = JsFuture::from(cache.keys()).await.unwrap().unchecked_into();
    let mut paths: Vec<String> = keys
        .iter()
        .map(|r| {
            let url = web_sys::Url::new(&r.unchecked_into::<Request>().url()).unwrap();
            url.pathname()
        })
        .collect();
    paths.sort();
    paths
}

async fn put_text(cache: &Cache, path: &str, body: &str) {
    let response = Response::new_with_opt_str(Some(body)).unwrap();
    JsFuture::from(cache.put_with_str(path, &response))
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

#[wasm_bindgen_test]
async fn activation_deletes_only_older_builds_precaches() {
    clear_all().await;
    for name in [
        "casefile-precache-old1",
        "casefile-precache-new",
        "casefile-precache-old2",
        "casefile-api",
        "another-app",
    ] {
        open(name).await;
    }
    let precache = Precache::new("new", ["/"]);
    put_text(&open("casefile-precache-new").await, "/", "shell").await;
    let mut deleted = delete_stale_caches(&precache).await.unwrap();
    deleted.sort();
    assert_eq!(
        deleted,
        ["casefile-precache-old1", "casefile-precache-old2"]
    );
    assert_eq!(
        cache_names().await,
        ["another-app", "casefile-api", "casefile-precache-new"]
    );
}

#[wasm_bindgen_test]
async fn install_stores_every_file_under_the_versioned_name() {
    clear_all().await;
    // The worker's own script is a file the test server certainly has.
    let own_script = scope().location().pathname();
    let precache = Precache::new("v7", [own_script.as_str()]);
    install_precache(&precache).await.unwrap();
    assert_eq!(cache_names().await, ["casefile-precache-v7"]);
    let cache = open("casefile-precache-v7").await;
    let mut expected = vec!["/".to_string(), own_script];
    expected.sort();
    assert_eq!(cached_paths(&cache).await, expected);
}

#[wasm_bindgen_test]
async fn a_missing_file_fails_the_whole_install() {
    clear_all().await;
    let precache = Precache::new("broken", ["/definitely-missing-file.txt"]);
    let result = install_precache(&precache).await;
    assert!(result.is_err(), "a 404 must fail the install");
    let cache = open(&precache.cache_name()).await;
    assert_eq!(
        cached_paths(&cache).await,
        Vec::<String>::new(),
        "nothing half-installed"
    );
}

#[wasm_bindgen_test]
async fn precached_files_and_navigations_are_answered_from_the_cache() {
    clear_all().await;
    let precache = Precache::new("v1", ["/only-in-cache.txt"]);
    let cache = open(&precache.cache_name()).await;
    put_text(&cache, "/only-in-cache.txt", "from the precache").await;
    put_text(&cache, "/", "the app shell").await;

    let asset = Request::new_with_str("/only-in-cache.txt").unwrap();
    let res = respond(&precache, &asset, false).await.unwrap();
    assert_eq!(text(res).await, "from the precache");

    let route = Request::new_with_str("/cases/1234").unwrap();
    let res = respond(&precache, &route, true).await.unwrap();
    assert_eq!(text(res).await, "the app shell");
}

#[wasm_bindgen_test]
async fn other_requests_go_to_the_network() {
    clear_all().await;
    let precache = Precache::new("v1", ["/only-in-cache.txt"]);
    let other = Request::new_with_str("/not-precached.txt").unwrap();
    let res = respond(&precache, &other, false).await.unwrap();
    assert_eq!(res.status(), 404, "the test server answered, not the cache");
}

/// An older build activating while this one installs deletes this one's
/// cache (its banner's Reload, with a newer build already on the way): the
/// install must fail rather than leave a worker with no shell.
#[wasm_bindgen_test]
async fn an_install_whose_cache_is_deleted_meanwhile_fails() {
    clear_all().await;
    let own_script = scope().location().pathname();
    let precache = Precache::new("v8", [own_script.as_str()]);
    js_sys::eval(
        r#"(() => {
            const addAll = Cache.prototype.addAll;
            Cache.prototype.addAll = async function (requests) {
                Cache.prototype.addAll = addAll;
                await addAll.call(this, requests);
                await caches.delete("casefile-precache-v8");
            };
        })()"#,
    )
    .unwrap();
    let err = install_precache(&precache).await.unwrap_err();
    assert!(
        err.as_string()
            .unwrap_or_default()
            .contains("deleted while installing"),
        "{err:?}"
    );
}

/// Activation with its own precache gone: it fills it again and then drops
/// the older ones; when it cannot (a file is unreachable), the older ones
/// stay and the worker answers from them.
#[wasm_bindgen_test]
async fn an_activation_without_its_precache_refills_it_or_keeps_the_others() {
    clear_all().await;
    let old = open("casefile-precache-old").await;
    put_text(&old, "/", "the older shell").await;
    put_text(&old, "/app-1234.wasm", "the same hashed file").await;

    let unreachable = Precache::new("v9", ["/app-1234.wasm", "/definitely-missing-file.txt"]);
    assert_eq!(
        delete_stale_caches(&unreachable).await.unwrap(),
        Vec::<String>::new()
    );
    assert!(cache_names()
        .await
        .contains(&"casefile-precache-old".to_string()));
    let route = Request::new_with_str("/cases/1234").unwrap();
    let res = respond(&unreachable, &route, true).await.unwrap();
    assert_eq!(
        text(res).await,
        "the older shell",
        "offline, an older shell beats none"
    );
    let asset = Request::new_with_str("/app-1234.wasm").unwrap();
    let res = respond(&unreachable, &asset, false).await.unwrap();
    assert_eq!(text(res).await, "the same hashed file");

    let own_script = scope().location().pathname();
    let reachable = Precache::new("v10", [own_script.as_str()]);
    let mut deleted = delete_stale_caches(&reachable).await.unwrap();
    deleted.sort();
    assert_eq!(deleted, ["casefile-precache-old", "casefile-precache-v9"]);
    assert_eq!(cache_names().await, ["casefile-precache-v10"]);
    let mut expected = vec!["/".to_string(), own_script];
    expected.sort();
    assert_eq!(
        cached_paths(&open("casefile-precache-v10").await).await,
        expected
    );
}
