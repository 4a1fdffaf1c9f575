//! The event store through real IndexedDB (wasm-bindgen-test, Chromium).
#![cfg(target_arch = "wasm32")]

use casefile::store::{schema, AccessPage, Change, EventRecord, EventStore};
use casefile_core::api::{CaseStatus, PulledEvent};
use casefile_core::event::{CaseFields, CasePatch, DomainEvent, EventData, EventHeader};
use casefile_core::sync::{StoreOp, SyncKind};
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
        team: None,
    })
}

fn retitle(title: &str) -> EventData {
    EventData::CaseUpdated(CasePatch {
        title: Some(title.into()),
        ..Default::default()
    })
}

/// The store's database, opened behind the store's back.
async fn raw_db() -> indexed_db_futures::database::Database {
    indexed_db_futures::database::Database::open(schema::DB_NAME)
        .await
        .unwrap()
}

/// A read-write transaction on its events.
fn raw_write(
    db: &indexed_db_futures::database::Database,
) -> indexed_db_futures::transaction::Transaction<'_> {
    use indexed_db_futures::prelude::*;
    db.transaction(schema::EVENTS)
        .with_mode(indexed_db_futures::transaction::TransactionMode::Readwrite)
        .build()
        .unwrap()
}

/// Puts `record` into the events store behind the store's back.
async fn put_behind(record: impl serde::Serialize) {
    use indexed_db_futures::prelude::*;
    let db = raw_db().await;
    let tx = raw_write(&db);
    let events = tx.object_store(schema::EVENTS).unwrap();
    events.put(record).serde().unwrap().await.unwrap();
    tx.commit().await.unwrap();
}

/// A case made, then retitled "`title` review": both events.
async fn created_and_retitled(
    store: &EventStore,
    case: &str,
    title: &str,
) -> (DomainEvent, DomainEvent) {
    let made = store.append(case, &create(title)).await.unwrap();
    let edit = store
        .append(case, &retitle(&format!("{title} review")))
        .await
        .unwrap();
    (made, edit)
}

#[wasm_bindgen_test]
async fn append_read_replay_and_mark_synced() {
    let store = EventStore::open().await.unwrap();
    let case = case_id(1);
    let (first, second) = created_and_retitled(&store, &case, "Rent arrears").await;
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

/// A push answer that skips a version (another device's change sits in
/// between, not pulled yet) must not move the known version past it: the
/// next change stays based on what this device has seen, so the server
/// judges it against that change (soak seed 13).
#[wasm_bindgen_test]
async fn a_push_answer_with_a_gap_leaves_the_known_version_for_the_pull() {
    let store = EventStore::open().await.unwrap();
    let case = case_id(41);
    let (made, edit) = created_and_retitled(&store, &case, "Gap").await;
    store
        .mark_synced(&[(made.id.clone(), case.clone(), 1)])
        .await
        .unwrap();
    // Version 2 is another device's; this device's edit became version 3.
    store
        .mark_synced(&[(edit.id.clone(), case.clone(), 3)])
        .await
        .unwrap();
    let next = store.append(&case, &retitle("Next")).await.unwrap();
    assert_eq!(next.base_version, 1, "version 2 was never seen here");
}

/// A queued event whose answer was missed goes back to pending, to be sent
/// again; one queued anew under another entry, or already answered, stays.
#[wasm_bindgen_test]
async fn a_missed_answer_puts_only_that_entrys_events_back_to_pending() {
    let store = EventStore::open().await.unwrap();
    let case = case_id(42);
    let (made, edit) = created_and_retitled(&store, &case, "Missed").await;
    let queue = |id: &str, entry: &str| (id.to_string(), Change::Queued(entry.into()));
    store
        .update(&[queue(&made.id, "q-old"), queue(&edit.id, "q-new")])
        .await
        .unwrap();
    let unqueue = |id: &str| (id.to_string(), Change::Unqueued("q-old".into()));
    store
        .update(&[unqueue(&made.id), unqueue(&edit.id)])
        .await
        .unwrap();
    let state = |id: String| {
        let store = &store;
        async move { store.event(&id).await.unwrap().unwrap().0.synced }
    };
    assert_eq!(state(made.id.clone()).await, schema::PENDING);
    assert_eq!(state(edit.id.clone()).await, schema::QUEUED);
    // Once answered, a late `Unqueued` changes nothing.
    store
        .mark_synced(&[(made.id.clone(), case.clone(), 1)])
        .await
        .unwrap();
    store.update(&[unqueue(&made.id)]).await.unwrap();
    assert_eq!(state(made.id.clone()).await, schema::SYNCED);
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
    let store = EventStore::open().await.unwrap();
    let case = case_id(3);
    let good = store.append(&case, &create("Intact")).await.unwrap();
    let victim = store
        .append(&case, &retitle("Before tampering"))
        .await
        .unwrap();

    // Change the stored event behind the store's back.
    let db = raw_db().await;
    let tx = raw_write(&db);
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
    // The device had pulled up to 40.
    store.receive(&[], 40, None).await.unwrap();

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
    // The next pull starts over, and the server's good copy comes back.
    assert_eq!(store.cursor().await.unwrap(), 0, "pull cursor rewound");
    // A page whose pull started before the rewind (from 40) arrives after
    // it: it must not undo it, or the server's copy is never fetched again.
    store.receive_from(&[], 40, 90, None, false).await.unwrap();
    assert_eq!(store.cursor().await.unwrap(), 0, "still rewound");
    let got = store.receive(&[pulled(2, &victim)], 2, None).await.unwrap();
    assert_eq!(got.added, 1);
    assert_eq!(
        store.replay(&case).await.unwrap().unwrap().case.title,
        "Before tampering",
        "restored from the server's copy"
    );
}

/// A record that no longer reads as a record (a field of the wrong type)
/// is set aside on its own: the case's other events still read, and it
/// goes to quarantine, saying why.
#[wasm_bindgen_test]
async fn an_unreadable_record_is_quarantined_without_failing_the_read() {
    let store = EventStore::open().await.unwrap();
    let case = case_id(31);
    let good = store
        .append(&case, &create("Still readable"))
        .await
        .unwrap();
    put_behind(serde_json::json!({
        "id": "unreadable", "aggregate_id": case, "synced": "?",
        "event": "{}", "clock": 9.0, "node_id": "x",
    }))
    .await;

    let (events, set_aside) = store.events_for(&case).await.unwrap();
    assert_eq!(events, vec![good], "the readable event is still there");
    assert_eq!(set_aside.len(), 1);
    assert_eq!(set_aside[0].id, "unreadable");
    assert!(
        set_aside[0].reason.contains("unreadable record"),
        "{}",
        set_aside[0].reason
    );
    assert!(store
        .quarantined()
        .await
        .unwrap()
        .iter()
        .any(|q| q.id == "unreadable" && q.record.contains("\"synced\":\"?\"")));
    assert!(
        store.events_for(&case).await.unwrap().1.is_empty(),
        "once set aside, it does not come back"
    );
    let all = store.cases(None).await.unwrap();
    assert!(
        all.iter().any(|c| c.view.case.id == case),
        "every case reads"
    );
}

/// A damaged record whose id is not text (so not the key the store
/// deletes by) is set aside once, and then gone: it does not come back on
/// every read, each time sending the pull back to the start.
#[wasm_bindgen_test]
async fn a_record_with_an_id_that_is_not_text_is_set_aside_once() {
    let store = EventStore::open().await.unwrap();
    let case = case_id(33);
    put_behind(serde_json::json!({
        "id": 42, "aggregate_id": case, "synced": 0, "event": "{}",
    }))
    .await;
    let (_, set_aside) = store.events_for(&case).await.unwrap();
    assert_eq!(set_aside.len(), 1);
    assert_eq!(set_aside[0].id, "42", "shown as its JSON");
    // The pull has gone back to the start once; it moves on from here.
    let first = remote(&case, "other-device", 1, 0, &create("From the server"));
    store.receive(&[pulled(7, &first)], 7, None).await.unwrap();
    let (events, set_aside) = store.events_for(&case).await.unwrap();
    assert_eq!(events, vec![first]);
    assert!(set_aside.is_empty(), "set aside again: {set_aside:?}");
    assert_eq!(
        store.cursor().await.unwrap(),
        7,
        "the pull was sent back again"
    );
}

/// A pull that brings an event whose stored copy no longer decodes stores
/// the server's copy over it, and the page is not refused.
#[wasm_bindgen_test]
async fn a_pulled_event_replaces_its_stored_copy_that_no_longer_decodes() {
    let store = EventStore::open().await.unwrap();
    let case = case_id(32);
    // This device's own event (so the pull reads its stored copy first).
    let own = store.node_id().await.unwrap();
    let event = remote(&case, &own, 5, 0, &create("Sent, answer lost"));
    put_behind(serde_json::json!({
        "id": event.id, "aggregate_id": case, "synced": "?", "event": "{}",
    }))
    .await;
    let got = store.receive(&[pulled(3, &event)], 3, None).await.unwrap();
    assert_eq!(got.added, 1, "stored as new");
    let (events, set_aside) = store.events_for(&case).await.unwrap();
    assert_eq!(events, vec![event]);
    assert!(set_aside.is_empty(), "nothing damaged is left");
}

/// An event made on another device, as the server would send it.
fn remote(case: &str, node: &str, clock: u64, base: u64, data: &EventData) -> DomainEvent {
    DomainEvent::new(
        EventHeader {
            id: uuid::Uuid::new_v4().to_string(),
            aggregate_id: case.to_string(),
            node_id: node.to_string(),
            clock,
            base_version: base,
            timestamp: 1_790_000_000_000 + clock,
        },
        data,
    )
}

fn pulled(seq: i64, event: &DomainEvent) -> PulledEvent {
    PulledEvent {
        seq,
        version: event.version as i64,
        event: event.clone(),
    }
}

#[wasm_bindgen_test]
async fn receive_stores_remote_events_follows_the_clock_and_settles_own_ones() {
    let store = EventStore::open_named("casefile-test-receive")
        .await
        .unwrap();
    let case = case_id(10);
    let mine = store.append(&case, &create("Mine")).await.unwrap();
    let theirs = remote(&case, "other-device", 500, 1, &retitle("Theirs"));
    // The server has my creation (its answer was lost) and their update.
    let got = store
        .receive(&[pulled(1, &mine), pulled(2, &theirs)], 2, None)
        .await
        .unwrap();
    assert_eq!(got.added, 1, "only their event is new here");
    assert_eq!(got.aggregates, vec![case.clone()]);
    assert_eq!(store.cursor().await.unwrap(), 2);
    assert!(store.clock().await.unwrap().value() > 500, "receive rule");
    assert!(store.unsynced().await.unwrap().is_empty(), "mine is synced");
    let local = store.local_case(&case).await.unwrap().unwrap();
    assert_eq!(local.view.case.title, "Theirs");
    assert_eq!((local.pending, local.view.case.version), (0, 2));
    // A new local event is stamped after everything seen, based on version 2.
    let next = store.append(&case, &retitle("Later")).await.unwrap();
    assert!(next.clock > 500 && next.base_version == 2);
    assert_eq!(store.pending_count().await.unwrap(), 1);
    // Receiving the same page again changes nothing.
    let again = store
        .receive(&[pulled(1, &mine), pulled(2, &theirs)], 2, None)
        .await
        .unwrap();
    assert_eq!(again.added, 0);
    // A tampered event from the server is quarantined, not used.
    let mut forged = remote(&case, "other-device", 900, 2, &retitle("Forged"));
    forged.data = serde_json::json!({"title": "Changed in transit"});
    let got = store.receive(&[pulled(3, &forged)], 3, None).await.unwrap();
    assert_eq!(got.bad, vec![forged.id.clone()]);
    assert_eq!(
        store
            .local_case(&case)
            .await
            .unwrap()
            .unwrap()
            .view
            .case
            .title,
        "Later"
    );
}

/// An append issues its writes on what its tab last saw of the clock and
/// the case's known version, and checks them in the same transaction: when
/// another tab has moved both since (here by a pull), the append is made
/// again from the stored values, never stamped behind what it has seen.
#[wasm_bindgen_test]
async fn an_append_after_another_tab_moved_the_clock_is_stamped_and_based_on_the_stored_values() {
    let name = "casefile-test-hint";
    let (a, b) = (
        EventStore::open_named(name).await.unwrap(),
        EventStore::open_named(name).await.unwrap(),
    );
    let case = case_id(12);
    let mine = a.append(&case, &create("Mine")).await.unwrap();
    let second = a.append(&case, &retitle("Second")).await.unwrap();
    assert_eq!((second.clock, second.base_version), (mine.clock + 1, 0));
    // The other tab pulls: the server has my creation and their update,
    // stamped far ahead.
    let theirs = remote(&case, "other-device", 500, 1, &retitle("Theirs"));
    b.receive(&[pulled(1, &mine), pulled(2, &theirs)], 2, None)
        .await
        .unwrap();
    let after = a.append(&case, &retitle("After")).await.unwrap();
    assert!(
        after.clock > 500,
        "stamped behind a seen event: {}",
        after.clock
    );
    assert_eq!(
        after.base_version, 2,
        "based on the version the pull brought"
    );
    // And this tab's next append follows on from it.
    let next = a.append(&case, &retitle("Next")).await.unwrap();
    assert_eq!((next.clock, next.base_version), (after.clock + 1, 2));
    assert_eq!(b.clock().await.unwrap().value(), next.clock);
    let (events, _) = b.events_for(&case).await.unwrap();
    assert_eq!(events.len(), 5, "the aborted attempt left nothing behind");
}

/// A new log skips the read of events it cannot hold yet (another device's,
/// past the highest seq it received): a case's history fetched for a grant
/// (cursor unmoved) and then met again in the next page is not added twice.
#[wasm_bindgen_test]
async fn events_met_twice_are_stored_once_though_new_ones_are_not_read_first() {
    let store = EventStore::open_named("casefile-test-upto").await.unwrap();
    let case = case_id(60);
    let made = remote(&case, "other-device", 10, 0, &create("Granted"));
    let edit = remote(&case, "other-device", 11, 1, &retitle("Granted, renamed"));
    store.receive_from(&[], 0, 5, None, false).await.unwrap();
    // The grant's backfill: seqs 40 and 41, the pull cursor stays at 5.
    let back = store
        .receive_from(&[pulled(40, &made), pulled(41, &edit)], 5, 5, None, false)
        .await
        .unwrap();
    assert_eq!((back.added, store.cursor().await.unwrap()), (2, 5));
    // The next page reaches them again, with one event new here.
    let later = remote(&case, "other-device", 12, 2, &retitle("Granted, later"));
    let page = [pulled(40, &made), pulled(41, &edit), pulled(42, &later)];
    let got = store.receive_from(&page, 5, 42, None, true).await.unwrap();
    assert_eq!(got.added, 1, "only seq 42 is new");
    assert_eq!(store.records_for(&case).await.unwrap().0.len(), 3);
    let local = store.local_case(&case).await.unwrap().unwrap();
    assert_eq!(
        (local.view.case.title.as_str(), local.view.case.version),
        ("Granted, later", 3)
    );
}

#[wasm_bindgen_test]
async fn refused_overruled_and_parked_events_leave_the_view_but_stay_listed() {
    let store = EventStore::open_named("casefile-test-status")
        .await
        .unwrap();
    let case = case_id(11);
    let made = store.append(&case, &create("Base")).await.unwrap();
    let bad = store
        .append(&case, &retitle("Refused title"))
        .await
        .unwrap();
    let lost = store.append(&case, &retitle("Overruled")).await.unwrap();
    let parked = store.append(&case, &retitle("Parked")).await.unwrap();
    store
        .update(&[
            (made.id.clone(), Change::Synced(1)),
            (bad.id.clone(), Change::Refused("title is reserved".into())),
            (lost.id.clone(), Change::Overruled("server wins".into())),
            (parked.id.clone(), Change::Parked(vec!["x".into()])),
        ])
        .await
        .unwrap();
    let local = store.local_case(&case).await.unwrap().unwrap();
    assert_eq!(local.view.case.title, "Base");
    assert_eq!(local.pending, 0);
    let refused = store.with_status(SyncKind::Refused).await.unwrap();
    assert_eq!(refused.len(), 1);
    assert_eq!(
        refused[0].0.sync_error.as_deref(),
        Some("title is reserved")
    );
    assert_eq!(
        store.with_status(SyncKind::Parked).await.unwrap()[0]
            .0
            .theirs,
        vec!["x"]
    );
    let (all, _) = store.records_for(&case).await.unwrap();
    assert_eq!(all.len(), 4, "nothing is deleted");
}

#[wasm_bindgen_test]
async fn snapshots_keep_replay_equal_and_fall_back_when_a_late_event_arrives() {
    let store = EventStore::open_named("casefile-test-snapshots")
        .await
        .unwrap();
    let case = case_id(12);
    let mut events = vec![remote(&case, "server-node", 1, 0, &create("Start"))];
    for i in 1..=150u64 {
        events.push(remote(
            &case,
            "server-node",
            1 + i * 2,
            i,
            &retitle(&format!("Step {i}")),
        ));
    }
    let page: Vec<PulledEvent> = events
        .iter()
        .enumerate()
        .map(|(i, e)| pulled(i as i64 + 1, e))
        .collect();
    store.receive(&page, 151, None).await.unwrap();
    let full = casefile_core::event::replay(&events).unwrap();
    let first = store.local_case(&case).await.unwrap().unwrap().view;
    assert_eq!(first, full);
    let upto = store
        .snapshot_upto(&case)
        .await
        .unwrap()
        .expect("a snapshot");
    assert_eq!(upto, events.last().unwrap().stamp());
    // From the snapshot, the same state.
    assert_eq!(store.local_case(&case).await.unwrap().unwrap().view, full);
    // A later event folds on top of the snapshot.
    let after = remote(&case, "server-node", 1_000, 151, &retitle("After"));
    store
        .receive(&[pulled(152, &after)], 152, None)
        .await
        .unwrap();
    assert_eq!(
        store
            .local_case(&case)
            .await
            .unwrap()
            .unwrap()
            .view
            .case
            .title,
        "After"
    );
    assert!(store.snapshot_upto(&case).await.unwrap().is_some());
    // An event stamped before the snapshot's end invalidates it.
    let late = remote(
        &case,
        "slow-node",
        10,
        5,
        &EventData::CaseUpdated(CasePatch {
            assignee: Some(Some("Late Worker".into())),
            ..Default::default()
        }),
    );
    store
        .receive(&[pulled(153, &late)], 153, None)
        .await
        .unwrap();
    assert!(store.snapshot_upto(&case).await.unwrap().is_none());
    let mut all = events.clone();
    all.push(after);
    all.push(late);
    let expected = casefile_core::event::replay(&all).unwrap();
    let got = store.local_case(&case).await.unwrap().unwrap().view;
    assert_eq!(got.case.assignee.as_deref(), Some("Late Worker"));
    assert_eq!(got.case.title, expected.case.title);
}

#[wasm_bindgen_test]
async fn upgrading_from_schema_1_keeps_events_and_the_clock() {
    use casefile::idb;
    use indexed_db_futures::database::Database;
    use indexed_db_futures::prelude::*;
    let name = format!("casefile-test-upgrade-{}", js_sys::Date::now());
    let case = case_id(13);
    let old = remote(&case, "old-node", 7, 0, &create("Made before the upgrade"));
    {
        let db = idb::open(&name, 1, |old, db, tx| schema::upgrade_to(old, 1, db, tx))
            .await
            .unwrap();
        assert!(!db.object_store_names().contains(schema::SNAPSHOTS));
        let tx = idb::transaction(&db, &[schema::EVENTS, schema::META], true).unwrap();
        // A record as schema 1 wrote it: no server_version, no theirs.
        let v1 = serde_json::json!({
            "id": old.id, "aggregate_id": case, "event_type": "case.created",
            "timestamp": old.timestamp as f64, "clock": 7.0, "node_id": "old-node",
            "synced": 0, "sync_attempts": 0, "last_sync_attempt": null, "sync_error": null,
            "event": serde_json::to_string(&old).unwrap(),
        });
        tx.store(schema::EVENTS)
            .unwrap()
            .put_now(&idb::to_js(&v1).unwrap(), None)
            .unwrap();
        tx.store(schema::META)
            .unwrap()
            .put_now(&7.0.into(), Some(&schema::META_CLOCK.into()))
            .unwrap();
        tx.commit().await.unwrap();
        db.close();
    }
    let store = EventStore::open_named(&name).await.unwrap();
    let (events, bad) = store.events_for(&case).await.unwrap();
    assert!(bad.is_empty());
    assert_eq!(events, vec![old]);
    // Schema 3: only the indexes a query reads, and no scratch store left.
    {
        let db = Database::open(name.as_str()).await.unwrap();
        let mut stores: Vec<String> = db.object_store_names().collect();
        stores.sort();
        assert_eq!(
            stores,
            ["aggregates", "events", "meta", "quarantine", "snapshots"]
        );
        {
            let tx = db.transaction(schema::EVENTS).build().unwrap();
            let mut indexes: Vec<String> = tx
                .object_store(schema::EVENTS)
                .unwrap()
                .index_names()
                .collect();
            indexes.sort();
            assert_eq!(indexes, ["aggregate_id", "aggregate_stamp", "synced"]);
        }
        db.close();
    }
    assert_eq!(store.clock().await.unwrap().value(), 7);
    assert_eq!(store.pending_count().await.unwrap(), 1);
    let next = store
        .append(&case, &retitle("After the upgrade"))
        .await
        .unwrap();
    assert_eq!(next.clock, 8);
    assert_eq!(
        store.replay(&case).await.unwrap().unwrap().case.title,
        "After the upgrade"
    );
}

#[wasm_bindgen_test]
async fn a_batch_appends_in_one_transaction_with_consecutive_stamps() {
    let store = EventStore::open_named("casefile-test-batch").await.unwrap();
    let (a, b) = (case_id(20), case_id(21));
    store.append(&a, &create("A")).await.unwrap();
    store.mark_synced(&[]).await.unwrap();
    let before = store.clock().await.unwrap().value();
    let made = store
        .append_many(&[
            (a.clone(), retitle("A2"), None),
            (b.clone(), create("B"), None),
            (b.clone(), retitle("B2"), Some("cause".into())),
        ])
        .await
        .unwrap();
    let clocks: Vec<u64> = made.iter().map(|e| e.clock).collect();
    assert_eq!(clocks, vec![before + 1, before + 2, before + 3]);
    assert_eq!(made[2].causation_id.as_deref(), Some("cause"));
    made[2].verify().unwrap();
    assert_eq!(store.replay(&b).await.unwrap().unwrap().case.title, "B2");
    assert_eq!(store.clock().await.unwrap().value(), before + 3);
}

/// A settlement's replacement and the mark on the event it replaces are one
/// commit: when the mark cannot be written, the replacement is not there
/// either (two transactions left both pending after a crash between them).
#[wasm_bindgen_test]
async fn a_commit_lands_whole_or_not_at_all() {
    let store = EventStore::open().await.unwrap();
    let case = case_id(77);
    store.append(&case, &create("Atomic")).await.unwrap();
    let before = store.pending_count().await.unwrap();
    // A record that no longer reads as a record (damaged storage): marking
    // it fails inside the transaction.
    #[derive(serde::Serialize)]
    struct Broken {
        id: &'static str,
        synced: &'static str,
    }
    put_behind(Broken {
        id: "damaged",
        synced: "?",
    })
    .await;
    let ops = [
        StoreOp::Append {
            case: case.clone(),
            data: retitle("Replacement"),
            caused_by: Some("damaged".into()),
        },
        StoreOp::Mark {
            id: "damaged".into(),
            change: Change::Overruled("replaced".into()),
        },
    ];
    assert!(
        store.commit(&ops).await.is_err(),
        "the damaged record fails the mark"
    );
    let (events, _) = store.events_for(&case).await.unwrap();
    assert_eq!(
        events.len(),
        1,
        "the replacement did not land without its mark"
    );
    assert_eq!(store.pending_count().await.unwrap(), before);
}

/// The quota error is known by the browser's exception name, not by words
/// in a message: another exception mentioning the quota is not one.
#[wasm_bindgen_test]
fn a_quota_error_is_known_by_its_exception_name() {
    use casefile::store::StoreError;
    let exception = |message: &str, name: &str| {
        let e = web_sys::DomException::new_with_message_and_name(message, name).unwrap();
        StoreError::from(wasm_bindgen::JsValue::from(e))
    };
    let full = exception(
        "The transaction exceeded its quota limitations.",
        "QuotaExceededError",
    );
    assert_eq!(full, StoreError::Quota);
    assert!(full.to_string().contains("out of storage space"));
    let other = exception("QuotaExceeded was mentioned", "AbortError");
    assert!(matches!(other, StoreError::Failed(_)), "{other:?}");
    assert!(other
        .to_string()
        .starts_with("The local event store failed"));
}

#[wasm_bindgen_test]
async fn a_revoked_case_is_purged_with_its_page_and_unsent_work_stays_refused() {
    let store = EventStore::open_named("casefile-test-revoked")
        .await
        .unwrap();
    let (gone, other) = (case_id(40), case_id(41));
    let theirs = remote(&gone, "other-device", 10, 1, &create("Not hers any more"));
    let kept = remote(&other, "other-device", 11, 1, &create("Still hers"));
    store
        .receive(&[pulled(1, &theirs), pulled(2, &kept)], 2, None)
        .await
        .unwrap();
    let unsent = store
        .append(&gone, &retitle("Her visit notes"))
        .await
        .unwrap();
    // The page that says so purges in the transaction that moves both
    // cursors.
    let revoked = [gone.clone()];
    let access = AccessPage {
        revoked: &revoked,
        cursor: 7,
    };
    let got = store.receive(&[], 3, Some(access)).await.unwrap();
    assert_eq!((got.purged.clone(), got.refused), (vec![gone.clone()], 1));
    assert_eq!(store.access_cursor().await.unwrap(), 7);
    assert_eq!(store.cursor().await.unwrap(), 3);
    let (left, _) = store.records_for(&gone).await.unwrap();
    assert_eq!(left.len(), 1, "only her unsent edit is left of the case");
    let (record, event) = &left[0];
    assert_eq!(event.id, unsent.id);
    assert_eq!(record.kind(), SyncKind::Refused);
    assert_eq!(
        record.sync_error.as_deref(),
        Some(casefile_core::sync::access::NO_ACCESS)
    );
    assert!(
        store.local_case(&gone).await.unwrap().is_none(),
        "no case shown"
    );
    assert_eq!(
        store.records_for(&other).await.unwrap().0.len(),
        1,
        "others untouched"
    );
    assert_eq!(
        store.pending_count().await.unwrap(),
        0,
        "nothing left to send"
    );
}

#[wasm_bindgen_test]
async fn a_log_kept_at_sign_out_holds_only_the_persons_unsent_work() {
    let store = EventStore::open_named("casefile-test-kept").await.unwrap();
    let (team_case, mine) = (case_id(50), case_id(51));
    let theirs = remote(&team_case, "other-device", 10, 1, &create("A team case"));
    store
        .receive_from(&[pulled(1, &theirs)], 0, 1, None, true)
        .await
        .unwrap();
    assert!(store.filled().await.unwrap(), "a whole copy");
    let sent = store.append(&mine, &create("Sent already")).await.unwrap();
    store
        .mark_synced(&[(sent.id.clone(), mine.clone(), 1)])
        .await
        .unwrap();
    let unsent = store
        .append(&team_case, &retitle("Her unsent edit"))
        .await
        .unwrap();
    let clock = store.clock().await.unwrap().value();
    let node = store.node_id().await.unwrap();
    assert_eq!(store.keep_only_unsent().await.unwrap(), 1);
    for case in [&team_case, &mine] {
        let (left, _) = store.records_for(case).await.unwrap();
        let ids: Vec<&str> = left.iter().map(|(_, e)| e.id.as_str()).collect();
        let want: Vec<&str> = if case == &team_case {
            vec![unsent.id.as_str()]
        } else {
            vec![]
        };
        assert_eq!(ids, want, "only the unsent edit stays");
    }
    assert_eq!(store.pending_count().await.unwrap(), 1, "still to send");
    assert_eq!(
        store.cursor().await.unwrap(),
        0,
        "the next sign-in pulls all"
    );
    assert_eq!(store.access_cursor().await.unwrap(), 0);
    assert!(
        !store.filled().await.unwrap(),
        "no longer a whole copy: the next sign-in catches up first"
    );
    assert_eq!(store.clock().await.unwrap().value(), clock, "stamps go on");
    assert_eq!(store.node_id().await.unwrap(), node);
}

#[wasm_bindgen_test]
async fn a_page_pulled_before_a_sign_out_is_not_stored_after_it() {
    let store = EventStore::open_named("casefile-test-late-page")
        .await
        .unwrap();
    let (team_case, mine) = (case_id(60), case_id(61));
    let unsent = store
        .append(&mine, &create("Her unsent case"))
        .await
        .unwrap();
    // The sync loop had this page in hand when the person signed out: the
    // sign-out cuts the log first, then the loop stores the page.
    let late = remote(&team_case, "other-device", 10, 1, &create("A team case"));
    assert_eq!(store.keep_only_unsent().await.unwrap(), 1);
    let stored = store
        .receive_from(&[pulled(1, &late)], 0, 1, None, true)
        .await;
    assert_eq!(stored.unwrap_err(), casefile::store::StoreError::SignedOut);
    assert!(
        store.records_for(&team_case).await.unwrap().0.is_empty(),
        "nothing of the team's cases is left on the device"
    );
    assert_eq!(store.cursor().await.unwrap(), 0, "the cursors stay cut");
    assert!(!store.filled().await.unwrap());
    assert_eq!(store.unsynced().await.unwrap(), vec![unsent]);
    // Her next sign-in opens the log again: pulls are stored.
    store.reopen().await.unwrap();
    store
        .receive_from(&[pulled(1, &late)], 0, 1, None, true)
        .await
        .unwrap();
    assert_eq!(store.records_for(&team_case).await.unwrap().0.len(), 1);
}

#[wasm_bindgen_test]
async fn the_stores_users_once_shared_are_deleted_unless_unsent_work_is_in_them() {
    use casefile_core::device::Shared;
    let (log, kept_log, cache) = (
        "casefile-test-shared-log",
        "casefile-test-shared-log-unsent",
        "casefile-test-shared-cache",
    );
    // A log of cases the server has, one holding an unsent change, and a
    // saved query cache, as a device used before per-user stores holds.
    let store = EventStore::open_named(log).await.unwrap();
    let theirs = remote(&case_id(70), "other-device", 3, 1, &create("A team case"));
    store
        .receive_from(&[pulled(1, &theirs)], 0, 1, None, true)
        .await
        .unwrap();
    store.close();
    let store = EventStore::open_named(kept_log).await.unwrap();
    let unsent = store.append(&case_id(71), &create("Unsent")).await.unwrap();
    let team = remote(
        &case_id(72),
        "other-device",
        3,
        1,
        &create("Another team case"),
    );
    store
        .receive_from(&[pulled(1, &team)], 0, 1, None, true)
        .await
        .unwrap();
    assert_eq!(store.records_for(&case_id(72)).await.unwrap().0.len(), 1);
    store.close();
    let made = casefile::idb::open(cache, 1, |_, db, _| {
        db.create_object_store("entries").map(drop)
    })
    .await
    .unwrap();
    made.close();
    let names = casefile::idb::names().await.unwrap();
    assert!([log, kept_log, cache]
        .iter()
        .all(|n| names.iter().any(|m| m == n)));

    casefile::storage::drop_shared_stores(&[
        (log, Shared::Log),
        (kept_log, Shared::Log),
        (cache, Shared::QueryCache),
    ])
    .await;
    let names = casefile::idb::names().await.unwrap();
    assert!(!names.iter().any(|n| n == log), "the team's cases are gone");
    assert!(
        !names.iter().any(|n| n == cache),
        "the cached answers are gone"
    );
    let store = EventStore::open_named(kept_log).await.unwrap();
    assert_eq!(
        store.unsynced().await.unwrap(),
        vec![unsent],
        "unsent work stays"
    );
    assert!(
        store.records_for(&case_id(72)).await.unwrap().0.is_empty(),
        "the team's cases beside it go"
    );
    store.close();
    casefile::idb::delete(kept_log).await.unwrap();
}

#[wasm_bindgen_test]
async fn an_open_connection_gives_way_to_a_newer_version() {
    use casefile::idb;
    use futures_util::future::{select, Either};
    let name = format!("casefile-test-newer-{}", js_sys::Date::now());
    // An old tab's connection, as a page of the previous version holds it.
    let old = idb::open(&name, 1, |_, db, _| db.create_object_store("s").map(drop))
        .await
        .unwrap();
    // The updated app opens a newer version: it must not wait for the old
    // tab to go (it would show nothing meanwhile).
    let newer = idb::open(&name, 2, |_, _, _| Ok(()));
    let give_up = wasm_bindgen_futures::JsFuture::from(js_sys::Promise::new(&mut |done, _| {
        web_sys::window()
            .unwrap()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&done, 5_000)
            .unwrap();
    }));
    let db = match select(Box::pin(newer), Box::pin(give_up)).await {
        Either::Left((opened, _)) => opened.unwrap(),
        Either::Right(_) => panic!("the newer version waited for the old connection"),
    };
    assert_eq!(db.version(), 2.0);
    assert!(
        idb::transaction(&old, &["s"], false).is_err(),
        "the old connection is closed"
    );
    db.close();
    idb::delete(&name).await.unwrap();
}
