//! Probe for the kernel-test harness: uses the GPIO character device and i2c-dev the way
//! picluster's `linux` backend does, against gpio-sim and i2c-stub in the test VM.
//!
//! It prints one `PASS <check>` or `FAIL <check>: <reason>` line per check and exits with
//! status 1 when a check failed (2 on invalid arguments). The guest script plays the other
//! side: it preloads the INA219 bus voltage register, reads the output line through
//! gpio-sim, and pulls the input line up once the probe prints `waiting for an edge`.

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use embedded_hal::digital::OutputPin;
use embedded_hal::i2c::I2c;
use gpio_cdev::{Chip, EventRequestFlags, EventType, LineDirection, LineRequestFlags};
use i2cdev::core::I2CDevice;
use i2cdev::linux::LinuxI2CDevice;
use linux_embedded_hal::{CdevPin, I2cdev};

/// Consumer label of every line that the probe requests, as picluster labels its lines.
const CONSUMER: &str = "picluster";

/// INA219 bus voltage register (INA219 datasheet, TI SBOS448).
const INA219_BUS_VOLTAGE_REGISTER: u8 = 0x02;

/// One bit of the bus voltage (bits 15 to 3 of register 0x02) is 4 mV (INA219 datasheet).
const INA219_BUS_VOLTAGE_STEP_MILLIVOLTS: u32 = 4;

/// Linux errno for "operation not supported" (asm-generic/errno.h, the same on x86 and ARM).
const EOPNOTSUPP: i32 = 95;

const USAGE: &str = "usage: picluster-kernel-probe --chip-label LABEL --output-line OFFSET \
--input-line OFFSET --i2c-device PATH --address ADDRESS --expected-bus-register VALUE \
--expected-bus-millivolts MILLIVOLTS [--edge-timeout SECONDS]";

/// Command-line options. Numbers may be decimal or hexadecimal with a `0x` prefix.
#[derive(Debug)]
struct Options {
    /// Label of the GPIO chip to use.
    chip_label: String,
    /// Line that the probe drives high.
    output_line: u32,
    /// Line on which the probe waits for a rising edge.
    input_line: u32,
    /// i2c-dev node of the bus with the INA219 (or i2c-stub).
    i2c_device: PathBuf,
    /// 7-bit I2C address of the INA219.
    address: u8,
    /// Bus voltage register value that the guest script stored, as the INA219 sends it.
    expected_bus_register: u16,
    /// Bus voltage that `expected_bus_register` encodes.
    expected_bus_millivolts: u32,
    /// How long to wait for the edge.
    edge_timeout: Duration,
}

fn parse_number<T: TryFrom<u64>>(name: &str, text: &str) -> Result<T, String> {
    let parsed = match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed
        .ok()
        .and_then(|value| T::try_from(value).ok())
        .ok_or_else(|| format!("invalid value '{text}' for {name}"))
}

fn parse_options(arguments: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut chip_label = None;
    let mut output_line = None;
    let mut input_line = None;
    let mut i2c_device = None;
    let mut address = None;
    let mut expected_bus_register = None;
    let mut expected_bus_millivolts = None;
    let mut edge_timeout = Duration::from_secs(10);

    let mut arguments = arguments;
    while let Some(name) = arguments.next() {
        let value = arguments
            .next()
            .ok_or_else(|| format!("missing value for {name}"))?;
        match name.as_str() {
            "--chip-label" => chip_label = Some(value),
            "--output-line" => output_line = Some(parse_number(&name, &value)?),
            "--input-line" => input_line = Some(parse_number(&name, &value)?),
            "--i2c-device" => i2c_device = Some(PathBuf::from(value)),
            "--address" => address = Some(parse_number(&name, &value)?),
            "--expected-bus-register" => {
                expected_bus_register = Some(parse_number(&name, &value)?);
            }
            "--expected-bus-millivolts" => {
                expected_bus_millivolts = Some(parse_number(&name, &value)?);
            }
            "--edge-timeout" => edge_timeout = Duration::from_secs(parse_number(&name, &value)?),
            _ => return Err(format!("unknown option {name}")),
        }
    }

    let missing = |name: &str| format!("missing option {name}");
    Ok(Options {
        chip_label: chip_label.ok_or_else(|| missing("--chip-label"))?,
        output_line: output_line.ok_or_else(|| missing("--output-line"))?,
        input_line: input_line.ok_or_else(|| missing("--input-line"))?,
        i2c_device: i2c_device.ok_or_else(|| missing("--i2c-device"))?,
        address: address.ok_or_else(|| missing("--address"))?,
        expected_bus_register: expected_bus_register
            .ok_or_else(|| missing("--expected-bus-register"))?,
        expected_bus_millivolts: expected_bus_millivolts
            .ok_or_else(|| missing("--expected-bus-millivolts"))?,
        edge_timeout,
    })
}

/// Check results printed so far.
#[derive(Debug, Default)]
struct Report {
    failed: usize,
}

impl Report {
    /// Prints the result of one check and passes the result on.
    fn check<T>(&mut self, name: &str, result: Result<T, String>) -> Result<T, String> {
        match &result {
            Ok(_) => println!("PASS {name}"),
            Err(reason) => {
                println!("FAIL {name}: {reason}");
                self.failed += 1;
            }
        }
        result
    }
}

fn find_chip(label: &str) -> Result<Chip, String> {
    let chips = gpio_cdev::chips().map_err(|error| format!("cannot list GPIO chips: {error}"))?;
    for chip in chips {
        let chip = chip.map_err(|error| format!("cannot open a GPIO chip: {error}"))?;
        if chip.label() == label {
            return Ok(chip);
        }
    }
    Err(format!("no GPIO chip has the label '{label}'"))
}

/// Requests `offset` as an output and drives it high through the embedded-hal trait.
fn drive_output_high(chip: &mut Chip, offset: u32) -> Result<CdevPin, String> {
    let line = chip
        .get_line(offset)
        .map_err(|error| format!("line {offset}: {error}"))?;
    let handle = line
        .request(LineRequestFlags::OUTPUT, 0, CONSUMER)
        .map_err(|error| format!("requesting line {offset} as output failed: {error}"))?;
    let mut pin = CdevPin::new(handle).map_err(|error| format!("line {offset}: {error}"))?;
    pin.set_high()
        .map_err(|error| format!("setting line {offset} high failed: {error}"))?;
    Ok(pin)
}

fn check_output_line_info(chip: &mut Chip, offset: u32) -> Result<(), String> {
    let info = chip
        .get_line(offset)
        .and_then(|line| line.info())
        .map_err(|error| format!("reading the info of line {offset} failed: {error}"))?;
    if info.consumer() != Some(CONSUMER) {
        return Err(format!(
            "line {offset} has consumer {:?}, expected {CONSUMER:?}",
            info.consumer()
        ));
    }
    if info.direction() != LineDirection::Out {
        return Err(format!("line {offset} is not an output"));
    }
    Ok(())
}

/// Waits for the next edge on `offset`. The kernel queues edges from the moment of the
/// request, so an edge produced before the wait starts is not lost.
fn wait_for_rising_edge(chip: &mut Chip, offset: u32, timeout: Duration) -> Result<(), String> {
    let line = chip
        .get_line(offset)
        .map_err(|error| format!("line {offset}: {error}"))?;
    let mut events = line
        .events(
            LineRequestFlags::INPUT,
            EventRequestFlags::BOTH_EDGES,
            CONSUMER,
        )
        .map_err(|error| format!("requesting edge events on line {offset} failed: {error}"))?;
    println!(
        "probe: waiting for an edge on line {offset} for {} s",
        timeout.as_secs()
    );

    // gpio-cdev reads events with a blocking read, so a thread waits and the timeout
    // applies to the channel. On a timeout the process exits with the thread still blocked.
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        let event = events.get_event();
        let level = events.get_value();
        // Sending fails only after a timeout, when the main thread no longer waits.
        let _ = sender.send((event, level));
    });
    let (event, level) = receiver
        .recv_timeout(timeout)
        .map_err(|_| format!("no edge on line {offset} within {} s", timeout.as_secs()))?;

    let event = event.map_err(|error| format!("reading an edge event failed: {error}"))?;
    if event.event_type() != EventType::RisingEdge {
        return Err(format!("the first edge was {:?}", event.event_type()));
    }
    match level {
        Ok(1) => Ok(()),
        Ok(other) => Err(format!("line {offset} reads {other} after a rising edge")),
        Err(error) => Err(format!("reading line {offset} failed: {error}")),
    }
}

fn run_gpio_checks(report: &mut Report, options: &Options) -> Result<(), String> {
    let mut chip = report.check("gpio-chip-found-by-label", find_chip(&options.chip_label))?;
    // The pin stays requested, and so driven high, until the edge check is over, while the
    // guest script reads the level through gpio-sim.
    let _output = report.check(
        "gpio-output-driven-high",
        drive_output_high(&mut chip, options.output_line),
    )?;
    report.check(
        "gpio-output-consumer-label",
        check_output_line_info(&mut chip, options.output_line),
    )?;
    report.check(
        "gpio-input-rising-edge",
        wait_for_rising_edge(&mut chip, options.input_line, options.edge_timeout),
    )?;
    Ok(())
}

/// Reads the INA219 bus voltage register with an SMBus word read, as the kernel's ina2xx
/// driver does, and checks the byte order.
fn check_smbus_word_read(options: &Options) -> Result<u16, String> {
    let mut device = LinuxI2CDevice::new(&options.i2c_device, options.address.into())
        .map_err(|error| format!("opening {}: {error}", options.i2c_device.display()))?;
    let word = device
        .smbus_read_word_data(INA219_BUS_VOLTAGE_REGISTER)
        .map_err(|error| format!("SMBus word read failed: {error}"))?;
    // The INA219 sends the most significant byte first, and SMBus takes the first byte as
    // the least significant one.
    let register = word.swap_bytes();
    if register != options.expected_bus_register {
        return Err(format!(
            "SMBus word 0x{word:04x} gives register 0x{register:04x} after the byte swap, \
             expected 0x{:04x}",
            options.expected_bus_register
        ));
    }
    Ok(register)
}

fn check_bus_voltage(register: u16, expected: u32) -> Result<(), String> {
    let millivolts = u32::from(register >> 3) * INA219_BUS_VOLTAGE_STEP_MILLIVOLTS;
    if millivolts != expected {
        return Err(format!(
            "register 0x{register:04x} decodes to {millivolts} mV, expected {expected} mV"
        ));
    }
    Ok(())
}

/// Checks that i2c-stub rejects plain I2C transfers (I2C_RDWR), which embedded-hal's `I2c`
/// trait on linux-embedded-hal uses. Code under test must read the stub with SMBus calls.
fn check_i2c_rdwr_rejected(options: &Options) -> Result<(), String> {
    let mut bus = I2cdev::new(&options.i2c_device)
        .map_err(|error| format!("opening {}: {error}", options.i2c_device.display()))?;
    let mut buffer = [0u8; 2];
    match bus.write_read(options.address, &[INA219_BUS_VOLTAGE_REGISTER], &mut buffer) {
        Ok(()) => Err(format!(
            "I2C_RDWR succeeded (bytes {buffer:02x?}); i2c-stub now supports plain I2C \
             transfers, so update the kernel-test documentation"
        )),
        Err(error) => match errno_of(error.inner()) {
            Some(EOPNOTSUPP) => Ok(()),
            _ => Err(format!(
                "I2C_RDWR failed with '{error}', expected EOPNOTSUPP"
            )),
        },
    }
}

fn errno_of(error: &i2cdev::linux::LinuxI2CError) -> Option<i32> {
    match error {
        i2cdev::linux::LinuxI2CError::Errno(errno) => Some(*errno),
        i2cdev::linux::LinuxI2CError::Io(error) => error.raw_os_error(),
    }
}

fn run_i2c_checks(report: &mut Report, options: &Options) {
    if let Ok(register) = report.check(
        "smbus-word-read-byte-swapped",
        check_smbus_word_read(options),
    ) {
        let _ = report.check(
            "ina219-bus-voltage-decoded",
            check_bus_voltage(register, options.expected_bus_millivolts),
        );
    }
    let _ = report.check(
        "i2c-rdwr-rejected-by-i2c-stub",
        check_i2c_rdwr_rejected(options),
    );
}

fn main() -> ExitCode {
    let options = match parse_options(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("picluster-kernel-probe: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };

    let mut report = Report::default();
    // A failed GPIO step ends the GPIO checks (later steps need it), not the I2C checks.
    let _ = run_gpio_checks(&mut report, &options);
    run_i2c_checks(&mut report, &options);

    if report.failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
