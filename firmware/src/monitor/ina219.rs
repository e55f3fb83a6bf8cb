//! INA219 driver (TI SBOS448): 12-bit shunt and bus ADC with a programmable shunt range.
//!
//! The driver runs the chip in continuous shunt and bus mode. A read takes the bus voltage
//! register first, because it carries the two flags that decide what the rest is worth:
//! conversion ready (CNVR, bit 1) and math overflow (OVF, bit 0). Without CNVR the read stops
//! with [`MonitorError::NotReady`]; with OVF the voltages are returned but current and power
//! are not. Reading the power register clears CNVR, so every accepted read consumes one
//! conversion.
//!
//! The INA219 has no identity register, so [`Monitor::init`] cannot tell it from another chip
//! at the same address. A wrong chip usually shows up as a calibration that does not read back.

mod config;
pub(crate) mod registers;

use embedded_hal::i2c::I2c;

pub use config::{Adc, BusRange, Ina219Builder, Ina219Config, Pga};
use registers::{BUS_VOLTAGE, CALIBRATION, CALIBRATION_MASK, CONFIGURATION, CURRENT, POWER};
use registers::{POWER_LSB_RATIO, SHUNT_VOLTAGE};

use super::register::{self, Register};
use super::{Address, Counters, Monitor, MonitorError, Reading, scale};
use crate::units::Duration;

/// An INA219 on an I2C bus.
#[derive(Debug)]
pub struct Ina219<I2C> {
    i2c: I2C,
    address: Address,
    config: Ina219Config,
    counters: Counters,
}

impl<I2C: I2c> Ina219<I2C> {
    /// Creates the driver. Nothing is sent until [`Monitor::init`].
    pub fn new(i2c: I2C, address: Address, config: Ina219Config) -> Self {
        Self {
            i2c,
            address,
            config,
            counters: Counters::default(),
        }
    }

    /// Returns the configuration in use.
    pub fn config(&self) -> &Ina219Config {
        &self.config
    }

    /// Returns the chip's address.
    pub fn address(&self) -> Address {
        self.address
    }

    /// Gives the bus back, ending the driver.
    pub fn release(self) -> I2C {
        self.i2c
    }

    fn read_register(&mut self, register: Register) -> Result<u16, MonitorError<I2C::Error>> {
        register::read(&mut self.i2c, self.address, register).map_err(MonitorError::I2c)
    }

    fn write_register(
        &mut self,
        register: Register,
        value: u16,
    ) -> Result<(), MonitorError<I2C::Error>> {
        register::write(&mut self.i2c, self.address, register, value).map_err(MonitorError::I2c)
    }

    fn write_settings(&mut self) -> Result<(), MonitorError<I2C::Error>> {
        self.write_register(CONFIGURATION, self.config.configuration_register())?;
        self.write_register(CALIBRATION, self.config.calibration())
    }

    /// Reads the calibration back; on a mismatch, drops the sample and writes the settings
    /// again.
    fn verify_calibration(&mut self) -> Result<(), MonitorError<I2C::Error>> {
        let written = self.config.calibration();
        let read = self.read_register(CALIBRATION)? & CALIBRATION_MASK;
        if read == written {
            return Ok(());
        }

        self.counters.record_dropped_sample();
        self.write_settings()?;
        self.counters.record_reinitialisation();
        Err(MonitorError::ResetDetected { written, read })
    }
}

impl<I2C: I2c> Monitor for Ina219<I2C> {
    type I2cError = I2C::Error;

    fn init(&mut self) -> Result<(), MonitorError<I2C::Error>> {
        self.write_settings()
    }

    fn read(&mut self) -> Result<Reading, MonitorError<I2C::Error>> {
        let bus = registers::decode_bus_voltage(self.read_register(BUS_VOLTAGE)?);
        if !bus.conversion_ready {
            return Err(MonitorError::NotReady);
        }

        let shunt = registers::decode_shunt_voltage(self.read_register(SHUNT_VOLTAGE)?);
        let current = self.read_register(CURRENT)?;
        // Read even when the value is not used: this read clears CNVR.
        let power = self.read_register(POWER)?;
        self.verify_calibration()?;

        if bus.math_overflow {
            self.counters.record_dropped_sample();
            return Ok(Reading {
                bus: bus.voltage,
                shunt,
                current: None,
                power: None,
            });
        }

        let lsb = self.config.current_lsb();
        Ok(Reading {
            bus: bus.voltage,
            shunt,
            current: Some(scale::current(current, lsb).to_milliamps()),
            power: Some(scale::power(power, lsb, POWER_LSB_RATIO)),
        })
    }

    fn sample_period(&self) -> Duration {
        self.config.sample_period()
    }

    fn counters(&self) -> Counters {
        self.counters
    }
}
