//! The worker's queue machine over a store that applies its ops the way
//! `sw/src/queue.rs` does (each op one transaction), with worker restarts.

use super::*;
use crate::retry::Failure;
use alloc::string::ToString;

const T0: u64 = 1_790_000_000_000;

/// The worker's two IndexedDB stores, as the ops leave them.
#[derive(Default)]
struct Store {
    queue: Vec<StoredRequest>,
    dead: Vec<DeadLetter>,
}

impl Store {
    fn apply(&mut self, effects: &Effects) {
        for op in &effects.ops {
            match op {
                QueueOp::Put(e) => {
                    self.queue.retain(|q| q.id != e.id);
                    self.queue.push(e.clone());
                }
                QueueOp::Remove(id) => self.queue.retain(|q| &q.id != id),
                QueueOp::Bury(letter) => {
                    self.queue.retain(|q| q.id != letter.request.id);
                    self.dead.push(letter.clone());
                }
                QueueOp::Revive(e) => {
                    self.dead.retain(|d| d.request.id != e.id);
                    self.queue.push(e.clone());
                }
                QueueOp::Forget(id) => self.dead.retain(|d| &d.request.id != id),
            }
        }
    }

    /// A worker that starts (again) reads the store (and who is signed in).
    fn boot(&self) -> Queue {
        let mut q = signed_in();
        q.load(self.queue.clone(), self.dead.clone(), 0);
        q
    }
}

/// A queue with Sam signed in.
fn signed_in() -> Queue {
    let mut q = Queue::new();
    q.set_user(Some("sam".into()));
    q
}

fn write(n: u64) -> StoredRequest {
    let at = T0 + n;
    StoredRequest {
        id: crate::queue::queue_id(at, n),
        method: "POST".into(),
        url: "http://127.0.0.1/api/v1/events".into(),
        headers: vec![("idempotency-key".into(), n.to_string())],
        body: n.to_string(),
        idempotency_key: n.to_string(),
        enqueued_at: at,
        attempts: 0,
        next_attempt_at: at,
        last_error: None,
        last_status: None,
        user: Some("sam".into()),
    }
}

fn http(status: u16) -> Outcome {
    Outcome::Failed(Failure::Http {
        status,
        retry_after_ms: None,
    })
}

/// Queues `n` writes whose first try found no network.
fn offline_writes(q: &mut Queue, store: &mut Store, n: u64) -> Vec<String> {
    (0..n)
        .map(|i| {
            let e = write(i);
            let id = e.id.clone();
            let fx = q
                .enqueue(e, Outcome::Failed(Failure::Network), T0 + i, 0.0, false)
                .expect("kept");
            assert_eq!(fx.tell[0], ToPage::Queued { id: id.clone() });
            assert_eq!(fx.wake_at, None, "offline arms no timer");
            store.apply(&fx);
            id
        })
        .collect()
}

/// Replays until the machine stops; the server answers with `answer`.
fn replay(
    q: &mut Queue,
    store: &mut Store,
    now: u64,
    mut answer: impl FnMut(&StoredRequest) -> Outcome,
) -> (Vec<ToPage>, Next) {
    assert!(q.start());
    let mut told = vec![];
    let stop = loop {
        match q.next(now) {
            Next::Send(e) => {
                let outcome = answer(&e);
                let status = match outcome {
                    Outcome::Delivered => Some(200),
                    Outcome::Failed(Failure::Http { status, .. }) => Some(status),
                    Outcome::Failed(_) => None,
                };
                let (fx, go_on) = q.answered(&e.id, outcome, status, "{}".into(), now, 0.0, true);
                store.apply(&fx);
                told.extend(fx.tell);
                if !go_on {
                    break q.next(now);
                }
            }
            other => break other,
        }
    };
    assert!(!q.finish());
    (told, stop)
}

fn synced(told: &[ToPage]) -> Vec<String> {
    told.iter()
        .filter_map(|m| match m {
            ToPage::Synced { id, .. } => Some(id.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn writes_queued_offline_replay_oldest_first_and_each_is_told_once() {
    let (mut q, mut store) = (signed_in(), Store::default());
    let ids = offline_writes(&mut q, &mut store, 4);
    assert_eq!(q.stats().queued, 4);
    assert!(
        q.queued().all(|e| e.attempts == 0),
        "offline spends no attempt"
    );
    let mut sent = vec![];
    let (told, stop) = replay(&mut q, &mut store, T0 + 100, |e| {
        sent.push(e.id.clone());
        Outcome::Delivered
    });
    assert_eq!(sent, ids, "FIFO");
    assert_eq!(synced(&told), ids, "each told once, in order");
    assert_eq!(stop, Next::Idle);
    assert!(store.queue.is_empty());
}

#[test]
fn a_first_try_that_lands_or_is_refused_is_not_kept() {
    let mut q = signed_in();
    assert_eq!(q.enqueue(write(1), Outcome::Delivered, T0, 0.0, true), None);
    assert_eq!(q.enqueue(write(2), http(422), T0, 0.0, true), None);
    assert_eq!(q.stats().queued, 0);
    let fx = q.enqueue(write(3), http(503), T0, 0.0, true).expect("kept");
    assert_eq!(
        fx.wake_at,
        Some(T0 + 5_000),
        "a counted failure arms its retry"
    );
    let fx = q.enqueue(write(4), http(401), T0, 0.0, true).expect("kept");
    assert_eq!(fx.wake_at, None, "a 401 waits for sign-in");
    assert_eq!(q.stats().sign_in, 1);
}

#[test]
fn the_oldest_not_yet_due_holds_back_everything_behind_it() {
    let (mut q, mut store) = (signed_in(), Store::default());
    let ids = offline_writes(&mut q, &mut store, 3);
    let (told, stop) = replay(&mut q, &mut store, T0 + 10, |_| http(503));
    assert_eq!(
        told,
        vec![ToPage::RetryScheduled {
            id: ids[0].clone(),
            at: T0 + 10 + 5_000
        }]
    );
    assert_eq!(stop, Next::At(T0 + 10 + 5_000), "the others wait behind it");
    assert_eq!(store.queue.len(), 3);
    assert_eq!(
        store
            .queue
            .iter()
            .find(|e| e.id == ids[0])
            .unwrap()
            .attempts,
        1
    );
}

#[test]
fn an_exhausted_write_goes_to_the_dead_letters_and_the_replay_goes_on() {
    let (mut q, mut store) = (signed_in(), Store::default());
    let ids = offline_writes(&mut q, &mut store, 2);
    let mut now = T0 + 10;
    for _ in 0..2 {
        let (_, stop) = replay(&mut q, &mut store, now, |_| http(500));
        let Next::At(at) = stop else {
            panic!("{stop:?}")
        };
        now = at;
    }
    let (told, stop) = replay(&mut q, &mut store, now, |e| {
        if e.id == ids[0] {
            http(500)
        } else {
            Outcome::Delivered
        }
    });
    assert!(matches!(&told[0], ToPage::DeadLettered { letter } if letter.request.id == ids[0]));
    assert_eq!(
        synced(&told),
        vec![ids[1].clone()],
        "the next one still went"
    );
    assert_eq!(stop, Next::Idle);
    assert_eq!(store.dead.len(), 1);
    assert!(store.queue.is_empty(), "never in both stores");
    assert_eq!(q.stats().dead, 1);
}

#[test]
fn a_401_pauses_the_whole_queue_until_someone_signs_in() {
    let (mut q, mut store) = (signed_in(), Store::default());
    offline_writes(&mut q, &mut store, 3);
    let mut tries = 0;
    let (told, _) = replay(&mut q, &mut store, T0 + 10, |_| {
        tries += 1;
        http(401)
    });
    assert_eq!(tries, 1, "nothing else is tried while signed out");
    assert!(told.is_empty());
    assert_eq!(q.stats().sign_in, 1);
    assert!(
        store.queue.iter().all(|e| e.attempts == 0),
        "no attempt spent"
    );
    let (told, _) = replay(&mut q, &mut store, T0 + 20, |_| Outcome::Delivered);
    assert_eq!(synced(&told).len(), 3);
    assert_eq!(q.stats().sign_in, 0);
}

#[test]
fn a_restarted_worker_goes_on_from_its_store() {
    let (mut q, mut store) = (signed_in(), Store::default());
    let ids = offline_writes(&mut q, &mut store, 3);
    // The first is delivered, then the worker dies before its next send.
    assert!(q.start());
    let Next::Send(first) = q.next(T0 + 10) else {
        panic!()
    };
    let (fx, _) = q.answered(
        &first.id,
        Outcome::Delivered,
        Some(200),
        "{}".into(),
        T0 + 10,
        0.0,
        true,
    );
    store.apply(&fx);
    drop(q);
    let mut q = store.boot();
    assert!(!q.stats().replaying, "the gate belongs to the dead worker");
    let (told, stop) = replay(&mut q, &mut store, T0 + 20, |_| Outcome::Delivered);
    assert_eq!(synced(&told), ids[1..].to_vec(), "the rest, once each");
    assert_eq!(stop, Next::Idle);
}

#[test]
fn retry_and_discard_move_entries_between_the_stores() {
    let (mut q, mut store) = (signed_in(), Store::default());
    let ids = offline_writes(&mut q, &mut store, 2);
    let (told, _) = replay(&mut q, &mut store, T0 + 10, |e| {
        if e.id == ids[0] {
            http(422)
        } else {
            Outcome::Failed(Failure::Network)
        }
    });
    assert_eq!(told.len(), 1, "the 422 is a dead letter at once");
    assert_eq!((store.queue.len(), store.dead.len()), (1, 1));

    let fx = q.retry(&ids[0], T0 + 20);
    store.apply(&fx);
    assert_eq!((store.queue.len(), store.dead.len()), (2, 0));
    let revived = q.queued().find(|e| e.id == ids[0]).unwrap();
    assert_eq!((revived.attempts, revived.last_status), (0, None));
    assert_eq!(
        q.queued().next().unwrap().id,
        ids[0],
        "it keeps its place in the order"
    );

    let fx = q.discard(&ids[1], T0 + 30);
    store.apply(&fx);
    assert!(
        matches!(&fx.tell[0], ToPage::Discarded { letter } if letter.reason == "discarded while waiting")
    );
    assert_eq!(fx.tell[1], q.stats_message());
    assert_eq!(store.queue.len(), 1);
    assert_eq!(q.retry("nobody", T0), Effects::default());
    let fx = q.discard("nobody", T0);
    assert!(fx.ops.is_empty());
}

#[test]
fn an_entry_discarded_on_its_way_is_still_reported_if_it_landed() {
    let (mut q, mut store) = (signed_in(), Store::default());
    let ids = offline_writes(&mut q, &mut store, 1);
    assert!(q.start());
    let Next::Send(e) = q.next(T0 + 10) else {
        panic!()
    };
    store.apply(&q.discard(&ids[0], T0 + 11));
    let (fx, _) = q.answered(
        &e.id,
        Outcome::Delivered,
        Some(200),
        "{}".into(),
        T0 + 12,
        0.0,
        true,
    );
    assert_eq!(
        synced(&fx.tell),
        ids,
        "the server has it: the pages must hear"
    );
    assert!(fx.ops.is_empty());
    let (fx, _) = q.answered(
        &e.id,
        http(503),
        Some(503),
        String::new(),
        T0 + 12,
        0.0,
        true,
    );
    assert_eq!(fx, Effects::default(), "nothing left to retry");
    q.finish();
}

#[test]
fn a_trigger_during_a_replay_makes_it_run_once_more() {
    let mut q = signed_in();
    assert!(q.start());
    assert!(q.stats().replaying);
    assert!(!q.start(), "one at a time");
    assert!(q.finish(), "once more");
}

/// Two people on one device: Sam's writes wait while Kim is signed in, are
/// neither sent, listed nor counted for Kim, and go once Sam is back.
#[test]
fn another_users_entries_wait_unseen_until_they_sign_in_again() {
    let (mut q, mut store) = (signed_in(), Store::default());
    let sams = offline_writes(&mut q, &mut store, 2);
    q.set_user(Some("kim".into()));
    let mut kims = write(10);
    kims.user = Some("kim".into());
    let kim_id = kims.id.clone();
    store.apply(
        &q.enqueue(kims, Outcome::Failed(Failure::Network), T0 + 10, 0.0, false)
            .unwrap(),
    );
    assert_eq!(q.stats().queued, 1, "Kim counts only Kim's");
    let ToPage::Listing { queued, dead, user } = q.listing() else {
        panic!()
    };
    assert_eq!(user.as_deref(), Some("kim"));
    assert_eq!((queued.len(), dead.len()), (1, 0));
    assert_eq!(queued[0].id, kim_id);
    assert_eq!(
        q.discard(&sams[0], T0 + 11).ops,
        vec![],
        "not Kim's to discard"
    );
    let mut sent = vec![];
    let (told, stop) = replay(&mut q, &mut store, T0 + 20, |e| {
        sent.push(e.id.clone());
        Outcome::Delivered
    });
    assert_eq!(
        sent,
        vec![kim_id],
        "only Kim's went, though Sam's are older"
    );
    assert_eq!(synced(&told).len(), 1);
    assert_eq!(stop, Next::Idle, "for Kim, nothing is left");
    // Nobody signed in: nothing goes.
    q.set_user(None);
    assert_eq!(q.next(T0 + 30), Next::Idle);
    assert_eq!(q.stats().queued, 0);
    // Sam again: Sam's, in order.
    q.set_user(Some("sam".into()));
    let mut sent = vec![];
    replay(&mut q, &mut store, T0 + 40, |e| {
        sent.push(e.id.clone());
        Outcome::Delivered
    });
    assert_eq!(sent, sams);
}

#[test]
fn forgetting_a_user_drops_only_their_entries_and_dead_letters() {
    let (mut q, mut store) = (signed_in(), Store::default());
    let sams = offline_writes(&mut q, &mut store, 2);
    replay(&mut q, &mut store, T0 + 5, |e| {
        if e.id == sams[0] {
            http(422)
        } else {
            Outcome::Failed(Failure::Network)
        }
    });
    let mut kims = write(10);
    kims.user = Some("kim".into());
    store.apply(
        &q.enqueue(kims, Outcome::Failed(Failure::Network), T0 + 10, 0.0, false)
            .unwrap(),
    );
    let mut legacy = write(11);
    legacy.user = None;
    store.apply(
        &q.enqueue(
            legacy,
            Outcome::Failed(Failure::Network),
            T0 + 11,
            0.0,
            false,
        )
        .unwrap(),
    );
    assert_eq!((store.queue.len(), store.dead.len()), (3, 1));
    let fx = q.forget("sam");
    store.apply(&fx);
    assert_eq!(
        fx.ops.len(),
        2,
        "Sam's queued write and dead letter: {:?}",
        fx.ops
    );
    assert_eq!(store.dead.len(), 0);
    let left: Vec<_> = store.queue.iter().map(|e| e.user.clone()).collect();
    assert_eq!(left.len(), 2);
    assert!(left.contains(&Some("kim".into())) && left.contains(&None));
    // An entry from before users were known goes with whoever signs in.
    assert_eq!(q.stats().queued, 1);
}
