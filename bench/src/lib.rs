//! The query-cache workloads of SPEC §9, exported to JS so the benchmark page
//! can time them beside `@tanstack/query-core` in the same run. Each method
//! does one whole workload; JS measures it with `performance.now()`.

#[cfg(target_arch = "wasm32")]
mod store;

use casefile_core::query::{Action, Effect, KeyPart, QueryCache, QueryKey, QueryOptions};
use wasm_bindgen::prelude::*;

/// A cache and the keys the workloads use. Data is a number, as on the JS side.
#[wasm_bindgen]
pub struct CacheBench {
    cache: QueryCache<u32, ()>,
    now: u64,
    keys: Vec<QueryKey>,
    started: Vec<u64>,
    /// Observer callbacks run (each read its key's state, as a hook does).
    notified: u32,
}

fn item(i: u32) -> QueryKey {
    QueryKey(vec![KeyPart::from("item"), KeyPart::Int(i64::from(i))])
}

impl CacheBench {
    /// Carries out effects as the app's adapter would: a fetch started is
    /// remembered for its fake fetcher; a change runs the key's observer,
    /// which reads the state it shows.
    fn drain(&mut self) {
        while let Some(effect) = self.cache.poll_effect() {
            match effect {
                Effect::StartFetch { fetch, .. } => self.started.push(fetch),
                Effect::Changed { key, .. } if self.cache.state(&key).is_some() => {
                    self.notified += 1;
                }
                _ => {}
            }
        }
    }

    fn run(&mut self, action: Action<u32, ()>) {
        self.now += 1;
        self.cache.dispatch(self.now, action);
        self.drain();
    }
}

impl Default for CacheBench {
    fn default() -> Self {
        Self::new()
    }
}

#[wasm_bindgen]
impl CacheBench {
    /// An empty cache.
    #[wasm_bindgen(constructor)]
    pub fn new() -> CacheBench {
        CacheBench {
            cache: QueryCache::new(),
            now: 1,
            keys: Vec::new(),
            started: Vec::new(),
            notified: 0,
        }
    }

    /// Workload 1: `set_query_data` on `n` distinct keys `["item", i]`.
    pub fn set_many(&mut self, n: u32) {
        for i in 0..n {
            self.run(Action::SetData {
                key: item(i),
                data: i,
            });
        }
    }

    /// Workload 2: `n` `get_query_data` hits over the first `distinct` keys.
    /// Returns the sum of the data read, so nothing is optimised away.
    pub fn get_many(&mut self, n: u32, distinct: u32) -> u32 {
        let mut sum = 0u32;
        for i in 0..n {
            if let Some(v) = self.cache.get_query_data(&item(i % distinct)) {
                sum = sum.wrapping_add(*v);
            }
        }
        sum
    }

    /// Set-up for workload 3 (untimed): `total` keys, of which `active` are
    /// `["group", i]` with one observer each and data in place.
    pub fn setup_invalidate(&mut self, total: u32, active: u32) {
        for i in 0..total - active {
            self.run(Action::SetData {
                key: item(i),
                data: i,
            });
        }
        for i in 0..active {
            let key = QueryKey(vec![KeyPart::from("group"), KeyPart::Int(i64::from(i))]);
            self.run(Action::Subscribe {
                key,
                observer: u64::from(i),
                options: QueryOptions::default(),
            });
        }
        self.settle();
    }

    /// Workload 3: invalidate the `["group"]` prefix; every active query
    /// refetches. Returns how many fetches started.
    pub fn invalidate_group(&mut self) -> u32 {
        let before = self.started.len();
        self.run(Action::Invalidate(casefile_core::query::KeyFilter::Prefix(
            QueryKey::new(["group"]),
        )));
        (self.started.len() - before) as u32
    }

    /// Workload 3 as TanStack's side does it: invalidate the `["group"]`
    /// prefix, each active query's fetch starts, its fake fetcher answers,
    /// and its observer is told (of the fetch starting and of its data).
    /// Returns the observer callbacks run.
    pub fn invalidate_group_settled(&mut self) -> u32 {
        self.notified = 0;
        self.run(Action::Invalidate(casefile_core::query::KeyFilter::Prefix(
            QueryKey::new(["group"]),
        )));
        let fetches = std::mem::take(&mut self.started);
        for fetch in fetches {
            // The fake fetcher: the data is the fetch's number.
            self.run(Action::FetchSucceeded {
                fetch,
                data: fetch as u32,
            });
        }
        self.notified
    }

    /// Workload 5: new data for every one of the `["group", i]` keys (set
    /// up by `setup_invalidate`), each observer told. Returns how many.
    pub fn set_observed(&mut self, active: u32, round: u32) -> u32 {
        self.notified = 0;
        for i in 0..active {
            let key = QueryKey(vec![KeyPart::from("group"), KeyPart::Int(i64::from(i))]);
            self.run(Action::SetData {
                key,
                data: round * 100_000 + i,
            });
        }
        self.notified
    }

    /// Workload 6: `n` optimistic mutations over the first 100 `["item", i]`
    /// keys, each saved, changed and rolled back exactly (`on_mutate`,
    /// then `on_error`). Returns the data read back, summed.
    pub fn mutate_and_roll_back(&mut self, n: u32) -> u32 {
        let mut sum = 0u32;
        for m in 0..n {
            let key = item(m % 100);
            let saved = self.cache.saved(&key);
            self.run(Action::SetData {
                key: key.clone(),
                data: 1_000_000 + m,
            });
            self.run(Action::Rollback(vec![saved]));
            sum = sum.wrapping_add(self.cache.get_query_data(&key).copied().unwrap_or(0));
        }
        sum
    }

    /// Answers every fetch in flight (untimed, between rounds).
    pub fn settle(&mut self) {
        for fetch in std::mem::take(&mut self.started) {
            self.run(Action::FetchSucceeded { fetch, data: 1 });
        }
    }

    /// Set-up for workload 4 (untimed): `n` keys
    /// `["cases", "list", {"status": "open", "page": i}]`.
    pub fn prepare_keys(&mut self, n: u32) {
        self.keys = (0..n)
            .map(|i| {
                QueryKey::new(["cases", "list"]).with(KeyPart::map([
                    ("status", KeyPart::from("open")),
                    ("page", KeyPart::Int(i64::from(i))),
                ]))
            })
            .collect();
    }

    /// Workload 4: hash every prepared key. Returns the total hash length.
    pub fn hash_keys(&self) -> u32 {
        self.keys.iter().map(|k| k.hash_key().len() as u32).sum()
    }

    /// Number of queries in the cache.
    pub fn len(&self) -> u32 {
        self.cache.len() as u32
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.cache.is_empty()
    }
}
