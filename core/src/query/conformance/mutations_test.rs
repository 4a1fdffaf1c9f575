//! `packages/query-core/src/__tests__/mutations.test.tsx`, with the
//! behaviour cases of `react-query/src/__tests__/useMutation.test.tsx`
//! and `queryClient.test.tsx`'s paused-mutation cases, against
//! [`MutationCache`] on a simulated clock.

use crate::query::mutations::*;
use crate::query::MutationStatus;
use crate::retry::{Failure, RetryPolicy};
use MutationEffect::*;

/// The machine, a clock, and every effect it asked for, in order.
pub struct MSim {
    pub cache: MutationCache<String, String>,
    pub now: u64,
    pub log: Vec<MutationEffect>,
}

impl MSim {
    pub fn new() -> Self {
        MSim {
            cache: MutationCache::new(),
            now: 1_790_000_000_000,
            log: Vec::new(),
        }
    }

    fn drain(&mut self) {
        while let Some(e) = self.cache.poll_effect() {
            self.log.push(e);
        }
    }

    pub fn mutate(&mut self, options: MutationOptions) -> MutationId {
        let id = self.cache.mutate(self.now, options);
        self.drain();
        id
    }

    pub fn run(&mut self, input: MutationInput<String, String>) {
        self.cache.dispatch(self.now, input);
        self.drain();
    }

    pub fn succeed(&mut self, id: MutationId, data: &str) {
        self.run(MutationInput::Succeeded {
            id,
            data: data.into(),
        });
    }

    pub fn fail(&mut self, id: MutationId, failure: Failure) {
        self.run(MutationInput::Failed {
            id,
            error: format!("{failure:?}"),
            failure,
            jitter: 0.0,
        });
    }

    pub fn advance(&mut self, ms: u64) {
        self.now += ms;
        self.run(MutationInput::Tick);
    }

    pub fn state(&self, id: MutationId) -> &MutationState<String, String> {
        self.cache.state(id).expect("the mutation is held")
    }

    /// The callbacks and writes asked for (not the notifications), in order.
    pub fn calls(&self) -> Vec<MutationEffect> {
        self.log
            .iter()
            .copied()
            .filter(|e| !matches!(e, Notify(_)))
            .collect()
    }

    /// How many writes were sent for `id`.
    pub fn executed(&self, id: MutationId) -> usize {
        self.log.iter().filter(|e| **e == Execute(id)).count()
    }
}

pub fn http(status: u16) -> Failure {
    Failure::Http {
        status,
        retry_after_ms: None,
    }
}

pub fn scoped(scope: &str) -> MutationOptions {
    MutationOptions {
        scope: Some(scope.into()),
        ..MutationOptions::default()
    }
}

fn retrying(n: u32, delay_ms: u64) -> MutationOptions {
    MutationOptions {
        retry: RetryPolicy {
            base_delay_ms: delay_ms,
            max_delay_ms: delay_ms,
            max_retries: n,
            ..RetryPolicy::QUERY
        },
        ..MutationOptions::default()
    }
}

/// "mutation should set correct success states"
#[test]
fn mutation_should_set_correct_success_states() {
    let mut sim = MSim::new();
    let id = sim.mutate(MutationOptions::default());
    let pending = sim.state(id);
    assert_eq!(pending.status, MutationStatus::Pending);
    assert!(!pending.is_paused);
    assert_eq!(pending.submitted_at, sim.now);
    sim.succeed(id, "mutation");
    let done = sim.state(id);
    assert_eq!(done.status, MutationStatus::Success);
    assert_eq!(done.data.as_deref(), Some("mutation"));
    assert_eq!(done.failure_count, 0);
}

/// "mutation should set correct error states"
#[test]
fn mutation_should_set_correct_error_states() {
    let mut sim = MSim::new();
    let id = sim.mutate(retrying(1, 10));
    sim.fail(id, http(500));
    assert_eq!(sim.state(id).status, MutationStatus::Pending);
    assert_eq!(sim.state(id).failure_count, 1);
    assert!(sim.state(id).failure_reason.is_some());
    sim.advance(10);
    assert_eq!(sim.executed(id), 2);
    sim.fail(id, http(500));
    assert_eq!(sim.state(id).status, MutationStatus::Error);
    assert_eq!(sim.state(id).failure_count, 2);
    assert!(sim.state(id).error.is_some());
}

/// "mutate update the mutation state even without an active subscription 1"
#[test]
fn mutate_update_the_mutation_state_even_without_an_active_subscription_1() {
    let mut sim = MSim::new();
    let id = sim.mutate(MutationOptions::default());
    sim.succeed(id, "update");
    assert_eq!(sim.state(id).data.as_deref(), Some("update"));
}

/// "scoped mutations mutations in the same scope should run in serial"
#[test]
fn scoped_mutations_mutations_in_the_same_scope_should_run_in_serial() {
    let mut sim = MSim::new();
    let a = sim.mutate(scoped("scope"));
    let b = sim.mutate(scoped("scope"));
    assert!(!sim.state(a).is_paused);
    assert!(sim.state(b).is_paused, "B waits its turn");
    assert_eq!(sim.state(b).status, MutationStatus::Pending);
    assert_eq!(sim.executed(b), 0);
    sim.succeed(a, "a");
    assert_eq!(sim.executed(b), 1);
    sim.succeed(b, "b");
    let order: Vec<_> = sim
        .calls()
        .into_iter()
        .filter(|e| matches!(e, Execute(_) | OnSettled(_)))
        .collect();
    assert_eq!(
        order,
        vec![Execute(a), OnSettled(a), Execute(b), OnSettled(b)]
    );
}

/// "scoped mutations mutations without scope should run in parallel"
#[test]
fn scoped_mutations_mutations_without_scope_should_run_in_parallel() {
    let mut sim = MSim::new();
    let a = sim.mutate(MutationOptions::default());
    let b = sim.mutate(MutationOptions::default());
    assert_eq!((sim.executed(a), sim.executed(b)), (1, 1));
}

/// "scoped mutations each scope should run in parallel, serial within scope"
#[test]
fn scoped_mutations_each_scope_should_run_in_parallel_serial_within_scope() {
    let mut sim = MSim::new();
    let a1 = sim.mutate(scoped("A"));
    let a2 = sim.mutate(scoped("A"));
    let b1 = sim.mutate(scoped("B"));
    let b2 = sim.mutate(scoped("B"));
    assert_eq!([a1, a2, b1, b2].map(|m| sim.executed(m)), [1, 0, 1, 0]);
    sim.succeed(b1, "b1");
    assert_eq!(sim.executed(b2), 1);
    assert_eq!(sim.executed(a2), 0, "A's line is its own");
    sim.succeed(a1, "a1");
    assert_eq!(sim.executed(a2), 1);
}

/// "callback return types should handle all sync callback patterns"
#[test]
fn callback_return_types_should_handle_all_sync_callback_patterns() {
    let mut sim = MSim::new();
    let id = sim.mutate(MutationOptions::default());
    sim.succeed(id, "ok");
    assert_eq!(
        sim.calls(),
        vec![OnMutate(id), Execute(id), OnSuccess(id), OnSettled(id)]
    );
}

/// "callback return types should handle error cases with all callback patterns"
#[test]
fn callback_return_types_should_handle_error_cases_with_all_callback_patterns() {
    let mut sim = MSim::new();
    let id = sim.mutate(MutationOptions::default());
    sim.fail(id, http(500));
    assert_eq!(
        sim.calls(),
        vec![OnMutate(id), Execute(id), OnError(id), OnSettled(id)]
    );
}

/// "should be able to retry a failed mutation" (useMutation)
#[test]
fn should_be_able_to_retry_a_failed_mutation() {
    let mut sim = MSim::new();
    let id = sim.mutate(retrying(1, 1_000));
    sim.fail(id, http(503));
    assert_eq!(sim.cache.poll_timeout(), Some(sim.now + 1_000));
    sim.advance(1_000);
    sim.succeed(id, "after a retry");
    assert_eq!(sim.executed(id), 2);
    assert_eq!(sim.state(id).status, MutationStatus::Success);
}

/// "should not retry mutations while offline" (useMutation)
#[test]
fn should_not_retry_mutations_while_offline() {
    let mut sim = MSim::new();
    let id = sim.mutate(retrying(1, 10));
    sim.run(MutationInput::Online(false));
    sim.fail(id, Failure::Network);
    assert!(sim.state(id).is_paused);
    assert_eq!(sim.state(id).failure_count, 0, "no attempt spent offline");
    sim.advance(60_000);
    assert_eq!(sim.executed(id), 1);
    sim.run(MutationInput::Online(true));
    assert_eq!(sim.executed(id), 2);
    assert!(!sim.state(id).is_paused);
}

/// "should call onMutate even if paused" (useMutation)
#[test]
fn should_call_on_mutate_even_if_paused() {
    let mut sim = MSim::new();
    sim.run(MutationInput::Online(false));
    let id = sim.mutate(MutationOptions::default());
    assert_eq!(sim.calls(), vec![OnMutate(id)]);
    assert!(sim.state(id).is_paused);
}

/// "should optimistically go to paused state if offline" (useMutation)
#[test]
fn should_optimistically_go_to_paused_state_if_offline() {
    let mut sim = MSim::new();
    sim.run(MutationInput::Online(false));
    let id = sim.mutate(MutationOptions::default());
    assert_eq!(sim.state(id).status, MutationStatus::Pending);
    assert!(sim.state(id).is_paused);
    assert_eq!(sim.executed(id), 0);
    sim.run(MutationInput::Online(true));
    sim.succeed(id, "sent when back");
    assert_eq!(sim.state(id).status, MutationStatus::Success);
}

/// "should be able to reset `data`" / "should be able to reset `error`" (useMutation)
#[test]
fn should_be_able_to_reset_data_and_error() {
    let mut sim = MSim::new();
    let ok = sim.mutate(MutationOptions::default());
    sim.succeed(ok, "mutation");
    let bad = sim.mutate(MutationOptions::default());
    sim.fail(bad, http(500));
    for id in [ok, bad] {
        sim.run(MutationInput::Reset(id));
        assert_eq!(sim.state(id), &MutationState::default());
    }
}

/// "should be able to call `onSuccess` and `onSettled` after each successful mutate" (useMutation)
#[test]
fn should_be_able_to_call_on_success_and_on_settled_after_each_successful_mutate() {
    let mut sim = MSim::new();
    let ids: Vec<_> = (0..3)
        .map(|_| sim.mutate(MutationOptions::default()))
        .collect();
    for (i, id) in ids.iter().enumerate() {
        sim.succeed(*id, &format!("result {i}"));
    }
    let settled: Vec<_> = sim
        .calls()
        .into_iter()
        .filter(|e| matches!(e, OnSettled(_)))
        .collect();
    assert_eq!(
        settled,
        ids.iter().map(|i| OnSettled(*i)).collect::<Vec<_>>()
    );
}

/// "should resume paused mutations one after the other when in the same scope when invoked manually at the same time" (queryClient)
#[test]
fn should_resume_paused_mutations_one_after_the_other_when_in_the_same_scope() {
    let mut sim = MSim::new();
    sim.run(MutationInput::Online(false));
    let a = sim.mutate(scoped("scope"));
    let b = sim.mutate(scoped("scope"));
    sim.run(MutationInput::Online(true));
    assert_eq!((sim.executed(a), sim.executed(b)), (1, 0));
    sim.succeed(a, "a");
    assert_eq!(sim.executed(b), 1);
}

/// "should resume paused mutations in parallel" (queryClient)
#[test]
fn should_resume_paused_mutations_in_parallel() {
    let mut sim = MSim::new();
    sim.run(MutationInput::Online(false));
    let a = sim.mutate(MutationOptions::default());
    let b = sim.mutate(MutationOptions::default());
    sim.run(MutationInput::Online(true));
    assert_eq!((sim.executed(a), sim.executed(b)), (1, 1));
    let order: Vec<_> = sim
        .calls()
        .into_iter()
        .filter(|e| matches!(e, Execute(_)))
        .collect();
    assert_eq!(
        order,
        vec![Execute(a), Execute(b)],
        "in the order they were made"
    );
}

/// "should not retry if retry function `false`" (useMutation; differs by
/// design: a 4xx other than 408/429 is never retried, SPEC §3)
#[test]
fn should_not_retry_a_4xx_even_with_retries_set() {
    let mut sim = MSim::new();
    let id = sim.mutate(retrying(3, 10));
    sim.fail(id, http(422));
    assert_eq!(sim.state(id).status, MutationStatus::Error);
    assert_eq!(sim.executed(id), 1);
}
