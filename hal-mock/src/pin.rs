//! Pins on the world's lines, behind the embedded-hal 1.0 digital traits.
//!
//! An output pin drives its line from the head's side. An input pin reads its line and keeps
//! a queue of the edges since the last read of the queue, like the Linux GPIO character
//! device's line events. Dropping a pin releases the claim and never changes the line's level: the line
//! keeps being driven at the level the pin left.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use embedded_hal::digital::{self, ErrorKind, InputPin, OutputPin, StatefulOutputPin};
use embedded_hal_async::digital::Wait;
use picluster_firmware::config::LineId;

use crate::line::Edge;
use crate::world::World;

/// A failed pin operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PinError {
    /// The line was set to fail, as after the GPIO chip was removed.
    #[error("line {} failed: the simulated GPIO chip reports an I/O error", .line.0)]
    LineFault {
        /// The line.
        line: LineId,
    },
}

impl digital::Error for PinError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Other
    }
}

/// An output line claimed by the head.
#[derive(Debug)]
pub struct SimOutputPin {
    world: World,
    line: LineId,
}

impl SimOutputPin {
    pub(crate) fn new(world: World, line: LineId) -> Self {
        Self { world, line }
    }

    /// Returns the line this pin drives.
    pub fn line(&self) -> LineId {
        self.line
    }

    fn set(&mut self, level: bool) -> Result<(), PinError> {
        let line = self.line;
        self.world.with_state(|state| {
            if state.line(line).faulted {
                return Err(PinError::LineFault { line });
            }
            state.drive(line, level);
            Ok(())
        })
    }

    fn driven_level(&self) -> Result<bool, PinError> {
        let line = self.line;
        self.world.with_state(|state| {
            let entry = state.line(line);
            if entry.faulted {
                return Err(PinError::LineFault { line });
            }
            Ok(entry.head_drive.unwrap_or(entry.level))
        })
    }
}

impl Drop for SimOutputPin {
    fn drop(&mut self) {
        let line = self.line;
        self.world.with_state(|state| state.release(line));
    }
}

impl digital::ErrorType for SimOutputPin {
    type Error = PinError;
}

impl OutputPin for SimOutputPin {
    fn set_low(&mut self) -> Result<(), PinError> {
        self.set(false)
    }

    fn set_high(&mut self) -> Result<(), PinError> {
        self.set(true)
    }
}

impl StatefulOutputPin for SimOutputPin {
    fn is_set_high(&mut self) -> Result<bool, PinError> {
        self.driven_level()
    }

    fn is_set_low(&mut self) -> Result<bool, PinError> {
        self.driven_level().map(|high| !high)
    }
}

/// An input line claimed by the head.
#[derive(Debug)]
pub struct SimInputPin {
    world: World,
    line: LineId,
    /// Sequence number of the newest edge already taken.
    cursor: u64,
}

impl SimInputPin {
    pub(crate) fn new(world: World, line: LineId, cursor: u64) -> Self {
        Self {
            world,
            line,
            cursor,
        }
    }

    /// Returns the line this pin reads.
    pub fn line(&self) -> LineId {
        self.line
    }

    /// Appends the edges since the last call to `out`, oldest first, and returns how many
    /// edges were lost because the line's history overflowed in between.
    pub fn take_edges_into(&mut self, out: &mut Vec<Edge>) -> u64 {
        let line = self.line;
        let cursor = self.cursor;
        let (newest, lost) = self.world.with_state(|state| {
            let entry = state.line(line);
            let oldest_kept = entry
                .history
                .front()
                .map_or(entry.changes + 1, |(seq, _)| *seq);
            let lost = oldest_kept.saturating_sub(cursor + 1);
            out.extend(entry.edges_after(cursor).map(|(_, edge)| edge));
            (entry.changes, lost)
        });
        self.cursor = newest;
        lost
    }

    /// Returns the edges since the last call, oldest first.
    pub fn take_edges(&mut self) -> Vec<Edge> {
        let mut edges = Vec::new();
        self.take_edges_into(&mut edges);
        edges
    }

    fn wait(&mut self, condition: WaitFor) -> EdgeWait {
        let line = self.line;
        let start = self.world.with_state(|state| state.line(line).changes);
        EdgeWait {
            world: self.world.clone(),
            line,
            condition,
            start,
        }
    }
}

impl Drop for SimInputPin {
    fn drop(&mut self) {
        let line = self.line;
        self.world.with_state(|state| state.release(line));
    }
}

impl digital::ErrorType for SimInputPin {
    type Error = PinError;
}

impl InputPin for SimInputPin {
    fn is_high(&mut self) -> Result<bool, PinError> {
        let line = self.line;
        self.world.with_state(|state| {
            let entry = state.line(line);
            if entry.faulted {
                return Err(PinError::LineFault { line });
            }
            Ok(entry.level)
        })
    }

    fn is_low(&mut self) -> Result<bool, PinError> {
        self.is_high().map(|high| !high)
    }
}

impl Wait for SimInputPin {
    async fn wait_for_high(&mut self) -> Result<(), PinError> {
        self.wait(WaitFor::High).await
    }

    async fn wait_for_low(&mut self) -> Result<(), PinError> {
        self.wait(WaitFor::Low).await
    }

    async fn wait_for_rising_edge(&mut self) -> Result<(), PinError> {
        self.wait(WaitFor::Rising).await
    }

    async fn wait_for_falling_edge(&mut self) -> Result<(), PinError> {
        self.wait(WaitFor::Falling).await
    }

    async fn wait_for_any_edge(&mut self) -> Result<(), PinError> {
        self.wait(WaitFor::AnyEdge).await
    }
}

/// The condition a [`Wait`] future waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WaitFor {
    High,
    Low,
    Rising,
    Falling,
    AnyEdge,
}

/// Resolves when the line meets its condition; woken by the world on every edge.
#[derive(Debug)]
struct EdgeWait {
    world: World,
    line: LineId,
    condition: WaitFor,
    /// The line's change count when the wait began: only later edges count.
    start: u64,
}

impl Future for EdgeWait {
    type Output = Result<(), PinError>;

    fn poll(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let (line, condition, start) = (this.line, this.condition, this.start);
        this.world.with_state(|state| {
            let entry = state.line_mut(line);
            if entry.faulted {
                return Poll::Ready(Err(PinError::LineFault { line }));
            }
            let met = match condition {
                WaitFor::High => entry.level,
                WaitFor::Low => !entry.level,
                WaitFor::Rising => entry.last_rising > start,
                WaitFor::Falling => entry.last_falling > start,
                WaitFor::AnyEdge => entry.changes > start,
            };
            if met {
                return Poll::Ready(Ok(()));
            }
            if !entry.wakers.iter().any(|w| w.will_wake(context.waker())) {
                entry.wakers.push(context.waker().clone());
            }
            Poll::Pending
        })
    }
}
