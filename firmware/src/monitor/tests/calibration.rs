//! Building configurations: calibration, current and power LSBs, ranges and sample periods.

extern crate std;

use std::string::ToString;

use super::common::{REFERENCE_SHUNT, REFERENCE_SUPPLY};
use crate::monitor::ina219::{Adc, BusRange, Pga};
use crate::monitor::ina226::{Averaging, ConversionTime};
use crate::monitor::{ConfigError, Ina219Config, Ina226Config, MicroOhms, Microamps};
use crate::units::{Duration, Microvolts, Milliamps};

#[test]
fn ina219_tenth_ohm_cal_4096() {
    let config = Ina219Config::builder(MicroOhms(100_000), Milliamps(2_000))
        .current_lsb(Microamps(100))
        .build()
        .unwrap();

    assert_eq!(config.calibration(), 4096);
}

/// The 32 V, 2 A example: 0.1 ohm shunt, 320 mV PGA range, 2 A expected, 100 uA LSB.
///
/// The step-by-step form of this example (MaxPossible_I, MinimumLSB, MaximumLSB...) was not
/// in the SBOS448 pages available when this was written, so the expected values come from the
/// datasheet's equations: Cal = trunc(0.04096 / (0.0001 x 0.1)) = 4096, Power_LSB = 20 x
/// 100 uA = 2 mW, largest current 0.32 V / 0.1 ohm = 3.2 A, minimum LSB 2 A / 32767 = 62 uA.
#[test]
fn ina219_32v_2a_example() {
    let config = Ina219Config::builder(MicroOhms(100_000), Milliamps(2_000))
        .current_lsb(Microamps(100))
        .bus_range(BusRange::Volts32)
        .build()
        .unwrap();

    assert_eq!(config.calibration(), 4096);
    assert_eq!(config.current_lsb(), Microamps(100));
    assert_eq!(config.power_lsb_microwatts(), 2_000);
    // 2 A x 0.1 ohm = 200 mV, beyond the 160 mV range, so the 320 mV range is taken.
    assert_eq!(config.pga(), Pga::Div8);
    assert_eq!(config.max_measurable_current(), Milliamps(3_200));
}

#[test]
fn ina219_2a_rejects_lsb_61_microamps() {
    let result = Ina219Config::builder(MicroOhms(100_000), Milliamps(2_000))
        .current_lsb(Microamps(61))
        .build();

    assert_eq!(
        result,
        Err(ConfigError::CurrentLsbTooSmall {
            current_lsb: Microamps(61),
            max_current: Milliamps(2_000),
            minimum: Microamps(62),
        })
    );
}

/// SBOS448F Table 3: 10 A load, 2 milliohm shunt, 40 mV range, 16 V bus, 1 mA current LSB:
/// configuration 019Fh, calibration 5000h (20480), power LSB 20 mW.
#[test]
fn ina219_table3_example_calibration() {
    let config = Ina219Config::builder(MicroOhms(2_000), Milliamps(10_000))
        .current_lsb(Microamps(1_000))
        .bus_adc(Adc::Bits12)
        .shunt_adc(Adc::Bits12)
        .build()
        .unwrap();

    assert_eq!(config.calibration(), 20480);
    assert_eq!(config.calibration(), 0x5000);
    assert_eq!(config.pga(), Pga::Div1);
    assert_eq!(config.bus_range(), BusRange::Volts16);
    assert_eq!(config.configuration_register(), 0x019F);
    assert_eq!(config.power_lsb_microwatts(), 20_000);
}

/// SBOS547 Table 1: 10 A load, 2 milliohm shunt, 1 mA current LSB: configuration 4127h,
/// calibration A00h (2560), power LSB 25 mW.
#[test]
fn ina226_table1_example_calibration() {
    let config = Ina226Config::builder(MicroOhms(2_000), Milliamps(10_000))
        .current_lsb(Microamps(1_000))
        .averaging(Averaging::Samples1)
        .build()
        .unwrap();

    assert_eq!(config.calibration(), 2560);
    assert_eq!(config.calibration(), 0x0A00);
    assert_eq!(config.configuration_register(), 0x4127);
    assert_eq!(config.power_lsb_microwatts(), 25_000);
}

#[test]
fn ina219_cal_truncates_then_clears_bit_0() {
    // trunc(0.04096 / (99 uA x 0.1 ohm)) = 4137; bit 0 is not stored, so 4136 is written.
    let config = Ina219Config::builder(MicroOhms(100_000), Milliamps(2_000))
        .current_lsb(Microamps(99))
        .build()
        .unwrap();

    assert_eq!(config.calibration(), 4136);
}

#[test]
fn ina219_cal_accepts_0xfffe() {
    // trunc(40.96e9 / (1 uA x 625010 uOhm)) = 65534.
    let config = Ina219Config::builder(MicroOhms(625_010), Milliamps(32))
        .current_lsb(Microamps(1))
        .build()
        .unwrap();

    assert_eq!(config.calibration(), 0xFFFE);
}

#[test]
fn ina219_cal_rejects_0xffff() {
    // trunc(40.96e9 / (1 uA x 625005 uOhm)) = 65535, one past the largest value.
    let result = Ina219Config::builder(MicroOhms(625_005), Milliamps(32))
        .current_lsb(Microamps(1))
        .build();

    assert_eq!(
        result,
        Err(ConfigError::CalibrationOutOfRange {
            calibration: 65535,
            minimum: 2,
            maximum: 0xFFFE,
            shunt: MicroOhms(625_005),
            current_lsb: Microamps(1),
        })
    );
}

#[test]
fn ina219_cal_too_large_names_both_values() {
    // 1 milliohm with a 100 uA LSB needs Cal 409600.
    let error = Ina219Config::builder(MicroOhms(1_000), Milliamps(2_000))
        .current_lsb(Microamps(100))
        .build()
        .unwrap_err();

    let message = error.to_string();
    assert!(message.contains("409600"), "{message}");
    assert!(message.contains("65534"), "{message}");
}

#[test]
fn ina226_cal_accepts_0x7fff() {
    // trunc(5.12e9 / (1 uA x 156251 uOhm)) = 32767.
    let config = Ina226Config::builder(MicroOhms(156_251), Milliamps(32))
        .current_lsb(Microamps(1))
        .build()
        .unwrap();

    assert_eq!(config.calibration(), 0x7FFF);
}

#[test]
fn ina226_cal_rejects_0x8000() {
    let result = Ina226Config::builder(MicroOhms(156_250), Milliamps(32))
        .current_lsb(Microamps(1))
        .build();

    assert_eq!(
        result,
        Err(ConfigError::CalibrationOutOfRange {
            calibration: 32768,
            minimum: 1,
            maximum: 0x7FFF,
            shunt: MicroOhms(156_250),
            current_lsb: Microamps(1),
        })
    );
}

#[test]
fn ina226_cal_too_large_names_both_values() {
    // 1 milliohm with a 100 uA LSB needs CAL 51200, but the register has 15 bits.
    let error = Ina226Config::builder(MicroOhms(1_000), Milliamps(2_000))
        .current_lsb(Microamps(100))
        .build()
        .unwrap_err();

    let message = error.to_string();
    assert!(message.contains("51200"), "{message}");
    assert!(message.contains("32767"), "{message}");
}

#[test]
fn ina219_reference_shunt_settings() {
    let config = Ina219Config::builder(REFERENCE_SHUNT, REFERENCE_SUPPLY)
        .build()
        .unwrap();

    // 5.4 A x 10 milliohm = 54 mV, so the 80 mV range is the smallest that fits.
    assert_eq!(config.pga(), Pga::Div2);
    // ceil(5.4 A / 32767) = 165 uA; trunc(0.04096 / (165 uA x 0.01 ohm)) = 24824.
    assert_eq!(config.current_lsb(), Microamps(165));
    assert_eq!(config.calibration(), 24824);
    assert_eq!(config.power_lsb_microwatts(), 3_300);
    assert_eq!(config.max_measurable_current(), Milliamps(8_000));
}

#[test]
fn ina226_reference_shunt_settings() {
    let config = Ina226Config::builder(REFERENCE_SHUNT, REFERENCE_SUPPLY)
        .build()
        .unwrap();

    // trunc(0.00512 / (165 uA x 0.01 ohm)) = 3103.
    assert_eq!(config.current_lsb(), Microamps(165));
    assert_eq!(config.calibration(), 3103);
    assert_eq!(config.power_lsb_microwatts(), 4_125);
    assert_eq!(config.max_measurable_current(), Milliamps(8_192));
}

#[test]
fn small_shunt_raises_lsb_until_cal_fits() {
    // 0.5 milliohm: the 165 uA LSB would need Cal 496484, so the LSB rises to 1251 uA.
    let config = Ina219Config::builder(MicroOhms(500), REFERENCE_SUPPLY)
        .build()
        .unwrap();

    assert_eq!(config.current_lsb(), Microamps(1_251));
    // trunc(40.96e9 / (1251 x 500)) = 65483, written without bit 0.
    assert_eq!(config.calibration(), 65482);
}

#[test]
fn ina219_drop_beyond_320_mv_rejected() {
    // 4 A through 0.1 ohm drops 400 mV; the largest PGA range is 320 mV.
    let result = Ina219Config::builder(MicroOhms(100_000), Milliamps(4_000)).build();

    assert_eq!(
        result,
        Err(ConfigError::ShuntDropOutOfRange {
            shunt: MicroOhms(100_000),
            max_current: Milliamps(4_000),
            drop: Microvolts(400_000),
            range: Microvolts(320_000),
        })
    );
    let message = result.unwrap_err().to_string();
    assert!(message.contains("400000 uV"), "{message}");
    assert!(message.contains("320000 uV"), "{message}");
}

#[test]
fn ina219_rejects_drop_beyond_chosen_pga() {
    let result = Ina219Config::builder(REFERENCE_SHUNT, REFERENCE_SUPPLY)
        .pga(Pga::Div1)
        .build();

    assert_eq!(
        result,
        Err(ConfigError::ShuntDropOutOfRange {
            shunt: REFERENCE_SHUNT,
            max_current: REFERENCE_SUPPLY,
            drop: Microvolts(54_000),
            range: Microvolts(40_000),
        })
    );
}

#[test]
fn ina226_rejects_drop_beyond_81_92_mv() {
    // 9 A through 10 milliohm drops 90 mV.
    let result = Ina226Config::builder(REFERENCE_SHUNT, Milliamps(9_000)).build();

    assert_eq!(
        result,
        Err(ConfigError::ShuntDropOutOfRange {
            shunt: REFERENCE_SHUNT,
            max_current: Milliamps(9_000),
            drop: Microvolts(90_000),
            range: Microvolts(81_920),
        })
    );
}

#[test]
fn zero_shunt_and_non_positive_current_are_rejected() {
    let zero_shunt = Ina219Config::builder(MicroOhms(0), REFERENCE_SUPPLY).build();
    let zero_current = Ina226Config::builder(REFERENCE_SHUNT, Milliamps(0)).build();
    let zero_lsb = Ina219Config::builder(REFERENCE_SHUNT, REFERENCE_SUPPLY)
        .current_lsb(Microamps(0))
        .build();

    assert_eq!(zero_shunt, Err(ConfigError::ZeroShunt));
    assert_eq!(
        zero_current,
        Err(ConfigError::NonPositiveMaxCurrent {
            max_current: Milliamps(0)
        })
    );
    assert_eq!(
        zero_lsb,
        Err(ConfigError::NonPositiveCurrentLsb {
            current_lsb: Microamps(0)
        })
    );
}

#[test]
fn ina226_alert_limit_is_shunt_register_units() {
    // 5 A x 10 milliohm = 50 mV = 20000 steps of 2.5 uV.
    let config = Ina226Config::builder(REFERENCE_SHUNT, REFERENCE_SUPPLY)
        .over_current_alert(Milliamps(5_000))
        .build()
        .unwrap();

    assert_eq!(config.over_current_alert(), Some(Milliamps(5_000)));
    assert_eq!(config.alert_limit_register(), 20_000);
    assert_eq!(config.mask_enable_register(), 0x8000);
}

#[test]
fn ina226_alert_limit_beyond_shunt_range_is_rejected() {
    // 0x7FFF x 2.5 uV / 10 milliohm = 8191 mA.
    let result = Ina226Config::builder(REFERENCE_SHUNT, REFERENCE_SUPPLY)
        .over_current_alert(Milliamps(9_000))
        .build();

    assert_eq!(
        result,
        Err(ConfigError::AlertLimitOutOfRange {
            limit: Milliamps(9_000),
            maximum: Milliamps(8_191),
        })
    );
}

#[test]
fn ina226_without_alert_disables_alert_functions() {
    let config = Ina226Config::builder(REFERENCE_SHUNT, REFERENCE_SUPPLY)
        .build()
        .unwrap();

    assert_eq!(config.over_current_alert(), None);
    assert_eq!(config.alert_limit_register(), 0);
    assert_eq!(config.mask_enable_register(), 0);
}

#[test]
fn ina219_sample_period_sums_shunt_and_bus_times() {
    let single = Ina219Config::builder(REFERENCE_SHUNT, REFERENCE_SUPPLY)
        .bus_adc(Adc::Bits12)
        .shunt_adc(Adc::Bits12)
        .build()
        .unwrap();
    let averaged = Ina219Config::builder(REFERENCE_SHUNT, REFERENCE_SUPPLY)
        .build()
        .unwrap();

    // 532 + 532 us typical, 586 + 586 us at most.
    assert_eq!(single.typical_sample_period(), Duration::from_micros(1_064));
    assert_eq!(single.sample_period(), Duration::from_micros(1_172));
    // Default 8 samples each: 4.26 + 4.26 ms typical, 2 x 8 x 586 us at most.
    assert_eq!(
        averaged.typical_sample_period(),
        Duration::from_micros(8_520)
    );
    assert_eq!(averaged.sample_period(), Duration::from_micros(9_376));
}

#[test]
fn ina226_sample_period_4_7_ms_example() {
    // SBOS547: 588 us conversions with 4 averages update "approximately every 4.7ms".
    let config = Ina226Config::builder(REFERENCE_SHUNT, REFERENCE_SUPPLY)
        .averaging(Averaging::Samples4)
        .bus_conversion_time(ConversionTime::Micros588)
        .shunt_conversion_time(ConversionTime::Micros588)
        .build()
        .unwrap();

    assert_eq!(config.typical_sample_period(), Duration::from_micros(4_704));
    // (646 + 646) us x 4 with the maximum conversion times.
    assert_eq!(config.sample_period(), Duration::from_micros(5_168));
}

#[test]
fn ina226_default_sample_period_is_under_10_ms() {
    let config = Ina226Config::builder(REFERENCE_SHUNT, REFERENCE_SUPPLY)
        .build()
        .unwrap();

    // 4 x (1.1 + 1.1) ms typical, 4 x (1.21 + 1.21) ms at most.
    assert_eq!(config.typical_sample_period(), Duration::from_micros(8_800));
    assert_eq!(config.sample_period(), Duration::from_micros(9_680));
    assert_eq!(config.configuration_register(), 0x4327);
}
