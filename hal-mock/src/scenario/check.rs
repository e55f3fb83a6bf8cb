//! Checks: what a scenario expects of the run, and their evaluation over its timeline.

use picluster_firmware::config::LineId;
use picluster_firmware::event::{Cause, Event, EventKind, StuckWay};
use picluster_firmware::state::{NodeState, StateKind};
use picluster_firmware::units::{Duration, Instant, Milliamps, Millivolts};

use crate::rail::RailPoint;

/// A node state as checks name it: a state kind, or a faulted switch with its way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateName {
    /// Any state of this kind.
    Kind(StateKind),
    /// Faulted with the switch stuck on.
    FaultedStuckOn,
    /// Faulted with the switch stuck off.
    FaultedStuckOff,
}

impl StateName {
    /// Parses "running", "quarantined", "faulted-stuck-on" and the other state names.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "faulted-stuck-on" => Some(StateName::FaultedStuckOn),
            "faulted-stuck-off" => Some(StateName::FaultedStuckOff),
            _ => StateKind::ALL
                .into_iter()
                .find(|kind| kind.name() == text)
                .map(StateName::Kind),
        }
    }

    /// Returns whether `state` is this state.
    pub fn matches(self, state: &NodeState) -> bool {
        match self {
            StateName::Kind(kind) => state.kind() == kind,
            StateName::FaultedStuckOn => {
                *state
                    == NodeState::Faulted {
                        way: StuckWay::StuckOn,
                    }
            }
            StateName::FaultedStuckOff => {
                *state
                    == NodeState::Faulted {
                        way: StuckWay::StuckOff,
                    }
            }
        }
    }

    /// Returns whether a state change to `to` for `cause` enters this state.
    fn entered_by(self, to: StateKind, cause: Cause) -> bool {
        match self {
            StateName::Kind(kind) => to == kind,
            StateName::FaultedStuckOn => cause == Cause::SwitchStuck(StuckWay::StuckOn),
            StateName::FaultedStuckOff => cause == Cause::SwitchStuck(StuckWay::StuckOff),
        }
    }

    fn label(self) -> &'static str {
        match self {
            StateName::Kind(kind) => kind.name(),
            StateName::FaultedStuckOn => "faulted-stuck-on",
            StateName::FaultedStuckOff => "faulted-stuck-off",
        }
    }
}

/// Names of the controller's events, as checks write them.
const EVENT_NAMES: [&str; 15] = [
    "state-changed",
    "switch-failed",
    "switch-verified",
    "switch-unverified",
    "reset-pulsed",
    "over-current-trip",
    "under-voltage-trip",
    "trip-cleared",
    "nothing-to-shed",
    "telemetry-lost",
    "telemetry-restored",
    "heartbeat-noisy",
    "heartbeat-stuck",
    "common-cause-loss",
    "power-on-deferred",
];

/// Returns the check name of an event kind.
pub fn event_kind_name(kind: &EventKind) -> &'static str {
    match kind {
        EventKind::StateChanged { .. } => "state-changed",
        EventKind::SwitchFailed { .. } => "switch-failed",
        EventKind::SwitchVerified { .. } => "switch-verified",
        EventKind::SwitchUnverified { .. } => "switch-unverified",
        EventKind::ResetPulsed => "reset-pulsed",
        EventKind::OverCurrentTrip { .. } => "over-current-trip",
        EventKind::UnderVoltageTrip { .. } => "under-voltage-trip",
        EventKind::TripCleared => "trip-cleared",
        EventKind::NothingToShed => "nothing-to-shed",
        EventKind::TelemetryLost => "telemetry-lost",
        EventKind::TelemetryRestored => "telemetry-restored",
        EventKind::HeartbeatNoisy { .. } => "heartbeat-noisy",
        EventKind::HeartbeatStuck { .. } => "heartbeat-stuck",
        EventKind::CommonCauseLoss { .. } => "common-cause-loss",
        EventKind::PowerOnDeferred { .. } => "power-on-deferred",
        // Kinds added to the firmware later are not named by checks until listed here.
        #[allow(unreachable_patterns)]
        _ => "other",
    }
}

/// Validates an event name from a scenario file.
pub(super) fn event_name(text: &str) -> Result<&'static str, String> {
    EVENT_NAMES
        .iter()
        .find(|name| **name == text)
        .copied()
        .ok_or_else(|| {
            format!(
                "unknown event \"{text}\"; expected one of {}",
                EVENT_NAMES.join(", ")
            )
        })
}

/// One check of a scenario. Nodes are indices in the cluster's node order.
#[derive(Clone, Debug, PartialEq)]
pub enum Check {
    /// The node's switch goes off and on again within `within` after `after`.
    PowerCycled {
        /// The node.
        node: usize,
        /// Start of the window.
        after: Instant,
        /// Length of the window.
        within: Duration,
    },
    /// The node's RUN line is asserted and released within `within` after `after`.
    ResetPulsed {
        /// The node.
        node: usize,
        /// Start of the window.
        after: Instant,
        /// Length of the window.
        within: Duration,
    },
    /// No switch of these nodes goes off within the window.
    NeverSwitchedOff {
        /// The nodes.
        nodes: Vec<usize>,
        /// Start of the window (the run's start if `None`).
        from: Option<Instant>,
        /// End of the window (the run's end if `None`).
        until: Option<Instant>,
    },
    /// No RUN line of these nodes is asserted within the window.
    NeverReset {
        /// The nodes.
        nodes: Vec<usize>,
        /// Start of the window.
        from: Option<Instant>,
        /// End of the window.
        until: Option<Instant>,
    },
    /// The true supply current never stays above `limit` for longer than `longer_than`.
    DrawLimit {
        /// The limit.
        limit: Milliamps,
        /// The maximum excursion allowed.
        longer_than: Duration,
    },
    /// The supply voltage never stays below `floor` for longer than `longer_than`.
    VoltageFloor {
        /// The floor.
        floor: Millivolts,
        /// The maximum excursion allowed.
        longer_than: Duration,
    },
    /// The node is in `state` at the end of the run.
    FinalState {
        /// The node.
        node: usize,
        /// The expected state.
        state: StateName,
    },
    /// The node enters `state` after `after` (and within `within` of it, if given).
    StateReached {
        /// The node.
        node: usize,
        /// The state.
        state: StateName,
        /// Start of the window.
        after: Instant,
        /// Length of the window.
        within: Option<Duration>,
    },
    /// The controller raises the event after `after` (within `within`, if given).
    EventRaised {
        /// The event's name.
        event: &'static str,
        /// The node it must concern, if any.
        node: Option<usize>,
        /// Start of the window.
        after: Instant,
        /// Length of the window.
        within: Option<Duration>,
    },
    /// The controller raises no such event within the window.
    EventNotRaised {
        /// The event's name.
        event: &'static str,
        /// The node it must not concern, or any node.
        node: Option<usize>,
        /// Start of the window.
        from: Option<Instant>,
        /// End of the window.
        until: Option<Instant>,
    },
    /// A line keeps its level for the whole run.
    LineNeverChanges {
        /// The line.
        line: LineId,
    },
    /// None of these boards browns out.
    NoBrownOut {
        /// The nodes.
        nodes: Vec<usize>,
    },
    /// Nodes shed for a trip are exactly these, in this order.
    ShedOrder {
        /// The nodes, first shed first.
        nodes: Vec<usize>,
    },
    /// Successive power-ons of any workers are at least `min` apart.
    PowerOnSpacing {
        /// The smallest gap allowed.
        min: Duration,
    },
    /// Every one of these nodes is running at `by`.
    Running {
        /// The nodes.
        nodes: Vec<usize>,
        /// The time.
        by: Instant,
    },
    /// The automatic cycles and the quarantine of a node happen at these offsets after its
    /// first heartbeat loss.
    RecoveryLadder {
        /// The node.
        node: usize,
        /// Offsets of the automatic cycles.
        cycles_at: Vec<Duration>,
        /// Offset of the quarantine, if one is expected.
        quarantined_at: Option<Duration>,
        /// How far each time may be off.
        tolerance: Duration,
    },
}

/// The outcome of one check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckResult {
    /// The checked condition, in words.
    pub check: String,
    /// Whether it held.
    pub passed: bool,
    /// The times and values behind the outcome.
    pub detail: String,
}

/// The run's record that checks are evaluated on.
#[derive(Clone, Debug)]
pub(super) struct Timeline {
    pub end: Instant,
    pub names: Vec<String>,
    pub events: Vec<Event>,
    pub rail: Vec<RailPoint>,
    /// Per node: switch changes as (time, on).
    pub switch_edges: Vec<Vec<(Instant, bool)>>,
    /// Per node: RUN changes as (time, asserted).
    pub reset_edges: Vec<Vec<(Instant, bool)>>,
    /// Per line: level changes during the run.
    pub line_changes: Vec<(LineId, u64)>,
    pub brown_outs: Vec<u32>,
    pub final_states: Vec<NodeState>,
}

fn window_end(after: Instant, within: Option<Duration>, end: Instant) -> Instant {
    within.map_or(end, |span| after + span)
}

impl Timeline {
    fn name(&self, node: usize) -> &str {
        &self.names[node]
    }

    fn names_of(&self, nodes: &[usize]) -> String {
        let names: Vec<&str> = nodes.iter().map(|&n| self.name(n)).collect();
        names.join(", ")
    }

    /// State changes of a node: (time, to, cause).
    fn state_changes(&self, node: usize) -> impl Iterator<Item = (Instant, StateKind, Cause)> + '_ {
        self.events
            .iter()
            .filter_map(move |event| match event.kind {
                EventKind::StateChanged { from, to, cause }
                    if event.node.map(|id| id.index()) == Some(node) && from != to =>
                {
                    Some((event.at, to, cause))
                }
                _ => None,
            })
    }

    pub fn evaluate(&self, check: &Check) -> CheckResult {
        match check {
            Check::PowerCycled {
                node,
                after,
                within,
            } => self.power_cycled(*node, *after, *within),
            Check::ResetPulsed {
                node,
                after,
                within,
            } => self.reset_pulsed(*node, *after, *within),
            Check::NeverSwitchedOff { nodes, from, until } => {
                self.never_switched_off(nodes, *from, *until)
            }
            Check::NeverReset { nodes, from, until } => self.never_reset(nodes, *from, *until),
            Check::DrawLimit { limit, longer_than } => self.draw_limit(*limit, *longer_than),
            Check::VoltageFloor { floor, longer_than } => self.voltage_floor(*floor, *longer_than),
            Check::FinalState { node, state } => self.final_state(*node, *state),
            Check::StateReached {
                node,
                state,
                after,
                within,
            } => self.state_reached(*node, *state, *after, *within),
            Check::EventRaised {
                event,
                node,
                after,
                within,
            } => self.event_raised(event, *node, *after, *within),
            Check::EventNotRaised {
                event,
                node,
                from,
                until,
            } => self.event_not_raised(event, *node, *from, *until),
            Check::LineNeverChanges { line } => self.line_never_changes(*line),
            Check::NoBrownOut { nodes } => self.no_brown_out(nodes),
            Check::ShedOrder { nodes } => self.shed_order(nodes),
            Check::PowerOnSpacing { min } => self.power_on_spacing(*min),
            Check::Running { nodes, by } => self.running(nodes, *by),
            Check::RecoveryLadder {
                node,
                cycles_at,
                quarantined_at,
                tolerance,
            } => self.recovery_ladder(*node, cycles_at, *quarantined_at, *tolerance),
        }
    }

    fn power_cycled(&self, node: usize, after: Instant, within: Duration) -> CheckResult {
        let end = after + within;
        let check = format!(
            "{} is power-cycled between {after} and {end}",
            self.name(node)
        );
        let in_window: Vec<(Instant, bool)> = self.switch_edges[node]
            .iter()
            .copied()
            .filter(|(at, _)| *at >= after && *at <= end)
            .collect();
        let off = in_window.iter().find(|(_, on)| !on).map(|(at, _)| *at);
        let on = off.and_then(|off_at| {
            in_window
                .iter()
                .find(|(at, on)| *on && *at > off_at)
                .map(|(at, _)| *at)
        });
        match (off, on) {
            (Some(off), Some(on)) => pass(check, format!("switched off at {off}, on at {on}")),
            (Some(off), None) => fail(check, format!("switched off at {off}, not on again")),
            _ => fail(
                check,
                format!("switch changes in the window: {in_window:?}"),
            ),
        }
    }

    fn reset_pulsed(&self, node: usize, after: Instant, within: Duration) -> CheckResult {
        let end = after + within;
        let check = format!("{} is reset between {after} and {end}", self.name(node));
        let edges = &self.reset_edges[node];
        let asserted = edges
            .iter()
            .find(|(at, asserted)| *asserted && *at >= after && *at <= end);
        let released = asserted.and_then(|(start, _)| {
            edges
                .iter()
                .find(|(at, asserted)| !asserted && at > start && *at <= end)
        });
        match (asserted, released) {
            (Some((start, _)), Some((stop, _))) => pass(
                check,
                format!("RUN asserted at {start}, released at {stop}"),
            ),
            _ => fail(check, "no complete reset pulse in the window".into()),
        }
    }

    fn never_switched_off(
        &self,
        nodes: &[usize],
        from: Option<Instant>,
        until: Option<Instant>,
    ) -> CheckResult {
        let (from, until) = (from.unwrap_or(Instant::ZERO), until.unwrap_or(self.end));
        let check = format!(
            "no switch of {} goes off between {from} and {until}",
            self.names_of(nodes)
        );
        let offs: Vec<String> = nodes
            .iter()
            .flat_map(|&node| {
                self.switch_edges[node]
                    .iter()
                    .filter(move |(at, on)| !on && *at >= from && *at <= until)
                    .map(move |(at, _)| format!("{} at {at}", self.name(node)))
            })
            .collect();
        if offs.is_empty() {
            pass(check, "no switch went off".into())
        } else {
            fail(check, format!("switched off: {}", offs.join(", ")))
        }
    }

    fn never_reset(
        &self,
        nodes: &[usize],
        from: Option<Instant>,
        until: Option<Instant>,
    ) -> CheckResult {
        let (from, until) = (from.unwrap_or(Instant::ZERO), until.unwrap_or(self.end));
        let check = format!(
            "no RUN line of {} is asserted between {from} and {until}",
            self.names_of(nodes)
        );
        let resets: Vec<String> = nodes
            .iter()
            .flat_map(|&node| {
                self.reset_edges[node]
                    .iter()
                    .filter(move |(at, asserted)| *asserted && *at >= from && *at <= until)
                    .map(move |(at, _)| format!("{} at {at}", self.name(node)))
            })
            .collect();
        if resets.is_empty() {
            pass(check, "no reset".into())
        } else {
            fail(check, format!("reset: {}", resets.join(", ")))
        }
    }

    /// Returns the longest stretch where `past` holds, with its start and extreme value.
    fn longest_excursion(
        &self,
        past: impl Fn(&RailPoint) -> bool,
        extreme: impl Fn(i32, i32) -> i32,
        value: impl Fn(&RailPoint) -> i32,
    ) -> Option<(Instant, Duration, i32)> {
        let mut longest: Option<(Instant, Duration, i32)> = None;
        let mut open: Option<(Instant, i32)> = None;
        for (index, point) in self.rail.iter().enumerate() {
            if !past(point) {
                continue;
            }
            let entry = open.get_or_insert((point.at, value(point)));
            entry.1 = extreme(entry.1, value(point));
            let next = self.rail.get(index + 1);
            if next.is_none_or(|p| !past(p)) {
                let (start, worst) = open.take().expect("an excursion is open here");
                let span = next.map_or(self.end, |p| p.at).since(start);
                if longest.is_none_or(|(_, longest_span, _)| span > longest_span) {
                    longest = Some((start, span, worst));
                }
            }
        }
        longest
    }

    fn draw_limit(&self, limit: Milliamps, longer_than: Duration) -> CheckResult {
        let check = format!("the draw never exceeds {limit} for longer than {longer_than}");
        let peak = self
            .rail
            .iter()
            .map(|p| p.current)
            .max()
            .unwrap_or_default();
        match self.longest_excursion(|p| p.current > limit, i32::max, |p| p.current.0) {
            Some((start, span, worst)) if span > longer_than => fail(
                check,
                format!("above the limit for {span} from {start}, peak {worst} mA"),
            ),
            Some((start, span, worst)) => pass(
                check,
                format!("longest excursion {span} from {start}, peak {worst} mA"),
            ),
            None => pass(check, format!("peak {peak}")),
        }
    }

    fn voltage_floor(&self, floor: Millivolts, longer_than: Duration) -> CheckResult {
        let check = format!("the supply never stays below {floor} for longer than {longer_than}");
        let lowest = self
            .rail
            .iter()
            .map(|p| p.voltage)
            .min()
            .unwrap_or_default();
        match self.longest_excursion(|p| p.voltage < floor, i32::min, |p| p.voltage.0) {
            Some((start, span, worst)) if span > longer_than => fail(
                check,
                format!("below the floor for {span} from {start}, lowest {worst} mV"),
            ),
            Some((start, span, worst)) => pass(
                check,
                format!("longest dip {span} from {start}, lowest {worst} mV"),
            ),
            None => pass(check, format!("lowest {lowest}")),
        }
    }

    fn final_state(&self, node: usize, state: StateName) -> CheckResult {
        let check = format!("{} ends in state {}", self.name(node), state.label());
        let actual = self.final_states[node];
        let detail = format!("state at {}: {actual:?}", self.end);
        if state.matches(&actual) {
            pass(check, detail)
        } else {
            fail(check, detail)
        }
    }

    fn state_reached(
        &self,
        node: usize,
        state: StateName,
        after: Instant,
        within: Option<Duration>,
    ) -> CheckResult {
        let end = window_end(after, within, self.end);
        let check = format!(
            "{} enters state {} between {after} and {end}",
            self.name(node),
            state.label()
        );
        let entered = self
            .state_changes(node)
            .find(|(at, to, cause)| *at >= after && *at <= end && state.entered_by(*to, *cause));
        match entered {
            Some((at, _, cause)) => pass(check, format!("entered at {at} ({cause:?})")),
            None => {
                let seen: Vec<String> = self
                    .state_changes(node)
                    .filter(|(at, ..)| *at >= after && *at <= end)
                    .map(|(at, to, _)| format!("{to} at {at}"))
                    .collect();
                fail(
                    check,
                    format!("states in the window: [{}]", seen.join(", ")),
                )
            }
        }
    }

    fn matching_events<'a>(
        &'a self,
        event: &'a str,
        node: Option<usize>,
    ) -> impl Iterator<Item = &'a Event> + 'a {
        self.events.iter().filter(move |e| {
            event_kind_name(&e.kind) == event
                && node.is_none_or(|n| e.node.map(|id| id.index()) == Some(n))
        })
    }

    fn event_raised(
        &self,
        event: &str,
        node: Option<usize>,
        after: Instant,
        within: Option<Duration>,
    ) -> CheckResult {
        let end = window_end(after, within, self.end);
        let about = node.map_or(String::new(), |n| format!(" for {}", self.name(n)));
        let check = format!("event {event}{about} is raised between {after} and {end}");
        match self
            .matching_events(event, node)
            .find(|e| e.at >= after && e.at <= end)
        {
            Some(found) => pass(
                check,
                format!(
                    "raised at {}: {:?}, measured {:?}",
                    found.at, found.kind, found.measured
                ),
            ),
            None => fail(check, "not raised in the window".into()),
        }
    }

    fn event_not_raised(
        &self,
        event: &str,
        node: Option<usize>,
        from: Option<Instant>,
        until: Option<Instant>,
    ) -> CheckResult {
        let (from, until) = (from.unwrap_or(Instant::ZERO), until.unwrap_or(self.end));
        let about = node.map_or(String::new(), |n| format!(" for {}", self.name(n)));
        let check = format!("event {event}{about} is not raised between {from} and {until}");
        match self
            .matching_events(event, node)
            .find(|e| e.at >= from && e.at <= until)
        {
            Some(found) => fail(check, format!("raised at {}: {:?}", found.at, found.kind)),
            None => pass(check, "not raised".into()),
        }
    }

    fn line_never_changes(&self, line: LineId) -> CheckResult {
        let check = format!("line {} never changes level", line.0);
        let changes = self
            .line_changes
            .iter()
            .find(|(id, _)| *id == line)
            .map_or(0, |(_, changes)| *changes);
        if changes == 0 {
            pass(check, "no change".into())
        } else {
            fail(check, format!("{changes} changes"))
        }
    }

    fn no_brown_out(&self, nodes: &[usize]) -> CheckResult {
        let check = format!("no brown-out of {}", self.names_of(nodes));
        let browned: Vec<String> = nodes
            .iter()
            .filter(|&&n| self.brown_outs[n] > 0)
            .map(|&n| format!("{} ({} times)", self.name(n), self.brown_outs[n]))
            .collect();
        if browned.is_empty() {
            pass(check, "none".into())
        } else {
            fail(check, format!("browned out: {}", browned.join(", ")))
        }
    }

    fn shed_order(&self, nodes: &[usize]) -> CheckResult {
        let check = format!("nodes are shed in the order {}", self.names_of(nodes));
        let shed: Vec<(Instant, usize, Cause)> = self
            .events
            .iter()
            .filter_map(|e| match e.kind {
                EventKind::StateChanged {
                    to: StateKind::Off,
                    cause: cause @ (Cause::OverCurrent | Cause::UnderVoltage),
                    ..
                } => e.node.map(|id| (e.at, id.index(), cause)),
                _ => None,
            })
            .collect();
        let order: Vec<usize> = shed.iter().map(|(_, node, _)| *node).collect();
        let detail: Vec<String> = shed
            .iter()
            .map(|(at, node, cause)| format!("{} at {at} ({cause:?})", self.name(*node)))
            .collect();
        let detail = format!("shed: [{}]", detail.join(", "));
        if order == nodes {
            pass(check, detail)
        } else {
            fail(check, detail)
        }
    }

    fn power_on_spacing(&self, min: Duration) -> CheckResult {
        let check = format!("power-ons are at least {min} apart");
        let mut ons: Vec<(Instant, usize)> = self
            .switch_edges
            .iter()
            .enumerate()
            .flat_map(|(node, edges)| {
                edges
                    .iter()
                    .filter(|(_, on)| *on)
                    .map(move |(at, _)| (*at, node))
            })
            .collect();
        ons.sort();
        let closest = ons
            .windows(2)
            .map(|pair| (pair[1].0.since(pair[0].0), pair[0], pair[1]))
            .min_by_key(|(gap, ..)| *gap);
        match closest {
            Some((gap, first, second)) => {
                let detail = format!(
                    "{} power-ons; closest: {} at {} and {} at {}, {gap} apart",
                    ons.len(),
                    self.name(first.1),
                    first.0,
                    self.name(second.1),
                    second.0
                );
                if gap >= min {
                    pass(check, detail)
                } else {
                    fail(check, detail)
                }
            }
            None => pass(check, format!("{} power-ons", ons.len())),
        }
    }

    fn running(&self, nodes: &[usize], by: Instant) -> CheckResult {
        let check = format!("{} are running at {by}", self.names_of(nodes));
        let mut not_running = Vec::new();
        for &node in nodes {
            let state = self
                .events
                .iter()
                .rev()
                .filter(|e| e.at <= by && e.node.map(|id| id.index()) == Some(node))
                .find_map(|e| match e.kind {
                    EventKind::StateChanged { to, .. } => Some(to),
                    _ => None,
                });
            if state != Some(StateKind::Running) {
                not_running.push(format!("{} is {:?}", self.name(node), state));
            }
        }
        if not_running.is_empty() {
            pass(check, "all running".into())
        } else {
            fail(check, not_running.join(", "))
        }
    }

    fn recovery_ladder(
        &self,
        node: usize,
        cycles_at: &[Duration],
        quarantined_at: Option<Duration>,
        tolerance: Duration,
    ) -> CheckResult {
        let check = format!(
            "{} is cycled at {cycles_at:?} after its first loss{}",
            self.name(node),
            quarantined_at.map_or(String::new(), |q| format!(", quarantined at {q}"))
        );
        let Some((loss, ..)) = self
            .state_changes(node)
            .find(|(_, to, _)| *to == StateKind::Unresponsive)
        else {
            return fail(check, "the node never became unresponsive".into());
        };
        let cycles: Vec<Duration> = self
            .state_changes(node)
            .filter(|(_, to, cause)| *to == StateKind::Cycling && *cause != Cause::Operator)
            .map(|(at, ..)| at.since(loss))
            .collect();
        let quarantine = self
            .state_changes(node)
            .find(|(_, to, _)| *to == StateKind::Quarantined)
            .map(|(at, ..)| at.since(loss));
        let close = |a: Duration, b: Duration| {
            let gap = if a > b { a - b } else { b - a };
            gap <= tolerance
        };
        let cycles_match = cycles.len() == cycles_at.len()
            && cycles.iter().zip(cycles_at).all(|(a, b)| close(*a, *b));
        let quarantine_match = match (quarantined_at, quarantine) {
            (Some(expected), Some(actual)) => close(expected, actual),
            (None, None) => true,
            _ => false,
        };
        let detail = format!(
            "first loss at {loss}; cycles at {cycles:?} after it; quarantine {quarantine:?}"
        );
        if cycles_match && quarantine_match {
            pass(check, detail)
        } else {
            fail(check, detail)
        }
    }
}

fn pass(check: String, detail: String) -> CheckResult {
    CheckResult {
        check,
        passed: true,
        detail,
    }
}

fn fail(check: String, detail: String) -> CheckResult {
    CheckResult {
        check,
        passed: false,
        detail,
    }
}
