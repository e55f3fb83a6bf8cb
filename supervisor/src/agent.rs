//! The heartbeat agent (`picluster heartbeat`): runs on a worker and toggles one GPIO line
//! that the head node watches, so the daemon can tell a running worker from a hung one.
//!
//! The line changes level once per interval (1 s by default). The agent exits on SIGTERM or
//! SIGINT with its line driven low, so a stopped agent reads as a steady low on the head, the
//! same as a worker that is off. A worker that cannot run the agent (a Pi 1, whose ARMv6 CPU
//! the release builds do not support) gets the same signal from the kernel's LED `heartbeat`
//! trigger through the `gpio-led` overlay, as docs/install.md describes.
//!
//! On a Raspberry Pi the line is driven through rppal, which keeps it an output after the
//! agent exits. Elsewhere, or for a line given by name, the agent uses the GPIO character
//! device, whose lines the kernel releases at exit. The pull-down on the head's input then
//! keeps the level low.

use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use embedded_hal::digital::{ErrorType, OutputPin, PinState};
use nix::errno::Errno;
use tokio::signal::unix::{SignalKind, signal};
use tokio::time::MissedTickBehavior;
use tracing::info;

use crate::backend::linux::{LineError, LinuxOutput, errno_of, find_line};
use crate::backend::rppal::identify_pi;

/// Default time between two level changes. The reference cluster declares a heartbeat lost
/// after 15 s, fifteen missed changes at this interval.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);

/// Consumer label of the agent's line on the GPIO character device, shown by `gpioinfo`.
pub const AGENT_CONSUMER: &str = "picluster-heartbeat";

/// A line given on the command line: an offset (a BCM number on a Pi) or a line name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LineRef {
    /// The line's offset on its chip; on a Raspberry Pi the BCM GPIO number.
    Offset(u32),
    /// The line's name as `gpioinfo` lists it, such as `GPIO17`.
    Name(String),
}

impl FromStr for LineRef {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.is_empty() {
            return Err(
                "the line is empty; give a line number such as 17 or a name such as GPIO17"
                    .to_owned(),
            );
        }
        if text.bytes().all(|byte| byte.is_ascii_digit()) {
            return text.parse().map(LineRef::Offset).map_err(|_| {
                format!(
                    "line number {text} is too large; line numbers go up to {}",
                    u32::MAX
                )
            });
        }
        Ok(LineRef::Name(text.to_owned()))
    }
}

impl fmt::Display for LineRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineRef::Offset(offset) => write!(f, "line {offset}"),
            LineRef::Name(name) => write!(f, "line {name}"),
        }
    }
}

/// The interface through which the agent drives its line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum AgentDriver {
    /// rppal on a Raspberry Pi with a numbered line, the character device otherwise.
    #[default]
    Auto,
    /// The Pi's GPIO registers through rppal; the line is a BCM number.
    Rppal,
    /// The GPIO character device (`--gpio-chip`).
    Linux,
}

/// Settings of the heartbeat agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentOptions {
    /// The line to toggle.
    pub line: LineRef,
    /// Time between two level changes.
    pub interval: Duration,
    /// The interface that drives the line.
    pub driver: AgentDriver,
    /// The GPIO character device, for the `linux` driver.
    pub gpio_chip: PathBuf,
}

/// A failure that kept the agent from starting or stopped it early.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The line could not be opened. The message names the cause and the fix.
    #[error("{0}")]
    Open(String),
    /// Setting the line failed while the agent ran.
    #[error("the heartbeat line failed: {0}")]
    Line(#[from] LineError),
    /// The signal handlers could not be installed.
    #[error("installing the SIGTERM and SIGINT handlers failed: {0}")]
    Signals(std::io::Error),
    /// The interval is zero.
    #[error("the heartbeat interval must be above zero, such as 1s")]
    ZeroInterval,
}

/// The agent's line, through whichever driver opened it.
#[derive(Debug)]
pub enum AgentLine {
    /// A BCM pin through rppal.
    Rppal(rppal::gpio::OutputPin),
    /// A line of the GPIO character device.
    Linux(LinuxOutput),
}

impl ErrorType for AgentLine {
    type Error = LineError;
}

impl OutputPin for AgentLine {
    fn set_low(&mut self) -> Result<(), Self::Error> {
        self.set_state(PinState::Low)
    }

    fn set_high(&mut self) -> Result<(), Self::Error> {
        self.set_state(PinState::High)
    }

    fn set_state(&mut self, state: PinState) -> Result<(), Self::Error> {
        match self {
            AgentLine::Rppal(pin) => {
                pin.write(bool::from(state).into());
                Ok(())
            }
            AgentLine::Linux(line) => line.set_state(state),
        }
    }
}

/// Returns the driver that `options` select on this machine.
pub fn choose_driver(driver: AgentDriver, line: &LineRef, on_a_pi: bool) -> AgentDriver {
    match (driver, line) {
        (AgentDriver::Auto, LineRef::Offset(_)) if on_a_pi => AgentDriver::Rppal,
        (AgentDriver::Auto, _) => AgentDriver::Linux,
        (chosen, _) => chosen,
    }
}

/// Opens the agent's line, driven low.
pub fn open_line(options: &AgentOptions) -> Result<AgentLine, AgentError> {
    let on_a_pi = identify_pi().is_ok();
    match choose_driver(options.driver, &options.line, on_a_pi) {
        AgentDriver::Rppal => open_rppal(&options.line),
        _ => open_linux(options),
    }
}

fn open_rppal(line: &LineRef) -> Result<AgentLine, AgentError> {
    identify_pi().map_err(|error| AgentError::Open(error.to_string()))?;
    let LineRef::Offset(offset) = line else {
        return Err(AgentError::Open(format!(
            "rppal takes BCM numbers, not line names; give --line as a number or use \
             --driver linux for {line}"
        )));
    };
    let number = u8::try_from(*offset)
        .map_err(|_| AgentError::Open(format!("BCM {offset} is not a GPIO of this Pi")))?;
    let gpio = rppal::gpio::Gpio::new()
        .map_err(|error| AgentError::Open(format!("opening the Pi's GPIO failed: {error}")))?;
    let pin = gpio
        .get(number)
        .map_err(|error| AgentError::Open(format!("BCM {number} cannot be used: {error}")))?;
    let mut pin = pin.into_output_low();
    // Exit leaves the pin an output at its last level, low.
    pin.set_reset_on_drop(false);
    Ok(AgentLine::Rppal(pin))
}

fn open_linux(options: &AgentOptions) -> Result<AgentLine, AgentError> {
    let chip = &options.gpio_chip;
    let offset = match &options.line {
        LineRef::Offset(offset) => *offset,
        LineRef::Name(name) => find_line(chip, name).map_err(|error| {
            AgentError::Open(format!(
                "finding line {name} on {} failed: {error}",
                chip.display()
            ))
        })?,
    };
    LinuxOutput::claim_driven(chip, offset, AGENT_CONSUMER, false)
        .map(AgentLine::Linux)
        .map_err(|error| AgentError::Open(describe_open_error(&error, chip, offset)))
}

/// Words a failed line request for the operator.
fn describe_open_error(error: &gpiocdev::Error, chip: &std::path::Path, offset: u32) -> String {
    let chip_name = chip.display();
    match errno_of(error) {
        Some(Errno::EBUSY) => format!(
            "line {offset} of {chip_name} is busy: another process or a kernel driver (such as \
             a gpio-led overlay on the same line) holds it; stop that user or pick another \
             --line"
        ),
        Some(Errno::EACCES | Errno::EPERM) => format!(
            "{chip_name} cannot be opened: permission denied; run the agent as a user in the \
             group that owns it (gpio on Raspberry Pi OS)"
        ),
        Some(Errno::ENOENT) => format!(
            "{chip_name} does not exist; list the chips with `ls /dev/gpiochip*` and pass \
             --gpio-chip"
        ),
        Some(Errno::EINVAL) => {
            format!("line {offset} cannot be requested on {chip_name}: the chip has no such line")
        }
        _ => format!("requesting line {offset} of {chip_name} failed: {error}"),
    }
}

/// Toggles `pin` every `interval` until `shutdown` completes, then drives it low. The first
/// change, to high, is immediate. Returns the number of level changes.
///
/// The pin is driven low also when setting it failed; the first error is returned. Panics if
/// `interval` is zero, as tokio's interval does; [`serve`] rejects that first.
pub async fn run<P: OutputPin>(
    mut pin: P,
    interval: Duration,
    shutdown: impl Future<Output = ()>,
) -> Result<u64, P::Error> {
    let mut shutdown = std::pin::pin!(shutdown);
    let mut ticks = tokio::time::interval(interval);
    // After a stall (a suspended system), keep the interval between changes rather than
    // catching up with a burst that the head would take for a noisy line.
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);

    let mut high = false;
    let mut changes = 0;
    let outcome = loop {
        tokio::select! {
            biased;
            () = &mut shutdown => break Ok(()),
            _ = ticks.tick() => {
                high = !high;
                if let Err(error) = pin.set_state(PinState::from(high)) {
                    break Err(error);
                }
                changes += 1;
            }
        }
    };

    let low = pin.set_low();
    outcome?;
    low?;
    Ok(changes)
}

/// Opens the line and runs the agent until SIGTERM or SIGINT; the entry point of
/// `picluster heartbeat`.
pub async fn serve(options: &AgentOptions) -> Result<(), AgentError> {
    if options.interval.is_zero() {
        return Err(AgentError::ZeroInterval);
    }
    let mut terminate = signal(SignalKind::terminate()).map_err(AgentError::Signals)?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(AgentError::Signals)?;
    let shutdown = async move {
        tokio::select! {
            _ = terminate.recv() => info!(signal = "SIGTERM", "stopping the heartbeat"),
            _ = interrupt.recv() => info!(signal = "SIGINT", "stopping the heartbeat"),
        }
    };

    let line = open_line(options)?;
    let driver = match &line {
        AgentLine::Rppal(_) => "rppal",
        AgentLine::Linux(_) => "linux",
    };
    info!(
        line = %options.line,
        driver,
        interval_ms = options.interval.as_millis() as u64,
        "heartbeat started"
    );
    let changes = run(line, options.interval, shutdown).await?;
    info!(changes, "heartbeat stopped; the line is left low");
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use embedded_hal::digital::ErrorKind;
    use tokio::sync::oneshot;
    use tokio::time::Instant;

    use super::*;

    /// Level writes with the (paused) time of each.
    type Writes = Arc<Mutex<Vec<(Duration, bool)>>>;

    /// An output pin that records its writes and fails the write numbered `fail_at`.
    #[derive(Debug)]
    struct RecordingPin {
        start: Instant,
        writes: Writes,
        fail_at: Option<usize>,
    }

    #[derive(Debug, PartialEq, Eq)]
    struct PinFailure;

    impl embedded_hal::digital::Error for PinFailure {
        fn kind(&self) -> ErrorKind {
            ErrorKind::Other
        }
    }

    impl ErrorType for RecordingPin {
        type Error = PinFailure;
    }

    impl OutputPin for RecordingPin {
        fn set_low(&mut self) -> Result<(), PinFailure> {
            self.record(false)
        }

        fn set_high(&mut self) -> Result<(), PinFailure> {
            self.record(true)
        }
    }

    impl RecordingPin {
        fn new(fail_at: Option<usize>) -> (Self, Writes) {
            let writes = Writes::default();
            let pin = Self {
                start: Instant::now(),
                writes: Arc::clone(&writes),
                fail_at,
            };
            (pin, writes)
        }

        fn record(&mut self, high: bool) -> Result<(), PinFailure> {
            let mut writes = self.writes.lock().unwrap();
            let index = writes.len();
            writes.push((self.start.elapsed(), high));
            if self.fail_at == Some(index) {
                return Err(PinFailure);
            }
            Ok(())
        }
    }

    fn millis(value: u64) -> Duration {
        Duration::from_millis(value)
    }

    #[tokio::test(start_paused = true)]
    async fn agent_toggles_every_interval() {
        let (pin, writes) = RecordingPin::new(None);
        let (stop, stopped) = oneshot::channel::<()>();
        let agent = tokio::spawn(run(pin, DEFAULT_INTERVAL, async {
            let _ = stopped.await;
        }));

        tokio::time::sleep(millis(3_500)).await;
        stop.send(()).unwrap();
        let changes = agent.await.unwrap().unwrap();

        assert_eq!(changes, 4);
        let expected = vec![
            (millis(0), true),
            (millis(1_000), false),
            (millis(2_000), true),
            (millis(3_000), false),
            (millis(3_500), false),
        ];
        assert_eq!(*writes.lock().unwrap(), expected);
    }

    #[tokio::test(start_paused = true)]
    async fn agent_leaves_line_low_when_stopped_high() {
        let (pin, writes) = RecordingPin::new(None);
        let (stop, stopped) = oneshot::channel::<()>();
        let agent = tokio::spawn(run(pin, DEFAULT_INTERVAL, async {
            let _ = stopped.await;
        }));

        tokio::time::sleep(millis(2_200)).await;
        stop.send(()).unwrap();
        agent.await.unwrap().unwrap();

        let writes = writes.lock().unwrap();
        assert_eq!(writes[writes.len() - 2], (millis(2_000), true));
        assert_eq!(writes[writes.len() - 1], (millis(2_200), false));
    }

    #[tokio::test(start_paused = true)]
    async fn agent_stops_on_pin_error_with_line_low() {
        // The third write (at 2 s) fails.
        let (pin, writes) = RecordingPin::new(Some(2));
        let forever = std::future::pending::<()>();

        let result = run(pin, DEFAULT_INTERVAL, forever).await;

        assert_eq!(result, Err(PinFailure));
        let writes = writes.lock().unwrap();
        assert_eq!(writes.len(), 4);
        assert_eq!(writes[3], (millis(2_000), false));
    }

    #[tokio::test(start_paused = true)]
    async fn agent_keeps_interval_after_stall() {
        let (pin, writes) = RecordingPin::new(None);
        let (stop, stopped) = oneshot::channel::<()>();
        let agent = tokio::spawn(run(pin, millis(500), async {
            let _ = stopped.await;
        }));
        tokio::time::sleep(millis(100)).await;

        // The runtime stalls for 2 s, as a suspended system would; no burst of catch-up
        // changes follows.
        tokio::time::advance(millis(2_000)).await;
        tokio::time::sleep(millis(100)).await;
        stop.send(()).unwrap();
        agent.await.unwrap().unwrap();

        let times: Vec<Duration> = writes.lock().unwrap().iter().map(|(at, _)| *at).collect();
        assert_eq!(times, vec![millis(0), millis(2_100), millis(2_200)]);
    }

    #[tokio::test]
    async fn zero_interval_is_rejected() {
        let options = AgentOptions {
            line: LineRef::Offset(17),
            interval: Duration::ZERO,
            driver: AgentDriver::Linux,
            gpio_chip: PathBuf::from("/dev/gpiochip0"),
        };

        let result = serve(&options).await;

        assert!(
            matches!(result, Err(AgentError::ZeroInterval)),
            "{result:?}"
        );
    }

    #[test]
    fn numeric_line_is_an_offset() {
        assert_eq!("17".parse(), Ok(LineRef::Offset(17)));
    }

    #[test]
    fn named_line_is_a_name() {
        assert_eq!("GPIO17".parse(), Ok(LineRef::Name("GPIO17".to_owned())));
    }

    #[test]
    fn empty_line_is_rejected() {
        let error = " ".parse::<LineRef>().unwrap_err();
        assert!(error.contains("line number such as 17"), "{error}");
    }

    #[test]
    fn auto_uses_rppal_on_a_pi() {
        let driver = choose_driver(AgentDriver::Auto, &LineRef::Offset(17), true);
        assert_eq!(driver, AgentDriver::Rppal);
    }

    #[test]
    fn auto_uses_chardev_elsewhere() {
        let driver = choose_driver(AgentDriver::Auto, &LineRef::Offset(17), false);
        assert_eq!(driver, AgentDriver::Linux);
    }

    #[test]
    fn named_line_uses_chardev_on_a_pi() {
        let line = LineRef::Name("GPIO17".to_owned());
        assert_eq!(
            choose_driver(AgentDriver::Auto, &line, true),
            AgentDriver::Linux
        );
    }

    #[test]
    fn busy_line_message_names_overlay() {
        let busy = gpiocdev_uapi::Error::Os(gpiocdev_uapi::Errno(Errno::EBUSY as i32));
        let error = gpiocdev::Error::Uapi(gpiocdev::UapiCall::GetLine, busy);
        let message = describe_open_error(&error, std::path::Path::new("/dev/gpiochip0"), 17);
        assert!(
            message.starts_with("line 17 of /dev/gpiochip0 is busy"),
            "{message}"
        );
        assert!(message.contains("gpio-led overlay"), "{message}");
    }
}
