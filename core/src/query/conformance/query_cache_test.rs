//! `packages/query-core/src/__tests__/queryCache.test.tsx`. TanStack's
//! cache events are this cache's effects (`Changed`, `Removed`).

use super::{no_retry, tanstack, with};
use crate::query::sim::*;
use crate::query::*;

/// "should pass the correct query" (subscribe)
#[test]
fn should_pass_the_correct_query() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.set(&k, "data");
    assert_eq!(sim.changes, vec![(k.hash_key(), true)]);
    assert_eq!(sim.cache.key(&k.hash_key()), Some(&k));
}

/// "should be able to limit cache size" (subscribe: remove on every add)
#[test]
fn should_be_able_to_limit_cache_size() {
    let mut sim = Sim::new();
    let (k1, k2) = (key(&["a"]), key(&["b"]));
    sim.set(&k1, "1");
    assert_eq!(sim.cache.len(), 1);
    sim.set(&k2, "2");
    sim.run(Action::Remove(KeyFilter::Exact(k1.clone())));
    assert_eq!(sim.cache.len(), 1);
    assert!(sim.cache.state(&k2.hash_key()).is_some());
}

/// "find should filter correctly"
#[test]
fn find_should_filter_correctly() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.set(&k, "data");
    assert!(sim.cache.state(&k.hash_key()).is_some());
    assert!(sim.cache.state(&key(&["ke"]).hash_key()).is_none());
}

/// "should filter correctly" (findAll: by prefix and partial maps)
#[test]
fn should_filter_correctly() {
    let mut sim = Sim::new();
    let k1 = QueryKey::new(["posts", "list"]).with(KeyPart::map([("page", 1i64)]));
    let k2 = QueryKey::new(["posts", "list"]).with(KeyPart::map([("page", 2i64), ("a", 1i64)]));
    let k3 = key(&["users"]);
    for k in [&k1, &k2, &k3] {
        sim.set(k, "x");
    }
    sim.changes.clear();
    sim.run(Action::InvalidateQueries {
        filter: KeyFilter::Prefix(key(&["posts"])),
        refetch_type: RefetchType::None,
    });
    assert_eq!(sim.changes.len(), 2, "both posts lists, not users");
    sim.changes.clear();
    sim.run(Action::InvalidateQueries {
        filter: KeyFilter::Prefix(
            QueryKey::new(["posts", "list"]).with(KeyPart::map([("page", 2i64)])),
        ),
        refetch_type: RefetchType::None,
    });
    assert!(sim.changes.is_empty(), "already invalid: nobody told");
    assert!(sim.state(&k2).invalidated);
    assert!(!sim.state(&k3).invalidated);
}

/// "should return all the queries when no filters are defined" (findAll)
#[test]
fn should_return_all_the_queries_when_no_filters_are_defined() {
    let mut sim = Sim::new();
    for name in ["a", "b"] {
        sim.set(&key(&[name]), "x");
    }
    sim.run(Action::Remove(KeyFilter::All));
    assert_eq!(sim.removed.len(), 2);
}

/// "should call onError and onSettled when a query errors"
#[test]
fn should_call_on_error_and_on_settled_when_a_query_errors() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.prefetch(&k, with(|o| o.retry = no_retry()));
    sim.fail(http(500));
    assert_eq!(sim.state(&k).status, QueryStatus::Error);
    assert_eq!(sim.cache.metrics().failures, 1);
    assert_eq!(sim.changes.last(), Some(&(k.hash_key(), false)));
}

/// "should call onSuccess and onSettled when a query is successful"
#[test]
fn should_call_on_success_and_on_settled_when_a_query_is_successful() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.prefetch(&k, tanstack());
    sim.succeed("data");
    assert_eq!(sim.changes.last(), Some(&(k.hash_key(), true)));
}

/// "should compute queryHash from queryKey when queryHash is not provided" (build)
#[test]
fn should_compute_query_hash_from_query_key_when_query_hash_is_not_provided() {
    let k = QueryKey::new(["key"]).with(KeyPart::map([("b", 2i64), ("a", 1i64)]));
    assert_eq!(k.hash_key(), r#"["key",{"a":1,"b":2}]"#);
}

/// "should only delete the instance currently stored under its queryHash"
#[test]
fn should_only_delete_the_instance_currently_stored_under_its_query_hash() {
    let mut sim = Sim::new();
    let k = key(&["key"]);
    sim.prefetch(&k, tanstack());
    let old = sim.in_flight[0].0;
    sim.run(Action::Remove(KeyFilter::Exact(k.clone())));
    sim.prefetch(&k, tanstack());
    sim.run(Action::FetchSucceeded {
        fetch: old,
        data: "old".into(),
    });
    assert_eq!(
        sim.state(&k).data,
        None,
        "the removed one's answer is ignored"
    );
    sim.succeed("new");
    assert_eq!(sim.state(&k).data.as_deref(), Some("new"));
}
