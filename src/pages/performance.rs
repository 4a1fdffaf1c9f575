use crate::worker::worker_status;
use leptos::prelude::*;
use wasm_bindgen_futures::JsFuture;

/// Storage used by this origin (bytes used, quota), if the browser says.
async fn storage_estimate() -> Option<(f64, f64)> {
    let storage = window().navigator().storage();
    let estimate: web_sys::StorageEstimate =
        JsFuture::from(storage.estimate().ok()?).await.ok()?.into();
    Some((estimate.get_usage()?, estimate.get_quota()?))
}

fn megabytes(bytes: f64) -> String {
    format!("{:.1} MB", bytes / 1_048_576.0)
}

/// Figures about the app itself.
#[component]
pub fn PerformancePage() -> impl IntoView {
    let estimate = LocalResource::new(storage_estimate);
    let worker = worker_status();
    view! {
        <div class="page-head"><h1>"Performance"</h1></div>
        <section class="card">
            <h2>"Storage"</h2>
            <Suspense fallback=|| view! { <p>"Measuring…"</p> }>
                {move || Suspend::new(async move {
                    match estimate.await {
                        Some((used, quota)) => format!("{} used of {} available to this site.", megabytes(used), megabytes(quota)),
                        None => "This browser does not report storage use.".to_string(),
                    }
                })}
            </Suspense>
            <h2>"Offline worker"</h2>
            <p>{move || worker.get().describe()}</p>
        </section>
    }
}
