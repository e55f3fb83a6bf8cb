//! INA226 register map, bit fields and register decoding.
//!
//! Source: TI SBOS547 (INA226 datasheet, June 2011) section "Register Details", and SBOS547B
//! (September 2024) Table 7-1 for the register summary and reset values.

use crate::monitor::register::Register;
use crate::monitor::scale;
use crate::units::{Microvolts, Millivolts};

/// Configuration register (00h): averaging, both conversion times and the mode.
pub(crate) const CONFIGURATION: Register = Register(0x00);
/// Shunt voltage register (01h), two's complement.
pub(crate) const SHUNT_VOLTAGE: Register = Register(0x01);
/// Bus voltage register (02h); bit 15 is always zero.
pub(crate) const BUS_VOLTAGE: Register = Register(0x02);
/// Power register (03h), unsigned.
pub(crate) const POWER: Register = Register(0x03);
/// Current register (04h), two's complement.
pub(crate) const CURRENT: Register = Register(0x04);
/// Calibration register (05h); 0000h at power-on.
pub(crate) const CALIBRATION: Register = Register(0x05);
/// Mask/Enable register (06h): alert source, alert flags and the math overflow flag.
pub(crate) const MASK_ENABLE: Register = Register(0x06);
/// Alert Limit register (07h): the threshold for the alert source chosen in Mask/Enable.
pub(crate) const ALERT_LIMIT: Register = Register(0x07);
/// Manufacturer ID register (FEh).
pub(crate) const MANUFACTURER_ID: Register = Register(0xFE);
/// Die ID register (FFh).
pub(crate) const DIE_ID: Register = Register(0xFF);

/// Manufacturer ID of Texas Instruments ("TI" in ASCII), the register's fixed value.
pub(crate) const EXPECTED_MANUFACTURER_ID: u16 = 0x5449;
/// Die ID of the INA226, the register's fixed value.
pub(crate) const EXPECTED_DIE_ID: u16 = 0x2260;

/// Bits 14..12 are reserved and read 100b at power-on (reset value 4127h); the driver writes
/// them back unchanged.
pub(crate) const CONFIGURATION_RESERVED: u16 = 0b100 << 12;
/// AVG, bits 11..9: number of averages.
pub(crate) const AVG_SHIFT: u16 = 9;
/// VBUSCT, bits 8..6: bus voltage conversion time.
pub(crate) const VBUSCT_SHIFT: u16 = 6;
/// VSHCT, bits 5..3: shunt voltage conversion time.
pub(crate) const VSHCT_SHIFT: u16 = 3;
/// MODE, bits 2..0 = 111: shunt and bus, continuous (SBOS547 Table 6).
pub(crate) const MODE_SHUNT_AND_BUS_CONTINUOUS: u16 = 0b111;

/// SOL, Mask/Enable bit 15: assert the alert pin when the shunt voltage register exceeds the
/// Alert Limit register.
pub(crate) const SHUNT_OVER_LIMIT: u16 = 1 << 15;
/// AFF, Mask/Enable bit 4: the enabled alert function's condition occurred.
pub(crate) const ALERT_FUNCTION_FLAG: u16 = 1 << 4;
/// OVF, Mask/Enable bit 2: a current or power calculation overflowed, so that data is
/// invalid.
pub(crate) const MATH_OVERFLOW: u16 = 1 << 2;

/// Shunt voltage LSB: 2.5 uV, in nanovolts.
pub(crate) const SHUNT_VOLTAGE_LSB_NANOVOLTS: u64 = 2_500;
/// Largest positive shunt voltage, 81.92 mV (SBOS547B section 5.5, shunt voltage input
/// range).
pub(crate) const SHUNT_RANGE: Microvolts = Microvolts(81_920);
/// Largest positive value of the shunt voltage and Alert Limit registers.
pub(crate) const SHUNT_REGISTER_MAX: u64 = 0x7FFF;

/// Bus voltage LSB: 1.25 mV, in microvolts.
const BUS_VOLTAGE_LSB_MICROVOLTS: i64 = 1_250;
/// Bit 15 of the bus voltage register is always zero because the bus voltage is positive.
const BUS_VOLTAGE_MASK: u16 = 0x7FFF;

/// CAL = 0.00512 / (Current_LSB x R_SHUNT) (SBOS547 Equation 1), with 0.00512 expressed in
/// microamps x micro-ohms.
pub(crate) const CALIBRATION_COEFFICIENT: u64 = 5_120_000_000;
/// The calibration register has 15 bits (bit 15 is not used), so the largest value is
/// 0x7FFF.
pub(crate) const CALIBRATION_MAX: u16 = 0x7FFF;
/// The calibration bits the chip stores.
pub(crate) const CALIBRATION_MASK: u16 = 0x7FFF;
/// The power register's LSB is 25 times the current LSB (SBOS547, "Programming the INA226").
pub(crate) const POWER_LSB_RATIO: i64 = 25;

/// Decodes the bus voltage register, rounded to the nearest millivolt.
pub(crate) fn decode_bus_voltage(register: u16) -> Millivolts {
    let microvolts = i64::from(register & BUS_VOLTAGE_MASK) * BUS_VOLTAGE_LSB_MICROVOLTS;
    Millivolts(scale::saturate(scale::divide_rounded(microvolts, 1_000)))
}

/// Decodes the two's complement shunt voltage register, rounded to the nearest microvolt
/// (halves away from zero).
pub(crate) fn decode_shunt_voltage(register: u16) -> Microvolts {
    let nanovolts = i64::from(register as i16) * SHUNT_VOLTAGE_LSB_NANOVOLTS as i64;
    Microvolts(scale::saturate(scale::divide_rounded(nanovolts, 1_000)))
}
