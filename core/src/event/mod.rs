//! Events with Lamport stamps (SPEC §5): the model, validation and checksum,
//! replay with snapshots, and conflict policies.

mod clock;
mod conflict;
mod model;
mod replay;
#[cfg(test)]
mod tests;

pub use clock::{LamportClock, Stamp};
pub use conflict::{detect_conflicts, overlap, resolve, ConflictPolicy, Resolution};
pub use model::{
    validate_fields, validate_patch, AggregateType, CaseFields, CasePatch, DomainEvent, EventData,
    EventError, EventType, NoteData,
};
pub use replay::{apply, replay, replay_from, CaseView, Snapshot, SNAPSHOT_EVERY};
