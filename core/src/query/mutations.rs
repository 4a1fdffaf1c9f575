//! Mutations as a sans-IO machine (TanStack's `Mutation` and
//! `MutationCache`): each mutation's life, from `mutate` through its
//! callbacks' order, its scope's turn, retries, pausing while offline, to
//! garbage collection once nobody watches it. The adapter runs the write
//! and the callbacks when told ([`MutationEffect`]) and reports back.
//!
//! Call order: [`MutationCache::mutate`] → carry out every
//! [`MutationCache::poll_effect`] (`OnMutate` first, then `Execute` when the
//! mutation may run) → report [`MutationInput::Succeeded`] or
//! [`MutationInput::Failed`] → the callbacks' effects follow; dispatch
//! [`MutationInput::Tick`] when [`MutationCache::poll_timeout`] passes.

use super::MutationStatus;
use super::Scopes;
use crate::retry::{Failure, RetryDecision, RetryPolicy};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// A mutation's number, in the order they were made.
pub type MutationId = u64;

/// How one mutation behaves.
#[derive(Debug, Clone, PartialEq)]
pub struct MutationOptions {
    /// When a failed write is tried again. Defaults to never (TanStack's
    /// `retry: 0` for mutations).
    pub retry: RetryPolicy,
    /// A settled mutation nobody watches is forgotten after this (5 min).
    pub gc_time_ms: u64,
    /// Mutations with the same scope run one at a time, in order.
    pub scope: Option<String>,
    /// Whether the write needs the network: offline it waits, paused,
    /// without an attempt spent (TanStack's `networkMode: 'online'`).
    pub needs_network: bool,
}

impl Default for MutationOptions {
    fn default() -> Self {
        MutationOptions {
            retry: RetryPolicy {
                max_retries: 0,
                ..RetryPolicy::QUERY
            },
            gc_time_ms: 5 * 60 * 1000,
            scope: None,
            needs_network: true,
        }
    }
}

/// What a mutation's observers see.
#[derive(Debug, Clone, PartialEq)]
pub struct MutationState<D, E> {
    /// Idle, pending, success or error.
    pub status: MutationStatus,
    /// The write's answer, after a success.
    pub data: Option<D>,
    /// The last failure, after the mutation gave up.
    pub error: Option<E>,
    /// Failures counted so far.
    pub failure_count: u32,
    /// The latest failure, retried or not.
    pub failure_reason: Option<E>,
    /// Waiting for the network or for its scope's turn.
    pub is_paused: bool,
    /// When `mutate` was called (ms).
    pub submitted_at: u64,
}

impl<D, E> Default for MutationState<D, E> {
    fn default() -> Self {
        MutationState {
            status: MutationStatus::Idle,
            data: None,
            error: None,
            failure_count: 0,
            failure_reason: None,
            is_paused: false,
            submitted_at: 0,
        }
    }
}

/// What the cache's subscribers hear (TanStack's mutation cache events).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MutationEvent {
    /// A mutation was made.
    Added(MutationId),
    /// Its state changed.
    Updated(MutationId),
    /// It was forgotten.
    Removed(MutationId),
}

/// What the adapter must do, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MutationEffect {
    /// Run `on_mutate` now (save and apply the optimistic change), even if
    /// the write itself must wait.
    OnMutate(MutationId),
    /// Send the write; report [`MutationInput::Succeeded`] or `Failed`.
    Execute(MutationId),
    /// Run `on_success`.
    OnSuccess(MutationId),
    /// Run `on_error` (roll the optimistic change back).
    OnError(MutationId),
    /// Run `on_settled`, after either.
    OnSettled(MutationId),
    /// Tell the cache's subscribers.
    Notify(MutationEvent),
}

/// Every input besides [`MutationCache::mutate`].
#[derive(Debug, Clone)]
pub enum MutationInput<D, E> {
    /// The write went through.
    Succeeded {
        /// Which mutation.
        id: MutationId,
        /// Its answer.
        data: D,
    },
    /// The write failed.
    Failed {
        /// Which mutation.
        id: MutationId,
        /// The error, for observers.
        error: E,
        /// The error, for the retry policy.
        failure: Failure,
        /// A sample in `[0, 1)` for the policy's jitter.
        jitter: f64,
    },
    /// The network came back (`true`) or went.
    Online(bool),
    /// Time passed: run what is due.
    Tick,
    /// A component watches the mutation (it is not collected meanwhile).
    Observe(MutationId),
    /// It stopped watching.
    Unobserve(MutationId),
    /// Back to idle: data, error and counts cleared.
    Reset(MutationId),
    /// Forget it now (it leaves its scope's line).
    Remove(MutationId),
}

#[derive(Debug, Clone)]
struct Entry<D, E> {
    state: MutationState<D, E>,
    options: MutationOptions,
    observers: usize,
    /// Waiting for the network (a failure offline, or offline at start).
    offline: bool,
    /// Waiting for its scope's turn.
    queued: bool,
    running: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    Retry,
    Gc,
}

/// Every mutation, its scope lines, timers and the effects to carry out.
#[derive(Debug)]
pub struct MutationCache<D, E> {
    entries: BTreeMap<MutationId, Entry<D, E>>,
    scopes: Scopes,
    timers: BTreeSet<(u64, Timer, MutationId)>,
    effects: VecDeque<MutationEffect>,
    next: MutationId,
    online: bool,
    now: u64,
}

impl<D: Clone, E: Clone> Default for MutationCache<D, E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<D: Clone, E: Clone> MutationCache<D, E> {
    /// No mutations; online.
    pub fn new() -> Self {
        MutationCache {
            entries: BTreeMap::new(),
            scopes: Scopes::default(),
            timers: BTreeSet::new(),
            effects: VecDeque::new(),
            next: 1,
            online: true,
            now: 0,
        }
    }

    /// A new mutation: pending at once, its `on_mutate` first, its write
    /// when it may run (online, and first in its scope).
    pub fn mutate(&mut self, now: u64, options: MutationOptions) -> MutationId {
        self.now = now;
        let id = self.next;
        self.next += 1;
        let queued = match &options.scope {
            Some(scope) => !self.scopes.enter(scope, id),
            None => false,
        };
        let offline = options.needs_network && !self.online;
        self.entries.insert(
            id,
            Entry {
                state: MutationState {
                    status: MutationStatus::Pending,
                    is_paused: queued || offline,
                    submitted_at: now,
                    ..MutationState::default()
                },
                options,
                observers: 0,
                offline,
                queued,
                running: false,
            },
        );
        self.effects
            .push_back(MutationEffect::Notify(MutationEvent::Added(id)));
        self.effects.push_back(MutationEffect::OnMutate(id));
        self.start_if_free(id);
        id
    }

    /// The one place state changes after `mutate`.
    pub fn dispatch(&mut self, now: u64, input: MutationInput<D, E>) {
        self.now = now;
        match input {
            MutationInput::Succeeded { id, data } => self.succeeded(id, data),
            MutationInput::Failed {
                id,
                error,
                failure,
                jitter,
            } => self.failed(id, error, failure, jitter),
            MutationInput::Online(online) => {
                let was = std::mem::replace(&mut self.online, online);
                if online && !was {
                    // Paused writes resume in the order they were made.
                    let waiting: Vec<MutationId> = self
                        .entries
                        .iter()
                        .filter(|(_, e)| e.offline)
                        .map(|(id, _)| *id)
                        .collect();
                    for id in waiting {
                        if let Some(e) = self.entries.get_mut(&id) {
                            e.offline = false;
                        }
                        self.start_if_free(id);
                    }
                }
            }
            MutationInput::Tick => self.tick(),
            MutationInput::Observe(id) => {
                if let Some(e) = self.entries.get_mut(&id) {
                    e.observers += 1;
                    self.set_timer(id, Timer::Gc, None);
                }
            }
            MutationInput::Unobserve(id) => {
                if let Some(e) = self.entries.get_mut(&id) {
                    e.observers = e.observers.saturating_sub(1);
                    self.schedule_gc(id);
                }
            }
            MutationInput::Reset(id) => {
                if let Some(e) = self.entries.get_mut(&id) {
                    if e.state.status != MutationStatus::Pending {
                        e.state = MutationState::default();
                        self.updated(id);
                    }
                }
            }
            MutationInput::Remove(id) => self.remove(id),
        }
    }

    /// The next effect, oldest first.
    pub fn poll_effect(&mut self) -> Option<MutationEffect> {
        self.effects.pop_front()
    }

    /// When [`MutationInput::Tick`] is next due (ms), if ever.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.timers.first().map(|(at, _, _)| *at)
    }

    /// A mutation's state, while the cache has it.
    pub fn state(&self, id: MutationId) -> Option<&MutationState<D, E>> {
        self.entries.get(&id).map(|e| &e.state)
    }

    /// The mutations it holds, oldest first.
    pub fn ids(&self) -> Vec<MutationId> {
        self.entries.keys().copied().collect()
    }

    /// How many wait or run in `scope`.
    pub fn in_scope(&self, scope: &str) -> usize {
        self.scopes.len(scope)
    }

    fn updated(&mut self, id: MutationId) {
        self.effects
            .push_back(MutationEffect::Notify(MutationEvent::Updated(id)));
    }

    fn set_timer(&mut self, id: MutationId, timer: Timer, at: Option<u64>) {
        self.timers.retain(|(_, t, m)| !(*t == timer && *m == id));
        if let Some(at) = at {
            self.timers.insert((at, timer, id));
        }
    }

    /// Sends the write when nothing holds it back.
    fn start_if_free(&mut self, id: MutationId) {
        let Some(e) = self.entries.get_mut(&id) else {
            return;
        };
        if e.running || e.queued || e.offline || e.state.status != MutationStatus::Pending {
            return;
        }
        e.running = true;
        let was_paused = std::mem::replace(&mut e.state.is_paused, false);
        if was_paused {
            self.updated(id);
        }
        self.effects.push_back(MutationEffect::Execute(id));
    }

    fn succeeded(&mut self, id: MutationId, data: D) {
        let Some(e) = self.entries.get_mut(&id).filter(|e| e.running) else {
            return; // not waiting for an answer: removed, or a stray one
        };
        e.running = false;
        e.state.status = MutationStatus::Success;
        e.state.data = Some(data);
        e.state.error = None;
        e.state.failure_count = 0;
        e.state.failure_reason = None;
        e.state.is_paused = false;
        self.effects.push_back(MutationEffect::OnSuccess(id));
        self.settled(id);
    }

    fn failed(&mut self, id: MutationId, error: E, failure: Failure, jitter: f64) {
        let online = self.online;
        let now = self.now;
        let Some(e) = self.entries.get_mut(&id).filter(|e| e.running) else {
            return;
        };
        e.running = false;
        let policy = e.options.retry;
        if policy.counts_attempt(&failure, online) {
            e.state.failure_count += 1;
        }
        e.state.failure_reason = Some(error.clone());
        let decision = if e.options.needs_network {
            policy.decide(&failure, e.state.failure_count, online, jitter)
        } else {
            match policy.decide(&failure, e.state.failure_count, true, jitter) {
                RetryDecision::WaitForNetwork => RetryDecision::GiveUp,
                d => d,
            }
        };
        match decision {
            RetryDecision::RetryIn(delay) => {
                self.set_timer(id, Timer::Retry, Some(now.saturating_add(delay)));
                self.updated(id);
            }
            RetryDecision::WaitForNetwork => {
                e.offline = true;
                e.state.is_paused = true;
                self.updated(id);
            }
            RetryDecision::GiveUp => {
                e.state.status = MutationStatus::Error;
                e.state.error = Some(error);
                e.state.is_paused = false;
                self.effects.push_back(MutationEffect::OnError(id));
                self.settled(id);
            }
        }
    }

    /// After success or error: `on_settled`, the scope's next, gc.
    fn settled(&mut self, id: MutationId) {
        self.effects.push_back(MutationEffect::OnSettled(id));
        self.updated(id);
        self.leave_scope(id);
        self.schedule_gc(id);
    }

    fn leave_scope(&mut self, id: MutationId) {
        let scope = self.entries.get(&id).and_then(|e| e.options.scope.clone());
        if let Some(scope) = scope {
            if let Some(next) = self.scopes.leave(&scope, id) {
                if let Some(e) = self.entries.get_mut(&next) {
                    e.queued = false;
                }
                self.start_if_free(next);
            }
        }
    }

    fn schedule_gc(&mut self, id: MutationId) {
        let Some(e) = self.entries.get(&id) else {
            return;
        };
        if e.observers == 0 && e.state.status != MutationStatus::Pending {
            let at = match e.options.gc_time_ms {
                u64::MAX => None,
                gc => Some(self.now.saturating_add(gc)),
            };
            self.set_timer(id, Timer::Gc, at);
        }
    }

    fn remove(&mut self, id: MutationId) {
        if !self.entries.contains_key(&id) {
            return;
        }
        self.leave_scope(id);
        self.set_timer(id, Timer::Retry, None);
        self.set_timer(id, Timer::Gc, None);
        self.entries.remove(&id);
        self.effects
            .push_back(MutationEffect::Notify(MutationEvent::Removed(id)));
    }

    fn tick(&mut self) {
        while let Some((at, timer, id)) = self.timers.first().copied() {
            if at > self.now {
                break;
            }
            self.timers.remove(&(at, timer, id));
            match timer {
                Timer::Retry => self.start_if_free(id),
                Timer::Gc => {
                    let idle = self.entries.get(&id).is_some_and(|e| {
                        e.observers == 0 && e.state.status != MutationStatus::Pending
                    });
                    if idle {
                        self.remove(id);
                    }
                }
            }
        }
    }
}
