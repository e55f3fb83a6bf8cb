//! Round trip through both monitor chips: the register models encode a rail current and
//! voltage, the firmware drivers decode the registers, and every decoded value lies within one
//! register step of the value the model was given.
//!
//! Each case builds a fresh chip model and driver, lets the driver initialise the chip, keeps
//! the rail constant and takes one reading a second later, long after the first conversion
//! ended.
//! The model has no gain error, so rounding and truncation are the only differences left.

use std::cell::Cell;
use std::convert::Infallible;
use std::rc::Rc;

use embedded_hal::i2c::{ErrorType, I2c, Operation, SevenBitAddress};
use picluster_firmware::monitor::ina219::BusRange;
use picluster_firmware::monitor::{
    Address, Ina219, Ina219Config, Ina226, Ina226Config, MicroOhms, Microamps, Monitor, Reading,
};
use picluster_firmware::units::{Instant, Milliamps, Millivolts};
use picluster_hal_mock::MonitorSpec;
use picluster_hal_mock::i2c::{BusContext, I2cDevice};
use picluster_hal_mock::ina::{Ina219Model, Ina226Model, Shunt};
use picluster_hal_mock::rail::RailHistory;
use proptest::prelude::*;

/// Both address straps to ground.
const ADDRESS: u8 = 0x40;

/// The INA219 calibration equation's 0.04096 (SBOS448 section 8.5.1) in microamps times
/// micro-ohms: Cal = 0.04096 / (current LSB x shunt).
const INA219_COEFFICIENT: f64 = 40_960_000_000.0;
/// The INA219 shunt register LSB in microvolts, at every PGA setting.
const INA219_SHUNT_LSB_UV: f64 = 10.0;
/// The INA219 bus register LSB in millivolts, in both bus ranges.
const INA219_BUS_LSB_MV: f64 = 4.0;

/// The INA226 calibration equation's 0.00512 (SBOS547 Equation 1) in microamps times
/// micro-ohms.
const INA226_COEFFICIENT: f64 = 5_120_000_000.0;
/// The INA226 shunt register LSB in microvolts.
const INA226_SHUNT_LSB_UV: f64 = 2.5;
/// The INA226 bus register LSB in millivolts.
const INA226_BUS_LSB_MV: f64 = 1.25;
/// The INA226 bus input range: 0 to 36 V (SBOS547, bus voltage input range).
const INA226_BUS_RANGE_MV: i32 = 36_000;

/// The driver rounds the current register's microamps to the nearest milliamp.
const DRIVER_ROUNDING_UA: f64 = 500.0;

/// One register model on a bus of its own, with a constant rail: the I2C transfers that
/// `SimI2c` makes, without a world around them. The test moves `clock` while the driver
/// owns the bus.
struct DeviceBus {
    device: Box<dyn I2cDevice>,
    rail: RailHistory,
    clock: Rc<Cell<Instant>>,
}

impl ErrorType for DeviceBus {
    type Error = Infallible;
}

impl I2c<SevenBitAddress> for DeviceBus {
    fn transaction(
        &mut self,
        address: SevenBitAddress,
        operations: &mut [Operation<'_>],
    ) -> Result<(), Self::Error> {
        assert_eq!(address, ADDRESS, "the driver addressed another device");
        let context = BusContext {
            now: self.clock.get(),
            rail: &self.rail,
        };
        for operation in operations {
            match operation {
                Operation::Write(bytes) => self.device.write(&context, bytes),
                Operation::Read(buffer) => self.device.read(&context, buffer),
            }
        }
        Ok(())
    }
}

impl DeviceBus {
    /// Puts `device` on the bus with the rail at `truth`'s current and voltage from time
    /// zero, and returns the bus with its clock.
    fn new(device: Box<dyn I2cDevice>, truth: &Truth) -> (Self, Rc<Cell<Instant>>) {
        let clock = Rc::new(Cell::new(Instant::ZERO));
        let bus = Self {
            device,
            rail: RailHistory::new(Instant::ZERO, truth.current, truth.rail),
            clock: Rc::clone(&clock),
        };
        (bus, clock)
    }
}

/// Initialises `monitor` at time zero and reads it one second later.
fn read_after_one_second<M>(monitor: &mut M, clock: &Cell<Instant>) -> Reading
where
    M: Monitor<I2cError = Infallible>,
{
    monitor.init().expect("the model accepts the settings");
    clock.set(Instant::from_secs(1));
    monitor.read().expect("a conversion is ready")
}

/// A shunt, the range the driver is built for, and what the round trip is checked against.
#[derive(Clone, Copy, Debug)]
struct Setup {
    shunt: MicroOhms,
    max_current: Milliamps,
    bus_range_mv: i32,
    shunt_lsb_uv: f64,
    bus_lsb_mv: f64,
    /// Calibration coefficient in microamps times micro-ohms.
    coefficient: f64,
}

/// The rail a case sets, and the values a perfect chip would report for it.
#[derive(Clone, Copy, Debug)]
struct Truth {
    current: Milliamps,
    rail: Millivolts,
    /// Drop across the shunt in microvolts.
    shunt_uv: f64,
    /// Bus voltage at IN-, on the load side of the shunt, in millivolts.
    bus_mv: f64,
}

impl Setup {
    /// Returns the rail for a current and a target bus voltage: the supply sits one shunt drop
    /// above the bus, to the nearest millivolt.
    fn truth(&self, current: Milliamps, bus_mv: i32) -> Truth {
        let resistance = f64::from(self.shunt.0);
        let shunt_uv = f64::from(current.0) * resistance / 1_000.0;
        let drop_mv = shunt_uv / 1_000.0;
        let rail = Millivolts(bus_mv + drop_mv.round() as i32);
        Truth {
            current,
            rail,
            shunt_uv,
            bus_mv: f64::from(rail.0) - drop_mv,
        }
    }

    fn shunt(&self) -> Shunt {
        Shunt {
            resistance: self.shunt,
            gain_error_ppm: 0,
        }
    }

    /// Returns the largest distance, in microamps, between the driver's current and the true
    /// current, for a configuration with `current_lsb` and `calibration`.
    ///
    /// The chip computes current from the shunt register, not from the shunt voltage:
    /// 1. The shunt register rounds the drop to its LSB, so the current it stands for is off
    ///    by at most half a shunt step, `shunt LSB / 2 / R`.
    /// 2. The calibration is truncated (and, on the INA219, bit 0 is cleared), so it is
    ///    smaller than the ideal `coefficient / (LSB x R)` by the fraction `loss`. That
    ///    scales the measured current, which is at most the true current plus step 1.
    /// 3. The chip truncates `shunt x Cal / 4096` (or `/ 2048`) to whole current LSBs.
    /// 4. The driver rounds the current register's microamps to whole milliamps.
    ///
    /// With a current LSB finer than the shunt step, step 1 is the largest term: for the
    /// reference INA219 (10 mOhm, LSB 184 uA), half a 10 uV step is 500 uA. Step 2 matters
    /// where Cal is small: the reference shunt on an INA226 gets Cal 2782 for an ideal 2782.6,
    /// which reads 1.3 mA low at 6 A.
    fn current_bound_ua(
        &self,
        current: Milliamps,
        current_lsb: Microamps,
        calibration: u16,
    ) -> f64 {
        let resistance = f64::from(self.shunt.0);
        let half_shunt_step_ua = self.shunt_lsb_uv / 2.0 * 1e6 / resistance;
        let lsb_ua = f64::from(current_lsb.0);
        let ideal_calibration = self.coefficient / (lsb_ua * resistance);
        let loss = 1.0 - f64::from(calibration) / ideal_calibration;
        let measured_ua = f64::from(current.0.abs()) * 1_000.0 + half_shunt_step_ua;
        half_shunt_step_ua + loss * measured_ua + lsb_ua + DRIVER_ROUNDING_UA
    }

    /// Asserts that every value of `reading` lies within one step of `truth`.
    fn check(&self, truth: Truth, reading: Reading, current_lsb: Microamps, calibration: u16) {
        let shunt_error = (f64::from(reading.shunt.0) - truth.shunt_uv).abs();
        assert!(
            shunt_error <= self.shunt_lsb_uv,
            "shunt {} uV for a true {} uV: off by more than {} uV ({truth:?})",
            reading.shunt.0,
            truth.shunt_uv,
            self.shunt_lsb_uv
        );

        let bus_error = (f64::from(reading.bus.0) - truth.bus_mv).abs();
        assert!(
            bus_error <= self.bus_lsb_mv,
            "bus {} mV for a true {} mV: off by more than {} mV ({truth:?})",
            reading.bus.0,
            truth.bus_mv,
            self.bus_lsb_mv
        );

        let current = reading
            .current
            .unwrap_or_else(|| panic!("no current inside the calibrated range ({truth:?})"));
        let current_error_ua = f64::from(current.0 - truth.current.0).abs() * 1_000.0;
        let bound_ua = self.current_bound_ua(truth.current, current_lsb, calibration);
        assert!(
            current_error_ua <= bound_ua,
            "current {} mA for a true {} mA: off by more than {bound_ua} uA ({truth:?})",
            current.0,
            truth.current.0
        );
    }
}

/// Returns the reference cluster's INA219: 10 mOhm, 6 A, 16 V bus range.
fn ina219_reference() -> (Setup, Ina219Config) {
    let spec = MonitorSpec::reference();
    let config = Ina219Config::builder(spec.shunt.resistance, spec.max_current)
        .build()
        .expect("the reference configuration is valid");
    (ina219_setup(&config, spec.max_current), config)
}

/// Returns an INA219 on a 0.1 ohm shunt for 3.2 A (the whole +-320 mV range), with the
/// datasheet's round 100 uA current LSB (Cal 4096) and the 32 V bus range.
fn ina219_tenth_ohm() -> (Setup, Ina219Config) {
    let max_current = Milliamps(3_200);
    let config = Ina219Config::builder(MicroOhms(100_000), max_current)
        .current_lsb(Microamps(100))
        .bus_range(BusRange::Volts32)
        .build()
        .expect("0.1 ohm at 3.2 A is valid");
    (ina219_setup(&config, max_current), config)
}

fn ina219_setup(config: &Ina219Config, max_current: Milliamps) -> Setup {
    let bus_range_mv = match config.bus_range() {
        BusRange::Volts16 => 16_000,
        BusRange::Volts32 => 32_000,
    };
    Setup {
        shunt: config.shunt(),
        max_current,
        bus_range_mv,
        shunt_lsb_uv: INA219_SHUNT_LSB_UV,
        bus_lsb_mv: INA219_BUS_LSB_MV,
        coefficient: INA219_COEFFICIENT,
    }
}

/// Returns an INA226 on the reference shunt: 10 mOhm, 6 A.
fn ina226_reference() -> (Setup, Ina226Config) {
    let spec = MonitorSpec::reference();
    let config = Ina226Config::builder(spec.shunt.resistance, spec.max_current)
        .build()
        .expect("the reference shunt suits the INA226");
    (ina226_setup(&config, spec.max_current), config)
}

/// Returns an INA226 on a 2 mOhm shunt for 20 A: a 40 mV drop at full current.
fn ina226_two_milliohm() -> (Setup, Ina226Config) {
    let max_current = Milliamps(20_000);
    let config = Ina226Config::builder(MicroOhms(2_000), max_current)
        .build()
        .expect("2 mOhm at 20 A is valid");
    (ina226_setup(&config, max_current), config)
}

fn ina226_setup(config: &Ina226Config, max_current: Milliamps) -> Setup {
    Setup {
        shunt: config.shunt(),
        max_current,
        bus_range_mv: INA226_BUS_RANGE_MV,
        shunt_lsb_uv: INA226_SHUNT_LSB_UV,
        bus_lsb_mv: INA226_BUS_LSB_MV,
        coefficient: INA226_COEFFICIENT,
    }
}

fn address() -> Address {
    Address::new(ADDRESS).expect("0x40 is an INA2xx address")
}

fn ina219_round_trip(setup: Setup, config: Ina219Config, current: i32, bus_mv: i32) {
    let truth = setup.truth(Milliamps(current), bus_mv);
    let model = Ina219Model::new(setup.shunt(), Instant::ZERO).into_device();
    let (bus, clock) = DeviceBus::new(model, &truth);
    let mut driver = Ina219::new(bus, address(), config);

    let reading = read_after_one_second(&mut driver, &clock);

    setup.check(truth, reading, config.current_lsb(), config.calibration());
}

fn ina226_round_trip(setup: Setup, config: Ina226Config, current: i32, bus_mv: i32) {
    let truth = setup.truth(Milliamps(current), bus_mv);
    let model = Ina226Model::new(setup.shunt(), Instant::ZERO).into_device();
    let (bus, clock) = DeviceBus::new(model, &truth);
    let mut driver = Ina226::new(bus, address(), config);

    let reading = read_after_one_second(&mut driver, &clock);

    setup.check(truth, reading, config.current_lsb(), config.calibration());
}

/// Draws a current anywhere in `-max..=max` and a bus voltage anywhere in the chip's range,
/// with the ends of both ranges and zero drawn more often than a uniform pick would.
fn rail(setup: Setup) -> impl Strategy<Value = (i32, i32)> {
    let max = setup.max_current.0;
    let range = setup.bus_range_mv;
    let current = prop_oneof![
        1 => Just(-max),
        1 => Just(0),
        1 => Just(max),
        17 => -max..=max,
    ];
    let bus = prop_oneof![
        1 => Just(0),
        1 => Just(range),
        18 => 0..=range,
    ];
    (current, bus)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1_000))]

    #[test]
    fn ina219_model_round_trips_within_one_step(
        (current, bus_mv) in rail(ina219_reference().0),
    ) {
        let (setup, config) = ina219_reference();
        ina219_round_trip(setup, config, current, bus_mv);
    }

    #[test]
    fn ina219_tenth_ohm_round_trips_within_one_step(
        (current, bus_mv) in rail(ina219_tenth_ohm().0),
    ) {
        let (setup, config) = ina219_tenth_ohm();
        ina219_round_trip(setup, config, current, bus_mv);
    }

    #[test]
    fn ina226_model_round_trips_within_one_step(
        (current, bus_mv) in rail(ina226_reference().0),
    ) {
        let (setup, config) = ina226_reference();
        ina226_round_trip(setup, config, current, bus_mv);
    }

    #[test]
    fn ina226_two_milliohm_round_trips_within_one_step(
        (current, bus_mv) in rail(ina226_two_milliohm().0),
    ) {
        let (setup, config) = ina226_two_milliohm();
        ina226_round_trip(setup, config, current, bus_mv);
    }
}
