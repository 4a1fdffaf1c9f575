//! `packages/query-core/src/__tests__/queryObserver.test.tsx`. An observer
//! is a `Subscribe` with its options; its result is the key's state.

use super::{disabled, no_retry, retry, tanstack, with};
use crate::query::sim::*;
use crate::query::*;

/// "should trigger a fetch when subscribed"
#[test]
fn should_trigger_a_fetch_when_subscribed() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.mount_with(&k, 1, tanstack());
    sim.unmount(&k, 1);
    assert_eq!(sim.started, 1);
}

/// "should go through a pending state even when the queryFn returns synchronously"
#[test]
fn should_go_through_a_pending_state_even_when_the_query_fn_returns_synchronously() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.mount_with(&k, 1, tanstack());
    assert_eq!(sim.state(&k).status, QueryStatus::Pending);
    assert_eq!(sim.state(&k).fetch_status, FetchStatus::Fetching);
    sim.succeed("data");
    assert_eq!(sim.state(&k).status, QueryStatus::Success);
    assert_eq!(sim.state(&k).fetch_status, FetchStatus::Idle);
}

/// "should be able to read latest data after subscribing"
#[test]
fn should_be_able_to_read_latest_data_after_subscribing() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.set(&k, "data");
    sim.mount_with(&k, 1, disabled());
    assert_eq!(sim.state(&k).status, QueryStatus::Success);
    assert_eq!(sim.state(&k).data.as_deref(), Some("data"));
}

/// "should not fetch on mount"
#[test]
fn should_not_fetch_on_mount() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.mount_with(
        &k,
        1,
        QueryOptions {
            stale_time_ms: u64::MAX,
            ..disabled()
        },
    );
    assert_eq!(sim.started, 0);
    assert_eq!(sim.state(&k).status, QueryStatus::Pending);
    assert_eq!(sim.state(&k).fetch_status, FetchStatus::Idle);
}

/// "should not be re-fetched when invalidated with refetchType: all"
#[test]
fn should_not_be_re_fetched_when_invalidated_with_refetch_type_all() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.mount_with(&k, 1, disabled());
    sim.run(Action::InvalidateQueries {
        filter: KeyFilter::Exact(k.clone()),
        refetch_type: RefetchType::All,
    });
    sim.advance(10);
    assert_eq!(sim.started, 0);
}

/// "should still trigger a fetch when refetch is called"
#[test]
fn should_still_trigger_a_fetch_when_refetch_is_called() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.mount_with(&k, 1, disabled());
    sim.run(Action::Refetch(k.clone()));
    assert_eq!(sim.state(&k).fetch_status, FetchStatus::Fetching);
    sim.succeed("data");
    assert_eq!(sim.state(&k).status, QueryStatus::Success);
    assert_eq!(sim.started, 1);
}

/// "should fetch if unsubscribed, then enabled returns true, and then re-subscribed"
#[test]
fn should_fetch_if_unsubscribed_then_enabled_returns_true_and_then_re_subscribed() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.mount_with(&k, 1, disabled());
    sim.unmount(&k, 1);
    assert_eq!(sim.started, 0);
    sim.mount_with(&k, 1, tanstack());
    assert_eq!(sim.started, 1);
}

/// "should not be re-fetched if not subscribed to after enabled was toggled to true (fetchStatus: \"idle\")"
#[test]
fn should_not_be_re_fetched_if_not_subscribed_to_after_enabled_was_toggled_to_true_idle() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.mount_with(&k, 1, disabled());
    sim.unmount(&k, 1);
    sim.invalidate(&k);
    assert_eq!(sim.started, 0);
}

/// "should be able to read latest data when re-subscribing (but not re-fetching)"
#[test]
fn should_be_able_to_read_latest_data_when_re_subscribing_but_not_re_fetching() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    let forever = with(|o| o.stale_time_ms = u64::MAX);
    sim.mount_with(&k, 1, forever);
    sim.unmount(&k, 1);
    sim.succeed("data");
    sim.mount_with(&k, 1, forever);
    assert_eq!(sim.started, 1);
    assert_eq!(sim.state(&k).status, QueryStatus::Success);
}

/// "should notify when switching query"
#[test]
fn should_notify_when_switching_query() {
    let mut sim = Sim::new();
    let (k1, k2) = (key(&["key", "1"]), key(&["key", "2"]));
    sim.mount_with(&k1, 1, tanstack());
    sim.succeed("1");
    sim.unmount(&k1, 1);
    sim.mount_with(&k2, 1, tanstack());
    assert_eq!(sim.state(&k2).status, QueryStatus::Pending);
    sim.succeed("2");
    let seen: Vec<bool> = sim.changes.iter().map(|(_, d)| *d).collect();
    assert_eq!(seen, vec![false, true, false, true]);
}

/// "should not trigger a fetch when subscribed and disabled"
#[test]
fn should_not_trigger_a_fetch_when_subscribed_and_disabled() {
    let mut sim = Sim::new();
    sim.mount_with(&key(&["key"]), 1, disabled());
    assert_eq!(sim.started, 0);
}

/// "should be able to watch a query without defining a query function"
#[test]
fn should_be_able_to_watch_a_query_without_defining_a_query_function() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.mount_with(&k, 1, disabled());
    sim.prefetch(&k, tanstack());
    sim.succeed("data");
    assert_eq!(sim.started, 1);
    assert_eq!(sim.changes.len(), 2);
}

/// "should be able to handle multiple subscribers"
#[test]
fn should_be_able_to_handle_multiple_subscribers() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.mount_with(&k, 1, tanstack());
    sim.mount_with(&k, 2, tanstack());
    sim.succeed("data");
    assert_eq!(sim.started, 1);
    assert_eq!(sim.state(&k).data.as_deref(), Some("data"));
}

/// "should stop retry when unsubscribing"
#[test]
fn should_stop_retry_when_unsubscribing() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.mount_with(&k, 1, with(|o| o.retry = retry(10, 50)));
    sim.fail(http(500));
    sim.advance(50);
    sim.fail(http(500));
    sim.unmount(&k, 1);
    sim.advance(50);
    assert_eq!(sim.started, 2, "no third call for nobody");
    assert_eq!(sim.state(&k).status, QueryStatus::Error);
    assert_eq!(sim.state(&k).fetch_status, FetchStatus::Idle);
}

/// "should clear interval when unsubscribing to a refetchInterval query"
#[test]
fn should_clear_interval_when_unsubscribing_to_a_refetch_interval_query() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.mount_with(
        &k,
        1,
        with(|o| {
            o.refetch_interval_ms = Some(10);
            o.gc_time_ms = 0;
        }),
    );
    sim.succeed("1");
    sim.advance(10);
    sim.succeed("2");
    assert_eq!(sim.started, 2);
    sim.unmount(&k, 1);
    sim.advance(10);
    assert_eq!(sim.started, 2);
    assert!(sim.cache.is_empty());
}

/// "should refetch at the interval returned when refetchInterval is a function" (a fixed interval)
#[test]
fn should_refetch_at_the_interval_returned_when_refetch_interval_is_a_function() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.mount_with(&k, 1, with(|o| o.refetch_interval_ms = Some(10)));
    sim.succeed("1");
    assert_eq!(sim.jump(), 10);
    assert_eq!(sim.started, 2);
}

/// "should not refetch in background if refetchIntervalInBackground is false"
#[test]
fn should_not_refetch_in_background_if_refetch_interval_in_background_is_false() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.run(Action::Focus(false));
    sim.mount_with(&k, 1, with(|o| o.refetch_interval_ms = Some(10)));
    sim.succeed("1");
    sim.advance(30);
    assert_eq!(sim.started, 1);
}

/// "should refetchOnWindowFocus when query has background error and staleTime is not static"
#[test]
fn should_refetch_on_window_focus_when_query_has_background_error_and_stale_time_is_not_static() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.mount_with(
        &k,
        1,
        with(|o| {
            o.stale_time_ms = 1_000;
            o.retry = no_retry();
        }),
    );
    sim.succeed("data");
    sim.run(Action::Refetch(k.clone()));
    sim.fail(http(500));
    assert_eq!(sim.state(&k).status, QueryStatus::Error);
    assert_eq!(sim.state(&k).data.as_deref(), Some("data"));
    sim.refocus();
    assert_eq!(sim.started, 3, "a failed fetch makes the query invalid");
}

/// "StrictMode behavior should deduplicate calls to queryFn"
#[test]
fn strict_mode_behavior_should_deduplicate_calls_to_query_fn() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.mount_with(&k, 1, tanstack());
    sim.advance(5);
    sim.unmount(&k, 1);
    sim.advance(5);
    sim.mount_with(&k, 1, tanstack());
    sim.succeed("data");
    assert_eq!(sim.started, 1);
}
