//! INA219 settings and the validated configuration built from them.

use super::registers::{
    BADC_SHIFT, BRNG_SHIFT, CALIBRATION_COEFFICIENT, CALIBRATION_MASK, CALIBRATION_MAX,
    MODE_SHUNT_AND_BUS_CONTINUOUS, PG_SHIFT, POWER_LSB_RATIO, SADC_SHIFT,
};
use crate::monitor::scale::{self, CalibrationRule};
use crate::monitor::{ConfigError, MicroOhms, Microamps};
use crate::units::{Duration, Microvolts, Milliamps};

/// Full-scale range of the bus voltage ADC (BRNG bit).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BusRange {
    /// 0 to 16 V: enough for a 5 V rail.
    Volts16,
    /// 0 to 32 V, the power-on default. The pins themselves take at most 26 V.
    Volts32,
}

impl BusRange {
    const fn code(self) -> u16 {
        match self {
            BusRange::Volts16 => 0,
            BusRange::Volts32 => 1,
        }
    }
}

/// Gain of the shunt amplifier, which sets the shunt voltage range (PG bits; SBOS448F Table 5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Pga {
    /// Gain 1: +-40 mV.
    Div1,
    /// Gain 1/2: +-80 mV.
    Div2,
    /// Gain 1/4: +-160 mV.
    Div4,
    /// Gain 1/8: +-320 mV, the power-on default.
    Div8,
}

impl Pga {
    /// Every setting, smallest range first.
    const ALL: [Pga; 4] = [Pga::Div1, Pga::Div2, Pga::Div4, Pga::Div8];

    /// Returns the largest shunt drop measured with this gain, in either direction.
    pub const fn range(self) -> Microvolts {
        match self {
            Pga::Div1 => Microvolts(40_000),
            Pga::Div2 => Microvolts(80_000),
            Pga::Div4 => Microvolts(160_000),
            Pga::Div8 => Microvolts(320_000),
        }
    }

    const fn code(self) -> u16 {
        match self {
            Pga::Div1 => 0b00,
            Pga::Div2 => 0b01,
            Pga::Div4 => 0b10,
            Pga::Div8 => 0b11,
        }
    }
}

/// Resolution or averaging of one ADC (BADC and SADC bits; SBOS448F Table 6, "ADC Settings").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Adc {
    /// One 9-bit conversion, 84 us.
    Bits9,
    /// One 10-bit conversion, 148 us.
    Bits10,
    /// One 11-bit conversion, 276 us.
    Bits11,
    /// One 12-bit conversion, 532 us, the power-on default.
    Bits12,
    /// The mean of 2 12-bit conversions, 1.06 ms.
    Samples2,
    /// The mean of 4 12-bit conversions, 2.13 ms.
    Samples4,
    /// The mean of 8 12-bit conversions, 4.26 ms.
    Samples8,
    /// The mean of 16 12-bit conversions, 8.51 ms.
    Samples16,
    /// The mean of 32 12-bit conversions, 17.02 ms.
    Samples32,
    /// The mean of 64 12-bit conversions, 34.05 ms.
    Samples64,
    /// The mean of 128 12-bit conversions, 68.10 ms.
    Samples128,
}

impl Adc {
    const fn code(self) -> u16 {
        match self {
            Adc::Bits9 => 0b0000,
            Adc::Bits10 => 0b0001,
            Adc::Bits11 => 0b0010,
            // 0011 and 1000 both select one 12-bit conversion; the datasheet's worked example
            // (configuration 019Fh) uses 0011.
            Adc::Bits12 => 0b0011,
            Adc::Samples2 => 0b1001,
            Adc::Samples4 => 0b1010,
            Adc::Samples8 => 0b1011,
            Adc::Samples16 => 0b1100,
            Adc::Samples32 => 0b1101,
            Adc::Samples64 => 0b1110,
            Adc::Samples128 => 0b1111,
        }
    }

    /// Returns the conversion time that SBOS448F Table 6 lists for this setting.
    pub const fn typical_conversion_time(self) -> Duration {
        Duration::from_micros(match self {
            Adc::Bits9 => 84,
            Adc::Bits10 => 148,
            Adc::Bits11 => 276,
            Adc::Bits12 => 532,
            Adc::Samples2 => 1_060,
            Adc::Samples4 => 2_130,
            Adc::Samples8 => 4_260,
            Adc::Samples16 => 8_510,
            Adc::Samples32 => 17_020,
            Adc::Samples64 => 34_050,
            Adc::Samples128 => 68_100,
        })
    }

    /// Returns the longest conversion time: the maximum of SBOS448G section 7.5 (93, 163, 304
    /// and 586 us for 9 to 12 bits).
    ///
    /// The datasheet gives no maximum for averaged settings; this takes the sample count times
    /// the 12-bit maximum, an estimate that matches how the typical times scale (128 x 532 us
    /// = 68.10 ms).
    pub const fn maximum_conversion_time(self) -> Duration {
        const BITS12_MAXIMUM_MICROS: u64 = 586;
        Duration::from_micros(match self {
            Adc::Bits9 => 93,
            Adc::Bits10 => 163,
            Adc::Bits11 => 304,
            Adc::Bits12 => BITS12_MAXIMUM_MICROS,
            Adc::Samples2 => 2 * BITS12_MAXIMUM_MICROS,
            Adc::Samples4 => 4 * BITS12_MAXIMUM_MICROS,
            Adc::Samples8 => 8 * BITS12_MAXIMUM_MICROS,
            Adc::Samples16 => 16 * BITS12_MAXIMUM_MICROS,
            Adc::Samples32 => 32 * BITS12_MAXIMUM_MICROS,
            Adc::Samples64 => 64 * BITS12_MAXIMUM_MICROS,
            Adc::Samples128 => 128 * BITS12_MAXIMUM_MICROS,
        })
    }
}

/// Builder for an [`Ina219Config`], created by [`Ina219Config::builder`].
#[derive(Clone, Copy, Debug)]
pub struct Ina219Builder {
    shunt: MicroOhms,
    max_current: Milliamps,
    current_lsb: Option<Microamps>,
    pga: Option<Pga>,
    bus_range: BusRange,
    bus_adc: Adc,
    shunt_adc: Adc,
}

impl Ina219Builder {
    /// Sets the current LSB instead of computing it, for a round number as in the datasheet's
    /// examples. It must still fit the maximum current and give a calibration that fits.
    pub fn current_lsb(mut self, current_lsb: Microamps) -> Self {
        self.current_lsb = Some(current_lsb);
        self
    }

    /// Sets the PGA gain instead of taking the smallest range that fits the maximum drop.
    pub fn pga(mut self, pga: Pga) -> Self {
        self.pga = Some(pga);
        self
    }

    /// Sets the bus voltage range (default 16 V).
    pub fn bus_range(mut self, bus_range: BusRange) -> Self {
        self.bus_range = bus_range;
        self
    }

    /// Sets the bus voltage ADC's resolution or averaging (default 8 samples).
    pub fn bus_adc(mut self, adc: Adc) -> Self {
        self.bus_adc = adc;
        self
    }

    /// Sets the shunt voltage ADC's resolution or averaging (default 8 samples).
    pub fn shunt_adc(mut self, adc: Adc) -> Self {
        self.shunt_adc = adc;
        self
    }

    /// Checks the settings and computes the calibration.
    ///
    /// Rejects a zero shunt, a maximum current that is not positive, a shunt drop beyond the
    /// PGA range, a current LSB too small for the maximum current, and a calibration value
    /// outside 2..=0xFFFE. The calibration is truncated as the datasheet's equation does, then
    /// bit 0 is cleared because the chip does not store it. The current then reads low by less
    /// than 2/Cal relative, under 0.05 % from Cal 4096 up.
    pub fn build(self) -> Result<Ina219Config, ConfigError> {
        if self.shunt.0 == 0 {
            return Err(ConfigError::ZeroShunt);
        }
        if self.max_current.0 <= 0 {
            return Err(ConfigError::NonPositiveMaxCurrent {
                max_current: self.max_current,
            });
        }

        let pga = self.choose_pga()?;
        let rule = CalibrationRule {
            coefficient: CALIBRATION_COEFFICIENT,
            minimum: 2,
            maximum: CALIBRATION_MAX,
        };
        let (current_lsb, calibration) =
            scale::choose_scaling(self.shunt, self.max_current, self.current_lsb, rule)?;

        Ok(Ina219Config {
            shunt: self.shunt,
            max_current: self.max_current,
            current_lsb,
            // choose_scaling checked the value against CALIBRATION_MAX.
            calibration: calibration as u16 & CALIBRATION_MASK,
            pga,
            bus_range: self.bus_range,
            bus_adc: self.bus_adc,
            shunt_adc: self.shunt_adc,
        })
    }

    fn choose_pga(&self) -> Result<Pga, ConfigError> {
        let drop = scale::shunt_drop(self.shunt, self.max_current);
        let out_of_range = |range| ConfigError::ShuntDropOutOfRange {
            shunt: self.shunt,
            max_current: self.max_current,
            drop,
            range,
        };

        match self.pga {
            Some(pga) if drop <= pga.range() => Ok(pga),
            Some(pga) => Err(out_of_range(pga.range())),
            None => Pga::ALL
                .into_iter()
                .find(|pga| drop <= pga.range())
                .ok_or(out_of_range(Pga::Div8.range())),
        }
    }
}

/// A validated INA219 configuration: the settings and the calibration derived from them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ina219Config {
    shunt: MicroOhms,
    max_current: Milliamps,
    current_lsb: Microamps,
    calibration: u16,
    pga: Pga,
    bus_range: BusRange,
    bus_adc: Adc,
    shunt_adc: Adc,
}

impl Ina219Config {
    /// Starts a configuration for a shunt and the largest current expected through it.
    ///
    /// Defaults: PGA with the smallest range that fits the drop at `max_current`, the current
    /// LSB computed, 16 V bus range, and 8-sample averaging on both ADCs. The averaging is an
    /// estimate: it filters a USB charger's switching ripple while a sample still arrives
    /// about every 9 ms, so a 100 ms trip delay sees about ten samples.
    pub fn builder(shunt: MicroOhms, max_current: Milliamps) -> Ina219Builder {
        Ina219Builder {
            shunt,
            max_current,
            current_lsb: None,
            pga: None,
            bus_range: BusRange::Volts16,
            bus_adc: Adc::Samples8,
            shunt_adc: Adc::Samples8,
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

    /// Returns the power register's LSB in microwatts, 20 times the current LSB.
    pub fn power_lsb_microwatts(&self) -> i64 {
        POWER_LSB_RATIO * i64::from(self.current_lsb.0)
    }

    /// Returns the calibration register value the driver writes.
    pub fn calibration(&self) -> u16 {
        self.calibration
    }

    /// Returns the PGA gain.
    pub fn pga(&self) -> Pga {
        self.pga
    }

    /// Returns the bus voltage range.
    pub fn bus_range(&self) -> BusRange {
        self.bus_range
    }

    /// Returns the largest current the shunt range measures: the PGA range over the shunt.
    pub fn max_measurable_current(&self) -> Milliamps {
        // uV x 1000 / uOhm = mA.
        let milliamps = i64::from(self.pga.range().0) * 1_000 / i64::from(self.shunt.0);
        Milliamps(scale::saturate(milliamps))
    }

    /// Returns the configuration register value: the settings with continuous shunt and bus
    /// conversion.
    pub fn configuration_register(&self) -> u16 {
        self.bus_range.code() << BRNG_SHIFT
            | self.pga.code() << PG_SHIFT
            | self.bus_adc.code() << BADC_SHIFT
            | self.shunt_adc.code() << SADC_SHIFT
            | MODE_SHUNT_AND_BUS_CONTINUOUS
    }

    /// Returns the time between conversions with typical conversion times.
    ///
    /// In continuous mode the chip converts the shunt, then the bus (SBOS448G section 8.3.1),
    /// so a new conversion arrives after the sum of both times.
    pub fn typical_sample_period(&self) -> Duration {
        self.shunt_adc.typical_conversion_time() + self.bus_adc.typical_conversion_time()
    }

    /// Returns the time between conversions with the longest conversion times, the period at
    /// which every read finds a new conversion.
    pub fn sample_period(&self) -> Duration {
        self.shunt_adc.maximum_conversion_time() + self.bus_adc.maximum_conversion_time()
    }
}
