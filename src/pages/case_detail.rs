use crate::components::{
    priority_options, query_view, status_options, PendingBadge, PriorityBadge, StatusBadge,
};
use crate::format::{date, now_ms, relative_time};
use crate::queries::{use_case, use_notes};
use crate::store::LocalCase;
use crate::sync::{use_sync, use_sync_status};
use casefile_core::api::{Case, Note};
use casefile_core::event::{CasePatch, EventData, NoteData};
use casefile_core::toast::ToastKind;
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

/// One case and its notes. The device's own view (the server's events plus
/// pending local ones) is shown when it has the case; otherwise the server's
/// answer. Every change is an event appended locally, visible at once.
#[component]
pub fn CaseDetail() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").unwrap_or_default());
    let sync = use_sync();
    let status = use_sync_status();
    // The device's view, tagged with the case it belongs to, so a change of
    // address never shows the previous case.
    let (local_state, set_local_state) = signal(None::<(String, Option<LocalCase>)>);
    let local = Memo::new(move |_| {
        let id = id.get();
        local_state.with(|s| {
            s.as_ref()
                .filter(|(i, _)| *i == id)
                .and_then(|(_, c)| c.clone())
        })
    });
    let local_read = Memo::new(move |_| {
        let id = id.get();
        local_state.with(|s| s.as_ref().is_some_and(|(i, _)| *i == id))
    });
    {
        let sync = sync.clone();
        Effect::new(move |_| {
            let id = id.get();
            status.revision.track();
            let sync = sync.clone();
            leptos::task::spawn_local(async move {
                let found = match sync {
                    Some(s) => s.local_case(&id).await,
                    None => None,
                };
                set_local_state.set(Some((id, found)));
            });
        });
    }
    let ask_server = Signal::derive(move || local_read.get() && local.with(Option::is_none));
    let case = use_case(id, ask_server);
    let loaded = Signal::derive(move || case.data.with(Option::is_some));
    // Notes come from the server only when the server's copy is what shows
    // (the device's own view carries its notes).
    let notes = use_notes(id, Signal::derive(move || ask_server.get() && loaded.get()));
    let missing = move || {
        local.with(Option::is_none)
            && case
                .error
                .with(|e| matches!(e.as_ref().and_then(|e| e.status()), Some(404 | 400)))
    };
    let (error, set_error) = signal(None::<String>);
    let toaster = crate::toast::use_toaster();
    let mutation = StoredValue::new_local(crate::sync::use_case_write());
    let write = move |data: EventData| {
        let id = id.get_untracked();
        let mutation = mutation.get_value();
        leptos::task::spawn_local(async move {
            let deleting = matches!(data, EventData::CaseDeleted);
            let noting = matches!(data, EventData::NoteAdded(_));
            // Errors: the mutation's toast names the reason.
            match mutation.mutate_async((id.clone(), data)).await {
                Ok(_) if deleting => {
                    toaster.with_action(ToastKind::Success, "Case deleted.", "Undo", move || {
                        mutation.mutate((id.clone(), EventData::CaseRestored));
                    });
                    set_error.set(None);
                }
                Ok(_) => {
                    if noting {
                        toaster.success("Note added.");
                    }
                    set_error.set(None);
                }
                Err(e) => set_error.set(Some(format!("Not saved: {e}"))),
            }
        });
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
        } else if let Some(l) = local.get() {
            view! {
                <CaseView c=l.view.case.clone() pending=l.pending/>
                <CaseActions c=l.view.case write/>
            }.into_any()
        } else if !local_read.get() {
            view! { <crate::components::Loading what="the case"/> }.into_any()
        } else {
            view! {
                {query_view(case, "the case", |c| view! { <CaseView c pending=0/> })}
                <Show when=move || loaded.get()>
                    <section class="card">
                        <h2>"Notes"</h2>
                        {query_view(notes, "notes", |notes| view! { <NoteList notes/> })}
                    </section>
                </Show>
            }.into_any()
        }}
        // Built once per case, not on every change of it: a note being
        // typed, and the audit trail's "as of here", survive another
        // device's change arriving (found by the chaos suite).
        <Show when=move || local.with(Option::is_some)>
            <section class="card">
                <h2>"Notes"</h2>
                {move || local.with(|l| l.as_ref().map(|l| view! { <NoteList notes=l.view.notes.clone()/> }))}
                <NoteForm write/>
            </section>
            <AuditTrail id/>
        </Show>
        <p class="form-error" role="alert">{move || error.get()}</p>
    }
}

/// Status, priority and deletion: each a `case.updated`/`case.deleted` event.
#[component]
fn CaseActions(c: Case, write: impl Fn(EventData) + Copy + 'static) -> impl IntoView {
    let current_status = c.status;
    let current_priority = c.priority;
    let deleted = c.deleted;
    view! {
        <section class="card">
            <h2>"Change"</h2>
            <div class="inline-form">
                <label>
                    "Status"
                    <select data-testid="set-status" on:change=move |ev| {
                        if let Ok(s) = event_target_value(&ev).parse() {
                            if s != current_status {
                                write(EventData::CaseUpdated(CasePatch { status: Some(s), ..Default::default() }));
                            }
                        }
                    }>{status_options(Some(current_status))}</select>
                </label>
                <label>
                    "Priority"
                    <select data-testid="set-priority" on:change=move |ev| {
                        if let Ok(p) = event_target_value(&ev).parse() {
                            if p != current_priority {
                                write(EventData::CaseUpdated(CasePatch { priority: Some(p), ..Default::default() }));
                            }
                        }
                    }>{priority_options(Some(current_priority))}</select>
                </label>
                <a class="btn" href=format!("/cases/{}/edit", c.id)>"Edit"</a>
                {if deleted {
                    view! { <button class="btn" on:click=move |_| write(EventData::CaseRestored)>"Restore case"</button> }.into_any()
                } else {
                    view! { <button class="btn" on:click=move |_| write(EventData::CaseDeleted)>"Delete case"</button> }.into_any()
                }}
            </div>
        </section>
    }
}

/// Adds a note (`note.added`), written as the signed-in user (the server
/// refuses any other author).
#[component]
fn NoteForm(write: impl Fn(EventData) + Copy + 'static) -> impl IntoView {
    let session = crate::session::use_session();
    let (body, set_body) = signal(String::new());
    let (problem, set_problem) = signal(None::<&'static str>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let text = body.get_untracked();
        if text.trim().is_empty() {
            set_problem.set(Some("Write something first."));
            return;
        }
        let Some(me) = session.0.get_untracked() else {
            set_problem.set(Some("Sign in to add notes."));
            return;
        };
        set_problem.set(None);
        write(EventData::NoteAdded(NoteData {
            note_id: uuid::Uuid::new_v4().to_string(),
            body: text,
            author: me.user,
        }));
        set_body.set(String::new());
    };
    view! {
        <form class="form" on:submit=submit novalidate>
            <label for="note-body">"Add a note"</label>
            <textarea id="note-body" rows="3" maxlength=casefile_core::event::NOTE_MAX.to_string() prop:value=body
                on:input=move |ev| set_body.set(event_target_value(&ev))></textarea>
            <p class="muted">{move || match session.0.get() {
                Some(me) => format!("Written as {}.", me.display_name),
                None => "Sign in to add notes.".to_string(),
            }}</p>
            <p class="field-error" aria-live="polite">{move || problem.get()}</p>
            <button class="btn" type="submit">"Add note"</button>
        </form>
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
fn CaseView(c: Case, pending: usize) -> impl IntoView {
    let now = now_ms();
    let tags = c
        .tags
        .iter()
        .map(|t| view! { <li class="tag">{t.clone()}</li> })
        .collect_view();
    view! {
        <article class="card case">
            <header class="case-head">
                <h1 dir="auto">{c.title.clone()}</h1>
                <div class="case-badges">
                    <StatusBadge status=c.status/>
                    <PriorityBadge priority=c.priority/>
                    {c.deleted.then(|| view! { <span class="badge deleted">"Deleted"</span> })}
                    {(pending > 0).then(|| view! { <PendingBadge count=pending/> })}
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

/// What an event did, in words: its type and, for updates, the fields and
/// their new values.
fn describe(event: &casefile_core::event::DomainEvent) -> String {
    use casefile_core::event::EventData;
    match event.typed_data() {
        Ok(EventData::CaseCreated(f)) => format!("Created “{}”", f.title),
        Ok(EventData::CaseUpdated(p)) => {
            let mut parts = Vec::new();
            if let Some(t) = &p.title {
                parts.push(format!("title → “{t}”"));
            }
            if p.description.is_some() {
                parts.push("description changed".into());
            }
            if let Some(s) = p.status {
                parts.push(format!("status → {}", s.label()));
            }
            if let Some(pr) = p.priority {
                parts.push(format!("priority → {}", pr.label()));
            }
            if let Some(a) = &p.assignee {
                parts.push(format!(
                    "assignee → {}",
                    a.clone().unwrap_or_else(|| "nobody".into())
                ));
            }
            if let Some(tags) = &p.tags {
                parts.push(format!("tags → {}", tags.join(", ")));
            }
            format!("Updated: {}", parts.join("; "))
        }
        Ok(EventData::CaseDeleted) => "Deleted".into(),
        Ok(EventData::CaseRestored) => "Restored".into(),
        Ok(EventData::NoteAdded(n)) => format!("Note by {}", n.author),
        Err(e) => format!("Unreadable: {e}"),
    }
}

fn sync_state(record: &crate::store::EventRecord) -> &'static str {
    record.kind().word()
}

/// The audit trail: every event of the case in stamp order, with its stamp
/// `(clock, node)`, time, what it changed and where it stands; and the case
/// as it was after any of them (a replay of the events up to it).
#[component]
pub fn AuditTrail(
    /// The case.
    id: Memo<String>,
) -> impl IntoView {
    let status = use_sync_status();
    let sync = StoredValue::new_local(use_sync());
    let (history, set_history) = signal(Vec::<(
        crate::store::EventRecord,
        casefile_core::event::DomainEvent,
    )>::new());
    let (past, set_past) = signal(None::<(usize, Option<casefile_core::event::CaseView>)>);
    Effect::new(move |_| {
        let id = id.get();
        status.revision.track();
        if let Some(engine) = sync.get_value() {
            leptos::task::spawn_local(async move { set_history.set(engine.history(&id).await) });
        }
    });
    let show_at = move |index: usize| {
        let events: Vec<casefile_core::event::DomainEvent> = history.with_untracked(|h| {
            h.iter()
                .take(index + 1)
                .filter(|(r, _)| r.is_live())
                .map(|(_, e)| e.clone())
                .collect()
        });
        set_past.set(Some((index, casefile_core::event::replay(&events))));
    };
    view! {
        <section class="card" data-testid="audit-trail">
            <h2>"History"</h2>
            {move || {
                let h = history.get();
                if h.is_empty() {
                    return view! { <p class="muted">"No events on this device yet."</p> }.into_any();
                }
                let now = now_ms();
                view! {
                    <ol class="history">
                        {h.into_iter().enumerate().map(|(i, (record, event))| {
                            let live = record.is_live();
                            view! {
                                <li class="history-row" class:history-dead=!live data-testid="history-event">
                                    <span class="stamp" title="Lamport stamp (clock, device)">
                                        {format!("({}, {})", event.clock, event.node_id.chars().take(8).collect::<String>())}
                                    </span>
                                    <span class="muted">{relative_time(event.timestamp as i64, now)}</span>
                                    <span class="history-what">
                                        <code>{event.event_type.as_str()}</code>" "{describe(&event)}
                                    </span>
                                    <span class="badge">{sync_state(&record)}</span>
                                    <button class="btn" on:click=move |_| show_at(i)
                                        aria-label=format!("As of here (event {})", i + 1)>
                                        "As of here"
                                    </button>
                                </li>
                            }
                        }).collect_view()}
                    </ol>
                }.into_any()
            }}
            {move || past.get().map(|(i, view)| view! {
                <div class="panel" data-testid="past-state" role="region" aria-label="The case as it was">
                    <h3>{format!("As it was after event {}", i + 1)}</h3>
                    {match view {
                        None => view! { <p>"The case did not exist yet."</p> }.into_any(),
                        Some(v) => view! {
                            <dl class="facts">
                                <dt>"Title"</dt><dd>{v.case.title.clone()}</dd>
                                <dt>"Status"</dt><dd>{v.case.status.label()}</dd>
                                <dt>"Priority"</dt><dd>{v.case.priority.label()}</dd>
                                <dt>"Assignee"</dt><dd>{v.case.assignee.clone().unwrap_or_else(|| "Unassigned".into())}</dd>
                                <dt>"Deleted"</dt><dd>{if v.case.deleted { "yes" } else { "no" }}</dd>
                                <dt>"Notes"</dt><dd>{v.notes.len()}</dd>
                            </dl>
                        }.into_any(),
                    }}
                    <button class="btn" on:click=move |_| set_past.set(None)>"Back to now"</button>
                </div>
            })}
        </section>
    }
}
