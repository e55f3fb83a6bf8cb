//! Turns a parsed scenario file into a [`Scenario`], collecting every problem.

use heapless::String as NodeName;
use picluster_firmware::config::{
    ClusterConfig, LineId, NodeConfig, NodeId, Polarity, QuarantinePower, Role, SwitchLine,
};
use picluster_firmware::controller::Command;
use picluster_firmware::reference::MAX_NODES;
use picluster_firmware::units::{Duration, Instant, Milliamps};

use super::check::{Check, StateName};
use super::file::{
    CheckFile, CommandFile, ControllerFile, EventFile, ExpectFile, HeartbeatFile, InitiallyFile,
    MonitorFaultFile, MonitorFile, NodeFile, OverloadFile, RelayFile, Restore, RoleFile,
    ScenarioFile, SupplyFile,
};
use super::quantity::Span;
use super::{Action, Scenario, ScheduledEvent, SupplyChange};
use crate::cluster::{SimCluster, node_seed, node_spec, reference_board};
use crate::i2c::DeviceFault;
use crate::monitor::MonitorChip;
use crate::node::{Behaviour, BoardModel, NodeSpec, RelayFault};
use crate::supply::{Overload, SupplySpec};

/// Monitor read period when a scenario gives none: about the INA219 driver's default (8
/// averages of each channel, 9.4 ms at the datasheet's longest conversion times).
const DEFAULT_SAMPLE_PERIOD: Duration = Duration::from_millis(10);

/// Smallest verification step of a node added by a scenario, as the reference configuration
/// uses: every board draws at least 100 mA within a second of power-on (estimate).
const ADDED_NODE_MIN_STEP: Milliamps = Milliamps(100);

pub fn build(file: ScenarioFile) -> Result<Scenario, Vec<String>> {
    let mut problems = Vec::new();
    let mut cluster = SimCluster::reference(file.seed);

    if let Some(supply) = &file.supply {
        apply_supply(supply, &mut cluster);
    }
    if let Some(monitor) = &file.monitor {
        apply_monitor(monitor, &mut cluster);
    }
    if let Some(controller) = &file.controller {
        apply_controller(controller, &mut cluster.config);
    }

    let mut relays = Vec::new();
    for node in &file.nodes {
        apply_node(node, file.seed, &mut cluster, &mut relays, &mut problems);
    }
    if let Err(found) = cluster.config.validate() {
        for problem in &found.problems {
            problems.push(format!("controller configuration: {problem:?}"));
        }
    }

    let names: Vec<String> = cluster.world.nodes.iter().map(|n| n.name.clone()).collect();
    let resolver = Resolver {
        names: &names,
        config: &cluster.config,
    };
    let mut events: Vec<ScheduledEvent> = relays
        .into_iter()
        .map(|(node, fault)| ScheduledEvent {
            at: Instant::ZERO,
            action: Action::Relay(node, fault),
        })
        .collect();
    for (index, event) in file.events.iter().enumerate() {
        match resolver.event(event) {
            Ok(event) => events.push(event),
            Err(problem) => problems.push(format!("events[{index}]: {problem}")),
        }
    }
    events.sort_by_key(|event| event.at);

    let mut checks = Vec::new();
    for (index, check) in file.checks.iter().enumerate() {
        match resolver.check(check) {
            Ok(check) => checks.push(check),
            Err(problem) => problems.push(format!("checks[{index}]: {problem}")),
        }
    }
    if file.duration.0 == Duration::ZERO {
        problems.push("duration must be longer than zero".into());
    }
    let sample_period = file
        .sample_period
        .map_or(DEFAULT_SAMPLE_PERIOD, |span| span.0);
    if sample_period == Duration::ZERO {
        problems.push("sample_period must be longer than zero".into());
    }

    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Scenario {
        name: file.name,
        description: file.description.trim().to_owned(),
        duration: file.duration.0,
        seed: file.seed,
        restore: file.restore.unwrap_or(Restore::AlwaysOn),
        sample_period,
        cluster,
        events,
        checks,
    })
}

fn apply_supply(supply: &SupplyFile, cluster: &mut SimCluster) {
    let spec = &mut cluster.world.supply;
    if let Some(nominal) = supply.nominal {
        spec.nominal = nominal.0;
    }
    if let Some(limit) = supply.limit {
        spec.limit = limit.0;
    }
    if let Some(droop) = supply.droop {
        spec.droop_mv_per_amp = droop.0;
    }
    spec.overload = overload(supply.overload, supply.sag, spec.overload);
    if let Overload::Hiccup {
        trip_after,
        off_for,
    } = &mut spec.overload
    {
        if let Some(span) = supply.trip_after {
            *trip_after = span.0;
        }
        if let Some(span) = supply.off_for {
            *off_for = span.0;
        }
    }
    if let Some(cable) = supply.cable {
        // uOhm / 1000 = mOhm.
        cluster.world.cable_milliohms = cable.0.0 / 1_000;
    }
}

/// Combines an overload choice and a sag with the behaviour in force.
fn overload(
    choice: Option<OverloadFile>,
    sag: Option<super::quantity::Slope>,
    present: Overload,
) -> Overload {
    let base = match choice {
        Some(OverloadFile::Hiccup) => SupplySpec::hiccup(),
        Some(OverloadFile::BrownOut) => match present {
            Overload::BrownOut { .. } => present,
            Overload::Hiccup { .. } => SupplySpec::reference_charger().overload,
        },
        None => present,
    };
    match (base, sag) {
        (Overload::BrownOut { .. }, Some(sag)) => Overload::BrownOut {
            sag_mv_per_amp: sag.0,
        },
        (base, _) => base,
    }
}

fn apply_monitor(monitor: &MonitorFile, cluster: &mut SimCluster) {
    let spec = &mut cluster.monitor;
    if let Some(chip) = monitor.chip {
        spec.chip = match chip {
            super::file::ChipFile::Ina219 => MonitorChip::Ina219,
            super::file::ChipFile::Ina226 => MonitorChip::Ina226,
        };
    }
    if let Some(address) = monitor.address {
        spec.address = address;
    }
    if let Some(shunt) = monitor.shunt {
        spec.shunt.resistance = shunt.0;
    }
    if let Some(max_current) = monitor.max_current {
        spec.max_current = max_current.0;
    }
    if let Some(ppm) = monitor.gain_error_ppm {
        spec.shunt.gain_error_ppm = ppm;
    }
}

fn apply_controller(file: &ControllerFile, config: &mut ClusterConfig<MAX_NODES>) {
    let supply = &mut config.supply;
    set(&mut supply.limit, file.supply_limit.map(|c| c.0));
    set(&mut supply.headroom, file.headroom.map(|c| c.0));
    set(&mut supply.under_voltage, file.under_voltage.map(|v| v.0));
    set(
        &mut supply.under_voltage_clear,
        file.under_voltage_clear.map(|v| v.0),
    );
    set(&mut config.recovery.reset_first, file.reset_first);
    if let Some(power) = file.quarantine_power {
        config.recovery.quarantine_power = match power {
            super::file::QuarantineFile::Off => QuarantinePower::Off,
            super::file::QuarantineFile::On => QuarantinePower::On,
        };
    }
    let t = &mut config.timings;
    let span = |value: Option<Span>| value.map(|s| s.0);
    set(&mut t.inrush_window, span(file.inrush_window));
    set(&mut t.boot_grace, span(file.boot_grace));
    set(&mut t.heartbeat_timeout, span(file.heartbeat_timeout));
    set(&mut t.min_off_time, span(file.min_off_time));
    set(&mut t.verify_window, span(file.verify_window));
    set(&mut t.trip_delay, span(file.trip_delay));
    set(&mut t.reset_pulse, span(file.reset_pulse));
    set(&mut t.backoff, span(file.backoff));
    set(&mut t.max_cycles, file.max_cycles);
    set(&mut t.cycle_window, span(file.cycle_window));
    set(&mut t.telemetry_timeout, span(file.telemetry_timeout));
}

fn set<T>(target: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *target = value;
    }
}

fn apply_node(
    file: &NodeFile,
    seed: u64,
    cluster: &mut SimCluster,
    relays: &mut Vec<(usize, RelayFault)>,
    problems: &mut Vec<String>,
) {
    let existing = cluster.config.node_by_name(&file.name);
    if file.remove {
        match existing {
            Some(id) => {
                cluster.config.nodes.remove(id.index());
                cluster.world.nodes.remove(id.index());
            }
            None => problems.push(format!(
                "nodes: \"{}\" cannot be removed: no such node",
                file.name
            )),
        }
        return;
    }

    let index = match existing {
        Some(id) => id.index(),
        None => match add_node(file, seed, cluster) {
            Ok(index) => index,
            Err(problem) => {
                problems.push(format!("nodes: \"{}\": {problem}", file.name));
                return;
            }
        },
    };
    if let Err(problem) = edit_node(file, index, cluster) {
        problems.push(format!("nodes: \"{}\": {problem}", file.name));
        return;
    }
    if let Some(relay) = file.relay {
        relays.push((index, relay_fault(relay)));
    }
}

fn board_of(file: &NodeFile) -> Result<Option<BoardModel>, String> {
    let Some(key) = &file.board else {
        return Ok(None);
    };
    BoardModel::from_key(key).map(Some).ok_or_else(|| {
        let known: Vec<&str> = BoardModel::ALL.iter().map(|b| b.key()).collect();
        format!(
            "unknown board \"{key}\"; expected one of {}",
            known.join(", ")
        )
    })
}

fn add_node(file: &NodeFile, seed: u64, cluster: &mut SimCluster) -> Result<usize, String> {
    let board =
        board_of(file)?.ok_or("a node that is not in the reference cluster needs `board`")?;
    let role = match file
        .role
        .ok_or("a new node needs `role` (\"head\" or \"worker\")")?
    {
        RoleFile::Head => Role::Head,
        RoleFile::Worker => Role::Worker,
    };
    let figures = board.figures();
    let name = NodeName::try_from(file.name.as_str())
        .map_err(|_| "the name is longer than 32 bytes".to_owned())?;
    let config = NodeConfig {
        name,
        role,
        priority: file.priority.unwrap_or(0),
        switch: None,
        reset: None,
        heartbeat: None,
        boot_peak: figures.boot_peak,
        idle: figures.typical,
        min_step: ADDED_NODE_MIN_STEP,
    };
    let index = cluster.config.nodes.len();
    cluster
        .config
        .nodes
        .push(config)
        .map_err(|_| format!("the controller holds at most {MAX_NODES} nodes"))?;
    let spec = node_spec(&cluster.config.nodes[index], board, node_seed(seed, index));
    cluster.world.nodes.push(spec);
    Ok(index)
}

fn edit_node(file: &NodeFile, index: usize, cluster: &mut SimCluster) -> Result<(), String> {
    let config = &mut cluster.config.nodes[index];
    if let Some(board) = board_of(file)? {
        let figures = board.figures();
        config.boot_peak = figures.boot_peak;
        config.idle = figures.typical;
        cluster.world.nodes[index].board = board;
    }
    if let Some(role) = file.role {
        config.role = match role {
            RoleFile::Head => Role::Head,
            RoleFile::Worker => Role::Worker,
        };
    }
    set(&mut config.priority, file.priority);
    let polarity = match file.active_low {
        Some(true) => Polarity::ActiveLow,
        Some(false) => Polarity::ActiveHigh,
        None => config.switch.map_or(Polarity::ActiveHigh, |s| s.polarity),
    };
    if let Some(line) = file.switch_line {
        config.switch = Some(SwitchLine {
            line: LineId(line),
            polarity,
        });
    } else if let Some(switch) = &mut config.switch {
        switch.polarity = polarity;
    }
    if let Some(line) = file.reset_line {
        // RUN is active low on every Raspberry Pi.
        config.reset = Some(SwitchLine {
            line: LineId(line),
            polarity: Polarity::ActiveLow,
        });
    }
    if let Some(line) = file.heartbeat_line {
        config.heartbeat = Some(LineId(line));
    }

    let spec: &mut NodeSpec = &mut cluster.world.nodes[index];
    spec.switch = config.switch.map(|s| (s.line, s.polarity));
    spec.run = config.reset.map(|s| (s.line, s.polarity));
    spec.heartbeat_line = config.heartbeat;
    if let Some(heartbeat) = file.heartbeat {
        spec.behaviour = behaviour(heartbeat);
    }
    if let Some(at) = file.hang_at {
        spec.hang_at = Some(Instant::ZERO + at.0);
    }
    if let Some(initially) = file.initially {
        spec.initially_running = initially == InitiallyFile::Running;
    }
    if reference_board(&file.name).is_none() && spec.switch.is_none() && config.role == Role::Worker
    {
        return Err("a worker needs `switch_line`".into());
    }
    Ok(())
}

fn relay_fault(relay: RelayFile) -> RelayFault {
    match relay {
        RelayFile::None => RelayFault::None,
        RelayFile::Welded => RelayFault::Welded,
        RelayFile::Open => RelayFault::Open,
    }
}

fn behaviour(file: HeartbeatFile) -> Behaviour {
    let Behaviour::Agent {
        period: default_period,
        jitter: default_jitter,
    } = Behaviour::healthy()
    else {
        unreachable!("the healthy behaviour is an agent");
    };
    match file {
        HeartbeatFile::Agent { period, jitter } => Behaviour::Agent {
            period: period.map_or(default_period, |s| s.0),
            jitter: jitter.map_or(default_jitter, |s| s.0),
        },
        HeartbeatFile::KernelLed {} => Behaviour::KernelLed,
        HeartbeatFile::NeverBoots {} => Behaviour::NeverBoots,
        HeartbeatFile::RebootLoop {
            period,
            alive_for,
            restart_after,
        } => Behaviour::RebootLoop {
            period: period.map_or(default_period, |s| s.0),
            alive_for: alive_for.0,
            restart_after: restart_after.map(|s| s.0),
        },
        HeartbeatFile::Noisy {
            period,
            burst_every,
            burst_edges,
            burst_spacing,
        } => Behaviour::Noisy {
            period: period.map_or(default_period, |s| s.0),
            burst_every: burst_every.0,
            burst_edges,
            burst_spacing: burst_spacing.0,
        },
        HeartbeatFile::StuckHigh {} => Behaviour::StuckHigh,
    }
}

/// Resolves names in events and checks against the built cluster.
struct Resolver<'a> {
    names: &'a [String],
    config: &'a ClusterConfig<MAX_NODES>,
}

impl Resolver<'_> {
    fn node(&self, name: &str) -> Result<usize, String> {
        self.names
            .iter()
            .position(|known| known == name)
            .ok_or_else(|| {
                format!(
                    "unknown node \"{name}\"; the cluster has {}",
                    self.names.join(", ")
                )
            })
    }

    fn nodes(&self, names: &Option<Vec<String>>) -> Result<Vec<usize>, String> {
        match names {
            Some(names) => names.iter().map(|name| self.node(name)).collect(),
            None => Ok(self.workers()),
        }
    }

    fn workers(&self) -> Vec<usize> {
        self.config
            .nodes_with_ids()
            .filter(|(_, node)| node.role == Role::Worker)
            .map(|(id, _)| id.index())
            .collect()
    }

    fn event(&self, event: &EventFile) -> Result<ScheduledEvent, String> {
        let at = |span: &Span| Instant::ZERO + span.0;
        let (time, action) = match event {
            EventFile::Hang { at: t, node } => (at(t), Action::Hang(self.node(node)?)),
            EventFile::Stress { at: t, node, on } => (at(t), Action::Stress(self.node(node)?, *on)),
            EventFile::UsbLoad {
                at: t,
                node,
                current,
            } => (at(t), Action::UsbLoad(self.node(node)?, current.0)),
            EventFile::Heartbeat {
                at: t,
                node,
                heartbeat,
            } => (
                at(t),
                Action::Heartbeat(self.node(node)?, behaviour(*heartbeat)),
            ),
            EventFile::Relay { at: t, node, fault } => {
                (at(t), Action::Relay(self.node(node)?, relay_fault(*fault)))
            }
            EventFile::Supply {
                at: t,
                nominal,
                limit,
                droop,
                overload: choice,
                sag,
            } => {
                let change = SupplyChange {
                    nominal: nominal.map(|v| v.0),
                    limit: limit.map(|c| c.0),
                    droop_mv_per_amp: droop.map(|s| s.0),
                    overload: (choice.is_some() || sag.is_some()).then(|| {
                        let present = SupplySpec::reference_charger().overload;
                        overload(*choice, *sag, present)
                    }),
                };
                (at(t), Action::Supply(change))
            }
            EventFile::Monitor {
                at: t,
                fault,
                register,
                value,
                bit,
            } => (
                at(t),
                Action::Monitor(monitor_fault(*fault, *register, *value, *bit)?),
            ),
            EventFile::DisconnectHeartbeats { at: t, nodes } => (
                at(t),
                Action::Heartbeats {
                    nodes: self.nodes(nodes)?,
                    disconnected: true,
                },
            ),
            EventFile::ReconnectHeartbeats { at: t, nodes } => (
                at(t),
                Action::Heartbeats {
                    nodes: self.nodes(nodes)?,
                    disconnected: false,
                },
            ),
            EventFile::Command {
                at: t,
                node,
                command,
                expect,
            } => (
                at(t),
                Action::Command {
                    node: NodeId(self.node(node)? as u8),
                    command: command_of(*command),
                    expect_accepted: expect.map(|e| e == ExpectFile::Accepted),
                },
            ),
        };
        Ok(ScheduledEvent { at: time, action })
    }

    fn check(&self, check: &CheckFile) -> Result<Check, String> {
        let at = |span: Option<Span>| span.map(|s| Instant::ZERO + s.0);
        let state = |text: &str| {
            StateName::parse(text).ok_or_else(|| {
                format!(
                    "unknown state \"{text}\"; expected a state name such as \"running\", \
                     \"quarantined\" or \"faulted-stuck-on\""
                )
            })
        };
        Ok(match check {
            CheckFile::PowerCycled {
                node,
                after,
                within,
            } => Check::PowerCycled {
                node: self.node(node)?,
                after: at(*after).unwrap_or(Instant::ZERO),
                within: within.0,
            },
            CheckFile::ResetPulsed {
                node,
                after,
                within,
            } => Check::ResetPulsed {
                node: self.node(node)?,
                after: at(*after).unwrap_or(Instant::ZERO),
                within: within.0,
            },
            CheckFile::NeverSwitchedOff { nodes, from, until } => Check::NeverSwitchedOff {
                nodes: self.nodes(nodes)?,
                from: at(*from),
                until: at(*until),
            },
            CheckFile::NeverReset { nodes, from, until } => Check::NeverReset {
                nodes: self.nodes(nodes)?,
                from: at(*from),
                until: at(*until),
            },
            CheckFile::DrawLimit { limit, longer_than } => Check::DrawLimit {
                limit: limit.0,
                longer_than: longer_than.0,
            },
            CheckFile::VoltageFloor { floor, longer_than } => Check::VoltageFloor {
                floor: floor.0,
                longer_than: longer_than.0,
            },
            CheckFile::FinalState { node, state: name } => Check::FinalState {
                node: self.node(node)?,
                state: state(name)?,
            },
            CheckFile::StateReached {
                node,
                state: name,
                after,
                within,
            } => Check::StateReached {
                node: self.node(node)?,
                state: state(name)?,
                after: at(*after).unwrap_or(Instant::ZERO),
                within: within.map(|s| s.0),
            },
            CheckFile::EventRaised {
                event,
                node,
                after,
                within,
            } => Check::EventRaised {
                event: super::check::event_name(event)?,
                node: node.as_deref().map(|n| self.node(n)).transpose()?,
                after: at(*after).unwrap_or(Instant::ZERO),
                within: within.map(|s| s.0),
            },
            CheckFile::EventNotRaised {
                event,
                node,
                from,
                until,
            } => Check::EventNotRaised {
                event: super::check::event_name(event)?,
                node: node.as_deref().map(|n| self.node(n)).transpose()?,
                from: at(*from),
                until: at(*until),
            },
            CheckFile::LineNeverChanges { line } => Check::LineNeverChanges {
                line: LineId(*line),
            },
            CheckFile::NoBrownOut { nodes } => Check::NoBrownOut {
                nodes: match nodes {
                    Some(_) => self.nodes(nodes)?,
                    None => (0..self.names.len()).collect(),
                },
            },
            CheckFile::ShedOrder { nodes } => Check::ShedOrder {
                nodes: nodes
                    .iter()
                    .map(|n| self.node(n))
                    .collect::<Result<_, _>>()?,
            },
            CheckFile::PowerOnSpacing { min } => Check::PowerOnSpacing { min: min.0 },
            CheckFile::Running { nodes, by } => Check::Running {
                nodes: self.nodes(nodes)?,
                by: Instant::ZERO + by.0,
            },
            CheckFile::RecoveryLadder {
                node,
                cycles_at,
                quarantined_at,
                tolerance,
            } => Check::RecoveryLadder {
                node: self.node(node)?,
                cycles_at: cycles_at.iter().map(|s| s.0).collect(),
                quarantined_at: quarantined_at.map(|s| s.0),
                tolerance: tolerance.0,
            },
        })
    }
}

fn command_of(command: CommandFile) -> Command {
    match command {
        CommandFile::On => Command::On,
        CommandFile::Off => Command::Off,
        CommandFile::Cycle => Command::Cycle,
        CommandFile::Reset => Command::Reset,
        CommandFile::Hold => Command::Hold,
        CommandFile::Release => Command::Release,
    }
}

fn monitor_fault(
    fault: MonitorFaultFile,
    register: Option<u8>,
    value: Option<u16>,
    bit: Option<u8>,
) -> Result<DeviceFault, String> {
    Ok(match fault {
        MonitorFaultFile::NoAck => DeviceFault::NoAcknowledge,
        MonitorFaultFile::Ack => DeviceFault::Acknowledge,
        MonitorFaultFile::Reset => DeviceFault::Reset,
        MonitorFaultFile::Clear => DeviceFault::ClearRegisterFaults,
        MonitorFaultFile::Stuck => DeviceFault::StuckRegister {
            register: register.ok_or("fault \"stuck\" needs `register`")?,
            value: value.ok_or("fault \"stuck\" needs `value`")?,
        },
        MonitorFaultFile::Flip => {
            let bit = bit.ok_or("fault \"flip\" needs `bit`")?;
            if bit > 15 {
                return Err(format!("bit {bit} does not exist in a 16-bit register"));
            }
            DeviceFault::FlippedBit {
                register: register.ok_or("fault \"flip\" needs `register`")?,
                bit,
            }
        }
    })
}
