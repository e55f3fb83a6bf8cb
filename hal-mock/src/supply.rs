//! The shared supply: a USB charger's output voltage as a function of its load.
//!
//! Within its limit the output droops linearly with current (the charger's output resistance
//! plus its regulation slope). Past the limit a cheap charger does one of two things, and the
//! model offers both: it shuts the output off and retries after a pause (hiccup), or it keeps
//! delivering while the voltage sags steeply (brown-out).

use picluster_firmware::units::{Duration, Instant, Milliamps, Millivolts};

/// The supply's behaviour past its current limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overload {
    /// After the load stays past the limit for `trip_after`, the output collapses to 0 V for
    /// `off_for`, then comes back. A load still past the limit trips it again.
    Hiccup {
        /// Time past the limit before the output collapses.
        trip_after: Duration,
        /// Time the output stays off before a retry.
        off_for: Duration,
    },
    /// The output keeps running, sagging by `sag` millivolts per amp past the limit.
    BrownOut {
        /// Extra voltage drop per amp of load past the limit, in millivolts per amp
        /// (milliohms).
        sag_mv_per_amp: u32,
    },
}

/// The supply's parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SupplySpec {
    /// Output voltage with no load.
    pub nominal: Millivolts,
    /// Rated current, past which the overload behaviour starts.
    pub limit: Milliamps,
    /// Drop per amp of load within the limit, in millivolts per amp (milliohms).
    pub droop_mv_per_amp: u32,
    /// Behaviour past the limit.
    pub overload: Overload,
}

impl SupplySpec {
    /// Returns the reference cluster's 4-port USB charger: 5 V and 5.4 A shared by all ports
    /// (its label).
    pub fn reference_charger() -> Self {
        Self {
            // Estimate: USB chargers regulate a little above 5 V, so a cable's drop leaves
            // 5 V at the device. The official Raspberry Pi supplies are specified at 5.1 V.
            nominal: Millivolts(5_100),
            limit: Milliamps(5_400),
            // Estimate: 40 mV per amp, so the output is about 4.88 V at the rated 5.4 A,
            // within the 5 V +-5 % a USB port must hold.
            droop_mv_per_amp: 40,
            overload: Overload::BrownOut {
                // Estimate: a charger in current limit gives up about 1 V per extra amp.
                sag_mv_per_amp: 1_000,
            },
        }
    }

    /// Returns the hiccup behaviour with typical timings, for scenarios that choose it.
    pub fn hiccup() -> Overload {
        Overload::Hiccup {
            // Estimate: short-circuit protection in small chargers reacts within tens of
            // milliseconds, after the output capacitors have covered a short peak.
            trip_after: Duration::from_millis(20),
            // Estimate: hiccup-mode controllers retry about once or twice a second.
            off_for: Duration::from_millis(1_000),
        }
    }
}

/// The supply's state in the world.
#[derive(Clone, Debug)]
pub struct SupplyModel {
    spec: SupplySpec,
    /// When the load first passed the limit, if it still is.
    over_since: Option<Instant>,
    /// The output is off (hiccup) until this time.
    off_until: Option<Instant>,
    hiccups: u32,
}

impl SupplyModel {
    /// Builds a supply that is on and unloaded.
    pub fn new(spec: SupplySpec) -> Self {
        Self {
            spec,
            over_since: None,
            off_until: None,
            hiccups: 0,
        }
    }

    /// Returns the parameters.
    pub fn spec(&self) -> SupplySpec {
        self.spec
    }

    /// Replaces the parameters, as when a scenario degrades the supply.
    pub fn set_spec(&mut self, spec: SupplySpec) {
        self.spec = spec;
        if !matches!(spec.overload, Overload::Hiccup { .. }) {
            self.off_until = None;
        }
    }

    /// Returns whether the output is collapsed (hiccup) at `now`.
    pub fn is_off(&self, now: Instant) -> bool {
        self.off_until.is_some_and(|until| now < until)
    }

    /// Returns the number of hiccups so far.
    pub fn hiccups(&self) -> u32 {
        self.hiccups
    }

    /// Returns the output voltage at `now` with `load` drawn.
    pub fn voltage(&self, now: Instant, load: Milliamps) -> Millivolts {
        if self.is_off(now) {
            return Millivolts(0);
        }
        let load = i64::from(load.0.max(0));
        let droop = load * i64::from(self.spec.droop_mv_per_amp) / 1_000;
        let over = (load - i64::from(self.spec.limit.0)).max(0);
        let sag = match self.spec.overload {
            Overload::BrownOut { sag_mv_per_amp } => over * i64::from(sag_mv_per_amp) / 1_000,
            Overload::Hiccup { .. } => 0,
        };
        let volts = i64::from(self.spec.nominal.0) - droop - sag;
        Millivolts(volts.max(0) as i32)
    }

    /// Takes the load at `now`; returns whether the output state changed (a hiccup started
    /// or ended).
    pub fn observe(&mut self, now: Instant, load: Milliamps) -> bool {
        let mut changed = false;
        if self.off_until.is_some_and(|until| now >= until) {
            self.off_until = None;
            self.over_since = None;
            changed = true;
        }
        if self.is_off(now) {
            return changed;
        }
        if load <= self.spec.limit {
            self.over_since = None;
            return changed;
        }
        let since = *self.over_since.get_or_insert(now);
        if let Overload::Hiccup {
            trip_after,
            off_for,
        } = self.spec.overload
            && now.since(since) >= trip_after
        {
            self.off_until = Some(now + off_for);
            self.over_since = None;
            self.hiccups += 1;
            return true;
        }
        changed
    }

    /// Returns the next time the supply changes by itself: a hiccup trip or a retry.
    pub fn next_change(&self) -> Option<Instant> {
        if let Some(until) = self.off_until {
            return Some(until);
        }
        match (self.spec.overload, self.over_since) {
            (Overload::Hiccup { trip_after, .. }, Some(since)) => Some(since + trip_after),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(overload: Overload) -> SupplySpec {
        SupplySpec {
            nominal: Millivolts(5_100),
            limit: Milliamps(5_400),
            droop_mv_per_amp: 40,
            overload,
        }
    }

    #[test]
    fn droop_is_linear_within_limit() {
        let supply = SupplyModel::new(SupplySpec::reference_charger());
        assert_eq!(
            supply.voltage(Instant::ZERO, Milliamps(0)),
            Millivolts(5_100)
        );
        assert_eq!(
            supply.voltage(Instant::ZERO, Milliamps(5_000)),
            Millivolts(4_900)
        );
    }

    #[test]
    fn brown_out_sags_past_limit() {
        let supply = SupplyModel::new(spec(Overload::BrownOut {
            sag_mv_per_amp: 1_000,
        }));
        // 40 mV/A x 5.9 A = 236 mV droop, 1 V/A x 0.5 A = 500 mV sag.
        assert_eq!(
            supply.voltage(Instant::ZERO, Milliamps(5_900)),
            Millivolts(4_364)
        );
    }

    #[test]
    fn hiccup_collapses_after_trip_time_and_retries() {
        let mut supply = SupplyModel::new(spec(SupplySpec::hiccup()));
        let start = Instant::from_secs(1);
        assert!(!supply.observe(start, Milliamps(6_000)));
        assert_eq!(
            supply.next_change(),
            Some(start + Duration::from_millis(20))
        );

        let trip = start + Duration::from_millis(20);
        assert!(supply.observe(trip, Milliamps(6_000)));
        assert!(supply.is_off(trip));
        assert_eq!(supply.voltage(trip, Milliamps(0)), Millivolts(0));

        let retry = trip + Duration::from_secs(1);
        assert_eq!(supply.next_change(), Some(retry));
        assert!(supply.observe(retry, Milliamps(0)));
        assert!(!supply.is_off(retry));
        assert_eq!(supply.hiccups(), 1);
    }

    #[test]
    fn short_overload_does_not_trip_hiccup() {
        let mut supply = SupplyModel::new(spec(SupplySpec::hiccup()));
        supply.observe(Instant::from_millis(0), Milliamps(6_000));
        supply.observe(Instant::from_millis(10), Milliamps(5_000));
        assert_eq!(supply.next_change(), None);
        assert!(!supply.is_off(Instant::from_millis(30)));
    }
}
