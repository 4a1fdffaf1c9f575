//! Mutations' bookkeeping (TanStack's `useMutation`): what a mutation saved
//! before its optimistic change, so a failure puts back exactly that; the
//! order of mutations that share a scope; and batches, saved and rolled back
//! as one. The adapter runs the writes; these are the rules.

use super::QueryKey;
use std::collections::{HashMap, VecDeque};

/// Where a mutation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MutationStatus {
    /// Not run yet.
    #[default]
    Idle,
    /// Running (its optimistic change is showing).
    Pending,
    /// Done; the caller's data is set.
    Success,
    /// Failed; the saved state is back.
    Error,
}

/// A key's state as a rollback needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Saved<D> {
    /// The key.
    pub key: QueryKey,
    /// Its data then (`None`: it had none, and must have none again).
    pub data: Option<D>,
    /// When that data had arrived (ms), so freshness comes back too.
    pub updated_at: u64,
    /// Whether it had been invalidated.
    pub invalidated: bool,
}

/// What a mutation (or a batch of them) saved: the first state seen for
/// each key, which is the state before any of the batch's changes.
#[derive(Debug, Clone, PartialEq)]
pub struct Rollback<D> {
    saved: Vec<Saved<D>>,
}

impl<D> Default for Rollback<D> {
    fn default() -> Self {
        Rollback { saved: Vec::new() }
    }
}

impl<D> Rollback<D> {
    /// Whether `key` is already saved.
    pub fn holds(&self, key: &QueryKey) -> bool {
        self.saved.iter().any(|s| &s.key == key)
    }

    /// Saves a key's state unless an earlier one is kept already.
    pub fn save(&mut self, state: Saved<D>) {
        if !self.holds(&state.key) {
            self.saved.push(state);
        }
    }

    /// What to put back, in the order it was saved.
    pub fn into_saved(self) -> Vec<Saved<D>> {
        self.saved
    }
}

/// Mutations in one scope (e.g. one case) run one at a time, in the order
/// they were made; different scopes run side by side.
#[derive(Debug, Default)]
pub struct Scopes {
    lines: HashMap<String, VecDeque<u64>>,
}

impl Scopes {
    /// Puts mutation `id` in `scope`'s line; true when it may run now.
    pub fn enter(&mut self, scope: &str, id: u64) -> bool {
        let line = self.lines.entry(scope.to_string()).or_default();
        line.push_back(id);
        line.len() == 1
    }

    /// Mutation `id` is done (or gave up waiting); the one that may run
    /// next, if it is now first in line.
    pub fn leave(&mut self, scope: &str, id: u64) -> Option<u64> {
        let line = self.lines.get_mut(scope)?;
        let was_first = line.front() == Some(&id);
        line.retain(|m| *m != id);
        let next = if was_first {
            line.front().copied()
        } else {
            None
        };
        if line.is_empty() {
            self.lines.remove(scope);
        }
        next
    }

    /// How many wait or run in `scope`.
    pub fn len(&self, scope: &str) -> usize {
        self.lines.get(scope).map_or(0, VecDeque::len)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Action, QueryCache, QueryOptions};
    use super::*;

    type Cache = QueryCache<String, String>;

    fn key(s: &str) -> QueryKey {
        QueryKey::new(["cases", s])
    }

    fn with(cache: &mut Cache, now: u64, k: &str, v: &str) {
        cache.dispatch(
            now,
            Action::SetData {
                key: key(k),
                data: v.into(),
            },
        );
    }

    #[test]
    fn a_rollback_restores_data_freshness_and_absence_exactly() {
        let mut cache = Cache::new();
        with(&mut cache, 100, "a", "server a");
        cache.dispatch(
            150,
            Action::Invalidate(super::super::KeyFilter::Exact(key("a"))),
        );
        let mut saved = Rollback::default();
        saved.save(cache.saved(&key("a")));
        saved.save(cache.saved(&key("new")));
        // The optimistic change: one key changed, one created.
        with(&mut cache, 200, "a", "optimistic a");
        with(&mut cache, 200, "new", "optimistic new");
        cache.dispatch(300, Action::Rollback(saved.into_saved()));
        let a = cache.state(&key("a").hash_key()).unwrap();
        assert_eq!(a.data.as_deref(), Some("server a"));
        assert_eq!(a.data_updated_at, 100);
        assert!(a.invalidated, "still stale, as before");
        let new = cache.state(&key("new").hash_key());
        assert!(new.is_none_or(|s| s.data.is_none()), "{new:?}");
    }

    #[test]
    fn a_batch_keeps_the_first_state_of_each_key() {
        let mut cache = Cache::new();
        with(&mut cache, 10, "a", "v0");
        let mut batch = Rollback::default();
        // First mutation of the batch.
        batch.save(cache.saved(&key("a")));
        with(&mut cache, 20, "a", "v1");
        // Second: touches the same key and another.
        batch.save(cache.saved(&key("a")));
        batch.save(cache.saved(&key("b")));
        with(&mut cache, 30, "a", "v2");
        with(&mut cache, 30, "b", "b1");
        cache.dispatch(40, Action::Rollback(batch.into_saved()));
        assert_eq!(
            cache.get_query_data(&key("a")).cloned().as_deref(),
            Some("v0")
        );
        assert_eq!(cache.get_query_data(&key("b")), None);
    }

    #[test]
    fn a_rollback_tells_observers() {
        let mut cache = Cache::new();
        cache.dispatch(
            0,
            Action::Subscribe {
                key: key("a"),
                observer: 1,
                options: QueryOptions::default(),
            },
        );
        while cache.poll_effect().is_some() {}
        with(&mut cache, 5, "a", "server");
        let saved = cache.saved(&key("a"));
        with(&mut cache, 6, "a", "optimistic");
        while cache.poll_effect().is_some() {}
        cache.dispatch(7, Action::Rollback(vec![saved]));
        let effects: Vec<_> = std::iter::from_fn(|| cache.poll_effect()).collect();
        assert!(effects.iter().any(|e| matches!(
            e,
            super::super::Effect::Changed {
                data_changed: true,
                ..
            }
        )));
    }

    #[test]
    fn one_scope_runs_in_order_and_scopes_run_side_by_side() {
        let mut scopes = Scopes::default();
        assert!(scopes.enter("case-1", 1));
        assert!(!scopes.enter("case-1", 2));
        assert!(!scopes.enter("case-1", 3));
        assert!(scopes.enter("case-2", 4), "another case does not wait");
        assert_eq!(scopes.leave("case-1", 1), Some(2));
        // One that gives up waiting does not wake anyone.
        assert_eq!(scopes.leave("case-1", 3), None);
        assert_eq!(scopes.leave("case-1", 2), None);
        assert_eq!(scopes.len("case-1"), 0);
        assert_eq!(scopes.leave("case-2", 4), None);
        assert_eq!(scopes.leave("nowhere", 9), None);
    }
}
