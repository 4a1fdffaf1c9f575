//! Lamport clocks and the total order of events.

use serde::{Deserialize, Serialize};
use std::cmp::Ordering;

/// The largest clock value an event may carry: 2^53 − 1, the largest integer
/// a JavaScript number (the page's IndexedDB records) holds exactly, and far
/// below `i64::MAX` (the database's column).
pub const MAX_CLOCK: u64 = (1 << 53) - 1;

/// How far above the highest clock the server has stored a new event's
/// clock may be. A device's clock moves one per local event and jumps to
/// what it receives, so an honest clock is never far ahead of the log; a
/// clock 2^53 − 1 from one device would pin every later event of every
/// device against the limit.
pub const MAX_CLOCK_LEAD: u64 = 1 << 32;

/// Whether a clock may be stored when the highest stored one is `highest`
/// (`Err`: why not).
pub fn clock_acceptable(clock: u64, highest: u64) -> Result<(), String> {
    if clock == 0 || clock > MAX_CLOCK {
        return Err(format!("clock must be 1–{MAX_CLOCK}, got {clock}"));
    }
    if clock > highest.saturating_add(MAX_CLOCK_LEAD) {
        return Err(format!(
            "clock {clock} is more than {MAX_CLOCK_LEAD} ahead of the log's {highest}"
        ));
    }
    Ok(())
}

/// How far ahead of the server's receiving time a device's wall clock may
/// put an event's time in the server's lists (ms).
pub const MAX_TIME_SKEW_MS: u64 = 5 * 60 * 1000;

/// An event's time as the server's projections use it: the device's time,
/// but never more than [`MAX_TIME_SKEW_MS`] after `received_at`, so a far
/// future time cannot pin a case at the top of every list. (The event keeps
/// the device's time, under its checksum.)
pub fn projected_time(timestamp: u64, received_at: u64) -> u64 {
    timestamp.min(received_at.saturating_add(MAX_TIME_SKEW_MS))
}

/// A Lamport clock: one per device, persisted with its events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LamportClock(u64);

impl LamportClock {
    /// A clock at `value` (as loaded from storage).
    pub fn at(value: u64) -> Self {
        LamportClock(value)
    }

    /// The current value.
    pub fn value(self) -> u64 {
        self.0
    }

    /// A local event: `clock = clock + 1`, returned as the event's stamp
    /// (held at [`MAX_CLOCK`], which the server refuses, rather than
    /// wrapping to a stamp that sorts first).
    pub fn tick(&mut self) -> u64 {
        self.0 = self.0.saturating_add(1).min(MAX_CLOCK);
        self.0
    }

    /// An event from elsewhere: `clock = max(local, remote) + 1`, checked:
    /// a remote clock beyond [`MAX_CLOCK`] counts as `MAX_CLOCK`.
    pub fn receive(&mut self, remote: u64) -> u64 {
        self.0 = self
            .0
            .max(remote.min(MAX_CLOCK))
            .saturating_add(1)
            .min(MAX_CLOCK);
        self.0
    }
}

/// Where an event sits in the total order: its Lamport clock, then the node
/// that made it.
///
/// Order: by `clock` first; equal clocks (concurrent events on different
/// nodes) are ordered by `node_id`, compared as bytes. Every replica sorts the
/// same events the same way, whatever order they arrived in, and no two
/// events of one node share a clock, so the order is total.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Stamp {
    /// Lamport clock value.
    pub clock: u64,
    /// The device that made the event.
    pub node_id: String,
}

impl Ord for Stamp {
    fn cmp(&self, other: &Self) -> Ordering {
        self.clock
            .cmp(&other.clock)
            .then_with(|| self.node_id.as_bytes().cmp(other.node_id.as_bytes()))
    }
}

impl PartialOrd for Stamp {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The positions of `items` in stamp order, by `stamp` (an event's
/// [`DomainEvent::stamp_key`](super::DomainEvent::stamp_key)); stable.
///
/// Every list the app puts in stamp order goes through this one sort of
/// `(clock, node, position)` keys, whatever its items are: the standard
/// library's sort is kilobytes of wasm for each item type and key function
/// it is used with, and the app sorted by stamp in six places (issue 18).
pub fn stamp_order<T>(items: &[T], stamp: impl Fn(&T) -> (u64, &str)) -> Vec<usize> {
    let mut keys: Vec<(u64, &str, usize)> = items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let (clock, node) = stamp(item);
            (clock, node, i)
        })
        .collect();
    // The positions make every key distinct: unstable is stable here.
    keys.sort_unstable();
    keys.into_iter().map(|(_, _, i)| i).collect()
}

/// `items` in stamp order ([`stamp_order`]).
pub fn in_stamp_order<T>(items: Vec<T>, stamp: impl Fn(&T) -> (u64, &str)) -> Vec<T> {
    let order = stamp_order(&items, stamp);
    let mut slots: Vec<Option<T>> = items.into_iter().map(Some).collect();
    order.into_iter().filter_map(|i| slots[i].take()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamp_order_is_the_order_of_stamps_and_keeps_ties_in_place() {
        let items = [
            (3, "b", "third"),
            (1, "z", "first"),
            (3, "a", "second"),
            (3, "b", "fourth (a tie keeps its place)"),
        ];
        let sorted = in_stamp_order(items.to_vec(), |&(c, n, _)| (c, n));
        let names: Vec<&str> = sorted.iter().map(|&(_, _, s)| s).collect();
        assert_eq!(
            names,
            ["first", "second", "third", "fourth (a tie keeps its place)"]
        );
        let stamps: Vec<Stamp> = items
            .iter()
            .map(|&(clock, node, _)| Stamp {
                clock,
                node_id: node.into(),
            })
            .collect();
        let mut by_ord: Vec<usize> = (0..items.len()).collect();
        by_ord.sort_by(|&a, &b| stamps[a].cmp(&stamps[b]));
        assert_eq!(
            stamp_order(&items, |&(c, n, _)| (c, n)),
            by_ord,
            "as Stamp orders"
        );
    }

    fn stamp(clock: u64, node: &str) -> Stamp {
        Stamp {
            clock,
            node_id: node.into(),
        }
    }

    #[test]
    fn ticks_increase_by_one() {
        let mut c = LamportClock::at(41);
        assert_eq!(c.tick(), 42);
        assert_eq!(c.tick(), 43);
    }

    #[test]
    fn receiving_jumps_past_the_remote_clock() {
        let mut c = LamportClock::at(5);
        assert_eq!(c.receive(9), 10);
        assert_eq!(c.receive(3), 11, "an older remote still advances the clock");
    }

    #[test]
    fn a_hostile_remote_clock_neither_wraps_nor_leaves_the_exact_range() {
        let mut c = LamportClock::at(5);
        assert_eq!(c.receive(u64::MAX), MAX_CLOCK, "no overflow panic, no wrap");
        assert_eq!(c.tick(), MAX_CLOCK, "held at the bound");
        assert_eq!(MAX_CLOCK as f64 as u64, MAX_CLOCK, "exact as a JS number");
        assert!(clock_acceptable(MAX_CLOCK + 1, u64::MAX).is_err());
        assert!(clock_acceptable(1 << 60, 10).is_err());
        assert!(clock_acceptable(0, 10).is_err());
        assert!(clock_acceptable(10 + MAX_CLOCK_LEAD, 10).is_ok());
        assert!(clock_acceptable(11 + MAX_CLOCK_LEAD, 10).is_err());
    }

    #[test]
    fn a_far_future_time_is_projected_at_most_a_few_minutes_ahead() {
        let now = 1_800_000_000_000;
        assert_eq!(projected_time(now - 1, now), now - 1);
        assert_eq!(
            projected_time(now + 1_000, now),
            now + 1_000,
            "a small skew stays"
        );
        assert_eq!(projected_time(u64::MAX, now), now + MAX_TIME_SKEW_MS);
    }

    #[test]
    fn stamps_order_by_clock_then_node() {
        assert!(stamp(1, "z") < stamp(2, "a"));
        assert!(stamp(2, "a") < stamp(2, "b"));
        assert_eq!(stamp(2, "a").cmp(&stamp(2, "a")), Ordering::Equal);
        let mut v = vec![stamp(3, "b"), stamp(1, "c"), stamp(3, "a"), stamp(2, "a")];
        v.sort();
        assert_eq!(
            v,
            vec![stamp(1, "c"), stamp(2, "a"), stamp(3, "a"), stamp(3, "b")]
        );
    }
}
