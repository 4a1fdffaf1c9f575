//! Lamport clocks and the total order of events.

use serde::{Deserialize, Serialize};
use std::cmp::Ordering;

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

    /// A local event: `clock = clock + 1`, returned as the event's stamp.
    pub fn tick(&mut self) -> u64 {
        self.0 += 1;
        self.0
    }

    /// An event from elsewhere: `clock = max(local, remote) + 1`.
    pub fn receive(&mut self, remote: u64) -> u64 {
        self.0 = self.0.max(remote) + 1;
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

#[cfg(test)]
mod tests {
    use super::*;

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
