//! INA226 register model (TI SBOS547).
//!
//! Registers: configuration 00h (power-on 4127h, bits 14..12 fixed at 100b), shunt voltage 01h
//! (2.5 uV LSB, signed), bus voltage 02h (1.25 mV LSB), power 03h and current 04h. Then
//! calibration 05h (15 bits), Mask/Enable 06h, Alert Limit 07h, manufacturer ID FEh (5449h)
//! and die ID FFh (2260h). Current = shunt x calibration / 2048; power = current x bus / 20000. The
//! conversion ready flag (CVRF, Mask/Enable bit 3) clears on a Mask/Enable read or a
//! configuration write.

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
const MASK_ENABLE: u8 = 0x06;
const ALERT_LIMIT: u8 = 0x07;
const MANUFACTURER_ID: u8 = 0xFE;
const DIE_ID: u8 = 0xFF;

const CONFIGURATION_DEFAULT: u16 = 0x4127;
const CONFIGURATION_FIXED: u16 = 0b100 << 12;
const RESET_BIT: u16 = 1 << 15;
const CALIBRATION_MASK: u16 = 0x7FFF;
/// Mask/Enable bits a write can set: the five alert functions, CNVR, APOL and LEN.
const MASK_ENABLE_WRITABLE: u16 = 0xFC03;
const SOL: u16 = 1 << 15;
const SUL: u16 = 1 << 14;
const BOL: u16 = 1 << 13;
const BUL: u16 = 1 << 12;
const POL: u16 = 1 << 11;
const AFF: u16 = 1 << 4;
const CVRF: u16 = 1 << 3;
const OVF: u16 = 1 << 2;
const LEN: u16 = 1;

/// Shunt register LSB in microvolts.
const SHUNT_LSB_UV: f64 = 2.5;
/// Bus register LSB in millivolts.
const BUS_LSB_MV: f64 = 1.25;

/// An INA226 as it sits on the bus.
#[derive(Debug)]
pub struct Ina226Model {
    shunt: Shunt,
    configuration: u16,
    calibration: u16,
    mask_enable: u16,
    alert_limit: u16,
    /// Latched alert flag (LEN set): stays until Mask/Enable is read.
    alert_latched: bool,
    conversions: Conversions,
    /// Registers of the newest conversion, with its end time.
    cached: Option<(Instant, DataRegisters)>,
    /// The rail mean of the last conversion computed and its results, reused while the rail
    /// stays constant, because results depend only on the mean and the configuration.
    converted: Option<(RailMean, Results)>,
    held: Results,
}

impl Ina226Model {
    /// Builds a chip at its power-on defaults, converting from `now`.
    pub fn new(shunt: Shunt, now: Instant) -> Self {
        let mut chip = Self {
            shunt,
            configuration: CONFIGURATION_DEFAULT,
            calibration: 0,
            mask_enable: 0,
            alert_limit: 0,
            alert_latched: false,
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

    /// Averages per result (AVG bits 11..9).
    fn averages(&self) -> u64 {
        [1, 4, 16, 64, 128, 256, 512, 1_024][usize::from((self.configuration >> 9) & 0b111)]
    }

    fn period(&self) -> Duration {
        let bus = conversion_time(self.configuration >> 6);
        let shunt = conversion_time(self.configuration >> 3);
        let one = match self.mode().channels() {
            Some(Channels::Shunt) => shunt,
            Some(Channels::Bus) => bus,
            Some(Channels::Both) | None => shunt + bus,
        };
        one.saturating_mul(self.averages())
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
        // A latched alert remembers every conversion the model computed that met the
        // condition; conversions between two reads are not computed, so they cannot latch.
        if self.alert_condition(registers) {
            self.alert_latched = true;
        }
        registers
    }

    /// Computes the shunt and bus registers of a conversion over a window with rail mean
    /// `mean`. A channel the mode does not convert keeps its held value.
    fn convert(&self, mean: &RailMean) -> Results {
        let mut results = self.held;
        let channels = self.mode().channels().unwrap_or(Channels::Both);
        if channels != Channels::Bus {
            let lsbs = self.shunt.drop_microvolts(mean) / SHUNT_LSB_UV;
            let (shunt, clipped) = round_clamped(lsbs, i64::from(i16::MIN), i64::from(i16::MAX));
            results.shunt = shunt as i16;
            results.shunt_clipped = clipped;
        }
        if channels != Channels::Shunt {
            let lsbs = self.shunt.bus_millivolts(mean) / BUS_LSB_MV;
            let (bus, _) = round_clamped(lsbs, 0, 0x7FFF);
            results.bus = bus as u16;
        }
        results
    }

    /// Computes the current and power registers from `results` and whether either
    /// overflowed.
    fn derive(&self, results: Results) -> DataRegisters {
        let current = i64::from(results.shunt) * i64::from(self.calibration) / 2_048;
        let current_overflow = current < i64::from(i16::MIN) || current > i64::from(i16::MAX);
        let current = current.clamp(i64::from(i16::MIN), i64::from(i16::MAX));
        // NOTE: the model shows a negative current's power as its magnitude.
        let power = current.abs() * i64::from(results.bus) / 20_000;
        let power_overflow = power > i64::from(u16::MAX);
        let power = power.min(i64::from(u16::MAX));
        DataRegisters {
            results,
            current: current as i16 as u16,
            power: power as u16,
            overflow: current_overflow || power_overflow || results.shunt_clipped,
        }
    }

    /// Evaluates the highest-priority enabled alert function on a conversion.
    fn alert_condition(&self, registers: DataRegisters) -> bool {
        let DataRegisters { results, power, .. } = registers;
        let limit = self.alert_limit;
        let functions = self.mask_enable;
        if functions & SOL != 0 {
            i32::from(results.shunt) > i32::from(limit as i16)
        } else if functions & SUL != 0 {
            i32::from(results.shunt) < i32::from(limit as i16)
        } else if functions & BOL != 0 {
            results.bus > limit
        } else if functions & BUL != 0 {
            results.bus < limit
        } else if functions & POL != 0 {
            power > limit
        } else {
            false
        }
    }

    fn read_mask_enable(&mut self, context: &BusContext<'_>) -> u16 {
        let registers = self.registers(context);
        let condition = self.alert_condition(registers);
        let latch = self.mask_enable & LEN != 0;
        let alert = condition || (latch && self.alert_latched);
        let ready = self.conversions.ready(context.now);

        // Reading Mask/Enable clears the ready flag and a latched alert.
        self.conversions.clear_flag(context.now);
        self.alert_latched = false;

        (self.mask_enable & MASK_ENABLE_WRITABLE)
            | (u16::from(alert) * AFF)
            | (u16::from(ready) * CVRF)
            | (u16::from(registers.overflow) * OVF)
    }
}

impl RegisterMap for Ina226Model {
    fn read_register(&mut self, context: &BusContext<'_>, register: u8) -> u16 {
        match register {
            CONFIGURATION => self.configuration,
            SHUNT_VOLTAGE => self.registers(context).results.shunt as u16,
            BUS_VOLTAGE => self.registers(context).results.bus,
            POWER => self.registers(context).power,
            CURRENT => self.registers(context).current,
            CALIBRATION => self.calibration,
            MASK_ENABLE => self.read_mask_enable(context),
            ALERT_LIMIT => self.alert_limit,
            MANUFACTURER_ID => 0x5449,
            DIE_ID => 0x2260,
            // The datasheet defines no other register; the model reads them as zero.
            _ => 0,
        }
    }

    fn write_register(&mut self, context: &BusContext<'_>, register: u8, value: u16) {
        match register {
            CONFIGURATION if value & RESET_BIT != 0 => self.reset(context.now),
            CONFIGURATION => {
                self.configuration = (value & !(0b111 << 12) & !RESET_BIT) | CONFIGURATION_FIXED;
                self.restart_conversions(context.now);
            }
            CALIBRATION => {
                self.calibration = value & CALIBRATION_MASK;
                // The model applies a new calibration to the newest conversion at once.
                if let Some((end, registers)) = self.cached {
                    self.cached = Some((end, self.derive(registers.results)));
                }
            }
            MASK_ENABLE => self.mask_enable = value & MASK_ENABLE_WRITABLE,
            ALERT_LIMIT => self.alert_limit = value,
            // The data and identity registers are read-only: writes are ignored.
            _ => {}
        }
    }

    fn reset(&mut self, now: Instant) {
        self.configuration = CONFIGURATION_DEFAULT;
        self.calibration = 0;
        self.mask_enable = 0;
        self.alert_limit = 0;
        self.alert_latched = false;
        self.cached = None;
        self.converted = None;
        self.held = Results::default();
        self.conversions = Conversions::new(now, self.mode(), self.period());
    }
}

/// Returns the conversion time for a 3-bit VBUSCT or VSHCT code (SBOS547): 140 us, 204 us,
/// 332 us, 588 us, 1.1 ms, 2.116 ms, 4.156 ms or 8.244 ms.
fn conversion_time(bits: u16) -> Duration {
    let micros = [140, 204, 332, 588, 1_100, 2_116, 4_156, 8_244][usize::from(bits & 0b111)];
    Duration::from_micros(micros)
}
