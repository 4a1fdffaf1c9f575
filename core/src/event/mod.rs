//! Events with Lamport stamps (SPEC §5): the model, validation and checksum,
//! replay with snapshots, and conflict policies.

mod clock;
mod conflict;
mod form;
mod judge;
mod model;
mod order;
mod replay;
mod schedule;
#[cfg(test)]
mod sim;
mod sync;
#[cfg(test)]
mod tests;

pub use clock::{
    clock_acceptable, in_stamp_order, projected_time, stamp_order, LamportClock, Stamp, MAX_CLOCK,
    MAX_CLOCK_LEAD, MAX_TIME_SKEW_MS,
};
pub use conflict::{
    case_at_version, detect_conflicts, field_label, field_text, overlap, patch_text, resolution,
    resolve, sides, ConflictPolicy, FieldSides, Resolution,
};
pub use form::{assignee_problem, parse_tags, patch_between, tags_problem, title_problem};
pub use judge::{judge, Applied, Verdict};
pub use model::{
    validate_fields, validate_patch, AggregateType, CaseFields, CasePatch, DomainEvent, EventData,
    EventError, EventHeader, EventType, NoteData, ASSIGNEE_MAX, AUTHOR_MAX, DESCRIPTION_MAX,
    NOTE_MAX, TAGS_MAX, TAG_MAX, TITLE_MAX,
};
pub use order::{hold_back, read_answer};
pub use replay::{apply, replay, replay_from, CaseView, Snapshot, SNAPSHOT_EVERY};
pub use schedule::{
    batch_key, Due, PushOutcome, SyncSchedule, Trigger, LIVE_RECONNECT, PULL_FALLBACK_MS,
    PULL_INTERVAL_MS, PUSH_DEBOUNCE_MS, PUSH_INTERVAL_MS, PUSH_RETRY,
};
pub use sync::{
    batch_refused, known_after_push, next_batch, next_batch_within, read_response, settle,
    LocalAction, MAX_BATCH_BYTES, MAX_BATCH_EVENTS,
};
