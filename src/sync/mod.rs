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
use crate::store::{AccessPage, EventRecord, EventStore, LocalCase};
use casefile_core::api::{PullResponse, PushRequest, TabNotice};
use casefile_core::event::{DomainEvent, EventData, Trigger};
use casefile_core::sync::{
    clamp_wait, resolve_ops, wakes_worker, Input, Io, Read, SyncKind, SyncMachine, MAX_WAIT_MS,
};
use futures_channel::mpsc::{unbounded, UnboundedReceiver, UnboundedSender};
use futures_util::StreamExt;
use leptos::prelude::*;
use std::cell::RefCell;
use std::rc::Rc;

/// What `POST /api/v1/events` answers: the server's results, or the service
/// worker's `202 {"queued": id}` when the server could not take it now.
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum PushAnswer {
    Queued(casefile_core::queue::QueuedAnswer),
    Done(casefile_core::api::PushResponse),
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
    /// How far a new device's first catch-up has come (percent), while it
    /// runs.
    pub catching_up: RwSignal<Option<u8>>,
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
            catching_up: RwSignal::new(None),
            queue: RwSignal::new(Default::default()),
            queue_list: RwSignal::new(Default::default()),
        }
    }
}

struct Inner {
    store: Result<EventStore, crate::store::StoreError>,
    status: SyncStatus,
    /// The rules (core's `SyncMachine`); the syncing tab drives it.
    machine: RefCell<SyncMachine>,
    inbox: UnboundedSender<Input>,
    inputs: RefCell<Option<UnboundedReceiver<Input>>>,
    client: QueryClient,
    channel: Option<web_sys::BroadcastChannel>,
    /// The case list's rows.
    cases: RefCell<cases::CaseList>,
    /// The catch-up page asked for ahead (core's `Io::Pull::ahead`).
    ahead: RefCell<Option<Ahead>>,
}

/// A pull page whose request went out while the page before it was stored:
/// the path it asked for, and the answer to come.
struct Ahead {
    path: String,
    answer: futures_channel::oneshot::Receiver<Result<PullResponse, FetchError>>,
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
        let store = EventStore::open().await;
        let (pending, cursor, filled) = match &store {
            Ok(s) => (
                s.pending_count().await.unwrap_or(0),
                s.cursor().await.unwrap_or(0),
                s.filled().await.unwrap_or(false),
            ),
            Err(e) => {
                leptos::logging::error!("{e}");
                (0, 0, false)
            }
        };
        let (inbox, inputs) = unbounded();
        let status = SyncStatus::new();
        status.pending.set(pending);
        if let Err(e) = &store {
            status
                .error
                .set(Some(SyncError::Unavailable(e.clone()).to_string()));
        }
        let engine = SyncEngine(Rc::new(Inner {
            store,
            status,
            machine: RefCell::new(
                SyncMachine::new(
                    now(),
                    online(),
                    cursor,
                    (js_sys::Math::random() * u64::MAX as f64) as u64,
                )
                .caught_up_once(filled),
            ),
            inbox,
            inputs: RefCell::new(Some(inputs)),
            client,
            channel: tabs::channel(),
            cases: RefCell::new(Default::default()),
            ahead: RefCell::default(),
        }));
        engine.read_counts().await;
        if let (Ok(store), Some(user)) = (&engine.0.store, crate::session::owner()) {
            if let Ok(node) = store.node_id().await {
                crate::storage::check_log(&user, &node);
            }
        }
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

    fn store(&self) -> Result<&EventStore, SyncError> {
        self.0
            .store
            .as_ref()
            .map_err(|e| SyncError::Unavailable(e.clone()))
    }

    fn trigger(&self, t: Trigger) {
        if wakes_worker(t) {
            worker_link::send(&casefile_core::queue::ToWorker::ReplayNow);
        }
        self.input(Input::Trigger(t));
    }

    /// Hands the machine an input (the syncing tab's loop takes it).
    fn input(&self, input: Input) {
        let _ = self.0.inbox.unbounded_send(input);
    }

    /// The first catch-up of an empty log is still running.
    pub(crate) fn filling(&self) -> bool {
        self.0.machine.borrow().filling()
    }

    fn tell_tabs(&self, notice: &TabNotice) {
        tabs::post(self.0.channel.as_ref(), notice);
    }

    /// Appends a validated event about `case` to the store; the push follows
    /// on its own. The error says what was wrong, in words.
    pub async fn append(&self, case: &str, data: EventData) -> Result<DomainEvent, SyncError> {
        check(case, &data)?;
        let event = self.store()?.append(case, &data).await?;
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
        for kind in SyncKind::PROBLEMS {
            out.extend(store.with_status(kind).await.unwrap_or_default());
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
    pub async fn resolve(&self, parked_id: &str, data: Option<EventData>) -> Result<(), SyncError> {
        let store = self.store()?;
        let (_, mine) = store.event(parked_id).await?.ok_or(SyncError::Gone)?;
        if let Some(data) = &data {
            check(&mine.aggregate_id, data)?;
        }
        let appends = data.is_some();
        store.commit(&resolve_ops(&mine, data)).await?;
        self.read_counts().await;
        if appends {
            self.after_local_change(&[mine.aggregate_id]);
        }
        Ok(())
    }

    /// The event store in figures, for the performance panel: events by
    /// sync state, quarantined records, the Lamport clock and this device.
    pub async fn store_figures(&self) -> Vec<(&'static str, String)> {
        let Ok(store) = self.store() else {
            return vec![("Event store", "unavailable".into())];
        };
        let mut out = Vec::new();
        let mut total = 0;
        for kind in SyncKind::ALL {
            let n = store.count(kind).await.unwrap_or(0);
            total += n;
            out.push((kind.label(), n.to_string()));
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

    /// The person's changes not on the server (core's `SyncKind::UNSENT`),
    /// read from the store now (a sign-out asks about them).
    pub async fn unsent(&self) -> usize {
        match self.store() {
            Ok(store) => store
                .count_of(&SyncKind::UNSENT)
                .await
                .unwrap_or(usize::MAX),
            Err(_) => 0,
        }
    }

    /// Every unsent change of this user (core's `SyncKind::UNSENT`), oldest
    /// first, as the export holds them.
    pub async fn export_unsent(
        &self,
        user: &str,
    ) -> Result<casefile_core::device::Export, SyncError> {
        let store = self.store()?;
        let mut changes = Vec::new();
        for kind in SyncKind::UNSENT {
            for (record, event) in store.with_status(kind).await? {
                changes.push(casefile_core::device::ExportedChange {
                    state: kind.label().to_string(),
                    note: record.sync_error.clone(),
                    event,
                });
            }
        }
        let changes = casefile_core::event::in_stamp_order(changes, |c| c.event.stamp_key());
        Ok(casefile_core::device::Export {
            user: user.to_string(),
            exported_at: now(),
            changes,
        })
    }

    /// Reads the figures the header and sync center show.
    async fn counts(&self) -> Result<Input, SyncError> {
        let store = self.store()?;
        Ok(Input::Counts {
            pending: store.pending_count().await?,
            waiting: store.waiting_count().await?,
            attention: store.count_of(&SyncKind::ATTENTION).await?,
        })
    }

    /// Re-reads the figures into the status (any tab).
    async fn read_counts(&self) {
        if let Ok(Input::Counts {
            waiting, attention, ..
        }) = self.counts().await
        {
            self.0.status.pending.set(waiting);
            self.0.status.attention.set(attention);
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
        for key in casefile_core::sync::queries_a_change_touches() {
            self.0.client.invalidate(prefix(key));
        }
        if broadcast {
            self.tell_tabs(&TabNotice::Changed { aggregates: cases });
        }
    }

    /// Tells the person (a toast, through [`toast_refusals`]).
    fn notify(&self, text: String) {
        self.0
            .status
            .notice
            .update(|n| *n = Some((n.as_ref().map_or(1, |(k, _)| k + 1), text)));
    }

    /// The sync loop; runs in the tab that holds the lock. It feeds the
    /// machine its inputs and timeouts and carries out its I/O, one at a
    /// time (the call order documented on `SyncMachine`).
    async fn run(self) {
        let Some(mut inputs) = self.0.inputs.borrow_mut().take() else {
            return;
        };
        self.trigger(Trigger::Start);
        loop {
            while let Ok(input) = inputs.try_recv() {
                self.handle(input);
            }
            self.drain().await;
            let wait = self
                .0
                .machine
                .borrow()
                .poll_timeout()
                .map_or(MAX_WAIT_MS, |at| clamp_wait(at, now()));
            let sleep = Box::pin(http::sleep_ms(wait));
            match futures_util::future::select(sleep, inputs.next()).await {
                futures_util::future::Either::Right((Some(input), _)) => self.handle(input),
                _ => self.0.machine.borrow_mut().handle_timeout(now()),
            }
        }
    }

    fn handle(&self, input: Input) {
        let mut machine = self.0.machine.borrow_mut();
        machine.set_policy(case_policy());
        machine.handle(now(), input);
    }

    /// Carries out the machine's I/O until it has none, then shows its
    /// figures.
    async fn drain(&self) {
        loop {
            let io = self.0.machine.borrow_mut().poll_io();
            let Some(io) = io else { break };
            if let Some(answer) = self.execute(io).await {
                self.handle(answer);
            }
            // A catch-up runs page after page in this loop: its progress is
            // shown as it goes, not when it is over.
            let catching_up = self.0.machine.borrow().figures().catching_up;
            if self.0.status.catching_up.get_untracked() != catching_up {
                self.0.status.catching_up.set(catching_up);
            }
        }
        let figures = self.0.machine.borrow().figures().clone();
        let s = self.0.status;
        s.pending.set(figures.waiting);
        s.attention.set(figures.attention);
        s.syncing.set(figures.syncing);
        s.last_push.set(figures.last_push);
        s.last_pull.set(figures.last_pull);
        s.error.set(figures.error);
    }

    /// One [`Io`]; the answer, when it asks for one.
    async fn execute(&self, io: Io) -> Option<Input> {
        let failed = |e: crate::store::StoreError| Input::ReadFailed(e.to_string());
        let store = match self.store() {
            Ok(s) => s,
            Err(e) => return Some(Input::ReadFailed(e.to_string())),
        };
        match io {
            Io::Read(Read::Pending) => {
                Some(match (store.unsynced().await, self.elsewhere().await) {
                    (Ok(unsynced), Ok(elsewhere)) => Input::Pending {
                        unsynced,
                        elsewhere,
                    },
                    (Err(e), _) | (_, Err(e)) => failed(e),
                })
            }
            Io::Read(Read::Events(ids)) => {
                let mut events = Vec::new();
                for id in &ids {
                    if let Ok(Some((_, e))) = store.event(id).await {
                        events.push(e);
                    }
                }
                Some(match self.elsewhere().await {
                    Ok(elsewhere) => Input::Events { events, elsewhere },
                    Err(e) => failed(e),
                })
            }
            Io::Read(Read::Queued) => Some(
                match (
                    store.with_status(SyncKind::Queued).await,
                    store.with_status(SyncKind::Dead).await,
                ) {
                    (Ok(queued), Ok(dead)) => Input::Queued {
                        queued: queued
                            .into_iter()
                            .filter_map(|(r, _)| Some((r.id, r.queue_id?)))
                            .collect(),
                        dead: dead.into_iter().map(|(r, _)| r.id).collect(),
                    },
                    (Err(e), _) | (_, Err(e)) => failed(e),
                },
            ),
            Io::Read(Read::Counts) => Some(
                self.counts()
                    .await
                    .unwrap_or_else(|e| Input::ReadFailed(e.to_string())),
            ),
            Io::Push { batch, key } => Some(self.push(&batch, &key).await),
            Io::Pull { limit, ahead } => Some(self.pull(store, limit, ahead).await),
            Io::Commit(ops) => match store.commit(&ops).await {
                Ok(_) => None,
                Err(e) => Some(Input::Committed(Err(e.to_string()))),
            },
            Io::Worker(message) => {
                worker_link::send(&message);
                None
            }
            Io::BackgroundSync => {
                worker_link::ask_for_background_sync();
                None
            }
            Io::Invalidate(keys) => {
                for key in keys {
                    self.0.client.invalidate(prefix(key));
                }
                None
            }
            Io::Tabs(notice) => {
                self.tell_tabs(&notice);
                None
            }
            Io::Changed(cases) => {
                self.cases_touched(&cases);
                self.0.status.revision.update(|r| *r += 1);
                None
            }
            Io::Notify(text) => {
                self.notify(text);
                None
            }
            Io::Revoked(cases) => {
                // The list kept for the next start may name them.
                crate::peek::forget();
                for case in cases {
                    self.0
                        .client
                        .remove(prefix(casefile_core::query::QueryKey::new([
                            "cases",
                            case.as_str(),
                        ])));
                }
                wasm_bindgen_futures::spawn_local(crate::session::clear_cached_answers());
                None
            }
        }
    }

    /// This device's events that another path holds: queued in the worker
    /// or dead-lettered there.
    async fn elsewhere(&self) -> Result<Vec<DomainEvent>, crate::store::StoreError> {
        let Ok(store) = self.store() else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for kind in SyncKind::ELSEWHERE {
            out.extend(store.with_status(kind).await?.into_iter().map(|(_, e)| e));
        }
        Ok(out)
    }

    /// Pushes one batch.
    async fn push(&self, batch: &[DomainEvent], key: &str) -> Input {
        let body = PushRequest {
            events: batch
                .iter()
                .map(|e| serde_json::to_value(e).expect("events encode"))
                .collect(),
        };
        let body = serde_json::to_string(&body).expect("requests encode");
        let path = casefile_core::sync::EVENTS_PATH;
        match http::post_json::<PushAnswer>(path, &body, &[("Idempotency-Key", key)]).await {
            Ok(PushAnswer::Done(response)) => Input::Pushed(response),
            Ok(PushAnswer::Queued(q)) => Input::PushQueued { entry: q.queued },
            Err(e) => Input::PushFailed {
                failure: e.failure(),
                message: e.to_string(),
                online: online(),
            },
        }
    }

    /// The pull page at `path`: the answer to the request made ahead for
    /// it, if one was and it is a page, else a new request. An answer
    /// asked for another path is dropped, and so is a failed one (the
    /// network may be back; the failure is the new request's to report).
    /// Once this page's user has left (a sign-out began: `session::owner_left`)
    /// nothing asked ahead is stored: the new request meets the ended session.
    async fn fetch_page(&self, path: &str) -> Result<PullResponse, FetchError> {
        let ahead = self.0.ahead.take();
        if let Some(ahead) = ahead.filter(|a| a.path == path) {
            if let Ok(Ok(page)) = ahead.answer.await {
                if !crate::session::owner_left() {
                    return Ok(page);
                }
            }
        }
        http::get_json(path).await
    }

    /// Asks for the page at `path` now, for the next [`Self::fetch_page`].
    fn fetch_ahead(&self, path: String) {
        let (send, answer) = futures_channel::oneshot::channel();
        let asked = path.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let _ = send.send(http::get_json(&asked).await);
        });
        self.0.ahead.replace(Some(Ahead { path, answer }));
    }

    /// Pulls one page and stores it; with `ahead`, asks for the next page
    /// (if there is one) while this one is stored.
    async fn pull(&self, store: &EventStore, limit: usize, ahead: bool) -> Input {
        let cursors = async {
            Ok::<_, crate::store::StoreError>((store.cursor().await?, store.access_cursor().await?))
        };
        let (after, access_after) = match cursors.await {
            Ok(c) => c,
            Err(e) => {
                return Input::PullFailed {
                    message: e.to_string(),
                    network: false,
                }
            }
        };
        let path = |after: i64, access_after: i64| {
            format!("/api/v1/events?after={after}&access_after={access_after}&limit={limit}")
        };
        let failed = |e: FetchError| Input::PullFailed {
            network: matches!(e, FetchError::Network { .. }),
            message: e.to_string(),
        };
        let page = match self.fetch_page(&path(after, access_after)).await {
            Ok(p) => p,
            Err(e) => return failed(e),
        };
        if let Some((after, access_after)) = ahead
            .then(|| casefile_core::sync::receive::next_page(&page))
            .flatten()
        {
            self.fetch_ahead(path(after, access_after));
        }
        // Granted cases come from their first event (core::sync::access):
        // the pull brought only what was readable then. They are fetched
        // and stored (cursors unmoved) before the page that moves the
        // access cursor past the grant: a backfill that fails, or a tab
        // closed halfway, leaves the grant to be asked for again.
        let mut backfilled = crate::store::Received::default();
        for cases in page
            .granted
            .chunks(casefile_core::sync::access::BACKFILL_CASES)
        {
            let mut from = 0;
            loop {
                let path = format!(
                    "/api/v1/events?after={from}&limit={limit}&cases={}",
                    cases.join(",")
                );
                let back: PullResponse = match http::get_json(&path).await {
                    Ok(p) => p,
                    Err(e) => return failed(e),
                };
                match store
                    .receive_from(&back.events, after, after, None, false)
                    .await
                {
                    Ok(more) => {
                        backfilled.aggregates.extend(more.aggregates);
                        backfilled.bad.extend(more.bad);
                    }
                    Err(e) => {
                        return Input::PullFailed {
                            message: e.to_string(),
                            network: false,
                        }
                    }
                }
                match back.events.last() {
                    Some(last) if back.has_more => from = last.seq,
                    _ => break,
                }
            }
        }
        let access = AccessPage {
            revoked: &page.revoked,
            cursor: page.access_cursor,
        };
        let mut got = match store
            .receive_from(
                &page.events,
                after,
                page.next_cursor,
                Some(access),
                !page.has_more,
            )
            .await
        {
            Ok(got) => got,
            Err(e) => {
                return Input::PullFailed {
                    message: e.to_string(),
                    network: false,
                }
            }
        };
        for case in backfilled.aggregates {
            if !got.aggregates.contains(&case) {
                got.aggregates.push(case);
            }
        }
        got.bad.extend(backfilled.bad);
        Input::Pulled {
            next_cursor: page.next_cursor,
            has_more: page.has_more,
            log_end: page.log_end,
            aggregates: got.aggregates,
            bad: got.bad.len(),
            revoked: got.purged,
            refused: got.refused,
        }
    }
}

/// Checks an event's data before it is stored, as the server will.
fn check(case: &str, data: &EventData) -> Result<(), SyncError> {
    if uuid::Uuid::parse_str(case).is_err() {
        return Err(SyncError::NotACase);
    }
    Ok(data.validate()?)
}

/// What the driver could not do for a page, in words a person reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncError {
    /// The change breaks a rule (the same the server checks).
    #[error(transparent)]
    Invalid(#[from] casefile_core::event::EventError),
    /// The case id is not one (a UUID).
    #[error("aggregate_id: must be a UUID")]
    NotACase,
    /// The store refused or failed (the quota among them).
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The store could not be opened at start.
    #[error("The local event store could not be opened: {0}")]
    Unavailable(crate::store::StoreError),
    /// The event to settle is no longer in the store.
    #[error("that event is gone")]
    Gone,
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
