//! TanStack Query v5's own tests, ported to this cache (issue 19). Each
//! module is one of TanStack's test files (`query_test` is
//! `packages/query-core/src/__tests__/query.test.tsx`, and so on); each
//! test is named after the case's title there, snake-cased, and its doc
//! line quotes the title. They run on the simulated clock of [`Sim`].
//!
//! Where Casefile differs on purpose (SPEC §3/§4: default stale 5 min and
//! gc 10 min, no retry for 4xx but 408/429, offline spends no attempt, one
//! shared in-flight fetch, an offline-first first attempt), the test
//! asserts SPEC's behaviour and says "differs by design". The table of
//! every ported case is `core/CONFORMANCE.md`.
//!
//! TanStack's defaults (staleTime 0, retry 3 at 1 s doubling) are spelled
//! out with [`tanstack`] where a case relies on them.
//!
//! [`Sim`]: super::sim::Sim

mod mutation_cache_test;
mod mutations_test;
mod query_cache_test;
mod query_client_test;
mod query_observer_test;
mod query_test;
mod use_query_test;
mod utils_test;

use super::QueryOptions;
use crate::retry::RetryPolicy;

/// TanStack's query defaults: stale at once, gc 5 min, 3 retries.
pub fn tanstack() -> QueryOptions {
    QueryOptions {
        stale_time_ms: 0,
        gc_time_ms: 5 * 60 * 1000,
        ..QueryOptions::default()
    }
}

/// `retry: n, retryDelay: delay_ms` (a constant delay).
pub fn retry(n: u32, delay_ms: u64) -> RetryPolicy {
    RetryPolicy {
        base_delay_ms: delay_ms,
        max_delay_ms: delay_ms,
        max_retries: n,
        ..RetryPolicy::QUERY
    }
}

/// `retry: false`.
pub fn no_retry() -> RetryPolicy {
    retry(0, 0)
}

/// TanStack's defaults changed by `f`.
pub fn with(f: impl FnOnce(&mut QueryOptions)) -> QueryOptions {
    let mut options = tanstack();
    f(&mut options);
    options
}

/// An observer that may not fetch (`enabled: false`).
pub fn disabled() -> QueryOptions {
    with(|o| o.enabled = false)
}
