//! The case list this device shows: every case it knows, as rows kept
//! current from the event store (the list's rules are in
//! `casefile_core::cases`). A change re-reads only the cases it touched,
//! plus those whose writes were or are waiting (their badges and rollbacks).

use super::SyncEngine;
use casefile_core::cases::CaseRow;
use leptos::prelude::Update;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

/// More changed cases than this and the whole list is read again in one go.
const REBUILD_OVER: usize = 300;

#[derive(Default)]
pub(super) struct CaseIndex {
    rows: Rc<Vec<CaseRow>>,
    built: bool,
    dirty: HashSet<String>,
    waiting: HashSet<String>,
    running: bool,
    again: bool,
}

impl SyncEngine {
    /// Notes cases whose events changed, for the next refresh.
    pub(super) fn cases_touched(&self, ids: &[String]) {
        self.0.cases.borrow_mut().dirty.extend(ids.iter().cloned());
    }

    /// Every case this device knows, as of the last refresh; `None` while the
    /// device has no complete copy yet (its first catch-up is running).
    pub fn case_rows(&self) -> Option<Rc<Vec<CaseRow>>> {
        let index = self.0.cases.borrow();
        index.built.then(|| index.rows.clone())
    }

    /// Brings the rows up to date with the store; bumps `status.cases` when
    /// done. Calls during a refresh make it run once more.
    pub async fn refresh_cases(&self) {
        {
            let mut index = self.0.cases.borrow_mut();
            if index.running {
                index.again = true;
                return;
            }
            index.running = true;
        }
        loop {
            let changed = self.refresh_cases_once().await;
            if changed {
                self.0.status.cases.update(|n| *n += 1);
            }
            let mut index = self.0.cases.borrow_mut();
            if !std::mem::take(&mut index.again) {
                index.running = false;
                break;
            }
        }
    }

    async fn refresh_cases_once(&self) -> bool {
        let Ok(store) = self.store() else {
            return false;
        };
        let waiting_now: HashSet<String> = match store.waiting_ids().await {
            Ok(ids) => ids.into_iter().collect(),
            Err(_) => return false,
        };
        let (built, mut ids) = {
            let mut index = self.0.cases.borrow_mut();
            let ids = std::mem::take(&mut index.dirty);
            (index.built, ids)
        };
        // Before the first catch-up completes, the list is the server's
        // (unless this device has writes of its own to show).
        if !built && self.0.filling.get() && waiting_now.is_empty() {
            return false;
        }
        ids.extend(waiting_now.iter().cloned());
        ids.extend(self.0.cases.borrow().waiting.iter().cloned());
        let whole = !built || ids.len() > REBUILD_OVER;
        if built && ids.is_empty() {
            return false;
        }
        let wanted: Vec<String> = ids.iter().cloned().collect();
        let Ok(read) = store.cases(if whole { None } else { Some(&wanted) }).await else {
            return false;
        };
        let mut index = self.0.cases.borrow_mut();
        let fresh = read
            .into_iter()
            .map(|c| CaseRow::new(c.view.case, c.pending));
        if whole {
            index.rows = Rc::new(fresh.collect());
        } else {
            let rows = Rc::make_mut(&mut index.rows);
            let mut at: HashMap<String, usize> = rows
                .iter()
                .enumerate()
                .map(|(i, r)| (r.case.id.clone(), i))
                .collect();
            let mut found = HashSet::new();
            for row in fresh {
                found.insert(row.case.id.clone());
                match at.get(&row.case.id) {
                    Some(&i) => rows[i] = row,
                    None => {
                        at.insert(row.case.id.clone(), rows.len());
                        rows.push(row);
                    }
                }
            }
            // A case whose every event was rolled back is gone.
            rows.retain(|r| !ids.contains(&r.case.id) || found.contains(&r.case.id));
        }
        index.built = true;
        index.waiting = waiting_now;
        true
    }
}
