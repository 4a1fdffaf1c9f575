//! Registers the service worker and reports its state to the UI.

use leptos::prelude::*;
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
    static STATUS: RwSignal<WorkerStatus> = RwSignal::new(WorkerStatus::Registering);
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
            Ok(reg) => {
                let _reg: ServiceWorkerRegistration = reg.unchecked_into();
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
