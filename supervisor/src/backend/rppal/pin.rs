//! Switch and reset outputs that adopt a pin's present mode and level.

use std::convert::Infallible;

use embedded_hal::digital::{ErrorType, OutputPin};
use rppal::gpio::{IoPin, Level, Mode, Pin};

/// A BCM pin used as a switch or reset output, adopted without writing to it.
///
/// rppal's `into_output` switches a pin to output with whatever level its output latch last
/// held. For a pin that was an input, that need not be the level the pin reads (rppal 0.22
/// documents it as "leaves the logic level unchanged", meaning the latch). An adopted pin
/// therefore keeps its mode. An output stays an output at its level. An input stays an input
/// at the level of the wiring's pull resistor until the first set, which writes the latch and
/// then turns the pin into an output at that level. rppal's reset on drop is off, so dropping
/// the pin changes nothing.
#[derive(Debug)]
pub struct AdoptedPin {
    pin: IoPin,
    is_output: bool,
}

impl AdoptedPin {
    /// Adopts `pin` and returns it with its present level (`true` = high). Returns the mode
    /// instead when the pin belongs to a peripheral (an `Alt` mode), which picluster must not
    /// take over.
    pub fn adopt(pin: Pin) -> Result<(Self, bool), Mode> {
        let mode = pin.mode();
        if !matches!(mode, Mode::Input | Mode::Output) {
            return Err(mode);
        }
        let high = pin.read() == Level::High;
        // The same mode as the pin's present one: rppal writes nothing.
        let mut pin = pin.into_io(mode);
        pin.set_reset_on_drop(false);
        let adopted = Self {
            pin,
            is_output: mode == Mode::Output,
        };
        Ok((adopted, high))
    }

    fn drive(&mut self, level: Level) {
        self.pin.write(level);
        if !self.is_output {
            // The latch contains the level now, so the pin starts driving exactly that.
            self.pin.set_mode(Mode::Output);
            self.is_output = true;
        }
    }
}

impl ErrorType for AdoptedPin {
    type Error = Infallible;
}

impl OutputPin for AdoptedPin {
    fn set_low(&mut self) -> Result<(), Self::Error> {
        self.drive(Level::Low);
        Ok(())
    }

    fn set_high(&mut self) -> Result<(), Self::Error> {
        self.drive(Level::High);
        Ok(())
    }
}
