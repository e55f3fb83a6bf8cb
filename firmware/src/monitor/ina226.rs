//! INA226 driver (TI SBOS547): 16-bit shunt and bus ADC with averaging and an ALERT pin.
//!
//! [`Monitor::init`] first checks the identity registers (manufacturer ID 0x5449, die ID
//! 0x2260), so a wrong chip or a wrong address strap is reported before anything is written.
//! It then writes the configuration, the calibration, the alert limit and Mask/Enable, in that
//! order, so the alert never compares against a stale limit.
//!
//! A read takes Mask/Enable first for the math overflow (OVF) and alert (AFF) flags, then the
//! data registers, then the calibration check. The chip's conversion-ready flag (CVRF) also
//! lives in Mask/Enable, but the driver does not gate reads on it: the caller reads once per
//! [`Monitor::sample_period`], and the driver never returns [`MonitorError::NotReady`].

mod config;
pub(crate) mod registers;

use embedded_hal::i2c::I2c;

pub use config::{Averaging, ConversionTime, Ina226Builder, Ina226Config};
use registers::{ALERT_FUNCTION_FLAG, CURRENT, DIE_ID, MANUFACTURER_ID, MASK_ENABLE};
use registers::{ALERT_LIMIT, BUS_VOLTAGE, CALIBRATION, CALIBRATION_MASK, CONFIGURATION};
use registers::{EXPECTED_DIE_ID, EXPECTED_MANUFACTURER_ID, MATH_OVERFLOW};
use registers::{POWER, POWER_LSB_RATIO, SHUNT_VOLTAGE};

use super::register::{self, Register};
use super::{Address, Counters, Monitor, MonitorError, Reading, scale};
use crate::units::Duration;

/// An INA226 on an I2C bus.
#[derive(Debug)]
pub struct Ina226<I2C> {
    i2c: I2C,
    address: Address,
    config: Ina226Config,
    counters: Counters,
    alert_flag: bool,
}

impl<I2C: I2c> Ina226<I2C> {
    /// Creates the driver. Nothing is sent until [`Monitor::init`].
    pub fn new(i2c: I2C, address: Address, config: Ina226Config) -> Self {
        Self {
            i2c,
            address,
            config,
            counters: Counters::default(),
            alert_flag: false,
        }
    }

    /// Returns the configuration in use.
    pub fn config(&self) -> &Ina226Config {
        &self.config
    }

    /// Returns the chip's address.
    pub fn address(&self) -> Address {
        self.address
    }

    /// Returns the Alert Function Flag (AFF) from the last read: the over-current condition
    /// held when the chip's last result was stored. Always `false` without an alert limit.
    pub fn alert_flag(&self) -> bool {
        self.alert_flag
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

    fn check_identity(&mut self) -> Result<(), MonitorError<I2C::Error>> {
        let manufacturer_id = self.read_register(MANUFACTURER_ID)?;
        let die_id = self.read_register(DIE_ID)?;
        if manufacturer_id == EXPECTED_MANUFACTURER_ID && die_id == EXPECTED_DIE_ID {
            return Ok(());
        }
        Err(MonitorError::UnexpectedDevice {
            address: self.address.get(),
            manufacturer_id,
            die_id,
        })
    }

    fn write_settings(&mut self) -> Result<(), MonitorError<I2C::Error>> {
        self.write_register(CONFIGURATION, self.config.configuration_register())?;
        self.write_register(CALIBRATION, self.config.calibration())?;
        self.write_register(ALERT_LIMIT, self.config.alert_limit_register())?;
        self.write_register(MASK_ENABLE, self.config.mask_enable_register())
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

impl<I2C: I2c> Monitor for Ina226<I2C> {
    type I2cError = I2C::Error;

    fn init(&mut self) -> Result<(), MonitorError<I2C::Error>> {
        self.check_identity()?;
        self.write_settings()
    }

    fn read(&mut self) -> Result<Reading, MonitorError<I2C::Error>> {
        let flags = self.read_register(MASK_ENABLE)?;
        let shunt = registers::decode_shunt_voltage(self.read_register(SHUNT_VOLTAGE)?);
        let bus = registers::decode_bus_voltage(self.read_register(BUS_VOLTAGE)?);
        let current = self.read_register(CURRENT)?;
        let power = self.read_register(POWER)?;
        self.verify_calibration()?;

        self.alert_flag = flags & ALERT_FUNCTION_FLAG != 0;
        if flags & MATH_OVERFLOW != 0 {
            self.counters.record_dropped_sample();
            return Ok(Reading {
                bus,
                shunt,
                current: None,
                power: None,
            });
        }

        let lsb = self.config.current_lsb();
        Ok(Reading {
            bus,
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
