//! The supervisor's own settings: what the firmware configuration does not describe.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;

use picluster_firmware::units::{Milliamps, Millivolts};
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

/// The hardware access the daemon uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    /// The simulated cluster of `picluster-hal-mock`.
    Sim,
    /// The Raspberry Pi's GPIO and I2C through the `rppal` crate.
    Rppal,
    /// Any Linux board through the GPIO character device and i2c-dev (`linux-embedded-hal`).
    Linux,
}

/// The workers' power after the head itself has just booted.
///
/// It applies only when the output lines are at their power-on default. A restart of the
/// daemon adopts the lines as they are and never applies it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestorePolicy {
    /// Switch every worker on, staggered by budget admission.
    AlwaysOn,
    /// Switch on the workers that were last commanded on, as the state directory records.
    Previous,
    /// Leave every worker off until an operator switches it on.
    AlwaysOff,
}

/// The transfer mode of the monitor's I2C bus on the `linux` backend (`i2c_mode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum I2cMode {
    /// Plain I2C transfers: a register pointer write and a read after a repeated start.
    #[default]
    I2c,
    /// SMBus byte and word transfers, for adapters that support nothing else (the kernel's
    /// i2c-stub, some USB bridges).
    Smbus,
}

/// Settings of the `linux` backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinuxSettings {
    /// The GPIO character device that carries the configured lines.
    pub gpio_chip: PathBuf,
    /// The transfer mode of the monitor's bus.
    pub i2c_mode: I2cMode,
}

/// Settings of the `sim` backend.
#[derive(Clone, Debug, PartialEq)]
pub struct SimSettings {
    /// Simulated seconds per real second.
    pub speed: f64,
    /// A scenario file to play; without one the simulated cluster just runs.
    pub scenario: Option<PathBuf>,
}

/// The daemon's files, socket, metrics endpoint and start-up policy.
#[derive(Clone, Debug, PartialEq)]
pub struct DaemonSettings {
    /// The hardware backend.
    pub backend: Backend,
    /// Power of the workers after the head has booted.
    pub restore_policy: RestorePolicy,
    /// Path of the control socket.
    pub socket_path: PathBuf,
    /// Group given to the control socket (mode 0660); `None` keeps the daemon's own group.
    pub socket_group: Option<String>,
    /// Folder of the admin state file and the event journal.
    pub state_dir: PathBuf,
    /// Size in bytes at which the event journal is rotated.
    pub journal_size_limit: u64,
    /// Rotated journal files kept besides the live one.
    pub journal_rotations: u16,
    /// Address of the Prometheus metrics endpoint.
    pub metrics_listen: SocketAddr,
    /// Settings used when `backend` is `linux`.
    pub linux: LinuxSettings,
    /// Settings used when `backend` is `sim`.
    pub sim: SimSettings,
}

/// Default socket path: systemd's `RuntimeDirectory=picluster` lives under `/run`.
pub const DEFAULT_SOCKET_PATH: &str = "/run/picluster/picluster.sock";

/// Default state folder: systemd's `StateDirectory=picluster` lives under `/var/lib`.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/picluster";

/// Default journal rotation size. Estimate: one event is a JSON line of about 300 bytes, so
/// 16 MiB is some 50 000 events, and five files stay under 100 MiB of an SD card.
pub const DEFAULT_JOURNAL_SIZE_LIMIT: u64 = 16 * 1024 * 1024;

/// Default number of rotated journal files kept; see [`DEFAULT_JOURNAL_SIZE_LIMIT`].
pub const DEFAULT_JOURNAL_ROTATIONS: u16 = 4;

/// Default metrics address: loopback only, so nothing outside the head reads it until an
/// operator opens it. Port 9464 is an estimate of a free one; change it if another exporter
/// already listens there.
pub const DEFAULT_METRICS_LISTEN: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 9464));

/// Default GPIO chip: on the Pi 1 to Pi 4 the header's lines are on `gpiochip0`.
pub const DEFAULT_GPIO_CHIP: &str = "/dev/gpiochip0";

/// The kind of the shared supply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SupplyKind {
    /// A multi-port USB charger: 5 V nominal, one current limit shared by all ports.
    Charger,
    /// A bench supply set to `voltage`, with its current limit set to the configured limit.
    Bench {
        /// The voltage the supply is set to.
        voltage: Millivolts,
    },
}

/// Nominal output of a USB charger: USB's 5 V.
pub const CHARGER_VOLTAGE: Millivolts = Millivolts(5_000);

impl SupplyKind {
    /// Returns the voltage the supply delivers with no load.
    pub fn nominal_voltage(self) -> Millivolts {
        match self {
            SupplyKind::Charger => CHARGER_VOLTAGE,
            SupplyKind::Bench { voltage } => voltage,
        }
    }
}

/// The current monitor chip.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MonitorChip {
    /// Texas Instruments INA219: shunt range up to 320 mV, 12-bit.
    Ina219,
    /// Texas Instruments INA226: shunt range 81.92 mV, 16-bit.
    Ina226,
}

impl MonitorChip {
    /// Returns the largest shunt drop the chip measures, in microvolts: 320 mV for the
    /// INA219 with its gain at /8 (its widest range), 81.92 mV for the INA226 (its only one).
    pub fn shunt_range_microvolts(self) -> u64 {
        match self {
            MonitorChip::Ina219 => 320_000,
            MonitorChip::Ina226 => 81_920,
        }
    }
}

/// The clock of the monitor's I2C bus (`i2c_clock`): the I2C specification's standard and fast
/// modes, which both INA chips support and a Pi's device tree sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum I2cClock {
    /// Standard mode, 100 kHz: the Pi's default.
    Standard,
    /// Fast mode, 400 kHz (`dtparam=i2c_arm_baudrate=400000` on a Pi).
    Fast,
}

impl I2cClock {
    /// The values as the file writes them.
    const NAMES: &'static [&'static str] = &["100kHz", "400kHz"];

    /// Returns the clock rate in hertz.
    pub fn hertz(self) -> u32 {
        match self {
            I2cClock::Standard => 100_000,
            I2cClock::Fast => 400_000,
        }
    }
}

/// Reads `"100kHz"` or `"400kHz"`. A misspelling is reported as an unknown variant, so the
/// error names the closest value; a bare number is reported with the values to write instead.
impl<'de> Deserialize<'de> for I2cClock {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ClockVisitor;

        impl Visitor<'_> for ClockVisitor {
            type Value = I2cClock;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a clock with its unit, \"100kHz\" or \"400kHz\"")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<I2cClock, E> {
                match text {
                    "100kHz" => Ok(I2cClock::Standard),
                    "400kHz" => Ok(I2cClock::Fast),
                    other => Err(E::unknown_variant(other, I2cClock::NAMES)),
                }
            }

            fn visit_i64<E: de::Error>(self, value: i64) -> Result<I2cClock, E> {
                Err(E::invalid_type(de::Unexpected::Signed(value), &self))
            }

            fn visit_u64<E: de::Error>(self, value: u64) -> Result<I2cClock, E> {
                Err(E::invalid_type(de::Unexpected::Unsigned(value), &self))
            }

            fn visit_f64<E: de::Error>(self, value: f64) -> Result<I2cClock, E> {
                Err(E::invalid_type(de::Unexpected::Float(value), &self))
            }
        }

        deserializer.deserialize_any(ClockVisitor)
    }
}

/// The current monitor on the shared supply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MonitorSettings {
    /// Which chip.
    pub chip: MonitorChip,
    /// The I2C bus number (`/dev/i2c-N`; bus 1 is the Pi header's pins 3 and 5).
    pub i2c_bus: u8,
    /// The chip's 7-bit address, 0x40 to 0x4F as its A0 and A1 straps select.
    pub address: u8,
    /// The shunt resistance in micro-ohms.
    pub shunt_micro_ohms: u32,
    /// The largest current the calibration must cover.
    pub max_current: Milliamps,
    /// The bus clock the operator expects; the hardware backends compare it with the clock
    /// the device tree set and log a mismatch. `None` skips the check.
    pub i2c_clock: Option<I2cClock>,
}

/// The bus that the monitor sits on by default: the Pi header's I2C pins are bus 1.
pub const DEFAULT_I2C_BUS: u8 = 1;

/// Default monitor address: both address straps tied to ground.
pub const DEFAULT_MONITOR_ADDRESS: u8 = 0x40;
