//! Conflicts: concurrent writes to the same fields, and the four policies of
//! SPEC §4 that settle them.

use super::model::{CasePatch, DomainEvent, EventData};
use std::collections::BTreeSet;

/// How an aggregate type settles concurrent writes to the same fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConflictPolicy {
    /// The server's version stays; the local write is dropped.
    ServerWins,
    /// The later write by Lamport stamp wins, wholesale.
    ClientWins,
    /// Disjoint fields merge; overlapping fields go to the later write. The
    /// default.
    #[default]
    Merge,
    /// The person picks, field by field, in the sync center.
    Manual,
}

/// What happens to the local write after a conflict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// Nothing of it survives: drop it (the UI shows it was overruled).
    Drop,
    /// Re-apply these fields on top of the server's version.
    Rebase(CasePatch),
    /// Keep it aside for the person to decide.
    Park,
}

/// The fields two events both touch when they are concurrent: same case,
/// different devices, based on the same version. `None` when they are not in
/// conflict (sequential, or disjoint fields).
pub fn overlap(a: &DomainEvent, b: &DomainEvent) -> Option<BTreeSet<&'static str>> {
    if a.aggregate_id != b.aggregate_id
        || a.node_id == b.node_id
        || a.base_version != b.base_version
    {
        return None;
    }
    let (fa, fb) = (a.typed_data().ok()?.fields(), b.typed_data().ok()?.fields());
    let both: BTreeSet<&'static str> = fa.intersection(&fb).copied().collect();
    (!both.is_empty()).then_some(both)
}

/// Every conflicting pair among `events` (indexes, and the shared fields).
pub fn detect_conflicts(events: &[DomainEvent]) -> Vec<(usize, usize, BTreeSet<&'static str>)> {
    let mut found = Vec::new();
    for i in 0..events.len() {
        for j in i + 1..events.len() {
            if let Some(fields) = overlap(&events[i], &events[j]) {
                found.push((i, j, fields));
            }
        }
    }
    found
}

/// Settles `mine` (a local, unsynced update) against `theirs` (the server's
/// concurrent one) under `policy`.
pub fn resolve(policy: ConflictPolicy, mine: &DomainEvent, theirs: &DomainEvent) -> Resolution {
    let Ok(EventData::CaseUpdated(my_patch)) = mine.typed_data() else {
        // Creations, deletions and notes do not merge field by field: the
        // later one wins unless the person decides.
        return match policy {
            ConflictPolicy::Manual => Resolution::Park,
            ConflictPolicy::ServerWins => Resolution::Drop,
            _ if mine.stamp() > theirs.stamp() => Resolution::Rebase(CasePatch::default()),
            _ => Resolution::Drop,
        };
    };
    let mine_later = mine.stamp() > theirs.stamp();
    let result = match policy {
        ConflictPolicy::ServerWins => return Resolution::Drop,
        ConflictPolicy::Manual => return Resolution::Park,
        ConflictPolicy::ClientWins if mine_later => my_patch,
        ConflictPolicy::ClientWins => return Resolution::Drop,
        ConflictPolicy::Merge if mine_later => my_patch,
        ConflictPolicy::Merge => {
            let theirs_fields = theirs.typed_data().map(|d| d.fields()).unwrap_or_default();
            my_patch.without(&theirs_fields)
        }
    };
    if result.fields().is_empty() {
        Resolution::Drop
    } else {
        Resolution::Rebase(result)
    }
}
