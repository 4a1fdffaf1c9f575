//! Casefile's rules, as pure state machines and plain types.
//!
//! Nothing here does I/O or reads the clock: callers pass the current time
//! (wall-clock milliseconds) and other platform facts in, and carry out the
//! decisions that come back. The app (`src/`), the service worker (`sw/`) and
//! the server all share these rules, so each one is written exactly once.

pub mod api;
pub mod cases;
pub mod event;
pub mod origins;
pub mod precache;
pub mod query;
pub mod queue;
pub mod retry;
pub mod strategy;
pub mod toast;

pub use retry::{Failure, FailureClass, RetryDecision, RetryPolicy};
