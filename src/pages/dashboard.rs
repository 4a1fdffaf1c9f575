use crate::components::{query_view, Bar, BarChart, PriorityBadge, StatusBadge};
use crate::format::{now_ms, relative_time};
use crate::queries::use_dashboard;
use casefile_core::api::Dashboard;
use leptos::prelude::*;

/// Counts by status and priority, and what changed lately.
#[component]
pub fn DashboardPage() -> impl IntoView {
    let dashboard = use_dashboard();
    view! {
        <div class="page-head">
            <h1>"Dashboard"</h1>
            <a class="btn btn-primary" href="/cases/new">"New case"</a>
        </div>
        <SyncHealth/>
        {query_view(dashboard, "the dashboard", |d| view! { <DashboardBody d/> })}
    }
}

/// Sync health: what waits, what needs the person, and when this device
/// last heard from the server.
#[component]
fn SyncHealth() -> impl IntoView {
    let status = crate::sync::use_sync_status();
    let when = move |t: Option<u64>| {
        t.map_or("not yet".to_string(), |t| relative_time(t as i64, now_ms()))
    };
    view! {
        <section class="card sync-health" aria-label="Sync health" data-testid="sync-health">
            <h2>"Sync health"</h2>
            <dl class="sync-facts">
                <dt>"Changes waiting to reach the server"</dt>
                <dd>{move || status.pending.get()}</dd>
                <dt>"Need your attention (refused, conflicts, failed)"</dt>
                <dd>{move || status.attention.get()}</dd>
                <dt>"In the offline queue / gave up"</dt>
                <dd>{move || { let q = status.queue.get(); format!("{} / {}", q.queued, q.dead) }}</dd>
                <dt>"Last sent · last received"</dt>
                <dd>{move || format!("{} · {}", when(status.last_push.get()), when(status.last_pull.get()))}</dd>
            </dl>
            <a href="/sync">"Open the sync center"</a>
        </section>
    }
}

#[component]
fn DashboardBody(d: Dashboard) -> impl IntoView {
    let status_bars = d
        .by_status
        .iter()
        .map(|c| Bar {
            label: c.key.label(),
            value: c.count,
            class: format!("status-{}", c.key.as_str()),
        })
        .collect::<Vec<_>>();
    let priority_bars = d
        .by_priority
        .iter()
        .rev()
        .map(|c| Bar {
            label: c.key.label(),
            value: c.count,
            class: format!("prio-{}", c.key.as_str()),
        })
        .collect::<Vec<_>>();
    let tiles = d
        .by_status
        .iter()
        .map(|c| {
            view! {
                <div class="tile">
                    <span class="tile-value">{c.count}</span>
                    <span class="tile-label">{c.key.label()}</span>
                </div>
            }
        })
        .collect_view();
    let now = now_ms();
    let recent = d
        .recent
        .into_iter()
        .map(|c| {
            view! {
                <li class="recent-row">
                    <a href=format!("/cases/{}", c.id) dir="auto">{c.title}</a>
                    <StatusBadge status=c.status/>
                    <PriorityBadge priority=c.priority/>
                    <span class="muted">{relative_time(c.updated_at, now)}</span>
                </li>
            }
        })
        .collect_view();
    view! {
        <section class="tiles" aria-label="Totals">
            <div class="tile tile-total">
                <span class="tile-value">{d.total}</span>
                <span class="tile-label">"Cases"</span>
            </div>
            {tiles}
        </section>
        <div class="grid-2">
            <section class="card">
                <h2>"By status"</h2>
                <BarChart title="Cases by status" bars=status_bars/>
            </section>
            <section class="card">
                <h2>"By priority"</h2>
                <BarChart title="Cases by priority" bars=priority_bars/>
            </section>
        </div>
        <section class="card">
            <h2>"Recently updated"</h2>
            <ul class="recent">{recent}</ul>
        </section>
    }
}
