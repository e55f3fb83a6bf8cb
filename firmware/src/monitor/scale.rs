//! Integer scaling shared by both drivers: shunt resistance and small currents as types, the
//! calibration formula, and rounding to the crate's units.
//!
//! Products are formed in `u64`/`i64` before any division, so no intermediate value overflows
//! for any register content and any shunt up to 4294 ohms.

use core::fmt;

use super::ConfigError;
use crate::units::{Microvolts, Milliamps, Milliwatts};

/// Resistance in micro-ohms; a 10 milliohm shunt is `MicroOhms(10_000)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MicroOhms(pub u32);

impl fmt::Display for MicroOhms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} uOhm", self.0)
    }
}

/// Current in microamps: current register LSBs and readings finer than a milliamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Microamps(pub i32);

impl Microamps {
    /// Returns the current rounded to the nearest milliamp, halves away from zero, so
    /// -100 uA becomes 0 mA and -500 uA becomes -1 mA.
    #[inline]
    pub fn to_milliamps(self) -> Milliamps {
        Milliamps(saturate(divide_rounded(i64::from(self.0), 1_000)))
    }
}

impl fmt::Display for Microamps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} uA", self.0)
    }
}

/// Largest magnitude of the signed 16-bit current register, used to size the current LSB.
///
/// Both datasheets size the minimum LSB as the maximum expected current over 2^15 (INA219
/// SBOS448G section 8.5.1 uses 32767, INA226 SBOS547 Equation 2 uses 32768); 32767 keeps the
/// maximum expected current itself representable in the register.
pub(crate) const CURRENT_REGISTER_MAX: u64 = 32_767;

/// Returns the shunt drop at `current`, rounded up so a range check never passes by rounding.
pub(crate) fn shunt_drop(shunt: MicroOhms, current: Milliamps) -> Microvolts {
    // mA x uOhm = nV; dividing by 1000 gives uV.
    let nanovolts = u64::from(current.0.unsigned_abs()) * u64::from(shunt.0);
    Microvolts(saturate_u64(nanovolts.div_ceil(1_000)))
}

/// Returns the smallest whole-microamp LSB with which `max_current` fits the current register.
pub(crate) fn minimum_current_lsb(max_current: Milliamps) -> u64 {
    let microamps = u64::from(max_current.0.unsigned_abs()) * 1_000;
    microamps.div_ceil(CURRENT_REGISTER_MAX).max(1)
}

/// Returns the smallest whole-microamp LSB whose calibration value stays at or below
/// `calibration_max`.
pub(crate) fn minimum_lsb_for_calibration(
    coefficient: u64,
    shunt: MicroOhms,
    calibration_max: u16,
) -> u64 {
    let denominator = u64::from(calibration_max) * u64::from(shunt.0);
    coefficient.div_ceil(denominator).max(1)
}

/// Returns trunc(coefficient / (current_lsb x shunt)), the datasheets' calibration formula
/// with the LSB in microamps and the shunt in micro-ohms.
///
/// The INA219's 0.04096 becomes 40_960_000_000 and the INA226's 0.00512 becomes
/// 5_120_000_000, because 1 A x 1 ohm = 10^12 uA x uOhm.
pub(crate) fn calibration(coefficient: u64, current_lsb: u64, shunt: MicroOhms) -> u64 {
    coefficient / (current_lsb * u64::from(shunt.0))
}

/// A chip's calibration formula and register bounds.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CalibrationRule {
    /// The datasheet coefficient in microamps x micro-ohms (see [`calibration`]).
    pub coefficient: u64,
    /// The smallest usable register value.
    pub minimum: u16,
    /// The largest register value.
    pub maximum: u16,
}

/// Chooses the current LSB and computes the calibration value.
///
/// An explicit LSB is checked against `max_current`. Without one, the LSB is the smallest whole
/// microamp that keeps `max_current` in the current register and the calibration value at or
/// below the register's maximum: the finest resolution the chip offers for this shunt.
pub(crate) fn choose_scaling(
    shunt: MicroOhms,
    max_current: Milliamps,
    explicit_lsb: Option<Microamps>,
    rule: CalibrationRule,
) -> Result<(Microamps, u64), ConfigError> {
    let minimum = minimum_current_lsb(max_current);
    let lsb = match explicit_lsb {
        Some(current_lsb) if current_lsb.0 <= 0 => {
            return Err(ConfigError::NonPositiveCurrentLsb { current_lsb });
        }
        Some(current_lsb) if (current_lsb.0 as u64) < minimum => {
            return Err(ConfigError::CurrentLsbTooSmall {
                current_lsb,
                max_current,
                minimum: Microamps(saturate_u64(minimum)),
            });
        }
        Some(current_lsb) => current_lsb.0 as u64,
        None => minimum.max(minimum_lsb_for_calibration(
            rule.coefficient,
            shunt,
            rule.maximum,
        )),
    };

    let current_lsb = Microamps(saturate_u64(lsb));
    let value = calibration(rule.coefficient, lsb, shunt);
    if value < u64::from(rule.minimum) || value > u64::from(rule.maximum) {
        return Err(ConfigError::CalibrationOutOfRange {
            calibration: value,
            minimum: rule.minimum,
            maximum: rule.maximum,
            shunt,
            current_lsb,
        });
    }
    Ok((current_lsb, value))
}

/// Decodes a two's complement current register.
#[inline]
pub(crate) fn current(register: u16, current_lsb: Microamps) -> Microamps {
    let microamps = i64::from(register as i16) * i64::from(current_lsb.0);
    Microamps(saturate(microamps))
}

/// Decodes an unsigned power register whose LSB is `ratio` times the current LSB.
#[inline]
pub(crate) fn power(register: u16, current_lsb: Microamps, ratio: i64) -> Milliwatts {
    // uA x V = uW; the power LSB in microwatts is ratio x current LSB in microamps.
    let microwatts = i64::from(register) * ratio * i64::from(current_lsb.0);
    Milliwatts(saturate(divide_rounded(microwatts, 1_000)))
}

/// Divides rounding to the nearest integer, halves away from zero. `denominator` is positive.
#[inline]
pub(crate) fn divide_rounded(numerator: i64, denominator: i64) -> i64 {
    let half = denominator / 2;
    if numerator >= 0 {
        (numerator + half) / denominator
    } else {
        (numerator - half) / denominator
    }
}

/// Clamps to the `i32` range of the crate's unit types.
#[inline]
pub(crate) fn saturate(value: i64) -> i32 {
    i32::try_from(value).unwrap_or(if value < 0 { i32::MIN } else { i32::MAX })
}

fn saturate_u64(value: u64) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}
