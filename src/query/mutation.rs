//! `use_mutation`: the adapter around core's `MutationCache` (TanStack's
//! `Mutation` and `MutationCache`, one per [`QueryClient`]). The cache
//! decides: when a write runs (its scope's turn, paused while offline when
//! it needs the network, retries as configured), the order of the
//! callbacks, when a settled mutation is forgotten. This file carries the
//! decisions out: it runs the write, saves and puts back the optimistic
//! change exactly (`Rollback`), and sets the handle's signals. A batch is
//! one mutation: saved and rolled back as one.

use super::{now_ms, prefix, QueryClient, QueryData};
use casefile_core::query::mutations::{
    MutationCache, MutationEffect, MutationEvent, MutationId, MutationInput,
    MutationOptions as Policy, MutationState,
};
use casefile_core::query::{Action, KeyFilter, MutationStatus, QueryKey, Rollback};
use casefile_core::retry::{Failure, RetryPolicy};
use futures_channel::oneshot;
use leptos::prelude::*;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

type Run<V, D> = Rc<dyn Fn(V) -> Pin<Box<dyn Future<Output = Result<D, String>>>>>;
type Keys<V> = Rc<dyn Fn(&V) -> Vec<QueryKey>>;
type Apply<V> = Option<Rc<dyn Fn(&QueryClient, &V)>>;
type Succeeded<V, D> = Option<Rc<dyn Fn(&QueryClient, &V, &D)>>;
type Failed<V> = Option<Rc<dyn Fn(&V, &str)>>;
type Settled<V> = Option<Rc<dyn Fn(&V)>>;
type ScopeOf<V> = Option<Rc<dyn Fn(&V) -> String>>;
type Classify = Rc<dyn Fn(&str) -> Failure>;
/// Where a `mutate_batch` call hears its answers.
type Reply<D> = oneshot::Sender<Result<Vec<D>, String>>;

/// What a mutation does and what it touches.
pub struct MutationOptions<V, D> {
    /// The write itself.
    pub run: Run<V, D>,
    /// Keys the optimistic change touches: cancelled, saved, and put back
    /// exactly if the write fails.
    pub affects: Keys<V>,
    /// The optimistic change (`on_mutate`, at once, even while the write
    /// waits for its turn), after the keys are saved.
    pub optimistic: Apply<V>,
    /// After the write succeeds, e.g. set the exact data of a key.
    pub on_success: Succeeded<V, D>,
    /// Invalidated (as prefixes) after a success.
    pub invalidates: Vec<QueryKey>,
    /// After a failure has been rolled back.
    pub on_error: Failed<V>,
    /// After either.
    pub on_settled: Settled<V>,
    /// Mutations with the same scope run one after another.
    pub scope: ScopeOf<V>,
    /// When a failed write is tried again (default: never, as TanStack).
    pub retry: RetryPolicy,
    /// What kind of failure an error is, for `retry` (default: a passing
    /// server error, so a configured retry applies to every error).
    pub classify: Classify,
    /// Whether the write needs the network: offline it waits, paused, and
    /// resumes in order when the browser is back online (TanStack's
    /// `networkMode: 'online'`, the default).
    pub needs_network: bool,
}

impl<V, D> MutationOptions<V, D> {
    /// Options for `run`, touching nothing until told otherwise.
    pub fn new<F, Fut>(run: F) -> Self
    where
        F: Fn(V) -> Fut + 'static,
        Fut: Future<Output = Result<D, String>> + 'static,
    {
        let defaults = Policy::default();
        MutationOptions {
            run: Rc::new(move |v| Box::pin(run(v))),
            affects: Rc::new(|_| Vec::new()),
            optimistic: None,
            on_success: None,
            invalidates: Vec::new(),
            on_error: None,
            on_settled: None,
            scope: None,
            retry: defaults.retry,
            classify: Rc::new(|_| Failure::Http {
                status: 500,
                retry_after_ms: None,
            }),
            needs_network: defaults.needs_network,
        }
    }
}

/// A mutation's handle: status signals and `mutate`. Cheap to clone. The
/// signals follow the latest `mutate` call (TanStack's observer).
pub struct Mutation<V: Send + Sync + 'static, D: Send + Sync + 'static> {
    /// Idle, pending, success or error.
    pub status: RwSignal<MutationStatus>,
    /// The variables of the last call.
    pub variables: RwSignal<Option<V>>,
    /// The last success's data.
    pub data: RwSignal<Option<D>>,
    /// The last failure, in words.
    pub error: RwSignal<Option<String>>,
    /// Waiting for the network or for its scope's turn.
    pub is_paused: RwSignal<bool>,
    /// Failures counted so far (retries included).
    pub failure_count: RwSignal<u32>,
    client: QueryClient,
    options: Rc<MutationOptions<V, D>>,
    latest: Rc<Cell<MutationId>>,
}

impl<V: Send + Sync + 'static, D: Send + Sync + 'static> Clone for Mutation<V, D> {
    fn clone(&self) -> Self {
        Mutation {
            status: self.status,
            variables: self.variables,
            data: self.data,
            error: self.error,
            is_paused: self.is_paused,
            failure_count: self.failure_count,
            client: self.client.clone(),
            options: self.options.clone(),
            latest: self.latest.clone(),
        }
    }
}

/// A mutation on `client` with `options`.
pub fn use_mutation<V, D>(client: QueryClient, options: MutationOptions<V, D>) -> Mutation<V, D>
where
    V: Clone + Send + Sync + 'static,
    D: Clone + Send + Sync + 'static,
{
    Mutation {
        status: RwSignal::new(MutationStatus::Idle),
        variables: RwSignal::new(None),
        data: RwSignal::new(None),
        error: RwSignal::new(None),
        is_paused: RwSignal::new(false),
        failure_count: RwSignal::new(0),
        client,
        options: Rc::new(options),
        latest: Rc::new(Cell::new(0)),
    }
}

/// What the cache's effects call on one mutation.
trait Job {
    fn on_mutate(&self);
    fn execute(self: Rc<Self>) -> Pin<Box<dyn Future<Output = Result<(), String>>>>;
    fn classify(&self, error: &str) -> Failure;
    fn on_success(&self);
    fn on_error(&self);
    fn on_settled(&self);
    fn show(&self, state: &MutationState<(), String>);
}

/// A client's mutations: core's cache (which decides), the jobs it runs
/// and its one timer.
#[derive(Default)]
pub struct Mutations {
    cache: MutationCache<(), String>,
    jobs: HashMap<MutationId, Rc<dyn Job>>,
    timer: Option<(u64, TimeoutHandle)>,
}

impl QueryClient {
    fn mutations<R>(&self, f: impl FnOnce(&mut Mutations) -> R) -> R {
        f(&mut self.mutation_state().borrow_mut())
    }

    /// The browser went online or offline: paused writes resume in order.
    pub fn mutations_online(&self, online: bool) {
        self.mutations(|m| m.cache.dispatch(now_ms(), MutationInput::Online(online)));
        self.drive_mutations();
    }

    /// How many mutations are pending (running, paused or waiting for
    /// their turn): TanStack's `isMutating`.
    pub fn is_mutating(&self) -> usize {
        self.mutations(|m| {
            m.cache
                .ids()
                .into_iter()
                .filter(|id| {
                    m.cache
                        .state(*id)
                        .is_some_and(|s| s.status == MutationStatus::Pending)
                })
                .count()
        })
    }

    fn add_mutation(&self, options: Policy, job: impl FnOnce(MutationId) -> Rc<dyn Job>) {
        self.mutations(|m| {
            let id = m.cache.mutate(now_ms(), options);
            m.jobs.insert(id, job(id));
        });
        self.drive_mutations();
    }

    fn mutation_input(&self, input: MutationInput<(), String>) {
        self.mutations(|m| m.cache.dispatch(now_ms(), input));
        self.drive_mutations();
    }

    /// Carries out the cache's effects, oldest first, then sets its timer.
    /// No borrow is held while a callback runs (a callback may mutate).
    fn drive_mutations(&self) {
        loop {
            let Some((effect, job)) = self.mutations(|m| {
                let effect = m.cache.poll_effect()?;
                let id = match effect {
                    MutationEffect::OnMutate(id)
                    | MutationEffect::Execute(id)
                    | MutationEffect::OnSuccess(id)
                    | MutationEffect::OnError(id)
                    | MutationEffect::OnSettled(id)
                    | MutationEffect::Notify(
                        MutationEvent::Added(id)
                        | MutationEvent::Updated(id)
                        | MutationEvent::Removed(id),
                    ) => id,
                };
                let job = match effect {
                    MutationEffect::Notify(MutationEvent::Removed(_)) => m.jobs.remove(&id),
                    _ => m.jobs.get(&id).cloned(),
                };
                Some((effect, job))
            }) else {
                break;
            };
            let Some(job) = job else { continue };
            match effect {
                MutationEffect::OnMutate(_) => job.on_mutate(),
                MutationEffect::Execute(id) => {
                    let client = self.clone();
                    leptos::task::spawn_local(async move {
                        let result = job.clone().execute().await;
                        client.mutation_input(match result {
                            Ok(()) => MutationInput::Succeeded { id, data: () },
                            Err(error) => MutationInput::Failed {
                                id,
                                failure: job.classify(&error),
                                error,
                                jitter: js_sys::Math::random(),
                            },
                        });
                    });
                }
                MutationEffect::OnSuccess(_) => job.on_success(),
                MutationEffect::OnError(_) => job.on_error(),
                MutationEffect::OnSettled(_) => job.on_settled(),
                MutationEffect::Notify(MutationEvent::Added(id) | MutationEvent::Updated(id)) => {
                    if let Some(state) = self.mutations(|m| m.cache.state(id).cloned()) {
                        job.show(&state);
                    }
                }
                MutationEffect::Notify(MutationEvent::Removed(_)) => {}
            }
        }
        self.arm_mutation_timer();
    }

    fn arm_mutation_timer(&self) {
        let next = self.mutations(|m| m.cache.poll_timeout());
        let now = now_ms();
        self.mutations(|m| {
            if m.timer.as_ref().map(|(at, _)| *at) == next {
                return;
            }
            if let Some((_, handle)) = m.timer.take() {
                handle.clear();
            }
            let Some(at) = next else { return };
            let client = self.clone();
            // At most 2^31-1 ms: a browser fires longer timeouts at once.
            let delay = Duration::from_millis(at.saturating_sub(now).min(i32::MAX as u64));
            match set_timeout_with_handle(
                move || {
                    client.mutations(|m| m.timer.take());
                    client.mutation_input(MutationInput::Tick);
                },
                delay,
            ) {
                Ok(handle) => m.timer = Some((at, handle)),
                Err(err) => leptos::logging::error!("mutation timer: {err:?}"),
            }
        });
    }
}

/// One `mutate` (or `mutate_batch`) call.
struct BatchJob<V: Send + Sync + 'static, D: Send + Sync + 'static> {
    id: MutationId,
    mutation: Mutation<V, D>,
    batch: Vec<V>,
    saved: RefCell<Rollback<QueryData>>,
    /// The answers so far: a retry sends only what has not gone through.
    done: RefCell<Vec<D>>,
    failed: RefCell<Option<(V, String)>>,
    reply: RefCell<Option<Reply<D>>>,
}

impl<V, D> BatchJob<V, D>
where
    V: Clone + Send + Sync + 'static,
    D: Clone + Send + Sync + 'static,
{
    /// Whether the handle's signals follow this call.
    fn latest(&self) -> bool {
        self.mutation.latest.get() == self.id
    }
}

impl<V, D> Job for BatchJob<V, D>
where
    V: Clone + Send + Sync + 'static,
    D: Clone + Send + Sync + 'static,
{
    fn on_mutate(&self) {
        let m = &self.mutation;
        if self.latest() {
            m.status.try_set(MutationStatus::Pending);
            m.variables.try_set(self.batch.last().cloned());
            m.error.try_set(None);
        }
        let mut saved = self.saved.borrow_mut();
        for v in &self.batch {
            for key in (m.options.affects)(v) {
                m.client.cancel(KeyFilter::Exact(key.clone()));
                if !saved.holds(&key) {
                    saved.save(m.client.with_cache(|c| c.saved(&key)));
                }
            }
            if let Some(apply) = &m.options.optimistic {
                apply(&m.client, v);
            }
        }
    }

    fn execute(self: Rc<Self>) -> Pin<Box<dyn Future<Output = Result<(), String>>>> {
        Box::pin(async move {
            let from = self.done.borrow().len();
            for v in &self.batch[from..] {
                match (self.mutation.options.run)(v.clone()).await {
                    Ok(d) => self.done.borrow_mut().push(d),
                    Err(e) => {
                        *self.failed.borrow_mut() = Some((v.clone(), e.clone()));
                        return Err(e);
                    }
                }
            }
            Ok(())
        })
    }

    fn classify(&self, error: &str) -> Failure {
        (self.mutation.options.classify)(error)
    }

    fn on_success(&self) {
        let m = &self.mutation;
        let done = self.done.borrow();
        if let Some(f) = &m.options.on_success {
            for (v, d) in self.batch.iter().zip(done.iter()) {
                f(&m.client, v, d);
            }
        }
        for key in &m.options.invalidates {
            m.client.invalidate(prefix(key.clone()));
        }
        self.saved.take();
        if self.latest() {
            m.data.try_set(done.last().cloned());
            m.status.try_set(MutationStatus::Success);
        }
        if let Some(reply) = self.reply.take() {
            let _ = reply.send(Ok(done.clone()));
        }
    }

    fn on_error(&self) {
        let m = &self.mutation;
        let saved = self.saved.take();
        m.client.dispatch(Action::Rollback(saved.into_saved()));
        let (v, e) = self
            .failed
            .borrow()
            .clone()
            .expect("a failure names its write");
        if let Some(f) = &m.options.on_error {
            f(&v, &e);
        }
        if self.latest() {
            m.error.try_set(Some(e.clone()));
            m.status.try_set(MutationStatus::Error);
        }
        if let Some(reply) = self.reply.take() {
            let _ = reply.send(Err(e));
        }
    }

    fn on_settled(&self) {
        if let Some(f) = &self.mutation.options.on_settled {
            for v in &self.batch {
                f(v);
            }
        }
    }

    fn show(&self, state: &MutationState<(), String>) {
        if self.latest() {
            self.mutation.is_paused.try_set(state.is_paused);
            self.mutation.failure_count.try_set(state.failure_count);
        }
    }
}

impl<V, D> Mutation<V, D>
where
    V: Clone + Send + Sync + 'static,
    D: Clone + Send + Sync + 'static,
{
    /// Runs the mutation in the background.
    pub fn mutate(&self, variables: V) {
        let me = self.clone();
        leptos::task::spawn_local(async move {
            let _ = me.mutate_async(variables).await;
        });
    }

    /// Runs the mutation; its result.
    pub async fn mutate_async(&self, variables: V) -> Result<D, String> {
        self.mutate_batch(vec![variables])
            .await
            .map(|mut all| all.pop().expect("one result per variables"))
    }

    /// Runs several mutations as one: every optimistic change first, then
    /// the writes in order; if one fails (and is not retried), the rest are
    /// not sent and every key is put back as it was before the batch.
    pub async fn mutate_batch(&self, batch: Vec<V>) -> Result<Vec<D>, String> {
        let Some(first) = batch.first() else {
            return Ok(Vec::new());
        };
        let options = Policy {
            retry: self.options.retry,
            scope: self.options.scope.as_ref().map(|f| f(first)),
            needs_network: self.options.needs_network,
            ..Default::default()
        };
        let (tx, rx) = oneshot::channel();
        let me = self.clone();
        self.client.add_mutation(options, move |id| {
            me.latest.set(id);
            let job: Rc<dyn Job> = Rc::new(BatchJob {
                id,
                mutation: me,
                batch,
                saved: RefCell::new(Rollback::default()),
                done: RefCell::new(Vec::new()),
                failed: RefCell::new(None),
                reply: RefCell::new(Some(tx)),
            });
            job
        });
        rx.await
            .unwrap_or_else(|_| Err("the write was cancelled".to_string()))
    }
}
