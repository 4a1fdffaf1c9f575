//! The service worker's precache and routing rules (SPEC §6).
//!
//! The build writes a manifest (every file of the app shell) and a content
//! version into the worker's bootstrap. From those, this module decides the
//! cache's name, which old caches an activation deletes, and which strategy
//! answers each request. The worker in `sw/` only carries the decisions out.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

/// Every cache this app owns starts with this, so activation never touches
/// another app's caches on the same origin.
pub const CACHE_PREFIX: &str = "casefile-";
/// Prefix of the versioned precache names.
pub const PRECACHE_PREFIX: &str = "casefile-precache-";
/// The path the app shell is stored under in the precache: `/`, which every
/// server of the app answers with the shell (`/index.html` is normalised to it).
pub const SHELL_PATH: &str = "/";

/// How the worker answers one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// A navigation inside the app: answer with the precached shell, which
    /// routes on the client. Works offline.
    AppShell,
    /// A file of this build: answer from the precache, falling back to the
    /// network only if the cache lost it.
    Precached {
        /// The precache key to look up.
        path: String,
    },
    /// A read with a runtime strategy (API reads: network-first, falling
    /// back to the runtime cache).
    Runtime {
        /// How to answer.
        strategy: crate::strategy::Strategy,
        /// Where answers are kept.
        cache: crate::strategy::RuntimeCache,
    },
    /// A write of the app's to its own API: sent, and kept in the
    /// worker's queue when the server cannot take it now
    /// ([`crate::queue::is_queueable`]).
    Queue,
    /// Everything else goes to the network untouched.
    Network,
}

/// The facts about a request that routing depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestFacts<'a> {
    /// HTTP method, upper case.
    pub method: &'a str,
    /// The URL's path (no query).
    pub path: &'a str,
    /// Whether the URL has the worker's own origin.
    pub same_origin: bool,
    /// Whether the request is a top-level navigation (`mode == "navigate"`).
    pub navigate: bool,
}

/// Paths the server answers itself that a navigation must still reach (so a
/// person can open `/metrics` or an API URL in a tab).
fn is_server_path(path: &str) -> bool {
    path.starts_with("/api/") || path == "/api" || path == "/metrics"
}

/// The app shell of one build: its version and the paths it consists of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Precache {
    version: String,
    /// Sorted, no repeats.
    paths: Vec<String>,
}

impl Precache {
    /// A precache for `version` holding `paths` (absolute, e.g. `/app-1f2e.wasm`).
    /// `/index.html` is stored as [`SHELL_PATH`], and the shell is always included.
    pub fn new<I, S>(version: impl Into<String>, paths: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut paths: Vec<String> = paths.into_iter().map(|p| normalise(p.as_ref())).collect();
        paths.push(SHELL_PATH.to_string());
        crate::small::sort_by(&mut paths, |a, b| a < b);
        paths.dedup();
        Precache {
            version: version.into(),
            paths,
        }
    }

    /// The build's content version.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The name of this build's cache: the version is part of it, so two
    /// builds never share (or overwrite) each other's files.
    pub fn cache_name(&self) -> String {
        [PRECACHE_PREFIX, &self.version].concat()
    }

    /// Every path to fetch and store at install, sorted.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.paths.iter().map(String::as_str)
    }

    /// Whether `path` belongs to this build's shell.
    pub fn contains(&self, path: &str) -> bool {
        self.paths.binary_search(&normalise(path)).is_ok()
    }

    /// The caches an activation of this build deletes: precaches of other
    /// versions. Caches of other apps and this app's runtime caches stay.
    ///
    /// None while this build's own precache is incomplete (`own_complete`
    /// false): an older build activating while this one installed deletes
    /// this one's cache, and the worker must still answer offline from the
    /// others (same hashed files) until its own is filled again.
    pub fn stale_caches<'a, I>(&self, existing: I, own_complete: bool) -> Vec<String>
    where
        I: IntoIterator<Item = &'a str>,
    {
        if !own_complete {
            return Vec::new();
        }
        let current = self.cache_name();
        existing
            .into_iter()
            .filter(|name| name.starts_with(PRECACHE_PREFIX) && *name != current)
            .map(str::to_string)
            .collect()
    }

    /// This build's paths that are not among `present` (the paths its cache
    /// holds).
    pub fn missing<'a, I>(&self, present: I) -> Vec<String>
    where
        I: IntoIterator<Item = &'a str>,
    {
        let mut have: Vec<String> = present.into_iter().map(normalise).collect();
        crate::small::sort_by(&mut have, |a, b| a < b);
        self.paths
            .iter()
            .filter(|p| have.binary_search(p).is_err())
            .cloned()
            .collect()
    }

    /// Chooses how to answer a request.
    pub fn route(&self, req: &RequestFacts<'_>) -> Route {
        if crate::queue::is_queueable(req.method, req.path, req.same_origin) {
            return Route::Queue;
        }
        if req.method != "GET" || !req.same_origin {
            return Route::Network;
        }
        if req.navigate && !is_server_path(req.path) {
            return Route::AppShell;
        }
        let path = normalise(req.path);
        if self.paths.binary_search(&path).is_ok() {
            Route::Precached { path }
        } else if let Some((strategy, cache)) =
            crate::strategy::runtime_route(&path).filter(|_| !req.navigate)
        {
            Route::Runtime { strategy, cache }
        } else {
            Route::Network
        }
    }
}

fn normalise(path: &str) -> String {
    let path = path.split(['?', '#']).next().unwrap_or("");
    match path {
        "" | "/" | "/index.html" => SHELL_PATH.to_string(),
        p if p.starts_with('/') => p.to_string(),
        p => ["/", p].concat(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shell() -> Precache {
        Precache::new(
            "v2",
            [
                "/index.html",
                "/casefile-1a2b.js",
                "/casefile-1a2b_bg.wasm",
                "style-9f.css",
            ],
        )
    }

    fn get(path: &str, navigate: bool) -> RequestFacts<'_> {
        RequestFacts {
            method: "GET",
            path,
            same_origin: true,
            navigate,
        }
    }

    #[test]
    fn one_table_routes_writes_to_the_queue_and_nothing_else() {
        let p = shell();
        let write = |method, path, same_origin| RequestFacts {
            method,
            path,
            same_origin,
            navigate: false,
        };
        assert_eq!(
            p.route(&write("POST", "/api/v1/events", true)),
            Route::Queue
        );
        assert_eq!(
            p.route(&write("DELETE", "/api/v1/cases/1", true)),
            Route::Queue
        );
        assert_eq!(
            p.route(&write("POST", "/api/v1/events", false)),
            Route::Network
        );
        assert_eq!(
            p.route(&write("POST", "/api/v1/auth/login", true)),
            Route::Network
        );
        assert_ne!(p.route(&get("/api/v1/events", false)), Route::Queue);
    }

    #[test]
    fn cache_name_carries_the_version() {
        assert_eq!(shell().cache_name(), "casefile-precache-v2");
        assert_ne!(
            Precache::new("v1", ["/"]).cache_name(),
            Precache::new("v2", ["/"]).cache_name()
        );
    }

    #[test]
    fn paths_are_normalised_and_include_the_shell() {
        let p = shell();
        let paths: Vec<&str> = p.paths().collect();
        assert_eq!(
            paths,
            vec![
                "/",
                "/casefile-1a2b.js",
                "/casefile-1a2b_bg.wasm",
                "/style-9f.css"
            ]
        );
        assert!(Precache::new("v", Vec::<String>::new()).contains("/"));
        assert!(Precache::new("v", Vec::<String>::new()).contains("/index.html"));
    }

    #[test]
    fn activation_deletes_only_other_precache_versions() {
        let existing = [
            "casefile-precache-v1",
            "casefile-precache-v2",
            "casefile-precache-v0",
            "casefile-api",
            "someone-elses-cache",
        ];
        assert_eq!(
            shell().stale_caches(existing, true),
            vec!["casefile-precache-v1", "casefile-precache-v0"]
        );
        assert!(
            shell().stale_caches(existing, false).is_empty(),
            "an incomplete own precache keeps the others for offline answers"
        );
    }

    #[test]
    fn missing_lists_what_the_cache_does_not_hold() {
        let p = shell();
        let all: Vec<&str> = p.paths().collect();
        assert!(p.missing(all.iter().copied()).is_empty());
        assert!(
            p.missing(["/index.html"]).len() == all.len() - 1,
            "/index.html is the shell"
        );
        assert_eq!(p.missing(Vec::<&str>::new()).len(), all.len());
    }

    #[test]
    fn navigations_get_the_shell_except_server_paths() {
        let p = shell();
        assert_eq!(p.route(&get("/cases/42", true)), Route::AppShell);
        assert_eq!(p.route(&get("/", true)), Route::AppShell);
        assert_eq!(p.route(&get("/api/v1/cases", true)), Route::Network);
        assert_eq!(p.route(&get("/metrics", true)), Route::Network);
    }

    #[test]
    fn build_files_come_from_the_precache() {
        let p = shell();
        assert_eq!(
            p.route(&get("/casefile-1a2b_bg.wasm", false)),
            Route::Precached {
                path: "/casefile-1a2b_bg.wasm".into()
            }
        );
        assert_eq!(
            p.route(&get("/style-9f.css?x=1", false)),
            Route::Precached {
                path: "/style-9f.css".into()
            }
        );
        assert_eq!(p.route(&get("/other.js", false)), Route::Network);
    }

    #[test]
    fn api_reads_get_the_runtime_strategy_but_api_navigations_do_not() {
        let p = shell();
        assert!(matches!(
            p.route(&get("/api/v1/cases?q=a", false)),
            Route::Runtime { .. }
        ));
        assert_eq!(
            p.route(&get("/api/v1/events?after=3", false)),
            Route::Network
        );
        assert_eq!(p.route(&get("/api/v1/cases", true)), Route::Network);
    }

    #[test]
    fn writes_and_foreign_requests_pass_through() {
        let p = shell();
        let post = RequestFacts {
            method: "POST",
            ..get("/casefile-1a2b.js", false)
        };
        assert_eq!(p.route(&post), Route::Network);
        let foreign = RequestFacts {
            same_origin: false,
            ..get("/casefile-1a2b.js", true)
        };
        assert_eq!(p.route(&foreign), Route::Network);
    }
}
