//! Time-over-threshold detection with hysteresis, the rule behind both supply trips.
//!
//! A reading past its threshold trips only after it stays there for the trip delay, so one
//! noisy sample never sheds a node. Once tripped, it clears only when the reading passes back
//! beyond a separate clear level.

use crate::units::{Duration, Instant};

/// A reading's position relative to a trip's two levels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reading {
    /// Past the trip level.
    Past,
    /// Between the trip level and the clear level.
    Between,
    /// Beyond the clear level.
    Clear,
}

/// The change one reading made to a trip.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TripChange {
    /// Nothing changed.
    None,
    /// The reading stayed past its threshold for the delay: the trip is now in force.
    Tripped,
    /// The reading passed beyond the clear level: the trip is over.
    Cleared,
}

/// One protection trip.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Trip {
    past_since: Option<Instant>,
    tripped: bool,
}

impl Trip {
    /// Feeds one reading at `now`.
    pub fn update(&mut self, now: Instant, reading: Reading, delay: Duration) -> TripChange {
        if reading != Reading::Past {
            self.past_since = None;
        }
        match reading {
            Reading::Past => {
                let since = *self.past_since.get_or_insert(now);
                if !self.tripped && now.since(since) >= delay {
                    self.tripped = true;
                    return TripChange::Tripped;
                }
            }
            Reading::Clear if self.tripped => {
                self.tripped = false;
                return TripChange::Cleared;
            }
            _ => {}
        }
        TripChange::None
    }

    /// Forgets when the reading first passed the threshold, as after a gap in the samples.
    /// A trip in force stays in force.
    pub fn restart_timing(&mut self) {
        self.past_since = None;
    }

    /// Returns whether the trip is in force.
    pub fn tripped(&self) -> bool {
        self.tripped
    }

    /// Returns when a reading that stays past the threshold trips, if one is pending.
    pub fn trips_at(&self, delay: Duration) -> Option<Instant> {
        match (self.tripped, self.past_since) {
            (false, Some(since)) => Some(since + delay),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DELAY: Duration = Duration::from_millis(50);

    fn ms(millis: u64) -> Instant {
        Instant::from_millis(millis)
    }

    #[test]
    fn single_sample_past_threshold_does_not_trip() {
        let mut trip = Trip::default();
        assert_eq!(trip.update(ms(0), Reading::Past, DELAY), TripChange::None);
        assert_eq!(trip.update(ms(10), Reading::Clear, DELAY), TripChange::None);
        assert_eq!(trip.update(ms(100), Reading::Past, DELAY), TripChange::None);
        assert!(!trip.tripped());
    }

    #[test]
    fn reading_past_for_delay_trips() {
        let mut trip = Trip::default();
        trip.update(ms(0), Reading::Past, DELAY);
        assert_eq!(trip.update(ms(49), Reading::Past, DELAY), TripChange::None);
        assert_eq!(
            trip.update(ms(50), Reading::Past, DELAY),
            TripChange::Tripped
        );
        assert!(trip.tripped());
    }

    #[test]
    fn trip_clears_only_beyond_clear_level() {
        let mut trip = Trip::default();
        trip.update(ms(0), Reading::Past, DELAY);
        trip.update(ms(60), Reading::Past, DELAY);
        assert_eq!(
            trip.update(ms(70), Reading::Between, DELAY),
            TripChange::None
        );
        assert!(trip.tripped());
        assert_eq!(
            trip.update(ms(80), Reading::Clear, DELAY),
            TripChange::Cleared
        );
        assert!(!trip.tripped());
    }

    #[test]
    fn pending_trip_reports_its_time() {
        let mut trip = Trip::default();
        trip.update(ms(20), Reading::Past, DELAY);
        assert_eq!(trip.trips_at(DELAY), Some(ms(70)));
    }
}
