//! One test per rule of the query cache, on a simulated clock that jumps from
//! deadline to deadline (no sleeps).

use super::sim::*;
use super::*;
use crate::retry::Failure;

#[test]
fn two_observers_share_one_fetch() {
    let mut sim = Sim::new();
    let k = key(&["cases"]);
    sim.mount(&k, 1);
    sim.mount(&k, 2);
    assert_eq!(sim.started, 1);
    sim.succeed("list");
    assert_eq!(sim.state(&k).data.as_deref(), Some("list"));
    assert_eq!(sim.state(&k).status, QueryStatus::Success);
    assert_eq!(sim.cache.observer_count(&k.hash_key()), 2);
}

#[test]
fn fresh_data_is_not_refetched_on_mount_but_stale_data_is() {
    let mut sim = Sim::new();
    let k = key(&["dashboard"]);
    sim.mount(&k, 1);
    sim.succeed("v1");
    sim.unmount(&k, 1);

    sim.advance(DEFAULT_STALE_TIME_MS - 1);
    sim.mount(&k, 2);
    assert_eq!(sim.started, 1, "fresh: served from the cache");
    sim.unmount(&k, 2);

    sim.advance(1);
    sim.mount(&k, 3);
    assert_eq!(sim.started, 2, "stale: shown and refetched");
    assert_eq!(sim.state(&k).data.as_deref(), Some("v1"));
    assert_eq!(sim.state(&k).fetch_status, FetchStatus::Fetching);
}

#[test]
fn refetch_on_mount_can_be_turned_off() {
    let mut sim = Sim::new();
    let k = key(&["cases"]);
    sim.mount(&k, 1);
    sim.succeed("v1");
    sim.advance(DEFAULT_STALE_TIME_MS * 2);
    sim.mount_with(
        &k,
        2,
        QueryOptions {
            refetch_on_mount: false,
            ..QueryOptions::default()
        },
    );
    assert_eq!(sim.started, 1);
}

#[test]
fn unobserved_queries_are_collected_after_gc_time() {
    let mut sim = Sim::new();
    let k = key(&["cases", "42"]);
    sim.mount(&k, 1);
    sim.succeed("case");
    sim.unmount(&k, 1);
    assert_eq!(sim.jump(), DEFAULT_GC_TIME_MS);
    assert!(sim.cache.state(&k.hash_key()).is_none());
    assert_eq!(sim.removed, vec![k.hash_key()]);
}

#[test]
fn a_new_observer_cancels_collection() {
    let mut sim = Sim::new();
    let k = key(&["cases"]);
    sim.mount(&k, 1);
    sim.succeed("v");
    sim.unmount(&k, 1);
    sim.advance(DEFAULT_GC_TIME_MS - 10);
    sim.mount(&k, 2);
    sim.advance(1_000);
    assert!(sim.cache.state(&k.hash_key()).is_some());
    assert!(sim.removed.is_empty());
}

#[test]
fn prefix_invalidation_refetches_active_and_marks_inactive_stale() {
    let mut sim = Sim::new();
    let open = QueryKey::new(["cases", "list"]).with(KeyPart::map([("status", "open")]));
    let closed = QueryKey::new(["cases", "list"]).with(KeyPart::map([("status", "closed")]));
    let dash = key(&["dashboard"]);
    for (k, o) in [(&open, 1), (&closed, 2), (&dash, 3)] {
        sim.mount(k, o);
        sim.succeed("data");
    }
    sim.unmount(&closed, 2);
    let before = sim.started;
    sim.run(Action::Invalidate(KeyFilter::Prefix(key(&["cases"]))));
    assert_eq!(
        sim.started,
        before + 1,
        "only the active cases query refetches"
    );
    assert_eq!(sim.in_flight[0].1, open);
    assert!(sim.state(&closed).invalidated);
    assert!(sim.cache.is_stale(&closed.hash_key(), sim.now));
    assert!(!sim.state(&dash).invalidated);

    // The inactive one refetches when next mounted, even though it is young.
    sim.succeed("new open");
    sim.mount(&closed, 4);
    assert_eq!(sim.started, before + 2);
}

#[test]
fn exact_invalidation_touches_one_key() {
    let mut sim = Sim::new();
    let a = key(&["cases", "a"]);
    let b = key(&["cases", "a", "notes"]);
    sim.mount(&a, 1);
    sim.succeed("a");
    sim.mount(&b, 2);
    sim.succeed("b");
    sim.run(Action::Invalidate(KeyFilter::Exact(a.clone())));
    assert_eq!(sim.in_flight.len(), 1);
    assert_eq!(sim.in_flight[0].1, a);
}

#[test]
fn invalidation_replaces_a_fetch_in_flight() {
    let mut sim = Sim::new();
    let k = key(&["cases"]);
    sim.mount(&k, 1);
    let old = sim.in_flight[0].0;
    sim.run(Action::Invalidate(KeyFilter::All));
    assert_eq!(sim.aborted, vec![old]);
    // The old answer, arriving late, is ignored.
    sim.run(Action::FetchSucceeded {
        fetch: old,
        data: "pre-mutation".into(),
    });
    assert_eq!(sim.state(&k).data, None);
    sim.succeed("post-mutation");
    assert_eq!(sim.state(&k).data.as_deref(), Some("post-mutation"));
}

#[test]
fn server_errors_retry_at_1_2_4_seconds_then_show_the_error() {
    let mut sim = Sim::new();
    let k = key(&["cases"]);
    sim.mount(&k, 1);
    let mut waits = Vec::new();
    for _ in 0..3 {
        sim.fail(http(500));
        assert_eq!(sim.state(&k).fetch_status, FetchStatus::Fetching);
        assert_eq!(sim.state(&k).status, QueryStatus::Pending);
        waits.push(sim.jump());
    }
    assert_eq!(waits, vec![1_000, 2_000, 4_000]);
    sim.fail(http(500));
    assert_eq!(sim.started, 4, "one fetch and three retries");
    assert_eq!(sim.state(&k).status, QueryStatus::Error);
    assert_eq!(sim.state(&k).fetch_status, FetchStatus::Idle);
    assert_eq!(sim.state(&k).failure_count, 4);
    assert_eq!(sim.cache.metrics().retries, 3);
    assert_eq!(sim.cache.metrics().failures, 1);
}

#[test]
fn not_found_is_shown_at_once_without_retry() {
    let mut sim = Sim::new();
    let k = key(&["cases", "missing"]);
    sim.mount(&k, 1);
    sim.fail(http(404));
    assert_eq!(sim.state(&k).status, QueryStatus::Error);
    assert_eq!(
        sim.state(&k).error.as_deref(),
        Some("Http { status: 404, retry_after_ms: None }")
    );
    assert_eq!(sim.cache.poll_timeout(), None, "no retry scheduled");
    assert_eq!(sim.started, 1);
}

#[test]
fn retry_after_sets_the_retry_delay() {
    let mut sim = Sim::new();
    let k = key(&["cases"]);
    sim.mount(&k, 1);
    sim.fail(Failure::Http {
        status: 429,
        retry_after_ms: Some(7_000),
    });
    assert_eq!(sim.jump(), 7_000);
    assert_eq!(sim.started, 2);
}

#[test]
fn retries_pause_offline_without_spending_attempts_and_resume_on_reconnect() {
    let mut sim = Sim::new();
    let k = key(&["cases"]);
    sim.mount(&k, 1);
    sim.fail(http(503));
    assert_eq!(sim.state(&k).failure_count, 1);
    sim.run(Action::Online(false));
    sim.jump();
    // The retry goes out (an offline-first fetch may be answered by the
    // worker's cache) but a network failure now pauses it.
    sim.fail(Failure::Network);
    assert_eq!(sim.state(&k).fetch_status, FetchStatus::Paused);
    assert_eq!(sim.state(&k).failure_count, 1, "no attempt spent offline");
    assert_eq!(
        sim.cache.poll_timeout(),
        None,
        "nothing scheduled while paused"
    );

    sim.advance(3 * 24 * 3_600_000);
    assert_eq!(sim.in_flight.len(), 0);
    sim.run(Action::Online(true));
    assert_eq!(sim.in_flight.len(), 1, "resumed on reconnect");
    sim.succeed("finally");
    assert_eq!(sim.state(&k).status, QueryStatus::Success);
}

#[test]
fn reconnect_refetches_stale_active_queries() {
    let mut sim = Sim::new();
    let k = key(&["cases"]);
    sim.mount(&k, 1);
    sim.succeed("v1");
    sim.run(Action::Online(false));
    sim.run(Action::Online(true));
    assert_eq!(sim.started, 1, "fresh data is not refetched");
    sim.advance(DEFAULT_STALE_TIME_MS);
    sim.run(Action::Online(false));
    sim.run(Action::Online(true));
    assert_eq!(sim.started, 2);
}

#[test]
fn focus_refetches_when_stale_and_not_when_fresh() {
    let mut sim = Sim::new();
    let k = key(&["cases"]);
    sim.mount(&k, 1);
    sim.succeed("v1");
    sim.run(Action::Focus(false));
    sim.run(Action::Focus(true));
    assert_eq!(sim.started, 1);
    sim.advance(DEFAULT_STALE_TIME_MS);
    sim.run(Action::Focus(false));
    sim.run(Action::Focus(true));
    assert_eq!(sim.started, 2);

    let mut no_focus = Sim::new();
    no_focus.mount_with(
        &k,
        1,
        QueryOptions {
            refetch_on_window_focus: false,
            ..QueryOptions::default()
        },
    );
    no_focus.succeed("v1");
    no_focus.advance(DEFAULT_STALE_TIME_MS);
    no_focus.run(Action::Focus(true));
    assert_eq!(no_focus.started, 1);
}

#[test]
fn intervals_run_while_focused_and_pause_in_the_background_unless_asked() {
    let every = QueryOptions {
        refetch_interval_ms: Some(10_000),
        ..QueryOptions::default()
    };
    let mut sim = Sim::new();
    let k = key(&["live"]);
    sim.mount_with(&k, 1, every);
    sim.succeed("0");
    assert_eq!(sim.jump(), 10_000);
    sim.succeed("1");
    assert_eq!(sim.started, 2);

    sim.run(Action::Focus(false));
    sim.advance(60_000);
    assert_eq!(sim.started, 2, "paused while hidden");
    assert_eq!(sim.cache.poll_timeout(), None);

    let mut bg = Sim::new();
    bg.mount_with(
        &k,
        1,
        QueryOptions {
            refetch_interval_in_background: true,
            ..every
        },
    );
    bg.succeed("0");
    bg.run(Action::Focus(false));
    assert_eq!(bg.jump(), 10_000);
    assert_eq!(bg.started, 2, "runs in the background when asked");
}

#[test]
fn a_dependent_query_waits_for_enabled() {
    let mut sim = Sim::new();
    let notes = key(&["cases", "7", "notes"]);
    let waiting = QueryOptions {
        enabled: false,
        ..QueryOptions::default()
    };
    sim.mount_with(&notes, 1, waiting);
    assert_eq!(sim.started, 0);
    assert_eq!(sim.state(&notes).status, QueryStatus::Pending);
    sim.run(Action::Invalidate(KeyFilter::All));
    sim.run(Action::Focus(true));
    assert_eq!(sim.started, 0, "disabled queries never fetch");
    sim.mount_with(&notes, 1, QueryOptions::default());
    assert_eq!(sim.started, 1, "fetches once enabled");
    // Re-subscribing with unchanged options does not fetch again.
    sim.mount_with(&notes, 1, QueryOptions::default());
    assert_eq!(sim.started, 1);
}

#[test]
fn equal_data_does_not_notify_a_data_change() {
    let mut sim = Sim::new();
    let k = key(&["cases"]);
    sim.mount(&k, 1);
    sim.succeed("same");
    assert_eq!(sim.changes.last(), Some(&(k.hash_key(), true)));
    sim.run(Action::Refetch(k.clone()));
    sim.succeed("same");
    assert_eq!(sim.changes.last(), Some(&(k.hash_key(), false)));
    sim.run(Action::SetData {
        key: k.clone(),
        data: "same".into(),
    });
    assert_eq!(sim.changes.last(), Some(&(k.hash_key(), false)));
    sim.run(Action::SetData {
        key: k.clone(),
        data: "other".into(),
    });
    assert_eq!(sim.changes.last(), Some(&(k.hash_key(), true)));
}

#[test]
fn set_and_get_query_data() {
    let mut sim = Sim::new();
    let k = key(&["cases", "new-id"]);
    assert_eq!(sim.cache.get_query_data(&k), None);
    sim.run(Action::SetData {
        key: k.clone(),
        data: "optimistic".into(),
    });
    assert_eq!(
        sim.cache.get_query_data(&k).map(String::as_str),
        Some("optimistic")
    );
    assert_eq!(sim.started, 0);
    // Fresh data from set_query_data is served on mount without a fetch.
    sim.mount(&k, 1);
    assert_eq!(sim.started, 0);
    assert_eq!(sim.cache.metrics().hits, 2);
    assert_eq!(sim.cache.metrics().misses, 1);
}

#[test]
fn set_data_on_an_unobserved_key_is_collected_later() {
    let mut sim = Sim::new();
    let k = key(&["cases", "x"]);
    sim.run(Action::SetData {
        key: k.clone(),
        data: "x".into(),
    });
    assert_eq!(sim.jump(), DEFAULT_GC_TIME_MS);
    assert!(sim.cache.is_empty());
}

#[test]
fn cancel_aborts_and_restores_the_previous_state() {
    let mut sim = Sim::new();
    let k = key(&["cases"]);
    sim.mount(&k, 1);
    sim.succeed("v1");
    sim.run(Action::Refetch(k.clone()));
    let fetch = sim.in_flight[0].0;
    sim.run(Action::Cancel(KeyFilter::Prefix(key(&["cases"]))));
    assert_eq!(sim.aborted, vec![fetch]);
    assert_eq!(sim.state(&k).fetch_status, FetchStatus::Idle);
    assert_eq!(sim.state(&k).data.as_deref(), Some("v1"));
    sim.run(Action::FetchSucceeded {
        fetch,
        data: "late".into(),
    });
    assert_eq!(
        sim.state(&k).data.as_deref(),
        Some("v1"),
        "late answers are dropped"
    );
}

#[test]
fn cancel_also_stops_a_scheduled_retry() {
    let mut sim = Sim::new();
    let k = key(&["cases"]);
    sim.mount(&k, 1);
    sim.fail(http(500));
    sim.run(Action::Cancel(KeyFilter::All));
    assert_eq!(sim.state(&k).fetch_status, FetchStatus::Idle);
    sim.advance(60_000);
    assert_eq!(sim.started, 1);
}

#[test]
fn remove_forgets_the_key_and_aborts_its_fetch() {
    let mut sim = Sim::new();
    let k = key(&["cases"]);
    sim.mount(&k, 1);
    let fetch = sim.in_flight[0].0;
    sim.run(Action::Remove(KeyFilter::Exact(k.clone())));
    assert_eq!(sim.aborted, vec![fetch]);
    assert!(sim.cache.is_empty());
    assert_eq!(sim.cache.poll_timeout(), None);
}

#[test]
fn prefetch_fills_the_cache_only_when_not_fresh() {
    let mut sim = Sim::new();
    let k = key(&["cases", "9"]);
    sim.run(Action::Prefetch {
        key: k.clone(),
        options: QueryOptions::default(),
    });
    assert_eq!(sim.started, 1);
    sim.succeed("nine");
    sim.run(Action::Prefetch {
        key: k.clone(),
        options: QueryOptions::default(),
    });
    assert_eq!(sim.started, 1, "fresh: no second fetch");
    sim.mount(&k, 1);
    assert_eq!(sim.started, 1, "mounting after prefetch shows it at once");
}

#[test]
fn restored_entries_show_at_once_and_refetch_when_stale() {
    let mut sim = Sim::new();
    let k = key(&["cases"]);
    sim.run(Action::Restore(vec![SavedEntry {
        key: k.clone(),
        data: "saved".into(),
        updated_at: sim.now - 60 * 60 * 1000,
    }]));
    assert_eq!(sim.state(&k).data.as_deref(), Some("saved"));
    assert!(sim.cache.is_stale(&k.hash_key(), sim.now));
    sim.mount(&k, 1);
    assert_eq!(sim.started, 1, "a restored entry is not fresh");
    assert_eq!(
        sim.state(&k).data.as_deref(),
        Some("saved"),
        "shown while refetching"
    );
    // Restoring never overwrites newer data.
    sim.succeed("live");
    sim.run(Action::Restore(vec![SavedEntry {
        key: k.clone(),
        data: "old".into(),
        updated_at: 0,
    }]));
    assert_eq!(sim.state(&k).data.as_deref(), Some("live"));
    assert_eq!(sim.cache.saved_entries().len(), 1);
}

#[test]
fn a_failed_refetch_keeps_the_old_data() {
    let mut sim = Sim::new();
    let k = key(&["cases"]);
    sim.mount(&k, 1);
    sim.succeed("v1");
    sim.run(Action::Refetch(k.clone()));
    sim.fail(http(400));
    assert_eq!(sim.state(&k).status, QueryStatus::Error);
    assert_eq!(sim.state(&k).data.as_deref(), Some("v1"));
}

#[test]
fn durations_are_measured_per_prefix_and_slow_fetches_reported() {
    let mut sim = Sim::new();
    let k = key(&["cases"]);
    sim.mount(&k, 1);
    sim.now += 1_500;
    sim.succeed("slow");
    let (prefix, window) = sim.cache.metrics().durations().next().unwrap();
    assert_eq!(prefix, "cases");
    assert_eq!(window.percentile(50), Some(1_500));
    let slow: Vec<_> = sim.cache.metrics().slow_fetches().collect();
    assert_eq!(slow.len(), 1);
    assert_eq!(slow[0].key, k.hash_key());
}

#[test]
fn the_next_deadline_is_the_earliest_of_all_timers() {
    let mut sim = Sim::new();
    let a = key(&["a"]);
    let b = key(&["b"]);
    sim.mount(&a, 1);
    sim.fail(http(500)); // retry in 1 s
    sim.run(Action::SetData {
        key: b,
        data: "b".into(),
    }); // gc in 10 min
    assert_eq!(sim.cache.poll_timeout(), Some(sim.now + 1_000));
}

/// TanStack's `setData` does not reschedule gc: a query's gc clock runs from
/// when it was created unobserved (or its last observer left, or its fetch
/// ended), and setting its data again, or rolling an optimistic change back,
/// does not start it again.
#[test]
fn set_data_again_does_not_restart_the_gc_clock() {
    let mut sim = Sim::new();
    let k = key(&["cases", "x"]);
    sim.run(Action::SetData {
        key: k.clone(),
        data: "x".into(),
    });
    sim.advance(DEFAULT_GC_TIME_MS / 2);
    let saved = sim.cache.saved(&k);
    sim.run(Action::SetData {
        key: k.clone(),
        data: "y".into(),
    });
    sim.run(Action::Rollback(vec![saved]));
    assert_eq!(sim.jump(), DEFAULT_GC_TIME_MS / 2);
    assert!(sim.cache.is_empty());
}
