use crate::format::relative_time;
use crate::query::{now_ms, use_query_client, QueryClient};
use crate::worker::worker_status;
use casefile_core::query::{FetchStatus, KeyFilter, QueryStatus};
use leptos::prelude::*;

fn ms(v: Option<u64>) -> String {
    v.map_or_else(|| "–".into(), |v| format!("{v} ms"))
}

/// Figures about the app itself: the query cache's counters and durations,
/// its entries (with invalidate/remove), storage and the worker.
#[component]
pub fn PerformancePage() -> impl IntoView {
    let worker = worker_status();
    let client = StoredValue::new_local(use_query_client());
    let revision = client.with_value(QueryClient::revision);
    // Re-render on every cache change, and every few seconds for the ages.
    let (tick, set_tick) = signal(0u32);
    let interval = set_interval_with_handle(
        move || set_tick.update(|t| *t += 1),
        std::time::Duration::from_secs(5),
    )
    .ok();
    on_cleanup(move || {
        if let Some(handle) = interval {
            handle.clear();
        }
    });

    let counters = move || {
        revision.track();
        client.with_value(|c| {
            c.with_cache(|cache| {
                let m = cache.metrics();
                view! {
                    <div class="tiles">
                        <Tile label="Hit rate" value=format!("{:.0} %", m.hit_rate() * 100.0)/>
                        <Tile label="Hits / misses" value=format!("{} / {}", m.hits, m.misses)/>
                        <Tile label="Fetches" value=m.fetches.to_string()/>
                        <Tile label="Retries" value=m.retries.to_string()/>
                        <Tile label="Failures" value=m.failures.to_string()/>
                    </div>
                }
            })
        })
    };
    let durations = move || {
        revision.track();
        client.with_value(|c| {
            c.with_cache(|cache| {
                let m = cache.metrics();
                let rows = m
                    .durations()
                    .map(|(prefix, w)| {
                        view! {
                            <tr>
                                <td>{prefix.to_string()}</td>
                                <td>{w.count()}</td>
                                <td>{ms(w.percentile(50))}</td>
                                <td>{ms(w.percentile(95))}</td>
                            </tr>
                        }
                    })
                    .collect_view();
                let slow = m
                    .slow_fetches()
                    .rev()
                    .map(|s| {
                        view! {
                            <li>
                                <code>{s.key.clone()}</code>
                                {format!(" took {} ms{}", s.duration_ms, if s.failed { " and failed" } else { "" })}
                            </li>
                        }
                    })
                    .collect_view();
                let threshold = m.slow_threshold_ms;
                view! {
                    <table class="cases">
                        <thead><tr><th scope="col">"Key prefix"</th><th scope="col">"Fetches"</th><th scope="col">"p50"</th><th scope="col">"p95"</th></tr></thead>
                        <tbody>{rows}</tbody>
                    </table>
                    <h3>{format!("Slow fetches (over {threshold} ms)")}</h3>
                    <ul class="slow" data-testid="slow-fetches">{slow}</ul>
                }
            })
        })
    };
    let entries = move || {
        revision.track();
        tick.track();
        let now = now_ms();
        client.with_value(|c| {
            c.with_cache(|cache| {
                cache
                    .keys()
                    .into_iter()
                    .filter_map(|hash| {
                        let state = cache.state(hash)?;
                        let key = cache.key(hash)?.clone();
                        let status = match (state.status, state.fetch_status) {
                            (_, FetchStatus::Fetching) => "fetching",
                            (_, FetchStatus::Paused) => "paused",
                            (QueryStatus::Pending, _) => "pending",
                            (QueryStatus::Success, _) => "success",
                            (QueryStatus::Error, _) => "error",
                        };
                        let fresh = if cache.is_stale(hash, now) { "stale" } else { "fresh" };
                        let updated = if state.data_updated_at == 0 {
                            "never".to_string()
                        } else {
                            relative_time(state.data_updated_at as i64, now as i64)
                        };
                        let (k1, k2) = (key.clone(), key);
                        Some(view! {
                            <tr>
                                <td><code>{hash.clone()}</code></td>
                                <td>{status}</td>
                                <td>{fresh}</td>
                                <td>{cache.observer_count(hash)}</td>
                                <td>{updated}</td>
                                <td class="actions">
                                    <button class="btn btn-small" on:click=move |_| client.with_value(|c| c.invalidate(KeyFilter::Exact(k1.clone())))>"Invalidate"</button>
                                    <button class="btn btn-small" on:click=move |_| client.with_value(|c| c.remove(KeyFilter::Exact(k2.clone())))>"Remove"</button>
                                </td>
                            </tr>
                        })
                    })
                    .collect_view()
            })
        })
    };

    let origins = move || {
        revision.track();
        tick.track();
        let now = now_ms();
        crate::http::origin_health()
            .into_iter()
            .map(|o| {
                let name = if o.origin.is_empty() {
                    "this site".to_string()
                } else {
                    o.origin
                };
                let health = if o.healthy {
                    "healthy".to_string()
                } else if o.probing {
                    "unhealthy, probing".to_string()
                } else {
                    match o.probe_at {
                        Some(at) => format!(
                            "unhealthy, probe in {} s",
                            at.saturating_sub(now).div_ceil(1000)
                        ),
                        None => "unhealthy".to_string(),
                    }
                };
                view! {
                    <tr>
                        <td><code>{name}</code></td>
                        <td>{health}</td>
                        <td>{o.in_flight}</td>
                        <td>{o.failures}</td>
                    </tr>
                }
            })
            .collect_view()
    };
    view! {
        <div class="page-head"><h1>"Performance"</h1></div>
        <section aria-label="Query cache counters">{counters}</section>
        <section class="card">
            <h2>"Fetch durations"</h2>
            {durations}
        </section>
        <section class="card">
            <h2>"Query cache"</h2>
            <div class="table-wrap" tabindex="0" role="region" aria-label="Query cache entries">
                <table class="cases" data-testid="cache-entries">
                    <thead><tr>
                        <th scope="col">"Key"</th><th scope="col">"Status"</th><th scope="col">"Freshness"</th>
                        <th scope="col">"Observers"</th><th scope="col">"Updated"</th><th scope="col">"Actions"</th>
                    </tr></thead>
                    <tbody>{entries}</tbody>
                </table>
            </div>
        </section>
        <section class="card">
            <h2>"API origins"</h2>
            <table class="cases" data-testid="origins">
                <thead><tr><th scope="col">"Origin"</th><th scope="col">"Health"</th><th scope="col">"In flight"</th><th scope="col">"Failures in a row"</th></tr></thead>
                <tbody>{origins}</tbody>
            </table>
        </section>
        <section class="card">
            <h2>"Storage"</h2>
            <crate::storage::StorageFacts/>
            <h2>"Offline worker"</h2>
            <p>{move || worker.get().describe()}</p>
        </section>
        <EventStoreFigures/>
    }
}

/// The event store's size and state.
#[component]
fn EventStoreFigures() -> impl IntoView {
    let status = crate::sync::use_sync_status();
    let sync = StoredValue::new_local(crate::sync::use_sync());
    let (figures, set_figures) = signal(Vec::<(&'static str, String)>::new());
    Effect::new(move |_| {
        status.revision.track();
        status.pending.track();
        if let Some(engine) = sync.get_value() {
            leptos::task::spawn_local(async move { set_figures.set(engine.store_figures().await) });
        }
    });
    view! {
        <section class="card" data-testid="event-store">
            <h2>"Event store"</h2>
            <dl class="sync-facts">
                {move || figures.get().into_iter().map(|(label, value)| view! {
                    <dt>{label}</dt><dd>{value}</dd>
                }).collect_view()}
            </dl>
        </section>
    }
}

#[component]
fn Tile(label: &'static str, value: String) -> impl IntoView {
    view! {
        <div class="tile">
            <span class="tile-value">{value}</span>
            <span class="tile-label">{label}</span>
        </div>
    }
}
