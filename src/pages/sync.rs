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
