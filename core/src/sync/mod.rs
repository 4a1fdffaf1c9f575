//! Device sync (SPEC §5) as one sans-IO machine: [`SyncMachine`] decides
//! when to push and pull, what a push answer, a pulled page or a worker
//! message means for the event store, and how a conflict settles; the
//! browser's driver (`src/sync`) carries out its [`Io`] and feeds back the
//! results. [`state`] is where each event stands.

pub mod access;
pub mod live;
mod machine;
pub mod receive;
pub mod state;
#[cfg(test)]
pub(crate) mod testkit;

pub use machine::{
    catch_up_percent, clamp_wait, follower_rereads, is_event_push, letter_events,
    queries_a_change_touches, resolve_ops, retry_ops, wakes_worker, Figures, Input, Io, Read,
    StoreOp, SyncMachine, EVENTS_PATH, MAX_WAIT_MS, MIN_WAIT_MS, PULL_PAGE,
};
pub use state::{Change, SyncKind, SyncState, Tracking};
