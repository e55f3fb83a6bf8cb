//! INA219 and INA226 current monitor drivers over `embedded_hal::i2c::I2c`.
//!
//! Both chips measure the drop across a shunt resistor and the bus voltage, and compute current
//! and power from a calibration value. The drivers here build that calibration from the shunt
//! resistance and the maximum expected current in integer maths (micro-ohms, microamps), so they
//! run without a floating-point unit, and reject at build time any configuration the chip
//! cannot measure. Each returns [`Reading`]s through the common [`Monitor`] trait.
//!
//! # Use
//!
//! 1. Build a configuration: [`Ina219Config::builder`] or [`Ina226Config::builder`] with the
//!    shunt and the maximum expected current, then `build()`. A [`ConfigError`] names the
//!    values that do not fit.
//! 2. Create the driver with the bus, the [`Address`] set by the A0/A1 straps and the
//!    configuration, and call [`Monitor::init`]. The INA226 checks its identity registers there.
//! 3. Call [`Monitor::read`] once per [`Monitor::sample_period`]. The period is the longest
//!    conversion time the datasheet allows for the chosen averaging and conversion times, so a
//!    read at that rate finds a finished conversion. For the INA219's averaged settings the
//!    datasheet gives no maximum, so the period there is an estimate.
//! 4. Call `release()` to get the bus back.
//!
//! # What a read guarantees
//!
//! - Registers arrive most significant byte first and are assembled in exactly one place,
//!   so no reading can be decoded from swapped bytes.
//! - Shunt voltage and current are two's complement: a small reverse current reads as a small
//!   negative value, never as a large positive one.
//! - A conversion whose current or power calculation overflowed keeps its voltages but returns
//!   no current and no power, and the sample counts as dropped. The INA219 flags this with OVF
//!   in the bus voltage register, the INA226 with OVF in Mask/Enable.
//! - Every read that finds a new conversion ends by reading the calibration register back. A
//!   value other than the one written means the chip returned to its power-on defaults after
//!   a supply glitch or a reset. The driver then writes its settings again, drops the sample,
//!   counts both, and returns [`MonitorError::ResetDetected`].
//! - An I2C failure returns [`MonitorError::I2c`] with the bus's own error, whose
//!   [`kind`](embedded_hal::i2c::Error::kind) a caller can act on.
//!
//! # Wiring
//!
//! The operator's wiring guide (`docs/wiring.md`, section "Current monitor") shows where the
//! shunt goes, the header pins on the head node and the address straps.
//!
//! # Not supported
//!
//! - Triggered (one-shot) and power-down modes: both drivers run the chip in continuous shunt
//!   and bus mode.
//! - The INA226 alert latch, alert polarity other than active low, and alert sources other
//!   than the shunt over-limit used for the over-current alert.
//! - The SMBus alert response and the I2C general-call reset.

use crate::units::{Duration, Microvolts, Milliamps, Millivolts, Milliwatts};

mod address;
mod error;
pub mod ina219;
pub mod ina226;
mod register;
mod scale;

#[cfg(test)]
mod tests;

pub use address::{Address, AddressPin};
pub use error::{ConfigError, MonitorError};
pub use ina219::{Ina219, Ina219Builder, Ina219Config};
pub use ina226::{Ina226, Ina226Builder, Ina226Config};
pub use scale::{MicroOhms, Microamps};

/// One conversion as the controller consumes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reading {
    /// Bus voltage, measured on the load side of the shunt.
    pub bus: Millivolts,
    /// Drop across the shunt; negative when current flows backwards.
    pub shunt: Microvolts,
    /// Current through the shunt, rounded to the nearest milliamp (halves away from zero).
    /// `None` when the chip flagged the conversion as overflowed.
    pub current: Option<Milliamps>,
    /// Power delivered to the load, rounded to the nearest milliwatt. `None` when the
    /// conversion overflowed.
    pub power: Option<Milliwatts>,
}

/// Counts of samples a driver dropped and of recoveries it made, since it was created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Conversions whose current and power were discarded: math overflow, or a chip found at
    /// its power-on defaults.
    pub dropped_samples: u32,
    /// Times the driver wrote its settings again after finding the chip at its power-on
    /// defaults.
    pub reinitialisations: u32,
}

impl Counters {
    pub(crate) fn record_dropped_sample(&mut self) {
        self.dropped_samples = self.dropped_samples.saturating_add(1);
    }

    pub(crate) fn record_reinitialisation(&mut self) {
        self.reinitialisations = self.reinitialisations.saturating_add(1);
    }
}

/// A current monitor that delivers supply readings.
///
/// Implementers read one conversion per call and never block: pacing is the caller's job,
/// guided by [`sample_period`](Monitor::sample_period). An implementer must not return a
/// current or power from a conversion the chip flagged as invalid.
pub trait Monitor {
    /// The I2C bus's error type; [`MonitorError::I2c`] carries it unchanged.
    type I2cError: embedded_hal::i2c::Error;

    /// Writes the configuration and calibration to the chip (and, for the INA226, checks its
    /// identity first). Call once after creating the driver.
    fn init(&mut self) -> Result<(), MonitorError<Self::I2cError>>;

    /// Reads one conversion.
    ///
    /// [`MonitorError::NotReady`] (INA219 only) means no new conversion finished since the
    /// last read; it is not a fault. [`MonitorError::ResetDetected`] means the sample was
    /// dropped and the chip already re-initialised.
    fn read(&mut self) -> Result<Reading, MonitorError<Self::I2cError>>;

    /// Returns the longest time the chip takes to deliver a new conversion with its present
    /// settings.
    fn sample_period(&self) -> Duration;

    /// Returns the dropped samples and re-initialisations so far.
    fn counters(&self) -> Counters;
}
