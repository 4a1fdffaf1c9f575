use crate::components::{ErrorPanel, Loading, PriorityBadge, StatusBadge};
use crate::format::{now_ms, relative_time};
use crate::http::get_json;
use casefile_core::api::{CasePage, CaseStatus, Priority};
use leptos::prelude::*;

/// How many cases the list asks for at once.
const PAGE: u32 = 100;

fn list_url(status: &str, priority: &str, q: &str) -> String {
    let mut url = format!("/api/v1/cases?limit={PAGE}");
    for (name, value) in [("status", status), ("priority", priority), ("q", q.trim())] {
        if !value.is_empty() {
            url.push_str(&format!("&{name}={}", js_sys::encode_uri_component(value)));
        }
    }
    url
}

/// The case list with search and filters.
#[component]
pub fn CasesPage() -> impl IntoView {
    let (status, set_status) = signal(String::new());
    let (priority, set_priority) = signal(String::new());
    let (q, set_q) = signal(String::new());
    let cases = LocalResource::new(move || {
        let url = list_url(&status.get(), &priority.get(), &q.get());
        async move { get_json::<CasePage>(&url).await }
    });
    let status_options = CaseStatus::ALL
        .iter()
        .map(|s| view! { <option value=s.as_str()>{s.label()}</option> })
        .collect_view();
    let priority_options = Priority::ALL
        .iter()
        .map(|p| view! { <option value=p.as_str()>{p.label()}</option> })
        .collect_view();
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
                <select on:change=move |ev| set_status.set(event_target_value(&ev))>
                    <option value="">"Any status"</option>
                    {status_options}
                </select>
            </label>
            <label>
                <span>"Priority"</span>
                <select on:change=move |ev| set_priority.set(event_target_value(&ev))>
                    <option value="">"Any priority"</option>
                    {priority_options}
                </select>
            </label>
        </form>
        <Transition fallback=|| view! { <Loading what="cases"/> }>
            {move || Suspend::new(async move {
                match cases.await {
                    Ok(page) => view! { <CaseTable page/> }.into_any(),
                    Err(error) => view! {
                        <ErrorPanel error retry=Callback::new(move |_| cases.refetch())/>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn CaseTable(page: CasePage) -> impl IntoView {
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
            view! {
                <tr>
                    <td class="col-title"><a href=format!("/cases/{}", c.id)>{c.title}</a></td>
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
