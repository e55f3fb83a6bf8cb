//! The scenario file format, as serde reads it. Every table rejects keys it does not know.

use serde::Deserialize;

use super::quantity::{Current, Resistance, Slope, Span, Voltage};

/// A whole scenario file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub duration: Span,
    #[serde(default)]
    pub seed: u64,
    #[serde(default)]
    pub restore: Option<Restore>,
    #[serde(default)]
    pub sample_period: Option<Span>,
    #[serde(default)]
    pub monitor: Option<MonitorFile>,
    #[serde(default)]
    pub supply: Option<SupplyFile>,
    #[serde(default)]
    pub controller: Option<ControllerFile>,
    #[serde(default)]
    pub nodes: Vec<NodeFile>,
    #[serde(default)]
    pub events: Vec<EventFile>,
    #[serde(default)]
    pub checks: Vec<CheckFile>,
}

/// The daemon's power policy for the workers when it starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Restore {
    /// Switch every worker on (queued, within the budget).
    AlwaysOn,
    /// Leave every worker as found.
    AsFound,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitorFile {
    pub chip: Option<ChipFile>,
    pub address: Option<u8>,
    pub shunt: Option<Resistance>,
    pub max_current: Option<Current>,
    pub gain_error_ppm: Option<i32>,
}

#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChipFile {
    Ina219,
    Ina226,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupplyFile {
    pub nominal: Option<Voltage>,
    pub limit: Option<Current>,
    pub droop: Option<Slope>,
    pub overload: Option<OverloadFile>,
    pub sag: Option<Slope>,
    pub trip_after: Option<Span>,
    pub off_for: Option<Span>,
    pub cable: Option<Resistance>,
}

#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OverloadFile {
    BrownOut,
    Hiccup,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControllerFile {
    pub supply_limit: Option<Current>,
    pub headroom: Option<Current>,
    pub under_voltage: Option<Voltage>,
    pub under_voltage_clear: Option<Voltage>,
    pub reset_first: Option<bool>,
    pub quarantine_power: Option<QuarantineFile>,
    pub inrush_window: Option<Span>,
    pub boot_grace: Option<Span>,
    pub heartbeat_timeout: Option<Span>,
    pub min_off_time: Option<Span>,
    pub verify_window: Option<Span>,
    pub trip_delay: Option<Span>,
    pub reset_pulse: Option<Span>,
    pub backoff: Option<Span>,
    pub max_cycles: Option<u8>,
    pub cycle_window: Option<Span>,
    pub telemetry_timeout: Option<Span>,
}

#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum QuarantineFile {
    Off,
    On,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeFile {
    pub name: String,
    pub board: Option<String>,
    pub role: Option<RoleFile>,
    pub priority: Option<u8>,
    pub switch_line: Option<u32>,
    pub active_low: Option<bool>,
    pub reset_line: Option<u32>,
    pub heartbeat_line: Option<u32>,
    pub heartbeat: Option<HeartbeatFile>,
    pub hang_at: Option<Span>,
    pub initially: Option<InitiallyFile>,
    pub relay: Option<RelayFile>,
    #[serde(default)]
    pub remove: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RoleFile {
    Head,
    Worker,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InitiallyFile {
    Off,
    Running,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RelayFile {
    None,
    Welded,
    Open,
}

#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum HeartbeatFile {
    Agent {
        period: Option<Span>,
        jitter: Option<Span>,
    },
    KernelLed {},
    NeverBoots {},
    RebootLoop {
        period: Option<Span>,
        alive_for: Span,
        restart_after: Option<Span>,
    },
    Noisy {
        period: Option<Span>,
        burst_every: Span,
        burst_edges: u16,
        burst_spacing: Span,
    },
    StuckHigh {},
}

#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CommandFile {
    On,
    Off,
    Cycle,
    Reset,
    Hold,
    Release,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExpectFile {
    Accepted,
    Rejected,
}

#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MonitorFaultFile {
    NoAck,
    Ack,
    Reset,
    Stuck,
    Flip,
    Clear,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case", deny_unknown_fields)]
pub enum EventFile {
    Hang {
        at: Span,
        node: String,
    },
    Stress {
        at: Span,
        node: String,
        #[serde(default = "yes")]
        on: bool,
    },
    UsbLoad {
        at: Span,
        node: String,
        current: Current,
    },
    Heartbeat {
        at: Span,
        node: String,
        heartbeat: HeartbeatFile,
    },
    Relay {
        at: Span,
        node: String,
        fault: RelayFile,
    },
    Supply {
        at: Span,
        nominal: Option<Voltage>,
        limit: Option<Current>,
        droop: Option<Slope>,
        overload: Option<OverloadFile>,
        sag: Option<Slope>,
    },
    Monitor {
        at: Span,
        fault: MonitorFaultFile,
        register: Option<u8>,
        value: Option<u16>,
        bit: Option<u8>,
    },
    DisconnectHeartbeats {
        at: Span,
        nodes: Option<Vec<String>>,
    },
    ReconnectHeartbeats {
        at: Span,
        nodes: Option<Vec<String>>,
    },
    Command {
        at: Span,
        node: String,
        command: CommandFile,
        expect: Option<ExpectFile>,
    },
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(tag = "check", rename_all = "kebab-case", deny_unknown_fields)]
pub enum CheckFile {
    PowerCycled {
        node: String,
        after: Option<Span>,
        within: Span,
    },
    ResetPulsed {
        node: String,
        after: Option<Span>,
        within: Span,
    },
    NeverSwitchedOff {
        nodes: Option<Vec<String>>,
        from: Option<Span>,
        until: Option<Span>,
    },
    NeverReset {
        nodes: Option<Vec<String>>,
        from: Option<Span>,
        until: Option<Span>,
    },
    DrawLimit {
        limit: Current,
        longer_than: Span,
    },
    VoltageFloor {
        floor: Voltage,
        longer_than: Span,
    },
    FinalState {
        node: String,
        state: String,
    },
    StateReached {
        node: String,
        state: String,
        after: Option<Span>,
        within: Option<Span>,
    },
    EventRaised {
        event: String,
        node: Option<String>,
        after: Option<Span>,
        within: Option<Span>,
    },
    EventNotRaised {
        event: String,
        node: Option<String>,
        from: Option<Span>,
        until: Option<Span>,
    },
    LineNeverChanges {
        line: u32,
    },
    NoBrownOut {
        nodes: Option<Vec<String>>,
    },
    ShedOrder {
        nodes: Vec<String>,
    },
    PowerOnSpacing {
        min: Span,
    },
    Running {
        nodes: Option<Vec<String>>,
        by: Span,
    },
    RecoveryLadder {
        node: String,
        cycles_at: Vec<Span>,
        quarantined_at: Option<Span>,
        tolerance: Span,
    },
}
