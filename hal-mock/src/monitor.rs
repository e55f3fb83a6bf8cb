//! The simulated monitor path: the firmware's INA219/INA226 driver over the simulated I2C bus,
//! talking to a register model in the world, wrapped by the firmware's [`MonitorSamples`] as
//! the board's sample source.

use picluster_firmware::board::MonitorSamples;
use picluster_firmware::monitor::{
    Address, Counters, Ina219, Ina219Config, Ina226, Ina226Config, MicroOhms, Monitor,
    MonitorError, Reading,
};
use picluster_firmware::units::{Duration, Milliamps};

use crate::i2c::{I2cError, SimI2c};
use crate::ina::{Ina219Model, Ina226Model, Shunt};
use crate::world::World;

/// The monitor chip on the bus.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MonitorChip {
    /// TI INA219.
    Ina219,
    /// TI INA226.
    Ina226,
}

/// The monitor's hardware and the driver's settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MonitorSpec {
    /// The chip.
    pub chip: MonitorChip,
    /// Its 7-bit I2C address.
    pub address: u8,
    /// The shunt it measures across.
    pub shunt: Shunt,
    /// The largest current the driver is configured to measure.
    pub max_current: Milliamps,
}

impl MonitorSpec {
    /// Returns the reference cluster's monitor: an INA219 at 0x40 (both address straps to ground)
    /// across a 10 mOhm shunt, configured for 6 A.
    pub fn reference() -> Self {
        Self {
            chip: MonitorChip::Ina219,
            address: 0x40,
            shunt: Shunt {
                // Estimate: a 10 mOhm shunt drops 54 mV at the supply's 5.4 A, inside the
                // INA219's +-80 mV range and the INA226's +-81.92 mV, and wastes 0.3 W.
                resistance: MicroOhms(10_000),
                gain_error_ppm: 0,
            },
            // 6 A covers the 5.4 A supply with room for an overload to show.
            max_current: Milliamps(6_000),
        }
    }

    /// Puts the chip's register model on the world's bus.
    pub fn attach(&self, world: &World) {
        let now = world.now();
        let device = match self.chip {
            MonitorChip::Ina219 => Ina219Model::new(self.shunt, now).into_device(),
            MonitorChip::Ina226 => Ina226Model::new(self.shunt, now).into_device(),
        };
        world.attach_device(self.address, device);
    }

    /// Builds the firmware driver on `i2c` and initialises the chip.
    pub fn connect(&self, i2c: SimI2c) -> Result<SimSampleSource, MonitorSetupError> {
        let address = Address::new(self.address).ok_or(MonitorSetupError::Address {
            address: self.address,
        })?;
        let shunt = self.shunt.resistance;
        let mut monitor = match self.chip {
            MonitorChip::Ina219 => {
                let config = Ina219Config::builder(shunt, self.max_current)
                    .build()
                    .map_err(|error| MonitorSetupError::Config(error.to_string()))?;
                SimMonitor::Ina219(Ina219::new(i2c, address, config))
            }
            MonitorChip::Ina226 => {
                let config = Ina226Config::builder(shunt, self.max_current)
                    .build()
                    .map_err(|error| MonitorSetupError::Config(error.to_string()))?;
                SimMonitor::Ina226(Ina226::new(i2c, address, config))
            }
        };
        monitor.init().map_err(MonitorSetupError::Init)?;
        Ok(MonitorSamples(monitor))
    }
}

/// A failure to set up the monitor.
#[derive(Debug, thiserror::Error)]
pub enum MonitorSetupError {
    /// The address is not a valid INA2xx address.
    #[error("0x{address:02X} is not an INA219/INA226 address (0x40 to 0x4F)")]
    Address {
        /// The address configured.
        address: u8,
    },
    /// The driver rejected the shunt and current range.
    #[error("the monitor configuration is invalid: {0}")]
    Config(String),
    /// The chip did not accept its settings.
    #[error("the monitor did not initialise: {0}")]
    Init(MonitorError<I2cError>),
}

/// One of the firmware drivers on the simulated bus, as one [`Monitor`].
#[derive(Debug)]
pub enum SimMonitor {
    /// The INA219 driver.
    Ina219(Ina219<SimI2c>),
    /// The INA226 driver.
    Ina226(Ina226<SimI2c>),
}

impl Monitor for SimMonitor {
    type I2cError = I2cError;

    fn init(&mut self) -> Result<(), MonitorError<I2cError>> {
        match self {
            SimMonitor::Ina219(driver) => driver.init(),
            SimMonitor::Ina226(driver) => driver.init(),
        }
    }

    fn read(&mut self) -> Result<Reading, MonitorError<I2cError>> {
        match self {
            SimMonitor::Ina219(driver) => driver.read(),
            SimMonitor::Ina226(driver) => driver.read(),
        }
    }

    fn sample_period(&self) -> Duration {
        match self {
            SimMonitor::Ina219(driver) => driver.sample_period(),
            SimMonitor::Ina226(driver) => driver.sample_period(),
        }
    }

    fn counters(&self) -> Counters {
        match self {
            SimMonitor::Ina219(driver) => driver.counters(),
            SimMonitor::Ina226(driver) => driver.counters(),
        }
    }
}

/// The board's sample source in a simulation: the firmware's own wrapper around the driver.
pub type SimSampleSource = MonitorSamples<SimMonitor>;
