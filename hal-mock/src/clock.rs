//! Pacing: how virtual time maps onto wall-clock time.
//!
//! The world itself only has virtual time (a firmware [`Instant`]); nothing in it reads a
//! clock. A [`Pacer`] computes when, in wall time, a virtual instant is due, so a desktop run can
//! follow real time or a multiple of it. Tests use [`Pacing::AsFastAsPossible`], which never
//! sleeps.

use std::time::Duration as WallDuration;
use std::time::Instant as WallInstant;

use picluster_firmware::units::Instant;

/// The rate of virtual time against the wall clock.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Pacing {
    /// No waiting: [`Pacer::wait_until`] returns at once.
    AsFastAsPossible,
    /// One virtual second per wall second.
    RealTime,
    /// `factor` virtual seconds per wall second; 10.0 runs ten times faster than real time.
    Speed(f64),
}

impl Pacing {
    /// Returns virtual seconds per wall second, or `None` when time is not paced.
    pub fn factor(self) -> Option<f64> {
        match self {
            Pacing::AsFastAsPossible => None,
            Pacing::RealTime => Some(1.0),
            Pacing::Speed(factor) if factor > 0.0 && factor.is_finite() => Some(factor),
            // A factor that is not a positive number cannot pace anything.
            Pacing::Speed(_) => None,
        }
    }
}

/// Maps virtual instants to wall-clock deadlines from a common starting point.
#[derive(Clone, Copy, Debug)]
pub struct Pacer {
    pacing: Pacing,
    virtual_start: Instant,
    wall_start: WallInstant,
}

impl Pacer {
    /// Starts pacing now: `virtual_start` corresponds to this wall instant.
    pub fn new(pacing: Pacing, virtual_start: Instant) -> Self {
        Self::starting_at(pacing, virtual_start, WallInstant::now())
    }

    /// Starts pacing with an explicit wall instant for `virtual_start`.
    pub fn starting_at(pacing: Pacing, virtual_start: Instant, wall_start: WallInstant) -> Self {
        Self {
            pacing,
            virtual_start,
            wall_start,
        }
    }

    /// Returns the pacing in force.
    pub fn pacing(&self) -> Pacing {
        self.pacing
    }

    /// Returns the wall time, after the start, at which `at` is due; `None` when unpaced.
    pub fn wall_offset(&self, at: Instant) -> Option<WallDuration> {
        let factor = self.pacing.factor()?;
        let virtual_micros = at.since(self.virtual_start).as_micros() as f64;
        Some(WallDuration::from_secs_f64(virtual_micros / 1e6 / factor))
    }

    /// Returns the wall-clock deadline for `at`; `None` when unpaced.
    pub fn wall_deadline(&self, at: Instant) -> Option<WallInstant> {
        self.wall_offset(at).map(|offset| self.wall_start + offset)
    }

    /// Blocks the calling thread until `at` is due. Returns at once when unpaced or late.
    ///
    /// Only desktop runs call this; tests run unpaced and never sleep.
    pub fn wait_until(&self, at: Instant) {
        if let Some(deadline) = self.wall_deadline(at) {
            let now = WallInstant::now();
            if deadline > now {
                std::thread::sleep(deadline - now);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_time_maps_seconds_to_seconds() {
        let wall = WallInstant::now();
        let pacer = Pacer::starting_at(Pacing::RealTime, Instant::from_secs(10), wall);
        let offset = pacer.wall_offset(Instant::from_secs(12));
        assert_eq!(offset, Some(WallDuration::from_secs(2)));
    }

    #[test]
    fn speed_factor_divides_wall_time() {
        let wall = WallInstant::now();
        let pacer = Pacer::starting_at(Pacing::Speed(10.0), Instant::ZERO, wall);
        let deadline = pacer.wall_deadline(Instant::from_secs(5));
        assert_eq!(deadline, Some(wall + WallDuration::from_millis(500)));
    }

    #[test]
    fn unpaced_has_no_deadline() {
        let pacer = Pacer::new(Pacing::AsFastAsPossible, Instant::ZERO);
        assert_eq!(pacer.wall_deadline(Instant::from_secs(60)), None);
        assert_eq!(Pacing::Speed(0.0).factor(), None);
        assert_eq!(Pacing::Speed(f64::NAN).factor(), None);
    }
}
