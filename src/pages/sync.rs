use crate::online::use_online;
use crate::worker::worker_status;
use leptos::prelude::*;

/// Where writes wait and what the offline machinery is doing.
#[component]
pub fn SyncCenter() -> impl IntoView {
    let online = use_online();
    let worker = worker_status();
    view! {
        <div class="page-head"><h1>"Sync center"</h1></div>
        <section class="card">
            <h2>"Connection"</h2>
            <p>{move || if online.get() {
                "Online: reads come from the server and are kept for offline use."
            } else {
                "Offline: Casefile shows what it has cached. Reads resume when the network returns."
            }}</p>
            <h2>"Offline worker"</h2>
            <p data-testid="worker-status">{move || worker.get().describe()}</p>
        </section>
    }
}
