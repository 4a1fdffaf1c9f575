//! Which API origin a request goes to (SPEC §3, HTTP client).
//!
//! The pool spreads requests over its origins (round-robin, or the one with
//! the fewest requests in flight), marks an origin unhealthy after a network
//! error or a 5xx, fails over to the next healthy one, and asks for a health
//! probe of an unhealthy origin after a backoff (1 s, 2 s, 4 s … capped at
//! 60 s). With one origin it never refuses to pick it.
//!
//! Call order: [`OriginPool::pick`] → [`OriginPool::start`] →
//! [`OriginPool::finish`]; [`OriginPool::due_probes`] when
//! [`OriginPool::poll_timeout`] passes, then [`OriginPool::probe_finished`].

/// How to choose among healthy origins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Balance {
    /// Each in turn. The default.
    #[default]
    RoundRobin,
    /// The one with the fewest requests in flight (ties: list order).
    FewestInFlight,
    /// By rendezvous (highest random weight) hashing of the request's path:
    /// one path keeps going to the same healthy origin, so the browser's
    /// cached copy for that URL (its ETag) can be revalidated there; when
    /// that origin fails, the path's next-highest origin takes it, and the
    /// other paths stay where they were.
    Rendezvous,
}

/// FNV-1a over the origin, a separator and the key: the weight of `origin`
/// for `key` (stable across pages and builds; not a defence, a spreader).
fn weight(origin: &str, key: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in origin.bytes().chain([0]).chain(key.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    // A finaliser (MurmurHash3's), so keys that differ in their last
    // character still spread evenly.
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// How a request to an origin ended, as far as health goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A response below 500: the origin is up.
    Answered,
    /// No response, or a 5xx: the origin is in trouble.
    Failed,
}

/// First probe delay after an origin fails (ms).
pub const PROBE_BASE_MS: u64 = 1_000;
/// Longest probe delay (ms).
pub const PROBE_MAX_MS: u64 = 60_000;

/// One origin's health.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginHealth {
    /// `""` for the page's own origin, else `https://host:port`.
    pub origin: String,
    /// Requests in flight.
    pub in_flight: u32,
    /// Whether requests go to it.
    pub healthy: bool,
    /// Failures in a row.
    pub failures: u32,
    /// When the next health probe is due (ms), while unhealthy.
    pub probe_at: Option<u64>,
    /// A probe is in flight.
    pub probing: bool,
}

/// The origins and their health.
#[derive(Debug, Clone)]
pub struct OriginPool {
    origins: Vec<OriginHealth>,
    balance: Balance,
    next: usize,
}

impl OriginPool {
    /// A pool over `origins` (the page's own origin, `""`, when empty).
    pub fn new<I: IntoIterator<Item = String>>(origins: I, balance: Balance) -> Self {
        let mut list: Vec<OriginHealth> = origins
            .into_iter()
            .map(|o| o.trim().trim_end_matches('/').to_string())
            .map(|origin| OriginHealth {
                origin,
                in_flight: 0,
                healthy: true,
                failures: 0,
                probe_at: None,
                probing: false,
            })
            .collect();
        if list.is_empty() {
            list = Self::new([String::new()], balance).origins;
        }
        OriginPool {
            origins: list,
            balance,
            next: 0,
        }
    }

    /// Every origin's health, in list order.
    pub fn origins(&self) -> &[OriginHealth] {
        &self.origins
    }

    /// The origin a request should use, skipping `tried` (indexes already
    /// tried by this request). Healthy origins first; when none is healthy,
    /// the untried one that failed least, so a request is never refused.
    pub fn pick(&mut self, tried: &[usize]) -> Option<usize> {
        self.pick_for(tried, "")
    }

    /// [`OriginPool::pick`] for a request to `key` (its path and query),
    /// which [`Balance::Rendezvous`] routes by.
    pub fn pick_for(&mut self, tried: &[usize], key: &str) -> Option<usize> {
        let n = self.origins.len();
        let candidates: Vec<usize> = (0..n)
            .filter(|i| !tried.contains(i) && self.origins[*i].healthy)
            .collect();
        if candidates.is_empty() {
            return (0..n)
                .filter(|i| !tried.contains(i))
                .min_by_key(|i| (self.origins[*i].failures, *i));
        }
        let chosen = match self.balance {
            Balance::RoundRobin => {
                let start = self.next % n;
                let chosen = (0..n)
                    .map(|k| (start + k) % n)
                    .find(|i| candidates.contains(i))
                    .expect("candidates is not empty");
                self.next = chosen + 1;
                chosen
            }
            Balance::FewestInFlight => *candidates
                .iter()
                .min_by_key(|i| (self.origins[**i].in_flight, **i))
                .expect("candidates is not empty"),
            Balance::Rendezvous => *candidates
                .iter()
                .max_by_key(|i| (weight(&self.origins[**i].origin, key), **i))
                .expect("candidates is not empty"),
        };
        Some(chosen)
    }

    /// A request to origin `i` started.
    pub fn start(&mut self, i: usize) {
        self.origins[i].in_flight += 1;
    }

    /// A request to origin `i` ended with `outcome` at `now`.
    pub fn finish(&mut self, i: usize, outcome: Outcome, now: u64) {
        let o = &mut self.origins[i];
        o.in_flight = o.in_flight.saturating_sub(1);
        self.record(i, outcome, now);
    }

    fn record(&mut self, i: usize, outcome: Outcome, now: u64) {
        let o = &mut self.origins[i];
        match outcome {
            Outcome::Answered => {
                o.healthy = true;
                o.failures = 0;
                o.probe_at = None;
            }
            Outcome::Failed => {
                o.healthy = false;
                o.failures += 1;
                let exp = (o.failures - 1).min(16);
                let delay = PROBE_BASE_MS.saturating_mul(1 << exp).min(PROBE_MAX_MS);
                o.probe_at = Some(now + delay);
            }
        }
    }

    /// When [`due_probes`](Self::due_probes) next has work (ms).
    pub fn poll_timeout(&self) -> Option<u64> {
        self.origins
            .iter()
            .filter(|o| !o.probing)
            .filter_map(|o| o.probe_at)
            .min()
    }

    /// Origins whose health probe is due; they are marked as probing.
    pub fn due_probes(&mut self, now: u64) -> Vec<usize> {
        let mut due = Vec::new();
        for (i, o) in self.origins.iter_mut().enumerate() {
            if !o.probing && o.probe_at.is_some_and(|at| at <= now) {
                o.probing = true;
                due.push(i);
            }
        }
        due
    }

    /// A health probe of origin `i` ended.
    pub fn probe_finished(&mut self, i: usize, outcome: Outcome, now: u64) {
        self.origins[i].probing = false;
        self.record(i, outcome, now);
    }
}

impl Outcome {
    /// The outcome of an HTTP status (`None`: no response at all).
    pub fn of_status(status: Option<u16>) -> Outcome {
        match status {
            Some(s) if s < 500 => Outcome::Answered,
            _ => Outcome::Failed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(n: usize, balance: Balance) -> OriginPool {
        OriginPool::new((0..n).map(|i| format!("https://api{i}.example/")), balance)
    }

    #[test]
    fn an_empty_list_means_the_pages_own_origin() {
        let mut p = OriginPool::new(Vec::<String>::new(), Balance::RoundRobin);
        assert_eq!(p.origins().len(), 1);
        assert_eq!(p.origins()[0].origin, "");
        assert_eq!(p.pick(&[]), Some(0));
    }

    #[test]
    fn trailing_slashes_are_dropped() {
        assert_eq!(
            pool(1, Balance::RoundRobin).origins()[0].origin,
            "https://api0.example"
        );
    }

    /// Of `rounds` reads of each of `paths` paths, the share (percent) that
    /// went to the origin the path's previous read went to: the reads whose
    /// cached copy (and ETag) the browser can revalidate, as the browser's
    /// cache is per URL and so per origin.
    fn affinity(balance: Balance, paths: usize, rounds: usize) -> usize {
        let mut p = pool(3, balance);
        let mut last = vec![None; paths];
        let mut same = 0;
        // Each round reads every path once, in a shuffled order (a fixed
        // linear congruential sequence), as a person browsing would.
        let mut seed: u64 = 42;
        for _ in 0..rounds {
            let mut order: Vec<usize> = (0..paths).collect();
            for j in (1..paths).rev() {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                order.swap(j, (seed >> 33) as usize % (j + 1));
            }
            for k in order {
                let i = p.pick_for(&[], &format!("/api/v1/cases/{k}")).unwrap();
                same += usize::from(last[k] == Some(i));
                last[k] = Some(i);
            }
        }
        same * 100 / (paths * (rounds - 1))
    }

    #[test]
    fn rendezvous_keeps_each_path_on_one_origin_and_moves_only_a_failed_ones_paths() {
        let rr = affinity(Balance::RoundRobin, 50, 10);
        let hrw = affinity(Balance::Rendezvous, 50, 10);
        println!("reads revalidatable on the same origin, 3 origins, 50 paths x 10 rounds: round-robin {rr}%, rendezvous {hrw}%");
        assert_eq!(hrw, 100);
        assert!(rr < 50, "round-robin spreads a path's reads ({rr}%)");
        // The paths spread over every origin.
        let mut p = pool(3, Balance::Rendezvous);
        let home: Vec<usize> = (0..60)
            .map(|k| p.pick_for(&[], &format!("/p/{k}")).unwrap())
            .collect();
        for i in 0..3 {
            assert!(home.iter().filter(|h| **h == i).count() >= 10, "{home:?}");
        }
        // Origin 0 fails: only its paths move, each to one other origin.
        p.finish(0, Outcome::Failed, 0);
        for (k, was) in home.iter().enumerate() {
            let now = p.pick_for(&[], &format!("/p/{k}")).unwrap();
            if *was == 0 {
                assert_ne!(now, 0);
            } else {
                assert_eq!(now, *was, "a healthy origin's path stays");
            }
        }
    }

    #[test]
    fn round_robin_takes_each_in_turn() {
        let mut p = pool(3, Balance::RoundRobin);
        let picks: Vec<_> = (0..6).map(|_| p.pick(&[]).unwrap()).collect();
        assert_eq!(picks, vec![0, 1, 2, 0, 1, 2]);
    }

    #[test]
    fn fewest_in_flight_prefers_the_idle_origin() {
        let mut p = pool(3, Balance::FewestInFlight);
        p.start(0);
        p.start(0);
        p.start(1);
        assert_eq!(p.pick(&[]), Some(2));
        p.start(2);
        p.start(2);
        assert_eq!(p.pick(&[]), Some(1));
    }

    #[test]
    fn a_failure_marks_unhealthy_and_requests_fail_over() {
        let mut p = pool(2, Balance::RoundRobin);
        let first = p.pick(&[]).unwrap();
        p.start(first);
        p.finish(first, Outcome::Failed, 1_000);
        assert!(!p.origins()[first].healthy);
        // The same request tries the other one, and so do the next ones.
        let other = p.pick(&[first]).unwrap();
        assert_ne!(other, first);
        assert_eq!(p.pick(&[]), Some(other));
        assert_eq!(p.pick(&[]), Some(other));
    }

    #[test]
    fn with_everything_down_requests_still_go_somewhere() {
        let mut p = pool(2, Balance::RoundRobin);
        p.finish(0, Outcome::Failed, 0);
        p.finish(0, Outcome::Failed, 0);
        p.finish(1, Outcome::Failed, 0);
        assert_eq!(p.pick(&[]), Some(1), "the one that failed least");
        assert_eq!(p.pick(&[1]), Some(0));
        assert_eq!(p.pick(&[0, 1]), None, "every origin tried");
    }

    #[test]
    fn probes_back_off_and_a_good_probe_restores_the_origin() {
        let mut p = pool(2, Balance::RoundRobin);
        p.finish(0, Outcome::Failed, 10_000);
        assert_eq!(p.poll_timeout(), Some(11_000));
        assert!(p.due_probes(10_999).is_empty());
        assert_eq!(p.due_probes(11_000), vec![0]);
        assert_eq!(p.poll_timeout(), None, "nothing while the probe runs");
        p.probe_finished(0, Outcome::Failed, 11_000);
        assert_eq!(
            p.poll_timeout(),
            Some(13_000),
            "2 s after the second failure"
        );
        assert_eq!(p.due_probes(13_000), vec![0]);
        p.probe_finished(0, Outcome::Answered, 13_100);
        assert!(p.origins()[0].healthy);
        assert_eq!(p.origins()[0].failures, 0);
        assert_eq!(p.poll_timeout(), None);
    }

    #[test]
    fn probe_backoff_is_capped() {
        let mut p = pool(1, Balance::RoundRobin);
        for _ in 0..30 {
            p.finish(0, Outcome::Failed, 0);
        }
        assert_eq!(p.poll_timeout(), Some(PROBE_MAX_MS));
    }

    #[test]
    fn statuses_below_500_count_as_answered() {
        assert_eq!(Outcome::of_status(Some(404)), Outcome::Answered);
        assert_eq!(Outcome::of_status(Some(429)), Outcome::Answered);
        assert_eq!(Outcome::of_status(Some(503)), Outcome::Failed);
        assert_eq!(Outcome::of_status(None), Outcome::Failed);
    }
}
