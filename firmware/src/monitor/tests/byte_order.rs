//! Register words are assembled most significant byte first, on every path.

use embedded_hal::i2c::{ErrorKind, ErrorType, I2c, Operation};

use super::common::{self, read};
use crate::monitor::ina219::registers::decode_bus_voltage;
use crate::monitor::register::{self, Register};
use crate::monitor::{Address, Ina219, Ina219Config, MicroOhms, Microamps, Monitor};
use crate::units::{Milliamps, Millivolts};

/// A bus that returns the same two bytes for every read.
struct FixedReply([u8; 2]);

impl ErrorType for FixedReply {
    type Error = ErrorKind;
}

impl I2c for FixedReply {
    fn transaction(
        &mut self,
        _address: u8,
        operations: &mut [Operation<'_>],
    ) -> Result<(), ErrorKind> {
        for operation in operations {
            if let Operation::Read(buffer) = operation {
                buffer.copy_from_slice(&self.0);
            }
        }
        Ok(())
    }
}

#[test]
fn every_byte_pair_reads_most_significant_first() {
    // The register module is the only place where wire bytes become a word; checking every
    // possible pair shows no input can come out little-endian.
    for high in 0..=u8::MAX {
        for low in 0..=u8::MAX {
            let mut bus = FixedReply([high, low]);
            let word = register::read(&mut bus, Address::DEFAULT, Register(0x02)).unwrap();
            assert_eq!(
                word,
                u16::from(high) << 8 | u16::from(low),
                "bytes {high:02X} {low:02X}"
            );
        }
    }
}

#[test]
fn bytes_27_12_read_5000_mv() {
    let config = Ina219Config::builder(MicroOhms(100_000), Milliamps(2_000))
        .current_lsb(Microamps(100))
        .build()
        .unwrap();
    let transfers = [
        read(0x02, [0x27, 0x12]),
        read(0x01, [0x00, 0x00]),
        read(0x04, [0x00, 0x00]),
        read(0x03, [0x00, 0x00]),
        read(0x05, [0x10, 0x00]),
    ];
    let mut monitor = Ina219::new(common::bus(&transfers), common::address(), config);

    let reading = monitor.read().unwrap();

    assert_eq!(reading.bus, Millivolts(5_000));
    // The little-endian word 0x1227 would have decoded as a false brown-out.
    assert_eq!(decode_bus_voltage(0x1227).voltage, Millivolts(2_320));
    assert_ne!(reading.bus, Millivolts(2_320));
    monitor.release().done();
}
