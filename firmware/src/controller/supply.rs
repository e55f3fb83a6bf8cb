//! The supply side of the controller: samples, telemetry freshness and the two trips.

use crate::config::SupplyConfig;
use crate::event::Measured;
use crate::protection::{Reading, Trip, TripChange};
use crate::units::{Duration, Instant};

use super::Sample;

/// The changes the newest sample made on the supply side.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct SampleOutcome {
    pub telemetry_restored: bool,
    pub over_current: Option<TripChange>,
    pub under_voltage: Option<TripChange>,
}

/// Supply bookkeeping.
#[derive(Clone, Debug, Default)]
pub(super) struct SupplyRuntime {
    pub last: Option<(Instant, Sample)>,
    pub telemetry_lost: bool,
    pub over_current: Trip,
    pub under_voltage: Trip,
    pub trips: u32,
    pub dropped_samples: u32,
    pub started: Instant,
}

impl SupplyRuntime {
    pub fn new(now: Instant) -> Self {
        Self {
            started: now,
            ..Self::default()
        }
    }

    /// Takes a sample with a valid current and updates both trips.
    pub fn take(
        &mut self,
        now: Instant,
        sample: Sample,
        config: &SupplyConfig,
        delay: Duration,
    ) -> SampleOutcome {
        let Some(current) = sample.current else {
            // An overflowed conversion: its voltage is valid but its current is not, so the
            // whole sample is dropped rather than used for half a decision.
            self.dropped_samples = self.dropped_samples.saturating_add(1);
            return SampleOutcome::default();
        };
        self.last = Some((now, sample));
        let telemetry_restored = core::mem::take(&mut self.telemetry_lost);

        let budget = config.budget();
        let current_reading = if current > budget {
            Reading::Past
        } else if current > budget - config.over_current_hysteresis {
            Reading::Between
        } else {
            Reading::Clear
        };
        let voltage_reading = if sample.voltage < config.under_voltage {
            Reading::Past
        } else if sample.voltage < config.under_voltage_clear {
            Reading::Between
        } else {
            Reading::Clear
        };

        let over_current = self.over_current.update(now, current_reading, delay);
        let under_voltage = self.under_voltage.update(now, voltage_reading, delay);
        for change in [over_current, under_voltage] {
            if change == TripChange::Tripped {
                self.trips = self.trips.saturating_add(1);
            }
        }
        SampleOutcome {
            telemetry_restored,
            over_current: Some(over_current),
            under_voltage: Some(under_voltage),
        }
    }

    /// Counts a sample the monitor failed to deliver.
    pub fn drop_sample(&mut self) {
        self.dropped_samples = self.dropped_samples.saturating_add(1);
    }

    /// Returns when telemetry counts as lost if no valid sample arrives first.
    pub fn telemetry_deadline(&self, timeout: Duration) -> Instant {
        let last = self.last.map_or(self.started, |(at, _)| at);
        last + timeout
    }

    /// Returns whether a valid sample arrived within `timeout` of `now`.
    pub fn telemetry_ok(&self, now: Instant, timeout: Duration) -> bool {
        self.last.is_some() && now < self.telemetry_deadline(timeout)
    }

    /// Returns the newest valid sample's values.
    pub fn measured(&self) -> Measured {
        match self.last {
            Some((_, sample)) => Measured {
                voltage: Some(sample.voltage),
                current: sample.current,
            },
            None => Measured::default(),
        }
    }

    /// Returns whether either trip is in force.
    pub fn tripped(&self) -> bool {
        self.over_current.tripped() || self.under_voltage.tripped()
    }
}
