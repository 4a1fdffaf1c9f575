//! The sync driver (SPEC §5): the browser side of core's sync protocol.
//!
//! - Every write is an event appended to the [`EventStore`] first; the
//!   driver pushes pending events in batches (core's `next_batch`, with the
//!   batch's `Idempotency-Key`), reads each per-event answer with core's
//!   `read_response`, and settles conflicts by the case policy (`merge`).
//! - It pulls after the stored cursor, storing remote events through the
//!   receive rule, and invalidates the queries of what changed.
//! - When: core's [`SyncSchedule`] decides; this module only feeds it
//!   triggers (appends, `online`, focus, live notices, "Sync now") and sleeps
//!   until it says so.
//! - One tab syncs at a time ([`tabs`]: a Web Lock); every tab hears what
//!   changed on a `BroadcastChannel` and refreshes at once.
//! - A WebSocket ([`live`]) makes another device's change arrive within a
//!   second; while it is down, pulls fall back to a short interval.

mod cases;
mod conflicts;
pub use conflicts::{case_policy, set_case_policy};
mod write;
pub use write::{use_case_write, CaseWrite};
mod live;
mod tabs;
pub(crate) mod worker_link;

pub use worker_link::letter_events;

use crate::http::{self, FetchError};
use crate::query::{prefix, QueryClient};
use crate::store::{Change, EventRecord, EventStore, LocalCase};
use casefile_core::api::{PullResponse, PushRequest, PushResponse, TabNotice};
use casefile_core::event::{
    batch_key, batch_refused, hold_back, next_batch, read_answer, settle, DomainEvent, EventData,
    EventHeader, LocalAction, PushOutcome, Resolution, SyncSchedule, Trigger,
};
use casefile_core::query::QueryKey;
use casefile_core::retry::Failure;
use futures_channel::mpsc::{unbounded, UnboundedReceiver, UnboundedSender};
use futures_util::StreamExt;
use leptos::prelude::*;
use std::cell::RefCell;
use std::rc::Rc;

/// Events pulled per request.
const PULL_PAGE: usize = 500;

/// What `POST /api/v1/events` answers: the server's results, or the service
/// worker's `202 {"queued": id}` when the server could not take it now.
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum PushAnswer {
    Queued(casefile_core::queue::QueuedAnswer),
    Done(PushResponse),
}

/// What the UI shows about sync, as signals (every tab has them; tabs that
/// do not sync hear the syncing tab's figures).
#[derive(Clone, Copy)]
pub struct SyncStatus {
    /// Events waiting to be pushed.
    pub pending: RwSignal<usize>,
    /// A push or pull is running.
    pub syncing: RwSignal<bool>,
    /// When the last push went through (ms).
    pub last_push: RwSignal<Option<u64>>,
    /// When the last pull went through (ms).
    pub last_pull: RwSignal<Option<u64>>,
    /// The last sync error, in words (cleared by a success).
    pub error: RwSignal<Option<String>>,
    /// Bumped whenever the local store changed: local views re-read.
    pub revision: RwSignal<u64>,
    /// Bumped when the case list's rows were refreshed.
    pub cases: RwSignal<u64>,
    /// Events that need the person (refused, or a manual conflict).
    pub attention: RwSignal<usize>,
    /// The live socket is connected.
    pub live: RwSignal<bool>,
    /// This tab is the one that syncs.
    pub leader: RwSignal<bool>,
    /// The latest thing the person must hear about (a refusal, a dead
    /// letter), numbered so the same text twice still shows twice.
    pub notice: RwSignal<Option<(u64, String)>>,
    /// The service worker's queue figures.
    pub queue: RwSignal<casefile_core::queue::QueueStats>,
    /// The worker's queued writes and dead letters, as last listed.
    pub queue_list: RwSignal<(
        Vec<casefile_core::queue::StoredRequest>,
        Vec<casefile_core::queue::DeadLetter>,
    )>,
}

impl SyncStatus {
    fn new() -> Self {
        SyncStatus {
            pending: RwSignal::new(0),
            syncing: RwSignal::new(false),
            last_push: RwSignal::new(None),
            last_pull: RwSignal::new(None),
            error: RwSignal::new(None),
            revision: RwSignal::new(0),
            cases: RwSignal::new(0),
            attention: RwSignal::new(0),
            live: RwSignal::new(false),
            leader: RwSignal::new(false),
            notice: RwSignal::new(None),
            queue: RwSignal::new(Default::default()),
            queue_list: RwSignal::new(Default::default()),
        }
    }
}

struct Inner {
    store: Result<EventStore, String>,
    status: SyncStatus,
    schedule: RefCell<SyncSchedule>,
    nudge: UnboundedSender<Trigger>,
    wakeups: RefCell<Option<UnboundedReceiver<Trigger>>>,
    client: QueryClient,
    channel: Option<web_sys::BroadcastChannel>,
    /// The log started empty and the first catch-up is still running.
    filling: std::cell::Cell<bool>,
    /// The case list's rows.
    cases: RefCell<cases::CaseList>,
}

/// The driver: one per tab. Cheap to clone.
#[derive(Clone)]
pub struct SyncEngine(Rc<Inner>);

fn now() -> u64 {
    js_sys::Date::now() as u64
}

fn online() -> bool {
    window().navigator().on_line()
}

impl SyncEngine {
    /// Opens the store, wires the triggers and the other tabs, and starts
    /// syncing once this tab holds the sync lock.
    pub async fn start(client: QueryClient) -> SyncEngine {
        let store = EventStore::open().await.map_err(|e| e.to_string());
        let (pending, cursor) = match &store {
            Ok(s) => (
                s.pending_count().await.unwrap_or(0),
                s.cursor().await.unwrap_or(0),
            ),
            Err(e) => {
                leptos::logging::error!("{e}");
                (0, 0)
            }
        };
        let (nudge, wakeups) = unbounded();
        let status = SyncStatus::new();
        status.pending.set(pending);
        if let Err(e) = &store {
            status.error.set(Some(e.clone()));
        }
        let engine = SyncEngine(Rc::new(Inner {
            store,
            status,
            schedule: RefCell::new(SyncSchedule::new(now(), online(), pending, cursor)),
            nudge,
            wakeups: RefCell::new(Some(wakeups)),
            client,
            channel: tabs::channel(),
            filling: std::cell::Cell::new(cursor == 0),
            cases: RefCell::new(Default::default()),
        }));
        engine.refresh_counts().await;
        tabs::listen(&engine);
        worker_link::listen(&engine);
        tabs::wire_triggers(&engine);
        if engine.0.store.is_ok() {
            tabs::lead(&engine);
        }
        engine
    }

    /// The status signals.
    pub fn status(&self) -> SyncStatus {
        self.0.status
    }

    fn store(&self) -> Result<&EventStore, String> {
        self.0.store.as_ref().map_err(Clone::clone)
    }

    fn trigger(&self, t: Trigger) {
        if matches!(
            t,
            Trigger::Start | Trigger::Online | Trigger::Focus | Trigger::LiveUp | Trigger::SyncNow
        ) {
            worker_link::send(&casefile_core::queue::ToWorker::ReplayNow);
        }
        let _ = self.0.nudge.unbounded_send(t);
    }

    fn tell_tabs(&self, notice: &TabNotice) {
        tabs::post(self.0.channel.as_ref(), notice);
    }

    /// Appends a validated event about `case` to the store; the push follows
    /// on its own. The error says what was wrong, in words.
    pub async fn append(&self, case: &str, data: EventData) -> Result<DomainEvent, String> {
        check(case, &data)?;
        let event = self
            .store()?
            .append(case, &data)
            .await
            .map_err(|e| e.to_string())?;
        self.after_local_change(&[case.to_string()]);
        Ok(event)
    }

    fn after_local_change(&self, cases: &[String]) {
        self.cases_touched(cases);
        self.0.status.pending.update(|n| *n += 1);
        self.0.status.revision.update(|r| *r += 1);
        self.trigger(Trigger::Appended);
        self.tell_tabs(&TabNotice::Appended);
        self.tell_tabs(&TabNotice::Changed {
            aggregates: cases.to_vec(),
        });
    }

    /// The case as this device sees it (server events and pending ones).
    pub async fn local_case(&self, case: &str) -> Option<LocalCase> {
        self.store().ok()?.local_case(case).await.ok().flatten()
    }

    /// Every case with pending events, as this device sees it.
    pub async fn pending_cases(&self) -> Vec<LocalCase> {
        match self.store() {
            Ok(s) => s.pending_cases().await.unwrap_or_default(),
            Err(_) => Vec::new(),
        }
    }

    /// A case's events with their sync state, in stamp order (audit trail).
    pub async fn history(&self, case: &str) -> Vec<(EventRecord, DomainEvent)> {
        match self.store() {
            Ok(s) => s.records_for(case).await.map(|r| r.0).unwrap_or_default(),
            Err(_) => Vec::new(),
        }
    }

    /// Events that did not go through: refused, overruled, and parked.
    pub async fn problems(&self) -> Vec<(EventRecord, DomainEvent)> {
        let Ok(store) = self.store() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for status in [
            crate::store::schema::PARKED,
            crate::store::schema::REFUSED,
            crate::store::schema::OVERRULED,
        ] {
            out.extend(store.with_status(status).await.unwrap_or_default());
        }
        out
    }

    /// Records that failed verification and were set aside, each with
    /// whether a good copy (pulled again from the server) is back in use.
    pub async fn damaged(&self) -> Vec<(crate::store::Quarantined, bool)> {
        let Ok(store) = self.store() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for q in store.quarantined().await.unwrap_or_default() {
            let restored = matches!(store.event(&q.id).await, Ok(Some(_)));
            out.push((q, restored));
        }
        out
    }

    /// Settles a manual conflict: the parked event is set aside and `data`
    /// (the fields the person chose; `None` keeps the server's) is appended
    /// in its place.
    pub async fn resolve(&self, parked_id: &str, data: Option<EventData>) -> Result<(), String> {
        let store = self.store()?;
        let (_, mine) = store
            .event(parked_id)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("that event is gone")?;
        if let Some(data) = &data {
            check(&mine.aggregate_id, data)?;
            store
                .append_caused(&mine.aggregate_id, data, Some(mine.id.clone()))
                .await
                .map_err(|e| e.to_string())?;
        }
        store
            .update(&[(mine.id.clone(), Change::Overruled("resolved by you".into()))])
            .await
            .map_err(|e| e.to_string())?;
        self.refresh_attention().await;
        if data.is_some() {
            self.after_local_change(&[mine.aggregate_id]);
        }
        Ok(())
    }

    /// The event store in figures, for the performance panel: events by
    /// sync state, quarantined records, the Lamport clock and this device.
    pub async fn store_figures(&self) -> Vec<(&'static str, String)> {
        use crate::store::schema::*;
        let Ok(store) = self.store() else {
            return vec![("Event store", "unavailable".into())];
        };
        let mut out = Vec::new();
        let mut total = 0;
        for (label, status) in [
            ("On the server", SYNCED),
            ("Pending", PENDING),
            ("In the worker's queue", QUEUED),
            ("Dead-lettered", DEAD),
            ("Refused", REFUSED),
            ("Overruled", OVERRULED),
            ("In conflict", PARKED),
        ] {
            let n = store.count(status).await.unwrap_or(0);
            total += n;
            out.push((label, n.to_string()));
        }
        out.insert(0, ("Events", total.to_string()));
        let quarantined = store.quarantined().await.map_or(0, |q| q.len());
        out.push(("Quarantined (failed checksum)", quarantined.to_string()));
        let clock = store.clock().await.map_or(0, |c| c.value());
        out.push(("Lamport clock", clock.to_string()));
        out.push(("This device", store.node_id().await.unwrap_or_default()));
        out.push(("Pull cursor", store.cursor().await.unwrap_or(0).to_string()));
        out
    }

    /// "Sync now": push and pull at once, forgetting any backoff.
    pub fn sync_now(&self) {
        self.trigger(Trigger::SyncNow);
        self.tell_tabs(&TabNotice::SyncNow);
    }

    async fn refresh_attention(&self) {
        if let Ok(store) = self.store() {
            let mut n = 0;
            for status in [
                crate::store::schema::PARKED,
                crate::store::schema::REFUSED,
                crate::store::schema::DEAD,
            ] {
                n += store.count(status).await.unwrap_or(0);
            }
            self.0.status.attention.set(n);
        }
    }

    /// Refetches what `cases` appear in and re-reads local views, here and
    /// (when `broadcast`) in the other tabs.
    fn changed(&self, cases: Vec<String>, broadcast: bool) {
        if cases.is_empty() {
            return;
        }
        self.cases_touched(&cases);
        self.0.status.revision.update(|r| *r += 1);
        let client = &self.0.client;
        client.invalidate(prefix(QueryKey::new(["cases"])));
        client.invalidate(prefix(QueryKey::new(["dashboard"])));
        if broadcast {
            self.tell_tabs(&TabNotice::Changed { aggregates: cases });
        }
    }

    fn publish_status(&self) {
        let s = self.0.status;
        self.tell_tabs(&TabNotice::Status {
            pending: s.pending.get_untracked(),
            last_push: s.last_push.get_untracked(),
            last_pull: s.last_pull.get_untracked(),
            error: s.error.get_untracked(),
        });
    }

    /// The sync loop; runs in the tab that holds the lock.
    async fn run(self) {
        let Some(mut wakeups) = self.0.wakeups.borrow_mut().take() else {
            return;
        };
        // Whatever other tabs appended before this one took over.
        if let Ok(store) = self.store() {
            let pending = store.pending_count().await.unwrap_or(0);
            self.0.schedule.borrow_mut().set_pending(pending, now());
        }
        self.refresh_counts().await;
        worker_link::send(&casefile_core::queue::ToWorker::List);
        worker_link::tick_while_queued(&self);
        self.trigger(Trigger::Start);
        loop {
            while let Ok(t) = wakeups.try_recv() {
                self.0.schedule.borrow_mut().trigger(t, now());
            }
            let due = self.0.schedule.borrow().due(now());
            if due.push || due.pull {
                self.0.status.syncing.set(true);
                if due.push {
                    self.push().await;
                }
                if due.pull {
                    self.pull().await;
                }
                self.0.status.syncing.set(false);
                self.publish_status();
                continue;
            }
            let wait = self.0.schedule.borrow().next_wake().saturating_sub(now());
            let sleep = Box::pin(http::sleep_ms(wait.clamp(50, 60_000)));
            if let futures_util::future::Either::Right((Some(t), _)) =
                futures_util::future::select(sleep, wakeups.next()).await
            {
                self.0.schedule.borrow_mut().trigger(t, now());
            }
        }
    }

    /// Pushes the next batch and applies the answers.
    async fn push(&self) {
        let Ok(store) = self.store() else { return };
        let pending = store.unsynced().await.map_err(|e| e.to_string());
        let (unsynced, elsewhere) = match (pending, self.elsewhere().await) {
            (Ok(u), Ok(held)) => (u, held),
            (Err(e), _) | (_, Err(e)) => {
                return self.push_failed(&[], e, Failure::Network).await;
            }
        };
        // Per-case order across paths (core::event::hold_back): an event
        // waits while an earlier one of its case is in the worker's queue or
        // dead-lettered; that one's answer triggers the next push.
        let (unsynced, _held) = hold_back(unsynced, &elsewhere);
        if unsynced.is_empty() {
            self.0.schedule.borrow_mut().set_pending(0, now());
            self.refresh_counts().await;
            return;
        }
        let batch = next_batch(&unsynced);
        let key = batch_key(&batch);
        let body = PushRequest {
            events: batch
                .iter()
                .map(|e| serde_json::to_value(e).expect("events encode"))
                .collect(),
        };
        let body = serde_json::to_string(&body).expect("requests encode");
        let answer = http::post_json::<PushAnswer>(
            "/api/v1/events",
            &body,
            &[("Idempotency-Key", key.as_str())],
        )
        .await;
        match answer {
            Ok(PushAnswer::Done(response)) => {
                self.apply_answer(&batch, &response).await;
                self.0.status.error.set(None);
            }
            Ok(PushAnswer::Queued(casefile_core::queue::QueuedAnswer { queued })) => {
                // The worker holds the batch now and replays it; its
                // `synced` message brings the answer.
                let changes: Vec<(String, Change)> = batch
                    .iter()
                    .map(|e| (e.id.clone(), Change::Queued(queued.clone())))
                    .collect();
                if let Err(e) = store.update(&changes).await {
                    self.0.status.error.set(Some(e.to_string()));
                }
                worker_link::ask_for_background_sync();
            }
            Err(e) if batch_refused(&e.failure()) => {
                // The whole batch refused (e.g. 400, 413): sending it again
                // cannot help. Its events leave the view and stay listed.
                let reason = format!("the server refused the batch: {e}");
                self.notify(format!("Changes were refused and undone: {e}"));
                let changes: Vec<(String, Change)> = batch
                    .iter()
                    .map(|ev| (ev.id.clone(), Change::Refused(reason.clone())))
                    .collect();
                if let Err(e) = store.update(&changes).await {
                    self.0.status.error.set(Some(e.to_string()));
                }
                self.0.status.error.set(Some(reason));
                let mut cases: Vec<String> = batch.iter().map(|e| e.aggregate_id.clone()).collect();
                cases.sort();
                cases.dedup();
                self.changed(cases, true);
            }
            Err(e) => return self.push_failed(&batch, e.to_string(), e.failure()).await,
        }
        let remaining = self.sendable_count().await;
        self.0.schedule.borrow_mut().push_done(
            PushOutcome::Answered { remaining },
            now(),
            online(),
            js_sys::Math::random(),
        );
        self.0.status.last_push.set(Some(now()));
        self.refresh_counts().await;
    }

    /// Applies the server's answer to a batch (from this page's push or from
    /// the worker's replay): synced, refused, or conflicts settled.
    async fn apply_answer(&self, batch: &[&DomainEvent], response: &PushResponse) {
        let Ok(store) = self.store() else { return };
        let mut changes = Vec::new();
        let mut conflicts = Vec::new();
        let mut refused = Vec::new();
        let elsewhere = self.elsewhere().await.unwrap_or_default();
        for action in read_answer(batch, response, &elsewhere) {
            match action {
                LocalAction::MarkSynced { id, version } => {
                    changes.push((id, Change::Synced(version.max(0) as u64)))
                }
                LocalAction::Reject { id, reason } => {
                    refused.push(reason.clone());
                    changes.push((id, Change::Refused(reason)))
                }
                LocalAction::Conflict { id, theirs, .. } => conflicts.push((id, theirs)),
                LocalAction::Wait { id, reason } => changes.push((id, Change::Wait(reason))),
                LocalAction::Retry { .. } => {}
            }
        }
        // A case's known version moves one answer at a time, lowest first.
        changes.sort_by_key(|(_, c)| match c {
            Change::Synced(v) => *v,
            _ => 0,
        });
        if let Err(e) = store.update(&changes).await {
            self.0.status.error.set(Some(e.to_string()));
        }
        if let Some(first) = refused.first() {
            let more = match refused.len() {
                1 => String::new(),
                n => format!(" ({} more refused; see the sync center)", n - 1),
            };
            self.notify(format!(
                "The server refused a change, so it was undone: {first}{more}"
            ));
        }
        if !conflicts.is_empty() {
            // The colliding events must be here before settling.
            while self.pull().await {}
            self.settle(conflicts).await;
        }
        let mut cases: Vec<String> = batch.iter().map(|e| e.aggregate_id.clone()).collect();
        cases.sort();
        cases.dedup();
        self.changed(cases, true);
    }

    /// This device's events that another path holds: queued in the worker
    /// or dead-lettered there (what [`hold_back`] orders pushes behind).
    async fn elsewhere(&self) -> Result<Vec<DomainEvent>, String> {
        use crate::store::schema::{DEAD, QUEUED};
        let store = self.store()?;
        let mut out = Vec::new();
        for status in [QUEUED, DEAD] {
            let records = store.with_status(status).await.map_err(|e| e.to_string())?;
            out.extend(records.into_iter().map(|(_, e)| e));
        }
        Ok(out)
    }

    /// How many pending events may be pushed now.
    async fn sendable_count(&self) -> usize {
        let Ok(store) = self.store() else { return 0 };
        match (store.unsynced().await, self.elsewhere().await) {
            (Ok(pending), Ok(elsewhere)) => hold_back(pending, &elsewhere).0.len(),
            _ => 0,
        }
    }

    /// Tells the person (a toast, through [`toast_refusals`]).
    fn notify(&self, text: String) {
        self.0
            .status
            .notice
            .update(|n| *n = Some((n.as_ref().map_or(1, |(k, _)| k + 1), text)));
    }

    /// Re-reads the figures the header and sync center show.
    async fn refresh_counts(&self) {
        if let Ok(store) = self.store() {
            if let Ok(n) = store.waiting_count().await {
                self.0.status.pending.set(n);
            }
        }
        self.refresh_attention().await;
    }

    async fn push_failed(&self, batch: &[&DomainEvent], error: String, failure: Failure) {
        if let Ok(store) = self.store() {
            let changes: Vec<(String, Change)> = batch
                .iter()
                .map(|e| (e.id.clone(), Change::Attempted(error.clone())))
                .collect();
            let _ = store.update(&changes).await;
        }
        self.0.schedule.borrow_mut().push_done(
            PushOutcome::Failed(failure),
            now(),
            online(),
            js_sys::Math::random(),
        );
        self.0.status.error.set(Some(error));
        self.refresh_counts().await;
    }

    /// Settles each conflicted event against the latest server event it
    /// collided with, by this device's [`case_policy`].
    async fn settle(&self, conflicts: Vec<(String, Vec<String>)>) {
        let Ok(store) = self.store() else { return };
        for (id, theirs_ids) in conflicts {
            let Ok(Some((_, mine))) = store.event(&id).await else {
                continue;
            };
            let mut theirs = Vec::new();
            for t in &theirs_ids {
                if let Ok(Some((_, e))) = store.event(t).await {
                    theirs.push(e);
                }
            }
            let Some(latest) = theirs.into_iter().max_by_key(DomainEvent::stamp) else {
                continue; // not pulled yet: it stays pending and is tried again
            };
            let change = match settle(case_policy(), &mine, &latest) {
                Resolution::Drop => Change::Overruled(
                    "another device changed the same fields later; its change stands".into(),
                ),
                Resolution::Park => Change::Parked(theirs_ids),
                Resolution::Rebase(patch) => {
                    let data = match mine.typed_data() {
                        Ok(EventData::CaseUpdated(_)) => EventData::CaseUpdated(patch),
                        Ok(other) => other,
                        Err(_) => continue,
                    };
                    if let Err(e) = store
                        .append_caused(&mine.aggregate_id, &data, Some(mine.id.clone()))
                        .await
                    {
                        self.0.status.error.set(Some(e.to_string()));
                        continue;
                    }
                    Change::Overruled("merged with another device's change and sent again".into())
                }
            };
            let _ = store.update(&[(mine.id.clone(), change)]).await;
        }
    }

    /// Pulls one page; true when more wait.
    async fn pull(&self) -> bool {
        let Ok(store) = self.store() else {
            return false;
        };
        let cursor = store.cursor().await.unwrap_or(0);
        let path = format!("/api/v1/events?after={cursor}&limit={PULL_PAGE}");
        let page: Result<PullResponse, FetchError> = http::get_json(&path).await;
        let page = match page {
            Ok(p) => p,
            Err(e) => {
                self.0.schedule.borrow_mut().pull_done(None, now());
                if !matches!(e, FetchError::Network { .. }) {
                    self.0.status.error.set(Some(e.to_string()));
                }
                return false;
            }
        };
        match store.receive(&page.events, page.next_cursor).await {
            Ok(got) => {
                if !got.bad.is_empty() {
                    self.0.status.error.set(Some(format!(
                        "{} events from the server failed verification and were set aside",
                        got.bad.len()
                    )));
                }
                self.0
                    .schedule
                    .borrow_mut()
                    .pull_done(Some((page.next_cursor, page.has_more)), now());
                self.0.status.last_pull.set(Some(now()));
                // The first catch-up of an empty log (all its pages) only
                // fills this device's log with what the server's answers
                // already show; later pulls bring changes the cached
                // queries have not seen.
                let first_fill = self.0.filling.get();
                if !page.has_more {
                    self.0.filling.set(false);
                }
                if !first_fill {
                    self.changed(got.aggregates, true);
                } else {
                    self.cases_touched(&got.aggregates);
                    self.0.status.revision.update(|r| *r += 1);
                }
                page.has_more
            }
            Err(e) => {
                self.0.schedule.borrow_mut().pull_done(None, now());
                self.0.status.error.set(Some(e.to_string()));
                false
            }
        }
    }
}

/// Checks an event's data before it is stored, as the server will.
fn check(case: &str, data: &EventData) -> Result<(), String> {
    let creating = matches!(data, EventData::CaseCreated(_));
    let probe = DomainEvent::new(
        EventHeader {
            id: uuid::Uuid::new_v4().to_string(),
            aggregate_id: case.to_string(),
            node_id: "check".into(),
            clock: 1,
            base_version: u64::from(!creating),
            timestamp: 0,
        },
        data,
    );
    probe.validate().map(|_| ()).map_err(|e| e.to_string())
}

/// The engine in context: a handle, as context values must be `Send`.
#[derive(Clone, Copy)]
struct EngineHandle(StoredValue<Option<SyncEngine>, LocalStorage>);

/// Provides the engine (when the app has one) and its status as context.
pub fn provide_sync(engine: Option<SyncEngine>) {
    provide_context(
        engine
            .as_ref()
            .map_or_else(SyncStatus::new, SyncEngine::status),
    );
    provide_context(EngineHandle(StoredValue::new_local(engine)));
}

/// The engine from context; `None` where the app runs without one (some
/// component tests).
pub fn use_sync() -> Option<SyncEngine> {
    use_context::<EngineHandle>().and_then(|h| h.0.get_value())
}

/// The status signals from context.
pub fn use_sync_status() -> SyncStatus {
    expect_context::<SyncStatus>()
}

/// Shows the sync engine's notices as error toasts (call inside the app).
pub fn toast_refusals() {
    let status = use_sync_status();
    let toaster = crate::toast::use_toaster();
    Effect::new(move |_| {
        if let Some((_, text)) = status.notice.get() {
            toaster.error(text);
        }
    });
}
