//! INA219 register map, bit fields and register decoding.
//!
//! Source: TI SBOS448G (INA219 datasheet, December 2015), section 8.6 "Register Maps", and
//! SBOS448F (September 2011) for the table numbers cited.

use crate::monitor::register::Register;
use crate::units::{Microvolts, Millivolts};

/// Configuration register (00h): bus range, PGA, both ADC settings and the mode.
pub(crate) const CONFIGURATION: Register = Register(0x00);
/// Shunt voltage register (01h), two's complement.
pub(crate) const SHUNT_VOLTAGE: Register = Register(0x01);
/// Bus voltage register (02h): voltage in bits 15..3, CNVR in bit 1, OVF in bit 0.
pub(crate) const BUS_VOLTAGE: Register = Register(0x02);
/// Power register (03h), unsigned; reading it clears CNVR.
pub(crate) const POWER: Register = Register(0x03);
/// Current register (04h), two's complement.
pub(crate) const CURRENT: Register = Register(0x04);
/// Calibration register (05h); 0000h at power-on.
pub(crate) const CALIBRATION: Register = Register(0x05);

/// BRNG, bit 13: 0 = 16 V, 1 = 32 V full-scale bus range.
pub(crate) const BRNG_SHIFT: u16 = 13;
/// PG, bits 12..11: PGA gain and shunt range.
pub(crate) const PG_SHIFT: u16 = 11;
/// BADC, bits 10..7: bus ADC resolution or averaging.
pub(crate) const BADC_SHIFT: u16 = 7;
/// SADC, bits 6..3: shunt ADC resolution or averaging.
pub(crate) const SADC_SHIFT: u16 = 3;
/// MODE, bits 2..0 = 111: shunt and bus, continuous (SBOS448F Table 7).
pub(crate) const MODE_SHUNT_AND_BUS_CONTINUOUS: u16 = 0b111;

/// The bus voltage sits above the three flag bits.
const BUS_VOLTAGE_SHIFT: u16 = 3;
/// Bus voltage LSB: 4 mV in both bus ranges.
const BUS_VOLTAGE_LSB_MILLIVOLTS: i32 = 4;
/// CNVR, bus voltage register bit 1: set when a conversion, its averaging and its
/// multiplications are complete; cleared by reading the power register.
const CONVERSION_READY: u16 = 1 << 1;
/// OVF, bus voltage register bit 0: the current or power calculation was out of range, so
/// "current and power data may be meaningless".
const MATH_OVERFLOW: u16 = 1 << 0;

/// Shunt voltage LSB: 10 uV for every PGA setting (SBOS448G section 7.5, "Shunt voltage, 1 LSB
/// step size").
const SHUNT_VOLTAGE_LSB_MICROVOLTS: i32 = 10;

/// Calibration = trunc(0.04096 / (Current_LSB x R_SHUNT)), the datasheet's calibration
/// equation (section 8.5.1 in SBOS448G), with 0.04096 expressed in microamps x micro-ohms. The
/// worked example in SBOS448F Table 3 gives 20480 for a 1 mA LSB and a 2 milliohm shunt.
pub(crate) const CALIBRATION_COEFFICIENT: u64 = 40_960_000_000;
/// Bit 0 of the calibration register is not used and reads as zero whatever is written: the
/// largest value is 0xFFFE. (A TI E2E forum thread on the INA220, which shares this register
/// map, shows 0x7FFF reading back as 0x7FFE.)
pub(crate) const CALIBRATION_MAX: u16 = 0xFFFE;
/// The calibration bits the chip stores.
pub(crate) const CALIBRATION_MASK: u16 = 0xFFFE;
/// Power_LSB = 20 x Current_LSB: SBOS448F Table 3 pairs a 1 mA current LSB with a 20 mW
/// power LSB.
pub(crate) const POWER_LSB_RATIO: i64 = 20;

/// The bus voltage register's content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BusVoltage {
    /// The bus voltage, which is valid even when a flag is set.
    pub voltage: Millivolts,
    /// CNVR: a new conversion is in the data registers.
    pub conversion_ready: bool,
    /// OVF: this conversion's current and power are out of range.
    pub math_overflow: bool,
}

/// Splits the bus voltage register into the voltage and its two flags.
pub(crate) fn decode_bus_voltage(register: u16) -> BusVoltage {
    let steps = i32::from(register >> BUS_VOLTAGE_SHIFT);
    BusVoltage {
        voltage: Millivolts(steps * BUS_VOLTAGE_LSB_MILLIVOLTS),
        conversion_ready: register & CONVERSION_READY != 0,
        math_overflow: register & MATH_OVERFLOW != 0,
    }
}

/// Decodes the two's complement shunt voltage register. The chip extends the sign for every
/// PGA setting, so the register reads as one signed 16-bit value.
pub(crate) fn decode_shunt_voltage(register: u16) -> Microvolts {
    Microvolts(i32::from(register as i16) * SHUNT_VOLTAGE_LSB_MICROVOLTS)
}
