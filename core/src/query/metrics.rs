//! Query-cache metrics: hits, misses, fetches, failures, retries, fetch
//! durations per key prefix (p50/p95 over a bounded window), and slow fetches.

use super::key::KeyHash;
use std::collections::{BTreeMap, VecDeque};

/// Durations kept per key prefix for percentiles.
pub const DURATION_WINDOW: usize = 256;
/// Slow fetches remembered.
pub const SLOW_FETCHES_KEPT: usize = 20;
/// A fetch slower than this (ms) is reported, by default.
pub const DEFAULT_SLOW_FETCH_MS: u64 = 1_000;

/// The last [`DURATION_WINDOW`] durations of one key prefix.
#[derive(Debug, Clone, Default)]
pub struct DurationWindow {
    samples: VecDeque<u64>,
    total: u64,
}

impl DurationWindow {
    fn push(&mut self, ms: u64) {
        if self.samples.len() == DURATION_WINDOW {
            self.samples.pop_front();
        }
        self.samples.push_back(ms);
        self.total += 1;
    }

    /// The `p`-th percentile (0–100) of the window, nearest-rank.
    pub fn percentile(&self, p: u32) -> Option<u64> {
        if self.samples.is_empty() {
            return None;
        }
        let mut sorted: Vec<u64> = self.samples.iter().copied().collect();
        sorted.sort_unstable();
        let rank = (u64::from(p.min(100)) * sorted.len() as u64).div_ceil(100);
        Some(sorted[rank.saturating_sub(1) as usize])
    }

    /// Fetches measured in all (not only in the window).
    pub fn count(&self) -> u64 {
        self.total
    }
}

/// A fetch that took longer than the threshold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlowFetch {
    /// The query's key.
    pub key: KeyHash,
    /// How long it took (ms).
    pub duration_ms: u64,
    /// When it finished (ms).
    pub at: u64,
    /// Whether it failed.
    pub failed: bool,
}

/// Counters and durations.
#[derive(Debug, Clone)]
pub struct QueryMetrics {
    /// Lookups (mounts, `get_query_data`) that found data.
    pub hits: u64,
    /// Lookups that found none.
    pub misses: u64,
    /// Fetches started (retries included).
    pub fetches: u64,
    /// Queries that ended in an error.
    pub failures: u64,
    /// Retries scheduled.
    pub retries: u64,
    /// Fetches slower than this (ms) are kept in [`Self::slow_fetches`].
    pub slow_threshold_ms: u64,
    durations: BTreeMap<String, DurationWindow>,
    slow: VecDeque<SlowFetch>,
}

impl Default for QueryMetrics {
    fn default() -> Self {
        QueryMetrics {
            hits: 0,
            misses: 0,
            fetches: 0,
            failures: 0,
            retries: 0,
            slow_threshold_ms: DEFAULT_SLOW_FETCH_MS,
            durations: BTreeMap::new(),
            slow: VecDeque::new(),
        }
    }
}

impl QueryMetrics {
    pub(crate) fn record_lookup(&mut self, hit: bool) {
        if hit {
            self.hits += 1;
        } else {
            self.misses += 1;
        }
    }

    pub(crate) fn record_fetch_started(&mut self) {
        self.fetches += 1;
    }

    pub(crate) fn record_retry(&mut self) {
        self.retries += 1;
    }

    pub(crate) fn record_fetch_done(&mut self, prefix: &str, key: &KeyHash, ms: u64, at: u64) {
        self.record_duration(prefix, key, ms, at, false);
    }

    pub(crate) fn record_failure(&mut self, prefix: &str, key: &KeyHash, ms: u64, at: u64) {
        self.failures += 1;
        self.record_duration(prefix, key, ms, at, true);
    }

    fn record_duration(&mut self, prefix: &str, key: &KeyHash, ms: u64, at: u64, failed: bool) {
        match self.durations.get_mut(prefix) {
            Some(window) => window.push(ms),
            None => {
                let mut window = DurationWindow::default();
                window.push(ms);
                self.durations.insert(prefix.to_string(), window);
            }
        }
        if ms > self.slow_threshold_ms {
            if self.slow.len() == SLOW_FETCHES_KEPT {
                self.slow.pop_front();
            }
            self.slow.push_back(SlowFetch {
                key: key.clone(),
                duration_ms: ms,
                at,
                failed,
            });
        }
    }

    /// Hits over lookups, 0–1 (0 before any lookup).
    pub fn hit_rate(&self) -> f64 {
        let lookups = self.hits + self.misses;
        if lookups == 0 {
            0.0
        } else {
            self.hits as f64 / lookups as f64
        }
    }

    /// Duration windows by key prefix.
    pub fn durations(&self) -> impl Iterator<Item = (&str, &DurationWindow)> {
        self.durations.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Recent slow fetches, oldest first.
    pub fn slow_fetches(&self) -> impl DoubleEndedIterator<Item = &SlowFetch> {
        self.slow.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let mut w = DurationWindow::default();
        assert_eq!(w.percentile(50), None);
        for ms in 1..=100 {
            w.push(ms);
        }
        assert_eq!(w.percentile(50), Some(50));
        assert_eq!(w.percentile(95), Some(95));
        assert_eq!(w.percentile(100), Some(100));
        assert_eq!(w.percentile(0), Some(1));
    }

    #[test]
    fn the_window_keeps_only_recent_durations() {
        let mut w = DurationWindow::default();
        for _ in 0..DURATION_WINDOW {
            w.push(1_000);
        }
        for _ in 0..DURATION_WINDOW {
            w.push(5);
        }
        assert_eq!(w.percentile(95), Some(5));
        assert_eq!(w.count(), 2 * DURATION_WINDOW as u64);
    }

    #[test]
    fn slow_fetches_are_kept_above_the_threshold_and_bounded() {
        let mut m = QueryMetrics::default();
        let key = "[\"cases\"]".to_string();
        m.record_fetch_done("cases", &key, 999, 1);
        m.record_fetch_done("cases", &key, 1_001, 2);
        assert_eq!(m.slow_fetches().count(), 1);
        for i in 0..50 {
            m.record_failure("cases", &key, 2_000, 10 + i);
        }
        assert_eq!(m.slow_fetches().count(), SLOW_FETCHES_KEPT);
        assert_eq!(m.slow_fetches().last().unwrap().at, 59);
        assert_eq!(m.failures, 50);
    }

    #[test]
    fn hit_rate_counts_lookups() {
        let mut m = QueryMetrics::default();
        assert_eq!(m.hit_rate(), 0.0);
        m.record_lookup(true);
        m.record_lookup(true);
        m.record_lookup(false);
        assert!((m.hit_rate() - 2.0 / 3.0).abs() < 1e-9);
    }
}
