//! INA219 register model (TI SBOS448).
//!
//! Registers: configuration 00h (power-on 399Fh), shunt voltage 01h (10 uV LSB, signed), bus
//! voltage 02h (4 mV LSB in bits 15..3, CNVR bit 1, OVF bit 0), power 03h, current 04h and
//! calibration 05h (bit 0 unused). Current = shunt x calibration / 4096; power = current x bus
//! / 5000. CNVR clears on a power register read or a mode write, as the datasheet states.
//! (A TI forum thread reports chips that clear it on a bus voltage read instead; the driver
//! reads bus voltage, then power, so both behaviours give it the same result.)

use picluster_firmware::units::{Duration, Instant};

use super::{
    Channels, Conversions, DataRegisters, Mode, RegisterDevice, RegisterMap, Results, Shunt,
    round_clamped,
};
use crate::i2c::{BusContext, I2cDevice};
use crate::rail::RailMean;

const CONFIGURATION: u8 = 0x00;
const SHUNT_VOLTAGE: u8 = 0x01;
const BUS_VOLTAGE: u8 = 0x02;
const POWER: u8 = 0x03;
const CURRENT: u8 = 0x04;
const CALIBRATION: u8 = 0x05;

const CONFIGURATION_DEFAULT: u16 = 0x399F;
const RESET_BIT: u16 = 1 << 15;
const BRNG_BIT: u16 = 1 << 13;
const CALIBRATION_MASK: u16 = 0xFFFE;
const CNVR_BIT: u16 = 1 << 1;
const OVF_BIT: u16 = 1;

/// Shunt register LSB in microvolts.
const SHUNT_LSB_UV: f64 = 10.0;
/// Bus register LSB in millivolts.
const BUS_LSB_MV: f64 = 4.0;

/// An INA219 as it sits on the bus.
#[derive(Debug)]
pub struct Ina219Model {
    shunt: Shunt,
    configuration: u16,
    calibration: u16,
    conversions: Conversions,
    /// Registers of the newest conversion, with its end time.
    cached: Option<(Instant, DataRegisters)>,
    /// The rail mean of the last conversion computed and its results, reused while the rail
    /// stays constant, because results depend only on the mean and the configuration.
    converted: Option<(RailMean, Results)>,
    /// Results from before the present mode's first conversion.
    held: Results,
}

impl Ina219Model {
    /// Builds a chip at its power-on defaults, converting from `now`.
    pub fn new(shunt: Shunt, now: Instant) -> Self {
        let mut chip = Self {
            shunt,
            configuration: CONFIGURATION_DEFAULT,
            calibration: 0,
            conversions: Conversions::new(now, Mode::Off, Duration::ZERO),
            cached: None,
            converted: None,
            held: Results::default(),
        };
        chip.reset(now);
        chip
    }

    /// Wraps the chip for the bus.
    pub fn into_device(self) -> Box<dyn I2cDevice> {
        Box::new(RegisterDevice::new(self))
    }

    fn mode(&self) -> Mode {
        Mode::decode(self.configuration)
    }

    /// Shunt register full scale in LSBs for the PG bits: 40, 80, 160 or 320 mV.
    fn shunt_full_scale(&self) -> i64 {
        let gain_code = (self.configuration >> 11) & 0b11;
        4_000 << gain_code
    }

    /// Bus register full scale in LSBs: 16 V or 32 V (BRNG), within the 13-bit field.
    fn bus_full_scale(&self) -> i64 {
        if self.configuration & BRNG_BIT != 0 {
            8_000
        } else {
            4_000
        }
    }

    fn period(&self) -> Duration {
        let bus = adc_time(self.configuration >> 7);
        let shunt = adc_time(self.configuration >> 3);
        match self.mode().channels() {
            Some(Channels::Shunt) => shunt,
            Some(Channels::Bus) => bus,
            Some(Channels::Both) | None => shunt + bus,
        }
    }

    fn restart_conversions(&mut self, now: Instant) {
        if let Some((_, registers)) = self.cached {
            self.held = registers.results;
        }
        self.cached = None;
        self.converted = None;
        self.conversions = Conversions::new(now, self.mode(), self.period());
    }

    /// Returns the newest conversion's registers at `context.now`, computed once per
    /// conversion.
    fn registers(&mut self, context: &BusContext<'_>) -> DataRegisters {
        let Some(end) = self.conversions.latest_end(context.now) else {
            return self.derive(self.held);
        };
        if let Some((cached_end, registers)) = self.cached
            && cached_end == end
        {
            return registers;
        }
        let start = end - self.conversions.period;
        let mean = context.rail.mean(start, end);
        let results = match self.converted {
            Some((converted_mean, results)) if converted_mean == mean => results,
            _ => {
                let results = self.convert(&mean);
                self.converted = Some((mean, results));
                results
            }
        };
        let registers = self.derive(results);
        self.cached = Some((end, registers));
        registers
    }

    /// Computes the shunt and bus registers of a conversion over a window with rail mean
    /// `mean`. A channel the mode does not convert keeps its held value.
    fn convert(&self, mean: &RailMean) -> Results {
        let mut results = self.held;
        let channels = self.mode().channels().unwrap_or(Channels::Both);
        if channels != Channels::Bus {
            let full = self.shunt_full_scale();
            let lsbs = self.shunt.drop_microvolts(mean) / SHUNT_LSB_UV;
            let (shunt, clipped) = round_clamped(lsbs, -full, full);
            results.shunt = shunt as i16;
            results.shunt_clipped = clipped;
        }
        if channels != Channels::Shunt {
            let lsbs = self.shunt.bus_millivolts(mean) / BUS_LSB_MV;
            let (bus, _) = round_clamped(lsbs, 0, self.bus_full_scale());
            results.bus = bus as u16;
        }
        results
    }

    /// Computes the current and power registers from `results` and whether either
    /// overflowed.
    ///
    /// The model also counts a shunt reading clipped at its PGA range as an overflow: the
    /// current computed from it is not the real one.
    fn derive(&self, results: Results) -> DataRegisters {
        let current = i64::from(results.shunt) * i64::from(self.calibration) / 4_096;
        let current_overflow = current < i64::from(i16::MIN) || current > i64::from(i16::MAX);
        let current = current.clamp(i64::from(i16::MIN), i64::from(i16::MAX));
        // NOTE: the datasheet does not say how a negative current shows in the unsigned power
        // register; the model uses its magnitude.
        let power = current.abs() * i64::from(results.bus) / 5_000;
        let power_overflow = power > i64::from(u16::MAX);
        let power = power.min(i64::from(u16::MAX));
        DataRegisters {
            results,
            current: current as i16 as u16,
            power: power as u16,
            overflow: current_overflow || power_overflow || results.shunt_clipped,
        }
    }
}

impl RegisterMap for Ina219Model {
    fn read_register(&mut self, context: &BusContext<'_>, register: u8) -> u16 {
        match register {
            CONFIGURATION => self.configuration,
            SHUNT_VOLTAGE => self.registers(context).results.shunt as u16,
            BUS_VOLTAGE => {
                let registers = self.registers(context);
                let ready = self.conversions.ready(context.now);
                (registers.results.bus << 3)
                    | (u16::from(ready) * CNVR_BIT)
                    | (u16::from(registers.overflow) * OVF_BIT)
            }
            POWER => {
                let registers = self.registers(context);
                self.conversions.clear_flag(context.now);
                registers.power
            }
            CURRENT => self.registers(context).current,
            CALIBRATION => self.calibration,
            // The datasheet defines no other register; the model reads them as zero.
            _ => 0,
        }
    }

    fn write_register(&mut self, context: &BusContext<'_>, register: u8, value: u16) {
        match register {
            CONFIGURATION if value & RESET_BIT != 0 => self.reset(context.now),
            CONFIGURATION => {
                self.configuration = value;
                self.restart_conversions(context.now);
            }
            CALIBRATION => {
                self.calibration = value & CALIBRATION_MASK;
                // The model applies a new calibration to the newest conversion at once.
                if let Some((end, registers)) = self.cached {
                    self.cached = Some((end, self.derive(registers.results)));
                }
            }
            // The data registers are read-only: writes are ignored.
            _ => {}
        }
    }

    fn reset(&mut self, now: Instant) {
        self.configuration = CONFIGURATION_DEFAULT;
        self.calibration = 0;
        self.cached = None;
        self.converted = None;
        self.held = Results::default();
        self.conversions = Conversions::new(now, self.mode(), self.period());
    }
}

/// Returns the conversion time for a 4-bit BADC or SADC code (SBOS448 "ADC Settings").
///
/// Codes 0X00, 0X01 and 0X10 are single 9-, 10- and 11-bit conversions (84, 148, 276 us).
/// Codes 0X11 and 1000 are one 12-bit conversion (532 us). Codes 1001 to 1111 average 2 to
/// 128 12-bit conversions.
fn adc_time(bits: u16) -> Duration {
    let code = bits & 0b1111;
    let micros = if code & 0b1000 == 0 {
        [84, 148, 276, 532][usize::from(code & 0b11)]
    } else {
        // 1000 = one 12-bit conversion; 1001..1111 = 2..128 of them (typical times from the
        // datasheet, which round 2 x 532 to 1060 and so on).
        [532, 1_060, 2_130, 4_260, 8_510, 17_020, 34_050, 68_100][usize::from(code & 0b111)]
    };
    Duration::from_micros(micros)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adc_codes_map_to_datasheet_times() {
        assert_eq!(adc_time(0b0000), Duration::from_micros(84));
        assert_eq!(adc_time(0b0100), Duration::from_micros(84));
        assert_eq!(adc_time(0b0011), Duration::from_micros(532));
        assert_eq!(adc_time(0b1000), Duration::from_micros(532));
        assert_eq!(adc_time(0b1011), Duration::from_micros(4_260));
        assert_eq!(adc_time(0b1111), Duration::from_micros(68_100));
    }
}
