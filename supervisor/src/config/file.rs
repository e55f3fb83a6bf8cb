//! The TOML file as serde reads it, before any check.
//!
//! Every table rejects unknown keys. Values that an error may have to point at are kept as
//! [`Spanned`], so a check after parsing can still name the line.
//!
//! The supply is one flat table with every kind's keys, not a serde-tagged enum. serde
//! buffers a tagged enum's table and loses the key's position, but a flat table reports an
//! unknown key at its own line. The conversion then rejects a key of another kind.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

use super::quantity::{CurrentValue, DurationValue, SizeValue, VoltageValue};
use super::settings::{Backend, I2cClock, I2cMode, MonitorChip, RestorePolicy};

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileTable {
    pub supply: Spanned<SupplyTable>,
    pub daemon: Spanned<DaemonTable>,
    pub monitor: Spanned<MonitorTable>,
    pub protection: Option<Spanned<ProtectionTable>>,
    pub timings: Option<Spanned<TimingsTable>>,
    pub recovery: Option<Spanned<RecoveryTable>>,
    #[serde(default, rename = "node")]
    pub nodes: Vec<Spanned<NodeTable>>,
}

/// The supply kinds as written in `kind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum SupplyKindName {
    Charger,
    Bench,
}

/// `supply`: what the supply is and what it delivers.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SupplyTable {
    pub kind: Spanned<SupplyKindName>,
    pub limit: Spanned<CurrentValue>,
    /// Bench supplies only.
    pub voltage: Option<Spanned<VoltageValue>>,
}

/// `[daemon]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DaemonTable {
    pub backend: Backend,
    pub restore_policy: Option<RestorePolicy>,
    pub socket_path: Option<Spanned<PathBuf>>,
    pub socket_group: Option<Spanned<String>>,
    pub state_dir: Option<Spanned<PathBuf>>,
    pub journal_size_limit: Option<Spanned<SizeValue>>,
    pub journal_rotations: Option<Spanned<u16>>,
    pub metrics_listen: Option<SocketAddr>,
    pub linux: Option<LinuxTable>,
    pub sim: Option<SimTable>,
}

/// `[daemon.linux]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LinuxTable {
    pub gpio_chip: Option<Spanned<PathBuf>>,
    pub i2c_mode: Option<I2cMode>,
}

/// `[daemon.sim]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SimTable {
    pub speed: Option<Spanned<f64>>,
    pub scenario: Option<PathBuf>,
}

/// `[monitor]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MonitorTable {
    pub chip: MonitorChip,
    pub i2c_bus: Option<u8>,
    pub address: Option<Spanned<u8>>,
    pub shunt_ohms: Spanned<f64>,
    /// Defaults to the supply limit.
    pub max_current: Option<Spanned<CurrentValue>>,
    pub i2c_clock: Option<I2cClock>,
}

/// `[protection]`: budget margin and trip levels.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ProtectionTable {
    pub headroom: Option<Spanned<CurrentValue>>,
    pub over_current_hysteresis: Option<Spanned<CurrentValue>>,
    pub under_voltage: Option<Spanned<VoltageValue>>,
    pub under_voltage_clear: Option<Spanned<VoltageValue>>,
}

/// `[timings]`: the keys are the firmware's `Timings` field names.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TimingsTable {
    pub inrush_window: Option<Spanned<DurationValue>>,
    pub boot_grace: Option<Spanned<DurationValue>>,
    pub heartbeat_timeout: Option<Spanned<DurationValue>>,
    pub debounce: Option<Spanned<DurationValue>>,
    pub noisy_window: Option<Spanned<DurationValue>>,
    pub noisy_edges: Option<Spanned<u16>>,
    pub min_off_time: Option<Spanned<DurationValue>>,
    pub verify_window: Option<Spanned<DurationValue>>,
    pub trip_delay: Option<Spanned<DurationValue>>,
    pub reset_pulse: Option<Spanned<DurationValue>>,
    pub backoff: Option<Spanned<DurationValue>>,
    pub max_cycles: Option<Spanned<u8>>,
    pub cycle_window: Option<Spanned<DurationValue>>,
    pub telemetry_timeout: Option<Spanned<DurationValue>>,
}

/// A quarantined node's power, as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum QuarantinePowerName {
    Off,
    On,
}

/// `[recovery]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RecoveryTable {
    pub reset_first: Option<bool>,
    pub quarantine_power: Option<QuarantinePowerName>,
}

/// A node's role as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum RoleName {
    Worker,
    Head,
}

/// One `[[node]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NodeTable {
    pub name: Spanned<String>,
    pub role: Option<RoleName>,
    pub priority: Option<u8>,
    pub switch: Option<Spanned<OutputTable>>,
    pub reset: Option<Spanned<OutputTable>>,
    pub heartbeat: Option<Spanned<InputTable>>,
    pub idle: Spanned<CurrentValue>,
    pub boot_peak: Spanned<CurrentValue>,
    pub min_step: Option<Spanned<CurrentValue>>,
}

/// A node's `switch` or `reset`: an output line and its polarity.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct OutputTable {
    pub line: Spanned<u32>,
    pub active_low: bool,
}

/// A node's `heartbeat`: an input line.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct InputTable {
    pub line: Spanned<u32>,
}
