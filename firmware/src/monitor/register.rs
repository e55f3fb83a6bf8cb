//! Register transfers shared by both chips: a pointer byte, then a 16-bit word.
//!
//! This is the only place where bytes on the wire become a register word, so a little-endian
//! word can never reach a decoder. Both chips send and expect the most significant byte first.
//! For the INA219 see SBOS448G section 8.5.6. For the INA226 see the read and write description
//! in SBOS743B section 6.5.5.3, the INA226-Q1 datasheet, which shares the INA226's interface.

use embedded_hal::i2c::I2c;

use super::Address;

/// A register pointer, as the datasheets' register maps number them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Register(pub u8);

/// Reads a register: the pointer is written, then two bytes are read after a repeated start.
pub(crate) fn read<I: I2c>(
    i2c: &mut I,
    address: Address,
    register: Register,
) -> Result<u16, I::Error> {
    let mut bytes = [0; 2];
    i2c.write_read(address.get(), &[register.0], &mut bytes)?;
    Ok(u16::from_be_bytes(bytes))
}

/// Writes a register in one transfer: pointer, most significant byte, least significant byte.
pub(crate) fn write<I: I2c>(
    i2c: &mut I,
    address: Address,
    register: Register,
    value: u16,
) -> Result<(), I::Error> {
    let [high, low] = value.to_be_bytes();
    i2c.write(address.get(), &[register.0, high, low])
}
