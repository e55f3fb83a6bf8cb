//! The supply rail over time: total current and output voltage, piecewise constant.
//!
//! The world records a point whenever either value changes. A monitor chip averages the rail
//! over its conversion window from this history, so a 5 ms inrush spike shows in a 68 ms
//! averaged conversion as the fraction of the window it lasted.

use std::collections::VecDeque;

use picluster_firmware::units::{Instant, Milliamps, Millivolts};

/// Points kept: at least several seconds of a busy cluster, enough for the longest INA219
/// averaging window (68.1 ms) and most INA226 ones. Older points are dropped.
const HISTORY_POINTS: usize = 4_096;

/// The rail's state from `at` until the next point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RailPoint {
    /// When this state began.
    pub at: Instant,
    /// Total current drawn from the supply.
    pub current: Milliamps,
    /// Supply output voltage, where the monitor sits.
    pub voltage: Millivolts,
}

/// The rail's mean over a window, in floating point for the monitor models.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RailMean {
    /// Mean current in milliamps.
    pub milliamps: f64,
    /// Mean voltage in millivolts.
    pub millivolts: f64,
}

/// Recent history of the rail.
#[derive(Clone, Debug)]
pub struct RailHistory {
    points: VecDeque<RailPoint>,
}

impl RailHistory {
    /// Starts a history with the rail's state at `at`.
    pub fn new(at: Instant, current: Milliamps, voltage: Millivolts) -> Self {
        let mut points = VecDeque::with_capacity(HISTORY_POINTS);
        points.push_back(RailPoint {
            at,
            current,
            voltage,
        });
        Self { points }
    }

    /// Returns the newest point: the rail now.
    pub fn latest(&self) -> RailPoint {
        *self.points.back().expect("a rail history is never empty")
    }

    /// Records the rail at `at`; a point equal to the newest one is not stored.
    pub fn record(&mut self, at: Instant, current: Milliamps, voltage: Millivolts) {
        let latest = self.latest();
        if latest.current == current && latest.voltage == voltage {
            return;
        }
        if latest.at == at {
            // Several settling passes at one instant leave only the final state.
            self.points.pop_back();
            if self
                .points
                .back()
                .is_some_and(|p| p.current == current && p.voltage == voltage)
            {
                return;
            }
        }
        if self.points.len() >= HISTORY_POINTS {
            self.points.pop_front();
        }
        self.points.push_back(RailPoint {
            at,
            current,
            voltage,
        });
    }

    /// Returns the time-weighted mean over `from..to`. Before the oldest point kept, the
    /// oldest point's values stand in. An empty window returns the values at `to`.
    pub fn mean(&self, from: Instant, to: Instant) -> RailMean {
        if to <= from {
            let point = self.at(to);
            return RailMean {
                milliamps: f64::from(point.current.0),
                millivolts: f64::from(point.voltage.0),
            };
        }
        // The usual window starts after the rail last changed: its mean is the newest point,
        // found without a search or a division.
        let newest = self.latest();
        if newest.at <= from {
            return RailMean {
                milliamps: f64::from(newest.current.0),
                millivolts: f64::from(newest.voltage.0),
            };
        }

        let mut current_area = 0.0;
        let mut voltage_area = 0.0;
        let mut end = to;
        for point in self.points.iter().rev() {
            if point.at >= end {
                continue;
            }
            let start = point.at.max(from);
            let span = end.since(start).as_micros() as f64;
            current_area += f64::from(point.current.0) * span;
            voltage_area += f64::from(point.voltage.0) * span;
            end = start;
            if start <= from {
                break;
            }
        }
        if end > from {
            // The window reaches past the oldest point kept.
            let oldest = self.points.front().expect("a rail history is never empty");
            let span = end.since(from).as_micros() as f64;
            current_area += f64::from(oldest.current.0) * span;
            voltage_area += f64::from(oldest.voltage.0) * span;
        }
        let width = to.since(from).as_micros() as f64;
        RailMean {
            milliamps: current_area / width,
            millivolts: voltage_area / width,
        }
    }

    /// Returns the rail's state at `at`.
    pub fn at(&self, at: Instant) -> RailPoint {
        self.points
            .iter()
            .rev()
            .find(|point| point.at <= at)
            .or(self.points.front())
            .copied()
            .expect("a rail history is never empty")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(millis: u64) -> Instant {
        Instant::from_millis(millis)
    }

    #[test]
    fn mean_weights_each_level_by_its_time() {
        let mut rail = RailHistory::new(ms(0), Milliamps(1_000), Millivolts(5_000));
        rail.record(ms(10), Milliamps(3_000), Millivolts(4_900));
        let mean = rail.mean(ms(0), ms(20));
        assert_eq!(mean.milliamps, 2_000.0);
        assert_eq!(mean.millivolts, 4_950.0);
    }

    #[test]
    fn window_after_last_change_has_newest_level() {
        let mut rail = RailHistory::new(ms(0), Milliamps(1_000), Millivolts(5_000));
        rail.record(ms(10), Milliamps(3_000), Millivolts(4_900));
        let after = rail.mean(ms(15), ms(25));
        assert_eq!(after.milliamps, 3_000.0);
        assert_eq!(after.millivolts, 4_900.0);
        let across = rail.mean(ms(5), ms(25));
        assert_eq!(across.milliamps, 2_500.0);
    }

    #[test]
    fn short_spike_counts_by_its_fraction() {
        let mut rail = RailHistory::new(ms(0), Milliamps(1_000), Millivolts(5_000));
        rail.record(ms(100), Milliamps(2_000), Millivolts(5_000));
        rail.record(ms(105), Milliamps(1_000), Millivolts(5_000));
        let mean = rail.mean(ms(100), ms(200));
        assert_eq!(mean.milliamps, 1_050.0);
    }

    #[test]
    fn same_instant_records_keep_final_state() {
        let mut rail = RailHistory::new(ms(0), Milliamps(500), Millivolts(5_000));
        rail.record(ms(5), Milliamps(900), Millivolts(4_980));
        rail.record(ms(5), Milliamps(500), Millivolts(5_000));
        assert_eq!(rail.latest().at, ms(0));
        assert_eq!(rail.at(ms(6)).current, Milliamps(500));
    }
}
