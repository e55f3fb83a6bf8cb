//! Cluster configuration as the controller uses it: the supply, the nodes and the timings.
//!
//! The supervisor parses its TOML file into these types; a microcontroller build can write
//! them as constants. [`ClusterConfig::validate`] reports every problem at once, so an operator
//! fixes a file in one pass.

use heapless::{String, Vec};

use crate::units::{Duration, Milliamps, Millivolts};

/// Maximum length of a node name in bytes; the reference hostnames need 16.
pub const NAME_CAPACITY: usize = 32;

/// Most problems [`ClusterConfig::validate`] lists; later ones are counted, not kept.
pub const MAX_PROBLEMS: usize = 16;

/// Index of a node in [`ClusterConfig::nodes`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub u8);

impl NodeId {
    /// Returns the index as a `usize`, for indexing node tables.
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

/// A GPIO line number as the backend names it (a BCM number on a Pi, an offset on a chip).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LineId(pub u32);

/// A node's role in the cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The board that runs the supervisor: measured, never switched.
    Head,
    /// A board whose power the supervisor switches.
    Worker,
}

/// The line level that turns a switch on or asserts a reset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Polarity {
    /// A high level switches the node on (or asserts the line).
    ActiveHigh,
    /// A low level switches the node on (or asserts the line), as on most relay boards.
    ActiveLow,
}

impl Polarity {
    /// Returns the line level (`true` = high) that puts the switch in the `on` state.
    pub const fn level_for(self, on: bool) -> bool {
        match self {
            Polarity::ActiveHigh => on,
            Polarity::ActiveLow => !on,
        }
    }

    /// Returns whether the switch is on for a line at `level_high`.
    pub const fn is_on(self, level_high: bool) -> bool {
        self.level_for(level_high)
    }
}

/// A switched output line and the level that means "on".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SwitchLine {
    /// The line that drives the load switch or relay.
    pub line: LineId,
    /// The level that powers the node.
    pub polarity: Polarity,
}

/// One board of the cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeConfig {
    /// The node's stable name, its hostname in the reference cluster.
    pub name: String<NAME_CAPACITY>,
    /// Head or worker.
    pub role: Role,
    /// Shedding order: on a trip the lowest priority is switched off first.
    pub priority: u8,
    /// The power switch; a head node has none.
    pub switch: Option<SwitchLine>,
    /// The RUN (reset) line, pulsed before a power cycle when present.
    pub reset: Option<SwitchLine>,
    /// The heartbeat input; without one the node is never recovered automatically.
    pub heartbeat: Option<LineId>,
    /// Highest current the node draws while booting, reserved by budget admission.
    pub boot_peak: Milliamps,
    /// Typical idle current, for status and the simulator.
    pub idle: Milliamps,
    /// Smallest change in the supply current that switching this node must cause; a smaller
    /// step means the switch did not act.
    pub min_step: Milliamps,
}

/// The shared supply and its protection thresholds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SupplyConfig {
    /// The supply's rated current.
    pub limit: Milliamps,
    /// Margin kept free below the limit; the budget is `limit - headroom`.
    pub headroom: Milliamps,
    /// Supply voltage at the monitor below which the supply counts as sagging.
    pub under_voltage: Millivolts,
    /// Voltage the supply must climb back above before an under-voltage trip clears.
    pub under_voltage_clear: Millivolts,
    /// How far below the budget the draw must fall before an over-current trip clears.
    pub over_current_hysteresis: Milliamps,
}

impl SupplyConfig {
    /// Returns the current that admitted nodes may add up to.
    pub fn budget(&self) -> Milliamps {
        self.limit - self.headroom
    }
}

/// The power a quarantined node is left at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuarantinePower {
    /// Leave the node switched off, the safe default for a node in a reboot loop.
    Off,
    /// Leave the node switched on, for debugging it over its console.
    On,
}

/// Delays and limits of the controller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timings {
    /// After switching a node on, the time its inrush current may last; the next power-on
    /// waits at least this long.
    pub inrush_window: Duration,
    /// Time a booting node has to produce its first heartbeat edges.
    pub boot_grace: Duration,
    /// A running node with no heartbeat edge for this long is lost.
    pub heartbeat_timeout: Duration,
    /// Edges closer together than this count as one.
    pub debounce: Duration,
    /// More than `noisy_edges` edges within `noisy_window` mark a line noisy.
    pub noisy_window: Duration,
    /// Edge count that marks a line noisy within `noisy_window`.
    pub noisy_edges: u16,
    /// A powered-off node stays off at least this long before it is switched on again.
    pub min_off_time: Duration,
    /// Time within which a switch must show its current step.
    pub verify_window: Duration,
    /// Time a reading must stay past a protection threshold before it trips.
    pub trip_delay: Duration,
    /// Length of a reset pulse on the RUN line.
    pub reset_pulse: Duration,
    /// Wait before the second automatic power cycle; doubles for each further one.
    pub backoff: Duration,
    /// Most automatic power cycles of one node within `cycle_window`.
    pub max_cycles: u8,
    /// The sliding window over which `max_cycles` is counted.
    pub cycle_window: Duration,
    /// Time without a sample after which the monitor counts as missing.
    pub telemetry_timeout: Duration,
}

/// The recovery policy for a node whose heartbeat is lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecoveryConfig {
    /// Pulse the RUN line before the first power cycle of an episode, where a reset line exists.
    pub reset_first: bool,
    /// The power a quarantined node is left at.
    pub quarantine_power: QuarantinePower,
}

/// The whole cluster: at most `N` nodes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterConfig<const N: usize> {
    /// The shared supply.
    pub supply: SupplyConfig,
    /// Controller delays and limits.
    pub timings: Timings,
    /// Recovery policy.
    pub recovery: RecoveryConfig,
    /// The boards, indexed by [`NodeId`].
    pub nodes: Vec<NodeConfig, N>,
}

/// One thing wrong with a configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigProblem {
    /// A head node has a switch line, which would let the supervisor cut its own power.
    HeadSwitchable {
        /// The head node.
        node: NodeId,
    },
    /// A worker has no switch line, so nothing could power it.
    WorkerWithoutSwitch {
        /// The worker.
        node: NodeId,
    },
    /// Two nodes (or two uses in one node) name the same line.
    LineUsedTwice {
        /// The line named twice.
        line: LineId,
        /// The node that names it first.
        first: NodeId,
        /// The node that names it again.
        second: NodeId,
    },
    /// The headroom is not smaller than the limit, leaving no budget.
    NoBudget {
        /// The supply's rated current.
        limit: Milliamps,
        /// The configured headroom.
        headroom: Milliamps,
    },
    /// A node's boot peak alone exceeds what the supply can ever admit.
    BootPeakOverBudget {
        /// The node.
        node: NodeId,
        /// Its configured boot peak.
        boot_peak: Milliamps,
        /// The supply budget.
        budget: Milliamps,
    },
    /// A node's verification step is zero or negative, so a stuck switch could not be seen.
    MinStepNotPositive {
        /// The node.
        node: NodeId,
        /// Its configured step.
        min_step: Milliamps,
    },
    /// The under-voltage clear level is not above the trip level, so the trip would flap.
    UnderVoltageHysteresis {
        /// The trip level.
        trip: Millivolts,
        /// The clear level.
        clear: Millivolts,
    },
    /// A timing that must be positive is zero.
    ZeroTiming {
        /// The timing's configuration key.
        name: &'static str,
    },
    /// The verification window ends after the inrush window, so a stagger could overlap it.
    VerifyLongerThanInrush {
        /// The verification window.
        verify: Duration,
        /// The inrush window.
        inrush: Duration,
    },
    /// `max_cycles` is zero, so every lost heartbeat would quarantine at once.
    NoCyclesAllowed,
    /// A reconfiguration changed the nodes' names, roles or lines, which needs a new controller.
    NodesChanged,
    /// Two nodes share a name.
    DuplicateName {
        /// The node that has the name first.
        first: NodeId,
        /// The node that repeats it.
        second: NodeId,
    },
}

/// Every problem found by [`ClusterConfig::validate`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfigProblems {
    /// The first [`MAX_PROBLEMS`] problems found.
    pub problems: Vec<ConfigProblem, MAX_PROBLEMS>,
    /// Problems found beyond those kept.
    pub dropped: usize,
}

impl ConfigProblems {
    fn push(&mut self, problem: ConfigProblem) {
        if self.problems.push(problem).is_err() {
            self.dropped += 1;
        }
    }

    /// Returns whether no problem was found.
    pub fn is_empty(&self) -> bool {
        self.problems.is_empty() && self.dropped == 0
    }
}

impl<const N: usize> ClusterConfig<N> {
    /// Checks the whole configuration and returns every problem found, not only the first.
    // Without an allocator the problems cannot be boxed; validation runs once, at start.
    #[allow(clippy::result_large_err)]
    pub fn validate(&self) -> Result<(), ConfigProblems> {
        let mut found = ConfigProblems::default();
        self.check_supply(&mut found);
        self.check_timings(&mut found);
        self.check_nodes(&mut found);
        self.check_lines(&mut found);
        if found.is_empty() { Ok(()) } else { Err(found) }
    }

    /// Returns the node with this name, if any.
    pub fn node_by_name(&self, name: &str) -> Option<NodeId> {
        self.nodes
            .iter()
            .position(|node| node.name.as_str() == name)
            .map(|index| NodeId(index as u8))
    }

    /// Iterates over the nodes with their ids.
    pub fn nodes_with_ids(&self) -> impl Iterator<Item = (NodeId, &NodeConfig)> {
        self.nodes
            .iter()
            .enumerate()
            .map(|(index, node)| (NodeId(index as u8), node))
    }

    fn check_supply(&self, found: &mut ConfigProblems) {
        let supply = &self.supply;
        if supply.headroom >= supply.limit {
            found.push(ConfigProblem::NoBudget {
                limit: supply.limit,
                headroom: supply.headroom,
            });
        }
        if supply.under_voltage_clear <= supply.under_voltage {
            found.push(ConfigProblem::UnderVoltageHysteresis {
                trip: supply.under_voltage,
                clear: supply.under_voltage_clear,
            });
        }
    }

    fn check_timings(&self, found: &mut ConfigProblems) {
        let t = &self.timings;
        let must_be_positive = [
            ("inrush_window", t.inrush_window),
            ("boot_grace", t.boot_grace),
            ("heartbeat_timeout", t.heartbeat_timeout),
            ("noisy_window", t.noisy_window),
            ("min_off_time", t.min_off_time),
            ("verify_window", t.verify_window),
            ("reset_pulse", t.reset_pulse),
            ("backoff", t.backoff),
            ("cycle_window", t.cycle_window),
            ("telemetry_timeout", t.telemetry_timeout),
        ];
        for (name, value) in must_be_positive {
            if value == Duration::ZERO {
                found.push(ConfigProblem::ZeroTiming { name });
            }
        }
        if t.verify_window > t.inrush_window {
            found.push(ConfigProblem::VerifyLongerThanInrush {
                verify: t.verify_window,
                inrush: t.inrush_window,
            });
        }
        if t.max_cycles == 0 {
            found.push(ConfigProblem::NoCyclesAllowed);
        }
    }

    fn check_nodes(&self, found: &mut ConfigProblems) {
        let budget = self.supply.budget();
        for (id, node) in self.nodes_with_ids() {
            match (node.role, node.switch) {
                (Role::Head, Some(_)) => found.push(ConfigProblem::HeadSwitchable { node: id }),
                (Role::Worker, None) => found.push(ConfigProblem::WorkerWithoutSwitch { node: id }),
                _ => {}
            }
            if node.role == Role::Worker && node.boot_peak > budget {
                found.push(ConfigProblem::BootPeakOverBudget {
                    node: id,
                    boot_peak: node.boot_peak,
                    budget,
                });
            }
            if node.role == Role::Worker && node.min_step.0 <= 0 {
                found.push(ConfigProblem::MinStepNotPositive {
                    node: id,
                    min_step: node.min_step,
                });
            }
            if let Some(first) = self.node_by_name(&node.name)
                && first != id
            {
                found.push(ConfigProblem::DuplicateName { first, second: id });
            }
        }
    }

    fn check_lines(&self, found: &mut ConfigProblems) {
        for (id, node) in self.nodes_with_ids() {
            for (index, line) in lines_of(node).enumerate() {
                let earlier = self
                    .nodes_with_ids()
                    .flat_map(|(other, config)| lines_of(config).map(move |l| (other, l)))
                    .take_while(|&(other, _)| other <= id)
                    .filter(|&(other, _)| other < id)
                    .find(|&(_, other_line)| other_line == line)
                    .map(|(other, _)| other);
                let same_node_earlier = lines_of(node).take(index).any(|l| l == line);
                if let Some(first) = earlier {
                    found.push(ConfigProblem::LineUsedTwice {
                        line,
                        first,
                        second: id,
                    });
                } else if same_node_earlier {
                    found.push(ConfigProblem::LineUsedTwice {
                        line,
                        first: id,
                        second: id,
                    });
                }
            }
        }
    }
}

fn lines_of(node: &NodeConfig) -> impl Iterator<Item = LineId> + '_ {
    let switch = node.switch.map(|s| s.line);
    let reset = node.reset.map(|s| s.line);
    switch.into_iter().chain(reset).chain(node.heartbeat)
}
