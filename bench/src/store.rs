//! The event-store workloads (issue: local-first writes), exported to JS:
//! the app's own `EventStore` on real IndexedDB. The page times each call
//! and runs the same writes through plain IndexedDB beside it.

use casefile::store::EventStore;
use casefile_core::api::{CaseStatus, Priority, PulledEvent};
use casefile_core::event::{CaseFields, CasePatch, DomainEvent, EventData, EventHeader};
use js_sys::Promise;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

fn case_id(n: u32) -> String {
    format!("{n:08x}-0000-4000-8000-00000000beef")
}

fn edit(i: u32) -> EventData {
    EventData::CaseUpdated(CasePatch {
        title: Some(format!("Benchmark edit number {i}")),
        priority: Some(Priority::ALL[i as usize % 4]),
        ..Default::default()
    })
}

fn created() -> EventData {
    EventData::CaseCreated(CaseFields {
        title: "Benchmark case".into(),
        description: "A case the benchmark writes to.".into(),
        status: CaseStatus::Open,
        priority: Priority::Medium,
        assignee: Some("Bench".into()),
        tags: vec!["bench".into()],
        team: None,
    })
}

/// `n` events of one case as the server would send them (another device's).
fn remote_history(case: &str, first_clock: u64, n: u32) -> Vec<PulledEvent> {
    (0..n)
        .map(|i| {
            let data = if i == 0 { created() } else { edit(i) };
            let event = DomainEvent::new(
                EventHeader {
                    id: uuid::Uuid::new_v4().to_string(),
                    aggregate_id: case.to_string(),
                    node_id: "bench-server-device".into(),
                    clock: first_clock + u64::from(i),
                    base_version: u64::from(i),
                    timestamp: 1_790_000_000_000 + u64::from(i),
                },
                &data,
            );
            PulledEvent {
                seq: i64::from(i) + 1,
                version: i64::from(i) + 1,
                event,
            }
        })
        .collect()
}

fn fail(e: impl std::fmt::Display) -> JsValue {
    JsValue::from_str(&e.to_string())
}

/// A store in its own database.
#[wasm_bindgen]
pub struct StoreBench {
    store: Rc<EventStore>,
    /// A first catch-up's pulled pages, made untimed by `prepare_catch_up`.
    pages: Rc<std::cell::RefCell<Vec<Vec<PulledEvent>>>>,
}

#[wasm_bindgen]
impl StoreBench {
    /// Opens the store in database `name` (resolves to a `StoreBench`).
    pub fn open(name: String) -> Promise {
        future_to_promise(async move {
            let store = EventStore::open_named(&name).await.map_err(fail)?;
            Ok(StoreBench {
                store: Rc::new(store),
                pages: Rc::default(),
            }
            .into())
        })
    }

    /// `n` appends, one transaction each.
    pub fn append_each(&self, n: u32) -> Promise {
        let store = self.store.clone();
        future_to_promise(async move {
            let case = case_id(1);
            for i in 0..n {
                store.append(&case, &edit(i)).await.map_err(fail)?;
            }
            Ok(JsValue::UNDEFINED)
        })
    }

    /// `n` appends in transactions of `batch`.
    pub fn append_batches(&self, n: u32, batch: u32) -> Promise {
        let store = self.store.clone();
        future_to_promise(async move {
            let case = case_id(2);
            let mut i = 0;
            while i < n {
                let items: Vec<_> = (i..(i + batch).min(n))
                    .map(|k| (case.clone(), edit(k), None))
                    .collect();
                store.append_many(&items).await.map_err(fail)?;
                i += batch;
            }
            Ok(JsValue::UNDEFINED)
        })
    }

    /// `n` records shaped as the store keeps them, as JSON, for the plain
    /// IndexedDB side to write.
    pub fn sample_records(n: u32) -> String {
        let case = case_id(3);
        let records: Vec<serde_json::Value> = remote_history(&case, 1, n)
            .into_iter()
            .map(|p| {
                let e = p.event;
                serde_json::json!({
                    "id": e.id, "aggregate_id": e.aggregate_id,
                    "event_type": e.event_type.as_str(), "timestamp": e.timestamp as f64,
                    "clock": e.clock as f64, "node_id": e.node_id, "synced": 0,
                    "sync_attempts": 0, "last_sync_attempt": null, "sync_error": null,
                    "event": serde_json::to_string(&e).unwrap(),
                    "server_version": null, "theirs": [],
                })
            })
            .collect();
        serde_json::to_string(&records).unwrap()
    }

    /// Stores `n` events of case `which` as pulled from the server, in
    /// pages of 5,000 (untimed set-up).
    pub fn fill_case(&self, which: u32, n: u32, first_clock: u32) -> Promise {
        let store = self.store.clone();
        future_to_promise(async move {
            let history = remote_history(&case_id(which), u64::from(first_clock), n);
            for page in history.chunks(5_000) {
                let cursor = page.last().map_or(0, |p| p.seq);
                store.receive(page, cursor, None).await.map_err(fail)?;
            }
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Set-up for a first catch-up (untimed): `cases` cases of `per_case`
    /// events each, as the server's pull pages of `page` events (in log
    /// order, the cases interleaved as writes from many devices are).
    pub fn prepare_catch_up(&self, cases: u32, per_case: u32, page: u32) {
        let histories: Vec<Vec<PulledEvent>> = (0..cases)
            .map(|c| remote_history(&case_id(1_000 + c), 1, per_case))
            .collect();
        let mut log: Vec<PulledEvent> = Vec::with_capacity((cases * per_case) as usize);
        for i in 0..per_case as usize {
            log.extend(histories.iter().map(|h| h[i].clone()));
        }
        for (seq, p) in log.iter_mut().enumerate() {
            p.seq = seq as i64 + 1;
        }
        *self.pages.borrow_mut() = log.chunks(page as usize).map(<[_]>::to_vec).collect();
    }

    /// A new device's first catch-up: stores every prepared page as the
    /// pull does; resolves to how many events were new.
    pub fn catch_up(&self) -> Promise {
        let store = self.store.clone();
        let pages = std::mem::take(&mut *self.pages.borrow_mut());
        future_to_promise(async move {
            let mut added = 0;
            for page in &pages {
                let cursor = page.last().map_or(0, |p| p.seq);
                added += store.receive(page, cursor, None).await.map_err(fail)?.added;
            }
            Ok(JsValue::from(added as u32))
        })
    }

    /// Replays case `which` from its snapshot (made on the first call);
    /// resolves to its version.
    pub fn replay_with_snapshot(&self, which: u32) -> Promise {
        let store = self.store.clone();
        future_to_promise(async move {
            let view = store.local_case(&case_id(which)).await.map_err(fail)?;
            Ok(JsValue::from(view.map_or(0, |c| c.view.case.version) as f64))
        })
    }

    /// Replays case `which` from all its events; resolves to its version.
    pub fn replay_full(&self, which: u32) -> Promise {
        let store = self.store.clone();
        future_to_promise(async move {
            let (events, _) = store.events_for(&case_id(which)).await.map_err(fail)?;
            let view = casefile_core::event::replay(&events);
            Ok(JsValue::from(view.map_or(0, |c| c.case.version) as f64))
        })
    }

    /// The pending events (through the `synced` index); resolves to how many.
    pub fn unsynced(&self) -> Promise {
        let store = self.store.clone();
        future_to_promise(async move {
            let pending = store.unsynced().await.map_err(fail)?;
            Ok(JsValue::from(pending.len() as u32))
        })
    }
}
