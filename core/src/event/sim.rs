//! A simulation of several devices and the server, on core's own rules, with
//! lost requests, responses lost after the server committed, and offline
//! periods. After a random schedule everything syncs; then SPEC §8 must hold:
//! no write lost (each is on the server exactly once, or listed as overruled
//! or refused on its device), none applied twice, and every device's view
//! equal to the server's.

use super::*;
use crate::api::{CaseStatus, Priority, PushResponse, PushResult, PushStatus};
use proptest::prelude::*;
use std::collections::{BTreeMap, HashMap, HashSet};

/// The server model: the same rule (`judge`) and projection (`apply`, in
/// commit order) as the real server.
#[derive(Default)]
struct Server {
    /// Duplicate and conflict answers given, to show the schedule did bite.
    duplicates: usize,
    conflicts: usize,
    log: Vec<(u64, DomainEvent)>,
    ids: HashMap<String, u64>,
    versions: HashMap<String, u64>,
    applied: HashMap<String, Vec<(u64, Applied)>>,
}

impl Server {
    fn push(&mut self, batch: &[DomainEvent]) -> PushResponse {
        let results = batch
            .iter()
            .map(|e| {
                let data = e.validate().expect("the simulation makes valid events");
                let r = |status, version: Option<u64>| {
                    PushResult::new(&e.id, status, version.map(|v| v as i64))
                };
                if let Some(v) = self.ids.get(&e.id) {
                    self.duplicates += 1;
                    return r(PushStatus::Duplicate, Some(*v));
                }
                let current = self.versions.get(&e.aggregate_id).copied();
                let since: Vec<Applied> = self
                    .applied
                    .get(&e.aggregate_id)
                    .map(|v| {
                        v.iter()
                            .filter(|(ver, _)| *ver > e.base_version)
                            .map(|(_, a)| a.clone())
                            .collect()
                    })
                    .unwrap_or_default();
                match judge(e, &data, current, &since) {
                    Verdict::Refuse(m) => PushResult {
                        message: Some(m),
                        ..r(PushStatus::Invalid, None)
                    },
                    Verdict::Missing { code, reason } => PushResult {
                        message: Some(reason),
                        code: Some(code),
                        ..r(PushStatus::Invalid, None)
                    },
                    Verdict::Conflict { with, current } => {
                        self.conflicts += 1;
                        PushResult {
                            conflicts_with: with,
                            ..r(PushStatus::Conflict, Some(current))
                        }
                    }
                    Verdict::Apply { version } => {
                        let mut stored = e.clone();
                        stored.version = version;
                        self.versions.insert(e.aggregate_id.clone(), version);
                        self.ids.insert(e.id.clone(), version);
                        self.applied
                            .entry(e.aggregate_id.clone())
                            .or_default()
                            .push((
                                version,
                                Applied {
                                    id: e.id.clone(),
                                    node_id: e.node_id.clone(),
                                    fields: data.fields().into_iter().map(str::to_string).collect(),
                                },
                            ));
                        self.log.push((self.log.len() as u64 + 1, stored));
                        r(PushStatus::Applied, Some(version))
                    }
                }
            })
            .collect();
        PushResponse {
            results,
            cursor: self.log.len() as i64,
        }
    }

    /// The projection as the real server keeps it: each case's events folded
    /// in stamp order, like every device.
    fn projection(&self) -> BTreeMap<String, CaseView> {
        let mut by_case: BTreeMap<String, Vec<DomainEvent>> = BTreeMap::new();
        for (_, e) in &self.log {
            by_case
                .entry(e.aggregate_id.clone())
                .or_default()
                .push(e.clone());
        }
        by_case
            .into_iter()
            .filter_map(|(k, events)| replay(&events).map(|v| (k, v)))
            .collect()
    }

    /// Two devices' changes to one field that the server committed in one
    /// order and that sort in the other: the later-committed change was made
    /// without seeing the earlier one, yet raised no conflict, so it lands
    /// underneath and its author's change silently loses.
    fn misordered(&self) -> Option<(String, String)> {
        for (i, (_, a)) in self.log.iter().enumerate() {
            for (_, b) in &self.log[i + 1..] {
                let fa = a.typed_data().unwrap().fields();
                let fb = b.typed_data().unwrap().fields();
                if a.aggregate_id == b.aggregate_id
                    && a.node_id != b.node_id
                    && fa.intersection(&fb).next().is_some()
                    && b.stamp() < a.stamp()
                {
                    return Some((a.id.clone(), b.id.clone()));
                }
            }
        }
        None
    }
}

/// One device.
struct Client {
    node: String,
    clock: LamportClock,
    online: bool,
    /// Unsynced local events, in stamp order.
    pending: Vec<DomainEvent>,
    /// Events pulled from the server (with the server's versions).
    known: Vec<DomainEvent>,
    cursor: usize,
    /// The server version each case had when this device last heard.
    versions: HashMap<String, u64>,
    in_flight: Option<Vec<DomainEvent>>,
    /// Every event this device made.
    made: Vec<String>,
    /// Events settled away by a conflict (overruled or replaced by a rebase).
    overruled: HashSet<String>,
    /// Events the server refused.
    refused: HashSet<String>,
    next_id: u64,
}

impl Client {
    fn new(i: usize) -> Self {
        Client {
            node: format!("device-{i}"),
            clock: LamportClock::default(),
            online: true,
            pending: vec![],
            known: vec![],
            cursor: 0,
            versions: HashMap::new(),
            in_flight: None,
            made: vec![],
            overruled: HashSet::new(),
            refused: HashSet::new(),
            next_id: 0,
        }
    }

    fn make(&mut self, case: &str, data: EventData, now: u64) {
        self.next_id += 1;
        let id = format!(
            "{:08x}-0000-4000-8000-{:012x}",
            self.node.len() * 1000 + self.node.bytes().map(usize::from).sum::<usize>(),
            self.next_id
        );
        let header = EventHeader {
            id: id.clone(),
            aggregate_id: case.to_string(),
            node_id: self.node.clone(),
            clock: self.clock.tick(),
            base_version: self.versions.get(case).copied().unwrap_or(0),
            timestamp: now,
        };
        self.made.push(id);
        self.pending.push(DomainEvent::new(header, &data));
    }

    fn cases(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .known
            .iter()
            .chain(&self.pending)
            .map(|e| e.aggregate_id.clone())
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }

    fn pull(&mut self, server: &Server) {
        for (_, e) in &server.log[self.cursor..] {
            self.clock.receive(e.clock);
            let v = self.versions.entry(e.aggregate_id.clone()).or_insert(0);
            *v = (*v).max(e.version);
            self.known.push(e.clone());
        }
        self.cursor = server.log.len();
    }

    fn handle(&mut self, sent: &[DomainEvent], response: &PushResponse, server: &Server, now: u64) {
        let refs: Vec<&DomainEvent> = sent.iter().collect();
        for action in read_response(&refs, response) {
            match action {
                LocalAction::MarkSynced { id, version } => {
                    if let Some(e) = self.pending.iter().find(|e| e.id == id) {
                        let known = self.versions.entry(e.aggregate_id.clone()).or_insert(0);
                        *known = known_after_push(*known, version as u64);
                    }
                    self.pending.retain(|e| e.id != id);
                }
                LocalAction::Reject { id, .. } => {
                    self.pending.retain(|e| e.id != id);
                    self.refused.insert(id);
                }
                LocalAction::Retry { .. } | LocalAction::Wait { .. } => {}
                LocalAction::Conflict {
                    id,
                    theirs,
                    version,
                } => {
                    self.pull(server);
                    let Some(mine) = self.pending.iter().find(|e| e.id == id).cloned() else {
                        continue;
                    };
                    self.pending.retain(|e| e.id != id);
                    self.overruled.insert(id);
                    if let Some(v) = version {
                        self.versions.insert(mine.aggregate_id.clone(), v as u64);
                    }
                    let latest = self
                        .known
                        .iter()
                        .filter(|e| theirs.contains(&e.id))
                        .max_by_key(|e| e.stamp())
                        .cloned()
                        .expect("the colliding events were pulled");
                    if let Resolution::Rebase(patch) = settle(ConflictPolicy::Merge, &mine, &latest)
                    {
                        if !patch.fields().is_empty() {
                            self.make(&mine.aggregate_id, EventData::CaseUpdated(patch), now);
                        }
                    }
                }
            }
        }
    }

    fn view(&self) -> BTreeMap<String, CaseView> {
        let mut by_case: BTreeMap<String, Vec<DomainEvent>> = BTreeMap::new();
        for e in self.known.iter().chain(&self.pending) {
            by_case
                .entry(e.aggregate_id.clone())
                .or_default()
                .push(e.clone());
        }
        by_case
            .into_iter()
            .filter_map(|(k, events)| replay(&events).map(|v| (k, v)))
            .collect()
    }
}

/// One step of the schedule.
#[derive(Debug, Clone)]
enum Step {
    Create(usize),
    Edit {
        client: usize,
        case: usize,
        field: u8,
        value: u8,
    },
    Send(usize),
    Deliver {
        client: usize,
        lose_request: bool,
        lose_response: bool,
    },
    Pull(usize),
    Toggle(usize),
}

const CLIENTS: usize = 3;

fn step() -> impl Strategy<Value = Step> {
    let c = 0..CLIENTS;
    prop_oneof![
        1 => c.clone().prop_map(Step::Create),
        6 => (c.clone(), 0..8usize, 0..4u8, 0..3u8).prop_map(|(client, case, field, value)| Step::Edit { client, case, field, value }),
        3 => c.clone().prop_map(Step::Send),
        3 => (c.clone(), prop::bool::weighted(0.15), prop::bool::weighted(0.2)).prop_map(|(client, lose_request, lose_response)| Step::Deliver { client, lose_request, lose_response }),
        2 => c.clone().prop_map(Step::Pull),
        1 => c.prop_map(Step::Toggle),
    ]
}

fn patch_for(field: u8, value: u8) -> CasePatch {
    let v = value as usize;
    match field {
        0 => CasePatch {
            title: Some(format!("Title {v}")),
            ..Default::default()
        },
        1 => CasePatch {
            status: Some(CaseStatus::ALL[v % 3]),
            ..Default::default()
        },
        2 => CasePatch {
            priority: Some(Priority::ALL[v % 4]),
            ..Default::default()
        },
        _ => CasePatch {
            assignee: Some(Some(format!("Worker {v}"))),
            ..Default::default()
        },
    }
}

/// What a run went through.
#[derive(Debug, Default)]
struct Stats {
    events: usize,
    duplicates: usize,
    conflicts: usize,
    overruled: usize,
}

fn run(steps: &[Step]) -> Result<Stats, TestCaseError> {
    let mut server = Server::default();
    let mut clients: Vec<Client> = (0..CLIENTS).map(Client::new).collect();
    let mut now = 1_790_000_000_000u64;
    let mut cases_made = 0u64;
    let deliver =
        |c: &mut Client, server: &mut Server, lose_request: bool, lose_response: bool, now: u64| {
            let Some(batch) = c.in_flight.take() else {
                return;
            };
            if lose_request {
                return;
            }
            let response = server.push(&batch);
            if !lose_response {
                c.handle(&batch, &response, server, now);
            }
        };
    for s in steps {
        now += 1_000;
        match s.clone() {
            Step::Create(i) => {
                cases_made += 1;
                let id = format!("c0000000-0000-4000-8000-{cases_made:012x}");
                let fields = CaseFields {
                    title: format!("Case {cases_made}"),
                    description: String::new(),
                    status: CaseStatus::Open,
                    priority: Priority::Medium,
                    assignee: None,
                    tags: vec![],
                    team: None,
                };
                clients[i].make(&id, EventData::CaseCreated(fields), now);
            }
            Step::Edit {
                client,
                case,
                field,
                value,
            } => {
                let cases = clients[client].cases();
                if let Some(id) = cases.get(case % cases.len().max(1)) {
                    clients[client].make(id, EventData::CaseUpdated(patch_for(field, value)), now);
                }
            }
            Step::Send(i) => {
                let c = &mut clients[i];
                if c.online && c.in_flight.is_none() && !c.pending.is_empty() {
                    c.in_flight = Some(
                        next_batch_within(&c.pending, 4, MAX_BATCH_BYTES)
                            .into_iter()
                            .cloned()
                            .collect(),
                    );
                }
            }
            Step::Deliver {
                client,
                lose_request,
                lose_response,
            } => deliver(
                &mut clients[client],
                &mut server,
                lose_request,
                lose_response,
                now,
            ),
            Step::Pull(i) => {
                if clients[i].online {
                    clients[i].pull(&server);
                }
            }
            Step::Toggle(i) => clients[i].online = !clients[i].online,
        }
    }
    // Quiescence: everyone online, everything pushed and pulled.
    for _ in 0..200 {
        let mut busy = false;
        for c in clients.iter_mut() {
            c.online = true;
            deliver(c, &mut server, false, false, now);
            if !c.pending.is_empty() {
                busy = true;
                c.in_flight = Some(next_batch(&c.pending).into_iter().cloned().collect());
                deliver(c, &mut server, false, false, now);
            }
            c.pull(&server);
        }
        if !busy {
            break;
        }
    }
    for c in clients.iter_mut() {
        c.pull(&server);
    }
    for c in &clients {
        prop_assert!(c.pending.is_empty(), "{} still has unsynced events", c.node);
    }
    // No duplicate on the server.
    let mut seen = HashSet::new();
    for (_, e) in &server.log {
        prop_assert!(seen.insert(e.id.clone()), "{} applied twice", e.id);
    }
    // No write lost: on the server, or visibly overruled or refused.
    for c in &clients {
        for id in &c.made {
            let on_server = server.ids.contains_key(id);
            let settled = c.overruled.contains(id) || c.refused.contains(id);
            prop_assert!(on_server || settled, "{id} of {} is lost", c.node);
            prop_assert!(
                !(on_server && c.refused.contains(id)),
                "{id} refused yet applied"
            );
        }
    }
    // No change slipped underneath another device's without a conflict.
    prop_assert_eq!(server.misordered(), None, "committed after, sorted before");
    // Convergence: every device sees what the server has.
    let truth = server.projection();
    for c in &clients {
        prop_assert_eq!(&c.view(), &truth, "{} diverged", c.node);
    }
    Ok(Stats {
        events: server.log.len(),
        duplicates: server.duplicates,
        conflicts: server.conflicts,
        overruled: clients.iter().map(|c| c.overruled.len()).sum(),
    })
}

/// An edit of the first case's `field` on `client`.
fn edit(client: usize, field: u8, value: u8) -> Step {
    Step::Edit {
        client,
        case: 0,
        field,
        value,
    }
}

/// `client`'s batch reaches the server and the answer comes back.
fn ok(client: usize) -> Step {
    Step::Deliver {
        client,
        lose_request: false,
        lose_response: false,
    }
}

#[test]
fn a_lost_response_and_a_concurrent_edit_settle_without_loss() {
    use Step::*;
    let title = |client, value| edit(client, 0, value);
    let steps = [
        Create(0),
        Send(0),
        ok(0),
        Pull(1),
        Pull(2),
        title(1, 1),
        title(2, 2),
        Edit {
            client: 2,
            case: 0,
            field: 1,
            value: 2,
        },
        // Device 1's title reaches the server, but the answer is lost.
        Send(1),
        Deliver {
            client: 1,
            lose_request: false,
            lose_response: true,
        },
        // Device 2's title collides with it; its status change merges.
        Send(2),
        ok(2),
        // Device 1 pushes again: a duplicate, applied once.
        Send(1),
        ok(1),
        Toggle(0),
        title(0, 0),
        Send(0),
        Deliver {
            client: 0,
            lose_request: true,
            lose_response: false,
        },
    ];
    let stats = run(&steps).expect("invariants hold");
    assert!(stats.duplicates >= 1, "{stats:?}");
    assert!(stats.conflicts >= 1, "{stats:?}");
    assert!(stats.overruled >= 1, "{stats:?}");
}

/// Random schedules must meet real trouble, not only easy paths: this
/// guards the generator against going soft. A fixed seed keeps it
/// deterministic.
#[test]
fn random_schedules_exercise_duplicates_and_conflicts() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let schedules = prop::collection::vec(step(), 60..120);
    let mut total = Stats::default();
    for _ in 0..50 {
        let steps = schedules.new_tree(&mut runner).unwrap().current();
        let s = run(&steps).expect("invariants hold");
        total.events += s.events;
        total.duplicates += s.duplicates;
        total.conflicts += s.conflicts;
        total.overruled += s.overruled;
    }
    eprintln!("50 schedules: {total:?}");
    assert!(total.events > 500, "{total:?}");
    assert!(total.duplicates > 5, "{total:?}");
    assert!(total.conflicts > 5, "{total:?}");
    assert!(total.overruled > 5, "{total:?}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn after_quiescence_nothing_is_lost_or_doubled_and_everyone_agrees(
        steps in prop::collection::vec(step(), 1..120)
    ) {
        run(&steps)?;
    }
}

/// Soak seed 13: a push answer reports a version past changes this device
/// has not pulled. Its next change must not claim to be based on them (its
/// clock is behind theirs), or the server applies it on top while devices,
/// replaying in stamp order, put it underneath.
#[test]
fn a_push_answer_does_not_let_a_device_skip_changes_it_has_not_seen() {
    use Step::*;
    let steps = [
        Create(0),
        Send(0),
        ok(0),
        Pull(0),
        Pull(1),
        // Device 1 runs its clock ahead and sets the priority.
        edit(1, 3, 1),
        edit(1, 3, 2),
        edit(1, 2, 0),
        Send(1),
        ok(1),
        // Device 0, behind, changes a disjoint field: applied on top.
        edit(0, 0, 1),
        Send(0),
        ok(0),
        // Then the priority, based on what the answer said.
        edit(0, 2, 3),
        Send(0),
        ok(0),
    ];
    run(&steps).expect("invariants hold");
}
