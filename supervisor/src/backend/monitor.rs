//! The supply monitor as a [`SampleSource`]: the firmware's INA219 or INA226 driver on any
//! I2C bus, chosen by the configuration.
//!
//! # A monitor that does not answer
//!
//! Missing telemetry never switches a node off by itself; it only stops automatic power-on
//! (safety invariant 6). A chip that does not answer at start therefore does not stop the
//! daemon: [`ChipMonitor::open`] fails only for settings the chip can never take. The chip is
//! initialised again before each sample until it answers, and each failed attempt reaches the
//! controller as a failed sample, so it raises `telemetry-lost` and admits no power-on until
//! samples arrive.

use embedded_hal::i2c::I2c;
use picluster_firmware::board::SampleSource;
use picluster_firmware::controller::Sample;
use picluster_firmware::monitor::{
    Address, Ina219, Ina219Config, Ina226, Ina226Config, MicroOhms, Monitor, MonitorError,
};
use picluster_firmware::units::Duration;
use tracing::{info, warn};

use super::BackendError;
use crate::config::{MonitorChip, MonitorSettings};

/// One of the supported monitor chips on bus `I2C`, initialised once it responds.
#[derive(Debug)]
pub struct ChipMonitor<I2C> {
    chip: Chip<I2C>,
    /// The chip's address and bus, for log lines.
    address: u8,
    bus: u8,
    initialised: bool,
    /// Failed initialisations since the chip last responded.
    failed_inits: u64,
}

/// The driver of the configured chip.
#[derive(Debug)]
enum Chip<I2C> {
    Ina219(Ina219<I2C>),
    Ina226(Ina226<I2C>),
}

impl<I2C: I2c> ChipMonitor<I2C> {
    /// Builds the configured driver on `bus` and tries to initialise the chip.
    ///
    /// Fails only for settings that no chip can take (an address outside the straps' range, a
    /// shunt and current the chip cannot measure). A chip that does not answer is logged and
    /// initialised again at the next sample; see the module documentation.
    pub fn open(bus: I2C, settings: &MonitorSettings) -> Result<Self, BackendError> {
        let Some(address) = Address::new(settings.address) else {
            return Err(BackendError::Other(format!(
                "monitor address {:#04x} is not one an INA219 or INA226 can take (0x40 to 0x4f); \
                 fix `address` in [monitor]",
                settings.address
            )));
        };
        let shunt = MicroOhms(settings.shunt_micro_ohms);
        let invalid = |error: &dyn std::fmt::Display| {
            BackendError::Other(format!("the [monitor] settings are invalid: {error}"))
        };
        let chip = match settings.chip {
            MonitorChip::Ina219 => {
                let config = Ina219Config::builder(shunt, settings.max_current)
                    .build()
                    .map_err(|error| invalid(&error))?;
                Chip::Ina219(Ina219::new(bus, address, config))
            }
            MonitorChip::Ina226 => {
                let config = Ina226Config::builder(shunt, settings.max_current)
                    .build()
                    .map_err(|error| invalid(&error))?;
                Chip::Ina226(Ina226::new(bus, address, config))
            }
        };
        let mut monitor = Self {
            chip,
            address: settings.address,
            bus: settings.i2c_bus,
            initialised: false,
            failed_inits: 0,
        };
        // A failure is logged inside and retried at the first sample.
        let _ = monitor.initialise();
        Ok(monitor)
    }

    /// Returns the longest time the chip takes for one conversion with its settings.
    pub fn sample_period(&self) -> Duration {
        match &self.chip {
            Chip::Ina219(chip) => chip.sample_period(),
            Chip::Ina226(chip) => chip.sample_period(),
        }
    }

    /// Returns whether the chip has been initialised.
    pub fn initialised(&self) -> bool {
        self.initialised
    }

    /// Writes the configuration and calibration to the chip.
    ///
    /// Failures are logged at the 1st, 2nd, 4th, 8th ... attempt in a row: at one attempt per
    /// 10 ms sample, an hour without the chip writes about 20 lines instead of 360 000.
    fn initialise(&mut self) -> Result<(), MonitorError<I2C::Error>> {
        let result = match &mut self.chip {
            Chip::Ina219(chip) => chip.init(),
            Chip::Ina226(chip) => chip.init(),
        };
        match &result {
            Ok(()) => {
                if self.failed_inits > 0 {
                    info!(
                        address = self.address,
                        bus = self.bus,
                        failed_attempts = self.failed_inits,
                        "the current monitor answers and is initialised; telemetry resumes"
                    );
                }
                self.initialised = true;
                self.failed_inits = 0;
            }
            Err(error) => {
                self.failed_inits += 1;
                if self.failed_inits.is_power_of_two() {
                    warn!(
                        address = self.address,
                        bus = self.bus,
                        error = ?error,
                        failed_attempts = self.failed_inits,
                        "the current monitor did not initialise; without telemetry nothing is \
                         switched on automatically and nothing is switched off; retrying at \
                         every sample; check its wiring, address and i2c_bus in [monitor]"
                    );
                }
            }
        }
        result
    }
}

impl<I2C: I2c> SampleSource for ChipMonitor<I2C> {
    type Error = MonitorError<I2C::Error>;

    fn read_sample(&mut self) -> Result<Option<Sample>, Self::Error> {
        if !self.initialised {
            self.initialise()?;
        }
        let read = match &mut self.chip {
            Chip::Ina219(chip) => chip.read(),
            Chip::Ina226(chip) => chip.read(),
        };
        match read {
            Ok(reading) => Ok(Some(Sample {
                voltage: reading.bus,
                current: reading.current,
            })),
            // No conversion finished since the last read: not a fault.
            Err(MonitorError::NotReady) => Ok(None),
            Err(error) => Err(error),
        }
    }
}

/// Compares `[monitor] i2c_clock` with the clock the device tree gave the monitor's bus, and
/// logs a mismatch. The clock is set at boot (on a Pi by `dtparam=i2c_arm_baudrate`), so a
/// mismatch is only reported, never a reason to stop.
pub fn check_bus_clock(settings: &MonitorSettings) {
    let Some(expected) = settings.i2c_clock else {
        return;
    };
    let bus = settings.i2c_bus;
    let path = format!("/sys/class/i2c-adapter/i2c-{bus}/of_node/clock-frequency");
    let actual = std::fs::read(&path)
        .ok()
        .and_then(|bytes| clock_frequency(&bytes));
    match actual {
        Some(actual) if actual != expected.hertz() => warn!(
            bus,
            actual_hz = actual,
            expected_hz = expected.hertz(),
            "the I2C bus runs at another clock than i2c_clock in [monitor]; on a Pi set \
             dtparam=i2c_arm_baudrate in config.txt and reboot, or correct i2c_clock"
        ),
        Some(_) => {}
        None => info!(
            bus,
            file = %path,
            "the bus clock is not in the device tree, so i2c_clock in [monitor] is not checked"
        ),
    }
}

/// Decodes a device tree `clock-frequency` property: one 32-bit cell, big-endian.
fn clock_frequency(bytes: &[u8]) -> Option<u32> {
    let cell: [u8; 4] = bytes.try_into().ok()?;
    Some(u32::from_be_bytes(cell))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use picluster_firmware::reference;
    use picluster_firmware::units::Duration as SimDuration;
    use picluster_hal_mock::{DeviceFault, World};

    use super::*;
    use crate::backend::sim::SimOptions;

    /// The reference monitor on a simulated bus with the reference cluster's nodes.
    fn simulated_monitor() -> (World, MonitorSettings) {
        let settings = crate::sim::reference_config().monitor;
        let options = SimOptions::for_cluster(&reference::cluster(), &settings, Path::new("/"));
        let world = World::new(options.world.clone());
        options.monitor.attach(&world);
        (world, settings)
    }

    #[test]
    fn silent_chip_opens_uninitialised() {
        let (world, settings) = simulated_monitor();
        world.inject_device_fault(settings.address, DeviceFault::NoAcknowledge);

        let monitor = ChipMonitor::open(world.i2c(), &settings).unwrap();

        assert!(!monitor.initialised());
    }

    #[test]
    fn silent_chip_fails_every_sample() {
        let (world, settings) = simulated_monitor();
        world.inject_device_fault(settings.address, DeviceFault::NoAcknowledge);
        let mut monitor = ChipMonitor::open(world.i2c(), &settings).unwrap();

        for _ in 0..3 {
            world.advance_by(SimDuration::from_millis(10));
            assert!(monitor.read_sample().is_err());
        }
        assert_eq!(monitor.failed_inits, 4);
    }

    #[test]
    fn chip_that_answers_later_is_initialised_and_sampled() {
        let (world, settings) = simulated_monitor();
        world.inject_device_fault(settings.address, DeviceFault::NoAcknowledge);
        let mut monitor = ChipMonitor::open(world.i2c(), &settings).unwrap();
        world.advance_by(SimDuration::from_millis(10));
        assert!(monitor.read_sample().is_err());

        world.inject_device_fault(settings.address, DeviceFault::Acknowledge);
        let first = monitor.read_sample();
        world.advance_by(SimDuration::from_millis(10));
        let second = monitor.read_sample().unwrap();

        assert!(first.is_ok(), "{first:?}");
        assert!(monitor.initialised());
        assert_eq!(monitor.failed_inits, 0);
        let sample = second.expect("a conversion finished 10 ms after the initialisation");
        assert!(sample.voltage.0 > 4_500, "{sample:?}");
    }

    #[test]
    fn invalid_address_fails_open() {
        let (world, mut settings) = simulated_monitor();
        settings.address = 0x3c;

        let error = ChipMonitor::open(world.i2c(), &settings).unwrap_err();

        assert!(error.to_string().contains("0x3c"), "{error}");
    }

    #[test]
    fn clock_frequency_is_big_endian_cell() {
        // 400 000 Hz is 0x00061a80.
        assert_eq!(clock_frequency(&[0x00, 0x06, 0x1a, 0x80]), Some(400_000));
    }

    #[test]
    fn clock_frequency_of_wrong_length_is_unknown() {
        assert_eq!(clock_frequency(&[0x06, 0x1a, 0x80]), None);
    }
}
