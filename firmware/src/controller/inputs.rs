//! The controller's public inputs and queries.

use heapless::Vec;

use crate::config::{ClusterConfig, ConfigProblem, ConfigProblems, NodeId, Role};
use crate::event::{Cause, Event, EventKind, EventRing, Measured};
use crate::protection::TripChange;
use crate::recovery::CycleHistory;
use crate::state::NodeState;
use crate::units::Instant;

use super::node::{DeferredOff, NodeRuntime};
use super::supply::SupplyRuntime;
use super::{
    Action, AdminState, Command, Controller, NodeStart, NodeStatus, Rejection, Sample, SupplyStatus,
};

impl<const N: usize> Controller<N> {
    /// Builds a controller that adopts each node as found, switching nothing. A switch that is on
    /// stays on and its node gets a boot grace. `start` lists the nodes in configuration order,
    /// and missing entries count as switched off.
    // Without an allocator the problems cannot be boxed; a controller is built once, at start.
    #[allow(clippy::result_large_err)]
    pub fn new(
        config: ClusterConfig<N>,
        now: Instant,
        start: &[NodeStart],
    ) -> Result<Self, ConfigProblems> {
        config.validate()?;
        let mut controller = Self {
            nodes: Vec::new(),
            supply: SupplyRuntime::new(now),
            actions: heapless::Deque::new(),
            events: EventRing::default(),
            dropped_events: 0,
            queued_at: Vec::new(),
            queue_order: 0,
            settled_after: now,
            deferred_logged: false,
            nothing_to_shed_logged: false,
            common_cause: false,
            now,
            config,
        };
        for (index, node) in controller.config.nodes.iter().enumerate() {
            let found = start.get(index).cloned().unwrap_or_default();
            let runtime = adopt(now, node.role, &found);
            // Both vectors have capacity N, and the configuration has at most N nodes.
            let _ = controller.nodes.push(runtime);
            let _ = controller.queued_at.push(0);
        }
        for index in 0..controller.nodes.len() {
            let to = controller.nodes[index].state.kind();
            let kind = EventKind::StateChanged {
                from: to,
                to,
                cause: Cause::Adopted,
            };
            controller.raise(now, Some(NodeId(index as u8)), kind);
        }
        Ok(controller)
    }

    /// Takes one reading of the supply.
    pub fn sample(&mut self, now: Instant, sample: Sample) {
        let supply = self.config.supply;
        let delay = self.config.timings.trip_delay;
        let outcome = self.supply.take(now, sample, &supply, delay);
        if outcome.telemetry_restored {
            self.raise(now, None, EventKind::TelemetryRestored);
        }
        if outcome.over_current == Some(TripChange::Tripped) {
            let draw = sample.current.unwrap_or_default();
            let kind = EventKind::OverCurrentTrip {
                draw,
                budget: supply.budget(),
            };
            self.raise(now, None, kind);
        }
        if outcome.under_voltage == Some(TripChange::Tripped) {
            let kind = EventKind::UnderVoltageTrip {
                voltage: sample.voltage,
                floor: supply.under_voltage,
            };
            self.raise(now, None, kind);
        }
        let cleared = [outcome.over_current, outcome.under_voltage];
        if cleared.contains(&Some(TripChange::Cleared)) {
            self.nothing_to_shed_logged = false;
            self.raise(now, None, EventKind::TripCleared);
        }
        self.advance(now);
    }

    /// Counts a sample that the monitor failed to deliver (a bus error, an overflow, a reset).
    pub fn sample_failed(&mut self, now: Instant) {
        self.supply.drop_sample();
        self.advance(now);
    }

    /// Records an edge on `node`'s heartbeat line to level `high`.
    /// Edges for an unknown node or a node without a heartbeat line are ignored.
    pub fn heartbeat_edge(&mut self, now: Instant, node: NodeId, high: bool) {
        let has_line = self
            .config
            .nodes
            .get(node.index())
            .is_some_and(|n| n.heartbeat.is_some());
        let Some(runtime) = self.nodes.get_mut(node.index()).filter(|_| has_line) else {
            return;
        };
        let outcome = runtime.heartbeat.edge(now, high, &self.config.timings);
        if outcome.counted {
            self.common_cause = false;
        }
        if let Some(edges) = outcome.noisy_burst {
            self.raise(now, Some(node), EventKind::HeartbeatNoisy { edges });
        }
        self.advance(now);
    }

    /// Advances every timer to `now`; call it at [`Controller::next_deadline`].
    pub fn poll(&mut self, now: Instant) {
        self.advance(now);
    }

    /// Applies an operator command, or rejects it without changing anything.
    pub fn command(
        &mut self,
        now: Instant,
        node: NodeId,
        command: Command,
    ) -> Result<(), Rejection> {
        let Some(config) = self.config.nodes.get(node.index()) else {
            return Err(Rejection::UnknownNode { node });
        };
        if config.role == Role::Head {
            return Err(Rejection::HeadNode { node });
        }
        let has_reset = config.reset.is_some();
        let state = self.nodes[node.index()].state;
        match (command, state) {
            (Command::Release, NodeState::Held { .. } | NodeState::Quarantined { .. }) => {
                self.release(now, node);
            }
            (Command::Release, NodeState::Faulted { .. }) => self.release(now, node),
            (Command::Release, _) => return Err(Rejection::NotReleasable { node }),
            (_, NodeState::Held { .. }) => return Err(Rejection::Held { node }),
            (Command::Off, NodeState::Quarantined { .. }) => {
                self.request_off(now, node, DeferredOff::SwitchOnly(Cause::Operator));
                let quarantined = NodeState::Quarantined { on: false };
                self.enter(now, node, quarantined, Cause::Operator);
            }
            (Command::Hold, NodeState::Faulted { .. })
            | (Command::Hold, NodeState::Quarantined { .. }) => {
                let on = self.nodes[node.index()].switch_on;
                self.hold(now, node, on);
            }
            (_, NodeState::Quarantined { .. }) => return Err(Rejection::Quarantined { node }),
            (_, NodeState::Faulted { way }) => return Err(Rejection::Faulted { node, way }),
            (Command::Hold, _) => {
                let on = self.nodes[node.index()].switch_on;
                self.hold(now, node, on);
            }
            (Command::On | Command::Cycle, NodeState::Off { .. } | NodeState::Cycling { .. }) => {
                if !self.nodes[node.index()].power_on_queued {
                    self.check_power_on(now, node)?;
                }
                self.queue_power_on(node);
            }
            // Already powered: an off still waiting for its turn is withdrawn.
            (Command::On, _) => self.nodes[node.index()].deferred_off = None,
            (Command::Off, NodeState::Off { .. }) => {
                self.nodes[node.index()].power_on_queued = false;
            }
            (Command::Off, _) => self.request_off(now, node, DeferredOff::Off(Cause::Operator)),
            (Command::Cycle, _) => {
                self.request_off(now, node, DeferredOff::Cycle(Cause::Operator));
            }
            (Command::Reset, _) if !has_reset => return Err(Rejection::NoResetLine { node }),
            (Command::Reset, _) if !state.powered() => return Err(Rejection::NotPowered { node }),
            (Command::Reset, NodeState::Resetting { .. }) => {}
            (Command::Reset, _) => self.start_reset(now, node, Cause::Operator),
        }
        self.advance(now);
        Ok(())
    }

    /// Returns the next action to apply, oldest first.
    pub fn next_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// Returns when the controller must next be polled if no input arrives first: the earliest
    /// timer after the newest input's time. Every timer at or before that time is handled.
    pub fn next_deadline(&self) -> Option<Instant> {
        let timings = &self.config.timings;
        let after = self.now;
        let mut earliest: Option<Instant> = None;
        let mut consider = |at: Option<Instant>| {
            if let Some(at) = at.filter(|&at| at > after) {
                earliest = Some(earliest.map_or(at, |e| e.min(at)));
            }
        };

        consider(Some(
            self.supply.telemetry_deadline(timings.telemetry_timeout),
        ));
        consider(self.supply.over_current.trips_at(timings.trip_delay));
        consider(self.supply.under_voltage.trips_at(timings.trip_delay));
        for runtime in &self.nodes {
            consider(runtime.verification.map(|check| check.deadline));
            if runtime.state == NodeState::Running {
                consider(runtime.heartbeat.lost_at(timings));
            }
            if runtime.power_on_queued {
                consider(runtime.last_off.map(|off| off + timings.min_off_time));
            }
            consider(match runtime.state {
                NodeState::PoweringOn { since } => Some(since + timings.inrush_window),
                NodeState::Booting { since } => Some(since + timings.boot_grace),
                NodeState::Resetting { since } => Some(since + timings.reset_pulse),
                NodeState::Cycling { since } => Some(since + timings.min_off_time),
                NodeState::Unresponsive { .. } => runtime.cycles.next_wait(timings),
                _ => None,
            });
        }
        earliest
    }

    /// Replaces the configuration in force, keeping every node's state, timers, verification
    /// and recovery history. The new configuration must describe the same nodes (names,
    /// roles and lines, in the same order). To change those, build a new controller, which
    /// adopts the lines as found.
    #[allow(clippy::result_large_err)]
    pub fn reconfigure(&mut self, config: ClusterConfig<N>) -> Result<(), ConfigProblems> {
        config.validate()?;
        let same_nodes = config.nodes.len() == self.config.nodes.len()
            && config
                .nodes
                .iter()
                .zip(&self.config.nodes)
                .all(|(new, old)| {
                    new.name == old.name
                        && new.role == old.role
                        && new.switch == old.switch
                        && new.reset == old.reset
                        && new.heartbeat == old.heartbeat
                });
        if !same_nodes {
            let mut problems = ConfigProblems::default();
            let _ = problems.problems.push(ConfigProblem::NodesChanged);
            return Err(problems);
        }
        self.config = config;
        Ok(())
    }

    /// Returns the configuration in force.
    pub fn config(&self) -> &ClusterConfig<N> {
        &self.config
    }

    /// Returns one node's status, or `None` for an unknown id.
    pub fn node_status(&self, node: NodeId, now: Instant) -> Option<NodeStatus> {
        let runtime = self.nodes.get(node.index())?;
        let timings = &self.config.timings;
        Some(NodeStatus {
            state: runtime.state,
            heartbeat: runtime.heartbeat.status(now, timings),
            last_edge: runtime.heartbeat.last_edge(),
            switch_verified: runtime.last_verified,
            power_ons: runtime.power_ons,
            recent_cycles: runtime.cycles.recent(now, timings),
            total_cycles: runtime.cycles.total(),
            power_on_queued: runtime.power_on_queued,
        })
    }

    /// Returns the supply's status.
    pub fn supply_status(&self, now: Instant) -> SupplyStatus {
        SupplyStatus {
            last_sample: self.supply.last,
            telemetry_ok: self
                .supply
                .telemetry_ok(now, self.config.timings.telemetry_timeout),
            over_current: self.supply.over_current.tripped(),
            under_voltage: self.supply.under_voltage.tripped(),
            trips: self.supply.trips,
            dropped_samples: self.supply.dropped_samples,
            budget: self.config.supply.budget(),
        }
    }

    /// Returns the newest events, kept in a bounded ring.
    pub fn events(&self) -> &EventRing {
        &self.events
    }

    /// Returns the administrative state to persist for `node`.
    pub fn admin_state(&self, node: NodeId) -> Option<AdminState> {
        let runtime = self.nodes.get(node.index())?;
        let mut cycles = Vec::new();
        for &at in runtime.cycles.times() {
            let _ = cycles.push(at);
        }
        Some(AdminState {
            held: matches!(runtime.state, NodeState::Held { .. }),
            quarantined: matches!(runtime.state, NodeState::Quarantined { .. }),
            cycles,
            last_off: runtime.last_off,
            power_on_pending: runtime.power_on_queued
                || matches!(runtime.state, NodeState::Cycling { .. }),
        })
    }

    /// Returns the level each switch is commanded to (`true` = on), for a restart or reload.
    pub fn switch_on(&self, node: NodeId) -> Option<bool> {
        self.nodes
            .get(node.index())
            .map(|runtime| runtime.switch_on)
    }

    pub(super) fn raise(&mut self, now: Instant, node: Option<NodeId>, kind: EventKind) {
        let event = Event {
            at: now,
            node,
            kind,
            measured: self.measured(),
        };
        self.events.push(event);
        self.push_action(Action::Event(event));
    }

    fn measured(&self) -> Measured {
        self.supply.measured()
    }

    pub(super) fn push_action(&mut self, action: Action) {
        if self.actions.is_full() {
            self.drop_oldest_event();
        }
        if self.actions.push_back(action).is_err() {
            // Only switch and reset actions are left and the queue is full: the caller did not
            // drain it. Losing an event is the lesser harm, so drop this one if it is an event.
            self.dropped_events = self.dropped_events.saturating_add(1);
        }
    }

    fn drop_oldest_event(&mut self) {
        let position = self
            .actions
            .iter()
            .position(|action| matches!(action, Action::Event(_)));
        if let Some(position) = position {
            let mut kept: heapless::Deque<Action, { super::ACTION_CAPACITY }> =
                heapless::Deque::new();
            for (index, action) in self.actions.iter().enumerate() {
                if index != position {
                    let _ = kept.push_back(*action);
                }
            }
            self.actions = kept;
            self.dropped_events = self.dropped_events.saturating_add(1);
        }
    }

    fn hold(&mut self, now: Instant, node: NodeId, on: bool) {
        self.release_reset_line(node);
        self.nodes[node.index()].power_on_queued = false;
        self.nodes[node.index()].deferred_off = None;
        self.enter(now, node, NodeState::Held { on }, Cause::Operator);
    }

    fn release(&mut self, now: Instant, node: NodeId) {
        let runtime = &mut self.nodes[node.index()];
        let state = if runtime.switch_on {
            runtime.heartbeat.restart();
            NodeState::Booting { since: now }
        } else {
            NodeState::Off {
                since: runtime.last_off.unwrap_or(now),
            }
        };
        if matches!(runtime.state, NodeState::Quarantined { .. }) {
            runtime.cycles = CycleHistory::default();
        }
        self.enter(now, node, state, Cause::Operator);
    }

    /// Runs every check that time or a new input may have made due.
    fn advance(&mut self, now: Instant) {
        self.now = self.now.max(now);
        self.check_telemetry(now);
        for index in 0..self.nodes.len() {
            self.verify_switch(now, NodeId(index as u8));
        }
        self.perform_deferred_offs(now);
        for index in 0..self.nodes.len() {
            self.advance_node(now, NodeId(index as u8));
        }
        self.check_heartbeats(now);
        self.shed(now);
        self.admit_next(now);
    }

    fn check_telemetry(&mut self, now: Instant) {
        let timeout = self.config.timings.telemetry_timeout;
        if !self.supply.telemetry_lost && now >= self.supply.telemetry_deadline(timeout) {
            self.supply.telemetry_lost = true;
            // A gap in the data is not time spent past a threshold.
            self.supply.over_current.restart_timing();
            self.supply.under_voltage.restart_timing();
            self.raise(now, None, EventKind::TelemetryLost);
        }
    }
}

/// Builds a node's runtime from its line levels and persisted state at start.
fn adopt(now: Instant, role: Role, found: &NodeStart) -> NodeRuntime {
    // The head is never switched: it is on, because the controller runs on it.
    let on = role == Role::Head || found.switch_on;
    let state = if found.admin.held {
        NodeState::Held { on }
    } else if found.admin.quarantined {
        NodeState::Quarantined { on }
    } else if role == Role::Head {
        NodeState::Running
    } else if on {
        NodeState::Booting { since: now }
    } else {
        NodeState::Off { since: now }
    };
    let mut runtime = NodeRuntime::new(state, on, found.heartbeat_high);
    runtime.cycles = CycleHistory::from_times(&found.admin.cycles);
    // A persisted time later than now comes from a clock that has since stepped back (a Pi
    // without a real-time clock before NTP): count from now, so the wait stays bounded.
    let last_off = found.admin.last_off.map(|at| at.min(now));
    runtime.last_off = last_off;
    if found.admin.power_on_pending && matches!(state, NodeState::Off { .. }) {
        // A cycle or a queued power-on was cut short by the restart: finish it, still
        // counting the minimum off time from the persisted switch-off (or from now, if none).
        runtime.last_off = Some(last_off.unwrap_or(now));
        runtime.power_on_queued = true;
    }
    runtime
}
