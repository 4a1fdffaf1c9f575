//! The sync machine, shaped like a sans-IO protocol connection.
//!
//! # Call order
//!
//! 1. Feed what happened with [`SyncMachine::handle`]`(now, input)`: a
//!    trigger, the answer to the last [`Io`] that asks for one, or a worker
//!    message; and, once [`SyncMachine::poll_timeout`] has passed,
//!    [`SyncMachine::handle_timeout`]`(now)`.
//! 2. Drain [`SyncMachine::poll_io`] and carry out each [`Io`] **in order,
//!    one at a time**. An `Io` that asks for an answer ([`Io::Read`],
//!    [`Io::Push`], [`Io::Pull`]) is answered with `handle` before the next
//!    `poll_io`; the others are fire-and-forget ([`Io::Commit`] may answer
//!    an error with [`Input::Committed`]).
//! 3. When `poll_io` is empty, show [`SyncMachine::figures`] and sleep until
//!    `poll_timeout` or the next input.
//!
//! Only one flow (a push and its settlement, a pull, a worker answer) runs
//! at a time; a worker message that arrives during one waits for its end.

use super::state::Change;
use crate::api::{PushRequest, PushResponse, TabNotice};
use crate::event::{
    batch_key, batch_refused, hold_back, next_batch, read_answer, settle, ConflictPolicy,
    DomainEvent, EventData, LocalAction, PushOutcome, Resolution, SyncSchedule, Trigger,
};
use crate::query::QueryKey;
use crate::queue::{missed_answers, DeadLetter, StoredRequest, ToPage, ToWorker, TICK_MS};
use crate::retry::Failure;
use std::collections::VecDeque;

/// Events pulled per request.
pub const PULL_PAGE: usize = 500;
/// Events pulled per request while a new device fills its log (the
/// server's largest page: half the round trips and store transactions).
pub const CATCH_UP_PAGE: usize = 1_000;
/// The driver never sleeps less than this between looks (a timer due now
/// still yields to the browser).
pub const MIN_WAIT_MS: u64 = 50;
/// …nor more (a long sleep is re-checked, e.g. after the machine woke from
/// a suspended tab).
pub const MAX_WAIT_MS: u64 = 60_000;
/// Why a dead-lettered event is refused when its letter is gone from the
/// worker and no page heard it discarded.
pub const DISCARDED_UNHEARD: &str =
    "discarded by you (its dead letter is no longer in this device's queue)";
/// The path of an event push.
pub const EVENTS_PATH: &str = "/api/v1/events";

/// The queries a change to any case makes stale (as key prefixes): every
/// case list and case page, and the dashboard's counts. The machine
/// invalidates them after its own changes; the driver after a change
/// another tab reports.
pub fn queries_a_change_touches() -> [QueryKey; 2] {
    [QueryKey::new(["cases"]), QueryKey::new(["dashboard"])]
}

/// How long to sleep from `now` until `at`, within the driver's bounds.
pub fn clamp_wait(at: u64, now: u64) -> u64 {
    at.saturating_sub(now).clamp(MIN_WAIT_MS, MAX_WAIT_MS)
}

/// Whether a trigger should also ask the service worker to replay its
/// queue at once (any tab sends it: the worker is shared).
pub fn wakes_worker(trigger: Trigger) -> bool {
    matches!(
        trigger,
        Trigger::Start | Trigger::Online | Trigger::Focus | Trigger::LiveUp | Trigger::SyncNow
    )
}

/// What a tab that does not sync does with a worker message (only the
/// syncing tab's machine hears them): a change of the worker's queue
/// (anything but its figures and listing, which every tab shows as they
/// come) means the store may have changed under it, so it asks the worker
/// for a listing and re-reads its own figures.
pub fn follower_rereads(message: &ToPage) -> bool {
    !matches!(message, ToPage::Stats { .. } | ToPage::Listing { .. })
}

/// Whether `url` (absolute, or a path) is an event push.
pub fn is_event_push(url: &str) -> bool {
    let path = match url.find("://") {
        Some(i) => url[i + 3..].find('/').map_or("/", |j| &url[i + 3 + j..]),
        None => url,
    };
    let path = path.split(['?', '#']).next().unwrap_or_default();
    path == EVENTS_PATH
}

/// The events inside a dead letter (empty for a letter that is not an
/// event push, or whose body does not read).
pub fn letter_events(letter: &DeadLetter) -> Vec<DomainEvent> {
    request_events(&letter.request)
}

/// What a dead letter's events show as the reason they wait.
fn dead_reason(letter: &DeadLetter) -> String {
    format!("{} ({})", letter.reason, letter.excerpt)
}

/// The events inside a stored request (empty for one that is not an event
/// push, or whose body does not read).
pub fn request_events(request: &StoredRequest) -> Vec<DomainEvent> {
    if !is_event_push(&request.url) {
        return Vec::new();
    }
    serde_json::from_str::<PushRequest>(&request.body)
        .map(|r| {
            r.events
                .into_iter()
                .filter_map(|v| serde_json::from_value(v).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// One change to the event store. A [`Io::Commit`] applies its operations
/// in **one** transaction: all of them or none.
#[derive(Debug, Clone, PartialEq)]
pub enum StoreOp {
    /// Append a new event of this device (clock ticked, based on the case's
    /// known version, sealed, pending).
    Append {
        /// The case.
        case: String,
        /// What it says.
        data: EventData,
        /// The event it replaces or answers, if any.
        caused_by: Option<String>,
    },
    /// Apply a change to a stored event (by [`super::SyncState::apply`]).
    Mark {
        /// The event.
        id: String,
        /// What happened to it.
        change: Change,
    },
}

fn marks(events: &[DomainEvent], change: &Change) -> Vec<StoreOp> {
    events
        .iter()
        .map(|e| StoreOp::Mark {
            id: e.id.clone(),
            change: change.clone(),
        })
        .collect()
}

/// What the person's decision on a parked conflict writes: `data` (the
/// fields they chose) as a new event in its place, or nothing new (`None`
/// keeps the server's), and the parked event set aside — in one commit.
pub fn resolve_ops(parked: &DomainEvent, data: Option<EventData>) -> Vec<StoreOp> {
    let mut ops = Vec::new();
    if let Some(data) = data {
        ops.push(StoreOp::Append {
            case: parked.aggregate_id.clone(),
            data,
            caused_by: Some(parked.id.clone()),
        });
    }
    ops.push(StoreOp::Mark {
        id: parked.id.clone(),
        change: Change::Overruled("resolved by you".into()),
    });
    ops
}

/// What the person's Retry on a dead letter writes: its events count as
/// queued under the letter's entry again.
pub fn retry_ops(letter: &DeadLetter) -> Vec<StoreOp> {
    marks(
        &letter_events(letter),
        &Change::Queued(letter.request.id.clone()),
    )
}

/// A read of the event store the machine needs before it can go on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Read {
    /// Pending events and those another path holds: answer
    /// [`Input::Pending`].
    Pending,
    /// These events (those still stored), and those another path holds:
    /// answer [`Input::Events`].
    Events(Vec<String>),
    /// Every event queued in the worker, with its entry, and every event
    /// dead-lettered there: answer [`Input::Queued`].
    Queued,
    /// The figures: answer [`Input::Counts`].
    Counts,
}

/// What the driver must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Io {
    /// Read the store and answer.
    Read(Read),
    /// `POST` this batch to [`EVENTS_PATH`] with this `Idempotency-Key`;
    /// answer [`Input::Pushed`], [`Input::PushQueued`] or
    /// [`Input::PushFailed`].
    Push {
        /// The events, in stamp order.
        batch: Vec<DomainEvent>,
        /// The batch's idempotency key.
        key: String,
    },
    /// `GET` a page of events after the **store's** cursor, store it (the
    /// receive rule), and answer [`Input::Pulled`] or
    /// [`Input::PullFailed`]. The store's cursor is the truth: a record set
    /// aside as damaged moves it back to 0, so the server's good copy comes
    /// again.
    Pull {
        /// The page size.
        limit: usize,
        /// Whether the page after this one may be fetched while this one
        /// is stored (a first catch-up, pulling page after page): its
        /// request goes out at once, and the next `Pull` uses its answer
        /// if it asks for the same page (the store's cursor did not move
        /// otherwise), else drops it.
        ahead: bool,
    },
    /// Apply these operations in one transaction.
    Commit(Vec<StoreOp>),
    /// Tell the service worker.
    Worker(ToWorker),
    /// Ask the browser to wake the worker when connectivity returns.
    BackgroundSync,
    /// Refetch the queries under these key prefixes.
    Invalidate(Vec<QueryKey>),
    /// Tell the other tabs.
    Tabs(TabNotice),
    /// The store changed for these cases (maybe none): re-read local views.
    Changed(Vec<String>),
    /// Tell the person (a toast).
    Notify(String),
    /// These cases are no longer readable here: drop their queries and
    /// every cached answer that may show them (the store already purged
    /// them).
    Revoked(Vec<String>),
}

/// What happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// Something that may make a push or pull due.
    Trigger(Trigger),
    /// The answer to [`Read::Pending`].
    Pending {
        /// Events waiting to be pushed by the page.
        unsynced: Vec<DomainEvent>,
        /// This device's events another path holds (queued in the worker
        /// or dead-lettered there).
        elsewhere: Vec<DomainEvent>,
    },
    /// The answer to [`Read::Events`].
    Events {
        /// The events asked for that are stored.
        events: Vec<DomainEvent>,
        /// As for [`Input::Pending`].
        elsewhere: Vec<DomainEvent>,
    },
    /// The answer to [`Read::Queued`].
    Queued {
        /// `(event id, worker entry)` of the events marked queued.
        queued: Vec<(String, String)>,
        /// The ids of the events marked dead-lettered.
        dead: Vec<String>,
    },
    /// The answer to [`Read::Counts`].
    Counts {
        /// Events pending (the page pushes them).
        pending: usize,
        /// Events not on the server yet but meant to be.
        waiting: usize,
        /// Events that need the person.
        attention: usize,
    },
    /// The server answered the push.
    Pushed(PushResponse),
    /// The worker took the push into its queue under this entry.
    PushQueued {
        /// The entry.
        entry: String,
    },
    /// The push failed.
    PushFailed {
        /// How.
        failure: Failure,
        /// In words.
        message: String,
        /// The browser's belief about the network.
        online: bool,
    },
    /// A page was pulled and stored.
    Pulled {
        /// The server's cursor after it.
        next_cursor: i64,
        /// More pages wait.
        has_more: bool,
        /// The log's end when the page was read (0: not told).
        log_end: i64,
        /// Cases that got events new to this device.
        aggregates: Vec<String>,
        /// Events that failed verification and were set aside.
        bad: usize,
        /// Cases purged from the store: their reader lost access
        /// ([`super::access`]).
        revoked: Vec<String>,
        /// Unsent events of those cases, kept and refused.
        refused: usize,
    },
    /// The pull failed.
    PullFailed {
        /// In words.
        message: String,
        /// Only the network was missing (not shown as an error).
        network: bool,
    },
    /// A commit failed (it changed nothing).
    Committed(Result<(), String>),
    /// A [`Read`] failed: the flow that asked stops and is tried again.
    ReadFailed(String),
    /// The service worker said something.
    Worker(ToPage),
}

/// What the status bar and the sync center show.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Figures {
    /// Events not on the server yet but meant to be.
    pub waiting: usize,
    /// Events that need the person.
    pub attention: usize,
    /// A push or pull is running.
    pub syncing: bool,
    /// When the last push went through (ms).
    pub last_push: Option<u64>,
    /// When the last pull went through (ms).
    pub last_pull: Option<u64>,
    /// The last sync error, in words (cleared by a success).
    pub error: Option<String>,
    /// The worker's queued writes, as last heard.
    pub worker_queued: usize,
    /// How far a new device's first catch-up has come (percent of the
    /// server's log), while it runs: the list says it is still arriving.
    pub catching_up: Option<u8>,
}

/// How far a catch-up at `cursor` of a log ending at `end` has come, in
/// percent: 99 at most until it is done (the end moves as others write).
pub fn catch_up_percent(cursor: i64, end: i64) -> u8 {
    if end <= 0 {
        return 0;
    }
    // In floating point: no 128-bit division in the app's wasm.
    ((cursor.clamp(0, end) as f64 / end as f64 * 100.0) as u8).min(99)
}

/// Where a push answer came from: what follows its settlement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum After {
    /// The page's own push: count what may still be sent.
    Push,
    /// A worker's replay: what waited behind it may go now.
    Worker,
}

type Conflicts = Vec<(String, Vec<String>)>;

/// The flow waiting for an answer.
#[derive(Debug, Clone, Default, PartialEq)]
enum Busy {
    #[default]
    Idle,
    /// Reading the store's figures at start.
    Starting,
    /// Reading what to push.
    Loading,
    /// The batch is on its way.
    Pushing {
        batch: Vec<DomainEvent>,
        elsewhere: Vec<DomainEvent>,
    },
    /// Pulling every page before settling conflicts (the colliding events
    /// must be here).
    CatchingUp {
        conflicts: Conflicts,
        cases: Vec<String>,
        after: After,
    },
    /// Reading the conflicted events and those they collided with.
    Settling {
        conflicts: Conflicts,
        cases: Vec<String>,
        after: After,
    },
    /// Reading what may still be sent after an answered push.
    Counting,
    /// A scheduled pull.
    Pulling,
    /// Reading the events a worker's replayed answer names.
    ReadingAnswer { response: PushResponse },
    /// Reading the events marked queued or dead, against the worker's
    /// listing: its entries and letters, and every event in them.
    ReadingQueued {
        listed: Vec<String>,
        held: Vec<String>,
    },
}

/// The sync engine's rules: one per syncing tab.
#[derive(Debug, Clone)]
pub struct SyncMachine {
    schedule: SyncSchedule,
    busy: Busy,
    out: VecDeque<Io>,
    deferred: VecDeque<ToPage>,
    figures: Figures,
    policy: ConflictPolicy,
    /// The log started empty and the first catch-up is still running.
    filling: bool,
    /// The next nudge of the worker while it holds writes.
    next_tick: u64,
    /// Events wait behind their case's earlier events held elsewhere (the
    /// worker's queue, the dead letters): look again whenever those may
    /// have settled, by whatever road.
    held_back: bool,
    /// A discarded dead letter's events may also sit in another queued
    /// entry: no push starts until the worker's listing says (at most until
    /// the next tick).
    listing_owed: bool,
    now: u64,
    rng: u64,
}

impl SyncMachine {
    /// A machine at `now`, with the store's pull cursor; `seed` feeds the
    /// backoff jitter. Nothing happens before [`Trigger::Start`].
    pub fn new(now: u64, online: bool, cursor: i64, seed: u64) -> Self {
        SyncMachine {
            schedule: SyncSchedule::new(now, online, 0, cursor),
            // Until `Start`, nothing is due: the tab may not hold the lock.
            busy: Busy::Starting,
            out: VecDeque::new(),
            deferred: VecDeque::new(),
            figures: Figures::default(),
            policy: ConflictPolicy::Merge,
            filling: cursor == 0,
            next_tick: now + TICK_MS,
            held_back: false,
            listing_owed: false,
            now,
            rng: seed | 1,
        }
    }

    /// How this device settles conflicts from now on.
    pub fn set_policy(&mut self, policy: ConflictPolicy) {
        self.policy = policy;
    }

    /// The figures to show.
    pub fn figures(&self) -> &Figures {
        &self.figures
    }

    /// A log whose first catch-up once reached the server's end (the store
    /// keeps the mark) is not filling, even at cursor 0: the log of a server
    /// that had no events then ends at 0 too.
    #[must_use]
    pub fn caught_up_once(mut self, done: bool) -> Self {
        self.filling &= !done;
        self
    }

    /// Whether the log started empty and its first catch-up still runs
    /// (the case list waits for a complete copy).
    pub fn filling(&self) -> bool {
        self.filling
    }

    /// The schedule (for tests and the performance panel).
    pub fn schedule(&self) -> &SyncSchedule {
        &self.schedule
    }

    /// The next thing to do, if any.
    pub fn poll_io(&mut self) -> Option<Io> {
        self.out.pop_front()
    }

    /// When to call [`handle_timeout`](Self::handle_timeout), absolute ms;
    /// `None` while a flow waits for an answer.
    pub fn poll_timeout(&self) -> Option<u64> {
        if self.busy != Busy::Idle {
            return None;
        }
        let wake = if self.listing_owed {
            // The push waits for the listing; a pull may still go.
            self.schedule.pull_at()
        } else {
            self.schedule.next_wake()
        };
        Some(wake.min(self.next_tick))
    }

    /// Time passed to `now`.
    pub fn handle_timeout(&mut self, now: u64) {
        self.now = now;
        if now >= self.next_tick {
            // A sleeping worker's own timers are gone: while it holds
            // writes, ask it to look.
            if self.figures.worker_queued > 0 {
                self.out.push_back(Io::Worker(ToWorker::ReplayNow));
            }
            self.next_tick = now + TICK_MS;
            if self.listing_owed {
                // The listing never came: go on without it.
                self.listing_owed = false;
                self.schedule.trigger(Trigger::Appended, now);
            }
            if self.held_back {
                self.schedule.trigger(Trigger::Appended, now);
            }
        }
        self.step();
    }

    /// Something happened at `now`.
    pub fn handle(&mut self, now: u64, input: Input) {
        self.now = now;
        match input {
            Input::Trigger(Trigger::Start) if self.busy == Busy::Starting => {
                self.out.push_back(Io::Worker(ToWorker::List));
                self.out.push_back(Io::Read(Read::Counts));
            }
            Input::Trigger(t) => {
                if t == Trigger::Appended {
                    // The header counts it at once, online or not.
                    self.out.push_back(Io::Read(Read::Counts));
                }
                self.schedule.trigger(t, now)
            }
            Input::Counts {
                pending,
                waiting,
                attention,
            } => {
                self.figures.waiting = waiting;
                self.figures.attention = attention;
                if self.busy == Busy::Starting {
                    // Whatever this or another tab appended before.
                    self.schedule.set_pending(pending, now);
                    self.schedule.trigger(Trigger::Start, now);
                    self.busy = Busy::Idle;
                }
            }
            Input::Committed(Err(e)) => self.figures.error = Some(e),
            Input::ReadFailed(e) => {
                // The flow cannot go on: it is tried again later.
                if matches!(self.busy, Busy::Loading | Busy::Counting) {
                    let jitter = self.jitter();
                    let online = self.schedule.online();
                    self.schedule.push_done(
                        PushOutcome::Failed(Failure::Network),
                        now,
                        online,
                        jitter,
                    );
                }
                if self.busy != Busy::Starting {
                    self.busy = Busy::Idle;
                }
                self.figures.error = Some(e);
            }
            Input::Committed(Ok(())) => {}
            Input::Worker(ToPage::Stats { stats }) => self.figures.worker_queued = stats.queued,
            Input::Worker(message) if self.busy != Busy::Idle => self.deferred.push_back(message),
            Input::Worker(message) => self.on_worker(message),
            answer => self.answered(answer),
        }
        self.step();
    }

    /// Starts what is due when no flow runs.
    fn step(&mut self) {
        while self.busy == Busy::Idle {
            if let Some(message) = self.deferred.pop_front() {
                self.on_worker(message);
                continue;
            }
            let due = self.schedule.due(self.now);
            if due.push && !self.listing_owed {
                self.figures.syncing = true;
                self.busy = Busy::Loading;
                self.out.push_back(Io::Read(Read::Pending));
            } else if due.pull {
                self.figures.syncing = true;
                self.busy = Busy::Pulling;
                self.pull();
            } else if self.figures.syncing {
                // A round ended: the other tabs' headers follow.
                self.figures.syncing = false;
                self.out.push_back(Io::Tabs(TabNotice::Status {
                    pending: self.figures.waiting,
                    last_push: self.figures.last_push,
                    last_pull: self.figures.last_pull,
                    error: self.figures.error.clone(),
                }));
                return;
            } else {
                return;
            }
        }
    }

    fn jitter(&mut self) -> f64 {
        // xorshift64: jitter needs spread, not secrecy.
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        (x >> 11) as f64 / (1u64 << 53) as f64
    }

    fn pull(&mut self) {
        let limit = if self.filling {
            CATCH_UP_PAGE
        } else {
            PULL_PAGE
        };
        self.out.push_back(Io::Pull {
            limit,
            ahead: self.filling,
        });
    }

    fn commit(&mut self, ops: Vec<StoreOp>) {
        if !ops.is_empty() {
            self.out.push_back(Io::Commit(ops));
        }
    }

    fn notify(&mut self, text: String) {
        self.out.push_back(Io::Notify(text));
    }

    /// These cases changed in the store: re-read, refetch, tell the tabs.
    fn changed(&mut self, mut cases: Vec<String>) {
        cases.sort();
        cases.dedup();
        if cases.is_empty() {
            return;
        }
        self.out.push_back(Io::Changed(cases.clone()));
        self.out
            .push_back(Io::Invalidate(queries_a_change_touches().to_vec()));
        self.out
            .push_back(Io::Tabs(TabNotice::Changed { aggregates: cases }));
    }

    fn answered(&mut self, input: Input) {
        let now = self.now;
        match (std::mem::take(&mut self.busy), input) {
            (
                Busy::Loading,
                Input::Pending {
                    unsynced,
                    elsewhere,
                },
            ) => {
                // Per-case order across paths: an event waits while an
                // earlier one of its case is held elsewhere.
                let (sendable, held) = hold_back(unsynced, &elsewhere);
                self.held_back = held > 0;
                if sendable.is_empty() {
                    self.schedule.set_pending(0, now);
                    self.out.push_back(Io::Read(Read::Counts));
                    return;
                }
                let batch: Vec<DomainEvent> = next_batch(&sendable).into_iter().cloned().collect();
                let key = batch_key(&batch.iter().collect::<Vec<_>>());
                self.out.push_back(Io::Push {
                    batch: batch.clone(),
                    key,
                });
                self.busy = Busy::Pushing { batch, elsewhere };
            }
            (Busy::Pushing { batch, elsewhere }, Input::Pushed(response)) => {
                self.figures.error = None;
                self.apply_answer(&batch, &response, &elsewhere, After::Push);
            }
            (Busy::Pushing { batch, .. }, Input::PushQueued { entry }) => {
                // The worker replays it; its `Synced` message brings the
                // answer.
                self.commit(marks(&batch, &Change::Queued(entry)));
                self.out.push_back(Io::BackgroundSync);
                self.count_remaining();
            }
            (
                Busy::Pushing { batch, .. },
                Input::PushFailed {
                    failure,
                    message,
                    online,
                },
            ) => {
                if batch_refused(&failure) {
                    // Sending it again cannot help: its events leave the
                    // view and stay listed.
                    let reason = format!("the server refused the batch: {message}");
                    self.notify(format!("Changes were refused and undone: {message}"));
                    self.commit(marks(&batch, &Change::Refused(reason.clone())));
                    self.figures.error = Some(reason);
                    self.changed(batch.iter().map(|e| e.aggregate_id.clone()).collect());
                    self.count_remaining();
                } else {
                    self.commit(marks(&batch, &Change::Attempted(message.clone())));
                    let jitter = self.jitter();
                    self.schedule
                        .push_done(PushOutcome::Failed(failure), now, online, jitter);
                    self.figures.error = Some(message);
                    self.out.push_back(Io::Read(Read::Counts));
                }
            }
            (
                Busy::Counting,
                Input::Pending {
                    unsynced,
                    elsewhere,
                },
            ) => {
                let (sendable, held) = hold_back(unsynced, &elsewhere);
                let remaining = sendable.len();
                self.held_back = held > 0;
                let jitter = self.jitter();
                let online = self.schedule.online();
                self.schedule
                    .push_done(PushOutcome::Answered { remaining }, now, online, jitter);
                self.figures.last_push = Some(now);
                self.out.push_back(Io::Read(Read::Counts));
            }
            (Busy::Pulling, pulled @ (Input::Pulled { .. } | Input::PullFailed { .. })) => {
                self.on_pulled(pulled);
            }
            (
                Busy::CatchingUp {
                    conflicts,
                    cases,
                    after,
                },
                pulled @ (Input::Pulled { .. } | Input::PullFailed { .. }),
            ) => {
                if self.on_pulled(pulled) {
                    self.busy = Busy::CatchingUp {
                        conflicts,
                        cases,
                        after,
                    };
                    self.pull();
                } else {
                    let ids = conflicts
                        .iter()
                        .flat_map(|(mine, theirs)| std::iter::once(mine).chain(theirs))
                        .cloned()
                        .collect();
                    self.out.push_back(Io::Read(Read::Events(ids)));
                    self.busy = Busy::Settling {
                        conflicts,
                        cases,
                        after,
                    };
                }
            }
            (
                Busy::Settling {
                    conflicts,
                    cases,
                    after,
                },
                Input::Events { events, .. },
            ) => {
                for (id, theirs) in conflicts {
                    let ops = self.settlement(&id, &theirs, &events);
                    self.commit(ops);
                }
                self.finish(cases, after);
            }
            (Busy::ReadingAnswer { response }, Input::Events { events, elsewhere }) => {
                self.apply_answer(&events, &response, &elsewhere, After::Worker);
            }
            (Busy::ReadingQueued { listed, held }, Input::Queued { queued, dead }) => {
                let listed: Vec<&str> = listed.iter().map(String::as_str).collect();
                let pairs = queued.iter().map(|(e, q)| (e.as_str(), q.as_str()));
                let mut ops: Vec<StoreOp> = missed_answers(pairs, &listed, now)
                    .into_iter()
                    .map(|(event, entry)| StoreOp::Mark {
                        id: event.to_string(),
                        change: Change::Unqueued(entry.to_string()),
                    })
                    .collect();
                // A dead-lettered event the worker no longer holds anywhere:
                // its letter was discarded while no page heard it (a closed
                // tab). It was the person's choice; a letter retried and
                // delivered instead comes back synced with the next pull.
                ops.extend(dead.into_iter().filter(|id| !held.contains(id)).map(|id| {
                    StoreOp::Mark {
                        id,
                        change: Change::Discarded(DISCARDED_UNHEARD.to_string()),
                    }
                }));
                let owed = std::mem::take(&mut self.listing_owed);
                let missed = !ops.is_empty();
                if missed {
                    // Their answer came while no tab led: they go again.
                    self.commit(ops);
                    self.out.push_back(Io::Read(Read::Counts));
                }
                if owed || missed {
                    self.schedule.trigger(Trigger::Appended, now);
                }
            }
            (busy, input) => {
                // An answer to nothing asked (a bug in the driver): keep
                // the flow that waits, drop the stray answer.
                debug_assert!(false, "unexpected {input:?} while {busy:?}");
                self.busy = busy;
            }
        }
    }

    fn count_remaining(&mut self) {
        self.busy = Busy::Counting;
        self.out.push_back(Io::Read(Read::Pending));
    }

    /// Applies a pulled page's report; true when more pages wait.
    fn on_pulled(&mut self, pulled: Input) -> bool {
        let now = self.now;
        match pulled {
            Input::Pulled {
                next_cursor,
                has_more,
                log_end,
                mut aggregates,
                bad,
                revoked,
                refused,
            } => {
                if !revoked.is_empty() {
                    self.out.push_back(Io::Revoked(revoked.clone()));
                    aggregates.extend(revoked);
                    if refused > 0 {
                        self.out.push_back(Io::Notify(format!(
                            "{refused} unsent {} refused: {}. {} in the Sync center to copy.",
                            if refused == 1 {
                                "change was"
                            } else {
                                "changes were"
                            },
                            super::access::NO_ACCESS,
                            if refused == 1 { "It is" } else { "They are" },
                        )));
                        self.out.push_back(Io::Read(Read::Counts));
                    }
                }
                if bad > 0 {
                    self.figures.error = Some(format!(
                        "{bad} events from the server failed verification and were set aside"
                    ));
                }
                self.schedule.pull_done(Some((next_cursor, has_more)), now);
                self.figures.last_pull = Some(now);
                if self.held_back && !aggregates.is_empty() {
                    // What held them may have come back synced.
                    self.schedule.trigger(Trigger::Appended, now);
                }
                // The first catch-up of an empty log (all its pages) only
                // fills this device's log with what the server's answers
                // already show; later pulls bring changes the cached
                // queries have not seen.
                let first_fill = self.filling;
                if !has_more {
                    self.filling = false;
                }
                self.figures.catching_up =
                    (first_fill && has_more).then(|| catch_up_percent(next_cursor, log_end));
                if first_fill {
                    self.out.push_back(Io::Changed(aggregates));
                } else {
                    self.changed(aggregates);
                }
                has_more
            }
            Input::PullFailed { message, network } => {
                self.schedule.pull_done(None, now);
                if !network {
                    self.figures.error = Some(message);
                }
                false
            }
            _ => false,
        }
    }

    /// Reads a push answer for `sent` and writes what it means; conflicts
    /// wait for a catch-up pull and are settled after it.
    fn apply_answer(
        &mut self,
        sent: &[DomainEvent],
        response: &PushResponse,
        elsewhere: &[DomainEvent],
        after: After,
    ) {
        let refs: Vec<&DomainEvent> = sent.iter().collect();
        let mut changes = Vec::new();
        let mut conflicts = Vec::new();
        let mut refused = Vec::new();
        for action in read_answer(&refs, response, elsewhere) {
            match action {
                LocalAction::MarkSynced { id, version } => changes.push((
                    version.max(0) as u64,
                    id,
                    Change::Synced(version.max(0) as u64),
                )),
                LocalAction::Reject { id, reason } => {
                    refused.push(reason.clone());
                    changes.push((0, id, Change::Refused(reason)))
                }
                LocalAction::Conflict { id, theirs, .. } => conflicts.push((id, theirs)),
                LocalAction::Wait { id, reason } => changes.push((0, id, Change::Wait(reason))),
                LocalAction::Retry { .. } => {}
            }
        }
        // A case's known version moves one answer at a time, lowest first.
        changes.sort_by_key(|(v, _, _)| *v);
        self.commit(
            changes
                .into_iter()
                .map(|(_, id, change)| StoreOp::Mark { id, change })
                .collect(),
        );
        if let Some(first) = refused.first() {
            let more = match refused.len() {
                1 => String::new(),
                n => format!(" ({} more refused; see the sync center)", n - 1),
            };
            self.notify(format!(
                "The server refused a change, so it was undone: {first}{more}"
            ));
        }
        let cases = sent.iter().map(|e| e.aggregate_id.clone()).collect();
        if conflicts.is_empty() {
            self.finish(cases, after);
        } else {
            self.busy = Busy::CatchingUp {
                conflicts,
                cases,
                after,
            };
            self.pull();
        }
    }

    /// How one conflicted event settles, against the latest server event
    /// it collided with, as one commit.
    fn settlement(&self, id: &str, theirs_ids: &[String], events: &[DomainEvent]) -> Vec<StoreOp> {
        let Some(mine) = events.iter().find(|e| e.id == id) else {
            return Vec::new();
        };
        let latest = events
            .iter()
            .filter(|e| theirs_ids.contains(&e.id))
            .max_by_key(|e| e.stamp());
        let Some(latest) = latest else {
            // Not pulled yet: it stays pending and is tried again.
            return Vec::new();
        };
        let mark = |change| StoreOp::Mark {
            id: mine.id.clone(),
            change,
        };
        let replace = |data: EventData, why: &str| {
            vec![
                StoreOp::Append {
                    case: mine.aggregate_id.clone(),
                    data,
                    caused_by: Some(mine.id.clone()),
                },
                mark(Change::Overruled(why.into())),
            ]
        };
        match settle(self.policy, mine, latest) {
            Resolution::Overrule => vec![mark(Change::Overruled(
                "another device changed the same fields later; its change stands".into(),
            ))],
            Resolution::Park => vec![mark(Change::Parked(theirs_ids.to_vec()))],
            Resolution::Rebase(patch) => replace(
                EventData::CaseUpdated(patch),
                "merged with another device's change and sent again",
            ),
            Resolution::Reissue(data) => {
                replace(data, "sent again on top of another device's change")
            }
        }
    }

    /// The end of a push answer's settlement.
    fn finish(&mut self, cases: Vec<String>, after: After) {
        self.changed(cases);
        match after {
            After::Push => self.count_remaining(),
            After::Worker => self.after_worker(true),
        }
    }

    /// After a worker message: what waited behind it may go (`release`),
    /// and the figures and listing are read again.
    fn after_worker(&mut self, release: bool) {
        if release {
            self.schedule.trigger(Trigger::Appended, self.now);
        }
        self.out.push_back(Io::Worker(ToWorker::List));
        self.out.push_back(Io::Read(Read::Counts));
        self.out.push_back(Io::Changed(Vec::new()));
    }

    /// What a worker message means for the store (only the syncing tab's
    /// machine hears them).
    fn on_worker(&mut self, message: ToPage) {
        match message {
            ToPage::Stats { stats } => self.figures.worker_queued = stats.queued,
            ToPage::Listing { queued, dead, .. } => {
                // An event in a queued entry's body is on its way from
                // there, whatever this page believed (a re-push it never
                // heard of, a copy discarded from the dead letters).
                // The worker computes a listing and posts it before any
                // later change of its queue is told, so it is never stale.
                let held: Vec<StoreOp> = queued
                    .iter()
                    .flat_map(|q| marks(&request_events(q), &Change::Listed(q.id.clone())))
                    .chain(dead.iter().flat_map(|d| {
                        marks(&letter_events(d), &Change::ListedDead(dead_reason(d)))
                    }))
                    .collect();
                if !held.is_empty() {
                    self.commit(held);
                    self.out.push_back(Io::Read(Read::Counts));
                }
                let listed = queued
                    .iter()
                    .map(|q| q.id.clone())
                    .chain(dead.iter().map(|d| d.request.id.clone()))
                    .collect();
                let held = queued
                    .iter()
                    .flat_map(request_events)
                    .chain(dead.iter().flat_map(letter_events))
                    .map(|e| e.id)
                    .collect();
                self.busy = Busy::ReadingQueued { listed, held };
                self.out.push_back(Io::Read(Read::Queued));
            }
            ToPage::Queued { .. } | ToPage::RetryScheduled { .. } => self.after_worker(false),
            ToPage::Synced { url, body, .. } if is_event_push(&url) => {
                match serde_json::from_str::<PushResponse>(&body) {
                    Ok(response) => {
                        let ids = response.results.iter().map(|r| r.id.clone()).collect();
                        self.busy = Busy::ReadingAnswer { response };
                        self.out.push_back(Io::Read(Read::Events(ids)));
                    }
                    // Unreadable: the events stay queued; the listing
                    // (`missed_answers`) sends them again if the entry is
                    // gone.
                    Err(_) => self.after_worker(true),
                }
            }
            ToPage::Synced { .. } => self.after_worker(false),
            ToPage::DeadLettered { letter } => {
                let events = letter_events(&letter);
                self.notify(format!(
                    "A change could not be delivered: {}. Retry or discard it in the sync center.",
                    letter.reason
                ));
                self.commit(marks(&events, &Change::Dead(dead_reason(&letter))));
                self.changed(events.iter().map(|e| e.aggregate_id.clone()).collect());
                self.after_worker(false);
            }
            ToPage::Discarded { letter } => {
                let events = letter_events(&letter);
                let reason = format!("discarded by you: {}", letter.reason);
                self.commit(marks(&events, &Change::Discarded(reason)));
                self.changed(events.iter().map(|e| e.aggregate_id.clone()).collect());
                // What waited behind them goes once the listing has shown
                // whether another entry still carries them.
                self.listing_owed = true;
                self.after_worker(false);
            }
        }
    }
}

#[cfg(test)]
mod tests;
