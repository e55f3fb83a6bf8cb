//! Physical quantities and time as distinct types.
//!
//! Every value that crosses a module boundary carries its unit in its type, so a current can
//! never be passed where a voltage is expected. Integers keep the crate free of floating point,
//! which small microcontrollers emulate slowly.

use core::fmt;
use core::ops::{Add, AddAssign, Sub, SubAssign};

macro_rules! quantity {
    ($(#[$doc:meta])* $name:ident, $inner:ty, $suffix:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub $inner);

        impl Add for $name {
            type Output = Self;
            fn add(self, rhs: Self) -> Self {
                Self(self.0.saturating_add(rhs.0))
            }
        }

        impl Sub for $name {
            type Output = Self;
            fn sub(self, rhs: Self) -> Self {
                Self(self.0.saturating_sub(rhs.0))
            }
        }

        impl AddAssign for $name {
            fn add_assign(&mut self, rhs: Self) {
                *self = *self + rhs;
            }
        }

        impl SubAssign for $name {
            fn sub_assign(&mut self, rhs: Self) {
                *self = *self - rhs;
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{} {}", self.0, $suffix)
            }
        }
    };
}

quantity!(
    /// Current in milliamps; negative when it flows backwards through a shunt.
    Milliamps, i32, "mA"
);
quantity!(
    /// Voltage in millivolts.
    Millivolts, i32, "mV"
);
quantity!(
    /// Voltage in microvolts, for shunt drops of a few millivolts.
    Microvolts, i32, "uV"
);
quantity!(
    /// Power in milliwatts.
    Milliwatts, i32, "mW"
);

impl Milliamps {
    /// Returns the current in amps, for display.
    pub fn as_amps_f32(self) -> f32 {
        self.0 as f32 / 1000.0
    }
}

impl Millivolts {
    /// Returns the voltage in volts, for display.
    pub fn as_volts_f32(self) -> f32 {
        self.0 as f32 / 1000.0
    }
}

/// A span of time in microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(u64);

impl Duration {
    /// No time at all.
    pub const ZERO: Self = Self(0);

    /// Builds a duration from microseconds.
    pub const fn from_micros(micros: u64) -> Self {
        Self(micros)
    }

    /// Builds a duration from milliseconds.
    pub const fn from_millis(millis: u64) -> Self {
        Self(millis.saturating_mul(1_000))
    }

    /// Builds a duration from whole seconds.
    pub const fn from_secs(secs: u64) -> Self {
        Self(secs.saturating_mul(1_000_000))
    }

    /// Returns the duration in microseconds.
    pub const fn as_micros(self) -> u64 {
        self.0
    }

    /// Returns the duration in whole milliseconds, rounded down.
    pub const fn as_millis(self) -> u64 {
        self.0 / 1_000
    }

    /// Returns the duration in whole seconds, rounded down.
    pub const fn as_secs(self) -> u64 {
        self.0 / 1_000_000
    }

    /// Multiplies the duration, saturating at the largest value instead of wrapping.
    pub const fn saturating_mul(self, factor: u64) -> Self {
        Self(self.0.saturating_mul(factor))
    }
}

impl Add for Duration {
    type Output = Self;
    fn add(self, rhs: Self) -> Self {
        Self(self.0.saturating_add(rhs.0))
    }
}

impl Sub for Duration {
    type Output = Self;
    fn sub(self, rhs: Self) -> Self {
        Self(self.0.saturating_sub(rhs.0))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let millis = self.as_millis();
        if millis.is_multiple_of(1_000) {
            write!(f, "{} s", millis / 1_000)
        } else {
            write!(f, "{millis} ms")
        }
    }
}

/// A point in time, in microseconds since an epoch that the caller chooses (a monotonic clock's
/// start, or the simulator's zero).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(u64);

impl Instant {
    /// The epoch itself.
    pub const ZERO: Self = Self(0);

    /// Builds an instant from microseconds since the epoch.
    pub const fn from_micros(micros: u64) -> Self {
        Self(micros)
    }

    /// Builds an instant from milliseconds since the epoch.
    pub const fn from_millis(millis: u64) -> Self {
        Self(millis.saturating_mul(1_000))
    }

    /// Builds an instant from whole seconds since the epoch.
    pub const fn from_secs(secs: u64) -> Self {
        Self(secs.saturating_mul(1_000_000))
    }

    /// Returns microseconds since the epoch.
    pub const fn as_micros(self) -> u64 {
        self.0
    }

    /// Returns the time from `earlier` to `self`, or zero if `earlier` is later.
    pub const fn since(self, earlier: Instant) -> Duration {
        Duration(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Instant {
    type Output = Self;
    fn add(self, rhs: Duration) -> Self {
        Self(self.0.saturating_add(rhs.0))
    }
}

impl Sub<Duration> for Instant {
    type Output = Self;
    fn sub(self, rhs: Duration) -> Self {
        Self(self.0.saturating_sub(rhs.0))
    }
}

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let millis = self.0 / 1_000;
        write!(f, "{}.{:03} s", millis / 1_000, millis % 1_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_arithmetic_saturates() {
        assert_eq!(Milliamps(i32::MAX) + Milliamps(1), Milliamps(i32::MAX));
        assert_eq!(Milliamps(350) - Milliamps(400), Milliamps(-50));
    }

    #[test]
    fn instant_since_later_is_zero() {
        let early = Instant::from_secs(1);
        let late = Instant::from_secs(3);
        assert_eq!(late.since(early), Duration::from_secs(2));
        assert_eq!(early.since(late), Duration::ZERO);
    }

    #[test]
    fn instant_displays_seconds_and_millis() {
        let text = heapless_format(Instant::from_millis(90_250));
        assert_eq!(text.as_str(), "90.250 s");
    }

    fn heapless_format(value: impl fmt::Display) -> heapless::String<32> {
        use core::fmt::Write;
        let mut text = heapless::String::new();
        write!(text, "{value}").unwrap();
        text
    }
}
