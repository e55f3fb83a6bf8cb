//! The `rppal` backend: a Raspberry Pi's GPIO through its memory-mapped registers
//! (`/dev/gpiomem`) and its I2C bus through `/dev/i2c-N`, with the rppal crate (0.22).
//!
//! Lines are BCM GPIO numbers, as on the Pi's pinout, not header pin numbers.
//!
//! # What it does at start
//!
//! 1. Identifies the board. On a machine that rppal does not recognise as a Raspberry Pi the
//!    start fails with a message that names the `linux` and `sim` backends.
//! 2. Checks, through the GPIO character device, that no kernel driver or other process has
//!    requested a configured line (a `gpio-led` overlay, `gpioset`, another daemon). rppal
//!    writes the GPIO registers directly, so the kernel would not stop it from fighting such a
//!    holder over the line.
//! 3. Opens the I2C bus and the INA chip ([`ChipMonitor`]). The bus clock is fixed by the
//!    device tree (`dtparam=i2c_arm_baudrate=...`); a clock other than `[monitor] i2c_clock`
//!    is logged.
//! 4. Adopts each switch and reset pin in its present mode and level ([`AdoptedPin`]): an
//!    output stays an output at its level, an input stays an input until first set. A pin in
//!    an `Alt` mode belongs to a peripheral and fails the start.
//! 5. Sets each heartbeat pin (again, not one in an `Alt` mode) as an input with the internal
//!    pull-down, and enables rppal's interrupts on both edges. rppal's interrupt thread stamps
//!    each edge with the kernel's `CLOCK_MONOTONIC` time, which [`KernelClock`] maps onto the
//!    daemon's clock.
//!
//! Every rppal pin is created with its reset on drop turned off, so a stop, a restart or a
//! panic leaves every output at its level.
//!
//! # Not supported
//!
//! - Pins of GPIO expanders or of a second GPIO chip: rppal reaches only the SoC's GPIO bank.
//! - Setting the I2C clock: rppal cannot, the device tree does.

mod edges;
mod pin;

use std::path::Path;
use std::sync::Arc;

use nix::errno::Errno;
use picluster_firmware::config::{ClusterConfig, NodeId};
use picluster_firmware::reference::MAX_NODES;
use picluster_firmware::units::Instant;
use rppal::gpio::{Gpio, InputPin, Mode, Trigger};
use rppal::i2c::I2c;
use rppal::system::DeviceInfo;
use tracing::{info, warn};

pub use edges::{EdgeQueue, QUEUE_CAPACITY, RawEdge};
pub use pin::AdoptedPin;

use super::linux::{
    ConfiguredLine, DeviceKind, KernelClock, LineRole, configured_lines, device_error, holder_text,
    into_node_vec,
};
use super::monitor::{ChipMonitor, check_bus_clock};
use super::{Backend, BackendError, Edge, FoundLevels, Hardware, OpenResult};
use crate::config::MonitorSettings;

/// Labels of the GPIO chip that carries a Pi's header pins: Pi 1 to 3, Pi 4, Pi 5. The
/// kernel's pinctrl drivers register the chips under these names.
const HEADER_CHIP_LABELS: [&str; 3] = ["pinctrl-bcm2835", "pinctrl-bcm2711", "pinctrl-rp1"];

/// Settings of the `rppal` backend.
#[derive(Clone, Debug, PartialEq)]
pub struct RppalOptions {
    /// The current monitor; its bus is `/dev/i2c-<i2c_bus>` (bus 1 on the header's pins 3 and
    /// 5), and its `i2c_clock` is compared with the bus clock the device tree set.
    pub monitor: MonitorSettings,
}

/// The `rppal` backend; see the module documentation.
#[derive(Debug)]
pub struct RppalBackend {
    options: RppalOptions,
    queue: Arc<EdgeQueue>,
    /// Heartbeat pins, kept so that their interrupts stay enabled.
    inputs: Vec<InputPin>,
    /// Heartbeat pin of each node.
    nodes: Vec<(u8, NodeId)>,
    clock: Option<KernelClock>,
    received: Vec<RawEdge>,
    dropped_reported: u64,
}

impl RppalBackend {
    /// Creates the backend; nothing is opened until [`Backend::open`].
    pub fn new(options: RppalOptions) -> Self {
        Self {
            options,
            queue: Arc::new(EdgeQueue::default()),
            inputs: Vec::new(),
            nodes: Vec::new(),
            clock: None,
            received: Vec::new(),
            dropped_reported: 0,
        }
    }
}

/// Returns the board's identity, or the error that sends the operator to another backend.
pub fn identify_pi() -> Result<DeviceInfo, BackendError> {
    DeviceInfo::new().map_err(|error| {
        BackendError::Other(format!(
            "the rppal backend runs only on a Raspberry Pi, and rppal cannot identify this \
             machine as one ({error}); on another Linux board set backend = \"linux\" in \
             [daemon], or set backend = \"sim\" to run the simulated cluster"
        ))
    })
}

fn gpio_error(error: rppal::gpio::Error) -> BackendError {
    match error {
        rppal::gpio::Error::PermissionDenied(device) => BackendError::AccessDenied { device },
        rppal::gpio::Error::Io(error) => {
            let errno = Errno::from_raw(error.raw_os_error().unwrap_or(0));
            device_error(errno, Path::new("/dev/gpiomem"), DeviceKind::GpioChip)
        }
        other => BackendError::Other(format!("opening the Pi's GPIO failed: {other}")),
    }
}

fn pin_error(error: rppal::gpio::Error, line: &ConfiguredLine<'_>) -> BackendError {
    let role = line.role.noun();
    match error {
        rppal::gpio::Error::PinNotAvailable(_) => not_a_gpio(line),
        rppal::gpio::Error::Io(error) if error.raw_os_error() == Some(Errno::EBUSY as i32) => {
            BackendError::LineBusy {
                line: line.offset,
                chip: "the Pi's GPIO".to_owned(),
                holder: String::new(),
                node: line.node_name.to_owned(),
            }
        }
        other => BackendError::Other(format!(
            "setting up the {role} line BCM {} of node {} failed: {other}",
            line.offset, line.node_name
        )),
    }
}

/// Fails when another process or a kernel driver has requested a configured line through the
/// GPIO character device. Skipped, with a warning, when the header's chip cannot be found.
fn check_kernel_claims(lines: &[ConfiguredLine<'_>]) -> Result<(), BackendError> {
    let Some(chip) = header_chip() else {
        warn!(
            labels = ?HEADER_CHIP_LABELS,
            "no GPIO chip has the label of the Pi's header; lines that other processes hold \
             cannot be detected"
        );
        return Ok(());
    };
    for line in lines {
        let Ok(info) = chip.line_info(line.offset) else {
            continue;
        };
        if info.used {
            return Err(BackendError::LineBusy {
                line: line.offset,
                chip: chip.path().display().to_string(),
                holder: holder_text(Some(&info.consumer)),
                node: line.node_name.to_owned(),
            });
        }
    }
    Ok(())
}

fn header_chip() -> Option<gpiocdev::Chip> {
    let paths = gpiocdev::chip::chips().ok()?;
    paths.into_iter().find_map(|path| {
        let chip = gpiocdev::Chip::from_path(&path).ok()?;
        let label = chip.info().ok()?.label;
        HEADER_CHIP_LABELS.contains(&label.as_str()).then_some(chip)
    })
}

fn open_i2c(settings: &MonitorSettings) -> Result<I2c, BackendError> {
    let bus = settings.i2c_bus;
    let path = format!("/dev/i2c-{bus}");
    let i2c = I2c::with_bus(bus).map_err(|error| match error {
        rppal::i2c::Error::Io(error) => {
            let errno = Errno::from_raw(error.raw_os_error().unwrap_or(0));
            device_error(errno, Path::new(&path), DeviceKind::I2cBus)
        }
        other => BackendError::Other(format!("opening I2C bus {path} failed: {other}")),
    })?;
    check_bus_clock(settings);
    Ok(i2c)
}

impl RppalBackend {
    /// Adopts the switch and reset pins; returns them per node and records their levels.
    #[allow(clippy::type_complexity)]
    fn adopt_outputs(
        gpio: &Gpio,
        lines: &[ConfiguredLine<'_>],
        found: &mut [FoundLevels],
    ) -> Result<(Vec<Option<AdoptedPin>>, Vec<Option<AdoptedPin>>), BackendError> {
        let mut switches: Vec<Option<AdoptedPin>> = found.iter().map(|_| None).collect();
        let mut resets: Vec<Option<AdoptedPin>> = found.iter().map(|_| None).collect();
        for line in lines {
            let (slot, level) = match line.role {
                LineRole::Switch => (&mut switches, &mut found[line.node.index()].switch_high),
                LineRole::Reset => (&mut resets, &mut found[line.node.index()].reset_high),
                LineRole::Heartbeat => continue,
            };
            let pin = gpio
                .get(bcm_number(line)?)
                .map_err(|error| pin_error(error, line))?;
            let (pin, high) = AdoptedPin::adopt(pin).map_err(|mode| peripheral_mode(line, mode))?;
            slot[line.node.index()] = Some(pin);
            *level = Some(high);
        }
        Ok((switches, resets))
    }

    /// Sets the heartbeat pins up with edge interrupts; records their levels.
    fn watch_heartbeats(
        &mut self,
        gpio: &Gpio,
        lines: &[ConfiguredLine<'_>],
        found: &mut [FoundLevels],
        now: Instant,
    ) -> Result<(), BackendError> {
        let clock = KernelClock::starting_now(now).map_err(|errno| {
            BackendError::Other(format!("reading CLOCK_MONOTONIC failed: {}", errno.desc()))
        })?;
        self.clock = Some(clock);

        for line in lines.iter().filter(|line| line.role == LineRole::Heartbeat) {
            let number = bcm_number(line)?;
            let pin = gpio.get(number).map_err(|error| pin_error(error, line))?;
            let mode = pin.mode();
            if !matches!(mode, Mode::Input | Mode::Output) {
                return Err(peripheral_mode(line, mode));
            }
            let mut pin = pin.into_input_pulldown();
            pin.set_reset_on_drop(false);
            found[line.node.index()].heartbeat_high = Some(pin.is_high());

            let queue = Arc::clone(&self.queue);
            pin.set_async_interrupt(Trigger::Both, None, move |event| {
                queue.push(RawEdge {
                    pin: number,
                    timestamp: event.timestamp,
                    rising: event.trigger == Trigger::RisingEdge,
                });
            })
            .map_err(|error| pin_error(error, line))?;

            self.inputs.push(pin);
            self.nodes.push((number, line.node));
        }
        Ok(())
    }
}

/// Returns the error for a pin that a peripheral uses, found in an `Alt` mode.
fn peripheral_mode(line: &ConfiguredLine<'_>, mode: Mode) -> BackendError {
    BackendError::Other(format!(
        "the {} line BCM {} of node {} is in mode {mode}, so a peripheral (I2C, SPI, UART or an \
         overlay) uses it; pick another line",
        line.role.noun(),
        line.offset,
        line.node_name
    ))
}

fn bcm_number(line: &ConfiguredLine<'_>) -> Result<u8, BackendError> {
    u8::try_from(line.offset).map_err(|_| not_a_gpio(line))
}

fn not_a_gpio(line: &ConfiguredLine<'_>) -> BackendError {
    BackendError::Other(format!(
        "the {} line BCM {} of node {} is not a GPIO of this Pi; lines are BCM numbers, not \
         header pin numbers",
        line.role.noun(),
        line.offset,
        line.node_name
    ))
}

impl Backend for RppalBackend {
    type Switch = AdoptedPin;
    type Reset = AdoptedPin;
    type Monitor = ChipMonitor<I2c>;

    fn name(&self) -> &'static str {
        "rppal"
    }

    fn preflight(&self) -> Result<(), BackendError> {
        identify_pi().map(|_| ())
    }

    fn open(&mut self, cluster: &ClusterConfig<MAX_NODES>, now: Instant) -> OpenResult<Self> {
        let device = identify_pi()?;
        info!(model = %device.model(), soc = %device.soc(), "opening the Raspberry Pi's GPIO");
        let gpio = Gpio::new().map_err(gpio_error)?;
        let lines = configured_lines(cluster);
        check_kernel_claims(&lines)?;

        let i2c = open_i2c(&self.options.monitor)?;
        let monitor = ChipMonitor::open(i2c, &self.options.monitor)?;

        let mut found = vec![FoundLevels::default(); cluster.nodes.len()];
        let (switches, resets) = Self::adopt_outputs(&gpio, &lines, &mut found)?;
        self.watch_heartbeats(&gpio, &lines, &mut found, now)?;

        Ok(Hardware {
            switches: into_node_vec(switches)?,
            resets: into_node_vec(resets)?,
            sample_period: monitor.sample_period(),
            monitor,
            found,
        })
    }

    fn advance(&mut self, now: Instant, edges: &mut Vec<Edge>) {
        let Some(clock) = self.clock else {
            return;
        };
        self.received.clear();
        self.queue.drain(&mut self.received);
        for raw in &self.received {
            let Some((_, node)) = self.nodes.iter().find(|(pin, _)| *pin == raw.pin) else {
                continue;
            };
            let nanos = u64::try_from(raw.timestamp.as_nanos()).unwrap_or(u64::MAX);
            edges.push(Edge {
                at: clock.to_instant(nanos).min(now),
                node: *node,
                high: raw.rising,
            });
        }

        let dropped = self.queue.dropped();
        if dropped > self.dropped_reported {
            warn!(
                dropped = dropped - self.dropped_reported,
                total_dropped = dropped,
                "heartbeat edges were dropped from a full queue"
            );
            self.dropped_reported = dropped;
        }
    }

    async fn edge_waiting(&mut self) {
        self.queue.wait().await;
    }

    fn simulated(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use picluster_firmware::monitor::Address;
    use picluster_firmware::units::Milliamps;

    use super::*;
    use crate::config::{I2cClock, MonitorChip};

    fn options() -> RppalOptions {
        RppalOptions {
            monitor: MonitorSettings {
                chip: MonitorChip::Ina219,
                i2c_bus: 1,
                address: Address::DEFAULT.get(),
                shunt_micro_ohms: 10_000,
                max_current: Milliamps(5_400),
                i2c_clock: Some(I2cClock::Standard),
            },
        }
    }

    /// This machine is not a Raspberry Pi: rppal cannot identify its SoC.
    #[test]
    fn open_off_a_pi_names_other_backends() {
        let mut backend = RppalBackend::new(options());
        let cluster = picluster_firmware::reference::cluster();

        let error = backend.open(&cluster, Instant::from_secs(1)).unwrap_err();

        let message = error.to_string();
        assert!(message.contains("runs only on a Raspberry Pi"), "{message}");
        assert!(message.contains("backend = \"linux\""), "{message}");
        assert!(message.contains("backend = \"sim\""), "{message}");
    }
}
