//! `picluster sim`: the daemon on the simulated reference cluster, in a folder of its own.
//!
//! The folder contains the control socket, the state folder, the boot marker and the simulated
//! world file. A new folder stands for a head that has just booted, so the restore policy
//! applies (the boot marker is missing); starting again with the same folder is a daemon
//! restart on a running head, which adopts the world's lines as they are.

use std::path::Path;

use picluster_firmware::reference;
use picluster_firmware::units::Milliamps;

use crate::config::{
    Backend, Config, DEFAULT_JOURNAL_ROTATIONS, DEFAULT_JOURNAL_SIZE_LIMIT, DEFAULT_METRICS_LISTEN,
    DaemonSettings, I2cMode, LinuxSettings, MonitorChip, MonitorSettings, RestorePolicy,
    SimSettings, SupplyKind,
};

/// Name of the control socket inside the sim's folder.
pub const SOCKET_NAME: &str = "picluster.sock";

/// Name of the state folder inside the sim's folder.
pub const STATE_DIR_NAME: &str = "state";

/// Name of the simulated world file inside the sim's folder.
pub const WORLD_FILE_NAME: &str = "world.json";

/// Returns the configuration of the reference cluster, as `config/picluster.toml` describes
/// it, with the simulated backend.
pub fn reference_config() -> Config {
    Config {
        daemon: DaemonSettings {
            backend: Backend::Sim,
            restore_policy: RestorePolicy::AlwaysOn,
            socket_path: SOCKET_NAME.into(),
            socket_group: None,
            state_dir: STATE_DIR_NAME.into(),
            journal_size_limit: DEFAULT_JOURNAL_SIZE_LIMIT,
            journal_rotations: DEFAULT_JOURNAL_ROTATIONS,
            metrics_listen: DEFAULT_METRICS_LISTEN,
            linux: LinuxSettings {
                gpio_chip: crate::config::DEFAULT_GPIO_CHIP.into(),
                i2c_mode: I2cMode::I2c,
            },
            sim: SimSettings {
                speed: 1.0,
                scenario: None,
            },
        },
        supply: SupplyKind::Charger,
        // One INA219 at 0x40 on bus 1 with a 10 milliohm shunt, calibrated for the supply's
        // 5.4 A rating, as in the shipped configuration.
        monitor: MonitorSettings {
            chip: MonitorChip::Ina219,
            i2c_bus: crate::config::DEFAULT_I2C_BUS,
            address: crate::config::DEFAULT_MONITOR_ADDRESS,
            shunt_micro_ohms: 10_000,
            max_current: Milliamps(5_400),
            i2c_clock: None,
        },
        cluster: reference::cluster(),
    }
}

/// Moves the daemon's socket and state into `folder` and selects the simulated backend.
pub fn place_in(config: &mut Config, folder: &Path) {
    config.daemon.backend = Backend::Sim;
    config.daemon.socket_path = folder.join(SOCKET_NAME);
    config.daemon.socket_group = None;
    config.daemon.state_dir = folder.join(STATE_DIR_NAME);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_configuration_describes_reference_cluster() {
        let shipped = include_str!("../../config/picluster.toml");
        let parsed = crate::config::parse(shipped, "config/picluster.toml").unwrap();
        let reference = reference_config();
        assert_eq!(parsed.cluster, reference.cluster);
        assert_eq!(parsed.monitor, reference.monitor);
        assert_eq!(parsed.supply, reference.supply);
    }

    #[test]
    fn sim_files_live_in_its_folder() {
        let mut config = reference_config();
        place_in(&mut config, Path::new("/tmp/picluster-sim-test"));
        assert_eq!(
            config.daemon.socket_path,
            Path::new("/tmp/picluster-sim-test/picluster.sock")
        );
        assert_eq!(
            config.daemon.state_dir,
            Path::new("/tmp/picluster-sim-test/state")
        );
    }
}
