//! The daemon's output: status reports, event records, log lines and the state file's content.

use picluster_firmware::config::{NodeId, Role};
use picluster_firmware::event::{Cause, Event, EventKind, StuckWay};
use picluster_firmware::heartbeat::HeartbeatStatus;
use picluster_firmware::state::NodeState;
use picluster_firmware::units::Instant;
use tracing::{error, info, warn};

use super::core::{Core, PowerProof};
use crate::backend::Backend;
use crate::protocol::{
    DaemonInfo, EventDetail, EventRecord, NodeReport, StatusReport, SupplyReport,
};
use crate::store::{AdminFile, NodeAdmin};

/// Returns the name of an event's cause as logs, the journal and the CLI spell it.
pub fn cause_name(cause: Cause) -> &'static str {
    match cause {
        Cause::Adopted => "adopted",
        Cause::Operator => "operator",
        Cause::InrushDone => "inrush-done",
        Cause::HeartbeatAlive => "heartbeat-alive",
        Cause::NeverBooted => "never-booted",
        Cause::Hung => "hung",
        Cause::ResetDone => "reset-done",
        Cause::MinOffElapsed => "min-off-elapsed",
        Cause::Admitted => "admitted",
        Cause::RecoveryLimit => "recovery-limit",
        Cause::OverCurrent => "over-current",
        Cause::UnderVoltage => "under-voltage",
        Cause::SwitchStuck(way) => match way {
            StuckWay::StuckOn => "switch-stuck-on",
            StuckWay::StuckOff => "switch-stuck-off",
        },
    }
}

/// Returns the name of a stuck switch's direction.
pub fn stuck_way_name(way: StuckWay) -> &'static str {
    match way {
        StuckWay::StuckOn => "stuck-on",
        StuckWay::StuckOff => "stuck-off",
    }
}

/// Converts a controller event to its record without a sequence number or time.
fn detail_of(kind: EventKind) -> EventDetail {
    match kind {
        EventKind::StateChanged { from, to, cause } => EventDetail::StateChanged {
            from: from.name().to_string(),
            to: to.name().to_string(),
            cause: cause_name(cause).to_string(),
        },
        EventKind::SwitchFailed {
            way,
            expected_step,
            measured_step,
        } => EventDetail::SwitchFailed {
            way: stuck_way_name(way).to_string(),
            expected_step_milliamps: expected_step.0,
            measured_step_milliamps: measured_step.0,
        },
        EventKind::SwitchVerified { on, measured_step } => EventDetail::SwitchVerified {
            on,
            measured_step_milliamps: measured_step.0,
        },
        EventKind::SwitchUnverified { on } => EventDetail::SwitchUnverified { on },
        EventKind::ResetPulsed => EventDetail::ResetPulsed,
        EventKind::OverCurrentTrip { draw, budget } => EventDetail::OverCurrentTrip {
            draw_milliamps: draw.0,
            budget_milliamps: budget.0,
        },
        EventKind::UnderVoltageTrip { voltage, floor } => EventDetail::UnderVoltageTrip {
            voltage_millivolts: voltage.0,
            floor_millivolts: floor.0,
        },
        EventKind::TripCleared => EventDetail::TripCleared,
        EventKind::NothingToShed => EventDetail::NothingToShed,
        EventKind::TelemetryLost => EventDetail::TelemetryLost,
        EventKind::TelemetryRestored => EventDetail::TelemetryRestored,
        EventKind::HeartbeatNoisy { edges } => EventDetail::HeartbeatNoisy { edges },
        EventKind::HeartbeatStuck { high } => EventDetail::HeartbeatStuck { high },
        EventKind::CommonCauseLoss { workers } => EventDetail::CommonCauseLoss { workers },
        EventKind::PowerOnDeferred { needed, budget } => EventDetail::PowerOnDeferred {
            needed_milliamps: needed.0,
            budget_milliamps: budget.0,
        },
    }
}

/// Logs one event at the level an operator needs: error for what needs a person, warn for
/// trips and recoveries, info for the rest.
pub(super) fn log_event(record: &EventRecord) {
    let node = record.node.as_deref().unwrap_or("-");
    let milliamps = record.milliamps;
    let millivolts = record.millivolts;
    let event = record.detail.name();
    let detail = serde_json::to_string(&record.detail).unwrap_or_default();
    let detail = detail.as_str();
    match &record.detail {
        EventDetail::StateChanged { from, to, cause } => {
            let needs_person = matches!(to.as_str(), "quarantined" | "faulted");
            let recovery =
                matches!(to.as_str(), "unresponsive" | "cycling") && cause.as_str() != "operator";
            if needs_person {
                error!(
                    node,
                    from, to, cause, milliamps, millivolts, "node state changed"
                );
            } else if recovery {
                warn!(
                    node,
                    from, to, cause, milliamps, millivolts, "node state changed"
                );
            } else {
                info!(
                    node,
                    from, to, cause, milliamps, millivolts, "node state changed"
                );
            }
        }
        EventDetail::SwitchFailed { .. } | EventDetail::CommonCauseLoss { .. } => {
            error!(node, event, detail, milliamps, millivolts, "{event}");
        }
        EventDetail::OverCurrentTrip { .. }
        | EventDetail::UnderVoltageTrip { .. }
        | EventDetail::NothingToShed
        | EventDetail::TelemetryLost
        | EventDetail::HeartbeatNoisy { .. }
        | EventDetail::HeartbeatStuck { .. }
        | EventDetail::SwitchUnverified { .. }
        | EventDetail::ConfigRejected { .. } => {
            warn!(node, event, detail, milliamps, millivolts, "{event}");
        }
        _ => info!(node, event, detail, milliamps, millivolts, "{event}"),
    }
}

impl<B: Backend> Core<B> {
    /// Builds the record of a controller event, with the next sequence number.
    pub(super) fn controller_record(&mut self, event: &Event) -> EventRecord {
        EventRecord {
            seq: self.journal.take_seq(),
            unix_ms: self.clock.unix_ms(event.at),
            node: event.node.map(|node| self.node_name(node)),
            detail: detail_of(event.kind),
            millivolts: event.measured.voltage.map(|voltage| voltage.0),
            milliamps: event.measured.current.map(|current| current.0),
        }
    }

    /// Builds the status report at `now`.
    pub(super) fn status(&self, now: Instant) -> StatusReport {
        let controller = self.board.controller();
        let supply = controller.supply_status(now);
        let sample = supply.last_sample;
        let mut expected = 0;
        let mut nodes = Vec::with_capacity(controller.config().nodes.len());
        for (id, config) in controller.config().nodes_with_ids() {
            let Some(status) = controller.node_status(id, now) else {
                continue;
            };
            // A faulted switch is reported the way the measured step showed it stuck, not as
            // commanded: a welded relay keeps its node powered after `off`.
            let powered = match status.state {
                _ if config.role == Role::Head => true,
                NodeState::Faulted { .. } => status.state.powered(),
                _ => controller.switch_on(id) == Some(true),
            };
            if powered {
                expected += config.idle.0;
            }
            let heartbeat = match (config.heartbeat, status.heartbeat) {
                (None, _) => "none",
                (Some(_), HeartbeatStatus::Waiting) => "waiting",
                (Some(_), HeartbeatStatus::Alive) => "alive",
                (Some(_), HeartbeatStatus::Lost { high: true }) => "lost-high",
                (Some(_), HeartbeatStatus::Lost { high: false }) => "lost-low",
            };
            nodes.push(NodeReport {
                index: id.0,
                name: config.name.to_string(),
                role: match config.role {
                    Role::Head => "head",
                    Role::Worker => "worker",
                }
                .to_string(),
                state: status.state.kind().name().to_string(),
                powered,
                power_source: self.power_source(id, config.role, status.switch_verified),
                heartbeat: heartbeat.to_string(),
                heartbeat_age_ms: status.last_edge.map(|at| now.since(at).as_millis()),
                recent_cycles: status.recent_cycles,
                total_cycles: status.total_cycles,
                power_ons: status.power_ons,
                power_on_queued: status.power_on_queued,
                idle_milliamps: config.idle.0,
            });
        }
        StatusReport {
            time_unix_ms: self.clock.unix_ms(now),
            daemon: DaemonInfo {
                pid: std::process::id(),
                backend: self.backend.name().to_string(),
                speed: self.clock.speed(),
                uptime_ms: self.clock.uptime(now).as_millis(),
            },
            supply: SupplyReport {
                millivolts: sample.map(|(_, sample)| sample.voltage.0),
                milliamps: sample.and_then(|(_, sample)| sample.current).map(|c| c.0),
                sample_age_ms: sample.map(|(at, _)| now.since(at).as_millis()),
                expected_milliamps: expected,
                budget_milliamps: supply.budget.0,
                telemetry_ok: supply.telemetry_ok,
                over_current: supply.over_current,
                under_voltage: supply.under_voltage,
                trips: supply.trips,
                dropped_samples: supply.dropped_samples,
            },
            nodes,
        }
    }

    fn power_source(&self, node: NodeId, role: Role, verified: Option<bool>) -> String {
        let source = match (role, verified, self.proof[node.index()]) {
            (Role::Head, _, _) => "head",
            (_, Some(true), _) => "measured",
            (_, Some(false), _) => "failed",
            (_, None, PowerProof::Adopted) => "adopted",
            (_, None, PowerProof::Switched) => "pending",
            (_, None, PowerProof::NoSample) => "no-sample",
        };
        source.to_string()
    }

    /// Builds the state file's content from the controller.
    pub(super) fn admin_file(&self) -> AdminFile {
        let controller = self.board.controller();
        let mut file = AdminFile::default();
        for (id, config) in controller.config().nodes_with_ids() {
            let Some(admin) = controller.admin_state(id) else {
                continue;
            };
            let node = NodeAdmin {
                held: admin.held,
                quarantined: admin.quarantined,
                cycles_unix_ms: admin
                    .cycles
                    .iter()
                    .map(|&at| self.clock.unix_ms(at))
                    .collect(),
                powered: controller.switch_on(id).unwrap_or_default(),
                last_off_unix_ms: admin.last_off.map(|at| self.clock.unix_ms(at)),
                power_on_pending: admin.power_on_pending,
            };
            file.nodes.insert(config.name.to_string(), node);
        }
        file
    }
}
