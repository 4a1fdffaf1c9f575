//! What of the query cache is saved, and what a restore keeps (SPEC §3).

use super::key::QueryKey;
use serde::{Deserialize, Serialize};

/// Saved data older than this (ms) is not restored: a day.
pub const MAX_AGE_MS: u64 = 24 * 60 * 60 * 1000;
/// Changes are saved this long (ms) after the last one, not on every change.
pub const SAVE_DEBOUNCE_MS: u64 = 1_000;

/// One saved query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersistedEntry<D> {
    /// The key.
    pub key: QueryKey,
    /// The data.
    pub data: D,
    /// When the data arrived (ms).
    pub updated_at: u64,
    /// The build that saved it.
    pub build: String,
}

/// Why a saved entry is not restored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discard {
    /// Saved by another build, whose data may have another shape.
    OtherBuild,
    /// Older than [`MAX_AGE_MS`] (or from the future: a wrong clock).
    Expired,
}

impl<D> PersistedEntry<D> {
    /// Whether this entry may be restored by `build` at `now`.
    pub fn check(&self, build: &str, now: u64) -> Result<(), Discard> {
        if self.build != build {
            return Err(Discard::OtherBuild);
        }
        let age = now.checked_sub(self.updated_at).ok_or(Discard::Expired)?;
        if age > MAX_AGE_MS {
            return Err(Discard::Expired);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(build: &str, updated_at: u64) -> PersistedEntry<()> {
        PersistedEntry {
            key: QueryKey::new(["cases"]),
            data: (),
            updated_at,
            build: build.into(),
        }
    }

    #[test]
    fn entries_of_this_build_within_a_day_are_kept() {
        let now = 10 * MAX_AGE_MS;
        assert_eq!(entry("b1", now - MAX_AGE_MS).check("b1", now), Ok(()));
        assert_eq!(entry("b1", now).check("b1", now), Ok(()));
    }

    #[test]
    fn another_build_or_an_old_entry_is_dropped() {
        let now = 10 * MAX_AGE_MS;
        assert_eq!(entry("b0", now).check("b1", now), Err(Discard::OtherBuild));
        assert_eq!(
            entry("b1", now - MAX_AGE_MS - 1).check("b1", now),
            Err(Discard::Expired)
        );
        assert_eq!(entry("b1", now + 5).check("b1", now), Err(Discard::Expired));
    }
}
