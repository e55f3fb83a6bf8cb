//! Per-node runtime data and every transition of the node state machine.
//!
//! Each transition goes through [`Controller::enter`], which records the event, so no state
//! changes without one.

use crate::config::{NodeId, Role};
use crate::event::{Cause, EventKind, StuckWay};
use crate::heartbeat::{HeartbeatStatus, HeartbeatTracker};
use crate::recovery::{CycleHistory, Step};
use crate::state::{NodeState, Unresponsive};
use crate::units::{Instant, Milliamps};

use super::{Action, Controller};

/// A switch action waiting for its measured step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Verification {
    pub on: bool,
    /// The newest valid current before the switch; `None` if there was none.
    pub baseline: Option<Milliamps>,
    pub deadline: Instant,
    /// The largest step in the expected direction seen so far.
    pub best_step: Option<Milliamps>,
}

/// A switch-off waiting for the switch in flight to show its measured step. The supply has
/// one monitor, so two switches verified at once would each see their sum: a welded relay
/// would pass on its neighbour's step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum DeferredOff {
    /// Switch off and enter `Off`.
    Off(Cause),
    /// Start a power cycle.
    Cycle(Cause),
    /// Only switch off; the state was already changed.
    SwitchOnly(Cause),
}

impl DeferredOff {
    /// Returns whether an operator asked for it, rather than automation.
    fn by_operator(self) -> bool {
        let (DeferredOff::Off(cause) | DeferredOff::Cycle(cause) | DeferredOff::SwitchOnly(cause)) =
            self;
        cause == Cause::Operator
    }
}

/// Runtime data of one node.
#[derive(Clone, Debug)]
pub(super) struct NodeRuntime {
    pub state: NodeState,
    /// The level the switch line is commanded to, as "on" or "off".
    pub switch_on: bool,
    pub heartbeat: HeartbeatTracker,
    pub cycles: CycleHistory,
    pub last_reset: Option<Instant>,
    pub last_off: Option<Instant>,
    pub verification: Option<Verification>,
    pub last_verified: Option<bool>,
    pub power_ons: u32,
    pub power_on_queued: bool,
    pub deferred_off: Option<DeferredOff>,
}

impl NodeRuntime {
    pub fn new(state: NodeState, switch_on: bool, heartbeat_high: bool) -> Self {
        Self {
            state,
            switch_on,
            heartbeat: HeartbeatTracker::new(heartbeat_high),
            cycles: CycleHistory::default(),
            last_reset: None,
            last_off: None,
            verification: None,
            last_verified: None,
            power_ons: 0,
            power_on_queued: false,
            deferred_off: None,
        }
    }
}

impl<const N: usize> Controller<N> {
    /// Moves `node` to `state` and records the event.
    pub(super) fn enter(&mut self, now: Instant, node: NodeId, state: NodeState, cause: Cause) {
        let runtime = &mut self.nodes[node.index()];
        let from = runtime.state.kind();
        runtime.state = state;
        let kind = EventKind::StateChanged {
            from,
            to: state.kind(),
            cause,
        };
        self.raise(now, Some(node), kind);
    }

    /// Emits a switch action and starts its verification.
    pub(super) fn switch(&mut self, now: Instant, node: NodeId, on: bool) {
        if self.config.nodes[node.index()].role == Role::Head {
            // The head has no switch line; validation guarantees this branch is never taken.
            return;
        }
        let baseline = self.supply.last.and_then(|(_, sample)| sample.current);
        let deadline = now + self.config.timings.verify_window;
        let runtime = &mut self.nodes[node.index()];
        runtime.switch_on = on;
        runtime.verification = Some(Verification {
            on,
            baseline,
            deadline,
            best_step: None,
        });
        runtime.last_verified = None;
        if on {
            runtime.power_ons = runtime.power_ons.saturating_add(1);
            runtime.heartbeat.restart();
        } else {
            runtime.last_off = Some(now);
        }
        self.push_action(Action::Switch { node, on });
    }

    /// Returns whether a switch waits for its measured step.
    pub(super) fn switch_in_flight(&self) -> bool {
        self.nodes
            .iter()
            .any(|runtime| runtime.verification.is_some())
    }

    /// Switches a node off now, or once the switch in flight is verified.
    pub(super) fn request_off(&mut self, now: Instant, node: NodeId, off: DeferredOff) {
        if self.switch_in_flight() {
            self.nodes[node.index()].deferred_off = Some(off);
        } else {
            self.perform_off(now, node, off);
        }
    }

    /// Performs deferred switch-offs, one at a time, whenever no switch is in flight. Automatic
    /// ones also wait for fresh telemetry: missing telemetry never switches a node off.
    pub(super) fn perform_deferred_offs(&mut self, now: Instant) {
        let fresh = self
            .supply
            .telemetry_ok(now, self.config.timings.telemetry_timeout);
        while !self.switch_in_flight() {
            let waiting = self.nodes.iter().position(|runtime| {
                runtime
                    .deferred_off
                    .is_some_and(|off| fresh || off.by_operator())
            });
            let Some(index) = waiting else {
                return;
            };
            let off = self.nodes[index].deferred_off.take();
            if let Some(off) = off {
                self.perform_off(now, NodeId(index as u8), off);
            }
        }
    }

    fn perform_off(&mut self, now: Instant, node: NodeId, off: DeferredOff) {
        let state = self.nodes[node.index()].state;
        if matches!(state, NodeState::Held { .. } | NodeState::Faulted { .. }) {
            // Held or faulted while it waited: automation and a stale request leave it alone.
            return;
        }
        match off {
            DeferredOff::Off(cause) => self.power_off(now, node, cause),
            DeferredOff::Cycle(cause) => self.start_cycle(now, node, cause),
            DeferredOff::SwitchOnly(_) if self.nodes[node.index()].switch_on => {
                self.switch(now, node, false);
            }
            DeferredOff::SwitchOnly(_) => {}
        }
    }

    /// Switches a node off for an operator or a shed, leaving it in `Off`.
    pub(super) fn power_off(&mut self, now: Instant, node: NodeId, cause: Cause) {
        self.nodes[node.index()].power_on_queued = false;
        if self.nodes[node.index()].switch_on {
            self.release_reset_line(node);
            self.switch(now, node, false);
        }
        self.enter(now, node, NodeState::Off { since: now }, cause);
    }

    /// Starts a power cycle: off now, queued for power-on after the minimum off time.
    pub(super) fn start_cycle(&mut self, now: Instant, node: NodeId, cause: Cause) {
        self.release_reset_line(node);
        if self.nodes[node.index()].switch_on {
            self.switch(now, node, false);
        }
        self.enter(now, node, NodeState::Cycling { since: now }, cause);
    }

    /// Starts a reset pulse on the node's RUN line.
    pub(super) fn start_reset(&mut self, now: Instant, node: NodeId, cause: Cause) {
        self.nodes[node.index()].last_reset = Some(now);
        self.push_action(Action::Reset {
            node,
            asserted: true,
        });
        self.raise(now, Some(node), EventKind::ResetPulsed);
        self.enter(now, node, NodeState::Resetting { since: now }, cause);
    }

    /// Releases the RUN line if a reset pulse is under way.
    pub(super) fn release_reset_line(&mut self, node: NodeId) {
        if matches!(self.nodes[node.index()].state, NodeState::Resetting { .. }) {
            self.push_action(Action::Reset {
                node,
                asserted: false,
            });
        }
    }

    /// Advances one node's timers and heartbeat to `now`.
    pub(super) fn advance_node(&mut self, now: Instant, node: NodeId) {
        let timings = self.config.timings;
        let has_heartbeat = self.config.nodes[node.index()].heartbeat.is_some();
        let heartbeat = self.nodes[node.index()].heartbeat.status(now, &timings);

        match self.nodes[node.index()].state {
            NodeState::PoweringOn { since } if now >= since + timings.inrush_window => {
                let state = if has_heartbeat {
                    NodeState::Booting { since: now }
                } else {
                    NodeState::Running
                };
                self.enter(now, node, state, Cause::InrushDone);
            }
            NodeState::Booting { .. } if heartbeat == HeartbeatStatus::Alive => {
                self.enter(now, node, NodeState::Running, Cause::HeartbeatAlive);
            }
            NodeState::Booting { since } if now >= since + timings.boot_grace => {
                let state = NodeState::Unresponsive {
                    since: now,
                    reason: Unresponsive::NeverBooted,
                };
                self.report_stuck_line(now, node);
                self.enter(now, node, state, Cause::NeverBooted);
                self.recover(now, node);
            }
            NodeState::Resetting { since } if now >= since + timings.reset_pulse => {
                self.push_action(Action::Reset {
                    node,
                    asserted: false,
                });
                self.nodes[node.index()].heartbeat.restart();
                self.enter(
                    now,
                    node,
                    NodeState::Booting { since: now },
                    Cause::ResetDone,
                );
            }
            NodeState::Unresponsive { .. } if heartbeat == HeartbeatStatus::Alive => {
                self.enter(now, node, NodeState::Running, Cause::HeartbeatAlive);
            }
            NodeState::Unresponsive { .. } => self.recover(now, node),
            NodeState::Cycling { since } if now >= since + timings.min_off_time => {
                self.queue_power_on(node);
            }
            _ => {}
        }
    }

    /// Moves a running node whose heartbeat is lost to `Unresponsive` and starts recovery.
    pub(super) fn heartbeat_lost(&mut self, now: Instant, node: NodeId) {
        let state = NodeState::Unresponsive {
            since: now,
            reason: Unresponsive::Hung,
        };
        self.report_stuck_line(now, node);
        self.enter(now, node, state, Cause::Hung);
        self.recover(now, node);
    }

    /// Takes the next step of the recovery ladder for an unresponsive node.
    fn recover(&mut self, now: Instant, node: NodeId) {
        if !self
            .supply
            .telemetry_ok(now, self.config.timings.telemetry_timeout)
        {
            // Without telemetry the node could be switched off but never admitted back on.
            return;
        }
        let timings = self.config.timings;
        let runtime = &self.nodes[node.index()];
        let has_reset = self.config.nodes[node.index()].reset.is_some();
        let reset_allowed = runtime
            .last_reset
            .is_none_or(|at| now.since(at) > timings.cycle_window);
        if self.config.recovery.reset_first && has_reset && reset_allowed {
            self.start_reset(now, node, Cause::Hung);
            return;
        }

        match self.nodes[node.index()].cycles.next_step(now, &timings) {
            Step::Cycle => {
                self.nodes[node.index()].cycles.record(now);
                self.request_off(now, node, DeferredOff::Cycle(Cause::Hung));
            }
            Step::WaitUntil(_) => {}
            Step::Quarantine => self.quarantine(now, node),
        }
    }

    fn quarantine(&mut self, now: Instant, node: NodeId) {
        let leave_on = self.config.recovery.quarantine_power == crate::config::QuarantinePower::On;
        if !leave_on {
            self.request_off(now, node, DeferredOff::SwitchOnly(Cause::RecoveryLimit));
        }
        self.enter(
            now,
            node,
            NodeState::Quarantined { on: leave_on },
            Cause::RecoveryLimit,
        );
    }

    /// Raises a stuck-line event when the lost line sits high, the agent's usual crash level.
    fn report_stuck_line(&mut self, now: Instant, node: NodeId) {
        let high = self.nodes[node.index()].heartbeat.level_high();
        self.raise(now, Some(node), EventKind::HeartbeatStuck { high });
    }

    /// Finishes a switch verification with the newest sample, or at its deadline.
    pub(super) fn verify_switch(&mut self, now: Instant, node: NodeId) {
        let Some(mut check) = self.nodes[node.index()].verification else {
            return;
        };
        let expected = self.config.nodes[node.index()].min_step;
        let current = self.supply.last.and_then(|(at, sample)| {
            // Only samples taken after the switch can show its step.
            (at > check.deadline - self.config.timings.verify_window).then_some(sample.current)?
        });
        if let (Some(baseline), Some(current)) = (check.baseline, current) {
            let step = if check.on {
                current - baseline
            } else {
                baseline - current
            };
            check.best_step = Some(check.best_step.map_or(step, |best| best.max(step)));
            if step >= expected {
                self.nodes[node.index()].verification = None;
                self.nodes[node.index()].last_verified = Some(true);
                let kind = EventKind::SwitchVerified {
                    on: check.on,
                    measured_step: step,
                };
                self.raise(now, Some(node), kind);
                return;
            }
        }
        self.nodes[node.index()].verification = Some(check);
        if now < check.deadline {
            return;
        }

        self.nodes[node.index()].verification = None;
        let Some(measured_step) = check.best_step else {
            self.raise(
                now,
                Some(node),
                EventKind::SwitchUnverified { on: check.on },
            );
            return;
        };
        let way = if check.on {
            StuckWay::StuckOff
        } else {
            StuckWay::StuckOn
        };
        self.nodes[node.index()].last_verified = Some(false);
        self.nodes[node.index()].power_on_queued = false;
        let kind = EventKind::SwitchFailed {
            way,
            expected_step: expected,
            measured_step,
        };
        self.raise(now, Some(node), kind);
        self.enter(
            now,
            node,
            NodeState::Faulted { way },
            Cause::SwitchStuck(way),
        );
    }
}
