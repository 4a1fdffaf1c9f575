use crate::components::{query_view, PriorityBadge, StatusBadge};
use crate::format::{date, now_ms, relative_time};
use crate::queries::{use_case, use_notes};
use casefile_core::api::{Case, Note};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

/// One case and its notes (which wait until the case has loaded).
#[component]
pub fn CaseDetail() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").unwrap_or_default());
    let case = use_case(id);
    let loaded = Signal::derive(move || case.data.with(Option::is_some));
    let notes = use_notes(id, loaded);
    let missing = move || {
        case.error
            .with(|e| matches!(e.as_ref().and_then(|e| e.status()), Some(404 | 400)))
    };
    view! {
        <p class="crumbs"><a href="/cases">"← All cases"</a></p>
        {move || if missing() {
            view! {
                <div class="panel empty">
                    <h1>"Case not found"</h1>
                    <p>"No case has this address. It may have been deleted; check the link or go back to the list."</p>
                </div>
            }.into_any()
        } else {
            view! {
                {query_view(case, "the case", |c| view! { <CaseView c/> })}
                <Show when=move || loaded.get()>
                    <section class="card">
                        <h2>"Notes"</h2>
                        {query_view(notes, "notes", |notes| view! { <NoteList notes/> })}
                    </section>
                </Show>
            }.into_any()
        }}
    }
}

#[component]
fn NoteList(notes: Vec<Note>) -> impl IntoView {
    if notes.is_empty() {
        return view! { <p class="muted">"No notes yet."</p> }.into_any();
    }
    let now = now_ms();
    view! {
        <ul class="notes">
            {notes.into_iter().map(|n| view! {
                <li class="note">
                    <p class="note-meta">{format!("{} · {}", n.author, relative_time(n.created_at, now))}</p>
                    <p>{n.body}</p>
                </li>
            }).collect_view()}
        </ul>
    }
    .into_any()
}

#[component]
fn CaseView(c: Case) -> impl IntoView {
    let now = now_ms();
    let tags = c
        .tags
        .iter()
        .map(|t| view! { <li class="tag">{t.clone()}</li> })
        .collect_view();
    view! {
        <article class="card case">
            <header class="case-head">
                <h1>{c.title.clone()}</h1>
                <div class="case-badges">
                    <StatusBadge status=c.status/>
                    <PriorityBadge priority=c.priority/>
                    {c.deleted.then(|| view! { <span class="badge deleted">"Deleted"</span> })}
                </div>
            </header>
            <dl class="facts">
                <dt>"Assignee"</dt>
                <dd>{c.assignee.clone().unwrap_or_else(|| "Unassigned".into())}</dd>
                <dt>"Created"</dt>
                <dd>{date(c.created_at)}</dd>
                <dt>"Updated"</dt>
                <dd>{relative_time(c.updated_at, now)}</dd>
                <dt>"Version"</dt>
                <dd>{c.version}</dd>
            </dl>
            <ul class="tags" aria-label="Tags">{tags}</ul>
            <section>
                <h2>"Description"</h2>
                <p class="description">
                    {if c.description.is_empty() { "No description.".to_string() } else { c.description.clone() }}
                </p>
            </section>
        </article>
    }
}
