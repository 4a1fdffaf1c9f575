//! The browser adapter around `casefile_core::query::QueryCache`: it runs the
//! fetches the cache asks for, keeps one timer armed at the cache's next
//! deadline, feeds focus and online changes in, and mirrors each key's state
//! into signals. It decides nothing itself.

use crate::http::FetchError;
use casefile_core::query::{
    Action, Effect, FetchStatus, KeyFilter, KeyHash, QueryCache, QueryKey, QueryOptions,
    QueryState, QueryStatus, RefetchType, SavedEntry,
};
use leptos::prelude::*;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

/// Data as the cache holds it: decoded JSON, shared. Typed views decode it.
pub type QueryData = std::sync::Arc<serde_json::Value>;

type BoxFuture = Pin<Box<dyn Future<Output = Result<QueryData, FetchError>>>>;
/// A fetcher with its type erased: key in, JSON out.
pub type ErasedFetcher = Rc<dyn Fn(QueryKey) -> BoxFuture>;

/// What observers of one key see, apart from the data itself.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryMeta {
    /// Data / error / neither.
    pub status: QueryStatus,
    /// In flight / paused / idle.
    pub fetch_status: FetchStatus,
    /// The last final error.
    pub error: Option<FetchError>,
    /// When the data arrived (ms), 0 when none.
    pub updated_at: u64,
    /// Counted failures of the current fetch.
    pub failure_count: u32,
    /// Marked stale by an invalidation.
    pub invalidated: bool,
}

impl QueryMeta {
    fn of(state: Option<&QueryState<QueryData, FetchError>>) -> Self {
        match state {
            Some(s) => QueryMeta {
                status: s.status,
                fetch_status: s.fetch_status,
                error: s.error.clone(),
                updated_at: s.data_updated_at,
                failure_count: s.failure_count,
                invalidated: s.invalidated,
            },
            None => QueryMeta {
                status: QueryStatus::Pending,
                fetch_status: FetchStatus::Idle,
                error: None,
                updated_at: 0,
                failure_count: 0,
                invalidated: false,
            },
        }
    }
}

/// The signals of one key.
#[derive(Clone, Copy)]
pub struct KeySignals {
    /// Set only when the data really changed.
    pub data: RwSignal<Option<QueryData>>,
    /// Status, errors, times.
    pub meta: RwSignal<QueryMeta>,
}

struct Inner {
    /// Owns the per-key signals, so they outlive the component that first
    /// asked for them.
    owner: Owner,
    cache: RefCell<QueryCache<QueryData, FetchError>>,
    fetchers: RefCell<HashMap<KeyHash, ErasedFetcher>>,
    signals: RefCell<HashMap<KeyHash, KeySignals>>,
    timer: RefCell<Option<(u64, TimeoutHandle)>>,
    next_observer: Cell<u64>,
    /// Bumped on every dispatch, for views of the whole cache (devtools).
    revision: RwSignal<u64>,
    listeners: RefCell<Vec<Rc<dyn Fn()>>>,
    /// The client's mutation cache (TanStack's `getMutationCache()`).
    mutations: RefCell<super::mutation::Mutations>,
}

/// The app's query cache, provided as context.
#[derive(Clone)]
pub struct QueryClient(Rc<Inner>);

/// Wall-clock ms.
pub fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}

impl Default for QueryClient {
    fn default() -> Self {
        Self::new()
    }
}

impl QueryClient {
    /// An empty client. [`provide_query_client`] also wires focus and online.
    pub fn new() -> Self {
        QueryClient(Rc::new(Inner {
            owner: Owner::new(),
            cache: RefCell::new(QueryCache::new()),
            fetchers: RefCell::new(HashMap::new()),
            signals: RefCell::new(HashMap::new()),
            timer: RefCell::new(None),
            next_observer: Cell::new(1),
            revision: RwSignal::new(0),
            listeners: RefCell::new(Vec::new()),
            mutations: RefCell::default(),
        }))
    }

    /// The mutation cache's state (driven in `mutation.rs`).
    pub(super) fn mutation_state(&self) -> &RefCell<super::mutation::Mutations> {
        &self.0.mutations
    }

    /// A new observer id.
    pub fn next_observer(&self) -> u64 {
        let id = self.0.next_observer.get();
        self.0.next_observer.set(id + 1);
        id
    }

    /// The signals of a key (created on first use).
    pub fn signals(&self, key: &KeyHash) -> KeySignals {
        if let Some(s) = self.0.signals.borrow().get(key) {
            return *s;
        }
        let cache = self.0.cache.borrow();
        let state = cache.state(key);
        let s = self.0.owner.with(|| KeySignals {
            data: RwSignal::new(state.and_then(|s| s.data.clone())),
            meta: RwSignal::new(QueryMeta::of(state)),
        });
        drop(cache);
        self.0.signals.borrow_mut().insert(key.clone(), s);
        s
    }

    /// Registers how to fetch a key (the last registration wins).
    pub fn set_fetcher(&self, key: &QueryKey, fetcher: ErasedFetcher) {
        self.0.fetchers.borrow_mut().insert(key.hash_key(), fetcher);
    }

    /// Runs `f` after every change (used to schedule saving).
    pub fn on_change(&self, f: impl Fn() + 'static) {
        self.0.listeners.borrow_mut().push(Rc::new(f));
    }

    /// A counter bumped after every dispatch, for whole-cache views.
    pub fn revision(&self) -> ReadSignal<u64> {
        self.0.revision.read_only()
    }

    /// Read access to the cache (for metrics and devtools).
    pub fn with_cache<R>(&self, f: impl FnOnce(&QueryCache<QueryData, FetchError>) -> R) -> R {
        f(&self.0.cache.borrow())
    }

    /// Feeds one input to the cache and carries out what it asks.
    pub fn dispatch(&self, action: Action<QueryData, FetchError>) {
        let now = now_ms();
        let effects: Vec<Effect> = {
            let mut cache = self.0.cache.borrow_mut();
            cache.dispatch(now, action);
            std::iter::from_fn(|| cache.poll_effect()).collect()
        };
        let changed = !effects.is_empty();
        for effect in effects {
            self.carry_out(effect);
        }
        self.rearm_timer(now);
        // Observer counts change without an effect: whole-cache views follow
        // every dispatch; saving only follows real changes.
        self.0.revision.update(|r| *r += 1);
        if changed {
            let listeners = self.0.listeners.borrow().clone();
            for listener in listeners {
                listener();
            }
        }
    }

    fn carry_out(&self, effect: Effect) {
        match effect {
            Effect::StartFetch { fetch, key } => {
                let fetcher = self.0.fetchers.borrow().get(&key.hash_key()).cloned();
                let client = self.clone();
                leptos::task::spawn_local(async move {
                    let result = match fetcher {
                        Some(fetcher) => fetcher(key).await,
                        None => Err(FetchError::Decode {
                            detail: format!("no fetcher registered for {}", key.hash_key()),
                            request_id: String::new(),
                        }),
                    };
                    client.dispatch(match result {
                        Ok(data) => Action::FetchSucceeded { fetch, data },
                        Err(error) => Action::FetchFailed {
                            failure: error.failure(),
                            error,
                            fetch,
                            jitter: js_sys::Math::random(),
                        },
                    });
                });
            }
            // The cache ignores a late answer to an aborted fetch; letting the
            // request finish costs a response body at most.
            Effect::AbortFetch(_) => {}
            Effect::Changed { key, data_changed } => {
                let Some(signals) = self.0.signals.borrow().get(&key).copied() else {
                    return;
                };
                let (data, meta) = {
                    let cache = self.0.cache.borrow();
                    let state = cache.state(&key);
                    (
                        data_changed.then(|| state.and_then(|s| s.data.clone())),
                        QueryMeta::of(state),
                    )
                };
                if let Some(data) = data {
                    signals.data.set(data);
                }
                if signals.meta.with_untracked(|m| *m != meta) {
                    signals.meta.set(meta);
                }
            }
            Effect::Removed(key) => {
                self.0.fetchers.borrow_mut().remove(&key);
                if let Some(signals) = self.0.signals.borrow().get(&key) {
                    signals.data.set(None);
                    signals.meta.set(QueryMeta::of(None));
                }
            }
        }
    }

    fn rearm_timer(&self, now: u64) {
        let next = self.0.cache.borrow().poll_timeout();
        let mut timer = self.0.timer.borrow_mut();
        if timer.as_ref().map(|(at, _)| *at) == next {
            return;
        }
        if let Some((_, handle)) = timer.take() {
            handle.clear();
        }
        if let Some(at) = next {
            let client = self.clone();
            // Browsers fire a timeout above 2^31-1 ms at once: wait at most
            // that long, and look again then (the deadline is not yet due).
            let delay = Duration::from_millis(at.saturating_sub(now).min(i32::MAX as u64));
            match set_timeout_with_handle(
                move || {
                    client.0.timer.borrow_mut().take();
                    client.dispatch(Action::Tick);
                },
                delay,
            ) {
                Ok(handle) => *timer = Some((at, handle)),
                Err(err) => leptos::logging::error!("query timer: {err:?}"),
            }
        }
    }

    // ---- the imperative API (TanStack's QueryClient methods) ----

    /// `set_query_data`.
    pub fn set_query_data<T: serde::Serialize>(&self, key: QueryKey, data: &T) {
        match serde_json::to_value(data) {
            Ok(value) => self.dispatch(Action::SetData {
                key,
                data: std::sync::Arc::new(value),
            }),
            Err(err) => leptos::logging::error!("set_query_data: cannot encode: {err}"),
        }
    }

    /// `get_query_data`, decoded as `T`.
    pub fn get_query_data<T: serde::de::DeserializeOwned>(&self, key: &QueryKey) -> Option<T> {
        let data = self.0.cache.borrow_mut().get_query_data(key).cloned()?;
        T::deserialize(&*data).ok()
    }

    /// Marks matching keys stale; observed ones refetch now.
    pub fn invalidate(&self, filter: KeyFilter) {
        self.dispatch(Action::Invalidate(filter));
    }

    /// Marks matching keys stale; `refetch_type` says which refetch now
    /// (TanStack's `invalidateQueries({ refetchType })`).
    pub fn invalidate_with(&self, filter: KeyFilter, refetch_type: RefetchType) {
        self.dispatch(Action::InvalidateQueries {
            filter,
            refetch_type,
        });
    }

    /// Refetches every matching query that is not disabled; `cancel_refetch`
    /// restarts one in flight for data already shown.
    pub fn refetch_queries(&self, filter: KeyFilter, cancel_refetch: bool) {
        self.dispatch(Action::RefetchQueries {
            filter,
            cancel_refetch,
        });
    }

    /// Forgets matching keys.
    pub fn remove(&self, filter: KeyFilter) {
        self.dispatch(Action::Remove(filter));
    }

    /// Cancels matching fetches, restoring their previous state.
    pub fn cancel(&self, filter: KeyFilter) {
        self.dispatch(Action::Cancel(filter));
    }

    /// Refetches one key now, even if fresh.
    pub fn refetch(&self, key: QueryKey) {
        self.dispatch(Action::Refetch(key));
    }

    /// Fetches a key into the cache ahead of need, if it is not fresh.
    pub fn prefetch(&self, key: QueryKey, fetcher: ErasedFetcher, options: QueryOptions) {
        self.set_fetcher(&key, fetcher);
        self.dispatch(Action::Prefetch { key, options });
    }

    /// Loads saved entries (persistence).
    pub fn restore(&self, entries: Vec<SavedEntry<QueryData>>) {
        self.dispatch(Action::Restore(entries));
    }
}

/// Wires window focus and online state into the client and provides it as
/// context.
pub fn provide_query_client(client: QueryClient) -> QueryClient {
    let document = document();
    {
        let client = client.clone();
        let handle = window_event_listener(leptos::ev::visibilitychange, move |_| {
            let visible = document.visibility_state() == web_sys::VisibilityState::Visible;
            client.dispatch(Action::Focus(visible));
        });
        std::mem::forget(handle);
    }
    for (event, online) in [("online", true), ("offline", false)] {
        let client = client.clone();
        let handle = window_event_listener_untyped(event, move |_| {
            client.dispatch(Action::Online(online));
            client.mutations_online(online);
        });
        std::mem::forget(handle);
    }
    if !window().navigator().on_line() {
        client.dispatch(Action::Online(false));
        client.mutations_online(false);
    }
    provide_context(ClientHandle(StoredValue::new_local(client.clone())));
    client
}

/// The client in context: a handle, as context values must be `Send`.
#[derive(Clone, Copy)]
struct ClientHandle(StoredValue<QueryClient, LocalStorage>);

/// The client from context.
pub fn use_query_client() -> QueryClient {
    expect_context::<ClientHandle>().0.get_value()
}

/// Invalidate by prefix, the common case: `invalidate_prefix(["cases"])`.
pub fn prefix(key: QueryKey) -> KeyFilter {
    KeyFilter::Prefix(key)
}
