//! A device's event store in memory, with the browser store's rules (the
//! same transitions, known versions and receive rule), so native tests and
//! the simulation drive the shipped [`SyncMachine`] against it.

use super::machine::{Input, Read, StoreOp};
use super::state::{Change, SyncKind, SyncState, Tracking};
use crate::api::PulledEvent;
use crate::event::{
    known_after_push, replay, CaseView, DomainEvent, EventData, EventHeader, LamportClock,
};
use std::collections::{BTreeMap, HashMap};

/// A new case's data, titled `title`.
pub fn new_case(title: &str) -> EventData {
    EventData::CaseCreated(crate::event::CaseFields {
        title: title.into(),
        description: String::new(),
        status: crate::api::CaseStatus::Open,
        priority: crate::api::Priority::Medium,
        assignee: None,
        tags: vec![],
        team: None,
    })
}

/// One device's store.
#[derive(Debug, Clone)]
pub struct MemStore {
    /// The device's node id.
    pub node: String,
    clock: LamportClock,
    /// Every event with its tracking, by id.
    pub events: BTreeMap<String, (DomainEvent, Tracking)>,
    known: HashMap<String, u64>,
    /// The pull cursor.
    pub cursor: i64,
    next_id: u64,
}

impl MemStore {
    /// An empty store for `node` (the id's first group is `tag`).
    pub fn new(node: &str) -> Self {
        MemStore {
            node: node.into(),
            clock: LamportClock::default(),
            events: BTreeMap::new(),
            known: HashMap::new(),
            cursor: 0,
            next_id: 0,
        }
    }

    fn new_id(&mut self) -> String {
        self.next_id += 1;
        let tag = self
            .node
            .bytes()
            .fold(7u32, |h, b| h.wrapping_mul(31) ^ u32::from(b));
        format!("{tag:08x}-0000-4000-8000-{:012x}", self.next_id)
    }

    /// Appends an event (as the browser store's append does).
    pub fn append(
        &mut self,
        case: &str,
        data: &EventData,
        caused_by: Option<String>,
        now: u64,
    ) -> DomainEvent {
        let header = EventHeader {
            id: self.new_id(),
            aggregate_id: case.into(),
            node_id: self.node.clone(),
            clock: self.clock.tick(),
            base_version: self.known.get(case).copied().unwrap_or(0),
            timestamp: now,
        };
        let mut event = DomainEvent::new(header, data);
        if caused_by.is_some() {
            event.causation_id = caused_by;
            event = event.seal();
        }
        self.events
            .insert(event.id.clone(), (event.clone(), Tracking::new()));
        event
    }

    /// Applies one commit, whole.
    pub fn commit(&mut self, ops: &[StoreOp], now: u64) -> Vec<DomainEvent> {
        let mut made = Vec::new();
        for op in ops {
            if let StoreOp::Append {
                case,
                data,
                caused_by,
            } = op
            {
                made.push(self.append(case, data, caused_by.clone(), now));
            } else if let StoreOp::Mark { id, change } = op {
                self.mark(id, change, now);
            }
        }
        made
    }

    fn mark(&mut self, id: &str, change: &Change, now: u64) {
        let Some((event, tracking)) = self.events.get_mut(id) else {
            return;
        };
        if !tracking.apply(change, now) {
            return;
        }
        if let Change::Synced(version) = change {
            let known = self.known.entry(event.aggregate_id.clone()).or_insert(0);
            *known = known_after_push(*known, *version);
        }
    }

    /// Stores a pulled page (the receive rule); returns the cases that got
    /// events new here.
    pub fn receive(&mut self, pulled: &[PulledEvent], next_cursor: i64) -> Vec<String> {
        let mut cases = Vec::new();
        for p in pulled {
            let e = &p.event;
            let version = p.version.max(0) as u64;
            self.clock.receive(e.clock);
            let known = self.known.entry(e.aggregate_id.clone()).or_insert(0);
            *known = (*known).max(version);
            match self.events.get_mut(&e.id) {
                Some((_, tracking)) => {
                    tracking.apply(&Change::Received(version), 0);
                }
                None => {
                    let synced = SyncState::Synced {
                        version: Some(version),
                    };
                    self.events
                        .insert(e.id.clone(), (e.clone(), Tracking::with(synced)));
                    if !cases.contains(&e.aggregate_id) {
                        cases.push(e.aggregate_id.clone());
                    }
                }
            }
        }
        self.cursor = next_cursor;
        cases
    }

    fn with(&self, kinds: &[SyncKind]) -> Vec<DomainEvent> {
        let mut out: Vec<DomainEvent> = self
            .events
            .values()
            .filter(|(_, t)| kinds.contains(&t.state.kind()))
            .map(|(e, _)| e.clone())
            .collect();
        out.sort_by_key(DomainEvent::stamp);
        out
    }

    fn count(&self, kinds: &[SyncKind]) -> usize {
        self.events
            .values()
            .filter(|(_, t)| kinds.contains(&t.state.kind()))
            .count()
    }

    /// Answers a read.
    pub fn read(&self, read: &Read) -> Input {
        let elsewhere = || self.with(&[SyncKind::Queued, SyncKind::Dead]);
        match read {
            Read::Pending => Input::Pending {
                unsynced: self.with(&[SyncKind::Pending]),
                elsewhere: elsewhere(),
            },
            Read::Events(ids) => Input::Events {
                events: ids
                    .iter()
                    .filter_map(|id| self.events.get(id).map(|(e, _)| e.clone()))
                    .collect(),
                elsewhere: elsewhere(),
            },
            Read::Queued => Input::Queued {
                queued: self
                    .events
                    .values()
                    .filter_map(|(e, t)| match &t.state {
                        SyncState::Queued { entry } => Some((e.id.clone(), entry.clone())),
                        _ => None,
                    })
                    .collect(),
                dead: self
                    .events
                    .values()
                    .filter(|(_, t)| matches!(t.state, SyncState::Dead(_)))
                    .map(|(e, _)| e.id.clone())
                    .collect(),
            },
            Read::Counts => Input::Counts {
                pending: self.count(&[SyncKind::Pending]),
                waiting: self.count(&SyncKind::WAITING),
                attention: self.count(&SyncKind::ATTENTION),
            },
        }
    }

    /// The state of one event.
    pub fn state(&self, id: &str) -> Option<&SyncState> {
        self.events.get(id).map(|(_, t)| &t.state)
    }

    /// Every case as this device shows it: its live events folded in stamp
    /// order.
    pub fn view(&self) -> BTreeMap<String, CaseView> {
        let mut by_case: BTreeMap<String, Vec<DomainEvent>> = BTreeMap::new();
        for (e, t) in self.events.values() {
            if t.state.kind().is_live() {
                // As the browser store folds: a synced event at the
                // version the server gave it.
                let mut e = e.clone();
                if let SyncState::Synced { version: Some(v) } = t.state {
                    e.version = v;
                }
                by_case.entry(e.aggregate_id.clone()).or_default().push(e);
            }
        }
        by_case
            .into_iter()
            .filter_map(|(k, events)| replay(&events).map(|v| (k, v)))
            .collect()
    }

    /// The cases this device knows.
    pub fn cases(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .events
            .values()
            .map(|(e, _)| e.aggregate_id.clone())
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }
}
