//! Manual conflicts: the person's choice of policy for cases, and each
//! parked update side by side with the case before it and the server's case
//! now (rules in `casefile_core::event::conflict`).

use super::SyncEngine;
use casefile_core::event::{
    case_at_version, sides, ConflictPolicy, DomainEvent, EventData, FieldSides,
};

const KEY: &str = "casefile-conflict-policy";

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

/// How this device settles its updates that collide with another device's
/// on the same fields: `Merge` (the later change wins; the default) or
/// `Manual` (the person decides, field by field, in the sync center).
pub fn case_policy() -> ConflictPolicy {
    match storage()
        .and_then(|s| s.get_item(KEY).ok().flatten())
        .as_deref()
    {
        Some("manual") => ConflictPolicy::Manual,
        _ => ConflictPolicy::Merge,
    }
}

/// Sets [`case_policy`] for this device (every tab reads it when it settles).
pub fn set_case_policy(policy: ConflictPolicy) {
    if let Some(s) = storage() {
        let value = match policy {
            ConflictPolicy::Manual => "manual",
            _ => "merge",
        };
        let _ = s.set_item(KEY, value);
    }
}

impl SyncEngine {
    /// A parked update side by side: per field it changes, the case as it
    /// was on the server when the update was made, the update, and the
    /// case as it is now. `None` for other events (they are kept or dropped
    /// whole).
    pub async fn conflict_sides(&self, parked: &DomainEvent) -> Option<Vec<FieldSides>> {
        let Ok(EventData::CaseUpdated(mine)) = parked.typed_data() else {
            return None;
        };
        let settled: Vec<(u64, DomainEvent)> = self
            .history(&parked.aggregate_id)
            .await
            .into_iter()
            .filter(|(r, _)| r.kind() == casefile_core::sync::SyncKind::Synced)
            .filter_map(|(r, e)| Some((r.server_version? as u64, e)))
            .collect();
        let base = case_at_version(&settled, parked.base_version);
        let now = self.local_case(&parked.aggregate_id).await?.view.case;
        Some(sides(base.as_ref(), &mine, &now))
    }
}
