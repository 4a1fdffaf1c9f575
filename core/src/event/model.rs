//! Domain events (SPEC §5): the only way anything changes, on a device or on
//! the server. An event is validated against its type, and sealed with a
//! checksum over a canonical encoding.

use super::clock::Stamp;
use crate::api::{CaseStatus, Priority};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use std::collections::BTreeSet;

/// What kind of thing an event changes. Notes belong to their case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum AggregateType {
    /// A case (and its notes).
    #[serde(rename = "case")]
    Case,
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum EventType {
    /// A case was opened; `data` holds every field.
    #[serde(rename = "case.created")]
    CaseCreated,
    /// Some fields changed; `data` holds only those.
    #[serde(rename = "case.updated")]
    CaseUpdated,
    /// The case was deleted (a tombstone).
    #[serde(rename = "case.deleted")]
    CaseDeleted,
    /// A deletion was undone.
    #[serde(rename = "case.restored")]
    CaseRestored,
    /// A note was added to the case.
    #[serde(rename = "note.added")]
    NoteAdded,
}

impl EventType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::CaseCreated => "case.created",
            EventType::CaseUpdated => "case.updated",
            EventType::CaseDeleted => "case.deleted",
            EventType::CaseRestored => "case.restored",
            EventType::NoteAdded => "note.added",
        }
    }
}

/// Every field of a new case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseFields {
    /// 1–200 characters after trimming.
    pub title: String,
    /// Up to 10,000 characters.
    #[serde(default)]
    pub description: String,
    /// Defaults to open.
    #[serde(default = "default_status")]
    pub status: CaseStatus,
    /// Defaults to medium.
    #[serde(default = "default_priority")]
    pub priority: Priority,
    /// Up to 100 characters.
    #[serde(default)]
    pub assignee: Option<String>,
    /// Up to 20 tags of up to 40 characters.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The team the case belongs to (≤ 64 characters); absent: the
    /// creator's first team. A supervisor may move it later
    /// ([`CasePatch::team`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
}

impl CaseFields {
    /// A new case with this title and every other field at its default.
    pub fn titled(title: impl Into<String>) -> Self {
        CaseFields {
            title: title.into(),
            description: String::new(),
            status: default_status(),
            priority: default_priority(),
            assignee: None,
            tags: Vec::new(),
            team: None,
        }
    }
}

fn default_status() -> CaseStatus {
    CaseStatus::Open
}
fn default_priority() -> Priority {
    Priority::Medium
}

/// `Some(None)` for an explicit `null` (clear the field), `None` when absent.
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// The fields an update changes; absent fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CasePatch {
    /// New title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// New description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// New status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<CaseStatus>,
    /// New priority.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    /// New assignee; `Some(None)` unassigns.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub assignee: Option<Option<String>>,
    /// New tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// The team it moves to (a supervisor of both teams; who may read the
    /// case changes with it, SPEC §10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
}

impl CasePatch {
    /// The names of the fields this patch changes.
    pub fn fields(&self) -> BTreeSet<&'static str> {
        let mut f = BTreeSet::new();
        let pairs = [
            ("title", self.title.is_some()),
            ("description", self.description.is_some()),
            ("status", self.status.is_some()),
            ("priority", self.priority.is_some()),
            ("assignee", self.assignee.is_some()),
            ("tags", self.tags.is_some()),
            ("team", self.team.is_some()),
        ];
        for (name, set) in pairs {
            if set {
                f.insert(name);
            }
        }
        f
    }

    /// This patch without the named fields.
    pub fn without(&self, fields: &BTreeSet<&'static str>) -> CasePatch {
        let keep = |name: &str| !fields.contains(name);
        CasePatch {
            title: self.title.clone().filter(|_| keep("title")),
            description: self.description.clone().filter(|_| keep("description")),
            status: self.status.filter(|_| keep("status")),
            priority: self.priority.filter(|_| keep("priority")),
            assignee: self.assignee.clone().filter(|_| keep("assignee")),
            tags: self.tags.clone().filter(|_| keep("tags")),
            team: self.team.clone().filter(|_| keep("team")),
        }
    }

    /// `self` with `other`'s fields laid over it.
    pub fn overlay(&self, other: &CasePatch) -> CasePatch {
        CasePatch {
            title: other.title.clone().or_else(|| self.title.clone()),
            description: other
                .description
                .clone()
                .or_else(|| self.description.clone()),
            status: other.status.or(self.status),
            priority: other.priority.or(self.priority),
            assignee: other.assignee.clone().or_else(|| self.assignee.clone()),
            tags: other.tags.clone().or_else(|| self.tags.clone()),
            team: other.team.clone().or_else(|| self.team.clone()),
        }
    }
}

/// A note added to a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoteData {
    /// The note's own id (UUID).
    pub note_id: String,
    /// 1–5,000 characters.
    pub body: String,
    /// Who wrote it (1–100 characters).
    pub author: String,
}

/// An event's data, typed by its event type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventData {
    /// `case.created`.
    CaseCreated(CaseFields),
    /// `case.updated`.
    CaseUpdated(CasePatch),
    /// `case.deleted`.
    CaseDeleted,
    /// `case.restored`.
    CaseRestored,
    /// `note.added`.
    NoteAdded(NoteData),
}

impl EventData {
    /// The event type this data belongs to.
    pub fn event_type(&self) -> EventType {
        match self {
            EventData::CaseCreated(_) => EventType::CaseCreated,
            EventData::CaseUpdated(_) => EventType::CaseUpdated,
            EventData::CaseDeleted => EventType::CaseDeleted,
            EventData::CaseRestored => EventType::CaseRestored,
            EventData::NoteAdded(_) => EventType::NoteAdded,
        }
    }

    /// The data as JSON (the event's `data` field).
    pub fn to_value(&self) -> Value {
        let value = match self {
            EventData::CaseCreated(f) => serde_json::to_value(f),
            EventData::CaseUpdated(p) => serde_json::to_value(p),
            EventData::CaseDeleted | EventData::CaseRestored => {
                Ok(Value::Object(Default::default()))
            }
            EventData::NoteAdded(n) => serde_json::to_value(n),
        };
        value.expect("event data always encodes")
    }

    /// The case fields this data touches (for conflict detection).
    pub fn fields(&self) -> BTreeSet<&'static str> {
        match self {
            EventData::CaseCreated(_) => [
                "title",
                "description",
                "status",
                "priority",
                "assignee",
                "tags",
            ]
            .into(),
            EventData::CaseUpdated(p) => p.fields(),
            EventData::CaseDeleted | EventData::CaseRestored => ["deleted"].into(),
            EventData::NoteAdded(_) => BTreeSet::new(),
        }
    }
}

/// Why an event was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// A field breaks a rule; the message says which and how.
    #[error("{field}: {message}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong, in words.
        message: String,
    },
    /// `data` does not fit the event type (unknown or missing fields, wrong types).
    #[error("data does not fit {event_type}: {detail}")]
    Data {
        /// The event type.
        event_type: &'static str,
        /// serde's words.
        detail: String,
    },
    /// The stored checksum does not match the event: it was altered.
    #[error("checksum mismatch: stored {stored}, computed {computed}")]
    Checksum {
        /// What the record says.
        stored: String,
        /// What its contents hash to.
        computed: String,
    },
}

fn invalid(field: &'static str, message: impl Into<String>) -> EventError {
    EventError::Invalid {
        field,
        message: message.into(),
    }
}

/// A domain event as stored and sent (SPEC §5). Times are ms since the epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DomainEvent {
    /// UUID, made by the device that made the event.
    pub id: String,
    /// The case it changes.
    pub aggregate_id: String,
    /// Always `case` for now.
    pub aggregate_type: AggregateType,
    /// What happened.
    pub event_type: EventType,
    /// Wall-clock time on the device (ms), for people; order uses the stamp.
    pub timestamp: u64,
    /// The device.
    pub node_id: String,
    /// Lamport clock value.
    pub clock: u64,
    /// The aggregate's version after this event.
    pub version: u64,
    /// The version this event was based on.
    pub base_version: u64,
    /// Typed by `event_type`; see [`DomainEvent::data`].
    pub data: Value,
    /// The user action this event is part of.
    #[serde(default)]
    pub correlation_id: Option<String>,
    /// The event that caused this one (e.g. the conflict it resolves).
    #[serde(default)]
    pub causation_id: Option<String>,
    /// BLAKE3 of the canonical encoding, hex.
    #[serde(default)]
    pub checksum: String,
}

const UUID_LEN: usize = 36;
/// Longest correlation or causation id.
pub const ID_MAX: usize = 64;

fn check_uuid(field: &'static str, value: &str) -> Result<(), EventError> {
    let ok = value.len() == UUID_LEN
        && value.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        });
    if ok {
        Ok(())
    } else {
        Err(invalid(field, format!("`{value}` is not a UUID")))
    }
}

fn check_len(field: &'static str, value: &str, min: usize, max: usize) -> Result<(), EventError> {
    // No database text column takes NUL (PostgreSQL refuses it): a text
    // field holding one is this event's refusal, never a failed batch.
    if value.contains('\0') {
        return Err(invalid(field, "may not contain the NUL character"));
    }
    let n = value.trim().chars().count();
    if n < min {
        return Err(invalid(
            field,
            if min == 1 {
                "is required".to_string()
            } else {
                format!("needs at least {min} characters")
            },
        ));
    }
    if value.chars().count() > max {
        return Err(invalid(field, format!("may be at most {max} characters")));
    }
    Ok(())
}

fn check_tags(tags: &[String]) -> Result<(), EventError> {
    if tags.len() > TAGS_MAX {
        return Err(invalid("tags", format!("at most {TAGS_MAX} tags")));
    }
    for tag in tags {
        check_len("tags", tag, 1, TAG_MAX)?;
    }
    Ok(())
}

/// Longest case title (SPEC §2).
pub const TITLE_MAX: usize = 200;
/// Longest description.
pub const DESCRIPTION_MAX: usize = 10_000;
/// Longest assignee name.
pub const ASSIGNEE_MAX: usize = 100;
/// Longest team id an event may name.
pub const TEAM_MAX: usize = 64;
/// Most tags on a case.
pub const TAGS_MAX: usize = 20;
/// Longest tag.
pub const TAG_MAX: usize = 40;

/// Validates case fields (SPEC §2).
pub fn validate_fields(f: &CaseFields) -> Result<(), EventError> {
    check_len("title", &f.title, 1, TITLE_MAX)?;
    check_len("description", &f.description, 0, DESCRIPTION_MAX)?;
    if let Some(a) = &f.assignee {
        check_len("assignee", a, 0, ASSIGNEE_MAX)?;
    }
    if let Some(t) = &f.team {
        check_len("team", t, 1, TEAM_MAX)?;
    }
    check_tags(&f.tags)
}

/// Most characters in a note.
pub const NOTE_MAX: usize = 5_000;
/// Most characters in a note's author.
pub const AUTHOR_MAX: usize = 100;

impl EventData {
    /// Checks the data's own rules (lengths, required fields, ids), as the
    /// server will: what a form may offer before any event is made.
    pub fn validate(&self) -> Result<(), EventError> {
        match self {
            EventData::CaseCreated(f) => validate_fields(f),
            EventData::CaseUpdated(p) => validate_patch(p),
            EventData::CaseDeleted | EventData::CaseRestored => Ok(()),
            EventData::NoteAdded(n) => {
                check_uuid("note_id", &n.note_id)?;
                check_len("body", &n.body, 1, NOTE_MAX)?;
                check_len("author", &n.author, 1, AUTHOR_MAX)
            }
        }
    }
}

/// Validates a patch: at least one field, each within its limits.
pub fn validate_patch(p: &CasePatch) -> Result<(), EventError> {
    if p.fields().is_empty() {
        return Err(invalid("data", "an update must change at least one field"));
    }
    if let Some(t) = &p.title {
        check_len("title", t, 1, TITLE_MAX)?;
    }
    if let Some(d) = &p.description {
        check_len("description", d, 0, DESCRIPTION_MAX)?;
    }
    if let Some(Some(a)) = &p.assignee {
        check_len("assignee", a, 0, ASSIGNEE_MAX)?;
    }
    if let Some(tags) = &p.tags {
        check_tags(tags)?;
    }
    if let Some(t) = &p.team {
        check_len("team", t, 1, TEAM_MAX)?;
    }
    Ok(())
}

/// Who makes a new event, where it sits, and when: everything but its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventHeader {
    /// The event's UUID.
    pub id: String,
    /// The case it changes.
    pub aggregate_id: String,
    /// The device.
    pub node_id: String,
    /// Its Lamport clock value (from [`super::LamportClock::tick`]).
    pub clock: u64,
    /// The case version it is based on (0 for a creation).
    pub base_version: u64,
    /// Wall-clock time (ms).
    pub timestamp: u64,
}

impl DomainEvent {
    /// A new event, sealed: its version is `base_version + 1`, its type and
    /// `data` come from `data`.
    pub fn new(header: EventHeader, data: &EventData) -> DomainEvent {
        DomainEvent {
            id: header.id,
            aggregate_id: header.aggregate_id,
            aggregate_type: AggregateType::Case,
            event_type: data.event_type(),
            timestamp: header.timestamp,
            node_id: header.node_id,
            clock: header.clock,
            version: header.base_version + 1,
            base_version: header.base_version,
            data: data.to_value(),
            correlation_id: None,
            causation_id: None,
            checksum: String::new(),
        }
        .seal()
    }

    /// Its stamp's parts, borrowed: the key of [`in_stamp_order`]
    /// (ordered as [`Stamp`] is).
    ///
    /// [`in_stamp_order`]: super::in_stamp_order
    pub fn stamp_key(&self) -> (u64, &str) {
        (self.clock, &self.node_id)
    }

    /// This event's place in the total order.
    pub fn stamp(&self) -> Stamp {
        Stamp {
            clock: self.clock,
            node_id: self.node_id.clone(),
        }
    }

    /// The typed data, checked against the event type.
    pub fn typed_data(&self) -> Result<EventData, EventError> {
        let fail = |e: serde_json::Error| EventError::Data {
            event_type: self.event_type.as_str(),
            detail: e.to_string(),
        };
        let empty = |v: &Value| v.as_object().is_some_and(|o| o.is_empty()) || v.is_null();
        Ok(match self.event_type {
            EventType::CaseCreated => {
                EventData::CaseCreated(CaseFields::deserialize(&self.data).map_err(fail)?)
            }
            EventType::CaseUpdated => {
                EventData::CaseUpdated(CasePatch::deserialize(&self.data).map_err(fail)?)
            }
            EventType::CaseDeleted | EventType::CaseRestored => {
                if !empty(&self.data) {
                    return Err(EventError::Data {
                        event_type: self.event_type.as_str(),
                        detail: "expects no data".into(),
                    });
                }
                if self.event_type == EventType::CaseDeleted {
                    EventData::CaseDeleted
                } else {
                    EventData::CaseRestored
                }
            }
            EventType::NoteAdded => {
                EventData::NoteAdded(NoteData::deserialize(&self.data).map_err(fail)?)
            }
        })
    }

    /// Checks every rule an event must meet, returning its typed data.
    pub fn validate(&self) -> Result<EventData, EventError> {
        check_uuid("id", &self.id)?;
        check_uuid("aggregate_id", &self.aggregate_id)?;
        check_len("node_id", &self.node_id, 1, 64)?;
        if self.clock == 0 {
            return Err(invalid("clock", "must be at least 1"));
        }
        // Every number fits a JavaScript number exactly and the database's
        // signed column; every string is bounded.
        for (field, n) in [
            ("clock", self.clock),
            ("version", self.version),
            ("timestamp", self.timestamp),
        ] {
            if n > super::MAX_CLOCK {
                return Err(invalid(
                    field,
                    format!("must be at most {}", super::MAX_CLOCK),
                ));
            }
        }
        for (field, v) in [
            ("correlation_id", &self.correlation_id),
            ("causation_id", &self.causation_id),
        ] {
            if let Some(v) = v {
                check_len(field, v, 1, ID_MAX)?;
            }
        }
        if self.version != self.base_version + 1 {
            return Err(invalid("version", "must be base_version + 1"));
        }
        let data = self.typed_data()?;
        if matches!(data, EventData::CaseCreated(_)) && self.base_version != 0 {
            return Err(invalid("base_version", "a new case starts from version 0"));
        }
        data.validate()?;
        Ok(data)
    }

    /// The canonical encoding: every field but the checksum, as JSON with
    /// object keys sorted at every depth and no whitespace.
    ///
    /// Written by serde_json straight into one buffer (no string per
    /// field): every read of a stored event encodes it again to verify it
    /// (issue 18: the replay of a case).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let canonical = Canonical {
            aggregate_id: &self.aggregate_id,
            aggregate_type: self.aggregate_type,
            base_version: self.base_version,
            causation_id: &self.causation_id,
            clock: self.clock,
            correlation_id: &self.correlation_id,
            data: Sorted(&self.data),
            event_type: self.event_type,
            id: &self.id,
            node_id: &self.node_id,
            timestamp: self.timestamp,
            version: self.version,
        };
        let mut out = Vec::with_capacity(384);
        serde_json::to_writer(&mut out, &canonical).expect("an event in memory always encodes");
        out
    }

    /// BLAKE3 of [`canonical_bytes`](Self::canonical_bytes).
    fn digest(&self) -> blake3::Hash {
        blake3::hash(&self.canonical_bytes())
    }

    /// BLAKE3 of [`canonical_bytes`](Self::canonical_bytes), hex.
    pub fn compute_checksum(&self) -> String {
        self.digest().to_hex().to_string()
    }

    /// Sets the checksum; call after the last field changed.
    pub fn seal(mut self) -> Self {
        self.checksum = self.compute_checksum();
        self
    }

    /// Whether the stored checksum matches the contents.
    pub fn verify(&self) -> Result<(), EventError> {
        let computed = self.digest().to_hex();
        if computed.as_str() == self.checksum {
            Ok(())
        } else {
            Err(EventError::Checksum {
                stored: self.checksum.clone(),
                computed: computed.to_string(),
            })
        }
    }
}

/// An event's fields but the checksum, in alphabetical order: serialized
/// compactly, the canonical encoding.
#[derive(Serialize)]
struct Canonical<'a> {
    aggregate_id: &'a str,
    aggregate_type: AggregateType,
    base_version: u64,
    causation_id: &'a Option<String>,
    clock: u64,
    correlation_id: &'a Option<String>,
    data: Sorted<'a>,
    event_type: EventType,
    id: &'a str,
    node_id: &'a str,
    timestamp: u64,
    version: u64,
}

/// A JSON value serialized with its object keys sorted at every depth,
/// whatever order they came in.
struct Sorted<'a>(&'a Value);

impl Serialize for Sorted<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self.0 {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                let mut out = s.serialize_map(Some(keys.len()))?;
                for k in keys {
                    out.serialize_entry(k, &Sorted(&map[k]))?;
                }
                out.end()
            }
            Value::Array(items) => {
                let mut out = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    out.serialize_element(&Sorted(item))?;
                }
                out.end()
            }
            leaf => leaf.serialize(s),
        }
    }
}
