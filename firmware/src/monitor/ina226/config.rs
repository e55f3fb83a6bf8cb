//! INA226 settings and the validated configuration built from them.

use super::registers::{
    AVG_SHIFT, CALIBRATION_COEFFICIENT, CALIBRATION_MAX, CONFIGURATION_RESERVED,
    MODE_SHUNT_AND_BUS_CONTINUOUS, POWER_LSB_RATIO, SHUNT_OVER_LIMIT, SHUNT_RANGE,
    SHUNT_REGISTER_MAX, SHUNT_VOLTAGE_LSB_NANOVOLTS, VBUSCT_SHIFT, VSHCT_SHIFT,
};
use crate::monitor::scale::{self, CalibrationRule};
use crate::monitor::{ConfigError, MicroOhms, Microamps};
use crate::units::{Duration, Milliamps};

/// Number of conversions averaged into each result (AVG bits; SBOS547 Table 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Averaging {
    /// No averaging, the power-on default.
    Samples1,
    /// 4 conversions.
    Samples4,
    /// 16 conversions.
    Samples16,
    /// 64 conversions.
    Samples64,
    /// 128 conversions.
    Samples128,
    /// 256 conversions.
    Samples256,
    /// 512 conversions.
    Samples512,
    /// 1024 conversions.
    Samples1024,
}

impl Averaging {
    /// Returns the number of conversions averaged.
    pub const fn count(self) -> u64 {
        match self {
            Averaging::Samples1 => 1,
            Averaging::Samples4 => 4,
            Averaging::Samples16 => 16,
            Averaging::Samples64 => 64,
            Averaging::Samples128 => 128,
            Averaging::Samples256 => 256,
            Averaging::Samples512 => 512,
            Averaging::Samples1024 => 1024,
        }
    }

    const fn code(self) -> u16 {
        match self {
            Averaging::Samples1 => 0b000,
            Averaging::Samples4 => 0b001,
            Averaging::Samples16 => 0b010,
            Averaging::Samples64 => 0b011,
            Averaging::Samples128 => 0b100,
            Averaging::Samples256 => 0b101,
            Averaging::Samples512 => 0b110,
            Averaging::Samples1024 => 0b111,
        }
    }
}

/// Time of one bus or shunt conversion (VBUSCT and VSHCT bits; SBOS547 Tables 4 and 5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConversionTime {
    /// 140 us.
    Micros140,
    /// 204 us.
    Micros204,
    /// 332 us.
    Micros332,
    /// 588 us.
    Micros588,
    /// 1.1 ms, the power-on default.
    Micros1100,
    /// 2.116 ms.
    Micros2116,
    /// 4.156 ms.
    Micros4156,
    /// 8.244 ms.
    Micros8244,
}

impl ConversionTime {
    /// Returns the typical conversion time (SBOS547B section 5.5, tCT typical).
    pub const fn typical(self) -> Duration {
        Duration::from_micros(match self {
            ConversionTime::Micros140 => 140,
            ConversionTime::Micros204 => 204,
            ConversionTime::Micros332 => 332,
            ConversionTime::Micros588 => 588,
            ConversionTime::Micros1100 => 1_100,
            ConversionTime::Micros2116 => 2_116,
            ConversionTime::Micros4156 => 4_156,
            ConversionTime::Micros8244 => 8_244,
        })
    }

    /// Returns the longest conversion time (SBOS547B section 5.5, tCT maximum, about 10 %
    /// above typical).
    pub const fn maximum(self) -> Duration {
        Duration::from_micros(match self {
            ConversionTime::Micros140 => 154,
            ConversionTime::Micros204 => 224,
            ConversionTime::Micros332 => 365,
            ConversionTime::Micros588 => 646,
            ConversionTime::Micros1100 => 1_210,
            ConversionTime::Micros2116 => 2_328,
            ConversionTime::Micros4156 => 4_572,
            ConversionTime::Micros8244 => 9_068,
        })
    }

    const fn code(self) -> u16 {
        match self {
            ConversionTime::Micros140 => 0b000,
            ConversionTime::Micros204 => 0b001,
            ConversionTime::Micros332 => 0b010,
            ConversionTime::Micros588 => 0b011,
            ConversionTime::Micros1100 => 0b100,
            ConversionTime::Micros2116 => 0b101,
            ConversionTime::Micros4156 => 0b110,
            ConversionTime::Micros8244 => 0b111,
        }
    }
}

/// Builder for an [`Ina226Config`], created by [`Ina226Config::builder`].
#[derive(Clone, Copy, Debug)]
pub struct Ina226Builder {
    shunt: MicroOhms,
    max_current: Milliamps,
    current_lsb: Option<Microamps>,
    averaging: Averaging,
    bus_conversion_time: ConversionTime,
    shunt_conversion_time: ConversionTime,
    over_current_alert: Option<Milliamps>,
}

impl Ina226Builder {
    /// Sets the current LSB instead of computing it, for a round number as in the datasheet's
    /// example. It must still fit the maximum current and give a calibration that fits.
    pub fn current_lsb(mut self, current_lsb: Microamps) -> Self {
        self.current_lsb = Some(current_lsb);
        self
    }

    /// Sets the averaging (default 4 conversions).
    pub fn averaging(mut self, averaging: Averaging) -> Self {
        self.averaging = averaging;
        self
    }

    /// Sets the bus voltage conversion time (default 1.1 ms).
    pub fn bus_conversion_time(mut self, time: ConversionTime) -> Self {
        self.bus_conversion_time = time;
        self
    }

    /// Sets the shunt voltage conversion time (default 1.1 ms).
    pub fn shunt_conversion_time(mut self, time: ConversionTime) -> Self {
        self.shunt_conversion_time = time;
        self
    }

    /// Asserts the ALERT pin (open drain, active low) while the current exceeds `limit`,
    /// through the shunt voltage over-limit function. The pin follows each conversion: it is
    /// not latched.
    pub fn over_current_alert(mut self, limit: Milliamps) -> Self {
        self.over_current_alert = Some(limit);
        self
    }

    /// Checks the settings and computes the calibration and the alert limit.
    ///
    /// Rejects a zero shunt, a maximum current that is not positive, a shunt drop beyond
    /// 81.92 mV, a current LSB too small for the maximum current, a calibration value outside
    /// 1..=0x7FFF, and an alert limit outside the shunt range. The calibration is truncated
    /// like the INA219's; the INA226 datasheet's equation has no rounding rule.
    pub fn build(self) -> Result<Ina226Config, ConfigError> {
        if self.shunt.0 == 0 {
            return Err(ConfigError::ZeroShunt);
        }
        if self.max_current.0 <= 0 {
            return Err(ConfigError::NonPositiveMaxCurrent {
                max_current: self.max_current,
            });
        }

        let drop = scale::shunt_drop(self.shunt, self.max_current);
        if drop > SHUNT_RANGE {
            return Err(ConfigError::ShuntDropOutOfRange {
                shunt: self.shunt,
                max_current: self.max_current,
                drop,
                range: SHUNT_RANGE,
            });
        }

        let rule = CalibrationRule {
            coefficient: CALIBRATION_COEFFICIENT,
            minimum: 1,
            maximum: CALIBRATION_MAX,
        };
        let (current_lsb, calibration) =
            scale::choose_scaling(self.shunt, self.max_current, self.current_lsb, rule)?;

        let alert_limit = match self.over_current_alert {
            Some(limit) => Some(AlertLimit {
                limit,
                register: alert_register(self.shunt, limit)?,
            }),
            None => None,
        };

        Ok(Ina226Config {
            shunt: self.shunt,
            max_current: self.max_current,
            current_lsb,
            // choose_scaling checked the value against CALIBRATION_MAX.
            calibration: calibration as u16,
            averaging: self.averaging,
            bus_conversion_time: self.bus_conversion_time,
            shunt_conversion_time: self.shunt_conversion_time,
            alert_limit,
        })
    }
}

/// Converts a current limit to the Alert Limit register, which the shunt over-limit function
/// compares with the shunt voltage register (2.5 uV per LSB), rounded to the nearest LSB.
fn alert_register(shunt: MicroOhms, limit: Milliamps) -> Result<u16, ConfigError> {
    // The largest limit is the register's largest value over the shunt: nV / uOhm = mA.
    let maximum_nanovolts = SHUNT_REGISTER_MAX * SHUNT_VOLTAGE_LSB_NANOVOLTS;
    let maximum = Milliamps(scale::saturate(
        (maximum_nanovolts / u64::from(shunt.0)) as i64,
    ));
    if limit.0 <= 0 || limit > maximum {
        return Err(ConfigError::AlertLimitOutOfRange { limit, maximum });
    }

    // mA x uOhm = nV.
    let nanovolts = limit.0 as u64 * u64::from(shunt.0);
    let register = (nanovolts + SHUNT_VOLTAGE_LSB_NANOVOLTS / 2) / SHUNT_VOLTAGE_LSB_NANOVOLTS;
    Ok(register.min(SHUNT_REGISTER_MAX) as u16)
}

/// The over-current alert limit as configured and as written to the chip.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct AlertLimit {
    limit: Milliamps,
    register: u16,
}

/// A validated INA226 configuration: the settings and the calibration derived from them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ina226Config {
    shunt: MicroOhms,
    max_current: Milliamps,
    current_lsb: Microamps,
    calibration: u16,
    averaging: Averaging,
    bus_conversion_time: ConversionTime,
    shunt_conversion_time: ConversionTime,
    alert_limit: Option<AlertLimit>,
}

impl Ina226Config {
    /// Starts a configuration for a shunt and the largest current expected through it.
    ///
    /// Defaults: the current LSB computed, 4 averages of 1.1 ms bus and shunt conversions, and
    /// no alert. The averaging is an estimate chosen like the INA219 default: it filters a
    /// USB charger's switching ripple while a sample still arrives about every 9 ms.
    pub fn builder(shunt: MicroOhms, max_current: Milliamps) -> Ina226Builder {
        Ina226Builder {
            shunt,
            max_current,
            current_lsb: None,
            averaging: Averaging::Samples4,
            bus_conversion_time: ConversionTime::Micros1100,
            shunt_conversion_time: ConversionTime::Micros1100,
            over_current_alert: None,
        }
    }

    /// Returns the shunt resistance.
    pub fn shunt(&self) -> MicroOhms {
        self.shunt
    }

    /// Returns the maximum expected current the configuration was built for.
    pub fn max_current(&self) -> Milliamps {
        self.max_current
    }

    /// Returns the current register's LSB.
    pub fn current_lsb(&self) -> Microamps {
        self.current_lsb
    }

    /// Returns the power register's LSB in microwatts, 25 times the current LSB.
    pub fn power_lsb_microwatts(&self) -> i64 {
        POWER_LSB_RATIO * i64::from(self.current_lsb.0)
    }

    /// Returns the calibration register value the driver writes.
    pub fn calibration(&self) -> u16 {
        self.calibration
    }

    /// Returns the over-current alert limit, if one is set.
    pub fn over_current_alert(&self) -> Option<Milliamps> {
        self.alert_limit.map(|alert| alert.limit)
    }

    /// Returns the largest current the shunt range measures: 81.92 mV over the shunt.
    pub fn max_measurable_current(&self) -> Milliamps {
        // uV x 1000 / uOhm = mA.
        let milliamps = i64::from(SHUNT_RANGE.0) * 1_000 / i64::from(self.shunt.0);
        Milliamps(scale::saturate(milliamps))
    }

    /// Returns the configuration register value: the settings with continuous shunt and bus
    /// conversion.
    pub fn configuration_register(&self) -> u16 {
        CONFIGURATION_RESERVED
            | self.averaging.code() << AVG_SHIFT
            | self.bus_conversion_time.code() << VBUSCT_SHIFT
            | self.shunt_conversion_time.code() << VSHCT_SHIFT
            | MODE_SHUNT_AND_BUS_CONTINUOUS
    }

    /// Returns the Alert Limit register value (0 without an alert).
    pub fn alert_limit_register(&self) -> u16 {
        self.alert_limit.map_or(0, |alert| alert.register)
    }

    /// Returns the Mask/Enable register value: the shunt over-limit function when an alert is
    /// set, otherwise no alert function. Polarity stays active low and the latch off.
    pub fn mask_enable_register(&self) -> u16 {
        if self.alert_limit.is_some() {
            SHUNT_OVER_LIMIT
        } else {
            0
        }
    }

    /// Returns the time between results with typical conversion times.
    ///
    /// Each result averages `averaging` pairs of shunt and bus conversions: SBOS547 ("Averaging
    /// and Conversion Time Considerations") gives 588 us conversions with 4 averages as data
    /// "approximately every 4.7ms", (588 + 588) x 4 = 4704 us.
    pub fn typical_sample_period(&self) -> Duration {
        let pair = self.bus_conversion_time.typical() + self.shunt_conversion_time.typical();
        pair.saturating_mul(self.averaging.count())
    }

    /// Returns the time between results with the longest conversion times, the period at
    /// which every read finds a new result.
    pub fn sample_period(&self) -> Duration {
        let pair = self.bus_conversion_time.maximum() + self.shunt_conversion_time.maximum();
        pair.saturating_mul(self.averaging.count())
    }
}
