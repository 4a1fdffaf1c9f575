//! Casefile's app: a Leptos CSR app that reads through the API and works offline
//! under its service worker. Rules live in `casefile-core`; this crate adapts
//! them to the browser.

pub mod app;
pub mod components;
pub mod format;
pub mod http;
pub mod online;
pub mod pages;
pub mod queries;
pub mod query;
pub mod worker;

pub use app::App;

/// Installs the panic hook, registers the service worker and mounts the app.
pub fn start() {
    console_error_panic_hook::set_once();
    worker::register();
    leptos::mount::mount_to_body(App);
}
