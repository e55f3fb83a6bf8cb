//! INA226 transfers, identity check, decoding, overflow, alert and reset handling.

extern crate std;

use embedded_hal::i2c::{ErrorKind, NoAcknowledgeSource};
use embedded_hal_mock::eh1::i2c::{Mock, Transaction};

use super::common::{self, ADDRESS, REFERENCE_SHUNT, REFERENCE_SUPPLY, read, write};
use crate::monitor::ina226::Averaging;
use crate::monitor::ina226::registers::{decode_bus_voltage, decode_shunt_voltage};
use crate::monitor::scale;
use crate::monitor::{Counters, Ina226, Ina226Config, MicroOhms, Microamps, Monitor};
use crate::monitor::{MonitorError, Reading};
use crate::units::{Microvolts, Milliamps, Millivolts, Milliwatts};

/// SBOS547 Table 1: 2 milliohm shunt, 1 mA current LSB, power-on averaging and conversion
/// times.
fn table1_config() -> Ina226Config {
    Ina226Config::builder(MicroOhms(2_000), Milliamps(10_000))
        .current_lsb(Microamps(1_000))
        .averaging(Averaging::Samples1)
        .build()
        .unwrap()
}

fn monitor(transfers: &[Transaction]) -> Ina226<Mock> {
    Ina226::new(common::bus(transfers), common::address(), table1_config())
}

/// Returns the writes that init makes for `table1_config`, which has no alert.
fn table1_settings() -> [Transaction; 4] {
    [
        write(0x00, [0x41, 0x27]),
        write(0x05, [0x0A, 0x00]),
        write(0x07, [0x00, 0x00]),
        write(0x06, [0x00, 0x00]),
    ]
}

/// Returns the transfers of one read: Mask/Enable, shunt, bus, current, power, calibration.
fn sample(flags: [u8; 2], shunt: [u8; 2], bus: [u8; 2], current: [u8; 2]) -> [Transaction; 6] {
    [
        read(0x06, flags),
        read(0x01, shunt),
        read(0x02, bus),
        read(0x04, current),
        read(0x03, [0x12, 0xB8]),
        read(0x05, [0x0A, 0x00]),
    ]
}

#[test]
fn init_checks_identity_then_writes_settings() {
    let mut transfers = std::vec![
        Transaction::write_read(ADDRESS, std::vec![0xFE], std::vec![0x54, 0x49]),
        Transaction::write_read(ADDRESS, std::vec![0xFF], std::vec![0x22, 0x60]),
    ];
    transfers.extend(table1_settings());
    let mut monitor = monitor(&transfers);

    monitor.init().unwrap();

    monitor.release().done();
}

#[test]
fn init_rejects_other_die_without_writing() {
    // The die ID of another part.
    let transfers = [read(0xFE, [0x54, 0x49]), read(0xFF, [0x22, 0x70])];
    let mut monitor = monitor(&transfers);

    let result = monitor.init();

    assert_eq!(
        result,
        Err(MonitorError::UnexpectedDevice {
            address: 0x40,
            manufacturer_id: 0x5449,
            die_id: 0x2270,
        })
    );
    monitor.release().done();
}

#[test]
fn init_rejects_other_manufacturer() {
    let transfers = [read(0xFE, [0x00, 0x00]), read(0xFF, [0x22, 0x60])];
    let mut monitor = monitor(&transfers);

    let error = monitor.init().unwrap_err();

    assert_eq!(
        error,
        MonitorError::UnexpectedDevice {
            address: 0x40,
            manufacturer_id: 0,
            die_id: 0x2260
        }
    );
    monitor.release().done();
}

/// SBOS547 Table 1 (10 A, 12 V, 2 milliohm): shunt 1F40h, bus 2570h, current 2710h and power
/// 12B8h give 20 mV, 11.98 V, 10 A and 119.82 W.
#[test]
fn table1_example_read_through_driver() {
    let transfers = sample([0x00, 0x08], [0x1F, 0x40], [0x25, 0x70], [0x27, 0x10]);
    let mut monitor = monitor(&transfers);

    let reading = monitor.read().unwrap();

    assert_eq!(
        reading,
        Reading {
            bus: Millivolts(11_980),
            shunt: Microvolts(20_000),
            current: Some(Milliamps(10_000)),
            // 4792 x 25 mW = 119.8 W (the table rounds to 119.82 W).
            power: Some(Milliwatts(119_800)),
        }
    );
    assert!(!monitor.alert_flag());
    monitor.release().done();
}

#[test]
fn shunt_and_current_decode_signed() {
    // SBOS547: -80 mV is 8300h.
    assert_eq!(decode_shunt_voltage(0x8300), Microvolts(-80_000));
    assert_eq!(decode_shunt_voltage(0xFFFF), Microvolts(-3));
    assert_eq!(scale::current(0xFFFF, Microamps(1_000)), Microamps(-1_000));
    assert_eq!(
        scale::current(0x8000, Microamps(1_000)),
        Microamps(-32_768_000)
    );
}

#[test]
fn bus_register_ignores_bit_15() {
    assert_eq!(decode_bus_voltage(0x0FA0), Millivolts(5_000));
    assert_eq!(decode_bus_voltage(0x8FA0), Millivolts(5_000));
    // 3702 x 1.25 mV = 4627.5 mV, rounded up.
    assert_eq!(decode_bus_voltage(0x0E76), Millivolts(4_628));
}

#[test]
fn overflow_flag_drops_current_and_power() {
    // Mask/Enable with OVF (bit 2) set.
    let transfers = sample([0x00, 0x04], [0x1F, 0x40], [0x25, 0x70], [0x7F, 0xFF]);
    let mut monitor = monitor(&transfers);

    let reading = monitor.read().unwrap();

    assert_eq!(reading.bus, Millivolts(11_980));
    assert_eq!(reading.current, None);
    assert_eq!(reading.power, None);
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
fn alert_flag_follows_aff_bit() {
    // SOL enabled (bit 15) and AFF (bit 4) set.
    let transfers = sample([0x80, 0x10], [0x1F, 0x40], [0x25, 0x70], [0x27, 0x10]);
    let mut monitor = monitor(&transfers);

    monitor.read().unwrap();

    assert!(monitor.alert_flag());
    monitor.release().done();
}

#[test]
fn over_current_alert_init_bytes() {
    let config = Ina226Config::builder(REFERENCE_SHUNT, REFERENCE_SUPPLY)
        .over_current_alert(Milliamps(5_000))
        .build()
        .unwrap();
    let transfers = [
        read(0xFE, [0x54, 0x49]),
        read(0xFF, [0x22, 0x60]),
        // 4 averages, 1.1 ms conversions, continuous.
        write(0x00, [0x43, 0x27]),
        // 3103 = 0C1Fh.
        write(0x05, [0x0C, 0x1F]),
        // 20000 = 4E20h steps of 2.5 uV: 50 mV, 5 A through 10 milliohm.
        write(0x07, [0x4E, 0x20]),
        write(0x06, [0x80, 0x00]),
    ];
    let mut monitor = Ina226::new(common::bus(&transfers), common::address(), config);

    monitor.init().unwrap();

    monitor.release().done();
}

#[test]
fn reset_to_defaults_reinitialises_and_drops_sample() {
    let mut transfers = std::vec::Vec::new();
    transfers.extend(sample(
        [0x00, 0x00],
        [0x1F, 0x40],
        [0x25, 0x70],
        [0x00, 0x00],
    ));
    transfers[5] = read(0x05, [0x00, 0x00]);
    transfers.extend(table1_settings());
    let mut monitor = monitor(&transfers);

    let result = monitor.read();

    assert_eq!(
        result,
        Err(MonitorError::ResetDetected {
            written: 0x0A00,
            read: 0x0000
        })
    );
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
fn i2c_error_kind_is_preserved() {
    let overrun = ErrorKind::Overrun;
    let no_acknowledge = ErrorKind::NoAcknowledge(NoAcknowledgeSource::Data);
    let transfers = [
        read(0xFE, [0x00, 0x00]).with_error(no_acknowledge),
        read(0x06, [0x00, 0x00]).with_error(overrun),
    ];
    let mut monitor = monitor(&transfers);

    let init_error = monitor.init().unwrap_err();
    let read_error = monitor.read().unwrap_err();

    assert_eq!(init_error.i2c_kind(), Some(no_acknowledge));
    assert_eq!(read_error, MonitorError::I2c(overrun));
    monitor.release().done();
}
