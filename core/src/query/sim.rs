//! The test bench of the query cache: the cache, a simulated clock that
//! jumps from deadline to deadline, and a record of what it asked the
//! adapter to do. Shared by the rule tests and the TanStack conformance
//! suite.

use super::*;
use crate::retry::Failure;

pub type Cache = QueryCache<String, String>;

/// The cache plus a clock and a record of what it asked the adapter to do.
pub struct Sim {
    pub cache: Cache,
    pub now: u64,
    /// Fetches started and not yet answered, oldest first.
    pub in_flight: Vec<(FetchId, QueryKey)>,
    pub started: usize,
    pub aborted: Vec<FetchId>,
    pub changes: Vec<(KeyHash, bool)>,
    pub removed: Vec<KeyHash>,
}

impl Sim {
    pub fn new() -> Self {
        Sim {
            cache: Cache::new(),
            now: 1_790_000_000_000,
            in_flight: Vec::new(),
            started: 0,
            aborted: Vec::new(),
            changes: Vec::new(),
            removed: Vec::new(),
        }
    }

    pub fn run(&mut self, action: Action<String, String>) {
        self.cache.dispatch(self.now, action);
        while let Some(effect) = self.cache.poll_effect() {
            match effect {
                Effect::StartFetch { fetch, key } => {
                    self.started += 1;
                    self.in_flight.push((fetch, key));
                }
                Effect::AbortFetch(id) => {
                    self.aborted.push(id);
                    self.in_flight.retain(|(f, _)| *f != id);
                }
                Effect::Changed { key, data_changed } => self.changes.push((key, data_changed)),
                Effect::Removed(key) => self.removed.push(key),
            }
        }
    }

    pub fn mount(&mut self, key: &QueryKey, observer: ObserverId) {
        self.mount_with(key, observer, QueryOptions::default());
    }

    pub fn mount_with(&mut self, key: &QueryKey, observer: ObserverId, options: QueryOptions) {
        self.run(Action::Subscribe {
            key: key.clone(),
            observer,
            options,
        });
    }

    pub fn unmount(&mut self, key: &QueryKey, observer: ObserverId) {
        self.run(Action::Unsubscribe {
            key: key.clone(),
            observer,
        });
    }

    pub fn take_fetch(&mut self) -> FetchId {
        assert!(!self.in_flight.is_empty(), "expected a fetch in flight");
        self.in_flight.remove(0).0
    }

    pub fn succeed(&mut self, data: &str) {
        let fetch = self.take_fetch();
        self.run(Action::FetchSucceeded {
            fetch,
            data: data.to_string(),
        });
    }

    pub fn fail(&mut self, failure: Failure) {
        let fetch = self.take_fetch();
        self.run(Action::FetchFailed {
            fetch,
            error: format!("{failure:?}"),
            failure,
            jitter: 0.0,
        });
    }

    pub fn advance(&mut self, ms: u64) {
        self.now += ms;
        self.run(Action::Tick);
    }

    /// Jumps to the next deadline and runs it; returns how far it jumped.
    pub fn jump(&mut self) -> u64 {
        let at = self.cache.poll_timeout().expect("a deadline is armed");
        let waited = at - self.now;
        self.now = at;
        self.run(Action::Tick);
        waited
    }

    /// `prefetch_query` / `fetch_query` with these options.
    pub fn prefetch(&mut self, key: &QueryKey, options: QueryOptions) {
        self.run(Action::Prefetch {
            key: key.clone(),
            options,
        });
    }

    /// `set_query_data`.
    pub fn set(&mut self, key: &QueryKey, data: &str) {
        self.run(Action::SetData {
            key: key.clone(),
            data: data.to_string(),
        });
    }

    /// `get_query_data`, as text.
    pub fn data(&mut self, key: &QueryKey) -> Option<&str> {
        self.cache.get_query_data(key).map(String::as_str)
    }

    /// Invalidates exactly `key`.
    pub fn invalidate(&mut self, key: &QueryKey) {
        self.run(Action::Invalidate(KeyFilter::Exact(key.clone())));
    }

    /// The page is hidden, then shown again.
    pub fn refocus(&mut self) {
        self.run(Action::Focus(false));
        self.run(Action::Focus(true));
    }

    /// The network goes, then comes back.
    pub fn reconnect(&mut self) {
        self.run(Action::Online(false));
        self.run(Action::Online(true));
    }

    pub fn state(&self, key: &QueryKey) -> &QueryState<String, String> {
        self.cache.state(&key.hash_key()).expect("query exists")
    }
}

pub fn key(parts: &[&str]) -> QueryKey {
    QueryKey::new(parts.iter().copied())
}

pub fn http(status: u16) -> Failure {
    Failure::Http {
        status,
        retry_after_ms: None,
    }
}
