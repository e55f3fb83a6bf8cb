//! Hardware backends: where the daemon's output lines, heartbeat inputs and supply samples
//! come from.
//!
//! A backend is a thin adapter with no control logic. It claims the configured lines without
//! changing their levels and reports the levels it found. It hands the output pins and the
//! supply monitor to the firmware's [`Board`](picluster_firmware::board::Board), and delivers
//! heartbeat edges with the time each happened. Backends:
//!
//! - `sim` ([`sim::SimBackend`]): the simulated reference cluster of `picluster-hal-mock`.
//! - `rppal` ([`rppal::RppalBackend`]): a Raspberry Pi's GPIO registers and I2C bus through
//!   the rppal crate; outputs keep their level when the daemon stops.
//! - `linux` ([`linux::LinuxBackend`]): any Linux board through the GPIO character device and
//!   i2c-dev, with plain I2C or SMBus transfers; the kernel releases the lines when the daemon
//!   stops.

pub mod linux;
pub mod monitor;
pub mod rppal;
pub mod sim;

use std::future::Future;

use picluster_firmware::board::SampleSource;
use picluster_firmware::config::{ClusterConfig, NodeId};
use picluster_firmware::controller::Controller;
use picluster_firmware::reference::MAX_NODES;
use picluster_firmware::units::{Duration, Instant};

use embedded_hal::digital::OutputPin;

/// One heartbeat edge, stamped with the time it happened on the daemon's clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Edge {
    /// When the line changed.
    pub at: Instant,
    /// The node whose heartbeat line changed.
    pub node: NodeId,
    /// The new level (`true` = high).
    pub high: bool,
}

/// Line levels a backend found when it claimed a node's lines, before anything drove them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FoundLevels {
    /// The switch line's level (`true` = high), if the node has one.
    pub switch_high: Option<bool>,
    /// The reset line's level, if the node has one.
    pub reset_high: Option<bool>,
    /// The heartbeat input's level, if the node has one.
    pub heartbeat_high: Option<bool>,
}

/// Everything a backend opened, per node in configuration order.
#[derive(Debug)]
pub struct Hardware<S, R, M> {
    /// Switch output pins, `None` where a node has no switch (the head).
    pub switches: heapless::Vec<Option<S>, MAX_NODES>,
    /// Reset output pins, `None` where a node has no reset line.
    pub resets: heapless::Vec<Option<R>, MAX_NODES>,
    /// The supply monitor.
    pub monitor: M,
    /// The levels found on each node's lines.
    pub found: Vec<FoundLevels>,
    /// The monitor's maximum conversion time; the daemon samples no faster.
    pub sample_period: Duration,
}

/// The result of [`Backend::open`]: the backend's pins and monitor, or the reason they could
/// not be opened.
pub type OpenResult<B> = Result<
    Hardware<<B as Backend>::Switch, <B as Backend>::Reset, <B as Backend>::Monitor>,
    BackendError,
>;

/// A failure to open the hardware. Each message names the line or device and what to do.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// A configured line is held by another process.
    #[error(
        "line {line} of {chip} is busy{holder}: stop that process or pick another line for node {node}"
    )]
    LineBusy {
        /// The line.
        line: u32,
        /// The GPIO chip.
        chip: String,
        /// `: used by ...` when the kernel names the holder, else empty.
        holder: String,
        /// The node that needs the line.
        node: String,
    },
    /// A device could not be opened for lack of permission.
    #[error(
        "{device} cannot be opened: permission denied; run the daemon as a user in the group that owns it"
    )]
    AccessDenied {
        /// The device path.
        device: String,
    },
    /// Any other failure, already worded for an operator.
    #[error("{0}")]
    Other(String),
}

/// A source of output pins, heartbeat edges and supply samples.
///
/// Implementations must not change any line's level in [`Backend::open`], and the daemon never
/// sets a line on a restart, a reload or a stop. What a line does once the daemon has stopped
/// is the backend's: [`Backend::lines_after_stop`] states it.
pub trait Backend {
    /// A node's switch output.
    type Switch: OutputPin;
    /// A node's reset (RUN) output.
    type Reset: OutputPin;
    /// The supply monitor.
    type Monitor: SampleSource;

    /// Returns the backend's name for status and logs (`sim`, `rppal`, `linux`).
    fn name(&self) -> &'static str;

    /// Checks, without claiming anything, that this machine has the hardware the backend
    /// drives, so a wrong backend fails before the daemon creates its folders.
    fn preflight(&self) -> Result<(), BackendError> {
        Ok(())
    }

    /// Claims every configured line at its present level and opens the monitor; `now` is the
    /// daemon's time at start.
    fn open(&mut self, cluster: &ClusterConfig<MAX_NODES>, now: Instant) -> OpenResult<Self>;

    /// Brings the backend up to `now` (the simulator runs its world until then) and appends
    /// the heartbeat edges that happened since the last call, oldest first.
    fn advance(&mut self, now: Instant, edges: &mut Vec<Edge>);

    /// Completes when a heartbeat edge waits to be collected by [`Backend::advance`]. The
    /// default never completes, for backends whose edges only appear as time advances.
    fn edge_waiting(&mut self) -> impl Future<Output = ()> {
        std::future::pending()
    }

    /// Returns whether the backend's time is simulated. A simulated backend has every sample
    /// period processed in order, even when the daemon falls behind real time; real hardware
    /// skips the periods it missed.
    fn simulated(&self) -> bool;

    /// Sees the controller after every step of the daemon's loop; the simulator records its
    /// trace here. The default does nothing.
    fn observe(&mut self, now: Instant, controller: &Controller<MAX_NODES>) {
        let _ = (now, controller);
    }

    /// Describes what the lines do once the daemon has stopped, for the stop's log line. The
    /// default suits backends whose outputs keep their last level.
    fn lines_after_stop(&self) -> &'static str {
        "every line keeps its level"
    }

    /// Called once when the daemon stops, after the last action; the simulator writes its
    /// trace here. Must not change any line.
    fn finish(&mut self) -> Result<(), BackendError> {
        Ok(())
    }
}
