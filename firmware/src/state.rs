//! The per-node state machine's states.
//!
//! The transitions themselves live in one place, the controller's `node` module; this file
//! only names the states and the data each one carries.

use core::fmt;

use crate::event::StuckWay;
use crate::units::Instant;

/// The reason a node is unresponsive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unresponsive {
    /// No heartbeat edge since power-on: the node never booted.
    NeverBooted,
    /// The heartbeat stopped after it had been alive: the node hung.
    Hung,
}

/// A worker's state. The head node is always [`NodeState::Running`] or [`NodeState::Booting`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeState {
    /// Switched off.
    Off {
        /// When the switch went off (the start of the minimum off time).
        since: Instant,
    },
    /// Switched on, within the inrush window.
    PoweringOn {
        /// When the switch went on.
        since: Instant,
    },
    /// Powered, waiting for the first heartbeat within the boot grace.
    Booting {
        /// Start of the boot grace.
        since: Instant,
    },
    /// Powered with a live heartbeat (or without a heartbeat line, after its boot grace).
    Running,
    /// Powered, but its heartbeat is lost; recovery decides what to do next.
    Unresponsive {
        /// When the loss was found.
        since: Instant,
        /// Hung or never booted.
        reason: Unresponsive,
    },
    /// Its RUN line is asserted for a reset pulse.
    Resetting {
        /// When the pulse started.
        since: Instant,
    },
    /// Switched off as part of a power cycle; switched on again after the minimum off time.
    Cycling {
        /// When the switch went off.
        since: Instant,
    },
    /// An operator's maintenance hold: nothing automatic touches it.
    Held {
        /// Whether the node is powered.
        on: bool,
    },
    /// Recovery gave up; left as configured until an operator releases it.
    Quarantined {
        /// Whether the node is powered.
        on: bool,
    },
    /// The switch did not follow its command.
    Faulted {
        /// The direction in which it failed.
        way: StuckWay,
    },
}

/// The name of a [`NodeState`] without its data, for events, status and metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StateKind {
    /// See [`NodeState::Off`].
    Off,
    /// See [`NodeState::PoweringOn`].
    PoweringOn,
    /// See [`NodeState::Booting`].
    Booting,
    /// See [`NodeState::Running`].
    Running,
    /// See [`NodeState::Unresponsive`].
    Unresponsive,
    /// See [`NodeState::Resetting`].
    Resetting,
    /// See [`NodeState::Cycling`].
    Cycling,
    /// See [`NodeState::Held`].
    Held,
    /// See [`NodeState::Quarantined`].
    Quarantined,
    /// See [`NodeState::Faulted`].
    Faulted,
}

impl StateKind {
    /// Every state, in the order of the state machine, for metrics that list them all.
    pub const ALL: [StateKind; 10] = [
        StateKind::Off,
        StateKind::PoweringOn,
        StateKind::Booting,
        StateKind::Running,
        StateKind::Unresponsive,
        StateKind::Resetting,
        StateKind::Cycling,
        StateKind::Held,
        StateKind::Quarantined,
        StateKind::Faulted,
    ];

    /// Returns the lower-case name used in status output, logs and metrics.
    pub const fn name(self) -> &'static str {
        match self {
            StateKind::Off => "off",
            StateKind::PoweringOn => "powering-on",
            StateKind::Booting => "booting",
            StateKind::Running => "running",
            StateKind::Unresponsive => "unresponsive",
            StateKind::Resetting => "resetting",
            StateKind::Cycling => "cycling",
            StateKind::Held => "held",
            StateKind::Quarantined => "quarantined",
            StateKind::Faulted => "faulted",
        }
    }
}

impl fmt::Display for StateKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl NodeState {
    /// Returns the state's name without its data.
    pub const fn kind(&self) -> StateKind {
        match self {
            NodeState::Off { .. } => StateKind::Off,
            NodeState::PoweringOn { .. } => StateKind::PoweringOn,
            NodeState::Booting { .. } => StateKind::Booting,
            NodeState::Running => StateKind::Running,
            NodeState::Unresponsive { .. } => StateKind::Unresponsive,
            NodeState::Resetting { .. } => StateKind::Resetting,
            NodeState::Cycling { .. } => StateKind::Cycling,
            NodeState::Held { .. } => StateKind::Held,
            NodeState::Quarantined { .. } => StateKind::Quarantined,
            NodeState::Faulted { .. } => StateKind::Faulted,
        }
    }

    /// Returns whether the node's switch is commanded on in this state.
    ///
    /// A faulted switch reports the way it is stuck: stuck on means powered.
    pub const fn powered(&self) -> bool {
        match self {
            NodeState::Off { .. } | NodeState::Cycling { .. } => false,
            NodeState::PoweringOn { .. }
            | NodeState::Booting { .. }
            | NodeState::Running
            | NodeState::Unresponsive { .. }
            | NodeState::Resetting { .. } => true,
            NodeState::Held { on } | NodeState::Quarantined { on } => *on,
            NodeState::Faulted { way } => matches!(way, StuckWay::StuckOn),
        }
    }
}
