//! An `embedded_hal::i2c::I2c` bus carried over SMBus transfers, for adapters that offer only
//! SMBus (`i2c_mode = "smbus"`), such as the kernel's i2c-stub and some USB bridges.
//!
//! The INA drivers speak plain I2C: a register pointer write, then two bytes read after a
//! repeated start, most significant byte first. SMBus "read word data" sends the same bytes on
//! the wire but hands them back as a little-endian word: the first byte received is the least
//! significant. The adapter therefore turns the word back into the bytes as they travelled,
//! and the driver assembles them big-endian as it does on any bus. The kernel's own ina2xx
//! driver swaps the same way. A register read as 27 12 on the wire arrives as SMBus word
//! 0x1227 and leaves the adapter as bytes 27 12, 0x2712 = 5.000 V on an INA219.
//!
//! Transfers that SMBus cannot express (more than two data bytes, or a read without a
//! register pointer first, other than one byte) fail with [`ErrorKind::Other`].

use std::fmt;

use embedded_hal::i2c::{ErrorKind, ErrorType, I2c, NoAcknowledgeSource, Operation};
use i2cdev::core::I2CDevice;
use i2cdev::linux::{LinuxI2CDevice, LinuxI2CError};
use nix::errno::Errno;

/// The SMBus transfers the adapter uses, as a device bound to one address offers them.
pub trait SmbusDevice {
    /// Selects the device that later transfers address.
    fn set_address(&mut self, address: u8) -> Result<(), Errno>;
    /// SMBus "receive byte".
    fn read_byte(&mut self) -> Result<u8, Errno>;
    /// SMBus "send byte".
    fn write_byte(&mut self, value: u8) -> Result<(), Errno>;
    /// SMBus "read byte data".
    fn read_byte_data(&mut self, register: u8) -> Result<u8, Errno>;
    /// SMBus "write byte data".
    fn write_byte_data(&mut self, register: u8, value: u8) -> Result<(), Errno>;
    /// SMBus "read word data": the first byte on the wire is the word's low byte.
    fn read_word_data(&mut self, register: u8) -> Result<u16, Errno>;
    /// SMBus "write word data": the word's low byte goes first on the wire.
    fn write_word_data(&mut self, register: u8, word: u16) -> Result<(), Errno>;
}

/// Returns the two data bytes in wire order for an SMBus word.
pub fn wire_bytes_of_word(word: u16) -> [u8; 2] {
    word.to_le_bytes()
}

/// Returns the SMBus word that sends `bytes` in this order on the wire.
pub fn word_of_wire_bytes(bytes: [u8; 2]) -> u16 {
    u16::from_le_bytes(bytes)
}

/// An I2C bus over SMBus transfers; see the module documentation.
#[derive(Debug)]
pub struct SmbusI2c<D> {
    device: D,
    address: Option<u8>,
}

impl<D: SmbusDevice> SmbusI2c<D> {
    /// Wraps `device`; the first transfer selects its address.
    pub fn new(device: D) -> Self {
        Self {
            device,
            address: None,
        }
    }

    /// Returns the device, ending the adapter.
    pub fn release(self) -> D {
        self.device
    }

    fn select(&mut self, address: u8) -> Result<(), SmbusError> {
        if self.address != Some(address) {
            self.device.set_address(address).map_err(SmbusError::Os)?;
            self.address = Some(address);
        }
        Ok(())
    }

    fn run(&mut self, operations: &mut [Operation<'_>]) -> Result<(), SmbusError> {
        match operations {
            [Operation::Write([register]), Operation::Read(buffer)] => {
                self.read_register(*register, buffer)
            }
            [Operation::Write(bytes)] => self.write_bytes(bytes),
            [Operation::Read([byte])] => {
                *byte = self.device.read_byte().map_err(SmbusError::Os)?;
                Ok(())
            }
            _ => Err(SmbusError::Unsupported),
        }
    }

    fn read_register(&mut self, register: u8, buffer: &mut [u8]) -> Result<(), SmbusError> {
        match buffer {
            [byte] => {
                *byte = self
                    .device
                    .read_byte_data(register)
                    .map_err(SmbusError::Os)?
            }
            [first, second] => {
                let word = self
                    .device
                    .read_word_data(register)
                    .map_err(SmbusError::Os)?;
                [*first, *second] = wire_bytes_of_word(word);
            }
            _ => return Err(SmbusError::Unsupported),
        }
        Ok(())
    }

    fn write_bytes(&mut self, bytes: &[u8]) -> Result<(), SmbusError> {
        let result = match *bytes {
            [value] => self.device.write_byte(value),
            [register, value] => self.device.write_byte_data(register, value),
            [register, first, second] => self
                .device
                .write_word_data(register, word_of_wire_bytes([first, second])),
            _ => return Err(SmbusError::Unsupported),
        };
        result.map_err(SmbusError::Os)
    }
}

impl<D: SmbusDevice> ErrorType for SmbusI2c<D> {
    type Error = SmbusError;
}

impl<D: SmbusDevice> I2c for SmbusI2c<D> {
    fn transaction(
        &mut self,
        address: u8,
        operations: &mut [Operation<'_>],
    ) -> Result<(), Self::Error> {
        self.select(address)?;
        self.run(operations)
    }
}

/// A failed SMBus transfer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmbusError {
    /// The kernel returned this error number.
    Os(Errno),
    /// The transfer has a shape that SMBus cannot carry.
    Unsupported,
}

impl fmt::Display for SmbusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SmbusError::Os(errno) => write!(f, "SMBus transfer failed: {}", errno.desc()),
            SmbusError::Unsupported => f.write_str(
                "the transfer cannot be carried by SMBus; set i2c_mode = \"i2c\" if the adapter \
                 supports plain I2C transfers",
            ),
        }
    }
}

impl std::error::Error for SmbusError {}

impl embedded_hal::i2c::Error for SmbusError {
    fn kind(&self) -> ErrorKind {
        match self {
            SmbusError::Os(errno) => i2c_error_kind(*errno),
            SmbusError::Unsupported => ErrorKind::Other,
        }
    }
}

/// Maps an i2c-dev error number onto the embedded-hal error kind, after the kernel's I2C
/// fault codes: ENXIO for an address without an acknowledge, EAGAIN for a lost arbitration,
/// EBUSY and EIO for bus errors. The Pi's bcm2835 adapter reports any missing acknowledge as
/// EREMOTEIO, without saying in which phase.
pub fn i2c_error_kind(errno: Errno) -> ErrorKind {
    match errno {
        Errno::ENXIO => ErrorKind::NoAcknowledge(NoAcknowledgeSource::Address),
        Errno::EREMOTEIO => ErrorKind::NoAcknowledge(NoAcknowledgeSource::Unknown),
        Errno::EAGAIN => ErrorKind::ArbitrationLoss,
        Errno::EBUSY | Errno::EIO => ErrorKind::Bus,
        _ => ErrorKind::Other,
    }
}

fn errno_of(error: LinuxI2CError) -> Errno {
    match error {
        LinuxI2CError::Errno(number) => Errno::from_raw(number),
        LinuxI2CError::Io(error) => Errno::from_raw(error.raw_os_error().unwrap_or(0)),
    }
}

impl SmbusDevice for LinuxI2CDevice {
    fn set_address(&mut self, address: u8) -> Result<(), Errno> {
        self.set_slave_address(u16::from(address)).map_err(errno_of)
    }

    fn read_byte(&mut self) -> Result<u8, Errno> {
        self.smbus_read_byte().map_err(errno_of)
    }

    fn write_byte(&mut self, value: u8) -> Result<(), Errno> {
        self.smbus_write_byte(value).map_err(errno_of)
    }

    fn read_byte_data(&mut self, register: u8) -> Result<u8, Errno> {
        self.smbus_read_byte_data(register).map_err(errno_of)
    }

    fn write_byte_data(&mut self, register: u8, value: u8) -> Result<(), Errno> {
        self.smbus_write_byte_data(register, value)
            .map_err(errno_of)
    }

    fn read_word_data(&mut self, register: u8) -> Result<u16, Errno> {
        self.smbus_read_word_data(register).map_err(errno_of)
    }

    fn write_word_data(&mut self, register: u8, word: u16) -> Result<(), Errno> {
        self.smbus_write_word_data(register, word).map_err(errno_of)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeMap;

    use picluster_firmware::monitor::{Address, Ina219, Ina219Config, MicroOhms, Monitor};
    use picluster_firmware::units::{Milliamps, Millivolts};

    use super::*;

    /// A model of the kernel's i2c-stub: one device whose word registers store SMBus words as
    /// they were written, the first byte on the wire in the low half.
    #[derive(Debug, Default)]
    pub(crate) struct StubDevice {
        pub(crate) address: Option<u8>,
        pub(crate) words: BTreeMap<u8, u16>,
        pub(crate) pointer: u8,
    }

    impl StubDevice {
        /// Stores a register as an INA chip sends it: most significant byte first on the wire.
        pub(crate) fn set_register(&mut self, register: u8, value: u16) {
            self.words
                .insert(register, word_of_wire_bytes(value.to_be_bytes()));
        }

        /// Returns a register as an INA chip would have received it.
        pub(crate) fn register(&self, register: u8) -> u16 {
            let word = self.words.get(&register).copied().unwrap_or(0);
            u16::from_be_bytes(wire_bytes_of_word(word))
        }
    }

    impl SmbusDevice for StubDevice {
        fn set_address(&mut self, address: u8) -> Result<(), Errno> {
            self.address = Some(address);
            Ok(())
        }

        fn read_byte(&mut self) -> Result<u8, Errno> {
            Ok(wire_bytes_of_word(self.words.get(&self.pointer).copied().unwrap_or(0))[0])
        }

        fn write_byte(&mut self, value: u8) -> Result<(), Errno> {
            self.pointer = value;
            Ok(())
        }

        fn read_byte_data(&mut self, register: u8) -> Result<u8, Errno> {
            Ok(wire_bytes_of_word(self.words.get(&register).copied().unwrap_or(0))[0])
        }

        fn write_byte_data(&mut self, register: u8, value: u8) -> Result<(), Errno> {
            self.words.insert(register, u16::from(value));
            Ok(())
        }

        fn read_word_data(&mut self, register: u8) -> Result<u16, Errno> {
            Ok(self.words.get(&register).copied().unwrap_or(0))
        }

        fn write_word_data(&mut self, register: u8, word: u16) -> Result<(), Errno> {
            self.words.insert(register, word);
            Ok(())
        }
    }

    #[test]
    fn smbus_word_becomes_wire_bytes() {
        // Bytes 27 12 on the wire arrive as the little-endian SMBus word 0x1227.
        assert_eq!(wire_bytes_of_word(0x1227), [0x27, 0x12]);
    }

    #[test]
    fn wire_bytes_become_smbus_word() {
        assert_eq!(word_of_wire_bytes([0x05, 0x10]), 0x1005);
    }

    #[test]
    fn register_read_keeps_wire_order() {
        let mut stub = StubDevice::default();
        stub.set_register(0x02, 0x2712);
        let mut bus = SmbusI2c::new(stub);

        let mut bytes = [0; 2];
        bus.write_read(0x40, &[0x02], &mut bytes).unwrap();

        assert_eq!(bytes, [0x27, 0x12]);
        assert_eq!(bus.release().address, Some(0x40));
    }

    #[test]
    fn register_write_sends_msb_first() {
        let mut bus = SmbusI2c::new(StubDevice::default());
        // The INA219 calibration write of 4096: pointer 05, then 10 00.
        bus.write(0x40, &[0x05, 0x10, 0x00]).unwrap();
        assert_eq!(bus.release().register(0x05), 0x1000);
    }

    #[test]
    fn byte_transfers_map_to_byte_commands() {
        let mut stub = StubDevice::default();
        stub.write_byte_data(0x07, 0xA5).unwrap();
        let mut bus = SmbusI2c::new(stub);

        let mut byte = [0];
        bus.write_read(0x40, &[0x07], &mut byte).unwrap();
        assert_eq!(byte, [0xA5]);

        bus.write(0x40, &[0x03]).unwrap();
        assert_eq!(bus.release().pointer, 0x03);
    }

    #[test]
    fn long_transfer_is_unsupported() {
        let mut bus = SmbusI2c::new(StubDevice::default());
        let error = bus.write(0x40, &[0x00, 0x01, 0x02, 0x03]).unwrap_err();
        assert_eq!(error, SmbusError::Unsupported);
        assert_eq!(embedded_hal::i2c::Error::kind(&error), ErrorKind::Other);
    }

    #[test]
    fn unanswered_address_is_no_acknowledge() {
        let kind = i2c_error_kind(Errno::ENXIO);
        assert_eq!(kind, ErrorKind::NoAcknowledge(NoAcknowledgeSource::Address));
    }

    #[test]
    fn bcm2835_nack_is_no_acknowledge() {
        let kind = i2c_error_kind(Errno::EREMOTEIO);
        assert_eq!(kind, ErrorKind::NoAcknowledge(NoAcknowledgeSource::Unknown));
    }

    #[test]
    fn bus_error_and_arbitration_map() {
        assert_eq!(i2c_error_kind(Errno::EIO), ErrorKind::Bus);
        assert_eq!(i2c_error_kind(Errno::EBUSY), ErrorKind::Bus);
        assert_eq!(i2c_error_kind(Errno::EAGAIN), ErrorKind::ArbitrationLoss);
        assert_eq!(i2c_error_kind(Errno::EOPNOTSUPP), ErrorKind::Other);
    }

    #[test]
    fn ina219_over_smbus_reads_five_volts() {
        let mut stub = StubDevice::default();
        // 0x2712: 5.000 V with conversion ready. Read as a little-endian word it would be
        // 0x1227, 2.320 V, a false brown-out.
        stub.set_register(0x02, 0x2712);
        let shunt = MicroOhms(100_000);
        let config = Ina219Config::builder(shunt, Milliamps(3_200))
            .build()
            .unwrap();
        let mut ina = Ina219::new(SmbusI2c::new(stub), Address::DEFAULT, config);
        ina.init().unwrap();

        let reading = ina.read().unwrap();

        assert_eq!(reading.bus, Millivolts(5_000));
    }
}
