//! Events: what the controller decided, why, and the measurements behind it.
//!
//! Every state change and every protective action yields one [`Event`]. The controller keeps
//! the newest ones in an [`EventRing`]; the supervisor also persists each one as it is taken.

use heapless::Deque;

use crate::config::NodeId;
use crate::state::StateKind;
use crate::units::{Instant, Milliamps, Millivolts};

/// Events kept by [`EventRing`]: enough for the last few minutes of a busy cluster without
/// an allocator (each event is under 64 bytes).
pub const RING_CAPACITY: usize = 64;

/// The supply as last measured when an event was raised.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Measured {
    /// Supply voltage at the monitor, if a sample exists.
    pub voltage: Option<Millivolts>,
    /// Total supply current, if a valid sample exists.
    pub current: Option<Milliamps>,
}

/// The direction in which a switch failed its verification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StuckWay {
    /// The node was switched off but its current did not drop (a welded relay).
    StuckOn,
    /// The node was switched on but its current did not rise (an open relay or dead switch).
    StuckOff,
}

/// The reason a node changed state or an action was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cause {
    /// The daemon started and adopted the node's present line level.
    Adopted,
    /// An operator command.
    Operator,
    /// The inrush window after power-on ended.
    InrushDone,
    /// The node's heartbeat started (or restarted after a reset).
    HeartbeatAlive,
    /// The node never produced a heartbeat edge within its boot grace.
    NeverBooted,
    /// The node's heartbeat stopped after it had been alive.
    Hung,
    /// A reset pulse ended; the node gets a new boot grace.
    ResetDone,
    /// The minimum off time of a power cycle ended.
    MinOffElapsed,
    /// The node was queued for power-on and is now admitted.
    Admitted,
    /// Automatic recovery reached its maximum cycles in the window.
    RecoveryLimit,
    /// Shed to clear an over-current trip.
    OverCurrent,
    /// Shed to clear an under-voltage trip.
    UnderVoltage,
    /// The switch did not produce the expected current step.
    SwitchStuck(StuckWay),
}

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// A node moved from one state to another.
    StateChanged {
        /// The state it left.
        from: StateKind,
        /// The state it entered.
        to: StateKind,
        /// Why.
        cause: Cause,
    },
    /// A switch failed verification; the node is now faulted.
    SwitchFailed {
        /// The direction in which the switch is stuck.
        way: StuckWay,
        /// The smallest step the switch should have caused.
        expected_step: Milliamps,
        /// The step measured within the verification window.
        measured_step: Milliamps,
    },
    /// A switch was confirmed by its measured current step.
    SwitchVerified {
        /// The state the switch was put in.
        on: bool,
        /// The measured step.
        measured_step: Milliamps,
    },
    /// A switch could not be verified because no valid sample arrived in the window.
    SwitchUnverified {
        /// The state the switch was put in.
        on: bool,
    },
    /// The reset line was pulsed.
    ResetPulsed,
    /// The draw stayed over the budget for the trip delay.
    OverCurrentTrip {
        /// The draw that tripped.
        draw: Milliamps,
        /// The budget it passed.
        budget: Milliamps,
    },
    /// The supply voltage stayed under the floor for the trip delay.
    UnderVoltageTrip {
        /// The voltage that tripped.
        voltage: Millivolts,
        /// The floor it passed.
        floor: Millivolts,
    },
    /// A trip cleared after the reading passed back beyond its hysteresis.
    TripCleared,
    /// A trip persists but every worker is already off, so nothing is left to shed.
    NothingToShed,
    /// No valid sample arrived within the telemetry timeout: automatic power-on stops.
    TelemetryLost,
    /// Samples arrive again.
    TelemetryRestored,
    /// A heartbeat line had a burst of edges beyond the noise limit.
    HeartbeatNoisy {
        /// Raw edges counted in the noise window.
        edges: u16,
    },
    /// A heartbeat line stopped at a fixed level.
    HeartbeatStuck {
        /// The level it stopped at (`true` = high).
        high: bool,
    },
    /// Every worker's heartbeat was lost in the same check: the head's input, a shared ground
    /// or the supply is at fault, so no node is cycled.
    CommonCauseLoss {
        /// Workers whose heartbeat was lost.
        workers: u8,
    },
    /// A power-on waits because the budget is short.
    PowerOnDeferred {
        /// Current the power-on needs (present draw plus boot peak).
        needed: Milliamps,
        /// The budget.
        budget: Milliamps,
    },
}

/// One decision of the controller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    /// When the input that caused it happened.
    pub at: Instant,
    /// The node concerned, or `None` for the supply or the whole cluster.
    pub node: Option<NodeId>,
    /// What happened.
    pub kind: EventKind,
    /// The supply as last measured.
    pub measured: Measured,
}

/// The newest [`RING_CAPACITY`] events; the oldest is dropped when full.
#[derive(Clone, Debug, Default)]
pub struct EventRing {
    events: Deque<Event, RING_CAPACITY>,
    dropped: u32,
}

impl EventRing {
    /// Adds an event, dropping the oldest when the ring is full.
    pub fn push(&mut self, event: Event) {
        if self.events.is_full() {
            self.events.pop_front();
            self.dropped = self.dropped.saturating_add(1);
        }
        let _ = self.events.push_back(event);
    }

    /// Iterates from the oldest kept event to the newest.
    pub fn iter(&self) -> impl Iterator<Item = &Event> {
        self.events.iter()
    }

    /// Returns the number of events dropped to make room.
    pub fn dropped(&self) -> u32 {
        self.dropped
    }

    /// Returns the number of events kept.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Returns whether no event is kept.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seconds: u64) -> Event {
        Event {
            at: Instant::from_secs(seconds),
            node: None,
            kind: EventKind::TelemetryLost,
            measured: Measured::default(),
        }
    }

    #[test]
    fn ring_drops_oldest_when_full() {
        let mut ring = EventRing::default();
        for second in 0..(RING_CAPACITY as u64 + 3) {
            ring.push(event(second));
        }
        assert_eq!(ring.len(), RING_CAPACITY);
        assert_eq!(ring.dropped(), 3);
        assert_eq!(
            ring.iter().next().map(|e| e.at),
            Some(Instant::from_secs(3))
        );
    }
}
