//! Scenarios: a cluster, events at given times, and checks on what the controller did.
//!
//! A scenario file is TOML. It starts from the reference cluster and changes what it names:
//! the supply, the monitor, controller settings, nodes (their board, heartbeat behaviour,
//! wiring, or new nodes). Events happen at fixed times ("at 30 s raspberrypi1.lan hangs");
//! checks are evaluated over the whole run. docs/simulation.md describes every key.
//!
//! [`Scenario::from_toml`] reads and validates a file; [`run`] drives the firmware's `Board`
//! against the simulated world and returns a [`Report`].

mod build;
mod check;
mod file;
pub mod quantity;
mod runner;

use std::fmt;
use std::path::Path;

use picluster_firmware::config::NodeId;
use picluster_firmware::controller::Command;
use picluster_firmware::units::{Duration, Instant, Milliamps, Millivolts};

use crate::cluster::SimCluster;
use crate::i2c::DeviceFault;
use crate::node::{Behaviour, RelayFault};
use crate::supply::Overload;

pub use check::{Check, CheckResult, StateName};
pub use file::Restore;
pub use runner::{Report, RunError, RunOptions, run};

/// A validated scenario.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Short name.
    pub name: String,
    /// The behaviour the scenario shows.
    pub description: String,
    /// How long it runs.
    pub duration: Duration,
    /// Seed for every random choice.
    pub seed: u64,
    /// The power policy for the workers at start.
    pub restore: Restore,
    /// Time between monitor reads.
    pub sample_period: Duration,
    /// The cluster.
    pub cluster: SimCluster,
    /// Events, in time order.
    pub events: Vec<ScheduledEvent>,
    /// Checks.
    pub checks: Vec<Check>,
}

/// An event at a time.
#[derive(Clone, Debug, PartialEq)]
pub struct ScheduledEvent {
    /// When it happens.
    pub at: Instant,
    /// What happens.
    pub action: Action,
}

/// The change an event makes. Nodes are indices in the cluster's node order.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// The node's OS hangs.
    Hang(usize),
    /// A stress load starts or stops.
    Stress(usize, bool),
    /// USB devices on the node draw this much.
    UsbLoad(usize, Milliamps),
    /// The node's heartbeat behaviour changes.
    Heartbeat(usize, Behaviour),
    /// The node's switch fails or is repaired.
    Relay(usize, RelayFault),
    /// The supply's parameters change.
    Supply(SupplyChange),
    /// A fault of the monitor chip.
    Monitor(DeviceFault),
    /// Heartbeat wires are disconnected (`true`) or reconnected at the head.
    Heartbeats {
        /// The nodes.
        nodes: Vec<usize>,
        /// Disconnect or reconnect.
        disconnected: bool,
    },
    /// An operator command through the board.
    Command {
        /// The node.
        node: NodeId,
        /// The command.
        command: Command,
        /// Whether the controller should accept it; `None` records the outcome unchecked.
        expect_accepted: Option<bool>,
    },
}

/// Supply parameters an event changes; `None` leaves one as it is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SupplyChange {
    /// New no-load voltage.
    pub nominal: Option<Millivolts>,
    /// New current limit.
    pub limit: Option<Milliamps>,
    /// New droop in millivolts per amp.
    pub droop_mv_per_amp: Option<u32>,
    /// New overload behaviour.
    pub overload: Option<Overload>,
}

/// A reason a scenario file was rejected.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("cannot read scenario {origin}: {source}")]
    Read {
        /// The file.
        origin: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The TOML is malformed or has an unknown or misspelled key.
    #[error("invalid scenario {origin}: {message}")]
    Parse {
        /// The file or a name for the text.
        origin: String,
        /// The parser's message, with line and column.
        message: String,
    },
    /// The file parses but names things that do not exist or do not fit together.
    #[error("invalid scenario {origin}:\n{}", Problems(.problems))]
    Invalid {
        /// The file or a name for the text.
        origin: String,
        /// Every problem found.
        problems: Vec<String>,
    },
}

struct Problems<'a>(&'a [String]);

impl fmt::Display for Problems<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, problem) in self.0.iter().enumerate() {
            if index > 0 {
                writeln!(f)?;
            }
            write!(f, "  - {problem}")?;
        }
        Ok(())
    }
}

impl Scenario {
    /// Reads and validates a scenario file.
    pub fn load(path: &Path) -> Result<Self, ScenarioError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            origin: origin.clone(),
            source,
        })?;
        Self::from_toml(&text, &origin)
    }

    /// Parses and validates scenario text; `origin` names it in messages.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self, ScenarioError> {
        let file: file::ScenarioFile =
            toml::from_str(text).map_err(|error| ScenarioError::Parse {
                origin: origin.to_owned(),
                message: error.to_string().trim_end().to_owned(),
            })?;
        build::build(file).map_err(|problems| ScenarioError::Invalid {
            origin: origin.to_owned(),
            problems,
        })
    }
}
