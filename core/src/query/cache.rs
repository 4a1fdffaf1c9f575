//! The query cache as a sans-IO state machine (TanStack Query semantics).
//!
//! Call order, for an adapter:
//! 1. feed inputs with [`QueryCache::dispatch`] (`now` in wall-clock ms):
//!    subscriptions, fetch results, focus/online changes, imperative calls, and
//!    [`Action::Tick`] when the deadline from [`QueryCache::poll_timeout`] passes;
//! 2. drain [`QueryCache::poll_effect`] and carry each effect out: start or
//!    abort a fetch, refresh the observers of a key, forget a key;
//! 3. re-arm one timer at [`QueryCache::poll_timeout`].
//!
//! The cache never reads the clock, never sleeps and never does I/O; data `D`
//! and errors `E` are opaque to it (`D: PartialEq` lets it skip notifying when
//! a refetch brings equal data).

use super::key::{KeyHash, QueryKey};
use super::metrics::QueryMetrics;
use super::mutation::Saved;
use crate::retry::{Failure, RetryDecision, RetryPolicy};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

/// Identifies one observer (a mounted `use_query`).
pub type ObserverId = u64;
/// Identifies one network request the adapter runs for the cache.
pub type FetchId = u64;

/// Five minutes: how long data stays fresh by default.
pub const DEFAULT_STALE_TIME_MS: u64 = 5 * 60 * 1000;
/// Ten minutes: how long an unobserved query is kept by default.
pub const DEFAULT_GC_TIME_MS: u64 = 10 * 60 * 1000;

/// How one observer wants its query to behave.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QueryOptions {
    /// Data younger than this is fresh and not refetched. Defaults to 5 min.
    pub stale_time_ms: u64,
    /// An unobserved query is dropped after this. Defaults to 10 min.
    pub gc_time_ms: u64,
    /// When a failed fetch is retried. Defaults to [`RetryPolicy::QUERY`].
    pub retry: RetryPolicy,
    /// Refetch stale data when a component subscribes. Defaults to true.
    pub refetch_on_mount: bool,
    /// Refetch stale data when the window regains focus. Defaults to true.
    pub refetch_on_window_focus: bool,
    /// Refetch stale data when the network returns. Defaults to true.
    pub refetch_on_reconnect: bool,
    /// Refetch every this many ms while observed. Defaults to none.
    pub refetch_interval_ms: Option<u64>,
    /// Keep the interval running while the window is hidden. Defaults to false.
    pub refetch_interval_in_background: bool,
    /// Whether the query may fetch at all (false: a dependent query waiting
    /// for its input). Defaults to true.
    pub enabled: bool,
}

impl Default for QueryOptions {
    fn default() -> Self {
        QueryOptions {
            stale_time_ms: DEFAULT_STALE_TIME_MS,
            gc_time_ms: DEFAULT_GC_TIME_MS,
            retry: RetryPolicy::QUERY,
            refetch_on_mount: true,
            refetch_on_window_focus: true,
            refetch_on_reconnect: true,
            refetch_interval_ms: None,
            refetch_interval_in_background: false,
            enabled: true,
        }
    }
}

/// Whether the query has data, an error, or neither yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryStatus {
    /// No data and no final error yet.
    Pending,
    /// Has data (possibly stale, possibly refetching).
    Success,
    /// The last fetch failed for good (data from earlier may still be there).
    Error,
}

/// Whether a request is under way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchStatus {
    /// Nothing in flight.
    Idle,
    /// A request is in flight or a retry is scheduled.
    Fetching,
    /// A retry waits for the network to return or the page to be shown.
    Paused,
}

/// What observers of a key see.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryState<D, E> {
    /// The last good data.
    pub data: Option<D>,
    /// When `data` arrived (ms); 0 when there is none.
    pub data_updated_at: u64,
    /// The last final error.
    pub error: Option<E>,
    /// When `error` happened (ms).
    pub error_updated_at: u64,
    /// Counted failures of the current fetch (resets when a new fetch starts).
    pub failure_count: u32,
    /// The error of the current fetch's last failure, retried or not
    /// (TanStack's `fetchFailureReason`; cleared when a new fetch starts).
    pub failure_reason: Option<E>,
    /// Data / error / neither.
    pub status: QueryStatus,
    /// In flight / paused / idle.
    pub fetch_status: FetchStatus,
    /// Marked stale by an invalidation, whatever its age.
    pub invalidated: bool,
}

impl<D, E> Default for QueryState<D, E> {
    fn default() -> Self {
        QueryState {
            data: None,
            data_updated_at: 0,
            error: None,
            error_updated_at: 0,
            failure_count: 0,
            failure_reason: None,
            status: QueryStatus::Pending,
            fetch_status: FetchStatus::Idle,
            invalidated: false,
        }
    }
}

/// Which queries an imperative call applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyFilter {
    /// Only this key.
    Exact(QueryKey),
    /// Every key starting with this one (maps match partially).
    Prefix(QueryKey),
    /// Every key.
    All,
}

impl KeyFilter {
    fn matches(&self, key: &QueryKey) -> bool {
        match self {
            KeyFilter::Exact(k) => k == key,
            KeyFilter::Prefix(p) => key.starts_with(p),
            KeyFilter::All => true,
        }
    }
}

/// Which of the invalidated queries refetch at once (TanStack's
/// `refetchType`); the rest are only marked stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RefetchType {
    /// Those with an enabled observer (the default).
    #[default]
    Active,
    /// Those without one that have fetched before.
    Inactive,
    /// Both.
    All,
    /// None: mark stale only.
    None,
}

/// A saved entry, for persistence (see [`Action::Restore`]).
#[derive(Debug, Clone, PartialEq)]
pub struct SavedEntry<D> {
    /// The key.
    pub key: QueryKey,
    /// Its data.
    pub data: D,
    /// When the data arrived (ms).
    pub updated_at: u64,
}

/// Every input the cache reacts to.
#[derive(Debug, Clone)]
pub enum Action<D, E> {
    /// An observer mounts (or changes its options).
    Subscribe {
        /// The key observed.
        key: QueryKey,
        /// Who observes.
        observer: ObserverId,
        /// Its options.
        options: QueryOptions,
    },
    /// An observer unmounts.
    Unsubscribe {
        /// The key it observed.
        key: QueryKey,
        /// Who.
        observer: ObserverId,
    },
    /// Fetch now even if fresh (an observer's `refetch()`): a fetch in
    /// flight for data already shown is cancelled and started again
    /// (TanStack's default `cancelRefetch`); one for a first load, a retry
    /// waiting its turn or a paused fetch is joined.
    Refetch(QueryKey),
    /// `refetch_queries`: [`Action::Refetch`] for every matching query that
    /// is not disabled (observed only by disabled observers, or never
    /// fetched and unobserved); `cancel_refetch: false` joins a fetch in
    /// flight instead.
    RefetchQueries {
        /// Which queries.
        filter: KeyFilter,
        /// Restart a fetch in flight for data already shown.
        cancel_refetch: bool,
    },
    /// A fetch the cache asked for brought data.
    FetchSucceeded {
        /// Which fetch.
        fetch: FetchId,
        /// The data.
        data: D,
    },
    /// A fetch the cache asked for failed.
    FetchFailed {
        /// Which fetch.
        fetch: FetchId,
        /// The error, for observers.
        error: E,
        /// The error, for the retry policy.
        failure: Failure,
        /// A random sample in `[0, 1)` for the policy's jitter.
        jitter: f64,
    },
    /// `set_query_data`: replace a key's data (e.g. an optimistic update).
    SetData {
        /// The key.
        key: QueryKey,
        /// The new data.
        data: D,
    },
    /// Mark matching queries stale; active ones refetch at once, cancelling a
    /// fetch in flight (whose answer may predate the change).
    Invalidate(KeyFilter),
    /// [`Action::Invalidate`] choosing which refetch ([`RefetchType`]).
    InvalidateQueries {
        /// Which queries.
        filter: KeyFilter,
        /// Which of them refetch now.
        refetch_type: RefetchType,
    },
    /// Forget matching queries (aborting their fetches).
    Remove(KeyFilter),
    /// Abort matching fetches and put their state back as it was before.
    Cancel(KeyFilter),
    /// Fetch into the cache without an observer, if not fresh.
    Prefetch {
        /// The key.
        key: QueryKey,
        /// Options for this fetch and its gc time.
        options: QueryOptions,
    },
    /// The window gained (`true`) or lost focus.
    Focus(bool),
    /// The network came back (`true`) or went away.
    Online(bool),
    /// Time passed: run every deadline that is due.
    Tick,
    /// Load saved entries (persistence); existing data is never overwritten.
    Restore(Vec<SavedEntry<D>>),
    /// Put keys back exactly as a mutation saved them (its optimistic change
    /// failed): data, its age and staleness; a key that had no data has none.
    Rollback(Vec<Saved<D>>),
}

/// What the adapter must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Run the fetcher for `key` and report back with `fetch`.
    StartFetch {
        /// Report the result with this id.
        fetch: FetchId,
        /// The key to fetch.
        key: QueryKey,
    },
    /// Abort this request; its result, if any arrives, is ignored anyway.
    AbortFetch(FetchId),
    /// The state of `key` changed; `data_changed` says whether its data did.
    Changed {
        /// The key's hash.
        key: KeyHash,
        /// False when only status fields changed (no re-render of the data).
        data_changed: bool,
    },
    /// The key is gone from the cache.
    Removed(KeyHash),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    Retry,
    Gc,
    Interval,
}

#[derive(Debug, Clone)]
struct Query<D, E> {
    key: QueryKey,
    state: QueryState<D, E>,
    observers: BTreeMap<ObserverId, QueryOptions>,
    /// The options given last (a subscribe or a prefetch): the retry policy,
    /// and the stale time of a query nobody observes.
    fallback: QueryOptions,
    in_flight: Option<(FetchId, u64)>,
    /// The state before the fetch in flight started, for `Cancel`.
    before_fetch: Option<QueryState<D, E>>,
    deadlines: BTreeMap<Timer, u64>,
    /// A retry waits for the network and a visible page (TanStack's
    /// retryer continues only when both hold).
    paused: bool,
    /// The last observer left while retries were pending: the next retry
    /// point gives up with the last failure instead (TanStack's
    /// `cancelRetry`); a new observer continues them.
    retry_cancelled: bool,
    /// The longest gc time any observer, prefetch or set has asked for.
    gc_seen: u64,
}

impl<D, E> Query<D, E> {
    fn new(key: QueryKey, fallback: QueryOptions) -> Self {
        Query {
            key,
            state: QueryState::default(),
            observers: BTreeMap::new(),
            fallback,
            in_flight: None,
            before_fetch: None,
            deadlines: BTreeMap::new(),
            paused: false,
            retry_cancelled: false,
            gc_seen: fallback.gc_time_ms,
        }
    }

    fn options(&self) -> impl Iterator<Item = &QueryOptions> {
        let fallback = self.observers.is_empty().then_some(&self.fallback);
        self.observers.values().chain(fallback)
    }

    fn active(&self) -> bool {
        self.observers.values().any(|o| o.enabled)
    }

    /// The shortest stale time of the enabled observers (a disabled one
    /// asks for nothing), else of the options given last.
    fn stale_time(&self) -> u64 {
        self.observers
            .values()
            .filter(|o| o.enabled)
            .map(|o| o.stale_time_ms)
            .min()
            .unwrap_or(self.fallback.stale_time_ms)
    }

    /// The longest gc time seen (TanStack keeps the longest it was given).
    fn gc_time(&self) -> u64 {
        self.options()
            .map(|o| o.gc_time_ms)
            .chain([self.gc_seen])
            .max()
            .unwrap_or(0)
    }

    fn see(&mut self, options: &QueryOptions) {
        self.gc_seen = self.gc_seen.max(options.gc_time_ms);
    }

    /// A fetch is under way: in flight, waiting to retry, or paused.
    fn busy(&self) -> bool {
        self.in_flight.is_some() || self.deadlines.contains_key(&Timer::Retry) || self.paused
    }

    /// Observed only by disabled observers, or unobserved and never fetched
    /// (TanStack's `isDisabled`): refetch-all leaves it alone.
    fn disabled(&self) -> bool {
        if self.observers.is_empty() {
            self.state.data_updated_at == 0 && self.state.error_updated_at == 0
        } else {
            !self.active()
        }
    }

    /// The retry policy of the options given last (TanStack's query keeps
    /// the latest observer's or fetch's options).
    fn retry(&self) -> RetryPolicy {
        self.fallback.retry
    }

    fn interval(&self, focused: bool) -> Option<u64> {
        self.observers
            .values()
            .filter(|o| o.enabled && (focused || o.refetch_interval_in_background))
            .filter_map(|o| o.refetch_interval_ms)
            // An interval of 0 means none (it would fire forever at once).
            .filter(|every| *every > 0)
            .min()
    }

    fn is_stale(&self, now: u64) -> bool {
        self.stale_after(now, self.stale_time())
    }

    /// Stale for an observer whose stale time is `stale_ms` (each observer
    /// judges by its own, as in TanStack).
    fn stale_after(&self, now: u64, stale_ms: u64) -> bool {
        self.state.data.is_none()
            || self.state.invalidated
            || now >= self.state.data_updated_at.saturating_add(stale_ms)
    }
}

/// The cache: every query by key hash, the platform's focus and online state,
/// the effects waiting for the adapter, and the metrics.
#[derive(Debug)]
pub struct QueryCache<D, E> {
    queries: HashMap<KeyHash, Query<D, E>>,
    /// Every armed deadline, ordered, so the next one is found in O(log n).
    timers: BTreeSet<(u64, Timer, KeyHash)>,
    fetches: HashMap<FetchId, KeyHash>,
    next_fetch: FetchId,
    focused: bool,
    online: bool,
    effects: VecDeque<Effect>,
    now: u64,
    metrics: QueryMetrics,
}

impl<D: Clone + PartialEq, E: Clone> Default for QueryCache<D, E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<D: Clone + PartialEq, E: Clone> QueryCache<D, E> {
    /// An empty cache that believes the window is focused and online.
    pub fn new() -> Self {
        QueryCache {
            queries: HashMap::new(),
            timers: BTreeSet::new(),
            fetches: HashMap::new(),
            next_fetch: 1,
            focused: true,
            online: true,
            effects: VecDeque::new(),
            now: 0,
            metrics: QueryMetrics::default(),
        }
    }

    /// The one place state changes.
    pub fn dispatch(&mut self, now: u64, action: Action<D, E>) {
        self.now = now;
        match action {
            Action::Subscribe {
                key,
                observer,
                options,
            } => self.subscribe(key, observer, options),
            Action::Unsubscribe { key, observer } => self.unsubscribe(&key, observer),
            Action::Refetch(key) => self.refetch(&key.hash_key(), true),
            Action::RefetchQueries {
                filter,
                cancel_refetch,
            } => {
                for hash in self.matching(&filter) {
                    if !self.queries[&hash].disabled() {
                        self.refetch(&hash, cancel_refetch);
                    }
                }
            }
            Action::FetchSucceeded { fetch, data } => self.fetch_succeeded(fetch, data),
            Action::FetchFailed {
                fetch,
                error,
                failure,
                jitter,
            } => self.fetch_failed(fetch, error, failure, jitter),
            Action::SetData { key, data } => self.set_data(key, data, now),
            Action::Invalidate(filter) => self.invalidate(&filter, RefetchType::Active),
            Action::InvalidateQueries {
                filter,
                refetch_type,
            } => self.invalidate(&filter, refetch_type),
            Action::Remove(filter) => {
                for hash in self.matching(&filter) {
                    self.remove(&hash);
                }
            }
            Action::Cancel(filter) => {
                for hash in self.matching(&filter) {
                    self.cancel(&hash);
                }
            }
            Action::Prefetch { key, options } => self.prefetch(key, options),
            Action::Focus(focused) => self.focus(focused),
            Action::Online(online) => self.set_online(online),
            Action::Tick => self.tick(),
            Action::Restore(entries) => self.restore(entries),
            Action::Rollback(saved) => {
                for state in saved {
                    self.put_back(state);
                }
            }
        }
    }

    /// The next effect for the adapter, oldest first.
    pub fn poll_effect(&mut self) -> Option<Effect> {
        self.effects.pop_front()
    }

    /// When the adapter must next dispatch [`Action::Tick`] (ms), if ever.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.timers.first().map(|(at, _, _)| *at)
    }

    /// The state of a key, if the cache has it.
    pub fn state(&self, key: &KeyHash) -> Option<&QueryState<D, E>> {
        self.queries.get(key).map(|q| &q.state)
    }

    /// `get_query_data`: the data of a key, counted as a hit or a miss.
    /// A key's state as a mutation saves it before an optimistic change.
    pub fn saved(&self, key: &QueryKey) -> Saved<D>
    where
        D: Clone,
    {
        let state = self.queries.get(&key.hash_key()).map(|q| &q.state);
        Saved {
            key: key.clone(),
            data: state.and_then(|s| s.data.clone()),
            updated_at: state.map_or(0, |s| s.data_updated_at),
            invalidated: state.is_some_and(|s| s.invalidated),
        }
    }

    pub fn get_query_data(&mut self, key: &QueryKey) -> Option<&D> {
        let data = self
            .queries
            .get(&key.hash_key())
            .and_then(|q| q.state.data.as_ref());
        self.metrics.record_lookup(data.is_some());
        data
    }

    /// Whether a key's data is stale at `now` (true when absent).
    pub fn is_stale(&self, key: &KeyHash, now: u64) -> bool {
        self.queries.get(key).is_none_or(|q| q.is_stale(now))
    }

    /// The key behind a hash.
    pub fn key(&self, key: &KeyHash) -> Option<&QueryKey> {
        self.queries.get(key).map(|q| &q.key)
    }

    /// Number of observers of a key.
    pub fn observer_count(&self, key: &KeyHash) -> usize {
        self.queries.get(key).map_or(0, |q| q.observers.len())
    }

    /// Every key hash in the cache, sorted (for the devtools view).
    pub fn keys(&self) -> Vec<&KeyHash> {
        let mut keys: Vec<&KeyHash> = self.queries.keys().collect();
        keys.sort();
        keys
    }

    /// Number of queries in the cache.
    pub fn len(&self) -> usize {
        self.queries.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.queries.is_empty()
    }

    /// Successful entries to save (persistence): key, data, time.
    pub fn saved_entries(&self) -> Vec<SavedEntry<D>> {
        self.queries
            .values()
            .filter_map(|q| {
                q.state.data.as_ref().map(|data| SavedEntry {
                    key: q.key.clone(),
                    data: data.clone(),
                    updated_at: q.state.data_updated_at,
                })
            })
            .collect()
    }

    /// Hit/miss/fetch counters and durations.
    pub fn metrics(&self) -> &QueryMetrics {
        &self.metrics
    }

    /// Mutable metrics (to change the slow-fetch threshold).
    pub fn metrics_mut(&mut self) -> &mut QueryMetrics {
        &mut self.metrics
    }

    /// Whether the cache believes it is online.
    pub fn is_online(&self) -> bool {
        self.online
    }

    // ---- reducer helpers: each keeps timers and effects in step ----

    /// Tells observers a key changed (an owned hash is moved, not cloned).
    fn changed(&mut self, hash: impl Into<KeyHash>, data_changed: bool) {
        self.effects.push_back(Effect::Changed {
            key: hash.into(),
            data_changed,
        });
    }

    fn set_timer(&mut self, hash: &KeyHash, timer: Timer, at: Option<u64>) {
        let Some(q) = self.queries.get_mut(hash) else {
            return;
        };
        if q.deadlines.get(&timer) == at.as_ref() {
            // Set again to the same deadline: nothing to move.
            return;
        }
        if let Some(old) = q.deadlines.remove(&timer) {
            self.timers.remove(&(old, timer, hash.clone()));
        }
        if let Some(at) = at {
            q.deadlines.insert(timer, at);
            self.timers.insert((at, timer, hash.clone()));
        }
    }

    fn entry(&mut self, key: QueryKey, fallback: QueryOptions) -> KeyHash {
        let hash = key.hash_key();
        self.entry_at(&hash, key, fallback);
        hash
    }

    /// The query under `hash`, made from `key` if the cache has none (the
    /// hash is cloned only then: a hit costs one lookup and no allocation).
    fn entry_at(
        &mut self,
        hash: &KeyHash,
        key: QueryKey,
        fallback: QueryOptions,
    ) -> &mut Query<D, E> {
        if !self.queries.contains_key(hash) {
            self.queries.insert(hash.clone(), Query::new(key, fallback));
        }
        self.queries.get_mut(hash).expect("just inserted")
    }

    /// A query set by hand (`set_query_data`, a rollback) that nobody
    /// observes starts its gc clock if it has none running. As TanStack's
    /// `setData`, setting it again does not restart the clock: gc time counts
    /// from when the query was made, last unobserved, or last fetched.
    fn start_gc_clock(&mut self, hash: &KeyHash) {
        let armed = self
            .queries
            .get(hash)
            .is_some_and(|q| q.deadlines.contains_key(&Timer::Gc));
        if !armed {
            self.schedule_gc_if_unobserved(hash);
        }
    }

    fn schedule_gc_if_unobserved(&mut self, hash: &KeyHash) {
        let Some(q) = self.queries.get(hash) else {
            return;
        };
        if q.observers.is_empty() {
            // `u64::MAX` is "never" (TanStack's `Infinity`): no timer.
            let at = match q.gc_time() {
                u64::MAX => None,
                gc => Some(self.now.saturating_add(gc)),
            };
            self.set_timer(hash, Timer::Gc, at);
        }
    }

    fn rearm_interval(&mut self, hash: &KeyHash) {
        let at = self
            .queries
            .get(hash)
            .and_then(|q| q.interval(self.focused))
            .map(|every| self.now.saturating_add(every));
        self.set_timer(hash, Timer::Interval, at);
    }

    fn subscribe(&mut self, key: QueryKey, observer: ObserverId, options: QueryOptions) {
        let hash = self.entry(key, options);
        let q = self.queries.get_mut(&hash).expect("just inserted");
        let previous = q.observers.insert(observer, options);
        q.see(&options);
        q.fallback = options;
        // Someone watches again: pending retries go on.
        q.retry_cancelled = false;
        let first_time = previous.is_none();
        // A new observer, or one whose `enabled` just turned on (a dependent
        // query whose input arrived); a mere options change does not fetch.
        let became_enabled = options.enabled && previous.is_none_or(|p| !p.enabled);
        let has_data = q.state.data.is_some();
        let should_fetch = became_enabled
            && q.in_flight.is_none()
            && !q.deadlines.contains_key(&Timer::Retry)
            && !q.paused
            && (!has_data
                || (options.refetch_on_mount && q.stale_after(self.now, options.stale_time_ms)));
        if first_time {
            self.metrics.record_lookup(has_data);
        }
        self.set_timer(&hash, Timer::Gc, None);
        self.rearm_interval(&hash);
        if should_fetch {
            self.start_fetch(&hash, false);
        }
    }

    fn unsubscribe(&mut self, key: &QueryKey, observer: ObserverId) {
        let hash = key.hash_key();
        let Some(q) = self.queries.get_mut(&hash) else {
            return;
        };
        if q.observers.remove(&observer).is_none() {
            return; // not one of its observers: nothing changes
        }
        if q.observers.is_empty() {
            if q.paused && q.state.data.is_none() {
                // A first load paused for nobody: undone, not resumed later.
                self.cancel(&hash);
            } else if q.busy() {
                self.queries
                    .get_mut(&hash)
                    .expect("present")
                    .retry_cancelled = true;
            }
        }
        self.rearm_interval(&hash);
        self.schedule_gc_if_unobserved(&hash);
    }

    /// An explicit refetch: starts one, or restarts one in flight for data
    /// already shown when `cancel_refetch`, or joins the one under way.
    fn refetch(&mut self, hash: &KeyHash, cancel_refetch: bool) {
        let Some(q) = self.queries.get_mut(hash) else {
            return;
        };
        if q.busy() {
            if !(cancel_refetch && q.state.data.is_some() && q.in_flight.is_some()) {
                return;
            }
            // Silently: the state is not put back, the new fetch follows.
            self.abort_in_flight(hash);
        }
        self.start_fetch(hash, true);
    }

    /// Starts a fetch unless one is in flight (deduplication). `fresh_start`
    /// begins a new attempt sequence (failure count 0); a retry keeps it.
    fn start_fetch(&mut self, hash: &KeyHash, fresh_start: bool) {
        let Some(q) = self.queries.get_mut(hash) else {
            return;
        };
        if q.in_flight.is_some() {
            return;
        }
        let fetch = self.next_fetch;
        self.next_fetch += 1;
        if fresh_start || q.before_fetch.is_none() {
            q.before_fetch = Some(q.state.clone());
        }
        if fresh_start {
            q.state.failure_count = 0;
            q.state.failure_reason = None;
            q.retry_cancelled = false;
            if q.state.data.is_none() {
                // Loading again from nothing: pending, the old error gone.
                q.state.status = QueryStatus::Pending;
                q.state.error = None;
            }
        }
        q.in_flight = Some((fetch, self.now));
        q.paused = false;
        q.state.fetch_status = FetchStatus::Fetching;
        let key = q.key.clone();
        self.fetches.insert(fetch, hash.clone());
        self.set_timer(hash, Timer::Retry, None);
        self.metrics.record_fetch_started();
        self.effects.push_back(Effect::StartFetch { fetch, key });
        self.changed(hash, false);
    }

    fn finish_fetch(&mut self, fetch: FetchId) -> Option<(KeyHash, u64)> {
        let hash = self.fetches.remove(&fetch)?;
        let q = self.queries.get_mut(&hash)?;
        match q.in_flight {
            Some((id, started)) if id == fetch => {
                q.in_flight = None;
                Some((hash, started))
            }
            _ => None,
        }
    }

    fn fetch_succeeded(&mut self, fetch: FetchId, data: D) {
        let Some((hash, started)) = self.finish_fetch(fetch) else {
            return; // aborted, cancelled or removed: the answer is stale
        };
        let now = self.now;
        let q = self.queries.get_mut(&hash).expect("finish_fetch checked");
        let data_changed = q.state.data.as_ref() != Some(&data);
        if data_changed {
            q.state.data = Some(data);
        }
        q.state.data_updated_at = now;
        q.state.error = None;
        q.state.failure_count = 0;
        q.state.failure_reason = None;
        q.state.status = QueryStatus::Success;
        q.state.fetch_status = FetchStatus::Idle;
        q.state.invalidated = false;
        q.before_fetch = None;
        q.retry_cancelled = false;
        let label = q.key.prefix_label().to_string();
        self.metrics
            .record_fetch_done(&label, &hash, now.saturating_sub(started), now);
        // The gc clock of an unobserved query starts when its fetch ends.
        self.schedule_gc_if_unobserved(&hash);
        self.changed(&hash, data_changed);
    }

    fn fetch_failed(&mut self, fetch: FetchId, error: E, failure: Failure, jitter: f64) {
        let Some((hash, started)) = self.finish_fetch(fetch) else {
            return;
        };
        let (now, online) = (self.now, self.online);
        let q = self.queries.get_mut(&hash).expect("finish_fetch checked");
        let policy = q.retry();
        if policy.counts_attempt(&failure, online) {
            q.state.failure_count += 1;
        }
        q.state.failure_reason = Some(error);
        // Nobody watches any more: no further attempt (TanStack's cancelled
        // retry rejects at its next retry point).
        let decision = match policy.decide(&failure, q.state.failure_count, online, jitter) {
            _ if q.retry_cancelled => RetryDecision::GiveUp,
            decision => decision,
        };
        match decision {
            RetryDecision::RetryIn(delay) => {
                self.metrics.record_retry();
                self.set_timer(&hash, Timer::Retry, Some(now.saturating_add(delay)));
            }
            RetryDecision::WaitForNetwork => {
                q.paused = true;
                q.state.fetch_status = FetchStatus::Paused;
            }
            RetryDecision::GiveUp => self.give_up(&hash, started),
        }
        self.changed(&hash, false);
    }

    /// The fetch failed for good with its last failure: the query shows the
    /// error and is invalid, so focus, reconnect or a mount try again.
    fn give_up(&mut self, hash: &KeyHash, started: u64) {
        let now = self.now;
        let Some(q) = self.queries.get_mut(hash) else {
            return;
        };
        q.state.error = q.state.failure_reason.clone();
        q.state.error_updated_at = now;
        q.state.status = QueryStatus::Error;
        q.state.fetch_status = FetchStatus::Idle;
        q.state.invalidated = true;
        q.before_fetch = None;
        q.paused = false;
        q.retry_cancelled = false;
        let label = q.key.prefix_label().to_string();
        self.set_timer(hash, Timer::Retry, None);
        self.metrics
            .record_failure(&label, hash, now.saturating_sub(started), now);
        self.schedule_gc_if_unobserved(hash);
    }

    fn set_data(&mut self, key: QueryKey, data: D, now: u64) {
        let hash = key.hash_key();
        let q = self.entry_at(&hash, key, QueryOptions::default());
        let data_changed = q.state.data.as_ref() != Some(&data);
        if data_changed {
            q.state.data = Some(data);
        }
        q.state.data_updated_at = now;
        q.state.status = QueryStatus::Success;
        q.state.error = None;
        q.state.invalidated = false;
        // A cancel of the fetch in flight goes back to this data, not to
        // what was there before it started.
        if let Some(before) = q.before_fetch.as_mut() {
            let mut set = q.state.clone();
            set.fetch_status = before.fetch_status;
            *before = set;
        }
        self.start_gc_clock(&hash);
        self.changed(hash, data_changed);
    }

    fn put_back(&mut self, saved: Saved<D>) {
        let hash = saved.key.hash_key();
        if saved.data.is_none() && !self.queries.contains_key(&hash) {
            return;
        }
        let q = self.entry_at(&hash, saved.key, QueryOptions::default());
        let data_changed = q.state.data != saved.data;
        q.state.data = saved.data;
        q.state.data_updated_at = saved.updated_at;
        q.state.invalidated = saved.invalidated;
        q.state.status = match (&q.state.data, &q.state.error) {
            (Some(_), _) => QueryStatus::Success,
            (None, Some(_)) => QueryStatus::Error,
            (None, None) => QueryStatus::Pending,
        };
        self.start_gc_clock(&hash);
        self.changed(hash, data_changed);
    }

    fn matching(&self, filter: &KeyFilter) -> Vec<KeyHash> {
        if let KeyFilter::Exact(key) = filter {
            let hash = key.hash_key();
            return if self.queries.contains_key(&hash) {
                vec![hash]
            } else {
                Vec::new()
            };
        }
        self.queries
            .iter()
            .filter(|(_, q)| filter.matches(&q.key))
            .map(|(h, _)| h.clone())
            .collect()
    }

    fn invalidate(&mut self, filter: &KeyFilter, refetch_type: RefetchType) {
        for hash in self.matching(filter) {
            let q = self.queries.get_mut(&hash).expect("matched");
            let was = std::mem::replace(&mut q.state.invalidated, true);
            let active = q.active();
            let refetch = !q.disabled()
                && match refetch_type {
                    RefetchType::Active => active,
                    RefetchType::Inactive => !active,
                    RefetchType::All => true,
                    RefetchType::None => false,
                };
            if refetch {
                // Whatever is in flight may predate the change: start again.
                self.abort_in_flight(&hash);
                self.start_fetch(&hash, true);
            } else if !was {
                // Already invalid: nothing changed, nobody is told.
                self.changed(&hash, false);
            }
        }
    }

    fn abort_in_flight(&mut self, hash: &KeyHash) {
        if let Some(q) = self.queries.get_mut(hash) {
            if let Some((fetch, _)) = q.in_flight.take() {
                self.fetches.remove(&fetch);
                self.effects.push_back(Effect::AbortFetch(fetch));
            }
        }
    }

    fn remove(&mut self, hash: &KeyHash) {
        self.abort_in_flight(hash);
        for timer in [Timer::Retry, Timer::Gc, Timer::Interval] {
            self.set_timer(hash, timer, None);
        }
        if self.queries.remove(hash).is_some() {
            self.effects.push_back(Effect::Removed(hash.clone()));
        }
    }

    fn cancel(&mut self, hash: &KeyHash) {
        if !self.queries.get(hash).is_some_and(Query::busy) {
            return;
        }
        self.abort_in_flight(hash);
        self.set_timer(hash, Timer::Retry, None);
        let q = self.queries.get_mut(hash).expect("checked");
        q.paused = false;
        q.retry_cancelled = false;
        if let Some(before) = q.before_fetch.take() {
            q.state = before;
        }
        q.state.fetch_status = FetchStatus::Idle;
        self.schedule_gc_if_unobserved(hash);
        self.changed(hash, false);
    }

    fn prefetch(&mut self, key: QueryKey, options: QueryOptions) {
        let hash = self.entry(key, options);
        let q = self.queries.get_mut(&hash).expect("just inserted");
        q.fallback = options;
        q.see(&options);
        let stale = q.state.data.is_none()
            || q.state.invalidated
            || self.now
                >= q.state
                    .data_updated_at
                    .saturating_add(options.stale_time_ms);
        if stale && options.enabled {
            self.start_fetch(&hash, true);
        }
        // Unobserved: collected a gc time after its fetch ends (re-armed
        // then), or from now when nothing was fetched.
        if !self.queries[&hash].busy() {
            self.schedule_gc_if_unobserved(&hash);
        }
    }

    /// Refetches every active, stale query whose observers want `pick`.
    fn refetch_stale_active(&mut self, pick: fn(&QueryOptions) -> bool) {
        let now = self.now;
        let due: Vec<KeyHash> = self
            .queries
            .iter()
            // A fetch under way (in flight, backing off, paused) is joined,
            // not restarted with a fresh retry budget.
            .filter(|(_, q)| {
                !q.busy()
                    && q.observers
                        .values()
                        .any(|o| o.enabled && pick(o) && q.stale_after(now, o.stale_time_ms))
            })
            .map(|(h, _)| h.clone())
            .collect();
        for hash in due {
            self.start_fetch(&hash, true);
        }
    }

    fn focus(&mut self, focused: bool) {
        self.focused = focused;
        let observed: Vec<KeyHash> = self
            .queries
            .iter()
            .filter(|(_, q)| !q.observers.is_empty())
            .map(|(h, _)| h.clone())
            .collect();
        for hash in &observed {
            self.rearm_interval(hash);
        }
        // Every "visible" signal counts, as TanStack's focus manager's
        // default listener does (it notifies on each visibilitychange).
        if focused {
            self.resume_paused();
            self.refetch_stale_active(|o| o.refetch_on_window_focus);
        }
    }

    /// Paused retries go on once the page is visible and online.
    fn resume_paused(&mut self) {
        if !(self.focused && self.online) {
            return;
        }
        let paused: Vec<KeyHash> = self
            .queries
            .iter()
            .filter(|(_, q)| q.paused)
            .map(|(h, _)| h.clone())
            .collect();
        for hash in paused {
            if self.queries[&hash].retry_cancelled {
                // Nobody waits for it any more.
                let started = self.now;
                self.give_up(&hash, started);
                self.changed(&hash, false);
            } else {
                self.start_fetch(&hash, false);
            }
        }
    }

    fn set_online(&mut self, online: bool) {
        let was = std::mem::replace(&mut self.online, online);
        if !online || was {
            return;
        }
        self.resume_paused();
        self.refetch_stale_active(|o| o.refetch_on_reconnect);
    }

    fn tick(&mut self) {
        while let Some((at, timer, hash)) = self.timers.first().cloned() {
            if at > self.now {
                break;
            }
            self.set_timer(&hash, timer, None);
            match timer {
                Timer::Retry => self.retry_due(&hash),
                Timer::Gc => {
                    // A query with a fetch under way is kept; its gc is
                    // armed again when the fetch ends.
                    let idle = self
                        .queries
                        .get(&hash)
                        .is_some_and(|q| q.observers.is_empty() && !q.busy());
                    if idle {
                        self.remove(&hash);
                    }
                }
                Timer::Interval => {
                    if !self.queries.get(&hash).is_some_and(Query::busy) {
                        self.start_fetch(&hash, true);
                    }
                    self.rearm_interval(&hash);
                }
            }
        }
    }

    /// A retry's wait is over: it goes, unless nobody watches any more (it
    /// gives up) or the page is hidden (it pauses until shown). Offline it
    /// still goes: an offline-first fetch may be answered by the worker's
    /// cache, and a network failure then pauses it without an attempt spent.
    fn retry_due(&mut self, hash: &KeyHash) {
        let focused = self.focused;
        let Some(q) = self.queries.get_mut(hash) else {
            return;
        };
        if q.retry_cancelled {
            let started = self.now;
            self.give_up(hash, started);
            self.changed(hash, false);
        } else if focused {
            self.start_fetch(hash, false);
        } else {
            q.paused = true;
            q.state.fetch_status = FetchStatus::Paused;
            self.changed(hash, false);
        }
    }

    fn restore(&mut self, entries: Vec<SavedEntry<D>>) {
        for entry in entries {
            let hash = self.entry(entry.key, QueryOptions::default());
            let q = self.queries.get_mut(&hash).expect("just inserted");
            if q.state.data.is_some() {
                continue;
            }
            q.state.data = Some(entry.data);
            q.state.data_updated_at = entry.updated_at;
            q.state.status = QueryStatus::Success;
            self.schedule_gc_if_unobserved(&hash);
            self.changed(&hash, true);
        }
    }
}
