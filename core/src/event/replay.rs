//! Replay: a deterministic fold of a case's events in stamp order.

use super::clock::Stamp;
use super::model::{DomainEvent, EventData};
use crate::api::{Case, Note};
use serde::{Deserialize, Serialize};

/// A case as its events make it, with its notes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseView {
    /// The case's fields.
    pub case: Case,
    /// Its notes, in stamp order.
    pub notes: Vec<Note>,
}

/// Take a snapshot after this many events since the last one.
pub const SNAPSHOT_EVERY: usize = 100;

/// Applies one event. Events that do not fit (an update before the case
/// exists, a second creation, a repeated note) change nothing, so a fold is
/// total and every replica ends in the same state.
pub fn apply(state: Option<CaseView>, event: &DomainEvent, data: &EventData) -> Option<CaseView> {
    let at = event.timestamp as i64;
    let version = event.version as i64;
    match (state, data) {
        (None, EventData::CaseCreated(f)) => Some(CaseView {
            case: Case {
                id: event.aggregate_id.clone(),
                title: f.title.trim().to_string(),
                description: f.description.clone(),
                status: f.status,
                priority: f.priority,
                assignee: f.assignee.clone(),
                tags: f.tags.clone(),
                created_at: at,
                updated_at: at,
                version,
                deleted: false,
            },
            notes: Vec::new(),
        }),
        (None, _) => None,
        (Some(view), EventData::CaseCreated(_)) => Some(view),
        (Some(mut view), data) => {
            let c = &mut view.case;
            match data {
                EventData::CaseUpdated(p) => {
                    if let Some(t) = &p.title {
                        c.title = t.trim().to_string();
                    }
                    if let Some(d) = &p.description {
                        c.description = d.clone();
                    }
                    if let Some(s) = p.status {
                        c.status = s;
                    }
                    if let Some(pr) = p.priority {
                        c.priority = pr;
                    }
                    if let Some(a) = &p.assignee {
                        c.assignee = a.clone();
                    }
                    if let Some(tags) = &p.tags {
                        c.tags = tags.clone();
                    }
                }
                EventData::CaseDeleted => c.deleted = true,
                EventData::CaseRestored => c.deleted = false,
                EventData::NoteAdded(n) => {
                    if !view.notes.iter().any(|x| x.id == n.note_id) {
                        view.notes.push(Note {
                            id: n.note_id.clone(),
                            case_id: event.aggregate_id.clone(),
                            body: n.body.clone(),
                            author: n.author.clone(),
                            created_at: at,
                        });
                    }
                }
                EventData::CaseCreated(_) => unreachable!("handled above"),
            }
            let c = &mut view.case;
            c.updated_at = c.updated_at.max(at);
            c.version = c.version.max(version);
            Some(view)
        }
    }
}

fn fold<'a>(
    start: Option<CaseView>,
    events: impl IntoIterator<Item = &'a DomainEvent>,
) -> Option<CaseView> {
    super::in_stamp_order(events.into_iter().collect(), |e| e.stamp_key())
        .into_iter()
        .fold(start, |state, event| match event.typed_data() {
            Ok(data) => apply(state, event, &data),
            Err(_) => state,
        })
}

/// The case as all its events make it, whatever order they are given in.
pub fn replay(events: &[DomainEvent]) -> Option<CaseView> {
    fold(None, events)
}

/// The state after a prefix of a case's events, to skip replaying them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The state after every event up to `upto`.
    pub state: Option<CaseView>,
    /// The last event folded in.
    pub upto: Stamp,
}

impl Snapshot {
    /// A snapshot of `events` (all of one case).
    pub fn of(events: &[DomainEvent]) -> Option<Snapshot> {
        let upto = events.iter().map(DomainEvent::stamp).max()?;
        Some(Snapshot {
            state: replay(events),
            upto,
        })
    }

    /// Whether the snapshot still holds once `stamp` arrives: an event that
    /// sorts before `upto` (a late remote event) makes it stale.
    pub fn holds_after(&self, stamp: &Stamp) -> bool {
        *stamp > self.upto
    }
}

/// The case from a snapshot and the events after it (events at or before the
/// snapshot's stamp are skipped; they are already folded in).
pub fn replay_from(snapshot: Option<&Snapshot>, events: &[DomainEvent]) -> Option<CaseView> {
    match snapshot {
        None => replay(events),
        Some(s) => fold(
            s.state.clone(),
            events.iter().filter(|e| e.stamp() > s.upto),
        ),
    }
}
