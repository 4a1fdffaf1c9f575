//! Access changes in the pull (SPEC §10): the server tells a device which
//! cases its user was `granted` and which were `revoked` since the device's
//! access cursor; this is what the device does about it.
//!
//! - A granted case is **backfilled**: its events from the first, since
//!   the pull only ever brought events of cases the user could read then.
//!   The backfill is fetched and stored *before* the page that moves the
//!   access cursor past the grant: a backfill that fails (or a tab closed
//!   halfway) leaves the grant in the next pull, never lost.
//! - A revoked case is **purged**: every event of it the server has, its
//!   snapshot and known version, its queries and the worker's cached
//!   answers. What the person wrote on it that is not on the server stays,
//!   **refused** with [`NO_ACCESS`], readable and copyable in the Sync
//!   center: never silently dropped.
//!
//! The event store applies [`purge`] in the same transaction that stores
//! the page and moves both cursors, so a crash never leaves a revoked case
//! half gone nor a cursor past a revocation not carried out.

use super::state::{Change, SyncKind};

/// Why an unsent change of a revoked case is refused.
pub const NO_ACCESS: &str = "you no longer have access to this case";

/// Most granted cases one backfill request names.
pub const BACKFILL_CASES: usize = 50;

/// The access part of a pulled page, made consistent: sorted, each case
/// once, and a case in both lists counted as revoked (keeping what may not
/// be read is the worse mistake).
pub fn normalize(granted: &[String], revoked: &[String]) -> (Vec<String>, Vec<String>) {
    let mut revoked = revoked.to_vec();
    revoked.sort();
    revoked.dedup();
    let mut granted: Vec<String> = granted
        .iter()
        .filter(|g| revoked.binary_search(g).is_err())
        .cloned()
        .collect();
    granted.sort();
    granted.dedup();
    (granted, revoked)
}

/// What purging one revoked case does to its stored events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Purge {
    /// Events to delete: what the server has (and nothing else).
    pub delete: Vec<String>,
    /// Events to keep and mark with this change: unsent work that can no
    /// longer go.
    pub refuse: Vec<(String, Change)>,
}

/// How to purge a case whose stored events are `events` (id and kind).
/// Events on the server go; events refused or overruled before stay as
/// they are (they were never on the server, and the person may still copy
/// them); events still on their way, or waiting for a decision, stay and
/// are refused with [`NO_ACCESS`].
pub fn purge<'a>(events: impl IntoIterator<Item = (&'a str, SyncKind)>) -> Purge {
    let mut out = Purge::default();
    for (id, kind) in events {
        match kind {
            SyncKind::Synced => out.delete.push(id.to_string()),
            SyncKind::Refused | SyncKind::Overruled => {}
            SyncKind::Pending | SyncKind::Queued | SyncKind::Dead | SyncKind::Parked => out
                .refuse
                .push((id.to_string(), Change::Refused(NO_ACCESS.to_string()))),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::{BTreeMap, BTreeSet};

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn a_case_both_granted_and_revoked_is_revoked() {
        let (g, r) = normalize(&s(&["b", "a", "c", "a"]), &s(&["c", "d", "d"]));
        assert_eq!(g, s(&["a", "b"]));
        assert_eq!(r, s(&["c", "d"]));
    }

    #[test]
    fn a_purge_deletes_what_the_server_has_and_refuses_what_it_never_got() {
        let p = purge([
            ("synced", SyncKind::Synced),
            ("pending", SyncKind::Pending),
            ("queued", SyncKind::Queued),
            ("dead", SyncKind::Dead),
            ("parked", SyncKind::Parked),
            ("refused", SyncKind::Refused),
            ("overruled", SyncKind::Overruled),
        ]);
        assert_eq!(p.delete, s(&["synced"]));
        let refused: Vec<&str> = p.refuse.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(refused, ["pending", "queued", "dead", "parked"]);
        assert!(p
            .refuse
            .iter()
            .all(|(_, c)| *c == Change::Refused(NO_ACCESS.into())));
    }

    #[test]
    fn every_unsent_state_ends_refused_and_kept() {
        for kind in SyncKind::ALL {
            let p = purge([("e", kind)]);
            let kept = p.delete.is_empty();
            assert_eq!(kept, kind != SyncKind::Synced, "{kind:?}");
            if let Some((_, change)) = p.refuse.first() {
                let state = crate::sync::Tracking::with(match kind {
                    SyncKind::Pending => crate::sync::SyncState::Pending,
                    SyncKind::Queued => crate::sync::SyncState::Queued { entry: "q".into() },
                    SyncKind::Dead => crate::sync::SyncState::Dead("x".into()),
                    _ => crate::sync::SyncState::Parked { theirs: vec![] },
                })
                .state
                .apply(change);
                assert_eq!(state.map(|s| s.kind()), Some(SyncKind::Refused));
            }
        }
    }

    // The simulation: a server with teams, members and cases that move,
    // recording per-user access rows in the same step as the change (as
    // `server/src/events.rs` and `server/src/auth.rs` do), and a device
    // that pulls pages of events and access rows and carries out
    // `normalize` and `purge`. Property: once quiet, the device holds
    // exactly the cases its user may read, equal to the server's.

    #[derive(Debug, Clone)]
    enum Step {
        /// An event on case n (if it exists).
        Write(usize),
        /// A new case in team t.
        Create(usize),
        /// Case n moves to team t.
        Move(usize, usize),
        /// The user joins (true) or leaves team t.
        Member(usize, bool),
        /// The device pulls one page.
        Pull,
        /// The device pulls one page and a backfill request fails.
        PullFailingBackfill,
        /// The device writes offline on case n (stays unsent).
        Offline(usize),
    }

    const TEAMS: usize = 3;

    #[derive(Default)]
    struct Server {
        /// Case → team.
        cases: Vec<usize>,
        /// (seq, case, event id).
        log: Vec<(u64, usize, String)>,
        /// The user's teams.
        teams: BTreeSet<usize>,
        /// (id, case): rows for this user.
        access: Vec<(u64, usize)>,
        next: u64,
    }

    impl Server {
        fn tick(&mut self) -> u64 {
            self.next += 1;
            self.next
        }
        fn readable(&self, case: usize) -> bool {
            self.teams.contains(&self.cases[case])
        }
        fn event(&mut self, case: usize) {
            let seq = self.tick();
            self.log.push((seq, case, format!("e{seq}")));
        }
        fn row(&mut self, case: usize) {
            let id = self.tick();
            self.access.push((id, case));
        }
        fn apply(&mut self, step: &Step) {
            match *step {
                Step::Write(n) if n < self.cases.len() => self.event(n),
                Step::Create(t) => {
                    self.cases.push(t % TEAMS);
                    self.event(self.cases.len() - 1);
                }
                Step::Move(n, t) if n < self.cases.len() => {
                    let (from, to) = (self.cases[n], t % TEAMS);
                    self.cases[n] = to;
                    self.event(n);
                    // Rows for the members of either team: here, the one
                    // user, when in one of them.
                    if from != to && (self.teams.contains(&from) || self.teams.contains(&to)) {
                        self.row(n);
                    }
                }
                Step::Member(t, join) => {
                    let t = t % TEAMS;
                    let changed = if join {
                        self.teams.insert(t)
                    } else {
                        self.teams.remove(&t)
                    };
                    if changed {
                        for n in 0..self.cases.len() {
                            if self.cases[n] == t {
                                self.row(n);
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        /// A pull page: events after `after` of readable cases, access rows
        /// after `access_after` classified by readability now.
        #[allow(clippy::type_complexity)]
        fn pull(
            &self,
            after: u64,
            access_after: u64,
            limit: usize,
        ) -> (Vec<(usize, String)>, u64, Vec<String>, Vec<String>, u64) {
            let events: Vec<&(u64, usize, String)> = self
                .log
                .iter()
                .filter(|(seq, c, _)| *seq > after && self.readable(*c))
                .take(limit)
                .collect();
            let cursor = if events.len() == limit {
                events.last().map_or(after, |e| e.0)
            } else {
                self.next
            };
            let rows: Vec<&(u64, usize)> = self
                .access
                .iter()
                .filter(|(id, _)| *id > access_after)
                .take(limit)
                .collect();
            let access_cursor = if rows.len() == limit {
                rows.last().map_or(access_after, |r| r.0)
            } else {
                self.next
            };
            let (mut granted, mut revoked) = (Vec::new(), Vec::new());
            for (_, c) in rows {
                if self.readable(*c) {
                    granted.push(c.to_string());
                } else {
                    revoked.push(c.to_string());
                }
            }
            (
                events.iter().map(|(_, c, id)| (*c, id.clone())).collect(),
                cursor,
                granted,
                revoked,
                access_cursor,
            )
        }
        fn backfill(&self, case: usize) -> Vec<(usize, String)> {
            if !self.readable(case) {
                return Vec::new();
            }
            let log = self.log.iter().filter(|(_, c, _)| *c == case);
            log.map(|(_, c, id)| (*c, id.clone())).collect()
        }
    }

    #[derive(Default)]
    struct Device {
        /// Event id → (case, kind).
        events: BTreeMap<String, (usize, SyncKind)>,
        cursor: u64,
        access_cursor: u64,
        offline: u64,
    }

    impl Device {
        fn store(&mut self, got: Vec<(usize, String)>) {
            for (c, id) in got {
                self.events.insert(id, (c, SyncKind::Synced));
            }
        }
        /// Returns whether more pages wait. With `fail_backfill`, the
        /// backfill of the last granted case fails (the driver then
        /// returns a failed pull, having stored the ones before).
        fn pull(&mut self, server: &Server, limit: usize, fail_backfill: bool) -> bool {
            let (events, cursor, granted, revoked, access_cursor) =
                server.pull(self.cursor, self.access_cursor, limit);
            let more = cursor < server.next || access_cursor < server.next;
            let (granted, revoked) = normalize(&granted, &revoked);
            // As `src/sync` does: granted cases are backfilled before the
            // page that moves the cursors past the grant is stored.
            for (i, case) in granted.iter().enumerate() {
                if fail_backfill && i + 1 == granted.len() {
                    return true;
                }
                let got = server.backfill(case.parse().unwrap());
                self.store(got);
            }
            self.store(events);
            for case in &revoked {
                let case: usize = case.parse().unwrap();
                let of: Vec<(String, SyncKind)> = self
                    .events
                    .iter()
                    .filter(|(_, (c, _))| *c == case)
                    .map(|(id, (_, k))| (id.clone(), *k))
                    .collect();
                let p = purge(of.iter().map(|(id, k)| (id.as_str(), *k)));
                for id in p.delete {
                    self.events.remove(&id);
                }
                for (id, _) in p.refuse {
                    self.events.get_mut(&id).unwrap().1 = SyncKind::Refused;
                }
            }
            self.cursor = cursor;
            self.access_cursor = access_cursor;
            more
        }
        fn held(&self) -> BTreeMap<usize, BTreeSet<String>> {
            let mut out: BTreeMap<usize, BTreeSet<String>> = BTreeMap::new();
            for (id, (c, k)) in &self.events {
                if *k == SyncKind::Synced {
                    out.entry(*c).or_default().insert(id.clone());
                }
            }
            out
        }
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            3 => (0..12usize).prop_map(Step::Write),
            2 => (0..TEAMS).prop_map(Step::Create),
            2 => (0..12usize, 0..TEAMS).prop_map(|(n, t)| Step::Move(n, t)),
            2 => (0..TEAMS, any::<bool>()).prop_map(|(t, j)| Step::Member(t, j)),
            3 => Just(Step::Pull),
            1 => Just(Step::PullFailingBackfill),
            1 => (0..12usize).prop_map(Step::Offline),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]
        #[test]
        fn after_any_grants_and_revokes_a_quiet_device_holds_exactly_what_it_may_read(
            steps in proptest::collection::vec(step(), 0..60),
            limit in 1usize..6,
        ) {
            let mut server = Server::default();
            server.teams.insert(0);
            let mut device = Device::default();
            for s in &steps {
                match s {
                    Step::Pull => {
                        device.pull(&server, limit, false);
                    }
                    Step::PullFailingBackfill => {
                        device.pull(&server, limit, true);
                    }
                    Step::Offline(n) if device.held().contains_key(n) => {
                        device.offline += 1;
                        device.events.insert(format!("mine{}", device.offline), (*n, SyncKind::Pending));
                    }
                    other => server.apply(other),
                }
            }
            // Quiet: pull until nothing more waits.
            let mut rounds = 0;
            while device.pull(&server, limit, false) {
                rounds += 1;
                prop_assert!(rounds < 10_000, "the pull never ends");
            }
            let mut want: BTreeMap<usize, BTreeSet<String>> = BTreeMap::new();
            for (_, c, id) in &server.log {
                if server.readable(*c) {
                    want.entry(*c).or_default().insert(id.clone());
                }
            }
            prop_assert_eq!(device.held(), want);
            // Unsent work is never dropped: on a readable case it waits, on
            // an unreadable one it is refused and kept.
            for i in 1..=device.offline {
                let id = format!("mine{i}");
                let (case, kind) = device.events.get(&id).copied().expect("kept");
                if !server.readable(case) {
                    prop_assert_eq!(kind, SyncKind::Refused, "{} on case {}", id, case);
                }
            }
        }
    }
}
