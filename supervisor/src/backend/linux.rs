//! The `linux` backend: any Linux board, through the GPIO character device (`/dev/gpiochipN`,
//! uAPI v2, Linux 5.10 or later) and i2c-dev (`/dev/i2c-N`).
//!
//! # What it does at start
//!
//! 1. Opens the configured GPIO chip and checks every configured line before requesting any:
//!    the line must exist on that chip, and no other process may hold it. A held line fails
//!    the start with the holder's consumer label, as the kernel reports it.
//! 2. Opens the monitor's I2C bus and the INA chip ([`ChipMonitor`]). A missing bus device
//!    fails the start; a chip that does not answer does not, and is initialised again at every
//!    sample while the controller runs without telemetry. Where the device tree gives the bus
//!    clock, a clock other than `[monitor] i2c_clock` is logged.
//! 3. Requests each switch and reset line "as is" and reads its present level. The line's
//!    direction and level stay as they were until the controller first sets it. That first
//!    set turns it into an output with the commanded level, in one kernel call.
//! 4. Requests the heartbeat inputs with edge detection on both edges, the internal
//!    pull-down, and `CLOCK_MONOTONIC` timestamps, which [`KernelClock`] maps onto the
//!    daemon's clock.
//!
//! Every line carries the consumer label `picluster`, which `gpioinfo` shows as its user.
//!
//! # Levels across a restart
//!
//! The levels reported in [`FoundLevels`] are the ones read from the lines, not the last
//! commanded ones. The controller checks each node's power against the measured draw, so a
//! line that changed while the daemon was stopped shows up as a disagreement, not as a
//! silent toggle.
//!
//! When the daemon stops, the kernel releases its lines. The character device promises
//! nothing about a released line, and the Pi's driver (pinctrl-bcm2835) turns it back into
//! an input: the pull resistors of the wiring then decide each worker's power until the daemon
//! runs again. docs/wiring.md gives resistors that keep every worker on in that state. The
//! `rppal` backend does not have this gap: its lines keep their level when it stops.
//!
//! # I2C
//!
//! With `i2c_mode = "i2c"` the INA driver runs over plain I2C transfers (`I2C_RDWR`), through
//! linux-embedded-hal. With `i2c_mode = "smbus"` it runs over SMBus byte and word transfers,
//! for adapters that offer nothing else (the kernel's i2c-stub, some USB bridges);
//! [`SmbusI2c`] restores the chips' big-endian byte order from SMBus's little-endian words.
//!
//! # Not supported
//!
//! - Lines on more than one GPIO chip: every line of the configuration is on `gpio_chip`.
//! - The uAPI v1 of Linux 5.9 and older, which cannot reconfigure a requested line.
//! - Event timestamps from a hardware timestamp engine: the kernel's software timestamps,
//!   taken in the interrupt handler, are used.

mod errno;
mod heartbeat;
mod kernel_clock;
mod line;
mod smbus;

use std::path::{Path, PathBuf};

use embedded_hal::i2c::{ErrorKind, ErrorType, I2c, Operation};
use i2cdev::linux::{LinuxI2CDevice, LinuxI2CError};
use linux_embedded_hal::{I2CError, I2cdev};
use nix::errno::Errno;
use picluster_firmware::config::{ClusterConfig, NodeId};
use picluster_firmware::reference::MAX_NODES;
use picluster_firmware::units::Instant;

pub use errno::{DeviceKind, LineSubject, device_error, holder_text, line_error};
pub use heartbeat::HeartbeatLines;
pub use kernel_clock::{KernelClock, monotonic_now_ns};
pub use line::{LineError, LinuxOutput, errno_of, find_line};
pub use smbus::{SmbusDevice, SmbusError, SmbusI2c, i2c_error_kind};

use super::monitor::{ChipMonitor, check_bus_clock};
use super::{Backend, BackendError, Edge, FoundLevels, Hardware, OpenResult};
pub use crate::config::I2cMode;
use crate::config::MonitorSettings;

/// Consumer label on every line picluster requests, shown by `gpioinfo`.
pub const CONSUMER: &str = "picluster";

/// Settings of the `linux` backend.
#[derive(Clone, Debug, PartialEq)]
pub struct LinuxOptions {
    /// The GPIO character device that carries every configured line.
    pub gpio_chip: PathBuf,
    /// The transfer mode of the monitor's bus.
    pub i2c_mode: I2cMode,
    /// The current monitor; its bus is `/dev/i2c-<i2c_bus>`.
    pub monitor: MonitorSettings,
}

/// The `linux` backend; see the module documentation.
#[derive(Debug)]
pub struct LinuxBackend {
    options: LinuxOptions,
    heartbeats: Option<HeartbeatLines>,
}

impl LinuxBackend {
    /// Creates the backend; nothing is opened until [`Backend::open`].
    pub fn new(options: LinuxOptions) -> Self {
        Self {
            options,
            heartbeats: None,
        }
    }
}

/// The purpose of a configured line, named in messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum LineRole {
    Switch,
    Reset,
    Heartbeat,
}

impl LineRole {
    pub(super) fn noun(self) -> &'static str {
        match self {
            LineRole::Switch => "switch",
            LineRole::Reset => "reset",
            LineRole::Heartbeat => "heartbeat",
        }
    }
}

/// One line of the configuration.
#[derive(Clone, Copy, Debug)]
pub(super) struct ConfiguredLine<'a> {
    pub(super) node: NodeId,
    pub(super) node_name: &'a str,
    pub(super) role: LineRole,
    pub(super) offset: u32,
}

/// Lists every configured line, node by node: switch, reset, heartbeat.
pub(super) fn configured_lines(cluster: &ClusterConfig<MAX_NODES>) -> Vec<ConfiguredLine<'_>> {
    let mut lines = Vec::new();
    for (index, node) in cluster.nodes.iter().enumerate() {
        let node_id = NodeId(index as u8);
        let roles = [
            (LineRole::Switch, node.switch.map(|line| line.line)),
            (LineRole::Reset, node.reset.map(|line| line.line)),
            (LineRole::Heartbeat, node.heartbeat),
        ];
        for (role, line) in roles {
            if let Some(line) = line {
                lines.push(ConfiguredLine {
                    node: node_id,
                    node_name: node.name.as_str(),
                    role,
                    offset: line.0,
                });
            }
        }
    }
    lines
}

fn open_chip(path: &Path) -> Result<gpiocdev::Chip, BackendError> {
    gpiocdev::Chip::from_path(path).map_err(|error| match (&error, errno_of(&error)) {
        (_, Some(errno)) => device_error(errno, path, DeviceKind::GpioChip),
        (gpiocdev::Error::GpioChip(..), None) => {
            device_error(Errno::ENOTTY, path, DeviceKind::GpioChip)
        }
        _ => BackendError::Other(format!(
            "opening GPIO chip {} failed: {error}",
            path.display()
        )),
    })
}

/// Checks that every line exists on the chip, then that no other process has requested any
/// of them, before any line is requested. A wrong chip is reported before a busy line.
fn check_lines(
    chip: &gpiocdev::Chip,
    path: &Path,
    lines: &[ConfiguredLine<'_>],
) -> Result<(), BackendError> {
    let info = chip.info().map_err(|error| {
        BackendError::Other(format!(
            "reading GPIO chip {} failed: {error}",
            path.display()
        ))
    })?;
    if let Some(line) = lines.iter().find(|line| line.offset >= info.num_lines) {
        return Err(BackendError::Other(format!(
            "the {} line {} of node {} is not on {} ({}), which has lines 0 to {}; check \
             gpio_chip in [daemon.linux] and the node's line numbers",
            line.role.noun(),
            line.offset,
            line.node_name,
            path.display(),
            info.label,
            info.num_lines.saturating_sub(1)
        )));
    }
    for line in lines {
        let line_info = chip
            .line_info(line.offset)
            .map_err(|error| line_failure(&error, path, line, None))?;
        if line_info.used {
            return Err(BackendError::LineBusy {
                line: line.offset,
                chip: path.display().to_string(),
                holder: holder_text(Some(&line_info.consumer)),
                node: line.node_name.to_owned(),
            });
        }
    }
    Ok(())
}

/// Maps a failed request of `line` onto a [`BackendError`], naming the holder when the line
/// turned out to be busy.
fn line_failure(
    error: &gpiocdev::Error,
    path: &Path,
    line: &ConfiguredLine<'_>,
    chip: Option<&gpiocdev::Chip>,
) -> BackendError {
    let Some(errno) = errno_of(error) else {
        return BackendError::Other(format!(
            "requesting the {} line {} of {} for node {} failed: {error}",
            line.role.noun(),
            line.offset,
            path.display(),
            line.node_name
        ));
    };
    let holder = match (errno, chip) {
        (Errno::EBUSY, Some(chip)) => chip.line_info(line.offset).ok().map(|info| info.consumer),
        _ => None,
    };
    line_error(
        errno,
        LineSubject {
            line: line.offset,
            chip: path,
            node: line.node_name,
            holder: holder.as_deref(),
        },
    )
}

/// The monitor's bus, plain I2C or SMBus as `i2c_mode` selects.
pub enum LinuxBus {
    /// Plain I2C transfers through linux-embedded-hal.
    Plain(I2cdev),
    /// SMBus transfers through [`SmbusI2c`].
    Smbus(SmbusI2c<LinuxI2CDevice>),
}

impl std::fmt::Debug for LinuxBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinuxBus::Plain(_) => f.write_str("LinuxBus::Plain"),
            LinuxBus::Smbus(bus) => f.debug_tuple("LinuxBus::Smbus").field(bus).finish(),
        }
    }
}

impl LinuxBus {
    /// Opens `/dev/i2c-<bus>` in `mode`; `address` is the device the SMBus transfers go to.
    pub fn open(bus: u8, address: u8, mode: I2cMode) -> Result<Self, BackendError> {
        let path = PathBuf::from(format!("/dev/i2c-{bus}"));
        let opened = match mode {
            I2cMode::I2c => I2cdev::new(&path).map(LinuxBus::Plain),
            I2cMode::Smbus => LinuxI2CDevice::new(&path, u16::from(address))
                .map(|device| LinuxBus::Smbus(SmbusI2c::new(device))),
        };
        opened.map_err(|error| bus_error(&error, &path, address))
    }
}

fn bus_error(error: &LinuxI2CError, path: &Path, address: u8) -> BackendError {
    let errno = match error {
        LinuxI2CError::Errno(number) => Errno::from_raw(*number),
        LinuxI2CError::Io(error) => Errno::from_raw(error.raw_os_error().unwrap_or(0)),
    };
    if errno == Errno::EBUSY {
        // I2C_SLAVE fails with EBUSY when a kernel driver has bound the address.
        return BackendError::Other(format!(
            "address {address:#04x} on {} is claimed by a kernel driver (such as ina2xx from a \
             device-tree overlay); remove the overlay or unbind the driver so that picluster \
             can read the monitor",
            path.display()
        ));
    }
    device_error(errno, path, DeviceKind::I2cBus)
}

/// A transfer error on a [`LinuxBus`].
#[derive(Debug)]
pub enum LinuxBusError {
    /// A plain I2C transfer failed.
    Plain(I2CError),
    /// An SMBus transfer failed.
    Smbus(SmbusError),
}

impl std::fmt::Display for LinuxBusError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinuxBusError::Plain(error) => write!(f, "I2C transfer failed: {error}"),
            LinuxBusError::Smbus(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for LinuxBusError {}

impl embedded_hal::i2c::Error for LinuxBusError {
    fn kind(&self) -> ErrorKind {
        match self {
            LinuxBusError::Plain(error) => error.kind(),
            LinuxBusError::Smbus(error) => error.kind(),
        }
    }
}

impl ErrorType for LinuxBus {
    type Error = LinuxBusError;
}

impl I2c for LinuxBus {
    fn transaction(
        &mut self,
        address: u8,
        operations: &mut [Operation<'_>],
    ) -> Result<(), Self::Error> {
        match self {
            LinuxBus::Plain(bus) => bus
                .transaction(address, operations)
                .map_err(LinuxBusError::Plain),
            LinuxBus::Smbus(bus) => bus
                .transaction(address, operations)
                .map_err(LinuxBusError::Smbus),
        }
    }
}

impl LinuxBackend {
    /// Claims the switch and reset lines as is; returns them per node with their levels.
    #[allow(clippy::type_complexity)]
    fn claim_outputs(
        &self,
        chip: &gpiocdev::Chip,
        lines: &[ConfiguredLine<'_>],
        found: &mut [FoundLevels],
    ) -> Result<(Vec<Option<LinuxOutput>>, Vec<Option<LinuxOutput>>), BackendError> {
        let path = &self.options.gpio_chip;
        let mut switches: Vec<Option<LinuxOutput>> = found.iter().map(|_| None).collect();
        let mut resets: Vec<Option<LinuxOutput>> = found.iter().map(|_| None).collect();
        for line in lines {
            let (slot, level) = match line.role {
                LineRole::Switch => (&mut switches, &mut found[line.node.index()].switch_high),
                LineRole::Reset => (&mut resets, &mut found[line.node.index()].reset_high),
                LineRole::Heartbeat => continue,
            };
            let (output, high) = LinuxOutput::claim(path, line.offset)
                .map_err(|error| line_failure(&error, path, line, Some(chip)))?;
            slot[line.node.index()] = Some(output);
            *level = Some(high);
        }
        Ok((switches, resets))
    }

    fn claim_heartbeats(
        &mut self,
        chip: &gpiocdev::Chip,
        lines: &[ConfiguredLine<'_>],
        found: &mut [FoundLevels],
        now: Instant,
    ) -> Result<(), BackendError> {
        let path = self.options.gpio_chip.clone();
        let inputs: Vec<&ConfiguredLine<'_>> = lines
            .iter()
            .filter(|line| line.role == LineRole::Heartbeat)
            .collect();
        let Some(first) = inputs.first() else {
            return Ok(());
        };
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(BackendError::Other(
                "the linux backend must be opened inside a tokio runtime, which delivers the \
                 heartbeat edges"
                    .to_owned(),
            ));
        }

        let clock = KernelClock::starting_now(now).map_err(|errno| {
            BackendError::Other(format!("reading CLOCK_MONOTONIC failed: {}", errno.desc()))
        })?;
        let pairs: Vec<(u32, NodeId)> =
            inputs.iter().map(|line| (line.offset, line.node)).collect();
        // The request covers every heartbeat line at once, so a failure is reported for the
        // first one unless the kernel names a busy line.
        let (heartbeats, levels) =
            HeartbeatLines::claim(&path, &pairs, clock).map_err(|error| {
                let busy = inputs.iter().find(|line| {
                    chip.line_info(line.offset)
                        .is_ok_and(|info| info.used && info.consumer != CONSUMER)
                });
                line_failure(&error, &path, busy.unwrap_or(first), Some(chip))
            })?;
        for (line, high) in inputs.iter().zip(levels) {
            found[line.node.index()].heartbeat_high = Some(high);
        }
        self.heartbeats = Some(heartbeats);
        Ok(())
    }
}

/// Converts per-node pins into the fixed-capacity list of [`Hardware`].
pub(super) fn into_node_vec<T>(
    items: Vec<Option<T>>,
) -> Result<heapless::Vec<Option<T>, MAX_NODES>, BackendError> {
    let mut vec = heapless::Vec::new();
    for item in items {
        vec.push(item).map_err(|_| {
            BackendError::Other(format!("the configuration has more than {MAX_NODES} nodes"))
        })?;
    }
    Ok(vec)
}

impl Backend for LinuxBackend {
    type Switch = LinuxOutput;
    type Reset = LinuxOutput;
    type Monitor = ChipMonitor<LinuxBus>;

    fn name(&self) -> &'static str {
        "linux"
    }

    fn lines_after_stop(&self) -> &'static str {
        "the kernel releases every line and the Pi's GPIO driver makes each an input, so the \
         wiring's pull resistors decide each worker's power until the daemon runs again"
    }

    fn open(&mut self, cluster: &ClusterConfig<MAX_NODES>, now: Instant) -> OpenResult<Self> {
        let path = self.options.gpio_chip.clone();
        let chip = open_chip(&path)?;
        let lines = configured_lines(cluster);
        check_lines(&chip, &path, &lines)?;

        let settings = &self.options.monitor;
        let bus = LinuxBus::open(settings.i2c_bus, settings.address, self.options.i2c_mode)?;
        check_bus_clock(settings);
        let monitor = ChipMonitor::open(bus, settings)?;

        let mut found = vec![FoundLevels::default(); cluster.nodes.len()];
        let (switches, resets) = self.claim_outputs(&chip, &lines, &mut found)?;
        self.claim_heartbeats(&chip, &lines, &mut found, now)?;

        Ok(Hardware {
            switches: into_node_vec(switches)?,
            resets: into_node_vec(resets)?,
            sample_period: monitor.sample_period(),
            monitor,
            found,
        })
    }

    fn advance(&mut self, now: Instant, edges: &mut Vec<Edge>) {
        if let Some(heartbeats) = &mut self.heartbeats {
            heartbeats.collect(now, edges);
        }
    }

    async fn edge_waiting(&mut self) {
        match &mut self.heartbeats {
            Some(heartbeats) => heartbeats.wait().await,
            None => std::future::pending().await,
        }
    }

    fn simulated(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_log_says_lines_are_released() {
        let backend = LinuxBackend::new(LinuxOptions {
            gpio_chip: crate::config::DEFAULT_GPIO_CHIP.into(),
            i2c_mode: crate::config::I2cMode::I2c,
            monitor: crate::sim::reference_config().monitor,
        });
        let lines = backend.lines_after_stop();
        assert!(lines.contains("releases every line"), "{lines}");
        assert!(lines.contains("pull resistors"), "{lines}");
    }
}
