//! `use_query` and friends: typed, reactive views of the cache.

use super::client::{
    use_query_client, ErasedFetcher, KeySignals, QueryClient, QueryData, QueryMeta,
};
use crate::http::FetchError;
use casefile_core::query::{
    pick_data, Action, DataSource, FetchStatus, QueryKey, QueryOptions, QueryStatus,
};
use leptos::prelude::*;
use serde::de::DeserializeOwned;
use std::future::Future;
use std::rc::Rc;

/// Options of one `use_query` beyond the cache's.
pub struct UseQueryOptions<T> {
    /// Stale and gc times, retry, refetch triggers. Defaults to
    /// [`QueryOptions::default`] (5 min stale, 10 min gc, focus and
    /// reconnect refetch on).
    pub query: QueryOptions,
    /// Whether the query may fetch: false makes it wait (dependent queries).
    /// Defaults to always true.
    pub enabled: Signal<bool>,
    /// While a new key loads, keep showing the previous key's data. Defaults
    /// to false.
    pub keep_previous_data: bool,
    /// Shown while the key has no data (not stored in the cache). Defaults to
    /// none.
    pub placeholder: Option<T>,
}

impl<T> Default for UseQueryOptions<T> {
    fn default() -> Self {
        UseQueryOptions {
            query: QueryOptions::default(),
            enabled: Signal::stored(true),
            keep_previous_data: false,
            placeholder: None,
        }
    }
}

/// What `use_query` returns: signals, and `refetch`.
pub struct UseQueryReturn<T: Send + Sync + 'static> {
    /// The data to show (cache, previous key's, or placeholder).
    pub data: Memo<Option<T>>,
    /// Where `data` comes from.
    pub source: Memo<DataSource>,
    /// Data / error / neither, for the current key.
    pub status: Memo<QueryStatus>,
    /// A request is in flight or a retry is scheduled.
    pub is_fetching: Memo<bool>,
    /// A retry waits for the network.
    pub is_paused: Memo<bool>,
    /// The last final error (data from before may still be shown).
    pub error: Memo<Option<FetchError>>,
    /// When the data arrived (ms); 0 when none.
    pub updated_at: Memo<u64>,
    /// Failed attempts of the current fetch (retries under way when > 0).
    pub failure_count: Memo<u32>,
    /// The current key.
    pub key: Memo<QueryKey>,
    client: StoredValue<QueryClient, LocalStorage>,
}

impl<T: Send + Sync + 'static> Clone for UseQueryReturn<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T: Send + Sync + 'static> Copy for UseQueryReturn<T> {}

impl<T: Clone + PartialEq + Send + Sync + 'static> UseQueryReturn<T> {
    /// Fetches the current key again now.
    pub fn refetch(&self) {
        let key = self.key.get_untracked();
        self.client.with_value(|c| c.refetch(key));
    }

    /// A view of part of the data that only changes when that part does.
    pub fn select<U>(&self, f: impl Fn(&T) -> U + Send + Sync + 'static) -> Memo<Option<U>>
    where
        U: PartialEq + Send + Sync + 'static,
    {
        let data = self.data;
        Memo::new(move |_| data.with(|d| d.as_ref().map(&f)))
    }
}

/// What a fetcher gives: the parsed JSON and the request id.
pub type Fetched = (QueryData, String);

/// Wraps a fetcher so a body that does not fit `T` is a decode failure (not
/// retried) rather than data. The check uses the same `Value → T` code as the
/// views, so each data type costs one deserializer in the wasm.
fn erase<T, F, Fut>(fetcher: F) -> ErasedFetcher
where
    T: DeserializeOwned + 'static,
    F: Fn(QueryKey) -> Fut + 'static,
    Fut: Future<Output = Result<Fetched, FetchError>> + 'static,
{
    Rc::new(move |key| {
        let fut = fetcher(key);
        Box::pin(async move {
            let (value, request_id) = fut.await?;
            match T::deserialize(&*value) {
                Ok(_) => Ok(value),
                Err(e) => Err(FetchError::Decode {
                    detail: e.to_string(),
                    request_id,
                }),
            }
        })
    })
}

/// Reads `key` through the cache with default options.
pub fn use_query<T, F, Fut>(
    key: impl Fn() -> QueryKey + Send + Sync + 'static,
    fetcher: F,
) -> UseQueryReturn<T>
where
    T: DeserializeOwned + Clone + PartialEq + Send + Sync + 'static,
    F: Fn(QueryKey) -> Fut + 'static,
    Fut: Future<Output = Result<Fetched, FetchError>> + 'static,
{
    use_query_with_options(key, fetcher, UseQueryOptions::default())
}

/// Reads `key` through the cache. The key is reactive: when it changes, the
/// hook observes the new key (and, with `keep_previous_data`, keeps showing
/// the old data until the new arrives).
pub fn use_query_with_options<T, F, Fut>(
    key: impl Fn() -> QueryKey + Send + Sync + 'static,
    fetcher: F,
    options: UseQueryOptions<T>,
) -> UseQueryReturn<T>
where
    T: DeserializeOwned + Clone + PartialEq + Send + Sync + 'static,
    F: Fn(QueryKey) -> Fut + 'static,
    Fut: Future<Output = Result<Fetched, FetchError>> + 'static,
{
    let client = use_query_client();
    let observer = client.next_observer();
    let key = Memo::new(move |_| key());
    let fetcher = erase::<T, _, _>(fetcher);
    let initial = key.get_untracked();
    // Known data shows on the first render, before the subscription effect.
    let current: RwSignal<KeySignals> = RwSignal::new(client.signals(&initial.hash_key()));
    let previous: RwSignal<Option<QueryData>> = RwSignal::new(None);
    let subscribed = StoredValue::new_local(None::<QueryKey>);
    let handle = StoredValue::new_local(client);
    let enabled = options.enabled;
    let query_options = options.query;

    Effect::new(move |_| {
        let key = key.get();
        let enabled = enabled.get();
        handle.with_value(|client| {
            let hash = key.hash_key();
            if let Some(old) = subscribed.get_value().filter(|old| *old != key) {
                previous.set(client.signals(&old.hash_key()).data.get_untracked());
                client.dispatch(Action::Unsubscribe { key: old, observer });
            }
            client.set_fetcher(&key, fetcher.clone());
            current.set(client.signals(&hash));
            client.dispatch(Action::Subscribe {
                key: key.clone(),
                observer,
                options: QueryOptions {
                    enabled,
                    ..query_options
                },
            });
        });
        subscribed.set_value(Some(key));
    });
    on_cleanup(move || {
        if let Some(key) = subscribed.get_value() {
            handle.with_value(|c| c.dispatch(Action::Unsubscribe { key, observer }));
        }
    });

    let placeholder = options.placeholder;
    let keep_previous = options.keep_previous_data;
    let picked = Memo::new(move |_| {
        let cached = current.get().data.get();
        let prev = previous.get();
        // The placeholder stays typed (never turned into JSON), so it is
        // applied here rather than through `pick_data`.
        match pick_data(cached.as_ref(), prev.as_ref(), None, keep_previous) {
            (None, _) if placeholder.is_some() => (placeholder.clone(), DataSource::Placeholder),
            (value, source) => {
                let typed = value.and_then(|v| match T::deserialize(&**v) {
                    Ok(t) => Some(t),
                    Err(err) => {
                        leptos::logging::error!("cached data does not fit its type: {err}");
                        None
                    }
                });
                (typed, source)
            }
        }
    });
    let meta: Memo<QueryMeta> = Memo::new(move |_| current.get().meta.get());
    UseQueryReturn {
        data: Memo::new(move |_| picked.with(|(d, _)| d.clone())),
        source: Memo::new(move |_| picked.with(|(_, s)| *s)),
        status: Memo::new(move |_| meta.with(|m| m.status)),
        is_fetching: Memo::new(move |_| meta.with(|m| m.fetch_status == FetchStatus::Fetching)),
        is_paused: Memo::new(move |_| meta.with(|m| m.fetch_status == FetchStatus::Paused)),
        error: Memo::new(move |_| meta.with(|m| m.error.clone())),
        updated_at: Memo::new(move |_| meta.with(|m| m.updated_at)),
        failure_count: Memo::new(move |_| meta.with(|m| m.failure_count)),
        key,
        client: handle,
    }
}
