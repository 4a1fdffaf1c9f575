//! The worker's queue as one sans-IO machine: what is queued and dead, the
//! replay gate, and every decision the replay makes — what to keep from a
//! first try, which entry goes next, what an answer means, what is stored
//! and what the pages are told. The worker (`sw/src/queue.rs`) loads the
//! machine from its IndexedDB store, sends what [`Queue::next`] names, and
//! carries out the [`Effects`] it gets back, in order.
//!
//! Call order:
//! 1. [`Queue::load`] with what the store holds (at every replay's start: a
//!    restarted worker has nothing else).
//! 2. A failed write: [`Queue::enqueue`]; `None` gives the answer back to the
//!    page as it is.
//! 3. A replay: [`Queue::start`] (false: one runs; it looks once more at its
//!    end), then [`Queue::next`] and [`Queue::answered`] until `next` says
//!    stop or `answered` says the replay pauses, then [`Queue::finish`]
//!    (true: replay once more).
//! 4. The person's choices: [`Queue::retry`], [`Queue::discard`].
//! 5. Who is signed in: [`Queue::set_user`] (pages say so at start, sign-in
//!    and sign-out). Only that user's entries replay, list and count: a
//!    shared device never sends one person's writes under another's
//!    session, nor shows them. [`Queue::forget`] drops a user's entries.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use super::{
    after_replay, excerpt, keeps, revive, waits_for_sign_in, DeadLetter, Outcome, QueueStats,
    ReplayGate, Step, StoredRequest, ToPage,
};

/// One change to the worker's store; each is one transaction (an entry is
/// never in both stores, nor in neither).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueOp {
    /// Store the entry in the queue (new, or its bookkeeping anew).
    Put(StoredRequest),
    /// A delivered entry leaves the queue.
    Remove(String),
    /// The entry moves from the queue to the dead letters.
    Bury(DeadLetter),
    /// A dead letter moves back into the queue.
    Revive(StoredRequest),
    /// A dead letter is dropped.
    Forget(String),
}

/// What the worker carries out after a decision: the store's changes first,
/// then the messages to every page, then a timer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Effects {
    /// In order, each one transaction.
    pub ops: Vec<QueueOp>,
    /// To every page, once the ops are stored.
    pub tell: Vec<ToPage>,
    /// Replay again at this time (ms).
    pub wake_at: Option<u64>,
}

/// What the replay does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Send this entry (the oldest).
    Send(Box<StoredRequest>),
    /// The oldest is not due until then (FIFO: nothing behind it goes); the
    /// replay stops and wakes then.
    At(u64),
    /// Nothing is queued.
    Idle,
}

/// The worker's queue.
#[derive(Debug, Clone, Default)]
pub struct Queue {
    /// Oldest first.
    queued: Vec<StoredRequest>,
    dead: Vec<DeadLetter>,
    /// Records of the store that no longer read (kept there, counted).
    unreadable: usize,
    gate: ReplayGate,
    /// Who is signed in (`None`: nobody, or not known yet).
    user: Option<String>,
}

impl Queue {
    /// An empty queue, no replay running.
    pub const fn new() -> Self {
        Queue {
            queued: Vec::new(),
            dead: Vec::new(),
            unreadable: 0,
            gate: ReplayGate::new(),
            user: None,
        }
    }

    /// Who is signed in on this device now.
    pub fn set_user(&mut self, user: Option<String>) {
        self.user = user;
    }

    /// Who the queue acts for.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// Whether an entry is the signed-in user's. An entry from before the
    /// queue knew users goes with whoever is signed in (it was made on this
    /// device before the upgrade, and the server checks the session).
    fn mine(&self, entry: &StoredRequest) -> bool {
        self.user.is_some() && (entry.user.is_none() || entry.user == self.user)
    }

    /// What the store holds now (the replay gate is kept: it belongs to this
    /// worker's life, not to the store).
    pub fn load(
        &mut self,
        mut queued: Vec<StoredRequest>,
        dead: Vec<DeadLetter>,
        unreadable: usize,
    ) {
        oldest_first(&mut queued);
        self.queued = queued;
        self.dead = dead;
        self.unreadable = unreadable;
    }

    /// A write whose first try ended with `first`. `None`: it is not kept
    /// (delivered, or a definite answer such as a 4xx), and the answer goes
    /// back to the page as it is. Otherwise it is stored and the page is
    /// answered `202 {"queued": id}`; a counted failure (5xx, 408, 429) also
    /// sets the timer of its next try.
    pub fn enqueue(
        &mut self,
        mut entry: StoredRequest,
        first: Outcome,
        now: u64,
        jitter: f64,
        online: bool,
    ) -> Option<Effects> {
        match first {
            Outcome::Failed(failure) if keeps(&failure) => {}
            _ => return None,
        }
        let wake_at = match after_replay(&mut entry, first, now, jitter, online) {
            Step::RetryAt(at) => Some(at),
            Step::Wait | Step::SignIn => None,
            // The first try cannot exhaust the attempts; keep it either way.
            Step::Remove | Step::DeadLetter(_) => {
                entry.next_attempt_at = now;
                None
            }
        };
        let id = entry.id.clone();
        self.queued.push(entry.clone());
        oldest_first(&mut self.queued);
        Some(Effects {
            ops: vec![QueueOp::Put(entry)],
            tell: vec![ToPage::Queued { id }, self.stats_message()],
            wake_at,
        })
    }

    /// A replay wants to start: false when one runs (it will look once more
    /// when it ends).
    pub fn start(&mut self) -> bool {
        self.gate.enter()
    }

    /// The replay ended: true when it must run once more.
    pub fn finish(&mut self) -> bool {
        self.gate.leave()
    }

    /// What the replay sends next: the signed-in user's oldest entry, if it
    /// is due (another user's entries wait for them).
    pub fn next(&self, now: u64) -> Next {
        match self.queued.iter().find(|e| self.mine(e)) {
            None => Next::Idle,
            Some(e) if e.next_attempt_at <= now => Next::Send(Box::new(e.clone())),
            Some(e) => Next::At(e.next_attempt_at),
        }
    }

    /// The answer to a replay of entry `id` (`status` and `body`, when the
    /// server answered). The bool says whether the replay goes on: it pauses
    /// on a retry timer, an unreachable network or a 401.
    #[allow(clippy::too_many_arguments)]
    pub fn answered(
        &mut self,
        id: &str,
        outcome: Outcome,
        status: Option<u16>,
        body: String,
        now: u64,
        jitter: f64,
        online: bool,
    ) -> (Effects, bool) {
        let Some(at) = self.queued.iter().position(|e| e.id == id) else {
            // Discarded while it was on its way. A delivery still happened,
            // so the pages hear it; a failure has nobody left to retry for.
            let effects = match outcome {
                Outcome::Delivered => Effects {
                    tell: vec![ToPage::Synced {
                        id: id.into(),
                        url: String::new(),
                        status: status.unwrap_or(200),
                        body,
                    }],
                    ..Effects::default()
                },
                Outcome::Failed(_) => Effects::default(),
            };
            return (effects, true);
        };
        let mut entry = self.queued[at].clone();
        match after_replay(&mut entry, outcome, now, jitter, online) {
            Step::Remove => {
                self.queued.remove(at);
                let tell = ToPage::Synced {
                    id: entry.id.clone(),
                    url: entry.url,
                    status: status.unwrap_or(200),
                    body,
                };
                let effects = Effects {
                    ops: vec![QueueOp::Remove(entry.id)],
                    tell: vec![tell],
                    wake_at: None,
                };
                (effects, true)
            }
            Step::RetryAt(when) => {
                self.queued[at] = entry.clone();
                let effects = Effects {
                    tell: vec![ToPage::RetryScheduled {
                        id: entry.id.clone(),
                        at: when,
                    }],
                    ops: vec![QueueOp::Put(entry)],
                    wake_at: Some(when),
                };
                (effects, false)
            }
            // Unreachable, or signed out: the replay pauses (the stats it
            // ends with tell the pages why).
            Step::Wait | Step::SignIn => {
                self.queued[at] = entry.clone();
                let effects = Effects {
                    ops: vec![QueueOp::Put(entry)],
                    ..Effects::default()
                };
                (effects, false)
            }
            Step::DeadLetter(reason) => {
                self.queued.remove(at);
                let letter = DeadLetter {
                    reason,
                    status,
                    excerpt: excerpt(&body),
                    dead_at: now,
                    request: entry,
                };
                self.dead.push(letter.clone());
                let effects = Effects {
                    ops: vec![QueueOp::Bury(letter.clone())],
                    tell: vec![ToPage::DeadLettered {
                        letter: Box::new(letter),
                    }],
                    wake_at: None,
                };
                (effects, true)
            }
        }
    }

    /// The person's Retry of a dead letter: back in the queue, attempts
    /// reset (the replay that follows sends it). Nothing for an unknown id.
    pub fn retry(&mut self, id: &str, now: u64) -> Effects {
        let Some(at) = self
            .dead
            .iter()
            .position(|d| d.request.id == id && self.mine(&d.request))
        else {
            return Effects::default();
        };
        let entry = revive(self.dead.remove(at), now);
        self.queued.push(entry.clone());
        oldest_first(&mut self.queued);
        Effects {
            ops: vec![QueueOp::Revive(entry)],
            ..Effects::default()
        }
    }

    /// The person's Discard: a dead letter, or a write still waiting. The
    /// pages hear what was dropped (its events become refused, "discarded by
    /// you"), and the figures.
    pub fn discard(&mut self, id: &str, now: u64) -> Effects {
        let dead_at = self
            .dead
            .iter()
            .position(|d| d.request.id == id && self.mine(&d.request));
        let queued_at = self.queued.iter().position(|q| q.id == id && self.mine(q));
        let (op, letter) = if let Some(at) = dead_at {
            (QueueOp::Forget(id.into()), self.dead.remove(at))
        } else if let Some(at) = queued_at {
            let request = self.queued.remove(at);
            let letter = DeadLetter {
                reason: "discarded while waiting".into(),
                status: request.last_status,
                excerpt: String::new(),
                dead_at: now,
                request,
            };
            (QueueOp::Remove(id.into()), letter)
        } else {
            return Effects {
                tell: vec![self.stats_message()],
                ..Effects::default()
            };
        };
        Effects {
            ops: vec![op],
            tell: vec![
                ToPage::Discarded {
                    letter: Box::new(letter),
                },
                self.stats_message(),
            ],
            wake_at: None,
        }
    }

    /// Every entry and dead letter of `user` goes (their sign-out with
    /// "Discard"); the pages hear the figures.
    pub fn forget(&mut self, user: &str) -> Effects {
        let theirs = |e: &StoredRequest| e.user.as_deref() == Some(user);
        let mut ops: Vec<QueueOp> = self
            .queued
            .iter()
            .filter(|e| theirs(e))
            .map(|e| QueueOp::Remove(e.id.clone()))
            .collect();
        ops.extend(
            self.dead
                .iter()
                .filter(|d| theirs(&d.request))
                .map(|d| QueueOp::Forget(d.request.id.clone())),
        );
        self.queued.retain(|e| !theirs(e));
        self.dead.retain(|d| !theirs(&d.request));
        Effects {
            ops,
            tell: vec![self.stats_message()],
            wake_at: None,
        }
    }

    /// The signed-in user's figures (another user's entries are not
    /// counted: they are not theirs to see).
    pub fn stats(&self) -> QueueStats {
        let mine = || self.queued.iter().filter(|e| self.mine(e));
        QueueStats {
            queued: mine().count(),
            dead: self.dead.iter().filter(|d| self.mine(&d.request)).count(),
            next_attempt_at: mine().map(|e| e.next_attempt_at).min(),
            replaying: self.gate.running(),
            unreadable: self.unreadable,
            sign_in: mine().filter(|e| waits_for_sign_in(e)).count(),
            user: self.user.clone(),
        }
    }

    /// The figures, as the message every page gets.
    pub fn stats_message(&self) -> ToPage {
        ToPage::Stats {
            stats: self.stats(),
        }
    }

    /// The signed-in user's entries (oldest first) and dead letters.
    pub fn listing(&self) -> ToPage {
        ToPage::Listing {
            queued: self.queued().cloned().collect(),
            dead: self.dead().cloned().collect(),
            user: self.user.clone(),
        }
    }

    /// The signed-in user's entries waiting, oldest first.
    pub fn queued(&self) -> impl Iterator<Item = &StoredRequest> {
        self.queued.iter().filter(|e| self.mine(e))
    }

    /// The signed-in user's dead letters.
    pub fn dead(&self) -> impl Iterator<Item = &DeadLetter> {
        self.dead.iter().filter(|d| self.mine(&d.request))
    }
}

/// FIFO order: by enqueue time, then id.
fn oldest_first(queued: &mut [StoredRequest]) {
    crate::small::sort_by(queued, |a, b| {
        (a.enqueued_at, &a.id) < (b.enqueued_at, &b.id)
    });
}

#[cfg(test)]
mod tests;
