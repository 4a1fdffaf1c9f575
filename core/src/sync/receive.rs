//! What a pulled page changes in a device's store. The driver reads what
//! the page touches (each event's stored record, each case's known version
//! and snapshot) in one go, [`merge`] decides, and the driver writes the
//! decisions in the page's transaction.

use super::{Change, SyncState, Tracking};
use crate::event::Stamp;

/// What the device holds of one case the page touches.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CaseHeld {
    /// The highest server version stored for it (0: none).
    pub version: u64,
    /// Where its snapshot reaches, if it has one.
    pub snapshot_upto: Option<Stamp>,
}

/// One verified event of the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageEvent {
    /// Its case, as an index into the page's [`CaseHeld`] list.
    pub case: usize,
    /// Its stamp.
    pub stamp: Stamp,
    /// The version the server gave it.
    pub version: u64,
    /// Its tracking, when the device stores it already (its own event whose
    /// push answer was lost, or one pulled before).
    pub stored: Option<Tracking>,
}

/// What becomes of one event of the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// Stored already, and nothing changes.
    Skip,
    /// Stored already: its tracking becomes this.
    Update(Tracking),
    /// New to this device: stored with this tracking.
    Add(Tracking),
}

/// The page's decisions.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Merge {
    /// One per event, in page order.
    pub writes: Vec<Write>,
    /// Cases whose snapshot reaches past an event new here: it no longer
    /// holds, and goes (each case once).
    pub drop_snapshots: Vec<usize>,
    /// Cases whose stored version rises, with the new version.
    pub versions: Vec<(usize, u64)>,
    /// Cases that got events new to this device, first seen first.
    pub new_cases: Vec<usize>,
    /// How many events were new here.
    pub added: usize,
}

/// Decides what the page changes: a stored event hears that the server has
/// it (at its version); a new one is stored as synced, and a snapshot of its
/// case that reaches past it no longer holds; each case's known version
/// rises to the highest the page brought.
pub fn merge(held: &[CaseHeld], events: &[PageEvent]) -> Merge {
    let mut out = Merge::default();
    let mut top: Vec<u64> = held.iter().map(|h| h.version).collect();
    let mut upto: Vec<Option<&Stamp>> = held.iter().map(|h| h.snapshot_upto.as_ref()).collect();
    let mut new_here = vec![false; held.len()];
    for e in events {
        top[e.case] = top[e.case].max(e.version);
        let write = match &e.stored {
            Some(tracking) => {
                let mut tracking = tracking.clone();
                if tracking.apply(&Change::Received(e.version), 0) {
                    Write::Update(tracking)
                } else {
                    Write::Skip
                }
            }
            None => {
                out.added += 1;
                if !std::mem::replace(&mut new_here[e.case], true) {
                    out.new_cases.push(e.case);
                }
                if upto[e.case].is_some_and(|u| e.stamp <= *u) {
                    upto[e.case] = None;
                    out.drop_snapshots.push(e.case);
                }
                Write::Add(Tracking::with(SyncState::Synced {
                    version: Some(e.version),
                }))
            }
        };
        out.writes.push(write);
    }
    out.versions = top
        .into_iter()
        .enumerate()
        .filter(|(i, v)| *v > held[*i].version)
        .collect();
    out
}

/// The pull cursor a received page leaves: the page's end (`to`), unless
/// the stored cursor went back below where the page's pull started
/// (`from`) while it was under way. A damaged record set aside rewinds the
/// cursor so that the next pull fetches the server's copy again; a page
/// that was already in flight must not undo that.
pub fn cursor_after(stored: i64, from: i64, to: i64) -> i64 {
    if stored < from {
        stored
    } else {
        to
    }
}

/// The cursors (the pull's, the access one) the next page of a pull starts
/// from, once `page` is stored: what may be asked for ahead while it is
/// (`Io::Pull::ahead`). `None` when there is no next page. The store's
/// cursors land there unless a rewind moved them meanwhile
/// ([`cursor_after`]); then the next pull asks for another page, and the
/// one asked for ahead is dropped.
pub fn next_page(page: &crate::api::PullResponse) -> Option<(i64, i64)> {
    page.has_more
        .then_some((page.next_cursor, page.access_cursor))
}

/// Whether a pulled event may be in the store already, so that its record
/// must be read before the page is merged: this device's own events (sent,
/// and the answer perhaps lost), and any event at or below the highest seq
/// the store ever received (`received_upto`: a page pulled again after a
/// rewind, a case's history fetched for a grant). Any other event is new,
/// and a new device's catch-up skips tens of thousands of reads. `None` for
/// either: a store that does not know (its own node id, or a log from
/// before the mark was kept), which reads every event.
pub fn may_be_stored(
    seq: i64,
    node: &str,
    own_node: Option<&str>,
    received_upto: Option<i64>,
) -> bool {
    match (own_node, received_upto) {
        (Some(own), Some(upto)) => node == own || seq <= upto,
        _ => true,
    }
}

/// Which of a page's `cases` the device may hold something of (a known
/// version, a snapshot), so that it must read them: all but those whose
/// creation is in the page and new here (not [`may_be_stored`]). A case's
/// creation is its first event in the log, so a device that never received
/// it received no event of the case. It may have written some (the case
/// page edits a case the server showed before the device's copy has it),
/// but those set no version (`crate::event::known_after_push` moves a
/// version from 0 only for the device's own creation) and no snapshot (one
/// needs settled events, which come from the server). Each page event is
/// `(its case, whether it is the creation, may_be_stored)`.
pub fn cases_to_read(cases: usize, page: &[(usize, bool, bool)]) -> Vec<bool> {
    let mut read = vec![true; cases];
    for &(case, creation, maybe) in page {
        if creation && !maybe {
            read[case] = false;
        }
    }
    read
}

/// Which of a page's `cases` need their known version read: those with an
/// event that [`may_be_stored`]. A case whose page events are all new here
/// gets the highest version among them, whatever the device knew: a known
/// version only ever comes from events the device holds (pulled, or its
/// own push answered without a gap, `crate::event::known_after_push`), and
/// every one of those is below the new events (it was pulled at a lower
/// seq, which `may_be_stored` would flag, or it is the device's own).
/// On a new device's catch-up no case is read. Each page event is `(its
/// case, whether it is the creation, may_be_stored)`, as for
/// [`cases_to_read`], which says which may hold a snapshot.
pub fn versions_to_read(cases: usize, page: &[(usize, bool, bool)]) -> Vec<bool> {
    let mut read = vec![false; cases];
    for &(case, _, maybe) in page {
        read[case] |= maybe;
    }
    read
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(clock: u64) -> Stamp {
        Stamp {
            clock,
            node_id: "server-device".into(),
        }
    }

    fn new_event(case: usize, clock: u64, version: u64) -> PageEvent {
        PageEvent {
            case,
            stamp: stamp(clock),
            version,
            stored: None,
        }
    }

    #[test]
    fn the_next_page_starts_where_this_page_leaves_both_cursors() {
        let page = |has_more| crate::api::PullResponse {
            events: Vec::new(),
            next_cursor: 1_000,
            has_more,
            granted: Vec::new(),
            revoked: Vec::new(),
            access_cursor: 7,
            log_end: 2_000,
        };
        assert_eq!(next_page(&page(true)), Some((1_000, 7)));
        assert_eq!(next_page(&page(false)), None, "the log's end: nothing more");
        // What the store holds after the page, without a rewind.
        assert_eq!(cursor_after(0, 0, 1_000), 1_000);
    }

    #[test]
    fn new_events_are_stored_synced_and_their_cases_listed_once_in_order() {
        let held = [CaseHeld::default(), CaseHeld::default()];
        let m = merge(
            &held,
            &[new_event(1, 1, 1), new_event(0, 2, 1), new_event(1, 3, 2)],
        );
        assert_eq!(m.added, 3);
        assert_eq!(m.new_cases, vec![1, 0]);
        assert_eq!(
            m.writes[2],
            Write::Add(Tracking::with(SyncState::Synced { version: Some(2) }))
        );
        assert_eq!(m.versions, vec![(0, 1), (1, 2)]);
        assert!(m.drop_snapshots.is_empty());
    }

    #[test]
    fn a_snapshot_past_a_new_event_goes_once_and_one_before_it_stays() {
        let held = [
            CaseHeld {
                version: 5,
                snapshot_upto: Some(stamp(10)),
            },
            CaseHeld {
                version: 5,
                snapshot_upto: Some(stamp(10)),
            },
        ];
        // Case 0: a late event from before its snapshot, twice. Case 1:
        // an event after its snapshot.
        let m = merge(
            &held,
            &[new_event(0, 4, 6), new_event(0, 7, 7), new_event(1, 11, 6)],
        );
        assert_eq!(m.drop_snapshots, vec![0]);
        assert_eq!(m.versions, vec![(0, 7), (1, 6)]);
    }

    #[test]
    fn a_stored_event_hears_the_server_has_it_and_a_second_pull_changes_nothing() {
        let held = [CaseHeld {
            version: 3,
            snapshot_upto: Some(stamp(1)),
        }];
        let mine = PageEvent {
            stored: Some(Tracking::with(SyncState::Pending)),
            ..new_event(0, 1, 2)
        };
        let m = merge(&held, std::slice::from_ref(&mine));
        let Write::Update(tracking) = &m.writes[0] else {
            panic!("{:?}", m.writes);
        };
        assert_eq!(tracking.state, SyncState::Synced { version: Some(2) });
        // Not new here: no count, no case, no snapshot dropped, no version
        // lowered.
        assert_eq!((m.added, m.new_cases.len()), (0, 0));
        assert!(m.drop_snapshots.is_empty() && m.versions.is_empty());
        let again = PageEvent {
            stored: Some(tracking.clone()),
            ..mine
        };
        assert_eq!(merge(&held, &[again]).writes, vec![Write::Skip]);
    }

    #[test]
    fn a_page_in_flight_does_not_undo_a_rewind() {
        // A pull from 40 answers up to 90; meanwhile a damaged record
        // rewound the cursor to 0: the next pull must start from 0.
        assert_eq!(cursor_after(0, 40, 90), 0);
        // Nothing happened meanwhile: the cursor moves to the page's end.
        assert_eq!(cursor_after(40, 40, 90), 90);
        // A first pull (from 0) moves it too.
        assert_eq!(cursor_after(0, 0, 90), 90);
    }

    #[test]
    fn only_own_events_and_those_below_the_mark_are_read_first() {
        let mine = Some("me");
        assert!(
            !may_be_stored(101, "other", mine, Some(100)),
            "past the mark, not mine: new"
        );
        assert!(
            may_be_stored(101, "me", mine, Some(100)),
            "mine: its answer may have been lost"
        );
        assert!(
            may_be_stored(100, "other", mine, Some(100)),
            "at the mark: received before"
        );
        assert!(
            may_be_stored(7, "other", mine, Some(100)),
            "pulled again after a rewind"
        );
        assert!(
            may_be_stored(101, "other", mine, None),
            "a log that does not know its mark"
        );
        assert!(
            may_be_stored(101, "other", None, Some(100)),
            "a store that does not know its node"
        );
    }

    #[test]
    fn a_case_created_in_the_page_and_new_here_is_not_read() {
        // Case 0: created in the page, new. Case 1: only an update. Case 2:
        // created, but it may be stored (this device's own, or pulled again).
        let page = [
            (0, true, false),
            (0, false, false),
            (1, false, false),
            (2, true, true),
        ];
        assert_eq!(cases_to_read(3, &page), vec![false, true, true]);
    }

    #[test]
    fn only_a_case_with_an_event_that_may_be_stored_has_its_version_read() {
        // Case 0: new events only. Case 1: one of its events may be stored.
        let page = [(0, false, false), (1, false, false), (1, false, true)];
        assert_eq!(versions_to_read(2, &page), vec![false, true]);
        // Without reading, the highest new version is the one kept: the
        // device knew a lower one, or none.
        let events: Vec<PageEvent> = [3, 4]
            .into_iter()
            .map(|v| PageEvent {
                case: 0,
                stamp: stamp(v),
                version: v,
                stored: None,
            })
            .collect();
        let unread = merge(&[CaseHeld::default()], &events);
        let read = merge(
            &[CaseHeld {
                version: 2,
                snapshot_upto: None,
            }],
            &events,
        );
        assert_eq!(unread.versions, vec![(0, 4)]);
        assert_eq!(unread.versions, read.versions);
    }
}
