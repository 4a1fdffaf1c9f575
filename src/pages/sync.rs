use crate::format::{now_ms, relative_time};
use crate::online::use_online;
use crate::store::{EventRecord, Quarantined};
use crate::sync::{case_policy, set_case_policy, use_sync, use_sync_status};
use crate::worker::worker_status;
use casefile_core::event::{
    field_label, resolution, ConflictPolicy, DomainEvent, EventData, FieldSides,
};
use leptos::prelude::*;
use std::collections::BTreeSet;

/// Where writes wait and what the offline machinery is doing.
#[component]
pub fn SyncCenter() -> impl IntoView {
    let online = use_online();
    let worker = worker_status();
    let status = use_sync_status();
    let sync = StoredValue::new_local(use_sync());
    let (problems, set_problems) = signal(Vec::<(EventRecord, DomainEvent)>::new());
    let (damaged, set_damaged) = signal(Vec::<(Quarantined, bool)>::new());
    let (exported, set_exported) = signal(None::<String>);
    if let Some(engine) = sync.get_value() {
        engine.list_queue();
    }
    Effect::new(move |_| {
        status.revision.track();
        status.attention.track();
        status.pending.track();
        if let Some(engine) = sync.get_value() {
            leptos::task::spawn_local(async move {
                set_problems.set(engine.problems().await);
                set_damaged.set(engine.damaged().await);
            });
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
            <h2>"This device's storage"</h2>
            <crate::storage::StorageFacts/>
            <button class="btn" data-testid="export-unsent"
                disabled=move || sync.with_value(Option::is_none)
                on:click=move |_| {
                    if let Some(engine) = sync.get_value() {
                        leptos::task::spawn_local(async move {
                            let said = match crate::storage::export_unsent(&engine).await {
                                Ok(n) => format!("Exported {n} unsent changes."),
                                Err(e) => format!("Export failed: {e}"),
                            };
                            set_exported.set(Some(said));
                        });
                    }
                }>
                "Export unsent changes"
            </button>
            {move || exported.get().map(|t| view! { <p class="muted" role="status">{t}</p> })}
        </section>
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
                <dd data-testid="sync-last-pull">{move || when(status.last_pull.get())}</dd>
                <dt>"Now"</dt>
                <dd>{move || if status.syncing.get() { "Syncing…" } else { "Idle" }}</dd>
                <dt>"Live updates"</dt>
                <dd>{move || if status.live.get() { "Connected" } else if status.leader.get() { "Reconnecting (checking every 15 s)" } else { "Handled by another tab" }}</dd>
            </dl>
            {move || status.error.get().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
        </section>
        <WorkerQueue/>
        <ConflictSetting/>
        <section class="card">
            <h2>"Writes that did not go through"</h2>
            {move || problems.with(Vec::is_empty).then(|| view! {
                <p class="muted">"None: every write reached the server or is on its way."</p>
            })}
            // Keyed, so a refresh after any sync keeps a problem that did not
            // change on screen as it is: a decision half made stays made.
            <For
                each=move || problems.get()
                key=|(record, _)| (record.id.clone(), record.kind(), record.sync_error.clone())
                children=|(record, event)| view! { <Problem record event/> }
            />
        </section>
        {move || {
            let list = damaged.get();
            (!list.is_empty()).then(|| view! { <Damaged list/> })
        }}
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

/// Records on this device that failed their checksum: kept aside, never
/// used, and fetched again from the server where it has them.
#[component]
fn Damaged(list: Vec<(Quarantined, bool)>) -> impl IntoView {
    let lost = list.iter().filter(|(_, restored)| !restored).count();
    let records = match list.len() {
        1 => "1 damaged record was".to_string(),
        n => format!("{n} damaged records were"),
    };
    let summary = if lost == 0 {
        format!("{records} set aside; the server's copy is back in use, so nothing is lost.")
    } else {
        format!("{records} set aside and kept here unused; {lost} not restored from the server (yet), so what they held may be missing on this device until the server sends it.")
    };
    let rows = list
        .into_iter()
        .map(|(q, restored)| {
            view! {
                <li data-testid="damaged-record">
                    <code>{q.id.chars().take(8).collect::<String>()}</code>" · "{q.reason}" · "
                    {if restored { "restored from the server" } else { "not restored" }}
                </li>
            }
        })
        .collect_view();
    view! {
        <section class="card" data-testid="damaged-records">
            <h2>"Damaged records"</h2>
            <p role="status">{summary}</p>
            <ul>{rows}</ul>
        </section>
    }
}

/// One event that did not go through, readable, with what can be done.
#[component]
fn Problem(record: EventRecord, event: DomainEvent) -> impl IntoView {
    let kind = record.kind();
    let what = kind.label();
    let data = serde_json::to_string_pretty(&event.data).unwrap_or_default();
    let parked = kind == casefile_core::sync::SyncKind::Parked;
    view! {
        <div class="problem" data-testid="sync-problem">
            <p><strong>{what}</strong>" · "{event.event_type.as_str()}" on "
                <a href=format!("/cases/{}", event.aggregate_id)>"this case"</a>
                " · stamp ("{event.clock}", "{event.node_id.chars().take(8).collect::<String>()}")"</p>
            <p>{record.sync_error.unwrap_or_default()}</p>
            <pre data-testid="problem-content">{data.clone()}</pre>
            <button class="btn" type="button" data-testid="copy-problem" on:click=move |_| {
                // The person keeps what they wrote, to use elsewhere.
                let _ = leptos::prelude::window().navigator().clipboard().write_text(&data);
            }>"Copy"</button>
            {parked.then(|| view! { <Decide event=event.clone()/> })}
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
                let n = status.queue.get().unreadable;
                (n > 0).then(|| view! {
                    <p class="form-error" role="alert" data-testid="queue-unreadable">
                        {format!("{n} stored write(s) could not be read back (damaged browser storage). \
                            They are kept as they are and never sent; nothing else is affected.")}
                    </p>
                })
            }}
            {move || {
                let (queued, dead) = status.queue_list.get();
                let now = tick.get();
                let queued_view = if queued.is_empty() {
                    view! { <p class="muted">"Nothing waiting in the offline queue."</p> }.into_any()
                } else {
                    queued.into_iter().map(|q| {
                        let wait = (q.next_attempt_at as i64 - now) / 1000;
                        let when = if casefile_core::queue::waits_for_sign_in(&q) {
                            "sent once you sign in again".to_string()
                        } else if wait > 0 {
                            format!("next try in {wait} s")
                        } else {
                            "next try when the server is reachable".to_string()
                        };
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

/// The device's choice for updates that collide on the same fields.
#[component]
fn ConflictSetting() -> impl IntoView {
    let manual = case_policy() == ConflictPolicy::Manual;
    view! {
        <section class="card">
            <h2>"Conflicts"</h2>
            <label class="setting">
                <span>"When another device changed the same field"</span>
                <select data-testid="conflict-policy" on:change=move |ev| {
                    set_case_policy(if event_target_value(&ev) == "manual" {
                        ConflictPolicy::Manual
                    } else {
                        ConflictPolicy::Merge
                    })
                }>
                    <option value="merge" selected=!manual>"Keep the later change (merge)"</option>
                    <option value="manual" selected=manual>"Ask me, field by field"</option>
                </select>
            </label>
        </section>
    }
}

/// A parked event's decision: an update side by side, field by field (base,
/// mine, theirs, with a choice each); any other event kept or dropped whole.
#[component]
fn Decide(event: DomainEvent) -> impl IntoView {
    let sync = StoredValue::new_local(use_sync());
    // Outer `None` while both sides are read, so an update never flashes
    // the whole-event choice first.
    let (rows, set_rows) = signal(None::<Option<Vec<FieldSides>>>);
    let keep_mine = RwSignal::new(BTreeSet::<&'static str>::new());
    let (failed, set_failed) = signal(None::<String>);
    let event = StoredValue::new(event);
    let status = use_sync_status();
    Effect::new(move |_| {
        // Read again after every sync: "theirs" is the server's case as
        // this device has it now. Only a change redraws (and the choices
        // made are kept apart from the rows).
        status.revision.track();
        if let Some(engine) = sync.get_value() {
            let parked = event.get_value();
            leptos::task::spawn_local(async move {
                let sides = Some(engine.conflict_sides(&parked).await);
                if rows.with_untracked(|now| *now != sides) {
                    set_rows.set(sides);
                }
            });
        }
    });
    let settle = move |data: Option<EventData>| {
        let Some(engine) = sync.get_value() else {
            return;
        };
        let id = event.with_value(|e| e.id.clone());
        leptos::task::spawn_local(async move {
            if let Err(e) = engine.resolve(&id, data).await {
                set_failed.set(Some(format!("Not resolved: {e}")));
            }
        });
    };
    let apply = move |_| {
        let data = event.with_value(|e| match e.typed_data() {
            Ok(EventData::CaseUpdated(mine)) => keep_mine
                .with(|keep| resolution(&mine, keep))
                .map(EventData::CaseUpdated),
            _ => None,
        });
        settle(data);
    };
    let id = event.with_value(|e| e.id.clone());
    move || match rows.get() {
        None => view! { <p class="muted">"Reading both sides…"</p> }.into_any(),
        Some(Some(rows)) => {
            let id = id.clone();
            view! {
                <table class="conflict" data-testid="conflict">
                    <caption>"Both changed: choose, field by field"</caption>
                    <thead><tr>
                        <th scope="col">"Field"</th>
                        <th scope="col">"Before"</th>
                        <th scope="col">"Mine"</th>
                        <th scope="col">"Theirs (on the server)"</th>
                        <th scope="col">"Keep"</th>
                    </tr></thead>
                    <tbody>{rows.into_iter().map(|r| {
                        let field = r.field;
                        let name = format!("keep-{id}-{field}");
                        view! {
                            <tr data-field=field>
                                <th scope="row">{field_label(field)}</th>
                                <td>{r.base}</td>
                                <td class="mine">{r.mine}</td>
                                <td class="theirs">{r.theirs}</td>
                                <td>
                                    <fieldset class="keep">
                                        <legend class="sr-only">{format!("Keep for {field}")}</legend>
                                        <label><input type="radio" name=name.clone() value="mine"
                                            prop:checked=move || keep_mine.with(|k| k.contains(field))
                                            on:change=move |_| keep_mine.update(|k| { k.insert(field); })/>" Mine"</label>
                                        <label><input type="radio" name=name value="theirs"
                                            prop:checked=move || !keep_mine.with(|k| k.contains(field))
                                            on:change=move |_| keep_mine.update(|k| { k.remove(field); })/>" Theirs"</label>
                                    </fieldset>
                                </td>
                            </tr>
                        }
                    }).collect_view()}</tbody>
                </table>
                <button class="btn btn-primary" on:click=apply>"Apply my choices"</button>
                {move || failed.get().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
            }
            .into_any()
        }
        Some(None) => {
            let mine = event.with_value(|e| e.typed_data().ok());
            view! {
                <button class="btn" on:click=move |_| settle(mine.clone())>"Keep mine"</button>
                " "
                <button class="btn" on:click=move |_| settle(None)>"Keep theirs"</button>
                {move || failed.get().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
            }
            .into_any()
        }
    }
}
