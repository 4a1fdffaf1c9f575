use crate::components::{priority_options, status_options};
use crate::store::LocalCase;
use crate::sync::use_sync;
use casefile_core::api::{Case, CaseStatus, Priority};
use casefile_core::event::{
    assignee_problem, parse_tags, patch_between, tags_problem, title_problem, CaseFields,
    EventData, DESCRIPTION_MAX, TITLE_MAX,
};
use casefile_core::query::MutationStatus;
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_params_map};

/// The form's fields as the person left them.
fn fields_of(
    title: &str,
    description: &str,
    status: CaseStatus,
    priority: Priority,
    assignee: &str,
    tags: &str,
    team: Option<String>,
) -> CaseFields {
    let assignee = assignee.trim().to_string();
    CaseFields {
        title: title.trim().to_string(),
        description: description.to_string(),
        status,
        priority,
        assignee: (!assignee.is_empty()).then_some(assignee),
        tags: parse_tags(tags),
        team,
    }
}

/// The new-case form. Saving appends a `case.created` event to this device's
/// store (so it works offline) and opens the case at once; the sync driver
/// takes it to the server.
#[component]
pub fn NewCase() -> impl IntoView {
    view! { <CaseForm existing=None/> }
}

/// Editing a case: the same form, filled in; saving appends one
/// `case.updated` with only the changed fields.
#[component]
pub fn EditCase() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").unwrap_or_default());
    let sync = StoredValue::new_local(use_sync());
    let (found, set_found) = signal(None::<Option<LocalCase>>);
    Effect::new(move |_| {
        let id = id.get();
        if let Some(engine) = sync.get_value() {
            leptos::task::spawn_local(
                async move { set_found.set(Some(engine.local_case(&id).await)) },
            );
        }
    });
    move || {
        match found.get() {
        None => view! { <crate::components::Loading what="the case"/> }.into_any(),
        Some(None) => view! {
            <div class="panel empty">
                <h1>"Case not found"</h1>
                <p>"This device has no case at this address yet. Open the list, or wait for the next sync."</p>
            </div>
        }
        .into_any(),
        Some(Some(c)) => view! { <CaseForm existing=Some(c.view.case)/> }.into_any(),
    }
    }
}

#[component]
fn CaseForm(existing: Option<Case>) -> impl IntoView {
    let write = StoredValue::new_local(crate::sync::use_case_write());
    let saving = write.with_value(|w| w.status);
    let saving = move || saving.get() == MutationStatus::Pending;
    let navigate = use_navigate();
    let toaster = crate::toast::use_toaster();
    let editing = existing.is_some();
    let start = existing.clone();
    let (title, set_title) = signal(start.as_ref().map(|c| c.title.clone()).unwrap_or_default());
    let (touched, set_touched) = signal(false);
    let (status, set_status) = signal(start.as_ref().map_or(CaseStatus::Open, |c| c.status));
    let (priority, set_priority) = signal(start.as_ref().map_or(Priority::Medium, |c| c.priority));
    let (assignee, set_assignee) = signal(
        start
            .as_ref()
            .and_then(|c| c.assignee.clone())
            .unwrap_or_default(),
    );
    let (tags, set_tags) = signal(
        start
            .as_ref()
            .map(|c| c.tags.join(", "))
            .unwrap_or_default(),
    );
    let (description, set_description) = signal(
        start
            .as_ref()
            .map(|c| c.description.clone())
            .unwrap_or_default(),
    );
    let session = crate::session::use_session();
    let people = crate::queries::use_people();
    let my_teams = move || {
        session
            .0
            .read()
            .as_ref()
            .map(|s| s.teams.clone())
            .unwrap_or_default()
    };
    // A new case's team is the creator's choice among theirs. An existing
    // case stays in its team unless a supervisor of several teams moves it
    // (who may read it changes with it; the server checks both teams).
    let (team, set_team) = signal((!editing).then(|| my_teams().first().cloned()).flatten());
    let form_team = move || team.get();
    let supervisor = move || {
        session
            .0
            .read()
            .as_ref()
            .is_some_and(|s| s.role == casefile_core::access::Role::Supervisor)
    };
    let team_choice = move || my_teams().len() > 1 && (!editing || supervisor());
    let start_assignee = start.as_ref().and_then(|c| c.assignee.clone());
    // A move offers the new team's people only.
    let current_assignee = move || {
        start_assignee
            .clone()
            .filter(|_| team.get().is_none() || !editing)
    };
    let offered = move || {
        let Some(me) = session.0.get() else {
            return Vec::new();
        };
        let actor = casefile_core::access::Actor {
            user: me.user,
            role: me.role,
            teams: me.teams,
        };
        let people = people.data.get().unwrap_or_default();
        let shown = |name: &str| {
            people
                .iter()
                .find(|p| p.name == name)
                .map_or(name.to_string(), |p| {
                    format!("{} ({})", p.display_name, p.name)
                })
        };
        casefile_core::access::assignable(
            &actor,
            &people,
            form_team().as_deref(),
            current_assignee().as_deref(),
        )
        .into_iter()
        .map(|n| match n {
            None => (String::new(), "Unassigned".to_string()),
            Some(n) => (n.clone(), shown(&n)),
        })
        .collect::<Vec<_>>()
    };
    let (error, set_error) = signal(None::<String>);
    let title_error = move || title_problem(&title.read());
    let assignee_error = move || assignee_problem(&assignee.read());
    let tags_error = move || tags_problem(&tags.read());
    let existing = StoredValue::new(existing);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        set_touched.set(true);
        let invalid =
            title_error().is_some() || assignee_error().is_some() || tags_error().is_some();
        if invalid || untrack(saving) {
            return;
        }
        let fields = fields_of(
            &title.get_untracked(),
            &description.get_untracked(),
            status.get_untracked(),
            priority.get_untracked(),
            &assignee.get_untracked(),
            &tags.get_untracked(),
            untrack(form_team),
        );
        let (id, data) = match existing.get_value() {
            None => (
                uuid::Uuid::new_v4().to_string(),
                EventData::CaseCreated(fields),
            ),
            Some(before) => {
                let patch = patch_between(&before, &fields);
                if patch.fields().is_empty() {
                    navigate(&format!("/cases/{}", before.id), Default::default());
                    return;
                }
                (before.id, EventData::CaseUpdated(patch))
            }
        };
        let navigate = navigate.clone();
        let write = write.get_value();
        leptos::task::spawn_local(async move {
            match write.mutate_async((id.clone(), data)).await {
                Ok(_) => {
                    toaster.success(if editing {
                        "Changes saved."
                    } else {
                        "Case created."
                    });
                    navigate(&format!("/cases/{id}"), Default::default())
                }
                // The mutation's toast names the reason; the form keeps
                // the input and says it here too.
                Err(e) => set_error.set(Some(format!("Not saved: {e}"))),
            }
        });
    };
    let field_error =
        move |id: &'static str, problem: Box<dyn Fn() -> Option<String> + Send + Sync>| {
            view! {
                <p id=id class="field-error" aria-live="polite">
                    {move || touched.get().then(&problem).flatten()}
                </p>
            }
        };
    view! {
        <div class="page-head"><h1>{if editing { "Edit case" } else { "New case" }}</h1></div>
        <form class="card form" on:submit=submit novalidate>
            <label for="title">"Title"</label>
            <input
                id="title"
                name="title"
                required
                maxlength=TITLE_MAX.to_string()
                aria-describedby="title-error"
                aria-invalid=move || (touched.get() && title_error().is_some()).to_string()
                prop:value=title
                on:input=move |ev| set_title.set(event_target_value(&ev))
                on:blur=move |_| set_touched.set(true)
            />
            {field_error("title-error", Box::new(title_error))}
            <label for="status">"Status"</label>
            <select id="status" on:change=move |ev| {
                if let Ok(s) = event_target_value(&ev).parse() { set_status.set(s) }
            }>{status_options(Some(status.get_untracked()))}</select>
            <label for="priority">"Priority"</label>
            <select id="priority" on:change=move |ev| {
                if let Ok(p) = event_target_value(&ev).parse() { set_priority.set(p) }
            }>{priority_options(Some(priority.get_untracked()))}</select>
            {move || team_choice().then(|| view! {
                <label for="team">{if editing { "Move to team" } else { "Team" }}</label>
                <select id="team" on:change=move |ev| {
                    // Another team has other members: the choice starts over.
                    let t = event_target_value(&ev);
                    set_team.set((!t.is_empty()).then_some(t));
                    set_assignee.set(String::new());
                }>
                    {editing.then(|| view! { <option value="" selected>"Stays in its team"</option> })}
                    {my_teams().into_iter().map(|t| {
                        let selected = team.get_untracked().as_deref() == Some(t.as_str());
                        view! { <option value=t.clone() selected=selected>{t.clone()}</option> }
                    }).collect_view()}
                </select>
            })}
            <label for="assignee">"Assignee"</label>
            <select id="assignee" aria-describedby="assignee-error"
                aria-invalid=move || (touched.get() && assignee_error().is_some()).to_string()
                on:change=move |ev| set_assignee.set(event_target_value(&ev))>
                {move || offered().into_iter().map(|(value, label)| {
                    let selected = assignee.get_untracked() == value;
                    view! { <option value=value selected=selected>{label}</option> }
                }).collect_view()}
            </select>
            {field_error("assignee-error", Box::new(assignee_error))}
            <label for="tags">"Tags (comma-separated)"</label>
            <input id="tags" prop:value=tags placeholder="e.g. housing, urgent" aria-describedby="tags-error"
                aria-invalid=move || (touched.get() && tags_error().is_some()).to_string()
                on:input=move |ev| set_tags.set(event_target_value(&ev))/>
            {field_error("tags-error", Box::new(tags_error))}
            <label for="description">"Description"</label>
            <textarea id="description" rows="5" maxlength=DESCRIPTION_MAX.to_string() prop:value=description
                on:input=move |ev| set_description.set(event_target_value(&ev))></textarea>
            <p class="form-error" role="alert">{move || error.get()}</p>
            <p class="muted">"Saved on this device at once; it reaches the server as soon as there is a connection."</p>
            <button class="btn btn-primary" type="submit" disabled=saving>
                {if editing { "Save changes" } else { "Create case" }}
            </button>
        </form>
    }
}
