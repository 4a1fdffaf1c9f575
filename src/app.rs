//! The root component and the routes.

use crate::components::{Header, SignedOutHeader};
use crate::online::provide_online;
use crate::pages::{CasesPage, DashboardPage, NotFound, SignIn};
use crate::query::{provide_query_client, QueryClient};
use crate::split::{CaseDetailRoute, EditCaseRoute, NewCaseRoute, PerformanceRoute, SyncRoute};
use crate::sync::{provide_sync, SyncEngine};
use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{path, Lazy};

/// The app of a signed-in user. The pages a first screen seldom is load with
/// their own chunk of the wasm, when first shown (see [`crate::split`]).
#[component]
pub fn App(
    /// The query cache, possibly already restored; a new one when absent.
    #[prop(optional)]
    client: Option<QueryClient>,
    /// The sync driver; without one, writes are unavailable.
    #[prop(optional)]
    sync: Option<SyncEngine>,
) -> impl IntoView {
    provide_online();
    crate::session::provide_session();
    provide_query_client(client.unwrap_or_default());
    let signed_in = sync.is_some();
    provide_sync(sync);
    if signed_in {
        // The user's stores are open: ask the browser to keep them.
        let status = crate::sync::use_sync_status();
        crate::storage::watch(Signal::derive(move || status.pending.get()));
    }
    crate::toast::provide_toaster();
    crate::sync::toast_refusals();
    view! {
        <Router>
            <Header/>
            <main class="content" id="main">
                <Routes fallback=NotFound>
                    <Route path=path!("/") view=DashboardPage/>
                    <Route path=path!("/cases") view=CasesPage/>
                    <Route path=path!("/cases/new") view={Lazy::<NewCaseRoute>::new()}/>
                    <Route path=path!("/cases/:id") view={Lazy::<CaseDetailRoute>::new()}/>
                    <Route path=path!("/cases/:id/edit") view={Lazy::<EditCaseRoute>::new()}/>
                    <Route path=path!("/sync") view={Lazy::<SyncRoute>::new()}/>
                    <Route path=path!("/performance") view={Lazy::<PerformanceRoute>::new()}/>
                    <Route path=path!("/sign-in") view=SignIn/>
                </Routes>
            </main>
            <crate::toast::ToastHost/>
        </Router>
    }
}

/// The app while nobody is signed in on this page (no store is open): every
/// address shows the sign-in form, and nothing of anyone's data. This is
/// all a first visit runs before its first screen, so it is the first
/// chunk of the wasm: it names nothing of [`App`].
#[component]
pub fn SignedOutApp() -> impl IntoView {
    provide_online();
    crate::session::provide_session();
    view! {
        <Router>
            <SignedOutHeader/>
            <main class="content" id="main">
                <SignIn/>
            </main>
        </Router>
    }
}
