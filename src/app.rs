//! The root component and the routes.

use crate::components::Header;
use crate::online::provide_online;
use crate::pages::{
    CaseDetail, CasesPage, DashboardPage, EditCase, NewCase, NotFound, PerformancePage, SignIn,
    SyncCenter,
};
use crate::query::{provide_query_client, QueryClient};
use crate::sync::{provide_sync, SyncEngine};
use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

/// The whole app.
#[component]
pub fn App(
    /// The query cache, possibly already restored; a new one when absent.
    #[prop(optional)]
    client: Option<QueryClient>,
    /// The sync driver; without one, writes are unavailable.
    #[prop(optional)]
    sync: Option<SyncEngine>,
    /// Nobody is signed in on this page (no store is open): every address
    /// shows the sign-in form, and nothing of anyone's data.
    #[prop(optional)]
    signed_out: bool,
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
            <Header signed_out/>
            <main class="content" id="main">
                <Show when=move || !signed_out fallback=|| view! { <SignIn/> }>
                <Routes fallback=NotFound>
                    <Route path=path!("/") view=DashboardPage/>
                    <Route path=path!("/cases") view=CasesPage/>
                    <Route path=path!("/cases/new") view=NewCase/>
                    <Route path=path!("/cases/:id") view=CaseDetail/>
                    <Route path=path!("/cases/:id/edit") view=EditCase/>
                    <Route path=path!("/sync") view=SyncCenter/>
                    <Route path=path!("/performance") view=PerformancePage/>
                    <Route path=path!("/sign-in") view=SignIn/>
                </Routes>
                </Show>
            </main>
            <crate::toast::ToastHost/>
        </Router>
    }
}
