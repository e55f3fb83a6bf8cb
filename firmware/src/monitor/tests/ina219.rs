//! INA219 transfers, decoding, overflow, conversion-ready and reset handling.

extern crate std;

use embedded_hal::i2c::{ErrorKind, NoAcknowledgeSource};
use embedded_hal_mock::eh1::i2c::{Mock, Transaction};

use super::common::{self, ADDRESS, REFERENCE_SHUNT, REFERENCE_SUPPLY, read, write};
use crate::monitor::ina219::registers::{decode_bus_voltage, decode_shunt_voltage};
use crate::monitor::ina219::{Adc, BusRange};
use crate::monitor::scale;
use crate::monitor::{Counters, Ina219, Ina219Config, MicroOhms, Microamps, Monitor};
use crate::monitor::{MonitorError, Reading};
use crate::units::{Microvolts, Milliamps, Millivolts, Milliwatts};

/// 0.1 ohm shunt with a 100 uA current LSB: Cal 4096, written as 10 00.
fn tenth_ohm_config() -> Ina219Config {
    Ina219Config::builder(MicroOhms(100_000), Milliamps(2_000))
        .current_lsb(Microamps(100))
        .bus_range(BusRange::Volts32)
        .bus_adc(Adc::Bits12)
        .shunt_adc(Adc::Bits12)
        .build()
        .unwrap()
}

fn monitor(transfers: &[Transaction]) -> Ina219<Mock> {
    Ina219::new(
        common::bus(transfers),
        common::address(),
        tenth_ohm_config(),
    )
}

/// Returns the transfers of one read: bus, shunt, current, power, calibration.
fn sample(bus: [u8; 2], shunt: [u8; 2], current: [u8; 2], power: [u8; 2]) -> [Transaction; 5] {
    [
        read(0x02, bus),
        read(0x01, shunt),
        read(0x04, current),
        read(0x03, power),
        read(0x05, [0x10, 0x00]),
    ]
}

#[test]
fn init_writes_calibration_4096_as_05_10_00() {
    // 32 V range, PGA /8, 12-bit ADCs, continuous: the chip's own power-on value 399Fh.
    let transfers = [
        Transaction::write(ADDRESS, std::vec![0x00, 0x39, 0x9F]),
        Transaction::write(ADDRESS, std::vec![0x05, 0x10, 0x00]),
    ];
    let mut monitor = monitor(&transfers);

    monitor.init().unwrap();

    monitor.release().done();
}

#[test]
fn signed_shunt_and_current_f9c0() {
    let transfers = sample([0x27, 0x12], [0xF9, 0xC0], [0xF9, 0xC0], [0x01, 0x90]);
    let mut monitor = monitor(&transfers);

    let reading = monitor.read().unwrap();

    assert_eq!(reading.shunt, Microvolts(-16_000));
    assert_eq!(reading.current, Some(Milliamps(-160)));
    // 400 x 2 mW.
    assert_eq!(reading.power, Some(Milliwatts(800)));
    monitor.release().done();
}

#[test]
fn current_ffff_is_minus_100_microamps() {
    assert_eq!(scale::current(0xFFFF, Microamps(100)), Microamps(-100));

    let transfers = sample([0x27, 0x12], [0xFF, 0xFF], [0xFF, 0xFF], [0x00, 0x00]);
    let mut monitor = monitor(&transfers);

    let reading = monitor.read().unwrap();

    // -0.1 mA rounds to 0 mA: a tiny reading, never 6553.5 mA.
    assert_eq!(reading.current, Some(Milliamps(0)));
    assert!(reading.current < Some(Milliamps(1)));
    assert_eq!(reading.shunt, Microvolts(-10));
    monitor.release().done();
}

#[test]
fn bus_2712_is_5000_mv_and_ready() {
    let bus = decode_bus_voltage(0x2712);

    assert_eq!(bus.voltage, Millivolts(5_000));
    assert!(bus.conversion_ready);
    assert!(!bus.math_overflow);
}

#[test]
fn bus_2713_overflow_drops_current_and_power() {
    let transfers = sample([0x27, 0x13], [0x7D, 0x00], [0x7F, 0xFF], [0xFF, 0xFF]);
    let mut monitor = monitor(&transfers);

    let reading = monitor.read().unwrap();

    assert_eq!(
        reading,
        Reading {
            bus: Millivolts(5_000),
            shunt: Microvolts(320_000),
            current: None,
            power: None,
        }
    );
    assert_eq!(
        monitor.counters(),
        Counters {
            dropped_samples: 1,
            reinitialisations: 0
        }
    );
    monitor.release().done();
}

#[test]
fn bus_2428_is_4628_mv() {
    let bus = decode_bus_voltage(0x2428);

    assert_eq!(bus.voltage, Millivolts(4_628));
    // The Pi flags under-voltage at about 4.63 V.
    assert!(bus.voltage < Millivolts(4_630));
    assert!(!bus.conversion_ready);
}

#[test]
fn bus_without_cnvr_is_not_ready() {
    let transfers = [read(0x02, [0x24, 0x28])];
    let mut monitor = monitor(&transfers);

    let result = monitor.read();

    assert_eq!(result, Err(MonitorError::NotReady));
    assert_eq!(monitor.counters(), Counters::default());
    monitor.release().done();
}

#[test]
fn bus_242a_reads_4628_mv() {
    let transfers = sample([0x24, 0x2A], [0x00, 0x00], [0x00, 0x00], [0x00, 0x00]);
    let mut monitor = monitor(&transfers);

    let reading = monitor.read().unwrap();

    assert_eq!(reading.bus, Millivolts(4_628));
    monitor.release().done();
}

/// SBOS448F Table 3 (10 A, 12 V, 2 milliohm): shunt 07D0h, bus 5D98h, current 2710h and power
/// 1766h give 20 mV, 11.98 V, 10.0 A and 119.8 W.
#[test]
fn table3_example_registers_decode_to_datasheet_values() {
    let bus = decode_bus_voltage(0x5D98);

    assert_eq!(decode_shunt_voltage(0x07D0), Microvolts(20_000));
    assert_eq!(bus.voltage, Millivolts(11_980));
    // The table shows the register with CNVR clear; a driver read would wait for it.
    assert!(!bus.conversion_ready);
    assert_eq!(
        scale::current(0x2710, Microamps(1_000)),
        Microamps(10_000_000)
    );
    assert_eq!(
        scale::power(0x1766, Microamps(1_000), 20),
        Milliwatts(119_800)
    );
}

#[test]
fn table3_example_read_through_driver() {
    let config = Ina219Config::builder(MicroOhms(2_000), Milliamps(10_000))
        .current_lsb(Microamps(1_000))
        .bus_adc(Adc::Bits12)
        .shunt_adc(Adc::Bits12)
        .build()
        .unwrap();
    let transfers = [
        write(0x00, [0x01, 0x9F]),
        write(0x05, [0x50, 0x00]),
        // 5D98h with CNVR set.
        read(0x02, [0x5D, 0x9A]),
        read(0x01, [0x07, 0xD0]),
        read(0x04, [0x27, 0x10]),
        read(0x03, [0x17, 0x66]),
        read(0x05, [0x50, 0x00]),
    ];
    let mut monitor = Ina219::new(common::bus(&transfers), common::address(), config);

    monitor.init().unwrap();
    let reading = monitor.read().unwrap();

    assert_eq!(
        reading,
        Reading {
            bus: Millivolts(11_980),
            shunt: Microvolts(20_000),
            current: Some(Milliamps(10_000)),
            power: Some(Milliwatts(119_800)),
        }
    );
    monitor.release().done();
}

#[test]
fn reset_to_defaults_reinitialises_and_drops_sample() {
    let mut transfers = std::vec::Vec::new();
    // The chip reset: power-on configuration, calibration 0000h, current and power zero.
    transfers.extend(sample(
        [0x27, 0x12],
        [0x00, 0x64],
        [0x00, 0x00],
        [0x00, 0x00],
    ));
    transfers[4] = read(0x05, [0x00, 0x00]);
    transfers.push(write(0x00, [0x39, 0x9F]));
    transfers.push(write(0x05, [0x10, 0x00]));
    // The next conversion is calibrated again.
    transfers.extend(sample(
        [0x27, 0x12],
        [0x00, 0x64],
        [0x00, 0x0A],
        [0x00, 0x19],
    ));
    let mut monitor = monitor(&transfers);

    let first = monitor.read();
    let second = monitor.read();

    assert_eq!(
        first,
        Err(MonitorError::ResetDetected {
            written: 0x1000,
            read: 0x0000
        })
    );
    assert_eq!(second.unwrap().current, Some(Milliamps(1)));
    assert_eq!(
        monitor.counters(),
        Counters {
            dropped_samples: 1,
            reinitialisations: 1
        }
    );
    monitor.release().done();
}

#[test]
fn failed_reinitialisation_keeps_error_kind() {
    let no_acknowledge = ErrorKind::NoAcknowledge(NoAcknowledgeSource::Address);
    let mut transfers = std::vec::Vec::new();
    transfers.extend(sample(
        [0x27, 0x12],
        [0x00, 0x00],
        [0x00, 0x00],
        [0x00, 0x00],
    ));
    transfers[4] = read(0x05, [0x00, 0x00]);
    transfers.push(write(0x00, [0x39, 0x9F]).with_error(no_acknowledge));
    let mut monitor = monitor(&transfers);

    let result = monitor.read();

    assert_eq!(result, Err(MonitorError::I2c(no_acknowledge)));
    assert_eq!(
        monitor.counters(),
        Counters {
            dropped_samples: 1,
            reinitialisations: 0
        }
    );
    monitor.release().done();
}

#[test]
fn i2c_error_kind_is_preserved() {
    let no_acknowledge = ErrorKind::NoAcknowledge(NoAcknowledgeSource::Address);
    let transfers = [read(0x02, [0x00, 0x00]).with_error(no_acknowledge)];
    let mut monitor = monitor(&transfers);

    let error = monitor.read().unwrap_err();

    assert_eq!(error, MonitorError::I2c(no_acknowledge));
    assert_eq!(error.i2c_kind(), Some(no_acknowledge));
    monitor.release().done();
}

#[test]
fn reference_config_sample_period_is_9376_us() {
    let config = Ina219Config::builder(REFERENCE_SHUNT, REFERENCE_SUPPLY)
        .build()
        .unwrap();
    let monitor = Ina219::new(common::bus(&[]), common::address(), config);

    assert_eq!(
        monitor.sample_period(),
        crate::units::Duration::from_micros(9_376)
    );
    monitor.release().done();
}
