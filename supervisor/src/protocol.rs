//! The control socket's messages: one JSON object per line in each direction.
//!
//! A client writes one [`Request`] line and reads one [`Reply`] line, except after
//! [`Request::Subscribe {}`], where the daemon goes on writing one [`Reply::Event`] line per event
//! until the client closes the connection. docs/protocol.md describes every field with examples.

use serde::{Deserialize, Serialize};

/// A request to the daemon.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Request {
    /// The cluster's status.
    Status {},
    /// An operator action on the nodes a selector names.
    Action {
        /// The action to take.
        action: ActionKind,
        /// A node selector: a hostname, an index, a range (`raspberrypi[0-1]`, `0-1,3`) or `all`.
        nodes: String,
    },
    /// Events from the journal, oldest first.
    Events {
        /// Only events at or after this time, in milliseconds since the Unix epoch.
        #[serde(default)]
        since_unix_ms: Option<u64>,
        /// Only events of this node (its name); cluster-wide events are left out too.
        #[serde(default)]
        node: Option<String>,
        /// At most this many of the newest matching events.
        #[serde(default)]
        limit: Option<usize>,
    },
    /// Every event from now on, one line each, until the client disconnects.
    Subscribe {},
}

impl Request {
    /// Returns whether the request changes anything, so it is logged with the peer's identity.
    pub fn is_mutating(&self) -> bool {
        matches!(self, Request::Action { .. })
    }
}

/// An operator action, mirroring the firmware's commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActionKind {
    /// Switch on, admitted within the supply budget and staggered behind other power-ons.
    On,
    /// Switch off.
    Off,
    /// Switch off, wait the minimum off time, switch on.
    Cycle,
    /// Pulse the RUN line.
    Reset,
    /// Put on maintenance hold at the present power.
    Hold,
    /// Clear a hold, a quarantine or a fault.
    Release,
}

impl ActionKind {
    /// Returns the action's name as the CLI and the protocol spell it.
    pub fn name(self) -> &'static str {
        match self {
            ActionKind::On => "on",
            ActionKind::Off => "off",
            ActionKind::Cycle => "cycle",
            ActionKind::Reset => "reset",
            ActionKind::Hold => "hold",
            ActionKind::Release => "release",
        }
    }
}

/// The daemon's reply to one request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "kebab-case")]
pub enum Reply {
    /// The reply to [`Request::Status {}`].
    Status(StatusReport),
    /// The reply to [`Request::Action`]: one result per selected node.
    Action {
        /// Per node, in configuration order.
        results: Vec<NodeResult>,
    },
    /// The reply to [`Request::Events`].
    Events {
        /// Matching events, oldest first.
        events: Vec<EventRecord>,
        /// Journal lines that could not be read (a torn last line after a crash).
        skipped_lines: usize,
    },
    /// The reply to [`Request::Subscribe {}`]; event lines follow.
    Subscribed,
    /// One event on a subscribed connection.
    Event(EventRecord),
    /// The request failed as a whole.
    Error {
        /// A stable code that a script can match.
        code: ErrorCode,
        /// The failure and the next step to take.
        message: String,
    },
}

/// The reason a request failed as a whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorCode {
    /// The line was not a valid request.
    InvalidRequest,
    /// The node selector named no node or was malformed.
    InvalidSelector,
    /// The daemon failed to serve the request (a journal it could not read, a shutdown).
    Internal,
}

/// The outcome of an action on one node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeResult {
    /// The node's name.
    pub node: String,
    /// Accepted or rejected.
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// Whether the controller took an action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Outcome {
    /// The controller took the action.
    Accepted {
        /// The measured result still to come, or `None` when the action is complete (a hold,
        /// or `on` of a node that is already on).
        wait_for: Option<WaitFor>,
    },
    /// The controller rejected the action and changed nothing.
    Rejected {
        /// A stable code that a script can match.
        reason: RejectReason,
        /// The rejection and the next step to take.
        message: String,
    },
}

/// The event that completes an accepted action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WaitFor {
    /// A `switch-verified` event with `on: true` (or a failure of that switch).
    SwitchedOn,
    /// A `switch-verified` event with `on: false` (or a failure of that switch).
    SwitchedOff,
    /// A `state-changed` event with cause `reset-done`.
    ResetDone,
}

/// The reason the controller rejected an action, mirroring the firmware's rejections.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RejectReason {
    /// No such node.
    UnknownNode,
    /// The head node is never switched or reset.
    HeadNode,
    /// The power-on would take the draw over the supply budget.
    OverBudget,
    /// No recent valid sample of the supply.
    NoTelemetry,
    /// The node is on maintenance hold.
    Held,
    /// The node is quarantined.
    Quarantined,
    /// The node's switch is faulted.
    Faulted,
    /// The node has no reset line.
    NoResetLine,
    /// A reset of a node that is not powered.
    NotPowered,
    /// A release of a node that is not held, quarantined or faulted.
    NotReleasable,
}

/// The daemon's view of the cluster at one moment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StatusReport {
    /// When the status was taken, in milliseconds since the Unix epoch.
    pub time_unix_ms: u64,
    /// The daemon itself.
    pub daemon: DaemonInfo,
    /// The shared supply.
    pub supply: SupplyReport,
    /// Every node, in configuration order.
    pub nodes: Vec<NodeReport>,
}

/// Facts about the running daemon.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DaemonInfo {
    /// Process id.
    pub pid: u32,
    /// The hardware backend: `sim`, `rppal` or `linux`.
    pub backend: String,
    /// How many times faster than real time the daemon's clock runs (1 except in `sim`).
    pub speed: f64,
    /// Time since the daemon started, in milliseconds of its clock.
    pub uptime_ms: u64,
}

/// The shared supply as measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupplyReport {
    /// Newest supply voltage at the monitor, in millivolts.
    pub millivolts: Option<i32>,
    /// Newest valid total current, in milliamps.
    pub milliamps: Option<i32>,
    /// Age of the newest sample, in milliseconds.
    pub sample_age_ms: Option<u64>,
    /// Sum of the configured idle currents of the powered nodes, in milliamps: what the
    /// measured current should be close to once every powered node has booted.
    pub expected_milliamps: i32,
    /// The supply budget (limit minus headroom), in milliamps.
    pub budget_milliamps: i32,
    /// Samples arrive within the telemetry timeout.
    pub telemetry_ok: bool,
    /// An over-current trip is in force.
    pub over_current: bool,
    /// An under-voltage trip is in force.
    pub under_voltage: bool,
    /// Trips since the daemon started.
    pub trips: u32,
    /// Samples dropped (monitor errors or overflowed conversions) since the daemon started.
    pub dropped_samples: u32,
}

/// One node's status as the daemon reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeReport {
    /// Index in the configuration.
    pub index: u8,
    /// The node's name.
    pub name: String,
    /// `head` or `worker`.
    pub role: String,
    /// The state machine's state (`off`, `powering-on`, `booting`, `running`, ...).
    pub state: String,
    /// Whether the node is powered: the switch's present or commanded level.
    pub powered: bool,
    /// How `powered` is known: `measured` when the last switch was confirmed by its current
    /// step, `unverified` when the step did not show, `pending` while it is awaited, `adopted`
    /// when the level was read from the line at start and not switched since, `head` for the
    /// head node, which has no switch.
    pub power_source: String,
    /// The heartbeat: `none` (no line), `waiting`, `alive`, `lost-high` or `lost-low`.
    pub heartbeat: String,
    /// Time since the last counted heartbeat edge, in milliseconds.
    pub heartbeat_age_ms: Option<u64>,
    /// Automatic power cycles within the configured window.
    pub recent_cycles: u8,
    /// Automatic power cycles since the daemon started.
    pub total_cycles: u32,
    /// Power-ons since the daemon started.
    pub power_ons: u32,
    /// A power-on waits in the queue for admission.
    pub power_on_queued: bool,
    /// Configured idle current, in milliamps.
    pub idle_milliamps: i32,
}

/// One event, as journalled and as sent to clients.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRecord {
    /// Sequence number, increasing by one per event across restarts.
    pub seq: u64,
    /// When it happened, in milliseconds since the Unix epoch (of the simulated clock in
    /// `sim`).
    pub unix_ms: u64,
    /// The node concerned, or `None` for the supply, the daemon or the whole cluster.
    pub node: Option<String>,
    /// What happened.
    #[serde(flatten)]
    pub detail: EventDetail,
    /// Supply voltage last measured when it happened, in millivolts.
    pub millivolts: Option<i32>,
    /// Supply current last measured when it happened, in milliamps.
    pub milliamps: Option<i32>,
}

/// An event with the values behind it: the controller's events first, then the daemon's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum EventDetail {
    /// A node changed state.
    StateChanged {
        /// The state it left.
        from: String,
        /// The state it entered.
        to: String,
        /// The cause (`operator`, `admitted`, `hung`, `over-current`, ...).
        cause: String,
    },
    /// A switch failed verification; the node is faulted.
    SwitchFailed {
        /// `stuck-on` or `stuck-off`.
        way: String,
        /// The smallest current step the switch should have caused, in milliamps.
        expected_step_milliamps: i32,
        /// The step measured within the verification window, in milliamps.
        measured_step_milliamps: i32,
    },
    /// A switch was confirmed by its measured current step.
    SwitchVerified {
        /// The state the switch was put in.
        on: bool,
        /// The measured step, in milliamps.
        measured_step_milliamps: i32,
    },
    /// No valid sample arrived within the verification window.
    SwitchUnverified {
        /// The state the switch was put in.
        on: bool,
    },
    /// The RUN line was pulsed.
    ResetPulsed,
    /// The draw stayed over the budget for the trip delay.
    OverCurrentTrip {
        /// The draw, in milliamps.
        draw_milliamps: i32,
        /// The budget, in milliamps.
        budget_milliamps: i32,
    },
    /// The supply voltage stayed under the floor for the trip delay.
    UnderVoltageTrip {
        /// The voltage, in millivolts.
        voltage_millivolts: i32,
        /// The floor, in millivolts.
        floor_millivolts: i32,
    },
    /// A trip cleared.
    TripCleared,
    /// A trip persists but no worker is left to shed.
    NothingToShed,
    /// No valid sample within the telemetry timeout: automatic power-on stops.
    TelemetryLost,
    /// Samples arrive again.
    TelemetryRestored,
    /// A heartbeat line had a burst of edges beyond the noise limit.
    HeartbeatNoisy {
        /// Raw edges in the noise window.
        edges: u16,
    },
    /// A heartbeat line stopped at a fixed level.
    HeartbeatStuck {
        /// The level (`true` = high).
        high: bool,
    },
    /// Every worker's heartbeat was lost at once: nobody is cycled.
    CommonCauseLoss {
        /// Workers whose heartbeat was lost.
        workers: u8,
    },
    /// A power-on waits because the budget is short.
    PowerOnDeferred {
        /// Present draw plus the node's boot peak, in milliamps.
        needed_milliamps: i32,
        /// The budget, in milliamps.
        budget_milliamps: i32,
    },
    /// The daemon started and adopted the lines' present levels.
    DaemonStarted {
        /// The head itself has just booted, so the restore policy applies.
        head_booted: bool,
        /// The configured restore policy.
        restore_policy: String,
        /// The hardware backend.
        backend: String,
    },
    /// The restore policy asked for a node's power at head boot.
    Restore {
        /// The policy.
        policy: String,
        /// The power asked for.
        on: bool,
    },
    /// An operator's action was accepted.
    OperatorAction {
        /// The action.
        action: ActionKind,
        /// The peer's user id.
        uid: u32,
        /// The peer's process id, when the kernel reports it.
        pid: Option<i32>,
    },
    /// The configuration was reloaded.
    ConfigReloaded,
    /// A reload was rejected and the running configuration kept.
    ConfigRejected {
        /// Why.
        message: String,
    },
    /// The daemon stopped without changing any line.
    DaemonStopped,
}

impl EventDetail {
    /// Returns the event's name as the protocol spells it.
    pub fn name(&self) -> &'static str {
        match self {
            EventDetail::StateChanged { .. } => "state-changed",
            EventDetail::SwitchFailed { .. } => "switch-failed",
            EventDetail::SwitchVerified { .. } => "switch-verified",
            EventDetail::SwitchUnverified { .. } => "switch-unverified",
            EventDetail::ResetPulsed => "reset-pulsed",
            EventDetail::OverCurrentTrip { .. } => "over-current-trip",
            EventDetail::UnderVoltageTrip { .. } => "under-voltage-trip",
            EventDetail::TripCleared => "trip-cleared",
            EventDetail::NothingToShed => "nothing-to-shed",
            EventDetail::TelemetryLost => "telemetry-lost",
            EventDetail::TelemetryRestored => "telemetry-restored",
            EventDetail::HeartbeatNoisy { .. } => "heartbeat-noisy",
            EventDetail::HeartbeatStuck { .. } => "heartbeat-stuck",
            EventDetail::CommonCauseLoss { .. } => "common-cause-loss",
            EventDetail::PowerOnDeferred { .. } => "power-on-deferred",
            EventDetail::DaemonStarted { .. } => "daemon-started",
            EventDetail::Restore { .. } => "restore",
            EventDetail::OperatorAction { .. } => "operator-action",
            EventDetail::ConfigReloaded => "config-reloaded",
            EventDetail::ConfigRejected { .. } => "config-rejected",
            EventDetail::DaemonStopped => "daemon-stopped",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_request_reads_from_one_line() {
        let line = r#"{"request":"action","action":"off","nodes":"raspberrypi[0-1]"}"#;
        let request: Request = serde_json::from_str(line).unwrap();
        let expected = Request::Action {
            action: ActionKind::Off,
            nodes: "raspberrypi[0-1]".to_string(),
        };
        assert_eq!(request, expected);
    }

    #[test]
    fn request_with_unknown_field_is_rejected() {
        let line = r#"{"request":"status","verbose":true}"#;
        assert!(serde_json::from_str::<Request>(line).is_err());
    }

    #[test]
    fn event_record_keeps_its_fields_flat() {
        let record = EventRecord {
            seq: 7,
            unix_ms: 1_000,
            node: Some("raspberrypi1.lan".to_string()),
            detail: EventDetail::StateChanged {
                from: "running".to_string(),
                to: "off".to_string(),
                cause: "operator".to_string(),
            },
            millivolts: Some(5_010),
            milliamps: Some(1_150),
        };
        let line = serde_json::to_string(&record).unwrap();
        assert!(line.contains(r#""event":"state-changed""#), "{line}");
        assert!(line.contains(r#""cause":"operator""#), "{line}");
        let back: EventRecord = serde_json::from_str(&line).unwrap();
        assert_eq!(back, record);
    }
}
