//! GPIO lines of the simulated head node: levels, drivers, bias and edge history.
//!
//! A line's level comes first from the head's own output driver: a claimed output pin, or the
//! level it left behind when released. Without one, a node's driver on the far end (a
//! heartbeat output) sets it. Last comes the bias: pull-up, pull-down, or none, where the
//! line keeps its level.

use std::collections::VecDeque;
use std::fmt;
use std::task::Waker;

use picluster_firmware::config::LineId;
use picluster_firmware::units::Instant;

/// Lines of the simulated GPIO chip: BCM 0 to 53, as on the BCM2835 family of the reference
/// boards.
pub const LINE_COUNT: u32 = 54;

/// Edges kept per line for [`crate::World::edges`] and input pins' event queues; older ones are
/// dropped and counted. A 1 Hz heartbeat fills it in about 18 hours.
pub const DEFAULT_EDGE_HISTORY: usize = 65_536;

/// Bias on a line when nothing drives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pull {
    /// Pulled up: reads high when undriven.
    Up,
    /// Pulled down: reads low when undriven.
    Down,
    /// No bias: an undriven line keeps its last level (a floating input in the model).
    None,
}

/// One level change on a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Edge {
    /// When the level changed.
    pub at: Instant,
    /// The line.
    pub line: LineId,
    /// The new level (`true` = high).
    pub high: bool,
}

/// A failure to claim a line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClaimError {
    /// Another handle has claimed the line, as the kernel's EBUSY reports for a requested line.
    #[error(
        "line {line} is busy: claimed by \"{holder}\"; release it or pick another line",
        line = .line.0
    )]
    Busy {
        /// The line requested.
        line: LineId,
        /// The label of the handle that claimed it.
        holder: String,
    },
    /// The chip has no such line, as the kernel's EINVAL reports for an offset out of range.
    #[error(
        "line {line} does not exist: the simulated chip has lines 0 to {last}",
        line = .line.0,
        last = LINE_COUNT - 1
    )]
    NoSuchLine {
        /// The line requested.
        line: LineId,
    },
}

/// A line's state inside the world.
pub(crate) struct Line {
    pub id: LineId,
    pub level: bool,
    pub pull: Pull,
    /// The head's driver: `Some` once an output pin set a level, kept after release.
    pub head_drive: Option<bool>,
    /// The far end's driver, a node's GPIO output.
    pub node_drive: Option<bool>,
    /// The far end is disconnected (a broken wire or ground): its driver no longer reaches
    /// the head.
    pub disconnected: bool,
    /// Label of the handle holding the line.
    pub holder: Option<String>,
    /// Pin operations on this line fail, as after a GPIO chip removal.
    pub faulted: bool,
    /// Level changes since the world started; also the sequence number of the newest edge.
    pub changes: u64,
    pub last_rising: u64,
    pub last_falling: u64,
    /// The newest edges with their sequence numbers.
    pub history: VecDeque<(u64, Edge)>,
    pub history_limit: usize,
    pub dropped_edges: u64,
    pub wakers: Vec<Waker>,
}

impl fmt::Debug for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Line")
            .field("id", &self.id)
            .field("level", &self.level)
            .field("pull", &self.pull)
            .field("holder", &self.holder)
            .field("changes", &self.changes)
            .finish_non_exhaustive()
    }
}

impl Line {
    pub fn new(id: LineId, pull: Pull) -> Self {
        Self {
            id,
            level: pull == Pull::Up,
            pull,
            head_drive: None,
            node_drive: None,
            disconnected: false,
            holder: None,
            faulted: false,
            changes: 0,
            last_rising: 0,
            last_falling: 0,
            history: VecDeque::new(),
            history_limit: DEFAULT_EDGE_HISTORY,
            dropped_edges: 0,
            wakers: Vec::new(),
        }
    }

    /// Returns the level the drivers and the bias give the line now.
    pub fn resolved_level(&self) -> bool {
        let node = if self.disconnected {
            None
        } else {
            self.node_drive
        };
        match (self.head_drive, node, self.pull) {
            (Some(level), _, _) => level,
            (None, Some(level), _) => level,
            (None, None, Pull::Up) => true,
            (None, None, Pull::Down) => false,
            (None, None, Pull::None) => self.level,
        }
    }

    /// Recomputes the level; records an edge and wakes waiters when it changed.
    pub fn settle(&mut self, now: Instant) -> Option<Edge> {
        let level = self.resolved_level();
        if level == self.level {
            return None;
        }
        self.level = level;
        self.changes += 1;
        if level {
            self.last_rising = self.changes;
        } else {
            self.last_falling = self.changes;
        }
        let edge = Edge {
            at: now,
            line: self.id,
            high: level,
        };
        if self.history.len() >= self.history_limit {
            self.history.pop_front();
            self.dropped_edges += 1;
        }
        self.history.push_back((self.changes, edge));
        for waker in self.wakers.drain(..) {
            waker.wake();
        }
        Some(edge)
    }

    /// Returns the edges newer than sequence number `after`.
    pub fn edges_after(&self, after: u64) -> impl Iterator<Item = (u64, Edge)> + '_ {
        // The history is in sequence order and a reader asks for the few newest edges, so
        // counting them from the back is cheaper than a search from the front.
        let newer = self
            .history
            .iter()
            .rev()
            .take_while(|(seq, _)| *seq > after)
            .count();
        self.history
            .iter()
            .skip(self.history.len() - newer)
            .copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_driver_wins_over_node_and_bias() {
        let mut line = Line::new(LineId(5), Pull::Up);
        line.node_drive = Some(false);
        assert!(!line.resolved_level());
        line.head_drive = Some(true);
        assert!(line.resolved_level());
    }

    #[test]
    fn undriven_line_without_bias_keeps_level() {
        let mut line = Line::new(LineId(5), Pull::None);
        line.node_drive = Some(true);
        line.settle(Instant::from_secs(1));
        line.node_drive = None;
        assert_eq!(line.settle(Instant::from_secs(2)), None);
        assert!(line.level);
    }

    #[test]
    fn disconnected_far_end_falls_to_bias() {
        let mut line = Line::new(LineId(23), Pull::Down);
        line.node_drive = Some(true);
        line.settle(Instant::from_secs(1));
        line.disconnected = true;
        let edge = line.settle(Instant::from_secs(2));
        assert_eq!(
            edge,
            Some(Edge {
                at: Instant::from_secs(2),
                line: LineId(23),
                high: false
            })
        );
    }

    #[test]
    fn history_drops_oldest_edges_past_limit() {
        let mut line = Line::new(LineId(1), Pull::None);
        line.history_limit = 2;
        for second in 0..3u64 {
            line.node_drive = Some(second % 2 == 0);
            line.settle(Instant::from_secs(second));
        }
        assert_eq!(line.history.len(), 2);
        assert_eq!(line.dropped_edges, 1);
        let newer: Vec<u64> = line.edges_after(2).map(|(seq, _)| seq).collect();
        assert_eq!(newer, vec![3]);
    }
}
