//! The supply monitor as a [`SampleSource`]: the firmware's INA219 or INA226 driver on any
//! I2C bus, chosen by the configuration.

use embedded_hal::i2c::I2c;
use picluster_firmware::board::SampleSource;
use picluster_firmware::controller::Sample;
use picluster_firmware::monitor::{
    Address, Ina219, Ina219Config, Ina226, Ina226Config, MicroOhms, Monitor, MonitorError,
};
use picluster_firmware::units::Duration;

use super::BackendError;
use crate::config::{MonitorChip, MonitorSettings};

/// One of the supported monitor chips on bus `I2C`.
#[derive(Debug)]
pub enum ChipMonitor<I2C> {
    /// A Texas Instruments INA219.
    Ina219(Ina219<I2C>),
    /// A Texas Instruments INA226.
    Ina226(Ina226<I2C>),
}

impl<I2C: I2c> ChipMonitor<I2C> {
    /// Builds the configured driver on `bus` and initialises the chip.
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
        let mut monitor = match settings.chip {
            MonitorChip::Ina219 => {
                let config = Ina219Config::builder(shunt, settings.max_current)
                    .build()
                    .map_err(|error| invalid(&error))?;
                ChipMonitor::Ina219(Ina219::new(bus, address, config))
            }
            MonitorChip::Ina226 => {
                let config = Ina226Config::builder(shunt, settings.max_current)
                    .build()
                    .map_err(|error| invalid(&error))?;
                ChipMonitor::Ina226(Ina226::new(bus, address, config))
            }
        };
        let initialised = match &mut monitor {
            ChipMonitor::Ina219(chip) => chip.init(),
            ChipMonitor::Ina226(chip) => chip.init(),
        };
        initialised.map_err(|error| {
            BackendError::Other(format!(
                "the current monitor at {:#04x} on I2C bus {} did not initialise: {error}",
                settings.address, settings.i2c_bus
            ))
        })?;
        Ok(monitor)
    }

    /// Returns the longest time the chip takes for one conversion with its settings.
    pub fn sample_period(&self) -> Duration {
        match self {
            ChipMonitor::Ina219(chip) => chip.sample_period(),
            ChipMonitor::Ina226(chip) => chip.sample_period(),
        }
    }
}

impl<I2C: I2c> SampleSource for ChipMonitor<I2C> {
    type Error = MonitorError<I2C::Error>;

    fn read_sample(&mut self) -> Result<Option<Sample>, Self::Error> {
        let read = match self {
            ChipMonitor::Ina219(chip) => chip.read(),
            ChipMonitor::Ina226(chip) => chip.read(),
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
