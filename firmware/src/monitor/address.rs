//! I2C addresses selected by the A0 and A1 strap pins.

use core::fmt;

/// The connection of an address pin (A0 or A1).
///
/// Both chips sample each pin on every transfer and tell four states apart, so two pins give
/// 16 addresses (INA219: SBOS448G section 8.5.5.1, Table 1; INA226: SBOS547B section 6.5.5.1,
/// Table 6-2; both tables are identical).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AddressPin {
    /// Tied to ground.
    Gnd,
    /// Tied to the chip's supply pin (VS).
    Vs,
    /// Tied to the I2C data line.
    Sda,
    /// Tied to the I2C clock line.
    Scl,
}

impl AddressPin {
    const fn code(self) -> u8 {
        match self {
            AddressPin::Gnd => 0b00,
            AddressPin::Vs => 0b01,
            AddressPin::Sda => 0b10,
            AddressPin::Scl => 0b11,
        }
    }
}

/// A 7-bit INA219 or INA226 address, always in 0x40..=0x4F.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Address(u8);

impl Address {
    /// The address with both straps tied to ground, 0x40.
    pub const DEFAULT: Self = Self(0x40);

    const FIRST: u8 = 0x40;
    const LAST: u8 = 0x4F;

    /// Returns the address the straps select: 0b100, then A1's two bits, then A0's two bits.
    pub const fn from_pins(a1: AddressPin, a0: AddressPin) -> Self {
        Self(Self::FIRST | (a1.code() << 2) | a0.code())
    }

    /// Returns the address if the straps can select it (0x40..=0x4F), or `None`.
    pub const fn new(address: u8) -> Option<Self> {
        if address >= Self::FIRST && address <= Self::LAST {
            Some(Self(address))
        } else {
            None
        }
    }

    /// Returns the 7-bit address as the bus takes it.
    pub const fn get(self) -> u8 {
        self.0
    }
}

impl Default for Address {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:02X}", self.0)
    }
}
