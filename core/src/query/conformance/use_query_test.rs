//! The behaviour cases of `packages/react-query/src/__tests__/useQuery.test.tsx`
//! (rendering left out): a mounted component is a `Subscribe`.

use super::{no_retry, retry, tanstack, with};
use crate::query::sim::*;
use crate::query::*;
use crate::retry::Failure;

/// "should return the correct states for a successful query"
#[test]
fn should_return_the_correct_states_for_a_successful_query() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.mount_with(&k, 1, tanstack());
    let before = sim.state(&k).clone();
    assert_eq!(
        (before.status, before.fetch_status),
        (QueryStatus::Pending, FetchStatus::Fetching)
    );
    assert_eq!(before.data_updated_at, 0);
    sim.succeed("test");
    let after = sim.state(&k);
    assert_eq!(after.status, QueryStatus::Success);
    assert_eq!(after.data_updated_at, sim.now);
    assert_eq!(after.failure_count, 0);
    assert_eq!(after.failure_reason, None);
}

/// "should return the correct states for an unsuccessful query"
#[test]
fn should_return_the_correct_states_for_an_unsuccessful_query() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.mount_with(&k, 1, with(|o| o.retry = retry(1, 1)));
    sim.fail(http(500));
    let mid = sim.state(&k);
    assert_eq!(mid.status, QueryStatus::Pending);
    assert_eq!(mid.failure_count, 1);
    assert!(mid.failure_reason.is_some(), "the retried failure is kept");
    assert_eq!(mid.error, None);
    sim.advance(1);
    sim.fail(http(500));
    let end = sim.state(&k);
    assert_eq!(end.status, QueryStatus::Error);
    assert_eq!(end.failure_count, 2);
    assert_eq!(end.error, end.failure_reason);
}

/// "should not cancel an ongoing fetch when refetch is called (cancelRefetch=true) if we do not have data yet"
#[test]
fn should_not_cancel_an_ongoing_fetch_when_refetch_is_called_if_we_do_not_have_data_yet() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.mount_with(&k, 1, tanstack());
    sim.run(Action::Refetch(k.clone()));
    assert!(sim.aborted.is_empty());
    assert_eq!(sim.started, 1);
}

/// "should cancel an ongoing fetch when refetch is called (cancelRefetch=true) if we have data already"
#[test]
fn should_cancel_an_ongoing_fetch_when_refetch_is_called_if_we_have_data_already() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.mount_with(&k, 1, tanstack());
    sim.succeed("1");
    sim.run(Action::Refetch(k.clone()));
    sim.run(Action::Refetch(k.clone()));
    assert_eq!(sim.aborted.len(), 1);
    assert_eq!(sim.started, 3);
}

/// "should fetch when refetchOnMount is false and nothing has been fetched yet"
#[test]
fn should_fetch_when_refetch_on_mount_is_false_and_nothing_has_been_fetched_yet() {
    let mut sim = Sim::new();
    sim.mount_with(&key(&["key"]), 1, with(|o| o.refetch_on_mount = false));
    assert_eq!(sim.started, 1);
}

/// "should not fetch when refetchOnMount is false and data has been fetched already"
#[test]
fn should_not_fetch_when_refetch_on_mount_is_false_and_data_has_been_fetched_already() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.set(&k, "prefetched");
    sim.mount_with(&k, 1, with(|o| o.refetch_on_mount = false));
    assert_eq!(sim.started, 0);
}

/// "should update query stale state and refetch when invalidated with invalidateQueries"
#[test]
fn should_update_query_stale_state_and_refetch_when_invalidated_with_invalidate_queries() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.mount_with(&k, 1, with(|o| o.stale_time_ms = u64::MAX));
    sim.succeed("1");
    assert!(!sim.cache.is_stale(&k.hash_key(), sim.now));
    sim.invalidate(&k);
    assert!(sim.cache.is_stale(&k.hash_key(), sim.now));
    sim.succeed("2");
    assert!(!sim.cache.is_stale(&k.hash_key(), sim.now));
}

/// "should not refetch disabled query when invalidated with invalidateQueries"
#[test]
fn should_not_refetch_disabled_query_when_invalidated_with_invalidate_queries() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.mount_with(&k, 1, with(|o| o.enabled = false));
    sim.invalidate(&k);
    assert_eq!(sim.started, 0);
}

/// "should be able to set different stale times for a query"
#[test]
fn should_be_able_to_set_different_stale_times_for_a_query() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    let stale = |ms| with(|o| o.stale_time_ms = ms);
    sim.prefetch(&k, tanstack());
    sim.succeed("prefetch");
    sim.advance(20);
    sim.mount_with(&k, 1, stale(100));
    assert_eq!(sim.started, 1, "20 ms old is fresh for 100 ms");
    sim.mount_with(&k, 2, stale(10));
    assert_eq!(sim.started, 2, "but stale for 10 ms");
}

/// "should update query options" (the latest options' retry applies)
#[test]
fn should_update_query_options() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.mount_with(&k, 1, tanstack());
    sim.mount_with(&k, 2, with(|o| o.retry = no_retry()));
    sim.fail(http(500));
    assert_eq!(
        sim.state(&k).status,
        QueryStatus::Error,
        "no retry, as set last"
    );
}

/// "should start with status pending, fetchStatus idle if enabled is false"
#[test]
fn should_start_with_status_pending_fetch_status_idle_if_enabled_is_false() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.mount_with(&k, 1, with(|o| o.enabled = false));
    assert_eq!(sim.state(&k).status, QueryStatus::Pending);
    assert_eq!(sim.state(&k).fetch_status, FetchStatus::Idle);
}

/// "should not refetch query on focus when `enabled` is set to `false`"
#[test]
fn should_not_refetch_query_on_focus_when_enabled_is_set_to_false() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.set(&k, "x");
    sim.mount_with(&k, 1, with(|o| o.enabled = false));
    sim.refocus();
    assert_eq!(sim.started, 0);
}

/// "should not refetch stale query on focus when `refetchOnWindowFocus` is set to `false`"
#[test]
fn should_not_refetch_stale_query_on_focus_when_refetch_on_window_focus_is_set_to_false() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.mount_with(&k, 1, with(|o| o.refetch_on_window_focus = false));
    sim.succeed("1");
    sim.refocus();
    assert_eq!(sim.started, 1);
}

/// "should not refetch fresh query on focus when `refetchOnWindowFocus` is set to `true`"
#[test]
fn should_not_refetch_fresh_query_on_focus_when_refetch_on_window_focus_is_set_to_true() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.mount_with(&k, 1, with(|o| o.stale_time_ms = u64::MAX));
    sim.succeed("1");
    sim.refocus();
    assert_eq!(sim.started, 1);
}

/// "should refetch stale query when refetchOnMount is set to true"
#[test]
fn should_refetch_stale_query_when_refetch_on_mount_is_set_to_true() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.prefetch(&k, tanstack());
    sim.succeed("prefetched");
    sim.advance(10);
    sim.mount_with(&k, 1, tanstack());
    assert_eq!(sim.started, 2);
}

/// "should set status to error if queryFn throws"
#[test]
fn should_set_status_to_error_if_query_fn_throws() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.mount_with(&k, 1, with(|o| o.retry = no_retry()));
    sim.fail(http(500));
    assert_eq!(sim.state(&k).status, QueryStatus::Error);
    assert!(sim.state(&k).error.is_some());
}

/// "should continue retries when observers unmount and remount while waiting for a retry (#3031)"
#[test]
fn should_continue_retries_when_observers_unmount_and_remount_while_waiting_for_a_retry_3031() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    let o = with(|o| o.retry = retry(2, 100));
    sim.mount_with(&k, 1, o);
    sim.fail(http(500));
    sim.advance(10);
    sim.unmount(&k, 1);
    sim.advance(10);
    sim.mount_with(&k, 1, o);
    sim.advance(80);
    sim.fail(http(500));
    sim.advance(100);
    sim.fail(http(500));
    assert_eq!(sim.started, 3);
    assert_eq!(sim.state(&k).status, QueryStatus::Error);
    assert_eq!(sim.state(&k).failure_count, 3);
}

/// "should restart when observers unmount and remount while waiting for a retry when query was cancelled in between (#3031)"
#[test]
fn should_restart_when_observers_unmount_and_remount_while_waiting_for_a_retry_when_query_was_cancelled_in_between_3031(
) {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    let o = with(|o| o.retry = retry(2, 100));
    sim.mount_with(&k, 1, o);
    sim.fail(http(500));
    sim.unmount(&k, 1);
    sim.run(Action::Cancel(KeyFilter::Exact(k.clone())));
    sim.mount_with(&k, 1, o);
    assert_eq!(sim.started, 2, "a new fetch, not the old retry");
    assert_eq!(sim.state(&k).failure_count, 0);
}

/// "should retry specified number of times"
#[test]
fn should_retry_specified_number_of_times() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.mount_with(&k, 1, with(|o| o.retry = retry(1, 1)));
    sim.fail(http(500));
    sim.advance(1);
    sim.fail(http(500));
    assert_eq!(sim.started, 2);
    assert_eq!(sim.state(&k).failure_count, 2);
    assert_eq!(sim.state(&k).status, QueryStatus::Error);
}

/// "should not retry if retry function `false`" (differs by design: a 4xx
/// other than 408/429 is never retried, SPEC §3)
#[test]
fn should_not_retry_if_retry_function_false() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.mount_with(&k, 1, QueryOptions::default());
    sim.fail(http(404));
    assert_eq!(sim.state(&k).status, QueryStatus::Error);
    assert_eq!(sim.started, 1);
}

/// "should extract retryDelay from error" (a `Retry-After`, SPEC §3)
#[test]
fn should_extract_retry_delay_from_error() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.mount_with(&k, 1, with(|o| o.retry = retry(1, 1)));
    sim.fail(Failure::Http {
        status: 429,
        retry_after_ms: Some(50),
    });
    assert_eq!(sim.jump(), 50);
    assert_eq!(sim.started, 2);
}

/// "should continue retry after focus regain"
#[test]
fn should_continue_retry_after_focus_regain() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.run(Action::Focus(false));
    sim.mount_with(&k, 1, with(|o| o.retry = retry(3, 1)));
    sim.fail(http(500));
    sim.advance(10);
    assert_eq!(sim.started, 1, "paused while hidden");
    assert_eq!(sim.state(&k).fetch_status, FetchStatus::Paused);
    assert_eq!(sim.state(&k).failure_count, 1);
    sim.run(Action::Focus(true));
    assert_eq!(sim.started, 2);
    assert_eq!(sim.state(&k).failure_count, 1, "the same fetch goes on");
}

/// "should fetch on mount when a query was already created with setQueryData"
/// (differs by design: data set now is fresh for 5 min, SPEC §3)
#[test]
fn should_fetch_on_mount_when_a_query_was_already_created_with_set_query_data() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.set(&k, "prefetched");
    sim.mount(&k, 1);
    assert_eq!(sim.started, 0);
    sim.unmount(&k, 1);
    sim.mount_with(&k, 2, tanstack());
    assert_eq!(sim.started, 1, "with TanStack's stale time 0 it fetches");
}

/// "should refetch after focus regain"
#[test]
fn should_refetch_after_focus_regain() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.mount_with(&k, 1, tanstack());
    sim.succeed("1");
    sim.refocus();
    assert_eq!(sim.started, 2);
}

/// "should refetch if stale after a prefetch"
#[test]
fn should_refetch_if_stale_after_a_prefetch() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.prefetch(&k, tanstack());
    sim.succeed("prefetched");
    sim.mount_with(&k, 1, tanstack());
    assert_eq!(sim.started, 2);
}

/// "should not refetch if not stale after a prefetch"
#[test]
fn should_not_refetch_if_not_stale_after_a_prefetch() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    let o = with(|o| o.stale_time_ms = 1_000);
    sim.prefetch(&k, o);
    sim.succeed("prefetched");
    sim.advance(10);
    sim.mount_with(&k, 1, o);
    assert_eq!(sim.started, 1);
}

/// "should reset failureCount on successful fetch"
#[test]
fn should_reset_failure_count_on_successful_fetch() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.mount_with(&k, 1, with(|o| o.retry = retry(1, 1)));
    sim.fail(http(500));
    assert_eq!(sim.state(&k).failure_count, 1);
    sim.advance(1);
    sim.succeed("data");
    assert_eq!(sim.state(&k).failure_count, 0);
    assert_eq!(sim.state(&k).failure_reason, None);
}

/// "should support dependent queries via the enable config option"
#[test]
fn should_support_dependent_queries_via_the_enable_config_option() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    let off = with(|o| o.enabled = false);
    sim.mount_with(&k, 1, off);
    assert_eq!(sim.started, 0);
    sim.mount_with(&k, 1, tanstack());
    assert_eq!(sim.started, 1);
}

/// "should not schedule garbage collection, if gcTimeout is set to `Infinity`"
#[test]
fn should_not_schedule_garbage_collection_if_gc_timeout_is_set_to_infinity() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.mount_with(&k, 1, with(|o| o.gc_time_ms = u64::MAX));
    sim.succeed("data");
    sim.unmount(&k, 1);
    assert_eq!(sim.cache.poll_timeout(), None);
}

/// "should schedule garbage collection, if gcTimeout is not set to infinity"
#[test]
fn should_schedule_garbage_collection_if_gc_timeout_is_not_set_to_infinity() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.mount_with(&k, 1, with(|o| o.gc_time_ms = 1_000 * 60 * 10));
    sim.succeed("data");
    sim.unmount(&k, 1);
    assert_eq!(sim.jump(), 600_000);
    assert!(sim.cache.is_empty());
}

/// "should not interval fetch with a refetchInterval of 0"
#[test]
fn should_not_interval_fetch_with_a_refetch_interval_of_0() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.mount_with(&k, 1, with(|o| o.refetch_interval_ms = Some(0)));
    sim.succeed("data");
    sim.advance(10);
    assert_eq!(sim.started, 1);
}

/// "should have no error in pending state when refetching after error occurred"
#[test]
fn should_have_no_error_in_pending_state_when_refetching_after_error_occurred() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.mount_with(&k, 1, with(|o| o.retry = no_retry()));
    sim.fail(http(500));
    assert_eq!(sim.state(&k).status, QueryStatus::Error);
    sim.run(Action::Refetch(k.clone()));
    assert_eq!(sim.state(&k).status, QueryStatus::Pending);
    assert_eq!(sim.state(&k).error, None);
}

/// "should refetch when changed enabled to true in error state"
#[test]
fn should_refetch_when_changed_enabled_to_true_in_error_state() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    let on = with(|o| o.retry = no_retry());
    sim.mount_with(&k, 1, on);
    sim.fail(http(500));
    sim.mount_with(
        &k,
        1,
        QueryOptions {
            enabled: false,
            ..on
        },
    );
    sim.mount_with(&k, 1, on);
    assert_eq!(sim.started, 2);
}

/// "networkMode online online queries should not start fetching if you are offline"
/// (differs by design: the first attempt goes out offline, SPEC §3; it
/// then pauses without spending an attempt)
#[test]
fn network_mode_online_online_queries_should_not_start_fetching_if_you_are_offline() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.run(Action::Online(false));
    sim.mount_with(&k, 1, tanstack());
    assert_eq!(sim.started, 1);
    sim.fail(Failure::Network);
    assert_eq!(sim.state(&k).fetch_status, FetchStatus::Paused);
    assert_eq!(sim.state(&k).failure_count, 0);
    sim.run(Action::Online(true));
    sim.succeed("data");
    assert_eq!(sim.state(&k).status, QueryStatus::Success);
}

/// "networkMode online online queries should not fetch if paused initial load and we go online after unmount"
#[test]
fn network_mode_online_online_queries_should_not_fetch_if_paused_initial_load_and_we_go_online_after_unmount(
) {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.run(Action::Online(false));
    sim.mount_with(&k, 1, tanstack());
    sim.fail(Failure::Network);
    sim.unmount(&k, 1);
    sim.run(Action::Online(true));
    assert_eq!(sim.started, 1);
}

/// "networkMode online online queries should re-fetch if paused and we go online even if already unmounted (because not cancelled)"
/// (a paused refetch of data already shown is kept; differs in that the
/// cancelled retry gives up instead of fetching for nobody)
#[test]
fn network_mode_online_online_queries_should_re_fetch_if_paused_and_we_go_online_even_if_already_unmounted(
) {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.mount_with(&k, 1, tanstack());
    sim.succeed("data");
    sim.run(Action::Online(false));
    sim.run(Action::Refetch(k.clone()));
    sim.fail(Failure::Network);
    sim.unmount(&k, 1);
    assert_eq!(sim.state(&k).fetch_status, FetchStatus::Paused);
    sim.run(Action::Online(true));
    assert_eq!(sim.state(&k).fetch_status, FetchStatus::Idle);
    assert_eq!(
        sim.state(&k).data.as_deref(),
        Some("data"),
        "the data stays"
    );
}
