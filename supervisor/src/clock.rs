//! The daemon's clock: maps tokio's monotonic time to the controller's [`Instant`]s and to
//! wall-clock time for the journal.
//!
//! The controller's time starts at [`START`] rather than zero so that automatic cycles from
//! before the daemon started (loaded from the state file) can still be expressed. In `sim`, the
//! clock runs `speed` times faster than real time.

use std::time::{SystemTime, UNIX_EPOCH};

use picluster_firmware::units::{Duration, Instant};

/// Controller time at the daemon's start: 7 days, longer than any sensible recovery window,
/// so that every remembered cycle within its window lies after the controller's epoch.
pub const START: Instant = Instant::from_secs(7 * 24 * 60 * 60);

/// The daemon's time base.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    origin: tokio::time::Instant,
    origin_unix_ms: u64,
    speed: f64,
}

impl Clock {
    /// Starts the clock now, running `speed` times faster than real time. A speed that is not
    /// a positive finite number counts as 1.
    pub fn start(speed: f64) -> Self {
        let speed = if speed.is_finite() && speed > 0.0 {
            speed
        } else {
            1.0
        };
        Self {
            origin: tokio::time::Instant::now(),
            origin_unix_ms: unix_ms_now(),
            speed,
        }
    }

    /// Returns how many times faster than real time the clock runs.
    pub fn speed(&self) -> f64 {
        self.speed
    }

    /// Returns the controller time now.
    pub fn now(&self) -> Instant {
        let real = tokio::time::Instant::now().duration_since(self.origin);
        // The cast saturates; u64 microseconds last 584 000 years even at speed 1000.
        let scaled = (real.as_micros() as f64 * self.speed) as u64;
        START + Duration::from_micros(scaled)
    }

    /// Returns the tokio instant at which the controller time reaches `at`, rounded up so
    /// that a timer set for it never fires early.
    pub fn deadline(&self, at: Instant) -> tokio::time::Instant {
        let micros = at.since(START).as_micros();
        let real = (micros as f64 / self.speed).ceil() as u64;
        self.origin + std::time::Duration::from_micros(real)
    }

    /// Returns the time since the daemon started, in the clock's own (scaled) time.
    pub fn uptime(&self, now: Instant) -> Duration {
        now.since(START)
    }

    /// Converts a controller time to milliseconds since the Unix epoch. In `sim` the result
    /// is the simulated wall clock, which runs at the simulation's speed.
    pub fn unix_ms(&self, at: Instant) -> u64 {
        if at >= START {
            self.origin_unix_ms + at.since(START).as_millis()
        } else {
            let before = START.since(at).as_millis();
            self.origin_unix_ms.saturating_sub(before)
        }
    }

    /// Converts milliseconds since the Unix epoch to controller time, or `None` if the moment
    /// lies before the controller's epoch.
    pub fn from_unix_ms(&self, unix_ms: u64) -> Option<Instant> {
        if unix_ms >= self.origin_unix_ms {
            return Some(START + Duration::from_millis(unix_ms - self.origin_unix_ms));
        }
        let before = Duration::from_millis(self.origin_unix_ms - unix_ms);
        (before <= START.since(Instant::ZERO)).then(|| START - before)
    }
}

/// Returns the wall-clock time in milliseconds since the Unix epoch.
pub fn unix_ms_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn scaled_clock_runs_faster() {
        let clock = Clock::start(100.0);
        tokio::time::advance(std::time::Duration::from_millis(10)).await;
        assert_eq!(clock.now(), START + Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn deadline_maps_back_to_real_time() {
        let clock = Clock::start(100.0);
        let at = START + Duration::from_secs(3);
        let expected = tokio::time::Instant::now() + std::time::Duration::from_millis(30);
        assert_eq!(clock.deadline(at), expected);
    }

    #[tokio::test(start_paused = true)]
    async fn unix_time_round_trips_before_start() {
        let clock = Clock::start(1.0);
        let earlier = clock.unix_ms(START) - 90_000;
        let at = clock.from_unix_ms(earlier).unwrap();
        assert_eq!(at, START - Duration::from_secs(90));
        assert_eq!(clock.unix_ms(at), earlier);
    }
}
