//! The server's rule for one incoming event (SPEC §5): apply it as the next
//! version, refuse it, or report a conflict. Shared by the reference server
//! and by simulations, so both follow the same rule.

use super::model::{DomainEvent, EventData};
use crate::api::RefusalCode;

/// An event the server already applied to the same case after the incoming
/// event's base version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// Its id.
    pub id: String,
    /// The device that made it.
    pub node_id: String,
    /// The fields it touched.
    pub fields: Vec<String>,
}

/// What the server does with one valid, new (not duplicate) event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Apply it as this version of the case.
    Apply {
        /// The case's version after it.
        version: u64,
    },
    /// Another device changed the same fields since the event's base.
    Conflict {
        /// Those events' ids.
        with: Vec<String>,
        /// The case's current version.
        current: u64,
    },
    /// It cannot apply; the message says why.
    Refuse(String),
    /// It names a case or a base version the server does not have: refused
    /// now, though an earlier event of the same device that has not arrived
    /// may bring it (the device decides whether the refusal stands).
    Missing {
        /// What is missing.
        code: RefusalCode,
        /// In words.
        reason: String,
    },
}

/// Judges `event` (already validated, `data` its typed data) against the
/// case's current version (`None`: no such case) and the events applied
/// since its base version (`since_base`, any order).
///
/// Rules: a creation needs a new case id; anything else needs the case. An
/// event based on a version the server does not have is refused. Based on an
/// older version, it conflicts only with other devices' events that touched
/// one of its fields; disjoint or same-device changes apply on top.
pub fn judge(
    event: &DomainEvent,
    data: &EventData,
    current: Option<u64>,
    since_base: &[Applied],
) -> Verdict {
    let creating = matches!(data, EventData::CaseCreated(_));
    let current = match (creating, current) {
        (true, Some(_)) => {
            return Verdict::Refuse(format!("case {} already exists", event.aggregate_id))
        }
        (false, None) => {
            return Verdict::Missing {
                code: RefusalCode::UnknownCase,
                reason: format!("no case has id {}", event.aggregate_id),
            }
        }
        (_, current) => current.unwrap_or(0),
    };
    let base = event.base_version;
    if base > current {
        return Verdict::Missing {
            code: RefusalCode::UnknownVersion,
            reason: format!("based on version {base}, but the server has version {current}"),
        };
    }
    if base < current {
        let fields = data.fields();
        let with: Vec<String> = since_base
            .iter()
            .filter(|a| a.node_id != event.node_id)
            .filter(|a| a.fields.iter().any(|f| fields.contains(f.as_str())))
            .map(|a| a.id.clone())
            .collect();
        if !with.is_empty() {
            return Verdict::Conflict { with, current };
        }
    }
    Verdict::Apply {
        version: current + 1,
    }
}
