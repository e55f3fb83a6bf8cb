//! The configuration file: one TOML file that describes the supply, the current monitor, the
//! nodes and the daemon.
//!
//! [`load`] reads a file and [`parse`] reads text; both return a [`Config`] that contains the
//! daemon's own settings and the firmware's [`ClusterConfig`], already validated. Every table
//! rejects unknown keys. A [`ConfigError`] lists every problem as `file:line:column: message`,
//! naming the key to fix and, for a misspelling, the closest valid key.
//!
//! The keys, their units, defaults and reasons are described for operators in
//! `docs/configuration.md`; the shipped example is `config/picluster.toml`, which describes
//! the reference cluster.

use std::path::Path;

use picluster_firmware::config::ClusterConfig;
use picluster_firmware::reference::MAX_NODES;

mod convert;
mod error;
mod file;
mod problems;
mod quantity;
mod settings;
pub(crate) mod suggest;

#[cfg(test)]
mod tests;

pub use convert::{DEFAULT_HEAD_PRIORITY, DEFAULT_MIN_STEP, DEFAULT_WORKER_PRIORITY};
pub use error::{ConfigError, Location, Problem};
pub use settings::{
    Backend, CHARGER_VOLTAGE, DEFAULT_GPIO_CHIP, DEFAULT_I2C_BUS, DEFAULT_JOURNAL_ROTATIONS,
    DEFAULT_JOURNAL_SIZE_LIMIT, DEFAULT_METRICS_LISTEN, DEFAULT_MONITOR_ADDRESS,
    DEFAULT_SOCKET_PATH, DEFAULT_STATE_DIR, DaemonSettings, I2cClock, I2cMode, LinuxSettings,
    MonitorChip, MonitorSettings, RestorePolicy, SimSettings, SupplyKind,
};

/// A checked configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Socket, state, journal, metrics, backend and restore policy.
    pub daemon: DaemonSettings,
    /// The supply's kind; its limit and trip levels are in `cluster.supply`.
    pub supply: SupplyKind,
    /// The current monitor on the supply.
    pub monitor: MonitorSettings,
    /// Supply budget, timings, recovery policy and nodes, as the controller takes them.
    pub cluster: ClusterConfig<MAX_NODES>,
}

/// Reads and checks the configuration file at `path`.
///
/// Errors name the file as `path` is written. A file that cannot be read is one problem
/// without a line.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|error| {
        let problem = Problem {
            location: None,
            key: None,
            closest: None,
            message: format!("failed to read the configuration file: {error}"),
        };
        ConfigError::new(&origin, vec![problem])
    })?;
    parse(&text, &origin)
}

/// Parses and checks configuration `text`; `origin` names it in errors (usually its path).
pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
    let file: file::FileTable = toml::from_str(text)
        .map_err(|error| ConfigError::new(origin, vec![error::problem_from_toml(text, &error)]))?;

    let mut checks = convert::Checks::new(text);
    match convert::convert(file, &mut checks) {
        Some(config) => Ok(config),
        None => {
            let problems = checks
                .into_findings()
                .into_iter()
                .map(|finding| finding.into_problem(text))
                .collect();
            Err(ConfigError::new(origin, problems))
        }
    }
}
