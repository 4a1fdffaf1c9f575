use crate::components::{priority_options, status_options};
use crate::sync::use_sync;
use casefile_core::api::{CaseStatus, Priority};
use casefile_core::event::{CaseFields, EventData};
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

/// Longest title accepted (SPEC §2).
const TITLE_MAX: usize = 200;

/// The title's problem, in words, if any (the same limits core enforces).
fn title_problem(title: &str) -> Option<String> {
    let len = title.trim().chars().count();
    if len == 0 {
        Some("A title is required.".to_string())
    } else if len > TITLE_MAX {
        Some(format!("At most {TITLE_MAX} characters ({len} now)."))
    } else {
        None
    }
}

/// Comma-separated tags, trimmed, empty ones dropped.
pub fn parse_tags(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// The new-case form. Saving appends a `case.created` event to this device's
/// store (so it works offline) and opens the case at once; the sync driver
/// takes it to the server.
#[component]
pub fn NewCase() -> impl IntoView {
    let sync = use_sync();
    let navigate = use_navigate();
    let toaster = crate::toast::use_toaster();
    let (title, set_title) = signal(String::new());
    let (touched, set_touched) = signal(false);
    let (status, set_status) = signal(CaseStatus::Open);
    let (priority, set_priority) = signal(Priority::Medium);
    let (assignee, set_assignee) = signal(String::new());
    let (tags, set_tags) = signal(String::new());
    let (description, set_description) = signal(String::new());
    let (error, set_error) = signal(None::<String>);
    let (saving, set_saving) = signal(false);
    let title_error = move || title_problem(&title.read());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        set_touched.set(true);
        if title_error().is_some() || saving.get_untracked() {
            return;
        }
        let Some(sync) = sync.clone() else {
            set_error.set(Some("Saving is not available in this view.".into()));
            return;
        };
        let assignee = assignee.get_untracked().trim().to_string();
        let fields = CaseFields {
            title: title.get_untracked().trim().to_string(),
            description: description.get_untracked(),
            status: status.get_untracked(),
            priority: priority.get_untracked(),
            assignee: (!assignee.is_empty()).then_some(assignee),
            tags: parse_tags(&tags.get_untracked()),
        };
        let id = uuid::Uuid::new_v4().to_string();
        let navigate = navigate.clone();
        set_saving.set(true);
        leptos::task::spawn_local(async move {
            match sync.append(&id, EventData::CaseCreated(fields)).await {
                Ok(_) => {
                    toaster.success("Case created.");
                    navigate(&format!("/cases/{id}"), Default::default())
                }
                Err(e) => {
                    toaster.error(format!("Not saved: {e}"));
                    set_error.set(Some(format!("Not saved: {e}")));
                    set_saving.set(false);
                }
            }
        });
    };
    view! {
        <div class="page-head"><h1>"New case"</h1></div>
        <form class="card form" on:submit=submit novalidate>
            <label for="title">"Title"</label>
            <input
                id="title"
                name="title"
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
            <select id="status" on:change=move |ev| {
                if let Ok(s) = event_target_value(&ev).parse() { set_status.set(s) }
            }>{status_options(Some(CaseStatus::Open))}</select>
            <label for="priority">"Priority"</label>
            <select id="priority" on:change=move |ev| {
                if let Ok(p) = event_target_value(&ev).parse() { set_priority.set(p) }
            }>{priority_options(Some(Priority::Medium))}</select>
            <label for="assignee">"Assignee"</label>
            <input id="assignee" maxlength="100" prop:value=assignee
                on:input=move |ev| set_assignee.set(event_target_value(&ev))/>
            <label for="tags">"Tags (comma-separated)"</label>
            <input id="tags" prop:value=tags placeholder="e.g. housing, urgent"
                on:input=move |ev| set_tags.set(event_target_value(&ev))/>
            <label for="description">"Description"</label>
            <textarea id="description" rows="5" maxlength="10000" prop:value=description
                on:input=move |ev| set_description.set(event_target_value(&ev))></textarea>
            <p class="form-error" role="alert">{move || error.get()}</p>
            <p class="muted">"Saved on this device at once; it reaches the server as soon as there is a connection."</p>
            <button class="btn btn-primary" type="submit" disabled=move || saving.get()>"Create case"</button>
        </form>
    }
}
