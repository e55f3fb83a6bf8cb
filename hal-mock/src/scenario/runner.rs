//! The runner: the firmware's `Board` against the simulated world, event by event.
//!
//! Each step advances the world to the earliest instant anything is due. Candidates are the
//! controller's next deadline, the next monitor read, the next scenario event, the world's
//! next change of its own (a heartbeat edge, a boot phase, a supply hiccup) and the end of
//! the run. At that instant the runner
//! hands the controller the heartbeat edges with their own times, applies the scenario's
//! events, reads the monitor through the firmware driver if a read is due, polls the
//! controller if a deadline passed, and applies the controller's actions to the pins.

use std::fmt;

use heapless::Vec as NodeVec;
use picluster_firmware::board::{Board, BoardError};
use picluster_firmware::config::{LineId, NodeId, Role};
use picluster_firmware::controller::{Command, Controller, NodeStart, Rejection};
use picluster_firmware::event::Event;
use picluster_firmware::monitor::Monitor;
use picluster_firmware::reference::MAX_NODES;
use picluster_firmware::state::NodeState;
use picluster_firmware::units::{Duration, Instant, Milliamps};

use super::check::{CheckResult, Timeline};
use super::{Action, Restore, Scenario};
use crate::clock::{Pacer, Pacing};
use crate::line::{ClaimError, Edge, LINE_COUNT, Pull};
use crate::monitor::{MonitorSetupError, SimSampleSource};
use crate::pin::{PinError, SimInputPin, SimOutputPin};
use crate::rail::RailPoint;
use crate::trace::{Trace, TraceRow};
use crate::world::{World, WorldStatus};

/// The label the runner claims lines with, as the daemon's GPIO consumer name.
const CONSUMER: &str = "picluster";

/// Steps at one instant after which the runner gives up: a model or the controller keeps
/// asking for the same time without making progress.
const MAX_STEPS_AT_ONE_INSTANT: u32 = 10_000;

type SimBoard = Board<MAX_NODES, SimOutputPin, SimOutputPin, SimSampleSource>;

/// How to run a scenario.
#[derive(Clone, Copy, Debug)]
pub struct RunOptions {
    /// The mapping of virtual time to wall time.
    pub pacing: Pacing,
    /// Record a trace of every change.
    pub trace: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            pacing: Pacing::AsFastAsPossible,
            trace: false,
        }
    }
}

/// A failure that stops a run from starting or finishing.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A line could not be claimed.
    #[error("cannot claim a line: {0}")]
    Claim(#[from] ClaimError),
    /// The monitor could not be set up.
    #[error("cannot set up the monitor: {0}")]
    Monitor(#[from] MonitorSetupError),
    /// The scenario reads the monitor faster than the chip converts.
    #[error(
        "sample_period {period} is shorter than the monitor's conversion time {conversion}; \
         raise sample_period"
    )]
    SamplePeriod {
        /// The scenario's read period.
        period: Duration,
        /// The driver's sample period.
        conversion: Duration,
    },
    /// The controller rejected the configuration.
    #[error("the controller rejected the configuration: {0}")]
    Config(String),
    /// The run made no progress.
    #[error("the run is stuck at {at}: {what}")]
    Stuck {
        /// The instant the run cannot leave.
        at: Instant,
        /// The part that keeps asking for it.
        what: String,
    },
}

/// An operator command a scenario gave and its outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandOutcome {
    /// When it was given.
    pub at: Instant,
    /// The node's name.
    pub node: String,
    /// The command.
    pub command: Command,
    /// Accepted, or the controller's reason for rejecting it.
    pub result: Result<(), Rejection>,
}

/// The outcome of a run.
#[derive(Clone, Debug)]
pub struct Report {
    /// The scenario's name.
    pub scenario: String,
    /// When the run ended.
    pub end: Instant,
    /// Each check's outcome, command expectations included.
    pub checks: Vec<CheckResult>,
    /// Every event the controller raised.
    pub events: Vec<Event>,
    /// Every operator command, the restore policy's included.
    pub commands: Vec<CommandOutcome>,
    /// Monitor reads that failed.
    pub monitor_errors: u32,
    /// Pin writes that failed.
    pub pin_errors: u32,
    /// The newest pin failure, if any.
    pub last_pin_error: Option<String>,
    /// Steps taken.
    pub steps: u64,
    /// The trace, when requested.
    pub trace: Option<Trace>,
}

impl Report {
    /// Returns whether every check passed.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|check| check.passed)
    }

    /// Returns the checks that failed.
    pub fn failures(&self) -> Vec<&CheckResult> {
        self.checks.iter().filter(|check| !check.passed).collect()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "scenario {}: {} steps to {}, {} events, {} monitor errors",
            self.scenario,
            self.steps,
            self.end,
            self.events.len(),
            self.monitor_errors
        )?;
        for check in &self.checks {
            let verdict = if check.passed { "PASS" } else { "FAIL" };
            writeln!(f, "{verdict} {}: {}", check.check, check.detail)?;
        }
        Ok(())
    }
}

/// Runs a scenario to its end and evaluates its checks.
pub fn run(scenario: &Scenario, options: RunOptions) -> Result<Report, RunError> {
    let world = scenario.cluster.build_world();
    let mut runner = Runner::new(scenario, &world, options)?;
    runner.run()?;
    Ok(runner.finish())
}

struct Runner<'a> {
    scenario: &'a Scenario,
    world: &'a World,
    board: SimBoard,
    inputs: Vec<Option<SimInputPin>>,
    edges: Vec<Edge>,
    pacer: Pacer,
    now: Instant,
    /// Time of the controller's newest input: every timer is advanced to it.
    last_input: Instant,
    /// The controller's deadline after the last step.
    deadline: Option<Instant>,
    /// The world's edge count when edges were last delivered.
    edges_seen: u64,
    /// The world's status after the last step.
    status: WorldStatus,
    /// The world's revision that `status` was read at.
    status_revision: u64,
    next_sample: Instant,
    next_event: usize,
    restored: bool,
    line_changes_at_start: Vec<u64>,
    events: Vec<Event>,
    commands: Vec<CommandOutcome>,
    expectations: Vec<CheckResult>,
    rail: Vec<RailPoint>,
    monitor_errors: u32,
    pin_errors: u32,
    last_pin_error: Option<String>,
    steps: u64,
    trace: Option<Trace>,
}

impl<'a> Runner<'a> {
    fn new(
        scenario: &'a Scenario,
        world: &'a World,
        options: RunOptions,
    ) -> Result<Self, RunError> {
        let config = scenario.cluster.config.clone();

        let mut switches = NodeVec::new();
        let mut resets = NodeVec::new();
        let mut inputs = Vec::new();
        for node in &config.nodes {
            let switch = node
                .switch
                .map(|s| world.claim_output(s.line, CONSUMER))
                .transpose()?;
            let reset = node
                .reset
                .map(|r| world.claim_output(r.line, CONSUMER))
                .transpose()?;
            let input = node
                .heartbeat
                .map(|line| world.claim_input(line, CONSUMER, Some(Pull::Down)))
                .transpose()?;
            // Capacity: the configuration has at most MAX_NODES nodes.
            let _ = switches.push(switch);
            let _ = resets.push(reset);
            inputs.push(input);
        }

        let source = scenario.cluster.monitor.connect(world.i2c())?;
        let conversion = source.0.sample_period();
        if scenario.sample_period < conversion {
            return Err(RunError::SamplePeriod {
                period: scenario.sample_period,
                conversion,
            });
        }

        let starts: Vec<NodeStart> = config
            .nodes
            .iter()
            .map(|node| NodeStart {
                switch_on: node
                    .switch
                    .is_some_and(|s| s.polarity.is_on(world.line_level(s.line))),
                heartbeat_high: node.heartbeat.is_some_and(|line| world.line_level(line)),
                admin: Default::default(),
            })
            .collect();
        let controller = Controller::new(config, Instant::ZERO, &starts)
            .map_err(|problems| RunError::Config(format!("{problems:?}")))?;
        let board = Board::new(controller, switches, resets, source);

        let (status, status_revision) = world.status_with_revision();
        let line_changes_at_start = (0..LINE_COUNT)
            .map(|line| world.line_changes(LineId(line)))
            .collect();
        let trace = options.trace.then(|| Trace::new(scenario));
        Ok(Self {
            scenario,
            pacer: Pacer::new(options.pacing, Instant::ZERO),
            board,
            inputs,
            edges: Vec::new(),
            now: Instant::ZERO,
            last_input: Instant::ZERO,
            deadline: None,
            edges_seen: 0,
            status,
            status_revision,
            next_sample: Instant::ZERO + scenario.sample_period,
            next_event: 0,
            restored: scenario.restore == Restore::AsFound,
            line_changes_at_start,
            events: Vec::new(),
            commands: Vec::new(),
            expectations: Vec::new(),
            rail: vec![world.rail()],
            monitor_errors: 0,
            pin_errors: 0,
            last_pin_error: None,
            steps: 0,
            trace,
            world,
        })
    }

    fn run(&mut self) -> Result<(), RunError> {
        // The world is private to this run, so holding its lock throughout keeps nobody out.
        // Every call on the world, the pins and the bus then re-enters the lock without an
        // atomic operation: a sample's five register transfers cost no lock of their own.
        let world = self.world;
        let _lock = world.lock();
        let end = Instant::ZERO + self.scenario.duration;
        let mut repeats = 0u32;
        self.apply_actions();
        self.observe();
        self.deadline = self.board.controller().next_deadline();
        loop {
            let next = self.next_step(end);
            if next == self.now {
                repeats += 1;
                if repeats > MAX_STEPS_AT_ONE_INSTANT {
                    return Err(RunError::Stuck {
                        at: next,
                        what: "a model or the controller asks for this instant again and again"
                            .into(),
                    });
                }
            } else {
                repeats = 0;
            }
            self.step(next);
            if next >= end {
                return Ok(());
            }
        }
    }

    /// Returns the earliest instant anything is due.
    fn next_step(&self, end: Instant) -> Instant {
        let now = self.now;
        let mut next = end.min(self.next_sample);
        if let Some(deadline) = self.deadline.filter(|&at| at > now) {
            next = next.min(deadline);
        }
        if let Some(event) = self.scenario.events.get(self.next_event) {
            next = next.min(event.at);
        }
        if let Some(change) = self.status.next_change {
            next = next.min(change);
        }
        next.max(now)
    }

    fn step(&mut self, at: Instant) {
        self.pacer.wait_until(at);
        match self.world.advance_to_since(at, self.status_revision) {
            Some((status, revision)) => (self.status, self.status_revision) = (status, revision),
            None => self.status.now = self.status.now.max(at),
        }
        self.now = at;
        self.steps += 1;

        self.deliver_edges(self.status.edge_count);
        self.apply_scenario_events();
        if self.now >= self.next_sample {
            self.read_monitor();
        }
        // An input at this instant (a sample or an edge) already advanced every timer to now,
        // so only a step without one can have a deadline left to poll for.
        if self.last_input < self.now {
            let deadline = self.board.controller().next_deadline();
            if deadline.is_some_and(|d| d <= self.now && d > self.last_input) {
                self.board.poll(self.now);
                self.last_input = self.now;
            }
        }
        self.restore_power();
        self.apply_actions();
        self.observe();
        self.deadline = self.board.controller().next_deadline();
    }

    /// Hands the controller every heartbeat edge since the last delivery, when the world's
    /// edge count shows there are any.
    fn deliver_edges(&mut self, edge_count: u64) {
        if edge_count == self.edges_seen {
            return;
        }
        self.edges_seen = edge_count;
        for (index, input) in self.inputs.iter_mut().enumerate() {
            let Some(input) = input else { continue };
            self.edges.clear();
            input.take_edges_into(&mut self.edges);
            for edge in &self.edges {
                self.board
                    .heartbeat_edge(edge.at, NodeId(index as u8), edge.high);
                self.last_input = edge.at;
            }
        }
    }

    fn apply_scenario_events(&mut self) {
        let mut applied = false;
        while let Some(event) = self.scenario.events.get(self.next_event) {
            if event.at > self.now {
                break;
            }
            self.next_event += 1;
            self.apply_event(&event.action);
            applied = true;
        }
        if applied {
            // Events may have changed lines at this instant.
            let edge_count = self.world.edge_count();
            self.deliver_edges(edge_count);
        }
    }

    fn apply_event(&mut self, action: &Action) {
        let world = self.world;
        match action {
            Action::Hang(node) => world.hang(*node),
            Action::Stress(node, on) => world.set_stress(*node, *on),
            Action::UsbLoad(node, load) => world.set_usb_load(*node, *load),
            Action::Heartbeat(node, behaviour) => world.set_behaviour(*node, *behaviour),
            Action::Relay(node, fault) => world.set_relay_fault(*node, *fault),
            Action::Supply(change) => {
                let mut spec = world.supply();
                if let Some(nominal) = change.nominal {
                    spec.nominal = nominal;
                }
                if let Some(limit) = change.limit {
                    spec.limit = limit;
                }
                if let Some(droop) = change.droop_mv_per_amp {
                    spec.droop_mv_per_amp = droop;
                }
                if let Some(overload) = change.overload {
                    spec.overload = overload;
                }
                world.set_supply(spec);
            }
            Action::Monitor(fault) => {
                world.inject_device_fault(self.scenario.cluster.monitor.address, *fault);
            }
            Action::Heartbeats {
                nodes,
                disconnected,
            } => {
                for node in nodes {
                    world.set_heartbeat_disconnected(*node, *disconnected);
                }
            }
            Action::Command {
                node,
                command,
                expect_accepted,
            } => self.command(*node, *command, *expect_accepted),
        }
    }

    fn command(&mut self, node: NodeId, command: Command, expect_accepted: Option<bool>) {
        let result = self.board.command(self.now, node, command);
        self.last_input = self.now;
        let name = self.world.node_name(node.index());
        if let Some(expected) = expect_accepted {
            let expected_outcome = if expected { "accepted" } else { "rejected" };
            let check = format!(
                "{command:?} for {name} at {} is {expected_outcome}",
                self.now
            );
            self.expectations.push(CheckResult {
                check,
                passed: result.is_ok() == expected,
                detail: format!("outcome: {result:?}"),
            });
        }
        self.commands.push(CommandOutcome {
            at: self.now,
            node: name,
            command,
            result,
        });
    }

    fn read_monitor(&mut self) {
        while self.next_sample <= self.now {
            self.next_sample = self.next_sample + self.scenario.sample_period;
        }
        if self.board.read_monitor(self.now).is_err() {
            self.monitor_errors += 1;
        }
        self.last_input = self.now;
    }

    /// Applies the restore policy once the first valid sample arrived: every worker found
    /// off is switched on, through the controller's queue and budget.
    fn restore_power(&mut self) {
        if self.restored || !self.board.controller().supply_status(self.now).telemetry_ok {
            return;
        }
        self.restored = true;
        let config = self.board.controller().config().clone();
        for (id, node) in config.nodes_with_ids() {
            let off = self
                .board
                .controller()
                .node_status(id, self.now)
                .is_some_and(|status| matches!(status.state, NodeState::Off { .. }));
            if node.role == Role::Worker && off {
                self.command(id, Command::On, None);
            }
        }
    }

    fn apply_actions(&mut self) {
        loop {
            let events = &mut self.events;
            match self.board.apply(|event| events.push(*event)) {
                Ok(()) => return,
                // The failed action is off the queue; the next pass applies the rest.
                Err(error) => self.note_pin_error(error),
            }
        }
    }

    fn note_pin_error(&mut self, error: BoardError<PinError, PinError>) {
        self.pin_errors += 1;
        self.last_pin_error = Some(format!("{error:?}"));
    }

    fn observe(&mut self) {
        // Pin writes and scenario events change the world; monitor reads and edge deliveries
        // do not, so most steps keep the status that advancing the world returned.
        if let Some((status, revision)) = self.world.status_since(self.status_revision) {
            self.status = status;
            self.status_revision = revision;
        }
        let rail = self.status.rail;
        let last = self.rail.last().copied();
        if last.is_none_or(|p| p.current != rail.current || p.voltage != rail.voltage) {
            self.rail.push(RailPoint {
                at: self.now,
                ..rail
            });
        }
        if self.trace.is_some() {
            let row = self.trace_row(rail);
            if let Some(trace) = &mut self.trace {
                trace.push(row);
            }
        }
    }

    fn trace_row(&self, rail: RailPoint) -> TraceRow {
        let controller = self.board.controller();
        let count = controller.config().nodes.len();
        let states = (0..count)
            .map(|index| {
                controller
                    .node_status(NodeId(index as u8), self.now)
                    .map(|status| status.state.kind())
            })
            .collect();
        let phases = (0..count)
            .map(|index| self.world.node(index).phase)
            .collect();
        let trace = self.trace.as_ref().expect("tracing is on");
        let levels = trace
            .lines
            .iter()
            .map(|(line, _)| self.world.line_level(*line))
            .collect();
        let measured: Option<Milliamps> = controller
            .supply_status(self.now)
            .last_sample
            .and_then(|(_, sample)| sample.current);
        TraceRow {
            at: self.now,
            voltage: rail.voltage,
            current: rail.current,
            measured,
            states,
            phases,
            levels,
        }
    }

    fn finish(self) -> Report {
        let end = self.now;
        let config = self.board.controller().config().clone();
        let count = config.nodes.len();
        let mut switch_edges = Vec::new();
        let mut reset_edges = Vec::new();
        for node in &config.nodes {
            switch_edges.push(node.switch.map_or_else(Vec::new, |s| {
                self.world
                    .edges(s.line)
                    .into_iter()
                    .map(|e| (e.at, s.polarity.is_on(e.high)))
                    .collect()
            }));
            reset_edges.push(node.reset.map_or_else(Vec::new, |r| {
                self.world
                    .edges(r.line)
                    .into_iter()
                    .map(|e| (e.at, r.polarity.is_on(e.high)))
                    .collect()
            }));
        }
        let line_changes = (0..LINE_COUNT)
            .map(|line| {
                let changes = self.world.line_changes(LineId(line));
                (
                    LineId(line),
                    changes - self.line_changes_at_start[line as usize],
                )
            })
            .collect();
        let timeline = Timeline {
            end,
            names: (0..count).map(|i| self.world.node_name(i)).collect(),
            events: self.events.clone(),
            rail: self.rail.clone(),
            switch_edges,
            reset_edges,
            line_changes,
            brown_outs: (0..count).map(|i| self.world.node(i).brown_outs).collect(),
            final_states: (0..count)
                .map(|i| {
                    self.board
                        .controller()
                        .node_status(NodeId(i as u8), end)
                        .map_or(NodeState::Running, |status| status.state)
                })
                .collect(),
        };
        let mut checks: Vec<CheckResult> = self
            .scenario
            .checks
            .iter()
            .map(|check| timeline.evaluate(check))
            .collect();
        checks.extend(self.expectations);
        Report {
            scenario: self.scenario.name.clone(),
            end,
            checks,
            events: self.events,
            commands: self.commands,
            monitor_errors: self.monitor_errors,
            pin_errors: self.pin_errors,
            last_pin_error: self.last_pin_error,
            steps: self.steps,
            trace: self.trace,
        }
    }
}
