//! The controller: every power decision for the cluster, with no I/O of its own.
//!
//! The caller feeds it inputs, each with the time it happened ([`Controller::sample`],
//! [`Controller::heartbeat_edge`], [`Controller::command`], [`Controller::poll`]), then drains
//! the resulting [`Action`]s with [`Controller::next_action`] and applies them: set a switch,
//! drive a reset line, record an event. [`Controller::next_deadline`] returns when the
//! controller must be polled again if no input arrives first. The controller never reads a
//! clock.
//!
//! Drain the actions after every input: the queue holds [`ACTION_CAPACITY`] actions, and when
//! it is full the oldest events are dropped (switch and reset actions never are).

use heapless::{Deque, Vec};

use crate::config::{ClusterConfig, NodeId};
use crate::event::{Event, EventRing, StuckWay};
use crate::heartbeat::HeartbeatStatus;
use crate::state::NodeState;
use crate::units::{Instant, Milliamps, Millivolts};

/// Capacity of the action queue between two drains.
pub const ACTION_CAPACITY: usize = 256;

/// Automatic cycles remembered per node; at least the largest `max_cycles` allowed.
pub const CYCLE_HISTORY: usize = 16;

/// One reading of the shared supply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sample {
    /// Supply voltage at the monitor.
    pub voltage: Millivolts,
    /// Total current, or `None` when the monitor flagged this conversion as overflowed.
    pub current: Option<Milliamps>,
}

/// An operator's request for one node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// Switch the node on (queued behind other power-ons, admitted within the budget).
    On,
    /// Switch the node off.
    Off,
    /// Switch the node off, wait the minimum off time, switch it on again.
    Cycle,
    /// Pulse the node's RUN line.
    Reset,
    /// Put the node on maintenance hold at its present power: nothing automatic touches it.
    Hold,
    /// Clear a hold, a quarantine or a fault; the node resumes automatic supervision.
    Release,
}

/// The reason an operator command was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// No node has this id.
    UnknownNode {
        /// The id given.
        node: NodeId,
    },
    /// The head node is never switched or reset.
    HeadNode {
        /// The head node.
        node: NodeId,
    },
    /// Powering the node now would take the draw over the supply budget.
    OverBudget {
        /// The node.
        node: NodeId,
        /// Present draw plus the node's boot peak.
        needed: Milliamps,
        /// The supply budget.
        budget: Milliamps,
    },
    /// No valid sample is recent enough to admit a power-on.
    NoTelemetry {
        /// The node.
        node: NodeId,
    },
    /// The node is on maintenance hold; release it first.
    Held {
        /// The node.
        node: NodeId,
    },
    /// The node is quarantined; release it first.
    Quarantined {
        /// The node.
        node: NodeId,
    },
    /// The node's switch is faulted; check the hardware, then release it.
    Faulted {
        /// The node.
        node: NodeId,
        /// The direction in which the switch is stuck.
        way: StuckWay,
    },
    /// The node has no reset line.
    NoResetLine {
        /// The node.
        node: NodeId,
    },
    /// A reset was asked of a node that is not powered.
    NotPowered {
        /// The node.
        node: NodeId,
    },
    /// Release was asked of a node that is not held, quarantined or faulted.
    NotReleasable {
        /// The node.
        node: NodeId,
    },
}

/// An effect the caller must apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Put the node's power switch on or off (the caller applies the line polarity).
    Switch {
        /// The node.
        node: NodeId,
        /// `true` to power the node.
        on: bool,
    },
    /// Assert or release the node's RUN line (the caller applies the line polarity).
    Reset {
        /// The node.
        node: NodeId,
        /// `true` keeps the node in reset.
        asserted: bool,
    },
    /// Record an event.
    Event(Event),
}

/// Administrative state that outlives the daemon: the supervisor persists it and hands it back
/// at start.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AdminState {
    /// An operator hold is in force.
    pub held: bool,
    /// Recovery gave up on the node.
    pub quarantined: bool,
    /// Start times of recent automatic cycles, oldest first.
    pub cycles: Vec<Instant, CYCLE_HISTORY>,
    /// When the switch last went off, so the minimum off time is kept across a restart.
    pub last_off: Option<Instant>,
    /// A power-on was queued or a power cycle was under way, so a restart must finish it.
    pub power_on_pending: bool,
}

/// A node as found when the controller starts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeStart {
    /// The switch is presently on (read from the line, after applying polarity).
    pub switch_on: bool,
    /// The heartbeat line's present level.
    pub heartbeat_high: bool,
    /// Persisted administrative state.
    pub admin: AdminState,
}

/// A node's present status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeStatus {
    /// The state machine's state.
    pub state: NodeState,
    /// The heartbeat line's status.
    pub heartbeat: HeartbeatStatus,
    /// When the last counted heartbeat edge arrived.
    pub last_edge: Option<Instant>,
    /// Whether the last switch action was confirmed by its measured step: `None` while it is
    /// pending or was never checked.
    pub switch_verified: Option<bool>,
    /// Power-ons since the controller started.
    pub power_ons: u32,
    /// Automatic cycles within the present window.
    pub recent_cycles: u8,
    /// Automatic cycles since the controller started.
    pub total_cycles: u32,
    /// A power-on is queued for this node.
    pub power_on_queued: bool,
}

/// The supply's present status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SupplyStatus {
    /// The newest valid sample and when it arrived.
    pub last_sample: Option<(Instant, Sample)>,
    /// Samples arrive within the telemetry timeout.
    pub telemetry_ok: bool,
    /// An over-current trip is in force.
    pub over_current: bool,
    /// An under-voltage trip is in force.
    pub under_voltage: bool,
    /// Trips since the controller started.
    pub trips: u32,
    /// Samples dropped because the monitor flagged them or failed to deliver them.
    pub dropped_samples: u32,
    /// The supply budget.
    pub budget: Milliamps,
}

mod inputs;
mod node;
mod power;
mod supply;
#[cfg(test)]
mod tests;

use node::NodeRuntime;
use supply::SupplyRuntime;

/// The control core for a cluster of at most `N` nodes.
#[derive(Debug)]
pub struct Controller<const N: usize> {
    config: ClusterConfig<N>,
    nodes: Vec<NodeRuntime, N>,
    supply: SupplyRuntime,
    actions: Deque<Action, ACTION_CAPACITY>,
    events: EventRing,
    dropped_events: u32,
    /// Admission order of queued power-ons: a counter value per node.
    queued_at: Vec<u32, N>,
    queue_order: u32,
    /// A power-on is admitted only with a sample taken at or after this time, so the previous
    /// node's inrush has passed and shows in the measured draw.
    settled_after: Instant,
    deferred_logged: bool,
    nothing_to_shed_logged: bool,
    common_cause: bool,
    /// Time of the newest input.
    now: Instant,
}
