//! Register-level tests of both chip models, driven byte by byte as a controller would.

use picluster_firmware::monitor::MicroOhms;
use picluster_firmware::units::{Duration, Instant, Milliamps, Millivolts};

use super::{Ina219Model, Ina226Model, Shunt};
use crate::i2c::{BusContext, I2cDevice};
use crate::rail::RailHistory;

const TENTH_OHM: Shunt = Shunt {
    resistance: MicroOhms(100_000),
    gain_error_ppm: 0,
};

fn ms(millis: u64) -> Instant {
    Instant::from_millis(millis)
}

struct Bench {
    device: Box<dyn I2cDevice>,
    rail: RailHistory,
}

impl Bench {
    fn new(device: Box<dyn I2cDevice>, current_ma: i32, voltage_mv: i32) -> Self {
        let rail = RailHistory::new(ms(0), Milliamps(current_ma), Millivolts(voltage_mv));
        Self { device, rail }
    }

    fn write(&mut self, now: Instant, bytes: &[u8]) {
        let context = BusContext {
            now,
            rail: &self.rail,
        };
        self.device.write(&context, bytes);
    }

    fn read(&mut self, now: Instant, register: u8) -> [u8; 2] {
        self.write(now, &[register]);
        let context = BusContext {
            now,
            rail: &self.rail,
        };
        let mut bytes = [0; 2];
        self.device.read(&context, &mut bytes);
        bytes
    }

    fn word(&mut self, now: Instant, register: u8) -> u16 {
        u16::from_be_bytes(self.read(now, register))
    }
}

/// Configuration 019Fh: 16 V bus, PGA /1 (+-40 mV), 12-bit single conversions (532 us each),
/// continuous shunt and bus.
const INA219_FAST_40MV: [u8; 3] = [0x00, 0x01, 0x9F];

fn ina219(current_ma: i32, voltage_mv: i32) -> Bench {
    Bench::new(
        Ina219Model::new(TENTH_OHM, ms(0)).into_device(),
        current_ma,
        voltage_mv,
    )
}

#[test]
fn ina219_registers_read_most_significant_byte_first() {
    let mut chip = ina219(0, 5_000);
    assert_eq!(chip.read(ms(0), 0x00), [0x39, 0x9F]);
}

#[test]
fn ina219_calibration_drops_bit_zero() {
    let mut chip = ina219(0, 5_000);
    chip.write(ms(0), &[0x05, 0x10, 0x01]);
    assert_eq!(chip.word(ms(0), 0x05), 0x1000);
}

#[test]
fn ina219_negative_current_is_twos_complement() {
    // -160 mA through 0.1 ohm is -16.00 mV: 0xF9C0 in 10 uV steps; Cal 4096 makes the
    // current register the same count in 0.1 mA steps.
    let mut chip = ina219(-160, 5_000);
    chip.write(ms(0), &INA219_FAST_40MV);
    chip.write(ms(0), &[0x05, 0x10, 0x00]);
    assert_eq!(chip.word(ms(2), 0x01), 0xF9C0);
    assert_eq!(chip.word(ms(2), 0x04), 0xF9C0);
}

#[test]
fn ina219_calibration_write_applies_to_newest_conversion() {
    // -160 mA through 0.1 ohm: the shunt register counts -1600; Cal 4096 gives a current
    // register of the same count, Cal 8192 twice that.
    let mut chip = ina219(-160, 5_000);
    chip.write(ms(0), &INA219_FAST_40MV);
    chip.write(ms(0), &[0x05, 0x10, 0x00]);
    assert_eq!(chip.word(ms(2), 0x04) as i16, -1_600);
    chip.write(ms(2), &[0x05, 0x20, 0x00]);
    assert_eq!(chip.word(ms(2), 0x04) as i16, -3_200);
}

#[test]
fn ina219_bus_register_carries_voltage_and_ready_flag() {
    let mut chip = ina219(0, 5_000);
    chip.write(ms(0), &INA219_FAST_40MV);
    assert_eq!(chip.word(ms(2), 0x02), 0x2712);
}

#[test]
fn ina219_power_read_clears_ready_until_next_conversion() {
    let mut chip = ina219(100, 5_000);
    chip.write(ms(0), &INA219_FAST_40MV);
    chip.write(ms(0), &[0x05, 0x10, 0x00]);
    assert_eq!(chip.word(ms(2), 0x02) & 0b10, 0b10);
    chip.word(ms(2), 0x03);
    assert_eq!(chip.word(ms(2), 0x02) & 0b10, 0);
    // One conversion takes 2 x 532 us.
    let next = ms(2) + Duration::from_micros(1_064);
    assert_eq!(chip.word(next, 0x02) & 0b10, 0b10);
}

#[test]
fn ina219_no_result_before_first_conversion() {
    let mut chip = ina219(100, 5_000);
    chip.write(ms(10), &INA219_FAST_40MV);
    assert_eq!(chip.word(ms(10), 0x02), 0);
    assert_eq!(chip.word(ms(10) + Duration::from_micros(1_063), 0x02), 0);
}

#[test]
fn ina219_drop_past_pga_range_sets_overflow() {
    // 500 mA through 0.1 ohm is 50 mV, past the +-40 mV range of PGA /1.
    let mut chip = ina219(500, 5_000);
    chip.write(ms(0), &INA219_FAST_40MV);
    chip.write(ms(0), &[0x05, 0x10, 0x00]);
    let bus = chip.word(ms(2), 0x02);
    assert_eq!(bus & 1, 1);
    assert_eq!(chip.word(ms(2), 0x01), 4_000);
}

#[test]
fn ina219_wider_pga_measures_the_same_drop() {
    // PGA /2 (+-80 mV): configuration 0x099F.
    let mut chip = ina219(500, 5_000);
    chip.write(ms(0), &[0x00, 0x09, 0x9F]);
    chip.write(ms(0), &[0x05, 0x10, 0x00]);
    assert_eq!(chip.word(ms(2), 0x02) & 1, 0);
    assert_eq!(chip.word(ms(2), 0x01), 5_000);
    assert_eq!(chip.word(ms(2), 0x04), 5_000);
}

#[test]
fn ina219_power_is_current_times_bus_over_5000() {
    let mut chip = ina219(500, 5_050);
    chip.write(ms(0), &[0x00, 0x09, 0x9F]);
    chip.write(ms(0), &[0x05, 0x10, 0x00]);
    // Bus at IN-: 5050 mV - 50 mV = 5000 mV = 1250 LSB; power = 5000 x 1250 / 5000.
    assert_eq!(chip.word(ms(2), 0x02) >> 3, 1_250);
    assert_eq!(chip.word(ms(2), 0x03), 1_250);
}

#[test]
fn ina219_averaging_spreads_a_spike_over_its_window() {
    // 128 averages of both channels: 2 x 68.1 ms per result.
    let mut chip = ina219(100, 5_000);
    chip.write(ms(0), &[0x00, 0x0F, 0xFF]);
    chip.write(ms(0), &[0x05, 0x10, 0x00]);
    chip.rail
        .record(ms(10), Milliamps(1_100), Millivolts(5_000));
    chip.rail.record(ms(15), Milliamps(100), Millivolts(5_000));
    let end = Instant::from_micros(136_200);
    // Mean: 100 mA plus 1000 mA for 5 ms of 136.2 ms, about 136.7 mA, or 1367 LSBs.
    assert_eq!(chip.word(end, 0x01), 1_367);
    assert_eq!(chip.word(end - Duration::from_micros(1), 0x01), 0);
}

#[test]
fn ina219_reset_bit_restores_power_on_defaults() {
    let mut chip = ina219(100, 5_000);
    chip.write(ms(0), &INA219_FAST_40MV);
    chip.write(ms(0), &[0x05, 0x10, 0x00]);
    chip.write(ms(1), &[0x00, 0x80, 0x00]);
    assert_eq!(chip.word(ms(1), 0x00), 0x399F);
    assert_eq!(chip.word(ms(1), 0x05), 0);
}

#[test]
fn ina219_power_on_reset_fault_clears_calibration() {
    let mut chip = ina219(100, 5_000);
    chip.write(ms(0), &[0x05, 0x10, 0x00]);
    chip.device.power_on_reset(ms(1));
    assert_eq!(chip.word(ms(1), 0x05), 0);
}

#[test]
fn stuck_register_returns_fixed_value() {
    let mut chip = ina219(100, 5_000);
    chip.device.set_stuck_register(0x02, Some(0x2713));
    assert_eq!(chip.word(ms(5), 0x02), 0x2713);
    chip.device.set_stuck_register(0x02, None);
    assert_ne!(chip.word(ms(5), 0x02), 0x2713);
}

#[test]
fn flipped_bit_inverts_one_bit() {
    let mut chip = ina219(0, 5_000);
    chip.device.set_flipped_bit(0x00, 15, true);
    assert_eq!(chip.word(ms(0), 0x00), 0x399F | 0x8000);
    chip.device.set_flipped_bit(0x00, 15, false);
    assert_eq!(chip.word(ms(0), 0x00), 0x399F);
}

#[test]
fn extra_read_bytes_are_ones() {
    let mut chip = ina219(0, 5_000);
    chip.write(ms(0), &[0x00]);
    let context = BusContext {
        now: ms(0),
        rail: &chip.rail,
    };
    let mut bytes = [0; 4];
    chip.device.read(&context, &mut bytes);
    assert_eq!(bytes, [0x39, 0x9F, 0xFF, 0xFF]);
}

fn ina226(current_ma: i32, voltage_mv: i32) -> Bench {
    let shunt = Shunt {
        resistance: MicroOhms(10_000),
        gain_error_ppm: 0,
    };
    Bench::new(
        Ina226Model::new(shunt, ms(0)).into_device(),
        current_ma,
        voltage_mv,
    )
}

#[test]
fn ina226_identifies_itself() {
    let mut chip = ina226(0, 5_000);
    assert_eq!(chip.word(ms(0), 0xFE), 0x5449);
    assert_eq!(chip.word(ms(0), 0xFF), 0x2260);
    assert_eq!(chip.word(ms(0), 0x00), 0x4127);
}

#[test]
fn ina226_converts_shunt_bus_and_current() {
    // 2 A through 10 mOhm = 20 mV = 8000 LSB of 2.5 uV; bus 5020 - 20 = 5000 mV = 4000 LSB.
    // Cal 2048 makes the current register equal to the shunt register.
    let mut chip = ina226(2_000, 5_020);
    chip.write(ms(0), &[0x05, 0x08, 0x00]);
    let after = ms(3);
    assert_eq!(chip.word(after, 0x01), 8_000);
    assert_eq!(chip.word(after, 0x02), 4_000);
    assert_eq!(chip.word(after, 0x04), 8_000);
    // Power = 8000 x 4000 / 20000.
    assert_eq!(chip.word(after, 0x03), 1_600);
}

#[test]
fn ina226_calibration_write_applies_to_newest_conversion() {
    // 2 A through 10 mOhm counts 8000 in the shunt register; Cal 2048 copies it into the
    // current register and Cal 1024 halves it.
    let mut chip = ina226(2_000, 5_020);
    chip.write(ms(0), &[0x05, 0x08, 0x00]);
    assert_eq!(chip.word(ms(3), 0x04), 8_000);
    chip.write(ms(3), &[0x05, 0x04, 0x00]);
    assert_eq!(chip.word(ms(3), 0x04), 4_000);
}

#[test]
fn ina226_mask_enable_read_clears_conversion_ready() {
    let mut chip = ina226(100, 5_000);
    // Default conversion: (1.1 ms + 1.1 ms) x 1 average.
    assert_eq!(chip.word(ms(3), 0x06) & 0x08, 0x08);
    assert_eq!(chip.word(ms(3), 0x06) & 0x08, 0);
    assert_eq!(chip.word(ms(5), 0x06) & 0x08, 0x08);
}

#[test]
fn ina226_averaging_lengthens_the_period() {
    // AVG = 16 (010): 16 x 2.2 ms = 35.2 ms per result.
    let mut chip = ina226(100, 5_000);
    chip.write(ms(0), &[0x00, 0x45, 0x27]);
    assert_eq!(chip.word(Instant::from_micros(35_199), 0x06) & 0x08, 0);
    assert_eq!(chip.word(Instant::from_micros(35_200), 0x06) & 0x08, 0x08);
}

#[test]
fn ina226_shunt_over_limit_sets_alert_flag() {
    let mut chip = ina226(3_000, 5_000);
    chip.write(ms(0), &[0x05, 0x08, 0x00]);
    // Alert when the shunt register exceeds 10000 LSB (25 mV, 2.5 A here).
    chip.write(ms(0), &[0x07, 0x27, 0x10]);
    chip.write(ms(0), &[0x06, 0x80, 0x00]);
    let flags = chip.word(ms(3), 0x06);
    assert_eq!(flags & 0x10, 0x10);
    assert_eq!(flags & 0x8000, 0x8000);
}

#[test]
fn ina226_current_overflow_sets_math_overflow() {
    // 8000 LSB x Cal 0x7FFF / 2048 is far past 32767.
    let mut chip = ina226(2_000, 5_020);
    chip.write(ms(0), &[0x05, 0x7F, 0xFF]);
    assert_eq!(chip.word(ms(3), 0x06) & 0x04, 0x04);
}

#[test]
fn ina226_configuration_keeps_fixed_bits() {
    let mut chip = ina226(0, 5_000);
    chip.write(ms(0), &[0x00, 0x01, 0x27]);
    assert_eq!(chip.word(ms(0), 0x00), 0x4127);
}

#[test]
fn round_half_away_matches_f64_round() {
    let values = [
        0.0,
        -0.0,
        0.49999999999999994,
        0.5,
        -0.5,
        1.5,
        -1.5,
        2.5,
        -2.4999999999999996,
        4_503_599_627_370_495.5,
        -4_503_599_627_370_497.0,
        1e300,
        -1e300,
        f64::NAN,
    ];
    for value in values {
        assert_eq!(
            super::round_half_away(value),
            value.round() as i64,
            "{value}"
        );
    }
}
