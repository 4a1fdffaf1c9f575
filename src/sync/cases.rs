//! The case list this device shows: every case it knows, as rows kept
//! current from the event store. What to read and how the rows change are
//! `casefile_core::cases::CaseIndex`'s rules; this reads and notifies.

use super::SyncEngine;
use casefile_core::cases::{CaseRow, Refresh};
use leptos::prelude::Update;
use std::collections::HashSet;
use std::rc::Rc;

/// The index and whether a refresh is running (or asked for again).
#[derive(Default)]
pub(super) struct CaseList {
    index: casefile_core::cases::CaseIndex,
    running: bool,
    again: bool,
}

impl SyncEngine {
    /// Notes cases whose events changed, for the next refresh.
    pub(super) fn cases_touched(&self, ids: &[String]) {
        self.0.cases.borrow_mut().index.touch(ids);
    }

    /// Every case this device knows, as of the last refresh; `None` while the
    /// device has no complete copy yet (its first catch-up is running).
    pub fn case_rows(&self) -> Option<Rc<Vec<CaseRow>>> {
        self.0.cases.borrow().index.rows()
    }

    /// Brings the rows up to date with the store; bumps `status.cases` when
    /// done. Calls during a refresh make it run once more.
    pub async fn refresh_cases(&self) {
        {
            let mut list = self.0.cases.borrow_mut();
            if list.running {
                list.again = true;
                return;
            }
            list.running = true;
        }
        loop {
            if self.refresh_cases_once().await {
                self.0.status.cases.update(|n| *n += 1);
            }
            let mut list = self.0.cases.borrow_mut();
            if !std::mem::take(&mut list.again) {
                list.running = false;
                break;
            }
        }
    }

    async fn refresh_cases_once(&self) -> bool {
        let Ok(store) = self.store() else {
            return false;
        };
        let Ok(waiting) = store.waiting_ids().await else {
            return false;
        };
        let waiting: HashSet<String> = waiting.into_iter().collect();
        let plan = self
            .0
            .cases
            .borrow_mut()
            .index
            .plan(self.filling(), &waiting);
        let read = match &plan {
            Refresh::Nothing => return false,
            Refresh::Whole => store.cases(None).await,
            Refresh::Some(ids) => store.cases(Some(ids)).await,
        };
        let Ok(read) = read else {
            // Not read: the next refresh asks for the same cases.
            if let Refresh::Some(ids) = &plan {
                self.cases_touched(ids);
            }
            return false;
        };
        let fresh = read
            .into_iter()
            .map(|c| CaseRow::new(c.view.case, c.pending))
            .collect();
        self.0.cases.borrow_mut().index.apply(&plan, fresh, waiting);
        true
    }
}
