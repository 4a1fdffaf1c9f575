use crate::components::{priority_options, status_options};
use casefile_core::api::Priority;
use leptos::prelude::*;

/// Longest title accepted (SPEC §2).
const TITLE_MAX: usize = 200;

/// The new-case form. Fields are validated as they are typed; saving arrives
/// with local-first writes (the event store), so the button says so.
#[component]
pub fn NewCase() -> impl IntoView {
    let (title, set_title) = signal(String::new());
    let (touched, set_touched) = signal(false);
    let title_error = move || {
        let t = title.read();
        let len = t.trim().chars().count();
        if len == 0 {
            Some("A title is required.".to_string())
        } else if len > TITLE_MAX {
            Some(format!("At most {TITLE_MAX} characters ({len} now)."))
        } else {
            None
        }
    };
    let status_options = status_options();
    let priority_options = priority_options(Some(Priority::Medium));
    view! {
        <div class="page-head"><h1>"New case"</h1></div>
        <form class="card form" on:submit=move |ev| { ev.prevent_default(); set_touched.set(true); }>
            <label for="title">"Title"</label>
            <input
                id="title"
                required
                maxlength="400"
                aria-describedby="title-error"
                aria-invalid=move || (touched.get() && title_error().is_some()).to_string()
                prop:value=title
                on:input=move |ev| set_title.set(event_target_value(&ev))
                on:blur=move |_| set_touched.set(true)
            />
            <p id="title-error" class="field-error" aria-live="polite">
                {move || touched.get().then(title_error).flatten()}
            </p>
            <label for="status">"Status"</label>
            <select id="status">{status_options}</select>
            <label for="priority">"Priority"</label>
            <select id="priority">{priority_options}</select>
            <label for="description">"Description"</label>
            <textarea id="description" rows="5" maxlength="10000"></textarea>
            <p class="muted">"Saving new cases comes with offline writes; this form checks input only for now."</p>
            <button class="btn btn-primary" type="submit" disabled>"Create case"</button>
        </form>
    }
}
