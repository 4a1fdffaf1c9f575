//! Types of the HTTP API (SPEC §2), shared by the server, the app and the worker.
//!
//! Times are wall-clock milliseconds since the Unix epoch.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Where a case is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CaseStatus {
    /// Being worked on.
    Open,
    /// Waiting for someone's review.
    InReview,
    /// Finished.
    Closed,
}

/// How urgent a case is, lowest first (so `Ord` sorts by urgency).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Whenever there is time.
    Low,
    /// The usual.
    Medium,
    /// Soon.
    High,
    /// Now.
    Critical,
}

/// A value that is not one of an enum's wire names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a valid {what}; expected one of: {}", expected.join(", "))]
pub struct UnknownVariant {
    /// What was being parsed ("status", "priority").
    pub what: &'static str,
    /// The rejected input.
    pub value: String,
    /// The accepted names.
    pub expected: &'static [&'static str],
}

macro_rules! wire_enum {
    ($ty:ident, $what:literal, [$($variant:ident => $name:literal, $label:literal),+ $(,)?]) => {
        impl $ty {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            /// The name used on the wire and in URLs.
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $name),+ }
            }

            /// The name shown to people.
            pub fn label(self) -> &'static str {
                match self { $($ty::$variant => $label),+ }
            }
        }

        impl FromStr for $ty {
            type Err = UnknownVariant;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($name => Ok($ty::$variant),)+
                    _ => Err(UnknownVariant {
                        what: $what,
                        value: s.to_string(),
                        expected: &[$($name),+],
                    }),
                }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_enum!(CaseStatus, "status", [
    Open => "open", "Open",
    InReview => "in_review", "In review",
    Closed => "closed", "Closed",
]);

wire_enum!(Priority, "priority", [
    Low => "low", "Low",
    Medium => "medium", "Medium",
    High => "high", "High",
    Critical => "critical", "Critical",
]);

/// A case as the server projects it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Case {
    /// Client-generated UUID.
    pub id: String,
    /// 1–200 characters, trimmed.
    pub title: String,
    /// Up to 10,000 characters.
    pub description: String,
    /// Life-cycle state.
    pub status: CaseStatus,
    /// Urgency.
    pub priority: Priority,
    /// Who works on it, if anyone (≤ 100 characters).
    pub assignee: Option<String>,
    /// Up to 20 tags of ≤ 40 characters.
    pub tags: Vec<String>,
    /// When it was created (ms).
    pub created_at: i64,
    /// When it last changed (ms).
    pub updated_at: i64,
    /// Server version, bumped by every applied event.
    pub version: i64,
    /// Tombstone: deleted cases are kept so late events can be answered.
    pub deleted: bool,
}

/// A note on a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Note {
    /// Client-generated UUID.
    pub id: String,
    /// The case it belongs to.
    pub case_id: String,
    /// 1–5,000 characters.
    pub body: String,
    /// Who wrote it.
    pub author: String,
    /// When it was written (ms).
    pub created_at: i64,
}

/// One page of `GET /api/v1/cases`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CasePage {
    /// The cases on this page, most recently updated first.
    pub items: Vec<Case>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
    /// How many cases match the filters in all.
    pub total: i64,
}

/// A count of cases with one value of a field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Count<K> {
    /// The field's value.
    pub key: K,
    /// How many live cases have it.
    pub count: i64,
}

/// `GET /api/v1/dashboard`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Dashboard {
    /// Live (not deleted) cases in all.
    pub total: i64,
    /// One entry per status, in [`CaseStatus::ALL`] order, zeros included.
    pub by_status: Vec<Count<CaseStatus>>,
    /// One entry per priority, in [`Priority::ALL`] order, zeros included.
    pub by_priority: Vec<Count<Priority>>,
    /// The most recently updated live cases.
    pub recent: Vec<Case>,
}

/// `GET /api/v1/health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    /// `"ok"` when the database answers.
    pub status: String,
    /// The server's build version.
    pub version: String,
    /// `"sqlite"` or `"postgres"`.
    pub database: String,
}

/// The body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// A stable machine-readable code, e.g. `not_found`, `invalid_query`.
    pub error: String,
    /// A sentence for people.
    pub message: String,
    /// The request's `X-Request-ID`, to find it in the server's logs.
    pub request_id: String,
}

/// Largest page a client may ask for.
pub const MAX_PAGE_LIMIT: u32 = 500;
/// Page size when none is given.
pub const DEFAULT_PAGE_LIMIT: u32 = 50;
/// Most notes in one page of `GET /api/v1/cases/{id}/notes` (and the page
/// size when none is given).
pub const MAX_NOTES_PAGE: u32 = 500;

/// The `after` cursor that follows a page of notes ending with `last`, or
/// `None` when the page was the last one (shorter than `page`). The server
/// reads it back as `created_at:id` (its `parse_cursor`).
pub fn next_notes_cursor(page: usize, last: Option<(i64, &str)>, limit: u32) -> Option<String> {
    let (created_at, id) = last?;
    (page == limit as usize).then(|| format!("{created_at}:{id}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_page_of_notes_has_a_next_cursor_and_a_short_one_none() {
        assert_eq!(
            next_notes_cursor(500, Some((7, "n1")), 500).as_deref(),
            Some("7:n1")
        );
        assert_eq!(next_notes_cursor(499, Some((7, "n1")), 500), None);
        assert_eq!(next_notes_cursor(0, None, 500), None);
    }

    #[test]
    fn enums_round_trip_through_their_wire_names() {
        for s in CaseStatus::ALL {
            assert_eq!(s.as_str().parse::<CaseStatus>(), Ok(*s));
            assert_eq!(
                serde_json::to_string(s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
        for p in Priority::ALL {
            assert_eq!(p.as_str().parse::<Priority>(), Ok(*p));
        }
    }

    #[test]
    fn unknown_names_say_what_is_accepted() {
        let err = "urgent".parse::<Priority>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "`urgent` is not a valid priority; expected one of: low, medium, high, critical"
        );
    }

    #[test]
    fn priorities_sort_by_urgency() {
        assert!(Priority::Critical > Priority::High);
        assert!(Priority::Low < Priority::Medium);
    }
}

/// `POST /api/v1/events`: a batch of events. Each is checked on its own, so
/// one bad event does not sink the batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PushRequest {
    /// The events, as JSON (each must be a `DomainEvent`).
    pub events: Vec<serde_json::Value>,
}

/// What the server did with one pushed event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PushStatus {
    /// Applied now.
    Applied,
    /// Applied before (same event id): nothing done again.
    Duplicate,
    /// Concurrent with a change the server has to the same fields: not
    /// applied; the client settles it by its conflict policy.
    Conflict,
    /// Refused: the message says why. Retrying cannot help.
    Invalid,
    /// Refused: the signed-in user may not make this change (SPEC §10); the
    /// message says why. The rest of the batch is judged on its own.
    Forbidden,
}

/// The answer for one pushed event, in request order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushResult {
    /// The event's id (empty when it could not be read).
    pub id: String,
    /// What happened.
    pub status: PushStatus,
    /// The aggregate's server version after this event (applied or
    /// duplicate), or its current version (conflict).
    pub version: Option<i64>,
    /// Why, for `invalid` and `conflict`.
    pub message: Option<String>,
    /// For `conflict`: the server's events it collided with.
    #[serde(default)]
    pub conflicts_with: Vec<String>,
    /// For `invalid`: what the server lacks, when the event names a case or
    /// a version it has not seen (an earlier event of the same device may
    /// still bring it). Absent for every other refusal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<RefusalCode>,
}

impl PushResult {
    /// A result with no message, collisions or code.
    pub fn new(id: &str, status: PushStatus, version: Option<i64>) -> Self {
        PushResult {
            id: id.to_string(),
            status,
            version,
            message: None,
            conflicts_with: Vec::new(),
            code: None,
        }
    }
}

/// `GET /api/v1/auth/session` (and the sign-in's answer): who is signed in,
/// and until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionInfo {
    /// Sign-in name.
    pub user: String,
    /// Name to show.
    pub display_name: String,
    /// Role.
    pub role: crate::access::Role,
    /// Team ids.
    pub teams: Vec<String>,
    /// When the session ends if unused (ms).
    pub idle_expires_at: i64,
    /// When it ends at the latest (ms).
    pub expires_at: i64,
    /// This session's id as the sessions list names it (not its secret).
    pub session: String,
    /// An administrator has said the devices here are shared (SPEC §10,
    /// `PUT /api/v1/admin/settings`): a sign-out never offers to keep unsent
    /// changes on the device for later.
    #[serde(default)]
    pub shared_devices: bool,
}

/// `GET /api/v1/devices/{node}`: what the server received from one of the
/// reader's own devices (by its node id), so a device whose log was wiped
/// can say what is safe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceRecord {
    /// The device's node id.
    pub node_id: String,
    /// Events the server stored from it.
    pub events: u64,
    /// When the last of them arrived (ms), if any did.
    pub last_received_at: Option<i64>,
}

/// `GET`/`PUT /api/v1/admin/settings`: what an administrator decides for
/// every device.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Devices are shared (a ward's tablets, a front desk): "Keep on this
    /// device for me" is not offered at sign-out.
    pub shared_devices: bool,
}

/// Someone a case can be assigned to: a member of one of the reader's teams
/// (`GET /api/v1/people`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Person {
    /// Sign-in name (what a case's assignee holds).
    pub name: String,
    /// Name to show.
    pub display_name: String,
    /// Their teams among the reader's.
    pub teams: Vec<String>,
    /// Role.
    pub role: crate::access::Role,
}

/// Why an event was refused, where the device may have caused it by sending
/// out of order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RefusalCode {
    /// No case has the event's aggregate id (yet).
    UnknownCase,
    /// The event is based on a version the server does not have (yet).
    UnknownVersion,
}

/// The answer to a push.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushResponse {
    /// One result per event, in request order.
    pub results: Vec<PushResult>,
    /// The server's latest event cursor after the batch.
    pub cursor: i64,
}

/// One event as pulled: the server's cursor and version beside the event as
/// its device sent it (checksum intact).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PulledEvent {
    /// The server's cursor for this event.
    pub seq: i64,
    /// The aggregate's server version after it.
    pub version: i64,
    /// The event.
    pub event: crate::event::DomainEvent,
}

/// `GET /api/v1/events?after=&access_after=&limit=` (or `&cases=` for a
/// backfill).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PullResponse {
    /// Events after the cursor, oldest first.
    pub events: Vec<PulledEvent>,
    /// Pass as `after` next time.
    pub next_cursor: i64,
    /// Whether more events (or access changes) wait beyond this page.
    pub has_more: bool,
    /// Cases the reader may read now and could not before (since
    /// `access_after`): fetch their events from the first.
    #[serde(default)]
    pub granted: Vec<String>,
    /// Cases the reader could read and may not any more: purge them.
    #[serde(default)]
    pub revoked: Vec<String>,
    /// Pass as `access_after` next time.
    #[serde(default)]
    pub access_cursor: i64,
    /// The log's end when this page was read (its last cursor): how far a
    /// new device's catch-up has come is `next_cursor` of it.
    #[serde(default)]
    pub log_end: i64,
}

/// A message on `GET /api/v1/live` (WebSocket): the server's latest event
/// cursor, sent on connect and after every commit, so clients pull at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveNotice {
    /// Pull up to here.
    pub cursor: i64,
}

/// What one tab tells the others on the sync `BroadcastChannel`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TabNotice {
    /// A tab appended events: the syncing tab should push.
    Appended,
    /// The local store changed for these cases (pulled, pushed, settled):
    /// re-read them and refetch their queries.
    Changed {
        /// The cases.
        aggregates: Vec<String>,
    },
    /// The person pressed "Sync now" in a tab that is not the syncing one.
    SyncNow,
    /// The syncing tab's status, for the others' headers.
    Status {
        /// Events waiting to be pushed.
        pending: usize,
        /// When the last push went through (ms).
        last_push: Option<u64>,
        /// When the last pull went through (ms).
        last_pull: Option<u64>,
        /// The last error, in words.
        error: Option<String>,
    },
}
