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
        {query_view(dashboard, "the dashboard", |d| view! { <DashboardBody d/> })}
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
                    <a href=format!("/cases/{}", c.id)>{c.title}</a>
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
