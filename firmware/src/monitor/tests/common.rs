//! Transfers written as the bytes on the wire, so no test leans on the driver's byte order.

extern crate std;

use std::vec;

use embedded_hal_mock::eh1::i2c::{Mock, Transaction};

use crate::monitor::{Address, MicroOhms};
use crate::units::Milliamps;

/// Both straps to ground.
pub const ADDRESS: u8 = 0x40;

/// The reference cluster's shunt: 10 milliohm.
pub const REFERENCE_SHUNT: MicroOhms = MicroOhms(10_000);
/// The reference cluster's supply rating: 5.4 A.
pub const REFERENCE_SUPPLY: Milliamps = Milliamps(5_400);

/// Returns a register read: the pointer byte out, two bytes back (most significant first).
pub fn read(register: u8, bytes: [u8; 2]) -> Transaction {
    Transaction::write_read(ADDRESS, vec![register], vec![bytes[0], bytes[1]])
}

/// Returns a register write: the pointer byte, then two data bytes (most significant first).
pub fn write(register: u8, bytes: [u8; 2]) -> Transaction {
    Transaction::write(ADDRESS, vec![register, bytes[0], bytes[1]])
}

/// Returns a mock bus that expects exactly `transactions`, in order.
pub fn bus(transactions: &[Transaction]) -> Mock {
    Mock::new(transactions)
}

pub fn address() -> Address {
    Address::new(ADDRESS).unwrap()
}
