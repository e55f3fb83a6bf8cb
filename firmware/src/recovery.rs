//! The recovery ladder's memory: when a node was last cycled automatically.
//!
//! Cycles are counted in a sliding window. The first cycle of a window happens at once. Each
//! further one waits the backoff, doubled for every cycle already in the window. When the
//! window already contains the maximum, the node is quarantined instead.

use heapless::Vec;

use crate::config::Timings;
use crate::controller::CYCLE_HISTORY;
use crate::units::Instant;

/// The ladder's next step at a given time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Cycle the node now.
    Cycle,
    /// Wait until this time, then ask again.
    WaitUntil(Instant),
    /// The window already contains the maximum, so quarantine the node.
    Quarantine,
}

/// Start times of a node's automatic cycles within the window.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CycleHistory {
    cycles: Vec<Instant, CYCLE_HISTORY>,
    total: u32,
}

impl CycleHistory {
    /// Restores a persisted history.
    pub fn from_times(times: &[Instant]) -> Self {
        let mut history = Self::default();
        for &at in times.iter().rev().take(CYCLE_HISTORY).rev() {
            let _ = history.cycles.push(at);
        }
        history
    }

    /// Returns the next step at `now`.
    pub fn next_step(&mut self, now: Instant, timings: &Timings) -> Step {
        self.forget_before(now, timings);
        // Backoff doubles for every cycle already in the window: 1x, 2x, 4x ...
        let Some(allowed_at) = self.next_wait(timings) else {
            return Step::Cycle;
        };
        if now < allowed_at {
            return Step::WaitUntil(allowed_at);
        }
        if self.cycles.len() >= usize::from(timings.max_cycles) {
            return Step::Quarantine;
        }
        Step::Cycle
    }

    /// Returns when the backoff after the newest cycle ends, if any cycle is remembered.
    pub fn next_wait(&self, timings: &Timings) -> Option<Instant> {
        let last = *self.cycles.last()?;
        let doublings = (self.cycles.len() - 1).min(32) as u32;
        Some(last + timings.backoff.saturating_mul(1u64 << doublings))
    }

    /// Records a cycle that starts at `now`.
    pub fn record(&mut self, now: Instant) {
        if self.cycles.is_full() {
            self.cycles.remove(0);
        }
        let _ = self.cycles.push(now);
        self.total = self.total.saturating_add(1);
    }

    /// Returns the cycles within the window at `now`.
    pub fn recent(&self, now: Instant, timings: &Timings) -> u8 {
        let recent = self
            .cycles
            .iter()
            .filter(|&&at| now.since(at) <= timings.cycle_window);
        recent.count() as u8
    }

    /// Returns the cycles recorded since the controller started.
    pub fn total(&self) -> u32 {
        self.total
    }

    /// Returns the remembered cycle times, oldest first, for persistence.
    pub fn times(&self) -> &[Instant] {
        &self.cycles
    }

    fn forget_before(&mut self, now: Instant, timings: &Timings) {
        self.cycles
            .retain(|&at| now.since(at) <= timings.cycle_window);
    }
}
