//! Conflicts: concurrent writes to the same fields, and the four policies of
//! SPEC §4 that settle them.

use super::model::{CasePatch, DomainEvent, EventData};
use crate::api::Case;
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
    /// Nothing of it survives: it is overruled (kept, and shown so).
    Overrule,
    /// Re-apply these fields on top of the server's version: a new event
    /// with this patch replaces it.
    Rebase(CasePatch),
    /// Send the same change again on top of the server's version (a
    /// creation, deletion, restore or note that is later than theirs): a
    /// new event with this data replaces it.
    Reissue(EventData),
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
    let my_patch = match mine.typed_data() {
        Ok(EventData::CaseUpdated(patch)) => patch,
        // Creations, deletions and notes do not merge field by field: the
        // later one wins unless the person decides.
        Ok(data) => {
            return match policy {
                ConflictPolicy::Manual => Resolution::Park,
                ConflictPolicy::ServerWins => Resolution::Overrule,
                _ if mine.stamp() > theirs.stamp() => Resolution::Reissue(data),
                _ => Resolution::Overrule,
            }
        }
        Err(_) => return Resolution::Overrule,
    };
    let mine_later = mine.stamp() > theirs.stamp();
    let result = match policy {
        ConflictPolicy::ServerWins => return Resolution::Overrule,
        ConflictPolicy::Manual => return Resolution::Park,
        ConflictPolicy::ClientWins if mine_later => my_patch,
        ConflictPolicy::ClientWins => return Resolution::Overrule,
        ConflictPolicy::Merge if mine_later => my_patch,
        ConflictPolicy::Merge => {
            let theirs_fields = theirs.typed_data().map(|d| d.fields()).unwrap_or_default();
            my_patch.without(&theirs_fields)
        }
    };
    if result.fields().is_empty() {
        Resolution::Overrule
    } else {
        Resolution::Rebase(result)
    }
}

/// One field of a manual conflict side by side, in words: the case as the
/// local write saw it, the local write, and the server's case now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSides {
    /// The field's name (`title`, `status` …).
    pub field: &'static str,
    /// Before either change.
    pub base: String,
    /// This device's change.
    pub mine: String,
    /// What the server has now.
    pub theirs: String,
}

/// A case field's name for people ("status" → "Status").
pub fn field_label(field: &str) -> &'static str {
    match field {
        "title" => "Title",
        "description" => "Description",
        "status" => "Status",
        "priority" => "Priority",
        "assignee" => "Assignee",
        "tags" => "Tags",
        _ => "Other",
    }
}

/// The case as the server had it at `version`: the server's events (each
/// with the version it made) folded up to that version. The base of a
/// conflict is this at the parked event's base version.
pub fn case_at_version(settled: &[(u64, DomainEvent)], version: u64) -> Option<Case> {
    let before: Vec<DomainEvent> = settled
        .iter()
        .filter(|(v, _)| *v <= version)
        .map(|(_, e)| e.clone())
        .collect();
    super::replay(&before).map(|v| v.case)
}

/// A case field's value, in words.
pub fn field_text(case: &Case, field: &str) -> String {
    match field {
        "title" => case.title.clone(),
        "description" => case.description.clone(),
        "status" => case.status.label().to_string(),
        "priority" => case.priority.label().to_string(),
        "assignee" => assignee_text(case.assignee.as_deref()),
        "tags" => case.tags.join(", "),
        _ => String::new(),
    }
}

fn assignee_text(a: Option<&str>) -> String {
    a.map_or_else(|| "Unassigned".to_string(), str::to_string)
}

/// The value a patch sets for `field`, in words, if it sets one.
pub fn patch_text(patch: &CasePatch, field: &str) -> Option<String> {
    match field {
        "title" => patch.title.clone(),
        "description" => patch.description.clone(),
        "status" => patch.status.map(|s| s.label().to_string()),
        "priority" => patch.priority.map(|p| p.label().to_string()),
        "assignee" => patch.assignee.as_ref().map(|a| assignee_text(a.as_deref())),
        "tags" => patch.tags.as_ref().map(|t| t.join(", ")),
        _ => None,
    }
}

/// A parked update beside `base` (the case as it was when the update was
/// made; `None` if unknown) and `theirs` (the server's case now): one row
/// per field the update changes.
pub fn sides(base: Option<&Case>, mine: &CasePatch, theirs: &Case) -> Vec<FieldSides> {
    mine.fields()
        .into_iter()
        .map(|field| FieldSides {
            field,
            base: base.map_or_else(|| "unknown".into(), |b| field_text(b, field)),
            mine: patch_text(mine, field).unwrap_or_default(),
            theirs: field_text(theirs, field),
        })
        .collect()
}

/// The resolution of a parked update: the fields the person kept from
/// `mine`, re-applied on top of the server's case; the rest stay as the
/// server has them. `None` when nothing of `mine` is kept.
pub fn resolution(mine: &CasePatch, keep_mine: &BTreeSet<&str>) -> Option<CasePatch> {
    let dropped: BTreeSet<&'static str> = mine
        .fields()
        .into_iter()
        .filter(|f| !keep_mine.contains(f))
        .collect();
    let kept = mine.without(&dropped);
    (!kept.fields().is_empty()).then_some(kept)
}
