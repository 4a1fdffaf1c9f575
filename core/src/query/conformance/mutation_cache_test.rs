//! `packages/query-core/src/__tests__/mutationCache.test.tsx`: events,
//! garbage collection and removal from a scope.

use super::mutations_test::{http, scoped, MSim};
use crate::query::mutations::*;
use crate::query::MutationStatus;
use MutationEffect::*;
use MutationEvent::*;

fn events(sim: &MSim) -> Vec<MutationEvent> {
    sim.log
        .iter()
        .filter_map(|e| match e {
            Notify(ev) => Some(*ev),
            _ => None,
        })
        .collect()
}

fn gc(ms: u64) -> MutationOptions {
    MutationOptions {
        gc_time_ms: ms,
        ..MutationOptions::default()
    }
}

/// "MutationCacheConfig error callbacks should call onError and onSettled when a mutation errors"
#[test]
fn mutation_cache_config_error_callbacks_should_call_on_error_and_on_settled_when_a_mutation_errors(
) {
    let mut sim = MSim::new();
    let id = sim.mutate(MutationOptions::default());
    sim.fail(id, http(500));
    assert!(sim.calls().contains(&OnError(id)));
    assert!(sim.calls().contains(&OnSettled(id)));
    assert!(!sim.calls().contains(&OnSuccess(id)));
}

/// "MutationCacheConfig success callbacks should call onSuccess and onSettled when a mutation is successful"
#[test]
fn mutation_cache_config_success_callbacks_should_call_on_success_and_on_settled_when_a_mutation_is_successful(
) {
    let mut sim = MSim::new();
    let id = sim.mutate(MutationOptions::default());
    sim.succeed(id, "ok");
    assert!(sim.calls().ends_with(&[OnSuccess(id), OnSettled(id)]));
}

/// "MutationCacheConfig.onMutate options.onMutate should run synchronously when mutationCache.config.onMutate is not defined"
#[test]
fn on_mutate_should_run_synchronously() {
    let mut sim = MSim::new();
    let id = sim.mutate(MutationOptions::default());
    assert_eq!(
        sim.calls().first(),
        Some(&OnMutate(id)),
        "asked for within mutate()"
    );
}

/// "mutationCache subscribe should notify added, updated and removed"
#[test]
fn subscribe_should_notify_added_updated_and_removed() {
    let mut sim = MSim::new();
    let id = sim.mutate(gc(10));
    sim.succeed(id, "ok");
    sim.advance(10);
    let seen = events(&sim);
    assert_eq!(seen.first(), Some(&Added(id)));
    assert!(seen.contains(&Updated(id)));
    assert_eq!(seen.last(), Some(&Removed(id)));
}

/// "garbage collection should remove unused mutations after gcTime has elapsed"
#[test]
fn garbage_collection_should_remove_unused_mutations_after_gc_time_has_elapsed() {
    let mut sim = MSim::new();
    let id = sim.mutate(gc(10));
    sim.succeed(id, "ok");
    sim.advance(9);
    assert_eq!(sim.cache.ids(), vec![id]);
    sim.advance(1);
    assert!(sim.cache.ids().is_empty());
}

/// "garbage collection should not remove mutations if there are active observers"
#[test]
fn garbage_collection_should_not_remove_mutations_if_there_are_active_observers() {
    let mut sim = MSim::new();
    let id = sim.mutate(gc(10));
    sim.run(MutationInput::Observe(id));
    sim.succeed(id, "ok");
    sim.advance(100);
    assert_eq!(sim.cache.ids(), vec![id]);
    sim.run(MutationInput::Unobserve(id));
    sim.advance(10);
    assert!(sim.cache.ids().is_empty());
}

/// "garbage collection should be garbage collected later when unsubscribed and mutation is pending"
#[test]
fn garbage_collection_should_be_garbage_collected_later_when_unsubscribed_and_mutation_is_pending()
{
    let mut sim = MSim::new();
    let id = sim.mutate(gc(10));
    sim.run(MutationInput::Observe(id));
    sim.run(MutationInput::Unobserve(id));
    sim.advance(20);
    assert_eq!(sim.cache.ids(), vec![id], "pending: kept");
    sim.succeed(id, "ok");
    sim.advance(10);
    assert!(sim.cache.ids().is_empty());
}

/// "garbage collection should call callbacks even with gcTime 0 and mutation still pending"
#[test]
fn garbage_collection_should_call_callbacks_even_with_gc_time_0_and_mutation_still_pending() {
    let mut sim = MSim::new();
    let id = sim.mutate(gc(0));
    sim.advance(0);
    sim.succeed(id, "ok");
    assert!(sim.calls().ends_with(&[OnSuccess(id), OnSettled(id)]));
    sim.advance(0);
    assert!(sim.cache.ids().is_empty());
}

/// "remove should remove only the target mutation from scope when multiple scoped mutations exist"
#[test]
fn remove_should_remove_only_the_target_mutation_from_scope_when_multiple_scoped_mutations_exist() {
    let mut sim = MSim::new();
    let a = sim.mutate(scoped("scope"));
    let b = sim.mutate(scoped("scope"));
    let c = sim.mutate(scoped("scope"));
    sim.run(MutationInput::Remove(b));
    assert_eq!(sim.cache.in_scope("scope"), 2);
    sim.succeed(a, "a");
    assert_eq!(sim.executed(c), 1, "c is next once b is gone");
}

/// "remove should delete scope when removing the only mutation in that scope"
#[test]
fn remove_should_delete_scope_when_removing_the_only_mutation_in_that_scope() {
    let mut sim = MSim::new();
    let a = sim.mutate(scoped("scope"));
    sim.run(MutationInput::Remove(a));
    assert_eq!(sim.cache.in_scope("scope"), 0);
    let b = sim.mutate(scoped("scope"));
    assert_eq!(sim.executed(b), 1);
    assert_eq!(sim.state(b).status, MutationStatus::Pending);
}
