//! Kernel edge timestamps mapped onto the daemon's clock.

use nix::time::{ClockId, clock_gettime};
use picluster_firmware::units::{Duration, Instant};

/// Maps `CLOCK_MONOTONIC` timestamps in nanoseconds onto the daemon's controller time.
///
/// The GPIO character device stamps each edge event with `CLOCK_MONOTONIC` unless a request
/// selects another clock, and rppal's interrupt events carry the same timestamp. The daemon's
/// clock is tokio's `Instant`, which is also `CLOCK_MONOTONIC` on Linux, so one pair of
/// readings taken at start ties the two together for as long as the daemon runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelClock {
    origin: Instant,
    origin_ns: u64,
}

impl KernelClock {
    /// Ties controller time `origin` to the kernel's monotonic time `origin_ns`, both taken at
    /// the same moment.
    pub fn new(origin: Instant, origin_ns: u64) -> Self {
        Self { origin, origin_ns }
    }

    /// Ties controller time `now` to the kernel's monotonic clock as it reads now.
    pub fn starting_now(now: Instant) -> Result<Self, nix::Error> {
        Ok(Self::new(now, monotonic_now_ns()?))
    }

    /// Converts a kernel timestamp to controller time, rounding to the microsecond the
    /// controller counts in. A timestamp before the origin maps to a time before it.
    pub fn to_instant(&self, timestamp_ns: u64) -> Instant {
        if timestamp_ns >= self.origin_ns {
            let after = (timestamp_ns - self.origin_ns) / 1_000;
            self.origin + Duration::from_micros(after)
        } else {
            let before = (self.origin_ns - timestamp_ns).div_ceil(1_000);
            self.origin - Duration::from_micros(before)
        }
    }
}

/// Reads `CLOCK_MONOTONIC` in nanoseconds.
pub fn monotonic_now_ns() -> Result<u64, nix::Error> {
    let now = clock_gettime(ClockId::CLOCK_MONOTONIC)?;
    // CLOCK_MONOTONIC never reads negative; u64 nanoseconds last 584 years of uptime.
    let seconds = u64::try_from(now.tv_sec()).unwrap_or(0);
    let nanoseconds = u64::try_from(now.tv_nsec()).unwrap_or(0);
    Ok(seconds * 1_000_000_000 + nanoseconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGIN: Instant = Instant::from_secs(604_800);

    #[test]
    fn edge_after_start_maps_forward() {
        let clock = KernelClock::new(ORIGIN, 5_000_000_000);
        let edge = clock.to_instant(5_250_000_000);
        assert_eq!(edge, ORIGIN + Duration::from_millis(250));
    }

    #[test]
    fn edge_before_start_maps_backward() {
        let clock = KernelClock::new(ORIGIN, 5_000_000_000);
        let edge = clock.to_instant(4_999_998_500);
        assert_eq!(edge, ORIGIN - Duration::from_micros(2));
    }

    #[test]
    fn sub_microsecond_part_is_dropped() {
        let clock = KernelClock::new(ORIGIN, 1_000);
        assert_eq!(clock.to_instant(1_999), ORIGIN);
    }

    #[test]
    fn monotonic_clock_advances() {
        let first = monotonic_now_ns().unwrap();
        let second = monotonic_now_ns().unwrap();
        assert!(second >= first);
    }
}
