//! Worker-wide state without std's `thread_local!`. A service worker runs
//! its wasm on one thread (the build has no `atomics` target feature), so a
//! plain static cell is never touched by two threads at once.

#[cfg(target_feature = "atomics")]
compile_error!("casefile-sw's statics assume one thread: build without the atomics feature");

/// A static holding a cell (`Cell`, `RefCell`).
pub struct Local<T>(pub T);

// SAFETY: without the atomics feature, wasm32 has exactly one thread, so a
// `Local` is only ever reached from the thread that created it.
unsafe impl<T> Sync for Local<T> {}

impl<T> core::ops::Deref for Local<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}
