use crate::components::{
    priority_options, query_view, status_options, PendingBadge, PriorityBadge, StatusBadge,
};
use crate::format::{now_ms, relative_time};
use crate::queries::{use_case_list, CaseFilters};
use crate::store::LocalCase;
use crate::sync::{use_sync, use_sync_status};
use casefile_core::api::{CasePage, CaseStatus, Priority};
use leptos::prelude::*;

/// The case list with search and filters; every filter is part of the query
/// key, so each combination is cached on its own.
#[component]
pub fn CasesPage() -> impl IntoView {
    let (status, set_status) = signal(None::<CaseStatus>);
    let (priority, set_priority) = signal(None::<Priority>);
    let (q, set_q) = signal(String::new());
    let filters = Memo::new(move |_| CaseFilters {
        status: status.get(),
        priority: priority.get(),
        q: q.get(),
    });
    let cases = use_case_list(filters);
    let status_signals = use_sync_status();
    let sync = StoredValue::new_local(use_sync());
    let (pending, set_pending) = signal(Vec::<LocalCase>::new());
    Effect::new(move |_| {
        status_signals.revision.track();
        if let Some(engine) = sync.get_value() {
            leptos::task::spawn_local(async move { set_pending.set(engine.pending_cases().await) });
        }
    });
    let status_options = status_options(None);
    let priority_options = priority_options(None);
    view! {
        <div class="page-head">
            <h1>"Cases"</h1>
            <a class="btn btn-primary" href="/cases/new">"New case"</a>
        </div>
        <form class="filters" role="search" on:submit=|ev| ev.prevent_default()>
            <label>
                <span>"Search titles"</span>
                <input
                    type="search"
                    placeholder="e.g. housing"
                    prop:value=q
                    on:input=move |ev| set_q.set(event_target_value(&ev))
                />
            </label>
            <label>
                <span>"Status"</span>
                <select on:change=move |ev| set_status.set(event_target_value(&ev).parse().ok())>
                    <option value="">"Any status"</option>
                    {status_options}
                </select>
            </label>
            <label>
                <span>"Priority"</span>
                <select on:change=move |ev| set_priority.set(event_target_value(&ev).parse().ok())>
                    <option value="">"Any priority"</option>
                    {priority_options}
                </select>
            </label>
        </form>
        {move || {
            let waiting = pending.get();
            (!waiting.is_empty()).then(|| view! { <PendingCases cases=waiting/> })
        }}
        {query_view(cases, "cases", move |page| {
            let pending_ids: Vec<String> = pending.get().into_iter().map(|c| c.view.case.id).collect();
            view! { <CaseTable page pending_ids/> }
        })}
    }
}

/// Cases with writes this device has not yet sent, as it sees them.
#[component]
fn PendingCases(cases: Vec<LocalCase>) -> impl IntoView {
    let now = now_ms();
    view! {
        <section class="card" data-testid="pending-cases">
            <h2>"Changed on this device, not yet on the server"</h2>
            <ul class="recent">
                {cases.into_iter().map(|c| {
                    let case = c.view.case;
                    view! {
                        <li class="recent-row">
                            <a href=format!("/cases/{}", case.id)>{case.title}</a>
                            <StatusBadge status=case.status/>
                            <PendingBadge count=c.pending/>
                            <span class="muted">{relative_time(case.updated_at, now)}</span>
                        </li>
                    }
                }).collect_view()}
            </ul>
        </section>
    }
}

#[component]
fn CaseTable(page: CasePage, pending_ids: Vec<String>) -> impl IntoView {
    if page.items.is_empty() {
        return view! {
            <div class="panel empty">
                <h2>"No cases match"</h2>
                <p>"Clear the search or filters, or create a new case."</p>
            </div>
        }
        .into_any();
    }
    let now = now_ms();
    let shown = page.items.len();
    let rows = page
        .items
        .into_iter()
        .map(|c| {
            let pending = pending_ids.contains(&c.id);
            view! {
                <tr>
                    <td class="col-title">
                        <a href=format!("/cases/{}", c.id)>{c.title}</a>
                        {pending.then(|| view! { " " <PendingBadge count=1/> })}
                    </td>
                    <td><StatusBadge status=c.status/></td>
                    <td><PriorityBadge priority=c.priority/></td>
                    <td class="muted">{c.assignee.unwrap_or_else(|| "Unassigned".into())}</td>
                    <td class="muted">{relative_time(c.updated_at, now)}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <p class="muted count" data-testid="case-count">
            {format!("Showing {shown} of {} cases", page.total)}
        </p>
        <div class="table-wrap">
            <table class="cases">
                <thead>
                    <tr>
                        <th scope="col">"Title"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col">"Priority"</th>
                        <th scope="col">"Assignee"</th>
                        <th scope="col">"Updated"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}
