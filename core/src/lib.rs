//! Casefile's rules, as pure state machines and plain types.
//!
//! Nothing here does I/O or reads the clock: callers pass the current time
//! (wall-clock milliseconds) and other platform facts in, and carry out the
//! decisions that come back. The app (`src/`), the service worker (`sw/`) and
//! the server all share these rules, so each one is written exactly once.
//!
//! Without the `std` feature only the service worker's rules build
//! ([`precache`], [`strategy`], [`retry`], [`queue`]), on `core` and `alloc`.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

#[cfg(feature = "std")]
pub mod access;
#[cfg(feature = "std")]
pub mod api;
#[cfg(feature = "std")]
pub mod cases;
#[cfg(feature = "std")]
pub mod device;
#[cfg(feature = "std")]
pub mod event;
#[cfg(feature = "std")]
pub mod origins;
pub mod precache;
#[cfg(feature = "std")]
pub mod query;
pub mod queue;
pub mod retry;
#[cfg(feature = "std")]
pub mod signin;
pub mod small;
pub mod strategy;
#[cfg(feature = "std")]
pub mod sync;
#[cfg(feature = "std")]
pub mod toast;

pub use retry::{Failure, FailureClass, RetryDecision, RetryPolicy};
