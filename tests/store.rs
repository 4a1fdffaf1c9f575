//! The event store through real IndexedDB (wasm-bindgen-test, Chromium).
#![cfg(target_arch = "wasm32")]

use casefile::store::{schema, EventRecord, EventStore};
use casefile_core::api::CaseStatus;
use casefile_core::event::{CaseFields, CasePatch, EventData};
use std::collections::HashSet;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn case_id(n: u32) -> String {
    format!("{n:08x}-0000-4000-8000-000000000000")
}

fn create(title: &str) -> EventData {
    EventData::CaseCreated(CaseFields {
        title: title.into(),
        description: String::new(),
        status: CaseStatus::Open,
        priority: casefile_core::api::Priority::Medium,
        assignee: None,
        tags: vec![],
    })
}

fn retitle(title: &str) -> EventData {
    EventData::CaseUpdated(CasePatch {
        title: Some(title.into()),
        ..Default::default()
    })
}

#[wasm_bindgen_test]
async fn append_read_replay_and_mark_synced() {
    let store = EventStore::open().await.unwrap();
    let case = case_id(1);
    let first = store.append(&case, &create("Rent arrears")).await.unwrap();
    let second = store
        .append(&case, &retitle("Rent arrears review"))
        .await
        .unwrap();
    assert!(second.clock > first.clock, "the clock ticks");
    assert_eq!(first.node_id, store.node_id().await.unwrap());
    first.verify().unwrap();

    let (events, quarantined) = store.events_for(&case).await.unwrap();
    assert!(quarantined.is_empty());
    assert_eq!(events, vec![first.clone(), second.clone()]);
    let view = store.replay(&case).await.unwrap().unwrap();
    assert_eq!(view.case.title, "Rent arrears review");

    let unsynced: Vec<String> = store
        .unsynced()
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert!(unsynced.contains(&first.id) && unsynced.contains(&second.id));
    store
        .mark_synced(&[(first.id.clone(), case.clone(), 1)])
        .await
        .unwrap();
    let unsynced: Vec<String> = store
        .unsynced()
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert!(!unsynced.contains(&first.id));
    assert!(unsynced.contains(&second.id));
    // New events are based on the server version the store knows.
    let third = store.append(&case, &retitle("Third")).await.unwrap();
    assert_eq!(third.base_version, 1);
    assert!(store.clock().await.unwrap().value() >= third.clock);
}

async fn append_many(store: &EventStore, case: &str, tag: &str) -> Vec<u64> {
    let mut clocks = Vec::new();
    for i in 0..25 {
        let e = store
            .append(case, &retitle(&format!("{tag} {i}")))
            .await
            .unwrap();
        clocks.push(e.clock);
    }
    clocks
}

#[wasm_bindgen_test]
async fn two_handles_appending_at_once_never_reuse_a_stamp() {
    let (a, b) = (
        EventStore::open().await.unwrap(),
        EventStore::open().await.unwrap(),
    );
    let case = case_id(2);
    a.append(&case, &create("Shared")).await.unwrap();
    let (ca, cb) =
        futures_util::future::join(append_many(&a, &case, "a"), append_many(&b, &case, "b")).await;
    let all: Vec<u64> = ca.iter().chain(&cb).copied().collect();
    let unique: HashSet<u64> = all.iter().copied().collect();
    assert_eq!(unique.len(), all.len(), "a stamp was issued twice: {all:?}");
    let (events, _) = a.events_for(&case).await.unwrap();
    assert_eq!(events.len(), 51);
}

#[wasm_bindgen_test]
async fn a_corrupted_record_is_quarantined_and_never_used() {
    use indexed_db_futures::prelude::*;
    use indexed_db_futures::transaction::TransactionMode;
    let store = EventStore::open().await.unwrap();
    let case = case_id(3);
    let good = store.append(&case, &create("Intact")).await.unwrap();
    let victim = store
        .append(&case, &retitle("Before tampering"))
        .await
        .unwrap();

    // Change the stored event behind the store's back.
    let db = indexed_db_futures::database::Database::open(schema::DB_NAME)
        .await
        .unwrap();
    let tx = db
        .transaction(schema::EVENTS)
        .with_mode(TransactionMode::Readwrite)
        .build()
        .unwrap();
    let events = tx.object_store(schema::EVENTS).unwrap();
    let mut record: EventRecord = events
        .get(victim.id.clone())
        .serde()
        .unwrap()
        .await
        .unwrap()
        .unwrap();
    record.event = record.event.replace("Before tampering", "After tampering");
    events.put(record).serde().unwrap().await.unwrap();
    tx.commit().await.unwrap();
    drop(db);

    let (events, quarantined) = store.events_for(&case).await.unwrap();
    assert_eq!(events, vec![good], "the altered event is not used");
    assert_eq!(quarantined.len(), 1);
    assert!(
        quarantined[0].reason.contains("checksum mismatch"),
        "{}",
        quarantined[0].reason
    );
    assert_eq!(
        store.replay(&case).await.unwrap().unwrap().case.title,
        "Intact"
    );
    let kept = store.quarantined().await.unwrap();
    assert!(
        kept.iter().any(|q| q.id == victim.id),
        "kept aside, not deleted"
    );
    // Once quarantined, it no longer comes back.
    assert!(store.events_for(&case).await.unwrap().1.is_empty());
}
