//! The query cache (SPEC §3): keys, the state machine, metrics, and the
//! observer's choice of data.

mod cache;
#[cfg(test)]
mod conformance;
mod key;
mod metrics;
mod mutation;
pub mod mutations;
mod observer;
mod persist;
#[cfg(test)]
mod sim;
#[cfg(test)]
mod tests;

pub use cache::{
    Action, Effect, FetchId, FetchStatus, KeyFilter, ObserverId, QueryCache, QueryOptions,
    QueryState, QueryStatus, RefetchType, SavedEntry, DEFAULT_GC_TIME_MS, DEFAULT_STALE_TIME_MS,
};
pub use key::{KeyHash, KeyPart, QueryKey};
pub use metrics::{DurationWindow, QueryMetrics, SlowFetch, DEFAULT_SLOW_FETCH_MS};
pub use mutation::{MutationStatus, Rollback, Saved, Scopes};
pub use observer::{pick_data, DataSource};
pub use persist::{Discard, PersistedEntry, MAX_AGE_MS, SAVE_DEBOUNCE_MS};
