//! The `sim` backend: the daemon's lines and monitor on a `picluster-hal-mock` world.
//!
//! The world is built from the cluster configuration. Each node is modelled as the reference
//! board of its hostname, or else as the board type whose published idle and boot-peak
//! currents are nearest to its configured ones, with a healthy 1 Hz heartbeat agent. The nodes
//! share the reference 5.4 A USB charger, and the configured monitor chip sits on the simulated
//! I2C bus. The daemon's time maps onto the world's: the world's
//! zero is the daemon's start.
//!
//! # The world outlives the daemon
//!
//! A real head's lines keep their levels while the daemon restarts. The simulated world lives
//! inside the daemon's process, so the backend keeps the part that matters in a world file
//! (JSON, replaced atomically): every node's switch line level, written each time an output
//! line is set and when the daemon stops. A daemon started with an existing world file builds
//! the world with those levels, and with every node whose switch is on already booted and
//! running, as the nodes of a real cluster keep running across a daemon restart. The file also
//! counts each line's level changes since this world was built, so a test can show that a
//! restart changed no line.
//!
//! NOTE: only the switch levels survive a restart. A node that was hung, booting or held in
//! reset when the daemon stopped comes back running and healthy.
//!
//! # Scenarios and traces
//!
//! With a hal-mock scenario, the world is the scenario's cluster and its scheduled world
//! events (hangs, stress, supply changes, monitor faults, ...) happen at their times, counted
//! from the daemon's start.
//!
//! NOTE: a scenario's operator commands are not played (they are logged and skipped; give them
//! with the CLI), and its checks are not evaluated: hal-mock's scenario runner does both.
//!
//! The backend records a trace of the run (the supply, each node's controller state and
//! physical phase, each line's level) and writes it as CSV and SVG with hal-mock's trace writer
//! when the daemon stops.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use embedded_hal::digital::{self, ErrorKind, OutputPin};
use picluster_firmware::config::{ClusterConfig, LineId, NodeConfig, NodeId};
use picluster_firmware::controller::Controller;
use picluster_firmware::reference::MAX_NODES;
use picluster_firmware::units::Instant;
use picluster_hal_mock::cluster::{node_seed, node_spec, reference_board};
use picluster_hal_mock::ina::Shunt;
use picluster_hal_mock::monitor::MonitorSpec;
use picluster_hal_mock::node::BoardModel;
use picluster_hal_mock::scenario::{Action, ScheduledEvent};
use picluster_hal_mock::trace::TraceRow;
use picluster_hal_mock::{
    PinError, Scenario, SimI2c, SimInputPin, SimOutputPin, SupplySpec, Trace, World, WorldSpec,
};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use super::monitor::ChipMonitor;
use super::{Backend, BackendError, Edge, FoundLevels, Hardware, OpenResult};
use crate::config::{MonitorChip, MonitorSettings};
use crate::store::write_atomic;

/// The label the daemon's claims carry, as the kernel shows a line's consumer.
const CONSUMER: &str = "picluster";

/// Version of the world file's format.
const WORLD_FILE_VERSION: u32 = 1;

/// Rows a trace keeps: about 30 MB, some 20 hours of the reference cluster at speed 1 (three
/// 1 Hz heartbeats make most of the rows). Later changes are not traced.
const MAX_TRACE_ROWS: usize = 200_000;

/// Seed of the node models' jitter when no scenario gives one.
const DEFAULT_SEED: u64 = 1;

/// The simulated world's setup.
#[derive(Clone, Debug)]
pub struct SimOptions {
    /// The world file: read at start if it exists, written on every line change.
    pub world_file: PathBuf,
    /// The nodes, supply and cabling.
    pub world: WorldSpec,
    /// The monitor chip on the simulated bus.
    pub monitor: MonitorSpec,
    /// World events to play, at times counted from the daemon's start.
    pub events: Vec<ScheduledEvent>,
    /// Name written into the trace.
    pub name: String,
    /// Folder of the trace written when the daemon stops (`trace.csv` and `trace.svg`).
    pub trace_dir: Option<PathBuf>,
}

impl SimOptions {
    /// Simulates `cluster` with the reference supply and the configured monitor: each node is
    /// the reference board of its hostname, or else the board type whose published idle and
    /// boot-peak currents are nearest to its configuration.
    pub fn for_cluster(
        cluster: &ClusterConfig<MAX_NODES>,
        monitor: &MonitorSettings,
        folder: &Path,
    ) -> Self {
        let nodes = cluster
            .nodes
            .iter()
            .enumerate()
            .map(|(index, node)| {
                let board = reference_board(&node.name).unwrap_or_else(|| board_for(node));
                node_spec(node, board, node_seed(DEFAULT_SEED, index))
            })
            .collect();
        let world = WorldSpec {
            nodes,
            supply: SupplySpec::reference_charger(),
            cable_milliohms: WorldSpec::CABLE_MILLIOHMS,
        };
        let chip = match monitor.chip {
            MonitorChip::Ina219 => picluster_hal_mock::MonitorChip::Ina219,
            MonitorChip::Ina226 => picluster_hal_mock::MonitorChip::Ina226,
        };
        let monitor = MonitorSpec {
            chip,
            address: monitor.address,
            shunt: Shunt {
                resistance: picluster_firmware::monitor::MicroOhms(monitor.shunt_micro_ohms),
                gain_error_ppm: 0,
            },
            max_current: monitor.max_current,
        };
        Self {
            world_file: folder.join(crate::sim::WORLD_FILE_NAME),
            world,
            monitor,
            events: Vec::new(),
            name: "picluster sim".to_string(),
            trace_dir: Some(folder.to_path_buf()),
        }
    }

    /// Simulates a scenario's cluster and plays its world events.
    pub fn for_scenario(scenario: &Scenario, folder: &Path) -> Self {
        let skipped = scenario
            .events
            .iter()
            .filter(|event| matches!(event.action, Action::Command { .. }))
            .count();
        if skipped > 0 {
            warn!(
                scenario = %scenario.name,
                skipped,
                "the scenario's operator commands are not played by picluster sim; give them \
                 with the CLI"
            );
        }
        Self {
            world_file: folder.join(crate::sim::WORLD_FILE_NAME),
            world: scenario.cluster.world.clone(),
            monitor: scenario.cluster.monitor,
            events: scenario.events.clone(),
            name: scenario.name.clone(),
            trace_dir: Some(folder.to_path_buf()),
        }
    }

    /// Returns the monitor's settings for the firmware driver.
    fn monitor_settings(&self) -> MonitorSettings {
        MonitorSettings {
            chip: match self.monitor.chip {
                picluster_hal_mock::MonitorChip::Ina219 => MonitorChip::Ina219,
                picluster_hal_mock::MonitorChip::Ina226 => MonitorChip::Ina226,
            },
            i2c_bus: crate::config::DEFAULT_I2C_BUS,
            address: self.monitor.address,
            shunt_micro_ohms: self.monitor.shunt.resistance.0,
            max_current: self.monitor.max_current,
            i2c_clock: None,
        }
    }
}

/// The world file's content.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorldRecord {
    /// Format version.
    pub version: u32,
    /// Every node with a switch, in configuration order.
    pub nodes: Vec<NodeRecord>,
}

/// One node's lines in the world file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeRecord {
    /// The node's name.
    pub name: String,
    /// The switch line's number.
    pub switch_line: u32,
    /// The switch line's level (`true` = high).
    pub switch_high: bool,
    /// Level changes of the switch line since this world was built.
    pub switch_changes: u64,
    /// Level changes of the reset line since this world was built; 0 without one.
    pub reset_changes: u64,
}

impl WorldRecord {
    /// Reads a world file, or returns `None` when there is none yet.
    pub fn load(path: &Path) -> Result<Option<Self>, BackendError> {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(error) => {
                return Err(BackendError::Other(format!(
                    "cannot read the simulated world file {}: {error}",
                    path.display()
                )));
            }
        };
        let record: WorldRecord = serde_json::from_slice(&bytes).map_err(|error| {
            BackendError::Other(format!(
                "the simulated world file {} is invalid: {error}; delete it to start a new world",
                path.display()
            ))
        })?;
        Ok(Some(record))
    }
}

/// Writes the world file from the world's present line levels.
#[derive(Debug)]
struct WorldWriter {
    path: PathBuf,
    world: World,
    /// (name, switch line, reset line) of every switched node.
    lines: Vec<(String, LineId, Option<LineId>)>,
}

impl WorldWriter {
    fn record(&self) -> WorldRecord {
        let nodes = self
            .lines
            .iter()
            .map(|(name, switch, reset)| NodeRecord {
                name: name.clone(),
                switch_line: switch.0,
                switch_high: self.world.line_level(*switch),
                switch_changes: self.world.line_changes(*switch),
                reset_changes: reset.map_or(0, |line| self.world.line_changes(line)),
            })
            .collect();
        WorldRecord {
            version: WORLD_FILE_VERSION,
            nodes,
        }
    }

    fn save(&self) -> io::Result<()> {
        let mut bytes = serde_json::to_vec_pretty(&self.record()).map_err(io::Error::other)?;
        bytes.push(b'\n');
        write_atomic(&self.path, &bytes)
    }
}

/// A failure of a simulated output line.
#[derive(Debug)]
pub enum SimLineError {
    /// The simulated line failed (an injected fault).
    Pin(PinError),
    /// The line was set, but the world file could not be written.
    WorldFile(io::Error),
}

impl digital::Error for SimLineError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Other
    }
}

/// An output line of the simulated head that records every write in the world file.
#[derive(Debug)]
pub struct SimLine {
    pin: SimOutputPin,
    writer: Arc<Mutex<WorldWriter>>,
}

impl SimLine {
    fn set(&mut self, high: bool) -> Result<(), SimLineError> {
        let result = if high {
            self.pin.set_high()
        } else {
            self.pin.set_low()
        };
        result.map_err(SimLineError::Pin)?;
        let writer = self
            .writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        writer.save().map_err(SimLineError::WorldFile)
    }
}

impl digital::ErrorType for SimLine {
    type Error = SimLineError;
}

impl OutputPin for SimLine {
    fn set_low(&mut self) -> Result<(), SimLineError> {
        self.set(false)
    }

    fn set_high(&mut self) -> Result<(), SimLineError> {
        self.set(true)
    }
}

/// The simulated cluster as a backend.
#[derive(Debug)]
pub struct SimBackend {
    world: World,
    options: SimOptions,
    /// Daemon time of the world's zero, set when the daemon opens the backend.
    epoch: Instant,
    heartbeats: Vec<(NodeId, SimInputPin)>,
    writer: Option<Arc<Mutex<WorldWriter>>>,
    world_edges: Vec<picluster_hal_mock::Edge>,
    /// Index of the next scenario event to play.
    next_event: usize,
    trace: Option<Trace>,
    trace_full_logged: bool,
}

impl SimBackend {
    /// Builds the world, continuing the one in the world file if it exists.
    pub fn new(options: SimOptions) -> Result<Self, BackendError> {
        let saved = WorldRecord::load(&options.world_file)?;
        let spec = continue_world(&options.world, saved.as_ref());
        let world = World::new(spec);
        options.monitor.attach(&world);
        Ok(Self {
            world,
            options,
            epoch: Instant::ZERO,
            heartbeats: Vec::new(),
            writer: None,
            world_edges: Vec::new(),
            next_event: 0,
            trace: None,
            trace_full_logged: false,
        })
    }

    /// Returns a handle on the simulated world, for scenarios and tests.
    pub fn world(&self) -> &World {
        &self.world
    }

    fn world_time(&self, now: Instant) -> Instant {
        Instant::ZERO + now.since(self.epoch)
    }

    /// Runs the world to `until`, playing the scenario events due on the way at their times.
    fn run_world_to(&mut self, until: Instant) {
        while let Some(event) = self.options.events.get(self.next_event) {
            if event.at > until {
                break;
            }
            self.world.advance_to(event.at);
            play(&self.world, &self.options.monitor, &event.action);
            self.next_event += 1;
        }
        self.world.advance_to(until);
    }

    fn write_trace(&self) -> Result<(), BackendError> {
        let (Some(trace), Some(folder)) = (&self.trace, &self.options.trace_dir) else {
            return Ok(());
        };
        let failed = |what: &str, error: &dyn std::fmt::Display| {
            BackendError::Other(format!("cannot write the trace {what}: {error}"))
        };
        let csv = folder.join("trace.csv");
        std::fs::write(&csv, trace.to_csv()).map_err(|error| failed("trace.csv", &error))?;
        let svg = folder.join("trace.svg");
        let drawing = trace
            .to_svg()
            .map_err(|error| failed("trace.svg", &error))?;
        std::fs::write(&svg, drawing).map_err(|error| failed("trace.svg", &error))?;
        info!(
            csv = %csv.display(),
            svg = %svg.display(),
            rows = trace.rows.len(),
            "trace written"
        );
        Ok(())
    }
}

/// Applies one scenario event to the world.
fn play(world: &World, monitor: &MonitorSpec, action: &Action) {
    info!(event = ?action, "scenario event");
    match action {
        Action::Hang(node) => world.hang(*node),
        Action::Stress(node, on) => world.set_stress(*node, *on),
        Action::UsbLoad(node, load) => world.set_usb_load(*node, *load),
        Action::Heartbeat(node, behaviour) => world.set_behaviour(*node, *behaviour),
        Action::Relay(node, fault) => world.set_relay_fault(*node, *fault),
        Action::Supply(change) => {
            let mut spec = world.supply();
            spec.nominal = change.nominal.unwrap_or(spec.nominal);
            spec.limit = change.limit.unwrap_or(spec.limit);
            spec.droop_mv_per_amp = change.droop_mv_per_amp.unwrap_or(spec.droop_mv_per_amp);
            spec.overload = change.overload.unwrap_or(spec.overload);
            world.set_supply(spec);
        }
        Action::Monitor(fault) => {
            world.inject_device_fault(monitor.address, *fault);
        }
        Action::Heartbeats {
            nodes,
            disconnected,
        } => {
            for &node in nodes {
                world.set_heartbeat_disconnected(node, *disconnected);
            }
        }
        Action::Command { .. } => {}
    }
}

/// Returns the board type whose published figures are nearest to a node's configuration.
fn board_for(node: &NodeConfig) -> BoardModel {
    let models = [
        BoardModel::Pi1ModelBRev2,
        BoardModel::Pi2ModelB,
        BoardModel::Pi3ModelB,
    ];
    let distance = |model: &BoardModel| {
        let figures = model.figures();
        (figures.typical.0 - node.idle.0).abs() + (figures.boot_peak.0 - node.boot_peak.0).abs()
    };
    models
        .into_iter()
        .min_by_key(distance)
        .unwrap_or(BoardModel::Pi2ModelB)
}

/// Returns the world's spec with every node whose switch the world file records as on
/// already running, as it kept running while the daemon was down.
fn continue_world(spec: &WorldSpec, saved: Option<&WorldRecord>) -> WorldSpec {
    let mut spec = spec.clone();
    let Some(saved) = saved else {
        return spec;
    };
    for node in &mut spec.nodes {
        let recorded = saved.nodes.iter().find(|record| record.name == node.name);
        if let (Some(record), Some((_, polarity))) = (recorded, node.switch) {
            node.initially_running = polarity.is_on(record.switch_high);
        }
    }
    spec
}

impl Backend for SimBackend {
    type Switch = SimLine;
    type Reset = SimLine;
    type Monitor = ChipMonitor<SimI2c>;

    fn name(&self) -> &'static str {
        "sim"
    }

    fn open(&mut self, cluster: &ClusterConfig<MAX_NODES>, now: Instant) -> OpenResult<Self> {
        self.epoch = now - self.world.now().since(Instant::ZERO);
        let writer = Arc::new(Mutex::new(WorldWriter {
            path: self.options.world_file.clone(),
            world: self.world.clone(),
            lines: cluster
                .nodes
                .iter()
                .filter_map(|node| {
                    let switch = node.switch?;
                    Some((
                        node.name.to_string(),
                        switch.line,
                        node.reset.map(|r| r.line),
                    ))
                })
                .collect(),
        }));

        let mut switches = heapless::Vec::new();
        let mut resets = heapless::Vec::new();
        let mut found = Vec::new();
        for (id, node) in cluster.nodes_with_ids() {
            let claim = |line: LineId| {
                self.world
                    .claim_output(line, CONSUMER)
                    .map_err(|error| BackendError::Other(format!("{error} (node {})", node.name)))
            };
            let mut levels = FoundLevels::default();
            let switch = match node.switch {
                Some(config) => {
                    levels.switch_high = Some(self.world.line_level(config.line));
                    Some(SimLine {
                        pin: claim(config.line)?,
                        writer: Arc::clone(&writer),
                    })
                }
                None => None,
            };
            let reset = match node.reset {
                Some(config) => {
                    levels.reset_high = Some(self.world.line_level(config.line));
                    Some(SimLine {
                        pin: claim(config.line)?,
                        writer: Arc::clone(&writer),
                    })
                }
                None => None,
            };
            if let Some(line) = node.heartbeat {
                let pin = self
                    .world
                    .claim_input(line, CONSUMER, None)
                    .map_err(|error| {
                        BackendError::Other(format!("{error} (node {})", node.name))
                    })?;
                levels.heartbeat_high = Some(self.world.line_level(line));
                self.heartbeats.push((id, pin));
            }
            // Capacity is MAX_NODES for both, as for the configuration's node table.
            let _ = switches.push(switch);
            let _ = resets.push(reset);
            found.push(levels);
        }

        let monitor = ChipMonitor::open(self.world.i2c(), &self.options.monitor_settings())?;
        let sample_period = monitor.sample_period();
        {
            let writer = writer
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            writer.save().map_err(|error| {
                BackendError::Other(format!(
                    "cannot write the simulated world file {}: {error}",
                    self.options.world_file.display()
                ))
            })?;
        }
        self.writer = Some(writer);
        let limit = self.world.supply().limit;
        self.trace = Some(Trace::for_cluster(&self.options.name, cluster, limit));
        Ok(Hardware {
            switches,
            resets,
            monitor,
            found,
            sample_period,
        })
    }

    fn advance(&mut self, now: Instant, edges: &mut Vec<Edge>) {
        self.run_world_to(self.world_time(now));
        let first = edges.len();
        for index in 0..self.heartbeats.len() {
            self.world_edges.clear();
            let (node, pin) = &mut self.heartbeats[index];
            let node = *node;
            let lost = pin.take_edges_into(&mut self.world_edges);
            if lost > 0 {
                warn!(node = node.0, lost, "simulated heartbeat edges were lost");
            }
            for edge in &self.world_edges {
                edges.push(Edge {
                    at: self.epoch + edge.at.since(Instant::ZERO),
                    node,
                    high: edge.high,
                });
            }
        }
        edges[first..].sort_by_key(|edge| edge.at);
    }

    fn simulated(&self) -> bool {
        true
    }

    fn observe(&mut self, now: Instant, controller: &Controller<MAX_NODES>) {
        let at = self.world_time(now);
        let Some(trace) = self.trace.as_mut() else {
            return;
        };
        if trace.rows.len() >= MAX_TRACE_ROWS {
            if !self.trace_full_logged {
                self.trace_full_logged = true;
                warn!(
                    rows = MAX_TRACE_ROWS,
                    "the trace is full; later changes are not traced"
                );
            }
            return;
        }
        let rail = self.world.rail();
        let measured = controller
            .supply_status(now)
            .last_sample
            .and_then(|(_, sample)| sample.current);
        let nodes = controller.config().nodes.len();
        let row = TraceRow {
            at,
            voltage: rail.voltage,
            current: rail.current,
            measured,
            states: (0..nodes)
                .map(|index| {
                    let node = NodeId(index as u8);
                    controller
                        .node_status(node, now)
                        .map(|status| status.state.kind())
                })
                .collect(),
            phases: (0..nodes.min(self.world.node_count()))
                .map(|index| self.world.node(index).phase)
                .collect(),
            levels: trace
                .lines
                .iter()
                .map(|(line, _)| self.world.line_level(*line))
                .collect(),
        };
        trace.push(row);
    }

    fn finish(&mut self) -> Result<(), BackendError> {
        let trace = self.write_trace();
        let Some(writer) = &self.writer else {
            return trace;
        };
        let writer = writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        writer.save().map_err(|error| {
            BackendError::Other(format!(
                "cannot write the simulated world file {}: {error}",
                self.options.world_file.display()
            ))
        })?;
        trace
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use picluster_firmware::reference;

    #[test]
    fn reference_nodes_map_to_their_boards() {
        let cluster = reference::cluster();
        let boards: Vec<BoardModel> = cluster.nodes.iter().map(board_for).collect();
        let expected = vec![
            BoardModel::Pi2ModelB,
            BoardModel::Pi2ModelB,
            BoardModel::Pi3ModelB,
            BoardModel::Pi1ModelBRev2,
        ];
        assert_eq!(boards, expected);
    }

    #[test]
    fn saved_world_starts_switched_nodes_running() {
        let cluster = reference::cluster();
        let options = SimOptions::for_cluster(
            &cluster,
            &crate::sim::reference_config().monitor,
            Path::new("/nonexistent"),
        );
        let switch = cluster.nodes[3].switch.unwrap();
        let saved = WorldRecord {
            version: WORLD_FILE_VERSION,
            nodes: vec![NodeRecord {
                name: "raspberrypi3.lan".to_string(),
                switch_line: switch.line.0,
                switch_high: switch.polarity.level_for(true),
                switch_changes: 4,
                reset_changes: 0,
            }],
        };
        let spec = continue_world(&options.world, Some(&saved));
        let running: Vec<bool> = spec
            .nodes
            .iter()
            .map(|node| node.initially_running)
            .collect();
        assert_eq!(running, vec![false, false, false, true]);
    }
}
