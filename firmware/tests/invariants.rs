//! Property tests: random samples, edges, commands and time steps, with the design's safety
//! invariants checked after every step.
//!
//! 1. The head node is never switched.
//! 2. No power-on is admitted that would take the measured draw plus the node's boot peak over
//!    the budget.
//! 3. A node stays off for at least the minimum off time before it is switched on again.
//! 4. Automatic cycles of one node never exceed the maximum per window.
//! 6. Missing telemetry never switches a node off by itself.

use picluster_firmware::config::{ClusterConfig, NodeId, Role};
use picluster_firmware::controller::{Action, Command, Controller, NodeStart, Sample};
use picluster_firmware::event::{Cause, EventKind};
use picluster_firmware::reference;
use picluster_firmware::state::StateKind;
use picluster_firmware::units::{Duration, Instant, Milliamps, Millivolts};
use proptest::prelude::*;

/// Cases per property: at least 10,000 of each run in CI.
const CASES: u32 = 10_000;

#[derive(Clone, Debug)]
enum Input {
    /// Let time pass, polling at every deadline on the way, as the daemon does.
    Advance(u64),
    Sample {
        current_ma: i32,
        voltage_mv: i32,
        overflow: bool,
    },
    MonitorFailed,
    Edge {
        node: u8,
        high: bool,
    },
    Command {
        node: u8,
        command: Command,
    },
}

fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        Just(Command::On),
        Just(Command::Off),
        Just(Command::Cycle),
        Just(Command::Reset),
        Just(Command::Hold),
        Just(Command::Release),
    ]
}

fn input() -> impl Strategy<Value = Input> {
    prop_oneof![
        3 => prop_oneof![1u64..200, 200u64..20_000, 20_000u64..200_000].prop_map(Input::Advance),
        4 => (0i32..7_000, 4_400i32..5_300, proptest::bool::weighted(0.05)).prop_map(
            |(current_ma, voltage_mv, overflow)| Input::Sample { current_ma, voltage_mv, overflow }
        ),
        1 => Just(Input::MonitorFailed),
        3 => (0u8..4, any::<bool>()).prop_map(|(node, high)| Input::Edge { node, high }),
        2 => (0u8..5, command()).prop_map(|(node, command)| Input::Command { node, command }),
    ]
}

fn start_states() -> impl Strategy<Value = Vec<bool>> {
    proptest::collection::vec(any::<bool>(), 4)
}

/// What one step emitted, with what the checker knew when it was emitted.
struct Step {
    at: Instant,
    actions: Vec<Action>,
    /// The operator command of this step, if it was one.
    operator: Option<(NodeId, Command)>,
    /// The newest valid sample before the step, and when it arrived.
    last_sample: Option<(Instant, Milliamps)>,
}

struct Run {
    controller: Controller<8>,
    config: ClusterConfig<8>,
    now: Instant,
    last_sample: Option<(Instant, Milliamps)>,
}

impl Run {
    fn new(powered: &[bool]) -> Self {
        let config = config();
        let now = Instant::from_secs(10);
        let start: Vec<NodeStart> = powered
            .iter()
            .map(|&switch_on| NodeStart {
                switch_on,
                ..NodeStart::default()
            })
            .collect();
        let controller = Controller::new(config.clone(), now, &start).unwrap();
        Run {
            controller,
            config,
            now,
            last_sample: None,
        }
    }

    fn apply(&mut self, input: &Input, steps: &mut Vec<Step>) {
        match *input {
            Input::Advance(millis) => {
                let end = self.now + Duration::from_millis(millis);
                while let Some(at) = self.controller.next_deadline().filter(|&at| at <= end) {
                    self.now = at;
                    self.controller.poll(at);
                    self.record(None, steps);
                }
                self.now = end;
                self.controller.poll(end);
            }
            Input::Sample {
                current_ma,
                voltage_mv,
                overflow,
            } => {
                let current = (!overflow).then_some(Milliamps(current_ma));
                let sample = Sample {
                    voltage: Millivolts(voltage_mv),
                    current,
                };
                self.controller.sample(self.now, sample);
                // The controller decides with this sample, so the checks see it too.
                if let Some(current) = current {
                    self.last_sample = Some((self.now, current));
                }
            }
            Input::MonitorFailed => self.controller.sample_failed(self.now),
            Input::Edge { node, high } => {
                self.controller.heartbeat_edge(self.now, NodeId(node), high)
            }
            Input::Command { node, command } => {
                let _ = self.controller.command(self.now, NodeId(node), command);
                self.record(Some((NodeId(node), command)), steps);
                return;
            }
        }
        self.record(None, steps);
    }

    fn record(&mut self, operator: Option<(NodeId, Command)>, steps: &mut Vec<Step>) {
        let mut actions = Vec::new();
        while let Some(action) = self.controller.next_action() {
            actions.push(action);
        }
        steps.push(Step {
            at: self.now,
            actions,
            operator,
            last_sample: self.last_sample,
        });
    }
}

fn config() -> ClusterConfig<8> {
    let reference = reference::cluster();
    let mut nodes = heapless::Vec::new();
    for node in reference.nodes {
        nodes.push(node).unwrap();
    }
    let mut config = ClusterConfig {
        supply: reference.supply,
        timings: reference.timings,
        recovery: reference.recovery,
        nodes,
    };
    // Short recovery timings so random runs reach the ladder's later steps.
    config.timings.boot_grace = Duration::from_secs(20);
    config.timings.backoff = Duration::from_secs(10);
    config.timings.cycle_window = Duration::from_secs(120);
    config
}

fn run(powered: &[bool], inputs: &[Input]) -> (ClusterConfig<8>, Vec<Step>) {
    let mut run = Run::new(powered);
    let mut steps = Vec::new();
    for input in inputs {
        run.apply(input, &mut steps);
    }
    (run.config, steps)
}

fn switches(steps: &[Step]) -> impl Iterator<Item = (&Step, NodeId, bool)> {
    steps.iter().flat_map(|step| {
        step.actions.iter().filter_map(move |action| match *action {
            Action::Switch { node, on } => Some((step, node, on)),
            _ => None,
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES, ..ProptestConfig::default() })]

    #[test]
    fn head_is_never_switched(powered in start_states(), inputs in prop::collection::vec(input(), 1..60)) {
        let (config, steps) = run(&powered, &inputs);
        for (_, node, _) in switches(&steps) {
            prop_assert_ne!(config.nodes[node.index()].role, Role::Head);
        }
    }

    #[test]
    fn power_on_stays_within_budget(powered in start_states(), inputs in prop::collection::vec(input(), 1..60)) {
        let (config, steps) = run(&powered, &inputs);
        let timeout = config.timings.telemetry_timeout;
        for (step, node, on) in switches(&steps) {
            if !on {
                continue;
            }
            let sample = step.last_sample;
            prop_assert!(sample.is_some(), "power-on of {node:?} with no sample");
            let (sampled_at, draw) = sample.unwrap();
            prop_assert!(step.at.since(sampled_at) < timeout, "stale sample at {}", step.at);
            let needed = draw + config.nodes[node.index()].boot_peak;
            prop_assert!(needed <= config.supply.budget(), "{needed} over budget");
        }
    }

    #[test]
    fn off_time_is_at_least_minimum(powered in start_states(), inputs in prop::collection::vec(input(), 1..60)) {
        let (config, steps) = run(&powered, &inputs);
        let mut last_off: [Option<Instant>; 8] = [None; 8];
        for (step, node, on) in switches(&steps) {
            match (on, last_off[node.index()]) {
                (true, Some(off)) => {
                    prop_assert!(step.at.since(off) >= config.timings.min_off_time);
                }
                (false, _) => last_off[node.index()] = Some(step.at),
                _ => {}
            }
        }
    }

    #[test]
    fn automatic_cycles_stay_within_window(powered in start_states(), inputs in prop::collection::vec(input(), 1..80)) {
        let (config, steps) = run(&powered, &inputs);
        let timings = config.timings;
        let mut cycles: [Vec<Instant>; 8] = Default::default();
        for step in &steps {
            for action in &step.actions {
                let Action::Event(event) = action else { continue };
                let EventKind::StateChanged { to: StateKind::Cycling, cause: Cause::Hung, .. } = event.kind
                else {
                    continue;
                };
                let node = event.node.unwrap().index();
                cycles[node].push(event.at);
                let in_window = cycles[node]
                    .iter()
                    .filter(|&&at| event.at.since(at) <= timings.cycle_window)
                    .count();
                prop_assert!(in_window <= usize::from(timings.max_cycles));
            }
        }
    }

    #[test]
    fn missing_telemetry_switches_nothing_off(powered in start_states(), inputs in prop::collection::vec(input(), 1..60)) {
        let (config, steps) = run(&powered, &inputs);
        let timeout = config.timings.telemetry_timeout;
        // An operator's off or cycle may wait for another switch's verification and happen in
        // a later step; it is the operator's, not automation's.
        let mut operator_off = [false; 8];
        for step in &steps {
            match step.operator {
                Some((node, Command::Off | Command::Cycle)) => operator_off[node.index()] = true,
                Some((node, Command::On | Command::Hold)) => operator_off[node.index()] = false,
                _ => {}
            }
            let fresh = step.last_sample.is_some_and(|(at, _)| step.at.since(at) < timeout);
            for action in &step.actions {
                let Action::Switch { node, on: false } = *action else { continue };
                let requested = std::mem::take(&mut operator_off[node.index()]);
                prop_assert!(
                    fresh || requested,
                    "{node:?} switched off at {} without telemetry",
                    step.at
                );
            }
        }
    }
}
