//! Where the app's wasm is split into chunks that load when first used.
//!
//! A first visit downloads only what its first screen needs: the sign-in
//! form ([`crate::app::SignedOutApp`]). The signed-in app ([`signed_in`]),
//! and in it the pages a first screen seldom is, are split points: built
//! with the `split` feature (`scripts/post_build.py` does, then runs the
//! splitter), each chunk is its own `.wasm` beside the main one, fetched and
//! linked the first time it is called, and precached by the service worker
//! with the rest of the build, so every page works offline from a cold
//! start. Without the feature (tests, `cargo check`) a split point is an
//! ordinary async call.
//!
//! The pages go in two chunks, by what is used together: a case's page
//! with the case form (`case_pages`), and the Sync center with the
//! Performance page (`tools`). A chunk of its own per page cost more than it
//! saved (issue 18, `scripts/size-report.sh`): every split boundary keeps
//! the optimiser from inlining and removing code across it, and the four
//! page chunks with `signed_in` made 21 shared chunks; all files came to
//! 672.9 KB gzip against 650.7 KB in two, and a page first opened downloads
//! 71–76 KB instead of 29–65 KB.
//!
//! A chunk that fails to load is not remembered as failed: the loader
//! starts again on the next call. Opening a page, the router's preload
//! asks for its chunk, then the page asks twice more before it says what
//! happened and offers to try again.
#![allow(improper_ctypes, improper_ctypes_definitions)]

use crate::pages::{CaseDetail, EditCase, NewCase, PerformancePage, SyncCenter};
use leptos::prelude::*;
use leptos_router::LazyRoute;

/// A chunk of the app could not be loaded (offline, and the chunk is not
/// on this device: its precache was evicted or never finished).
#[derive(Debug, Clone, Copy)]
pub struct Unloaded;

impl From<leptos::wasm_split::SplitLoaderError> for Unloaded {
    fn from(_: leptos::wasm_split::SplitLoaderError) -> Self {
        Unloaded
    }
}

/// `fn name() -> T { body } in chunk`: an async `name()` that gives
/// `Ok(body)` once `chunk` is loaded, or [`Unloaded`]. Functions that name
/// the same chunk share one file. `preload fetch;` also makes `fetch()`,
/// which loads the chunk without calling anything in it.
macro_rules! split_point {
    ($(#[$attr:meta])* $vis:vis fn $name:ident() -> $ret:ty $body:block in $chunk:ident $(, preload $preload:ident)?) => {
        $(#[$attr])*
        #[cfg(feature = "split")]
        #[leptos::wasm_split::wasm_split($chunk, wasm_split_path = ::leptos::wasm_split, fallible $(, preload($preload))?)]
        $vis fn $name() -> Result<$ret, Unloaded> {
            Ok($body)
        }
        $(#[$attr])*
        #[cfg(not(feature = "split"))]
        $vis async fn $name() -> Result<$ret, Unloaded> {
            Ok($body)
        }
        $(
            #[cfg(not(feature = "split"))]
            async fn $preload() -> Result<(), leptos::wasm_split::SplitLoaderError> {
                Ok(())
            }
        )?
    };
}

split_point! {
    /// Everything a signed-in page runs: its store, the sync engine and
    /// [`crate::App`] (see [`crate::start_signed_in`]).
    pub fn signed_in() -> futures_util::future::LocalBoxFuture<'static, ()> {
        Box::pin(crate::start_signed_in())
    } in signed_in
}

/// A route whose page is a split point of its own.
macro_rules! lazy_page {
    ($(#[$doc:meta])* $route:ident => $page:path, $load:ident, $preload:ident in $chunk:ident) => {
        $(#[$doc])*
        pub struct $route;

        split_point! {
            fn $load() -> AnyView { $page().into_view().into_any() } in $chunk, preload $preload
        }

        impl LazyRoute for $route {
            fn data() -> Self {
                $route
            }

            async fn view(_: Self) -> AnyView {
                match $load().await {
                    Ok(page) => page,
                    // Once more at once: the failure is not remembered, and
                    // a dropped connection is often back by then.
                    Err(Unloaded) => $load().await.unwrap_or_else(|Unloaded| unloaded()),
                }
            }

            async fn preload() {
                let _ = $preload().await;
            }
        }
    };
}

lazy_page!(
    /// `/cases/:id`.
    CaseDetailRoute => CaseDetail, case_detail, preload_case_detail in case_pages
);
lazy_page!(
    /// `/cases/new`: the case form, shared with [`EditCaseRoute`].
    NewCaseRoute => NewCase, new_case, preload_new_case in case_pages
);
lazy_page!(
    /// `/cases/:id/edit`.
    EditCaseRoute => EditCase, edit_case, preload_edit_case in case_pages
);
lazy_page!(
    /// `/sync`.
    SyncRoute => SyncCenter, sync_center, preload_sync_center in tools
);
lazy_page!(
    /// `/performance`.
    PerformanceRoute => PerformancePage, performance, preload_performance in tools
);

/// Loads both pages' chunks, one after the other, without showing any: run
/// once the first screen is up, so a later page opens at once. A chunk that
/// fails here is loaded again when its page is opened; the other is still
/// loaded.
pub async fn preload_pages() {
    let _ = preload_case_detail().await;
    let _ = preload_sync_center().await;
}

/// What a page that could not load shows: why, and a way to try again.
fn unloaded() -> AnyView {
    view! {
        <div class="panel panel-error" role="alert" data-testid="chunk-unloaded">
            <h2>"This page is not on this device yet"</h2>
            <p>"It could not be downloaded just now. Nothing of your work is lost: try again, now or once you are back online."</p>
            <button class="btn" on:click=|_| { let _ = window().location().reload(); }>"Try again"</button>
        </div>
    }
    .into_any()
}

/// The signed-in app could not load: said in the page, with a way to try
/// again (nothing of the app is running to say it otherwise).
pub fn signed_in_unloaded() {
    leptos::mount::mount_to_body(unloaded);
}
