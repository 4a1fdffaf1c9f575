//! This build's identity, used to drop data saved by other builds.

/// Set by `scripts/build.sh` (the git commit); the crate version otherwise.
pub const BUILD_VERSION: &str = match option_env!("CASEFILE_BUILD") {
    Some(v) => v,
    None => env!("CARGO_PKG_VERSION"),
};
