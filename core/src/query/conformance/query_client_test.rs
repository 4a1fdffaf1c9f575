//! `packages/query-core/src/__tests__/queryClient.test.tsx`.

use super::{disabled, no_retry, tanstack, with};
use crate::query::sim::*;
use crate::query::*;
use crate::retry::Failure;

/// "should not crash when variable is null" (setQueryData)
#[test]
fn should_not_crash_when_variable_is_null() {
    let mut sim = Sim::new();
    let k = QueryKey::new(["key"]).with(KeyPart::map([("userId", KeyPart::Null)]));
    sim.set(&k, "Old Data");
    assert_eq!(sim.data(&k), Some("Old Data"));
}

/// "should create a new query if query was not found 1" (setQueryData)
#[test]
fn should_create_a_new_query_if_query_was_not_found_1() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.set(&k, "bar");
    assert_eq!(sim.data(&k), Some("bar"));
}

/// "should not set isFetching to false" (setQueryData)
#[test]
fn should_not_set_is_fetching_to_false() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.prefetch(&k, tanstack());
    assert_eq!(sim.state(&k).fetch_status, FetchStatus::Fetching);
    sim.set(&k, "42");
    assert_eq!(sim.state(&k).fetch_status, FetchStatus::Fetching);
    assert_eq!(sim.state(&k).data.as_deref(), Some("42"));
    // And a cancel now goes back to the data that was set, not to nothing.
    sim.run(Action::Cancel(KeyFilter::Exact(k.clone())));
    assert_eq!(sim.state(&k).data.as_deref(), Some("42"));
    assert_eq!(sim.state(&k).fetch_status, FetchStatus::Idle);
}

/// "should return length of fetching queries" (isFetching)
#[test]
fn should_return_length_of_fetching_queries() {
    let mut sim = Sim::new();
    let fetching = |sim: &Sim| {
        sim.cache
            .keys()
            .into_iter()
            .filter(|h| sim.cache.state(h).unwrap().fetch_status == FetchStatus::Fetching)
            .count()
    };
    assert_eq!(fetching(&sim), 0);
    sim.prefetch(&key(&["key1"]), tanstack());
    sim.prefetch(&key(&["key2"]), tanstack());
    assert_eq!(fetching(&sim), 2);
    sim.succeed("1");
    sim.succeed("2");
    assert_eq!(fetching(&sim), 0);
}

/// "should return the query data if the query is found" (getQueryData)
#[test]
fn should_return_the_query_data_if_the_query_is_found() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.set(&k, "bar");
    assert_eq!(sim.data(&k), Some("bar"));
}

/// "should return undefined if the query is not found" (getQueryData)
#[test]
fn should_return_undefined_if_the_query_is_not_found() {
    let mut sim = Sim::new();
    assert_eq!(sim.cache.get_query_data(&key(&["key"])), None);
    assert_eq!(sim.cache.metrics().misses, 1);
}

/// "should match exact by default" (getQueryData)
#[test]
fn should_match_exact_by_default() {
    let mut sim = Sim::new();
    sim.set(&key(&["key"]), "bar");
    assert_eq!(sim.cache.get_query_data(&key(&["key", "sub"])), None);
}

/// "should return the cached query data if the query is found" (ensureQueryData)
/// (differs by design: fresh for 5 min by default, SPEC §3)
#[test]
fn should_return_the_cached_query_data_if_the_query_is_found() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.set(&k, "bar");
    sim.prefetch(&k, QueryOptions::default());
    assert_eq!(sim.started, 0);
    assert_eq!(sim.state(&k).data.as_deref(), Some("bar"));
}

/// "supports manual background revalidation via a second query call"
#[test]
fn supports_manual_background_revalidation_via_a_second_query_call() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    let forever = with(|o| o.stale_time_ms = u64::MAX);
    sim.prefetch(&k, forever);
    sim.succeed("v1");
    sim.prefetch(&k, forever);
    assert_eq!(sim.started, 1, "fresh forever");
    sim.prefetch(&k, tanstack());
    assert_eq!(sim.started, 2, "a call with stale time 0 revalidates");
    sim.succeed("v2");
    assert_eq!(sim.state(&k).data.as_deref(), Some("v2"));
}

/// "should not retry by default" (fetchQuery)
/// (differs by design: every fetch retries 5xx and network errors 3 times,
/// SPEC §3; 4xx is not retried, as here)
#[test]
fn should_not_retry_by_default() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.prefetch(&k, QueryOptions::default());
    sim.fail(http(404));
    assert_eq!(sim.state(&k).status, QueryStatus::Error);
    assert_eq!(sim.cache.poll_timeout(), Some(sim.now + DEFAULT_GC_TIME_MS));
    sim.prefetch(&key(&["other"]), QueryOptions::default());
    sim.fail(http(503));
    assert_eq!(
        sim.state(&key(&["other"])).fetch_status,
        FetchStatus::Fetching
    );
}

/// "should return the cached data on cache hit" (fetchQuery)
#[test]
fn should_return_the_cached_data_on_cache_hit() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.prefetch(&k, QueryOptions::default());
    sim.succeed("data");
    sim.prefetch(&k, QueryOptions::default());
    assert_eq!(sim.started, 1);
    assert_eq!(sim.state(&k).data.as_deref(), Some("data"));
}

/// "should be able to fetch when garbage collection time is set to 0 and then be removed"
#[test]
fn should_be_able_to_fetch_when_garbage_collection_time_is_set_to_0_and_then_be_removed() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.prefetch(&k, with(|o| o.gc_time_ms = 0));
    sim.advance(10);
    sim.succeed("data");
    assert_eq!(sim.state(&k).data.as_deref(), Some("data"));
    sim.advance(0);
    assert_eq!(sim.cache.get_query_data(&k), None);
}

/// "should keep a query in cache if garbage collection time is Infinity"
#[test]
fn should_keep_a_query_in_cache_if_garbage_collection_time_is_infinity() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.prefetch(&k, with(|o| o.gc_time_ms = u64::MAX));
    sim.succeed("data");
    assert_eq!(sim.cache.poll_timeout(), None, "no timer for never");
    sim.advance(365 * 24 * 3_600_000);
    assert_eq!(sim.data(&k), Some("data"));
}

/// "should not force fetch" (fetchQuery)
#[test]
fn should_not_force_fetch() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.set(&k, "og");
    sim.prefetch(&k, QueryOptions::default());
    assert_eq!(sim.started, 0);
    assert_eq!(sim.state(&k).data.as_deref(), Some("og"));
}

/// "should only fetch if the data is older then the given stale time"
#[test]
fn should_only_fetch_if_the_data_is_older_then_the_given_stale_time() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    let stale10 = with(|o| o.stale_time_ms = 10);
    sim.prefetch(&k, stale10);
    sim.succeed("1");
    sim.advance(9);
    sim.prefetch(&k, stale10);
    assert_eq!(sim.started, 1);
    sim.advance(1);
    sim.prefetch(&k, stale10);
    assert_eq!(sim.started, 2);
}

/// "should be garbage collected after gcTime if unused" (prefetchQuery)
#[test]
fn should_be_garbage_collected_after_gc_time_if_unused() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.prefetch(&k, with(|o| o.gc_time_ms = 10));
    // Slower than its gc time: collected 10 ms after it ends, not lost.
    sim.advance(20);
    assert_eq!(sim.cache.len(), 1);
    sim.succeed("data");
    sim.advance(9);
    assert_eq!(sim.cache.len(), 1);
    sim.advance(1);
    assert!(sim.cache.is_empty());
}

/// "should not crash when exact is provided" (removeQueries)
#[test]
fn should_not_crash_when_exact_is_provided() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.set(&k, "data");
    sim.run(Action::Remove(KeyFilter::Exact(k.clone())));
    assert!(sim.cache.is_empty());
    assert_eq!(sim.removed, vec![k.hash_key()]);
}

/// "should revert queries to their previous state" (cancelQueries)
#[test]
fn should_revert_queries_to_their_previous_state() {
    let mut sim = Sim::new();
    let (k1, k2, k3) = (key(&["k1"]), key(&["k2"]), key(&["k3"]));
    sim.set(&k1, "data");
    sim.prefetch(&k1, tanstack());
    sim.prefetch(&k2, tanstack());
    sim.prefetch(&k3, with(|o| o.retry = no_retry()));
    sim.in_flight.rotate_left(2);
    sim.fail(http(500));
    sim.prefetch(&k3, tanstack());
    sim.run(Action::Cancel(KeyFilter::All));
    assert_eq!(sim.state(&k1).data.as_deref(), Some("data"));
    assert_eq!(sim.state(&k2).status, QueryStatus::Pending);
    assert_eq!(sim.state(&k3).status, QueryStatus::Error);
    for k in [&k1, &k2, &k3] {
        assert_eq!(sim.state(k).fetch_status, FetchStatus::Idle);
    }
}

/// "should throw CancelledError for imperative methods when initial fetch is cancelled"
#[test]
fn should_throw_cancelled_error_for_imperative_methods_when_initial_fetch_is_cancelled() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.prefetch(&k, tanstack());
    sim.run(Action::Cancel(KeyFilter::Exact(k.clone())));
    assert_eq!(sim.state(&k), &QueryState::default());
}

/// "should not refetch if all observers are disabled" (refetchQueries)
#[test]
fn should_not_refetch_if_all_observers_are_disabled() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.prefetch(&k, tanstack());
    sim.succeed("data");
    sim.mount_with(&k, 1, disabled());
    sim.run(Action::RefetchQueries {
        filter: KeyFilter::All,
        cancel_refetch: true,
    });
    assert_eq!(sim.started, 1);
}

/// "should refetch if at least one observer is enabled" (refetchQueries)
#[test]
fn should_refetch_if_at_least_one_observer_is_enabled() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.prefetch(&k, tanstack());
    sim.succeed("data");
    sim.mount_with(&k, 1, disabled());
    sim.mount_with(&k, 2, QueryOptions::default());
    sim.run(Action::RefetchQueries {
        filter: KeyFilter::All,
        cancel_refetch: true,
    });
    assert_eq!(sim.started, 2);
}

/// "should refetch all queries when no arguments are given" (refetchQueries)
#[test]
fn should_refetch_all_queries_when_no_arguments_are_given() {
    let mut sim = Sim::new();
    let (k1, k2) = (key(&["k1"]), key(&["k2"]));
    for k in [&k1, &k2] {
        sim.prefetch(k, tanstack());
        sim.succeed("data");
    }
    sim.mount_with(&k1, 1, QueryOptions::default());
    sim.run(Action::RefetchQueries {
        filter: KeyFilter::All,
        cancel_refetch: true,
    });
    assert_eq!(sim.started, 4, "active and inactive alike");
}

/// "should be able to refetch all stale queries" (cancelRefetch: a fetch in
/// flight for data already shown starts again)
#[test]
fn should_be_able_to_refetch_all_stale_queries() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.mount_with(&k, 1, tanstack());
    sim.succeed("data");
    sim.invalidate(&k);
    let invalidation = sim.in_flight[0].0;
    sim.run(Action::RefetchQueries {
        filter: KeyFilter::Prefix(k.clone()),
        cancel_refetch: true,
    });
    assert_eq!(sim.aborted, vec![invalidation]);
    assert_eq!(sim.started, 3);
}

/// "should resolve Promise immediately if query is paused" (refetchQueries)
/// (differs by design: the first attempt goes out offline, SPEC §3)
#[test]
fn should_resolve_promise_immediately_if_query_is_paused() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.prefetch(&k, tanstack());
    sim.succeed("data");
    sim.run(Action::Online(false));
    sim.run(Action::RefetchQueries {
        filter: KeyFilter::All,
        cancel_refetch: true,
    });
    assert_eq!(sim.started, 2);
    sim.fail(Failure::Network);
    assert_eq!(sim.state(&k).fetch_status, FetchStatus::Paused);
}

/// "should refetch active queries by default" (invalidateQueries)
#[test]
fn should_refetch_active_queries_by_default() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.mount_with(&k, 1, tanstack());
    sim.succeed("data");
    sim.invalidate(&k);
    assert_eq!(sim.started, 2);
}

/// "should not refetch inactive queries by default" (invalidateQueries)
#[test]
fn should_not_refetch_inactive_queries_by_default() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.mount_with(&k, 1, disabled());
    sim.set(&k, "data");
    sim.invalidate(&k);
    assert_eq!(sim.started, 0);
    assert!(sim.state(&k).invalidated);
}

fn invalidate_with(refetch_type: RefetchType) -> (usize, usize) {
    let mut sim = Sim::new();
    let (active, inactive) = (key(&["active"]), key(&["inactive"]));
    sim.mount_with(&active, 1, tanstack());
    sim.succeed("a");
    sim.prefetch(&inactive, tanstack());
    sim.succeed("b");
    sim.run(Action::InvalidateQueries {
        filter: KeyFilter::All,
        refetch_type,
    });
    let started = |k: &QueryKey| sim.in_flight.iter().filter(|(_, key)| key == k).count();
    (started(&active), started(&inactive))
}

/// "should not refetch active queries when \"refetch\" is \"none\""
#[test]
fn should_not_refetch_active_queries_when_refetch_is_none() {
    assert_eq!(invalidate_with(RefetchType::None), (0, 0));
}

/// "should refetch inactive queries when \"refetch\" is \"inactive\""
#[test]
fn should_refetch_inactive_queries_when_refetch_is_inactive() {
    assert_eq!(invalidate_with(RefetchType::Inactive), (0, 1));
}

/// "should refetch active and inactive queries when \"refetch\" is \"all\""
#[test]
fn should_refetch_active_and_inactive_queries_when_refetch_is_all() {
    assert_eq!(invalidate_with(RefetchType::All), (1, 1));
}

/// "should not refetch disabled inactive queries even if \"refetchType\" is \"all\""
#[test]
fn should_not_refetch_disabled_inactive_queries_even_if_refetch_type_is_all() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.mount_with(&k, 1, disabled());
    sim.run(Action::InvalidateQueries {
        filter: KeyFilter::All,
        refetch_type: RefetchType::All,
    });
    assert_eq!(sim.started, 0);
}

/// "should cancel ongoing fetches if cancelRefetch option is set (default value)"
#[test]
fn should_cancel_ongoing_fetches_if_cancel_refetch_option_is_set_default_value() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.mount_with(&k, 1, tanstack());
    sim.succeed("data");
    sim.run(Action::Refetch(k.clone()));
    let first = sim.in_flight[0].0;
    sim.run(Action::RefetchQueries {
        filter: KeyFilter::All,
        cancel_refetch: true,
    });
    assert_eq!(sim.aborted, vec![first]);
    assert_eq!(sim.started, 3);
}

/// "should not cancel ongoing fetches if cancelRefetch option is set to false"
#[test]
fn should_not_cancel_ongoing_fetches_if_cancel_refetch_option_is_set_to_false() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.mount_with(&k, 1, tanstack());
    sim.succeed("data");
    sim.run(Action::Refetch(k.clone()));
    sim.run(Action::RefetchQueries {
        filter: KeyFilter::All,
        cancel_refetch: false,
    });
    assert!(sim.aborted.is_empty());
    assert_eq!(sim.started, 2);
}

/// "should notify queryCache and mutationCache if focused" (focusManager)
#[test]
fn should_notify_query_cache_and_mutation_cache_if_focused() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.mount_with(&k, 1, tanstack());
    sim.succeed("data");
    sim.refocus();
    assert_eq!(sim.started, 2);
    sim.succeed("again");
    // Each "visible" event counts (the focus manager's default listener
    // notifies on every visibilitychange); an online signal without a
    // change does not (the online manager compares).
    sim.run(Action::Focus(true));
    assert_eq!(sim.started, 3);
}

/// "should notify queryCache and mutationCache if online" (onlineManager)
#[test]
fn should_notify_query_cache_and_mutation_cache_if_online() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.mount_with(&k, 1, tanstack());
    sim.succeed("data");
    sim.run(Action::Online(true));
    assert_eq!(sim.started, 1, "already online: no change, no refetch");
    sim.reconnect();
    assert_eq!(sim.started, 2);
}
