//! Registers the service worker and reports its state to the UI.

use leptos::prelude::*;
use wasm_bindgen::prelude::Closure;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::ServiceWorkerRegistration;

/// Where the service worker stands, as far as the page can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkerStatus {
    /// This browser has no service workers (or the page is not a secure context).
    Unsupported,
    /// Registration is in progress.
    Registering,
    /// Registered; `controlling` says whether this page is already under it
    /// (the first visit is not until the next load).
    Active {
        /// Whether this page's requests go through the worker.
        controlling: bool,
    },
    /// Registration failed.
    Failed(String),
}

impl WorkerStatus {
    /// A short sentence for the Sync and Performance pages.
    pub fn describe(&self) -> String {
        match self {
            WorkerStatus::Unsupported => {
                "This browser cannot run the offline worker; Casefile needs a network here.".into()
            }
            WorkerStatus::Registering => "Starting the offline worker…".into(),
            WorkerStatus::Active { controlling: true } => {
                "Offline ready: the app shell is cached and loads without a network.".into()
            }
            WorkerStatus::Active { controlling: false } => {
                "Offline worker installed; it takes over on the next load.".into()
            }
            WorkerStatus::Failed(why) => format!("The offline worker failed to start: {why}"),
        }
    }
}

thread_local! {
    static STATUS: RwSignal<WorkerStatus> = crate::page_signal(WorkerStatus::Registering);
    static UPDATE: RwSignal<bool> = crate::page_signal(false);
    static REGISTRATION: std::cell::RefCell<Option<ServiceWorkerRegistration>> = const { std::cell::RefCell::new(None) };
}

/// Whether a new build's worker is installed and waiting for this page to
/// let it take over.
pub fn update_waiting() -> RwSignal<bool> {
    UPDATE.with(|s| *s)
}

/// Tells the waiting worker to take over; the page reloads once it
/// controls it (so the shell, glue and wasm all come from the new build).
pub fn apply_update() {
    let waiting = REGISTRATION.with(|r| r.borrow().as_ref().and_then(|r| r.waiting()));
    let Some(waiting) = waiting else {
        let _ = window().location().reload();
        return;
    };
    let message = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&message, &"type".into(), &"skip_waiting".into());
    let _ = waiting.post_message(&message);
}

/// Watches `reg` for a new worker that finishes installing while this page
/// has a controller: that is an update, and it waits.
fn watch_updates(reg: &ServiceWorkerRegistration) {
    let container = window().navigator().service_worker();
    if reg.waiting().is_some() && container.controller().is_some() {
        update_waiting().set(true);
    }
    let on_found = {
        let reg = reg.clone();
        Closure::<dyn Fn()>::new(move || {
            let Some(installing) = reg.installing() else {
                return;
            };
            let watched = installing.clone();
            let on_state = Closure::<dyn Fn()>::new(move || {
                let controlled = window().navigator().service_worker().controller().is_some();
                if watched.state() == web_sys::ServiceWorkerState::Installed && controlled {
                    update_waiting().set(true);
                }
            });
            installing.set_onstatechange(Some(on_state.as_ref().unchecked_ref()));
            on_state.forget();
        })
    };
    reg.set_onupdatefound(Some(on_found.as_ref().unchecked_ref()));
    on_found.forget();
    // Reload once when a new worker takes over after the person asked for it.
    let on_change = Closure::<dyn Fn()>::new(move || {
        // A new controller knows nobody yet: say whose page this is.
        crate::sync::worker_link::send(&casefile_core::queue::ToWorker::Session {
            user: crate::session::owner(),
        });
        if update_waiting().get_untracked() {
            update_waiting().set(false);
            let _ = window().location().reload();
        }
    });
    container.set_oncontrollerchange(Some(on_change.as_ref().unchecked_ref()));
    on_change.forget();
}

/// The worker status signal (global: registration starts before mounting).
pub fn worker_status() -> RwSignal<WorkerStatus> {
    STATUS.with(|s| *s)
}

fn has_service_worker() -> bool {
    js_sys::Reflect::has(&window().navigator(), &"serviceWorker".into()).unwrap_or(false)
}

/// Registers `/sw.js` (scope `/`) and updates [`worker_status`].
pub fn register() {
    let status = worker_status();
    if !has_service_worker() {
        status.set(WorkerStatus::Unsupported);
        return;
    }
    let container = window().navigator().service_worker();
    wasm_bindgen_futures::spawn_local(async move {
        match JsFuture::from(container.register("/sw.js")).await {
            // Some embedders and test browsers "block" workers by answering
            // with nothing: no worker, and said so.
            Ok(reg) if reg.is_undefined() => {
                status.set(WorkerStatus::Failed(
                    "the browser gave no registration".into(),
                ));
            }
            Ok(reg) => {
                let reg: ServiceWorkerRegistration = reg.unchecked_into();
                watch_updates(&reg);
                REGISTRATION.with(|r| *r.borrow_mut() = Some(reg));
                let controlling = container.controller().is_some();
                status.set(WorkerStatus::Active { controlling });
            }
            Err(err) => {
                let why = err
                    .dyn_ref::<js_sys::Error>()
                    .map(|e| String::from(e.message()))
                    .unwrap_or_else(|| format!("{err:?}"));
                leptos::logging::error!("service worker registration failed: {why}");
                status.set(WorkerStatus::Failed(why));
            }
        }
    });
}
