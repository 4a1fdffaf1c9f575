//! `use_mutation`: a write with an optimistic change that a failure puts
//! back exactly (bookkeeping in `casefile_core::query::{Rollback, Scopes}`).
//! Mutations sharing a scope (e.g. one case id) run in the order they were
//! made; a batch is saved and rolled back as one.

use super::{prefix, QueryClient, QueryData};
use casefile_core::query::{Action, KeyFilter, MutationStatus, QueryKey, Rollback, Scopes};
use futures_channel::oneshot;
use leptos::prelude::*;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

type Run<V, D> = Rc<dyn Fn(V) -> Pin<Box<dyn Future<Output = Result<D, String>>>>>;
type Keys<V> = Rc<dyn Fn(&V) -> Vec<QueryKey>>;
type Apply<V> = Option<Rc<dyn Fn(&QueryClient, &V)>>;
type Succeeded<V, D> = Option<Rc<dyn Fn(&QueryClient, &V, &D)>>;
type Failed<V> = Option<Rc<dyn Fn(&V, &str)>>;
type Settled<V> = Option<Rc<dyn Fn(&V)>>;
type ScopeOf<V> = Option<Rc<dyn Fn(&V) -> String>>;

thread_local! {
    static SCOPES: RefCell<Scopes> = RefCell::new(Scopes::default());
    static WAITING: RefCell<HashMap<u64, oneshot::Sender<()>>> = RefCell::new(HashMap::new());
    static NEXT: Cell<u64> = const { Cell::new(1) };
}

/// What a mutation does and what it touches.
pub struct MutationOptions<V, D> {
    /// The write itself.
    pub run: Run<V, D>,
    /// Keys the optimistic change touches: cancelled, saved, and put back
    /// exactly if the write fails.
    pub affects: Keys<V>,
    /// The optimistic change (`on_mutate`), after the keys are saved.
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
}

impl<V, D> MutationOptions<V, D> {
    /// Options for `run`, touching nothing until told otherwise.
    pub fn new<F, Fut>(run: F) -> Self
    where
        F: Fn(V) -> Fut + 'static,
        Fut: Future<Output = Result<D, String>> + 'static,
    {
        MutationOptions {
            run: Rc::new(move |v| Box::pin(run(v))),
            affects: Rc::new(|_| Vec::new()),
            optimistic: None,
            on_success: None,
            invalidates: Vec::new(),
            on_error: None,
            on_settled: None,
            scope: None,
        }
    }
}

/// A mutation's handle: status signals and `mutate`. Cheap to clone.
pub struct Mutation<V: Send + Sync + 'static, D: Send + Sync + 'static> {
    /// Idle, pending, success or error.
    pub status: RwSignal<MutationStatus>,
    /// The variables of the last call.
    pub variables: RwSignal<Option<V>>,
    /// The last success's data.
    pub data: RwSignal<Option<D>>,
    /// The last failure, in words.
    pub error: RwSignal<Option<String>>,
    client: QueryClient,
    options: Rc<MutationOptions<V, D>>,
}

impl<V: Send + Sync + 'static, D: Send + Sync + 'static> Clone for Mutation<V, D> {
    fn clone(&self) -> Self {
        Mutation {
            status: self.status,
            variables: self.variables,
            data: self.data,
            error: self.error,
            client: self.client.clone(),
            options: self.options.clone(),
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
        client,
        options: Rc::new(options),
    }
}

/// Waits for the mutation's turn in `scope`; the id to leave with.
async fn take_turn(scope: &str) -> u64 {
    let id = NEXT.with(|n| n.replace(n.get() + 1));
    if !SCOPES.with(|s| s.borrow_mut().enter(scope, id)) {
        let (tx, rx) = oneshot::channel();
        WAITING.with(|w| w.borrow_mut().insert(id, tx));
        let _ = rx.await;
    }
    id
}

fn end_turn(scope: &str, id: u64) {
    if let Some(next) = SCOPES.with(|s| s.borrow_mut().leave(scope, id)) {
        if let Some(tx) = WAITING.with(|w| w.borrow_mut().remove(&next)) {
            let _ = tx.send(());
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

    fn save_and_apply(&self, variables: &V, saved: &mut Rollback<QueryData>) {
        for key in (self.options.affects)(variables) {
            self.client.cancel(KeyFilter::Exact(key.clone()));
            if !saved.holds(&key) {
                saved.save(self.client.with_cache(|c| c.saved(&key)));
            }
        }
        if let Some(apply) = &self.options.optimistic {
            apply(&self.client, variables);
        }
    }

    /// Runs several mutations as one: every optimistic change first, then
    /// the writes in order; if one fails, the rest are not sent and every
    /// key is put back as it was before the batch.
    pub async fn mutate_batch(&self, batch: Vec<V>) -> Result<Vec<D>, String> {
        let Some(first) = batch.first().cloned() else {
            return Ok(Vec::new());
        };
        let scope = self.options.scope.as_ref().map(|f| f(&first));
        let turn = match &scope {
            Some(s) => Some(take_turn(s).await),
            None => None,
        };
        self.status.set(MutationStatus::Pending);
        self.variables.set(batch.last().cloned());
        self.error.set(None);
        let mut saved = Rollback::default();
        for v in &batch {
            self.save_and_apply(v, &mut saved);
        }
        let mut done = Vec::with_capacity(batch.len());
        let mut failure = None;
        for v in &batch {
            match (self.options.run)(v.clone()).await {
                Ok(d) => done.push(d),
                Err(e) => {
                    failure = Some((v.clone(), e));
                    break;
                }
            }
        }
        let result = match failure {
            None => {
                for (v, d) in batch.iter().zip(&done) {
                    if let Some(f) = &self.options.on_success {
                        f(&self.client, v, d);
                    }
                }
                for key in &self.options.invalidates {
                    self.client.invalidate(prefix(key.clone()));
                }
                self.data.set(done.last().cloned());
                self.status.set(MutationStatus::Success);
                Ok(done)
            }
            Some((v, e)) => {
                self.client.dispatch(Action::Rollback(saved.into_saved()));
                if let Some(f) = &self.options.on_error {
                    f(&v, &e);
                }
                self.error.set(Some(e.clone()));
                self.status.set(MutationStatus::Error);
                Err(e)
            }
        };
        if let Some(f) = &self.options.on_settled {
            for v in &batch {
                f(v);
            }
        }
        if let (Some(scope), Some(turn)) = (scope, turn) {
            end_turn(&scope, turn);
        }
        result
    }
}
