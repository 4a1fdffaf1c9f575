//! The service worker's runtime caching rules (SPEC §6): which strategy
//! answers a request, which responses may be stored, and which runtime
//! entries go when a cache is over its bounds or the quota runs out.
//!
//! The worker carries these out with Cache Storage; nothing here does I/O.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

/// How a request is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// The cache if it has the request, else the network (and store it).
    CacheFirst,
    /// The network, storing what may be stored; the cache when the network
    /// fails or takes longer than `timeout_ms` (and the cache has it).
    NetworkFirst {
        /// How long to wait for the network before answering from the cache.
        timeout_ms: u64,
    },
    /// The cache at once if it has it, refreshed from the network behind.
    StaleWhileRevalidate,
    /// The network only.
    NetworkOnly,
    /// The cache only.
    CacheOnly,
}

/// How long an API read may take before a cached answer is used.
pub const API_TIMEOUT_MS: u64 = 4_000;

/// Set by the worker on a response it answered from its runtime cache
/// instead of the network; the value is when the response was stored (ms).
/// The app shows such data as "offline data".
pub const OFFLINE_HEADER: &str = "x-casefile-offline";
/// Set on every response the worker stores: when it was stored (ms).
pub const STORED_AT_HEADER: &str = "x-casefile-stored-at";

/// What the page knows about the server from its latest API read, for the
/// header's indicator (the browser's own online flag comes on top).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reach {
    /// The server answered (or nothing has been asked yet).
    #[default]
    Answering,
    /// The worker answered from its cache because the server could not be
    /// reached; the copy was stored at this time (ms).
    OfflineCopy {
        /// When the worker stored the answer (ms).
        stored_at: u64,
    },
    /// The last read got no answer at all and no cached copy.
    Unreachable,
}

impl Reach {
    /// After a response arrived, with the worker's [`OFFLINE_HEADER`] value
    /// if it carried one.
    pub fn answered(offline_header: Option<u64>) -> Reach {
        match offline_header {
            Some(stored_at) => Reach::OfflineCopy { stored_at },
            None => Reach::Answering,
        }
    }

    /// After a request failed: only a failure to reach the server at all
    /// says it is unreachable (an HTTP error is an answer). An offline copy
    /// already on screen stays said: the server is still unreachable, and
    /// what shows is still that copy (requests that are never cached, like
    /// the event log, fail beside it).
    pub fn failed(self, failure: crate::retry::Failure) -> Reach {
        match (failure, self) {
            (crate::retry::Failure::Network, Reach::OfflineCopy { .. }) => self,
            (crate::retry::Failure::Network, _) => Reach::Unreachable,
            _ => Reach::Answering,
        }
    }

    /// After the worker queued a write, with the server's own status when it
    /// gave one (the worker's `HELD_HEADER`). A 401 is the server answering
    /// that the session ended: it is there, and the header says so while
    /// the write waits for sign-in. Anything else kept counts as the server
    /// not taking writes (so "Send now" waits for it).
    pub fn queued(self, held: Option<u16>) -> Reach {
        match held {
            Some(401) => Reach::Answering,
            _ => self.failed(crate::retry::Failure::Network),
        }
    }

    /// The header's words for it, when the browser says it is online.
    pub fn label(self) -> &'static str {
        match self {
            Reach::Answering => "Online",
            Reach::OfflineCopy { .. } => "Server unreachable · offline data",
            Reach::Unreachable => "Server unreachable",
        }
    }
}

/// A runtime cache and its bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuntimeCache {
    /// Cache Storage name (never a precache name, so activation keeps it).
    pub name: &'static str,
    /// Most entries kept; the least recently stored go first.
    pub max_entries: usize,
    /// Entries older than this are not used and are deleted.
    pub max_age_ms: u64,
}

/// API reads: enough for the lists and cases a caseworker opens in a week.
pub const API_CACHE: RuntimeCache = RuntimeCache {
    name: "casefile-runtime-api",
    max_entries: 300,
    max_age_ms: 7 * 24 * 60 * 60 * 1000,
};

/// API reads that must never come from a cache: the event log (the sync
/// driver needs the truth), liveness, the live socket and test controls.
fn uncacheable_api(path: &str) -> bool {
    path.starts_with("/api/v1/events")
        || path.starts_with("/api/v1/health")
        || path.starts_with("/api/v1/live")
        || path.starts_with("/api/v1/_")
}

/// The runtime strategy for a same-origin GET that is neither a navigation
/// nor a file of the build, if one applies (else the network, untouched).
pub fn runtime_route(path: &str) -> Option<(Strategy, RuntimeCache)> {
    (path.starts_with("/api/v1/") && !uncacheable_api(path)).then_some((
        Strategy::NetworkFirst {
            timeout_ms: API_TIMEOUT_MS,
        },
        API_CACHE,
    ))
}

/// What the storing rule looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseFacts<'a> {
    /// The request method.
    pub method: &'a str,
    /// The response status (0 for an opaque response).
    pub status: u16,
    /// The response is opaque (cross-origin, no CORS): its status is unknown.
    pub opaque: bool,
    /// The response's `Cache-Control`, if any.
    pub cache_control: Option<&'a str>,
    /// The request carried an `Authorization` header.
    pub authorization: bool,
}

fn directives(cache_control: Option<&str>) -> impl Iterator<Item = String> + '_ {
    cache_control
        .unwrap_or("")
        .split(',')
        .map(|d| d.trim().to_ascii_lowercase())
}

/// Whether a response may be stored: a 200 to a GET, not opaque, not
/// `no-store`, and, when the request carried credentials, only if the server
/// marked it `public`.
pub fn cacheable(r: &ResponseFacts<'_>) -> bool {
    if r.method != "GET" || r.opaque || r.status != 200 {
        return false;
    }
    let mut public = false;
    for d in directives(r.cache_control) {
        match d.as_str() {
            "no-store" => return false,
            "public" => public = true,
            _ => {}
        }
    }
    !r.authorization || public
}

/// When each entry of one runtime cache was stored, for its bounds. The
/// worker rebuilds it from the entries' [`STORED_AT_HEADER`] after a restart.
/// An API entry is stored again on every successful read, so "least recently
/// stored" is "least recently fetched". A runtime cache holds a few hundred
/// entries at most, so a plain list (no tree code in the worker) does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuntimeIndex {
    stored_at: Vec<(String, u64)>,
}

impl RuntimeIndex {
    /// Records that `url` was stored at `now`.
    pub fn stored(&mut self, url: &str, now: u64) {
        match self.stored_at.iter_mut().find(|(u, _)| u == url) {
            Some((_, at)) => *at = now,
            None => self.stored_at.push((url.to_string(), now)),
        }
    }

    /// Records that `url` left the cache.
    pub fn removed(&mut self, url: &str) {
        self.stored_at.retain(|(u, _)| u != url);
    }

    /// How many entries it knows.
    pub fn len(&self) -> usize {
        self.stored_at.len()
    }

    /// Whether it knows none.
    pub fn is_empty(&self) -> bool {
        self.stored_at.is_empty()
    }

    /// Whether an entry stored at `stored_at` may still be used.
    pub fn usable(policy: &RuntimeCache, stored_at: u64, now: u64) -> bool {
        now.saturating_sub(stored_at) <= policy.max_age_ms
    }

    fn oldest_first(&self) -> Vec<(&String, u64)> {
        let mut all: Vec<(&String, u64)> = self.stored_at.iter().map(|(k, v)| (k, *v)).collect();
        crate::small::sort_by(&mut all, |a, b| (a.1, a.0) < (b.1, b.0));
        all
    }

    /// The entries to delete now: every expired one, then the oldest until
    /// at most `max_entries` remain.
    pub fn evictions(&self, policy: &RuntimeCache, now: u64) -> Vec<String> {
        let all = self.oldest_first();
        let expired = all
            .iter()
            .filter(|(_, at)| !Self::usable(policy, *at, now))
            .count();
        let over = all.len().saturating_sub(policy.max_entries);
        all.into_iter()
            .take(expired.max(over))
            .map(|(url, _)| url.clone())
            .collect()
    }

    /// After a quota error: the older half of the entries (at least one),
    /// so the next write fits. Only this runtime cache is touched.
    pub fn quota_victims(&self) -> Vec<String> {
        let n = self.stored_at.len().div_ceil(2);
        self.oldest_first()
            .into_iter()
            .take(n)
            .map(|(url, _)| url.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn reach_follows_the_latest_read() {
        use crate::retry::Failure;
        assert_eq!(Reach::default().label(), "Online");
        let cached = Reach::answered(Some(1_000));
        assert_eq!(cached, Reach::OfflineCopy { stored_at: 1_000 });
        assert_eq!(cached.label(), "Server unreachable · offline data");
        assert_eq!(Reach::answered(None), Reach::Answering);
        let lost = Reach::Answering.failed(Failure::Network);
        assert_eq!(lost.label(), "Server unreachable");
        // The event log is never cached: its failure beside an offline copy
        // does not hide that the copy is what shows.
        assert_eq!(cached.failed(Failure::Network), cached);
        // An HTTP error is an answer: the server is there.
        let http = Failure::Http {
            status: 503,
            retry_after_ms: None,
        };
        assert_eq!(cached.failed(http), Reach::Answering);
        assert_eq!(lost.failed(Failure::Decode), Reach::Answering);
    }

    #[test]
    fn a_write_held_for_sign_in_does_not_call_the_server_unreachable() {
        assert_eq!(Reach::Unreachable.queued(Some(401)), Reach::Answering);
        assert_eq!(Reach::Answering.queued(Some(503)), Reach::Unreachable);
        assert_eq!(Reach::Answering.queued(None), Reach::Unreachable);
        let cached = Reach::answered(Some(5));
        assert_eq!(cached.queued(None), cached);
    }

    use super::*;

    fn ok_get() -> ResponseFacts<'static> {
        ResponseFacts {
            method: "GET",
            status: 200,
            opaque: false,
            cache_control: Some("no-cache"),
            authorization: false,
        }
    }

    #[test]
    fn api_reads_are_network_first_except_the_log_and_controls() {
        let (strategy, cache) = runtime_route("/api/v1/cases?status=open").unwrap();
        assert_eq!(strategy, Strategy::NetworkFirst { timeout_ms: 4_000 });
        assert_eq!(cache, API_CACHE);
        assert!(runtime_route("/api/v1/cases/abc/notes").is_some());
        assert!(runtime_route("/api/v1/dashboard").is_some());
        for path in [
            "/api/v1/events?after=0",
            "/api/v1/health",
            "/api/v1/live",
            "/api/v1/_faults",
            "/metrics",
            "/app.js",
        ] {
            assert_eq!(runtime_route(path), None, "{path}");
        }
    }

    #[test]
    fn only_plain_successful_gets_are_stored() {
        assert!(cacheable(&ok_get()));
        assert!(cacheable(&ResponseFacts {
            cache_control: None,
            ..ok_get()
        }));
        for bad in [
            ResponseFacts {
                status: 500,
                ..ok_get()
            },
            ResponseFacts {
                status: 404,
                ..ok_get()
            },
            ResponseFacts {
                status: 304,
                ..ok_get()
            },
            ResponseFacts {
                status: 0,
                opaque: true,
                ..ok_get()
            },
            ResponseFacts {
                method: "POST",
                ..ok_get()
            },
            ResponseFacts {
                cache_control: Some("private, No-Store"),
                ..ok_get()
            },
            ResponseFacts {
                authorization: true,
                ..ok_get()
            },
        ] {
            assert!(!cacheable(&bad), "{bad:?}");
        }
        assert!(cacheable(&ResponseFacts {
            authorization: true,
            cache_control: Some("public, max-age=60"),
            ..ok_get()
        }));
    }

    const SMALL: RuntimeCache = RuntimeCache {
        name: "casefile-runtime-test",
        max_entries: 3,
        max_age_ms: 1_000,
    };

    #[test]
    fn bounds_drop_expired_entries_then_the_oldest() {
        let mut index = RuntimeIndex::default();
        for (i, url) in ["/a", "/b", "/c", "/d", "/e"].iter().enumerate() {
            index.stored(url, 10_000 + i as u64);
        }
        assert_eq!(index.evictions(&SMALL, 10_005), vec!["/a", "/b"]);
        // Storing again makes an entry the newest.
        index.stored("/a", 10_010);
        assert_eq!(index.evictions(&SMALL, 10_010), vec!["/b", "/c"]);
        // Later, everything but the refreshed entry has expired.
        assert_eq!(
            index.evictions(&SMALL, 11_008),
            vec!["/b", "/c", "/d", "/e"]
        );
        assert!(RuntimeIndex::usable(&SMALL, 10_010, 11_010));
        assert!(!RuntimeIndex::usable(&SMALL, 10_010, 11_011));
        index.removed("/a");
        assert_eq!(index.len(), 4);
    }

    #[test]
    fn a_quota_error_frees_the_older_half() {
        let mut index = RuntimeIndex::default();
        assert!(index.quota_victims().is_empty());
        index.stored("/only", 1);
        assert_eq!(index.quota_victims(), vec!["/only"]);
        for (i, url) in ["/x", "/y", "/z"].iter().enumerate() {
            index.stored(url, 10 + i as u64);
        }
        assert_eq!(index.quota_victims(), vec!["/only", "/x"]);
    }
}
