//! Budget admission, staggered power-on, shedding on a trip and the cluster-wide heartbeat
//! check.

use crate::config::{NodeId, Role};
use crate::event::{Cause, EventKind};
use crate::heartbeat::HeartbeatStatus;
use crate::state::NodeState;
use crate::units::{Instant, Milliamps};

use super::{Controller, Rejection};

/// The admission decision for the head of the power-on queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Admission {
    /// Switch it on now.
    Admit,
    /// Another node's switch or inrush is in progress, or a trip is in force.
    Busy,
    /// The minimum off time has not passed.
    WaitUntil(Instant),
    /// No valid sample recent enough, or none taken since the last switch settled.
    NoTelemetry,
    /// Present draw plus boot peak exceeds the budget.
    OverBudget {
        needed: Milliamps,
        budget: Milliamps,
    },
}

impl<const N: usize> Controller<N> {
    /// Puts a node at the back of the power-on queue.
    pub(super) fn queue_power_on(&mut self, node: NodeId) {
        let runtime = &mut self.nodes[node.index()];
        if !runtime.power_on_queued {
            runtime.power_on_queued = true;
            self.queue_order = self.queue_order.wrapping_add(1);
            self.queued_at[node.index()] = self.queue_order;
        }
    }

    /// Returns the queued node that has waited longest.
    fn queue_head(&self) -> Option<NodeId> {
        (0..self.nodes.len())
            .filter(|&index| self.nodes[index].power_on_queued)
            .min_by_key(|&index| self.queued_at[index])
            .map(|index| NodeId(index as u8))
    }

    /// Decides whether `node` may be switched on at `now`.
    pub(super) fn admission(&self, now: Instant, node: NodeId) -> Admission {
        let timings = &self.config.timings;
        let switching = self.nodes.iter().any(|runtime| {
            runtime.verification.is_some() || matches!(runtime.state, NodeState::PoweringOn { .. })
        });
        if switching || self.supply.tripped() {
            return Admission::Busy;
        }
        if let Some(off) = self.nodes[node.index()].last_off
            && now < off + timings.min_off_time
        {
            return Admission::WaitUntil(off + timings.min_off_time);
        }

        // The draw has settled once a sample was taken after the last inrush window ended.
        let fresh = self.supply.telemetry_ok(now, timings.telemetry_timeout);
        let current = self.supply.last.and_then(|(at, sample)| {
            (at >= self.settled_after)
                .then_some(sample.current)
                .flatten()
        });
        let (true, Some(draw)) = (fresh, current) else {
            return Admission::NoTelemetry;
        };
        let sagging = self
            .supply
            .last
            .is_some_and(|(_, sample)| sample.voltage < self.config.supply.under_voltage);
        if sagging {
            // A sagging supply would sag further under a boot peak; wait for it to recover.
            return Admission::Busy;
        }
        let needed = draw + self.config.nodes[node.index()].boot_peak;
        let budget = self.config.supply.budget();
        if needed > budget {
            return Admission::OverBudget { needed, budget };
        }
        Admission::Admit
    }

    /// Switches on the queue's head if it is admitted now.
    pub(super) fn admit_next(&mut self, now: Instant) {
        let Some(node) = self.queue_head() else {
            return;
        };
        match self.admission(now, node) {
            Admission::Admit => {
                self.nodes[node.index()].power_on_queued = false;
                self.deferred_logged = false;
                self.settled_after = now + self.config.timings.inrush_window;
                self.switch(now, node, true);
                let cause = self.admitted_cause(node);
                self.enter(now, node, NodeState::PoweringOn { since: now }, cause);
            }
            Admission::OverBudget { needed, budget } if !self.deferred_logged => {
                self.deferred_logged = true;
                self.raise(
                    now,
                    Some(node),
                    EventKind::PowerOnDeferred { needed, budget },
                );
            }
            _ => {}
        }
    }

    fn admitted_cause(&self, node: NodeId) -> Cause {
        match self.nodes[node.index()].state {
            NodeState::Cycling { .. } => Cause::MinOffElapsed,
            _ => Cause::Admitted,
        }
    }

    /// Checks an operator's power-on against the rules that make it impossible now.
    pub(super) fn check_power_on(&self, now: Instant, node: NodeId) -> Result<(), Rejection> {
        let timings = &self.config.timings;
        if !self.supply.telemetry_ok(now, timings.telemetry_timeout) {
            return Err(Rejection::NoTelemetry { node });
        }
        let draw = self
            .supply
            .last
            .and_then(|(_, sample)| sample.current)
            .unwrap_or_default();
        let needed = draw + self.config.nodes[node.index()].boot_peak;
        let budget = self.config.supply.budget();
        if needed > budget {
            return Err(Rejection::OverBudget {
                node,
                needed,
                budget,
            });
        }
        Ok(())
    }

    /// Sheds the lowest-priority powered worker while a trip is in force and the reading is
    /// still past its threshold. One node at a time: the next waits for the previous switch's
    /// measured step.
    pub(super) fn shed(&mut self, now: Instant) {
        let still_over = self.supply.last.is_some_and(|(_, sample)| {
            let config = &self.config.supply;
            let over = self.supply.over_current.tripped()
                && sample
                    .current
                    .is_some_and(|current| current > config.budget());
            let under =
                self.supply.under_voltage.tripped() && sample.voltage < config.under_voltage;
            over || under
        });
        let verifying = self
            .nodes
            .iter()
            .any(|runtime| runtime.verification.is_some());
        let fresh = self
            .supply
            .telemetry_ok(now, self.config.timings.telemetry_timeout);
        if !still_over || verifying || !fresh {
            return;
        }

        let cause = if self.supply.over_current.tripped() {
            Cause::OverCurrent
        } else {
            Cause::UnderVoltage
        };
        match self.shed_candidate() {
            Some(node) => self.power_off(now, node, cause),
            None if !self.nothing_to_shed_logged => {
                self.nothing_to_shed_logged = true;
                self.raise(now, None, EventKind::NothingToShed);
            }
            None => {}
        }
    }

    /// Returns the powered worker with the lowest priority that automation may switch.
    fn shed_candidate(&self) -> Option<NodeId> {
        self.config
            .nodes_with_ids()
            .filter(|(_, config)| config.role == Role::Worker)
            .filter(|(id, _)| {
                let runtime = &self.nodes[id.index()];
                let automatic = !matches!(
                    runtime.state,
                    NodeState::Held { .. } | NodeState::Faulted { .. }
                );
                runtime.switch_on && automatic
            })
            .min_by_key(|(id, config)| (config.priority, core::cmp::Reverse(id.0)))
            .map(|(id, _)| id)
    }

    /// Finds running workers whose heartbeat is lost and handles them, unless every monitored
    /// worker went silent together.
    ///
    /// Heartbeats of different nodes are out of phase, so workers that lost their heartbeat
    /// to one common cause are found lost up to a period apart. A worker silent for more than
    /// half the timeout therefore counts as lost in the same check.
    pub(super) fn check_heartbeats(&mut self, now: Instant) {
        let timings = self.config.timings;
        let mut monitored = 0u8;
        let mut lost = 0u8;
        let mut silent = 0u8;
        for (id, config) in self.config.nodes_with_ids() {
            let runtime = &self.nodes[id.index()];
            if config.role != Role::Worker
                || config.heartbeat.is_none()
                || runtime.state != NodeState::Running
            {
                continue;
            }
            monitored += 1;
            if matches!(
                runtime.heartbeat.status(now, &timings),
                HeartbeatStatus::Lost { .. }
            ) {
                lost += 1;
            }
            let half_timeout = Duration::from_micros(timings.heartbeat_timeout.as_micros() / 2);
            if runtime
                .heartbeat
                .last_edge()
                .is_none_or(|at| now.since(at) > half_timeout)
            {
                silent += 1;
            }
        }
        if lost == 0 {
            return;
        }

        if monitored >= 2 && silent == monitored {
            if !self.common_cause {
                self.common_cause = true;
                self.raise(now, None, EventKind::CommonCauseLoss { workers: monitored });
            }
            return;
        }
        for index in 0..self.nodes.len() {
            let id = NodeId(index as u8);
            let runtime = &self.nodes[index];
            let running = runtime.state == NodeState::Running;
            let is_lost = matches!(
                runtime.heartbeat.status(now, &timings),
                HeartbeatStatus::Lost { .. }
            );
            if running && is_lost && self.config.nodes[index].heartbeat.is_some() {
                self.heartbeat_lost(now, id);
            }
        }
    }
}

use crate::units::Duration;
