//! Case writes as mutations: the event goes to this device's store, which
//! is itself the optimistic layer (a case shows the server's state plus its
//! pending events, and a rolled-back event drops out of it). Around that,
//! the mutation saves the case's cached server copy and restores it exactly
//! if the write fails, gives it the device's view on success, and
//! invalidates the lists and the dashboard.

use super::{use_sync, SyncEngine};
use crate::queries::keys;
use crate::query::{use_mutation, use_query_client, Mutation, MutationOptions};
use crate::toast::use_toaster;
use casefile_core::api::Case;
use casefile_core::event::EventData;
use casefile_core::query::QueryKey;
use std::rc::Rc;

/// A write to one case: its id and the change.
pub type CaseWrite = (String, EventData);

/// The case-write mutation: writes to one case run in order; a failure
/// shows an error toast naming the reason.
pub fn use_case_write() -> Mutation<CaseWrite, Option<Case>> {
    let engine: Option<SyncEngine> = use_sync();
    let toaster = use_toaster();
    let mut options = MutationOptions::new(move |(id, data): CaseWrite| {
        let engine = engine.clone();
        async move {
            let engine = engine.ok_or("saving is not available in this view")?;
            engine.append(&id, data).await.map_err(|e| e.to_string())?;
            Ok(engine.local_case(&id).await.map(|c| c.view.case))
        }
    });
    options.affects = Rc::new(|(id, _): &CaseWrite| vec![keys::case(id)]);
    options.on_success = Some(Rc::new(|client, (id, _): &CaseWrite, case| {
        if let Some(case) = case {
            client.set_query_data(keys::case(id), case);
        }
    }));
    options.invalidates = vec![QueryKey::new(["cases"]), QueryKey::new(["dashboard"])];
    options.on_error = Some(Rc::new(move |_: &CaseWrite, e: &str| {
        toaster.error(format!("Not saved: {e}"));
    }));
    options.scope = Some(Rc::new(|(id, _): &CaseWrite| id.clone()));
    // The write lands in this device's store: offline is no reason to wait.
    options.needs_network = false;
    use_mutation(use_query_client(), options)
}
