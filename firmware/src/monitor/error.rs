//! Errors: [`ConfigError`] when a configuration is built, [`MonitorError`] when a chip is used.

use core::fmt;

use embedded_hal::i2c::{self, ErrorKind};

use super::{MicroOhms, Microamps};
use crate::units::{Microvolts, Milliamps};

/// A driver configuration the chip cannot measure, found when it is built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// The shunt resistance is zero.
    ZeroShunt,
    /// The maximum expected current is zero or negative.
    NonPositiveMaxCurrent {
        /// The value given.
        max_current: Milliamps,
    },
    /// An explicitly chosen current LSB is zero or negative.
    NonPositiveCurrentLsb {
        /// The value given.
        current_lsb: Microamps,
    },
    /// The shunt drop at the maximum current is beyond the chip's shunt range. On the INA219
    /// that is the chosen PGA range, or else the largest one. On the INA226 the range is fixed.
    ShuntDropOutOfRange {
        /// The shunt resistance.
        shunt: MicroOhms,
        /// The maximum expected current.
        max_current: Milliamps,
        /// The drop across the shunt at that current.
        drop: Microvolts,
        /// The largest drop the chip measures with these settings.
        range: Microvolts,
    },
    /// The chosen current LSB is too small: the current register would overflow below the
    /// maximum expected current.
    CurrentLsbTooSmall {
        /// The chosen LSB.
        current_lsb: Microamps,
        /// The maximum expected current.
        max_current: Milliamps,
        /// The smallest LSB that fits that current.
        minimum: Microamps,
    },
    /// The calibration value computed from the shunt and the current LSB does not fit the
    /// calibration register.
    CalibrationOutOfRange {
        /// The computed calibration value, before any rounding to the register.
        calibration: u64,
        /// The smallest usable value (the INA219 ignores bit 0, so 1 would become 0).
        minimum: u16,
        /// The largest value the register holds.
        maximum: u16,
        /// The shunt resistance.
        shunt: MicroOhms,
        /// The current LSB.
        current_lsb: Microamps,
    },
    /// INA226: the over-current alert limit is zero, negative or beyond the shunt range.
    AlertLimitOutOfRange {
        /// The limit given.
        limit: Milliamps,
        /// The largest limit the Alert Limit register can contain with this shunt.
        maximum: Milliamps,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ConfigError::ZeroShunt => {
                write!(
                    f,
                    "shunt resistance is zero; give the shunt's value in micro-ohms"
                )
            }
            ConfigError::NonPositiveMaxCurrent { max_current } => write!(
                f,
                "maximum expected current {max_current} is not positive; give the supply's \
                 rated current"
            ),
            ConfigError::NonPositiveCurrentLsb { current_lsb } => write!(
                f,
                "current LSB {current_lsb} is not positive; leave it unset to have it computed"
            ),
            ConfigError::ShuntDropOutOfRange {
                shunt,
                max_current,
                drop,
                range,
            } => write!(
                f,
                "shunt {shunt} at {max_current} drops {drop}, beyond the monitor's range of \
                 {range}; use a smaller shunt or a lower maximum current"
            ),
            ConfigError::CurrentLsbTooSmall {
                current_lsb,
                max_current,
                minimum,
            } => write!(
                f,
                "current LSB {current_lsb} is too small for {max_current}: the current \
                 register would overflow; use at least {minimum}"
            ),
            ConfigError::CalibrationOutOfRange {
                calibration,
                minimum,
                maximum,
                shunt,
                current_lsb,
            } => write!(
                f,
                "calibration value {calibration} does not fit the calibration register \
                 ({minimum} to {maximum}) for shunt {shunt} and current LSB {current_lsb}; \
                 choose another current LSB"
            ),
            ConfigError::AlertLimitOutOfRange { limit, maximum } => write!(
                f,
                "over-current alert limit {limit} is outside 1 mA to {maximum} for this \
                 shunt; lower the limit or use a smaller shunt"
            ),
        }
    }
}

impl core::error::Error for ConfigError {}

/// A failure while talking to a monitor chip.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MonitorError<E> {
    /// An I2C transfer failed. The bus's error is kept unchanged, so its
    /// [`ErrorKind`] (for example a missing acknowledge) stays available.
    I2c(E),
    /// INA219: no conversion finished since the last read (CNVR clear). Not a fault: read
    /// again after the sample period.
    NotReady,
    /// The calibration register read back differs from the value written, so the chip had
    /// returned to its power-on defaults. The driver already wrote its settings again; this
    /// sample was dropped.
    ResetDetected {
        /// The calibration value the driver writes.
        written: u16,
        /// The value read back.
        read: u16,
    },
    /// INA226: the identity registers do not name an INA226.
    UnexpectedDevice {
        /// The address that was read.
        address: u8,
        /// Manufacturer ID register (0xFE) as read; 0x5449 is expected.
        manufacturer_id: u16,
        /// Die ID register (0xFF) as read; 0x2260 is expected.
        die_id: u16,
    },
}

impl<E: i2c::Error> MonitorError<E> {
    /// Returns the I2C error kind when the failure was a bus transfer.
    pub fn i2c_kind(&self) -> Option<ErrorKind> {
        match self {
            MonitorError::I2c(error) => Some(error.kind()),
            _ => None,
        }
    }
}

impl<E: i2c::Error> fmt::Display for MonitorError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MonitorError::I2c(error) => write!(
                f,
                "I2C transfer to the current monitor failed: {}; check the wiring, the address \
                 straps and that the I2C bus is enabled",
                error.kind()
            ),
            MonitorError::NotReady => {
                write!(
                    f,
                    "no new conversion yet; read again after the sample period"
                )
            }
            MonitorError::ResetDetected { written, read } => write!(
                f,
                "current monitor lost its calibration (read 0x{read:04X}, written \
                 0x{written:04X}), likely a supply glitch; it was re-initialised and the \
                 sample dropped"
            ),
            MonitorError::UnexpectedDevice {
                address,
                manufacturer_id,
                die_id,
            } => write!(
                f,
                "device at 0x{address:02X} is not an INA226 (manufacturer ID \
                 0x{manufacturer_id:04X}, die ID 0x{die_id:04X}; expected 0x5449 and \
                 0x2260); check the address straps and the configured chip"
            ),
        }
    }
}

impl<E: i2c::Error> core::error::Error for MonitorError<E> {}
