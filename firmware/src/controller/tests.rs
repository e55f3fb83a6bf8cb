//! Behaviour tests of the controller against a small model of the reference cluster.

extern crate std;

use std::vec::Vec;

use super::*;
use crate::config::{NodeId, QuarantinePower};
use crate::event::{Cause, EventKind, StuckWay};
use crate::reference;
use crate::state::{NodeState, StateKind};
use crate::units::Duration;

const NODE0: NodeId = NodeId(0);
const NODE1: NodeId = NodeId(1);
const HEAD: NodeId = NodeId(2);
const NODE3: NodeId = NodeId(3);

/// Estimate: a Pi's heartbeat agent starts about 20 s after power-on, well within boot grace.
const BOOT_TIME: Duration = Duration::from_secs(20);
/// A healthy agent toggles its line every 500 ms (a 1 Hz square wave).
const BEAT: Duration = Duration::from_millis(500);
/// The rig's monitor delivers a sample every 100 ms.
const SAMPLE_PERIOD: Duration = Duration::from_millis(100);

#[derive(Clone, Copy, Debug, PartialEq)]
enum Heart {
    /// Beats from boot on.
    Healthy,
    /// Never produces an edge.
    Silent,
    /// Beats for this long after each boot, then stops.
    DiesAfter(Duration),
}

#[derive(Clone, Debug)]
struct SimNode {
    powered: bool,
    welded: bool,
    heart: Heart,
    /// When the present boot started; `None` while unpowered.
    booted_at: Option<Instant>,
    level: bool,
    next_edge: Option<Instant>,
    draw_ma: i32,
}

impl SimNode {
    fn schedule_boot(&mut self, now: Instant, delay: Duration) {
        self.booted_at = Some(now);
        self.next_edge = match self.heart {
            Heart::Silent => None,
            _ => Some(now + delay),
        };
    }

    fn beating_at(&self, at: Instant) -> bool {
        match (self.heart, self.booted_at) {
            (Heart::Healthy, Some(_)) => true,
            (Heart::DiesAfter(life), Some(boot)) => at < boot + BOOT_TIME + life,
            _ => false,
        }
    }
}

/// The controller wired to a model of the cluster, advanced event by event in virtual time.
struct Rig {
    controller: Controller<8>,
    now: Instant,
    nodes: Vec<SimNode>,
    actions: Vec<(Instant, Action)>,
    next_sample: Instant,
    telemetry: bool,
    extra_ma: i32,
    voltage_mv: i32,
}

impl Rig {
    fn reference() -> Self {
        Self::with(reference_config(), &[true, true, true, true])
    }

    /// Builds a rig whose nodes are powered (and healthy) where `powered` is true.
    fn with(config: ClusterConfig<8>, powered: &[bool]) -> Self {
        let now = Instant::from_secs(1_000);
        let mut nodes = Vec::new();
        let mut start = Vec::new();
        for (index, node) in config.nodes.iter().enumerate() {
            let on = powered[index];
            let mut sim = SimNode {
                powered: on,
                welded: false,
                heart: Heart::Healthy,
                booted_at: None,
                level: false,
                next_edge: None,
                draw_ma: node.idle.0,
            };
            if on {
                sim.schedule_boot(now - BOOT_TIME, Duration::ZERO);
                sim.next_edge = Some(now);
            }
            nodes.push(sim);
            start.push(NodeStart {
                switch_on: on,
                ..NodeStart::default()
            });
        }
        let controller = Controller::new(config, now, &start).expect("valid configuration");
        let mut rig = Rig {
            controller,
            now,
            nodes,
            actions: Vec::new(),
            next_sample: now,
            telemetry: true,
            extra_ma: 0,
            voltage_mv: 5_050,
        };
        rig.drain();
        rig
    }

    fn draw(&self) -> i32 {
        let nodes: i32 = self
            .nodes
            .iter()
            .filter(|n| n.powered)
            .map(|n| n.draw_ma)
            .sum();
        nodes + self.extra_ma
    }

    fn run_for(&mut self, span: Duration) {
        self.run_until(self.now + span);
    }

    fn run_until(&mut self, end: Instant) {
        loop {
            let mut next = end;
            if self.telemetry {
                next = next.min(self.next_sample);
            }
            for node in &self.nodes {
                if let Some(at) = node.next_edge {
                    next = next.min(at);
                }
            }
            if let Some(at) = self.controller.next_deadline() {
                next = next.min(at);
            }
            if next > end || (next == end && next == self.now) {
                return;
            }
            self.now = next;
            self.step();
            if next == end {
                return;
            }
        }
    }

    fn step(&mut self) {
        let now = self.now;
        if self.telemetry && self.next_sample <= now {
            self.next_sample = now + SAMPLE_PERIOD;
            let sample = Sample {
                voltage: Millivolts(self.voltage_mv),
                current: Some(Milliamps(self.draw())),
            };
            self.controller.sample(now, sample);
            self.drain();
        }
        for index in 0..self.nodes.len() {
            let node = &mut self.nodes[index];
            let Some(at) = node.next_edge.filter(|&at| at <= now) else {
                continue;
            };
            if !node.powered || !node.beating_at(at) {
                node.next_edge = None;
                continue;
            }
            node.level = !node.level;
            node.next_edge = Some(at + BEAT);
            let level = node.level;
            self.controller
                .heartbeat_edge(now, NodeId(index as u8), level);
            self.drain();
        }
        self.controller.poll(now);
        self.drain();
    }

    fn command(&mut self, node: NodeId, command: Command) -> Result<(), Rejection> {
        let result = self.controller.command(self.now, node, command);
        self.drain();
        result
    }

    fn drain(&mut self) {
        while let Some(action) = self.controller.next_action() {
            self.apply(action);
            self.actions.push((self.now, action));
        }
    }

    fn apply(&mut self, action: Action) {
        let now = self.now;
        match action {
            Action::Switch { node, on } => {
                let sim = &mut self.nodes[node.index()];
                if sim.welded {
                    return;
                }
                if on && !sim.powered {
                    sim.powered = true;
                    sim.schedule_boot(now, BOOT_TIME);
                } else if !on {
                    sim.powered = false;
                    sim.booted_at = None;
                    sim.next_edge = None;
                }
            }
            Action::Reset {
                node,
                asserted: false,
            } => {
                let sim = &mut self.nodes[node.index()];
                if sim.powered {
                    sim.schedule_boot(now, BOOT_TIME);
                }
            }
            Action::Reset {
                node,
                asserted: true,
            } => self.nodes[node.index()].next_edge = None,
            Action::Event(_) => {}
        }
    }

    fn state(&self, node: NodeId) -> NodeState {
        self.controller.node_status(node, self.now).unwrap().state
    }

    fn switches(&self, node: NodeId) -> Vec<(Instant, bool)> {
        let switched = self
            .actions
            .iter()
            .filter_map(|&(at, action)| match action {
                Action::Switch { node: n, on } if n == node => Some((at, on)),
                _ => None,
            });
        switched.collect()
    }

    fn events(&self) -> Vec<Event> {
        let events = self.actions.iter().filter_map(|&(_, action)| match action {
            Action::Event(event) => Some(event),
            _ => None,
        });
        events.collect()
    }

    fn entered(&self, node: NodeId, to: StateKind) -> Vec<(Instant, Cause)> {
        let entries = self
            .events()
            .into_iter()
            .filter_map(|event| match event.kind {
                EventKind::StateChanged {
                    from,
                    to: entered,
                    cause,
                } if event.node == Some(node) && entered == to && from != to => {
                    Some((event.at, cause))
                }
                _ => None,
            });
        entries.collect()
    }
}

fn reference_config() -> ClusterConfig<8> {
    let reference = reference::cluster();
    let mut nodes = heapless::Vec::new();
    for node in reference.nodes {
        nodes.push(node).unwrap();
    }
    ClusterConfig {
        supply: reference.supply,
        timings: reference.timings,
        recovery: reference.recovery,
        nodes,
    }
}

fn without_reset_first() -> ClusterConfig<8> {
    let mut config = reference_config();
    config.recovery.reset_first = false;
    config
}

#[test]
fn cold_start_staggers_power_on() {
    let mut rig = Rig::with(reference_config(), &[false, false, true, false]);
    rig.run_for(Duration::from_secs(1));
    for node in [NODE0, NODE1, NODE3] {
        rig.command(node, Command::On).unwrap();
    }
    rig.run_for(Duration::from_secs(120));

    let mut ons: Vec<Instant> = [NODE0, NODE1, NODE3]
        .iter()
        .map(|&node| rig.switches(node)[0])
        .map(|(at, on)| {
            assert!(on);
            at
        })
        .collect();
    ons.sort();
    let inrush = reference::timings().inrush_window;
    assert!(
        ons[1].since(ons[0]) >= inrush,
        "second power-on at {}",
        ons[1]
    );
    assert!(
        ons[2].since(ons[1]) >= inrush,
        "third power-on at {}",
        ons[2]
    );
    for node in [NODE0, NODE1, NODE3] {
        assert_eq!(rig.state(node), NodeState::Running);
    }
}

#[test]
fn head_commands_are_rejected() {
    let mut rig = Rig::reference();
    for command in [
        Command::Off,
        Command::Cycle,
        Command::On,
        Command::Reset,
        Command::Hold,
    ] {
        assert_eq!(
            rig.command(HEAD, command),
            Err(Rejection::HeadNode { node: HEAD })
        );
    }
    assert!(rig.switches(HEAD).is_empty());
}

#[test]
fn power_on_over_budget_is_rejected() {
    let mut rig = Rig::with(reference_config(), &[false, true, true, true]);
    rig.extra_ma = 3_850;
    rig.run_for(Duration::from_secs(1));
    // 400 + 350 + 400 + 3850 = 5000 mA drawn; node 0's 400 mA boot peak would need 5400 mA.
    let rejection = rig.command(NODE0, Command::On);
    let expected = Rejection::OverBudget {
        node: NODE0,
        needed: Milliamps(5_400),
        budget: Milliamps(5_000),
    };
    assert_eq!(rejection, Err(expected));
    assert!(rig.switches(NODE0).is_empty());
}

#[test]
fn held_node_rejects_power_commands() {
    let mut rig = Rig::reference();
    rig.command(NODE1, Command::Hold).unwrap();
    assert_eq!(
        rig.command(NODE1, Command::Off),
        Err(Rejection::Held { node: NODE1 })
    );
    assert_eq!(
        rig.command(NODE1, Command::Cycle),
        Err(Rejection::Held { node: NODE1 })
    );
    assert_eq!(rig.state(NODE1), NodeState::Held { on: true });
}

#[test]
fn held_node_is_not_recovered() {
    let mut rig = Rig::reference();
    rig.command(NODE1, Command::Hold).unwrap();
    rig.nodes[1].heart = Heart::Silent;
    rig.run_for(Duration::from_secs(600));
    assert!(rig.switches(NODE1).is_empty());
    assert_eq!(rig.state(NODE1), NodeState::Held { on: true });
}

#[test]
fn cycle_waits_min_off_time() {
    let mut rig = Rig::reference();
    rig.run_for(Duration::from_secs(2));
    rig.command(NODE0, Command::Cycle).unwrap();
    rig.run_for(Duration::from_secs(60));
    let switches = rig.switches(NODE0);
    assert_eq!(switches.len(), 2);
    assert!(!switches[0].1);
    assert!(switches[1].1);
    assert_eq!(
        switches[1].0.since(switches[0].0),
        reference::timings().min_off_time
    );
}

#[test]
fn lost_heartbeat_pulses_reset_first() {
    let mut rig = Rig::reference();
    rig.run_for(Duration::from_secs(2));
    rig.nodes[1].heart = Heart::DiesAfter(Duration::ZERO);
    rig.run_for(Duration::from_secs(20));

    let pulses: Vec<(Instant, Action)> = rig
        .actions
        .iter()
        .copied()
        .filter(|(_, action)| matches!(action, Action::Reset { node, .. } if *node == NODE1))
        .collect();
    assert_eq!(pulses.len(), 2);
    assert_eq!(
        pulses[1].0.since(pulses[0].0),
        reference::timings().reset_pulse
    );
    assert_eq!(rig.state(NODE1).kind(), StateKind::Booting);
    assert!(rig.switches(NODE1).is_empty());
}

#[test]
fn never_booted_is_told_from_hung() {
    let mut rig = Rig::with(without_reset_first(), &[false, true, true, true]);
    rig.nodes[0].heart = Heart::Silent;
    rig.run_for(Duration::from_secs(1));
    rig.command(NODE0, Command::On).unwrap();
    rig.nodes[1].heart = Heart::DiesAfter(Duration::ZERO);
    rig.run_for(Duration::from_secs(100));

    let node0 = rig.entered(NODE0, StateKind::Unresponsive);
    let node1 = rig.entered(NODE1, StateKind::Unresponsive);
    assert_eq!(
        node0.first().map(|&(_, cause)| cause),
        Some(Cause::NeverBooted)
    );
    assert_eq!(node1.first().map(|&(_, cause)| cause), Some(Cause::Hung));
}

/// Heartbeat timeout 15 s, backoff 90 s doubling, at most 3 cycles in 15 minutes: a node that
/// dies right after each boot is cycled at 0, 90 and 270 s after the first loss and
/// quarantined at 630 s.
#[test]
fn reboot_loop_is_quarantined_at_630_seconds() {
    let mut rig = Rig::reference_without_reset();
    rig.nodes[1].heart = Heart::DiesAfter(Duration::from_secs(5));
    rig.nodes[1].booted_at = Some(rig.now - BOOT_TIME);
    rig.run_for(Duration::from_secs(900));

    let losses = rig.entered(NODE1, StateKind::Unresponsive);
    let first_loss = losses[0].0;
    let offsets: Vec<u64> = rig
        .entered(NODE1, StateKind::Cycling)
        .iter()
        .map(|&(at, _)| at.since(first_loss).as_secs())
        .collect();
    assert_eq!(offsets, [0, 90, 270]);

    let quarantined = rig.entered(NODE1, StateKind::Quarantined);
    assert_eq!(quarantined.len(), 1);
    assert_eq!(quarantined[0].0.since(first_loss), Duration::from_secs(630));
    assert_eq!(quarantined[0].1, Cause::RecoveryLimit);
    assert_eq!(rig.state(NODE1), NodeState::Quarantined { on: false });
}

#[test]
fn cycle_count_survives_restart() {
    let mut rig = Rig::reference_without_reset();
    rig.nodes[1].heart = Heart::DiesAfter(Duration::from_secs(5));
    rig.nodes[1].booted_at = Some(rig.now - BOOT_TIME);
    rig.run_for(Duration::from_secs(300));
    let admin = rig.controller.admin_state(NODE1).unwrap();
    assert_eq!(admin.cycles.len(), 3);

    // A new controller that gets the persisted history quarantines at the same time.
    let mut start: Vec<NodeStart> = (0..4)
        .map(|index| NodeStart {
            switch_on: rig.nodes[index].powered,
            ..NodeStart::default()
        })
        .collect();
    start[1].admin = admin;
    let first_cycle = start[1].admin.cycles[0];
    let restarted = Controller::<8>::new(without_reset_first(), rig.now, &start).unwrap();
    rig.controller = restarted;
    rig.drain();
    rig.run_for(Duration::from_secs(600));

    let quarantined = rig.entered(NODE1, StateKind::Quarantined);
    assert_eq!(quarantined.len(), 1);
    assert_eq!(
        quarantined[0].0.since(first_cycle),
        Duration::from_secs(630)
    );
}

#[test]
fn common_cause_loss_cycles_nobody() {
    let mut rig = Rig::reference();
    rig.run_for(Duration::from_secs(2));
    for index in [0, 1, 3] {
        rig.nodes[index].heart = Heart::Silent;
    }
    rig.run_for(Duration::from_secs(300));

    let common: Vec<Event> = rig
        .events()
        .into_iter()
        .filter(|event| matches!(event.kind, EventKind::CommonCauseLoss { .. }))
        .collect();
    assert_eq!(common.len(), 1);
    assert_eq!(common[0].kind, EventKind::CommonCauseLoss { workers: 3 });
    for node in [NODE0, NODE1, NODE3] {
        assert!(rig.switches(node).is_empty());
        assert_eq!(rig.state(node), NodeState::Running);
    }
}

#[test]
fn noisy_burst_is_reported_and_not_cycled() {
    let mut rig = Rig::reference();
    rig.run_for(Duration::from_secs(2));
    let start = rig.now;
    for index in 0..40u64 {
        let at = start + Duration::from_micros(index * 2_500);
        rig.controller.heartbeat_edge(at, NODE0, index % 2 == 0);
        rig.drain();
    }
    rig.run_for(Duration::from_secs(60));

    let noisy = rig.events().into_iter().filter(|event| {
        event.node == Some(NODE0) && matches!(event.kind, EventKind::HeartbeatNoisy { .. })
    });
    assert_eq!(noisy.count(), 1);
    assert!(rig.switches(NODE0).is_empty());
    assert_eq!(rig.state(NODE0), NodeState::Running);
}

#[test]
fn welded_relay_faults_stuck_on() {
    let mut rig = Rig::reference();
    rig.run_for(Duration::from_secs(2));
    rig.nodes[0].welded = true;
    rig.command(NODE0, Command::Off).unwrap();
    rig.run_for(Duration::from_secs(5));

    assert_eq!(
        rig.state(NODE0),
        NodeState::Faulted {
            way: StuckWay::StuckOn
        }
    );
    let failure = rig.events().into_iter().find_map(|event| match event.kind {
        EventKind::SwitchFailed {
            way,
            expected_step,
            measured_step,
        } => Some((way, expected_step, measured_step)),
        _ => None,
    });
    assert_eq!(
        failure,
        Some((StuckWay::StuckOn, Milliamps(100), Milliamps(0)))
    );
}

#[test]
fn switch_off_verified_by_measured_step() {
    let mut rig = Rig::reference();
    rig.run_for(Duration::from_secs(2));
    rig.command(NODE0, Command::Off).unwrap();
    rig.run_for(Duration::from_secs(2));
    let verified = rig.events().into_iter().find_map(|event| match event.kind {
        EventKind::SwitchVerified { on, measured_step } => Some((on, measured_step)),
        _ => None,
    });
    assert_eq!(verified, Some((false, Milliamps(350))));
    let status = rig.controller.node_status(NODE0, rig.now).unwrap();
    assert_eq!(status.switch_verified, Some(true));
}

#[test]
fn missing_telemetry_switches_nothing_off() {
    let mut rig = Rig::reference_without_reset();
    rig.run_for(Duration::from_secs(2));
    rig.telemetry = false;
    rig.nodes[1].heart = Heart::DiesAfter(Duration::ZERO);
    rig.run_for(Duration::from_secs(300));

    let lost = rig
        .events()
        .into_iter()
        .filter(|e| e.kind == EventKind::TelemetryLost)
        .count();
    assert_eq!(lost, 1);
    assert!(rig.switches(NODE1).is_empty());
    assert_eq!(rig.state(NODE1).kind(), StateKind::Unresponsive);
    assert_eq!(rig.command(NODE1, Command::On), Ok(()));
}

#[test]
fn missing_telemetry_rejects_power_on() {
    let mut rig = Rig::with(reference_config(), &[false, true, true, true]);
    rig.telemetry = false;
    rig.run_for(Duration::from_secs(5));
    assert_eq!(
        rig.command(NODE0, Command::On),
        Err(Rejection::NoTelemetry { node: NODE0 })
    );
}

#[test]
fn recovery_resumes_when_telemetry_returns() {
    let mut rig = Rig::reference_without_reset();
    rig.run_for(Duration::from_secs(2));
    rig.telemetry = false;
    rig.nodes[1].heart = Heart::DiesAfter(Duration::ZERO);
    rig.run_for(Duration::from_secs(60));
    rig.telemetry = true;
    rig.next_sample = rig.now;
    rig.run_for(Duration::from_secs(1));
    assert_eq!(rig.state(NODE1).kind(), StateKind::Cycling);
}

#[test]
fn over_current_sheds_lowest_priority_first() {
    let mut rig = Rig::reference();
    rig.run_for(Duration::from_secs(2));
    // 1500 mA drawn by the nodes plus 3900 mA of stress: 5400 mA, over the 5000 mA budget.
    // Shedding node 3 (400 mA) leaves 5000 mA, no longer over the budget, so nothing else goes.
    rig.extra_ma = 3_900;
    rig.run_for(Duration::from_secs(10));

    let sheds: Vec<(NodeId, Cause)> = rig
        .events()
        .into_iter()
        .filter_map(|event| match event.kind {
            EventKind::StateChanged {
                to: StateKind::Off,
                cause,
                ..
            } => Some((event.node?, cause)),
            _ => None,
        })
        .collect();
    assert_eq!(sheds, [(NODE3, Cause::OverCurrent)]);
    assert_eq!(rig.state(NODE0), NodeState::Running);
    assert_eq!(rig.state(NODE1), NodeState::Running);
}

#[test]
fn over_current_sheds_until_under_budget() {
    let mut rig = Rig::reference();
    rig.run_for(Duration::from_secs(2));
    rig.extra_ma = 4_000;
    rig.run_for(Duration::from_secs(10));
    let off: Vec<NodeId> = [NODE0, NODE1, NODE3]
        .into_iter()
        .filter(|&node| rig.state(node).kind() == StateKind::Off)
        .collect();
    assert_eq!(off, [NODE1, NODE3]);
    assert!(rig.switches(HEAD).is_empty());
}

#[test]
fn single_sample_over_budget_does_not_trip() {
    let mut rig = Rig::reference();
    rig.run_for(Duration::from_secs(2));
    rig.extra_ma = 4_000;
    rig.run_for(Duration::from_millis(1));
    rig.extra_ma = 0;
    rig.run_for(Duration::from_secs(5));
    let trips = rig
        .events()
        .into_iter()
        .filter(|e| matches!(e.kind, EventKind::OverCurrentTrip { .. }));
    assert_eq!(trips.count(), 0);
}

#[test]
fn under_voltage_sheds_lowest_priority() {
    let mut rig = Rig::reference();
    rig.run_for(Duration::from_secs(2));
    rig.voltage_mv = 4_700;
    rig.run_for(Duration::from_millis(250));
    assert_eq!(rig.state(NODE3).kind(), StateKind::Off);
    let trip = rig.events().into_iter().find_map(|e| match e.kind {
        EventKind::UnderVoltageTrip { voltage, floor } => Some((voltage, floor)),
        _ => None,
    });
    assert_eq!(trip, Some((Millivolts(4_700), Millivolts(4_750))));
}

#[test]
fn adoption_switches_nothing() {
    let rig = Rig::with(reference_config(), &[true, false, true, true]);
    assert!(
        rig.actions
            .iter()
            .all(|(_, action)| matches!(action, Action::Event(_)))
    );
    assert_eq!(rig.state(NODE0).kind(), StateKind::Booting);
    assert_eq!(rig.state(NODE1).kind(), StateKind::Off);
    assert_eq!(rig.state(HEAD), NodeState::Running);
}

#[test]
fn release_clears_quarantine() {
    let mut rig = Rig::reference_without_reset();
    rig.nodes[1].heart = Heart::DiesAfter(Duration::from_secs(5));
    rig.nodes[1].booted_at = Some(rig.now - BOOT_TIME);
    rig.run_for(Duration::from_secs(900));
    assert_eq!(
        rig.command(NODE1, Command::On),
        Err(Rejection::Quarantined { node: NODE1 })
    );
    rig.command(NODE1, Command::Release).unwrap();
    assert_eq!(rig.state(NODE1).kind(), StateKind::Off);
    assert_eq!(rig.controller.admin_state(NODE1).unwrap().cycles.len(), 0);
}

#[test]
fn quarantine_can_leave_node_on() {
    let mut config = without_reset_first();
    config.recovery.quarantine_power = QuarantinePower::On;
    config.timings.max_cycles = 1;
    let mut rig = Rig::with(config, &[true, true, true, true]);
    rig.nodes[1].heart = Heart::DiesAfter(Duration::from_secs(5));
    rig.nodes[1].booted_at = Some(rig.now - BOOT_TIME);
    rig.run_for(Duration::from_secs(300));
    assert_eq!(rig.state(NODE1), NodeState::Quarantined { on: true });
    assert!(rig.nodes[1].powered);
}

impl Rig {
    fn reference_without_reset() -> Self {
        Self::with(without_reset_first(), &[true, true, true, true])
    }
}

#[test]
fn restart_mid_cycle_keeps_min_off_time() {
    let mut rig = Rig::reference();
    rig.run_for(Duration::from_secs(2));
    rig.command(NODE1, Command::Cycle).unwrap();
    let off_at = rig.switches(NODE1)[0].0;
    rig.run_for(Duration::from_millis(500));

    // The daemon restarts half a second into the cycle, with the persisted admin state.
    let start: Vec<NodeStart> = (0..4)
        .map(|index| NodeStart {
            switch_on: rig.nodes[index].powered,
            admin: rig.controller.admin_state(NodeId(index as u8)).unwrap(),
            ..NodeStart::default()
        })
        .collect();
    assert!(start[1].admin.power_on_pending);
    rig.controller = Controller::new(reference_config(), rig.now, &start).unwrap();
    rig.drain();
    rig.run_for(Duration::from_secs(30));

    let switches = rig.switches(NODE1);
    assert_eq!(switches.len(), 2, "{switches:?}");
    assert!(switches[1].1);
    assert_eq!(
        switches[1].0.since(off_at),
        reference::timings().min_off_time
    );
}

#[test]
fn reconfigure_keeps_cycle_under_way() {
    let mut rig = Rig::reference();
    rig.run_for(Duration::from_secs(2));
    rig.command(NODE1, Command::Cycle).unwrap();
    let off_at = rig.switches(NODE1)[0].0;
    rig.run_for(Duration::from_millis(500));

    let mut config = reference_config();
    config.supply.headroom = Milliamps(300);
    rig.controller.reconfigure(config).unwrap();
    rig.run_for(Duration::from_secs(30));

    let switches = rig.switches(NODE1);
    assert_eq!(switches.len(), 2, "{switches:?}");
    assert_eq!(
        switches[1].0.since(off_at),
        reference::timings().min_off_time
    );
    assert_eq!(
        rig.controller.supply_status(rig.now).budget,
        Milliamps(5_100)
    );
    let status = rig.controller.node_status(NODE1, rig.now).unwrap();
    assert_eq!(status.switch_verified, Some(true));
}

#[test]
fn reconfigure_rejects_changed_lines() {
    let mut rig = Rig::reference();
    let mut config = reference_config();
    config.nodes[0].heartbeat = Some(crate::config::LineId(26));
    let problems = rig.controller.reconfigure(config).unwrap_err();
    assert_eq!(
        problems.problems.as_slice(),
        [crate::config::ConfigProblem::NodesChanged]
    );
}

#[test]
fn off_all_faults_only_welded_relay() {
    let mut rig = Rig::reference();
    rig.run_for(Duration::from_secs(2));
    rig.nodes[0].welded = true;
    for node in [NODE0, NODE1, NODE3] {
        rig.command(node, Command::Off).unwrap();
    }
    rig.run_for(Duration::from_secs(5));

    // Each switch is verified on its own step, so the neighbours' drop cannot cover node 0.
    assert_eq!(
        rig.state(NODE0),
        NodeState::Faulted {
            way: StuckWay::StuckOn
        }
    );
    assert_eq!(rig.state(NODE1).kind(), StateKind::Off);
    assert_eq!(rig.state(NODE3).kind(), StateKind::Off);
    let verified: Vec<(NodeId, Milliamps)> = rig
        .events()
        .into_iter()
        .filter_map(|event| match event.kind {
            EventKind::SwitchVerified {
                on: false,
                measured_step,
            } => Some((event.node?, measured_step)),
            _ => None,
        })
        .collect();
    assert_eq!(verified, [(NODE1, Milliamps(350)), (NODE3, Milliamps(400))]);
}

#[test]
fn cycle_all_reports_welded_relay_stuck_on() {
    let mut rig = Rig::reference();
    rig.run_for(Duration::from_secs(2));
    rig.nodes[0].welded = true;
    for node in [NODE0, NODE1, NODE3] {
        rig.command(node, Command::Cycle).unwrap();
    }
    rig.run_for(Duration::from_secs(60));
    assert_eq!(
        rig.state(NODE0),
        NodeState::Faulted {
            way: StuckWay::StuckOn
        }
    );
    assert_eq!(rig.state(NODE1), NodeState::Running);
    assert_eq!(rig.state(NODE3), NodeState::Running);
}
