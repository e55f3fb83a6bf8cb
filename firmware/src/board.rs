//! The board loop: the controller bound to embedded-hal pins and a supply monitor.
//!
//! [`Board`] owns the output pins and the monitor, feeds the controller, and applies its
//! actions with each line's polarity. The supervisor runs one on the head node; a
//! microcontroller build could run the same with its own pins. Time still comes from the
//! caller, so the board is as testable as the controller.

use core::fmt::Debug;

use embedded_hal::digital::{InputPin, OutputPin, PinState};
use heapless::Vec;

use crate::config::{NodeId, Polarity};
use crate::controller::{Action, Command, Controller, Rejection, Sample};
use crate::event::Event;
use crate::monitor::{Monitor, MonitorError};
use crate::units::Instant;

/// A source of supply samples: a current monitor driver, or a simulated one.
pub trait SampleSource {
    /// The error returned when a sample cannot be read.
    type Error: Debug;

    /// Reads one sample: `Ok(None)` when no new conversion finished since the last read, which
    /// is not a fault. A sample's `current` is `None` when the conversion overflowed.
    fn read_sample(&mut self) -> Result<Option<Sample>, Self::Error>;
}

/// Samples from an INA219 or INA226 driver.
///
/// A conversion that found the chip reset to its defaults is dropped by the driver and
/// reported as an error, so the controller counts it and the next read uses the restored
/// calibration.
#[derive(Debug)]
pub struct MonitorSamples<M>(pub M);

impl<M: Monitor> SampleSource for MonitorSamples<M> {
    type Error = MonitorError<M::I2cError>;

    fn read_sample(&mut self) -> Result<Option<Sample>, Self::Error> {
        match self.0.read() {
            Ok(reading) => Ok(Some(Sample {
                voltage: reading.bus,
                current: reading.current,
            })),
            Err(MonitorError::NotReady) => Ok(None),
            Err(error) => Err(error),
        }
    }
}

/// A pin that failed while an action was applied.
#[derive(Debug, PartialEq, Eq)]
pub enum BoardError<S, R> {
    /// Setting a node's switch line failed.
    Switch {
        /// The node.
        node: NodeId,
        /// The pin's error.
        error: S,
    },
    /// Setting a node's reset line failed.
    Reset {
        /// The node.
        node: NodeId,
        /// The pin's error.
        error: R,
    },
}

/// The controller, its output pins and its monitor.
#[derive(Debug)]
pub struct Board<const N: usize, S, R, M> {
    controller: Controller<N>,
    switches: Vec<Option<S>, N>,
    resets: Vec<Option<R>, N>,
    monitor: M,
}

impl<const N: usize, S, R, M> Board<N, S, R, M>
where
    S: OutputPin,
    R: OutputPin,
    M: SampleSource,
{
    /// Binds a controller to its pins, given per node in configuration order (`None` where a
    /// node has no such line), and to the supply monitor. The pins are not touched here.
    pub fn new(
        controller: Controller<N>,
        switches: Vec<Option<S>, N>,
        resets: Vec<Option<R>, N>,
        monitor: M,
    ) -> Self {
        Self {
            controller,
            switches,
            resets,
            monitor,
        }
    }

    /// Reads the monitor and feeds the sample, or the failure, to the controller. Returns
    /// `Ok(None)` when no new conversion was ready.
    pub fn read_monitor(&mut self, now: Instant) -> Result<Option<Sample>, M::Error> {
        match self.monitor.read_sample() {
            Ok(Some(sample)) => {
                self.controller.sample(now, sample);
                Ok(Some(sample))
            }
            Ok(None) => {
                self.controller.poll(now);
                Ok(None)
            }
            Err(error) => {
                self.controller.sample_failed(now);
                Err(error)
            }
        }
    }

    /// Records a heartbeat edge that the caller observed (with its timestamp).
    pub fn heartbeat_edge(&mut self, now: Instant, node: NodeId, high: bool) {
        self.controller.heartbeat_edge(now, node, high);
    }

    /// Reads heartbeat inputs by polling and records every level change as an edge. `levels`
    /// contains the last level seen per node and is updated. For boards without edge interrupts.
    pub fn poll_heartbeats<I: InputPin>(
        &mut self,
        now: Instant,
        inputs: &mut [Option<I>],
        levels: &mut [bool],
    ) -> Result<(), I::Error> {
        for (index, (input, last)) in inputs.iter_mut().zip(levels.iter_mut()).enumerate() {
            let Some(input) = input else { continue };
            let high = input.is_high()?;
            if high != *last {
                *last = high;
                self.controller
                    .heartbeat_edge(now, NodeId(index as u8), high);
            }
        }
        Ok(())
    }

    /// Passes an operator command to the controller.
    pub fn command(
        &mut self,
        now: Instant,
        node: NodeId,
        command: Command,
    ) -> Result<(), Rejection> {
        self.controller.command(now, node, command)
    }

    /// Advances the controller's timers.
    pub fn poll(&mut self, now: Instant) {
        self.controller.poll(now);
    }

    /// Applies every pending action: sets lines with their polarity and hands each event to
    /// `on_event`. Stops at the first pin error; the remaining actions stay queued.
    pub fn apply(
        &mut self,
        mut on_event: impl FnMut(&Event),
    ) -> Result<(), BoardError<S::Error, R::Error>> {
        while let Some(action) = self.controller.next_action() {
            match action {
                Action::Switch { node, on } => self.set_switch(node, on)?,
                Action::Reset { node, asserted } => self.set_reset(node, asserted)?,
                Action::Event(event) => on_event(&event),
            }
        }
        Ok(())
    }

    /// Replaces the controller's configuration, keeping its state; see
    /// [`Controller::reconfigure`].
    #[allow(clippy::result_large_err)]
    pub fn reconfigure(
        &mut self,
        config: crate::config::ClusterConfig<N>,
    ) -> Result<(), crate::config::ConfigProblems> {
        self.controller.reconfigure(config)
    }

    /// Returns the controller, for status queries.
    pub fn controller(&self) -> &Controller<N> {
        &self.controller
    }

    /// Returns the monitor, for its counters.
    pub fn monitor(&self) -> &M {
        &self.monitor
    }

    /// Returns the monitor mutably, for re-initialisation or fault injection in tests.
    pub fn monitor_mut(&mut self) -> &mut M {
        &mut self.monitor
    }

    /// Takes the board apart, returning the controller, the pins and the monitor unchanged.
    /// Dropping the pins leaves their levels as they are on every backend picluster ships.
    #[allow(clippy::type_complexity)]
    pub fn release(self) -> (Controller<N>, Vec<Option<S>, N>, Vec<Option<R>, N>, M) {
        (self.controller, self.switches, self.resets, self.monitor)
    }

    fn set_switch(&mut self, node: NodeId, on: bool) -> Result<(), BoardError<S::Error, R::Error>> {
        let config = &self.controller.config().nodes[node.index()];
        let (Some(line), Some(Some(pin))) = (config.switch, self.switches.get_mut(node.index()))
        else {
            return Ok(());
        };
        let state = pin_state(line.polarity, on);
        pin.set_state(state)
            .map_err(|error| BoardError::Switch { node, error })
    }

    fn set_reset(
        &mut self,
        node: NodeId,
        asserted: bool,
    ) -> Result<(), BoardError<S::Error, R::Error>> {
        let config = &self.controller.config().nodes[node.index()];
        let (Some(line), Some(Some(pin))) = (config.reset, self.resets.get_mut(node.index()))
        else {
            return Ok(());
        };
        let state = pin_state(line.polarity, asserted);
        pin.set_state(state)
            .map_err(|error| BoardError::Reset { node, error })
    }
}

fn pin_state(polarity: Polarity, active: bool) -> PinState {
    PinState::from(polarity.level_for(active))
}

#[cfg(test)]
mod tests {
    extern crate std;

    use core::convert::Infallible;
    use std::vec::Vec as StdVec;

    use embedded_hal::digital::ErrorType;

    use super::*;
    use crate::config::Role;
    use crate::controller::NodeStart;
    use crate::monitor::{Counters, Reading};
    use crate::reference::{self, MAX_NODES};
    use crate::units::{Duration, Milliamps, Millivolts};

    /// An output pin that records every level it is set to.
    #[derive(Debug, Default)]
    struct RecordingPin {
        levels: StdVec<bool>,
    }

    impl ErrorType for RecordingPin {
        type Error = Infallible;
    }

    impl OutputPin for RecordingPin {
        fn set_low(&mut self) -> Result<(), Infallible> {
            self.levels.push(false);
            Ok(())
        }

        fn set_high(&mut self) -> Result<(), Infallible> {
            self.levels.push(true);
            Ok(())
        }
    }

    /// A sample source that always reads the same draw.
    #[derive(Debug)]
    struct SteadySupply(Milliamps);

    impl SampleSource for SteadySupply {
        type Error = Infallible;

        fn read_sample(&mut self) -> Result<Option<Sample>, Infallible> {
            Ok(Some(Sample {
                voltage: Millivolts(5_050),
                current: Some(self.0),
            }))
        }
    }

    type TestBoard = Board<MAX_NODES, RecordingPin, RecordingPin, SteadySupply>;

    fn board() -> TestBoard {
        let config = reference::cluster();
        let powered = NodeStart {
            switch_on: true,
            ..NodeStart::default()
        };
        let start = std::vec![powered; config.nodes.len()];
        let controller = Controller::new(config.clone(), Instant::ZERO, &start).unwrap();
        let mut switches = Vec::new();
        let mut resets = Vec::new();
        for node in &config.nodes {
            let worker = node.role == Role::Worker;
            let _ = switches.push(worker.then(RecordingPin::default));
            let _ = resets.push(node.reset.map(|_| RecordingPin::default()));
        }
        Board::new(controller, switches, resets, SteadySupply(Milliamps(1_500)))
    }

    #[test]
    fn board_drives_lines_with_polarity() {
        let mut board = board();
        let now = Instant::from_secs(1);
        board.read_monitor(now).unwrap();
        board.command(now, NodeId(0), Command::Reset).unwrap();
        board.command(now, NodeId(1), Command::Off).unwrap();
        board.apply(|_| {}).unwrap();

        let (_, switches, resets, _) = board.release();
        // The reference RUN lines are active high: asserting a reset drives the line high.
        assert_eq!(resets[0].as_ref().unwrap().levels, [true]);
        // The reference switches are active low: switching off drives the line high.
        assert_eq!(switches[1].as_ref().unwrap().levels, [true]);
        assert!(switches[0].as_ref().unwrap().levels.is_empty());
    }

    #[test]
    fn board_hands_events_to_caller() {
        let mut board = board();
        let mut events = StdVec::new();
        board.read_monitor(Instant::from_secs(1)).unwrap();
        board.apply(|event| events.push(*event)).unwrap();
        // One adoption event per node.
        assert_eq!(events.len(), 4);
    }

    /// A monitor whose next conversion is not finished.
    #[derive(Debug)]
    struct NotReadyMonitor;

    impl Monitor for NotReadyMonitor {
        type I2cError = embedded_hal::i2c::ErrorKind;

        fn init(&mut self) -> Result<(), MonitorError<Self::I2cError>> {
            Ok(())
        }

        fn read(&mut self) -> Result<Reading, MonitorError<Self::I2cError>> {
            Err(MonitorError::NotReady)
        }

        fn sample_period(&self) -> Duration {
            Duration::from_millis(1)
        }

        fn counters(&self) -> Counters {
            Counters::default()
        }
    }

    #[test]
    fn unfinished_conversion_is_no_sample() {
        let mut source = MonitorSamples(NotReadyMonitor);
        assert_eq!(source.read_sample(), Ok(None));
    }
}
