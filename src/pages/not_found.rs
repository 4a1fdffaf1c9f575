use leptos::prelude::*;

/// Any path the app has no page for.
#[component]
pub fn NotFound() -> impl IntoView {
    view! {
        <div class="panel empty">
            <h1>"Page not found"</h1>
            <p>"There is no page at this address. "<a href="/">"Go to the dashboard"</a>"."</p>
        </div>
    }
}
