//! `packages/query-core/src/__tests__/query.test.tsx`.

use super::{no_retry, retry, tanstack, with};
use crate::query::sim::*;
use crate::query::*;
use crate::retry::Failure;

fn opts(gc: u64) -> QueryOptions {
    with(|o| o.gc_time_ms = gc)
}

/// "should use the longest garbage collection time it has seen"
#[test]
fn should_use_the_longest_garbage_collection_time_it_has_seen() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    for gc in [100, 200, 10] {
        sim.prefetch(&k, opts(gc));
        sim.succeed("data");
    }
    assert_eq!(sim.jump(), 200, "collected after the longest gc time, 200");
    assert_eq!(sim.removed, vec![k.hash_key()]);
}

/// "should continue retry after focus regain and resolve all promises"
#[test]
fn should_continue_retry_after_focus_regain_and_resolve_all_promises() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.run(Action::Focus(false));
    sim.prefetch(&k, with(|o| o.retry = retry(3, 1)));
    sim.fail(http(500));
    sim.advance(50);
    assert!(
        sim.in_flight.is_empty(),
        "no retry while the page is hidden"
    );
    assert_eq!(sim.state(&k).fetch_status, FetchStatus::Paused);
    sim.run(Action::Focus(true));
    sim.fail(http(500));
    sim.advance(1);
    sim.succeed("data3");
    assert_eq!(sim.state(&k).data.as_deref(), Some("data3"));
    assert_eq!(sim.started, 3);
}

/// "should continue retry after reconnect and resolve all promises"
/// (differs by design: the first attempt goes out offline, SPEC §3 "an
/// offline-first fetch", and its network failure spends no attempt)
#[test]
fn should_continue_retry_after_reconnect_and_resolve_all_promises() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.run(Action::Online(false));
    sim.prefetch(&k, with(|o| o.retry = retry(3, 1)));
    sim.fail(Failure::Network);
    assert_eq!(sim.state(&k).fetch_status, FetchStatus::Paused);
    assert_eq!(sim.state(&k).failure_count, 0);
    sim.advance(50);
    assert!(sim.in_flight.is_empty());
    sim.run(Action::Online(true));
    sim.fail(http(500));
    sim.advance(1);
    sim.succeed("data3");
    assert_eq!(sim.state(&k).data.as_deref(), Some("data3"));
}

/// "should throw a CancelledError when a paused query is cancelled"
/// (no promise here: the cancel puts the state back and nothing resumes)
#[test]
fn should_throw_a_cancelled_error_when_a_paused_query_is_cancelled() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.run(Action::Online(false));
    sim.prefetch(&k, tanstack());
    sim.fail(Failure::Network);
    assert_eq!(sim.state(&k).fetch_status, FetchStatus::Paused);
    sim.run(Action::Cancel(KeyFilter::Exact(k.clone())));
    assert_eq!(sim.state(&k).fetch_status, FetchStatus::Idle);
    sim.run(Action::Online(true));
    assert_eq!(sim.started, 1, "a cancelled pause does not resume");
}

/// "should cancel a paused initial fetch when the last observer unsubscribes"
#[test]
fn should_cancel_a_paused_initial_fetch_when_the_last_observer_unsubscribes() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.run(Action::Online(false));
    sim.mount_with(&k, 1, tanstack());
    sim.fail(Failure::Network);
    assert_eq!(sim.state(&k).fetch_status, FetchStatus::Paused);
    assert_eq!(sim.state(&k).status, QueryStatus::Pending);
    sim.unmount(&k, 1);
    assert_eq!(sim.state(&k).fetch_status, FetchStatus::Idle);
    assert_eq!(sim.state(&k).status, QueryStatus::Pending);
    sim.run(Action::Online(true));
    assert_eq!(
        sim.started, 1,
        "nobody waits for it: no request on reconnect"
    );
    assert_eq!(sim.state(&k).fetch_status, FetchStatus::Idle);
}

/// "should provide context to queryFn"
#[test]
fn should_provide_context_to_query_fn() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.prefetch(&k, tanstack());
    assert_eq!(sim.in_flight[0].1, k, "the fetch is told its key");
}

/// "should continue if cancellation is not supported and signal is not consumed"
#[test]
fn should_continue_if_cancellation_is_not_supported_and_signal_is_not_consumed() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.prefetch(&k, tanstack());
    let disabled = with(|o| o.enabled = false);
    sim.mount_with(&k, 1, disabled);
    sim.unmount(&k, 1);
    sim.succeed("data");
    assert_eq!(sim.state(&k).data.as_deref(), Some("data"));
    assert_eq!(sim.state(&k).status, QueryStatus::Success);
}

/// "should not continue when last observer unsubscribed if the signal was consumed"
/// (differs by design: the cache never knows whether a fetcher can be
/// aborted; an observer leaving never aborts, the answer is kept)
#[test]
fn should_not_continue_when_last_observer_unsubscribed_if_the_signal_was_consumed() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.mount_with(&k, 1, tanstack());
    sim.unmount(&k, 1);
    assert!(sim.aborted.is_empty());
    sim.succeed("data");
    assert_eq!(sim.state(&k).data.as_deref(), Some("data"));
}

/// "should not continue if explicitly cancelled"
#[test]
fn should_not_continue_if_explicitly_cancelled() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.prefetch(&k, with(|o| o.retry = retry(3, 10)));
    let fetch = sim.in_flight[0].0;
    sim.run(Action::Cancel(KeyFilter::Exact(k.clone())));
    sim.run(Action::FetchFailed {
        fetch,
        error: "late".into(),
        failure: http(500),
        jitter: 0.0,
    });
    sim.advance(100);
    assert_eq!(sim.started, 1, "called once, never retried");
    assert_eq!(sim.aborted, vec![fetch]);
}

/// "should be able to refetch a cancelled query"
#[test]
fn should_be_able_to_refetch_a_cancelled_query() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.prefetch(&k, tanstack());
    sim.advance(10);
    sim.run(Action::Cancel(KeyFilter::Exact(k.clone())));
    assert_eq!(sim.started, 1);
    sim.run(Action::Refetch(k.clone()));
    sim.succeed("data");
    assert_eq!(sim.started, 2);
    assert_eq!(sim.state(&k).data.as_deref(), Some("data"));
    assert_eq!(sim.state(&k).error, None);
}

/// "cancelling a resolved query should not have any effect"
#[test]
fn cancelling_a_resolved_query_should_not_have_any_effect() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.prefetch(&k, tanstack());
    sim.succeed("data");
    let changes = sim.changes.len();
    sim.run(Action::Cancel(KeyFilter::Exact(k.clone())));
    assert_eq!(sim.state(&k).data.as_deref(), Some("data"));
    assert_eq!(sim.changes.len(), changes, "nobody is told of nothing");
}

/// "cancelling a rejected query should not have any effect"
#[test]
fn cancelling_a_rejected_query_should_not_have_any_effect() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.prefetch(&k, with(|o| o.retry = no_retry()));
    sim.fail(http(500));
    sim.run(Action::Cancel(KeyFilter::Exact(k.clone())));
    assert_eq!(sim.state(&k).status, QueryStatus::Error);
    assert!(sim.state(&k).error.as_deref().unwrap().contains("500"));
}

/// "the previous query status should be kept when refetching"
#[test]
fn the_previous_query_status_should_be_kept_when_refetching() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    let once = with(|o| o.retry = no_retry());
    sim.prefetch(&k, once);
    sim.succeed("data");
    sim.prefetch(&k, once);
    sim.fail(http(400));
    assert_eq!(sim.state(&k).status, QueryStatus::Error);
    sim.prefetch(&k, once);
    assert_eq!(
        sim.state(&k).status,
        QueryStatus::Error,
        "kept while fetching"
    );
    assert_eq!(sim.state(&k).fetch_status, FetchStatus::Fetching);
    sim.fail(http(400));
    assert_eq!(sim.state(&k).status, QueryStatus::Error);
}

/// "queries with gcTime 0 should be removed immediately after unsubscribing"
#[test]
fn queries_with_gc_time_0_should_be_removed_immediately_after_unsubscribing() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    let o = with(|o| {
        o.gc_time_ms = 0;
        o.stale_time_ms = u64::MAX;
    });
    sim.mount_with(&k, 1, o);
    sim.unmount(&k, 1);
    // The gc deadline passes while the fetch is in flight: kept until it
    // ends, then collected.
    sim.advance(0);
    assert!(sim.removed.is_empty());
    sim.succeed("data");
    sim.advance(0);
    assert_eq!(sim.removed, vec![k.hash_key()]);
}

/// "should be garbage collected when unsubscribed to"
#[test]
fn should_be_garbage_collected_when_unsubscribed_to() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.mount_with(&k, 1, opts(0));
    sim.succeed("data");
    assert_eq!(sim.cache.len(), 1);
    sim.unmount(&k, 1);
    sim.advance(0);
    assert!(sim.cache.is_empty());
}

/// "should be garbage collected later when unsubscribed and query is fetching"
#[test]
fn should_be_garbage_collected_later_when_unsubscribed_and_query_is_fetching() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.mount_with(&k, 1, opts(10));
    sim.advance(10);
    sim.unmount(&k, 1);
    sim.advance(10);
    assert_eq!(sim.cache.len(), 1, "still fetching: kept");
    sim.succeed("data");
    assert_eq!(sim.cache.len(), 1);
    sim.advance(10);
    assert!(
        sim.cache.is_empty(),
        "collected a gc time after the fetch ended"
    );
}

/// "should not be garbage collected unless there are no subscribers"
#[test]
fn should_not_be_garbage_collected_unless_there_are_no_subscribers() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.mount_with(&k, 1, opts(0));
    sim.succeed("data");
    sim.advance(100);
    assert_eq!(sim.cache.len(), 1);
    sim.unmount(&k, 1);
    sim.advance(0);
    assert!(sim.cache.is_empty());
}

/// "should return proper count of observers"
#[test]
fn should_return_proper_count_of_observers() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    for id in 1..=3 {
        sim.mount_with(&k, id, tanstack());
    }
    assert_eq!(sim.cache.observer_count(&k.hash_key()), 3);
}

/// "should not add an existing observer"
#[test]
fn should_not_add_an_existing_observer() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.mount_with(&k, 1, tanstack());
    sim.mount_with(&k, 1, tanstack());
    assert_eq!(sim.cache.observer_count(&k.hash_key()), 1);
}

/// "should not try to remove an observer that does not exist"
#[test]
fn should_not_try_to_remove_an_observer_that_does_not_exist() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.prefetch(&k, opts(100));
    sim.succeed("data");
    sim.advance(50);
    let changes = sim.changes.len();
    sim.unmount(&k, 9);
    assert_eq!(sim.changes.len(), changes);
    assert_eq!(sim.jump(), 50, "its gc deadline did not move");
}

/// "should not change state on invalidate() if already invalidated"
#[test]
fn should_not_change_state_on_invalidate_if_already_invalidated() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.prefetch(&k, tanstack());
    sim.succeed("data");
    sim.invalidate(&k);
    assert!(sim.state(&k).invalidated);
    let (state, changes) = (sim.state(&k).clone(), sim.changes.len());
    sim.invalidate(&k);
    assert_eq!(sim.state(&k), &state);
    assert_eq!(
        sim.changes.len(),
        changes,
        "a no-op invalidation notifies nobody"
    );
}

/// "fetch should not dispatch \"fetch\" query is already fetching"
#[test]
fn fetch_should_not_dispatch_fetch_query_is_already_fetching() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.prefetch(&k, tanstack());
    sim.prefetch(&k, tanstack());
    sim.succeed("data");
    assert_eq!(sim.started, 1);
    assert_eq!(sim.changes.len(), 2, "fetching, then data");
}

/// "queries should be garbage collected even if they never fetched"
/// (differs by design: gc defaults to 10 min, SPEC §3)
#[test]
fn queries_should_be_garbage_collected_even_if_they_never_fetched() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.run(Action::Prefetch {
        key: k.clone(),
        options: QueryOptions {
            enabled: false,
            ..QueryOptions::default()
        },
    });
    assert_eq!(sim.started, 0);
    assert_eq!(sim.jump(), DEFAULT_GC_TIME_MS);
    assert!(sim.cache.is_empty());
}

/// "should not reject a promise when silently cancelled in the background"
#[test]
fn should_not_reject_a_promise_when_silently_cancelled_in_the_background() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.set(&k, "initial");
    sim.prefetch(&k, tanstack());
    let first = sim.in_flight[0].0;
    sim.run(Action::RefetchQueries {
        filter: KeyFilter::Exact(k.clone()),
        cancel_refetch: true,
    });
    assert_eq!(sim.aborted, vec![first], "the first is cancelled silently");
    assert_eq!(sim.started, 2);
    sim.succeed("new");
    assert_eq!(sim.state(&k).data.as_deref(), Some("new"));
    assert_eq!(sim.state(&k).error, None);
}

/// "should work with initialDataUpdatedAt set to zero"
#[test]
fn should_work_with_initial_data_updated_at_set_to_zero() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.run(Action::Restore(vec![SavedEntry {
        key: k.clone(),
        data: "initial".into(),
        updated_at: 0,
    }]));
    sim.mount_with(&k, 1, with(|o| o.stale_time_ms = u64::MAX));
    assert_eq!(sim.started, 0);
    assert_eq!(sim.state(&k).data_updated_at, 0);
}

/// "should refetch the observer when online method is called"
#[test]
fn should_refetch_the_observer_when_online_method_is_called() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.mount_with(&k, 1, tanstack());
    sim.succeed("data");
    sim.reconnect();
    assert_eq!(sim.started, 2);
}

/// "should always revert to idle state (#5968)"
/// (differs by design: a fetch goes on when its last observer leaves)
#[test]
fn should_always_revert_to_idle_state_5968() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.mount_with(&k, 1, tanstack());
    sim.invalidate(&k);
    sim.invalidate(&k);
    assert_eq!(sim.aborted.len(), 2, "each invalidation restarts the fetch");
    sim.unmount(&k, 1);
    sim.succeed("1");
    assert_eq!(sim.state(&k).fetch_status, FetchStatus::Idle);
    assert_eq!(sim.state(&k).data.as_deref(), Some("1"));
}

/// "should not override fetching state when revert happens after new observer subscribes"
#[test]
fn should_not_override_fetching_state_when_revert_happens_after_new_observer_subscribes() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.mount_with(&k, 1, tanstack());
    sim.unmount(&k, 1);
    sim.mount_with(&k, 2, tanstack());
    assert_eq!(sim.state(&k).fetch_status, FetchStatus::Fetching);
    sim.succeed("data0");
    assert_eq!(sim.started, 1);
    assert_eq!(sim.state(&k).data.as_deref(), Some("data0"));
}
