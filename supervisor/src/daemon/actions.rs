//! Operator actions: a selector's nodes, one firmware command each, and a result per node.

use picluster_firmware::config::{NodeId, Role};
use picluster_firmware::controller::{Command, Rejection};
use picluster_firmware::state::StateKind;
use picluster_firmware::units::Instant;
use tracing::{info, warn};

use super::core::Core;
use super::report::stuck_way_name;
use crate::backend::Backend;
use crate::protocol::{
    ActionKind, ErrorCode, EventDetail, NodeResult, Outcome, RejectReason, Reply, WaitFor,
};
use crate::socket::Peer;

/// Returns the firmware command for an action.
fn command_for(action: ActionKind) -> Command {
    match action {
        ActionKind::On => Command::On,
        ActionKind::Off => Command::Off,
        ActionKind::Cycle => Command::Cycle,
        ActionKind::Reset => Command::Reset,
        ActionKind::Hold => Command::Hold,
        ActionKind::Release => Command::Release,
    }
}

impl<B: Backend> Core<B> {
    /// Applies `action` to every node `selector` names, in configuration order.
    pub(super) fn act(&mut self, action: ActionKind, selector: &str, peer: Option<Peer>) -> Reply {
        let nodes = match crate::selector::select_in(selector, &self.settings.cluster) {
            Ok(nodes) => nodes,
            Err(error) => {
                return Reply::Error {
                    code: ErrorCode::InvalidSelector,
                    message: error.to_string(),
                };
            }
        };
        if let Some(message) = self.head_in_selection(&nodes, selector) {
            warn!(action = action.name(), selector, "{message}");
            return Reply::Error {
                code: ErrorCode::InvalidSelector,
                message,
            };
        }
        let now = self.request_time();
        self.advance_backend(now);
        self.drain();

        let results = nodes
            .into_iter()
            .map(|node| self.act_on(now, action, node, peer))
            .collect();
        self.commit();
        Reply::Action { results }
    }

    /// Describes why a selection that contains the head is rejected as a whole, before any
    /// node is touched; `None` when the head is not selected.
    fn head_in_selection(&self, nodes: &[NodeId], selector: &str) -> Option<String> {
        let head = nodes.iter().find(|node| {
            self.settings
                .cluster
                .nodes
                .get(node.index())
                .is_some_and(|config| config.role == Role::Head)
        })?;
        let name = self.node_name(*head);
        Some(format!(
            "{name} is the head node, which runs this daemon and is never switched or reset, \
             and the selection `{selector}` includes it, so no node was touched; leave the \
             head out (`all` never includes it)"
        ))
    }

    fn act_on(
        &mut self,
        now: Instant,
        action: ActionKind,
        node: NodeId,
        peer: Option<Peer>,
    ) -> NodeResult {
        let name = self.node_name(node);
        let was_on = self.board.controller().switch_on(node) == Some(true);
        let outcome = match self.board.command(now, node, command_for(action)) {
            Ok(()) => {
                let detail = EventDetail::OperatorAction {
                    action,
                    uid: peer.map_or(0, |peer| peer.uid),
                    pid: peer.and_then(|peer| peer.pid),
                };
                self.record_daemon(now, Some(node), detail);
                self.drain();
                let wait_for = self.wait_for(now, action, node, was_on);
                info!(node = %name, action = action.name(), "action accepted");
                Outcome::Accepted { wait_for }
            }
            Err(rejection) => {
                let (reason, message) = explain(rejection, &name);
                warn!(node = %name, action = action.name(), reason = ?reason, "{message}");
                Outcome::Rejected { reason, message }
            }
        };
        NodeResult {
            node: name,
            outcome,
        }
    }

    /// Returns the measured result an accepted action still waits for.
    fn wait_for(
        &self,
        now: Instant,
        action: ActionKind,
        node: NodeId,
        was_on: bool,
    ) -> Option<WaitFor> {
        let controller = self.board.controller();
        let status = controller.node_status(node, now)?;
        let is_on = controller.switch_on(node) == Some(true);
        match action {
            ActionKind::On if status.power_on_queued || (is_on && !was_on) => {
                Some(WaitFor::SwitchedOn)
            }
            ActionKind::Off if was_on && !is_on => Some(WaitFor::SwitchedOff),
            ActionKind::Cycle => Some(WaitFor::SwitchedOn),
            ActionKind::Reset if status.state.kind() == StateKind::Resetting => {
                Some(WaitFor::ResetDone)
            }
            _ => None,
        }
    }
}

/// Turns a firmware rejection into a reason code and a message that names the node and what
/// to do.
pub(super) fn explain(rejection: Rejection, name: &str) -> (RejectReason, String) {
    match rejection {
        Rejection::UnknownNode { node } => (
            RejectReason::UnknownNode,
            format!(
                "node index {} does not exist; see `picluster status`",
                node.0
            ),
        ),
        Rejection::HeadNode { .. } => (
            RejectReason::HeadNode,
            format!(
                "{name} is the head node, which runs this daemon and is never switched or \
                 reset; power it from its own supply if it must go off"
            ),
        ),
        Rejection::OverBudget { needed, budget, .. } => (
            RejectReason::OverBudget,
            format!(
                "{name} was not switched on: the measured draw plus its boot peak would be \
                 {} mA, over the supply budget of {} mA; switch another node off first or \
                 raise the supply's limit in the configuration",
                needed.0, budget.0
            ),
        ),
        Rejection::NoTelemetry { .. } => (
            RejectReason::NoTelemetry,
            format!(
                "{name} was not switched on: no recent sample from the supply monitor, so the \
                 budget cannot be checked; check the monitor's wiring and `picluster events` \
                 for telemetry-lost"
            ),
        ),
        Rejection::Held { .. } => (
            RejectReason::Held,
            format!("{name} is on maintenance hold; run `picluster release {name}` first"),
        ),
        Rejection::Quarantined { .. } => (
            RejectReason::Quarantined,
            format!(
                "{name} is quarantined after repeated failed recoveries; check it, then run \
                 `picluster release {name}`"
            ),
        ),
        Rejection::Faulted { way, .. } => (
            RejectReason::Faulted,
            format!(
                "{name} has a faulted switch ({}); check the load switch or relay, then run \
                 `picluster release {name}`",
                stuck_way_name(way)
            ),
        ),
        Rejection::NoResetLine { .. } => (
            RejectReason::NoResetLine,
            format!(
                "{name} has no reset line in the configuration; use `picluster cycle {name}` \
                 instead"
            ),
        ),
        Rejection::NotPowered { .. } => (
            RejectReason::NotPowered,
            format!("{name} is not powered, so it cannot be reset; run `picluster on {name}`"),
        ),
        Rejection::NotReleasable { .. } => (
            RejectReason::NotReleasable,
            format!("{name} is not held, quarantined or faulted, so there is nothing to release"),
        ),
    }
}
