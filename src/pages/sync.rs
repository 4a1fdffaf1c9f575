use crate::format::{now_ms, relative_time};
use crate::online::use_online;
use crate::store::schema::{OVERRULED, PARKED, REFUSED};
use crate::store::EventRecord;
use crate::sync::{use_sync, use_sync_status};
use crate::worker::worker_status;
use casefile_core::event::DomainEvent;
use leptos::prelude::*;

/// Where writes wait and what the offline machinery is doing.
#[component]
pub fn SyncCenter() -> impl IntoView {
    let online = use_online();
    let worker = worker_status();
    let status = use_sync_status();
    let sync = StoredValue::new_local(use_sync());
    let (problems, set_problems) = signal(Vec::<(EventRecord, DomainEvent)>::new());
    if let Some(engine) = sync.get_value() {
        engine.list_queue();
    }
    Effect::new(move |_| {
        status.revision.track();
        status.attention.track();
        status.pending.track();
        if let Some(engine) = sync.get_value() {
            leptos::task::spawn_local(async move { set_problems.set(engine.problems().await) });
        }
    });
    let when = move |t: Option<u64>| {
        t.map_or("not yet".to_string(), |t| relative_time(t as i64, now_ms()))
    };
    view! {
        <div class="page-head">
            <h1>"Sync center"</h1>
            <button class="btn btn-primary" data-testid="sync-now"
                disabled=move || sync.with_value(Option::is_none)
                on:click=move |_| { if let Some(e) = sync.get_value() { e.sync_now() } }>
                "Sync now"
            </button>
        </div>
        <section class="card">
            <h2>"Writes"</h2>
            <dl class="sync-facts">
                <dt>"Waiting to be sent"</dt>
                <dd data-testid="sync-pending">{move || status.pending.get()}</dd>
                <dt>"Need your attention"</dt>
                <dd>{move || status.attention.get()}</dd>
                <dt>"Last sent"</dt>
                <dd>{move || when(status.last_push.get())}</dd>
                <dt>"Last received"</dt>
                <dd>{move || when(status.last_pull.get())}</dd>
                <dt>"Now"</dt>
                <dd>{move || if status.syncing.get() { "Syncing…" } else { "Idle" }}</dd>
                <dt>"Live updates"</dt>
                <dd>{move || if status.live.get() { "Connected" } else if status.leader.get() { "Reconnecting (checking every 15 s)" } else { "Handled by another tab" }}</dd>
            </dl>
            {move || status.error.get().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
        </section>
        <WorkerQueue/>
        <section class="card">
            <h2>"Writes that did not go through"</h2>
            {move || {
                let list = problems.get();
                if list.is_empty() {
                    return view! { <p class="muted">"None: every write reached the server or is on its way."</p> }.into_any();
                }
                list.into_iter().map(|(record, event)| view! { <Problem record event/> }).collect_view().into_any()
            }}
        </section>
        <section class="card">
            <h2>"Connection"</h2>
            <p>{move || if online.get() {
                "Online: reads come from the server and are kept for offline use."
            } else {
                "Offline: Casefile shows what it has and keeps every write on this device until the server is back."
            }}</p>
            <h2>"Offline worker"</h2>
            <p data-testid="worker-status">{move || worker.get().describe()}</p>
        </section>
    }
}

/// One event that did not go through, readable, with what can be done.
#[component]
fn Problem(record: EventRecord, event: DomainEvent) -> impl IntoView {
    let sync = StoredValue::new_local(use_sync());
    let what = match record.synced {
        REFUSED => "Refused by the server",
        OVERRULED => "Settled by a conflict",
        PARKED => "Conflict: waiting for your decision",
        _ => "Other",
    };
    let data = serde_json::to_string_pretty(&event.data).unwrap_or_default();
    let parked = record.synced == PARKED;
    let id = event.id.clone();
    let mine = event.typed_data().ok();
    view! {
        <div class="problem" data-testid="sync-problem">
            <p><strong>{what}</strong>" · "{event.event_type.as_str()}" on "
                <a href=format!("/cases/{}", event.aggregate_id)>"this case"</a>
                " · stamp ("{event.clock}", "{event.node_id.chars().take(8).collect::<String>()}")"</p>
            <p>{record.sync_error.unwrap_or_default()}</p>
            <pre>{data}</pre>
            {parked.then(|| {
                let (keep, drop) = (id.clone(), id.clone());
                view! {
                    <button class="btn" on:click=move |_| {
                        let (id, mine) = (keep.clone(), mine.clone());
                        if let Some(e) = sync.get_value() {
                            leptos::task::spawn_local(async move { let _ = e.resolve(&id, mine).await; });
                        }
                    }>"Keep mine"</button>
                    " "
                    <button class="btn" on:click=move |_| {
                        let id = drop.clone();
                        if let Some(e) = sync.get_value() {
                            leptos::task::spawn_local(async move { let _ = e.resolve(&id, None).await; });
                        }
                    }>"Keep theirs"</button>
                }
            })}
        </div>
    }
}

/// The service worker's queue: writes it holds for the server, and the ones
/// it gave up on, with Retry and Discard.
#[component]
fn WorkerQueue() -> impl IntoView {
    let status = use_sync_status();
    let sync = StoredValue::new_local(use_sync());
    // A clock for the countdowns.
    let (tick, set_tick) = signal(now_ms());
    let handle = set_interval_with_handle(
        move || set_tick.set(now_ms()),
        std::time::Duration::from_secs(1),
    );
    on_cleanup(move || {
        if let Ok(h) = handle {
            h.clear();
        }
    });
    view! {
        <section class="card" data-testid="worker-queue">
            <h2>"Offline queue"</h2>
            {move || status.queue.get().replaying.then(|| view! {
                <progress aria-label="Replaying queued writes"></progress>
            })}
            {move || {
                let (queued, dead) = status.queue_list.get();
                let now = tick.get();
                let queued_view = if queued.is_empty() {
                    view! { <p class="muted">"Nothing waiting in the offline queue."</p> }.into_any()
                } else {
                    queued.into_iter().map(|q| {
                        let wait = (q.next_attempt_at as i64 - now) / 1000;
                        let when = if wait > 0 { format!("next try in {wait} s") } else { "next try when the server is reachable".to_string() };
                        view! {
                            <div class="problem" data-testid="queued-write">
                                <p><strong>{format!("{} {}", q.method, q.url)}</strong></p>
                                <p>{format!("{} failed attempts · {when}", q.attempts)}
                                    {q.last_error.map(|e| format!(" · last: {e}"))}</p>
                            </div>
                        }
                    }).collect_view().into_any()
                };
                let dead_view = dead.into_iter().map(|letter| {
                    let events = crate::sync::letter_events(&letter);
                    let (retry, discard) = (letter.clone(), letter.clone());
                    view! {
                        <div class="problem" data-testid="dead-letter">
                            <p><strong>"Gave up: "</strong>{letter.reason.clone()}</p>
                            <p>{format!("{} {} · {} attempts · status {}", letter.request.method, letter.request.url,
                                letter.request.attempts, letter.status.map_or("none".into(), |s| s.to_string()))}</p>
                            <ul>{events.into_iter().map(|e| view! {
                                <li>{format!("{} on case {} · stamp ({}, {})", e.event_type.as_str(), e.aggregate_id, e.clock,
                                    e.node_id.chars().take(8).collect::<String>())}</li>
                            }).collect_view()}</ul>
                            <pre>{letter.excerpt.clone()}</pre>
                            <button class="btn" on:click=move |_| {
                                let letter = retry.clone();
                                if let Some(e) = sync.get_value() {
                                    leptos::task::spawn_local(async move { e.retry_letter(&letter).await });
                                }
                            }>"Retry"</button>
                            " "
                            <button class="btn" on:click=move |_| {
                                if let Some(e) = sync.get_value() { e.discard_letter(&discard) }
                            }>"Discard"</button>
                        </div>
                    }
                }).collect_view();
                view! { {queued_view} {dead_view} }
            }}
        </section>
    }
}
