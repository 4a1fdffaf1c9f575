//! Casefile's app: a Leptos CSR app that reads through the API and works offline
//! under its service worker. Rules live in `casefile-core`; this crate adapts
//! them to the browser.

pub mod app;
pub mod build;
pub mod components;
pub mod format;
pub mod http;
pub mod idb;
pub mod online;
pub mod pages;
pub mod peek;
pub mod queries;
pub mod query;
pub mod session;
pub mod split;
pub mod storage;
pub mod store;
pub mod sync;
pub mod toast;
pub mod worker;

pub use app::App;

/// A signal that lives as long as the page: made outside whatever component
/// or effect happens to touch it first. A page-wide signal in a
/// `thread_local!` would otherwise belong to its first reader's owner and
/// be disposed with it (a page left, an effect run again), and the next
/// reader anywhere would panic on a disposed value.
pub fn page_signal<T: Send + Sync + 'static>(value: T) -> leptos::prelude::RwSignal<T> {
    use leptos::prelude::Owner;
    let current = Owner::current();
    if let Some(owner) = current.clone() {
        owner.unset();
    }
    let signal = leptos::prelude::RwSignal::new(value);
    if let Some(owner) = current {
        owner.set();
    }
    signal
}

/// Installs the panic hook, registers the service worker, settles what a
/// sign-out left owed, and mounts the sign-in form or, for a signed-in
/// user, loads the rest of the app ([`split::signed_in`]) and starts it.
/// Signed out, no store of anyone opens, and nothing of the signed-in app
/// is downloaded.
pub fn start() {
    console_error_panic_hook::set_once();
    worker::register();
    // Leptos's executor starts with the mount, so what runs before it runs
    // on wasm-bindgen's directly.
    wasm_bindgen_futures::spawn_local(async {
        let owner = session::begin().await;
        sync::worker_link::send(&casefile_core::queue::ToWorker::Session {
            user: owner.clone(),
        });
        if owner.is_none() {
            // Signed out, every address is the sign-in form, and says so.
            if let Ok(history) = leptos::prelude::window().history() {
                let _ = history.replace_state_with_url(
                    &wasm_bindgen::JsValue::NULL,
                    "",
                    Some("/sign-in"),
                );
            }
            leptos::mount::mount_to_body(app::SignedOutApp);
            return;
        }
        // The list as last shown, while the rest of the app loads.
        if owner.as_deref().is_some_and(peek::show) {
            peek::painted().await;
        }
        let app = match split::signed_in().await {
            Ok(app) => Ok(app),
            // Not remembered as failed: the second call loads again.
            Err(split::Unloaded) => split::signed_in().await,
        };
        match app {
            Ok(app) => app.await,
            Err(split::Unloaded) => {
                peek::hide();
                split::signed_in_unloaded()
            }
        }
    });
}

/// A signed-in page's start: restores the user's saved query cache, opens
/// their store and the sync engine, then mounts the app, so the first
/// render already shows the last data, with or without a network.
pub async fn start_signed_in() {
    let client = query::QueryClient::new();
    client.restore(query::persist::load().await);
    query::persist::autosave(&client);
    let engine = sync::SyncEngine::start(client.clone()).await;
    leptos::mount::mount_to_body(move || {
        use leptos::prelude::*;
        view! { <App client=client.clone() sync=engine.clone()/> }
    });
    peek::hide();
    format::warm_up();
    // What every user of the device once shared goes (nothing unsent in it).
    leptos::task::spawn_local(storage::drop_shared_stores(&casefile_core::device::SHARED));
    // The other pages' chunks, once the first screen has had its turn.
    leptos::prelude::set_timeout(
        || leptos::task::spawn_local(split::preload_pages()),
        std::time::Duration::from_secs(2),
    );
}
