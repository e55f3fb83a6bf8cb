//! Register models of the TI INA219 and INA226 current monitors.
//!
//! Both chips are driven the same way on the wire: a write sets the register pointer (one
//! byte) and, with two more bytes, writes that register most significant byte first; a read
//! returns the register the pointer names, most significant byte first. Measurements are
//! computed lazily when a register is read: the newest conversion is the one that ended last
//! before the read, and its values are the rail's mean over that conversion's window. So the
//! averaging settings lengthen both the time between results and the window they cover.
//!
//! Limits of the models:
//! - No ADC noise, offset or quantisation below the register LSB; the optional gain error is
//!   the only inaccuracy.
//! - A calibration write applies at once to the newest conversion's current and power, where
//!   the chip applies it from the next conversion on.
//! - Reading more than two bytes returns 0xFF for the extra bytes (the datasheets do not say
//!   what the chips send).
//! - The INA226 ALERT pin is not driven; its flags (AFF, CVRF, OVF) are.

mod ina219;
mod ina226;

use std::collections::BTreeMap;

use picluster_firmware::monitor::MicroOhms;
use picluster_firmware::units::{Duration, Instant};

use crate::i2c::{BusContext, I2cDevice};
use crate::rail::RailMean;

pub use ina219::Ina219Model;
pub use ina226::Ina226Model;

/// The shunt the chip measures across.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shunt {
    /// Resistance of the shunt.
    pub resistance: MicroOhms,
    /// Gain error of the measurement in parts per million (positive reads high).
    pub gain_error_ppm: i32,
}

impl Shunt {
    /// Returns the drop across the shunt in microvolts for a mean rail current.
    fn drop_microvolts(&self, mean: &RailMean) -> f64 {
        // mA x uOhm = nV; / 1000 = uV.
        let ideal = mean.milliamps * f64::from(self.resistance.0) / 1_000.0;
        ideal * (1.0 + f64::from(self.gain_error_ppm) / 1e6)
    }

    /// Returns the bus voltage at IN- (the load side) in millivolts.
    fn bus_millivolts(&self, mean: &RailMean) -> f64 {
        let drop_mv = mean.milliamps * f64::from(self.resistance.0) / 1e6;
        mean.millivolts - drop_mv
    }
}

/// What a chip converts in a mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Channels {
    Shunt,
    Bus,
    Both,
}

/// The operating mode, decoded from the MODE bits shared by both chips.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Power-down or ADC off: results hold.
    Off,
    /// One conversion after the mode write, then results hold.
    Triggered(Channels),
    /// Conversions follow each other.
    Continuous(Channels),
}

impl Mode {
    /// Decodes MODE bits 2..0 (the same encoding in both datasheets).
    fn decode(bits: u16) -> Self {
        let channels = match bits & 0b011 {
            0b01 => Channels::Shunt,
            0b10 => Channels::Bus,
            _ => Channels::Both,
        };
        match bits & 0b111 {
            0b000 | 0b100 => Mode::Off,
            0b001..=0b011 => Mode::Triggered(channels),
            _ => Mode::Continuous(channels),
        }
    }

    fn channels(self) -> Option<Channels> {
        match self {
            Mode::Off => None,
            Mode::Triggered(channels) | Mode::Continuous(channels) => Some(channels),
        }
    }
}

/// Conversion timing: when results were produced and when the ready flag was cleared.
#[derive(Clone, Copy, Debug)]
struct Conversions {
    mode: Mode,
    /// When the present mode began converting (the last configuration write).
    started: Instant,
    /// Time from one result to the next.
    period: Duration,
    /// Conversions that ended at or before this time have been consumed (ready flag clear).
    flag_cleared_at: Instant,
    /// The newest conversion end the last look-up found in continuous mode, and the end after
    /// it. A read between the two finds the same conversion without a division.
    newest: Option<(Instant, Instant)>,
}

impl Conversions {
    fn new(now: Instant, mode: Mode, period: Duration) -> Self {
        Self {
            mode,
            started: now,
            period,
            flag_cleared_at: now,
            newest: None,
        }
    }

    /// Returns when the newest conversion at `now` ended, if one ended since `started`.
    fn latest_end(&mut self, now: Instant) -> Option<Instant> {
        if let Some((end, next)) = self.newest
            && end <= now
            && now < next
        {
            return Some(end);
        }
        let period = self.period.as_micros().max(1);
        let elapsed = now.since(self.started).as_micros();
        match self.mode {
            Mode::Off => None,
            Mode::Triggered(_) => {
                (elapsed >= period).then(|| self.started + Duration::from_micros(period))
            }
            Mode::Continuous(_) => {
                let count = elapsed / period;
                if count == 0 {
                    return None;
                }
                let end = self.started + Duration::from_micros(count * period);
                self.newest = Some((end, end + Duration::from_micros(period)));
                Some(end)
            }
        }
    }

    /// Returns whether a conversion ended after the flag was last cleared.
    fn ready(&mut self, now: Instant) -> bool {
        self.latest_end(now)
            .is_some_and(|end| end > self.flag_cleared_at)
    }

    fn clear_flag(&mut self, now: Instant) {
        self.flag_cleared_at = now;
    }
}

/// Raw register results of one conversion.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Results {
    shunt: i16,
    bus: u16,
    /// The shunt reading was clipped at the end of its range.
    shunt_clipped: bool,
}

/// One conversion's data registers: the raw results, and the current and power the chip
/// computed from them with the calibration in force.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct DataRegisters {
    results: Results,
    current: u16,
    power: u16,
    /// The current or power overflowed, or the shunt reading was clipped.
    overflow: bool,
}

/// Per-register read faults shared by both chips.
#[derive(Clone, Debug, Default)]
struct RegisterFaults {
    stuck: BTreeMap<u8, u16>,
    flipped: BTreeMap<u8, u16>,
}

impl RegisterFaults {
    fn apply(&self, register: u8, value: u16) -> u16 {
        if self.stuck.is_empty() && self.flipped.is_empty() {
            return value;
        }
        let value = self.stuck.get(&register).copied().unwrap_or(value);
        value ^ self.flipped.get(&register).copied().unwrap_or(0)
    }

    fn set_stuck(&mut self, register: u8, value: Option<u16>) {
        match value {
            Some(value) => self.stuck.insert(register, value),
            None => self.stuck.remove(&register),
        };
    }

    fn set_flipped(&mut self, register: u8, bit: u8, flipped: bool) {
        let mask = 1u16 << (bit & 15);
        let entry = self.flipped.entry(register).or_insert(0);
        if flipped {
            *entry |= mask;
        } else {
            *entry &= !mask;
        }
        if *entry == 0 {
            self.flipped.remove(&register);
        }
    }
}

/// A chip's register map, wrapped by [`RegisterDevice`] for the pointer and the faults.
trait RegisterMap: Send + std::fmt::Debug {
    fn read_register(&mut self, context: &BusContext<'_>, register: u8) -> u16;
    fn write_register(&mut self, context: &BusContext<'_>, register: u8, value: u16);
    fn reset(&mut self, now: Instant);
}

/// Pointer handling and fault injection around a register map.
#[derive(Debug)]
struct RegisterDevice<M> {
    map: M,
    pointer: u8,
    faults: RegisterFaults,
}

impl<M: RegisterMap> RegisterDevice<M> {
    fn new(map: M) -> Self {
        Self {
            map,
            pointer: 0,
            faults: RegisterFaults::default(),
        }
    }
}

impl<M: RegisterMap> I2cDevice for RegisterDevice<M> {
    fn write(&mut self, context: &BusContext<'_>, bytes: &[u8]) {
        let Some((&pointer, data)) = bytes.split_first() else {
            return;
        };
        self.pointer = pointer;
        // The chip latches a register on its second data byte; a lone byte changes nothing.
        if let [high, low, ..] = *data {
            self.map
                .write_register(context, pointer, u16::from_be_bytes([high, low]));
        }
    }

    fn read(&mut self, context: &BusContext<'_>, buffer: &mut [u8]) {
        if buffer.is_empty() {
            return;
        }
        let value = self.map.read_register(context, self.pointer);
        let bytes = self.faults.apply(self.pointer, value).to_be_bytes();
        // A two-byte read, the usual one, is stored as one word: the driver loads it as one, and
        // a load that spans two byte stores waits for both to retire.
        if let Ok(word) = <&mut [u8; 2]>::try_from(&mut *buffer) {
            *word = bytes;
            return;
        }
        for (index, byte) in buffer.iter_mut().enumerate() {
            *byte = bytes.get(index).copied().unwrap_or(0xFF);
        }
    }

    fn power_on_reset(&mut self, now: Instant) {
        self.pointer = 0;
        self.map.reset(now);
    }

    fn set_stuck_register(&mut self, register: u8, value: Option<u16>) {
        self.faults.set_stuck(register, value);
    }

    fn set_flipped_bit(&mut self, register: u8, bit: u8, flipped: bool) {
        self.faults.set_flipped(register, bit, flipped);
    }
}

/// Rounds to the nearest integer and clamps into `low..=high`; returns whether it clamped.
fn round_clamped(value: f64, low: i64, high: i64) -> (i64, bool) {
    let rounded = round_half_away(value);
    (rounded.clamp(low, high), rounded < low || rounded > high)
}

/// Rounds to the nearest integer, halves away from zero, as `f64::round` does, saturating at
/// the ends of `i64` as a cast does.
///
/// `f64::round` is a call into libm on the x86-64 baseline, which has no rounding instruction;
/// this is a truncating cast and two compares. The fraction `value - trunc(value)` is exact in
/// floating point, so the result equals `f64::round` for every value.
fn round_half_away(value: f64) -> i64 {
    let truncated = value as i64;
    let fraction = value - truncated as f64;
    if fraction >= 0.5 {
        truncated.saturating_add(1)
    } else if fraction <= -0.5 {
        truncated.saturating_sub(1)
    } else {
        truncated
    }
}

#[cfg(test)]
mod tests;
