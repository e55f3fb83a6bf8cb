//! The simulated I2C bus: devices at 7-bit addresses, behind `embedded_hal::i2c::I2c`.
//!
//! A transaction locks the world for its whole length, so no other part of the simulation
//! moves between the pointer write and the read of a register. An address with no device,
//! or a device that is set not to acknowledge, fails with
//! [`ErrorKind::NoAcknowledge`]`(`[`NoAcknowledgeSource::Address`]`)`, as a real controller
//! reports a missing device.

use std::fmt;

use embedded_hal::i2c::{self, ErrorKind, NoAcknowledgeSource, Operation, SevenBitAddress};
use picluster_firmware::units::Instant;

use crate::rail::RailHistory;
use crate::world::World;

/// The part of the world a device reads during a transfer.
#[derive(Clone, Copy, Debug)]
pub struct BusContext<'a> {
    /// The world's time.
    pub now: Instant,
    /// The supply rail's history, for monitor chips.
    pub rail: &'a RailHistory,
}

/// A device on the simulated bus.
///
/// A write hands over every byte the controller sent in one write operation; a read fills
/// the whole buffer. Devices never fail a transfer themselves: the bus decides acknowledges.
pub trait I2cDevice: Send + fmt::Debug {
    /// Takes the bytes of one write operation.
    fn write(&mut self, context: &BusContext<'_>, bytes: &[u8]);

    /// Fills `buffer` for one read operation.
    fn read(&mut self, context: &BusContext<'_>, buffer: &mut [u8]);

    /// Takes a write operation, then fills `buffer` for the read that follows it after a
    /// repeated start: a register read. The bus calls it once instead of calling
    /// [`write`](Self::write) and [`read`](Self::read) through the trait object in turn.
    fn write_read(&mut self, context: &BusContext<'_>, bytes: &[u8], buffer: &mut [u8]) {
        self.write(context, bytes);
        self.read(context, buffer);
    }

    /// Returns every register to its power-on value, as a supply glitch on the chip does.
    fn power_on_reset(&mut self, now: Instant);

    /// Makes reads of `register` return `value` (`Some`) or the real value again (`None`).
    fn set_stuck_register(&mut self, register: u8, value: Option<u16>);

    /// Inverts bit `bit` of every read of `register` (`true`) or stops doing so (`false`).
    fn set_flipped_bit(&mut self, register: u8, bit: u8, flipped: bool);
}

/// A fault to inject into a device on the bus.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceFault {
    /// The device stops acknowledging its address.
    NoAcknowledge,
    /// The device acknowledges again.
    Acknowledge,
    /// The device returns to its power-on defaults once, now.
    Reset,
    /// Reads of a register return a fixed value.
    StuckRegister {
        /// The register pointer.
        register: u8,
        /// The value every read returns.
        value: u16,
    },
    /// One bit of a register reads inverted.
    FlippedBit {
        /// The register pointer.
        register: u8,
        /// The bit, 0 to 15.
        bit: u8,
    },
    /// Every stuck register and flipped bit of the device is cleared.
    ClearRegisterFaults,
}

/// A failed I2C transfer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("I2C transfer to 0x{address:02X} failed: {kind}")]
pub struct I2cError {
    /// The address addressed.
    pub address: u8,
    /// The failure, in embedded-hal's terms.
    pub kind: ErrorKind,
}

impl i2c::Error for I2cError {
    fn kind(&self) -> ErrorKind {
        self.kind
    }
}

/// A device and its acknowledge state.
#[derive(Debug)]
pub(crate) struct DeviceSlot {
    pub device: Box<dyn I2cDevice>,
    pub acknowledges: bool,
    /// Register faults set, so they can be cleared together.
    pub register_faults: Vec<(u8, Option<u8>)>,
}

impl DeviceSlot {
    pub fn new(device: Box<dyn I2cDevice>) -> Self {
        Self {
            device,
            acknowledges: true,
            register_faults: Vec::new(),
        }
    }

    pub fn inject(&mut self, now: Instant, fault: DeviceFault) {
        match fault {
            DeviceFault::NoAcknowledge => self.acknowledges = false,
            DeviceFault::Acknowledge => self.acknowledges = true,
            DeviceFault::Reset => self.device.power_on_reset(now),
            DeviceFault::StuckRegister { register, value } => {
                self.device.set_stuck_register(register, Some(value));
                self.register_faults.push((register, None));
            }
            DeviceFault::FlippedBit { register, bit } => {
                self.device.set_flipped_bit(register, bit, true);
                self.register_faults.push((register, Some(bit)));
            }
            DeviceFault::ClearRegisterFaults => {
                for (register, bit) in self.register_faults.drain(..) {
                    match bit {
                        None => self.device.set_stuck_register(register, None),
                        Some(bit) => self.device.set_flipped_bit(register, bit, false),
                    }
                }
            }
        }
    }
}

/// A handle on the world's I2C bus; clones address the same bus.
#[derive(Clone, Debug)]
pub struct SimI2c {
    world: World,
}

impl SimI2c {
    pub(crate) fn new(world: World) -> Self {
        Self { world }
    }
}

impl i2c::ErrorType for SimI2c {
    type Error = I2cError;
}

impl i2c::I2c<SevenBitAddress> for SimI2c {
    fn transaction(
        &mut self,
        address: SevenBitAddress,
        operations: &mut [Operation<'_>],
    ) -> Result<(), Self::Error> {
        self.world
            .with_state(|state| state.i2c_transaction(address, operations))
    }

    // The drivers read every register this way; one call to the device saves a loop over
    // operations and a call through the trait object per read.
    fn write_read(
        &mut self,
        address: SevenBitAddress,
        write: &[u8],
        read: &mut [u8],
    ) -> Result<(), Self::Error> {
        self.world
            .with_state(|state| state.i2c_write_read(address, write, read))
    }
}

/// Runs one transaction against the devices; the world calls it with its lock held.
pub(crate) fn transact(
    slot: Option<&mut DeviceSlot>,
    context: &BusContext<'_>,
    address: u8,
    operations: &mut [Operation<'_>],
) -> Result<(), I2cError> {
    let slot = acknowledging(slot, address)?;
    for operation in operations {
        match operation {
            Operation::Write(bytes) => slot.device.write(context, bytes),
            Operation::Read(buffer) => slot.device.read(context, buffer),
        }
    }
    Ok(())
}

/// Runs a write and a read after a repeated start, the transaction [`transact`] runs for a
/// write operation followed by a read operation.
pub(crate) fn write_read(
    slot: Option<&mut DeviceSlot>,
    context: &BusContext<'_>,
    address: u8,
    bytes: &[u8],
    buffer: &mut [u8],
) -> Result<(), I2cError> {
    let slot = acknowledging(slot, address)?;
    slot.device.write_read(context, bytes, buffer);
    Ok(())
}

/// Returns the device at `address` if it acknowledges its address.
fn acknowledging(slot: Option<&mut DeviceSlot>, address: u8) -> Result<&mut DeviceSlot, I2cError> {
    match slot {
        Some(slot) if slot.acknowledges => Ok(slot),
        _ => Err(I2cError {
            address,
            kind: ErrorKind::NoAcknowledge(NoAcknowledgeSource::Address),
        }),
    }
}
